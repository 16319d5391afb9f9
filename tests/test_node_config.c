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
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "conf.h"
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
    /* "all": every stratifier but the opt-in ones, which the default
     * catalog does not define */
    for (int s = 0; s < S__COUNT; s++)
        assert_int_equal(cfg->spec.stratifier_on[s], !catalog_stratifier_opt_in(s));
}

/* A three-way intersection: its three stratifiers in order, its one-way
 * margins switched on; a two-way one keeps S_TOTAL third. */
static void test_three_way(void **state)
{
    (void)state;
    char err[600];
    const char *p = write_ini("[report]\nstratifiers = sex\n"
                              "intersections = race*disability*cmc, payer*race\n");
    assert_int_equal(node_config_load(cfg, p, err, sizeof err), 0);
    assert_int_equal(cfg->max_three_way, 2);
    assert_int_equal(cfg->spec.n_inter, 2);
    assert_int_equal(cfg->spec.inter[0][0], S_RACE);
    assert_int_equal(cfg->spec.inter[0][1], S_DISABILITY);
    assert_int_equal(cfg->spec.inter[0][2], S_CMC);
    assert_int_equal(catalog_inter_ndim(cfg->spec.inter[0]), 3);
    assert_int_equal(cfg->spec.inter[1][2], S_TOTAL);
    assert_int_equal(catalog_inter_ndim(cfg->spec.inter[1]), 2);
    assert_true(cfg->spec.stratifier_on[S_CMC] && cfg->spec.stratifier_on[S_DISABILITY] &&
                cfg->spec.stratifier_on[S_PAYER] && !cfg->spec.stratifier_on[S_COUNTY]);
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
    assert_non_null(strstr(text, "[map.race]\n# read by: extract, synthea, fhir, omop\n2106-3 = WHITE\n"));
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
    expect_error("[map.race]\nW = WHITE\n[map.county]\n\nCook = 00000\n", ":5: [map.county] Cook: county must map to a 5-digit FIPS");
    expect_error("[map.sex]\nW = female\n", ":2: [map.sex] W = female: \"female\" is not a standard code");
    expect_error("[map.payer]\nMedi-Cal = MEDICAL\n", ":2: [map.payer] Medi-Cal = MEDICAL");
    expect_error("[map.language]\nESP = spanish\n", ":2: [map.language] ESP = spanish");
    expect_error("[report]\nintersections = race*race\n", "\"race*race\" names stratifier race twice");
    expect_error("[report]\nintersections = race\n", "not an intersection of two or three different");
    expect_error("[report]\nintersections = race*cmc*race\n", "names stratifier race twice");
    expect_error("[report]\nintersections = race*cmc*sex*payer\n", "crosses more than three");
    expect_error("[report]\nintersections = race*cmc*nothing\n", "unknown stratifier \"nothing\"");
    expect_error("[report]\nintersections = race*language*cmc\n", "cannot cross language");
    expect_error("[report]\nintersections = race*cmc*sex, sex*race*cmc\n", "listed twice");
    expect_error("[report]\nintersections = race*cmc*sex, race*cmc*payer, race*sex*payer\n",
                 ":2: [report] intersections: 3 three-way intersections, more than [policy] "
                 "max_three_way = 2");
    expect_error("[policy]\nmax_three_way = 0\n[report]\nintersections = race*cmc*sex\n",
                 "more than [policy] max_three_way = 0");
    expect_error("[policy]\nmax_three_way = 9\n", "max_three_way");
    expect_error("[report]\nmeasures = ed_rate, er_rate\n", "unknown measure \"er_rate\"");
    expect_error("[report]\nage_bands = 0, 18, 10\n", "must increase");
    expect_error("[report]\nage_bands = 5, 18\n", "must start at 0");
    expect_error("[node]\nk = 5\n", "below the policy's min_k");
    expect_error("[node\nk = 5\n", ":1: syntax error");
    char err[600];
    assert_int_equal(node_config_load(cfg, "/nonexistent/node.ini", err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/node.ini: No such file"));
}

/* Lines of any length: Debian's libinih reads 200 bytes a line. */
static void test_long_lines(void **state)
{
    (void)state;
    char err[600];
    const char *measures =
        "population, ed_rate, ip_rate, readmit_30d, wellness, no_show, telehealth_share, "
        "diabetes_poor_control, bp_control, hrsn_screening, hrsn_food, hrsn_housing, "
        "hrsn_transport, hrsn_utilities, hrsn_safety, hrsn_any, cost_pmpm";
    char ini[4096], comment[400];
    memset(comment, 'x', sizeof comment - 1);
    comment[0] = ';';
    comment[sizeof comment - 1] = '\0';
    snprintf(ini, sizeof ini, "[report]\n%s\nmeasures = %s   ; all but experience\n"
             "[node]\nk = 12\n", comment, measures);
    assert_true(strlen("measures = ") + strlen(measures) > 200);
    const char *p = write_ini(ini);
    if (node_config_load(cfg, p, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(cfg->measures, measures);
    assert_int_equal(cfg->k, 12);
    assert_int_equal(node_config_key_line(cfg, "report", "measures"), 3);
    assert_int_equal(node_config_key_line(cfg, "node", "k"), 5);
    assert_false(cfg->spec.measure_on[M_EXPERIENCE]);
    assert_true(cfg->spec.measure_on[M_COST_PMPM]);

    /* an error after long lines names its own line */
    snprintf(ini, sizeof ini, "[report]\n%s\nmeasures = %s\n\n[node]\nthreshold = 5\n", comment,
             measures);
    expect_error(ini, ":6: unknown key \"threshold\"");
    /* a bad item in a long list names the list's line */
    snprintf(ini, sizeof ini, "[node]\nk = 11\n[report]\nmeasures = %s, er_rate\n", measures);
    expect_error(ini, ":4: [report] measures: unknown measure \"er_rate\"");
    /* a long value too long for its setting is still an error at its line */
    char big[1500];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    snprintf(ini, sizeof ini, "[node]\n\norg = %s\n", big);
    expect_error(ini, ":3: [node] org: value longer than 127 characters");
}

static void test_every_error_names_its_line(void **state)
{
    (void)state;
    expect_error("[node]\nk = 11\n; c\nk = 12\n", ":4: [node] k is set twice (first at line 2)");
    expect_error("[node]\nk = 11\n[policy]\nmin_k = 11\n[node]\nk = 12\n",
                 ":6: [node] k is set twice (first at line 2)");
    expect_error("[map.race]\n2106-3 = WHITE\n2106-3 = OTHER\n", ":3: [map.race] \"2106-3\" is mapped twice");
    expect_error("[map.county]\nCook County = 17031\ncook county = 17031\n", ":3: [map.county]");
    expect_error("[columns]\nrace = R1\nrace = R2\n", ":3: [columns] race is set twice");
    expect_error("[report]\nstratifiers = race\n\nintersections = race*nothing\n",
                 ":4: [report] intersections:");
    expect_error("[report]\nage_bands = 0, 18, 10\n", ":2: [report] age_bands:");
    expect_error("[policy]\nmin_k = 11\n[node]\nk = 5\n", ":4: [node] k = 5 is below");
    expect_error("[node]\nk = 11\n  dominance = 0.5\n", ":3: indented line continues the value of \"k\"");
    /* an indented key right after a section is a key */
    char err[600];
    const char *p = write_ini("[node]\n  k = 13\n");
    assert_int_equal(node_config_load(cfg, p, err, sizeof err), 0);
    assert_int_equal(cfg->k, 13);
}

static void test_relative_paths(void **state)
{
    (void)state;
    char dir[] = "/tmp/eq_nodecfg_dir_" EQ_MKTEMP_SUFFIX, ini[128], err[600];
    assert_non_null(mkdtemp(dir));
    snprintf(ini, sizeof ini, "%s/node.ini", dir);
    FILE *f = fopen(ini, "w");
    assert_non_null(f);
    fputs("[input]\npath = data/members.csv\n[identity]\nca = /etc/equity/ca.crt\n"
          "crl = ../ca.crl\n", f);
    fclose(f);
    assert_int_equal(node_config_load(cfg, ini, err, sizeof err), 0);
    char want[256];
    snprintf(want, sizeof want, "%s/data/members.csv", dir);
    assert_string_equal(cfg->input, want);
    assert_string_equal(cfg->ca, "/etc/equity/ca.crt");
    snprintf(want, sizeof want, "%s/../ca.crl", dir);
    assert_string_equal(cfg->crl, want);
    snprintf(want, sizeof want, "%s/submissions", dir); /* the default store too */
    assert_string_equal(cfg->store_dir, want);

    /* check-config: files exist, ports in range, each at its line */
    assert_int_equal(node_config_check_files(cfg, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:2: [input] path: %s/data/members.csv: No such file", ini, dir);
    if (!strstr(err, want))
        fail_msg("expected \"%s\" in \"%s\"", want, err);
    char data[160];
    snprintf(data, sizeof data, "%s/data", dir);
    assert_int_equal(mkdir(data, 0700), 0);
    snprintf(data, sizeof data, "%s/data/members.csv", dir);
    f = fopen(data, "w");
    assert_non_null(f);
    fclose(f);
    f = fopen(ini, "w");
    fputs("[input]\npath = data/members.csv\n[coordinator]\nendpoint = tcp://coord:77010\n", f);
    fclose(f);
    assert_int_equal(node_config_load(cfg, ini, err, sizeof err), 0);
    assert_int_equal(node_config_check_files(cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, ":4: [coordinator] endpoint: \"tcp://coord:77010\": the port must be a number 1..65535"));
    f = fopen(ini, "w");
    fputs("[input]\npath = data/members.csv\n[coordinator]\nendpoint = tcp://coord:7701\n"
          "[store]\ndir = no/such/place\n", f);
    fclose(f);
    assert_int_equal(node_config_load(cfg, ini, err, sizeof err), 0);
    assert_int_equal(node_config_check_files(cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, ":6: [store] dir:"));
    f = fopen(ini, "w");
    fputs("[input]\npath = data/members.csv\nformat = synthea\n", f);
    fclose(f);
    assert_int_equal(node_config_load(cfg, ini, err, sizeof err), 0);
    assert_int_equal(node_config_check_files(cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, ":2: [input] path:"));
    assert_non_null(strstr(err, "is not a folder"));
    f = fopen(ini, "w");
    fputs("[input]\npath = data/members.csv\n[coordinator]\nendpoint = tcp://coord:7701\n", f);
    fclose(f);
    assert_int_equal(node_config_load(cfg, ini, err, sizeof err), 0);
    if (node_config_check_files(cfg, err, sizeof err) != 0)
        fail_msg("%s", err);
    unlink(data);
    snprintf(data, sizeof data, "%s/data", dir);
    rmdir(data);
    unlink(ini);
    rmdir(dir);
}

/* common/conf.c as the coordinator uses it: a required key. */
/* check-config says which inputs read each map, and when the configured
 * format does not read one. */
static void test_maps_per_input(void **state)
{
    (void)state;
    for (int f = FORMAT_EXTRACT; f <= FORMAT_OMOP; f++) {
        assert_true(node_config_map_applies(COL_RACE, f));
        assert_true(node_config_map_applies(COL_ETHNICITY, f));
        assert_true(node_config_map_applies(COL_SEX, f));
        assert_true(node_config_map_applies(COL_PAYER, f));
        assert_true(node_config_map_applies(COL_COUNTY, f));
        assert_true(node_config_map_applies(COL_LANGUAGE, f));
        assert_int_equal(node_config_map_applies(COL_CMC, f), f == FORMAT_EXTRACT);
        assert_int_equal(node_config_map_applies(COL_DISABILITY, f), f == FORMAT_EXTRACT);
    }
    assert_false(node_config_map_applies(COL_AGE, FORMAT_EXTRACT));
    char err[600];
    assert_int_equal(node_config_load(cfg, write_ini("[input]\nformat = omop\npath = host=db dbname=cdm\n"
                                                     "[map.cmc]\nyes = Y\n[map.sex]\nW = F\n"), err, sizeof err), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    node_config_print(f, cfg);
    fclose(f);
    assert_non_null(strstr(text, "[map.sex]\n# read by: extract, synthea, fhir, omop\nW = F\n"));
    assert_non_null(strstr(text, "[map.cmc]\n# read by: extract\n"
                                 "# not used with format = omop: only an extract has a cmc column\nyes = Y\n"));
    free(text);
    unlink(path);
}

static void test_conf_required_key(void **state)
{
    (void)state;
    struct t { char x[16]; int z; } out;
    const struct conf_key keys[] = {
        {"a", "x", CONF_STR, offsetof(struct t, x), sizeof out.x, 0, 0, NULL, 1, NULL, "x"},
        {"b", "z", CONF_INT, offsetof(struct t, z), 0, 0, 9, "1", 0, NULL, "z"},
    };
    int lines[2];
    char err[600];
    memset(&out, 0, sizeof out);
    const char *p = write_ini("; top\n[b]\nz = 3\n\n[a]\n; no x here\n");
    assert_int_equal(conf_load_lines(p, keys, 2, &out, NULL, NULL, lines, err, sizeof err), -1);
    if (!strstr(err, ":5: required key \"x\" missing in section [a]"))
        fail_msg("%s", err);
    p = write_ini("[b]\nz = 3\n");
    assert_int_equal(conf_load(p, keys, 2, &out, NULL, NULL, err, sizeof err), -1);
    if (!strstr(err, ":2: required key \"x\" missing in section [a]"))
        fail_msg("%s", err);
    p = write_ini("[b]\nz = 3\n[a]\nx = hello\n");
    assert_int_equal(conf_load_lines(p, keys, 2, &out, NULL, NULL, lines, err, sizeof err), 0);
    assert_string_equal(out.x, "hello");
    assert_int_equal(out.z, 3);
    assert_int_equal(lines[0], 4);
    assert_int_equal(lines[1], 2);
}

int main(void)
{
    cfg = calloc(1, sizeof *cfg);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_three_way),
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_every_error_names_its_line),
        cmocka_unit_test(test_relative_paths),
        cmocka_unit_test(test_conf_required_key),
        cmocka_unit_test(test_maps_per_input),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(path);
    free(cfg);
    return rc;
}
