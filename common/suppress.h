/*
 * suppress.h - primary and complementary (secondary) cell suppression of a
 * cell set (privacy.md), used by the node before anything leaves the site
 * and by the coordinator on pooled results.
 *
 * Primary rules mark the cells that are themselves disclosive. The
 * complementary pass then withholds further cells until no linear
 * combination of the released numbers (all tables, margins, and the same
 * statistic released by several measures, with non-negativity) pins any
 * primary cell: each protected value's attainable range, computed by linear
 * programming (GLPK), must reach the protection interval of its rule.
 */
#ifndef EQ_SUPPRESS_H
#define EQ_SUPPRESS_H

#include <stdint.h>

#include "cells.h"

/*
 * Dominance protection (the p% rule's protection interval, as in tau-argus
 * and the US Census Bureau): a cost sum x whose largest contribution c is
 * more than `dominance` of x is withheld, and its attainable range from the
 * released numbers must reach x - p*c .. x + p*c, p = dominance_protection,
 * so that nobody can estimate the largest contribution to within p of its
 * value. 0 < p <= 1; 0 means the default (0.15), so that zero-initialised
 * parameters get it.
 */
struct suppress_params {
    int k;             /* threshold: counts in [1, k-1] are withheld     */
    double dominance;  /* share of the largest contributor, (0, 1]       */
    double dominance_protection; /* p, (0, 1]; 0 = default 0.15         */
    int pooled;        /* 0, or SUPPRESS_POOLED: see "Pooled mode" below */
};

enum { SUPPRESS_POOLED = 1 };

/*
 * Pooled mode (pooled = 1; the coordinator's release, coordinator/release.c)
 * reads what n_orgs and n_withheld tell every reader:
 *   - a released cell with n_withheld > 0 (partial) misses the withheld
 *     values, so it is a lower bound of the true cell, not its value;
 *   - a withheld cell with n_orgs = 0 and n_withheld = 0 (every organization
 *     released zero there) is known to be 0, and withholding it hides
 *     nothing, so it is never chosen as a complement;
 *   - a cell withheld for min_orgs (reason REASON_MIN_ORGS) is protected like
 *     a dominated cost sum by the p% rule, p = dominance_protection: for each
 *     of its channels (members, member months, denominator, numerator; not
 *     the sum of squares) with value x > 0, the attainable range must
 *     reach x - p*x .. x + p*x, so that no single organization's number is
 *     published or estimated to within p; when the cell is partial too
 *     (n_withheld > 0) the reader sees x plus an unknown part, so only the
 *     upper side is a requirement.
 *   - a requirement held by another channel's cell through an inequality is
 *     first met by opening that cell (withheld if released, given its own
 *     p% range), then by complements of its own channel.
 * coordinator/release.c also runs pooled mode on one organization's view
 * (its numbers, released where every other organization can tell them).
 * Outside pooled mode n_orgs and n_withheld are ignored.
 */

#define SUPPRESS_DEFAULT_K 11
#define SUPPRESS_DEFAULT_DOMINANCE 0.6
#define SUPPRESS_DEFAULT_DOMINANCE_PROTECTION 0.15

struct suppress_report {
    uint64_t cells[REASON__COUNT]; /* cells per reason after the pass;
                                      cells[REASON_NONE] = released       */
    uint64_t primary;              /* cells withheld by a primary rule    */
    uint64_t secondary;            /* complements chosen (cells)          */
    uint64_t requirements;         /* protected (channel, table, stratum) */
    int lp_solves;                 /* GLPK simplex calls                  */
    int unmet;                     /* requirements failing the final LP
                                      check (0 whenever 0 is returned)    */
};

enum {
    SUPPRESS_OK = 0,
    SUPPRESS_ENOMEM = -1,
    SUPPRESS_EINVAL = -2,  /* bad parameters, or a cell outside its table */
    SUPPRESS_ELP = -3      /* a requirement could not be met             */
};

/* Fills p with the defaults (k 11, dominance 0.6, protection 0.15). */
void suppress_params_init(struct suppress_params *p);

/* A message for a SUPPRESS_* code. */
const char *suppress_strerror(int err);

/* Applies primary then complementary suppression to cs, marking each cell's
 * reason in place (the numbers stay in memory; the writers blank them).
 * p may be NULL for the defaults; cs->k and cs->dominance are set from it.
 * Cells already withheld for policy, not_available, min_orgs or partial stay
 * withheld and are treated as hidden, without a requirement of their own;
 * other reasons are recomputed, so calling it twice gives the same result.
 * rep (may be NULL) receives the counts. Returns 0, or a SUPPRESS_* error;
 * on error the reasons of cs are unspecified and nothing must be released. */
int suppress_apply(struct cellset *cs, const struct suppress_params *p,
                   struct suppress_report *rep);

/*
 * Several releases of one period (a release ledger; privacy.md "Across
 * rounds"). A reader who holds earlier releases of the same period knows
 * their numbers too, and can subtract one release from another. The cell
 * set then holds several worlds, each a full set of tables of its own
 * (table_world says which table belongs to which world):
 *   SUPPRESS_WORLD_NEW        the release being decided (exactly one world):
 *                             suppressed as by suppress_apply();
 *   SUPPRESS_WORLD_EARLIER    an earlier release: true numbers, and the
 *                             reason each cell was released with. Never
 *                             changed; its released numbers are known to a
 *                             reader, and each cell withheld for a primary
 *                             reason (or, pooled, min_orgs) keeps the
 *                             requirements of that reason;
 *   SUPPRESS_WORLD_DIFFERENCE what one release added to another (late
 *                             records): its true numbers, every cell
 *                             withheld (any reason; SUPPRESS_EINVAL if one
 *                             is not) and never released; a difference
 *                             that is small is protected like a small cell
 *                             (the requirements of cell_reqs in suppress.c,
 *                             on the difference's numbers). Its numbers are
 *                             non-negative (the model says so).
 * Each world's tables add up to their own totals and margins. A link says
 * that a cell position of one world is the sum of cell positions of two
 * others (part_table -1: no such part), on every channel that all of its
 * tables carry: later = earlier + difference. Complements are chosen only
 * in the new world. In pooled mode the cells of a difference world need
 * n_orgs > 0 (else they read as known zeros).
 */
enum { SUPPRESS_WORLD_NEW, SUPPRESS_WORLD_EARLIER, SUPPRESS_WORLD_DIFFERENCE };

struct suppress_link {
    int table, stratum;                  /* the whole                    */
    int part_table[2], part_stratum[2];  /* its parts; table -1: none     */
};

struct suppress_worlds {
    int nworlds;
    const int *kind;                /* [nworlds] SUPPRESS_WORLD_*        */
    const int *table_world;         /* [cs->ntables] 0 .. nworlds-1      */
    const struct suppress_link *links;
    size_t nlinks;
};

/* suppress_apply() over several worlds (above); worlds NULL is
 * suppress_apply(). Only cells of the new world change. rep counts cells
 * of every world. SUPPRESS_EINVAL also for worlds that do not fit cs. */
int suppress_apply_worlds(struct cellset *cs, const struct suppress_params *p,
                          const struct suppress_worlds *worlds, struct suppress_report *rep);

/* The primary reason of one cell under p (REASON_NONE when releasable on
 * its own). Pure: does not look at other cells. */
cell_reason suppress_primary_reason(const struct cell *c, const struct suppress_params *p);

#endif
