/*
 * server.c - the coordinator's service loop (see server.h).
 *
 * One thread owns both ROUTER sockets: zmq_poll with a timeout, then one
 * transport_recv per readable socket (which drops messages without a
 * User-Id or from a peer revoked since its handshake), then rounds_*
 * decides and replies. Between polls the CRL is re-read if its file
 * changed, and handshake refusals reported by the ZAP handler and the
 * socket monitors are written to the audit log.
 */
#include "server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/* Peers already audited as connected (routing id -> CN), a small ring. */
struct peer {
    unsigned char id[PEER_ID_MAX];
    size_t len;
    char cn[IDENTITY_CN_MAX];
    int sock;
};

struct server {
    const struct coord_config *cfg;
    transport_sock_t *sock[2];
    struct peer peers[MAX_PEERS];
    int npeers, next_peer;
    unsigned long zap_refused, failed[2];
};

struct reply_ctx {
    transport_sock_t *sock;
    const unsigned char *peer;
    size_t peer_len;
    const char *cn;
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

static void audit_event(const struct coord_config *cfg, const char *event, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s || audit_append(cfg->audit_log, event, s) != 0)
        log_error("audit: cannot record %s event in %s", event, cfg->audit_log);
    free(s);
}

/* The first message of a connection: audit who it is and from where. */
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
    audit_event(sv->cfg, "connection", o);
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
            audit_event(sv->cfg, "connection", o);
        }
        sv->failed[i] = failed;
    }
    sv->zap_refused = ref;
}

static void serve_one(struct server *sv, rounds_t *rounds, int which)
{
    zmq_msg_t body;
    zmq_msg_init(&body);
    unsigned char peer[PEER_ID_MAX];
    size_t plen = sizeof peer;
    char cn[IDENTITY_CN_MAX];
    int rc = transport_recv(sv->sock[which], &body, peer, &plen, cn, sizeof cn, 0);
    if (rc == TRANSPORT_OK) {
        note_peer(sv, which, peer, plen, cn, &body);
        struct reply_ctx rc2 = {sv->sock[which], peer, plen, cn};
        const uint8_t *data = zmq_msg_data(&body);
        size_t len = zmq_msg_size(&body);
        if (which == 0)
            rounds_handle_node(rounds, cn, data, len, reply_to_peer, &rc2);
        else
            rounds_handle_analyst(rounds, cn, data, len, reply_to_peer, &rc2);
    } else if (rc == TRANSPORT_ERR_ZMQ) {
        log_error("receive failed on the %s socket: %s", which ? "analyst" : "node",
                  zmq_strerror(errno));
    }
    zmq_msg_close(&body);
}

int server_run(const struct coord_config *cfg, volatile sig_atomic_t *stop)
{
    int rc = 3;
    store_t *st = NULL;
    trust_t *trust = NULL;
    void *zctx = NULL;
    transport_zap_t *zap = NULL;
    rounds_t *rounds = NULL;
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
    sv->sock[0] = transport_server_new(zctx, TRANSPORT_COORD_NODES, sec, cfg->node_endpoint, zap,
                                       &set);
    if (sv->sock[0] && cfg->analyst_endpoint[0])
        sv->sock[1] = transport_server_new(zctx, TRANSPORT_COORD_ANALYSTS, sec,
                                           cfg->analyst_endpoint, zap, NULL);
    OPENSSL_cleanse(sec, sizeof sec);
    if (!sv->sock[0] || (cfg->analyst_endpoint[0] && !sv->sock[1])) {
        rc = 1;
        goto out;
    }
    rounds = rounds_new(cfg, st, trust);
    if (!rounds)
        goto out;
    log_info("serving nodes on %s (%zu enrolled certificates)%s%s", transport_endpoint(sv->sock[0]),
             trust_count(trust), sv->sock[1] ? ", analysts on " : "",
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
        /* A changed CRL is picked up here, before the messages are checked. */
        trust_reload_crl(trust);
        for (int i = 0; i < 2; i++)
            if (sv->sock[i] && (items[i].revents & ZMQ_POLLIN))
                serve_one(sv, rounds, i);
        note_refusals(sv, zap);
    }
    log_info("shutting down");
    rc = 0;
out:
    OPENSSL_cleanse(sec, sizeof sec);
    rounds_destroy(&rounds);
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
