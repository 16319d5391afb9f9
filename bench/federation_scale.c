/*
 * federation_scale.c - the federation scale benchmark (bench/README.md):
 * one round with N simulated nodes against the real equity-coordinator.
 *
 * In a temporary folder it makes a CA, the coordinator's identity and N
 * node identities (X25519 transport + Ed25519 signing keys, kept in
 * memory; each node's transport certificate is enrolled as a file), writes
 * a coordinator.ini, opens a small round (population and ed_rate by race
 * and sex) with `equity-coordinator round open`, starts `equity-coordinator
 * run`, and then, from this one process, opens N ZeroMQ DEALER sockets
 * with CURVE client keys (one key pair per node). Each node sends HELLO,
 * receives the signed round request, builds and signs its own submission
 * (org = its CN, request_sha256 = SHA-256 of the request it received) and
 * waits for the ACK. All sockets are served by one zmq_poll loop.
 *
 * Printed: round time (first connect -> last ACK), throughput, the
 * coordinator's peak RSS (VmHWM, read before stopping it), the number of
 * stored submissions according to `round status`, and PASS/MISS against
 * the targets (2 s, 512 MB).
 *
 * usage: equity-bench-federation [--nodes N] [--coordinator PATH] [--keep]
 *                                [--timeout S]
 * Exit status: 0 when every node was ACKed and every submission is stored
 * (PASS or MISS), 1 on a failure, 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <zmq.h>

#include "ca.h"
#include "cells.h"
#include "envelope.h"
#include "identity.h"
#include "wire.h"
#include "atomic_file.h"

#define TARGET_SECONDS 2.0
#define TARGET_RSS_MB 512.0
#define ROUND_K 11

enum node_state { ST_HELLO = 0, ST_SUBMITTED, ST_DONE, ST_FAILED };

struct node {
    char cn[64];
    EVP_PKEY *sign_key;
    X509 *sign_cert;
    unsigned char sec[IDENTITY_KEY_LEN], pub[IDENTITY_KEY_LEN];
    void *s;
    enum node_state state;
    char payload_sha[65];
};

struct bench {
    int nodes;
    int keep;
    int timeout_s;
    char coord_bin[PATH_MAX];
    char dir[256];
    char ini[512];
    char endpoint[64];
    char round_id[64];
    unsigned char coord_pub[IDENTITY_KEY_LEN];
    pid_t daemon;
    struct node *node;
    /* the round request, verified once; later copies are compared bytewise */
    uint8_t *request;
    size_t request_len;
    char request_sha[65];
    double t0, t_requests; /* round start; last round request received (s after t0) */
    int n_requests;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sha_hex(const void *buf, size_t len, char out[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256(buf, len, d);
    identity_hex(d, sizeof d, out);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* Runs argv (NULL-terminated) with stdout into out (trimmed) and stderr
 * appended to logf. Returns the exit status, or -1. */
static int run_cmd(char *const argv[], char *out, size_t outlen, const char *logf)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        int fd = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t n = 0;
    char tmp[4096];
    ssize_t got;
    while ((got = read(pfd[0], tmp, sizeof tmp)) > 0 || (got < 0 && errno == EINTR)) {
        if (got < 0)
            continue;
        if (out && n + (size_t)got < outlen) {
            memcpy(out + n, tmp, (size_t)got);
            n += (size_t)got;
        }
    }
    close(pfd[0]);
    if (out) {
        out[n] = '\0';
        while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
            out[--n] = '\0';
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- identities -------------------------------------------------------- */

static int make_identities(struct bench *b)
{
    char p[512], q[600];
    int rc = -1;
    ca_t *ca = NULL;
    snprintf(p, sizeof p, "%s/ca", b->dir);
    if (ca_init(p, "Bench Federation", CA_DEFAULT_CA_DAYS) != 0 || !(ca = ca_open(p)))
        goto out;
    snprintf(p, sizeof p, "%s/coord", b->dir);
    if (mkdir(p, 0700) != 0)
        goto out;
    snprintf(p, sizeof p, "%s/coord/enrolled", b->dir);
    if (mkdir(p, 0700) != 0)
        goto out;
    struct ca_issue_opts co = {.role = ROLE_COORDINATOR, .name = "coord:bench"};
    snprintf(p, sizeof p, "%s/coord/certs", b->dir);
    if (ca_issue(ca, &co, p) != 0)
        goto out;
    snprintf(q, sizeof q, "%s/transport.crt", p);
    X509 *cc = NULL;
    if (identity_load_cert(q, &cc) != 0)
        goto out;
    int e = identity_curve_public(cc, b->coord_pub);
    X509_free(cc);
    if (e != 0)
        goto out;
    for (int i = 0; i < b->nodes; i++) {
        struct node *n = &b->node[i];
        snprintf(n->cn, sizeof n->cn, "org:bench-%04d", i);
        struct ca_issue_opts o = {.role = ROLE_NODE, .name = n->cn};
        EVP_PKEY *tk = NULL;
        X509 *tc = NULL;
        if (ca_issue_cert(ca, &o, CERT_KIND_TRANSPORT, &tk, &tc) != 0)
            goto out;
        size_t sl = IDENTITY_KEY_LEN, pl = IDENTITY_KEY_LEN;
        int ok = EVP_PKEY_get_raw_private_key(tk, n->sec, &sl) == 1 &&
                 EVP_PKEY_get_raw_public_key(tk, n->pub, &pl) == 1 && sl == IDENTITY_KEY_LEN &&
                 pl == IDENTITY_KEY_LEN;
        snprintf(p, sizeof p, "%s/coord/enrolled/bench-%04d.crt", b->dir, i);
        if (ok)
            ok = identity_write_cert(p, tc) == 0;
        EVP_PKEY_free(tk);
        X509_free(tc);
        if (!ok) {
            fprintf(stderr, "equity-bench-federation: cannot make the transport identity of %s\n",
                    n->cn);
            goto out;
        }
        if (ca_issue_cert(ca, &o, CERT_KIND_SIGNING, &n->sign_key, &n->sign_cert) != 0)
            goto out;
    }
    rc = 0;
out:
    ca_destroy(&ca);
    return rc;
}

static int write_ini(struct bench *b)
{
    snprintf(b->ini, sizeof b->ini, "%s/coord/coordinator.ini", b->dir);
    FILE *f = fopen(b->ini, "w");
    if (!f) {
        fprintf(stderr, "equity-bench-federation: cannot write %s: %s\n", b->ini, strerror(errno));
        return -1;
    }
    fprintf(f,
            "; written by equity-bench-federation\n"
            "[coordinator]\nnode_endpoint = %s\nmax_message_bytes = 1048576\npoll_ms = 100\n"
            "max_connections_per_source = 0\n" /* every simulated node is on loopback */
            "[identity]\nca = %s/ca/ca.crt\ncrl = %s/ca/ca.crl\n"
            "transport_cert = certs/transport.crt\ntransport_key = certs/transport.key\n"
            "signing_cert = certs/signing.crt\nsigning_key = certs/signing.key\n"
            "enrolled_dir = enrolled\n"
            "[store]\ndatabase = coordinator.db\naudit_log = audit.log\nresults_dir = results\n"
            "[round]\nmeasures = population ed_rate\nstratifiers = race sex\n"
            "intersections = none\nk = %d\n",
            b->endpoint, b->dir, b->dir, ROUND_K);
    return fclose(f) == 0 ? 0 : -1;
}

/* ---- the coordinator process ----------------------------------------------- */

static int start_daemon(struct bench *b)
{
    char logf[512];
    snprintf(logf, sizeof logf, "%s/daemon.log", b->dir);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        execl(b->coord_bin, b->coord_bin, "run", "--config", b->ini, (char *)NULL);
        _exit(127);
    }
    b->daemon = pid;
    /* ready when it logs "serving nodes on" */
    for (int i = 0; i < 600; i++) {
        FILE *f = fopen(logf, "r");
        char line[1024];
        int ready = 0;
        while (f && fgets(line, sizeof line, f))
            if (strstr(line, "serving nodes on"))
                ready = 1;
        if (f)
            fclose(f);
        if (ready)
            return 0;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            b->daemon = 0;
            fprintf(stderr, "equity-bench-federation: the coordinator exited at start (see %s)\n",
                    logf);
            return -1;
        }
        usleep(20000);
    }
    fprintf(stderr, "equity-bench-federation: the coordinator did not start within 12 s (%s)\n",
            logf);
    return -1;
}

/* VmHWM of pid in kB, or -1. */
static long peak_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) {
            char *end;
            errno = 0;
            long v = strtol(line + 6, &end, 10);
            if (errno == 0 && end != line + 6)
                kb = v;
        }
    fclose(f);
    return kb;
}

static int stop_daemon(struct bench *b)
{
    if (b->daemon <= 0)
        return 0;
    kill(b->daemon, SIGTERM);
    int st = 0;
    for (int i = 0; i < 400; i++) {
        if (waitpid(b->daemon, &st, WNOHANG) == b->daemon) {
            b->daemon = 0;
            return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
        }
        usleep(25000);
    }
    kill(b->daemon, SIGKILL);
    waitpid(b->daemon, &st, 0);
    b->daemon = 0;
    return -1;
}

/* utime + stime of pid in seconds (from /proc/PID/stat), or -1. */
static double cpu_seconds(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after the ")" that ends the command name: 3 = state, so
     * utime (14) and stime (15) are the 12th and 13th after it */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    double v[2] = {0, 0};
    for (int field = 3, got = 0; field <= 15 && *p; field++) {
        while (*p == ' ')
            p++;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (field >= 14) {
            if (errno || end == p)
                return -1;
            v[got++] = (double)x;
        }
        while (*p && *p != ' ')
            p++;
    }
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? (v[0] + v[1]) / (double)hz : -1;
}

static double self_cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* ---- the simulated nodes -------------------------------------------------------- */

static int add_cell(struct cellset_builder *cb, const char *measure, const char *strat,
                    const char *stratum, double members)
{
    struct cell v;
    char err[256];
    memset(&v, 0, sizeof v);
    v.members = members;
    v.member_months = members * 12;
    if (strcmp(measure, "population") == 0) {
        v.numerator = members;
        v.denominator = members;
    } else {
        v.denominator = members * 12;
        v.numerator = (double)((long long)members / 2); /* whole events */
    }
    if (cellset_builder_add(cb, measure, strat, stratum, &v, err, sizeof err) != 0) {
        fprintf(stderr, "equity-bench-federation: %s\n", err);
        return -1;
    }
    return 0;
}

/* The signed SUBMISSION envelope of node i: total, race (BLACK, WHITE) and
 * sex (F, M) for both measures, every cell well above k. */
static int make_submission(struct bench *b, int i, const char *req_sha, uint8_t **env,
                           size_t *elen)
{
    struct node *n = &b->node[i];
    double members = 200 + 2 * (i % 50);
    static const char *const measures[] = {"population", "ed_rate"};
    struct cellset_builder *cb = cellset_builder_new();
    struct cellset *cs = NULL;
    uint8_t *p = NULL;
    size_t plen = 0;
    int rc = -1;
    if (!cb)
        goto out;
    for (int m = 0; m < 2; m++)
        if (add_cell(cb, measures[m], "total", "all", members) != 0 ||
            add_cell(cb, measures[m], "race", "BLACK", members / 2) != 0 ||
            add_cell(cb, measures[m], "race", "WHITE", members / 2) != 0 ||
            add_cell(cb, measures[m], "sex", "F", members / 2) != 0 ||
            add_cell(cb, measures[m], "sex", "M", members / 2) != 0)
            goto out;
    cs = cellset_builder_finish(&cb);
    if (!cs)
        goto out;
    snprintf(cs->org, sizeof cs->org, "%s", n->cn);
    snprintf(cs->round, sizeof cs->round, "%s", b->round_id);
    snprintf(cs->period, sizeof cs->period, "2025");
    cs->k = ROUND_K;
    struct submission_meta meta;
    if (wire_meta_init(&meta, cs) != 0)
        goto out;
    snprintf(meta.request_sha256, sizeof meta.request_sha256, "%s", req_sha);
    snprintf(meta.software, sizeof meta.software, "equity-bench-federation");
    if (wire_submission_pack(cs, &meta, &p, &plen) != 0)
        goto out;
    sha_hex(p, plen, n->payload_sha);
    if (envelope_pack(MSG_SUBMISSION, p, plen, n->sign_key, n->sign_cert, env, elen, NULL) != 0)
        goto out;
    rc = 0;
out:
    cellset_builder_destroy(&cb);
    cellset_destroy(&cs);
    free(p);
    return rc;
}

static int send_hello(struct node *n)
{
    uint8_t *p = NULL, *env = NULL;
    size_t plen, elen;
    int rc = -1;
    if (hello_pack(n->cn, "equity-bench-federation", &p, &plen) != 0 ||
        envelope_pack(MSG_HELLO, p, plen, NULL, NULL, &env, &elen, NULL) != 0)
        goto out;
    rc = zmq_send(n->s, env, elen, 0) == (int)elen ? 0 : -1;
out:
    free(p);
    free(env);
    return rc;
}

static int open_socket(struct bench *b, void *zctx, struct node *n)
{
    n->s = zmq_socket(zctx, ZMQ_DEALER);
    if (!n->s) {
        fprintf(stderr, "equity-bench-federation: zmq_socket: %s\n", zmq_strerror(zmq_errno()));
        return -1;
    }
    int zero = 0, sndtimeo = 5000, ivl = 100, ivl_max = 1000;
    if (zmq_setsockopt(n->s, ZMQ_CURVE_SERVERKEY, b->coord_pub, IDENTITY_KEY_LEN) != 0 ||
        zmq_setsockopt(n->s, ZMQ_CURVE_PUBLICKEY, n->pub, IDENTITY_KEY_LEN) != 0 ||
        zmq_setsockopt(n->s, ZMQ_CURVE_SECRETKEY, n->sec, IDENTITY_KEY_LEN) != 0 ||
        zmq_setsockopt(n->s, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(n->s, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo) != 0 ||
        zmq_setsockopt(n->s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) != 0 ||
        zmq_setsockopt(n->s, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) != 0 ||
        zmq_connect(n->s, b->endpoint) != 0) {
        fprintf(stderr, "equity-bench-federation: socket of %s: %s\n", n->cn,
                zmq_strerror(zmq_errno()));
        return -1;
    }
    OPENSSL_cleanse(n->sec, sizeof n->sec);
    return 0;
}

/* One reply to node i; advances its state. 0, or -1 when the node failed. */
static int on_reply(struct bench *b, int i, const uint8_t *buf, size_t len)
{
    struct node *n = &b->node[i];
    struct envelope e;
    char err[256];
    int rc = -1;
    if (envelope_unpack(buf, len, &e, err, sizeof err) != 0) {
        fprintf(stderr, "equity-bench-federation: %s: bad reply: %s\n", n->cn, err);
        return -1;
    }
    if (n->state == ST_HELLO && e.type == MSG_ROUND_REQUEST) {
        /* The request is verified (coordinator's signature, CA, CRL) the
         * first time; every later copy must be the same bytes. */
        if (!b->request) {
            trust_t *t = NULL;
            char crt[600], crl[600];
            snprintf(crt, sizeof crt, "%s/ca/ca.crt", b->dir);
            snprintf(crl, sizeof crl, "%s/ca/ca.crl", b->dir);
            t = trust_new(crt, crl, NULL);
            int v = t ? envelope_verify(t, &e, "coord:bench", NULL) : -1;
            trust_destroy(&t);
            struct round_request rr;
            if (v != 0 || round_request_unpack(e.payload, e.payload_len, &rr, err, sizeof err) != 0 ||
                strcmp(rr.round_id, b->round_id) != 0) {
                fprintf(stderr, "equity-bench-federation: %s: the round request does not verify "
                                "or is not round %s\n", n->cn, b->round_id);
                goto out;
            }
            b->request = malloc(e.payload_len);
            if (!b->request)
                goto out;
            memcpy(b->request, e.payload, e.payload_len);
            b->request_len = e.payload_len;
            sha_hex(e.payload, e.payload_len, b->request_sha);
        } else if (e.payload_len != b->request_len ||
                   memcmp(e.payload, b->request, b->request_len) != 0) {
            fprintf(stderr, "equity-bench-federation: %s received a different round request\n",
                    n->cn);
            goto out;
        }
        uint8_t *env = NULL;
        size_t elen = 0;
        if (make_submission(b, i, b->request_sha, &env, &elen) != 0)
            goto out;
        int s = zmq_send(n->s, env, elen, 0);
        free(env);
        if (s != (int)elen) {
            fprintf(stderr, "equity-bench-federation: %s: send: %s\n", n->cn,
                    zmq_strerror(zmq_errno()));
            goto out;
        }
        n->state = ST_SUBMITTED;
        if (++b->n_requests == b->nodes)
            b->t_requests = now_s() - b->t0;
        rc = 0;
    } else if (n->state == ST_SUBMITTED && e.type == MSG_ACK) {
        struct ack a;
        if (ack_unpack(e.payload, e.payload_len, &a, err, sizeof err) != 0 ||
            strcmp(a.round_id, b->round_id) != 0 || strcmp(a.stored_sha256, n->payload_sha) != 0 ||
            a.duplicate || a.late) {
            fprintf(stderr, "equity-bench-federation: %s: unexpected ACK (round %s, sha %s, "
                            "duplicate %d, late %d)\n", n->cn, a.round_id, a.stored_sha256,
                    a.duplicate, a.late);
            goto out;
        }
        n->state = ST_DONE;
        rc = 0;
    } else if (e.type == MSG_ERROR) {
        struct error_msg m;
        if (error_unpack(e.payload, e.payload_len, &m, err, sizeof err) == 0)
            fprintf(stderr, "equity-bench-federation: %s: error %s: %s\n", n->cn, m.code,
                    m.message);
        else
            fprintf(stderr, "equity-bench-federation: %s: unreadable error: %s\n", n->cn, err);
    } else {
        fprintf(stderr, "equity-bench-federation: %s: unexpected %s in state %d\n", n->cn,
                envelope_type_name(e.type), (int)n->state);
    }
out:
    envelope_free(&e);
    return rc;
}

/* Receives every reply queued on node i (zmq_msg_recv with ZMQ_DONTWAIT,
 * which also lets ZeroMQ process its pending commands and so re-arms the
 * socket's ZMQ_FD). Updates *done / *failed. */
static void drain(struct bench *b, int i, int *done, int *failed)
{
    struct node *n = &b->node[i];
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while ((n->state == ST_HELLO || n->state == ST_SUBMITTED) &&
           zmq_msg_recv(&msg, n->s, ZMQ_DONTWAIT) >= 0) {
        if (on_reply(b, i, zmq_msg_data(&msg), zmq_msg_size(&msg)) != 0) {
            n->state = ST_FAILED;
            (*failed)++;
        } else if (n->state == ST_DONE) {
            (*done)++;
        }
    }
    zmq_msg_close(&msg);
}

/* Runs the round; fills *t_round. Returns the number of ACKed nodes.
 * Waiting uses epoll on each socket's ZMQ_FD (O(ready sockets) per wake-up
 * instead of zmq_poll's O(N)); a 50 ms tick drains every pending socket as
 * a safety net for a missed edge. */
static int run_round(struct bench *b, void *zctx, double *t_round)
{
    int N = b->nodes, done = 0, failed = 0;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event *evs = calloc((size_t)N, sizeof *evs);
    if (ep < 0 || !evs)
        goto out;
    double t0 = now_s();
    b->t0 = t0;
    for (int i = 0; i < N; i++) {
        struct node *n = &b->node[i];
        int fd;
        size_t fl = sizeof fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (open_socket(b, zctx, n) != 0 || zmq_getsockopt(n->s, ZMQ_FD, &fd, &fl) != 0 ||
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0 || send_hello(n) != 0) {
            n->state = ST_FAILED;
            failed++;
        }
    }
    double deadline = t0 + b->timeout_s;
    while (done + failed < N) {
        if (now_s() > deadline) {
            fprintf(stderr, "equity-bench-federation: timeout after %d s: %d of %d nodes ACKed\n",
                    b->timeout_s, done, N);
            break;
        }
        int r = epoll_wait(ep, evs, N, 50);
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "equity-bench-federation: epoll_wait: %s\n", strerror(errno));
            break;
        }
        if (r == 0)
            for (int i = 0; i < N; i++)
                drain(b, i, &done, &failed);
        for (int j = 0; j < r; j++)
            drain(b, (int)evs[j].data.u32, &done, &failed);
    }
    *t_round = now_s() - t0;
out:
    if (ep >= 0)
        close(ep);
    free(evs);
    return done;
}

/* ---- main -------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs("usage: equity-bench-federation [--nodes N] [--coordinator PATH] [--timeout S] [--keep]\n"
          "  --nodes N          simulated nodes (default 1000)\n"
          "  --coordinator P    the equity-coordinator binary (default: next to this one)\n"
          "  --timeout S        give up on the round after S seconds (default 120)\n"
          "  --keep             keep the temporary folder (printed)\n",
          f);
}

static int parse_int(const char *opt, const char *v, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || *end || end == v || x < lo || x > hi) {
        fprintf(stderr, "equity-bench-federation: %s needs an integer in %d..%d, got \"%s\"\n", opt,
                lo, hi, v ? v : "");
        return -1;
    }
    *out = (int)x;
    return 0;
}

int main(int argc, char **argv)
{
    struct bench b;
    memset(&b, 0, sizeof b);
    b.nodes = 1000;
    b.timeout_s = 120;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--nodes") == 0) {
            if (parse_int("--nodes", ++i < argc ? argv[i] : NULL, 1, 100000, &b.nodes) != 0)
                return 2;
        } else if (strcmp(argv[i], "--timeout") == 0) {
            if (parse_int("--timeout", ++i < argc ? argv[i] : NULL, 1, 3600, &b.timeout_s) != 0)
                return 2;
        } else if (strcmp(argv[i], "--coordinator") == 0 && i + 1 < argc) {
            snprintf(b.coord_bin, sizeof b.coord_bin, "%s", argv[++i]);
        } else if (strcmp(argv[i], "--keep") == 0) {
            b.keep = 1;
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "equity-bench-federation: unknown argument \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!b.coord_bin[0]) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            fprintf(stderr, "equity-bench-federation: cannot find myself; use --coordinator\n");
            return 2;
        }
        self[n] = '\0';
        snprintf(b.coord_bin, sizeof b.coord_bin, "%s/equity-coordinator", dirname(self));
    }
    if (access(b.coord_bin, X_OK) != 0) {
        fprintf(stderr, "equity-bench-federation: %s: %s\n", b.coord_bin, strerror(errno));
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    /* file descriptors: per node, a TCP connection on each side and a
     * mailbox per client socket; raise the soft limit to the hard one */
    struct rlimit rl;
    rlim_t need = (rlim_t)b.nodes * 3 + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need)
        fprintf(stderr, "equity-bench-federation: open-file limit %lu < %lu needed; "
                        "expect failures\n", (unsigned long)rl.rlim_cur, (unsigned long)need);

    int status = 1;
    void *zctx = NULL;
    b.node = calloc((size_t)b.nodes, sizeof *b.node);
    const char *base = getenv("TMPDIR");
    snprintf(b.dir, sizeof b.dir, "%s/eq_bench_fed_" EQ_MKTEMP_SUFFIX, base && *base ? base : "/tmp");
    if (!b.node || !mkdtemp(b.dir)) {
        fprintf(stderr, "equity-bench-federation: cannot make a temporary folder\n");
        b.dir[0] = '\0';
        goto out;
    }
    double t = now_s();
    if (make_identities(&b) != 0)
        goto out;
    double t_ids = now_s() - t;
    int port = free_port();
    if (port <= 0)
        goto out;
    snprintf(b.endpoint, sizeof b.endpoint, "tcp://127.0.0.1:%d", port);
    if (write_ini(&b) != 0)
        goto out;
    char clilog[512];
    snprintf(clilog, sizeof clilog, "%s/cli.log", b.dir);
    char *open_argv[] = {b.coord_bin, "round", "open", "--config", b.ini, "--period", "2025", NULL};
    if (run_cmd(open_argv, b.round_id, sizeof b.round_id, clilog) != 0 || !b.round_id[0]) {
        fprintf(stderr, "equity-bench-federation: round open failed (see %s)\n", clilog);
        goto out;
    }
    t = now_s();
    if (start_daemon(&b) != 0)
        goto out;
    double t_start = now_s() - t;

    zctx = zmq_ctx_new();
    if (!zctx || zmq_ctx_set(zctx, ZMQ_MAX_SOCKETS, b.nodes + 64) != 0) {
        fprintf(stderr, "equity-bench-federation: zmq context: %s\n", zmq_strerror(zmq_errno()));
        goto out;
    }
    double t_round = 0;
    double c0 = cpu_seconds(b.daemon), s0 = self_cpu_seconds();
    int acked = run_round(&b, zctx, &t_round);
    double c_coord = cpu_seconds(b.daemon) - c0, c_self = self_cpu_seconds() - s0;
    long hwm = peak_rss_kb(b.daemon);

    size_t status_cap = (size_t)b.nodes * 256 + 65536;
    char *status_out = malloc(status_cap);
    int stored = -1;
    char *st_argv[] = {b.coord_bin, "round", "status", "--config", b.ini, "--round", b.round_id,
                       NULL};
    if (status_out && run_cmd(st_argv, status_out, status_cap, clilog) == 0) {
        stored = 0;
        for (const char *p = status_out; (p = strstr(p, " submitted ")) != NULL; p++)
            stored++;
    }
    free(status_out);
    int stop_rc = stop_daemon(&b);

    double mb = hwm >= 0 ? (double)hwm / 1024.0 : -1;
    int ok_time = t_round < TARGET_SECONDS, ok_rss = mb >= 0 && mb < TARGET_RSS_MB;
    printf("nodes                 %d\n", b.nodes);
    printf("identities (CA + %d)  %.2f s\n", b.nodes, t_ids);
    printf("coordinator start     %.2f s (%d enrolled certificates)\n", t_start, b.nodes);
    printf("round time            %.3f s (first connect to last ACK)\n", t_round);
    printf("ACKed                 %d of %d\n", acked, b.nodes);
    printf("throughput            %.0f submissions/s\n", t_round > 0 ? acked / t_round : 0.0);
    printf("round request to all  %.3f s (last round request received)\n", b.t_requests);
    printf("CPU during the round  coordinator %.2f s, simulated nodes %.2f s (%ld cores)\n",
           c_coord, c_self, sysconf(_SC_NPROCESSORS_ONLN));
    printf("coordinator peak RSS  %.1f MB (VmHWM)\n", mb);
    printf("stored (round status) %d\n", stored);
    printf("coordinator stop      %s\n", stop_rc == 0 ? "exit 0" : "FAILED");
    printf("summary: %d nodes, round %.3f s (< %.0f s: %s), %.0f submissions/s, coordinator "
           "peak RSS %.1f MB (< %.0f MB: %s)\n",
           b.nodes, t_round, TARGET_SECONDS, ok_time ? "PASS" : "MISS",
           t_round > 0 ? acked / t_round : 0.0, mb, TARGET_RSS_MB, ok_rss ? "PASS" : "MISS");
    if (acked == b.nodes && (stored == b.nodes) && stop_rc == 0)
        status = 0;
    else
        fprintf(stderr, "equity-bench-federation: FAILED (%d ACKed, %d stored of %d)\n", acked,
                stored, b.nodes);
out:
    for (int i = 0; b.node && i < b.nodes; i++) {
        if (b.node[i].s)
            zmq_close(b.node[i].s);
        EVP_PKEY_free(b.node[i].sign_key);
        X509_free(b.node[i].sign_cert);
        OPENSSL_cleanse(b.node[i].sec, sizeof b.node[i].sec);
    }
    if (zctx)
        zmq_ctx_term(zctx);
    stop_daemon(&b);
    free(b.node);
    free(b.request);
    if (b.dir[0]) {
        if (b.keep || status != 0)
            fprintf(stderr, "equity-bench-federation: kept %s\n", b.dir);
        else
            nftw(b.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
    return status;
}
