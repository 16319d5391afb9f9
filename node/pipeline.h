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

struct pipeline_result {
    struct cellset *cells;          /* suppressed, ready to leave           */
    struct profile profile;         /* data-quality profile of the input    */
    struct suppress_report report;
    uint64_t zero_months;           /* records with member_months = 0       */
    double seconds_read, seconds_suppress;
};

/* Runs the pipeline with the configuration's input, period, k and
 * dominance. With suppress = 0 the cells are returned before suppression
 * (for the profile, which never leaves the site). Returns 0, or -1 with a
 * one-line message (file:line:column where it applies). */
int pipeline_run(const struct node_config *c, int suppress, int progress,
                 struct pipeline_result *out, char *err, size_t errlen);

void pipeline_result_free(struct pipeline_result *r);

/* Loads the CCC v2 code list and crosswalk the configuration names (or the
 * shipped ones). Returns 0 with *out (the caller's), or -1 with a message. */
struct ccc;
int pipeline_load_ccc(const struct node_config *c, struct ccc **out, char *err, size_t errlen);

#endif
