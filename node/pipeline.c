/*
 * pipeline.c - input -> tally -> cells -> suppression.
 */
#include "pipeline.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "extract.h"
#include "synthea.h"
#include "tally.h"

#define MAX_WORKERS 64

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
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
    for (int m = 0; m < M__COUNT; m++) {
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
    int nworkers = c->threads < 1 ? 1 : c->threads > MAX_WORKERS ? MAX_WORKERS : c->threads;
    memset(out, 0, sizeof *out);
    if (!c->input[0]) {
        snprintf(err, errlen, "no input: give --input PATH or [input] path in the configuration");
        return -1;
    }
    for (int i = 0; i < nworkers; i++) {
        tallies[i] = tally_new(&c->spec);
        if (!tallies[i]) {
            snprintf(err, errlen, "cannot set up the tally (out of memory or bad age bands)");
            goto out;
        }
    }
    double t0 = now_seconds();
    if (c->format == FORMAT_SYNTHEA) {
        struct synthea_options so = {0};
        char *end;
        long year = c->period[0] ? strtol(c->period, &end, 10) : 0;
        if (!c->period[0] || *end || year < 1900 || year > 2200) {
            snprintf(err, errlen, "Synthea input needs --period YYYY (a calendar year), got \"%s\"", c->period);
            goto out;
        }
        so.year = (int)year;
        so.county_rules = c->county_rules;
        so.n_county_rules = c->n_county_rules;
        for (int col = 0; col < COL__COUNT; col++) {
            so.rules[col] = c->rules[col];
            so.n_rules[col] = c->n_rules[col];
        }
        so.strict = c->bad_rows == BADROWS_STRICT;
        if (synthea_read(c->input, &so, tally_add, tallies[0], &out->profile, err, errlen) != 0)
            goto out;
        nworkers = 1;
    } else {
        struct extract_options eo;
        node_config_extract_options(c, &eo);
        eo.threads = nworkers;
        eo.progress = progress;
        if (extract_read(c->input, &eo, tally_add, (void **)tallies, &nworkers, &out->profile,
                         err, errlen) != 0)
            goto out;
    }
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
        rc = PIPELINE_NO_DATA;
        goto out;
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
            goto out;
        }
    }
    rc = PIPELINE_OK;
out:
    for (int i = 0; i < MAX_WORKERS; i++)
        tally_destroy(&tallies[i]);
    if (rc != 0)
        pipeline_result_free(out);
    return rc;
}

void pipeline_result_free(struct pipeline_result *r)
{
    cellset_destroy(&r->cells);
    profile_free(&r->profile);
}
