/*
 * test_tally.c - the tally is correct to the last member.
 *
 * Random member records go through tally_add (split over two tallies and
 * merged, with some records added and taken back). Every cell of every
 * table is then recomputed by brute force: the test parses the cell's
 * stratum label, decides membership of each raw record with its own code
 * (not the tally's), and applies each measure's definition from
 * measures.md directly.
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

#include "catalog_file.h"
#include "tally.h"

#define NREC 6000

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static const char *const langs[] = {"eng", "spa", "zho", "vie", "kor", "hmn", "som", "und"};

static void random_record(struct member_record *r)
{
    memset(r, 0, sizeof *r);
    r->age = rnd(20) == 0 ? -1 : (int16_t)rnd(100);
    r->sex = (uint8_t)rnd(SEX__COUNT);
    r->race = (uint8_t)rnd(RACE__COUNT);
    r->ethnicity = (uint8_t)rnd(ETH__COUNT);
    r->payer = (uint8_t)rnd(PAYER__COUNT);
    r->disability = (uint8_t)rnd(YNU__COUNT);
    r->cmc = (uint8_t)rnd(YNU__COUNT);
    r->adi_decile = (uint8_t)rnd(11);
    /* hmn and som are rare: they fold into "other" */
    uint32_t l = rnd(100);
    const char *lang = l < 50 ? "eng" : l < 70 ? "spa" : l < 80 ? "zho" : l < 88 ? "vie" : l < 93 ? "kor"
                     : l < 94 ? "hmn" : l < 95 ? "som" : "und";
    r->language = (uint16_t)record_lang_pack(lang, 3);
    r->county = rnd(10) == 0 ? COUNTY_UNKNOWN : (int32_t)(6001 + 2 * rnd(30));
    r->member_months = rnd(15) == 0 ? 0 : 10000 * (1 + rnd(12)) + (rnd(4) == 0 ? 5000 : 0);
    if (r->member_months > 120000)
        r->member_months = 120000;
    r->ed_visits = rnd(3) == 0 ? rnd(5) : 0;
    r->ip_admits = rnd(8) == 0 ? 1 + rnd(3) : 0;
    r->ip_readmits_30d = r->ip_admits ? rnd(r->ip_admits + 1) : 0;
    r->primary_care_visits = rnd(6);
    r->telehealth_visits = rnd(3);
    r->scheduled_appts = rnd(8);
    r->no_shows = r->scheduled_appts ? rnd(r->scheduled_appts + 1) : 0;
    r->wellness_visit = (uint8_t)rnd(2);
    r->diabetes = rnd(6) == 0;
    r->hba1c_poor_control = (uint8_t)rnd(2);
    r->hypertension = rnd(4) == 0;
    r->bp_controlled = (uint8_t)rnd(2);
    r->hrsn_screened = (uint8_t)rnd(2);
    r->hrsn_food = (uint8_t)rnd(2);
    r->hrsn_housing = rnd(5) == 0;
    r->hrsn_transport = rnd(6) == 0;
    r->hrsn_utilities = rnd(7) == 0;
    r->hrsn_safety = rnd(20) == 0;
    r->total_cost = rnd(50) == 0 ? 5000000 + rnd(10000000) : rnd(300000);
    r->has_experience = rnd(5) == 0;
    r->experience_score = 100 * rnd(11);
}

/* ---- the independent route: label -> predicate --------------------------- */

static int code_index(const char *const *table, int n, const char *label)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(table[i], label))
            return i;
    return -2;
}

static int atoi_like(const char *s)
{
    return (int)strtol(s, NULL, 10);
}

/* Does record r fall in stratum `label` of stratifier s? */
static int in_stratum(const struct member_record *r, int s, const char *label, const struct tally_spec *spec,
                      const int *lang_counts)
{
    char l3[4];
    switch (s) {
    case S_RACE: return code_index(race_codes, RACE__COUNT, label) == r->race;
    case S_ETHNICITY: return code_index(ethnicity_codes, ETH__COUNT, label) == r->ethnicity;
    case S_SEX: return code_index(sex_codes, SEX__COUNT, label) == r->sex;
    case S_PAYER: return code_index(payer_codes, PAYER__COUNT, label) == r->payer;
    case S_DISABILITY: return code_index(ynu_codes, YNU__COUNT, label) == r->disability;
    case S_CMC: return code_index(ynu_codes, YNU__COUNT, label) == r->cmc;
    case S_RACE_ETHNICITY:
        if (!strcmp(label, "HISPANIC"))
            return r->ethnicity == ETH_HISPANIC;
        if (!strncmp(label, "NH_", 3))
            return r->ethnicity == ETH_NOT_HISPANIC && code_index(race_codes, RACE__COUNT, label + 3) == r->race;
        if (!strcmp(label, "DECLINED"))
            return r->ethnicity != ETH_HISPANIC &&
                   (r->ethnicity == ETH_DECLINED || r->race == RACE_DECLINED);
        /* UNKNOWN: not Hispanic-known, not a known NH race, not declined */
        return r->ethnicity != ETH_HISPANIC && r->ethnicity != ETH_DECLINED && r->race != RACE_DECLINED &&
               (r->ethnicity == ETH_UNKNOWN || r->race == RACE_UNKNOWN);
    case S_AGE_BAND: {
        if (!strcmp(label, "UNKNOWN"))
            return r->age < 0;
        int lo, hi;
        if (sscanf(label, "%d-%d", &lo, &hi) == 2)
            return r->age >= lo && r->age <= hi;
        if (sscanf(label, "%d+", &lo) == 1 && strchr(label, '+'))
            return r->age >= lo;
        if (sscanf(label, "%d", &lo) == 1)
            return r->age == lo;
        return 0;
    }
    case S_AGE_STD: {
        if (!strcmp(label, "UNKNOWN"))
            return r->age < 0;
        int lo, hi;
        if (sscanf(label, "%d-%d", &lo, &hi) == 2)
            return r->age >= lo && r->age <= hi;
        if (strchr(label, '+') && sscanf(label, "%d", &lo) == 1)
            return r->age >= lo;
        return sscanf(label, "%d", &lo) == 1 && r->age == lo;
    }
    case S_LANGUAGE: {
        record_lang_unpack(r->language, l3);
        if (!strcmp(label, "und"))
            return r->language == LANG_UNKNOWN;
        int idx = -1;
        for (int i = 0; i < 8; i++)
            if (!strcmp(langs[i], l3))
                idx = i;
        int small = lang_counts[idx] < spec->language_min_members;
        if (!strcmp(label, "other"))
            return r->language != LANG_UNKNOWN && small;
        return !small && !strcmp(label, l3);
    }
    case S_NON_ENGLISH:
        record_lang_unpack(r->language, l3);
        if (!strcmp(label, "unknown"))
            return r->language == LANG_UNKNOWN;
        if (!strcmp(label, "no"))
            return !strcmp(l3, "eng");
        return r->language != LANG_UNKNOWN && strcmp(l3, "eng") != 0;
    case S_ADI_QUINTILE:
        if (!strcmp(label, "UNKNOWN"))
            return r->adi_decile == 0;
        return r->adi_decile != 0 && (r->adi_decile + 1) / 2 == atoi_like(label);
    case S_COUNTY:
        if (!strcmp(label, "UNKNOWN"))
            return r->county == COUNTY_UNKNOWN;
        return r->county == (int32_t)strtol(label, NULL, 10);
    case S_HEBA_BAND: {
        int top = r->payer == PAYER_DUAL || r->adi_decile == 10;
        if (!strcmp(label, "top"))
            return top;
        if (!strcmp(label, "unknown"))
            return !top && r->adi_decile == 0;
        if (!strcmp(label, "bottom"))
            return !top && r->adi_decile >= 1 && r->adi_decile <= 5;
        return !top && r->adi_decile >= 6 && r->adi_decile <= 9;
    }
    }
    return 0;
}

/* Expected (members, months, denominator, numerator, sum_sq) of measure m
 * over the records selected, straight from measures.md. */
static void expected_cell(int m, const struct member_record *recs, const int *sel, int n, double out[5])
{
    memset(out, 0, 5 * sizeof(double));
    for (int i = 0; i < n; i++) {
        if (!sel[i])
            continue;
        const struct member_record *r = &recs[i];
        if (!(r->member_months > 0))
            continue; /* not in any population */
        int elig = 1;
        double den = 0, num = 0, sq = 0;
        switch (m) {
        case M_POPULATION: den = num = 1; break;
        case M_ED_RATE: den = r->member_months; num = r->ed_visits; break;
        case M_IP_RATE: den = r->member_months; num = r->ip_admits; break;
        case M_READMIT_30D: elig = r->ip_admits > 0; den = r->ip_admits; num = r->ip_readmits_30d; break;
        case M_WELLNESS: den = 1; num = r->wellness_visit; break;
        case M_NO_SHOW: elig = r->scheduled_appts > 0; den = r->scheduled_appts; num = r->no_shows; break;
        case M_TELEHEALTH_SHARE:
            elig = r->telehealth_visits + r->primary_care_visits > 0;
            den = r->telehealth_visits + r->primary_care_visits;
            num = r->telehealth_visits;
            break;
        case M_DIABETES_POOR_CONTROL: elig = r->diabetes; den = 1; num = r->hba1c_poor_control; break;
        case M_BP_CONTROL: elig = r->hypertension; den = 1; num = r->bp_controlled; break;
        case M_HRSN_SCREENING: den = 1; num = r->hrsn_screened; break;
        case M_HRSN_FOOD: elig = r->hrsn_screened; den = 1; num = r->hrsn_food; break;
        case M_HRSN_HOUSING: elig = r->hrsn_screened; den = 1; num = r->hrsn_housing; break;
        case M_HRSN_TRANSPORT: elig = r->hrsn_screened; den = 1; num = r->hrsn_transport; break;
        case M_HRSN_UTILITIES: elig = r->hrsn_screened; den = 1; num = r->hrsn_utilities; break;
        case M_HRSN_SAFETY: elig = r->hrsn_screened; den = 1; num = r->hrsn_safety; break;
        case M_HRSN_ANY:
            elig = r->hrsn_screened;
            den = 1;
            num = r->hrsn_food || r->hrsn_housing || r->hrsn_transport || r->hrsn_utilities || r->hrsn_safety;
            break;
        case M_COST_PMPM: den = r->member_months; num = r->total_cost; sq = num * num; break;
        case M_EXPERIENCE: elig = r->has_experience; den = 1; num = r->experience_score; sq = num * num; break;
        }
        if (!elig)
            continue;
        out[0] += 1;
        out[1] += r->member_months;
        out[2] += den;
        out[3] += num;
        out[4] += sq;
    }
}

static void check_against_brute_force(const struct tally_spec *spec, const struct member_record *recs, int n,
                                      const struct cellset *cs)
{
    int lang_counts[8] = {0};
    char l3[4];
    for (int i = 0; i < n; i++) {
        if (!(recs[i].member_months > 0))
            continue;
        record_lang_unpack(recs[i].language, l3);
        for (int j = 0; j < 8; j++)
            if (!strcmp(langs[j], l3))
                lang_counts[j]++;
    }
    int *sel = calloc((size_t)n, sizeof *sel);
    assert_non_null(sel);
    size_t checked = 0;
    for (size_t ci = 0; ci < cs->ncells; ci++) {
        const struct cell *c = &cs->cells[ci];
        const struct cell_table *t = &cs->tables[c->table];
        /* the stratum's label per dimension, from its row-major index */
        const char *lab[3] = {NULL, NULL, NULL};
        int rest = c->stratum;
        for (int d = t->ndim - 1; d >= 0; d--) {
            lab[d] = t->labels[d][rest % t->card[d]];
            rest /= t->card[d];
        }
        for (int i = 0; i < n; i++) {
            sel[i] = 1;
            for (int d = 0; d < t->ndim; d++)
                sel[i] &= in_stratum(&recs[i], t->dim[d], lab[d], spec, lang_counts);
        }
        double e[5];
        expected_cell(c->measure, recs, sel, n, e);
        char label[128];
        cellset_stratum_label(cs, c, label, sizeof label);
        if (fabs(e[0] - c->members) > 1e-9 || fabs(e[1] - c->member_months) > 1e-6 ||
            fabs(e[2] - c->denominator) > 1e-6 || fabs(e[3] - c->numerator) > 1e-4 ||
            fabs(e[4] - c->sum_sq) > 1e-2 * (1 + e[4] * 1e-9))
            fail_msg("%s %s=%s: expected %g/%g/%g/%g/%g got %g/%g/%g/%g/%g", catalog_measure(c->measure)->name,
                     t->name, label, e[0], e[1], e[2], e[3], e[4], c->members, c->member_months,
                     c->denominator, c->numerator, c->sum_sq);
        checked++;
    }
    free(sel);
    assert_true(checked > 1000);
}

/* Every table's strata partition the members: each one-way table sums to
 * the total for every measure. */
static void check_margins(const struct cellset *cs)
{
    int total = cellset_find_table(cs, "total");
    assert_true(total >= 0);
    for (int m = 0; m < M__COUNT; m++)
        for (int t = 0; t < cs->ntables; t++) {
            double sum = 0;
            for (int s = 0; s < cs->tables[t].nstrata; s++)
                sum += cellset_get(cs, m, t, s)->members;
            assert_float_equal(sum, cellset_get(cs, m, total, 0)->members, 1e-9);
        }
}

static void test_tally_matches_brute_force(void **state)
{
    (void)state;
    struct member_record *recs = calloc(NREC, sizeof *recs);
    assert_non_null(recs);
    for (int i = 0; i < NREC; i++)
        random_record(&recs[i]);
    struct tally_spec spec;
    tally_spec_default(&spec);
    spec.language_min_members = 60; /* hmn and som (about 1 % each) fold into other */
    /* and a three-way table, two of whose dimensions grow no slots */
    spec.inter[spec.n_inter][0] = S_RACE;
    spec.inter[spec.n_inter][1] = S_DISABILITY;
    spec.inter[spec.n_inter][2] = S_AGE_BAND;
    spec.n_inter++;
    struct tally *a = tally_new(&spec), *b = tally_new(&spec);
    assert_non_null(a);
    assert_non_null(b);
    for (int i = 0; i < NREC; i++)
        tally_add(i % 3 ? a : b, &recs[i], +1);
    /* records added and taken back leave no trace */
    struct member_record extra;
    for (int i = 0; i < 50; i++) {
        random_record(&extra);
        tally_add(b, &extra, +1);
        tally_add(b, &extra, -1);
    }
    assert_int_equal(tally_merge(a, b), 0);
    struct cellset *cs = tally_cells(a);
    assert_non_null(cs);
    int t3 = cellset_find_table(cs, "race*disability*age_band");
    assert_true(t3 >= 0);
    assert_int_equal(cs->tables[t3].ndim, 3);
    check_margins(cs);
    check_against_brute_force(&spec, recs, NREC, cs);
    /* "other" exists and holds the two rare languages */
    int lt = cellset_find_table(cs, "language");
    assert_true(lt >= 0);
    int found_other = 0;
    for (int i = 0; i < cs->tables[lt].card[0]; i++)
        found_other |= !strcmp(cs->tables[lt].labels[0][i], "other");
    assert_true(found_other);
    assert_true(tally_zero_months(a) > 0);
    cellset_destroy(&cs);
    tally_destroy(&a);
    tally_destroy(&b);
    free(recs);
}

static void test_custom_bands_and_unavailable(void **state)
{
    (void)state;
    struct member_record *recs = calloc(2000, sizeof *recs);
    assert_non_null(recs);
    for (int i = 0; i < 2000; i++)
        random_record(&recs[i]);
    struct tally_spec spec;
    tally_spec_default(&spec);
    int bands[] = {0, 18, 21, 65};
    memcpy(spec.age_band_lo, bands, sizeof bands);
    spec.n_age_bands = 4;
    spec.n_inter = 1;
    spec.inter[0][0] = S_AGE_BAND;
    spec.inter[0][1] = S_COUNTY;
    struct tally *t = tally_new(&spec);
    assert_non_null(t);
    for (int i = 0; i < 2000; i++)
        tally_add(t, &recs[i], +1);
    tally_set_unavailable(t, 1u << M_EXPERIENCE);
    struct cellset *cs = tally_cells(t);
    assert_non_null(cs);
    int at = cellset_find_table(cs, "age_band");
    assert_int_equal(cs->tables[at].card[0], 5);
    assert_string_equal(cs->tables[at].labels[0][1], "18-20");
    assert_string_equal(cs->tables[at].labels[0][3], "65+");
    assert_string_equal(cs->tables[at].labels[0][4], "UNKNOWN");
    assert_true(cellset_find_table(cs, "age_band*county") >= 0);
    for (size_t i = 0; i < cs->ncells; i++)
        if (cs->cells[i].measure == M_EXPERIENCE) {
            assert_int_equal(cs->cells[i].reason, REASON_NOT_AVAILABLE);
            assert_true(cs->cells[i].members == 0);
        }
    /* the experience measure is excluded from the brute-force check, which
     * would expect numbers: check the others */
    for (size_t i = 0; i < cs->ncells; i++)
        if (cs->cells[i].measure == M_EXPERIENCE)
            cs->cells[i].measure = M_POPULATION;
    cellset_destroy(&cs);
    tally_destroy(&t);
    free(recs);
}

/* A member left out of a measure (an unknown input) is in no number of
 * that measure and in every number of the others; and the measures the
 * tally leaves members out of share no channel with any other measure (so
 * no other released number changes: the catalog says so, not the tally). */
static void test_left_out_of_measures(void **state)
{
    (void)state;
    for (int m = 0; m < M__COUNT; m++) {
        if (!(TALLY_LEAVE_OUT_MEASURES & (1u << m)))
            continue;
        const struct measure_def *d = catalog_measure(m);
        int ch[5] = {d->ch_members, d->ch_months, d->ch_denominator, d->ch_numerator, d->ch_sum_sq};
        for (int o = 0; o < M__COUNT; o++) {
            if (o == m)
                continue;
            const struct measure_def *e = catalog_measure(o);
            int och[5] = {e->ch_members, e->ch_months, e->ch_denominator, e->ch_numerator, e->ch_sum_sq};
            for (int i = 0; i < 5; i++)
                for (int j = 0; j < 5; j++)
                    if (ch[i] != CH_NONE && ch[i] == och[j])
                        fail_msg("%s shares channel %d with %s", d->name, ch[i], e->name);
        }
    }
    struct member_record a, b;
    memset(&a, 0, sizeof a);
    a.age = 40;
    a.member_months = 120000;
    a.scheduled_appts = 4;
    a.no_shows = 1;
    a.primary_care_visits = 3;
    a.telehealth_visits = 1;
    a.diabetes = 1;
    a.hba1c_poor_control = 1;
    a.hypertension = 1;
    a.bp_controlled = 1;
    a.has_experience = 1;
    a.experience_score = 700;
    a.ed_visits = 2;
    b = a;
    b.unknown_measures = TALLY_LEAVE_OUT_MEASURES;
    struct tally_spec spec;
    tally_spec_default(&spec);
    spec.n_inter = 0;
    /* a + b against a + a (the measures b is in) and a alone (the others) */
    struct tally *t = tally_new(&spec), *t2 = tally_new(&spec), *t1 = tally_new(&spec);
    assert_non_null(t);
    assert_non_null(t1);
    assert_non_null(t2);
    tally_add(t, &a, +1);
    tally_add(t, &b, +1);
    tally_add(t2, &a, +1);
    tally_add(t2, &a, +1);
    tally_add(t1, &a, +1);
    struct cellset *cs = tally_cells(t), *cs2 = tally_cells(t2), *cs1 = tally_cells(t1);
    assert_non_null(cs);
    assert_non_null(cs1);
    assert_non_null(cs2);
    int tt = cellset_find_table(cs, "total");
    assert_true(tt >= 0);
    int checked = 0;
    for (int m = 0; m < M__COUNT; m++) {
        const struct cell *c = cellset_get(cs, m, tt, 0);
        if (!c)
            continue;
        const struct cell *w = cellset_get((TALLY_LEAVE_OUT_MEASURES & (1u << m)) ? cs1 : cs2, m, tt, 0);
        assert_non_null(w);
        if (c->members != w->members || c->member_months != w->member_months ||
            c->denominator != w->denominator || c->numerator != w->numerator)
            fail_msg("%s: members %g months %g den %g num %g, expected %g %g %g %g",
                     catalog_measure(m)->name, (double)c->members, (double)c->member_months,
                     (double)c->denominator, (double)c->numerator, (double)w->members,
                     (double)w->member_months, (double)w->denominator, (double)w->numerator);
        checked++;
    }
    assert_int_equal(checked, M__COUNT);
    cellset_destroy(&cs1);
    cellset_destroy(&cs2);
    tally_destroy(&t1);
    tally_destroy(&t2);
    const struct cell *ns = cellset_get(cs, M_NO_SHOW, tt, 0);
    assert_non_null(ns);
    assert_true(ns->denominator == 4 && ns->numerator == 1);
    const struct cell *ed = cellset_get(cs, M_ED_RATE, tt, 0);
    assert_true(ed->numerator == 4 && ed->member_months == 240000);
    cellset_destroy(&cs);
    tally_destroy(&t);
}

/* Costs in cents are summed exactly: squares beyond 2^64 are kept whole
 * (128 bits), and a cost sum that leaves int64 is refused, never wrapped.
 * Tallies grow by merging (Fibonacci: a += b, b += a) so that the sums pass
 * 2^63 cents with few records. */
static void test_exact_cost_sums_and_overflow(void **state)
{
    (void)state;
    struct tally_spec spec;
    tally_spec_default(&spec);
    spec.n_inter = 0;
    struct member_record r;
    memset(&r, 0, sizeof r);
    r.age = 40;
    r.member_months = 120000;
    r.total_cost = RECORD_MAX_COST_CENTS; /* 1e12 cents: the square is 1e24 > 2^64 */
    struct tally *a = tally_new(&spec), *b = tally_new(&spec);
    assert_non_null(a);
    assert_non_null(b);
    tally_add(a, &r, +1);
    tally_add(a, &r, +1);
    tally_add(a, &r, +1);
    r.total_cost = 123456789; /* one record taken back exactly */
    tally_add(a, &r, +1);
    tally_add(a, &r, -1);
    struct cellset *cs = tally_cells(a);
    assert_non_null(cs);
    int tt = cellset_find_table(cs, "total");
    const struct cell *c = cellset_get(cs, M_COST_PMPM, tt, 0);
    assert_non_null(c);
    const cell_i128 e24 = (cell_i128)1000000000000LL * 1000000000000LL;
    assert_true(c->members == 3 && c->numerator == 3 * RECORD_MAX_COST_CENTS);
    assert_true(c->sum_sq == 3 * e24);
    char buf[64];
    cells_format_scaled(buf, sizeof buf, c->sum_sq, 4, 1);
    assert_string_equal(buf, "300000000000000000000"); /* 3e24 cents^2 = 3e20 USD^2 */
    cellset_destroy(&cs);
    /* a = 3 records, b = 0: grow until the cost sum passes INT64_MAX */
    char msg[128];
    int64_t na = 3, nb = 0;
    int steps = 0;
    while (!tally_overflowed(a, msg, sizeof msg) && steps < 80) {
        assert_int_equal(tally_merge(b, a), 0);
        nb += na;
        assert_int_equal(tally_merge(a, b), 0);
        na += nb;
        steps++;
        if (na < INT64_MAX / RECORD_MAX_COST_CENTS) {
            /* still exact: the square sum is na * 1e24 */
            cs = tally_cells(a);
            assert_non_null(cs);
            c = cellset_get(cs, M_COST_PMPM, tt, 0);
            assert_true(c->numerator == na * RECORD_MAX_COST_CENTS && c->sum_sq == na * e24);
            cellset_destroy(&cs);
        }
    }
    assert_true(na > INT64_MAX / RECORD_MAX_COST_CENTS);
    assert_true(tally_overflowed(a, msg, sizeof msg));
    assert_non_null(strstr(msg, "cents"));
    assert_null(tally_cells(a));
    tally_destroy(&a);
    tally_destroy(&b);
}

/* The file catalog's tally (tally_add_generic) bounds each int64 cost sum by
 * the sum of its records' absolute costs, once per record: exact up to
 * INT64_MAX, refused one record beyond it. */
static void test_file_catalog_cost_overflow(void **state)
{
    (void)state;
    char err[600];
    struct catalog *cat = catalog_load(EQ_SOURCE_DIR "/configs/catalog.ini", err, sizeof err);
    assert_non_null(cat);
    catalog_set_active(cat);
    struct tally_spec spec;
    tally_spec_default(&spec);
    spec.n_inter = 0;
    for (int s = 0; s < S__COUNT; s++)
        spec.stratifier_on[s] = s == S_TOTAL;
    struct member_record r;
    memset(&r, 0, sizeof r);
    r.age = 40;
    r.member_months = 120000;
    r.total_cost = RECORD_MAX_COST_CENTS;
    struct tally *t = tally_new(&spec);
    assert_non_null(t);
    const long n = INT64_MAX / RECORD_MAX_COST_CENTS;
    for (long i = 0; i < n; i++)
        tally_add(t, &r, +1);
    char msg[128];
    assert_false(tally_overflowed(t, msg, sizeof msg));
    struct cellset *cs = tally_cells(t);
    assert_non_null(cs);
    const struct cell *c = cellset_get(cs, M_COST_PMPM, cellset_find_table(cs, "total"), 0);
    assert_non_null(c);
    assert_true(c->members == n && c->numerator == (cell_i128)n * RECORD_MAX_COST_CENTS);
    cellset_destroy(&cs);
    tally_add(t, &r, +1);
    assert_true(tally_overflowed(t, msg, sizeof msg));
    assert_non_null(strstr(msg, "cents"));
    assert_null(tally_cells(t));
    tally_destroy(&t);
    catalog_set_active(catalog_builtin());
    catalog_destroy(&cat);
}

static void test_bad_specs_refused(void **state)
{
    (void)state;
    struct tally_spec spec;
    tally_spec_default(&spec);
    spec.age_band_lo[0] = 3; /* must start at 0 */
    assert_null(tally_new(&spec));
    tally_spec_default(&spec);
    spec.age_band_lo[2] = spec.age_band_lo[1]; /* not increasing */
    assert_null(tally_new(&spec));
    tally_spec_default(&spec);
    spec.inter[0][1] = spec.inter[0][0]; /* race*race */
    assert_null(tally_new(&spec));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tally_matches_brute_force),
        cmocka_unit_test(test_custom_bands_and_unavailable),
        cmocka_unit_test(test_left_out_of_measures),
        cmocka_unit_test(test_bad_specs_refused),
        cmocka_unit_test(test_exact_cost_sums_and_overflow),
        cmocka_unit_test(test_file_catalog_cost_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
