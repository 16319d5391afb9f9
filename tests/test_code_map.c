/*
 * test_code_map.c - the adapters' [map.*] helper: targets resolved per
 * column, lookups case-insensitive and trimmed, hits counted in the
 * profile in column order, bad targets refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "catalog.h"
#include "code_map.h"
#include "record.h"

static void test_targets(void **state)
{
    (void)state;
    assert_int_equal(code_map_target(COL_RACE, "WHITE", 5), RACE_WHITE);
    assert_int_equal(code_map_target(COL_ETHNICITY, "HISPANIC", 8), ETH_HISPANIC);
    assert_int_equal(code_map_target(COL_SEX, "F", 1), SEX_F);
    assert_int_equal(code_map_target(COL_PAYER, "MEDICAID", 8), PAYER_MEDICAID);
    assert_int_equal(code_map_target(COL_CMC, "Y", 1), YNU_Y);
    assert_int_equal(code_map_target(COL_LANGUAGE, "spa", 3), record_lang_pack("spa", 3));
    assert_int_equal(code_map_target(COL_LANGUAGE, "und", 3), LANG_UNKNOWN);
    assert_int_equal(code_map_target(COL_COUNTY, "06037", 5), 6037);
    assert_int_equal(code_map_target(COL_RACE, "WHITEISH", 8), -1);
    assert_int_equal(code_map_target(COL_SEX, "female", 6), -1);
    assert_int_equal(code_map_target(COL_LANGUAGE, "spanish", 7), -1);
    assert_int_equal(code_map_target(COL_COUNTY, "6037", 4), -1);
    assert_int_equal(code_map_target(COL_COUNTY, "00000", 5), -1);
    assert_int_equal(code_map_target(COL_AGE, "1", 1), -1);
}

static void test_find_and_hits(void **state)
{
    (void)state;
    static const struct code_rule sex[] = {{"W", "F"}, {" man ", "M"}};
    static const struct code_rule payer[] = {{"Medi-Cal", "MEDICAID"}};
    static const struct code_rule county[] = {{"Cook", "17031"}};
    static const struct code_rule race[] = {{"ignored", "WHITE"}};
    const struct code_rule *rules[COL__COUNT] = {0};
    int n[COL__COUNT] = {0};
    rules[COL_SEX] = sex;
    n[COL_SEX] = 2;
    rules[COL_PAYER] = payer;
    n[COL_PAYER] = 1;
    rules[COL_COUNTY] = county;
    n[COL_COUNTY] = 1;
    rules[COL_RACE] = race; /* not among the columns asked for */
    n[COL_RACE] = 1;
    static const int cols[] = {COL_COUNTY, COL_SEX, COL_PAYER};
    struct profile p;
    memset(&p, 0, sizeof p);
    struct code_map m;
    char err[200];
    assert_int_equal(code_map_init(&m, rules, n, cols, 3, &p, err, sizeof err), 0);
    /* one profile entry per rule, in column order */
    assert_int_equal(p.n_map_rules, 4);
    assert_int_equal(p.map_rules[0].column, COL_COUNTY);
    assert_int_equal(p.map_rules[1].column, COL_SEX);
    assert_string_equal(p.map_rules[2].from, " man ");
    assert_string_equal(p.map_rules[3].to, "MEDICAID");
    /* case-insensitive, trimmed on both sides */
    assert_int_equal(code_map_find(&m, COL_SEX, "w", 1), 0);
    assert_int_equal(code_map_find(&m, COL_SEX, "  MAN", 5), 1);
    assert_int_equal(code_map_code(&m, COL_SEX, 1), SEX_M);
    assert_int_equal(code_map_find(&m, COL_SEX, "woman", 5), -1);
    assert_int_equal(code_map_find(&m, COL_SEX, NULL, 0), -1);
    assert_int_equal(code_map_find(&m, COL_RACE, "ignored", 7), -1);
    /* apply counts the hit; find alone does not */
    assert_int_equal(code_map_apply(&m, COL_PAYER, "medi-cal"), PAYER_MEDICAID);
    assert_int_equal(code_map_apply(&m, COL_PAYER, "Medi-Cal "), PAYER_MEDICAID);
    assert_int_equal(code_map_apply(&m, COL_PAYER, "Medicare"), -1);
    code_map_hit(&m, COL_SEX, 0);
    code_map_hit(&m, COL_SEX, -1);
    assert_int_equal(p.map_rules[0].hits, 0);
    assert_int_equal(p.map_rules[1].hits, 1);
    assert_int_equal(p.map_rules[2].hits, 0);
    assert_int_equal(p.map_rules[3].hits, 2);
    assert_int_equal(code_map_code(&m, COL_COUNTY, 0), 17031);
    code_map_free(&m);
    code_map_free(&m); /* safe twice */
    profile_free(&p);
}

static void test_bad_target(void **state)
{
    (void)state;
    static const struct code_rule sex[] = {{"W", "F"}, {"H", "HERMAPHRODITE"}};
    static const struct code_rule county[] = {{"Cook", "170"}};
    const struct code_rule *rules[COL__COUNT] = {0};
    int n[COL__COUNT] = {0};
    rules[COL_SEX] = sex;
    n[COL_SEX] = 2;
    static const int sex_only[] = {COL_SEX};
    struct profile p;
    memset(&p, 0, sizeof p);
    struct code_map m;
    char err[200];
    assert_int_equal(code_map_init(&m, rules, n, sex_only, 1, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "sex rule 2"));
    assert_non_null(strstr(err, "is not a standard sex code"));
    code_map_free(&m);
    rules[COL_COUNTY] = county;
    n[COL_COUNTY] = 1;
    static const int county_only[] = {COL_COUNTY};
    assert_int_equal(code_map_init(&m, rules, n, county_only, 1, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "is not a 5-digit FIPS code"));
    code_map_free(&m);
    /* a count without its list */
    rules[COL_COUNTY] = NULL;
    assert_int_equal(code_map_init(&m, rules, n, county_only, 1, &p, err, sizeof err), -1);
    code_map_free(&m);
    profile_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_find_and_hits),
        cmocka_unit_test(test_bad_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
