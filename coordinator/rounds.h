/*
 * rounds.h - the rules of a reporting round (docs/protocol.md, security.md
 * "Rounds"): opening and signing a round request, answering a node's
 * HELLO, SUBMISSION and REFUSAL, an analyst's QUERY, the status of a
 * round, and closing it (pooling by plain addition, pool.h).
 *
 * The command-line tools and the daemon share only the database and the
 * audit log: `round open` stores the signed request, the daemon serves it.
 *
 * Test hook: when the environment variable EQ_TEST_CRASH_AFTER_COMMIT is
 * set to 1 at rounds_new, the daemon _exit(137)s right after a transaction
 * holding a new submission is committed and before its audit entry is
 * written and its ACK is sent (used by
 * tests/test_coordinator.c to prove that an acknowledged submission is
 * always stored and a resend after restart is a duplicate). Never set it
 * in production.
 */
#ifndef EQ_COORD_ROUNDS_H
#define EQ_COORD_ROUNDS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "coord_config.h"
#include "identity.h"
#include "store.h"

typedef struct rounds rounds_t;

/* --- command-line side ----------------------------------------------- */

/* Round options of `round open` that override the [round] defaults:
 * NULL / 0 = the default. Lists use the syntax of coordinator.ini. */
struct round_options {
    const char *measures, *stratifiers, *intersections;
    int k, min_orgs;
};

/* Opens a round for period (1-31 characters of [A-Za-z0-9_-]) with the
 * [round] defaults of cfg overridden by opt (may be NULL) and a deadline
 * (RFC 3339 "2025-03-31T23:59:59Z" or a date "2025-03-31" = end of that
 * day UTC; NULL = deadline_days from now; a deadline that is not in the
 * future is an error), signs the request with the coordinator's signing
 * key, stores it and audits "round_open" in one transaction. round_id
 * receives "<period>-r<n>-<4 hex>". Returns 0, -1 for a user error
 * (message in err), -2 for an internal failure. */
int rounds_open(const struct coord_config *cfg, store_t *st, const char *period,
                const char *deadline, const struct round_options *opt, char round_id[64],
                char *err, size_t errlen);

/* Closes an open round and releases it: pools the submissions that were
 * neither late nor of an organization whose certificate (enrolled
 * transport or the submission's signing one) is revoked now, applies the
 * release rules of the round's terms (release.h), writes
 * results_dir/<round>/pooled.csv, pooled.json and metrics.csv (atomic),
 * records the SHA-256 of pooled.csv (the release record) and audits
 * "round_close" (with marking it closed) and "release" (with the release
 * record, the SHA-256 of the three files). Resumable: a round closed
 * earlier whose release did not finish (crash, full disk) is finished.
 * With fewer poolable submissions than the terms' min_orgs the round is
 * left open and -3 returned, unless force. trust (may be NULL: loaded from
 * cfg) decides revocation. pooled_path (may be NULL) receives pooled.csv's
 * path. Returns 0, -1 user error (unknown, cancelled or released round),
 * -2 internal failure, -3 too few submissions. */
int rounds_close(const struct coord_config *cfg, store_t *st, const char *round_id, int force,
                 trust_t *trust, char *pooled_path, size_t pathlen, char *err, size_t errlen);

/* Cancels an open round (closed, never pooled or released; nodes are told
 * round_closed), audited "round_cancel" with reason. 0, -1, -2. */
int rounds_cancel(const struct coord_config *cfg, store_t *st, const char *round_id,
                  const char *reason, char *err, size_t errlen);

/* Moves an open round's deadline later (after the current one and now),
 * audited "round_extend". The signed request keeps its original deadline:
 * the coordinator's deadline decides what is late and when the daemon
 * closes the round. 0, -1, -2. */
int rounds_extend(const struct coord_config *cfg, store_t *st, const char *round_id,
                  const char *deadline, char *err, size_t errlen);

/* The daemon's deadline: closes (rounds_close, not forced) every open
 * round whose deadline has passed; a round that cannot be closed (too few
 * submissions, an error) is logged once and tried again only after its
 * deadline changes. */
void rounds_close_due(rounds_t *r);

/* Prints a round (or, with round_id NULL, every round: open, closed,
 * cancelled, closed with an unfinished release) and per organization:
 * submitted (time, sha256, late), refused (reason), held for approval on
 * site or failing on site (as the node reported it: since when, reason and
 * code), pending (enrolled node that has connected, per the audit log, but
 * not answered), never connected or revoked (enrolled, certificate on the
 * CRL: not expected). Returns 0, -1 unknown round, -2 internal failure. */
int rounds_status(const struct coord_config *cfg, store_t *st, const char *round_id, FILE *out,
                  char *err, size_t errlen);

/* Parses "YYYY-MM-DDTHH:MM:SSZ" or "YYYY-MM-DD" (23:59:59 UTC). 0 or -1. */
int rounds_parse_time(const char *s, int64_t *out);

/* --- daemon side --------------------------------------------------------- */

/* The daemon's round service over a store and a trust (both borrowed). */
rounds_t *rounds_new(const struct coord_config *cfg, store_t *st, trust_t *trust);
void rounds_destroy(rounds_t **r);

/* Called for each reply to the sender; returns 0 or -1. */
typedef int (*rounds_reply_fn)(void *ctx, const uint8_t *buf, size_t len);

/* Group commit of node messages. Between rounds_batch_begin and
 * rounds_batch_end, rounds_handle_node decides each message in order,
 * exactly as it would alone (a resend of a submission stored earlier in the
 * batch is a duplicate, a different one a conflict), but writes every new
 * submission and refusal of the batch in ONE store transaction (opened by
 * the first of them), and keeps the audit entries (rounds_audit included)
 * and the replies. rounds_batch_end then, in this order: commits; writes the
 * audit entries with one fsync (audit_append_many); calls each kept reply.
 * So an ACK never leaves before its submission is committed and its audit
 * entry written. If the commit fails nothing of the batch is stored: the
 * audit entries that record its outcomes are dropped, and every message
 * whose answer rested on the transaction is answered with ERROR "internal"
 * (resend) instead. The reply ctx pointers must stay valid until
 * rounds_batch_end. Returns 0, or -1 if the commit, the audit write or a
 * reply failed (logged). Outside a batch each rounds_handle_node call is a
 * batch of one. */
void rounds_batch_begin(rounds_t *r);
int rounds_batch_end(rounds_t *r);

/* An audit entry of the daemon (e.g. a connection): inside a batch kept
 * and written with the batch's entries, in order; otherwise appended now.
 * Takes the reference to details (a JSON object). Failures are logged. */
void rounds_audit(rounds_t *r, const char *event, json_t *details);

/* Handles one message from a node whose connection's User-Id is org:
 * HELLO -> the signed request of every open round org has not answered,
 * or an ACK with an empty round_id; SUBMISSION -> verified, checked and
 * stored, then ACK, or ERROR with a stable code (malformed, bad_signature,
 * unknown_round, round_closed, org_mismatch, request_mismatch,
 * not_requested, implausible, conflict); REFUSAL -> stored, ACK; NODE_STATUS (held /
 * failing, signed) -> verified as a refusal is, stored as the org's latest
 * status of an open round it has not answered (store_status_put), audited
 * "node_status", ACK (duplicate = the same as the latest: nothing stored),
 * or ERROR (unknown_round, round_closed, conflict = already answered,
 * org_mismatch, malformed, bad_signature, rate_limited). Every rejection is
 * logged and audited and leaves nothing stored, except that statuses over
 * the rate limit are audited once a minute per organization, with a
 * count. Inside a batch the reply
 * is kept until rounds_batch_end (see above). Returns 0, or -1 on an
 * internal failure (database); the caller keeps serving either way. */
int rounds_handle_node(rounds_t *r, const char *org, const uint8_t *buf, size_t len,
                       rounds_reply_fn reply, void *ctx);

/* Handles one message from an analyst (User-Id cn): QUERY -> QUERY_RESULT
 * with the released pooled cells or metrics as CSV, filtered, or ERROR
 * (unknown_round, not_released, bad_query, forbidden, malformed); every
 * query is audited as "query" (query.h). */
int rounds_handle_analyst(rounds_t *r, const char *cn, const uint8_t *buf, size_t len,
                          rounds_reply_fn reply, void *ctx);

#endif
