/*
 * metrics_params.h - the metric parameters of metrics.md section 6 and the
 * standard population of section 2, read from an INI file so that they
 * can be set per run (--params FILE) or per round
 * (results_dir/<round>/params.ini, else results_dir/params.ini for every
 * round), and the standard populations themselves (std_populations.c).
 *
 *   [metrics]
 *   conf = 0.95                 0.80 .. 0.999
 *   reference = best            best | largest | total | a stratum
 *   min_denominator = 30
 *   standard_population = us2000_11 | seer2000_19 | esp2013
 *   mssp_scaler = 1.0           quality scaler (absent: no mssp_points row)
 *   mssp_threshold = 0.20       0 .. 1
 *   mssp_cap = 10
 *   heba_top_pbpm = 30          USD per beneficiary per month, top band
 *   heba_bottom_pbpm = 6        USD taken per beneficiary per month, bottom band
 *   capitation_base = 500       USD; adds capitation rows
 *   [unit_cost]
 *   ed_rate = 1150              USD per event (or per member for proportions)
 *
 * Unknown sections, keys, measures and out-of-range values are errors
 * quoting file:line.
 */
#ifndef EQ_METRICS_PARAMS_H
#define EQ_METRICS_PARAMS_H

#include <stddef.h>

#include "coord_config.h"
#include "metrics.h"

/* Applies the settings of an INI file on top of *p. Returns 0, or -1 with
 * "file:line: message" in err (the file cannot be read: line 0). */
int metrics_params_load(struct metrics_params *p, const char *path, char *err, size_t errlen);

/* The parameters a round's metrics use: params_path when given (per run),
 * else results_dir/<round>/params.ini, else results_dir/params.ini, else
 * the defaults already in *p. Returns 0 or -1 (message in err). */
int metrics_params_for_round(const struct coord_config *cfg, const char *round_id,
                             const char *params_path, struct metrics_params *p, char *err,
                             size_t errlen);

/* Standard populations (std_populations.c): weights over the 11 age_std
 * groups of the cells (0, 1-4, 5-14, ..., 85+). A 19-group standard is
 * applied by summing its weights into those 11 groups, since nodes release
 * the 11 groups. */
enum std_population { STDPOP_US2000_11, STDPOP_SEER2000_19, STDPOP_ESP2013, STDPOP__COUNT };

const char *std_population_name(int id);
/* -1 when unknown. */
int std_population_find(const char *name);
/* Fills the 11 weights of a standard (AGESTD__COUNT). 0, or -1 for an
 * unknown id. */
int std_population_weights(int id, double out[AGESTD__COUNT]);

#endif
