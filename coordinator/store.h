/*
 * store.h - the coordinator's database (SQLite, WAL mode): rounds,
 * submissions, refusals and the status nodes report for rounds they have
 * not answered (held for approval on site, failing).
 *
 * The daemon and the command-line tools (round open/status/close) share
 * only this database and the audit log, so every write is one transaction
 * and every connection waits for the other (busy_timeout). synchronous =
 * FULL: a submission is on disk when store_submission_put returns, before
 * the node is acknowledged. The daemon groups the writes of the messages it
 * has read together into one transaction (store_batch_begin ... _commit):
 * then a submission is on disk when store_batch_commit returns 0. The schema version is PRAGMA user_version;
 * opening a newer database than this program knows is refused.
 *
 * Times are Unix seconds (UTC).
 */
#ifndef EQ_COORD_STORE_H
#define EQ_COORD_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION 3

typedef enum {
    STORE_OK = 0,
    STORE_ERR_DB = -1,        /* SQLite error (logged with the message)      */
    STORE_ERR_NOT_FOUND = -2, /* no such round                               */
    STORE_ERR_ARG = -3,       /* bad argument                                */
    STORE_ERR_SCHEMA = -4,    /* database made by a newer program            */
    STORE_ERR_CLOSED = -5,    /* the round is closed                         */
    STORE_ERR_EXISTS = -6,    /* a round with this id exists                 */
} store_err;

const char *store_strerror(int err);

typedef struct store store_t;

/* Opens (creating if needed) the database at path, with WAL, FULL sync,
 * foreign keys and a busy timeout; creates or checks the schema. NULL on
 * failure (logged). */
store_t *store_open(const char *path);
void store_close(store_t **s);

struct store_round {
    char round_id[64];
    char period[32];
    int k;
    int64_t opened_at;
    int64_t deadline;
    int closed;
    int64_t closed_at;           /* 0 while open                            */
    char request_sha256[65];     /* SHA-256 hex of the RoundRequest payload */
    char pooled_sha256[65];      /* of pooled.csv, "" until closed           */
    uint8_t *request;            /* RoundRequest payload                    */
    size_t request_len;
    uint8_t *envelope;           /* the signed envelope sent to nodes        */
    size_t envelope_len;
    int cancelled;               /* closed by `round cancel`: never pooled   */
};

/* Frees the blobs of a round filled by store_round_get (not the struct). */
void store_round_clear(struct store_round *r);

/* Inserts a new open round (blobs copied). STORE_ERR_EXISTS if the id is
 * taken. */
int store_round_insert(store_t *s, const struct store_round *r);
/* Fills *r (blobs malloc'ed: store_round_clear). STORE_ERR_NOT_FOUND. */
int store_round_get(store_t *s, const char *round_id, struct store_round *r);
/* Number of rounds ever opened for a period (to number the next one). */
int store_round_count(store_t *s, const char *period, int *n);
/* Marks an open round closed. STORE_ERR_NOT_FOUND, STORE_ERR_CLOSED. */
int store_round_close(store_t *s, const char *round_id, int64_t closed_at);
/* Marks an open round closed and cancelled (never pooled). Same errors. */
int store_round_cancel(store_t *s, const char *round_id, int64_t when);
/* Moves the deadline of an open round. Same errors. */
int store_round_set_deadline(store_t *s, const char *round_id, int64_t deadline);
/* Records the hash of the pooled result of a closed round. */
int store_round_set_pooled(store_t *s, const char *round_id, const char *pooled_sha256);
/* (The round writes above join an open batch, like the puts below.) */

/* The audit log's anchor: seq and hash of the last entry written with the
 * store's last transaction (seq 0 and "" before the first). */
int store_anchor_get(store_t *s, long *seq, char hash[65]);
/* Sets it inside the open batch (STORE_ERR_ARG outside one): committed
 * with what the entries record. */
int store_anchor_set(store_t *s, long seq, const char *hash);

/* Callback over rounds; the blobs are valid only during the call. Return
 * nonzero to stop (that value is returned by the iterator). */
typedef int (*store_round_fn)(void *ctx, const struct store_round *r);
/* Every round, oldest first. */
int store_rounds_each(store_t *s, store_round_fn fn, void *ctx);
/* Open rounds that org has neither submitted to nor refused, oldest first. */
int store_rounds_pending_for(store_t *s, const char *org, store_round_fn fn, void *ctx);
/* Open rounds whose deadline is before now, earliest deadline first. */
int store_rounds_due(store_t *s, int64_t now, store_round_fn fn, void *ctx);

struct store_submission {
    char round_id[64];
    char org[128];
    char sha256[65];             /* SHA-256 hex of the Submission payload   */
    const uint8_t *envelope;     /* the signed envelope as received          */
    size_t envelope_len;
    int64_t received_at;
    int late;
};

typedef enum {
    STORE_PUT_NEW,        /* stored now (committed)                          */
    STORE_PUT_DUPLICATE,  /* the same sha256 was already stored: nothing new */
    STORE_PUT_CONFLICT,   /* a different submission of this org is stored    */
    STORE_PUT_CLOSED,     /* the round is closed: nothing stored             */
    STORE_PUT_UNKNOWN,    /* no such round: nothing stored                   */
} store_put_result;

/* In one transaction: if (round, org) has a submission already, reports
 * DUPLICATE (same sha256, even on a closed round) or CONFLICT; otherwise
 * checks that the round exists and is open and inserts it, replacing a
 * refusal of the same organization for that round (its later decision:
 * *replaced_refusal, may be NULL, is set to 1) and its latest status. *result says which;
 * *stored_late (may be NULL) receives the late flag of the row that is
 * stored (for a duplicate: the earlier one). Returns 0 or STORE_ERR_DB
 * (then nothing was stored). */
int store_submission_put(store_t *s, const struct store_submission *sub, store_put_result *result,
                         int *stored_late, int *replaced_refusal);

/* Group commit. Between store_batch_begin (BEGIN IMMEDIATE) and
 * store_batch_commit, store_submission_put and store_refusal_put decide and
 * write inside that one transaction instead of committing each their own:
 * each decides exactly as alone, seeing the rows of the earlier puts of the
 * batch (a second identical put is a DUPLICATE, a different one a
 * CONFLICT), but nothing of the batch is durable, and nothing may be
 * acknowledged, until store_batch_commit returns 0. A put that fails in a
 * batch returns STORE_ERR_DB and dooms the batch: the later puts fail too
 * and store_batch_commit rolls everything back. Reads (store_round_get,
 * ...) see the batch's rows. One batch at a time per store_t. */
int store_batch_begin(store_t *s);
/* COMMIT (one WAL sync for the whole batch). 0, or STORE_ERR_DB after
 * rolling back: then nothing of the batch is stored. */
int store_batch_commit(store_t *s);
/* Abandons an open batch (ROLLBACK). Safe when none is open. */
void store_batch_rollback(store_t *s);
/* 1 while a batch is open. */
int store_in_batch(store_t *s);

typedef int (*store_submission_fn)(void *ctx, const struct store_submission *sub);
/* Submissions of a round, by org. */
int store_submissions_each(store_t *s, const char *round_id, store_submission_fn fn, void *ctx);
/* Number of submissions stored for a round (all rounds if round_id NULL). */
int store_submission_count(store_t *s, const char *round_id, int *n);

/* Records a refusal (replacing the organization's latest status of the
 * round); *result is STORE_PUT_NEW, STORE_PUT_DUPLICATE (already
 * refused: the first reason is kept), STORE_PUT_CONFLICT (the org already
 * submitted), STORE_PUT_CLOSED or STORE_PUT_UNKNOWN. */
int store_refusal_put(store_t *s, const char *round_id, const char *org, const char *reason,
                      int64_t received_at, store_put_result *result);

typedef int (*store_refusal_fn)(void *ctx, const char *round_id, const char *org,
                                const char *reason, int64_t received_at);
int store_refusals_each(store_t *s, const char *round_id, store_refusal_fn fn, void *ctx);

/* What a node reports about a round it has received and not answered
 * (NodeStatus in equity.proto). The store keeps the latest per (round,
 * org) and the newest STORE_STATUS_HISTORY_MAX of its changes: however
 * many statuses an organization sends, its rows stay bounded. */
#define STORE_STATUS_HISTORY_MAX 16
enum { STORE_STATE_HELD = 1, STORE_STATE_FAILING = 2 };
/* "held", "failing" or NULL. */
const char *store_state_name(int state);

struct store_status {
    char round_id[64];
    char org[128];
    int state;                   /* STORE_STATE_HELD or STORE_STATE_FAILING */
    char code[33];
    char reason[301];
    int64_t since;               /* first report of this state and code     */
    int64_t updated_at;          /* the report (history: when received)     */
};

/* Records ns (received at ns->updated_at; ns->since is ignored) in one
 * transaction (or the open batch). *result: STORE_PUT_NEW (latest replaced,
 * history appended and trimmed), STORE_PUT_DUPLICATE (the latest has the
 * same state, code and reason: nothing written), STORE_PUT_CONFLICT (the
 * organization has submitted to or refused the round: its answer stands,
 * nothing written), STORE_PUT_CLOSED, STORE_PUT_UNKNOWN. *since (may be
 * NULL) receives the time the stored state and code were first reported
 * (a new reason text for the same state and code keeps it). A later
 * submission or refusal of the organization deletes its latest status
 * (store_submission_put, store_refusal_put); the history stays. Returns 0,
 * STORE_ERR_ARG or STORE_ERR_DB. */
int store_status_put(store_t *s, const struct store_status *ns, store_put_result *result,
                     int64_t *since);

typedef int (*store_status_fn)(void *ctx, const struct store_status *ns);
/* The latest status of each organization of a round that has not answered
 * it, by org. */
int store_statuses_each(store_t *s, const char *round_id, store_status_fn fn, void *ctx);
/* The kept history of (round, org), oldest first (since = updated_at =
 * when received). */
int store_status_history_each(store_t *s, const char *round_id, const char *org,
                              store_status_fn fn, void *ctx);

/* PRAGMA integrity_check: 0 if "ok", -1 with the first problem in err. */
int store_integrity_check(store_t *s, char *err, size_t errlen);

#endif
