/*
 * report.h - the round report: results_dir/<round>/report.html, one
 * self-contained page (inline CSS and SVG, no script, no network) built
 * from what the round released and nothing else: the pooled cells of
 * pooled.csv (checked against the SHA-256 recorded at release), the
 * metrics computed from them, the round's terms and submission counts, the
 * per-organization cells only when the terms give them to analysts, and
 * the pooled cells of earlier released rounds (trends).
 *
 * Sections: the one-page leadership summary (cost of the gap, PMPM and
 * relativities, HEBA, the largest adverse gaps), one section per measure
 * (definition, unit, direction; estimates with 95 % CIs per group of every
 * stratifier and intersection; RR forest plot against the reference with
 * adverse / favourable marking; summary indices), variation between
 * organizations (funnel plots), data quality, trends, and how to recompute
 * every figure. Withheld and partial cells are shown as such with their
 * reason and the number of organizations behind them; every chart has a
 * data table.
 */
#ifndef EQ_COORD_REPORT_H
#define EQ_COORD_REPORT_H

#include <stddef.h>

#include "coord_config.h"
#include "metrics.h"
#include "store.h"

/* Writes the report of a closed, released round to out_path, or to
 * results_dir/<round>/report.html when out_path is NULL (atomically);
 * path (may be NULL) receives the path written. p gives the reference,
 * confidence, stratifier filter and payment parameters (unit costs, MSSP,
 * capitation). Returns 0; -1 for a user error (unknown round, round not
 * released yet; message in err); -2 for an internal failure or a released
 * file that differs from the release record (fail closed: nothing
 * written). */
int report_round_write(const struct coord_config *cfg, store_t *st, const char *round_id,
                       const struct metrics_params *p, const char *out_path, char *path,
                       size_t pathlen, char *err, size_t errlen);

#endif
