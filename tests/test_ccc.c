/*
 * test_ccc.c - the CCC v2 classification (node/ccc.c) with the shipped code
 * list, and cmc derived from Synthea conditions ([input] cmc = ccc).
 *
 * Oracle: the published table (Feudtner et al. 2014, Additional file 1,
 * ICD-10 column), read by hand: every expected category below names the
 * table row it comes from. Negative cases are codes just outside a
 * published range or a listed code's neighbours that the table leaves out.
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
#include "catalog.h"
#include "ccc.h"
#include "synthea.h"

#define CODES EQ_SOURCE_DIR "/data/ccc_v2_icd10cm.tsv"
#define XWALK EQ_SOURCE_DIR "/data/ccc_snomed_icd10cm_synthea.tsv"

#define B(x) (1u << CCC_##x)

static struct ccc *load(void)
{
    char err[256];
    struct ccc *c = ccc_load(CODES, err, sizeof err);
    if (!c)
        fail_msg("%s", err);
    return c;
}

static uint32_t cls(const struct ccc *c, const char *code)
{
    return ccc_classify(c, code, strlen(code));
}

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(ccc_category_count(), 12);
    assert_string_equal(ccc_category_name(CCC_NEUROMUSC), "neuromusc");
    assert_string_equal(ccc_category_name(CCC_TRANSPLANT), "transplant");
    assert_string_equal(ccc_category_name(12), "?");
    assert_string_equal(ccc_category_name(-1), "?");
}

static void test_known_codes(void **state)
{
    (void)state;
    struct ccc *c = load();
    /* Neurologic: brain and spinal cord malformations Q00-Q07; mental
     * retardation F71-F73; cerebral palsy G80; epilepsy G40.311. */
    assert_int_equal(cls(c, "Q05.9"), B(NEUROMUSC));
    assert_int_equal(cls(c, "F72"), B(NEUROMUSC));
    assert_int_equal(cls(c, "G80.9"), B(NEUROMUSC));
    assert_int_equal(cls(c, "G40.311"), B(NEUROMUSC));
    /* Cardiovascular: malformations Q21.2-Q24 (tetralogy Q21.3, Q24.9);
     * cardiomyopathies I42; other I50.9. */
    assert_int_equal(cls(c, "Q21.3"), B(CVD));
    assert_int_equal(cls(c, "Q24.9"), B(CVD));
    assert_int_equal(cls(c, "I42.0"), B(CVD));
    assert_int_equal(cls(c, "I50.9"), B(CVD));
    /* I43 is in both cardiomyopathies and chronic respiratory diseases. */
    assert_int_equal(cls(c, "I43"), B(CVD) | B(RESPIRATORY));
    /* Respiratory: cystic fibrosis E84; malformations Q30-Q34. */
    assert_int_equal(cls(c, "E84.0"), B(RESPIRATORY));
    assert_int_equal(cls(c, "Q33.6"), B(RESPIRATORY));
    /* Renal: chronic renal failure N18; congenital Q60-Q64; devices Z99.2
     * (dialysis) is renal and technology dependence. */
    assert_int_equal(cls(c, "N18.6"), B(RENAL));
    assert_int_equal(cls(c, "Q61.3"), B(RENAL));
    assert_int_equal(cls(c, "Z99.2"), B(RENAL) | B(TECH_DEP));
    /* GI: inflammatory bowel K50, K51; liver K74; devices Z93.1-Z93.4. */
    assert_int_equal(cls(c, "K50.90"), B(GI));
    assert_int_equal(cls(c, "K74.60"), B(GI));
    assert_int_equal(cls(c, "Z93.3"), B(GI) | B(TECH_DEP));
    /* Hematologic or immunologic: hereditary anemias D55-D58 (sickle cell
     * D57.1); immunodeficiency D80-D89; HIV B20-B24. */
    assert_int_equal(cls(c, "D57.1"), B(HEMATO_IMMU));
    assert_int_equal(cls(c, "D82.1"), B(HEMATO_IMMU));
    assert_int_equal(cls(c, "B20"), B(HEMATO_IMMU));
    /* Metabolic: amino acid E70.0 (PKU); lipid E78.0-E78.4, E78.5-E78.9;
     * storage E76.0-E76.3. */
    assert_int_equal(cls(c, "E70.0"), B(METABOLIC));
    assert_int_equal(cls(c, "E78.5"), B(METABOLIC));
    assert_int_equal(cls(c, "E76.01"), B(METABOLIC));
    /* Other congenital or genetic: Q90.9 (Down syndrome); Q93. */
    assert_int_equal(cls(c, "Q90.9"), B(CONGENI_GENETIC));
    assert_int_equal(cls(c, "Q93.3"), B(CONGENI_GENETIC));
    /* Malignancy: C00-C96 (C91.00 ALL, C4A.9 inside the range); D3A.0. */
    assert_int_equal(cls(c, "C91.00"), B(MALIGNANCY));
    assert_int_equal(cls(c, "C4A.9"), B(MALIGNANCY));
    assert_int_equal(cls(c, "D3A.010"), B(MALIGNANCY));
    /* Neonatal: extreme immaturity P07.01, P07.21-P07.25; HIE P91.6. */
    assert_int_equal(cls(c, "P07.01"), B(NEONATAL));
    assert_int_equal(cls(c, "P07.22"), B(NEONATAL));
    assert_int_equal(cls(c, "P91.62"), B(NEONATAL));
    /* Miscellaneous devices only: T84.019A, Z99.81. */
    assert_int_equal(cls(c, "T84.019A"), B(TECH_DEP));
    assert_int_equal(cls(c, "Z99.81"), B(TECH_DEP));
    /* Transplantation: Z94.0 kidney (renal); T86.11 kidney rejection is
     * renal transplantation and a miscellaneous device complication. */
    assert_int_equal(cls(c, "Z94.0"), B(RENAL) | B(TRANSPLANT));
    assert_int_equal(cls(c, "T86.11"), B(RENAL) | B(TRANSPLANT) | B(TECH_DEP));
    assert_int_equal(cls(c, "Z94.1"), B(CVD) | B(TRANSPLANT));
    /* Spelling: case, dots and surrounding blanks do not matter. */
    assert_int_equal(cls(c, "e840"), B(RESPIRATORY));
    assert_int_equal(cls(c, " E84.0 "), B(RESPIRATORY));
    ccc_destroy(&c);
    assert_null(c);
    ccc_destroy(&c);
}

static void test_outside_the_list(void **state)
{
    (void)state;
    struct ccc *c = load();
    assert_int_equal(cls(c, "Q21.0"), 0);   /* VSD: the range starts at Q21.2 */
    assert_int_equal(cls(c, "Q25.0"), 0);   /* PDA: Q25.1-Q26 */
    assert_int_equal(cls(c, "Q27.0"), 0);   /* after Q26 */
    assert_int_equal(cls(c, "F70"), 0);     /* mild: F71-F73 */
    assert_int_equal(cls(c, "G40.909"), 0); /* epilepsy, not intractable */
    assert_int_equal(cls(c, "I50.83"), 0);  /* only I50.9 is listed */
    assert_int_equal(cls(c, "Q90.0"), 0);   /* only Q90.9 */
    assert_int_equal(cls(c, "D00.0"), 0);   /* D01-D09 */
    assert_int_equal(cls(c, "C97"), 0);     /* after C96 */
    assert_int_equal(cls(c, "P07.30"), 0);  /* preterm, not extreme */
    assert_int_equal(cls(c, "E11.9"), 0);   /* type 2 diabetes */
    assert_int_equal(cls(c, "Q21"), 0);     /* wider than Q21.2-Q24 */
    /* Not codes. */
    assert_int_equal(cls(c, ""), 0);
    assert_int_equal(cls(c, "E8"), 0);
    assert_int_equal(cls(c, "E 84.0"), 0);
    assert_int_equal(cls(c, "84757009"), 0); /* SNOMED without a crosswalk */
    assert_int_equal(cls(c, "\xff\x01zz"), 0);
    assert_int_equal(ccc_classify(NULL, "E84", 3), 0);
    assert_int_equal(ccc_classify(c, NULL, 3), 0);
    ccc_destroy(&c);
}

static void test_crosswalk(void **state)
{
    (void)state;
    struct ccc *c = load();
    char err[256];
    assert_int_equal(ccc_add_crosswalk(c, XWALK, err, sizeof err), 0);
    assert_int_equal(cls(c, "128188000"), B(NEUROMUSC));        /* -> G80.9 */
    assert_int_equal(cls(c, "129721000119106"), B(RENAL) | B(TECH_DEP)); /* N17.9 + Z99.2 */
    assert_int_equal(cls(c, "10091002"), 0);                     /* -> I50.83 */
    assert_int_equal(cls(c, "84757009"), 0);                     /* not listed */
    assert_int_equal(cls(c, "E84.0"), B(RESPIRATORY));           /* ICD still works */
    ccc_destroy(&c);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_load_errors(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_ccc_" EQ_MKTEMP_SUFFIX, path[256], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/c.tsv", dir);
    static const struct { const char *text, *want; } cases[] = {
        {"category\tsubcategory\tcode\nlungs\tx\tE84\n", ":2: unknown category"},
        {"category\tsubcategory\tcode\ncvd\tx\t12.3\n", ":2: \"12.3\" is not an ICD-10-CM"},
        {"category\tsubcategory\tcode\ncvd\tx\tQ24-Q21.2\n", ":2: range"},
        {"cvd\tx\tQ24\n", ":1: expected the header"},
        {"category\tsubcategory\tcode\ncvd\tQ24\n", ":2: expected 3"},
        {"# nothing\ncategory\tsubcategory\tcode\n", "no codes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(path, cases[i].text);
        err[0] = 0;
        assert_null(ccc_load(path, err, sizeof err));
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
    }
    assert_null(ccc_load(dir, err, sizeof err) ? (void *)1 : NULL);
    snprintf(path, sizeof path, "%s/none.tsv", dir);
    assert_null(ccc_load(path, err, sizeof err));
    assert_non_null(strstr(err, "No such file"));
    snprintf(path, sizeof path, "%s/c.tsv", dir);
    unlink(path);
    rmdir(dir);
}

/* ---- cmc derived from Synthea conditions ---------------------------------- */

struct bag {
    struct member_record r[8];
    int n;
};

static void sink(void *ctx, const struct member_record *r, int sign)
{
    struct bag *b = ctx;
    if (sign > 0 && b->n < 8)
        b->r[b->n++] = *r;
}

static void test_synthea_cmc(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_ccc_syn_" EQ_MKTEMP_SUFFIX, path[256], err[512];
    assert_non_null(mkdtemp(dir));
    static const char *const files[][2] = {
        {"payers.csv", "Id,NAME\np1,Medicaid\n"},
        {"patients.csv", "Id,BIRTHDATE,DEATHDATE,RACE,ETHNICITY,GENDER,COUNTY\n"
                         "A,2015-03-01,,black,nonhispanic,F,Alameda County\n"   /* 8: CP + dialysis */
                         "B,2010-03-01,,white,hispanic,M,Alameda County\n"      /* 13: no CCC */
                         "C,1990-03-01,,white,hispanic,M,Alameda County\n"      /* 33: adult */
                         "D,2005-01-01,,asian,nonhispanic,F,Alameda County\n"}, /* 18: resolved */
        {"payer_transitions.csv", "PATIENT,START_YEAR,END_YEAR,PAYER\nA,2020,2023,p1\n"},
        {"encounters.csv", "Id,START,STOP,PATIENT,ENCOUNTERCLASS,TOTAL_CLAIM_COST\n"},
        {"conditions.csv", "START,STOP,PATIENT,CODE\n"
                           "2016-01-01,,A,128188000\n"           /* CP -> neuromusc */
                           "2023-02-01,,A,129721000119106\n"     /* renal + tech_dep */
                           "2020-01-01,,A,G80.1\n"               /* ICD-10-CM: neuromusc again */
                           "2020-01-01,,B,444814009\n"           /* viral sinusitis */
                           "2020-01-01,,C,128188000\n"           /* adult: not classified */
                           "2019-01-01,2022-06-01,D,E84.0\n"},   /* ended before 2023 */
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i][0]);
        write_file(path, files[i][1]);
    }
    struct ccc *c = load();
    assert_int_equal(ccc_add_crosswalk(c, XWALK, err, sizeof err), 0);
    struct synthea_options o = {.year = 2023, .ccc = c};
    struct bag b = {0};
    struct profile p;
    memset(&p, 0, sizeof p);
    if (synthea_read(dir, &o, sink, &b, &p, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(b.n, 4);
    assert_int_equal(b.r[0].cmc, YNU_Y);
    assert_int_equal(b.r[1].cmc, YNU_N);
    assert_int_equal(b.r[2].cmc, YNU_U);
    assert_int_equal(b.r[3].cmc, YNU_N);
    /* A has three categories but is one member with medical complexity. */
    assert_true(p.ccc_on);
    assert_int_equal(p.ccc_classified, 3);
    assert_int_equal(p.ccc_any, 1);
    assert_int_equal(p.ccc_category[CCC_NEUROMUSC], 1);
    assert_int_equal(p.ccc_category[CCC_RENAL], 1);
    assert_int_equal(p.ccc_category[CCC_TECH_DEP], 1);
    assert_int_equal(p.ccc_category[CCC_RESPIRATORY], 0);
    profile_free(&p);

    /* Without a code list cmc stays unknown for everyone. */
    o.ccc = NULL;
    memset(&b, 0, sizeof b);
    memset(&p, 0, sizeof p);
    assert_int_equal(synthea_read(dir, &o, sink, &b, &p, err, sizeof err), 0);
    for (int i = 0; i < b.n; i++)
        assert_int_equal(b.r[i].cmc, YNU_U);
    assert_false(p.ccc_on);
    profile_free(&p);
    ccc_destroy(&c);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i][0]);
        unlink(path);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_known_codes),
        cmocka_unit_test(test_outside_the_list),
        cmocka_unit_test(test_crosswalk),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_synthea_cmc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
