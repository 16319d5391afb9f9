/*
 * store.c - the coordinator's SQLite database (see store.h).
 *
 * Every write runs in BEGIN IMMEDIATE ... COMMIT: the write lock is taken
 * up front so that a read-then-write transaction cannot fail half way in
 * WAL mode when the CLI and the daemon write at the same time; the busy
 * timeout then makes the second writer wait instead of failing. In a batch
 * (group commit) the submission and refusal puts share the batch's
 * transaction instead of opening their own.
 * Statements are prepared once, at open.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"

#define BUSY_TIMEOUT_MS 10000

enum {
    Q_ROUND_INSERT,
    Q_ROUND_GET,
    Q_ROUND_COUNT,
    Q_ROUND_STATUS,
    Q_ROUND_CLOSE,
    Q_ROUND_POOLED,
    Q_ROUNDS_ALL,
    Q_ROUNDS_PENDING,
    Q_SUB_GET,
    Q_SUB_INSERT,
    Q_SUBS_EACH,
    Q_SUB_COUNT,
    Q_SUB_COUNT_ALL,
    Q_REF_GET,
    Q_REF_INSERT,
    Q_REFS_EACH,
    Q_REF_DELETE,
    Q_ANCHOR_GET,
    Q_ANCHOR_SET,
    Q_ROUND_CANCEL,
    Q_ROUND_DEADLINE,
    Q_ROUNDS_DUE,
    Q_STATUS_GET,
    Q_STATUS_UPSERT,
    Q_STATUS_DELETE,
    Q_STATUS_EACH,
    Q_HIST_INSERT,
    Q_HIST_TRIM,
    Q_HIST_EACH,
    Q__COUNT
};

#define ROUND_COLS                                                                             \
    "round_id, period, k, opened_at, deadline, status, closed_at, request_sha256, "            \
    "pooled_sha256, request, envelope, cancelled"

static const char *const sql_text[Q__COUNT] = {
    [Q_ROUND_INSERT] = "INSERT INTO rounds (" ROUND_COLS ") VALUES (?,?,?,?,?,'open',NULL,?,NULL,?,?,0)",
    [Q_ROUND_GET] = "SELECT " ROUND_COLS " FROM rounds WHERE round_id = ?",
    [Q_ROUND_COUNT] = "SELECT count(*) FROM rounds WHERE period = ?",
    [Q_ROUND_STATUS] = "SELECT status FROM rounds WHERE round_id = ?",
    [Q_ROUND_CLOSE] = "UPDATE rounds SET status = 'closed', closed_at = ? WHERE round_id = ?",
    [Q_ROUND_POOLED] = "UPDATE rounds SET pooled_sha256 = ? WHERE round_id = ?",
    [Q_ROUNDS_ALL] = "SELECT " ROUND_COLS " FROM rounds ORDER BY opened_at, rowid",
    [Q_ROUNDS_PENDING] =
        "SELECT " ROUND_COLS " FROM rounds r WHERE status = 'open'"
        " AND NOT EXISTS (SELECT 1 FROM submissions s WHERE s.round_id = r.round_id AND s.org = ?1)"
        " AND NOT EXISTS (SELECT 1 FROM refusals f WHERE f.round_id = r.round_id AND f.org = ?1)"
        " ORDER BY opened_at, rowid",
    [Q_SUB_GET] = "SELECT sha256, late FROM submissions WHERE round_id = ? AND org = ?",
    [Q_SUB_INSERT] = "INSERT INTO submissions (round_id, org, sha256, envelope, received_at, late)"
                     " VALUES (?,?,?,?,?,?)",
    [Q_SUBS_EACH] = "SELECT round_id, org, sha256, envelope, received_at, late FROM submissions"
                    " WHERE round_id = ? ORDER BY org",
    [Q_SUB_COUNT] = "SELECT count(*) FROM submissions WHERE round_id = ?",
    [Q_SUB_COUNT_ALL] = "SELECT count(*) FROM submissions",
    [Q_REF_GET] = "SELECT 1 FROM refusals WHERE round_id = ? AND org = ?",
    [Q_REF_INSERT] = "INSERT INTO refusals (round_id, org, reason, received_at) VALUES (?,?,?,?)",
    [Q_REFS_EACH] = "SELECT round_id, org, reason, received_at FROM refusals WHERE round_id = ?"
                    " ORDER BY org",
    [Q_REF_DELETE] = "DELETE FROM refusals WHERE round_id = ? AND org = ?",
    [Q_ANCHOR_GET] = "SELECT seq, hash FROM audit_anchor WHERE id = 1",
    [Q_ANCHOR_SET] = "INSERT INTO audit_anchor (id, seq, hash) VALUES (1, ?, ?)"
                     " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    [Q_ROUND_CANCEL] = "UPDATE rounds SET status = 'closed', closed_at = ?, cancelled = 1"
                       " WHERE round_id = ? AND status = 'open'",
    [Q_ROUND_DEADLINE] = "UPDATE rounds SET deadline = ? WHERE round_id = ? AND status = 'open'",
    [Q_ROUNDS_DUE] = "SELECT " ROUND_COLS " FROM rounds WHERE status = 'open' AND deadline < ?"
                     " ORDER BY deadline, rowid",
    [Q_STATUS_GET] = "SELECT state, code, reason, since FROM node_status WHERE round_id = ? AND org = ?",
    [Q_STATUS_UPSERT] =
        "INSERT INTO node_status (round_id, org, state, code, reason, since, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (round_id, org) DO UPDATE SET"
        " state = excluded.state, code = excluded.code, reason = excluded.reason,"
        " since = excluded.since, updated_at = excluded.updated_at",
    [Q_STATUS_DELETE] = "DELETE FROM node_status WHERE round_id = ? AND org = ?",
    [Q_STATUS_EACH] = "SELECT round_id, org, state, code, reason, since, updated_at FROM node_status"
                      " WHERE round_id = ? ORDER BY org",
    [Q_HIST_INSERT] = "INSERT INTO node_status_history (round_id, org, state, code, reason,"
                      " received_at) VALUES (?,?,?,?,?,?)",
    /* Keeps the newest STORE_STATUS_HISTORY_MAX rows of (round, org). */
    [Q_HIST_TRIM] = "DELETE FROM node_status_history WHERE round_id = ?1 AND org = ?2 AND id <="
                    " (SELECT id FROM node_status_history WHERE round_id = ?1 AND org = ?2"
                    " ORDER BY id DESC LIMIT 1 OFFSET ?3)",
    [Q_HIST_EACH] = "SELECT round_id, org, state, code, reason, received_at, received_at"
                    " FROM node_status_history WHERE round_id = ? AND org = ? ORDER BY id",
};

static const char schema_v1[] =
    "CREATE TABLE rounds ("
    " round_id TEXT PRIMARY KEY,"
    " period TEXT NOT NULL,"
    " k INTEGER NOT NULL,"
    " opened_at INTEGER NOT NULL,"
    " deadline INTEGER NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('open', 'closed')),"
    " closed_at INTEGER,"
    " request_sha256 TEXT NOT NULL,"
    " pooled_sha256 TEXT,"
    " request BLOB NOT NULL,"
    " envelope BLOB NOT NULL);"
    "CREATE TABLE submissions ("
    " round_id TEXT NOT NULL REFERENCES rounds(round_id),"
    " org TEXT NOT NULL,"
    " sha256 TEXT NOT NULL,"
    " envelope BLOB NOT NULL,"
    " received_at INTEGER NOT NULL,"
    " late INTEGER NOT NULL CHECK (late IN (0, 1)),"
    " UNIQUE (round_id, org));"
    "CREATE TABLE refusals ("
    " round_id TEXT NOT NULL REFERENCES rounds(round_id),"
    " org TEXT NOT NULL,"
    " reason TEXT NOT NULL,"
    " received_at INTEGER NOT NULL,"
    " UNIQUE (round_id, org));"
    "PRAGMA user_version = 1;";

/* Version 2: the audit log's anchor (the head of its hash chain, moved in
 * the same transaction as what the entries record) and cancelled rounds
 * (status 'closed', cancelled = 1, never pooled). */
static const char schema_v2[] =
    "CREATE TABLE audit_anchor ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " seq INTEGER NOT NULL CHECK (seq >= 0),"
    " hash TEXT NOT NULL);"
    "ALTER TABLE rounds ADD COLUMN cancelled INTEGER NOT NULL DEFAULT 0"
    " CHECK (cancelled IN (0, 1));"
    "PRAGMA user_version = 2;";

/* Version 3: what nodes report about rounds they have not answered (held
 * for approval on site, failing): the latest status per organization and
 * round, and a bounded history (STORE_STATUS_HISTORY_MAX per pair). */
static const char schema_v3[] =
    "CREATE TABLE node_status ("
    " round_id TEXT NOT NULL REFERENCES rounds(round_id),"
    " org TEXT NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('held', 'failing')),"
    " code TEXT NOT NULL,"
    " reason TEXT NOT NULL,"
    " since INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (round_id, org));"
    "CREATE TABLE node_status_history ("
    " id INTEGER PRIMARY KEY,"
    " round_id TEXT NOT NULL REFERENCES rounds(round_id),"
    " org TEXT NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('held', 'failing')),"
    " code TEXT NOT NULL,"
    " reason TEXT NOT NULL,"
    " received_at INTEGER NOT NULL);"
    "CREATE INDEX node_status_history_pair ON node_status_history (round_id, org, id);"
    "PRAGMA user_version = 3;";

struct store {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *q[Q__COUNT];
    int batch;        /* a group-commit transaction is open               */
    int batch_failed; /* a write of the open batch failed: it rolls back */
};

const char *store_strerror(int err)
{
    switch (err) {
    case STORE_OK: return "ok";
    case STORE_ERR_DB: return "database error";
    case STORE_ERR_NOT_FOUND: return "no such round";
    case STORE_ERR_ARG: return "bad argument";
    case STORE_ERR_SCHEMA: return "database schema is newer than this program";
    case STORE_ERR_CLOSED: return "round is closed";
    case STORE_ERR_EXISTS: return "round exists";
    default: return "unknown store error";
    }
}

static int db_fail(store_t *s, const char *what)
{
    log_error("%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
    return STORE_ERR_DB;
}

static int exec(store_t *s, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_error("%s: %s: %s", s->path, sql, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return STORE_ERR_DB;
    }
    return 0;
}

static int begin(store_t *s) { return exec(s, "BEGIN IMMEDIATE"); }
static int commit(store_t *s) { return exec(s, "COMMIT"); }
static void rollback(store_t *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* The puts' own transaction, or their part of an open batch: put_begin
 * starts one unless a batch is open (then it only refuses a doomed batch),
 * put_end commits it (nothing to do in a batch), put_abandon rolls back a
 * put that wrote nothing (in a batch: nothing to undo), put_fail undoes a
 * failed put (in a batch: dooms the batch, rolled back at its commit). */
static int put_begin(store_t *s)
{
    if (s->batch)
        return s->batch_failed ? STORE_ERR_DB : 0;
    return begin(s);
}
static int put_end(store_t *s) { return s->batch ? 0 : commit(s); }
static void put_abandon(store_t *s)
{
    if (!s->batch)
        rollback(s);
}
static void put_fail(store_t *s)
{
    if (s->batch)
        s->batch_failed = 1;
    else
        rollback(s);
}

int store_batch_begin(store_t *s)
{
    if (!s || s->batch)
        return STORE_ERR_ARG;
    if (begin(s) != 0)
        return STORE_ERR_DB;
    s->batch = 1;
    s->batch_failed = 0;
    return 0;
}

int store_batch_commit(store_t *s)
{
    if (!s || !s->batch)
        return STORE_ERR_ARG;
    int failed = s->batch_failed;
    s->batch = s->batch_failed = 0;
    if (failed) {
        log_error("%s: a write of the batch failed; nothing of it is stored", s->path);
        rollback(s);
        return STORE_ERR_DB;
    }
    if (commit(s) != 0) {
        rollback(s);
        return STORE_ERR_DB;
    }
    return 0;
}

void store_batch_rollback(store_t *s)
{
    if (!s || !s->batch)
        return;
    s->batch = s->batch_failed = 0;
    rollback(s);
}

int store_in_batch(store_t *s) { return s && s->batch; }

/* A prepared statement, reset and unbound, ready for new bindings. */
static sqlite3_stmt *stmt(store_t *s, int q)
{
    sqlite3_reset(s->q[q]);
    sqlite3_clear_bindings(s->q[q]);
    return s->q[q];
}

static int user_version(store_t *s, int *v)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "user_version");
    int rc = sqlite3_step(st);
    *v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : db_fail(s, "user_version");
}

static int migrate(store_t *s)
{
    if (begin(s) != 0)
        return STORE_ERR_DB;
    int v;
    if (user_version(s, &v) != 0)
        goto fail;
    if (v > STORE_SCHEMA_VERSION) {
        log_error("%s: schema version %d is newer than this program's %d", s->path, v,
                  STORE_SCHEMA_VERSION);
        rollback(s);
        return STORE_ERR_SCHEMA;
    }
    if (v == 0 && exec(s, schema_v1) != 0)
        goto fail;
    if (v < 2 && exec(s, schema_v2) != 0)
        goto fail;
    if (v < 3 && exec(s, schema_v3) != 0)
        goto fail;
    return commit(s);
fail:
    rollback(s);
    return STORE_ERR_DB;
}

store_t *store_open(const char *path)
{
    store_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->path = strdup(path);
    if (!s->path)
        goto fail;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        log_error("%s: cannot open database: %s", path,
                  s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    if (exec(s, "PRAGMA journal_mode = WAL") != 0 || exec(s, "PRAGMA synchronous = FULL") != 0 ||
        exec(s, "PRAGMA foreign_keys = ON") != 0)
        goto fail;
    if (migrate(s) != 0)
        goto fail;
    for (int i = 0; i < Q__COUNT; i++)
        if (sqlite3_prepare_v2(s->db, sql_text[i], -1, &s->q[i], NULL) != SQLITE_OK) {
            db_fail(s, sql_text[i]);
            goto fail;
        }
    return s;
fail:
    store_close(&s);
    return NULL;
}

void store_close(store_t **ps)
{
    if (!ps || !*ps)
        return;
    store_t *s = *ps;
    for (int i = 0; i < Q__COUNT; i++)
        sqlite3_finalize(s->q[i]);
    if (s->db)
        sqlite3_close(s->db);
    free(s->path);
    free(s);
    *ps = NULL;
}

void store_round_clear(struct store_round *r)
{
    if (!r)
        return;
    free(r->request);
    free(r->envelope);
    r->request = r->envelope = NULL;
    r->request_len = r->envelope_len = 0;
}

static void copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* Fills r from a row of ROUND_COLS; blobs point into the statement. */
static void round_from_row(sqlite3_stmt *st, struct store_round *r)
{
    memset(r, 0, sizeof *r);
    copy_text(r->round_id, sizeof r->round_id, st, 0);
    copy_text(r->period, sizeof r->period, st, 1);
    r->k = sqlite3_column_int(st, 2);
    r->opened_at = sqlite3_column_int64(st, 3);
    r->deadline = sqlite3_column_int64(st, 4);
    const unsigned char *status = sqlite3_column_text(st, 5);
    r->closed = status && strcmp((const char *)status, "closed") == 0;
    r->closed_at = sqlite3_column_int64(st, 6);
    copy_text(r->request_sha256, sizeof r->request_sha256, st, 7);
    copy_text(r->pooled_sha256, sizeof r->pooled_sha256, st, 8);
    r->request = (uint8_t *)sqlite3_column_blob(st, 9);
    r->request_len = (size_t)sqlite3_column_bytes(st, 9);
    r->envelope = (uint8_t *)sqlite3_column_blob(st, 10);
    r->envelope_len = (size_t)sqlite3_column_bytes(st, 10);
    r->cancelled = sqlite3_column_int(st, 11);
}

int store_round_insert(store_t *s, const struct store_round *r)
{
    if (!s || !r || !r->request || !r->envelope)
        return STORE_ERR_ARG;
    if (put_begin(s) != 0)
        return STORE_ERR_DB;
    sqlite3_stmt *st = stmt(s, Q_ROUND_STATUS);
    sqlite3_bind_text(st, 1, r->round_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) {
        put_abandon(s);
        return STORE_ERR_EXISTS;
    }
    if (rc != SQLITE_DONE)
        goto fail;
    st = stmt(s, Q_ROUND_INSERT);
    sqlite3_bind_text(st, 1, r->round_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->period, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, r->k);
    sqlite3_bind_int64(st, 4, r->opened_at);
    sqlite3_bind_int64(st, 5, r->deadline);
    sqlite3_bind_text(st, 6, r->request_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, r->request, (int)r->request_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 8, r->envelope, (int)r->envelope_len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        goto fail;
    if (put_end(s) != 0)
        goto fail;
    return 0;
fail:
    db_fail(s, "insert round");
    put_fail(s);
    return STORE_ERR_DB;
}

int store_round_get(store_t *s, const char *round_id, struct store_round *r)
{
    if (!s || !round_id || !r)
        return STORE_ERR_ARG;
    sqlite3_stmt *st = stmt(s, Q_ROUND_GET);
    sqlite3_bind_text(st, 1, round_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return STORE_ERR_NOT_FOUND;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return db_fail(s, "get round");
    }
    round_from_row(st, r);
    uint8_t *req = malloc(r->request_len ? r->request_len : 1);
    uint8_t *env = malloc(r->envelope_len ? r->envelope_len : 1);
    if (!req || !env) {
        free(req);
        free(env);
        sqlite3_reset(st);
        return STORE_ERR_DB;
    }
    if (r->request_len)
        memcpy(req, r->request, r->request_len);
    if (r->envelope_len)
        memcpy(env, r->envelope, r->envelope_len);
    r->request = req;
    r->envelope = env;
    sqlite3_reset(st);
    return 0;
}

static int count_query(store_t *s, int q, const char *arg, int *n)
{
    sqlite3_stmt *st = stmt(s, q);
    if (arg)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return db_fail(s, "count");
    }
    *n = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    return 0;
}

int store_round_count(store_t *s, const char *period, int *n)
{
    if (!s || !period || !n)
        return STORE_ERR_ARG;
    return count_query(s, Q_ROUND_COUNT, period, n);
}

/* Status of a round inside a transaction: 1 open, 0 closed, or an error. */
static int round_is_open(store_t *s, const char *round_id)
{
    sqlite3_stmt *st = stmt(s, Q_ROUND_STATUS);
    sqlite3_bind_text(st, 1, round_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int open = rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "open") == 0;
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return STORE_ERR_NOT_FOUND;
    if (rc != SQLITE_ROW)
        return db_fail(s, "round status");
    return open;
}

/* An UPDATE of one open round (close, cancel, deadline): binds v and
 * round_id; STORE_ERR_NOT_FOUND, STORE_ERR_CLOSED. Joins an open batch. */
static int update_open_round(store_t *s, int q, const char *round_id, int64_t v,
                             const char *what)
{
    if (!s || !round_id)
        return STORE_ERR_ARG;
    if (put_begin(s) != 0)
        return STORE_ERR_DB;
    int open = round_is_open(s, round_id);
    if (open <= 0) {
        put_abandon(s);
        return open == 0 ? STORE_ERR_CLOSED : open;
    }
    sqlite3_stmt *st = stmt(s, q);
    sqlite3_bind_int64(st, 1, v);
    sqlite3_bind_text(st, 2, round_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE || put_end(s) != 0) {
        db_fail(s, what);
        put_fail(s);
        return STORE_ERR_DB;
    }
    return 0;
}

int store_round_close(store_t *s, const char *round_id, int64_t closed_at)
{
    return update_open_round(s, Q_ROUND_CLOSE, round_id, closed_at, "close round");
}

int store_round_cancel(store_t *s, const char *round_id, int64_t when)
{
    return update_open_round(s, Q_ROUND_CANCEL, round_id, when, "cancel round");
}

int store_round_set_deadline(store_t *s, const char *round_id, int64_t deadline)
{
    return update_open_round(s, Q_ROUND_DEADLINE, round_id, deadline, "set deadline");
}

int store_round_set_pooled(store_t *s, const char *round_id, const char *pooled_sha256)
{
    if (!s || !round_id || !pooled_sha256)
        return STORE_ERR_ARG;
    if (put_begin(s) != 0)
        return STORE_ERR_DB;
    sqlite3_stmt *st = stmt(s, Q_ROUND_POOLED);
    sqlite3_bind_text(st, 1, pooled_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, round_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_fail(s, "set pooled");
        put_fail(s);
        return STORE_ERR_DB;
    }
    if (sqlite3_changes(s->db) == 0) {
        put_abandon(s);
        return STORE_ERR_NOT_FOUND;
    }
    if (put_end(s) != 0) {
        put_fail(s);
        return STORE_ERR_DB;
    }
    return 0;
}

int store_anchor_get(store_t *s, long *seq, char hash[65])
{
    if (!s || !seq || !hash)
        return STORE_ERR_ARG;
    sqlite3_stmt *st = stmt(s, Q_ANCHOR_GET);
    int rc = sqlite3_step(st);
    *seq = 0;
    hash[0] = 0;
    if (rc == SQLITE_ROW) {
        *seq = (long)sqlite3_column_int64(st, 0);
        copy_text(hash, 65, st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "read audit anchor");
}

int store_anchor_set(store_t *s, long seq, const char *hash)
{
    if (!s || !s->batch || seq < 0 || !hash)
        return STORE_ERR_ARG;
    if (s->batch_failed)
        return STORE_ERR_DB;
    sqlite3_stmt *st = stmt(s, Q_ANCHOR_SET);
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_fail(s, "set audit anchor");
        s->batch_failed = 1;
        return STORE_ERR_DB;
    }
    return 0;
}

static int rounds_iter(store_t *s, int q, const char *arg, store_round_fn fn, void *ctx)
{
    sqlite3_stmt *st = stmt(s, q);
    if (arg)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_round r;
        round_from_row(st, &r);
        if ((ret = fn(ctx, &r)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(s, "list rounds");
    sqlite3_reset(st);
    return ret;
}

int store_rounds_each(store_t *s, store_round_fn fn, void *ctx)
{
    if (!s || !fn)
        return STORE_ERR_ARG;
    return rounds_iter(s, Q_ROUNDS_ALL, NULL, fn, ctx);
}

int store_rounds_pending_for(store_t *s, const char *org, store_round_fn fn, void *ctx)
{
    if (!s || !org || !fn)
        return STORE_ERR_ARG;
    return rounds_iter(s, Q_ROUNDS_PENDING, org, fn, ctx);
}

int store_rounds_due(store_t *s, int64_t now, store_round_fn fn, void *ctx)
{
    if (!s || !fn)
        return STORE_ERR_ARG;
    sqlite3_stmt *st = stmt(s, Q_ROUNDS_DUE);
    sqlite3_bind_int64(st, 1, now);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_round r;
        round_from_row(st, &r);
        if ((ret = fn(ctx, &r)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(s, "list due rounds");
    sqlite3_reset(st);
    return ret;
}

/* Inside a transaction: a submission or refusal of (round, org) replaces
 * its latest status (the history stays). 0 or STORE_ERR_DB (logged). */
static int status_supersede(store_t *s, const char *round_id, const char *org)
{
    sqlite3_stmt *st = stmt(s, Q_STATUS_DELETE);
    sqlite3_bind_text(st, 1, round_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, org, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(s, "replace node status");
}

/* Inside a transaction: 1 and sha/late filled if (round, org) submitted. */
static int existing_submission(store_t *s, const char *round_id, const char *org, char sha[65],
                               int *late)
{
    sqlite3_stmt *st = stmt(s, Q_SUB_GET);
    sqlite3_bind_text(st, 1, round_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, org, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        copy_text(sha, 65, st, 0);
        *late = sqlite3_column_int(st, 1);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : db_fail(s, "find submission");
}

int store_submission_put(store_t *s, const struct store_submission *sub, store_put_result *result,
                         int *stored_late, int *replaced_refusal)
{
    if (replaced_refusal)
        *replaced_refusal = 0;
    if (!s || !sub || !result || !sub->envelope)
        return STORE_ERR_ARG;
    if (put_begin(s) != 0)
        return STORE_ERR_DB;
    /* An identical resend is acknowledged again even after the round
     * closed: the node must learn that its submission is safe. */
    char sha[65];
    int late = 0;
    int have = existing_submission(s, sub->round_id, sub->org, sha, &late);
    if (have < 0)
        goto fail;
    if (have) {
        *result = strcmp(sha, sub->sha256) == 0 ? STORE_PUT_DUPLICATE : STORE_PUT_CONFLICT;
        if (stored_late)
            *stored_late = late;
        put_abandon(s);
        return 0;
    }
    int open = round_is_open(s, sub->round_id);
    if (open == STORE_ERR_NOT_FOUND || open == 0) {
        *result = open == 0 ? STORE_PUT_CLOSED : STORE_PUT_UNKNOWN;
        put_abandon(s);
        return 0;
    }
    if (open < 0)
        goto fail;
    /* A signed submission after a refusal of the same organization is its
     * later decision: it replaces the refusal (one state per organization). */
    sqlite3_stmt *st = stmt(s, Q_REF_DELETE);
    sqlite3_bind_text(st, 1, sub->round_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, sub->org, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        sqlite3_reset(st);
        db_fail(s, "replace refusal");
        goto fail;
    }
    sqlite3_reset(st);
    if (replaced_refusal)
        *replaced_refusal = sqlite3_changes(s->db) > 0;
    if (status_supersede(s, sub->round_id, sub->org) != 0)
        goto fail;
    st = stmt(s, Q_SUB_INSERT);
    sqlite3_bind_text(st, 1, sub->round_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, sub->org, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, sub->sha256, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, sub->envelope, (int)sub->envelope_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, sub->received_at);
    sqlite3_bind_int(st, 6, sub->late ? 1 : 0);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        db_fail(s, "insert submission");
        goto fail;
    }
    if (put_end(s) != 0)
        goto fail;
    *result = STORE_PUT_NEW;
    if (stored_late)
        *stored_late = sub->late ? 1 : 0;
    return 0;
fail:
    put_fail(s);
    return STORE_ERR_DB;
}

int store_submissions_each(store_t *s, const char *round_id, store_submission_fn fn, void *ctx)
{
    if (!s || !round_id || !fn)
        return STORE_ERR_ARG;
    sqlite3_stmt *st = stmt(s, Q_SUBS_EACH);
    sqlite3_bind_text(st, 1, round_id, -1, SQLITE_STATIC);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_submission sub;
        memset(&sub, 0, sizeof sub);
        copy_text(sub.round_id, sizeof sub.round_id, st, 0);
        copy_text(sub.org, sizeof sub.org, st, 1);
        copy_text(sub.sha256, sizeof sub.sha256, st, 2);
        sub.envelope = sqlite3_column_blob(st, 3);
        sub.envelope_len = (size_t)sqlite3_column_bytes(st, 3);
        sub.received_at = sqlite3_column_int64(st, 4);
        sub.late = sqlite3_column_int(st, 5);
        if ((ret = fn(ctx, &sub)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(s, "list submissions");
    sqlite3_reset(st);
    return ret;
}

int store_submission_count(store_t *s, const char *round_id, int *n)
{
    if (!s || !n)
        return STORE_ERR_ARG;
    return round_id ? count_query(s, Q_SUB_COUNT, round_id, n)
                    : count_query(s, Q_SUB_COUNT_ALL, NULL, n);
}

int store_refusal_put(store_t *s, const char *round_id, const char *org, const char *reason,
                      int64_t received_at, store_put_result *result)
{
    if (!s || !round_id || !org || !reason || !result)
        return STORE_ERR_ARG;
    if (put_begin(s) != 0)
        return STORE_ERR_DB;
    int open = round_is_open(s, round_id);
    if (open == STORE_ERR_NOT_FOUND || open == 0) {
        *result = open == 0 ? STORE_PUT_CLOSED : STORE_PUT_UNKNOWN;
        put_abandon(s);
        return 0;
    }
    if (open < 0)
        goto fail;
    char sha[65];
    int late;
    int have = existing_submission(s, round_id, org, sha, &late);
    if (have < 0)
        goto fail;
    if (have) {
        *result = STORE_PUT_CONFLICT;
        put_abandon(s);
        return 0;
    }
    sqlite3_stmt *st = stmt(s, Q_REF_GET);
    sqlite3_bind_text(st, 1, round_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, org, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) {
        *result = STORE_PUT_DUPLICATE;
        put_abandon(s);
        return 0;
    }
    if (rc != SQLITE_DONE)
        goto fail;
    if (status_supersede(s, round_id, org) != 0)
        goto fail;
    st = stmt(s, Q_REF_INSERT);
    sqlite3_bind_text(st, 1, round_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, org, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, received_at);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        goto fail;
    if (put_end(s) != 0)
        goto fail;
    *result = STORE_PUT_NEW;
    return 0;
fail:
    db_fail(s, "store refusal");
    put_fail(s);
    return STORE_ERR_DB;
}

int store_refusals_each(store_t *s, const char *round_id, store_refusal_fn fn, void *ctx)
{
    if (!s || !round_id || !fn)
        return STORE_ERR_ARG;
    sqlite3_stmt *st = stmt(s, Q_REFS_EACH);
    sqlite3_bind_text(st, 1, round_id, -1, SQLITE_STATIC);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *rid = sqlite3_column_text(st, 0);
        const unsigned char *org = sqlite3_column_text(st, 1);
        const unsigned char *reason = sqlite3_column_text(st, 2);
        if ((ret = fn(ctx, (const char *)rid, (const char *)org, (const char *)reason,
                      sqlite3_column_int64(st, 3))) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(s, "list refusals");
    sqlite3_reset(st);
    return ret;
}

/* ---- node status ------------------------------------------------------- */

const char *store_state_name(int state)
{
    return state == STORE_STATE_HELD ? "held" : state == STORE_STATE_FAILING ? "failing" : NULL;
}

static int state_from_text(const unsigned char *t)
{
    if (t && !strcmp((const char *)t, "held"))
        return STORE_STATE_HELD;
    if (t && !strcmp((const char *)t, "failing"))
        return STORE_STATE_FAILING;
    return 0;
}

/* Inside a transaction: 1 if (round, org) has refused. */
static int existing_refusal(store_t *s, const char *round_id, const char *org)
{
    sqlite3_stmt *st = stmt(s, Q_REF_GET);
    sqlite3_bind_text(st, 1, round_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, org, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : db_fail(s, "find refusal");
}

static void bind_status(sqlite3_stmt *st, const struct store_status *ns)
{
    sqlite3_bind_text(st, 1, ns->round_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ns->org, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, store_state_name(ns->state), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, ns->code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, ns->reason, -1, SQLITE_STATIC);
}

int store_status_put(store_t *s, const struct store_status *ns, store_put_result *result,
                     int64_t *since)
{
    if (!s || !ns || !result || !store_state_name(ns->state) || !ns->round_id[0] ||
        !ns->org[0])
        return STORE_ERR_ARG;
    if (put_begin(s) != 0)
        return STORE_ERR_DB;
    int open = round_is_open(s, ns->round_id);
    if (open == STORE_ERR_NOT_FOUND || open == 0) {
        *result = open == 0 ? STORE_PUT_CLOSED : STORE_PUT_UNKNOWN;
        put_abandon(s);
        return 0;
    }
    if (open < 0)
        goto fail;
    char sha[65];
    int late;
    int sub = existing_submission(s, ns->round_id, ns->org, sha, &late);
    int ref = sub == 0 ? existing_refusal(s, ns->round_id, ns->org) : 0;
    if (sub < 0 || ref < 0)
        goto fail;
    if (sub || ref) {
        /* Answered already: a status cannot go back on that. */
        *result = STORE_PUT_CONFLICT;
        put_abandon(s);
        return 0;
    }
    /* The latest status: the same again changes nothing; the same state
     * and code with new words keeps its "since". */
    int64_t t0 = ns->updated_at;
    sqlite3_stmt *st = stmt(s, Q_STATUS_GET);
    sqlite3_bind_text(st, 1, ns->round_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ns->org, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int same_kind = state_from_text(sqlite3_column_text(st, 0)) == ns->state &&
                        !strcmp((const char *)sqlite3_column_text(st, 1), ns->code);
        int same = same_kind && !strcmp((const char *)sqlite3_column_text(st, 2), ns->reason);
        if (same_kind)
            t0 = sqlite3_column_int64(st, 3);
        sqlite3_reset(st);
        if (same) {
            *result = STORE_PUT_DUPLICATE;
            if (since)
                *since = t0;
            put_abandon(s);
            return 0;
        }
    } else {
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            goto fail;
    }
    st = stmt(s, Q_STATUS_UPSERT);
    bind_status(st, ns);
    sqlite3_bind_int64(st, 6, t0);
    sqlite3_bind_int64(st, 7, ns->updated_at);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        goto fail;
    st = stmt(s, Q_HIST_INSERT);
    bind_status(st, ns);
    sqlite3_bind_int64(st, 6, ns->updated_at);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        goto fail;
    st = stmt(s, Q_HIST_TRIM);
    sqlite3_bind_text(st, 1, ns->round_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ns->org, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, STORE_STATUS_HISTORY_MAX);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        goto fail;
    if (put_end(s) != 0)
        goto fail;
    *result = STORE_PUT_NEW;
    if (since)
        *since = t0;
    return 0;
fail:
    db_fail(s, "store node status");
    put_fail(s);
    return STORE_ERR_DB;
}

static int status_iter(store_t *s, int q, const char *round_id, const char *org,
                       store_status_fn fn, void *ctx)
{
    sqlite3_stmt *st = stmt(s, q);
    sqlite3_bind_text(st, 1, round_id, -1, SQLITE_STATIC);
    if (org)
        sqlite3_bind_text(st, 2, org, -1, SQLITE_STATIC);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_status ns;
        memset(&ns, 0, sizeof ns);
        copy_text(ns.round_id, sizeof ns.round_id, st, 0);
        copy_text(ns.org, sizeof ns.org, st, 1);
        ns.state = state_from_text(sqlite3_column_text(st, 2));
        copy_text(ns.code, sizeof ns.code, st, 3);
        copy_text(ns.reason, sizeof ns.reason, st, 4);
        ns.since = sqlite3_column_int64(st, 5);
        ns.updated_at = sqlite3_column_int64(st, 6);
        if ((ret = fn(ctx, &ns)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(s, "list node status");
    sqlite3_reset(st);
    return ret;
}

int store_statuses_each(store_t *s, const char *round_id, store_status_fn fn, void *ctx)
{
    if (!s || !round_id || !fn)
        return STORE_ERR_ARG;
    return status_iter(s, Q_STATUS_EACH, round_id, NULL, fn, ctx);
}

int store_status_history_each(store_t *s, const char *round_id, const char *org,
                              store_status_fn fn, void *ctx)
{
    if (!s || !round_id || !org || !fn)
        return STORE_ERR_ARG;
    return status_iter(s, Q_HIST_EACH, round_id, org, fn, ctx);
}

int store_integrity_check(store_t *s, char *err, size_t errlen)
{
    if (!s)
        return STORE_ERR_ARG;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "integrity_check");
    int rc = sqlite3_step(st);
    const unsigned char *t = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    int ok = t && strcmp((const char *)t, "ok") == 0;
    if (!ok)
        snprintf(err, errlen, "%s: integrity_check: %s", s->path,
                 t ? (const char *)t : sqlite3_errmsg(s->db));
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}
