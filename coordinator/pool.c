/*
 * pool.c - plain-addition pooling of submissions (see pool.h).
 *
 * Organizations may release different tables, or strata in a different
 * order, so cells are matched by their names (measure, stratifier,
 * stratum label), not by indices: every cell of every submission becomes
 * one keyed entry, entries are sorted and merged, and the merged rows are
 * fed to a cellset builder in the order they were first seen.
 */
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"

struct entry {
    int measure;
    char table[64];
    char stratum[160];
    size_t seq;                  /* first-seen order                        */
    int64_t members, months, denominator, numerator; /* cells.h units      */
    cell_i128 sum_sq;
    int n_orgs, n_withheld;
};

static int cmp_key(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->measure != y->measure)
        return x->measure < y->measure ? -1 : 1;
    int c = strcmp(x->table, y->table);
    if (c)
        return c;
    c = strcmp(x->stratum, y->stratum);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_seq(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

struct cellset *pool_submissions(struct cellset **subs, int n, const char *round_id,
                                 const char *period)
{
    if (n < 0 || (n > 0 && !subs))
        return NULL;
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += subs[i]->ncells;
    struct entry *e = calloc(total ? total : 1, sizeof *e);
    struct cellset_builder *b = cellset_builder_new();
    struct cellset *out = NULL;
    if (!e || !b)
        goto out;
    size_t m = 0;
    int k = 0;
    for (int i = 0; i < n; i++) {
        const struct cellset *cs = subs[i];
        if (cs->k > k)
            k = cs->k;
        for (size_t j = 0; j < cs->ncells; j++) {
            const struct cell *c = &cs->cells[j];
            if (c->reason == REASON_NOT_AVAILABLE)
                continue;
            struct entry *x = &e[m];
            x->measure = c->measure;
            x->seq = m;
            snprintf(x->table, sizeof x->table, "%s", cs->tables[c->table].name);
            cellset_stratum_label(cs, c, x->stratum, sizeof x->stratum);
            if (c->reason == REASON_NONE) {
                x->members = c->members;
                x->months = c->member_months;
                x->denominator = c->denominator;
                x->numerator = c->numerator;
                x->sum_sq = c->sum_sq;
                x->n_orgs = 1;
            } else {
                x->n_withheld = 1;
            }
            m++;
        }
    }
    qsort(e, m, sizeof *e, cmp_key);
    size_t u = 0;
    for (size_t i = 0; i < m; i++) {
        if (u > 0 && e[u - 1].measure == e[i].measure && !strcmp(e[u - 1].table, e[i].table) &&
            !strcmp(e[u - 1].stratum, e[i].stratum)) {
            struct entry *y = &e[u - 1];
            /* exact integer sums; one that does not fit refuses the pool */
            if (__builtin_add_overflow(y->members, e[i].members, &y->members) ||
                __builtin_add_overflow(y->months, e[i].months, &y->months) ||
                __builtin_add_overflow(y->denominator, e[i].denominator, &y->denominator) ||
                __builtin_add_overflow(y->numerator, e[i].numerator, &y->numerator) ||
                __builtin_add_overflow(y->sum_sq, e[i].sum_sq, &y->sum_sq))
                goto out;
            y->n_orgs += e[i].n_orgs;
            y->n_withheld += e[i].n_withheld;
            continue;
        }
        if (u != i)
            e[u] = e[i];
        u++;
    }
    qsort(e, u, sizeof *e, cmp_seq);
    for (size_t i = 0; i < u; i++) {
        struct cell v;
        memset(&v, 0, sizeof v);
        v.n_orgs = e[i].n_orgs;
        v.n_withheld = e[i].n_withheld;
        if (e[i].n_orgs > 0) {
            v.reason = REASON_NONE;
            v.members = e[i].members;
            v.member_months = e[i].months;
            v.denominator = e[i].denominator;
            v.numerator = e[i].numerator;
            v.sum_sq = e[i].sum_sq;
        } else {
            v.reason = REASON_PARTIAL;
        }
        char err[256];
        /* Names come from decoded cell sets, so they are in the catalog. */
        if (cellset_builder_add(b, catalog_measure(e[i].measure)->name, e[i].table,
                                e[i].stratum, &v, err, sizeof err) != 0)
            goto out;
    }
    out = cellset_builder_finish(&b);
    if (out) {
        snprintf(out->org, sizeof out->org, "pooled");
        snprintf(out->round, sizeof out->round, "%s", round_id ? round_id : "");
        snprintf(out->period, sizeof out->period, "%s", period ? period : "");
        out->k = k ? k : 11;
    }
out:
    cellset_builder_destroy(&b);
    free(e);
    return out;
}

int pool_write_csv(const struct cellset *cs, const char *path)
{
    return cellset_write_pooled_csv(cs, path);
}
