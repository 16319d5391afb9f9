/*
 * fuzz_envelope.c - libFuzzer target for envelope_unpack, the first decoder
 * every message from a node or analyst goes through at the coordinator,
 * and for the small messages it carries (Hello, Refusal, Ack, Error,
 * NodeStatus). A NodeStatus that decodes must keep the decoder's promises
 * (a state it names, a code of [a-z0-9_], bounded strings).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    struct node_status st;
    if (node_status_unpack(data, size, &st, err, sizeof err) == 0) {
        size_t n = strlen(st.code);
        if (!node_state_name(st.state) || !st.round_id[0] || !st.org[0] || n == 0 ||
            n > NODE_STATUS_CODE_MAX || strspn(st.code, "abcdefghijklmnopqrstuvwxyz0123456789_") != n ||
            strlen(st.reason) > NODE_STATUS_REASON_MAX)
            abort();
    }
    return 0;
}
