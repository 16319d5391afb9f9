/*
 * test_cells_read.c - reading cells CSV files back (common/cells_read.c):
 * a good file, a round trip through cellset_write_csv(), and bad files whose
 * messages must name the line and column of the problem.
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

#include "cells.h"
#include "cells_read.h"
#include "atomic_file.h"

#define HEADER "org,round,measure,stratifier,stratum,members,member_months,denominator," \
               "numerator,sum_sq,suppressed,reason\n"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_cells_read." EQ_MKTEMP_SUFFIX);
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Reads `text` from a real file; returns the rc and leaves the message in err. */
static int read_text(const char *text, struct cellset ***sets, int *n, char *err, size_t len)
{
    char path[300];
    snprintf(path, sizeof path, "%s/in.csv", tmpdir);
    write_file(path, text);
    return cells_read_csv(path, sets, n, err, len);
}

static const struct cell *find(const struct cellset *cs, const char *measure,
                               const char *table, const char *label)
{
    int t = cellset_find_table(cs, table);
    if (t < 0)
        return NULL;
    char buf[256];
    for (size_t i = 0; i < cs->ncells; i++) {
        const struct cell *c = &cs->cells[i];
        if (c->table != t || c->measure != catalog_measure_find(measure))
            continue;
        cellset_stratum_label(cs, c, buf, sizeof buf);
        if (strcmp(buf, label) == 0)
            return c;
    }
    return NULL;
}

static void test_good_file(void **state)
{
    (void)state;
    const char *text = HEADER
        "orgA,2024-r1,ed_rate,total,all,120,1400,1400,35,,0,\n"
        "orgA,2024-r1,ed_rate,race,BLACK,40,470,470,20,,0,\n"
        "orgA,2024-r1,ed_rate,race,WHITE,,,,,,1,count\n"
        "orgA,2024-r1,cost_pmpm,race*disability,BLACK*Y,15,170,170,42000.5,310000000,0,\n"
        "\"orgB\",2024-r1,ed_rate,race,ASIAN,30,350,350,12,,0,\n"
        "orgB,2024-r1,ed_rate,race,BLACK,,,,,,1,secondary\n";
    struct cellset **sets = NULL;
    int n = 0;
    char err[512];
    assert_int_equal(read_text(text, &sets, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(sets[0]->org, "orgA");
    assert_string_equal(sets[1]->org, "orgB");
    assert_string_equal(sets[0]->round, "2024-r1");
    assert_int_equal((int)sets[0]->ncells, 4);
    assert_int_equal((int)sets[1]->ncells, 2);
    /* Both organizations see the same tables and labels. */
    assert_int_equal(sets[0]->ntables, 3);
    assert_int_equal(sets[1]->ntables, 3);
    int race = cellset_find_table(sets[1], "race");
    assert_true(race >= 0);
    assert_int_equal(sets[1]->tables[race].card[0], 3); /* BLACK, WHITE, ASIAN */

    const struct cell *c = find(sets[0], "ed_rate", "total", "all");
    assert_non_null(c);
    assert_true(c->members == 120 && c->member_months == 14000000 && c->numerator == 35);
    c = find(sets[0], "ed_rate", "race", "WHITE");
    assert_non_null(c);
    assert_int_equal(c->reason, REASON_COUNT);
    c = find(sets[0], "cost_pmpm", "race*disability", "BLACK*Y");
    assert_non_null(c);
    /* exact units: cents and cents^2 */
    assert_true(c->numerator == 4200050 && c->sum_sq == (cell_i128)3100000000000);
    c = find(sets[1], "ed_rate", "race", "ASIAN");
    assert_non_null(c);
    assert_true(c->numerator == 12);
    c = find(sets[1], "ed_rate", "race", "BLACK");
    assert_non_null(c);
    assert_int_equal(c->reason, REASON_SECONDARY);
    /* cellset_get works on the result (sorted). */
    assert_non_null(cellset_get(sets[0], M_ED_RATE, cellset_find_table(sets[0], "total"), 0));
    cells_read_free(&sets, n);
    assert_null(sets);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct cellset *cs = cellset_new();
    assert_non_null(cs);
    snprintf(cs->org, sizeof cs->org, "clinic,north"); /* needs quoting */
    snprintf(cs->round, sizeof cs->round, "r7");
    const char *payer[] = {"MEDICAID", "DUAL"};
    const char *const *labels[1] = {payer};
    int dims[1] = {S_PAYER}, cards[1] = {2};
    int t = cellset_add_table(cs, 1, dims, cards, labels);
    assert_int_equal(t, 0);
    struct cell a = {.measure = M_WELLNESS, .table = 0, .stratum = 0, .members = 200,
                     .member_months = 2300, .denominator = 200, .numerator = 77};
    struct cell b = {.measure = M_WELLNESS, .table = 0, .stratum = 1, .reason = REASON_COUNT};
    assert_non_null(cellset_append(cs, &a));
    assert_non_null(cellset_append(cs, &b));
    char path[300];
    snprintf(path, sizeof path, "%s/rt.csv", tmpdir);
    assert_int_equal(cellset_write_csv(cs, path), 0);
    struct cellset **sets = NULL;
    int n = 0;
    char err[512];
    assert_int_equal(cells_read_csv(path, &sets, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(sets[0]->org, "clinic,north");
    const struct cell *c = find(sets[0], "wellness", "payer", "MEDICAID");
    assert_non_null(c);
    assert_true(c->denominator == 200 && c->numerator == 77 && c->member_months == 2300);
    c = find(sets[0], "wellness", "payer", "DUAL");
    assert_non_null(c);
    assert_int_equal(c->reason, REASON_COUNT);
    cells_read_free(&sets, n);
    cellset_destroy(&cs);
}

/* Every cells file writer formats the numbers with cell_format_fields: exact
 * for values a double cannot print in 15 digits (the round report's
 * per-organization rows once went through doubles and wrote
 * 393718869750.08893 for a sum of squares, which its own reader refused). */
static void test_exact_text(void **state)
{
    (void)state;
    struct cell c = {.measure = M_COST_PMPM, .members = 41,
                     .member_months = 4923456789LL, /* 492345.6789 months */
                     .denominator = 4923456789LL,
                     .numerator = 537888029830LL,   /* 5378880298.30 USD */
                     .sum_sq = (cell_i128)3937188697500889LL};
    char v[5][CELL_FIELD_TEXT];
    cell_format_fields(&c, v);
    assert_string_equal(v[0], "41");
    assert_string_equal(v[1], "492345.6789");
    assert_string_equal(v[2], "492345.6789");
    assert_string_equal(v[3], "5378880298.30");
    assert_string_equal(v[4], "393718869750.0889");
    char row[512];
    snprintf(row, sizeof row,
             "org,round,measure,stratifier,stratum,members,member_months,denominator,numerator,"
             "sum_sq,suppressed,reason\no,r,cost_pmpm,total,all,%s,%s,%s,%s,%s,0,\n",
             v[0], v[1], v[2], v[3], v[4]);
    struct cellset **sets = NULL;
    int n = 0;
    char err[512];
    assert_int_equal(cells_read_buffer("t", row, strlen(row), &sets, &n, err, sizeof err), 0);
    const struct cell *r = find(sets[0], "cost_pmpm", "total", "all");
    assert_non_null(r);
    assert_true(r->member_months == c.member_months && r->numerator == c.numerator &&
                r->sum_sq == c.sum_sq);
    cells_read_free(&sets, n);
}

static void test_pooled_columns(void **state)
{
    (void)state;
    const char *text =
        "org,round,measure,stratifier,stratum,members,member_months,denominator,numerator,"
        "sum_sq,suppressed,reason,n_orgs,n_withheld\r\n"
        "pooled,r1,wellness,total,all,900,10000,900,300,,0,partial,3,1\r\n"
        "pooled,r1,wellness,sex,F,500,5000,500,170,,0,,4,0\r\n";
    struct cellset **sets = NULL;
    int n = 0;
    char err[512];
    assert_int_equal(read_text(text, &sets, &n, err, sizeof err), 0);
    const struct cell *c = find(sets[0], "wellness", "total", "all");
    assert_non_null(c);
    assert_int_equal(c->reason, REASON_NONE);
    assert_int_equal(c->n_orgs, 3);
    assert_int_equal(c->n_withheld, 1);
    c = find(sets[0], "wellness", "sex", "F");
    assert_int_equal(c->n_orgs, 4);
    assert_int_equal(c->n_withheld, 0);
    cells_read_free(&sets, n);
}

/* Each bad file must fail with CELLS_READ_EINPUT and a message that starts
 * with the file's name, line and column and quotes the bad value. */
static void expect_error(const char *text, const char *where, const char *quote)
{
    struct cellset **sets = NULL;
    int n = 0;
    char err[512];
    assert_int_equal(read_text(text, &sets, &n, err, sizeof err), CELLS_READ_EINPUT);
    assert_null(sets);
    assert_int_equal(n, 0);
    char expect[400];
    snprintf(expect, sizeof expect, "%s/in.csv:%s", tmpdir, where);
    if (strncmp(err, expect, strlen(expect)) != 0)
        fail_msg("message '%s' does not start with '%s'", err, expect);
    if (quote && !strstr(err, quote))
        fail_msg("message '%s' does not quote '%s'", err, quote);
}

static void test_bad_files(void **state)
{
    (void)state;
    /* Wrong header: column 9 is not numerator. */
    expect_error("org,round,measure,stratifier,stratum,members,member_months,denominator,"
                 "numerators,sum_sq,suppressed,reason\n", "1:9:", "'numerators'");
    /* Header with too few columns. */
    expect_error("org,round,measure\n", "1: ", "3 columns");
    /* Ragged row on line 3. */
    expect_error(HEADER "a,r,wellness,total,all,10,100,10,5,,0,\n"
                 "a,r,wellness,sex,F,10,100,10,5,0,\n", "3: ", "11 fields");
    /* Bad number in numerator (column 9), line 2. */
    expect_error(HEADER "a,r,wellness,total,all,10,100,10,5x,,0,\n", "2:9:", "'5x'");
    /* Negative number. */
    expect_error(HEADER "a,r,wellness,total,all,10,-100,10,5,,0,\n", "2:7:", "'-100'");
    /* Suppressed row with a number (member_months, column 7), line 3. */
    expect_error(HEADER "a,r,wellness,total,all,10,100,10,5,,0,\n"
                 "a,r,wellness,sex,F,,120,,,,1,count\n", "3:7:", "'120'");
    /* Suppressed row without a reason. */
    expect_error(HEADER "a,r,wellness,sex,F,,,,,,1,\n", "2:12:", NULL);
    /* Released row with a withholding reason. */
    expect_error(HEADER "a,r,wellness,sex,F,10,100,10,5,,0,count\n", "2:12:", "'count'");
    /* Unknown measure, stratifier, reason, suppressed value. */
    expect_error(HEADER "a,r,wellnes,total,all,10,100,10,5,,0,\n", "2:3:", "'wellnes'");
    expect_error(HEADER "a,r,wellness,rase,X,10,100,10,5,,0,\n", "2:4:", "'rase'");
    expect_error(HEADER "a,r,wellness,sex,F,,,,,,1,small\n", "2:12:", "'small'");
    expect_error(HEADER "a,r,wellness,sex,F,10,100,10,5,,yes,\n", "2:11:", "'yes'");
    /* Stratum that does not match the stratifier's dimensions. */
    expect_error(HEADER "a,r,wellness,race*sex,BLACK,10,100,10,5,,0,\n", "2:5:", "'BLACK'");
    expect_error(HEADER "a,r,wellness,total,F,10,100,10,5,,0,\n", "2:5:", "'F'");
    /* Proportion numerator above its denominator. */
    expect_error(HEADER "a,r,wellness,total,all,10,100,10,11,,0,\n", "2:9:", "11");
    /* Duplicate cell: reported on the second line, naming the first. */
    expect_error(HEADER "a,r,wellness,sex,F,10,100,10,5,,0,\n"
                 "a,r,wellness,sex,M,10,100,10,5,,0,\n"
                 "a,r,wellness,sex,F,10,100,10,5,,0,\n", "4: ", "line 2");
    /* Two rounds for one organization. */
    expect_error(HEADER "a,r1,wellness,sex,F,10,100,10,5,,0,\n"
                 "a,r2,wellness,sex,M,10,100,10,5,,0,\n", "3:2:", "'r2'");
    /* Empty file. */
    expect_error("", "1: ", "empty");
    /* Unterminated quote. */
    expect_error(HEADER "a,r,wellness,sex,\"F,10,100,10,5,,0,\n", "2: ", "malformed");
}

/* A three-way table: strata of three codes, row-major, each label list
 * the union of its rows'; bad three-way names and strata fail closed. */
static void test_three_way(void **state)
{
    (void)state;
    const char *text = HEADER
        "a,r,population,race*disability*cmc,ASIAN*Y*N,12,100,12,12,,0,\n"
        "a,r,population,race*disability*cmc,ASIAN*N*N,20,200,20,20,,0,\n"
        "a,r,population,race*disability*cmc,BLACK*Y*Y,,,,,,1,count\n"
        "a,r,population,race*disability*cmc,BLACK*N*Y,15,150,15,15,,0,\n";
    struct cellset **sets = NULL;
    int n = 0;
    char err[512];
    assert_int_equal(read_text(text, &sets, &n, err, sizeof err), 0);
    int t = cellset_find_table(sets[0], "race*disability*cmc");
    assert_true(t >= 0);
    const struct cell_table *tb = &sets[0]->tables[t];
    assert_int_equal(tb->ndim, 3);
    assert_int_equal(tb->nstrata, 2 * 2 * 2);
    const struct cell *c = find(sets[0], "population", "race*disability*cmc", "BLACK*N*Y");
    assert_non_null(c);
    assert_int_equal(c->members, 15);
    int idx[CELLS_MAX_DIM];
    cell_table_coords(tb, c->stratum, idx);
    assert_string_equal(tb->labels[0][idx[0]], "BLACK");
    assert_string_equal(tb->labels[1][idx[1]], "N");
    assert_string_equal(tb->labels[2][idx[2]], "Y");
    assert_int_equal(cell_table_stratum(tb, idx), c->stratum);
    c = find(sets[0], "population", "race*disability*cmc", "BLACK*Y*Y");
    assert_non_null(c);
    assert_int_equal(c->reason, REASON_COUNT);
    cells_read_free(&sets, n);

    expect_error(HEADER "a,r,population,race*disability*cmc,ASIAN*Y,12,100,12,12,,0,\n", "2:5:",
                 "'ASIAN*Y'");
    expect_error(HEADER "a,r,population,race*disability*cmc,ASIAN*Y*N*N,12,100,12,12,,0,\n",
                 "2:5:", NULL);
    expect_error(HEADER "a,r,population,race*disability*cmc,ASIAN**N,12,100,12,12,,0,\n",
                 "2:5:", NULL);
    expect_error(HEADER "a,r,population,race*disability*race,ASIAN*Y*ASIAN,12,100,12,12,,0,\n",
                 "2:4:", "three different");
    expect_error(HEADER "a,r,population,race*sex*cmc*payer,ASIAN*F*N*MEDICAID,1,1,1,1,,0,\n",
                 "2:4:", NULL);
}

static void test_missing_file(void **state)
{
    (void)state;
    struct cellset **sets = NULL;
    int n = 0;
    char err[512];
    assert_int_equal(cells_read_csv("/nonexistent/cells.csv", &sets, &n, err, sizeof err),
                     CELLS_READ_ESYS);
    assert_non_null(strstr(err, "/nonexistent/cells.csv"));
    cells_read_free(&sets, n); /* safe on NULL */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_exact_text),
        cmocka_unit_test(test_pooled_columns),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_three_way),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
