/*
 * report_cli.c - `equity-coordinator report --round ID --config F`: writes
 * the round report (report.h) of a closed, released round to
 * results_dir/<round>/report.html (or --out) and prints its path.
 * Exit status: 0 done, 1 user error (bad configuration, unknown or open
 * round), 2 usage error, 3 internal failure (a released file that differs
 * from the release record included).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "coord_config.h"
#include "log.h"
#include "metrics.h"
#include "metrics_params.h"
#include "report.h"
#include "store.h"

static void usage(FILE *f)
{
    fputs("usage: equity-coordinator report --config coordinator.ini --round ID\n"
          "                                 [--reference best|largest|total|VALUE]\n"
          "                                 [--stratifier NAME] [--params FILE]\n"
          "                                 [--out FILE]\n"
          "\n"
          "Writes the round's report, one self-contained HTML file (no network, no\n"
          "script): estimates with 95 % CIs per group, disparities against the\n"
          "reference, summary indices, withheld and partial cells with their reasons,\n"
          "funnel plots where the terms allow per-organization figures, data quality,\n"
          "payment metrics and the cost of the gap, trends over earlier rounds.\n"
          "\n"
          "  --config FILE     coordinator.ini (database, results_dir)\n"
          "  --round ID        a closed, released round\n"
          "  --reference REF   reference group of disparities (default best)\n"
          "  --stratifier S    only this stratifier's tables (and the total)\n"
          "  --params FILE     metric parameters (unit costs, MSSP, HEBA, standard\n"
          "                    population; docs/metrics.md); default:\n"
          "                    results_dir/ID/params.ini, else results_dir/params.ini\n"
          "  --out FILE        write there instead of results_dir/ID/report.html\n"
          "\n"
          "Exit status: 0 success, 1 user error, 2 usage error, 3 internal failure.\n",
          f);
}

int coord_cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"round", required_argument, NULL, 'r'},
        {"reference", required_argument, NULL, 'R'}, {"stratifier", required_argument, NULL, 's'},
        {"params", required_argument, NULL, 'P'}, {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *config = NULL, *round = NULL, *out = NULL, *params = NULL, *reference = NULL;
    struct metrics_params p;
    metrics_params_default(&p);
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'r': round = optarg; break;
        case 'o': out = optarg; break;
        case 'P': params = optarg; break;
        case 'R': reference = optarg; break;
        case 's':
            if (strlen(optarg) >= sizeof p.stratifier || !optarg[0]) {
                log_error("--stratifier: bad name '%s'", optarg);
                return 2;
            }
            snprintf(p.stratifier, sizeof p.stratifier, "%s", optarg);
            break;
        case 'h': usage(stdout); return 0;
        default:
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
    if (!config || !round) {
        log_error("report needs --config and --round");
        usage(stderr);
        return 2;
    }
    struct coord_config cfg;
    char err[1400];
    if (coord_config_load(&cfg, config, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int pr = metrics_params_for_round(&cfg, round, params, &p, err, sizeof err);
    if (pr != 0) {
        log_error("%s", err);
        return 1;
    }
    if (reference && metrics_params_set_reference(&p, reference) != 0) {
        log_error("--reference: expected best, largest, total or a stratum, found '%s'",
                  reference);
        return 2;
    }
    store_t *st = store_open(cfg.database);
    if (!st)
        return 3;
    char path[1400];
    int rc = report_round_write(&cfg, st, round, &p, out, path, sizeof path, err, sizeof err);
    store_close(&st);
    if (rc != 0) {
        log_error("%s", err);
        return rc == -1 ? 1 : 3;
    }
    printf("%s\n", path);
    return 0;
}
