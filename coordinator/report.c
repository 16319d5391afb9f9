/*
 * report.c - the round report (see report.h).
 *
 * Order: read the round and require it released; read pooled.csv and check
 * it against the release record; compute the metrics of the cells as
 * released (as `equity-coordinator metrics` does); when the terms give
 * per-organization figures to analysts, read the in-time submissions for
 * the funnel plots and per-organization data quality; read earlier
 * released rounds for the trends; then write the page into a temporary
 * file renamed into place. Metric rows are looked up through a sorted
 * index of (measure, stratifier, stratum, metric).
 */
#include "report.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomic_file.h"
#include "cells_read.h"
#include "csvtext.h"
#include "envelope.h"
#include "html.h"
#include "identity.h"
#include "log.h"
#include "metrics_stats.h"
#include "release.h"
#include "wire.h"

#define REPORT_MAX_TRENDS 12
#define REPORT_MAX_ORGS 256

/* ---- index of metric rows ---------------------------------------------------- */

struct rindex {
    const struct metrics_row **v;
    size_t n;
};

static int key_cmp(const struct metrics_row *a, const char *measure, const char *strat,
                   const char *stratum, const char *metric)
{
    int c = strcmp(a->measure, measure);
    if (!c)
        c = strcmp(a->stratifier, strat);
    if (!c)
        c = strcmp(a->metric, metric);
    if (!c)
        c = strcmp(a->stratum, stratum);
    return c;
}

static int row_cmp(const void *x, const void *y)
{
    const struct metrics_row *a = *(const struct metrics_row *const *)x;
    const struct metrics_row *b = *(const struct metrics_row *const *)y;
    int c = key_cmp(a, b->measure, b->stratifier, b->stratum, b->metric);
    if (!c)
        c = strcmp(a->reference, b->reference);
    if (!c)
        c = a < b ? -1 : a > b;
    return c;
}

static int rindex_build(struct rindex *ix, const metrics_out *mo)
{
    ix->n = metrics_out_count(mo);
    ix->v = malloc((ix->n ? ix->n : 1) * sizeof *ix->v);
    if (!ix->v)
        return -1;
    for (size_t i = 0; i < ix->n; i++)
        ix->v[i] = metrics_out_row(mo, i);
    qsort(ix->v, ix->n, sizeof *ix->v, row_cmp);
    return 0;
}

/* Position of the first row with the key (or ix->n). */
static size_t rindex_lower(const struct rindex *ix, const char *measure, const char *strat,
                           const char *stratum, const char *metric)
{
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (key_cmp(ix->v[mid], measure, strat, stratum, metric) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const struct metrics_row *rfind(const struct rindex *ix, const char *measure,
                                       const char *strat, const char *stratum,
                                       const char *metric)
{
    if (!ix->v)
        return NULL;
    size_t i = rindex_lower(ix, measure, strat, stratum, metric);
    return i < ix->n && key_cmp(ix->v[i], measure, strat, stratum, metric) == 0 ? ix->v[i]
                                                                                : NULL;
}

static int has_flag(const char *flags, const char *f)
{
    size_t fl = strlen(f);
    for (const char *s = flags; *s;) {
        const char *e = strchr(s, ';');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (l == fl && strncmp(s, f, l) == 0)
            return 1;
        s += l + (e ? 1 : 0);
    }
    return 0;
}

/* ---- context ---------------------------------------------------------------- */

struct trend {
    char round[64], period[32];
    struct cellset **sets;
    int nsets;
    metrics_out *mo;
    struct rindex ix;
};

struct refusal_row {
    char org[128], reason[400];
};

struct org_rejected {
    char org[128];
    struct wire_rejected r[WIRE_MAX_REJECTED];
    int n;
};

struct rep {
    const struct coord_config *cfg;
    const struct metrics_params *p;
    struct store_round sr;
    struct round_request rq;
    int have_rq;
    char sha[65];
    struct cellset **sets;
    int nsets;
    const struct cellset *cs;
    struct cellset *empty; /* the cells of a round nobody answered */
    metrics_out *mo;
    struct rindex ix;
    /* per-organization figures (terms allow them) */
    char *org_csv;
    size_t org_len;
    FILE *org_f;
    int org_n, org_bad;
    struct cellset **orgs;
    int norgs;
    metrics_out *moo;
    struct rindex oix;
    /* submissions and refusals */
    int nsub, nlate;
    struct org_rejected *rej; /* rows each on-time submission says it rejected */
    int nrej;
    struct refusal_row *refusals;
    int nref;
    struct refusal_row *unanswered; /* held or failing on site at close */
    int nunans;
    /* earlier rounds */
    struct trend tr[REPORT_MAX_TRENDS];
    int ntr;
};

/* ---- formatting -------------------------------------------------------------- */

static void measure_fmt(int measure, int *decimals, double *scale)
{
    const struct measure_def *m = catalog_measure(measure);
    *scale = 1;
    switch (m->kind) {
    case KIND_PROPORTION: *decimals = 1; *scale = 100; break;
    case KIND_RATE: *decimals = 1; break;
    case KIND_MEAN:
    case KIND_PMPM: *decimals = 2; break;
    default: *decimals = 0;
    }
}

static const char *display_unit(int measure)
{
    const struct measure_def *m = catalog_measure(measure);
    return m->kind == KIND_PROPORTION ? "% of the eligible population"
                                      : metrics_measure_unit(measure);
}

static void sig(FILE *f, double v)
{
    if (!isfinite(v)) {
        fputs("\xe2\x80\x94", f);
        return;
    }
    fprintf(f, "%.4g", v);
}

static void iso_time(char *buf, size_t len, int64_t t)
{
    if (t <= 0) {
        snprintf(buf, len, "-");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm);
}

static void anchor(char *buf, size_t len, const char *a, const char *b, const char *c)
{
    snprintf(buf, len, "%s-%s%s%s", a, b, c ? "-" : "", c ? c : "");
    for (char *s = buf; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            *s = '_';
}

/* ---- points from cells and rows ------------------------------------------------- */

/* A withheld cell: its reason and how many organizations were behind it. */
static void withheld_note(char *buf, size_t len, const struct cell *c)
{
    const char *why = cell_reason_name(c->reason);
    if (c->reason == REASON_PARTIAL && c->n_orgs == 0)
        snprintf(buf, len, "%s: every organization withheld its part", why);
    else if (c->reason == REASON_MIN_ORGS)
        snprintf(buf, len, "%s: %d organization%s behind it, fewer than the round's minimum",
                 why, c->n_orgs, c->n_orgs == 1 ? "" : "s");
    else
        snprintf(buf, len, "%s (%d organization%s)", why, c->n_orgs, c->n_orgs == 1 ? "" : "s");
}

static void point_from_cell(struct html_point *pt, const char *label, const struct cell *c,
                            const struct metrics_row *r)
{
    memset(pt, 0, sizeof *pt);
    snprintf(pt->label, sizeof pt->label, "%s", label);
    pt->value = pt->lower = pt->upper = NAN;
    pt->n_orgs = c ? c->n_orgs : -1;
    if (c && c->reason != REASON_NONE) {
        pt->state = HTML_WITHHELD;
        withheld_note(pt->note, sizeof pt->note, c);
        return;
    }
    if (!r || !isfinite(r->value)) {
        pt->state = HTML_NOT_COMPUTED;
        snprintf(pt->note, sizeof pt->note, "%s", r ? r->flags : "no metric");
        return;
    }
    pt->value = r->value;
    pt->lower = r->lower;
    pt->upper = r->upper;
    pt->state = c && c->n_withheld > 0 ? HTML_PARTIAL : HTML_OK;
    if (c && c->n_withheld > 0)
        snprintf(pt->note, sizeof pt->note, "partial: %d organization%s withheld their part; %.100s",
                 c->n_withheld, c->n_withheld == 1 ? "" : "s", r->flags);
    else
        snprintf(pt->note, sizeof pt->note, "%s", r->flags);
}

/* A metric row alone (no cell): withheld when its flags name a withheld
 * input, not computed otherwise. */
static void point_from_row(struct html_point *pt, const char *label, const struct metrics_row *r)
{
    memset(pt, 0, sizeof *pt);
    snprintf(pt->label, sizeof pt->label, "%s", label);
    pt->value = pt->lower = pt->upper = NAN;
    pt->n_orgs = r ? r->n_orgs : -1;
    if (!r) {
        pt->state = HTML_NOT_COMPUTED;
        snprintf(pt->note, sizeof pt->note, "no metric");
        return;
    }
    snprintf(pt->note, sizeof pt->note, "%s", r->flags);
    if (!isfinite(r->value)) {
        int withheld = has_flag(r->flags, "input_suppressed");
        for (int k = 1; k < REASON__COUNT && !withheld; k++)
            withheld = has_flag(r->flags, cell_reason_name((cell_reason)k));
        pt->state = withheld ? HTML_WITHHELD : HTML_NOT_COMPUTED;
        return;
    }
    pt->value = r->value;
    pt->lower = r->lower;
    pt->upper = r->upper;
    pt->state = has_flag(r->flags, "partial") ? HTML_PARTIAL : HTML_OK;
}

static int table_has_measure(const struct cellset *cs, int measure, int t)
{
    for (int s = 0; s < cs->tables[t].nstrata; s++)
        if (cellset_get(cs, measure, t, s))
            return 1;
    return 0;
}

static int measure_present(const struct cellset *cs, int measure)
{
    for (int t = 0; t < cs->ntables; t++)
        if (table_has_measure(cs, measure, t))
            return 1;
    return 0;
}

static int want_table(const struct rep *R, const char *name)
{
    return !R->p->stratifier[0] || strcmp(R->p->stratifier, name) == 0 ||
           strcmp(name, "total") == 0;
}

/* ---- charts --------------------------------------------------------------------- */

static int estimates_chart(FILE *f, const struct rep *R, int measure, int t)
{
    const struct cellset *cs = R->cs;
    const struct cell_table *tb = &cs->tables[t];
    const struct measure_def *m = catalog_measure(measure);
    struct html_point *pts = calloc((size_t)tb->nstrata, sizeof *pts);
    if (!pts)
        return -1;
    int n = 0;
    char label[256];
    for (int s = 0; s < tb->nstrata; s++) {
        const struct cell *c = cellset_get(cs, measure, t, s);
        if (!c)
            continue;
        cellset_stratum_label(cs, c, label, sizeof label);
        point_from_cell(&pts[n++], label, c,
                        rfind(&R->ix, m->name, tb->name, label, "estimate"));
    }
    struct html_axis ax = {display_unit(measure), NAN, 0, 0, 1};
    measure_fmt(measure, &ax.decimals, &ax.scale);
    char id[200], cap[400];
    anchor(id, sizeof id, "est", m->name, tb->name);
    snprintf(cap, sizeof cap, "%s by %s: estimate and 95 %% CI", m->label, tb->name);
    html_chart_dots(f, id, cap, pts, n, &ax);
    free(pts);
    return 0;
}

static int dsr_chart(FILE *f, const struct rep *R, int measure, int t)
{
    const struct cellset *cs = R->cs;
    const struct cell_table *tb = &cs->tables[t];
    const struct measure_def *m = catalog_measure(measure);
    int ad = -1;
    for (int d = 0; d < tb->ndim; d++)
        if (tb->dim[d] == S_AGE_STD)
            ad = d;
    if (ad < 0 || m->kind != KIND_RATE || tb->ndim > 2)
        return 0;
    int od = tb->ndim == 2 ? 1 - ad : -1, nouter = od >= 0 ? tb->card[od] : 1;
    struct html_point *pts = calloc((size_t)nouter, sizeof *pts);
    if (!pts)
        return -1;
    int n = 0;
    for (int o = 0; o < nouter; o++) {
        const char *label = od >= 0 ? tb->labels[od][o] : "all";
        const struct metrics_row *r = rfind(&R->ix, m->name, tb->name, label, "dsr");
        if (r)
            point_from_row(&pts[n++], label, r);
    }
    if (n > 0) {
        struct html_axis ax = {"age-standardised, per 1,000 member-years", NAN, 0, 1, 1};
        char id[200], cap[400];
        anchor(id, sizeof id, "dsr", m->name, tb->name);
        snprintf(cap, sizeof cap, "%s: directly age-standardised rate (%s), 95 %% CI", m->label,
                 tb->name);
        html_chart_dots(f, id, cap, pts, n, &ax);
    }
    free(pts);
    return 0;
}

/* RR forest plot of a one-way table against the reference, RD in the
 * table's notes. */
static int forest_chart(FILE *f, const struct rep *R, int measure, int t)
{
    const struct cellset *cs = R->cs;
    const struct cell_table *tb = &cs->tables[t];
    const struct measure_def *m = catalog_measure(measure);
    if (m->kind == KIND_COUNT || tb->ndim != 1)
        return 0;
    struct html_point *pts = calloc((size_t)tb->nstrata + 1, sizeof *pts);
    if (!pts)
        return -1;
    int n = 0, dec;
    double scale;
    measure_fmt(measure, &dec, &scale);
    const char *ref = NULL, *why = NULL;
    for (int s = 0; s < tb->nstrata; s++) {
        const char *label = tb->labels[0][s];
        const struct metrics_row *rr = rfind(&R->ix, m->name, tb->name, label, "rr");
        const struct metrics_row *rd = rfind(&R->ix, m->name, tb->name, label, "rd");
        const struct cell *c = cellset_get(cs, measure, t, s);
        if (!c)
            continue;
        if (!rr) {
            /* the reference group itself (no row against itself) */
            struct html_point *p = &pts[n++];
            memset(p, 0, sizeof *p);
            snprintf(p->label, sizeof p->label, "%s (reference)", label);
            p->value = 1;
            p->lower = p->upper = NAN;
            p->n_orgs = c->n_orgs;
            p->state = c->n_withheld > 0 ? HTML_PARTIAL : HTML_OK;
            snprintf(p->note, sizeof p->note, "reference group");
            if (c->reason != REASON_NONE) {
                p->state = HTML_WITHHELD;
                withheld_note(p->note, sizeof p->note, c);
            }
            continue;
        }
        ref = rr->reference;
        struct html_point *p = &pts[n++];
        point_from_row(p, label, rr);
        if (c->reason != REASON_NONE) {
            p->state = HTML_WITHHELD;
            char wn[160];
            withheld_note(wn, sizeof wn, c);
            snprintf(p->note, sizeof p->note, "%.90s; %.100s", wn, rr->flags);
        }
        if (isfinite(rr->value)) {
            if (has_flag(rr->flags, "adverse"))
                p->mark = HTML_MARK_ADVERSE;
            else if (m->better != BETTER_NONE && (rr->lower > 1 || rr->upper < 1))
                p->mark = HTML_MARK_FAVOURABLE;
            if (rd && isfinite(rd->value)) {
                char extra[120];
                double k = scale, pw = pow(10, dec);
                snprintf(extra, sizeof extra, "RD %.*f [%.*f, %.*f]", dec,
                         round(rd->value * k * pw) / pw, dec, round(rd->lower * k * pw) / pw,
                         dec, round(rd->upper * k * pw) / pw);
                size_t used = strlen(p->note);
                snprintf(p->note + used, sizeof p->note - used, "%s%s", used ? "; " : "", extra);
            }
        } else if (!why && p->state == HTML_NOT_COMPUTED) {
            why = rr->flags;
        }
    }
    int any = 0;
    for (int i = 0; i < n; i++)
        any |= isfinite(pts[i].value) && strstr(pts[i].label, "(reference)") == NULL;
    char id[200], cap[400];
    anchor(id, sizeof id, "rr", m->name, tb->name);
    if (!any) {
        fputs("<p class=\"note\">Rate ratios by ", f);
        html_text(f, tb->name);
        fputs(" not computed", f);
        if (why) {
            fputs(": ", f);
            html_text(f, why);
        }
        fputs(".</p>\n", f);
    } else {
        snprintf(cap, sizeof cap, "%s by %s: ratio to the reference (%s), 95 %% CI; red adverse, "
                 "blue favourable", m->label, tb->name, ref ? ref : "best");
        struct html_axis ax = {"ratio to the reference (log scale)", 1, 1, 3, 1};
        html_chart_dots(f, id, cap, pts, n, &ax);
    }
    free(pts);
    return 0;
}

static void indices_table(FILE *f, const struct rep *R, int measure)
{
    static const char *const idx[] = {"bgv", "idisp", "idisp_w", "mld", "theil",
                                      "sii", "rii",   "aci",     "rci"};
    const struct cellset *cs = R->cs;
    const struct measure_def *m = catalog_measure(measure);
    int header = 0;
    for (int t = 0; t < cs->ntables; t++) {
        const struct cell_table *tb = &cs->tables[t];
        if (tb->ndim != 1 || !want_table(R, tb->name))
            continue;
        const struct metrics_row *r[9];
        int any = 0;
        for (int k = 0; k < 9; k++)
            any |= (r[k] = rfind(&R->ix, m->name, tb->name, "all", idx[k])) != NULL;
        if (!any)
            continue;
        if (!header) {
            fputs("<h3>Summary indices</h3><div class=\"tablewrap\"><table class=\"data "
                  "indices\"><thead><tr><th>stratifier</th>", f);
            for (int k = 0; k < 9; k++)
                fprintf(f, "<th>%s</th>", idx[k]);
            fputs("</tr></thead><tbody>\n", f);
            header = 1;
        }
        fputs("<tr><td>", f);
        html_text(f, tb->name);
        fputs("</td>", f);
        for (int k = 0; k < 9; k++) {
            fputs("<td class=\"n\">", f);
            if (r[k] && isfinite(r[k]->value)) {
                sig(f, r[k]->value);
                if (isfinite(r[k]->lower) && isfinite(r[k]->upper)) {
                    fputs(" [", f);
                    sig(f, r[k]->lower);
                    fputs(", ", f);
                    sig(f, r[k]->upper);
                    fputs("]", f);
                }
                if (has_flag(r[k]->flags, "partial"))
                    fputs(" partial", f);
            } else if (r[k]) {
                fputs("not computed: ", f);
                html_text(f, r[k]->flags);
            } else {
                fputs("\xe2\x80\x94", f);
            }
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    if (header)
        fputs("</tbody></table></div>\n<p class=\"note\">BGV between-group variance, IDisp "
              "index of disparity (x100, against the reference), IDisp_w population-weighted, "
              "MLD mean log deviation, Theil T, SII/RII slope and relative index of inequality "
              "and ACI/RCI concentration indices (ordered stratifiers only).</p>\n", f);
}

/* ---- sections ------------------------------------------------------------------- */

static void write_header(FILE *f, const struct rep *R)
{
    char opened[40], closed[40];
    iso_time(opened, sizeof opened, R->sr.opened_at);
    iso_time(closed, sizeof closed, R->sr.closed_at);
    uint64_t counts[REASON__COUNT];
    cellset_count_reasons(R->cs, counts);
    size_t partial = 0, released = 0;
    for (size_t i = 0; i < R->cs->ncells; i++) {
        if (R->cs->cells[i].reason == REASON_NONE) {
            released++;
            partial += R->cs->cells[i].n_withheld > 0;
        }
    }
    fputs("<p class=\"meta\">Round <b>", f);
    html_text(f, R->sr.round_id);
    fputs("</b> &middot; period <b>", f);
    html_text(f, R->sr.period);
    fputs("</b> &middot; status <b>released</b> &middot; opened ", f);
    html_text(f, opened);
    fputs(" &middot; closed ", f);
    html_text(f, closed);
    if (R->have_rq) {
        fputs(" &middot; deadline ", f);
        html_text(f, R->rq.deadline);
    }
    fprintf(f, "</p>\n<p class=\"meta\">%d submission%s pooled, %d late (stored, not pooled), "
               "%d refusal%s. ", R->nsub, R->nsub == 1 ? "" : "s", R->nlate, R->nref,
            R->nref == 1 ? "" : "s");
    if (R->org_bad)
        fprintf(f, "<strong>%d stored submission%s could not be decoded and %s not in this "
                   "release</strong> (round close --force). ", R->org_bad,
                R->org_bad == 1 ? "" : "s", R->org_bad == 1 ? "is" : "are");
    if (R->have_rq)
        fprintf(f, "Terms: k = %u, min_orgs = %u, per-organization figures to analysts: %s. ",
                R->rq.k, R->rq.min_orgs, R->rq.per_org_to_analysts ? "yes" : "no");
    fprintf(f, "Cells: %zu, released %zu (of which partial %zu), withheld %zu.</p>\n",
            R->cs->ncells, released, partial, R->cs->ncells - released);
    fputs("<p class=\"note\">Everything on this page comes from the round's released pooled "
          "cells (pooled.csv, SHA-256 <code>", f);
    html_text(f, R->sha);
    fputs("</code>) and the metrics computed from them. Withheld cells are marked "
          "<i>withheld</i> with their reason, never drawn as 0; partial cells (some "
          "organization withheld its part) are hollow dots.</p>\n", f);
}

static void write_nav(FILE *f, const struct rep *R)
{
    fputs("<nav><h2 id=\"contents\">Contents</h2><ul><li><a href=\"#summary\">Summary for "
          "leadership</a></li>", f);
    for (int m = 0; m < catalog_n_measures(); m++) {
        if (!measure_present(R->cs, m))
            continue;
        fputs("<li><a href=\"#m-", f);
        html_text(f, catalog_measure(m)->name);
        fputs("\">", f);
        html_text(f, catalog_measure(m)->label);
        fputs("</a></li>", f);
    }
    fputs("<li><a href=\"#variation\">Variation between organizations</a></li>"
          "<li><a href=\"#quality\">Data quality</a></li><li><a href=\"#withheld\">Withheld "
          "cells</a></li><li><a href=\"#trends\">Trends</a></li><li><a href=\"#method\">Method "
          "and reproduction</a></li></ul></nav>\n", f);
}

/* The one-way stratifier the summary leads with: the asked one, else race,
 * else the first one-way table. */
static const char *headline_table(const struct rep *R)
{
    int t = R->p->stratifier[0] ? cellset_find_table(R->cs, R->p->stratifier) : -1;
    if (t >= 0 && R->cs->tables[t].ndim == 1)
        return R->cs->tables[t].name;
    t = cellset_find_table(R->cs, "race");
    if (t >= 0)
        return "race";
    for (t = 0; t < R->cs->ntables; t++)
        if (R->cs->tables[t].ndim == 1)
            return R->cs->tables[t].name;
    return NULL;
}

static double total_estimate(const struct rep *R, int measure)
{
    const struct metrics_row *r =
        rfind(&R->ix, catalog_measure(measure)->name, "total", "all", "estimate");
    return r ? r->value : NAN;
}

struct gap {
    const struct metrics_row *r;
    double d;
};

static int gap_cmp(const void *a, const void *b)
{
    double x = ((const struct gap *)a)->d, y = ((const struct gap *)b)->d;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void pmpm_table(FILE *f, const struct rep *R, const char *table)
{
    int t = cellset_find_table(R->cs, table);
    if (t < 0 || R->cs->tables[t].ndim != 1 || !table_has_measure(R->cs, M_COST_PMPM, t))
        return;
    const struct cell_table *tb = &R->cs->tables[t];
    fputs("<h3>PMPM and utilization by ", f);
    html_text(f, table);
    fputs("</h3><div class=\"tablewrap\"><table class=\"data payment\"><thead><tr><th>group"
          "</th><th>cost PMPM (USD)</th><th>relativity</th><th>cost share</th><th>member-month "
          "share</th><th>ED visits per 1,000 MY</th><th>admissions per 1,000 MY</th>"
          "<th>status</th></tr></thead><tbody>\n", f);
    for (int s = 0; s < tb->nstrata; s++) {
        const char *lab = tb->labels[0][s];
        const struct cell *c = cellset_get(R->cs, M_COST_PMPM, t, s);
        if (!c)
            continue;
        const struct metrics_row *v[6] = {
            rfind(&R->ix, "cost_pmpm", table, lab, "estimate"),
            rfind(&R->ix, "cost_pmpm", table, lab, "relativity"),
            rfind(&R->ix, "cost_pmpm", table, lab, "cost_share"),
            rfind(&R->ix, "cost_pmpm", table, lab, "mm_share"),
            rfind(&R->ix, "ed_rate", table, lab, "estimate"),
            rfind(&R->ix, "ip_rate", table, lab, "estimate")};
        const int dec[6] = {2, 3, 1, 1, 1, 1};
        const double sc[6] = {1, 1, 100, 100, 1, 1};
        fprintf(f, "<tr class=\"%s\"><td>", c->reason != REASON_NONE ? "withheld"
                                            : c->n_withheld > 0     ? "partial"
                                                                    : "released");
        html_text(f, lab);
        fputs("</td>", f);
        for (int k = 0; k < 6; k++) {
            fputs("<td class=\"n\">", f);
            if (v[k] && isfinite(v[k]->value))
                html_num(f, v[k]->value, dec[k], sc[k]);
            else if (c->reason != REASON_NONE && k < 4)
                fputs("withheld", f);
            else
                fputs("\xe2\x80\x94", f);
            fputs("</td>", f);
        }
        fputs("<td>", f);
        if (c->reason != REASON_NONE) {
            char wn[160];
            withheld_note(wn, sizeof wn, c);
            fputs("withheld: ", f);
            html_text(f, wn);
        } else {
            fputs(c->n_withheld > 0 ? "partial" : "released", f);
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table></div>\n", f);
}

static void write_summary(FILE *f, const struct rep *R)
{
    const char *head = headline_table(R);
    fputs("<section class=\"summary\" id=\"summary\"><h2>Summary for leadership</h2>\n"
          "<div class=\"kpi\">", f);
    fputs("<div>members pooled<b>", f);
    html_num(f, total_estimate(R, M_POPULATION), 0, 1);
    fprintf(f, "</b></div><div>organizations<b>%d</b></div><div>cost per member per month<b>",
            R->nsub);
    double pm = total_estimate(R, M_COST_PMPM);
    if (isfinite(pm))
        fputs("$", f);
    html_num(f, pm, 2, 1);
    fputs("</b></div><div>HEBA (USD per beneficiary per month)<b>", f);
    const struct metrics_row *hb = rfind(&R->ix, "population", "heba_band", "all", "heba_pbpm");
    const struct metrics_row *ht = rfind(&R->ix, "population", "heba_band", "all", "heba_total");
    html_num(f, hb ? hb->value : NAN, 2, 1);
    fputs("</b></div></div>\n", f);

    /* The cost of the gap. */
    fputs("<h3 id=\"cost-of-gap\">The cost of the gap", f);
    if (head) {
        fputs(" (by ", f);
        html_text(f, head);
        fputs(")", f);
    }
    fputs("</h3>\n<p class=\"note\">Excess: what closing every group's gap to the reference "
          "group would change (events, members or dollars per period), summed over the groups "
          "worse than the reference. Dollars use the unit cost per event of the round's "
          "parameters where one is set.</p>\n<div class=\"tablewrap\"><table class=\"data "
          "gap\"><thead><tr><th>measure</th><th>reference</th><th>excess</th><th>unit</th>"
          "<th>unit cost (USD)</th><th>excess in USD</th><th>status</th></tr></thead><tbody>\n",
          f);
    double total_usd = 0;
    int usd_any = 0;
    for (int m = 0; head && m < catalog_n_measures(); m++) {
        const struct measure_def *md = catalog_measure(m);
        const struct metrics_row *r = rfind(&R->ix, md->name, head, "all", "excess");
        if (!r)
            continue;
        const char *unit = md->kind == KIND_PMPM ? "USD"
                         : md->kind == KIND_RATE ? "events"
                                                 : "members";
        /* With a unit cost, metrics.c writes the excess in dollars (events
         * times the unit cost, metrics.md section 6): show both. */
        double uc = md->kind == KIND_PMPM ? 0 : R->p->unit_cost[m];
        double usd = md->kind == KIND_PMPM ? r->value : uc > 0 ? r->value : NAN;
        double events = uc > 0 ? r->value / uc : r->value;
        if (isfinite(usd)) {
            total_usd += usd;
            usd_any = 1;
        }
        fprintf(f, "<tr class=\"%s\"><td>", isfinite(r->value) ? (has_flag(r->flags, "partial")
                                                                 ? "partial" : "released")
                                                               : "not_computed");
        html_text(f, md->label);
        fputs("</td><td>", f);
        html_text(f, r->reference);
        fputs("</td><td class=\"n\">", f);
        html_num(f, events, md->kind == KIND_PMPM ? 2 : 1, 1);
        fprintf(f, "</td><td>%s</td><td class=\"n\">", unit);
        if (uc > 0)
            html_num(f, uc, 2, 1);
        else
            fputs(md->kind == KIND_PMPM ? "n/a" : "not set", f);
        fputs("</td><td class=\"n\">", f);
        html_num(f, usd, 2, 1);
        fputs("</td><td>", f);
        html_text(f, isfinite(r->value) ? (r->flags[0] ? r->flags : "complete") : r->flags);
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table></div>\n", f);
    if (usd_any) {
        fputs("<p><b>Total cost of the gap: $", f);
        html_num(f, total_usd, 2, 1);
        fputs("</b> per period (the measures above with a dollar figure; overlapping measures "
              "such as admissions and cost may count the same dollars twice).</p>\n", f);
    }
    if (head)
        pmpm_table(f, R, head);
    if (!head || strcmp(head, "payer") != 0)
        pmpm_table(f, R, "payer");
    fputs("<h3>Equity benchmark adjustment</h3><p>", f);
    if (hb && isfinite(hb->value)) {
        fputs("HEBA (ACO REACH-style, from the heba_band cells): $", f);
        html_num(f, hb->value, 2, 1);
        fputs(" per beneficiary per month; $", f);
        html_num(f, ht ? ht->value : NAN, 2, 1);
        fputs(" in total for the period.", f);
    } else {
        fputs("HEBA not computed", f);
        if (hb) {
            fputs(": ", f);
            html_text(f, hb->flags);
        } else {
            fputs(": the round has no heba_band table", f);
        }
        fputs(".", f);
    }
    const struct metrics_row *ms = rfind(&R->ix, "population", "total", "all", "mssp_points");
    if (ms) {
        fputs(" MSSP-style health equity points: ", f);
        if (isfinite(ms->value))
            html_num(f, ms->value, 2, 1);
        else
            html_text(f, ms->flags);
        fprintf(f, " (threshold %.3g, cap %.3g, scaler %.3g).", R->p->mssp_threshold,
                R->p->mssp_cap, R->p->mssp_scaler);
    }
    fputs("</p>\n", f);

    /* The largest adverse gaps. */
    size_t cap = 0;
    for (size_t i = 0; i < R->ix.n; i++)
        cap += strcmp(R->ix.v[i]->metric, "rr") == 0 && has_flag(R->ix.v[i]->flags, "adverse");
    struct gap *g = calloc(cap ? cap : 1, sizeof *g);
    size_t ng = 0;
    for (size_t i = 0; g && i < R->ix.n; i++) {
        const struct metrics_row *r = R->ix.v[i];
        if (strcmp(r->metric, "rr") || !has_flag(r->flags, "adverse") || strchr(r->stratifier, '*'))
            continue;
        g[ng].r = r;
        g[ng++].d = fabs(log(r->value));
    }
    if (g)
        qsort(g, ng, sizeof *g, gap_cmp);
    fputs("<h3>Largest adverse gaps</h3>", f);
    if (ng == 0) {
        fputs("<p>No group is significantly worse than its reference in a one-way table.</p>\n",
              f);
    } else {
        fputs("<div class=\"tablewrap\"><table class=\"data adverse-gaps\"><thead><tr>"
              "<th>measure</th><th>stratifier</th><th>group</th><th>ratio to reference</th>"
              "<th>95% CI</th><th>reference</th></tr></thead><tbody>\n", f);
        for (size_t i = 0; i < ng && i < 10; i++) {
            const struct metrics_row *r = g[i].r;
            int mi = catalog_measure_find(r->measure);
            fputs("<tr><td>", f);
            html_text(f, mi >= 0 ? catalog_measure(mi)->label : r->measure);
            fputs("</td><td>", f);
            html_text(f, r->stratifier);
            fputs("</td><td class=\"adverse\">", f);
            html_text(f, r->stratum);
            fputs("</td><td class=\"n\">", f);
            html_num(f, r->value, 3, 1);
            fputs("</td><td class=\"n\">", f);
            html_num(f, r->lower, 3, 1);
            fputs(" &ndash; ", f);
            html_num(f, r->upper, 3, 1);
            fputs("</td><td>", f);
            html_text(f, r->reference);
            fputs("</td></tr>\n", f);
        }
        fputs("</tbody></table></div>\n", f);
    }
    free(g);
    fputs("</section>\n", f);
}

static int write_measure(FILE *f, const struct rep *R, int measure)
{
    const struct measure_def *m = catalog_measure(measure);
    fputs("<section class=\"measure\" id=\"m-", f);
    html_text(f, m->name);
    fputs("\"><h2>", f);
    html_text(f, m->label);
    fputs(" <small>(", f);
    html_text(f, m->name);
    fputs(")</small></h2>\n<p class=\"definition\"><b>Definition:</b> ", f);
    html_text(f, catalog_kind_name(m->kind));
    fputs(" among ", f);
    html_text(f, m->population);
    fputs(". <b>Unit:</b> ", f);
    html_text(f, metrics_measure_unit(measure));
    fputs(". <b>Better:</b> ", f);
    html_text(f, metrics_better_name(measure));
    fputs(".</p>\n", f);
    const struct cellset *cs = R->cs;
    for (int pass = 0; pass <= CELLS_MAX_DIM; pass++) {
        int opened = 0;
        for (int t = 0; t < cs->ntables; t++) {
            const struct cell_table *tb = &cs->tables[t];
            if (tb->ndim != pass || !want_table(R, tb->name) ||
                !table_has_measure(cs, measure, t))
                continue;
            if (pass >= 2 && !opened) {
                fprintf(f, "<details><summary>Intersections (%s tables)</summary>\n",
                        pass == 2 ? "two-way" : "three-way");
                opened = 1;
            }
            if (estimates_chart(f, R, measure, t) || dsr_chart(f, R, measure, t) ||
                forest_chart(f, R, measure, t))
                return -1;
        }
        if (opened)
            fputs("</details>\n", f);
    }
    indices_table(f, R, measure);
    fputs("</section>\n", f);
    return 0;
}

/* Funnel plots of the total stratum, when the terms allow per-organization
 * figures. */
static int write_variation(FILE *f, const struct rep *R)
{
    fputs("<section id=\"variation\"><h2>Variation between organizations</h2>\n", f);
    if (!R->have_rq || !R->rq.per_org_to_analysts) {
        fputs("<p>The round's terms do not give per-organization figures to analysts, so this "
              "report shows none (no funnel plots). Each organization sees its own figures "
              "against the pooled release in its own report (<code>equity-node "
              "report</code>).</p></section>\n", f);
        return 0;
    }
    if (R->norgs < 2) {
        fputs("<p>Per-organization figures are allowed, but fewer than two organizations' "
              "submissions could be compared.</p></section>\n", f);
        return 0;
    }
    fputs("<p class=\"note\">Each organization's overall value against its size, with the "
          "95 % and 99.8 % limits around the value pooled over the organizations shown "
          "(metrics.md section 5). Names are shown because the round's terms allow "
          "per-organization figures.</p>\n", f);
    int t = cellset_find_table(R->orgs[0], "total");
    if (t < 0)
        goto done;
    for (int m = 0; m < catalog_n_measures(); m++) {
        const struct measure_def *md = catalog_measure(m);
        if (md->kind == KIND_COUNT)
            continue;
        struct html_funnel_point pts[REPORT_MAX_ORGS];
        int n = 0;
        double sx = 0, sd = 0, sm = 0, sn = 0, sq = 0;
        for (int o = 0; o < R->norgs && n < REPORT_MAX_ORGS; o++) {
            const struct cell *c = cellset_get(R->orgs[o], m, t, 0);
            if (!c || c->reason != REASON_NONE)
                continue;
            sx += cell_value(c, CELL_F_NUM);
            sd += cell_value(c, CELL_F_DEN);
            sm += cell_value(c, CELL_F_MONTHS);
            sn += cell_value(c, CELL_F_MEMBERS);
            sq += cell_value(c, CELL_F_SQ);
            const struct metrics_row *r = NULL;
            size_t i = rindex_lower(&R->oix, md->name, "total", "all", "funnel");
            char ref[160];
            snprintf(ref, sizeof ref, "%s%s", strncmp(R->orgs[o]->org, "org:", 4) ? "org:" : "",
                     R->orgs[o]->org);
            for (; i < R->oix.n && !key_cmp(R->oix.v[i], md->name, "total", "all", "funnel");
                 i++)
                if (strcmp(R->oix.v[i]->reference, ref) == 0)
                    r = R->oix.v[i];
            if (!r || !isfinite(r->value))
                continue;
            struct html_funnel_point *p = &pts[n++];
            snprintf(p->label, sizeof p->label, "%s", R->orgs[o]->org);
            p->size = md->kind == KIND_RATE || md->kind == KIND_PMPM ? cell_value(c, CELL_F_MONTHS)
                                                                     : cell_value(c, CELL_F_DEN);
            p->value = r->value;
            static const char *const pos[] = {"above_99.8", "below_99.8", "above_95",
                                              "below_95", "within"};
            snprintf(p->position, sizeof p->position, "within");
            for (size_t k = 0; k < 5; k++)
                if (has_flag(r->flags, pos[k])) {
                    snprintf(p->position, sizeof p->position, "%s", pos[k]);
                    break;
                }
        }
        if (n < 2)
            continue;
        double y0, s0 = NAN;
        switch (md->kind) {
        case KIND_PROPORTION: y0 = sd > 0 ? sx / sd : NAN; break;
        case KIND_RATE: y0 = sm > 0 ? 12000 * sx / sm : NAN; break;
        case KIND_MEAN:
            y0 = sd > 0 ? sx / sd : NAN;
            s0 = sd > 1 ? sqrt(fmax(0, (sq - sx * sx / sd) / (sd - 1))) : NAN;
            break;
        default:
            y0 = sm > 0 ? sx / sm : NAN;
            s0 = sn > 1 ? sqrt(fmax(0, (sq - sx * sx / sn) / (sn - 1))) : NAN;
        }
        if (!isfinite(y0))
            continue;
        double maxs = 0;
        for (int i = 0; i < n; i++)
            maxs = fmax(maxs, pts[i].size);
        enum { NS = 40 };
        double xs[NS], l95[NS], h95[NS], l998[NS], h998[NS];
        double z95 = mstat_z(0.95), z998 = mstat_z(0.998), per_member = sn > 0 ? sm / sn : 12;
        for (int i = 0; i < NS; i++) {
            xs[i] = maxs * 1.1 * (i + 1) / NS;
            if (md->kind == KIND_PROPORTION) {
                mstat_funnel_proportion(y0, xs[i], 0.95, &l95[i], &h95[i]);
                mstat_funnel_proportion(y0, xs[i], 0.998, &l998[i], &h998[i]);
            } else {
                double se = md->kind == KIND_RATE ? sqrt(12000 * y0 / xs[i])
                          : md->kind == KIND_MEAN ? s0 / sqrt(xs[i])
                                                  : s0 * sqrt(xs[i] / per_member) / xs[i];
                l95[i] = y0 - z95 * se;
                h95[i] = y0 + z95 * se;
                l998[i] = y0 - z998 * se;
                h998[i] = y0 + z998 * se;
            }
        }
        struct html_axis ax = {display_unit(m), NAN, 0, 0, 1};
        measure_fmt(m, &ax.decimals, &ax.scale);
        char id[200], cap[300];
        anchor(id, sizeof id, "funnel", md->name, NULL);
        snprintf(cap, sizeof cap, "%s: organizations against the pooled value", md->label);
        html_chart_funnel(f, id, cap,
                          md->kind == KIND_RATE || md->kind == KIND_PMPM ? "member months"
                                                                         : "denominator",
                          pts, n, y0, xs, l95, h95, l998, h998, NS, &ax);
    }
done:
    fputs("</section>\n", f);
    return 0;
}

static void completeness_row(FILE *f, const char *who, const struct rindex *ix,
                             const char *ref)
{
    static const char *const dims[][2] = {{"population", "race"},
                                          {"population", "ethnicity"},
                                          {"population", "language"},
                                          {"population", "payer"},
                                          {"hrsn_screening", "total"}};
    fputs("<tr><td>", f);
    html_text(f, who);
    fputs("</td>", f);
    for (size_t k = 0; k < sizeof dims / sizeof *dims; k++) {
        const struct metrics_row *r = NULL;
        size_t i = rindex_lower(ix, dims[k][0], dims[k][1], "all", "completeness");
        for (; i < ix->n && !key_cmp(ix->v[i], dims[k][0], dims[k][1], "all", "completeness");
             i++)
            if (!ref || strcmp(ix->v[i]->reference, ref) == 0) {
                r = ix->v[i];
                break;
            }
        fputs("<td class=\"n\">", f);
        if (!r) {
            fputs("\xe2\x80\x94", f);
        } else if (isfinite(r->value)) {
            html_num(f, r->value, 1, 100);
            fputs("%", f);
        } else if (isfinite(r->lower)) {
            html_num(f, r->lower, 1, 100);
            fputs("&ndash;", f);
            html_num(f, r->upper, 1, 100);
            fputs("%", f);
        } else {
            fputs("not computed", f);
        }
        if (r && has_flag(r->flags, "dq_low_completeness"))
            fputs(" <span class=\"adverse\">low</span>", f);
        if (r && !isfinite(r->value) && r->flags[0]) {
            fputs(" (", f);
            html_text(f, r->flags);
            fputs(")", f);
        }
        fputs("</td>", f);
    }
    fputs("</tr>\n", f);
}

/* Rows rejected per reason, as each submission states them (counts below k
 * arrive as "fewer than k"). Per organization where the terms allow
 * per-organization figures; the federation's total (a range when some
 * counts are "fewer than k") when at least min_orgs organizations
 * submitted, as for a pooled cell. */
/* A table of organizations with one text each (refusals, states at close);
 * nothing when there are none. */
static void org_table(FILE *f, const char *title, const char *note, const char *cls,
                      const char *col, const struct refusal_row *rows, int n)
{
    if (n <= 0)
        return;
    fprintf(f, "<h3>%s</h3>", title);
    if (note)
        fprintf(f, "<p class=\"note\">%s</p>", note);
    fprintf(f, "<div class=\"tablewrap\"><table class=\"data %s\"><thead><tr><th>"
               "organization</th><th>%s</th></tr></thead><tbody>\n", cls, col);
    for (int i = 0; i < n; i++) {
        fputs("<tr><td>", f);
        html_text(f, rows[i].org);
        fputs("</td><td>", f);
        html_text(f, rows[i].reason);
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table></div>\n", f);
}

static void write_rejected(FILE *f, const struct rep *R)
{
    unsigned k = R->have_rq ? R->rq.k : R->sr.k > 0 ? (unsigned)R->sr.k : 11;
    unsigned min_orgs = R->have_rq && R->rq.min_orgs ? R->rq.min_orgs : 2;
    int per_org = R->have_rq && R->rq.per_org_to_analysts;
    fputs("<h3>Rejected rows</h3>\n", f);
    if (R->nrej == 0) {
        fputs("<p>No submission to report on.</p>\n", f);
        return;
    }
    char names[WIRE_MAX_REJECTED * 4][24];
    int nn = 0;
    for (int o = 0; o < R->nrej; o++)
        for (int i = 0; i < R->rej[o].n; i++) {
            int j = 0;
            while (j < nn && strcmp(names[j], R->rej[o].r[i].reason))
                j++;
            if (j == nn && nn < (int)(sizeof names / sizeof names[0]))
                snprintf(names[nn++], sizeof names[0], "%s", R->rej[o].r[i].reason);
        }
    int pooled = (unsigned)R->nrej >= min_orgs;
    if (nn == 0) {
        fprintf(f, "<p>None of the %d submissions rejected a row of its source.</p>\n", R->nrej);
        return;
    }
    if (!pooled && !per_org) {
        fprintf(f, "<p>Fewer than %u organizations submitted, and the round's terms do not give "
                "per-organization figures: rejected rows are not shown. Each organization's own "
                "report lists them.</p>\n", min_orgs);
        return;
    }
    fprintf(f, "<p class=\"note\">Rows each organization's node rejected while reading its "
            "source, by reason (<code>docs/operators.md</code>). A count of 1 to %u is sent as "
            "&ldquo;fewer than %u&rdquo;, so totals with such counts are ranges.</p>\n"
            "<div class=\"tablewrap\"><table class=\"data rejected\"><thead><tr>"
            "<th>organization</th>", k - 1, k);
    for (int j = 0; j < nn; j++) {
        fputs("<th>", f);
        html_text(f, names[j]);
        fputs("</th>", f);
    }
    fputs("</tr></thead><tbody>\n", f);
    /* Row -1: all organizations; then one per organization. */
    for (int o = pooled ? -1 : 0; o < (per_org ? R->nrej : 0); o++) {
        fputs("<tr><td>", f);
        html_text(f, o < 0 ? "all organizations" : R->rej[o].org);
        fputs("</td>", f);
        for (int j = 0; j < nn; j++) {
            uint64_t lo = 0, hi = 0;
            for (int q = o < 0 ? 0 : o; q < (o < 0 ? R->nrej : o + 1); q++)
                for (int i = 0; i < R->rej[q].n; i++) {
                    const struct wire_rejected *w = &R->rej[q].r[i];
                    if (strcmp(w->reason, names[j]))
                        continue;
                    lo += w->fewer_than_k ? 1 : w->rows;
                    hi += w->fewer_than_k ? k - 1 : w->rows;
                }
            if (o >= 0 && lo != hi)
                fprintf(f, "<td class=\"num\">fewer than %u</td>", k);
            else if (lo != hi)
                fprintf(f, "<td class=\"num\">%llu to %llu</td>", (unsigned long long)lo,
                        (unsigned long long)hi);
            else
                fprintf(f, "<td class=\"num\">%llu</td>", (unsigned long long)lo);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table></div>\n", f);
}

static void write_quality(FILE *f, const struct rep *R)
{
    fputs("<section id=\"quality\"><h2>Data quality</h2>\n<h3>REaL completeness</h3>"
          "<div class=\"tablewrap\"><table class=\"data quality\"><thead><tr><th>who</th>"
          "<th>race known</th><th>ethnicity known</th><th>language known</th><th>payer known "
          "(member months)</th><th>HRSN screened</th></tr></thead><tbody>\n", f);
    completeness_row(f, "pooled", &R->ix, NULL);
    for (int o = 0; o < R->norgs; o++) {
        char ref[160];
        snprintf(ref, sizeof ref, "%s%s", strncmp(R->orgs[o]->org, "org:", 4) ? "org:" : "",
                 R->orgs[o]->org);
        completeness_row(f, R->orgs[o]->org, &R->oix, ref);
    }
    fputs("</tbody></table></div>\n", f);
    if (R->norgs == 0)
        fputs("<p class=\"note\">Per-organization completeness is not shown: the round's terms "
              "do not give per-organization figures to analysts.</p>\n", f);
    write_rejected(f, R);
    org_table(f, "Refusals", NULL, "refusals", "reason", R->refusals, R->nref);
    org_table(f, "Not answered at close",
              "These organizations told the coordinator why they had not answered when the "
              "round closed; their data is not in this release.",
              "unanswered", "state", R->unanswered, R->nunans);
    fputs("</section>\n", f);
}

static void write_withheld(FILE *f, const struct rep *R)
{
    uint64_t counts[REASON__COUNT];
    cellset_count_reasons(R->cs, counts);
    size_t partial = 0;
    for (size_t i = 0; i < R->cs->ncells; i++)
        partial += R->cs->cells[i].reason == REASON_NONE && R->cs->cells[i].n_withheld > 0;
    fputs("<section id=\"withheld\"><h2>Withheld cells</h2><div class=\"tablewrap\"><table "
          "class=\"data reasons\"><thead><tr><th>reason</th><th>cells</th><th>meaning</th>"
          "</tr></thead><tbody>\n", f);
    static const char *const meaning[REASON__COUNT] = {
        [REASON_COUNT] = "a count of 1 to k-1",
        [REASON_COMPLEMENT] = "denominator minus numerator of 1 to k-1",
        [REASON_DENOMINATOR] = "fewer than k members behind a rate, mean or cost",
        [REASON_DOMINANCE] = "one member dominates a cost",
        [REASON_SECONDARY] = "withheld so that another withheld cell cannot be recomputed",
        [REASON_POLICY] = "an organization's policy withholds it",
        [REASON_MIN_ORGS] = "fewer organizations behind it than the round's minimum",
        [REASON_PARTIAL] = "every organization withheld its part",
        [REASON_NOT_AVAILABLE] = "the sources have no data for it"};
    for (int k = 1; k < REASON__COUNT; k++) {
        if (!counts[k])
            continue;
        fprintf(f, "<tr><td>%s</td><td class=\"n\">%llu</td><td>%s</td></tr>\n",
                cell_reason_name((cell_reason)k), (unsigned long long)counts[k],
                meaning[k] ? meaning[k] : "");
    }
    fprintf(f, "<tr class=\"partial\"><td>released, partial</td><td class=\"n\">%zu</td><td>"
               "released sums of the organizations that released the cell; some withheld "
               "theirs (a lower bound)</td></tr>\n</tbody></table></div></section>\n", partial);
}

static int write_trends(FILE *f, const struct rep *R)
{
    fputs("<section id=\"trends\"><h2>Trends</h2>\n", f);
    if (R->ntr == 0) {
        fputs("<p>No earlier released round: trends appear from the second round on.</p>"
              "</section>\n", f);
        return 0;
    }
    for (int m = 0; m < catalog_n_measures(); m++) {
        const struct measure_def *md = catalog_measure(m);
        if (!measure_present(R->cs, m))
            continue;
        struct html_point pts[REPORT_MAX_TRENDS + 1];
        int n = 0, earlier = 0;
        for (int i = 0; i <= R->ntr; i++) {
            const struct rindex *ix = i < R->ntr ? &R->tr[i].ix : &R->ix;
            const struct cellset *cs = i < R->ntr ? R->tr[i].sets[0] : R->cs;
            char label[160];
            snprintf(label, sizeof label, "%s (%s)", i < R->ntr ? R->tr[i].period : R->sr.period,
                     i < R->ntr ? R->tr[i].round : R->sr.round_id);
            int t = cellset_find_table(cs, "total");
            const struct cell *c = t >= 0 ? cellset_get(cs, m, t, 0) : NULL;
            if (!c)
                continue;
            point_from_cell(&pts[n++], label, c, rfind(ix, md->name, "total", "all", "estimate"));
            earlier += i < R->ntr;
        }
        if (earlier == 0)
            continue;
        struct html_axis ax = {display_unit(m), NAN, 0, 0, 1};
        measure_fmt(m, &ax.decimals, &ax.scale);
        char id[200], cap[300];
        anchor(id, sizeof id, "trend", md->name, NULL);
        snprintf(cap, sizeof cap, "%s over periods (overall), 95 %% CI", md->label);
        html_chart_dots(f, id, cap, pts, n, &ax);
    }
    fputs("</section>\n", f);
    return 0;
}

static void write_method(FILE *f, const struct rep *R)
{
    const struct metrics_params *p = R->p;
    fputs("<section id=\"method\"><h2>Method and reproduction</h2>\n<p>Intervals are 95 % "
          "unless stated (Wilson for proportions, exact Poisson or Byar for rates, t for "
          "means, normal for PMPM); disparities against the reference ", f);
    fputs(p->reference == METRICS_REF_BEST      ? "<b>best</b> (best reliable group)"
          : p->reference == METRICS_REF_LARGEST ? "<b>largest</b> (largest group)"
          : p->reference == METRICS_REF_TOTAL   ? "<b>total</b> (population-weighted mean)"
                                                : "group <b>",
          f);
    if (p->reference == METRICS_REF_VALUE) {
        html_text(f, p->reference_value);
        fputs("</b>", f);
    }
    fprintf(f, "; confidence %.3g. Formulas: docs/metrics.md.</p>\n<p>Unit costs used (USD "
               "per event):", p->conf);
    int any = 0;
    for (int m = 0; m < catalog_n_measures(); m++) {
        if (p->unit_cost[m] > 0) {
            fprintf(f, "%s ", any ? "," : "");
            html_text(f, catalog_measure(m)->name);
            fputs(" $", f);
            html_num(f, p->unit_cost[m], 2, 1);
            any = 1;
        }
    }
    if (!any)
        fputs(" none set", f);
    fputs(".</p>\n<p>Anyone holding the released cells recomputes every figure with "
          "<code>equity-coordinator metrics --cells pooled.csv --out metrics.csv</code>.</p>"
          "</section>\n", f);
}

static int write_page(FILE *f, void *arg)
{
    const struct rep *R = arg;
    char title[200];
    snprintf(title, sizeof title, "Health equity report: round %s (period %s)", R->sr.round_id,
             R->sr.period);
    html_begin(f, title);
    write_header(f, R);
    if (R->cs->ncells == 0)
        fputs("<p class=\"note\"><b>This round released no cells</b> (no organization "
              "submitted in time).</p>\n", f);
    write_nav(f, R);
    write_summary(f, R);
    for (int m = 0; m < catalog_n_measures(); m++)
        if (measure_present(R->cs, m) && write_measure(f, R, m))
            return -1;
    if (write_variation(f, R))
        return -1;
    write_quality(f, R);
    write_withheld(f, R);
    if (write_trends(f, R))
        return -1;
    write_method(f, R);
    html_end(f);
    return ferror(f) ? -1 : 0;
}

/* ---- loading ----------------------------------------------------------------------- */

/* Reads results_dir/<round>/pooled.csv and checks it against sha. */
static int read_released(const struct coord_config *cfg, const struct store_round *sr,
                         struct cellset ***sets, int *nsets, char *err, size_t errlen)
{
    char path[1300], sha[65], rerr[512];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s/pooled.csv", cfg->results_dir, sr->round_id);
    char *csv = release_read_file(path, &len);
    if (!csv) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -2;
    }
    identity_sha256_hex(csv, len, sha);
    if (strcmp(sha, sr->pooled_sha256) != 0) {
        snprintf(err, errlen, "%s differs from the released result (SHA-256 %s, recorded %s)",
                 path, sha, sr->pooled_sha256);
        free(csv);
        return -2;
    }
    int rc = cells_read_buffer(path, csv, len, sets, nsets, rerr, sizeof rerr);
    free(csv);
    if (rc != 0 || *nsets > 1) {
        snprintf(err, errlen, "%s does not read back: %s", path,
                 rc ? rerr : "more than one cell set");
        return -2;
    }
    return 0;
}

static void org_row(FILE *f, const struct cellset *cs, const struct cell *c)
{
    char stratum[256], num[5][CELL_FIELD_TEXT];
    cellset_stratum_label(cs, c, stratum, sizeof stratum);
    cell_format_fields(c, num);
    csvtext_write_field(f, cs->org);
    fputc(',', f);
    csvtext_write_field(f, cs->round);
    fprintf(f, ",%s,", catalog_measure(c->measure)->name);
    csvtext_write_field(f, cs->tables[c->table].name);
    fputc(',', f);
    csvtext_write_field(f, stratum);
    if (c->reason != REASON_NONE)
        fprintf(f, ",,,,,,1,%s\n", cell_reason_name(c->reason));
    else
        fprintf(f, ",%s,%s,%s,%s,%s,0,\n", num[0], num[1], num[2], num[3], num[4]);
}

static int sub_cb(void *ctx, const struct store_submission *sub)
{
    struct rep *R = ctx;
    if (sub->late) {
        R->nlate++;
        return 0;
    }
    R->nsub++;
    struct envelope e;
    struct submission_meta meta;
    struct cellset *cs = NULL;
    char err[256];
    if (envelope_unpack(sub->envelope, sub->envelope_len, &e, err, sizeof err) != 0) {
        R->org_bad++;
        R->nsub--;
        return 0;
    }
    if (wire_submission_unpack(e.payload, e.payload_len, &cs, &meta, err, sizeof err) != 0) {
        R->org_bad++;
        R->nsub--;
    } else {
        struct org_rejected *n = realloc(R->rej, (size_t)(R->nrej + 1) * sizeof *n);
        if (!n) {
            cellset_destroy(&cs);
            envelope_free(&e);
            return -1;
        }
        R->rej = n;
        snprintf(n[R->nrej].org, sizeof n[R->nrej].org, "%s", meta.org);
        memcpy(n[R->nrej].r, meta.rejected, sizeof meta.rejected);
        n[R->nrej].n = meta.n_rejected;
        R->nrej++;
        if (R->org_f) {
            if (R->org_n++ == 0)
                fputs("org,round,measure,stratifier,stratum,members,member_months,denominator,"
                      "numerator,sum_sq,suppressed,reason\n", R->org_f);
            for (size_t i = 0; i < cs->ncells; i++)
                org_row(R->org_f, cs, &cs->cells[i]);
        }
    }
    cellset_destroy(&cs);
    envelope_free(&e);
    return 0;
}

/* Appends (org, text) to a list of rows. */
static int org_row_add(struct refusal_row **rows, int *n, const char *org, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int org_row_add(struct refusal_row **rows, int *n, const char *org, const char *fmt, ...)
{
    struct refusal_row *r = realloc(*rows, (size_t)(*n + 1) * sizeof *r);
    if (!r)
        return -1;
    *rows = r;
    snprintf(r[*n].org, sizeof r[*n].org, "%s", org);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r[*n].reason, sizeof r[*n].reason, fmt, ap);
    va_end(ap);
    (*n)++;
    return 0;
}

static int status_cb(void *ctx, const struct store_status *ns)
{
    struct rep *R = ctx;
    return org_row_add(&R->unanswered, &R->nunans, ns->org, "%s: %s (%s)",
                       ns->state == STORE_STATE_HELD ? "held for approval on site"
                                                     : "failing on site",
                       ns->reason, ns->code);
}

static int refusal_cb(void *ctx, const char *round_id, const char *org, const char *reason,
                      int64_t received_at)
{
    (void)round_id;
    (void)received_at;
    struct rep *R = ctx;
    return org_row_add(&R->refusals, &R->nref, org, "%s", reason);
}

struct trend_scan {
    struct rep *R;
    char ids[64][64], periods[64][32];
    int n;
};

static int round_cb(void *ctx, const struct store_round *r)
{
    struct trend_scan *s = ctx;
    const struct rep *R = s->R;
    if (!r->closed || !r->pooled_sha256[0] || strcmp(r->round_id, R->sr.round_id) == 0)
        return 0;
    int c = strcmp(r->period, R->sr.period);
    if (c > 0 || (c == 0 && r->opened_at >= R->sr.opened_at))
        return 0;
    if (s->n == 64) { /* keep the latest: drop the oldest */
        memmove(s->ids[0], s->ids[1], sizeof s->ids - sizeof s->ids[0]);
        memmove(s->periods[0], s->periods[1], sizeof s->periods - sizeof s->periods[0]);
        s->n--;
    }
    snprintf(s->ids[s->n], sizeof s->ids[0], "%s", r->round_id);
    snprintf(s->periods[s->n], sizeof s->periods[0], "%s", r->period);
    s->n++;
    return 0;
}

static void rep_free(struct rep *R)
{
    store_round_clear(&R->sr);
    cells_read_free(&R->sets, R->nsets);
    cellset_destroy(&R->empty);
    metrics_out_destroy(&R->mo);
    free(R->ix.v);
    free(R->org_csv);
    cells_read_free(&R->orgs, R->norgs);
    metrics_out_destroy(&R->moo);
    free(R->oix.v);
    free(R->refusals);
    free(R->unanswered);
    free(R->rej);
    for (int i = 0; i < R->ntr; i++) {
        cells_read_free(&R->tr[i].sets, R->tr[i].nsets);
        metrics_out_destroy(&R->tr[i].mo);
        free(R->tr[i].ix.v);
    }
}

static int load_trends(struct rep *R, store_t *st)
{
    struct trend_scan *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->R = R;
    if (store_rounds_each(st, round_cb, s) != 0) {
        free(s);
        return -1;
    }
    int first = s->n > REPORT_MAX_TRENDS ? s->n - REPORT_MAX_TRENDS : 0;
    for (int i = first; i < s->n; i++) {
        struct store_round sr;
        memset(&sr, 0, sizeof sr);
        char err[1400];
        struct trend *t = &R->tr[R->ntr];
        memset(t, 0, sizeof *t);
        if (store_round_get(st, s->ids[i], &sr) != 0 ||
            read_released(R->cfg, &sr, &t->sets, &t->nsets, err, sizeof err) != 0 ||
            t->nsets != 1) {
            log_warnx("report: round %s is left out of the trends: %s", s->ids[i],
                      "its released cells cannot be read or differ from the release record");
            store_round_clear(&sr);
            cells_read_free(&t->sets, t->nsets);
            continue;
        }
        store_round_clear(&sr);
        snprintf(t->round, sizeof t->round, "%s", s->ids[i]);
        snprintf(t->period, sizeof t->period, "%s", s->periods[i]);
        struct metrics_params p = *R->p;
        snprintf(p.stratifier, sizeof p.stratifier, "total");
        p.mssp_scaler = NAN;
        R->ntr++;
        if (!(t->mo = metrics_out_new()) || metrics_compute(t->sets[0], &p, t->mo) ||
            rindex_build(&t->ix, t->mo)) {
            free(s);
            return -1;
        }
    }
    free(s);
    return 0;
}

int report_round_write(const struct coord_config *cfg, store_t *st, const char *round_id,
                       const struct metrics_params *p, const char *out_path, char *path,
                       size_t pathlen, char *err, size_t errlen)
{
    struct rep *R = calloc(1, sizeof *R);
    int rc = -2;
    if (!R) {
        snprintf(err, errlen, "out of memory");
        return -2;
    }
    R->cfg = cfg;
    R->p = p;
    int g = store_round_get(st, round_id, &R->sr);
    if (g == STORE_ERR_NOT_FOUND) {
        snprintf(err, errlen, "no round \"%.60s\"", round_id);
        rc = -1;
        goto out;
    }
    if (g != 0) {
        snprintf(err, errlen, "cannot read round %.60s: %s", round_id, store_strerror(g));
        goto out;
    }
    if (!R->sr.closed || !R->sr.pooled_sha256[0]) {
        snprintf(err, errlen, "round %s is not released yet (close it first)", round_id);
        rc = -1;
        goto out;
    }
    snprintf(R->sha, sizeof R->sha, "%s", R->sr.pooled_sha256);
    if (read_released(cfg, &R->sr, &R->sets, &R->nsets, err, errlen) != 0)
        goto out;
    if (R->nsets == 0) { /* nobody submitted: a report that says so */
        R->empty = cellset_new();
        if (!R->empty) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        snprintf(R->empty->round, sizeof R->empty->round, "%s", round_id);
    }
    R->cs = R->nsets ? R->sets[0] : R->empty;
    char rqerr[256];
    R->have_rq =
        round_request_unpack(R->sr.request, R->sr.request_len, &R->rq, rqerr, sizeof rqerr) == 0;
    if (!R->have_rq) {
        snprintf(err, errlen, "round %s: its stored request does not read: %s", round_id, rqerr);
        goto out;
    }
    R->mo = metrics_out_new();
    if (!R->mo || metrics_compute(R->cs, p, R->mo) || metrics_compute_quality(R->cs, p, R->mo) ||
        rindex_build(&R->ix, R->mo)) {
        snprintf(err, errlen, "cannot compute the metrics (out of memory)");
        goto out;
    }
    if (R->rq.per_org_to_analysts) {
        R->org_f = open_memstream(&R->org_csv, &R->org_len);
        if (!R->org_f) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
    }
    int se = store_submissions_each(st, round_id, sub_cb, R);
    if (R->org_f) {
        fclose(R->org_f);
        R->org_f = NULL;
    }
    if (se != 0 || store_refusals_each(st, round_id, refusal_cb, R) != 0 ||
        store_statuses_each(st, round_id, status_cb, R) != 0) {
        snprintf(err, errlen, "cannot read the submissions of round %s", round_id);
        goto out;
    }
    /* undecodable stored submissions were left out of the release only with
     * round close --force; the report says how many */
    if (R->org_n > 0) {
        char rerr[512];
        if (cells_read_buffer("submissions", R->org_csv, R->org_len, &R->orgs, &R->norgs, rerr,
                              sizeof rerr) != 0) {
            snprintf(err, errlen, "round %s: submissions do not read back: %s", round_id, rerr);
            goto out;
        }
        struct metrics_params op = *p;
        op.mssp_scaler = NAN;
        R->moo = metrics_out_new();
        if (!R->moo || metrics_compute_orgs(R->orgs, R->norgs, &op, R->moo) ||
            rindex_build(&R->oix, R->moo)) {
            snprintf(err, errlen, "cannot compute the per-organization metrics");
            goto out;
        }
    }
    if (load_trends(R, st) != 0) {
        snprintf(err, errlen, "cannot read earlier rounds for the trends");
        goto out;
    }
    char def[1300];
    if (!out_path) {
        snprintf(def, sizeof def, "%s/%s/report.html", cfg->results_dir, round_id);
        out_path = def;
    }
    if (atomic_file_write(out_path, write_page, R) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", out_path, strerror(errno));
        goto out;
    }
    if (path)
        snprintf(path, pathlen, "%s", out_path);
    rc = 0;
out:
    rep_free(R);
    free(R);
    return rc;
}
