/*
 * gen_extract.c - equity-gen-extract: writes a synthetic member-level
 * extract CSV (extract.md) of N rows, for the benchmark and the demo.
 *
 * The distributions are shaped like a California Medicaid plan's members:
 * OMB race and ethnicity with a few percent unknown or declined, preferred
 * languages with a long tail of rarer ISO 639-3 codes, payers by age, ADI
 * deciles, the 58 counties weighted by population, ages skewed young,
 * Poisson-like utilisation with per-member frailty, log-normal costs with a
 * heavy tail, survey ratings for about one member in ten. Some disparities
 * are built in (ED use, diabetes control, blood pressure control, telehealth
 * for non-English speakers, social needs by deprivation) so that results
 * computed from the file have something to show. --org-skew shifts the mix
 * so that several organizations' files differ.
 *
 * Rows are made in blocks; each block has its own random stream derived
 * from the seed and the block number, so the output depends only on
 * (rows, seed, org-skew, period) and not on the number of threads. Worker
 * threads fill block buffers and the main thread writes them in order with
 * large fwrite calls (or gzwrite for a .gz output).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "catalog.h"

#define BLOCK_ROWS 8192
#define MAX_LINE 512     /* generous upper bound of one data line          */
#define MAX_THREADS 16

/* ---- random numbers: xoshiro256** seeded through splitmix64 ------------ */

struct rng {
    uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double rng_unif(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static inline int rng_bern(struct rng *r, double p)
{
    return rng_unif(r) < p;
}

/* exp(x) to about 1e-7 relative, for |x| < 700: 2^k times a short
 * polynomial; the libm call was a third of the generator's time. */
static inline double fast_exp(double x)
{
    if (x < -700.0)
        return 0.0;
    if (x > 700.0)
        x = 700.0;
    double t = x * 1.4426950408889634; /* log2(e) */
    double k = (double)(int64_t)t;
    if (k > t)
        k -= 1.0;
    double y = (t - k - 0.5) * 0.6931471805599453; /* |y| <= ln2/2 */
    double p = 1.0 + y * (1.0 + y * (0.5 + y * (1.0 / 6 + y * (1.0 / 24 + y * (1.0 / 120 + y * (1.0 / 720))))));
    union {
        uint64_t u;
        double d;
    } s;
    s.u = (uint64_t)((int64_t)k + 1023) << 52;
    return p * 1.4142135623730951 * s.d;
}

/* A standard normal as the sum of twelve uniforms minus six (Irwin-Hall):
 * mean 0, variance 1, tails to +-6; three 64-bit draws. Good enough for
 * synthetic data, and far cheaper than Box-Muller. */
static inline double rng_normal(struct rng *r)
{
    uint64_t sum = 0;
    for (int i = 0; i < 3; i++) {
        uint64_t x = rng_next(r);
        sum += (x & 0xFFFF) + ((x >> 16) & 0xFFFF) + ((x >> 32) & 0xFFFF) + (x >> 48);
    }
    return ((double)sum + 6.0) * (1.0 / 65536.0) - 6.0;
}

/* 1/k, so that the Poisson loop multiplies instead of dividing. */
static double inv_k[256];

static void inv_k_init(void)
{
    inv_k[0] = 0.0;
    for (int k = 1; k < 256; k++)
        inv_k[k] = 1.0 / k;
}

/* Poisson by inversion; the means here are small (caps at 60). */
static unsigned rng_poisson(struct rng *r, double lambda)
{
    if (lambda <= 0.0)
        return 0;
    if (lambda > 60.0)
        lambda = 60.0;
    double p = fast_exp(-lambda), cdf = p, u = rng_unif(r);
    unsigned k = 0;
    while (u > cdf && k < 255) {
        k++;
        p *= lambda * inv_k[k];
        cdf += p;
    }
    return k;
}

static unsigned rng_binomial(struct rng *r, unsigned n, double p)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++)
        k += rng_bern(r, p);
    return k;
}

/* ---- categorical tables -------------------------------------------------- */

#define CAT_MAX 64

/* A discrete distribution as an alias table (Vose): one 64-bit draw, one
 * comparison, whatever the number of outcomes. */
struct cat {
    int n;
    uint32_t prob[CAT_MAX];
    uint8_t alias[CAT_MAX];
};

/* Builds the table from weights (need not sum to 1; negatives count 0). */
static void cat_build(struct cat *c, const double *w, int n)
{
    double sum = 0.0, q[CAT_MAX];
    int small[CAT_MAX], large[CAT_MAX], ns = 0, nl = 0;

    for (int i = 0; i < n; i++)
        sum += w[i] > 0.0 ? w[i] : 0.0;
    for (int i = 0; i < n; i++) {
        q[i] = (w[i] > 0.0 ? w[i] : 0.0) * n / sum;
        if (q[i] < 1.0)
            small[ns++] = i;
        else
            large[nl++] = i;
    }
    while (ns > 0 && nl > 0) {
        int s = small[--ns], l = large[--nl];
        c->prob[s] = (uint32_t)(q[s] * 4294967295.0);
        c->alias[s] = (uint8_t)l;
        q[l] -= 1.0 - q[s];
        if (q[l] < 1.0)
            small[ns++] = l;
        else
            large[nl++] = l;
    }
    while (nl > 0) {
        int l = large[--nl];
        c->prob[l] = UINT32_MAX;
        c->alias[l] = (uint8_t)l;
    }
    while (ns > 0) { /* rounding leftovers: keep them whole */
        int s = small[--ns];
        c->prob[s] = UINT32_MAX;
        c->alias[s] = (uint8_t)s;
    }
    c->n = n;
}

static inline int cat_draw(const struct cat *c, struct rng *r)
{
    uint64_t x = rng_next(r);
    int i = (int)(((x >> 32) * (uint64_t)c->n) >> 32);
    return (uint32_t)x < c->prob[i] ? i : c->alias[i];
}

/* ---- the population model -------------------------------------------------- */

/* The 58 California counties (FIPS 06001..06115) and 2020 populations in
 * thousands, used as weights. */
static const struct {
    const char *fips;
    double pop;
} counties[58] = {
    {"06001", 1682}, {"06003", 1}, {"06005", 41}, {"06007", 212}, {"06009", 46},
    {"06011", 22}, {"06013", 1166}, {"06015", 28}, {"06017", 192}, {"06019", 1008},
    {"06021", 29}, {"06023", 136}, {"06025", 180}, {"06027", 19}, {"06029", 909},
    {"06031", 153}, {"06033", 68}, {"06035", 33}, {"06037", 10014}, {"06039", 157},
    {"06041", 262}, {"06043", 17}, {"06045", 91}, {"06047", 281}, {"06049", 9},
    {"06051", 13}, {"06053", 439}, {"06055", 138}, {"06057", 103}, {"06059", 3186},
    {"06061", 404}, {"06063", 20}, {"06065", 2418}, {"06067", 1585}, {"06069", 64},
    {"06071", 2181}, {"06073", 3298}, {"06075", 874}, {"06077", 779}, {"06079", 283},
    {"06081", 764}, {"06083", 448}, {"06085", 1936}, {"06087", 270}, {"06089", 182},
    {"06091", 3}, {"06093", 44}, {"06095", 453}, {"06097", 488}, {"06099", 552},
    {"06101", 99}, {"06103", 65}, {"06105", 16}, {"06107", 473}, {"06109", 55},
    {"06111", 843}, {"06113", 217}, {"06115", 81},
};

/* Language groups: which table a member's language is drawn from. */
enum { LG_HISPANIC, LG_ASIAN, LG_MENA, LG_NHPI, LG_WHITE, LG_BLACK, LG_AIAN,
       LG_OTHER, LG__COUNT };

struct lang_w {
    const char *code;
    double w;
};

static const struct lang_w lang_hispanic[] = {
    {"eng", 50}, {"spa", 45}, {"und", 2.5}, {"mxb", 0.6}, {"zap", 0.4},
    {"quc", 0.2}, {"yua", 0.1}, {"por", 0.2}, {"nhe", 0.05}, {NULL, 0}};
static const struct lang_w lang_asian[] = {
    {"eng", 38}, {"zho", 20}, {"vie", 14}, {"tgl", 10}, {"kor", 7}, {"und", 2},
    {"khm", 2}, {"hmn", 2}, {"lao", 1}, {"jpn", 1}, {"hin", 1}, {"pan", 0.5},
    {"ilo", 0.5}, {"tha", 0.5}, {"ben", 0.2}, {"guj", 0.2}, {"tel", 0.1},
    {"tam", 0.1}, {"mal", 0.05}, {"urd", 0.1}, {"ceb", 0.1}, {"mnw", 0.02},
    {NULL, 0}};
static const struct lang_w lang_mena[] = {
    {"eng", 42}, {"ara", 30}, {"fas", 15}, {"hye", 10}, {"und", 3}, {"tur", 0.4},
    {"prs", 0.6}, {"pus", 0.3}, {"heb", 0.2}, {NULL, 0}};
static const struct lang_w lang_nhpi[] = {
    {"eng", 80}, {"smo", 8}, {"ton", 6}, {"chk", 2}, {"mah", 1}, {"und", 3},
    {"cha", 0.3}, {NULL, 0}};
static const struct lang_w lang_white[] = {
    {"eng", 90}, {"rus", 3}, {"hye", 2}, {"ukr", 1}, {"fas", 0.5}, {"pol", 0.3},
    {"por", 0.3}, {"fra", 0.2}, {"deu", 0.2}, {"ita", 0.1}, {"und", 2.4},
    {"ron", 0.05}, {"bul", 0.03}, {NULL, 0}};
static const struct lang_w lang_black[] = {
    {"eng", 94}, {"amh", 1.5}, {"tir", 0.8}, {"som", 0.7}, {"fra", 0.5},
    {"und", 2.5}, {"hat", 0.1}, {"yor", 0.05}, {NULL, 0}};
static const struct lang_w lang_aian[] = {
    {"eng", 95}, {"nav", 1}, {"und", 4}, {"spa", 2}, {NULL, 0}};
static const struct lang_w lang_other[] = {
    {"eng", 70}, {"spa", 20}, {"und", 8}, {"zho", 0.5}, {"vie", 0.3},
    {"tgl", 0.3}, {"ara", 0.2}, {"rus", 0.2}, {"kor", 0.2}, {NULL, 0}};
static const struct lang_w *const lang_tables[LG__COUNT] = {
    lang_hispanic, lang_asian, lang_mena, lang_nhpi, lang_white, lang_black,
    lang_aian, lang_other};

/* Age groups (the default bands) and their weights; uniform within. */
static const int age_lo[8] = {0, 5, 12, 18, 26, 45, 65, 75};
static const int age_hi[8] = {4, 11, 17, 25, 44, 64, 74, 95};
static const double age_w[8] = {9, 12, 11, 12, 24, 20, 7, 5};

/* Everything derived from the options, shared read-only by the workers. */
struct model {
    char period[32];
    size_t period_len;
    double skew;
    struct cat age;
    struct cat sex;
    struct cat eth;
    struct cat race[ETH__COUNT];
    struct cat adi[RACE__COUNT];       /* deciles 1..10 by race             */
    struct cat lang[LG__COUNT];
    const char *lang_code[LG__COUNT][CAT_MAX];
    struct cat payer_young, payer_old; /* PAYER_* 0..5                      */
    struct cat county;
    int identities;                    /* --identities: the columns below   */
    int race_detail;                   /* --race-detail yes: that column     */
    uint64_t seed;
};

static double clamp01(double p)
{
    return p < 0.0 ? 0.0 : (p > 0.98 ? 0.98 : p);
}

static void model_init(struct model *m, double skew, const char *period)
{
    double w[CAT_MAX];

    m->skew = skew;
    snprintf(m->period, sizeof m->period, "%s", period);
    m->period_len = strlen(m->period);

    /* Older and fewer children as skew grows (a commercial-leaning org). */
    for (int i = 0; i < 8; i++)
        w[i] = age_w[i] * (age_lo[i] >= 45 ? exp(0.6 * skew) : age_hi[i] < 18 ? exp(-0.4 * skew) : 1.0);
    cat_build(&m->age, w, 8);

    double wsex[SEX__COUNT] = {[SEX_F] = 52, [SEX_M] = 47.5, [SEX_X] = 0.3, [SEX_U] = 0.2};
    cat_build(&m->sex, wsex, SEX__COUNT);

    /* Ethnicity; unknown and declined grow with |skew| (an org with poorer
     * REaL data completeness). */
    double unk = 1.0 + 1.5 * fabs(skew);
    double weth[ETH__COUNT] = {
        [ETH_HISPANIC] = 48.0 * exp(-0.35 * skew), [ETH_NOT_HISPANIC] = 46.0,
        [ETH_UNKNOWN] = 3.5 * unk, [ETH_DECLINED] = 1.5 * unk};
    cat_build(&m->eth, weth, ETH__COUNT);

    /* Race given ethnicity. */
    static const double race_by_eth[ETH__COUNT][RACE__COUNT] = {
        /* AIAN ASIAN BLACK MENA NHPI WHITE MULTI OTHER UNKNOWN DECLINED */
        [ETH_HISPANIC] = {2.0, 0.5, 1.0, 0.2, 0.2, 35, 8, 45, 2.5, 1.0},
        [ETH_NOT_HISPANIC] = {1.0, 24, 15, 4, 1.0, 42, 5, 3, 1.5, 1.0},
        [ETH_UNKNOWN] = {0.5, 8, 5, 1, 0.5, 15, 2, 6, 60, 2},
        [ETH_DECLINED] = {0.2, 4, 3, 0.5, 0.2, 10, 1, 3, 8, 70},
    };
    for (int e = 0; e < ETH__COUNT; e++) {
        double wr[RACE__COUNT];
        for (int r = 0; r < RACE__COUNT; r++)
            wr[r] = race_by_eth[e][r] * (r >= RACE_UNKNOWN ? unk : 1.0);
        cat_build(&m->race[e], wr, RACE__COUNT);
    }

    /* ADI deciles by race: P(decile <= d) = (d/10)^(1/a); a < 1 leans to
     * the deprived end. A positive skew moves members to less deprived
     * areas. */
    static const double adi_a[RACE__COUNT] = {
        [RACE_AIAN] = 0.65, [RACE_ASIAN] = 1.1, [RACE_BLACK] = 0.6, [RACE_MENA] = 0.9,
        [RACE_NHPI] = 0.75, [RACE_WHITE] = 1.3, [RACE_MULTI] = 0.9, [RACE_OTHER] = 0.7,
        [RACE_UNKNOWN] = 0.9, [RACE_DECLINED] = 1.0};
    for (int r = 0; r < RACE__COUNT; r++) {
        double a = adi_a[r] * exp(0.5 * skew), prev = 0.0;
        for (int d = 1; d <= 10; d++) {
            double c = pow(d / 10.0, 1.0 / a);
            w[d - 1] = c - prev;
            prev = c;
        }
        cat_build(&m->adi[r], w, 10);
    }

    for (int g = 0; g < LG__COUNT; g++) {
        int n = 0;
        for (const struct lang_w *l = lang_tables[g]; l->code && n < CAT_MAX; l++, n++) {
            w[n] = l->w;
            m->lang_code[g][n] = l->code;
        }
        cat_build(&m->lang[g], w, n);
    }

    double com = exp(1.5 * skew), uni = exp(-0.5 * skew);
    double wy[6] = {[PAYER_MEDICAID] = 86, [PAYER_MEDICARE] = 1.5, [PAYER_DUAL] = 2.5,
                    [PAYER_COMMERCIAL] = 5 * com, [PAYER_UNINSURED] = 3 * uni, [PAYER_OTHER] = 2};
    double wo[6] = {[PAYER_MEDICAID] = 10, [PAYER_MEDICARE] = 30, [PAYER_DUAL] = 55,
                    [PAYER_COMMERCIAL] = 3 * com, [PAYER_UNINSURED] = 0.5 * uni, [PAYER_OTHER] = 2};
    cat_build(&m->payer_young, wy, 6);
    cat_build(&m->payer_old, wo, 6);

    /* Counties: population weights, tilted by a fixed per-county factor so
     * that organizations with different skews cover different regions. */
    for (int i = 0; i < 58; i++) {
        uint64_t x = (uint64_t)i * 7919u;
        double h = (double)(splitmix64(&x) >> 11) * 0x1.0p-53 * 3.0 - 1.5;
        w[i] = counties[i].pop * exp(skew * h);
    }
    cat_build(&m->county, w, 58);
}

/* ---- formatting ------------------------------------------------------------ */

static inline char *put_str(char *p, const char *s)
{
    while (*s)
        *p++ = *s++;
    return p;
}

static inline char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* Cents as "1234.56". */
static inline char *put_cents(char *p, uint64_t cents)
{
    p = put_u64(p, cents / 100);
    *p++ = '.';
    *p++ = (char)('0' + (cents / 10) % 10);
    *p++ = (char)('0' + cents % 10);
    return p;
}

static inline char *put_bit(char *p, int b)
{
    *p++ = b ? '1' : '0';
    *p++ = ',';
    return p;
}

/* ---- one member -------------------------------------------------------- */

static int lang_group(int race, int eth)
{
    if (eth == ETH_HISPANIC)
        return LG_HISPANIC;
    switch (race) {
    case RACE_ASIAN: return LG_ASIAN;
    case RACE_MENA: return LG_MENA;
    case RACE_NHPI: return LG_NHPI;
    case RACE_WHITE: return LG_WHITE;
    case RACE_BLACK: return LG_BLACK;
    case RACE_AIAN: return LG_AIAN;
    default: return LG_OTHER;
    }
}

/* ---- --identities: identity columns and HEDIS-style flags (issue 13) ----- */

/* Shares are invented but shaped like a plan that imputes missing race and
 * ethnicity with BISG and asks adults about SOGI at enrolment: about 5 %
 * of races imputed (more with |org-skew|), sexual orientation and gender
 * identity mostly not recorded (UNKNOWN) or declined, a few per cent
 * lesbian, gay or bisexual among those asked, about 1 % transgender or
 * nonbinary. Some values are written as their standard codes (SNOMED CT,
 * LOINC, data/sogi.tsv) as a plan's export would. The draws come from
 * their own stream, so the other columns are those of a run without
 * --identities. */
static const char identities_header[] =
    ",race_source,ethnicity_source,sexual_orientation,gender_identity,"
    "hedis_ppc_denominator,hedis_ppc_prenatal,hedis_ppc_postpartum,"
    "hedis_fum_denominator,hedis_fum_7d,hedis_fum_30d,hedis_cis_denominator,"
    "hedis_cis_combo10";

static char *gen_identities(const struct model *m, struct rng *r, int age, int sex, int race,
                            int eth, int payer, int adi, char *p)
{
    double sk = m->skew < 0 ? -m->skew : m->skew;
    int black = race == RACE_BLACK, uninsured = payer == PAYER_UNINSURED;
    /* source of race and of ethnicity: NCQA's direct (SELF) and indirect
     * (IMPUTED); an unknown race has no source, a declined one is the
     * member's own answer */
    int rsrc = race == RACE_UNKNOWN ? RSRC_UNKNOWN
               : race == RACE_DECLINED ? RSRC_SELF
               : rng_bern(r, 0.05 + 0.05 * sk) ? RSRC_IMPUTED
               : rng_bern(r, 0.01) ? RSRC_UNKNOWN : RSRC_SELF;
    int esrc = eth == ETH_UNKNOWN ? RSRC_UNKNOWN
               : eth == ETH_DECLINED ? RSRC_SELF
               : rsrc == RSRC_IMPUTED ? (rng_bern(r, 0.9) ? RSRC_IMPUTED : RSRC_SELF)
               : rng_bern(r, 0.01) ? RSRC_IMPUTED : RSRC_SELF;
    *p++ = ',';
    p = put_str(p, rsrc == RSRC_IMPUTED && rng_bern(r, 0.2) ? "INDIRECT" : race_source_codes[rsrc]);
    *p++ = ',';
    p = put_str(p, race_source_codes[esrc]);
    /* sexual orientation: asked of adults, recorded for about a third */
    int so = SO_UNKNOWN;
    if (age >= 18 && rng_bern(r, 0.30 + 0.1 * sk)) {
        double u = rng_unif(r);
        so = u < 0.08 ? SO_DECLINED : u < 0.11 ? SO_DONT_KNOW : u < 0.14 ? SO_LESBIAN_GAY
             : u < 0.175 ? SO_BISEXUAL : u < 0.18 ? SO_SOMETHING_ELSE : SO_STRAIGHT;
    }
    static const char *const so_snomed[SO__COUNT] = {"20430005", "38628009", "42035005", NULL,
                                                     "ASKU", NULL, NULL};
    *p++ = ',';
    if (so != SO_UNKNOWN || rng_bern(r, 0.5)) /* unknown: empty or UNKNOWN */
        p = put_str(p, so_snomed[so] && rng_bern(r, 0.3) ? so_snomed[so] : sexual_orientation_codes[so]);
    /* gender identity: asked from 13, recorded for about a third */
    int gi = GI_UNKNOWN;
    if (age >= 13 && rng_bern(r, 0.30 + 0.1 * sk)) {
        double u = rng_unif(r);
        gi = u < 0.06 ? GI_DECLINED : u < 0.07 ? GI_DONT_KNOW : u < 0.073 ? GI_TRANSGENDER_FEMALE
             : u < 0.076 ? GI_TRANSGENDER_MALE : u < 0.081 ? GI_NONBINARY : u < 0.083 ? GI_OTHER
             : sex == SEX_M ? GI_MALE : sex == SEX_F ? GI_FEMALE : rng_bern(r, 0.5) ? GI_NONBINARY
             : GI_OTHER;
    }
    static const char *const gi_loinc[GI__COUNT] = {"LA22879-3", "LA22878-5", "LA22881-9",
                                                    "LA22880-1", "LA22882-7", "LA46-8",
                                                    "LA20384-6", NULL, NULL};
    *p++ = ',';
    if (gi != GI_UNKNOWN || rng_bern(r, 0.5))
        p = put_str(p, gi_loinc[gi] && rng_bern(r, 0.3) ? gi_loinc[gi] : gender_identity_codes[gi]);
    /* HEDIS-style member-level flags (configs/catalog-hedis.ini):
     * PPC: deliveries among women 15-44; FUM: ED visits for mental illness
     * from age 6; CIS: children who turned 2. Numerators only inside their
     * denominators; the 30-day follow-up includes the 7-day one. */
    double adi_eff = adi ? adi : 5.5;
    int ppc = sex == SEX_F && age >= 15 && age <= 44 && rng_bern(r, 0.03);
    int pre = ppc && rng_bern(r, clamp01(0.86 - (black ? 0.08 : 0) - (uninsured ? 0.15 : 0) -
                                         0.01 * adi_eff));
    int post = ppc && rng_bern(r, clamp01(0.78 - (black ? 0.07 : 0) - (uninsured ? 0.15 : 0)));
    int fum = age >= 6 && rng_bern(r, 0.006);
    int f7 = fum && rng_bern(r, 0.40 - (black ? 0.06 : 0));
    int f30 = fum && (f7 || rng_bern(r, 0.33));
    int cis = age == 2 && rng_bern(r, 0.95);
    int c10 = cis && rng_bern(r, clamp01(0.38 - (uninsured ? 0.12 : 0) - 0.01 * adi_eff));
    int fl[8] = {ppc, pre, post, fum, f7, f30, cis, c10};
    for (int i = 0; i < 8; i++) {
        *p++ = ',';
        *p++ = fl[i] ? '1' : '0';
    }
    return p;
}

/* The race_detail column (docs/catalog.md) of a member with this race and
 * ethnicity, consistent with them: detailed codes of data/race-detail.tsv
 * (as codes or CDC codes), minimum categories, separated by ';'. Drawn from
 * the member's own stream, so the other columns do not change with the
 * option. The shares are invented (a planning mix, like the rest). */
static char *put_race_detail(const struct model *m, uint64_t id, int race, int eth, char *p)
{
    static const char *const asian[] = {"CHINESE", "2029-7", "FILIPINO", "VIETNAMESE",
                                        "KOREAN", "JAPANESE", "PAKISTANI", "CAMBODIAN",
                                        "HMONG", "THAI", "LAO", "BANGLADESHI", "NEPALESE",
                                        "BURMESE", "INDONESIAN", "SRI_LANKAN"};
    static const double asian_w[] = {24, 20, 18, 12, 8, 5, 3, 2, 2, 1.5, 1.2, 1, 0.8, 0.6,
                                      0.5, 0.4};
    static const char *const hisp[] = {"MEXICAN", "SALVADORAN", "PUERTO_RICAN", "2182-4"};
    static const double hisp_w[] = {70, 14, 10, 6};
    static const char *const mena[] = {"IRANIAN", "LEBANESE", "EGYPTIAN"};
    static const char *const other[] = {"WHITE", "BLACK", "AIAN", "NHPI"};
    struct rng r;
    rng_seed(&r, m->seed ^ 0x5ace5ace5aceULL, id);
    char *start = p;
#define PICK(list, w)                                                        \
    do {                                                                     \
        double tot = 0, u;                                                   \
        size_t n = sizeof list / sizeof list[0], k = 0;                      \
        for (size_t i = 0; i < n; i++)                                       \
            tot += (w)[i];                                                   \
        u = rng_unif(&r) * tot;                                              \
        while (k + 1 < n && (u -= (w)[k]) >= 0)                              \
            k++;                                                             \
        if (p != start)                                                      \
            *p++ = ';';                                                      \
        p = put_str(p, list[k]);                                             \
    } while (0)
    static const double even[] = {1, 1, 1, 1};
    double u = rng_unif(&r);
    switch (race) {
    case RACE_ASIAN:
        if (u < 0.12) {
            p = put_str(p, "ASIAN");
        } else {
            PICK(asian, asian_w);
            if (u > 0.95)
                PICK(asian, asian_w); /* two Asian details (the same is one) */
        }
        break;
    case RACE_MENA:
        if (u < 0.25)
            p = put_str(p, "MENA");
        else
            PICK(mena, even);
        break;
    case RACE_MULTI:
        if (u < 0.35)
            PICK(asian, asian_w);
        else
            p = put_str(p, "BLACK");
        if (p != start)
            *p++ = ';';
        p = put_str(p, "WHITE");
        break;
    case RACE_WHITE:
    case RACE_BLACK:
    case RACE_AIAN:
    case RACE_NHPI:
        if (u < 0.5)
            p = put_str(p, other[race == RACE_WHITE ? 0 : race == RACE_BLACK ? 1
                                 : race == RACE_AIAN  ? 2 : 3]);
        break;
    default:
        break;
    }
    if (eth == ETH_HISPANIC && rng_unif(&r) < 0.8)
        PICK(hisp, hisp_w);
#undef PICK
    return p;
}

/* Writes member number `id`'s line at p; returns the end. r2: the stream
 * of the --identities columns (NULL without). */
static char *gen_row(const struct model *m, struct rng *r, struct rng *r2, uint64_t id, char *p)
{
    int ag = cat_draw(&m->age, r);
    int age = age_lo[ag] + (int)(rng_unif(r) * (age_hi[ag] - age_lo[ag] + 1));
    int sex = cat_draw(&m->sex, r);
    int eth = cat_draw(&m->eth, r);
    int race = cat_draw(&m->race[eth], r);
    int lg = lang_group(race, eth);
    const char *lang = m->lang_code[lg][cat_draw(&m->lang[lg], r)];
    int english = lang[0] == 'e' && lang[1] == 'n' && lang[2] == 'g';
    int lang_unknown = lang[0] == 'u' && lang[1] == 'n' && lang[2] == 'd';
    int non_english = !english && !lang_unknown;
    int payer = rng_bern(r, 0.005) ? -1 : cat_draw(age >= 65 ? &m->payer_old : &m->payer_young, r);
    int adi = rng_bern(r, 0.02) ? 0 : 1 + cat_draw(&m->adi[race], r);
    double adi_eff = adi ? adi : 5.5;
    double pdis = age < 18 ? 0.04 : age < 65 ? 0.09 : 0.22;
    double ud = rng_unif(r);
    int disability = ud < 0.03 ? YNU_U : ud < 0.03 + pdis ? YNU_Y : YNU_N;
    int cmc = YNU_N;
    if (age < 21) {
        double uc = rng_unif(r);
        cmc = uc < 0.03 ? YNU_U : uc < 0.055 ? YNU_Y : YNU_N;
    }
    int county = rng_bern(r, 0.01) ? -1 : cat_draw(&m->county, r);
    int months = rng_bern(r, 0.75) ? 12 : 1 + (int)(rng_unif(r) * 11);
    double expo = months / 12.0;
    int black = race == RACE_BLACK, hisp = eth == ETH_HISPANIC;
    int uninsured = payer == PAYER_UNINSURED, dual = payer == PAYER_DUAL;

    double z1 = rng_normal(r), z2 = rng_normal(r);
    double frail = fast_exp(0.7 * z1 - 0.245); /* mean 1 */
    if (cmc == YNU_Y)
        frail *= 3.0;

    /* ED visits: higher for Black and AIAN members, in deprived areas,
     * with a disability, uninsured; lower for Asian members. */
    static const double ed_race[RACE__COUNT] = {
        [RACE_AIAN] = 1.5, [RACE_ASIAN] = 0.6, [RACE_BLACK] = 1.7, [RACE_MENA] = 0.9,
        [RACE_NHPI] = 1.2, [RACE_WHITE] = 1.0, [RACE_MULTI] = 1.1, [RACE_OTHER] = 1.05,
        [RACE_UNKNOWN] = 1.0, [RACE_DECLINED] = 0.9};
    double ed_l = 0.42 * frail * expo * ed_race[race] * (0.75 + 0.05 * adi_eff) *
                  (disability == YNU_Y ? 1.8 : 1.0) * (uninsured ? 1.3 : 1.0) *
                  (age < 5 ? 1.4 : (age >= 18 && age <= 25) ? 1.2 : age >= 65 ? 1.1 : 1.0);
    unsigned ed = rng_poisson(r, ed_l);

    double ip_l = 0.07 * frail * expo * (age >= 65 ? 3.5 : age >= 45 ? 1.8 : age < 18 ? 0.4 : 1.0) *
                  (disability == YNU_Y ? 2.5 : 1.0);
    unsigned ip = rng_poisson(r, ip_l);
    unsigned readm = ip ? rng_binomial(r, ip, 0.13 * (dual ? 1.3 : 1.0) * (black ? 1.2 : 1.0)) : 0;

    double sf = sqrt(frail);
    unsigned pc = rng_poisson(r, 2.4 * sf * expo * (uninsured ? 0.4 : 1.0) *
                                     (age >= 65 ? 1.5 : age < 5 ? 1.6 : 1.0));
    unsigned tele = rng_poisson(r, 0.7 * sf * expo * (non_english ? 0.45 : lang_unknown ? 0.8 : 1.0) *
                                       (age >= 65 ? 0.7 : 1.0));
    unsigned sched = pc + tele + rng_poisson(r, 0.8 * frail * expo);
    double ns_p = 0.10 * (0.7 + 0.06 * adi_eff) * (uninsured ? 1.5 : payer == PAYER_MEDICAID ? 1.2 : 1.0) *
                  ((age >= 18 && age <= 25) ? 1.4 : age >= 65 ? 0.7 : 1.0);
    unsigned noshow = sched ? rng_binomial(r, sched, clamp01(ns_p)) : 0;

    double well_p = (age < 18 ? 0.62 : age >= 65 ? 0.55 : 0.42) * (non_english ? 0.85 : 1.0) *
                    (uninsured ? 0.35 : payer == PAYER_COMMERCIAL ? 1.1 : 1.0);
    int wellness = rng_bern(r, clamp01(well_p));

    static const double dm_race[RACE__COUNT] = {
        [RACE_AIAN] = 1.6, [RACE_ASIAN] = 1.3, [RACE_BLACK] = 1.4, [RACE_MENA] = 1.2,
        [RACE_NHPI] = 1.6, [RACE_WHITE] = 1.0, [RACE_MULTI] = 1.1, [RACE_OTHER] = 1.3,
        [RACE_UNKNOWN] = 1.1, [RACE_DECLINED] = 1.0};
    double dm_p = (age < 18 ? 0.005 : age < 45 ? 0.05 : age < 65 ? 0.16 : 0.25) *
                  dm_race[race] * (hisp ? 1.4 : 1.0) * (0.85 + 0.03 * adi_eff);
    int diabetes = rng_bern(r, clamp01(dm_p));
    int poor = 0;
    if (diabetes) {
        double pp = 0.27 * (black ? 1.35 : hisp ? 1.25 : race == RACE_NHPI || race == RACE_AIAN ? 1.3 : 1.0) *
                    (0.8 + 0.04 * adi_eff) * (non_english ? 1.1 : 1.0) * (uninsured ? 1.3 : 1.0);
        poor = rng_bern(r, clamp01(pp));
    }
    double htn_p = (age < 18 ? 0.01 : age < 45 ? 0.10 : age < 65 ? 0.35 : 0.60) * (black ? 1.5 : 1.0);
    int htn = rng_bern(r, clamp01(htn_p));
    int bpc = 0;
    if (htn)
        bpc = rng_bern(r, clamp01(0.64 * (black ? 0.82 : hisp ? 0.93 : 1.0) * (uninsured ? 0.7 : 1.0)));

    double scr_p = 0.32 * (payer == PAYER_MEDICAID ? 1.2 : payer == PAYER_COMMERCIAL ? 0.4 :
                           uninsured ? 0.9 : 1.0);
    int screened = rng_bern(r, clamp01(scr_p));
    int food = 0, housing = 0, transport = 0, utilities = 0, safety = 0;
    if (screened) {
        food = rng_bern(r, 0.08 + 0.022 * adi_eff);
        housing = rng_bern(r, 0.05 + 0.015 * adi_eff);
        transport = rng_bern(r, 0.05 + 0.012 * adi_eff);
        utilities = rng_bern(r, 0.04 + 0.012 * adi_eff);
        safety = rng_bern(r, 0.03);
    }

    /* Cost: a log-normal base (pharmacy, outpatient) plus priced events,
     * scaled by frailty; members who used nothing often cost nothing; a
     * rare catastrophic case makes the tail heavy. */
    double cost = 0.0;
    int used = ed || ip || pc || tele || sched;
    if (used || !rng_bern(r, 0.4)) {
        cost = fast_exp(6.3 + 1.3 * z2) * expo * (age >= 65 ? 2.5 : age < 5 ? 1.2 : 1.0) *
               (disability == YNU_Y ? 2.2 : 1.0) * sf;
        cost += (1300.0 * ed + 16000.0 * ip) * frail + 170.0 * pc + 95.0 * tele;
        if (rng_bern(r, 1.0 / 20000.0)) {
            double u = rng_unif(r);
            cost += 150000.0 + 1.0e6 * u * u * u;
        }
    }
    uint64_t cents = (uint64_t)(cost * 100.0 + 0.5);

    int has_exp = rng_bern(r, 0.10 * (english ? 1.1 : 0.7) * (age >= 65 ? 1.3 : age < 18 ? 0.8 : 1.0));
    int score = 0;
    if (has_exp) {
        double z3 = rng_normal(r);
        double mean = 8.3 - (non_english ? 0.6 : 0.0) - (black ? 0.4 : 0.0) - (adi_eff >= 9 ? 0.3 : 0.0);
        long s = (long)floor(mean + 1.6 * z3 + 0.5);
        score = s < 0 ? 0 : s > 10 ? 10 : (int)s;
    }

    /* member_id,period,age,sex,race,ethnicity,language,payer,adi_decile,
     * disability,cmc,county,member_months,... */
    *p++ = 'M';
    {
        char digits[24];
        int n = 0;
        uint64_t v = id;
        do {
            digits[n++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        for (int i = n; i < 9; i++)
            *p++ = '0';
        while (n)
            *p++ = digits[--n];
    }
    *p++ = ',';
    memcpy(p, m->period, m->period_len);
    p += m->period_len;
    *p++ = ',';
    p = put_u64(p, (uint64_t)age);
    *p++ = ',';
    p = put_str(p, sex_codes[sex]);
    *p++ = ',';
    p = put_str(p, race_codes[race]);
    *p++ = ',';
    p = put_str(p, ethnicity_codes[eth]);
    *p++ = ',';
    memcpy(p, lang, 3);
    p += 3;
    *p++ = ',';
    if (payer >= 0)
        p = put_str(p, payer_codes[payer]);
    *p++ = ',';
    if (adi)
        p = put_u64(p, (uint64_t)adi);
    *p++ = ',';
    p = put_str(p, ynu_codes[disability]);
    *p++ = ',';
    p = put_str(p, ynu_codes[cmc]);
    *p++ = ',';
    if (county >= 0) {
        memcpy(p, counties[county].fips, 5);
        p += 5;
    }
    *p++ = ',';
    p = put_u64(p, (uint64_t)months);
    *p++ = ',';
    p = put_u64(p, ed);
    *p++ = ',';
    p = put_u64(p, ip);
    *p++ = ',';
    p = put_u64(p, readm);
    *p++ = ',';
    p = put_u64(p, pc);
    *p++ = ',';
    p = put_u64(p, tele);
    *p++ = ',';
    p = put_u64(p, sched);
    *p++ = ',';
    p = put_u64(p, noshow);
    *p++ = ',';
    p = put_bit(p, wellness);
    p = put_bit(p, diabetes);
    p = put_bit(p, poor);
    p = put_bit(p, htn);
    p = put_bit(p, bpc);
    p = put_bit(p, screened);
    p = put_bit(p, food);
    p = put_bit(p, housing);
    p = put_bit(p, transport);
    p = put_bit(p, utilities);
    p = put_bit(p, safety);
    p = put_cents(p, cents);
    *p++ = ',';
    if (has_exp)
        p = put_u64(p, (uint64_t)score);
    if (r2)
        p = gen_identities(m, r2, age, sex, race, eth, payer, adi, p);
    if (m->race_detail) {
        *p++ = ',';
        p = put_race_detail(m, id, race, eth, p);
    }
    *p++ = '\n';
    return p;
}

static const char header[] =
    "member_id,period,age,sex,race,ethnicity,language,payer,adi_decile,disability,cmc,"
    "county,member_months,ed_visits,ip_admits,ip_readmits_30d,primary_care_visits,"
    "telehealth_visits,scheduled_appts,no_shows,wellness_visit,diabetes,"
    "hba1c_poor_control,hypertension,bp_controlled,hrsn_screened,hrsn_food,"
    "hrsn_housing,hrsn_transport,hrsn_utilities,hrsn_safety,total_cost,"
    "experience_score";

/* ---- blocks, workers and the writer ------------------------------------- */

struct slot {
    char *buf;
    size_t len;
    int full;
};

struct gen {
    const struct model *m;
    uint64_t seed;
    uint64_t rows;
    uint64_t nblocks;
    int nthreads;
    struct slot slots[MAX_THREADS][2];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

struct worker_arg {
    struct gen *g;
    int w;
};

static size_t gen_block(const struct gen *g, uint64_t b, char *buf)
{
    struct rng r, r2;
    rng_seed(&r, g->seed, b + 1);
    rng_seed(&r2, g->seed ^ 0x5DEECE66DULL, b + 1);
    uint64_t first = b * BLOCK_ROWS;
    uint64_t last = first + BLOCK_ROWS;
    if (last > g->rows)
        last = g->rows;
    char *p = buf;
    for (uint64_t i = first; i < last; i++)
        p = gen_row(g->m, &r, g->m->identities ? &r2 : NULL, i + 1, p);
    return (size_t)(p - buf);
}

static void *worker_main(void *arg)
{
    struct worker_arg *wa = arg;
    struct gen *g = wa->g;
    uint64_t k = 0;
    for (uint64_t b = (uint64_t)wa->w; b < g->nblocks; b += (uint64_t)g->nthreads, k++) {
        struct slot *s = &g->slots[wa->w][k % 2];
        pthread_mutex_lock(&g->mu);
        while (s->full && !g->stop)
            pthread_cond_wait(&g->cv, &g->mu);
        int stop = g->stop;
        pthread_mutex_unlock(&g->mu);
        if (stop)
            break;
        size_t len = gen_block(g, b, s->buf);
        pthread_mutex_lock(&g->mu);
        s->len = len;
        s->full = 1;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
    }
    return NULL;
}

/* Output: a stdio stream or a gzip file. */
struct out {
    FILE *f;
    gzFile gz;
};

static int out_write(struct out *o, const char *buf, size_t len)
{
    if (o->gz) {
        while (len > 0) {
            unsigned chunk = len > (1u << 30) ? (1u << 30) : (unsigned)len;
            if (gzwrite(o->gz, buf, chunk) != (int)chunk)
                return -1;
            buf += chunk;
            len -= chunk;
        }
        return 0;
    }
    return fwrite(buf, 1, len, o->f) == len ? 0 : -1;
}

static int generate(struct gen *g, struct out *o)
{
    int rc = -1, started = 0;
    pthread_t th[MAX_THREADS];
    struct worker_arg args[MAX_THREADS];

    if (out_write(o, header, sizeof header - 1) < 0 ||
        (g->m->identities && out_write(o, identities_header, sizeof identities_header - 1) < 0) ||
        (g->m->race_detail && out_write(o, ",race_detail", 12) < 0) || out_write(o, "\n", 1) < 0)
        return -1;
    for (int w = 0; w < g->nthreads; w++)
        for (int k = 0; k < 2; k++) {
            g->slots[w][k].buf = malloc((size_t)BLOCK_ROWS * MAX_LINE);
            if (!g->slots[w][k].buf)
                goto out;
        }
    for (; started < g->nthreads; started++) {
        args[started].g = g;
        args[started].w = started;
        if (pthread_create(&th[started], NULL, worker_main, &args[started]) != 0)
            goto out;
    }
    for (uint64_t b = 0; b < g->nblocks; b++) {
        int w = (int)(b % (uint64_t)g->nthreads);
        struct slot *s = &g->slots[w][(b / (uint64_t)g->nthreads) % 2];
        pthread_mutex_lock(&g->mu);
        while (!s->full)
            pthread_cond_wait(&g->cv, &g->mu);
        pthread_mutex_unlock(&g->mu);
        if (out_write(o, s->buf, s->len) < 0)
            goto out;
        pthread_mutex_lock(&g->mu);
        s->full = 0;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
    }
    rc = 0;
out:
    pthread_mutex_lock(&g->mu);
    g->stop = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    for (int w = 0; w < started; w++)
        pthread_join(th[w], NULL);
    for (int w = 0; w < g->nthreads; w++)
        for (int k = 0; k < 2; k++)
            free(g->slots[w][k].buf);
    return rc;
}

/* ---- command line ------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: equity-gen-extract [--rows N] [--seed S] [--org-skew X] [--period P]\n"
            "                          [--threads T] [--identities yes|no]\n"
            "                          [--race-detail yes|no] [--out FILE]\n"
            "Writes a synthetic member-level extract CSV (extract.md) of N rows\n"
            "(default 1000) to FILE (.csv, or .csv.gz for gzip; default or '-':\n"
            "standard output). The same N, S, X and P give the same file.\n"
            "  --rows N       data rows (members)\n"
            "  --seed S       random seed (default 1)\n"
            "  --org-skew X   shift the population mix, about -1..1 (default 0):\n"
            "                 > 0 older, more commercial, less deprived; |X| also\n"
            "                 raises the share of unknown race and ethnicity\n"
            "  --period P     period label written in every row (default 2025)\n"
            "  --threads T    generator threads, 1..%d (default 2)\n"
            "  --identities yes  also write race_source, ethnicity_source,\n"
            "                 sexual_orientation, gender_identity and the HEDIS-style\n"
            "                 flags of configs/catalog-hedis.ini (default no: the\n"
            "                 file is that of earlier versions; with yes the other\n"
            "                 columns keep their values)\n"
            "  --race-detail yes  also a race_detail column (docs/catalog.md): detailed\n"
            "                 race and ethnicity consistent with race and ethnicity\n",
            MAX_THREADS);
}

static int parse_u64(const char *opt, const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    if (!s || *s == '\0' || *s == '-') {
        fprintf(stderr, "equity-gen-extract: %s needs a non-negative integer, got \"%s\"\n", opt,
                s ? s : "");
        return -1;
    }
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end != '\0') {
        fprintf(stderr, "equity-gen-extract: %s: \"%s\" is not a non-negative integer\n", opt, s);
        return -1;
    }
    *v = x;
    return 0;
}

static int parse_double(const char *opt, const char *s, double *v)
{
    char *end;
    errno = 0;
    if (!s || *s == '\0') {
        fprintf(stderr, "equity-gen-extract: %s needs a number\n", opt);
        return -1;
    }
    double x = strtod(s, &end);
    if (errno || *end != '\0' || !isfinite(x) || x < -3.0 || x > 3.0) {
        fprintf(stderr, "equity-gen-extract: %s: \"%s\" is not a number in [-3, 3]\n", opt, s);
        return -1;
    }
    *v = x;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int main(int argc, char **argv)
{
    uint64_t rows = 1000, seed = 1, threads = 2;
    double skew = 0.0;
    const char *period = "2025", *path = NULL;
    int identities = 0;
    static struct model model;
    struct gen g;
    struct out o = {NULL, NULL};
    int rc = 1;

    for (int i = 1; i < argc; i += 2) { /* every option takes one value */
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--rows") == 0) {
            if (parse_u64(a, v, &rows) < 0)
                return 2;
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_u64(a, v, &seed) < 0)
                return 2;
        } else if (strcmp(a, "--threads") == 0) {
            if (parse_u64(a, v, &threads) < 0)
                return 2;
            if (threads < 1 || threads > MAX_THREADS) {
                fprintf(stderr, "equity-gen-extract: --threads: \"%s\" is not in 1..%d\n", v,
                        MAX_THREADS);
                return 2;
            }
        } else if (strcmp(a, "--org-skew") == 0) {
            if (parse_double(a, v, &skew) < 0)
                return 2;
        } else if (strcmp(a, "--period") == 0) {
            if (!v || *v == '\0' || strlen(v) >= sizeof model.period || strpbrk(v, ",\"\r\n")) {
                fprintf(stderr, "equity-gen-extract: --period: \"%s\" is not a period label\n",
                        v ? v : "");
                return 2;
            }
            period = v;
        } else if (strcmp(a, "--identities") == 0) {
            if (!v || (strcmp(v, "yes") && strcmp(v, "no"))) {
                fprintf(stderr, "equity-gen-extract: --identities needs yes or no\n");
                return 2;
            }
            identities = !strcmp(v, "yes");
        } else if (strcmp(a, "--race-detail") == 0) {
            if (!v || (strcmp(v, "yes") && strcmp(v, "no"))) {
                fprintf(stderr, "equity-gen-extract: --race-detail: yes or no\n");
                return 2;
            }
            model.race_detail = !strcmp(v, "yes");
        } else if (strcmp(a, "--out") == 0) {
            if (!v || *v == '\0') {
                fprintf(stderr, "equity-gen-extract: --out needs a file name\n");
                return 2;
            }
            path = v;
        } else {
            fprintf(stderr, "equity-gen-extract: unknown argument \"%s\"\n", a);
            usage(stderr);
            return 2;
        }
    }

    inv_k_init();
    model_init(&model, skew, period);
    model.identities = identities;
    model.seed = seed;
    memset(&g, 0, sizeof g);
    g.m = &model;
    g.seed = seed;
    g.rows = rows;
    g.nblocks = (rows + BLOCK_ROWS - 1) / BLOCK_ROWS;
    g.nthreads = (int)threads;
    if ((uint64_t)g.nthreads > g.nblocks && g.nblocks > 0)
        g.nthreads = (int)g.nblocks;
    if (g.nthreads < 1)
        g.nthreads = 1;
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);

    if (!path || strcmp(path, "-") == 0) {
        o.f = stdout;
    } else if (ends_with(path, ".gz")) {
        o.gz = gzopen(path, "wb1");
        if (!o.gz) {
            fprintf(stderr, "equity-gen-extract: %s: cannot create: %s\n", path, strerror(errno));
            goto out;
        }
        gzbuffer(o.gz, 1u << 20);
    } else {
        o.f = fopen(path, "wb");
        if (!o.f) {
            fprintf(stderr, "equity-gen-extract: %s: cannot create: %s\n", path, strerror(errno));
            goto out;
        }
    }
    if (o.f)
        setvbuf(o.f, NULL, _IOFBF, 1u << 20);

    if (generate(&g, &o) < 0) {
        fprintf(stderr, "equity-gen-extract: %s: write failed: %s\n", path ? path : "stdout",
                strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (o.gz && gzclose(o.gz) != Z_OK && rc == 0) {
        fprintf(stderr, "equity-gen-extract: %s: write failed\n", path);
        rc = 1;
    }
    if (o.f && o.f != stdout && fclose(o.f) != 0 && rc == 0) {
        fprintf(stderr, "equity-gen-extract: %s: write failed: %s\n", path, strerror(errno));
        rc = 1;
    }
    if (o.f == stdout && fflush(stdout) != 0 && rc == 0) {
        fprintf(stderr, "equity-gen-extract: stdout: write failed: %s\n", strerror(errno));
        rc = 1;
    }
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.cv);
    return rc;
}
