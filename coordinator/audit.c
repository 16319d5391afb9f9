/*
 * audit.c - the hash-chained audit log (see audit.h for the line format).
 *
 * Appending reads the last entry to continue its seq and hash, under an
 * exclusive flock so that the daemon and a CLI command never interleave.
 * A group of entries (audit_append_many) is chained in memory and written
 * with one write and one fsync.
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "identity.h"
#include "log.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define MAX_LINE (AUDIT_MAX_DETAILS + 1024)

/* The fields of one line, pointing into a modifiable copy of it. */
struct entry {
    char *f[6];
};

/* Splits a line (without its newline) at tabs into exactly six fields. */
static int split_line(char *line, struct entry *e)
{
    int n = 0;
    char *p = line;
    e->f[n++] = p;
    while ((p = strchr(p, '\t')) != NULL) {
        *p++ = 0;
        if (n == 6)
            return -1;
        e->f[n++] = p;
    }
    return n == 6 ? 0 : -1;
}

static int is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

static int parse_seq(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1)
        return -1;
    *out = v;
    return 0;
}

/* Reads the last entry of an open log: *seq = 0 and prev = zeros when the
 * file is empty. */
static int read_tail(int fd, const char *path, long *seq, char prev[65])
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        log_warn("audit %s: fstat", path);
        return -1;
    }
    if (st.st_size == 0) {
        *seq = 0;
        memcpy(prev, ZERO_HASH, 65);
        return 0;
    }
    size_t want = (size_t)st.st_size < MAX_LINE ? (size_t)st.st_size : MAX_LINE;
    char *buf = malloc(want + 1);
    if (!buf)
        return -1;
    int rc = -1;
    ssize_t got = pread(fd, buf, want, st.st_size - (off_t)want);
    if (got != (ssize_t)want) {
        log_warn("audit %s: read", path);
        goto out;
    }
    buf[want] = 0;
    if (buf[want - 1] != '\n') {
        log_error("audit %s: the last entry is torn (no newline at the end); run 'audit verify'",
                  path);
        goto out;
    }
    buf[want - 1] = 0;
    char *start = strrchr(buf, '\n');
    start = start ? start + 1 : buf;
    if (!strrchr(buf, '\n') && want < (size_t)st.st_size) {
        log_error("audit %s: the last entry is longer than %d bytes", path, MAX_LINE);
        goto out;
    }
    struct entry e;
    if (split_line(start, &e) != 0 || parse_seq(e.f[0], seq) != 0 || !is_hex64(e.f[5])) {
        log_error("audit %s: the last entry is malformed; run 'audit verify'", path);
        goto out;
    }
    memcpy(prev, e.f[5], 65);
    rc = 0;
out:
    free(buf);
    return rc;
}

static void now_rfc3339(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* An entry audit_append would accept: an event name without tabs or
 * newlines and one line of details no longer than AUDIT_MAX_DETAILS. */
static int entry_ok(const char *event, const char *details)
{
    return event && *event && !strpbrk(event, "\t\n") && strlen(details) <= AUDIT_MAX_DETAILS &&
           !strpbrk(details, "\t\n\r");
}

static int write_all(int fd, const char *buf, size_t len, const char *path)
{
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, buf + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            log_warn("audit %s: write", path);
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

int audit_append_many(const char *path, const struct audit_entry *entries, size_t n)
{
    if (!path || (n && !entries))
        return -1;
    if (n == 0)
        return 0;
    int rc = -1, skipped = 0;
    char *buf = NULL;
    size_t cap = 0, used = 0;
    for (size_t i = 0; i < n; i++) {
        const char *d = entries[i].details ? entries[i].details : "{}";
        if (!entry_ok(entries[i].event, d)) {
            log_error("audit %s: entry %zu of %zu (event \"%.40s\") not written: the event name "
                      "is empty or has a tab or newline, or the details are too long or not one "
                      "line", path, i + 1, n, entries[i].event ? entries[i].event : "");
            skipped++;
            continue;
        }
        cap += strlen(d) + strlen(entries[i].event) + 256;
    }
    if ((size_t)skipped == n)
        return -1;
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        log_warn("audit %s: open", path);
        return -1;
    }
    if (flock(fd, LOCK_EX) != 0) {
        log_warn("audit %s: flock", path);
        goto out;
    }
    long seq;
    char prev[65];
    if (read_tail(fd, path, &seq, prev) != 0)
        goto out;
    char when[32];
    now_rfc3339(when);
    buf = malloc(cap);
    if (!buf)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const char *d = entries[i].details ? entries[i].details : "{}";
        if (!entry_ok(entries[i].event, d))
            continue;
        char *line = buf + used;
        size_t room = cap - used;
        int len = snprintf(line, room, "%ld\t%s\t%s\t%s\t%s\t", ++seq, when, entries[i].event, d,
                           prev);
        if (len < 0 || (size_t)len + 66 > room)
            goto out;
        char hash[IDENTITY_HEX_SHA256];
        identity_sha256_hex(line, (size_t)len, hash);
        memcpy(line + len, hash, 64);
        line[len + 64] = '\n';
        used += (size_t)len + 65;
        memcpy(prev, hash, 65);
    }
    if (write_all(fd, buf, used, path) != 0)
        goto out;
    if (fsync(fd) != 0) {
        log_warn("audit %s: fsync", path);
        goto out;
    }
    rc = skipped ? -1 : 0;
out:
    free(buf);
    close(fd); /* releases the lock */
    return rc;
}

int audit_append(const char *path, const char *event, const char *details_json)
{
    struct audit_entry e = {event, details_json};
    return audit_append_many(path, &e, 1);
}

int audit_appendf(const char *path, const char *event, ...)
{
    json_t *o = json_object();
    if (!o)
        return -1;
    va_list ap;
    va_start(ap, event);
    const char *key;
    while ((key = va_arg(ap, const char *)) != NULL) {
        const char *val = va_arg(ap, const char *);
        json_object_set_new(o, key, val ? json_string(val) : json_null());
    }
    va_end(ap);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s)
        return -1;
    int rc = audit_append(path, event, s);
    free(s);
    return rc;
}

int audit_verify(const char *path, long *entries, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) {
            if (entries)
                *entries = 0;
            return 0;
        }
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = 1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0, expect = 1;
    char prev[65];
    memcpy(prev, ZERO_HASH, 65);
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[len - 1] != '\n') {
            snprintf(err, errlen, "%s:%ld: entry is torn (no newline at the end)", path, lineno);
            goto out;
        }
        line[--len] = 0;
        char *tab = strrchr(line, '\t');
        if (!tab) {
            snprintf(err, errlen, "%s:%ld: not an audit entry (expected 6 tab-separated fields)",
                     path, lineno);
            goto out;
        }
        char hash[IDENTITY_HEX_SHA256];
        identity_sha256_hex(line, (size_t)(tab + 1 - line), hash);
        struct entry e;
        long seq;
        if (split_line(line, &e) != 0 || parse_seq(e.f[0], &seq) != 0 || !is_hex64(e.f[4]) ||
            !is_hex64(e.f[5])) {
            snprintf(err, errlen, "%s:%ld: not an audit entry (expected 6 tab-separated fields)",
                     path, lineno);
            goto out;
        }
        if (seq != expect) {
            snprintf(err, errlen, "%s:%ld: seq %ld where %ld was expected: an entry was removed "
                     "or inserted", path, lineno, seq, expect);
            goto out;
        }
        if (strcmp(e.f[4], prev) != 0) {
            snprintf(err, errlen, "%s:%ld: prev_hash does not match the hash of the previous "
                     "entry: an entry was removed or replaced", path, lineno);
            goto out;
        }
        if (strcmp(e.f[5], hash) != 0) {
            snprintf(err, errlen, "%s:%ld: hash mismatch: entry %ld was altered", path, lineno, seq);
            goto out;
        }
        memcpy(prev, e.f[5], 65);
        expect++;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = -1;
        goto out;
    }
    if (entries)
        *entries = expect - 1;
    rc = 0;
out:
    free(line);
    fclose(f);
    return rc;
}
