/*
 * report.h - the organization's own report of a round (`equity-node
 * report`), written on site and never sent anywhere: exactly what left the
 * site (the kept submission: its file, SHA-256 and every cell), what this
 * node withheld and why, and, given the federation's pooled release
 * (pooled.csv, as the coordinator published it), a spine chart of where the
 * organization sits among the federation's groups and its figures next to
 * the pooled ones. One self-contained HTML file (common/html.h).
 */
#ifndef EQ_NODE_REPORT_H
#define EQ_NODE_REPORT_H

#include <stddef.h>

#include "node_config.h"

/* Writes the report of round_id from the node's store (c->store_dir) to
 * out_path, or to <store>/<round>.report.html when NULL; pooled_path (may
 * be NULL) is the federation's pooled.csv of that round. path receives the
 * file written. Returns 0; -1 for a user error (no submission kept for
 * that round, an unreadable or other round's pooled file; message in err);
 * -2 for an internal failure. */
int node_report_write(const struct node_config *c, const char *round_id, const char *pooled_path,
                      const char *out_path, char *path, size_t pathlen, char *err,
                      size_t errlen);

#endif
