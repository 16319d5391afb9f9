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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "cells_read.h"
#include "csvtext.h"
#include "identity.h"
#include "log.h"
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

/* ---- complementary protection ---------------------------------------------- */

/*
 * Every reader gets its own linear-programming check (suppress.c in pooled
 * mode, suppress.h), each on a copy of the pooled cells (cell i of a view
 * is pooled cell i):
 *   - an analyst sees the pooled release itself;
 *   - an organization o also knows its own cells: its view holds the
 *     others' part (o's released numbers subtracted, o taken out of n_orgs
 *     and n_withheld);
 *   - for an organization q behind a min_orgs cell, a reader who knows which
 *     organization released or withheld each pooled cell can bound q's own
 *     numbers (SUPPRESS_POOLED_ONE_ORG): a released cell that only q
 *     contributed to (besides the reader and organizations that released
 *     zero there) is q's number, any other released cell q is in bounds it
 *     from above.
 * Cells already withheld stay hidden in a view (reason policy: no
 * requirement of their own there); min_orgs cells keep their reason where
 * the reader must not learn them (see keep_from). Complements chosen in a
 * view are withheld in the pooled release. Views are checked one after the
 * other: withholding more only widens what every earlier reader can infer,
 * so one pass leaves every reader's requirements met.
 */

/* Above this many (organization, reader) pairs, one view per organization
 * covers all its readers at once (see one_org_view). */
#define ONE_ORG_VIEWS_MAX 64

static cell_reason view_reason(cell_reason r)
{
    switch (r) {
    case REASON_NONE:
    case REASON_MIN_ORGS:
    case REASON_PARTIAL:
    case REASON_NOT_AVAILABLE:
        return r;
    default:
        return REASON_POLICY;
    }
}

/* Withholds in the pooled set the cells that suppression withheld in a view
 * (complements, or a primary rule on the view's numbers). */
static void withhold_chosen(const struct cellset *view, struct cellset *cs)
{
    for (size_t i = 0; i < view->ncells; i++) {
        cell_reason r = view->cells[i].reason;
        if (r == REASON_NONE || r == REASON_POLICY || r == REASON_MIN_ORGS ||
            r == REASON_PARTIAL || r == REASON_NOT_AVAILABLE)
            continue;
        if (cs->cells[i].reason == REASON_NONE)
            cs->cells[i].reason = REASON_SECONDARY;
    }
}

/* Runs the view through suppress.c and withholds its choices in cs.
 * Returns 0, 1 when its requirements could not all be met, -1 (memory). */
static int check_view(struct cellset *cs, struct cellset *view, const struct suppress_params *sp)
{
    int rc = suppress_apply(view, sp, NULL);
    if (rc != SUPPRESS_OK && rc != SUPPRESS_ELP)
        return -1;
    withhold_chosen(view, cs);
    return rc == SUPPRESS_ELP;
}

/* Sums of costs leave rounding residue when a part is subtracted. */
static double minus(double total, double part)
{
    double d = total - part;
    return fabs(d) <= 1e-9 * (fabs(total) + fabs(part)) ? 0 : d;
}

static void subtract(struct cell *v, const struct cell *part)
{
    v->members = minus(v->members, part->members);
    v->member_months = minus(v->member_months, part->member_months);
    v->denominator = minus(v->denominator, part->denominator);
    v->numerator = minus(v->numerator, part->numerator);
    v->sum_sq = minus(v->sum_sq, part->sum_sq);
}

static int released_nonzero(const struct cell *c)
{
    return c && c->reason == REASON_NONE && c->members > 0;
}

/* A released cell tells an organization that contributed to it the sum of
 * at least min_orgs - 1 others. A min_orgs cell with that many other
 * contributors (members > 0) tells it no more, so a min_orgs cell is kept
 * from every analyst, and from an organization (its own cell there: mine)
 * only when fewer than min_orgs - 1 others contributed. */
static int keep_from(const struct cell *pc, const struct cell *mine, int min_orgs)
{
    return pc->n_orgs - released_nonzero(mine) < min_orgs - 1;
}

/* at[o][i]: organization o's submitted cell behind pooled cell i, or NULL. */
static struct cell ***org_cells(const struct cellset *cs, struct cellset **subs, int n)
{
    struct cell ***at = calloc((size_t)(n ? n : 1), sizeof *at);
    if (!at)
        return NULL;
    for (int o = 0; o < n; o++) {
        at[o] = calloc(cs->ncells ? cs->ncells : 1, sizeof **at);
        if (!at[o]) {
            while (o-- > 0)
                free(at[o]);
            free(at);
            return NULL;
        }
        for (size_t j = 0; j < subs[o]->ncells; j++) {
            struct cell *c = &subs[o]->cells[j];
            struct cell *pc = c->reason == REASON_NOT_AVAILABLE ? NULL : match(cs, subs[o], c);
            if (pc)
                at[o][pc - cs->cells] = c;
        }
    }
    return at;
}

static void org_cells_free(struct cell ***at, int n)
{
    for (int o = 0; at && o < n; o++)
        free(at[o]);
    free(at);
}

/* Organization o's view: the others' part of every pooled cell. */
static int protect_from(struct cellset *cs, struct cell ***at, int o, int min_orgs,
                        const struct suppress_params *sp)
{
    int any = 0; /* a min_orgs cell to keep from o, else no view */
    for (size_t i = 0; i < cs->ncells && !any; i++)
        any = cs->cells[i].reason == REASON_MIN_ORGS && keep_from(&cs->cells[i], at[o][i], min_orgs);
    if (!any)
        return 0;
    struct cellset *view = cellset_copy(cs);
    if (!view)
        return -1;
    for (size_t i = 0; i < view->ncells; i++) {
        struct cell *v = &view->cells[i];
        const struct cell *c = at[o][i];
        v->max_contrib = 0;
        if (v->reason == REASON_MIN_ORGS && !keep_from(&cs->cells[i], c, min_orgs))
            v->reason = REASON_POLICY;
        v->reason = view_reason(v->reason);
        if (!c)
            continue;
        if (c->reason != REASON_NONE) {
            v->n_withheld--;
            continue;
        }
        subtract(v, c);
        v->n_orgs -= c->members > 0;
    }
    int rc = check_view(cs, view, sp);
    cellset_destroy(&view);
    return rc;
}

/* Per pooled cell, the largest released contribution of any organization
 * to each number (for the one view that covers every reader). */
struct top2 {
    struct cell first, second; /* largest and second largest per number   */
    int first_org[5];          /* whose is the largest, per number         */
};

static double *num(struct cell *c, int f)
{
    switch (f) {
    case 0: return &c->members;
    case 1: return &c->member_months;
    case 2: return &c->denominator;
    case 3: return &c->numerator;
    default: return &c->sum_sq;
    }
}

static struct top2 *top_contributions(const struct cellset *cs, struct cell ***at, int n)
{
    struct top2 *t = calloc(cs->ncells ? cs->ncells : 1, sizeof *t);
    if (!t)
        return NULL;
    for (size_t i = 0; i < cs->ncells; i++) {
        for (int f = 0; f < 5; f++)
            t[i].first_org[f] = -1;
        for (int o = 0; o < n; o++) {
            struct cell *c = at[o][i];
            if (!c || c->reason != REASON_NONE)
                continue;
            for (int f = 0; f < 5; f++) {
                double x = *num(c, f);
                if (t[i].first_org[f] < 0 || x > *num(&t[i].first, f)) {
                    *num(&t[i].second, f) = *num(&t[i].first, f);
                    *num(&t[i].first, f) = x;
                    t[i].first_org[f] = o;
                } else if (x > *num(&t[i].second, f)) {
                    *num(&t[i].second, f) = x;
                }
            }
        }
    }
    return t;
}

/* Organization q's view for reader r (-1: an analyst), or with r = -2 for
 * every reader at once (a conservative union: a cell is q's number when
 * at most one other organization contributed to it, the reader being that
 * one; an upper bound subtracts the largest other contribution; min_orgs
 * cells are kept as from an analyst). top is needed only for r = -2. */
static struct cellset *one_org_view(const struct cellset *cs, struct cell ***at,
                                    const struct top2 *top, int q, int r, int min_orgs)
{
    struct cellset *view = cellset_copy(cs);
    if (!view)
        return NULL;
    for (size_t i = 0; i < cs->ncells; i++) {
        const struct cell *pc = &cs->cells[i], *cq = at[q][i];
        const struct cell *mine = r >= 0 ? at[r][i] : NULL;
        struct cell *v = &view->cells[i];
        int others = pc->n_orgs - released_nonzero(cq);
        if (r >= 0)
            others -= released_nonzero(mine);
        else if (r == -2 && others > 0)
            others--;
        if (!cq || cq->reason != REASON_NONE) {
            memset(v, 0, sizeof *v);
            v->measure = pc->measure;
            v->table = pc->table;
            v->stratum = pc->stratum;
            v->reason = REASON_POLICY; /* q's number unknown to the reader */
            v->n_orgs = v->n_withheld = 1;
            continue;
        }
        if (pc->reason != REASON_NONE || others <= 0) {
            /* withheld in the pool, or nobody else in the sum: q's number */
            *v = *cq;
            v->table = pc->table;
            v->stratum = pc->stratum;
            v->reason = pc->reason == REASON_NONE ? REASON_NONE
                        : pc->reason == REASON_MIN_ORGS && cq->members > 0 &&
                                  (r < 0 || keep_from(pc, mine, min_orgs))
                            ? REASON_MIN_ORGS
                            : REASON_POLICY;
            v->n_orgs = cq->members > 0;
        } else {
            /* a sum with others: an upper bound of q's number */
            if (mine && mine->reason == REASON_NONE)
                subtract(v, mine);
            for (int f = 0; f < 5 && r == -2; f++) {
                const struct top2 *t = &top[i];
                double largest = t->first_org[f] == q ? *num((struct cell *)&t->second, f)
                                                      : *num((struct cell *)&t->first, f);
                *num(v, f) = minus(*num(v, f), largest);
            }
            v->reason = REASON_NONE;
            v->n_orgs = 2;
        }
        v->n_withheld = 0;
        v->max_contrib = 0;
    }
    return view;
}

/* Checks the one-organization views of every organization behind a min_orgs
 * cell. Returns the number of views whose requirements could not all be
 * met, or -1 (no memory). */
static int protect_one_orgs(struct cellset *cs, struct cell ***at, int n, int min_orgs,
                            const struct suppress_params *sp0)
{
    struct suppress_params sp = *sp0;
    sp.pooled = SUPPRESS_POOLED_ONE_ORG;
    /* which (q, r) pairs need a view: q behind a min_orgs cell that r must
     * not learn */
    char *need = calloc((size_t)n * (size_t)(n + 1) + 1, 1);
    if (!need)
        return -1;
    int pairs = 0;
    for (size_t i = 0; i < cs->ncells; i++) {
        const struct cell *pc = &cs->cells[i];
        if (pc->reason != REASON_MIN_ORGS)
            continue;
        for (int q = 0; q < n; q++) {
            if (!released_nonzero(at[q][i]))
                continue;
            for (int r = -1; r < n; r++) {
                char *x = &need[(size_t)q * (size_t)(n + 1) + (size_t)(r + 1)];
                if (r == q || *x || (r >= 0 && !keep_from(pc, at[r][i], min_orgs)))
                    continue;
                *x = 1;
                pairs++;
            }
        }
    }
    int combined = pairs > ONE_ORG_VIEWS_MAX;
    struct top2 *top = combined ? top_contributions(cs, at, n) : NULL;
    int unmet = combined && !top ? -1 : 0;
    for (int q = 0; q < n && unmet >= 0; q++)
        for (int r = combined ? -2 : -1; r < (combined ? -1 : n) && unmet >= 0; r++) {
            if (!combined && !need[(size_t)q * (size_t)(n + 1) + (size_t)(r + 1)])
                continue;
            if (combined && !need[(size_t)q * (size_t)(n + 1)])
                continue; /* q has no min_orgs cell (the analyst always needs one) */
            struct cellset *view = one_org_view(cs, at, top, q, r, min_orgs);
            int e = view ? check_view(cs, view, &sp) : -1;
            cellset_destroy(&view);
            unmet = e < 0 ? -1 : unmet + e;
        }
    free(top);
    free(need);
    return unmet;
}

int release_apply(struct cellset *cs, struct cellset **subs, int n,
                  const struct release_params *p, struct release_report *rep)
{
    if (!cs || !p || p->min_orgs < 1 || n < 0 || (n > 0 && !subs))
        return -1;
    struct release_report r;
    memset(&r, 0, sizeof r);
    int min_orgs = p->allow_single_org ? 1 : p->min_orgs;
    struct suppress_params sp;
    suppress_params_init(&sp);
    sp.pooled = SUPPRESS_POOLED;
    if (cs->k > 0)
        sp.k = cs->k;
    int any_min_orgs = 0;
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
            any_min_orgs = 1;
        }
    }
    /* the analysts' view, then each organization's */
    int unmet = 0, rc = suppress_apply(cs, &sp, NULL);
    if (rc == SUPPRESS_ENOMEM || rc == SUPPRESS_EINVAL)
        return -1;
    unmet += rc == SUPPRESS_ELP;
    if (any_min_orgs) {
        struct cell ***at = org_cells(cs, subs, n);
        int e = at ? 0 : -1;
        for (int o = 0; o < n && e >= 0; o++) {
            int f = protect_from(cs, at, o, min_orgs, &sp);
            e = f < 0 ? -1 : e + f;
        }
        if (e >= 0) {
            int f = protect_one_orgs(cs, at, n, min_orgs, &sp);
            e = f < 0 ? -1 : e + f;
        }
        org_cells_free(at, n);
        if (e < 0)
            return -1;
        unmet += e;
    }
    if (unmet) {
        /* Some cell could not be protected: release no number at all
         * rather than one that pins it. */
        log_error("release of round %s: %d reader(s) could not be kept from a withheld cell; "
                  "every pooled cell is withheld", cs->round, unmet);
        for (size_t i = 0; i < cs->ncells; i++)
            if (cs->cells[i].reason == REASON_NONE)
                cs->cells[i].reason = REASON_SECONDARY;
    }
    r.cells = cs->ncells;
    for (size_t i = 0; i < cs->ncells; i++) {
        struct cell *c = &cs->cells[i];
        if (c->reason == REASON_NONE) {
            r.released++;
            r.partial += c->n_withheld > 0;
            continue;
        }
        r.secondary += c->reason == REASON_SECONDARY;
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
    if (release_apply(cs, subs, n, p, rep) != 0)
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
