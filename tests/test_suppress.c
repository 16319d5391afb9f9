/*
 * test_suppress.c - primary and complementary suppression (common/suppress).
 *
 * Cell sets are built from explicit member lists (so every margin adds up),
 * suppressed, and then checked by hand-computed expectations and by the
 * independent LP audit of tests/support/lp_audit.c, whose unknowns are the
 * finest atoms of the members' attributes.
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
#include <time.h>

#include <glpk.h>

#include "cells.h"
#include "lp_audit.h"
#include "suppress.h"

/* ---- members and their strata -------------------------------------------- */

struct mem {
    int race, eth, sex, age, lang, payer, dis;
    double months, cost;
    int wellness, ed, screened, food;
};

static const int band_lo[] = {0, 5, 12, 18, 26, 45, 65, 75};
static const char *const band_labels[] = {"0-4", "5-11", "12-17", "18-25", "26-44",
                                          "45-64", "65-74", "75+", "UNKNOWN"};
enum { NBAND = 9 };
/* language codes of members: eng spa vie zho und */
static const char *const lang_labels[] = {"eng", "spa", "other", "und"};
enum { NLANG_MEM = 5 };

static int band_of(int age)
{
    if (age < 0)
        return NBAND - 1;
    int b = 0;
    for (int i = 0; i < NBAND - 1; i++)
        if (age >= band_lo[i])
            b = i;
    return b;
}

static int strat_value(int s, const struct mem *m)
{
    switch (s) {
    case S_RACE: return m->race;
    case S_ETHNICITY: return m->eth;
    case S_RACE_ETHNICITY: return catalog_race_ethnicity(m->race, m->eth);
    case S_SEX: return m->sex;
    case S_PAYER: return m->payer;
    case S_DISABILITY: return m->dis;
    case S_AGE_BAND: return band_of(m->age);
    case S_AGE_STD: return catalog_age_std(m->age);
    case S_LANGUAGE: return m->lang == 0 ? 0 : m->lang == 1 ? 1 : m->lang == 4 ? 3 : 2;
    case S_NON_ENGLISH: return m->lang == 0 ? NONENG_NO : m->lang == 4 ? NONENG_UNKNOWN : NONENG_YES;
    }
    return 0;
}

static int strat_labels(int s, const char *const **labels)
{
    switch (s) {
    case S_RACE: *labels = race_codes; return RACE__COUNT;
    case S_ETHNICITY: *labels = ethnicity_codes; return ETH__COUNT;
    case S_RACE_ETHNICITY: *labels = race_ethnicity_codes; return RE__COUNT;
    case S_SEX: *labels = sex_codes; return SEX__COUNT;
    case S_PAYER: *labels = payer_codes; return PAYER__COUNT;
    case S_DISABILITY: *labels = ynu_codes; return YNU__COUNT;
    case S_AGE_BAND: *labels = band_labels; return NBAND;
    case S_AGE_STD: *labels = age_std_codes; return AGESTD__COUNT + 1;
    case S_LANGUAGE: *labels = lang_labels; return 4;
    case S_NON_ENGLISH: *labels = non_english_codes; return NONENG__COUNT;
    }
    return 0;
}

struct tspec {
    int ndim, d0, d1, d2;
};

/* Stratum of member m in table tb (row-major over its dimensions). */
static int mem_stratum(const struct cell_table *tb, const struct mem *m)
{
    int idx[CELLS_MAX_DIM];
    for (int d = 0; d < tb->ndim; d++)
        idx[d] = strat_value(tb->dim[d], m);
    return cell_table_stratum(tb, idx);
}

static const int std_measures[] = {M_POPULATION, M_WELLNESS, M_ED_RATE, M_COST_PMPM,
                                   M_HRSN_SCREENING, M_HRSN_FOOD};

/* Builds the cells of the measures over the tables from the members. */
static struct cellset *build(const struct mem *ms, int n, const struct tspec *ts, int nt,
                             const int *measures, int nm)
{
    struct cellset *cs = cellset_new();
    assert_non_null(cs);
    for (int t = 0; t < nt; t++) {
        int dims[3] = {ts[t].d0, ts[t].d1, ts[t].d2}, cards[3] = {0, 0, 0};
        const char *const *labels[3] = {NULL, NULL, NULL};
        for (int d = 0; d < ts[t].ndim; d++)
            cards[d] = strat_labels(dims[d], &labels[d]);
        assert_int_equal(cellset_add_table(cs, ts[t].ndim, dims, cards, labels), t);
    }
    for (int t = 0; t < nt; t++) {
        const struct cell_table *tb = &cs->tables[t];
        for (int q = 0; q < nm; q++)
            for (int s = 0; s < tb->nstrata; s++) {
                struct cell c = {.measure = measures[q], .table = t, .stratum = s};
                for (int i = 0; i < n; i++) {
                    const struct mem *m = &ms[i];
                    if (mem_stratum(tb, m) != s)
                        continue;
                    switch (measures[q]) {
                    case M_POPULATION:
                        c.members++; c.member_months += m->months;
                        c.denominator++; c.numerator++;
                        break;
                    case M_WELLNESS:
                        c.members++; c.member_months += m->months;
                        c.denominator++; c.numerator += m->wellness;
                        break;
                    case M_HRSN_SCREENING:
                        c.members++; c.member_months += m->months;
                        c.denominator++; c.numerator += m->screened;
                        break;
                    case M_ED_RATE:
                        c.members++; c.member_months += m->months;
                        c.denominator += m->months; c.numerator += m->ed;
                        break;
                    case M_COST_PMPM:
                        c.members++; c.member_months += m->months;
                        c.denominator += m->months; c.numerator += m->cost;
                        c.sum_sq += m->cost * m->cost;
                        if (m->cost > c.max_contrib)
                            c.max_contrib = m->cost;
                        break;
                    case M_HRSN_FOOD:
                        if (!m->screened)
                            break;
                        c.members++; c.member_months += m->months;
                        c.denominator++; c.numerator += m->food;
                        break;
                    }
                }
                assert_non_null(cellset_append(cs, &c));
            }
    }
    cellset_sort(cs);
    return cs;
}

/* ---- the audit's atoms -------------------------------------------------------- */

enum { A_RACE, A_ETH, A_SEX, A_AGE, A_LANG, A_PAYER, A_DIS };
static int age_atom_rep[64], n_age_atoms;

/* Age atoms by brute force over ages -1..120: distinct (band, std) pairs. */
static void age_atoms_init(void)
{
    int key_seen[NBAND * 16];
    memset(key_seen, 0, sizeof key_seen);
    n_age_atoms = 0;
    for (int age = -1; age <= 120; age++) {
        int key = band_of(age) * 16 + catalog_age_std(age);
        if (!key_seen[key]) {
            key_seen[key] = 1;
            age_atom_rep[n_age_atoms++] = age;
        }
    }
}

struct space_ctx {
    int attrs[LPA_MAX_ATTR];
    int nattr;
};

static int attr_card(int a)
{
    switch (a) {
    case A_RACE: return RACE__COUNT;
    case A_ETH: return ETH__COUNT;
    case A_SEX: return SEX__COUNT;
    case A_AGE: return n_age_atoms;
    case A_LANG: return NLANG_MEM;
    case A_PAYER: return PAYER__COUNT;
    default: return YNU__COUNT;
    }
}

static int space_stratum(void *vctx, const struct cellset *cs, int table, const int *atom)
{
    const struct space_ctx *x = vctx;
    struct mem m;
    memset(&m, 0, sizeof m);
    for (int i = 0; i < x->nattr; i++) {
        int v = atom[i];
        switch (x->attrs[i]) {
        case A_RACE: m.race = v; break;
        case A_ETH: m.eth = v; break;
        case A_SEX: m.sex = v; break;
        case A_AGE: m.age = age_atom_rep[v]; break;
        case A_LANG: m.lang = v; break;
        case A_PAYER: m.payer = v; break;
        case A_DIS: m.dis = v; break;
        }
    }
    return mem_stratum(&cs->tables[table], &m);
}

static struct lpa_space make_space(struct space_ctx *x, int nattr, const int *attrs)
{
    struct lpa_space sp = {.nattr = nattr, .stratum_of = space_stratum, .ctx = x};
    x->nattr = nattr;
    for (int i = 0; i < nattr; i++) {
        x->attrs[i] = attrs[i];
        sp.card[i] = attr_card(attrs[i]);
    }
    return sp;
}

static void audit_ok(const struct cellset *cs, const struct lpa_space *sp, int k)
{
    struct lpa_result res;
    assert_int_equal(lpa_audit(cs, sp, k, 0.6, 0.15, &res), 0);
    if (res.violations)
        fail_msg("audit: %d violation(s); first: %s", res.violations, res.first);
}

static struct cell *get(const struct cellset *cs, int measure, const char *table, int stratum)
{
    int t = cellset_find_table(cs, table);
    assert_true(t >= 0);
    struct cell *c = cellset_get(cs, measure, t, stratum);
    assert_non_null(c);
    return c;
}

static void add_members(struct mem *ms, int *n, int count, struct mem proto)
{
    for (int i = 0; i < count; i++) {
        ms[(*n)++] = proto;
    }
}

static const struct mem base_mem = {.race = RACE_WHITE, .eth = ETH_NOT_HISPANIC, .sex = SEX_F,
                                    .age = 40, .lang = 0, .payer = PAYER_MEDICAID,
                                    .dis = YNU_N, .months = 12, .cost = 100};

/* ---- primary rules ---------------------------------------------------------------- */

static cell_reason primary(int measure, double members, double den, double num, double mc)
{
    struct suppress_params p;
    suppress_params_init(&p);
    struct cell c = {.measure = measure, .members = members, .denominator = den,
                     .numerator = num, .max_contrib = mc, .member_months = 12 * members};
    return suppress_primary_reason(&c, &p);
}

static void test_primary_rules(void **state)
{
    (void)state;
    struct suppress_params p;
    suppress_params_init(&p);
    assert_int_equal(p.k, 11);
    assert_true(p.dominance == 0.6);
    /* count: 0 released as zero, 1 and 10 withheld, 11 released */
    assert_int_equal(primary(M_POPULATION, 0, 0, 0, 0), REASON_NONE);
    assert_int_equal(primary(M_POPULATION, 1, 1, 1, 0), REASON_COUNT);
    assert_int_equal(primary(M_POPULATION, 10, 10, 10, 0), REASON_COUNT);
    assert_int_equal(primary(M_POPULATION, 11, 11, 11, 0), REASON_NONE);
    /* proportion: numerator count, and the complement den - num */
    assert_int_equal(primary(M_WELLNESS, 30, 30, 0, 0), REASON_NONE);
    assert_int_equal(primary(M_WELLNESS, 30, 30, 1, 0), REASON_COUNT);
    assert_int_equal(primary(M_WELLNESS, 30, 30, 10, 0), REASON_COUNT);
    assert_int_equal(primary(M_WELLNESS, 30, 30, 11, 0), REASON_NONE);
    assert_int_equal(primary(M_WELLNESS, 30, 30, 19, 0), REASON_NONE);     /* complement 11 */
    assert_int_equal(primary(M_WELLNESS, 30, 30, 20, 0), REASON_COMPLEMENT); /* complement 10 */
    assert_int_equal(primary(M_WELLNESS, 30, 30, 29, 0), REASON_COMPLEMENT); /* complement 1 */
    assert_int_equal(primary(M_WELLNESS, 30, 30, 30, 0), REASON_NONE);     /* complement 0 */
    assert_int_equal(primary(M_WELLNESS, 10, 10, 0, 0), REASON_COUNT);     /* members 10 */
    /* readmissions: denominator (admissions) is a count too */
    assert_int_equal(primary(M_READMIT_30D, 12, 10, 0, 0), REASON_COUNT);
    /* rate: members below k -> denominator; a small event count -> count */
    assert_int_equal(primary(M_ED_RATE, 10, 120, 40, 0), REASON_DENOMINATOR);
    assert_int_equal(primary(M_ED_RATE, 11, 132, 10, 0), REASON_COUNT);
    assert_int_equal(primary(M_ED_RATE, 11, 132, 11, 0), REASON_NONE);
    assert_int_equal(primary(M_ED_RATE, 11, 132, 0, 0), REASON_NONE);
    /* mean */
    assert_int_equal(primary(M_EXPERIENCE, 10, 10, 80, 0), REASON_DENOMINATOR);
    assert_int_equal(primary(M_EXPERIENCE, 11, 11, 3, 0), REASON_NONE);
    /* cost: members, then the dominance share (0.6 * 1000 = 600) */
    assert_int_equal(primary(M_COST_PMPM, 10, 120, 100000, 10000), REASON_DENOMINATOR);
    assert_int_equal(primary(M_COST_PMPM, 20, 240, 100000, 60000), REASON_NONE);
    assert_int_equal(primary(M_COST_PMPM, 20, 240, 100000, 60001), REASON_DOMINANCE);
    assert_int_equal(primary(M_COST_PMPM, 20, 240, 0, 0), REASON_NONE);
    /* k raised by policy */
    p.k = 20;
    struct cell c = {.measure = M_POPULATION, .members = 15, .denominator = 15, .numerator = 15};
    assert_int_equal(suppress_primary_reason(&c, &p), REASON_COUNT);
    assert_string_equal(suppress_strerror(SUPPRESS_ELP),
                        "complementary suppression could not protect every cell");
}

static void test_bad_params(void **state)
{
    (void)state;
    struct cellset *cs = cellset_new();
    struct suppress_params p = {0, 0.6, 0.15, 0};
    assert_int_equal(suppress_apply(cs, &p, NULL), SUPPRESS_EINVAL);
    p = (struct suppress_params){11, 1.5, 0.15, 0};
    assert_int_equal(suppress_apply(cs, &p, NULL), SUPPRESS_EINVAL);
    p = (struct suppress_params){11, 0.6, 1.5, 0};
    assert_int_equal(suppress_apply(cs, &p, NULL), SUPPRESS_EINVAL);
    p = (struct suppress_params){11, 0.6, -0.1, 0};
    assert_int_equal(suppress_apply(cs, &p, NULL), SUPPRESS_EINVAL);
    struct cell c = {.measure = M_POPULATION, .table = 3, .members = 5};
    assert_non_null(cellset_append(cs, &c));
    assert_int_equal(suppress_apply(cs, NULL, NULL), SUPPRESS_EINVAL);
    cellset_destroy(&cs);
    assert_null(cs);
}

/* ---- complementary, one-way ------------------------------------------------------ */

static const struct tspec t_race[] = {{0, 0, 0, 0}, {1, S_RACE, 0, 0}};

/* race: AIAN 5, ASIAN 30, BLACK 40, WHITE 25. AIAN is a small count; the
 * total gives AIAN = 100 - 95, so one complement is needed: the smallest
 * that lets AIAN reach 11 is WHITE (25 >= 6), giving AIAN in [0, 30]. */
static void test_oneway_single(void **state)
{
    (void)state;
    struct mem ms[200];
    int n = 0;
    struct mem m = base_mem;
    m.race = RACE_AIAN; add_members(ms, &n, 5, m);
    m.race = RACE_ASIAN; add_members(ms, &n, 30, m);
    m.race = RACE_BLACK; add_members(ms, &n, 40, m);
    m.race = RACE_WHITE; add_members(ms, &n, 25, m);
    int meas[] = {M_POPULATION};
    struct cellset *cs = build(ms, n, t_race, 2, meas, 1);
    struct suppress_report rep;
    assert_int_equal(suppress_apply(cs, NULL, &rep), 0);
    assert_int_equal(get(cs, M_POPULATION, "race", RACE_AIAN)->reason, REASON_COUNT);
    assert_int_equal(get(cs, M_POPULATION, "race", RACE_WHITE)->reason, REASON_SECONDARY);
    assert_int_equal(get(cs, M_POPULATION, "race", RACE_ASIAN)->reason, REASON_NONE);
    assert_int_equal(get(cs, M_POPULATION, "race", RACE_BLACK)->reason, REASON_NONE);
    assert_int_equal(get(cs, M_POPULATION, "total", 0)->reason, REASON_NONE);
    assert_int_equal(rep.cells[REASON_COUNT], 1);
    assert_int_equal(rep.cells[REASON_SECONDARY], 1);
    assert_int_equal(rep.cells[REASON_NONE], 11 - 2);
    struct space_ctx x;
    int attrs[] = {A_RACE};
    struct lpa_space sp = make_space(&x, 1, attrs);
    double lo, hi;
    assert_int_equal(lpa_range(cs, &sp, CH_MEMBERS_ALL, 1, RACE_AIAN, &lo, &hi), 0);
    assert_true(fabs(lo - 0) < 1e-6 && fabs(hi - 30) < 1e-6);
    audit_ok(cs, &sp, 11);
    cellset_destroy(&cs);
}

/* A group of withheld cells whose sum is released must itself reach k:
 * AIAN 3 and ASIAN 4 are both small; hidden together their sum 7 is known,
 * so AIAN <= 7 < 11. A third cell is needed: the smallest covering the
 * deficit 4 is WHITE 43 (not BLACK 50). */
static void test_oneway_group_sum(void **state)
{
    (void)state;
    struct mem ms[200];
    int n = 0;
    struct mem m = base_mem;
    m.race = RACE_AIAN; add_members(ms, &n, 3, m);
    m.race = RACE_ASIAN; add_members(ms, &n, 4, m);
    m.race = RACE_BLACK; add_members(ms, &n, 50, m);
    m.race = RACE_WHITE; add_members(ms, &n, 43, m);
    int meas[] = {M_POPULATION};
    struct cellset *cs = build(ms, n, t_race, 2, meas, 1);
    assert_int_equal(suppress_apply(cs, NULL, NULL), 0);
    assert_int_equal(get(cs, M_POPULATION, "race", RACE_AIAN)->reason, REASON_COUNT);
    assert_int_equal(get(cs, M_POPULATION, "race", RACE_ASIAN)->reason, REASON_COUNT);
    assert_int_equal(get(cs, M_POPULATION, "race", RACE_WHITE)->reason, REASON_SECONDARY);
    assert_int_equal(get(cs, M_POPULATION, "race", RACE_BLACK)->reason, REASON_NONE);
    struct space_ctx x;
    int attrs[] = {A_RACE};
    struct lpa_space sp = make_space(&x, 1, attrs);
    double lo, hi;
    assert_int_equal(lpa_range(cs, &sp, CH_MEMBERS_ALL, 1, RACE_ASIAN, &lo, &hi), 0);
    assert_true(lo < 1 && fabs(hi - 50) < 1e-6); /* 3 + 4 + 43 */
    audit_ok(cs, &sp, 11);
    cellset_destroy(&cs);
}

/* ---- complementary, two-way ------------------------------------------------------- */

static const struct tspec t_race_sex[] = {{0, 0, 0, 0}, {1, S_RACE, 0, 0}, {1, S_SEX, 0, 0},
                                          {2, S_RACE, S_SEX, 0}};

static struct cellset *grid(const int counts[3][3], int nmeas, const int *meas)
{
    static struct mem ms[2000];
    int n = 0;
    const int races[3] = {RACE_AIAN, RACE_ASIAN, RACE_BLACK};
    for (int r = 0; r < 3; r++)
        for (int s = 0; s < 3; s++) {
            struct mem m = base_mem;
            m.race = races[r];
            m.sex = s;
            add_members(ms, &n, counts[r][s], m);
        }
    return build(ms, n, t_race_sex, 4, meas, nmeas);
}

static int hidden_in(const struct cellset *cs, int table, int stratum)
{
    return cellset_get(cs, M_POPULATION, table, stratum)->reason != REASON_NONE;
}

/*   F  M  X     A single small cell (AIAN*F = 3) is recoverable from its row
 *   3 20 30     and from its column. The cheapest safe pattern is a
 *  15 40 25     rectangle of four cells; with it AIAN*F ranges over
 *  12 35 50     [0, 3 + min(20, 12)] = [0, 15].                           */
static void test_twoway_rectangle(void **state)
{
    (void)state;
    const int counts[3][3] = {{3, 20, 30}, {15, 40, 25}, {12, 35, 50}};
    int meas[] = {M_POPULATION};
    struct cellset *cs = grid(counts, 1, meas);
    struct suppress_report rep;
    assert_int_equal(suppress_apply(cs, NULL, &rep), 0);
    int t = cellset_find_table(cs, "race*sex");
    assert_int_equal(get(cs, M_POPULATION, "race*sex", RACE_AIAN * SEX__COUNT + SEX_F)->reason,
                     REASON_COUNT);
    assert_int_equal(rep.cells[REASON_SECONDARY], 3);
    /* every row and column holding a withheld cell holds at least two */
    for (int r = 0; r < RACE__COUNT; r++) {
        int h = 0;
        for (int s = 0; s < SEX__COUNT; s++)
            h += hidden_in(cs, t, r * SEX__COUNT + s);
        assert_true(h == 0 || h >= 2);
    }
    for (int s = 0; s < SEX__COUNT; s++) {
        int h = 0;
        for (int r = 0; r < RACE__COUNT; r++)
            h += hidden_in(cs, t, r * SEX__COUNT + s);
        assert_true(h == 0 || h >= 2);
    }
    /* margins are released: nothing small there */
    assert_int_equal(rep.cells[REASON_NONE] + 4, cs->ncells);
    struct space_ctx x;
    int attrs[] = {A_RACE, A_SEX};
    struct lpa_space sp = make_space(&x, 2, attrs);
    double lo, hi;
    assert_int_equal(lpa_range(cs, &sp, CH_MEMBERS_ALL, t, RACE_AIAN * SEX__COUNT + SEX_F, &lo, &hi), 0);
    assert_true(lo < 1e-6 && fabs(hi - 15) < 1e-6);
    audit_ok(cs, &sp, 11);
    cellset_destroy(&cs);
}

/* Four small cells forming a rectangle already have two withheld cells in
 * every row and column, but their ranges stay narrow (AIAN*F = 3 moves
 * between 3 - min(3, 1) = 2 and 3 + min(2, 4) = 5): more must go. */
static void test_twoway_small_rectangle(void **state)
{
    (void)state;
    const int counts[3][3] = {{3, 2, 30}, {4, 1, 25}, {20, 35, 50}};
    int meas[] = {M_POPULATION};
    struct cellset *cs = grid(counts, 1, meas);
    struct suppress_report rep;
    assert_int_equal(suppress_apply(cs, NULL, &rep), 0);
    assert_int_equal(rep.cells[REASON_COUNT], 4);
    assert_true(rep.cells[REASON_SECONDARY] >= 2);
    assert_true(rep.lp_solves > 0);
    assert_int_equal(rep.unmet, 0);
    struct space_ctx x;
    int attrs[] = {A_RACE, A_SEX};
    struct lpa_space sp = make_space(&x, 2, attrs);
    audit_ok(cs, &sp, 11);
    cellset_destroy(&cs);
}

/* ---- derived stratifiers ---------------------------------------------------------- */

/* age_band "0-4" = age_std "0" + "1-4": with 12 infants and 8 aged 2, the
 * band (20) and age_std "0" (12) give "1-4" = 8 by difference unless
 * something more is withheld. */
static void test_age_band_vs_age_std(void **state)
{
    (void)state;
    static struct mem ms[400];
    int n = 0;
    struct mem m = base_mem;
    m.age = 0; add_members(ms, &n, 12, m);
    m.age = 2; add_members(ms, &n, 8, m);
    m.age = 8; add_members(ms, &n, 30, m);
    m.age = 15; add_members(ms, &n, 25, m);
    m.age = 30; add_members(ms, &n, 60, m);
    m.age = 50; add_members(ms, &n, 70, m);
    m.age = 70; add_members(ms, &n, 40, m);
    m.age = 80; add_members(ms, &n, 20, m);
    m.age = 90; add_members(ms, &n, 11, m);
    m.age = -1; add_members(ms, &n, 12, m);
    const struct tspec ts[] = {{0, 0, 0, 0}, {1, S_AGE_BAND, 0, 0}, {1, S_AGE_STD, 0, 0}};
    int meas[] = {M_POPULATION};
    struct cellset *cs = build(ms, n, ts, 3, meas, 1);
    assert_int_equal(suppress_apply(cs, NULL, NULL), 0);
    assert_int_equal(get(cs, M_POPULATION, "age_std", 1)->reason, REASON_COUNT);
    /* the 0-4 band alone would not be withheld, nor age_std "0": the link
     * forces one of them (or their neighbours) out */
    int hidden = get(cs, M_POPULATION, "age_band", 0)->reason != REASON_NONE ||
                 get(cs, M_POPULATION, "age_std", 0)->reason != REASON_NONE;
    assert_true(hidden);
    struct space_ctx x;
    int attrs[] = {A_AGE};
    struct lpa_space sp = make_space(&x, 1, attrs);
    audit_ok(cs, &sp, 11);
    double lo, hi;
    assert_int_equal(lpa_range(cs, &sp, CH_MEMBERS_ALL, 2, 1, &lo, &hi), 0);
    assert_true(lo < 1 && hi >= 11);
    cellset_destroy(&cs);
}

/* race AIAN = 4 (all Hispanic). race_ethnicity releases NH_AIAN = 0,
 * NH_WHITE = 50, NH_BLACK = 30, HISPANIC = 20; race WHITE = 66. Then
 * Hispanic WHITE = 16, so Hispanic AIAN + Hispanic BLACK = 4 and AIAN <= 4
 * even with race BLACK withheld: the race table alone is not enough. */
static void test_race_ethnicity_vs_race(void **state)
{
    (void)state;
    static struct mem ms[400];
    int n = 0;
    struct mem m = base_mem;
    m.race = RACE_AIAN; m.eth = ETH_HISPANIC; add_members(ms, &n, 4, m);
    m.race = RACE_WHITE; m.eth = ETH_NOT_HISPANIC; add_members(ms, &n, 50, m);
    m.race = RACE_WHITE; m.eth = ETH_HISPANIC; add_members(ms, &n, 16, m);
    m.race = RACE_BLACK; m.eth = ETH_NOT_HISPANIC; add_members(ms, &n, 30, m);
    const struct tspec ts[] = {{0, 0, 0, 0}, {1, S_RACE, 0, 0}, {1, S_RACE_ETHNICITY, 0, 0}};
    int meas[] = {M_POPULATION};
    struct cellset *cs = build(ms, n, ts, 3, meas, 1);
    assert_int_equal(suppress_apply(cs, NULL, NULL), 0);
    assert_int_equal(get(cs, M_POPULATION, "race", RACE_AIAN)->reason, REASON_COUNT);
    struct space_ctx x;
    int attrs[] = {A_RACE, A_ETH};
    struct lpa_space sp = make_space(&x, 2, attrs);
    double lo, hi;
    assert_int_equal(lpa_range(cs, &sp, CH_MEMBERS_ALL, 1, RACE_AIAN, &lo, &hi), 0);
    assert_true(lo < 1 && hi >= 11);
    /* more than the one race complement (BLACK) was needed */
    uint64_t withheld = 0;
    for (size_t i = 0; i < cs->ncells; i++)
        withheld += cs->cells[i].reason == REASON_SECONDARY;
    assert_true(withheld >= 2);
    audit_ok(cs, &sp, 11);
    cellset_destroy(&cs);
}

/* non_english "no" = language eng: 5 Spanish speakers among 100. */
static void test_language_non_english(void **state)
{
    (void)state;
    static struct mem ms[400];
    int n = 0;
    struct mem m = base_mem;
    m.lang = 0; add_members(ms, &n, 80, m);
    m.lang = 1; add_members(ms, &n, 5, m);
    m.lang = 2; add_members(ms, &n, 9, m);
    m.lang = 3; add_members(ms, &n, 14, m);
    m.lang = 4; add_members(ms, &n, 13, m);
    const struct tspec ts[] = {{0, 0, 0, 0}, {1, S_LANGUAGE, 0, 0}, {1, S_NON_ENGLISH, 0, 0}};
    int meas[] = {M_POPULATION};
    struct cellset *cs = build(ms, n, ts, 3, meas, 1);
    assert_int_equal(suppress_apply(cs, NULL, NULL), 0);
    assert_int_equal(get(cs, M_POPULATION, "language", 1)->reason, REASON_COUNT);
    /* within language alone, und (13) would do; but non_english "unknown"
     * releases und again, so something more is withheld */
    int more = get(cs, M_POPULATION, "non_english", NONENG_UNKNOWN)->reason != REASON_NONE ||
               get(cs, M_POPULATION, "language", 3)->reason == REASON_NONE;
    assert_true(more);
    struct space_ctx x;
    int attrs[] = {A_LANG};
    struct lpa_space sp = make_space(&x, 1, attrs);
    audit_ok(cs, &sp, 11);
    cellset_destroy(&cs);
}

/* ---- three-way tables ----------------------------------------------------------- */

/* Members over race (AIAN, ASIAN, BLACK) x sex (F, M) x disability (Y, N):
 * counts[r][s][d], every other combination empty. */
static struct cellset *cube(const int counts[3][2][2], const struct tspec *ts, int nt)
{
    static struct mem ms[4000];
    int n = 0;
    const int races[3] = {RACE_AIAN, RACE_ASIAN, RACE_BLACK};
    for (int r = 0; r < 3; r++)
        for (int x = 0; x < 2; x++)
            for (int d = 0; d < 2; d++) {
                struct mem m = base_mem;
                m.race = races[r];
                m.sex = x;
                m.dis = d;
                add_members(ms, &n, counts[r][x][d], m);
            }
    int meas[] = {M_POPULATION};
    return build(ms, n, ts, nt, meas, 1);
}

static int rsd(int race, int sex, int dis)
{
    return (race * SEX__COUNT + sex) * YNU__COUNT + dis;
}

/* Checks cs with the independent audit over race x sex x disability atoms,
 * and the range of AIAN*F*Y. */
static void three_way_audit(const struct cellset *cs)
{
    struct space_ctx x;
    int attrs[] = {A_RACE, A_SEX, A_DIS};
    struct lpa_space sp = make_space(&x, 3, attrs);
    int t = cellset_find_table(cs, "race*sex*disability");
    assert_true(t >= 0);
    double lo, hi;
    assert_int_equal(lpa_range(cs, &sp, CH_MEMBERS_ALL, t, rsd(RACE_AIAN, SEX_F, YNU_Y), &lo,
                               &hi), 0);
    if (!(lo < 1 && hi >= 11))
        fail_msg("AIAN*F*Y = 3 ranges over [%g, %g]", lo, hi);
    audit_ok(cs, &sp, 11);
}

/* AIAN*F*Y = 3 beside AIAN*F*N = 40: the released two-way race*sex gives
 * AIAN*F = 43, so AIAN*F*Y = 43 - 40 unless a second cell of that sum
 * (or AIAN*F itself) is withheld too. */
static void test_three_way_two_way_margin(void **state)
{
    (void)state;
    const int counts[3][2][2] = {{{3, 40}, {30, 25}}, {{20, 35}, {45, 50}}, {{15, 60}, {25, 30}}};
    const struct tspec ts[] = {{0, 0, 0, 0},          {1, S_RACE, 0, 0},
                               {1, S_SEX, 0, 0},      {1, S_DISABILITY, 0, 0},
                               {2, S_RACE, S_SEX, 0}, {3, S_RACE, S_SEX, S_DISABILITY}};
    struct cellset *cs = cube(counts, ts, 6);
    struct suppress_report rep;
    assert_int_equal(suppress_apply(cs, NULL, &rep), 0);
    assert_int_equal(get(cs, M_POPULATION, "race*sex*disability", rsd(RACE_AIAN, SEX_F, YNU_Y))
                         ->reason, REASON_COUNT);
    assert_true(rep.cells[REASON_SECONDARY] >= 1);
    three_way_audit(cs);
    cellset_destroy(&cs);
}

/* No two-way table is released: AIAN*F*Y = 3 is still the one-way race
 * AIAN (= 3 + 40 + 30 + 25) less the other AIAN cells, through the hidden
 * race*sex (or race*disability) margin. */
static void test_three_way_one_way_margin(void **state)
{
    (void)state;
    const int counts[3][2][2] = {{{3, 40}, {30, 25}}, {{20, 35}, {45, 50}}, {{15, 60}, {25, 30}}};
    const struct tspec ts[] = {{0, 0, 0, 0},     {1, S_RACE, 0, 0},
                               {1, S_SEX, 0, 0}, {1, S_DISABILITY, 0, 0},
                               {3, S_RACE, S_SEX, S_DISABILITY}};
    struct cellset *cs = cube(counts, ts, 5);
    struct suppress_report rep;
    assert_int_equal(suppress_apply(cs, NULL, &rep), 0);
    assert_true(rep.cells[REASON_SECONDARY] >= 1);
    three_way_audit(cs);
    cellset_destroy(&cs);
}

/* Two three-way tables share the race*sex margin: race*sex*disability and
 * race*sex*payer (payer MEDICAID for everyone but AIAN*F, split 8 / 35
 * MEDICARE / COMMERCIAL). AIAN*F*Y = 3 with AIAN*F*N = 40 released: AIAN*F
 * = 43 is released by the payer table as 8 + 35, so protecting AIAN*F*Y
 * within race*sex*disability needs the two tables tied through one margin,
 * not two independent hidden ones. */
static void test_three_way_shared_margin(void **state)
{
    (void)state;
    static struct mem ms[2000];
    int n = 0;
    const int counts[3][2][2] = {{{3, 40}, {30, 25}}, {{20, 35}, {45, 50}}, {{15, 60}, {25, 30}}};
    const int races[3] = {RACE_AIAN, RACE_ASIAN, RACE_BLACK};
    for (int r = 0; r < 3; r++)
        for (int x = 0; x < 2; x++)
            for (int d = 0; d < 2; d++) {
                struct mem m = base_mem;
                m.race = races[r];
                m.sex = x;
                m.dis = d;
                for (int i = 0; i < counts[r][x][d]; i++) {
                    m.payer = r == 0 && x == 0 ? (i % 5 == 0 ? PAYER_MEDICARE : PAYER_COMMERCIAL)
                                               : PAYER_MEDICAID;
                    ms[n++] = m;
                }
            }
    const struct tspec ts[] = {{0, 0, 0, 0},
                               {1, S_RACE, 0, 0},
                               {1, S_SEX, 0, 0},
                               {1, S_DISABILITY, 0, 0},
                               {1, S_PAYER, 0, 0},
                               {3, S_RACE, S_SEX, S_DISABILITY},
                               {3, S_RACE, S_SEX, S_PAYER}};
    int meas[] = {M_POPULATION};
    struct cellset *cs = build(ms, n, ts, 7, meas, 1);
    assert_int_equal(suppress_apply(cs, NULL, NULL), 0);
    struct space_ctx x;
    int attrs[] = {A_RACE, A_SEX, A_DIS, A_PAYER};
    struct lpa_space sp = make_space(&x, 4, attrs);
    int t = cellset_find_table(cs, "race*sex*disability");
    double lo, hi;
    assert_int_equal(lpa_range(cs, &sp, CH_MEMBERS_ALL, t, rsd(RACE_AIAN, SEX_F, YNU_Y), &lo,
                               &hi), 0);
    if (!(lo < 1 && hi >= 11))
        fail_msg("AIAN*F*Y = 3 ranges over [%g, %g]", lo, hi);
    audit_ok(cs, &sp, 11);
    cellset_destroy(&cs);
}

/* race*ethnicity*disability with race_ethnicity released: NH_AIAN is the
 * race*ethnicity cell AIAN*NOT_HISPANIC, the hidden margin of the
 * three-way table, so AIAN*NOT_HISPANIC*Y = NH_AIAN - AIAN*NOT_HISPANIC*N
 * even when race AIAN itself tells nothing (its Hispanic cells withheld). */
static void test_three_way_derived_margin(void **state)
{
    (void)state;
    static struct mem ms[2000];
    int n = 0;
    struct mem m = base_mem;
    m.race = RACE_AIAN; m.eth = ETH_NOT_HISPANIC;
    m.dis = YNU_Y; add_members(ms, &n, 3, m);
    m.dis = YNU_N; add_members(ms, &n, 40, m);
    m.eth = ETH_HISPANIC;
    m.dis = YNU_Y; add_members(ms, &n, 2, m);
    m.dis = YNU_N; add_members(ms, &n, 4, m);
    m.race = RACE_WHITE;
    for (int e = 0; e < 2; e++)
        for (int d = 0; d < 2; d++) {
            m.eth = e ? ETH_HISPANIC : ETH_NOT_HISPANIC;
            m.dis = d ? YNU_N : YNU_Y;
            add_members(ms, &n, 30 + 7 * e + 11 * d, m);
        }
    m.race = RACE_BLACK;
    for (int e = 0; e < 2; e++)
        for (int d = 0; d < 2; d++) {
            m.eth = e ? ETH_HISPANIC : ETH_NOT_HISPANIC;
            m.dis = d ? YNU_N : YNU_Y;
            add_members(ms, &n, 25 + 9 * e + 5 * d, m);
        }
    const struct tspec ts[] = {{0, 0, 0, 0},
                               {1, S_RACE, 0, 0},
                               {1, S_ETHNICITY, 0, 0},
                               {1, S_RACE_ETHNICITY, 0, 0},
                               {1, S_DISABILITY, 0, 0},
                               {3, S_RACE, S_ETHNICITY, S_DISABILITY}};
    int meas[] = {M_POPULATION};
    struct cellset *cs = build(ms, n, ts, 6, meas, 1);
    assert_int_equal(suppress_apply(cs, NULL, NULL), 0);
    struct space_ctx x;
    int attrs[] = {A_RACE, A_ETH, A_DIS};
    struct lpa_space sp = make_space(&x, 3, attrs);
    int t = cellset_find_table(cs, "race*ethnicity*disability");
    int st = (RACE_AIAN * ETH__COUNT + ETH_NOT_HISPANIC) * YNU__COUNT + YNU_Y;
    assert_int_equal(get(cs, M_POPULATION, "race*ethnicity*disability", st)->reason, REASON_COUNT);
    double lo, hi;
    assert_int_equal(lpa_range(cs, &sp, CH_MEMBERS_ALL, t, st, &lo, &hi), 0);
    if (!(lo < 1 && hi >= 11))
        fail_msg("AIAN*NOT_HISPANIC*Y = 3 ranges over [%g, %g]", lo, hi);
    audit_ok(cs, &sp, 11);
    cellset_destroy(&cs);
}

/* ---- channels shared by measures ---------------------------------------------------- */

/* hrsn_food.members == hrsn_screening.numerator (members screened). AIAN
 * has 4 screened members, so the complement chosen for it must be withheld
 * in both measures, or hrsn_screening's numerator would give it away. */
static void test_shared_channel(void **state)
{
    (void)state;
    static struct mem ms[400];
    int n = 0;
    struct mem m = base_mem;
    m.screened = 1; m.food = 0;
    m.race = RACE_AIAN; add_members(ms, &n, 4, m);
    m.race = RACE_ASIAN; add_members(ms, &n, 30, m);
    m.race = RACE_BLACK; add_members(ms, &n, 20, m);
    m.race = RACE_WHITE; add_members(ms, &n, 40, m);
    m.screened = 0;
    m.race = RACE_AIAN; add_members(ms, &n, 20, m);
    m.race = RACE_ASIAN; add_members(ms, &n, 30, m);
    m.race = RACE_BLACK; add_members(ms, &n, 30, m);
    m.race = RACE_WHITE; add_members(ms, &n, 30, m);
    int meas[] = {M_POPULATION, M_HRSN_SCREENING, M_HRSN_FOOD};
    struct cellset *cs = build(ms, n, t_race, 2, meas, 3);
    struct suppress_report rep;
    assert_int_equal(suppress_apply(cs, NULL, &rep), 0);
    assert_int_equal(get(cs, M_HRSN_FOOD, "race", RACE_AIAN)->reason, REASON_COUNT);
    assert_int_equal(get(cs, M_HRSN_SCREENING, "race", RACE_AIAN)->reason, REASON_COUNT);
    /* population AIAN (24) is not small, and stays released */
    assert_int_equal(get(cs, M_POPULATION, "race", RACE_AIAN)->reason, REASON_NONE);
    int complements = 0;
    for (int r = 0; r < RACE__COUNT; r++) {
        cell_reason a = get(cs, M_HRSN_FOOD, "race", r)->reason;
        cell_reason b = get(cs, M_HRSN_SCREENING, "race", r)->reason;
        assert_true((a == REASON_NONE) == (b == REASON_NONE));
        if (a == REASON_SECONDARY)
            complements++;
    }
    assert_int_equal(complements, 1);
    /* the complement is BLACK (20 screened: the smallest >= 11 - 4) */
    assert_int_equal(get(cs, M_HRSN_SCREENING, "race", RACE_BLACK)->reason, REASON_SECONDARY);
    struct space_ctx x;
    int attrs[] = {A_RACE};
    struct lpa_space sp = make_space(&x, 1, attrs);
    double lo, hi;
    assert_int_equal(lpa_range(cs, &sp, CH_SCREENED, 1, RACE_AIAN, &lo, &hi), 0);
    assert_true(lo < 1 && fabs(hi - 24) < 1e-6);
    audit_ok(cs, &sp, 11);
    cellset_destroy(&cs);
}

/* ---- inequalities a reader knows (privacy.md, measures.md) -------------------------- */

/* A tiny reader written from the spec, not from suppress.c: its unknowns are
 * a few named quantities per (table, stratum) of one-way tables and the
 * total; a quantity is published by any released cell of the measures that
 * carry it (field f of the cell); every one-way table adds up to the total;
 * the test lists the inequalities the spec implies. */
enum { QF_MEMBERS, QF_NUM };
struct oq {
    int measures[4], nm, field;
};
#define OMAXQ 4
#define OMAXV 256
struct oracle {
    const struct cellset *cs;
    const struct oq *q;
    int nq;
    glp_prob *lp;
    int col[OMAXQ][8][16]; /* quantity, table, stratum -> column */
};

static double oq_value(const struct cell *c, int field)
{
    return field == QF_MEMBERS ? c->members : c->numerator;
}

static void oracle_init(struct oracle *o, const struct cellset *cs, const struct oq *q, int nq)
{
    o->cs = cs;
    o->q = q;
    o->nq = nq;
    o->lp = glp_create_prob();
    int total = cellset_find_table(cs, "total");
    assert_true(total >= 0 && cs->ntables <= 8);
    for (int i = 0; i < nq; i++)
        for (int t = 0; t < cs->ntables; t++)
            for (int st = 0; st < cs->tables[t].nstrata; st++) {
                int j = glp_add_cols(o->lp, 1);
                o->col[i][t][st] = j;
                double v = -1;
                for (int m = 0; m < q[i].nm; m++) {
                    const struct cell *c = cellset_get(cs, q[i].measures[m], t, st);
                    if (c && c->reason == REASON_NONE)
                        v = oq_value(c, q[i].field);
                }
                if (v >= 0)
                    glp_set_col_bnds(o->lp, j, GLP_FX, v, v);
                else
                    glp_set_col_bnds(o->lp, j, GLP_LO, 0, 0);
            }
    for (int i = 0; i < nq; i++)
        for (int t = 0; t < cs->ntables; t++) {
            if (t == total)
                continue;
            int n = cs->tables[t].nstrata, ind[20];
            double val[20];
            for (int st = 0; st < n; st++) {
                ind[st + 1] = o->col[i][t][st];
                val[st + 1] = 1;
            }
            ind[n + 1] = o->col[i][total][0];
            val[n + 1] = -1;
            int r = glp_add_rows(o->lp, 1);
            glp_set_mat_row(o->lp, r, n + 1, ind, val);
            glp_set_row_bnds(o->lp, r, GLP_FX, 0, 0);
        }
}

/* sum of coef[i] * quantity qi[i] at (table ti[i], stratum si[i]) <= 0 */
static void oracle_le(struct oracle *o, int n, const int *qi, const int *ti, const int *si,
                      const double *coef)
{
    int ind[8];
    double val[8];
    for (int i = 0; i < n; i++) {
        ind[i + 1] = o->col[qi[i]][ti[i]][si[i]];
        val[i + 1] = coef[i];
    }
    int r = glp_add_rows(o->lp, 1);
    glp_set_mat_row(o->lp, r, n, ind, val);
    glp_set_row_bnds(o->lp, r, GLP_UP, 0, 0);
}

/* quantity a <= quantity b in every stratum of every table */
static void oracle_le_all(struct oracle *o, int a, int b)
{
    for (int t = 0; t < o->cs->ntables; t++)
        for (int st = 0; st < o->cs->tables[t].nstrata; st++) {
            int qi[2] = {a, b}, ti[2] = {t, t}, si[2] = {st, st};
            double coef[2] = {1, -1};
            oracle_le(o, 2, qi, ti, si, coef);
        }
}

/* min and max of sum coef[i] * quantity qi[i] at (t, st) */
static void oracle_range(struct oracle *o, int n, const int *qi, const double *coef, int t,
                         int st, double *lo, double *hi)
{
    int nc = glp_get_num_cols(o->lp);
    for (int j = 1; j <= nc; j++)
        glp_set_obj_coef(o->lp, j, 0);
    for (int i = 0; i < n; i++)
        glp_set_obj_coef(o->lp, o->col[qi[i]][t][st], coef[i]);
    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    double r[2];
    for (int d = 0; d < 2; d++) {
        glp_set_obj_dir(o->lp, d ? GLP_MAX : GLP_MIN);
        assert_int_equal(glp_simplex(o->lp, &parm), 0);
        int stt = glp_get_status(o->lp);
        assert_true(stt == GLP_OPT || stt == GLP_UNBND);
        r[d] = stt == GLP_UNBND ? (d ? HUGE_VAL : -HUGE_VAL) : glp_get_obj_val(o->lp);
    }
    *lo = r[0];
    *hi = r[1];
}

/* One one-way table over stratifier sid (codes labels[0..n-1]) and the
 * total, with cells of measures meas[0..nm-1]: per stratum members m[],
 * numerator x[measure][stratum] (denominator = members for a proportion
 * of members). */
static struct cellset *oneway(int sid, const char *const *labels, int n, const int *meas,
                              int nm, const double *members, const double x[][8])
{
    struct cellset *cs = cellset_new();
    assert_non_null(cs);
    assert_true(cellset_add_table(cs, 0, NULL, NULL, NULL) >= 0);
    int dims[1] = {sid}, cards[1] = {n};
    const char *const *lab[1] = {labels};
    int t = cellset_add_table(cs, 1, dims, cards, lab);
    assert_true(t >= 0);
    for (int i = 0; i < nm; i++) {
        double tm = 0, tx = 0;
        for (int st = 0; st <= n; st++) {
            double mem = st < n ? members[st] : tm, num = st < n ? x[i][st] : tx;
            if (st < n) {
                tm += mem;
                tx += num;
            }
            struct cell c = {.measure = meas[i], .table = st < n ? t : 0,
                             .stratum = st < n ? st : 0, .members = mem,
                             .member_months = 12 * mem, .denominator = mem,
                             .numerator = num, .max_contrib = 1};
            if (meas[i] == M_POPULATION)
                c.numerator = mem;
            assert_non_null(cellset_append(cs, &c));
        }
    }
    cellset_sort(cs);
    return cs;
}

/* wellness by cmc, Y and U withheld for their complements (7 and 6 without
 * a visit, k = 20): total - N gives their numerators' sum, and since a
 * numerator never exceeds its denominator (released by population) each
 * complement would lie in [0, 13] unless more is withheld. */
static void test_ineq_numerator_le_denominator(void **state)
{
    (void)state;
    int meas[] = {M_POPULATION, M_WELLNESS};
    double members[3] = {40, 200, 30};
    double x[2][8] = {{40, 200, 30}, {33, 100, 24}};
    struct cellset *cs = oneway(S_CMC, ynu_codes, 3, meas, 2, members, x);
    struct suppress_params p;
    suppress_params_init(&p);
    p.k = 20;
    assert_int_equal(suppress_apply(cs, &p, NULL), 0);
    int t = cellset_find_table(cs, "cmc");
    assert_int_equal(cellset_get(cs, M_WELLNESS, t, YNU_Y)->reason, REASON_COMPLEMENT);
    assert_int_equal(cellset_get(cs, M_WELLNESS, t, YNU_U)->reason, REASON_COMPLEMENT);
    struct oq q[2] = {{{M_POPULATION, M_WELLNESS}, 2, QF_MEMBERS}, {{M_WELLNESS}, 1, QF_NUM}};
    struct oracle o;
    oracle_init(&o, cs, q, 2);
    oracle_le_all(&o, 1, 0); /* members with a visit <= members */
    for (int st = 0; st < 3; st++) {
        if (cellset_get(cs, M_WELLNESS, t, st)->reason != REASON_COMPLEMENT)
            continue;
        int qi[2] = {0, 1};
        double coef[2] = {1, -1}, lo, hi;
        oracle_range(&o, 2, qi, coef, t, st, &lo, &hi);
        assert_true(lo < 1);
        assert_true(hi >= 20);
    }
    glp_delete_prob(o.lp);
    cellset_destroy(&cs);
}

/* The complement of a cell whose denominator is below k (issue 12): sex X
 * (7 members, 5 with a visit) and U (9, 7) are withheld for their counts;
 * F and M released leave X + U = 16 members and 12 visits, so unless more is
 * withheld each complement (members - visits) lies in [0, 4], below k = 11,
 * although both denominators are small. The oracle's complement is the
 * difference of two unknowns, with visits <= members. */
static void test_complement_small_denominator(void **state)
{
    (void)state;
    int meas[] = {M_POPULATION, M_WELLNESS};
    double members[4] = {100, 100, 7, 9};
    double x[2][8] = {{100, 100, 7, 9}, {50, 60, 5, 7}};
    struct cellset *cs = oneway(S_SEX, sex_codes, 4, meas, 2, members, x);
    assert_int_equal(suppress_apply(cs, NULL, NULL), 0);
    int t = cellset_find_table(cs, "sex");
    assert_int_equal(cellset_get(cs, M_WELLNESS, t, SEX_X)->reason, REASON_COUNT);
    struct oq q[2] = {{{M_POPULATION, M_WELLNESS}, 2, QF_MEMBERS}, {{M_WELLNESS}, 1, QF_NUM}};
    struct oracle o;
    oracle_init(&o, cs, q, 2);
    oracle_le_all(&o, 1, 0); /* members with a visit <= members */
    for (int st = SEX_X; st <= SEX_U; st++) {
        int qi[2] = {0, 1};
        double coef[2] = {1, -1}, lo, hi;
        oracle_range(&o, 2, qi, coef, t, st, &lo, &hi);
        assert_true(lo < 1);
        assert_true(hi >= 11);
    }
    glp_delete_prob(o.lp);
    cellset_destroy(&cs);
}

/* diabetic members inside members: diabetic X = 3 withheld; if its
 * complement is U, whose 15 members are all diabetic, X + U = 18 and
 * U <= 15 show X >= 3 (non-zero). */
static void test_ineq_subpopulation_le_parent(void **state)
{
    (void)state;
    int meas[] = {M_POPULATION, M_DIABETES_POOR_CONTROL};
    double members[4] = {100, 100, 20, 15};
    struct cellset *cs = cellset_new();
    assert_non_null(cs);
    assert_true(cellset_add_table(cs, 0, NULL, NULL, NULL) >= 0);
    int dims[1] = {S_SEX}, cards[1] = {4};
    const char *const *lab[1] = {sex_codes};
    int t = cellset_add_table(cs, 1, dims, cards, lab);
    double diab[4] = {40, 40, 3, 15}, poor[4] = {20, 20, 0, 0};
    for (int i = 0; i < 2; i++)
        for (int st = 0; st <= 4; st++) {
            double m = 0, d = 0, x = 0;
            for (int j = 0; j < 4; j++)
                if (st == 4 || j == st) {
                    m += members[j];
                    d += diab[j];
                    x += poor[j];
                }
            struct cell c = {.measure = meas[i], .table = st < 4 ? t : 0,
                             .stratum = st < 4 ? st : 0, .members = i ? d : m,
                             .member_months = 12 * (i ? d : m), .denominator = i ? d : m,
                             .numerator = i ? x : m};
            assert_non_null(cellset_append(cs, &c));
        }
    cellset_sort(cs);
    assert_int_equal(suppress_apply(cs, NULL, NULL), 0);
    assert_int_not_equal(cellset_get(cs, M_DIABETES_POOR_CONTROL, t, SEX_X)->reason, REASON_NONE);
    struct oq q[2] = {{{M_POPULATION}, 1, QF_MEMBERS}, {{M_DIABETES_POOR_CONTROL}, 1, QF_MEMBERS}};
    struct oracle o;
    oracle_init(&o, cs, q, 2);
    oracle_le_all(&o, 1, 0); /* diabetic members <= members */
    int qi[1] = {1};
    double coef[1] = {1}, lo, hi;
    oracle_range(&o, 1, qi, coef, t, SEX_X, &lo, &hi);
    assert_true(lo < 1);
    assert_true(hi >= 11);
    glp_delete_prob(o.lp);
    cellset_destroy(&cs);
}

/* hrsn_any >= each domain: any X = 5 withheld; if its complement is Y,
 * whose 15 food-insecure members are released, any X + any Y = 20 and
 * any Y >= 15 leave any X <= 5. */
static void test_ineq_any_ge_domain(void **state)
{
    (void)state;
    int meas[] = {M_HRSN_FOOD, M_HRSN_HOUSING, M_HRSN_ANY};
    double members[4] = {200, 100, 30, 40};
    double x[3][8] = {{20, 15, 0, 0}, {20, 0, 5, 0}, {30, 15, 5, 0}};
    struct cellset *cs = oneway(S_SEX, sex_codes, 4, meas, 3, members, x);
    assert_int_equal(suppress_apply(cs, NULL, NULL), 0);
    int t = cellset_find_table(cs, "sex");
    assert_int_equal(cellset_get(cs, M_HRSN_ANY, t, SEX_X)->reason, REASON_COUNT);
    struct oq q[3] = {{{M_HRSN_FOOD}, 1, QF_NUM}, {{M_HRSN_HOUSING}, 1, QF_NUM},
                      {{M_HRSN_ANY}, 1, QF_NUM}};
    struct oracle o;
    oracle_init(&o, cs, q, 3);
    oracle_le_all(&o, 0, 2);
    oracle_le_all(&o, 1, 2);
    for (int tt = 0; tt < cs->ntables; tt++)
        for (int st = 0; st < cs->tables[tt].nstrata; st++) {
            int qi[3] = {2, 0, 1}, ti[3] = {tt, tt, tt}, si[3] = {st, st, st};
            double coef[3] = {1, -1, -1};
            oracle_le(&o, 3, qi, ti, si, coef); /* any <= food + housing */
        }
    int qi[1] = {2};
    double coef[1] = {1}, lo, hi;
    oracle_range(&o, 1, qi, coef, t, SEX_X, &lo, &hi);
    assert_true(lo < 1);
    assert_true(hi >= 11);
    glp_delete_prob(o.lp);
    cellset_destroy(&cs);
}

/* payer DUAL inside heba_band top (measures.md: top = dual, or ADI decile
 * 10; adi_quintile 5 = deciles 9-10): DUAL = 3 withheld; with heba top 30
 * and adi_quintile 5 27 released, top <= DUAL + quintile 5 shows DUAL >= 3
 * unless more is withheld. */
static void test_ineq_stratum_inside_stratum(void **state)
{
    (void)state;
    struct cellset *cs = cellset_new();
    assert_non_null(cs);
    assert_true(cellset_add_table(cs, 0, NULL, NULL, NULL) >= 0);
    int dp[1] = {S_PAYER}, dh[1] = {S_HEBA_BAND}, dq[1] = {S_ADI_QUINTILE};
    int cp[1] = {PAYER__COUNT}, ch[1] = {HEBA__COUNT}, cq[1] = {ADIQ__COUNT};
    const char *const *lp[1] = {payer_codes}, *const *lh[1] = {heba_codes},
                      *const *lq[1] = {adi_quintile_codes};
    int tp = cellset_add_table(cs, 1, dp, cp, lp);
    int th = cellset_add_table(cs, 1, dh, ch, lh);
    int tq = cellset_add_table(cs, 1, dq, cq, lq);
    /* members: (payer, decile): DUAL decile 3: 3; MEDICAID decile 10: 27;
     * MEDICAID decile 2: 100; COMMERCIAL decile 7: 60; OTHER decile 4: 15 */
    struct { int payer, decile; double n; } g[] = {
        {PAYER_DUAL, 3, 3}, {PAYER_MEDICAID, 10, 27}, {PAYER_MEDICAID, 2, 100},
        {PAYER_COMMERCIAL, 7, 60}, {PAYER_OTHER, 4, 15}};
    double vp[PAYER__COUNT] = {0}, vh[HEBA__COUNT] = {0}, vq[ADIQ__COUNT] = {0}, tot = 0;
    for (int i = 0; i < 5; i++) {
        vp[g[i].payer] += g[i].n;
        vh[catalog_heba_band(g[i].decile, g[i].payer)] += g[i].n;
        vq[catalog_adi_quintile(g[i].decile)] += g[i].n;
        tot += g[i].n;
    }
    struct { int t, n; const double *v; } tabs[4] = {
        {0, 1, &tot}, {tp, PAYER__COUNT, vp}, {th, HEBA__COUNT, vh}, {tq, ADIQ__COUNT, vq}};
    for (int i = 0; i < 4; i++)
        for (int st = 0; st < tabs[i].n; st++) {
            double m = tabs[i].v[st];
            struct cell c = {.measure = M_POPULATION, .table = tabs[i].t, .stratum = st,
                             .members = m, .member_months = 12 * m, .denominator = m,
                             .numerator = m};
            assert_non_null(cellset_append(cs, &c));
        }
    cellset_sort(cs);
    assert_int_equal(suppress_apply(cs, NULL, NULL), 0);
    assert_int_equal(cellset_get(cs, M_POPULATION, tp, PAYER_DUAL)->reason, REASON_COUNT);
    struct oq q[1] = {{{M_POPULATION}, 1, QF_MEMBERS}};
    struct oracle o;
    oracle_init(&o, cs, q, 1);
    int qi[3] = {0, 0, 0}, ti[3] = {th, tp, tq}, si[3] = {HEBA_TOP, PAYER_DUAL, 4};
    double co[3] = {1, -1, -1};
    oracle_le(&o, 3, qi, ti, si, co); /* top <= DUAL + quintile 5 */
    int qj[2] = {0, 0}, tj[2] = {tp, th}, sj[2] = {PAYER_DUAL, HEBA_TOP};
    double cj[2] = {1, -1};
    oracle_le(&o, 2, qj, tj, sj, cj); /* DUAL <= top */
    int qk[1] = {0};
    double ck[1] = {1}, lo, hi;
    oracle_range(&o, 1, qk, ck, tp, PAYER_DUAL, &lo, &hi);
    assert_true(lo < 1);
    assert_true(hi >= 11);
    glp_delete_prob(o.lp);
    cellset_destroy(&cs);
}

/* ---- policy, tiny populations, nothing small ----------------------------------------- */

static void test_policy_cells(void **state)
{
    (void)state;
    struct mem ms[200];
    int n = 0;
    struct mem m = base_mem;
    m.race = RACE_AIAN; add_members(ms, &n, 5, m);
    m.race = RACE_ASIAN; add_members(ms, &n, 30, m);
    m.race = RACE_BLACK; add_members(ms, &n, 3, m);
    m.race = RACE_WHITE; add_members(ms, &n, 62, m);
    int meas[] = {M_POPULATION};
    struct cellset *cs = build(ms, n, t_race, 2, meas, 1);
    /* the policy withholds ASIAN (30) and BLACK (3) */
    get(cs, M_POPULATION, "race", RACE_ASIAN)->reason = REASON_POLICY;
    get(cs, M_POPULATION, "race", RACE_BLACK)->reason = REASON_POLICY;
    struct suppress_report rep;
    assert_int_equal(suppress_apply(cs, NULL, &rep), 0);
    /* AIAN hides among AIAN + ASIAN + BLACK = 38: no complement needed */
    assert_int_equal(get(cs, M_POPULATION, "race", RACE_AIAN)->reason, REASON_COUNT);
    assert_int_equal(get(cs, M_POPULATION, "race", RACE_ASIAN)->reason, REASON_POLICY);
    assert_int_equal(get(cs, M_POPULATION, "race", RACE_BLACK)->reason, REASON_POLICY);
    assert_int_equal(get(cs, M_POPULATION, "race", RACE_WHITE)->reason, REASON_NONE);
    assert_int_equal(rep.cells[REASON_SECONDARY], 0);
    assert_int_equal(rep.cells[REASON_POLICY], 2);
    /* idempotent */
    assert_int_equal(suppress_apply(cs, NULL, &rep), 0);
    assert_int_equal(rep.cells[REASON_COUNT], 1);
    assert_int_equal(rep.cells[REASON_POLICY], 2);
    cellset_destroy(&cs);
}

/* Pooled mode (suppress.h): race WHITE 60, BLACK 25, ASIAN 15 of 100, as
 * pooled by the coordinator; ASIAN had one contributing organization
 * (min_orgs), so its range must reach 15 - 2.25 .. 15 + 2.25 (p = 0.15). */
static struct cellset *pooled_race(int black_partial)
{
    struct mem ms[100];
    int n = 0;
    struct mem m = base_mem;
    m.race = RACE_WHITE; add_members(ms, &n, 60, m);
    m.race = RACE_BLACK; add_members(ms, &n, 25, m);
    m.race = RACE_ASIAN; add_members(ms, &n, 15, m);
    int meas[] = {M_POPULATION};
    struct cellset *cs = build(ms, n, t_race, 2, meas, 1);
    for (size_t i = 0; i < cs->ncells; i++)
        cs->cells[i].n_orgs = 2;
    struct cell *asian = get(cs, M_POPULATION, "race", RACE_ASIAN);
    asian->reason = REASON_MIN_ORGS;
    asian->n_orgs = 1;
    /* a third organization withheld BLACK: 25 is a lower bound */
    get(cs, M_POPULATION, "race", RACE_BLACK)->n_withheld = black_partial;
    return cs;
}

static void test_pooled_mode(void **state)
{
    (void)state;
    struct suppress_params p;
    suppress_params_init(&p);
    p.pooled = SUPPRESS_POOLED;
    struct suppress_report rep;

    /* BLACK complete: ASIAN = 100 - 60 - 25 is pinned. Complements, all
     * non-zero and each opening one equation: the smallest covering the
     * deficit, BLACK (25); then ASIAN + BLACK = 40, ASIAN in [0, 40]. */
    struct cellset *cs = pooled_race(0);
    assert_int_equal(suppress_apply(cs, &p, &rep), 0);
    assert_int_equal(get(cs, M_POPULATION, "race", RACE_BLACK)->reason, REASON_SECONDARY);
    assert_int_equal(get(cs, M_POPULATION, "race", RACE_WHITE)->reason, REASON_NONE);
    assert_int_equal(get(cs, M_POPULATION, "total", 0)->reason, REASON_NONE);
    assert_int_equal(get(cs, M_POPULATION, "race", RACE_ASIAN)->reason, REASON_MIN_ORGS);
    assert_true(rep.requirements >= 1);
    cellset_destroy(&cs);

    /* BLACK partial (true BLACK >= 25): ASIAN = 100 - 60 - BLACK is in
     * [0, 15], so a reader still knows ASIAN <= 15 < 17.25. BLACK is no
     * complement (it already hides its remainder); WHITE (60, smaller than
     * the total) is: then ASIAN is in [0, 75]. */
    cs = pooled_race(1);
    assert_int_equal(suppress_apply(cs, &p, &rep), 0);
    assert_int_equal(get(cs, M_POPULATION, "race", RACE_WHITE)->reason, REASON_SECONDARY);
    assert_int_equal(get(cs, M_POPULATION, "race", RACE_BLACK)->reason, REASON_NONE);
    assert_int_equal(get(cs, M_POPULATION, "total", 0)->reason, REASON_NONE);
    cellset_destroy(&cs);

    /* ASIAN partial too (another organization withheld it) and the total
     * partial (>= 100): the true ASIAN is 100+ - 85 >= 15, but the
     * contributor's own 15 is the true ASIAN minus an unknown withheld
     * part, so it has no lower bound but 0, and no upper bound: met, with
     * no complement. */
    cs = pooled_race(0);
    get(cs, M_POPULATION, "race", RACE_ASIAN)->n_withheld = 1;
    get(cs, M_POPULATION, "total", 0)->n_withheld = 1;
    assert_int_equal(suppress_apply(cs, &p, &rep), 0);
    assert_int_equal(rep.cells[REASON_SECONDARY], 0);
    assert_int_equal(rep.cells[REASON_MIN_ORGS], 1);
    cellset_destroy(&cs);

    /* The same cells outside pooled mode: min_orgs means nothing to the
     * node's suppression, nothing else is withheld. */
    cs = pooled_race(1);
    p.pooled = 0;
    assert_int_equal(suppress_apply(cs, &p, &rep), 0);
    assert_int_equal(rep.requirements, 0);
    assert_int_equal(rep.cells[REASON_SECONDARY], 0);
    cellset_destroy(&cs);
}

static void test_total_below_k(void **state)
{
    (void)state;
    struct mem ms[10];
    int n = 0;
    struct mem m = base_mem;
    m.wellness = 1; m.ed = 2; m.screened = 1;
    add_members(ms, &n, 4, m);
    m.race = RACE_BLACK; m.sex = SEX_M; m.wellness = 0;
    add_members(ms, &n, 2, m);
    int nm = (int)(sizeof std_measures / sizeof std_measures[0]);
    struct cellset *cs = build(ms, n, t_race_sex, 4, std_measures, nm);
    struct suppress_report rep;
    assert_int_equal(suppress_apply(cs, NULL, &rep), 0);
    uint64_t nonzero = 0;
    for (size_t i = 0; i < cs->ncells; i++) {
        const struct cell *c = &cs->cells[i];
        if (c->members > 0) {
            nonzero++;
            assert_int_not_equal(c->reason, REASON_NONE);
        } else {
            assert_int_equal(c->reason, REASON_NONE); /* zeros are released as zero */
        }
    }
    assert_true(nonzero > 0);
    assert_int_equal(rep.cells[REASON_NONE], cs->ncells - nonzero);
    struct space_ctx x;
    int attrs[] = {A_RACE, A_SEX};
    struct lpa_space sp = make_space(&x, 2, attrs);
    audit_ok(cs, &sp, 11);
    cellset_destroy(&cs);
    /* a total alone */
    cs = build(ms, n, t_race, 1, std_measures, nm);
    assert_int_equal(suppress_apply(cs, NULL, &rep), 0);
    assert_int_equal(rep.cells[REASON_NONE], 0);
    assert_int_equal(rep.cells[REASON_SECONDARY], 0);
    cellset_destroy(&cs);
}

static void test_nothing_small_no_lp(void **state)
{
    (void)state;
    const int counts[3][3] = {{30, 20, 30}, {15, 40, 25}, {12, 35, 50}};
    int meas[] = {M_POPULATION};
    struct cellset *cs = grid(counts, 1, meas);
    struct suppress_report rep;
    assert_int_equal(suppress_apply(cs, NULL, &rep), 0);
    assert_int_equal(rep.lp_solves, 0);
    assert_int_equal(rep.requirements, 0);
    assert_int_equal(rep.cells[REASON_NONE], cs->ncells);
    cellset_destroy(&cs);
}

/* Dominance: one member's cost is 70 % of the WHITE cell. */
static void test_dominance_protected(void **state)
{
    (void)state;
    static struct mem ms[200];
    int n = 0;
    struct mem m = base_mem;
    m.race = RACE_AIAN; m.cost = 100; add_members(ms, &n, 20, m);
    m.race = RACE_ASIAN; m.cost = 100; add_members(ms, &n, 30, m);
    m.race = RACE_WHITE; m.cost = 100; add_members(ms, &n, 30, m);
    m.cost = 7000; add_members(ms, &n, 1, m); /* 7000 / (3000 + 7000) */
    int meas[] = {M_POPULATION, M_COST_PMPM};
    struct cellset *cs = build(ms, n, t_race, 2, meas, 2);
    assert_int_equal(suppress_apply(cs, NULL, NULL), 0);
    assert_int_equal(get(cs, M_COST_PMPM, "race", RACE_WHITE)->reason, REASON_DOMINANCE);
    /* the total (7000 of 15000) is not dominated on its own */
    assert_int_equal(suppress_primary_reason(get(cs, M_COST_PMPM, "total", 0), &(struct suppress_params){11, 0.6, 0.15, 0}),
                     REASON_NONE);
    /* p% rule, p = 0.15: WHITE's cost (10000) must be able to move by
     * 0.15 * 7000 = 1050 either way (8950 .. 11050). The total pins it, so
     * one complement is needed: the smallest cost covering 1050 is AIAN
     * (2000, not ASIAN 3000 nor the total 15000); then WHITE = 12000 - AIAN
     * ranges over 0 .. 12000. */
    assert_int_equal(get(cs, M_COST_PMPM, "race", RACE_AIAN)->reason, REASON_SECONDARY);
    assert_int_equal(get(cs, M_COST_PMPM, "total", 0)->reason, REASON_NONE);
    assert_int_equal(get(cs, M_COST_PMPM, "race", RACE_ASIAN)->reason, REASON_NONE);
    /* the member count of AIAN is not what protects the cost: released */
    assert_int_equal(get(cs, M_POPULATION, "race", RACE_AIAN)->reason, REASON_NONE);
    struct space_ctx x;
    int attrs[] = {A_RACE};
    struct lpa_space sp = make_space(&x, 1, attrs);
    double lo, hi;
    assert_int_equal(lpa_range(cs, &sp, CH_COST, 1, RACE_WHITE, &lo, &hi), 0);
    assert_true(fabs(lo) < 1e-6 && fabs(hi - 12000) < 1e-6);
    audit_ok(cs, &sp, 11);
    cellset_destroy(&cs);

    /* With the old full interval (p = 1) WHITE must reach 3000 .. 17000:
     * more than the released total allows, so the total is withheld. */
    cs = build(ms, n, t_race, 2, meas, 2);
    struct suppress_params full = {11, 0.6, 1.0, 0};
    assert_int_equal(suppress_apply(cs, &full, NULL), 0);
    assert_int_equal(get(cs, M_COST_PMPM, "total", 0)->reason, REASON_SECONDARY);
    struct lpa_result res;
    assert_int_equal(lpa_audit(cs, &sp, 11, 0.6, 1.0, &res), 0);
    assert_int_equal(res.violations, 0);
    cellset_destroy(&cs);
}

/* A dominance cell in a big table: one AIAN Medicaid member costs 500,000
 * among ~5,000 members costing 1,000 each. AIAN x Medicaid (530,000) and
 * AIAN (560,000) are dominated; under the p% rule (p = 0.15) their costs
 * need only move by 75,000, which mid-sized cells provide: the WHITE and
 * BLACK cells (600,000 .. 2,000,000), the payer margins and the total stay
 * released, and no member count is withheld. The old full interval
 * (p = 1: 500,000 either way) needs many more cells. */
static void run_big_dominance(double protection, struct suppress_report *rep,
                              struct cellset **out)
{
    static struct mem ms[6000];
    int n = 0;
    const int races[] = {RACE_WHITE, RACE_BLACK, RACE_ASIAN, RACE_AIAN, RACE_NHPI};
    const int payers[] = {PAYER_MEDICAID, PAYER_MEDICARE, PAYER_COMMERCIAL};
    const int counts[5][3] = {{800, 600, 600}, {300, 250, 250}, {100, 100, 100},
                              {30, 15, 15}, {20, 20, 20}};
    struct mem m = base_mem;
    m.cost = 1000;
    for (int r = 0; r < 5; r++)
        for (int q = 0; q < 3; q++) {
            m.race = races[r];
            m.payer = payers[q];
            add_members(ms, &n, counts[r][q], m);
        }
    m.race = RACE_AIAN;
    m.payer = PAYER_MEDICAID;
    m.cost = 500000;
    add_members(ms, &n, 1, m);
    const struct tspec ts[] = {{0, 0, 0, 0}, {1, S_RACE, 0, 0}, {1, S_PAYER, 0, 0}, {2, S_RACE, S_PAYER, 0}};
    int meas[] = {M_POPULATION, M_COST_PMPM};
    struct cellset *cs = build(ms, n, ts, 4, meas, 2);
    struct suppress_params p = {11, 0.6, protection, 0};
    assert_int_equal(suppress_apply(cs, &p, rep), 0);
    struct space_ctx x;
    int attrs[] = {A_RACE, A_PAYER};
    struct lpa_space sp = make_space(&x, 2, attrs);
    struct lpa_result res;
    assert_int_equal(lpa_audit(cs, &sp, 11, 0.6, protection, &res), 0);
    if (res.violations)
        fail_msg("audit (p = %.2f): %d violation(s); first: %s", protection, res.violations,
                 res.first);
    *out = cs;
}

static void test_dominance_big_table(void **state)
{
    (void)state;
    struct suppress_report rep, old;
    struct cellset *cs;
    run_big_dominance(0.15, &rep, &cs);
    assert_int_equal(get(cs, M_COST_PMPM, "race", RACE_AIAN)->reason, REASON_DOMINANCE);
    assert_int_equal(get(cs, M_COST_PMPM, "race*payer", RACE_AIAN * PAYER__COUNT + PAYER_MEDICAID)->reason,
                     REASON_DOMINANCE);
    assert_int_equal(rep.cells[REASON_DOMINANCE], 2);
    assert_int_equal(get(cs, M_COST_PMPM, "total", 0)->reason, REASON_NONE);
    const int big[] = {RACE_WHITE, RACE_BLACK};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(get(cs, M_COST_PMPM, "race", big[i])->reason, REASON_NONE);
        for (int q = 0; q < PAYER__COUNT; q++)
            assert_int_equal(get(cs, M_COST_PMPM, "race*payer", big[i] * PAYER__COUNT + q)->reason,
                             REASON_NONE);
    }
    for (int q = 0; q < PAYER__COUNT; q++)
        assert_int_equal(get(cs, M_COST_PMPM, "payer", q)->reason, REASON_NONE);
    /* the cost protection never withholds a member count */
    for (size_t i = 0; i < cs->ncells; i++)
        if (cs->cells[i].measure == M_POPULATION)
            assert_int_equal(cs->cells[i].reason, REASON_NONE);
    uint64_t sec = rep.cells[REASON_SECONDARY];
    assert_true(sec >= 1 && sec <= 6);
    cellset_destroy(&cs);

    run_big_dominance(1.0, &old, &cs);
    printf("big table dominance: %llu secondary cells with p = 0.15, %llu with p = 1\n",
           (unsigned long long)sec, (unsigned long long)old.cells[REASON_SECONDARY]);
    assert_true(old.cells[REASON_SECONDARY] > sec);
    cellset_destroy(&cs);
}

/* ---- random cell sets against the independent audit -------------------------------- */

static uint64_t rng_state;
static int rng_uniform; /* pick() without skew */

static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

/* Skewed choice in [0, n): small categories are common. */
static int pick(int n)
{
    double u = (rnd() + 0.5) / 4294967296.0;
    int v = (int)(n * (rng_uniform ? u : u * u * u));
    return v < n ? v : n - 1;
}

static void random_members(struct mem *ms, int n)
{
    for (int i = 0; i < n; i++) {
        struct mem *m = &ms[i];
        memset(m, 0, sizeof *m);
        m->race = (RACE_WHITE + pick(RACE__COUNT)) % RACE__COUNT;
        m->eth = (ETH_NOT_HISPANIC + pick(ETH__COUNT)) % ETH__COUNT;
        m->sex = pick(SEX__COUNT);
        m->age = rnd() % 20 == 0 ? -1 : (int)(rnd() % 95);
        m->lang = pick(NLANG_MEM);
        m->payer = pick(PAYER__COUNT);
        m->dis = (YNU_N + pick(YNU__COUNT)) % YNU__COUNT;
        m->months = 1 + rnd() % 12;
        m->wellness = rnd() % 3 == 0;
        m->ed = rnd() % 4 == 0 ? (int)(rnd() % 3) : 0;
        m->screened = rnd() % 2;
        m->food = m->screened && rnd() % 3 == 0;
        m->cost = rnd() % 50 == 0 ? 20000 + rnd() % 30000 : rnd() % 800;
    }
}

struct scenario {
    struct tspec t[10];
    int nt;
    int attrs[LPA_MAX_ATTR];
    int nattr;
};

/* Table sets whose links form a tree, so that the audit's joint atoms and
 * suppress.c's margins describe the same knowledge. */
static const struct scenario scenarios[] = {
    {{{0, 0, 0, 0}, {1, S_RACE, 0, 0}, {1, S_ETHNICITY, 0, 0}, {1, S_RACE_ETHNICITY, 0, 0}, {1, S_SEX, 0, 0},
      {2, S_RACE, S_SEX, 0}}, 6, {A_RACE, A_ETH, A_SEX}, 3},
    {{{0, 0, 0, 0}, {1, S_AGE_BAND, 0, 0}, {1, S_AGE_STD, 0, 0}, {1, S_SEX, 0, 0}, {2, S_AGE_BAND, S_SEX, 0}},
     5, {A_AGE, A_SEX}, 2},
    {{{0, 0, 0, 0}, {1, S_LANGUAGE, 0, 0}, {1, S_NON_ENGLISH, 0, 0}, {1, S_PAYER, 0, 0},
      {2, S_PAYER, S_LANGUAGE, 0}}, 5, {A_LANG, A_PAYER}, 2},
    {{{0, 0, 0, 0}, {1, S_RACE, 0, 0}, {1, S_DISABILITY, 0, 0}, {1, S_PAYER, 0, 0}, {2, S_RACE, S_DISABILITY, 0},
      {2, S_RACE, S_PAYER, 0}}, 6, {A_RACE, A_DIS, A_PAYER}, 3},
    {{{0, 0, 0, 0}, {1, S_RACE_ETHNICITY, 0, 0}, {1, S_RACE, 0, 0}, {1, S_AGE_BAND, 0, 0},
      {2, S_RACE, S_AGE_BAND, 0}}, 5, {A_RACE, A_ETH, A_AGE}, 3},
    /* the cycle of the default tables: race - payer - language - ethnicity -
     * race (through race_ethnicity), which suppress.c links only through
     * one-way margins; the audit's atoms see the whole joint distribution */
    {{{0, 0, 0, 0}, {1, S_RACE, 0, 0}, {1, S_ETHNICITY, 0, 0}, {1, S_RACE_ETHNICITY, 0, 0}, {1, S_PAYER, 0, 0},
      {1, S_LANGUAGE, 0, 0}, {2, S_RACE, S_PAYER, 0}, {2, S_PAYER, S_LANGUAGE, 0},
      {2, S_ETHNICITY, S_LANGUAGE, 0}}, 9, {A_RACE, A_ETH, A_PAYER, A_LANG}, 4},
    /* three-way tables with one of their two-way margins released and one
     * hidden, and a second three-way table sharing a margin */
    {{{0, 0, 0, 0}, {1, S_RACE, 0, 0}, {1, S_SEX, 0, 0}, {1, S_DISABILITY, 0, 0},
      {2, S_RACE, S_SEX, 0}, {3, S_RACE, S_SEX, S_DISABILITY}}, 6, {A_RACE, A_SEX, A_DIS}, 3},
    {{{0, 0, 0, 0}, {1, S_RACE, 0, 0}, {1, S_SEX, 0, 0}, {1, S_DISABILITY, 0, 0},
      {1, S_PAYER, 0, 0}, {3, S_RACE, S_SEX, S_DISABILITY}, {3, S_SEX, S_RACE, S_PAYER}},
     7, {A_RACE, A_SEX, A_DIS, A_PAYER}, 4},
};

static void test_random_audit(void **state)
{
    (void)state;
    static struct mem ms[400];
    int nsc = (int)(sizeof scenarios / sizeof scenarios[0]);
    int nm = (int)(sizeof std_measures / sizeof std_measures[0]);
    int total_secondary = 0, total_primary = 0, total_dominance = 0;
    for (int it = 0; it < 40; it++) {
        rng_state = 0x5eed0000u + (uint64_t)it;
        const struct scenario *sc = &scenarios[it % nsc];
        int n = 40 + (int)(rnd() % 200);
        random_members(ms, n);
        struct cellset *cs = build(ms, n, sc->t, sc->nt, std_measures, nm);
        /* p% protection: the default (0), and 0.15, 0.5 and 1 explicitly */
        const double prot[] = {0, 0.15, 0.5, 1.0};
        struct suppress_params p = {it % 3 == 0 ? 5 : 11, 0.6, prot[(it / 5) % 4], 0};
        struct suppress_report rep;
        int rc = suppress_apply(cs, &p, &rep);
        if (rc)
            fail_msg("seed %d: %s", it, suppress_strerror(rc));
        struct space_ctx x;
        struct lpa_space sp = make_space(&x, sc->nattr, sc->attrs);
        struct lpa_result res;
        assert_int_equal(lpa_audit(cs, &sp, p.k, p.dominance,
                                   p.dominance_protection ? p.dominance_protection : 0.15, &res),
                         0);
        if (res.violations)
            fail_msg("seed %d (scenario %d): %d violation(s); first: %s", it, it % nsc,
                     res.violations, res.first);
        /* no cell withheld without a reason: secondary cells exist only to
         * protect primary ones */
        uint64_t prim = rep.cells[REASON_COUNT] + rep.cells[REASON_COMPLEMENT] +
                        rep.cells[REASON_DENOMINATOR] + rep.cells[REASON_DOMINANCE];
        if (prim == 0)
            assert_int_equal(rep.cells[REASON_SECONDARY], 0);
        assert_int_equal(prim, rep.primary);
        total_secondary += (int)rep.cells[REASON_SECONDARY];
        total_dominance += (int)rep.cells[REASON_DOMINANCE];
        total_primary += (int)prim;
        cellset_destroy(&cs);
    }
    assert_true(total_primary > 0 && total_secondary > 0);
    assert_true(total_dominance > 0); /* the p% interval was audited */
}

/* Samples of 2,000 and 300 members over many tables: counts per reason,
 * and the time taken (a few hundred primary cells must take seconds). */
static void run_sample(int n, int uniform)
{
    static struct mem ms[2000];
    rng_state = 2000;
    rng_uniform = uniform;
    random_members(ms, n);
    const struct tspec ts[] = {
        {0, 0, 0, 0}, {1, S_RACE, 0, 0}, {1, S_ETHNICITY, 0, 0}, {1, S_RACE_ETHNICITY, 0, 0},
        {1, S_SEX, 0, 0}, {1, S_AGE_BAND, 0, 0}, {1, S_AGE_STD, 0, 0}, {1, S_LANGUAGE, 0, 0},
        {1, S_NON_ENGLISH, 0, 0}, {1, S_PAYER, 0, 0}, {1, S_DISABILITY, 0, 0},
        {2, S_RACE, S_DISABILITY, 0}, {2, S_RACE, S_PAYER, 0}, {2, S_RACE, S_AGE_BAND, 0},
        {2, S_PAYER, S_LANGUAGE, 0}};
    int nm = (int)(sizeof std_measures / sizeof std_measures[0]);
    struct cellset *cs = build(ms, n, ts, (int)(sizeof ts / sizeof ts[0]), std_measures, nm);
    struct suppress_report rep;
    clock_t t0 = clock();
    assert_int_equal(suppress_apply(cs, NULL, &rep), 0);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("sample: %d members (%s), %d tables, %zu cells, %.2f s, %d LP solves, %llu requirements\n",
           n, uniform ? "uniform" : "skewed", cs->ntables, cs->ncells, secs, rep.lp_solves, (unsigned long long)rep.requirements);
    for (int r = 0; r < REASON__COUNT; r++)
        if (rep.cells[r])
            printf("  %-12s %llu\n", r ? cell_reason_name(r) : "released",
                   (unsigned long long)rep.cells[r]);
    assert_int_equal(rep.unmet, 0);
    assert_true(secs < 30);
    cellset_destroy(&cs);
}

static void test_sample_report(void **state)
{
    (void)state;
    run_sample(2000, 0);
    run_sample(300, 0);
    run_sample(700, 1); /* every stratum populated: many small two-way cells */
    rng_uniform = 0;
}

int main(void)
{
    age_atoms_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_primary_rules),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_oneway_single),
        cmocka_unit_test(test_oneway_group_sum),
        cmocka_unit_test(test_twoway_rectangle),
        cmocka_unit_test(test_twoway_small_rectangle),
        cmocka_unit_test(test_age_band_vs_age_std),
        cmocka_unit_test(test_race_ethnicity_vs_race),
        cmocka_unit_test(test_language_non_english),
        cmocka_unit_test(test_shared_channel),
        cmocka_unit_test(test_three_way_two_way_margin),
        cmocka_unit_test(test_three_way_one_way_margin),
        cmocka_unit_test(test_three_way_shared_margin),
        cmocka_unit_test(test_three_way_derived_margin),
        cmocka_unit_test(test_ineq_numerator_le_denominator),
        cmocka_unit_test(test_complement_small_denominator),
        cmocka_unit_test(test_ineq_subpopulation_le_parent),
        cmocka_unit_test(test_ineq_any_ge_domain),
        cmocka_unit_test(test_ineq_stratum_inside_stratum),
        cmocka_unit_test(test_policy_cells),
        cmocka_unit_test(test_total_below_k),
        cmocka_unit_test(test_pooled_mode),
        cmocka_unit_test(test_nothing_small_no_lp),
        cmocka_unit_test(test_dominance_protected),
        cmocka_unit_test(test_dominance_big_table),
        cmocka_unit_test(test_random_audit),
        cmocka_unit_test(test_sample_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
