/*
 * transport.c - CURVE sockets with a fail-closed ZAP handler, one table of
 * socket options per role, socket monitors that log handshake failures,
 * and message-time re-checks of the sender's certificate (transport.h).
 */
#include "transport.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

#include "log.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define POLL_MS 100

const char *transport_strerror(int err)
{
    switch (err) {
    case TRANSPORT_OK: return "ok";
    case TRANSPORT_ERR_AGAIN: return "timed out";
    case TRANSPORT_ERR_DROPPED: return "message dropped";
    case TRANSPORT_ERR_ZMQ: return "ZeroMQ error";
    case TRANSPORT_ERR_ARG: return "invalid argument";
    case TRANSPORT_ERR_NOZAP: return "no ZAP handler running: refusing to bind a CURVE server";
    case TRANSPORT_ERR_KEY: return "key or certificate unusable";
    case TRANSPORT_ERR_UNREACHABLE: return "peer not connected";
    default: return "unknown transport error";
    }
}

/* The only place where socket options are chosen. Sizes: a submission is a
 * few thousand cells (well under 16 MiB); analysts send small queries and
 * may receive large result sets. Heartbeats detect dead peers within 30 s;
 * clients back off reconnects from 1 s to 60 s. */
/* A node or an analyst needs one connection (two while reconnecting); a
 * NAT in front of several of them a few more. Idle connections from one
 * address beyond this are shut at accept, so that a flood of them (no key
 * needed to open one) cannot exhaust the descriptors. */
#define TRANSPORT_MAX_PER_SOURCE 32

static const struct transport_settings settings_table[TRANSPORT__ROLES] = {
    [TRANSPORT_COORD_NODES] = {
        .name = "coordinator/nodes", .socket_type = ZMQ_ROUTER, .is_server = 1,
        .zap_domain = "nodes", .maxmsgsize = 16 << 20, .heartbeat_ivl = 10000,
        .heartbeat_timeout = 30000, .heartbeat_ttl = 30000, .handshake_ivl = 10000,
        .linger = 1000, .sndtimeo = 1000, .rcvtimeo = 1000, .router_mandatory = 1,
        .reconnect_ivl = 0, .reconnect_ivl_max = 0, .max_per_source = TRANSPORT_MAX_PER_SOURCE},
    [TRANSPORT_COORD_ANALYSTS] = {
        .name = "coordinator/analysts", .socket_type = ZMQ_ROUTER, .is_server = 1,
        .zap_domain = "analysts", .maxmsgsize = 1 << 20, .heartbeat_ivl = 10000,
        .heartbeat_timeout = 30000, .heartbeat_ttl = 30000, .handshake_ivl = 10000,
        .linger = 1000, .sndtimeo = 1000, .rcvtimeo = 1000, .router_mandatory = 1,
        .reconnect_ivl = 0, .reconnect_ivl_max = 0, .max_per_source = TRANSPORT_MAX_PER_SOURCE},
    [TRANSPORT_NODE] = {
        .name = "node", .socket_type = ZMQ_DEALER, .is_server = 0, .zap_domain = NULL,
        .maxmsgsize = 4 << 20, .heartbeat_ivl = 10000, .heartbeat_timeout = 30000,
        .heartbeat_ttl = 30000, .handshake_ivl = 10000, .linger = 2000, .sndtimeo = 5000,
        .rcvtimeo = 5000, .router_mandatory = 0, .reconnect_ivl = 1000,
        .reconnect_ivl_max = 60000},
    [TRANSPORT_ANALYST] = {
        .name = "analyst", .socket_type = ZMQ_DEALER, .is_server = 0, .zap_domain = NULL,
        .maxmsgsize = 64 << 20, .heartbeat_ivl = 10000, .heartbeat_timeout = 30000,
        .heartbeat_ttl = 30000, .handshake_ivl = 10000, .linger = 0, .sndtimeo = 5000,
        .rcvtimeo = 30000, .router_mandatory = 0, .reconnect_ivl = 1000,
        .reconnect_ivl_max = 30000},
};

const struct transport_settings *transport_settings_for(transport_role role)
{
    if ((int)role < 0 || role >= TRANSPORT__ROLES)
        return NULL;
    return &settings_table[role];
}

int transport_domain_allows(const char *domain, identity_role role)
{
    if (!domain)
        return 0;
    if (strcmp(domain, "nodes") == 0)
        return role == ROLE_NODE;
    if (strcmp(domain, "analysts") == 0)
        return role == ROLE_ANALYST || role == ROLE_OPERATOR;
    return 0;
}

static void z85_key(const unsigned char key[IDENTITY_KEY_LEN], char out[41])
{
    if (!zmq_z85_encode(out, key, IDENTITY_KEY_LEN))
        snprintf(out, 41, "?");
}

/* --- ZAP handler -------------------------------------------------------- */

struct transport_zap {
    void *zctx;
    trust_t *trust;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;    /* the thread finished binding (successfully or not) */
    int bind_rc;  /* 0 bound, else errno                               */
    atomic_ulong accepted, refused;
    atomic_int dead;  /* the thread ended without being asked to        */
    long stop_after;  /* test hook EQ_TEST_ZAP_STOP_AFTER (0 = off)      */
    /* Refusal log lines (ZAP thread only): at most ZAP_LOG_BURST per
     * ZAP_LOG_WINDOW seconds, the rest counted and reported once. */
    time_t log_window;
    unsigned log_lines;
    unsigned long log_skipped;
};

#define ZAP_LOG_BURST 5
#define ZAP_LOG_WINDOW 10

/* 1 if this refusal may be logged (a flood of bad handshakes must not
 * flood the journal); reports how many were not logged when a new window
 * opens. */
static int zap_may_log(struct transport_zap *z)
{
    time_t now = time(NULL);
    if (now - z->log_window >= ZAP_LOG_WINDOW) {
        if (z->log_skipped)
            log_warnx("zap: %lu more refused handshakes were not logged (at most %d lines per "
                      "%d s)", z->log_skipped, ZAP_LOG_BURST, ZAP_LOG_WINDOW);
        z->log_window = now;
        z->log_lines = 0;
        z->log_skipped = 0;
    }
    if (z->log_lines < ZAP_LOG_BURST) {
        z->log_lines++;
        return 1;
    }
    z->log_skipped++;
    return 0;
}

#define ZAP_MAX_FRAMES 8

struct zap_request {
    char version[8], request_id[64], domain[64], address[64], mechanism[16];
    size_t request_id_len;
    unsigned char key[IDENTITY_KEY_LEN];
    int have_key;
    int malformed;
};

static void frame_str(zmq_msg_t *m, char *out, size_t outlen, int *bad)
{
    size_t n = zmq_msg_size(m);
    if (n >= outlen) {
        *bad = 1;
        n = outlen - 1;
    }
    memcpy(out, zmq_msg_data(m), n);
    out[n] = '\0';
    if (memchr(out, '\0', n))
        *bad = 1;
}

static int send_frame(void *sock, const void *data, size_t len, int more)
{
    return zmq_send(sock, data, len, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

/* ZMTP metadata: name length (1 byte), name, value length (4 bytes, network
 * order), value. */
static size_t put_property(unsigned char *buf, size_t cap, size_t pos, const char *name,
                           const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    if (pos + 1 + nl + 4 + vl > cap || nl > 255)
        return pos;
    buf[pos++] = (unsigned char)nl;
    memcpy(buf + pos, name, nl);
    pos += nl;
    buf[pos++] = (unsigned char)(vl >> 24);
    buf[pos++] = (unsigned char)(vl >> 16);
    buf[pos++] = (unsigned char)(vl >> 8);
    buf[pos++] = (unsigned char)vl;
    memcpy(buf + pos, value, vl);
    return pos + vl;
}

static void zap_serve_one(struct transport_zap *z, void *sock)
{
    zmq_msg_t frames[ZAP_MAX_FRAMES];
    int nframes = 0, more = 1, overflow = 0;
    struct zap_request rq;
    memset(&rq, 0, sizeof rq);
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            for (int i = 0; i < nframes; i++)
                zmq_msg_close(&frames[i]);
            return; /* REP state unchanged: nothing received */
        }
        more = zmq_msg_more(&m);
        if (nframes < ZAP_MAX_FRAMES)
            frames[nframes++] = m;
        else {
            overflow = 1;
            zmq_msg_close(&m);
        }
    }
    if (nframes < 6 || overflow) {
        rq.malformed = 1;
    } else {
        frame_str(&frames[0], rq.version, sizeof rq.version, &rq.malformed);
        size_t idl = zmq_msg_size(&frames[1]);
        if (idl > sizeof rq.request_id)
            rq.malformed = 1;
        else {
            memcpy(rq.request_id, zmq_msg_data(&frames[1]), idl);
            rq.request_id_len = idl;
        }
        frame_str(&frames[2], rq.domain, sizeof rq.domain, &rq.malformed);
        frame_str(&frames[3], rq.address, sizeof rq.address, &rq.malformed);
        /* frames[4] is the ZMTP identity: not used for authentication */
        frame_str(&frames[5], rq.mechanism, sizeof rq.mechanism, &rq.malformed);
        if (nframes == 7 && zmq_msg_size(&frames[6]) == IDENTITY_KEY_LEN) {
            memcpy(rq.key, zmq_msg_data(&frames[6]), IDENTITY_KEY_LEN);
            rq.have_key = 1;
        }
    }
    for (int i = 0; i < nframes; i++)
        zmq_msg_close(&frames[i]);

    const char *status = "400";
    char text[160] = "refused";
    char user_id[IDENTITY_CN_MAX] = "";
    unsigned char meta[256];
    size_t metalen = 0;
    char keytxt[41] = "-";
    if (rq.have_key)
        z85_key(rq.key, keytxt);

    if (rq.malformed || strcmp(rq.version, "1.0") != 0) {
        status = "500";
        snprintf(text, sizeof text, "malformed ZAP request");
        log_error("zap: malformed request (version \"%s\", %d frames); refusing", rq.version,
                  nframes);
    } else if (strcmp(rq.mechanism, "CURVE") != 0 || !rq.have_key) {
        snprintf(text, sizeof text, "mechanism %s not allowed", rq.mechanism);
        if (zap_may_log(z))
            log_warnx("zap: refused %s client from %s on domain \"%s\": only CURVE is "
                      "allowed", rq.mechanism, rq.address, rq.domain);
    } else {
        struct identity_info info;
        int rc = trust_lookup_key(z->trust, rq.key, &info);
        if (rc != ID_OK) {
            snprintf(text, sizeof text, "%s", identity_strerror(rc));
            if (zap_may_log(z) && rc == ID_ERR_UNKNOWN)
                log_warnx("zap: refused client %s on domain \"%s\": CURVE key %s is not "
                          "enrolled", rq.address, rq.domain, keytxt);
            else if (rc != ID_ERR_UNKNOWN && zap_may_log(z))
                log_warnx("zap: refused client %s on domain \"%s\": certificate of %s "
                          "(serial %s): %s",
                          rq.address, rq.domain, info.cn, info.serial, identity_strerror(rc));
        } else if (!transport_domain_allows(rq.domain, info.role)) {
            snprintf(text, sizeof text, "role %s not allowed", identity_role_name(info.role));
            if (zap_may_log(z))
                log_warnx("zap: refused client %s (%s) on domain \"%s\": role %s is not "
                          "allowed there",
                          rq.address, info.cn, rq.domain, identity_role_name(info.role));
        } else {
            status = "200";
            snprintf(text, sizeof text, "OK");
            snprintf(user_id, sizeof user_id, "%s", info.cn);
            char hex[2 * IDENTITY_KEY_LEN + 1];
            identity_hex(rq.key, IDENTITY_KEY_LEN, hex);
            metalen = put_property(meta, sizeof meta, metalen, "X-Transport-Key", hex);
            metalen = put_property(meta, sizeof meta, metalen, "X-Role",
                                   identity_role_name(info.role));
            log_info("zap: accepted %s (%s) from %s on domain \"%s\"", info.cn,
                     identity_role_name(info.role), rq.address, rq.domain);
        }
    }
    if (status[0] == '2')
        atomic_fetch_add(&z->accepted, 1);
    else
        atomic_fetch_add(&z->refused, 1);

    if (send_frame(sock, "1.0", 3, 1) || send_frame(sock, rq.request_id, rq.request_id_len, 1) ||
        send_frame(sock, status, 3, 1) || send_frame(sock, text, strlen(text), 1) ||
        send_frame(sock, user_id, strlen(user_id), 1) || send_frame(sock, meta, metalen, 0))
        log_error("zap: cannot send reply: %s", zmq_strerror(errno));
}

static void *zap_thread(void *arg)
{
    struct transport_zap *z = arg;
    void *sock = zmq_socket(z->zctx, ZMQ_REP);
    int rc = 0;
    if (!sock)
        rc = errno ? errno : EINVAL;
    else {
        int linger = 0;
        zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_bind(sock, ZAP_ENDPOINT) != 0)
            rc = errno ? errno : EINVAL;
    }
    pthread_mutex_lock(&z->mu);
    z->bind_rc = rc;
    z->ready = 1;
    pthread_cond_signal(&z->cv);
    pthread_mutex_unlock(&z->mu);
    if (rc != 0) {
        if (sock)
            zmq_close(sock);
        return NULL;
    }
    long served = 0;
    while (!atomic_load(&z->stop)) {
        if (z->stop_after > 0 && served >= z->stop_after) {
            log_error("zap: EQ_TEST_ZAP_STOP_AFTER=%ld: test hook, the handler thread ends",
                      z->stop_after);
            break;
        }
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&it, 1, POLL_MS);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_error("zap: poll failed: %s; the handler stops and every new client will be "
                      "refused",
                      zmq_strerror(errno));
            break;
        }
        if (n > 0 && (it.revents & ZMQ_POLLIN)) {
            zap_serve_one(z, sock);
            served++;
        }
    }
    if (!atomic_load(&z->stop))
        atomic_store(&z->dead, 1);
    zmq_close(sock);
    return NULL;
}

transport_zap_t *transport_zap_start(void *zctx, trust_t *trust)
{
    if (!zctx || !trust) {
        log_error("zap: a zmq context and a trust store are required");
        return NULL;
    }
    struct transport_zap *z = calloc(1, sizeof *z);
    if (!z)
        return NULL;
    z->zctx = zctx;
    z->trust = trust;
    atomic_init(&z->stop, 0);
    atomic_init(&z->accepted, 0);
    atomic_init(&z->refused, 0);
    atomic_init(&z->dead, 0);
    const char *hook = getenv("EQ_TEST_ZAP_STOP_AFTER");
    z->stop_after = hook ? strtol(hook, NULL, 10) : 0;
    pthread_mutex_init(&z->mu, NULL);
    pthread_cond_init(&z->cv, NULL);
    if (pthread_create(&z->thread, NULL, zap_thread, z) != 0) {
        log_error("zap: cannot start thread");
        pthread_cond_destroy(&z->cv);
        pthread_mutex_destroy(&z->mu);
        free(z);
        return NULL;
    }
    pthread_mutex_lock(&z->mu);
    while (!z->ready)
        pthread_cond_wait(&z->cv, &z->mu);
    int rc = z->bind_rc;
    pthread_mutex_unlock(&z->mu);
    if (rc != 0) {
        log_error("zap: cannot bind %s: %s", ZAP_ENDPOINT, zmq_strerror(rc));
        pthread_join(z->thread, NULL);
        pthread_cond_destroy(&z->cv);
        pthread_mutex_destroy(&z->mu);
        free(z);
        return NULL;
    }
    log_debug("zap: handler bound at %s", ZAP_ENDPOINT);
    return z;
}

void transport_zap_stop(transport_zap_t **pz)
{
    if (!pz || !*pz)
        return;
    struct transport_zap *z = *pz;
    atomic_store(&z->stop, 1);
    pthread_join(z->thread, NULL);
    pthread_cond_destroy(&z->cv);
    pthread_mutex_destroy(&z->mu);
    free(z);
    *pz = NULL;
}

int transport_zap_alive(transport_zap_t *z)
{
    return z && !atomic_load(&z->dead);
}

void transport_zap_stats(transport_zap_t *z, unsigned long *accepted, unsigned long *refused)
{
    if (accepted)
        *accepted = z ? atomic_load(&z->accepted) : 0;
    if (refused)
        *refused = z ? atomic_load(&z->refused) : 0;
}

/* --- sockets and their monitors ------------------------------------------ */

struct transport_sock {
    void *zctx;
    void *sock;
    transport_role role;
    struct transport_settings set;
    transport_zap_t *zap;
    unsigned char secret[IDENTITY_KEY_LEN];
    unsigned char server_key[IDENTITY_KEY_LEN];
    char endpoint[256];  /* resolved (ZMQ_LAST_ENDPOINT)                */
    int broken;          /* a re-bind failed: the endpoint is not served */
    char server_cn[IDENTITY_CN_MAX];

    pthread_t mon_thread;
    int mon_running;
    atomic_int mon_stop;
    char mon_ep[64];
    pthread_mutex_t mu; /* guards ev, mon_ready and the log rate limiting */
    pthread_cond_t cv;
    int mon_ready, mon_rc;
    struct transport_events ev;
    time_t last_fail_log;
    unsigned long fails_unlogged;
    /* Open accepted connections by descriptor (monitor thread only), for
     * the per-source cap. */
    struct conn { int fd; char addr[INET6_ADDRSTRLEN]; } *conns;
    size_t nconns, capconns;
    time_t last_cap_log;
    unsigned long cap_unlogged;
};

/* The peer address of an accepted descriptor, without the port ("" if it
 * is not an IP socket). */
static void peer_addr(int fd, char out[INET6_ADDRSTRLEN])
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    out[0] = 0;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, INET6_ADDRSTRLEN);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, INET6_ADDRSTRLEN);
}

static void conn_forget(struct transport_sock *s, int fd)
{
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i].fd == fd) {
            s->conns[i] = s->conns[--s->nconns];
            return;
        }
}

/* An accepted connection: counted against its source, or shut (the
 * engine then sees end of file and closes it) when the source has
 * max_per_source open already. */
static void conn_accepted(struct transport_sock *s, int fd)
{
    if (s->set.max_per_source <= 0 || fd < 0)
        return;
    conn_forget(s, fd); /* a descriptor number reused after a missed event */
    char addr[INET6_ADDRSTRLEN];
    peer_addr(fd, addr);
    if (!addr[0])
        return;
    int same = 0;
    for (size_t i = 0; i < s->nconns; i++)
        same += strcmp(s->conns[i].addr, addr) == 0;
    if (same >= s->set.max_per_source) {
        shutdown(fd, SHUT_RDWR);
        time_t now = time(NULL);
        if (now - s->last_cap_log >= 10) {
            log_warnx("%s: connection from %s shut: %d connections from that address are open "
                      "(the cap per source)%s", s->set.name, addr, same,
                      s->cap_unlogged ? "; more were shut since the last line" : "");
            s->last_cap_log = now;
            s->cap_unlogged = 0;
        } else {
            s->cap_unlogged++;
        }
        return;
    }
    if (s->nconns == s->capconns) {
        size_t cap = s->capconns ? 2 * s->capconns : 64;
        struct conn *p = realloc(s->conns, cap * sizeof *p);
        if (!p)
            return;
        s->conns = p;
        s->capconns = cap;
    }
    s->conns[s->nconns].fd = fd;
    snprintf(s->conns[s->nconns].addr, sizeof s->conns[s->nconns].addr, "%s", addr);
    s->nconns++;
}

static void note_failure(struct transport_sock *s, unsigned long *counter, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Count a handshake failure and log it, at most once per 30 s while the
 * same peer keeps failing (a client with a wrong key retries every
 * reconnect interval). */
static void note_failure(struct transport_sock *s, unsigned long *counter, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    time_t now = time(NULL);
    pthread_mutex_lock(&s->mu);
    (*counter)++;
    snprintf(s->ev.last_failure, sizeof s->ev.last_failure, "%s", msg);
    int log_it = s->last_fail_log == 0 || now - s->last_fail_log >= 30;
    unsigned long skipped = s->fails_unlogged;
    if (log_it) {
        s->last_fail_log = now;
        s->fails_unlogged = 0;
    } else
        s->fails_unlogged++;
    pthread_mutex_unlock(&s->mu);
    if (log_it) {
        if (skipped)
            log_warnx("%s: %s (and %lu similar failures not logged)", s->set.name, msg, skipped);
        else
            log_warnx("%s: %s", s->set.name, msg);
    }
}

static const char *protocol_error_text(uint32_t v)
{
    if (v == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
        return "cryptographic error: the keys do not match";
    if (v == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        return "security mechanism mismatch (peer is not using CURVE?)";
    if (v >= ZMQ_PROTOCOL_ERROR_ZAP_UNSPECIFIED && v <= ZMQ_PROTOCOL_ERROR_ZAP_INVALID_METADATA)
        return "ZAP handler error";
    if ((v & 0x10000000u) != 0)
        return "ZMTP protocol error";
    return "protocol error";
}

static void handle_event(struct transport_sock *s, uint16_t event, uint32_t value,
                         const char *addr)
{
    int server = s->set.is_server;
    switch (event) {
    case ZMQ_EVENT_CONNECTED:
        pthread_mutex_lock(&s->mu);
        s->ev.connected++;
        pthread_mutex_unlock(&s->mu);
        log_debug("%s: connected to %s", s->set.name, addr);
        break;
    case ZMQ_EVENT_ACCEPTED:
        pthread_mutex_lock(&s->mu);
        s->ev.accepted++;
        pthread_mutex_unlock(&s->mu);
        log_debug("%s: accepted a connection on %s", s->set.name, addr);
        conn_accepted(s, (int)value);
        break;
    case ZMQ_EVENT_CONNECT_RETRIED:
        pthread_mutex_lock(&s->mu);
        s->ev.connect_retried++;
        pthread_mutex_unlock(&s->mu);
        break;
    case ZMQ_EVENT_DISCONNECTED:
        pthread_mutex_lock(&s->mu);
        s->ev.disconnected++;
        pthread_mutex_unlock(&s->mu);
        conn_forget(s, (int)value);
        log_debug("%s: disconnected from %s", s->set.name, addr);
        break;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        pthread_mutex_lock(&s->mu);
        s->ev.handshake_ok++;
        s->last_fail_log = 0;
        s->fails_unlogged = 0;
        pthread_mutex_unlock(&s->mu);
        log_info("%s: CURVE handshake succeeded with %s", s->set.name, addr);
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        if (server)
            note_failure(s, &s->ev.failed_auth,
                         "handshake on %s refused by ZAP (status %u): client not enrolled, "
                         "revoked, expired or wrong role (see zap log line)",
                         addr, value);
        else
            note_failure(s, &s->ev.failed_auth,
                         "the coordinator at %s refused our credentials (status %u): is this "
                         "identity's transport certificate enrolled, valid and not revoked?",
                         addr, value);
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        if (server)
            note_failure(s, &s->ev.failed_protocol,
                         "handshake on %s failed: %s (0x%08x) - a client pinning the wrong "
                         "coordinator key, or not a CURVE client",
                         addr, protocol_error_text(value), value);
        else
            note_failure(s, &s->ev.failed_protocol,
                         "handshake with %s failed: %s (0x%08x) - check the pinned "
                         "coordinator certificate",
                         addr, protocol_error_text(value), value);
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        if (server)
            note_failure(s, &s->ev.failed_no_detail,
                         "handshake on %s failed (%s): the client went away mid-handshake",
                         addr, value ? strerror((int)value) : "connection closed");
        else
            note_failure(s, &s->ev.failed_no_detail,
                         "handshake with %s failed (%s): the server closed the connection "
                         "during the CURVE handshake - the pinned coordinator key is probably "
                         "wrong (check the coordinator certificate)",
                         addr, value ? strerror((int)value) : "connection closed");
        break;
    default:
        break;
    }
}

static void *monitor_thread(void *arg)
{
    struct transport_sock *s = arg;
    void *pair = zmq_socket(s->zctx, ZMQ_PAIR);
    int rc = 0;
    if (!pair || zmq_connect(pair, s->mon_ep) != 0)
        rc = errno ? errno : EINVAL;
    pthread_mutex_lock(&s->mu);
    s->mon_rc = rc;
    s->mon_ready = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (rc != 0) {
        if (pair)
            zmq_close(pair);
        return NULL;
    }
    int linger = 0;
    zmq_setsockopt(pair, ZMQ_LINGER, &linger, sizeof linger);
    while (!atomic_load(&s->mon_stop)) {
        zmq_pollitem_t it = {pair, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&it, 1, POLL_MS);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (n == 0)
            continue;
        zmq_msg_t m1, m2;
        zmq_msg_init(&m1);
        zmq_msg_init(&m2);
        if (zmq_msg_recv(&m1, pair, 0) >= 0 && zmq_msg_more(&m1) &&
            zmq_msg_recv(&m2, pair, 0) >= 0 && zmq_msg_size(&m1) == 6) {
            uint16_t event;
            uint32_t value;
            const unsigned char *d = zmq_msg_data(&m1);
            memcpy(&event, d, 2);
            memcpy(&value, d + 2, 4);
            char addr[256];
            size_t al = zmq_msg_size(&m2);
            if (al >= sizeof addr)
                al = sizeof addr - 1;
            memcpy(addr, zmq_msg_data(&m2), al);
            addr[al] = '\0';
            handle_event(s, event, value, addr);
        }
        zmq_msg_close(&m1);
        zmq_msg_close(&m2);
    }
    zmq_close(pair);
    return NULL;
}

static int monitor_start(struct transport_sock *s)
{
    snprintf(s->mon_ep, sizeof s->mon_ep, "inproc://eq-monitor-%p", (void *)s);
    int events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED |
                 ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    if (zmq_socket_monitor(s->sock, s->mon_ep, events) != 0) {
        log_error("%s: zmq_socket_monitor: %s", s->set.name, zmq_strerror(errno));
        return TRANSPORT_ERR_ZMQ;
    }
    atomic_init(&s->mon_stop, 0);
    if (pthread_create(&s->mon_thread, NULL, monitor_thread, s) != 0) {
        zmq_socket_monitor(s->sock, NULL, 0);
        return TRANSPORT_ERR_ZMQ;
    }
    s->mon_running = 1;
    /* Wait until the PAIR is connected: events sent before that are lost. */
    pthread_mutex_lock(&s->mu);
    while (!s->mon_ready)
        pthread_cond_wait(&s->cv, &s->mu);
    int rc = s->mon_rc;
    pthread_mutex_unlock(&s->mu);
    if (rc != 0) {
        log_error("%s: monitor: %s", s->set.name, zmq_strerror(rc));
        return TRANSPORT_ERR_ZMQ;
    }
    return TRANSPORT_OK;
}

static int setopt(struct transport_sock *s, int opt, const void *v, size_t len, const char *name)
{
    if (zmq_setsockopt(s->sock, opt, v, len) != 0) {
        log_error("%s: zmq_setsockopt(%s): %s", s->set.name, name, zmq_strerror(errno));
        return -1;
    }
    return 0;
}

#define SETOPT_INT(s, opt, val)                                      \
    do {                                                             \
        int v_ = (val);                                              \
        if (setopt((s), (opt), &v_, sizeof v_, #opt) != 0)           \
            return TRANSPORT_ERR_ZMQ;                                \
    } while (0)

/* Apply the role's settings: every option, in one place. */
static int apply_settings(struct transport_sock *s)
{
    const struct transport_settings *t = &s->set;
    int64_t maxmsg = t->maxmsgsize;
    if (setopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg, "ZMQ_MAXMSGSIZE") != 0)
        return TRANSPORT_ERR_ZMQ;
    SETOPT_INT(s, ZMQ_HEARTBEAT_IVL, t->heartbeat_ivl);
    SETOPT_INT(s, ZMQ_HEARTBEAT_TIMEOUT, t->heartbeat_timeout);
    SETOPT_INT(s, ZMQ_HEARTBEAT_TTL, t->heartbeat_ttl);
    SETOPT_INT(s, ZMQ_HANDSHAKE_IVL, t->handshake_ivl);
    SETOPT_INT(s, ZMQ_LINGER, t->linger);
    SETOPT_INT(s, ZMQ_SNDTIMEO, t->sndtimeo);
    SETOPT_INT(s, ZMQ_RCVTIMEO, t->rcvtimeo);
    if (t->socket_type == ZMQ_ROUTER)
        SETOPT_INT(s, ZMQ_ROUTER_MANDATORY, t->router_mandatory);
    if (!t->is_server) {
        SETOPT_INT(s, ZMQ_RECONNECT_IVL, t->reconnect_ivl);
        SETOPT_INT(s, ZMQ_RECONNECT_IVL_MAX, t->reconnect_ivl_max);
    }
    return TRANSPORT_OK;
}

static struct transport_sock *sock_alloc(void *zctx, transport_role role,
                                         const struct transport_settings *settings)
{
    const struct transport_settings *t = settings ? settings : transport_settings_for(role);
    if (!zctx || !t)
        return NULL;
    struct transport_sock *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->zctx = zctx;
    s->role = role;
    s->set = *t;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->sock = zmq_socket(zctx, t->socket_type);
    if (!s->sock) {
        log_error("%s: zmq_socket: %s", t->name, zmq_strerror(errno));
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    return s;
}

static void resolve_endpoint(struct transport_sock *s, const char *fallback)
{
    size_t len = sizeof s->endpoint;
    if (zmq_getsockopt(s->sock, ZMQ_LAST_ENDPOINT, s->endpoint, &len) != 0 || len == 0)
        snprintf(s->endpoint, sizeof s->endpoint, "%s", fallback);
}

transport_sock_t *transport_server_new(void *zctx, transport_role role,
                                       const unsigned char secret[IDENTITY_KEY_LEN],
                                       const char *endpoint, transport_zap_t *zap,
                                       const struct transport_settings *settings)
{
    const struct transport_settings *t = settings ? settings : transport_settings_for(role);
    if (!t || !t->is_server || !secret || !endpoint) {
        log_error("transport: a server needs a server role, a secret key and an endpoint");
        return NULL;
    }
    /* Fail closed: without a ZAP handler libzmq accepts any CURVE client. */
    if (!zap || zap->zctx != zctx) {
        log_error("%s: %s (the ZAP handler must run in the same zmq context and be started "
                  "before binding %s)",
                  t->name, transport_strerror(TRANSPORT_ERR_NOZAP), endpoint);
        return NULL;
    }
    struct transport_sock *s = sock_alloc(zctx, role, settings);
    if (!s)
        return NULL;
    s->zap = zap;
    memcpy(s->secret, secret, IDENTITY_KEY_LEN);
    int one = 1;
    if (apply_settings(s) != 0 ||
        setopt(s, ZMQ_CURVE_SERVER, &one, sizeof one, "ZMQ_CURVE_SERVER") != 0 ||
        setopt(s, ZMQ_CURVE_SECRETKEY, s->secret, IDENTITY_KEY_LEN, "ZMQ_CURVE_SECRETKEY") != 0 ||
        setopt(s, ZMQ_ZAP_DOMAIN, t->zap_domain, strlen(t->zap_domain), "ZMQ_ZAP_DOMAIN") != 0 ||
        monitor_start(s) != 0)
        goto fail;
    if (zmq_bind(s->sock, endpoint) != 0) {
        log_error("%s: cannot bind %s: %s", t->name, endpoint, zmq_strerror(errno));
        goto fail;
    }
    resolve_endpoint(s, endpoint);
    log_info("%s: CURVE server listening on %s (ZAP domain \"%s\")", t->name, s->endpoint,
             t->zap_domain);
    return s;
fail:
    transport_sock_destroy(&s);
    return NULL;
}

transport_sock_t *transport_server_open(void *zctx, transport_role role, const char *key_file,
                                        const char *endpoint, transport_zap_t *zap)
{
    unsigned char sec[IDENTITY_KEY_LEN];
    if (!key_file || identity_curve_keypair(key_file, sec, NULL) != ID_OK)
        return NULL;
    transport_sock_t *s = transport_server_new(zctx, role, sec, endpoint, zap, NULL);
    OPENSSL_cleanse(sec, sizeof sec);
    return s;
}

transport_sock_t *transport_client_new(void *zctx, transport_role role,
                                       const unsigned char secret[IDENTITY_KEY_LEN],
                                       const unsigned char public_key[IDENTITY_KEY_LEN],
                                       const unsigned char server_public[IDENTITY_KEY_LEN],
                                       const char *endpoint,
                                       const struct transport_settings *settings)
{
    const struct transport_settings *t = settings ? settings : transport_settings_for(role);
    if (!t || t->is_server || !secret || !public_key || !server_public || !endpoint) {
        log_error("transport: a client needs a client role, our key pair, the server key and "
                  "an endpoint");
        return NULL;
    }
    struct transport_sock *s = sock_alloc(zctx, role, settings);
    if (!s)
        return NULL;
    memcpy(s->secret, secret, IDENTITY_KEY_LEN);
    memcpy(s->server_key, server_public, IDENTITY_KEY_LEN);
    if (apply_settings(s) != 0 ||
        setopt(s, ZMQ_CURVE_SERVERKEY, s->server_key, IDENTITY_KEY_LEN, "ZMQ_CURVE_SERVERKEY") ||
        setopt(s, ZMQ_CURVE_PUBLICKEY, public_key, IDENTITY_KEY_LEN, "ZMQ_CURVE_PUBLICKEY") ||
        setopt(s, ZMQ_CURVE_SECRETKEY, s->secret, IDENTITY_KEY_LEN, "ZMQ_CURVE_SECRETKEY") ||
        monitor_start(s) != 0)
        goto fail;
    if (zmq_connect(s->sock, endpoint) != 0) {
        log_error("%s: cannot connect to %s: %s", t->name, endpoint, zmq_strerror(errno));
        goto fail;
    }
    resolve_endpoint(s, endpoint);
    char z85[41];
    z85_key(server_public, z85);
    log_info("%s: connecting to %s, pinned server key %s", t->name, s->endpoint, z85);
    return s;
fail:
    transport_sock_destroy(&s);
    return NULL;
}

transport_sock_t *transport_client_open(void *zctx, transport_role role, const char *key_file,
                                        const char *server_cert_file, trust_t *trust,
                                        const char *endpoint)
{
    if (!key_file || !server_cert_file)
        return NULL;
    transport_sock_t *s = NULL;
    X509 *cert = NULL;
    struct identity_info info;
    unsigned char sec[IDENTITY_KEY_LEN], pub[IDENTITY_KEY_LEN], srv[IDENTITY_KEY_LEN];
    memset(&info, 0, sizeof info);
    if (identity_load_cert(server_cert_file, &cert) != ID_OK)
        goto out;
    if (trust) {
        int rc = trust_verify_cert(trust, cert, &info);
        if (rc != ID_OK) {
            log_error("%s: coordinator certificate refused: %s", server_cert_file,
                      identity_strerror(rc));
            goto out;
        }
        if (info.role != ROLE_COORDINATOR) {
            log_error("%s: certificate of %s has role %s, not coordinator", server_cert_file,
                      info.cn, identity_role_name(info.role));
            goto out;
        }
    } else if (identity_cert_info(cert, &info) != ID_OK)
        goto out;
    if (identity_curve_public(cert, srv) != ID_OK) {
        log_error("%s: not a transport (X25519) certificate", server_cert_file);
        goto out;
    }
    if (identity_curve_keypair(key_file, sec, pub) != ID_OK)
        goto out;
    s = transport_client_new(zctx, role, sec, pub, srv, endpoint, NULL);
    OPENSSL_cleanse(sec, sizeof sec);
    if (s)
        snprintf(s->server_cn, sizeof s->server_cn, "%s", info.cn);
out:
    X509_free(cert);
    return s;
}

void transport_sock_destroy(transport_sock_t **ps)
{
    if (!ps || !*ps)
        return;
    struct transport_sock *s = *ps;
    if (s->mon_running) {
        /* Stop the events while our reader still drains them: libzmq's I/O
         * thread sends monitor events with a blocking send while holding
         * the socket's monitor lock, so stopping the reader first could
         * leave it blocked and zmq_socket_monitor waiting on that lock. */
        zmq_socket_monitor(s->sock, NULL, 0);
        atomic_store(&s->mon_stop, 1);
        pthread_join(s->mon_thread, NULL);
    }
    if (s->sock)
        zmq_close(s->sock);
    OPENSSL_cleanse(s->secret, sizeof s->secret);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->conns);
    free(s);
    *ps = NULL;
}

void *transport_zsock(transport_sock_t *s) { return s ? s->sock : NULL; }

const char *transport_endpoint(transport_sock_t *s) { return s ? s->endpoint : ""; }

void transport_events_get(transport_sock_t *s, struct transport_events *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    *out = s->ev;
    pthread_mutex_unlock(&s->mu);
}

/* --- messages -------------------------------------------------------------- */

int transport_msg_user_id(zmq_msg_t *msg, char *out, size_t outlen)
{
    if (!msg || !out || outlen == 0)
        return TRANSPORT_ERR_ARG;
    out[0] = '\0';
    const char *uid = zmq_msg_gets(msg, "User-Id");
    if (!uid || !*uid)
        return TRANSPORT_ERR_DROPPED;
    size_t n = strlen(uid);
    if (n >= outlen)
        return TRANSPORT_ERR_ARG;
    memcpy(out, uid, n + 1);
    return TRANSPORT_OK;
}

static int hex_decode(const char *hex, unsigned char *out, size_t n)
{
    if (!hex || strlen(hex) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int v = 0;
        for (int j = 0; j < 2; j++) {
            char c = hex[2 * i + j];
            int d = c >= '0' && c <= '9' ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0)
                return -1;
            v = v * 16 + d;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

int transport_check_peer(transport_sock_t *s, zmq_msg_t *msg, struct identity_info *info)
{
    struct identity_info local;
    if (!info)
        info = &local;
    memset(info, 0, sizeof *info);
    if (!s || !msg || !s->set.is_server || !s->zap)
        return ID_ERR_ARG;
    char uid[IDENTITY_CN_MAX];
    if (transport_msg_user_id(msg, uid, sizeof uid) != TRANSPORT_OK)
        return ID_ERR_UNKNOWN;
    unsigned char key[IDENTITY_KEY_LEN];
    if (hex_decode(zmq_msg_gets(msg, "X-Transport-Key"), key, sizeof key) != 0)
        return ID_ERR_UNKNOWN;
    int rc = trust_lookup_key(s->zap->trust, key, info);
    if (rc != ID_OK)
        return rc;
    if (strcmp(info->cn, uid) != 0)
        return ID_ERR_SUBJECT;
    if (!transport_domain_allows(s->set.zap_domain, info->role))
        return ID_ERR_ROLE;
    return ID_OK;
}

static void drain(void *sock)
{
    int more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
}

int transport_server_reset(transport_sock_t *s)
{
    if (!s || !s->set.is_server)
        return TRANSPORT_ERR_ARG;
    if (zmq_unbind(s->sock, s->endpoint) != 0) {
        log_error("%s: cannot unbind %s: %s", s->set.name, s->endpoint, zmq_strerror(errno));
        s->broken = 1;
        return TRANSPORT_ERR_ZMQ;
    }
    /* The listener closes asynchronously: retry the bind for up to 2 s. */
    for (int i = 0; i < 200; i++) {
        if (zmq_bind(s->sock, s->endpoint) == 0) {
            log_info("%s: re-bound %s: every peer must authenticate again", s->set.name,
                     s->endpoint);
            return TRANSPORT_OK;
        }
        if (errno != EADDRINUSE)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    log_error("%s: cannot re-bind %s: %s", s->set.name, s->endpoint, zmq_strerror(errno));
    s->broken = 1;
    return TRANSPORT_ERR_ZMQ;
}

int transport_sock_broken(const transport_sock_t *s)
{
    return !s || s->broken;
}

int transport_recv(transport_sock_t *s, zmq_msg_t *body, unsigned char *peer_id,
                   size_t *peer_id_len, char *cn, size_t cnlen, int timeout_ms)
{
    if (!s || !body || (s->set.is_server && (!peer_id || !peer_id_len)))
        return TRANSPORT_ERR_ARG;
    if (cn && cnlen)
        cn[0] = '\0';
    /* timeout 0 (draining what is already queued): the non-blocking
     * receive below answers "nothing" by itself, without a poll. */
    if (timeout_ms != 0) {
        zmq_pollitem_t it = {s->sock, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&it, 1, timeout_ms < 0 ? s->set.rcvtimeo : timeout_ms);
        if (n < 0)
            return errno == EINTR ? TRANSPORT_ERR_AGAIN : TRANSPORT_ERR_ZMQ;
        if (n == 0)
            return TRANSPORT_ERR_AGAIN;
    }
    if (!s->set.is_server) {
        if (zmq_msg_recv(body, s->sock, ZMQ_DONTWAIT) < 0)
            return errno == EAGAIN ? TRANSPORT_ERR_AGAIN : TRANSPORT_ERR_ZMQ;
        if (zmq_msg_more(body)) {
            drain(s->sock);
            log_warnx("%s: dropped a multi-frame message from %s", s->set.name, s->endpoint);
            return TRANSPORT_ERR_DROPPED;
        }
        if (cn && cnlen)
            snprintf(cn, cnlen, "%s", s->server_cn);
        return TRANSPORT_OK;
    }
    zmq_msg_t rid;
    zmq_msg_init(&rid);
    int rc = TRANSPORT_OK;
    if (zmq_msg_recv(&rid, s->sock, ZMQ_DONTWAIT) < 0) {
        rc = errno == EAGAIN ? TRANSPORT_ERR_AGAIN : TRANSPORT_ERR_ZMQ;
        goto out;
    }
    if (!zmq_msg_more(&rid) || zmq_msg_recv(body, s->sock, ZMQ_DONTWAIT) < 0) {
        log_warnx("%s: dropped a message without a body", s->set.name);
        rc = TRANSPORT_ERR_DROPPED;
        goto out;
    }
    if (zmq_msg_more(body)) {
        drain(s->sock);
        log_warnx("%s: dropped a message with more than one frame", s->set.name);
        rc = TRANSPORT_ERR_DROPPED;
        goto out;
    }
    struct identity_info info;
    int crc = transport_check_peer(s, body, &info);
    if (crc != ID_OK) {
        char uid[IDENTITY_CN_MAX];
        if (transport_msg_user_id(body, uid, sizeof uid) != TRANSPORT_OK)
            snprintf(uid, sizeof uid, "(no User-Id)");
        log_warnx("%s: dropped a message from %s: %s", s->set.name, uid,
                  identity_strerror(crc));
        rc = TRANSPORT_ERR_DROPPED;
        if (crc == ID_ERR_REVOKED || crc == ID_ERR_EXPIRED)
            transport_server_reset(s);
        goto out;
    }
    size_t idl = zmq_msg_size(&rid);
    if (idl > *peer_id_len) {
        log_warnx("%s: routing id too long (%zu bytes); message dropped", s->set.name, idl);
        rc = TRANSPORT_ERR_DROPPED;
        goto out;
    }
    memcpy(peer_id, zmq_msg_data(&rid), idl);
    *peer_id_len = idl;
    if (cn && cnlen)
        snprintf(cn, cnlen, "%s", info.cn);
out:
    if (rc != TRANSPORT_OK) {
        /* the body is not the caller's on failure: leave it empty */
        zmq_msg_close(body);
        zmq_msg_init(body);
    }
    zmq_msg_close(&rid);
    return rc;
}

int transport_send(transport_sock_t *s, const unsigned char *peer_id, size_t peer_id_len,
                   const void *data, size_t len)
{
    if (!s || (!data && len) || (s->set.is_server && (!peer_id || !peer_id_len)))
        return TRANSPORT_ERR_ARG;
    if (s->set.is_server && zmq_send(s->sock, peer_id, peer_id_len, ZMQ_SNDMORE) < 0)
        goto fail;
    if (zmq_send(s->sock, data ? data : "", len, 0) < 0)
        goto fail;
    return TRANSPORT_OK;
fail:
    if (errno == EHOSTUNREACH)
        return TRANSPORT_ERR_UNREACHABLE;
    if (errno == EAGAIN)
        return TRANSPORT_ERR_AGAIN;
    log_error("%s: send failed: %s", s->set.name, zmq_strerror(errno));
    return TRANSPORT_ERR_ZMQ;
}
