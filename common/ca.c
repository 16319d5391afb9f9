/*
 * ca.c - certificate authority operations (see ca.h): build X.509
 * certificates in C whose public key is an X25519 key (an X25519 key
 * cannot sign a CSR, so there is no CSR: the CA sets the key with
 * X509_set_pubkey and signs with its Ed25519 key), revoke, write the CRL.
 */
#include "ca.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "log.h"

struct ca {
    char dir[PATH_MAX - 32];
    EVP_PKEY *key;
    X509 *cert;
};

X509 *ca_cert(ca_t *ca) { return ca ? ca->cert : NULL; }

static int ca_path(char *out, size_t outlen, const char *dir, const char *file)
{
    int n = snprintf(out, outlen, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= outlen) {
        log_error("%s: path too long", dir);
        return ID_ERR_ARG;
    }
    return ID_OK;
}

static int ensure_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            log_error("%s: exists and is not a directory", dir);
            return ID_ERR_IO;
        }
        return ID_OK;
    }
    if (mkdir(dir, 0700) != 0) {
        log_warn("%s: cannot create directory", dir);
        return ID_ERR_IO;
    }
    return ID_OK;
}

static EVP_PKEY *new_key(int type)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(type, NULL);
    if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &k) != 1) {
        ERR_clear_error();
        k = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return k;
}

static int add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : -1;
}

static int random_serial(X509 *cert)
{
    unsigned char buf[16];
    if (RAND_bytes(buf, sizeof buf) != 1)
        return -1;
    buf[0] &= 0x7f; /* positive */
    buf[0] |= 0x01; /* and never a leading zero byte */
    BIGNUM *bn = BN_bin2bn(buf, sizeof buf, NULL);
    ASN1_INTEGER *ai = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    int rc = ai && X509_set_serialNumber(cert, ai) == 1 ? 0 : -1;
    ASN1_INTEGER_free(ai);
    BN_free(bn);
    return rc;
}

/* A certificate for pubkey with the given subject, signed by signkey as
 * issuer (issuer == NULL: self-signed CA). */
static X509 *build_cert(EVP_PKEY *pubkey, X509_NAME *subject, X509 *issuer, EVP_PKEY *signkey,
                        time_t not_before, time_t not_after, int is_ca, identity_kind kind)
{
    X509 *c = X509_new();
    if (!c || X509_set_version(c, 2) != 1 || random_serial(c) != 0 ||
        X509_set_subject_name(c, subject) != 1 ||
        X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : subject) != 1 ||
        !ASN1_TIME_set(X509_getm_notBefore(c), not_before) ||
        !ASN1_TIME_set(X509_getm_notAfter(c), not_after) || X509_set_pubkey(c, pubkey) != 1)
        goto fail;
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : c, c, NULL, NULL, 0);
    const char *ku = is_ca ? "critical,keyCertSign,cRLSign"
                   : kind == CERT_KIND_TRANSPORT ? "critical,keyAgreement"
                                                 : "critical,digitalSignature";
    if (add_ext(c, &ctx, NID_basic_constraints, is_ca ? "critical,CA:TRUE,pathlen:0"
                                                      : "critical,CA:FALSE") != 0 ||
        add_ext(c, &ctx, NID_key_usage, ku) != 0 ||
        add_ext(c, &ctx, NID_subject_key_identifier, "hash") != 0 ||
        add_ext(c, &ctx, NID_authority_key_identifier, "keyid:always") != 0)
        goto fail;
    if (X509_sign(c, signkey, NULL) <= 0) /* Ed25519: no separate digest */
        goto fail;
    return c;
fail:
    log_error("cannot build certificate: %s", ERR_reason_error_string(ERR_peek_error()));
    ERR_clear_error();
    X509_free(c);
    return NULL;
}

static int write_crl_file(const char *dir, X509 *cacert, EVP_PKEY *cakey, int days)
{
    char path[PATH_MAX], tmp[PATH_MAX], revpath[PATH_MAX];
    if (ca_path(path, sizeof path, dir, "ca.crl") != 0 ||
        ca_path(tmp, sizeof tmp, dir, "ca.crl.tmp") != 0 ||
        ca_path(revpath, sizeof revpath, dir, "revoked.txt") != 0)
        return ID_ERR_ARG;
    if (days <= 0)
        days = CA_DEFAULT_CRL_DAYS;
    int rc = ID_ERR_CRYPTO;
    time_t now = time(NULL);
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *last = ASN1_TIME_set(NULL, now - 300); /* clock skew */
    ASN1_TIME *next = ASN1_TIME_set(NULL, now + (time_t)days * 86400);
    ASN1_INTEGER *number = ASN1_INTEGER_new();
    FILE *rf = NULL;
    FILE *fp = NULL;
    if (!crl || !last || !next || !number || X509_CRL_set_version(crl, 1) != 1 ||
        X509_CRL_set_issuer_name(crl, X509_get_subject_name(cacert)) != 1 ||
        X509_CRL_set1_lastUpdate(crl, last) != 1 || X509_CRL_set1_nextUpdate(crl, next) != 1)
        goto out;
    rf = fopen(revpath, "r");
    if (!rf && errno != ENOENT) {
        log_warn("%s: cannot read", revpath);
        rc = ID_ERR_IO;
        goto out;
    }
    char line[512];
    int lineno = 0;
    while (rf && fgets(line, sizeof line, rf)) {
        lineno++;
        char *sp = strchr(line, ' ');
        if (!sp) {
            log_error("%s:%d:1: expected \"SERIAL TIME CN\", got \"%.60s\"", revpath, lineno,
                      line);
            rc = ID_ERR_PARSE;
            goto out;
        }
        *sp = '\0';
        char *end = NULL;
        errno = 0;
        long long when = strtoll(sp + 1, &end, 10);
        if (errno || end == sp + 1 || when <= 0) {
            log_error("%s:%d:%d: bad revocation time \"%.20s\"", revpath, lineno,
                      (int)(sp + 1 - line) + 1, sp + 1);
            rc = ID_ERR_PARSE;
            goto out;
        }
        BIGNUM *bn = NULL;
        if (BN_hex2bn(&bn, line) != (int)strlen(line) || strlen(line) == 0) {
            BN_free(bn);
            log_error("%s:%d:1: bad serial \"%.60s\"", revpath, lineno, line);
            rc = ID_ERR_PARSE;
            goto out;
        }
        X509_REVOKED *r = X509_REVOKED_new();
        ASN1_INTEGER *ser = BN_to_ASN1_INTEGER(bn, NULL);
        ASN1_TIME *rt = ASN1_TIME_set(NULL, (time_t)when);
        BN_free(bn);
        int ok = r && ser && rt && X509_REVOKED_set_serialNumber(r, ser) == 1 &&
                 X509_REVOKED_set_revocationDate(r, rt) == 1 && X509_CRL_add0_revoked(crl, r) == 1;
        ASN1_INTEGER_free(ser);
        ASN1_TIME_free(rt);
        if (!ok) {
            X509_REVOKED_free(r);
            goto out;
        }
    }
    X509_CRL_sort(crl);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, cacert, NULL, NULL, crl, 0);
    X509_EXTENSION *akid = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
                                               "keyid:always");
    int ok = akid && X509_CRL_add_ext(crl, akid, -1) == 1;
    X509_EXTENSION_free(akid);
    if (!ok || ASN1_INTEGER_set_int64(number, (int64_t)now) != 1 ||
        X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0) != 1 ||
        X509_CRL_sign(crl, cakey, NULL) <= 0)
        goto out;
    fp = fopen(tmp, "w");
    if (!fp) {
        log_warn("%s: cannot create", tmp);
        rc = ID_ERR_IO;
        goto out;
    }
    /* public: readable by the daemons whatever the CA operator's umask */
    ok = fchmod(fileno(fp), 0644) == 0 && PEM_write_X509_CRL(fp, crl);
    int cl = fclose(fp);
    fp = NULL;
    if (!ok || cl != 0 || rename(tmp, path) != 0) {
        log_warn("%s: cannot write CRL", path);
        unlink(tmp);
        rc = ID_ERR_IO;
        goto out;
    }
    rc = ID_OK;
out:
    if (rc == ID_ERR_CRYPTO)
        log_error("cannot build CRL: %s", ERR_reason_error_string(ERR_peek_error()));
    ERR_clear_error();
    if (rf)
        fclose(rf);
    ASN1_INTEGER_free(number);
    ASN1_TIME_free(last);
    ASN1_TIME_free(next);
    X509_CRL_free(crl);
    return rc;
}

int ca_init(const char *dir, const char *name, int days)
{
    if (!dir || !name || !*name || days <= 0)
        return ID_ERR_ARG;
    char keypath[PATH_MAX], crtpath[PATH_MAX], revpath[PATH_MAX];
    if (ca_path(keypath, sizeof keypath, dir, "ca.key") != 0 ||
        ca_path(crtpath, sizeof crtpath, dir, "ca.crt") != 0 ||
        ca_path(revpath, sizeof revpath, dir, "revoked.txt") != 0)
        return ID_ERR_ARG;
    int rc = ensure_dir(dir);
    if (rc != ID_OK)
        return rc;
    if (access(keypath, F_OK) == 0) {
        log_error("%s: a CA key already exists; refusing to overwrite it", keypath);
        return ID_ERR_IO;
    }
    EVP_PKEY *key = new_key(EVP_PKEY_ED25519);
    X509_NAME *subj = X509_NAME_new();
    X509 *cert = NULL;
    rc = ID_ERR_CRYPTO;
    if (!key || !subj ||
        X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_UTF8, (const unsigned char *)name, -1,
                                   -1, 0) != 1 ||
        X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)name, -1,
                                   -1, 0) != 1)
        goto out;
    time_t now = time(NULL);
    cert = build_cert(key, subj, NULL, key, now - 300, now + (time_t)days * 86400, 1,
                      CERT_KIND_OTHER);
    if (!cert)
        goto out;
    if ((rc = identity_write_secret_key(keypath, key)) != ID_OK ||
        (rc = identity_write_cert(crtpath, cert)) != ID_OK)
        goto out;
    FILE *rf = fopen(revpath, "a");
    if (!rf || fclose(rf) != 0) {
        log_warn("%s: cannot create", revpath);
        rc = ID_ERR_IO;
        goto out;
    }
    rc = write_crl_file(dir, cert, key, CA_DEFAULT_CRL_DAYS);
out:
    X509_free(cert);
    X509_NAME_free(subj);
    EVP_PKEY_free(key);
    return rc;
}

ca_t *ca_open(const char *dir)
{
    if (!dir)
        return NULL;
    ca_t *ca = calloc(1, sizeof *ca);
    if (!ca)
        return NULL;
    int n = snprintf(ca->dir, sizeof ca->dir, "%s", dir);
    char keypath[PATH_MAX], crtpath[PATH_MAX];
    if (n < 0 || (size_t)n >= sizeof ca->dir ||
        ca_path(keypath, sizeof keypath, dir, "ca.key") != 0 ||
        ca_path(crtpath, sizeof crtpath, dir, "ca.crt") != 0)
        goto fail;
    if (identity_load_secret_key(keypath, &ca->key) != ID_OK ||
        identity_load_cert(crtpath, &ca->cert) != ID_OK)
        goto fail;
    if (EVP_PKEY_get_id(ca->key) != EVP_PKEY_ED25519 ||
        X509_check_private_key(ca->cert, ca->key) != 1) {
        ERR_clear_error();
        log_error("%s: ca.key does not belong to ca.crt", dir);
        goto fail;
    }
    return ca;
fail:
    ca_destroy(&ca);
    return NULL;
}

void ca_destroy(ca_t **pca)
{
    if (!pca || !*pca)
        return;
    EVP_PKEY_free((*pca)->key);
    X509_free((*pca)->cert);
    free(*pca);
    *pca = NULL;
}

int ca_issue_cert(ca_t *ca, const struct ca_issue_opts *opts, identity_kind kind, EVP_PKEY **key,
                  X509 **cert)
{
    if (!ca || !opts || !key || !cert || !opts->name)
        return ID_ERR_ARG;
    *key = NULL;
    *cert = NULL;
    size_t nlen = strlen(opts->name);
    if (nlen == 0 || nlen >= IDENTITY_CN_MAX) {
        log_error("name \"%.60s\": must be 1 to %d characters", opts->name, IDENTITY_CN_MAX - 1);
        return ID_ERR_SUBJECT;
    }
    for (size_t i = 0; i < nlen; i++)
        if ((unsigned char)opts->name[i] < 0x20 || opts->name[i] == 0x7f) {
            log_error("name \"%.60s\": control character at column %zu", opts->name, i + 1);
            return ID_ERR_SUBJECT;
        }
    if (opts->role <= ROLE_NONE || opts->role > ROLE_OPERATOR)
        return ID_ERR_ROLE;
    if (kind != CERT_KIND_TRANSPORT && kind != CERT_KIND_SIGNING)
        return ID_ERR_KIND;
    time_t nb = opts->not_before ? opts->not_before : time(NULL) - 300;
    time_t na = opts->not_after ? opts->not_after : nb + (time_t)CA_DEFAULT_CERT_DAYS * 86400;
    time_t ca_end = (time_t)-1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (ASN1_TIME_to_tm(X509_get0_notAfter(ca->cert), &tm) == 1)
        ca_end = timegm(&tm);
    if (ca_end != (time_t)-1 && na > ca_end) {
        /* a certificate cannot outlive the CA that vouches for it */
        log_debug("certificate for %s: validity capped at the CA's notAfter", opts->name);
        na = ca_end;
    }
    if (na <= nb) {
        log_error("certificate for %s: notAfter is not after notBefore", opts->name);
        return ID_ERR_ARG;
    }
    int rc = ID_ERR_CRYPTO;
    EVP_PKEY *k = new_key(kind == CERT_KIND_TRANSPORT ? EVP_PKEY_X25519 : EVP_PKEY_ED25519);
    X509_NAME *subj = X509_NAME_new();
    char org[IDENTITY_CN_MAX] = "";
    X509_NAME *caname = X509_get_subject_name(ca->cert);
    int idx = X509_NAME_get_index_by_NID(caname, NID_organizationName, -1);
    if (idx >= 0) {
        unsigned char *u = NULL;
        int ul = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(caname, idx)));
        if (ul > 0 && (size_t)ul < sizeof org) {
            memcpy(org, u, (size_t)ul);
            org[ul] = '\0';
        }
        OPENSSL_free(u);
    }
    if (!k || !subj ||
        (org[0] && X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_UTF8,
                                              (const unsigned char *)org, -1, -1, 0) != 1) ||
        X509_NAME_add_entry_by_txt(subj, "OU", MBSTRING_UTF8,
                                   (const unsigned char *)identity_role_name(opts->role), -1, -1,
                                   0) != 1 ||
        X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)opts->name,
                                   -1, -1, 0) != 1)
        goto out;
    X509 *c = build_cert(k, subj, ca->cert, ca->key, nb, na, 0, kind);
    if (!c)
        goto out;
    *cert = c;
    *key = k;
    k = NULL;
    rc = ID_OK;
out:
    ERR_clear_error();
    X509_NAME_free(subj);
    EVP_PKEY_free(k);
    return rc;
}

int ca_issue(ca_t *ca, const struct ca_issue_opts *opts, const char *outdir)
{
    if (!ca || !opts || !outdir)
        return ID_ERR_ARG;
    static const char *const files[] = {"transport.crt", "transport.key", "signing.crt",
                                        "signing.key"};
    char paths[4][PATH_MAX];
    for (int i = 0; i < 4; i++) {
        if (ca_path(paths[i], sizeof paths[i], outdir, files[i]) != 0)
            return ID_ERR_ARG;
        if (access(paths[i], F_OK) == 0) {
            log_error("%s: already exists; refusing to overwrite an identity", paths[i]);
            return ID_ERR_IO;
        }
    }
    int rc = ensure_dir(outdir);
    if (rc != ID_OK)
        return rc;
    for (int i = 0; i < 2; i++) {
        EVP_PKEY *key = NULL;
        X509 *cert = NULL;
        identity_kind kind = i == 0 ? CERT_KIND_TRANSPORT : CERT_KIND_SIGNING;
        rc = ca_issue_cert(ca, opts, kind, &key, &cert);
        if (rc == ID_OK)
            rc = identity_write_secret_key(paths[2 * i + 1], key);
        if (rc == ID_OK)
            rc = identity_write_cert(paths[2 * i], cert);
        EVP_PKEY_free(key);
        X509_free(cert);
        if (rc != ID_OK)
            return rc;
    }
    return ID_OK;
}

int ca_revoke(ca_t *ca, X509 *cert)
{
    if (!ca || !cert)
        return ID_ERR_ARG;
    if (X509_check_issued(ca->cert, cert) != X509_V_OK ||
        X509_verify(cert, X509_get0_pubkey(ca->cert)) != 1) {
        ERR_clear_error();
        log_error("certificate was not issued by this CA (%s); not revoked", ca->dir);
        return ID_ERR_VERIFY;
    }
    struct identity_info info;
    int rc = identity_cert_info(cert, &info);
    if (rc != ID_OK)
        return rc;
    char revpath[PATH_MAX];
    if (ca_path(revpath, sizeof revpath, ca->dir, "revoked.txt") != 0)
        return ID_ERR_ARG;
    FILE *rf = fopen(revpath, "r");
    char line[512];
    size_t slen = strlen(info.serial);
    int already = 0;
    while (rf && fgets(line, sizeof line, rf))
        if (strncmp(line, info.serial, slen) == 0 && line[slen] == ' ')
            already = 1;
    if (rf)
        fclose(rf);
    if (!already) {
        rf = fopen(revpath, "a");
        if (!rf) {
            log_warn("%s: cannot append", revpath);
            return ID_ERR_IO;
        }
        fprintf(rf, "%s %lld %s\n", info.serial, (long long)time(NULL), info.cn);
        if (fclose(rf) != 0) {
            log_warn("%s: cannot write", revpath);
            return ID_ERR_IO;
        }
    }
    return write_crl_file(ca->dir, ca->cert, ca->key, CA_DEFAULT_CRL_DAYS);
}

int ca_write_crl(ca_t *ca, int days)
{
    if (!ca)
        return ID_ERR_ARG;
    return write_crl_file(ca->dir, ca->cert, ca->key, days);
}
