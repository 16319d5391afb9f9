/*
 * gen_sources.c - equity-gen-sources: writes the same synthetic people as a
 * member-level extract CSV (extract.md) and as a FHIR R4 Bulk Data export
 * (NDJSON), so that a test can check that the node's cells from both are
 * equal, and a benchmark can time the FHIR reader.
 *
 *   equity-gen-sources --persons N --seed S --csv FILE --fhir DIR [--gzip] [--junk]
 *                      [--omop DIR --omop-csv FILE]
 *
 * The CSV holds what each person's record must be for calendar year 2023,
 * computed here from the events this program chose (not from the FHIR
 * text): member months from the coverage spans clipped to the days alive
 * (seconds x 12 / seconds in the year, per payer, most months wins, capped
 * at the months alive; no coverage = UNINSURED for the months alive),
 * visit counts by class, readmissions, the latest HbA1c and blood pressure,
 * screening answers, cmc from the CCC v2 codes given to children, costs in
 * cents. People who died before 2023 or are born after it are written to
 * FHIR only. --junk adds malformed lines (counted by the reader, never
 * tallied).
 *
 * --omop DIR writes the same people as OMOP CDM 5.4 tables (tab-separated,
 * for COPY: person, location, death, observation_period, payer_plan_period,
 * visit_occurrence, procedure_occurrence, cost, condition_occurrence,
 * measurement, observation, and a small vocabulary: concept,
 * concept_ancestor), and --omop-csv the extract those people must give
 * through the OMOP mapping: member months from observation periods (one per
 * coverage span, or one spanning the life of someone without coverage),
 * language unknown (no preferred-language answer; see --local-codes), the rest as
 * for FHIR. Race and ethnicity not in the OMB concepts are written as
 * source values that the test's [map.race] / [map.ethnicity] rules map.
 *
 * --local-codes writes, for every other person (odd index), local codes
 * that only the configuration's maps make standard, the CSVs unchanged:
 * FHIR gender "W" for female ([map.sex] W = F), ethnicity code "HISP" for
 * 2135-2 ([map.ethnicity] HISP = HISPANIC), language code "ESP" for "es"
 * ([map.language] ESP = spa; without it "esp" would pass as ISO 639-3) and
 * Coverage type text "Medi-Cal" for SOPT 2 ([map.payer] Medi-Cal =
 * MEDICAID); OMOP gender_concept_id 0 with gender_source_value "W",
 * payer_concept_id 0 with payer_source_value "Medi-Cal", and for those
 * screened in the year a PRAPARE preferred-language answer (LOINC 54899-0)
 * "Espanol" ([map.language] Espanol = spa; the OMOP CSV then says spa).
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define DAY 86400LL
#define YEAR 2023

static uint64_t rs;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}
static int pick(int n) { return (int)(rnd() % (uint64_t)n); }
static int chance(int pct) { return pick(100) < pct; }

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* day number -> "YYYY-MM-DD" */
static void ymd(int64_t z, char out[16])
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    snprintf(out, 16, "%04d-%02d-%02d", (int)(y + (m <= 2)), (int)m, (int)d);
}

struct out {
    gzFile gz;
    FILE *f;
};

static void w(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w(struct out *o, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf) {
        fprintf(stderr, "gen: line too long\n");
        exit(3);
    }
    if (o->gz)
        gzwrite(o->gz, buf, (unsigned)n);
    else
        fwrite(buf, 1, (size_t)n, o->f);
}

static void open_out(struct out *o, const char *dir, const char *name, int gzip)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.ndjson%s", dir, name, gzip ? ".gz" : "");
    memset(o, 0, sizeof *o);
    if (gzip)
        o->gz = gzopen(path, "wb6");
    else
        o->f = fopen(path, "w");
    if (!o->gz && !o->f) {
        fprintf(stderr, "gen: %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

static void close_out(struct out *o)
{
    if (o->gz)
        gzclose(o->gz);
    if (o->f && fclose(o->f) != 0) {
        fprintf(stderr, "gen: write failed\n");
        exit(1);
    }
}

static const char *const omb_code[] = {"1002-5", "2028-9", "2054-5", "2076-8", "2106-3"};
static const char *const omb_name[] = {"AIAN", "ASIAN", "BLACK", "NHPI", "WHITE"};

int main(int argc, char **argv)
{
    long persons = 1000;
    uint64_t seed = 1;
    const char *csv = NULL, *dir = NULL;
    int gzip = 0, junk = 0, local = 0;
    const char *odir = NULL, *ocsv = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--persons") && i + 1 < argc)
            persons = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc)
            csv = argv[++i];
        else if (!strcmp(argv[i], "--fhir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--omop") && i + 1 < argc)
            odir = argv[++i];
        else if (!strcmp(argv[i], "--omop-csv") && i + 1 < argc)
            ocsv = argv[++i];
        else if (!strcmp(argv[i], "--gzip"))
            gzip = 1;
        else if (!strcmp(argv[i], "--junk"))
            junk = 1;
        else if (!strcmp(argv[i], "--local-codes"))
            local = 1;
        else {
            fprintf(stderr, "usage: equity-gen-sources --persons N --seed S --csv FILE --fhir DIR [--gzip] [--junk] "
                            "[--local-codes] [--omop DIR --omop-csv FILE]\n");
            return 2;
        }
    }
    if (!csv || !dir || persons < 1 || persons > 100000000 || !odir != !ocsv) {
        fprintf(stderr, "equity-gen-sources: needs --csv FILE --fhir DIR and 1 <= --persons <= 1e8\n");
        return 2;
    }
    rs = seed * 0x9E3779B97F4A7C15ULL + 1;
    mkdir(dir, 0755);
    FILE *cf = fopen(csv, "w");
    if (!cf) {
        fprintf(stderr, "gen: %s: %s\n", csv, strerror(errno));
        return 1;
    }
    fprintf(cf, "member_id,period,age,sex,race,ethnicity,language,payer,adi_decile,disability,cmc,county,"
                "member_months,ed_visits,ip_admits,ip_readmits_30d,primary_care_visits,telehealth_visits,"
                "wellness_visit,diabetes,hba1c_poor_control,hypertension,bp_controlled,hrsn_screened,"
                "hrsn_food,hrsn_housing,hrsn_transport,hrsn_utilities,hrsn_safety,total_cost\n");
    struct out pat, cov, enc, con, obs, eob;
    open_out(&pat, dir, "Patient", gzip);
    open_out(&cov, dir, "Coverage", gzip);
    open_out(&enc, dir, "Encounter", gzip);
    open_out(&con, dir, "Condition", gzip);
    open_out(&obs, dir, "Observation", gzip);
    open_out(&eob, dir, "ExplanationOfBenefit", gzip);
    const int64_t y0d = days_from_civil(YEAR, 1, 1), y1d = days_from_civil(YEAR + 1, 1, 1);
    FILE *T[13] = {0}, *oc = NULL;
    enum { O_PERSON, O_LOCATION, O_DEATH, O_OBSP, O_PPP, O_VISIT, O_PROC, O_COST, O_COND, O_MEAS, O_OBS, O_CONCEPT, O_ANC };
    static const char *const tnames[13] = {"person", "location", "death", "observation_period", "payer_plan_period",
                                           "visit_occurrence", "procedure_occurrence", "cost", "condition_occurrence",
                                           "measurement", "observation", "concept", "concept_ancestor"};
    if (odir) {
        mkdir(odir, 0755);
        for (int t = 0; t < 13; t++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s.tsv", odir, tnames[t]);
            if (!(T[t] = fopen(path, "w"))) {
                fprintf(stderr, "gen: %s: %s\n", path, strerror(errno));
                return 1;
            }
        }
        if (!(oc = fopen(ocsv, "w"))) {
            fprintf(stderr, "gen: %s: %s\n", ocsv, strerror(errno));
            return 1;
        }
        fprintf(oc, "member_id,period,age,sex,race,ethnicity,language,payer,adi_decile,disability,cmc,county,"
                    "member_months,ed_visits,ip_admits,ip_readmits_30d,primary_care_visits,telehealth_visits,"
                    "wellness_visit,diabetes,hba1c_poor_control,hypertension,bp_controlled,hrsn_screened,"
                    "hrsn_food,hrsn_housing,hrsn_transport,hrsn_utilities,hrsn_safety,total_cost\n");
        /* vocabulary: Source of Payment Typology payer concepts, one
         * detailed race concept under Asian */
        fprintf(T[O_CONCEPT], "9001\tMEDICARE\tSOPT\t1\n9002\tMEDICAID\tSOPT\t2\n9005\tPRIVATE HEALTH INSURANCE\tSOPT\t5\n"
                              "9081\tSelf-pay\tSOPT\t81\n9039\tOther Federal\tSOPT\t39\n38003574\tAsian Indian\tRace\t2029-7\n");
        fprintf(T[O_ANC], "8515\t38003574\n8515\t8515\n");
    }
    long visit_id = 0, obs_id = 0, meas_id = 0, cond_id = 0, span_id = 0;
    const int64_t y0 = y0d * DAY, y1 = y1d * DAY;
    long nenc = 0, nobs = 0;
    for (long i = 0; i < persons; i++) {
        char id[32], d1[16], d2[16];
        snprintf(id, sizeof id, "pt-%ld", i);
        const int lc = local && (i & 1); /* this person's source uses local codes */
        /* birth: mostly 1925..2022, a few in 2023, a few after */
        int by = 1925 + pick(99);
        if (chance(2))
            by = YEAR;
        if (chance(1))
            by = YEAR + 1;
        int64_t birth = days_from_civil(by, 1 + pick(12), 1 + pick(28));
        int64_t death = -1; /* day number, or -1 alive */
        int dk = pick(100);
        if (dk < 4)
            death = y0d + pick(365);              /* died in the year */
        else if (dk < 6)
            death = y0d - 1 - pick(700);          /* died before the year */
        if (death >= 0 && death < birth)
            death = birth + 1;
        int member = birth < y1d && (death < 0 || death >= y0d);
        int age = YEAR - by;
        /* alive span in seconds */
        int64_t af = birth * DAY > y0 ? birth * DAY : y0;
        int64_t at = death >= 0 && (death + 1) * DAY < y1 ? (death + 1) * DAY : y1;

        /* Patient */
        static const char *const gender[] = {"female", "male", "other", "unknown", NULL};
        static const char *const sexc[] = {"F", "M", "X", "U", "U"};
        int g = pick(100) < 48 ? 0 : pick(100) < 92 ? 1 : 2 + pick(3);
        char ext[1024] = "";
        const char *race;
        int rk = pick(100);
        int r1 = pick(5), r2 = (r1 + 1 + pick(4)) % 5;
        if (rk < 70) {
            snprintf(ext, sizeof ext, "{\"url\":\"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race\",\"extension\":["
                     "{\"url\":\"ombCategory\",\"valueCoding\":{\"system\":\"urn:oid:2.16.840.1.113883.6.238\",\"code\":\"%s\"}},"
                     "{\"url\":\"text\",\"valueString\":\"%s\"}]}", omb_code[r1], omb_name[r1]);
            race = omb_name[r1];
        } else if (rk < 78) {
            snprintf(ext, sizeof ext, "{\"url\":\"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race\",\"extension\":["
                     "{\"url\":\"ombCategory\",\"valueCoding\":{\"code\":\"%s\"}},{\"url\":\"ombCategory\",\"valueCoding\":{\"code\":\"%s\"}},"
                     "{\"url\":\"text\",\"valueString\":\"multiracial\"}]}", omb_code[r1], omb_code[r2]);
            race = "MULTI";
        } else if (rk < 82) {
            snprintf(ext, sizeof ext, "{\"url\":\"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race\",\"extension\":["
                     "{\"url\":\"detailed\",\"valueCoding\":{\"code\":\"2121-2\"}},{\"url\":\"text\",\"valueString\":\"Iranian\"}]}");
            race = "MENA";
        } else if (rk < 86) {
            snprintf(ext, sizeof ext, "{\"url\":\"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race\",\"extension\":["
                     "{\"url\":\"ombCategory\",\"valueCoding\":{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-NullFlavor\",\"code\":\"ASKU\"}},"
                     "{\"url\":\"text\",\"valueString\":\"declined\"}]}");
            race = "DECLINED";
        } else if (rk < 90) {
            snprintf(ext, sizeof ext, "{\"url\":\"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race\",\"extension\":["
                     "{\"url\":\"ombCategory\",\"valueCoding\":{\"code\":\"UNK\"}},{\"url\":\"text\",\"valueString\":\"unknown\"}]}");
            race = "UNKNOWN";
        } else if (rk < 93) {
            snprintf(ext, sizeof ext, "{\"url\":\"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race\",\"extension\":["
                     "{\"url\":\"ombCategory\",\"valueCoding\":{\"code\":\"2131-1\"}},{\"url\":\"text\",\"valueString\":\"other\"}]}");
            race = "OTHER";
        } else {
            race = "UNKNOWN"; /* no race extension */
        }
        const char *eth;
        int ek = pick(100);
        char eext[512] = "";
        const char *ecode = ek < 30 ? "2135-2" : ek < 85 ? "2186-5" : ek < 90 ? "ASKU" : ek < 94 ? "UNK" : ek < 97 ? "2148-5" : NULL;
        eth = ek < 30 ? "HISPANIC" : ek < 85 ? "NOT_HISPANIC" : ek < 90 ? "DECLINED" : ek < 94 ? "UNKNOWN" : ek < 97 ? "HISPANIC" : "UNKNOWN";
        if (ecode)
            snprintf(eext, sizeof eext, "%s{\"url\":\"http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity\",\"extension\":["
                     "{\"url\":\"%s\",\"valueCoding\":{\"code\":\"%s\"}},{\"url\":\"text\",\"valueString\":\"x\"}]}",
                     ext[0] ? "," : "", ek >= 94 ? "detailed" : "ombCategory",
                     lc && ek < 30 ? "HISP" : ecode);
        static const char *const bcp[] = {"en", "en-US", "es", "zh", "vi", "kor", NULL};
        static const char *const iso[] = {"eng", "eng", "spa", "zho", "vie", "kor", "und"};
        int lk = pick(7);
        char comm[256] = "";
        if (bcp[lk])
            snprintf(comm, sizeof comm, ",\"communication\":[{\"language\":{\"coding\":[{\"system\":\"urn:ietf:bcp:47\",\"code\":\"%s\"}]},\"preferred\":true}]",
                     lc && lk == 2 ? "ESP" : bcp[lk]);
        int ck = pick(4);
        const char *district = ck == 0 ? "Los Angeles County" : ck == 1 ? "06001" : ck == 2 ? "Yuba" : NULL;
        const char *county = ck == 0 ? "06037" : ck == 1 ? "06001" : ck == 2 ? "06115" : "";
        char addr[256] = "";
        if (district)
            snprintf(addr, sizeof addr, ",\"address\":[{\"line\":[\"1 Main St\"],\"city\":\"X\",\"district\":\"%s\",\"state\":\"CA\"}]", district);
        char dead[64] = "";
        if (death >= 0) {
            ymd(death, d1);
            snprintf(dead, sizeof dead, ",\"deceasedDateTime\":\"%sT10:00:00Z\"", d1);
        }
        ymd(birth, d2);
        w(&pat, "{\"resourceType\":\"Patient\",\"id\":\"%s\",\"extension\":[%s%s],\"name\":[{\"family\":\"Doe\"}]%s,"
                "\"birthDate\":\"%s\"%s%s%s}\n", id, ext, eext, g < 4 ? (g == 0 ? (lc ? ",\"gender\":\"W\"" : ",\"gender\":\"female\"") : g == 1 ? ",\"gender\":\"male\"" : g == 2 ? ",\"gender\":\"other\"" : ",\"gender\":\"unknown\"") : "",
          d2, dead, addr, comm);
        (void)gender;
        if (odir) {
            static const int gcon[] = {8532, 8507, 8521, 8551, 0};
            const char *rsv = "\\N";
            int rcon = 0;
            if (rk < 70) {
                static const int omb_con[] = {8657, 8515, 8516, 8557, 8527};
                rcon = omb_con[r1];
                if (r1 == 1 && (i & 1))
                    rcon = 38003574; /* detailed: rolled up through concept_ancestor */
            } else
                rsv = rk < 78 ? "multiracial" : rk < 82 ? "Iranian" : rk < 86 ? "declined" : rk < 90 ? "unknown"
                    : rk < 93 ? "other" : "\\N";
            int econ = ek < 30 || (ek >= 94 && ek < 97) ? 38003563 : ek < 85 ? 38003564 : 0;
            const char *esv = ek >= 85 && ek < 90 ? "declined" : ek >= 90 && ek < 94 ? "unknown" : "\\N";
            char bm[16];
            ymd(birth, bm);
            char loc[24] = "\\N";
            if (district) {
                snprintf(loc, sizeof loc, "%ld", i + 1);
                fprintf(T[O_LOCATION], "%ld\t%s\n", i + 1, district);
            }
            fprintf(T[O_PERSON], "%ld\t%d\t%.4s\t%.2s\t%.2s\t%d\t%d\t%s\t%s\t%s\t%s\n", i + 1,
                    lc && g == 0 ? 0 : gcon[g], bm, bm + 5, bm + 8, rcon, econ, loc, rsv, esv,
                    lc && g == 0 ? "W" : g < 4 ? sexc[g] : "\\N");
            if (death >= 0) {
                ymd(death, d1);
                fprintf(T[O_DEATH], "%ld\t%s\n", i + 1, d1);
            }
        }

        /* Coverage: up to two spans */
        double covm[6] = {0}; /* MEDICAID MEDICARE DUAL COMMERCIAL UNINSURED OTHER */
        double ocov[6] = {0}, oobs = 0; /* the OMOP reading of the same spans */
        static const char *const pname[] = {"MEDICAID", "MEDICARE", "DUAL", "COMMERCIAL", "UNINSURED", "OTHER"};
        int nspan = pick(10) == 0 ? 0 : 1 + pick(2);
        int64_t s0 = days_from_civil(YEAR - 1, 6, 1);
        for (int k = 0; k < nspan; k++) {
            int pk = age >= 65 ? (chance(70) ? 1 : 2) : pick(100) < 45 ? 0 : pick(100) < 80 ? 3 : pick(2) ? 4 : 5;
            int64_t a = k == 0 ? s0 : y0d + 90 + pick(60);
            int64_t b = k == 0 && nspan == 2 ? y0d + 90 : (chance(15) ? y0d + 180 : -1); /* leaves mid-year */
            char type[160];
            if (pk == 2)
                snprintf(type, sizeof type, "{\"text\":\"Dual Eligible\"}");
            else if (pk == 0 && lc)
                snprintf(type, sizeof type, "{\"text\":\"Medi-Cal\"}");
            else
                snprintf(type, sizeof type, "{\"coding\":[{\"system\":\"https://nahdo.org/sopt\",\"code\":\"%s\"}]}",
                         pk == 0 ? "2" : pk == 1 ? "1" : pk == 3 ? "5" : pk == 4 ? "81" : "39");
            ymd(a, d1);
            char end[48] = "";
            if (b >= 0) {
                ymd(b, d2);
                snprintf(end, sizeof end, ",\"end\":\"%s\"", d2);
            }
            w(&cov, "{\"resourceType\":\"Coverage\",\"id\":\"c%ld-%d\",\"status\":\"active\",\"type\":%s,"
                    "\"beneficiary\":{\"reference\":\"Patient/%s\"},\"period\":{\"start\":\"%s\"%s},"
                    "\"payor\":[{\"display\":\"x\"}]}\n", i, k, type, id, d1, end);
            int64_t sa = a * DAY > af ? a * DAY : af, sb = b < 0 ? at : (b * DAY < at ? b * DAY : at);
            if (sb > sa)
                covm[pk] += (double)(sb - sa) * 12.0 / (double)(y1 - y0);
            if (odir) {
                char dend[16];
                ymd(b < 0 ? days_from_civil(2099, 12, 31) : b - 1, dend); /* OMOP end dates are inclusive */
                fprintf(T[O_OBSP], "%ld\t%ld\t%s\t%s\n", ++span_id, i + 1, d1, dend);
                static const int pcon[] = {9002, 9001, 0, 9005, 9081, 9039};
                fprintf(T[O_PPP], "%ld\t%ld\t%s\t%s\t%d\t%s\n", span_id, i + 1, d1, dend,
                        lc && pk == 0 ? 0 : pcon[pk], pk == 2 ? "Dual Eligible" : lc && pk == 0 ? "Medi-Cal" : "plan");
                if (sb > sa) {
                    double mo = (double)((sb - sa) / DAY * DAY) * 12.0 / (double)(y1 - y0);
                    ocov[pk] += mo;
                    oobs += mo;
                }
            }
        }
        if (odir && nspan == 0) {
            ymd(birth, d1);
            fprintf(T[O_OBSP], "%ld\t%ld\t%s\t2099-12-31\n", ++span_id, i + 1, d1);
            if (at > af)
                oobs += (double)(at - af) * 12.0 / (double)(y1 - y0);
        }
        double alive = (double)(at - af) * 12.0 / (double)(y1 - y0), covered = 0;
        int best = -1;
        for (int k = 0; k < 6; k++) {
            covered += covm[k];
            if (covm[k] > 0 && (best < 0 || covm[k] > covm[best]))
                best = k;
        }
        double mm = best < 0 ? alive : covered < alive ? covered : alive;
        if (mm > 12.0)
            mm = 12.0;
        const char *payer = best < 0 ? "UNINSURED" : pname[best];
        int obest = -1;
        for (int k = 0; k < 6; k++)
            if (ocov[k] > 0 && (obest < 0 || ocov[k] > ocov[obest]))
                obest = k;
        double omm = oobs < alive ? oobs : alive;
        if (omm > 12.0)
            omm = 12.0;
        const char *opayer = obest < 0 ? "UNINSURED" : pname[obest];

        /* Encounters: day numbers inside the alive part of the year */
        int64_t lo = af / DAY, hi = at / DAY; /* [lo, hi) */
        if (hi <= lo)
            hi = lo + 1;
        int ed = 0, pc = 0, tele = 0, well = 0, ip = 0, readm = 0;
        int64_t cost = 0;
        int64_t stays[4][2];
        int nst = 0;
        int nenc_p = pick(6);
        for (int k = 0; k < nenc_p; k++) {
            int cls = pick(7); /* 0 EMER 1 IMP 2 AMB 3 AMB wellness 4 VR 5 HH 6 EMER last year */
            int64_t day = lo + pick((int)(hi - lo));
            int64_t endday = day;
            if (cls == 6)
                day = y0d - 10 - pick(300);
            if (cls == 1) {
                if (nst == 4)
                    cls = 2;
                else {
                    if (nst > 0 && chance(50))
                        day = stays[nst - 1][1] + pick(45);
                    endday = day + pick(6);
                    if (day >= y1d) {
                        cls = 2;
                        day = lo;
                        endday = day;
                    }
                }
            }
            const char *code = cls == 0 || cls == 6 ? "EMER" : cls == 1 ? "IMP" : cls == 4 ? "VR" : cls == 5 ? "HH" : "AMB";
            char typ[160] = "";
            if (cls == 3)
                snprintf(typ, sizeof typ, ",\"type\":[{\"coding\":[{\"system\":\"http://snomed.info/sct\",\"code\":\"410620009\"}]}]");
            else if (cls == 2)
                snprintf(typ, sizeof typ, ",\"type\":[{\"coding\":[{\"system\":\"http://snomed.info/sct\",\"code\":\"185345009\"}]}]");
            ymd(day, d1);
            ymd(endday, d2);
            w(&enc, "{\"resourceType\":\"Encounter\",\"id\":\"e%ld\",\"status\":\"finished\",\"class\":{\"system\":"
                    "\"http://terminology.hl7.org/CodeSystem/v3-ActCode\",\"code\":\"%s\"}%s,\"subject\":{\"reference\":"
                    "\"Patient/%s\"},\"period\":{\"start\":\"%sT08:00:00-08:00\",\"end\":\"%sT12:00:00-08:00\"}}\n",
              nenc, code, typ, id, d1, d2);
            int64_t cents = 1000 + (int64_t)pick(500000);
            ymd(day, d1);
            w(&eob, "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"b%ld\",\"status\":\"active\",\"patient\":"
                    "{\"reference\":\"Patient/%s\"},\"billablePeriod\":{\"start\":\"%sT08:00:00-08:00\"},\"total\":["
                    "{\"category\":{\"coding\":[{\"code\":\"submitted\"}]},\"amount\":{\"value\":%" PRId64 ".%02d,\"currency\":\"USD\"}}]}\n",
              nenc, id, d1, cents / 100, (int)(cents % 100));
            if (odir) {
                static const int vcon[] = {9203, 9201, 9202, 9202, 5083, 581476, 9203};
                ymd(day, d1);
                ymd(endday, d2);
                fprintf(T[O_VISIT], "%ld\t%ld\t%d\t%s\t%s 16:00:00\t%s\t%s 20:00:00\n", ++visit_id, i + 1, vcon[cls],
                        d1, d1, d2, d2);
                if (cls == 3)
                    fprintf(T[O_PROC], "%ld\t%ld\t410620009\t%ld\n", visit_id, i + 1, visit_id);
                fprintf(T[O_COST], "%ld\t%ld\tVisit\t%" PRId64 ".%02d\t\\N\n", visit_id, visit_id, cents / 100,
                        (int)(cents % 100));
            }
            nenc++;
            /* start times at 16:00 UTC: in the year iff the day is */
            if (!member || day < y0d || day >= y1d)
                continue;
            cost += cents;
            if (cls == 0)
                ed++;
            else if (cls == 1) {
                stays[nst][0] = day * DAY + 16 * 3600;
                stays[nst][1] = endday * DAY + 20 * 3600;
                nst++;
                ip++;
            } else if (cls == 2)
                pc++;
            else if (cls == 3)
                well = 1;
            else if (cls == 4)
                tele++;
        }
        for (int a = 0; a < nst; a++)
            for (int b = 0; b < nst; b++)
                if (a != b && stays[b][0] - stays[a][1] >= 0 && stays[b][0] - stays[a][1] <= 30 * DAY) {
                    readm++;
                    break;
                }

        /* Conditions */
        int diab = chance(12), htn = chance(20), cmc = age >= 0 && age < 21 && chance(15);
        int diab_old = chance(3);
        const char *dcode = NULL;
        if (diab) {
            int sn = chance(50), sc = chance(50);
            dcode = sc ? "44054006" : "E11.9";
            (void)sn;
            w(&con, "{\"resourceType\":\"Condition\",\"id\":\"d%ld\",\"code\":{\"coding\":[{\"system\":\"%s\",\"code\":\"%s\"}]},"
                    "\"subject\":{\"reference\":\"Patient/%s\"},\"onsetDateTime\":\"2015-03-01T00:00:00Z\"}\n",
              i, sn ? "http://snomed.info/sct" : "http://hl7.org/fhir/sid/icd-10-cm", dcode, id);
        }
        if (odir && dcode)
            fprintf(T[O_COND], "%ld\t%ld\t0\t2015-03-01\t\\N\t%s\t0\n", ++cond_id, i + 1, dcode);
        if (odir && diab_old && !diab)
            fprintf(T[O_COND], "%ld\t%ld\t0\t2015-03-01\t2020-12-31\tE11.9\t0\n", ++cond_id, i + 1);
        if (odir && htn)
            fprintf(T[O_COND], "%ld\t%ld\t0\t2020-03-01\t\\N\tI10\t0\n", ++cond_id, i + 1);
        if (diab_old && !diab)
            w(&con, "{\"resourceType\":\"Condition\",\"id\":\"o%ld\",\"code\":{\"coding\":[{\"code\":\"E11.9\"}]},"
                    "\"subject\":{\"reference\":\"Patient/%s\"},\"onsetDateTime\":\"2015-03-01T00:00:00Z\","
                    "\"abatementDateTime\":\"2021-01-01T00:00:00Z\"}\n", i, id);
        if (htn)
            w(&con, "{\"resourceType\":\"Condition\",\"id\":\"h%ld\",\"code\":{\"coding\":[{\"code\":\"I10\"}]},"
                    "\"subject\":{\"reference\":\"Patient/%s\"},\"recordedDate\":\"2020-03-01\"}\n", i, id);
        if (cmc) {
            static const char *const ccc[] = {"G80.9", "E84.0", "Q21.3", "128188000", "C91.00"};
            int n = 1 + pick(2);
            for (int k = 0; k < n; k++) {
                const char *cc = ccc[pick(5)];
                if (odir)
                    fprintf(T[O_COND], "%ld\t%ld\t0\t%04d-02-01\t\\N\t%s\t0\n", ++cond_id, i + 1, by < YEAR ? by + 1 : YEAR, cc);
                w(&con, "{\"resourceType\":\"Condition\",\"id\":\"k%ld-%d\",\"code\":{\"coding\":[{\"code\":\"%s\"}]},"
                        "\"subject\":{\"reference\":\"Patient/%s\"},\"onsetDateTime\":\"%04d-02-01T00:00:00Z\"}\n",
                  i, k, cc, id, by < YEAR ? by + 1 : YEAR);
            }
        } else if (chance(5)) {
            if (odir)
                fprintf(T[O_COND], "%ld\t%ld\t0\t2020-02-01\t\\N\tJ45.909\t0\n", ++cond_id, i + 1);
            w(&con, "{\"resourceType\":\"Condition\",\"id\":\"a%ld\",\"code\":{\"coding\":[{\"code\":\"J45.909\"}]},"
                    "\"subject\":{\"reference\":\"Patient/%s\"},\"onsetDateTime\":\"2020-02-01T00:00:00Z\"}\n", i, id);
        }
        /* Observations */
        int a1c_poor = diab, bpc = 0;
        int64_t od = lo + pick((int)(hi - lo));
        if (chance(60)) {
            int v10 = 50 + pick(80); /* 5.0 .. 12.9 */
            int v10b = 50 + pick(80);
            ymd(od, d1);
            w(&obs, "{\"resourceType\":\"Observation\",\"id\":\"x%ld\",\"status\":\"final\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"4548-4\"}]},"
                    "\"subject\":{\"reference\":\"Patient/%s\"},\"effectiveDateTime\":\"%sT09:00:00Z\",\"valueQuantity\":{\"value\":%d.%d,\"unit\":\"%%\"}}\n",
              nobs++, id, d1, v10 / 10, v10 % 10);
            ymd(y0d - 30, d2); /* last year's value does not count */
            w(&obs, "{\"resourceType\":\"Observation\",\"id\":\"x%ld\",\"status\":\"final\",\"code\":{\"coding\":[{\"code\":\"4548-4\"}]},"
                    "\"subject\":{\"reference\":\"Patient/%s\"},\"effectiveDateTime\":\"%sT09:00:00Z\",\"valueQuantity\":{\"value\":%d.%d}}\n",
              nobs++, id, d2, v10b / 10, v10b % 10);
            if (odir) {
                fprintf(T[O_MEAS], "%ld\t%ld\t0\t%s\t%s 09:00:00\t%d.%d\t4548-4\n", ++meas_id, i + 1, d1, d1, v10 / 10, v10 % 10);
                fprintf(T[O_MEAS], "%ld\t%ld\t0\t%s\t%s 09:00:00\t%d.%d\t4548-4\n", ++meas_id, i + 1, d2, d2, v10b / 10, v10b % 10);
            }
            if (od >= y0d && od < y1d)
                a1c_poor = diab && v10 > 90;
        }
        if (chance(60)) {
            int s = 100 + pick(70), d = 60 + pick(40);
            ymd(od, d1);
            w(&obs, "{\"resourceType\":\"Observation\",\"id\":\"x%ld\",\"status\":\"final\",\"code\":{\"coding\":[{\"code\":\"85354-9\"}]},"
                    "\"subject\":{\"reference\":\"Patient/%s\"},\"effectiveDateTime\":\"%sT10:00:00Z\",\"component\":["
                    "{\"code\":{\"coding\":[{\"code\":\"8480-6\"}]},\"valueQuantity\":{\"value\":%d}},"
                    "{\"code\":{\"coding\":[{\"code\":\"8462-4\"}]},\"valueQuantity\":{\"value\":%d}}]}\n", nobs++, id, d1, s, d);
            bpc = htn && s < 140 && d < 90;
            if (odir) {
                fprintf(T[O_MEAS], "%ld\t%ld\t0\t%s\t%s 10:00:00\t%d\t8480-6\n", ++meas_id, i + 1, d1, d1, s);
                fprintf(T[O_MEAS], "%ld\t%ld\t0\t%s\t%s 10:00:00\t%d\t8462-4\n", ++meas_id, i + 1, d1, d1, d);
            }
        }
        int scr = 0, food = 0, hous = 0, trans = 0, util = 0, safe = 0;
        if (chance(40)) {
            scr = 1;
            ymd(od, d1);
            int f = chance(20), h = chance(15), t = chance(10), u = chance(10), s = chance(5);
            int ahc = chance(50);
            if (odir) {
                const char *it[6][2];
                int ni = 0;
                if (ahc) {
                    it[ni][0] = "88122-7"; it[ni++][1] = f ? "Often true" : "Never true";
                    it[ni][0] = "93030-5"; it[ni++][1] = t ? "Yes" : "No";
                    it[ni][0] = "96779-4"; it[ni++][1] = u ? "Already shut off" : "No";
                    it[ni][0] = "71802-3"; it[ni++][1] = h ? "I have a steady place to live, but I am worried about losing it in the future"
                                                            : "I have a steady place to live";
                    it[ni][0] = "95618-5"; it[ni++][1] = s ? "Sometimes" : "Never";
                } else {
                    it[ni][0] = "93025-5"; it[ni++][1] = NULL;
                    it[ni][0] = "93031-3"; it[ni++][1] = f ? "Food" : "Clothing";
                    it[ni][0] = "93031-3"; it[ni++][1] = u ? "Utilities" : "Phone";
                    it[ni][0] = "71802-3"; it[ni++][1] = h ? "I do not have housing" : "I have housing";
                    it[ni][0] = "93030-5"; it[ni++][1] = t ? "Yes, it has kept me from medical appointments" : "No";
                    it[ni][0] = "93026-3"; it[ni++][1] = s ? "No" : "Yes";
                }
                for (int k = 0; k < ni; k++)
                    fprintf(T[O_OBS], "%ld\t%ld\t0\t%s\t%s 11:00:00\t%.60s\t0\t%s\n", ++obs_id, i + 1, d1, d1,
                            it[k][1] ? it[k][1] : "\\N", it[k][0]);
            }
            if (ahc) { /* AHC HRSN items */
                w(&obs, "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"coding\":[{\"code\":\"88122-7\"}]},\"subject\":{\"reference\":\"Patient/%s\"},"
                        "\"effectiveDateTime\":\"%sT11:00:00Z\",\"valueCodeableConcept\":{\"coding\":[{\"code\":\"%s\",\"display\":\"%s\"}]}}\n",
                  id, d1, f ? "LA28397-0" : "LA28398-8", f ? "Often true" : "Never true");
                w(&obs, "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"coding\":[{\"code\":\"93030-5\"}]},\"subject\":{\"reference\":\"Patient/%s\"},"
                        "\"effectiveDateTime\":\"%sT11:00:00Z\",\"valueCodeableConcept\":{\"text\":\"%s\"}}\n", id, d1, t ? "Yes" : "No");
                w(&obs, "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"coding\":[{\"code\":\"96779-4\"}]},\"subject\":{\"reference\":\"Patient/%s\"},"
                        "\"effectiveDateTime\":\"%sT11:00:00Z\",\"valueCodeableConcept\":{\"text\":\"%s\"}}\n", id, d1, u ? "Already shut off" : "No");
                w(&obs, "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"coding\":[{\"code\":\"71802-3\"}]},\"subject\":{\"reference\":\"Patient/%s\"},"
                        "\"effectiveDateTime\":\"%sT11:00:00Z\",\"valueCodeableConcept\":{\"text\":\"%s\"}}\n", id, d1,
                  h ? "I have a steady place to live, but I am worried about losing it in the future" : "I have a steady place to live");
                w(&obs, "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"coding\":[{\"code\":\"95618-5\"}]},\"subject\":{\"reference\":\"Patient/%s\"},"
                        "\"effectiveDateTime\":\"%sT11:00:00Z\",\"valueCodeableConcept\":{\"text\":\"%s\"}}\n", id, d1, s ? "Sometimes" : "Never");
            } else { /* PRAPARE panel with components */
                w(&obs, "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"coding\":[{\"code\":\"93025-5\"}]},\"subject\":{\"reference\":\"Patient/%s\"},"
                        "\"effectiveDateTime\":\"%sT11:00:00Z\",\"component\":["
                        "{\"code\":{\"coding\":[{\"code\":\"93031-3\"}]},\"valueCodeableConcept\":{\"text\":\"%s\"}},"
                        "{\"code\":{\"coding\":[{\"code\":\"93031-3\"}]},\"valueCodeableConcept\":{\"text\":\"%s\"}},"
                        "{\"code\":{\"coding\":[{\"code\":\"71802-3\"}]},\"valueCodeableConcept\":{\"text\":\"%s\"}},"
                        "{\"code\":{\"coding\":[{\"code\":\"93030-5\"}]},\"valueCodeableConcept\":{\"text\":\"%s\"}},"
                        "{\"code\":{\"coding\":[{\"code\":\"93026-3\"}]},\"valueCodeableConcept\":{\"text\":\"%s\"}}]}\n",
                  id, d1, f ? "Food" : "Clothing", u ? "Utilities" : "Phone", h ? "I do not have housing" : "I have housing",
                  t ? "Yes, it has kept me from medical appointments" : "No", s ? "No" : "Yes");
            }
            if (od >= y0d && od < y1d) {
                food = f; hous = h; trans = t; util = u; safe = s;
            } else
                scr = 0;
        }
        const char *olang = "und";
        if (odir && lc && scr) {
            ymd(od, d1);
            fprintf(T[O_OBS], "%ld\t%ld\t0\t%s\t%s 11:30:00\tEspanol\t0\t54899-0\n", ++obs_id, i + 1, d1, d1);
            olang = "spa";
        }
        if (!member)
            continue;
        int64_t tot = cost;
        if (oc)
            fprintf(oc, "%s,%d,%d,%s,%s,%s,%s,%s,,U,%s,%s,%.17g,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%" PRId64 ".%02d\n",
                    id, YEAR, age, g < 4 ? sexc[g] : "U", race, eth, olang, opayer,
                    age < 21 ? (cmc ? "Y" : "N") : "U", county, omm, ed, ip, readm, pc, tele, well, diab,
                    diab ? a1c_poor : 0, htn, htn ? bpc : 0, scr, food, hous, trans, util, safe, tot / 100, (int)(tot % 100));
        fprintf(cf, "%s,%d,%d,%s,%s,%s,%s,%s,,U,%s,%s,%.17g,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%" PRId64 ".%02d\n",
                id, YEAR, age, g < 4 ? sexc[g] : "U", race, eth, iso[lk], payer,
                age < 21 ? (cmc ? "Y" : "N") : "U", county, mm, ed, ip, readm, pc, tele, well, diab,
                diab ? a1c_poor : 0, htn, htn ? bpc : 0, scr, food, hous, trans, util, safe, tot / 100, (int)(tot % 100));
    }
    if (junk) {
        w(&obs, "{\"resourceType\":\"Observation\",\"status\":\"final\"\n");      /* truncated */
        w(&obs, "[1,2,3]\n");                                                   /* not an object */
        w(&enc, "{\"resourceType\":\"Patient\",\"id\":\"zz\"}\n");              /* wrong type */
        w(&enc, "{\"resourceType\":\"Encounter\",\"class\":{\"code\":\"EMER\"},\"subject\":{\"reference\":\"Patient/nobody\"},"
                "\"period\":{\"start\":\"2023-05-01T00:00:00Z\"}}\n");         /* unknown patient */
    }
    close_out(&pat);
    close_out(&cov);
    close_out(&enc);
    close_out(&con);
    close_out(&obs);
    close_out(&eob);
    for (int t = 0; t < 13; t++)
        if (T[t] && fclose(T[t]) != 0) {
            fprintf(stderr, "gen: %s: write failed\n", tnames[t]);
            return 1;
        }
    if (oc && fclose(oc) != 0) {
        fprintf(stderr, "gen: %s: write failed\n", ocsv);
        return 1;
    }
    if (fclose(cf) != 0) {
        fprintf(stderr, "gen: %s: write failed\n", csv);
        return 1;
    }
    return 0;
}
