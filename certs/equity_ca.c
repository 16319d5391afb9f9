/*
 * equity_ca.c - equity-ca, the federation's certificate authority tool:
 * create the CA, issue node/coordinator/analyst/operator identities
 * (transport X25519 + signing Ed25519 certificates), revoke them, rewrite
 * the CRL, and show a certificate. The work is done by common/ca.c.
 *
 * Exit status: 0 success, 1 user error (bad input, existing files,
 * verification), 2 usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "ca.h"
#include "identity.h"
#include "log.h"
#include "version.h"

#define EXIT_USAGE 2

static void usage(FILE *out)
{
    fprintf(out,
            "usage: equity-ca COMMAND [options]\n"
            "\n"
            "  init   --dir DIR [--days N] [--name NAME]\n"
            "         create the CA key (Ed25519, mode 0600), self-signed certificate and\n"
            "         an empty CRL in DIR (default: 3650 days, name \"Equity Federation CA\")\n"
            "  issue  --dir DIR --role node|coordinator|analyst|operator --name ID --out OUTDIR\n"
            "         [--days N] [--not-before YYYY-MM-DD[THH:MM:SSZ]] [--expired]\n"
            "         write OUTDIR/transport.crt+.key (X25519 = CURVE key) and\n"
            "         OUTDIR/signing.crt+.key (Ed25519), subject CN=ID, OU=role\n"
            "         (default 365 days; --expired makes an already expired pair, for tests)\n"
            "  revoke --dir DIR --cert FILE    add FILE's certificate to the CRL\n"
            "  crl    --dir DIR [--days N]     rewrite DIR/ca.crl (valid N days, default 30)\n"
            "  show   FILE                     print subject, role, validity and key\n"
            "\n"
            "  --help, --version\n"
            "Exit status: 0 ok, 1 error, 2 usage error.\n");
}

static int parse_int(const char *s, const char *what, int lo, int hi, int *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) {
        fprintf(stderr, "equity-ca: %s \"%s\": expected an integer in [%d, %d]\n", what, s, lo,
                hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_time(const char *s, time_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end) {
        memset(&tm, 0, sizeof tm);
        end = strptime(s, "%Y-%m-%d", &tm);
    }
    if (!end || *end) {
        fprintf(stderr, "equity-ca: --not-before \"%s\": expected YYYY-MM-DD or "
                        "YYYY-MM-DDTHH:MM:SSZ (UTC)\n", s);
        return -1;
    }
    *out = timegm(&tm);
    return 0;
}

static const struct option long_opts[] = {
    {"dir", required_argument, NULL, 'd'},
    {"days", required_argument, NULL, 'D'},
    {"name", required_argument, NULL, 'n'},
    {"role", required_argument, NULL, 'r'},
    {"out", required_argument, NULL, 'o'},
    {"cert", required_argument, NULL, 'c'},
    {"not-before", required_argument, NULL, 'b'},
    {"expired", no_argument, NULL, 'x'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct args {
    const char *dir, *name, *role, *out, *cert, *not_before;
    int days, have_days, expired;
};

static int parse_args(int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof *a);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case 'd': a->dir = optarg; break;
        case 'n': a->name = optarg; break;
        case 'r': a->role = optarg; break;
        case 'o': a->out = optarg; break;
        case 'c': a->cert = optarg; break;
        case 'b': a->not_before = optarg; break;
        case 'x': a->expired = 1; break;
        case 'D':
            if (parse_int(optarg, "--days", 1, 36500, &a->days) != 0)
                return -1;
            a->have_days = 1;
            break;
        case 'h': usage(stdout); exit(0);
        default: return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "equity-ca: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    return 0;
}

static int need(const char *v, const char *opt, const char *cmd)
{
    if (v)
        return 0;
    fprintf(stderr, "equity-ca %s: %s is required\n", cmd, opt);
    return -1;
}

static int cmd_init(struct args *a)
{
    int rc = ca_init(a->dir, a->name ? a->name : "Equity Federation CA",
                     a->have_days ? a->days : CA_DEFAULT_CA_DAYS);
    if (rc != ID_OK) {
        fprintf(stderr, "equity-ca init: %s: %s\n", a->dir, identity_strerror(rc));
        return 1;
    }
    printf("CA created in %s (ca.crt, ca.key mode 0600, ca.crl)\n", a->dir);
    return 0;
}

static int cmd_issue(struct args *a)
{
    int role = identity_role_parse(a->role);
    if (role < 0) {
        fprintf(stderr, "equity-ca issue: --role \"%s\": expected node, coordinator, analyst or "
                        "operator\n", a->role);
        return EXIT_USAGE;
    }
    struct ca_issue_opts o = {.role = (identity_role)role, .name = a->name};
    int days = a->have_days ? a->days : CA_DEFAULT_CERT_DAYS;
    if (a->not_before && parse_time(a->not_before, &o.not_before) != 0)
        return EXIT_USAGE;
    if (a->expired) {
        /* For tests: a certificate whose whole validity lies in the past. */
        time_t now = time(NULL);
        o.not_before = now - 2 * 86400;
        o.not_after = now - 86400;
    } else {
        time_t nb = o.not_before ? o.not_before : time(NULL) - 300;
        o.not_before = nb;
        o.not_after = nb + (time_t)days * 86400;
    }
    ca_t *ca = ca_open(a->dir);
    if (!ca) {
        fprintf(stderr, "equity-ca issue: cannot open the CA in %s\n", a->dir);
        return 1;
    }
    int rc = ca_issue(ca, &o, a->out);
    ca_destroy(&ca);
    if (rc != ID_OK) {
        fprintf(stderr, "equity-ca issue: %s: %s\n", a->out, identity_strerror(rc));
        return 1;
    }
    printf("issued %s (%s) in %s: transport.crt transport.key signing.crt signing.key\n",
           a->name, a->role, a->out);
    return 0;
}

static int cmd_revoke(struct args *a)
{
    X509 *cert = NULL;
    if (identity_load_cert(a->cert, &cert) != ID_OK)
        return 1;
    ca_t *ca = ca_open(a->dir);
    if (!ca) {
        X509_free(cert);
        fprintf(stderr, "equity-ca revoke: cannot open the CA in %s\n", a->dir);
        return 1;
    }
    struct identity_info info;
    int rc = identity_cert_info(cert, &info);
    if (rc == ID_OK)
        rc = ca_revoke(ca, cert);
    ca_destroy(&ca);
    X509_free(cert);
    if (rc != ID_OK) {
        fprintf(stderr, "equity-ca revoke: %s: %s\n", a->cert, identity_strerror(rc));
        return 1;
    }
    printf("revoked %s serial %s; %s/ca.crl rewritten: distribute it\n", info.cn, info.serial,
           a->dir);
    return 0;
}

static int cmd_crl(struct args *a)
{
    ca_t *ca = ca_open(a->dir);
    if (!ca) {
        fprintf(stderr, "equity-ca crl: cannot open the CA in %s\n", a->dir);
        return 1;
    }
    int rc = ca_write_crl(ca, a->have_days ? a->days : CA_DEFAULT_CRL_DAYS);
    ca_destroy(&ca);
    if (rc != ID_OK) {
        fprintf(stderr, "equity-ca crl: %s: %s\n", a->dir, identity_strerror(rc));
        return 1;
    }
    printf("%s/ca.crl rewritten\n", a->dir);
    return 0;
}

static void print_time(const char *label, time_t t)
{
    struct tm tm;
    char buf[32] = "?";
    if (gmtime_r(&t, &tm))
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%-12s %s\n", label, buf);
}

static int cmd_show(const char *file)
{
    X509 *cert = NULL;
    if (identity_load_cert(file, &cert) != ID_OK)
        return 1;
    struct identity_info info;
    int rc = identity_cert_info(cert, &info);
    if (rc != ID_OK) {
        X509_free(cert);
        fprintf(stderr, "equity-ca show: %s: %s\n", file, identity_strerror(rc));
        return 1;
    }
    char subj[512], iss[512];
    X509_NAME_oneline(X509_get_subject_name(cert), subj, sizeof subj);
    X509_NAME_oneline(X509_get_issuer_name(cert), iss, sizeof iss);
    printf("%-12s %s\n", "file", file);
    printf("%-12s %s\n", "subject", subj);
    printf("%-12s %s\n", "issuer", iss);
    printf("%-12s %s\n", "id", info.cn);
    printf("%-12s %s\n", "role", identity_role_name(info.role));
    printf("%-12s %s\n", "kind", identity_kind_name(info.kind));
    printf("%-12s %s\n", "serial", info.serial);
    print_time("not-before", info.not_before);
    print_time("not-after", info.not_after);
    time_t now = time(NULL);
    printf("%-12s %s\n", "status",
           now < info.not_before ? "not yet valid" : now > info.not_after ? "EXPIRED" : "in validity period");
    if (info.kind == CERT_KIND_TRANSPORT) {
        char z85[41];
        if (zmq_z85_encode(z85, info.key, IDENTITY_KEY_LEN))
            printf("%-12s %s\n", "curve-key", z85);
    } else if (info.kind == CERT_KIND_SIGNING) {
        char hex[2 * IDENTITY_KEY_LEN + 1];
        identity_hex(info.key, IDENTITY_KEY_LEN, hex);
        printf("%-12s %s\n", "ed25519-key", hex);
    }
    printf("%-12s %s\n", "sha256", info.fingerprint);
    X509_free(cert);
    return 0;
}

int main(int argc, char **argv)
{
    log_init("equity-ca", LOG_LVL_INFO);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("equity-ca %s\n", EQ_VERSION);
        return 0;
    }
    if (strcmp(cmd, "show") == 0) {
        if (argc == 3 && strcmp(argv[2], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (argc != 3) {
            fprintf(stderr, "equity-ca show: expected exactly one FILE\n");
            return EXIT_USAGE;
        }
        return cmd_show(argv[2]);
    }
    struct args a;
    if (parse_args(argc - 1, argv + 1, &a) != 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(cmd, "init") == 0) {
        if (need(a.dir, "--dir", cmd))
            return EXIT_USAGE;
        return cmd_init(&a);
    }
    if (strcmp(cmd, "issue") == 0) {
        if (need(a.dir, "--dir", cmd) || need(a.role, "--role", cmd) ||
            need(a.name, "--name", cmd) || need(a.out, "--out", cmd))
            return EXIT_USAGE;
        return cmd_issue(&a);
    }
    if (strcmp(cmd, "revoke") == 0) {
        if (need(a.dir, "--dir", cmd) || need(a.cert, "--cert", cmd))
            return EXIT_USAGE;
        return cmd_revoke(&a);
    }
    if (strcmp(cmd, "crl") == 0) {
        if (need(a.dir, "--dir", cmd))
            return EXIT_USAGE;
        return cmd_crl(&a);
    }
    fprintf(stderr, "equity-ca: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
