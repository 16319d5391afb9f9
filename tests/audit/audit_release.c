/* audit_release.c - read and write the cells CSV of interfaces.md. Fields are
 * split RFC 4180 style (quotes, doubled quotes), which is all the format
 * needs; the auditor keeps its own reader so that it shares nothing with the
 * program it audits. */
#include "audit_release.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char HEADER[] =
    "org,round,measure,stratifier,stratum,members,member_months,denominator,numerator,"
    "sum_sq,suppressed,reason";

/* split LINE in place into at most MAX fields; returns the count */
static int split(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        if (*p == '"') {
            char *w = ++p;
            f[n++] = w;
            for (;;) {
                if (*p == '\0')
                    break;
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else
                    *w++ = *p++;
            }
            char *end = p;
            *w = '\0';
            if (*end == ',') {
                p = end + 1;
                continue;
            }
            break;
        }
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static void copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src);
}

int release_read(const char *path, struct release *rel)
{
    memset(rel, 0, sizeof(*rel));
    copy(rel->path, sizeof(rel->path), path);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "audit: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, alloc = 0;
    ssize_t len;
    long lineno = 0;
    int rc = -1;
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (lineno == 1) {
            if (strncmp(line, HEADER, sizeof(HEADER) - 1) != 0 ||
                (line[sizeof(HEADER) - 1] != '\0' && line[sizeof(HEADER) - 1] != ',')) {
                fprintf(stderr, "audit: %s:1: header is not interfaces.md's cells CSV\n", path);
                goto out;
            }
            if (strstr(line, "max_contrib")) {
                fprintf(stderr, "audit: %s:1: max_contrib must never appear\n", path);
                goto out;
            }
            continue;
        }
        if (len == 0)
            continue;
        char *fld[20];
        int nf = split(line, fld, 20);
        if (nf < 12) {
            fprintf(stderr, "audit: %s:%ld: %d fields, wanted 12\n", path, lineno, nf);
            goto out;
        }
        if (rel->n == alloc) {
            alloc = alloc ? 2 * alloc : 4096;
            struct rrow *nr = realloc(rel->rows, alloc * sizeof(*nr));
            if (!nr)
                goto out;
            rel->rows = nr;
        }
        struct rrow *r = &rel->rows[rel->n++];
        memset(r, 0, sizeof(*r));
        if (rel->n == 1) {
            copy(rel->org, sizeof(rel->org), fld[0]);
            copy(rel->round, sizeof(rel->round), fld[1]);
        }
        copy(r->measure, sizeof(r->measure), fld[2]);
        copy(r->strat, sizeof(r->strat), fld[3]);
        copy(r->stratum, sizeof(r->stratum), fld[4]);
        r->suppressed = strcmp(fld[10], "1") == 0;
        copy(r->reason, sizeof(r->reason), fld[11]);
        for (int c = 0; c < CH_N; c++) {
            const char *s = fld[5 + c];
            if (r->suppressed) {
                if (*s) {
                    fprintf(stderr, "audit: %s:%ld: a withheld row carries a number\n", path,
                            lineno);
                    goto out;
                }
                continue;
            }
            char *end;
            errno = 0;
            r->v[c] = strtod(s, &end);
            if (!*s || *end || errno) {
                fprintf(stderr, "audit: %s:%ld: bad number \"%s\"\n", path, lineno, s);
                goto out;
            }
        }
    }
    rc = 0;
out:
    free(line);
    fclose(f);
    if (rc != 0)
        release_free(rel);
    return rc;
}

int release_write(const char *path, const struct release *rel)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "audit: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "%s\n", HEADER);
    for (size_t i = 0; i < rel->n; i++) {
        const struct rrow *r = &rel->rows[i];
        fprintf(f, "%s,%s,%s,%s,%s,", rel->org, rel->round, r->measure, r->strat, r->stratum);
        if (r->suppressed)
            fprintf(f, ",,,,,1,%s\n", r->reason);
        else
            fprintf(f, "%.17g,%.17g,%.17g,%.17g,%.17g,0,\n", r->v[0], r->v[1], r->v[2], r->v[3],
                    r->v[4]);
    }
    return fclose(f) == 0 ? 0 : -1;
}

void release_free(struct release *rel)
{
    free(rel->rows);
    rel->rows = NULL;
    rel->n = 0;
}
