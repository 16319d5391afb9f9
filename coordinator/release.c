/*
 * release.c - the release rules of pooled results and the result files of a
 * released round (see release.h; the reasoning is in docs/design.md,
 * "Pooled release").
 *
 * The complementary pass works on equations of one measure: the cells of a
 * one-way table sum to the total; the cells of one row (column) of a
 * two-way table sum to the matching cell of the first (second) dimension's
 * one-way table. Every channel of a cell (members, member months,
 * denominator, numerator, sums of squares) is additive, and a cell is
 * withheld as a whole, so one equation per measure covers all its channels.
 */
#include "release.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "cells_read.h"
#include "csvtext.h"
#include "identity.h"
#include "metrics.h"
#include "pool.h"
#include "suppress.h"

/* ---- n_orgs: organizations with members > 0 --------------------------------- */

static int label_index(const struct cell_table *tb, int d, const char *label)
{
    for (int i = 0; i < tb->card[d]; i++)
        if (strcmp(tb->labels[d][i], label) == 0)
            return i;
    return -1;
}

/* The pooled cell matching a submission's cell by names, or NULL. */
static struct cell *match(const struct cellset *pooled, const struct cellset *sub,
                          const struct cell *c)
{
    const struct cell_table *st = &sub->tables[c->table];
    int t = cellset_find_table(pooled, st->name);
    if (t < 0)
        return NULL;
    const struct cell_table *pt = &pooled->tables[t];
    if (pt->ndim != st->ndim)
        return NULL;
    int idx = 0;
    if (st->ndim == 1) {
        idx = label_index(pt, 0, st->labels[0][c->stratum]);
    } else if (st->ndim == 2) {
        int a = label_index(pt, 0, st->labels[0][c->stratum / st->card[1]]);
        int b = label_index(pt, 1, st->labels[1][c->stratum % st->card[1]]);
        idx = a < 0 || b < 0 ? -1 : a * pt->card[1] + b;
    }
    return idx < 0 ? NULL : cellset_get(pooled, c->measure, t, idx);
}

static void count_orgs(struct cellset *pooled, struct cellset **subs, int n)
{
    for (size_t i = 0; i < pooled->ncells; i++)
        pooled->cells[i].n_orgs = 0;
    for (int s = 0; s < n; s++)
        for (size_t j = 0; j < subs[s]->ncells; j++) {
            const struct cell *c = &subs[s]->cells[j];
            if (c->reason != REASON_NONE || !(c->members > 0))
                continue;
            struct cell *p = match(pooled, subs[s], c);
            if (p)
                p->n_orgs++;
        }
}

/* ---- rules ----------------------------------------------------------------- */

static int withheld(const struct cell *c)
{
    return c->reason != REASON_NONE;
}

/* Smaller first: members, then denominator, then position. */
static int smaller(const struct cell *a, const struct cell *b)
{
    if (a->members != b->members)
        return a->members < b->members;
    if (a->denominator != b->denominator)
        return a->denominator < b->denominator;
    return a < b;
}

/* The equations of a cell set: eq i has cells idx[start[i] .. start[i+1]),
 * the margin first. */
struct eqs {
    size_t *idx, *start;
    size_t n, nidx, cap, capidx;
    size_t *inc, *incstart; /* per cell: the equations it is in          */
};

static int eq_push(struct eqs *e, size_t cell)
{
    if (e->nidx == e->capidx) {
        size_t nc = e->capidx ? e->capidx * 2 : 256;
        size_t *p = realloc(e->idx, nc * sizeof *p);
        if (!p)
            return -1;
        e->idx = p;
        e->capidx = nc;
    }
    e->idx[e->nidx++] = cell;
    return 0;
}

/* Adds margin = sum(kids) unless a cell is missing or not_available (then
 * the equation is not known to hold). */
static int eq_add(struct eqs *e, const struct cellset *cs, const struct cell *margin,
                  struct cell **kids, int nk)
{
    if (!margin || nk < 1 || margin->reason == REASON_NOT_AVAILABLE)
        return 0;
    for (int i = 0; i < nk; i++)
        if (!kids[i] || kids[i]->reason == REASON_NOT_AVAILABLE)
            return 0;
    if (e->n + 1 >= e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 64;
        size_t *p = realloc(e->start, (nc + 1) * sizeof *p);
        if (!p)
            return -1;
        e->start = p;
        e->cap = nc;
    }
    e->start[e->n] = e->nidx;
    if (eq_push(e, (size_t)(margin - cs->cells)))
        return -1;
    for (int i = 0; i < nk; i++)
        if (eq_push(e, (size_t)(kids[i] - cs->cells)))
            return -1;
    e->n++;
    e->start[e->n] = e->nidx;
    return 0;
}

static int eqs_build(struct eqs *e, const struct cellset *cs)
{
    int total = cellset_find_table(cs, "total");
    int maxcard = 1;
    for (int t = 0; t < cs->ntables; t++)
        for (int d = 0; d < cs->tables[t].ndim; d++)
            if (cs->tables[t].card[d] > maxcard)
                maxcard = cs->tables[t].card[d];
    struct cell **kids = calloc((size_t)maxcard, sizeof *kids);
    if (!kids)
        return -1;
    int rc = -1;
    for (int m = 0; m < M__COUNT; m++)
        for (int t = 0; t < cs->ntables; t++) {
            const struct cell_table *tb = &cs->tables[t];
            if (tb->ndim == 1 && total >= 0) {
                for (int s = 0; s < tb->card[0]; s++)
                    kids[s] = cellset_get(cs, m, t, s);
                if (eq_add(e, cs, cellset_get(cs, m, total, 0), kids, tb->card[0]))
                    goto out;
            } else if (tb->ndim == 2) {
                for (int d = 0; d < 2; d++) {
                    int one = cellset_find_table(cs, catalog_stratifier_name(tb->dim[d]));
                    if (one < 0 || cs->tables[one].ndim != 1)
                        continue;
                    int other = tb->card[1 - d];
                    for (int v = 0; v < tb->card[d]; v++) {
                        for (int w = 0; w < other; w++) {
                            int a = d == 0 ? v : w, b = d == 0 ? w : v;
                            kids[w] = cellset_get(cs, m, t, a * tb->card[1] + b);
                        }
                        /* The margin is the one-way cell with the same label. */
                        int mi = label_index(&cs->tables[one], 0, tb->labels[d][v]);
                        if (mi >= 0 && eq_add(e, cs, cellset_get(cs, m, one, mi), kids, other))
                            goto out;
                    }
                }
            }
        }
    /* incidence: equations of each cell */
    e->incstart = calloc(cs->ncells + 1, sizeof *e->incstart);
    e->inc = calloc(e->nidx ? e->nidx : 1, sizeof *e->inc);
    if (!e->incstart || !e->inc)
        goto out;
    for (size_t i = 0; i < e->nidx; i++)
        e->incstart[e->idx[i] + 1]++;
    for (size_t c = 0; c < cs->ncells; c++)
        e->incstart[c + 1] += e->incstart[c];
    size_t *fill = calloc(cs->ncells + 1, sizeof *fill);
    if (!fill)
        goto out;
    for (size_t q = 0; q < e->n; q++)
        for (size_t j = e->start[q]; j < e->start[q + 1]; j++) {
            size_t c = e->idx[j];
            e->inc[e->incstart[c] + fill[c]++] = q;
        }
    free(fill);
    rc = 0;
out:
    free(kids);
    return rc;
}

static void eqs_free(struct eqs *e)
{
    free(e->idx);
    free(e->start);
    free(e->inc);
    free(e->incstart);
}

/* A withheld cell is hidden only if its value is unknown: a withheld row
 * with n_orgs = 0 and n_withheld = 0 says that every organization released
 * zero there, so it protects nothing. */
static int hidden(const struct cell *c)
{
    return withheld(c) && (c->n_orgs > 0 || c->n_withheld > 0);
}

static int eq_withheld(const struct eqs *e, const struct cellset *cs, size_t q)
{
    int n = 0;
    for (size_t j = e->start[q]; j < e->start[q + 1]; j++)
        n += hidden(&cs->cells[e->idx[j]]);
    return n;
}

/* What withholding cell c does to its equations other than q: +1 for each
 * that it would leave with exactly one withheld cell, -1 for each that it
 * repairs (one withheld now, two after). */
static int side_effect(const struct eqs *e, const struct cellset *cs, size_t c, size_t q)
{
    int score = 0;
    for (size_t j = e->incstart[c]; j < e->incstart[c + 1]; j++) {
        size_t o = e->inc[j];
        if (o == q)
            continue;
        int w = eq_withheld(e, cs, o);
        score += w == 0 ? 1 : w == 1 ? -1 : 0;
    }
    return score;
}

/* Until no equation has exactly one withheld cell, withholds in such an
 * equation the released child that creates the fewest new lonely
 * equations elsewhere (so that complements close rectangles instead of
 * cascading), then the smallest; only cells with a contributor (n_orgs >
 * 0) are complements; the margin when no child qualifies. Returns the number of cells withheld, or -1 (no memory). */
static int complementary(struct cellset *cs)
{
    struct eqs e;
    memset(&e, 0, sizeof e);
    if (eqs_build(&e, cs) != 0) {
        eqs_free(&e);
        return -1;
    }
    int added = 0, changed;
    do {
        changed = 0;
        for (size_t q = 0; q < e.n; q++) {
            if (eq_withheld(&e, cs, q) != 1)
                continue;
            struct cell *best = NULL, *margin = &cs->cells[e.idx[e.start[q]]];
            int best_score = 0;
            /* A released zero (n_orgs 0) is no complement: withheld, its
             * n_orgs still says it is zero. */
            for (size_t j = e.start[q] + 1; j < e.start[q + 1]; j++) {
                struct cell *c = &cs->cells[e.idx[j]];
                if (withheld(c) || c->n_orgs < 1)
                    continue;
                int sc = side_effect(&e, cs, e.idx[j], q);
                if (!best || sc < best_score || (sc == best_score && smaller(c, best))) {
                    best = c;
                    best_score = sc;
                }
            }
            if (!best && !withheld(margin) && margin->n_orgs > 0)
                best = margin;
            for (size_t j = e.start[q]; !best && j < e.start[q + 1]; j++)
                if (!withheld(&cs->cells[e.idx[j]]))
                    best = &cs->cells[e.idx[j]];
            if (!best)
                continue; /* nothing released is left: cannot happen with one hidden */
            best->reason = REASON_SECONDARY;
            added++;
            changed = 1;
        }
    } while (changed);
    eqs_free(&e);
    return added;
}

int release_apply(struct cellset *cs, const struct release_params *p,
                  struct release_report *rep)
{
    if (!cs || !p || p->min_orgs < 1)
        return -1;
    struct release_report r;
    memset(&r, 0, sizeof r);
    int min_orgs = p->allow_single_org ? 1 : p->min_orgs;
    struct suppress_params sp;
    suppress_params_init(&sp);
    if (cs->k > 0)
        sp.k = cs->k;
    for (size_t i = 0; i < cs->ncells; i++) {
        struct cell *c = &cs->cells[i];
        if (c->reason != REASON_NONE)
            continue;
        c->max_contrib = 0; /* never known here: see docs/design.md */
        cell_reason pr = suppress_primary_reason(c, &sp);
        if (pr != REASON_NONE && pr != REASON_DOMINANCE) {
            c->reason = pr;
            r.primary++;
        } else if (c->n_orgs > 0 && c->n_orgs < min_orgs) {
            c->reason = REASON_MIN_ORGS;
            r.min_orgs++;
        }
    }
    int added = complementary(cs);
    if (added < 0)
        return -1;
    r.secondary = (size_t)added;
    r.cells = cs->ncells;
    for (size_t i = 0; i < cs->ncells; i++) {
        struct cell *c = &cs->cells[i];
        if (c->reason == REASON_NONE) {
            r.released++;
            r.partial += c->n_withheld > 0;
            continue;
        }
        if (c->reason == REASON_PARTIAL)
            r.all_withheld++;
        c->members = c->member_months = c->denominator = c->numerator = c->sum_sq = 0;
    }
    if (rep) {
        r.submissions = rep->submissions;
        *rep = r;
    }
    return 0;
}

struct cellset *release_pool(struct cellset **subs, int n, const char *round_id,
                             const char *period, const struct release_params *p,
                             struct release_report *rep)
{
    if (!p || p->min_orgs < 1)
        return NULL;
    struct cellset *cs = pool_submissions(subs, n, round_id, period);
    if (!cs)
        return NULL;
    count_orgs(cs, subs, n);
    if (rep)
        rep->submissions = n;
    if (release_apply(cs, p, rep) != 0)
        cellset_destroy(&cs);
    return cs;
}

/* ---- files ----------------------------------------------------------------- */

char *release_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 1 >= cap) {
            size_t nc = cap ? cap * 2 : 65536;
            char *q = realloc(buf, nc);
            if (!q) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = q;
            cap = nc;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

static int hash_file(const char *path, char sha[65])
{
    size_t len;
    char *buf = release_read_file(path, &len);
    if (!buf)
        return -1;
    identity_sha256_hex(buf, len, sha);
    free(buf);
    return 0;
}

static int write_text(FILE *f, void *arg)
{
    fputs(arg, f);
    return ferror(f) ? -1 : 0;
}

int release_write_results(const struct cellset *cs, const char *dir, struct release_files *fl,
                          char *err, size_t errlen)
{
    int rc = -1;
    char *csv = NULL, *json = NULL;
    csvtext_t *t = NULL;
    metrics_out *mo = NULL;
    struct cellset **sets = NULL;
    int nsets = 0;
    size_t len = 0;
    char jerr[256];
    memset(fl, 0, sizeof *fl);
    snprintf(fl->pooled_csv, sizeof fl->pooled_csv, "%s/pooled.csv", dir);
    snprintf(fl->pooled_json, sizeof fl->pooled_json, "%s/pooled.json", dir);
    snprintf(fl->metrics_csv, sizeof fl->metrics_csv, "%s/metrics.csv", dir);
    if (pool_write_csv(cs, fl->pooled_csv) != 0 || !(csv = release_read_file(fl->pooled_csv, &len))) {
        snprintf(err, errlen, "cannot write %s: %s", fl->pooled_csv, strerror(errno));
        goto out;
    }
    identity_sha256_hex(csv, len, fl->sha_pooled_csv);
    t = csvtext_parse(fl->pooled_csv, csv, len, jerr, sizeof jerr);
    json = t ? csvtext_to_json(t, jerr, sizeof jerr) : NULL;
    if (!json) {
        snprintf(err, errlen, "cannot convert %s to JSON: %s", fl->pooled_csv, jerr);
        goto out;
    }
    if (atomic_file_write(fl->pooled_json, write_text, json) != 0 ||
        hash_file(fl->pooled_json, fl->sha_pooled_json) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", fl->pooled_json, strerror(errno));
        goto out;
    }
    /* The metrics are computed from the cells as released (%.10g in the
     * CSV), not from the full-precision sums in memory, so that anyone
     * holding pooled.csv recomputes metrics.csv exactly. */
    char rerr[512];
    if (cells_read_buffer(fl->pooled_csv, csv, len, &sets, &nsets, rerr, sizeof rerr) != 0 ||
        nsets > 1) {
        snprintf(err, errlen, "%s does not read back: %s", fl->pooled_csv,
                 nsets > 1 ? "more than one cell set" : rerr);
        goto out;
    }
    /* No submission, no cells: a metrics.csv with its header only. */
    const struct cellset *src = nsets == 1 ? sets[0] : cs;
    struct metrics_params mp;
    metrics_params_default(&mp);
    mo = metrics_out_new();
    if (!mo || metrics_compute(src, &mp, mo) != 0 ||
        metrics_compute_quality(src, &mp, mo) != 0) {
        snprintf(err, errlen, "cannot compute the metrics (out of memory)");
        goto out;
    }
    if (metrics_out_write_csv(mo, fl->metrics_csv) != 0 ||
        hash_file(fl->metrics_csv, fl->sha_metrics_csv) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", fl->metrics_csv, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    cells_read_free(&sets, nsets);
    metrics_out_destroy(&mo);
    csvtext_destroy(&t);
    free(json);
    free(csv);
    return rc;
}
