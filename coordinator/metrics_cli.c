/*
 * metrics_cli.c - `equity-coordinator metrics`: recompute the metrics of
 * metrics.md offline from a cells CSV (interfaces.md), so that anyone
 * holding released cells can check every published figure.
 *
 * A file with one organization (a pooled result) is taken as given; a file
 * with several organizations is pooled in memory first, and the
 * per-organization metrics (funnel flags, heterogeneity, data quality) are
 * added. With --capitation-base, `capitation` rows are added; with
 * --baseline and the incentive options, the gap-closure incentive of each
 * organization found in both files (rows `incentive`).
 * Exit status: 0 done, 1 bad input, 2 usage error, 3 internal error.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_file.h"
#include "cells_read.h"
#include "commands.h"
#include "log.h"
#include "metrics.h"
#include "metrics_params.h"

static void usage(FILE *f)
{
    fputs("usage: equity-coordinator metrics --cells CELLS.csv --out METRICS.csv\n"
          "                                  [--reference best|largest|total|VALUE]\n"
          "                                  [--stratifier NAME] [--conf 0.95]\n"
          "                                  [--min-denominator N] [--mssp-scaler X]\n"
          "                                  [--capitation-base USD] [--params FILE]\n"
          "                                  [--catalog FILE|builtin]\n"
          "                                  [--baseline BASE.csv --incentive-pool USD\n"
          "                                   --incentive-measure NAME\n"
          "                                   --incentive-stratifier NAME --focal VALUE\n"
          "                                   [--incentive-mode share|earn]]\n"
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
          "  --capitation-base USD adds `capitation` rows (base * relativity) for each\n"
          "                        group of a PMPM measure\n"
          "  --params FILE         metric parameters (docs/metrics.md): unit costs per\n"
          "                        measure, HEBA amounts, MSSP threshold and cap,\n"
          "                        standard population; options after it override it\n"
          "  --catalog FILE        the federation's catalog (docs/catalog.md), for\n"
          "                        measures beyond the default one (e.g. ppc_prenatal);\n"
          "                        default: the installed catalog.ini\n"
          "  -h, --help            this help\n"
          "\n"
          "Gap-closure incentive (all five options together; adds one `incentive` row\n"
          "per organization found in both --baseline and --cells):\n"
          "  --baseline FILE       per-organization cells CSV of the baseline round;\n"
          "                        --cells holds the current round\n"
          "  --incentive-pool USD  the pool (share) or each organization's maximum (earn)\n"
          "  --incentive-measure M measure whose excess is the disparity (ed_rate, ...)\n"
          "  --incentive-stratifier S\n"
          "                        one-way stratifier of the focal group (race, ...)\n"
          "  --focal VALUE         the focal group (BLACK); compared with --reference\n"
          "  --incentive-mode MODE share (default): pool * I_i / sum I; earn:\n"
          "                        pool * min(1, I_i / D_i at baseline)\n"
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

/* Dollars: a finite number > 0. */
static int parse_dollars(const char *opt, const char *s, double *out)
{
    if (parse_double(opt, s, -1e15, 1e15, out) != 0)
        return -1;
    if (!(*out > 0)) {
        log_error("%s: expected dollars greater than 0, found '%s'", opt, s);
        return -1;
    }
    return 0;
}

/* The exit status for a cells file that could not be read: bad input (1)
 * when its content is wrong or it cannot be opened or read, an internal
 * error (3) only when memory ran out. */
static int read_status(int rr)
{
    return rr == CELLS_READ_ESYS && errno == ENOMEM ? 3 : 1;
}

/* Copies an option's value into a fixed buffer; a usage error when too long. */
static int copy_opt(const char *opt, const char *v, char *dst, size_t len)
{
    if (strlen(v) >= len || !*v) {
        log_error("%s: expected a name of 1 to %zu characters, found '%s'", opt, len - 1, v);
        return -1;
    }
    snprintf(dst, len, "%s", v);
    return 0;
}

/* Whether a cells file has the incentive's table and focal stratum. */
static int has_focal(struct cellset *const *sets, int n, const struct metrics_incentive *ip)
{
    if (n <= 0)
        return 0;
    int t = cellset_find_table(sets[0], ip->stratifier);
    if (t < 0 || sets[0]->tables[t].ndim != 1)
        return 0;
    for (int s = 0; s < sets[0]->tables[t].nstrata; s++)
        if (strcmp(sets[0]->tables[t].labels[0][s], ip->focal) == 0)
            return 1;
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
        {"capitation-base", required_argument, NULL, 'K'},
        {"baseline", required_argument, NULL, 'b'},
        {"incentive-pool", required_argument, NULL, 'P'},
        {"incentive-measure", required_argument, NULL, 'M'},
        {"incentive-stratifier", required_argument, NULL, 'S'},
        {"focal", required_argument, NULL, 'f'},
        {"incentive-mode", required_argument, NULL, 'E'},
        {"params", required_argument, NULL, 'p'},
        {"catalog", required_argument, NULL, 'G'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct metrics_params p;
    struct metrics_incentive ip;
    const char *cells = NULL, *outpath = NULL, *baseline = NULL;
    struct cellset **sets = NULL, **bsets = NULL, *pooled = NULL;
    metrics_out *out = NULL;
    int nsets = 0, nbsets = 0, rc = 3, c, have_pool = 0, have_mode = 0;
    char err[512];

    metrics_params_default(&p);
    memset(&ip, 0, sizeof ip);
    ip.mode = METRICS_INCENTIVE_SHARE;
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
        case 'K':
            if (parse_dollars("--capitation-base", optarg, &p.capitation_base))
                return 2;
            break;
        case 'p':
            if (metrics_params_load(&p, optarg, err, sizeof err) != 0) {
                log_error("%s", err);
                return 1;
            }
            break;
        case 'b': baseline = optarg; break;
        case 'G': {
            const struct catalog *cat = catalog_open(optarg, err, sizeof err);
            if (!cat) {
                log_error("--catalog: %s", err);
                return 2;
            }
            catalog_set_active(cat);
            break;
        }
        case 'P':
            if (parse_dollars("--incentive-pool", optarg, &ip.pool))
                return 2;
            have_pool = 1;
            break;
        case 'M':
            if (copy_opt("--incentive-measure", optarg, ip.measure, sizeof ip.measure))
                return 2;
            break;
        case 'S':
            if (copy_opt("--incentive-stratifier", optarg, ip.stratifier, sizeof ip.stratifier))
                return 2;
            break;
        case 'f':
            if (copy_opt("--focal", optarg, ip.focal, sizeof ip.focal))
                return 2;
            break;
        case 'E':
            if (strcmp(optarg, "share") == 0) {
                ip.mode = METRICS_INCENTIVE_SHARE;
            } else if (strcmp(optarg, "earn") == 0) {
                ip.mode = METRICS_INCENTIVE_EARN;
            } else {
                log_error("--incentive-mode: expected share or earn, found '%s'", optarg);
                return 2;
            }
            have_mode = 1;
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
    int incentive = baseline || have_pool || have_mode || ip.measure[0] || ip.stratifier[0] ||
                    ip.focal[0];
    if (incentive) {
        char missing[160] = "";
        const char *names[5] = {"--baseline", "--incentive-pool", "--incentive-measure",
                                "--incentive-stratifier", "--focal"};
        int given[5] = {baseline != NULL, have_pool, ip.measure[0] != '\0',
                        ip.stratifier[0] != '\0', ip.focal[0] != '\0'};
        for (int i = 0; i < 5; i++) {
            if (given[i])
                continue;
            size_t used = strlen(missing);
            snprintf(missing + used, sizeof missing - used, "%s%s", used ? ", " : "", names[i]);
        }
        if (missing[0]) {
            log_error("the gap-closure incentive needs --baseline, --incentive-pool, "
                      "--incentive-measure, --incentive-stratifier and --focal together; "
                      "missing: %s", missing);
            usage(stderr);
            return 2;
        }
        if (metrics_incentive_check(&ip, &p, err, sizeof err) != 0) {
            log_error("%s", err);
            return 2;
        }
    }
    int rr = cells_read_csv(cells, &sets, &nsets, err, sizeof err);
    if (rr != 0) {
        rc = read_status(rr); /* before logging, which may change errno */
        log_error("%s", err);
        return rc;
    }
    if (nsets == 0) {
        log_error("%s: no cells after the header", cells);
        rc = 1;
        goto out;
    }
    if (incentive) {
        rr = cells_read_csv(baseline, &bsets, &nbsets, err, sizeof err);
        if (rr != 0) {
            rc = read_status(rr);
            log_error("%s", err);
            goto out;
        }
        if (nbsets == 0) {
            log_error("%s: no cells after the header", baseline);
            rc = 1;
            goto out;
        }
        const char *files[2] = {baseline, cells};
        struct cellset **fsets[2] = {bsets, sets};
        int fn[2] = {nbsets, nsets};
        for (int i = 0; i < 2; i++) {
            if (!has_focal(fsets[i], fn[i], &ip)) {
                log_error("%s: no stratum '%s' of stratifier '%s'", files[i], ip.focal,
                          ip.stratifier);
                rc = 1;
                goto out;
            }
        }
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
    if (incentive) {
        int ir = metrics_compute_incentive(bsets, nbsets, sets, nsets, &p, &ip, out, err,
                                           sizeof err);
        if (ir == METRICS_ENOMEM)
            goto nomem;
        if (ir != 0) {
            log_error("%s", err);
            rc = 2;
            goto out;
        }
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
    cells_read_free(&bsets, nbsets);
    return rc;
}
