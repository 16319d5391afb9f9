/*
 * fhir.c - the FHIR R4 Bulk Data adapter (see fhir.h, docs/sources.md).
 *
 * One pass per file: Patient files first (one entry per patient, hashed by
 * id), then Coverage, Encounter, Condition, Observation and
 * ExplanationOfBenefit into per-patient accumulators; records are built
 * and handed to the sink only when every file was read, so a fatal error
 * hands out nothing. Each line is read with gzgets (zlib reads plain files
 * unchanged) into a growing buffer and parsed alone with json_loadb.
 *
 * Mapping choices, in one place (the rest follows the Synthea adapter so
 * that the two agree on the same people):
 * - Member: born on or before Dec 31 and not dead before Jan 1 (the day of
 *   death counts as lived); deceasedBoolean true without a date counts as
 *   alive all year (the export does not say when). Age = year - birth year.
 * - Race (US Core race extension): each ombCategory and detailed coding is
 *   mapped (OMB codes, the CDC Middle Eastern or North African codes, then
 *   [map.race] rules); two or more different races are MULTI; ASKU is
 *   DECLINED, UNK UNKNOWN; with no coding the text goes through [map.race]
 *   rules. Ethnicity likewise (2135-2 HISPANIC, 2186-5 NOT_HISPANIC).
 * - County: address[0].district, a 5-digit FIPS or a county name mapped as
 *   for Synthea. Language: communication (preferred first), BCP 47 two
 *   letters or ISO 639-3.
 * - Coverage: period intersected with the part of the year alive, months
 *   per payer code, payer with most months; none = UNINSURED for the months
 *   alive. Payer code from type (Source of Payment Typology: 1 Medicare,
 *   2 Medicaid, 5-7 commercial, 8 no payment, others OTHER) or, without
 *   it, type.text / payor display ("Dual Eligible", "Medicaid", ...).
 * - Encounter in the year by period.start: class EMER -> ED, IMP/ACUTE/
 *   NONAC -> inpatient stay, AMB -> primary care (a wellness type instead
 *   -> wellness_visit), VR -> telehealth, HH and others -> none.
 * - Condition active in the year (onset/recorded before Jan 1 of the next
 *   year, abatement absent or on or after Jan 1): diabetes (SNOMED 44054006
 *   or ICD-10-CM E10, E11, E13), hypertension (SNOMED 59621000, 38341003,
 *   ICD-10-CM I10), CCC v2 categories of every coding.
 * - Observation in the year: HbA1c 4548-4, blood pressure 8480-6 / 8462-4
 *   alone or as components of 85354-9 (most recent wins); PRAPARE and AHC
 *   HRSN items (see hrsn_positive()).
 * - ExplanationOfBenefit: billablePeriod.start (else created) in the year;
 *   its total with category "eligible" (allowed), else "submitted", else
 *   the first total; summed in cents.
 */
#include "fhir.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "catalog.h"
#include "code_map.h"
#include "race_detail.h"
#include "synthea.h"

#define MAX_LINE (16u << 20)
#define DAY 86400LL
#define T_NONE INT64_MIN
#define T_OPEN INT64_MAX
#define MAX_FILES 256

enum { R_PATIENT, R_COVERAGE, R_ENCOUNTER, R_CONDITION, R_OBSERVATION, R_EOB, R__COUNT };
static const char *const rtype[R__COUNT] = {"Patient", "Coverage", "Encounter", "Condition",
                                            "Observation", "ExplanationOfBenefit"};

struct stay {
    int64_t start, stop;
};

struct pat {
    char *id;
    uint8_t member, sex, race, eth;
    uint8_t miss_race, miss_eth, miss_county, miss_sex, miss_lang;
    int county_rule;
    int32_t county;
    int age;
    int64_t alive_from, alive_to;
    int64_t cov[PAYER__COUNT];    /* covered seconds per payer code */
    uint32_t ed, pc, tele;
    uint8_t wellness, diabetes, htn;
    uint32_t ccc;
    int64_t cost_cents;
    struct stay *stays;
    uint32_t nstays, capstays;
    int64_t a1c_t, sbp_t, dbp_t;
    double a1c, sbp, dbp;
    uint16_t lang;
    uint8_t screened;
    struct hrsn_flags h;
    /* identity stratifiers (catalog.h): code + 1 (0: none), and when */
    uint8_t so, gi;
    int64_t so_t, gi_t;
    /* detailed race and ethnicity responses (race_detail.h), read only when
     * the catalog offers them; rd_unk: a detailed coding the table lacks */
    uint32_t rd_det;
    uint8_t rd_min, rd_unk;
};

struct ctx {
    const struct fhir_options *o;
    struct profile *prof;
    char *err;
    size_t errlen;
    int64_t y0, y1;
    struct pat *pats;
    size_t npats, cappats;
    uint32_t *hash;
    size_t hashcap;
    struct code_map map;          /* [map.*] rules, hits into prof */
    int rd_on;                    /* race_detail_wanted()          */
    struct race_detail_maps rdmaps;
    int seen[R__COUNT];
    /* the line being read */
    const char *fname;
    char path[4096];
    uint64_t line;
    int stop;
};

static int fatal(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fatal(struct ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (c->errlen)
        vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int identity_cc(json_t *cc, int s);

/* Rejects the current line (never quoting identifiers). */
static int bad(struct ctx *c, bad_reason why, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int bad(struct ctx *c, bad_reason why, const char *field, const char *fmt, ...)
{
    char msg[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    profile_reject(c->prof, why, c->line, 0, field, "%s: %s%s%s", c->fname, field, *field ? ": " : "", msg);
    if (c->o->strict) {
        fatal(c, "%s:%llu: %s%s%s", c->path, (unsigned long long)c->line, field, *field ? ": " : "", msg);
        c->stop = 1;
        return -1;
    }
    return 0;
}

/* ---- dates ----------------------------------------------------------------- */

/* FHIR date or dateTime: "YYYY", "YYYY-MM", "YYYY-MM-DD", optionally
 * "THH:MM:SS[.fff](Z|+hh:mm|-hh:mm)". A partial date is its first day.
 * Returns 0 with seconds since 1970 UTC, or -1. */
static int fhir_time(const char *s, int64_t *t, int *year)
{
    size_t n = strlen(s);
    int y, mo = 1, d = 1, h = 0, mi = 0, se = 0;
    if (n < 4 || record_digits(s, 4, &y) < 0 || y < 1000)
        return -1;
    size_t i = 4;
    if (i < n) {
        if (n < 7 || s[4] != '-' || record_digits(s + 5, 2, &mo) < 0 || mo < 1 || mo > 12)
            return -1;
        i = 7;
    }
    if (i < n) {
        static const int md[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        if (n < 10 || s[7] != '-' || record_digits(s + 8, 2, &d) < 0 || d < 1 || d > md[mo - 1])
            return -1;
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        if (mo == 2 && d == 29 && !leap)
            return -1;
        i = 10;
    }
    int64_t off = 0;
    if (i < n) {
        if (s[i] != 'T' || n < i + 9 || s[i + 3] != ':' || s[i + 6] != ':' ||
            record_digits(s + i + 1, 2, &h) < 0 || record_digits(s + i + 4, 2, &mi) < 0 ||
            record_digits(s + i + 7, 2, &se) < 0 || h > 23 || mi > 59 || se > 60)
            return -1;
        i += 9;
        if (i < n && s[i] == '.') {
            size_t f = ++i;
            while (i < n && s[i] >= '0' && s[i] <= '9')
                i++;
            if (i == f)
                return -1;
        }
        if (i < n && s[i] == 'Z') {
            i++;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
            int oh, om;
            if (n < i + 6 || s[i + 3] != ':' || record_digits(s + i + 1, 2, &oh) < 0 ||
                record_digits(s + i + 4, 2, &om) < 0 || oh > 23 || om > 59)
                return -1;
            off = (oh * 3600LL + om * 60LL) * (s[i] == '+' ? 1 : -1);
            i += 6;
        } else {
            return -1; /* a time needs a zone in FHIR */
        }
    }
    if (i != n)
        return -1;
    *t = record_days_from_civil(y, mo, d) * DAY + h * 3600LL + mi * 60LL + se - off;
    if (year)
        *year = y;
    return 0;
}

/* ---- JSON helpers ------------------------------------------------------------ */

static const char *str(json_t *o, const char *key)
{
    json_t *v = o ? json_object_get(o, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Time of a string member: 0 (absent), 1 (ok), -1 (present but bad). */
static int get_time(json_t *o, const char *key, int64_t *t)
{
    json_t *v = o ? json_object_get(o, key) : NULL;
    if (!v)
        return 0;
    if (!json_is_string(v) || fhir_time(json_string_value(v), t, NULL) < 0)
        return -1;
    return 1;
}

static int ieq(const char *a, const char *b)
{
    return a && b && !strcasecmp(a, b);
}

/* "Patient/123", "urn:uuid:123" or "123" -> the id part. */
static const char *ref_id(json_t *ref)
{
    const char *r = str(ref, "reference");
    if (!r)
        return NULL;
    if (!strncmp(r, "Patient/", 8))
        return r + 8;
    if (!strncmp(r, "urn:uuid:", 9))
        return r + 9;
    return strchr(r, '/') ? NULL : r;
}

/* Does a CodeableConcept have a coding with this code? */
static int has_code(json_t *cc, const char *code)
{
    json_t *codings = cc ? json_object_get(cc, "coding") : NULL, *x;
    size_t i;
    json_array_foreach(codings, i, x)
        if (ieq(str(x, "code"), code))
            return 1;
    return 0;
}

/* Answer text of an Observation value: valueCodeableConcept text or first
 * display, valueString, valueBoolean. */
static const char *answer(json_t *obs)
{
    json_t *cc = json_object_get(obs, "valueCodeableConcept");
    if (cc) {
        const char *t = str(cc, "text");
        json_t *c0 = json_array_get(json_object_get(cc, "coding"), 0);
        return t ? t : str(c0, "display");
    }
    json_t *b = json_object_get(obs, "valueBoolean");
    if (json_is_boolean(b))
        return json_is_true(b) ? "Yes" : "No";
    return str(obs, "valueString");
}

/* ---- patients -------------------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static struct pat *pat_find(struct ctx *c, const char *id)
{
    if (!id || !c->hashcap)
        return NULL;
    size_t mask = c->hashcap - 1;
    for (size_t i = hash_str(id) & mask;; i = (i + 1) & mask) {
        uint32_t v = c->hash[i];
        if (!v)
            return NULL;
        if (!strcmp(c->pats[v - 1].id, id))
            return &c->pats[v - 1];
    }
}

static int pat_add(struct ctx *c, const char *id, struct pat **out)
{
    if ((c->npats + 1) * 2 > c->hashcap) {
        size_t cap = c->hashcap ? c->hashcap * 2 : 1024;
        uint32_t *h = calloc(cap, sizeof *h);
        if (!h)
            return -1;
        for (size_t k = 0; k < c->npats; k++) {
            size_t i = hash_str(c->pats[k].id) & (cap - 1);
            while (h[i])
                i = (i + 1) & (cap - 1);
            h[i] = (uint32_t)(k + 1);
        }
        free(c->hash);
        c->hash = h;
        c->hashcap = cap;
    }
    if (c->npats == c->cappats) {
        size_t cap = c->cappats ? c->cappats * 2 : 1024;
        if (cap > UINT32_MAX - 1)
            return -1;
        struct pat *np = realloc(c->pats, cap * sizeof *np);
        if (!np)
            return -1;
        c->pats = np;
        c->cappats = cap;
    }
    struct pat *p = &c->pats[c->npats];
    memset(p, 0, sizeof *p);
    p->id = strdup(id);
    if (!p->id)
        return -1;
    size_t i = hash_str(id) & (c->hashcap - 1);
    while (c->hash[i])
        i = (i + 1) & (c->hashcap - 1);
    c->hash[i] = (uint32_t)(c->npats + 1);
    c->npats++;
    p->a1c_t = p->sbp_t = p->dbp_t = T_NONE;
    p->county = COUNTY_UNKNOWN;
    p->county_rule = -1;
    *out = p;
    return 0;
}

/* Standard code of a [map.*] rule for s, or -1; a member's hit is counted. */
static int rule_code(struct ctx *c, const struct pat *p, int col, const char *s)
{
    int i = code_map_find(&c->map, col, s, s ? strlen(s) : 0);
    if (i < 0)
        return -1;
    if (p->member)
        code_map_hit(&c->map, col, i);
    return code_map_code(&c->map, col, i);
}

/* OMB race code of a CDC Race & Ethnicity code ([map.race] first), or -1. */
static int race_code(struct ctx *c, const struct pat *p, const char *code)
{
    static const struct { const char *code; int race; } omb[] = {
        {"1002-5", RACE_AIAN}, {"2028-9", RACE_ASIAN}, {"2054-5", RACE_BLACK},
        {"2076-8", RACE_NHPI}, {"2106-3", RACE_WHITE}, {"2131-1", RACE_OTHER},
        {"2118-8", RACE_MENA}, {"2119-6", RACE_MENA}, {"2120-4", RACE_MENA},
        {"2121-2", RACE_MENA}, {"2122-0", RACE_MENA}, {"2123-8", RACE_MENA},
        {"2124-6", RACE_MENA}, {"2125-3", RACE_MENA}, {"2126-1", RACE_MENA},
        {"2127-9", RACE_MENA}, {"2129-5", RACE_MENA},
        {"ASKU", RACE_DECLINED}, {"UNK", RACE_UNKNOWN},
    };
    if (!code)
        return -1;
    int r = rule_code(c, p, COL_RACE, code);
    if (r >= 0)
        return r;
    for (size_t i = 0; i < sizeof omb / sizeof omb[0]; i++)
        if (!strcmp(omb[i].code, code))
            return omb[i].race;
    return -1;
}

/* A coding of the race or ethnicity extension as a detailed race response
 * (race_detail.h; only when the catalog offers the stratifiers): a catalog
 * map entry, a detailed code of the table or a minimum category adds
 * itself; another coding whose race r (or ethnicity, eth) is a minimum
 * category adds that category, and a `detailed` coding the table lacks
 * marks the member's detailed responses unknown. Returns the race of the
 * coding: r, or the table code's race when r is unknown (-1). */
static int response(struct ctx *c, struct pat *p, const char *code, int r, int eth, int detailed)
{
    uint32_t d = 0;
    uint8_t m = 0;
    if (code && race_detail_lookup(&c->rdmaps, code, strlen(code), &d, &m) == 0) {
        p->rd_det |= d;
        p->rd_min |= m;
        unsigned races = m & RD_MIN_RACES;
        if (r < 0 && races && !(races & (races - 1)))
            r = __builtin_ctz(races);
        return r;
    }
    if (r >= RACE_AIAN && r <= RACE_WHITE)
        p->rd_min |= (uint8_t)(1u << r);
    if (eth == ETH_HISPANIC)
        p->rd_min |= 1u << RD_MIN_HISPANIC;
    if (detailed)
        p->rd_unk = 1;
    return r;
}

static void patient_race(struct ctx *c, struct pat *p, json_t *ext)
{
    int race = -1, any = 0, special = -1;
    const char *text = NULL;
    json_t *x;
    size_t i;
    json_array_foreach(json_object_get(ext, "extension"), i, x) {
        const char *u = str(x, "url");
        if (ieq(u, "text")) {
            text = str(x, "valueString");
            continue;
        }
        if (!ieq(u, "ombCategory") && !ieq(u, "detailed"))
            continue;
        any = 1;
        const char *code = str(json_object_get(x, "valueCoding"), "code");
        int r = race_code(c, p, code);
        if (c->rd_on)
            r = response(c, p, code, r, -1, ieq(u, "detailed"));
        if (r < 0) {
            p->miss_race = 1;
            continue;
        }
        if (r == RACE_DECLINED || r == RACE_UNKNOWN) {
            special = r;
            continue;
        }
        /* a detailed code of the same OMB category adds nothing */
        race = race < 0 || race == r ? r : RACE_MULTI;
    }
    if (race >= 0) {
        p->race = (uint8_t)race;
        return;
    }
    if (special >= 0) {
        p->race = (uint8_t)special;
        return;
    }
    if (!any && text) {
        int r = race_code(c, p, text);
        if (r >= 0) {
            p->race = (uint8_t)r;
            return;
        }
        p->miss_race = 1;
    }
    p->race = RACE_UNKNOWN;
}

/* Ethnicity code of a US Core ethnicity code ([map.ethnicity] first), or -1. */
static int eth_code(struct ctx *c, const struct pat *p, const char *code)
{
    if (!code)
        return -1;
    int v = rule_code(c, p, COL_ETHNICITY, code);
    if (v >= 0)
        return v;
    v = ieq(code, "2135-2") ? ETH_HISPANIC : ieq(code, "2186-5") ? ETH_NOT_HISPANIC
      : ieq(code, "ASKU") ? ETH_DECLINED : ieq(code, "UNK") ? ETH_UNKNOWN : -1;
    /* detailed Hispanic origins (2137-8 .. 2184-0) are Hispanic */
    int n;
    if (v < 0 && strlen(code) == 6 && code[4] == '-' && record_digits(code, 4, &n) == 0 && n >= 2137 &&
        n <= 2184)
        v = ETH_HISPANIC;
    return v;
}

static void patient_eth(struct ctx *c, struct pat *p, json_t *ext)
{
    json_t *x;
    size_t i;
    int e = -1, any = 0;
    const char *text = NULL;
    json_array_foreach(json_object_get(ext, "extension"), i, x) {
        const char *u = str(x, "url");
        if (ieq(u, "text")) {
            text = str(x, "valueString");
            continue;
        }
        if (!ieq(u, "ombCategory") && !ieq(u, "detailed"))
            continue;
        any = 1;
        const char *code = str(json_object_get(x, "valueCoding"), "code");
        int v = eth_code(c, p, code);
        if (c->rd_on)
            response(c, p, code, -1, v, ieq(u, "detailed"));
        if (v < 0) {
            p->miss_eth = 1;
            continue;
        }
        if (e < 0 || e == ETH_UNKNOWN || e == ETH_DECLINED)
            e = v;
    }
    if (!any && text && *text) {
        /* no coding: the text through [map.ethnicity] */
        e = rule_code(c, p, COL_ETHNICITY, text);
        p->miss_eth = e < 0;
    }
    p->eth = (uint8_t)(e < 0 ? ETH_UNKNOWN : e);
}

int fhir_county(const struct code_rule *rules, int nrules, const char *d, int *rule)
{
    *rule = -1;
    if (!d || !*d)
        return COUNTY_UNKNOWN;
    size_t n = strlen(d);
    int fips = 0;
    if (n == 5 && record_digits(d, 5, &fips) == 0 && fips > 0)
        return fips;
    for (int i = 0; i < nrules; i++) {
        const char *from = rules[i].from;
        size_t fl = strlen(from);
        if ((n == fl && !strncasecmp(d, from, n)) ||
            (n == fl + 7 && !strncasecmp(d, from, fl) && !strcasecmp(d + fl, " county"))) {
            int v = 0;
            if (record_digits(rules[i].to, 5, &v) < 0)
                continue; /* node_config checked: 5 digits */
            *rule = i;
            return v;
        }
    }
    return synthea_ca_county_fips(d, n);
}

static void patient_county(struct ctx *c, struct pat *p, json_t *res)
{
    json_t *addr = json_array_get(json_object_get(res, "address"), 0);
    const char *d = str(addr, "district");
    if (!d || !*d)
        return;
    p->county = fhir_county(c->o->county_rules, c->o->n_county_rules, d, &p->county_rule);
    p->miss_county = p->county == COUNTY_UNKNOWN;
    if (p->member)
        code_map_hit(&c->map, COL_COUNTY, p->county_rule);
}

uint16_t fhir_language(const char *tag)
{
    static const char *const two[][2] = {
        {"en", "eng"}, {"es", "spa"}, {"zh", "zho"}, {"vi", "vie"}, {"tl", "tgl"}, {"ko", "kor"},
        {"ru", "rus"}, {"ar", "ara"}, {"hy", "hye"}, {"fa", "fas"}, {"ja", "jpn"}, {"hi", "hin"},
        {"pa", "pan"}, {"fr", "fra"}, {"de", "deu"}, {"pt", "por"}, {"it", "ita"}, {"pl", "pol"},
        {"km", "khm"}, {"th", "tha"}, {"uk", "ukr"}, {"ht", "hat"}, {"so", "som"}, {"am", "amh"},
        {"bn", "ben"}, {"ur", "urd"}, {"gu", "guj"}, {"lo", "lao"},
    };
    if (!tag)
        return LANG_UNKNOWN;
    size_t n = strcspn(tag, "-_");
    if (n == 3) {
        int v = record_lang_pack(tag, 3);
        return v < 0 ? LANG_UNKNOWN : (uint16_t)v;
    }
    for (size_t i = 0; n == 2 && i < sizeof two / sizeof two[0]; i++)
        if (!strncasecmp(tag, two[i][0], 2))
            return (uint16_t)record_lang_pack(two[i][1], 3);
    return LANG_UNKNOWN;
}

/* communication.language: each coding's code, then the text, through
 * [map.language]; else the first coding's code as BCP 47 or ISO 639-3. */
static void patient_language(struct ctx *c, struct pat *p, json_t *lc)
{
    json_t *x, *codings = json_object_get(lc, "coding");
    size_t i;
    json_array_foreach(codings, i, x) {
        int v = rule_code(c, p, COL_LANGUAGE, str(x, "code"));
        if (v >= 0) {
            p->lang = (uint16_t)v;
            return;
        }
    }
    const char *text = str(lc, "text");
    int v = rule_code(c, p, COL_LANGUAGE, text);
    if (v >= 0) {
        p->lang = (uint16_t)v;
        return;
    }
    const char *code = str(json_array_get(codings, 0), "code");
    p->lang = fhir_language(code);
    /* a value given that is neither a known tag nor "und" */
    p->miss_lang = p->lang == LANG_UNKNOWN && ((code && *code && !ieq(code, "und")) ||
                                               (!code && text && *text));
}

static int on_patient(struct ctx *c, json_t *res)
{
    c->prof->rows_read++;
    const char *id = str(res, "id");
    if (!id || !*id)
        return bad(c, BAD_TYPE, "id", "missing");
    if (pat_find(c, id))
        return bad(c, BAD_DUPLICATE, "id", "patient listed twice");
    int64_t birth, death = T_OPEN;
    int by;
    const char *bd = str(res, "birthDate");
    if (!bd || fhir_time(bd, &birth, &by) < 0)
        return bad(c, BAD_TYPE, "birthDate", "missing or not a date");
    int dr = get_time(res, "deceasedDateTime", &death);
    if (dr < 0)
        return bad(c, BAD_TYPE, "deceasedDateTime", "not a dateTime");
    if (dr > 0)
        death = (death / DAY) * DAY + DAY; /* the day of death counts as lived */
    if (death <= birth)
        return bad(c, BAD_INCONSISTENT, "deceasedDateTime", "before birthDate");
    struct pat *p;
    if (pat_add(c, id, &p) < 0)
        return fatal(c, "out of memory");
    p->member = birth < c->y1 && death > c->y0;
    const char *g = str(res, "gender");
    int sex = rule_code(c, p, COL_SEX, g);
    if (sex < 0 && g && *g) {
        sex = ieq(g, "female") ? SEX_F : ieq(g, "male") ? SEX_M : ieq(g, "other") ? SEX_X
            : ieq(g, "unknown") ? SEX_U : -1;
        p->miss_sex = sex < 0;
    }
    p->sex = (uint8_t)(sex < 0 ? SEX_U : sex);
    p->race = RACE_UNKNOWN;
    p->eth = ETH_UNKNOWN;
    json_t *x;
    size_t i;
    json_array_foreach(json_object_get(res, "extension"), i, x) {
        const char *u = str(x, "url");
        if (u && strstr(u, "us-core-race"))
            patient_race(c, p, x);
        else if (u && strstr(u, "us-core-ethnicity"))
            patient_eth(c, p, x);
        else if (u && strstr(u, "us-core-genderIdentity") && !p->gi) {
            /* US Core up to 5: an extension of Patient (an Observation wins) */
            int v = identity_cc(json_object_get(x, "valueCodeableConcept"), S_GENDER_IDENTITY);
            p->gi = (uint8_t)(v >= 0 ? v + 1 : 0);
            p->gi_t = T_NONE;
        }
    }
    patient_county(c, p, res);
    json_t *best = NULL;
    json_array_foreach(json_object_get(res, "communication"), i, x)
        if (!best || json_is_true(json_object_get(x, "preferred")))
            if (!best || !json_is_true(json_object_get(best, "preferred")))
                best = x;
    if (best)
        patient_language(c, p, json_object_get(best, "language"));
    p->alive_from = birth > c->y0 ? birth : c->y0;
    p->alive_to = death < c->y1 ? death : c->y1;
    p->age = c->o->year - by;
    if (p->age > 120)
        p->age = -1;
    return 0;
}

static struct pat *subject(struct ctx *c, json_t *res, const char *key, int *stop)
{
    *stop = 0;
    const char *id = ref_id(json_object_get(res, key));
    struct pat *p = pat_find(c, id);
    if (!p && bad(c, BAD_INCONSISTENT, key, id ? "not a Patient of the export" : "missing") < 0)
        *stop = 1;
    return p && p->member ? p : NULL;
}

/* ---- the other resources ------------------------------------------------------ */

int fhir_payer_sopt(const char *code)
{
    if (!code || !*code)
        return -1;
    switch (code[0]) {
    case '1': return PAYER_MEDICARE;
    case '2': return PAYER_MEDICAID;
    case '5': case '6': case '7': return PAYER_COMMERCIAL;
    case '8': return PAYER_UNINSURED;
    default: return PAYER_OTHER;
    }
}

int fhir_payer_text(const char *t)
{
    if (!t || !*t)
        return -1;
    if (ieq(t, "Medicaid"))
        return PAYER_MEDICAID;
    if (ieq(t, "Medicare"))
        return PAYER_MEDICARE;
    if (ieq(t, "Dual Eligible"))
        return PAYER_DUAL;
    if (ieq(t, "NO_INSURANCE") || ieq(t, "self-pay") || ieq(t, "uninsured"))
        return PAYER_UNINSURED;
    return PAYER_COMMERCIAL;
}

/* Coverage: [map.payer] on type's coding codes, type.text and the payor's
 * display; else SOPT by first digit, else the text. */
static int payer_of(struct ctx *c, json_t *res)
{
    json_t *type = json_object_get(res, "type"), *x;
    size_t i;
    const char *t = str(type, "text");
    const char *payor = str(json_array_get(json_object_get(res, "payor"), 0), "display");
    int k = -1;
    json_array_foreach(json_object_get(type, "coding"), i, x)
        if (k < 0)
            k = code_map_find(&c->map, COL_PAYER, str(x, "code"), str(x, "code") ? strlen(str(x, "code")) : 0);
    if (k < 0 && t)
        k = code_map_find(&c->map, COL_PAYER, t, strlen(t));
    if (k < 0 && payor)
        k = code_map_find(&c->map, COL_PAYER, payor, strlen(payor));
    if (k >= 0) {
        code_map_hit(&c->map, COL_PAYER, k);
        return code_map_code(&c->map, COL_PAYER, k);
    }
    json_array_foreach(json_object_get(type, "coding"), i, x) {
        const char *sys = str(x, "system"), *code = str(x, "code");
        if (code && sys && (strstr(sys, "sopt") || strstr(sys, "2.16.840.1.113883.3.221.5")))
            return fhir_payer_sopt(code);
    }
    return fhir_payer_text(t ? t : payor);
}

static int on_coverage(struct ctx *c, json_t *res)
{
    int stop;
    struct pat *p = subject(c, res, "beneficiary", &stop);
    if (!p)
        return stop ? -1 : 0;
    json_t *per = json_object_get(res, "period");
    int64_t a = INT64_MIN, b = T_OPEN;
    if (get_time(per, "start", &a) < 0 || get_time(per, "end", &b) < 0)
        return bad(c, BAD_TYPE, "period", "not a dateTime");
    if (b < a)
        return bad(c, BAD_INCONSISTENT, "period", "end before start");
    int code = payer_of(c, res);
    if (code < 0)
        return bad(c, BAD_CODE, "type", "no payer type");
    if (a < p->alive_from)
        a = p->alive_from;
    if (b > p->alive_to)
        b = p->alive_to;
    if (b > a)
        p->cov[code] += b - a;
    return 0;
}

static int is_wellness(json_t *res)
{
    static const char *const codes[] = {"410620009", "162673000", "99381", "99382", "99383",
                                        "99384", "99385", "99386", "99387", "99391", "99392",
                                        "99393", "99394", "99395", "99396", "99397"};
    json_t *x;
    size_t i;
    json_array_foreach(json_object_get(res, "type"), i, x)
        for (size_t k = 0; k < sizeof codes / sizeof codes[0]; k++)
            if (has_code(x, codes[k]))
                return 1;
    return 0;
}

static int on_encounter(struct ctx *c, json_t *res)
{
    const char *st = str(res, "status");
    if (ieq(st, "cancelled") || ieq(st, "entered-in-error"))
        return 0;
    int stop;
    struct pat *p = subject(c, res, "subject", &stop);
    if (!p)
        return stop ? -1 : 0;
    json_t *per = json_object_get(res, "period");
    int64_t start, end;
    int r = get_time(per, "start", &start);
    if (r <= 0)
        return bad(c, BAD_TYPE, "period.start", r ? "not a dateTime" : "missing");
    if (start < c->y0 || start >= c->y1)
        return 0;
    const char *cl = str(json_object_get(res, "class"), "code");
    if (!cl)
        return bad(c, BAD_CODE, "class", "missing");
    if (ieq(cl, "IMP") || ieq(cl, "ACUTE") || ieq(cl, "NONAC")) {
        end = start;
        if (get_time(per, "end", &end) < 0)
            return bad(c, BAD_TYPE, "period.end", "not a dateTime");
        if (end < start)
            return bad(c, BAD_INCONSISTENT, "period.end", "before period.start");
        if (p->nstays == p->capstays) {
            uint32_t cap = p->capstays ? p->capstays * 2 : 4;
            struct stay *s = realloc(p->stays, cap * sizeof *s);
            if (!s)
                return fatal(c, "out of memory");
            p->stays = s;
            p->capstays = cap;
        }
        p->stays[p->nstays].start = start;
        p->stays[p->nstays].stop = end;
        p->nstays++;
    } else if (ieq(cl, "EMER")) {
        p->ed++;
    } else if (ieq(cl, "AMB")) {
        if (is_wellness(res))
            p->wellness = 1;
        else
            p->pc++;
    } else if (ieq(cl, "VR")) {
        p->tele++;
    }
    return 0;
}

static int on_condition(struct ctx *c, json_t *res)
{
    json_t *vs = json_object_get(res, "verificationStatus");
    if (has_code(vs, "entered-in-error") || has_code(vs, "refuted"))
        return 0;
    json_t *code = json_object_get(res, "code"), *x;
    size_t i;
    int diab = 0, htn = 0;
    uint32_t ccc = 0;
    json_array_foreach(json_object_get(code, "coding"), i, x) {
        const char *k = str(x, "code");
        if (!k)
            continue;
        diab |= ieq(k, "44054006") || !strncasecmp(k, "E10", 3) || !strncasecmp(k, "E11", 3) ||
                !strncasecmp(k, "E13", 3);
        htn |= ieq(k, "59621000") || ieq(k, "38341003") || !strncasecmp(k, "I10", 3);
        if (c->o->ccc)
            ccc |= ccc_classify(c->o->ccc, k, strlen(k));
    }
    if (!diab && !htn && !ccc)
        return 0;
    int stop;
    struct pat *p = subject(c, res, "subject", &stop);
    if (!p)
        return stop ? -1 : 0;
    int64_t on, off = T_OPEN;
    int r = get_time(res, "onsetDateTime", &on);
    if (r == 0)
        r = get_time(res, "recordedDate", &on);
    if (r <= 0)
        return bad(c, BAD_TYPE, "onsetDateTime", r ? "not a dateTime" : "missing (and no recordedDate)");
    if (get_time(res, "abatementDateTime", &off) < 0)
        return bad(c, BAD_TYPE, "abatementDateTime", "not a dateTime");
    if (on < c->y1 && off >= c->y0) {
        p->diabetes |= (uint8_t)diab;
        p->htn |= (uint8_t)htn;
        p->ccc |= ccc;
    }
    return 0;
}

static const char *const hrsn_codes[] = {
    /* PRAPARE (93025-5) items */
    "93025-5", "32624-9", "54899-0", "56051-6", "63512-8", "63586-2", "67875-5", "71802-3",
    "76437-3", "76501-6", "82589-3", "93026-3", "93027-1", "93028-9", "93029-7", "93030-5",
    "93031-3", "93033-9", "93034-7", "93035-4", "93038-8", "93043-8",
    /* AHC HRSN (96777-8) items */
    "96777-8", "96778-6", "88122-7", "88123-5", "96779-4", "95618-5", "95617-7", "95616-9",
    "95615-1",
};

/* Positive answers: PRAPARE as for Synthea (synthea.c, prapare_positive);
 * AHC: food "Often true"/"Sometimes true", utilities "Yes"/"Already shut
 * off", housing problems anything but "None of the above", safety any
 * answer but "Never". Refusals are never positive. */
void fhir_hrsn_positive(struct hrsn_flags *p, const char *code, const char *v)
{
    if (!v || !code)
        return;
    if (!strcmp(code, "71802-3")) {
        if (!strncasecmp(v, "I do not have", 13) || strstr(v, "worried about"))
            p->housing = 1;
    } else if (!strcmp(code, "93033-9")) {
        p->housing |= ieq(v, "Yes");
    } else if (!strcmp(code, "93031-3")) {
        p->food |= ieq(v, "Food");
        p->utilities |= ieq(v, "Utilities");
    } else if (!strcmp(code, "93030-5")) {
        p->transport |= !strncasecmp(v, "Yes", 3);
    } else if (!strcmp(code, "93026-3")) {
        p->safety |= ieq(v, "No");
    } else if (!strcmp(code, "88122-7") || !strcmp(code, "88123-5")) {
        p->food |= ieq(v, "Often true") || ieq(v, "Sometimes true");
    } else if (!strcmp(code, "96779-4")) {
        p->utilities |= ieq(v, "Yes") || ieq(v, "Already shut off");
    } else if (!strcmp(code, "96778-6")) {
        p->housing |= !ieq(v, "None of the above") && strncasecmp(v, "I choose not", 12) != 0;
    } else if (!strncmp(code, "9561", 4)) {
        p->safety |= !ieq(v, "Never") && strncasecmp(v, "I choose not", 12) != 0;
    }
}

const char *fhir_hrsn_code(size_t i)
{
    return i < sizeof hrsn_codes / sizeof hrsn_codes[0] ? hrsn_codes[i] : NULL;
}

int fhir_hrsn_item(const char *code)
{
    for (size_t i = 0; code && i < sizeof hrsn_codes / sizeof hrsn_codes[0]; i++)
        if (!strcmp(code, hrsn_codes[i]))
            return 1;
    return 0;
}

static int quantity(json_t *o, double *x)
{
    json_t *v = json_object_get(json_object_get(o, "valueQuantity"), "value");
    if (!json_is_number(v))
        return -1;
    *x = json_number_value(v);
    return isfinite(*x) && *x >= 0 ? 0 : -1;
}

static void keep_latest(int64_t t, double x, int64_t *pt, double *px)
{
    if (t >= *pt) {
        *pt = t;
        *px = x;
    }
}

/* The identity code (catalog.h) of a CodeableConcept: the first coding
 * whose code is a standard code of stratifier s (SNOMED CT, LOINC answer,
 * NullFlavor, data-absent-reason), else its text; -1 when none is. */
static int identity_cc(json_t *cc, int s)
{
    json_t *x;
    size_t i;
    json_array_foreach(json_object_get(cc, "coding"), i, x) {
        const char *code = str(x, "code");
        int v = code ? catalog_identity_code(s, code, strlen(code)) : -1;
        if (v >= 0)
            return v;
    }
    const char *t = str(cc, "text");
    return t ? catalog_identity_code(s, t, strlen(t)) : -1;
}

/* US Core sexual orientation (LOINC 76690-7) and gender identity (76691-5)
 * Observations: the latest one effective before the end of the year wins
 * (a status, not an event of the year). A value that is no code of the
 * stratifier leaves the member UNKNOWN. Returns 1 when res is one. */
static int identity_observation(struct ctx *c, json_t *res, json_t *code)
{
    int so = has_code(code, "76690-7"), gi = has_code(code, "76691-5");
    if (!so && !gi)
        return 0;
    int stop;
    struct pat *p = subject(c, res, "subject", &stop);
    if (!p)
        return stop ? -1 : 1;
    int64_t t;
    int r = get_time(res, "effectiveDateTime", &t);
    if (r == 0)
        r = get_time(res, "issued", &t);
    if (r <= 0 || t >= c->y1)
        return 1;
    int v = identity_cc(json_object_get(res, "valueCodeableConcept"),
                        so ? S_SEXUAL_ORIENTATION : S_GENDER_IDENTITY);
    uint8_t *dst = so ? &p->so : &p->gi;
    int64_t *dt = so ? &p->so_t : &p->gi_t;
    if (v >= 0 && (*dst == 0 || t >= *dt)) {
        *dst = (uint8_t)(v + 1);
        *dt = t;
    }
    return 1;
}

static int on_observation(struct ctx *c, json_t *res)
{
    const char *st = str(res, "status");
    if (ieq(st, "entered-in-error") || ieq(st, "cancelled"))
        return 0;
    json_t *code = json_object_get(res, "code");
    int idr = identity_observation(c, res, code);
    if (idr != 0)
        return idr < 0 ? -1 : 0;
    int a1c = has_code(code, "4548-4"), bp = has_code(code, "85354-9");
    int sbp = has_code(code, "8480-6"), dbp = has_code(code, "8462-4");
    const char *hrsn = NULL;
    for (size_t i = 0; !hrsn && i < sizeof hrsn_codes / sizeof hrsn_codes[0]; i++)
        if (has_code(code, hrsn_codes[i]))
            hrsn = hrsn_codes[i];
    if (!a1c && !bp && !sbp && !dbp && !hrsn)
        return 0;
    int stop;
    struct pat *p = subject(c, res, "subject", &stop);
    if (!p)
        return stop ? -1 : 0;
    int64_t t;
    int r = get_time(res, "effectiveDateTime", &t);
    if (r == 0)
        r = get_time(res, "issued", &t);
    if (r <= 0)
        return bad(c, BAD_TYPE, "effectiveDateTime", r ? "not a dateTime" : "missing");
    if (t < c->y0 || t >= c->y1)
        return 0;
    double x;
    if (hrsn) {
        p->screened = 1;
        fhir_hrsn_positive(&p->h, hrsn, answer(res));
        json_t *comp;
        size_t i;
        json_array_foreach(json_object_get(res, "component"), i, comp)
            for (size_t k = 0; k < sizeof hrsn_codes / sizeof hrsn_codes[0]; k++)
                if (has_code(json_object_get(comp, "code"), hrsn_codes[k]))
                    fhir_hrsn_positive(&p->h, hrsn_codes[k], answer(comp));
        return 0;
    }
    if (a1c || sbp || dbp) {
        if (quantity(res, &x) < 0)
            return bad(c, BAD_TYPE, "valueQuantity", "not a number >= 0");
        if (a1c)
            keep_latest(t, x, &p->a1c_t, &p->a1c);
        else if (sbp)
            keep_latest(t, x, &p->sbp_t, &p->sbp);
        else
            keep_latest(t, x, &p->dbp_t, &p->dbp);
        return 0;
    }
    json_t *comp;
    size_t i;
    json_array_foreach(json_object_get(res, "component"), i, comp) {
        json_t *cc = json_object_get(comp, "code");
        int s = has_code(cc, "8480-6"), d = has_code(cc, "8462-4");
        if (!s && !d)
            continue;
        if (quantity(comp, &x) < 0)
            return bad(c, BAD_TYPE, "component.valueQuantity", "not a number >= 0");
        if (s)
            keep_latest(t, x, &p->sbp_t, &p->sbp);
        else
            keep_latest(t, x, &p->dbp_t, &p->dbp);
    }
    return 0;
}

static int on_eob(struct ctx *c, json_t *res)
{
    int stop;
    struct pat *p = subject(c, res, "patient", &stop);
    if (!p)
        return stop ? -1 : 0;
    int64_t t;
    int r = get_time(json_object_get(res, "billablePeriod"), "start", &t);
    if (r == 0)
        r = get_time(res, "created", &t);
    if (r <= 0)
        return bad(c, BAD_TYPE, "billablePeriod.start", r ? "not a dateTime" : "missing (and no created)");
    if (t < c->y0 || t >= c->y1)
        return 0;
    json_t *totals = json_object_get(res, "total"), *x, *pick = NULL;
    size_t i;
    json_array_foreach(totals, i, x)
        if (has_code(json_object_get(x, "category"), "eligible"))
            pick = x;
    if (!pick)
        json_array_foreach(totals, i, x)
            if (!pick && has_code(json_object_get(x, "category"), "submitted"))
                pick = x;
    if (!pick)
        pick = json_array_get(totals, 0);
    if (!pick)
        return 0;
    json_t *v = json_object_get(json_object_get(pick, "amount"), "value");
    double amt = json_is_number(v) ? json_number_value(v) : -1;
    if (!isfinite(amt) || amt < 0 || amt > 1e12)
        return bad(c, BAD_RANGE, "total.amount.value", "not an amount 0..1e12");
    /* whole cents: JSON gives a double, so a third decimal shows as a
     * remainder far above the double's own rounding (1.005 -> 100.5) */
    double cents = amt * 100.0;
    if (fabs(cents - (double)llround(cents)) > 1e-3)
        return bad(c, BAD_TYPE, "total.amount.value", "has more than 2 decimals (whole cents)");
    p->cost_cents += llround(cents);
    return 0;
}

/* ---- files ---------------------------------------------------------------- */

typedef int (*on_fn)(struct ctx *, json_t *);
static const on_fn handlers[R__COUNT] = {on_patient, on_coverage, on_encounter, on_condition,
                                         on_observation, on_eob};

static int read_file(struct ctx *c, const char *dir, const char *name, int type)
{
    snprintf(c->path, sizeof c->path, "%s/%s", dir, name);
    c->fname = name;
    c->line = 0;
    gzFile gz = gzopen(c->path, "rb");
    if (!gz)
        return fatal(c, "%s: %s", c->path, strerror(errno ? errno : ENOMEM));
    gzbuffer(gz, 256 * 1024);
    size_t cap = 64 * 1024, len = 0;
    char *buf = malloc(cap);
    int rc = -1;
    if (!buf) {
        fatal(c, "out of memory");
        goto out;
    }
    for (;;) {
        len = 0;
        int eof = 0;
        for (;;) {
            if (!gzgets(gz, buf + len, (int)(cap - len))) {
                eof = 1;
                break;
            }
            len += strlen(buf + len);
            if (len && buf[len - 1] == '\n')
                break;
            if (len + 1 < cap)
                continue; /* a NUL inside the line: strlen stopped early */
            if (cap >= MAX_LINE) {
                fatal(c, "%s:%llu: line longer than 16 MiB", c->path, (unsigned long long)c->line + 1);
                goto out;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                fatal(c, "out of memory");
                goto out;
            }
            buf = nb;
            cap *= 2;
        }
        int zerr;
        const char *zmsg = gzerror(gz, &zerr);
        if (zerr != Z_OK && zerr != Z_STREAM_END) {
            fatal(c, "%s:%llu: %s", c->path, (unsigned long long)c->line + 1,
                  zerr == Z_ERRNO ? strerror(errno) : zmsg);
            goto out;
        }
        if (eof && len == 0)
            break;
        c->line++;
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
            len--;
        if (len == 0)
            continue; /* blank lines carry nothing */
        json_error_t je;
        json_t *res = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
        int r = 0;
        if (!res) {
            /* je.text can quote the input: only the position is reported */
            r = bad(c, BAD_QUOTING, "", "not JSON (column %d)", je.column);
        } else if (!json_is_object(res)) {
            r = bad(c, BAD_TYPE, "", "not a JSON object");
        } else if (!ieq(str(res, "resourceType"), rtype[type])) {
            r = bad(c, BAD_TYPE, "resourceType", "not %s", rtype[type]);
        } else {
            r = handlers[type](c, res);
        }
        json_decref(res);
        if (r < 0 || c->stop)
            goto out;
        if (eof)
            break;
    }
    rc = 0;
out:
    free(buf);
    gzclose(gz);
    return rc;
}

/* Resource type of a Bulk Data file name, or -1: a dot-separated part
 * equal to the type, and the name ends in .ndjson or .ndjson.gz. */
static int file_type(const char *name)
{
    size_t n = strlen(name);
    if (!((n > 7 && !strcmp(name + n - 7, ".ndjson")) || (n > 10 && !strcmp(name + n - 10, ".ndjson.gz"))))
        return -1;
    for (int t = 0; t < R__COUNT; t++) {
        size_t tl = strlen(rtype[t]);
        for (const char *s = name; (s = strstr(s, rtype[t])); s += tl)
            if ((s == name || s[-1] == '.') && s[tl] == '.')
                return t;
    }
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint32_t readmissions(const struct pat *p)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < p->nstays; i++)
        for (uint32_t j = 0; j < p->nstays; j++) {
            if (j == i)
                continue;
            int64_t gap = p->stays[j].start - p->stays[i].stop;
            if (gap >= 0 && gap <= 30 * DAY) {
                k++;
                break;
            }
        }
    return k;
}

static void build(const struct ctx *c, const struct pat *p, struct member_record *m)
{
    memset(m, 0, sizeof *m);
    m->age = (int16_t)p->age;
    m->sex = p->sex;
    m->race = p->race;
    m->ethnicity = p->eth;
    m->disability = YNU_U;
    m->cmc = YNU_U;
    if (c->o->ccc && p->age >= 0 && p->age < CCC_AGE_LIMIT)
        m->cmc = p->ccc ? YNU_Y : YNU_N;
    m->county = p->county;
    m->language = p->lang;
    record_set_coverage(m, p->cov, PAYER__COUNT, p->alive_to - p->alive_from, c->y1 - c->y0);
    m->ed_visits = p->ed;
    m->ip_admits = p->nstays;
    m->ip_readmits_30d = readmissions(p);
    m->primary_care_visits = p->pc;
    m->telehealth_visits = p->tele;
    m->wellness_visit = p->wellness;
    m->diabetes = p->diabetes;
    m->hypertension = p->htn;
    m->hba1c_poor_control = p->diabetes && (p->a1c_t == T_NONE || p->a1c > 9.0);
    m->bp_controlled = p->htn && p->sbp_t != T_NONE && p->dbp_t != T_NONE && p->sbp < 140.0 && p->dbp < 90.0;
    m->hrsn_screened = p->screened;
    m->hrsn_food = p->h.food;
    m->hrsn_housing = p->h.housing;
    m->hrsn_transport = p->h.transport;
    m->hrsn_utilities = p->h.utilities;
    m->hrsn_safety = p->h.safety;
    m->sexual_orientation = p->so; /* 0: UNKNOWN */
    m->gender_identity = p->gi;
    m->total_cost = p->cost_cents;
}

/* The member's detailed responses by the rule of every source
 * (race_detail_settle): an unknown race or ethnicity is derived from
 * them; responses that contradict race or ethnicity are left out. */
static void build_race_detail(struct profile *prof, const struct pat *p, struct member_record *m)
{
    if (!p->rd_min)
        return;
    int race = m->race, eth = m->ethnicity;
    const char *what;
    if (race_detail_settle(p->rd_min, 1, 1, &race, &eth, &what) < 0) {
        prof->race_detail_dropped++;
        return;
    }
    prof->race_detail_members++;
    m->race = (uint8_t)race;
    m->ethnicity = (uint8_t)eth;
    m->race_det = p->rd_unk ? 0 : p->rd_det;
    m->race_min = p->rd_min;
}

int fhir_read(const char *dir, const struct fhir_options *o, record_sink_fn sink,
              void *sink_ctx, struct profile *prof, char *err, size_t errlen)
{
    struct ctx c;
    char *names[MAX_FILES];
    int types[MAX_FILES], nnames = 0, rc = -1;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.prof = prof;
    c.err = err;
    c.errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
    if (!dir || !o || !sink || !prof)
        return fatal(&c, "fhir: missing argument");
    if (o->year < 1900 || o->year > 2200)
        return fatal(&c, "fhir: year %d out of range 1900..2200", o->year);
    c.y0 = record_days_from_civil(o->year, 1, 1) * DAY;
    c.y1 = record_days_from_civil(o->year + 1, 1, 1) * DAY;
    snprintf(prof->source, sizeof prof->source, "%s", dir);
    snprintf(prof->period_seen, sizeof prof->period_seen, "%d", o->year);
    static const int cols[] = {COL_COUNTY, COL_RACE, COL_ETHNICITY, COL_SEX, COL_LANGUAGE, COL_PAYER};
    char e[200];
    if (code_map_init_split(&c.map, o->rules, o->n_rules, o->county_rules, o->n_county_rules, cols,
                            sizeof cols / sizeof cols[0], prof, e, sizeof e) != 0) {
        fatal(&c, "fhir: %s", e);
        goto out;
    }
    c.rd_on = race_detail_wanted();
    if (c.rd_on && race_detail_maps_compile(&c.rdmaps, catalog_active(), e, sizeof e) < 0) {
        fatal(&c, "fhir: %s", e);
        goto out;
    }
    DIR *d = opendir(dir);
    if (!d)
        return fatal(&c, "%s: %s", dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d))) {
        int t = file_type(de->d_name);
        if (t < 0)
            continue;
        if (nnames == MAX_FILES) {
            fatal(&c, "%s: more than %d NDJSON files", dir, MAX_FILES);
            closedir(d);
            goto out;
        }
        names[nnames] = strdup(de->d_name);
        if (!names[nnames]) {
            fatal(&c, "out of memory");
            closedir(d);
            goto out;
        }
        types[nnames++] = t;
    }
    closedir(d);
    /* names sorted, so that a split export (Patient.000, .001) is read in order */
    for (int i = 0; i < nnames; i++)
        for (int j = i + 1; j < nnames; j++)
            if (cmp_str(&names[j], &names[i]) < 0) {
                char *tn = names[i];
                names[i] = names[j];
                names[j] = tn;
                int tt = types[i];
                types[i] = types[j];
                types[j] = tt;
            }
    for (int t = 0; t < R__COUNT; t++)
        for (int i = 0; i < nnames; i++)
            if (types[i] == t) {
                c.seen[t] = 1;
                if (read_file(&c, dir, names[i], t) != 0)
                    goto out;
            }
    if (!c.seen[R_PATIENT]) {
        fatal(&c, "%s: no Patient NDJSON file (Patient.ndjson or Patient.*.ndjson[.gz])", dir);
        goto out;
    }
    char why[256] = "FHIR Bulk Data has no appointments (no_show) or experience survey";
    prof->unavailable_measures |= 1u << M_NO_SHOW | 1u << M_EXPERIENCE;
    if (!c.seen[R_OBSERVATION]) {
        for (int m = M_HRSN_SCREENING; m <= M_HRSN_ANY; m++)
            prof->unavailable_measures |= 1u << m;
        prof->unavailable_measures |= 1u << M_DIABETES_POOR_CONTROL | 1u << M_BP_CONTROL;
        strncat(why, "; no Observation file (diabetes_poor_control, bp_control, hrsn_*)", sizeof why - strlen(why) - 1);
    }
    if (!c.seen[R_EOB]) {
        prof->unavailable_measures |= 1u << M_COST_PMPM;
        strncat(why, "; no ExplanationOfBenefit file (cost_pmpm)", sizeof why - strlen(why) - 1);
    }
    if (!c.seen[R_ENCOUNTER]) {
        prof->unavailable_measures |= 1u << M_ED_RATE | 1u << M_IP_RATE | 1u << M_READMIT_30D |
                                      1u << M_WELLNESS | 1u << M_TELEHEALTH_SHARE;
        strncat(why, "; no Encounter file (ed_rate, ip_rate, readmit_30d, wellness, telehealth_share)",
                sizeof why - strlen(why) - 1);
    }
    snprintf(prof->unavailable_why, sizeof prof->unavailable_why, "%s", why);
    for (size_t i = 0; i < c.npats; i++) {
        const struct pat *p = &c.pats[i];
        if (!p->member)
            continue;
        struct member_record m;
        build(&c, p, &m);
        if (c.rd_on)
            build_race_detail(prof, p, &m);
        prof->map_misses[COL_RACE] += p->miss_race;
        prof->map_misses[COL_ETHNICITY] += p->miss_eth;
        prof->map_misses[COL_COUNTY] += p->miss_county;
        prof->map_misses[COL_SEX] += p->miss_sex;
        prof->map_misses[COL_LANGUAGE] += p->miss_lang;
        if (o->ccc)
            profile_count_ccc(prof, m.cmc, p->ccc);
        prof->rows_accepted++;
        sink(sink_ctx, &m, +1);
    }
    rc = 0;
out:
    for (int i = 0; i < nnames; i++)
        free(names[i]);
    for (size_t i = 0; i < c.npats; i++) {
        free(c.pats[i].id);
        free(c.pats[i].stays);
    }
    free(c.pats);
    free(c.hash);
    code_map_free(&c.map);
    return rc;
}
