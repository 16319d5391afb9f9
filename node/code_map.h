/*
 * code_map.h - the configuration's [map.*] rules as the Synthea, FHIR and
 * OMOP adapters apply them: each rule's target resolved once to its
 * standard code, a local value looked up (case-insensitively, surrounding
 * spaces ignored), and each rule's hits counted in the profile's
 * map_rules, so that `equity-node profile` shows them for every input.
 *
 * node_config.c refuses a rule whose target is not a standard code with
 * file:line; code_map_init checks again (the options may come from
 * elsewhere, e.g. a test or a fuzz target) and fails without file:line.
 * The extract reader compiles its own copy of the rules per worker thread.
 */
#ifndef EQ_CODE_MAP_H
#define EQ_CODE_MAP_H

#include <stddef.h>

#include "extract.h"
#include "profile.h"

struct code_map {
    const struct code_rule *rules[COL__COUNT]; /* borrowed from the options */
    int n[COL__COUNT];
    int *code[COL__COUNT];        /* standard code of each rule's target     */
    size_t base[COL__COUNT];      /* first entry of the column in map_rules */
    struct profile *prof;         /* borrowed                                */
};

/* Standard code of a rule target for column col: RACE_*, ETH_*, SEX_*,
 * PAYER_*, YNU_* (disability, cmc), record_lang_pack() ("und" is
 * LANG_UNKNOWN) or a county's FIPS number (5 digits, not 00000); -1 when
 * it is not one, or col has no code list. */
int code_map_target(int col, const char *to, size_t len);

/* Takes the rules of the columns in cols[0..ncols) (others are ignored),
 * resolves their targets and appends one entry per rule to prof->map_rules,
 * in cols order then rule order. m is the caller's; free it with
 * code_map_free (also after a failure). Returns 0, or -1 with "RULE rule
 * N: \"TO\" is not a standard RULE code" (or "out of memory") in err. */
int code_map_init(struct code_map *m, const struct code_rule *const rules[COL__COUNT],
                  const int n[COL__COUNT], const int *cols, size_t ncols,
                  struct profile *prof, char *err, size_t errlen);

/* code_map_init for an adapter's options, whose county rules are kept
 * apart from rules[] (node_config's [map.county]): county_rules stand in
 * for rules[COL_COUNTY]. */
int code_map_init_split(struct code_map *m, const struct code_rule *const rules[COL__COUNT],
                        const int n[COL__COUNT], const struct code_rule *county_rules,
                        int n_county_rules, const int *cols, size_t ncols,
                        struct profile *prof, char *err, size_t errlen);

/* Index of the rule of column col whose local value equals s[0..len)
 * (case-insensitive, both sides trimmed), or -1. s may be NULL. */
int code_map_find(const struct code_map *m, int col, const char *s, size_t len);

/* Standard code of rule i of column col (code_map_find's answer). */
int code_map_code(const struct code_map *m, int col, int i);

/* Counts one hit of rule i of column col in the profile (i < 0: nothing). */
void code_map_hit(struct code_map *m, int col, int i);

/* code_map_find on a NUL-terminated string; on a match counts the hit and
 * returns the rule's standard code, else -1. */
int code_map_apply(struct code_map *m, int col, const char *s);

void code_map_free(struct code_map *m);

#endif
