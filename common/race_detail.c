/*
 * race_detail.c - the detailed race and ethnicity codes and their
 * hierarchy (race_detail.h). The table is data/race-detail.tsv written out
 * in C (tests/it_race_detail.sh checks that the two agree).
 */
#include "race_detail.h"

#include <string.h>
#include <strings.h>

#include "catalog.h"

static const struct {
    const char *code, *cdc;
    int group;
} detail[RD_N] = {
    {"CHINESE", "2034-7", 0},      {"JAPANESE", "2039-6", 0},    {"KOREAN", "2040-4", 0},
    {"ASIAN_INDIAN", "2029-7", 1}, {"BANGLADESHI", "2030-5", 1}, {"NEPALESE", "2050-3", 1},
    {"PAKISTANI", "2044-6", 1},    {"SRI_LANKAN", "2045-3", 1},  {"BURMESE", "2032-1", 2},
    {"CAMBODIAN", "2033-9", 2},    {"FILIPINO", "2036-2", 2},    {"HMONG", "2037-0", 2},
    {"INDONESIAN", "2038-8", 2},   {"LAO", "2041-2", 2},         {"THAI", "2046-1", 2},
    {"VIETNAMESE", "2047-9", 2},   {"MEXICAN", "2148-5", 3},     {"PUERTO_RICAN", "2180-8", 4},
    {"CUBAN", "2182-4", 4},        {"SALVADORAN", "2161-8", 5},  {"LEBANESE", "", 6},
    {"IRANIAN", "", 6},            {"EGYPTIAN", "", 7}};

static const int group_min[RG_N] = {RACE_ASIAN,      RACE_ASIAN,      RACE_ASIAN,
                                    RD_MIN_HISPANIC, RD_MIN_HISPANIC, RD_MIN_HISPANIC,
                                    RACE_MENA,       RACE_MENA};

const char *const race_detail_codes[RD__COUNT] = {
    "CHINESE", "JAPANESE", "KOREAN", "ASIAN_INDIAN", "BANGLADESHI", "NEPALESE", "PAKISTANI",
    "SRI_LANKAN", "BURMESE", "CAMBODIAN", "FILIPINO", "HMONG", "INDONESIAN", "LAO", "THAI",
    "VIETNAMESE", "MEXICAN", "PUERTO_RICAN", "CUBAN", "SALVADORAN", "LEBANESE", "IRANIAN",
    "EGYPTIAN", "MULTIPLE", "UNKNOWN"};

const char *const race_group_codes[RG__COUNT] = {
    "EAST_ASIAN", "SOUTH_ASIAN", "SOUTHEAST_ASIAN", "MEXICAN_GROUP", "CARIBBEAN_HISPANIC",
    "CENTRAL_AMERICAN", "MIDDLE_EASTERN", "NORTH_AFRICAN", "MULTIPLE", "UNKNOWN"};

const char *const race_aic_codes[AIC__COUNT] = {"AIAN", "ASIAN", "BLACK", "HISPANIC",
                                                "MENA", "NHPI", "WHITE", "UNKNOWN"};

/* Minimum categories as responses: the race codes AIAN..WHITE, HISPANIC,
 * and their CDC codes (the same list as the FHIR adapter's). */
static const struct {
    const char *code;
    int min;
} minimum[] = {
    {"AIAN", RACE_AIAN},       {"ASIAN", RACE_ASIAN},       {"BLACK", RACE_BLACK},
    {"MENA", RACE_MENA},       {"NHPI", RACE_NHPI},         {"WHITE", RACE_WHITE},
    {"HISPANIC", RD_MIN_HISPANIC},
    {"1002-5", RACE_AIAN},     {"2028-9", RACE_ASIAN},      {"2054-5", RACE_BLACK},
    {"2118-8", RACE_MENA},     {"2076-8", RACE_NHPI},       {"2106-3", RACE_WHITE},
    {"2135-2", RD_MIN_HISPANIC}};

const char *race_detail_cdc(int d)
{
    return d >= 0 && d < RD_N ? detail[d].cdc : "";
}

int race_detail_group(int d)
{
    return d >= 0 && d < RD_N ? detail[d].group : RG_UNKNOWN;
}

int race_group_minimum(int g)
{
    return g >= 0 && g < RG_N ? group_min[g] : -1;
}

int race_detail_minimum(int d)
{
    return race_group_minimum(race_detail_group(d));
}

static int eq(const char *code, const char *s, size_t len)
{
    return code[0] && strlen(code) == len && strncasecmp(code, s, len) == 0;
}

int race_detail_response(const char *s, size_t len, uint32_t *det, uint8_t *min)
{
    for (int d = 0; d < RD_N; d++)
        if (eq(detail[d].code, s, len) || eq(detail[d].cdc, s, len)) {
            *det |= 1u << d;
            *min |= (uint8_t)(1u << race_detail_minimum(d));
            return 0;
        }
    for (size_t i = 0; i < sizeof minimum / sizeof minimum[0]; i++)
        if (eq(minimum[i].code, s, len)) {
            *min |= (uint8_t)(1u << minimum[i].min);
            return 0;
        }
    return -1;
}

int race_detail_stratum(uint32_t det, uint8_t min)
{
    if (!det)
        return RD_UNKNOWN;
    if (det & (det - 1))
        return RD_MULTIPLE;
    int d = __builtin_ctz(det);
    return min == (1u << race_detail_minimum(d)) ? d : RD_MULTIPLE;
}

int race_group_stratum(uint32_t det, uint8_t min)
{
    if (!det)
        return RG_UNKNOWN;
    int g = race_detail_group(__builtin_ctz(det));
    for (uint32_t m = det; m; m &= m - 1)
        if (race_detail_group(__builtin_ctz(m)) != g)
            return RG_MULTIPLE;
    return min == (1u << group_min[g]) ? g : RG_MULTIPLE;
}

unsigned race_aic_races(uint8_t min, int race)
{
    unsigned r = min & RD_MIN_RACES;
    if (!r && race >= RACE_AIAN && race <= RACE_WHITE)
        r = 1u << race;
    return r;
}

unsigned race_aic_mask(uint8_t min, int race, int ethnicity)
{
    static const int aic_of_race[6] = {AIC_AIAN, AIC_ASIAN, AIC_BLACK,
                                       AIC_MENA, AIC_NHPI,  AIC_WHITE};
    unsigned races = race_aic_races(min, race), out = 0;
    for (int r = 0; r < 6; r++)
        if (races & (1u << r))
            out |= 1u << aic_of_race[r];
    if (ethnicity == ETH_HISPANIC)
        out |= 1u << AIC_HISPANIC;
    if (!out)
        out = 1u << AIC_UNKNOWN;
    return out;
}

int race_detail_consistent(uint8_t min, int race, int ethnicity, const char **what)
{
    unsigned r = min & RD_MIN_RACES;
    if (r && race != ((r & (r - 1)) ? RACE_MULTI : __builtin_ctz(r))) {
        *what = "race";
        return -1;
    }
    if ((min & (1u << RD_MIN_HISPANIC)) && ethnicity != ETH_HISPANIC) {
        *what = "ethnicity";
        return -1;
    }
    return 0;
}

int race_detail_race_of(uint8_t min, int race_unknown)
{
    unsigned r = min & RD_MIN_RACES;
    if (!r)
        return race_unknown;
    return (r & (r - 1)) ? RACE_MULTI : __builtin_ctz(r);
}

int race_detail_ethnicity_of(uint8_t min, int eth_unknown)
{
    return (min & (1u << RD_MIN_HISPANIC)) ? ETH_HISPANIC : eth_unknown;
}

/* ---- responses as the sources read them ---------------------------------- */

int race_detail_lookup(const struct race_detail_maps *m, const char *s, size_t len,
                       uint32_t *det, uint8_t *min)
{
    for (int k = 0; m && k < m->n; k++)
        if (strlen(m->from[k]) == len && strncasecmp(m->from[k], s, len) == 0) {
            *det |= m->det[k];
            *min |= m->min[k];
            return 0;
        }
    return race_detail_response(s, len, det, min);
}

int race_detail_list(const struct race_detail_maps *m, const char *s, size_t len, uint32_t *det,
                     uint8_t *min)
{
    uint32_t d = 0;
    uint8_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && s[j] != ';' && s[j] != '|')
            j++;
        size_t a = i, b = j;
        while (a < b && (s[a] == ' ' || s[a] == '\t'))
            a++;
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
            b--;
        if (b > a && race_detail_lookup(m, s + a, b - a, &d, &n) < 0)
            return -1;
        i = j + 1;
    }
    *det |= d;
    *min |= n;
    return 0;
}

int race_detail_settle(uint8_t min, int derive_race, int derive_ethnicity, int *race,
                       int *ethnicity, const char **what)
{
    int r = *race, e = *ethnicity;
    if (derive_race && r == RACE_UNKNOWN)
        r = race_detail_race_of(min, RACE_UNKNOWN);
    if (derive_ethnicity && e == ETH_UNKNOWN)
        e = race_detail_ethnicity_of(min, ETH_UNKNOWN);
    if (race_detail_consistent(min, r, e, what) < 0)
        return -1;
    *race = r;
    *ethnicity = e;
    return 0;
}

/* ---- the joint atoms of the suppression model --------------------------- */


static int rel(unsigned c, int r)
{
    int n = __builtin_popcount(c);
    if (n == 1)
        return r == __builtin_ctz(c);
    if (n >= 2)
        return r == RACE_MULTI;
    return r == RACE_MULTI || r == RACE_OTHER || r == RACE_UNKNOWN || r == RACE_DECLINED;
}

int race_detail_atom_ok(int a, unsigned c, int r, int e)
{
    if (!rel(c, r))
        return 0;
    if (a >= RDA_GROUP0 && a < RDA_MM) {
        /* several detailed codes of the group: it needs two */
        int n = 0;
        for (int d = 0; d < RD_N; d++)
            n += detail[d].group == a - RDA_GROUP0;
        if (n < 2)
            return 0;
    }
    if (a < RDA_MM) {
        int m = a < RD_N ? race_detail_minimum(a) : race_group_minimum(a - RDA_GROUP0);
        if (m != RD_MIN_HISPANIC)
            return c == 1u << m;
        return e == ETH_HISPANIC && __builtin_popcount(c) <= 1;
    }
    if (a == RDA_MM) /* a detailed code is Asian, MENA or Hispanic */
        return (c & (1u << RACE_ASIAN | 1u << RACE_MENA)) || e == ETH_HISPANIC;
    return 1;
}

int race_detail_atom_detail(int a)
{
    return a < RD_N ? a : a < RDA_MM ? RD_MULTIPLE : a == RDA_MM ? RD_MULTIPLE : RD_UNKNOWN;
}

int race_detail_atom_group(int a)
{
    return a < RD_N ? race_detail_group(a) : a < RDA_MM ? a - RDA_GROUP0
                                           : a == RDA_MM ? RG_MULTIPLE : RG_UNKNOWN;
}

int race_aic_has(unsigned c, int e, int k)
{
    static const int race_of_aic[AIC__COUNT] = {RACE_AIAN, RACE_ASIAN, RACE_BLACK, -1,
                                                RACE_MENA, RACE_NHPI,  RACE_WHITE, -1};
    if (k == AIC_HISPANIC)
        return e == ETH_HISPANIC;
    if (k == AIC_UNKNOWN)
        return c == 0 && e != ETH_HISPANIC;
    return (c >> race_of_aic[k]) & 1u;
}

int race_detail_atom(uint32_t det, uint8_t min)
{
    if (!det)
        return RDA_UU;
    int d = race_detail_stratum(det, min);
    if (d < RD_N)
        return d;
    int g = race_group_stratum(det, min);
    return g < RG_N ? RDA_GROUP0 + g : RDA_MM;
}
