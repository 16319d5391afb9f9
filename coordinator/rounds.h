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

/* --- command-line side ----------------------------------------------- */

/* Opens a round for period (1-31 characters of [A-Za-z0-9_-]) with the
 * [round] defaults of cfg and a deadline (RFC 3339 "2025-03-31T23:59:59Z"
 * or a date "2025-03-31" = end of that day UTC; NULL = deadline_days from
 * now), signs the request with the coordinator's signing key, stores it and
 * audits "round_open". round_id receives "<period>-r<n>-<4 hex>". Returns
 * 0, -1 for a user error (message in err), -2 for an internal failure. */
int rounds_open(const struct coord_config *cfg, store_t *st, const char *period,
                const char *deadline, char round_id[64], char *err, size_t errlen);

/* Closes an open round, pools the submissions that were not late and
 * applies the release rules of the round's terms (release.h), writes
 * results_dir/<round>/pooled.csv, pooled.json and metrics.csv (atomic),
 * records the SHA-256 of pooled.csv (the release record) and audits
 * "round_close" and "release" (with the SHA-256 of the three files).
 * pooled_path (may be NULL) receives pooled.csv's path. Returns 0, -1 user error (unknown or closed round), -2
 * internal failure. */
int rounds_close(const struct coord_config *cfg, store_t *st, const char *round_id,
                 char *pooled_path, size_t pathlen, char *err, size_t errlen);

/* Prints a round (or, with round_id NULL, every round) and per
 * organization: submitted (time, sha256, late), refused (reason) or
 * pending (enrolled node that has not answered). Returns 0, -1 unknown
 * round, -2 internal failure. */
int rounds_status(const struct coord_config *cfg, store_t *st, const char *round_id, FILE *out,
                  char *err, size_t errlen);

/* Parses "YYYY-MM-DDTHH:MM:SSZ" or "YYYY-MM-DD" (23:59:59 UTC). 0 or -1. */
int rounds_parse_time(const char *s, int64_t *out);

/* --- daemon side --------------------------------------------------------- */

typedef struct rounds rounds_t;

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
 * not_requested, implausible, conflict); REFUSAL -> stored, ACK. Every rejection is
 * logged and audited and leaves nothing stored. Inside a batch the reply
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
