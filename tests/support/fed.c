/*
 * fed.c - federation fixtures for tests (see fed.h).
 */
#include "fed.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fed_tmpdir(char *out, size_t outlen)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    /* mkdtemp's template: six 'X' replaced by random characters */
    char tmpl[7];
    memset(tmpl, 'X', 6);
    tmpl[6] = '\0';
    int n = snprintf(out, outlen, "%s/eqtest.%s", base, tmpl);
    if (n < 0 || (size_t)n >= outlen)
        return -1;
    return mkdtemp(out) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void fed_rmrf(const char *dir)
{
    if (dir && *dir)
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fed_path(char *out, size_t outlen, const char *root, const char *sub,
                     const char *file)
{
    if (sub && file)
        snprintf(out, outlen, "%s/%s/%s", root, sub, file);
    else if (sub)
        snprintf(out, outlen, "%s/%s", root, sub);
    else
        snprintf(out, outlen, "%s", root);
    return out;
}

ca_t *fed_ca(const char *root, const char *name)
{
    char dir[512];
    fed_path(dir, sizeof dir, root, "ca", NULL);
    if (ca_init(dir, name, 30) != 0)
        return NULL;
    return ca_open(dir);
}

int fed_issue(ca_t *ca, const char *root, const char *sub, identity_role role, const char *name,
              time_t not_before, time_t not_after)
{
    char dir[512];
    fed_path(dir, sizeof dir, root, sub, NULL);
    struct ca_issue_opts o = {.role = role, .name = name, .not_before = not_before,
                              .not_after = not_after};
    return ca_issue(ca, &o, dir);
}

int fed_copy(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        return -1;
    FILE *out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        return -1;
    }
    char buf[4096];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    fclose(in);
    if (fclose(out) != 0)
        rc = -1;
    return rc;
}

int fed_capture_begin(struct fed_capture *c)
{
    char tmpl[7];
    memset(tmpl, 'X', 6);
    tmpl[6] = '\0';
    snprintf(c->path, sizeof c->path, "/tmp/eqtest-stderr.%s", tmpl);
    int fd = mkstemp(c->path);
    if (fd < 0)
        return -1;
    fflush(stderr);
    c->saved_fd = dup(2);
    dup2(fd, 2);
    close(fd);
    return 0;
}

char *fed_capture_end(struct fed_capture *c)
{
    fflush(stderr);
    dup2(c->saved_fd, 2);
    close(c->saved_fd);
    FILE *fp = fopen(c->path, "rb");
    char *buf = NULL;
    if (fp) {
        fseek(fp, 0, SEEK_END);
        long n = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        buf = calloc(1, n > 0 ? (size_t)n + 1 : 1);
        if (buf && n > 0 && fread(buf, 1, (size_t)n, fp) != (size_t)n)
            buf[0] = '\0';
        fclose(fp);
    }
    unlink(c->path);
    if (!buf)
        buf = calloc(1, 1);
    return buf;
}

void fed_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
