/*
 * service.c - the node's service loop (service.h, protocol.md): HELLO
 * polling, round requests (verify, policy, approval), compute + sign +
 * keep a copy + send, resend with backoff until ACK, and clear logs when
 * the coordinator cannot be reached or its key does not match.
 *
 * Everything runs in one thread; the socket's I/O and heartbeats run in
 * libzmq's threads, and the monitor thread of transport.c counts handshake
 * events which this loop turns into warnings at growing intervals.
 */
#include "service.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <zmq.h>

#include "envelope.h"
#include "identity.h"
#include "local_store.h"
#include "log.h"
#include "pipeline.h"
#include "policy.h"
#include "release_ledger.h"
#include "transport.h"
#include "version.h"
#include "wire.h"

#define RECV_SLICE_MS 200
#define WARN_FIRST_S 5.0
#define WARN_MAX_S 600.0

/* Only the signal handler writes it (ntpd's pattern). */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void utc_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else
        snprintf(buf, len, "?");
}

enum slot_state { SLOT_SENDING, SLOT_DONE, SLOT_COMPUTE_FAILED };

/* A round this process is working on. */
struct slot {
    char id[64];
    enum slot_state state;
    uint8_t *env; /* stored signed Submission envelope, exactly as sent */
    size_t envlen;
    uint8_t msg_id[ENVELOPE_ID_LEN];
    char payload_sha[IDENTITY_HEX_SHA256];
    double next_send, backoff;
    unsigned sends;
    /* The status told to the coordinator while the round is not answered
     * (NodeStatus: held or failing), resent with backoff until acknowledged. */
    int st_state;               /* 0 none, NODE_STATE_HELD, NODE_STATE_FAILING */
    char st_code[NODE_STATUS_CODE_MAX + 1];
    char st_reason[NODE_STATUS_REASON_MAX + 1];
    uint8_t *st_env;            /* its signed envelope                         */
    size_t st_envlen;
    uint8_t st_msg_id[ENVELOPE_ID_LEN];
    int st_acked;               /* acknowledged, or refused for good           */
    double st_next, st_backoff;
    unsigned st_sends;
};

struct service {
    const struct node_config *c;
    local_store_t *store;
    trust_t *trust;
    EVP_PKEY *sign_key;
    X509 *sign_cert;
    char coord_cn[IDENTITY_CN_MAX];
    void *zctx;
    transport_sock_t *sock;
    struct slot *slots;
    size_t nslots, capslots;
    double next_hello, hello_sent_at;
    int hello_outstanding;
    /* handshake reporting: counters as of the last warning */
    struct transport_events seen;
    double next_warn, warn_ivl;
    int trouble; /* a warning was logged since the last good handshake */
    unsigned long failures; /* handshake failures since start */
    double reopen_at, reopen_ivl; /* socket closed after a failed handshake */
    int hold_before_send;
};

/* --- identity checks ------------------------------------------------------ */

static int key_mode_ok(const char *what, const char *path, char *err, size_t errlen)
{
    int rc = identity_check_key_mode(path);
    if (rc == ID_OK)
        return 0;
    if (rc == ID_ERR_PERM)
        snprintf(err, errlen, "%s %s: secret key file is readable by group or others (must be "
                 "mode 0600): chmod 600 %s", what, path, path);
    else if (rc == ID_ERR_IO)
        snprintf(err, errlen, "%s %s: cannot read the file (missing, or not readable by this "
                 "user)", what, path);
    else
        snprintf(err, errlen, "%s %s: %s", what, path, identity_strerror(rc));
    return -1;
}

static int check_cert(X509 *ca, X509_CRL *crl, const char *what, const char *path,
                      identity_kind kind, identity_role role, const char *cn, X509 **out,
                      struct identity_info *info, char *err, size_t errlen)
{
    X509 *cert = NULL;
    int rc = identity_load_cert(path, &cert);
    if (rc != ID_OK) {
        snprintf(err, errlen, "%s %s: %s", what, path, identity_strerror(rc));
        return -1;
    }
    rc = identity_verify(ca, crl, cert, 0, info);
    if (rc != ID_OK) {
        snprintf(err, errlen, "%s %s (%s): does not verify against the CA and CRL: %s", what, path,
                 info->cn[0] ? info->cn : "?", identity_strerror(rc));
        goto fail;
    }
    if (info->kind != kind) {
        snprintf(err, errlen, "%s %s: a %s certificate, expected a %s certificate", what, path,
                 identity_kind_name(info->kind), identity_kind_name(kind));
        goto fail;
    }
    if (role != ROLE_NONE && info->role != role) {
        snprintf(err, errlen, "%s %s: certificate of %s has role %s, expected %s", what, path,
                 info->cn, identity_role_name(info->role), identity_role_name(role));
        goto fail;
    }
    if (cn && strcmp(info->cn, cn) != 0) {
        snprintf(err, errlen, "%s %s: certificate is for \"%s\" but [node] org is \"%s\"", what,
                 path, info->cn, cn);
        goto fail;
    }
    if (out)
        *out = cert;
    else
        X509_free(cert);
    return 0;
fail:
    X509_free(cert);
    return -1;
}

int service_check_identity(const struct node_config *c, char *err, size_t errlen)
{
    const struct {
        const char *name, *value;
    } need[] = {
        {"[identity] ca", c->ca},
        {"[identity] crl", c->crl},
        {"[identity] transport_cert", c->transport_cert},
        {"[identity] transport_key", c->transport_key},
        {"[identity] signing_cert", c->signing_cert},
        {"[identity] signing_key", c->signing_key},
        {"[coordinator] certificate", c->coordinator_cert},
    };
    size_t nneed = sizeof need / sizeof need[0], set = 0;
    for (size_t i = 0; i < nneed; i++)
        set += need[i].value[0] != '\0';
    if (set == 0)
        return 1;
    for (size_t i = 0; i < nneed; i++)
        if (!need[i].value[0]) {
            snprintf(err, errlen, "%s is not set (the service needs every identity file)",
                     need[i].name);
            return -1;
        }
    int rc = -1;
    X509 *ca = NULL, *tcert = NULL, *scert = NULL;
    X509_CRL *crl = NULL;
    EVP_PKEY *skey = NULL;
    unsigned char sec[IDENTITY_KEY_LEN], pub[IDENTITY_KEY_LEN];
    struct identity_info info;
    memset(&info, 0, sizeof info);
    if (key_mode_ok("[identity] transport_key", c->transport_key, err, errlen) != 0 ||
        key_mode_ok("[identity] signing_key", c->signing_key, err, errlen) != 0)
        goto out;
    int irc = identity_load_cert(c->ca, &ca);
    if (irc != ID_OK) {
        snprintf(err, errlen, "[identity] ca %s: %s", c->ca, identity_strerror(irc));
        goto out;
    }
    irc = identity_load_crl(c->crl, &crl);
    if (irc != ID_OK) {
        snprintf(err, errlen, "[identity] crl %s: %s", c->crl, identity_strerror(irc));
        goto out;
    }
    if (check_cert(ca, crl, "[identity] transport_cert", c->transport_cert, CERT_KIND_TRANSPORT,
                   ROLE_NODE, c->org, &tcert, &info, err, errlen) != 0)
        goto out;
    irc = identity_curve_keypair(c->transport_key, sec, pub);
    OPENSSL_cleanse(sec, sizeof sec);
    if (irc != ID_OK) {
        snprintf(err, errlen, "[identity] transport_key %s: %s", c->transport_key,
                 identity_strerror(irc));
        goto out;
    }
    if (memcmp(pub, info.key, IDENTITY_KEY_LEN) != 0) {
        snprintf(err, errlen, "[identity] transport_key %s does not belong to transport_cert %s",
                 c->transport_key, c->transport_cert);
        goto out;
    }
    if (check_cert(ca, crl, "[identity] signing_cert", c->signing_cert, CERT_KIND_SIGNING,
                   ROLE_NONE, c->org, &scert, &info, err, errlen) != 0)
        goto out;
    irc = identity_load_secret_key(c->signing_key, &skey);
    if (irc != ID_OK) {
        snprintf(err, errlen, "[identity] signing_key %s: %s", c->signing_key,
                 identity_strerror(irc));
        goto out;
    }
    if (X509_check_private_key(scert, skey) != 1) {
        snprintf(err, errlen, "[identity] signing_key %s does not belong to signing_cert %s",
                 c->signing_key, c->signing_cert);
        goto out;
    }
    if (check_cert(ca, crl, "[coordinator] certificate", c->coordinator_cert,
                   CERT_KIND_TRANSPORT, ROLE_COORDINATOR, NULL, NULL, &info, err, errlen) != 0)
        goto out;
    rc = 0;
out:
    EVP_PKEY_free(skey);
    X509_free(scert);
    X509_free(tcert);
    X509_CRL_free(crl);
    X509_free(ca);
    return rc;
}

/* --- slots ------------------------------------------------------------------ */

static struct slot *slot_find(struct service *sv, const char *id)
{
    for (size_t i = 0; i < sv->nslots; i++)
        if (!strcmp(sv->slots[i].id, id))
            return &sv->slots[i];
    return NULL;
}

static struct slot *slot_get(struct service *sv, const char *id)
{
    struct slot *s = slot_find(sv, id);
    if (s)
        return s;
    if (sv->nslots == sv->capslots) {
        size_t nc = sv->capslots ? sv->capslots * 2 : 8;
        struct slot *ns = realloc(sv->slots, nc * sizeof *ns);
        if (!ns)
            return NULL;
        sv->slots = ns;
        sv->capslots = nc;
    }
    s = &sv->slots[sv->nslots++];
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", id);
    s->state = SLOT_DONE;
    return s;
}

static void clear_status(struct service *sv, const char *id);

/* Loads the stored submission of a round into its slot, ready to send
 * (which answers the round: its status is cleared). */
static int slot_load_submission(struct service *sv, const char *id)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    struct envelope e;
    char err[200];
    memset(&e, 0, sizeof e);
    int rc = local_store_read(sv->store, id, LS_SUBMISSION, &buf, &len);
    if (rc != LS_OK) {
        log_error("round %s: cannot read the stored submission: %s", id, local_store_strerror(rc));
        return -1;
    }
    if (envelope_unpack(buf, len, &e, err, sizeof err) != 0 || e.type != MSG_SUBMISSION) {
        log_error("round %s: the stored submission in %s is not a submission envelope (%s); "
                  "it is left as it is and not sent", id, local_store_dir(sv->store), err);
        free(buf);
        envelope_free(&e);
        return -1;
    }
    struct slot *s = slot_get(sv, id);
    if (!s) {
        free(buf);
        envelope_free(&e);
        return -1;
    }
    free(s->env);
    s->env = buf;
    s->envlen = len;
    memcpy(s->msg_id, e.message_id, sizeof s->msg_id);
    identity_sha256_hex(e.payload, e.payload_len, s->payload_sha);
    s->state = SLOT_SENDING;
    s->next_send = now_mono();
    s->backoff = sv->c->poll_seconds;
    envelope_free(&e);
    clear_status(sv, id);
    return 0;
}

/* --- sending ---------------------------------------------------------------- */

static int send_bytes(struct service *sv, const uint8_t *buf, size_t len, const char *what)
{
    int rc = transport_send(sv->sock, NULL, 0, buf, len);
    if (rc != TRANSPORT_OK) {
        log_warnx("cannot send %s to the coordinator at %s now (%s); will retry", what,
                  sv->c->endpoint, transport_strerror(rc));
        return -1;
    }
    return 0;
}

static void send_hello(struct service *sv)
{
    uint8_t *payload = NULL, *env = NULL;
    size_t plen = 0, elen = 0;
    char software[64];
    snprintf(software, sizeof software, "equity-node %s", EQ_VERSION);
    if (hello_pack(sv->c->org, software, &payload, &plen) == 0 &&
        envelope_pack(MSG_HELLO, payload, plen, NULL, NULL, &env, &elen, NULL) == 0 &&
        send_bytes(sv, env, elen, "a request for open rounds") == 0) {
        sv->hello_outstanding = 1;
        sv->hello_sent_at = now_mono();
    }
    free(payload);
    free(env);
}

static void send_refusal(struct service *sv, const char *round_id, const char *reason)
{
    uint8_t *payload = NULL, *env = NULL;
    size_t plen = 0, elen = 0;
    if (refusal_pack(round_id, sv->c->org, reason, &payload, &plen) != 0 ||
        envelope_pack(MSG_REFUSAL, payload, plen, sv->sign_key, sv->sign_cert, &env, &elen,
                      NULL) != 0) {
        log_error("round %s: cannot build the refusal message", round_id);
        goto out;
    }
    send_bytes(sv, env, elen, "a refusal");
out:
    free(payload);
    free(env);
}

/* --- status of rounds not answered yet ----------------------------------- */

/* Tells the coordinator that round `id` is held for approval on site or
 * failing on site (state), with a stable code and a reason that names no
 * record value (the callers pass fixed texts). Nothing happens when the
 * same status is already being sent or was acknowledged. The status is
 * kept in <round>.status, so a restarted service can tell it again. */
static void set_status(struct service *sv, const char *id, int state, const char *code,
                       const char *reason)
{
    struct slot *s = slot_get(sv, id);
    if (!s)
        return;
    struct node_status ns;
    memset(&ns, 0, sizeof ns);
    snprintf(ns.round_id, sizeof ns.round_id, "%s", id);
    snprintf(ns.org, sizeof ns.org, "%s", sv->c->org);
    ns.state = state;
    snprintf(ns.code, sizeof ns.code, "%s", code);
    snprintf(ns.reason, sizeof ns.reason, "%s", reason);
    for (char *p = ns.reason; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    if (s->st_env && s->st_state == state && !strcmp(s->st_code, ns.code) &&
        !strcmp(s->st_reason, ns.reason))
        return;
    uint8_t *payload = NULL, *env = NULL;
    size_t plen = 0, elen = 0;
    uint8_t mid[ENVELOPE_ID_LEN];
    if (node_status_pack(&ns, &payload, &plen) != 0 ||
        envelope_pack(MSG_NODE_STATUS, payload, plen, sv->sign_key, sv->sign_cert, &env, &elen,
                      mid) != 0) {
        log_error("round %s: cannot build the status message for the coordinator", id);
        free(payload);
        free(env);
        return;
    }
    free(payload);
    free(s->st_env);
    s->st_env = env;
    s->st_envlen = elen;
    memcpy(s->st_msg_id, mid, sizeof mid);
    s->st_state = state;
    snprintf(s->st_code, sizeof s->st_code, "%s", ns.code);
    snprintf(s->st_reason, sizeof s->st_reason, "%s", ns.reason);
    s->st_acked = 0;
    s->st_sends = 0;
    s->st_next = now_mono();
    s->st_backoff = sv->c->poll_seconds;
    char text[512];
    int n = snprintf(text, sizeof text, "state %s\ncode %s\nreason %s\n", node_state_name(state),
                     ns.code, ns.reason);
    if (local_store_write(sv->store, id, LS_STATUS, text, (size_t)(n > 0 ? n : 0)) != LS_OK)
        log_warnx("round %s: cannot keep the status in %s; telling the coordinator anyway", id,
                  local_store_dir(sv->store));
    log_info("round %s: telling the coordinator it is %s: %s (%s)", id,
             state == NODE_STATE_HELD ? "held for approval on site" : "failing on site",
             ns.reason, ns.code);
}

/* The round is answered (a submission queued, or a refusal sent): the
 * coordinator replaces the status with that answer. */
static void clear_status(struct service *sv, const char *id)
{
    struct slot *s = slot_find(sv, id);
    if (s) {
        free(s->st_env);
        s->st_env = NULL;
        s->st_envlen = 0;
        s->st_state = 0;
        s->st_acked = 1;
    }
    if (local_store_has(sv->store, id, LS_STATUS))
        local_store_remove(sv->store, id, LS_STATUS);
}

/* A held round asked for again: tell its status again if this process has
 * not (after a restart, from <round>.status). */
static void retell_held(struct service *sv, const char *id)
{
    struct slot *s = slot_find(sv, id);
    if (s && s->st_env)
        return;
    char code[NODE_STATUS_CODE_MAX + 1] = "", reason[NODE_STATUS_REASON_MAX + 1] = "";
    uint8_t *buf = NULL;
    size_t len = 0;
    if (local_store_read(sv->store, id, LS_STATUS, &buf, &len) == LS_OK) {
        char *text = (char *)buf; /* NUL-terminated by local_store_read */
        char *c = strstr(text, "\ncode "), *r = strstr(text, "\nreason ");
        if (!strncmp(text, "state held\n", 11) && c && r) {
            c += 6;
            r += 8;
            snprintf(code, sizeof code, "%.*s", (int)strcspn(c, "\n"), c);
            snprintf(reason, sizeof reason, "%.*s", (int)strcspn(r, "\n"), r);
        }
    }
    free(buf);
    if (!code[0]) {
        int manual = sv->c->approval == APPROVAL_MANUAL;
        snprintf(code, sizeof code, "%s", manual ? "manual_approval" : "rejected_rows");
        snprintf(reason, sizeof reason, "%s", manual ?
                 "waits for approval on site ([policy] approval = manual)" :
                 "waits for approval on site (the share of rejected rows is above [input] "
                 "max_rejected_share)");
    }
    set_status(sv, id, NODE_STATE_HELD, code, reason);
}

static void status_send(struct service *sv, struct slot *s)
{
    if (s->st_sends)
        log_info("round %s: no acknowledgement of our status yet; sending it again (attempt %u)",
                 s->id, s->st_sends + 1);
    send_bytes(sv, s->st_env, s->st_envlen, "the round's status");
    s->st_sends++;
    s->st_next = now_mono() + s->st_backoff;
    s->st_backoff *= 2;
    if (s->st_backoff > sv->c->retry_max_seconds)
        s->st_backoff = sv->c->retry_max_seconds;
}

static void slot_send(struct service *sv, struct slot *s)
{
    double now = now_mono();
    if (s->sends == 0)
        log_info("round %s: sending the submission (payload sha256 %s)", s->id, s->payload_sha);
    else
        log_info("round %s: no acknowledgement yet; resending the same submission (attempt %u, "
                 "next in %.0f s unless acknowledged)", s->id, s->sends + 1,
                 s->backoff * 2 > sv->c->retry_max_seconds ? (double)sv->c->retry_max_seconds
                                                           : s->backoff * 2);
    send_bytes(sv, s->env, s->envlen, "the submission");
    s->sends++;
    s->next_send = now + s->backoff;
    s->backoff *= 2;
    if (s->backoff > sv->c->retry_max_seconds)
        s->backoff = sv->c->retry_max_seconds;
}

/* --- computing a round ------------------------------------------------------ */

static void hold_for_test(struct service *sv, const char *round_id)
{
    if (sv->hold_before_send <= 0)
        return;
    log_warnx("round %s: test hook EQ_TEST_HOLD_BEFORE_SEND: waiting %d s before sending",
              round_id, sv->hold_before_send);
    for (int i = 0; i < sv->hold_before_send * 10 && !stop_requested; i++)
        usleep(100000);
}

/* The node's settings for computing a round: its spec, k and period. */
static int apply_round(const struct node_config *c, const struct round_request *r,
                       struct node_config *out)
{
    *out = *c;
    if (policy_round_spec(c, r, &out->spec) != 0)
        return -1;
    out->k = policy_effective_k(c, r);
    snprintf(out->period, sizeof out->period, "%s", r->period);
    return 0;
}

int service_round_config(const struct node_config *c, const char *round_id,
                         struct node_config *out, char *err, size_t errlen)
{
    int rc = -1;
    uint8_t *raw = NULL;
    size_t len = 0;
    struct envelope e;
    struct round_request r;
    char why[300];
    memset(&e, 0, sizeof e);
    if (!local_store_round_id_ok(round_id)) {
        snprintf(err, errlen, "\"%.63s\" is not a round id", round_id ? round_id : "");
        return -1;
    }
    local_store_t *st = local_store_open(c->store_dir);
    if (!st) {
        snprintf(err, errlen, "cannot open the store %s", c->store_dir);
        return -1;
    }
    int lrc = local_store_read(st, round_id, LS_REQUEST, &raw, &len);
    if (lrc != LS_OK) {
        snprintf(err, errlen, "no request of round %s is kept in %s (%s)", round_id,
                 c->store_dir, local_store_strerror(lrc));
        goto out;
    }
    if (envelope_unpack(raw, len, &e, why, sizeof why) != 0 || e.type != MSG_ROUND_REQUEST ||
        round_request_unpack(e.payload, e.payload_len, &r, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s/%s%s: not a round request", c->store_dir, round_id,
                 local_store_suffix(LS_REQUEST));
        goto out;
    }
    if (apply_round(c, &r, out) != 0) {
        snprintf(err, errlen, "round %s asks for more intersections than this node computes",
                 round_id);
        goto out;
    }
    rc = 0;
out:
    envelope_free(&e);
    free(raw);
    local_store_destroy(&st);
    return rc;
}

/* What compute_and_store did. */
enum { COMPUTE_QUEUED = 0, COMPUTE_FAILED = -1, COMPUTE_REFUSED = -2, COMPUTE_HELD = 1 };

/* Holds round `id` for on-site approval: writes the .pending summary (the
 * request, `why` when given, and the commands to preview and approve),
 * logs where it is and tells the coordinator (held, with code and
 * status_reason: a text without counts or values; NULL = approval =
 * manual). Nothing is computed or sent until `equity-node approve`. */
static void hold_round(struct service *sv, const struct round_request *r, const char *why,
                       const char *code, const char *status_reason)
{
    const char *id = r->round_id;
    char summary[6144];
    size_t n = policy_describe(sv->c, r, summary, sizeof summary);
    int tn = snprintf(summary + n, sizeof summary - n,
                      "%s%s%s"
                      "\nThis round waits for approval on site. Preview what would leave with\n"
                      "  equity-node preview --config %s --round %s\n"
                      "and approve it with\n"
                      "  equity-node approve --config %s --round %s\n",
                      why ? "\nHeld because " : "", why ? why : "", why ? "\n" : "",
                      sv->c->path, id, sv->c->path, id);
    if (tn < 0 || n + (size_t)tn >= sizeof summary)
        summary[sizeof summary - 1] = '\0';
    int lrc = local_store_write(sv->store, id, LS_PENDING, summary, strlen(summary));
    if (lrc != LS_OK) {
        log_error("round %s: cannot write the approval request into %s (%s); the round stays "
                  "unanswered", id, local_store_dir(sv->store), local_store_strerror(lrc));
        set_status(sv, id, NODE_STATE_FAILING, "store",
                   "cannot keep the round's approval request on site ([store] dir)");
        return;
    }
    log_warnx("round %s (period %s) is held for approval%s%s (see %s/%s%s); approve it with: "
              "equity-node approve --config %s --round %s", id, r->period, why ? ": " : "",
              why ? why : "", local_store_dir(sv->store), id, local_store_suffix(LS_PENDING),
              sv->c->path, id);
    set_status(sv, id, NODE_STATE_HELD, code ? code : "manual_approval",
               status_reason ? status_reason
                             : "waits for approval on site ([policy] approval = manual)");
}

/* Refuses round `id` for good: keeps the reason on site, then tells the
 * coordinator (which shows it in round status). */
static void refuse_round(struct service *sv, const char *id, const char *reason)
{
    log_warnx("round %s: refused: %s", id, reason);
    clear_status(sv, id);
    int lrc = local_store_write(sv->store, id, LS_REFUSED, reason, strlen(reason));
    if (lrc != LS_OK)
        log_error("round %s: cannot keep the refusal in %s (%s); sending it anyway", id,
                  local_store_dir(sv->store), local_store_strerror(lrc));
    send_refusal(sv, id, reason);
}

/* What the coordinator is told when a round cannot be computed: a stable
 * code and a fixed text per kind of trouble. The pipeline's own message
 * stays in the node's log: it may name a file and line of the source. */
static void fail_kind(enum pipeline_fail f, const struct node_config *c, const char **code,
                      char *reason, size_t len)
{
    const char *fmt = c->format == FORMAT_SYNTHEA ? "Synthea CSV folder"
                    : c->format == FORMAT_FHIR    ? "FHIR NDJSON folder"
                    : c->format == FORMAT_OMOP    ? "OMOP database"
                                                  : "extract CSV";
    switch (f) {
    case PIPELINE_FAIL_CONFIG:
        *code = "config";
        snprintf(reason, len, "the node's configuration cannot compute this round; its log "
                 "says why");
        break;
    case PIPELINE_FAIL_INPUT:
        *code = "input_error";
        snprintf(reason, len, "cannot read its input (%s), or the input has an error that stops "
                 "the read; the node's log says where", fmt);
        break;
    case PIPELINE_FAIL_SOURCE:
        *code = "source_unavailable";
        snprintf(reason, len, "cannot read its %s (unreachable, or a query failed); the node's "
                 "log says why", fmt);
        break;
    case PIPELINE_FAIL_SUPPRESSION:
        *code = "suppression";
        snprintf(reason, len, "suppression could not be completed; nothing released");
        break;
    default:
        *code = "internal";
        snprintf(reason, len, "internal error (out of memory, or a sum beyond its range); the "
                 "node's log says why");
        break;
    }
}

/* The rejected rows' reasons, names only ("code, range"): the share is
 * told, the counts are not. */
static void reject_reasons(const struct profile *p, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int r = 0; r < BAD__COUNT && used + 1 < len; r++) {
        if (!p->rejected[r] || r == BAD_PERIOD)
            continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                         profile_reason_name((bad_reason)r));
        if (n < 0)
            break;
        used = used + (size_t)n < len ? used + (size_t)n : len - 1;
    }
}

/* Computes, signs, stores and queues the submission for an allowed round.
 * COMPUTE_QUEUED, COMPUTE_FAILED (try again later; the coordinator is told
 * the round is failing on site) or COMPUTE_REFUSED (the round was refused,
 * e.g. the input has no member of its period) or COMPUTE_HELD. */
static int compute_and_store(struct service *sv, const struct round_request *r,
                             const uint8_t *req_payload, size_t req_len)
{
    int rc = -1;
    struct node_config *rc_conf = malloc(sizeof *rc_conf);
    struct pipeline_result res;
    uint8_t *payload = NULL, *env = NULL;
    size_t plen = 0, elen = 0;
    char err[700];
    int have_res = 0;
    /* what the coordinator is told if this fails */
    const char *fcode = "internal";
    char freason[NODE_STATUS_REASON_MAX + 1];
    snprintf(freason, sizeof freason, "cannot encode or sign the submission; the node's log "
             "says why");
    if (!rc_conf) {
        log_error("round %s: out of memory", r->round_id);
        snprintf(freason, sizeof freason, "out of memory");
        goto out;
    }
    if (apply_round(sv->c, r, rc_conf) != 0) {
        log_error("round %s: the request has more intersections than this node can compute",
                  r->round_id);
        fcode = "config";
        snprintf(freason, sizeof freason, "the round asks for more intersections than this "
                 "node computes");
        goto out;
    }
    log_info("round %s: computing period %s with k = %d from %s", r->round_id, r->period,
             rc_conf->k, rc_conf->input);
    int prc = pipeline_run(rc_conf, 1, 0, &res, err, sizeof err);
    if (prc == PIPELINE_NO_DATA) {
        /* Nothing false is released: zero cells are not a submission. */
        refuse_round(sv, r->round_id, err);
        rc = COMPUTE_REFUSED;
        goto out;
    }
    if (prc != PIPELINE_OK) {
        log_error("round %s: cannot compute: %s (will try again in %d s)", r->round_id, err,
                  sv->c->retry_max_seconds);
        fail_kind(res.fail, rc_conf, &fcode, freason, sizeof freason);
        goto out;
    }
    have_res = 1;
    {
        const struct profile *p = &res.profile;
        char why[256], held[400];
        profile_reject_summary(p, why, sizeof why);
        log_info("round %s: %llu rows read, %llu accepted, %llu rejected (%s)", r->round_id,
                 (unsigned long long)p->rows_read, (unsigned long long)p->rows_accepted,
                 (unsigned long long)profile_rejected_total(p), why);
        double share = profile_rejected_share(p);
        if (share > sv->c->max_rejected_share) {
            snprintf(held, sizeof held, "%.1f %% of the rows read were rejected (%s), above "
                     "[input] max_rejected_share = %.1f %%; `equity-node profile` shows why",
                     100.0 * share, why, 100.0 * sv->c->max_rejected_share);
            if (!local_store_has(sv->store, r->round_id, LS_APPROVED)) {
                char names[200], told[NODE_STATUS_REASON_MAX + 1];
                reject_reasons(p, names, sizeof names);
                snprintf(told, sizeof told, "%.1f %% of the rows read were rejected (%s), above "
                         "[input] max_rejected_share = %.1f %%", 100.0 * share, names,
                         100.0 * sv->c->max_rejected_share);
                hold_round(sv, r, held, "rejected_rows", told);
                rc = COMPUTE_HELD;
                goto out;
            }
            log_warnx("round %s: %s; sending it as approved on site", r->round_id, held);
        }
    }
    snprintf(res.cells->round, sizeof res.cells->round, "%s", r->round_id);
    snprintf(res.cells->org, sizeof res.cells->org, "%s", sv->c->org);
    {
        /* The earlier releases of this period are part of what a reader
         * knows: check against them, then keep this one before it leaves. */
        char ldir[1200], why[600], reason[700];
        struct suppress_params sp = {.k = rc_conf->k, .dominance = rc_conf->dominance};
        snprintf(ldir, sizeof ldir, "%s/ledger", local_store_dir(sv->store));
        int lrc = release_ledger_check(ldir, res.cells, &sp, &res.report, NULL, why, sizeof why);
        if (lrc == LEDGER_ECHANGED || lrc == LEDGER_EPROTECT || lrc == LEDGER_ELIMIT ||
            lrc == LEDGER_ENEWTABLE) {
            snprintf(reason, sizeof reason, "%s: %s", ledger_reason_code(lrc), why);
            refuse_round(sv, r->round_id, reason);
            rc = COMPUTE_REFUSED;
            goto out;
        }
        if (lrc != LEDGER_OK) {
            log_error("round %s: the release ledger check failed (%s): nothing is sent",
                      r->round_id, why);
            goto out;
        }
        if (release_ledger_record(ldir, res.cells, why, sizeof why) != 0) {
            log_error("round %s: %s: nothing is sent", r->round_id, why);
            goto out;
        }
    }
    struct submission_meta meta;
    if (wire_meta_init(&meta, res.cells) != 0) {
        log_error("round %s: cannot draw a nonce", r->round_id);
        goto out;
    }
    identity_sha256_hex(req_payload, req_len, meta.request_sha256);
    if (profile_to_submission(&res.profile, &meta) != 0) {
        log_error("round %s: cannot list the rejected rows in the submission", r->round_id);
        goto out;
    }
    if (wire_submission_pack(res.cells, &meta, &payload, &plen) != 0 ||
        envelope_pack(MSG_SUBMISSION, payload, plen, sv->sign_key, sv->sign_cert, &env, &elen,
                      NULL) != 0) {
        log_error("round %s: cannot encode or sign the submission", r->round_id);
        goto out;
    }
    uint64_t cnt[REASON__COUNT];
    cellset_count_reasons(res.cells, cnt);
    fcode = "store";
    snprintf(freason, sizeof freason, "cannot keep its copy of the submission on site ([store] "
             "dir); nothing sent");
    int src = local_store_put_submission(sv->store, r->round_id, env, elen);
    if (src == LS_ERR_EXISTS) {
        /* Another process stored one first: that one is the submission. */
        log_warnx("round %s: a submission was already stored; sending that one, not this one",
                  r->round_id);
    } else if (src != LS_OK) {
        log_error("round %s: cannot keep a copy of the submission in %s (%s): nothing is sent",
                  r->round_id, local_store_dir(sv->store), local_store_strerror(src));
        goto out;
    } else {
        char sha[IDENTITY_HEX_SHA256];
        identity_sha256_hex(payload, plen, sha);
        log_info("round %s: %zu cells (%llu released, %llu withheld), signed and kept in "
                 "%s/%s%s (payload sha256 %s)", r->round_id, res.cells->ncells,
                 (unsigned long long)cnt[REASON_NONE],
                 (unsigned long long)(res.cells->ncells - cnt[REASON_NONE]),
                 local_store_dir(sv->store), r->round_id, local_store_suffix(LS_SUBMISSION), sha);
        hold_for_test(sv, r->round_id);
    }
    snprintf(freason, sizeof freason, "cannot read back its stored submission ([store] dir); "
             "nothing sent");
    rc = slot_load_submission(sv, r->round_id);
out:
    if (rc == COMPUTE_FAILED)
        set_status(sv, r->round_id, NODE_STATE_FAILING, fcode, freason);
    if (have_res)
        pipeline_result_free(&res);
    free(payload);
    free(env);
    free(rc_conf);
    return rc;
}

/* --- round requests --------------------------------------------------------- */

/* Whether the node must refuse round r for its catalog: the request names
 * no catalog, or one this node does not hold (another name or version), or
 * the same name and version with another SHA-256 (a different text). The
 * reason starts with its code (proto/equity.proto, RoundRequest). */
static int catalog_refusal(const struct round_request *r, char *reason, size_t len)
{
    const struct catalog *c = catalog_active();
    if (!r->catalog_sha256[0]) {
        snprintf(reason, len, "catalog_missing: the round request names no catalog; this node "
                 "holds %s %s (sha256 %s)", catalog_name(c), catalog_version(c), catalog_sha256(c));
        return 1;
    }
    if (!strcmp(r->catalog_sha256, catalog_sha256(c)))
        return 0;
    int same = !strcmp(r->catalog_name, catalog_name(c)) &&
               !strcmp(r->catalog_version, catalog_version(c));
    snprintf(reason, len, "%s: the round's catalog is %.60s %.30s (sha256 %.64s); this node holds "
             "%s %s (sha256 %s)%s", same ? "catalog_mismatch" : "catalog_unknown", r->catalog_name,
             r->catalog_version, r->catalog_sha256, catalog_name(c), catalog_version(c),
             catalog_sha256(c), same ? ": same name and version, different text" : "");
    return 1;
}

/* Handles a signed ROUND_REQUEST envelope (from the wire, or the stored copy
 * of an approved round). from_store: do not write the request again. */
static void handle_request(struct service *sv, const struct envelope *e, const uint8_t *raw,
                           size_t rawlen, int from_store)
{
    struct round_request r;
    struct identity_info signer;
    char err[400];
    memset(&signer, 0, sizeof signer);
    int vrc = envelope_verify(sv->trust, e, sv->coord_cn, &signer);
    if (vrc != ID_OK) {
        log_warnx("ignored a round request: its signature does not verify as %s's (%s; signer "
                  "\"%s\")", sv->coord_cn, identity_strerror(vrc), signer.cn);
        return;
    }
    if (round_request_unpack(e->payload, e->payload_len, &r, err, sizeof err) != 0) {
        log_warnx("ignored a malformed round request from %s: %s", sv->coord_cn, err);
        return;
    }
    if (!local_store_round_id_ok(r.round_id)) {
        log_warnx("ignored round request \"%.63s\": the round id is not usable as a file name",
                  r.round_id);
        return;
    }
    const char *id = r.round_id;
    struct slot *s = slot_find(sv, id);
    if (local_store_has(sv->store, id, LS_FAILED)) {
        log_debug("round %s: asked again, but it ended with an error (see %s.failed)", id, id);
        return;
    }
    if (local_store_has(sv->store, id, LS_SUBMISSION)) {
        if (s && s->state == SLOT_SENDING)
            return; /* already being resent with backoff */
        if (local_store_has(sv->store, id, LS_ACK))
            log_warnx("round %s: the coordinator asks again although it acknowledged our "
                      "submission; resending the same stored copy", id);
        slot_load_submission(sv, id);
        return;
    }
    if (local_store_has(sv->store, id, LS_REFUSED)) {
        uint8_t *reason = NULL;
        size_t rl = 0;
        if (local_store_read(sv->store, id, LS_REFUSED, &reason, &rl) == LS_OK) {
            log_info("round %s: asked again; repeating our refusal", id);
            send_refusal(sv, id, (const char *)reason);
        }
        free(reason);
        return;
    }
    if (s && s->state == SLOT_COMPUTE_FAILED && now_mono() < s->next_send)
        return;
    char reason[1024];
    if (catalog_refusal(&r, reason, sizeof reason)) {
        refuse_round(sv, id, reason);
        return;
    }
    int prc = policy_check(sv->c, &r, reason, sizeof reason);
    if (prc != POLICY_OK) {
        refuse_round(sv, id, reason);
        return;
    }
    if (!from_store && !local_store_has(sv->store, id, LS_REQUEST))
        local_store_write(sv->store, id, LS_REQUEST, raw, rawlen);
    /* Held for approval (by approval = manual, or by its data quality):
     * nothing happens until `equity-node approve`. */
    if (local_store_has(sv->store, id, LS_PENDING) && !local_store_has(sv->store, id, LS_APPROVED)) {
        retell_held(sv, id);
        return;
    }
    if (sv->c->approval == APPROVAL_MANUAL && !local_store_has(sv->store, id, LS_APPROVED)) {
        hold_round(sv, &r, NULL, NULL, NULL);
        return;
    }
    if (compute_and_store(sv, &r, e->payload, e->payload_len) == COMPUTE_FAILED) {
        s = slot_get(sv, id);
        if (s) {
            s->state = SLOT_COMPUTE_FAILED;
            s->next_send = now_mono() + sv->c->retry_max_seconds;
        }
    }
}

/* Rounds approved on site whose stored request has not been answered yet. */
static void check_approvals(struct service *sv)
{
    char **ids = NULL;
    size_t n = 0;
    if (local_store_list(sv->store, LS_APPROVED, &ids, &n) != LS_OK)
        return;
    for (size_t i = 0; i < n && !stop_requested; i++) {
        const char *id = ids[i];
        if (local_store_has(sv->store, id, LS_SUBMISSION) ||
            local_store_has(sv->store, id, LS_REFUSED) || local_store_has(sv->store, id, LS_FAILED))
            continue;
        struct slot *s = slot_find(sv, id);
        if (s && s->state == SLOT_COMPUTE_FAILED && now_mono() < s->next_send)
            continue;
        uint8_t *raw = NULL;
        size_t len = 0;
        struct envelope e;
        char err[200];
        memset(&e, 0, sizeof e);
        if (local_store_read(sv->store, id, LS_REQUEST, &raw, &len) != LS_OK) {
            log_warnx("round %s is approved but its request is not kept in %s; waiting for the "
                      "coordinator to send it again", id, local_store_dir(sv->store));
            continue;
        }
        if (envelope_unpack(raw, len, &e, err, sizeof err) == 0 && e.type == MSG_ROUND_REQUEST) {
            log_info("round %s: approved on site; answering it", id);
            handle_request(sv, &e, raw, len, 1);
        } else {
            log_error("round %s: the kept request is unreadable (%s)", id, err);
        }
        envelope_free(&e);
        free(raw);
    }
    local_store_ids_free(ids, n);
}

/* --- replies ---------------------------------------------------------------- */

static int error_is_final(const char *code)
{
    static const char *const transient[] = {"internal", "busy", "unavailable", "timeout",
                                            "store", "rate_limited", NULL};
    for (int i = 0; transient[i]; i++)
        if (!strcmp(code, transient[i]))
            return 0;
    return 1;
}

static void handle_ack(struct service *sv, const struct envelope *e)
{
    struct ack a;
    char err[200];
    if (ack_unpack(e->payload, e->payload_len, &a, err, sizeof err) != 0) {
        log_warnx("malformed acknowledgement from the coordinator: %s", err);
        return;
    }
    if (!a.round_id[0]) {
        log_debug("the coordinator has no open round for us");
        return;
    }
    struct slot *s = slot_find(sv, a.round_id);
    if (s && s->st_env && !memcmp(a.message_id, s->st_msg_id, ENVELOPE_ID_LEN)) {
        if (!s->st_acked)
            log_info("round %s: the coordinator recorded that we are %s%s", s->id,
                     s->st_state == NODE_STATE_HELD ? "held for approval on site"
                                                    : "failing on site",
                     a.duplicate ? " (it knew already)" : "");
        s->st_acked = 1;
        return;
    }
    if (!s || s->state != SLOT_SENDING) {
        if (local_store_has(sv->store, a.round_id, LS_REFUSED))
            log_info("round %s: the coordinator recorded our refusal", a.round_id);
        else
            log_debug("round %s: acknowledgement for nothing we are sending", a.round_id);
        return;
    }
    if (strcmp(a.stored_sha256, s->payload_sha) != 0)
        log_warnx("round %s: the coordinator acknowledged sha256 %s but we sent %s", s->id,
                  a.stored_sha256, s->payload_sha);
    char when[32], text[512];
    utc_now(when, sizeof when);
    int n = snprintf(text, sizeof text,
                     "round %s\nacknowledged_at %s\nstored_sha256 %s\nduplicate %s\nlate %s\n",
                     s->id, when, a.stored_sha256, a.duplicate ? "yes" : "no",
                     a.late ? "yes" : "no");
    local_store_write(sv->store, s->id, LS_ACK, text, (size_t)(n > 0 ? n : 0));
    log_info("round %s: submission acknowledged by the coordinator (stored sha256 %s%s%s)", s->id,
             a.stored_sha256, a.duplicate ? ", already stored before" : "",
             a.late ? ", LATE: recorded but not pooled" : "");
    s->state = SLOT_DONE;
}

static void handle_error(struct service *sv, const struct envelope *e)
{
    struct error_msg m;
    char err[200];
    if (error_unpack(e->payload, e->payload_len, &m, err, sizeof err) != 0) {
        log_warnx("malformed error message from the coordinator: %s", err);
        return;
    }
    struct slot *s = NULL;
    for (size_t i = 0; i < sv->nslots; i++) {
        struct slot *t = &sv->slots[i];
        if (t->st_env && !t->st_acked && !memcmp(t->st_msg_id, m.message_id, ENVELOPE_ID_LEN)) {
            if (error_is_final(m.code)) {
                log_warnx("round %s: the coordinator did not take our status (%s: %s); not "
                          "sending it again", t->id, m.code, m.message);
                t->st_acked = 1;
            } else {
                log_info("round %s: the coordinator could not take our status now (%s); will "
                         "resend", t->id, m.code);
            }
            return;
        }
        if (t->state == SLOT_SENDING && !memcmp(t->msg_id, m.message_id, ENVELOPE_ID_LEN))
            s = t;
    }
    if (!s) {
        log_warnx("the coordinator reports an error: %s: %s", m.code, m.message);
        return;
    }
    if (!error_is_final(m.code)) {
        log_warnx("round %s: the coordinator could not take the submission now (%s: %s); will "
                  "resend", s->id, m.code, m.message);
        return;
    }
    char when[32], text[512];
    utc_now(when, sizeof when);
    int n = snprintf(text, sizeof text, "round %s\nfailed_at %s\ncode %s\nmessage %s\n", s->id,
                     when, m.code, m.message);
    local_store_write(sv->store, s->id, LS_FAILED, text, (size_t)(n > 0 ? n : 0));
    log_error("round %s: the coordinator rejected our submission: %s: %s; not sending it again "
              "(see %s/%s%s)", s->id, m.code, m.message, local_store_dir(sv->store), s->id,
              local_store_suffix(LS_FAILED));
    s->state = SLOT_DONE;
}

static void handle_message(struct service *sv, const uint8_t *buf, size_t len)
{
    struct envelope e;
    char err[300];
    memset(&e, 0, sizeof e);
    sv->hello_outstanding = 0;
    if (envelope_unpack(buf, len, &e, err, sizeof err) != 0) {
        log_warnx("ignored a malformed message from the coordinator: %s", err);
        return;
    }
    switch (e.type) {
    case MSG_ROUND_REQUEST: handle_request(sv, &e, buf, len, 0); break;
    case MSG_ACK: handle_ack(sv, &e); break;
    case MSG_ERROR: handle_error(sv, &e); break;
    default:
        log_warnx("ignored an unexpected %s message from the coordinator",
                  envelope_type_name(e.type));
        break;
    }
    envelope_free(&e);
}

/* --- connection trouble ----------------------------------------------------- */

static int open_socket(struct service *sv)
{
    sv->sock = transport_client_open(sv->zctx, TRANSPORT_NODE, sv->c->transport_key,
                                     sv->c->coordinator_cert, sv->trust, sv->c->endpoint);
    memset(&sv->seen, 0, sizeof sv->seen);
    sv->hello_outstanding = 0;
    return sv->sock ? 0 : -1;
}

/* Turns the monitor's counters into warnings: the first at once, then at
 * growing intervals while the trouble lasts. libzmq backs off failed TCP
 * connects itself (ZMQ_RECONNECT_IVL .. ZMQ_RECONNECT_IVL_MAX), but after a
 * failed CURVE handshake the TCP connect had succeeded and it would retry
 * every ZMQ_RECONNECT_IVL forever; so on a handshake failure the socket is
 * closed and reopened after a delay that doubles up to
 * ZMQ_RECONNECT_IVL_MAX. */
static void watch_connection(struct service *sv)
{
    struct transport_events ev;
    transport_events_get(sv->sock, &ev);
    double now = now_mono();
    const struct transport_settings *ts = transport_settings_for(TRANSPORT_NODE);
    double ivl_min = ts->reconnect_ivl / 1000.0, ivl_max = ts->reconnect_ivl_max / 1000.0;
    if (ev.handshake_ok > sv->seen.handshake_ok) {
        if (sv->trouble)
            log_info("connected to the coordinator at %s again", sv->c->endpoint);
        sv->seen = ev;
        sv->trouble = 0;
        sv->warn_ivl = WARN_FIRST_S;
        sv->next_warn = 0;
        sv->reopen_ivl = ivl_min;
        return;
    }
    unsigned long auth = ev.failed_auth - sv->seen.failed_auth;
    unsigned long other = (ev.failed_no_detail - sv->seen.failed_no_detail) +
                          (ev.failed_protocol - sv->seen.failed_protocol);
    unsigned long drops = ev.handshake_ok == 0 ? ev.disconnected - sv->seen.disconnected : 0;
    unsigned long retries = ev.connect_retried - sv->seen.connect_retried;
    if (auth || other || drops) {
        sv->failures += auth + (other ? other : drops);
        if (now >= sv->next_warn) {
            if (auth)
                log_warnx("the coordinator at %s refused our handshake (%lu failures so far): "
                          "is our transport certificate %s enrolled there, valid and not "
                          "revoked? Retrying in %.0f s", sv->c->endpoint, sv->failures,
                          sv->c->transport_cert, sv->reopen_ivl);
            else
                log_warnx("no CURVE handshake with the coordinator at %s (%lu failures so "
                          "far): its key does not match the pinned certificate %s (%s), or it "
                          "is not the coordinator. Retrying in %.0f s", sv->c->endpoint,
                          sv->failures, sv->c->coordinator_cert, sv->coord_cn, sv->reopen_ivl);
            sv->trouble = 1;
            sv->next_warn = now + sv->warn_ivl;
            sv->warn_ivl = sv->warn_ivl * 2 > WARN_MAX_S ? WARN_MAX_S : sv->warn_ivl * 2;
        }
        transport_sock_destroy(&sv->sock);
        sv->reopen_at = now + sv->reopen_ivl;
        sv->reopen_ivl = sv->reopen_ivl * 2 > ivl_max ? ivl_max : sv->reopen_ivl * 2;
        return;
    }
    if (retries && now >= sv->next_warn) {
        log_warnx("the coordinator at %s is not reachable (%lu connection attempts failed); "
                  "retrying with backoff up to %.0f s; next warning in %.0f s", sv->c->endpoint,
                  ev.connect_retried, ivl_max, sv->warn_ivl);
        sv->trouble = 1;
        sv->seen.connect_retried = ev.connect_retried;
        sv->next_warn = now + sv->warn_ivl;
        sv->warn_ivl = sv->warn_ivl * 2 > WARN_MAX_S ? WARN_MAX_S : sv->warn_ivl * 2;
    }
}

/* --- setup and loop ----------------------------------------------------------- */

static void service_free(struct service *sv)
{
    transport_sock_destroy(&sv->sock);
    if (sv->zctx)
        zmq_ctx_term(sv->zctx);
    sv->zctx = NULL;
    for (size_t i = 0; i < sv->nslots; i++) {
        free(sv->slots[i].env);
        free(sv->slots[i].st_env);
    }
    free(sv->slots);
    sv->slots = NULL;
    trust_destroy(&sv->trust);
    EVP_PKEY_free(sv->sign_key);
    X509_free(sv->sign_cert);
    local_store_destroy(&sv->store);
}

static int service_setup(struct service *sv, const struct node_config *c)
{
    char err[1024];
    memset(sv, 0, sizeof *sv);
    sv->c = c;
    sv->warn_ivl = WARN_FIRST_S;
    int ic = service_check_identity(c, err, sizeof err);
    if (ic == 1) {
        log_error("%s: the service needs [identity] (ca, crl, transport_cert, transport_key, "
                  "signing_cert, signing_key) and [coordinator] certificate", c->path);
        return -1;
    }
    if (ic != 0) {
        log_error("%s: %s", c->path, err);
        return -1;
    }
    if (!c->endpoint[0]) {
        log_error("%s: [coordinator] endpoint is not set (e.g. tcp://coordinator.example:7701)",
                  c->path);
        return -1;
    }
    if (!c->input[0]) {
        log_error("%s: [input] path is not set: the service has nothing to compute from", c->path);
        return -1;
    }
    if (policy_config_check(c, err, sizeof err) != 0) {
        log_error("%s: %s", c->path, err);
        return -1;
    }
    const char *hold = getenv("EQ_TEST_HOLD_BEFORE_SEND");
    if (hold && hold[0]) {
        char *end;
        long v = strtol(hold, &end, 10);
        if (*end == '\0' && v > 0 && v < 3600)
            sv->hold_before_send = (int)v;
    }
    sv->store = local_store_open(c->store_dir);
    if (!sv->store)
        return -1;
    sv->trust = trust_new(c->ca, c->crl, NULL);
    if (!sv->trust)
        return -1;
    if (identity_load_secret_key(c->signing_key, &sv->sign_key) != ID_OK ||
        identity_load_cert(c->signing_cert, &sv->sign_cert) != ID_OK)
        return -1;
    X509 *cc = NULL;
    struct identity_info ci;
    if (identity_load_cert(c->coordinator_cert, &cc) != ID_OK)
        return -1;
    int irc = identity_cert_info(cc, &ci);
    X509_free(cc);
    if (irc != ID_OK)
        return -1;
    snprintf(sv->coord_cn, sizeof sv->coord_cn, "%s", ci.cn);
    sv->zctx = zmq_ctx_new();
    if (!sv->zctx) {
        log_error("cannot create a ZeroMQ context: %s", zmq_strerror(errno));
        return -1;
    }
    sv->reopen_ivl = transport_settings_for(TRANSPORT_NODE)->reconnect_ivl / 1000.0;
    return open_socket(sv);
}

/* Submissions kept from an earlier run that were never acknowledged. */
static void resume_stored(struct service *sv)
{
    char **ids = NULL;
    size_t n = 0;
    if (local_store_list(sv->store, LS_SUBMISSION, &ids, &n) != LS_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        if (local_store_has(sv->store, ids[i], LS_ACK) ||
            local_store_has(sv->store, ids[i], LS_FAILED))
            continue;
        if (slot_load_submission(sv, ids[i]) == 0)
            log_info("round %s: resending the submission kept from an earlier run (payload "
                     "sha256 %s)", ids[i], slot_find(sv, ids[i])->payload_sha);
    }
    local_store_ids_free(ids, n);
}

int service_run(const struct node_config *c)
{
    struct service sv;
    int rc = -1;
    stop_requested = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (service_setup(&sv, c) != 0)
        goto out;
    log_info("service of %s started: coordinator %s (%s), store %s, approval %s, poll every %d s",
             c->org, c->endpoint, sv.coord_cn, local_store_dir(sv.store),
             c->approval == APPROVAL_MANUAL ? "manual" : "auto", c->poll_seconds);
    resume_stored(&sv);
    sv.next_hello = 0;
    while (!stop_requested) {
        double now = now_mono();
        double stale = c->poll_seconds * 3 > 10 ? c->poll_seconds * 3 : 10;
        if (now >= sv.next_hello) {
            if (sv.sock && (!sv.hello_outstanding || now - sv.hello_sent_at >= stale))
                send_hello(&sv);
            check_approvals(&sv);
            sv.next_hello = now + c->poll_seconds;
        }
        if (!sv.sock) {
            if (now >= sv.reopen_at && open_socket(&sv) != 0)
                sv.reopen_at = now + c->retry_max_seconds;
            if (!sv.sock) {
                usleep(RECV_SLICE_MS * 1000);
                continue;
            }
        }
        for (size_t i = 0; i < sv.nslots && !stop_requested; i++) {
            if (sv.slots[i].state == SLOT_SENDING && now >= sv.slots[i].next_send)
                slot_send(&sv, &sv.slots[i]);
            if (sv.slots[i].st_env && !sv.slots[i].st_acked && now >= sv.slots[i].st_next)
                status_send(&sv, &sv.slots[i]);
        }
        watch_connection(&sv);
        if (!sv.sock)
            continue;
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        int trc = transport_recv(sv.sock, &msg, NULL, NULL, NULL, 0, RECV_SLICE_MS);
        if (trc == TRANSPORT_OK)
            handle_message(&sv, zmq_msg_data(&msg), zmq_msg_size(&msg));
        else if (trc == TRANSPORT_ERR_ZMQ)
            log_warnx("receive failed: %s", zmq_strerror(errno));
        zmq_msg_close(&msg);
    }
    log_info("stopping (signal received)");
    rc = 0;
out:
    service_free(&sv);
    return rc;
}

/* --- approve ---------------------------------------------------------------- */

int service_approve(const struct node_config *c, const char *round_id)
{
    int rc = -1;
    if (!round_id || !local_store_round_id_ok(round_id)) {
        fprintf(stderr, "equity-node: \"%s\" is not a round id\n", round_id ? round_id : "");
        return -1;
    }
    local_store_t *st = local_store_open(c->store_dir);
    if (!st)
        return -1;
    if (local_store_has(st, round_id, LS_SUBMISSION) || local_store_has(st, round_id, LS_REFUSED)) {
        fprintf(stderr, "equity-node: round %s was already answered (see %s)\n", round_id,
                c->store_dir);
        goto out;
    }
    if (!local_store_has(st, round_id, LS_PENDING)) {
        fprintf(stderr, "equity-node: no round %s is waiting for approval in %s\n", round_id,
                c->store_dir);
        goto out;
    }
    if (local_store_has(st, round_id, LS_APPROVED)) {
        fprintf(stderr, "equity-node: round %s is already approved; the service answers it on "
                "its next poll\n", round_id);
        rc = 0;
        goto out;
    }
    char when[32], text[256];
    utc_now(when, sizeof when);
    struct passwd *pw = getpwuid(getuid());
    int n = snprintf(text, sizeof text, "round %s\napproved_at %s\napproved_by %s (uid %ld)\n",
                     round_id, when, pw ? pw->pw_name : "?", (long)getuid());
    if (local_store_write(st, round_id, LS_APPROVED, text, (size_t)(n > 0 ? n : 0)) != LS_OK) {
        fprintf(stderr, "equity-node: cannot write the approval into %s\n", c->store_dir);
        goto out;
    }
    printf("round %s approved; the running service computes and sends it on its next poll\n",
           round_id);
    rc = 0;
out:
    local_store_destroy(&st);
    return rc;
}
