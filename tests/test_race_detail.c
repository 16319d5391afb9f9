/*
 * test_race_detail.c - detailed race and ethnicity (common/race_detail.c):
 * the compiled-in table against data/race-detail.tsv, responses, the
 * "alone" strata of race_detail and race_group, "alone or in combination"
 * (race_aic), the consistency rule of the extract reader, and the
 * suppression model's joint atoms, which must be exactly the combinations
 * some member has (too few: a member the model deems impossible, so its
 * bounds are wrong; too many: a weaker model than the reader's).
 *
 * Oracles: the TSV file (read here, not through the code), and cases worked
 * by hand from the definitions in docs/catalog.md ("Detailed race and
 * ethnicity"), each commented with its reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "race_detail.h"

#define TSV EQ_SOURCE_DIR "/data/race-detail.tsv"

static int code_index(const char *const *codes, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(codes[i], s))
            return i;
    return -1;
}

static void test_table_matches_tsv(void **state)
{
    (void)state;
    FILE *f = fopen(TSV, "r");
    assert_non_null(f);
    char line[512];
    int n = 0, header = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, "\r\n")] = '\0';
        char *fld[5] = {0};
        char *p = line;
        for (int i = 0; i < 5; i++) {
            fld[i] = p;
            char *tab = p ? strchr(p, '\t') : NULL;
            if (tab)
                *tab = '\0';
            p = tab ? tab + 1 : NULL;
        }
        if (!header) {
            assert_string_equal(fld[0], "code");
            header = 1;
            continue;
        }
        assert_non_null(fld[4]);
        /* row n of the file is detailed code n, with its CDC code */
        assert_string_equal(race_detail_codes[n], fld[0]);
        assert_string_equal(race_detail_cdc(n), fld[1]);
        assert_string_equal(race_group_codes[race_detail_group(n)], fld[2]);
        int m = race_detail_minimum(n);
        assert_string_equal(m == RD_MIN_HISPANIC ? "HISPANIC" : race_codes[m], fld[3]);
        n++;
    }
    fclose(f);
    assert_int_equal(n, RD_N);
    assert_string_equal(race_detail_codes[RD_MULTIPLE], "MULTIPLE");
    assert_string_equal(race_detail_codes[RD_UNKNOWN], "UNKNOWN");
}

/* Parses "A;B;..." into (det, min); -1 on an unknown response. */
static int responses(const char *list, uint32_t *det, uint8_t *min)
{
    *det = 0;
    *min = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ";", &save); t; t = strtok_r(NULL, ";", &save))
        if (race_detail_response(t, strlen(t), det, min) < 0)
            return -1;
    return 0;
}

static void expect_strata(const char *list, const char *detail, const char *group)
{
    uint32_t det;
    uint8_t min;
    assert_int_equal(responses(list, &det, &min), 0);
    assert_string_equal(race_detail_codes[race_detail_stratum(det, min)], detail);
    assert_string_equal(race_group_codes[race_group_stratum(det, min)], group);
}

static void test_responses_and_strata(void **state)
{
    (void)state;
    uint32_t det;
    uint8_t min;
    /* a CDC code, a code in any case, a minimum category and its CDC code */
    assert_int_equal(responses("2034-7", &det, &min), 0);
    assert_int_equal(det, 1u << code_index(race_detail_codes, RD_N, "CHINESE"));
    assert_int_equal(min, 1u << RACE_ASIAN);
    assert_int_equal(responses("filipino;2106-3", &det, &min), 0);
    assert_int_equal(min, (1u << RACE_ASIAN) | (1u << RACE_WHITE));
    assert_int_equal(responses("2135-2", &det, &min), 0);
    assert_int_equal(det, 0);
    assert_int_equal(min, 1u << RD_MIN_HISPANIC);
    assert_int_equal(responses("KLINGON", &det, &min), -1);
    assert_int_equal(responses("2034-6", &det, &min), -1); /* wrong check digit */
    assert_int_equal(responses("MULTIPLE", &det, &min), -1); /* a stratum, not an answer */

    expect_strata("CHINESE", "CHINESE", "EAST_ASIAN");
    /* the minimum category of one's own detail adds nothing: still alone */
    expect_strata("CHINESE;ASIAN", "CHINESE", "EAST_ASIAN");
    /* two details of one group: not alone in either, alone in the group */
    expect_strata("CHINESE;JAPANESE", "MULTIPLE", "EAST_ASIAN");
    /* two groups of one minimum category */
    expect_strata("CHINESE;FILIPINO", "MULTIPLE", "MULTIPLE");
    /* another minimum category reported too */
    expect_strata("CHINESE;WHITE", "MULTIPLE", "MULTIPLE");
    expect_strata("MEXICAN;2106-3", "MULTIPLE", "MULTIPLE");
    expect_strata("PUERTO_RICAN;CUBAN", "MULTIPLE", "CARIBBEAN_HISPANIC");
    /* no detailed response: unknown at both levels */
    expect_strata("ASIAN", "UNKNOWN", "UNKNOWN");
    expect_strata("", "UNKNOWN", "UNKNOWN");
    expect_strata("LEBANESE", "LEBANESE", "MIDDLE_EASTERN");
}

static void test_aic_and_consistency(void **state)
{
    (void)state;
    uint32_t det;
    uint8_t min;
    const char *what = NULL;
    /* Chinese and White, race MULTI, Hispanic: three AIC categories */
    assert_int_equal(responses("CHINESE;WHITE", &det, &min), 0);
    assert_int_equal(race_aic_mask(min, RACE_MULTI, ETH_HISPANIC),
                     (1u << AIC_ASIAN) | (1u << AIC_WHITE) | (1u << AIC_HISPANIC));
    assert_int_equal(race_detail_consistent(min, RACE_MULTI, ETH_HISPANIC, &what), 0);
    assert_int_equal(race_detail_consistent(min, RACE_ASIAN, ETH_HISPANIC, &what), -1);
    assert_string_equal(what, "race");
    /* no responses: the race column when it is a minimum category */
    assert_int_equal(race_aic_mask(0, RACE_BLACK, ETH_NOT_HISPANIC), 1u << AIC_BLACK);
    /* MULTI with no detail says no category: UNKNOWN */
    assert_int_equal(race_aic_mask(0, RACE_MULTI, ETH_NOT_HISPANIC), 1u << AIC_UNKNOWN);
    assert_int_equal(race_aic_mask(0, RACE_UNKNOWN, ETH_HISPANIC), 1u << AIC_HISPANIC);
    /* a Hispanic response needs ethnicity HISPANIC */
    assert_int_equal(responses("MEXICAN", &det, &min), 0);
    assert_int_equal(race_detail_consistent(min, RACE_WHITE, ETH_NOT_HISPANIC, &what), -1);
    assert_string_equal(what, "ethnicity");
    assert_int_equal(race_detail_consistent(min, RACE_WHITE, ETH_HISPANIC, &what), 0);
    /* derived columns */
    assert_int_equal(race_detail_race_of(min, RACE_UNKNOWN), RACE_UNKNOWN);
    assert_int_equal(race_detail_ethnicity_of(min, ETH_UNKNOWN), ETH_HISPANIC);
    assert_int_equal(responses("KOREAN;BLACK", &det, &min), 0);
    assert_int_equal(race_detail_race_of(min, RACE_UNKNOWN), RACE_MULTI);
}

/* Every member the reader accepts (responses of up to two detailed codes
 * and any minimum categories, every race and ethnicity column, empty ones
 * derived as the reader does) has an atom the model allows, and every atom
 * the model allows is some such member's. */
static void test_atoms_exact(void **state)
{
    (void)state;
    enum { NC = 64 };
    static unsigned char seen[RDA__COUNT][NC][RACE__COUNT][ETH__COUNT];
    memset(seen, 0, sizeof seen);
    long members = 0;
    for (int d1 = -1; d1 < RD_N; d1++)
        for (int d2 = d1; d2 < RD_N; d2++) {
            if (d1 < 0 && d2 >= 0)
                continue;
            for (unsigned extra = 0; extra < 128; extra++) {
                uint32_t det = 0;
                uint8_t min = (uint8_t)extra;
                if (d1 >= 0) {
                    det |= 1u << d1 | 1u << d2;
                    min |= (uint8_t)(1u << race_detail_minimum(d1) | 1u << race_detail_minimum(d2));
                }
                /* r, e: RACE__COUNT / ETH__COUNT stand for an empty column */
                for (int rc = 0; rc <= RACE__COUNT; rc++)
                    for (int ec = 0; ec <= ETH__COUNT; ec++) {
                        int r = rc < RACE__COUNT ? rc : race_detail_race_of(min, RACE_UNKNOWN);
                        int e = ec < ETH__COUNT ? ec : race_detail_ethnicity_of(min, ETH_UNKNOWN);
                        const char *what;
                        if (race_detail_consistent(min, r, e, &what) < 0)
                            continue;
                        int a = race_detail_atom(det, min);
                        unsigned c = race_aic_races(min, r);
                        assert_true(race_detail_atom_ok(a, c, r, e));
                        assert_int_equal(race_detail_atom_detail(a), race_detail_stratum(det, min));
                        assert_int_equal(race_detail_atom_group(a), race_group_stratum(det, min));
                        unsigned mask = race_aic_mask(min, r, e);
                        for (int k = 0; k < AIC__COUNT; k++)
                            assert_int_equal(race_aic_has(c, e, k), (mask >> k) & 1u);
                        seen[a][c][r][e] = 1;
                        members++;
                    }
            }
        }
    assert_true(members > 100000);
    int allowed = 0;
    for (int a = 0; a < RDA__COUNT; a++)
        for (unsigned c = 0; c < NC; c++)
            for (int r = 0; r < RACE__COUNT; r++)
                for (int e = 0; e < ETH__COUNT; e++)
                    if (race_detail_atom_ok(a, c, r, e)) {
                        allowed++;
                        if (!seen[a][c][r][e])
                            fail_msg("atom (%d, %#x, %s, %s) allowed but no member has it", a, c,
                                     race_codes[r], ethnicity_codes[e]);
                    }
    assert_true(allowed > 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_matches_tsv),
        cmocka_unit_test(test_responses_and_strata),
        cmocka_unit_test(test_aic_and_consistency),
        cmocka_unit_test(test_atoms_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
