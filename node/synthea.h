/*
 * synthea.h - the Synthea CSV adapter: reads a Synthea CSV export folder
 * (patients, encounters, conditions, observations, payer_transitions,
 * payers) and produces one member_record per patient alive in a calendar
 * year, as the extract reader does for a member-level file (extract.md,
 * "Synthea CSV adapter").
 *
 * Both export layouts are read: the older one (payer_transitions with
 * START_YEAR/END_YEAR holding plain years or timestamps, no FIPS column)
 * and the newer one (START_DATE/END_DATE, FIPS in patients.csv);
 * observations.csv is optional. Patient ids, names, addresses and birth
 * dates stay inside this module: they are never logged and never quoted in
 * errors or in the profile (the message names file, line and column).
 */
#ifndef EQ_SYNTHEA_H
#define EQ_SYNTHEA_H

#include <stddef.h>

#include "ccc.h"
#include "extract.h"
#include "profile.h"
#include "record.h"

struct synthea_options {
    int year;                              /* calendar year, 1900..2200     */
    /* County name -> 5-digit FIPS rules from the configuration, tried
     * (case-insensitively, with or without a trailing " County") before the
     * built-in table of California's 58 counties. */
    const struct code_rule *county_rules;
    int n_county_rules;
    /* Code maps of the configuration for the other coded columns, indexed
     * by COL_* of extract.h: COL_RACE, COL_ETHNICITY, COL_SEX (local value
     * as patients.csv writes it, e.g. "white", "nonhispanic", "F"),
     * COL_LANGUAGE (the PRAPARE answer text, e.g. "Language other than
     * English" -> an ISO 639-3 code) and COL_PAYER (payers.csv NAME). Rules
     * are tried, case-insensitively and trimmed, before the built-in
     * mapping; a rule's target must be a standard code (else fatal). Other
     * columns' rules are ignored: Synthea has no such column. */
    const struct code_rule *rules[COL__COUNT];
    int n_rules[COL__COUNT];
    int strict;                            /* abort on the first bad row    */
    /* With a CCC v2 code list ([input] cmc = ccc), cmc of members under 21
     * is derived from conditions active in the year (ccc.h); else U. */
    const struct ccc *ccc;
};

/* Reads the export in `dir` and hands each member of year o->year to
 * sink(sink_ctx, record, +1), in patients.csv order, after all files are
 * read. The profile (zero-initialised by the caller, freed with
 * profile_free) receives: source = dir; rows_read = data rows of
 * patients.csv; rows_accepted = members handed to the sink; every rejected
 * row of any file (message starts with the file name); map misses per
 * extract column (COL_RACE, COL_ETHNICITY, COL_SEX, COL_COUNTY,
 * COL_LANGUAGE), counted once per member; one map_rules entry per rule
 * (county first, then race, ethnicity, sex, language, payer) with its hits
 * (members; payer rules: payers.csv rows); the measures Synthea cannot feed
 * (unavailable_measures, unavailable_why).
 *
 * Returns 0, or -1 with a one-line message in err on a fatal error: a bad
 * option, a missing required file or column ("PATH:1: missing required
 * column NAME"), an unreadable or empty file, or, with o->strict, the first
 * bad row ("PATH:LINE:COL: message"). Nothing is handed to the sink when
 * it fails. */
int synthea_read(const char *dir, const struct synthea_options *o,
                 record_sink_fn sink, void *sink_ctx, struct profile *prof,
                 char *err, size_t errlen);

/* record_lang_pack() code of a PRAPARE language answer naming a language
 * ("Spanish", "English", any case, trimmed), or -1 (also for "Language
 * other than English", which names none). Shared with the OMOP adapter. */
int synthea_language_name(const char *text, size_t len);

/* FIPS code (e.g. 6037) of a California county name ("Los Angeles County"
 * or "Los Angeles", any case), or COUNTY_UNKNOWN. */
int synthea_ca_county_fips(const char *name, size_t len);

#endif
