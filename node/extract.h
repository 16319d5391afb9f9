/*
 * extract.h - the streaming reader of the member-level extract CSV
 * (extract.md): plain or gzip, RFC 4180, one pass, no per-field allocation.
 *
 * The reader validates every field, maps local codes through the
 * configuration's code maps, de-duplicates member ids, and hands each
 * accepted record to a sink (the tally). A plain file is split among worker
 * threads at line boundaries; each worker has its own sink, merged later.
 */
#ifndef EQ_EXTRACT_H
#define EQ_EXTRACT_H

#include <stdint.h>

#include "profile.h"
#include "record.h"

/* Canonical columns of the extract, in extract.md's order. */
enum extract_col {
    COL_MEMBER_ID, COL_PERIOD, COL_AGE, COL_SEX, COL_RACE, COL_ETHNICITY,
    COL_LANGUAGE, COL_PAYER, COL_ADI_DECILE, COL_DISABILITY, COL_CMC,
    COL_COUNTY, COL_MEMBER_MONTHS, COL_ED_VISITS, COL_IP_ADMITS,
    COL_IP_READMITS_30D, COL_PRIMARY_CARE_VISITS, COL_TELEHEALTH_VISITS,
    COL_SCHEDULED_APPTS, COL_NO_SHOWS, COL_WELLNESS_VISIT, COL_DIABETES,
    COL_HBA1C_POOR_CONTROL, COL_HYPERTENSION, COL_BP_CONTROLLED,
    COL_HRSN_SCREENED, COL_HRSN_FOOD, COL_HRSN_HOUSING, COL_HRSN_TRANSPORT,
    COL_HRSN_UTILITIES, COL_HRSN_SAFETY, COL_TOTAL_COST, COL_EXPERIENCE_SCORE,
    COL__COUNT
};

extern const char *const extract_column_names[COL__COUNT];
/* Column id for a canonical name, or -1. */
int extract_column_find(const char *name);

/* One code-map rule: a local value (case-insensitive) and the standard code
 * it stands for (e.g. race "2106-3" -> "WHITE"). */
struct code_rule {
    char from[48];
    char to[24];
};

struct extract_options {
    /* Header name of each canonical column in this source; NULL or "" means
     * the canonical name itself. */
    const char *column_name[COL__COUNT];
    /* Code maps per coded column (race, ethnicity, sex, payer, language,
     * disability, cmc); rules are tried before the standard codes. */
    const struct code_rule *rules[COL__COUNT];
    int n_rules[COL__COUNT];
    const char *period;   /* keep rows of this period only; NULL: the file
                             must hold a single period                      */
    int strict;           /* abort on the first bad row instead of skipping */
    int threads;          /* worker threads for plain files; 0 = 2          */
    int progress;         /* progress line on stderr for long inputs        */
};

/* The sink receives each accepted record, from worker `worker`, with
 * sign +1; a record found later to be a duplicate of an earlier line is
 * taken back with sign -1 (cells are additive, so this is exact). */
typedef void (*record_sink_fn)(void *sink_ctx, const struct member_record *r, int sign);

/* Reads `path` (a .csv or .csv.gz file). `sinks[w]` is the sink context of
 * worker w, for w < *nworkers; on return *nworkers holds how many workers
 * were used (1 for gzip). The profile is filled (caller zero-initialises and
 * later frees it). Returns 0, or -1 with a one-line message in err (file,
 * line, column) on a fatal error: unreadable, empty, binary or truncated
 * file, missing required column, a line over 1 MiB, or the first bad row in
 * strict mode. Nothing is written anywhere by the reader. */
int extract_read(const char *path, const struct extract_options *opts,
                 record_sink_fn sink, void **sinks, int *nworkers,
                 struct profile *profile, char *err, size_t errlen);

#endif
