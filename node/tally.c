/*
 * tally.c - one-pass aggregation of member records into equity cells.
 *
 * Accumulator slots hold catalog.h's channels: a cell of any measure is read
 * straight out of them (members = acc[slot_of[ch_members]], ...). Languages
 * and counties are interned to small slot numbers as they appear; the
 * groupings that use them grow when a new slot does not fit.
 *
 * Numbers are integers (cells.h units): member months in 1/10000 month,
 * cents, score hundredths; the sum of squared costs is a 128-bit integer
 * kept in two slots (low, high) with the carry propagated after each add.
 * Integer sums are associative, so the cells do not depend on the number of
 * threads or the order of the records.
 *
 * Speed: an accumulator is 5 cache lines of 8 int64s, laid out so that the
 * channels that are zero together share a line (the IP channels are zero
 * for a member without admissions, ...). A record adds only the lines it
 * has non-zero channels in (about 2.7 of 5 on a Medicaid extract); adding
 * 0 to a sum never changes it, so skipping them is exact. The largest
 * single cost of a cell lives in the always-used first line.
 */
#include "tally.h"

#include "catalog_def.h"
#include "race_detail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NACC 40 /* CH__COUNT and the maximum, in whole 64-byte lines */
#define NLINES (NACC / 8)
_Static_assert(CH__COUNT + 1 <= NACC, "accumulator too small for the channels");

/* Slot of each channel in an accumulator; line = slot / 8. */
enum {
    /* line 0: every record */
    SL_MEMBERS_ALL = 0, SL_MONTHS_ALL, SL_ED, SL_WELLNESS, SL_COST,
    SL_COST_SQ, SL_COST_SQ_HI, /* the 128-bit sum of squares: low, high */
    SL_MAXC, /* largest single member cost (not a channel) */
    /* line 1: members with visits or scheduled appointments */
    SL_MEMBERS_VISIT = 8, SL_MONTHS_VISIT, SL_VISITS, SL_TELE,
    SL_MEMBERS_SCHED, SL_MONTHS_SCHED, SL_SCHED, SL_NOSHOW,
    /* line 2: members screened for social needs */
    SL_SCREENED = 16, SL_MONTHS_SCREENED, SL_FOOD, SL_HOUSING, SL_TRANSPORT, SL_UTILITIES,
    SL_SAFETY, SL_HRSN_ANY,
    /* line 3: members with admissions or diabetes */
    SL_MEMBERS_IP = 24, SL_MONTHS_IP, SL_READMITS, SL_IP, SL_MEMBERS_DIAB, SL_MONTHS_DIAB,
    SL_POOR,
    /* line 4: members with hypertension or an experience score */
    SL_MEMBERS_HTN = 32, SL_MONTHS_HTN, SL_BPC, SL_MEMBERS_EXP, SL_MONTHS_EXP, SL_EXP_SUM,
    SL_EXP_SQ
};
_Static_assert(SL_EXP_SQ < NACC, "slot layout");
_Static_assert(SL_MAXC < 8 && SL_COST_SQ_HI < 8, "cost slots in line 0");
_Static_assert(RECORD_MONTHS_SCALE == CELL_MONTHS_SCALE, "record and cell month units");

static const int8_t slot_of[CH__COUNT] = {
    [CH_MEMBERS_ALL] = SL_MEMBERS_ALL, [CH_MONTHS_ALL] = SL_MONTHS_ALL, [CH_ED] = SL_ED,
    [CH_IP] = SL_IP, [CH_WELLNESS] = SL_WELLNESS, [CH_SCREENED] = SL_SCREENED,
    [CH_COST] = SL_COST, [CH_COST_SQ] = SL_COST_SQ,
    [CH_MEMBERS_IP] = SL_MEMBERS_IP, [CH_MONTHS_IP] = SL_MONTHS_IP, [CH_READMITS] = SL_READMITS,
    [CH_MEMBERS_SCHED] = SL_MEMBERS_SCHED, [CH_MONTHS_SCHED] = SL_MONTHS_SCHED,
    [CH_SCHED] = SL_SCHED, [CH_NOSHOW] = SL_NOSHOW,
    [CH_MEMBERS_VISIT] = SL_MEMBERS_VISIT, [CH_MONTHS_VISIT] = SL_MONTHS_VISIT,
    [CH_VISITS] = SL_VISITS, [CH_TELE] = SL_TELE,
    [CH_MEMBERS_DIAB] = SL_MEMBERS_DIAB, [CH_MONTHS_DIAB] = SL_MONTHS_DIAB, [CH_POOR] = SL_POOR,
    [CH_MEMBERS_HTN] = SL_MEMBERS_HTN, [CH_MONTHS_HTN] = SL_MONTHS_HTN, [CH_BPC] = SL_BPC,
    [CH_MONTHS_SCREENED] = SL_MONTHS_SCREENED, [CH_FOOD] = SL_FOOD, [CH_HOUSING] = SL_HOUSING,
    [CH_TRANSPORT] = SL_TRANSPORT, [CH_UTILITIES] = SL_UTILITIES, [CH_SAFETY] = SL_SAFETY,
    [CH_HRSN_ANY] = SL_HRSN_ANY,
    [CH_MEMBERS_EXP] = SL_MEMBERS_EXP, [CH_MONTHS_EXP] = SL_MONTHS_EXP,
    [CH_EXP_SUM] = SL_EXP_SUM, [CH_EXP_SQ] = SL_EXP_SQ};

/* A file catalog (catalog_def.h): its channels get slots by population, a
 * population's channels together in whole lines (they are zero together),
 * a 128-bit square as two slots, a kept maximum as one more. A channel
 * takes at most 2 slots and a population wastes at most 7 to start a fresh
 * line, so every catalog the loader accepts fits: no limit of its own. */
#define GACC_MAX 512
#define GLINES_MAX (GACC_MAX / 8)
_Static_assert(2 * CATALOG_MAX_CHANNELS + 7 * CATALOG_MAX_MEASURES + 8 <= GACC_MAX,
               "accumulator too small for the largest catalog");
_Static_assert(GLINES_MAX <= 64, "line mask is 64 bits");

/* For tally_filter_holds (the reader's unknown-input rule, once per member
 * with an empty field): a filter as it is written. */
struct gatom {
    uint8_t n, col[CAT_EXPR_MAX];
    uint8_t op, intcol; /* intcol: age or ADI decile, unknown = false */
    int64_t v;
};

struct gfilter {
    int n;
    struct gatom a[CAT_FILTER_MAX];
};

/* The hot path's program. A record is first spread into an array of
 * sources: every column's value (col_value), constants, then one 0/1 per
 * condition (the populations, then the channels' `where` conditions).
 * Each condition's atoms are range tests lo <= x < hi (NE: negated) that
 * AND into their condition's source; each channel is a sum of sources
 * masked by its population's source. Nothing branches on a kind. */
enum {
    SRC_ONE = CATALOG_MAX_COLS, /* 1                                      */
    SRC_AGE_KNOWN,              /* age >= 0                               */
    SRC_ADI_KNOWN,              /* adi_decile != 0                        */
    SRC_PRESENT,                /* has_experience                         */
    SRC_COND                    /* first condition                        */
};
#define COND_MAX (CATALOG_MAX_MEASURES + CATALOG_MAX_CHANNELS)
#define NSRC (SRC_COND + COND_MAX)
_Static_assert(NSRC <= 256, "sources are numbered by uint8_t");

struct fatom {
    uint8_t n, src[CAT_EXPR_MAX];
    uint8_t known, dst; /* known: a source that must be 1; dst: condition */
    int64_t neg;        /* 1: the atom holds outside [lo, hi)              */
    int64_t lo, hi;
};

struct fchan {
    uint8_t n, src[CAT_EXPR_MAX];
    uint8_t pop;        /* source of its population                        */
    uint8_t sq;         /* square of the sum                               */
    int16_t slot, hi;   /* hi: high half of a 128-bit square, or -1        */
};

struct gprog {
    int natoms;
    struct fatom a[COND_MAX * CAT_FILTER_MAX];
    int nconds;                            /* populations + where clauses */
    int nflags;
    int nch;
    struct fchan ch[CATALOG_MAX_CHANNELS];
    int mfilter[CATALOG_MAX_MEASURES];     /* measure -> population filter */
    uint32_t leave_out;
    int nacc, nlines;
    int nmx;                               /* kept maxima: slot, channel   */
    int16_t mx_slot[CATALOG_MAX_CHANNELS], mx_ch[CATALOG_MAX_CHANNELS];
    uint8_t is_wide[GACC_MAX];             /* slot of a 128-bit sum        */
};

#define NGROUPINGS (1 + S__COUNT + TALLY_MAX_INTERSECTIONS)
#define COUNTY_CODES 100000

struct grouping {
    int ndim;
    int s[3];        /* stratifiers (S_TOTAL for unused dims)           */
    int cap[3];      /* slots per dimension (1 for unused dims)         */
    int64_t *acc;    /* cap[0] * cap[1] * cap[2] * NACC (SL_MAXC: largest
                        cost); slot (i, j, l) at (i * cap[1] + j) * cap[2] + l */
};

struct tally {
    struct tally_spec spec;
    int16_t age_band_of[121];
    /* Derived stratifiers, precomputed from catalog.c's functions. */
    uint8_t re_of[RACE__COUNT][ETH__COUNT];
    uint8_t age_std_of[122];          /* [age + 1], age -1 = unknown     */
    uint8_t adiq_of[11];
    uint8_t heba_of[11][PAYER__COUNT];
    struct grouping g[NGROUPINGS];
    int ng;
    int static_card[S__COUNT];
    /* Interning: slot 0 is the unknown value. */
    int16_t lang_slot[LANG_PACKED_MAX];
    uint16_t lang_code[TALLY_MAX_LANGUAGES];
    int64_t lang_members[TALLY_MAX_LANGUAGES];
    int nlang;
    int16_t *county_slot; /* COUNTY_CODES entries */
    int32_t county_code[TALLY_MAX_COUNTIES];
    int ncounty;
    int overflow_lang, overflow_county, overflow_cost;
    /* file catalog: per int64 cost sum (big[b]), the sum of its deltas'
     * absolute values over the whole tally */
    uint64_t big_abs[CATALOG_MAX_CHANNELS];
    uint64_t zero_months;
    /* Accumulator layout: NACC slots for the compiled-in catalog, else the
     * file catalog's program. */
    int nacc;
    int16_t slot[CATALOG_MAX_CHANNELS]; /* channel -> slot                 */
    int16_t hi_of[CATALOG_MAX_CHANNELS]; /* channel -> high half, or -1     */
    int16_t maxc_of[CATALOG_MAX_CHANNELS]; /* channel -> kept maximum, -1   */
    uint8_t is_maxc[GACC_MAX];
    int nwide, wide_lo[CATALOG_MAX_CHANNELS], wide_hi[CATALOG_MAX_CHANNELS]; /* 128-bit sums */
    int nbig, big[CATALOG_MAX_CHANNELS]; /* sums checked for int64 overflow */
    struct gprog *prog;                 /* NULL: compiled-in catalog       */
    int identity_on;                    /* a grouping uses an identity one  */
    /* Detailed race (race_detail.h): whether a grouping uses race_detail,
     * race_group or race_aic, and the race_aic grouping (a member adds to
     * every stratum of its race_aic_mask), or -1. */
    int race_on;
    int aic_g;
};

static const int default_age_bands[] = {0, 5, 12, 18, 26, 45, 65, 75};
static const int default_inter[][CATALOG_INTER_DIM] = {
    {S_RACE, S_DISABILITY}, {S_RACE, S_CMC}, {S_RACE, S_PAYER},
    {S_RACE, S_AGE_BAND}, {S_PAYER, S_LANGUAGE}, {S_ETHNICITY, S_LANGUAGE}};

void tally_spec_default(struct tally_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->n_age_bands = (int)(sizeof default_age_bands / sizeof default_age_bands[0]);
    memcpy(spec->age_band_lo, default_age_bands, sizeof default_age_bands);
    catalog_all_measures(spec->measure_on);
    for (int s = 0; s < S__COUNT; s++)
        spec->stratifier_on[s] = (uint8_t)catalog_stratifier_offered(s);
    spec->n_inter = (int)(sizeof default_inter / sizeof default_inter[0]);
    memcpy(spec->inter, default_inter, sizeof default_inter);
    spec->language_min_members = 11;
}

void tally_age_band_label(const struct tally_spec *spec, int i, char *buf, size_t len)
{
    if (i >= spec->n_age_bands)
        snprintf(buf, len, "UNKNOWN");
    else if (i == spec->n_age_bands - 1)
        snprintf(buf, len, "%d+", spec->age_band_lo[i]);
    else if (spec->age_band_lo[i + 1] - 1 == spec->age_band_lo[i])
        snprintf(buf, len, "%d", spec->age_band_lo[i]);
    else
        snprintf(buf, len, "%d-%d", spec->age_band_lo[i], spec->age_band_lo[i + 1] - 1);
}

static int grouping_alloc(struct grouping *g, int nacc)
{
    size_t n = (size_t)g->cap[0] * (size_t)g->cap[1] * (size_t)g->cap[2];
    g->acc = aligned_alloc(64, n * (size_t)nacc * sizeof(int64_t));
    if (!g->acc)
        return -1;
    memset(g->acc, 0, n * (size_t)nacc * sizeof(int64_t));
    return 0;
}

static int initial_cap(const struct tally *t, int s)
{
    if (s == S_LANGUAGE)
        return 32;
    if (s == S_COUNTY)
        return 64;
    return t->static_card[s];
}

static int add_grouping(struct tally *t, int ndim, int s0, int s1, int s2)
{
    struct grouping *g = &t->g[t->ng];
    memset(g, 0, sizeof *g);
    g->ndim = ndim;
    g->s[0] = ndim >= 1 ? s0 : S_TOTAL;
    g->s[1] = ndim >= 2 ? s1 : S_TOTAL;
    g->s[2] = ndim >= 3 ? s2 : S_TOTAL;
    for (int d = 0; d < 3; d++)
        g->cap[d] = initial_cap(t, g->s[d]);
    if (grouping_alloc(g, t->nacc) != 0)
        return -1;
    t->ng++;
    return 0;
}

/* ---- The file catalog's program ------------------------------------------ */

static void gfilter_of(const struct cat_filter *f, struct gfilter *g)
{
    memset(g, 0, sizeof *g);
    g->n = f->n;
    for (int i = 0; i < f->n; i++) {
        const struct cat_atom *a = &f->a[i];
        g->a[i].n = a->e.n;
        memcpy(g->a[i].col, a->e.col, sizeof a->e.col);
        g->a[i].op = a->op;
        g->a[i].v = a->v;
        g->a[i].intcol = a->e.n == 1 && a->e.col[0] < CATALOG_N_BASE_COLS &&
                         catalog_base_columns[a->e.col[0]].type == CT_INT;
    }
}

/* Lays out the accumulator: the compiled-in catalog's slots (slot_of), or
 * a program for a file catalog. */
static int layout_init(struct tally *t)
{
    const struct catalog *c = catalog_active();
    memset(t->hi_of, 0xff, sizeof t->hi_of);
    memset(t->maxc_of, 0xff, sizeof t->maxc_of);
    if (catalog_is_builtin(c)) {
        t->nacc = NACC;
        for (int ch = 0; ch < CH__COUNT; ch++)
            t->slot[ch] = slot_of[ch];
        t->hi_of[CH_COST_SQ] = SL_COST_SQ_HI;
        t->maxc_of[CH_COST] = SL_MAXC;
        t->is_maxc[SL_MAXC] = 1;
        t->nwide = 1;
        t->wide_lo[0] = SL_COST_SQ;
        t->wide_hi[0] = SL_COST_SQ_HI;
        t->nbig = 1;
        t->big[0] = SL_COST;
        return 0;
    }
    struct gprog *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    t->prog = p;
    /* conditions: the populations (source SRC_COND + filter), then each
     * channel's `where` clause */
    p->nconds = c->n_filters;
    int where_of[CATALOG_MAX_CHANNELS];
    for (int ch = 0; ch < c->n_channels; ch++)
        where_of[ch] = c->ch[ch].v.kind == CV_ONE && c->ch[ch].v.where.n ? p->nconds++ : -1;
    if (p->nconds > COND_MAX)
        return -1;
    for (int k = 0; k < p->nconds; k++) {
        const struct cat_filter *f = k < c->n_filters ? &c->filters[k] : NULL;
        for (int ch = 0; !f && ch < c->n_channels; ch++)
            if (where_of[ch] == k)
                f = &c->ch[ch].v.where;
        for (int i = 0; i < f->n; i++) {
            const struct cat_atom *at = &f->a[i];
            struct fatom *o = &p->a[p->natoms++];
            o->dst = (uint8_t)(SRC_COND + k);
            o->known = SRC_ONE;
            if (at->op == CAT_PRESENT) {
                o->n = 1;
                o->src[0] = SRC_PRESENT;
                o->lo = 1;
                o->hi = INT64_MAX;
                continue;
            }
            o->n = at->e.n;
            memcpy(o->src, at->e.col, sizeof o->src);
            if (at->e.n == 1 && at->e.col[0] < CATALOG_N_BASE_COLS &&
                catalog_base_columns[at->e.col[0]].type == CT_INT)
                o->known = at->e.col[0] == 2 ? SRC_AGE_KNOWN : SRC_ADI_KNOWN;
            /* column values are far from the int64 ends (extract.md) */
            o->lo = at->op == CAT_LT ? INT64_MIN : at->v;
            o->hi = at->op == CAT_GE ? INT64_MAX : at->op == CAT_LT ? at->v : at->v + 1;
            o->neg = at->op == CAT_NE;
        }
    }
    for (int m = 0; m < c->n_measures; m++)
        p->mfilter[m] = c->m[m].absent ? -1 : c->src[m].filter;
    p->leave_out = c->leave_out;
    p->nflags = c->n_flags;
    p->nch = c->n_channels;
    /* slots: the channels of one population together, each population
     * from a fresh line unless it fits in the current one */
    /* A channel of every member that is zero outside another population
     * (sum X where a population is X >= 1; members where W, W a
     * population) is laid out with that population, so that its line is
     * skipped with it (the layout only: its value is its own). */
    int group[CATALOG_MAX_CHANNELS];
    for (int ch = 0; ch < c->n_channels; ch++) {
        const struct cat_channel *k = &c->ch[ch];
        group[ch] = k->filter;
        if (c->filters[k->filter].n != 0)
            continue;
        for (int f = 0; f < c->n_filters; f++) {
            const struct cat_filter *F = &c->filters[f];
            if (k->v.kind == CV_SUM && F->n == 1 && F->a[0].op == CAT_GE && F->a[0].v == 1 &&
                F->a[0].e.n == k->v.e.n &&
                !memcmp(F->a[0].e.col, k->v.e.col, k->v.e.n))
                group[ch] = f;
            if (k->v.kind == CV_ONE && k->v.where.n == 1 && F->n == 1 &&
                F->a[0].op == k->v.where.a[0].op && F->a[0].v == k->v.where.a[0].v &&
                F->a[0].e.n == k->v.where.a[0].e.n &&
                !memcmp(F->a[0].e.col, k->v.where.a[0].e.col, F->a[0].e.n))
                group[ch] = f;
        }
    }
    int next = 0;
    for (int f = 0; f < c->n_filters; f++) {
        int need = 0;
        for (int ch = 0; ch < c->n_channels; ch++)
            if (group[ch] == f)
                need += 1 + c->ch[ch].wide + c->ch[ch].maxc;
        if (!need)
            continue;
        if (next % 8 && next % 8 + need > 8)
            next = (next + 7) / 8 * 8;
        for (int ch = 0; ch < c->n_channels; ch++) {
            const struct cat_channel *k = &c->ch[ch];
            if (group[ch] != f)
                continue;
            struct fchan *g = &p->ch[ch];
            g->pop = (uint8_t)(SRC_COND + k->filter);
            switch (k->v.kind) {
            case CV_ONE:
                g->n = 1;
                g->src[0] = where_of[ch] >= 0 ? (uint8_t)(SRC_COND + where_of[ch]) : SRC_ONE;
                break;
            case CV_MONTHS:
                g->n = 1;
                g->src[0] = 12; /* member_months */
                break;
            case CV_SUM:
                g->n = k->v.e.n;
                memcpy(g->src, k->v.e.col, sizeof g->src);
                break;
            default: /* CV_SQ: of one column */
                g->n = 1;
                g->src[0] = k->v.e.col[0];
                g->sq = 1;
            }
            t->slot[ch] = g->slot = (int16_t)next++;
            t->hi_of[ch] = g->hi = (int16_t)(k->wide ? next++ : -1);
            t->maxc_of[ch] = (int16_t)(k->maxc ? next++ : -1);
            if (k->maxc) {
                t->is_maxc[next - 1] = 1;
                p->mx_slot[p->nmx] = (int16_t)(next - 1);
                p->mx_ch[p->nmx++] = (int16_t)ch;
            }
            if (k->wide) {
                t->wide_lo[t->nwide] = g->slot;
                t->wide_hi[t->nwide++] = g->hi;
                p->is_wide[g->slot] = p->is_wide[g->hi] = 1;
            }
            if (k->big)
                t->big[t->nbig++] = g->slot;
        }
    }
    p->nacc = (next + 7) / 8 * 8;
    if (p->nacc == 0)
        p->nacc = 8;
    if (p->nacc > GACC_MAX)
        return -1;
    p->nlines = p->nacc / 8;
    t->nacc = p->nacc;
    return 0;
}

struct tally *tally_new(const struct tally_spec *spec)
{
    if (spec->n_age_bands < 1 || spec->n_age_bands > TALLY_MAX_AGE_BANDS ||
        spec->age_band_lo[0] != 0 || spec->n_inter > TALLY_MAX_INTERSECTIONS)
        return NULL;
    for (int i = 1; i < spec->n_age_bands; i++)
        if (spec->age_band_lo[i] <= spec->age_band_lo[i - 1] || spec->age_band_lo[i] > 120)
            return NULL;
    struct tally *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->spec = *spec;
    if (layout_init(t) != 0)
        goto fail;
    t->county_slot = malloc(COUNTY_CODES * sizeof *t->county_slot);
    if (!t->county_slot)
        goto fail;
    for (int a = 0, b = 0; a <= 120; a++) {
        while (b + 1 < spec->n_age_bands && a >= spec->age_band_lo[b + 1])
            b++;
        t->age_band_of[a] = (int16_t)b;
    }
    for (int r = 0; r < RACE__COUNT; r++)
        for (int e = 0; e < ETH__COUNT; e++)
            t->re_of[r][e] = (uint8_t)catalog_race_ethnicity(r, e);
    for (int a = -1; a <= 120; a++)
        t->age_std_of[a + 1] = (uint8_t)catalog_age_std(a);
    for (int d = 0; d <= 10; d++) {
        t->adiq_of[d] = (uint8_t)catalog_adi_quintile(d);
        for (int p = 0; p < PAYER__COUNT; p++)
            t->heba_of[d][p] = (uint8_t)catalog_heba_band(d, p);
    }
    int cards[S__COUNT] = {
        [S_TOTAL] = 1, [S_RACE] = RACE__COUNT, [S_ETHNICITY] = ETH__COUNT,
        [S_RACE_ETHNICITY] = RE__COUNT, [S_SEX] = SEX__COUNT,
        [S_AGE_BAND] = spec->n_age_bands + 1, [S_LANGUAGE] = TALLY_MAX_LANGUAGES,
        [S_NON_ENGLISH] = NONENG__COUNT, [S_PAYER] = PAYER__COUNT,
        [S_ADI_QUINTILE] = ADIQ__COUNT, [S_DISABILITY] = YNU__COUNT, [S_CMC] = YNU__COUNT,
        [S_COUNTY] = TALLY_MAX_COUNTIES, [S_AGE_STD] = AGESTD__COUNT + 1,
        [S_HEBA_BAND] = HEBA__COUNT, [S_RACE_SOURCE] = RSRC__COUNT,
        [S_ETHNICITY_SOURCE] = RSRC__COUNT, [S_SEXUAL_ORIENTATION] = SO__COUNT,
        [S_GENDER_IDENTITY] = GI__COUNT, [S_RACE_DETAIL] = RD__COUNT, [S_RACE_GROUP] = RG__COUNT,
        [S_RACE_AIC] = AIC__COUNT};
    memcpy(t->static_card, cards, sizeof cards);
    memset(t->lang_slot, 0xff, sizeof t->lang_slot);
    memset(t->county_slot, 0xff, COUNTY_CODES * sizeof *t->county_slot);
    t->lang_slot[LANG_UNKNOWN] = 0;
    t->lang_code[0] = LANG_UNKNOWN;
    t->nlang = 1;
    t->county_code[0] = COUNTY_UNKNOWN;
    t->ncounty = 1;

    t->aic_g = -1;
    if (spec->stratifier_on[S_TOTAL] && add_grouping(t, 0, 0, 0, 0) != 0)
        goto fail;
    for (int s = 1; s < S__COUNT; s++) {
        if (!spec->stratifier_on[s])
            continue;
        if (s == S_RACE_AIC)
            t->aic_g = t->ng;
        if (add_grouping(t, 1, s, 0, 0) != 0)
            goto fail;
    }
    for (int i = 0; i < spec->n_inter; i++) {
        int a = spec->inter[i][0], b = spec->inter[i][1], c = spec->inter[i][2];
        if (a <= S_TOTAL || a >= S__COUNT || b <= S_TOTAL || b >= S__COUNT || a == b ||
            c < S_TOTAL || c >= S__COUNT || c == a || c == b)
            goto fail;
        /* race_aic is not additive: a member would be in several cells */
        if (!catalog_intersection_allowed(a, b) ||
            (c != S_TOTAL && (!catalog_intersection_allowed(a, c) || !catalog_intersection_allowed(b, c))))
            goto fail;
        /* a three-way grouping of open code lists is refused by
         * catalog_inter_parse; checked here too, as its size would not be
         * bounded */
        if (c != S_TOTAL && (a == S_LANGUAGE || a == S_COUNTY || b == S_LANGUAGE ||
                             b == S_COUNTY || c == S_LANGUAGE || c == S_COUNTY))
            goto fail;
        if (add_grouping(t, c != S_TOTAL ? 3 : 2, a, b, c) != 0)
            goto fail;
    }
    for (int gi = 0; gi < t->ng; gi++)
        for (int d = 0; d < t->g[gi].ndim; d++) {
            int s = t->g[gi].s[d];
            t->identity_on |= catalog_stratifier_is_identity(s);
            t->race_on |= s == S_RACE_DETAIL || s == S_RACE_GROUP || s == S_RACE_AIC;
        }
    return t;
fail:
    tally_destroy(&t);
    return NULL;
}

void tally_destroy(struct tally **pt)
{
    if (!pt || !*pt)
        return;
    struct tally *t = *pt;
    for (int i = 0; i < t->ng; i++) {
        free(t->g[i].acc);
    }
    free(t->county_slot);
    free(t->prog);
    free(t);
    *pt = NULL;
}

/* Re-lays out every grouping using stratifier s so that dimension slots
 * of s hold at least `need` values. */
static int grow_dim(struct tally *t, int s, int need)
{
    for (int gi = 0; gi < t->ng; gi++) {
        struct grouping *g = &t->g[gi];
        for (int d = 0; d < g->ndim; d++) {
            if (g->s[d] != s || g->cap[d] >= need)
                continue;
            int ncap = g->cap[d];
            while (ncap < need)
                ncap *= 2;
            if (ncap > t->static_card[s])
                ncap = t->static_card[s];
            struct grouping ng = *g;
            ng.cap[d] = ncap;
            if (grouping_alloc(&ng, t->nacc) != 0) {
                free(ng.acc);
                return -1;
            }
            for (int i = 0; i < g->cap[0]; i++)
                for (int j = 0; j < g->cap[1]; j++)
                    for (int l = 0; l < g->cap[2]; l++) {
                        size_t from = ((size_t)i * g->cap[1] + j) * g->cap[2] + l;
                        size_t to = ((size_t)i * ng.cap[1] + j) * ng.cap[2] + l;
                        memcpy(ng.acc + to * t->nacc, g->acc + from * t->nacc,
                               (size_t)t->nacc * sizeof(int64_t));
                    }
            free(g->acc);
            *g = ng;
        }
    }
    return 0;
}

static int lang_slot_of(struct tally *t, int code)
{
    int slot = t->lang_slot[code];
    if (slot >= 0)
        return slot;
    if (t->nlang >= TALLY_MAX_LANGUAGES) {
        t->overflow_lang = 1;
        return 0;
    }
    if (grow_dim(t, S_LANGUAGE, t->nlang + 1) != 0) {
        t->overflow_lang = 1;
        return 0;
    }
    slot = t->nlang++;
    t->lang_code[slot] = (uint16_t)code;
    t->lang_members[slot] = 0;
    t->lang_slot[code] = (int16_t)slot;
    return slot;
}

static int county_slot_of(struct tally *t, int32_t fips)
{
    if (fips < 0 || fips >= COUNTY_CODES)
        return 0;
    int slot = t->county_slot[fips];
    if (slot >= 0)
        return slot;
    if (t->ncounty >= TALLY_MAX_COUNTIES || grow_dim(t, S_COUNTY, t->ncounty + 1) != 0) {
        t->overflow_county = 1;
        return 0;
    }
    slot = t->ncounty++;
    t->county_code[slot] = fips;
    t->county_slot[fips] = (int16_t)slot;
    return slot;
}

/* Contributions of one record, by slot; returns the mask of the lines
 * that can hold a non-zero contribution (line 0 always). */
static inline __attribute__((always_inline)) unsigned record_delta(const struct member_record *r,
                                                                 int64_t d[NACC])
{
    memset(d, 0, NACC * sizeof(int64_t));
    unsigned lines = 1;
    int64_t mm = r->member_months;
    d[SL_MEMBERS_ALL] = 1;
    d[SL_MONTHS_ALL] = mm;
    d[SL_ED] = r->ed_visits;
    d[SL_IP] = r->ip_admits;
    d[SL_WELLNESS] = r->wellness_visit ? 1 : 0;
    d[SL_COST] = r->total_cost;
    unsigned __int128 sq = (unsigned __int128)(uint64_t)r->total_cost * (uint64_t)r->total_cost;
    d[SL_COST_SQ] = (int64_t)(uint64_t)sq;
    d[SL_COST_SQ_HI] = (int64_t)(uint64_t)(sq >> 64);
    if (r->ip_admits > 0) {
        d[SL_MEMBERS_IP] = 1;
        d[SL_MONTHS_IP] = mm;
        d[SL_READMITS] = r->ip_readmits_30d;
        lines |= 1u << 3;
    }
    const uint32_t unk = r->unknown_measures;
    if (r->scheduled_appts > 0 && !(unk & (1u << M_NO_SHOW))) {
        d[SL_MEMBERS_SCHED] = 1;
        d[SL_MONTHS_SCHED] = mm;
        d[SL_SCHED] = r->scheduled_appts;
        d[SL_NOSHOW] = r->no_shows;
        lines |= 1u << 1;
    }
    uint32_t visits = r->primary_care_visits + r->telehealth_visits;
    if (visits > 0 && !(unk & (1u << M_TELEHEALTH_SHARE))) {
        d[SL_MEMBERS_VISIT] = 1;
        d[SL_MONTHS_VISIT] = mm;
        d[SL_VISITS] = visits;
        d[SL_TELE] = r->telehealth_visits;
        lines |= 1u << 1;
    }
    if (r->diabetes && !(unk & (1u << M_DIABETES_POOR_CONTROL))) {
        d[SL_MEMBERS_DIAB] = 1;
        d[SL_MONTHS_DIAB] = mm;
        d[SL_POOR] = r->hba1c_poor_control ? 1 : 0;
        lines |= 1u << 3;
    }
    if (r->hypertension && !(unk & (1u << M_BP_CONTROL))) {
        d[SL_MEMBERS_HTN] = 1;
        d[SL_MONTHS_HTN] = mm;
        d[SL_BPC] = r->bp_controlled ? 1 : 0;
        lines |= 1u << 4;
    }
    if (r->hrsn_screened) {
        d[SL_SCREENED] = 1;
        d[SL_MONTHS_SCREENED] = mm;
        d[SL_FOOD] = r->hrsn_food ? 1 : 0;
        d[SL_HOUSING] = r->hrsn_housing ? 1 : 0;
        d[SL_TRANSPORT] = r->hrsn_transport ? 1 : 0;
        d[SL_UTILITIES] = r->hrsn_utilities ? 1 : 0;
        d[SL_SAFETY] = r->hrsn_safety ? 1 : 0;
        d[SL_HRSN_ANY] = (r->hrsn_food | r->hrsn_housing | r->hrsn_transport |
                          r->hrsn_utilities | r->hrsn_safety) ? 1 : 0;
        lines |= 1u << 2;
    }
    if (r->has_experience && !(unk & (1u << M_EXPERIENCE))) {
        d[SL_MEMBERS_EXP] = 1;
        d[SL_MONTHS_EXP] = mm;
        d[SL_EXP_SUM] = r->experience_score;
        d[SL_EXP_SQ] = (int64_t)r->experience_score * r->experience_score;
        lines |= 1u << 4;
    }
    return lines;
}

/* a[0..7] += d[0..7]: one cache line, auto-vectorised; wraps (the cost
 * slots are checked by the caller). */
/* One 64-byte line of eight sums, added as one vector (GCC's generic
 * vectors: a single AVX-512 add, two AVX2 or four SSE2 adds); unsigned, so
 * a wrap is defined and the overflow checks see it. */
typedef uint64_t line_vec __attribute__((vector_size(64)));

static inline void add_line(int64_t *restrict a, const int64_t *restrict d)
{
    line_vec x, y;
    memcpy(&x, a, sizeof x);
    memcpy(&y, d, sizeof y);
    x += y;
    memcpy(a, &x, sizeof x);
}

/* After a line add: the carry of the low half of the 128-bit sum of
 * squares into its high half (two's complement, so a negated delta works
 * too). `dlo` is the low half that was added. */
static inline void carry_sq(int64_t *a, int64_t dlo)
{
    if ((uint64_t)a[SL_COST_SQ] < (uint64_t)dlo)
        a[SL_COST_SQ_HI] = (int64_t)((uint64_t)a[SL_COST_SQ_HI] + 1);
}

/* The strata of the identity stratifiers (catalog.h, issue 13). */
static inline void record_identity_codes(const struct member_record *r, int code[S__COUNT])
{
    code[S_RACE_SOURCE] = record_identity(r->race_source, RSRC__COUNT, RSRC_UNKNOWN);
    code[S_ETHNICITY_SOURCE] = record_identity(r->ethnicity_source, RSRC__COUNT, RSRC_UNKNOWN);
    code[S_SEXUAL_ORIENTATION] = record_identity(r->sexual_orientation, SO__COUNT, SO_UNKNOWN);
    code[S_GENDER_IDENTITY] = record_identity(r->gender_identity, GI__COUNT, GI_UNKNOWN);
}

/* The stratum of each stratifier for record r (slots for the interned
 * language and county). */
static inline __attribute__((always_inline)) void record_codes(struct tally *t,
                                                             const struct member_record *r,
                                                             int code[S__COUNT])
{
    int age = r->age;
    code[S_TOTAL] = 0;
    code[S_RACE] = r->race;
    code[S_ETHNICITY] = r->ethnicity;
    code[S_RACE_ETHNICITY] = r->race < RACE__COUNT && r->ethnicity < ETH__COUNT
                                 ? t->re_of[r->race][r->ethnicity]
                                 : catalog_race_ethnicity(r->race, r->ethnicity);
    code[S_SEX] = r->sex;
    code[S_AGE_BAND] = (age >= 0 && age <= 120) ? t->age_band_of[age] : t->spec.n_age_bands;
    code[S_LANGUAGE] = lang_slot_of(t, r->language < LANG_PACKED_MAX ? r->language : LANG_UNKNOWN);
    code[S_NON_ENGLISH] = r->language == LANG_UNKNOWN ? NONENG_UNKNOWN
                          : r->language == ((('e' - 'a') * 26 + ('n' - 'a')) * 26 + ('g' - 'a'))
                              ? NONENG_NO : NONENG_YES;
    code[S_PAYER] = r->payer;
    code[S_ADI_QUINTILE] = r->adi_decile <= 10 ? t->adiq_of[r->adi_decile]
                                               : catalog_adi_quintile(r->adi_decile);
    code[S_DISABILITY] = r->disability;
    code[S_CMC] = r->cmc;
    code[S_COUNTY] = county_slot_of(t, r->county);
    code[S_AGE_STD] = t->age_std_of[age >= 0 && age <= 120 ? age + 1 : 0];
    code[S_HEBA_BAND] = r->adi_decile <= 10 && r->payer < PAYER__COUNT
                            ? t->heba_of[r->adi_decile][r->payer]
                            : catalog_heba_band(r->adi_decile, r->payer);
    if (t->identity_on)
        record_identity_codes(r, code);
    if (t->race_on) {
        code[S_RACE_DETAIL] = race_detail_stratum(r->race_det, r->race_min);
        code[S_RACE_GROUP] = race_group_stratum(r->race_det, r->race_min);
        code[S_RACE_AIC] = __builtin_ctz(race_aic_mask(r->race_min, r->race, r->ethnicity));
    } else {
        code[S_RACE_DETAIL] = code[S_RACE_GROUP] = code[S_RACE_AIC] = 0;
    }
}

/* Value of column col of r (catalog_def.h ids = extract.h's COL_*, then
 * the catalog's flags). */
static inline int64_t col_value(const struct member_record *r, int col)
{
    switch (col) {
    case 2: return r->age;
    case 3: return r->sex;
    case 4: return r->race;
    case 5: return r->ethnicity;
    case 7: return r->payer;
    case 8: return r->adi_decile;
    case 9: return r->disability;
    case 10: return r->cmc;
    case 12: return r->member_months;
    case 13: return r->ed_visits;
    case 14: return r->ip_admits;
    case 15: return r->ip_readmits_30d;
    case 16: return r->primary_care_visits;
    case 17: return r->telehealth_visits;
    case 18: return r->scheduled_appts;
    case 19: return r->no_shows;
    case 20: return r->wellness_visit;
    case 21: return r->diabetes;
    case 22: return r->hba1c_poor_control;
    case 23: return r->hypertension;
    case 24: return r->bp_controlled;
    case 25: return r->hrsn_screened;
    case 26: return r->hrsn_food;
    case 27: return r->hrsn_housing;
    case 28: return r->hrsn_transport;
    case 29: return r->hrsn_utilities;
    case 30: return r->hrsn_safety;
    case 31: return r->total_cost;
    case 32: return r->experience_score;
    default:
        return col >= CATALOG_N_BASE_COLS ? (int64_t)((r->xflags >> (col - CATALOG_N_BASE_COLS)) & 1u)
                                          : 0;
    }
}

static inline int gatom_holds(const struct gatom *a, const struct member_record *r)
{
    if (a->op == CAT_PRESENT)
        return r->has_experience;
    int64_t x = 0;
    for (int i = 0; i < a->n; i++)
        x += col_value(r, a->col[i]);
    if (a->intcol && (a->col[0] == 2 ? r->age < 0 : r->adi_decile == 0))
        return 0; /* an unknown age or ADI decile meets no condition */
    switch (a->op) {
    case CAT_GE: return x >= a->v;
    case CAT_LT: return x < a->v;
    case CAT_EQ: return x == a->v;
    default: return x != a->v;
    }
}

static inline int gfilter_holds(const struct gfilter *f, const struct member_record *r)
{
    for (int i = 0; i < f->n; i++)
        if (!gatom_holds(&f->a[i], r))
            return 0;
    return 1;
}

int tally_filter_holds(const struct cat_filter *f, const struct member_record *r)
{
    struct gfilter g;
    gfilter_of(f, &g);
    return gfilter_holds(&g, r);
}

/* The sources of record r (struct gprog): every column as col_value()
 * gives it, the constants, and every condition set to 1 (its atoms AND
 * into it). Straight-line: no branch on the catalog. */
static inline __attribute__((always_inline)) void fill_sources(const struct gprog *p,
                                                             const struct member_record *r,
                                                             int64_t *s)
{
    s[0] = s[1] = s[6] = s[11] = 0; /* text columns: never in a definition */
    s[2] = r->age;
    s[3] = r->sex;
    s[4] = r->race;
    s[5] = r->ethnicity;
    s[7] = r->payer;
    s[8] = r->adi_decile;
    s[9] = r->disability;
    s[10] = r->cmc;
    s[12] = r->member_months;
    s[13] = r->ed_visits;
    s[14] = r->ip_admits;
    s[15] = r->ip_readmits_30d;
    s[16] = r->primary_care_visits;
    s[17] = r->telehealth_visits;
    s[18] = r->scheduled_appts;
    s[19] = r->no_shows;
    s[20] = r->wellness_visit;
    s[21] = r->diabetes;
    s[22] = r->hba1c_poor_control;
    s[23] = r->hypertension;
    s[24] = r->bp_controlled;
    s[25] = r->hrsn_screened;
    s[26] = r->hrsn_food;
    s[27] = r->hrsn_housing;
    s[28] = r->hrsn_transport;
    s[29] = r->hrsn_utilities;
    s[30] = r->hrsn_safety;
    s[31] = r->total_cost;
    s[32] = r->experience_score;
    _Static_assert(CATALOG_N_BASE_COLS == 33, "fill_sources lists every base column");
    for (int f = 0; f < p->nflags; f++)
        s[CATALOG_N_BASE_COLS + f] = (int64_t)((r->xflags >> f) & 1u);
    s[SRC_ONE] = 1;
    s[SRC_AGE_KNOWN] = r->age >= 0;
    s[SRC_ADI_KNOWN] = r->adi_decile != 0;
    s[SRC_PRESENT] = r->has_experience;
    for (int k = 0; k < p->nconds; k++)
        s[SRC_COND + k] = 1;
}

/* Adds the record's deltas d (lines: the non-zero cache lines) into one
 * accumulator a of a file catalog's tally; returns whether a cost sum left
 * int64. */
static inline __attribute__((always_inline)) void generic_acc(const struct tally *t,
                                                            const struct gprog *p, int64_t *a,
                                                            const int64_t *d, uint64_t lines,
                                                            const int64_t *dlo,
                                                            const int64_t *mxv, int nwide,
                                                            int nmx)
{
    for (uint64_t ls = lines; ls; ls &= ls - 1) {
        size_t l = (size_t)__builtin_ctzll(ls) * 8;
        add_line(a + l, d + l);
    }
    for (int w = 0; w < nwide; w++)
        if ((uint64_t)a[t->wide_lo[w]] < (uint64_t)dlo[w])
            a[t->wide_hi[w]] = (int64_t)((uint64_t)a[t->wide_hi[w]] + 1);
    /* A record taken back leaves the maximum as it was, so the dominance
     * rule errs on withholding. */
    for (int i = 0; i < nmx; i++) {
        int k = p->mx_slot[i];
        a[k] = mxv[i] > a[k] ? mxv[i] : a[k];
    }
}

/* tally_add for a file catalog: the same sums, from the compiled program.
 * Inlined into every version of tally_add (AVX-512, AVX2, default). */
static inline __attribute__((always_inline)) void tally_add_generic(struct tally *t,
                                                                  const struct member_record *r,
                                                                  int sign)
{
    const struct gprog *p = t->prog;
    int64_t s[NSRC];
    int64_t d[GACC_MAX] __attribute__((aligned(64)));
    memset(d, 0, (size_t)p->nacc * sizeof(int64_t));
    fill_sources(p, r, s);
    /* conditions: each atom ANDs its range test into its condition */
    for (int i = 0; i < p->natoms; i++) {
        const struct fatom *a = &p->a[i];
        int64_t x = 0;
        for (int k = 0; k < a->n; k++)
            x += s[a->src[k]];
        int64_t in = (int64_t)(x >= a->lo) & (int64_t)(x < a->hi);
        s[a->dst] &= (in ^ a->neg) & s[a->known];
    }
    /* a member left out of a measure alone is out of its population */
    for (uint32_t out = r->unknown_measures & p->leave_out; out; out &= out - 1) {
        int m = __builtin_ctz(out);
        if (p->mfilter[m] >= 0)
            s[SRC_COND + p->mfilter[m]] = 0;
    }
    /* channels: a sum of sources, zero outside the population */
    for (int ch = 0; ch < p->nch; ch++) {
        const struct fchan *g = &p->ch[ch];
        int64_t v = 0;
        for (int k = 0; k < g->n; k++)
            v += s[g->src[k]];
        v &= -s[g->pop];
        if (g->hi >= 0) {
            unsigned __int128 sq = (unsigned __int128)(uint64_t)v * (uint64_t)v;
            d[g->slot] = (int64_t)(uint64_t)sq;
            d[g->hi] = (int64_t)(uint64_t)(sq >> 64);
        } else {
            d[g->slot] = g->sq ? v * v : v;
        }
    }
    /* kept maxima (their delta stays 0): the record's own value */
    int64_t mxv[CATALOG_MAX_CHANNELS];
    const int nmx = p->nmx;
    for (int i = 0; i < nmx; i++) {
        const struct fchan *g = &p->ch[p->mx_ch[i]];
        mxv[i] = d[g->slot];
    }
    const int nwide = t->nwide, nbig = t->nbig;
    if (sign < 0) {
        for (int w = 0; w < nwide; w++) {
            uint64_t lo = (uint64_t)d[t->wide_lo[w]], hi = (uint64_t)d[t->wide_hi[w]];
            d[t->wide_lo[w]] = (int64_t)(0 - lo);
            d[t->wide_hi[w]] = (int64_t)(~hi + (lo == 0));
        }
        for (int j = 0; j < p->nacc; j++)
            if (!p->is_wide[j])
                d[j] = -d[j];
    }
    int64_t dlo[CATALOG_MAX_CHANNELS];
    for (int w = 0; w < nwide; w++)
        dlo[w] = d[t->wide_lo[w]];
    uint64_t lines = 0;
    for (int l = 0; l < p->nlines; l++) {
        int64_t any = 0;
        for (int j = 0; j < 8; j++)
            any |= d[l * 8 + j];
        lines |= (uint64_t)(any != 0) << l;
    }
    int code[S__COUNT];
    record_codes(t, r, code);
    t->lang_members[code[S_LANGUAGE]] += sign;
    /* int64 cost sums: every accumulator's sum is a signed sum of some of
     * the deltas, so it cannot leave int64 while the deltas' absolute values
     * summed over the whole tally stay within it; checked once per record
     * instead of per accumulator (tally_merge checks each sum it adds) */
    for (int b = 0; b < nbig; b++) {
        int64_t x = d[t->big[b]];
        uint64_t ax = x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
        if (__builtin_add_overflow(t->big_abs[b], ax, &t->big_abs[b]) ||
            t->big_abs[b] > (uint64_t)INT64_MAX)
            t->overflow_cost = 1;
    }
    const size_t nacc = (size_t)p->nacc;
    for (int gi = 0; gi < t->ng; gi++) {
        struct grouping *g = &t->g[gi];
        size_t idx = ((size_t)code[g->s[0]] * (size_t)g->cap[1] + (size_t)code[g->s[1]]) *
                         (size_t)g->cap[2] + (size_t)code[g->s[2]];
        generic_acc(t, p, g->acc + idx * nacc, d, lines, dlo, mxv, nwide, nmx);
    }
    /* race_aic: the member's other strata too (not additive) */
    if (t->aic_g >= 0) {
        unsigned mask = race_aic_mask(r->race_min, r->race, r->ethnicity);
        struct grouping *g = &t->g[t->aic_g];
        for (mask &= mask - 1; mask; mask &= mask - 1)
            generic_acc(t, p, g->acc + (size_t)__builtin_ctz(mask) * g->cap[1] * g->cap[2] * nacc,
                        d, lines, dlo, mxv, nwide, nmx);
    }
}


/* Adds the record's deltas d (lines: the non-zero cache lines after the
 * first) into one accumulator a of the compiled-in catalog's tally. */
static inline __attribute__((always_inline)) void builtin_acc(struct tally *t, int64_t *a,
                                                            const int64_t *d, unsigned lines,
                                                            int64_t cost, int64_t dcost,
                                                            int64_t dsq)
{
    {
        int64_t before = a[SL_COST];
        add_line(a, d);
        carry_sq(a, dsq);
        /* signed overflow of the cost sum: both operands of one sign and
         * the result of the other */
        if (((before ^ a[SL_COST]) & (dcost ^ a[SL_COST])) < 0)
            t->overflow_cost = 1;
        /* A record taken back leaves the maximum as it was: the dominance
         * rule then errs on the side of withholding. */
        if (cost > a[SL_MAXC])
            a[SL_MAXC] = cost;
        if (lines & (1u << 1))
            add_line(a + 8, d + 8);
        if (lines & (1u << 2))
            add_line(a + 16, d + 16);
        if (lines & (1u << 3))
            add_line(a + 24, d + 24);
        if (lines & (1u << 4))
            add_line(a + 32, d + 32);
    }
}

/* With GCC on x86-64, tally_add is also compiled for AVX-512 and AVX2 (a
 * cache line of 8 int64s in one or two instructions); the loader picks the
 * version the CPU runs. The arithmetic is the same in every version. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void tally_add(void *ctx, const struct member_record *r, int sign)
{
    struct tally *t = ctx;
    if (!(r->member_months > 0)) {
        t->zero_months += sign > 0 ? 1 : (uint64_t)-1;
        return;
    }
    if (t->prog) {
        tally_add_generic(t, r, sign);
        return;
    }
    int64_t d[NACC] __attribute__((aligned(64)));
    unsigned lines = record_delta(r, d);
    if (sign < 0) {
        /* the 128-bit square negated as a whole: -(hi:lo) */
        uint64_t lo = (uint64_t)d[SL_COST_SQ], hi = (uint64_t)d[SL_COST_SQ_HI];
        for (int j = 0; j < NACC; j++)
            d[j] = -d[j];
        d[SL_COST_SQ] = (int64_t)(0 - lo);
        d[SL_COST_SQ_HI] = (int64_t)(~hi + (lo == 0));
    }

    int code[S__COUNT];
    record_codes(t, r, code);
    t->lang_members[code[S_LANGUAGE]] += sign;

    int64_t cost = r->total_cost, dcost = d[SL_COST], dsq = d[SL_COST_SQ];
    for (int gi = 0; gi < t->ng; gi++) {
        struct grouping *g = &t->g[gi];
        size_t idx = ((size_t)code[g->s[0]] * (size_t)g->cap[1] + (size_t)code[g->s[1]]) *
                         (size_t)g->cap[2] + (size_t)code[g->s[2]];
        builtin_acc(t, g->acc + idx * NACC, d, lines, cost, dcost, dsq);
    }
    /* race_aic: the member's other strata too (not additive) */
    if (t->aic_g >= 0) {
        unsigned mask = race_aic_mask(r->race_min, r->race, r->ethnicity);
        struct grouping *g = &t->g[t->aic_g];
        for (mask &= mask - 1; mask; mask &= mask - 1)
            builtin_acc(t, g->acc + (size_t)__builtin_ctz(mask) * g->cap[1] * g->cap[2] * NACC, d,
                        lines, cost, dcost, dsq);
    }
}


/* o += in, slot by slot: kept maxima by maximum, 128-bit sums with their
 * carry; *overflow is set when a cost sum leaves int64. */
static void acc_add(const struct tally *t, int64_t *o, const int64_t *in, int *overflow)
{
    int64_t before[CATALOG_MAX_CHANNELS];
    for (int b = 0; b < t->nbig; b++)
        before[b] = o[t->big[b]];
    for (int k = 0; k < t->nacc; k++)
        if (t->is_maxc[k])
            o[k] = in[k] > o[k] ? in[k] : o[k];
        else
            o[k] = (int64_t)((uint64_t)o[k] + (uint64_t)in[k]);
    for (int w = 0; w < t->nwide; w++)
        if ((uint64_t)o[t->wide_lo[w]] < (uint64_t)in[t->wide_lo[w]])
            o[t->wide_hi[w]] = (int64_t)((uint64_t)o[t->wide_hi[w]] + 1);
    for (int b = 0; b < t->nbig; b++) {
        int k = t->big[b];
        if (((before[b] ^ o[k]) & (in[k] ^ o[k])) < 0)
            *overflow = 1;
    }
}

int tally_merge(struct tally *into, const struct tally *from)
{
    /* Map from's language and county slots to into's. */
    int lmap[TALLY_MAX_LANGUAGES], cmap[TALLY_MAX_COUNTIES];
    for (int i = 0; i < from->nlang; i++)
        lmap[i] = lang_slot_of(into, from->lang_code[i]);
    for (int i = 0; i < from->ncounty; i++)
        cmap[i] = i == 0 ? 0 : county_slot_of(into, from->county_code[i]);
    if (into->overflow_lang || into->overflow_county)
        return -1;
    for (int i = 0; i < from->nlang; i++)
        into->lang_members[lmap[i]] += from->lang_members[i];
    into->zero_months += from->zero_months;
    into->overflow_lang |= from->overflow_lang;
    into->overflow_county |= from->overflow_county;
    into->overflow_cost |= from->overflow_cost;
    for (int gi = 0; gi < from->ng; gi++) {
        const struct grouping *gf = &from->g[gi];
        struct grouping *gt = &into->g[gi];
        int n[3], *map[3];
        for (int d = 0; d < 3; d++) {
            int sd = gf->s[d];
            n[d] = sd == S_LANGUAGE ? from->nlang : sd == S_COUNTY ? from->ncounty : gf->cap[d];
            map[d] = sd == S_LANGUAGE ? lmap : sd == S_COUNTY ? cmap : NULL;
        }
        for (int i = 0; i < n[0]; i++) {
            int ti = map[0] ? map[0][i] : i;
            for (int j = 0; j < n[1]; j++) {
                int tj = map[1] ? map[1][j] : j;
                for (int l = 0; l < n[2]; l++) {
                    int tl = map[2] ? map[2][l] : l;
                    size_t fi = ((size_t)i * gf->cap[1] + j) * gf->cap[2] + l;
                    size_t tix = ((size_t)ti * gt->cap[1] + tj) * gt->cap[2] + tl;
                    const int64_t *a = gf->acc + fi * (size_t)into->nacc;
                    int64_t *b = gt->acc + tix * (size_t)into->nacc;
                    acc_add(into, b, a, &into->overflow_cost);
                }
            }
        }
    }
    return 0;
}

int tally_overflowed(const struct tally *t, char *msg, size_t len)
{
    if (t->overflow_lang) {
        snprintf(msg, len, "more than %d distinct language codes", TALLY_MAX_LANGUAGES - 1);
        return 1;
    }
    if (t->overflow_county) {
        snprintf(msg, len, "more than %d distinct county codes", TALLY_MAX_COUNTIES - 1);
        return 1;
    }
    if (t->overflow_cost) {
        snprintf(msg, len, "a sum of costs exceeds %lld cents (int64)", (long long)INT64_MAX);
        return 1;
    }
    return 0;
}

void tally_set_unavailable(struct tally *t, uint32_t mask)
{
    t->spec.unavailable = mask;
}

uint64_t tally_zero_months(const struct tally *t)
{
    return t->zero_months;
}

/* ---- Building cells ------------------------------------------------------ */

/* Output strata of one stratifier: labels and, for interned dimensions,
 * the output index of each internal slot. */
struct out_dim {
    int n;
    char **labels;
    int *of_slot;   /* internal slot -> output index                  */
    int nslots;
};

static void out_dim_free(struct out_dim *o)
{
    for (int i = 0; i < o->n; i++)
        free(o->labels[i]);
    free(o->labels);
    free(o->of_slot);
    memset(o, 0, sizeof *o);
}

static int out_dim_push(struct out_dim *o, const char *label)
{
    char *copy = strdup(label);
    if (!copy)
        return -1;
    o->labels[o->n++] = copy;
    return 0;
}

static int cmp_u16(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

static int out_dim_build(const struct tally *t, int s, struct out_dim *o)
{
    memset(o, 0, sizeof *o);
    int nslots = s == S_LANGUAGE ? t->nlang : s == S_COUNTY ? t->ncounty : t->static_card[s];
    o->nslots = nslots;
    o->labels = calloc((size_t)nslots + 2, sizeof(char *));
    o->of_slot = calloc((size_t)nslots, sizeof(int));
    if (!o->labels || !o->of_slot)
        return -1;
    char buf[32];
    if (s == S_LANGUAGE) {
        /* Kept languages in code order, then "other" (languages with too
         * few members, together), then "und" (unknown). */
        uint16_t *kept = calloc((size_t)nslots, sizeof *kept);
        if (!kept)
            return -1;
        int nk = 0, nother = 0;
        for (int i = 1; i < nslots; i++) {
            if (t->lang_members[i] >= t->spec.language_min_members)
                kept[nk++] = t->lang_code[i];
            else
                nother++;
        }
        qsort(kept, (size_t)nk, sizeof *kept, cmp_u16);
        for (int i = 0; i < nk; i++) {
            record_lang_unpack(kept[i], buf);
            if (out_dim_push(o, buf) != 0) {
                free(kept);
                return -1;
            }
            o->of_slot[t->lang_slot[kept[i]]] = i;
        }
        free(kept);
        int other = -1;
        if (nother > 0) {
            other = o->n;
            if (out_dim_push(o, "other") != 0)
                return -1;
        }
        int und = o->n;
        if (out_dim_push(o, "und") != 0)
            return -1;
        o->of_slot[0] = und;
        for (int i = 1; i < nslots; i++)
            if (t->lang_members[i] < t->spec.language_min_members)
                o->of_slot[i] = other;
        return 0;
    }
    if (s == S_COUNTY) {
        int32_t *codes = calloc((size_t)nslots, sizeof *codes);
        if (!codes)
            return -1;
        for (int i = 1; i < nslots; i++)
            codes[i - 1] = t->county_code[i];
        qsort(codes, (size_t)(nslots - 1), sizeof *codes, cmp_i32);
        for (int i = 0; i < nslots - 1; i++) {
            snprintf(buf, sizeof buf, "%05d", (int)codes[i]);
            if (out_dim_push(o, buf) != 0) {
                free(codes);
                return -1;
            }
            o->of_slot[t->county_slot[codes[i]]] = i;
        }
        free(codes);
        o->of_slot[0] = o->n;
        return out_dim_push(o, "UNKNOWN");
    }
    for (int i = 0; i < nslots; i++) {
        const char *label = NULL;
        switch (s) {
        case S_RACE: label = race_codes[i]; break;
        case S_ETHNICITY: label = ethnicity_codes[i]; break;
        case S_RACE_ETHNICITY: label = race_ethnicity_codes[i]; break;
        case S_SEX: label = sex_codes[i]; break;
        case S_AGE_BAND:
            tally_age_band_label(&t->spec, i, buf, sizeof buf);
            label = buf;
            break;
        case S_NON_ENGLISH: label = non_english_codes[i]; break;
        case S_PAYER: label = payer_codes[i]; break;
        case S_ADI_QUINTILE: label = adi_quintile_codes[i]; break;
        case S_DISABILITY:
        case S_CMC: label = ynu_codes[i]; break;
        case S_AGE_STD: label = age_std_codes[i]; break;
        case S_HEBA_BAND: label = heba_codes[i]; break;
        case S_RACE_SOURCE:
        case S_ETHNICITY_SOURCE: label = race_source_codes[i]; break;
        case S_SEXUAL_ORIENTATION: label = sexual_orientation_codes[i]; break;
        case S_GENDER_IDENTITY: label = gender_identity_codes[i]; break;
        case S_RACE_DETAIL: label = race_detail_codes[i]; break;
        case S_RACE_GROUP: label = race_group_codes[i]; break;
        case S_RACE_AIC: label = race_aic_codes[i]; break;
        default: return -1;
        }
        if (out_dim_push(o, label) != 0)
            return -1;
        o->of_slot[i] = i;
    }
    return 0;
}

struct cellset *tally_cells(const struct tally *t)
{
    if (t->overflow_cost)
        return NULL; /* a wrapped sum is never released */
    struct cellset *cs = cellset_new();
    struct out_dim dims[S__COUNT];
    int64_t *sum = NULL, *mx = NULL;
    memset(dims, 0, sizeof dims);
    if (!cs)
        return NULL;
    int built[S__COUNT] = {0};
    for (int gi = 0; gi < t->ng; gi++) {
        const struct grouping *g = &t->g[gi];
        int cards[3] = {1, 1, 1};
        const char *const *labels[3] = {NULL, NULL, NULL};
        for (int d = 0; d < g->ndim; d++) {
            int s = g->s[d];
            if (!built[s]) {
                if (out_dim_build(t, s, &dims[s]) != 0)
                    goto fail;
                built[s] = 1;
            }
            cards[d] = dims[s].n;
            labels[d] = (const char *const *)dims[s].labels;
        }
        int ti = cellset_add_table(cs, g->ndim, g->s, cards, labels);
        if (ti != gi)
            goto fail;
        /* Sum internal slots into output strata. */
        size_t nout = (size_t)cards[0] * (size_t)cards[1] * (size_t)cards[2];
        sum = calloc(nout * (size_t)t->nacc, sizeof(int64_t));
        mx = calloc(nout, sizeof(int64_t));
        if (!sum || !mx)
            goto fail;
        int n[3];
        for (int d = 0; d < 3; d++)
            n[d] = g->ndim > d ? dims[g->s[d]].nslots : 1;
        for (int i = 0; i < n[0]; i++) {
            int oi = g->ndim >= 1 ? dims[g->s[0]].of_slot[i] : 0;
            for (int j = 0; j < n[1]; j++) {
                int oj = g->ndim >= 2 ? dims[g->s[1]].of_slot[j] : 0;
                for (int l = 0; l < n[2]; l++) {
                    int ol = g->ndim >= 3 ? dims[g->s[2]].of_slot[l] : 0;
                    size_t from = ((size_t)i * g->cap[1] + j) * g->cap[2] + l;
                    size_t to = ((size_t)oi * cards[1] + oj) * cards[2] + ol;
                    int64_t *o = sum + to * (size_t)t->nacc;
                    const int64_t *in = g->acc + from * (size_t)t->nacc;
                    int overflow = 0;
                    acc_add(t, o, in, &overflow);
                    if (overflow)
                        goto fail;
                }
            }
        }
        for (int m = 0; m < catalog_n_measures(); m++) {
            if (!t->spec.measure_on[m])
                continue;
            const struct measure_def *md = catalog_measure(m);
            for (size_t st = 0; st < nout; st++) {
                const int64_t *a = sum + st * (size_t)t->nacc;
                struct cell c;
                memset(&c, 0, sizeof c);
                c.measure = m;
                c.table = ti;
                c.stratum = (int)st;
                if (t->spec.unavailable & (1u << m)) {
                    c.reason = REASON_NOT_AVAILABLE;
                } else {
                    c.members = a[t->slot[md->ch_members]];
                    c.member_months = a[t->slot[md->ch_months]];
                    c.denominator = a[t->slot[md->ch_denominator]];
                    c.numerator = a[t->slot[md->ch_numerator]];
                    int sq = md->ch_sum_sq;
                    if (sq >= 0 && t->hi_of[sq] >= 0)
                        c.sum_sq = (cell_i128)(((unsigned __int128)(uint64_t)a[t->hi_of[sq]] << 64) |
                                               (uint64_t)a[t->slot[sq]]);
                    else
                        c.sum_sq = sq >= 0 ? a[t->slot[sq]] : 0;
                    int mc = t->maxc_of[md->ch_numerator];
                    c.max_contrib = md->kind == KIND_PMPM && mc >= 0 ? a[mc] : 0;
                    if (c.members == 0)
                        c.max_contrib = 0;
                }
                if (!cellset_append(cs, &c))
                    goto fail;
            }
        }
        free(sum);
        free(mx);
        sum = mx = NULL;
    }
    cellset_sort(cs);
    for (int s = 0; s < S__COUNT; s++)
        out_dim_free(&dims[s]);
    return cs;
fail:
    free(sum);
    free(mx);
    for (int s = 0; s < S__COUNT; s++)
        out_dim_free(&dims[s]);
    cellset_destroy(&cs);
    return NULL;
}
