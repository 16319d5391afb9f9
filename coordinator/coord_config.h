/*
 * coord_config.h - equity-coordinator's settings (coordinator.ini): its
 * endpoints and limits, its identity (CA, CRL, certificates, keys, the
 * directory of enrolled node and analyst transport certificates), where
 * it keeps its database, audit log and results, and the defaults of the
 * rounds it opens. configs/coordinator.ini documents every key.
 *
 * Relative paths in the file are relative to the file's own directory, so
 * that a coordinator folder can be moved as a whole.
 */
#ifndef EQ_COORD_CONFIG_H
#define EQ_COORD_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "envelope.h"

struct coord_config {
    char path[1024];           /* where it was read from ("" = defaults)   */
    /* [coordinator] */
    char node_endpoint[256];
    char analyst_endpoint[256];
    int max_message_bytes;
    int max_connections_per_source;
    int poll_ms;
    /* [identity] */
    char ca[1024];
    char crl[1024];
    char transport_cert[1024];
    char transport_key[1024];
    char signing_cert[1024];
    char signing_key[1024];
    char enrolled_dir[1024];
    /* [store] */
    char database[1024];
    char audit_log[1024];
    char results_dir[1024];
    /* [round]: defaults of `round open` */
    char catalog[1024];      /* catalog file, "builtin", "" = default      */
    const struct catalog *cat;
    char measures[1024];
    char stratifiers[1024];
    char intersections[1024];
    int max_three_way;       /* three-way intersections a round may ask   */
    int k;
    int min_orgs;
    int deadline_days;
    int per_org_to_analysts;
    int allow_single_org;
    char agreement[512];
};

/* Loads defaults, then path (NULL = defaults only), resolves relative
 * paths and checks the [round] lists. Returns 0 or -1 with
 * "file:line: message" in err. */
int coord_config_load(struct coord_config *c, const char *path, char *err, size_t errlen);
/* coord_config_load with the catalog of --catalog (NULL: [coordinator]
 * catalog, else the default file, else the compiled-in one); the catalog is
 * made the active one before the [round] lists are read. */
int coord_config_load_with(struct coord_config *c, const char *path, const char *catalog,
                           char *err, size_t errlen);

/* Prints the effective settings (check-config). */
void coord_config_print(FILE *f, const struct coord_config *c);

/* What check-config checks beyond the syntax: secret keys mode 0600 and
 * matching their certificates, both certificates verify against CA + CRL
 * (transport: X25519, role coordinator; signing: Ed25519), the enrolled
 * directory loads, the folders of the database, audit log and results
 * exist. Prints what it verified to out (may be NULL). Returns 0, or -1
 * with "file:line: message" (the line of the offending key) in err. */
int coord_config_check(const struct coord_config *c, FILE *out, char *err, size_t errlen);

/* Fills the round parts of r from [round]: measures, stratifiers,
 * intersections, k, min_orgs, terms. Returns 0 or -1 with a message. */
int coord_config_round_defaults(const struct coord_config *c, struct round_request *r,
                                char *err, size_t errlen);

#endif
