/*
 * test_node_config.c - node.ini: defaults, every kind of setting, code maps
 * and column names, and errors that name file and line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node_config.h"

static char path[64];

static const char *write_ini(const char *text)
{
    snprintf(path, sizeof path, "/tmp/eq_nodecfg_%ld.ini", (long)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static struct node_config *cfg;

static void test_defaults(void **state)
{
    (void)state;
    char err[600];
    assert_int_equal(node_config_load(cfg, NULL, err, sizeof err), 0);
    assert_int_equal(cfg->k, 11);
    assert_true(cfg->dominance > 0.59 && cfg->dominance < 0.61);
    assert_int_equal(cfg->spec.n_inter, 6);
    assert_int_equal(cfg->spec.inter[0][0], S_RACE);
    assert_int_equal(cfg->spec.inter[0][1], S_DISABILITY);
    assert_int_equal(cfg->spec.inter[5][0], S_ETHNICITY);
    assert_int_equal(cfg->spec.n_age_bands, 8);
    assert_int_equal(cfg->spec.age_band_lo[7], 75);
    for (int m = 0; m < M__COUNT; m++)
        assert_true(cfg->spec.measure_on[m]);
    for (int s = 0; s < S__COUNT; s++)
        assert_true(cfg->spec.stratifier_on[s]);
}

static void test_full_file(void **state)
{
    (void)state;
    char err[600];
    const char *p = write_ini(
        "; a plan's node\n"
        "[node]\n"
        "org = org:il-medicaid-plan-a\n"
        "k = 20\n"
        "dominance = 0.5\n"
        "bad_rows = strict\n"
        "[input]\n"
        "path = /data/extract.csv.gz\n"
        "period = 2025\n"
        "[report]\n"
        "measures = ed_rate, cost_pmpm\n"
        "stratifiers = race payer\n"
        "intersections = race*disability\n"
        "age_bands = 0, 18, 65\n"
        "[columns]\n"
        "member_id = MEMBER_NBR\n"
        "race = RACE_CD\n"
        "[map.race]\n"
        "2106-3 = WHITE\n"
        "2054-5 = black\n"
        "[map.language]\n"
        "Spanish = spa\n"
        "[map.county]\n"
        "Cook County = 17031\n");
    assert_int_equal(node_config_load(cfg, p, err, sizeof err), 0);
    assert_string_equal(cfg->org, "org:il-medicaid-plan-a");
    assert_int_equal(cfg->k, 20);
    assert_int_equal(cfg->bad_rows, BADROWS_STRICT);
    assert_true(cfg->spec.measure_on[M_ED_RATE] && cfg->spec.measure_on[M_COST_PMPM]);
    assert_false(cfg->spec.measure_on[M_WELLNESS]);
    assert_true(cfg->spec.stratifier_on[S_TOTAL]);
    assert_true(cfg->spec.stratifier_on[S_RACE]);
    assert_true(cfg->spec.stratifier_on[S_DISABILITY]); /* margin of race*disability */
    assert_false(cfg->spec.stratifier_on[S_COUNTY]);
    assert_int_equal(cfg->spec.n_age_bands, 3);
    assert_string_equal(cfg->column_name[COL_MEMBER_ID], "MEMBER_NBR");
    assert_int_equal(cfg->n_rules[COL_RACE], 2);
    assert_string_equal(cfg->rules[COL_RACE][0].from, "2106-3");
    assert_string_equal(cfg->rules[COL_RACE][0].to, "WHITE");
    assert_int_equal(cfg->n_county_rules, 1);
    struct extract_options eo;
    node_config_extract_options(cfg, &eo);
    assert_string_equal(eo.period, "2025");
    assert_int_equal(eo.strict, 1);
    assert_string_equal(eo.column_name[COL_RACE], "RACE_CD");
    assert_null(eo.column_name[COL_AGE]);
    /* check-config prints the effective settings */
    char *text = NULL;
    size_t tlen = 0;
    FILE *mem = open_memstream(&text, &tlen);
    node_config_print(mem, cfg);
    fclose(mem);
    assert_non_null(strstr(text, "k = 20\n"));
    assert_non_null(strstr(text, "[map.race]\n2106-3 = WHITE\n"));
    free(text);
}

static void expect_error(const char *ini, const char *needle)
{
    char err[600];
    const char *p = write_ini(ini);
    assert_int_equal(node_config_load(cfg, p, err, sizeof err), -1);
    if (!strstr(err, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, err);
}

static void test_errors_name_file_and_line(void **state)
{
    (void)state;
    char where[100];
    snprintf(where, sizeof where, "%s:3:", "/tmp/eq_nodecfg_");
    expect_error("[node]\nk = 11\nthreshold = 5\n", ":3: unknown key \"threshold\"");
    expect_error("[node]\n\nk = eleven\n", ":3: [node] k: \"eleven\" is not a whole number");
    expect_error("[node]\nk = 1\n", ":2: [node] k: 1 is out of range");
    expect_error("[node]\ndominance = 2\n", ":2: [node] dominance");
    expect_error("[nodes]\nk = 11\n", ":2: [nodes] unknown section");
    expect_error("[node]\nbad_rows = maybe\n", "is not one of skip strict");
    expect_error("[map.race]\n2106-3 = CAUCASIAN\n", ":2: [map.race] 2106-3 = CAUCASIAN");
    expect_error("[columns]\nrace_code = RACE\n", "is not a column of the extract");
    expect_error("[map.county]\nCook = 170\n", "5-digit FIPS");
    expect_error("[report]\nintersections = race*race\n", "not an intersection of two different stratifiers");
    expect_error("[report]\nmeasures = ed_rate, er_rate\n", "unknown measure \"er_rate\"");
    expect_error("[report]\nage_bands = 0, 18, 10\n", "must increase");
    expect_error("[report]\nage_bands = 5, 18\n", "must start at 0");
    expect_error("[node]\nk = 5\n", "below the policy's min_k");
    expect_error("[node\nk = 5\n", ":1: syntax error");
    char err[600];
    assert_int_equal(node_config_load(cfg, "/nonexistent/node.ini", err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/node.ini: No such file"));
}

int main(void)
{
    cfg = calloc(1, sizeof *cfg);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_errors_name_file_and_line),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(path);
    free(cfg);
    return rc;
}
