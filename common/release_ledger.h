/*
 * release_ledger.h - a ledger of releases kept in a folder (docs/node.md
 * and docs/coordinator.md, "The release ledger"; common/ledger.h).
 *
 * Before a release leaves (a node's submission, a file written by
 * `aggregate --ledger DIR`, a pooled release at round close), it is
 * checked together with every earlier release of the same period kept
 * here, then recorded here. The node service keeps its ledger in
 * <[store] dir>/ledger, the coordinator in <results dir>/.ledger. Each
 * release is two files,
 * written whole with mode 0600 in a folder of mode 0700:
 *
 *   <period>.<seq>.truth.csv    every cell with its true numbers, withheld
 *                               ones too: site-confidential like the input
 *                               itself, never sent
 *   <period>.<seq>.release.csv  the cells as released (withheld cells
 *                               without numbers, with their reason)
 *
 * seq is six digits, one more than the highest of the period (the truth
 * file is written first; an entry counts once its release file exists).
 * A period must be [A-Za-z0-9_-], at most 31 characters.
 */
#ifndef EQ_RELEASE_LEDGER_H
#define EQ_RELEASE_LEDGER_H

#include <stddef.h>

#include "cells.h"
#include "ledger.h"
#include "suppress.h"

/* Suppresses cs (its true numbers; cs->period and, for a round, cs->round
 * set) with ledger_suppress() against the releases of cs->period kept in
 * dir. An entry of the same round (a computation of this round that was
 * never sent, since a stored submission is resent rather than recomputed)
 * is not an earlier release. A missing dir holds no release. With no
 * earlier release, cs is still solved alone by the same model. *n_earlier
 * (when not NULL) is set to the number of earlier releases it was solved
 * with. Returns a LEDGER_* code; why names the cause (no numbers). */
int release_ledger_check(const char *dir, struct cellset *cs, const struct suppress_params *p,
                         struct suppress_report *rep, int *n_earlier, char *why, size_t whylen);

/* Records cs (after release_ledger_check) as released: creates dir (0700)
 * when missing and replaces an entry of the same round. Returns 0, or -1
 * with a message: then nothing may be released. */
int release_ledger_record(const char *dir, const struct cellset *cs, char *err, size_t errlen);

/* The same for a pooled release: both files carry n_orgs and n_withheld
 * (what a reader knows of partial cells). */
int release_ledger_record_pooled(const char *dir, const struct cellset *cs, char *err,
                                 size_t errlen);

#endif
