/*
 * tally.h - one-pass aggregation of member records into equity cells.
 *
 * For every grouping the run asks for (the total, one-way stratifiers, and
 * two- and three-way intersections) the tally keeps one accumulator per stratum: the
 * additive statistics of catalog.h's channels (members, member months,
 * events, costs, squares). A record is turned into one vector of channel
 * contributions once, then added to one accumulator per grouping; so the
 * cost per record is a few hundred additions, with no allocation.
 *
 * Each reader worker has its own tally; tally_merge() adds them up.
 * tally_cells() turns the accumulators into a cell set (before suppression).
 */
#ifndef EQ_TALLY_H
#define EQ_TALLY_H

#include <stdint.h>

#include "cells.h"
#include "record.h"

/* The open code lists stay within the protocol's limits (catalog.h), which
 * the coordinator enforces on every submission. */
#define TALLY_MAX_AGE_BANDS CATALOG_MAX_AGE_BANDS
#define TALLY_MAX_INTERSECTIONS 32
#define TALLY_MAX_LANGUAGES CATALOG_MAX_LANGUAGES
#define TALLY_MAX_COUNTIES CATALOG_MAX_COUNTIES

struct tally_spec {
    /* Age bands: lower bounds in increasing order, the first must be 0;
     * band i covers [lo[i], lo[i+1]-1], the last is open ("75+"). */
    int age_band_lo[TALLY_MAX_AGE_BANDS];
    int n_age_bands;
    uint8_t measure_on[CATALOG_MAX_MEASURES];
    uint8_t stratifier_on[S__COUNT];    /* one-way tables (S_TOTAL: total)   */
    int inter[TALLY_MAX_INTERSECTIONS][CATALOG_INTER_DIM]; /* third S_TOTAL: two-way */
    int n_inter;
    /* Languages with fewer members than this are reported together as
     * "other" (measures.md: each language with enough members). */
    int language_min_members;
    /* Measures the source cannot feed (bit = measure id). */
    uint32_t unavailable;
};

/* Fills the built-in defaults of interfaces.md: every measure, every
 * one-way stratifier, the total, the six default intersections, the default
 * age bands, language_min_members = 11. */
void tally_spec_default(struct tally_spec *spec);

/* Label of age band i ("5-11", "75+") into buf. */
void tally_age_band_label(const struct tally_spec *spec, int i, char *buf, size_t len);

struct tally;

struct tally *tally_new(const struct tally_spec *spec);
void tally_destroy(struct tally **t);

/* Measures a single member can be left out of (record.unknown_measures):
 * those whose every channel is their own (catalog.h), so leaving a member
 * out changes no number another measure releases. A member with an unknown
 * input of any other measure (ed_rate, whose denominator is every member's
 * months) cannot be left out alone: the pipeline withholds that measure
 * for the whole input instead (not_available). */
#define TALLY_LEAVE_OUT_MEASURES (catalog_leave_out())

/* A record_sink_fn (extract.h): adds (sign +1) or takes back (sign -1) one
 * record. Records with member_months == 0 belong to no population and are
 * only counted. A record is left out of the measures of
 * TALLY_LEAVE_OUT_MEASURES that its unknown_measures names. */
void tally_add(void *t, const struct member_record *r, int sign);

/* Whether member r is in the population a file catalog's filter keeps
 * (struct cat_filter of catalog_def.h), as the tally decides it. */
struct cat_filter;
int tally_filter_holds(const struct cat_filter *f, const struct member_record *r);

/* Adds `from` into `into` (same spec). Returns 0, or -1 when the merged
 * tally would exceed the language or county capacity. */
int tally_merge(struct tally *into, const struct tally *from);

/* Non-zero when more distinct languages or counties were seen than the
 * tally can hold; the message says which. */
int tally_overflowed(const struct tally *t, char *msg, size_t len);

/* Records seen with member_months == 0. */
uint64_t tally_zero_months(const struct tally *t);

/* Marks measures the source cannot feed (bit = measure id): their cells
 * are emitted withheld as not_available, never as zero. */
void tally_set_unavailable(struct tally *t, uint32_t mask);

/* Builds the cell set: one cell per (measure on, table, stratum), numbers
 * filled, reason REASON_NONE, or REASON_NOT_AVAILABLE for measures the
 * source cannot feed. Returns NULL on no memory, or when a sum of costs
 * does not fit int64 cents (tally_overflowed() says so first). */
struct cellset *tally_cells(const struct tally *t);

#endif
