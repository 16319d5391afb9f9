/*
 * envelope.c - Envelope and round-protocol messages with protobuf-c.
 */
#include "envelope.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "equity.pb-c.h"

const char *envelope_type_name(int type)
{
    switch (type) {
    case MSG_ROUND_REQUEST: return "ROUND_REQUEST";
    case MSG_SUBMISSION: return "SUBMISSION";
    case MSG_ACK: return "ACK";
    case MSG_REFUSAL: return "REFUSAL";
    case MSG_HELLO: return "HELLO";
    case MSG_QUERY: return "QUERY";
    case MSG_QUERY_RESULT: return "QUERY_RESULT";
    case MSG_ERROR: return "ERROR";
    case MSG_NODE_STATUS: return "NODE_STATUS";
    }
    return "UNKNOWN";
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

/* Copies a protobuf string into a fixed buffer, refusing control
 * characters and overlong values. */
static int take_str(char *dst, size_t dstlen, const char *src, const char *what, char *err, size_t errlen)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= dstlen) {
        snprintf(err, errlen, "%s longer than %zu bytes", what, dstlen - 1);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) {
            snprintf(err, errlen, "%s holds a control character", what);
            return -1;
        }
    memcpy(dst, src ? src : "", n + 1);
    return 0;
}

int envelope_pack(int type, const uint8_t *payload, size_t len, EVP_PKEY *sign_key,
                  X509 *sign_cert, uint8_t **out, size_t *outlen,
                  uint8_t message_id[ENVELOPE_ID_LEN])
{
    Equity__V1__Envelope env = EQUITY__V1__ENVELOPE__INIT;
    uint8_t id[ENVELOPE_ID_LEN];
    unsigned char sig[IDENTITY_SIG_LEN];
    unsigned char *der = NULL;
    size_t derlen = 0;
    int rc = -1;
    *out = NULL;
    if (RAND_bytes(id, sizeof id) != 1)
        return -1;
    env.protocol_version = EQUITY__V1__PROTOCOL_VERSION__PROTOCOL_VERSION_1;
    env.type = (Equity__V1__MessageType)type;
    env.message_id.data = id;
    env.message_id.len = sizeof id;
    env.payload.data = (uint8_t *)payload;
    env.payload.len = len;
    if (sign_key) {
        if (!sign_cert || identity_sign(sign_key, payload, len, sig) != 0 ||
            identity_cert_to_der(sign_cert, &der, &derlen) != 0)
            goto out;
        env.signature.data = sig;
        env.signature.len = sizeof sig;
        env.signer_certificate.data = der;
        env.signer_certificate.len = derlen;
    }
    *outlen = equity__v1__envelope__get_packed_size(&env);
    *out = malloc(*outlen ? *outlen : 1);
    if (!*out)
        goto out;
    equity__v1__envelope__pack(&env, *out);
    if (message_id)
        memcpy(message_id, id, sizeof id);
    rc = 0;
out:
    OPENSSL_free(der);
    return rc;
}

int envelope_unpack(const uint8_t *buf, size_t len, struct envelope *e, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    if (len > ENVELOPE_MAX_PAYLOAD + 65536) {
        snprintf(err, errlen, "message of %zu bytes is over the limit", len);
        return -1;
    }
    Equity__V1__Envelope *env = equity__v1__envelope__unpack(NULL, len, buf);
    if (!env) {
        snprintf(err, errlen, "not a valid Envelope protobuf (%zu bytes)", len);
        return -1;
    }
    int rc = -1;
    if (env->protocol_version != EQUITY__V1__PROTOCOL_VERSION__PROTOCOL_VERSION_1) {
        snprintf(err, errlen, "unsupported protocol_version %d", (int)env->protocol_version);
        goto out;
    }
    if ((int)env->type < MSG_ROUND_REQUEST || (int)env->type > MSG_NODE_STATUS) {
        snprintf(err, errlen, "unknown message type %d", (int)env->type);
        goto out;
    }
    if (env->message_id.len != ENVELOPE_ID_LEN) {
        snprintf(err, errlen, "message_id must be %d bytes, got %zu", ENVELOPE_ID_LEN, env->message_id.len);
        goto out;
    }
    if ((env->signature.len != 0) != (env->signer_certificate.len != 0)) {
        snprintf(err, errlen, "signature and signer certificate must come together");
        goto out;
    }
    if (env->signature.len && env->signature.len != IDENTITY_SIG_LEN) {
        snprintf(err, errlen, "signature must be %d bytes, got %zu", IDENTITY_SIG_LEN, env->signature.len);
        goto out;
    }
    if (env->signer_certificate.len > 16384) {
        snprintf(err, errlen, "signer certificate too large (%zu bytes)", env->signer_certificate.len);
        goto out;
    }
    e->type = (int)env->type;
    memcpy(e->message_id, env->message_id.data, ENVELOPE_ID_LEN);
    e->payload = dup_bytes(env->payload.data, env->payload.len);
    e->payload_len = env->payload.len;
    e->signature = dup_bytes(env->signature.data, env->signature.len);
    e->signature_len = env->signature.len;
    e->signer_cert = dup_bytes(env->signer_certificate.data, env->signer_certificate.len);
    e->signer_cert_len = env->signer_certificate.len;
    if (!e->payload || !e->signature || !e->signer_cert) {
        envelope_free(e);
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    rc = 0;
out:
    equity__v1__envelope__free_unpacked(env, NULL);
    return rc;
}

void envelope_free(struct envelope *e)
{
    if (!e)
        return;
    free(e->payload);
    free(e->signature);
    free(e->signer_cert);
    memset(e, 0, sizeof *e);
}

int envelope_verify(trust_t *t, const struct envelope *e, const char *expected_cn,
                    struct identity_info *signer)
{
    if (!e->signature_len || !e->signer_cert_len)
        return ID_ERR_SIG;
    return trust_verify_signed(t, e->signer_cert, e->signer_cert_len, e->payload, e->payload_len,
                               e->signature, e->signature_len, expected_cn, signer);
}

/* ---- RoundRequest ------------------------------------------------------ */

int round_request_pack(const struct round_request *r, uint8_t **out, size_t *len)
{
    Equity__V1__RoundRequest req = EQUITY__V1__ROUND_REQUEST__INIT;
    Equity__V1__Terms terms = EQUITY__V1__TERMS__INIT;
    char *measures[CATALOG_MAX_MEASURES], *strats[S__COUNT], *inters[ROUND_MAX_INTER];
    char interbuf[ROUND_MAX_INTER][64];
    size_t nm = 0, ns = 0;
    *out = NULL;
    for (int m = 0; m < catalog_n_measures(); m++)
        if (r->measure_on[m])
            measures[nm++] = (char *)catalog_measure(m)->name;
    for (int s = 1; s < S__COUNT; s++)
        if (r->strat_on[s])
            strats[ns++] = (char *)catalog_stratifier_name(s);
    if (r->n_inter < 0 || r->n_inter > ROUND_MAX_INTER)
        return -1;
    for (int i = 0; i < r->n_inter; i++) {
        catalog_inter_name(r->inter[i], interbuf[i], sizeof interbuf[i]);
        inters[i] = interbuf[i];
    }
    req.round_id = (char *)r->round_id;
    req.period = (char *)r->period;
    req.n_measures = nm;
    req.measures = measures;
    req.n_stratifiers = ns;
    req.stratifiers = strats;
    req.n_intersections = (size_t)r->n_inter;
    req.intersections = inters;
    req.k = r->k;
    req.deadline = (char *)r->deadline;
    terms.min_orgs = r->min_orgs;
    terms.per_org_to_analysts = r->per_org_to_analysts != 0;
    terms.allow_single_org = r->allow_single_org != 0;
    terms.agreement = (char *)r->agreement;
    req.terms = &terms;
    req.coordinator = (char *)r->coordinator;
    req.opened_at = (char *)r->opened_at;
    req.catalog_name = (char *)r->catalog_name;
    req.catalog_version = (char *)r->catalog_version;
    req.catalog_sha256 = (char *)r->catalog_sha256;
    *len = equity__v1__round_request__get_packed_size(&req);
    *out = malloc(*len ? *len : 1);
    if (!*out)
        return -1;
    equity__v1__round_request__pack(&req, *out);
    return 0;
}

int round_request_unpack(const uint8_t *buf, size_t len, struct round_request *r,
                         char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    Equity__V1__RoundRequest *req = equity__v1__round_request__unpack(NULL, len, buf);
    if (!req) {
        snprintf(err, errlen, "not a valid RoundRequest protobuf (%zu bytes)", len);
        return -1;
    }
    int rc = -1;
    if (take_str(r->round_id, sizeof r->round_id, req->round_id, "round_id", err, errlen) ||
        take_str(r->period, sizeof r->period, req->period, "period", err, errlen) ||
        take_str(r->deadline, sizeof r->deadline, req->deadline, "deadline", err, errlen) ||
        take_str(r->coordinator, sizeof r->coordinator, req->coordinator, "coordinator", err, errlen) ||
        take_str(r->opened_at, sizeof r->opened_at, req->opened_at, "opened_at", err, errlen) ||
        take_str(r->catalog_name, sizeof r->catalog_name, req->catalog_name, "catalog_name", err,
                 errlen) ||
        take_str(r->catalog_version, sizeof r->catalog_version, req->catalog_version,
                 "catalog_version", err, errlen) ||
        take_str(r->catalog_sha256, sizeof r->catalog_sha256, req->catalog_sha256,
                 "catalog_sha256", err, errlen))
        goto out;
    /* A request of another catalog may name measures this one lacks: it
     * still parses, so that the node can refuse it with that reason. */
    int other_catalog = r->catalog_sha256[0] &&
                        strcmp(r->catalog_sha256, catalog_sha256(catalog_active())) != 0;
    if (!r->round_id[0] || !r->period[0]) {
        snprintf(err, errlen, "round request without round_id or period");
        goto out;
    }
    for (size_t i = 0; i < req->n_measures; i++) {
        int m = catalog_measure_find(req->measures[i]);
        if (m < 0 && other_catalog) {
            r->n_unknown_measures++;
            continue;
        }
        if (m < 0) {
            snprintf(err, errlen, "unknown measure \"%.60s\"", req->measures[i]);
            goto out;
        }
        r->measure_on[m] = 1;
    }
    r->strat_on[S_TOTAL] = 1;
    for (size_t i = 0; i < req->n_stratifiers; i++) {
        int s = catalog_stratifier_find(req->stratifiers[i], strlen(req->stratifiers[i]));
        if (s <= S_TOTAL) {
            snprintf(err, errlen, "unknown stratifier \"%.60s\"", req->stratifiers[i]);
            goto out;
        }
        r->strat_on[s] = 1;
    }
    if (req->n_intersections > ROUND_MAX_INTER) {
        snprintf(err, errlen, "more than %d intersections", ROUND_MAX_INTER);
        goto out;
    }
    for (size_t i = 0; i < req->n_intersections; i++) {
        const char *x = req->intersections[i];
        char e[200];
        if (catalog_inter_parse(x, strlen(x), r->inter[r->n_inter], e, sizeof e) != 0) {
            snprintf(err, errlen, "bad intersection: %s", e);
            goto out;
        }
        for (int j = 0; j < r->n_inter; j++)
            if (catalog_inter_same(r->inter[j], r->inter[r->n_inter])) {
                snprintf(err, errlen, "intersection \"%.60s\" listed twice", x);
                goto out;
            }
        r->n_inter++;
    }
    if (catalog_inter_count_three((const int(*)[CATALOG_INTER_DIM])r->inter, r->n_inter) >
        CATALOG_MAX_THREE_WAY) {
        snprintf(err, errlen, "more than %d three-way intersections", CATALOG_MAX_THREE_WAY);
        goto out;
    }
    if (req->k < 2 || req->k > 1000) {
        snprintf(err, errlen, "threshold k %u out of range 2..1000", req->k);
        goto out;
    }
    r->k = req->k;
    if (req->terms) {
        r->min_orgs = req->terms->min_orgs;
        r->per_org_to_analysts = req->terms->per_org_to_analysts;
        r->allow_single_org = req->terms->allow_single_org;
        if (take_str(r->agreement, sizeof r->agreement, req->terms->agreement, "agreement", err, errlen))
            goto out;
    }
    if (r->min_orgs == 0)
        r->min_orgs = 2;
    rc = 0;
out:
    equity__v1__round_request__free_unpacked(req, NULL);
    return rc;
}

/* ---- Small messages ------------------------------------------------------ */

#define PACK_INTO(type_lc, msgp)                                              \
    do {                                                                      \
        *len = equity__v1__##type_lc##__get_packed_size(msgp);                \
        *out = malloc(*len ? *len : 1);                                       \
        if (!*out)                                                            \
            return -1;                                                        \
        equity__v1__##type_lc##__pack(msgp, *out);                            \
        return 0;                                                             \
    } while (0)

int ack_pack(const uint8_t message_id[ENVELOPE_ID_LEN], const char *round_id,
             const char *stored_sha256, int duplicate, int late, uint8_t **out, size_t *len)
{
    Equity__V1__Ack a = EQUITY__V1__ACK__INIT;
    a.message_id.data = (uint8_t *)message_id;
    a.message_id.len = message_id ? ENVELOPE_ID_LEN : 0;
    a.round_id = (char *)(round_id ? round_id : "");
    a.stored_sha256 = (char *)(stored_sha256 ? stored_sha256 : "");
    a.duplicate = duplicate != 0;
    a.late = late != 0;
    PACK_INTO(ack, &a);
}

int ack_unpack(const uint8_t *buf, size_t len, struct ack *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    Equity__V1__Ack *m = equity__v1__ack__unpack(NULL, len, buf);
    if (!m) {
        snprintf(err, errlen, "not a valid Ack protobuf");
        return -1;
    }
    int rc = -1;
    if (m->message_id.len != 0 && m->message_id.len != ENVELOPE_ID_LEN) {
        snprintf(err, errlen, "ack message_id must be %d bytes", ENVELOPE_ID_LEN);
        goto out;
    }
    if (m->message_id.len)
        memcpy(a->message_id, m->message_id.data, ENVELOPE_ID_LEN);
    if (take_str(a->round_id, sizeof a->round_id, m->round_id, "round_id", err, errlen) ||
        take_str(a->stored_sha256, sizeof a->stored_sha256, m->stored_sha256, "stored_sha256", err, errlen))
        goto out;
    a->duplicate = m->duplicate;
    a->late = m->late;
    rc = 0;
out:
    equity__v1__ack__free_unpacked(m, NULL);
    return rc;
}

int error_pack(const uint8_t message_id[ENVELOPE_ID_LEN], const char *code, const char *message,
               uint8_t **out, size_t *len)
{
    Equity__V1__Error e = EQUITY__V1__ERROR__INIT;
    e.message_id.data = (uint8_t *)message_id;
    e.message_id.len = message_id ? ENVELOPE_ID_LEN : 0;
    e.code = (char *)(code ? code : "");
    e.message = (char *)(message ? message : "");
    PACK_INTO(error, &e);
}

int error_unpack(const uint8_t *buf, size_t len, struct error_msg *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    Equity__V1__Error *e = equity__v1__error__unpack(NULL, len, buf);
    if (!e) {
        snprintf(err, errlen, "not a valid Error protobuf");
        return -1;
    }
    int rc = -1;
    if (e->message_id.len == ENVELOPE_ID_LEN)
        memcpy(m->message_id, e->message_id.data, ENVELOPE_ID_LEN);
    if (take_str(m->code, sizeof m->code, e->code, "code", err, errlen))
        goto out;
    /* The human message may be long: keep its start. */
    snprintf(m->message, sizeof m->message, "%s", e->message ? e->message : "");
    for (char *p = m->message; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    rc = 0;
out:
    equity__v1__error__free_unpacked(e, NULL);
    return rc;
}

int refusal_pack(const char *round_id, const char *org, const char *reason, uint8_t **out, size_t *len)
{
    Equity__V1__Refusal r = EQUITY__V1__REFUSAL__INIT;
    r.round_id = (char *)round_id;
    r.org = (char *)org;
    r.reason = (char *)reason;
    PACK_INTO(refusal, &r);
}

int refusal_unpack(const uint8_t *buf, size_t len, struct refusal *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    Equity__V1__Refusal *m = equity__v1__refusal__unpack(NULL, len, buf);
    if (!m) {
        snprintf(err, errlen, "not a valid Refusal protobuf");
        return -1;
    }
    int rc = 0;
    if (take_str(r->round_id, sizeof r->round_id, m->round_id, "round_id", err, errlen) ||
        take_str(r->org, sizeof r->org, m->org, "org", err, errlen) ||
        take_str(r->reason, sizeof r->reason, m->reason, "reason", err, errlen))
        rc = -1;
    equity__v1__refusal__free_unpacked(m, NULL);
    return rc;
}

int hello_pack(const char *org, const char *software, uint8_t **out, size_t *len)
{
    Equity__V1__Hello h = EQUITY__V1__HELLO__INIT;
    h.org = (char *)org;
    h.software = (char *)software;
    PACK_INTO(hello, &h);
}

int hello_unpack(const uint8_t *buf, size_t len, struct hello *h, char *err, size_t errlen)
{
    memset(h, 0, sizeof *h);
    Equity__V1__Hello *m = equity__v1__hello__unpack(NULL, len, buf);
    if (!m) {
        snprintf(err, errlen, "not a valid Hello protobuf");
        return -1;
    }
    int rc = 0;
    if (take_str(h->org, sizeof h->org, m->org, "org", err, errlen) ||
        take_str(h->software, sizeof h->software, m->software, "software", err, errlen))
        rc = -1;
    equity__v1__hello__free_unpacked(m, NULL);
    return rc;
}

/* ---- NodeStatus ------------------------------------------------------------ */

const char *node_state_name(int state)
{
    switch (state) {
    case NODE_STATE_HELD: return "held";
    case NODE_STATE_FAILING: return "failing";
    }
    return NULL;
}

static int status_code_ok(const char *c)
{
    size_t n = strlen(c);
    if (n == 0 || n > NODE_STATUS_CODE_MAX)
        return 0;
    for (; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return 0;
    return 1;
}

/* The rules of node_status_unpack for a filled struct. */
static int status_check(const struct node_status *st, char *err, size_t errlen)
{
    if (!st->round_id[0] || !st->org[0]) {
        snprintf(err, errlen, "node status without round_id or org");
        return -1;
    }
    if (!node_state_name(st->state)) {
        snprintf(err, errlen, "node status state %d is neither HELD nor FAILING", st->state);
        return -1;
    }
    if (!status_code_ok(st->code)) {
        snprintf(err, errlen, "node status code must be 1-%d characters of [a-z0-9_]",
                 NODE_STATUS_CODE_MAX);
        return -1;
    }
    return 0;
}

int node_status_pack(const struct node_status *st, uint8_t **out, size_t *len)
{
    char err[128];
    *out = NULL;
    if (!st || status_check(st, err, sizeof err) != 0 ||
        strlen(st->reason) > NODE_STATUS_REASON_MAX)
        return -1;
    Equity__V1__NodeStatus m = EQUITY__V1__NODE_STATUS__INIT;
    m.round_id = (char *)st->round_id;
    m.org = (char *)st->org;
    m.state = (Equity__V1__NodeState)st->state;
    m.code = (char *)st->code;
    m.reason = (char *)st->reason;
    PACK_INTO(node_status, &m);
}

int node_status_unpack(const uint8_t *buf, size_t len, struct node_status *st, char *err,
                       size_t errlen)
{
    memset(st, 0, sizeof *st);
    if (len > NODE_STATUS_MAX_PAYLOAD) {
        snprintf(err, errlen, "node status of %zu bytes is over the limit of %d", len,
                 NODE_STATUS_MAX_PAYLOAD);
        return -1;
    }
    Equity__V1__NodeStatus *m = equity__v1__node_status__unpack(NULL, len, buf);
    if (!m) {
        snprintf(err, errlen, "not a valid NodeStatus protobuf");
        return -1;
    }
    int rc = -1;
    if (take_str(st->round_id, sizeof st->round_id, m->round_id, "round_id", err, errlen) ||
        take_str(st->org, sizeof st->org, m->org, "org", err, errlen) ||
        take_str(st->code, sizeof st->code, m->code, "code", err, errlen) ||
        take_str(st->reason, sizeof st->reason, m->reason, "reason", err, errlen))
        goto out;
    st->state = (int)m->state;
    if (status_check(st, err, errlen) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0)
        memset(st, 0, sizeof *st);
    equity__v1__node_status__free_unpacked(m, NULL);
    return rc;
}
