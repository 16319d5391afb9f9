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
 * file is empty. A torn tail (the file does not end with a newline: a
 * write cut short by a crash) is cut off here, back to the last whole
 * entry; *torn receives the number of bytes removed and torn_sha their
 * SHA-256 (0 and "" when the tail was whole). */
static int read_tail(int fd, const char *path, long *seq, char prev[65], off_t *torn,
                     char torn_sha[65])
{
    *torn = 0;
    torn_sha[0] = 0;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        log_error("audit %s: fstat: %s", path, strerror(errno));
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
    off_t base = st.st_size - (off_t)want;
    ssize_t got = pread(fd, buf, want, base);
    if (got != (ssize_t)want) {
        log_error("audit %s: read: %s", path, got < 0 ? strerror(errno) : "short read");
        goto out;
    }
    buf[want] = 0;
    if (buf[want - 1] != '\n') {
        /* Torn: keep everything up to the last newline. */
        char *nl = memrchr(buf, '\n', want);
        if (!nl && base > 0) {
            log_error("audit %s: the last entry is torn and longer than %d bytes; run 'audit "
                      "verify'", path, MAX_LINE);
            goto out;
        }
        size_t keep = nl ? (size_t)(nl - buf) + 1 : 0;
        *torn = (off_t)(want - keep);
        identity_sha256_hex(buf + keep, want - keep, torn_sha);
        if (ftruncate(fd, base + (off_t)keep) != 0 || fsync(fd) != 0) {
            log_error("audit %s: cannot cut off the torn last entry: %s", path, strerror(errno));
            goto out;
        }
        log_error("audit %s: the last entry was torn (a write cut short, %lld bytes without a "
                  "newline): cut off, back to the last whole entry; a \"repair\" entry records it",
                  path, (long long)*torn);
        if (keep == 0 && base == 0) {
            *seq = 0;
            memcpy(prev, ZERO_HASH, 65);
            rc = 0;
            goto out;
        }
        want = keep;
        buf[want] = 0;
    }
    buf[want - 1] = 0;
    char *start = strrchr(buf, '\n');
    if (!start && base > 0) {
        log_error("audit %s: the last entry is longer than %d bytes", path, MAX_LINE);
        goto out;
    }
    start = start ? start + 1 : buf;
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
            log_error("audit %s: write: %s", path, w < 0 ? strerror(errno) : "nothing written");
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

struct audit_writer {
    char *path;
    int fd;
    long seq;      /* of the last entry chained (on disk or pending)   */
    char prev[65]; /* its hash                                          */
    char when[32]; /* time of every entry of this writer               */
    char *buf;     /* pending lines                                     */
    size_t used, cap;
    int failed; /* an entry could not be added: commit writes nothing */
};

/* Chains one line onto w's pending buffer. */
static int add_line(audit_writer_t *w, const char *event, const char *details)
{
    size_t need = strlen(event) + strlen(details) + 256;
    if (w->used + need > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (w->used + need > cap)
            cap *= 2;
        char *p = realloc(w->buf, cap);
        if (!p)
            return -1;
        w->buf = p;
        w->cap = cap;
    }
    char *line = w->buf + w->used;
    size_t room = w->cap - w->used;
    int len = snprintf(line, room, "%ld\t%s\t%s\t%s\t%s\t", w->seq + 1, w->when, event, details,
                       w->prev);
    if (len < 0 || (size_t)len + 66 > room)
        return -1;
    char hash[IDENTITY_HEX_SHA256];
    identity_sha256_hex(line, (size_t)len, hash);
    memcpy(line + len, hash, 64);
    line[len + 64] = '\n';
    w->used += (size_t)len + 65;
    w->seq++;
    memcpy(w->prev, hash, 65);
    return 0;
}

/* Writes and flushes the pending lines; 0 or -1 (logged). */
static int flush_lines(audit_writer_t *w)
{
    if (w->used == 0)
        return 0;
    if (write_all(w->fd, w->buf, w->used, w->path) != 0)
        return -1;
    if (fsync(w->fd) != 0) {
        log_error("audit %s: fsync: %s", w->path, strerror(errno));
        return -1;
    }
    w->used = 0;
    return 0;
}

audit_writer_t *audit_writer_open(const char *path)
{
    if (!path)
        return NULL;
    audit_writer_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->fd = -1;
    w->path = strdup(path);
    if (!w->path)
        goto fail;
    w->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (w->fd < 0) {
        log_error("audit %s: open: %s", path, strerror(errno));
        goto fail;
    }
    if (flock(w->fd, LOCK_EX) != 0) {
        log_error("audit %s: flock: %s", path, strerror(errno));
        goto fail;
    }
    off_t torn;
    char torn_sha[65];
    if (read_tail(w->fd, path, &w->seq, w->prev, &torn, torn_sha) != 0)
        goto fail;
    now_rfc3339(w->when);
    if (torn) {
        /* Recorded at once, whatever this writer's caller does next. */
        char d[256];
        snprintf(d, sizeof d, "{\"reason\":\"torn tail\",\"removed_bytes\":%lld,"
                 "\"removed_sha256\":\"%s\"}", (long long)torn, torn_sha);
        if (add_line(w, "repair", d) != 0 || flush_lines(w) != 0)
            goto fail;
    }
    return w;
fail:
    audit_writer_abort(w);
    return NULL;
}

int audit_writer_add(audit_writer_t *w, const char *event, const char *details)
{
    if (!w)
        return -1;
    const char *d = details ? details : "{}";
    if (!entry_ok(event, d)) {
        log_error("audit %s: entry (event \"%.40s\") refused: the event name is empty or has a "
                  "tab or newline, or the details are too long or not one line", w->path,
                  event ? event : "");
        w->failed = 1;
        return -1;
    }
    if (add_line(w, event, d) != 0) {
        log_error("audit %s: out of memory", w->path);
        w->failed = 1;
        return -1;
    }
    return 0;
}

int audit_writer_anchor(audit_writer_t *w, long anchor_seq, const char *anchor_hash)
{
    if (!w || anchor_seq <= 0 || !anchor_hash)
        return 0;
    long head = w->seq;
    if (anchor_seq < head || (anchor_seq == head && strcmp(anchor_hash, w->prev) == 0))
        return 0;
    log_error("audit %s: the log ends at entry %ld but the store's anchor is entry %ld (hash "
              "%.16s...): entries were lost or cut off; a \"repair\" entry records it",
              w->path, head, anchor_seq, anchor_hash);
    char d[400];
    snprintf(d, sizeof d, "{\"reason\":\"the log ends before the store's anchor: entries lost "
             "or cut off\",\"log_seq\":%ld,\"anchor_seq\":%ld,\"anchor_hash\":\"%.64s\"}", head,
             anchor_seq, anchor_hash);
    return audit_writer_add(w, "repair", d) == 0 ? 1 : -1;
}

void audit_writer_head(const audit_writer_t *w, long *seq, char hash[65])
{
    if (seq)
        *seq = w ? w->seq : 0;
    if (hash)
        memcpy(hash, w ? w->prev : ZERO_HASH, 65);
}

int audit_writer_commit(audit_writer_t *w)
{
    if (!w)
        return -1;
    int rc = w->failed ? -1 : flush_lines(w);
    audit_writer_abort(w);
    return rc;
}

void audit_writer_abort(audit_writer_t *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd); /* releases the lock */
    free(w->buf);
    free(w->path);
    free(w);
}

int audit_append_many(const char *path, const struct audit_entry *entries, size_t n)
{
    if (!path || (n && !entries))
        return -1;
    if (n == 0)
        return 0;
    audit_writer_t *w = audit_writer_open(path);
    if (!w)
        return -1;
    int skipped = 0;
    for (size_t i = 0; i < n; i++)
        if (audit_writer_add(w, entries[i].event, entries[i].details) != 0)
            skipped++;
    w->failed = 0; /* the good ones are written */
    int rc = audit_writer_commit(w);
    return rc == 0 && !skipped ? 0 : -1;
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
    return audit_verify_anchored(path, 0, NULL, entries, NULL, err, errlen);
}

int audit_verify_anchored(const char *path, long anchor_seq, const char *anchor_hash,
                          long *entries, long *repairs, char *err, size_t errlen)
{
    long nrep = 0;
    if (repairs)
        *repairs = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) {
            if (entries)
                *entries = 0;
            if (anchor_seq > 0) {
                snprintf(err, errlen, "%s: the log is missing but the store's anchor is entry "
                         "%ld: the log was removed", path, anchor_seq);
                return 1;
            }
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
        if (seq == anchor_seq && anchor_hash && strcmp(e.f[5], anchor_hash) != 0) {
            snprintf(err, errlen, "%s:%ld: entry %ld is not the one the store's anchor "
                     "recorded (hash %.16s...): the log was replaced from this entry on", path,
                     lineno, seq, anchor_hash);
            goto out;
        }
        if (strcmp(e.f[2], "repair") == 0)
            nrep++;
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
    if (repairs)
        *repairs = nrep;
    if (anchor_seq > expect - 1) {
        snprintf(err, errlen, "%s: the log ends at entry %ld but the store's anchor is entry "
                 "%ld: the newest %ld entries were cut off", path, expect - 1, anchor_seq,
                 anchor_seq - (expect - 1));
        goto out;
    }
    rc = 0;
out:
    free(line);
    fclose(f);
    return rc;
}
