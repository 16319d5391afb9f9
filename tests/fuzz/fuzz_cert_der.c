/*
 * fuzz_cert_der.c - libFuzzer target for the decoder of certificates
 * embedded in messages (identity_cert_from_der) and what is read from a
 * decoded certificate (identity_cert_info, identity_curve_public,
 * identity_verify_sig). Run: bin/fuzz_cert_der -max_total_time=60
 */
#include <stddef.h>
#include <stdint.h>

#include "identity.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        log_init("fuzz_cert_der", LOG_LVL_ERROR);
        init = 1;
    }
    X509 *cert = NULL;
    if (identity_cert_from_der(data, size, &cert) != ID_OK)
        return 0;
    struct identity_info info;
    (void)identity_cert_info(cert, &info);
    unsigned char key[IDENTITY_KEY_LEN];
    (void)identity_curve_public(cert, key);
    unsigned char sig[IDENTITY_SIG_LEN] = {0};
    (void)identity_verify_sig(cert, data, size, sig, sizeof sig);
    unsigned char *der = NULL;
    size_t len = 0;
    if (identity_cert_to_der(cert, &der, &len) == ID_OK)
        OPENSSL_free(der);
    X509_free(cert);
    return 0;
}
