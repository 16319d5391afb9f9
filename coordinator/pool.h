/*
 * pool.h - pooling of a round's submissions by plain addition (privacy.md
 * "Pooled release", first step): per (measure, stratifier, stratum) the
 * released numbers of every organization are summed, and the organizations
 * that contributed (n_orgs) and withheld (n_withheld) the cell are counted.
 *
 * No release rule is applied here (no min_orgs, no re-suppression): those
 * are layered on top of this result before an analyst sees anything.
 */
#ifndef EQ_COORD_POOL_H
#define EQ_COORD_POOL_H

#include "cells.h"

/* Sums the cells of n submissions (each one organization's decoded cell
 * set; late submissions must not be passed). A cell released by at least
 * one organization carries the sums with reason REASON_NONE, n_orgs >= 1
 * and n_withheld = the organizations that withheld it (partial when > 0).
 * A cell that every organization withheld has reason REASON_PARTIAL,
 * n_orgs = 0 and no numbers. Cells with reason not_available (the source
 * has no such data) count neither way. The result has org "pooled", the
 * given round and period, and k = the largest k of the submissions.
 * Sums are exact (int64, sum_sq 128 bits). Returns a new cell set (caller
 * owns) or NULL (no memory, n < 0, or a sum that does not fit). */
struct cellset *pool_submissions(struct cellset **subs, int n, const char *round_id,
                                 const char *period);

/* Writes a pooled cell set as a cells CSV (interfaces.md) with the two
 * pooled columns n_orgs,n_withheld appended (the format cells_read.h
 * reads). A released cell with n_withheld > 0 gets reason "partial" beside
 * its numbers. Atomic (temporary file + rename). Returns 0 or -1 (errno). */
int pool_write_csv(const struct cellset *cs, const char *path);

#endif
