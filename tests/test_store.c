/*
 * test_store.c - the coordinator's SQLite store (WAL, schema version,
 * rounds, submissions: new / duplicate / conflict / closed / unknown,
 * refusals, pending rounds per org, persistence, group commit: one
 * transaction for several puts, invisible to another connection until it
 * commits, nothing kept after a rollback), node statuses (held / failing:
 * latest per org and round, duplicate, "since" kept for a new wording,
 * history bounded under a flood, superseded by a submission or refusal,
 * refused for a closed, unknown or answered round, migration of a version 2
 * database) and plain-addition pooling
 * (pool.h) with sums worked out by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cells.h"
#include "pool.h"
#include "store.h"
#include "atomic_file.h"

static char dir[256], dbpath[300];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/eq_store_" EQ_MKTEMP_SUFFIX);
    if (!mkdtemp(dir))
        return -1;
    snprintf(dbpath, sizeof dbpath, "%s/coordinator.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void add_round(store_t *s, const char *id, int64_t deadline)
{
    struct store_round r;
    memset(&r, 0, sizeof r);
    snprintf(r.round_id, sizeof r.round_id, "%s", id);
    snprintf(r.period, sizeof r.period, "2025");
    r.k = 11;
    r.opened_at = 1000;
    r.deadline = deadline;
    snprintf(r.request_sha256, sizeof r.request_sha256, "%064d", 7);
    uint8_t req[3] = {1, 2, 3}, env[4] = {9, 8, 7, 6};
    r.request = req;
    r.request_len = sizeof req;
    r.envelope = env;
    r.envelope_len = sizeof env;
    assert_int_equal(store_round_insert(s, &r), 0);
}

static store_put_result put(store_t *s, const char *round, const char *org, const char *sha)
{
    struct store_submission sub;
    memset(&sub, 0, sizeof sub);
    snprintf(sub.round_id, sizeof sub.round_id, "%s", round);
    snprintf(sub.org, sizeof sub.org, "%s", org);
    snprintf(sub.sha256, sizeof sub.sha256, "%s", sha);
    uint8_t env[5] = {'b', 'y', 't', 'e', 's'};
    sub.envelope = env;
    sub.envelope_len = sizeof env;
    sub.received_at = 2000;
    store_put_result res = STORE_PUT_UNKNOWN;
    assert_int_equal(store_submission_put(s, &sub, &res, NULL, NULL), 0);
    return res;
}

static int count_cb(void *ctx, const struct store_round *r)
{
    (void)r;
    (*(int *)ctx)++;
    return 0;
}

static int count_refusal(void *ctx, const char *round_id, const char *org, const char *reason,
                         int64_t received_at)
{
    (void)round_id;
    (void)org;
    (void)reason;
    (void)received_at;
    (*(int *)ctx)++;
    return 0;
}

static void test_schema_and_wal(void **state)
{
    (void)state;
    store_t *s = store_open(dbpath);
    assert_non_null(s);
    store_close(&s);
    assert_null(s);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), STORE_SCHEMA_VERSION);
    sqlite3_finalize(st);
    /* a database from a newer program is refused */
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_null(store_open(dbpath));
}

static void test_rounds(void **state)
{
    (void)state;
    store_t *s = store_open(dbpath);
    assert_non_null(s);
    add_round(s, "2025-r1-aaaa", 5000);
    add_round(s, "2025-r2-bbbb", 5000);
    struct store_round dup;
    memset(&dup, 0, sizeof dup);
    snprintf(dup.round_id, sizeof dup.round_id, "2025-r1-aaaa");
    uint8_t b[1] = {0};
    dup.request = dup.envelope = b;
    dup.request_len = dup.envelope_len = 1;
    assert_int_equal(store_round_insert(s, &dup), STORE_ERR_EXISTS);
    int n = -1;
    assert_int_equal(store_round_count(s, "2025", &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(store_round_count(s, "2026", &n), 0);
    assert_int_equal(n, 0);
    struct store_round r;
    assert_int_equal(store_round_get(s, "2025-r1-aaaa", &r), 0);
    assert_int_equal(r.k, 11);
    assert_int_equal(r.deadline, 5000);
    assert_false(r.closed);
    assert_int_equal(r.envelope_len, 4);
    assert_int_equal(r.envelope[3], 6);
    assert_int_equal(r.request_len, 3);
    store_round_clear(&r);
    assert_int_equal(store_round_get(s, "nope", &r), STORE_ERR_NOT_FOUND);
    assert_int_equal(store_round_close(s, "2025-r2-bbbb", 3000), 0);
    assert_int_equal(store_round_close(s, "2025-r2-bbbb", 3001), STORE_ERR_CLOSED);
    assert_int_equal(store_round_close(s, "nope", 3001), STORE_ERR_NOT_FOUND);
    assert_int_equal(store_round_get(s, "2025-r2-bbbb", &r), 0);
    assert_true(r.closed);
    assert_int_equal(r.closed_at, 3000);
    store_round_clear(&r);
    assert_int_equal(store_round_set_pooled(s, "2025-r2-bbbb", "ab"), 0);
    int all = 0;
    assert_int_equal(store_rounds_each(s, count_cb, &all), 0);
    assert_int_equal(all, 2);
    store_close(&s);
}

static void test_submissions(void **state)
{
    (void)state;
    store_t *s = store_open(dbpath);
    assert_non_null(s);
    add_round(s, "R1", 5000);
    add_round(s, "R2", 5000);
    char sha1[65], sha2[65];
    snprintf(sha1, sizeof sha1, "%064d", 1);
    snprintf(sha2, sizeof sha2, "%064d", 2);
    assert_int_equal(put(s, "R1", "org:a", sha1), STORE_PUT_NEW);
    assert_int_equal(put(s, "R1", "org:a", sha1), STORE_PUT_DUPLICATE);
    assert_int_equal(put(s, "R1", "org:a", sha2), STORE_PUT_CONFLICT);
    assert_int_equal(put(s, "R9", "org:a", sha1), STORE_PUT_UNKNOWN);
    int n = -1;
    assert_int_equal(store_submission_count(s, "R1", &n), 0);
    assert_int_equal(n, 1);
    /* pending: org:a answered R1 only; org:b answered nothing */
    int pa = 0, pb = 0;
    assert_int_equal(store_rounds_pending_for(s, "org:a", count_cb, &pa), 0);
    assert_int_equal(store_rounds_pending_for(s, "org:b", count_cb, &pb), 0);
    assert_int_equal(pa, 1);
    assert_int_equal(pb, 2);
    store_put_result res;
    assert_int_equal(store_refusal_put(s, "R1", "org:b", "county not allowed", 2100, &res), 0);
    assert_int_equal(res, STORE_PUT_NEW);
    assert_int_equal(store_refusal_put(s, "R1", "org:b", "again", 2200, &res), 0);
    assert_int_equal(res, STORE_PUT_DUPLICATE);
    assert_int_equal(store_refusal_put(s, "R1", "org:a", "late change", 2200, &res), 0);
    assert_int_equal(res, STORE_PUT_CONFLICT);
    pb = 0;
    assert_int_equal(store_rounds_pending_for(s, "org:b", count_cb, &pb), 0);
    assert_int_equal(pb, 1);
    /* org:b's later signed submission replaces its refusal: one state */
    {
        struct store_submission sub;
        memset(&sub, 0, sizeof sub);
        snprintf(sub.round_id, sizeof sub.round_id, "R1");
        snprintf(sub.org, sizeof sub.org, "org:b");
        snprintf(sub.sha256, sizeof sub.sha256, "%s", sha2);
        uint8_t env[3] = {'e', 'n', 'v'};
        sub.envelope = env;
        sub.envelope_len = sizeof env;
        sub.received_at = 2300;
        int replaced = 0;
        assert_int_equal(store_submission_put(s, &sub, &res, NULL, &replaced), 0);
        assert_int_equal(res, STORE_PUT_NEW);
        assert_int_equal(replaced, 1);
        int refusals = 0;
        assert_int_equal(store_refusals_each(s, "R1", count_refusal, &refusals), 0);
        assert_int_equal(refusals, 0);
        assert_int_equal(store_submission_count(s, "R1", &n), 0);
        assert_int_equal(n, 2);
    }
    /* closed round: a new submission is refused, an identical resend is not */
    assert_int_equal(store_round_close(s, "R1", 3000), 0);
    assert_int_equal(put(s, "R1", "org:c", sha1), STORE_PUT_CLOSED);
    assert_int_equal(put(s, "R1", "org:a", sha1), STORE_PUT_DUPLICATE);
    assert_int_equal(store_submission_count(s, NULL, &n), 0);
    assert_int_equal(n, 2);
    char err[256];
    assert_int_equal(store_integrity_check(s, err, sizeof err), 0);
    store_close(&s);
    /* persistence */
    s = store_open(dbpath);
    assert_non_null(s);
    assert_int_equal(store_submission_count(s, "R1", &n), 0);
    assert_int_equal(n, 2);
    store_close(&s);
}

/* A cell set of one organization with total and race tables for ed_rate. */
static struct cellset *org_cells(const char *org, double total_members, double black, int white_withheld,
                                 double white)
{
    struct cellset_builder *b = cellset_builder_new();
    char err[256];
    struct cell v;
    memset(&v, 0, sizeof v);
    v.members = total_members;
    v.member_months = (int64_t)total_members * 12 * CELL_MONTHS_SCALE;
    v.denominator = v.member_months;
    v.numerator = total_members / 2;
    assert_int_equal(cellset_builder_add(b, "ed_rate", "total", "all", &v, err, sizeof err), 0);
    v.members = black;
    v.member_months = (int64_t)black * 12 * CELL_MONTHS_SCALE;
    v.denominator = v.member_months;
    v.numerator = black / 2;
    assert_int_equal(cellset_builder_add(b, "ed_rate", "race", "BLACK", &v, err, sizeof err), 0);
    memset(&v, 0, sizeof v);
    if (white_withheld) {
        v.reason = REASON_COUNT;
    } else {
        v.members = white;
        v.member_months = (int64_t)white * 12 * CELL_MONTHS_SCALE;
        v.denominator = v.member_months;
        v.numerator = white / 2;
    }
    assert_int_equal(cellset_builder_add(b, "ed_rate", "race", "WHITE", &v, err, sizeof err), 0);
    struct cellset *cs = cellset_builder_finish(&b);
    assert_non_null(cs);
    snprintf(cs->org, sizeof cs->org, "%s", org);
    return cs;
}

/* Submissions of round as another connection sees them (plain SQLite,
 * read-only: store_open would wait for the batch's write lock). */
static int count_elsewhere(const char *round)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM submissions WHERE round_id = ?",
                                        -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, round, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void test_batch(void **state)
{
    (void)state;
    store_t *s = store_open(dbpath);
    assert_non_null(s);
    add_round(s, "2025-r1-aaaa", 5000);
    add_round(s, "2025-r2-bbbb", 5000);
    assert_int_equal(store_round_close(s, "2025-r2-bbbb", 3000), 0);
    assert_false(store_in_batch(s));
    assert_int_equal(store_batch_commit(s), STORE_ERR_ARG); /* none open */

    /* One batch: each put decides as alone, seeing the earlier ones. */
    assert_int_equal(store_batch_begin(s), 0);
    assert_true(store_in_batch(s));
    assert_int_equal(store_batch_begin(s), STORE_ERR_ARG); /* one at a time */
    assert_int_equal(put(s, "2025-r1-aaaa", "org:a", "aa"), STORE_PUT_NEW);
    assert_int_equal(put(s, "2025-r1-aaaa", "org:a", "aa"), STORE_PUT_DUPLICATE);
    assert_int_equal(put(s, "2025-r1-aaaa", "org:a", "a2"), STORE_PUT_CONFLICT);
    assert_int_equal(put(s, "2025-r1-aaaa", "org:b", "bb"), STORE_PUT_NEW);
    assert_int_equal(put(s, "2025-r2-bbbb", "org:a", "aa"), STORE_PUT_CLOSED);
    assert_int_equal(put(s, "2025-r9-zzzz", "org:a", "aa"), STORE_PUT_UNKNOWN);
    store_put_result res;
    assert_int_equal(store_refusal_put(s, "2025-r1-aaaa", "org:c", "no", 2100, &res), 0);
    assert_int_equal(res, STORE_PUT_NEW);
    assert_int_equal(store_refusal_put(s, "2025-r1-aaaa", "org:a", "no", 2100, &res), 0);
    assert_int_equal(res, STORE_PUT_CONFLICT); /* org:a submitted earlier in the batch */
    /* this connection sees the batch's rows; another one does not yet */
    int n = -1;
    assert_int_equal(store_submission_count(s, "2025-r1-aaaa", &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(count_elsewhere("2025-r1-aaaa"), 0);
    assert_int_equal(store_batch_commit(s), 0);
    assert_false(store_in_batch(s));
    assert_int_equal(count_elsewhere("2025-r1-aaaa"), 2);

    /* A batch that is rolled back leaves nothing. */
    assert_int_equal(store_batch_begin(s), 0);
    assert_int_equal(put(s, "2025-r1-aaaa", "org:d", "dd"), STORE_PUT_NEW);
    assert_int_equal(store_refusal_put(s, "2025-r1-aaaa", "org:e", "no", 2200, &res), 0);
    store_batch_rollback(s);
    assert_false(store_in_batch(s));
    store_batch_rollback(s); /* none open: nothing to do */
    assert_int_equal(count_elsewhere("2025-r1-aaaa"), 2);
    /* ... and the puts commit on their own again */
    assert_int_equal(put(s, "2025-r1-aaaa", "org:d", "dd"), STORE_PUT_NEW);
    assert_int_equal(count_elsewhere("2025-r1-aaaa"), 3);
    int refusals = 0;
    assert_int_equal(store_refusals_each(s, "2025-r1-aaaa", count_refusal, &refusals), 0);
    assert_int_equal(refusals, 1); /* org:c only: org:e's was rolled back */
    store_close(&s);
}

/* One status put; returns the result (asserting the call succeeded). */
static store_put_result status_put(store_t *s, const char *round, const char *org, int state,
                                   const char *code, const char *reason, int64_t at,
                                   int64_t *since)
{
    struct store_status ns;
    memset(&ns, 0, sizeof ns);
    snprintf(ns.round_id, sizeof ns.round_id, "%s", round);
    snprintf(ns.org, sizeof ns.org, "%s", org);
    ns.state = state;
    snprintf(ns.code, sizeof ns.code, "%s", code);
    snprintf(ns.reason, sizeof ns.reason, "%s", reason);
    ns.updated_at = at;
    store_put_result res = STORE_PUT_UNKNOWN;
    assert_int_equal(store_status_put(s, &ns, &res, since), 0);
    return res;
}

struct status_seen {
    int n;
    struct store_status last, first;
};

static int note_status(void *ctx, const struct store_status *ns)
{
    struct status_seen *c = ctx;
    if (c->n++ == 0)
        c->first = *ns;
    c->last = *ns;
    return 0;
}

static struct status_seen latest(store_t *s, const char *round)
{
    struct status_seen c;
    memset(&c, 0, sizeof c);
    assert_int_equal(store_statuses_each(s, round, note_status, &c), 0);
    return c;
}

static struct status_seen history(store_t *s, const char *round, const char *org)
{
    struct status_seen c;
    memset(&c, 0, sizeof c);
    assert_int_equal(store_status_history_each(s, round, org, note_status, &c), 0);
    return c;
}

/* Rows of a table, counted by another connection (what is on disk). */
static int rows_elsewhere(const char *table)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    char sql[100];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void test_node_status(void **state)
{
    (void)state;
    store_t *s = store_open(dbpath);
    assert_non_null(s);
    const char *R = "2025-r1-aaaa";
    add_round(s, R, 5000);
    add_round(s, "2025-r2-bbbb", 5000);
    assert_int_equal(store_round_close(s, "2025-r2-bbbb", 3000), 0);
    int64_t since = -1;

    /* held, then the same again (nothing written), then a new wording of
     * the same state and code (since kept), then failing (since moves) */
    assert_int_equal(status_put(s, R, "org:a", STORE_STATE_HELD, "rejected_rows", "10.0 %", 2000,
                                &since), STORE_PUT_NEW);
    assert_int_equal(since, 2000);
    assert_int_equal(status_put(s, R, "org:a", STORE_STATE_HELD, "rejected_rows", "10.0 %", 2005,
                                &since), STORE_PUT_DUPLICATE);
    assert_int_equal(since, 2000);
    assert_int_equal(history(s, R, "org:a").n, 1);
    assert_int_equal(status_put(s, R, "org:a", STORE_STATE_HELD, "rejected_rows", "12.0 %", 2010,
                                &since), STORE_PUT_NEW);
    assert_int_equal(since, 2000);
    struct status_seen l = latest(s, R);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.last.org, "org:a");
    assert_int_equal(l.last.state, STORE_STATE_HELD);
    assert_string_equal(l.last.reason, "12.0 %");
    assert_int_equal(l.last.since, 2000);
    assert_int_equal(l.last.updated_at, 2010);
    assert_int_equal(status_put(s, R, "org:a", STORE_STATE_FAILING, "input_error", "cannot read",
                                2020, &since), STORE_PUT_NEW);
    assert_int_equal(since, 2020);
    l = latest(s, R);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.last.state, STORE_STATE_FAILING);
    assert_string_equal(l.last.code, "input_error");
    assert_int_equal(l.last.since, 2020);
    struct status_seen h = history(s, R, "org:a");
    assert_int_equal(h.n, 3);
    assert_string_equal(h.first.reason, "10.0 %");
    assert_int_equal(h.first.updated_at, 2000);
    assert_string_equal(h.last.code, "input_error");
    assert_string_equal(store_state_name(STORE_STATE_HELD), "held");
    assert_string_equal(store_state_name(STORE_STATE_FAILING), "failing");
    assert_null(store_state_name(0));

    /* A flood of different statuses keeps one latest row and a bounded
     * history of the newest ones. */
    for (int i = 0; i < 500; i++) {
        char why[32];
        snprintf(why, sizeof why, "attempt %d", i);
        assert_int_equal(status_put(s, R, "org:b", i % 2 ? STORE_STATE_HELD : STORE_STATE_FAILING,
                                    "internal", why, 3000 + i, NULL), STORE_PUT_NEW);
    }
    h = history(s, R, "org:b");
    assert_int_equal(h.n, STORE_STATUS_HISTORY_MAX);
    assert_string_equal(h.last.reason, "attempt 499");
    char oldest[32];
    snprintf(oldest, sizeof oldest, "attempt %d", 500 - STORE_STATUS_HISTORY_MAX);
    assert_string_equal(h.first.reason, oldest);
    assert_int_equal(latest(s, R).n, 2);
    assert_int_equal(rows_elsewhere("node_status"), 2);
    assert_int_equal(rows_elsewhere("node_status_history"), 3 + STORE_STATUS_HISTORY_MAX);
    assert_int_equal(history(s, R, "org:a").n, 3); /* org:a's untouched */

    /* A submission supersedes org:a's status, a refusal org:b's; later
     * statuses cannot go back on those answers. The history stays. */
    assert_int_equal(put(s, R, "org:a", "aa"), STORE_PUT_NEW);
    l = latest(s, R);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.last.org, "org:b");
    store_put_result res;
    assert_int_equal(store_refusal_put(s, R, "org:b", "policy", 4000, &res), 0);
    assert_int_equal(res, STORE_PUT_NEW);
    assert_int_equal(latest(s, R).n, 0);
    assert_int_equal(status_put(s, R, "org:a", STORE_STATE_HELD, "manual_approval", "", 4100,
                                NULL), STORE_PUT_CONFLICT);
    assert_int_equal(status_put(s, R, "org:b", STORE_STATE_FAILING, "internal", "", 4100, NULL),
                     STORE_PUT_CONFLICT);
    assert_int_equal(latest(s, R).n, 0);
    assert_int_equal(history(s, R, "org:a").n, 3);

    /* closed and unknown rounds; bad arguments */
    assert_int_equal(status_put(s, "2025-r2-bbbb", "org:c", STORE_STATE_HELD, "x", "", 4200,
                                NULL), STORE_PUT_CLOSED);
    assert_int_equal(status_put(s, "2025-r9-zzzz", "org:c", STORE_STATE_HELD, "x", "", 4200,
                                NULL), STORE_PUT_UNKNOWN);
    assert_int_equal(latest(s, "2025-r2-bbbb").n, 0);
    struct store_status bad;
    memset(&bad, 0, sizeof bad);
    snprintf(bad.round_id, sizeof bad.round_id, "%s", R);
    snprintf(bad.org, sizeof bad.org, "org:c");
    bad.state = 3;
    assert_int_equal(store_status_put(s, &bad, &res, NULL), STORE_ERR_ARG);
    assert_int_equal(store_status_put(NULL, &bad, &res, NULL), STORE_ERR_ARG);

    /* in a batch: nothing on disk until commit, nothing after a rollback */
    int before = rows_elsewhere("node_status_history");
    assert_int_equal(store_batch_begin(s), 0);
    assert_int_equal(status_put(s, R, "org:c", STORE_STATE_HELD, "x", "", 4300, NULL),
                     STORE_PUT_NEW);
    assert_int_equal(status_put(s, R, "org:c", STORE_STATE_HELD, "x", "", 4301, NULL),
                     STORE_PUT_DUPLICATE);
    assert_int_equal(rows_elsewhere("node_status"), 0);
    store_batch_rollback(s);
    assert_int_equal(latest(s, R).n, 0);
    assert_int_equal(rows_elsewhere("node_status_history"), before);
    store_close(&s);
}

/* A database of schema version 2 (before node statuses) is migrated at
 * open, keeping its rounds. */
static void test_status_migration(void **state)
{
    (void)state;
    store_t *s = store_open(dbpath);
    assert_non_null(s);
    add_round(s, "2025-r1-aaaa", 5000);
    store_close(&s);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DROP INDEX node_status_history_pair;"
                                      "DROP TABLE node_status_history; DROP TABLE node_status;"
                                      "PRAGMA user_version = 2;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    s = store_open(dbpath);
    assert_non_null(s);
    struct store_round r;
    assert_int_equal(store_round_get(s, "2025-r1-aaaa", &r), 0);
    store_round_clear(&r);
    assert_int_equal(status_put(s, "2025-r1-aaaa", "org:a", STORE_STATE_HELD, "x", "", 2000,
                                NULL), STORE_PUT_NEW);
    assert_int_equal(latest(s, "2025-r1-aaaa").n, 1);
    store_close(&s);
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 3);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_pool(void **state)
{
    (void)state;
    struct cellset *subs[3];
    subs[0] = org_cells("org:a", 100, 40, 0, 60);
    subs[1] = org_cells("org:b", 50, 44, 1, 0);
    subs[2] = org_cells("org:c", 30, 14, 1, 0);
    subs[2]->k = 20;
    struct cellset *p = pool_submissions(subs, 3, "2025-r1-x", "2025");
    assert_non_null(p);
    assert_string_equal(p->org, "pooled");
    assert_string_equal(p->round, "2025-r1-x");
    assert_int_equal(p->k, 20);
    assert_int_equal(p->ncells, 3);
    int m = catalog_measure_find("ed_rate");
    int tt = cellset_find_table(p, "total"), tr = cellset_find_table(p, "race");
    assert_true(tt >= 0 && tr >= 0);
    struct cell *c = cellset_get(p, m, tt, 0);
    assert_non_null(c);
    assert_true(c->members == 180);          /* 100 + 50 + 30 */
    assert_true(c->member_months == 2160 * CELL_MONTHS_SCALE);   /* 180 * 12 */
    assert_true(c->numerator == 90);         /* 50 + 25 + 15 */
    assert_int_equal(c->n_orgs, 3);
    assert_int_equal(c->n_withheld, 0);
    char label[64];
    int black = -1, white = -1;
    for (size_t i = 0; i < p->ncells; i++) {
        if (p->cells[i].table != tr)
            continue;
        cellset_stratum_label(p, &p->cells[i], label, sizeof label);
        if (!strcmp(label, "BLACK"))
            black = (int)i;
        if (!strcmp(label, "WHITE"))
            white = (int)i;
    }
    assert_true(black >= 0 && white >= 0);
    assert_true(p->cells[black].members == 98); /* 40 + 44 + 14 */
    assert_int_equal(p->cells[black].reason, REASON_NONE);
    /* WHITE: released by org:a only, withheld by two: partial */
    assert_true(p->cells[white].members == 60);
    assert_int_equal(p->cells[white].n_orgs, 1);
    assert_int_equal(p->cells[white].n_withheld, 2);

    char path[400];
    snprintf(path, sizeof path, "%s/pooled.csv", dir);
    assert_int_equal(pool_write_csv(p, path), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[512];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "org,round,measure,stratifier,stratum,members,member_months,"
                              "denominator,numerator,sum_sq,suppressed,reason,n_orgs,n_withheld\n");
    int saw_white = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, ",race,WHITE,")) {
            assert_string_equal(line, "pooled,2025-r1-x,ed_rate,race,WHITE,60,720,720,30,0,0,"
                                      "partial,1,2\n");
            saw_white = 1;
        }
    fclose(f);
    assert_true(saw_white);
    cellset_destroy(&p);

    /* every organization withholds WHITE: no numbers, reason partial */
    struct cellset *two[2] = {subs[1], subs[2]};
    p = pool_submissions(two, 2, "r", "2025");
    assert_non_null(p);
    for (size_t i = 0; i < p->ncells; i++) {
        cellset_stratum_label(p, &p->cells[i], label, sizeof label);
        if (p->cells[i].table == cellset_find_table(p, "race") && !strcmp(label, "WHITE")) {
            assert_int_equal(p->cells[i].reason, REASON_PARTIAL);
            assert_int_equal(p->cells[i].n_orgs, 0);
            assert_int_equal(p->cells[i].n_withheld, 2);
        }
    }
    cellset_destroy(&p);
    /* no submissions: an empty result, not a failure */
    p = pool_submissions(NULL, 0, "r", "2025");
    assert_non_null(p);
    assert_int_equal(p->ncells, 0);
    cellset_destroy(&p);
    for (int i = 0; i < 3; i++)
        cellset_destroy(&subs[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema_and_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
