/*
 * cmd_service.c - the operator's subcommands of equity-coordinator:
 *   check-config --config F           validate settings, keys, certificates
 *   run --config F                     the service (server.c)
 *   round open|status|close ...        rounds (rounds.c)
 *   audit verify --config F            the hash-chained audit log (audit.c)
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "commands.h"
#include "coord_config.h"
#include "log.h"
#include "metrics_params.h"
#include "report.h"
#include "rounds.h"
#include "server.h"
#include "store.h"

#define EXIT_USER 1
#define EXIT_USAGE 2
#define EXIT_INTERNAL 3

struct opts {
    const char *config, *period, *deadline, *round;
    int help;
};

/* Parses the options shared by these subcommands from argv[first..]. */
static int parse_opts(int argc, char **argv, int first, struct opts *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"period", required_argument, NULL, 'p'},
        {"deadline", required_argument, NULL, 'd'}, {"round", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    optind = 0; /* glibc: full re-initialisation */
    int c;
    while ((c = getopt_long(argc - first + 1, argv + first - 1, "c:p:d:r:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o->config = optarg; break;
        case 'p': o->period = optarg; break;
        case 'd': o->deadline = optarg; break;
        case 'r': o->round = optarg; break;
        case 'h': o->help = 1; break;
        default: return -1;
        }
    }
    if (optind < argc - first + 1) {
        log_error("unexpected argument '%s'", argv[first - 1 + optind]);
        return -1;
    }
    return 0;
}

static int load_config(const char *path, struct coord_config *cfg)
{
    char err[1024];
    if (coord_config_load(cfg, path, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

/* ---- check-config ---------------------------------------------------------- */

int coord_cmd_check_config(int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, 1, &o) != 0 || (!o.help && !o.config)) {
        fputs("usage: equity-coordinator check-config --config coordinator.ini\n", stderr);
        return EXIT_USAGE;
    }
    if (o.help) {
        fputs("usage: equity-coordinator check-config --config coordinator.ini\n\n"
              "Validates the settings, the secret keys (mode 0600, matching their\n"
              "certificates), the certificates (against the CA and the CRL) and the\n"
              "folders, then prints the effective settings. Exit 1 with\n"
              "\"file:line: message\" on the first error.\n", stdout);
        return 0;
    }
    struct coord_config cfg;
    if (load_config(o.config, &cfg) != 0)
        return EXIT_USER;
    char err[2048];
    if (coord_config_check(&cfg, stdout, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return EXIT_USER;
    }
    coord_config_print(stdout, &cfg);
    return 0;
}

/* ---- run ---------------------------------------------------------------- */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

int coord_cmd_run(int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, 1, &o) != 0 || (!o.help && !o.config)) {
        fputs("usage: equity-coordinator run --config coordinator.ini\n", stderr);
        return EXIT_USAGE;
    }
    if (o.help) {
        fputs("usage: equity-coordinator run --config coordinator.ini\n\n"
              "Runs the coordinator service: serves open rounds to nodes, verifies and\n"
              "stores their submissions, answers analysts. Logs to standard error.\n"
              "SIGTERM or SIGINT stop it cleanly.\n", stdout);
        return 0;
    }
    struct coord_config cfg;
    if (load_config(o.config, &cfg) != 0)
        return EXIT_USER;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return server_run(&cfg, &stop_flag);
}

/* ---- round -------------------------------------------------------------- */

static void round_usage(FILE *f)
{
    fputs("usage: equity-coordinator round open   --config F --period P [--deadline ISO8601]\n"
          "       equity-coordinator round status --config F [--round ID]\n"
          "       equity-coordinator round close  --config F --round ID\n\n"
          "open    signs and stores a round request with the [round] defaults; prints its id\n"
          "status  per organization: submitted (time, sha256, late), refused, pending\n"
          "close   closes the round and pools the submissions that were in time into\n"
          "        results_dir/ID/pooled.csv (printed), and writes results_dir/ID/report.html\n"
          "The deadline is YYYY-MM-DD (end of day UTC) or YYYY-MM-DDTHH:MM:SSZ.\n", f);
}

int coord_cmd_round(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        round_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *action = argv[1];
    struct opts o;
    if (parse_opts(argc, argv, 2, &o) != 0) {
        round_usage(stderr);
        return EXIT_USAGE;
    }
    if (o.help) {
        round_usage(stdout);
        return 0;
    }
    int open = !strcmp(action, "open"), status = !strcmp(action, "status"),
        close = !strcmp(action, "close");
    if ((!open && !status && !close) || !o.config || (open && !o.period) || (close && !o.round)) {
        round_usage(stderr);
        return EXIT_USAGE;
    }
    struct coord_config cfg;
    if (load_config(o.config, &cfg) != 0)
        return EXIT_USER;
    store_t *st = store_open(cfg.database);
    if (!st)
        return EXIT_INTERNAL;
    char err[1024], id[64], path[1300];
    int rc;
    if (open) {
        rc = rounds_open(&cfg, st, o.period, o.deadline, id, err, sizeof err);
        if (rc == 0)
            printf("%s\n", id);
    } else if (status) {
        rc = rounds_status(&cfg, st, o.round, stdout, err, sizeof err);
    } else {
        rc = rounds_close(&cfg, st, o.round, path, sizeof path, err, sizeof err);
        if (rc == 0) {
            printf("%s\n", path);
            /* The round is released; its report follows (report.h). */
            struct metrics_params mp;
            metrics_params_default(&mp);
            char rpath[1400];
            if (metrics_params_for_round(&cfg, o.round, NULL, &mp, err, sizeof err) != 0 ||
                report_round_write(&cfg, st, o.round, &mp, NULL, rpath, sizeof rpath, err,
                                   sizeof err) != 0) {
                log_error("round %s is released, but its report was not written: %s (run "
                          "equity-coordinator report --round %s)", o.round, err, o.round);
                rc = -2;
                snprintf(err, sizeof err, "report not written");
            } else {
                log_info("round %s: report %s", o.round, rpath);
            }
        }
    }
    store_close(&st);
    if (rc != 0) {
        log_error("%s", err);
        return rc == -1 ? EXIT_USER : EXIT_INTERNAL;
    }
    return 0;
}

/* ---- audit -------------------------------------------------------------- */

int coord_cmd_audit(int argc, char **argv)
{
    static const char usage[] =
        "usage: equity-coordinator audit verify --config coordinator.ini\n\n"
        "Recomputes the hash chain of the audit log; exit 0 if intact, 1 with the\n"
        "first bad line (removed entry: seq gap or prev_hash mismatch; altered\n"
        "entry: hash mismatch).\n";
    if (argc < 2 || strcmp(argv[1], "verify") != 0) {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            fputs(usage, stdout);
            return 0;
        }
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    struct opts o;
    if (parse_opts(argc, argv, 2, &o) != 0 || (!o.help && !o.config)) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    if (o.help) {
        fputs(usage, stdout);
        return 0;
    }
    struct coord_config cfg;
    if (load_config(o.config, &cfg) != 0)
        return EXIT_USER;
    long n = 0;
    char err[1024];
    int rc = audit_verify(cfg.audit_log, &n, err, sizeof err);
    if (rc == 0) {
        printf("%s: %ld entries, chain intact\n", cfg.audit_log, n);
        return 0;
    }
    fprintf(stderr, "%s\n", err);
    return rc == 1 ? EXIT_USER : EXIT_INTERNAL;
}
