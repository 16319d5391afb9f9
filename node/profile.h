/*
 * profile.h - the data-quality profile of one input: rows read and rejected
 * per reason (with file:line:column examples), code-map hits and misses,
 * and which measures the input can feed at all.
 *
 * Adapters fill it while reading; `equity-node profile` prints it, and the
 * REaL completeness shares are derived from the tallied total cells.
 */
#ifndef EQ_PROFILE_H
#define EQ_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    BAD_FIELD_COUNT,    /* ragged row: more or fewer fields than the header */
    BAD_QUOTING,        /* unterminated or misplaced quote                  */
    BAD_TYPE,           /* not a number where one is needed                 */
    BAD_RANGE,          /* a number outside its range                       */
    BAD_CODE,           /* a code that is neither standard nor mapped       */
    BAD_INCONSISTENT,   /* e.g. ip_readmits_30d > ip_admits                 */
    BAD_DUPLICATE,      /* member_id seen before in this period             */
    BAD_PERIOD,         /* row of another period than the one asked for     */
    BAD__COUNT
} bad_reason;

const char *profile_reason_name(bad_reason r);

#define PROFILE_EXAMPLES 5

struct profile_example {
    uint64_t line;
    int column;          /* 1-based field number, 0 when not one field      */
    char field[40];      /* column name                                     */
    char message[160];   /* what is wrong; quotes the value (truncated)     */
};

struct profile_map_rule {
    int column;          /* COL_* of extract.h                               */
    char from[48];
    char to[24];
    uint64_t hits;
};

struct profile {
    char source[512];                 /* file or folder read               */
    uint64_t rows_read;               /* data rows seen (header excluded)  */
    uint64_t rows_accepted;           /* rows tallied                      */
    uint64_t rejected[BAD__COUNT];
    struct profile_example examples[BAD__COUNT][PROFILE_EXAMPLES];
    int n_examples[BAD__COUNT];
    /* Code maps: hits per rule, misses (values neither standard nor mapped)
     * per column. */
    struct profile_map_rule *map_rules;
    size_t n_map_rules;
    uint64_t map_misses[64];
    /* Empty means unknown (extract.md): accepted members with an empty
     * measure field, per column (COL_* of extract.h; a column absent from
     * the file is not counted: its measures are unavailable), and the
     * members left out of each measure for it (index = measure id). */
    uint64_t empty_fields[64];
    uint64_t left_out[32];
    /* Measures the source cannot feed (bit i = measure id i). */
    uint32_t unavailable_measures;
    char unavailable_why[1024];
    /* Identity columns (race_source, ethnicity_source, sexual_orientation,
     * gender_identity; docs/catalog.md) that the active catalog tallies but
     * the source lacks: every member is UNKNOWN there. "" when none. */
    char identity_why[256];
    /* Detailed race responses (race_detail.h) read from a FHIR or OMOP
     * source: members who gave some, and members whose responses
     * contradicted the race or ethnicity the source gives, whose responses
     * were therefore left out (race_detail UNKNOWN; docs/sources.md). */
    uint64_t race_detail_members, race_detail_dropped;
    /* The period the rows were read for (the asked one, or the single period
     * the file holds); "" when no row had one. */
    char period_seen[32];
    /* cmc derived with CCC v2 ([input] cmc = ccc): members classified
     * (under 21), those with any category, and per category (ccc.h order). */
    int ccc_on;
    uint64_t ccc_classified, ccc_any, ccc_category[16];
};

/* Counts one member classified with CCC v2: cmc is the record's YNU_*
 * value (U = not classified: 21 or older, or age unknown) and mask its
 * categories. */
void profile_count_ccc(struct profile *p, int cmc, uint32_t mask);

/* Puts the rejected rows per reason into a submission's meta (its k
 * already set): what a submission says about this source's quality (rows
 * of other periods are left out: they are not bad data). A
 * count below k is sent as "fewer than k" (wire.h). 0 or -1. */
struct submission_meta;
int profile_to_submission(const struct profile *p, struct submission_meta *meta);

/* Records one rejected row; keeps the first PROFILE_EXAMPLES examples. */
void profile_reject(struct profile *p, bad_reason r, uint64_t line, int column,
                    const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Adds b's counts into a (examples kept in line order, up to the limit). */
void profile_merge(struct profile *a, const struct profile *b);

uint64_t profile_rejected_total(const struct profile *p);

/* Share of the rows read that were rejected as bad (0..1): rows of another
 * period are not bad rows and count neither above nor below the line. 0
 * when nothing was read. */
double profile_rejected_share(const struct profile *p);

/* "other_period 3, range 1" (reasons with a count, in enum order), or
 * "none". Counts only: never a value. Always NUL-terminates. */
void profile_reject_summary(const struct profile *p, char *buf, size_t len);

void profile_free(struct profile *p);

#endif
