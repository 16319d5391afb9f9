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
 * the same statistic (population.members == ed_rate.members ...). The
 * variables are each channel's value in every (table, stratum) where a
 * measure carrying the
 * channel has a cell, plus hidden helper variables, all channels in one
 * model of what a reader knows (model_build; docs/design.md), whose
 * equations are:
 *   - every one-way table sums to the total;
 *   - a two-way table's row and column sums are the one-way margins (hidden
 *     helper margins when the one-way table is not released);
 *   - a three-way table's sums over each dimension are the cells of the
 *     two-way table of the other two (hidden helper margins, shared by
 *     every three-way table crossing the same two, when that two-way table
 *     is not released; they add up to the one-way margins in turn);
 *   - derived stratifiers are tied through hidden atoms: age_band and
 *     age_std through the common refinement of their bands; race,
 *     ethnicity and race_ethnicity through race x ethnicity atoms (and the
 *     race*ethnicity table when present, released or the hidden margin of
 *     a three-way table); language and non_english through
 *     the language strata ("no" = eng, "unknown" = und, "yes" = the rest,
 *     "other" split when eng or und are not listed on their own).
 *   - payer, heba_band and adi_quintile through ADI decile x payer atoms
 *     (catalog_heba_band, catalog_adi_quintile).
 * and whose inequalities come from the catalog's definitions (catalog.h:
 * parent, num_per_den, den_per_member, sq_per_num, any_of, and member
 * months <= 12 x members), in every stratum. A proportion's complement
 * (den - num) has a channel of its own (complement_pairs), tied to both by
 * inequalities. Components of hidden variables follow equations and the
 * member-months rows; another inequality touching a component is in its LP
 * with another component's variables at their single-equation bounds, and
 * is a column bound when it has one column left.
 * A variable is released (a constant) when any carrier measure releases
 * its cell, and free (>= 0) otherwise. Two-way tables are linked to their
 * one-way margins only: a cycle of two-way tables can constrain the joint
 * distribution more than these margins say (not modelled).
 *
 * Requirements, with [L, U] the attainable range from the LP:
 *   count       (value x in [1, k-1]):   L < 1 and U >= k;
 *   complement  (D - x in [1, k-1], any D): a count requirement on the
 *               complement channel; and when D >= k also on the numerator
 *               x with D held at its true value (the reader may know it
 *               from another measure): D - U < 1 and D - L >= k;
 *   dominance   (cost sum x, largest contribution c, protection p, the
 *               p% rule): L <= x - p*c and U >= x + p*c.
 * A complement is withheld in every measure carrying its channel (reason
 * secondary). Withholding only ever widens ranges, so a requirement met
 * stays met. The procedure runs in two phases:
 *   1. cheap: each equation of the protected variable bounds it on its own
 *      (v = rhs - the other hidden terms: an upper bound when they all have
 *      v's sign, a lower bound when they all have the other, v pinned when
 *      there are none). While these necessary bounds fail, a complement is
 *      chosen among the released variables of the failing equations. No LP.
 *   2. LP: the requirements still unconfirmed are grouped by the connected
 *      component of hidden variables they belong to; one GLPK problem is
 *      built per component and every member is minimised and maximised on
 *      it, changing only the objective (warm start from the previous
 *      basis). Failing requirements get one complement per component and
 *      pass, chosen among the component's equations, then phase 1 again;
 *      the pass repeats for those that failed until all are met.
 * Choosing a complement: non-zero cells first, then cells that open most
 * equations pinning a hidden variable, then the smallest cell covering the
 * deficit; a covering cell far larger than the deficit is passed over for
 * the largest smaller one when that makes substantial progress, so that
 * large cells (margins of millions) are not withheld to protect a small
 * amount. No final re-check is needed: each requirement is dropped only once
 * an LP of its component confirms it, and later withholding only widens its
 * range (the audit in tests/support/lp_audit.c checks this independently).
 */
#include "suppress.h"

#include <glpk.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "race_detail.h"

#define TOL 1e-6
/* Cell numbers are integers (cells.h), so an equation of the LP holds
 * exactly while the magnitudes of its terms add up to less than 2^53 (every
 * double is then an exact integer): no slack. Only beyond that (sums of
 * squared cents) are doubles rounded, and such a row may be relaxed by
 * DOUBLE_REL of its terms' magnitude (n * 2^-52 for n up to 4000 terms). */
#define EXACT_BELOW 0x1p53
#define DOUBLE_REL 1e-12

/* ---- small growable arrays --------------------------------------------- */

struct ivec {
    int *v;
    int n, cap;
};

struct dvec {
    double *v;
    int n, cap;
};

/* Makes room for one more element in an array of n of *cap elements of
 * size elem (doubling, 64 at first). Returns 0 or -1 (no memory). */
static int grow(void **v, int n, int *cap, size_t elem)
{
    if (n < *cap)
        return 0;
    int ncap = *cap ? *cap * 2 : 64;
    void *nv = realloc(*v, (size_t)ncap * elem);
    if (!nv)
        return -1;
    *v = nv;
    *cap = ncap;
    return 0;
}

static int ivec_push(struct ivec *a, int x)
{
    void *v = a->v;
    if (grow(&v, a->n, &a->cap, sizeof *a->v))
        return -1;
    a->v = v;
    a->v[a->n++] = x;
    return 0;
}

static int dvec_push(struct dvec *a, double x)
{
    void *v = a->v;
    if (grow(&v, a->n, &a->cap, sizeof *a->v))
        return -1;
    a->v = v;
    a->v[a->n++] = x;
    return 0;
}

/* ---- fields and channels ------------------------------------------------ */

enum { F_MEMBERS, F_DEN, F_NUM, F_MONTHS, F_SQ, F__COUNT };

/* suppress.c's own order of the fields (requirements are posed in it, so
 * it decides the complements chosen); the accessors are cells.h's. */
static const int field_cell[F__COUNT] = {CELL_F_MEMBERS, CELL_F_DEN, CELL_F_NUM, CELL_F_MONTHS,
                                         CELL_F_SQ};

static int field_channel(const struct measure_def *d, int f)
{
    return cell_field_channel(d, field_cell[f]);
}

static double field_value(const struct cell *c, int f)
{
    return (double)cell_field(c, field_cell[f]);
}

/* Reasons that suppression keeps as they are (set by policy or pooling). */
static int reason_is_kept(cell_reason r)
{
    return r == REASON_POLICY || r == REASON_NOT_AVAILABLE ||
           r == REASON_MIN_ORGS || r == REASON_PARTIAL;
}

/* What a carrier cell tells a reader about its variable (suppress.h):
 * nothing, a lower bound (pooled: partial), its value, or
 * (pooled: every organization released zero there, n_orgs = n_withheld =
 * 0) its value 0 whether the cell is withheld or not. */
enum { CARR_HIDDEN, CARR_LOWER, CARR_EXACT, CARR_ZERO };

static int carrier_state(const struct suppress_params *p, const struct cell *cl)
{
    if (cl->reason == REASON_NONE && p->pooled && cl->n_withheld > 0)
        return CARR_LOWER;
    if (cl->reason == REASON_NONE && !(p->pooled && cl->n_orgs == 0))
        return CARR_EXACT;
    if (p->pooled && cl->reason != REASON_NOT_AVAILABLE && cl->n_orgs == 0 &&
        cl->n_withheld == 0)
        return CARR_ZERO;
    return CARR_HIDDEN;
}

/* The value of channel ch in cell cl. */
static double carrier_value(int ch, const struct cell *cl)
{
    const struct measure_def *d = catalog_measure(cl->measure);
    for (int f = 0; f < F__COUNT; f++)
        if (field_channel(d, f) == ch)
            return field_value(cl, f);
    return 0;
}

static int is_small(double v, int k)
{
    return v > 0 && v < k;
}

void suppress_params_init(struct suppress_params *p)
{
    p->k = SUPPRESS_DEFAULT_K;
    p->dominance = SUPPRESS_DEFAULT_DOMINANCE;
    p->dominance_protection = SUPPRESS_DEFAULT_DOMINANCE_PROTECTION;
    p->pooled = 0;
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

/* REQ_UPPER: the upper side of REQ_DOMINANCE only (a partial min_orgs
 * cell, see min_orgs_reqs). */
enum { REQ_COUNT, REQ_COMPLEMENT, REQ_DOMINANCE, REQ_UPPER };

struct req {
    int channel, table, stratum, type;
    double x;   /* the protected value                         */
    double d;   /* complement: the denominator                   */
    double mc;  /* dominance: p times the largest contribution   */
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

/* ---- complement channels ------------------------------------------------ */

/* The complement of a proportion of counts whose numerator never exceeds its
 * denominator (num_per_den 1) is den - num (members without a visit). A
 * reader knows it where both are released, and its cells add up like any
 * channel's, so the model gives it a channel of its own after the catalog's
 * (model_add_complement): a small complement is a count requirement on that
 * channel, whose equations bound it directly (sex X and U withheld with 16
 * members and 12 visits together leave at most 4 without a visit), whether
 * or not the denominator is below k. One channel per distinct (den, num)
 * pair; of[m] is measure m's pair, or -1. Returns the number of pairs. */
static int complement_pairs(int *num, int *den, int *of)
{
    int n = 0;
    for (int m = 0; m < catalog_n_measures(); m++) {
        const struct measure_def *d = catalog_measure(m);
        of[m] = -1;
        if (d->kind != KIND_PROPORTION || !d->numerator_is_count || !d->denominator_is_count ||
            d->num_per_den != 1 || d->ch_numerator < 0 || d->ch_denominator < 0 ||
            d->ch_numerator == d->ch_denominator)
            continue;
        int j = 0;
        while (j < n && !(num[j] == d->ch_numerator && den[j] == d->ch_denominator))
            j++;
        if (j == n) {
            num[n] = d->ch_numerator;
            den[n++] = d->ch_denominator;
        }
        of[m] = j;
    }
    return n;
}

/* The requirements of one primary cell; comp_ch is the complement channel
 * of its measure, or -1 (none, or pooled mode). */
static int cell_reqs(struct reqs *r, const struct cell *c, const struct suppress_params *p,
                     int comp_ch)
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
    /* Complement: a count requirement on the complement channel, whatever
     * the denominator (both unknown to the reader), and, when the
     * denominator is not itself a small count, one on the numerator with the
     * denominator held at its true value (the reader may know it from
     * another measure; that LP has the numerator's whole component, which
     * the complement channel sees only through bounds). */
    if (comp_ch >= 0 && is_small(c->denominator - c->numerator, k) &&
        reqs_push(r, c, comp_ch, REQ_COUNT, c->denominator - c->numerator, 0, 0))
        return -1;
    if (d->kind == KIND_PROPORTION && d->numerator_is_count && d->denominator_is_count &&
        !is_small(c->denominator, k) && is_small(c->denominator - c->numerator, k) &&
        reqs_push(r, c, d->ch_numerator, REQ_COMPLEMENT, c->numerator, c->denominator, 0))
        return -1;
    if (d->kind == KIND_PMPM && dominated(c, p->dominance) &&
        reqs_push(r, c, d->ch_numerator, REQ_DOMINANCE, c->numerator, 0,
                  p->dominance_protection * c->max_contrib))
        return -1;
    return 0;
}

/* Pooled mode: the requirements of a cell withheld for min_orgs (the p%
 * rule on each channel but the sum of squares; suppress.h). The protected
 * number x is the sum the contributing organizations released. When other
 * organizations withheld the cell (partial), the LP's variable is the true
 * cell, x plus their unknown parts (>= 0, no upper bound a reader knows),
 * so the reader's lower bound of x is 0 whatever the LP says: only the
 * upper side is a requirement. */
static int min_orgs_reqs(struct reqs *r, const struct cell *c, const struct suppress_params *p)
{
    const struct measure_def *d = catalog_measure(c->measure);
    int type = c->n_withheld > 0 ? REQ_UPPER : REQ_DOMINANCE;
    for (int f = 0; f < F__COUNT; f++) {
        double x = field_value(c, f);
        if (f == F_SQ || !(x > 0))
            continue;
        if (reqs_push(r, c, field_channel(d, f), type, x, 0, p->dominance_protection * x))
            return -1;
    }
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
    for (int i = 0; i < catalog_n_measures() * ix->ntables; i++)
        free(ix->at[i]);
    free(ix->at);
    ix->at = NULL;
}

static int cindex_build(struct cindex *ix, const struct cellset *cs)
{
    ix->ntables = cs->ntables;
    ix->at = calloc((size_t)(catalog_n_measures() * (cs->ntables ? cs->ntables : 1)), sizeof *ix->at);
    if (!ix->at)
        return SUPPRESS_ENOMEM;
    for (size_t i = 0; i < cs->ncells; i++) {
        const struct cell *c = &cs->cells[i];
        if (c->measure < 0 || c->measure >= catalog_n_measures() || c->table < 0 ||
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
    int channel;
    int table, stratum;   /* -1 for hidden helpers (atoms, margins)      */
    double value;
    int carr, ncarr;      /* offset and count in chsys.carriers          */
};

struct chsys {
    int channel;                    /* while building: the channel    */
    struct var *v;
    int nv, capv;
    struct ivec carriers;           /* cell indices                   */
    struct ivec rptr;               /* row start offsets, n rows + 1   */
    struct ivec rkind;              /* per row: ROW_EQ, ROW_LE, ROW_LEJ */
    struct ivec rvar;               /* entries: variable               */
    struct dvec rcoef;              /* entries: coefficient            */
    int *vrptr, *vrows;             /* variable -> rows (CSR)          */
    int *base;                      /* channel * ntables + table ->
                                       first variable, or -1           */
    int *cb;                        /* while building: the channel's
                                       slice of base                   */
    int vstart[CATALOG_MAX_CHANNELS + CATALOG_MAX_MEASURES + 1]; /* channel -> its first
                                                                     variable            */
    /* Complement channels (den - num of a proportion), after the catalog's
     * nreal channels: channel nreal + j is den_ch[j] - num_ch[j]. */
    int nreal, ncomp;
    int num_ch[CATALOG_MAX_MEASURES], den_ch[CATALOG_MAX_MEASURES];
    /* scratch, sized nv / rows */
    int *vmark, *rmark, *hits, *col;
    int *clab;                      /* component label per variable    */
    unsigned char *hid;             /* var_hidden, kept by var_hide     */
    int *cvptr, *cvars;             /* cell -> variables whose hidden
                                       state it decides (CSR)          */
    int *lprow;                     /* row -> row of the component LP  */
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
    struct chsys *m;                /* the model of what a reader knows */
    struct suppress_report *rep;
    int label;                      /* last component label given      */
    const struct suppress_worlds *w; /* several releases, or NULL       */
    int ncomp;                      /* complement channels (complement_pairs) */
    int comp_num[CATALOG_MAX_MEASURES], comp_den[CATALOG_MAX_MEASURES];
    int comp_of[CATALOG_MAX_MEASURES];
};

/* The world of table t (SUPPRESS_WORLD_NEW without worlds). */
static int table_world(const struct ctx *c, int t)
{
    return c->w ? c->w->table_world[t] : 0;
}

static int world_kind(const struct ctx *c, int w)
{
    return c->w ? c->w->kind[w] : SUPPRESS_WORLD_NEW;
}

static int table_kind(const struct ctx *c, int t)
{
    return world_kind(c, table_world(c, t));
}

static void chsys_free(struct chsys **ps)
{
    struct chsys *s = *ps;
    if (!s)
        return;
    free(s->v);
    free(s->carriers.v);
    free(s->rptr.v);
    free(s->rkind.v);
    free(s->rvar.v);
    free(s->rcoef.v);
    free(s->vrptr);
    free(s->vrows);
    free(s->base);
    free(s->vmark);
    free(s->rmark);
    free(s->hits);
    free(s->col);
    free(s->clab);
    free(s->hid);
    free(s->cvptr);
    free(s->cvars);
    free(s->lprow);
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
    s->v[s->nv] = (struct var){s->channel, table, stratum, 0, s->carriers.n, 0};
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

/* Rows: sum of terms = 0 (ROW_EQ) or <= 0 (ROW_LE, ROW_LEJ). ROW_LEJ, member
 * months <= 12 x members, also joins the components of its variables
 * (component()): a count is narrowed through the months of the cells
 * around it only in the joint LP of both channels. */
enum { ROW_EQ, ROW_LE, ROW_LEJ };

static int row_end_kind(struct chsys *s, int kind)
{
    if (ivec_push(&s->rkind, kind))
        return -1;
    return ivec_push(&s->rptr, s->rvar.n);
}

static int row_end(struct chsys *s)
{
    return row_end_kind(s, ROW_EQ);
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

/* A two-way margin x*y of a world: a released two-way table's variables,
 * or hidden helpers (the margin of a three-way table whose two-way table is
 * not released) tied to the one-way margins. Variable (i, j), i a label of
 * dim[0], j of dim[1], is base + i * card[1] + j. */
struct margin2 {
    int base, dim[2], card[2];
    char **labels[2];
};

/* The hidden two-way margins of a world (world_equations). */
struct margins2 {
    struct margin2 *v;
    int n;
};

/* A race*ethnicity margin (released table or hidden helpers) gives the
 * atoms themselves. */
static int link_race_eth_table(struct chsys *s, int atom0, const struct margin2 *t)
{
    int ri = t->dim[0] == S_RACE ? 0 : t->dim[1] == S_RACE ? 1 : -1;
    if (ri < 0 || t->dim[1 - ri] != S_ETHNICITY)
        return 0;
    int cr[64], ce[64];
    struct margin mr = {0, t->card[ri], t->labels[ri]};
    struct margin me = {0, t->card[1 - ri], t->labels[1 - ri]};
    if (mr.card > 64 || me.card > 64 || map_codes(&mr, race_codes, RACE__COUNT, cr) < 0 ||
        map_codes(&me, ethnicity_codes, ETH__COUNT, ce) < 0)
        return 0;
    for (int a = 0; a < t->card[0]; a++)
        for (int b = 0; b < t->card[1]; b++) {
            int r = ri == 0 ? cr[a] : cr[b], e = ri == 0 ? ce[b] : ce[a];
            if (term(s, t->base + a * t->card[1] + b, 1) ||
                term(s, atom0 + r * ETH__COUNT + e, -1) || row_end(s))
                return -1;
        }
    return 0;
}

/* race, ethnicity, race_ethnicity (and race*ethnicity, released or the
 * hidden margin of a three-way table) through race x ethnicity atoms. */
static int link_race_eth(const struct ctx *c, struct chsys *s, int world,
                         const struct margin *race, const struct margin *eth,
                         const struct margin *re, const struct margins2 *hidden)
{
    const struct cellset *cs = c->cs;
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
        if (tb->ndim != 2 || s->cb[t] < 0 || table_world(c, t) != world)
            continue;
        struct margin2 m = {s->cb[t], {tb->dim[0], tb->dim[1]}, {tb->card[0], tb->card[1]},
                            {tb->labels[0], tb->labels[1]}};
        if (link_race_eth_table(s, atom0, &m))
            return -1;
    }
    for (int i = 0; hidden && i < hidden->n; i++)
        if (link_race_eth_table(s, atom0, &hidden->v[i]))
            return -1;
    return 0;
}

/* Detailed race and ethnicity (race_detail.h): race_detail, race_group and
 * race_aic tied to race, ethnicity, race_ethnicity (and race*ethnicity)
 * through joint atoms (a, c, r, e): a the member's detail atom (a detailed
 * code alone; several detailed codes of one group, alone; MULTIPLE;
 * UNKNOWN), c the race minimum categories race_aic counts (a subset of the
 * six), r the race column, e the ethnicity column. Only the atoms that a
 * member can have exist (rd_atom_ok: what the extract reader accepts,
 * docs/catalog.md), so every relation a reader can derive from the
 * definitions is in the model: a detailed cell is a part of its group
 * cell, which is a part of its race (or of Hispanic ethnicity);
 * alone(r) <= AIC(r) <= alone(r) + MULTI; AIC(HISPANIC) = ethnicity
 * HISPANIC; the AIC cells add up to at least the total. Without a race_aic
 * table the combinations of two or more races are one atom (rows tell
 * them apart only through race_aic). */
struct rd_atoms {
    int first, n;
    short a[RDA__COUNT * 64 * RACE__COUNT * ETH__COUNT / 8];
    unsigned char c[RDA__COUNT * 64 * RACE__COUNT * ETH__COUNT / 8], r[RDA__COUNT * 64 * RACE__COUNT * ETH__COUNT / 8],
        e[RDA__COUNT * 64 * RACE__COUNT * ETH__COUNT / 8];
};

/* One row: the atoms for which pick(...) holds minus var. */
static int rd_row(struct chsys *s, const struct rd_atoms *A, int var, int kind, int code)
{
    for (int i = 0; i < A->n; i++) {
        int in = 0;
        switch (kind) {
        case S_RACE: in = A->r[i] == code; break;
        case S_ETHNICITY: in = A->e[i] == code; break;
        case S_RACE_ETHNICITY: in = catalog_race_ethnicity(A->r[i], A->e[i]) == code; break;
        case S_RACE_DETAIL: in = race_detail_atom_detail(A->a[i]) == code; break;
        case S_RACE_GROUP: in = race_detail_atom_group(A->a[i]) == code; break;
        case S_RACE_AIC: in = race_aic_has(A->c[i], A->e[i], code); break;
        default: /* race*ethnicity cell: code = r * ETH__COUNT + e */
            in = A->r[i] * ETH__COUNT + A->e[i] == code;
        }
        if (in && term(s, A->first + i, 1))
            return -1;
    }
    if (term(s, var, -1) || row_end(s))
        return -1;
    return 0;
}

static int link_race_detail(const struct ctx *c, struct chsys *s, int world,
                            const struct margin *marg)
{
    static const int sids[] = {S_RACE, S_ETHNICITY, S_RACE_ETHNICITY, S_RACE_DETAIL,
                               S_RACE_GROUP, S_RACE_AIC};
    static const char *const *const tabs[] = {race_codes, ethnicity_codes, race_ethnicity_codes,
                                              race_detail_codes, race_group_codes,
                                              race_aic_codes};
    static const int ns[] = {RACE__COUNT, ETH__COUNT, RE__COUNT, RD__COUNT, RG__COUNT,
                             AIC__COUNT};
    int codes[6][64], have[6];
    for (int k = 0; k < 6; k++) {
        const struct margin *m = &marg[sids[k]];
        have[k] = m->labels && m->card <= 64 && map_codes(m, tabs[k], ns[k], codes[k]) == 0;
    }
    if (!have[3] && !have[4] && !have[5])
        return 0;
    struct rd_atoms *A = calloc(1, sizeof *A);
    if (!A)
        return -1;
    int rc = -1;
    for (int a = 0; a < RDA__COUNT; a++)
        for (unsigned cc = 0; cc < 64; cc++) {
            /* without race_aic, one combination of two or more races */
            if (!have[5] && __builtin_popcount(cc) >= 2 && cc != 3u)
                continue;
            for (int r = 0; r < RACE__COUNT; r++)
                for (int e = 0; e < ETH__COUNT; e++) {
                    if (!race_detail_atom_ok(a, cc, r, e))
                        continue;
                    if (A->n >= (int)(sizeof A->a / sizeof A->a[0]))
                        goto out;
                    A->a[A->n] = (short)a;
                    A->c[A->n] = (unsigned char)cc;
                    A->r[A->n] = (unsigned char)r;
                    A->e[A->n++] = (unsigned char)e;
                }
        }
    if ((A->first = add_aux(s, A->n)) < 0)
        goto out;
    for (int k = 0; k < 6; k++)
        for (int i = 0; have[k] && i < marg[sids[k]].card; i++)
            if (rd_row(s, A, marg[sids[k]].base + i, sids[k], codes[k][i]))
                goto out;
    /* A released race*ethnicity table gives the (r, e) sums themselves. */
    const struct cellset *cs = c->cs;
    for (int t = 0; t < cs->ntables; t++) {
        const struct cell_table *tb = &cs->tables[t];
        if (tb->ndim != 2 || s->cb[t] < 0 || table_world(c, t) != world)
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
        for (int x = 0; x < tb->card[0]; x++)
            for (int y = 0; y < tb->card[1]; y++) {
                int r = ri == 0 ? cr[x] : cr[y], e = ri == 0 ? ce[y] : ce[x];
                if (rd_row(s, A, s->cb[t] + x * tb->card[1] + y, -1, r * ETH__COUNT + e))
                    goto out;
            }
    }
    rc = 0;
out:
    free(A);
    return rc;
}

/* race_detail*X and race_group*X (and race*X, ethnicity*X,
 * race_ethnicity*X of the same X) tied through atoms (detail atom, race,
 * ethnicity) x stratum of X, as link_race_detail ties the one-way tables:
 * group G at x is its detailed codes at x plus its several-code members at
 * x, which the MULTIPLE detailed cell at x holds. */
static int link_race_detail_2way(const struct ctx *c, struct chsys *s, int world)
{
    static const int sids[] = {S_RACE, S_ETHNICITY, S_RACE_ETHNICITY, S_RACE_DETAIL,
                               S_RACE_GROUP};
    static const char *const *const tabs[] = {race_codes, ethnicity_codes, race_ethnicity_codes,
                                              race_detail_codes, race_group_codes};
    static const int ns[] = {RACE__COUNT, ETH__COUNT, RE__COUNT, RD__COUNT, RG__COUNT};
    const struct cellset *cs = c->cs;
    unsigned char done[S__COUNT] = {0};
    for (int t0 = 0; t0 < cs->ntables; t0++) {
        const struct cell_table *tb0 = &cs->tables[t0];
        if (tb0->ndim != 2 || s->cb[t0] < 0 || table_world(c, t0) != world)
            continue;
        int d0 = tb0->dim[0] == S_RACE_DETAIL || tb0->dim[0] == S_RACE_GROUP ? 0
                 : tb0->dim[1] == S_RACE_DETAIL || tb0->dim[1] == S_RACE_GROUP ? 1 : -1;
        if (d0 < 0)
            continue;
        int x = tb0->dim[1 - d0];
        if (done[x])
            continue;
        done[x] = 1;
        int nx = tb0->card[1 - d0];
        char **xl = tb0->labels[1 - d0];
        /* atoms (a, r, e) that a member can have, times the strata of x */
        int na = 0;
        static const int maxa = RDA__COUNT * RACE__COUNT * ETH__COUNT;
        short *A = malloc((size_t)maxa * 3 * sizeof *A);
        if (!A)
            return -1;
        for (int a = 0; a < RDA__COUNT; a++)
            for (int r = 0; r < RACE__COUNT; r++)
                for (int e = 0; e < ETH__COUNT; e++) {
                    int ok = 0;
                    for (unsigned cc = 0; cc < 64 && !ok; cc++)
                        ok = race_detail_atom_ok(a, cc, r, e);
                    if (!ok)
                        continue;
                    A[3 * na] = (short)a;
                    A[3 * na + 1] = (short)r;
                    A[3 * na + 2] = (short)e;
                    na++;
                }
        int first = add_aux(s, na * nx);
        if (first < 0) {
            free(A);
            return -1;
        }
        for (int t = 0; t < cs->ntables; t++) {
            const struct cell_table *tb = &cs->tables[t];
            if (tb->ndim != 2 || s->cb[t] < 0 || table_world(c, t) != world)
                continue;
            int xi = tb->dim[0] == x ? 0 : tb->dim[1] == x ? 1 : -1;
            if (xi < 0)
                continue;
            int k = -1;
            for (int q = 0; q < 5; q++)
                if (tb->dim[1 - xi] == sids[q])
                    k = q;
            if (k < 0 || tb->card[xi] != nx || !labels_equal(tb->labels[xi], xl, nx))
                continue;
            int code[64];
            struct margin m = {0, tb->card[1 - xi], tb->labels[1 - xi]};
            if (m.card > 64 || map_codes(&m, tabs[k], ns[k], code) < 0)
                continue;
            for (int i = 0; i < m.card; i++)
                for (int j = 0; j < nx; j++) {
                    for (int q = 0; q < na; q++) {
                        int a = A[3 * q], r = A[3 * q + 1], e = A[3 * q + 2], v;
                        switch (sids[k]) {
                        case S_RACE: v = r; break;
                        case S_ETHNICITY: v = e; break;
                        case S_RACE_ETHNICITY: v = catalog_race_ethnicity(r, e); break;
                        case S_RACE_DETAIL: v = race_detail_atom_detail(a); break;
                        default: v = race_detail_atom_group(a);
                        }
                        if (v == code[i] && term(s, first + q * nx + j, 1)) {
                            free(A);
                            return -1;
                        }
                    }
                    int cell = xi == 1 ? i * tb->card[1] + j : j * tb->card[1] + i;
                    if (term(s, s->cb[t] + cell, -1) || row_end(s)) {
                        free(A);
                        return -1;
                    }
                }
        }
        free(A);
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

/* payer, heba_band and adi_quintile through ADI decile x payer atoms: the
 * catalog's own maps (catalog_heba_band, catalog_adi_quintile) say which
 * atoms make up each stratum, so that e.g. payer DUAL lies inside heba_band
 * top. Margins whose labels are not codes are left unlinked. */
static int link_area(struct chsys *s, const struct margin *payer, const struct margin *heba,
                     const struct margin *adiq)
{
    enum { ND = 11 }; /* decile 0 (unknown), 1..10 */
    int cp[64], ch[64], cq[64];
    const struct margin *pm = payer->labels ? payer : NULL, *qm = adiq->labels ? adiq : NULL;
    if (heba->card > 64 || map_codes(heba, heba_codes, HEBA__COUNT, ch) < 0)
        return 0;
    if (pm && (pm->card > 64 || map_codes(pm, payer_codes, PAYER__COUNT, cp) < 0))
        pm = NULL;
    if (qm && (qm->card > 64 || map_codes(qm, adi_quintile_codes, ADIQ__COUNT, cq) < 0))
        qm = NULL;
    if (!pm && !qm)
        return 0;
    int atom0 = add_aux(s, ND * PAYER__COUNT);
    if (atom0 < 0)
        return -1;
    for (int i = 0; i < heba->card; i++) {
        for (int d = 0; d < ND; d++)
            for (int y = 0; y < PAYER__COUNT; y++)
                if (catalog_heba_band(d, y) == ch[i] && term(s, atom0 + d * PAYER__COUNT + y, 1))
                    return -1;
        if (term(s, heba->base + i, -1) || row_end(s))
            return -1;
    }
    for (int i = 0; pm && i < pm->card; i++) {
        for (int d = 0; d < ND; d++)
            if (term(s, atom0 + d * PAYER__COUNT + cp[i], 1))
                return -1;
        if (term(s, pm->base + i, -1) || row_end(s))
            return -1;
    }
    for (int i = 0; qm && i < qm->card; i++) {
        for (int d = 0; d < ND; d++)
            for (int y = 0; y < PAYER__COUNT; y++)
                if (catalog_adi_quintile(d) == cq[i] && term(s, atom0 + d * PAYER__COUNT + y, 1))
                    return -1;
        if (term(s, qm->base + i, -1) || row_end(s))
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

/* Whether m is the margin of stratifiers x, y with these labels, in
 * either order (*swap: 1 when m holds y first). */
static int margin2_match(const struct margin2 *m, int x, int cx, char **lx, int y, int cy,
                         char **ly, int *swap)
{
    for (int o = 0; o < 2; o++) {
        int i = o, j = 1 - o;
        if (m->dim[i] == x && m->dim[j] == y && m->card[i] == cx && m->card[j] == cy &&
            labels_equal(m->labels[i], lx, cx) && labels_equal(m->labels[j], ly, cy)) {
            *swap = o;
            return 1;
        }
    }
    return 0;
}

/* The x*y margin with these labels in world w: a released two-way table
 * (either order), else a hidden one of `hidden`, else new hidden helpers
 * whose rows and columns add up to the one-way margins (margin_for) and
 * which are kept in `hidden` (room for 3 per table) so that every
 * three-way table crossing x and y shares them. *out is its margin2 and
 * *swap 1 when it holds y first. */
static int margin2_for(const struct ctx *c, struct chsys *s, int w, struct margin *marg,
                       struct margins2 *hidden, int x, int cx, char **lx, int y, int cy,
                       char **ly, int total, struct margin2 *out, int *swap)
{
    const struct cellset *cs = c->cs;
    for (int t = 0; t < cs->ntables; t++) {
        const struct cell_table *tb = &cs->tables[t];
        if (tb->ndim != 2 || s->cb[t] < 0 || table_world(c, t) != w)
            continue;
        struct margin2 m = {s->cb[t], {tb->dim[0], tb->dim[1]}, {tb->card[0], tb->card[1]},
                            {tb->labels[0], tb->labels[1]}};
        if (margin2_match(&m, x, cx, lx, y, cy, ly, swap)) {
            *out = m;
            return 0;
        }
    }
    for (int i = 0; i < hidden->n; i++)
        if (margin2_match(&hidden->v[i], x, cx, lx, y, cy, ly, swap)) {
            *out = hidden->v[i];
            return 0;
        }
    int first = add_aux(s, cx * cy), mx, my;
    if (first < 0 || margin_for(s, marg, x, cx, lx, total, &mx) ||
        margin_for(s, marg, y, cy, ly, total, &my))
        return -1;
    for (int i = 0; i < cx; i++) {
        for (int j = 0; j < cy; j++)
            if (term(s, first + i * cy + j, 1))
                return -1;
        if (term(s, mx + i, -1) || row_end(s))
            return -1;
    }
    for (int j = 0; j < cy; j++) {
        for (int i = 0; i < cx; i++)
            if (term(s, first + i * cy + j, 1))
                return -1;
        if (term(s, my + j, -1) || row_end(s))
            return -1;
    }
    *out = (struct margin2){first, {x, y}, {cx, cy}, {lx, ly}};
    hidden->v[hidden->n++] = *out;
    *swap = 0;
    return 0;
}

/* A three-way table's cells add up, over each of its dimensions, to the
 * cells of the two-way table of the other two (margin2_for: released, or
 * hidden helpers tied to the one-way margins and so to the total). */
static int three_way_equations(const struct ctx *c, struct chsys *s, int w, int t,
                               struct margin *marg, struct margins2 *hidden, int total)
{
    const struct cell_table *tb = &c->cs->tables[t];
    for (int f = 0; f < 3; f++) { /* the dimension summed over */
        int d0 = f == 0 ? 1 : 0, d1 = f == 2 ? 1 : 2, swap;
        struct margin2 m;
        if (margin2_for(c, s, w, marg, hidden, tb->dim[d0], tb->card[d0], tb->labels[d0],
                        tb->dim[d1], tb->card[d1], tb->labels[d1], total, &m, &swap))
            return -1;
        for (int i = 0; i < tb->card[d0]; i++)
            for (int j = 0; j < tb->card[d1]; j++) {
                int idx[3];
                idx[d0] = i;
                idx[d1] = j;
                for (idx[f] = 0; idx[f] < tb->card[f]; idx[f]++)
                    if (term(s, s->cb[t] + cell_table_stratum(tb, idx), 1))
                        return -1;
                int mv = swap ? m.base + j * m.card[1] + i : m.base + i * m.card[1] + j;
                if (term(s, mv, -1) || row_end(s))
                    return -1;
            }
    }
    return 0;
}

/* The equations of one world of channel s->channel (s->cb set): its
 * tables add up to its total and margins, derived stratifiers through
 * atoms. */
static int world_equations(const struct ctx *c, struct chsys *s, int w)
{
    const struct cellset *cs = c->cs;
    struct margin marg[S__COUNT];
    struct margins2 hidden = {NULL, 0};
    memset(marg, 0, sizeof marg);
    int n3 = 0;
    for (int t = 0; t < cs->ntables; t++)
        n3 += s->cb[t] >= 0 && cs->tables[t].ndim == 3 && table_world(c, t) == w;
    if (n3 && !(hidden.v = calloc((size_t)n3 * 3, sizeof *hidden.v)))
        goto nomem;
    /* The grand total: the first total table, else a hidden helper. */
    int total = -1;
    for (int t = 0; t < cs->ntables; t++) {
        if (s->cb[t] < 0 || cs->tables[t].ndim != 0 || table_world(c, t) != w)
            continue;
        if (total < 0) {
            total = s->cb[t];
        } else if (term(s, s->cb[t], 1) || term(s, total, -1) || row_end(s)) {
            goto nomem;
        }
    }
    if (total < 0 && (total = add_aux(s, 1)) < 0)
        goto nomem;
    for (int t = 0; t < cs->ntables; t++) {
        const struct cell_table *tb = &cs->tables[t];
        if (s->cb[t] < 0 || tb->ndim != 1 || table_world(c, t) != w)
            continue;
        /* race_aic is not additive: tied through atoms only */
        if (catalog_stratifier_additive(tb->dim[0]) &&
            row_sum(s, s->cb[t], tb->card[0], total))
            goto nomem;
        if (!marg[tb->dim[0]].labels)
            marg[tb->dim[0]] = (struct margin){s->cb[t], tb->card[0], tb->labels[0]};
    }
    for (int t = 0; t < cs->ntables; t++) {
        const struct cell_table *tb = &cs->tables[t];
        if (s->cb[t] < 0 || tb->ndim != 2 || table_world(c, t) != w)
            continue;
        /* no node writes an intersection with race_aic (not additive) */
        if (!catalog_stratifier_additive(tb->dim[0]) || !catalog_stratifier_additive(tb->dim[1]))
            continue;
        int m0, m1, c0 = tb->card[0], c1 = tb->card[1];
        if (margin_for(s, marg, tb->dim[0], c0, tb->labels[0], total, &m0) ||
            margin_for(s, marg, tb->dim[1], c1, tb->labels[1], total, &m1))
            goto nomem;
        for (int a = 0; a < c0; a++) {
            for (int b = 0; b < c1; b++)
                if (term(s, s->cb[t] + a * c1 + b, 1))
                    goto nomem;
            if (term(s, m0 + a, -1) || row_end(s))
                goto nomem;
        }
        for (int b = 0; b < c1; b++) {
            for (int a = 0; a < c0; a++)
                if (term(s, s->cb[t] + a * c1 + b, 1))
                    goto nomem;
            if (term(s, m1 + b, -1) || row_end(s))
                goto nomem;
        }
    }
    for (int t = 0; t < cs->ntables; t++)
        if (s->cb[t] >= 0 && cs->tables[t].ndim == 3 && table_world(c, t) == w &&
            three_way_equations(c, s, w, t, marg, &hidden, total))
            goto nomem;
    if (marg[S_AGE_BAND].labels && marg[S_AGE_STD].labels &&
        link_age(s, &marg[S_AGE_BAND], &marg[S_AGE_STD]))
        goto nomem;
    if (marg[S_RACE_DETAIL].labels || marg[S_RACE_GROUP].labels || marg[S_RACE_AIC].labels) {
        if (link_race_detail(c, s, w, marg) || link_race_detail_2way(c, s, w))
            goto nomem;
    } else if (marg[S_RACE_ETHNICITY].labels &&
               (marg[S_RACE].labels || marg[S_ETHNICITY].labels) &&
               link_race_eth(c, s, w, &marg[S_RACE], &marg[S_ETHNICITY],
                             &marg[S_RACE_ETHNICITY], &hidden)) {
        goto nomem;
    }
    if (marg[S_LANGUAGE].labels && marg[S_NON_ENGLISH].labels &&
        link_language(s, &marg[S_LANGUAGE], &marg[S_NON_ENGLISH]))
        goto nomem;
    if (marg[S_HEBA_BAND].labels && (marg[S_PAYER].labels || marg[S_ADI_QUINTILE].labels) &&
        link_area(s, &marg[S_PAYER], &marg[S_HEBA_BAND], &marg[S_ADI_QUINTILE]))
        goto nomem;
    free(hidden.v);
    return 0;
nomem:
    free(hidden.v);
    return SUPPRESS_ENOMEM;
}

/* Adds channel ch to the model s: its value in every (table, stratum) where
 * a measure carrying it has a cell, hidden helpers, and the equations that
 * tie them (tables add up to their margins, derived stratifiers through
 * atoms). */
static int channel_equations(struct ctx *c, struct chsys *s);

static int model_add_channel(struct ctx *c, struct chsys *s, int ch)
{
    const struct cellset *cs = c->cs;
    int carrier_m[CATALOG_MAX_MEASURES], carrier_f[CATALOG_MAX_MEASURES], nm = 0;
    s->channel = ch;
    s->cb = s->base + (size_t)ch * (size_t)cs->ntables;
    s->vstart[ch] = s->nv;
    for (int m = 0; m < catalog_n_measures(); m++) {
        const struct measure_def *d = catalog_measure(m);
        for (int f = 0; f < F__COUNT; f++)
            if (field_channel(d, f) == ch) {
                carrier_m[nm] = m;
                carrier_f[nm++] = f;
                break;
            }
    }
    int any = 0;
    for (int t = 0; t < cs->ntables; t++)
        for (int i = 0; i < nm; i++)
            any |= c->ix.at[carrier_m[i] * cs->ntables + t] != NULL;
    if (!any)
        return 0;
    for (int t = 0; t < cs->ntables; t++) {
        s->cb[t] = -1;
        int present = 0;
        for (int i = 0; i < nm; i++)
            if (c->ix.at[carrier_m[i] * cs->ntables + t])
                present = 1;
        if (!present)
            continue;
        s->cb[t] = s->nv;
        for (int st = 0; st < cs->tables[t].nstrata; st++) {
            int v = add_var(s, t, st);
            if (v < 0)
                goto nomem;
            /* The value: of the first carrier that is available, in pooled
             * mode the first that is complete (not partial) if any. */
            int have = -1;
            for (int i = 0; i < nm; i++) {
                int *a = c->ix.at[carrier_m[i] * cs->ntables + t];
                if (!a || a[st] < 0)
                    continue;
                const struct cell *cl = &cs->cells[a[st]];
                if (ivec_push(&s->carriers, a[st]))
                    goto nomem;
                s->v[v].ncarr++;
                int rank = cl->reason == REASON_NOT_AVAILABLE ? 0
                           : c->p->pooled && carrier_state(c->p, cl) < CARR_EXACT ? 1
                                                                                   : 2;
                if (rank > have) {
                    s->v[v].value = field_value(cl, carrier_f[i]);
                    have = rank;
                }
            }
        }
    }
    return channel_equations(c, s);
nomem:
    return SUPPRESS_ENOMEM;
}

/* The equations of channel s->channel (s->cb set): each world's tables add
 * up on their own (one world without a ledger), and the links between
 * worlds. */
static int channel_equations(struct ctx *c, struct chsys *s)
{
    for (int w = 0; w < (c->w ? c->w->nworlds : 1); w++)
        if (world_equations(c, s, w))
            goto nomem;
    /* Links between worlds: a later release's cell is the earlier one's
     * plus the difference, wherever the channel is in every table. */
    for (size_t i = 0; c->w && i < c->w->nlinks; i++) {
        const struct suppress_link *l = &c->w->links[i];
        if (s->cb[l->table] < 0)
            continue;
        int ok = 1;
        for (int j = 0; j < 2; j++)
            ok &= l->part_table[j] < 0 || s->cb[l->part_table[j]] >= 0;
        if (!ok)
            continue;
        if (term(s, s->cb[l->table] + l->stratum, 1))
            goto nomem;
        for (int j = 0; j < 2; j++)
            if (l->part_table[j] >= 0 &&
                term(s, s->cb[l->part_table[j]] + l->part_stratum[j], -1))
                goto nomem;
        if (row_end(s))
            goto nomem;
    }
    return 0;
nomem:
    return SUPPRESS_ENOMEM;
}

/* Adds complement channel j (complement_pairs): den - num in every (table,
 * stratum) where both channels have a variable, carried by the numerator's
 * carriers (withholding it withholds the numerator, as a complement always
 * was), hidden when either is (var_hidden), with the same equations as any
 * channel; model_add_inequalities ties it to both. */
static int model_add_complement(struct ctx *c, struct chsys *s, int j)
{
    const struct cellset *cs = c->cs;
    int ch = s->nreal + j, nt = cs->ntables;
    const int *nb = s->base + (size_t)s->num_ch[j] * (size_t)nt;
    const int *db = s->base + (size_t)s->den_ch[j] * (size_t)nt;
    s->channel = ch;
    s->cb = s->base + (size_t)ch * (size_t)nt;
    s->vstart[ch] = s->nv;
    int any = 0;
    for (int t = 0; t < nt; t++) {
        s->cb[t] = -1;
        if (nb[t] < 0 || db[t] < 0)
            continue;
        any = 1;
        s->cb[t] = s->nv;
        for (int st = 0; st < cs->tables[t].nstrata; st++) {
            int v = add_var(s, t, st);
            if (v < 0)
                return SUPPRESS_ENOMEM;
            const struct var *x = &s->v[nb[t] + st];
            for (int i = 0; i < x->ncarr; i++)
                if (ivec_push(&s->carriers, s->carriers.v[s->v[nb[t] + st].carr + i]))
                    return SUPPRESS_ENOMEM;
            s->v[v].ncarr = s->v[nb[t] + st].ncarr;
            s->v[v].value = s->v[db[t] + st].value - s->v[nb[t] + st].value;
        }
    }
    return any ? channel_equations(c, s) : 0;
}


/* ---- inequalities: what the definitions say beyond the sums ------------- */

/* a <= coef * b in every stratum (channels). */
struct rel {
    int a, b;
    double coef;
    int join; /* rows of kind ROW_LEJ */
};

static void rel_add(struct rel *r, int *n, int a, int b, double coef)
{
    if (a < 0 || b < 0 || a == b || !(coef > 0))
        return;
    for (int i = 0; i < *n; i++)
        if (r[i].a == a && r[i].b == b) {
            if (coef < r[i].coef)
                r[i].coef = coef;
            return;
        }
    r[(*n)++] = (struct rel){a, b, coef, 0};
}

/* The inequalities between channels that the catalog's definitions imply
 * (catalog.h): member months <= CATALOG_MAX_MONTHS x members; a population
 * inside its parent's (members and member months); numerator <= num_per_den
 * x denominator; members <= denominator / den_per_member; sum of squares
 * <= sq_per_num x numerator; an any-of numerator >= each of its parts.
 * Returns how many were written to r (room for REL_MAX). */
#define REL_MAX (CATALOG_MAX_MEASURES * 12)
static int catalog_relations(struct rel *r)
{
    int n = 0;
    for (int m = 0; m < catalog_n_measures(); m++) {
        const struct measure_def *d = catalog_measure(m);
        rel_add(r, &n, d->ch_months, d->ch_members, CATALOG_MAX_MONTHS * CELL_MONTHS_SCALE);
        for (int i = 0; i < n; i++)
            if (r[i].a == d->ch_months && r[i].b == d->ch_members)
                r[i].join = 1;
        const struct measure_def *pd = catalog_measure(d->parent);
        if (pd) {
            rel_add(r, &n, d->ch_members, pd->ch_members, 1);
            rel_add(r, &n, d->ch_months, pd->ch_months, 1);
        }
        if (d->num_per_den > 0)
            rel_add(r, &n, d->ch_numerator, d->ch_denominator, d->num_per_den);
        if (d->den_per_member > 0)
            rel_add(r, &n, d->ch_members, d->ch_denominator, 1 / d->den_per_member);
        if (d->sq_per_num > 0)
            rel_add(r, &n, d->ch_sum_sq, d->ch_numerator, d->sq_per_num);
        for (int i = 0; d->any_of && d->any_of[i] >= 0; i++) {
            const struct measure_def *part = catalog_measure(d->any_of[i]);
            if (part)
                rel_add(r, &n, part->ch_numerator, d->ch_numerator, 1);
        }
    }
    return n;
}

/* Pairs of variables of channels a and b that stand for the same set of
 * members: when both channels were built over the same tables their
 * layouts agree variable by variable (helpers included); else only the
 * table cells, by (table, stratum). Calls fn for each pair. */
static int same_layout(const struct chsys *s, int a, int b)
{
    int na = s->vstart[a + 1] - s->vstart[a], nb = s->vstart[b + 1] - s->vstart[b];
    if (na != nb || na == 0)
        return 0;
    for (int i = 0; i < na; i++) {
        const struct var *x = &s->v[s->vstart[a] + i], *y = &s->v[s->vstart[b] + i];
        if (x->table != y->table || x->stratum != y->stratum)
            return 0;
    }
    return 1;
}

/* The variable of channel ch standing for the same members as variable v
 * of another channel (same_layout or table cell), or -1. */
static int partner(const struct chsys *s, const struct cellset *cs, int v, int ch, int layout)
{
    const struct var *x = &s->v[v];
    if (layout)
        return s->vstart[ch] + (v - s->vstart[x->channel]);
    if (x->table < 0)
        return -1;
    int b = s->base[(size_t)ch * (size_t)cs->ntables + (size_t)x->table];
    return b < 0 ? -1 : b + x->stratum;
}

static int model_add_inequalities(struct ctx *c, struct chsys *s)
{
    struct rel r[REL_MAX];
    int n = catalog_relations(r);
    for (int i = 0; i < n; i++) {
        int layout = same_layout(s, r[i].a, r[i].b);
        for (int v = s->vstart[r[i].a]; v < s->vstart[r[i].a + 1]; v++) {
            int w = partner(s, c->cs, v, r[i].b, layout);
            if (w < 0)
                continue;
            if (term(s, v, 1) || term(s, w, -r[i].coef) ||
                row_end_kind(s, r[i].join ? ROW_LEJ : ROW_LE))
                return SUPPRESS_ENOMEM;
        }
    }
    /* an any-of numerator <= the sum of its parts */
    for (int m = 0; m < catalog_n_measures(); m++) {
        const struct measure_def *d = catalog_measure(m);
        if (!d->any_of || d->ch_numerator < 0)
            continue;
        int a = d->ch_numerator, layout = 1;
        for (int i = 0; d->any_of[i] >= 0; i++)
            layout &= same_layout(s, a, catalog_measure(d->any_of[i])->ch_numerator);
        for (int v = s->vstart[a]; v < s->vstart[a + 1]; v++) {
            int ok = 1, nt = 0;
            for (int i = 0; ok && d->any_of[i] >= 0; i++)
                ok = partner(s, c->cs, v, catalog_measure(d->any_of[i])->ch_numerator, layout) >= 0;
            if (!ok)
                continue;
            if (term(s, v, 1))
                return SUPPRESS_ENOMEM;
            for (int i = 0; d->any_of[i] >= 0; i++, nt++)
                if (term(s, partner(s, c->cs, v, catalog_measure(d->any_of[i])->ch_numerator, layout), -1))
                    return SUPPRESS_ENOMEM;
            if (row_end_kind(s, ROW_LE))
                return SUPPRESS_ENOMEM;
        }
    }
    /* a complement c = den - num: c <= den, and c + num = den as two
     * inequalities (an equation would join the three channels' components
     * into one LP) */
    for (int j = 0; j < s->ncomp; j++) {
        int a = s->nreal + j, ld = same_layout(s, a, s->den_ch[j]),
            ln = same_layout(s, a, s->num_ch[j]);
        for (int v = s->vstart[a]; v < s->vstart[a + 1]; v++) {
            int d = partner(s, c->cs, v, s->den_ch[j], ld), x = partner(s, c->cs, v, s->num_ch[j], ln);
            if (d < 0)
                continue;
            if (term(s, v, 1) || term(s, d, -1) || row_end_kind(s, ROW_LE))
                return SUPPRESS_ENOMEM;
            if (x < 0)
                continue;
            if (term(s, v, 1) || term(s, x, 1) || term(s, d, -1) || row_end_kind(s, ROW_LE) ||
                term(s, v, -1) || term(s, x, -1) || term(s, d, 1) || row_end_kind(s, ROW_LE))
                return SUPPRESS_ENOMEM;
        }
    }
    return 0;
}

static int hidden_init(const struct ctx *c, struct chsys *s);

/* Builds the model of what a reader knows (docs/design.md): every channel's
 * variables and equations, then the inequalities between channels. */
static int model_build(struct ctx *c, struct chsys **out)
{
    const struct cellset *cs = c->cs;
    struct chsys *s = calloc(1, sizeof *s);
    if (!s)
        return SUPPRESS_ENOMEM;
    s->nreal = catalog_n_channels();
    s->ncomp = c->ncomp;
    memcpy(s->num_ch, c->comp_num, sizeof s->num_ch);
    memcpy(s->den_ch, c->comp_den, sizeof s->den_ch);
    size_t nb = (size_t)(s->nreal + s->ncomp) * (size_t)(cs->ntables ? cs->ntables : 1);
    s->base = malloc(nb * sizeof *s->base);
    if (!s->base || ivec_push(&s->rptr, 0))
        goto nomem;
    for (size_t i = 0; i < nb; i++)
        s->base[i] = -1;
    for (int ch = 0; ch < s->nreal; ch++)
        if (model_add_channel(c, s, ch))
            goto nomem;
    for (int j = 0; j < s->ncomp; j++)
        if (model_add_complement(c, s, j))
            goto nomem;
    s->vstart[s->nreal + s->ncomp] = s->nv;
    s->cb = NULL;
    if (model_add_inequalities(c, s))
        goto nomem;
    /* variable -> rows */
    int nr = nrows(s);
    s->vrptr = calloc((size_t)s->nv + 1, sizeof *s->vrptr);
    s->vrows = malloc((size_t)(s->rvar.n ? s->rvar.n : 1) * sizeof *s->vrows);
    s->vmark = calloc((size_t)s->nv + 1, sizeof *s->vmark);
    s->hits = calloc((size_t)s->nv + 1, sizeof *s->hits);
    s->col = calloc((size_t)s->nv + 1, sizeof *s->col);
    s->rmark = calloc((size_t)nr + 1, sizeof *s->rmark);
    s->clab = calloc((size_t)s->nv + 1, sizeof *s->clab);
    s->lprow = calloc((size_t)nr + 1, sizeof *s->lprow);
    if (!s->vrptr || !s->vrows || !s->vmark || !s->hits || !s->col || !s->rmark || !s->clab ||
        !s->lprow)
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
    if (hidden_init(c, s))
        goto nomem;
    *out = s;
    return 0;
nomem:
    chsys_free(&s);
    return SUPPRESS_ENOMEM;
}

/* The denominator variable of complement variable v, or -1. */
static int comp_den_var(const struct ctx *c, const struct chsys *s, int v)
{
    const struct var *x = &s->v[v];
    if (x->channel < s->nreal || x->table < 0)
        return -1;
    int d = s->base[(size_t)s->den_ch[x->channel - s->nreal] * (size_t)c->cs->ntables +
                    (size_t)x->table];
    return d < 0 ? -1 : d + x->stratum;
}

/* Hidden: no carrier gives the value (outside pooled mode: none released);
 * a complement also when its denominator is hidden. */
static int var_hidden_now(const struct ctx *c, const struct chsys *s, int v)
{
    const struct var *x = &s->v[v];
    int d = comp_den_var(c, s, v);
    if (d >= 0 && var_hidden_now(c, s, d))
        return 1;
    for (int i = 0; i < x->ncarr; i++)
        if (carrier_state(c->p, &c->cs->cells[s->carriers.v[x->carr + i]]) >= CARR_EXACT)
            return 0;
    return 1;
}

static int var_hidden(const struct ctx *c, const struct chsys *s, int v)
{
    (void)c;
    return s->hid[v];
}

/* Sets up s->hid and the cell -> variables map that keeps it (var_hide). */
static int hidden_init(const struct ctx *c, struct chsys *s)
{
    size_t nc = c->cs->ncells;
    s->hid = malloc((size_t)s->nv + 1);
    s->cvptr = calloc(nc + 2, sizeof *s->cvptr);
    if (!s->hid || !s->cvptr)
        return -1;
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int v = 0; v < s->nv; v++) {
            int d = comp_den_var(c, s, v);
            for (int src = 0; src < (d >= 0 ? 2 : 1); src++) {
                const struct var *x = &s->v[src ? d : v];
                for (int i = 0; i < x->ncarr; i++) {
                    int cl = s->carriers.v[x->carr + i];
                    if (pass == 0)
                        s->cvptr[cl + 2]++;
                    else
                        s->cvars[s->cvptr[cl + 1]++] = v;
                }
            }
        }
        if (pass == 0) {
            for (size_t i = 0; i < nc; i++)
                s->cvptr[i + 2] += s->cvptr[i + 1];
            n = (size_t)s->cvptr[nc + 1];
            s->cvars = malloc((n ? n : 1) * sizeof *s->cvars);
            if (!s->cvars)
                return -1;
        }
    }
    for (int v = 0; v < s->nv; v++)
        s->hid[v] = (unsigned char)var_hidden_now(c, s, v);
    return 0;
}

/* Can withholding v's released carriers tell a reader less? Yes while a
 * carrier is released (a value or, pooled, a bound), unless a carrier is a
 * known zero. */
static int var_hideable(const struct ctx *c, const struct chsys *s, int v)
{
    const struct var *x = &s->v[v];
    int released = 0;
    if (x->table >= 0 && table_kind(c, x->table) != SUPPRESS_WORLD_NEW)
        return 0; /* an earlier release is what it was */
    for (int i = 0; i < x->ncarr; i++) {
        const struct cell *cl = &c->cs->cells[s->carriers.v[x->carr + i]];
        if (carrier_state(c->p, cl) == CARR_ZERO)
            return 0;
        released |= cl->reason == REASON_NONE;
    }
    return released;
}

/* The least value of a hidden variable: 0, or in pooled mode the largest
 * partial sum released for it (a lower bound of the true cell). */
static double var_lower(const struct ctx *c, const struct chsys *s, int v)
{
    const struct var *x = &s->v[v];
    double lb = 0;
    for (int i = 0; i < x->ncarr; i++) {
        const struct cell *cl = &c->cs->cells[s->carriers.v[x->carr + i]];
        if (carrier_state(c->p, cl) == CARR_LOWER) {
            double y = carrier_value(x->channel, cl);
            if (y > lb)
                lb = y;
        }
    }
    return lb;
}

/* Sets the bounds of LP column j from variable v. */
static void set_col_bounds(const struct ctx *c, const struct chsys *s, glp_prob *lp, int j, int v)
{
    double lb = var_lower(c, s, v);
    glp_set_col_bnds(lp, j, GLP_LO, lb, lb);
}

/* Withholds every released carrier of v (reason secondary). */
static void var_hide(struct ctx *c, struct chsys *s, int v)
{
    const struct var *x = &s->v[v];
    if (x->table >= 0 && table_kind(c, x->table) != SUPPRESS_WORLD_NEW)
        return;
    for (int i = 0; i < x->ncarr; i++) {
        struct cell *cl = &c->cs->cells[s->carriers.v[x->carr + i]];
        if (cl->reason == REASON_NONE) {
            cl->reason = REASON_SECONDARY;
            if (c->rep)
                c->rep->secondary++;
            int ci = s->carriers.v[x->carr + i];
            for (int j = s->cvptr[ci]; j < s->cvptr[ci + 1]; j++)
                s->hid[s->cvars[j]] = (unsigned char)var_hidden_now(c, s, s->cvars[j]);
        }
    }
}

/* Bounds of hidden variable v from each of its equations alone (v = the
 * released terms - the other hidden terms, those all >= 0). */
static void eq_bounds(const struct ctx *c, const struct chsys *s, int v, double *lo, double *hi);

/* The hidden component of v: comp[] (variables connected through
 * equations, and outside pooled mode through member months <= 12 x members,
 * ROW_LEJ) and rows[] (every row touching one of them). Uses s->vmark /
 * s->rmark with a fresh stamp. Other inequalities do not join components,
 * which keeps the LPs the size of a channel's (with its months): a hidden
 * variable of another component in an inequality stands there for its
 * bound from single equations (eq_bounds), and the row is left out when
 * that is infinite (a known limit, docs/design.md). */
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
            if (s->rkind.v[r] != ROW_EQ && (s->rkind.v[r] != ROW_LEJ || c->p->pooled))
                continue;
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

/* How far the range [lo, hi] falls short of the requirement on each side:
 * *up for the maximum, *down for the minimum (<= 0 when that side is met). */
static void req_sides(const struct req *r, int k, double lo, double hi, double *up,
                      double *down)
{
    double tol = TOL * (fabs(r->x) > 1 ? fabs(r->x) : 1);
    switch (r->type) {
    case REQ_COUNT:
        *up = hi >= k - TOL ? 0 : k - hi;
        *down = lo < 1 - TOL ? 0 : lo + TOL;
        break;
    case REQ_COMPLEMENT:
        *up = hi > r->d - 1 + TOL ? 0 : r->d - hi;
        *down = lo <= r->d - k + TOL ? 0 : lo - (r->d - k);
        break;
    default:
        *up = hi >= r->x + r->mc - tol ? 0 : r->x + r->mc - hi;
        *down = r->type == REQ_UPPER || lo <= r->x - r->mc + tol ? 0 : lo - (r->x - r->mc);
        break;
    }
}

/* How far the range falls short of the requirement (0 when met). */
static double req_deficit(const struct req *r, int k, double lo, double hi)
{
    double up, down;
    req_sides(r, k, lo, hi, &up, &down);
    double d = up > down ? up : down;
    if (d <= 0)
        return 0;
    return d > TOL ? d : TOL;
}

/* The deficit to assume when the released numbers are inconsistent. */
static double req_pinned_deficit(const struct req *r, int k)
{
    return (r->type == REQ_DOMINANCE || r->type == REQ_UPPER) && r->mc > k ? r->mc : (double)k;
}

static int req_var(const struct ctx *c, const struct req *r)
{
    return c->m->base[r->channel * c->cs->ntables + r->table] + r->stratum;
}

/* ---- choosing a complement --------------------------------------------------- */

#define FAR_LARGER 8.0   /* a covering cell this many deficits large is "far larger" */
#define PROGRESS 0.25    /* ... and is passed over for a smaller one covering this share */

struct cand {
    int var, hits, newly;
    double value;
};

static int cand_tie(const struct cand *a, const struct cand *b)
{
    if (a->newly != b->newly)
        return a->newly < b->newly;
    return a->var < b->var;
}

/* Picks a released variable of rows[0..n-1] to withhold against deficit;
 * s->hits must hold each candidate's count of opened equations. -1 when
 * there is none. Order: non-zero, most hits, then the smallest covering
 * the deficit unless it is far larger than the deficit and a smaller one
 * makes substantial progress (then the largest such). */
static int pick(const struct ctx *c, const struct chsys *s, const int *rows, int n,
                double deficit, int bounds_too)
{
    int best_nz = -1, best_hits = -1;
    for (int i = 0; i < n; i++) {
        int r = rows[i];
        for (int e = s->rptr.v[r]; e < s->rptr.v[r + 1]; e++) {
            int w = s->rvar.v[e];
            if (!var_hideable(c, s, w) || (!bounds_too && var_hidden(c, s, w)))
                continue;
            int nz = s->v[w].value > 0;
            if (nz > best_nz || (nz == best_nz && s->hits[w] > best_hits)) {
                best_nz = nz;
                best_hits = s->hits[w];
            }
        }
    }
    if (best_nz < 0)
        return -1;
    struct cand cov = {-1, 0, 0, 0}, low = {-1, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        int r = rows[i];
        for (int e = s->rptr.v[r]; e < s->rptr.v[r + 1]; e++) {
            int w = s->rvar.v[e];
            if ((s->v[w].value > 0) != best_nz || s->hits[w] != best_hits ||
                !var_hideable(c, s, w) || (!bounds_too && var_hidden(c, s, w)))
                continue;
            struct cand k = {w, s->hits[w], 0, s->v[w].value};
            for (int j = 0; j < s->v[w].ncarr; j++)
                if (c->cs->cells[s->carriers.v[s->v[w].carr + j]].reason == REASON_NONE)
                    k.newly++;
            if (k.value >= deficit) {
                /* cost-weighted: the fewest cells newly withheld, then
                 * the smallest */
                if (cov.var < 0 || k.newly < cov.newly ||
                    (k.newly == cov.newly && (k.value < cov.value ||
                                              (k.value == cov.value && cand_tie(&k, &cov)))))
                    cov = k;
            } else if (low.var < 0 || k.value > low.value ||
                       (k.value == low.value && cand_tie(&k, &low))) {
                low = k;
            }
        }
    }
    if (cov.var >= 0 && (low.var < 0 || cov.value <= FAR_LARGER * deficit ||
                         low.value < PROGRESS * deficit))
        return cov.var;
    return low.var;
}

/* ---- phase 1: bounds from single equations ------------------------------------- */

static void eq_bounds(const struct ctx *c, const struct chsys *s, int v, double *lo, double *hi)
{
    *lo = var_lower(c, s, v);
    *hi = HUGE_VAL;
    for (int q = s->vrptr[v]; q < s->vrptr[v + 1]; q++) {
        int row = s->vrows[q], same = 0, opp = 0;
        double av = 0, rhs = 0;
        if (s->rkind.v[row] != ROW_EQ)
            continue;
        for (int e = s->rptr.v[row]; e < s->rptr.v[row + 1]; e++)
            if (s->rvar.v[e] == v)
                av += s->rcoef.v[e];
        if (av == 0)
            continue;
        for (int e = s->rptr.v[row]; e < s->rptr.v[row + 1]; e++) {
            int w = s->rvar.v[e];
            double a = s->rcoef.v[e];
            if (w == v)
                continue;
            if (var_hidden(c, s, w)) {
                if (a * av > 0)
                    same++;
                else
                    opp++;
            } else {
                rhs -= a * s->v[w].value;
            }
        }
        double b = rhs / av;
        if (!opp && b < *hi)
            *hi = b;
        if (!same && b > *lo)
            *lo = b;
    }
    if (*hi < *lo)
        *hi = *lo; /* rounding of non-integer sums */
}

/* Bounds of v from each of its rows alone (necessary conditions). Rows
 * whose own bound fails r are listed in fail (when not NULL). Returns the
 * deficit (0 when the bounds do not show a failure). */
static double cheap_check(const struct ctx *c, struct chsys *s, const struct req *r, int v,
                          struct ivec *fail, int *nomem)
{
    double lo = 0, hi = HUGE_VAL;
    int k = c->p->k;
    if (fail)
        fail->n = 0;
    for (int q = s->vrptr[v]; q < s->vrptr[v + 1]; q++) {
        int row = s->vrows[q], same = 0, opp = 0;
        double av = 0, rhs = 0, scale = 0;
        if (s->rkind.v[row] != ROW_EQ)
            continue; /* inequalities: left to the LP */
        for (int e = s->rptr.v[row]; e < s->rptr.v[row + 1]; e++)
            if (s->rvar.v[e] == v)
                av += s->rcoef.v[e];
        if (av == 0)
            continue;
        for (int e = s->rptr.v[row]; e < s->rptr.v[row + 1]; e++) {
            int w = s->rvar.v[e];
            double a = s->rcoef.v[e];
            if (w == v)
                continue;
            if (var_hidden(c, s, w)) {
                if (a * av > 0)
                    same++;
                else
                    opp++;
            } else {
                rhs -= a * s->v[w].value;
                scale += fabs(s->v[w].value);
            }
        }
        if (fabs(rhs) <= 1e-12 * scale)
            rhs = 0;
        double b = rhs / av, rlo = 0, rhi = HUGE_VAL;
        if (same && opp)
            continue;
        if (!opp)
            rhi = b;
        if (!same && b > rlo)
            rlo = b;
        if (rlo > lo)
            lo = rlo;
        if (rhi < hi)
            hi = rhi;
        if (fail && req_deficit(r, k, rlo, rhi) > 0 && ivec_push(fail, row)) {
            *nomem = 1;
            return 0;
        }
    }
    return req_deficit(r, k, lo, hi);
}

/* Phase 1 for one requirement: withholds complements among the released
 * cells of its failing equations until its single-equation bounds pass;
 * lists them in added (when not NULL).
 * *stuck is set when no candidate is left (the LP phase reports it). */
static int cheap_fix(struct ctx *c, const struct req *r, struct ivec *fail, int *stuck,
                     struct ivec *added)
{
    struct chsys *s = c->m;
    int v = req_var(c, r), nomem = 0;
    *stuck = 0;
    for (;;) {
        double deficit = cheap_check(c, s, r, v, fail, &nomem);
        if (nomem)
            return SUPPRESS_ENOMEM;
        if (deficit == 0)
            return 0;
        for (int i = 0; i < fail->n; i++) {
            int row = fail->v[i];
            for (int e = s->rptr.v[row]; e < s->rptr.v[row + 1]; e++)
                s->hits[s->rvar.v[e]] = 0;
        }
        for (int i = 0; i < fail->n; i++) {
            int row = fail->v[i];
            for (int e = s->rptr.v[row]; e < s->rptr.v[row + 1]; e++)
                s->hits[s->rvar.v[e]]++;
        }
        int w = pick(c, s, fail->v, fail->n, deficit, 0);
        if (w < 0) {
            *stuck = 1;
            return 0;
        }
        var_hide(c, s, w);
        if (added && ivec_push(added, w))
            return SUPPRESS_ENOMEM;
    }
}

/* ---- phase 2: one LP per component ---------------------------------------------- */

#define NWITNESS 8     /* optimal solutions kept per component LP */

struct complp {
    glp_prob *lp;
    int target;        /* column whose objective coefficient is 1, or 0 */
    int ncols;
    double *wit;       /* NWITNESS solutions of ncols values: feasible
                          points, whose extremes are inner bounds of every
                          variable's range and spare many solves          */
    int nwit, next;
    double *eps;       /* per row: rounding allowed once relaxed        */
    int relaxed;       /* rows are ranges rhs +- eps (after infeasible)  */
};

static void complp_clear(struct complp *L)
{
    if (L->lp)
        glp_delete_prob(L->lp);
    free(L->wit);
    free(L->eps);
    memset(L, 0, sizeof *L);
}

/* Tightens column j's bounds by a * x <= rhs. */
static void col_tighten(glp_prob *lp, int j, double a, double rhs)
{
    int t = glp_get_col_type(lp, j);
    double lb = glp_get_col_lb(lp, j), ub = glp_get_col_ub(lp, j);
    int has_ub = t == GLP_UP || t == GLP_DB || t == GLP_FX;
    int has_lb = t == GLP_LO || t == GLP_DB || t == GLP_FX;
    double b = rhs / a;
    if (a > 0 && (!has_ub || b < ub)) {
        ub = b;
        has_ub = 1;
    } else if (a < 0 && (!has_lb || b > lb)) {
        lb = b;
        has_lb = 1;
    } else {
        return;
    }
    if (has_lb && has_ub && ub < lb)
        ub = lb; /* rounding: the true values satisfy both */
    glp_set_col_bnds(lp, j, has_lb && has_ub ? (ub > lb ? GLP_DB : GLP_FX) : has_ub ? GLP_UP : GLP_LO,
                     has_lb ? lb : 0, has_ub ? ub : 0);
}

/* Builds the LP of the component just found by component(): one column per
 * hidden variable (>= 0), one fixed row per equation. */
static int complp_build(const struct ctx *c, struct chsys *s, const struct ivec *comp,
                        const struct ivec *rows, struct complp *L)
{
    int ne = 0;
    for (int i = 0; i < rows->n; i++)
        ne += s->rptr.v[rows->v[i] + 1] - s->rptr.v[rows->v[i]];
    int *ia = malloc(((size_t)ne + 1) * sizeof *ia);
    int *ja = malloc(((size_t)ne + 1) * sizeof *ja);
    double *ar = malloc(((size_t)ne + 1) * sizeof *ar);
    int rc = SUPPRESS_ENOMEM;
    complp_clear(L);
    L->ncols = comp->n;
    L->wit = malloc((size_t)NWITNESS * (size_t)(comp->n ? comp->n : 1) * sizeof *L->wit);
    L->eps = malloc(((size_t)rows->n + 1) * sizeof *L->eps);
    if (!ia || !ja || !ar || !L->wit || !L->eps)
        goto out;
    for (int i = 0; i < comp->n; i++)
        s->col[comp->v[i]] = i + 1;
    L->lp = glp_create_prob();
    double *rrhs = malloc(((size_t)rows->n + 1) * sizeof *rrhs);
    if (!rrhs)
        goto out;
    glp_add_cols(L->lp, comp->n);
    for (int i = 0; i < comp->n; i++)
        set_col_bounds(c, s, L->lp, i + 1, comp->v[i]);
    int n = 0, nl = 0;
    for (int i = 0; i < rows->n; i++) {
        int r = rows->v[i], drop = 0, n0 = n;
        double rhs = 0, scale = 0;
        for (int e = s->rptr.v[r]; e < s->rptr.v[r + 1]; e++) {
            int w = s->rvar.v[e];
            double a = s->rcoef.v[e];
            if (s->vmark[w] == s->stamp) {
                n++;
                ia[n] = nl + 1;
                ja[n] = s->col[w];
                ar[n] = a;
            } else if (s->rkind.v[r] != ROW_EQ && var_hidden(c, s, w)) {
                /* another component's variable: its least term */
                double lo, hi;
                eq_bounds(c, s, w, &lo, &hi);
                double b = a < 0 ? hi : lo;
                if (b == HUGE_VAL)
                    drop = 1;
                else
                    rhs -= a * b;
            } else {
                rhs -= a * s->v[w].value;
            }
            scale += fabs(s->v[w].value);
        }
        /* Integers: exact below 2^53 (no slack); beyond, a row may be
         * off by the rounding of its doubles. Rows are exact first and
         * relaxed only when infeasible. */
        double eps = scale < EXACT_BELOW ? 0 : DOUBLE_REL * scale;
        if (fabs(rhs) <= eps)
            rhs = 0;
        s->lprow[r] = 0;
        if (s->rkind.v[r] != ROW_EQ && (drop || n == n0 + 1)) {
            /* an inequality with one column is a bound of it; one with
             * an unbounded term says nothing: neither is a row */
            if (!drop)
                col_tighten(L->lp, ja[n], ar[n], rhs + eps);
            n = n0;
            continue;
        }
        L->eps[nl] = eps;
        rrhs[nl] = rhs;
        s->lprow[r] = ++nl;
    }
    if (nl)
        glp_add_rows(L->lp, nl);
    for (int i = 0; i < rows->n; i++) {
        int r = rows->v[i], lr = s->lprow[r];
        if (lr)
            glp_set_row_bnds(L->lp, lr, s->rkind.v[r] == ROW_EQ ? GLP_FX : GLP_UP, rrhs[lr - 1],
                             rrhs[lr - 1]);
    }
    free(rrhs);
    if (n)
        glp_load_matrix(L->lp, n, ia, ja, ar);
    /* No scaling: every coefficient is +-1 (scaling cost more than it saved). */
    glp_adv_basis(L->lp, 0);
    rc = 0;
out:
    free(ia);
    free(ja);
    free(ar);
    return rc;
}

/* Adds the newly withheld variable w to the component LP as a column, when
 * all its equations are already rows of it (the basis is kept: a warm
 * start). Returns 0, 1 when the LP must be rebuilt instead, or
 * SUPPRESS_ENOMEM. */
static int complp_extend(const struct ctx *c, struct chsys *s, struct complp *L,
                         struct ivec *comp, int w)
{
    int n = s->vrptr[w + 1] - s->vrptr[w];
    if (s->vmark[w] == s->stamp) {
        /* a bound withheld (pooled): the column is there, with new bounds */
        set_col_bounds(c, s, L->lp, s->col[w], w);
        L->nwit = L->next = 0;
        return 0;
    }
    for (int q = s->vrptr[w]; q < s->vrptr[w + 1]; q++)
        if (s->rmark[s->vrows[q]] != s->stamp || s->rkind.v[s->vrows[q]] != ROW_EQ)
            return 1;
    int *ind = malloc(((size_t)n + 1) * sizeof *ind);
    double *val = malloc(((size_t)n + 1) * sizeof *val);
    double *wit = realloc(L->wit, (size_t)NWITNESS * (size_t)(L->ncols + 1) * sizeof *wit);
    if (wit)
        L->wit = wit;
    if (!ind || !val || !wit || ivec_push(comp, w)) {
        free(ind);
        free(val);
        return SUPPRESS_ENOMEM;
    }
    int m = 0;
    for (int q = s->vrptr[w]; q < s->vrptr[w + 1]; q++) {
        int r = s->vrows[q], lr = s->lprow[r];
        double a = 0;
        for (int e = s->rptr.v[r]; e < s->rptr.v[r + 1]; e++)
            if (s->rvar.v[e] == w)
                a += s->rcoef.v[e];
        int seen = 0;
        for (int i = 1; i <= m; i++)
            seen |= ind[i] == lr;
        if (seen || a == 0)
            continue;
        /* the released term a * value moves into the column */
        double lb = glp_get_row_lb(L->lp, lr) + a * s->v[w].value;
        double ub = glp_get_row_ub(L->lp, lr) + a * s->v[w].value;
        if (L->eps[lr - 1] > 0) /* the term is in the row's magnitude already */
            L->eps[lr - 1] += fabs(a * s->v[w].value) * DOUBLE_REL;
        if (glp_get_row_type(L->lp, lr) == GLP_UP)
            glp_set_row_bnds(L->lp, lr, GLP_UP, ub, ub);
        else if (ub > lb)
            glp_set_row_bnds(L->lp, lr, GLP_DB, lb, ub);
        else
            glp_set_row_bnds(L->lp, lr, GLP_FX, lb, lb);
        m++;
        ind[m] = lr;
        val[m] = a;
    }
    int j = glp_add_cols(L->lp, 1);
    set_col_bounds(c, s, L->lp, j, w);
    if (m)
        glp_set_mat_col(L->lp, j, m, ind, val);
    free(ind);
    free(val);
    s->col[w] = j;
    s->vmark[w] = s->stamp;
    L->ncols = j;
    L->nwit = L->next = 0; /* kept solutions have one column less */
    return 0;
}

/* Optimises column col in direction dir on the component LP (warm start
 * from the current basis; the standard basis if that fails). Returns the
 * value, or NAN when infeasible or the solver failed. */
static double complp_solve(struct ctx *c, struct complp *L, int col, int dir)
{
    if (L->target != col) {
        if (L->target)
            glp_set_obj_coef(L->lp, L->target, 0.0);
        glp_set_obj_coef(L->lp, col, 1.0);
        L->target = col;
    }
    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    parm.presolve = GLP_OFF;
    glp_set_obj_dir(L->lp, dir == 0 ? GLP_MIN : GLP_MAX);
    /* an iteration limit, so that a stalling solve cannot hang the node */
    parm.it_lim = 1000 + 50 * (glp_get_num_rows(L->lp) + L->ncols);
    int ret = glp_simplex(L->lp, &parm);
    c->rep->lp_solves++;
    if (ret != 0) {
        glp_std_basis(L->lp);
        ret = glp_simplex(L->lp, &parm);
        c->rep->lp_solves++;
    }
    int st = ret == 0 ? glp_get_status(L->lp) : GLP_UNDEF;
    if (st != GLP_OPT && st != GLP_UNBND && !L->relaxed) {
        /* rounding of non-integer sums: allow each row its eps, once */
        int nr = glp_get_num_rows(L->lp);
        for (int i = 1; i <= nr; i++) {
            double lb = glp_get_row_lb(L->lp, i), e = L->eps[i - 1];
            if (e > 0 && glp_get_row_type(L->lp, i) == GLP_UP)
                glp_set_row_bnds(L->lp, i, GLP_UP, 0, glp_get_row_ub(L->lp, i) + e);
            else if (e > 0)
                glp_set_row_bnds(L->lp, i, GLP_DB, lb - e, lb + e);
        }
        L->relaxed = 1;
        L->nwit = L->next = 0;
        glp_std_basis(L->lp);
        ret = glp_simplex(L->lp, &parm);
        c->rep->lp_solves++;
        st = ret == 0 ? glp_get_status(L->lp) : GLP_UNDEF;
    }
    if (st == GLP_OPT) {
        double *w = L->wit + (size_t)L->next * (size_t)L->ncols;
        for (int j = 0; j < L->ncols; j++)
            w[j] = glp_get_col_prim(L->lp, j + 1);
        L->next = (L->next + 1) % NWITNESS;
        if (L->nwit < NWITNESS)
            L->nwit++;
        return glp_get_obj_val(L->lp);
    }
    if (st == GLP_UNBND)
        return dir == 0 ? -HUGE_VAL : HUGE_VAL;
    return NAN;
}

/* The range of v (in the component of L; s->col valid) as far as
 * requirement r needs it: a side that a kept solution (or the true values)
 * already takes far enough is not solved. */
static void complp_range(struct ctx *c, struct chsys *s, struct complp *L, const struct req *r,
                         int v, double *lo, double *hi, int *status)
{
    *status = RANGE_OK;
    int col = s->col[v];
    if (glp_get_num_rows(L->lp) == 0) { /* in no equation (a lone total): its bounds */
        int t = glp_get_col_type(L->lp, col);
        *lo = glp_get_col_lb(L->lp, col);
        *hi = t == GLP_UP || t == GLP_DB || t == GLP_FX ? glp_get_col_ub(L->lp, col) : HUGE_VAL;
        if (t == GLP_FR || t == GLP_UP)
            *lo = -HUGE_VAL;
        return;
    }
    /* The true values are a solution, except in pooled mode, where the
     * protected value may be a partial sum: there only kept solutions. */
    double wlo = c->p->pooled ? HUGE_VAL : s->v[v].value, whi = c->p->pooled ? -HUGE_VAL : wlo;
    double up, down;
    for (int i = 0; i < L->nwit; i++) {
        double x = L->wit[(size_t)i * (size_t)L->ncols + (size_t)(col - 1)];
        if (x < wlo)
            wlo = x;
        if (x > whi)
            whi = x;
    }
    req_sides(r, c->p->k, wlo, whi, &up, &down);
    *lo = down <= 0 ? wlo : complp_solve(c, L, col, 0);
    *hi = isnan(*lo) ? NAN : up <= 0 ? whi : complp_solve(c, L, col, 1);
    if (isnan(*lo) || isnan(*hi)) {
        /* Infeasible (released numbers inconsistent) or a solver failure:
         * treat the value as pinned, so more is withheld. */
        *status = RANGE_INFEASIBLE;
        *lo = *hi = s->v[v].value;
    }
}

/* Chooses a complement for a requirement that failed on the component LP:
 * among the equations binding on the failing side (non-zero duals after
 * optimising it again) and those pinning a hidden variable, else among all
 * the component's equations. Counts
 * in s->hits the equations each candidate opens that pin a hidden variable. */
static int lp_choose(struct ctx *c, struct chsys *s, struct complp *L, const struct ivec *rows,
                     int v, int side_max, double deficit, struct ivec *bind)
{
    bind->n = 0;
    int solved = glp_get_num_rows(L->lp) > 0 && !isnan(complp_solve(c, L, s->col[v], side_max));
    if (solved) {
        for (int i = 0; i < rows->n; i++) {
            int lr = s->lprow[rows->v[i]];
            if (lr && fabs(glp_get_row_dual(L->lp, lr)) > 1e-9 && ivec_push(bind, rows->v[i]))
                return -2;
        }
    }
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
        if (nh != 1 || s->rkind.v[r] != ROW_EQ)
            continue;
        if (bind->n && ivec_push(bind, r))
            return -2;
        for (int e = s->rptr.v[r]; e < s->rptr.v[r + 1]; e++) {
            int w = s->rvar.v[e];
            if (s->vmark[w] != s->stamp)
                s->hits[w]++;
        }
    }
    /* candidates: the binding equations and those pinning a variable */
    int w = bind->n ? pick(c, s, bind->v, bind->n, deficit, 0) : -1;
    if (w < 0 && c->p->pooled && solved) {
        /* pooled: a released bound that binds (non-zero reduced cost), the
         * smallest */
        for (int i = 0; i < s->nv; i++)
            if (s->vmark[i] == s->stamp && var_hideable(c, s, i) &&
                fabs(glp_get_col_dual(L->lp, s->col[i])) > 1e-9 &&
                (w < 0 || s->v[i].value < s->v[w].value))
                w = i;
    }
    if (w < 0)
        w = pick(c, s, rows->v, rows->n, deficit, 0);
    if (w < 0 && c->p->pooled)
        w = pick(c, s, rows->v, rows->n, deficit, 1);
    return w;
}

static int cmp_lab(const void *a, const void *b)
{
    const int *x = a, *y = b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

static void log_stuck(const struct ctx *c, const struct req *r)
{
    char lbl[160];
    cellset_stratum_label(c->cs, &(struct cell){.table = r->table, .stratum = r->stratum},
                          lbl, sizeof lbl);
    log_warnx("suppression: no complement left to protect %s stratum %s (channel %d)",
              c->cs->tables[r->table].name, lbl, r->channel);
}

/* Pooled mode: another channel's variable w tied to v by an inequality
 * (member months <= 12 x members, an eligible population <= its parent...)
 * bounds v in v's LP by w's value when w is released, or by w's
 * single-equation bound when w is hidden in another component
 * (component()); no complement of v's own component widens either. Before
 * complements are chosen for v, each such table cell w whose row bounds v
 * on the failing side (up: v's upper side) is withheld if it is released,
 * and given the p% range of its own value by phase 1 on its own equations,
 * as a min_orgs cell's channel would be. Returns the number of cells
 * withheld, or SUPPRESS_ENOMEM. */
static int open_coupled(struct ctx *c, struct chsys *s, int v, int up, struct ivec *fail)
{
    uint64_t before = c->rep->secondary;
    for (int q = s->vrptr[v]; q < s->vrptr[v + 1]; q++) {
        int row = s->vrows[q];
        if (s->rkind.v[row] == ROW_EQ)
            continue;
        double av = 0;
        for (int e = s->rptr.v[row]; e < s->rptr.v[row + 1]; e++)
            if (s->rvar.v[e] == v)
                av += s->rcoef.v[e];
        if ((av > 0) != (up != 0) || av == 0)
            continue; /* bounds v on the other side */
        for (int e = s->rptr.v[row]; e < s->rptr.v[row + 1]; e++) {
            int w = s->rvar.v[e];
            const struct var *x = &s->v[w];
            if (w == v || x->table < 0 || !(x->value > 0) || s->vmark[w] == s->stamp)
                continue;
            if (!var_hidden(c, s, w)) {
                if (!var_hideable(c, s, w))
                    continue;
                var_hide(c, s, w);
            }
            struct req rw = {x->channel, x->table, x->stratum, REQ_DOMINANCE, x->value, 0,
                             c->p->dominance_protection * x->value};
            int stuck;
            if (cheap_fix(c, &rw, fail, &stuck, NULL))
                return SUPPRESS_ENOMEM;
        }
    }
    return (int)(c->rep->secondary - before);
}

/* The LP phase over the requirements pend[0..n-1] (indices in rq): groups
 * them by component and builds one LP per component, on which each member
 * is minimised and maximised. A failing requirement gets complements (LP
 * choice, then phase 1) until it is met, the component's LP being rebuilt
 * after each.
 * Requirements that stay unmet are counted in *unmet. */
static int lp_phase(struct ctx *c, const struct reqs *rq, const int *pend, int n,
                    struct ivec *fail, int *unmet)
{
    struct ivec comp = {0}, rows = {0}, bind = {0}, added = {0};
    int rc = SUPPRESS_ENOMEM;
    int *lab = malloc(((size_t)n + 1) * 2 * sizeof *lab);
    struct complp L = {NULL, 0, 0, NULL, 0, 0, NULL, 0};
    int first_label = c->label;
    if (!lab)
        goto out;
    for (int i = 0; i < n; i++) {
        const struct req *r = &rq->v[pend[i]];
        struct chsys *s = c->m;
        int v = req_var(c, r);
        /* labels given in this call are > first_label */
        if (s->clab[v] <= first_label) {
            if (component(c, s, v, &comp, &rows))
                goto out;
            c->label++;
            for (int j = 0; j < comp.n; j++)
                s->clab[comp.v[j]] = c->label;
        }
        lab[2 * i] = s->clab[v];
        lab[2 * i + 1] = pend[i];
    }
    qsort(lab, (size_t)n, 2 * sizeof *lab, cmp_lab);
    for (int g = 0; g < n;) {
        int h = g, build = 1;
        while (h < n && lab[2 * h] == lab[2 * g])
            h++;
        /* Components only grow as cells are withheld, so every requirement
         * of the group stays in the component of a rebuilt LP. */
        for (int i = g; i < h; i++) {
            const struct req *r = &rq->v[lab[2 * i + 1]];
            struct chsys *s = c->m;
            int v = req_var(c, r);
            /* pooled: the sides (1 up, 2 down) open_coupled was tried on */
            int coupled = c->p->pooled ? 0 : 3;
            if (!build && s->vmark[v] != s->stamp)
                build = 1; /* not a column of the group's LP */
            for (;;) {
                int st, nomem = 0, stuck;
                double lo, hi, up, down;
                if (build) {
                    if (component(c, s, v, &comp, &rows) || complp_build(c, s, &comp, &rows, &L))
                        goto out;
                    build = 0;
                }
                double deficit = cheap_check(c, s, r, v, NULL, &nomem);
                if (deficit == 0) {
                    complp_range(c, s, &L, r, v, &lo, &hi, &st);
                    if (st == RANGE_OK) {
                        deficit = req_deficit(r, c->p->k, lo, hi);
                        req_sides(r, c->p->k, lo, hi, &up, &down);
                    } else {
                        deficit = req_pinned_deficit(r, c->p->k);
                        up = deficit;
                        down = 0;
                    }
                } else {
                    up = deficit;
                    down = 0;
                }
                if (deficit == 0)
                    break; /* met, and stays met: withholding only widens */
                int side = up >= down ? 1 : 2;
                if (!(coupled & side)) {
                    coupled |= side;
                    int e = open_coupled(c, s, v, side == 1, fail);
                    if (e < 0)
                        goto out;
                    if (e > 0) {
                        build = 1;
                        continue;
                    }
                }
                int w = lp_choose(c, s, &L, &rows, v, up >= down, deficit, &bind);
                if (w == -2)
                    goto out;
                if (w < 0) {
                    log_stuck(c, r);
                    (*unmet)++;
                    break;
                }
                var_hide(c, s, w);
                added.n = 0;
                if (ivec_push(&added, w) || (rc = cheap_fix(c, r, fail, &stuck, &added)) != 0)
                    goto out;
                rc = SUPPRESS_ENOMEM;
                for (int j = 0; j < added.n && !build; j++) {
                    int e = complp_extend(c, s, &L, &comp, added.v[j]);
                    if (e < 0)
                        goto out;
                    build = e;
                }
            }
        }
        complp_clear(&L);
        g = h;
    }
    rc = 0;
out:
    complp_clear(&L);
    free(lab);
    free(comp.v);
    free(rows.v);
    free(bind.v);
    free(added.v);
    return rc;
}

/* The complement channel of cell cl's measure, or -1. */
static int comp_channel(const struct ctx *c, const struct cell *cl)
{
    if (cl->measure < 0 || cl->measure >= catalog_n_measures() || c->comp_of[cl->measure] < 0)
        return -1;
    return catalog_n_channels() + c->comp_of[cl->measure];
}

static int is_primary(cell_reason r)
{
    return r == REASON_COUNT || r == REASON_COMPLEMENT || r == REASON_DENOMINATOR ||
           r == REASON_DOMINANCE;
}

/* Checks the worlds against cs: kinds, one world per table, links inside
 * their tables, the new release in a world of its own kind. */
static int worlds_ok(const struct cellset *cs, const struct suppress_worlds *w)
{
    if (!w)
        return 1;
    if (w->nworlds < 1 || !w->kind || (cs->ntables && !w->table_world) ||
        (w->nlinks && !w->links))
        return 0;
    for (int i = 0; i < w->nworlds; i++)
        if (w->kind[i] < SUPPRESS_WORLD_NEW || w->kind[i] > SUPPRESS_WORLD_DIFFERENCE)
            return 0;
    for (int t = 0; t < cs->ntables; t++)
        if (w->table_world[t] < 0 || w->table_world[t] >= w->nworlds)
            return 0;
    for (size_t i = 0; i < w->nlinks; i++) {
        const struct suppress_link *l = &w->links[i];
        int tabs[3] = {l->table, l->part_table[0], l->part_table[1]};
        int strs[3] = {l->stratum, l->part_stratum[0], l->part_stratum[1]};
        for (int j = 0; j < 3; j++) {
            if (j > 0 && tabs[j] < 0)
                continue;
            if (tabs[j] < 0 || tabs[j] >= cs->ntables || strs[j] < 0 ||
                strs[j] >= cs->tables[tabs[j]].nstrata)
                return 0;
        }
    }
    return 1;
}

int suppress_apply(struct cellset *cs, const struct suppress_params *pin,
                   struct suppress_report *rep)
{
    return suppress_apply_worlds(cs, pin, NULL, rep);
}

int suppress_apply_worlds(struct cellset *cs, const struct suppress_params *pin,
                          const struct suppress_worlds *worlds, struct suppress_report *rep)
{
    struct suppress_params p;
    struct suppress_report local;
    struct reqs rq = {0};
    struct ivec fail = {0};
    int *pend = NULL;
    struct ctx c;
    int rc = 0;
    memset(&c, 0, sizeof c);
    if (pin)
        p = *pin;
    else
        suppress_params_init(&p);
    if (p.dominance_protection == 0)
        p.dominance_protection = SUPPRESS_DEFAULT_DOMINANCE_PROTECTION;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    if (!cs || p.k < 1 || p.k > 1000000 || !(p.dominance > 0 && p.dominance <= 1) ||
        !(p.dominance_protection > 0 && p.dominance_protection <= 1) || !worlds_ok(cs, worlds))
        return SUPPRESS_EINVAL;
    cs->k = p.k;
    cs->dominance = p.dominance;
    c.cs = cs;
    c.p = &p;
    c.rep = rep;
    c.w = worlds;
    for (int m = 0; m < CATALOG_MAX_MEASURES; m++)
        c.comp_of[m] = -1;
    if (!p.pooled) /* pooled: partial cells bound a complement from neither side */
        c.ncomp = complement_pairs(c.comp_num, c.comp_den, c.comp_of);
    if ((rc = cindex_build(&c.ix, cs)))
        goto out;

    /* Primary. */
    for (size_t i = 0; i < cs->ncells; i++) {
        struct cell *cl = &cs->cells[i];
        int kind = table_kind(&c, cl->table);
        if (kind == SUPPRESS_WORLD_DIFFERENCE && cl->reason == REASON_NONE) {
            rc = SUPPRESS_EINVAL; /* a difference is never released */
            goto out;
        }
        if ((kind == SUPPRESS_WORLD_DIFFERENCE ||
             (kind == SUPPRESS_WORLD_EARLIER && is_primary(cl->reason))) &&
            cell_reqs(&rq, cl, &p, comp_channel(&c, cl))) {
            rc = SUPPRESS_ENOMEM;
            goto out;
        }
        if (kind == SUPPRESS_WORLD_EARLIER && p.pooled && cl->reason == REASON_MIN_ORGS &&
            min_orgs_reqs(&rq, cl, &p)) {
            rc = SUPPRESS_ENOMEM;
            goto out;
        }
        if (kind != SUPPRESS_WORLD_NEW)
            continue; /* what was released before stays as it was */
        if (reason_is_kept(cl->reason)) {
            if (p.pooled && cl->reason == REASON_MIN_ORGS && min_orgs_reqs(&rq, cl, &p)) {
                rc = SUPPRESS_ENOMEM;
                goto out;
            }
            continue;
        }
        cl->reason = suppress_primary_reason(cl, &p);
        if (cl->reason == REASON_NONE)
            continue;
        rep->primary++;
        if (cell_reqs(&rq, cl, &p, comp_channel(&c, cl))) {
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
    if (rq.n > INT_MAX / 2) {
        rc = SUPPRESS_EINVAL;
        goto out;
    }

    glp_term_out(GLP_OFF);
    if ((rc = model_build(&c, &c.m)))
        goto out;
    /* A protected value must be withheld by every measure that carries it. */
    for (size_t i = 0; i < rq.n; i++)
        if (rq.v[i].channel < c.m->nreal)
            var_hide(&c, c.m, req_var(&c, &rq.v[i]));
    /* A complement is hidden once its denominator or numerator is: its
     * numerator is withheld only when both are still released. */
    for (size_t i = 0; i < rq.n; i++)
        if (rq.v[i].channel >= c.m->nreal && !var_hidden(&c, c.m, req_var(&c, &rq.v[i])))
            var_hide(&c, c.m, req_var(&c, &rq.v[i]));
    pend = malloc(rq.n * sizeof *pend);
    if (!pend) {
        rc = SUPPRESS_ENOMEM;
        goto out;
    }
    int npend = (int)rq.n, unmet = 0;
    for (int i = 0; i < npend; i++)
        pend[i] = i;
    /* Phase 1 for every requirement, then the LP phase. */
    for (int i = 0; i < npend; i++) {
        int stuck;
        if ((rc = cheap_fix(&c, &rq.v[pend[i]], &fail, &stuck, NULL)))
            goto out;
    }
    if ((rc = lp_phase(&c, &rq, pend, npend, &fail, &unmet)))
        goto out;
    /* No final re-check: every requirement was confirmed on an LP of its
     * component, and what was withheld after that only widens its range. */
    rep->unmet = unmet;
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
    chsys_free(&c.m);
    cindex_free(&c.ix);
    free(rq.v);
    free(fail.v);
    free(pend);
    return rc;
}
