/*
 * rounds.c - the rules of a round (see rounds.h): what is checked before
 * a submission is stored, in which order, and what each peer is told.
 *
 * Order of the checks on a SUBMISSION: envelope syntax, signature by a
 * signing certificate of the connection's own organization, Submission
 * syntax, round known, org field = connection, request_sha256 = the round's
 * request, plausibility at the round's k; then the transaction decides
 * new / duplicate / conflict / closed; the ACK goes out only after COMMIT
 * and after the audit entry is written. The daemon handles the node
 * messages that wait together as one batch (group commit, rounds.h): one
 * transaction and one audit fsync for all, replies kept until both.
 */
#include "rounds.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "audit.h"
#include "envelope.h"
#include "equity.pb-c.h"
#include "log.h"
#include "pool.h"
#include "query.h"
#include "release.h"
#include "wire.h"

/* A reply of the open batch, sent by rounds_batch_end. */
struct pending_reply {
    rounds_reply_fn reply;
    void *ctx;
    uint8_t *buf;
    size_t len;
    int msg;                     /* which message of the batch it answers        */
    int dep;                     /* decided inside the batch's transaction       */
    uint8_t id[ENVELOPE_ID_LEN]; /* that message's id (for an "internal" instead) */
};

/* An audit entry of the open batch, written by rounds_batch_end. */
struct pending_audit {
    char *event;
    char *details;
    int dep; /* records an outcome of the batch's transaction */
};

struct rounds {
    const struct coord_config *cfg;
    store_t *store;
    trust_t *trust;
    int crash_after_commit;
    /* the open batch (rounds_batch_begin .. rounds_batch_end) */
    int batching;
    int nmsg;       /* node messages handled in it                            */
    int dep;        /* the current message has used the batch's transaction   */
    int stored_new; /* new submissions written in the transaction             */
    uint8_t cur_id[ENVELOPE_ID_LEN]; /* id of the current message (zeros if unparsable) */
    struct pending_reply *rep;
    size_t nrep, caprep;
    struct pending_audit *aud;
    size_t naud, capaud;
};

static void fmt_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int rounds_parse_time(const char *s, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end) {
        memset(&tm, 0, sizeof tm);
        end = strptime(s, "%Y-%m-%d", &tm);
        if (!end || *end)
            return -1;
        tm.tm_hour = 23;
        tm.tm_min = 59;
        tm.tm_sec = 59;
    }
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = (int64_t)t;
    return 0;
}

static int period_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 31)
        return 0;
    for (; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return 0;
    return 1;
}

static char *json_text(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

static void audit_json(const struct coord_config *cfg, const char *event, json_t *o)
{
    char *s = json_text(o);
    if (!s || audit_append(cfg->audit_log, event, s) != 0)
        log_error("audit: cannot record %s event in %s", event, cfg->audit_log);
    free(s);
}

/* ---- round open ----------------------------------------------------------- */

int rounds_open(const struct coord_config *cfg, store_t *st, const char *period,
                const char *deadline, char round_id[64], char *err, size_t errlen)
{
    int rc = -2;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    uint8_t *payload = NULL, *env = NULL;
    size_t plen = 0, elen = 0;
    struct identity_info info;
    struct round_request r;
    memset(&r, 0, sizeof r);

    if (!period_ok(period)) {
        snprintf(err, errlen, "--period \"%.40s\": use 1-31 letters, digits, '-' or '_'", period);
        return -1;
    }
    int64_t now = (int64_t)time(NULL), dl;
    if (deadline) {
        if (rounds_parse_time(deadline, &dl) != 0) {
            snprintf(err, errlen, "--deadline \"%.40s\" is not YYYY-MM-DD or "
                     "YYYY-MM-DDTHH:MM:SSZ", deadline);
            return -1;
        }
        if (dl <= now)
            log_warnx("deadline %s is already past: every submission will be late", deadline);
    } else {
        dl = now + (int64_t)cfg->deadline_days * 86400;
    }
    if (coord_config_round_defaults(cfg, &r, err, errlen) != 0)
        return -1;
    if (identity_load_secret_key(cfg->signing_key, &key) != 0 ||
        identity_load_cert(cfg->signing_cert, &cert) != 0 || identity_cert_info(cert, &info) != 0) {
        snprintf(err, errlen, "cannot load the signing key %s or certificate %s (check-config "
                 "says why)", cfg->signing_key, cfg->signing_cert);
        rc = -1;
        goto out;
    }
    int n;
    if (store_round_count(st, period, &n) != 0)
        goto out;
    unsigned char rnd[2];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        goto out;
    snprintf(r.round_id, sizeof r.round_id, "%s-r%d-%02x%02x", period, n + 1, rnd[0], rnd[1]);
    snprintf(r.period, sizeof r.period, "%s", period);
    fmt_time(dl, r.deadline);
    fmt_time(now, r.opened_at);
    snprintf(r.coordinator, sizeof r.coordinator, "%s", info.cn);
    if (round_request_pack(&r, &payload, &plen) != 0 ||
        envelope_pack(MSG_ROUND_REQUEST, payload, plen, key, cert, &env, &elen, NULL) != 0) {
        snprintf(err, errlen, "cannot sign the round request");
        goto out;
    }
    struct store_round sr;
    memset(&sr, 0, sizeof sr);
    snprintf(sr.round_id, sizeof sr.round_id, "%s", r.round_id);
    snprintf(sr.period, sizeof sr.period, "%s", period);
    sr.k = (int)r.k;
    sr.opened_at = now;
    sr.deadline = dl;
    identity_sha256_hex(payload, plen, sr.request_sha256);
    sr.request = payload;
    sr.request_len = plen;
    sr.envelope = env;
    sr.envelope_len = elen;
    int e = store_round_insert(st, &sr);
    if (e != 0) {
        snprintf(err, errlen, "cannot store round %s: %s", r.round_id, store_strerror(e));
        goto out;
    }
    json_t *o = json_object();
    json_object_set_new(o, "round", json_string(r.round_id));
    json_object_set_new(o, "period", json_string(period));
    json_object_set_new(o, "deadline", json_string(r.deadline));
    json_object_set_new(o, "k", json_integer(r.k));
    json_object_set_new(o, "min_orgs", json_integer(r.min_orgs));
    json_object_set_new(o, "request_sha256", json_string(sr.request_sha256));
    audit_json(cfg, "round_open", o);
    snprintf(round_id, 64, "%s", r.round_id);
    rc = 0;
out:
    free(payload);
    free(env);
    EVP_PKEY_free(key);
    X509_free(cert);
    return rc;
}

/* ---- round close ---------------------------------------------------------- */

struct close_ctx {
    struct cellset **subs;
    int n, cap, late, bad;
};

static int collect_submission(void *vctx, const struct store_submission *sub)
{
    struct close_ctx *c = vctx;
    if (sub->late) {
        c->late++;
        return 0;
    }
    struct envelope e;
    struct submission_meta meta;
    struct cellset *cs = NULL;
    char err[256];
    if (envelope_unpack(sub->envelope, sub->envelope_len, &e, err, sizeof err) != 0 ||
        wire_submission_unpack(e.payload, e.payload_len, &cs, &meta, err, sizeof err) != 0) {
        /* Stored submissions were decoded once already: this is damage. */
        log_error("round %s: stored submission of %s cannot be decoded: %s", sub->round_id,
                  sub->org, err);
        envelope_free(&e);
        c->bad++;
        return 0;
    }
    envelope_free(&e);
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 8;
        struct cellset **p = realloc(c->subs, (size_t)cap * sizeof *p);
        if (!p) {
            cellset_destroy(&cs);
            return -1;
        }
        c->subs = p;
        c->cap = cap;
    }
    c->subs[c->n++] = cs;
    return 0;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0750) != 0 && errno != EEXIST) {
        log_warn("mkdir %s", path);
        return -1;
    }
    return 0;
}

int rounds_close(const struct coord_config *cfg, store_t *st, const char *round_id,
                 char *pooled_path, size_t pathlen, char *err, size_t errlen)
{
    struct store_round r;
    memset(&r, 0, sizeof r);
    struct close_ctx c;
    memset(&c, 0, sizeof c);
    struct cellset *pooled = NULL;
    int rc = -2;
    int e = store_round_get(st, round_id, &r);
    if (e == STORE_ERR_NOT_FOUND) {
        snprintf(err, errlen, "no round \"%.60s\"", round_id);
        return -1;
    }
    if (e != 0) {
        snprintf(err, errlen, "cannot read round %.60s: %s", round_id, store_strerror(e));
        return -2;
    }
    e = store_round_close(st, round_id, (int64_t)time(NULL));
    if (e == STORE_ERR_CLOSED) {
        snprintf(err, errlen, "round %s is already closed", round_id);
        rc = -1;
        goto out;
    }
    if (e != 0) {
        snprintf(err, errlen, "cannot close round %s: %s", round_id, store_strerror(e));
        goto out;
    }
    if (store_submissions_each(st, round_id, collect_submission, &c) != 0) {
        snprintf(err, errlen, "cannot read the submissions of round %s", round_id);
        goto out;
    }
    struct round_request rq;
    if (round_request_unpack(r.request, r.request_len, &rq, err, errlen) != 0)
        goto out;
    struct release_params rp = {(int)rq.min_orgs, rq.allow_single_org};
    if (rp.min_orgs < 1)
        rp.min_orgs = 1;
    struct release_report rep;
    memset(&rep, 0, sizeof rep);
    pooled = release_pool(c.subs, c.n, round_id, r.period, &rp, &rep);
    if (!pooled) {
        snprintf(err, errlen, "cannot pool round %s (out of memory)", round_id);
        goto out;
    }
    char dir[1200];
    struct release_files fl;
    snprintf(dir, sizeof dir, "%s/%s", cfg->results_dir, round_id);
    if (make_dir(cfg->results_dir) != 0 || make_dir(dir) != 0) {
        snprintf(err, errlen, "cannot create %s", dir);
        goto out;
    }
    if (release_write_results(pooled, dir, &fl, err, errlen) != 0)
        goto out;
    if (store_round_set_pooled(st, round_id, fl.sha_pooled_csv) != 0) {
        snprintf(err, errlen, "cannot record the pooled result of %s", round_id);
        goto out;
    }
    json_t *o = json_object();
    json_object_set_new(o, "round", json_string(round_id));
    json_object_set_new(o, "pooled_submissions", json_integer(c.n));
    json_object_set_new(o, "late_submissions", json_integer(c.late));
    json_object_set_new(o, "undecodable", json_integer(c.bad));
    audit_json(cfg, "round_close", o);
    o = json_object();
    json_object_set_new(o, "round", json_string(round_id));
    json_object_set_new(o, "pooled_csv", json_string(fl.pooled_csv));
    json_object_set_new(o, "pooled_csv_sha256", json_string(fl.sha_pooled_csv));
    json_object_set_new(o, "pooled_json", json_string(fl.pooled_json));
    json_object_set_new(o, "pooled_json_sha256", json_string(fl.sha_pooled_json));
    json_object_set_new(o, "metrics_csv", json_string(fl.metrics_csv));
    json_object_set_new(o, "metrics_csv_sha256", json_string(fl.sha_metrics_csv));
    json_object_set_new(o, "cells", json_integer((json_int_t)rep.cells));
    json_object_set_new(o, "released", json_integer((json_int_t)rep.released));
    json_object_set_new(o, "partial", json_integer((json_int_t)rep.partial));
    json_object_set_new(o, "min_orgs", json_integer((json_int_t)rep.min_orgs));
    json_object_set_new(o, "secondary", json_integer((json_int_t)rep.secondary));
    json_object_set_new(o, "all_withheld", json_integer((json_int_t)rep.all_withheld));
    audit_json(cfg, "release", o);
    if (pooled_path)
        snprintf(pooled_path, pathlen, "%s", fl.pooled_csv);
    const char *path = fl.pooled_csv;
    log_info("round %s closed: %d submissions pooled, %d late (stored, not pooled) -> %s",
             round_id, c.n, c.late, path);
    rc = 0;
out:
    for (int i = 0; i < c.n; i++)
        cellset_destroy(&c.subs[i]);
    free(c.subs);
    cellset_destroy(&pooled);
    store_round_clear(&r);
    return rc;
}

/* ---- round status ----------------------------------------------------- */

struct status_ctx {
    FILE *out;
    char (*answered)[128];
    int n, cap;
    store_t *st;
    const struct coord_config *cfg;
};

static int remember(struct status_ctx *s, const char *org)
{
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 16;
        char (*p)[128] = realloc(s->answered, (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        s->answered = p;
        s->cap = cap;
    }
    snprintf(s->answered[s->n++], 128, "%s", org);
    return 0;
}

static int status_sub(void *vctx, const struct store_submission *sub)
{
    struct status_ctx *s = vctx;
    char when[32];
    fmt_time(sub->received_at, when);
    fprintf(s->out, "  %-40s submitted  %s  sha256 %s%s\n", sub->org, when, sub->sha256,
            sub->late ? "  LATE (stored, not pooled)" : "");
    return remember(s, sub->org);
}

static int status_ref(void *vctx, const char *round_id, const char *org, const char *reason,
                      int64_t received_at)
{
    (void)round_id;
    struct status_ctx *s = vctx;
    char when[32];
    fmt_time(received_at, when);
    fprintf(s->out, "  %-40s refused    %s  reason: %s\n", org, when, reason);
    return remember(s, org);
}

/* Enrolled node organizations that have not answered: pending. */
static void status_pending(struct status_ctx *s)
{
    DIR *d = opendir(s->cfg->enrolled_dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".crt") != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", s->cfg->enrolled_dir, de->d_name);
        X509 *cert = NULL;
        struct identity_info info;
        if (identity_load_cert(path, &cert) != 0)
            continue;
        if (identity_cert_info(cert, &info) == 0 && info.role == ROLE_NODE &&
            info.kind == CERT_KIND_TRANSPORT) {
            int seen = 0;
            for (int i = 0; i < s->n && !seen; i++)
                seen = strcmp(s->answered[i], info.cn) == 0;
            if (!seen) {
                fprintf(s->out, "  %-40s pending\n", info.cn);
                remember(s, info.cn);
            }
        }
        X509_free(cert);
    }
    closedir(d);
}

static int status_round(void *vctx, const struct store_round *r)
{
    struct status_ctx *s = vctx;
    char opened[32], dl[32], closed[32];
    fmt_time(r->opened_at, opened);
    fmt_time(r->deadline, dl);
    fmt_time(r->closed_at, closed);
    fprintf(s->out, "round %s  period %s  k %d  %s  opened %s  deadline %s%s%s\n", r->round_id,
            r->period, r->k, r->closed ? "closed" : "open", opened, dl,
            r->closed ? "  closed " : "", r->closed ? closed : "");
    if (r->pooled_sha256[0])
        fprintf(s->out, "  pooled result sha256 %s\n", r->pooled_sha256);
    s->n = 0;
    if (store_submissions_each(s->st, r->round_id, status_sub, s) != 0 ||
        store_refusals_each(s->st, r->round_id, status_ref, s) != 0)
        return -1;
    status_pending(s);
    return 0;
}

int rounds_status(const struct coord_config *cfg, store_t *st, const char *round_id, FILE *out,
                  char *err, size_t errlen)
{
    struct status_ctx s;
    memset(&s, 0, sizeof s);
    s.out = out;
    s.st = st;
    s.cfg = cfg;
    int rc;
    if (round_id) {
        struct store_round r;
        int e = store_round_get(st, round_id, &r);
        if (e == STORE_ERR_NOT_FOUND) {
            snprintf(err, errlen, "no round \"%.60s\"", round_id);
            return -1;
        }
        if (e != 0) {
            snprintf(err, errlen, "cannot read round %.60s", round_id);
            return -2;
        }
        rc = status_round(&s, &r);
        store_round_clear(&r);
    } else {
        rc = store_rounds_each(st, status_round, &s);
    }
    free(s.answered);
    if (rc != 0) {
        snprintf(err, errlen, "cannot read the database");
        return -2;
    }
    return 0;
}

/* ---- daemon ---------------------------------------------------------------- */

rounds_t *rounds_new(const struct coord_config *cfg, store_t *st, trust_t *trust)
{
    rounds_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->cfg = cfg;
    r->store = st;
    r->trust = trust;
    const char *hook = getenv("EQ_TEST_CRASH_AFTER_COMMIT");
    r->crash_after_commit = hook && strcmp(hook, "1") == 0;
    if (r->crash_after_commit)
        log_warnx("EQ_TEST_CRASH_AFTER_COMMIT=1: test hook active, the daemon exits after the "
                  "next stored submission");
    return r;
}

static void batch_clear(rounds_t *r)
{
    for (size_t i = 0; i < r->nrep; i++)
        free(r->rep[i].buf);
    for (size_t i = 0; i < r->naud; i++) {
        free(r->aud[i].event);
        free(r->aud[i].details);
    }
    r->nrep = r->naud = 0;
    r->nmsg = r->dep = r->stored_new = 0;
    r->batching = 0;
}

void rounds_destroy(rounds_t **pr)
{
    if (!pr || !*pr)
        return;
    rounds_t *r = *pr;
    store_batch_rollback(r->store);
    batch_clear(r);
    free(r->rep);
    free(r->aud);
    free(r);
    *pr = NULL;
}

/* A reply: sent now, or, inside a batch, kept for rounds_batch_end. */
static int emit(rounds_t *r, const uint8_t *buf, size_t len, rounds_reply_fn reply, void *ctx)
{
    if (!r->batching)
        return reply(ctx, buf, len);
    if (r->nrep == r->caprep) {
        size_t cap = r->caprep ? 2 * r->caprep : 64;
        struct pending_reply *p = realloc(r->rep, cap * sizeof *p);
        if (!p)
            return -1;
        r->rep = p;
        r->caprep = cap;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return -1;
    if (len)
        memcpy(copy, buf, len);
    struct pending_reply *pr = &r->rep[r->nrep++];
    pr->reply = reply;
    pr->ctx = ctx;
    pr->buf = copy;
    pr->len = len;
    pr->msg = r->nmsg;
    pr->dep = r->dep;
    memcpy(pr->id, r->cur_id, ENVELOPE_ID_LEN);
    return 0;
}

/* An audit entry of the daemon: written now, or, inside a batch, kept for
 * rounds_batch_end (one fsync for all). Takes o. */
static void audit_daemon(rounds_t *r, const char *event, json_t *o)
{
    if (!r->batching) {
        audit_json(r->cfg, event, o);
        return;
    }
    char *s = json_text(o);
    char *ev = strdup(event);
    if (s && ev && r->naud == r->capaud) {
        size_t cap = r->capaud ? 2 * r->capaud : 64;
        struct pending_audit *p = realloc(r->aud, cap * sizeof *p);
        if (p) {
            r->aud = p;
            r->capaud = cap;
        }
    }
    if (!s || !ev || r->naud == r->capaud) {
        log_error("audit: cannot record %s event in %s (out of memory)", event, r->cfg->audit_log);
        free(s);
        free(ev);
        return;
    }
    struct pending_audit *pa = &r->aud[r->naud++];
    pa->event = ev;
    pa->details = s;
    pa->dep = r->dep;
}

void rounds_audit(rounds_t *r, const char *event, json_t *details)
{
    if (!r || !event || !details) {
        json_decref(details);
        return;
    }
    audit_daemon(r, event, details);
}

/* Before a put: inside a batch, join the batch's transaction (begun by its
 * first put); what this message answers from now on depends on its COMMIT. */
static int use_txn(rounds_t *r)
{
    if (!r->batching)
        return 0;
    if (!store_in_batch(r->store) && store_batch_begin(r->store) != 0)
        return -1;
    r->dep = 1;
    return 0;
}

/* Before a read of submissions or refusals: inside an open transaction it
 * sees the batch's rows, so the answer depends on the COMMIT too. */
static void note_read(rounds_t *r)
{
    if (r->batching && store_in_batch(r->store))
        r->dep = 1;
}

void rounds_batch_begin(rounds_t *r)
{
    if (!r || r->batching)
        return;
    batch_clear(r);
    r->batching = 1;
}

int rounds_batch_end(rounds_t *r)
{
    if (!r || !r->batching)
        return 0;
    int rc = 0, failed = 0;
    if (store_in_batch(r->store)) {
        if (store_batch_commit(r->store) != 0) {
            failed = 1;
            rc = -1;
            log_error("the transaction of %d messages failed: nothing of it is stored; their "
                      "senders are told to resend", r->nmsg);
        } else if (r->stored_new && r->crash_after_commit) {
            _exit(137);
        }
    }
    /* The audit entries that stand, in order, with one fsync; then (only
     * then) the replies. */
    struct audit_entry *ents = r->naud ? malloc(r->naud * sizeof *ents) : NULL;
    size_t n = 0;
    if (r->naud && !ents) {
        log_error("audit: cannot record %zu entries in %s (out of memory)", r->naud,
                  r->cfg->audit_log);
        rc = -1;
    }
    for (size_t i = 0; ents && i < r->naud; i++)
        if (!(failed && r->aud[i].dep))
            ents[n++] = (struct audit_entry){r->aud[i].event, r->aud[i].details};
    if (n && audit_append_many(r->cfg->audit_log, ents, n) != 0) {
        log_error("audit: not all of %zu entries could be recorded in %s", n, r->cfg->audit_log);
        rc = -1;
    }
    free(ents);
    int substituted = -1;
    for (size_t i = 0; i < r->nrep; i++) {
        struct pending_reply *p = &r->rep[i];
        if (!(failed && p->dep)) {
            if (p->reply(p->ctx, p->buf, p->len) != 0)
                rc = -1;
            continue;
        }
        /* One "resend" error per message whose answer rested on the
         * transaction that did not commit. */
        if (p->msg == substituted)
            continue;
        substituted = p->msg;
        uint8_t *e = NULL, *env = NULL;
        size_t elen = 0, envlen = 0;
        if (error_pack(p->id, "internal", "cannot store this now; resend", &e, &elen) != 0 ||
            envelope_pack(MSG_ERROR, e, elen, NULL, NULL, &env, &envlen, NULL) != 0 ||
            p->reply(p->ctx, env, envlen) != 0)
            rc = -1;
        free(e);
        free(env);
    }
    if (r->nmsg > 1)
        log_info("group commit: %d messages, %d new submissions in one transaction, %zu audit "
                 "entries with one fsync", r->nmsg, r->stored_new, n);
    batch_clear(r);
    return rc;
}

static int send_envelope(rounds_t *r, int type, const uint8_t *payload, size_t len,
                         rounds_reply_fn reply, void *ctx)
{
    uint8_t *env = NULL;
    size_t elen = 0;
    if (envelope_pack(type, payload, len, NULL, NULL, &env, &elen, NULL) != 0)
        return -1;
    int rc = emit(r, env, elen, reply, ctx);
    free(env);
    return rc;
}

static int send_error(rounds_t *r, const uint8_t id[ENVELOPE_ID_LEN], const char *code,
                      const char *message, rounds_reply_fn reply, void *ctx)
{
    uint8_t *p = NULL;
    size_t len = 0;
    if (error_pack(id, code, message, &p, &len) != 0)
        return -1;
    int rc = send_envelope(r, MSG_ERROR, p, len, reply, ctx);
    free(p);
    return rc;
}

static int send_ack(rounds_t *r, const uint8_t id[ENVELOPE_ID_LEN], const char *round_id,
                    const char *sha, int duplicate, int late, rounds_reply_fn reply, void *ctx)
{
    uint8_t *p = NULL;
    size_t len = 0;
    if (ack_pack(id, round_id, sha, duplicate, late, &p, &len) != 0)
        return -1;
    int rc = send_envelope(r, MSG_ACK, p, len, reply, ctx);
    free(p);
    return rc;
}

/* Logs, audits and answers a rejected message; nothing was stored. */
static int reject(rounds_t *r, const char *org, const char *round_id, const uint8_t *id,
                  const char *code, const char *message, rounds_reply_fn reply, void *ctx)
{
    log_warnx("rejected message from %s%s%s: %s: %s", org, round_id ? " for round " : "",
              round_id ? round_id : "", code, message);
    json_t *o = json_object();
    json_object_set_new(o, "org", json_string(org));
    if (round_id)
        json_object_set_new(o, "round", json_string(round_id));
    json_object_set_new(o, "code", json_string(code));
    json_object_set_new(o, "reason", json_string(message));
    audit_daemon(r, "rejection", o);
    static const uint8_t zero[ENVELOPE_ID_LEN];
    return send_error(r, id ? id : zero, code, message, reply, ctx);
}

struct hello_ctx {
    rounds_t *r;
    rounds_reply_fn reply;
    void *ctx;
    int sent;
};

static int hello_round(void *vctx, const struct store_round *sr)
{
    struct hello_ctx *h = vctx;
    h->sent++;
    /* The envelope was signed by `round open`: send the stored bytes. */
    return emit(h->r, sr->envelope, sr->envelope_len, h->reply, h->ctx) != 0 ? -1 : 0;
}

static int handle_hello(rounds_t *r, const char *org, const struct envelope *e,
                        rounds_reply_fn reply, void *ctx)
{
    struct hello h;
    char err[256];
    if (hello_unpack(e->payload, e->payload_len, &h, err, sizeof err) != 0)
        return reject(r, org, NULL, e->message_id, "malformed", err, reply, ctx);
    struct hello_ctx hc = {r, reply, ctx, 0};
    note_read(r);
    int rc = store_rounds_pending_for(r->store, org, hello_round, &hc);
    if (rc != 0 && hc.sent == 0) {
        send_error(r, e->message_id, "internal", "cannot read the rounds", reply, ctx);
        return -1;
    }
    if (hc.sent == 0)
        return send_ack(r, e->message_id, "", "", 0, 0, reply, ctx);
    return 0;
}

static int handle_submission(rounds_t *r, const char *org, const uint8_t *buf, size_t len,
                             const struct envelope *e, rounds_reply_fn reply, void *ctx)
{
    char err[512], msg[700];
    struct identity_info signer;
    struct submission_meta meta;
    struct cellset *cs = NULL;
    struct store_round sr;
    memset(&sr, 0, sizeof sr);
    int rc;
    int v = envelope_verify(r->trust, e, org, &signer);
    if (v != 0) {
        const char *code = v == ID_ERR_SUBJECT ? "signer_mismatch" : "bad_signature";
        snprintf(msg, sizeof msg, "signature not accepted: %s", identity_strerror(v));
        return reject(r, org, NULL, e->message_id, code, msg, reply, ctx);
    }
    if (wire_submission_unpack(e->payload, e->payload_len, &cs, &meta, err, sizeof err) != 0)
        return reject(r, org, NULL, e->message_id, "malformed", err, reply, ctx);
    int g = store_round_get(r->store, meta.round_id, &sr);
    if (g == STORE_ERR_NOT_FOUND) {
        snprintf(msg, sizeof msg, "no round \"%.60s\"", meta.round_id);
        rc = reject(r, org, meta.round_id, e->message_id, "unknown_round", msg, reply, ctx);
        goto out;
    }
    if (g != 0) {
        send_error(r, e->message_id, "internal", "cannot read the round", reply, ctx);
        rc = -1;
        goto out;
    }
    if (strcmp(meta.org, org) != 0) {
        snprintf(msg, sizeof msg, "submission names org \"%.100s\" but the connection is \"%.100s\"",
                 meta.org, org);
        rc = reject(r, org, meta.round_id, e->message_id, "org_mismatch", msg, reply, ctx);
        goto out;
    }
    if (strcmp(meta.request_sha256, sr.request_sha256) != 0) {
        snprintf(msg, sizeof msg, "request_sha256 \"%.64s\" is not the round's request",
                 meta.request_sha256);
        rc = reject(r, org, meta.round_id, e->message_id, "request_mismatch", msg, reply, ctx);
        goto out;
    }
    struct round_request req;
    if (round_request_unpack(sr.request, sr.request_len, &req, err, sizeof err) != 0) {
        log_error("round %s: the stored request does not parse: %s", sr.round_id, err);
        send_error(r, e->message_id, "internal", "cannot read the round's request", reply, ctx);
        rc = -1;
        goto out;
    }
    if (wire_cells_fit_request(cs, &req, err, sizeof err) != 0) {
        rc = reject(r, org, meta.round_id, e->message_id, "not_requested", err, reply, ctx);
        goto out;
    }
    if (wire_cells_check(cs, (unsigned)sr.k, err, sizeof err) != 0) {
        rc = reject(r, org, meta.round_id, e->message_id, "implausible", err, reply, ctx);
        goto out;
    }
    struct store_submission sub;
    memset(&sub, 0, sizeof sub);
    snprintf(sub.round_id, sizeof sub.round_id, "%s", meta.round_id);
    snprintf(sub.org, sizeof sub.org, "%s", org);
    identity_sha256_hex(e->payload, e->payload_len, sub.sha256);
    sub.envelope = buf;
    sub.envelope_len = len;
    sub.received_at = (int64_t)time(NULL);
    sub.late = sub.received_at > sr.deadline;
    store_put_result res;
    int late = 0;
    if (use_txn(r) != 0 || store_submission_put(r->store, &sub, &res, &late) != 0) {
        send_error(r, e->message_id, "internal", "cannot store the submission now; resend",
                   reply, ctx);
        rc = -1;
        goto out;
    }
    switch (res) {
    case STORE_PUT_NEW:
    case STORE_PUT_DUPLICATE: {
        /* The row is committed, and this ACK sent, by rounds_batch_end. */
        if (res == STORE_PUT_NEW)
            r->stored_new++;
        int dup = res == STORE_PUT_DUPLICATE;
        if (dup)
            sub.late = late;
        /* A duplicate is audited too: if the daemon died between the commit
         * and the audit entry of the first copy, the node's resend is what
         * puts the stored submission into the audit log. */
        json_t *o = json_object();
        json_object_set_new(o, "org", json_string(org));
        json_object_set_new(o, "round", json_string(sub.round_id));
        json_object_set_new(o, "sha256", json_string(sub.sha256));
        json_object_set_new(o, "late", json_boolean(sub.late));
        json_object_set_new(o, "duplicate", json_boolean(dup));
        json_object_set_new(o, "cells", json_integer((json_int_t)cs->ncells));
        json_object_set_new(o, "signer_serial", json_string(signer.serial));
        audit_daemon(r, "submission", o);
        if (dup)
            log_info("duplicate submission of %s for round %s acknowledged again", org, sub.round_id);
        else
            log_info("stored submission of %s for round %s (sha256 %s%s)", org, sub.round_id,
                     sub.sha256, sub.late ? ", late" : "");
        rc = send_ack(r, e->message_id, sub.round_id, sub.sha256, dup, sub.late, reply, ctx);
        break;
    }
    case STORE_PUT_CONFLICT:
        rc = reject(r, org, sub.round_id, e->message_id, "conflict",
                    "a different submission of this organization is stored for this round",
                    reply, ctx);
        break;
    case STORE_PUT_CLOSED:
        rc = reject(r, org, sub.round_id, e->message_id, "round_closed", "the round is closed",
                    reply, ctx);
        break;
    default:
        rc = reject(r, org, sub.round_id, e->message_id, "unknown_round", "no such round",
                    reply, ctx);
        break;
    }
out:
    store_round_clear(&sr);
    cellset_destroy(&cs);
    return rc;
}

static int handle_refusal(rounds_t *r, const char *org, const struct envelope *e,
                          rounds_reply_fn reply, void *ctx)
{
    char err[256], msg[400];
    int v = envelope_verify(r->trust, e, org, NULL);
    if (v != 0) {
        snprintf(msg, sizeof msg, "signature not accepted: %s", identity_strerror(v));
        return reject(r, org, NULL, e->message_id,
                      v == ID_ERR_SUBJECT ? "signer_mismatch" : "bad_signature", msg, reply, ctx);
    }
    struct refusal ref;
    if (refusal_unpack(e->payload, e->payload_len, &ref, err, sizeof err) != 0)
        return reject(r, org, NULL, e->message_id, "malformed", err, reply, ctx);
    if (strcmp(ref.org, org) != 0) {
        snprintf(msg, sizeof msg, "refusal names org \"%.100s\" but the connection is \"%.100s\"",
                 ref.org, org);
        return reject(r, org, ref.round_id, e->message_id, "org_mismatch", msg, reply, ctx);
    }
    store_put_result res;
    if (use_txn(r) != 0 ||
        store_refusal_put(r->store, ref.round_id, org, ref.reason, (int64_t)time(NULL), &res) !=
            0) {
        send_error(r, e->message_id, "internal", "cannot store the refusal now; resend", reply,
                   ctx);
        return -1;
    }
    switch (res) {
    case STORE_PUT_NEW: {
        json_t *o = json_object();
        json_object_set_new(o, "org", json_string(org));
        json_object_set_new(o, "round", json_string(ref.round_id));
        json_object_set_new(o, "reason", json_string(ref.reason));
        audit_daemon(r, "refusal", o);
        log_info("%s refused round %s: %s", org, ref.round_id, ref.reason);
        return send_ack(r, e->message_id, ref.round_id, "", 0, 0, reply, ctx);
    }
    case STORE_PUT_DUPLICATE:
        return send_ack(r, e->message_id, ref.round_id, "", 1, 0, reply, ctx);
    case STORE_PUT_CONFLICT:
        return reject(r, org, ref.round_id, e->message_id, "conflict",
                      "this organization already submitted to the round", reply, ctx);
    case STORE_PUT_CLOSED:
        return reject(r, org, ref.round_id, e->message_id, "round_closed", "the round is closed",
                      reply, ctx);
    default:
        return reject(r, org, ref.round_id, e->message_id, "unknown_round", "no such round",
                      reply, ctx);
    }
}

int rounds_handle_node(rounds_t *r, const char *org, const uint8_t *buf, size_t len,
                       rounds_reply_fn reply, void *ctx)
{
    /* Alone (not inside rounds_batch_begin/_end): a batch of one. */
    if (!r->batching) {
        rounds_batch_begin(r);
        int rc = rounds_handle_node(r, org, buf, len, reply, ctx);
        return rounds_batch_end(r) != 0 ? -1 : rc;
    }
    struct envelope e;
    char err[256];
    int rc;
    r->dep = 0;
    memset(r->cur_id, 0, sizeof r->cur_id);
    if (envelope_unpack(buf, len, &e, err, sizeof err) != 0) {
        rc = reject(r, org, NULL, NULL, "malformed", err, reply, ctx);
        r->nmsg++;
        return rc;
    }
    memcpy(r->cur_id, e.message_id, ENVELOPE_ID_LEN);
    switch (e.type) {
    case MSG_HELLO: rc = handle_hello(r, org, &e, reply, ctx); break;
    case MSG_SUBMISSION: rc = handle_submission(r, org, buf, len, &e, reply, ctx); break;
    case MSG_REFUSAL: rc = handle_refusal(r, org, &e, reply, ctx); break;
    default: {
        char msg[128];
        snprintf(msg, sizeof msg, "a node may not send %s messages", envelope_type_name(e.type));
        rc = reject(r, org, NULL, e.message_id, "unexpected_type", msg, reply, ctx);
        break;
    }
    }
    envelope_free(&e);
    r->dep = 0;
    r->nmsg++;
    return rc;
}

/* ---- analysts ------------------------------------------------------------- */

/* The rules are in query.c; here only the envelope and the reply. */
int rounds_handle_analyst(rounds_t *r, const char *cn, const uint8_t *buf, size_t len,
                          rounds_reply_fn reply, void *ctx)
{
    struct envelope e;
    char err[256], msg[400];
    if (envelope_unpack(buf, len, &e, err, sizeof err) != 0)
        return reject(r, cn, NULL, NULL, "malformed", err, reply, ctx);
    int rc;
    if (e.type != MSG_QUERY) {
        snprintf(msg, sizeof msg, "an analyst may not send %s messages", envelope_type_name(e.type));
        rc = reject(r, cn, NULL, e.message_id, "unexpected_type", msg, reply, ctx);
        envelope_free(&e);
        return rc;
    }
    struct query_answer a;
    int q = query_answer(r->cfg, r->store, cn, e.payload, e.payload_len, &a);
    if (q != QUERY_OK) {
        rc = send_error(r, e.message_id, a.code, a.message, reply, ctx);
        if (q == QUERY_EINTERNAL)
            rc = -1;
        goto out;
    }
    Equity__V1__QueryResult res = EQUITY__V1__QUERY_RESULT__INIT;
    res.round_id = a.round_id;
    res.csv = a.csv;
    res.rows = a.rows;
    size_t plen = equity__v1__query_result__get_packed_size(&res);
    uint8_t *p = malloc(plen ? plen : 1);
    if (!p) {
        send_error(r, e.message_id, "internal", "out of memory", reply, ctx);
        rc = -1;
        goto out;
    }
    equity__v1__query_result__pack(&res, p);
    rc = send_envelope(r, MSG_QUERY_RESULT, p, plen, reply, ctx);
    free(p);
out:
    query_answer_clear(&a);
    envelope_free(&e);
    return rc;
}
