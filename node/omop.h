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
    const struct code_rule *race_rules;    /* [map.race]: concept id or     */
    int n_race_rules;                      /* race_source_value -> RACE_*   */
    const struct code_rule *eth_rules;     /* [map.ethnicity], likewise     */
    int n_eth_rules;
    const struct code_rule *county_rules;  /* location.county names         */
    int n_county_rules;
    int strict;                            /* abort on the first bad row    */
    const struct ccc *ccc;                 /* cmc from conditions, or NULL  */
};

/* Connects with `conninfo` (libpq keyword/value string or postgresql://
 * URI), runs the roll-up and hands each member to sink(sink_ctx, r, +1).
 * The profile's source is the connection string without its password.
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
