/*
 * commands.h - the subcommands of equity-coordinator; main.c dispatches to
 * them. Each returns the process exit status (interfaces.md: 0 success,
 * 1 user error, 2 usage error, other values internal failure).
 */
#ifndef EQ_COORD_COMMANDS_H
#define EQ_COORD_COMMANDS_H

int coord_cmd_metrics(int argc, char **argv);
/* report_cli.c */
int coord_cmd_report(int argc, char **argv);
/* cmd_service.c */
int coord_cmd_check_config(int argc, char **argv);
int coord_cmd_run(int argc, char **argv);
int coord_cmd_round(int argc, char **argv);
int coord_cmd_audit(int argc, char **argv);

#endif
