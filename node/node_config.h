/*
 * node_config.h - equity-node's settings (node.ini): threshold and
 * dominance, input, which measures/stratifiers/intersections to compute,
 * age bands, code maps and column names, bad-row policy, the node's own
 * release policy, and the service's identity and coordinator.
 */
#ifndef EQ_NODE_CONFIG_H
#define EQ_NODE_CONFIG_H

#include <stdio.h>

#include "extract.h"
#include "tally.h"

#define NODE_MAX_RULES 512

enum { FORMAT_EXTRACT, FORMAT_SYNTHEA, FORMAT_FHIR, FORMAT_OMOP };
enum { CMC_COLUMN, CMC_CCC };
enum { BADROWS_SKIP, BADROWS_STRICT };
enum { APPROVAL_AUTO, APPROVAL_MANUAL };

struct node_config {
    char path[1024];          /* where it was read from ("" = defaults)   */
    /* [node] */
    char org[128];
    int k;
    double dominance;
    int bad_rows;
    int threads;
    int language_min_members;
    char catalog[1024];       /* catalog file, "builtin", "" = default    */
    const struct catalog *cat; /* the catalog in use (set active)        */
    /* [input] */
    char input[1024];
    int format;
    char period[32];
    int cmc;                  /* CMC_COLUMN or CMC_CCC                     */
    char ccc_codes[1024];     /* CCC v2 ICD-10-CM list ("" = shipped one) */
    char ccc_crosswalk[1024]; /* SNOMED CT -> ICD-10-CM ("" = shipped one) */
    char omop_schema[128];    /* OMOP CDM tables                           */
    char omop_vocabulary_schema[128]; /* concept, concept_ancestor ("" = omop_schema) */
    double max_rejected_share; /* above it the service holds a round      */
    /* [report] */
    char measures[1024];
    char stratifiers[1024];
    char intersections[1024];
    char age_bands[256];
    /* [policy]: the node's own limits on what any round may ask. */
    int min_k;
    char allowed_measures[1024];
    char allowed_stratifiers[1024];
    char allowed_intersections[1024];
    int max_three_way;        /* three-way intersections a round may ask  */
    int approval;
    /* [coordinator] */
    char endpoint[256];
    char coordinator_cert[1024];
    int poll_seconds;         /* HELLO interval of the service            */
    /* [identity] */
    char ca[1024];
    char crl[1024];
    char transport_cert[1024];
    char transport_key[1024];
    char signing_cert[1024];
    char signing_key[1024];
    /* [store] */
    char store_dir[1024];
    int retry_max_seconds;

    /* Free sections. */
    char column_name[COL__COUNT][64];
    struct code_rule rules[COL__COUNT][NODE_MAX_RULES];
    int n_rules[COL__COUNT];
    struct code_rule county_rules[NODE_MAX_RULES]; /* Synthea county names */
    int n_county_rules;

    /* Derived from the lists above. */
    struct tally_spec spec;
    /* Line of each table setting in path (0: not set there), for messages. */
    int key_line[64];
};

/* Loads defaults, then path (NULL = defaults only), and derives the tally
 * spec. Relative paths in the file ([input] path, [coordinator]
 * certificate, [identity] files, [store] dir) are taken relative to the
 * file's folder. Returns 0 or -1 with "file:line: message" (the line of
 * the setting at fault). */
int node_config_load(struct node_config *c, const char *path, char *err, size_t errlen);
/* node_config_load with the catalog given on the command line (NULL: the
 * file's [node] catalog, else the default catalog file, else the compiled-
 * in one). The catalog is opened and made the active one (catalog.h)
 * before the measure lists are read. */
int node_config_load_with(struct node_config *c, const char *path, const char *catalog,
                          char *err, size_t errlen);

/* Line of "[section] key" in c->path, or 0 when the file does not set it. */
int node_config_key_line(const struct node_config *c, const char *section, const char *key);

/* The line of the setting a message starts with ("[identity] ca ..."), or 0. */
int node_config_message_line(const struct node_config *c, const char *msg);

/* check-config's file checks: the input exists (a file, or a folder for
 * Synthea), the store folder (or the folder that would hold it) exists,
 * each identity file set exists, and the coordinator endpoint is
 * tcp://HOST:PORT with PORT 1..65535. Returns 0, or -1 with
 * "file:line: [section] key: message". */
int node_config_check_files(const struct node_config *c, char *err, size_t errlen);

/* Fills reader options that point into c (c must outlive them). */
void node_config_extract_options(const struct node_config *c, struct extract_options *o);

/* 1 when input format (FORMAT_*) reads the [map.*] rules of column col
 * (COL_* of extract.h; county is COL_COUNTY): disability and cmc only an
 * extract has; the other maps every input reads. */
int node_config_map_applies(int col, int format);

/* Prints the effective settings (check-config); after each [map.*] header
 * a comment says which inputs read it, and why the configured one does
 * not when it does not. */
void node_config_print(FILE *f, const struct node_config *c);

/* Parses "race*disability, payer*language, race*disability*cmc" into
 * intersections (catalog_inter_parse: a two-way one has S_TOTAL third;
 * the same stratifiers twice in any order are refused); "race" lists into
 * flags. Exposed for the round-request policy check. Return 0 or -1. */
int node_config_parse_stratifiers(const char *list, unsigned char on[S__COUNT], char *err, size_t errlen);
int node_config_parse_intersections(const char *list, int pairs[][CATALOG_INTER_DIM], int max, int *n,
                                    char *err, size_t errlen);
int node_config_parse_measures(const char *list, unsigned char on[CATALOG_MAX_MEASURES], char *err, size_t errlen);

#endif
