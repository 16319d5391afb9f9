/*
 * test_metrics.c - the metrics engine (coordinator/metrics*.c) against the
 * worked examples of metrics.md (6 significant digits, values taken from
 * the specification, not from this code), edge cases of each section, and
 * the equity-coordinator `metrics` command run end to end on real files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cells.h"
#include "cells_read.h"
#include "metrics.h"
#include "metrics_params.h"
#include "metrics_stats.h"
#include "atomic_file.h"

#define HEADER "org,round,measure,stratifier,stratum,members,member_months,denominator," \
               "numerator,sum_sq,suppressed,reason\n"

/* ---- helpers --------------------------------------------------------------- */

/* True when a rounds to b at b's 6 significant digits. */
static int near6(double a, double b)
{
    if (b == 0)
        return fabs(a) < 1e-12;
    double unit = pow(10, floor(log10(fabs(b))) - 5);
    return fabs(a - b) <= 0.5 * unit * 1.001;
}

#define assert_near6(a, b)                                                              \
    do {                                                                                 \
        double a_ = (a), b_ = (b);                                                       \
        if (!near6(a_, b_))                                                              \
            fail_msg("%s = %.10g, expected %.6g", #a, a_, b_);                           \
    } while (0)

#define assert_empty(x) assert_true(isnan(x))

/* Runs the engine as the command does: one organization as given, several
 * pooled plus the per-organization metrics. */
static metrics_out *run(const char *csv, const struct metrics_params *pp)
{
    struct cellset **sets = NULL, *pooled = NULL;
    int n = 0;
    char err[512];
    struct metrics_params p;
    if (pp)
        p = *pp;
    else
        metrics_params_default(&p);
    if (cells_read_buffer("test.csv", csv, strlen(csv), &sets, &n, err, sizeof err) != 0)
        fail_msg("%s", err);
    metrics_out *out = metrics_out_new();
    assert_non_null(out);
    if (n == 1) {
        assert_int_equal(metrics_compute(sets[0], &p, out), 0);
        assert_int_equal(metrics_compute_quality(sets[0], &p, out), 0);
    } else {
        pooled = metrics_pool(sets, n);
        assert_non_null(pooled);
        assert_int_equal(metrics_compute(pooled, &p, out), 0);
        assert_int_equal(metrics_compute_orgs(sets, n, &p, out), 0);
    }
    cellset_destroy(&pooled);
    cells_read_free(&sets, n);
    return out;
}

static const struct metrics_row *row(const metrics_out *out, const char *measure,
                                     const char *strat, const char *stratum, const char *metric,
                                     const char *ref)
{
    const struct metrics_row *r = metrics_out_find(out, measure, strat, stratum, metric, ref);
    if (!r)
        fail_msg("no row %s,%s,%s,%s ref %s", measure, strat, stratum, metric, ref ? ref : "*");
    return r;
}

static int has_flag(const struct metrics_row *r, const char *f)
{
    size_t l = strlen(f);
    for (const char *s = r->flags; *s;) {
        const char *e = strchr(s, ';');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == l && strncmp(s, f, l) == 0)
            return 1;
        s += n + (e ? 1 : 0);
    }
    return 0;
}

#define assert_flag(r, f)                                                                \
    do {                                                                                 \
        if (!has_flag((r), (f)))                                                         \
            fail_msg("row %s/%s/%s flags '%s' lack '%s'", (r)->measure, (r)->stratum,    \
                     (r)->metric, (r)->flags, (f));                                      \
    } while (0)

/* ---- worked examples (metrics.md) ----------------------------------------- */

static void test_z(void **state)
{
    (void)state;
    assert_near6(mstat_z(0.95), 1.959964);
    assert_near6(mstat_z(0.998), 3.090232);
}

static void test_proportion_example(void **state)
{
    (void)state;
    struct mstat s;
    assert_int_equal(mstat_proportion(65, 100, 0.95, &s), 0);
    assert_near6(s.value, 0.65);
    assert_near6(s.lower, 0.552544);
    assert_near6(s.upper, 0.736358);
}

static void test_rate_examples(void **state)
{
    (void)state;
    struct mstat s;
    assert_int_equal(mstat_rate(5, 1200, 0.95, &s), 0); /* exact */
    assert_near6(s.value, 50);
    assert_near6(s.lower, 16.2349);
    assert_near6(s.upper, 116.683);
    assert_int_equal(mstat_rate(30, 10000, 0.95, &s), 0); /* Byar */
    assert_near6(s.value, 36);
    assert_near6(s.lower, 24.2843);
    assert_near6(s.upper, 51.3940);
}

static void test_mean_pmpm_examples(void **state)
{
    (void)state;
    struct mstat s;
    assert_int_equal(mstat_mean(400, 50, 3400, 0.95, &s), 0);
    assert_near6(s.value, 8);
    assert_near6(s.lower, 7.42584);
    assert_near6(s.upper, 8.57416);
    assert_int_equal(mstat_pmpm(1680000, 400, 4200, 1.2e10, 0.95, &s), 0);
    assert_near6(s.value, 400);
    assert_near6(s.lower, 367.147);
    assert_near6(s.upper, 432.853);
    assert_near6(s.se, 16.7623);
    /* Means need d >= 2. */
    assert_int_equal(mstat_mean(4, 1, 16, 0.95, &s), MSTAT_EDOMAIN);
}

static const char *const DSR_CSV = HEADER
    "p,r1,ed_rate,total,all,12000,140000,140000,373,,0,\n"
    "p,r1,ed_rate,age_std,0,200,1500,1500,3,,0,\n"
    "p,r1,ed_rate,age_std,1-4,600,6200,6200,8,,0,\n"
    "p,r1,ed_rate,age_std,5-14,1500,18000,18000,14,,0,\n"
    "p,r1,ed_rate,age_std,15-24,1700,19500,19500,30,,0,\n"
    "p,r1,ed_rate,age_std,25-34,1800,21000,21000,25,,0,\n"
    "p,r1,ed_rate,age_std,35-44,2000,24000,24000,35,,0,\n"
    "p,r1,ed_rate,age_std,45-54,1800,20500,20500,44,,0,\n"
    "p,r1,ed_rate,age_std,55-64,1100,13000,13000,50,,0,\n"
    "p,r1,ed_rate,age_std,65-74,800,8800,8800,61,,0,\n"
    "p,r1,ed_rate,age_std,75-84,500,5600,5600,70,,0,\n"
    "p,r1,ed_rate,age_std,85+,200,1900,1900,33,,0,\n";

static void test_dsr_example(void **state)
{
    (void)state;
    metrics_out *out = run(DSR_CSV, NULL);
    const struct metrics_row *r = row(out, "ed_rate", "age_std", "all", "dsr", NULL);
    assert_near6(r->value, 32.8400);
    assert_near6(r->lower, 29.5776);
    assert_near6(r->upper, 36.3628);
    assert_string_equal(r->flags, "");
    r = row(out, "ed_rate", "total", "all", "estimate", NULL); /* crude */
    assert_near6(r->value, 31.9714);
    metrics_out_destroy(&out);
}

/* DSR_CSV with the age_std lines of the given labels withheld (reason
 * `count`) and, when total_repl is given, the total line replaced. */
static char *dsr_withheld(const char *const *ages, int nages, const char *total_repl)
{
    char *csv = strdup(DSR_CSV);
    assert_non_null(csv);
    for (int i = 0; i <= nages; i++) {
        char key[64], repl[128];
        if (i < nages) {
            snprintf(key, sizeof key, "p,r1,ed_rate,age_std,%s,", ages[i]);
            snprintf(repl, sizeof repl, "p,r1,ed_rate,age_std,%s,,,,,,1,count\n", ages[i]);
        } else if (total_repl) {
            snprintf(key, sizeof key, "p,r1,ed_rate,total,all,");
            snprintf(repl, sizeof repl, "%s\n", total_repl);
        } else {
            break;
        }
        char *line = strstr(csv, key);
        assert_non_null(line);
        size_t len = strlen(csv) + strlen(repl) + 1;
        char *next = malloc(len);
        assert_non_null(next);
        snprintf(next, len, "%.*s%s%s", (int)(line - csv), csv, repl, strchr(line, '\n') + 1);
        free(csv);
        csv = next;
    }
    return csv;
}

static void test_dsr_not_computed(void **state)
{
    (void)state;
    /* Withheld age cells are collapsed with their neighbours into one
     * standard group, from the released total minus the released age
     * cells. Expected values computed by hand from the full table (the
     * collapsed group's events, months and weights summed):
     * 0 alone -> 0..1-4 (x 11, M 7700, w 69135): 32.837035;
     * 5-14 and 35-44 -> 5-14..35-44: 32.949385; 85+ alone -> 75-84..85+: 32.827203. */
    static const struct {
        const char *ages[2];
        int n;
        const char *flag;
        double dsr;
    } cases[] = {
        {{"0"}, 1, "ages_collapsed:0..1-4", 32.837035},
        {{"5-14", "35-44"}, 2, "ages_collapsed:5-14..35-44", 32.949385},
        {{"85+"}, 1, "ages_collapsed:75-84..85+", 32.827203},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *csv = dsr_withheld(cases[i].ages, cases[i].n, NULL);
        metrics_out *out = run(csv, NULL);
        const struct metrics_row *r = row(out, "ed_rate", "age_std", "all", "dsr", NULL);
        assert_near6(r->value, cases[i].dsr);
        assert_flag(r, cases[i].flag);
        metrics_out_destroy(&out);
        free(csv);
    }
    /* Without a whole margin nothing is collapsed: input_suppressed and the
     * cell's reason, with the total withheld, or partial. */
    static const char *const zero[] = {"0"};
    for (int i = 0; i < 2; i++) {
        char *csv = dsr_withheld(zero, 1, i == 0 ? "p,r1,ed_rate,total,all,,,,,,1,secondary" : NULL);
        if (i == 1) {
            /* Pooled: the total is partial (one organization withheld it). */
            size_t len = strlen(csv) * 2 + 64, o = 0;
            char *pooled = malloc(len);
            assert_non_null(pooled);
            for (const char *c = csv; *c; c++) {
                if (*c == '\n') {
                    int first = o < strlen(HEADER);
                    int total = !first && strncmp(strrchr(pooled, '\n') ? strrchr(pooled, '\n') + 1
                                                                       : pooled, "p,r1,ed_rate,total,", 19) == 0;
                    o += (size_t)snprintf(pooled + o, len - o, "%s", first ? ",n_orgs,n_withheld"
                                                                  : total ? ",2,1" : ",3,0");
                }
                pooled[o++] = *c;
                pooled[o] = '\0';
            }
            free(csv);
            csv = pooled;
        }
        metrics_out *out = run(csv, NULL);
        const struct metrics_row *r = row(out, "ed_rate", "age_std", "all", "dsr", NULL);
        assert_empty(r->value);
        assert_empty(r->lower);
        assert_flag(r, "input_suppressed");
        assert_flag(r, "count");
        metrics_out_destroy(&out);
        free(csv);
    }
    /* Fewer than 10 events: min_count. */
    const double x[3] = {2, 3, 4}, m[3] = {1000, 1000, 1000}, w[3] = {1, 1, 1};
    struct mstat s;
    assert_int_equal(mstat_dsr(3, x, m, w, 10, 0.95, &s), MSTAT_EMINCOUNT);
    assert_empty(s.value);
    /* An age cell with M = 0. */
    const double m0[3] = {1000, 0, 1000}, x2[3] = {20, 0, 20};
    assert_int_equal(mstat_dsr(3, x2, m0, w, 10, 0.95, &s), MSTAT_EDOMAIN);
}

static void test_pairwise_example(void **state)
{
    (void)state;
    const char *csv = HEADER
        "p,r1,ed_rate,race,BLACK,3500,40000,40000,240,,0,\n"
        "p,r1,ed_rate,race,WHITE,7000,80000,80000,300,,0,\n";
    struct metrics_params p;
    metrics_params_default(&p);
    assert_int_equal(metrics_params_set_reference(&p, "WHITE"), 0);
    metrics_out *out = run(csv, &p);
    const struct metrics_row *r = row(out, "ed_rate", "race", "BLACK", "rd", "WHITE");
    assert_near6(r->value, 27);
    assert_near6(r->lower, 16.5642);
    assert_near6(r->upper, 37.4358);
    assert_flag(r, "adverse"); /* ED visits: lower is better, BLACK is higher */
    r = row(out, "ed_rate", "race", "BLACK", "rr", "WHITE");
    assert_near6(r->value, 1.6);
    assert_near6(r->lower, 1.35022);
    assert_near6(r->upper, 1.89599);
    assert_flag(r, "adverse");
    /* No rows of the reference against itself. */
    assert_null(metrics_out_find(out, "ed_rate", "race", "WHITE", "rd", NULL));
    /* Excess events if the gap closed: 27/1000 member-years * 40000/12 months. */
    r = row(out, "ed_rate", "race", "BLACK", "excess", "WHITE");
    assert_near6(r->value, 90);
    metrics_out_destroy(&out);
}

/* The same numbers as an intersection: BLACK*Y (people of color with a
 * disability) against WHITE*N, the reference given as a stratum VALUE:
 * RD 72 - 45 = 27, RR 1.6, excess 90 events, as above; BLACK*N (60 per
 * 1,000: 150 events in 30000 months) gets RD 15. No summary index for a
 * two-way table. */
static void test_pairwise_intersection(void **state)
{
    (void)state;
    const char *csv = HEADER
        "p,r1,ed_rate,race*disability,BLACK*Y,3500,40000,40000,240,,0,\n"
        "p,r1,ed_rate,race*disability,BLACK*N,2500,30000,30000,150,,0,\n"
        "p,r1,ed_rate,race*disability,WHITE*N,7000,80000,80000,300,,0,\n";
    struct metrics_params p;
    metrics_params_default(&p);
    assert_int_equal(metrics_params_set_reference(&p, "WHITE*N"), 0);
    metrics_out *out = run(csv, &p);
    const struct metrics_row *r =
        row(out, "ed_rate", "race*disability", "BLACK*Y", "rd", "WHITE*N");
    assert_near6(r->value, 27);
    assert_near6(r->lower, 16.5642);
    assert_near6(r->upper, 37.4358);
    r = row(out, "ed_rate", "race*disability", "BLACK*Y", "rr", "WHITE*N");
    assert_near6(r->value, 1.6);
    assert_near6(r->lower, 1.35022);
    assert_near6(r->upper, 1.89599);
    assert_near6(row(out, "ed_rate", "race*disability", "BLACK*Y", "excess", "WHITE*N")->value,
                 90);
    assert_near6(row(out, "ed_rate", "race*disability", "BLACK*N", "rd", "WHITE*N")->value, 15);
    assert_null(metrics_out_find(out, "ed_rate", "race*disability", "all", "bgv", NULL));
    metrics_out_destroy(&out);
}

static const char *const BGV_CSV = HEADER
    "p,r1,no_show,race,WHITE,3000,36000,5000,600,,0,\n"
    "p,r1,no_show,race,BLACK,2000,24000,3000,540,,0,\n"
    "p,r1,no_show,race,ASIAN,1500,18000,2000,600,,0,\n"
    "p,r1,no_show,race,UNKNOWN,,,,,,1,count\n";

static void test_summary_example(void **state)
{
    (void)state;
    struct metrics_params p;
    metrics_params_default(&p);
    assert_int_equal(metrics_params_set_reference(&p, "total"), 0);
    metrics_out *out = run(BGV_CSV, &p);
    const struct metrics_row *r = row(out, "no_show", "race", "all", "bgv", NULL);
    assert_near6(r->value, 0.004644);
    assert_near6(r->se, 0.000574483);
    assert_false(has_flag(r, "partial")); /* UNKNOWN is counted beside the groups */
    r = row(out, "no_show", "race", "all", "idisp", "total");
    assert_near6(r->value, 35.6322);
    r = row(out, "no_show", "race", "all", "idisp_w", NULL);
    assert_near6(r->value, 31.0345);
    r = row(out, "no_show", "race", "all", "mld", NULL);
    assert_near6(r->value, 0.0666659);
    assert_near6(r->se, 0.00774264);
    r = row(out, "no_show", "race", "all", "theil", NULL);
    assert_near6(r->value, 0.0702328);
    assert_near6(r->se, 0.00809106);
    /* mu = 0.174: RD of WHITE (0.12) against the total is -0.054. */
    r = row(out, "no_show", "race", "WHITE", "rd", "total");
    assert_near6(r->value, -0.054);
    assert_flag(r, "overlapping_reference");
    metrics_out_destroy(&out);

    /* Against the best group (lowest no-show: WHITE 0.12). */
    out = run(BGV_CSV, NULL);
    r = row(out, "no_show", "race", "all", "idisp", "WHITE");
    assert_near6(r->value, 66.6667);
    metrics_out_destroy(&out);

    struct mgroup g[3] = {{0.12, 0, 0.5}, {0.18, 0, 0.3}, {0.3, 0, 0.2}};
    assert_near6(mstat_mu(g, 3), 0.174);
}

static void test_sii_example(void **state)
{
    (void)state;
    /* Rows out of order: the engine orders quintiles 5 (most deprived) first. */
    const char *csv = HEADER
        "p,r1,ed_rate,adi_quintile,1,1500,18000,18000,300,,0,\n"
        "p,r1,ed_rate,adi_quintile,3,1600,20000,20000,560,,0,\n"
        "p,r1,ed_rate,adi_quintile,5,1500,18000,18000,900,,0,\n"
        "p,r1,ed_rate,adi_quintile,UNKNOWN,300,3000,3000,40,,0,\n"
        "p,r1,ed_rate,adi_quintile,2,1600,20000,20000,450,,0,\n"
        "p,r1,ed_rate,adi_quintile,4,1550,19000,19000,700,,0,\n";
    metrics_out *out = run(csv, NULL);
    const struct metrics_row *r = row(out, "ed_rate", "adi_quintile", "all", "sii", NULL);
    assert_near6(r->value, -475.561);
    assert_near6(r->lower, -524.220);
    assert_near6(r->upper, -426.902);
    r = row(out, "ed_rate", "adi_quintile", "all", "rii", NULL);
    assert_near6(r->value, 0.214415);
    assert_near6(r->lower, 0.173317);
    assert_near6(r->upper, 0.265260);
    r = row(out, "ed_rate", "adi_quintile", "all", "aci", NULL);
    assert_near6(r->value, -76.0687);
    assert_near6(r->se, 3.97111);
    r = row(out, "ed_rate", "adi_quintile", "all", "rci", NULL);
    assert_near6(r->value, -0.206945);
    assert_near6(r->se, 0.0100994);
    metrics_out_destroy(&out);

    /* A withheld quintile: not computed, input_suppressed. */
    const char *csv2 = HEADER
        "p,r1,ed_rate,adi_quintile,1,1500,18000,18000,300,,0,\n"
        "p,r1,ed_rate,adi_quintile,2,1600,20000,20000,450,,0,\n"
        "p,r1,ed_rate,adi_quintile,3,1600,20000,20000,560,,0,\n"
        "p,r1,ed_rate,adi_quintile,4,,,,,,1,secondary\n"
        "p,r1,ed_rate,adi_quintile,5,1500,18000,18000,900,,0,\n";
    out = run(csv2, NULL);
    r = row(out, "ed_rate", "adi_quintile", "all", "sii", NULL);
    assert_empty(r->value);
    assert_empty(r->se);
    assert_flag(r, "input_suppressed");
    metrics_out_destroy(&out);
}

static void test_heba_example(void **state)
{
    (void)state;
    double pbpm, total;
    assert_int_equal(mstat_heba(18000, 54000, 120000, 30, 6, &pbpm, &total), 0);
    assert_near6(pbpm, 1.8);
    assert_near6(total, 216000);
    const char *csv = HEADER
        "p,r1,population,total,all,10000,120000,10000,10000,,0,\n"
        "p,r1,population,heba_band,top,1500,18000,1500,1500,,0,\n"
        "p,r1,population,heba_band,middle,3500,42000,3500,3500,,0,\n"
        "p,r1,population,heba_band,bottom,4500,54000,4500,4500,,0,\n"
        "p,r1,population,heba_band,unknown,500,6000,500,500,,0,\n";
    metrics_out *out = run(csv, NULL);
    assert_near6(row(out, "population", "heba_band", "all", "heba_pbpm", NULL)->value, 1.8);
    assert_near6(row(out, "population", "heba_band", "all", "heba_total", NULL)->value, 216000);
    metrics_out_destroy(&out);
}

static void test_funnel_example(void **state)
{
    (void)state;
    double lo, hi;
    mstat_funnel_proportion(0.2, 400, 0.95, &lo, &hi);
    assert_near6(lo, 0.160801);
    assert_near6(hi, 0.239199);
    mstat_funnel_proportion(0.2, 400, 0.998, &lo, &hi);
    assert_near6(lo, 0.138195);
    assert_near6(hi, 0.261805);
    /* Clipped to [0, 1]. */
    mstat_funnel_proportion(0.01, 10, 0.95, &lo, &hi);
    assert_true(lo == 0);
}

/* ---- edge cases -------------------------------------------------------------- */

static void test_zero_and_full(void **state)
{
    (void)state;
    const char *csv = HEADER
        "p,r1,wellness,sex,F,50,600,50,0,,0,\n"
        "p,r1,wellness,sex,M,50,600,50,50,,0,\n"
        "p,r1,ed_rate,sex,F,100,1200,1200,0,,0,\n";
    metrics_out *out = run(csv, NULL);
    const double z = 1.959964;
    /* 0/50: Wilson upper z^2/(d + z^2), lower 0; flagged unreliable, not hidden. */
    const struct metrics_row *r = row(out, "wellness", "sex", "F", "estimate", NULL);
    assert_true(r->value == 0);
    assert_true(r->lower == 0);
    assert_near6(r->upper, z * z / (50 + z * z));
    assert_flag(r, "unreliable");
    /* 50/50: upper 1, lower d/(d + z^2). */
    r = row(out, "wellness", "sex", "M", "estimate", NULL);
    assert_true(r->value == 1);
    assert_near6(r->upper, 1);
    assert_near6(r->lower, 50 / (50 + z * z));
    assert_false(has_flag(r, "unreliable"));
    /* Zero events in 1,200 months: [0, 10 * chi2_0.975(2) / 2] = [0, 36.8888]. */
    r = row(out, "ed_rate", "sex", "F", "estimate", NULL);
    assert_true(r->value == 0);
    assert_true(r->lower == 0);
    assert_near6(r->upper, 36.8888);
    assert_flag(r, "unreliable");
    /* RR of a group with a zero rate is undefined, written empty. */
    r = row(out, "wellness", "sex", "F", "rr", NULL);
    assert_empty(r->value);
    assert_flag(r, "undefined");
    /* MLD undefined with a zero group. */
    metrics_out_destroy(&out);
}

static void test_single_group_and_equal(void **state)
{
    (void)state;
    const char *one = HEADER "p,r1,wellness,sex,F,500,6000,500,100,,0,\n";
    metrics_out *out = run(one, NULL);
    const struct metrics_row *r = row(out, "wellness", "sex", "all", "bgv", NULL);
    assert_empty(r->value);
    assert_flag(r, "few_groups");
    r = row(out, "wellness", "sex", "all", "theil", NULL);
    assert_empty(r->value);
    assert_flag(r, "few_groups");
    metrics_out_destroy(&out);

    const char *eq = HEADER
        "p,r1,bp_control,race,ASIAN,400,4800,400,200,,0,\n"
        "p,r1,bp_control,race,BLACK,600,7200,600,300,,0,\n"
        "p,r1,bp_control,race,WHITE,800,9600,800,400,,0,\n";
    out = run(eq, NULL);
    assert_true(row(out, "bp_control", "race", "all", "bgv", NULL)->value == 0);
    assert_near6(row(out, "bp_control", "race", "all", "idisp", NULL)->value, 0);
    assert_near6(row(out, "bp_control", "race", "all", "mld", NULL)->value, 0);
    assert_near6(row(out, "bp_control", "race", "all", "theil", NULL)->value, 0);
    /* Ties for best go to the larger group (WHITE). */
    r = row(out, "bp_control", "race", "ASIAN", "rd", "WHITE");
    assert_true(r->value == 0);
    assert_false(has_flag(r, "adverse"));
    metrics_out_destroy(&out);
}

static void test_all_withheld(void **state)
{
    (void)state;
    const char *csv = HEADER
        "p,r1,wellness,race,ASIAN,,,,,,1,count\n"
        "p,r1,wellness,race,BLACK,,,,,,1,secondary\n"
        "p,r1,wellness,race,WHITE,,,,,,1,complement\n";
    metrics_out *out = run(csv, NULL);
    const struct metrics_row *r = row(out, "wellness", "race", "ASIAN", "estimate", NULL);
    assert_empty(r->value);
    assert_empty(r->lower);
    assert_empty(r->upper);
    assert_empty(r->se);
    assert_string_equal(r->flags, "count");
    r = row(out, "wellness", "race", "all", "bgv", NULL);
    assert_empty(r->value);
    assert_flag(r, "few_groups");
    assert_flag(r, "partial");
    r = row(out, "wellness", "race", "BLACK", "rd", NULL);
    assert_empty(r->value);
    assert_true(r->flags[0] != '\0');
    /* Written empty, never 0. */
    char path[] = "/tmp/test_metrics_withheld." EQ_MKTEMP_SUFFIX;
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(metrics_out_write_csv(out, path), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "r1,wellness,race,ASIAN,estimate,", 32) == 0) {
            const char *want = "r1,wellness,race,ASIAN,estimate,,,,,count,,,,";
            assert_memory_equal(line, want, strlen(want));
            assert_non_null(strstr(line, ",proportion (0-1),higher\n"));
            found = 1;
        }
    fclose(f);
    unlink(path);
    assert_true(found);
    metrics_out_destroy(&out);
}

static void test_references(void **state)
{
    (void)state;
    /* no_show (lower better): ASIAN 0.10 is smallest but d = 20 (small), so
     * best is WHITE 0.12; largest by d is WHITE too; BLACK for VALUE. */
    const char *csv = HEADER
        "p,r1,no_show,race,ASIAN,20,240,20,2,,0,\n"
        "p,r1,no_show,race,BLACK,2000,24000,3000,540,,0,\n"
        "p,r1,no_show,race,WHITE,3000,36000,5000,600,,0,\n"
        "p,r1,no_show,race,OTHER,1000,12000,1000,100,,0,\n";
    metrics_out *out = run(csv, NULL);
    const struct metrics_row *r = row(out, "no_show", "race", "BLACK", "rd", NULL);
    /* OTHER is 0.10 with d = 1000, reliable: it is the best. */
    assert_string_equal(r->reference, "OTHER");
    assert_near6(r->value, 0.08);
    metrics_out_destroy(&out);

    struct metrics_params p;
    metrics_params_default(&p);
    metrics_params_set_reference(&p, "largest");
    out = run(csv, &p);
    r = row(out, "no_show", "race", "BLACK", "rd", NULL);
    assert_string_equal(r->reference, "WHITE");
    assert_near6(r->value, 0.06);
    /* The small group is flagged. */
    assert_flag(row(out, "no_show", "race", "ASIAN", "estimate", NULL), "small_denominator");
    metrics_out_destroy(&out);

    /* A VALUE reference that is withheld: not computed, input_suppressed. */
    const char *csv2 = HEADER
        "p,r1,no_show,race,BLACK,2000,24000,3000,540,,0,\n"
        "p,r1,no_show,race,WHITE,,,,,,1,dominance\n";
    metrics_params_set_reference(&p, "WHITE");
    out = run(csv2, &p);
    r = row(out, "no_show", "race", "BLACK", "rd", "WHITE");
    assert_empty(r->value);
    assert_flag(r, "input_suppressed");
    assert_flag(r, "dominance");
    metrics_out_destroy(&out);
}

static void test_direction(void **state)
{
    (void)state;
    /* wellness: higher is better, so the lower group is adverse. */
    const char *csv = HEADER
        "p,r1,wellness,sex,F,5000,60000,5000,3000,,0,\n"
        "p,r1,wellness,sex,M,5000,60000,5000,2500,,0,\n"
        "p,r1,telehealth_share,sex,F,5000,60000,5000,3000,,0,\n"
        "p,r1,telehealth_share,sex,M,5000,60000,5000,2500,,0,\n";
    metrics_out *out = run(csv, NULL);
    const struct metrics_row *r = row(out, "wellness", "sex", "M", "rd", "F");
    assert_near6(r->value, -0.1);
    assert_flag(r, "adverse");
    /* Excess members without a wellness visit: 0.1 * 5000. */
    assert_near6(row(out, "wellness", "sex", "M", "excess", "F")->value, 500);
    /* No direction: best is not defined. */
    r = row(out, "telehealth_share", "sex", "M", "rd", NULL);
    assert_empty(r->value);
    assert_flag(r, "no_direction");
    assert_null(metrics_out_find(out, "telehealth_share", "sex", "M", "excess", NULL));
    metrics_out_destroy(&out);
}

static void test_partial(void **state)
{
    (void)state;
    /* Two organizations: orgB withholds WHITE, so the pooled WHITE cell and
     * every metric using it are partial. */
    const char *csv = HEADER
        "orgA,r1,wellness,race,BLACK,300,3600,300,100,,0,\n"
        "orgA,r1,wellness,race,WHITE,500,6000,500,200,,0,\n"
        "orgA,r1,wellness,race,ASIAN,200,2400,200,90,,0,\n"
        "orgB,r1,wellness,race,BLACK,400,4800,400,150,,0,\n"
        "orgB,r1,wellness,race,WHITE,,,,,,1,count\n"
        "orgB,r1,wellness,race,ASIAN,300,3600,300,120,,0,\n";
    metrics_out *out = run(csv, NULL);
    const struct metrics_row *r = row(out, "wellness", "race", "WHITE", "estimate", NULL);
    assert_near6(r->value, 0.4);
    assert_flag(r, "partial");
    assert_int_equal(r->n_orgs, 1);
    assert_int_equal(r->n_withheld, 1);
    r = row(out, "wellness", "race", "BLACK", "estimate", NULL);
    assert_near6(r->value, 250.0 / 700);
    assert_false(has_flag(r, "partial"));
    assert_int_equal(r->n_orgs, 2);
    assert_int_equal(r->n_withheld, 0);
    assert_flag(row(out, "wellness", "race", "all", "bgv", NULL), "partial");
    /* Heterogeneity of BLACK over the two organizations: p0 = 250/700,
     * Q = sum d_i (p_i - p0)^2 / (p0 (1 - p0)). */
    double p0 = 250.0 / 700, q = (300 * pow(100.0 / 300 - p0, 2) + 400 * pow(150.0 / 400 - p0, 2)) /
                                 (p0 * (1 - p0));
    r = row(out, "wellness", "race", "BLACK", "het_q", "orgs");
    assert_near6(r->value, q);
    r = row(out, "wellness", "race", "BLACK", "i2", "orgs");
    assert_near6(r->value, q > 1 ? (q - 1) / q : 0);
    r = row(out, "wellness", "race", "WHITE", "i2", "orgs");
    assert_flag(r, "partial");
    assert_flag(r, "few_groups");
    /* Funnel rows per organization. */
    r = row(out, "wellness", "race", "BLACK", "funnel", "org:orgA");
    assert_near6(r->value, 100.0 / 300);
    assert_near6(r->lower, p0 - 1.959964 * sqrt(p0 * (1 - p0) / 300));
    assert_flag(r, "within");
    r = row(out, "wellness", "race", "WHITE", "funnel", "org:orgB");
    assert_empty(r->value);
    assert_flag(r, "count");
    metrics_out_destroy(&out);

    /* A released pooled cell marked partial in the file. */
    const char *csv2 = HEADER "pooled,r1,wellness,total,all,900,10800,900,300,,0,partial\n";
    out = run(csv2, NULL);
    r = row(out, "wellness", "total", "all", "estimate", NULL);
    assert_flag(r, "partial");
    assert_int_equal(r->n_withheld, 1);
    metrics_out_destroy(&out);
}

static void test_funnel_rates(void **state)
{
    (void)state;
    /* r0 = 12000 * 150 / 60000 = 30. orgC: 90 events in 20000 months = 54,
     * whose exact-Byar interval excludes 30 even at 99.8 %. */
    const char *csv = HEADER
        "orgA,r1,ed_rate,total,all,1700,20000,20000,30,,0,\n"
        "orgB,r1,ed_rate,total,all,1700,20000,20000,30,,0,\n"
        "orgC,r1,ed_rate,total,all,1700,20000,20000,90,,0,\n";
    metrics_out *out = run(csv, NULL);
    const struct metrics_row *r = row(out, "ed_rate", "total", "all", "funnel", "org:orgC");
    assert_near6(r->value, 54);
    assert_flag(r, "above_99.8");
    assert_near6(r->upper, 30 + 1.959964 * sqrt(12000 * 30 / 20000.0));
    assert_flag(row(out, "ed_rate", "total", "all", "funnel", "org:orgA"), "below_95");
    /* Q = sum (x - e)^2 / e with e = 50: (400 + 400 + 1600) / 50 = 48. */
    assert_near6(row(out, "ed_rate", "total", "all", "het_q", "orgs")->value, 48);
    assert_near6(row(out, "ed_rate", "total", "all", "i2", "orgs")->value, 46.0 / 48);
    metrics_out_destroy(&out);
}

static void test_payment(void **state)
{
    (void)state;
    const char *csv = HEADER
        "p,r1,population,total,all,1000,12000,1000,1000,,0,\n"
        "p,r1,population,adi_quintile,5,250,3000,250,250,,0,\n"
        "p,r1,population,payer,DUAL,150,1800,150,150,,0,\n"
        "p,r1,cost_pmpm,total,all,1000,12000,12000,6000000,,0,\n"
        "p,r1,cost_pmpm,sex,F,600,7200,7200,4320000,5e10,0,\n"
        "p,r1,cost_pmpm,sex,M,400,4800,4800,1680000,1.2e10,0,\n";
    struct metrics_params p;
    metrics_params_default(&p);
    p.mssp_scaler = 20;
    metrics_out *out = run(csv, &p);
    /* PMPM: all 500, F 600, M 350. */
    assert_near6(row(out, "cost_pmpm", "sex", "F", "relativity", NULL)->value, 1.2);
    assert_near6(row(out, "cost_pmpm", "sex", "M", "relativity", NULL)->value, 0.7);
    assert_near6(row(out, "cost_pmpm", "sex", "F", "cost_share", NULL)->value, 0.72);
    assert_near6(row(out, "cost_pmpm", "sex", "M", "mm_share", NULL)->value, 0.4);
    /* Excess of F against the best (M, 350): 250 * 7200 dollars. */
    const struct metrics_row *r = row(out, "cost_pmpm", "sex", "F", "excess", "M");
    assert_near6(r->value, 1800000);
    assert_near6(row(out, "cost_pmpm", "sex", "all", "excess", "M")->value, 1800000);
    /* MSSP: m = max(0.25, 0.15) = 0.25 >= 0.20: min(10, 20 * 0.25) = 5. */
    r = row(out, "population", "total", "all", "mssp_points", NULL);
    assert_near6(r->value, 5);
    assert_string_equal(r->reference, "adi_quintile=5");
    metrics_out_destroy(&out);

    assert_true(mstat_mssp_points(0.19, 0.1, 20, 0.2, 10) == 0);
    assert_near6(mstat_mssp_points(0.1, 0.9, 20, 0.2, 10), 10);

    /* Incentive: improvements 4, 0 (worse), 6; share of a pool of 1000. */
    const double d0[3] = {10, 5, 8}, d1[3] = {6, 7, 2};
    double pay[3];
    assert_int_equal(mstat_incentive(3, d0, d1, 1000, MSTAT_INCENTIVE_SHARE, pay), 0);
    assert_near6(pay[0], 400);
    assert_true(pay[1] == 0);
    assert_near6(pay[2], 600);
    assert_int_equal(mstat_incentive(3, d0, d1, 1000, MSTAT_INCENTIVE_EARN, pay), 0);
    assert_near6(pay[0], 400);  /* 1000 * 4/10 */
    assert_near6(pay[2], 750);  /* 1000 * 6/8 */
    const double same[2] = {3, 3};
    assert_int_equal(mstat_incentive(2, same, same, 1000, MSTAT_INCENTIVE_SHARE, pay), 0);
    assert_true(pay[0] == 0 && pay[1] == 0);
}

static void test_completeness(void **state)
{
    (void)state;
    const char *csv = HEADER
        "p,r1,population,total,all,1000,12000,1000,1000,,0,\n"
        "p,r1,population,race,WHITE,700,8400,700,700,,0,\n"
        "p,r1,population,race,UNKNOWN,250,3000,250,250,,0,\n"
        "p,r1,population,race,DECLINED,,,,,,1,count\n"
        "p,r1,population,ethnicity,NOT_HISPANIC,950,11400,950,950,,0,\n"
        "p,r1,population,ethnicity,UNKNOWN,50,600,50,50,,0,\n"
        "p,r1,population,payer,MEDICAID,900,10800,900,900,,0,\n"
        "p,r1,population,payer,UNKNOWN,100,1200,100,100,,0,\n"
        "p,r1,hrsn_screening,total,all,1000,12000,1000,700,,0,\n";
    metrics_out *out = run(csv, NULL);
    /* race: unknown 250 plus a withheld DECLINED in [1, 10]. */
    const struct metrics_row *r = row(out, "population", "race", "all", "completeness", "org:p");
    assert_empty(r->value);
    assert_near6(r->lower, 1 - 260.0 / 1000);
    assert_near6(r->upper, 1 - 251.0 / 1000);
    assert_flag(r, "dq_low_completeness");
    r = row(out, "population", "ethnicity", "all", "completeness", "org:p");
    assert_near6(r->value, 0.95);
    assert_false(has_flag(r, "dq_low_completeness"));
    assert_near6(row(out, "population", "payer", "all", "completeness", NULL)->value, 0.9);
    r = row(out, "hrsn_screening", "total", "all", "completeness", NULL);
    assert_near6(r->value, 0.7);
    assert_flag(r, "dq_low_completeness");
    metrics_out_destroy(&out);
    /* an id that is already a CN (org:...) is not prefixed again */
    out = run(HEADER "org:q,r1,population,total,all,1000,12000,1000,1000,,0,\n"
                     "org:q,r1,population,race,WHITE,1000,12000,1000,1000,,0,\n",
              NULL);
    assert_non_null(row(out, "population", "race", "all", "completeness", "org:q"));
    assert_null(metrics_out_find(out, NULL, NULL, NULL, NULL, "org:org:q"));
    metrics_out_destroy(&out);
}

static void test_heterogeneity_stats(void **state)
{
    (void)state;
    double i2, pv;
    /* Q = 10 on 4 degrees of freedom: I^2 = 0.6, p = P(chi2_4 > 10) = 0.0404277. */
    assert_int_equal(mstat_heterogeneity(10, 5, &i2, &pv), 0);
    assert_near6(i2, 0.6);
    assert_near6(pv, 0.0404277);
    assert_int_equal(mstat_heterogeneity(2, 5, &i2, &pv), 0);
    assert_true(i2 == 0);
    assert_int_equal(mstat_heterogeneity(2, 1, &i2, &pv), MSTAT_EDOMAIN);
}

/* ---- capitation (section 6) ------------------------------------------------- */

/* PMPM: all 6,000,000 / 12,000 = 500; WHITE 2,700,000 / 6,000 = 450,
 * BLACK 2,340,000 / 3,600 = 650, ASIAN 960,000 / 2,400 = 400. */
/* ---- parameters (metrics_params.h) ----------------------------------------- */

static void test_std_populations(void **state)
{
    (void)state;
    /* NVSR 47(3), ESP2013 (Eurostat 2013, table 2.1) summed by hand into the
     * 11 age_std groups. */
    static const double us[11] = {13818, 55317, 145565, 138646, 135573, 162613,
                                  134834, 87247, 66037, 44842, 15508};
    static const double esp[11] = {1000, 4000, 11000, 11500, 12500, 14000,
                                   14000, 12500, 10500, 6500, 2500};
    double w[AGESTD__COUNT];
    assert_int_equal(std_population_weights(STDPOP_US2000_11, w), 0);
    for (int i = 0; i < 11; i++)
        assert_true(w[i] == us[i]);
    assert_int_equal(std_population_weights(STDPOP_ESP2013, w), 0);
    for (int i = 0; i < 11; i++)
        assert_true(w[i] == esp[i]);
    assert_int_equal(std_population_weights(STDPOP_SEER2000_19, w), 0);
    for (int i = 0; i < 11; i++) /* the 19 groups sum to the 11 within rounding */
        assert_true(fabs(w[i] - us[i]) <= 1);
    assert_int_equal(std_population_weights(STDPOP__COUNT, w), -1);
    assert_int_equal(std_population_find("esp2013"), STDPOP_ESP2013);
    assert_int_equal(std_population_find("who2000"), -1);
    assert_string_equal(std_population_name(STDPOP_SEER2000_19), "seer2000_19");
}

static void test_dsr_standard_population(void **state)
{
    (void)state;
    struct metrics_params p;
    metrics_params_default(&p);
    p.std_population = STDPOP_ESP2013;
    metrics_out *out = run(DSR_CSV, &p);
    /* 12000 sum(w x / M) / sum(w) with the ESP2013 weights above. */
    assert_near6(row(out, "ed_rate", "age_std", "all", "dsr", NULL)->value, 41.3145);
    metrics_out_destroy(&out);
    p.std_population = STDPOP_SEER2000_19;
    out = run(DSR_CSV, &p);
    assert_near6(row(out, "ed_rate", "age_std", "all", "dsr", NULL)->value, 32.8399);
    metrics_out_destroy(&out);
}

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/eq_params_" EQ_MKTEMP_SUFFIX);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_params_file(void **state)
{
    (void)state;
    struct metrics_params p;
    metrics_params_default(&p);
    char err[512];
    char *path = write_tmp("; a round's parameters\n[metrics]\nconf = 0.9\nreference = WHITE\n"
                           "standard_population = esp2013\nmssp_scaler = 2\nmssp_threshold = 0.3\n"
                           "mssp_cap = 7\nheba_top_pbpm = 40\nheba_bottom_pbpm = 6\n"
                           "capitation_base = 450\n[unit_cost]\ned_rate = 1150\n");
    assert_int_equal(metrics_params_load(&p, path, err, sizeof err), 0);
    assert_true(p.conf == 0.9 && p.reference == METRICS_REF_VALUE);
    assert_string_equal(p.reference_value, "WHITE");
    assert_int_equal(p.std_population, STDPOP_ESP2013);
    assert_true(p.mssp_scaler == 2 && p.mssp_threshold == 0.3 && p.mssp_cap == 7);
    assert_true(p.heba_top_pbpm == 40 && p.capitation_base == 450);
    assert_true(p.unit_cost[M_ED_RATE] == 1150 && p.unit_cost[M_IP_RATE] == 0);
    unlink(path);
    free(path);

    /* The HEBA amounts reach the metric: (40 * 18000 - 6 * 54000) / 120000. */
    const char *csv = HEADER
        "p,r1,population,total,all,10000,120000,10000,10000,,0,\n"
        "p,r1,population,heba_band,top,1500,18000,1500,1500,,0,\n"
        "p,r1,population,heba_band,middle,3500,42000,3500,3500,,0,\n"
        "p,r1,population,heba_band,bottom,4500,54000,4500,4500,,0,\n"
        "p,r1,population,heba_band,unknown,500,6000,500,500,,0,\n";
    metrics_out *out = run(csv, &p);
    assert_near6(row(out, "population", "heba_band", "all", "heba_pbpm", NULL)->value, 3.3);
    metrics_out_destroy(&out);

    /* Errors name the file and line; *p is left as it was. */
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"[metrics]\nconf = 0.95\nbogus = 1\n", ":3: [metrics] unknown key 'bogus'"},
        {"[metrics]\nconf = 2\n", ":2: conf: expected a number from 0.8 to 0.999, found '2'"},
        {"[unit_cost]\nnosuch = 3\n", ":2: [unit_cost] nosuch: unknown measure"},
        {"[metrics]\nstandard_population = who\n", ":2: standard_population: expected"},
        {"[money]\nx = 1\n", ":2: unknown section [money]"},
        {"[unit_cost]\ned_rate = -5\n", ":2: ed_rate: expected a number from 0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct metrics_params q;
        metrics_params_default(&q);
        path = write_tmp(bad[i].text);
        assert_int_equal(metrics_params_load(&q, path, err, sizeof err), -1);
        if (!strstr(err, bad[i].want) || strncmp(err, path, strlen(path)) != 0)
            fail_msg("'%s': message '%s', expected '%s'", bad[i].text, err, bad[i].want);
        assert_true(q.conf == 0.95 && q.unit_cost[M_ED_RATE] == 0);
        unlink(path);
        free(path);
    }
    assert_int_equal(metrics_params_load(&p, "/nonexistent/params.ini", err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/params.ini:0: cannot read"));
}

static void test_withheld_group_pairwise(void **state)
{
    (void)state;
    const char *csv = HEADER
        "p,r1,ed_rate,race,WHITE,4000,48000,48000,300,,0,\n"
        "p,r1,ed_rate,race,BLACK,3000,36000,36000,400,,0,\n"
        "p,r1,ed_rate,race,ASIAN,,,,,,1,min_orgs\n";
    struct metrics_params p;
    metrics_params_default(&p);
    metrics_params_set_reference(&p, "WHITE");
    metrics_out *out = run(csv, &p);
    static const char *const m[3] = {"rd", "rr", "excess"};
    for (int k = 0; k < 3; k++) {
        const struct metrics_row *r = row(out, "ed_rate", "race", "ASIAN", m[k], "WHITE");
        assert_empty(r->value);
        assert_flag(r, "input_suppressed");
        assert_flag(r, "min_orgs");
        assert_false(has_flag(r, "undefined"));
    }
    metrics_out_destroy(&out);
}

static const char *const CAP_CSV = HEADER
    "p,r1,cost_pmpm,total,all,1000,12000,12000,6000000,,0,\n"
    "p,r1,cost_pmpm,race,WHITE,500,6000,6000,2700000,,0,\n"
    "p,r1,cost_pmpm,race,BLACK,300,3600,3600,2340000,,0,\n"
    "p,r1,cost_pmpm,race,ASIAN,200,2400,2400,960000,,0,\n";

static void test_capitation(void **state)
{
    (void)state;
    /* No base: no capitation rows (relativity still there). */
    metrics_out *out = run(CAP_CSV, NULL);
    assert_near6(row(out, "cost_pmpm", "race", "BLACK", "relativity", NULL)->value, 1.3);
    assert_null(metrics_out_find(out, NULL, NULL, NULL, "capitation", NULL));
    metrics_out_destroy(&out);

    struct metrics_params p;
    metrics_params_default(&p);
    p.capitation_base = 450;
    out = run(CAP_CSV, &p);
    /* relativity 0.9, 1.3, 0.8: capitation 450 * those = 405, 585, 360. */
    const struct metrics_row *w = row(out, "cost_pmpm", "race", "WHITE", "capitation", NULL);
    const struct metrics_row *b = row(out, "cost_pmpm", "race", "BLACK", "capitation", NULL);
    const struct metrics_row *a = row(out, "cost_pmpm", "race", "ASIAN", "capitation", NULL);
    assert_near6(w->value, 405);
    assert_near6(b->value, 585);
    assert_near6(a->value, 360);
    assert_string_equal(b->flags, "");
    /* Budget neutral: 405*6000 + 585*3600 + 360*2400 = 2,430,000 + 2,106,000
     * + 864,000 = 5,400,000 = 450 * 12,000 member months. */
    double sum = w->value * 6000 + b->value * 3600 + a->value * 2400;
    assert_near6(sum, 5400000);
    assert_near6(sum, 450.0 * 12000);
    /* The total table has no groups to pay: no capitation row for it. */
    assert_null(metrics_out_find(out, "cost_pmpm", "total", NULL, "capitation", NULL));
    metrics_out_destroy(&out);

    /* A withheld group: its capitation is empty with the relativity's flags,
     * never 0; the others still use the total's PMPM (6,600,000 / 13,200 = 500). */
    const char *csv2 = HEADER
        "p,r1,cost_pmpm,total,all,1100,13200,13200,6600000,,0,\n"
        "p,r1,cost_pmpm,race,WHITE,500,6000,6000,2700000,,0,\n"
        "p,r1,cost_pmpm,race,BLACK,300,3600,3600,2340000,,0,\n"
        "p,r1,cost_pmpm,race,ASIAN,200,2400,2400,960000,,0,\n"
        "p,r1,cost_pmpm,race,OTHER,,,,,,1,count\n";
    out = run(csv2, &p);
    const struct metrics_row *o = row(out, "cost_pmpm", "race", "OTHER", "capitation", NULL);
    assert_empty(o->value);
    assert_empty(o->se);
    assert_string_equal(o->flags, row(out, "cost_pmpm", "race", "OTHER", "relativity",
                                      NULL)->flags);
    assert_flag(o, "count");
    assert_near6(row(out, "cost_pmpm", "race", "BLACK", "capitation", NULL)->value, 585);
    metrics_out_destroy(&out);

    /* A group with no member months: relativity undefined, capitation too. */
    const char *csv3 = HEADER
        "p,r1,cost_pmpm,total,all,1000,12000,12000,6000000,,0,\n"
        "p,r1,cost_pmpm,race,WHITE,1000,12000,12000,6000000,,0,\n"
        "p,r1,cost_pmpm,race,BLACK,0,0,0,0,,0,\n";
    out = run(csv3, &p);
    o = row(out, "cost_pmpm", "race", "BLACK", "capitation", NULL);
    assert_empty(o->value);
    assert_flag(o, "undefined");
    assert_near6(row(out, "cost_pmpm", "race", "WHITE", "capitation", NULL)->value, 450);
    metrics_out_destroy(&out);
}

/* ---- gap-closure incentive (section 6) -------------------------------------- */

/* ed_rate (lower is better), focal BLACK against WHITE. A group's excess
 * events are (y_B - y_W) * M_B / 12000 = x_B - x_W * M_B / M_W.
 *   orgA: t0 120 - 200 * 24000/60000 = 40;   t1 100 - 210 * 0.4 = 16;  I = 24
 *   orgB: t0  60 - 150 * 12000/48000 = 22.5; t1  75 - 37.5 = 37.5;     I = 0
 *   orgC: BLACK withheld (count) at t0: left out, flagged.
 *   orgD: t0  90 - 120 * 18000/36000 = 30;   t1  78 - 60 = 18;         I = 12 */
#define INC_BASE_ABC HEADER \
    "orgA,r1,ed_rate,race,BLACK,2000,24000,24000,120,,0,\n" \
    "orgA,r1,ed_rate,race,WHITE,5000,60000,60000,200,,0,\n" \
    "orgB,r1,ed_rate,race,BLACK,1000,12000,12000,60,,0,\n" \
    "orgB,r1,ed_rate,race,WHITE,4000,48000,48000,150,,0,\n" \
    "orgC,r1,ed_rate,race,BLACK,,,,,,1,count\n" \
    "orgC,r1,ed_rate,race,WHITE,3000,36000,36000,100,,0,\n"
#define INC_NOW_ABC HEADER \
    "orgA,r2,ed_rate,race,BLACK,2000,24000,24000,100,,0,\n" \
    "orgA,r2,ed_rate,race,WHITE,5000,60000,60000,210,,0,\n" \
    "orgB,r2,ed_rate,race,BLACK,1000,12000,12000,75,,0,\n" \
    "orgB,r2,ed_rate,race,WHITE,4000,48000,48000,150,,0,\n" \
    "orgC,r2,ed_rate,race,BLACK,500,6000,6000,30,,0,\n" \
    "orgC,r2,ed_rate,race,WHITE,3000,36000,36000,100,,0,\n"
#define INC_D_BASE "orgD,r1,ed_rate,race,BLACK,1500,18000,18000,90,,0,\n" \
                   "orgD,r1,ed_rate,race,WHITE,3000,36000,36000,120,,0,\n"
#define INC_D_NOW "orgD,r2,ed_rate,race,BLACK,1500,18000,18000,78,,0,\n" \
                  "orgD,r2,ed_rate,race,WHITE,3000,36000,36000,120,,0,\n"

static void incentive_params(struct metrics_incentive *ip, double pool, int mode)
{
    memset(ip, 0, sizeof *ip);
    ip->pool = pool;
    ip->mode = mode;
    snprintf(ip->measure, sizeof ip->measure, "ed_rate");
    snprintf(ip->stratifier, sizeof ip->stratifier, "race");
    snprintf(ip->focal, sizeof ip->focal, "BLACK");
}

/* Runs metrics_compute_incentive on two cells CSVs in memory. */
static metrics_out *run_incentive(const char *base_csv, const char *now_csv,
                                  const struct metrics_params *p,
                                  const struct metrics_incentive *ip)
{
    struct cellset **b = NULL, **n = NULL;
    int nb = 0, nn = 0;
    char err[512];
    if (cells_read_buffer("base.csv", base_csv, strlen(base_csv), &b, &nb, err, sizeof err) ||
        cells_read_buffer("now.csv", now_csv, strlen(now_csv), &n, &nn, err, sizeof err))
        fail_msg("%s", err);
    metrics_out *out = metrics_out_new();
    assert_non_null(out);
    if (metrics_compute_incentive(b, nb, n, nn, p, ip, out, err, sizeof err) != 0)
        fail_msg("metrics_compute_incentive: %s", err);
    cells_read_free(&b, nb);
    cells_read_free(&n, nn);
    return out;
}

static void test_incentive(void **state)
{
    (void)state;
    struct metrics_params p;
    struct metrics_incentive ip;
    metrics_params_default(&p);
    assert_int_equal(metrics_params_set_reference(&p, "WHITE"), 0);

    /* Three organizations, share of 90,000: only orgA improved (I = 24 of a
     * sum of 24), so it gets the whole pool; orgB worsened (I = 0) gets 0;
     * orgC is left out with an empty value. */
    incentive_params(&ip, 90000, METRICS_INCENTIVE_SHARE);
    metrics_out *out = run_incentive(INC_BASE_ABC, INC_NOW_ABC, &p, &ip);
    assert_int_equal(metrics_out_count(out), 3);
    const struct metrics_row *r = row(out, "ed_rate", "race", "BLACK", "incentive", "org:orgA");
    assert_near6(r->value, 90000);
    assert_string_equal(r->round, "r2");
    assert_string_equal(r->flags, "");
    assert_empty(r->lower);
    assert_empty(r->se);
    r = row(out, "ed_rate", "race", "BLACK", "incentive", "org:orgB");
    assert_true(r->value == 0);
    r = row(out, "ed_rate", "race", "BLACK", "incentive", "org:orgC");
    assert_empty(r->value);
    assert_flag(r, "count");
    assert_flag(r, "input_suppressed");
    metrics_out_destroy(&out);

    /* Earn, pool 90,000 each: orgA 90000 * min(1, 24/40) = 54,000; orgB 0. */
    incentive_params(&ip, 90000, METRICS_INCENTIVE_EARN);
    out = run_incentive(INC_BASE_ABC, INC_NOW_ABC, &p, &ip);
    assert_near6(row(out, "ed_rate", "race", "BLACK", "incentive", "org:orgA")->value, 54000);
    assert_true(row(out, "ed_rate", "race", "BLACK", "incentive", "org:orgB")->value == 0);
    assert_empty(row(out, "ed_rate", "race", "BLACK", "incentive", "org:orgC")->value);
    metrics_out_destroy(&out);

    /* With orgD (I = 12) the pool is shared 24 : 12 over orgA and orgD:
     * 60,000 and 30,000; orgC's withheld cell does not enter the sum. Earn:
     * orgD 90000 * 12/30 = 36,000. */
    incentive_params(&ip, 90000, METRICS_INCENTIVE_SHARE);
    out = run_incentive(INC_BASE_ABC INC_D_BASE, INC_NOW_ABC INC_D_NOW, &p, &ip);
    assert_near6(row(out, "ed_rate", "race", "BLACK", "incentive", "org:orgA")->value, 60000);
    assert_near6(row(out, "ed_rate", "race", "BLACK", "incentive", "org:orgD")->value, 30000);
    assert_true(row(out, "ed_rate", "race", "BLACK", "incentive", "org:orgB")->value == 0);
    metrics_out_destroy(&out);
    incentive_params(&ip, 90000, METRICS_INCENTIVE_EARN);
    out = run_incentive(INC_BASE_ABC INC_D_BASE, INC_NOW_ABC INC_D_NOW, &p, &ip);
    assert_near6(row(out, "ed_rate", "race", "BLACK", "incentive", "org:orgD")->value, 36000);
    metrics_out_destroy(&out);

    /* Nobody improved: the sum is 0 and every computed payment is 0. */
    incentive_params(&ip, 90000, METRICS_INCENTIVE_SHARE);
    out = run_incentive(INC_NOW_ABC, INC_NOW_ABC, &p, &ip);
    assert_true(row(out, "ed_rate", "race", "BLACK", "incentive", "org:orgA")->value == 0);
    assert_true(row(out, "ed_rate", "race", "BLACK", "incentive", "org:orgB")->value == 0);
    assert_true(row(out, "ed_rate", "race", "BLACK", "incentive", "org:orgC")->value == 0);
    metrics_out_destroy(&out);

    /* The withheld cell at t1 instead of t0: still left out, flagged. */
    out = run_incentive(INC_NOW_ABC, INC_BASE_ABC, &p, &ip);
    r = row(out, "ed_rate", "race", "BLACK", "incentive", "org:orgC");
    assert_empty(r->value);
    assert_flag(r, "input_suppressed");
    /* orgA worsened and orgB improved (37.5 -> 22.5): orgB gets the pool. */
    assert_near6(row(out, "ed_rate", "race", "BLACK", "incentive", "org:orgB")->value, 90000);
    metrics_out_destroy(&out);
}

static void test_incentive_best_reference(void **state)
{
    (void)state;
    /* Reference `best` within each organization. When the focal group is
     * itself the best, its gap is 0.
     *   orgP: t0 BLACK 12000 * 30/12000 = 30 per 1,000 member-years, WHITE
     *         12000 * 240/48000 = 60: BLACK is the best, D0 = 0;
     *         t1 BLACK 90 vs WHITE 60: D1 = 90 - 240 * 12000/48000 = 30; I = 0.
     *   orgQ: t0 D0 = 30; t1 BLACK best: D1 = 0; I = 30.
     * Share of 1,000: orgQ 1,000, orgP 0. Earn: orgQ 1000 * min(1, 30/30)
     * = 1,000; orgP has D0 = 0: 0. */
    const char *base = HEADER
        "orgP,r1,ed_rate,race,BLACK,1000,12000,12000,30,,0,\n"
        "orgP,r1,ed_rate,race,WHITE,4000,48000,48000,240,,0,\n"
        "orgQ,r1,ed_rate,race,BLACK,1000,12000,12000,90,,0,\n"
        "orgQ,r1,ed_rate,race,WHITE,4000,48000,48000,240,,0,\n";
    const char *now = HEADER
        "orgP,r2,ed_rate,race,BLACK,1000,12000,12000,90,,0,\n"
        "orgP,r2,ed_rate,race,WHITE,4000,48000,48000,240,,0,\n"
        "orgQ,r2,ed_rate,race,BLACK,1000,12000,12000,30,,0,\n"
        "orgQ,r2,ed_rate,race,WHITE,4000,48000,48000,240,,0,\n";
    struct metrics_params p;
    struct metrics_incentive ip;
    metrics_params_default(&p);
    incentive_params(&ip, 1000, METRICS_INCENTIVE_SHARE);
    metrics_out *out = run_incentive(base, now, &p, &ip);
    assert_true(row(out, "ed_rate", "race", "BLACK", "incentive", "org:orgP")->value == 0);
    assert_near6(row(out, "ed_rate", "race", "BLACK", "incentive", "org:orgQ")->value, 1000);
    metrics_out_destroy(&out);
    incentive_params(&ip, 1000, METRICS_INCENTIVE_EARN);
    out = run_incentive(base, now, &p, &ip);
    assert_true(row(out, "ed_rate", "race", "BLACK", "incentive", "org:orgP")->value == 0);
    assert_near6(row(out, "ed_rate", "race", "BLACK", "incentive", "org:orgQ")->value, 1000);
    metrics_out_destroy(&out);

    /* A VALUE reference the organization has no cell for: not computed. */
    const char *now2 = HEADER
        "orgP,r2,ed_rate,race,BLACK,1000,12000,12000,90,,0,\n"
        "orgP,r2,ed_rate,race,WHITE,4000,48000,48000,240,,0,\n"
        "orgP,r2,ed_rate,race,ASIAN,4000,48000,48000,240,,0,\n"
        "orgQ,r2,ed_rate,race,BLACK,1000,12000,12000,30,,0,\n"
        "orgQ,r2,ed_rate,race,WHITE,4000,48000,48000,240,,0,\n";
    assert_int_equal(metrics_params_set_reference(&p, "ASIAN"), 0);
    out = run_incentive(base, now2, &p, &ip);
    const struct metrics_row *r = row(out, "ed_rate", "race", "BLACK", "incentive", "org:orgQ");
    assert_empty(r->value);
    assert_flag(r, "undefined");
    metrics_out_destroy(&out);
}

static void test_incentive_check(void **state)
{
    (void)state;
    struct metrics_params p;
    struct metrics_incentive ip;
    char err[256];
    metrics_params_default(&p);
    incentive_params(&ip, 1000, METRICS_INCENTIVE_SHARE);
    assert_int_equal(metrics_incentive_check(&ip, &p, err, sizeof err), 0);
    snprintf(ip.measure, sizeof ip.measure, "ed_rates");
    assert_int_equal(metrics_incentive_check(&ip, &p, err, sizeof err), METRICS_EINVAL);
    assert_non_null(strstr(err, "'ed_rates'"));
    /* No direction, and means: no excess to close. */
    snprintf(ip.measure, sizeof ip.measure, "telehealth_share");
    assert_int_equal(metrics_incentive_check(&ip, &p, err, sizeof err), METRICS_EINVAL);
    snprintf(ip.measure, sizeof ip.measure, "experience");
    assert_int_equal(metrics_incentive_check(&ip, &p, err, sizeof err), METRICS_EINVAL);
    snprintf(ip.measure, sizeof ip.measure, "cost_pmpm");
    assert_int_equal(metrics_incentive_check(&ip, &p, err, sizeof err), 0);
    snprintf(ip.stratifier, sizeof ip.stratifier, "race*cmc");
    assert_int_equal(metrics_incentive_check(&ip, &p, err, sizeof err), METRICS_EINVAL);
    snprintf(ip.stratifier, sizeof ip.stratifier, "total");
    assert_int_equal(metrics_incentive_check(&ip, &p, err, sizeof err), METRICS_EINVAL);
    incentive_params(&ip, 0, METRICS_INCENTIVE_SHARE);
    assert_int_equal(metrics_incentive_check(&ip, &p, err, sizeof err), METRICS_EINVAL);
    incentive_params(&ip, 1000, 7);
    assert_int_equal(metrics_incentive_check(&ip, &p, err, sizeof err), METRICS_EINVAL);
    incentive_params(&ip, 1000, METRICS_INCENTIVE_SHARE);
    assert_int_equal(metrics_params_set_reference(&p, "BLACK"), 0);
    assert_int_equal(metrics_incentive_check(&ip, &p, err, sizeof err), METRICS_EINVAL);
    /* metrics_compute_incentive refuses the same parameters, writing nothing. */
    metrics_out *out = metrics_out_new();
    assert_non_null(out);
    assert_int_equal(metrics_compute_incentive(NULL, 0, NULL, 0, &p, &ip, out, err, sizeof err),
                     METRICS_EINVAL);
    assert_int_equal(metrics_out_count(out), 0);
    metrics_out_destroy(&out);
}

/* ---- the command, end to end ------------------------------------------------ */

static int run_cmd(const char *args, const char *outfile)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s/bin/equity-coordinator %s >%s 2>&1", EQ_BINARY_DIR, args,
             outfile);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_command(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_metrics_cmd." EQ_MKTEMP_SUFFIX;
    assert_non_null(mkdtemp(dir));
    char cells[300], outp[300], log[300], args[1200];
    snprintf(cells, sizeof cells, "%s/pooled.csv", dir);
    snprintf(outp, sizeof outp, "%s/metrics.csv", dir);
    snprintf(log, sizeof log, "%s/log.txt", dir);
    FILE *f = fopen(cells, "w");
    assert_non_null(f);
    fputs(HEADER
          "pooled,2024-r1,ed_rate,race,BLACK,3500,40000,40000,240,,0,\n"
          "pooled,2024-r1,ed_rate,race,WHITE,7000,80000,80000,300,,0,\n"
          "pooled,2024-r1,ed_rate,race,ASIAN,,,,,,1,count\n", f);
    fclose(f);

    snprintf(args, sizeof args, "metrics --cells %s --reference WHITE --out %s", cells, outp);
    assert_int_equal(run_cmd(args, log), 0);
    f = fopen(outp, "r");
    assert_non_null(f);
    char line[1024];
    int header = 0, rd = 0, asian = 0;
    while (fgets(line, sizeof line, f)) {
        if (strcmp(line, "round,measure,stratifier,stratum,metric,value,lower,upper,reference,"
                         "flags,se,n_orgs,n_withheld,period,label,unit,better\n") == 0)
            header = 1;
        if (strncmp(line, "2024-r1,ed_rate,race,BLACK,rd,27,16.5642", 39) == 0 &&
            strstr(line, ",WHITE,adverse,") &&
            strstr(line, ",per 1,000 member-years\",lower\n") == NULL &&
            strstr(line, ",\"per 1,000 member-years\",lower\n"))
            rd = 1;
        if (strncmp(line, "2024-r1,ed_rate,race,ASIAN,estimate,,,,,count,,,,", 49) == 0)
            asian = 1;
    }
    fclose(f);
    assert_true(header);
    assert_true(rd);
    assert_true(asian);

    /* Usage errors: exit 2. Bad input: exit 1 with file:line:column. */
    assert_int_equal(run_cmd("metrics --cells x.csv", log), 2);
    assert_int_equal(run_cmd("metrics --cells x.csv --out y.csv --conf 2", log), 2);
    assert_int_equal(run_cmd("frobnicate", log), 2);
    assert_int_equal(run_cmd("--version", log), 0);
    assert_int_equal(run_cmd("metrics --help", log), 0);
    f = fopen(cells, "w");
    assert_non_null(f);
    fputs(HEADER "pooled,r1,ed_rate,race,BLACK,3500,40000,40000,2x40,,0,\n", f);
    fclose(f);
    snprintf(args, sizeof args, "metrics --cells %s --out %s/bad.csv", cells, dir);
    assert_int_equal(run_cmd(args, log), 1);
    f = fopen(log, "r");
    assert_non_null(f);
    char msg[1024] = "";
    size_t got = fread(msg, 1, sizeof msg - 1, f);
    msg[got] = '\0';
    fclose(f);
    char where[400];
    snprintf(where, sizeof where, "%s:2:9:", cells);
    if (!strstr(msg, where) || !strstr(msg, "'2x40'"))
        fail_msg("message '%s' lacks '%s' and the value", msg, where);
    snprintf(where, sizeof where, "%s/bad.csv", dir);
    assert_int_equal(access(where, F_OK), -1); /* nothing written */
    /* a cells file that does not exist is bad input too, not an internal error */
    snprintf(args, sizeof args, "metrics --cells %s/absent.csv --out %s/bad.csv", dir, dir);
    assert_int_equal(run_cmd(args, log), 1);
    assert_int_equal(access(where, F_OK), -1);

    char rm[400];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    assert_int_equal(system(rm), 0);
}

/* The value and flags of the `incentive` row of an organization in a
 * metrics CSV; returns 0 when there is no such row. value is "" when empty. */
static int incentive_row(const char *path, const char *org, char *value, size_t vlen,
                         char *flags, size_t flen, int *nrows)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024], ref[200];
    int found = 0;
    *nrows = 0;
    snprintf(ref, sizeof ref, "org:%s", org);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        /* round,measure,stratifier,stratum,metric,value,lower,upper,
         * reference,flags,se,n_orgs,n_withheld: no quoting in these rows. */
        char *fld[17];
        int n = 0;
        char *s = line;
        while (n < 17) {
            fld[n++] = s;
            char *c = strchr(s, ',');
            if (!c)
                break;
            *c = '\0';
            s = c + 1;
        }
        if (n != 17 || strcmp(fld[4], "incentive") != 0)
            continue;
        (*nrows)++;
        assert_string_equal(fld[1], "ed_rate");
        assert_string_equal(fld[2], "race");
        assert_string_equal(fld[3], "BLACK");
        assert_string_equal(fld[0], "2025-r2");
        if (strcmp(fld[8], ref) != 0)
            continue;
        snprintf(value, vlen, "%s", fld[5]);
        snprintf(flags, flen, "%s", fld[9]);
        found = 1;
    }
    fclose(f);
    return found;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static int file_has(const char *path, const char *needle)
{
    char buf[8192];
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strstr(buf, needle) != NULL;
}

static void test_command_incentive(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_metrics_inc." EQ_MKTEMP_SUFFIX;
    assert_non_null(mkdtemp(dir));
    char base[300], now[300], outp[300], log[300], args[2000], value[64], flags[200];
    int nrows;
    snprintf(base, sizeof base, "%s/base.csv", dir);
    snprintf(now, sizeof now, "%s/now.csv", dir);
    snprintf(outp, sizeof outp, "%s/metrics.csv", dir);
    snprintf(log, sizeof log, "%s/log.txt", dir);
    /* The four organizations of test_incentive (rounds renamed), orgF only
     * in the baseline and orgE only now. */
    const char *b = HEADER
        "orgA,2025-r1,ed_rate,race,BLACK,2000,24000,24000,120,,0,\n"
        "orgA,2025-r1,ed_rate,race,WHITE,5000,60000,60000,200,,0,\n"
        "orgB,2025-r1,ed_rate,race,BLACK,1000,12000,12000,60,,0,\n"
        "orgB,2025-r1,ed_rate,race,WHITE,4000,48000,48000,150,,0,\n"
        "orgC,2025-r1,ed_rate,race,BLACK,,,,,,1,count\n"
        "orgC,2025-r1,ed_rate,race,WHITE,3000,36000,36000,100,,0,\n"
        "orgD,2025-r1,ed_rate,race,BLACK,1500,18000,18000,90,,0,\n"
        "orgD,2025-r1,ed_rate,race,WHITE,3000,36000,36000,120,,0,\n"
        "orgF,2025-r1,ed_rate,race,BLACK,1500,18000,18000,90,,0,\n"
        "orgF,2025-r1,ed_rate,race,WHITE,3000,36000,36000,120,,0,\n";
    const char *n = HEADER
        "orgA,2025-r2,ed_rate,race,BLACK,2000,24000,24000,100,,0,\n"
        "orgA,2025-r2,ed_rate,race,WHITE,5000,60000,60000,210,,0,\n"
        "orgB,2025-r2,ed_rate,race,BLACK,1000,12000,12000,75,,0,\n"
        "orgB,2025-r2,ed_rate,race,WHITE,4000,48000,48000,150,,0,\n"
        "orgC,2025-r2,ed_rate,race,BLACK,500,6000,6000,30,,0,\n"
        "orgC,2025-r2,ed_rate,race,WHITE,3000,36000,36000,100,,0,\n"
        "orgD,2025-r2,ed_rate,race,BLACK,1500,18000,18000,78,,0,\n"
        "orgD,2025-r2,ed_rate,race,WHITE,3000,36000,36000,120,,0,\n"
        "orgE,2025-r2,ed_rate,race,BLACK,1500,18000,18000,50,,0,\n"
        "orgE,2025-r2,ed_rate,race,WHITE,3000,36000,36000,120,,0,\n";
    write_file(base, b);
    write_file(now, n);
    const char *common = "--reference WHITE --incentive-pool 90000 --incentive-measure ed_rate "
                         "--incentive-stratifier race --focal BLACK";

    /* Share: orgA 90000 * 24/36 = 60000, orgD 90000 * 12/36 = 30000, orgB 0,
     * orgC empty (count, input_suppressed). */
    snprintf(args, sizeof args, "metrics --cells %s --baseline %s %s --out %s", now, base, common,
             outp);
    assert_int_equal(run_cmd(args, log), 0);
    assert_true(incentive_row(outp, "orgA", value, sizeof value, flags, sizeof flags, &nrows));
    assert_int_equal(nrows, 4);
    assert_string_equal(value, "60000");
    assert_string_equal(flags, "");
    assert_true(incentive_row(outp, "orgD", value, sizeof value, flags, sizeof flags, &nrows));
    assert_string_equal(value, "30000");
    assert_true(incentive_row(outp, "orgB", value, sizeof value, flags, sizeof flags, &nrows));
    assert_string_equal(value, "0");
    assert_true(incentive_row(outp, "orgC", value, sizeof value, flags, sizeof flags, &nrows));
    assert_string_equal(value, "");
    assert_non_null(strstr(flags, "count"));
    assert_non_null(strstr(flags, "input_suppressed"));
    /* In one file only: no row, a warning naming them. */
    assert_false(incentive_row(outp, "orgE", value, sizeof value, flags, sizeof flags, &nrows));
    assert_false(incentive_row(outp, "orgF", value, sizeof value, flags, sizeof flags, &nrows));
    assert_true(file_has(log, "'orgE'"));
    assert_true(file_has(log, "'orgF'"));
    /* The pooled metrics are still there. */
    assert_true(file_has(outp, "2025-r2,ed_rate,race,BLACK,estimate,"));

    /* Earn: orgA 90000 * 24/40 = 54000, orgD 90000 * 12/30 = 36000. */
    snprintf(args, sizeof args, "metrics --cells %s --baseline %s %s --incentive-mode earn "
             "--out %s", now, base, common, outp);
    assert_int_equal(run_cmd(args, log), 0);
    assert_true(incentive_row(outp, "orgA", value, sizeof value, flags, sizeof flags, &nrows));
    assert_string_equal(value, "54000");
    assert_true(incentive_row(outp, "orgD", value, sizeof value, flags, sizeof flags, &nrows));
    assert_string_equal(value, "36000");
    assert_true(incentive_row(outp, "orgB", value, sizeof value, flags, sizeof flags, &nrows));
    assert_string_equal(value, "0");

    /* Without the incentive options: no incentive rows. */
    snprintf(args, sizeof args, "metrics --cells %s --reference WHITE --out %s", now, outp);
    assert_int_equal(run_cmd(args, log), 0);
    assert_false(incentive_row(outp, "orgA", value, sizeof value, flags, sizeof flags, &nrows));
    assert_int_equal(nrows, 0);

    /* Usage errors (exit 2), naming what is missing or wrong. */
    snprintf(args, sizeof args, "metrics --cells %s --baseline %s --reference WHITE "
             "--incentive-pool 90000 --incentive-measure ed_rate --incentive-stratifier race "
             "--out %s/x.csv", now, base, dir);
    assert_int_equal(run_cmd(args, log), 2);
    assert_true(file_has(log, "missing: --focal"));
    snprintf(args, sizeof args, "metrics --cells %s --focal BLACK --out %s/x.csv", now, dir);
    assert_int_equal(run_cmd(args, log), 2);
    assert_true(file_has(log, "missing: --baseline, --incentive-pool, --incentive-measure, "
                              "--incentive-stratifier"));
    snprintf(args, sizeof args, "metrics --cells %s --baseline %s %s --incentive-mode half "
             "--out %s/x.csv", now, base, common, dir);
    assert_int_equal(run_cmd(args, log), 2);
    assert_true(file_has(log, "'half'"));
    snprintf(args, sizeof args, "metrics --cells %s --baseline %s --reference WHITE "
             "--incentive-pool 90000 --incentive-measure telehealth_share "
             "--incentive-stratifier race --focal BLACK --out %s/x.csv", now, base, dir);
    assert_int_equal(run_cmd(args, log), 2);
    snprintf(args, sizeof args, "metrics --cells %s --baseline %s --reference BLACK "
             "--incentive-pool 90000 --incentive-measure ed_rate "
             "--incentive-stratifier race --focal BLACK --out %s/x.csv", now, base, dir);
    assert_int_equal(run_cmd(args, log), 2);
    snprintf(args, sizeof args, "metrics --cells %s --baseline %s --reference WHITE "
             "--incentive-pool -5 --incentive-measure ed_rate "
             "--incentive-stratifier race --focal BLACK --out %s/x.csv", now, base, dir);
    assert_int_equal(run_cmd(args, log), 2);
    snprintf(args, sizeof args, "metrics --cells %s --capitation-base 0 --out %s/x.csv", now, dir);
    assert_int_equal(run_cmd(args, log), 2);
    snprintf(args, sizeof args, "%s/x.csv", dir);
    assert_int_equal(access(args, F_OK), -1); /* nothing written */
    /* A focal stratum neither file has: bad input (exit 1), naming the file. */
    snprintf(args, sizeof args, "metrics --cells %s --baseline %s --reference WHITE "
             "--incentive-pool 90000 --incentive-measure ed_rate "
             "--incentive-stratifier race --focal NHPI --out %s/x.csv", now, base, dir);
    assert_int_equal(run_cmd(args, log), 1);
    assert_true(file_has(log, "'NHPI'"));

    /* Capitation through the command: 450 * 1.3 = 585 for BLACK. */
    write_file(base, CAP_CSV);
    snprintf(args, sizeof args, "metrics --cells %s --capitation-base 450 --out %s", base, outp);
    assert_int_equal(run_cmd(args, log), 0);
    assert_true(file_has(outp, "r1,cost_pmpm,race,BLACK,capitation,585,,,,,,,,"));

    char rm[400];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    assert_int_equal(system(rm), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_z),
        cmocka_unit_test(test_proportion_example),
        cmocka_unit_test(test_rate_examples),
        cmocka_unit_test(test_mean_pmpm_examples),
        cmocka_unit_test(test_dsr_example),
        cmocka_unit_test(test_dsr_not_computed),
        cmocka_unit_test(test_pairwise_example),
        cmocka_unit_test(test_pairwise_intersection),
        cmocka_unit_test(test_summary_example),
        cmocka_unit_test(test_sii_example),
        cmocka_unit_test(test_heba_example),
        cmocka_unit_test(test_funnel_example),
        cmocka_unit_test(test_zero_and_full),
        cmocka_unit_test(test_single_group_and_equal),
        cmocka_unit_test(test_all_withheld),
        cmocka_unit_test(test_references),
        cmocka_unit_test(test_direction),
        cmocka_unit_test(test_partial),
        cmocka_unit_test(test_funnel_rates),
        cmocka_unit_test(test_payment),
        cmocka_unit_test(test_capitation),
        cmocka_unit_test(test_std_populations),
        cmocka_unit_test(test_dsr_standard_population),
        cmocka_unit_test(test_params_file),
        cmocka_unit_test(test_withheld_group_pairwise),
        cmocka_unit_test(test_incentive),
        cmocka_unit_test(test_incentive_best_reference),
        cmocka_unit_test(test_incentive_check),
        cmocka_unit_test(test_completeness),
        cmocka_unit_test(test_heterogeneity_stats),
        cmocka_unit_test(test_command),
        cmocka_unit_test(test_command_incentive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
