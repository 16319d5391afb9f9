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

#include "atomic_file.h"
#include "audit.h"
#include "envelope.h"
#include "equity.pb-c.h"
#include "log.h"
#include "pool.h"
#include "metrics_params.h"
#include "query.h"
#include "ledger.h"
#include "release.h"
#include "report.h"
#include "wire.h"

/* Node statuses (NodeStatus): an organization may send STATUS_RATE_BURST
 * at once, then one every STATUS_RATE_REFILL_S seconds; more are refused
 * with code rate_limited, and audited at most once per
 * STATUS_RATE_AUDIT_S per organization (with how many were refused), so
 * that neither the store nor the audit log grows with a flood. The table
 * holds STATUS_RATE_ORGS organizations (the least recently seen is
 * forgotten). */
#define STATUS_RATE_BURST 10.0
#define STATUS_RATE_REFILL_S 6.0
#define STATUS_RATE_AUDIT_S 60.0
#define STATUS_RATE_ORGS 1024

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
    char *note; /* logged once durable (NULL: none)        */
    int dep;    /* records an outcome of the batch's transaction */
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
    int audit_failed; /* an audit entry of the batch could not be kept        */
    uint8_t cur_id[ENVELOPE_ID_LEN]; /* id of the current message (zeros if unparsable) */
    struct pending_reply *rep;
    size_t nrep, caprep;
    struct pending_audit *aud;
    size_t naud, capaud;
    /* rounds whose close at the deadline failed, with that deadline */
    struct {
        char id[64];
        int64_t deadline;
    } tried[64];
    int ntried;
    /* node statuses: a token bucket per organization (STATUS_RATE_*) */
    struct status_rate {
        char org[IDENTITY_CN_MAX];
        double tokens, at;      /* tokens left as of `at` (monotonic s)   */
        unsigned long dropped;  /* refused since the last audited refusal */
        double audited_at;      /* when a refusal was last audited        */
    } rate[STATUS_RATE_ORGS];
    int nrate;
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

/* What commit_audited achieved. */
enum {
    AUD_OK = 0,          /* committed and the entries written and flushed          */
    AUD_NOTHING = -1,    /* nothing committed, nothing written (rolled back)       */
    AUD_UNRECORDED = -2, /* committed, but the entries may not be on disk          */
};

/* Writes ents[0..n-1] to the audit log and moves the store's anchor (the
 * chain's head) to the last of them inside the store's open transaction
 * (begun here when none is open), then COMMITs, then writes and fsyncs the
 * entries. Lock order, everywhere: the store's write lock (BEGIN
 * IMMEDIATE), then the log's flock. If the log cannot be opened, read or
 * the entries chained, the transaction is rolled back (AUD_NOTHING, logged).
 * If the write or fsync fails after the COMMIT the anchor is ahead of the
 * log: the next writer records that in a "repair" entry (AUD_UNRECORDED).
 * crash: the test hook EQ_TEST_CRASH_AFTER_COMMIT (rounds.h). */
static int commit_audited(const struct coord_config *cfg, store_t *st,
                          const struct audit_entry *ents, size_t n, int crash)
{
    int own = !store_in_batch(st);
    if (own && n == 0)
        return AUD_OK;
    if (own && store_batch_begin(st) != 0) {
        log_error("audit: cannot begin the transaction that records %zu entries", n);
        return AUD_NOTHING;
    }
    audit_writer_t *w = NULL;
    if (n) {
        long aseq, seq;
        char ahash[65], hash[65];
        w = audit_writer_open(cfg->audit_log);
        if (!w || store_anchor_get(st, &aseq, ahash) != 0 ||
            audit_writer_anchor(w, aseq, ahash) < 0)
            goto early;
        for (size_t i = 0; i < n; i++)
            if (audit_writer_add(w, ents[i].event, ents[i].details) != 0)
                goto early;
        audit_writer_head(w, &seq, hash);
        if (store_anchor_set(st, seq, hash) != 0)
            goto early;
    }
    if (store_batch_commit(st) != 0) {
        audit_writer_abort(w);
        log_error("audit: the transaction of %zu audit entries did not commit: nothing of it is "
                  "stored or recorded", n);
        return AUD_NOTHING;
    }
    if (crash)
        _exit(137);
    if (w && audit_writer_commit(w) != 0) {
        log_error("audit %s: %zu entries committed to the store but not written to the log; "
                  "the next append records the gap", cfg->audit_log, n);
        return AUD_UNRECORDED;
    }
    return AUD_OK;
early:
    log_error("audit %s: cannot record %zu entries: nothing of their transaction is stored",
              cfg->audit_log, n);
    audit_writer_abort(w);
    store_batch_rollback(st);
    return AUD_NOTHING;
}

/* One entry from a JSON object (taken), committed with the store's open
 * transaction or its own; 0 or -1 (logged). */
static int audit_json(const struct coord_config *cfg, store_t *st, const char *event, json_t *o)
{
    char *s = json_text(o);
    if (!s) {
        log_error("audit: cannot record %s event (out of memory)", event);
        store_batch_rollback(st);
        return -1;
    }
    struct audit_entry e = {event, s};
    int rc = commit_audited(cfg, st, &e, 1, 0);
    free(s);
    return rc == AUD_OK ? 0 : -1;
}

/* ---- round open ----------------------------------------------------------- */

int rounds_open(const struct coord_config *cfg, store_t *st, const char *period,
                const char *deadline, const struct round_options *opt, char round_id[64],
                char *err, size_t errlen)
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
        if (dl <= now) {
            snprintf(err, errlen, "--deadline %.40s is already past: a round must end in the "
                     "future", deadline);
            return -1;
        }
    } else {
        dl = now + (int64_t)cfg->deadline_days * 86400;
    }
    /* The [round] defaults, with what the command line says instead. */
    struct coord_config *terms = malloc(sizeof *terms);
    if (!terms)
        return -2;
    *terms = *cfg;
    if (opt && opt->measures)
        snprintf(terms->measures, sizeof terms->measures, "%s", opt->measures);
    if (opt && opt->stratifiers)
        snprintf(terms->stratifiers, sizeof terms->stratifiers, "%s", opt->stratifiers);
    if (opt && opt->intersections)
        snprintf(terms->intersections, sizeof terms->intersections, "%s", opt->intersections);
    if (opt && opt->k)
        terms->k = opt->k;
    if (opt && opt->min_orgs)
        terms->min_orgs = opt->min_orgs;
    int bad = 0;
    if (terms->k < 2 || terms->k > 1000) {
        snprintf(err, errlen, "--k %d: use 2 to 1000", terms->k);
        bad = 1;
    } else if (terms->min_orgs < 1 || terms->min_orgs > 1000) {
        snprintf(err, errlen, "--min-orgs %d: use 1 to 1000", terms->min_orgs);
        bad = 1;
    } else if (coord_config_round_defaults(terms, &r, err, errlen) != 0) {
        bad = 1;
    }
    free(terms);
    if (bad)
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
    const struct catalog *cat = catalog_active();
    snprintf(r.catalog_name, sizeof r.catalog_name, "%s", catalog_name(cat));
    snprintf(r.catalog_version, sizeof r.catalog_version, "%s", catalog_version(cat));
    snprintf(r.catalog_sha256, sizeof r.catalog_sha256, "%s", catalog_sha256(cat));
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
    /* The round and its audit entry in one transaction. */
    if (store_batch_begin(st) != 0) {
        snprintf(err, errlen, "cannot write the database");
        goto out;
    }
    int e = store_round_insert(st, &sr);
    if (e != 0) {
        store_batch_rollback(st);
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
    if (audit_json(cfg, st, "round_open", o) != 0) {
        snprintf(err, errlen, "cannot record round %s in the audit log %s (see the error above)",
                 r.round_id, cfg->audit_log);
        goto out;
    }
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

/* Organizations whose enrolled transport certificate is revoked (by CN). */
struct orgset {
    char (*cn)[IDENTITY_CN_MAX];
    int n, cap;
};

static int orgset_has(const struct orgset *s, const char *cn)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->cn[i], cn) == 0)
            return 1;
    return 0;
}

static void orgset_add(struct orgset *s, const char *cn)
{
    if (orgset_has(s, cn))
        return;
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 8;
        char (*p)[IDENTITY_CN_MAX] = realloc(s->cn, (size_t)cap * sizeof *p);
        if (!p)
            return;
        s->cn = p;
        s->cap = cap;
    }
    snprintf(s->cn[s->n++], IDENTITY_CN_MAX, "%s", cn);
}

/* Calls fn for every enrolled node transport certificate, with the verdict
 * of trust (CA + CRL now). */
static void each_enrolled_node(const struct coord_config *cfg, trust_t *trust,
                               void (*fn)(void *ctx, const struct identity_info *info, int verdict),
                               void *ctx)
{
    DIR *d = opendir(cfg->enrolled_dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".crt") != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", cfg->enrolled_dir, de->d_name);
        X509 *cert = NULL;
        struct identity_info info;
        if (identity_load_cert(path, &cert) != 0)
            continue;
        if (identity_cert_info(cert, &info) == 0 && info.role == ROLE_NODE &&
            info.kind == CERT_KIND_TRANSPORT) {
            struct identity_info v;
            int verdict = trust ? trust_verify_cert(trust, cert, &v) : ID_OK;
            fn(ctx, &info, verdict);
        }
        X509_free(cert);
    }
    closedir(d);
}

static void note_revoked(void *ctx, const struct identity_info *info, int verdict)
{
    if (verdict == ID_ERR_REVOKED)
        orgset_add(ctx, info->cn);
}

struct close_ctx {
    struct cellset **subs;
    int n, cap, late, bad, revoked;
    int count_only; /* only count what would be pooled */
    trust_t *trust;
    const struct orgset *revoked_orgs;
};

/* An organization is revoked when its enrolled transport certificate is,
 * or when the signing certificate of its submission is on the CRL now. */
static int submission_revoked(struct close_ctx *c, const struct store_submission *sub,
                              const struct envelope *e)
{
    if (orgset_has(c->revoked_orgs, sub->org))
        return 1;
    return c->trust && envelope_verify(c->trust, e, sub->org, NULL) == ID_ERR_REVOKED;
}

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
    if (envelope_unpack(sub->envelope, sub->envelope_len, &e, err, sizeof err) != 0) {
        log_error("round %s: stored submission of %s cannot be decoded: %s", sub->round_id,
                  sub->org, err);
        c->bad++;
        return 0;
    }
    if (submission_revoked(c, sub, &e)) {
        if (!c->count_only)
            log_warnx("round %s: the submission of %s is not pooled: the organization's "
                      "certificate is revoked", sub->round_id, sub->org);
        c->revoked++;
        envelope_free(&e);
        return 0;
    }
    if (c->count_only) {
        envelope_free(&e);
        c->n++;
        return 0;
    }
    if (wire_submission_unpack(e.payload, e.payload_len, &cs, &meta, err, sizeof err) != 0) {
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

int rounds_close(const struct coord_config *cfg, store_t *st, const char *round_id, int force,
                 trust_t *trust_in, char *pooled_path, size_t pathlen, char *err, size_t errlen)
{
    struct store_round r;
    memset(&r, 0, sizeof r);
    struct close_ctx c;
    memset(&c, 0, sizeof c);
    struct orgset revoked;
    memset(&revoked, 0, sizeof revoked);
    struct cellset *pooled = NULL;
    trust_t *trust = trust_in;
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
    if (r.cancelled) {
        snprintf(err, errlen, "round %s was cancelled", round_id);
        rc = -1;
        goto out;
    }
    if (r.closed && r.pooled_sha256[0]) {
        snprintf(err, errlen, "round %s is already closed and released", round_id);
        rc = -1;
        goto out;
    }
    struct round_request rq;
    if (round_request_unpack(r.request, r.request_len, &rq, err, errlen) != 0)
        goto out;
    if (!trust)
        trust = trust_new(cfg->ca, cfg->crl, cfg->enrolled_dir);
    if (!trust) {
        snprintf(err, errlen, "cannot load the CA, CRL or enrolled certificates (check-config "
                 "says why)");
        goto out;
    }
    each_enrolled_node(cfg, trust, note_revoked, &revoked);
    c.trust = trust;
    c.revoked_orgs = &revoked;
    int resumed = r.closed;
    if (resumed) {
        /* Closed earlier, but the release never finished (a crash or a
         * failure after the round was marked closed): finish it now. */
        log_warnx("round %s was closed at an earlier attempt without a release: resuming",
                  round_id);
    } else {
        int min_orgs = rq.min_orgs < 1 ? 1 : (int)rq.min_orgs;
        c.count_only = 1;
        if (store_submissions_each(st, round_id, collect_submission, &c) != 0) {
            snprintf(err, errlen, "cannot read the submissions of round %s", round_id);
            goto out;
        }
        if (c.n < min_orgs && !force) {
            snprintf(err, errlen, "round %s has %d submission%s to pool (%d late, %d revoked) but "
                     "its terms need %d organizations: not closed (every pooled cell would be "
                     "withheld); wait, extend it (round extend), or close it anyway with --force",
                     round_id, c.n, c.n == 1 ? "" : "s", c.late, c.revoked, min_orgs);
            rc = -3;
            goto out;
        }
        if (c.n < min_orgs)
            log_warnx("round %s: closing with %d submission%s, fewer than the %d organizations "
                      "its terms need (--force)", round_id, c.n, c.n == 1 ? "" : "s", min_orgs);
        memset(&c, 0, sizeof c);
        c.trust = trust;
        c.revoked_orgs = &revoked;
        if (store_batch_begin(st) != 0) {
            snprintf(err, errlen, "cannot write the database");
            goto out;
        }
        e = store_round_close(st, round_id, (int64_t)time(NULL));
        if (e == STORE_ERR_CLOSED) {
            store_batch_rollback(st);
            snprintf(err, errlen, "round %s was closed meanwhile; run close again to finish it",
                     round_id);
            rc = -1;
            goto out;
        }
        if (e != 0) {
            store_batch_rollback(st);
            snprintf(err, errlen, "cannot close round %s: %s", round_id, store_strerror(e));
            goto out;
        }
        json_t *o = json_object();
        json_object_set_new(o, "round", json_string(round_id));
        json_object_set_new(o, "forced", json_boolean(force && c.n < min_orgs));
        if (audit_json(cfg, st, "round_close", o) != 0) {
            snprintf(err, errlen, "cannot record the close of %s in the audit log", round_id);
            goto out;
        }
    }
    if (store_submissions_each(st, round_id, collect_submission, &c) != 0) {
        snprintf(err, errlen, "cannot read the submissions of round %s", round_id);
        goto out;
    }
    if (c.bad > 0 && !force) {
        /* Fail closed: a release without an organization's stored data
         * would be published as the whole federation's. */
        snprintf(err, errlen, "round %s: %d stored submission%s cannot be decoded (the log says "
                 "whose and why; a format_version 1 submission was stored before the upgrade "
                 "to exact cells): the round is closed but nothing is released; run round "
                 "close --force to release without %s", round_id, c.bad, c.bad == 1 ? "" : "s",
                 c.bad == 1 ? "it" : "them");
        rc = -3;
        goto out;
    }
    if (c.bad > 0)
        log_warnx("round %s: releasing without %d undecodable stored submission%s (--force)",
                  round_id, c.bad, c.bad == 1 ? "" : "s");
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
    char dir[1200], ldir[1200], lwhy[600], lnote[800];
    struct release_files fl;
    snprintf(dir, sizeof dir, "%s/%s", cfg->results_dir, round_id);
    snprintf(ldir, sizeof ldir, "%s/.ledger", cfg->results_dir);
    if (make_dir(cfg->results_dir) != 0 || make_dir(dir) != 0) {
        snprintf(err, errlen, "cannot create %s (the round stays closed without a release: "
                 "run round close again)", dir);
        goto out;
    }
    /* The earlier pooled releases of this period are part of what a reader
     * knows (docs/coordinator.md, "The release ledger"). */
    size_t ledger_added = 0;
    int ledger_earlier = 0;
    const char *ledger_code = "ok";
    int lrc = release_ledger(pooled, c.subs, c.n, ldir, &ledger_added, &ledger_earlier, &rep,
                             lwhy, sizeof lwhy);
    if (lrc == RELEASE_LEDGER_ERECORD) {
        snprintf(err, errlen, "round %s: %s (the round stays closed without a release: run "
                 "round close again)", round_id, lwhy);
        goto out;
    }
    if (lrc != 0) {
        ledger_code = ledger_reason_code(lrc);
        release_withhold_all(pooled, &rep);
        log_error("round %s: release refused by the release ledger: %s: %s; every pooled cell "
                  "is withheld", round_id, ledger_code, lwhy);
        snprintf(lnote, sizeof lnote, "release refused: %s: %s; every pooled cell is withheld\n",
                 ledger_code, lwhy);
    } else if (ledger_earlier == 0) {
        /* the first release of its period: the same model over this
         * release alone (the analysts' view as one whole release) */
        if (ledger_added)
            snprintf(lnote, sizeof lnote, "no earlier release of period %s; checked alone: %zu "
                     "more cells withheld\n", r.period, ledger_added);
        else
            snprintf(lnote, sizeof lnote, "no earlier release of period %s; checked alone: "
                     "nothing more withheld\n", r.period);
        if (ledger_added)
            log_info("round %s: %.*s", round_id, (int)strlen(lnote) - 1, lnote);
    } else if (ledger_added) {
        snprintf(lnote, sizeof lnote, "checked with the %d earlier release%s of period %s: %zu "
                 "more cells withheld\n", ledger_earlier, ledger_earlier == 1 ? "" : "s",
                 r.period, ledger_added);
        log_info("round %s: %.*s", round_id, (int)strlen(lnote) - 1, lnote);
    } else {
        snprintf(lnote, sizeof lnote, "checked with the %d earlier release%s of period %s: "
                 "nothing more withheld\n", ledger_earlier, ledger_earlier == 1 ? "" : "s",
                 r.period);
    }
    {
        char lpath[1300];
        snprintf(lpath, sizeof lpath, "%s/ledger.txt", dir);
        if (atomic_file_write_bytes(lpath, lnote, strlen(lnote), 0644) != 0) {
            snprintf(err, errlen, "cannot write %s (the round stays closed without a release: "
                     "run round close again)", lpath);
            goto out;
        }
    }
    if (release_write_results(pooled, dir, &fl, err, errlen) != 0)
        goto out;
    /* The release record and its audit entry in one transaction. */
    if (store_batch_begin(st) != 0 || store_round_set_pooled(st, round_id, fl.sha_pooled_csv) != 0) {
        store_batch_rollback(st);
        snprintf(err, errlen, "cannot record the pooled result of %s", round_id);
        goto out;
    }
    json_t *o = json_object();
    json_object_set_new(o, "round", json_string(round_id));
    json_object_set_new(o, "resumed", json_boolean(resumed));
    json_object_set_new(o, "pooled_submissions", json_integer(c.n));
    json_object_set_new(o, "late_submissions", json_integer(c.late));
    json_object_set_new(o, "revoked_submissions", json_integer(c.revoked));
    json_object_set_new(o, "undecodable", json_integer(c.bad));
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
    json_object_set_new(o, "ledger", json_string(ledger_code));
    json_object_set_new(o, "ledger_withheld", json_integer((json_int_t)ledger_added));
    if (lrc != 0)
        json_object_set_new(o, "ledger_reason", json_string(lwhy));
    if (audit_json(cfg, st, "release", o) != 0) {
        snprintf(err, errlen, "cannot record the release of %s in the audit log", round_id);
        goto out;
    }
    if (pooled_path)
        snprintf(pooled_path, pathlen, "%s", fl.pooled_csv);
    log_info("round %s closed%s: %d submissions pooled, %d late (stored, not pooled), %d of "
             "revoked organizations (not pooled) -> %s", round_id, resumed ? " (resumed)" : "",
             c.n, c.late, c.revoked, fl.pooled_csv);
    rc = 0;
out:
    for (int i = 0; !c.count_only && i < c.n; i++)
        cellset_destroy(&c.subs[i]);
    free(c.subs);
    free(revoked.cn);
    cellset_destroy(&pooled);
    store_round_clear(&r);
    if (trust != trust_in)
        trust_destroy(&trust);
    return rc;
}

int rounds_cancel(const struct coord_config *cfg, store_t *st, const char *round_id,
                  const char *reason, char *err, size_t errlen)
{
    if (store_batch_begin(st) != 0) {
        snprintf(err, errlen, "cannot write the database");
        return -2;
    }
    int e = store_round_cancel(st, round_id, (int64_t)time(NULL));
    if (e != 0) {
        store_batch_rollback(st);
        if (e == STORE_ERR_CLOSED)
            snprintf(err, errlen, "round %s is closed already: only an open round can be "
                     "cancelled", round_id);
        else if (e == STORE_ERR_NOT_FOUND)
            snprintf(err, errlen, "no round \"%.60s\"", round_id);
        else
            snprintf(err, errlen, "cannot cancel round %s: %s", round_id, store_strerror(e));
        return e == STORE_ERR_DB ? -2 : -1;
    }
    json_t *o = json_object();
    json_object_set_new(o, "round", json_string(round_id));
    json_object_set_new(o, "reason", json_string(reason ? reason : ""));
    if (audit_json(cfg, st, "round_cancel", o) != 0) {
        snprintf(err, errlen, "cannot record the cancellation of %s in the audit log", round_id);
        return -2;
    }
    log_info("round %s cancelled: nothing of it will be pooled or released", round_id);
    return 0;
}

int rounds_extend(const struct coord_config *cfg, store_t *st, const char *round_id,
                  const char *deadline, char *err, size_t errlen)
{
    int64_t dl;
    if (!deadline || rounds_parse_time(deadline, &dl) != 0) {
        snprintf(err, errlen, "--deadline \"%.40s\" is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ",
                 deadline ? deadline : "");
        return -1;
    }
    struct store_round r;
    int e = store_round_get(st, round_id, &r);
    if (e != 0) {
        snprintf(err, errlen, e == STORE_ERR_NOT_FOUND ? "no round \"%.60s\"" :
                 "cannot read round %.60s", round_id);
        return e == STORE_ERR_NOT_FOUND ? -1 : -2;
    }
    int64_t old = r.deadline;
    int closed = r.closed;
    store_round_clear(&r);
    if (closed) {
        snprintf(err, errlen, "round %s is closed: only an open round can be extended", round_id);
        return -1;
    }
    if (dl <= old || dl <= (int64_t)time(NULL)) {
        snprintf(err, errlen, "--deadline %.40s is not later than the round's deadline and now",
                 deadline);
        return -1;
    }
    if (store_batch_begin(st) != 0) {
        snprintf(err, errlen, "cannot write the database");
        return -2;
    }
    e = store_round_set_deadline(st, round_id, dl);
    if (e != 0) {
        store_batch_rollback(st);
        snprintf(err, errlen, "cannot extend round %s: %s", round_id, store_strerror(e));
        return e == STORE_ERR_DB ? -2 : -1;
    }
    char was[32], now_dl[32];
    fmt_time(old, was);
    fmt_time(dl, now_dl);
    json_t *o = json_object();
    json_object_set_new(o, "round", json_string(round_id));
    json_object_set_new(o, "deadline_was", json_string(was));
    json_object_set_new(o, "deadline", json_string(now_dl));
    if (audit_json(cfg, st, "round_extend", o) != 0) {
        snprintf(err, errlen, "cannot record the extension of %s in the audit log", round_id);
        return -2;
    }
    log_info("round %s: deadline moved from %s to %s", round_id, was, now_dl);
    return 0;
}

/* ---- round status ----------------------------------------------------- */

struct status_ctx {
    FILE *out;
    char (*answered)[128];
    int n, cap;
    store_t *st;
    const struct coord_config *cfg;
    trust_t *trust; /* to tell revoked organizations apart (NULL: not loaded) */
    struct orgset revoked; /* enrolled transport certificate on the CRL */
    struct seen { char cn[IDENTITY_CN_MAX]; char when[32]; } *seen; /* node connections */
    int nseen, capseen;
};

/* The last accepted node connection of each organization, from the audit
 * log's "connection" entries (the log is the record of who connected;
 * unreadable lines are skipped: this only tells "never connected" apart). */
static void read_connections(struct status_ctx *s, const char *audit_log)
{
    FILE *f = fopen(audit_log, "r");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        char *fld[4];
        char *p = line;
        int n = 0;
        for (; n < 4 && p; n++) {
            fld[n] = p;
            p = strchr(p, '\t');
            if (p)
                *p++ = 0;
        }
        if (n < 4 || !p || strcmp(fld[2], "connection") != 0)
            continue;
        json_t *o = json_loads(fld[3], 0, NULL);
        const char *cn = json_string_value(json_object_get(o, "cn"));
        const char *res = json_string_value(json_object_get(o, "result"));
        const char *sock = json_string_value(json_object_get(o, "socket"));
        if (cn && res && sock && !strcmp(res, "ok") && !strcmp(sock, "nodes")) {
            int i = 0;
            while (i < s->nseen && strcmp(s->seen[i].cn, cn) != 0)
                i++;
            if (i == s->nseen && s->nseen == s->capseen) {
                int c = s->capseen ? 2 * s->capseen : 16;
                struct seen *q = realloc(s->seen, (size_t)c * sizeof *q);
                if (!q) {
                    json_decref(o);
                    break;
                }
                s->seen = q;
                s->capseen = c;
            }
            if (i == s->nseen) {
                snprintf(s->seen[i].cn, sizeof s->seen[i].cn, "%s", cn);
                s->nseen++;
            }
            snprintf(s->seen[i].when, sizeof s->seen[i].when, "%s", fld[1]);
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
}

static const char *last_seen(const struct status_ctx *s, const char *cn)
{
    for (int i = 0; i < s->nseen; i++)
        if (strcmp(s->seen[i].cn, cn) == 0)
            return s->seen[i].when;
    return NULL;
}

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
    fprintf(s->out, "  %-40s submitted  %s  sha256 %s%s%s\n", sub->org, when, sub->sha256,
            sub->late ? "  LATE (stored, not pooled)" : "",
            orgset_has(&s->revoked, sub->org) ? "  REVOKED (stored, not pooled)" : "");
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

/* What an organization that has not answered reports: held for approval
 * on site, or failing on site (since when, and why). A revoked one is
 * shown revoked: it is not expected any more. */
static int status_node(void *vctx, const struct store_status *ns)
{
    struct status_ctx *s = vctx;
    if (orgset_has(&s->revoked, ns->org)) {
        fprintf(s->out, "  %-40s revoked    (certificate on the CRL: not expected)\n", ns->org);
        return remember(s, ns->org);
    }
    char since[32];
    fmt_time(ns->since, since);
    fprintf(s->out, "  %-40s %s  since %s  reason: %s (%s)\n", ns->org,
            ns->state == STORE_STATE_HELD ? "held for approval on site" : "failing on site",
            since, ns->reason, ns->code);
    return remember(s, ns->org);
}

/* Enrolled node organizations that have not answered: pending, or
 * revoked (their certificate is on the CRL: not expected any more). */
static void status_enrolled(void *ctx, const struct identity_info *info, int verdict)
{
    struct status_ctx *s = ctx;
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->answered[i], info->cn) == 0)
            return;
    const char *seen = last_seen(s, info->cn);
    if (verdict == ID_ERR_REVOKED)
        fprintf(s->out, "  %-40s revoked    (certificate on the CRL: not expected)\n", info->cn);
    else if (seen)
        fprintf(s->out, "  %-40s pending    (last connected %s)\n", info->cn, seen);
    else
        fprintf(s->out, "  %-40s never connected\n", info->cn);
    remember(s, info->cn);
}

static void status_pending(struct status_ctx *s)
{
    each_enrolled_node(s->cfg, s->trust, status_enrolled, s);
}

static int status_round(void *vctx, const struct store_round *r)
{
    struct status_ctx *s = vctx;
    char opened[32], dl[32], closed[32];
    fmt_time(r->opened_at, opened);
    fmt_time(r->deadline, dl);
    fmt_time(r->closed_at, closed);
    const char *state = r->cancelled ? "cancelled"
                      : r->closed && !r->pooled_sha256[0] ? "closed (release unfinished: run round close again)"
                      : r->closed ? "closed" : "open";
    fprintf(s->out, "round %s  period %s  k %d  %s  opened %s  deadline %s%s%s\n", r->round_id,
            r->period, r->k, state, opened, dl, r->closed ? "  closed " : "",
            r->closed ? closed : "");
    if (r->pooled_sha256[0]) {
        fprintf(s->out, "  pooled result sha256 %s\n", r->pooled_sha256);
        char lpath[1300];
        size_t ll = 0;
        snprintf(lpath, sizeof lpath, "%s/%s/ledger.txt", s->cfg->results_dir, r->round_id);
        char *note = release_read_file(lpath, &ll);
        if (note) {
            fprintf(s->out, "  release ledger: %s%s", note, ll && note[ll - 1] == '\n' ? "" : "\n");
            free(note);
        }
    }
    s->n = 0;
    if (store_submissions_each(s->st, r->round_id, status_sub, s) != 0 ||
        store_refusals_each(s->st, r->round_id, status_ref, s) != 0 ||
        store_statuses_each(s->st, r->round_id, status_node, s) != 0)
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
    s.trust = trust_new(cfg->ca, cfg->crl, cfg->enrolled_dir);
    if (s.trust)
        each_enrolled_node(cfg, s.trust, note_revoked, &s.revoked);
    read_connections(&s, cfg->audit_log);
    int rc;
    if (round_id) {
        struct store_round r;
        int e = store_round_get(st, round_id, &r);
        if (e != 0) {
            trust_destroy(&s.trust);
            snprintf(err, errlen, e == STORE_ERR_NOT_FOUND ? "no round \"%.60s\"" :
                     "cannot read round %.60s", round_id);
            return e == STORE_ERR_NOT_FOUND ? -1 : -2;
        }
        rc = status_round(&s, &r);
        store_round_clear(&r);
    } else {
        rc = store_rounds_each(st, status_round, &s);
    }
    free(s.answered);
    free(s.revoked.cn);
    free(s.seen);
    trust_destroy(&s.trust);
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
        free(r->aud[i].note);
    }
    r->nrep = r->naud = 0;
    r->nmsg = r->dep = r->stored_new = r->audit_failed = 0;
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

/* An audit entry of the daemon: written now (with its own transaction for
 * the anchor), or, inside a batch, kept for rounds_batch_end (one
 * transaction and one fsync for all). note (may be NULL) is logged at info
 * level once the entry is durable (a stored submission is announced only
 * after its COMMIT). Takes o. Returns 0, or -1 when the entry is not
 * recorded (then, in a batch, the whole batch fails closed). */
static int audit_daemon(rounds_t *r, const char *event, json_t *o, const char *note)
{
    if (!r->batching) {
        if (audit_json(r->cfg, r->store, event, o) != 0)
            return -1;
        if (note)
            log_info("%s", note);
        return 0;
    }
    char *s = json_text(o);
    char *ev = strdup(event);
    char *nt = note ? strdup(note) : NULL;
    if (s && ev && r->naud == r->capaud) {
        size_t cap = r->capaud ? 2 * r->capaud : 64;
        struct pending_audit *p = realloc(r->aud, cap * sizeof *p);
        if (p) {
            r->aud = p;
            r->capaud = cap;
        }
    }
    if (!s || !ev || (note && !nt) || r->naud == r->capaud) {
        log_error("audit: cannot record %s event in %s (out of memory)", event, r->cfg->audit_log);
        free(s);
        free(ev);
        free(nt);
        r->audit_failed = 1;
        return -1;
    }
    struct pending_audit *pa = &r->aud[r->naud++];
    pa->event = ev;
    pa->details = s;
    pa->note = nt;
    pa->dep = r->dep;
    return 0;
}

void rounds_audit(rounds_t *r, const char *event, json_t *details)
{
    if (!r || !event || !details) {
        json_decref(details);
        return;
    }
    audit_daemon(r, event, details, NULL);
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
    /* COMMIT with the batch's audit entries and the anchor in the same
     * transaction, then the entries' write and fsync; only then the
     * replies. If any of it fails, no reply of the batch leaves: every
     * message is answered "internal, resend" (a submission committed but
     * not recorded is then a duplicate, recorded at its resend). */
    int rc = 0, a = AUD_OK;
    struct audit_entry *ents = r->naud ? malloc(r->naud * sizeof *ents) : NULL;
    if (r->audit_failed || (r->naud && !ents)) {
        log_error("audit: not every entry of the batch could be kept (out of memory)");
        store_batch_rollback(r->store);
        a = AUD_NOTHING;
    } else if (r->naud || store_in_batch(r->store)) {
        for (size_t i = 0; i < r->naud; i++)
            ents[i] = (struct audit_entry){r->aud[i].event, r->aud[i].details};
        a = commit_audited(r->cfg, r->store, ents, r->naud,
                           r->stored_new && r->crash_after_commit);
    }
    free(ents);
    if (a != AUD_OK) {
        rc = -1;
        log_error("%d message%s not answered: %s; %s told to resend", r->nmsg,
                  r->nmsg == 1 ? "" : "s",
                  a == AUD_NOTHING ? "their outcomes could not be stored and audited (nothing of "
                                     "them is stored)"
                                   : "their outcomes are stored but their audit entries could "
                                     "not be written",
                  r->nmsg == 1 ? "the sender is" : "their senders are");
    } else {
        for (size_t i = 0; i < r->naud; i++)
            if (r->aud[i].note)
                log_info("%s", r->aud[i].note);
    }
    int substituted = -1;
    for (size_t i = 0; i < r->nrep; i++) {
        struct pending_reply *p = &r->rep[i];
        if (a == AUD_OK) {
            if (p->reply(p->ctx, p->buf, p->len) != 0)
                rc = -1;
            continue;
        }
        /* One "resend" error per message instead of its answer. */
        if (p->msg == substituted)
            continue;
        substituted = p->msg;
        uint8_t *e = NULL, *env = NULL;
        size_t elen = 0, envlen = 0;
        if (error_pack(p->id, "internal", "cannot store and audit this now; resend", &e, &elen) != 0 ||
            envelope_pack(MSG_ERROR, e, elen, NULL, NULL, &env, &envlen, NULL) != 0 ||
            p->reply(p->ctx, env, envlen) != 0)
            rc = -1;
        free(e);
        free(env);
    }
    if (r->nmsg > 1 && a == AUD_OK)
        log_info("group commit: %d messages, %d new submissions in one transaction, %zu audit "
                 "entries with one fsync", r->nmsg, r->stored_new, r->naud);
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
    static const uint8_t zero[ENVELOPE_ID_LEN];
    if (audit_daemon(r, "rejection", o, NULL) != 0 && !r->batching) {
        /* Alone (an analyst's message): no answer without its entry. */
        send_error(r, id ? id : zero, "internal", "cannot audit this now; resend", reply, ctx);
        return -1;
    }
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
    if (strcmp(meta.period, sr.period) != 0) {
        snprintf(msg, sizeof msg, "submission is for period \"%.31s\" but round %s is for "
                 "period \"%s\"", meta.period, sr.round_id, sr.period);
        rc = reject(r, org, meta.round_id, e->message_id, "period_mismatch", msg, reply, ctx);
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
    int late = 0, replaced = 0;
    if (use_txn(r) != 0 || store_submission_put(r->store, &sub, &res, &late, &replaced) != 0) {
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
        if (replaced)
            json_object_set_new(o, "replaces_refusal", json_true());
        char note[400];
        if (dup)
            snprintf(note, sizeof note, "duplicate submission of %s for round %s acknowledged "
                     "again", org, sub.round_id);
        else
            snprintf(note, sizeof note, "stored submission of %s for round %s (sha256 %s%s%s)",
                     org, sub.round_id, sub.sha256, sub.late ? ", late" : "",
                     replaced ? ", replaces its refusal" : "");
        audit_daemon(r, "submission", o, note);
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
        char note[600];
        snprintf(note, sizeof note, "%s refused round %s: %.400s", org, ref.round_id, ref.reason);
        audit_daemon(r, "refusal", o, note);
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

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The bucket of org (refilled to now), taking the slot of the least
 * recently seen organization when the table is full. */
static struct status_rate *status_bucket(rounds_t *r, const char *org, double now)
{
    struct status_rate *b = NULL, *oldest = NULL;
    for (int i = 0; i < r->nrate && !b; i++) {
        if (!strcmp(r->rate[i].org, org))
            b = &r->rate[i];
        else if (!oldest || r->rate[i].at < oldest->at)
            oldest = &r->rate[i];
    }
    if (!b) {
        b = r->nrate < STATUS_RATE_ORGS ? &r->rate[r->nrate++] : oldest;
        memset(b, 0, sizeof *b);
        snprintf(b->org, sizeof b->org, "%s", org);
        b->tokens = STATUS_RATE_BURST;
        b->at = now;
        b->audited_at = now - STATUS_RATE_AUDIT_S;
        return b;
    }
    b->tokens += (now - b->at) / STATUS_RATE_REFILL_S;
    if (b->tokens > STATUS_RATE_BURST)
        b->tokens = STATUS_RATE_BURST;
    b->at = now;
    return b;
}

/* A status over the rate: answered rate_limited, logged and audited once
 * per STATUS_RATE_AUDIT_S with the count refused since. */
static int status_rate_limited(rounds_t *r, const char *org, struct status_rate *b,
                               const uint8_t id[ENVELOPE_ID_LEN], double now,
                               rounds_reply_fn reply, void *ctx)
{
    b->dropped++;
    if (now - b->audited_at >= STATUS_RATE_AUDIT_S) {
        char msg[200];
        snprintf(msg, sizeof msg, "more than %.0f status messages at once (one per %.0f s "
                 "after that): %lu refused since the last such entry", STATUS_RATE_BURST,
                 STATUS_RATE_REFILL_S, b->dropped);
        b->audited_at = now;
        b->dropped = 0;
        return reject(r, org, NULL, id, "rate_limited", msg, reply, ctx);
    }
    return send_error(r, id, "rate_limited", "too many status messages; resend later", reply,
                      ctx);
}

static int handle_status(rounds_t *r, const char *org, const struct envelope *e,
                         rounds_reply_fn reply, void *ctx)
{
    char err[256], msg[400];
    double now = mono_now();
    struct status_rate *b = status_bucket(r, org, now);
    if (b->tokens < 1.0)
        return status_rate_limited(r, org, b, e->message_id, now, reply, ctx);
    b->tokens -= 1.0;
    int v = envelope_verify(r->trust, e, org, NULL);
    if (v != 0) {
        snprintf(msg, sizeof msg, "signature not accepted: %s", identity_strerror(v));
        return reject(r, org, NULL, e->message_id,
                      v == ID_ERR_SUBJECT ? "signer_mismatch" : "bad_signature", msg, reply, ctx);
    }
    struct node_status ns;
    if (node_status_unpack(e->payload, e->payload_len, &ns, err, sizeof err) != 0)
        return reject(r, org, NULL, e->message_id, "malformed", err, reply, ctx);
    if (strcmp(ns.org, org) != 0) {
        snprintf(msg, sizeof msg, "status names org \"%.100s\" but the connection is \"%.100s\"",
                 ns.org, org);
        return reject(r, org, ns.round_id, e->message_id, "org_mismatch", msg, reply, ctx);
    }
    struct store_status row;
    memset(&row, 0, sizeof row);
    snprintf(row.round_id, sizeof row.round_id, "%s", ns.round_id);
    snprintf(row.org, sizeof row.org, "%s", org);
    row.state = ns.state == NODE_STATE_HELD ? STORE_STATE_HELD : STORE_STATE_FAILING;
    snprintf(row.code, sizeof row.code, "%s", ns.code);
    snprintf(row.reason, sizeof row.reason, "%s", ns.reason);
    row.updated_at = (int64_t)time(NULL);
    store_put_result res;
    int64_t since = 0;
    if (use_txn(r) != 0 || store_status_put(r->store, &row, &res, &since) != 0) {
        send_error(r, e->message_id, "internal", "cannot store the status now; resend", reply,
                   ctx);
        return -1;
    }
    switch (res) {
    case STORE_PUT_NEW: {
        json_t *o = json_object();
        json_object_set_new(o, "org", json_string(org));
        json_object_set_new(o, "round", json_string(ns.round_id));
        json_object_set_new(o, "state", json_string(node_state_name(ns.state)));
        json_object_set_new(o, "code", json_string(ns.code));
        json_object_set_new(o, "reason", json_string(ns.reason));
        char note[600];
        snprintf(note, sizeof note, "%s reports round %s %s: %s: %.300s", org, ns.round_id,
                 ns.state == NODE_STATE_HELD ? "held for approval on site" : "failing on site",
                 ns.code, ns.reason);
        /* The ACK leaves only after this entry and the row are durable. */
        if (audit_daemon(r, "node_status", o, note) != 0)
            return send_error(r, e->message_id, "internal", "cannot audit the status now; resend",
                              reply, ctx);
        return send_ack(r, e->message_id, ns.round_id, "", 0, 0, reply, ctx);
    }
    case STORE_PUT_DUPLICATE:
        /* The same as the latest: nothing new to store or audit. */
        return send_ack(r, e->message_id, ns.round_id, "", 1, 0, reply, ctx);
    case STORE_PUT_CONFLICT:
        return reject(r, org, ns.round_id, e->message_id, "conflict",
                      "this organization has already answered the round", reply, ctx);
    case STORE_PUT_CLOSED:
        return reject(r, org, ns.round_id, e->message_id, "round_closed", "the round is closed",
                      reply, ctx);
    default:
        return reject(r, org, ns.round_id, e->message_id, "unknown_round", "no such round",
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
    case MSG_NODE_STATUS: rc = handle_status(r, org, &e, reply, ctx); break;
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
    /* No answer, not even a refusal, before the query's entry is durable. */
    struct audit_entry qa = {"query", a.audit};
    if (!a.audit || commit_audited(r->cfg, r->store, &qa, 1, 0) != AUD_OK) {
        log_error("query by %s not answered: its audit entry could not be recorded", cn);
        rc = send_error(r, e.message_id, "internal", "cannot audit this query now; resend",
                        reply, ctx);
        rc = -1;
        goto out;
    }
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

/* ---- the deadline ------------------------------------------------------------ */

struct due_ctx {
    char (*id)[64];
    int64_t *deadline;
    int n, cap;
};

static int note_due(void *vctx, const struct store_round *sr)
{
    struct due_ctx *d = vctx;
    if (d->n == d->cap) {
        int cap = d->cap ? 2 * d->cap : 8;
        char (*p)[64] = realloc(d->id, (size_t)cap * sizeof *p);
        if (p)
            d->id = p;
        int64_t *q = realloc(d->deadline, (size_t)cap * sizeof *q);
        if (q)
            d->deadline = q;
        if (!p || !q)
            return -1;
        d->cap = cap;
    }
    snprintf(d->id[d->n], 64, "%s", sr->round_id);
    d->deadline[d->n++] = sr->deadline;
    return 0;
}

void rounds_close_due(rounds_t *r)
{
    if (!r || r->batching)
        return;
    struct due_ctx d;
    memset(&d, 0, sizeof d);
    store_rounds_due(r->store, (int64_t)time(NULL), note_due, &d);
    for (int i = 0; i < d.n; i++) {
        int seen = 0;
        for (int j = 0; j < r->ntried && !seen; j++)
            seen = !strcmp(r->tried[j].id, d.id[i]) && r->tried[j].deadline == d.deadline[i];
        if (seen)
            continue;
        char err[1024], path[1300];
        log_info("round %s: the deadline has passed; closing it", d.id[i]);
        int rc = rounds_close(r->cfg, r->store, d.id[i], 0, r->trust, path, sizeof path, err,
                              sizeof err);
        if (rc == 0) {
            log_info("round %s released at its deadline: %s", d.id[i], path);
            /* and its report, as `round close` writes it */
            struct metrics_params mp;
            metrics_params_default(&mp);
            char rpath[1400];
            if (metrics_params_for_round(r->cfg, d.id[i], NULL, &mp, err, sizeof err) != 0 ||
                report_round_write(r->cfg, r->store, d.id[i], &mp, NULL, rpath, sizeof rpath,
                                   err, sizeof err) != 0)
                log_error("round %s is released, but its report was not written: %s (run "
                          "equity-coordinator report --round %s)", d.id[i], err, d.id[i]);
            else
                log_info("round %s: report %s", d.id[i], rpath);
            continue;
        }
        log_error("round %s: not closed at its deadline: %s", d.id[i], err);
        int slot = r->ntried < 64 ? r->ntried++ : 63;
        snprintf(r->tried[slot].id, sizeof r->tried[slot].id, "%s", d.id[i]);
        r->tried[slot].deadline = d.deadline[i];
    }
    free(d.id);
    free(d.deadline);
}
