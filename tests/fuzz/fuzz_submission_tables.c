/*
 * fuzz_submission_tables.c - libFuzzer target for large, valid-looking
 * submissions: the input is a recipe (tables, how many cells, which labels,
 * which numbers) from which a well-formed Submission protobuf is built,
 * packed and given to the coordinator's decoder and checks. Byte-level
 * fuzzing of fuzz_submission.c rarely reaches tables of thousands of
 * strata; this target does, with labels that are mostly real codes (so the
 * cells get past the label checks) and sometimes invented ones.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cells.h"
#include "envelope.h"
#include "equity.pb-c.h"
#include "wire.h"

struct recipe {
    const uint8_t *p;
    size_t n, at;
};

static unsigned take(struct recipe *r, unsigned bytes)
{
    unsigned v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v = v << 8 | (r->at < r->n ? r->p[r->at++] : 0);
    return v;
}

static const char *const fixed[][12] = {
    {"AIAN", "ASIAN", "BLACK", "MENA", "NHPI", "WHITE", "MULTI", "OTHER", "UNKNOWN", "DECLINED"},
    {"F", "M", "X", "U"},
    {"MEDICAID", "MEDICARE", "DUAL", "COMMERCIAL", "UNINSURED", "OTHER", "UNKNOWN"},
    {"Y", "N", "U"},
};
static const int nfixed[] = {10, 4, 7, 3};
static const char *const fixed_name[] = {"race", "sex", "payer", "disability"};

/* One stratum part of dimension kind d (0-3 fixed lists, 4 county, 5
 * language), from a 16-bit number; 1 in 64 an invented label. */
static void part(char *buf, size_t len, int d, unsigned v)
{
    if ((v & 63) == 63) {
        snprintf(buf, len, "X%u", v >> 6);
    } else if (d < 4) {
        snprintf(buf, len, "%s", fixed[d][(v >> 6) % (unsigned)nfixed[d]]);
    } else if (d == 4) {
        snprintf(buf, len, "%05u", (v >> 6) * 7u % 100000u);
    } else {
        unsigned x = v >> 6;
        snprintf(buf, len, "%c%c%c", 'a' + x % 26, 'a' + x / 26 % 26, 'a' + x / 676 % 26);
    }
}

static const char *dim_name(int d)
{
    return d < 4 ? fixed_name[d] : d == 4 ? "county" : "language";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct recipe r = {data, size, 0};
    enum { MAX_CELLS = 5000 };
    int ntables = 1 + (int)(take(&r, 1) % 3);
    Equity__V1__Cell *cells = calloc(MAX_CELLS, sizeof *cells);
    Equity__V1__Cell **cp = calloc(MAX_CELLS, sizeof *cp);
    char (*labels)[32] = calloc(MAX_CELLS, sizeof *labels);
    char names[3][32];
    struct round_request req;
    memset(&req, 0, sizeof req);
    snprintf(req.period, sizeof req.period, "2025");
    req.k = 11;
    req.measure_on[M_ED_RATE] = req.measure_on[M_WELLNESS] = 1;
    req.strat_on[S_TOTAL] = 1;
    size_t n = 0;
    if (!cells || !cp || !labels)
        goto out;
    for (int t = 0; t < ntables; t++) {
        int d0 = (int)(take(&r, 1) % 6), d1 = (int)(take(&r, 1) % 7) - 1; /* -1: one-way */
        if (d1 == d0)
            d1 = -1;
        if (d1 < 0)
            snprintf(names[t], sizeof names[t], "%s", dim_name(d0));
        else
            snprintf(names[t], sizeof names[t], "%s*%s", dim_name(d0), dim_name(d1));
        unsigned count = take(&r, 2) % 2001;
        for (unsigned i = 0; i < count && n < MAX_CELLS; i++, n++) {
            unsigned seed = take(&r, 2) ^ (i * 2654435761u);
            char a[16], b[16];
            part(a, sizeof a, d0, (seed & 0xffff) ^ (i << 6));
            if (d1 < 0) {
                snprintf(labels[n], sizeof labels[n], "%s", a);
            } else {
                part(b, sizeof b, d1, (seed >> 3) ^ (i << 2));
                snprintf(labels[n], sizeof labels[n], "%s*%s", a, b);
            }
            equity__v1__cell__init(&cells[n]);
            cells[n].measure = seed & 1 ? "wellness" : "ed_rate";
            cells[n].stratifier = names[t];
            cells[n].stratum = labels[n];
            if (seed & 2) {
                cells[n].reason = EQUITY__V1__SUPPRESSION_REASON__SECONDARY;
            } else {
                cells[n].members = seed % 300;
                cells[n].member_months_e4 = (uint64_t)(seed % 3600) * 10000; /* 1/10000 month */
                cells[n].denominator = seed & 1 ? cells[n].members : cells[n].member_months_e4;
                cells[n].numerator = seed % 97;
            }
            cp[n] = &cells[n];
        }
    }
    {
        uint8_t nonce[16] = {1};
        Equity__V1__Submission sub = EQUITY__V1__SUBMISSION__INIT;
        sub.format_version = WIRE_FORMAT_VERSION;
        sub.org = "org:fuzz";
        sub.round_id = "2025-r1-fuzz";
        sub.period = "2025";
        sub.k = 11;
        sub.dominance = 0.6;
        sub.nonce.data = nonce;
        sub.nonce.len = sizeof nonce;
        sub.n_cells = n;
        sub.cells = cp;
        size_t len = equity__v1__submission__get_packed_size(&sub);
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf)
            goto out;
        equity__v1__submission__pack(&sub, buf);
        struct cellset *cs = NULL;
        struct submission_meta meta;
        char err[256];
        if (wire_submission_unpack(buf, len, &cs, &meta, err, sizeof err) == 0) {
            wire_cells_fit_request(cs, &req, err, sizeof err);
            wire_cells_check(cs, 11, err, sizeof err);
            char label[256];
            for (size_t i = 0; i < cs->ncells; i++)
                cellset_stratum_label(cs, &cs->cells[i], label, sizeof label);
            cellset_destroy(&cs);
        }
        free(buf);
    }
out:
    free(labels);
    free(cp);
    free(cells);
    return 0;
}
