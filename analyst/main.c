/*
 * main.c - equity-query, the analysts' client (interfaces.md): asks the
 * coordinator's analyst socket (CURVE, the analyst's own X.509 identity,
 * the coordinator's key pinned from its certificate) for the released
 * pooled cells or metrics of a round, and writes them as CSV (exactly the
 * file format), JSON (an array of objects with the CSV's columns) or a
 * human-readable table (rounded as metrics.md section 8 says).
 *
 * Exit status: 0 success, 1 user error (configuration, refused query, no
 * answer), 2 usage error, 3 internal failure.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <zmq.h>

#include "atomic_file.h"
#include "catalog.h"
#include "catalog_file.h"
#include "conf.h"
#include "csvtext.h"
#include "envelope.h"
#include "equity.pb-c.h"
#include "identity.h"
#include "log.h"
#include "transport.h"
#include "version.h"

#define MAX_FILTERS 64

struct analyst_config {
    char path[1024];
    char endpoint[256];
    char coordinator_cert[1024];
    char transport_cert[1024];
    char transport_key[1024];
    char ca[1024];
    char crl[1024];
    int timeout_seconds;
};

#define KEY_STR(name, def, req, help)                                                          \
    {"analyst", #name, CONF_STR, offsetof(struct analyst_config, name),                        \
     sizeof(((struct analyst_config *)0)->name), 0, 0, def, req, NULL, help}

static const struct conf_key keys[] = {
    KEY_STR(endpoint, NULL, 1, "the coordinator's analyst endpoint, tcp://host:port"),
    KEY_STR(coordinator_cert, NULL, 1, "the coordinator's transport certificate (pinned)"),
    KEY_STR(transport_cert, NULL, 1, "this analyst's transport certificate"),
    KEY_STR(transport_key, NULL, 1, "this analyst's X25519 secret key (mode 0600)"),
    KEY_STR(ca, NULL, 1, "the federation CA certificate"),
    KEY_STR(crl, "", 0, "the federation CRL (empty: none)"),
    {"analyst", "timeout_seconds", CONF_INT, offsetof(struct analyst_config, timeout_seconds), 0,
     1, 600, "15", 0, NULL, "how long to wait for the coordinator's answer"},
};
#define NKEYS (sizeof keys / sizeof keys[0])

/* Relative paths are relative to the configuration file's folder. */
static void resolve(const char *cfgpath, char *p, size_t size)
{
    if (!p[0] || p[0] == '/')
        return;
    const char *slash = strrchr(cfgpath, '/');
    if (!slash)
        return;
    char buf[2048];
    snprintf(buf, sizeof buf, "%.*s/%s", (int)(slash - cfgpath), cfgpath, p);
    if (strlen(buf) < size)
        snprintf(p, size, "%s", buf);
}

/* The line of `key = ` in the file (for messages), 0 if not found. */
static int key_line(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[2048];
    int n = 0, found = 0;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        n++;
        const char *s = line + strspn(line, " \t");
        if (strncmp(s, key, kl) == 0 && strchr(" \t=", s[kl])) {
            found = n;
            break;
        }
    }
    fclose(f);
    return found;
}

static int load_config(const char *path, struct analyst_config *c)
{
    char err[1200];
    memset(c, 0, sizeof *c);
    if (conf_load(path, keys, NKEYS, c, NULL, NULL, err, sizeof err) != 0) {
        log_error("%s", err);
        return -1;
    }
    snprintf(c->path, sizeof c->path, "%s", path);
    resolve(path, c->coordinator_cert, sizeof c->coordinator_cert);
    resolve(path, c->transport_cert, sizeof c->transport_cert);
    resolve(path, c->transport_key, sizeof c->transport_key);
    resolve(path, c->ca, sizeof c->ca);
    resolve(path, c->crl, sizeof c->crl);
    if (strncmp(c->endpoint, "tcp://", 6) != 0 && strncmp(c->endpoint, "ipc://", 6) != 0) {
        log_error("%s:%d: endpoint \"%s\" is not tcp://HOST:PORT", path,
                  key_line(path, "endpoint"), c->endpoint);
        return -1;
    }
    return 0;
}

/* check-config: keys, certificates, roles. Prints what it verified. */
static int check_config(const struct analyst_config *c, FILE *out, int strict_role)
{
    int rc = -1;
    trust_t *trust = NULL;
    X509 *mine = NULL, *coord = NULL;
    struct identity_info info;
    unsigned char sec[IDENTITY_KEY_LEN], pub[IDENTITY_KEY_LEN], cpub[IDENTITY_KEY_LEN];
    const char *p = c->path;
    int e = identity_check_key_mode(c->transport_key);
    if (e != 0) {
        log_error("%s:%d: transport_key %s: %s", p, key_line(p, "transport_key"), c->transport_key,
                  identity_strerror(e));
        goto out;
    }
    trust = trust_new(c->ca, c->crl[0] ? c->crl : NULL, NULL);
    if (!trust) {
        log_error("%s:%d: cannot load the CA %s or the CRL %s", p, key_line(p, "ca"), c->ca,
                  c->crl);
        goto out;
    }
    if ((e = identity_load_cert(c->transport_cert, &mine)) != 0 ||
        (e = trust_verify_cert(trust, mine, &info)) != 0) {
        log_error("%s:%d: transport_cert %s: %s", p, key_line(p, "transport_cert"),
                  c->transport_cert, identity_strerror(e));
        goto out;
    }
    if (info.role != ROLE_ANALYST && info.role != ROLE_OPERATOR) {
        /* A query still goes out (the coordinator decides and audits). */
        (strict_role ? log_error : log_warnx)(
            "%s:%d: transport_cert %s has role %s, expected analyst or operator", p,
            key_line(p, "transport_cert"), c->transport_cert, identity_role_name(info.role));
        if (strict_role)
            goto out;
    }
    if (out)
        fprintf(out, "ok: %s is %s (%s), valid, not revoked\n", c->transport_cert, info.cn,
                identity_role_name(info.role));
    if ((e = identity_curve_keypair(c->transport_key, sec, pub)) != 0 ||
        (e = identity_curve_public(mine, cpub)) != 0 || memcmp(pub, cpub, sizeof pub) != 0) {
        log_error("%s:%d: transport_key %s does not match transport_cert %s%s%s", p,
                  key_line(p, "transport_key"), c->transport_key, c->transport_cert,
                  e ? ": " : "", e ? identity_strerror(e) : "");
        goto out;
    }
    if (out)
        fprintf(out, "ok: %s is mode 0600 and matches the certificate\n", c->transport_key);
    if ((e = identity_load_cert(c->coordinator_cert, &coord)) != 0 ||
        (e = trust_verify_cert(trust, coord, &info)) != 0) {
        log_error("%s:%d: coordinator_cert %s: %s", p, key_line(p, "coordinator_cert"),
                  c->coordinator_cert, identity_strerror(e));
        goto out;
    }
    if (info.role != ROLE_COORDINATOR) {
        log_error("%s:%d: coordinator_cert %s has role %s, expected coordinator", p,
                  key_line(p, "coordinator_cert"), c->coordinator_cert,
                  identity_role_name(info.role));
        goto out;
    }
    if (out)
        fprintf(out, "ok: %s is the coordinator %s, valid, not revoked\n", c->coordinator_cert,
                info.cn);
    rc = 0;
out:
    OPENSSL_cleanse(sec, sizeof sec);
    X509_free(mine);
    X509_free(coord);
    trust_destroy(&trust);
    return rc;
}

/* ---- output ----------------------------------------------------------------- */

/* Decimals and scale for a metrics value (metrics.md section 8: half away
 * from zero; percentages and rates 1 decimal, dollars 2, ratios 3).
 * Proportions are shown as percentages (x 100). */
static int metric_format(const char *measure, const char *metric, double *scale)
{
    *scale = 1;
    int m = catalog_measure_find(measure);
    measure_kind kind = m >= 0 ? catalog_measure(m)->kind : KIND_RATE;
    if (!strcmp(metric, "heba_pbpm") || !strcmp(metric, "incentive") ||
        !strcmp(metric, "mssp_points"))
        return 2;
    if (!strcmp(metric, "idisp") || !strcmp(metric, "idisp_w") || !strcmp(metric, "i2"))
        return 1;
    if (!strcmp(metric, "estimate") || !strcmp(metric, "dsr") || !strcmp(metric, "rd") ||
        !strcmp(metric, "sii") || !strcmp(metric, "excess")) {
        switch (kind) {
        case KIND_COUNT: return 0;
        case KIND_PROPORTION:
            if (!strcmp(metric, "excess"))
                return 1;
            *scale = 100;
            return 1;
        case KIND_RATE: return 1;
        case KIND_MEAN:
        case KIND_PMPM: return 2;
        }
    }
    return 3; /* ratios and indices */
}

static void fmt_num(char *buf, size_t len, const char *text, int decimals, double scale)
{
    char *end;
    double v = strtod(text, &end);
    if (!*text || *end || !isfinite(v)) {
        snprintf(buf, len, "%s", text);
        return;
    }
    double p = pow(10, decimals);
    v = round(v * scale * p) / p; /* round(): half away from zero */
    snprintf(buf, len, "%.*f%s", decimals, v == 0 ? 0.0 : v, scale == 100 ? "%" : "");
}

/* A table of every column, left-aligned, numbers right-aligned. */
static void write_plain(FILE *f, const csvtext_t *t)
{
    size_t nrows = csvtext_rows(t), ncols = csvtext_cols(t);
    size_t *width = calloc(ncols ? ncols : 1, sizeof *width);
    if (!width)
        return;
    for (size_t r = 0; r < nrows; r++)
        for (size_t c = 0; c < ncols; c++) {
            size_t w = strlen(csvtext_field(t, r, c));
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r < nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            const char *v = csvtext_field(t, r, c);
            char *end;
            strtod(v, &end);
            int num = r > 0 && *v && !*end;
            fprintf(f, num ? "%*s" : "%-*s", (int)width[c], v);
            fputs(c + 1 < ncols ? "  " : "\n", f);
        }
        if (r == 0)
            for (size_t c = 0; c < ncols; c++) {
                for (size_t i = 0; i < width[c]; i++)
                    fputc('-', f);
                fputs(c + 1 < ncols ? "  " : "\n", f);
            }
    }
    free(width);
}

static void write_table(FILE *f, const csvtext_t *t)
{
    int is_metrics = csvtext_col(t, "metric") >= 0;
    if (!is_metrics && csvtext_col(t, "members") < 0) { /* rounds: every column as is */
        write_plain(f, t);
        return;
    }
    static const char *const cell_cols[] = {"measure", "stratifier", "stratum", "members",
                                            "member_months", "denominator", "numerator",
                                            "reason", "n_orgs", "n_withheld"};
    static const char *const met_cols[] = {"measure", "stratifier", "stratum", "metric", "value",
                                           "lower", "upper", "reference", "flags", "n_orgs",
                                           "n_withheld"};
    const char *const *cols = is_metrics ? met_cols : cell_cols;
    size_t ncols = is_metrics ? sizeof met_cols / sizeof *met_cols
                              : sizeof cell_cols / sizeof *cell_cols;
    size_t nrows = csvtext_rows(t);
    char *cellbuf = calloc(nrows * ncols, 64);
    size_t width[16] = {0};
    if (!cellbuf)
        return;
    int idx[16];
    for (size_t c = 0; c < ncols; c++)
        idx[c] = csvtext_col(t, cols[c]);
    int cm = csvtext_col(t, "measure"), cmet = csvtext_col(t, "metric");
    for (size_t r = 0; r < nrows; r++)
        for (size_t c = 0; c < ncols; c++) {
            char *out = cellbuf + (r * ncols + c) * 64;
            const char *v = idx[c] >= 0 ? csvtext_field(t, r, (size_t)idx[c]) : "";
            if (r == 0 || !csvtext_is_numeric_column(cols[c]) || !*v) {
                snprintf(out, 64, "%s", v);
            } else if (is_metrics && (!strcmp(cols[c], "value") || !strcmp(cols[c], "lower") ||
                                      !strcmp(cols[c], "upper"))) {
                double scale;
                int d = metric_format(csvtext_field(t, r, (size_t)cm),
                                      csvtext_field(t, r, (size_t)cmet), &scale);
                fmt_num(out, 64, v, d, scale);
            } else {
                fmt_num(out, 64, v, strchr(v, '.') ? 1 : 0, 1);
            }
            size_t w = strlen(out);
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r < nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            const char *s = cellbuf + (r * ncols + c) * 64;
            int num = r > 0 && csvtext_is_numeric_column(cols[c]);
            fprintf(f, num ? "%*s" : "%-*s", (int)width[c], s);
            fputs(c + 1 < ncols ? "  " : "\n", f);
        }
        if (r == 0) {
            for (size_t c = 0; c < ncols; c++) {
                for (size_t i = 0; i < width[c]; i++)
                    fputc('-', f);
                fputs(c + 1 < ncols ? "  " : "\n", f);
            }
        }
    }
    free(cellbuf);
}

struct out_ctx {
    const char *text;
};

static int write_text(FILE *f, void *arg)
{
    fputs(((struct out_ctx *)arg)->text, f);
    return ferror(f) ? -1 : 0;
}

/* ---- the query ----------------------------------------------------------------- */

struct query_opts {
    const char *config, *round, *reference, *format, *out;
    char *measures[MAX_FILTERS], *stratifiers[MAX_FILTERS];
    size_t nm, ns;
};

static void usage(FILE *f)
{
    fputs("usage: equity-query [--help] [--version]\n"
          "       equity-query --config analyst.ini rounds [--format table|csv|json]\n"
          "       equity-query --config analyst.ini cells|metrics|org-cells|org-metrics\n"
          "                    --round ID\n"
          "                    [--measure M]... [--stratifier S]...\n"
          "                    [--reference best|largest|total|VALUE]\n"
          "                    [--format table|csv|json] [--out FILE] [--catalog FILE]\n"
          "       equity-query --config analyst.ini check-config\n"
          "\n"
          "Asks the coordinator for the released pooled results of a round.\n"
          "\n"
          "  rounds           every round: period, status (open, closed, released),\n"
          "                   opened, deadline, closed, submissions, late, refusals\n"
          "  cells            the released pooled cells (cells CSV with n_orgs,n_withheld,\n"
          "                   period)\n"
          "  metrics          their metrics (metrics.md section 8, with period, label,\n"
          "                   unit and better)\n"
          "  org-cells        each organization's cells, where the round's terms give\n"
          "                   per-organization figures to analysts (else forbidden)\n"
          "  org-metrics      their funnel rows, heterogeneity and data quality per\n"
          "                   organization (same terms)\n"
          "  check-config     validate analyst.ini, the key and the certificates\n"
          "  --round ID       the round, as `equity-coordinator round open` printed it\n"
          "  --measure M      only this measure (repeatable), e.g. ed_rate\n"
          "  --catalog FILE   the federation's catalog file (docs/catalog.md), for\n"
          "                   measures beyond the default one (e.g. ppc_prenatal)\n"
          "  --stratifier S   only this table (repeatable), e.g. race or race*payer;\n"
          "                   one the round did not release is a usage error (2)\n"
          "  --reference R    reference group of disparity metrics (default best);\n"
          "                   a value that is no group of the tables asked is a usage\n"
          "                   error (2)\n"
          "  --format F       table (default; csv with --out), csv or json\n"
          "  --out FILE       write there (replaced only when complete) instead of stdout\n"
          "\n"
          "Exit status: 0 success, 1 user error or refused query, 2 usage error, 3 internal.\n",
          f);
}

static int run_query(const struct analyst_config *cfg, const char *what,
                     const struct query_opts *o)
{
    int rc = 3;
    void *zctx = NULL;
    trust_t *trust = NULL;
    transport_sock_t *sock = NULL;
    uint8_t *payload = NULL, *env = NULL;
    size_t plen = 0, elen = 0;
    char *json = NULL;
    csvtext_t *t = NULL;
    Equity__V1__QueryResult *res = NULL;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    struct envelope e;
    memset(&e, 0, sizeof e);
    char err[512];

    if (check_config(cfg, NULL, 0) != 0)
        return 1;
    trust = trust_new(cfg->ca, cfg->crl[0] ? cfg->crl : NULL, NULL);
    zctx = zmq_ctx_new();
    if (!trust || !zctx)
        goto out;
    sock = transport_client_open(zctx, TRANSPORT_ANALYST, cfg->transport_key,
                                 cfg->coordinator_cert, trust, cfg->endpoint);
    if (!sock) {
        rc = 1;
        goto out;
    }
    Equity__V1__Query q = EQUITY__V1__QUERY__INIT;
    q.round_id = (char *)(o->round ? o->round : "");
    q.what = (char *)what;
    q.reference = (char *)(o->reference ? o->reference : "");
    q.measures = (char **)o->measures;
    q.n_measures = o->nm;
    q.stratifiers = (char **)o->stratifiers;
    q.n_stratifiers = o->ns;
    plen = equity__v1__query__get_packed_size(&q);
    payload = malloc(plen ? plen : 1);
    if (!payload)
        goto out;
    equity__v1__query__pack(&q, payload);
    if (envelope_pack(MSG_QUERY, payload, plen, NULL, NULL, &env, &elen, NULL) != 0)
        goto out;
    int s = transport_send(sock, NULL, 0, env, elen);
    if (s != TRANSPORT_OK && s != TRANSPORT_ERR_AGAIN) {
        log_error("cannot send the query to %s: %s", cfg->endpoint, transport_strerror(s));
        rc = 1;
        goto out;
    }
    time_t deadline = time(NULL) + cfg->timeout_seconds;
    char cn[IDENTITY_CN_MAX];
    int got = 0;
    while (!got && time(NULL) < deadline) {
        if (s == TRANSPORT_ERR_AGAIN)
            s = transport_send(sock, NULL, 0, env, elen);
        int r = transport_recv(sock, &msg, NULL, NULL, cn, sizeof cn, 500);
        if (r == TRANSPORT_OK)
            got = 1;
        else if (r == TRANSPORT_ERR_ZMQ)
            goto out;
        struct transport_events ev;
        transport_events_get(sock, &ev);
        if (!got && ev.failed_auth + ev.failed_protocol > 0 && ev.handshake_ok == 0) {
            log_error("the coordinator at %s refused this identity (%s): is %s enrolled there "
                      "as an analyst?", cfg->endpoint, ev.last_failure, cfg->transport_cert);
            rc = 1;
            goto out;
        }
    }
    if (!got) {
        log_error("no answer from the coordinator at %s within %d s (not reachable, or this "
                  "identity was refused)", cfg->endpoint, cfg->timeout_seconds);
        rc = 1;
        goto out;
    }
    if (envelope_unpack(zmq_msg_data(&msg), zmq_msg_size(&msg), &e, err, sizeof err) != 0) {
        log_error("malformed answer from the coordinator: %s", err);
        goto out;
    }
    if (e.type == MSG_ERROR) {
        struct error_msg em;
        if (error_unpack(e.payload, e.payload_len, &em, err, sizeof err) != 0) {
            log_error("malformed error from the coordinator: %s", err);
            goto out;
        }
        log_error("round %s: %s: %s", o->round ? o->round : "*", em.code, em.message);
        /* An unknown stratifier or reference is a usage error (the
         * coordinator knows what the round released). */
        rc = strcmp(em.code, "internal") == 0 ? 3 : strcmp(em.code, "bad_query") == 0 ? 2 : 1;
        goto out;
    }
    if (e.type != MSG_QUERY_RESULT ||
        !(res = equity__v1__query_result__unpack(NULL, e.payload_len, e.payload)) || !res->csv) {
        log_error("unexpected answer from the coordinator (%s)", envelope_type_name(e.type));
        goto out;
    }
    t = csvtext_parse("answer", res->csv, strlen(res->csv), err, sizeof err);
    if (!t) {
        log_error("the coordinator's answer is not CSV: %s", err);
        goto out;
    }
    const char *fmt = o->format ? o->format : (o->out ? "csv" : "table");
    char *text = NULL;
    size_t tlen = 0;
    if (!strcmp(fmt, "csv")) {
        text = strdup(res->csv);
    } else if (!strcmp(fmt, "json")) {
        text = csvtext_to_json(t, err, sizeof err);
        if (!text)
            log_error("cannot convert the answer to JSON: %s", err);
    } else {
        FILE *m = open_memstream(&text, &tlen);
        if (m) {
            write_table(m, t);
            fclose(m);
        }
    }
    if (!text)
        goto out;
    json = text;
    if (o->out) {
        struct out_ctx oc = {text};
        if (atomic_file_write(o->out, write_text, &oc) != 0) {
            log_warn("%s: cannot write", o->out);
            rc = 1;
            goto out;
        }
        log_info("%s: %u rows of round %s", o->out, res->rows, res->round_id);
    } else {
        fputs(text, stdout);
        if (fflush(stdout) != 0) {
            rc = 1;
            goto out;
        }
    }
    rc = 0;
out:
    if (res)
        equity__v1__query_result__free_unpacked(res, NULL);
    csvtext_destroy(&t);
    free(json);
    envelope_free(&e);
    zmq_msg_close(&msg);
    free(payload);
    free(env);
    transport_sock_destroy(&sock);
    if (zctx)
        zmq_ctx_term(zctx);
    trust_destroy(&trust);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"round", required_argument, NULL, 'r'},
        {"measure", required_argument, NULL, 'm'},
        {"stratifier", required_argument, NULL, 's'},
        {"reference", required_argument, NULL, 'R'},
        {"format", required_argument, NULL, 'f'},
        {"out", required_argument, NULL, 'o'},
        {"catalog", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    struct query_opts o;
    memset(&o, 0, sizeof o);
    int c;
    log_init("equity-query", LOG_LVL_WARN);
    opterr = 0;
    /* Options may come before or after the command (GNU getopt permutes). */
    while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': o.config = optarg; break;
        case 'r': o.round = optarg; break;
        case 'm':
        case 's':
            if ((c == 'm' ? o.nm : o.ns) >= MAX_FILTERS) {
                log_error("at most %d --%s options", MAX_FILTERS, c == 'm' ? "measure" : "stratifier");
                return 2;
            }
            if (c == 'm')
                o.measures[o.nm++] = optarg;
            else
                o.stratifiers[o.ns++] = optarg;
            break;
        case 'R': o.reference = optarg; break;
        case 'f':
            if (strcmp(optarg, "table") && strcmp(optarg, "csv") && strcmp(optarg, "json")) {
                log_error("--format: expected table, csv or json, found '%s'", optarg);
                return 2;
            }
            o.format = optarg;
            break;
        case 'o': o.out = optarg; break;
        case 'C': {
            /* the federation's catalog: its measure names and kinds (the
             * coordinator checks a query against its own catalog) */
            char cerr[512];
            const struct catalog *cat = catalog_open(optarg, cerr, sizeof cerr);
            if (!cat) {
                log_error("--catalog: %s", cerr);
                return 2;
            }
            catalog_set_active(cat);
            break;
        }
        case 'h': usage(stdout); return 0;
        case 'V': printf("equity-query %s\n", EQ_VERSION); return 0;
        default:
            log_error("unknown or incomplete option '%s'", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        log_error(optind >= argc ? "no command (rounds, cells, metrics or check-config)"
                                 : "one command expected, found '%s'",
                  optind < argc ? argv[optind + 1 < argc ? optind + 1 : optind] : "");
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind];
    int is_check = !strcmp(cmd, "check-config"), is_rounds = !strcmp(cmd, "rounds");
    if (!is_check && !is_rounds && strcmp(cmd, "cells") && strcmp(cmd, "metrics") &&
        strcmp(cmd, "org-cells") && strcmp(cmd, "org-metrics")) {
        log_error("unknown command '%s'", cmd);
        usage(stderr);
        return 2;
    }
    if (!o.config) {
        log_error("%s needs --config analyst.ini", cmd);
        return 2;
    }
    for (size_t i = 0; i < o.nm; i++)
        if (catalog_measure_find(o.measures[i]) < 0) {
            log_error("--measure: unknown measure '%s'", o.measures[i]);
            return 2;
        }
    if (o.reference && strcmp(cmd, "metrics") != 0) {
        log_error("--reference applies to metrics only");
        return 2;
    }
    if (is_rounds && (o.round || o.nm || o.ns)) {
        log_error("rounds takes no --round, --measure or --stratifier");
        return 2;
    }
    if (!is_check && !is_rounds && !o.round) {
        log_error("%s needs --round ID", cmd);
        return 2;
    }
    struct analyst_config cfg;
    if (load_config(o.config, &cfg) != 0)
        return 1;
    if (is_check) {
        conf_print(stdout, keys, NKEYS, &cfg);
        return check_config(&cfg, stdout, 1) == 0 ? 0 : 1;
    }
    /* The wire names of the per-organization queries (proto/equity.proto). */
    const char *what = !strcmp(cmd, "org-cells")     ? "org_cells"
                       : !strcmp(cmd, "org-metrics") ? "org_metrics"
                                                     : cmd;
    return run_query(&cfg, what, &o);
}
