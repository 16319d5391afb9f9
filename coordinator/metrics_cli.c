/*
 * metrics_cli.c - `equity-coordinator metrics`: recompute the metrics of
 * metrics.md offline from a cells CSV (interfaces.md), so that anyone
 * holding released cells can check every published figure.
 *
 * A file with one organization (a pooled result) is taken as given; a file
 * with several organizations is pooled in memory first, and the
 * per-organization metrics (funnel flags, heterogeneity, data quality) are
 * added. Exit status: 0 done, 1 bad input, 2 usage error, 3 internal error.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cells_read.h"
#include "commands.h"
#include "log.h"
#include "metrics.h"

static void usage(FILE *f)
{
    fputs("usage: equity-coordinator metrics --cells CELLS.csv --out METRICS.csv\n"
          "                                  [--reference best|largest|total|VALUE]\n"
          "                                  [--stratifier NAME] [--conf 0.95]\n"
          "                                  [--min-denominator N] [--mssp-scaler X]\n"
          "\n"
          "Computes the metrics of metrics.md (estimates and intervals, age-standardised\n"
          "rates, disparities against a reference, summary indices, payment and\n"
          "data-quality metrics) from a cells CSV and writes the metrics CSV.\n"
          "\n"
          "  --cells FILE          cells CSV (org,round,measure,stratifier,stratum,...);\n"
          "                        several organizations are pooled and also compared\n"
          "  --out FILE            metrics CSV to write (replaced only when complete)\n"
          "  --reference REF       reference group for disparities: best (default),\n"
          "                        largest, total, or a stratum value such as WHITE\n"
          "  --stratifier NAME     only this stratifier's table (race, race*cmc, ...)\n"
          "  --conf C              confidence level, 0.80 to 0.999 (default 0.95)\n"
          "  --min-denominator N   small_denominator threshold (default 30)\n"
          "  --mssp-scaler X       quality scaler for MSSP-style equity points\n"
          "  -h, --help            this help\n"
          "\n"
          "Exit status: 0 success, 1 bad input, 2 usage error, 3 internal error.\n",
          f);
}

static int parse_double(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v) || v < lo || v > hi) {
        log_error("%s: expected a number from %g to %g, found '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int coord_cmd_metrics(int argc, char **argv)
{
    static const struct option opts[] = {
        {"cells", required_argument, NULL, 'c'},
        {"out", required_argument, NULL, 'o'},
        {"reference", required_argument, NULL, 'r'},
        {"stratifier", required_argument, NULL, 's'},
        {"conf", required_argument, NULL, 'C'},
        {"min-denominator", required_argument, NULL, 'd'},
        {"mssp-scaler", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct metrics_params p;
    const char *cells = NULL, *outpath = NULL;
    struct cellset **sets = NULL, *pooled = NULL;
    metrics_out *out = NULL;
    int nsets = 0, rc = 3, c;
    char err[512];

    metrics_params_default(&p);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': cells = optarg; break;
        case 'o': outpath = optarg; break;
        case 'r':
            if (metrics_params_set_reference(&p, optarg) != 0) {
                log_error("--reference: expected best, largest, total or a stratum, found '%s'",
                          optarg);
                return 2;
            }
            break;
        case 's':
            if (strlen(optarg) >= sizeof p.stratifier) {
                log_error("--stratifier: name too long: '%s'", optarg);
                return 2;
            }
            snprintf(p.stratifier, sizeof p.stratifier, "%s", optarg);
            break;
        case 'C':
            if (parse_double("--conf", optarg, 0.80, 0.999, &p.conf))
                return 2;
            break;
        case 'd':
            if (parse_double("--min-denominator", optarg, 0, 1e9, &p.min_denominator))
                return 2;
            break;
        case 'm':
            if (parse_double("--mssp-scaler", optarg, 0, 1e6, &p.mssp_scaler))
                return 2;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            if (optopt)
                log_error("unknown or incomplete option '-%c'", optopt);
            else
                log_error("unknown or incomplete option '%s'", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        log_error("unexpected argument '%s'", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (!cells || !outpath) {
        log_error("metrics needs --cells and --out");
        usage(stderr);
        return 2;
    }
    int rr = cells_read_csv(cells, &sets, &nsets, err, sizeof err);
    if (rr != 0) {
        log_error("%s", err);
        return rr == CELLS_READ_EINPUT ? 1 : 3;
    }
    if (nsets == 0) {
        log_error("%s: no cells after the header", cells);
        rc = 1;
        goto out;
    }
    out = metrics_out_new();
    if (!out)
        goto nomem;
    if (nsets == 1) {
        if (metrics_compute(sets[0], &p, out) || metrics_compute_quality(sets[0], &p, out))
            goto nomem;
    } else {
        pooled = metrics_pool(sets, nsets);
        if (!pooled)
            goto nomem;
        if (metrics_compute(pooled, &p, out) || metrics_compute_orgs(sets, nsets, &p, out))
            goto nomem;
    }
    if (metrics_out_write_csv(out, outpath) != 0) {
        log_warn("%s: cannot write", outpath);
        rc = 1;
        goto out;
    }
    log_info("%s: %zu metrics from %d organization%s", outpath, metrics_out_count(out), nsets,
             nsets == 1 ? "" : "s");
    rc = 0;
    goto out;
nomem:
    log_error("out of memory");
    rc = 3;
out:
    metrics_out_destroy(&out);
    cellset_destroy(&pooled);
    cells_read_free(&sets, nsets);
    return rc;
}
