/*
 * fuzz_cells_read.c - libFuzzer target for the cells CSV reader
 * (common/cells_read.c): any bytes must give cellsets or a message, never
 * a crash, a leak or undefined behaviour.
 */
#include <stddef.h>
#include <stdint.h>

#include "cells_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cellset **sets = NULL;
    int n = 0;
    char err[256];
    if (cells_read_buffer("fuzz.csv", (const char *)data, size, &sets, &n, err, sizeof err) == 0) {
        char label[256];
        for (int i = 0; i < n; i++)
            for (size_t k = 0; k < sets[i]->ncells; k++)
                cellset_stratum_label(sets[i], &sets[i]->cells[k], label, sizeof label);
    }
    cells_read_free(&sets, n);
    return 0;
}
