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
 * Every reader gets linear-programming checks (suppress.c in pooled mode,
 * suppress.h). The analysts' first: the pooled release itself. Then views:
 * a reader who knows which organization released or withheld each pooled
 * cell (and, for an organization, its own numbers) can bound the sum of the
 * numbers of any set S of other organizations. For a pooled cell, with the
 * reader's own part taken out:
 *   - released, every other organization with members > 0 in it belongs to
 *     S, and none of S withheld it: the cell is S's sum;
 *   - the same, but some of S withheld it: a lower bound of S's sum;
 *   - released, none of S withheld it, others outside S in it: an upper
 *     bound of S's sum;
 *   - otherwise nothing, except a known zero when all of S released 0.
 * A min_orgs cell the reader must not learn (keep_from) keeps its
 * requirement on S's part of it. S ranges over every set of other
 * organizations when there are at most SETS_ALL of them, else over the sets
 * of organizations that released the pooled cells (and single
 * organizations), at most SETS_MAX per reader and about VIEWS_MAX in all,
 * shared among the readers (a warning says when some were left out).
 * Complements chosen in a view are withheld in the pooled release;
 * withholding more only widens what every earlier view allows, so one pass
 * leaves every view's requirements met.
 */

#define SETS_ALL 6
#define SETS_MAX 64
#define VIEWS_MAX 512

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

/* v += sign * part, number by number. Exact: every number is a
 * non-negative part of a pooled sum that fits (pool_submissions). */
static void add_numbers(struct cell *v, const struct cell *part, int sign)
{
    v->members += sign * part->members;
    v->member_months += sign * part->member_months;
    v->denominator += sign * part->denominator;
    v->numerator += sign * part->numerator;
    v->sum_sq += sign * part->sum_sq;
}

static int released_nonzero(const struct cell *c)
{
    return c && c->reason == REASON_NONE && c->members > 0;
}

/* A released cell tells an organization that contributed to it the sum of
 * at least min_orgs - 1 others. A min_orgs cell with that many other
 * contributors (members > 0) tells it no more, so a min_orgs cell is kept
 * from every analyst, and from an organization (its own cell there: mine)
 * only when some but fewer than min_orgs - 1 others contributed. */
static int keep_from(const struct cell *pc, const struct cell *mine, int min_orgs)
{
    int others = pc->n_orgs - released_nonzero(mine);
    return others > 0 && others < min_orgs - 1;
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

struct views {
    struct cellset *cs;
    struct cell ***at;
    int n, min_orgs;
    const struct suppress_params *sp;
    int sets_max;                   /* sets per reader beyond SETS_ALL    */
    int built, skipped, unmet;
};

/* Does the view of set S for reader r hold a requirement? */
static int view_needed(const struct views *w, const char *S, int r)
{
    for (size_t i = 0; i < w->cs->ncells; i++) {
        const struct cell *pc = &w->cs->cells[i];
        if (pc->reason != REASON_MIN_ORGS ||
            (r >= 0 && !keep_from(pc, w->at[r][i], w->min_orgs)))
            continue;
        for (int o = 0; o < w->n; o++)
            if (S[o] && o != r && released_nonzero(w->at[o][i]))
                return 1;
    }
    return 0;
}

/* Builds and checks the view of set S (S[o] = 1: o in it) for reader r
 * (-1: an analyst). Returns 0, or -1 (no memory). */
static int check_set(struct views *w, const char *S, int r)
{
    if (!view_needed(w, S, r))
        return 0;
    if (w->built >= VIEWS_MAX) {
        w->skipped++;
        return 0;
    }
    struct cellset *view = cellset_copy(w->cs);
    if (!view)
        return -1;
    w->built++;
    for (size_t i = 0; i < view->ncells; i++) {
        const struct cell *pc = &w->cs->cells[i];
        struct cell *v = &view->cells[i];
        int out_nz = 0, in_unknown = 0;
        struct cell sum;
        memset(&sum, 0, sizeof sum);
        for (int o = 0; o < w->n; o++) {
            const struct cell *c = w->at[o][i];
            if (o == r)
                continue;
            if (!S[o]) {
                out_nz |= released_nonzero(c);
            } else if (!c || c->reason != REASON_NONE) {
                in_unknown = 1; /* withheld, or not submitted */
            } else {
                add_numbers(&sum, c, 1);
            }
        }
        v->max_contrib = 0;
        if (pc->reason == REASON_NONE) {
            if (out_nz && in_unknown) {
                v->reason = REASON_POLICY; /* nothing about S's sum */
                v->n_orgs = v->n_withheld = 1;
                continue;
            }
            if (out_nz) {
                /* an upper bound: the pooled cell less the reader's part */
                const struct cell *mine = r >= 0 ? w->at[r][i] : NULL;
                if (mine && mine->reason == REASON_NONE)
                    add_numbers(v, mine, -1);
                v->n_orgs = 2;
                v->n_withheld = 0;
                continue;
            }
            set_numbers(v, &sum);
            v->n_orgs = sum.members > 0 || in_unknown;
            v->n_withheld = in_unknown;
            continue;
        }
        int req = pc->reason == REASON_MIN_ORGS && sum.members > 0 &&
                  (r < 0 || keep_from(pc, w->at[r][i], w->min_orgs));
        set_numbers(v, &sum);
        v->reason = req ? REASON_MIN_ORGS
                        : pc->reason == REASON_NOT_AVAILABLE ? REASON_NOT_AVAILABLE
                                                             : REASON_POLICY;
        if (req) {
            v->n_orgs = 1;
            v->n_withheld = in_unknown; /* partial: only the upper side */
        } else if (!in_unknown && !(sum.members > 0)) {
            v->n_orgs = v->n_withheld = 0; /* all of S released zero */
        } else {
            v->n_orgs = v->n_withheld = 1;
        }
    }
    int rc = suppress_apply(view, w->sp, NULL);
    if (rc == SUPPRESS_OK || rc == SUPPRESS_ELP)
        withhold_chosen(view, w->cs);
    cellset_destroy(&view);
    if (rc != SUPPRESS_OK && rc != SUPPRESS_ELP)
        return -1;
    w->unmet += rc == SUPPRESS_ELP;
    return 0;
}

/* The sets for reader r: every subset of the other organizations when they
 * are few, else the distinct sets of organizations behind released cells
 * (members > 0, the reader left out), every single organization and all
 * of them. Returns 0 or -1 (no memory). */
static int check_reader(struct views *w, int r)
{
    int n = w->n, others = n - (r >= 0);
    char *S = calloc((size_t)n + 1, 1);
    if (!S)
        return -1;
    int rc = 0;
    if (others <= SETS_ALL) {
        for (unsigned mask = 1; mask < (1u << others) && rc == 0; mask++) {
            for (int o = 0, bit = 0; o < n; o++) {
                S[o] = 0;
                if (o == r)
                    continue;
                S[o] = (mask >> bit++) & 1u;
            }
            rc = check_set(w, S, r);
        }
        free(S);
        return rc;
    }
    char *seen = calloc((size_t)SETS_MAX * (size_t)n + 1, 1);
    int nseen = 0;
    if (!seen) {
        free(S);
        return -1;
    }
    /* all, then each single organization, then the cells' sets */
    for (int k = -1; k < n + (int)w->cs->ncells && rc == 0; k++) {
        for (int o = 0; o < n; o++)
            S[o] = o != r && (k < 0 || k == o ||
                              (k >= n && released_nonzero(w->at[o][k - n])));
        int empty = 1;
        for (int o = 0; o < n; o++)
            empty &= !S[o];
        if (empty || (k >= 0 && k < n && k == r))
            continue;
        int dup = 0;
        for (int j = 0; j < nseen && !dup; j++)
            dup = memcmp(seen + (size_t)j * (size_t)n, S, (size_t)n) == 0;
        if (dup || !view_needed(w, S, r))
            continue;
        if (nseen == w->sets_max) {
            w->skipped++;
            continue;
        }
        memcpy(seen + (size_t)nseen++ * (size_t)n, S, (size_t)n);
        rc = check_set(w, S, r);
    }
    free(seen);
    free(S);
    return rc;
}

/* The views of every reader who must not learn some min_orgs cell.
 * Returns the number of views whose requirements could not all be met, or
 * -1 (no memory). */
static int protect_views(struct cellset *cs, struct cellset **subs, int n, int min_orgs,
                         const struct suppress_params *sp0)
{
    struct suppress_params sp = *sp0;
    sp.pooled = SUPPRESS_POOLED_VIEW;
    struct views w = {cs, org_cells(cs, subs, n), n, min_orgs, &sp, SETS_MAX, 0, 0, 0};
    char *reader = calloc((size_t)n + 2, 1);
    if (!w.at || !reader) {
        org_cells_free(w.at, n);
        free(reader);
        return -1;
    }
    /* who must not learn some min_orgs cell: every analyst, some organizations */
    int readers = 0;
    for (int r = -1; r < n; r++) {
        int any = r < 0;
        for (size_t i = 0; i < cs->ncells && !any; i++)
            any = cs->cells[i].reason == REASON_MIN_ORGS &&
                  keep_from(&cs->cells[i], w.at[r][i], min_orgs);
        reader[r + 1] = (char)any;
        readers += any;
    }
    /* share the views out: each reader gets its sets in the order all,
     * single organizations, the cells' sets */
    if (readers > 0 && VIEWS_MAX / readers < w.sets_max)
        w.sets_max = VIEWS_MAX / readers > 2 ? VIEWS_MAX / readers : 2;
    int rc = 0;
    for (int r = -1; r < n && rc == 0; r++)
        if (reader[r + 1])
            rc = check_reader(&w, r);
    free(reader);
    org_cells_free(w.at, n);
    if (w.skipped)
        log_warnx("release of round %s: %d reader view(s) left unchecked (at most %d sets "
                  "per reader, %d views in all); %d checked",
                  cs->round, w.skipped, w.sets_max, VIEWS_MAX, w.built);
    return rc < 0 ? -1 : w.unmet;
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
    /* the analysts' view, then each organization's */
    int unmet = 0, rc = suppress_apply(cs, &sp, NULL);
    if (rc == SUPPRESS_ENOMEM || rc == SUPPRESS_EINVAL)
        return -1;
    unmet += rc == SUPPRESS_ELP;
    if (any_min_orgs) {
        int e = protect_views(cs, subs, n, min_orgs, &sp);
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
                   size_t *added, struct release_report *rep, char *why, size_t whylen)
{
    *added = 0;
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
    rc = release_ledger_check(ledger_dir, truth, &sp, NULL, why, whylen);
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
