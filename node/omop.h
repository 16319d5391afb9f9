/*
 * omop.h - the OMOP CDM 5.4 adapter: reads a CDM held in PostgreSQL
 * through libpq and produces one member_record per person alive in a
 * calendar year. The roll-up to one row per person runs as SQL inside the
 * database (one query, streamed through a cursor), so the node's memory
 * does not grow with the CDM; person ids never leave the database. The
 * mapping is in docs/sources.md.
 *
 * A read-only role is enough: the adapter opens a READ ONLY transaction
 * and only SELECTs. Tables or columns the CDM lacks make the measures that
 * need them not available (never zero); person and observation_period are
 * required.
 */
#ifndef EQ_OMOP_H
#define EQ_OMOP_H

#include <stddef.h>

#include "ccc.h"
#include "extract.h"
#include "profile.h"
#include "record.h"

struct omop_options {
    int year;                              /* calendar year, 1900..2200     */
    const char *schema;                    /* CDM tables ("public")         */
    const char *vocabulary_schema;         /* concept, concept_ancestor     */
    const struct code_rule *county_rules;  /* location.county names         */
    int n_county_rules;
    /* The other code maps, indexed by COL_* of extract.h, tried before the
     * built-in concepts: COL_RACE, COL_ETHNICITY and COL_SEX match the
     * person's *_concept_id or, when it is 0 or NULL, its *_source_value;
     * COL_PAYER matches payer_plan_period.payer_concept_id or, when it is 0
     * or NULL, payer_source_value; COL_LANGUAGE matches the answer of the
     * year's last PRAPARE "Preferred language" observation (LOINC 54899-0:
     * value_as_string, else value_as_concept_id's name; the CDM's person
     * has no language field). A target that is not a standard code is
     * fatal. Other columns' rules are ignored. */
    const struct code_rule *rules[COL__COUNT];
    int n_rules[COL__COUNT];
    int strict;                            /* abort on the first bad row    */
    const struct ccc *ccc;                 /* cmc from conditions, or NULL  */
};

/* Connects with `conninfo` (libpq keyword/value string or postgresql://
 * URI), runs the roll-up and hands each member to sink(sink_ctx, r, +1).
 * The profile's source is the connection string without its password;
 * it gets one map_rules entry per rule (county, race, ethnicity, sex,
 * language, payer) with its hits (members; payer rules: plan periods in the year)
 * and map misses per column (members whose value is neither a known
 * concept nor mapped).
 * Returns 0, or -1 with a message in err that never holds the password: a
 * connection string that does not parse, a failed connection, a missing
 * required table, or a failed query. */
int omop_read(const char *conninfo, const struct omop_options *o, record_sink_fn sink,
              void *sink_ctx, struct profile *prof, char *err, size_t errlen);

/* Writes conninfo with any password replaced by "(hidden)", as keyword/
 * value pairs, to out; an unparsable string becomes "(connection string
 * not shown: it does not parse)". */
void omop_redact(const char *conninfo, char *out, size_t outlen);

#endif
