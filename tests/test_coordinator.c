/*
 * test_coordinator.c - the built equity-coordinator binary over loopback
 * with real certificates (made with ca.h in a temporary folder), real CURVE
 * sockets and a real test node (DEALER) that signs its submissions:
 *
 *  - check-config accepts the folder and refuses a world-readable key;
 *  - HELLO gets the signed round request; a good submission is stored and
 *    ACKed; an identical resend is a duplicate (still one row);
 *  - each rejection leaves nothing stored and the server keeps serving:
 *    conflict, closed round, unknown round, tampered payload byte, another
 *    organization's signature, a released cell below k, an oversized
 *    message (connection dropped), a malformed protobuf;
 *  - a late submission is stored with late = 1 and not pooled; closing a
 *    round writes pooled.csv; the audit log verifies;
 *  - crash loop: the daemon _exits between COMMIT and ACK (test hook
 *    EQ_TEST_CRASH_AFTER_COMMIT=1); after a restart the resend is ACKed as
 *    a duplicate, every submission is stored exactly once, the database
 *    passes integrity_check;
 *  - group commit: messages that wait together (the daemon is stopped while
 *    they arrive) are decided in one batch exactly as one by one: a
 *    submission, its identical resend (duplicate ACK, one row) and a
 *    different one (conflict) from one organization, plus another
 *    organization's submission; the audit log verifies;
 *  - a signing certificate revoked after it was accepted (and its
 *    verification remembered) is refused at the next submission;
 *  - fail closed: an audit log that cannot be written gets "internal,
 *    resend" and nothing stored; audit verify reports a cut-off tail (the
 *    store's anchor); a torn tail is cut off and recorded; the ZAP thread's
 *    end makes the daemon exit 3; SIGHUP enrols a new certificate;
 *  - rounds: the deadline closes and releases a round; a revoked
 *    organization is not pooled and is shown revoked; an interrupted close
 *    is finished by a second one; fewer than min_orgs needs --force; round
 *    open options, extend, cancel;
 *  - node statuses (held / failing on site): stored and shown by round
 *    status, a resend is a duplicate, refused for an unknown, cancelled or
 *    answered round, another organization's name or signature; a
 *    submission supersedes one; a hostile node's flood of thousands of
 *    statuses is rate-limited, and the store, the audit log and the
 *    daemon's log stay bounded;
 *  - descriptors: refused handshakes are logged in bounded lines, idle TCP
 *    connections from one address are capped, the soft RLIMIT_NOFILE is
 *    raised to the hard one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>
#include <zmq.h>

#include "ca.h"
#include "cells.h"
#include "envelope.h"
#include "identity.h"
#include "store.h"
#include "transport.h"
#include "wire.h"
#include "atomic_file.h"

#define BIN EQ_BINARY_DIR "/bin/equity-coordinator"
#define CRASH_ITERATIONS 20

static char dir[256], ini[400], endpoint[64], dbpath[400];
static void *zctx;
static trust_t *trust;
static pid_t daemon_pid; /* the running daemon, killed by teardown after a failure */

/* ---- helpers -------------------------------------------------------------- */

static void path_of(char *out, size_t len, const char *rel)
{
    snprintf(out, len, "%s/%s", dir, rel);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &l))
        return -1;
    int port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void write_ini(const char *file, int max_message, const char *key_override)
{
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fprintf(f,
            "[coordinator]\nnode_endpoint = %s\nmax_message_bytes = %d\npoll_ms = 50\n"
            "[identity]\nca = %s/ca/ca.crt\ncrl = %s/ca/ca.crl\n"
            "transport_cert = certs/transport.crt\ntransport_key = %s\n"
            "signing_cert = certs/signing.crt\nsigning_key = certs/signing.key\n"
            "enrolled_dir = enrolled\n"
            "[store]\ndatabase = coordinator.db\naudit_log = audit.log\nresults_dir = results\n"
            "[round]\nmeasures = population ed_rate\nstratifiers = race\nintersections = none\n"
            "k = 11\n",
            endpoint, max_message, dir, dir, key_override ? key_override : "certs/transport.key");
    fclose(f);
}

/* Runs a shell command; stdout (trimmed) into out. Returns the exit status. */
static int run(char *out, size_t outlen, const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = 0;
    char tmp[4096];
    size_t got;
    while ((got = fread(tmp, 1, sizeof tmp, p)) > 0)
        if (out && n + got < outlen) {
            memcpy(out + n, tmp, got);
            n += got;
        }
    if (out) {
        out[n] = 0;
        while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
            out[--n] = 0;
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The cases of this file share one coordinator, and every round has
 * period 2025: a pooled release is checked against the earlier pooled
 * releases of its period (the release ledger, tested in test_release.c),
 * so a case that asserts exact pooled numbers of unrelated data starts
 * without them. */
static void forget_ledger(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/coord/results/.ledger'", dir);
    assert_int_equal(system(cmd), 0);
}

static void open_round(char id[64], const char *extra)
{
    char out[256];
    assert_int_equal(run(out, sizeof out, "%s round open --config %s --period 2025 %s 2>>%s/cli.log",
                         BIN, ini, extra ? extra : "", dir), 0);
    assert_true(strlen(out) > 8 && strlen(out) < 64);
    snprintf(id, 64, "%.63s", out);
}

static pid_t start_daemon(int crash)
{
    char logf[400];
    path_of(logf, sizeof logf, "daemon.log");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        if (crash)
            setenv("EQ_TEST_CRASH_AFTER_COMMIT", "1", 1);
        else
            unsetenv("EQ_TEST_CRASH_AFTER_COMMIT");
        execl(BIN, BIN, "run", "--config", ini, (char *)NULL);
        _exit(127);
    }
    daemon_pid = pid;
    return pid;
}

/* Waits up to 20 s for the daemon to end; returns its wait status. */
static int wait_daemon(pid_t pid)
{
    int st = 0;
    for (int i = 0; i < 400; i++) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            daemon_pid = 0;
            return st;
        }
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    daemon_pid = 0;
    fail_msg("daemon %d did not exit", (int)pid);
    return st;
}

static void stop_daemon(pid_t pid)
{
    kill(pid, SIGTERM);
    int st = wait_daemon(pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* A test node: a plain ZeroMQ DEALER with CURVE client options (a different
 * route than transport.c's client), pinning the coordinator's key. */
struct node {
    const char *org;
    void *s;
    EVP_PKEY *sign_key;
    X509 *sign_cert;
};

static void node_open(struct node *n, const char *org, const char *sub)
{
    memset(n, 0, sizeof *n);
    n->org = org;
    char key[400], cert[400], coord[400];
    snprintf(key, sizeof key, "%s/%s/transport.key", dir, sub);
    snprintf(coord, sizeof coord, "%s/coord/certs/transport.crt", dir);
    unsigned char sec[IDENTITY_KEY_LEN], pub[IDENTITY_KEY_LEN], spub[IDENTITY_KEY_LEN];
    assert_int_equal(identity_curve_keypair(key, sec, pub), 0);
    X509 *c = NULL;
    assert_int_equal(identity_load_cert(coord, &c), 0);
    assert_int_equal(identity_curve_public(c, spub), 0);
    X509_free(c);
    n->s = zmq_socket(zctx, ZMQ_DEALER);
    assert_non_null(n->s);
    int zero = 0, ivl = 50, ivl_max = 200, sndtimeo = 3000;
    zmq_setsockopt(n->s, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
    assert_int_equal(zmq_setsockopt(n->s, ZMQ_CURVE_SERVERKEY, spub, 32), 0);
    assert_int_equal(zmq_setsockopt(n->s, ZMQ_CURVE_PUBLICKEY, pub, 32), 0);
    assert_int_equal(zmq_setsockopt(n->s, ZMQ_CURVE_SECRETKEY, sec, 32), 0);
    OPENSSL_cleanse(sec, sizeof sec);
    zmq_setsockopt(n->s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(n->s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(n->s, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    assert_int_equal(zmq_connect(n->s, endpoint), 0);
    snprintf(key, sizeof key, "%s/%s/signing.key", dir, sub);
    snprintf(cert, sizeof cert, "%s/%s/signing.crt", dir, sub);
    assert_int_equal(identity_load_secret_key(key, &n->sign_key), 0);
    assert_int_equal(identity_load_cert(cert, &n->sign_cert), 0);
}

static void node_close(struct node *n)
{
    if (n->s)
        zmq_close(n->s);
    n->s = NULL;
    EVP_PKEY_free(n->sign_key);
    X509_free(n->sign_cert);
    n->sign_key = NULL;
    n->sign_cert = NULL;
}

/* 0, or -1 if the message could not be queued within the send timeout
 * (no connection completed its handshake). */
static int node_send(struct node *n, const uint8_t *buf, size_t len)
{
    return zmq_send(n->s, buf, len, 0) == (int)len ? 0 : -1;
}

/* Receives one reply into *e: 0, or -1 when nothing came within ms. */
static int recv_more(struct node *n, struct envelope *e, int ms)
{
    zmq_pollitem_t it = {n->s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, ms) <= 0)
        return -1;
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, n->s, 0) >= 0);
    char err[256];
    int rc = envelope_unpack(zmq_msg_data(&m), zmq_msg_size(&m), e, err, sizeof err);
    zmq_msg_close(&m);
    assert_int_equal(rc, 0);
    return 0;
}

/* Sends raw bytes; receives one reply into *e (0), or -1 on timeout. */
static int exchange(struct node *n, const uint8_t *buf, size_t len, struct envelope *e, int ms)
{
    if (node_send(n, buf, len) != 0)
        return -1;
    return recv_more(n, e, ms);
}

static void hello(struct node *n, struct envelope *e)
{
    uint8_t *p = NULL, *env = NULL;
    size_t plen, elen;
    assert_int_equal(hello_pack(n->org, "test-node", &p, &plen), 0);
    assert_int_equal(envelope_pack(MSG_HELLO, p, plen, NULL, NULL, &env, &elen, NULL), 0);
    assert_int_equal(exchange(n, env, elen, e, 10000), 0);
    free(p);
    free(env);
}

/* The RoundRequest payload's SHA-256 as the store has it. */
static void request_sha(const char *round_id, char sha[65])
{
    store_t *st = store_open(dbpath);
    assert_non_null(st);
    struct store_round r;
    assert_int_equal(store_round_get(st, round_id, &r), 0);
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256(r.request, r.request_len, d);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(sha + 2 * i, 3, "%02x", d[i]);
    store_round_clear(&r);
    store_close(&st);
}

/* A signed SUBMISSION envelope with ed_rate total (members) and by race
 * (BLACK and WHITE, half each) for a round.
 * payload_sha receives the SHA-256 of the Submission payload. */
static void make_submission(const char *org, const char *round_id, const char *req_sha,
                            double members, EVP_PKEY *key, X509 *cert, uint8_t **env,
                            size_t *elen, char payload_sha[65])
{
    struct cellset_builder *b = cellset_builder_new();
    struct cell v;
    char err[256];
    memset(&v, 0, sizeof v);
    v.members = members;
    v.member_months = (int64_t)(members * 12) * CELL_MONTHS_SCALE;
    v.denominator = v.member_months;
    int64_t events = (int64_t)(members / 8); /* per race stratum: events are whole */
    v.numerator = 2 * events;
    assert_int_equal(cellset_builder_add(b, "ed_rate", "total", "all", &v, err, sizeof err), 0);
    /* two race strata, each half of the total, both released */
    v.members = members / 2;
    v.member_months = (int64_t)(members * 6) * CELL_MONTHS_SCALE;
    v.denominator = v.member_months;
    v.numerator = events;
    assert_int_equal(cellset_builder_add(b, "ed_rate", "race", "BLACK", &v, err, sizeof err), 0);
    assert_int_equal(cellset_builder_add(b, "ed_rate", "race", "WHITE", &v, err, sizeof err), 0);
    struct cellset *cs = cellset_builder_finish(&b);
    assert_non_null(cs);
    snprintf(cs->org, sizeof cs->org, "%s", org);
    snprintf(cs->round, sizeof cs->round, "%s", round_id);
    snprintf(cs->period, sizeof cs->period, "2025");
    cs->k = 11;
    struct submission_meta meta;
    assert_int_equal(wire_meta_init(&meta, cs), 0);
    snprintf(meta.request_sha256, sizeof meta.request_sha256, "%s", req_sha);
    uint8_t *p = NULL;
    size_t plen = 0;
    assert_int_equal(wire_submission_pack(cs, &meta, &p, &plen), 0);
    if (payload_sha) {
        unsigned char d[SHA256_DIGEST_LENGTH];
        SHA256(p, plen, d);
        for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
            snprintf(payload_sha + 2 * i, 3, "%02x", d[i]);
    }
    assert_int_equal(envelope_pack(MSG_SUBMISSION, p, plen, key, cert, env, elen, NULL), 0);
    free(p);
    cellset_destroy(&cs);
}

static void expect_ack(struct envelope *e, const char *round_id, const char *sha, int duplicate,
                       int late)
{
    assert_int_equal(e->type, MSG_ACK);
    struct ack a;
    char err[256];
    assert_int_equal(ack_unpack(e->payload, e->payload_len, &a, err, sizeof err), 0);
    assert_string_equal(a.round_id, round_id);
    if (sha)
        assert_string_equal(a.stored_sha256, sha);
    assert_int_equal(a.duplicate, duplicate);
    assert_int_equal(a.late, late);
    envelope_free(e);
}

static void expect_error(struct envelope *e, const char *code)
{
    assert_int_equal(e->type, MSG_ERROR);
    struct error_msg m;
    char err[256];
    assert_int_equal(error_unpack(e->payload, e->payload_len, &m, err, sizeof err), 0);
    if (strcmp(m.code, code) != 0)
        fail_msg("expected error %s, got %s (%s)", code, m.code, m.message);
    envelope_free(e);
}

static int submissions_stored(const char *round_id)
{
    store_t *st = store_open(dbpath);
    assert_non_null(st);
    int n = -1;
    assert_int_equal(store_submission_count(st, round_id, &n), 0);
    store_close(&st);
    return n;
}

/* ---- federation ----------------------------------------------------------- */

static void copy_cert(const char *from_rel, const char *to_rel)
{
    char from[400], to[400];
    path_of(from, sizeof from, from_rel);
    path_of(to, sizeof to, to_rel);
    X509 *c = NULL;
    assert_int_equal(identity_load_cert(from, &c), 0);
    assert_int_equal(identity_write_cert(to, c), 0);
    X509_free(c);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/eq_coord_" EQ_MKTEMP_SUFFIX);
    if (!mkdtemp(dir))
        return -1;
    char p[400];
    path_of(p, sizeof p, "ca");
    if (ca_init(p, "Test Federation", CA_DEFAULT_CA_DAYS) != 0)
        return -1;
    ca_t *ca = ca_open(p);
    if (!ca)
        return -1;
    struct { identity_role role; const char *name, *out; } ids[] = {
        {ROLE_COORDINATOR, "coord:test", "coord/certs"},
        {ROLE_NODE, "org:a", "org-a"},
        {ROLE_NODE, "org:b", "org-b"},
        {ROLE_NODE, "org:c", "org-c"}, /* issued by the CA but not enrolled */
        {ROLE_NODE, "org:d", "org-d"},
        {ROLE_NODE, "org:e", "org-e"},
        {ROLE_NODE, "org:r", "org-r"}, /* its signing certificate gets revoked */
    };
    path_of(p, sizeof p, "coord");
    mkdir(p, 0700);
    path_of(p, sizeof p, "coord/enrolled");
    mkdir(p, 0700);
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        struct ca_issue_opts o = {.role = ids[i].role, .name = ids[i].name};
        path_of(p, sizeof p, ids[i].out);
        if (ca_issue(ca, &o, p) != 0)
            return -1;
    }
    ca_destroy(&ca);
    copy_cert("org-a/transport.crt", "coord/enrolled/org-a.crt");
    copy_cert("org-b/transport.crt", "coord/enrolled/org-b.crt");
    copy_cert("org-d/transport.crt", "coord/enrolled/org-d.crt");
    copy_cert("org-e/transport.crt", "coord/enrolled/org-e.crt");
    copy_cert("org-r/transport.crt", "coord/enrolled/org-r.crt");
    int port = free_port();
    if (port <= 0)
        return -1;
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    path_of(ini, sizeof ini, "coord/coordinator.ini");
    path_of(dbpath, sizeof dbpath, "coord/coordinator.db");
    write_ini(ini, 262144, NULL);
    zctx = zmq_ctx_new();
    char ca_crt[400], ca_crl[400];
    path_of(ca_crt, sizeof ca_crt, "ca/ca.crt");
    path_of(ca_crl, sizeof ca_crl, "ca/ca.crl");
    trust = trust_new(ca_crt, ca_crl, NULL);
    signal(SIGPIPE, SIG_IGN);
    return trust && zctx ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    trust_destroy(&trust);
    if (daemon_pid > 0) {
        kill(daemon_pid, SIGKILL);
        waitpid(daemon_pid, NULL, 0);
    }
    /* After a failed assertion a test's sockets may still be open, and
     * zmq_ctx_term would wait for them forever: shutdown does not wait. */
    if (zctx)
        zmq_ctx_shutdown(zctx);
    if (!getenv("EQ_KEEP_TMP")) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            return -1;
    }
    return 0;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_check_config(void **state)
{
    (void)state;
    char out[8192];
    assert_int_equal(run(out, sizeof out, "%s check-config --config %s 2>&1", BIN, ini), 0);
    assert_non_null(strstr(out, "coordinator id: coord:test"));
    assert_non_null(strstr(out, "enrolled transport certificates: 5"));
    assert_non_null(strstr(out, "node_endpoint = tcp://127.0.0.1:"));
    /* the node socket's message limit defaults to 16 MiB (security.md) */
    assert_int_equal(run(out, sizeof out,
                         "sed '/^max_message_bytes/d' %s >%s.nomax && %s check-config --config "
                         "%s.nomax 2>&1", ini, ini, BIN, ini), 0);
    assert_non_null(strstr(out, "max_message_bytes = 16777216"));
    /* --quiet: nothing at all when the configuration is good */
    assert_int_equal(run(out, sizeof out, "%s check-config --config %s --quiet 2>&1", BIN, ini),
                     0);
    assert_string_equal(out, "");
    /* a world-readable copy of the transport key is refused with file:line */
    char bad_ini[400], key[400], copy[400];
    path_of(bad_ini, sizeof bad_ini, "coord/bad.ini");
    path_of(key, sizeof key, "coord/certs/transport.key");
    path_of(copy, sizeof copy, "coord/open.key");
    assert_int_equal(run(NULL, 0, "cp '%s' '%s' && chmod 644 '%s'", key, copy, copy), 0);
    write_ini(bad_ini, 262144, copy);
    assert_int_equal(run(out, sizeof out, "%s check-config --config %s 2>&1", BIN, bad_ini), 1);
    assert_non_null(strstr(out, "bad.ini:9: [identity] transport_key"));
    assert_int_equal(run(out, sizeof out, "%s check-config --config %s --quiet 2>&1", BIN,
                         bad_ini), 1);
    assert_non_null(strstr(out, "bad.ini:9: [identity] transport_key"));
    /* an unknown key is a syntax error with its line */
    FILE *f = fopen(bad_ini, "a");
    fputs("[round]\ncolour = blue\n", f);
    fclose(f);
    assert_int_equal(run(out, sizeof out, "%s check-config --config %s 2>&1", BIN, bad_ini), 1);
    assert_non_null(strstr(out, "bad.ini:23: unknown key \"colour\""));
    /* usage errors */
    assert_int_equal(run(NULL, 0, "%s round 2>/dev/null", BIN), 2);
    assert_int_equal(run(NULL, 0, "%s round open --config %s 2>/dev/null", BIN, ini), 2);
}

static void test_submissions(void **state)
{
    (void)state;
    char r1[64], r2[64], r3[64], out[8192];
    open_round(r1, NULL);
    assert_non_null(strstr(r1, "2025-r1-"));
    pid_t d = start_daemon(0);
    struct node a, b;
    node_open(&a, "org:a", "org-a");
    node_open(&b, "org:b", "org-b");

    /* HELLO -> the signed round request */
    struct envelope e;
    hello(&a, &e);
    assert_int_equal(e.type, MSG_ROUND_REQUEST);
    struct identity_info signer;
    assert_int_equal(envelope_verify(trust, &e, "coord:test", &signer), 0);
    struct round_request rr;
    char err[256];
    assert_int_equal(round_request_unpack(e.payload, e.payload_len, &rr, err, sizeof err), 0);
    assert_string_equal(rr.round_id, r1);
    assert_int_equal(rr.k, 11);
    assert_true(rr.measure_on[catalog_measure_find("ed_rate")]);
    assert_false(rr.measure_on[catalog_measure_find("cost_pmpm")]);
    char req_sha[65];
    unsigned char dg[SHA256_DIGEST_LENGTH];
    SHA256(e.payload, e.payload_len, dg);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(req_sha + 2 * i, 3, "%02x", dg[i]);
    envelope_free(&e);

    /* a node that is not enrolled cannot even get its HELLO through */
    struct node c;
    node_open(&c, "org:c", "org-c");
    {
        uint8_t *hp = NULL, *he = NULL;
        size_t hpl, hel;
        assert_int_equal(hello_pack("org:c", "test-node", &hp, &hpl), 0);
        assert_int_equal(envelope_pack(MSG_HELLO, hp, hpl, NULL, NULL, &he, &hel, NULL), 0);
        assert_int_equal(exchange(&c, he, hel, &e, 1500), -1);
        free(hp);
        free(he);
    }
    node_close(&c);

    /* a good submission: stored, then ACKed */
    uint8_t *good = NULL, *other = NULL, *bad = NULL;
    size_t glen, olen, blen;
    char sha[65];
    make_submission("org:a", r1, req_sha, 100, a.sign_key, a.sign_cert, &good, &glen, sha);
    assert_int_equal(exchange(&a, good, glen, &e, 10000), 0);
    expect_ack(&e, r1, sha, 0, 0);
    assert_int_equal(submissions_stored(r1), 1);

    /* replay: duplicate ACK, still one row */
    assert_int_equal(exchange(&a, good, glen, &e, 10000), 0);
    expect_ack(&e, r1, sha, 1, 0);
    assert_int_equal(submissions_stored(r1), 1);

    /* a different second submission: conflict */
    make_submission("org:a", r1, req_sha, 200, a.sign_key, a.sign_cert, &other, &olen, NULL);
    assert_int_equal(exchange(&a, other, olen, &e, 10000), 0);
    expect_error(&e, "conflict");
    free(other);

    /* org:b: a tampered byte in the payload */
    make_submission("org:b", r1, req_sha, 120, b.sign_key, b.sign_cert, &bad, &blen, NULL);
    uint8_t *tampered = malloc(blen);
    memcpy(tampered, bad, blen);
    struct envelope parsed;
    assert_int_equal(envelope_unpack(bad, blen, &parsed, err, sizeof err), 0);
    uint8_t *at = memmem(tampered, blen, parsed.payload, parsed.payload_len);
    assert_non_null(at);
    at[parsed.payload_len / 2] ^= 0x01;
    envelope_free(&parsed);
    assert_int_equal(exchange(&b, tampered, blen, &e, 10000), 0);
    expect_error(&e, "bad_signature");
    free(tampered);

    /* org:b's connection, org:a's signature (valid certificate, wrong CN) */
    make_submission("org:b", r1, req_sha, 120, a.sign_key, a.sign_cert, &other, &olen, NULL);
    assert_int_equal(exchange(&b, other, olen, &e, 10000), 0);
    expect_error(&e, "signer_mismatch");
    free(other);

    /* unknown round */
    make_submission("org:b", "2025-r99-ffff", req_sha, 120, b.sign_key, b.sign_cert, &other,
                    &olen, NULL);
    assert_int_equal(exchange(&b, other, olen, &e, 10000), 0);
    expect_error(&e, "unknown_round");
    free(other);

    /* a released cell below k */
    make_submission("org:b", r1, req_sha, 5, b.sign_key, b.sign_cert, &other, &olen, NULL);
    assert_int_equal(exchange(&b, other, olen, &e, 10000), 0);
    expect_error(&e, "implausible");
    free(other);

    /* a malformed protobuf */
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99};
    assert_int_equal(exchange(&b, junk, sizeof junk, &e, 10000), 0);
    expect_error(&e, "malformed");

    /* an oversized message: the connection is dropped, no reply */
    size_t big = 300000;
    uint8_t *huge = calloc(1, big);
    assert_int_equal(exchange(&b, huge, big, &e, 1500), -1);
    free(huge);
    node_close(&b);
    assert_int_equal(submissions_stored(r1), 1);

    /* ... and the server keeps serving: org:b's good submission */
    node_open(&b, "org:b", "org-b");
    char shab[65];
    assert_int_equal(exchange(&b, bad, blen, &e, 10000), 0);
    SHA256(NULL, 0, dg);
    {
        struct envelope pe;
        assert_int_equal(envelope_unpack(bad, blen, &pe, err, sizeof err), 0);
        SHA256(pe.payload, pe.payload_len, dg);
        for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
            snprintf(shab + 2 * i, 3, "%02x", dg[i]);
        envelope_free(&pe);
    }
    expect_ack(&e, r1, shab, 0, 0);
    assert_int_equal(submissions_stored(r1), 2);

    /* closed round: opened and closed from the CLI while the daemon runs */
    open_round(r2, NULL);
    assert_int_equal(run(out, sizeof out, "%s round close --config %s --round %s --force 2>>%s/cli.log",
                         BIN, ini, r2, dir), 0);
    char r2sha[65];
    request_sha(r2, r2sha);
    make_submission("org:a", r2, r2sha, 100, a.sign_key, a.sign_cert, &other, &olen, NULL);
    assert_int_equal(exchange(&a, other, olen, &e, 10000), 0);
    expect_error(&e, "round_closed");
    free(other);
    assert_int_equal(submissions_stored(r2), 0);

    /* late: a round whose deadline has passed stores with late = 1 (a
     * deadline in the past is refused at open; the daemon cannot close this
     * one by itself at its deadline: no submission in time, min_orgs 2) */
    assert_int_equal(run(out, sizeof out, "%s round open --config %s --period 2025 --deadline "
                         "2020-01-01 2>&1", BIN, ini), 1);
    assert_non_null(strstr(out, "already past"));
    {
        char dl[64], opt[96];
        time_t soon = time(NULL) + 2;
        struct tm tm;
        gmtime_r(&soon, &tm);
        strftime(dl, sizeof dl, "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(opt, sizeof opt, "--deadline %s", dl);
        open_round(r3, opt);
        while (time(NULL) <= soon + 1)
            usleep(100000);
    }
    char r3sha[65];
    request_sha(r3, r3sha);
    make_submission("org:a", r3, r3sha, 100, a.sign_key, a.sign_cert, &other, &olen, sha);
    assert_int_equal(exchange(&a, other, olen, &e, 10000), 0);
    expect_ack(&e, r3, sha, 0, 1);
    free(other);

    /* org:a has answered every open round: HELLO says nothing open */
    hello(&a, &e);
    expect_ack(&e, "", NULL, 0, 0);
    /* org:b still has r3 open */
    hello(&b, &e);
    assert_int_equal(e.type, MSG_ROUND_REQUEST);
    envelope_free(&e);

    /* a refusal is stored and shows in the status */
    uint8_t *rp = NULL, *renv = NULL;
    size_t rplen, relen;
    assert_int_equal(refusal_pack(r3, "org:b", "stratifier race not allowed", &rp, &rplen), 0);
    assert_int_equal(envelope_pack(MSG_REFUSAL, rp, rplen, b.sign_key, b.sign_cert, &renv,
                                   &relen, NULL), 0);
    assert_int_equal(exchange(&b, renv, relen, &e, 10000), 0);
    expect_ack(&e, r3, NULL, 0, 0);
    free(rp);
    free(renv);
    assert_int_equal(run(out, sizeof out, "%s round status --config %s --round %s", BIN, ini, r3), 0);
    assert_non_null(strstr(out, "org:a"));
    assert_non_null(strstr(out, "LATE"));
    assert_non_null(strstr(out, "refused"));
    assert_non_null(strstr(out, "stratifier race not allowed"));

    node_close(&a);
    node_close(&b);
    stop_daemon(d);

    /* close r1: pooled = 100 + 120 members, 24 + 30 events, two organizations */
    char pooled[512];
    forget_ledger();
    assert_int_equal(run(pooled, sizeof pooled, "%s round close --config %s --round %s 2>>%s/cli.log",
                         BIN, ini, r1, dir), 0);
    FILE *f = fopen(pooled, "r");
    assert_non_null(f);
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, ",ed_rate,total,all,")) {
            assert_non_null(strstr(line, ",ed_rate,total,all,220,2640,2640,54,0,0,,2,0"));
            found = 1;
        }
    fclose(f);
    assert_true(found);
    /* closing twice is a user error */
    assert_int_equal(run(NULL, 0, "%s round close --config %s --round %s 2>/dev/null", BIN, ini,
                         r1), 1);

    /* the audit log verifies and holds the story */
    assert_int_equal(run(out, sizeof out, "%s audit verify --config %s 2>&1", BIN, ini), 0);
    char audit[400];
    path_of(audit, sizeof audit, "coord/audit.log");
    assert_int_equal(run(out, sizeof out, "grep -c -e '\trejection\t' '%s'", audit), 0);
    assert_true(strtol(out, NULL, 10) >= 7);
    assert_int_equal(run(out, sizeof out, "grep -c -e '\tsubmission\t.*\"duplicate\":false' '%s'", audit), 0);
    assert_int_equal(strtol(out, NULL, 10), 3);
    /* the identical resend is audited as a duplicate */
    assert_int_equal(run(out, sizeof out, "grep -c -e '\tsubmission\t.*\"duplicate\":true' '%s'", audit), 0);
    assert_true(strtol(out, NULL, 10) >= 1);
    assert_int_equal(run(NULL, 0, "grep -q -e '\tconnection\t.*\"cn\":\"org:a\"' '%s'", audit), 0);
    assert_int_equal(run(NULL, 0, "grep -q -e '\tround_close\t' '%s'", audit), 0);
    assert_int_equal(run(NULL, 0, "grep -q -e '\tconnection\t.*\"result\":\"refused\"' '%s'",
                         audit), 0);
    assert_int_equal(run(NULL, 0, "grep -q -e '\trefusal\t' '%s'", audit), 0);
    /* remove an entry: verify fails and names the line */
    assert_int_equal(run(NULL, 0, "sed -i 3d '%s'", audit), 0);
    assert_int_equal(run(out, sizeof out, "%s audit verify --config %s 2>&1", BIN, ini), 1);
    assert_non_null(strstr(out, "audit.log:3:"));
    free(good);
    free(bad);
}

static void test_crash_between_commit_and_ack(void **state)
{
    (void)state;
    /* a fresh audit log (the previous test damaged its copy on purpose) */
    char audit[400];
    path_of(audit, sizeof audit, "coord/audit.log");
    unlink(audit);
    char ids[CRASH_ITERATIONS][64];
    for (int i = 0; i < CRASH_ITERATIONS; i++) {
        open_round(ids[i], NULL);
        char req[65], sha[65];
        request_sha(ids[i], req);
        pid_t d = start_daemon(1);
        struct node a;
        node_open(&a, "org:a", "org-a");
        uint8_t *env = NULL;
        size_t elen;
        make_submission("org:a", ids[i], req, 100 + 2 * i, a.sign_key, a.sign_cert, &env, &elen,
                        sha);
        struct envelope e;
        assert_int_equal(node_send(&a, env, elen), 0);
        int st = wait_daemon(d); /* dies after COMMIT, before the ACK */
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 137);
        assert_int_equal(recv_more(&a, &e, 100), -1);
        node_close(&a);
        assert_int_equal(submissions_stored(ids[i]), 1);

        /* restart; the node resends the same bytes: a duplicate ACK */
        d = start_daemon(0);
        node_open(&a, "org:a", "org-a");
        assert_int_equal(exchange(&a, env, elen, &e, 10000), 0);
        expect_ack(&e, ids[i], sha, 1, 0);
        node_close(&a);
        stop_daemon(d);
        free(env);
    }
    store_t *st = store_open(dbpath);
    assert_non_null(st);
    for (int i = 0; i < CRASH_ITERATIONS; i++) {
        int n = -1;
        assert_int_equal(store_submission_count(st, ids[i], &n), 0);
        assert_int_equal(n, 1);
    }
    char err[256];
    assert_int_equal(store_integrity_check(st, err, sizeof err), 0);
    store_close(&st);
    char out[1024];
    assert_int_equal(run(out, sizeof out, "%s audit verify --config %s 2>&1", BIN, ini), 0);
}

/* Size of the daemon's log now (to read only what a test adds). */
static long daemon_log_size(void)
{
    char logf[400];
    path_of(logf, sizeof logf, "daemon.log");
    struct stat st;
    return stat(logf, &st) == 0 ? (long)st.st_size : 0;
}

/* The largest N of the "group commit: N messages" lines logged after
 * offset (0 if none). */
static long largest_batch_since(long offset)
{
    char logf[400];
    path_of(logf, sizeof logf, "daemon.log");
    FILE *f = fopen(logf, "r");
    assert_non_null(f);
    assert_int_equal(fseek(f, offset, SEEK_SET), 0);
    char line[1024];
    long best = 0;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "group commit: ");
        if (!p)
            continue;
        long n = strtol(p + strlen("group commit: "), NULL, 10);
        if (n > best)
            best = n;
    }
    fclose(f);
    return best;
}

static void expect_error_text(struct envelope *e, const char *code, const char *text)
{
    assert_int_equal(e->type, MSG_ERROR);
    struct error_msg m;
    char err[256];
    assert_int_equal(error_unpack(e->payload, e->payload_len, &m, err, sizeof err), 0);
    assert_string_equal(m.code, code);
    if (!strstr(m.message, text))
        fail_msg("error message \"%s\" does not say \"%s\"", m.message, text);
    envelope_free(e);
}

static void test_group_commit(void **state)
{
    (void)state;
    char rb[64], req[65], sha1[65], shae[65];
    open_round(rb, NULL);
    request_sha(rb, req);
    long log_from = daemon_log_size();
    pid_t d = start_daemon(0);
    struct node nd, ne;
    node_open(&nd, "org:d", "org-d");
    node_open(&ne, "org:e", "org-e");
    /* a first exchange each, so that both connections are up */
    struct envelope e;
    hello(&nd, &e);
    assert_int_equal(e.type, MSG_ROUND_REQUEST);
    envelope_free(&e);
    while (recv_more(&nd, &e, 300) == 0) /* the other open rounds' requests */
        envelope_free(&e);
    hello(&ne, &e);
    envelope_free(&e);
    while (recv_more(&ne, &e, 300) == 0)
        envelope_free(&e);

    uint8_t *s1 = NULL, *s2 = NULL, *se = NULL;
    size_t l1, l2, le;
    make_submission("org:d", rb, req, 100, nd.sign_key, nd.sign_cert, &s1, &l1, sha1);
    make_submission("org:d", rb, req, 200, nd.sign_key, nd.sign_cert, &s2, &l2, NULL);
    make_submission("org:e", rb, req, 120, ne.sign_key, ne.sign_cert, &se, &le, shae);
    /* While the daemon is stopped the messages wait in its socket buffers:
     * when it continues they are read together, into one batch. */
    assert_int_equal(kill(d, SIGSTOP), 0);
    assert_int_equal(node_send(&nd, s1, l1), 0);
    assert_int_equal(node_send(&nd, s1, l1), 0); /* an identical resend */
    assert_int_equal(node_send(&nd, s2, l2), 0); /* a different submission */
    assert_int_equal(node_send(&ne, se, le), 0);
    usleep(300000);
    assert_int_equal(kill(d, SIGCONT), 0);

    /* answered in order, as if one by one */
    assert_int_equal(recv_more(&nd, &e, 10000), 0);
    expect_ack(&e, rb, sha1, 0, 0);
    assert_int_equal(recv_more(&nd, &e, 10000), 0);
    expect_ack(&e, rb, sha1, 1, 0);
    assert_int_equal(recv_more(&nd, &e, 10000), 0);
    expect_error(&e, "conflict");
    assert_int_equal(recv_more(&ne, &e, 10000), 0);
    expect_ack(&e, rb, shae, 0, 0);
    assert_int_equal(recv_more(&nd, &e, 300), -1); /* nothing more */
    assert_int_equal(submissions_stored(rb), 2);
    node_close(&nd);
    node_close(&ne);
    stop_daemon(d);
    /* the three messages of org:d were one batch (at least) */
    assert_true(largest_batch_since(log_from) >= 3);
    free(s1);
    free(s2);
    free(se);

    /* the audit log verifies; org:d's story is in it once each */
    char out[1024], audit[400];
    assert_int_equal(run(out, sizeof out, "%s audit verify --config %s 2>&1", BIN, ini), 0);
    path_of(audit, sizeof audit, "coord/audit.log");
    assert_int_equal(run(out, sizeof out, "grep -c -e '\tsubmission\t{\"org\":\"org:d\",\"round\":\"%s\".*\"duplicate\":false' '%s'", rb, audit), 0);
    assert_int_equal(strtol(out, NULL, 10), 1);
    assert_int_equal(run(out, sizeof out, "grep -c -e '\tsubmission\t{\"org\":\"org:d\",\"round\":\"%s\".*\"duplicate\":true' '%s'", rb, audit), 0);
    assert_int_equal(strtol(out, NULL, 10), 1);
    assert_int_equal(run(out, sizeof out, "grep -c -e '\trejection\t{\"org\":\"org:d\",\"round\":\"%s\",\"code\":\"conflict\"' '%s'", rb, audit), 0);
    assert_int_equal(strtol(out, NULL, 10), 1);
}

static void test_revoked_signer_refused(void **state)
{
    (void)state;
    char ra[64], rc[64], reqa[65], reqc[65], sha[65];
    open_round(ra, NULL);
    open_round(rc, NULL);
    request_sha(ra, reqa);
    request_sha(rc, reqc);
    pid_t d = start_daemon(0);
    struct node nr;
    node_open(&nr, "org:r", "org-r");
    uint8_t *env = NULL;
    size_t elen;
    struct envelope e;
    /* accepted: its signing certificate is verified and remembered */
    make_submission("org:r", ra, reqa, 100, nr.sign_key, nr.sign_cert, &env, &elen, sha);
    assert_int_equal(exchange(&nr, env, elen, &e, 10000), 0);
    expect_ack(&e, ra, sha, 0, 0);
    free(env);
    /* the CA revokes that signing certificate (a new CRL file) */
    char p[400];
    path_of(p, sizeof p, "ca");
    ca_t *ca = ca_open(p);
    assert_non_null(ca);
    assert_int_equal(ca_revoke(ca, nr.sign_cert), 0);
    ca_destroy(&ca);
    /* the next submission with it is refused; nothing stored */
    make_submission("org:r", rc, reqc, 100, nr.sign_key, nr.sign_cert, &env, &elen, NULL);
    assert_int_equal(exchange(&nr, env, elen, &e, 10000), 0);
    expect_error_text(&e, "bad_signature", "revoked");
    free(env);
    assert_int_equal(submissions_stored(ra), 1);
    assert_int_equal(submissions_stored(rc), 0);
    node_close(&nr);
    stop_daemon(d);
}


/* ---- fail closed ------------------------------------------------------------ */

/* The port of "tcp://127.0.0.1:PORT". */
static int port_of(const char *ep)
{
    const char *c = strrchr(ep, ':');
    assert_non_null(c);
    return (int)strtol(c + 1, NULL, 10);
}

/* After a failed test: its daemon must not hold the port for the next. */
static int kill_daemon(void **state)
{
    (void)state;
    if (daemon_pid > 0) {
        kill(daemon_pid, SIGKILL);
        waitpid(daemon_pid, NULL, 0);
        daemon_pid = 0;
    }
    return 0;
}

/* 1 if the daemon's log after offset has text (waits up to ms). */
static int log_has_since(long offset, const char *text, int ms)
{
    char logf[400];
    path_of(logf, sizeof logf, "daemon.log");
    for (int waited = 0;; waited += 100) {
        FILE *f = fopen(logf, "r");
        assert_non_null(f);
        fseek(f, offset, SEEK_SET);
        char line[2048];
        int found = 0;
        while (!found && fgets(line, sizeof line, f))
            found = strstr(line, text) != NULL;
        fclose(f);
        if (found || waited >= ms)
            return found;
        usleep(100000);
    }
}

/* The audit log cannot be written (a directory where the file should be):
 * no ACK, "internal" (resend), nothing stored; once it can, the resend is
 * stored and acknowledged. Then the CLI's audit verify reports a log whose
 * newest entries were cut off (the store's anchor), and a torn tail left by
 * a crash is cut off and recorded by the next append. */
static void test_audit_fails_closed(void **state)
{
    (void)state;
    char r1[64], req[65], sha[65], audit[400], moved[420], out[2048];
    open_round(r1, NULL);
    request_sha(r1, req);
    path_of(audit, sizeof audit, "coord/audit.log");
    snprintf(moved, sizeof moved, "%s.moved", audit);
    pid_t d = start_daemon(0);
    struct node a;
    node_open(&a, "org:a", "org-a");
    struct envelope e;
    hello(&a, &e); /* connected (and its connection audited) */
    envelope_free(&e);
    while (recv_more(&a, &e, 500) == 0) /* one ROUND_REQUEST per open round */
        envelope_free(&e);
    assert_int_equal(rename(audit, moved), 0);
    assert_int_equal(mkdir(audit, 0700), 0);
    long from = daemon_log_size();
    uint8_t *env = NULL;
    size_t elen;
    make_submission("org:a", r1, req, 100, a.sign_key, a.sign_cert, &env, &elen, sha);
    assert_int_equal(exchange(&a, env, elen, &e, 10000), 0);
    expect_error_text(&e, "internal", "resend");
    assert_int_equal(submissions_stored(r1), 0);
    assert_true(log_has_since(from, "error", 0));
    assert_false(log_has_since(from, "stored submission", 0));
    assert_int_equal(rmdir(audit), 0);
    assert_int_equal(rename(moved, audit), 0);
    assert_int_equal(exchange(&a, env, elen, &e, 10000), 0);
    expect_ack(&e, r1, sha, 0, 0);
    assert_int_equal(submissions_stored(r1), 1);
    free(env);
    node_close(&a);
    stop_daemon(d);

    /* cut off the newest entry: the chain alone still holds, the anchor not */
    assert_int_equal(run(out, sizeof out, "%s audit verify --config %s 2>&1", BIN, ini), 0);
    assert_int_equal(run(NULL, 0, "cp '%s' '%s' && head -n -1 '%s' > '%s.cut' && mv '%s.cut' '%s'",
                         audit, moved, moved, audit, audit, audit), 0);
    assert_int_equal(run(out, sizeof out, "%s audit verify --config %s 2>&1", BIN, ini), 1);
    assert_non_null(strstr(out, "cut off"));
    assert_int_equal(rename(moved, audit), 0);
    assert_int_equal(run(out, sizeof out, "%s audit verify --config %s 2>&1", BIN, ini), 0);

    /* a torn tail (a write cut short) does not block the next append */
    FILE *f = fopen(audit, "a");
    assert_non_null(f);
    fputs("999\t2025-01-01T00:00:00Z\tsubmission\t{\"org\":", f);
    fclose(f);
    char r2[64];
    open_round(r2, NULL); /* appends "round_open" */
    assert_int_equal(run(out, sizeof out, "%s audit verify --config %s 2>&1", BIN, ini), 0);
    assert_non_null(strstr(out, "\"repair\" entries"));
    assert_int_equal(run(NULL, 0, "grep -q -e '\trepair\t.*torn tail' '%s'", audit), 0);
    assert_int_equal(run(NULL, 0, "grep -q -e '^999\t' '%s'", audit), 1);
    assert_int_equal(run(NULL, 0, "grep -q -e '\tround_open\t.*%s' '%s'", r2, audit), 0);
}

/* Without its ZAP handler libzmq would accept any CURVE key: the daemon
 * exits 3 instead (test hook: the thread ends after one request). */
static void test_zap_death_is_fatal(void **state)
{
    (void)state;
    setenv("EQ_TEST_ZAP_STOP_AFTER", "1", 1);
    pid_t d = start_daemon(0);
    unsetenv("EQ_TEST_ZAP_STOP_AFTER");
    struct node a;
    node_open(&a, "org:a", "org-a");
    uint8_t *p = NULL, *env = NULL;
    size_t plen, elen;
    assert_int_equal(hello_pack("org:a", "test-node", &p, &plen), 0);
    assert_int_equal(envelope_pack(MSG_HELLO, p, plen, NULL, NULL, &env, &elen, NULL), 0);
    assert_int_equal(node_send(&a, env, elen), 0); /* one handshake: the thread ends */
    free(p);
    free(env);
    int st = wait_daemon(d);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 3);
    node_close(&a);
}

/* A certificate enrolled while the daemon runs is served after SIGHUP. */
static void test_sighup_enrols(void **state)
{
    (void)state;
    pid_t d = start_daemon(0);
    struct node c;
    node_open(&c, "org:c", "org-c");
    uint8_t *p = NULL, *env = NULL;
    size_t plen, elen;
    struct envelope e;
    assert_int_equal(hello_pack("org:c", "test-node", &p, &plen), 0);
    assert_int_equal(envelope_pack(MSG_HELLO, p, plen, NULL, NULL, &env, &elen, NULL), 0);
    assert_int_equal(exchange(&c, env, elen, &e, 1500), -1); /* not enrolled: refused */
    node_close(&c);
    copy_cert("org-c/transport.crt", "coord/enrolled/org-c.crt");
    long from = daemon_log_size();
    kill(d, SIGHUP);
    assert_true(log_has_since(from, "SIGHUP: re-read 6 enrolled certificates", 5000));
    node_open(&c, "org:c", "org-c");
    assert_int_equal(exchange(&c, env, elen, &e, 10000), 0);
    assert_true(e.type == MSG_ROUND_REQUEST || e.type == MSG_ACK);
    envelope_free(&e);
    free(p);
    free(env);
    node_close(&c);
    stop_daemon(d);
}

static void submit_ok(const char *org, const char *sub, const char *round_id)
{
    char req[65], sha[65];
    request_sha(round_id, req);
    struct node n;
    node_open(&n, org, sub);
    uint8_t *env = NULL;
    size_t elen;
    struct envelope e;
    make_submission(org, round_id, req, 100, n.sign_key, n.sign_cert, &env, &elen, sha);
    assert_int_equal(exchange(&n, env, elen, &e, 10000), 0);
    expect_ack(&e, round_id, sha, 0, 0);
    free(env);
    node_close(&n);
}

/* The daemon closes a round at its deadline by itself: pooled, released. */
static void test_deadline_closes(void **state)
{
    (void)state;
    char r[64], opt[96], dl[64], path[700];
    time_t soon = time(NULL) + 3;
    struct tm tm;
    gmtime_r(&soon, &tm);
    strftime(dl, sizeof dl, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(opt, sizeof opt, "--deadline %s", dl);
    open_round(r, opt);
    pid_t d = start_daemon(0);
    submit_ok("org:a", "org-a", r);
    submit_ok("org:b", "org-b", r);
    snprintf(path, sizeof path, "%s/coord/results/%s/pooled.csv", dir, r);
    struct stat st;
    for (int i = 0; i < 100 && stat(path, &st) != 0; i++)
        usleep(100000);
    assert_int_equal(stat(path, &st), 0);
    assert_true(time(NULL) >= soon);
    snprintf(path, sizeof path, "%s/coord/results/%s/report.html", dir, r);
    for (int i = 0; i < 50 && stat(path, &st) != 0; i++)
        usleep(100000);
    assert_int_equal(stat(path, &st), 0);
    char out[4096];
    assert_int_equal(run(out, sizeof out, "%s round status --config %s --round %s 2>/dev/null",
                         BIN, ini, r), 0);
    assert_non_null(strstr(out, "  closed  "));
    assert_non_null(strstr(out, "pooled result sha256"));
    stop_daemon(d);
}

/* Revoked organization: not pooled at close, listed as revoked (not
 * pending). A close that failed after marking the round closed is finished
 * by a second close. Fewer than min_orgs: refused unless --force. */
static void test_close_rules(void **state)
{
    (void)state;
    char r[64], out[8192], path[700], err[256];
    open_round(r, NULL);
    pid_t d = start_daemon(0);
    submit_ok("org:a", "org-a", r);
    submit_ok("org:b", "org-b", r);
    submit_ok("org:d", "org-d", r);
    stop_daemon(d);
    /* the CA revokes org:d's transport certificate */
    char p[400];
    path_of(p, sizeof p, "org-d/transport.crt");
    X509 *c = NULL;
    assert_int_equal(identity_load_cert(p, &c), 0);
    path_of(p, sizeof p, "ca");
    ca_t *ca = ca_open(p);
    assert_non_null(ca);
    assert_int_equal(ca_revoke(ca, c), 0);
    ca_destroy(&ca);
    X509_free(c);
    assert_int_equal(run(out, sizeof out, "%s round status --config %s --round %s 2>/dev/null",
                         BIN, ini, r), 0);
    assert_null(strstr(out, "org:d                                    pending"));
    assert_non_null(strstr(out, "org:d                                    submitted"));
    assert_non_null(strstr(out, "REVOKED (stored, not pooled)"));
    /* the round's results folder cannot be made: the close fails after
     * marking the round closed */
    snprintf(path, sizeof path, "%s/coord/results", dir);
    mkdir(path, 0750);
    snprintf(path, sizeof path, "%s/coord/results/%s", dir, r);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_not_equal(run(out, sizeof out, "%s round close --config %s --round %s 2>&1", BIN,
                             ini, r), 0);
    assert_int_equal(run(out, sizeof out, "%s round status --config %s --round %s 2>/dev/null",
                         BIN, ini, r), 0);
    assert_non_null(strstr(out, "release unfinished"));
    assert_int_equal(unlink(path), 0);
    forget_ledger();
    assert_int_equal(run(out, sizeof out, "%s round close --config %s --round %s 2>&1", BIN,
                         ini, r), 0);
    assert_non_null(strstr(out, "2 submissions pooled"));
    assert_non_null(strstr(out, "1 of revoked organizations"));
    /* pooled cells count two organizations, not three */
    snprintf(path, sizeof path, "%s/coord/results/%s/pooled.csv", dir, r);
    assert_int_equal(run(out, sizeof out, "grep -c ',ed_rate,total,all,' '%s'", path), 0);
    assert_int_equal(run(out, sizeof out, "grep ',ed_rate,total,all,' '%s'", path), 0);
    assert_non_null(strstr(out, ",200,")); /* members: 100 + 100 */
    assert_null(strstr(out, ",300,"));
    store_t *st = store_open(dbpath);
    assert_non_null(st);
    struct store_round sr;
    assert_int_equal(store_round_get(st, r, &sr), 0);
    assert_true(sr.closed);
    assert_true(sr.pooled_sha256[0] != 0);
    store_round_clear(&sr);
    store_close(&st);
    (void)err;

    /* one submission, min_orgs 2: says so, exits 1, the round stays open */
    char r2[64];
    open_round(r2, NULL);
    d = start_daemon(0);
    submit_ok("org:a", "org-a", r2);
    stop_daemon(d);
    assert_int_equal(run(out, sizeof out, "%s round close --config %s --round %s 2>&1", BIN, ini,
                         r2), 1);
    assert_non_null(strstr(out, "--force"));
    assert_int_equal(run(out, sizeof out, "%s round status --config %s --round %s 2>/dev/null",
                         BIN, ini, r2), 0);
    assert_non_null(strstr(out, "  open  "));
    assert_int_equal(run(out, sizeof out, "%s round close --config %s --round %s --force 2>&1",
                         BIN, ini, r2), 0);
}

/* A stored submission that cannot be decoded (here a format_version 1
 * payload, as a release before exact cells stored it) stops the release:
 * nothing is published without it unless --force. */
static void test_close_undecodable(void **state)
{
    (void)state;
    char r[64], req[65], out[8192], path[700], p[400];
    open_round(r, NULL);
    request_sha(r, req);
    pid_t d = start_daemon(0);
    submit_ok("org:a", "org-a", r);
    stop_daemon(d);
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    snprintf(p, sizeof p, "%s/org-b/signing.key", dir);
    assert_int_equal(identity_load_secret_key(p, &key), 0);
    snprintf(p, sizeof p, "%s/org-b/signing.crt", dir);
    assert_int_equal(identity_load_cert(p, &cert), 0);
    uint8_t *env = NULL, *env1 = NULL;
    size_t elen, elen1;
    make_submission("org:b", r, req, 100, key, cert, &env, &elen, NULL);
    struct envelope e;
    char err[256];
    assert_int_equal(envelope_unpack(env, elen, &e, err, sizeof err), 0);
    /* field 1 (format_version) again, = 1: protobuf keeps the last value */
    uint8_t *v1 = malloc(e.payload_len + 2);
    assert_non_null(v1);
    memcpy(v1, e.payload, e.payload_len);
    v1[e.payload_len] = 0x08;
    v1[e.payload_len + 1] = 0x01;
    assert_int_equal(envelope_pack(MSG_SUBMISSION, v1, e.payload_len + 2, key, cert, &env1,
                                   &elen1, NULL), 0);
    store_t *st = store_open(dbpath);
    assert_non_null(st);
    struct store_submission sub;
    memset(&sub, 0, sizeof sub);
    snprintf(sub.round_id, sizeof sub.round_id, "%s", r);
    snprintf(sub.org, sizeof sub.org, "org:b");
    snprintf(sub.sha256, sizeof sub.sha256, "%064d", 1);
    sub.envelope = env1;
    sub.envelope_len = elen1;
    sub.received_at = (int64_t)time(NULL);
    store_put_result res;
    assert_int_equal(store_submission_put(st, &sub, &res, NULL, NULL), 0);
    assert_int_equal(res, STORE_PUT_NEW);
    store_close(&st);
    free(v1);
    free(env);
    free(env1);
    envelope_free(&e);
    EVP_PKEY_free(key);
    X509_free(cert);
    assert_int_equal(run(out, sizeof out, "%s round close --config %s --round %s 2>&1", BIN, ini,
                         r), 1);
    assert_non_null(strstr(out, "cannot be decoded"));
    assert_non_null(strstr(out, "nothing is released"));
    snprintf(path, sizeof path, "%s/coord/results/%s/pooled.csv", dir, r);
    assert_int_not_equal(access(path, F_OK), 0);
    int rc = run(out, sizeof out, "%s round close --config %s --round %s --force 2>&1", BIN,
                 ini, r);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "1 submissions pooled"));
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/coord/results/%s/report.html", dir, r);
    assert_int_equal(run(out, sizeof out, "grep -o '1 stored submission could not be decoded' "
                         "'%s'", path), 0);
}

/* round open with options, extend, cancel; a deadline in the past. */
static void test_round_commands(void **state)
{
    (void)state;
    char r[64], out[4096];
    open_round(r, "--k 20 --min-orgs 3 --measures population --stratifiers race "
                  "--intersections none --deadline 2099-01-01");
    store_t *st = store_open(dbpath);
    assert_non_null(st);
    struct store_round sr;
    assert_int_equal(store_round_get(st, r, &sr), 0);
    assert_int_equal(sr.k, 20);
    struct round_request rq;
    char err[256];
    assert_int_equal(round_request_unpack(sr.request, sr.request_len, &rq, err, sizeof err), 0);
    assert_int_equal(rq.min_orgs, 3);
    assert_int_equal(rq.k, 20);
    store_round_clear(&sr);
    store_close(&st);
    /* extend: earlier is an error, later moves it */
    assert_int_equal(run(out, sizeof out, "%s round extend --config %s --round %s --deadline "
                         "2098-01-01 2>&1", BIN, ini, r), 1);
    assert_int_equal(run(out, sizeof out, "%s round extend --config %s --round %s --deadline "
                         "2100-01-01 2>&1", BIN, ini, r), 0);
    assert_int_equal(run(out, sizeof out, "%s round status --config %s --round %s 2>/dev/null",
                         BIN, ini, r), 0);
    assert_non_null(strstr(out, "deadline 2100-01-01"));
    /* a bad option value */
    assert_int_equal(run(out, sizeof out, "%s round open --config %s --period 2025 --k 0 2>&1",
                         BIN, ini), 2);
    /* cancel: closed, never released; a node's submission is refused */
    open_round(r, NULL);
    assert_int_equal(run(out, sizeof out, "%s round cancel --config %s --round %s --reason "
                         "test 2>&1", BIN, ini, r), 0);
    assert_int_equal(run(out, sizeof out, "%s round status --config %s --round %s 2>/dev/null",
                         BIN, ini, r), 0);
    assert_non_null(strstr(out, "cancelled"));
    assert_int_equal(run(out, sizeof out, "%s round close --config %s --round %s 2>&1", BIN,
                         ini, r), 1);
    char req[65];
    request_sha(r, req);
    pid_t d = start_daemon(0);
    struct node a;
    node_open(&a, "org:a", "org-a");
    uint8_t *env = NULL;
    size_t elen;
    struct envelope e;
    make_submission("org:a", r, req, 100, a.sign_key, a.sign_cert, &env, &elen, NULL);
    assert_int_equal(exchange(&a, env, elen, &e, 10000), 0);
    expect_error(&e, "round_closed");
    free(env);
    node_close(&a);
    stop_daemon(d);
    assert_int_equal(submissions_stored(r), 0);
}

/* A signed NODE_STATUS envelope (org_field as the payload's org). */
static void make_status(const char *round_id, const char *org_field, int state, const char *code,
                        const char *reason, EVP_PKEY *key, X509 *cert, uint8_t **env,
                        size_t *elen)
{
    struct node_status ns;
    memset(&ns, 0, sizeof ns);
    snprintf(ns.round_id, sizeof ns.round_id, "%s", round_id);
    snprintf(ns.org, sizeof ns.org, "%s", org_field);
    ns.state = state;
    snprintf(ns.code, sizeof ns.code, "%s", code);
    snprintf(ns.reason, sizeof ns.reason, "%s", reason);
    uint8_t *p = NULL;
    size_t plen = 0;
    assert_int_equal(node_status_pack(&ns, &p, &plen), 0);
    assert_int_equal(envelope_pack(MSG_NODE_STATUS, p, plen, key, cert, env, elen, NULL), 0);
    free(p);
}

/* Sends a status and checks the reply: an ACK (duplicate as given) when
 * code is NULL, else an ERROR with that code. */
static void status_exchange(struct node *n, const char *round_id, const char *org_field,
                            int state, const char *code, const char *reason, EVP_PKEY *key,
                            X509 *cert, const char *want_error, int duplicate)
{
    uint8_t *env = NULL;
    size_t elen;
    struct envelope e;
    make_status(round_id, org_field, state, code, reason, key, cert, &env, &elen);
    assert_int_equal(exchange(n, env, elen, &e, 10000), 0);
    if (want_error)
        expect_error(&e, want_error);
    else
        expect_ack(&e, round_id, "", duplicate, 0);
    free(env);
}

struct hist_count {
    int n;
    char last[301];
};

static int count_hist(void *ctx, const struct store_status *ns)
{
    struct hist_count *h = ctx;
    h->n++;
    snprintf(h->last, sizeof h->last, "%s", ns->reason);
    return 0;
}

/* Counts a reply of the flood: counts[0] ACK, [1] rate_limited, [2] other. */
static void count_reply(struct envelope *e, int counts[3])
{
    if (e->type == MSG_ACK) {
        counts[0]++;
    } else {
        struct error_msg m;
        char err[256];
        assert_int_equal(e->type, MSG_ERROR);
        assert_int_equal(error_unpack(e->payload, e->payload_len, &m, err, sizeof err), 0);
        counts[strcmp(m.code, "rate_limited") ? 2 : 1]++;
    }
    envelope_free(e);
}

static void test_node_status(void **state)
{
    (void)state;
    char r[64], gone[64], out[8192];
    open_round(r, NULL);
    open_round(gone, NULL);
    assert_int_equal(run(out, sizeof out, "%s round cancel --config %s --round %s 2>&1", BIN, ini,
                         gone), 0);
    char req[65];
    request_sha(r, req);
    pid_t d = start_daemon(0);
    struct node dn, en;
    node_open(&dn, "org:b", "org-b");
    node_open(&en, "org:e", "org-e");

    /* held: stored, shown; the same again is a duplicate */
    status_exchange(&dn, r, "org:b", NODE_STATE_HELD, "manual_approval",
                    "waits for approval on site", dn.sign_key, dn.sign_cert, NULL, 0);
    status_exchange(&dn, r, "org:b", NODE_STATE_HELD, "manual_approval",
                    "waits for approval on site", dn.sign_key, dn.sign_cert, NULL, 1);
    assert_int_equal(run(out, sizeof out, "%s round status --config %s --round %s 2>/dev/null",
                         BIN, ini, r), 0);
    if (!strstr(out, "org:b                                    held for approval on site  since ") ||
        !strstr(out, "reason: waits for approval on site (manual_approval)"))
        fail_msg("round status does not show org:b held: %s", out);
    /* what is refused: nothing stored */
    status_exchange(&dn, "2025-r99-none", "org:b", NODE_STATE_FAILING, "internal", "", dn.sign_key,
                    dn.sign_cert, "unknown_round", 0);
    status_exchange(&dn, gone, "org:b", NODE_STATE_FAILING, "internal", "", dn.sign_key,
                    dn.sign_cert, "round_closed", 0);
    status_exchange(&dn, r, "org:e", NODE_STATE_FAILING, "internal", "", dn.sign_key, dn.sign_cert,
                    "org_mismatch", 0);
    status_exchange(&dn, r, "org:e", NODE_STATE_FAILING, "internal", "", en.sign_key, en.sign_cert,
                    "signer_mismatch", 0);
    {
        uint8_t *env = NULL;
        size_t elen;
        struct envelope e;
        make_status(r, "org:b", NODE_STATE_FAILING, "internal", "", NULL, NULL, &env, &elen);
        assert_int_equal(exchange(&dn, env, elen, &e, 10000), 0);
        expect_error(&e, "bad_signature"); /* unsigned */
        free(env);
    }
    store_t *st = store_open(dbpath);
    assert_non_null(st);
    struct hist_count h = {0};
    assert_int_equal(store_status_history_each(st, r, "org:e", count_hist, &h), 0);
    assert_int_equal(h.n, 0);
    assert_int_equal(store_status_history_each(st, gone, "org:b", count_hist, &h), 0);
    assert_int_equal(h.n, 0);
    store_close(&st);

    /* a submission supersedes the held status; a status cannot undo it */
    uint8_t *sub = NULL;
    size_t slen;
    char sha[65];
    struct envelope e;
    make_submission("org:b", r, req, 100, dn.sign_key, dn.sign_cert, &sub, &slen, sha);
    assert_int_equal(exchange(&dn, sub, slen, &e, 10000), 0);
    expect_ack(&e, r, sha, 0, 0);
    free(sub);
    status_exchange(&dn, r, "org:b", NODE_STATE_FAILING, "internal", "", dn.sign_key,
                    dn.sign_cert, "conflict", 0);
    assert_int_equal(run(out, sizeof out, "%s round status --config %s --round %s 2>/dev/null",
                         BIN, ini, r), 0);
    assert_non_null(strstr(out, "org:b                                    submitted"));
    assert_null(strstr(out, "held"));

    /* A hostile enrolled node floods statuses, each one different. */
    char audit[400];
    path_of(audit, sizeof audit, "coord/audit.log");
    struct stat ast;
    assert_int_equal(stat(audit, &ast), 0);
    long audit_from = (long)ast.st_size, log_from = daemon_log_size();
    enum { FLOOD = 3000 };
    int counts[3] = {0, 0, 0}; /* ACK, rate_limited, other */
    time_t t0 = time(NULL);
    for (int sent = 0; sent < FLOOD; sent++) {
        uint8_t *env = NULL;
        size_t elen;
        char why[64];
        snprintf(why, sizeof why, "flood %d", sent);
        make_status(r, "org:e", sent % 2 ? NODE_STATE_HELD : NODE_STATE_FAILING, "internal", why,
                    en.sign_key, en.sign_cert, &env, &elen);
        assert_int_equal(node_send(&en, env, elen), 0);
        free(env);
        /* read what has come back so far, then the rest at the end */
        while (recv_more(&en, &e, sent + 1 < FLOOD ? 0 : 5000) == 0) {
            count_reply(&e, counts);
            if (counts[0] + counts[1] + counts[2] == FLOOD)
                break;
        }
    }
    int acks = counts[0], limited = counts[1], other = counts[2];
    int elapsed = (int)(time(NULL) - t0);
    assert_int_equal(other, 0);
    /* a burst of 10, then one per 6 s */
    if (acks < 10 || acks > 10 + elapsed / 6 + 2)
        fail_msg("flood: %d accepted in %d s", acks, elapsed);
    assert_int_equal(acks + limited, FLOOD);
    st = store_open(dbpath);
    assert_non_null(st);
    memset(&h, 0, sizeof h);
    assert_int_equal(store_status_history_each(st, r, "org:e", count_hist, &h), 0);
    assert_true(h.n <= STORE_STATUS_HISTORY_MAX);
    assert_int_equal(h.n, acks < STORE_STATUS_HISTORY_MAX ? acks : STORE_STATUS_HISTORY_MAX);
    store_close(&st);
    assert_int_equal(run(out, sizeof out, "%s round status --config %s --round %s 2>/dev/null",
                         BIN, ini, r), 0);
    char want[400];
    snprintf(want, sizeof want, "reason: %s (internal)", h.last);
    assert_non_null(strstr(out, want));
    /* the audit log: one entry per accepted status, a few for the refused */
    assert_int_equal(run(out, sizeof out, "tail -c +%ld '%s' | grep -c 'org:e'", audit_from + 1,
                         audit), 0);
    long entries = strtol(out, NULL, 10);
    if (entries < acks || entries > acks + 3)
        fail_msg("audit: %ld entries for %d accepted statuses of a flood of %d", entries, acks,
                 FLOOD);
    assert_int_equal(run(out, sizeof out, "tail -c +%ld '%s' | grep 'rate_limited' | head -n 1",
                         audit_from + 1, audit), 0);
    assert_non_null(strstr(out, "refused since the last such entry"));
    /* ... and the daemon's log */
    assert_int_equal(run(out, sizeof out, "tail -c +%ld '%s/daemon.log' | grep -c 'org:e'",
                         log_from + 1, dir), 0);
    long lines = strtol(out, NULL, 10);
    if (lines > acks + 5)
        fail_msg("daemon log: %ld lines about org:e for %d accepted statuses", lines, acks);
    node_close(&dn);
    node_close(&en);
    stop_daemon(d);
    assert_int_equal(run(out, sizeof out, "%s audit verify --config %s 2>&1", BIN, ini), 0);
}

/* A flood of handshakes with unenrolled keys: all refused, but the log
 * gets a bounded number of lines (transport.c: 5 per 10 s). */
static void test_refusal_log_bounded(void **state)
{
    (void)state;
    pid_t d = start_daemon(0);
    char coord[400];
    snprintf(coord, sizeof coord, "%s/coord/certs/transport.crt", dir);
    X509 *c = NULL;
    assert_int_equal(identity_load_cert(coord, &c), 0);
    unsigned char spub[IDENTITY_KEY_LEN];
    assert_int_equal(identity_curve_public(c, spub), 0);
    X509_free(c);
    /* the daemon is listening once an enrolled node gets an answer */
    struct node a;
    node_open(&a, "org:a", "org-a");
    struct envelope e;
    hello(&a, &e);
    envelope_free(&e);
    node_close(&a);
    long from = daemon_log_size();
    char audit[400];
    path_of(audit, sizeof audit, "coord/audit.log");
    struct stat ast;
    assert_int_equal(stat(audit, &ast), 0);
    long audit_from = (long)ast.st_size;
    enum { FLOOD = 30 };
    void *s[FLOOD];
    for (int i = 0; i < FLOOD; i++) {
        char pub[41], sec[41];
        assert_int_equal(zmq_curve_keypair(pub, sec), 0);
        s[i] = zmq_socket(zctx, ZMQ_DEALER);
        int zero = 0;
        zmq_setsockopt(s[i], ZMQ_LINGER, &zero, sizeof zero);
        assert_int_equal(zmq_setsockopt(s[i], ZMQ_CURVE_SERVERKEY, spub, 32), 0);
        assert_int_equal(zmq_setsockopt(s[i], ZMQ_CURVE_PUBLICKEY, pub, 40), 0);
        assert_int_equal(zmq_setsockopt(s[i], ZMQ_CURVE_SECRETKEY, sec, 40), 0);
        assert_int_equal(zmq_connect(s[i], endpoint), 0);
    }
    usleep(2000000);
    for (int i = 0; i < FLOOD; i++)
        zmq_close(s[i]);
    char out[64];
    assert_int_equal(run(out, sizeof out, "tail -c +%ld '%s/daemon.log' | grep -c 'zap: refused "
                         "client'", from + 1, dir), 0);
    long lines = strtol(out, NULL, 10);
    assert_true(lines >= 1);
    assert_true(lines <= 5);
    stop_daemon(d);
    /* ... while every refusal is counted in the audit log */
    assert_int_equal(run(out, sizeof out, "tail -c +%ld '%s' | grep -P '\\tconnection\\t.*\"result\""
                         ":\"refused\"' | grep -o '\"count\":[0-9]*' | cut -d: -f2 | "
                         "awk '{s+=$1} END {print s+0}'", audit_from + 1, audit), 0);
    assert_true(strtol(out, NULL, 10) >= FLOOD);
}

/* Idle TCP connections (no key needed to open one) from one address are
 * capped: beyond 32 the server shuts them at once, and an enrolled node
 * from elsewhere (here: the same loopback, after the flood) is served. */
static void test_connection_cap(void **state)
{
    (void)state;
    pid_t d = start_daemon(0);
    struct node a;
    node_open(&a, "org:a", "org-a");
    struct envelope e;
    hello(&a, &e); /* listening */
    envelope_free(&e);
    node_close(&a);
    long from = daemon_log_size();
    int port = port_of(endpoint);
    enum { IDLE = 60 };
    int fds[IDLE];
    for (int i = 0; i < IDLE; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fds[i] >= 0);
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fds[i], (struct sockaddr *)&sa, sizeof sa), 0);
    }
    usleep(1500000); /* well within the 10 s handshake interval */
    int shut = 0;
    for (int i = 0; i < IDLE; i++) {
        struct pollfd pf = {fds[i], POLLIN, 0};
        char buf[256];
        /* a ZMTP server greets first: read past its greeting to EOF */
        while (poll(&pf, 1, 0) > 0) {
            ssize_t n = recv(fds[i], buf, sizeof buf, MSG_DONTWAIT);
            if (n <= 0) {
                shut += n == 0 || errno == ECONNRESET;
                break;
            }
        }
    }
    for (int i = 0; i < IDLE; i++)
        close(fds[i]);
    assert_true(shut >= IDLE - 32);
    assert_true(shut <= IDLE - 32 + 2); /* (the node's own connection may linger) */
    assert_true(log_has_since(from, "the cap per source", 0));
    usleep(300000);
    node_open(&a, "org:a", "org-a");
    hello(&a, &e);
    envelope_free(&e);
    node_close(&a);
    stop_daemon(d);
}

/* The daemon raises its soft descriptor limit to the hard one (a flood of
 * connections must leave descriptors for the audit log and the store). */
static void test_nofile_raised(void **state)
{
    (void)state;
    struct rlimit was, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
    if (was.rlim_max != RLIM_INFINITY && was.rlim_max <= 256)
        skip();
    low = was;
    low.rlim_cur = 256;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    long from = daemon_log_size();
    pid_t d = start_daemon(0); /* inherits the low soft limit */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
    char want[96];
    snprintf(want, sizeof want, "descriptor limit %llu (was 256)",
             (unsigned long long)was.rlim_max);
    assert_true(log_has_since(from, want, 5000));
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/limits", (int)d);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    unsigned long long soft = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Max open files", 14) == 0)
            soft = strtoull(line + 26, NULL, 10);
    fclose(f);
    assert_int_equal(soft, (unsigned long long)was.rlim_max);
    stop_daemon(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_config),
        cmocka_unit_test(test_submissions),
        cmocka_unit_test(test_crash_between_commit_and_ack),
        cmocka_unit_test(test_group_commit),
        cmocka_unit_test(test_revoked_signer_refused),
        cmocka_unit_test_teardown(test_audit_fails_closed, kill_daemon),
        cmocka_unit_test_teardown(test_zap_death_is_fatal, kill_daemon),
        cmocka_unit_test_teardown(test_sighup_enrols, kill_daemon),
        cmocka_unit_test_teardown(test_deadline_closes, kill_daemon),
        cmocka_unit_test_teardown(test_close_rules, kill_daemon),
        cmocka_unit_test_teardown(test_close_undecodable, kill_daemon),
        cmocka_unit_test_teardown(test_round_commands, kill_daemon),
        cmocka_unit_test_teardown(test_node_status, kill_daemon),
        cmocka_unit_test_teardown(test_refusal_log_bounded, kill_daemon),
        cmocka_unit_test_teardown(test_connection_cap, kill_daemon),
        cmocka_unit_test_teardown(test_nofile_raised, kill_daemon),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
