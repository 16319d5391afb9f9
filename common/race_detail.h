/*
 * race_detail.h - detailed race and ethnicity (OMB SPD 15, 2024) with its
 * hierarchy detail -> group -> minimum category (data/race-detail.tsv), and
 * the three stratifiers built on a member's responses (docs/catalog.md):
 *   race_detail  the detailed category "alone" (MULTIPLE, UNKNOWN);
 *   race_group   the intermediate level (EAST_ASIAN, ...; MULTIPLE, UNKNOWN);
 *   race_aic     "alone or in combination": every minimum category among
 *                the responses (not additive).
 * Shared by the node (extract reader, tally) and both sides' suppression
 * model and cells output (coarsening notes), so it lives in common/.
 *
 * A member's responses are two masks: `det`, bit d for each detailed code
 * d reported, and `min`, the minimum categories reported or implied by a
 * detailed code: bit RACE_AIAN..RACE_WHITE (catalog.h race codes 0..5) and
 * RD_MIN_HISPANIC.
 */
#ifndef EQ_RACE_DETAIL_H
#define EQ_RACE_DETAIL_H

#include <stddef.h>
#include <stdint.h>

#define RD_N 23                    /* detailed codes (data/race-detail.tsv)   */
#define RD_MULTIPLE RD_N           /* race_detail stratum: several responses  */
#define RD_UNKNOWN (RD_N + 1)      /* race_detail stratum: no detailed answer */
#define RD__COUNT (RD_N + 2)

#define RG_N 8                     /* groups                                  */
#define RG_MULTIPLE RG_N
#define RG_UNKNOWN (RG_N + 1)
#define RG__COUNT (RG_N + 2)

#define RD_MIN_HISPANIC 6          /* bit of `min` for Hispanic or Latino     */
#define RD_MIN_RACES 0x3fu         /* bits of the six race minimum categories */

/* race_aic strata: the seven SPD 15 minimum categories, then UNKNOWN (no
 * minimum category known). */
enum { AIC_AIAN, AIC_ASIAN, AIC_BLACK, AIC_HISPANIC, AIC_MENA, AIC_NHPI, AIC_WHITE,
       AIC_UNKNOWN, AIC__COUNT };

extern const char *const race_detail_codes[RD__COUNT];
extern const char *const race_group_codes[RG__COUNT];
extern const char *const race_aic_codes[AIC__COUNT];

/* CDC Race & Ethnicity Code Set code of detailed code d ("" when none). */
const char *race_detail_cdc(int d);
/* Group (0..RG_N-1) of detailed code d. */
int race_detail_group(int d);
/* Minimum category of detailed code d or group g: a race code (catalog.h,
 * RACE_ASIAN, RACE_MENA, ...) or RD_MIN_HISPANIC. */
int race_detail_minimum(int d);
int race_group_minimum(int g);

/* One response (case-insensitive): a CDC code of the file, a detailed code
 * (CHINESE), a minimum-category code (ASIAN, HISPANIC) or the CDC code of a
 * minimum category (2028-9). Adds it to *det and *min (a detailed code also
 * sets its minimum); returns 0, or -1 for an unknown value. */
int race_detail_response(const char *s, size_t len, uint32_t *det, uint8_t *min);

/* The strata of a member with responses (det, min). */
int race_detail_stratum(uint32_t det, uint8_t min);
int race_group_stratum(uint32_t det, uint8_t min);
/* The race_aic strata (bit = AIC_*) of a member with responses min whose
 * race and ethnicity columns are race, ethnicity (catalog.h codes): the
 * race minimum categories reported, else the race column when it is one of
 * them; HISPANIC when ethnicity is HISPANIC; UNKNOWN when neither. */
unsigned race_aic_mask(uint8_t min, int race, int ethnicity);
/* The race minimum categories (bits RACE_*) counted by race_aic for the
 * member: min's race bits, else the race column's when it is one. */
unsigned race_aic_races(uint8_t min, int race);

/* Checks a member's responses against the race and ethnicity columns:
 * 0 when consistent, else -1 with *what naming the column that contradicts
 * them ("race" or "ethnicity"). One race minimum category reported: race is
 * that one; two or more: race is MULTI; a Hispanic response: ethnicity is
 * HISPANIC. */
int race_detail_consistent(uint8_t min, int race, int ethnicity, const char **what);
/* race and ethnicity derived from the responses when those columns are
 * absent or empty (unknown): the one race reported, MULTI for several,
 * else unknown; HISPANIC for a Hispanic response, else unknown. */
int race_detail_race_of(uint8_t min, int race_unknown);
int race_detail_ethnicity_of(uint8_t min, int eth_unknown);

/* The catalog's map.LOCAL = CODE entries of race_detail (docs/catalog.md),
 * compiled: each CODE a response (race_detail_response). Shared by every
 * source that reads responses (extract column, FHIR, OMOP). */
#define RD_MAX_MAPS 128
struct race_detail_maps {
    int n;
    const char *from[RD_MAX_MAPS]; /* points into the catalog          */
    uint32_t det[RD_MAX_MAPS];
    uint8_t min[RD_MAX_MAPS];
};
struct catalog;
/* Compiles cat's entries (none for the built-in catalog; defined in
 * catalog_file.c, as is race_detail_wanted); 0, or -1 with a
 * message naming an entry whose CODE is no response. */
int race_detail_maps_compile(struct race_detail_maps *m, const struct catalog *cat, char *err,
                             size_t errlen);
/* One response: a map entry of m (may be NULL), else race_detail_response.
 * Adds it to *det and *min; 0, or -1 for an unknown value. */
int race_detail_lookup(const struct race_detail_maps *m, const char *s, size_t len,
                       uint32_t *det, uint8_t *min);
/* A list of responses separated by ';' or '|' (spaces and tabs around a
 * response dropped, empty ones skipped), each through race_detail_lookup.
 * Returns 0 with all of them added, or -1 at the first unknown one (then
 * *det and *min are unchanged). */
int race_detail_list(const struct race_detail_maps *m, const char *s, size_t len, uint32_t *det,
                     uint8_t *min);
/* The rule every source applies to a member's responses min and their race
 * and ethnicity (docs/catalog.md, "Relation to race and ethnicity"): where
 * derive_race is set and *race is RACE_UNKNOWN, *race becomes the race the
 * responses report (race_detail_race_of); likewise ethnicity; then
 * race_detail_consistent. Returns 0, or -1 with *what naming the
 * contradicted field (*race and *ethnicity then unchanged). */
int race_detail_settle(uint8_t min, int derive_race, int derive_ethnicity, int *race,
                       int *ethnicity, const char **what);
/* Whether the active catalog offers race_detail, race_group or race_aic:
 * only then do the sources read responses. */
int race_detail_wanted(void);

/* The suppression model's atoms (suppress.c): a member's detail atom is a
 * detailed code d alone (0..RD_N-1), several detailed codes of one group g
 * alone (RDA_GROUP0 + g), MULTIPLE otherwise (RDA_MM), or no detailed
 * response (RDA_UU). */
enum { RDA_GROUP0 = RD_N, RDA_MM = RD_N + RG_N, RDA_UU, RDA__COUNT };
int race_detail_atom(uint32_t det, uint8_t min);
/* Its race_detail and race_group strata. */
int race_detail_atom_detail(int a);
int race_detail_atom_group(int a);
/* Whether a member can have detail atom a, race_aic races c (bits
 * RACE_AIAN..RACE_WHITE, race_aic_races), race column r and ethnicity
 * column e as the extract reader accepts them (race_detail_consistent,
 * derived race and ethnicity): exactly the combinations some member has
 * (tests/test_race_detail.c enumerates both ways). */
int race_detail_atom_ok(int a, unsigned c, int r, int e);
/* Whether a member with races c and ethnicity e counts in race_aic
 * stratum k (race_aic_mask). */
int race_aic_has(unsigned c, int e, int k);

#endif
