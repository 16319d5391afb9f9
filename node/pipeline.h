/*
 * pipeline.h - the node's whole computation, from input to releasable
 * cells: read (extract CSV or Synthea), tally, build cells, suppress.
 * Used by `aggregate`, `preview`, `profile` and by the service for a round.
 */
#ifndef EQ_PIPELINE_H
#define EQ_PIPELINE_H

#include "cells.h"
#include "node_config.h"
#include "profile.h"
#include "suppress.h"

/* What kind of trouble stopped a run (pipeline_result.fail): the service
 * tells the coordinator that much, never the message, which may name a
 * file and line of the source. */
enum pipeline_fail {
    PIPELINE_FAIL_NONE = 0,
    PIPELINE_FAIL_CONFIG,      /* no input, period, code lists, bad options   */
    PIPELINE_FAIL_INPUT,       /* extract, Synthea or FHIR: unreadable, or an
                                  error in it that stops the read             */
    PIPELINE_FAIL_SOURCE,      /* OMOP: the database cannot be reached/queried */
    PIPELINE_FAIL_SUPPRESSION, /* suppression could not be completed          */
    PIPELINE_FAIL_INTERNAL,    /* out of memory, a sum beyond its range       */
};

struct pipeline_result {
    struct cellset *cells;          /* suppressed, ready to leave           */
    struct profile profile;         /* data-quality profile of the input    */
    struct suppress_report report;
    uint64_t zero_months;           /* records with member_months = 0       */
    double seconds_read, seconds_suppress;
    enum pipeline_fail fail;        /* set on PIPELINE_ERR                  */
};

enum {
    PIPELINE_OK = 0,
    PIPELINE_ERR = -1,     /* unreadable input, bad option, out of memory   */
    PIPELINE_NO_DATA = -2, /* no member of the period: nothing to release   */
};

/* Runs the pipeline with the configuration's input, period, k and
 * dominance. With suppress = 0 the cells are returned before suppression
 * (for the profile, which never leaves the site). Returns PIPELINE_OK, or
 * PIPELINE_ERR with a one-line message (file:line:column where it
 * applies), or PIPELINE_NO_DATA when no row of the period was accepted
 * (or none has member months): a header-only extract, or one of another
 * period, must never release all-zero cells. That message names no file
 * and quotes no value ("no data for period 2022: 3 rows read, 0 accepted,
 * 3 rejected (other_period 3)"), so it can be sent as a refusal reason.
 * On PIPELINE_ERR out->fail says what kind of trouble it was (kept after
 * the result is freed). */
int pipeline_run(const struct node_config *c, int suppress, int progress,
                 struct pipeline_result *out, char *err, size_t errlen);

void pipeline_result_free(struct pipeline_result *r);

/* Loads the CCC v2 code list and crosswalk the configuration names (or the
 * shipped ones). Returns 0 with *out (the caller's), or -1 with a message. */
struct ccc;
int pipeline_load_ccc(const struct node_config *c, struct ccc **out, char *err, size_t errlen);

#endif
