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
#include "release_ledger.h"
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
    int sidx[CELLS_MAX_DIM], pidx[CELLS_MAX_DIM];
    cell_table_coords(st, c->stratum, sidx);
    for (int d = 0; d < st->ndim; d++)
        if ((pidx[d] = label_index(pt, d, st->labels[d][sidx[d]])) < 0)
            return NULL;
    return cellset_get(pooled, c->measure, t, cell_table_stratum(pt, pidx));
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
 * A min_orgs cell is protected for each organization o that contributed to
 * it (released members > 0 there) on o's own numbers: o's view. The reader
 * of o's view knows every other organization's numbers, the pattern of who
 * released, withheld or released zero in each cell, and the pooled release;
 * so it knows o's number wherever o's cell went into a released pooled
 * cell, and nothing of o's cells that went into withheld pooled cells or
 * that o withheld itself, beyond o's own tables adding up (and the
 * inequalities), and that o's released zeros are zero. That is the
 * strongest reader who is not o: the view is exact for it, and a range
 * attainable in the view is attainable for every weaker reader (an analyst,
 * one organization, any coalition without o), because changing only o's
 * hidden numbers changes no released pooled number. A min_orgs cell's
 * requirement in o's view is the p% rule on o's part x_o; for a reader the
 * protected number is the sum of the parts it does not hold, and the ranges
 * of the views add (the organizations' hidden numbers are independent), so
 * every reader's requirement is met when each view's is (docs/design.md,
 * "Pooled release"). One view per contributing organization: n views for
 * n organizations, whatever n. Complements chosen in a view are withheld
 * in the pooled release; withholding more only widens what every earlier
 * view allows, so one pass leaves every view's requirements met.
 */

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

static void set_numbers(struct cell *v, const struct cell *from)
{
    v->members = from->members;
    v->member_months = from->member_months;
    v->denominator = from->denominator;
    v->numerator = from->numerator;
    v->sum_sq = from->sum_sq;
}

static int all_zero(const struct cell *c)
{
    return !(c->members > 0) && !(c->member_months > 0) && !(c->denominator > 0) &&
           !(c->numerator > 0) && !(c->sum_sq > 0);
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

/* Fills view (a copy of cs's layout) with organization o's view: o's
 * numbers; known where o's cell went into a released pooled cell, a known
 * zero where o released zero into a withheld one, a min_orgs requirement
 * where o contributed to a min_orgs cell, hidden elsewhere. Returns the
 * number of requirement cells. */
static size_t fill_view(struct cellset *view, const struct cellset *cs, struct cell **at)
{
    size_t reqs = 0;
    for (size_t i = 0; i < cs->ncells; i++) {
        const struct cell *pc = &cs->cells[i], *c = at[i];
        struct cell *v = &view->cells[i];
        v->max_contrib = 0;
        v->n_orgs = 1;
        v->n_withheld = 0;
        if (!c) {
            /* o has no such cell: nothing about its number is known */
            v->members = v->member_months = v->denominator = v->numerator = v->sum_sq = 0;
            v->reason = REASON_NOT_AVAILABLE;
            continue;
        }
        set_numbers(v, c);
        if (c->reason != REASON_NONE) {
            v->reason = REASON_POLICY; /* o withheld it: hidden */
            v->n_withheld = 1;
        } else if (pc->reason == REASON_NONE) {
            v->reason = REASON_NONE; /* in a released sum: known */
            /* a zero stays known when the pooled cell is withheld: never a
             * complement (suppress.h, known zeros) */
            v->n_orgs = !all_zero(c);
        } else if (pc->reason == REASON_MIN_ORGS && c->members > 0) {
            v->reason = REASON_MIN_ORGS;
            reqs++;
        } else if (all_zero(c)) {
            v->reason = REASON_POLICY; /* a released zero: known */
            v->n_orgs = 0;
        } else {
            v->reason = REASON_POLICY; /* in a withheld sum: hidden */
            v->n_withheld = 1;
        }
    }
    return reqs;
}

/* Every contributing organization's view. Returns the number of views
 * whose requirements could not all be met, or -1 (no memory or a bad cell
 * set). */
static int protect_views(struct cellset *cs, struct cellset **subs, int n,
                         const struct suppress_params *sp0)
{
    struct cell ***at = org_cells(cs, subs, n);
    struct cellset *view = at ? cellset_copy(cs) : NULL;
    int rc = 0, views = 0;
    if (!view) {
        org_cells_free(at, n);
        return -1;
    }
    for (int o = 0; o < n && rc >= 0; o++) {
        size_t reqs = fill_view(view, cs, at[o]);
        if (reqs == 0)
            continue; /* o contributed to no min_orgs cell */
        struct suppress_params sp = *sp0;
        sp.pooled = SUPPRESS_POOLED;
        /* o's numbers passed o's own threshold */
        if (subs[o]->k > 0)
            sp.k = subs[o]->k;
        struct suppress_report srep;
        int e = suppress_apply(view, &sp, &srep);
        views++;
        size_t before = 0, after = 0;
        for (size_t i = 0; i < cs->ncells; i++)
            before += cs->cells[i].reason != REASON_NONE;
        if (e == SUPPRESS_OK || e == SUPPRESS_ELP)
            withhold_chosen(view, cs);
        for (size_t i = 0; i < cs->ncells; i++)
            after += cs->cells[i].reason != REASON_NONE;
        log_debug("release of round %s: view of organization %d: %zu min_orgs cell(s), "
                  "%llu requirement(s), %zu complement(s), %d LP solve(s)", cs->round, o, reqs,
                  (unsigned long long)srep.requirements, after - before, srep.lp_solves);
        if (e == SUPPRESS_ELP)
            rc++;
        else if (e != SUPPRESS_OK)
            rc = -1;
    }
    log_debug("release of round %s: %d organization view(s) checked", cs->round, views);
    cellset_destroy(&view);
    org_cells_free(at, n);
    return rc;
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
        if (c->n_withheld > 0 && c->n_orgs == 0) {
            /* Every organization with members here withheld its part; the
             * others released zeros. A released 0 would read as "nobody",
             * which is false: withhold it, as partial. */
            c->reason = REASON_PARTIAL;
            continue;
        }
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
    /* The pooled numbers (primary rules again), without the min_orgs
     * requirements: the views below imply them for every reader. */
    unsigned char *mo = calloc(cs->ncells ? cs->ncells : 1, 1);
    if (!mo)
        return -1;
    for (size_t i = 0; i < cs->ncells; i++)
        if (cs->cells[i].reason == REASON_MIN_ORGS) {
            cs->cells[i].reason = REASON_POLICY;
            mo[i] = 1;
        }
    int unmet = 0, rc = suppress_apply(cs, &sp, NULL);
    for (size_t i = 0; i < cs->ncells; i++)
        if (mo[i])
            cs->cells[i].reason = REASON_MIN_ORGS;
    free(mo);
    if (rc == SUPPRESS_ENOMEM || rc == SUPPRESS_EINVAL)
        return -1;
    unmet += rc == SUPPRESS_ELP;
    if (any_min_orgs) {
        int e = protect_views(cs, subs, n, &sp);
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

static void recount(const struct cellset *cs, struct release_report *rep)
{
    if (!rep)
        return;
    rep->released = rep->partial = rep->secondary = 0;
    for (size_t i = 0; i < cs->ncells; i++) {
        const struct cell *c = &cs->cells[i];
        rep->released += c->reason == REASON_NONE;
        rep->partial += c->reason == REASON_NONE && c->n_withheld > 0;
        rep->secondary += c->reason == REASON_SECONDARY;
    }
}

static void withhold(struct cell *c)
{
    c->reason = REASON_SECONDARY;
    c->members = c->member_months = c->denominator = c->numerator = c->sum_sq = 0;
}

void release_withhold_all(struct cellset *pooled, struct release_report *rep)
{
    for (size_t i = 0; i < pooled->ncells; i++)
        if (pooled->cells[i].reason == REASON_NONE)
            withhold(&pooled->cells[i]);
    recount(pooled, rep);
}

int release_ledger(struct cellset *pooled, struct cellset **subs, int n, const char *ledger_dir,
                   size_t *added, int *n_earlier, struct release_report *rep, char *why,
                   size_t whylen)
{
    *added = 0;
    *n_earlier = 0;
    why[0] = '\0';
    struct cellset *truth = pool_submissions(subs, n, pooled->round, pooled->period);
    if (!truth) {
        snprintf(why, whylen, "out of memory");
        return LEDGER_ENOMEM;
    }
    int rc = LEDGER_EINVAL;
    if (truth->ncells != pooled->ncells) {
        snprintf(why, whylen, "the pool of the submissions does not match the pooled release");
        goto out;
    }
    for (size_t i = 0; i < truth->ncells; i++) {
        struct cell *t = &truth->cells[i];
        const struct cell *p = &pooled->cells[i];
        if (t->measure != p->measure || t->table != p->table || t->stratum != p->stratum) {
            snprintf(why, whylen, "the pool of the submissions does not match the pooled "
                     "release");
            goto out;
        }
        t->reason = p->reason;
        t->max_contrib = 0; /* never known here: see docs/design.md */
    }
    struct suppress_params sp;
    suppress_params_init(&sp);
    sp.pooled = SUPPRESS_POOLED;
    if (pooled->k > 0)
        sp.k = pooled->k;
    truth->k = pooled->k;
    rc = release_ledger_check(ledger_dir, truth, &sp, NULL, n_earlier, why, whylen);
    if (rc != LEDGER_OK)
        goto out;
    /* what the ledger withholds comes on top of what the views withheld */
    for (size_t i = 0; i < truth->ncells; i++) {
        struct cell *p = &pooled->cells[i];
        if (p->reason == REASON_NONE && truth->cells[i].reason != REASON_NONE) {
            withhold(p);
            (*added)++;
        }
        truth->cells[i].reason = p->reason;
    }
    recount(pooled, rep);
    if (release_ledger_record_pooled(ledger_dir, truth, why, whylen) != 0) {
        rc = RELEASE_LEDGER_ERECORD;
        goto out;
    }
    rc = 0;
out:
    cellset_destroy(&truth);
    return rc;
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
