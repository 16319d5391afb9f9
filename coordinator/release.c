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
 * mode): an analyst sees the pooled release; an organization also knows its
 * own cells, so what it learns about the others is the pooled release minus
 * its own part. For organization o the "view" is a copy of the pooled cells
 * holding the others' part: o's released numbers subtracted, o taken out of
 * n_orgs and n_withheld. Cells already withheld stay hidden in the view
 * (reason policy: no requirement of their own there); min_orgs cells keep
 * their reason, so the others' part of each is protected against o.
 * Complements chosen in a view are withheld in the pooled release. Views
 * are checked one after the other: withholding more only widens what every
 * earlier reader can infer, so one pass leaves every reader's requirements
 * met.
 */

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
 * (complements, or a primary rule on the view's numbers); map[i] is the
 * pooled cell of view cell i. */
static void withhold_chosen(const struct cellset *view, struct cell **map)
{
    for (size_t i = 0; i < view->ncells; i++) {
        cell_reason r = view->cells[i].reason;
        if (r == REASON_NONE || r == REASON_POLICY || r == REASON_MIN_ORGS ||
            r == REASON_PARTIAL || r == REASON_NOT_AVAILABLE)
            continue;
        if (map[i] && map[i]->reason == REASON_NONE)
            map[i]->reason = REASON_SECONDARY;
    }
}

/* Sums of costs leave rounding residue when a part is subtracted. */
static double minus(double total, double part)
{
    double d = total - part;
    return fabs(d) <= 1e-9 * (fabs(total) + fabs(part)) ? 0 : d;
}

/* The view of the organization whose submission is sub (see above), and
 * map[i] = the pooled cell of view cell i. NULL when out of memory. */
static struct cellset *others_view(const struct cellset *pooled, const struct cellset *sub,
                                   int min_orgs, struct cell ***map)
{
    struct cellset_builder *b = cellset_builder_new();
    char lab[160], err[256];
    *map = NULL;
    if (!b)
        return NULL;
    for (size_t i = 0; i < pooled->ncells; i++) {
        struct cell v = pooled->cells[i];
        v.reason = view_reason(v.reason);
        v.max_contrib = 0;
        cellset_stratum_label(pooled, &pooled->cells[i], lab, sizeof lab);
        if (cellset_builder_add(b, catalog_measure(v.measure)->name,
                                pooled->tables[v.table].name, lab, &v, err, sizeof err) != 0) {
            cellset_builder_destroy(&b);
            return NULL;
        }
    }
    struct cellset *view = cellset_builder_finish(&b);
    if (!view)
        return NULL;
    view->k = pooled->k;
    snprintf(view->org, sizeof view->org, "%s", sub->org);
    *map = calloc(view->ncells ? view->ncells : 1, sizeof **map);
    if (!*map) {
        cellset_destroy(&view);
        return NULL;
    }
    for (size_t i = 0; i < view->ncells; i++)
        (*map)[i] = match(pooled, view, &view->cells[i]);
    for (size_t j = 0; j < sub->ncells; j++) {
        const struct cell *c = &sub->cells[j];
        struct cell *vc = c->reason == REASON_NOT_AVAILABLE ? NULL : match(view, sub, c);
        if (!vc)
            continue;
        if (c->reason != REASON_NONE) {
            vc->n_withheld--;
            continue;
        }
        vc->members = minus(vc->members, c->members);
        vc->member_months = minus(vc->member_months, c->member_months);
        vc->denominator = minus(vc->denominator, c->denominator);
        vc->numerator = minus(vc->numerator, c->numerator);
        vc->sum_sq = minus(vc->sum_sq, c->sum_sq);
        vc->n_orgs -= c->members > 0;
    }
    /* A released cell tells an organization that contributed to it the sum
     * of at least min_orgs - 1 others. A min_orgs cell with that many other
     * contributors (members > 0) tells it no more, so it is protected only
     * from readers who would see fewer: every analyst, and an organization
     * when min_orgs > 2. */
    for (size_t i = 0; i < view->ncells; i++)
        if (view->cells[i].reason == REASON_MIN_ORGS && view->cells[i].n_orgs >= min_orgs - 1)
            view->cells[i].reason = REASON_POLICY;
    return view;
}

/* Withholds in the pooled set what the view of sub needs withheld.
 * Returns 0, 1 when the requirements could not all be met, -1 (memory). */
static int protect_from(struct cellset *cs, const struct cellset *sub, int min_orgs,
                        const struct suppress_params *sp)
{
    /* Nothing to protect from this organization: no view (see others_view) */
    int any = 0;
    for (size_t j = 0; j < sub->ncells && !any; j++) {
        const struct cell *c = &sub->cells[j];
        const struct cell *pc = c->reason == REASON_NOT_AVAILABLE ? NULL : match(cs, sub, c);
        any = pc && pc->reason == REASON_MIN_ORGS &&
              pc->n_orgs - (c->reason == REASON_NONE && c->members > 0) < min_orgs - 1;
    }
    if (!any)
        return 0;
    struct cell **map;
    struct cellset *view = others_view(cs, sub, min_orgs, &map);
    if (!view)
        return -1;
    int rc = suppress_apply(view, sp, NULL);
    if (rc == SUPPRESS_OK || rc == SUPPRESS_ELP)
        withhold_chosen(view, map);
    free(map);
    cellset_destroy(&view);
    return rc == SUPPRESS_OK ? 0 : rc == SUPPRESS_ELP ? 1 : -1;
}

/* ---- one organization's numbers, as another reader can bound them --------- */

/*
 * The views above hold sums over organizations. A reader who knows which
 * organization released or withheld each pooled cell learns more: a
 * released pooled cell that only organization q (besides the reader
 * itself, and organizations that released zero there) contributed to IS
 * q's number, and any other released cell q contributed to bounds q's
 * number from above. So for each organization q behind a min_orgs cell and
 * each reader r (an analyst, or another organization), a view of q's own
 * cells is checked with suppress.c in SUPPRESS_POOLED_ONE_ORG mode.
 */

/* at[o][i]: organization o's submitted cell behind pooled cell i, or NULL. */
static struct cell ***org_cells(const struct cellset *cs, struct cellset **subs, int n)
{
    struct cell ***at = calloc((size_t)n, sizeof *at);
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


static int released_nonzero(const struct cell *c)
{
    return c && c->reason == REASON_NONE && c->members > 0;
}

/* The view of organization q's cells for reader r (-1: an analyst). */
static struct cellset *one_org_view(const struct cellset *cs, struct cell ***at, int q, int r,
                                    int min_orgs, struct cell ***map)
{
    struct cellset_builder *b = cellset_builder_new();
    char lab[160], err[256];
    *map = NULL;
    if (!b)
        return NULL;
    for (size_t i = 0; i < cs->ncells; i++) {
        const struct cell *pc = &cs->cells[i], *cq = at[q][i];
        const struct cell *cr = r >= 0 && at[r][i] && at[r][i]->reason == REASON_NONE
                                    ? at[r][i] : NULL;
        struct cell v;
        memset(&v, 0, sizeof v);
        v.measure = pc->measure;
        if (!cq || cq->reason != REASON_NONE) {
            v.reason = REASON_POLICY; /* q's number unknown to the reader */
            v.n_orgs = v.n_withheld = 1;
        } else if (pc->reason != REASON_NONE) {
            v = *cq;
            /* see others_view: an organization that sees min_orgs - 1
             * other contributors here learns no more than elsewhere */
            int keep = r < 0 || pc->n_orgs - released_nonzero(at[r][i]) < min_orgs - 1;
            v.reason = pc->reason == REASON_MIN_ORGS && cq->members > 0 && keep
                           ? REASON_MIN_ORGS
                           : REASON_POLICY;
            v.n_orgs = cq->members > 0;
            v.n_withheld = 0;
        } else if (pc->n_orgs - released_nonzero(cq) - released_nonzero(cr) <= 0) {
            v = *cq; /* nobody else in the sum: q's number */
            v.n_orgs = cq->members > 0;
            v.n_withheld = 0;
        } else {
            v = *pc; /* a sum with others: an upper bound */
            if (cr) {
                v.members = minus(v.members, cr->members);
                v.member_months = minus(v.member_months, cr->member_months);
                v.denominator = minus(v.denominator, cr->denominator);
                v.numerator = minus(v.numerator, cr->numerator);
                v.sum_sq = minus(v.sum_sq, cr->sum_sq);
            }
            v.n_orgs = 2;
            v.n_withheld = 0;
        }
        v.max_contrib = 0;
        cellset_stratum_label(cs, pc, lab, sizeof lab);
        if (cellset_builder_add(b, catalog_measure(v.measure)->name, cs->tables[pc->table].name,
                                lab, &v, err, sizeof err) != 0) {
            cellset_builder_destroy(&b);
            return NULL;
        }
    }
    struct cellset *view = cellset_builder_finish(&b);
    if (!view)
        return NULL;
    view->k = cs->k;
    *map = calloc(view->ncells ? view->ncells : 1, sizeof **map);
    if (!*map) {
        cellset_destroy(&view);
        return NULL;
    }
    for (size_t i = 0; i < view->ncells; i++)
        (*map)[i] = match(cs, view, &view->cells[i]);
    return view;
}

/* Checks every (organization behind a min_orgs cell, reader) view.
 * Returns the number of views whose requirements could not all be met, or
 * -1 (no memory). */
static int protect_one_orgs(struct cellset *cs, struct cellset **subs, int n, int min_orgs,
                            const struct suppress_params *sp0)
{
    struct cell ***at = org_cells(cs, subs, n);
    if (!at)
        return -1;
    struct suppress_params sp = *sp0;
    sp.pooled = SUPPRESS_POOLED_ONE_ORG;
    int unmet = 0;
    for (int q = 0; q < n && unmet >= 0; q++) {
        int behind = 0;
        for (size_t i = 0; i < cs->ncells && !behind; i++)
            behind = cs->cells[i].reason == REASON_MIN_ORGS && released_nonzero(at[q][i]);
        for (int r = -1; r < n && behind && unmet >= 0; r++) {
            if (r == q)
                continue;
            /* an organization r sees enough others everywhere: no view */
            int any = r < 0;
            for (size_t i = 0; i < cs->ncells && !any; i++)
                any = cs->cells[i].reason == REASON_MIN_ORGS && released_nonzero(at[q][i]) &&
                      cs->cells[i].n_orgs - released_nonzero(at[r][i]) < min_orgs - 1;
            if (!any)
                continue;
            struct cell **map;
            struct cellset *view = one_org_view(cs, at, q, r, min_orgs, &map);
            if (!view) {
                unmet = -1;
                break;
            }
            int rc = suppress_apply(view, &sp, NULL);
            if (rc == SUPPRESS_OK || rc == SUPPRESS_ELP) {
                withhold_chosen(view, map);
                unmet += rc == SUPPRESS_ELP;
            } else {
                unmet = -1;
            }
            free(map);
            cellset_destroy(&view);
        }
    }
    for (int o = 0; o < n; o++)
        free(at[o]);
    free(at);
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
    for (int o = 0; o < n && any_min_orgs; o++) {
        int e = protect_from(cs, subs[o], min_orgs, &sp);
        if (e < 0)
            return -1;
        unmet += e;
    }
    if (any_min_orgs) {
        int e = protect_one_orgs(cs, subs, n, min_orgs, &sp);
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
