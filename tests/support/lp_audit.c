/*
 * lp_audit.c - independent LP audit of released cells (see lp_audit.h).
 *
 * Formulation: one nonnegative variable per finest atom (the product of the
 * test's base attribute domains), one equality per released number of the
 * channel. Written separately from suppress.c, which works on table cells
 * and helper margins instead.
 */
#include "lp_audit.h"

#include <glpk.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct audit {
    const struct cellset *cs;
    const struct lpa_space *sp;
    int natoms;
    int *map; /* table * natoms + atom -> stratum */
};

static int audit_init(struct audit *a, const struct cellset *cs, const struct lpa_space *sp)
{
    a->cs = cs;
    a->sp = sp;
    a->natoms = 1;
    for (int i = 0; i < sp->nattr; i++)
        a->natoms *= sp->card[i];
    a->map = malloc((size_t)a->natoms * (size_t)(cs->ntables ? cs->ntables : 1) * sizeof *a->map);
    if (!a->map)
        return -1;
    int atom[LPA_MAX_ATTR];
    for (int j = 0; j < a->natoms; j++) {
        int rest = j;
        for (int i = sp->nattr - 1; i >= 0; i--) {
            atom[i] = rest % sp->card[i];
            rest /= sp->card[i];
        }
        for (int t = 0; t < cs->ntables; t++)
            a->map[t * a->natoms + j] = sp->stratum_of(sp->ctx, cs, t, atom);
    }
    return 0;
}

/* The value a released cell gives for channel ch, if any of its fields
 * carries it. */
static int cell_channel_value(const struct cell *c, int ch, double *v)
{
    const struct measure_def *d = catalog_measure(c->measure);
    if (d->ch_members == ch) { *v = c->members; return 1; }
    if (d->ch_months == ch) { *v = c->member_months; return 1; }
    if (d->ch_denominator == ch) { *v = c->denominator; return 1; }
    if (d->ch_numerator == ch) { *v = c->numerator; return 1; }
    if (d->ch_sum_sq == ch) { *v = c->sum_sq; return 1; }
    return 0;
}

/* The LP of channel ch: atoms >= 0, one row per released (table, stratum). */
static glp_prob *channel_lp(const struct audit *a, int ch)
{
    const struct cellset *cs = a->cs;
    glp_prob *lp = glp_create_prob();
    glp_add_cols(lp, a->natoms);
    for (int j = 1; j <= a->natoms; j++)
        glp_set_col_bnds(lp, j, GLP_LO, 0, 0);
    int total = 0;
    for (int t = 0; t < cs->ntables; t++)
        total += cs->tables[t].nstrata;
    char *seen = calloc((size_t)total + 1, 1);
    int *ind = malloc(((size_t)a->natoms + 1) * sizeof *ind);
    double *val = malloc(((size_t)a->natoms + 1) * sizeof *val);
    int *off = malloc(((size_t)cs->ntables + 1) * sizeof *off);
    if (!seen || !ind || !val || !off) {
        glp_delete_prob(lp);
        lp = NULL;
        goto out;
    }
    off[0] = 0;
    for (int t = 0; t < cs->ntables; t++)
        off[t + 1] = off[t] + cs->tables[t].nstrata;
    for (size_t i = 0; i < cs->ncells; i++) {
        const struct cell *c = &cs->cells[i];
        double v;
        if (c->reason != REASON_NONE || !cell_channel_value(c, ch, &v))
            continue;
        if (seen[off[c->table] + c->stratum])
            continue;
        seen[off[c->table] + c->stratum] = 1;
        int n = 0;
        for (int j = 0; j < a->natoms; j++)
            if (a->map[c->table * a->natoms + j] == c->stratum) {
                n++;
                ind[n] = j + 1;
                val[n] = 1;
            }
        int r = glp_add_rows(lp, 1);
        glp_set_mat_row(lp, r, n, ind, val);
        glp_set_row_bnds(lp, r, GLP_FX, v, v);
    }
out:
    free(seen);
    free(ind);
    free(val);
    free(off);
    return lp;
}

static int solve_range(const struct audit *a, glp_prob *lp, int table, int stratum,
                       double *lo, double *hi, int *solves)
{
    for (int j = 0; j < a->natoms; j++)
        glp_set_obj_coef(lp, j + 1, a->map[table * a->natoms + j] == stratum ? 1.0 : 0.0);
    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    parm.presolve = GLP_OFF;
    for (int dir = 0; dir < 2; dir++) {
        glp_set_obj_dir(lp, dir ? GLP_MAX : GLP_MIN);
        glp_std_basis(lp);
        int ret = glp_simplex(lp, &parm);
        (*solves)++;
        if (ret != 0)
            return -1;
        int st = glp_get_status(lp);
        double v;
        if (st == GLP_OPT)
            v = glp_get_obj_val(lp);
        else if (st == GLP_UNBND)
            v = dir ? HUGE_VAL : -HUGE_VAL;
        else
            return -1;
        if (dir)
            *hi = v;
        else
            *lo = v;
    }
    return 0;
}

int lpa_range(const struct cellset *cs, const struct lpa_space *sp, int channel, int table,
              int stratum, double *lo, double *hi)
{
    struct audit a;
    int solves = 0, rc = -1;
    glp_term_out(GLP_OFF);
    if (audit_init(&a, cs, sp))
        return -1;
    glp_prob *lp = channel_lp(&a, channel);
    if (lp) {
        rc = solve_range(&a, lp, table, stratum, lo, hi, &solves);
        glp_delete_prob(lp);
    }
    free(a.map);
    return rc;
}

/* privacy.md's protected values, restated for the audit. */
struct prot {
    int ch, table, stratum;
    char what;          /* 'c' count, 'p' complement, 'd' dominance */
    double x, den, mc;
};

static int small_count(double v, int k)
{
    return v >= 1 && v <= k - 1;
}

/* Appends the protected values of cell c to out (room for 5). */
static int protected_values(const struct cell *c, int k, double dom, struct prot *out)
{
    const struct measure_def *d = catalog_measure(c->measure);
    int n = 0;
    if (c->members == 0)
        return 0;
    struct prot base = {0, c->table, c->stratum, 'c', 0, 0, 0};
    if (small_count(c->members, k)) {
        out[n] = base;
        out[n].ch = d->ch_members;
        out[n++].x = c->members;
    }
    int num_count = d->numerator_is_count && d->kind != KIND_PMPM;
    int den_count = d->denominator_is_count;
    if (num_count && small_count(c->numerator, k)) {
        out[n] = base;
        out[n].ch = d->ch_numerator;
        out[n++].x = c->numerator;
    }
    if (den_count && small_count(c->denominator, k)) {
        out[n] = base;
        out[n].ch = d->ch_denominator;
        out[n++].x = c->denominator;
    }
    /* A denominator below k is protected as a count; the complement check
     * (which holds the denominator known) applies from k on. */
    if (d->kind == KIND_PROPORTION && c->denominator >= k &&
        small_count(c->denominator - c->numerator, k)) {
        out[n] = base;
        out[n].ch = d->ch_numerator;
        out[n].what = 'p';
        out[n].x = c->numerator;
        out[n++].den = c->denominator;
    }
    if (d->kind == KIND_PMPM && c->max_contrib > dom * c->numerator && c->numerator > 0) {
        out[n] = base;
        out[n].ch = d->ch_numerator;
        out[n].what = 'd';
        out[n].x = c->numerator;
        out[n++].mc = c->max_contrib;
    }
    return n;
}

static void violation(struct lpa_result *res, const struct cellset *cs, const struct cell *c,
                      const char *what, double lo, double hi)
{
    char lbl[128];
    if (res->violations++ == 0) {
        cellset_stratum_label(cs, c, lbl, sizeof lbl);
        int w = snprintf(res->first, sizeof res->first, "%s %s %s: %s (range %.3f .. %.3f)",
                         catalog_measure(c->measure)->name, cs->tables[c->table].name, lbl,
                         what, lo, hi);
        if (w < 0)
            res->first[0] = '\0';
    }
}

int lpa_audit(const struct cellset *cs, const struct lpa_space *sp, int k, double dominance,
              double protection, struct lpa_result *res)
{
    struct audit a;
    memset(res, 0, sizeof *res);
    glp_term_out(GLP_OFF);
    if (audit_init(&a, cs, sp))
        return -1;
    glp_prob *lps[CH__COUNT] = {0};
    int rc = 0;
    for (size_t i = 0; i < cs->ncells; i++) {
        const struct cell *c = &cs->cells[i];
        struct prot pv[5];
        int n = protected_values(c, k, dominance, pv);
        int primary = c->reason >= REASON_COUNT && c->reason <= REASON_DOMINANCE;
        int kept = c->reason == REASON_POLICY || c->reason == REASON_NOT_AVAILABLE;
        if (n > 0 && c->reason == REASON_NONE)
            violation(res, cs, c, "released although a primary rule applies", 0, 0);
        if (n == 0 && primary)
            violation(res, cs, c, "primary reason without a rule", 0, 0);
        if (kept)
            continue;
        for (int q = 0; q < n; q++) {
            struct prot *p = &pv[q];
            if (!lps[p->ch] && !(lps[p->ch] = channel_lp(&a, p->ch))) {
                rc = -1;
                goto out;
            }
            double lo = 0, hi = 0;
            res->requirements++;
            if (solve_range(&a, lps[p->ch], p->table, p->stratum, &lo, &hi, &res->lp_solves)) {
                violation(res, cs, c, "released numbers are inconsistent", 0, 0);
                continue;
            }
            int ok;
            double tol = 1e-6 * (fabs(p->x) > 1 ? fabs(p->x) : 1);
            if (p->what == 'c')
                ok = lo < 1 - 1e-6 && hi >= k - 1e-6;
            else if (p->what == 'p')
                ok = p->den - hi < 1 - 1e-6 && p->den - lo >= k - 1e-6;
            else
                ok = lo <= p->x - protection * p->mc + tol &&
                     hi >= p->x + protection * p->mc - tol;
            if (!ok)
                violation(res, cs, c,
                          p->what == 'c' ? "count pinned" : p->what == 'p' ? "complement pinned"
                                                                          : "dominance pinned",
                          lo, hi);
        }
    }
out:
    for (int ch = 0; ch < CH__COUNT; ch++)
        if (lps[ch])
            glp_delete_prob(lps[ch]);
    free(a.map);
    return rc;
}
