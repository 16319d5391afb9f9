/*
 * ca.h - the federation's certificate authority: create the CA, issue
 * transport (X25519) and signing (Ed25519) certificates with the profile
 * of identity.h, revoke, and (re)write the CRL. equity-ca (certs/) is the
 * command-line front end; the tests use this API directly.
 *
 * A CA directory holds:
 *   ca.key       Ed25519 CA secret key, mode 0600 (keep it offline)
 *   ca.crt       self-signed CA certificate (distribute to every party)
 *   ca.crl       the current CRL, signed by the CA (distribute, refresh)
 *   revoked.txt  the CA's own record of revocations, one per line:
 *                "SERIAL-HEX UNIX-TIME CN"
 */
#ifndef EQ_CA_H
#define EQ_CA_H

#include <time.h>

#include "identity.h"

#define CA_DEFAULT_CA_DAYS 3650
#define CA_DEFAULT_CERT_DAYS 365
#define CA_DEFAULT_CRL_DAYS 30

typedef struct ca ca_t;

/* Create DIR (mode 0700 if it does not exist) with a new CA key, a
 * self-signed certificate valid `days` days with CN = O = name, an empty
 * CRL valid CA_DEFAULT_CRL_DAYS days, and an empty revoked.txt. Refuses to
 * overwrite an existing ca.key. */
int ca_init(const char *dir, const char *name, int days);

/* Open an existing CA directory (ca.key is mode-checked). NULL on error,
 * logged. */
ca_t *ca_open(const char *dir);
void ca_destroy(ca_t **ca);

/* The CA certificate (borrowed). */
X509 *ca_cert(ca_t *ca);

struct ca_issue_opts {
    identity_role role; /* required                                        */
    const char *name;   /* subject CN, e.g. "org:demo-1" (required)         */
    time_t not_before;  /* 0 = now - 5 minutes (clock skew)                 */
    time_t not_after;   /* 0 = not_before + CA_DEFAULT_CERT_DAYS days;
                         * always capped at the CA certificate's notAfter   */
};

/* Make one certificate with a fresh key of the given kind (TRANSPORT =
 * X25519, SIGNING = Ed25519), signed by the CA. *key and *cert are the
 * caller's (EVP_PKEY_free, X509_free). */
int ca_issue_cert(ca_t *ca, const struct ca_issue_opts *opts, identity_kind kind, EVP_PKEY **key,
                  X509 **cert);

/* Make an identity in outdir (created mode 0700 if missing):
 * transport.crt + transport.key and signing.crt + signing.key (keys 0600).
 * Refuses to overwrite any of the four files. */
int ca_issue(ca_t *ca, const struct ca_issue_opts *opts, const char *outdir);

/* Record cert as revoked now (refuses a certificate not issued by this
 * CA; revoking twice is a no-op) and rewrite ca.crl. */
int ca_revoke(ca_t *ca, X509 *cert);

/* Rewrite ca.crl from revoked.txt, valid from now for `days` days
 * (0 = CA_DEFAULT_CRL_DAYS). Written to a temporary file and renamed. */
int ca_write_crl(ca_t *ca, int days);

#endif
