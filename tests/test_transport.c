/*
 * test_transport.c - real CURVE handshakes over tcp://127.0.0.1 (ephemeral
 * ports) between a coordinator socket guarded by the ZAP handler and node /
 * analyst clients holding certificates issued by a test CA. What a user
 * checks: who gets in (and under which User-Id), who is refused and
 * whether the refusal is logged, and that a revoked peer stops getting
 * messages through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <zmq.h>

#include "ca.h"
#include "fed.h"
#include "identity.h"
#include "transport.h"

struct fx {
    char root[256];
    ca_t *ca;
    void *zctx;
    trust_t *trust;
    transport_zap_t *zap;
    transport_sock_t *nodes;    /* coordinator, domain "nodes"    */
    transport_sock_t *analysts; /* coordinator, domain "analysts" */
    transport_sock_t *clients[8]; /* closed by teardown even if a test fails */
};

static transport_sock_t *track(struct fx *f, transport_sock_t *c)
{
    for (size_t i = 0; c && i < sizeof f->clients / sizeof f->clients[0]; i++)
        if (!f->clients[i]) {
            f->clients[i] = c;
            break;
        }
    return c;
}

/* Close a client without waiting for its unsent messages (the table's
 * linger is for real nodes; a refused test client has nothing to deliver). */
static void close_now(struct fx *f, transport_sock_t **c)
{
    transport_sock_t *s = *c;
    *c = NULL;
    if (!s)
        return;
    for (size_t i = 0; i < sizeof f->clients / sizeof f->clients[0]; i++)
        if (f->clients[i] == s)
            f->clients[i] = NULL;
    int zero = 0;
    zmq_setsockopt(transport_zsock(s), ZMQ_LINGER, &zero, sizeof zero);
    transport_sock_destroy(&s);
}

static char *path_of(struct fx *f, const char *sub, const char *file)
{
    static char buf[8][512];
    static int i;
    i = (i + 1) % 8;
    return (char *)fed_path(buf[i], sizeof buf[i], f->root, sub, file);
}

static void enroll(struct fx *f, const char *sub)
{
    char to[1100];
    snprintf(to, sizeof to, "%s/%s.crt", path_of(f, "enrolled", NULL), sub);
    assert_int_equal(fed_copy(path_of(f, sub, "transport.crt"), to), 0);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(fed_tmpdir(f->root, sizeof f->root), 0);
    f->ca = fed_ca(f->root, "Test Federation");
    assert_non_null(f->ca);
    time_t now = time(NULL);
    assert_int_equal(fed_issue(f->ca, f->root, "coord", ROLE_COORDINATOR, "coord:state", 0, 0), 0);
    assert_int_equal(fed_issue(f->ca, f->root, "n1", ROLE_NODE, "org:demo-1", 0, 0), 0);
    assert_int_equal(fed_issue(f->ca, f->root, "n2", ROLE_NODE, "org:demo-2", 0, 0), 0);
    assert_int_equal(fed_issue(f->ca, f->root, "n3", ROLE_NODE, "org:demo-3", 0, 0), 0);
    assert_int_equal(fed_issue(f->ca, f->root, "an", ROLE_ANALYST, "analyst:ana", 0, 0), 0);
    assert_int_equal(fed_issue(f->ca, f->root, "op", ROLE_OPERATOR, "operator:olu", 0, 0), 0);
    assert_int_equal(fed_issue(f->ca, f->root, "unknown", ROLE_NODE, "org:unknown", 0, 0), 0);
    assert_int_equal(fed_issue(f->ca, f->root, "revoked", ROLE_NODE, "org:revoked", 0, 0), 0);
    assert_int_equal(fed_issue(f->ca, f->root, "expired", ROLE_NODE, "org:expired",
                               now - 10 * 86400, now - 86400), 0);
    /* an identity from another CA, enrolled by mistake: still refused */
    char other[512];
    fed_path(other, sizeof other, f->root, "otherca", NULL);
    assert_int_equal(ca_init(other, "Test Federation", 30), 0);
    ca_t *oca = ca_open(other);
    assert_non_null(oca);
    assert_int_equal(fed_issue(oca, f->root, "foreign", ROLE_NODE, "org:foreign", 0, 0), 0);
    ca_destroy(&oca);

    X509 *rc = NULL;
    assert_int_equal(identity_load_cert(path_of(f, "revoked", "transport.crt"), &rc), 0);
    assert_int_equal(ca_revoke(f->ca, rc), 0);
    X509_free(rc);

    assert_int_equal(mkdir(path_of(f, "enrolled", NULL), 0755), 0);
    const char *enrolled[] = {"n1", "n2", "n3", "an", "op", "revoked", "expired", "foreign"};
    for (size_t i = 0; i < sizeof enrolled / sizeof enrolled[0]; i++)
        enroll(f, enrolled[i]);

    f->zctx = zmq_ctx_new();
    assert_non_null(f->zctx);
    f->trust = trust_new(path_of(f, "ca", "ca.crt"), path_of(f, "ca", "ca.crl"),
                         path_of(f, "enrolled", NULL));
    assert_non_null(f->trust);
    assert_int_equal(trust_count(f->trust), 8);
    f->zap = transport_zap_start(f->zctx, f->trust);
    assert_non_null(f->zap);
    f->nodes = transport_server_open(f->zctx, TRANSPORT_COORD_NODES,
                                     path_of(f, "coord", "transport.key"), "tcp://127.0.0.1:*",
                                     f->zap);
    assert_non_null(f->nodes);
    f->analysts = transport_server_open(f->zctx, TRANSPORT_COORD_ANALYSTS,
                                        path_of(f, "coord", "transport.key"),
                                        "tcp://127.0.0.1:*", f->zap);
    assert_non_null(f->analysts);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    for (size_t i = 0; i < sizeof f->clients / sizeof f->clients[0]; i++)
        close_now(f, &f->clients[i]);
    transport_sock_destroy(&f->nodes);
    transport_sock_destroy(&f->analysts);
    transport_zap_stop(&f->zap);
    transport_zap_stop(&f->zap); /* safe twice */
    trust_destroy(&f->trust);
    zmq_ctx_term(f->zctx);
    ca_destroy(&f->ca);
    fed_rmrf(f->root);
    free(f);
    return 0;
}

static transport_sock_t *client(struct fx *f, transport_role role, const char *sub,
                                transport_sock_t *server)
{
    transport_sock_t *c = transport_client_open(f->zctx, role, path_of(f, sub, "transport.key"),
                                                path_of(f, "coord", "transport.crt"), f->trust,
                                                transport_endpoint(server));
    assert_non_null(c);
    return track(f, c);
}

/* Receive on a server socket until a message arrives or timeout_ms pass;
 * dropped messages are counted in *dropped (may be NULL). */
static int server_recv(transport_sock_t *s, char *body, size_t bodylen, char *cn, size_t cnlen,
                       unsigned char *rid, size_t *ridlen, int timeout_ms, int *dropped)
{
    int waited = 0;
    while (waited < timeout_ms) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        size_t cap = *ridlen;
        int rc = transport_recv(s, &m, rid, &cap, cn, cnlen, 100);
        waited += 100;
        if (rc == TRANSPORT_OK) {
            size_t n = zmq_msg_size(&m) < bodylen - 1 ? zmq_msg_size(&m) : bodylen - 1;
            memcpy(body, zmq_msg_data(&m), n);
            body[n] = '\0';
            *ridlen = cap;
            zmq_msg_close(&m);
            return 0;
        }
        zmq_msg_close(&m);
        if (rc == TRANSPORT_ERR_DROPPED && dropped)
            (*dropped)++;
        else if (rc != TRANSPORT_ERR_AGAIN && rc != TRANSPORT_ERR_DROPPED)
            return rc;
    }
    return TRANSPORT_ERR_AGAIN;
}

static void send_str(transport_sock_t *c, const char *s)
{
    assert_int_equal(transport_send(c, NULL, 0, s, strlen(s)), TRANSPORT_OK);
}

/* Wait until the socket's monitor has counted a handshake failure. */
static unsigned long wait_failures(transport_sock_t *s, int timeout_ms,
                                   struct transport_events *ev)
{
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        transport_events_get(s, ev);
        unsigned long n = ev->failed_auth + ev->failed_protocol + ev->failed_no_detail;
        if (n)
            return n;
        fed_sleep_ms(50);
    }
    return 0;
}

static void test_settings_table_applied(void **state)
{
    struct fx *f = *state;
    for (int r = 0; r < TRANSPORT__ROLES; r++) {
        const struct transport_settings *t = transport_settings_for((transport_role)r);
        assert_non_null(t);
        assert_true(t->maxmsgsize > 0);
        assert_true(t->heartbeat_ivl > 0 && t->heartbeat_timeout >= t->heartbeat_ivl);
        assert_true(t->heartbeat_ttl > 0 && t->handshake_ivl > 0);
        assert_true(t->sndtimeo > 0 && t->rcvtimeo > 0 && t->linger >= 0);
        if (t->is_server) {
            assert_int_equal(t->socket_type, ZMQ_ROUTER);
            assert_int_equal(t->router_mandatory, 1);
            assert_non_null(t->zap_domain);
        } else {
            assert_true(t->reconnect_ivl > 0 && t->reconnect_ivl_max >= t->reconnect_ivl);
        }
    }
    assert_null(transport_settings_for(TRANSPORT__ROLES));
    /* the live coordinator socket carries the table's values */
    const struct transport_settings *t = transport_settings_for(TRANSPORT_COORD_NODES);
    void *z = transport_zsock(f->nodes);
    int64_t maxmsg = 0;
    size_t len = sizeof maxmsg;
    assert_int_equal(zmq_getsockopt(z, ZMQ_MAXMSGSIZE, &maxmsg, &len), 0);
    assert_int_equal(maxmsg, t->maxmsgsize);
    int v = 0;
    len = sizeof v;
    assert_int_equal(zmq_getsockopt(z, ZMQ_HANDSHAKE_IVL, &v, &len), 0);
    assert_int_equal(v, t->handshake_ivl);
    assert_int_equal(zmq_getsockopt(z, ZMQ_CURVE_SERVER, &v, &len), 0);
    assert_int_equal(v, 1);
    char domain[32];
    len = sizeof domain;
    assert_int_equal(zmq_getsockopt(z, ZMQ_ZAP_DOMAIN, domain, &len), 0);
    assert_string_equal(domain, "nodes");
    assert_non_null(strstr(transport_endpoint(f->nodes), "tcp://127.0.0.1:"));
    assert_null(strstr(transport_endpoint(f->nodes), ":*"));
    assert_int_equal(transport_domain_allows("nodes", ROLE_NODE), 1);
    assert_int_equal(transport_domain_allows("nodes", ROLE_ANALYST), 0);
    assert_int_equal(transport_domain_allows("analysts", ROLE_OPERATOR), 1);
    assert_int_equal(transport_domain_allows("analysts", ROLE_NODE), 0);
    assert_int_equal(transport_domain_allows("other", ROLE_NODE), 0);
}

static void test_server_refuses_to_bind_without_zap(void **state)
{
    struct fx *f = *state;
    unsigned char sec[IDENTITY_KEY_LEN];
    assert_int_equal(identity_curve_keypair(path_of(f, "coord", "transport.key"), sec, NULL), 0);
    struct fed_capture cap;
    assert_int_equal(fed_capture_begin(&cap), 0);
    transport_sock_t *s = transport_server_new(f->zctx, TRANSPORT_COORD_NODES, sec,
                                               "tcp://127.0.0.1:*", NULL, NULL);
    char *log = fed_capture_end(&cap);
    assert_null(s);
    assert_non_null(strstr(log, "ZAP"));
    free(log);
    /* a ZAP handler in a different context does not count */
    void *ctx2 = zmq_ctx_new();
    s = transport_server_new(ctx2, TRANSPORT_COORD_NODES, sec, "tcp://127.0.0.1:*", f->zap,
                             NULL);
    assert_null(s);
    /* a second ZAP handler cannot bind in the same context */
    assert_null(transport_zap_start(f->zctx, f->trust));
    zmq_ctx_term(ctx2);
    OPENSSL_cleanse(sec, sizeof sec);
}

static void test_enrolled_node_accepted_with_user_id(void **state)
{
    struct fx *f = *state;
    transport_sock_t *c = client(f, TRANSPORT_NODE, "n1", f->nodes);
    send_str(c, "hello from 1");
    char body[64], cn[IDENTITY_CN_MAX];
    unsigned char rid[256];
    size_t ridlen = sizeof rid;
    assert_int_equal(server_recv(f->nodes, body, sizeof body, cn, sizeof cn, rid, &ridlen, 5000,
                                 NULL), 0);
    assert_string_equal(body, "hello from 1");
    assert_string_equal(cn, "org:demo-1");
    /* reply over the same connection */
    assert_int_equal(transport_send(f->nodes, rid, ridlen, "ack", 3), TRANSPORT_OK);
    zmq_msg_t m;
    zmq_msg_init(&m);
    char scn[IDENTITY_CN_MAX];
    assert_int_equal(transport_recv(c, &m, NULL, NULL, scn, sizeof scn, 5000), TRANSPORT_OK);
    assert_int_equal(zmq_msg_size(&m), 3);
    assert_memory_equal(zmq_msg_data(&m), "ack", 3);
    assert_string_equal(scn, "coord:state"); /* the pinned coordinator */
    zmq_msg_close(&m);
    /* monitor events arrive asynchronously, possibly after the message */
    struct transport_events ev;
    transport_events_get(c, &ev);
    for (int waited = 0; ev.handshake_ok == 0 && waited < 3000; waited += 20) {
        fed_sleep_ms(20);
        transport_events_get(c, &ev);
    }
    assert_true(ev.handshake_ok >= 1);
    assert_int_equal(ev.failed_auth + ev.failed_protocol, 0);
    unsigned long acc = 0, ref = 0;
    transport_zap_stats(f->zap, &acc, &ref);
    assert_int_equal(acc, 1);
    assert_int_equal(ref, 0);
    /* a peer that is gone is reported, not silently dropped (ROUTER_MANDATORY) */
    assert_int_equal(transport_send(f->nodes, (const unsigned char *)"nobody", 6, "x", 1),
                     TRANSPORT_ERR_UNREACHABLE);
    close_now(f, &c);
}

/* A client that must be refused at the handshake: nothing arrives, the
 * client's monitor sees the refusal, the ZAP log line names the reason. */
static void expect_refused(struct fx *f, transport_role role, const char *sub,
                           transport_sock_t *server, const char *reason)
{
    struct fed_capture cap;
    assert_int_equal(fed_capture_begin(&cap), 0);
    unsigned long ref0 = 0, ref1 = 0;
    transport_zap_stats(f->zap, NULL, &ref0);
    transport_sock_t *c = client(f, role, sub, server);
    send_str(c, "let me in");
    char body[64], cn[IDENTITY_CN_MAX];
    unsigned char rid[256];
    size_t ridlen = sizeof rid;
    struct transport_events ev;
    unsigned long fails = wait_failures(c, 3000, &ev);
    /* the refusal may first look like a dropped connection; ZeroMQ retries
     * and the ZAP status then reaches the client's monitor */
    for (int waited = 0; ev.failed_auth == 0 && waited < 5000; waited += 50) {
        fed_sleep_ms(50);
        transport_events_get(c, &ev);
    }
    int rc = server_recv(server, body, sizeof body, cn, sizeof cn, rid, &ridlen, 500, NULL);
    transport_zap_stats(f->zap, NULL, &ref1);
    close_now(f, &c);
    char *log = fed_capture_end(&cap);
    if (!strstr(log, reason) || getenv("EQ_TEST_VERBOSE"))
        fprintf(stdout, "%s: log was:\n%s\n", sub, log);
    assert_int_equal(rc, TRANSPORT_ERR_AGAIN);
    assert_true(fails >= 1);
    assert_true(ev.failed_auth >= 1);
    assert_true(ref1 > ref0);
    assert_non_null(strstr(log, "refused"));
    assert_non_null(strstr(log, reason));
    free(log);
}

static void test_unknown_key_refused(void **state)
{
    expect_refused(*state, TRANSPORT_NODE, "unknown", ((struct fx *)*state)->nodes,
                   "is not enrolled");
}

static void test_revoked_refused(void **state)
{
    expect_refused(*state, TRANSPORT_NODE, "revoked", ((struct fx *)*state)->nodes,
                   "org:revoked (serial");
}

static void test_expired_refused(void **state)
{
    expect_refused(*state, TRANSPORT_NODE, "expired", ((struct fx *)*state)->nodes,
                   "certificate expired");
}

static void test_other_ca_refused(void **state)
{
    expect_refused(*state, TRANSPORT_NODE, "foreign", ((struct fx *)*state)->nodes,
                   "does not verify against the CA");
}

static void test_analyst_refused_on_node_socket(void **state)
{
    expect_refused(*state, TRANSPORT_ANALYST, "an", ((struct fx *)*state)->nodes,
                   "role analyst is not allowed");
}

static void test_node_refused_on_analyst_socket(void **state)
{
    expect_refused(*state, TRANSPORT_NODE, "n2", ((struct fx *)*state)->analysts,
                   "role node is not allowed");
}

static void test_analyst_and_operator_accepted_on_analyst_socket(void **state)
{
    struct fx *f = *state;
    const char *subs[] = {"an", "op"};
    const char *cns[] = {"analyst:ana", "operator:olu"};
    for (int i = 0; i < 2; i++) {
        transport_sock_t *c = client(f, TRANSPORT_ANALYST, subs[i], f->analysts);
        send_str(c, "query");
        char body[64], cn[IDENTITY_CN_MAX];
        unsigned char rid[256];
        size_t ridlen = sizeof rid;
        assert_int_equal(server_recv(f->analysts, body, sizeof body, cn, sizeof cn, rid,
                                     &ridlen, 5000, NULL), 0);
        assert_string_equal(body, "query");
        assert_string_equal(cn, cns[i]);
        close_now(f, &c);
    }
}

static void test_wrong_pinned_server_key(void **state)
{
    struct fx *f = *state;
    /* node 1 pins node 2's key as if it were the coordinator's */
    unsigned char sec[IDENTITY_KEY_LEN], pub[IDENTITY_KEY_LEN], wrong[IDENTITY_KEY_LEN];
    assert_int_equal(identity_curve_keypair(path_of(f, "n1", "transport.key"), sec, pub), 0);
    X509 *c2 = NULL;
    assert_int_equal(identity_load_cert(path_of(f, "n2", "transport.crt"), &c2), 0);
    assert_int_equal(identity_curve_public(c2, wrong), 0);
    X509_free(c2);
    struct fed_capture cap;
    assert_int_equal(fed_capture_begin(&cap), 0);
    transport_sock_t *c = transport_client_new(f->zctx, TRANSPORT_NODE, sec, pub, wrong,
                                               transport_endpoint(f->nodes), NULL);
    track(f, c);
    OPENSSL_cleanse(sec, sizeof sec);
    assert_non_null(c);
    send_str(c, "hello?");
    char body[64], cn[IDENTITY_CN_MAX];
    unsigned char rid[256];
    size_t ridlen = sizeof rid;
    struct transport_events cev, sev;
    unsigned long cf = wait_failures(c, 3000, &cev);
    unsigned long sf = wait_failures(f->nodes, 3000, &sev);
    int rc = server_recv(f->nodes, body, sizeof body, cn, sizeof cn, rid, &ridlen, 500, NULL);
    close_now(f, &c);
    char *log = fed_capture_end(&cap);
    if (getenv("EQ_TEST_VERBOSE"))
        fprintf(stdout, "wrong key: log was:\n%s\n", log);
    assert_int_equal(rc, TRANSPORT_ERR_AGAIN);
    assert_true(cf >= 1);                 /* the node's monitor saw it       */
    assert_true(sev.failed_protocol >= 1); /* the coordinator could not decrypt */
    assert_true(sf >= 1);
    assert_int_equal(cev.handshake_ok, 0);
    /* the node's log says what is wrong, with the endpoint */
    assert_non_null(strstr(log, "pinned coordinator"));
    assert_non_null(strstr(log, transport_endpoint(f->nodes)));
    assert_non_null(strstr(cev.last_failure, transport_endpoint(f->nodes)));
    unsigned long acc = 0;
    transport_zap_stats(f->zap, &acc, NULL);
    assert_int_equal(acc, 0); /* never reached ZAP */
    free(log);
}

static void test_revocation_after_connect(void **state)
{
    struct fx *f = *state;
    transport_sock_t *c3 = client(f, TRANSPORT_NODE, "n3", f->nodes);
    transport_sock_t *c1 = client(f, TRANSPORT_NODE, "n1", f->nodes);
    char body[64], cn[IDENTITY_CN_MAX];
    unsigned char rid[256];
    size_t ridlen = sizeof rid;
    send_str(c3, "before");
    assert_int_equal(server_recv(f->nodes, body, sizeof body, cn, sizeof cn, rid, &ridlen, 5000,
                                 NULL), 0);
    assert_string_equal(body, "before");
    assert_string_equal(cn, "org:demo-3");
    send_str(c1, "one");
    ridlen = sizeof rid;
    assert_int_equal(server_recv(f->nodes, body, sizeof body, cn, sizeof cn, rid, &ridlen, 5000,
                                 NULL), 0);
    assert_string_equal(cn, "org:demo-1");

    /* the CA revokes node 3; the coordinator's CRL file changes */
    X509 *t3 = NULL;
    assert_int_equal(identity_load_cert(path_of(f, "n3", "transport.crt"), &t3), 0);
    assert_int_equal(ca_revoke(f->ca, t3), 0);
    X509_free(t3);

    struct fed_capture cap;
    assert_int_equal(fed_capture_begin(&cap), 0);
    send_str(c3, "after");
    int dropped = 0;
    ridlen = sizeof rid;
    int rc0 = server_recv(f->nodes, body, sizeof body, cn, sizeof cn, rid, &ridlen, 2000,
                          &dropped);
    int dropped0 = dropped;
    /* node 3 keeps trying: nothing of it arrives any more (its connection was
     * closed by the re-bind and ZAP refuses it now) */
    /* (its connection is gone, so the message may also stay queued locally) */
    zmq_send(transport_zsock(c3), "again", 5, ZMQ_DONTWAIT);
    ridlen = sizeof rid;
    int rc = server_recv(f->nodes, body, sizeof body, cn, sizeof cn, rid, &ridlen, 1500,
                         &dropped);
    /* node 1 reconnects and is still served */
    send_str(c1, "two");
    ridlen = sizeof rid;
    int rc1 = server_recv(f->nodes, body, sizeof body, cn, sizeof cn, rid, &ridlen, 8000,
                          &dropped);
    char *log = fed_capture_end(&cap);
    if (getenv("EQ_TEST_VERBOSE") || rc0 != TRANSPORT_ERR_AGAIN || dropped0 != 1 || rc1 != 0)
        fprintf(stdout, "revocation: rc0 %d dropped %d rc %d rc1 %d body %s log was:\n%s\n",
                rc0, dropped0, rc, rc1, body, log);
    assert_int_equal(rc0, TRANSPORT_ERR_AGAIN);
    assert_int_equal(dropped0, 1);
    assert_int_equal(rc, TRANSPORT_ERR_AGAIN);
    assert_int_equal(rc1, 0);
    assert_string_equal(body, "two");
    assert_string_equal(cn, "org:demo-1");
    assert_non_null(strstr(log, "dropped a message from org:demo-3: certificate revoked"));
    assert_non_null(strstr(log, "org:demo-3 (serial"));
    free(log);
    close_now(f, &c1);
    close_now(f, &c3);
}

static void test_msg_without_user_id_is_dropped(void **state)
{
    (void)state;
    zmq_msg_t m;
    zmq_msg_init_size(&m, 4);
    memcpy(zmq_msg_data(&m), "data", 4);
    char uid[64];
    assert_int_equal(transport_msg_user_id(&m, uid, sizeof uid), TRANSPORT_ERR_DROPPED);
    assert_string_equal(uid, "");
    zmq_msg_close(&m);
}

static void test_oversized_message_never_arrives(void **state)
{
    struct fx *f = *state;
    /* the coordinator's nodes socket accepts 16 MiB; a 17 MiB message closes
     * the connection instead of being delivered */
    transport_sock_t *c = client(f, TRANSPORT_NODE, "n2", f->nodes);
    size_t big = (size_t)transport_settings_for(TRANSPORT_COORD_NODES)->maxmsgsize + (1 << 20);
    char *buf = calloc(1, big);
    assert_non_null(buf);
    assert_int_equal(transport_send(c, NULL, 0, buf, big), TRANSPORT_OK);
    free(buf);
    char body[64], cn[IDENTITY_CN_MAX];
    unsigned char rid[256];
    size_t ridlen = sizeof rid;
    assert_int_equal(server_recv(f->nodes, body, sizeof body, cn, sizeof cn, rid, &ridlen, 2000,
                                 NULL), TRANSPORT_ERR_AGAIN);
    close_now(f, &c);
}

/* A re-bind that fails (here: the ipc folder is gone) marks the socket
 * broken, so that the daemon exits instead of serving nothing (or leaving
 * the endpoint to whoever takes it). */
static void test_failed_rebind_marks_broken(void **state)
{
    struct fx *f = *state;
    unsigned char sec[IDENTITY_KEY_LEN];
    assert_int_equal(identity_curve_keypair(path_of(f, "coord", "transport.key"), sec, NULL), 0);
    char sockdir[600], ep[700], cmd[700];
    snprintf(sockdir, sizeof sockdir, "%s", path_of(f, "coord", "ipc"));
    assert_int_equal(mkdir(sockdir, 0700), 0);
    snprintf(ep, sizeof ep, "ipc://%s/s.sock", sockdir);
    transport_sock_t *s = transport_server_new(f->zctx, TRANSPORT_COORD_NODES, sec, ep, f->zap,
                                               NULL);
    OPENSSL_cleanse(sec, sizeof sec);
    assert_non_null(s);
    assert_int_equal(transport_sock_broken(s), 0);
    assert_int_equal(transport_server_reset(s), TRANSPORT_OK); /* the folder is there */
    assert_int_equal(transport_sock_broken(s), 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", sockdir);
    assert_int_equal(system(cmd), 0);
    assert_int_not_equal(transport_server_reset(s), TRANSPORT_OK);
    assert_int_equal(transport_sock_broken(s), 1);
    transport_sock_destroy(&s);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_settings_table_applied),
        T(test_server_refuses_to_bind_without_zap),
        T(test_enrolled_node_accepted_with_user_id),
        T(test_unknown_key_refused),
        T(test_revoked_refused),
        T(test_expired_refused),
        T(test_other_ca_refused),
        T(test_analyst_refused_on_node_socket),
        T(test_node_refused_on_analyst_socket),
        T(test_analyst_and_operator_accepted_on_analyst_socket),
        T(test_wrong_pinned_server_key),
        T(test_revocation_after_connect),
        cmocka_unit_test(test_msg_without_user_id_is_dropped),
        T(test_oversized_message_never_arrives),
        T(test_failed_rebind_marks_broken),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
