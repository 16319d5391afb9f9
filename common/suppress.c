/*
 * suppress.c - primary and complementary suppression (privacy.md).
 *
 * Primary: each cell is judged on its own numbers by its measure's kind.
 * Every primary cell yields protection requirements on the channels
 * (catalog.h) whose values are disclosive: a small count channel, the
 * numerator of a proportion whose complement is small, the cost sum of a
 * dominated cost cell.
 *
 * Complementary: the unit is the channel, because several measures release
 * the same statistic (population.members == ed_rate.members ...). For each
 * channel with a requirement we build a linear system whose variables are
 * the channel's value in every (table, stratum) where a measure carrying the
 * channel has a cell, plus hidden helper variables, and whose equations are
 * what any reader knows:
 *   - every one-way table sums to the total;
 *   - a two-way table's row and column sums are the one-way margins (hidden
 *     helper margins when the one-way table is not released);
 *   - derived stratifiers are tied through hidden atoms: age_band and
 *     age_std through the common refinement of their bands; race,
 *     ethnicity and race_ethnicity through race x ethnicity atoms (and the
 *     race*ethnicity table when present); language and non_english through
 *     the language strata ("no" = eng, "unknown" = und, "yes" = the rest,
 *     "other" split when eng or und are not listed on their own).
 *   - heba_band and adi_quintile are tied only to the total: their finer
 *     links run through ADI deciles and payer, which are never released.
 * A variable is released (a constant) when any carrier measure releases
 * its cell, and free (>= 0) otherwise. Two-way tables are linked to their
 * one-way margins only: a cycle of two-way tables can constrain the joint
 * distribution more than these margins say (not modelled).
 *
 * Requirements, with [L, U] the attainable range from the LP:
 *   count       (value x in [1, k-1]):   L < 1 and U >= k;
 *   complement  (numerator x, denominator D >= k, D - x in [1, k-1]), with
 *               D held at its true value (the reader may know it from
 *               another measure): D - U < 1 and D - L >= k; a denominator
 *               below k is protected by its own count requirement instead;
 *   dominance   (cost sum x, largest contribution c): L <= x - c and
 *               U >= x + c, so the sum hides the largest contribution.
 * While a requirement fails, a complement is chosen greedily among the
 * released variables in the equations of the protected variable's
 * component (the hidden variables it is linked to), and withheld in every
 * measure carrying that channel (reason secondary). Withholding only ever
 * widens ranges, so requirements met stay met; all are verified again at
 * the end.
 */
#include "suppress.h"

#include <glpk.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define TOL 1e-6

/* ---- small growable arrays --------------------------------------------- */

struct ivec {
    int *v;
    int n, cap;
};

static int ivec_push(struct ivec *a, int x)
{
    if (a->n == a->cap) {
        int ncap = a->cap ? a->cap * 2 : 64;
        int *nv = realloc(a->v, (size_t)ncap * sizeof *nv);
        if (!nv)
            return -1;
        a->v = nv;
        a->cap = ncap;
    }
    a->v[a->n++] = x;
    return 0;
}

struct dvec {
    double *v;
    int n, cap;
};

static int dvec_push(struct dvec *a, double x)
{
    if (a->n == a->cap) {
        int ncap = a->cap ? a->cap * 2 : 64;
        double *nv = realloc(a->v, (size_t)ncap * sizeof *nv);
        if (!nv)
            return -1;
        a->v = nv;
        a->cap = ncap;
    }
    a->v[a->n++] = x;
    return 0;
}

/* ---- fields and channels ------------------------------------------------ */

enum { F_MEMBERS, F_DEN, F_NUM, F_MONTHS, F_SQ, F__COUNT };

static int field_channel(const struct measure_def *d, int f)
{
    switch (f) {
    case F_MEMBERS: return d->ch_members;
    case F_DEN: return d->ch_denominator;
    case F_NUM: return d->ch_numerator;
    case F_MONTHS: return d->ch_months;
    default: return d->ch_sum_sq;
    }
}

static double field_value(const struct cell *c, int f)
{
    switch (f) {
    case F_MEMBERS: return c->members;
    case F_DEN: return c->denominator;
    case F_NUM: return c->numerator;
    case F_MONTHS: return c->member_months;
    default: return c->sum_sq;
    }
}

/* Reasons that suppression keeps as they are (set by policy or pooling). */
static int reason_is_kept(cell_reason r)
{
    return r == REASON_POLICY || r == REASON_NOT_AVAILABLE ||
           r == REASON_MIN_ORGS || r == REASON_PARTIAL;
}

static int is_small(double v, int k)
{
    return v > 0 && v < k;
}

void suppress_params_init(struct suppress_params *p)
{
    p->k = SUPPRESS_DEFAULT_K;
    p->dominance = SUPPRESS_DEFAULT_DOMINANCE;
}

const char *suppress_strerror(int err)
{
    switch (err) {
    case SUPPRESS_OK: return "success";
    case SUPPRESS_ENOMEM: return "out of memory";
    case SUPPRESS_EINVAL: return "invalid suppression parameters or cell set";
    case SUPPRESS_ELP: return "complementary suppression could not protect every cell";
    }
    return "unknown suppression error";
}

static int dominated(const struct cell *c, double dominance)
{
    return c->numerator > 0 && c->max_contrib > dominance * c->numerator;
}

cell_reason suppress_primary_reason(const struct cell *c, const struct suppress_params *p)
{
    const struct measure_def *d = catalog_measure(c->measure);
    if (!d || !(c->members > 0))
        return REASON_NONE; /* zero cells are released as zero */
    int k = p->k;
    switch (d->kind) {
    case KIND_COUNT:
        return is_small(c->members, k) ? REASON_COUNT : REASON_NONE;
    case KIND_PROPORTION:
        if (is_small(c->members, k) ||
            (d->numerator_is_count && is_small(c->numerator, k)) ||
            (d->denominator_is_count && is_small(c->denominator, k)))
            return REASON_COUNT;
        if (d->numerator_is_count && d->denominator_is_count &&
            is_small(c->denominator - c->numerator, k))
            return REASON_COMPLEMENT;
        return REASON_NONE;
    case KIND_RATE:
    case KIND_MEAN:
        if (is_small(c->members, k))
            return REASON_DENOMINATOR;
        if ((d->numerator_is_count && is_small(c->numerator, k)) ||
            (d->denominator_is_count && is_small(c->denominator, k)))
            return REASON_COUNT;
        return REASON_NONE;
    case KIND_PMPM:
        if (is_small(c->members, k))
            return REASON_DENOMINATOR;
        if (dominated(c, p->dominance))
            return REASON_DOMINANCE;
        return REASON_NONE;
    }
    return REASON_NONE;
}

/* ---- requirements -------------------------------------------------------- */

enum { REQ_COUNT, REQ_COMPLEMENT, REQ_DOMINANCE };

struct req {
    int channel, table, stratum, type;
    double x;   /* the protected value                         */
    double d;   /* complement: the denominator                   */
    double mc;  /* dominance: the largest single contribution    */
};

static int req_cmp(const void *a, const void *b)
{
    const struct req *x = a, *y = b;
    if (x->channel != y->channel) return x->channel < y->channel ? -1 : 1;
    if (x->table != y->table) return x->table < y->table ? -1 : 1;
    if (x->stratum != y->stratum) return x->stratum < y->stratum ? -1 : 1;
    if (x->type != y->type) return x->type < y->type ? -1 : 1;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    if (x->mc != y->mc) return x->mc > y->mc ? -1 : 1;
    return 0;
}

struct reqs {
    struct req *v;
    size_t n, cap;
};

static int reqs_push(struct reqs *r, const struct cell *c, int ch, int type,
                     double x, double d, double mc)
{
    if (ch < 0)
        return 0;
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 64;
        struct req *nv = realloc(r->v, ncap * sizeof *nv);
        if (!nv)
            return -1;
        r->v = nv;
        r->cap = ncap;
    }
    r->v[r->n++] = (struct req){ch, c->table, c->stratum, type, x, d, mc};
    return 0;
}

/* The requirements of one primary cell. */
static int cell_reqs(struct reqs *r, const struct cell *c, const struct suppress_params *p)
{
    const struct measure_def *d = catalog_measure(c->measure);
    int k = p->k;
    if (is_small(c->members, k) && reqs_push(r, c, d->ch_members, REQ_COUNT, c->members, 0, 0))
        return -1;
    if (d->numerator_is_count && is_small(c->numerator, k) &&
        reqs_push(r, c, d->ch_numerator, REQ_COUNT, c->numerator, 0, 0))
        return -1;
    if (d->denominator_is_count && is_small(c->denominator, k) &&
        reqs_push(r, c, d->ch_denominator, REQ_COUNT, c->denominator, 0, 0))
        return -1;
    /* Complement: only when the denominator is not itself a small count; a
     * small denominator has its own count requirement, and an unknown
     * denominator leaves the complement unknown too. */
    if (d->kind == KIND_PROPORTION && d->numerator_is_count && d->denominator_is_count &&
        !is_small(c->denominator, k) && is_small(c->denominator - c->numerator, k) &&
        reqs_push(r, c, d->ch_numerator, REQ_COMPLEMENT, c->numerator, c->denominator, 0))
        return -1;
    if (d->kind == KIND_PMPM && dominated(c, p->dominance) &&
        reqs_push(r, c, d->ch_numerator, REQ_DOMINANCE, c->numerator, 0, c->max_contrib))
        return -1;
    return 0;
}

/* ---- cell index ------------------------------------------------------------ */

struct cindex {
    int ntables;
    int **at; /* [measure * ntables + table] -> cell index per stratum, -1 */
};

static void cindex_free(struct cindex *ix)
{
    if (!ix->at)
        return;
    for (int i = 0; i < M__COUNT * ix->ntables; i++)
        free(ix->at[i]);
    free(ix->at);
    ix->at = NULL;
}

static int cindex_build(struct cindex *ix, const struct cellset *cs)
{
    ix->ntables = cs->ntables;
    ix->at = calloc((size_t)(M__COUNT * (cs->ntables ? cs->ntables : 1)), sizeof *ix->at);
    if (!ix->at)
        return SUPPRESS_ENOMEM;
    for (size_t i = 0; i < cs->ncells; i++) {
        const struct cell *c = &cs->cells[i];
        if (c->measure < 0 || c->measure >= M__COUNT || c->table < 0 ||
            c->table >= cs->ntables || c->stratum < 0 ||
            c->stratum >= cs->tables[c->table].nstrata) {
            log_warnx("suppression: cell %zu (measure %d, table %d, stratum %d) is outside the cell set",
                      i, c->measure, c->table, c->stratum);
            return SUPPRESS_EINVAL;
        }
        int **slot = &ix->at[c->measure * cs->ntables + c->table];
        if (!*slot) {
            int n = cs->tables[c->table].nstrata;
            *slot = malloc((size_t)n * sizeof **slot);
            if (!*slot)
                return SUPPRESS_ENOMEM;
            for (int s = 0; s < n; s++)
                (*slot)[s] = -1;
        }
        if ((*slot)[c->stratum] < 0)
            (*slot)[c->stratum] = (int)i;
    }
    return 0;
}

/* ---- a channel's linear system ------------------------------------------- */

struct var {
    int table, stratum;   /* -1 for hidden helpers (atoms, margins)      */
    double value;
    int carr, ncarr;      /* offset and count in chsys.carriers          */
};

struct chsys {
    int channel;
    struct var *v;
    int nv, capv;
    struct ivec carriers;           /* cell indices                   */
    struct ivec rptr;               /* row start offsets, n rows + 1   */
    struct ivec rvar;               /* entries: variable               */
    struct dvec rcoef;              /* entries: coefficient            */
    int *vrptr, *vrows;             /* variable -> rows (CSR)          */
    int *base;                      /* table -> first variable, or -1  */
    /* scratch, sized nv / rows */
    int *vmark, *rmark, *hits, *col;
    int stamp;
};

struct margin {
    int base, card;
    char **labels;
};

struct ctx {
    struct cellset *cs;
    const struct suppress_params *p;
    struct cindex ix;
    struct chsys *sys[CH__COUNT];
    struct suppress_report *rep;
};

static void chsys_free(struct chsys **ps)
{
    struct chsys *s = *ps;
    if (!s)
        return;
    free(s->v);
    free(s->carriers.v);
    free(s->rptr.v);
    free(s->rvar.v);
    free(s->rcoef.v);
    free(s->vrptr);
    free(s->vrows);
    free(s->base);
    free(s->vmark);
    free(s->rmark);
    free(s->hits);
    free(s->col);
    free(s);
    *ps = NULL;
}

static int nrows(const struct chsys *s)
{
    return s->rptr.n - 1;
}

static int add_var(struct chsys *s, int table, int stratum)
{
    if (s->nv == s->capv) {
        int ncap = s->capv ? s->capv * 2 : 256;
        struct var *nv = realloc(s->v, (size_t)ncap * sizeof *nv);
        if (!nv)
            return -1;
        s->v = nv;
        s->capv = ncap;
    }
    s->v[s->nv] = (struct var){table, stratum, 0, s->carriers.n, 0};
    return s->nv++;
}

static int add_aux(struct chsys *s, int n)
{
    int first = s->nv;
    for (int i = 0; i < n; i++)
        if (add_var(s, -1, -1) < 0)
            return -1;
    return first;
}

static int term(struct chsys *s, int var, double coef)
{
    if (ivec_push(&s->rvar, var) || dvec_push(&s->rcoef, coef))
        return -1;
    return 0;
}

static int row_end(struct chsys *s)
{
    return ivec_push(&s->rptr, s->rvar.n);
}

/* Row: sum of vars[first .. first+n-1] - total = 0. */
static int row_sum(struct chsys *s, int first, int n, int total)
{
    for (int i = 0; i < n; i++)
        if (term(s, first + i, 1))
            return -1;
    if (term(s, total, -1))
        return -1;
    return row_end(s);
}

static int labels_equal(char **a, char **b, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(a[i], b[i]) != 0)
            return 0;
    return 1;
}

static int label_find(const struct margin *m, const char *s)
{
    for (int i = 0; i < m->card; i++)
        if (strcasecmp(m->labels[i], s) == 0)
            return i;
    return -1;
}

/* Parses an age band label: "0", "1-4", "75+"; "UNKNOWN" sets *unknown. */
static int parse_age(const char *s, long *lo, long *hi, int *unknown)
{
    *unknown = 0;
    if (strcasecmp(s, "UNKNOWN") == 0) {
        *unknown = 1;
        return 0;
    }
    char *end;
    long a = strtol(s, &end, 10);
    if (end == s || a < 0 || a > 200)
        return -1;
    if (*end == '\0') {
        *lo = *hi = a;
        return 0;
    }
    if (*end == '+' && end[1] == '\0') {
        *lo = a;
        *hi = LONG_MAX;
        return 0;
    }
    if (*end != '-')
        return -1;
    const char *q = end + 1;
    long b = strtol(q, &end, 10);
    if (end == q || *end != '\0' || b < a || b > 200)
        return -1;
    *lo = a;
    *hi = b;
    return 0;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* age_band and age_std: atoms are the common refinement of both lists. */
static int link_age(struct chsys *s, const struct margin *band, const struct margin *std)
{
    const struct margin *m[2] = {band, std};
    int n = band->card + std->card;
    long *lo = calloc((size_t)n, sizeof *lo), *hi = calloc((size_t)n, sizeof *hi);
    long *bp = calloc((size_t)(2 * n), sizeof *bp);
    int *unk = calloc((size_t)n, sizeof *unk);
    int rc = -1, nbp = 0, j = 0;
    if (!lo || !hi || !bp || !unk)
        goto out;
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < m[l]->card; i++, j++) {
            if (parse_age(m[l]->labels[i], &lo[j], &hi[j], &unk[j]) < 0) {
                log_debug("suppression: age label \"%s\" not understood; age_band and age_std not linked",
                          m[l]->labels[i]);
                rc = 0;
                goto out;
            }
            if (unk[j])
                continue;
            bp[nbp++] = lo[j];
            if (hi[j] != LONG_MAX)
                bp[nbp++] = hi[j] + 1;
        }
    qsort(bp, (size_t)nbp, sizeof *bp, cmp_long);
    int nu = 0;
    for (int i = 0; i < nbp; i++)
        if (nu == 0 || bp[nu - 1] != bp[i])
            bp[nu++] = bp[i];
    /* Atoms: [bp[i], bp[i+1]-1] for i < nu-1, [bp[nu-1], inf), unknown. */
    int natoms = nu + 1;
    int atom0 = add_aux(s, natoms);
    if (atom0 < 0)
        goto out;
    j = 0;
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < m[l]->card; i++, j++) {
            if (unk[j]) {
                if (term(s, atom0 + nu, 1))
                    goto out;
            } else {
                for (int a = 0; a < nu; a++)
                    if (bp[a] >= lo[j] && bp[a] <= hi[j] && term(s, atom0 + a, 1))
                        goto out;
            }
            if (term(s, m[l]->base + i, -1) || row_end(s))
                goto out;
        }
    rc = 0;
out:
    free(lo);
    free(hi);
    free(bp);
    free(unk);
    return rc;
}

/* Maps each label of m to a code of table (n codes); -1 if one is unknown. */
static int map_codes(const struct margin *m, const char *const *codes, int n, int *out)
{
    for (int i = 0; i < m->card; i++) {
        out[i] = catalog_code_find(codes, n, m->labels[i], strlen(m->labels[i]));
        if (out[i] < 0) {
            log_debug("suppression: label \"%s\" is not a code; not linked", m->labels[i]);
            return -1;
        }
    }
    return 0;
}

/* race, ethnicity, race_ethnicity (and race*ethnicity) through race x
 * ethnicity atoms. */
static int link_race_eth(struct chsys *s, const struct cellset *cs, const struct margin *race,
                         const struct margin *eth, const struct margin *re)
{
    int code_r[64], code_e[64], code_q[64];
    if (race->card > 64 || eth->card > 64 || re->card > 64 ||
        (race->labels && map_codes(race, race_codes, RACE__COUNT, code_r) < 0) ||
        (eth->labels && map_codes(eth, ethnicity_codes, ETH__COUNT, code_e) < 0) ||
        map_codes(re, race_ethnicity_codes, RE__COUNT, code_q) < 0)
        return 0;
    int atom0 = add_aux(s, RACE__COUNT * ETH__COUNT);
    if (atom0 < 0)
        return -1;
    for (int i = 0; race->labels && i < race->card; i++) {
        for (int e = 0; e < ETH__COUNT; e++)
            if (term(s, atom0 + code_r[i] * ETH__COUNT + e, 1))
                return -1;
        if (term(s, race->base + i, -1) || row_end(s))
            return -1;
    }
    for (int i = 0; eth->labels && i < eth->card; i++) {
        for (int r = 0; r < RACE__COUNT; r++)
            if (term(s, atom0 + r * ETH__COUNT + code_e[i], 1))
                return -1;
        if (term(s, eth->base + i, -1) || row_end(s))
            return -1;
    }
    for (int i = 0; i < re->card; i++) {
        for (int r = 0; r < RACE__COUNT; r++)
            for (int e = 0; e < ETH__COUNT; e++)
                if (catalog_race_ethnicity(r, e) == code_q[i] &&
                    term(s, atom0 + r * ETH__COUNT + e, 1))
                    return -1;
        if (term(s, re->base + i, -1) || row_end(s))
            return -1;
    }
    /* A released race*ethnicity table gives the atoms themselves. */
    for (int t = 0; t < cs->ntables; t++) {
        const struct cell_table *tb = &cs->tables[t];
        if (tb->ndim != 2 || s->base[t] < 0)
            continue;
        int ri = tb->dim[0] == S_RACE ? 0 : tb->dim[1] == S_RACE ? 1 : -1;
        if (ri < 0 || tb->dim[1 - ri] != S_ETHNICITY)
            continue;
        int cr[64], ce[64];
        struct margin mr = {0, tb->card[ri], tb->labels[ri]};
        struct margin me = {0, tb->card[1 - ri], tb->labels[1 - ri]};
        if (mr.card > 64 || me.card > 64 || map_codes(&mr, race_codes, RACE__COUNT, cr) < 0 ||
            map_codes(&me, ethnicity_codes, ETH__COUNT, ce) < 0)
            continue;
        for (int a = 0; a < tb->card[0]; a++)
            for (int b = 0; b < tb->card[1]; b++) {
                int r = ri == 0 ? cr[a] : cr[b], e = ri == 0 ? ce[b] : ce[a];
                if (term(s, s->base[t] + a * tb->card[1] + b, 1) ||
                    term(s, atom0 + r * ETH__COUNT + e, -1) || row_end(s))
                    return -1;
            }
    }
    return 0;
}

/* language and non_english. */
static int link_language(struct chsys *s, const struct margin *lang, const struct margin *ne)
{
    int yes = label_find(ne, non_english_codes[NONENG_YES]);
    int no = label_find(ne, non_english_codes[NONENG_NO]);
    int unk = label_find(ne, non_english_codes[NONENG_UNKNOWN]);
    int eng = label_find(lang, "eng");
    int und = label_find(lang, "und");
    if (und < 0)
        und = label_find(lang, "UNKNOWN");
    int other = label_find(lang, "other");
    int rest = -1, oeng = -1, ound = -1;
    if (other >= 0) {
        if ((rest = add_aux(s, 1)) < 0 || term(s, rest, 1))
            return -1;
        if (eng < 0 && ((oeng = add_aux(s, 1)) < 0 || term(s, oeng, 1)))
            return -1;
        if (und < 0 && ((ound = add_aux(s, 1)) < 0 || term(s, ound, 1)))
            return -1;
        if (term(s, lang->base + other, -1) || row_end(s))
            return -1;
    }
    if (no >= 0) {
        int src = eng >= 0 ? lang->base + eng : oeng;
        if ((src >= 0 && term(s, src, 1)) || term(s, ne->base + no, -1) || row_end(s))
            return -1;
    }
    if (unk >= 0) {
        int src = und >= 0 ? lang->base + und : ound;
        if ((src >= 0 && term(s, src, 1)) || term(s, ne->base + unk, -1) || row_end(s))
            return -1;
    }
    if (yes >= 0) {
        for (int i = 0; i < lang->card; i++)
            if (i != eng && i != und && i != other && term(s, lang->base + i, 1))
                return -1;
        if ((rest >= 0 && term(s, rest, 1)) || term(s, ne->base + yes, -1) || row_end(s))
            return -1;
    }
    return 0;
}

/* The margin of stratifier sid with these labels: the one-way table's
 * variables, or hidden helpers tied to the total. */
static int margin_for(struct chsys *s, struct margin *marg, int sid, int card, char **labels,
                      int total, int *out)
{
    struct margin *m = &marg[sid];
    if (m->labels && m->card == card && labels_equal(m->labels, labels, card)) {
        *out = m->base;
        return 0;
    }
    int first = add_aux(s, card);
    if (first < 0 || row_sum(s, first, card, total))
        return -1;
    if (!m->labels)
        *m = (struct margin){first, card, labels};
    *out = first;
    return 0;
}

static int chsys_build(struct ctx *c, int ch, struct chsys **out)
{
    const struct cellset *cs = c->cs;
    int carrier_m[M__COUNT], carrier_f[M__COUNT], nm = 0;
    struct margin marg[S__COUNT];
    memset(marg, 0, sizeof marg);
    struct chsys *s = calloc(1, sizeof *s);
    if (!s)
        return SUPPRESS_ENOMEM;
    s->channel = ch;
    for (int m = 0; m < M__COUNT; m++) {
        const struct measure_def *d = catalog_measure(m);
        for (int f = 0; f < F__COUNT; f++)
            if (field_channel(d, f) == ch) {
                carrier_m[nm] = m;
                carrier_f[nm++] = f;
                break;
            }
    }
    s->base = malloc((size_t)(cs->ntables ? cs->ntables : 1) * sizeof *s->base);
    if (!s->base || ivec_push(&s->rptr, 0))
        goto nomem;
    for (int t = 0; t < cs->ntables; t++) {
        s->base[t] = -1;
        int present = 0;
        for (int i = 0; i < nm; i++)
            if (c->ix.at[carrier_m[i] * cs->ntables + t])
                present = 1;
        if (!present)
            continue;
        s->base[t] = s->nv;
        for (int st = 0; st < cs->tables[t].nstrata; st++) {
            int v = add_var(s, t, st);
            if (v < 0)
                goto nomem;
            int have = 0;
            for (int i = 0; i < nm; i++) {
                int *a = c->ix.at[carrier_m[i] * cs->ntables + t];
                if (!a || a[st] < 0)
                    continue;
                const struct cell *cl = &cs->cells[a[st]];
                if (ivec_push(&s->carriers, a[st]))
                    goto nomem;
                s->v[v].ncarr++;
                if (!have || (cl->reason != REASON_NOT_AVAILABLE && have == 2)) {
                    s->v[v].value = field_value(cl, carrier_f[i]);
                    have = cl->reason == REASON_NOT_AVAILABLE ? 2 : 1;
                }
            }
        }
    }
    /* The grand total: the first total table, else a hidden helper. */
    int total = -1;
    for (int t = 0; t < cs->ntables; t++) {
        if (s->base[t] < 0 || cs->tables[t].ndim != 0)
            continue;
        if (total < 0) {
            total = s->base[t];
        } else if (term(s, s->base[t], 1) || term(s, total, -1) || row_end(s)) {
            goto nomem;
        }
    }
    if (total < 0 && (total = add_aux(s, 1)) < 0)
        goto nomem;
    for (int t = 0; t < cs->ntables; t++) {
        const struct cell_table *tb = &cs->tables[t];
        if (s->base[t] < 0 || tb->ndim != 1)
            continue;
        if (row_sum(s, s->base[t], tb->card[0], total))
            goto nomem;
        if (!marg[tb->dim[0]].labels)
            marg[tb->dim[0]] = (struct margin){s->base[t], tb->card[0], tb->labels[0]};
    }
    for (int t = 0; t < cs->ntables; t++) {
        const struct cell_table *tb = &cs->tables[t];
        if (s->base[t] < 0 || tb->ndim != 2)
            continue;
        int m0, m1, c0 = tb->card[0], c1 = tb->card[1];
        if (margin_for(s, marg, tb->dim[0], c0, tb->labels[0], total, &m0) ||
            margin_for(s, marg, tb->dim[1], c1, tb->labels[1], total, &m1))
            goto nomem;
        for (int a = 0; a < c0; a++) {
            for (int b = 0; b < c1; b++)
                if (term(s, s->base[t] + a * c1 + b, 1))
                    goto nomem;
            if (term(s, m0 + a, -1) || row_end(s))
                goto nomem;
        }
        for (int b = 0; b < c1; b++) {
            for (int a = 0; a < c0; a++)
                if (term(s, s->base[t] + a * c1 + b, 1))
                    goto nomem;
            if (term(s, m1 + b, -1) || row_end(s))
                goto nomem;
        }
    }
    if (marg[S_AGE_BAND].labels && marg[S_AGE_STD].labels &&
        link_age(s, &marg[S_AGE_BAND], &marg[S_AGE_STD]))
        goto nomem;
    if (marg[S_RACE_ETHNICITY].labels && (marg[S_RACE].labels || marg[S_ETHNICITY].labels) &&
        link_race_eth(s, cs, &marg[S_RACE], &marg[S_ETHNICITY], &marg[S_RACE_ETHNICITY]))
        goto nomem;
    if (marg[S_LANGUAGE].labels && marg[S_NON_ENGLISH].labels &&
        link_language(s, &marg[S_LANGUAGE], &marg[S_NON_ENGLISH]))
        goto nomem;
    /* heba_band and adi_quintile: tied to the total only (see top). */

    /* variable -> rows */
    int nr = nrows(s);
    s->vrptr = calloc((size_t)s->nv + 1, sizeof *s->vrptr);
    s->vrows = malloc((size_t)(s->rvar.n ? s->rvar.n : 1) * sizeof *s->vrows);
    s->vmark = calloc((size_t)s->nv + 1, sizeof *s->vmark);
    s->hits = calloc((size_t)s->nv + 1, sizeof *s->hits);
    s->col = calloc((size_t)s->nv + 1, sizeof *s->col);
    s->rmark = calloc((size_t)nr + 1, sizeof *s->rmark);
    if (!s->vrptr || !s->vrows || !s->vmark || !s->hits || !s->col || !s->rmark)
        goto nomem;
    for (int e = 0; e < s->rvar.n; e++)
        s->vrptr[s->rvar.v[e] + 1]++;
    for (int v = 0; v < s->nv; v++)
        s->vrptr[v + 1] += s->vrptr[v];
    int *fill = calloc((size_t)s->nv + 1, sizeof *fill);
    if (!fill)
        goto nomem;
    for (int r = 0; r < nr; r++)
        for (int e = s->rptr.v[r]; e < s->rptr.v[r + 1]; e++) {
            int v = s->rvar.v[e];
            s->vrows[s->vrptr[v] + fill[v]++] = r;
        }
    free(fill);
    *out = s;
    return 0;
nomem:
    chsys_free(&s);
    return SUPPRESS_ENOMEM;
}

static int var_hidden(const struct ctx *c, const struct chsys *s, int v)
{
    const struct var *x = &s->v[v];
    for (int i = 0; i < x->ncarr; i++)
        if (c->cs->cells[s->carriers.v[x->carr + i]].reason == REASON_NONE)
            return 0;
    return 1;
}

/* Withholds every released carrier of v (reason secondary). */
static void var_hide(struct ctx *c, struct chsys *s, int v)
{
    const struct var *x = &s->v[v];
    for (int i = 0; i < x->ncarr; i++) {
        struct cell *cl = &c->cs->cells[s->carriers.v[x->carr + i]];
        if (cl->reason == REASON_NONE) {
            cl->reason = REASON_SECONDARY;
            if (c->rep)
                c->rep->secondary++;
        }
    }
}

/* The hidden component of v: comp[] (variables) and rows[] (every row
 * touching one of them). Uses s->vmark / s->rmark with a fresh stamp. */
static int component(const struct ctx *c, struct chsys *s, int v, struct ivec *comp,
                     struct ivec *rows)
{
    comp->n = rows->n = 0;
    s->stamp++;
    s->vmark[v] = s->stamp;
    if (ivec_push(comp, v))
        return -1;
    for (int q = 0; q < comp->n; q++) {
        int u = comp->v[q];
        for (int k = s->vrptr[u]; k < s->vrptr[u + 1]; k++) {
            int r = s->vrows[k];
            if (s->rmark[r] == s->stamp)
                continue;
            s->rmark[r] = s->stamp;
            if (ivec_push(rows, r))
                return -1;
            for (int e = s->rptr.v[r]; e < s->rptr.v[r + 1]; e++) {
                int w = s->rvar.v[e];
                if (s->vmark[w] == s->stamp || !var_hidden(c, s, w))
                    continue;
                s->vmark[w] = s->stamp;
                if (ivec_push(comp, w))
                    return -1;
            }
        }
    }
    return 0;
}

enum { RANGE_OK, RANGE_INFEASIBLE };

/* Min and max of v over the component's LP. */
static int var_range(struct ctx *c, struct chsys *s, int v, struct ivec *comp,
                     struct ivec *rows, double *lo, double *hi, int *status)
{
    if (component(c, s, v, comp, rows))
        return SUPPRESS_ENOMEM;
    *status = RANGE_OK;
    /* A row where v is the only hidden variable pins it. */
    for (int k = s->vrptr[v]; k < s->vrptr[v + 1]; k++) {
        int r = s->vrows[k], nh = 0;
        for (int e = s->rptr.v[r]; e < s->rptr.v[r + 1]; e++)
            if (s->vmark[s->rvar.v[e]] == s->stamp)
                nh++;
        if (nh == 1) {
            *lo = *hi = s->v[v].value;
            return 0;
        }
    }
    if (rows->n == 0) { /* in no equation at all (a lone total) */
        *lo = 0;
        *hi = HUGE_VAL;
        return 0;
    }
    int ne = 0;
    for (int i = 0; i < rows->n; i++)
        ne += s->rptr.v[rows->v[i] + 1] - s->rptr.v[rows->v[i]];
    int *ia = malloc(((size_t)ne + 1) * sizeof *ia);
    int *ja = malloc(((size_t)ne + 1) * sizeof *ja);
    double *ar = malloc(((size_t)ne + 1) * sizeof *ar);
    glp_prob *lp = NULL;
    int rc = SUPPRESS_ENOMEM;
    if (!ia || !ja || !ar)
        goto out;
    for (int i = 0; i < comp->n; i++)
        s->col[comp->v[i]] = i + 1;
    lp = glp_create_prob();
    glp_add_rows(lp, rows->n);
    glp_add_cols(lp, comp->n);
    for (int i = 0; i < comp->n; i++)
        glp_set_col_bnds(lp, i + 1, GLP_LO, 0.0, 0.0);
    glp_set_obj_coef(lp, s->col[v], 1.0);
    int n = 0;
    for (int i = 0; i < rows->n; i++) {
        int r = rows->v[i];
        double rhs = 0, scale = 0;
        for (int e = s->rptr.v[r]; e < s->rptr.v[r + 1]; e++) {
            int w = s->rvar.v[e];
            double a = s->rcoef.v[e];
            if (s->vmark[w] == s->stamp) {
                n++;
                ia[n] = i + 1;
                ja[n] = s->col[w];
                ar[n] = a;
            } else {
                rhs -= a * s->v[w].value;
                scale += fabs(s->v[w].value);
            }
        }
        if (fabs(rhs) <= 1e-12 * scale)
            rhs = 0; /* rounding of sums of non-integers */
        glp_set_row_bnds(lp, i + 1, GLP_FX, rhs, rhs);
    }
    glp_load_matrix(lp, n, ia, ja, ar);
    glp_scale_prob(lp, GLP_SF_AUTO);
    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    for (int dir = 0; dir < 2; dir++) {
        glp_set_obj_dir(lp, dir == 0 ? GLP_MIN : GLP_MAX);
        int ret = glp_simplex(lp, &parm);
        if (c->rep)
            c->rep->lp_solves++;
        if (ret != 0) {
            glp_std_basis(lp);
            ret = glp_simplex(lp, &parm);
            if (c->rep)
                c->rep->lp_solves++;
        }
        int st = ret == 0 ? glp_get_status(lp) : GLP_UNDEF;
        double val;
        if (st == GLP_OPT) {
            val = glp_get_obj_val(lp);
        } else if (st == GLP_UNBND) {
            val = dir == 0 ? -HUGE_VAL : HUGE_VAL;
        } else {
            /* Infeasible (released numbers inconsistent) or a solver
             * failure: treat the value as pinned, so more is withheld. */
            *status = RANGE_INFEASIBLE;
            *lo = *hi = s->v[v].value;
            break;
        }
        if (dir == 0)
            *lo = val;
        else
            *hi = val;
    }
    rc = 0;
out:
    if (lp)
        glp_delete_prob(lp);
    free(ia);
    free(ja);
    free(ar);
    return rc;
}

/* How far the range falls short of the requirement (0 when met). */
static double req_deficit(const struct req *r, int k, double lo, double hi)
{
    double up, down;
    double tol = TOL * (fabs(r->x) > 1 ? fabs(r->x) : 1);
    switch (r->type) {
    case REQ_COUNT:
        if (lo < 1 - TOL && hi >= k - TOL)
            return 0;
        up = k - hi;
        down = lo;
        break;
    case REQ_COMPLEMENT:
        if (hi > r->d - 1 + TOL && lo <= r->d - k + TOL)
            return 0;
        up = r->d - hi;
        down = lo - (r->d - k);
        break;
    default:
        if (lo <= r->x - r->mc + tol && hi >= r->x + r->mc - tol)
            return 0;
        up = r->x + r->mc - hi;
        down = lo - (r->x - r->mc);
        break;
    }
    double d = up > down ? up : down;
    return d > TOL ? d : TOL;
}

struct cand {
    int var, hits, covers, newly, zero;
    double value;
};

/* Is a better than b? */
static int cand_better(const struct cand *a, const struct cand *b)
{
    if (a->zero != b->zero) return !a->zero;
    if (a->hits != b->hits) return a->hits > b->hits;
    if (a->covers != b->covers) return a->covers;
    if (a->value != b->value) return a->covers ? a->value < b->value : a->value > b->value;
    if (a->newly != b->newly) return a->newly < b->newly;
    return a->var < b->var;
}

/* Picks the complement for an unmet requirement on v; -1 when none. */
static int choose(struct ctx *c, struct chsys *s, const struct ivec *rows, double deficit)
{
    struct cand best = {-1, 0, 0, 0, 0, 0};
    for (int i = 0; i < rows->n; i++) {
        int r = rows->v[i];
        for (int e = s->rptr.v[r]; e < s->rptr.v[r + 1]; e++)
            s->hits[s->rvar.v[e]] = 0;
    }
    /* Rows with a single hidden variable pin it: count them per candidate,
     * so that one complement can open two such rows (a table's corner). */
    for (int i = 0; i < rows->n; i++) {
        int r = rows->v[i], nh = 0;
        for (int e = s->rptr.v[r]; e < s->rptr.v[r + 1]; e++)
            if (s->vmark[s->rvar.v[e]] == s->stamp)
                nh++;
        if (nh != 1)
            continue;
        for (int e = s->rptr.v[r]; e < s->rptr.v[r + 1]; e++) {
            int w = s->rvar.v[e];
            if (s->vmark[w] != s->stamp)
                s->hits[w]++;
        }
    }
    for (int i = 0; i < rows->n; i++) {
        int r = rows->v[i];
        for (int e = s->rptr.v[r]; e < s->rptr.v[r + 1]; e++) {
            int w = s->rvar.v[e];
            if (s->vmark[w] == s->stamp || s->v[w].ncarr == 0 || var_hidden(c, s, w))
                continue;
            struct cand k = {w, s->hits[w], 0, 0, 0, s->v[w].value};
            k.zero = !(k.value > 0);
            k.covers = k.value >= deficit;
            for (int j = 0; j < s->v[w].ncarr; j++)
                if (c->cs->cells[s->carriers.v[s->v[w].carr + j]].reason == REASON_NONE)
                    k.newly++;
            if (best.var < 0 || cand_better(&k, &best))
                best = k;
        }
    }
    return best.var;
}

static int protect(struct ctx *c, const struct req *r, int *met_out, int add)
{
    struct chsys *s = c->sys[r->channel];
    int v = s->base[r->table] + r->stratum;
    struct ivec comp = {0}, rows = {0};
    int rc = 0;
    *met_out = 0;
    for (;;) {
        double lo, hi;
        int st;
        if ((rc = var_range(c, s, v, &comp, &rows, &lo, &hi, &st)))
            goto out;
        double deficit = st == RANGE_OK ? req_deficit(r, c->p->k, lo, hi) : (double)c->p->k;
        if (st == RANGE_OK && deficit == 0) {
            *met_out = 1;
            goto out;
        }
        if (!add)
            goto out;
        int w = choose(c, s, &rows, deficit);
        if (w < 0) {
            char lbl[160];
            cellset_stratum_label(c->cs, &(struct cell){.table = r->table, .stratum = r->stratum},
                                  lbl, sizeof lbl);
            log_warnx("suppression: no complement left to protect %s stratum %s (channel %d)",
                      c->cs->tables[r->table].name, lbl, r->channel);
            goto out;
        }
        var_hide(c, s, w);
        if (!var_hidden(c, s, w)) { /* cannot happen: keeps the loop finite */
            rc = SUPPRESS_ELP;
            goto out;
        }
    }
out:
    free(comp.v);
    free(rows.v);
    return rc;
}

int suppress_apply(struct cellset *cs, const struct suppress_params *p,
                   struct suppress_report *rep)
{
    struct suppress_params defaults;
    struct suppress_report local;
    struct reqs rq = {0};
    struct ctx c;
    int rc = 0;
    memset(&c, 0, sizeof c);
    if (!p) {
        suppress_params_init(&defaults);
        p = &defaults;
    }
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    if (!cs || p->k < 1 || p->k > 1000000 || !(p->dominance > 0 && p->dominance <= 1))
        return SUPPRESS_EINVAL;
    cs->k = p->k;
    cs->dominance = p->dominance;
    c.cs = cs;
    c.p = p;
    c.rep = rep;
    if ((rc = cindex_build(&c.ix, cs)))
        goto out;

    /* Primary. */
    for (size_t i = 0; i < cs->ncells; i++) {
        struct cell *cl = &cs->cells[i];
        if (reason_is_kept(cl->reason))
            continue;
        cl->reason = suppress_primary_reason(cl, p);
        if (cl->reason == REASON_NONE)
            continue;
        rep->primary++;
        if (cell_reqs(&rq, cl, p)) {
            rc = SUPPRESS_ENOMEM;
            goto out;
        }
    }
    if (rq.n == 0)
        goto count;
    qsort(rq.v, rq.n, sizeof *rq.v, req_cmp);
    size_t nu = 0;
    for (size_t i = 0; i < rq.n; i++)
        if (nu == 0 || req_cmp(&rq.v[nu - 1], &rq.v[i]) != 0)
            rq.v[nu++] = rq.v[i];
    rq.n = nu;
    rep->requirements = nu;

    glp_term_out(GLP_OFF);
    for (size_t i = 0; i < rq.n; i++) {
        int ch = rq.v[i].channel;
        if (!c.sys[ch] && (rc = chsys_build(&c, ch, &c.sys[ch])))
            goto out;
    }
    /* A protected value must be withheld by every measure that carries it. */
    for (size_t i = 0; i < rq.n; i++) {
        struct chsys *s = c.sys[rq.v[i].channel];
        var_hide(&c, s, s->base[rq.v[i].table] + rq.v[i].stratum);
    }
    for (size_t i = 0; i < rq.n; i++) {
        int met;
        if ((rc = protect(&c, &rq.v[i], &met, 1)))
            goto out;
    }
    /* Verify every requirement once more against the final release. */
    for (size_t i = 0; i < rq.n; i++) {
        int met;
        if ((rc = protect(&c, &rq.v[i], &met, 0)))
            goto out;
        if (!met)
            rep->unmet++;
    }
    if (rep->unmet) {
        log_warnx("suppression: %d protection requirement(s) could not be met", rep->unmet);
        rc = SUPPRESS_ELP;
    }
count:
    cellset_count_reasons(cs, rep->cells);
    {
        uint64_t withheld = 0;
        for (int r = 1; r < REASON__COUNT; r++)
            withheld += rep->cells[r];
        rep->cells[REASON_NONE] = cs->ncells - withheld;
    }
out:
    for (int ch = 0; ch < CH__COUNT; ch++)
        chsys_free(&c.sys[ch]);
    cindex_free(&c.ix);
    free(rq.v);
    return rc;
}
