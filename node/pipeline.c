/*
 * pipeline.c - input -> tally -> cells -> suppression.
 */
#include "pipeline.h"

#include "catalog_file.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ccc.h"
#include "catalog.h"
#include "extract.h"
#include "fhir.h"
#include "log.h"
#include "omop.h"
#include "synthea.h"
#include "tally.h"

#define MAX_WORKERS 64

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int pipeline_load_ccc(const struct node_config *c, struct ccc **out, char *err, size_t errlen)
{
    char path[1100];
    snprintf(path, sizeof path, "%s", c->ccc_codes[0] ? c->ccc_codes : EQ_DATA_DIR "/ccc_v2_icd10cm.tsv");
    *out = ccc_load(path, err, errlen);
    if (!*out)
        return -1;
    snprintf(path, sizeof path, "%s",
             c->ccc_crosswalk[0] ? c->ccc_crosswalk : EQ_DATA_DIR "/ccc_snomed_icd10cm_synthea.tsv");
    if (ccc_add_crosswalk(*out, path, err, errlen) != 0) {
        ccc_destroy(out);
        return -1;
    }
    return 0;
}

/* Empty means unknown. A member with an unknown input is left out of a
 * measure whose channels are its own (the tally does that); for any other
 * measure (ed_rate: events over every member's months) leaving one member
 * out is not possible, and counting the unknown as 0 would bias the rate
 * down, so the measure is withheld for the whole input as not_available,
 * with the reason in the profile. */
static void withhold_unknown(struct profile *p)
{
    size_t used = strlen(p->unavailable_why);
    for (int m = 0; m < catalog_n_measures(); m++) {
        if (!p->left_out[m] || (TALLY_LEAVE_OUT_MEASURES & (1u << m)) ||
            (p->unavailable_measures & (1u << m)))
            continue;
        p->unavailable_measures |= 1u << m;
        if (used + 1 >= sizeof p->unavailable_why)
            continue;
        int n = snprintf(p->unavailable_why + used, sizeof p->unavailable_why - used,
                         "%s%s not available: %llu members have an empty (unknown) field it "
                         "needs, and its denominator is shared with other measures, so they "
                         "cannot be left out alone", used ? "; " : "", catalog_measure(m)->name,
                         (unsigned long long)p->left_out[m]);
        if (n > 0)
            used = used + (size_t)n < sizeof p->unavailable_why ? used + (size_t)n
                                                                : sizeof p->unavailable_why - 1;
    }
}

int pipeline_run(const struct node_config *c, int suppress, int progress,
                 struct pipeline_result *out, char *err, size_t errlen)
{
    int rc = PIPELINE_ERR;
    struct tally *tallies[MAX_WORKERS] = {0};
    struct ccc *ccc = NULL;
    int nworkers = c->threads < 1 ? 1 : c->threads > MAX_WORKERS ? MAX_WORKERS : c->threads;
    memset(out, 0, sizeof *out);
    if (!c->input[0]) {
        snprintf(err, errlen, "no input: give --input PATH or [input] path in the configuration");
        out->fail = PIPELINE_FAIL_CONFIG;
        return -1;
    }
    for (int i = 0; i < nworkers; i++) {
        tallies[i] = tally_new(&c->spec);
        if (!tallies[i]) {
            snprintf(err, errlen, "cannot set up the tally (out of memory or bad age bands)");
            out->fail = PIPELINE_FAIL_CONFIG;
            goto out;
        }
    }
    /* Code lists and the period come from the configuration. */
    out->fail = PIPELINE_FAIL_CONFIG;
    if (c->cmc == CMC_CCC && pipeline_load_ccc(c, &ccc, err, errlen) != 0)
        goto out;
    /* Rules this input does not read: say so rather than ignore them silently. */
    for (int col = 0; col < COL__COUNT; col++)
        if (c->n_rules[col] && !node_config_map_applies(col, c->format))
            log_warnx("[map.%s]: %d rule(s) not used: %s input has no %s field", extract_column_names[col],
                      c->n_rules[col], c->format == FORMAT_SYNTHEA ? "a Synthea" : c->format == FORMAT_FHIR
                      ? "a FHIR" : "an OMOP", extract_column_names[col]);
    double t0 = now_seconds();
    long year = 0;
    if (c->format != FORMAT_EXTRACT) {
        char *end;
        year = c->period[0] ? strtol(c->period, &end, 10) : 0;
        if (!c->period[0] || *end || year < 1900 || year > 2200) {
            snprintf(err, errlen, "%s input needs --period YYYY (a calendar year), got \"%s\"",
                     c->format == FORMAT_SYNTHEA ? "Synthea" : c->format == FORMAT_FHIR ? "FHIR" : "OMOP",
                     c->period);
            goto out;
        }
    }
    out->fail = c->format == FORMAT_OMOP ? PIPELINE_FAIL_SOURCE : PIPELINE_FAIL_INPUT;
    if (c->format == FORMAT_OMOP) {
        struct omop_options oo = {.year = (int)year, .schema = c->omop_schema,
                                  .vocabulary_schema = c->omop_vocabulary_schema,
                                  .county_rules = c->county_rules, .n_county_rules = c->n_county_rules,
                                  .strict = c->bad_rows == BADROWS_STRICT, .ccc = ccc};
        for (int col = 0; col < COL__COUNT; col++) {
            oo.rules[col] = c->rules[col];
            oo.n_rules[col] = c->n_rules[col];
        }
        if (omop_read(c->input, &oo, tally_add, tallies[0], &out->profile, err, errlen) != 0)
            goto out;
        nworkers = 1;
    } else if (c->format == FORMAT_FHIR) {
        struct fhir_options fo = {.year = (int)year, .county_rules = c->county_rules,
                                  .n_county_rules = c->n_county_rules,
                                  .strict = c->bad_rows == BADROWS_STRICT, .ccc = ccc};
        for (int col = 0; col < COL__COUNT; col++) {
            fo.rules[col] = c->rules[col];
            fo.n_rules[col] = c->n_rules[col];
        }
        if (fhir_read(c->input, &fo, tally_add, tallies[0], &out->profile, err, errlen) != 0)
            goto out;
        nworkers = 1;
    } else if (c->format == FORMAT_SYNTHEA) {
        struct synthea_options so = {0};
        so.year = (int)year;
        so.county_rules = c->county_rules;
        so.n_county_rules = c->n_county_rules;
        for (int col = 0; col < COL__COUNT; col++) {
            so.rules[col] = c->rules[col];
            so.n_rules[col] = c->n_rules[col];
        }
        so.strict = c->bad_rows == BADROWS_STRICT;
        so.ccc = ccc;
        if (synthea_read(c->input, &so, tally_add, tallies[0], &out->profile, err, errlen) != 0)
            goto out;
        nworkers = 1;
    } else {
        if (ccc) {
            snprintf(err, errlen, "[input] cmc = ccc needs a source with diagnoses (synthea, fhir, omop); "
                     "an extract carries cmc in its own column");
            out->fail = PIPELINE_FAIL_CONFIG;
            goto out;
        }
        struct extract_options eo;
        node_config_extract_options(c, &eo);
        eo.threads = nworkers;
        eo.progress = progress;
        if (extract_read(c->input, &eo, tally_add, (void **)tallies, &nworkers, &out->profile,
                         err, errlen) != 0)
            goto out;
    }
    out->fail = PIPELINE_FAIL_INTERNAL;
    withhold_unknown(&out->profile);
    for (int i = 1; i < nworkers; i++)
        if (tally_merge(tallies[0], tallies[i]) != 0)
            break;
    if (tally_overflowed(tallies[0], err, errlen))
        goto out;
    out->zero_months = tally_zero_months(tallies[0]);
    if (out->profile.rows_accepted <= out->zero_months) {
        /* No member of the period: releasing would publish zeros that
         * stand for nothing. */
        char why[256];
        profile_reject_summary(&out->profile, why, sizeof why);
        const char *period = c->period[0] ? c->period : out->profile.period_seen;
        snprintf(err, errlen, "no data for period %s: %llu rows read, %llu accepted%s, %llu "
                 "rejected (%s); nothing released", period[0] ? period : "(none)",
                 (unsigned long long)out->profile.rows_read,
                 (unsigned long long)out->profile.rows_accepted,
                 out->profile.rows_accepted ? " (all with 0 member months)" : "",
                 (unsigned long long)profile_rejected_total(&out->profile), why);
        out->fail = PIPELINE_FAIL_NONE;
        rc = PIPELINE_NO_DATA;
        goto out;
    }
    if (c->format != FORMAT_EXTRACT) {
        /* only an extract can carry the catalog's extra flag columns */
        unsigned flags = catalog_flag_measures(catalog_active());
        if (flags & ~out->profile.unavailable_measures) {
            size_t used = strlen(out->profile.unavailable_why);
            snprintf(out->profile.unavailable_why + used,
                     sizeof out->profile.unavailable_why - used,
                     "%sthe catalog's flag-column measures (only an extract has flag columns)",
                     used ? "; " : "");
        }
        out->profile.unavailable_measures |= flags;
    }
    tally_set_unavailable(tallies[0], out->profile.unavailable_measures);
    out->cells = tally_cells(tallies[0]);
    if (!out->cells) {
        snprintf(err, errlen, "out of memory building cells, or a cost sum beyond int64 cents");
        goto out;
    }
    out->seconds_read = now_seconds() - t0;
    snprintf(out->cells->org, sizeof out->cells->org, "%s", c->org);
    snprintf(out->cells->period, sizeof out->cells->period, "%s",
             c->period[0] ? c->period : out->profile.period_seen);
    out->cells->k = c->k;
    out->cells->dominance = c->dominance;
    if (suppress) {
        struct suppress_params sp = {.k = c->k, .dominance = c->dominance};
        double t1 = now_seconds();
        int src = suppress_apply(out->cells, &sp, &out->report);
        out->seconds_suppress = now_seconds() - t1;
        if (src != 0) {
            /* Nothing may leave when suppression could not be completed. */
            snprintf(err, errlen, "suppression failed: %s; nothing released", suppress_strerror(src));
            out->fail = PIPELINE_FAIL_SUPPRESSION;
            goto out;
        }
    }
    out->fail = PIPELINE_FAIL_NONE;
    rc = PIPELINE_OK;
out:
    for (int i = 0; i < MAX_WORKERS; i++)
        tally_destroy(&tallies[i]);
    ccc_destroy(&ccc);
    if (rc != 0)
        pipeline_result_free(out);
    return rc;
}

void pipeline_result_free(struct pipeline_result *r)
{
    cellset_destroy(&r->cells);
    profile_free(&r->profile);
}
