/*
 * test_synthea.c - the Synthea CSV adapter (node/synthea.c) on the real
 * sample export (older layout, with observations) and on small hand-made
 * folders (newer layout without observations.csv, plain-year layout, and
 * broken inputs).
 *
 * Expected numbers for the sample were derived outside the adapter, with
 * awk over the CSV files (commands in the comments); numbers for the
 * hand-made folders were worked out by hand (day counts in the comments).
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
#include <unistd.h>

#include "catalog.h"
#include "synthea.h"

#define SAMPLE EQ_SHARED_DIR "/data/synthea-ca-50"
#define MAXREC 256

struct bag {
    struct member_record r[MAXREC];
    int n;
    int minus;
};

static void sink(void *ctx, const struct member_record *r, int sign)
{
    struct bag *b = ctx;
    if (sign < 0) {
        b->minus++;
        return;
    }
    if (b->n < MAXREC)
        b->r[b->n] = *r;
    b->n++;
}

static int run(const char *dir, int year, int strict, const struct code_rule *rules,
               int nrules, struct bag *b, struct profile *p, char *err, size_t errlen)
{
    struct synthea_options o = {.year = year, .county_rules = rules,
                                .n_county_rules = nrules, .strict = strict};
    memset(b, 0, sizeof *b);
    memset(p, 0, sizeof *p);
    return synthea_read(dir, &o, sink, b, p, err, errlen);
}

/* ---- the real sample ---------------------------------------------------- */

static void test_sample_2021(void **state)
{
    (void)state;
    static struct bag b;
    struct profile p;
    char err[512];
    assert_int_equal(run(SAMPLE, 2021, 1, NULL, 0, &b, &p, err, sizeof err), 0);

    /* awk -F, 'NR>1' patients.csv | wc -l -> 59 patient rows.
     * awk -F, 'NR>1 && $2<="2021-12-31" && ($3=="" || $3>="2021-01-01"){n++;
     *   r[$13]++} END{print n; for(k in r) print k, r[k]}' patients.csv
     * -> 51: white 38, asian 5, black 5, hawaiian 2, other 1 */
    assert_int_equal(p.rows_read, 59);
    assert_int_equal(b.n, 51);
    assert_int_equal(p.rows_accepted, 51);
    assert_int_equal(b.minus, 0);
    assert_int_equal(profile_rejected_total(&p), 0);
    int race[RACE__COUNT] = {0}, hisp = 0, la = 0, eng = 0, und = 0;
    uint64_t ed = 0, ip = 0, well = 0, htn = 0, diab = 0;
    double cost = 0, months = 0;
    for (int i = 0; i < b.n; i++) {
        const struct member_record *r = &b.r[i];
        race[r->race]++;
        hisp += r->ethnicity == ETH_HISPANIC;
        la += r->county == 6037;
        ed += r->ed_visits;
        ip += r->ip_admits;
        well += r->wellness_visit;
        htn += r->hypertension;
        diab += r->diabetes;
        cost += r->total_cost;
        months += r->member_months;
        eng += r->language == record_lang_pack("eng", 3);
        und += r->language == LANG_UNKNOWN;
        assert_true(r->member_months > 0 && r->member_months <= 12.0);
        assert_true(r->age >= 0 && r->age <= 120);
        assert_int_equal(r->disability, YNU_U);
        assert_int_equal(r->cmc, YNU_U);
        assert_int_equal(r->adi_decile, 0);
        assert_int_equal(r->has_experience, 0);
        assert_true(r->ip_readmits_30d <= r->ip_admits);
    }
    assert_int_equal(race[RACE_WHITE], 38);
    assert_int_equal(race[RACE_ASIAN], 5);
    assert_int_equal(race[RACE_BLACK], 5);
    assert_int_equal(race[RACE_NHPI], 2);
    assert_int_equal(race[RACE_OTHER], 1);
    assert_int_equal(race[RACE_UNKNOWN], 0);
    /* ... {print $14} | sort | uniq -c -> 18 hispanic, 33 nonhispanic;
     * ... {print $20} | sort | uniq -c -> 13 "Los Angeles County" */
    assert_int_equal(hisp, 18);
    assert_int_equal(la, 13);
    assert_int_equal(p.map_misses[COL_COUNTY], 0);
    assert_int_equal(p.map_misses[COL_RACE], 0);
    /* Encounters with START in 2021 (all 199 belong to members):
     * awk -F, 'FNR>1 && substr($2,1,4)=="2021"{c[$8]++}' encounters.csv
     * -> emergency 6, inpatient 6; wellness patients: 44. */
    assert_int_equal(ed, 6);
    assert_int_equal(ip, 6);
    assert_int_equal(well, 44);
    /* Cost in integer cents: awk -F, 'FNR>1 && substr($2,1,4)=="2021"{
     * split($12,a,"."); f=a[2]; while(length(f)<2) f=f"0";
     * c+=a[1]*100+f} END{print c}' encounters.csv -> 37262276 */
    assert_int_equal((long long)llround(cost * 100.0), 37262276LL);
    /* conditions 59621000/38341003 active in 2021 for members: 12
     * patients; 44054006: none (the one diabetic died in 2000). */
    assert_int_equal(htn, 12);
    assert_int_equal(diab, 0);
    /* Latest 54899-0 answer in 2021 per member: English 22,
     * "Language other than English" 8 (-> und, a map miss); 21 members
     * without a PRAPARE language answer in 2021. */
    assert_int_equal(eng, 22);
    assert_int_equal(und, 29);
    assert_int_equal(p.map_misses[COL_LANGUAGE], 8);
    /* With observations, only no_show and experience are unavailable. */
    assert_int_equal(p.unavailable_measures, (1u << M_NO_SHOW) | (1u << M_EXPERIENCE));
    assert_string_equal(p.period_seen, "2021");
    profile_free(&p);
}

static void test_sample_2000_diabetes(void **state)
{
    (void)state;
    static struct bag b;
    struct profile p;
    char err[512];
    assert_int_equal(run(SAMPLE, 2000, 0, NULL, 0, &b, &p, err, sizeof err), 0);
    /* alive in 2000: same awk as above with 2000 -> 39; one diabetic
     * (05ac6b28..., died 2000-09-19), whose last HbA1c of 2000 is 6.4 %
     * (grep 05ac6b28 observations.csv | grep ,4548-4, | grep ^2000). */
    assert_int_equal(b.n, 39);
    int diab = 0, poor = 0;
    for (int i = 0; i < b.n; i++) {
        diab += b.r[i].diabetes;
        poor += b.r[i].diabetes && b.r[i].hba1c_poor_control;
    }
    assert_int_equal(diab, 1);
    assert_int_equal(poor, 0);
    profile_free(&p);
}

static void test_sample_2020_readmission(void **state)
{
    (void)state;
    static struct bag b;
    struct profile p;
    char err[512];
    assert_int_equal(run(SAMPLE, 2020, 0, NULL, 0, &b, &p, err, sizeof err), 0);
    /* awk -F, 'FNR>1 && substr($2,1,4)=="2020" && $8=="inpatient"' -> two
     * stays of one patient, 11-30..12-06T05:36:36Z and 12-06T05:36:36Z..:
     * the first is followed within 30 days. */
    uint64_t ip = 0, re = 0;
    for (int i = 0; i < b.n; i++) {
        ip += b.r[i].ip_admits;
        re += b.r[i].ip_readmits_30d;
    }
    assert_int_equal(ip, 2);
    assert_int_equal(re, 1);
    profile_free(&p);
}

/* ---- hand-made folders ---------------------------------------------------- */

static void put(const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void drop(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

static const char *const files[] = {"payers.csv", "patients.csv", "payer_transitions.csv",
                                    "encounters.csv", "conditions.csv", "observations.csv"};

static const char PAYERS[] =
    "Id,NAME,OWNERSHIP\n"
    "p-mcd,Medicaid,GOVERNMENT\n"
    "p-mcr,Medicare,GOVERNMENT\n"
    "p-none,NO_INSURANCE,NO_INSURANCE\n"
    "p-aet,Aetna,PRIVATE\n"
    "p-bcb,Blue Cross Blue Shield,PRIVATE\n"
    "p-dual,Dual Eligible,GOVERNMENT\n";

/* Newer layout: FIPS and STATE columns, CRLF line ends. */
static const char PATIENTS[] =
    "Id,BIRTHDATE,DEATHDATE,FIRST,LAST,RACE,ETHNICITY,GENDER,STATE,COUNTY,FIPS,INCOME\r\n"
    "A,1980-03-01,,Ann,X,black,nonhispanic,F,Massachusetts,Middlesex County,25017,50000\r\n"
    "B,1950-07-15,,Bob,Y,white,hispanic,M,California,Los Angeles County,,20000\r\n"
    "C,2023-07-02,,Cy,Z,martian,nonhispanic,X,California,Nowhere County,,0\r\n"
    "D,1940-01-01,2023-03-31,Di,W,asian,hispanic,F,California,Yuba County,,0\r\n"
    "E,1990-01-01,2022-12-31,Ed,V,white,nonhispanic,M,California,Alameda County,,0\r\n"
    "F,2024-01-01,,Fi,U,white,nonhispanic,F,California,Alameda County,,0\r\n"
    "G,2000-05-05,,Gi,T,native,,M,Texas,Harris County,,0\r\n"
    "H,1970-01-01,,Hu,S,\"white\",nonhispanic,M,Texas,Dallas County,,0\r\n";

static const char TRANSITIONS[] =
    "PATIENT,MEMBERID,START_DATE,END_DATE,PAYER,SECONDARY_PAYER,PLAN_OWNERSHIP,OWNER_NAME\n"
    "A,m1,2022-01-01T00:00:00Z,2023-06-01T00:00:00Z,p-mcd,,Self,Ann X\n"
    "A,m2,2023-06-01T00:00:00Z,2023-09-01T00:00:00Z,p-aet,,Self,Ann X\n"
    "A,m3,2023-09-01T00:00:00Z,2024-01-01T00:00:00Z,p-bcb,,Self,Ann X\n"
    "B,m4,2023-01-01T00:00:00Z,,p-mcr,,Self,Bob Y\n"
    "D,m5,2020-01-01T00:00:00Z,2030-01-01T00:00:00Z,p-dual,,Self,Di W\n"
    "E,m6,2020-01-01T00:00:00Z,2030-01-01T00:00:00Z,p-mcd,,Self,Ed V\n"
    "G,m7,2023-01-01T00:00:00Z,2023-07-02T00:00:00Z,p-none,,Self,Gi T\n";

static const char ENCOUNTERS[] =
    "Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,DESCRIPTION,"
    "BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,REASONDESCRIPTION\n"
    "e1,2023-02-01T10:00:00Z,2023-02-05T10:00:00Z,A,o,p,x,inpatient,1,\"Stay, one\",1,1000.10,0,,\n"
    "e2,2023-03-07T10:00:00Z,2023-03-09T10:00:00Z,A,o,p,x,inpatient,1,d,1,2000.20,0,,\n"
    "e3,2023-04-08T10:00:01Z,2023-04-10T00:00:00Z,A,o,p,x,inpatient,1,d,1,300.03,0,,\n"
    "e4,2023-12-20,2023-12-22,A,o,p,x,inpatient,1,d,1,0.50,0,,\n"
    "e5,2022-12-28T00:00:00Z,2023-01-02T10:00:00Z,A,o,p,x,inpatient,1,d,1,5000,0,,\n"
    "e6,2023-05-01T00:00:00Z,2023-05-01T01:00:00Z,A,o,p,x,emergency,1,d,1,10.01,0,,\n"
    "e7,2023-05-02T00:00:00Z,2023-05-02T01:00:00Z,A,o,p,x,emergency,1,d,1,10.01,0,,\n"
    "e8,2023-06-01T00:00:00Z,2023-06-01T01:00:00Z,A,o,p,x,wellness,1,d,1,20.00,0,,\n"
    "e9,2023-06-02T00:00:00Z,2023-06-02T01:00:00Z,A,o,p,x,ambulatory,1,d,1,1.00,0,,\n"
    "e10,2023-06-03T00:00:00Z,2023-06-03T01:00:00Z,A,o,p,x,outpatient,1,d,1,2.00,0,,\n"
    "e11,2023-06-04T00:00:00Z,2023-06-04T01:00:00Z,A,o,p,x,virtual,1,d,1,3.00,0,,\n"
    "e12,2023-06-05T00:00:00Z,2023-06-05T01:00:00Z,A,o,p,x,VIRTUAL,1,d,1,3.00,0,,\n"
    "e13,2023-06-06T00:00:00Z,2023-06-06T01:00:00Z,A,o,p,x,urgentcare,1,d,1,4.00,0,,\n"
    "e14,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,A,o,p,x,emergency,1,d,1,99.00,0,,\n"
    "e15,2023-06-06T00:00:00Z,2023-06-06T01:00:00Z,nobody,o,p,x,emergency,1,d,1,4.00,0,,\n";

static const char CONDITIONS[] =
    "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION\n"
    "2010-01-01,,B,e,SNOMED-CT,59621000,Essential hypertension (disorder)\n"
    "2015-01-01,2022-12-31,B,e,SNOMED-CT,44054006,Diabetes mellitus type 2 (disorder)\n"
    "2020-01-01,,B,e,SNOMED-CT,15777000,Prediabetes (finding)\n"
    "2023-03-01,,D,e,SNOMED-CT,44054006,Diabetes mellitus type 2 (disorder)\n"
    "2023-01-01,,G,e,SNOMED-CT,38341003,Hypertensive disorder\n";

static char *make_folder(void)
{
    char *dir = strdup("/tmp/test_synthea_......");
    assert_non_null(dir);
    memset(dir + strlen(dir) - 6, 'X', 6); /* the mkdtemp template */
    assert_non_null(mkdtemp(dir));
    put(dir, "payers.csv", PAYERS);
    put(dir, "patients.csv", PATIENTS);
    put(dir, "payer_transitions.csv", TRANSITIONS);
    put(dir, "encounters.csv", ENCOUNTERS);
    put(dir, "conditions.csv", CONDITIONS);
    return dir;
}

static void remove_folder(char *dir)
{
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        drop(dir, files[i]);
    rmdir(dir);
    free(dir);
}

static const struct member_record *find_age(const struct bag *b, int age)
{
    for (int i = 0; i < b->n; i++)
        if (b->r[i].age == age)
            return &b->r[i];
    return NULL;
}

static void test_new_layout(void **state)
{
    (void)state;
    char *dir = make_folder();
    static struct bag b;
    struct profile p;
    char err[512];
    struct code_rule rule = {.from = "harris county", .to = "48201"};
    assert_int_equal(run(dir, 2023, 0, &rule, 1, &b, &p, err, sizeof err), 0);

    /* Members: A B C D G H (E died 2022-12-31, F born 2024-01-01). */
    assert_int_equal(p.rows_read, 8);
    assert_int_equal(b.n, 6);
    const double y = 365.0;

    /* A, 43: Medicaid Jan 1-Jun 1 (151 days) is the single largest plan, but
     * Aetna Jun 1-Sep 1 (92) + BCBS Sep 1-Jan 1 (122) = 214 commercial
     * days: payer COMMERCIAL, 12 months. County from the FIPS column. */
    const struct member_record *a = find_age(&b, 43);
    assert_non_null(a);
    assert_int_equal(a->payer, PAYER_COMMERCIAL);
    assert_true(fabs(a->member_months - 12.0) < 1e-9);
    assert_int_equal(a->county, 25017);
    assert_int_equal(a->race, RACE_BLACK);
    assert_int_equal(a->ethnicity, ETH_NOT_HISPANIC);
    assert_int_equal(a->sex, SEX_F);
    /* Stays starting in 2023: Feb 1, Mar 7, Apr 8, Dec 20 (the one from
     * 2022-12-28 is out). Feb 5 10:00 -> Mar 7 10:00 is exactly 30 days:
     * readmission; Mar 9 10:00 -> Apr 8 10:00:01 is 30 days and 1 s: not. */
    assert_int_equal(a->ip_admits, 4);
    assert_int_equal(a->ip_readmits_30d, 1);
    assert_int_equal(a->ed_visits, 2);
    assert_int_equal(a->wellness_visit, 1);
    assert_int_equal(a->primary_care_visits, 2);
    assert_int_equal(a->telehealth_visits, 2);
    /* 1000.10 + 2000.20 + 300.03 + 0.50 + 10.01 + 10.01 + 20.00 + 1 + 2 +
     * 3 + 3 + 4 (urgentcare counts for cost) = 3353.85 */
    assert_int_equal((long long)llround(a->total_cost * 100.0), 335385LL);
    assert_int_equal(a->hrsn_screened, 0);
    assert_int_equal(a->language, LANG_UNKNOWN);

    /* B, 73: Medicare from Jan 1, open end; hypertension; the diabetes
     * ended 2022-12-31 and prediabetes does not count. */
    const struct member_record *bb = find_age(&b, 73);
    assert_non_null(bb);
    assert_int_equal(bb->payer, PAYER_MEDICARE);
    assert_true(fabs(bb->member_months - 12.0) < 1e-9);
    assert_int_equal(bb->county, 6037);
    assert_int_equal(bb->hypertension, 1);
    assert_int_equal(bb->diabetes, 0);
    assert_int_equal(bb->bp_controlled, 0);
    assert_true(bb->total_cost == 0.0);

    /* C, 0: born Jul 2, no coverage rows: UNINSURED for the 183 days alive;
     * unknown race, sex and county (three misses). */
    const struct member_record *c = find_age(&b, 0);
    assert_non_null(c);
    assert_int_equal(c->payer, PAYER_UNINSURED);
    assert_true(fabs(c->member_months - 183.0 * 12.0 / y) < 1e-9);
    assert_int_equal(c->race, RACE_UNKNOWN);
    assert_int_equal(c->sex, SEX_U);
    assert_int_equal(c->county, COUNTY_UNKNOWN);

    /* D, 83: died Mar 31 (day counted): Jan 1-Apr 1 = 90 days of Dual
     * coverage; Yuba County = 06115; diabetes from Mar 1. */
    const struct member_record *d = find_age(&b, 83);
    assert_non_null(d);
    assert_int_equal(d->payer, PAYER_DUAL);
    assert_true(fabs(d->member_months - 90.0 * 12.0 / y) < 1e-9);
    assert_int_equal(d->county, 6115);
    assert_int_equal(d->diabetes, 1);
    assert_int_equal(d->race, RACE_ASIAN);
    assert_int_equal(d->ethnicity, ETH_HISPANIC);

    /* G, 23: NO_INSURANCE Jan 1-Jul 2 = 182 days; Harris County via the
     * configured rule; empty ethnicity is unknown without a miss. */
    const struct member_record *g = find_age(&b, 23);
    assert_non_null(g);
    assert_int_equal(g->payer, PAYER_UNINSURED);
    assert_true(fabs(g->member_months - 182.0 * 12.0 / y) < 1e-9);
    assert_int_equal(g->county, 48201);
    assert_int_equal(g->race, RACE_AIAN);
    assert_int_equal(g->ethnicity, ETH_UNKNOWN);
    assert_int_equal(g->hypertension, 1);

    /* H, 53: Texas county without a rule: unknown (the built-in table is
     * California's); quoted "white" is white. */
    const struct member_record *h = find_age(&b, 53);
    assert_non_null(h);
    assert_int_equal(h->county, COUNTY_UNKNOWN);
    assert_int_equal(h->race, RACE_WHITE);
    assert_int_equal(h->payer, PAYER_UNINSURED);
    assert_true(fabs(h->member_months - 12.0) < 1e-9);

    assert_int_equal(p.map_misses[COL_RACE], 1);
    assert_int_equal(p.map_misses[COL_SEX], 1);
    assert_int_equal(p.map_misses[COL_ETHNICITY], 0);
    assert_int_equal(p.map_misses[COL_COUNTY], 2);
    assert_int_equal(p.n_map_rules, 1);
    assert_int_equal(p.map_rules[0].column, COL_COUNTY);
    assert_int_equal(p.map_rules[0].hits, 1);

    /* The encounter of an unknown patient (line 16) is rejected. */
    assert_int_equal(profile_rejected_total(&p), 1);
    assert_int_equal(p.rejected[BAD_INCONSISTENT], 1);
    assert_int_equal(p.examples[BAD_INCONSISTENT][0].line, 16);
    assert_int_equal(p.examples[BAD_INCONSISTENT][0].column, 4);
    assert_string_equal(p.examples[BAD_INCONSISTENT][0].field, "PATIENT");
    assert_non_null(strstr(p.examples[BAD_INCONSISTENT][0].message, "encounters.csv"));
    assert_null(strstr(p.examples[BAD_INCONSISTENT][0].message, "nobody"));

    /* No observations.csv: HbA1c, BP and every HRSN measure unavailable,
     * plus no_show and experience, with a reason. */
    uint32_t want = (1u << M_NO_SHOW) | (1u << M_EXPERIENCE) |
                    (1u << M_DIABETES_POOR_CONTROL) | (1u << M_BP_CONTROL) |
                    (1u << M_HRSN_SCREENING) | (1u << M_HRSN_FOOD) |
                    (1u << M_HRSN_HOUSING) | (1u << M_HRSN_TRANSPORT) |
                    (1u << M_HRSN_UTILITIES) | (1u << M_HRSN_SAFETY) | (1u << M_HRSN_ANY);
    assert_int_equal(p.unavailable_measures, want);
    assert_non_null(strstr(p.unavailable_why, "observations.csv"));
    profile_free(&p);
    remove_folder(dir);
}

static void test_plain_years_and_observations(void **state)
{
    (void)state;
    char *dir = make_folder();
    static struct bag b;
    struct profile p;
    char err[512];
    /* Old layout with plain years: 2022-2023 covers both whole years. */
    put(dir, "payer_transitions.csv",
        "PATIENT,START_YEAR,END_YEAR,PAYER,OWNERSHIP\n"
        "A,2022,2023,p-mcd,Self\n"
        "B,2023,2023,p-aet,Self\n"
        "B,2023,2023,p-bcb,Self\n");
    put(dir, "observations.csv",
        "DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE\n"
        "2023-02-01T00:00:00Z,B,e,vital-signs,8480-6,Systolic,150,mm[Hg],numeric\n"
        "2023-03-01T00:00:00Z,B,e,vital-signs,8480-6,Systolic,130,mm[Hg],numeric\n"
        "2023-03-01T00:00:00Z,B,e,vital-signs,8462-4,Diastolic,85,mm[Hg],numeric\n"
        "2023-03-01T00:00:00Z,D,e,laboratory,4548-4,HbA1c,9.5,%,numeric\n"
        "2023-02-01T00:00:00Z,A,e,survey,54899-0,Language,Spanish,,text\n"
        "2023-02-01T00:00:00Z,A,e,survey,93031-3,Unable to get,Food,,text\n"
        "2023-02-01T00:00:00Z,A,e,survey,93030-5,Transport,\"Yes, it has kept me\",,text\n"
        "2023-02-01T00:00:00Z,A,e,survey,93026-3,Safe,Unsure,,text\n"
        "2022-02-01T00:00:00Z,A,e,survey,93033-9,Worried housing,Yes,,text\n"
        "2023-02-01T00:00:00Z,G,e,survey,93033-9,Worried housing,No,,text\n");
    assert_int_equal(run(dir, 2023, 0, NULL, 0, &b, &p, err, sizeof err), 0);
    /* only the encounter of "nobody" is rejected */
    assert_int_equal(profile_rejected_total(&p), 1);
    const struct member_record *a = find_age(&b, 43), *bb = find_age(&b, 73);
    const struct member_record *d = find_age(&b, 83), *g = find_age(&b, 23);
    assert_non_null(a);
    assert_non_null(bb);
    assert_non_null(d);
    assert_non_null(g);
    assert_int_equal(a->payer, PAYER_MEDICAID);
    assert_true(fabs(a->member_months - 12.0) < 1e-9);
    /* two overlapping whole-year commercial rows: capped at 12 months */
    assert_int_equal(bb->payer, PAYER_COMMERCIAL);
    assert_true(fabs(bb->member_months - 12.0) < 1e-9);
    /* latest BP 130/85: controlled; HbA1c 9.5 > 9: poor control */
    assert_int_equal(bb->bp_controlled, 1);
    assert_int_equal(d->hba1c_poor_control, 1);
    /* A: Spanish, food and transport positive, "Unsure" is not unsafe, the
     * 2022 housing answer is out of the year. G screened, all negative. */
    assert_int_equal(a->language, record_lang_pack("spa", 3));
    assert_int_equal(a->hrsn_screened, 1);
    assert_int_equal(a->hrsn_food, 1);
    assert_int_equal(a->hrsn_transport, 1);
    assert_int_equal(a->hrsn_safety, 0);
    assert_int_equal(a->hrsn_housing, 0);
    assert_int_equal(a->hrsn_utilities, 0);
    assert_int_equal(g->hrsn_screened, 1);
    assert_int_equal(g->hrsn_housing, 0);
    assert_int_equal(bb->hrsn_screened, 0);
    assert_int_equal(p.unavailable_measures, (1u << M_NO_SHOW) | (1u << M_EXPERIENCE));
    profile_free(&p);
    remove_folder(dir);
}

static void test_missing_file_and_columns(void **state)
{
    (void)state;
    char *dir = make_folder();
    static struct bag b;
    struct profile p;
    char err[512];

    drop(dir, "conditions.csv");
    assert_int_equal(run(dir, 2023, 0, NULL, 0, &b, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "conditions.csv"));
    assert_non_null(strstr(err, "cannot open"));
    assert_int_equal(b.n, 0);
    profile_free(&p);
    put(dir, "conditions.csv", CONDITIONS);

    put(dir, "patients.csv", "Id,BIRTHDATE,DEATHDATE,RACE,ETHNICITY,COUNTY\nA,1980-01-01,,white,hispanic,X\n");
    assert_int_equal(run(dir, 2023, 0, NULL, 0, &b, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "patients.csv:1: missing required column GENDER"));
    assert_int_equal(b.n, 0);
    profile_free(&p);
    put(dir, "patients.csv", PATIENTS);

    put(dir, "payer_transitions.csv", "PATIENT,START,END,PAYER\n");
    assert_int_equal(run(dir, 2023, 0, NULL, 0, &b, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "START_DATE (or START_YEAR)"));
    profile_free(&p);
    put(dir, "payer_transitions.csv", TRANSITIONS);

    put(dir, "payers.csv", "");
    assert_int_equal(run(dir, 2023, 0, NULL, 0, &b, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "payers.csv: empty file"));
    profile_free(&p);
    put(dir, "payers.csv", PAYERS);

    /* bad options */
    struct code_rule bad = {.from = "Harris", .to = "482"};
    assert_int_equal(run(dir, 2023, 0, &bad, 1, &b, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "\"482\""));
    profile_free(&p);
    assert_int_equal(run(dir, 1800, 0, NULL, 0, &b, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "1800"));
    profile_free(&p);
    remove_folder(dir);
}

static void test_bad_rows(void **state)
{
    (void)state;
    char *dir = make_folder();
    static struct bag b;
    struct profile p;
    char err[512];
    char enc[sizeof ENCOUNTERS + 512];
    /* line 17: Feb 30; line 18: ragged; line 19: bad quote; line 20: fine */
    snprintf(enc, sizeof enc, "%s%s", ENCOUNTERS,
             "x1,2023-02-30T00:00:00Z,2023-03-01T00:00:00Z,B,o,p,x,emergency,1,d,1,1,0,,\n"
             "x2,2023-03-01T00:00:00Z,2023-03-01T00:00:00Z,B,o,p,x,emergency\n"
             "x3,2023-03-01T00:00:00Z,2023-03-01T00:00:00Z,B,o,p,x,emer\"gency,1,d,1,1,0,,\n"
             "x4,2023-03-02T00:00:00Z,2023-03-02T00:00:00Z,B,o,p,x,emergency,1,d,1,7.25,0,,\n");
    put(dir, "encounters.csv", enc);
    put(dir, "patients.csv",
        "Id,BIRTHDATE,DEATHDATE,RACE,ETHNICITY,GENDER,COUNTY\n"
        "A,1980-03-01,,black,nonhispanic,F,Los Angeles\n"
        "B,1950-07-15,,white,hispanic,M,Los Angeles County\n"
        "Q,1961-02-29,,white,hispanic,M,Los Angeles County\n");

    /* Default: the bad rows are counted and skipped, the rest is read. */
    assert_int_equal(run(dir, 2023, 0, NULL, 0, &b, &p, err, sizeof err), 0);
    assert_int_equal(b.n, 2);
    const struct member_record *bb = find_age(&b, 73);
    assert_non_null(bb);
    assert_int_equal(bb->ed_visits, 1);
    assert_int_equal((long long)llround(bb->total_cost * 100.0), 725LL);
    /* rejects: Q's birth date (1961 is no leap year), Feb 30, ragged row,
     * quote; unknown patients: "nobody" (encounters line 16), and D, E, G,
     * absent from this patients.csv, in payer_transitions (3 rows) and
     * conditions (2 rows) */
    assert_int_equal(p.rejected[BAD_TYPE], 2);
    assert_int_equal(p.rejected[BAD_FIELD_COUNT], 1);
    assert_int_equal(p.rejected[BAD_QUOTING], 1);
    assert_int_equal(p.rejected[BAD_INCONSISTENT], 6);
    const struct profile_example *e = &p.examples[BAD_TYPE][0];
    assert_int_equal(e->line, 4);
    assert_int_equal(e->column, 2);
    assert_string_equal(e->field, "BIRTHDATE");
    assert_non_null(strstr(e->message, "patients.csv"));
    assert_null(strstr(e->message, "1961")); /* a birth date is never quoted */
    e = &p.examples[BAD_TYPE][1];
    assert_int_equal(e->line, 17);
    assert_int_equal(e->column, 2);
    assert_string_equal(e->field, "START");
    assert_non_null(strstr(e->message, "encounters.csv"));
    assert_int_equal(p.examples[BAD_FIELD_COUNT][0].line, 18);
    assert_int_equal(p.examples[BAD_QUOTING][0].line, 19);
    profile_free(&p);

    /* Strict: the first bad row aborts with file:line:column. */
    assert_int_equal(run(dir, 2023, 1, NULL, 0, &b, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "/patients.csv:4:2: BIRTHDATE is not a date"));
    assert_int_equal(b.n, 0);
    profile_free(&p);
    put(dir, "patients.csv", PATIENTS);
    assert_int_equal(run(dir, 2023, 1, NULL, 0, &b, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "/encounters.csv:16:4: "));
    profile_free(&p);
    remove_folder(dir);
}

/* Every [map.*] of a Synthea-shaped column works: language (the PRAPARE
 * answer "Language other than English" names no language: a site that
 * knows its members' other language maps it), race (rules before the
 * built-in table), and the hits are counted per member. The oracle is the
 * same sample read without rules. */
static void test_code_maps_every_column(void **state)
{
    (void)state;
    static struct bag plain, mapped;
    struct profile p0, p1;
    char err[512];
    assert_int_equal(run(SAMPLE, 2021, 0, NULL, 0, &plain, &p0, err, sizeof err), 0);
    uint64_t misses = p0.map_misses[COL_LANGUAGE];
    assert_true(misses > 0); /* the sample has "Language other than English" */
    struct code_rule lang[] = {{"Language other than English", "spa"}};
    struct code_rule race[] = {{" White ", "OTHER"}};
    struct code_rule payer[] = {{"NO_INSURANCE", "OTHER"}};
    struct synthea_options o = {.year = 2021};
    o.rules[COL_LANGUAGE] = lang;
    o.n_rules[COL_LANGUAGE] = 1;
    o.rules[COL_RACE] = race;
    o.n_rules[COL_RACE] = 1;
    o.rules[COL_PAYER] = payer;
    o.n_rules[COL_PAYER] = 1;
    memset(&mapped, 0, sizeof mapped);
    memset(&p1, 0, sizeof p1);
    assert_int_equal(synthea_read(SAMPLE, &o, sink, &mapped, &p1, err, sizeof err), 0);
    assert_int_equal(mapped.n, plain.n);
    int spa0 = 0, spa1 = 0, und0 = 0, und1 = 0, white0 = 0, white1 = 0, other0 = 0, other1 = 0;
    int unins0 = 0, poth1 = 0, poth0 = 0;
    int spa = record_lang_pack("spa", 3);
    for (int i = 0; i < plain.n; i++) {
        spa0 += plain.r[i].language == spa;
        spa1 += mapped.r[i].language == spa;
        und0 += plain.r[i].language == LANG_UNKNOWN;
        und1 += mapped.r[i].language == LANG_UNKNOWN;
        white0 += plain.r[i].race == RACE_WHITE;
        white1 += mapped.r[i].race == RACE_WHITE;
        other0 += plain.r[i].race == RACE_OTHER;
        other1 += mapped.r[i].race == RACE_OTHER;
        unins0 += plain.r[i].payer == PAYER_UNINSURED;
        poth0 += plain.r[i].payer == PAYER_OTHER;
        poth1 += mapped.r[i].payer == PAYER_OTHER;
        assert_true(mapped.r[i].member_months == plain.r[i].member_months);
    }
    assert_int_equal(spa1 - spa0, (int)misses);
    assert_int_equal(und0 - und1, (int)misses);
    assert_int_equal(p1.map_misses[COL_LANGUAGE], 0);
    assert_int_equal(white1, 0);
    assert_int_equal(other1, other0 + white0);
    assert_true(white0 > 0);
    assert_int_equal(poth1, poth0 + unins0);
    /* county rules (none) first, then race, ..., language, payer */
    assert_int_equal(p1.n_map_rules, 3);
    for (size_t i = 0; i < p1.n_map_rules; i++) {
        const struct profile_map_rule *m = &p1.map_rules[i];
        if (m->column == COL_LANGUAGE)
            assert_int_equal(m->hits, misses);
        else if (m->column == COL_RACE)
            assert_int_equal(m->hits, (uint64_t)white0);
        else
            assert_int_equal(m->column, COL_PAYER);
    }
    profile_free(&p0);
    profile_free(&p1);

    /* a rule whose target is not a standard code is fatal */
    struct code_rule badlang[] = {{"Language other than English", "spanish"}};
    o.rules[COL_LANGUAGE] = badlang;
    memset(&p1, 0, sizeof p1);
    assert_int_equal(synthea_read(SAMPLE, &o, sink, &mapped, &p1, err, sizeof err), -1);
    assert_non_null(strstr(err, "is not a standard language code"));
    profile_free(&p1);
}

static void test_ca_county_table(void **state)
{
    (void)state;
    assert_int_equal(synthea_ca_county_fips("Alameda County", 14), 6001);
    assert_int_equal(synthea_ca_county_fips("los angeles", 11), 6037);
    assert_int_equal(synthea_ca_county_fips("San Luis Obispo County", 22), 6079);
    assert_int_equal(synthea_ca_county_fips("Yuba County", 11), 6115);
    assert_int_equal(synthea_ca_county_fips("Middlesex County", 16), COUNTY_UNKNOWN);
    assert_int_equal(synthea_ca_county_fips("", 0), COUNTY_UNKNOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_2021),
        cmocka_unit_test(test_sample_2000_diabetes),
        cmocka_unit_test(test_sample_2020_readmission),
        cmocka_unit_test(test_new_layout),
        cmocka_unit_test(test_plain_years_and_observations),
        cmocka_unit_test(test_missing_file_and_columns),
        cmocka_unit_test(test_bad_rows),
        cmocka_unit_test(test_code_maps_every_column),
        cmocka_unit_test(test_ca_county_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
