/*
 * metrics.h - the metrics engine: metrics.md sections 1-7 over cell sets,
 * written as the metrics CSV of section 8.
 *
 * The coordinator's `metrics` command (metrics_cli.c) reads a cells CSV,
 * pools it when it holds several organizations (metrics_pool), computes the
 * pooled metrics (metrics_compute) and the per-organization ones
 * (metrics_compute_orgs: funnel flags, heterogeneity, data quality), and
 * writes the rows (metrics_out_write_csv). The formulas themselves are in
 * metrics_stats.h.
 *
 * Rows: round,measure,stratifier,stratum,metric,value,lower,upper,
 * reference,flags,se,n_orgs,n_withheld,period,label,unit,better (the last
 * four: the round's period, and the measure's label, unit and better
 * direction from the catalog). A value that is not computed has
 * empty value, lower, upper and se and its reason in flags; it is never 0.
 * Per-organization rows name the organization in `reference` as "org:NAME".
 * Metric names beyond section 8's list (documented in docs/metrics.md):
 * `funnel` (an organization's estimate with the 95 % funnel limits at its
 * size), `het_q` and `het_p` (heterogeneity Q and its p-value, beside `i2`),
 * `heba_total` (the HEBA in dollars, beside `heba_pbpm`), `capitation`
 * (section 6's capitation_g = base * relativity_g, written only when a base
 * is given).
 *
 * The gap-closure incentive of section 6 compares two rounds of
 * per-organization cells (metrics_compute_incentive): one `incentive` row
 * per organization present in both.
 */
#ifndef EQ_METRICS_H
#define EQ_METRICS_H

#include <stddef.h>
#include <stdio.h>

#include "cells.h"

enum metrics_ref { METRICS_REF_BEST, METRICS_REF_LARGEST, METRICS_REF_TOTAL, METRICS_REF_VALUE };

struct metrics_params {
    double conf;                /* 0.80 .. 0.999 (default 0.95)                  */
    int reference;              /* enum metrics_ref (default best)               */
    char reference_value[128];  /* the stratum for METRICS_REF_VALUE              */
    char stratifier[64];        /* only this table ("race", "race*cmc"); "" all   */
    double min_denominator;     /* small_denominator below this (30)            */
    double min_count;           /* DSR needs this many events (10)               */
    int k;                      /* suppression threshold for completeness (11)  */
    double dq_min_completeness; /* dq_low_completeness below this (0.80)        */
    double mssp_scaler;         /* quality scaler; NaN: no mssp_points row      */
    double mssp_threshold;      /* 0.20                                           */
    double mssp_cap;            /* 10                                             */
    double unit_cost[CATALOG_MAX_MEASURES]; /* dollars per event for excess; 0 = not set     */
    double capitation_base;     /* dollars; capitation rows only when > 0 (NaN)  */
    double heba_top_pbpm;       /* HEBA: USD per month added per top member (30) */
    double heba_bottom_pbpm;    /* HEBA: USD per month taken per bottom one (6)  */
    int std_population;         /* enum std_population (metrics_params.h; 0 =
                                 * the 11-group 2000 US standard)               */
};

/* The unit of a measure's estimate, for people and for the `unit` column:
 * "% of eligible members" style strings per kind (proportion: "proportion
 * (0-1)", rate: "per 1,000 member-years", mean: "mean score", pmpm: "USD per
 * member per month", count: "members"). Borrowed, static. */
const char *metrics_measure_unit(int measure);
/* "higher", "lower" or "none" (the catalog's better direction). */
const char *metrics_better_name(int measure);

/* Fills the defaults of metrics.md. */
void metrics_params_default(struct metrics_params *p);
/* Sets the reference from "best", "largest", "total" or a stratum VALUE. */
int metrics_params_set_reference(struct metrics_params *p, const char *s);

/* One output row. NaN numbers and negative counts are written empty. */
struct metrics_row {
    char round[64];
    char measure[32];
    char stratifier[64];
    char stratum[256];
    char metric[16];
    char reference[160];
    char flags[160];
    double value, lower, upper, se;
    int n_orgs, n_withheld;
};

typedef struct metrics_out metrics_out;

metrics_out *metrics_out_new(void);
void metrics_out_destroy(metrics_out **out);
/* The period written in every row's `period` column ("" by default;
 * metrics_compute sets it from the cell set's period when it is empty). */
void metrics_out_set_period(metrics_out *out, const char *period);
size_t metrics_out_count(const metrics_out *out);
/* Borrowed pointer, valid until the next row is added. */
const struct metrics_row *metrics_out_row(const metrics_out *out, size_t i);
/* The first row matching every non-NULL argument, or NULL. */
const struct metrics_row *metrics_out_find(const metrics_out *out, const char *measure,
                                           const char *stratifier, const char *stratum,
                                           const char *metric, const char *reference);
/* Writes the header and the rows (%.10g). Returns 0 or -1 (errno). */
int metrics_out_write(const metrics_out *out, FILE *f);
/* Same, into a temporary file renamed over `path` when complete. */
int metrics_out_write_csv(const metrics_out *out, const char *path);

/* Sections 1-4 and 6 over one (pooled) cell set: estimates, DSRs, pairwise
 * disparities, summary indices, payment metrics. Cells must be sorted.
 * Appends rows to out. Returns 0, or -1 on no memory. */
int metrics_compute(const struct cellset *cs, const struct metrics_params *p,
                    metrics_out *out);

/* Section 7 for one organization's (or the pooled) cell set: REaL and
 * payer completeness, HRSN screening. Returns 0 or -1 (no memory). */
int metrics_compute_quality(const struct cellset *cs, const struct metrics_params *p,
                            metrics_out *out);

/* Section 5 over n organizations' cell sets that share the same tables (as
 * cells_read returns them): per-organization funnel rows and heterogeneity
 * per (measure, stratifier, stratum); then section 7 for each organization.
 * Returns 0 or -1 (no memory, or sets whose tables differ). */
int metrics_compute_orgs(struct cellset *const *orgs, int n, const struct metrics_params *p,
                         metrics_out *out);

/* Gap-closure incentive (section 6). D_i = organization i's `excess` of
 * the focal stratum of (measure, stratifier) against the reference of
 * metrics_params (exactly the row metrics_compute writes from that
 * organization's own cells; 0 when the focal stratum is itself the
 * reference), at baseline t0 and now t1. I_i = max(0, D_i,t0 - D_i,t1).
 * Mode share: payment_i = pool I_i / sum_k I_k (0 when the sum is 0);
 * mode earn: pool min(1, I_i / D_i,t0) (0 when D_i,t0 <= 0). */
enum metrics_incentive_mode { METRICS_INCENTIVE_SHARE, METRICS_INCENTIVE_EARN };

struct metrics_incentive {
    double pool;         /* dollars, > 0                                      */
    int mode;            /* enum metrics_incentive_mode                       */
    char measure[32];    /* a measure with a direction, not a mean ("ed_rate") */
    char stratifier[64]; /* a one-way table ("race")                          */
    char focal[128];     /* the focal stratum ("BLACK")                       */
};

enum {
    METRICS_ENOMEM = -1, /* out of memory                                      */
    METRICS_EINVAL = -2  /* parameters the incentive cannot use (message says) */
};

/* Checks the incentive parameters against the catalog and the reference:
 * a known measure whose excess is defined (a better direction; not a mean
 * or count), a one-way stratifier, a focal stratum, a pool > 0, a known
 * mode, a reference other than the focal stratum. Returns 0, or
 * METRICS_EINVAL with a message for people in err. */
int metrics_incentive_check(const struct metrics_incentive *ip, const struct metrics_params *p,
                            char *err, size_t errlen);

/* Writes one `incentive` row per organization present in both base[0..nb)
 * (baseline round) and now[0..nn) (current round), matched by org name, in
 * the order of `now`: round of t1, measure/stratifier/stratum of ip,
 * reference "org:NAME", value the payment. An organization whose excess
 * is not computed at t0 or t1 gets an empty value with that excess row's
 * flags (plus input_suppressed when its cell is withheld) and is left out
 * of the sum. Organizations in only one of the two lists are logged as a
 * warning and get no row. Sets must be sorted (as cells_read returns
 * them). Returns 0, METRICS_ENOMEM, or METRICS_EINVAL (parameters fail
 * metrics_incentive_check; err says why). */
int metrics_compute_incentive(struct cellset *const *base, int nb, struct cellset *const *now,
                              int nn, const struct metrics_params *p,
                              const struct metrics_incentive *ip, metrics_out *out, char *err,
                              size_t errlen);

/* Pools n cell sets that share the same tables: sums of the released cells,
 * n_orgs / n_withheld per cell; a cell no organization released keeps the
 * first organization's reason. Returns a new cellset (org "pooled", the
 * first set's round) or NULL (no memory, tables differ). */
struct cellset *metrics_pool(struct cellset *const *orgs, int n);

#endif
