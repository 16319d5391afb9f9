/*
 * lp_audit.h - an independent linear-programming audit of a suppressed
 * cell set, for tests.
 *
 * It does not use suppress.c. The attacker's unknowns are the counts (or
 * sums) of the finest "atoms" the test defines: every combination of the
 * base attributes the cell set's tables are built from (e.g. race x
 * ethnicity x age group). Each released number of a channel is one equation
 * over the atoms that fall in its stratum; atoms are >= 0. For every value
 * that privacy.md protects it minimises and maximises the value's atom sum
 * with GLPK and checks the protection interval.
 */
#ifndef EQ_LP_AUDIT_H
#define EQ_LP_AUDIT_H

#include "cells.h"

#define LPA_MAX_ATTR 4

struct lpa_space {
    int nattr;
    int card[LPA_MAX_ATTR];  /* domain size of each base attribute       */
    /* Stratum of table `table` holding the atom (one value per attribute). */
    int (*stratum_of)(void *ctx, const struct cellset *cs, int table, const int *atom);
    void *ctx;
};

struct lpa_result {
    int requirements;   /* protected values checked                        */
    int violations;     /* protected values whose range is too narrow, plus
                           cells whose primary status is wrong             */
    int lp_solves;
    char first[256];    /* the first violation, for the test's message      */
};

/* Audits cs (after suppression) under threshold k, dominance share and
 * dominance protection p (the p% rule: a dominated cost sum x with largest
 * contribution c must range over at least x - p*c .. x + p*c).
 * Returns 0 (see res), or -1 when out of memory. */
int lpa_audit(const struct cellset *cs, const struct lpa_space *sp, int k, double dominance,
              double protection, struct lpa_result *res);

/* The attainable range of channel `channel` in (table, stratum) given what
 * cs releases. Returns 0, or -1 (out of memory, or the released numbers are
 * inconsistent). */
int lpa_range(const struct cellset *cs, const struct lpa_space *sp, int channel, int table,
              int stratum, double *lo, double *hi);

#endif
