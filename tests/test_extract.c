/*
 * test_extract.c - the extract CSV reader on real files: field-by-field
 * values, CRLF, quoting, free column order, renamed columns, code maps,
 * gzip, every kind of bad row and bad file with its reason, line and
 * column, strict mode, periods, duplicate ids (within and across worker
 * threads, and fingerprint collisions that must not reject anything), and
 * 1 versus 2 threads on a generated 200k-row file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "catalog.h"
#include "extract.h"
#include "memberset.h"
#include "atomic_file.h"

#define HDR "member_id,period,age,sex,race,ethnicity,language,payer,adi_decile,disability,cmc," \
            "county,member_months,ed_visits,ip_admits,ip_readmits_30d,primary_care_visits," \
            "telehealth_visits,scheduled_appts,no_shows,wellness_visit,diabetes," \
            "hba1c_poor_control,hypertension,bp_controlled,hrsn_screened,hrsn_food," \
            "hrsn_housing,hrsn_transport,hrsn_utilities,hrsn_safety,total_cost,experience_score"
/* the tail of a valid row after member_id, period */
#define OKTAIL "34,F,WHITE,NOT_HISPANIC,eng,MEDICAID,3,N,U,06037,12,2,1,1,3,1,4,1,1,1,1,0,0,1,1,0,0,0,0,1234.50,8"

#define ROW1 "A1,2025," OKTAIL
#define ROW2 "A2,2025,,m,black,hispanic,SPA,medicare,,y,,,6.5,0,0,0,0,0,0,0,0,0,0,1,1,0,0,0,0,0,0,,"
#define ROW3 "A3,2025,120,X,,,und,,10,U,N,06001,0,,,,,,,,,,,,,,,,,,,0,10"

static char dir[64];

/* ---- a sink that keeps every record it gets, per worker ---------------- */

struct got {
    struct member_record *r;
    int *sign;
    size_t n, cap;
};

static void keep_sink(void *ctx, const struct member_record *r, int sign)
{
    struct got *g = ctx;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 64;
        g->r = realloc(g->r, g->cap * sizeof *g->r);
        g->sign = realloc(g->sign, g->cap * sizeof *g->sign);
        assert_non_null(g->r);
        assert_non_null(g->sign);
    }
    g->r[g->n] = *r;
    g->sign[g->n++] = sign;
}

struct sums {
    long n;
    double months, cost;
    long ed, age;
};

static void sum_sink(void *ctx, const struct member_record *r, int sign)
{
    struct sums *s = ctx;
    s->n += sign;
    s->months += sign * r->member_months;
    s->cost += sign * r->total_cost;
    s->ed += sign * (long)r->ed_visits;
    s->age += sign * (long)r->age;
}

static struct got got[4];
static struct profile prof;
static char err[1024];
static int nworkers;

static void reset(void)
{
    for (int i = 0; i < 4; i++) {
        free(got[i].r);
        free(got[i].sign);
        memset(&got[i], 0, sizeof got[i]);
    }
    profile_free(&prof);
    memset(&prof, 0, sizeof prof);
    err[0] = '\0';
}

static const char *path_of(const char *name)
{
    static char p[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static const char *write_file(const char *name, const char *data, size_t len)
{
    const char *p = path_of(name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    return p;
}

static const char *write_str(const char *name, const char *data)
{
    return write_file(name, data, strlen(data));
}

static int run(const char *path, const struct extract_options *o)
{
    reset();
    void *sinks[4] = {&got[0], &got[1], &got[2], &got[3]};
    nworkers = 4;
    return extract_read(path, o, keep_sink, sinks, &nworkers, &prof, err, sizeof err);
}

static struct extract_options defaults(void)
{
    struct extract_options o;
    memset(&o, 0, sizeof o);
    return o;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_extract-" EQ_MKTEMP_SUFFIX);
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    reset();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ISO 639-3 codes packed by hand: ((c0 * 26) + c1) * 26 + c2 with a = 0. */
#define LANG_ENG (((4 * 26) + 13) * 26 + 6)
#define LANG_SPA (((18 * 26) + 15) * 26 + 0)

static void check_three(const struct got *g)
{
    assert_int_equal(g->n, 3);
    const struct member_record *a = &g->r[0], *b = &g->r[1], *c = &g->r[2];
    for (int i = 0; i < 3; i++)
        assert_int_equal(g->sign[i], 1);
    assert_int_equal(a->age, 34);
    assert_int_equal(a->sex, SEX_F);
    assert_int_equal(a->race, RACE_WHITE);
    assert_int_equal(a->ethnicity, ETH_NOT_HISPANIC);
    assert_int_equal(a->language, LANG_ENG);
    assert_int_equal(a->payer, PAYER_MEDICAID);
    assert_int_equal(a->adi_decile, 3);
    assert_int_equal(a->disability, YNU_N);
    assert_int_equal(a->cmc, YNU_U);
    assert_int_equal(a->county, 6037);
    assert_true(a->member_months == 12.0);
    assert_int_equal(a->ed_visits, 2);
    assert_int_equal(a->ip_admits, 1);
    assert_int_equal(a->ip_readmits_30d, 1);
    assert_int_equal(a->primary_care_visits, 3);
    assert_int_equal(a->telehealth_visits, 1);
    assert_int_equal(a->scheduled_appts, 4);
    assert_int_equal(a->no_shows, 1);
    assert_int_equal(a->wellness_visit, 1);
    assert_int_equal(a->diabetes, 1);
    assert_int_equal(a->hba1c_poor_control, 1);
    assert_int_equal(a->hypertension, 0);
    assert_int_equal(a->bp_controlled, 0);
    assert_int_equal(a->hrsn_screened, 1);
    assert_int_equal(a->hrsn_food, 1);
    assert_int_equal(a->hrsn_housing + a->hrsn_transport + a->hrsn_utilities + a->hrsn_safety, 0);
    assert_true(a->total_cost == 1234.5);
    assert_int_equal(a->has_experience, 1);
    assert_true(a->experience_score == 8.0);

    assert_int_equal(b->age, -1);
    assert_int_equal(b->sex, SEX_M);
    assert_int_equal(b->race, RACE_BLACK);
    assert_int_equal(b->ethnicity, ETH_HISPANIC);
    assert_int_equal(b->language, LANG_SPA);
    assert_int_equal(b->payer, PAYER_MEDICARE);
    assert_int_equal(b->adi_decile, 0);
    assert_int_equal(b->disability, YNU_Y);
    assert_int_equal(b->cmc, YNU_U);
    assert_int_equal(b->county, COUNTY_UNKNOWN);
    assert_true(b->member_months == 6.5);
    assert_int_equal(b->hypertension, 1);
    assert_int_equal(b->bp_controlled, 1);
    assert_true(b->total_cost == 0.0);
    assert_int_equal(b->has_experience, 0);

    assert_int_equal(c->age, 120);
    assert_int_equal(c->sex, SEX_X);
    assert_int_equal(c->race, RACE_UNKNOWN);
    assert_int_equal(c->ethnicity, ETH_UNKNOWN);
    assert_int_equal(c->language, LANG_UNKNOWN);
    assert_int_equal(c->payer, PAYER_UNKNOWN);
    assert_int_equal(c->adi_decile, 10);
    assert_int_equal(c->disability, YNU_U);
    assert_int_equal(c->cmc, YNU_N);
    assert_int_equal(c->county, 6001);
    assert_true(c->member_months == 0.0);
    assert_int_equal(c->ed_visits + c->ip_admits + c->no_shows, 0);
    assert_int_equal(c->has_experience, 1);
    assert_true(c->experience_score == 10.0);
}

static void test_good_file(void **state)
{
    (void)state;
    struct extract_options o = defaults();
    const char *p = write_str("good.csv", HDR "\n" ROW1 "\n" ROW2 "\n" ROW3 "\n");
    assert_int_equal(run(p, &o), 0);
    assert_int_equal(nworkers, 1);
    check_three(&got[0]);
    assert_int_equal(prof.rows_read, 3);
    assert_int_equal(prof.rows_accepted, 3);
    assert_int_equal(profile_rejected_total(&prof), 0);
    assert_string_equal(prof.period_seen, "2025");
    assert_int_equal(prof.unavailable_measures, 0);
    assert_string_equal(prof.source, p);
}

static void test_crlf_and_quotes(void **state)
{
    (void)state;
    struct extract_options o = defaults();
    /* an unknown first column with commas, "" escapes and two newlines;
     * quoted ids and codes; CRLF line ends; no newline after the last row */
    const char *data =
        "notes," HDR "\r\n"
        "\"has, comma \"\"quoted\"\"\nsecond\nthird\",\"A1\",2025," OKTAIL "\r\n"
        ",A2,\"2025\",,m,\"black\",hispanic,SPA,medicare,,y,,,6.5,0,0,0,0,0,0,0,0,0,0,1,1,0,0,0,0,0,0,,\r\n"
        "x,A9,2025,abc," "F,WHITE,NOT_HISPANIC,eng,MEDICAID,3,N,U,06037,12,2,1,1,3,1,4,1,1,1,1,0,0,1,1,0,0,0,0,1234.50,8\r\n"
        "\"\",\"A3\",2025,120,X,,,und,,10,U,N,06001,0,,,,,,,,,,,,,,,,,,,0,10";
    const char *p = write_str("crlf.csv", data);
    assert_int_equal(run(p, &o), 0);
    check_three(&got[0]);
    /* lines: header 1, A1 2-4, A2 5, the bad row 6 */
    assert_int_equal(prof.rejected[BAD_TYPE], 1);
    assert_int_equal(prof.examples[BAD_TYPE][0].line, 6);
    assert_int_equal(prof.examples[BAD_TYPE][0].column, 4);
    assert_string_equal(prof.examples[BAD_TYPE][0].field, "age");
    assert_non_null(strstr(prof.examples[BAD_TYPE][0].message, "'abc'"));
}

static void test_shuffled_and_renamed(void **state)
{
    (void)state;
    struct extract_options o = defaults();
    o.column_name[COL_MEMBER_ID] = "MemberID";
    o.column_name[COL_RACE] = "RACE_CD";
    /* columns in reverse order, two renamed, one extra */
    const char *data =
        "experience_score,total_cost,hrsn_safety,hrsn_utilities,hrsn_transport,hrsn_housing,"
        "hrsn_food,hrsn_screened,bp_controlled,hypertension,hba1c_poor_control,diabetes,"
        "wellness_visit,no_shows,scheduled_appts,telehealth_visits,primary_care_visits,"
        "ip_readmits_30d,ip_admits,ed_visits,member_months,county,cmc,disability,adi_decile,"
        "payer,language,ethnicity,RACE_CD,sex,age,period,MemberID,extra\n"
        "8,1234.50,0,0,0,0,1,1,0,0,1,1,1,1,4,1,3,1,1,2,12,06037,U,N,3,MEDICAID,eng,NOT_HISPANIC,WHITE,F,34,2025,A1,zzz\n"
        ",,0,0,0,0,0,0,1,1,0,0,0,0,0,0,0,0,0,0,6.5,,,y,,medicare,SPA,hispanic,black,m,,2025,A2,\n"
        "10,0,,,,,,,,,,,,,,,,,,,0,06001,N,U,10,,und,,,X,120,2025,A3,\n";
    const char *p = write_str("shuffled.csv", data);
    assert_int_equal(run(p, &o), 0);
    check_three(&got[0]);

    /* the renamed column missing: the error names it and the header */
    o.column_name[COL_RACE] = "RACE_CODE";
    assert_int_equal(run(p, &o), -1);
    assert_non_null(strstr(err, "missing required column 'RACE_CODE'"));
    assert_non_null(strstr(err, "RACE_CD"));
    assert_non_null(strstr(err, ":1:"));
}

static void test_code_maps(void **state)
{
    (void)state;
    struct extract_options o = defaults();
    static const struct code_rule race_rules[] = {{"2106-3", "WHITE"}, {"2054-5", "BLACK"}};
    static const struct code_rule lang_rules[] = {{"Spanish", "spa"}};
    o.rules[COL_RACE] = race_rules;
    o.n_rules[COL_RACE] = 2;
    o.rules[COL_LANGUAGE] = lang_rules;
    o.n_rules[COL_LANGUAGE] = 1;
    const char *data =
        HDR "\n"
        "B1,2025,1,F,2106-3,UNKNOWN,spanish,,,,,,1,,,,,,,,,,,,,,,,,,,,\n"
        "B2,2025,1,F,2106-3,UNKNOWN,eng,,,,,,1,,,,,,,,,,,,,,,,,,,,\n"
        "B3,2025,1,F,2054-5,UNKNOWN,SPANISH,,,,,,1,,,,,,,,,,,,,,,,,,,,\n"
        "B4,2025,1,F,9999-9,UNKNOWN,eng,,,,,,1,,,,,,,,,,,,,,,,,,,,\n"
        "B5,2025,1,F,white,UNKNOWN,english,,,,,,1,,,,,,,,,,,,,,,,,,,,\n";
    const char *p = write_str("maps.csv", data);
    assert_int_equal(run(p, &o), 0);
    assert_int_equal(got[0].n, 3);
    assert_int_equal(got[0].r[0].race, RACE_WHITE);
    assert_int_equal(got[0].r[0].language, LANG_SPA);
    assert_int_equal(got[0].r[1].race, RACE_WHITE);
    assert_int_equal(got[0].r[2].race, RACE_BLACK);
    assert_int_equal(got[0].r[2].language, LANG_SPA);
    assert_int_equal(prof.n_map_rules, 3);
    for (size_t i = 0; i < prof.n_map_rules; i++) {
        const struct profile_map_rule *r = &prof.map_rules[i];
        if (r->column == COL_RACE && strcmp(r->from, "2106-3") == 0)
            assert_int_equal(r->hits, 2);
        else if (r->column == COL_RACE && strcmp(r->from, "2054-5") == 0)
            assert_int_equal(r->hits, 1);
        else if (r->column == COL_LANGUAGE)
            assert_int_equal(r->hits, 2);
        else
            fail_msg("unexpected rule %s", r->from);
    }
    assert_int_equal(prof.map_misses[COL_RACE], 1);
    assert_int_equal(prof.map_misses[COL_LANGUAGE], 1);
    assert_int_equal(prof.rejected[BAD_CODE], 2);
    assert_int_equal(prof.examples[BAD_CODE][0].line, 5);
    assert_int_equal(prof.examples[BAD_CODE][0].column, 5);
    assert_int_equal(prof.examples[BAD_CODE][1].line, 6);
    assert_int_equal(prof.examples[BAD_CODE][1].column, 7);

    /* a rule whose target is not a standard code is a configuration error */
    static const struct code_rule bad[] = {{"W", "WHITISH"}};
    o.rules[COL_RACE] = bad;
    o.n_rules[COL_RACE] = 1;
    assert_int_equal(run(p, &o), -1);
    assert_non_null(strstr(err, "WHITISH"));
}

static void write_gz(const char *p, const char *data, size_t len)
{
    gzFile gz = gzopen(p, "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, data, (unsigned)len), (int)len);
    assert_int_equal(gzclose(gz), Z_OK);
}

static void test_gzip(void **state)
{
    (void)state;
    struct extract_options o = defaults();
    const char *data = HDR "\n" ROW1 "\n" ROW2 "\n" ROW3 "\n";
    const char *p = path_of("good.csv.gz");
    write_gz(p, data, strlen(data));
    assert_int_equal(run(p, &o), 0);
    assert_int_equal(nworkers, 1);
    check_three(&got[0]);
    /* detected by its magic bytes, not by the name */
    const char *q = path_of("gzip-without-extension.csv");
    write_gz(q, data, strlen(data));
    assert_int_equal(run(q, &o), 0);
    check_three(&got[0]);

    /* truncated: many rows, file cut in the middle of the stream */
    size_t cap = 3000 * 100 + 1000, len = 0;
    char *big = malloc(cap);
    assert_non_null(big);
    len += (size_t)snprintf(big, cap, "%s\n", HDR);
    for (int i = 0; i < 3000; i++)
        len += (size_t)snprintf(big + len, cap - len, "T%d,2025,%d,F,WHITE,,eng,,,,,,%d,%d,,,,,,,,,,,,,,,,,,%d.5,\n",
                                i, i % 90, i % 12, i % 7, i);
    const char *t = path_of("trunc.csv.gz");
    write_gz(t, big, len);
    free(big);
    FILE *f = fopen(t, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fclose(f);
    assert_int_equal(truncate(t, sz / 2), 0);
    assert_int_equal(run(t, &o), -1);
    assert_non_null(strstr(err, "truncated gzip"));
}

static void test_bad_rows(void **state)
{
    (void)state;
    struct extract_options o = defaults();
    const char *data =
        HDR "\n"
        "C2,2025," OKTAIL "\n"                                                   /* 2 ok */
        "C3,2025,34,F\n"                                                         /* 3 ragged */
        "C4,20\"25," OKTAIL "\n"                                                 /* 4 quote */
        "C5,2025,abc,F,WHITE,,eng,,,,,,12,,,,,,,,,,,,,,,,,,,,\n"                  /* 5 type */
        "C6,2025,121,F,WHITE,,eng,,,,,,12,,,,,,,,,,,,,,,,,,,,\n"                  /* 6 range */
        "C7,2025,30,F,PURPLE,,eng,,,,,,12,,,,,,,,,,,,,,,,,,,,\n"                  /* 7 code */
        "C8,2025,30,F,WHITE,,eng,,,,,,12,0,1,2,,,,,,,,,,,,,,,,,\n"                /* 8 inconsistent */
        "C2,2025,30,F,WHITE,,eng,,,,,,12,,,,,,,,,,,,,,,,,,,,\n"                   /* 9 duplicate */
        "C10,2025,30,F,WHITE,,english,,,,,,12,,,,,,,,,,,,,,,,,,,,\n"              /* 10 code */
        "C11,2025,30,F,WHITE,,eng,,,,,6037,12,,,,,,,,,,,,,,,,,,,,\n"              /* 11 code */
        "C12,2025,30,F,WHITE,,eng,,,,,,13,,,,,,,,,,,,,,,,,,,,\n"                  /* 12 range */
        "C13,2025,30,F,WHITE,,eng,,,,,,12,,,,,,,,,2,,,,,,,,,,,\n"                 /* 13 range */
        "C14,2025,30,F,WHITE,,eng,,,,,,12,,,,,,2,3,,,,,,,,,,,,,\n"                /* 14 inconsistent */
        "C15,2025,30,F,WHITE,,eng,,,,,,12,,,,,,,,,,,,,,,,,,,-5,\n"                /* 15 range */
        "C16,2025,30,F,WHITE,,eng,,,,,,12,,,,,,,,,,,,,,,,,,,,11\n"                /* 16 range */
        "C17,2025,30,F,WHITE,,eng,,,,,,12,,,,,,,,,,,,,,,,,,,1e3,\n"               /* 17 ok */
        "\n";                                                                    /* blank */
    const char *p = write_str("bad.csv", data);
    assert_int_equal(run(p, &o), 0);
    assert_int_equal(prof.rows_read, 16);
    assert_int_equal(prof.rows_accepted, 2);
    assert_int_equal(got[0].n, 2);
    assert_true(got[0].r[1].total_cost == 1000.0);
    assert_int_equal(prof.rejected[BAD_FIELD_COUNT], 1);
    assert_int_equal(prof.rejected[BAD_QUOTING], 1);
    assert_int_equal(prof.rejected[BAD_TYPE], 1);
    assert_int_equal(prof.rejected[BAD_RANGE], 5);
    assert_int_equal(prof.rejected[BAD_CODE], 3);
    assert_int_equal(prof.rejected[BAD_INCONSISTENT], 2);
    assert_int_equal(prof.rejected[BAD_DUPLICATE], 1);
    assert_int_equal(profile_rejected_total(&prof), 14);

    const struct profile_example *e;
    e = &prof.examples[BAD_FIELD_COUNT][0];
    assert_int_equal(e->line, 3);
    assert_int_equal(e->column, 0);
    assert_non_null(strstr(e->message, "4 fields"));
    e = &prof.examples[BAD_QUOTING][0];
    assert_int_equal(e->line, 4);
    assert_int_equal(e->column, 2);
    e = &prof.examples[BAD_TYPE][0];
    assert_int_equal(e->line, 5);
    assert_int_equal(e->column, 3);
    e = &prof.examples[BAD_RANGE][0];
    assert_int_equal(e->line, 6);
    assert_int_equal(e->column, 3);
    assert_non_null(strstr(e->message, "'121'"));
    assert_int_equal(prof.examples[BAD_RANGE][1].line, 12);
    assert_int_equal(prof.examples[BAD_RANGE][1].column, 13);
    assert_int_equal(prof.examples[BAD_RANGE][2].line, 13);
    assert_int_equal(prof.examples[BAD_RANGE][2].column, 22);
    assert_int_equal(prof.examples[BAD_RANGE][3].line, 15);
    assert_int_equal(prof.examples[BAD_RANGE][3].column, 32);
    assert_int_equal(prof.examples[BAD_RANGE][4].line, 16);
    assert_int_equal(prof.examples[BAD_RANGE][4].column, 33);
    e = &prof.examples[BAD_CODE][0];
    assert_int_equal(e->line, 7);
    assert_int_equal(e->column, 5);
    assert_non_null(strstr(e->message, "'PURPLE'"));
    assert_int_equal(prof.examples[BAD_CODE][1].line, 10);
    assert_int_equal(prof.examples[BAD_CODE][1].column, 7);
    assert_int_equal(prof.examples[BAD_CODE][2].line, 11);
    assert_int_equal(prof.examples[BAD_CODE][2].column, 12);
    e = &prof.examples[BAD_INCONSISTENT][0];
    assert_int_equal(e->line, 8);
    assert_int_equal(e->column, 16);
    assert_int_equal(prof.examples[BAD_INCONSISTENT][1].line, 14);
    assert_int_equal(prof.examples[BAD_INCONSISTENT][1].column, 20);
    e = &prof.examples[BAD_DUPLICATE][0];
    assert_int_equal(e->line, 9);
    assert_int_equal(e->column, 1);
    /* member ids are never quoted, not even in the on-site profile */
    assert_null(strstr(e->message, "C2"));
    assert_non_null(strstr(e->message, "member_id seen before in this period"));
}

static void test_value_quoting_in_messages(void **state)
{
    (void)state;
    struct extract_options o = defaults();
    /* a long value with a tab and a byte >= 0x80 */
    const char *data =
        HDR "\n"
        "D1,2025,30,F,\"WHITE\tTOO LONG TO QUOTE WHOLE \xc3\xa9 0123456789012345\",,eng,,,,,,12,,,,,,,,,,,,,,,,,,,,\n";
    const char *p = write_str("msg.csv", data);
    assert_int_equal(run(p, &o), 0);
    const char *m = prof.examples[BAD_CODE][0].message;
    assert_non_null(strstr(m, "'WHITE\\x09TOO LONG"));
    assert_non_null(strstr(m, "\\xc3\\xa9"));
    assert_non_null(strstr(m, "...'"));
}

static void test_missing_columns(void **state)
{
    (void)state;
    struct extract_options o = defaults();
    const char *p = write_str("nocounty.csv",
        "member_id,period,age,sex,race,ethnicity,language,payer,adi_decile,disability,cmc,member_months\n"
        "E1,2025,1,F,WHITE,,eng,,,,,12\n");
    assert_int_equal(run(p, &o), -1);
    assert_non_null(strstr(err, "missing required column 'county'"));
    assert_non_null(strstr(err, "member_id,period,age"));

    /* measure inputs missing: those measures become unavailable, never 0 */
    p = write_str("nomeasures.csv",
        "member_id,period,age,sex,race,ethnicity,language,payer,adi_decile,disability,cmc,county,"
        "member_months,ip_admits,hrsn_food,total_cost\n"
        "E1,2025,1,F,WHITE,,eng,,,,,,12,1,1,100\n");
    assert_int_equal(run(p, &o), 0);
    assert_int_equal(got[0].n, 1);
    uint32_t want = (1u << M_ED_RATE) | (1u << M_READMIT_30D) | (1u << M_WELLNESS) |
                    (1u << M_NO_SHOW) | (1u << M_TELEHEALTH_SHARE) |
                    (1u << M_DIABETES_POOR_CONTROL) | (1u << M_BP_CONTROL) |
                    (1u << M_HRSN_SCREENING) | (1u << M_HRSN_FOOD) | (1u << M_HRSN_HOUSING) |
                    (1u << M_HRSN_TRANSPORT) | (1u << M_HRSN_UTILITIES) |
                    (1u << M_HRSN_SAFETY) | (1u << M_HRSN_ANY) | (1u << M_EXPERIENCE);
    assert_int_equal(prof.unavailable_measures, want);
    assert_non_null(strstr(prof.unavailable_why, "ed_visits"));
    assert_non_null(strstr(prof.unavailable_why, "ed_rate"));
    assert_true(got[0].r[0].total_cost == 100.0);
    assert_int_equal(got[0].r[0].ip_admits, 1);
}

static void test_fatal_files(void **state)
{
    (void)state;
    struct extract_options o = defaults();
    const char *p;

    assert_int_equal(run(path_of("does-not-exist.csv"), &o), -1);
    assert_non_null(strstr(err, "cannot open"));

    p = write_str("empty.csv", "");
    assert_int_equal(run(p, &o), -1);
    assert_non_null(strstr(err, "empty.csv:1: empty file"));

    p = write_str("header-only.csv", HDR "\n");
    assert_int_equal(run(p, &o), 0);
    assert_int_equal(prof.rows_read, 0);
    assert_int_equal(got[0].n, 0);

    static const char bin[] = HDR "\nF1,2025," OKTAIL "\nF2,2025,3\0" "4,F\n";
    p = write_file("binary.csv", bin, sizeof bin - 1);
    assert_int_equal(run(p, &o), -1);
    assert_non_null(strstr(err, "binary.csv:3: binary data"));

    p = write_str("open-quote.csv", HDR "\nF1,2025," OKTAIL "\nF2,\"2025,1\n");
    assert_int_equal(run(p, &o), -1);
    assert_non_null(strstr(err, "open-quote.csv:3: quoted field still open at end of file"));

    p = write_str("dup-header.csv", "member_id,period,Age,age\nF1,2025,1,1\n");
    assert_int_equal(run(p, &o), -1);
    assert_non_null(strstr(err, "dup-header.csv:1:4: duplicate column name 'age'"));

    /* a line over 1 MiB (an unknown column holding 1.5 MB) at line 3 */
    size_t big = (3u << 19) + 1000;
    char *d = malloc(big + 4096);
    assert_non_null(d);
    size_t n = (size_t)snprintf(d, 4096, "junk,%s\n,F1,2025,%s\n", HDR, OKTAIL);
    memset(d + n, 'x', big);
    n += big;
    n += (size_t)snprintf(d + n, 4096, ",F2,2025,%s\n", OKTAIL);
    p = write_file("huge-line.csv", d, n);
    free(d);
    assert_int_equal(run(p, &o), -1);
    assert_non_null(strstr(err, "huge-line.csv:3: line longer than 1 MiB"));
}

static void test_strict(void **state)
{
    (void)state;
    struct extract_options o = defaults();
    o.strict = 1;
    o.period = "2025";
    const char *data =
        HDR "\n"
        "G1,2025," OKTAIL "\n"
        "G2,2024,abc,F,WHITE,,eng,,,,,,12,,,,,,,,,,,,,,,,,,,,\n" /* other period: skipped */
        "G3,2025,abc," "F,WHITE,NOT_HISPANIC,eng,MEDICAID,3,N,U,06037,12,2,1,1,3,1,4,1,1,1,1,0,0,1,1,0,0,0,0,1234.50,8\n"
        "G4,2025,x\n";
    const char *p = write_str("strict.csv", data);
    assert_int_equal(run(p, &o), -1);
    char want[400];
    /* the fatal message (it reaches the service's log) names the column and
     * the problem, never the value */
    snprintf(want, sizeof want, "%s:4:3: age is not a whole number (type)", p);
    assert_string_equal(err, want);
    /* while the on-site profile example still quotes it */
    assert_non_null(strstr(prof.examples[BAD_TYPE][0].message, "age 'abc'"));

    /* an inconsistent row: neither count is quoted */
    p = write_str("strict-inc.csv", HDR "\n"
                  "G5,2025,40,F,WHITE,NOT_HISPANIC,eng,MEDICAID,3,N,U,06037,12,2,1,7,3,1,4,1,1,1,1,0,0,1,1,0,0,0,0,1234.50,8\n");
    assert_int_equal(run(p, &o), -1);
    snprintf(want, sizeof want, "%s:2:16: ip_readmits_30d > ip_admits (inconsistent)", p);
    assert_string_equal(err, want);

    /* a strict file with a duplicate: the duplicate is the first bad row */
    p = write_str("strict-dup.csv", HDR "\nG1,2025," OKTAIL "\nG1,2025," OKTAIL "\n");
    assert_int_equal(run(p, &o), -1);
    snprintf(want, sizeof want, "%s:3:1:", p);
    assert_memory_equal(err, want, strlen(want));
    assert_non_null(strstr(err, "duplicate"));
    assert_null(strstr(err, "G1"));
}

/* Empty means unknown (extract.md): the member is left out of the measures
 * that need the field, and the profile counts it per field and measure.
 * Surrounding spaces are trimmed. */
static void test_empty_means_unknown(void **state)
{
    (void)state;
    struct extract_options o = defaults();
    o.threads = 1;
    const char *data =
        HDR "\n"
        /* E1: ed_visits empty */
        "E1,2025,34,F,WHITE,NOT_HISPANIC,eng,MEDICAID,3,N,U,06037,12,,1,1,3,1,4,1,1,1,1,0,0,1,1,0,0,0,0,1234.50,8\n"
        /* E2: spaces around values; ed_visits " 3 " is 3 */
        " E2 , 2025 , 34 , f , white ,NOT_HISPANIC, eng ,MEDICAID, 3 ,N,U, 06037 , 12 , 3 ,1,1,3,1,4,1, 1 ,1,1,0,0,1,1,0,0,0,0, 10.5 ,8\n"
        /* E3: no_shows empty with 4 appointments; hba1c empty with diabetes 0 */
        "E3,2025,34,F,WHITE,NOT_HISPANIC,eng,MEDICAID,3,N,U,06037,12,2,1,1,3,1,4,,1,0,,0,0,1,1,0,0,0,0,1234.50,8\n"
        /* E4: hrsn_food empty while screened; total_cost blank (a space) */
        "E4,2025,34,F,WHITE,NOT_HISPANIC,eng,MEDICAID,3,N,U,06037,12,2,1,1,3,1,4,1,1,1,1,0,0,1,,0,0,0,0, ,8\n"
        /* E5: readmissions empty with 0 admissions: nothing needs them */
        "E5,2025,34,F,WHITE,NOT_HISPANIC,eng,MEDICAID,3,N,U,06037,12,2,0,,3,1,4,1,1,1,1,0,0,1,1,0,0,0,0,1234.50,8\n"
        /* E6: admissions empty: readmissions 2 contradict nothing known */
        "E6,2025,34,F,WHITE,NOT_HISPANIC,eng,MEDICAID,3,N,U,06037,12,2,,2,3,1,4,1,1,1,1,0,0,1,1,0,0,0,0,1234.50,8\n"
        /* E7: hrsn_screened empty: every HRSN measure */
        "E7,2025,34,F,WHITE,NOT_HISPANIC,eng,MEDICAID,3,N,U,06037,12,2,1,1,3,1,4,1,1,1,1,0,0,,0,0,0,0,0,1234.50,8\n";
    const char *p = write_str("unknown.csv", data);
    assert_int_equal(run(p, &o), 0);
    assert_int_equal(profile_rejected_total(&prof), 0);
    assert_int_equal(got[0].n, 7);
    const struct member_record *r = got[0].r;
    const uint32_t hrsn = 1u << M_HRSN_SCREENING | 1u << M_HRSN_FOOD | 1u << M_HRSN_HOUSING |
                          1u << M_HRSN_TRANSPORT | 1u << M_HRSN_UTILITIES |
                          1u << M_HRSN_SAFETY | 1u << M_HRSN_ANY;
    assert_int_equal(r[0].unknown_measures, 1u << M_ED_RATE);
    assert_int_equal(r[1].unknown_measures, 0);
    assert_int_equal(r[1].ed_visits, 3);
    assert_int_equal(r[1].age, 34);
    assert_int_equal(r[1].sex, SEX_F);
    assert_int_equal(r[1].race, RACE_WHITE);
    assert_int_equal(r[1].county, 6037);
    assert_true(r[1].total_cost == 10.5);
    assert_int_equal(r[2].unknown_measures, 1u << M_NO_SHOW);
    assert_int_equal(r[3].unknown_measures, 1u << M_HRSN_FOOD | 1u << M_HRSN_ANY | 1u << M_COST_PMPM);
    assert_int_equal(r[4].unknown_measures, 0);
    assert_int_equal(r[5].unknown_measures, 1u << M_IP_RATE | 1u << M_READMIT_30D);
    assert_int_equal(r[6].unknown_measures, hrsn);
    assert_int_equal(prof.empty_fields[COL_ED_VISITS], 1);
    assert_int_equal(prof.empty_fields[COL_NO_SHOWS], 1);
    assert_int_equal(prof.empty_fields[COL_HBA1C_POOR_CONTROL], 1);
    assert_int_equal(prof.empty_fields[COL_TOTAL_COST], 1);
    assert_int_equal(prof.empty_fields[COL_IP_READMITS_30D], 1);
    assert_int_equal(prof.empty_fields[COL_IP_ADMITS], 1);
    assert_int_equal(prof.empty_fields[COL_HRSN_SCREENED], 1);
    assert_int_equal(prof.left_out[M_ED_RATE], 1);
    assert_int_equal(prof.left_out[M_NO_SHOW], 1);
    assert_int_equal(prof.left_out[M_DIABETES_POOR_CONTROL], 0);
    assert_int_equal(prof.left_out[M_HRSN_ANY], 2);
    assert_int_equal(prof.left_out[M_HRSN_HOUSING], 1);
    assert_int_equal(prof.left_out[M_READMIT_30D], 1);

    /* A duplicate with an empty field is taken back, and so are its counts. */
    o.threads = 1;
    p = write_str("unknown-dup.csv", HDR "\n"
                  "E1,2025,34,F,WHITE,NOT_HISPANIC,eng,MEDICAID,3,N,U,06037,12,,1,1,3,1,4,1,1,1,1,0,0,1,1,0,0,0,0,1234.50,8\n"
                  "E1,2025,34,F,WHITE,NOT_HISPANIC,eng,MEDICAID,3,N,U,06037,12,,1,1,3,1,4,1,1,1,1,0,0,1,1,0,0,0,0,1234.50,8\n");
    assert_int_equal(run(p, &o), 0);
    assert_int_equal(prof.rows_accepted, 1);
    assert_int_equal(prof.empty_fields[COL_ED_VISITS], 1);
    assert_int_equal(prof.left_out[M_ED_RATE], 1);

    /* A column absent from the file is not "empty": its measures are
     * unavailable, and no member is counted as left out. */
    p = write_str("unknown-absent.csv",
                  "member_id,period,age,sex,race,ethnicity,language,payer,adi_decile,"
                  "disability,cmc,county,member_months\n"
                  "F1,2025,34,F,WHITE,NOT_HISPANIC,eng,MEDICAID,3,N,U,06037,12\n");
    assert_int_equal(run(p, &o), 0);
    assert_int_equal(got[0].r[0].unknown_measures, 0);
    assert_int_equal(prof.left_out[M_ED_RATE], 0);
    assert_true(prof.unavailable_measures & (1u << M_ED_RATE));
}

static void test_periods(void **state)
{
    (void)state;
    struct extract_options o = defaults();
    const char *data = HDR "\nH1,2025," OKTAIL "\nH2,2024," OKTAIL "\nH3,2025," OKTAIL "\n";
    const char *p = write_str("periods.csv", data);
    assert_int_equal(run(p, &o), -1);
    assert_non_null(strstr(err, "periods.csv:3: file holds periods 2025 and 2024; choose one with --period"));

    o.period = "2024";
    assert_int_equal(run(p, &o), 0);
    assert_int_equal(got[0].n, 1);
    assert_int_equal(prof.rejected[BAD_PERIOD], 2);
    assert_int_equal(prof.examples[BAD_PERIOD][0].line, 2);
    assert_string_equal(prof.period_seen, "2024");
}

/* ---- generated files ------------------------------------------------------ */

/* One valid row for member i; adds its values to *s by a route independent
 * of the reader (the numbers that were printed). */
static size_t gen_row(char *b, size_t cap, long i, long id, int quote_note, struct sums *s)
{
    static const char *const sex[] = {"F", "M", "X", "U"};
    static const char *const race[] = {"AIAN", "asian", "BLACK", "MENA", "NHPI", "WHITE", "MULTI",
                                       "OTHER", "UNKNOWN", ""};
    long age = i % 97, months = i % 12 + 1, ed = i % 4, cost = i % 5000;
    int n = snprintf(b, cap, "%s,M%ld,2025,%ld,%s,%s,,eng,MEDICAID,%ld,N,Y,06%03ld,%ld,%ld,0,0,1,0,2,1,"
                     "1,0,0,1,1,1,0,0,0,0,0,%ld.75,\n",
                     quote_note ? "\"multi\nline, \"\"note\"\"\"" : "", id, age, sex[i % 4],
                     race[i % 10], i % 10 + 1, i % 100, months, ed, cost);
    if (s) {
        s->n++;
        s->months += (double)months;
        s->cost += (double)cost + 0.75;
        s->ed += ed;
        s->age += age;
    }
    return (size_t)n;
}

static char *gen_file(long rows, long dup_of[][2], int ndup, long quoted_big_at, size_t *len,
                      struct sums *expect)
{
    size_t cap = (size_t)rows * 140 + (2u << 20), n = 0;
    char *d = malloc(cap);
    assert_non_null(d);
    n += (size_t)snprintf(d, cap, "note,%s\n", HDR);
    for (long i = 0; i < rows; i++) {
        long id = i;
        int is_dup = 0;
        for (int k = 0; k < ndup; k++)
            if (dup_of[k][0] == i) {
                id = dup_of[k][1];
                is_dup = 1;
            }
        if (i == quoted_big_at) {
            /* a quoted note of 300 KB of short lines: a worker cut lands in it */
            d[n++] = '"';
            for (int k = 0; k < 60000; k++) {
                memcpy(d + n, "abcd\n", 5);
                n += 5;
            }
            d[n++] = '"';
        }
        n += gen_row(d + n, cap - n, i, id, i % 1000 == 7, is_dup ? NULL : expect);
    }
    *len = n;
    return d;
}

static void run_sums(const char *p, int threads, struct sums *out, int *nw)
{
    struct extract_options o = defaults();
    o.threads = threads;
    struct sums s[4];
    memset(s, 0, sizeof s);
    void *sinks[4] = {&s[0], &s[1], &s[2], &s[3]};
    profile_free(&prof);
    memset(&prof, 0, sizeof prof);
    *nw = 4;
    int rc = extract_read(p, &o, sum_sink, sinks, nw, &prof, err, sizeof err);
    if (rc != 0)
        fail_msg("%s", err);
    memset(out, 0, sizeof *out);
    for (int i = 0; i < *nw; i++) {
        out->n += s[i].n;
        out->months += s[i].months;
        out->cost += s[i].cost;
        out->ed += s[i].ed;
        out->age += s[i].age;
    }
}

static void assert_sums(const struct sums *a, const struct sums *b)
{
    assert_int_equal(a->n, b->n);
    assert_true(a->months == b->months);
    assert_true(a->cost == b->cost);
    assert_int_equal(a->ed, b->ed);
    assert_int_equal(a->age, b->age);
}

static void test_threads_same_result(void **state)
{
    (void)state;
    struct sums expect = {0}, one, two;
    size_t len;
    char *d = gen_file(200000, NULL, 0, -1, &len, &expect);
    const char *p = write_file("200k.csv", d, len);
    free(d);
    int nw1, nw2;
    run_sums(p, 1, &one, &nw1);
    assert_int_equal(nw1, 1);
    assert_int_equal(prof.rows_accepted, 200000);
    run_sums(p, 2, &two, &nw2);
    assert_int_equal(nw2, 2);
    assert_int_equal(prof.rows_accepted, 200000);
    assert_int_equal(profile_rejected_total(&prof), 0);
    assert_sums(&one, &expect);
    assert_sums(&two, &expect);
}

static void test_duplicates_across_threads(void **state)
{
    (void)state;
    struct sums expect = {0}, two;
    /* row -> same id as: 3500 -> 10 (across the cut), 20 -> 10 (worker 0),
     * 3600 -> 3550 (worker 1) */
    long dups[3][2] = {{3500, 10}, {20, 10}, {3600, 3550}};
    size_t len;
    char *d = gen_file(4000, dups, 3, -1, &len, &expect);
    const char *p = write_file("dups.csv", d, len);
    free(d);
    int nw;
    run_sums(p, 2, &two, &nw);
    assert_int_equal(nw, 2);
    assert_sums(&two, &expect);
    assert_int_equal(prof.rows_read, 4000);
    assert_int_equal(prof.rows_accepted, 3997);
    assert_int_equal(prof.rejected[BAD_DUPLICATE], 3);
    /* row i is on line i + 2, plus one line per quoted two-line note
     * (rows 7, 1007, 2007, 3007 have one) */
    assert_int_equal(prof.examples[BAD_DUPLICATE][0].line, 20 + 2 + 1);
    assert_int_equal(prof.examples[BAD_DUPLICATE][1].line, 3500 + 2 + 4);
    assert_int_equal(prof.examples[BAD_DUPLICATE][2].line, 3600 + 2 + 4);
    assert_int_equal(prof.examples[BAD_DUPLICATE][0].column, 2);
}

static void test_quoted_newlines_across_cut(void **state)
{
    (void)state;
    struct sums expect = {0}, one, two;
    size_t len;
    /* 3000 rows of ~105 bytes then a 300 KB quoted note then 3000 rows: the
     * middle of the file is inside the note */
    char *d = gen_file(6000, NULL, 0, 3000, &len, &expect);
    const char *p = write_file("cut.csv", d, len);
    free(d);
    int nw;
    run_sums(p, 1, &one, &nw);
    assert_sums(&one, &expect);
    run_sums(p, 2, &two, &nw);
    assert_sums(&two, &expect);
    assert_int_equal(prof.rows_accepted, 6000);
    assert_int_equal(profile_rejected_total(&prof), 0);
}

/* Two different ids whose hashes agree on their top 37 bits: the set keeps
 * 37-bit fingerprints for small files (12 bucket + 25 slot bits), so the
 * reader suspects a duplicate and must find that the ids differ. */
static int cmp_pair(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return (x[0] >> 27) < (y[0] >> 27) ? -1 : (x[0] >> 27) > (y[0] >> 27);
}

static void test_fingerprint_collision_kept(void **state)
{
    (void)state;
    size_t n = 1u << 20;
    uint64_t *h = malloc(n * 2 * sizeof *h);
    assert_non_null(h);
    char id[32];
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(id, sizeof id, "K%zu", i);
        h[2 * i] = memberset_hash(id, (size_t)k);
        h[2 * i + 1] = i;
    }
    qsort(h, n, 2 * sizeof *h, cmp_pair);
    long a = -1, b = -1;
    for (size_t i = 1; i < n && a < 0; i++)
        if (h[2 * i] >> 27 == h[2 * i - 2] >> 27) {
            a = (long)h[2 * i - 1];
            b = (long)h[2 * i + 1];
        }
    free(h);
    if (a < 0)
        skip();
    struct extract_options o = defaults();
    char data[2048];
    snprintf(data, sizeof data, "%s\nK%ld,2025,%s\nX1,2025,%s\nK%ld,2025,%s\nK%ld,2025,%s\n", HDR, a,
             OKTAIL, OKTAIL, b, OKTAIL, a, OKTAIL);
    const char *p = write_str("collide.csv", data);
    assert_int_equal(run(p, &o), 0);
    /* K<a>, X1 and K<b> are kept; the second K<a> is the only duplicate */
    assert_int_equal(prof.rows_accepted, 3);
    long net = 0;
    for (size_t i = 0; i < got[0].n; i++)
        net += got[0].sign[i];
    assert_int_equal(net, 3);
    assert_int_equal(prof.rejected[BAD_DUPLICATE], 1);
    assert_int_equal(prof.examples[BAD_DUPLICATE][0].line, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_crlf_and_quotes),
        cmocka_unit_test(test_shuffled_and_renamed),
        cmocka_unit_test(test_code_maps),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_bad_rows),
        cmocka_unit_test(test_value_quoting_in_messages),
        cmocka_unit_test(test_missing_columns),
        cmocka_unit_test(test_fatal_files),
        cmocka_unit_test(test_strict),
        cmocka_unit_test(test_empty_means_unknown),
        cmocka_unit_test(test_periods),
        cmocka_unit_test(test_threads_same_result),
        cmocka_unit_test(test_duplicates_across_threads),
        cmocka_unit_test(test_quoted_newlines_across_cut),
        cmocka_unit_test(test_fingerprint_collision_kept),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
