/*
 * fuzz_envelope.c - libFuzzer target for envelope_unpack, the first decoder
 * every message from a node or analyst goes through at the coordinator,
 * and for the small messages it carries (Hello, Refusal, Ack, Error).
 */
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct envelope e;
    char err[256];
    if (envelope_unpack(data, size, &e, err, sizeof err) == 0)
        envelope_free(&e);
    struct hello h;
    struct refusal r;
    struct ack a;
    struct error_msg m;
    hello_unpack(data, size, &h, err, sizeof err);
    refusal_unpack(data, size, &r, err, sizeof err);
    ack_unpack(data, size, &a, err, sizeof err);
    error_unpack(data, size, &m, err, sizeof err);
    return 0;
}
