/*
 * cells_read.h - read a cells CSV (interfaces.md) back into cell sets.
 *
 * This is the inverse of cellset_write_csv(): the coordinator's `metrics`
 * command and the analysts' tools use it to recompute published figures
 * from released cells. The file is untrusted input: every field is checked
 * and the first error is reported as "file:line:column: message 'value'",
 * where column is the 1-based CSV field number.
 *
 * Header, in this order:
 *   org,round,measure,stratifier,stratum,members,member_months,denominator,
 *   numerator,sum_sq,suppressed,reason
 * optionally followed by the two pooled-result columns n_orgs,n_withheld,
 * and then optionally by `period` (as equity-query writes pooled cells; one
 * period per organization, stored in cellset.period).
 *
 * A file may hold several organizations (one cellset each, in order of first
 * appearance); every returned cellset has the same tables, in the same order
 * with the same labels (the union over the file), so cells of different
 * organizations with the same (measure, table, stratum) line up. A file
 * holds one round per organization. A suppressed row (suppressed = 1) must
 * leave every number empty and give a known reason; a released row
 * (suppressed = 0) must give members, member_months, denominator and
 * numerator (sum_sq may be empty: 0) and an empty reason, or `partial` for
 * a pooled cell that some organization withheld (n_withheld is then at
 * least 1). n_orgs = 0 means "not stated".
 */
#ifndef EQ_CELLS_READ_H
#define EQ_CELLS_READ_H

#include <stddef.h>

#include "cells.h"

enum {
    CELLS_READ_OK = 0,
    CELLS_READ_EINPUT = -1,  /* the file's content is wrong (message says where) */
    CELLS_READ_ESYS = -2     /* cannot open/read the file, or out of memory      */
};

/* Reads the CSV file at `path`. On success returns 0 and stores in *sets a
 * new array of *nsets new cellsets (caller frees both with
 * cells_read_free()). On failure returns CELLS_READ_EINPUT or
 * CELLS_READ_ESYS, leaves *sets NULL and *nsets 0, and writes a message for
 * people into err (always NUL-terminated when errlen > 0). */
int cells_read_csv(const char *path, struct cellset ***sets, int *nsets,
                   char *err, size_t errlen);

/* Same as cells_read_csv() for a buffer in memory; `name` is used in
 * messages in place of a file name. The buffer need not be NUL-terminated. */
int cells_read_buffer(const char *name, const char *buf, size_t len,
                      struct cellset ***sets, int *nsets, char *err, size_t errlen);

/* Frees an array returned by cells_read_*() and its cellsets; sets *sets to
 * NULL. Safe on NULL. */
void cells_read_free(struct cellset ***sets, int nsets);

#endif
