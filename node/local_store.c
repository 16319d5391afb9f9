/*
 * local_store.c - the node's per-round files in [store] dir (local_store.h).
 */
#include "local_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "log.h"

struct local_store {
    char dir[1024];
};

static const char *const suffixes[LS__KINDS] = {
    [LS_REQUEST] = ".request.pb", [LS_PENDING] = ".pending",
    [LS_APPROVED] = ".approved",  [LS_REFUSED] = ".refused",
    [LS_SUBMISSION] = ".submission.pb", [LS_ACK] = ".ack",
    [LS_FAILED] = ".failed",      [LS_STATUS] = ".status",
};

const char *local_store_strerror(int err)
{
    switch (err) {
    case LS_OK: return "ok";
    case LS_ERR_ARG: return "invalid argument or round id";
    case LS_ERR_IO: return "file system error";
    case LS_ERR_EXISTS: return "a different submission is already stored for this round";
    case LS_ERR_NOENT: return "no such file";
    case LS_ERR_PERM: return "store directory is writable by group or others";
    default: return "unknown local store error";
    }
}

const char *local_store_suffix(local_store_kind kind)
{
    return (int)kind >= 0 && kind < LS__KINDS ? suffixes[kind] : "";
}

/* mkdir -p with mode 0700 for every component it creates. */
static int make_dirs(const char *dir)
{
    char path[1024];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return -1;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

local_store_t *local_store_open(const char *dir)
{
    if (!dir || !dir[0]) {
        log_error("local store: [store] dir is empty");
        return NULL;
    }
    local_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (snprintf(s->dir, sizeof s->dir, "%s", dir) >= (int)sizeof s->dir) {
        log_error("local store: directory name too long: \"%.80s...\"", dir);
        goto fail;
    }
    if (make_dirs(dir) != 0) {
        log_warn("local store: cannot create %s", dir);
        goto fail;
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        log_warn("local store: %s", dir);
        goto fail;
    }
    if (!S_ISDIR(st.st_mode)) {
        log_error("local store: %s is not a directory", dir);
        goto fail;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        log_error("local store: %s has mode %04o: group or others could write (or plant an "
                  "approval) there; chmod 700 %s", dir, (unsigned)(st.st_mode & 07777), dir);
        goto fail;
    }
    if (st.st_mode & (S_IRGRP | S_IROTH))
        log_warnx("local store: %s has mode %04o: group or others can read the kept submissions",
                  dir, (unsigned)(st.st_mode & 07777));
    return s;
fail:
    free(s);
    return NULL;
}

void local_store_destroy(local_store_t **ps)
{
    if (!ps || !*ps)
        return;
    free(*ps);
    *ps = NULL;
}

const char *local_store_dir(const local_store_t *s)
{
    return s ? s->dir : "";
}

int local_store_round_id_ok(const char *id)
{
    if (!id || !id[0] || id[0] == '.')
        return 0;
    size_t n = 0;
    for (const char *p = id; *p; p++, n++) {
        char ch = *p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '.' || ch == '_' || ch == '-' || ch == ':';
        if (!ok || n >= 63)
            return 0;
    }
    return 1;
}

int local_store_path(const local_store_t *s, const char *round_id, local_store_kind kind,
                     char *buf, size_t buflen)
{
    if (!s || !buf || (int)kind < 0 || kind >= LS__KINDS || !local_store_round_id_ok(round_id))
        return LS_ERR_ARG;
    int n = snprintf(buf, buflen, "%s/%s%s", s->dir, round_id, suffixes[kind]);
    return n < 0 || (size_t)n >= buflen ? LS_ERR_ARG : LS_OK;
}

int local_store_has(const local_store_t *s, const char *round_id, local_store_kind kind)
{
    char path[1200];
    struct stat st;
    if (local_store_path(s, round_id, kind, path, sizeof path) != LS_OK)
        return 0;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int local_store_write(local_store_t *s, const char *round_id, local_store_kind kind,
                      const void *buf, size_t len)
{
    char path[1200];
    if (kind == LS_SUBMISSION || (!buf && len))
        return LS_ERR_ARG;
    int rc = local_store_path(s, round_id, kind, path, sizeof path);
    if (rc != LS_OK)
        return rc;
    if (atomic_file_write_bytes(path, buf ? buf : "", len, 0600) != 0) {
        log_warn("local store: cannot write %s", path);
        return LS_ERR_IO;
    }
    return LS_OK;
}

static int read_path(const char *path, uint8_t **out, size_t *outlen)
{
    int rc = LS_ERR_IO;
    uint8_t *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? LS_ERR_NOENT : LS_ERR_IO;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        (uint64_t)st.st_size > (1ull << 31))
        goto out;
    size_t n = (size_t)st.st_size;
    buf = malloc(n + 1);
    if (!buf || fread(buf, 1, n, f) != n)
        goto out;
    buf[n] = 0;
    *out = buf;
    *outlen = n;
    buf = NULL;
    rc = LS_OK;
out:
    free(buf);
    fclose(f);
    return rc;
}

int local_store_read(const local_store_t *s, const char *round_id, local_store_kind kind,
                     uint8_t **buf, size_t *len)
{
    char path[1200];
    if (!buf || !len)
        return LS_ERR_ARG;
    int rc = local_store_path(s, round_id, kind, path, sizeof path);
    if (rc != LS_OK)
        return rc;
    return read_path(path, buf, len);
}

static int same_content(const char *path, const void *buf, size_t len)
{
    uint8_t *have = NULL;
    size_t n = 0;
    if (read_path(path, &have, &n) != LS_OK)
        return -1;
    int same = n == len && (len == 0 || memcmp(have, buf, len) == 0);
    free(have);
    return same;
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int local_store_put_submission(local_store_t *s, const char *round_id, const void *buf,
                               size_t len)
{
    char path[1200], tmp[1300];
    int rc = local_store_path(s, round_id, LS_SUBMISSION, path, sizeof path);
    if (rc != LS_OK || (!buf && len))
        return rc != LS_OK ? rc : LS_ERR_ARG;
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return LS_ERR_ARG;
    unlink(tmp); /* a leftover of an earlier process with the same pid */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_warn("local store: cannot create %s", tmp);
        return LS_ERR_IO;
    }
    rc = LS_ERR_IO;
    const uint8_t *p = buf;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            log_warn("local store: cannot write %s", tmp);
            close(fd);
            goto out;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        log_warn("local store: cannot sync %s", tmp);
        goto out;
    }
    /* link() never replaces an existing file: the first submission wins. */
    if (link(tmp, path) != 0) {
        if (errno != EEXIST) {
            log_warn("local store: cannot link %s", path);
            goto out;
        }
        int same = same_content(path, buf, len);
        if (same < 0) {
            log_warn("local store: cannot read %s", path);
            goto out;
        }
        rc = same ? LS_OK : LS_ERR_EXISTS;
        goto out;
    }
    sync_dir(s->dir);
    rc = LS_OK;
out:
    unlink(tmp);
    return rc;
}

int local_store_remove(local_store_t *s, const char *round_id, local_store_kind kind)
{
    char path[1200];
    int rc = local_store_path(s, round_id, kind, path, sizeof path);
    if (rc != LS_OK)
        return rc;
    if (unlink(path) != 0 && errno != ENOENT)
        return LS_ERR_IO;
    sync_dir(s->dir);
    return LS_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int local_store_list(const local_store_t *s, local_store_kind kind, char ***ids, size_t *n)
{
    if (!s || !ids || !n || (int)kind < 0 || kind >= LS__KINDS)
        return LS_ERR_ARG;
    *ids = NULL;
    *n = 0;
    DIR *d = opendir(s->dir);
    if (!d)
        return LS_ERR_IO;
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = LS_OK;
    size_t sl = strlen(suffixes[kind]);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl <= sl || strcmp(de->d_name + nl - sl, suffixes[kind]) != 0)
            continue;
        char id[64];
        if (nl - sl >= sizeof id)
            continue;
        memcpy(id, de->d_name, nl - sl);
        id[nl - sl] = '\0';
        if (!local_store_round_id_ok(id))
            continue;
        if (!local_store_has(s, id, kind)) /* a regular file, not a directory */
            continue;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = LS_ERR_IO;
                break;
            }
            v = nv;
            cap = nc;
        }
        v[cnt] = strdup(id);
        if (!v[cnt]) {
            rc = LS_ERR_IO;
            break;
        }
        cnt++;
    }
    closedir(d);
    if (rc != LS_OK) {
        local_store_ids_free(v, cnt);
        return rc;
    }
    if (cnt)
        qsort(v, cnt, sizeof *v, cmp_str);
    *ids = v;
    *n = cnt;
    return LS_OK;
}

void local_store_ids_free(char **ids, size_t n)
{
    if (!ids)
        return;
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}
