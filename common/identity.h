/*
 * identity.h - federation identities: the CA certificate, its CRL, the
 * transport (X25519 = ZeroMQ CURVE) and signing (Ed25519) certificates of
 * nodes, coordinator and analysts, their secret keys, and the "trust"
 * object the coordinator uses to map a CURVE public key to an enrolled,
 * currently valid certificate.
 *
 * Certificate profile (what equity-ca issues and what this module reads):
 *   subject CN = the organization or person id ("org:il-medicaid-plan-a")
 *   subject OU = the role: "node", "coordinator", "analyst" or "operator"
 *   subject O  = the federation name (informational)
 *   kind       = from the public key type: X25519 -> transport,
 *                Ed25519 -> signing (the CA itself is an Ed25519 key)
 * The role lives only in the subject OU; there is no custom extension.
 *
 * Errors: functions that can fail return 0 or a negative identity_err and
 * log the reason (with the file name) through log.h. Secret key bytes are
 * wiped with OPENSSL_cleanse and never logged.
 */
#ifndef EQ_IDENTITY_H
#define EQ_IDENTITY_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define IDENTITY_KEY_LEN 32  /* raw X25519 / Ed25519 key                     */
#define IDENTITY_SIG_LEN 64  /* Ed25519 signature                           */
#define IDENTITY_CN_MAX 128  /* longest CN accepted, including the NUL      */
#define IDENTITY_HEX_SHA256 65 /* 64 hex digits + NUL                        */

typedef enum {
    ID_OK = 0,
    ID_ERR_ARG = -1,      /* bad argument (NULL, size)                       */
    ID_ERR_IO = -2,       /* cannot open / read / write a file               */
    ID_ERR_PARSE = -3,    /* not a PEM/DER certificate, key or CRL           */
    ID_ERR_PERM = -4,     /* secret key file readable by group or others     */
    ID_ERR_VERIFY = -5,   /* chain does not verify against the CA (+ CRL)    */
    ID_ERR_REVOKED = -6,  /* certificate is on the CRL                       */
    ID_ERR_EXPIRED = -7,  /* past notAfter                                   */
    ID_ERR_NOT_YET = -8,  /* before notBefore                                */
    ID_ERR_KIND = -9,     /* wrong key type for the use (transport/signing)  */
    ID_ERR_ROLE = -10,    /* missing/unknown role, or not the role required  */
    ID_ERR_SIG = -11,     /* signature does not verify                       */
    ID_ERR_UNKNOWN = -12, /* key not enrolled                                */
    ID_ERR_CRL = -13,     /* CRL missing, unreadable, not from the CA, stale */
    ID_ERR_SUBJECT = -14, /* subject CN missing, too long or mismatched      */
    ID_ERR_CRYPTO = -15,  /* OpenSSL failure (out of memory, ...)            */
} identity_err;

/* Human-readable text for an identity_err (static string). */
const char *identity_strerror(int err);

typedef enum {
    ROLE_NONE = 0,
    ROLE_NODE,
    ROLE_COORDINATOR,
    ROLE_ANALYST,
    ROLE_OPERATOR,
} identity_role;

/* "node", "coordinator", "analyst", "operator" ("none" for ROLE_NONE). */
const char *identity_role_name(identity_role role);
/* Role for a name (exact, lower case), or -1. */
int identity_role_parse(const char *name);

typedef enum {
    CERT_KIND_OTHER = 0, /* some other key type (e.g. the CA is Ed25519 too) */
    CERT_KIND_TRANSPORT, /* X25519: the ZeroMQ CURVE key                     */
    CERT_KIND_SIGNING,   /* Ed25519: signs submissions and round requests    */
} identity_kind;

const char *identity_kind_name(identity_kind kind);

/* What a certificate says about its holder (no secrets). */
struct identity_info {
    char cn[IDENTITY_CN_MAX];            /* subject CN = organization id     */
    identity_role role;                  /* from subject OU                  */
    identity_kind kind;                  /* from the public key type         */
    time_t not_before, not_after;        /* validity period (UTC)            */
    char serial[80];                     /* serial number, upper-case hex    */
    unsigned char key[IDENTITY_KEY_LEN]; /* raw public key (X25519/Ed25519)  */
    char fingerprint[IDENTITY_HEX_SHA256]; /* SHA-256 of the DER, hex         */
};

/* --- files ------------------------------------------------------------- */

/* Read a PEM certificate. *out is the caller's (X509_free). */
int identity_load_cert(const char *path, X509 **out);
/* Read a PEM CRL. *out is the caller's (X509_CRL_free). */
int identity_load_crl(const char *path, X509_CRL **out);
/* Check that a secret key file is a regular file with no group/other
 * permission bits (0600 or stricter); ID_ERR_PERM with a clear message
 * naming the file and its mode otherwise. */
int identity_check_key_mode(const char *path);
/* Read a PEM private key after identity_check_key_mode (checked on the
 * open descriptor). *out is the caller's (EVP_PKEY_free). */
int identity_load_secret_key(const char *path, EVP_PKEY **out);
/* Write a private key as PEM, created with mode 0600; refuses to replace
 * an existing file. */
int identity_write_secret_key(const char *path, EVP_PKEY *key);
/* Write a certificate as PEM (mode 0644), replacing atomically. */
int identity_write_cert(const char *path, X509 *cert);

/* --- certificates -------------------------------------------------------- */

/* Fill *info from a certificate without verifying it. Fails with
 * ID_ERR_SUBJECT if there is no usable CN. A missing/unknown OU gives
 * role ROLE_NONE (not an error here). */
int identity_cert_info(X509 *cert, struct identity_info *info);

/* Verify cert against the CA and CRL (X509_V_FLAG_CRL_CHECK) at time `at`
 * (0 = now): signature chain, validity period, revocation. Fills *info
 * (may be NULL) on success and, where parsable, on failure. Returns
 * ID_ERR_REVOKED / ID_ERR_EXPIRED / ID_ERR_NOT_YET / ID_ERR_CRL /
 * ID_ERR_VERIFY with the OpenSSL reason logged, or ID_ERR_ROLE if the
 * certificate has no known role. crl must not be NULL (fail closed). */
int identity_verify(X509 *ca, X509_CRL *crl, X509 *cert, time_t at, struct identity_info *info);

/* The 32-byte X25519 public key of a transport certificate (= the peer's
 * CURVE public key). ID_ERR_KIND for a non-X25519 certificate. */
int identity_curve_public(X509 *cert, unsigned char out[IDENTITY_KEY_LEN]);

/* Load an X25519 secret key file (mode-checked) and return its raw 32-byte
 * secret (ZeroMQ CURVE secret key) and public key. pub may be NULL. The
 * caller wipes sec with OPENSSL_cleanse when done. */
int identity_curve_keypair(const char *keyfile, unsigned char sec[IDENTITY_KEY_LEN],
                           unsigned char pub[IDENTITY_KEY_LEN]);

/* DER of a certificate, for embedding in messages. *der is the caller's
 * (OPENSSL_free). */
int identity_cert_to_der(X509 *cert, unsigned char **der, size_t *len);
/* Certificate from DER bytes (untrusted input: length-checked, trailing
 * bytes refused). *out is the caller's (X509_free). */
int identity_cert_from_der(const unsigned char *der, size_t len, X509 **out);

/* --- signatures ---------------------------------------------------------- */

/* Ed25519 signature of buf (EVP_DigestSign, no digest). key must be an
 * Ed25519 private key; sig receives IDENTITY_SIG_LEN bytes. */
int identity_sign(EVP_PKEY *key, const void *buf, size_t len, unsigned char sig[IDENTITY_SIG_LEN]);
/* Verify an Ed25519 signature with the public key of a signing
 * certificate: 0, ID_ERR_SIG, or ID_ERR_KIND if cert is not Ed25519. This
 * does NOT verify the certificate itself: see trust_verify_signed. */
int identity_verify_sig(X509 *cert, const void *buf, size_t len, const unsigned char *sig,
                        size_t siglen);

/* Lower-case hex SHA-256 of buf into out (65 bytes incl. NUL). */
void identity_sha256_hex(const void *buf, size_t len, char out[IDENTITY_HEX_SHA256]);
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void identity_hex(const unsigned char *bytes, size_t n, char *out);

/* --- trust: CA + CRL + enrolled transport certificates ----------------- */

typedef struct trust trust_t;

/* The CA certificate (required), its CRL file (required: re-read whenever
 * its mtime or size changes) and a directory of enrolled transport
 * certificates (*.crt; may be NULL). Certificates in the directory that are
 * not X25519 are skipped; ones that fail to parse are errors. A certificate
 * that is expired or revoked is still indexed (so that a refusal can say
 * why) but never accepted. Returns NULL and logs on failure. Thread-safe:
 * all trust_* calls lock an internal mutex.
 *
 * Verification cache: trust_lookup_key and trust_verify_signed remember
 * that a certificate (an enrolled one, or a signing certificate by the
 * SHA-256 of its DER) passed the chain + CRL + role check, so that the
 * X.509 verification is not repeated for every handshake, message and
 * submission. Everything remembered is forgotten whenever the CRL file is
 * re-read (it changed, vanished or came back) or a certificate is enrolled.
 * Time is checked on every use: a remembered verdict holds only while now
 * is inside the certificate's, the CA's and the CRL's validity periods;
 * outside them the certificate is verified in full again (and refused as
 * expired, not yet valid or with a stale CRL). Failures are not
 * remembered. */
trust_t *trust_new(const char *ca_path, const char *crl_path, const char *certs_dir);
void trust_destroy(trust_t **t);

/* Enroll one more transport certificate file. */
int trust_add_cert_file(trust_t *t, const char *path);
/* Re-reads the enrolled directory (certificates added, replaced or
 * removed since) and the CRL if it changed; every remembered verdict is
 * forgotten. On failure (logged) the set loaded before is kept. *count
 * (may be NULL) receives the number enrolled now. 0 or an identity_err. */
int trust_reload_enrolled(trust_t *t, const char *certs_dir, size_t *count);
/* Number of enrolled transport certificates. */
size_t trust_count(trust_t *t);
/* Re-read the CRL if its file changed. On failure the trust refuses every
 * certificate until the file is readable again (fail closed). */
int trust_reload_crl(trust_t *t);

/* Verify any certificate against the CA + current CRL now (reloading the
 * CRL if it changed). Same results as identity_verify. */
int trust_verify_cert(trust_t *t, X509 *cert, struct identity_info *info);

/* Look up an enrolled transport certificate by raw CURVE public key and
 * verify it now (or use its remembered verdict, see trust_new). 0 and
 * *info filled if enrolled and valid; ID_ERR_UNKNOWN if not enrolled; the
 * identity_verify error otherwise (with *info filled so the caller can log
 * the CN). */
int trust_lookup_key(trust_t *t, const unsigned char key[IDENTITY_KEY_LEN],
                     struct identity_info *info);

/* Verify a signed payload: decode the DER signing certificate, verify it
 * against CA + CRL now (or use its remembered verdict, see trust_new),
 * require kind signing, require its CN to equal expected_cn (if not NULL),
 * and verify the Ed25519 signature over payload (always). *info (may be
 * NULL) receives the signer. */
int trust_verify_signed(trust_t *t, const unsigned char *cert_der, size_t cert_len,
                        const void *payload, size_t payload_len, const unsigned char *sig,
                        size_t sig_len, const char *expected_cn, struct identity_info *info);

/* Verifies every enrolled certificate now and remembers the verdicts (the
 * coordinator does this at start, so that the first handshake of each node
 * finds its certificate verified). Returns how many are valid now. */
size_t trust_check_enrolled(trust_t *t);

/* How often trust_lookup_key and trust_verify_signed used a remembered
 * verdict (hits) or verified a certificate in full (misses), since
 * trust_new. Either pointer may be NULL. */
void trust_cache_stats(trust_t *t, unsigned long *hits, unsigned long *misses);

#endif
