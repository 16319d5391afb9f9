/*
 * release_ledger.c - a ledger of releases in a folder (release_ledger.h).
 */
#include "release_ledger.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cells_read.h"
#include "log.h"

#define SUFFIX_TRUTH ".truth.csv"
#define SUFFIX_RELEASE ".release.csv"
#define AGGREGATE_ROUND "aggregate"

static int period_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 31)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') ||
              (p[i] >= '0' && p[i] <= '9') || p[i] == '_' || p[i] == '-'))
            return 0;
    return 1;
}

/* The sequence number of an entry file "<period>.<seq><suffix>", or -1. */
static long entry_seq(const char *name, const char *period, const char *suffix)
{
    size_t pl = strlen(period), nl = strlen(name), sl = strlen(suffix);
    if (nl != pl + 1 + 6 + sl || strncmp(name, period, pl) || name[pl] != '.' ||
        strcmp(name + nl - sl, suffix))
        return -1;
    long v = 0;
    for (size_t i = pl + 1; i < pl + 7; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* The sequence numbers of the period's complete entries, ascending. */
static int list_entries(const char *dir, const char *period, long **seqs, size_t *n)
{
    *seqs = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    size_t cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        long s = entry_seq(e->d_name, period, SUFFIX_RELEASE);
        if (s < 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            long *ns = realloc(*seqs, cap * sizeof *ns);
            if (!ns) {
                rc = -1;
                break;
            }
            *seqs = ns;
        }
        (*seqs)[(*n)++] = s;
    }
    closedir(d);
    if (rc == 0 && *n)
        qsort(*seqs, *n, sizeof **seqs, cmp_long);
    return rc;
}

static int entry_path(char *buf, size_t len, const char *dir, const char *period, long seq,
                      const char *suffix)
{
    int n = snprintf(buf, len, "%s/%s.%06ld%s", dir, period, seq, suffix);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static struct cellset *read_one(const char *path, char *err, size_t errlen)
{
    struct cellset **sets = NULL;
    int nsets = 0;
    if (cells_read_csv(path, &sets, &nsets, err, errlen) != 0)
        return NULL;
    struct cellset *cs = NULL;
    if (nsets == 1) {
        cs = sets[0];
        sets[0] = NULL;
    } else {
        snprintf(err, errlen, "%s: holds %d organizations, a ledger entry one", path, nsets);
    }
    cells_read_free(&sets, nsets);
    return cs;
}

/* Entry seq: its true numbers with the reasons it was released with. */
static struct cellset *load_entry(const char *dir, const char *period, long seq, char *err,
                                  size_t errlen)
{
    char pt[1200], pr[1200];
    if (entry_path(pt, sizeof pt, dir, period, seq, SUFFIX_TRUTH) ||
        entry_path(pr, sizeof pr, dir, period, seq, SUFFIX_RELEASE)) {
        snprintf(err, errlen, "ledger folder name too long");
        return NULL;
    }
    struct cellset *truth = read_one(pt, err, errlen);
    if (!truth)
        return NULL;
    struct cellset *rel = read_one(pr, err, errlen);
    if (!rel) {
        cellset_destroy(&truth);
        return NULL;
    }
    int ok = truth->ncells == rel->ncells && truth->ntables == rel->ntables;
    for (size_t i = 0; ok && i < truth->ncells; i++) {
        struct cell *c = &truth->cells[i];
        int t = cellset_find_table(rel, truth->tables[c->table].name);
        const struct cell *r = t < 0 ? NULL : cellset_get(rel, c->measure, t, c->stratum);
        ok = r != NULL && rel->tables[t].nstrata == truth->tables[c->table].nstrata;
        if (ok) {
            c->reason = r->reason;
            if (r->reason == REASON_NONE)
                ok = r->members == c->members && r->numerator == c->numerator &&
                     r->denominator == c->denominator && r->member_months == c->member_months;
        }
    }
    snprintf(truth->round, sizeof truth->round, "%s", rel->round);
    snprintf(truth->period, sizeof truth->period, "%s", period);
    cellset_destroy(&rel);
    if (!ok) {
        snprintf(err, errlen, "%s and %s do not describe the same release", pt, pr);
        cellset_destroy(&truth);
    }
    return truth;
}

/* Whether entry seq is of round `round` (a round id, not aggregate). */
static int entry_of_round(const struct cellset *e, const char *round)
{
    return round[0] && strcmp(round, AGGREGATE_ROUND) && !strcmp(e->round, round);
}

int release_ledger_check(const char *dir, struct cellset *cs, const struct suppress_params *p,
                         struct suppress_report *rep, int *n_earlier, char *why, size_t whylen)
{
    if (n_earlier)
        *n_earlier = 0;
    long *seqs = NULL;
    size_t n = 0;
    struct cellset **earlier = NULL;
    int ne = 0, rc = LEDGER_EINVAL;
    if (!period_ok(cs->period)) {
        snprintf(why, whylen, "period \"%.31s\" is not usable in the release ledger "
                 "([A-Za-z0-9_-], at most 31 characters)", cs->period);
        return LEDGER_EINVAL;
    }
    if (list_entries(dir, cs->period, &seqs, &n) != 0) {
        snprintf(why, whylen, "cannot read the release ledger %s: %s", dir, strerror(errno));
        return LEDGER_EINVAL;
    }
    earlier = calloc(n ? n : 1, sizeof *earlier);
    if (!earlier) {
        rc = LEDGER_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct cellset *e = load_entry(dir, cs->period, seqs[i], why, whylen);
        if (!e)
            goto out;
        if (entry_of_round(e, cs->round)) {
            cellset_destroy(&e);
            continue;
        }
        earlier[ne++] = e;
    }
    if (ne)
        log_info("release ledger: checking period %s together with %d earlier release(s) "
                 "kept in %s", cs->period, ne, dir);
    if (n_earlier)
        *n_earlier = ne;
    rc = ledger_suppress(cs, earlier, ne, p, rep, why, whylen);
    if (rc != LEDGER_OK && why && !why[0])
        snprintf(why, whylen, "%s", ledger_strerror(rc));
out:
    for (int i = 0; i < ne; i++)
        cellset_destroy(&earlier[i]);
    free(earlier);
    free(seqs);
    return rc;
}

/* Writes cs's cells as a cells CSV at path, mode 0600 (in a folder of
 * mode 0700, so nobody else could read it before the chmod either). */
static int write_private(const struct cellset *cs, const char *path, int pooled)
{
    if ((pooled ? cellset_write_pooled_csv(cs, path) : cellset_write_csv(cs, path)) != 0)
        return -1;
    return chmod(path, 0600);
}

static int record(const char *dir, const struct cellset *cs, int pooled, char *err,
                  size_t errlen)
{
    long *seqs = NULL;
    size_t n = 0;
    int rc = -1;
    struct cellset *truth = NULL, *rel = NULL;
    if (!period_ok(cs->period)) {
        snprintf(err, errlen, "period \"%.31s\" is not usable in the release ledger", cs->period);
        return -1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create the release ledger %s: %s", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || (st.st_mode & 077)) {
        snprintf(err, errlen, "the release ledger %s must be a folder of mode 0700 (it holds "
                 "withheld numbers)", dir);
        return -1;
    }
    if (list_entries(dir, cs->period, &seqs, &n) != 0) {
        snprintf(err, errlen, "cannot read the release ledger %s: %s", dir, strerror(errno));
        return -1;
    }
    long seq = n ? seqs[n - 1] + 1 : 1;
    /* an entry of the same round (never sent) is replaced */
    for (size_t i = 0; i < n && cs->round[0] && strcmp(cs->round, AGGREGATE_ROUND); i++) {
        char e2[300];
        struct cellset *e = load_entry(dir, cs->period, seqs[i], e2, sizeof e2);
        int same = e && entry_of_round(e, cs->round);
        cellset_destroy(&e);
        if (same) {
            seq = seqs[i];
            break;
        }
    }
    if (seq > 999999) {
        snprintf(err, errlen, "the release ledger %s is full for period %s", dir, cs->period);
        goto out;
    }
    truth = cellset_copy(cs);
    rel = cellset_copy(cs);
    if (!truth || !rel) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < truth->ncells; i++)
        truth->cells[i].reason = REASON_NONE;
    struct cellset *both[2] = {truth, rel};
    for (int i = 0; i < 2; i++) {
        if (!both[i]->org[0])
            snprintf(both[i]->org, sizeof both[i]->org, "node");
        if (!both[i]->round[0])
            snprintf(both[i]->round, sizeof both[i]->round, AGGREGATE_ROUND);
    }
    char pt[1200], pr[1200];
    if (entry_path(pt, sizeof pt, dir, cs->period, seq, SUFFIX_TRUTH) ||
        entry_path(pr, sizeof pr, dir, cs->period, seq, SUFFIX_RELEASE)) {
        snprintf(err, errlen, "ledger folder name too long");
        goto out;
    }
    unlink(pr); /* replaced: not an entry until both files are back */
    if (write_private(truth, pt, pooled) != 0 || write_private(rel, pr, pooled) != 0) {
        snprintf(err, errlen, "cannot write the release ledger entry %s: %s", pr, strerror(errno));
        unlink(pr);
        goto out;
    }
    log_info("release ledger: period %s release %06ld (round %s) kept in %s", cs->period, seq,
             rel->round, dir);
    rc = 0;
out:
    cellset_destroy(&truth);
    cellset_destroy(&rel);
    free(seqs);
    return rc;
}

int release_ledger_record(const char *dir, const struct cellset *cs, char *err, size_t errlen)
{
    return record(dir, cs, 0, err, errlen);
}

int release_ledger_record_pooled(const char *dir, const struct cellset *cs, char *err,
                                 size_t errlen)
{
    return record(dir, cs, 1, err, errlen);
}
