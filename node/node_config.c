/*
 * node_config.c - the node's settings table and list parsing.
 */
#include "node_config.h"

#include "catalog_file.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "code_map.h"
#include "conf.h"
#include "omop.h"

static const char *const format_names[] = {"extract", "synthea", "fhir", "omop", NULL};
static const char *const badrow_names[] = {"skip", "strict", NULL};
static const char *const approval_names[] = {"auto", "manual", NULL};
static const char *const cmc_names[] = {"column", "ccc", NULL};

#define S(sec, key, field, def, req, help) \
    {sec, key, CONF_STR, offsetof(struct node_config, field), sizeof(((struct node_config *)0)->field), 0, 0, def, req, NULL, help}
#define I(sec, key, field, lo, hi, def, help) \
    {sec, key, CONF_INT, offsetof(struct node_config, field), 0, lo, hi, def, 0, NULL, help}
#define D(sec, key, field, lo, hi, def, help) \
    {sec, key, CONF_DOUBLE, offsetof(struct node_config, field), 0, lo, hi, def, 0, NULL, help}
#define E(sec, key, field, names, def, help) \
    {sec, key, CONF_ENUM, offsetof(struct node_config, field), 0, 0, 0, def, 0, names, help}

static const struct conf_key node_keys[] = {
    S("node", "org", org, "org:local", 0, "organization id (= certificate CN)"),
    I("node", "k", k, 2, 1000, "11", "threshold: counts 1..k-1 are withheld"),
    D("node", "dominance", dominance, 0.05, 1.0, "0.6", "largest member's share of a cost cell above which it is withheld"),
    E("node", "bad_rows", bad_rows, badrow_names, "skip", "skip bad rows (counted) or strict (abort)"),
    I("node", "threads", threads, 1, 64, "2", "reader threads for plain CSV files"),
    S("node", "catalog", catalog, "", 0, "catalog file (docs/catalog.md); builtin = the compiled-in one; empty = the default file"),
    I("node", "language_min_members", language_min_members, 0, 1000000, "11", "languages with fewer members are reported as other"),
    S("input", "path", input, "", 0, "extract CSV file, Synthea or FHIR folder, or OMOP connection string"),
    E("input", "format", format, format_names, "extract", "extract, synthea, fhir or omop"),
    S("input", "period", period, "", 0, "reporting period (Synthea: calendar year)"),
    E("input", "cmc", cmc, cmc_names, "column", "cmc from the source's cmc column, or derived from diagnoses with CCC v2 (ccc)"),
    S("input", "omop_schema", omop_schema, "public", 0, "schema of the OMOP CDM tables (--format omop)"),
    S("input", "omop_vocabulary_schema", omop_vocabulary_schema, "", 0, "schema of concept and concept_ancestor (default: omop_schema)"),
    S("input", "ccc_codes", ccc_codes, "", 0, "CCC v2 ICD-10-CM code list (default: the shipped data/ccc_v2_icd10cm.tsv)"),
    S("input", "ccc_crosswalk", ccc_crosswalk, "", 0, "SNOMED CT to ICD-10-CM crosswalk for CCC (default: the shipped Synthea one)"),
    D("input", "max_rejected_share", max_rejected_share, 0.0, 1.0, "0.05",
      "share of bad rows above which the service holds a round for on-site approval"),
    S("report", "measures", measures, "all", 0, "measure ids, or all"),
    S("report", "stratifiers", stratifiers, "all", 0, "one-way stratifiers, or all"),
    S("report", "intersections", intersections,
      "race*disability, race*cmc, race*payer, race*age_band, payer*language, ethnicity*language", 0,
      "two-way (race*cmc) or three-way (race*disability*cmc) intersections, or none"),
    S("report", "age_bands", age_bands, "0,5,12,18,26,45,65,75", 0, "lower bounds of the age bands"),
    I("policy", "min_k", min_k, 2, 1000, "11", "lowest threshold this node ever applies"),
    S("policy", "allowed_measures", allowed_measures, "all", 0, "measures a round may ask for"),
    S("policy", "allowed_stratifiers", allowed_stratifiers, "all", 0, "stratifiers a round may ask for"),
    S("policy", "allowed_intersections", allowed_intersections, "all", 0, "intersections a round may ask for"),
    I("policy", "max_three_way", max_three_way, 0, CATALOG_MAX_THREE_WAY, CATALOG_DEFAULT_THREE_WAY,
      "most three-way intersections a round (or [report]) may ask for"),
    E("policy", "approval", approval, approval_names, "auto", "answer rounds automatically, or hold for on-site approval"),
    S("coordinator", "endpoint", endpoint, "", 0, "tcp://host:port of the coordinator's node socket"),
    S("coordinator", "certificate", coordinator_cert, "", 0, "coordinator transport certificate (its CURVE key is pinned)"),
    I("coordinator", "poll_seconds", poll_seconds, 1, 3600, "2", "seconds between the service's requests for open rounds"),
    S("identity", "ca", ca, "", 0, "federation CA certificate"),
    S("identity", "crl", crl, "", 0, "federation CRL"),
    S("identity", "transport_cert", transport_cert, "", 0, "this node's transport certificate"),
    S("identity", "transport_key", transport_key, "", 0, "this node's X25519 secret key (mode 0600)"),
    S("identity", "signing_cert", signing_cert, "", 0, "this node's Ed25519 signing certificate"),
    S("identity", "signing_key", signing_key, "", 0, "this node's Ed25519 secret key (mode 0600)"),
    S("store", "dir", store_dir, "submissions", 0, "where copies of every submission are kept"),
    I("store", "retry_max_seconds", retry_max_seconds, 1, 3600, "60", "longest wait between resends"),
};

static const struct { const char *section; int col; } map_sections[] = {
    {"map.race", COL_RACE}, {"map.ethnicity", COL_ETHNICITY}, {"map.sex", COL_SEX},
    {"map.payer", COL_PAYER}, {"map.language", COL_LANGUAGE},
    {"map.disability", COL_DISABILITY}, {"map.cmc", COL_CMC}};

/* Which inputs read each map (docs/sources.md says how each adapter
 * applies it): bit FORMAT_* set when that format reads the column. */
#define ALL_FORMATS (1u << FORMAT_EXTRACT | 1u << FORMAT_SYNTHEA | 1u << FORMAT_FHIR | 1u << FORMAT_OMOP)
static const struct { int col; unsigned formats; const char *why_not; } map_inputs[] = {
    {COL_RACE, ALL_FORMATS, NULL},
    {COL_ETHNICITY, ALL_FORMATS, NULL},
    {COL_SEX, ALL_FORMATS, NULL},
    {COL_PAYER, ALL_FORMATS, NULL},
    {COL_LANGUAGE, ALL_FORMATS, NULL},
    {COL_DISABILITY, 1u << FORMAT_EXTRACT, "only an extract has a disability column"},
    {COL_CMC, 1u << FORMAT_EXTRACT, "only an extract has a cmc column"},
    {COL_COUNTY, ALL_FORMATS, NULL},
};

int node_config_map_applies(int col, int format)
{
    for (size_t i = 0; i < sizeof map_inputs / sizeof map_inputs[0]; i++)
        if (map_inputs[i].col == col)
            return format >= 0 && format <= FORMAT_OMOP && (map_inputs[i].formats >> format & 1u);
    return 0;
}

/* "# read by: extract, synthea, fhir, omop" and, when the configured format
 * does not read it, why. */
static void print_map_inputs(FILE *f, const struct node_config *c, int col)
{
    for (size_t i = 0; i < sizeof map_inputs / sizeof map_inputs[0]; i++) {
        if (map_inputs[i].col != col)
            continue;
        fprintf(f, "# read by:");
        int k = 0;
        for (int fmt = FORMAT_EXTRACT; fmt <= FORMAT_OMOP; fmt++)
            if (map_inputs[i].formats >> fmt & 1u)
                fprintf(f, "%s %s", k++ ? "," : "", format_names[fmt]);
        fprintf(f, "\n");
        if (!node_config_map_applies(col, c->format))
            fprintf(f, "# not used with format = %s: %s\n", format_names[c->format], map_inputs[i].why_not);
    }
}

static int free_section(void *ctx, const char *section, const char *key, const char *value,
                        char *err, size_t errlen)
{
    struct node_config *c = ctx;
    if (!strcmp(section, "columns")) {
        int col = extract_column_find(key);
        if (col < 0) {
            snprintf(err, errlen, "\"%.60s\" is not a column of the extract", key);
            return -1;
        }
        if (c->column_name[col][0]) {
            snprintf(err, errlen, "%s is set twice", key);
            return -1;
        }
        if (strlen(value) == 0 || strlen(value) >= sizeof c->column_name[col]) {
            snprintf(err, errlen, "%s: source column name must be 1..63 characters", key);
            return -1;
        }
        snprintf(c->column_name[col], sizeof c->column_name[col], "%s", value);
        return 0;
    }
    if (!strcmp(section, "map.county")) {
        if (c->n_county_rules >= NODE_MAX_RULES) {
            snprintf(err, errlen, "more than %d county rules", NODE_MAX_RULES);
            return -1;
        }
        if (code_map_target(COL_COUNTY, value, strlen(value)) < 0 ||
            strlen(key) >= sizeof c->county_rules[0].from) {
            snprintf(err, errlen, "%.40s: county must map to a 5-digit FIPS code, not \"%.20s\"", key, value);
            return -1;
        }
        for (int i = 0; i < c->n_county_rules; i++)
            if (!strcasecmp(c->county_rules[i].from, key)) {
                snprintf(err, errlen, "\"%.40s\" is mapped twice", key);
                return -1;
            }
        struct code_rule *r = &c->county_rules[c->n_county_rules++];
        snprintf(r->from, sizeof r->from, "%s", key);
        snprintf(r->to, sizeof r->to, "%s", value);
        return 0;
    }
    for (size_t i = 0; i < sizeof map_sections / sizeof map_sections[0]; i++) {
        if (strcmp(section, map_sections[i].section) != 0)
            continue;
        int col = map_sections[i].col;
        if (c->n_rules[col] >= NODE_MAX_RULES) {
            snprintf(err, errlen, "more than %d rules", NODE_MAX_RULES);
            return -1;
        }
        /* the same check the adapters make (code_map.c), here with file:line */
        if (code_map_target(col, value, strlen(value)) < 0) {
            snprintf(err, errlen, "%.40s = %.20s: \"%.20s\" is not a standard code", key, value, value);
            return -1;
        }
        if (strlen(key) >= sizeof c->rules[0][0].from) {
            snprintf(err, errlen, "local code \"%.40s...\" too long", key);
            return -1;
        }
        for (int i = 0; i < c->n_rules[col]; i++)
            if (!strcasecmp(c->rules[col][i].from, key)) {
                snprintf(err, errlen, "\"%.40s\" is mapped twice", key);
                return -1;
            }
        struct code_rule *r = &c->rules[col][c->n_rules[col]++];
        snprintf(r->from, sizeof r->from, "%s", key);
        snprintf(r->to, sizeof r->to, "%s", value);
        return 0;
    }
    snprintf(err, errlen, "unknown section (key \"%.60s\")", key);
    return -1;
}

/* Splits a comma/space separated list; calls fn on each item. */
static int each_item(const char *list, int (*fn)(const char *item, size_t len, void *ctx), void *ctx)
{
    const char *p = list;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != ',' && !isspace((unsigned char)*p))
            p++;
        int rc = fn(start, (size_t)(p - start), ctx);
        if (rc)
            return rc;
    }
    return 0;
}

struct list_ctx {
    unsigned char *on;
    int (*pairs)[CATALOG_INTER_DIM];
    int max, n;
    char *err;
    size_t errlen;
};

static int measure_item(const char *item, size_t len, void *vctx)
{
    struct list_ctx *lc = vctx;
    char name[64];
    if (len >= sizeof name) {
        snprintf(lc->err, lc->errlen, "measure name too long");
        return -1;
    }
    memcpy(name, item, len);
    name[len] = 0;
    if (!strcmp(name, "all")) {
        catalog_all_measures(lc->on);
        return 0;
    }
    int m = catalog_measure_find(name);
    if (m < 0) {
        snprintf(lc->err, lc->errlen, "unknown measure \"%s\"", name);
        return -1;
    }
    lc->on[m] = 1;
    return 0;
}

int node_config_parse_measures(const char *list, unsigned char on[CATALOG_MAX_MEASURES], char *err, size_t errlen)
{
    struct list_ctx lc = {.on = on, .err = err, .errlen = errlen};
    memset(on, 0, CATALOG_MAX_MEASURES);
    return each_item(list, measure_item, &lc);
}

static int strat_item(const char *item, size_t len, void *vctx)
{
    struct list_ctx *lc = vctx;
    if (len == 3 && !strncmp(item, "all", 3)) {
        for (int s = 0; s < S__COUNT; s++)
            lc->on[s] |= (unsigned char)catalog_stratifier_offered(s);
        return 0;
    }
    int s = catalog_stratifier_find(item, len);
    if (s < 0) {
        snprintf(lc->err, lc->errlen, "unknown stratifier \"%.*s\"", (int)(len > 60 ? 60 : len), item);
        return -1;
    }
    if (!catalog_stratifier_offered(s)) {
        snprintf(lc->err, lc->errlen, "stratifier %s needs a catalog that defines it "
                 "([stratifier %s], e.g. configs/catalog-identities.ini)",
                 catalog_stratifier_name(s), catalog_stratifier_name(s));
        return -1;
    }
    lc->on[s] = 1;
    return 0;
}

int node_config_parse_stratifiers(const char *list, unsigned char on[S__COUNT], char *err, size_t errlen)
{
    struct list_ctx lc = {.on = on, .err = err, .errlen = errlen};
    memset(on, 0, S__COUNT);
    int rc = each_item(list, strat_item, &lc);
    on[S_TOTAL] = 1; /* the overall total is always released */
    return rc;
}

static int inter_item(const char *item, size_t len, void *vctx)
{
    struct list_ctx *lc = vctx;
    if (len == 4 && !strncmp(item, "none", 4))
        return 0;
    int x[CATALOG_INTER_DIM];
    if (catalog_inter_parse(item, len, x, lc->err, lc->errlen) != 0 ||
        catalog_inter_offered(x, item, len, lc->err, lc->errlen) != 0)
        return -1;
    if (lc->n >= lc->max) {
        snprintf(lc->err, lc->errlen, "more than %d intersections", lc->max);
        return -1;
    }
    for (int i = 0; i < lc->n; i++)
        if (catalog_inter_same(lc->pairs[i], x)) {
            snprintf(lc->err, lc->errlen, "intersection \"%.*s\" listed twice", (int)(len > 60 ? 60 : len), item);
            return -1;
        }
    memcpy(lc->pairs[lc->n], x, sizeof x);
    lc->n++;
    return 0;
}

int node_config_parse_intersections(const char *list, int pairs[][CATALOG_INTER_DIM], int max, int *n,
                                    char *err, size_t errlen)
{
    struct list_ctx lc = {.pairs = pairs, .max = max, .err = err, .errlen = errlen};
    int rc = each_item(list, inter_item, &lc);
    *n = lc.n;
    return rc;
}

static int parse_age_bands(const char *list, struct tally_spec *spec, char *err, size_t errlen)
{
    const char *p = list;
    spec->n_age_bands = 0;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || v < 0 || v > 120) {
            snprintf(err, errlen, "age_bands: \"%.20s\" is not an age 0..120", p);
            return -1;
        }
        if (spec->n_age_bands >= TALLY_MAX_AGE_BANDS) {
            snprintf(err, errlen, "age_bands: more than %d bands", TALLY_MAX_AGE_BANDS);
            return -1;
        }
        if (spec->n_age_bands == 0 && v != 0) {
            snprintf(err, errlen, "age_bands: the first band must start at 0");
            return -1;
        }
        if (spec->n_age_bands > 0 && v <= spec->age_band_lo[spec->n_age_bands - 1]) {
            snprintf(err, errlen, "age_bands: lower bounds must increase (%ld after %d)", v,
                     spec->age_band_lo[spec->n_age_bands - 1]);
            return -1;
        }
        spec->age_band_lo[spec->n_age_bands++] = (int)v;
        p = end;
    }
    if (spec->n_age_bands == 0) {
        snprintf(err, errlen, "age_bands: empty");
        return -1;
    }
    return 0;
}

#define NKEYS (sizeof node_keys / sizeof node_keys[0])
_Static_assert(NKEYS <= sizeof ((struct node_config *)0)->key_line /
                        sizeof ((struct node_config *)0)->key_line[0], "key_line too small");

int node_config_key_line(const struct node_config *c, const char *section, const char *key)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(node_keys[i].section, section) && !strcmp(node_keys[i].name, key))
            return c->key_line[i];
    return 0;
}

int node_config_message_line(const struct node_config *c, const char *msg)
{
    char sec[32], key[64];
    if (!msg || sscanf(msg, "[%31[^]]] %63[a-z_]", sec, key) != 2)
        return 0;
    return node_config_key_line(c, sec, key);
}

/* Path settings, resolved against the configuration file's folder. */
static const size_t path_fields[] = {
    offsetof(struct node_config, input),          offsetof(struct node_config, coordinator_cert),
    offsetof(struct node_config, ca),             offsetof(struct node_config, crl),
    offsetof(struct node_config, transport_cert), offsetof(struct node_config, transport_key),
    offsetof(struct node_config, signing_cert),   offsetof(struct node_config, signing_key),
    offsetof(struct node_config, store_dir),      offsetof(struct node_config, ccc_codes),
    offsetof(struct node_config, ccc_crosswalk),  offsetof(struct node_config, catalog),
};

/* An OMOP input is a libpq connection string, not a path. */
static int input_is_conninfo(const struct node_config *c)
{
    return c->format == FORMAT_OMOP || strchr(c->input, '=') || strstr(c->input, "://");
}

static int resolve_paths(struct node_config *c, char *err, size_t errlen)
{
    const char *slash = strrchr(c->path, '/');
    if (!c->path[0] || !slash)
        return 0; /* the file is in the working directory */
    int dirlen = (int)(slash - c->path);
    for (size_t i = 0; i < sizeof path_fields / sizeof path_fields[0]; i++) {
        char *p = (char *)c + path_fields[i];
        if (!p[0] || p[0] == '/' || (path_fields[i] == offsetof(struct node_config, input) &&
                                     input_is_conninfo(c)) ||
            (path_fields[i] == offsetof(struct node_config, catalog) && !strcmp(p, "builtin")))
            continue;
        char buf[1024];
        int n = snprintf(buf, sizeof buf, "%.*s/%s", dirlen, c->path, p);
        if (n < 0 || (size_t)n >= sizeof buf) {
            snprintf(err, errlen, "%s: path \"%.60s\" too long once made absolute", c->path, p);
            return -1;
        }
        memcpy(p, buf, (size_t)n + 1);
    }
    return 0;
}

int node_config_load(struct node_config *c, const char *path, char *err, size_t errlen)
{
    return node_config_load_with(c, path, NULL, err, errlen);
}

int node_config_load_with(struct node_config *c, const char *path, const char *catalog,
                          char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (path)
        snprintf(c->path, sizeof c->path, "%s", path);
    if (conf_load_lines(path, node_keys, NKEYS, c, free_section, c, c->key_line, err,
                        errlen) != 0)
        return -1;
    if (resolve_paths(c, err, errlen) != 0)
        return -1;
    const char *where = path ? path : "built-in defaults";
    char e2[1400];
    if (catalog)
        snprintf(c->catalog, sizeof c->catalog, "%s", catalog);
    c->cat = catalog_open(c->catalog, e2, sizeof e2);
    if (!c->cat) {
        int line = catalog ? 0 : node_config_key_line(c, "node", "catalog");
        if (line)
            snprintf(err, errlen, "%s:%d: [node] catalog: %s", where, line, e2);
        else
            snprintf(err, errlen, "catalog: %s", e2);
        return -1;
    }
    catalog_set_active(c->cat);
    const char *bad = NULL;
    tally_spec_default(&c->spec);
    if (node_config_parse_measures(c->measures, c->spec.measure_on, e2, sizeof e2) != 0)
        bad = "measures";
    else if (node_config_parse_stratifiers(c->stratifiers, c->spec.stratifier_on, e2,
                                           sizeof e2) != 0)
        bad = "stratifiers";
    else if (node_config_parse_intersections(c->intersections, c->spec.inter,
                                             TALLY_MAX_INTERSECTIONS, &c->spec.n_inter, e2,
                                             sizeof e2) != 0)
        bad = "intersections";
    else if (parse_age_bands(c->age_bands, &c->spec, e2, sizeof e2) != 0)
        bad = "age_bands";
    if (bad) {
        int line = node_config_key_line(c, "report", bad);
        if (line)
            snprintf(err, errlen, "%s:%d: [report] %s: %s", where, line, bad, e2);
        else
            snprintf(err, errlen, "%s: built-in default of [report] %s: %s", where, bad, e2);
        return -1;
    }
    int n3 = catalog_inter_count_three((const int(*)[CATALOG_INTER_DIM])c->spec.inter, c->spec.n_inter);
    if (n3 > c->max_three_way) {
        int line = node_config_key_line(c, "report", "intersections");
        snprintf(err, errlen, "%s:%d: [report] intersections: %d three-way intersections, more than "
                 "[policy] max_three_way = %d", where, line, n3, c->max_three_way);
        return -1;
    }
    /* An intersection's one-way tables are its margins: they are released
     * with it (and suppression protects them together). */
    for (int i = 0; i < c->spec.n_inter; i++)
        for (int d = 0; d < catalog_inter_ndim(c->spec.inter[i]); d++)
            c->spec.stratifier_on[c->spec.inter[i][d]] = 1;
    if (c->k < c->min_k) {
        /* the line of whichever of the two the file sets (k first) */
        int kl = node_config_key_line(c, "node", "k"), ml = node_config_key_line(c, "policy", "min_k");
        snprintf(err, errlen, "%s:%d: [node] k = %d is below the policy's min_k = %d", where,
                 kl ? kl : ml, c->k, c->min_k);
        return -1;
    }
    c->spec.language_min_members = c->language_min_members;
    return 0;
}

void node_config_extract_options(const struct node_config *c, struct extract_options *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 0; i < COL__COUNT; i++) {
        o->column_name[i] = c->column_name[i][0] ? c->column_name[i] : NULL;
        o->rules[i] = c->rules[i];
        o->n_rules[i] = c->n_rules[i];
    }
    /* [map.county]: local county names -> 5-digit FIPS, for extracts too */
    o->rules[COL_COUNTY] = c->county_rules;
    o->n_rules[COL_COUNTY] = c->n_county_rules;
    o->period = c->period[0] ? c->period : NULL;
    o->strict = c->bad_rows == BADROWS_STRICT;
    o->threads = c->threads;
}

void node_config_print(FILE *f, const struct node_config *c)
{
    fprintf(f, "# effective settings of %s\n", c->path[0] ? c->path : "(built-in defaults)");
    /* An OMOP connection string may hold a password: print it without. */
    struct node_config *shown = c->format == FORMAT_OMOP ? malloc(sizeof *shown) : NULL;
    if (shown) {
        *shown = *c;
        omop_redact(c->input, shown->input, sizeof shown->input);
        conf_print(f, node_keys, NKEYS, shown);
        free(shown);
    } else if (c->format == FORMAT_OMOP) {
        fprintf(f, "# (out of memory: settings not printed)\n");
    } else {
        conf_print(f, node_keys, NKEYS, c);
    }
    int any = 0;
    for (int i = 0; i < COL__COUNT; i++)
        if (c->column_name[i][0]) {
            if (!any++)
                fprintf(f, "\n[columns]\n");
            fprintf(f, "%s = %s\n", extract_column_names[i], c->column_name[i]);
        }
    for (size_t s = 0; s < sizeof map_sections / sizeof map_sections[0]; s++) {
        int col = map_sections[s].col;
        if (!c->n_rules[col])
            continue;
        fprintf(f, "\n[%s]\n", map_sections[s].section);
        print_map_inputs(f, c, col);
        for (int i = 0; i < c->n_rules[col]; i++)
            fprintf(f, "%s = %s\n", c->rules[col][i].from, c->rules[col][i].to);
    }
    if (c->n_county_rules) {
        fprintf(f, "\n[map.county]\n");
        print_map_inputs(f, c, COL_COUNTY);
        for (int i = 0; i < c->n_county_rules; i++)
            fprintf(f, "%s = %s\n", c->county_rules[i].from, c->county_rules[i].to);
    }
}

/* ---- check-config: files and endpoint ------------------------------------- */

static int fail_at(const struct node_config *c, char *err, size_t errlen, const char *sec,
                   const char *key, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int fail_at(const struct node_config *c, char *err, size_t errlen, const char *sec,
                   const char *key, const char *fmt, ...)
{
    char m[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    int line = node_config_key_line(c, sec, key);
    if (line)
        snprintf(err, errlen, "%s:%d: [%s] %s: %s", c->path, line, sec, key, m);
    else
        snprintf(err, errlen, "%s: [%s] %s (default): %s", c->path[0] ? c->path : "defaults",
                 sec, key, m);
    return -1;
}

int node_config_check_files(const struct node_config *c, char *err, size_t errlen)
{
    struct stat st;
    if (c->input[0] && !input_is_conninfo(c)) {
        if (stat(c->input, &st) != 0)
            return fail_at(c, err, errlen, "input", "path", "%s: %s", c->input, strerror(errno));
        if ((c->format == FORMAT_SYNTHEA || c->format == FORMAT_FHIR) && !S_ISDIR(st.st_mode))
            return fail_at(c, err, errlen, "input", "path", "%s is not a folder (format = %s "
                           "reads a folder of %s files)", c->input,
                           c->format == FORMAT_SYNTHEA ? "synthea" : "fhir",
                           c->format == FORMAT_SYNTHEA ? "Synthea CSV" : "FHIR Bulk Data NDJSON");
        if (c->format == FORMAT_EXTRACT && !S_ISREG(st.st_mode))
            return fail_at(c, err, errlen, "input", "path", "%s is not a file", c->input);
    }
    if (c->store_dir[0] && stat(c->store_dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return fail_at(c, err, errlen, "store", "dir", "%s is not a folder", c->store_dir);
    } else if (c->store_dir[0]) {
        char parent[1024];
        snprintf(parent, sizeof parent, "%s", c->store_dir);
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent) {
            *slash = '\0';
            if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode))
                return fail_at(c, err, errlen, "store", "dir", "%s does not exist, nor does the "
                               "folder %s that would hold it", c->store_dir, parent);
        }
    }
    const struct { const char *sec, *key, *value; } files[] = {
        {"coordinator", "certificate", c->coordinator_cert}, {"identity", "ca", c->ca},
        {"identity", "crl", c->crl}, {"identity", "transport_cert", c->transport_cert},
        {"identity", "transport_key", c->transport_key},
        {"identity", "signing_cert", c->signing_cert}, {"identity", "signing_key", c->signing_key},
        {"input", "ccc_codes", c->ccc_codes}, {"input", "ccc_crosswalk", c->ccc_crosswalk},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (!files[i].value[0])
            continue;
        if (stat(files[i].value, &st) != 0)
            return fail_at(c, err, errlen, files[i].sec, files[i].key, "%s: %s", files[i].value,
                           strerror(errno));
        if (!S_ISREG(st.st_mode))
            return fail_at(c, err, errlen, files[i].sec, files[i].key, "%s: not a file",
                           files[i].value);
    }
    if (c->endpoint[0]) {
        const char *e = c->endpoint;
        if (strncmp(e, "tcp://", 6) != 0)
            return fail_at(c, err, errlen, "coordinator", "endpoint",
                           "\"%s\" is not tcp://HOST:PORT", e);
        const char *colon = strrchr(e + 6, ':');
        char *end;
        errno = 0;
        long port = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || colon == e + 6 || errno || end == colon + 1 || *end || port < 1 ||
            port > 65535)
            return fail_at(c, err, errlen, "coordinator", "endpoint",
                           "\"%s\": the port must be a number 1..65535 (tcp://HOST:PORT)", e);
    }
    return 0;
}
