/*
 * wire.h - the submission codec: a cell set <-> the protobuf Submission of
 * proto/equity.proto.
 *
 * Decoding is for untrusted bytes from the network: every length, name,
 * number and reason is checked, and a failure says what was wrong.
 */
#ifndef EQ_WIRE_H
#define EQ_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "cells.h"

#define WIRE_FORMAT_VERSION 1
#define WIRE_MAX_CELLS 500000
#define WIRE_NONCE_LEN 16

#define WIRE_MAX_REJECTED 16

/* Rows a node rejected for one reason (Submission.rejected). */
struct wire_rejected {
    char reason[24];      /* lowercase name, e.g. "range"                  */
    uint64_t rows;        /* 0 when fewer_than_k                           */
    int fewer_than_k;     /* 1..k-1 rows: the number itself is not sent    */
};

struct submission_meta {
    char round_id[64];
    char org[128];
    char period[32];
    unsigned k;
    double dominance;
    uint8_t nonce[WIRE_NONCE_LEN];
    char created_at[32];
    char software[64];
    char request_sha256[65];
    struct wire_rejected rejected[WIRE_MAX_REJECTED];
    int n_rejected;
};

/* Fills meta from the cell set (org, round, period, k, dominance), a fresh
 * random nonce and the current time. */
int wire_meta_init(struct submission_meta *meta, const struct cellset *cs);

/* Adds `rows` rejected rows for `reason` to meta: a count in 1..k-1 (k =
 * meta->k) is recorded as fewer_than_k without the number; 0 rows adds
 * nothing. Returns 0, or -1 when the list is full or the name is not a
 * short lowercase word. */
int wire_meta_add_rejected(struct submission_meta *meta, const char *reason, uint64_t rows);

/* Serializes; *out is malloc'ed and the caller's to free. Withheld cells
 * carry no numbers; max_contrib is never serialized. Returns 0 or -1. */
int wire_submission_pack(const struct cellset *cs, const struct submission_meta *meta,
                         uint8_t **out, size_t *len);

/* Parses and validates a Submission (rejected rows: at most
 * WIRE_MAX_REJECTED distinct short lowercase reasons, no count in 1..k-1,
 * none with fewer_than_k and a number). On success *out is a new cell set
 * (caller owns) and meta is filled. Returns 0 or -1 with a message. */
int wire_submission_unpack(const uint8_t *buf, size_t len, struct cellset **out,
                           struct submission_meta *meta, char *err, size_t errlen);

/* Plausibility of released numbers (security.md step 4), for every number a
 * cell releases: finite, non-negative, counts whole; no released count in
 * [1, k-1] (members, events, numerator or denominator counts), no released
 * complement (denominator - numerator) in [1, k-1], numerator <= denominator
 * for proportions, nothing but zeros where there are no members, at most 12
 * member months per member; no pooled reason in an organization's cells.
 * Returns 0 or -1 with the first problem. */
int wire_cells_check(const struct cellset *cs, unsigned k, char *err, size_t errlen);

/* Whether a submission's cells are what its round asked for: the round's
 * period, and only the round's measures and tables. With the catalog's
 * limits on strata (catalog.h) this bounds a submission by its round.
 * Returns 0 or -1 with a message. */
struct round_request;
int wire_cells_fit_request(const struct cellset *cs, const struct round_request *req,
                           char *err, size_t errlen);

/* Writes the Submission payload of an offline aggregate to path (atomic). */
int cellset_write_pb(const struct cellset *cs, const char *path);

#endif
