/*
 * ledger.c - a release checked together with the earlier releases of its
 * period (ledger.h).
 *
 * The joint cell set holds one world per release (the new one, and each
 * earlier one as it was released) and one difference world per pair of
 * releases, each a copy of the later release's tables that the earlier one
 * has too. A difference's numbers are the later release's true numbers
 * minus the earlier one's, channel by channel (catalog.h: the same
 * statistic under several measures is one channel), and must be
 * non-negative: the later data is the earlier plus late records. Links tie
 * each stratum: later = earlier + difference. suppress_apply_worlds() then
 * protects every requirement of every world by withholding cells of the
 * new release only.
 *
 * Tables are matched by name, strata by label. A stratum of the later
 * release that the earlier one did not list (a county first seen) had
 * nothing before; one the later release does not list must have had
 * nothing before either. Tables over `language` whose strata differ are
 * not matched (their `other` stratum holds different languages), so they
 * tie only through their world's totals and margins.
 */
#include "ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"

const char *ledger_strerror(int rc)
{
    switch (rc) {
    case LEDGER_OK: return "ok";
    case LEDGER_ENOMEM: return "out of memory";
    case LEDGER_EINVAL: return "invalid releases for the ledger";
    case LEDGER_ECHANGED: return "an earlier release of this period is not contained in this one "
                                 "(records changed or were removed), so the difference between "
                                 "them cannot be protected";
    case LEDGER_EPROTECT: return "taken together with the earlier releases of this period, this "
                                 "release would narrow a withheld cell or a small difference, and "
                                 "withholding more cannot prevent it";
    case LEDGER_ELIMIT: return "more earlier releases of this period than the ledger solves together";
    case LEDGER_ENEWTABLE: return "this release has a table that an earlier release of this period "
                                  "did not have, and the ledger cannot protect the differences "
                                  "it would show";
    }
    return "unknown ledger error";
}

const char *ledger_reason_code(int rc)
{
    switch (rc) {
    case LEDGER_ECHANGED: return "ledger_changed";
    case LEDGER_EPROTECT: return "ledger_differencing";
    case LEDGER_ELIMIT: return "ledger_limit";
    case LEDGER_ENEWTABLE: return "ledger_new_table";
    }
    return "ledger_error";
}

/* ---- channels of a cell ---------------------------------------------------- */

/* The value of channel ch in stratum st of table t: from any cell of a
 * measure carrying it that has data. Returns 1 when found. */
static int chan_value(const struct cellset *cs, int t, int st, int ch, cell_i128 *out)
{
    for (int m = 0; m < catalog_n_measures(); m++) {
        const struct measure_def *d = catalog_measure(m);
        for (int f = 0; f < CELL_F__COUNT; f++) {
            if (cell_field_channel(d, f) != ch)
                continue;
            const struct cell *cl = cellset_get(cs, m, t, st);
            if (cl && cl->reason != REASON_NOT_AVAILABLE) {
                *out = cell_field(cl, f);
                return 1;
            }
        }
    }
    return 0;
}

/* ---- comparing releases ------------------------------------------------------ */

static int find_table(const struct cellset *cs, const char *name)
{
    for (int t = 0; t < cs->ntables; t++)
        if (!strcmp(cs->tables[t].name, name))
            return t;
    return -1;
}

static int same_labels(const struct cell_table *a, const struct cell_table *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int d = 0; d < a->ndim; d++) {
        if (a->card[d] != b->card[d])
            return 0;
        for (int i = 0; i < a->card[d]; i++)
            if (strcmp(a->labels[d][i], b->labels[d][i]))
                return 0;
    }
    return 1;
}

/* The same release: the same cells, numbers and reasons. */
static int same_release(const struct cellset *a, const struct cellset *b)
{
    if (a->ncells != b->ncells || a->ntables != b->ntables)
        return 0;
    for (int t = 0; t < a->ntables; t++) {
        int u = find_table(b, a->tables[t].name);
        if (u < 0 || !same_labels(&a->tables[t], &b->tables[u]))
            return 0;
    }
    for (size_t i = 0; i < a->ncells; i++) {
        const struct cell *x = &a->cells[i];
        const struct cell *y = cellset_get(b, x->measure, find_table(b, a->tables[x->table].name),
                                           x->stratum);
        if (!y || x->reason != y->reason)
            return 0;
        for (int f = 0; f < CELL_F__COUNT; f++)
            if (cell_field(x, f) != cell_field(y, f))
                return 0;
    }
    return 1;
}

/* ---- the joint cell set -------------------------------------------------------- */

#define MAX_RELEASES (LEDGER_MAX_EARLIER + 1)
#define MAX_WORLDS (MAX_RELEASES + MAX_RELEASES * (MAX_RELEASES - 1) / 2)

struct joint {
    struct cellset *cs;
    int *table_world;
    int cap_tw;
    int kind[MAX_WORLDS];
    int nworlds;
    struct suppress_link *links;
    size_t nlinks, cap_links;
    int *map[MAX_RELEASES];  /* release table -> joint table */
    int k;
    int pooled;
    char *why;
    size_t whylen;
};

static int joint_table(struct joint *j, const struct cell_table *tb, int world)
{
    const char *const *labels[CELLS_MAX_DIM] = {NULL, NULL};
    for (int d = 0; d < tb->ndim; d++)
        labels[d] = (const char *const *)tb->labels[d];
    int t = cellset_add_table(j->cs, tb->ndim, tb->dim, tb->card, tb->ndim ? labels : NULL);
    if (t < 0)
        return -1;
    if (t >= j->cap_tw) {
        int ncap = j->cap_tw ? j->cap_tw * 2 : 64;
        while (ncap <= t)
            ncap *= 2;
        int *n = realloc(j->table_world, (size_t)ncap * sizeof *n);
        if (!n)
            return -1;
        j->table_world = n;
        j->cap_tw = ncap;
    }
    j->table_world[t] = world;
    return t;
}

static int joint_link(struct joint *j, const struct suppress_link *l)
{
    if (j->nlinks == j->cap_links) {
        size_t ncap = j->cap_links ? j->cap_links * 2 : 256;
        struct suppress_link *n = realloc(j->links, ncap * sizeof *n);
        if (!n)
            return -1;
        j->links = n;
        j->cap_links = ncap;
    }
    j->links[j->nlinks++] = *l;
    return 0;
}

/* Adds release r (rs) as world `world`: its tables and cells. An earlier
 * release's dominated cost cell is protected as if its largest member
 * were the whole sum (its true largest member is not kept). */
static int joint_release(struct joint *j, int r, const struct cellset *rs, int world, int earlier)
{
    j->map[r] = malloc((size_t)(rs->ntables ? rs->ntables : 1) * sizeof *j->map[r]);
    if (!j->map[r])
        return LEDGER_ENOMEM;
    for (int t = 0; t < rs->ntables; t++)
        if ((j->map[r][t] = joint_table(j, &rs->tables[t], world)) < 0)
            return LEDGER_ENOMEM;
    for (size_t i = 0; i < rs->ncells; i++) {
        struct cell c = rs->cells[i];
        c.table = j->map[r][c.table];
        if (earlier)
            c.max_contrib = c.reason == REASON_DOMINANCE ? c.numerator : 0;
        if (!cellset_append(j->cs, &c))
            return LEDGER_ENOMEM;
    }
    return 0;
}

static void say(struct joint *j, const char *fmt, const char *a, const char *b, const char *c)
{
    if (j->why && j->whylen)
        snprintf(j->why, j->whylen, fmt, a, b, c);
}

/* The difference world between releases a (earlier, as) and b (later,
 * bs): for each table of b that a has too, the difference of every
 * measure whose channels both carry there, and the links. */
static int joint_difference(struct joint *j, int ra, const struct cellset *as, int rb,
                            const struct cellset *bs, int world)
{
    int rc = LEDGER_ENOMEM;
    int *smap = NULL;
    char *seen = NULL;
    for (int tb = 0; tb < bs->ntables; tb++) {
        const struct cell_table *B = &bs->tables[tb];
        int ta = find_table(as, B->name);
        if (ta < 0)
            continue;
        const struct cell_table *A = &as->tables[ta];
        int same = same_labels(A, B), lang = 0;
        for (int d = 0; d < B->ndim; d++)
            lang |= B->dim[d] == S_LANGUAGE;
        if (!same && lang)
            continue; /* "other" differs: tied through margins only */
        free(smap);
        free(seen);
        smap = malloc((size_t)B->nstrata * sizeof *smap);
        seen = calloc((size_t)A->nstrata, 1);
        if (!smap || !seen)
            goto out;
        for (int s = 0; s < B->nstrata; s++) {
            int idx[CELLS_MAX_DIM] = {0, 0}, rest = s, ok = 1;
            for (int d = B->ndim - 1; d >= 0; d--) {
                idx[d] = rest % B->card[d];
                rest /= B->card[d];
            }
            int as_idx = 0;
            for (int d = 0; d < B->ndim && ok; d++) {
                int found = -1;
                for (int i = 0; i < A->card[d] && found < 0; i++)
                    if (!strcmp(A->labels[d][i], B->labels[d][idx[d]]))
                        found = i;
                ok = found >= 0;
                as_idx = as_idx * A->card[d] + found;
            }
            smap[s] = ok ? as_idx : -1;
            if (ok)
                seen[as_idx] = 1;
        }
        /* which measures' channels both releases carry in this table */
        int use[CATALOG_MAX_MEASURES], any = 0;
        for (int m = 0; m < catalog_n_measures(); m++) {
            const struct measure_def *d = catalog_measure(m);
            use[m] = 1;
            for (int f = 0; f < CELL_F__COUNT && use[m]; f++) {
                int ch = cell_field_channel(d, f);
                cell_i128 v;
                if (ch >= 0)
                    use[m] = chan_value(bs, tb, 0, ch, &v) && chan_value(as, ta, 0, ch, &v);
            }
            any |= use[m];
        }
        if (!any)
            continue;
        /* a stratum the later release does not list had nothing before */
        for (int s = 0; s < A->nstrata; s++) {
            if (seen[s])
                continue;
            for (int m = 0; m < catalog_n_measures(); m++)
                for (int f = 0; f < CELL_F__COUNT && use[m]; f++) {
                    int ch = cell_field_channel(catalog_measure(m), f);
                    cell_i128 v = 0;
                    if (ch >= 0 && chan_value(as, ta, s, ch, &v) && v != 0) {
                        say(j, "table %s: a stratum of an earlier release is missing from this "
                               "one%s%s", B->name, "", "");
                        rc = LEDGER_ECHANGED;
                        goto out;
                    }
                }
        }
        int td = joint_table(j, B, world);
        if (td < 0)
            goto out;
        for (int m = 0; m < catalog_n_measures(); m++) {
            if (!use[m])
                continue;
            const struct measure_def *d = catalog_measure(m);
            for (int s = 0; s < B->nstrata; s++) {
                struct cell c;
                memset(&c, 0, sizeof c);
                c.measure = m;
                c.table = td;
                c.stratum = s;
                c.reason = REASON_SECONDARY;
                c.n_orgs = 1;
                for (int f = 0; f < CELL_F__COUNT; f++) {
                    int ch = cell_field_channel(d, f);
                    cell_i128 vb = 0, va = 0;
                    if (ch < 0)
                        continue;
                    chan_value(bs, tb, s, ch, &vb);
                    if (smap[s] >= 0)
                        chan_value(as, ta, smap[s], ch, &va);
                    if (vb < va && j->pooled) {
                        /* pooled: partial sums can shrink when an
                         * organization withholds more; no difference is
                         * known there */
                        vb = va;
                    } else if (vb < va) {
                        char lbl[256];
                        struct cell probe = {.table = tb, .stratum = s};
                        cellset_stratum_label(bs, &probe, lbl, sizeof lbl);
                        say(j, "%s, %s %s: less than in an earlier release", d->name, B->name,
                            lbl);
                        rc = LEDGER_ECHANGED;
                        goto out;
                    }
                    cell_field_set(&c, f, vb - va);
                }
                /* a few late members' cost: protected as if one of them
                 * had it all (their largest is not known here) */
                if (d->kind == KIND_PMPM && c.members > 0 && c.members < j->k && c.numerator > 0)
                    c.max_contrib = c.numerator;
                if (!cellset_append(j->cs, &c))
                    goto out;
            }
        }
        for (int s = 0; s < B->nstrata; s++) {
            struct suppress_link l = {j->map[rb][tb], s,
                                      {smap[s] >= 0 ? j->map[ra][ta] : -1, td},
                                      {smap[s] >= 0 ? smap[s] : 0, s}};
            if (joint_link(j, &l))
                goto out;
        }
    }
    rc = 0;
out:
    free(smap);
    free(seen);
    return rc;
}

static void joint_free(struct joint *j)
{
    cellset_destroy(&j->cs);
    free(j->table_world);
    free(j->links);
    for (int r = 0; r < MAX_RELEASES; r++)
        free(j->map[r]);
    memset(j, 0, sizeof *j);
}

int ledger_suppress(struct cellset *cs, struct cellset *const *earlier, int nearlier,
                    const struct suppress_params *p, struct suppress_report *rep, char *why,
                    size_t whylen)
{
    struct suppress_params sp;
    struct suppress_report local;
    const struct cellset *rel[MAX_RELEASES];
    struct joint j;
    int nrel = 0, rc;
    memset(&j, 0, sizeof j);
    if (why && whylen)
        why[0] = '\0';
    if (!rep)
        rep = &local;
    if (!cs || nearlier < 0 || (nearlier && !earlier))
        return LEDGER_EINVAL;
    if (p)
        sp = *p;
    else
        suppress_params_init(&sp);
    /* The release on its own first: it must pass alone, and if it is an
     * earlier release again, it is that release. */
    rc = suppress_apply(cs, &sp, rep);
    if (rc == SUPPRESS_ENOMEM)
        return LEDGER_ENOMEM;
    if (rc == SUPPRESS_EINVAL)
        return LEDGER_EINVAL;
    if (rc != 0)
        return LEDGER_EPROTECT;
    for (int i = 0; i < nearlier; i++)
        if (same_release(cs, earlier[i]))
            return LEDGER_OK;
    /* Earlier releases, each distinct one once, oldest first. */
    for (int i = 0; i < nearlier; i++) {
        int dup = 0;
        for (int r = 0; r < nrel && !dup; r++)
            dup = same_release(earlier[i], rel[r]);
        if (dup)
            continue;
        if (nrel == LEDGER_MAX_EARLIER)
            return LEDGER_ELIMIT;
        rel[nrel++] = earlier[i];
    }
    if (nrel == 0)
        return LEDGER_OK;
    /* A table new since an earlier release: the earlier data split by it
     * adds up to the margins released then, a fact a reader has, but the
     * ledger keeps no earlier true numbers of that table to model it (the
     * difference worlds hold the tables both releases have). Refused rather
     * than released unchecked. */
    for (int t = 0; t < cs->ntables; t++)
        for (int r = 0; r < nrel; r++)
            if (cellset_find_table(rel[r], cs->tables[t].name) < 0) {
                if (why && whylen)
                    snprintf(why, whylen, "table %s is new since an earlier release of period "
                             "%s: release the period again with the earlier tables only, or "
                             "under a new period", cs->tables[t].name, cs->period);
                return LEDGER_ENEWTABLE;
            }
    rel[nrel] = cs;
    j.cs = cellset_new();
    j.k = sp.k;
    j.pooled = sp.pooled;
    j.why = why;
    j.whylen = whylen;
    rc = LEDGER_ENOMEM;
    if (!j.cs)
        goto out;
    /* world 0: the new release; 1..nrel: the earlier ones */
    j.kind[j.nworlds++] = SUPPRESS_WORLD_NEW;
    if ((rc = joint_release(&j, nrel, cs, 0, 0)))
        goto out;
    for (int r = 0; r < nrel; r++) {
        j.kind[j.nworlds] = SUPPRESS_WORLD_EARLIER;
        if ((rc = joint_release(&j, r, rel[r], j.nworlds++, 1)))
            goto out;
    }
    /* a difference world for every pair, later = earlier + difference */
    for (int b = 1; b <= nrel; b++)
        for (int a = 0; a < b; a++) {
            j.kind[j.nworlds] = SUPPRESS_WORLD_DIFFERENCE;
            if ((rc = joint_difference(&j, a, rel[a], b, rel[b], j.nworlds++)))
                goto out;
        }
    cellset_sort(j.cs);
    struct suppress_worlds w = {j.nworlds, j.kind, j.table_world, j.links, j.nlinks};
    struct suppress_report jr;
    int src = suppress_apply_worlds(j.cs, &sp, &w, &jr);
    if (src == SUPPRESS_ENOMEM) {
        rc = LEDGER_ENOMEM;
        goto out;
    }
    if (src == SUPPRESS_EINVAL) {
        rc = LEDGER_EINVAL;
        goto out;
    }
    if (src != 0) {
        rc = LEDGER_EPROTECT;
        goto out;
    }
    for (size_t i = 0; i < cs->ncells; i++) {
        struct cell *c = &cs->cells[i];
        const struct cell *x = cellset_get(j.cs, c->measure, j.map[nrel][c->table], c->stratum);
        if (!x) {
            rc = LEDGER_EINVAL;
            goto out;
        }
        c->reason = x->reason;
    }
    memset(rep, 0, sizeof *rep);
    cellset_count_reasons(cs, rep->cells);
    uint64_t withheld = 0;
    for (int r = 1; r < REASON__COUNT; r++)
        withheld += rep->cells[r];
    rep->cells[REASON_NONE] = cs->ncells - withheld;
    rep->primary = rep->cells[REASON_COUNT] + rep->cells[REASON_COMPLEMENT] +
                   rep->cells[REASON_DENOMINATOR] + rep->cells[REASON_DOMINANCE];
    rep->secondary = rep->cells[REASON_SECONDARY];
    rep->requirements = jr.requirements;
    rep->lp_solves = jr.lp_solves;
    rc = LEDGER_OK;
out:
    joint_free(&j);
    return rc;
}
