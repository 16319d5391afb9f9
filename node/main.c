/*
 * main.c - equity-node: the program each partner organization runs next to
 * its data (interfaces.md). Subcommands:
 *   aggregate   compute, suppress and write the cells that would leave
 *   preview     print what would leave the site and what is withheld, why
 *   profile     data-quality profile of an input (stays on site)
 *   check-config validate a configuration file (and the identity files it
 *               names) and print the settings
 *   run         the service: connect out to the coordinator, answer rounds
 *   approve     approve a round held for on-site approval
 *   report      the organization's own HTML report of a round (report.c)
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccc.h"
#include "log.h"
#include "node_config.h"
#include "omop.h"
#include "pipeline.h"
#include "policy.h"
#include "release_ledger.h"
#include "report.h"
#include "service.h"
#include "tally.h"
#include "version.h"
#include "wire.h"

#define EXIT_USER 1
#define EXIT_USAGE 2
#define EXIT_INTERNAL 3

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: equity-node COMMAND [OPTIONS]\n"
        "\n"
        "Computes health-equity cells from member-level records on site, withholds\n"
        "small cells (primary and complementary suppression), and sends only those.\n"
        "\n"
        "Commands:\n"
        "  aggregate --input PATH [--format extract|synthea|fhir|omop] [--period YYYY]\n"
        "            [--config node.ini] [--k N] [--ledger DIR] --out FILE\n"
        "        Compute and suppress; write FILE as .csv, .json or .pb (protobuf\n"
        "        Submission). Written to a temporary file and renamed: never partial.\n"
        "        With --ledger, the release is checked together with the earlier\n"
        "        releases of its period kept in DIR (withheld further, or refused)\n"
        "        and kept there (docs/operators.md, \"The release ledger\").\n"
        "  preview   (same options, --out optional) [--round ID]\n"
        "        Print every cell that would leave the site and every withheld cell\n"
        "        with its reason. With --out, also write the exact file. With\n"
        "        --round, compute what the service received round ID asks for\n"
        "        (measures, stratifiers, k, period of its kept request).\n"
        "  profile --input PATH [--format ...] [--period YYYY] [--config node.ini]\n"
        "        Data-quality profile: rows read and rejected per reason with\n"
        "        file:line:column examples, REaL completeness, code-map hits and misses.\n"
        "  check-config --config node.ini [--quiet]\n"
        "        Validate the configuration (files exist, ports in range) and print\n"
        "        the effective settings (nothing with --quiet); when [identity] is\n"
        "        set, also check the keys (mode 0600) and that the certificates\n"
        "        verify against the CA and CRL.\n"
        "  run --config node.ini\n"
        "        The service: connect out to the coordinator, answer rounds (policy,\n"
        "        approval), keep a copy of every submission, resend until\n"
        "        acknowledged. Stops cleanly on SIGTERM or SIGINT.\n"
        "  approve --config node.ini --round ID\n"
        "        Approve a round the service holds (approval = manual).\n"
        "  report --config node.ini --round ID [--pooled pooled.csv] [--out FILE]\n"
        "        This organization's own HTML report of a round, on site: exactly\n"
        "        what left (the kept submission), what was withheld and why, and,\n"
        "        given the federation's pooled.csv, a spine chart against it.\n"
        "        Default FILE: <store dir>/<round>.report.html.\n"
        "\n"
        "Options:\n"
        "  -i, --input PATH     extract CSV (.csv or .csv.gz), Synthea or FHIR Bulk Data\n"
        "                       folder, or (omop) a libpq connection string\n"
        "  -f, --format NAME    extract (default), synthea, fhir or omop\n"
        "  -p, --period P       reporting period (Synthea, FHIR, OMOP: calendar year)\n"
        "  -c, --config FILE    node.ini (default: built-in defaults, k = 11)\n"
        "      --catalog FILE   the federation's catalog of measures (docs/catalog.md);\n"
        "                       default: [node] catalog, else the installed\n"
        "                       catalog.ini; builtin = the compiled-in catalog\n"
        "  -k, --k N            threshold k (never below the policy's min_k)\n"
        "  -o, --out FILE       output file (.csv, .json, .pb)\n"
        "      --round ID       round id (approve, preview, report)\n"
        "      --pooled FILE    the federation's pooled.csv of the round (report)\n"
        "      --ledger DIR     release ledger (aggregate, preview; with --round the\n"
        "                       service's <store dir>/ledger is used by default)\n"
        "      --strict         abort on the first bad row (default: skip and count)\n"
        "      --threads N      reader threads for plain CSV files (default 2)\n"
        "      --progress       progress lines on standard error\n"
        "  -q, --quiet          only errors on standard error (check-config: nothing\n"
        "                       on standard output either)\n"
        "\n"
        "Logs go to standard error: a UTC timestamp per line, or under systemd (when\n"
        "JOURNAL_STREAM names standard error) a <N> priority prefix per line instead,\n"
        "so that journalctl -p err shows the errors.\n"
        "  -h, --help           this help\n"
        "  -V, --version        version\n"
        "\n"
        "Exit status: 0 success, 1 bad input or configuration, 2 usage error,\n"
        "3 internal failure.\n");
}

/* An error for the person at the terminal, or (under systemd) a journal
 * line with error priority: log_error, whose line starts with <3>. */
static void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void cli_err(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (log_is_journal())
        log_error("%s", msg);
    else
        fprintf(stderr, "equity-node: %s\n", msg);
}

struct cli {
    const char *cmd;
    const char *input, *format, *period, *config, *out, *round, *pooled, *catalog, *ledger;
    int k, strict, threads, progress, quiet;
};

static int parse_args(int argc, char **argv, struct cli *o)
{
    static const struct option opts[] = {
        {"input", required_argument, NULL, 'i'}, {"format", required_argument, NULL, 'f'},
        {"period", required_argument, NULL, 'p'}, {"config", required_argument, NULL, 'c'},
        {"k", required_argument, NULL, 'k'}, {"out", required_argument, NULL, 'o'},
        {"round", required_argument, NULL, 'r'}, {"strict", no_argument, NULL, 's'},
        {"pooled", required_argument, NULL, 'O'}, {"catalog", required_argument, NULL, 'C'},
        {"ledger", required_argument, NULL, 'L'},
        {"threads", required_argument, NULL, 't'}, {"progress", no_argument, NULL, 'P'},
        {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
    int ch;
    char *end;
    while ((ch = getopt_long(argc, argv, "i:f:p:c:k:o:qhV", opts, NULL)) != -1) {
        switch (ch) {
        case 'i': o->input = optarg; break;
        case 'f': o->format = optarg; break;
        case 'p': o->period = optarg; break;
        case 'c': o->config = optarg; break;
        case 'o': o->out = optarg; break;
        case 'r': o->round = optarg; break;
        case 'O': o->pooled = optarg; break;
        case 'C': o->catalog = optarg; break;
        case 'L': o->ledger = optarg; break;
        case 's': o->strict = 1; break;
        case 'P': o->progress = 1; break;
        case 'q': o->quiet = 1; break;
        case 'k':
            errno = 0;
            o->k = (int)strtol(optarg, &end, 10);
            if (errno || *end || o->k < 2 || o->k > 1000) {
                cli_err("--k must be a whole number 2..1000, not \"%s\"", optarg);
                return -1;
            }
            break;
        case 't':
            errno = 0;
            o->threads = (int)strtol(optarg, &end, 10);
            if (errno || *end || o->threads < 1 || o->threads > 64) {
                cli_err("--threads must be 1..64, not \"%s\"", optarg);
                return -1;
            }
            break;
        case 'h': usage(stdout); exit(0);
        case 'V': printf("equity-node %s\n", EQ_VERSION); exit(0);
        default: return -1;
        }
    }
    if (optind != argc) {
        cli_err("unexpected argument \"%s\"", argv[optind]);
        return -1;
    }
    return 0;
}

/* Loads the configuration and applies command-line overrides. */
static int load_config(const struct cli *o, struct node_config *c)
{
    char err[1600];
    if (node_config_load_with(c, o->config, o->catalog, err, sizeof err) != 0) {
        cli_err("%s", err);
        return -1;
    }
    if (o->input)
        snprintf(c->input, sizeof c->input, "%s", o->input);
    if (o->period)
        snprintf(c->period, sizeof c->period, "%s", o->period);
    if (o->format) {
        if (!strcmp(o->format, "extract"))
            c->format = FORMAT_EXTRACT;
        else if (!strcmp(o->format, "synthea"))
            c->format = FORMAT_SYNTHEA;
        else if (!strcmp(o->format, "fhir"))
            c->format = FORMAT_FHIR;
        else if (!strcmp(o->format, "omop"))
            c->format = FORMAT_OMOP;
        else {
            cli_err("--format must be extract, synthea, fhir or omop, not \"%s\"", o->format);
            return -2;
        }
    }
    if (o->k) {
        if (o->k < c->min_k) {
            cli_err("--k %d is below the policy's min_k %d", o->k, c->min_k);
            return -1;
        }
        c->k = o->k;
    }
    if (o->strict)
        c->bad_rows = BADROWS_STRICT;
    if (o->threads)
        c->threads = o->threads;
    return 0;
}

static void print_rejections(FILE *f, const struct profile *p)
{
    for (int r = 0; r < BAD__COUNT; r++) {
        if (!p->rejected[r])
            continue;
        fprintf(f, "  %-14s %llu\n", profile_reason_name((bad_reason)r), (unsigned long long)p->rejected[r]);
        for (int i = 0; i < p->n_examples[r]; i++) {
            const struct profile_example *e = &p->examples[r][i];
            if (e->column)
                fprintf(f, "      %s:%llu:%d: %s%s%s\n", p->source, (unsigned long long)e->line, e->column,
                        e->field[0] ? e->field : "", e->field[0] ? ": " : "", e->message);
            else
                fprintf(f, "      %s:%llu: %s\n", p->source, (unsigned long long)e->line, e->message);
        }
    }
}

static void print_summary(const struct pipeline_result *r)
{
    const struct profile *p = &r->profile;
    uint64_t rej = profile_rejected_total(p);
    log_info("%s: %llu rows read, %llu accepted, %llu rejected (%.2f s)", p->source,
             (unsigned long long)p->rows_read, (unsigned long long)p->rows_accepted,
             (unsigned long long)rej, r->seconds_read);
    if (rej)
        log_warnx("%llu rows rejected; run `equity-node profile` for the reasons and examples",
                  (unsigned long long)rej);
    uint64_t left = 0;
    for (int m = 0; m < catalog_n_measures(); m++)
        left += p->left_out[m];
    if (left)
        log_warnx("members with empty (unknown) measure fields are left out of those measures "
                  "(%llu member-measures); `equity-node profile` shows which",
                  (unsigned long long)left);
    if (p->unavailable_measures)
        log_warnx("not available from this source: %s", p->unavailable_why);
    if (p->identity_why[0])
        log_warnx("identity stratifiers: %s", p->identity_why);
    if (p->race_detail_dropped)
        log_warnx("race_detail: %llu member(s) whose detailed responses contradict the source's race "
                  "or ethnicity: their responses are left out (race_detail UNKNOWN)",
                  (unsigned long long)p->race_detail_dropped);
    uint64_t c[REASON__COUNT];
    cellset_count_reasons(r->cells, c);
    char line[512];
    size_t used = (size_t)snprintf(line, sizeof line, "%zu cells: %llu released", r->cells->ncells,
                                   (unsigned long long)c[REASON_NONE]);
    for (int i = 1; i < REASON__COUNT && used < sizeof line; i++)
        if (c[i])
            used += (size_t)snprintf(line + used, sizeof line - used, ", %llu withheld (%s)",
                                     (unsigned long long)c[i], cell_reason_name((cell_reason)i));
    log_info("%s", line);
}

static double cell_estimate(const struct cell *c, int *ok)
{
    const struct measure_def *m = catalog_measure(c->measure);
    double mm = cell_value(c, CELL_F_MONTHS), den = cell_value(c, CELL_F_DEN);
    double num = cell_value(c, CELL_F_NUM);
    *ok = 1;
    switch (m->kind) {
    case KIND_COUNT: return (double)c->members;
    case KIND_PROPORTION:
    case KIND_MEAN:
        if (den > 0)
            return num / den * (m->kind == KIND_PROPORTION ? 100.0 : 1.0);
        break;
    case KIND_RATE:
        if (mm > 0)
            return 12000.0 * num / mm;
        break;
    case KIND_PMPM:
        if (mm > 0)
            return num / mm;
        break;
    }
    *ok = 0;
    return 0;
}

static const char *estimate_unit(measure_kind k)
{
    switch (k) {
    case KIND_COUNT: return "members";
    case KIND_PROPORTION: return "%";
    case KIND_RATE: return "per 1,000 member-years";
    case KIND_MEAN: return "mean";
    case KIND_PMPM: return "USD PMPM";
    }
    return "";
}

static void print_preview(const struct pipeline_result *r)
{
    const struct cellset *cs = r->cells;
    printf("Preview of what would leave this site\n");
    printf("  organization %s, period %s, k = %d, dominance %.2f\n", cs->org, cs->period, cs->k, cs->dominance);
    printf("  nothing below is sent by this command; member ids and record-level values never leave.\n\n");
    printf("%-22s %-20s %-22s %9s %12s %12s %12s  %s\n", "measure", "stratifier", "stratum",
           "members", "denominator", "numerator", "estimate", "status");
    char label[256];
    int last_measure = -1;
    for (size_t i = 0; i < cs->ncells; i++) {
        const struct cell *c = &cs->cells[i];
        const struct measure_def *m = catalog_measure(c->measure);
        if (c->measure != last_measure) {
            printf("\n# %s: %s (%s, %s)\n", m->name, m->label, catalog_kind_name(m->kind), estimate_unit(m->kind));
            last_measure = c->measure;
        }
        cellset_stratum_label(cs, c, label, sizeof label);
        if (c->reason == REASON_NONE) {
            int ok;
            double est = cell_estimate(c, &ok);
            char estbuf[32] = "-";
            if (ok)
                snprintf(estbuf, sizeof estbuf, "%.1f", est);
            printf("%-22s %-20s %-22s %9lld %12.1f %12.1f %12s  released\n", m->name,
                   cs->tables[c->table].name, label, (long long)c->members,
                   cell_value(c, CELL_F_DEN), cell_value(c, CELL_F_NUM), estbuf);
        } else {
            printf("%-22s %-20s %-22s %9s %12s %12s %12s  withheld (%s)\n", m->name,
                   cs->tables[c->table].name, label, "-", "-", "-", "-", cell_reason_name(c->reason));
        }
    }
    uint64_t cnt[REASON__COUNT];
    cellset_count_reasons(cs, cnt);
    printf("\nSummary: %zu cells, %llu released", cs->ncells, (unsigned long long)cnt[REASON_NONE]);
    for (int i = 1; i < REASON__COUNT; i++)
        if (cnt[i])
            printf(", %llu withheld for %s", (unsigned long long)cnt[i], cell_reason_name((cell_reason)i));
    printf("\n");
    struct submission_meta meta = {.k = (unsigned)cs->k};
    if (profile_to_submission(&r->profile, &meta) == 0) {
        printf("Rejected rows, as the submission states them:");
        if (!meta.n_rejected)
            printf(" none");
        for (int i = 0; i < meta.n_rejected; i++) {
            if (meta.rejected[i].fewer_than_k)
                printf("%s %s fewer than %d", i ? "," : "", meta.rejected[i].reason, cs->k);
            else
                printf("%s %s %llu", i ? "," : "", meta.rejected[i].reason,
                       (unsigned long long)meta.rejected[i].rows);
        }
        printf("\n");
    }
}

static double share_unknown(const struct cellset *cs, const char *table, const char *const *unknown)
{
    int t = cellset_find_table(cs, table);
    if (t < 0)
        return -1;
    double total = 0, unk = 0;
    const struct cell_table *tab = &cs->tables[t];
    for (int s = 0; s < tab->nstrata; s++) {
        const struct cell *c = cellset_get(cs, M_POPULATION, t, s);
        if (!c)
            continue;
        total += c->members;
        for (int u = 0; unknown[u]; u++)
            if (!strcmp(tab->labels[0][s], unknown[u]))
                unk += c->members;
    }
    return total > 0 ? unk / total : -1;
}

static void print_profile(const struct pipeline_result *r)
{
    const struct profile *p = &r->profile;
    printf("Data-quality profile of %s\n", p->source);
    printf("  (stays on site: it quotes input values)\n\n");
    printf("Rows read      %llu\n", (unsigned long long)p->rows_read);
    printf("Rows accepted  %llu\n", (unsigned long long)p->rows_accepted);
    printf("Rows rejected  %llu\n", (unsigned long long)profile_rejected_total(p));
    print_rejections(stdout, p);
    if (r->zero_months)
        printf("Members with 0 member months (in no population): %llu\n", (unsigned long long)r->zero_months);
    printf("\nEmpty (unknown) measure fields: the member is left out of the measures that\n"
           "need the field, never counted as 0\n");
    int any = 0;
    for (int col = 0; col < COL__COUNT; col++)
        if (p->empty_fields[col]) {
            printf("  %-22s %llu members\n", extract_column_names[col],
                   (unsigned long long)p->empty_fields[col]);
            any = 1;
        }
    for (int m = 0; m < catalog_n_measures(); m++)
        if (p->left_out[m]) {
            printf("  left out of %-14s %llu members%s\n", catalog_measure(m)->name,
                   (unsigned long long)p->left_out[m],
                   (TALLY_LEAVE_OUT_MEASURES & (1u << m)) ? "" : " (measure withheld: not_available)");
            any = 1;
        }
    if (!any)
        printf("  none\n");
    printf("\nREaL completeness (share of members with a known value)\n");
    static const char *const race_unk[] = {"UNKNOWN", "DECLINED", NULL};
    static const char *const lang_unk[] = {"und", NULL};
    static const char *const payer_unk[] = {"UNKNOWN", NULL};
    struct { const char *name; const char *table; const char *const *unk; } dims[] = {
        {"race", "race", race_unk}, {"ethnicity", "ethnicity", race_unk},
        {"language", "language", lang_unk}, {"payer", "payer", payer_unk},
        {"disability", "disability", (const char *const[]){"U", NULL}},
        {"adi_decile", "adi_quintile", payer_unk}, {"county", "county", payer_unk}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        double u = share_unknown(r->cells, dims[i].table, dims[i].unk);
        if (u < 0)
            printf("  %-12s n/a\n", dims[i].name);
        else
            printf("  %-12s %6.1f %% known%s\n", dims[i].name, 100.0 * (1 - u),
                   1 - u < 0.80 ? "   (below 80 %: dq_low_completeness)" : "");
    }
    printf("\nCode maps\n");
    if (!p->n_map_rules)
        printf("  no code-map rules configured\n");
    for (size_t i = 0; i < p->n_map_rules; i++)
        printf("  %-12s %-24s -> %-12s %llu hits\n", p->map_rules[i].column >= 0 && p->map_rules[i].column < COL__COUNT
               ? extract_column_names[p->map_rules[i].column] : "?", p->map_rules[i].from, p->map_rules[i].to,
               (unsigned long long)p->map_rules[i].hits);
    for (int col = 0; col < COL__COUNT; col++)
        if (p->map_misses[col])
            printf("  %-12s %llu values neither standard nor mapped\n", extract_column_names[col],
                   (unsigned long long)p->map_misses[col]);
    if (p->ccc_on) {
        printf("\nChildren with medical complexity (CCC v2, members under %d)\n", CCC_AGE_LIMIT);
        printf("  classified   %llu\n  any category %llu\n", (unsigned long long)p->ccc_classified,
               (unsigned long long)p->ccc_any);
        for (int i = 0; i < ccc_category_count(); i++)
            printf("  %-16s %llu\n", ccc_category_name(i), (unsigned long long)p->ccc_category[i]);
    }
    printf("\nMeasures not available from this source: %s\n",
           p->unavailable_measures ? p->unavailable_why : "none");
    if (p->identity_why[0])
        printf("Identity stratifiers: %s\n", p->identity_why);
    if (p->race_detail_members || p->race_detail_dropped)
        printf("Detailed race responses: %llu members with some, %llu left out (they contradict "
               "the source's race or ethnicity)\n", (unsigned long long)p->race_detail_members,
               (unsigned long long)p->race_detail_dropped);
}

int main(int argc, char **argv)
{
    log_init("equity-node", LOG_LVL_INFO);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("equity-node %s\n", EQ_VERSION);
        return 0;
    }
    struct cli o;
    memset(&o, 0, sizeof o);
    o.cmd = argv[1];
    optind = 2;
    if (parse_args(argc, argv, &o) != 0) {
        fprintf(stderr, "Try 'equity-node --help'.\n");
        return EXIT_USAGE;
    }
    if (o.quiet)
        log_set_level(LOG_LVL_ERROR);
    struct node_config *c = calloc(1, sizeof *c);
    if (!c)
        return EXIT_INTERNAL;
    int status = EXIT_USAGE;
    int aggregate = !strcmp(o.cmd, "aggregate"), preview = !strcmp(o.cmd, "preview");
    int profile = !strcmp(o.cmd, "profile");
    if (!strcmp(o.cmd, "check-config")) {
        if (!o.config) {
            cli_err("check-config needs --config FILE");
            goto out;
        }
        int lc = load_config(&o, c);
        if (lc != 0) {
            status = lc == -2 ? EXIT_USAGE : EXIT_USER;
            goto out;
        }
        char ierr[1200];
        if (node_config_check_files(c, ierr, sizeof ierr) != 0) {
            cli_err("%s", ierr);
            status = EXIT_USER;
            goto out;
        }
        int ic = 0;
        if (policy_config_check(c, ierr, sizeof ierr) != 0 ||
            (ic = service_check_identity(c, ierr, sizeof ierr)) < 0) {
            /* the messages start with "[section] key": name its line */
            int line = node_config_message_line(c, ierr);
            if (line)
                cli_err("%s:%d: %s", o.config, line, ierr);
            else
                cli_err("%s: %s", o.config, ierr);
            status = EXIT_USER;
            goto out;
        }
        if (!o.quiet) {
            node_config_print(stdout, c);
            printf("\n# identity: %s\n", ic == 1 ? "not configured (the service needs it)"
                                                  : "keys and certificates verified");
        }
        status = 0;
    } else if (!strcmp(o.cmd, "run") || !strcmp(o.cmd, "approve")) {
        int run = !strcmp(o.cmd, "run");
        if (!o.config) {
            cli_err("%s needs --config FILE", o.cmd);
            goto out;
        }
        if (!run && !o.round) {
            cli_err("approve needs --round ID");
            goto out;
        }
        int lc = load_config(&o, c);
        if (lc != 0) {
            status = lc == -2 ? EXIT_USAGE : EXIT_USER;
            goto out;
        }
        status = (run ? service_run(c) : service_approve(c, o.round)) == 0 ? 0 : EXIT_USER;
    } else if (!strcmp(o.cmd, "report")) {
        if (!o.config || !o.round) {
            fprintf(stderr, "equity-node: report needs --config FILE and --round ID\n");
            goto out;
        }
        int lc = load_config(&o, c);
        if (lc != 0) {
            status = lc == -2 ? EXIT_USAGE : EXIT_USER;
            goto out;
        }
        char rerr[1600], rpath[1400];
        int rr = node_report_write(c, o.round, o.pooled, o.out, rpath, sizeof rpath, rerr,
                                   sizeof rerr);
        if (rr != 0) {
            fprintf(stderr, "equity-node: %s\n", rerr);
            status = rr == -1 ? EXIT_USER : EXIT_INTERNAL;
            goto out;
        }
        printf("%s\n", rpath);
        status = 0;
    } else if (aggregate || preview || profile) {
        if (aggregate && !o.out) {
            cli_err("aggregate needs --out FILE (.csv, .json or .pb)");
            goto out;
        }
        if (o.out) {
            size_t n = strlen(o.out);
            if (!((n > 4 && !strcmp(o.out + n - 4, ".csv")) || (n > 5 && !strcmp(o.out + n - 5, ".json")) ||
                  (n > 3 && !strcmp(o.out + n - 3, ".pb")))) {
                cli_err("--out must end in .csv, .json or .pb: \"%s\"", o.out);
                goto out;
            }
        }
        int lc = load_config(&o, c);
        if (lc != 0) {
            status = lc == -2 ? EXIT_USAGE : EXIT_USER;
            goto out;
        }
        if (!c->input[0]) {
            cli_err("%s needs --input PATH (or [input] path in the configuration)", o.cmd);
            goto out;
        }
        if (o.round) {
            /* Preview (or aggregate) exactly what a received round asks for. */
            char rerr[600];
            struct node_config *rc = malloc(sizeof *rc);
            if (!rc || !o.config || service_round_config(c, o.round, rc, rerr, sizeof rerr) != 0) {
                cli_err("--round %s: %s", o.round,
                        !rc ? "out of memory" : !o.config ? "needs --config FILE" : rerr);
                free(rc);
                status = EXIT_USER;
                goto out;
            }
            free(c);
            c = rc;
        }
        struct pipeline_result r;
        char err[700];
        int prc = pipeline_run(c, !profile, o.progress, &r, err, sizeof err);
        if (prc == PIPELINE_NO_DATA) {
            /* an OMOP connection string without its password */
            char src[sizeof c->input];
            if (c->format == FORMAT_OMOP)
                omop_redact(c->input, src, sizeof src);
            else
                snprintf(src, sizeof src, "%s", c->input);
            cli_err("%s: %s", src, err);
            status = EXIT_USER;
            goto out;
        }
        if (prc != PIPELINE_OK) {
            cli_err("%s", err);
            status = EXIT_USER;
            goto out;
        }
        char ldir[1200] = "";
        if (o.ledger)
            snprintf(ldir, sizeof ldir, "%s", o.ledger);
        else if (o.round)
            snprintf(ldir, sizeof ldir, "%s/ledger", c->store_dir);
        if (ldir[0] && !profile) {
            /* the earlier releases of the period are part of what a reader knows */
            struct suppress_params sp = {.k = c->k, .dominance = c->dominance};
            char why[700];
            if (o.round)
                snprintf(r.cells->round, sizeof r.cells->round, "%s", o.round);
            int lrc = release_ledger_check(ldir, r.cells, &sp, &r.report, NULL, why, sizeof why);
            if (lrc != LEDGER_OK) {
                cli_err("%s: %s; nothing written", ledger_reason_code(lrc), why);
                pipeline_result_free(&r);
                status = lrc == LEDGER_ENOMEM ? EXIT_INTERNAL : EXIT_USER;
                goto out;
            }
            if (aggregate && release_ledger_record(ldir, r.cells, why, sizeof why) != 0) {
                cli_err("%s; nothing written", why);
                pipeline_result_free(&r);
                status = EXIT_USER;
                goto out;
            }
        }
        if (!o.quiet)
            print_summary(&r);
        status = 0;
        if (profile)
            print_profile(&r);
        if (preview)
            print_preview(&r);
        if (o.out && !profile) {
            if (cellset_write_file(r.cells, o.out) != 0) {
                cli_err("cannot write %s: %s", o.out, strerror(errno));
                status = EXIT_USER;
            } else {
                log_info("wrote %s", o.out);
            }
        }
        pipeline_result_free(&r);
    } else {
        cli_err("unknown command \"%s\"\nTry 'equity-node --help'.", o.cmd);
    }
out:
    free(c);
    return status;
}
