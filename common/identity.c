/*
 * identity.c - certificates, CRL, secret keys and signatures of the
 * federation (see identity.h for the certificate profile), and the trust
 * object that maps CURVE public keys to enrolled transport certificates.
 *
 * Everything here is OpenSSL 3: X509_STORE with X509_V_FLAG_CRL_CHECK for
 * chain + validity + revocation, EVP_PKEY raw keys for X25519/Ed25519.
 */
#include "identity.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "log.h"

const char *identity_strerror(int err)
{
    switch (err) {
    case ID_OK: return "ok";
    case ID_ERR_ARG: return "invalid argument";
    case ID_ERR_IO: return "file error";
    case ID_ERR_PARSE: return "cannot parse certificate, key or CRL";
    case ID_ERR_PERM: return "secret key file readable by group or others";
    case ID_ERR_VERIFY: return "certificate does not verify against the CA";
    case ID_ERR_REVOKED: return "certificate revoked";
    case ID_ERR_EXPIRED: return "certificate expired";
    case ID_ERR_NOT_YET: return "certificate not yet valid";
    case ID_ERR_KIND: return "wrong key type for this use";
    case ID_ERR_ROLE: return "certificate role missing or not allowed here";
    case ID_ERR_SIG: return "signature does not verify";
    case ID_ERR_UNKNOWN: return "key not enrolled";
    case ID_ERR_CRL: return "CRL missing, invalid or expired";
    case ID_ERR_SUBJECT: return "certificate subject missing or mismatched";
    case ID_ERR_CRYPTO: return "cryptographic library failure";
    default: return "unknown identity error";
    }
}

static const char *const role_names[] = {"none", "node", "coordinator", "analyst", "operator"};

const char *identity_role_name(identity_role role)
{
    if ((int)role < 0 || (size_t)role >= sizeof role_names / sizeof role_names[0])
        return "none";
    return role_names[role];
}

int identity_role_parse(const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 1; i < sizeof role_names / sizeof role_names[0]; i++)
        if (strcmp(name, role_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *identity_kind_name(identity_kind kind)
{
    switch (kind) {
    case CERT_KIND_TRANSPORT: return "transport (X25519)";
    case CERT_KIND_SIGNING: return "signing (Ed25519)";
    default: return "other";
    }
}

/* Log the OpenSSL error queue's first entry after our own message. */
static void log_ossl(const char *what, const char *path)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "no detail";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    log_error("%s: %s (%s)", path ? path : "-", what, buf);
}

void identity_hex(const unsigned char *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

void identity_sha256_hex(const void *buf, size_t len, char out[IDENTITY_HEX_SHA256])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(buf, len, md);
    identity_hex(md, sizeof md, out);
}

/* --- files --------------------------------------------------------------- */

int identity_load_cert(const char *path, X509 **out)
{
    if (!path || !out)
        return ID_ERR_ARG;
    *out = NULL;
    FILE *fp = fopen(path, "r");
    if (!fp) {
        log_warn("%s: cannot open certificate", path);
        return ID_ERR_IO;
    }
    X509 *c = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    if (!c) {
        log_ossl("not a PEM certificate", path);
        return ID_ERR_PARSE;
    }
    *out = c;
    return ID_OK;
}

int identity_load_crl(const char *path, X509_CRL **out)
{
    if (!path || !out)
        return ID_ERR_ARG;
    *out = NULL;
    FILE *fp = fopen(path, "r");
    if (!fp) {
        log_warn("%s: cannot open CRL", path);
        return ID_ERR_IO;
    }
    X509_CRL *c = PEM_read_X509_CRL(fp, NULL, NULL, NULL);
    fclose(fp);
    if (!c) {
        log_ossl("not a PEM CRL", path);
        return ID_ERR_PARSE;
    }
    *out = c;
    return ID_OK;
}

static int check_mode_st(const char *path, const struct stat *st)
{
    if (!S_ISREG(st->st_mode)) {
        log_error("%s: secret key is not a regular file", path);
        return ID_ERR_PERM;
    }
    if (st->st_mode & (S_IRWXG | S_IRWXO)) {
        log_error("%s: secret key file has mode %04o; it must not be accessible by group or "
                  "others (run: chmod 600 %s)",
                  path, (unsigned)(st->st_mode & 07777), path);
        return ID_ERR_PERM;
    }
    return ID_OK;
}

int identity_check_key_mode(const char *path)
{
    if (!path)
        return ID_ERR_ARG;
    struct stat st;
    if (stat(path, &st) != 0) {
        log_warn("%s: cannot stat secret key", path);
        return ID_ERR_IO;
    }
    return check_mode_st(path, &st);
}

int identity_load_secret_key(const char *path, EVP_PKEY **out)
{
    if (!path || !out)
        return ID_ERR_ARG;
    *out = NULL;
    int rc = ID_OK;
    FILE *fp = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        log_warn("%s: cannot open secret key", path);
        return ID_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        log_warn("%s: cannot stat secret key", path);
        close(fd);
        return ID_ERR_IO;
    }
    /* Checked on the open descriptor: no window between check and read. */
    if ((rc = check_mode_st(path, &st)) != ID_OK) {
        close(fd);
        return rc;
    }
    fp = fdopen(fd, "r");
    if (!fp) {
        log_warn("%s: fdopen", path);
        close(fd);
        return ID_ERR_IO;
    }
    EVP_PKEY *k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    if (!k) {
        log_ossl("not a PEM private key", path);
        return ID_ERR_PARSE;
    }
    *out = k;
    return ID_OK;
}

int identity_write_secret_key(const char *path, EVP_PKEY *key)
{
    if (!path || !key)
        return ID_ERR_ARG;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_warn("%s: cannot create secret key file", path);
        return ID_ERR_IO;
    }
    if (fchmod(fd, 0600) != 0) {
        log_warn("%s: chmod 600", path);
        close(fd);
        unlink(path);
        return ID_ERR_IO;
    }
    FILE *fp = fdopen(fd, "w");
    if (!fp) {
        log_warn("%s: fdopen", path);
        close(fd);
        unlink(path);
        return ID_ERR_IO;
    }
    int ok = PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL);
    if (fclose(fp) != 0 || !ok) {
        log_ossl("cannot write secret key", path);
        unlink(path);
        return ID_ERR_IO;
    }
    return ID_OK;
}

int identity_write_cert(const char *path, X509 *cert)
{
    if (!path || !cert)
        return ID_ERR_ARG;
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        log_error("%s: path too long", path);
        return ID_ERR_ARG;
    }
    FILE *fp = fopen(tmp, "w");
    if (!fp) {
        log_warn("%s: cannot create", tmp);
        return ID_ERR_IO;
    }
    int ok = fchmod(fileno(fp), 0644) == 0 && PEM_write_X509(fp, cert);
    if (fclose(fp) != 0 || !ok || rename(tmp, path) != 0) {
        log_warn("%s: cannot write certificate", path);
        unlink(tmp);
        return ID_ERR_IO;
    }
    return ID_OK;
}

/* --- certificates ---------------------------------------------------------- */

static time_t asn1_to_time(const ASN1_TIME *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return (time_t)-1;
    return timegm(&tm);
}

/* Copy one subject field as UTF-8; refuses embedded NULs, control
 * characters and values that do not fit. 1 found, 0 absent, -1 bad. */
static int subject_field(X509_NAME *name, int nid, char *out, size_t outlen)
{
    int idx = X509_NAME_get_index_by_NID(name, nid, -1);
    if (idx < 0)
        return 0;
    ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    unsigned char *utf8 = NULL;
    int len = ASN1_STRING_to_UTF8(&utf8, s);
    if (len < 0)
        return -1;
    int rc = 1;
    if ((size_t)len >= outlen || len == 0)
        rc = -1;
    for (int i = 0; rc == 1 && i < len; i++)
        if (utf8[i] < 0x20 || utf8[i] == 0x7f)
            rc = -1;
    if (rc == 1) {
        memcpy(out, utf8, (size_t)len);
        out[len] = '\0';
    }
    OPENSSL_free(utf8);
    return rc;
}

int identity_cert_info(X509 *cert, struct identity_info *info)
{
    if (!cert || !info)
        return ID_ERR_ARG;
    memset(info, 0, sizeof *info);
    X509_NAME *subj = X509_get_subject_name(cert);
    if (!subj || subject_field(subj, NID_commonName, info->cn, sizeof info->cn) != 1) {
        log_error("certificate has no usable subject CN (missing, empty, too long or with "
                  "control characters)");
        return ID_ERR_SUBJECT;
    }
    char ou[32];
    if (subject_field(subj, NID_organizationalUnitName, ou, sizeof ou) == 1) {
        int r = identity_role_parse(ou);
        info->role = r > 0 ? (identity_role)r : ROLE_NONE;
    }
    EVP_PKEY *pk = X509_get0_pubkey(cert);
    int id = pk ? EVP_PKEY_get_id(pk) : 0;
    info->kind = id == EVP_PKEY_X25519 ? CERT_KIND_TRANSPORT
               : id == EVP_PKEY_ED25519 ? CERT_KIND_SIGNING : CERT_KIND_OTHER;
    if (info->kind != CERT_KIND_OTHER) {
        size_t klen = IDENTITY_KEY_LEN;
        if (EVP_PKEY_get_raw_public_key(pk, info->key, &klen) != 1 || klen != IDENTITY_KEY_LEN) {
            ERR_clear_error();
            return ID_ERR_PARSE;
        }
    }
    info->not_before = asn1_to_time(X509_get0_notBefore(cert));
    info->not_after = asn1_to_time(X509_get0_notAfter(cert));
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex)
        snprintf(info->serial, sizeof info->serial, "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (X509_digest(cert, EVP_sha256(), md, &mdlen) == 1 && mdlen == SHA256_DIGEST_LENGTH)
        identity_hex(md, mdlen, info->fingerprint);
    return ID_OK;
}

static int map_verify_error(int e)
{
    switch (e) {
    case X509_V_ERR_CERT_REVOKED: return ID_ERR_REVOKED;
    case X509_V_ERR_CERT_HAS_EXPIRED: return ID_ERR_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID: return ID_ERR_NOT_YET;
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_CRL_NOT_YET_VALID:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
    case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
        return ID_ERR_CRL;
    default: return ID_ERR_VERIFY;
    }
}

int identity_verify(X509 *ca, X509_CRL *crl, X509 *cert, time_t at, struct identity_info *info)
{
    struct identity_info local;
    if (!info)
        info = &local;
    if (!ca || !cert) {
        memset(info, 0, sizeof *info);
        return ID_ERR_ARG;
    }
    int rc = identity_cert_info(cert, info);
    if (rc != ID_OK)
        return rc;
    if (!crl) {
        log_error("certificate %s: no CRL loaded; refusing (fail closed)", info->cn);
        return ID_ERR_CRL;
    }
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (!store || !ctx || X509_STORE_add_cert(store, ca) != 1 ||
        X509_STORE_add_crl(store, crl) != 1 ||
        X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_X509_STRICT) != 1 ||
        X509_STORE_CTX_init(ctx, store, cert, NULL) != 1) {
        log_ossl("cannot set up certificate verification", info->cn);
        rc = ID_ERR_CRYPTO;
        goto out;
    }
    if (at != 0)
        X509_STORE_CTX_set_time(ctx, 0, at);
    if (X509_verify_cert(ctx) != 1) {
        int e = X509_STORE_CTX_get_error(ctx);
        rc = map_verify_error(e);
        log_debug("certificate %s (serial %s): %s", info->cn, info->serial,
                  X509_verify_cert_error_string(e));
        ERR_clear_error();
        goto out;
    }
    if (X509_check_ca(cert) != 0) {
        log_debug("certificate %s is a CA certificate, not an identity", info->cn);
        rc = ID_ERR_VERIFY;
        goto out;
    }
    if (info->role == ROLE_NONE) {
        log_debug("certificate %s has no role (subject OU)", info->cn);
        rc = ID_ERR_ROLE;
        goto out;
    }
    rc = ID_OK;
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return rc;
}

int identity_curve_public(X509 *cert, unsigned char out[IDENTITY_KEY_LEN])
{
    if (!cert || !out)
        return ID_ERR_ARG;
    EVP_PKEY *pk = X509_get0_pubkey(cert);
    if (!pk || EVP_PKEY_get_id(pk) != EVP_PKEY_X25519)
        return ID_ERR_KIND;
    size_t len = IDENTITY_KEY_LEN;
    if (EVP_PKEY_get_raw_public_key(pk, out, &len) != 1 || len != IDENTITY_KEY_LEN) {
        ERR_clear_error();
        return ID_ERR_CRYPTO;
    }
    return ID_OK;
}

int identity_curve_keypair(const char *keyfile, unsigned char sec[IDENTITY_KEY_LEN],
                           unsigned char pub[IDENTITY_KEY_LEN])
{
    if (!keyfile || !sec)
        return ID_ERR_ARG;
    EVP_PKEY *k = NULL;
    int rc = identity_load_secret_key(keyfile, &k);
    if (rc != ID_OK)
        return rc;
    size_t len = IDENTITY_KEY_LEN;
    if (EVP_PKEY_get_id(k) != EVP_PKEY_X25519) {
        log_error("%s: not an X25519 (CURVE transport) key", keyfile);
        rc = ID_ERR_KIND;
        goto out;
    }
    if (EVP_PKEY_get_raw_private_key(k, sec, &len) != 1 || len != IDENTITY_KEY_LEN) {
        log_ossl("cannot extract the raw X25519 key", keyfile);
        OPENSSL_cleanse(sec, IDENTITY_KEY_LEN);
        rc = ID_ERR_CRYPTO;
        goto out;
    }
    len = IDENTITY_KEY_LEN;
    if (pub && (EVP_PKEY_get_raw_public_key(k, pub, &len) != 1 || len != IDENTITY_KEY_LEN)) {
        log_ossl("cannot extract the X25519 public key", keyfile);
        OPENSSL_cleanse(sec, IDENTITY_KEY_LEN);
        rc = ID_ERR_CRYPTO;
        goto out;
    }
    rc = ID_OK;
out:
    EVP_PKEY_free(k); /* OpenSSL clears the key material of freed keys */
    return rc;
}

int identity_cert_to_der(X509 *cert, unsigned char **der, size_t *len)
{
    if (!cert || !der || !len)
        return ID_ERR_ARG;
    *der = NULL;
    *len = 0;
    unsigned char *buf = NULL;
    int n = i2d_X509(cert, &buf);
    if (n <= 0) {
        ERR_clear_error();
        return ID_ERR_CRYPTO;
    }
    *der = buf;
    *len = (size_t)n;
    return ID_OK;
}

int identity_cert_from_der(const unsigned char *der, size_t len, X509 **out)
{
    if (!der || !out || len == 0 || len > 65536)
        return ID_ERR_ARG;
    *out = NULL;
    const unsigned char *p = der;
    X509 *c = d2i_X509(NULL, &p, (long)len);
    if (!c) {
        ERR_clear_error();
        return ID_ERR_PARSE;
    }
    if (p != der + len) {
        X509_free(c);
        return ID_ERR_PARSE;
    }
    *out = c;
    return ID_OK;
}

/* --- signatures ---------------------------------------------------------- */

int identity_sign(EVP_PKEY *key, const void *buf, size_t len, unsigned char sig[IDENTITY_SIG_LEN])
{
    if (!key || (!buf && len) || !sig)
        return ID_ERR_ARG;
    if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519)
        return ID_ERR_KIND;
    int rc = ID_ERR_CRYPTO;
    size_t siglen = IDENTITY_SIG_LEN;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
        EVP_DigestSign(ctx, sig, &siglen, buf ? buf : (const void *)"", len) == 1 &&
        siglen == IDENTITY_SIG_LEN)
        rc = ID_OK;
    else
        ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    return rc;
}

int identity_verify_sig(X509 *cert, const void *buf, size_t len, const unsigned char *sig,
                        size_t siglen)
{
    if (!cert || (!buf && len) || !sig)
        return ID_ERR_ARG;
    EVP_PKEY *pk = X509_get0_pubkey(cert);
    if (!pk || EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519)
        return ID_ERR_KIND;
    if (siglen != IDENTITY_SIG_LEN)
        return ID_ERR_SIG;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = ID_ERR_SIG;
    if (!ctx)
        return ID_ERR_CRYPTO;
    if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
        EVP_DigestVerify(ctx, sig, siglen, buf ? buf : (const void *)"", len) == 1)
        rc = ID_OK;
    ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* --- trust ------------------------------------------------------------------ */

/* A verdict of identity_verify that can be reused. Whether a certificate
 * chains to the CA, is not on the CRL, is not a CA and has a role depends
 * only on the certificate, the CA and the CRL: it holds until the CRL file
 * is re-read or the enrolled set changes (trust->gen moves on). What varies
 * with time is checked again on every use: the verdict holds only while
 * from <= now < until, the intersection of the certificate's, the CA's and
 * the CRL's validity (X509_verify_cert's own time checks); outside it the
 * certificate is verified in full again, which says why it is refused. */
struct verdict {
    unsigned long gen; /* trust->gen when it was made; 0 = none */
    time_t from, until;
};

struct trust_entry {
    X509 *cert;
    struct identity_info info;
    char path[256];
    struct verdict ok;
};

/* A signing certificate that verified, keyed by the SHA-256 of its DER. */
struct signer_entry {
    unsigned char der_sha[SHA256_DIGEST_LENGTH];
    X509 *cert; /* NULL: empty slot */
    struct identity_info info;
    struct verdict ok;
};

/* At most this many signing certificates are remembered; past that the
 * table is emptied and refilled (a federation has one or two per org). */
#define SIGNERS_MAX 65536

struct trust {
    pthread_mutex_t mu;
    X509 *ca;
    char *crl_path;
    X509_CRL *crl;       /* NULL while the CRL file is unusable: refuse all */
    struct stat crl_st;  /* what the loaded (or last failed) file looked like */
    int crl_seen;
    struct trust_entry *v;
    size_t n, cap;
    unsigned long gen;     /* moves on when the CRL is re-read or v changes */
    time_t from, until;    /* validity of the CA and the loaded CRL          */
    struct signer_entry *signers; /* open addressing, nsig_slots (power of 2) */
    size_t nsig, nsig_slots;
    unsigned long hits, misses;
};

static int same_file_state(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void signers_clear(trust_t *t)
{
    for (size_t i = 0; i < t->nsig_slots; i++)
        X509_free(t->signers[i].cert);
    free(t->signers);
    t->signers = NULL;
    t->nsig = t->nsig_slots = 0;
}

/* Every cached verdict is void from now on. Called with the mutex held. */
static void verdicts_invalidate(trust_t *t)
{
    t->gen++;
    signers_clear(t);
}

/* The window of the CA and the CRL now loaded (see struct verdict). */
static void trust_window(trust_t *t)
{
    time_t from = asn1_to_time(X509_get0_notBefore(t->ca));
    time_t until = asn1_to_time(X509_get0_notAfter(t->ca));
    if (t->crl) {
        time_t last = asn1_to_time(X509_CRL_get0_lastUpdate(t->crl));
        const ASN1_TIME *nt = X509_CRL_get0_nextUpdate(t->crl);
        if (last == (time_t)-1 || last > from)
            from = last;
        if (nt) {
            time_t next = asn1_to_time(nt);
            if (next == (time_t)-1 || next < until)
                until = next;
        }
    }
    /* An unreadable time caches nothing: an empty window. */
    if (from == (time_t)-1 || until == (time_t)-1) {
        from = 1;
        until = 0;
    }
    t->from = from;
    t->until = until;
}

/* Records that a certificate with info verified just now. */
static void verdict_make(trust_t *t, const struct identity_info *info, struct verdict *v)
{
    v->gen = t->gen;
    v->from = info->not_before > t->from ? info->not_before : t->from;
    v->until = info->not_after < t->until ? info->not_after : t->until;
}

static int verdict_holds(const trust_t *t, const struct verdict *v, time_t now)
{
    return v->gen == t->gen && t->crl && now >= v->from && now < v->until;
}

/* Called with the mutex held. */
static int crl_refresh_locked(trust_t *t)
{
    struct stat st;
    if (stat(t->crl_path, &st) != 0) {
        if (t->crl || !t->crl_seen)
            log_warn("%s: CRL unavailable; refusing every certificate until it is back",
                     t->crl_path);
        X509_CRL_free(t->crl);
        t->crl = NULL;
        t->crl_seen = 1;
        memset(&t->crl_st, 0, sizeof t->crl_st);
        verdicts_invalidate(t);
        return ID_ERR_CRL;
    }
    if (t->crl_seen && same_file_state(&st, &t->crl_st))
        return t->crl ? ID_OK : ID_ERR_CRL;
    t->crl_seen = 1;
    t->crl_st = st;
    verdicts_invalidate(t);
    X509_CRL *crl = NULL;
    int rc = identity_load_crl(t->crl_path, &crl);
    if (rc == ID_OK && X509_CRL_verify(crl, X509_get0_pubkey(t->ca)) != 1) {
        ERR_clear_error();
        log_error("%s: CRL is not signed by the CA; refusing every certificate", t->crl_path);
        rc = ID_ERR_CRL;
    }
    X509_CRL_free(t->crl);
    t->crl = NULL;
    if (rc != ID_OK) {
        X509_CRL_free(crl);
        log_error("%s: CRL could not be loaded; refusing every certificate until it is fixed",
                  t->crl_path);
        return ID_ERR_CRL;
    }
    t->crl = crl;
    trust_window(t);
    STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);
    log_info("%s: CRL loaded (%d revoked)", t->crl_path, rev ? sk_X509_REVOKED_num(rev) : 0);
    return ID_OK;
}

static int add_cert_locked(trust_t *t, const char *path)
{
    X509 *c = NULL;
    int rc = identity_load_cert(path, &c);
    if (rc != ID_OK)
        return rc;
    struct identity_info info;
    rc = identity_cert_info(c, &info);
    if (rc != ID_OK) {
        log_error("%s: unusable certificate", path);
        X509_free(c);
        return rc;
    }
    if (info.kind != CERT_KIND_TRANSPORT) {
        log_debug("%s: not a transport (X25519) certificate; not enrolled", path);
        X509_free(c);
        return ID_ERR_KIND;
    }
    if (t->n == t->cap) {
        size_t ncap = t->cap ? 2 * t->cap : 16;
        struct trust_entry *nv = realloc(t->v, ncap * sizeof *nv);
        if (!nv) {
            X509_free(c);
            return ID_ERR_CRYPTO;
        }
        t->v = nv;
        t->cap = ncap;
    }
    struct trust_entry *e = &t->v[t->n++];
    e->cert = c;
    e->info = info;
    memset(&e->ok, 0, sizeof e->ok);
    snprintf(e->path, sizeof e->path, "%s", path);
    verdicts_invalidate(t);
    log_debug("%s: enrolled %s (%s)", path, info.cn, identity_role_name(info.role));
    return ID_OK;
}

int trust_add_cert_file(trust_t *t, const char *path)
{
    if (!t || !path)
        return ID_ERR_ARG;
    pthread_mutex_lock(&t->mu);
    int rc = add_cert_locked(t, path);
    pthread_mutex_unlock(&t->mu);
    return rc;
}

static int load_dir(trust_t *t, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        log_warn("%s: cannot open certificate directory", dir);
        return ID_ERR_IO;
    }
    int rc = ID_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".crt") != 0)
            continue;
        char path[PATH_MAX];
        int n = snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (n < 0 || (size_t)n >= sizeof path) {
            rc = ID_ERR_ARG;
            break;
        }
        int r = add_cert_locked(t, path);
        if (r != ID_OK && r != ID_ERR_KIND) {
            rc = r;
            break;
        }
    }
    closedir(d);
    return rc;
}

trust_t *trust_new(const char *ca_path, const char *crl_path, const char *certs_dir)
{
    if (!ca_path || !crl_path) {
        log_error("trust: a CA certificate and a CRL are both required");
        return NULL;
    }
    trust_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    t->gen = 1;
    if (identity_load_cert(ca_path, &t->ca) != ID_OK)
        goto fail;
    if (X509_check_ca(t->ca) == 0) {
        log_error("%s: not a CA certificate", ca_path);
        goto fail;
    }
    t->crl_path = strdup(crl_path);
    if (!t->crl_path)
        goto fail;
    if (crl_refresh_locked(t) != ID_OK)
        goto fail;
    if (certs_dir && load_dir(t, certs_dir) != ID_OK)
        goto fail;
    log_info("trust: CA %s, CRL %s, %zu enrolled transport certificates", ca_path, crl_path,
             t->n);
    return t;
fail:
    trust_destroy(&t);
    return NULL;
}

void trust_destroy(trust_t **pt)
{
    if (!pt || !*pt)
        return;
    trust_t *t = *pt;
    for (size_t i = 0; i < t->n; i++)
        X509_free(t->v[i].cert);
    free(t->v);
    signers_clear(t);
    X509_CRL_free(t->crl);
    X509_free(t->ca);
    free(t->crl_path);
    pthread_mutex_destroy(&t->mu);
    free(t);
    *pt = NULL;
}

int trust_reload_enrolled(trust_t *t, const char *certs_dir, size_t *count)
{
    if (!t || !certs_dir)
        return ID_ERR_ARG;
    pthread_mutex_lock(&t->mu);
    struct trust_entry *old = t->v;
    size_t oldn = t->n, oldcap = t->cap;
    t->v = NULL;
    t->n = t->cap = 0;
    int rc = load_dir(t, certs_dir);
    if (rc != ID_OK) {
        /* Keep serving with the set that was loaded. */
        for (size_t i = 0; i < t->n; i++)
            X509_free(t->v[i].cert);
        free(t->v);
        t->v = old;
        t->n = oldn;
        t->cap = oldcap;
    } else {
        for (size_t i = 0; i < oldn; i++)
            X509_free(old[i].cert);
        free(old);
    }
    verdicts_invalidate(t);
    crl_refresh_locked(t);
    if (count)
        *count = t->n;
    pthread_mutex_unlock(&t->mu);
    return rc;
}

size_t trust_count(trust_t *t)
{
    if (!t)
        return 0;
    pthread_mutex_lock(&t->mu);
    size_t n = t->n;
    pthread_mutex_unlock(&t->mu);
    return n;
}

int trust_reload_crl(trust_t *t)
{
    if (!t)
        return ID_ERR_ARG;
    pthread_mutex_lock(&t->mu);
    int rc = crl_refresh_locked(t);
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int trust_verify_cert(trust_t *t, X509 *cert, struct identity_info *info)
{
    if (!t || !cert)
        return ID_ERR_ARG;
    pthread_mutex_lock(&t->mu);
    crl_refresh_locked(t);
    /* With no usable CRL identity_verify refuses (fail closed). */
    int rc = identity_verify(t->ca, t->crl, cert, 0, info);
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int trust_lookup_key(trust_t *t, const unsigned char key[IDENTITY_KEY_LEN],
                     struct identity_info *info)
{
    struct identity_info local;
    if (!info)
        info = &local;
    memset(info, 0, sizeof *info);
    if (!t || !key)
        return ID_ERR_ARG;
    int rc = ID_ERR_UNKNOWN;
    pthread_mutex_lock(&t->mu);
    crl_refresh_locked(t);
    time_t now = time(NULL);
    /* A key may be enrolled more than once (a re-issued certificate): accept
     * if any of its certificates is valid now. */
    for (size_t i = 0; i < t->n; i++) {
        struct trust_entry *e = &t->v[i];
        if (memcmp(e->info.key, key, IDENTITY_KEY_LEN) != 0)
            continue;
        if (verdict_holds(t, &e->ok, now)) {
            t->hits++;
            *info = e->info;
            rc = ID_OK;
            break;
        }
        t->misses++;
        struct identity_info cand;
        rc = identity_verify(t->ca, t->crl, e->cert, 0, &cand);
        *info = cand;
        if (rc == ID_OK) {
            verdict_make(t, &cand, &e->ok);
            break;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

size_t trust_check_enrolled(trust_t *t)
{
    if (!t)
        return 0;
    size_t valid = 0;
    pthread_mutex_lock(&t->mu);
    crl_refresh_locked(t);
    time_t now = time(NULL);
    for (size_t i = 0; i < t->n; i++) {
        struct trust_entry *e = &t->v[i];
        if (verdict_holds(t, &e->ok, now)) {
            valid++;
            continue;
        }
        struct identity_info info;
        if (identity_verify(t->ca, t->crl, e->cert, 0, &info) == ID_OK) {
            verdict_make(t, &info, &e->ok);
            valid++;
        } else {
            memset(&e->ok, 0, sizeof e->ok);
        }
    }
    pthread_mutex_unlock(&t->mu);
    return valid;
}

/* The slot of a signing certificate by the SHA-256 of its DER: its entry,
 * or the empty slot where it belongs. */
static struct signer_entry *signer_slot(trust_t *t, const unsigned char sha[SHA256_DIGEST_LENGTH])
{
    size_t h;
    memcpy(&h, sha, sizeof h);
    size_t mask = t->nsig_slots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct signer_entry *e = &t->signers[i];
        if (!e->cert || memcmp(e->der_sha, sha, SHA256_DIGEST_LENGTH) == 0)
            return e;
    }
}

/* Remembers a verified signing certificate (takes a reference to cert).
 * Called with the mutex held; a failure only means it is not remembered. */
static void signer_remember(trust_t *t, const unsigned char sha[SHA256_DIGEST_LENGTH], X509 *cert,
                            const struct identity_info *info)
{
    if (t->nsig >= SIGNERS_MAX)
        signers_clear(t);
    if (2 * (t->nsig + 1) > t->nsig_slots) {
        size_t slots = t->nsig_slots ? 2 * t->nsig_slots : 64;
        struct signer_entry *old = t->signers;
        size_t nold = t->nsig_slots;
        struct signer_entry *nw = calloc(slots, sizeof *nw);
        if (!nw)
            return;
        t->signers = nw;
        t->nsig_slots = slots;
        for (size_t i = 0; i < nold; i++)
            if (old[i].cert)
                *signer_slot(t, old[i].der_sha) = old[i];
        free(old);
    }
    struct signer_entry *e = signer_slot(t, sha);
    if (e->cert)
        X509_free(e->cert);
    else
        t->nsig++;
    X509_up_ref(cert);
    memcpy(e->der_sha, sha, SHA256_DIGEST_LENGTH);
    e->cert = cert;
    e->info = *info;
    verdict_make(t, info, &e->ok);
}

void trust_cache_stats(trust_t *t, unsigned long *hits, unsigned long *misses)
{
    unsigned long h = 0, m = 0;
    if (t) {
        pthread_mutex_lock(&t->mu);
        h = t->hits;
        m = t->misses;
        pthread_mutex_unlock(&t->mu);
    }
    if (hits)
        *hits = h;
    if (misses)
        *misses = m;
}

int trust_verify_signed(trust_t *t, const unsigned char *cert_der, size_t cert_len,
                        const void *payload, size_t payload_len, const unsigned char *sig,
                        size_t sig_len, const char *expected_cn, struct identity_info *info)
{
    struct identity_info local;
    if (!info)
        info = &local;
    memset(info, 0, sizeof *info);
    if (!t || !cert_der || !sig)
        return ID_ERR_ARG;
    unsigned char sha[SHA256_DIGEST_LENGTH];
    SHA256(cert_der, cert_len, sha);
    X509 *cert = NULL;
    int rc;
    pthread_mutex_lock(&t->mu);
    crl_refresh_locked(t);
    struct signer_entry *e = t->nsig ? signer_slot(t, sha) : NULL;
    if (e && e->cert && verdict_holds(t, &e->ok, time(NULL))) {
        t->hits++;
        cert = e->cert;
        X509_up_ref(cert);
        *info = e->info;
        rc = ID_OK;
    } else {
        t->misses++;
        rc = identity_cert_from_der(cert_der, cert_len, &cert);
        if (rc == ID_OK) {
            /* With no usable CRL identity_verify refuses (fail closed). */
            rc = identity_verify(t->ca, t->crl, cert, 0, info);
            if (rc == ID_OK)
                signer_remember(t, sha, cert, info);
        }
    }
    pthread_mutex_unlock(&t->mu);
    if (rc != ID_OK)
        goto out;
    if (info->kind != CERT_KIND_SIGNING) {
        rc = ID_ERR_KIND;
        goto out;
    }
    if (expected_cn && strcmp(expected_cn, info->cn) != 0) {
        log_warnx("signer %s does not match the connection's identity %s", info->cn,
                  expected_cn);
        rc = ID_ERR_SUBJECT;
        goto out;
    }
    rc = identity_verify_sig(cert, payload, payload_len, sig, sig_len);
out:
    X509_free(cert);
    return rc;
}
