/* audit_gen.c - random small member-level extracts (extract.md) for the
 * independent disclosure audit (tests/audit/README in FINDINGS.md).
 *
 * Written from extract.md alone. Distributions are skewed on purpose so that
 * small cells, rare languages, unknown codes, zero member months, cost
 * outliers (dominance) and empty experience scores all occur in a few
 * hundred members. The same seed always gives the same file.
 *
 *   audit-gen --seed S --members N [--first-id I] [--period P] [--identities] --out FILE
 *
 * --identities adds the optional columns of docs/catalog.md ("Identity
 * columns": race_source, ethnicity_source, sexual_orientation,
 * gender_identity; "Flag columns": the HEDIS-style PPC, FUM and CIS flags of
 * configs/catalog-hedis.ini), drawn from a stream of their own so that the
 * other columns are those of a run without it. Shares are skewed so that
 * small identity strata and small HEDIS populations occur.
 *
 * --first-id lets a second call write "late records" with member ids that do
 * not collide with an earlier file (the two-release differencing case). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    /* splitmix64: small, deterministic, good enough for test data */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) / 9007199254740992.0;
}

static int rng_int(struct rng *r, int lo, int hi)
{
    return lo + (int)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* pick index by integer weights */
static int pick(struct rng *r, const int *w, int n)
{
    int tot = 0;
    for (int i = 0; i < n; i++)
        tot += w[i];
    int x = rng_int(r, 0, tot - 1);
    for (int i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

#define PICK(r, names, weights) \
    names[pick((r), (weights), (int)(sizeof(weights) / sizeof(weights[0])))]

static const char *const SEX[] = {"F", "M", "X", "U", ""};
static const int SEX_W[] = {470, 470, 20, 20, 20};
static const char *const RACE[] = {"AIAN", "ASIAN", "BLACK", "MENA", "NHPI", "WHITE",
                                   "MULTI", "OTHER", "UNKNOWN", "DECLINED", ""};
static const int RACE_W[] = {20, 80, 150, 15, 8, 480, 50, 50, 70, 40, 37};
static const char *const ETH[] = {"HISPANIC", "NOT_HISPANIC", "UNKNOWN", "DECLINED", ""};
static const int ETH_W[] = {200, 650, 70, 40, 40};
static const char *const LANG[] = {"eng", "spa", "zho", "vie", "kor", "tgl", "rus", "und", ""};
static const int LANG_W[] = {700, 150, 30, 25, 6, 4, 3, 50, 32};
static const char *const PAYER[] = {"MEDICAID", "MEDICARE", "DUAL", "COMMERCIAL", "UNINSURED",
                                    "OTHER", ""};
static const int PAYER_W[] = {350, 180, 50, 300, 50, 40, 30};
static const char *const YNU[] = {"Y", "N", "U", ""};
static const int DIS_W[] = {100, 820, 50, 30};
static const int CMC_W[] = {40, 880, 50, 30};
static const char *const COUNTY[] = {"06001", "06013", "06075", "06081", ""};
static const int COUNTY_W[] = {500, 250, 150, 60, 40};

static const char HEADER[] =
    "member_id,period,age,sex,race,ethnicity,language,payer,adi_decile,disability,cmc,"
    "county,member_months,ed_visits,ip_admits,ip_readmits_30d,primary_care_visits,"
    "telehealth_visits,scheduled_appts,no_shows,wellness_visit,diabetes,"
    "hba1c_poor_control,hypertension,bp_controlled,hrsn_screened,hrsn_food,"
    "hrsn_housing,hrsn_transport,hrsn_utilities,hrsn_safety,total_cost,experience_score\n";

static int bern(struct rng *r, double p)
{
    return rng_unit(r) < p;
}

static const char *const SRC[] = {"SELF", "IMPUTED", "UNKNOWN", ""};
static const int SRC_W[] = {700, 150, 50, 100};
static const char *const SO[] = {"STRAIGHT", "LESBIAN_GAY", "BISEXUAL", "SOMETHING_ELSE",
                                 "DONT_KNOW", "DECLINED", "UNKNOWN", ""};
static const int SO_W[] = {350, 40, 40, 10, 30, 80, 250, 200};
static const char *const GI[] = {"FEMALE", "MALE", "TRANSGENDER_FEMALE", "TRANSGENDER_MALE",
                                 "NONBINARY", "OTHER", "DONT_KNOW", "DECLINED", "UNKNOWN", ""};
static const int GI_W[] = {250, 250, 10, 10, 20, 10, 15, 60, 200, 175};
static const char IDENTITY_HEADER[] =
    ",race_source,ethnicity_source,sexual_orientation,gender_identity,"
    "hedis_ppc_denominator,hedis_ppc_prenatal,hedis_ppc_postpartum,"
    "hedis_fum_denominator,hedis_fum_7d,hedis_fum_30d,hedis_cis_denominator,"
    "hedis_cis_combo10";

/* The --identities columns of one row (no newline). HEDIS numerators only
 * inside their denominators; a 30-day follow-up whenever a 7-day one. */
static void write_identities(FILE *f, struct rng *r)
{
    int ppc = bern(r, 0.15), fum = bern(r, 0.12), cis = bern(r, 0.2);
    int f7 = fum && bern(r, 0.4);
    int f30 = fum && (f7 || bern(r, 0.3));
    fprintf(f, ",%s,%s,%s,%s,%d,%d,%d,%d,%d,%d,%d,%d", PICK(r, SRC, SRC_W), PICK(r, SRC, SRC_W),
            PICK(r, SO, SO_W), PICK(r, GI, GI_W), ppc, ppc && bern(r, 0.8), ppc && bern(r, 0.7),
            fum, f7, f30, cis, cis && bern(r, 0.4));
}

static int small_count(struct rng *r, double p0, double mean)
{
    if (bern(r, p0))
        return 0;
    int n = 1;
    while (bern(r, 1.0 - 1.0 / mean) && n < 30)
        n++;
    return n;
}

/* One row of the extract.md columns, without a line end: race and eth as
 * given, else drawn (at the same place in the stream as always). */
static void write_body(FILE *f, struct rng *r, long id, const char *period, const char *race,
                       const char *eth)
{
    char age[8] = "";
    if (!bern(r, 0.01))
        snprintf(age, sizeof(age), "%d", bern(r, 0.3) ? rng_int(r, 0, 20) : rng_int(r, 0, 99));
    char adi[4] = "";
    if (!bern(r, 0.06))
        snprintf(adi, sizeof(adi), "%d", rng_int(r, 1, 10));
    /* member months: mostly whole years, some partial, a few halves, a few 0 */
    double mm;
    int u = rng_int(r, 0, 99);
    if (u < 2)
        mm = 0;
    else if (u < 70)
        mm = 12;
    else if (u < 95)
        mm = rng_int(r, 1, 11);
    else
        mm = rng_int(r, 0, 11) + 0.5;
    int ip = small_count(r, 0.9, 1.4);
    int readmit = ip > 1 ? rng_int(r, 0, ip - 1) : 0;
    int sched = small_count(r, 0.35, 2.5);
    int noshow = sched > 0 ? rng_int(r, 0, sched) * bern(r, 0.5) : 0;
    int diab = bern(r, 0.12), htn = bern(r, 0.22), scr = bern(r, 0.4);
    double cost;
    if (bern(r, 0.1))
        cost = 0;
    else if (bern(r, 0.005))
        cost = 50000 + rng_int(r, 0, 40000000) / 100.0; /* outlier: dominance */
    else
        cost = rng_int(r, 0, 120000) / 100.0 * (1 + 4 * bern(r, 0.2));
    char exp[8] = "";
    if (bern(r, 0.3))
        snprintf(exp, sizeof(exp), "%d", rng_int(r, bern(r, 0.3) ? 0 : 6, 10));
    fprintf(f,
            "m%ld,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%g,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,"
            "%d,%d,%d,%d,%d,%d,%.2f,%s",
            id, period, age, PICK(r, SEX, SEX_W), race ? race : PICK(r, RACE, RACE_W), eth ? eth : PICK(r, ETH, ETH_W),
            PICK(r, LANG, LANG_W), PICK(r, PAYER, PAYER_W), adi, PICK(r, YNU, DIS_W),
            PICK(r, YNU, CMC_W), PICK(r, COUNTY, COUNTY_W), mm, small_count(r, 0.75, 1.5), ip,
            readmit, small_count(r, 0.25, 2.5), small_count(r, 0.7, 1.6), sched, noshow,
            bern(r, 0.45), diab, diab ? bern(r, 0.3) : bern(r, 0.05), htn,
            htn ? bern(r, 0.6) : bern(r, 0.1), scr, scr ? bern(r, 0.2) : bern(r, 0.05),
            scr ? bern(r, 0.1) : 0, scr ? bern(r, 0.08) : 0, scr ? bern(r, 0.06) : 0,
            scr ? bern(r, 0.03) : 0, cost, exp);
}

static void write_row(FILE *f, struct rng *r, struct rng *r2, long id, const char *period)
{
    write_body(f, r, id, period, NULL, NULL);
    if (r2)
        write_identities(f, r2);
    fputc('\n', f);
}

/* write_row with a race_detail column (docs/catalog.md, "Detailed race and
 * ethnicity"): race and ethnicity are drawn first, then responses that agree
 * with them (one race reported: that race; several: MULTI; a Hispanic
 * response: ethnicity HISPANIC), often rare detailed codes so that small
 * detailed strata occur. Race and ethnicity are never left empty with a
 * response that would fill them. */
static void write_row_rd(FILE *f, struct rng *r, long id, const char *period)
{
    const char *race = PICK(r, RACE, RACE_W), *eth = PICK(r, ETH, ETH_W);
    static const char *const ASIAN[] = {"CHINESE", "2034-7", "JAPANESE", "KOREAN", "2029-7",
                                        "FILIPINO", "VIETNAMESE", "HMONG", "THAI", "NEPALESE",
                                        "CHINESE;JAPANESE", "KOREAN;CHINESE", "FILIPINO;CHINESE",
                                        "ASIAN", ""};
    static const int ASIAN_W[] = {30, 10, 12, 10, 20, 15, 12, 4, 3, 2, 4, 3, 3, 15, 10};
    static const char *const MENA[] = {"LEBANESE", "IRANIAN", "EGYPTIAN", "MENA", ""};
    static const int MENA_W[] = {4, 3, 2, 2, 2};
    static const char *const MULTI[] = {"CHINESE;WHITE", "BLACK;WHITE", "FILIPINO;NHPI",
                                        "AIAN;WHITE;BLACK", ""};
    static const int MULTI_W[] = {3, 5, 2, 1, 4};
    static const char *const HISP[] = {"MEXICAN", "PUERTO_RICAN", "CUBAN", "2161-8",
                                       "PUERTO_RICAN;CUBAN", "HISPANIC", ""};
    static const int HISP_W[] = {50, 10, 5, 8, 2, 10, 15};
    char rd[96] = "";
    const char *part = "";
    if (!strcmp(race, "ASIAN"))
        part = PICK(r, ASIAN, ASIAN_W);
    else if (!strcmp(race, "MENA"))
        part = PICK(r, MENA, MENA_W);
    else if (!strcmp(race, "MULTI"))
        part = PICK(r, MULTI, MULTI_W);
    else if (*race && strcmp(race, "OTHER") && strcmp(race, "UNKNOWN") &&
             strcmp(race, "DECLINED") && bern(r, 0.5))
        part = race;
    snprintf(rd, sizeof(rd), "%s", part);
    if (!strcmp(eth, "HISPANIC")) {
        const char *h = PICK(r, HISP, HISP_W);
        if (*h)
            snprintf(rd + strlen(rd), sizeof(rd) - strlen(rd), "%s%s", *rd ? ";" : "", h);
    }

    write_body(f, r, id, period, race, eth);
    fprintf(f, ",%s\n", rd);
}

static void usage(FILE *f)
{
    fputs("usage: audit-gen --seed S --members N [--first-id I] [--period P]\n"
          "                 [--identities | --race-detail] --out FILE\n"
          "  --identities   also the identity and HEDIS flag columns (docs/catalog.md)\n"
          "  --race-detail  also a race_detail column (docs/catalog.md)\n",
          f);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"seed", required_argument, NULL, 's'},   {"members", required_argument, NULL, 'n'},
        {"first-id", required_argument, NULL, 'i'}, {"period", required_argument, NULL, 'p'},
        {"out", required_argument, NULL, 'o'},    {"help", no_argument, NULL, 'h'},
        {"identities", no_argument, NULL, 'I'},
        {"race-detail", no_argument, NULL, 'R'},
        {NULL, 0, NULL, 0}};
    unsigned long long seed = 1;
    long n = 0, first = 1;
    const char *period = "2025", *out = NULL;
    int c, identities = 0, race_detail = 0;
    while ((c = getopt_long(argc, argv, "s:n:i:p:o:hIR", opts, NULL)) != -1) {
        char *end = NULL;
        errno = 0;
        switch (c) {
        case 's':
            seed = strtoull(optarg, &end, 10);
            break;
        case 'n':
            n = strtol(optarg, &end, 10);
            break;
        case 'i':
            first = strtol(optarg, &end, 10);
            break;
        case 'p':
            period = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'I':
            identities = 1;
            break;
        case 'R':
            race_detail = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (end && (*end || errno)) {
            fprintf(stderr, "audit-gen: bad number \"%s\"\n", optarg);
            return 2;
        }
    }
    if (!out || n <= 0 || n > 10000000 || first < 0) {
        usage(stderr);
        return 2;
    }
    if (identities && race_detail) {
        fputs("audit-gen: --identities and --race-detail are not combined\n", stderr);
        return 2;
    }
    FILE *f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "audit-gen: %s: %s\n", out, strerror(errno));
        return 1;
    }
    struct rng r = {seed * 0x2545f4914f6cdd1dULL + 7};
    struct rng r2 = {seed * 0x9e3779b97f4a7c15ULL + 0x1d};
    fwrite(HEADER, 1, sizeof(HEADER) - 2, f); /* without its newline */
    if (identities)
        fputs(IDENTITY_HEADER, f);
    if (race_detail)
        fputs(",race_detail", f);
    fputc('\n', f);
    for (long i = 0; i < n; i++)
        if (race_detail)
            write_row_rd(f, &r, first + i, period);
        else
            write_row(f, &r, identities ? &r2 : NULL, first + i, period);
    if (fclose(f) != 0) {
        fprintf(stderr, "audit-gen: %s: %s\n", out, strerror(errno));
        return 1;
    }
    return 0;
}
