/*
 * fuzz_round_request.c - libFuzzer target for round_request_unpack (a node
 * decodes the coordinator's request; the coordinator re-reads its own), and
 * the pack/unpack round trip of whatever it accepts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct round_request r, again;
    char err[256];
    if (round_request_unpack(data, size, &r, err, sizeof err) != 0)
        return 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (round_request_pack(&r, &buf, &len) == 0) {
        if (round_request_unpack(buf, len, &again, err, sizeof err) != 0 ||
            strcmp(again.round_id, r.round_id) != 0 || again.k != r.k)
            abort(); /* what we accept, we must be able to re-encode */
    }
    free(buf);
    return 0;
}
