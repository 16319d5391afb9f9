/*
 * pooled_release.c - equity-bench-pooled: times the coordinator's pooled
 * release (coordinator/release.c: pooling, the release rules and the
 * complementary protection of min_orgs cells) on the first N of the given
 * organizations' cells CSVs, as `round close` runs it, and prints what was
 * released (bench/README.md, "Pooled release").
 *
 * usage: equity-bench-pooled [--min-orgs M] [--orgs N[,N...]] [--catalog FILE|builtin]
 *                            [--list] [--verbose] CELLS.csv...
 * (--catalog: the federation's catalog, for cells of measures the built-in
 * one lacks, e.g. the demo's configs/catalog-identities.ini)
 * (--list: the names of the released non-zero cells, on standard error;
 * --verbose: the release's debug log, one line per organization's view)
 * Prints one line per N:
 *   pooled orgs=N min_orgs=M cells=C released=R nonzero=Z min_orgs_cells=X
 *   complements=S seconds=T
 * Exit 0, or 1 when a file does not read or the release fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "catalog_file.h"
#include "cells.h"
#include "cells_read.h"
#include "log.h"
#include "release.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || (*end && *end != ',') || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    int min_orgs = 2, counts[64], ncounts = 0, first = 1, list = 0, verbose = 0;
    while (first < argc && argv[first][0] == '-') {
        if (!strcmp(argv[first], "--min-orgs") && first + 1 < argc &&
            parse_int(argv[first + 1], 1, 1000, &min_orgs) == 0) {
            first += 2;
        } else if (!strcmp(argv[first], "--catalog") && first + 1 < argc) {
            char cerr[512];
            const struct catalog *cat = catalog_open(argv[first + 1], cerr, sizeof cerr);
            if (!cat) {
                fprintf(stderr, "equity-bench-pooled: --catalog: %s\n", cerr);
                return 1;
            }
            catalog_set_active(cat);
            first += 2;
        } else if (!strcmp(argv[first], "--verbose")) {
            verbose = 1; /* the release's debug log (one line per view) */
            first++;
        } else if (!strcmp(argv[first], "--list")) {
            list = 1; /* names of the released non-zero cells, to stderr */
            first++;
        } else if (!strcmp(argv[first], "--orgs") && first + 1 < argc) {
            for (const char *p = argv[first + 1]; p && *p && ncounts < 64;) {
                if (parse_int(p, 1, 100000, &counts[ncounts]) != 0) {
                    fprintf(stderr, "equity-bench-pooled: bad --orgs %s\n", argv[first + 1]);
                    return 2;
                }
                ncounts++;
                p = strchr(p, ',');
                p = p ? p + 1 : NULL;
            }
            first += 2;
        } else {
            fprintf(stderr, "usage: equity-bench-pooled [--min-orgs M] [--orgs N[,N...]] [--catalog FILE|builtin] [--list] [--verbose] "
                            "CELLS.csv...\n");
            return 2;
        }
    }
    int nfiles = argc - first;
    if (nfiles < 1) {
        fprintf(stderr, "equity-bench-pooled: no cells CSV given\n");
        return 2;
    }
    if (ncounts == 0)
        counts[ncounts++] = nfiles;
    log_init("equity-bench-pooled", verbose ? LOG_LVL_DEBUG : LOG_LVL_WARN);
    struct cellset **subs = calloc((size_t)nfiles, sizeof *subs);
    if (!subs)
        return 1;
    for (int i = 0; i < nfiles; i++) {
        struct cellset **sets = NULL;
        int nsets = 0;
        char err[512];
        if (cells_read_csv(argv[first + i], &sets, &nsets, err, sizeof err) != 0 || nsets != 1) {
            fprintf(stderr, "equity-bench-pooled: %s: %s\n", argv[first + i],
                    nsets != 1 && !err[0] ? "not one organization" : err);
            return 1;
        }
        subs[i] = sets[0];
        free(sets);
    }
    int rc = 0;
    for (int c = 0; c < ncounts; c++) {
        int n = counts[c] < nfiles ? counts[c] : nfiles;
        struct release_params p = {min_orgs, 0};
        struct release_report rep;
        memset(&rep, 0, sizeof rep);
        double t0 = now();
        struct cellset *pooled = release_pool(subs, n, "bench", "2021", &p, &rep);
        double t = now() - t0;
        if (!pooled) {
            fprintf(stderr, "equity-bench-pooled: the release of %d organizations failed\n", n);
            rc = 1;
            continue;
        }
        size_t nonzero = 0;
        for (size_t i = 0; i < pooled->ncells; i++) {
            const struct cell *pc = &pooled->cells[i];
            if (pc->reason != REASON_NONE || !(pc->members > 0))
                continue;
            nonzero++;
            if (list) {
                char lab[160];
                cellset_stratum_label(pooled, pc, lab, sizeof lab);
                fprintf(stderr, "released %s %s %s n_orgs=%d\n", catalog_measure(pc->measure)->name,
                        pooled->tables[pc->table].name, lab, pc->n_orgs);
            }
        }
        printf("pooled orgs=%d min_orgs=%d cells=%zu released=%zu nonzero=%zu "
               "min_orgs_cells=%zu complements=%zu seconds=%.2f\n",
               n, min_orgs, rep.cells, rep.released, nonzero, rep.min_orgs, rep.secondary, t);
        fflush(stdout);
        cellset_destroy(&pooled);
    }
    for (int i = 0; i < nfiles; i++)
        cellset_destroy(&subs[i]);
    free(subs);
    return rc;
}
