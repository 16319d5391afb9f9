/*
 * coord_config.c - the coordinator's settings table, the [round] lists and
 * the deeper checks of `check-config` (keys, certificates, folders).
 */
#include "coord_config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "catalog_file.h"
#include "conf.h"
#include "identity.h"

#define S(sec, key, field, def, req, help)                                                    \
    {sec, key, CONF_STR, offsetof(struct coord_config, field),                                \
     sizeof(((struct coord_config *)0)->field), 0, 0, def, req, NULL, help}
#define I(sec, key, field, lo, hi, def, help)                                                 \
    {sec, key, CONF_INT, offsetof(struct coord_config, field), 0, lo, hi, def, 0, NULL, help}
#define B(sec, key, field, def, help)                                                         \
    {sec, key, CONF_BOOL, offsetof(struct coord_config, field), 0, 0, 0, def, 0, NULL, help}

static const struct conf_key coord_keys[] = {
    S("coordinator", "node_endpoint", node_endpoint, "tcp://127.0.0.1:7400", 0,
      "where nodes connect (ROUTER, CURVE server, ZAP domain nodes)"),
    S("coordinator", "analyst_endpoint", analyst_endpoint, "", 0,
      "where analysts connect (ZAP domain analysts); empty = no analyst socket"),
    I("coordinator", "max_message_bytes", max_message_bytes, 1024, 1073741824, "16777216",
      "largest message accepted (ZMQ_MAXMSGSIZE); a larger one drops the connection"),
    I("coordinator", "max_connections_per_source", max_connections_per_source, 0, 1000000, "32",
      "open connections allowed from one address; more are shut at accept (0 = no cap)"),
    I("coordinator", "poll_ms", poll_ms, 10, 10000, "500",
      "longest wait of the service loop (signals, CRL changes are seen this often)"),
    S("coordinator", "catalog", catalog, "", 0,
      "catalog file (docs/catalog.md); builtin = the compiled-in one; empty = the default file"),
    S("identity", "ca", ca, "", 1, "federation CA certificate"),
    S("identity", "crl", crl, "", 1, "federation CRL (re-read when it changes)"),
    S("identity", "transport_cert", transport_cert, "", 1, "coordinator transport certificate (X25519)"),
    S("identity", "transport_key", transport_key, "", 1, "coordinator X25519 secret key (mode 0600)"),
    S("identity", "signing_cert", signing_cert, "", 1, "coordinator signing certificate (Ed25519)"),
    S("identity", "signing_key", signing_key, "", 1, "coordinator Ed25519 secret key (mode 0600)"),
    S("identity", "enrolled_dir", enrolled_dir, "", 1,
      "folder of the enrolled nodes' and analysts' transport certificates (*.crt)"),
    S("store", "database", database, "coordinator.db", 0, "SQLite database (WAL)"),
    S("store", "audit_log", audit_log, "audit.log", 0, "hash-chained audit log"),
    S("store", "results_dir", results_dir, "results", 0, "pooled results, one folder per round"),
    S("round", "measures", measures, "all", 0, "measure ids a round asks for, or all"),
    S("round", "stratifiers", stratifiers, "all", 0, "one-way stratifiers, or all"),
    S("round", "intersections", intersections,
      "race*disability, race*cmc, race*payer, race*age_band, payer*language, ethnicity*language", 0,
      "two-way (race*cmc) or three-way (race*disability*cmc) intersections, or none"),
    I("round", "max_three_way", max_three_way, 0, CATALOG_MAX_THREE_WAY, CATALOG_DEFAULT_THREE_WAY,
      "most three-way intersections a round may ask for"),
    I("round", "k", k, 2, 1000, "11", "threshold k asked of the nodes"),
    I("round", "min_orgs", min_orgs, 1, 1000, "2", "organizations behind a released pooled cell"),
    I("round", "deadline_days", deadline_days, 1, 366, "14", "default deadline, days after opening"),
    B("round", "per_org_to_analysts", per_org_to_analysts, "no",
      "whether analysts may see per-organization results"),
    B("round", "allow_single_org", allow_single_org, "no",
      "whether single-organization pooled cells may be released"),
    S("round", "agreement", agreement, "", 0, "data-use agreement the rounds fall under"),
};
#define NKEYS (sizeof coord_keys / sizeof coord_keys[0])

/* Path fields resolved against the configuration file's folder. */
static const size_t path_fields[] = {
    offsetof(struct coord_config, ca),          offsetof(struct coord_config, crl),
    offsetof(struct coord_config, transport_cert), offsetof(struct coord_config, transport_key),
    offsetof(struct coord_config, signing_cert), offsetof(struct coord_config, signing_key),
    offsetof(struct coord_config, enrolled_dir), offsetof(struct coord_config, database),
    offsetof(struct coord_config, audit_log),   offsetof(struct coord_config, results_dir),
    offsetof(struct coord_config, catalog),
};

static int resolve_paths(struct coord_config *c, char *err, size_t errlen)
{
    const char *slash = strrchr(c->path, '/');
    if (!c->path[0] || !slash)
        return 0;
    int dirlen = (int)(slash - c->path);
    for (size_t i = 0; i < sizeof path_fields / sizeof path_fields[0]; i++) {
        char *p = (char *)c + path_fields[i];
        if (!p[0] || p[0] == '/' || !strcmp(p, "builtin"))
            continue;
        char buf[1024];
        int n = snprintf(buf, sizeof buf, "%.*s/%s", dirlen, c->path, p);
        if (n < 0 || (size_t)n >= sizeof buf) {
            snprintf(err, errlen, "%s:0: path \"%.60s\" too long once made absolute", c->path, p);
            return -1;
        }
        memcpy(p, buf, (size_t)n + 1);
    }
    return 0;
}

/* ---- [round] lists ------------------------------------------------------ */

/* Next comma/space separated item of *p: its start and length; 0 at end. */
static size_t next_item(const char **p, const char **start)
{
    const char *s = *p;
    while (*s == ',' || isspace((unsigned char)*s))
        s++;
    *start = s;
    while (*s && *s != ',' && !isspace((unsigned char)*s))
        s++;
    *p = s;
    return (size_t)(s - *start);
}

static int parse_measures(const char *list, unsigned char on[CATALOG_MAX_MEASURES], char *err, size_t errlen)
{
    memset(on, 0, CATALOG_MAX_MEASURES);
    const char *p = list, *it;
    size_t len;
    int any = 0;
    while ((len = next_item(&p, &it)) > 0) {
        char name[64];
        if (len >= sizeof name) {
            snprintf(err, errlen, "[round] measures: \"%.40s...\" is not a measure", it);
            return -1;
        }
        memcpy(name, it, len);
        name[len] = 0;
        if (!strcmp(name, "all")) {
            catalog_all_measures(on);
        } else {
            int m = catalog_measure_find(name);
            if (m < 0) {
                snprintf(err, errlen, "[round] measures: measure \"%s\" is not in catalog %s %s "
                         "(sha256 %.12s...): no round asks for it", name,
                         catalog_name(catalog_active()), catalog_version(catalog_active()),
                         catalog_sha256(catalog_active()));
                return -1;
            }
            on[m] = 1;
        }
        any = 1;
    }
    if (!any) {
        snprintf(err, errlen, "[round] measures: empty");
        return -1;
    }
    return 0;
}

static int parse_stratifiers(const char *list, unsigned char on[S__COUNT], char *err, size_t errlen)
{
    memset(on, 0, S__COUNT);
    const char *p = list, *it;
    size_t len;
    while ((len = next_item(&p, &it)) > 0) {
        if (len == 3 && !strncmp(it, "all", 3)) {
            for (int s = 0; s < S__COUNT; s++)
                on[s] |= (unsigned char)catalog_stratifier_offered(s);
            continue;
        }
        if (len == 4 && !strncmp(it, "none", 4))
            continue;
        int s = catalog_stratifier_find(it, len);
        if (s < 0) {
            snprintf(err, errlen, "[round] stratifiers: unknown stratifier \"%.*s\"",
                     (int)(len > 60 ? 60 : len), it);
            return -1;
        }
        if (!catalog_stratifier_offered(s)) {
            snprintf(err, errlen, "[round] stratifiers: %s needs a catalog that defines it "
                     "([stratifier %s])", catalog_stratifier_name(s), catalog_stratifier_name(s));
            return -1;
        }
        on[s] = 1;
    }
    on[S_TOTAL] = 1;
    return 0;
}

static int parse_intersections(const char *list, int pairs[][CATALOG_INTER_DIM], int *n,
                               int max_three_way, char *err, size_t errlen)
{
    *n = 0;
    const char *p = list, *it;
    size_t len;
    while ((len = next_item(&p, &it)) > 0) {
        if (len == 4 && !strncmp(it, "none", 4))
            continue;
        char e[200];
        int x[CATALOG_INTER_DIM];
        if (catalog_inter_parse(it, len, x, e, sizeof e) != 0 ||
            catalog_inter_offered(x, it, len, e, sizeof e) != 0) {
            snprintf(err, errlen, "[round] intersections: %s", e);
            return -1;
        }
        if (*n >= ROUND_MAX_INTER) {
            snprintf(err, errlen, "[round] intersections: more than %d", ROUND_MAX_INTER);
            return -1;
        }
        for (int i = 0; i < *n; i++)
            if (catalog_inter_same(pairs[i], x)) {
                snprintf(err, errlen, "[round] intersections: \"%.*s\" listed twice",
                         (int)(len > 60 ? 60 : len), it);
                return -1;
            }
        memcpy(pairs[*n], x, sizeof x);
        (*n)++;
    }
    int n3 = catalog_inter_count_three((const int(*)[CATALOG_INTER_DIM])pairs, *n);
    if (n3 > max_three_way) {
        snprintf(err, errlen, "[round] intersections: %d three-way intersections, more than "
                 "[round] max_three_way = %d", n3, max_three_way);
        return -1;
    }
    return 0;
}

int coord_config_round_defaults(const struct coord_config *c, struct round_request *r,
                                char *err, size_t errlen)
{
    if (parse_measures(c->measures, r->measure_on, err, errlen) != 0 ||
        parse_stratifiers(c->stratifiers, r->strat_on, err, errlen) != 0 ||
        parse_intersections(c->intersections, r->inter, &r->n_inter, c->max_three_way, err,
                            errlen) != 0)
        return -1;
    /* An intersection's one-way tables are its margins; nodes release them
     * together (as node_config does), so the round asks for them too. */
    for (int i = 0; i < r->n_inter; i++)
        for (int d = 0; d < catalog_inter_ndim(r->inter[i]); d++)
            r->strat_on[r->inter[i][d]] = 1;
    r->k = (unsigned)c->k;
    r->min_orgs = (unsigned)c->min_orgs;
    r->per_org_to_analysts = c->per_org_to_analysts;
    r->allow_single_org = c->allow_single_org;
    snprintf(r->agreement, sizeof r->agreement, "%s", c->agreement);
    return 0;
}

int coord_config_load(struct coord_config *c, const char *path, char *err, size_t errlen)
{
    return coord_config_load_with(c, path, NULL, err, errlen);
}

int coord_config_load_with(struct coord_config *c, const char *path, const char *catalog,
                           char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (path)
        snprintf(c->path, sizeof c->path, "%s", path);
    if (conf_load(path, coord_keys, NKEYS, c, NULL, NULL, err, errlen) != 0)
        return -1;
    if (resolve_paths(c, err, errlen) != 0)
        return -1;
    if (catalog)
        snprintf(c->catalog, sizeof c->catalog, "%s", catalog);
    char ce[1400];
    c->cat = catalog_open(c->catalog, ce, sizeof ce);
    if (!c->cat) {
        snprintf(err, errlen, "%s: [coordinator] catalog: %.900s", path ? path : "built-in defaults", ce);
        return -1;
    }
    catalog_set_active(c->cat);
    struct round_request r;
    char e2[300];
    memset(&r, 0, sizeof r);
    if (coord_config_round_defaults(c, &r, e2, sizeof e2) != 0) {
        snprintf(err, errlen, "%s:0: %s", path ? path : "built-in defaults", e2);
        return -1;
    }
    return 0;
}

void coord_config_print(FILE *f, const struct coord_config *c)
{
    fprintf(f, "# %s\n", c->path[0] ? c->path : "built-in defaults");
    conf_print(f, coord_keys, NKEYS, c);
}

/* ---- check-config ------------------------------------------------------- */

/* Line of "key =" in section of the configuration file (0 if not found),
 * so that a problem with a file named there is reported at that line. */
static int key_line(const char *path, const char *section, const char *key)
{
    FILE *f = path && path[0] ? fopen(path, "r") : NULL;
    if (!f)
        return 0;
    char line[2048], cur[128] = "";
    int n = 0, found = 0;
    size_t klen = strlen(key);
    while (!found && fgets(line, sizeof line, f)) {
        n++;
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '[') {
            char *e = strchr(s, ']');
            if (e) {
                *e = 0;
                snprintf(cur, sizeof cur, "%s", s + 1);
            }
            continue;
        }
        if (!strcmp(cur, section) && !strncmp(s, key, klen) &&
            (s[klen] == '=' || isspace((unsigned char)s[klen])))
            found = n;
    }
    fclose(f);
    return found;
}

#define FAIL(sec, key, ...)                                                                    \
    do {                                                                                       \
        char m_[4096];                                                                         \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                                  \
        snprintf(err, errlen, "%s:%d: [%s] %s: %s", c->path[0] ? c->path : "defaults",         \
                 key_line(c->path, sec, key), sec, key, m_);                                   \
        goto out;                                                                              \
    } while (0)

static int folder_of_exists(const char *file)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", file);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 1;
    if (slash == dir)
        return 1;
    *slash = 0;
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

int coord_config_check(const struct coord_config *c, FILE *out, char *err, size_t errlen)
{
    int rc = -1;
    X509 *ca = NULL, *tcert = NULL, *scert = NULL;
    X509_CRL *crl = NULL;
    EVP_PKEY *skey = NULL;
    trust_t *trust = NULL;
    unsigned char sec[IDENTITY_KEY_LEN], pub[IDENTITY_KEY_LEN], cpub[IDENTITY_KEY_LEN];
    struct identity_info ti, si;
    int e;

    if (identity_load_cert(c->ca, &ca) != 0)
        FAIL("identity", "ca", "cannot read the CA certificate \"%s\"", c->ca);
    if (identity_load_crl(c->crl, &crl) != 0)
        FAIL("identity", "crl", "cannot read the CRL \"%s\"", c->crl);
    if (identity_check_key_mode(c->transport_key) != 0)
        FAIL("identity", "transport_key", "\"%s\" must be a file with mode 0600 or stricter",
             c->transport_key);
    if (identity_check_key_mode(c->signing_key) != 0)
        FAIL("identity", "signing_key", "\"%s\" must be a file with mode 0600 or stricter",
             c->signing_key);
    if (identity_load_cert(c->transport_cert, &tcert) != 0)
        FAIL("identity", "transport_cert", "cannot read \"%s\"", c->transport_cert);
    if ((e = identity_verify(ca, crl, tcert, 0, &ti)) != 0)
        FAIL("identity", "transport_cert", "\"%s\" does not verify: %s", c->transport_cert,
             identity_strerror(e));
    if (ti.kind != CERT_KIND_TRANSPORT || ti.role != ROLE_COORDINATOR)
        FAIL("identity", "transport_cert", "\"%s\" is a %s certificate of role %s, not a "
             "transport certificate of role coordinator", c->transport_cert,
             identity_kind_name(ti.kind), identity_role_name(ti.role));
    if (identity_load_cert(c->signing_cert, &scert) != 0)
        FAIL("identity", "signing_cert", "cannot read \"%s\"", c->signing_cert);
    if ((e = identity_verify(ca, crl, scert, 0, &si)) != 0)
        FAIL("identity", "signing_cert", "\"%s\" does not verify: %s", c->signing_cert,
             identity_strerror(e));
    if (si.kind != CERT_KIND_SIGNING || si.role != ROLE_COORDINATOR)
        FAIL("identity", "signing_cert", "\"%s\" is a %s certificate of role %s, not a "
             "signing certificate of role coordinator", c->signing_cert,
             identity_kind_name(si.kind), identity_role_name(si.role));
    if (strcmp(si.cn, ti.cn) != 0)
        FAIL("identity", "signing_cert", "CN \"%s\" differs from the transport certificate's "
             "\"%s\"", si.cn, ti.cn);
    if (identity_curve_keypair(c->transport_key, sec, pub) != 0)
        FAIL("identity", "transport_key", "\"%s\" is not an X25519 secret key", c->transport_key);
    OPENSSL_cleanse(sec, sizeof sec);
    if (identity_curve_public(tcert, cpub) != 0 || memcmp(pub, cpub, sizeof pub) != 0)
        FAIL("identity", "transport_key", "\"%s\" does not belong to the certificate \"%s\"",
             c->transport_key, c->transport_cert);
    if (identity_load_secret_key(c->signing_key, &skey) != 0)
        FAIL("identity", "signing_key", "cannot read \"%s\"", c->signing_key);
    if (EVP_PKEY_eq(skey, X509_get0_pubkey(scert)) != 1)
        FAIL("identity", "signing_key", "\"%s\" does not belong to the certificate \"%s\"",
             c->signing_key, c->signing_cert);
    struct stat st;
    if (stat(c->enrolled_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        FAIL("identity", "enrolled_dir", "\"%s\" is not a folder", c->enrolled_dir);
    trust = trust_new(c->ca, c->crl, c->enrolled_dir);
    if (!trust)
        FAIL("identity", "enrolled_dir", "cannot load the certificates in \"%s\"",
             c->enrolled_dir);
    if (!folder_of_exists(c->database))
        FAIL("store", "database", "the folder of \"%s\" does not exist", c->database);
    if (!folder_of_exists(c->audit_log))
        FAIL("store", "audit_log", "the folder of \"%s\" does not exist", c->audit_log);
    if (!folder_of_exists(c->results_dir))
        FAIL("store", "results_dir", "the folder of \"%s\" does not exist", c->results_dir);
    if (out) {
        fprintf(out, "# coordinator id: %s\n", ti.cn);
        fprintf(out, "# transport certificate: serial %s, valid until %lld\n", ti.serial,
                (long long)ti.not_after);
        fprintf(out, "# signing certificate: serial %s, valid until %lld\n", si.serial,
                (long long)si.not_after);
        fprintf(out, "# enrolled transport certificates: %zu\n", trust_count(trust));
    }
    rc = 0;
out:
    trust_destroy(&trust);
    EVP_PKEY_free(skey);
    X509_free(ca);
    X509_free(tcert);
    X509_free(scert);
    X509_CRL_free(crl);
    return rc;
}
