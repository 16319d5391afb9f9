/*
 * metrics.c - apply the formulas of metrics.md to cell sets and collect the
 * rows of the metrics CSV (section 8).
 *
 * Walk: for each measure and each table, the cells' estimates (section 1);
 * then, for tables crossed with age_std, directly standardised rates
 * (section 2); for one-way tables, pairwise disparities against the chosen
 * reference with the excess of section 6 (section 3), the summary indices
 * (section 4) and, for pmpm measures, cost and member-month shares and
 * relativities, and capitation when a base is given (section 6). Whole-set
 * payment metrics (HEBA, MSSP points) and data quality (section 7) follow.
 * The gap-closure incentive compares each organization's own excess at two
 * rounds (metrics_compute_incentive). Nothing withheld is ever recovered
 * by subtraction: a metric that needs a withheld cell is not computed and
 * says why in its flags.
 */
#include "metrics.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "atomic_file.h"
#include "log.h"
#include "metrics_params.h"
#include "metrics_stats.h"

struct metrics_out {
    struct metrics_row *rows;
    size_t n, cap;
    char period[32]; /* the `period` column of every row */
};

/* ---- parameters ---------------------------------------------------------- */

const char *metrics_measure_unit(int measure)
{
    const struct measure_def *m = catalog_measure(measure);
    if (!m)
        return "";
    switch (m->kind) {
    case KIND_PROPORTION: return "proportion (0-1)";
    case KIND_RATE: return "per 1,000 member-years";
    case KIND_MEAN: return "mean score";
    case KIND_PMPM: return "USD per member per month";
    case KIND_COUNT:
    default: return "members";
    }
}

const char *metrics_better_name(int measure)
{
    const struct measure_def *m = catalog_measure(measure);
    if (!m || m->better == BETTER_NONE)
        return "none";
    return m->better == BETTER_HIGHER ? "higher" : "lower";
}

void metrics_params_default(struct metrics_params *p)
{
    memset(p, 0, sizeof *p);
    p->conf = 0.95;
    p->reference = METRICS_REF_BEST;
    p->min_denominator = 30;
    p->min_count = 10;
    p->k = 11;
    p->dq_min_completeness = 0.80;
    p->mssp_scaler = NAN;
    p->mssp_threshold = 0.20;
    p->mssp_cap = 10;
    p->capitation_base = NAN;
    p->heba_top_pbpm = 30;
    p->heba_bottom_pbpm = 6;
    p->std_population = STDPOP_US2000_11;
}

int metrics_params_set_reference(struct metrics_params *p, const char *s)
{
    if (!s || !*s)
        return -1;
    p->reference_value[0] = '\0';
    if (strcmp(s, "best") == 0) {
        p->reference = METRICS_REF_BEST;
    } else if (strcmp(s, "largest") == 0) {
        p->reference = METRICS_REF_LARGEST;
    } else if (strcmp(s, "total") == 0) {
        p->reference = METRICS_REF_TOTAL;
    } else {
        if (strlen(s) >= sizeof p->reference_value)
            return -1;
        p->reference = METRICS_REF_VALUE;
        snprintf(p->reference_value, sizeof p->reference_value, "%s", s);
    }
    return 0;
}

/* ---- rows ---------------------------------------------------------------- */

metrics_out *metrics_out_new(void)
{
    return calloc(1, sizeof(struct metrics_out));
}

void metrics_out_destroy(metrics_out **out)
{
    if (!out || !*out)
        return;
    free((*out)->rows);
    free(*out);
    *out = NULL;
}

void metrics_out_set_period(metrics_out *out, const char *period)
{
    snprintf(out->period, sizeof out->period, "%s", period ? period : "");
}

size_t metrics_out_count(const metrics_out *out)
{
    return out->n;
}

const struct metrics_row *metrics_out_row(const metrics_out *out, size_t i)
{
    return i < out->n ? &out->rows[i] : NULL;
}

const struct metrics_row *metrics_out_find(const metrics_out *out, const char *measure,
                                           const char *stratifier, const char *stratum,
                                           const char *metric, const char *reference)
{
    for (size_t i = 0; i < out->n; i++) {
        const struct metrics_row *r = &out->rows[i];
        if ((!measure || strcmp(r->measure, measure) == 0) &&
            (!stratifier || strcmp(r->stratifier, stratifier) == 0) &&
            (!stratum || strcmp(r->stratum, stratum) == 0) &&
            (!metric || strcmp(r->metric, metric) == 0) &&
            (!reference || strcmp(r->reference, reference) == 0))
            return r;
    }
    return NULL;
}

static struct metrics_row *row_add(metrics_out *out, const char *round, const char *measure,
                                   const char *stratifier, const char *stratum,
                                   const char *metric)
{
    if (out->n == out->cap) {
        size_t ncap = out->cap ? 2 * out->cap : 256;
        struct metrics_row *n = realloc(out->rows, ncap * sizeof *n);
        if (!n)
            return NULL;
        out->rows = n;
        out->cap = ncap;
    }
    struct metrics_row *r = &out->rows[out->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->round, sizeof r->round, "%s", round);
    snprintf(r->measure, sizeof r->measure, "%s", measure);
    snprintf(r->stratifier, sizeof r->stratifier, "%s", stratifier);
    snprintf(r->stratum, sizeof r->stratum, "%s", stratum);
    snprintf(r->metric, sizeof r->metric, "%s", metric);
    r->value = r->lower = r->upper = r->se = NAN;
    r->n_orgs = r->n_withheld = -1;
    return r;
}

static void flag_add(struct metrics_row *r, const char *f)
{
    if (!f || !*f)
        return;
    size_t fl = strlen(f);
    for (const char *s = r->flags; *s;) {
        const char *e = strchr(s, ';');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (l == fl && strncmp(s, f, l) == 0)
            return;
        s += l + (e ? 1 : 0);
    }
    size_t used = strlen(r->flags);
    snprintf(r->flags + used, sizeof r->flags - used, "%s%s", used ? ";" : "", f);
}

static void row_stat(struct metrics_row *r, const struct mstat *s)
{
    r->value = s->value;
    r->lower = s->lower;
    r->upper = s->upper;
    r->se = s->se;
}

static void row_clear_numbers(struct metrics_row *r)
{
    r->value = r->lower = r->upper = r->se = NAN;
}

/* Accounts for a cell used by a row: fewest contributors, most withheld,
 * and the partial flag. */
static void row_cell(struct metrics_row *r, const struct cell *c)
{
    if (!c)
        return;
    if (c->n_orgs > 0)
        r->n_orgs = r->n_orgs < 0 || c->n_orgs < r->n_orgs ? c->n_orgs : r->n_orgs;
    if (c->n_orgs > 0 || c->n_withheld > 0)
        r->n_withheld = c->n_withheld > r->n_withheld ? c->n_withheld : r->n_withheld;
    if (c->reason == REASON_NONE && c->n_withheld > 0)
        flag_add(r, "partial");
}

static void csv_str(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\r\n")) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
}

static void csv_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.10g", v);
}

int metrics_out_write(const metrics_out *out, FILE *f)
{
    fputs("round,measure,stratifier,stratum,metric,value,lower,upper,reference,flags,se,"
          "n_orgs,n_withheld,period,label,unit,better\n", f);
    for (size_t i = 0; i < out->n; i++) {
        const struct metrics_row *r = &out->rows[i];
        const char *strs[] = {r->round, r->measure, r->stratifier, r->stratum, r->metric};
        for (size_t k = 0; k < sizeof strs / sizeof strs[0]; k++) {
            csv_str(f, strs[k]);
            fputc(',', f);
        }
        csv_num(f, r->value);
        fputc(',', f);
        csv_num(f, r->lower);
        fputc(',', f);
        csv_num(f, r->upper);
        fputc(',', f);
        csv_str(f, r->reference);
        fputc(',', f);
        csv_str(f, r->flags);
        fputc(',', f);
        csv_num(f, r->se);
        fputc(',', f);
        if (r->n_orgs >= 0)
            fprintf(f, "%d", r->n_orgs);
        fputc(',', f);
        if (r->n_withheld >= 0)
            fprintf(f, "%d", r->n_withheld);
        fputc(',', f);
        csv_str(f, out->period);
        int m = catalog_measure_find(r->measure);
        fputc(',', f);
        csv_str(f, m >= 0 ? catalog_measure(m)->label : "");
        fputc(',', f);
        csv_str(f, m >= 0 ? metrics_measure_unit(m) : "");
        fprintf(f, ",%s\n", m >= 0 ? metrics_better_name(m) : "");
    }
    return ferror(f) ? -1 : 0;
}

static int write_body(FILE *f, void *arg)
{
    return metrics_out_write(arg, f);
}

int metrics_out_write_csv(const metrics_out *out, const char *path)
{
    return atomic_file_write(path, write_body, (void *)out);
}

/* ---- estimates per cell (section 1) --------------------------------------- */

struct group {
    const struct cell *c; /* NULL when the table has no such cell          */
    char label[256];
    int released;         /* c present and not withheld                     */
    int ok;               /* estimate computed                              */
    int unknown;          /* UNKNOWN / DECLINED / und: kept beside the groups */
    int unreliable, small;
    double size;          /* d, or M for rate and pmpm                      */
    struct mstat s;
};

static int is_unknown_label(const char *s)
{
    return strcasecmp(s, "UNKNOWN") == 0 || strcasecmp(s, "DECLINED") == 0 ||
           strcasecmp(s, "und") == 0;
}

static void estimate(const struct measure_def *m, const struct metrics_params *p,
                     struct group *g)
{
    const struct cell *c = g->c;
    g->released = c && c->reason == REASON_NONE;
    g->ok = 0;
    g->s.value = g->s.lower = g->s.upper = g->s.se = NAN;
    if (!g->released)
        return;
    int rc;
    switch (m->kind) {
    case KIND_PROPORTION:
        rc = mstat_proportion(cell_value(c, CELL_F_NUM), cell_value(c, CELL_F_DEN), p->conf, &g->s);
        g->size = cell_value(c, CELL_F_DEN);
        g->small = cell_value(c, CELL_F_DEN) < p->min_denominator;
        break;
    case KIND_RATE:
        rc = mstat_rate(cell_value(c, CELL_F_NUM), cell_value(c, CELL_F_MONTHS), p->conf, &g->s);
        g->size = cell_value(c, CELL_F_MONTHS);
        g->small = cell_value(c, CELL_F_MEMBERS) < 30;
        break;
    case KIND_MEAN:
        rc = mstat_mean(cell_value(c, CELL_F_NUM), cell_value(c, CELL_F_DEN), cell_value(c, CELL_F_SQ), p->conf, &g->s);
        g->size = cell_value(c, CELL_F_DEN);
        g->small = cell_value(c, CELL_F_DEN) < p->min_denominator;
        break;
    case KIND_PMPM:
        rc = mstat_pmpm(cell_value(c, CELL_F_NUM), cell_value(c, CELL_F_MEMBERS), cell_value(c, CELL_F_MONTHS), cell_value(c, CELL_F_SQ), p->conf, &g->s);
        g->size = cell_value(c, CELL_F_MONTHS);
        g->small = cell_value(c, CELL_F_MEMBERS) < 30;
        break;
    case KIND_COUNT:
    default:
        g->s.value = cell_value(c, CELL_F_NUM);
        g->size = cell_value(c, CELL_F_NUM);
        g->ok = 1;
        return;
    }
    if (rc != MSTAT_OK)
        return;
    g->ok = 1;
    if (m->kind == KIND_RATE)
        g->unreliable = cell_value(c, CELL_F_NUM) <= 11 || g->s.value == 0;
    else
        g->unreliable = g->s.value == 0 || g->s.se / fabs(g->s.value) >= 0.30;
}

/* Fills the groups of (measure, table); returns the number of strata. */
static int load_groups(const struct cellset *cs, const struct metrics_params *p, int measure,
                       int table, struct group *g)
{
    const struct measure_def *m = catalog_measure(measure);
    const struct cell_table *t = &cs->tables[table];
    for (int s = 0; s < t->nstrata; s++) {
        memset(&g[s], 0, sizeof g[s]);
        g[s].c = cellset_get(cs, measure, table, s);
        if (t->ndim == 0) {
            snprintf(g[s].label, sizeof g[s].label, "all");
        } else if (t->ndim == 1) {
            snprintf(g[s].label, sizeof g[s].label, "%s", t->labels[0][s]);
            g[s].unknown = is_unknown_label(t->labels[0][s]);
        } else {
            int idx[CELLS_MAX_DIM];
            cell_table_coords(t, s, idx);
            size_t used = 0;
            for (int d = 0; d < t->ndim; d++) {
                int n = snprintf(g[s].label + used, sizeof g[s].label - used, "%s%s", d ? "*" : "",
                                 t->labels[d][idx[d]]);
                used = n < 0 ? used : used + (size_t)n >= sizeof g[s].label ? sizeof g[s].label - 1
                                                                             : used + (size_t)n;
                g[s].unknown |= is_unknown_label(t->labels[d][idx[d]]);
            }
        }
        estimate(m, p, &g[s]);
    }
    return t->nstrata;
}

/* A row for a value that cannot be computed because a cell is withheld. */
static void row_withheld(struct metrics_row *r, const struct cell *c)
{
    row_clear_numbers(r);
    if (c)
        flag_add(r, cell_reason_name(c->reason));
    else
        flag_add(r, "input_suppressed");
}

static int emit_estimates(const struct cellset *cs, const struct measure_def *m,
                          const struct cell_table *t, struct group *g, int n, metrics_out *out)
{
    for (int s = 0; s < n; s++) {
        if (!g[s].c)
            continue;
        struct metrics_row *r = row_add(out, cs->round, m->name, t->name, g[s].label, "estimate");
        if (!r)
            return -1;
        row_cell(r, g[s].c);
        if (!g[s].released) {
            row_withheld(r, g[s].c);
            continue;
        }
        if (!g[s].ok) {
            flag_add(r, "undefined");
            continue;
        }
        row_stat(r, &g[s].s);
        if (g[s].unreliable)
            flag_add(r, "unreliable");
        if (g[s].small)
            flag_add(r, "small_denominator");
    }
    return 0;
}

/* ---- age standardisation (section 2) -------------------------------------- */

/* The cell that row `o` of table t adds up to: the same measure's cell of
 * the outer stratifier's one-way table (or of the total when t is age_std
 * alone). NULL when that table or stratum is not in the cell set. */
static const struct cell *dsr_row_margin(const struct cellset *cs, int measure,
                                         const struct cell_table *t, int od, int o)
{
    if (od < 0) {
        int tt = cellset_find_table(cs, "total");
        return tt < 0 ? NULL : cellset_get(cs, measure, tt, 0);
    }
    int tt = cellset_find_table(cs, catalog_stratifier_name(t->dim[od]));
    if (tt < 0 || cs->tables[tt].ndim != 1)
        return NULL;
    for (int l = 0; l < cs->tables[tt].card[0]; l++)
        if (strcmp(cs->tables[tt].labels[0][l], t->labels[od][o]) == 0)
            return cellset_get(cs, measure, tt, l);
    return NULL;
}

static int cell_whole(const struct cell *c)
{
    return c && c->reason == REASON_NONE && c->n_withheld == 0;
}

/*
 * Withheld age cells collapsed with their neighbours (docs/metrics.md,
 * "Age standardisation"): the standard age groups from the youngest to the
 * oldest withheld one (at least two groups) become one group with the
 * summed weight, whose events and member months are the row's margin minus
 * the row's released cells outside it. That is arithmetic every reader can
 * do on the released cells, so nothing withheld is recovered: the collapsed
 * group is at least two standard groups wide and never one cell alone.
 * Possible only when the margin and every released cell of the row are
 * whole (not partial), and every age group's cell is in the set. Fills
 * x, mm, w (n entries) and returns n, or 0 when not possible.
 */
static int dsr_collapse(const struct cellset *cs, int measure, const struct cell_table *t, int od,
                        int o, const struct cell *const cells[AGESTD__COUNT + 1],
                        const double wstd[AGESTD__COUNT], double *x, double *mm, double *w,
                        int *lo_out, int *hi_out)
{
    const struct cell *margin = dsr_row_margin(cs, measure, t, od, o);
    if (!cell_whole(margin))
        return 0;
    int lo = -1, hi = -1;
    double wx = cell_value(margin, CELL_F_NUM), wm = cell_value(margin, CELL_F_MONTHS);
    for (int i = 0; i <= AGESTD__COUNT; i++) {
        const struct cell *c = cells[i];
        if (!c) {
            if (i < AGESTD__COUNT)
                return 0; /* an age group the table does not hold */
            continue;     /* no UNKNOWN cell: no member of unknown age */
        }
        if (c->n_withheld > 0)
            return 0;
        if (c->reason != REASON_NONE) {
            if (i == AGESTD__COUNT)
                return 0; /* unknown age withheld: it would mix into the sum */
            if (lo < 0)
                lo = i;
            hi = i;
            continue;
        }
        wx -= cell_value(c, CELL_F_NUM);
        wm -= cell_value(c, CELL_F_MONTHS);
    }
    if (lo < 0)
        return 0;
    if (lo == hi) {
        if (hi + 1 < AGESTD__COUNT)
            hi++;
        else
            lo--;
    }
    /* Released cells inside the span join it. */
    double sx = wx, sm = wm, sw = 0;
    for (int i = lo; i <= hi; i++) {
        if (cells[i]->reason == REASON_NONE) {
            sx += cell_value(cells[i], CELL_F_NUM);
            sm += cell_value(cells[i], CELL_F_MONTHS);
        }
        sw += wstd[i];
    }
    if (!(sm > 0) || sx < 0)
        return 0;
    int n = 0;
    for (int i = 0; i < AGESTD__COUNT; i++) {
        if (i == lo) {
            x[n] = sx, mm[n] = sm, w[n] = sw, n++;
            continue;
        }
        if (i > lo && i <= hi)
            continue;
        if (!(cell_value(cells[i], CELL_F_MONTHS) > 0))
            return 0;
        x[n] = cell_value(cells[i], CELL_F_NUM), mm[n] = cell_value(cells[i], CELL_F_MONTHS);
        w[n] = wstd[i], n++;
    }
    *lo_out = lo;
    *hi_out = hi;
    return n;
}

static int emit_dsr(const struct cellset *cs, const struct metrics_params *p,
                    const struct measure_def *m, int measure, int table, metrics_out *out)
{
    const struct cell_table *t = &cs->tables[table];
    int ad = -1;
    for (int d = 0; d < t->ndim; d++)
        if (t->dim[d] == S_AGE_STD)
            ad = d;
    /* standardised over age_std alone or within the rows of a two-way
     * table; a three-way table's cells are reported as estimates only */
    if (ad < 0 || m->kind != KIND_RATE || t->ndim > 2)
        return 0;
    double wstd[AGESTD__COUNT];
    int have_weights = std_population_weights(p->std_population, wstd) == 0;
    int od = t->ndim == 2 ? 1 - ad : -1;
    int nouter = od >= 0 ? t->card[od] : 1;
    int age_idx[AGESTD__COUNT + 1]; /* + UNKNOWN */
    for (int i = 0; i <= AGESTD__COUNT; i++) {
        age_idx[i] = -1;
        for (int l = 0; l < t->card[ad]; l++)
            if (strcmp(t->labels[ad][l], age_std_codes[i]) == 0)
                age_idx[i] = l;
    }
    for (int o = 0; o < nouter; o++) {
        const char *label = od >= 0 ? t->labels[od][o] : "all";
        const struct cell *cells[AGESTD__COUNT + 1];
        double x[AGESTD__COUNT], mm[AGESTD__COUNT], w[AGESTD__COUNT];
        int any = 0, withheld = 0, no_months = 0, n = AGESTD__COUNT;
        struct metrics_row *r = row_add(out, cs->round, m->name, t->name, label, "dsr");
        if (!r)
            return -1;
        for (int i = 0; i <= AGESTD__COUNT; i++) {
            const struct cell *c = NULL;
            if (age_idx[i] >= 0) {
                int s = od < 0 ? age_idx[i]
                        : ad == 0 ? age_idx[i] * t->card[1] + o : o * t->card[1] + age_idx[i];
                c = cellset_get(cs, measure, table, s);
            }
            cells[i] = c;
            if (i == AGESTD__COUNT)
                continue; /* unknown age: not standardised */
            if (c)
                any = 1;
            row_cell(r, c);
            if (!c || c->reason != REASON_NONE) {
                withheld = 1;
                continue;
            }
            if (!(cell_value(c, CELL_F_MONTHS) > 0))
                no_months = 1;
            x[i] = cell_value(c, CELL_F_NUM);
            mm[i] = cell_value(c, CELL_F_MONTHS);
            w[i] = wstd[i];
        }
        if (!any) {
            out->n--; /* no age cells at all for this level: no row */
            continue;
        }
        if (!have_weights) {
            flag_add(r, "undefined");
            continue;
        }
        if (withheld) {
            int lo, hi;
            n = no_months ? 0 : dsr_collapse(cs, measure, t, od, o, cells, wstd, x, mm, w, &lo, &hi);
            if (n == 0) {
                for (int i = 0; i < AGESTD__COUNT; i++)
                    if (cells[i] && cells[i]->reason != REASON_NONE)
                        flag_add(r, cell_reason_name(cells[i]->reason));
                flag_add(r, "input_suppressed");
                continue;
            }
            char f[64];
            snprintf(f, sizeof f, "ages_collapsed:%s..%s", age_std_codes[lo], age_std_codes[hi]);
            flag_add(r, f);
        } else if (no_months) {
            flag_add(r, "input_suppressed");
            continue;
        }
        struct mstat s;
        int rc = mstat_dsr(n, x, mm, w, p->min_count, p->conf, &s);
        if (rc == MSTAT_EMINCOUNT)
            flag_add(r, "min_count");
        else if (rc != MSTAT_OK)
            flag_add(r, "undefined");
        else
            row_stat(r, &s);
    }
    return 0;
}

/* ---- reference (section 3) ------------------------------------------------ */

struct ref {
    int idx;            /* group index, or -1 for the total                      */
    int skip;           /* VALUE not in this table: no pairwise rows              */
    const char *why;    /* not computable: the flag                              */
    const char *why2;   /* a second flag (the withheld cell's reason)            */
    double y, se;
    const char *label;
    int partial;
    const struct cell *c;
};

static void pick_reference(const struct measure_def *m, const struct metrics_params *p,
                           const struct group *g, int n, struct ref *r)
{
    memset(r, 0, sizeof *r);
    r->idx = -1;
    r->y = r->se = NAN;
    switch (p->reference) {
    case METRICS_REF_BEST:
        r->label = "best";
        if (m->better == BETTER_NONE) {
            r->why = "no_direction";
            return;
        }
        for (int j = 0; j < n; j++) {
            if (!g[j].ok || g[j].unknown || g[j].unreliable || g[j].small)
                continue;
            if (r->idx < 0) {
                r->idx = j;
                continue;
            }
            double a = g[j].s.value, b = g[r->idx].s.value;
            int better = m->better == BETTER_LOWER ? a < b : a > b;
            if (better || (a == b && g[j].size > g[r->idx].size))
                r->idx = j;
        }
        if (r->idx < 0)
            r->why = "undefined";
        break;
    case METRICS_REF_LARGEST:
        r->label = "largest";
        for (int j = 0; j < n; j++)
            if (g[j].ok && !g[j].unknown && (r->idx < 0 || g[j].size > g[r->idx].size))
                r->idx = j;
        if (r->idx < 0)
            r->why = "input_suppressed";
        break;
    case METRICS_REF_VALUE:
        r->label = p->reference_value;
        for (int j = 0; j < n; j++)
            if (strcmp(g[j].label, p->reference_value) == 0)
                r->idx = j;
        if (r->idx < 0 || !g[r->idx].c) {
            r->skip = 1;
            return;
        }
        if (!g[r->idx].released) {
            r->why = "input_suppressed";
            r->why2 = cell_reason_name(g[r->idx].c->reason);
            r->c = g[r->idx].c;
            r->idx = -1;
            return;
        }
        if (!g[r->idx].ok) {
            r->why = "undefined";
            r->idx = -1;
            return;
        }
        break;
    case METRICS_REF_TOTAL:
    default: {
        r->label = "total";
        double tot = 0, mu = 0, v = 0;
        int J = 0;
        for (int j = 0; j < n; j++)
            if (g[j].ok && !g[j].unknown)
                tot += g[j].size;
        for (int j = 0; j < n; j++) {
            if (g[j].unknown)
                continue;
            if (!g[j].ok) {
                if (g[j].c)
                    r->partial = 1;
                continue;
            }
            if (g[j].c->n_withheld > 0)
                r->partial = 1;
            double pj = tot > 0 ? g[j].size / tot : 0;
            mu += pj * g[j].s.value;
            v += pj * pj * g[j].s.se * g[j].s.se;
            J++;
        }
        if (J == 0 || !(tot > 0)) {
            r->why = "input_suppressed";
            return;
        }
        r->y = mu;
        r->se = sqrt(v);
        return;
    }
    }
    if (r->idx >= 0) {
        r->y = g[r->idx].s.value;
        r->se = g[r->idx].s.se;
        r->label = g[r->idx].label;
        r->c = g[r->idx].c;
    }
}

static int is_worse(const struct measure_def *m, double yg, double yr)
{
    return m->better == BETTER_LOWER ? yg > yr : m->better == BETTER_HIGHER ? yg < yr : 0;
}

/* RD, RR and excess rows of each group against the reference. */
static int emit_pairwise(const struct cellset *cs, const struct metrics_params *p,
                         const struct measure_def *m, int measure, const struct cell_table *t,
                         const struct group *g, int n, const struct ref *ref, metrics_out *out)
{
    if (ref->skip || m->kind == KIND_COUNT)
        return 0;
    int do_excess = m->better != BETTER_NONE && m->kind != KIND_MEAN;
    double total_excess = 0, z = mstat_z(p->conf);
    int excess_partial = 0, excess_any = 0;
    double sign = m->better == BETTER_HIGHER ? -1.0 : 1.0;
    static const char *const names[3] = {"rd", "rr", "excess"};
    for (int j = 0; j < n; j++) {
        if (!g[j].c || (ref->idx >= 0 && j == ref->idx))
            continue;
        for (int k = 0; k < 3; k++) {
            if (k == 2 && !do_excess)
                continue;
            struct metrics_row *r = row_add(out, cs->round, m->name, t->name, g[j].label,
                                            names[k]);
            if (!r)
                return -1;
            snprintf(r->reference, sizeof r->reference, "%s", ref->label);
            row_cell(r, g[j].c);
            row_cell(r, ref->c);
            if (ref->partial)
                flag_add(r, "partial");
            if (ref->why) {
                flag_add(r, ref->why2);
                flag_add(r, ref->why);
                if (k == 2)
                    excess_partial = 1;
                continue;
            }
            if (!g[j].released) {
                row_withheld(r, g[j].c);
                flag_add(r, "input_suppressed");
                if (k == 2)
                    excess_partial = 1;
                continue;
            }
            if (!g[j].ok) {
                flag_add(r, "undefined");
                if (k == 2)
                    excess_partial = 1;
                continue;
            }
            struct mstat s;
            double yg = g[j].s.value, sg = g[j].s.se;
            if (k == 0) {
                mstat_rd(yg, sg, ref->y, ref->se, p->conf, &s);
                row_stat(r, &s);
                if ((s.lower > 0 || s.upper < 0) && is_worse(m, yg, ref->y))
                    flag_add(r, "adverse");
            } else if (k == 1) {
                if (mstat_rr(yg, sg, ref->y, ref->se, p->conf, &s) != MSTAT_OK) {
                    flag_add(r, "undefined");
                    continue;
                }
                row_stat(r, &s);
                if ((s.lower > 1 || s.upper < 1) && is_worse(m, yg, ref->y))
                    flag_add(r, "adverse");
            } else {
                const struct cell *c = g[j].c;
                double gap = sign * (yg - ref->y), scale;
                if (m->kind == KIND_PMPM)
                    scale = cell_value(c, CELL_F_MONTHS);
                else if (m->kind == KIND_RATE)
                    scale = cell_value(c, CELL_F_MONTHS) / 12000.0;
                else
                    scale = cell_value(c, CELL_F_DEN);
                if (m->kind != KIND_PMPM && p->unit_cost[measure] > 0)
                    scale *= p->unit_cost[measure];
                r->value = gap * scale;
                r->se = scale * sqrt(sg * sg + ref->se * ref->se);
                r->lower = r->value - z * r->se;
                r->upper = r->value + z * r->se;
                total_excess += r->value > 0 ? r->value : 0;
                excess_any = 1;
            }
            if (ref->idx < 0 && !ref->why)
                flag_add(r, "overlapping_reference");
        }
    }
    if (do_excess && (excess_any || excess_partial)) {
        struct metrics_row *r = row_add(out, cs->round, m->name, t->name, "all", "excess");
        if (!r)
            return -1;
        snprintf(r->reference, sizeof r->reference, "%s", ref->label);
        if (ref->why) {
            flag_add(r, ref->why2);
            flag_add(r, ref->why);
        } else {
            r->value = total_excess;
            if (excess_partial || ref->partial)
                flag_add(r, "partial");
        }
    }
    return 0;
}

/* ---- summary indices (section 4) ------------------------------------------ */

static int ordered_key(int strat, const char *label, double *key)
{
    char *end;
    if (is_unknown_label(label))
        return -1;
    switch (strat) {
    case S_ADI_QUINTILE: {
        long v = strtol(label, &end, 10);
        if (end == label || *end || v < 1 || v > 5)
            return -1;
        *key = -(double)v; /* 5 (most deprived) first */
        return 0;
    }
    case S_AGE_BAND: {
        long v = strtol(label, &end, 10);
        if (end == label || v < 0)
            return -1;
        *key = (double)v; /* youngest first */
        return 0;
    }
    case S_AGE_STD:
        for (int i = 0; i < AGESTD__COUNT; i++)
            if (strcmp(label, age_std_codes[i]) == 0) {
                *key = i;
                return 0;
            }
        return -1;
    default:
        return -1;
    }
}

struct ord {
    double key;
    int idx;
};

static int ord_cmp(const void *a, const void *b)
{
    const struct ord *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

static struct metrics_row *index_row(metrics_out *out, const struct cellset *cs,
                                     const struct measure_def *m, const struct cell_table *t,
                                     const char *metric, const struct group *g, int n)
{
    struct metrics_row *r = row_add(out, cs->round, m->name, t->name, "all", metric);
    if (!r)
        return NULL;
    for (int j = 0; j < n; j++)
        if (!g[j].unknown)
            row_cell(r, g[j].c);
    return r;
}

static void index_result(struct metrics_row *r, int rc, const struct mstat *s, int partial)
{
    if (partial)
        flag_add(r, "partial");
    if (rc == MSTAT_OK) {
        row_stat(r, s);
        return;
    }
    row_clear_numbers(r);
    flag_add(r, rc == MSTAT_EFEWGROUPS ? "few_groups" : "undefined");
}

static int emit_indices(const struct cellset *cs, const struct metrics_params *p,
                        const struct measure_def *m, const struct cell_table *t,
                        const struct group *g, int n, const struct ref *ref, metrics_out *out)
{
    if (m->kind == KIND_COUNT)
        return 0;
    struct mgroup *mg = calloc((size_t)n + 1, sizeof *mg);
    struct ord *ord = calloc((size_t)n + 1, sizeof *ord);
    int rc = -1, J = 0, partial = 0;
    double tot = 0;
    if (!mg || !ord)
        goto out;
    for (int j = 0; j < n; j++) {
        if (g[j].unknown || !g[j].c)
            continue;
        if (!g[j].ok) {
            partial = 1;
            continue;
        }
        tot += g[j].size;
    }
    for (int j = 0; j < n; j++) {
        if (g[j].unknown || !g[j].ok)
            continue;
        mg[J].y = g[j].s.value;
        mg[J].se = g[j].s.se;
        mg[J].p = tot > 0 ? g[j].size / tot : 0;
        J++;
    }
    struct mstat s;
    int few = J < 3 || !(tot > 0);
    struct { const char *name; int which; } list[] = {
        {"bgv", 0}, {"idisp", 1}, {"idisp_w", 2}, {"mld", 3}, {"theil", 4}};
    for (size_t k = 0; k < sizeof list / sizeof list[0]; k++) {
        struct metrics_row *r = index_row(out, cs, m, t, list[k].name, g, n);
        if (!r)
            goto out;
        int st;
        if (few) {
            st = MSTAT_EFEWGROUPS;
        } else if (list[k].which == 0) {
            st = mstat_bgv(mg, J, p->conf, &s);
        } else if (list[k].which == 1) {
            snprintf(r->reference, sizeof r->reference, "%s", ref->label);
            if (ref->why) {
                row_clear_numbers(r);
                if (partial)
                    flag_add(r, "partial");
                flag_add(r, ref->why2);
                flag_add(r, ref->why);
                continue;
            }
            double rv = ref->idx < 0 ? mstat_mu(mg, J) : ref->y;
            st = mstat_idisp(mg, J, rv, &s);
        } else if (list[k].which == 2) {
            st = mstat_idisp_w(mg, J, &s);
        } else if (list[k].which == 3) {
            st = mstat_mld(mg, J, p->conf, &s);
        } else {
            st = mstat_theil(mg, J, p->conf, &s);
        }
        index_result(r, st, &s, partial);
    }
    /* Ordered stratifiers: SII, RII, ACI, RCI need every group. */
    int strat = t->ndim == 1 ? t->dim[0] : -1;
    if (strat == S_ADI_QUINTILE || strat == S_AGE_BAND || strat == S_AGE_STD) {
        int K = 0, missing = 0;
        double otot = 0;
        for (int j = 0; j < n; j++) {
            double key;
            if (ordered_key(strat, g[j].label, &key) != 0)
                continue;
            if (!g[j].ok) {
                missing = 1;
                continue;
            }
            ord[K].key = key;
            ord[K].idx = j;
            otot += g[j].size;
            K++;
        }
        qsort(ord, (size_t)K, sizeof *ord, ord_cmp);
        for (int i = 0; i < K; i++) {
            const struct group *gj = &g[ord[i].idx];
            mg[i].y = gj->s.value;
            mg[i].se = gj->s.se;
            mg[i].p = otot > 0 ? gj->size / otot : 0;
        }
        struct mstat sii, rii, aci, rci;
        int st1 = MSTAT_EFEWGROUPS, st2 = MSTAT_EFEWGROUPS;
        if (!missing && K >= 3 && otot > 0) {
            st1 = mstat_sii(mg, K, p->conf, &sii, &rii);
            st2 = mstat_aci(mg, K, p->conf, &aci, &rci);
        }
        const char *names[4] = {"sii", "rii", "aci", "rci"};
        const struct mstat *vals[4] = {&sii, &rii, &aci, &rci};
        for (int k = 0; k < 4; k++) {
            struct metrics_row *r = index_row(out, cs, m, t, names[k], g, n);
            if (!r)
                goto out;
            if (missing) {
                flag_add(r, "input_suppressed");
                continue;
            }
            int st = k < 2 ? st1 : st2;
            /* SII and ACI exist whenever the fit does; RII and RCI may not. */
            if (st == MSTAT_EUNDEFINED && (k == 0 || k == 2))
                st = MSTAT_OK;
            index_result(r, st, vals[k], 0);
        }
    }
    rc = 0;
out:
    free(mg);
    free(ord);
    return rc;
}

/* ---- payment metrics (section 6) ------------------------------------------ */

/* cost_share, mm_share, relativity of each group of a pmpm measure, and
 * with a capitation base, capitation = base * relativity: budget neutral,
 * since sum_g base * (x_g/M_g) / (X/M) * M_g = base * M when the groups
 * make up the total. */
static int emit_shares(const struct cellset *cs, const struct metrics_params *p,
                       const struct measure_def *m, int measure, const struct cell_table *t,
                       const struct group *g, int n, metrics_out *out)
{
    if (m->kind != KIND_PMPM)
        return 0;
    double sx = 0, sm = 0;
    int all = 1;
    for (int j = 0; j < n; j++) {
        if (!g[j].c)
            continue;
        if (!g[j].released) {
            all = 0;
            continue;
        }
        sx += cell_value(g[j].c, CELL_F_NUM);
        sm += cell_value(g[j].c, CELL_F_MONTHS);
    }
    const struct cell *tc = NULL;
    int tt = cellset_find_table(cs, "total");
    if (tt >= 0)
        tc = cellset_get(cs, measure, tt, 0);
    if (!all) {
        if (tc && tc->reason == REASON_NONE) {
            sx = cell_value(tc, CELL_F_NUM);
            sm = cell_value(tc, CELL_F_MONTHS);
            all = 1;
        }
    }
    double pmpm_all = NAN;
    if (tc && tc->reason == REASON_NONE && cell_value(tc, CELL_F_MONTHS) > 0)
        pmpm_all = cell_value(tc, CELL_F_NUM) / cell_value(tc, CELL_F_MONTHS);
    else if (all && sm > 0)
        pmpm_all = sx / sm;
    for (int j = 0; j < n; j++) {
        if (!g[j].c)
            continue;
        const char *names[4] = {"cost_share", "mm_share", "relativity", "capitation"};
        int nk = p->capitation_base > 0 ? 4 : 3;
        for (int k = 0; k < nk; k++) {
            struct metrics_row *r = row_add(out, cs->round, m->name, t->name, g[j].label,
                                            names[k]);
            if (!r)
                return -1;
            if (k == 3) {
                /* The relativity row is the one just before (row_add may
                 * have moved the array, so take it from r). */
                const struct metrics_row *rel = r - 1;
                memcpy(r->flags, rel->flags, sizeof r->flags); /* distinct rows, same size */
                r->n_orgs = rel->n_orgs;
                r->n_withheld = rel->n_withheld;
                if (isfinite(rel->value))
                    r->value = p->capitation_base * rel->value;
                continue;
            }
            row_cell(r, g[j].c);
            if (!g[j].released) {
                row_withheld(r, g[j].c);
                continue;
            }
            double num = k == 0 ? cell_value(g[j].c, CELL_F_NUM) : cell_value(g[j].c, CELL_F_MONTHS);
            double den = k == 0 ? sx : sm;
            if (k == 2) {
                if (!(cell_value(g[j].c, CELL_F_MONTHS) > 0) || !isfinite(pmpm_all) || pmpm_all == 0) {
                    flag_add(r, isfinite(pmpm_all) ? "undefined" : "input_suppressed");
                    continue;
                }
                r->value = (cell_value(g[j].c, CELL_F_NUM) / cell_value(g[j].c, CELL_F_MONTHS)) / pmpm_all;
                if (tc)
                    row_cell(r, tc);
                continue;
            }
            if (!all) {
                flag_add(r, "input_suppressed");
                continue;
            }
            if (!(den > 0)) {
                flag_add(r, "undefined");
                continue;
            }
            r->value = num / den;
        }
    }
    return 0;
}

static int has_population(const struct cellset *cs, const char *table);

/* A population cell by table name and stratum label, or NULL. */
static const struct cell *pop_cell(const struct cellset *cs, const char *table,
                                   const char *label, int *table_present)
{
    int t = cellset_find_table(cs, table);
    if (table_present)
        *table_present = t >= 0;
    if (t < 0)
        return NULL;
    const struct cell_table *tb = &cs->tables[t];
    if (tb->ndim == 0)
        return cellset_get(cs, M_POPULATION, t, 0);
    if (tb->ndim != 1)
        return NULL;
    for (int s = 0; s < tb->card[0]; s++)
        if (strcmp(tb->labels[0][s], label) == 0)
            return cellset_get(cs, M_POPULATION, t, s);
    return NULL;
}

/* Sum of a field over a one-way population table, if every cell is
 * released; NaN otherwise. */
static double pop_table_sum(const struct cellset *cs, const char *table, int months)
{
    int t = cellset_find_table(cs, table);
    if (t < 0 || cs->tables[t].ndim != 1)
        return NAN;
    double s = 0;
    int any = 0;
    for (int i = 0; i < cs->tables[t].nstrata; i++) {
        const struct cell *c = cellset_get(cs, M_POPULATION, t, i);
        if (!c)
            continue;
        if (c->reason != REASON_NONE)
            return NAN;
        s += months ? cell_value(c, CELL_F_MONTHS) : cell_value(c, CELL_F_MEMBERS);
        any = 1;
    }
    return any ? s : NAN;
}

/* Members (or months) of the whole population: the total cell, else the
 * sum of the given one-way table. */
static double pop_all(const struct cellset *cs, const char *table, int months)
{
    const struct cell *c = pop_cell(cs, "total", "all", NULL);
    if (c && c->reason == REASON_NONE)
        return months ? cell_value(c, CELL_F_MONTHS) : cell_value(c, CELL_F_MEMBERS);
    return pop_table_sum(cs, table, months);
}

static int want(const struct metrics_params *p, const char *table)
{
    return p->stratifier[0] == '\0' || strcmp(p->stratifier, table) == 0;
}

static int emit_heba(const struct cellset *cs, const struct metrics_params *p, metrics_out *out)
{
    int present;
    const struct cell *top = pop_cell(cs, "heba_band", "top", &present);
    if (!present || !has_population(cs, "heba_band") || !want(p, "heba_band"))
        return 0;
    const struct cell *bottom = pop_cell(cs, "heba_band", "bottom", NULL);
    double mall = pop_all(cs, "heba_band", 1);
    struct metrics_row *r1 = row_add(out, cs->round, "population", "heba_band", "all",
                                     "heba_pbpm");
    struct metrics_row *r2 = r1 ? row_add(out, cs->round, "population", "heba_band", "all",
                                          "heba_total") : NULL;
    if (!r2)
        return -1;
    r1 = r2 - 1;
    double pbpm, total;
    for (struct metrics_row *r = r1; r <= r2; r++) {
        row_cell(r, top);
        row_cell(r, bottom);
        if (top && top->reason != REASON_NONE)
            flag_add(r, cell_reason_name(top->reason));
        if (bottom && bottom->reason != REASON_NONE)
            flag_add(r, cell_reason_name(bottom->reason));
        if ((top && top->reason != REASON_NONE) || (bottom && bottom->reason != REASON_NONE) ||
            !isfinite(mall)) {
            flag_add(r, "input_suppressed");
            continue;
        }
        double mt = top ? cell_value(top, CELL_F_MONTHS) : 0, mb = bottom ? cell_value(bottom, CELL_F_MONTHS) : 0;
        if (mstat_heba(mt, mb, mall, p->heba_top_pbpm, p->heba_bottom_pbpm, &pbpm, &total) != MSTAT_OK) {
            flag_add(r, "undefined");
            continue;
        }
        r->value = r == r1 ? pbpm : total;
    }
    return 0;
}

static int emit_mssp(const struct cellset *cs, const struct metrics_params *p, metrics_out *out)
{
    if (!isfinite(p->mssp_scaler) || p->stratifier[0])
        return 0;
    int has_q, has_p;
    const struct cell *q5 = pop_cell(cs, "adi_quintile", "5", &has_q);
    const struct cell *dual = pop_cell(cs, "payer", "DUAL", &has_p);
    if (!has_q && !has_p)
        return 0;
    struct metrics_row *r = row_add(out, cs->round, "population", "total", "all", "mssp_points");
    if (!r)
        return -1;
    row_cell(r, q5);
    row_cell(r, dual);
    double nall = pop_all(cs, has_q ? "adi_quintile" : "payer", 0);
    int bad = 0;
    const struct cell *cells[2] = {q5, dual};
    for (int i = 0; i < 2; i++)
        if (cells[i] && cells[i]->reason != REASON_NONE) {
            flag_add(r, cell_reason_name(cells[i]->reason));
            bad = 1;
        }
    if (bad || !(nall > 0)) {
        flag_add(r, "input_suppressed");
        return 0;
    }
    double sq = q5 ? cell_value(q5, CELL_F_MEMBERS) / nall : 0, sd = dual ? cell_value(dual, CELL_F_MEMBERS) / nall : 0;
    r->value = mstat_mssp_points(sq, sd, p->mssp_scaler, p->mssp_threshold, p->mssp_cap);
    snprintf(r->reference, sizeof r->reference, "%s",
             sq >= sd ? "adi_quintile=5" : "payer=DUAL");
    return 0;
}

/* ---- driver ---------------------------------------------------------------- */

int metrics_compute(const struct cellset *cs, const struct metrics_params *p, metrics_out *out)
{
    if (!out->period[0])
        metrics_out_set_period(out, cs->period);
    int maxstrata = 1;
    for (int t = 0; t < cs->ntables; t++)
        if (cs->tables[t].nstrata > maxstrata)
            maxstrata = cs->tables[t].nstrata;
    struct group *g = calloc((size_t)maxstrata, sizeof *g);
    if (!g)
        return -1;
    int rc = -1;
    for (int measure = 0; measure < catalog_n_measures(); measure++) {
        const struct measure_def *m = catalog_measure(measure);
        for (int table = 0; table < cs->ntables; table++) {
            const struct cell_table *t = &cs->tables[table];
            if (!want(p, t->name))
                continue;
            int n = load_groups(cs, p, measure, table, g), any = 0;
            for (int s = 0; s < n; s++)
                any |= g[s].c != NULL;
            if (!any)
                continue;
            if (emit_estimates(cs, m, t, g, n, out) || emit_dsr(cs, p, m, measure, table, out))
                goto out;
            if (t->ndim == 0)
                continue;
            /* Intersections (two- and three-way tables) get pairwise
             * disparities and payment shares between their cells, e.g.
             * BLACK*Y against WHITE*N; the summary indices are for one-way
             * tables. A non-additive table (race_aic: a member in every category
             * reported) has no population shares: no summary indices, no
             * cost or member-month shares; pairwise disparities stay. */
            int additive = t->ndim != 1 || catalog_stratifier_additive(t->dim[0]);
            struct ref ref;
            pick_reference(m, p, g, n, &ref);
            if (emit_pairwise(cs, p, m, measure, t, g, n, &ref, out) ||
                (t->ndim == 1 && additive && emit_indices(cs, p, m, t, g, n, &ref, out)) ||
                (additive && emit_shares(cs, p, m, measure, t, g, n, out)))
                goto out;
        }
    }
    if (emit_heba(cs, p, out) || emit_mssp(cs, p, out))
        goto out;
    rc = 0;
out:
    free(g);
    return rc;
}

/* ---- data quality (section 7) --------------------------------------------- */

/* "org:NAME"; an organization id that already says "org:" (a certificate
 * CN such as org:plan-a) is not prefixed twice. */
static void org_ref(struct metrics_row *r, const struct cellset *cs)
{
    snprintf(r->reference, sizeof r->reference, "%s%s",
             strncmp(cs->org, "org:", 4) == 0 ? "" : "org:", cs->org);
}

/* Whether the population measure has any cell in a table. */
static int has_population(const struct cellset *cs, const char *table)
{
    int t = cellset_find_table(cs, table);
    if (t < 0)
        return 0;
    for (int s = 0; s < cs->tables[t].nstrata; s++)
        if (cellset_get(cs, M_POPULATION, t, s))
            return 1;
    return 0;
}

static int emit_completeness_counts(const struct cellset *cs, const struct metrics_params *p,
                                    const char *table, const char *const *unk, int nunk,
                                    metrics_out *out)
{
    if (!has_population(cs, table) || !want(p, table))
        return 0;
    struct metrics_row *r = row_add(out, cs->round, "population", table, "all", "completeness");
    if (!r)
        return -1;
    org_ref(r, cs);
    double N = pop_all(cs, table, 0), lo = 0, hi = 0;
    int bad = 0, interval = 0;
    for (int i = 0; i < nunk; i++) {
        const struct cell *c = pop_cell(cs, table, unk[i], NULL);
        if (!c)
            continue;
        row_cell(r, c);
        if (c->reason == REASON_NONE) {
            lo += cell_value(c, CELL_F_MEMBERS);
            hi += cell_value(c, CELL_F_MEMBERS);
        } else if (c->reason == REASON_COUNT) {
            lo += 1;
            hi += p->k - 1;
            interval = 1;
            flag_add(r, "count");
        } else {
            flag_add(r, cell_reason_name(c->reason));
            bad = 1;
        }
    }
    if (bad || !(N > 0)) {
        flag_add(r, "input_suppressed");
        return 0;
    }
    if (interval) {
        r->lower = 1 - hi / N;
        r->upper = 1 - lo / N;
        if (r->lower < 0)
            r->lower = 0;
        if (r->upper < p->dq_min_completeness)
            flag_add(r, "dq_low_completeness");
        return 0;
    }
    r->value = 1 - lo / N;
    if (r->value < p->dq_min_completeness)
        flag_add(r, "dq_low_completeness");
    return 0;
}

int metrics_compute_quality(const struct cellset *cs, const struct metrics_params *p,
                            metrics_out *out)
{
    static const char *const re_unk[] = {"UNKNOWN", "DECLINED"};
    static const char *const lang_unk[] = {"und"};
    if (emit_completeness_counts(cs, p, "race", re_unk, 2, out) ||
        emit_completeness_counts(cs, p, "ethnicity", re_unk, 2, out) ||
        emit_completeness_counts(cs, p, "language", lang_unk, 1, out))
        return -1;
    int has_payer;
    const struct cell *pu = pop_cell(cs, "payer", "UNKNOWN", &has_payer);
    if (has_payer && has_population(cs, "payer") && want(p, "payer")) {
        struct metrics_row *r = row_add(out, cs->round, "population", "payer", "all",
                                        "completeness");
        if (!r)
            return -1;
        org_ref(r, cs);
        row_cell(r, pu);
        double mall = pop_all(cs, "payer", 1);
        if ((pu && pu->reason != REASON_NONE) || !(mall > 0)) {
            if (pu && pu->reason != REASON_NONE)
                flag_add(r, cell_reason_name(pu->reason));
            flag_add(r, "input_suppressed");
        } else {
            r->value = 1 - (pu ? cell_value(pu, CELL_F_MONTHS) : 0) / mall;
            if (r->value < p->dq_min_completeness)
                flag_add(r, "dq_low_completeness");
        }
    }
    int tt = cellset_find_table(cs, "total");
    const struct cell *hs = tt >= 0 ? cellset_get(cs, M_HRSN_SCREENING, tt, 0) : NULL;
    if (hs && want(p, "total")) {
        struct metrics_row *r = row_add(out, cs->round, "hrsn_screening", "total", "all",
                                        "completeness");
        if (!r)
            return -1;
        org_ref(r, cs);
        row_cell(r, hs);
        struct mstat s;
        if (hs->reason != REASON_NONE) {
            row_withheld(r, hs);
        } else if (mstat_proportion(cell_value(hs, CELL_F_NUM), cell_value(hs, CELL_F_DEN), p->conf, &s) != MSTAT_OK) {
            flag_add(r, "undefined");
        } else {
            row_stat(r, &s);
            if (s.value < p->dq_min_completeness)
                flag_add(r, "dq_low_completeness");
        }
    }
    return 0;
}

/* ---- variation between organizations (section 5) --------------------------- */

static int same_layout(struct cellset *const *orgs, int n)
{
    for (int o = 1; o < n; o++) {
        if (orgs[o]->ntables != orgs[0]->ntables)
            return 0;
        for (int t = 0; t < orgs[0]->ntables; t++)
            if (strcmp(orgs[o]->tables[t].name, orgs[0]->tables[t].name) != 0 ||
                orgs[o]->tables[t].nstrata != orgs[0]->tables[t].nstrata)
                return 0;
    }
    return 1;
}

/* Position of an organization against the pooled value at 95 % / 99.8 %. */
static const char *position(double y, double lo95, double hi95, double lo998, double hi998)
{
    if (y > hi998)
        return "above_99.8";
    if (y < lo998)
        return "below_99.8";
    if (y > hi95)
        return "above_95";
    if (y < lo95)
        return "below_95";
    return "within";
}

static int emit_funnel(struct cellset *const *orgs, int n, const struct metrics_params *p,
                       int measure, int table, int stratum, const char *label,
                       metrics_out *out)
{
    const struct measure_def *m = catalog_measure(measure);
    const struct cell_table *t = &orgs[0]->tables[table];
    double sx = 0, sd = 0, sm = 0, sn = 0, sq = 0;
    int k = 0, withheld = 0, any = 0;
    for (int o = 0; o < n; o++) {
        const struct cell *c = cellset_get(orgs[o], measure, table, stratum);
        if (!c)
            continue;
        any = 1;
        if (c->reason != REASON_NONE) {
            withheld++;
            continue;
        }
        sx += cell_value(c, CELL_F_NUM);
        sd += cell_value(c, CELL_F_DEN);
        sm += cell_value(c, CELL_F_MONTHS);
        sn += cell_value(c, CELL_F_MEMBERS);
        sq += cell_value(c, CELL_F_SQ);
        k++;
    }
    if (!any)
        return 0;
    /* Pooled value over the organizations shown, and the pooled s. */
    double y0 = NAN, s0 = NAN;
    switch (m->kind) {
    case KIND_PROPORTION: y0 = sd > 0 ? sx / sd : NAN; break;
    case KIND_RATE: y0 = sm > 0 ? 12000 * sx / sm : NAN; break;
    case KIND_MEAN:
        y0 = sd > 0 ? sx / sd : NAN;
        s0 = sd > 1 ? sqrt(fmax(0, (sq - sx * sx / sd) / (sd - 1))) : NAN;
        break;
    case KIND_PMPM:
        y0 = sm > 0 ? sx / sm : NAN;
        s0 = sn > 1 ? sqrt(fmax(0, (sq - sx * sx / sn) / (sn - 1))) : NAN;
        break;
    default: return 0;
    }
    double z95 = mstat_z(0.95), z998 = mstat_z(0.998), Q = 0, wsum = 0, wy = 0;
    int qok = isfinite(y0), nq = 0;
    size_t first = out->n;
    for (int o = 0; o < n; o++) {
        const struct cell *c = cellset_get(orgs[o], measure, table, stratum);
        if (!c)
            continue;
        struct metrics_row *r = row_add(out, orgs[o]->round, m->name, t->name, label, "funnel");
        if (!r)
            return -1;
        org_ref(r, orgs[o]);
        row_cell(r, c);
        if (c->reason != REASON_NONE) {
            row_withheld(r, c);
            continue;
        }
        struct group g;
        memset(&g, 0, sizeof g);
        g.c = c;
        estimate(m, p, &g);
        if (!g.ok || !isfinite(y0)) {
            flag_add(r, "undefined");
            qok = 0;
            continue;
        }
        r->value = g.s.value;
        r->se = g.s.se;
        double y = g.s.value, l95, h95, l998, h998;
        const char *pos = "within";
        if (m->kind == KIND_PROPORTION) {
            mstat_funnel_proportion(y0, cell_value(c, CELL_F_DEN), 0.95, &l95, &h95);
            mstat_funnel_proportion(y0, cell_value(c, CELL_F_DEN), 0.998, &l998, &h998);
            pos = position(y, l95, h95, l998, h998);
            double v = y0 * (1 - y0);
            if (v > 0)
                Q += cell_value(c, CELL_F_DEN) * (y - y0) * (y - y0) / v;
            else
                qok = 0;
        } else if (m->kind == KIND_RATE) {
            struct mstat a, b;
            mstat_rate(cell_value(c, CELL_F_NUM), cell_value(c, CELL_F_MONTHS), 0.95, &a);
            mstat_rate(cell_value(c, CELL_F_NUM), cell_value(c, CELL_F_MONTHS), 0.998, &b);
            pos = a.lower > y0 ? (b.lower > y0 ? "above_99.8" : "above_95")
                : a.upper < y0 ? (b.upper < y0 ? "below_99.8" : "below_95") : "within";
            double h = z95 * sqrt(12000 * y0 / cell_value(c, CELL_F_MONTHS));
            l95 = y0 - h < 0 ? 0 : y0 - h;
            h95 = y0 + h;
            double e = y0 * cell_value(c, CELL_F_MONTHS) / 12000;
            if (e > 0)
                Q += (cell_value(c, CELL_F_NUM) - e) * (cell_value(c, CELL_F_NUM) - e) / e;
            else
                qok = 0;
        } else {
            double sz = m->kind == KIND_MEAN ? s0 / sqrt(cell_value(c, CELL_F_DEN))
                                             : s0 * sqrt(cell_value(c, CELL_F_MEMBERS)) / cell_value(c, CELL_F_MONTHS);
            l95 = y0 - z95 * sz;
            h95 = y0 + z95 * sz;
            l998 = y0 - z998 * sz;
            h998 = y0 + z998 * sz;
            pos = position(y, l95, h95, l998, h998);
            if (g.s.se > 0) {
                wsum += 1 / (g.s.se * g.s.se);
                wy += y / (g.s.se * g.s.se);
            } else {
                qok = 0;
            }
        }
        r->lower = l95;
        r->upper = h95;
        flag_add(r, pos);
        if (g.unreliable)
            flag_add(r, "unreliable");
        if (g.small)
            flag_add(r, "small_denominator");
        nq++;
    }
    if ((m->kind == KIND_MEAN || m->kind == KIND_PMPM) && qok && wsum > 0) {
        double yw = wy / wsum;
        for (size_t i = first; i < out->n; i++) {
            const struct metrics_row *r = &out->rows[i];
            if (isfinite(r->value) && r->se > 0)
                Q += (r->value - yw) * (r->value - yw) / (r->se * r->se);
        }
    }
    const char *names[3] = {"i2", "het_q", "het_p"};
    double i2, pv;
    int hrc = qok ? mstat_heterogeneity(Q, nq, &i2, &pv) : MSTAT_EUNDEFINED;
    for (int k2 = 0; k2 < 3; k2++) {
        struct metrics_row *r = row_add(out, orgs[0]->round, m->name, t->name, label, names[k2]);
        if (!r)
            return -1;
        snprintf(r->reference, sizeof r->reference, "orgs");
        r->n_orgs = k;
        r->n_withheld = withheld;
        if (withheld)
            flag_add(r, "partial");
        if (hrc == MSTAT_EDOMAIN) {
            flag_add(r, "few_groups");
            continue;
        }
        if (hrc != MSTAT_OK) {
            flag_add(r, "undefined");
            continue;
        }
        r->value = k2 == 0 ? i2 : k2 == 1 ? Q : pv;
    }
    return 0;
}

int metrics_compute_orgs(struct cellset *const *orgs, int n, const struct metrics_params *p,
                         metrics_out *out)
{
    if (n <= 0)
        return 0;
    if (!same_layout(orgs, n))
        return -1;
    const struct cellset *f = orgs[0];
    char label[256];
    for (int measure = 0; measure < catalog_n_measures(); measure++) {
        if (catalog_measure(measure)->kind == KIND_COUNT)
            continue;
        for (int table = 0; table < f->ntables; table++) {
            const struct cell_table *t = &f->tables[table];
            if (!want(p, t->name))
                continue;
            for (int s = 0; s < t->nstrata; s++) {
                struct cell key = {.table = table, .stratum = s};
                cellset_stratum_label(f, &key, label, sizeof label);
                if (emit_funnel(orgs, n, p, measure, table, s, label, out))
                    return -1;
            }
        }
    }
    for (int o = 0; o < n; o++)
        if (metrics_compute_quality(orgs[o], p, out))
            return -1;
    return 0;
}

/* ---- gap-closure incentive (section 6) ------------------------------------- */

int metrics_incentive_check(const struct metrics_incentive *ip, const struct metrics_params *p,
                            char *err, size_t errlen)
{
    int measure = catalog_measure_find(ip->measure);
    if (measure < 0) {
        snprintf(err, errlen, "incentive measure: unknown measure '%s'", ip->measure);
        return METRICS_EINVAL;
    }
    const struct measure_def *m = catalog_measure(measure);
    if (m->better == BETTER_NONE || m->kind == KIND_MEAN || m->kind == KIND_COUNT) {
        snprintf(err, errlen,
                 "incentive measure: '%s' has no excess (it needs a better direction and "
                 "a proportion, rate or pmpm)", ip->measure);
        return METRICS_EINVAL;
    }
    int st = catalog_stratifier_find(ip->stratifier, strlen(ip->stratifier));
    if (st < 0 || st == S_TOTAL) {
        snprintf(err, errlen, "incentive stratifier: expected a one-way stratifier such as "
                 "race, found '%s'", ip->stratifier);
        return METRICS_EINVAL;
    }
    if (!ip->focal[0]) {
        snprintf(err, errlen, "incentive: no focal stratum");
        return METRICS_EINVAL;
    }
    if (!(ip->pool > 0) || !isfinite(ip->pool)) {
        snprintf(err, errlen, "incentive pool: expected dollars > 0, found %g", ip->pool);
        return METRICS_EINVAL;
    }
    if (ip->mode != METRICS_INCENTIVE_SHARE && ip->mode != METRICS_INCENTIVE_EARN) {
        snprintf(err, errlen, "incentive mode: expected share or earn");
        return METRICS_EINVAL;
    }
    if (p->reference == METRICS_REF_VALUE && strcmp(p->reference_value, ip->focal) == 0) {
        snprintf(err, errlen, "incentive: the focal stratum '%s' is the reference; its gap "
                 "to itself is always 0", ip->focal);
        return METRICS_EINVAL;
    }
    return 0;
}

/* Adds each flag of a ';'-separated list to r (once each). */
static void flags_merge(struct metrics_row *r, const char *list)
{
    for (const char *s = list; *s;) {
        const char *e = strchr(s, ';');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        char one[64];
        if (l > 0 && l < sizeof one) {
            memcpy(one, s, l);
            one[l] = '\0';
            flag_add(r, one);
        }
        s += l + (e ? 1 : 0);
    }
}

/* One organization's D at one time: its focal group's excess, with the
 * excess row's flags and counts. */
struct disparity {
    double d; /* NaN when not computed */
    struct metrics_row why;
};

/* Computes D for one organization's cell set by running metrics_compute on
 * the incentive's table and taking the focal stratum's `excess` row, so that
 * D is the figure the metrics CSV would show for that organization. */
static int org_disparity(const struct cellset *cs, const struct metrics_params *p, int measure,
                         const struct metrics_incentive *ip, struct disparity *o)
{
    const struct measure_def *m = catalog_measure(measure);
    memset(o, 0, sizeof *o);
    o->d = NAN;
    o->why.n_orgs = o->why.n_withheld = -1;
    int table = cellset_find_table(cs, ip->stratifier), focal = -1;
    if (table >= 0 && cs->tables[table].ndim == 1)
        for (int s = 0; s < cs->tables[table].nstrata; s++)
            if (strcmp(cs->tables[table].labels[0][s], ip->focal) == 0)
                focal = s;
    const struct cell *fc = focal >= 0 ? cellset_get(cs, measure, table, focal) : NULL;
    if (!fc) {
        /* The organization sent no cell for the focal group at all. */
        flag_add(&o->why, "undefined");
        return 0;
    }
    struct metrics_params q = *p;
    snprintf(q.stratifier, sizeof q.stratifier, "%s", ip->stratifier);
    q.capitation_base = NAN;
    q.mssp_scaler = NAN;
    metrics_out *tmp = metrics_out_new();
    struct group *g = NULL;
    int rc = METRICS_ENOMEM;
    if (!tmp || metrics_compute(cs, &q, tmp) != 0)
        goto out;
    const struct metrics_row *r = metrics_out_find(tmp, m->name, ip->stratifier, ip->focal,
                                                   "excess", NULL);
    if (r) {
        snprintf(o->why.flags, sizeof o->why.flags, "%s", r->flags);
        o->why.n_orgs = r->n_orgs;
        o->why.n_withheld = r->n_withheld;
        if (isfinite(r->value))
            o->d = r->value;
        else if (fc->reason != REASON_NONE)
            flag_add(&o->why, "input_suppressed");
        rc = 0;
        goto out;
    }
    /* No excess row for a focal cell that exists: either the focal group is
     * the reference (best or largest picked it: its gap is 0), or the
     * reference group has no cell in this organization's table. */
    g = calloc((size_t)cs->tables[table].nstrata, sizeof *g);
    if (!g)
        goto out;
    int n = load_groups(cs, &q, measure, table, g);
    struct ref ref;
    pick_reference(m, &q, g, n, &ref);
    if (!ref.skip && ref.idx == focal)
        o->d = 0;
    else
        flag_add(&o->why, "undefined");
    rc = 0;
out:
    free(g);
    metrics_out_destroy(&tmp);
    return rc;
}

static int find_org(struct cellset *const *sets, int n, const char *org)
{
    for (int i = 0; i < n; i++)
        if (strcmp(sets[i]->org, org) == 0)
            return i;
    return -1;
}

int metrics_compute_incentive(struct cellset *const *base, int nb, struct cellset *const *now,
                              int nn, const struct metrics_params *p,
                              const struct metrics_incentive *ip, metrics_out *out, char *err,
                              size_t errlen)
{
    if (metrics_incentive_check(ip, p, err, errlen) != 0)
        return METRICS_EINVAL;
    int measure = catalog_measure_find(ip->measure);
    for (int j = 0; j < nb; j++)
        if (find_org(now, nn, base[j]->org) < 0)
            log_warnx("incentive: organization '%s' is in the baseline cells only; no "
                      "incentive row", base[j]->org);
    size_t cnt = nn > 0 ? (size_t)nn : 1;
    struct disparity *d0 = calloc(cnt, sizeof *d0), *d1 = calloc(cnt, sizeof *d1);
    double *a0 = calloc(cnt, sizeof *a0), *a1 = calloc(cnt, sizeof *a1);
    double *pay = calloc(cnt, sizeof *pay);
    int *in = calloc(cnt, sizeof *in), rc = METRICS_ENOMEM, k = 0;
    if (!d0 || !d1 || !a0 || !a1 || !pay || !in)
        goto out;
    for (int i = 0; i < nn; i++) {
        int j = find_org(base, nb, now[i]->org);
        in[i] = j >= 0;
        if (j < 0) {
            log_warnx("incentive: organization '%s' is in the current cells only; no "
                      "incentive row", now[i]->org);
            continue;
        }
        if (org_disparity(base[j], p, measure, ip, &d0[i]) != 0 ||
            org_disparity(now[i], p, measure, ip, &d1[i]) != 0)
            goto out;
        if (isfinite(d0[i].d) && isfinite(d1[i].d)) {
            a0[k] = d0[i].d;
            a1[k] = d1[i].d;
            k++;
        }
    }
    if (mstat_incentive(k, a0, a1, ip->pool,
                        ip->mode == METRICS_INCENTIVE_EARN ? MSTAT_INCENTIVE_EARN
                                                           : MSTAT_INCENTIVE_SHARE,
                        pay) != MSTAT_OK) {
        snprintf(err, errlen, "incentive: cannot compute the payments");
        rc = METRICS_EINVAL;
        goto out;
    }
    k = 0;
    for (int i = 0; i < nn; i++) {
        if (!in[i])
            continue;
        struct metrics_row *r = row_add(out, now[i]->round, ip->measure, ip->stratifier,
                                        ip->focal, "incentive");
        if (!r)
            goto out;
        org_ref(r, now[i]);
        const struct disparity *ds[2] = {&d0[i], &d1[i]};
        for (int t = 0; t < 2; t++) {
            const struct metrics_row *w = &ds[t]->why;
            flags_merge(r, w->flags);
            if (w->n_orgs >= 0)
                r->n_orgs = r->n_orgs < 0 || w->n_orgs < r->n_orgs ? w->n_orgs : r->n_orgs;
            if (w->n_withheld > r->n_withheld)
                r->n_withheld = w->n_withheld;
        }
        if (isfinite(d0[i].d) && isfinite(d1[i].d))
            r->value = pay[k++];
    }
    rc = 0;
out:
    if (rc == METRICS_ENOMEM)
        snprintf(err, errlen, "out of memory");
    free(d0);
    free(d1);
    free(a0);
    free(a1);
    free(pay);
    free(in);
    return rc;
}

/* ---- pooling --------------------------------------------------------------- */

struct cellset *metrics_pool(struct cellset *const *orgs, int n)
{
    if (n <= 0 || !same_layout(orgs, n))
        return NULL;
    struct cellset *pool = cellset_new();
    if (!pool)
        return NULL;
    snprintf(pool->org, sizeof pool->org, "pooled");
    snprintf(pool->round, sizeof pool->round, "%s", orgs[0]->round);
    for (int t = 0; t < orgs[0]->ntables; t++) {
        const struct cell_table *tb = &orgs[0]->tables[t];
        const char *const *labels[CELLS_MAX_DIM] = {NULL};
        for (int d = 0; d < tb->ndim; d++)
            labels[d] = (const char *const *)tb->labels[d];
        if (cellset_add_table(pool, tb->ndim, tb->dim, tb->card, labels) != t)
            goto fail;
    }
    for (int measure = 0; measure < catalog_n_measures(); measure++) {
        for (int t = 0; t < pool->ntables; t++) {
            for (int s = 0; s < pool->tables[t].nstrata; s++) {
                struct cell sum = {.measure = measure, .table = t, .stratum = s};
                int any = 0;
                cell_reason first = REASON_NONE;
                for (int o = 0; o < n; o++) {
                    const struct cell *c = cellset_get(orgs[o], measure, t, s);
                    if (!c)
                        continue;
                    if (!any)
                        first = c->reason;
                    any = 1;
                    if (c->reason != REASON_NONE) {
                        sum.n_withheld++;
                        continue;
                    }
                    sum.n_orgs++;
                    sum.members += c->members;
                    sum.member_months += c->member_months;
                    sum.denominator += c->denominator;
                    sum.numerator += c->numerator;
                    sum.sum_sq += c->sum_sq;
                    if (c->max_contrib > sum.max_contrib)
                        sum.max_contrib = c->max_contrib;
                }
                if (!any)
                    continue;
                if (sum.n_orgs == 0) {
                    memset(&sum, 0, sizeof sum);
                    sum.measure = measure;
                    sum.table = t;
                    sum.stratum = s;
                    sum.reason = first;
                    sum.n_withheld = n;
                    for (int o = 0; o < n; o++)
                        if (!cellset_get(orgs[o], measure, t, s))
                            sum.n_withheld--;
                }
                if (!cellset_append(pool, &sum))
                    goto fail;
            }
        }
    }
    cellset_sort(pool);
    return pool;
fail:
    cellset_destroy(&pool);
    return NULL;
}
