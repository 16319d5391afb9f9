/*
 * transport.h - ZeroMQ CURVE transport between nodes, coordinator and
 * analysts, failing closed (security.md):
 *
 *  - every socket option of every role is in ONE table
 *    (transport_settings_for);
 *  - the coordinator starts a ZAP handler (RFC 27, inproc://zeromq.zap.01)
 *    BEFORE binding any CURVE socket; transport_server_new refuses to bind
 *    without one. The handler answers 200 only for the key of an enrolled
 *    transport certificate that verifies against the CA, is valid now, is
 *    not revoked and whose role fits the socket's ZAP domain ("nodes":
 *    node; "analysts": analyst or operator); User-Id = the certificate CN.
 *    It also attaches the metadata property "X-Transport-Key" (hex of the
 *    client's CURVE key) so the certificate can be re-checked later.
 *  - transport_recv re-checks at message time: a message without User-Id,
 *    or whose sender's certificate is now revoked or expired, is dropped
 *    and logged; after a revoked/expired peer the listening endpoint is
 *    re-bound so that every peer must handshake again (ZeroMQ's stable API
 *    cannot close one ROUTER peer; re-binding closes the accepted
 *    connections, the others reconnect and pass ZAP again, the revoked one
 *    cannot).
 *  - each socket has a monitor thread (zmq_socket_monitor) that logs
 *    handshake failures with the endpoint and reason, on both sides, and
 *    counts events (transport_events).
 *
 * All sockets of one process share one zmq context (inproc needs it); each
 * transport_sock_t must be used from one thread at a time.
 */
#ifndef EQ_TRANSPORT_H
#define EQ_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "identity.h"

typedef enum {
    TRANSPORT_OK = 0,
    TRANSPORT_ERR_AGAIN = -1,   /* nothing arrived within the timeout        */
    TRANSPORT_ERR_DROPPED = -2, /* a message arrived and was dropped (logged) */
    TRANSPORT_ERR_ZMQ = -3,     /* ZeroMQ call failed (zmq_strerror logged)   */
    TRANSPORT_ERR_ARG = -4,     /* bad argument                              */
    TRANSPORT_ERR_NOZAP = -5,   /* server socket without a running ZAP       */
    TRANSPORT_ERR_KEY = -6,     /* key or certificate unusable               */
    TRANSPORT_ERR_UNREACHABLE = -7, /* ROUTER: the peer is not connected     */
} transport_err;

const char *transport_strerror(int err);

typedef enum {
    TRANSPORT_COORD_NODES,    /* coordinator: ROUTER, binds, domain "nodes"    */
    TRANSPORT_COORD_ANALYSTS, /* coordinator: ROUTER, binds, domain "analysts" */
    TRANSPORT_NODE,           /* node: DEALER, connects out, pins coordinator  */
    TRANSPORT_ANALYST,        /* analyst: DEALER, connects, pins coordinator   */
    TRANSPORT__ROLES
} transport_role;

/* The socket options of a role: the single place where they are set. */
struct transport_settings {
    const char *name;       /* for logs: "coordinator/nodes", ...            */
    int socket_type;        /* ZMQ_ROUTER or ZMQ_DEALER                      */
    int is_server;          /* CURVE server (binds) or client (connects)     */
    const char *zap_domain; /* ZMQ_ZAP_DOMAIN (servers)                      */
    int64_t maxmsgsize;     /* ZMQ_MAXMSGSIZE, bytes                         */
    int heartbeat_ivl;      /* ZMQ_HEARTBEAT_IVL, ms                         */
    int heartbeat_timeout;  /* ZMQ_HEARTBEAT_TIMEOUT, ms                     */
    int heartbeat_ttl;      /* ZMQ_HEARTBEAT_TTL, ms                         */
    int handshake_ivl;      /* ZMQ_HANDSHAKE_IVL, ms                         */
    int linger;             /* ZMQ_LINGER, ms                                */
    int sndtimeo;           /* ZMQ_SNDTIMEO, ms                              */
    int rcvtimeo;           /* ZMQ_RCVTIMEO, ms (transport_recv's default)   */
    int router_mandatory;   /* ZMQ_ROUTER_MANDATORY (ROUTER only)            */
    int reconnect_ivl;      /* ZMQ_RECONNECT_IVL, ms (clients)               */
    int reconnect_ivl_max;  /* ZMQ_RECONNECT_IVL_MAX, ms (clients)           */
    int max_per_source;     /* servers: open TCP connections allowed from one
                               address (more are shut at once); 0 = no cap  */
};

/* The table entry for a role (static; never NULL for a valid role). */
const struct transport_settings *transport_settings_for(transport_role role);
/* Roles allowed on a ZAP domain: 1 if a certificate role fits, else 0. */
int transport_domain_allows(const char *domain, identity_role role);

/* --- ZAP handler --------------------------------------------------------- */

typedef struct transport_zap transport_zap_t;

/* Bind inproc://zeromq.zap.01 in zctx and serve ZAP requests in a new
 * thread, deciding with trust (borrowed; must outlive the handler). Returns
 * only once the endpoint is bound; NULL (logged) if it cannot be (e.g.
 * another handler is already bound in this context). */
transport_zap_t *transport_zap_start(void *zctx, trust_t *trust);
/* Stop the thread and close its socket. Safe on NULL. Stop it after the
 * CURVE sockets are closed. */
void transport_zap_stop(transport_zap_t **zap);
/* Requests answered 200 / 400 (or 500) so far. */
void transport_zap_stats(transport_zap_t *zap, unsigned long *accepted, unsigned long *refused);
/* 0 once the handler thread has ended without transport_zap_stop (a poll
 * failure): libzmq then lets every CURVE key through, so the server must
 * stop at once. Test hook: EQ_TEST_ZAP_STOP_AFTER=N in the environment at
 * transport_zap_start ends the thread after N requests. */
int transport_zap_alive(transport_zap_t *zap);

/* --- sockets ----------------------------------------------------------- */

typedef struct transport_sock transport_sock_t;

/* What the socket monitor saw (cumulative). */
struct transport_events {
    unsigned long connected, accepted, disconnected, connect_retried;
    unsigned long handshake_ok;
    unsigned long failed_no_detail, failed_protocol, failed_auth;
    char last_failure[256]; /* the last handshake failure as logged          */
};

/* A CURVE server (coordinator role) bound to endpoint (e.g.
 * "tcp://127.0.0.1:*" for an ephemeral port). secret is our raw X25519
 * secret key (copied, then wiped on destroy). zap must be running (fail
 * closed). settings NULL = the role's table entry. NULL on failure, logged. */
transport_sock_t *transport_server_new(void *zctx, transport_role role,
                                       const unsigned char secret[IDENTITY_KEY_LEN],
                                       const char *endpoint, transport_zap_t *zap,
                                       const struct transport_settings *settings);

/* Same, reading the secret key from a PEM X25519 key file (mode-checked). */
transport_sock_t *transport_server_open(void *zctx, transport_role role, const char *key_file,
                                        const char *endpoint, transport_zap_t *zap);

/* A CURVE client (node or analyst role) connected to endpoint, pinning
 * server_public (the coordinator's X25519 key). Keys are copied and wiped
 * on destroy. */
transport_sock_t *transport_client_new(void *zctx, transport_role role,
                                       const unsigned char secret[IDENTITY_KEY_LEN],
                                       const unsigned char public_key[IDENTITY_KEY_LEN],
                                       const unsigned char server_public[IDENTITY_KEY_LEN],
                                       const char *endpoint,
                                       const struct transport_settings *settings);

/* Same from files: our X25519 key file (mode-checked) and the
 * coordinator's transport certificate. If trust is not NULL the server
 * certificate must verify against it (CA, CRL, validity) with role
 * coordinator. */
transport_sock_t *transport_client_open(void *zctx, transport_role role, const char *key_file,
                                        const char *server_cert_file, trust_t *trust,
                                        const char *endpoint);

/* Close the socket (after stopping its monitor); wipes keys. Safe on NULL. */
void transport_sock_destroy(transport_sock_t **s);

/* The underlying zmq socket (borrowed), e.g. for zmq_poll. */
void *transport_zsock(transport_sock_t *s);
/* The resolved endpoint (ZMQ_LAST_ENDPOINT: the real port after ":*"). */
const char *transport_endpoint(transport_sock_t *s);
/* A snapshot of the monitor's counters. */
void transport_events_get(transport_sock_t *s, struct transport_events *out);

/* --- messages ---------------------------------------------------------- */

/* Copy the message's User-Id property (set by our ZAP handler to the
 * certificate CN) into out. 0, or TRANSPORT_ERR_DROPPED if there is none
 * (the caller must drop the message), TRANSPORT_ERR_ARG if it does not fit. */
int transport_msg_user_id(zmq_msg_t *msg, char *out, size_t outlen);

/* Re-check, at message time, the sender of a message received on a server
 * socket: User-Id present, the enrolled certificate of its CURVE key
 * (X-Transport-Key) still valid now and not revoked (the CRL is re-read if
 * its file changed), CN equal to User-Id, role fits the socket's domain.
 * 0 with *info filled (may be NULL), or the identity_err. */
int transport_check_peer(transport_sock_t *s, zmq_msg_t *msg, struct identity_info *info);

/* Receive one message. Server sockets: [routing id][body]; the sender is
 * re-checked (transport_check_peer) and its CN copied to cn; peer_id /
 * peer_id_len (in: capacity, out: length) receive the routing id for the
 * reply. Client sockets: [body]; cn receives the pinned server's CN if it
 * was opened from a certificate ("" otherwise). body must be initialised
 * (zmq_msg_init); on success it holds the payload. Messages with more
 * frames than expected are dropped. timeout_ms < 0: the role's rcvtimeo;
 * 0: only what is already queued (no wait).
 * Returns 0, TRANSPORT_ERR_AGAIN, TRANSPORT_ERR_DROPPED (logged; call
 * again), or TRANSPORT_ERR_ZMQ. */
int transport_recv(transport_sock_t *s, zmq_msg_t *body, unsigned char *peer_id,
                   size_t *peer_id_len, char *cn, size_t cnlen, int timeout_ms);

/* Send one message: to peer_id on a server socket, to the server on a
 * client socket (peer_id NULL). TRANSPORT_ERR_UNREACHABLE if a ROUTER peer
 * is gone, TRANSPORT_ERR_AGAIN on send timeout. */
int transport_send(transport_sock_t *s, const unsigned char *peer_id, size_t peer_id_len,
                   const void *data, size_t len);

/* Re-bind a server socket's endpoint, closing every accepted connection so
 * that each peer must pass ZAP again. Called by transport_recv after a
 * revoked or expired peer; exposed for an operator's "reload". */
int transport_server_reset(transport_sock_t *s);
/* 1 after a failed unbind or re-bind (the endpoint is no longer served,
 * or served by whoever took the port): the server must stop. */
int transport_sock_broken(const transport_sock_t *s);

#endif
