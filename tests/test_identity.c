/*
 * test_identity.c - identities, the CA and the trust store, with real
 * certificates issued into a temporary directory. Expected values come
 * from other routes: libzmq's own CURVE code (zmq_curve_public) for the
 * X25519 key, the NIST SHA-256 test vector, file modes set by chmod; the
 * verification cache's hits and misses are counted by hand.
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

struct fx {
    char root[256];
    ca_t *ca;
};

static char *path_of(struct fx *f, const char *sub, const char *file)
{
    static char buf[4][512];
    static int i;
    i = (i + 1) % 4;
    return (char *)fed_path(buf[i], sizeof buf[i], f->root, sub, file);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(fed_tmpdir(f->root, sizeof f->root), 0);
    f->ca = fed_ca(f->root, "Test Federation");
    assert_non_null(f->ca);
    time_t now = time(NULL);
    assert_int_equal(fed_issue(f->ca, f->root, "n1", ROLE_NODE, "org:demo-1", 0, 0), 0);
    assert_int_equal(fed_issue(f->ca, f->root, "n2", ROLE_NODE, "org:demo-2", 0, 0), 0);
    assert_int_equal(fed_issue(f->ca, f->root, "an", ROLE_ANALYST, "analyst:ana", 0, 0), 0);
    assert_int_equal(fed_issue(f->ca, f->root, "old", ROLE_NODE, "org:old", now - 10 * 86400,
                               now - 86400), 0);
    assert_int_equal(fed_issue(f->ca, f->root, "future", ROLE_NODE, "org:future",
                               now + 86400, now + 10 * 86400), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    ca_destroy(&f->ca);
    ca_destroy(&f->ca); /* safe twice */
    fed_rmrf(f->root);
    free(f);
    return 0;
}

static X509 *load(struct fx *f, const char *sub, const char *file)
{
    X509 *c = NULL;
    assert_int_equal(identity_load_cert(path_of(f, sub, file), &c), ID_OK);
    return c;
}

static X509_CRL *load_crl(struct fx *f)
{
    X509_CRL *crl = NULL;
    assert_int_equal(identity_load_crl(path_of(f, "ca", "ca.crl"), &crl), ID_OK);
    return crl;
}

static void test_roles_and_strings(void **state)
{
    (void)state;
    assert_string_equal(identity_role_name(ROLE_NODE), "node");
    assert_string_equal(identity_role_name(ROLE_OPERATOR), "operator");
    assert_int_equal(identity_role_parse("coordinator"), ROLE_COORDINATOR);
    assert_int_equal(identity_role_parse("analyst"), ROLE_ANALYST);
    assert_int_equal(identity_role_parse("Node"), -1);
    assert_int_equal(identity_role_parse("none"), -1);
    assert_int_equal(identity_role_parse(NULL), -1);
    assert_string_equal(identity_strerror(ID_ERR_REVOKED), "certificate revoked");
    assert_string_equal(identity_strerror(12345), "unknown identity error");
}

static void test_sha256_vector(void **state)
{
    (void)state;
    char hex[IDENTITY_HEX_SHA256];
    identity_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    identity_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_cert_info(void **state)
{
    struct fx *f = *state;
    X509 *t = load(f, "n1", "transport.crt");
    X509 *s = load(f, "n1", "signing.crt");
    struct identity_info it, is;
    assert_int_equal(identity_cert_info(t, &it), ID_OK);
    assert_int_equal(identity_cert_info(s, &is), ID_OK);
    assert_string_equal(it.cn, "org:demo-1");
    assert_int_equal(it.role, ROLE_NODE);
    assert_int_equal(it.kind, CERT_KIND_TRANSPORT);
    assert_string_equal(is.cn, "org:demo-1");
    assert_int_equal(is.kind, CERT_KIND_SIGNING);
    /* default validity: one year from (now - 5 min), capped at the CA's
     * own notAfter (the test CA lives 30 days) */
    long span = (long)(it.not_after - it.not_before);
    struct identity_info ica;
    assert_int_equal(identity_cert_info(ca_cert(f->ca), &ica), ID_OK);
    assert_true(span > 29L * 86400 && span <= 30L * 86400 + 300);
    assert_true(it.not_after <= ica.not_after);
    assert_true(it.not_before <= time(NULL));
    assert_true(strlen(it.serial) >= 16);
    assert_string_not_equal(it.serial, is.serial);
    assert_int_equal(strlen(it.fingerprint), 64);
    X509 *a = load(f, "an", "transport.crt");
    struct identity_info ia;
    assert_int_equal(identity_cert_info(a, &ia), ID_OK);
    assert_int_equal(ia.role, ROLE_ANALYST);
    assert_string_equal(ia.cn, "analyst:ana");
    X509_free(a);
    X509_free(t);
    X509_free(s);
}

/* The certificate's key, the key file's secret and libzmq's CURVE
 * arithmetic must agree: zmq_curve_public derives the public key from the
 * secret with libzmq's own (libsodium/tweetnacl) code. */
static void test_curve_keys_match_libzmq(void **state)
{
    struct fx *f = *state;
    X509 *t = load(f, "n1", "transport.crt");
    unsigned char pub[IDENTITY_KEY_LEN], sec[IDENTITY_KEY_LEN], pub2[IDENTITY_KEY_LEN];
    assert_int_equal(identity_curve_public(t, pub), ID_OK);
    assert_int_equal(identity_curve_keypair(path_of(f, "n1", "transport.key"), sec, pub2), ID_OK);
    assert_memory_equal(pub, pub2, IDENTITY_KEY_LEN);
    char sec_z85[41], pub_z85[41], derived[41];
    assert_non_null(zmq_z85_encode(sec_z85, sec, IDENTITY_KEY_LEN));
    assert_non_null(zmq_z85_encode(pub_z85, pub, IDENTITY_KEY_LEN));
    if (zmq_has("curve")) {
        assert_int_equal(zmq_curve_public(derived, sec_z85), 0);
        assert_string_equal(derived, pub_z85);
    }
    OPENSSL_cleanse(sec, sizeof sec);
    /* a signing certificate is not a CURVE key */
    X509 *s = load(f, "n1", "signing.crt");
    assert_int_equal(identity_curve_public(s, pub), ID_ERR_KIND);
    assert_int_equal(identity_curve_keypair(path_of(f, "n1", "signing.key"), sec, NULL),
                     ID_ERR_KIND);
    X509_free(s);
    X509_free(t);
}

static void test_verify_valid_expired_future_other_ca(void **state)
{
    struct fx *f = *state;
    X509 *ca = ca_cert(f->ca);
    X509_CRL *crl = load_crl(f);
    struct identity_info info;
    X509 *t = load(f, "n1", "transport.crt");
    assert_int_equal(identity_verify(ca, crl, t, 0, &info), ID_OK);
    assert_string_equal(info.cn, "org:demo-1");
    /* checked at a later time inside every validity period: still fine; a
     * year later the CA (30 days here), the CRL and the leaf have all lapsed */
    assert_int_equal(identity_verify(ca, crl, t, time(NULL) + 86400, NULL), ID_OK);
    assert_int_not_equal(identity_verify(ca, crl, t, info.not_after + 3600, NULL), ID_OK);
    /* no CRL: fail closed */
    assert_int_equal(identity_verify(ca, NULL, t, 0, NULL), ID_ERR_CRL);

    X509 *old = load(f, "old", "transport.crt");
    assert_int_equal(identity_verify(ca, crl, old, 0, &info), ID_ERR_EXPIRED);
    assert_string_equal(info.cn, "org:old");
    X509 *fut = load(f, "future", "signing.crt");
    assert_int_equal(identity_verify(ca, crl, fut, 0, NULL), ID_ERR_NOT_YET);

    /* a certificate from another CA with the same names */
    char other[512];
    fed_path(other, sizeof other, f->root, "otherca", NULL);
    assert_int_equal(ca_init(other, "Test Federation", 30), ID_OK);
    ca_t *oca = ca_open(other);
    assert_non_null(oca);
    assert_int_equal(fed_issue(oca, f->root, "impostor", ROLE_NODE, "org:demo-1", 0, 0), ID_OK);
    X509 *imp = load(f, "impostor", "transport.crt");
    assert_int_equal(identity_verify(ca, crl, imp, 0, NULL), ID_ERR_VERIFY);
    /* and the other CA's own valid CRL does not help either */
    X509_CRL *ocrl = NULL;
    assert_int_equal(identity_load_crl(path_of(f, "otherca", "ca.crl"), &ocrl), ID_OK);
    assert_int_not_equal(identity_verify(ca, ocrl, t, 0, NULL), ID_OK);
    /* the CA certificate itself is not an identity */
    assert_int_not_equal(identity_verify(ca, crl, ca, 0, NULL), ID_OK);
    X509_CRL_free(ocrl);
    X509_free(imp);
    ca_destroy(&oca);
    X509_free(fut);
    X509_free(old);
    X509_free(t);
    X509_CRL_free(crl);
}

static void test_revoke_and_crl(void **state)
{
    struct fx *f = *state;
    X509 *ca = ca_cert(f->ca);
    X509 *t2 = load(f, "n2", "transport.crt");
    X509 *s2 = load(f, "n2", "signing.crt");
    X509 *t1 = load(f, "n1", "transport.crt");
    assert_int_equal(ca_revoke(f->ca, t2), ID_OK);
    assert_int_equal(ca_revoke(f->ca, t2), ID_OK); /* twice: no duplicate */
    X509_CRL *crl = load_crl(f);
    assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 1);
    assert_int_equal(identity_verify(ca, crl, t2, 0, NULL), ID_ERR_REVOKED);
    assert_int_equal(identity_verify(ca, crl, s2, 0, NULL), ID_OK); /* only that one */
    assert_int_equal(identity_verify(ca, crl, t1, 0, NULL), ID_OK);
    /* a CRL rewritten with `crl` keeps the revocation */
    assert_int_equal(ca_write_crl(f->ca, 7), ID_OK);
    X509_CRL_free(crl);
    crl = load_crl(f);
    assert_int_equal(identity_verify(ca, crl, t2, 0, NULL), ID_ERR_REVOKED);
    /* a CRL past its nextUpdate refuses everything */
    assert_int_equal(identity_verify(ca, crl, t1, time(NULL) + 8 * 86400, NULL), ID_ERR_CRL);
    X509_CRL_free(crl);
    X509_free(t1);
    X509_free(t2);
    X509_free(s2);
}

static void test_key_file_modes(void **state)
{
    struct fx *f = *state;
    const char *key = path_of(f, "n1", "signing.key");
    struct stat st;
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600); /* as written by the CA */
    EVP_PKEY *k = NULL;
    assert_int_equal(chmod(key, 0644), 0);
    struct fed_capture cap;
    assert_int_equal(fed_capture_begin(&cap), 0);
    int rc = identity_load_secret_key(key, &k);
    char *log = fed_capture_end(&cap);
    assert_int_equal(rc, ID_ERR_PERM);
    assert_null(k);
    assert_non_null(strstr(log, "0644"));
    assert_non_null(strstr(log, key));
    free(log);
    assert_int_equal(identity_check_key_mode(key), ID_ERR_PERM);
    assert_int_equal(chmod(key, 0640), 0);
    assert_int_equal(identity_check_key_mode(key), ID_ERR_PERM);
    assert_int_equal(chmod(key, 0400), 0);
    assert_int_equal(identity_load_secret_key(key, &k), ID_OK);
    EVP_PKEY_free(k);
    assert_int_equal(chmod(key, 0600), 0);
    assert_int_equal(identity_check_key_mode(key), ID_OK);
    /* CURVE key files are checked the same way */
    const char *tkey = path_of(f, "n1", "transport.key");
    unsigned char sec[IDENTITY_KEY_LEN];
    assert_int_equal(chmod(tkey, 0604), 0);
    assert_int_equal(identity_curve_keypair(tkey, sec, NULL), ID_ERR_PERM);
    assert_int_equal(chmod(tkey, 0600), 0);
    /* a missing file is an I/O error, not a permission one */
    assert_int_equal(identity_check_key_mode(path_of(f, "n1", "nope.key")), ID_ERR_IO);
}

static void test_sign_verify(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *k1 = NULL;
    assert_int_equal(identity_load_secret_key(path_of(f, "n1", "signing.key"), &k1), ID_OK);
    X509 *c1 = load(f, "n1", "signing.crt");
    X509 *c2 = load(f, "n2", "signing.crt");
    X509 *t1 = load(f, "n1", "transport.crt");
    unsigned char payload[200];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (unsigned char)(i * 7 + 3);
    unsigned char sig[IDENTITY_SIG_LEN];
    assert_int_equal(identity_sign(k1, payload, sizeof payload, sig), ID_OK);
    assert_int_equal(identity_verify_sig(c1, payload, sizeof payload, sig, sizeof sig), ID_OK);
    /* one flipped bit anywhere in the payload */
    payload[117] ^= 0x01;
    assert_int_equal(identity_verify_sig(c1, payload, sizeof payload, sig, sizeof sig),
                     ID_ERR_SIG);
    payload[117] ^= 0x01;
    /* a tampered signature, a truncated one */
    sig[5] ^= 0x80;
    assert_int_equal(identity_verify_sig(c1, payload, sizeof payload, sig, sizeof sig),
                     ID_ERR_SIG);
    sig[5] ^= 0x80;
    assert_int_equal(identity_verify_sig(c1, payload, sizeof payload, sig, 63), ID_ERR_SIG);
    /* another organization's certificate */
    assert_int_equal(identity_verify_sig(c2, payload, sizeof payload, sig, sizeof sig),
                     ID_ERR_SIG);
    /* a transport certificate cannot verify signatures */
    assert_int_equal(identity_verify_sig(t1, payload, sizeof payload, sig, sizeof sig),
                     ID_ERR_KIND);
    /* Ed25519 is deterministic: same key, same message, same signature */
    unsigned char sig2[IDENTITY_SIG_LEN];
    assert_int_equal(identity_sign(k1, payload, sizeof payload, sig2), ID_OK);
    assert_memory_equal(sig, sig2, sizeof sig);
    /* an X25519 key cannot sign */
    EVP_PKEY *tk = NULL;
    assert_int_equal(identity_load_secret_key(path_of(f, "n1", "transport.key"), &tk), ID_OK);
    assert_int_equal(identity_sign(tk, payload, sizeof payload, sig2), ID_ERR_KIND);
    EVP_PKEY_free(tk);
    EVP_PKEY_free(k1);
    X509_free(c1);
    X509_free(c2);
    X509_free(t1);
}

static void test_der_roundtrip(void **state)
{
    struct fx *f = *state;
    X509 *c = load(f, "n1", "signing.crt");
    unsigned char *der = NULL;
    size_t len = 0;
    assert_int_equal(identity_cert_to_der(c, &der, &len), ID_OK);
    assert_true(len > 100 && len < 2000);
    X509 *back = NULL;
    assert_int_equal(identity_cert_from_der(der, len, &back), ID_OK);
    assert_int_equal(X509_cmp(c, back), 0);
    X509_free(back);
    /* trailing garbage, truncation and junk are refused */
    unsigned char *longer = malloc(len + 1);
    memcpy(longer, der, len);
    longer[len] = 0;
    assert_int_equal(identity_cert_from_der(longer, len + 1, &back), ID_ERR_PARSE);
    assert_int_equal(identity_cert_from_der(der, len - 1, &back), ID_ERR_PARSE);
    assert_null(back);
    assert_int_equal(identity_cert_from_der((const unsigned char *)"hello", 5, &back),
                     ID_ERR_PARSE);
    assert_int_equal(identity_cert_from_der(der, 0, &back), ID_ERR_ARG);
    free(longer);
    OPENSSL_free(der);
    X509_free(c);
}

static void make_enrolled(struct fx *f, const char *const *subs, int n)
{
    char dir[512], to[1100];
    fed_path(dir, sizeof dir, f->root, "enrolled", NULL);
    mkdir(dir, 0755);
    for (int i = 0; i < n; i++) {
        snprintf(to, sizeof to, "%s/%s-transport.crt", dir, subs[i]);
        assert_int_equal(fed_copy(path_of(f, subs[i], "transport.crt"), to), 0);
        snprintf(to, sizeof to, "%s/%s-signing.crt", dir, subs[i]);
        assert_int_equal(fed_copy(path_of(f, subs[i], "signing.crt"), to), 0);
    }
}

static void test_trust_lookup_and_crl_reload(void **state)
{
    struct fx *f = *state;
    const char *subs[] = {"n1", "an", "old"};
    make_enrolled(f, subs, 3);
    trust_t *t = trust_new(path_of(f, "ca", "ca.crt"), path_of(f, "ca", "ca.crl"),
                           path_of(f, "enrolled", NULL));
    assert_non_null(t);
    assert_int_equal(trust_count(t), 3); /* transport certificates only */
    unsigned char k1[IDENTITY_KEY_LEN], kold[IDENTITY_KEY_LEN], k2[IDENTITY_KEY_LEN];
    X509 *t1 = load(f, "n1", "transport.crt");
    X509 *told = load(f, "old", "transport.crt");
    X509 *t2 = load(f, "n2", "transport.crt");
    assert_int_equal(identity_curve_public(t1, k1), 0);
    assert_int_equal(identity_curve_public(told, kold), 0);
    assert_int_equal(identity_curve_public(t2, k2), 0);
    struct identity_info info;
    assert_int_equal(trust_lookup_key(t, k1, &info), ID_OK);
    assert_string_equal(info.cn, "org:demo-1");
    assert_int_equal(info.role, ROLE_NODE);
    assert_int_equal(trust_lookup_key(t, kold, &info), ID_ERR_EXPIRED);
    assert_string_equal(info.cn, "org:old");
    assert_int_equal(trust_lookup_key(t, k2, &info), ID_ERR_UNKNOWN); /* not enrolled */
    assert_int_equal(trust_add_cert_file(t, path_of(f, "n2", "transport.crt")), ID_OK);
    assert_int_equal(trust_lookup_key(t, k2, &info), ID_OK);

    /* revoke n1: the trust re-reads the CRL because its file changed */
    assert_int_equal(ca_revoke(f->ca, t1), ID_OK);
    assert_int_equal(trust_lookup_key(t, k1, &info), ID_ERR_REVOKED);
    assert_int_equal(trust_lookup_key(t, k2, &info), ID_OK);

    /* a broken CRL file: fail closed until it is fixed */
    char crl[512], saved[600];
    snprintf(crl, sizeof crl, "%s", path_of(f, "ca", "ca.crl"));
    snprintf(saved, sizeof saved, "%s.saved", crl);
    assert_int_equal(rename(crl, saved), 0);
    FILE *fp = fopen(crl, "w");
    fputs("-----BEGIN X509 CRL-----\nnot a crl\n-----END X509 CRL-----\n", fp);
    fclose(fp);
    assert_int_not_equal(trust_lookup_key(t, k2, &info), ID_OK);
    assert_int_equal(trust_reload_crl(t), ID_ERR_CRL);
    assert_int_equal(rename(saved, crl), 0);
    assert_int_equal(trust_lookup_key(t, k2, &info), ID_OK);

    /* trust_verify_signed: good, wrong expected CN, tampered, revoked signer */
    EVP_PKEY *sk = NULL;
    assert_int_equal(identity_load_secret_key(path_of(f, "n2", "signing.key"), &sk), ID_OK);
    X509 *sc = load(f, "n2", "signing.crt");
    unsigned char *der = NULL;
    size_t derlen = 0;
    assert_int_equal(identity_cert_to_der(sc, &der, &derlen), 0);
    const char msg[] = "submission bytes";
    unsigned char sig[IDENTITY_SIG_LEN];
    assert_int_equal(identity_sign(sk, msg, sizeof msg, sig), 0);
    assert_int_equal(trust_verify_signed(t, der, derlen, msg, sizeof msg, sig, sizeof sig,
                                         "org:demo-2", &info), ID_OK);
    assert_string_equal(info.cn, "org:demo-2");
    assert_int_equal(trust_verify_signed(t, der, derlen, msg, sizeof msg, sig, sizeof sig,
                                         "org:demo-1", NULL), ID_ERR_SUBJECT);
    assert_int_equal(trust_verify_signed(t, der, derlen, msg, sizeof msg - 1, sig, sizeof sig,
                                         NULL, NULL), ID_ERR_SIG);
    assert_int_equal(ca_revoke(f->ca, sc), ID_OK);
    assert_int_equal(trust_verify_signed(t, der, derlen, msg, sizeof msg, sig, sizeof sig,
                                         "org:demo-2", NULL), ID_ERR_REVOKED);
    OPENSSL_free(der);
    X509_free(sc);
    EVP_PKEY_free(sk);
    X509_free(t1);
    X509_free(told);
    X509_free(t2);
    trust_destroy(&t);
    trust_destroy(&t);
}

/* trust_verify_signed of a fixed message by sub's signing key. */
static int verify_signed_by(struct fx *f, trust_t *t, const char *sub, const char *cn)
{
    EVP_PKEY *sk = NULL;
    assert_int_equal(identity_load_secret_key(path_of(f, sub, "signing.key"), &sk), ID_OK);
    X509 *sc = load(f, sub, "signing.crt");
    unsigned char *der = NULL;
    size_t derlen = 0;
    assert_int_equal(identity_cert_to_der(sc, &der, &derlen), 0);
    const char msg[] = "a submission";
    unsigned char sig[IDENTITY_SIG_LEN];
    assert_int_equal(identity_sign(sk, msg, sizeof msg, sig), 0);
    int rc = trust_verify_signed(t, der, derlen, msg, sizeof msg, sig, sizeof sig, cn, NULL);
    OPENSSL_free(der);
    X509_free(sc);
    EVP_PKEY_free(sk);
    return rc;
}

static void expect_stats(trust_t *t, unsigned long hits, unsigned long misses)
{
    unsigned long h = 99, m = 99;
    trust_cache_stats(t, &h, &m);
    assert_int_equal(h, hits);
    assert_int_equal(m, misses);
}

/* The verification cache: a verdict is reused (hits), forgotten when the
 * CRL file changes or a certificate is enrolled, never reused for a failure,
 * and time is checked on every use. */
static void test_trust_verdict_cache(void **state)
{
    struct fx *f = *state;
    const char *subs[] = {"n1", "an", "old"};
    make_enrolled(f, subs, 3);
    time_t now = time(NULL);
    /* a node whose certificates expire in two seconds */
    assert_int_equal(fed_issue(f->ca, f->root, "brief", ROLE_NODE, "org:brief", now - 60,
                               now + 2), 0);
    char to[1100];
    snprintf(to, sizeof to, "%s/brief-transport.crt", path_of(f, "enrolled", NULL));
    assert_int_equal(fed_copy(path_of(f, "brief", "transport.crt"), to), 0);
    trust_t *t = trust_new(path_of(f, "ca", "ca.crt"), path_of(f, "ca", "ca.crl"),
                           path_of(f, "enrolled", NULL));
    assert_non_null(t);
    expect_stats(t, 0, 0);
    /* n1, an and brief are valid; old expired a day ago */
    assert_int_equal(trust_check_enrolled(t), 3);
    unsigned char k1[IDENTITY_KEY_LEN], kb[IDENTITY_KEY_LEN], kold[IDENTITY_KEY_LEN];
    X509 *c = load(f, "n1", "transport.crt");
    assert_int_equal(identity_curve_public(c, k1), 0);
    X509_free(c);
    c = load(f, "brief", "transport.crt");
    assert_int_equal(identity_curve_public(c, kb), 0);
    X509_free(c);
    c = load(f, "old", "transport.crt");
    assert_int_equal(identity_curve_public(c, kold), 0);
    X509_free(c);
    struct identity_info info;
    assert_int_equal(trust_lookup_key(t, k1, &info), ID_OK);
    assert_string_equal(info.cn, "org:demo-1");
    assert_int_equal(trust_lookup_key(t, kb, &info), ID_OK);
    expect_stats(t, 2, 0); /* both verified by trust_check_enrolled */
    assert_int_equal(trust_lookup_key(t, kold, &info), ID_ERR_EXPIRED);
    assert_int_equal(trust_lookup_key(t, kold, &info), ID_ERR_EXPIRED);
    expect_stats(t, 2, 2); /* a refusal is never remembered */

    /* signing certificates: verified once, then remembered */
    assert_int_equal(verify_signed_by(f, t, "n1", "org:demo-1"), ID_OK);
    expect_stats(t, 2, 3);
    assert_int_equal(verify_signed_by(f, t, "n1", "org:demo-1"), ID_OK);
    expect_stats(t, 3, 3);
    /* the CN and the signature are checked on every use */
    assert_int_equal(verify_signed_by(f, t, "n1", "org:demo-2"), ID_ERR_SUBJECT);
    expect_stats(t, 4, 3);
    assert_int_equal(verify_signed_by(f, t, "brief", "org:brief"), ID_OK);
    expect_stats(t, 4, 4);

    /* enrolling a certificate forgets every verdict */
    assert_int_equal(trust_add_cert_file(t, path_of(f, "n2", "transport.crt")), ID_OK);
    assert_int_equal(verify_signed_by(f, t, "n1", "org:demo-1"), ID_OK);
    assert_int_equal(trust_lookup_key(t, k1, &info), ID_OK);
    expect_stats(t, 4, 6);

    /* the CRL file changes (n1's signing certificate revoked): the verdict
     * remembered a moment ago is forgotten, the signature refused */
    assert_int_equal(verify_signed_by(f, t, "n1", "org:demo-1"), ID_OK);
    expect_stats(t, 5, 6);
    X509 *s1 = load(f, "n1", "signing.crt");
    assert_int_equal(ca_revoke(f->ca, s1), ID_OK);
    X509_free(s1);
    assert_int_equal(verify_signed_by(f, t, "n1", "org:demo-1"), ID_ERR_REVOKED);
    assert_int_equal(trust_lookup_key(t, k1, &info), ID_OK); /* transport not revoked */
    expect_stats(t, 5, 8);

    /* time is checked on each use: brief's remembered verdicts expire */
    assert_int_equal(trust_lookup_key(t, kb, &info), ID_OK);
    assert_int_equal(verify_signed_by(f, t, "brief", "org:brief"), ID_OK);
    expect_stats(t, 5, 10);
    assert_int_equal(trust_lookup_key(t, kb, &info), ID_OK);
    assert_int_equal(verify_signed_by(f, t, "brief", "org:brief"), ID_OK);
    expect_stats(t, 7, 10);
    while (time(NULL) <= now + 2)
        fed_sleep_ms(100);
    assert_int_equal(trust_lookup_key(t, kb, &info), ID_ERR_EXPIRED);
    assert_int_equal(verify_signed_by(f, t, "brief", "org:brief"), ID_ERR_EXPIRED);
    expect_stats(t, 7, 12);
    trust_destroy(&t);
}

static void test_trust_refuses_foreign_crl(void **state)
{
    struct fx *f = *state;
    char other[512];
    fed_path(other, sizeof other, f->root, "ca2", NULL);
    assert_int_equal(ca_init(other, "Elsewhere", 30), ID_OK);
    assert_null(trust_new(path_of(f, "ca", "ca.crt"), path_of(f, "ca2", "ca.crl"), NULL));
    assert_null(trust_new(path_of(f, "ca", "ca.crt"), NULL, NULL));
    /* a leaf is not a CA */
    assert_null(trust_new(path_of(f, "n1", "signing.crt"), path_of(f, "ca", "ca.crl"), NULL));
    /* ca_init refuses to overwrite */
    assert_int_not_equal(ca_init(other, "Elsewhere", 30), ID_OK);
}

static void test_issue_refuses_overwrite_and_bad_names(void **state)
{
    struct fx *f = *state;
    assert_int_not_equal(fed_issue(f->ca, f->root, "n1", ROLE_NODE, "org:demo-1", 0, 0), ID_OK);
    assert_int_equal(fed_issue(f->ca, f->root, "bad", ROLE_NODE, "", 0, 0), ID_ERR_SUBJECT);
    assert_int_equal(fed_issue(f->ca, f->root, "bad", ROLE_NODE, "org:\x01x", 0, 0),
                     ID_ERR_SUBJECT);
    assert_int_equal(fed_issue(f->ca, f->root, "bad", ROLE_NONE, "org:x", 0, 0), ID_ERR_ROLE);
    time_t now = time(NULL);
    assert_int_equal(fed_issue(f->ca, f->root, "bad", ROLE_NODE, "org:x", now, now - 1),
                     ID_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles_and_strings),
        cmocka_unit_test(test_sha256_vector),
        cmocka_unit_test_setup_teardown(test_cert_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_curve_keys_match_libzmq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_valid_expired_future_other_ca, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_revoke_and_crl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_der_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trust_lookup_and_crl_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trust_verdict_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trust_refuses_foreign_crl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issue_refuses_overwrite_and_bad_names, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
