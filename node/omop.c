/*
 * omop.c - the OMOP CDM 5.4 adapter (see omop.h, docs/sources.md).
 *
 * 1. Connect (libpq), BEGIN READ ONLY, REPEATABLE READ: one snapshot.
 * 2. Read information_schema.columns of the CDM and vocabulary schemas:
 *    which tables and columns exist decides which parts of the query are
 *    built and which measures are not available.
 * 3. DECLARE a cursor over one query that rolls every table up to one row
 *    per person alive in the year (hash joins of per-person aggregates),
 *    and FETCH it in batches. Lists the C side needs in order (coverage and
 *    observation spans, inpatient stays, condition codes, screening
 *    answers) come as strings with ASCII unit (31) and record (30)
 *    separators, so that member months, readmissions, payer, CCC and
 *    social-needs answers are computed by the same rules as for FHIR
 *    (fhir.c) and Synthea.
 *
 * What is PostgreSQL-specific is kept to a few spots, listed in
 * docs/sources.md: ordered aggregates (string_agg ... ORDER BY, array_agg
 * ... [1]), FILTER clauses, date arithmetic (date + 1, date - date as
 * days), extract(epoch ...), chr(), the cursor and libpq itself.
 */
#include "omop.h"

#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog.h"
#include "code_map.h"
#include "fhir.h"
#include "race_detail.h"
#include "synthea.h"

#define DAY 86400LL
#define FETCH_ROWS 5000
#define T_NONE INT64_MIN

/* ---- small text buffer ---------------------------------------------------- */

struct buf {
    char *s;
    size_t n, cap;
    int oom;
};

static void add(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = (b->cap ? b->cap : 4096);
        while (cap <= b->n + (size_t)k)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
}

/* ---- connection string ------------------------------------------------------ */

void omop_redact(const char *conninfo, char *out, size_t outlen)
{
    char *perr = NULL;
    PQconninfoOption *opts = conninfo ? PQconninfoParse(conninfo, &perr) : NULL;
    PQfreemem(perr);
    if (!opts) {
        snprintf(out, outlen, "(connection string not shown: it does not parse)");
        return;
    }
    size_t o = 0;
    out[0] = '\0';
    for (PQconninfoOption *x = opts; x->keyword; x++) {
        if (!x->val || !*x->val)
            continue;
        int secret = !strcmp(x->keyword, "password") || !strcmp(x->keyword, "sslpassword");
        int k = snprintf(out + o, o < outlen ? outlen - o : 0, "%s%s=%s", o ? " " : "", x->keyword,
                         secret ? "(hidden)" : x->val);
        if (k < 0 || o + (size_t)k >= outlen)
            break;
        o += (size_t)k;
    }
    PQconninfoFree(opts);
}

/* ---- schema discovery ---------------------------------------------------- */

struct cols {
    char **name;              /* "s|table|column", lower case            */
    size_t n;
};

static int has(const struct cols *c, int vocab, const char *table, const char *col)
{
    char key[200];
    snprintf(key, sizeof key, "%c|%s|%s", vocab ? 'v' : 'c', table, col ? col : "");
    size_t kl = strlen(key);
    for (size_t i = 0; i < c->n; i++)
        if (col ? !strcmp(c->name[i], key) : !strncmp(c->name[i], key, kl))
            return 1;
    return 0;
}

static int load_cols(PGconn *db, const char *schema, const char *vschema, struct cols *c,
                     char *err, size_t errlen)
{
    const char *params[2] = {schema, vschema};
    PGresult *r = PQexecParams(db,
        "SELECT CASE WHEN table_schema = $1 THEN 'c' ELSE 'v' END || '|' || lower(table_name) || '|' || "
        "lower(column_name) FROM information_schema.columns WHERE table_schema IN ($1, $2) "
        "UNION ALL SELECT 'v|' || lower(table_name) || '|' || lower(column_name) "
        "FROM information_schema.columns WHERE table_schema = $2 AND $1 = $2",
        2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "OMOP: cannot read the schema: %s", PQerrorMessage(db));
        PQclear(r);
        return -1;
    }
    int n = PQntuples(r);
    c->name = calloc((size_t)n + 1, sizeof *c->name);
    if (!c->name) {
        PQclear(r);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        c->name[c->n] = strdup(PQgetvalue(r, i, 0));
        if (!c->name[c->n]) {
            PQclear(r);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        c->n++;
    }
    PQclear(r);
    return 0;
}

static void free_cols(struct cols *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->name[i]);
    free(c->name);
}

/* ---- the query ------------------------------------------------------------ */

enum {
    Q_YOB, Q_GENDER, Q_RACE, Q_RACE_SRC, Q_ETH, Q_ETH_SRC, Q_COUNTY, Q_AF, Q_AT, Q_OBS, Q_PAYERS,
    Q_ED, Q_IP, Q_PC, Q_TELE, Q_WELL, Q_STAYS, Q_CENTS, Q_DIAB, Q_HTN, Q_CODES, Q_A1C, Q_SBP,
    Q_DBP, Q_HRSN, Q_GENDER_SRC, Q_RACE_CID, Q_RACE_CODE, Q_ETH_CODE, Q__COUNT
};

struct avail {
    int death, gender_src, location, vocab, ancestor, ppp, visit, visit_dt, proc, cost, cost_allowed,
        cost_charge, cost_total, cond, cond_src_concept, meas, meas_dt, obs, obs_dt;
    int race_detail;  /* the catalog offers race_detail, race_group or race_aic */
};

/* Builds the roll-up query for the tables that exist. S and V are quoted
 * schema names. Every list is ordered so the C side adds in a fixed
 * order. */
static void build_query(struct buf *q, const struct avail *a, const char *S, const char *V, int year)
{
    char y0[24], y1[24];
    snprintf(y0, sizeof y0, "%04d-01-01", year);
    snprintf(y1, sizeof y1, "%04d-01-01", year + 1);
    /* person, its county and death */
    add(q, "WITH p AS (SELECT p.person_id, p.year_of_birth AS yob, "
           "(make_date(p.year_of_birth, 1, 1) + make_interval(months => least(greatest(COALESCE(p.month_of_birth, 1), 1), 12) - 1, "
           "days => least(greatest(COALESCE(p.day_of_birth, 1), 1), 31) - 1))::date AS birth, "
           "p.gender_concept_id AS g, p.race_concept_id AS rc, p.race_source_value AS rsv, "
           "p.ethnicity_concept_id AS ec, p.ethnicity_source_value AS esv, %s AS gsv, %s AS county, %s AS death "
           "FROM %s.person p ",
        a->gender_src ? "p.gender_source_value" : "NULL::text",
        a->location ? "l.county" : "NULL::text", a->death ? "d.death_date" : "NULL::date", S);
    if (a->location)
        add(q, "LEFT JOIN %s.location l ON l.location_id = p.location_id ", S);
    if (a->death)
        add(q, "LEFT JOIN (SELECT person_id, min(death_date) AS death_date FROM %s.death GROUP BY person_id) d "
               "ON d.person_id = p.person_id ", S);
    add(q, "WHERE p.year_of_birth BETWEEN 1000 AND 9999), ");
    /* members: alive some time in the year; af/at = the part lived */
    add(q, "m AS (SELECT p.*, greatest(p.birth, DATE '%s') AS af, least(DATE '%s', p.death + 1) AS at "
           "FROM p WHERE p.birth < DATE '%s' AND (p.death IS NULL OR p.death >= DATE '%s')), ", y0, y1, y1, y0);
    add(q, "obs AS (SELECT o.person_id, string_agg((greatest(o.observation_period_start_date, m.af) - DATE '1970-01-01') "
           "|| ',' || (least(o.observation_period_end_date + 1, m.at) - DATE '1970-01-01'), ' ' "
           "ORDER BY o.observation_period_start_date, o.observation_period_end_date) AS spans "
           "FROM %s.observation_period o JOIN m ON m.person_id = o.person_id "
           "WHERE o.observation_period_start_date < m.at AND o.observation_period_end_date + 1 > m.af "
           "GROUP BY o.person_id), ", S);
    if (a->ppp) {
        add(q, "pay AS (SELECT pp.person_id, string_agg((greatest(pp.payer_plan_period_start_date, m.af) - DATE '1970-01-01') "
               "|| chr(31) || (least(pp.payer_plan_period_end_date + 1, m.at) - DATE '1970-01-01') || chr(31) || "
               "COALESCE(%s, '') || chr(31) || COALESCE(replace(replace(pp.payer_source_value, chr(30), ' '), chr(31), ' '), '') || "
               "chr(31) || COALESCE(pp.payer_concept_id::text, ''), "
               "chr(30) ORDER BY pp.payer_plan_period_start_date, pp.payer_plan_period_end_date) AS spans "
               "FROM %s.payer_plan_period pp JOIN m ON m.person_id = pp.person_id ",
            a->vocab ? "pc.concept_code" : "NULL", S);
        if (a->vocab)
            add(q, "LEFT JOIN %s.concept pc ON pc.concept_id = pp.payer_concept_id AND pc.vocabulary_id = 'SOPT' ", V);
        add(q, "WHERE pp.payer_plan_period_start_date < m.at AND pp.payer_plan_period_end_date + 1 > m.af "
               "GROUP BY pp.person_id), ");
    }
    if (a->visit) {
        const char *st = a->visit_dt ? "COALESCE(v.visit_start_datetime, v.visit_start_date::timestamp)"
                                     : "v.visit_start_date::timestamp";
        const char *en = a->visit_dt ? "COALESCE(v.visit_end_datetime, v.visit_end_date::timestamp, "
                                       "v.visit_start_datetime, v.visit_start_date::timestamp)"
                                     : "COALESCE(v.visit_end_date, v.visit_start_date)::timestamp";
        if (a->proc)
            add(q, "wv AS (SELECT DISTINCT visit_occurrence_id FROM %s.procedure_occurrence WHERE procedure_source_value IN "
                   "('410620009', '162673000', '99381', '99382', '99383', '99384', '99385', '99386', '99387', "
                   "'99391', '99392', '99393', '99394', '99395', '99396', '99397') AND visit_occurrence_id IS NOT NULL), ", S);
        add(q, "vy AS (SELECT v.person_id, v.visit_occurrence_id, v.visit_concept_id AS vc, %s AS st, %s AS en, %s AS well "
               "FROM %s.visit_occurrence v JOIN m ON m.person_id = v.person_id %s "
               "WHERE %s >= TIMESTAMP '%s' AND %s < TIMESTAMP '%s'), ",
            st, en, a->proc ? "(wv.visit_occurrence_id IS NOT NULL)" : "false", S,
            a->proc ? "LEFT JOIN wv ON wv.visit_occurrence_id = v.visit_occurrence_id" : "", st, y0, st, y1);
        add(q, "vis AS (SELECT person_id, count(*) FILTER (WHERE vc IN (9203, 262)) AS ed, "
               "count(*) FILTER (WHERE vc IN (9201, 262)) AS ip, "
               "count(*) FILTER (WHERE vc IN (9202, 581477) AND NOT well) AS pc, "
               "count(*) FILTER (WHERE vc = 5083) AS tele, bool_or(well) AS well, "
               "string_agg(extract(epoch FROM st)::bigint || ',' || extract(epoch FROM en)::bigint, ' ' "
               "ORDER BY st, en, visit_occurrence_id) FILTER (WHERE vc IN (9201, 262)) AS stays "
               "FROM vy GROUP BY person_id), ");
        if (a->cost) {
            char amount[128] = "";
            size_t o = 0;
            if (a->cost_allowed)
                o += (size_t)snprintf(amount + o, sizeof amount - o, "c.amount_allowed, ");
            if (a->cost_charge)
                o += (size_t)snprintf(amount + o, sizeof amount - o, "c.total_charge, ");
            if (a->cost_total)
                snprintf(amount + o, sizeof amount - o, "c.total_cost, ");
            add(q, "cst AS (SELECT vy.person_id, sum(round(COALESCE(%s0) * 100))::bigint AS cents "
                   "FROM %s.cost c JOIN vy ON c.cost_domain_id = 'Visit' AND c.cost_event_id = vy.visit_occurrence_id "
                   "GROUP BY vy.person_id), ", amount, S);
        }
    }
    if (a->cond) {
        add(q, "cnd AS (SELECT co.person_id, %s, "
               "string_agg(DISTINCT replace(replace(t.tok, ' ', ''), chr(31), ''), ' ') AS codes "
               "FROM %s.condition_occurrence co JOIN m ON m.person_id = co.person_id ",
            a->ancestor ? "bool_or(da.descendant_concept_id IS NOT NULL) AS diab, bool_or(ha.descendant_concept_id IS NOT NULL) AS htn"
                        : "false AS diab, false AS htn", S);
        if (a->vocab) {
            add(q, "LEFT JOIN %s.concept stc ON stc.concept_id = co.condition_concept_id AND stc.vocabulary_id = 'SNOMED' ", V);
            if (a->cond_src_concept)
                add(q, "LEFT JOIN %s.concept sc ON sc.concept_id = co.condition_source_concept_id AND sc.vocabulary_id = 'ICD10CM' ", V);
        }
        if (a->ancestor)
            add(q, "LEFT JOIN %s.concept_ancestor da ON da.ancestor_concept_id = 201820 AND da.descendant_concept_id = co.condition_concept_id "
                   "LEFT JOIN %s.concept_ancestor ha ON ha.ancestor_concept_id = 316866 AND ha.descendant_concept_id = co.condition_concept_id ",
                V, V);
        add(q, "CROSS JOIN LATERAL unnest(ARRAY[co.condition_source_value%s%s]) AS t(tok) "
               "WHERE co.condition_start_date < DATE '%s' AND (co.condition_end_date IS NULL OR co.condition_end_date >= DATE '%s') "
               "AND t.tok IS NOT NULL AND t.tok <> '' GROUP BY co.person_id), ",
            a->vocab ? ", stc.concept_code" : "", a->vocab && a->cond_src_concept ? ", sc.concept_code" : "", y1, y0);
    }
    if (a->meas) {
        const char *ts = a->meas_dt ? "COALESCE(me.measurement_datetime, me.measurement_date::timestamp)" : "me.measurement_date::timestamp";
        add(q, "mes AS (SELECT person_id, (array_agg(val ORDER BY ts DESC, id DESC) FILTER (WHERE code = '4548-4'))[1] AS a1c, "
               "(array_agg(val ORDER BY ts DESC, id DESC) FILTER (WHERE code = '8480-6'))[1] AS sbp, "
               "(array_agg(val ORDER BY ts DESC, id DESC) FILTER (WHERE code = '8462-4'))[1] AS dbp "
               "FROM (SELECT me.person_id, me.measurement_id AS id, me.value_as_number AS val, %s AS ts, "
               "COALESCE(%s, me.measurement_source_value) AS code FROM %s.measurement me ",
            ts, a->vocab ? "lc.concept_code" : "NULL", S);
        if (a->vocab)
            add(q, "LEFT JOIN %s.concept lc ON lc.concept_id = me.measurement_concept_id AND lc.vocabulary_id = 'LOINC' ", V);
        add(q, ") x JOIN m USING (person_id) WHERE code IN ('4548-4', '8480-6', '8462-4') AND val IS NOT NULL AND val >= 0 "
               "AND ts >= TIMESTAMP '%s' AND ts < TIMESTAMP '%s' GROUP BY person_id), ", y0, y1);
    }
    if (a->obs) {
        const char *ts = a->obs_dt ? "COALESCE(o.observation_datetime, o.observation_date::timestamp)" : "o.observation_date::timestamp";
        add(q, "hrs AS (SELECT person_id, string_agg(code || chr(31) || COALESCE(answer, ''), chr(30) ORDER BY ts, id) AS items "
               "FROM (SELECT o.person_id, o.observation_id AS id, %s AS ts, COALESCE(%s, o.observation_source_value) AS code, "
               "replace(replace(COALESCE(o.value_as_string, %s), chr(30), ' '), chr(31), ' ') AS answer "
               "FROM %s.observation o ",
            ts, a->vocab ? "oc.concept_code" : "NULL", a->vocab ? "vc.concept_name" : "NULL", S);
        if (a->vocab)
            add(q, "LEFT JOIN %s.concept oc ON oc.concept_id = o.observation_concept_id AND oc.vocabulary_id = 'LOINC' "
                   "LEFT JOIN %s.concept vc ON vc.concept_id = o.value_as_concept_id ", V, V);
        add(q, ") x JOIN m USING (person_id) WHERE code IN (");
        for (size_t i = 0; fhir_hrsn_code(i); i++)
            add(q, "%s'%s'", i ? ", " : "", fhir_hrsn_code(i));
        add(q, ") AND ts >= TIMESTAMP '%s' AND ts < TIMESTAMP '%s' GROUP BY person_id), ", y0, y1);
    }
    if (a->ancestor)
        add(q, "rr AS (SELECT descendant_concept_id AS id, min(ancestor_concept_id) AS omb FROM %s.concept_ancestor "
               "WHERE ancestor_concept_id IN (8657, 8515, 8516, 8557, 8527) AND descendant_concept_id <> ancestor_concept_id "
               "GROUP BY descendant_concept_id), ", V);
    add(q, "z AS (SELECT 1) SELECT m.yob, m.g, %s, m.rsv, m.ec, m.esv, m.county, "
           "m.af - DATE '1970-01-01', m.at - DATE '1970-01-01', obs.spans, %s, "
           "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, m.gsv, m.rc, %s, %s "
           "FROM m LEFT JOIN obs ON obs.person_id = m.person_id ",
        a->ancestor ? "COALESCE(rr.omb, m.rc)" : "m.rc", a->ppp ? "pay.spans" : "NULL",
        a->visit ? "vis.ed" : "NULL", a->visit ? "vis.ip" : "NULL", a->visit ? "vis.pc" : "NULL",
        a->visit ? "vis.tele" : "NULL", a->visit ? "vis.well" : "NULL", a->visit ? "vis.stays" : "NULL",
        a->visit && a->cost ? "cst.cents" : "NULL", a->cond ? "cnd.diab" : "NULL", a->cond ? "cnd.htn" : "NULL",
        a->cond ? "cnd.codes" : "NULL", a->meas ? "mes.a1c" : "NULL", a->meas ? "mes.sbp" : "NULL",
        a->meas ? "mes.dbp" : "NULL", a->obs ? "hrs.items" : "NULL",
        a->race_detail && a->vocab ? "rcc.concept_code" : "NULL",
        a->race_detail && a->vocab ? "ecc.concept_code" : "NULL");
    /* detailed race: the Race and Ethnicity vocabularies' concept_code is
     * the CDC Race & Ethnicity code (docs/sources.md) */
    if (a->race_detail && a->vocab)
        add(q, "LEFT JOIN %s.concept rcc ON rcc.concept_id = m.rc AND rcc.vocabulary_id IN ('Race', 'Ethnicity') "
               "LEFT JOIN %s.concept ecc ON ecc.concept_id = m.ec AND ecc.vocabulary_id IN ('Race', 'Ethnicity') ",
            V, V);
    if (a->ppp)
        add(q, "LEFT JOIN pay ON pay.person_id = m.person_id ");
    if (a->visit) {
        add(q, "LEFT JOIN vis ON vis.person_id = m.person_id ");
        if (a->cost)
            add(q, "LEFT JOIN cst ON cst.person_id = m.person_id ");
    }
    if (a->cond)
        add(q, "LEFT JOIN cnd ON cnd.person_id = m.person_id ");
    if (a->meas)
        add(q, "LEFT JOIN mes ON mes.person_id = m.person_id ");
    if (a->obs)
        add(q, "LEFT JOIN hrs ON hrs.person_id = m.person_id ");
    if (a->ancestor)
        add(q, "LEFT JOIN rr ON rr.id = m.rc ");
    /* members in person_id order: a stable order for the sums downstream */
    add(q, "ORDER BY m.person_id");
}

/* ---- rows -> records ------------------------------------------------------ */

struct ctx {
    const struct omop_options *o;
    struct profile *prof;
    struct avail a;
    int64_t y0, y1;               /* seconds */
    uint64_t row;
    struct code_map map;          /* [map.*] rules, hits into prof        */
    struct race_detail_maps rdmaps; /* the catalog's map. of race_detail  */
};

static const char *val(PGresult *r, int i, int col)
{
    return PQgetisnull(r, i, col) ? NULL : PQgetvalue(r, i, col);
}

static int64_t num(PGresult *r, int i, int col)
{
    const char *v = val(r, i, col);
    return v ? strtoll(v, NULL, 10) : 0;
}

static int is_zero(const char *concept)
{
    return !concept || !*concept || !strcmp(concept, "0");
}

/* A [map.*] rule for the concept id or, for concept 0, the source value:
 * its standard code (the hit counted), or -1. */
static int rule_of(struct ctx *c, int col, const char *concept, const char *source)
{
    int v = is_zero(concept) ? -1 : code_map_apply(&c->map, col, concept);
    if (v < 0 && is_zero(concept))
        v = code_map_apply(&c->map, col, source);
    return v;
}

/* Set when the person has a value (a concept other than 0, or a source
 * value) that gave no code. */
static int has_value(const char *concept, const char *source)
{
    return !is_zero(concept) || (source && *source);
}

static int race_of(struct ctx *c, const char *concept, const char *source, int *miss)
{
    static const struct { const char *id; int race; } omb[] = {
        {"8657", RACE_AIAN}, {"8515", RACE_ASIAN}, {"8516", RACE_BLACK}, {"8557", RACE_NHPI}, {"8527", RACE_WHITE},
    };
    int v = rule_of(c, COL_RACE, concept, source);
    if (v >= 0)
        return v;
    for (size_t i = 0; concept && i < sizeof omb / sizeof omb[0]; i++)
        if (!strcmp(concept, omb[i].id))
            return omb[i].race;
    *miss = has_value(concept, source);
    return RACE_UNKNOWN;
}

static int eth_of(struct ctx *c, const char *concept, const char *source, int *miss)
{
    int v = rule_of(c, COL_ETHNICITY, concept, source);
    if (v >= 0)
        return v;
    if (concept && !strcmp(concept, "38003563"))
        return ETH_HISPANIC;
    if (concept && !strcmp(concept, "38003564"))
        return ETH_NOT_HISPANIC;
    *miss = has_value(concept, source);
    return ETH_UNKNOWN;
}

/* Gender concepts 8532 F, 8507 M, 8521 other (X), 8551 unknown. */
static int sex_of(struct ctx *c, const char *concept, const char *source, int *miss)
{
    int v = rule_of(c, COL_SEX, concept, source);
    if (v >= 0)
        return v;
    if (concept && !strcmp(concept, "8532"))
        return SEX_F;
    if (concept && !strcmp(concept, "8507"))
        return SEX_M;
    if (concept && !strcmp(concept, "8521"))
        return SEX_X;
    *miss = (concept && strcmp(concept, "8551") && !is_zero(concept)) || (is_zero(concept) && source && *source);
    return SEX_U;
}

/* Detailed race and ethnicity responses (race_detail.h) of a person, read
 * only with a catalog that offers them: the concept_code of
 * race_concept_id and of ethnicity_concept_id (Race or Ethnicity
 * vocabulary), and race_source_value and ethnicity_source_value when each
 * is a list of responses (race_detail_list: catalog map entries, detailed,
 * minimum-category or CDC codes; another value is not read as responses).
 * A race concept other than the five OMB ones whose code is no response is
 * a detailed answer the table lacks: the member's detailed responses are
 * then unknown (race_aic keeps the minimum categories). Then the rule of
 * every source (race_detail_settle): an unknown race or ethnicity is
 * derived, responses that contradict them are left out. */
static void race_detail_row(struct ctx *c, PGresult *r, int i, struct member_record *m)
{
    static const char *const omb[] = {"8657", "8515", "8516", "8557", "8527"};
    uint32_t det = 0;
    uint8_t min = 0;
    int unk = 0;
    const char *rcode = val(r, i, Q_RACE_CODE), *ecode = val(r, i, Q_ETH_CODE);
    if (rcode && race_detail_lookup(&c->rdmaps, rcode, strlen(rcode), &det, &min) < 0) {
        const char *cid = val(r, i, Q_RACE_CID);
        unk = 1;
        for (size_t k = 0; cid && k < sizeof omb / sizeof omb[0]; k++)
            unk &= strcmp(cid, omb[k]) != 0;
    }
    if (ecode)
        race_detail_lookup(&c->rdmaps, ecode, strlen(ecode), &det, &min);
    const char *src[2] = {val(r, i, Q_RACE_SRC), val(r, i, Q_ETH_SRC)};
    for (int k = 0; k < 2; k++)
        if (src[k] && *src[k])
            race_detail_list(&c->rdmaps, src[k], strlen(src[k]), &det, &min);
    if (!min)
        return;
    int race = m->race, eth = m->ethnicity;
    const char *what;
    if (race_detail_settle(min, 1, 1, &race, &eth, &what) < 0) {
        c->prof->race_detail_dropped++;
        return;
    }
    c->prof->race_detail_members++;
    m->race = (uint8_t)race;
    m->ethnicity = (uint8_t)eth;
    m->race_det = unk ? 0 : det;
    m->race_min = min;
}

/* "a,b a,b ..." of epoch days (obs) or seconds (stays). */
static int pairs(const char *s, int64_t (*out)[2], int max)
{
    int n = 0;
    while (s && *s && n < max) {
        char *e;
        out[n][0] = strtoll(s, &e, 10);
        if (*e != ',')
            break;
        out[n][1] = strtoll(e + 1, &e, 10);
        n++;
        s = *e ? e + 1 : e;
    }
    return n;
}

#define MAX_SPANS 256

static int build_row(struct ctx *c, PGresult *r, int i, struct member_record *m, uint32_t *ccc_mask)
{
    const struct omop_options *o = c->o;
    struct profile *pr = c->prof;
    memset(m, 0, sizeof *m);
    *ccc_mask = 0;
    int age = o->year - (int)num(r, i, Q_YOB);
    m->age = (int16_t)(age >= 0 && age <= 120 ? age : -1);
    int miss = 0;
    m->sex = (uint8_t)sex_of(c, val(r, i, Q_GENDER), val(r, i, Q_GENDER_SRC), &miss);
    pr->map_misses[COL_SEX] += (uint64_t)miss;
    miss = 0;
    m->race = (uint8_t)race_of(c, val(r, i, Q_RACE), val(r, i, Q_RACE_SRC), &miss);
    pr->map_misses[COL_RACE] += (uint64_t)miss;
    miss = 0;
    m->ethnicity = (uint8_t)eth_of(c, val(r, i, Q_ETH), val(r, i, Q_ETH_SRC), &miss);
    pr->map_misses[COL_ETHNICITY] += (uint64_t)miss;
    if (c->a.race_detail)
        race_detail_row(c, r, i, m);
    const char *county = val(r, i, Q_COUNTY);
    int rule = -1;
    m->county = county && *county ? fhir_county(o->county_rules, o->n_county_rules, county, &rule) : COUNTY_UNKNOWN;
    if (county && *county && m->county == COUNTY_UNKNOWN)
        pr->map_misses[COL_COUNTY]++;
    m->language = LANG_UNKNOWN; /* unless a preferred-language answer (below) */
    m->disability = YNU_U;
    m->cmc = YNU_U;

    int64_t af = num(r, i, Q_AF) * DAY, at = num(r, i, Q_AT) * DAY;
    /* seconds to 1/10000 months, rounded half up once per member (cells.h) */
    int64_t ys = c->y1 - c->y0;
    int64_t alive = at - af;
    static int64_t sp[MAX_SPANS][2];
    int64_t obs = 0;
    int n = pairs(val(r, i, Q_OBS), sp, MAX_SPANS);
    for (int k = 0; k < n; k++)
        if (sp[k][1] > sp[k][0])
            obs += (sp[k][1] - sp[k][0]) * DAY;
    int64_t secs = obs < alive ? obs : alive;
    if (secs > ys)
        secs = ys;
    if (secs < 0)
        secs = 0;
    m->member_months = (int32_t)((secs * RECORD_MAX_MONTHS + ys / 2) / ys);
    /* payer: most months among the plans; none = uninsured time */
    m->payer = c->a.ppp ? PAYER_UNINSURED : PAYER_UNKNOWN;
    const char *ps = val(r, i, Q_PAYERS);
    if (ps) {
        double cov[PAYER__COUNT] = {0};
        char *dup = strdup(ps);
        if (!dup)
            return -1;
        for (char *save = NULL, *rec = strtok_r(dup, "\x1e", &save); rec; rec = strtok_r(NULL, "\x1e", &save)) {
            char *f[5] = {rec, NULL, NULL, NULL, NULL};
            for (int k = 1; k < 5; k++) {
                char *u = f[k - 1] ? strchr(f[k - 1], '\x1f') : NULL;
                if (u) {
                    *u = '\0';
                    f[k] = u + 1;
                }
            }
            if (!f[4])
                continue;
            int64_t a = strtoll(f[0], NULL, 10) * DAY, b = strtoll(f[1], NULL, 10) * DAY;
            /* [map.payer] on the concept id (or, for 0, the source value),
             * then the SOPT code, then the source value's text */
            int code = rule_of(c, COL_PAYER, f[4], f[3]);
            if (code < 0)
                code = *f[2] ? fhir_payer_sopt(f[2]) : fhir_payer_text(f[3]);
            if (code < 0)
                code = PAYER_OTHER;
            if (b > a)
                cov[code] += (double)(b - a) * 12.0 / ys;
        }
        free(dup);
        int best = -1;
        for (int k = 0; k < PAYER__COUNT; k++)
            if (cov[k] > 0 && (best < 0 || cov[k] > cov[best]))
                best = k;
        if (best >= 0)
            m->payer = (uint8_t)best;
    }
    m->ed_visits = (uint32_t)num(r, i, Q_ED);
    m->ip_admits = (uint32_t)num(r, i, Q_IP);
    m->primary_care_visits = (uint32_t)num(r, i, Q_PC);
    m->telehealth_visits = (uint32_t)num(r, i, Q_TELE);
    const char *w = val(r, i, Q_WELL);
    m->wellness_visit = w && w[0] == 't';
    n = pairs(val(r, i, Q_STAYS), sp, MAX_SPANS);
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            int64_t gap = sp[b][0] - sp[a][1];
            if (a != b && gap >= 0 && gap <= 30 * DAY) {
                m->ip_readmits_30d++;
                break;
            }
        }
    if (m->ip_readmits_30d > m->ip_admits)
        m->ip_readmits_30d = m->ip_admits;
    m->total_cost = num(r, i, Q_CENTS);
    const char *d = val(r, i, Q_DIAB), *h = val(r, i, Q_HTN);
    m->diabetes = d && d[0] == 't';
    m->hypertension = h && h[0] == 't';
    const char *codes = val(r, i, Q_CODES);
    for (const char *t = codes; t && *t;) {
        size_t l = strcspn(t, " ");
        if ((l == 8 && !strncmp(t, "44054006", 8)) || (l >= 3 && (!strncasecmp(t, "E10", 3) ||
            !strncasecmp(t, "E11", 3) || !strncasecmp(t, "E13", 3))))
            m->diabetes = 1;
        if ((l == 8 && (!strncmp(t, "59621000", 8) || !strncmp(t, "38341003", 8))) ||
            (l >= 3 && !strncasecmp(t, "I10", 3)))
            m->hypertension = 1;
        if (o->ccc)
            *ccc_mask |= ccc_classify(o->ccc, t, l);
        t += l;
        while (*t == ' ')
            t++;
    }
    if (o->ccc && m->age >= 0 && m->age < CCC_AGE_LIMIT)
        m->cmc = *ccc_mask ? YNU_Y : YNU_N;
    const char *a1c = val(r, i, Q_A1C), *sbp = val(r, i, Q_SBP), *dbp = val(r, i, Q_DBP);
    m->hba1c_poor_control = m->diabetes && (!a1c || strtod(a1c, NULL) > 9.0);
    m->bp_controlled = m->hypertension && sbp && dbp && strtod(sbp, NULL) < 140.0 && strtod(dbp, NULL) < 90.0;
    const char *items = val(r, i, Q_HRSN);
    if (items) {
        struct hrsn_flags hf = {0};
        char *dup = strdup(items);
        if (!dup)
            return -1;
        const char *lang = NULL; /* the year's last PRAPARE preferred-language answer */
        for (char *save = NULL, *rec = strtok_r(dup, "\x1e", &save); rec; rec = strtok_r(NULL, "\x1e", &save)) {
            char *u = strchr(rec, '\x1f');
            if (u)
                *u++ = '\0';
            fhir_hrsn_positive(&hf, rec, u && *u ? u : NULL);
            if (!strcmp(rec, "54899-0"))
                lang = u;
        }
        if (lang && *lang) {
            /* [map.language], then a language name, then a BCP 47 or ISO 639-3 code */
            int v = code_map_apply(&c->map, COL_LANGUAGE, lang);
            if (v < 0)
                v = synthea_language_name(lang, strlen(lang));
            if (v < 0 && fhir_language(lang) != LANG_UNKNOWN)
                v = fhir_language(lang);
            if (v < 0 && strcasecmp(lang, "und") != 0)
                pr->map_misses[COL_LANGUAGE]++;
            m->language = (uint16_t)(v < 0 ? LANG_UNKNOWN : v);
        }
        free(dup);
        m->hrsn_screened = 1;
        m->hrsn_food = hf.food;
        m->hrsn_housing = hf.housing;
        m->hrsn_transport = hf.transport;
        m->hrsn_utilities = hf.utilities;
        m->hrsn_safety = hf.safety;
    }
    code_map_hit(&c->map, COL_COUNTY, rule);
    return 0;
}

static int exec_ok(PGconn *db, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(db, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(err, errlen, "OMOP: %s", PQerrorMessage(db));
    PQclear(r);
    return ok ? 0 : -1;
}

static void unavailable(struct profile *p, uint32_t m, char *why, size_t whylen, const char *text)
{
    p->unavailable_measures |= m;
    size_t l = strlen(why);
    snprintf(why + l, whylen - l, "%s%s", l ? "; " : "", text);
}

int omop_read(const char *conninfo, const struct omop_options *o, record_sink_fn sink,
              void *sink_ctx, struct profile *prof, char *err, size_t errlen)
{
    struct ctx c;
    struct cols cols = {0};
    struct buf q = {0};
    PGconn *db = NULL;
    char *S = NULL, *V = NULL;
    int rc = -1;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.prof = prof;
    if (err && errlen)
        err[0] = '\0';
    if (!conninfo || !o || !sink || !prof) {
        snprintf(err, errlen, "omop: missing argument");
        return -1;
    }
    if (o->year < 1900 || o->year > 2200) {
        snprintf(err, errlen, "omop: year %d out of range 1900..2200", o->year);
        return -1;
    }
    c.y0 = record_days_from_civil(o->year, 1, 1) * DAY;
    c.y1 = record_days_from_civil(o->year + 1, 1, 1) * DAY;
    omop_redact(conninfo, prof->source, sizeof prof->source);
    snprintf(prof->period_seen, sizeof prof->period_seen, "%d", o->year);
    /* Parse first: libpq's parse errors quote the string, password and all. */
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    PQfreemem(perr);
    if (!opts) {
        snprintf(err, errlen, "OMOP: the connection string does not parse (libpq keyword=value pairs or a postgresql:// URI)");
        return -1;
    }
    PQconninfoFree(opts);
    db = PQconnectdb(conninfo);
    if (PQstatus(db) != CONNECTION_OK) {
        snprintf(err, errlen, "OMOP: cannot connect to %s: %s", prof->source, PQerrorMessage(db));
        goto out;
    }
    const char *schema = o->schema && *o->schema ? o->schema : "public";
    const char *vschema = o->vocabulary_schema && *o->vocabulary_schema ? o->vocabulary_schema : schema;
    S = PQescapeIdentifier(db, schema, strlen(schema));
    V = PQescapeIdentifier(db, vschema, strlen(vschema));
    if (!S || !V) {
        snprintf(err, errlen, "OMOP: bad schema name");
        goto out;
    }
    if (exec_ok(db, "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", err, errlen) != 0 ||
        load_cols(db, schema, vschema, &cols, err, errlen) != 0)
        goto out;
    static const char *const need_person[] = {"person_id", "year_of_birth", "month_of_birth", "day_of_birth",
                                              "gender_concept_id", "race_concept_id", "race_source_value",
                                              "ethnicity_concept_id", "ethnicity_source_value", "location_id"};
    for (size_t k = 0; k < sizeof need_person / sizeof need_person[0]; k++)
        if (!has(&cols, 0, "person", need_person[k])) {
            snprintf(err, errlen, "OMOP: %s.person.%s is missing (person is required)", schema, need_person[k]);
            goto out;
        }
    if (!has(&cols, 0, "observation_period", "observation_period_start_date") ||
        !has(&cols, 0, "observation_period", "observation_period_end_date")) {
        snprintf(err, errlen, "OMOP: %s.observation_period is missing (it gives member months and is required)", schema);
        goto out;
    }
    struct avail *a = &c.a;
    a->death = has(&cols, 0, "death", "death_date");
    a->gender_src = has(&cols, 0, "person", "gender_source_value");
    a->location = has(&cols, 0, "location", "county") && has(&cols, 0, "location", "location_id");
    a->vocab = has(&cols, 1, "concept", "concept_code") && has(&cols, 1, "concept", "vocabulary_id") &&
               has(&cols, 1, "concept", "concept_name");
    a->ancestor = has(&cols, 1, "concept_ancestor", "descendant_concept_id");
    a->ppp = has(&cols, 0, "payer_plan_period", "payer_plan_period_start_date") &&
             has(&cols, 0, "payer_plan_period", "payer_plan_period_end_date") &&
             has(&cols, 0, "payer_plan_period", "payer_concept_id") &&
             has(&cols, 0, "payer_plan_period", "payer_source_value");
    a->visit = has(&cols, 0, "visit_occurrence", "visit_concept_id") && has(&cols, 0, "visit_occurrence", "visit_start_date") &&
               has(&cols, 0, "visit_occurrence", "visit_end_date");
    a->visit_dt = has(&cols, 0, "visit_occurrence", "visit_start_datetime") && has(&cols, 0, "visit_occurrence", "visit_end_datetime");
    a->proc = has(&cols, 0, "procedure_occurrence", "procedure_source_value") && has(&cols, 0, "procedure_occurrence", "visit_occurrence_id");
    a->cost_allowed = has(&cols, 0, "cost", "amount_allowed");
    a->cost_charge = has(&cols, 0, "cost", "total_charge");
    a->cost_total = has(&cols, 0, "cost", "total_cost");
    a->cost = has(&cols, 0, "cost", "cost_event_id") && has(&cols, 0, "cost", "cost_domain_id") &&
              (a->cost_allowed || a->cost_charge || a->cost_total);
    a->cond = has(&cols, 0, "condition_occurrence", "condition_source_value") &&
              has(&cols, 0, "condition_occurrence", "condition_start_date") &&
              has(&cols, 0, "condition_occurrence", "condition_end_date") &&
              has(&cols, 0, "condition_occurrence", "condition_concept_id");
    a->cond_src_concept = has(&cols, 0, "condition_occurrence", "condition_source_concept_id");
    a->meas = has(&cols, 0, "measurement", "value_as_number") && has(&cols, 0, "measurement", "measurement_date") &&
              has(&cols, 0, "measurement", "measurement_source_value") && has(&cols, 0, "measurement", "measurement_concept_id");
    a->meas_dt = has(&cols, 0, "measurement", "measurement_datetime");
    a->obs = has(&cols, 0, "observation", "observation_date") && has(&cols, 0, "observation", "observation_source_value") &&
             has(&cols, 0, "observation", "value_as_string") && has(&cols, 0, "observation", "observation_concept_id") &&
             has(&cols, 0, "observation", "value_as_concept_id");
    a->obs_dt = has(&cols, 0, "observation", "observation_datetime");

    char why[256] = "";
    unavailable(prof, 1u << M_NO_SHOW | 1u << M_EXPERIENCE, why, sizeof why,
                "the OMOP CDM has no appointments (no_show) or experience survey");
    if (!a->visit)
        unavailable(prof, 1u << M_ED_RATE | 1u << M_IP_RATE | 1u << M_READMIT_30D | 1u << M_WELLNESS |
                    1u << M_TELEHEALTH_SHARE | 1u << M_COST_PMPM, why, sizeof why, "no visit_occurrence");
    else if (!a->proc)
        unavailable(prof, 1u << M_WELLNESS, why, sizeof why, "no procedure_occurrence (wellness)");
    if (a->visit && !a->cost)
        unavailable(prof, 1u << M_COST_PMPM, why, sizeof why, "no cost (cost_pmpm)");
    if (!a->cond || !a->meas)
        unavailable(prof, 1u << M_DIABETES_POOR_CONTROL | 1u << M_BP_CONTROL, why, sizeof why,
                    !a->cond ? "no condition_occurrence (diabetes_poor_control, bp_control)"
                             : "no measurement (diabetes_poor_control, bp_control)");
    if (!a->obs) {
        uint32_t mm = 0;
        for (int k = M_HRSN_SCREENING; k <= M_HRSN_ANY; k++)
            mm |= 1u << k;
        unavailable(prof, mm, why, sizeof why, "no observation (hrsn_*)");
    }
    snprintf(prof->unavailable_why, sizeof prof->unavailable_why, "%s", why);
    static const int mcols[] = {COL_COUNTY, COL_RACE, COL_ETHNICITY, COL_SEX, COL_LANGUAGE, COL_PAYER};
    char e[200];
    if (code_map_init_split(&c.map, o->rules, o->n_rules, o->county_rules, o->n_county_rules, mcols,
                            sizeof mcols / sizeof mcols[0], prof, e, sizeof e) != 0) {
        snprintf(err, errlen, "omop: %s", e);
        goto out;
    }
    a->race_detail = race_detail_wanted();
    if (a->race_detail && race_detail_maps_compile(&c.rdmaps, catalog_active(), e, sizeof e) < 0) {
        snprintf(err, errlen, "omop: %s", e);
        goto out;
    }
    build_query(&q, a, S, V, o->year);
    add(&q, "%s", "");
    if (q.oom) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    struct buf dq = {0};
    add(&dq, "DECLARE eq_members NO SCROLL CURSOR FOR %s", q.s);
    if (dq.oom) {
        free(dq.s);
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    int drc = exec_ok(db, dq.s, err, errlen);
    free(dq.s);
    if (drc != 0)
        goto out;
    for (;;) {
        PGresult *r = PQexec(db, "FETCH FORWARD 5000 FROM eq_members");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            snprintf(err, errlen, "OMOP: %s", PQerrorMessage(db));
            PQclear(r);
            goto out;
        }
        int n = PQntuples(r);
        if (n > 0 && PQnfields(r) != Q__COUNT) {
            snprintf(err, errlen, "OMOP: the roll-up returned %d columns, not %d", PQnfields(r), Q__COUNT);
            PQclear(r);
            goto out;
        }
        for (int i = 0; i < n; i++) {
            struct member_record m;
            uint32_t mask;
            c.row++;
            prof->rows_read++;
            if (build_row(&c, r, i, &m, &mask) != 0) {
                snprintf(err, errlen, "out of memory");
                PQclear(r);
                goto out;
            }
            if (o->ccc)
                profile_count_ccc(prof, m.cmc, mask);
            prof->rows_accepted++;
            sink(sink_ctx, &m, +1);
        }
        PQclear(r);
        if (n == 0)
            break;
    }
    exec_ok(db, "CLOSE eq_members", err, errlen);
    if (exec_ok(db, "COMMIT", err, errlen) != 0)
        goto out;
    rc = 0;
out:
    free(q.s);
    PQfreemem(S);
    PQfreemem(V);
    free_cols(&cols);
    PQfinish(db);
    code_map_free(&c.map);
    return rc;
}
