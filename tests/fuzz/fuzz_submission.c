/*
 * fuzz_submission.c - libFuzzer target for the Submission decoder the
 * coordinator runs on every signed payload: wire_submission_unpack, then
 * the plausibility check wire_cells_check at a few thresholds.
 */
#include <stddef.h>
#include <stdint.h>

#include "cells.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cellset *cs = NULL;
    struct submission_meta meta;
    char err[256];
    if (wire_submission_unpack(data, size, &cs, &meta, err, sizeof err) != 0)
        return 0;
    wire_cells_check(cs, 2, err, sizeof err);
    wire_cells_check(cs, 11, err, sizeof err);
    wire_cells_check(cs, meta.k, err, sizeof err);
    cellset_destroy(&cs);
    return 0;
}
