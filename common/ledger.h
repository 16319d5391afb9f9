/*
 * ledger.h - suppression of a release against the earlier releases of the
 * same period (privacy.md, "Across rounds"; docs/design.md, "The release
 * ledger").
 *
 * A reader who kept an earlier release of the period knows its numbers,
 * and can subtract it from the new one: a withheld cell of either could be
 * narrowed, and a small difference (a few late records) shows those
 * members' strata. ledger_suppress() builds one model holding the new
 * release, every earlier one (as released: fixed) and the difference
 * between each pair of releases (later = earlier + difference, each
 * difference a world of non-negative numbers), and lets suppress.c choose
 * further complements in the new release only, until every requirement of
 * every world holds. Used by the node (node/release_ledger.c keeps the
 * releases on site) and by the coordinator for pooled releases.
 */
#ifndef EQ_LEDGER_H
#define EQ_LEDGER_H

#include <stddef.h>

#include "cells.h"
#include "suppress.h"

/* Earlier releases kept in one joint solve; with more, the release is
 * refused (LEDGER_ELIMIT): every pair of releases is a world of the model,
 * so its size grows with the square of this. */
#define LEDGER_MAX_EARLIER 5

enum {
    LEDGER_OK = 0,
    LEDGER_ENOMEM = -1,
    LEDGER_EINVAL = -2,     /* bad arguments or cell sets                    */
    LEDGER_ECHANGED = -3,   /* a later release has less somewhere than an
                               earlier one: not the earlier data plus late
                               records, so differences cannot be protected   */
    LEDGER_EPROTECT = -4,   /* complementary suppression cannot protect
                               every cell and difference of the releases     */
    LEDGER_ELIMIT = -5,     /* more than LEDGER_MAX_EARLIER earlier releases */
    LEDGER_ENEWTABLE = -6   /* a table an earlier release of the period did
                               not have: the ledger holds no earlier true
                               numbers for it, so the differences it would
                               show cannot be modelled (refused, fail
                               closed; tests/audit/FINDINGS.md)             */
};

/* A message, and the reason code a refusal carries ("ledger_changed",
 * "ledger_differencing", "ledger_limit", "ledger_new_table"; "ledger_error"
 * otherwise). */
const char *ledger_strerror(int rc);
const char *ledger_reason_code(int rc);

/* Suppresses cs (true numbers of the new release; its reasons are
 * recomputed as by suppress_apply) against earlier[0..nearlier-1], oldest
 * first, each with its true numbers and the reasons it was released with
 * (cells of tables it did not release are simply absent). A new release
 * identical to an earlier one (same cells, numbers and reasons after
 * suppress_apply alone) is that release again and passes as it is.
 * Otherwise only cells of cs are withheld further, never an earlier
 * release's. rep (may be NULL) receives the counts of cs. On any error the
 * reasons of cs are unspecified and nothing must be released; why (may be
 * NULL) says why in words that name tables and strata, never a number.
 * In pooled mode (p->pooled) the numbers are sums of released cells: a
 * partial sum may shrink between releases (an organization withheld more),
 * so a difference below zero counts as zero there instead of
 * LEDGER_ECHANGED. */
int ledger_suppress(struct cellset *cs, struct cellset *const *earlier, int nearlier,
                    const struct suppress_params *p, struct suppress_report *rep, char *why,
                    size_t whylen);

#endif
