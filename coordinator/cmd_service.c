/*
 * cmd_service.c - the operator's subcommands of equity-coordinator:
 *   check-config --config F           validate settings, keys, certificates
 *   run --config F                     the service (server.c)
 *   round open|status|close|cancel|extend ...   rounds (rounds.c)
 *   audit verify --config F            the hash-chained audit log (audit.c)
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <unistd.h>

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
    const char *config, *period, *deadline, *round, *reason;
    const char *measures, *stratifiers, *intersections, *k, *min_orgs, *catalog;
    int help, force, quiet;
};

/* Parses the options shared by these subcommands from argv[first..]. */
static int parse_opts(int argc, char **argv, int first, struct opts *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"period", required_argument, NULL, 'p'},
        {"deadline", required_argument, NULL, 'd'}, {"round", required_argument, NULL, 'r'},
        {"reason", required_argument, NULL, 'R'}, {"measures", required_argument, NULL, 'm'},
        {"stratifiers", required_argument, NULL, 's'},
        {"intersections", required_argument, NULL, 'i'}, {"k", required_argument, NULL, 'k'},
        {"min-orgs", required_argument, NULL, 'o'}, {"force", no_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'Q'}, {"catalog", required_argument, NULL, 'C'},
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
        case 'R': o->reason = optarg; break;
        case 'm': o->measures = optarg; break;
        case 's': o->stratifiers = optarg; break;
        case 'i': o->intersections = optarg; break;
        case 'k': o->k = optarg; break;
        case 'o': o->min_orgs = optarg; break;
        case 'f': o->force = 1; break;
        case 'Q': o->quiet = 1; break;
        case 'C': o->catalog = optarg; break;
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

/* A whole decimal number in [1, 100000]; 0 if s is NULL; -1 if not one. */
static int small_int(const char *s)
{
    if (!s)
        return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 100000)
        return -1;
    return (int)v;
}

static int load_config(const struct opts *o, struct coord_config *cfg)
{
    char err[1600];
    if (coord_config_load_with(cfg, o->config, o->catalog, err, sizeof err) != 0) {
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
        fputs("usage: equity-coordinator check-config --config coordinator.ini [--quiet]\n",
              stderr);
        return EXIT_USAGE;
    }
    if (o.help) {
        fputs("usage: equity-coordinator check-config --config coordinator.ini [--quiet]\n\n"
              "Validates the settings, the secret keys (mode 0600, matching their\n"
              "certificates), the certificates (against the CA and the CRL) and the\n"
              "folders, then prints the effective settings. Exit 1 with\n"
              "\"file:line: message\" on the first error. --quiet prints errors only.\n",
              stdout);
        return 0;
    }
    if (o.quiet)
        log_set_level(LOG_LVL_WARN);
    struct coord_config cfg;
    if (load_config(&o, &cfg) != 0)
        return EXIT_USER;
    char err[2048];
    FILE *out = stdout;
    if (o.quiet && !(out = fopen("/dev/null", "w"))) {
        log_error("/dev/null: %s", strerror(errno));
        return EXIT_INTERNAL;
    }
    int rc = coord_config_check(&cfg, out, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err);
    else
        coord_config_print(out, &cfg);
    if (out != stdout)
        fclose(out);
    return rc != 0 ? EXIT_USER : 0;
}

/* ---- run ---------------------------------------------------------------- */

static volatile sig_atomic_t flags[2]; /* [0] stop, [1] reload (SIGHUP) */

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        flags[1] = 1;
    else
        flags[0] = 1;
}

/* Descriptors: one per connection. Raise the soft limit to the hard one so
 * that a flood of idle connections cannot leave none for the audit log and
 * the database (the unit sets LimitNOFILE). */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t was = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            log_warn("cannot raise the descriptor limit from %llu", (unsigned long long)was);
            return;
        }
    }
    log_info("descriptor limit %llu (was %llu)", (unsigned long long)rl.rlim_cur,
             (unsigned long long)was);
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
              "stores their submissions, answers analysts, and closes each round at its\n"
              "deadline. Logs to standard error. SIGTERM or SIGINT stop it cleanly;\n"
              "SIGHUP re-reads the enrolled certificates and the CRL. Exit status 3 if\n"
              "the handshake handler or a socket fails (systemd restarts it).\n", stdout);
        return 0;
    }
    struct coord_config cfg;
    if (load_config(&o, &cfg) != 0)
        return EXIT_USER;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    return server_run(&cfg, &flags[0], &flags[1]);
}

/* ---- round -------------------------------------------------------------- */

static void round_usage(FILE *f)
{
    fputs("usage: equity-coordinator round open   --config F --period P [--deadline ISO8601]\n"
          "                 [--measures L] [--stratifiers L] [--intersections L] [--k N]\n"
          "                 [--min-orgs N]\n"
          "       equity-coordinator round status --config F [--round ID]\n"
          "       equity-coordinator round close  --config F --round ID [--force]\n"
          "       equity-coordinator round cancel --config F --round ID [--reason TEXT]\n"
          "       equity-coordinator round extend --config F --round ID --deadline ISO8601\n\n"
          "open    signs and stores a round request with the [round] defaults, each option\n"
          "        replacing its default (lists as in coordinator.ini); prints its id.\n"
          "        --intersections takes two-way (race*cmc) and three-way\n"
          "        (race*disability*cmc) entries, at most [round] max_three_way (default 2)\n"
          "        three-way ones, never with language or county.\n"
          "        The deadline must be in the future. The request names the catalog\n"
          "        ([coordinator] catalog, or --catalog FILE|builtin; default: the installed\n"
          "        catalog.ini, docs/catalog.md); a measure it lacks is refused, and a node\n"
          "        holding another catalog refuses the round (catalog_unknown, catalog_mismatch).\n"
          "status  per organization: submitted (time, sha256, late), refused (the node's\n"
          "        reason), held for approval on site or failing on site (as the node reports\n"
          "        it: since when, reason, code), pending (connected, not answered), never\n"
          "        connected, revoked\n"
          "close   closes the round and pools the submissions that were in time into\n"
          "        results_dir/ID/pooled.csv (printed), and writes results_dir/ID/report.html.\n"
          "        With fewer submissions than the round's min_orgs it says so, leaves the\n"
          "        round open and exits 1, unless --force. A stored submission that cannot\n"
          "        be decoded stops the release (exit 1) unless --force, which releases\n"
          "        without it. A close that was interrupted is\n"
          "        finished by running it again. The service closes a round by itself at\n"
          "        its deadline.\n"
          "cancel  ends an open round without pooling or releasing anything\n"
          "extend  moves an open round's deadline later\n"
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
        close = !strcmp(action, "close"), cancel = !strcmp(action, "cancel"),
        extend = !strcmp(action, "extend");
    int needs_round = close || cancel || extend;
    int open_opts = o.measures || o.stratifiers || o.intersections || o.k || o.min_orgs;
    if ((!open && !status && !needs_round) || !o.config || (open && !o.period) ||
        (needs_round && !o.round) || (extend && !o.deadline) || (open_opts && !open) ||
        (o.force && !close) || (o.reason && !cancel) || o.quiet) {
        round_usage(stderr);
        return EXIT_USAGE;
    }
    struct round_options ro = {o.measures, o.stratifiers, o.intersections, small_int(o.k),
                               small_int(o.min_orgs)};
    if (ro.k < 0 || ro.min_orgs < 0) {
        log_error("--%s \"%s\" is not a whole number from 1 to 100000", ro.k < 0 ? "k" : "min-orgs",
                  ro.k < 0 ? o.k : o.min_orgs);
        return EXIT_USAGE;
    }
    struct coord_config cfg;
    if (load_config(&o, &cfg) != 0)
        return EXIT_USER;
    store_t *st = store_open(cfg.database);
    if (!st)
        return EXIT_INTERNAL;
    char err[1024], id[64], path[1300];
    int rc;
    if (open) {
        rc = rounds_open(&cfg, st, o.period, o.deadline, &ro, id, err, sizeof err);
        if (rc == 0)
            printf("%s\n", id);
    } else if (status) {
        rc = rounds_status(&cfg, st, o.round, stdout, err, sizeof err);
    } else if (close) {
        rc = rounds_close(&cfg, st, o.round, o.force, NULL, path, sizeof path, err, sizeof err);
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
    } else if (cancel) {
        rc = rounds_cancel(&cfg, st, o.round, o.reason, err, sizeof err);
    } else {
        rc = rounds_extend(&cfg, st, o.round, o.deadline, err, sizeof err);
    }
    store_close(&st);
    if (rc != 0) {
        log_error("%s", err);
        return rc == -1 || rc == -3 ? EXIT_USER : EXIT_INTERNAL;
    }
    return 0;
}

/* ---- audit -------------------------------------------------------------- */

int coord_cmd_audit(int argc, char **argv)
{
    static const char usage[] =
        "usage: equity-coordinator audit verify --config coordinator.ini\n\n"
        "Recomputes the hash chain of the audit log and checks that it reaches the\n"
        "chain head recorded in the database; exit 0 if intact, 1 with the first\n"
        "bad line (removed entry: seq gap or prev_hash mismatch; altered entry: hash\n"
        "mismatch; newest entries cut off: the log ends before the recorded head).\n"
        "\"repair\" entries (torn writes cut off, entries lost in a crash) are counted.\n";
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
    if (load_config(&o, &cfg) != 0)
        return EXIT_USER;
    /* The anchor (the chain's head kept in the store) is read under a
     * shared lock of the log: a writer holds the exclusive one from before
     * its COMMIT until its entries are on disk. */
    store_t *st = store_open(cfg.database);
    if (!st)
        return EXIT_INTERNAL;
    int lock = open(cfg.audit_log, O_RDONLY | O_CLOEXEC);
    if (lock >= 0 && flock(lock, LOCK_SH) != 0) {
        close(lock);
        lock = -1;
    }
    long n = 0, repairs = 0, aseq = 0;
    char err[1024], ahash[65];
    int rc = store_anchor_get(st, &aseq, ahash);
    store_close(&st);
    if (rc != 0) {
        if (lock >= 0)
            close(lock);
        fprintf(stderr, "%s: cannot read the audit anchor\n", cfg.database);
        return EXIT_INTERNAL;
    }
    rc = audit_verify_anchored(cfg.audit_log, aseq, ahash, &n, &repairs, err, sizeof err);
    if (lock >= 0)
        close(lock);
    if (rc == 0) {
        printf("%s: %ld entries, chain intact, reaches the store's anchor (entry %ld)\n",
               cfg.audit_log, n, aseq);
        if (repairs)
            printf("%s: %ld \"repair\" entries: torn writes cut off or entries lost in a "
                   "crash; read them with: grep -P '\\trepair\\t' %s\n", cfg.audit_log,
                   repairs, cfg.audit_log);
        return 0;
    }
    fprintf(stderr, "%s\n", err);
    return rc == 1 ? EXIT_USER : EXIT_INTERNAL;
}
