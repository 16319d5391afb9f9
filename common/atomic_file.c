/*
 * atomic_file.c - temp file + fsync + rename, so outputs are never torn.
 */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int atomic_write_impl(const char *path, int mode,
                             int (*body)(FILE *f, void *arg), void *arg)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return -1;
    }
    int rc = body(f, arg);
    int e = errno;
    if (fflush(f) != 0 || ferror(f)) {
        rc = -1;
        e = errno ? errno : EIO;
    }
    if (rc == 0 && fsync(fileno(f)) != 0) {
        rc = -1;
        e = errno;
    }
    if (fclose(f) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        errno = e ? e : EIO;
        return -1;
    }
    fsync_dir_of(path);
    return 0;
}

int atomic_file_write(const char *path, int (*body)(FILE *f, void *arg), void *arg)
{
    return atomic_write_impl(path, 0644, body, arg);
}

struct bytes_arg {
    const void *buf;
    size_t len;
};

static int write_bytes_body(FILE *f, void *arg)
{
    const struct bytes_arg *b = arg;
    if (b->len && fwrite(b->buf, 1, b->len, f) != b->len)
        return -1;
    return 0;
}

int atomic_file_write_bytes(const char *path, const void *buf, size_t len, int mode)
{
    struct bytes_arg b = {buf, len};
    return atomic_write_impl(path, mode, write_bytes_body, &b);
}
