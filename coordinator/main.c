/*
 * main.c - entry point of equity-coordinator: global options and the
 * table of subcommands (interfaces.md). Each subcommand lives in its own
 * module and is declared in commands.h; to add one, add a line to
 * `commands` below.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "log.h"
#include "version.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
    const char *summary;
};

/* The subcommands, in the order --help lists them. */
static const struct command commands[] = {
    {"run", coord_cmd_run, "run the coordinator service (--config coordinator.ini)"},
    {"round", coord_cmd_round, "open, inspect or close a reporting round"},
    {"check-config", coord_cmd_check_config, "validate the configuration, keys and certificates"},
    {"audit", coord_cmd_audit, "verify the hash-chained audit log"},
    {"metrics", coord_cmd_metrics, "compute the metrics of a cells CSV (metrics.md)"},
    {"report", coord_cmd_report, "write a released round's HTML report (report.html)"},
};

static void usage(FILE *f)
{
    fputs("usage: equity-coordinator [--help] [--version] COMMAND [OPTIONS]\n\n"
          "The governmental partner's program of the health-equity federation.\n\n"
          "Commands:\n", f);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fputs("\n'equity-coordinator COMMAND --help' describes a command's options.\n"
          "Exit status: 0 success, 1 user error, 2 usage error, other internal failure.\n", f);
}

int main(int argc, char **argv)
{
    log_init("equity-coordinator", LOG_LVL_INFO);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("equity-coordinator %s\n", EQ_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    log_error("unknown command '%s'", cmd);
    usage(stderr);
    return 2;
}
