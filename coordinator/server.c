/*
 * server.c - the coordinator's service loop (see server.h).
 *
 * One thread owns both ROUTER sockets: zmq_poll with a timeout, then
 * transport_recv (which drops messages without a User-Id or from a peer
 * revoked since its handshake) and rounds_* decides. Node messages are
 * handled in batches (group commit): every message already readable, up to
 * BATCH_MAX, is decided in one rounds batch, so their new submissions share
 * one store transaction and their audit entries (connections included) one
 * fsync, and the replies leave only after both (rounds.h). An analyst
 * message is handled alone. Between polls the CRL is re-read if its file
 * changed, and handshake refusals reported by the ZAP handler and the
 * socket monitors are written to the audit log.
 */
#include "server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <zmq.h>

#include "audit.h"
#include "identity.h"
#include "log.h"
#include "rounds.h"
#include "store.h"
#include "transport.h"

#define MAX_PEERS 1024
#define PEER_ID_MAX 256
/* Node messages decided together at most: bounds how long the first reply
 * of a batch waits (a first submission costs about 0.3 ms of signature and
 * certificate verification) and the memory kept for the replies. */
#define BATCH_MAX 256

/* Peers already audited as connected (routing id -> CN), a small ring. */
struct peer {
    unsigned char id[PEER_ID_MAX];
    size_t len;
    char cn[IDENTITY_CN_MAX];
    int sock;
};

/* Where to send a reply: the socket and routing id of one received message
 * (kept until the batch that holds it has ended). */
struct reply_ctx {
    transport_sock_t *sock;
    unsigned char peer[PEER_ID_MAX];
    size_t peer_len;
    char cn[IDENTITY_CN_MAX];
};

struct server {
    const struct coord_config *cfg;
    transport_sock_t *sock[2];
    rounds_t *rounds;
    struct peer peers[MAX_PEERS];
    int npeers, next_peer;
    unsigned long zap_refused, failed[2];
    struct reply_ctx slot[BATCH_MAX]; /* the messages of the current batch */
    time_t last_due;                  /* when due rounds were last looked for */
};

static int reply_to_peer(void *vctx, const uint8_t *buf, size_t len)
{
    struct reply_ctx *c = vctx;
    int rc = transport_send(c->sock, c->peer, c->peer_len, buf, len);
    if (rc != TRANSPORT_OK) {
        log_warnx("reply to %s not sent: %s", c->cn, transport_strerror(rc));
        return -1;
    }
    return 0;
}

/* The first message of a connection: audit who it is and from where (with
 * the batch the message belongs to, if any). */
static void note_peer(struct server *sv, int which, const unsigned char *id, size_t len,
                      const char *cn, zmq_msg_t *msg)
{
    for (int i = 0; i < sv->npeers; i++) {
        struct peer *p = &sv->peers[i];
        if (p->sock == which && p->len == len && !memcmp(p->id, id, len) && !strcmp(p->cn, cn))
            return;
    }
    struct peer *p = &sv->peers[sv->next_peer];
    sv->next_peer = (sv->next_peer + 1) % MAX_PEERS;
    if (sv->npeers < MAX_PEERS)
        sv->npeers++;
    memcpy(p->id, id, len);
    p->len = len;
    p->sock = which;
    snprintf(p->cn, sizeof p->cn, "%s", cn);
    const char *addr = zmq_msg_gets(msg, "Peer-Address");
    json_t *o = json_object();
    json_object_set_new(o, "result", json_string("ok"));
    json_object_set_new(o, "socket", json_string(which ? "analysts" : "nodes"));
    json_object_set_new(o, "cn", json_string(cn));
    json_object_set_new(o, "peer", json_string(addr ? addr : ""));
    rounds_audit(sv->rounds, "connection", o);
    log_info("%s connected on the %s socket from %s", cn, which ? "analyst" : "node",
             addr ? addr : "?");
}

/* Handshakes refused since the last look (ZAP 400s, monitor failures). */
static void note_refusals(struct server *sv, transport_zap_t *zap)
{
    unsigned long acc, ref;
    transport_zap_stats(zap, &acc, &ref);
    for (int i = 0; i < 2; i++) {
        if (!sv->sock[i])
            continue;
        struct transport_events ev;
        transport_events_get(sv->sock[i], &ev);
        unsigned long failed = ev.failed_no_detail + ev.failed_protocol + ev.failed_auth;
        if (failed > sv->failed[i] || (i == 0 && ref > sv->zap_refused)) {
            json_t *o = json_object();
            json_object_set_new(o, "result", json_string("refused"));
            json_object_set_new(o, "socket", json_string(i ? "analysts" : "nodes"));
            json_object_set_new(o, "count", json_integer((json_int_t)(failed - sv->failed[i])));
            json_object_set_new(o, "reason", json_string(ev.last_failure));
            rounds_audit(sv->rounds, "connection", o);
        }
        sv->failed[i] = failed;
    }
    sv->zap_refused = ref;
}

/* Receives one message into slot; 1 if there is one to handle, 0 if a
 * message was dropped (logged), -1 if the socket has nothing more. */
static int receive(struct server *sv, int which, struct reply_ctx *slot, zmq_msg_t *body)
{
    slot->sock = sv->sock[which];
    slot->peer_len = sizeof slot->peer;
    int rc = transport_recv(sv->sock[which], body, slot->peer, &slot->peer_len, slot->cn,
                            sizeof slot->cn, 0);
    if (rc == TRANSPORT_OK) {
        note_peer(sv, which, slot->peer, slot->peer_len, slot->cn, body);
        return 1;
    }
    if (rc == TRANSPORT_ERR_DROPPED)
        return 0;
    if (rc == TRANSPORT_ERR_ZMQ)
        log_error("receive failed on the %s socket: %s", which ? "analyst" : "node",
                  zmq_strerror(errno));
    return -1;
}

/* Every node message already readable (up to BATCH_MAX) in one batch. */
static void serve_nodes(struct server *sv)
{
    rounds_batch_begin(sv->rounds);
    int used = 0;
    for (int tries = 0; tries < BATCH_MAX; tries++) {
        struct reply_ctx *slot = &sv->slot[used];
        zmq_msg_t body;
        zmq_msg_init(&body);
        int got = receive(sv, 0, slot, &body);
        if (got > 0) {
            rounds_handle_node(sv->rounds, slot->cn, zmq_msg_data(&body), zmq_msg_size(&body),
                               reply_to_peer, slot);
            used++;
        }
        zmq_msg_close(&body);
        if (got < 0)
            break;
    }
    rounds_batch_end(sv->rounds);
}

/* One analyst message, handled and answered alone. */
static void serve_analyst(struct server *sv)
{
    struct reply_ctx *slot = &sv->slot[0];
    zmq_msg_t body;
    zmq_msg_init(&body);
    if (receive(sv, 1, slot, &body) > 0)
        rounds_handle_analyst(sv->rounds, slot->cn, zmq_msg_data(&body), zmq_msg_size(&body),
                              reply_to_peer, slot);
    zmq_msg_close(&body);
}

/* SIGHUP: the enrolled certificates and the CRL again. */
static void reload_identities(const struct coord_config *cfg, trust_t *trust)
{
    size_t n = 0;
    int rc = trust_reload_enrolled(trust, cfg->enrolled_dir, &n);
    if (rc != 0)
        log_error("SIGHUP: cannot re-read the enrolled certificates in %s (%s): still serving "
                  "the %zu loaded before", cfg->enrolled_dir, identity_strerror(rc), n);
    else
        log_info("SIGHUP: re-read %zu enrolled certificates from %s (%zu valid now) and the CRL "
                 "%s", n, cfg->enrolled_dir, trust_check_enrolled(trust), cfg->crl);
}

int server_run(const struct coord_config *cfg, volatile sig_atomic_t *stop,
               volatile sig_atomic_t *reload)
{
    int rc = 3;
    store_t *st = NULL;
    trust_t *trust = NULL;
    void *zctx = NULL;
    transport_zap_t *zap = NULL;
    struct server *sv = calloc(1, sizeof *sv);
    unsigned char sec[IDENTITY_KEY_LEN], pub[IDENTITY_KEY_LEN];
    if (!sv)
        return 3;
    sv->cfg = cfg;
    st = store_open(cfg->database);
    if (!st)
        goto out;
    trust = trust_new(cfg->ca, cfg->crl, cfg->enrolled_dir);
    if (!trust) {
        rc = 1;
        goto out;
    }
    /* Verified once here (and remembered until the CRL changes): the nodes'
     * handshakes then need no X.509 verification of their own. */
    size_t enrolled_valid = trust_check_enrolled(trust);
    if (identity_curve_keypair(cfg->transport_key, sec, pub) != 0) {
        rc = 1;
        goto out;
    }
    zctx = zmq_ctx_new();
    if (!zctx)
        goto out;
    /* The ZAP handler first: a CURVE server without one accepts any key. */
    zap = transport_zap_start(zctx, trust);
    if (!zap)
        goto out;
    struct transport_settings set = *transport_settings_for(TRANSPORT_COORD_NODES);
    set.maxmsgsize = cfg->max_message_bytes;
    set.max_per_source = cfg->max_connections_per_source;
    sv->sock[0] = transport_server_new(zctx, TRANSPORT_COORD_NODES, sec, cfg->node_endpoint, zap,
                                       &set);
    struct transport_settings aset = *transport_settings_for(TRANSPORT_COORD_ANALYSTS);
    aset.max_per_source = cfg->max_connections_per_source;
    if (sv->sock[0] && cfg->analyst_endpoint[0])
        sv->sock[1] = transport_server_new(zctx, TRANSPORT_COORD_ANALYSTS, sec,
                                           cfg->analyst_endpoint, zap, &aset);
    OPENSSL_cleanse(sec, sizeof sec);
    if (!sv->sock[0] || (cfg->analyst_endpoint[0] && !sv->sock[1])) {
        rc = 1;
        goto out;
    }
    sv->rounds = rounds_new(cfg, st, trust);
    if (!sv->rounds)
        goto out;
    log_info("serving nodes on %s (%zu enrolled certificates, %zu valid now)%s%s",
             transport_endpoint(sv->sock[0]), trust_count(trust), enrolled_valid,
             sv->sock[1] ? ", analysts on " : "",
             sv->sock[1] ? transport_endpoint(sv->sock[1]) : "");
    while (!*stop) {
        zmq_pollitem_t items[2] = {{transport_zsock(sv->sock[0]), 0, ZMQ_POLLIN, 0},
                                   {sv->sock[1] ? transport_zsock(sv->sock[1]) : NULL, 0,
                                    ZMQ_POLLIN, 0}};
        int n = zmq_poll(items, sv->sock[1] ? 2 : 1, cfg->poll_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_error("zmq_poll: %s", zmq_strerror(errno));
            goto out;
        }
        /* Fail closed: without its ZAP handler libzmq would let any CURVE
         * key in, and a failed re-bind leaves the endpoint to others. */
        if (!transport_zap_alive(zap)) {
            log_error("the ZAP handler thread has stopped: every CURVE key would be accepted; "
                      "exiting (systemd restarts the service)");
            goto out;
        }
        for (int i = 0; i < 2; i++)
            if (sv->sock[i] && transport_sock_broken(sv->sock[i])) {
                log_error("the %s socket lost its endpoint (re-bind failed); exiting",
                          i ? "analyst" : "node");
                goto out;
            }
        if (reload && *reload) {
            *reload = 0;
            reload_identities(cfg, trust);
        }
        /* A changed CRL is picked up here, before the messages are checked. */
        trust_reload_crl(trust);
        if (items[0].revents & ZMQ_POLLIN)
            serve_nodes(sv);
        if (sv->sock[1] && (items[1].revents & ZMQ_POLLIN))
            serve_analyst(sv);
        note_refusals(sv, zap);
        /* The deadline acts: due rounds are closed and released here. */
        time_t now = time(NULL);
        if (now != sv->last_due) {
            sv->last_due = now;
            rounds_close_due(sv->rounds);
        }
    }
    log_info("shutting down");
    rc = 0;
out:
    OPENSSL_cleanse(sec, sizeof sec);
    rounds_destroy(&sv->rounds);
    transport_sock_destroy(&sv->sock[1]);
    transport_sock_destroy(&sv->sock[0]);
    transport_zap_stop(&zap);
    if (zctx)
        zmq_ctx_term(zctx);
    trust_destroy(&trust);
    store_close(&st);
    free(sv);
    return rc;
}
