/*
 * release.h - the release rules of a pooled round (privacy.md "Pooled
 * release"), applied on top of plain pooling (pool.h) before an analyst
 * sees anything, and the result files of a released round.
 *
 *  1. Pool the non-late submissions by addition (never averages).
 *     n_orgs of a cell = organizations whose released cell has members > 0;
 *     n_withheld = organizations that withheld it. A released pooled cell
 *     with n_withheld > 0 stays released, flagged partial.
 *  2. Primary rules again on the pooled numbers (a no-op for honest nodes:
 *     sums of releasable cells are releasable).
 *  3. min_orgs: a released cell with 0 < n_orgs < min_orgs is withheld
 *     (REASON_MIN_ORGS) unless the round allows single-organization cells.
 *  4. Complementary protection (suppress.c in pooled mode, suppress.h): the
 *     primary rules again on the pooled numbers (a partial cell is only a
 *     lower bound, a withheld cell that every organization released as zero
 *     is known), then one view per organization that contributed to a
 *     min_orgs cell: its own numbers as all other organizations together
 *     know them (release.c explains), where its part of each min_orgs cell
 *     must not be estimable to within p (the p% rule, p = 0.15). Complements
 *     chosen in any view are withheld (REASON_SECONDARY). If some
 *     requirement cannot be met, every pooled cell is withheld.
 * Numbers of withheld cells are zeroed in memory, so that nothing computed
 * from a released cell set can use them.
 */
#ifndef EQ_COORD_RELEASE_H
#define EQ_COORD_RELEASE_H

#include <stddef.h>

#include "cells.h"

struct release_params {
    int min_orgs;          /* organizations needed behind a cell (>= 1)     */
    int allow_single_org;  /* terms allow single-organization cells         */
};

struct release_report {
    int submissions;       /* cell sets pooled                               */
    size_t cells;          /* pooled cells                                   */
    size_t released;       /* released (reason none), partial included       */
    size_t partial;        /* released with n_withheld > 0                   */
    size_t primary;        /* withheld by a primary rule on pooled numbers   */
    size_t min_orgs;       /* withheld: 0 < n_orgs < min_orgs                */
    size_t secondary;      /* withheld as complements                        */
    size_t all_withheld;   /* every organization withheld it                 */
};

/* Pools n submissions (not late; each an organization's decoded cell set)
 * and applies the release rules (see above). Returns the released cell
 * set (org "pooled"; caller owns) or NULL (no memory). rep may be NULL. */
struct cellset *release_pool(struct cellset **subs, int n, const char *round_id,
                             const char *period, const struct release_params *p,
                             struct release_report *rep);

/* Steps 2-4 on cs, the pool of the n submissions subs (whose n_orgs
 * already counts the organizations with members > 0). Cells already
 * withheld stay withheld (their numbers are zeroed). Returns 0 or -1 (bad
 * p, no memory). */
int release_apply(struct cellset *pooled, struct cellset **subs, int n,
                  const struct release_params *p, struct release_report *rep);

/* The release ledger of pooled releases (common/release_ledger.h,
 * docs/coordinator.md): checks `pooled` (as release_pool left it, the
 * pool of the n submissions subs) together with the earlier pooled
 * releases of its period kept in ledger_dir, withholding further pooled
 * cells (REASON_SECONDARY, numbers zeroed; *added counts them, rep is
 * updated) where an earlier withheld cell or a small difference needs it,
 * or, with no earlier release (*n_earlier = 0), where the model of the
 * pooled release alone needs it,
 * and records the release there. Returns 0; a LEDGER_* code (< 0) when
 * the release cannot be protected or checked (why says why: then nothing
 * of it may be released); or RELEASE_LEDGER_ERECORD when it cannot be
 * recorded (nothing may be released either). */
#define RELEASE_LEDGER_ERECORD (-100)
int release_ledger(struct cellset *pooled, struct cellset **subs, int n, const char *ledger_dir,
                   size_t *added, int *n_earlier, struct release_report *rep, char *why,
                   size_t whylen);

/* Withholds every released cell of pooled (REASON_SECONDARY, numbers
 * zeroed) and updates rep. */
void release_withhold_all(struct cellset *pooled, struct release_report *rep);

/* SHA-256 (hex) of the files written by release_write_results. */
struct release_files {
    char pooled_csv[1300], pooled_json[1300], metrics_csv[1300];
    char sha_pooled_csv[65], sha_pooled_json[65], sha_metrics_csv[65];
};

/* Writes into dir (which must exist): pooled.csv (cells CSV with the
 * n_orgs,n_withheld columns), pooled.json (the same rows as a JSON array of
 * objects, csvtext.h) and metrics.csv (metrics_compute and
 * metrics_compute_quality with the defaults of metrics.md, reference best,
 * on the cells as read back from pooled.csv: exactly what
 * `equity-coordinator metrics --cells pooled.csv` writes). Each file is
 * replaced atomically. Returns 0, or -1 with a message in err. */
int release_write_results(const struct cellset *released, const char *dir,
                          struct release_files *files, char *err, size_t errlen);

/* Reads a whole file into a NUL-terminated buffer (caller frees); NULL on
 * failure (errno set). */
char *release_read_file(const char *path, size_t *len);

#endif
