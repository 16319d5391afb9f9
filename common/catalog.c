/*
 * catalog.c - the measure catalog and stratifier definitions (measures.md).
 */
#include "catalog.h"
#include "race_detail.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CNT 1
#define NOC 0

/* hrsn_any counts the members positive in any domain. */
static const int hrsn_domains[] = {M_HRSN_FOOD, M_HRSN_HOUSING, M_HRSN_TRANSPORT,
                                   M_HRSN_UTILITIES, M_HRSN_SAFETY, -1};

static const struct measure_def measures[M__COUNT] = {
    [M_POPULATION] = {"population", KIND_COUNT, BETTER_NONE, CNT, CNT,
        "members with member_months > 0", "Members",
        CH_MEMBERS_ALL, CH_MONTHS_ALL, CH_MEMBERS_ALL, CH_MEMBERS_ALL, CH_NONE,
        -1, 0, 0, 0, NULL, NULL, 0},
    [M_ED_RATE] = {"ed_rate", KIND_RATE, BETTER_LOWER, CNT, NOC,
        "all members", "ED visits per 1,000 member-years",
        CH_MEMBERS_ALL, CH_MONTHS_ALL, CH_MONTHS_ALL, CH_ED, CH_NONE,
        M_POPULATION, 0, 0, 0, NULL, NULL, 0},
    [M_IP_RATE] = {"ip_rate", KIND_RATE, BETTER_LOWER, CNT, NOC,
        "all members", "Inpatient admissions per 1,000 member-years",
        CH_MEMBERS_ALL, CH_MONTHS_ALL, CH_MONTHS_ALL, CH_IP, CH_NONE,
        M_POPULATION, 0, 0, 0, NULL, NULL, 0},
    [M_READMIT_30D] = {"readmit_30d", KIND_PROPORTION, BETTER_LOWER, CNT, CNT,
        "members with ip_admits > 0", "30-day readmissions per admission",
        CH_MEMBERS_IP, CH_MONTHS_IP, CH_IP, CH_READMITS, CH_NONE,
        M_POPULATION, 1, 1, 0, NULL, NULL, 0},
    [M_WELLNESS] = {"wellness", KIND_PROPORTION, BETTER_HIGHER, CNT, CNT,
        "all members", "Members with a wellness visit",
        CH_MEMBERS_ALL, CH_MONTHS_ALL, CH_MEMBERS_ALL, CH_WELLNESS, CH_NONE,
        M_POPULATION, 1, 0, 0, NULL, NULL, 0},
    [M_NO_SHOW] = {"no_show", KIND_PROPORTION, BETTER_LOWER, CNT, CNT,
        "members with scheduled_appts > 0", "Missed appointments per scheduled",
        CH_MEMBERS_SCHED, CH_MONTHS_SCHED, CH_SCHED, CH_NOSHOW, CH_NONE,
        M_POPULATION, 1, 1, 0, NULL, NULL, 0},
    [M_TELEHEALTH_SHARE] = {"telehealth_share", KIND_PROPORTION, BETTER_NONE, CNT, CNT,
        "members with any primary care or telehealth visit", "Telehealth share of visits",
        CH_MEMBERS_VISIT, CH_MONTHS_VISIT, CH_VISITS, CH_TELE, CH_NONE,
        M_POPULATION, 1, 1, 0, NULL, NULL, 0},
    [M_DIABETES_POOR_CONTROL] = {"diabetes_poor_control", KIND_PROPORTION, BETTER_LOWER, CNT, CNT,
        "members with diabetes", "Diabetes with HbA1c > 9.0 %",
        CH_MEMBERS_DIAB, CH_MONTHS_DIAB, CH_MEMBERS_DIAB, CH_POOR, CH_NONE,
        M_POPULATION, 1, 0, 0, NULL, NULL, 0},
    [M_BP_CONTROL] = {"bp_control", KIND_PROPORTION, BETTER_HIGHER, CNT, CNT,
        "members with hypertension", "Hypertension with BP < 140/90",
        CH_MEMBERS_HTN, CH_MONTHS_HTN, CH_MEMBERS_HTN, CH_BPC, CH_NONE,
        M_POPULATION, 1, 0, 0, NULL, NULL, 0},
    [M_HRSN_SCREENING] = {"hrsn_screening", KIND_PROPORTION, BETTER_HIGHER, CNT, CNT,
        "all members", "Screened for social needs",
        CH_MEMBERS_ALL, CH_MONTHS_ALL, CH_MEMBERS_ALL, CH_SCREENED, CH_NONE,
        M_POPULATION, 1, 0, 0, NULL, NULL, 0},
    [M_HRSN_FOOD] = {"hrsn_food", KIND_PROPORTION, BETTER_LOWER, CNT, CNT,
        "members screened", "Food insecurity among screened",
        CH_SCREENED, CH_MONTHS_SCREENED, CH_SCREENED, CH_FOOD, CH_NONE,
        M_HRSN_SCREENING, 1, 0, 0, NULL, NULL, 0},
    [M_HRSN_HOUSING] = {"hrsn_housing", KIND_PROPORTION, BETTER_LOWER, CNT, CNT,
        "members screened", "Housing instability among screened",
        CH_SCREENED, CH_MONTHS_SCREENED, CH_SCREENED, CH_HOUSING, CH_NONE,
        M_HRSN_SCREENING, 1, 0, 0, NULL, NULL, 0},
    [M_HRSN_TRANSPORT] = {"hrsn_transport", KIND_PROPORTION, BETTER_LOWER, CNT, CNT,
        "members screened", "Transportation need among screened",
        CH_SCREENED, CH_MONTHS_SCREENED, CH_SCREENED, CH_TRANSPORT, CH_NONE,
        M_HRSN_SCREENING, 1, 0, 0, NULL, NULL, 0},
    [M_HRSN_UTILITIES] = {"hrsn_utilities", KIND_PROPORTION, BETTER_LOWER, CNT, CNT,
        "members screened", "Utility need among screened",
        CH_SCREENED, CH_MONTHS_SCREENED, CH_SCREENED, CH_UTILITIES, CH_NONE,
        M_HRSN_SCREENING, 1, 0, 0, NULL, NULL, 0},
    [M_HRSN_SAFETY] = {"hrsn_safety", KIND_PROPORTION, BETTER_LOWER, CNT, CNT,
        "members screened", "Interpersonal safety need among screened",
        CH_SCREENED, CH_MONTHS_SCREENED, CH_SCREENED, CH_SAFETY, CH_NONE,
        M_HRSN_SCREENING, 1, 0, 0, NULL, NULL, 0},
    [M_HRSN_ANY] = {"hrsn_any", KIND_PROPORTION, BETTER_LOWER, CNT, CNT,
        "members screened", "Any social need among screened",
        CH_SCREENED, CH_MONTHS_SCREENED, CH_SCREENED, CH_HRSN_ANY, CH_NONE,
        M_HRSN_SCREENING, 1, 0, 0, hrsn_domains, NULL, 0},
    [M_COST_PMPM] = {"cost_pmpm", KIND_PMPM, BETTER_LOWER, NOC, NOC,
        "all members", "Cost per member per month (USD)",
        CH_MEMBERS_ALL, CH_MONTHS_ALL, CH_MONTHS_ALL, CH_COST, CH_COST_SQ,
        M_POPULATION, 0, 0, 0, NULL, NULL, 0},
    [M_EXPERIENCE] = {"experience", KIND_MEAN, BETTER_HIGHER, NOC, CNT,
        "survey respondents", "Mean rating of care (0-10)",
        CH_MEMBERS_EXP, CH_MONTHS_EXP, CH_MEMBERS_EXP, CH_EXP_SUM, CH_EXP_SQ,
        M_POPULATION, 1000, 0, 1000, NULL, NULL, 0}, /* score hundredths (cells.h): 10 points */
};

const struct measure_def *catalog_builtin_measure(int id)
{
    if (id < 0 || id >= M__COUNT)
        return NULL;
    return &measures[id];
}

const char *catalog_kind_name(measure_kind kind)
{
    switch (kind) {
    case KIND_COUNT: return "count";
    case KIND_PROPORTION: return "proportion";
    case KIND_RATE: return "rate";
    case KIND_MEAN: return "mean";
    case KIND_PMPM: return "pmpm";
    }
    return "?";
}

const char *const race_codes[RACE__COUNT] = {
    "AIAN", "ASIAN", "BLACK", "MENA", "NHPI", "WHITE", "MULTI", "OTHER",
    "UNKNOWN", "DECLINED"};
const char *const ethnicity_codes[ETH__COUNT] = {
    "HISPANIC", "NOT_HISPANIC", "UNKNOWN", "DECLINED"};
const char *const sex_codes[SEX__COUNT] = {"F", "M", "X", "U"};
const char *const payer_codes[PAYER__COUNT] = {
    "MEDICAID", "MEDICARE", "DUAL", "COMMERCIAL", "UNINSURED", "OTHER", "UNKNOWN"};
const char *const ynu_codes[YNU__COUNT] = {"Y", "N", "U"};

int catalog_code_find(const char *const *table, int n, const char *s, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(table[i]) == len && strncasecmp(table[i], s, len) == 0)
            return i;
    return -1;
}

static const char *const stratifier_names[S__COUNT] = {
    "total", "race", "ethnicity", "race_ethnicity", "sex", "age_band",
    "language", "non_english", "payer", "adi_quintile", "disability", "cmc",
    "county", "age_std", "heba_band",
    "race_source", "ethnicity_source", "sexual_orientation", "gender_identity",
    "race_detail", "race_group", "race_aic"};

/* detailed race and ethnicity (race_detail.h): tied to race, ethnicity and
 * race_ethnicity through their own atoms, so never crossed with them */
static int race_detail_family(int s)
{
    return s == S_RACE_DETAIL || s == S_RACE_GROUP || s == S_RACE_AIC;
}

int catalog_stratifier_opt_in(int s)
{
    return catalog_stratifier_is_identity(s) || race_detail_family(s);
}

int catalog_stratifier_additive(int s)
{
    return s != S_RACE_AIC;
}

static int race_family(int s)
{
    return s == S_RACE || s == S_ETHNICITY || s == S_RACE_ETHNICITY || s == S_RACE_DETAIL ||
           s == S_RACE_GROUP || s == S_RACE_AIC;
}

int catalog_intersection_allowed(int a, int b)
{
    if (!catalog_stratifier_additive(a) || !catalog_stratifier_additive(b))
        return 0;
    if ((race_detail_family(a) && race_family(b)) || (race_detail_family(b) && race_family(a)))
        return 0;
    return 1;
}

const char *catalog_stratifier_name(int s)
{
    if (s < 0 || s >= S__COUNT)
        return NULL;
    return stratifier_names[s];
}

int catalog_stratifier_find(const char *name, size_t len)
{
    for (int i = 0; i < S__COUNT; i++)
        if (strlen(stratifier_names[i]) == len && strncmp(stratifier_names[i], name, len) == 0)
            return i;
    return -1;
}

const char *const race_ethnicity_codes[RE__COUNT] = {
    "HISPANIC", "NH_AIAN", "NH_ASIAN", "NH_BLACK", "NH_MENA", "NH_NHPI",
    "NH_WHITE", "NH_MULTI", "NH_OTHER", "UNKNOWN", "DECLINED"};

int catalog_race_ethnicity(int race, int ethnicity)
{
    if (ethnicity == ETH_HISPANIC)
        return RE_HISPANIC;
    if (ethnicity == ETH_NOT_HISPANIC) {
        if (race == RACE_UNKNOWN)
            return RE_UNKNOWN;
        if (race == RACE_DECLINED)
            return RE_DECLINED;
        return RE_NH_AIAN + race; /* race codes 0..7 map in order */
    }
    /* Ethnicity unknown or declined: Hispanic origin cannot be ruled out, so
     * the combined category is not known; declining either counts as declined. */
    if (ethnicity == ETH_DECLINED || race == RACE_DECLINED)
        return RE_DECLINED;
    return RE_UNKNOWN;
}

const char *const age_std_codes[AGESTD__COUNT + 1] = {
    "0", "1-4", "5-14", "15-24", "25-34", "35-44", "45-54", "55-64", "65-74",
    "75-84", "85+", "UNKNOWN"};
/* 2000 US standard population per million (NVSR 47(3)). */
const double age_std_weights[AGESTD__COUNT] = {
    13818, 55317, 145565, 138646, 135573, 162613, 134834, 87247, 66037, 44842, 15508};

int catalog_age_std(int age)
{
    if (age < 0)
        return AGESTD__COUNT;
    if (age == 0)
        return 0;
    if (age <= 4)
        return 1;
    if (age >= 85)
        return 10;
    return 2 + (age - 5) / 10;
}

const char *const heba_codes[HEBA__COUNT] = {"top", "middle", "bottom", "unknown"};

int catalog_heba_band(int adi_decile, int payer)
{
    if (payer == PAYER_DUAL || adi_decile == 10)
        return HEBA_TOP;
    if (adi_decile == 0)
        return HEBA_UNKNOWN;
    if (adi_decile <= 5)
        return HEBA_BOTTOM;
    return HEBA_MIDDLE;
}

const char *const adi_quintile_codes[ADIQ__COUNT] = {"1", "2", "3", "4", "5", "UNKNOWN"};

int catalog_adi_quintile(int adi_decile)
{
    if (adi_decile < 1 || adi_decile > 10)
        return 5;
    return (adi_decile - 1) / 2;
}

const char *const non_english_codes[NONENG__COUNT] = {"yes", "no", "unknown"};

/* ---- Stratum codes ------------------------------------------------------ */

static int code_exact(const char *const *table, int n, const char *s, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(table[i]) == len && memcmp(table[i], s, len) == 0)
            return 1;
    return 0;
}

static int all_in(const char *s, size_t len, char lo, char hi)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < lo || s[i] > hi)
            return 0;
    return 1;
}

/* An age in 0..120 written without leading zeros. */
static int age_ok(const char *s, size_t len)
{
    if (len < 1 || len > 3 || !all_in(s, len, '0', '9') || (len > 1 && s[0] == '0'))
        return 0;
    int v = 0;
    for (size_t i = 0; i < len; i++)
        v = v * 10 + (s[i] - '0');
    return v <= 120;
}

static int age_band_ok(const char *s, size_t len)
{
    if (len == 7 && memcmp(s, "UNKNOWN", 7) == 0)
        return 1;
    if (len >= 2 && s[len - 1] == '+')
        return age_ok(s, len - 1);
    const char *dash = memchr(s, '-', len);
    if (!dash)
        return age_ok(s, len);
    size_t a = (size_t)(dash - s);
    return age_ok(s, a) && age_ok(dash + 1, len - a - 1);
}

int catalog_stratum_code_ok(int s, const char *code, size_t len)
{
    switch (s) {
    case S_RACE: return code_exact(race_codes, RACE__COUNT, code, len);
    case S_ETHNICITY: return code_exact(ethnicity_codes, ETH__COUNT, code, len);
    case S_RACE_ETHNICITY: return code_exact(race_ethnicity_codes, RE__COUNT, code, len);
    case S_SEX: return code_exact(sex_codes, SEX__COUNT, code, len);
    case S_AGE_BAND: return age_band_ok(code, len);
    case S_LANGUAGE:
        return ((len == 2 || len == 3) && all_in(code, len, 'a', 'z')) ||
               (len == 5 && memcmp(code, "other", 5) == 0);
    case S_NON_ENGLISH: return code_exact(non_english_codes, NONENG__COUNT, code, len);
    case S_PAYER: return code_exact(payer_codes, PAYER__COUNT, code, len);
    case S_ADI_QUINTILE: return code_exact(adi_quintile_codes, ADIQ__COUNT, code, len);
    case S_DISABILITY:
    case S_CMC: return code_exact(ynu_codes, YNU__COUNT, code, len);
    case S_COUNTY:
        return (len == 5 && all_in(code, len, '0', '9')) ||
               (len == 7 && memcmp(code, "UNKNOWN", 7) == 0);
    case S_AGE_STD: return code_exact(age_std_codes, AGESTD__COUNT + 1, code, len);
    case S_HEBA_BAND: return code_exact(heba_codes, HEBA__COUNT, code, len);
    case S_RACE_SOURCE:
    case S_ETHNICITY_SOURCE: return code_exact(race_source_codes, RSRC__COUNT, code, len);
    case S_SEXUAL_ORIENTATION: return code_exact(sexual_orientation_codes, SO__COUNT, code, len);
    case S_GENDER_IDENTITY: return code_exact(gender_identity_codes, GI__COUNT, code, len);
    case S_RACE_DETAIL: return code_exact(race_detail_codes, RD__COUNT, code, len);
    case S_RACE_GROUP: return code_exact(race_group_codes, RG__COUNT, code, len);
    case S_RACE_AIC: return code_exact(race_aic_codes, AIC__COUNT, code, len);
    default: return 0;
    }
}

int catalog_stratifier_max_codes(int s)
{
    switch (s) {
    case S_RACE: return RACE__COUNT;
    case S_ETHNICITY: return ETH__COUNT;
    case S_RACE_ETHNICITY: return RE__COUNT;
    case S_SEX: return SEX__COUNT;
    case S_AGE_BAND: return CATALOG_MAX_AGE_BANDS + 1;
    case S_LANGUAGE: return CATALOG_MAX_LANGUAGES;
    case S_NON_ENGLISH: return NONENG__COUNT;
    case S_PAYER: return PAYER__COUNT;
    case S_ADI_QUINTILE: return ADIQ__COUNT;
    case S_DISABILITY:
    case S_CMC: return YNU__COUNT;
    case S_COUNTY: return CATALOG_MAX_COUNTIES;
    case S_AGE_STD: return AGESTD__COUNT + 1;
    case S_HEBA_BAND: return HEBA__COUNT;
    case S_RACE_SOURCE:
    case S_ETHNICITY_SOURCE: return RSRC__COUNT;
    case S_SEXUAL_ORIENTATION: return SO__COUNT;
    case S_GENDER_IDENTITY: return GI__COUNT;
    case S_RACE_DETAIL: return RD__COUNT;
    case S_RACE_GROUP: return RG__COUNT;
    case S_RACE_AIC: return AIC__COUNT;
    default: return 0;
    }
}

/* ---- Identity stratifiers (issue 13) ------------------------------------ */

const char *const race_source_codes[RSRC__COUNT] = {"SELF", "IMPUTED", "UNKNOWN"};
const char *const sexual_orientation_codes[SO__COUNT] = {
    "STRAIGHT", "LESBIAN_GAY", "BISEXUAL", "SOMETHING_ELSE", "DONT_KNOW", "DECLINED", "UNKNOWN"};
const char *const gender_identity_codes[GI__COUNT] = {
    "FEMALE", "MALE", "TRANSGENDER_FEMALE", "TRANSGENDER_MALE", "NONBINARY", "OTHER",
    "DONT_KNOW", "DECLINED", "UNKNOWN"};

int catalog_stratifier_is_identity(int s)
{
    return s == S_RACE_SOURCE || s == S_ETHNICITY_SOURCE || s == S_SEXUAL_ORIENTATION ||
           s == S_GENDER_IDENTITY;
}

/* Standard codes of data/sogi.tsv (SNOMED CT, LOINC answers, HL7 NullFlavor)
 * and NCQA's direct/indirect for a source. */
static const struct { int s, code; const char *std; } identity_std[] = {
    {S_RACE_SOURCE, RSRC_SELF, "DIRECT"}, {S_RACE_SOURCE, RSRC_IMPUTED, "INDIRECT"},
    {S_SEXUAL_ORIENTATION, SO_STRAIGHT, "20430005"},
    {S_SEXUAL_ORIENTATION, SO_LESBIAN_GAY, "38628009"},
    {S_SEXUAL_ORIENTATION, SO_BISEXUAL, "42035005"},
    {S_SEXUAL_ORIENTATION, SO_DONT_KNOW, "ASKU"},
    {S_SEXUAL_ORIENTATION, SO_UNKNOWN, "UNK"},
    {S_SEXUAL_ORIENTATION, SO_SOMETHING_ELSE, "OTH"},
    {S_SEXUAL_ORIENTATION, SO_DECLINED, "asked-declined"}, /* data-absent-reason */
    {S_GENDER_IDENTITY, GI_FEMALE, "LA22879-3"},
    {S_GENDER_IDENTITY, GI_MALE, "LA22878-5"},
    {S_GENDER_IDENTITY, GI_TRANSGENDER_FEMALE, "LA22881-9"},
    {S_GENDER_IDENTITY, GI_TRANSGENDER_MALE, "LA22880-1"},
    {S_GENDER_IDENTITY, GI_NONBINARY, "LA22882-7"},
    {S_GENDER_IDENTITY, GI_OTHER, "LA46-8"},
    {S_GENDER_IDENTITY, GI_DONT_KNOW, "LA20384-6"},
    {S_GENDER_IDENTITY, GI_DONT_KNOW, "ASKU"},
    {S_GENDER_IDENTITY, GI_UNKNOWN, "UNK"},
    {S_GENDER_IDENTITY, GI_OTHER, "OTH"},
    {S_GENDER_IDENTITY, GI_DECLINED, "asked-declined"},
    /* SNOMED CT gender identity findings (US Core 6+ gender identity) */
    {S_GENDER_IDENTITY, GI_FEMALE, "446141000124107"},
    {S_GENDER_IDENTITY, GI_MALE, "446151000124109"},
    {S_GENDER_IDENTITY, GI_NONBINARY, "33791000087105"},
    {S_GENDER_IDENTITY, GI_NONBINARY, "446131000124102"}}; /* non-conforming */

int catalog_identity_code(int s, const char *v, size_t len)
{
    int code = -1;
    switch (s) {
    case S_RACE_SOURCE:
    case S_ETHNICITY_SOURCE: code = catalog_code_find(race_source_codes, RSRC__COUNT, v, len); break;
    case S_SEXUAL_ORIENTATION: code = catalog_code_find(sexual_orientation_codes, SO__COUNT, v, len); break;
    case S_GENDER_IDENTITY: code = catalog_code_find(gender_identity_codes, GI__COUNT, v, len); break;
    default: return -1;
    }
    if (code >= 0)
        return code;
    int ts = s == S_ETHNICITY_SOURCE ? S_RACE_SOURCE : s;
    for (size_t i = 0; i < sizeof identity_std / sizeof identity_std[0]; i++)
        if (identity_std[i].s == ts && strlen(identity_std[i].std) == len &&
            strncasecmp(identity_std[i].std, v, len) == 0)
            return identity_std[i].code;
    return -1;
}

/* ---- Intersections ----------------------------------------------------- */

int catalog_inter_parse(const char *s, size_t len, int out[CATALOG_INTER_DIM], char *err,
                      size_t errlen)
{
    int q = (int)(len > 60 ? 60 : len), n = 0;
    out[0] = out[1] = out[2] = S_TOTAL;
    const char *p = s, *end = s + len;
    for (;;) {
        const char *star = memchr(p, '*', (size_t)(end - p));
        size_t l = star ? (size_t)(star - p) : (size_t)(end - p);
        if (n == CATALOG_INTER_DIM) {
            snprintf(err, errlen, "\"%.*s\" crosses more than three stratifiers", q, s);
            return -1;
        }
        int sid = catalog_stratifier_find(p, l);
        if (sid <= S_TOTAL) {
            snprintf(err, errlen, "\"%.*s\": unknown stratifier \"%.*s\" (an intersection is "
                     "two or three stratifiers joined by '*', e.g. race*disability*cmc)", q, s,
                     (int)(l > 40 ? 40 : l), p);
            return -1;
        }
        for (int d = 0; d < n; d++)
            if (out[d] == sid) {
                snprintf(err, errlen, "\"%.*s\" names stratifier %s twice", q, s,
                         catalog_stratifier_name(sid));
                return -1;
            }
        out[n++] = sid;
        if (!star)
            break;
        p = star + 1;
    }
    if (n < 2) {
        snprintf(err, errlen, "\"%.*s\" is not an intersection of two or three different "
                 "stratifiers joined by '*' (e.g. race*disability)", q, s);
        return -1;
    }
    for (int d = 0; n == 3 && d < 3; d++)
        if (out[d] == S_LANGUAGE || out[d] == S_COUNTY) {
            snprintf(err, errlen, "\"%.*s\": a three-way intersection cannot cross %s (its "
                     "code list is open)", q, s, catalog_stratifier_name(out[d]));
            return -1;
        }
    for (int d = 0; d < n; d++)
        for (int e = d + 1; e < n; e++)
            if (!catalog_intersection_allowed(out[d], out[e])) {
                snprintf(err, errlen, "\"%.*s\": race_aic is not additive and has no "
                         "intersections; race_detail and race_group are not crossed with race, "
                         "ethnicity, race_ethnicity or each other", q, s);
                return -1;
            }
    return 0;
}

int catalog_inter_ndim(const int x[CATALOG_INTER_DIM])
{
    return x[2] > S_TOTAL ? 3 : 2;
}

int catalog_inter_same(const int a[CATALOG_INTER_DIM], const int b[CATALOG_INTER_DIM])
{
    int n = catalog_inter_ndim(a);
    if (n != catalog_inter_ndim(b))
        return 0;
    for (int i = 0; i < n; i++) {
        int found = 0;
        for (int j = 0; j < n; j++)
            found |= a[i] == b[j];
        if (!found)
            return 0;
    }
    return 1;
}

void catalog_inter_name(const int x[CATALOG_INTER_DIM], char *buf, size_t len)
{
    if (catalog_inter_ndim(x) == 3)
        snprintf(buf, len, "%s*%s*%s", catalog_stratifier_name(x[0]),
                 catalog_stratifier_name(x[1]), catalog_stratifier_name(x[2]));
    else
        snprintf(buf, len, "%s*%s", catalog_stratifier_name(x[0]), catalog_stratifier_name(x[1]));
}

int catalog_inter_count_three(const int (*inter)[CATALOG_INTER_DIM], int n)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += catalog_inter_ndim(inter[i]) == 3;
    return k;
}
