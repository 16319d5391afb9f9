/*
 * cells.h - a set of equity cells: the tables released for one organization
 * (node) or one pooled round (coordinator), and their numbers.
 *
 * A table is one grouping: the overall total (0 dimensions), a one-way
 * stratifier such as "race", a two-way intersection such as
 * "race*disability", or a three-way one such as "race*disability*cmc".
 * Each table has, per dimension, a list of stratum
 * labels; a cell is one (measure, table, stratum) with the sufficient
 * statistics of measures.md. Suppression marks cells withheld in place.
 */
#ifndef EQ_CELLS_H
#define EQ_CELLS_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"

typedef enum {
    REASON_NONE,          /* released                                         */
    REASON_COUNT,         /* primary: a count in [1, k-1]                     */
    REASON_COMPLEMENT,    /* primary: denominator - numerator in [1, k-1]     */
    REASON_DENOMINATOR,   /* primary: rate, mean or cost with members < k     */
    REASON_DOMINANCE,     /* primary: one member > dominance share of the sum */
    REASON_SECONDARY,     /* complementary suppression                        */
    REASON_POLICY,        /* the node's policy withholds it                   */
    REASON_MIN_ORGS,      /* pooled: fewer than min_orgs contributed          */
    REASON_PARTIAL,       /* pooled: withheld because an organization withheld */
    REASON_NOT_AVAILABLE, /* the source has no data for this measure          */
    REASON__COUNT
} cell_reason;

const char *cell_reason_name(cell_reason r);
/* Reason for a name, or -1. */
int cell_reason_find(const char *name);

/*
 * Numbers are exact integers in fixed units (interfaces.md, "Units"), so
 * that sums are associative (any thread count gives the same cells) and
 * print exactly:
 *   members                      count
 *   member_months                1/CELL_MONTHS_SCALE month
 *   denominator, numerator       the unit of their channel (cell_field_scale):
 *                                counts as is, member months as above, cost
 *                                in cents, experience scores in hundredths
 *   sum_sq                       the square of the numerator's unit (cents^2)
 * Statistics convert to double with cell_value() at the point of use.
 */
#define CELL_MONTHS_SCALE 10000   /* member months: 4 decimals             */
#define CELL_MONTHS_DECIMALS 4
#define CELL_CENTS 100            /* cost: whole cents                     */
#define CELL_SCORE_SCALE 100      /* experience scores: 2 decimals         */

typedef __int128 cell_i128;

struct cell {
    int measure;          /* measure_id                                       */
    int table;            /* index in cellset.tables                          */
    int stratum;          /* row-major index: a * card[1] + b for two-way,
                             (a * card[1] + b) * card[2] + c for three-way    */
    int64_t members;
    int64_t member_months;
    int64_t denominator;
    int64_t numerator;
    cell_i128 sum_sq;
    int64_t max_contrib;  /* never leaves the node (numerator's unit)         */
    cell_reason reason;   /* REASON_NONE when released                        */
    int n_orgs;           /* pooled: organizations that contributed          */
    int n_withheld;       /* pooled: organizations that withheld this cell    */
};

/* Fields of a cell, for the unit helpers below. */
enum { CELL_F_MEMBERS, CELL_F_MONTHS, CELL_F_DEN, CELL_F_NUM, CELL_F_SQ, CELL_F__COUNT };

/* A field of c in its integer unit, and setting it (members, months,
 * denominator and numerator are int64: v must fit). */
cell_i128 cell_field(const struct cell *c, int field);
void cell_field_set(struct cell *c, int field, cell_i128 v);
/* The channel (catalog.h) that a field of measure d carries, or -1. */
int cell_field_channel(const struct measure_def *d, int field);

/* Decimal places of a field of `measure` in its integer unit: 0 for counts,
 * CELL_MONTHS_DECIMALS for member months, 2 for cents and score
 * hundredths, 4 for their squares. The scale is 10^decimals. */
int cell_field_decimals(int measure, int field);
/* The field in natural units (months, USD, score points, USD^2) as a
 * double, for statistics. */
double cell_value(const struct cell *c, int field);

/* The five numbers of c (members, member months, denominator, numerator,
 * sum of squares) as the exact decimal text every cells file carries:
 * whole cents with two decimals, other scaled values with trailing zeros
 * left out. No double on the way. */
#define CELL_FIELD_TEXT 48
void cell_format_fields(const struct cell *c, char out[5][CELL_FIELD_TEXT]);

#define CELLS_MAX_DIM 3
/* Most strata one table may have (a three-way table of large code lists
 * would not fit an int stratum index otherwise). */
#define CELLS_MAX_STRATA (1 << 24)

struct cell_table {
    char name[64];              /* "total", "race", "race*disability",
                                   "race*disability*cmc"                      */
    int ndim;                   /* 0, 1, 2 or 3                               */
    int dim[CELLS_MAX_DIM];     /* stratifier ids                             */
    int card[CELLS_MAX_DIM];    /* strata per dimension                       */
    char **labels[CELLS_MAX_DIM];
    int nstrata;                /* product of card (1 for total)              */
};

struct cellset {
    char org[128];
    char round[64];
    char period[32];
    int k;
    double dominance;
    struct cell_table *tables;
    int ntables;
    struct cell *cells;         /* kept ordered by (measure, table, stratum)  */
    size_t ncells;
    size_t cap;
};

struct cellset *cellset_new(void);
void cellset_destroy(struct cellset **cs);

/* A deep copy of src (tables, labels and cells in the same order, so cell i
 * of the copy is cell i of src), or NULL (no memory). */
struct cellset *cellset_copy(const struct cellset *src);

/* Adds a table; labels are copied. Returns its index, or -1 (no memory, a
 * stratifier name that is not in the catalog, a stratifier twice, or more
 * than CELLS_MAX_STRATA strata). For ndim 0 pass NULLs. */
int cellset_add_table(struct cellset *cs, int ndim, const int *dims,
                      const int *cards, const char *const *const *labels);

/* The stratum index of table t for label indices idx[0 .. ndim-1]
 * (row-major), and back: the label index of each dimension of stratum s
 * (idx has CELLS_MAX_DIM entries; unused ones are set to 0). */
int cell_table_stratum(const struct cell_table *t, const int *idx);
void cell_table_coords(const struct cell_table *t, int s, int *idx);

/* Finds a table by name ("race*disability"); -1 when absent. */
int cellset_find_table(const struct cellset *cs, const char *name);

/* Appends a cell (copied); returns a pointer to it or NULL on no memory.
 * Call cellset_sort() after appending out of order. */
struct cell *cellset_append(struct cellset *cs, const struct cell *c);
void cellset_sort(struct cellset *cs);

/* The cell of (measure, table, stratum), or NULL. Requires sorted cells. */
struct cell *cellset_get(const struct cellset *cs, int measure, int table, int stratum);

/* Writes "BLACK*Y" (or "all") for a cell's stratum into buf. */
void cellset_stratum_label(const struct cellset *cs, const struct cell *c,
                           char *buf, size_t len);

/* Coarsening instead of blanking (docs/catalog.md): when c is withheld in
 * a table with a race_detail or race_group dimension and a parent of its
 * stratum in the hierarchy is released for the same measure (race_detail
 * -> race_group -> race, or ethnicity HISPANIC, the other dimension kept),
 * writes the nearest one as "TABLE:STRATUM" ("race_group:EAST_ASIAN") into
 * buf and returns 1; else returns 0. cs must be sorted. The cells CSV adds
 * it to the reason: "count;coarsened_to=race_group:EAST_ASIAN". */
int cellset_coarsened_to(const struct cellset *cs, const struct cell *c, char *buf, size_t len);

/* Counts of withheld cells per reason. */
void cellset_count_reasons(const struct cellset *cs, uint64_t counts[REASON__COUNT]);

/* Building a cell set from rows labelled by strings (a decoded submission,
 * a cells CSV). Tables and labels are created in first-seen order. */
struct cellset_builder;
struct cellset_builder *cellset_builder_new(void);
/* Adds one row. `values` gives the numbers and reason (measure, table and
 * stratum fields are ignored). Fails (-1, message in err) on an unknown
 * measure or stratifier, a stratum with the wrong number of parts, or a
 * repeated (measure, stratifier, stratum). */
int cellset_builder_add(struct cellset_builder *b, const char *measure,
                        const char *stratifier, const char *stratum,
                        const struct cell *values, char *err, size_t errlen);
/* Returns the finished, sorted cell set (caller owns it) or NULL on no
 * memory; the builder is destroyed either way. */
struct cellset *cellset_builder_finish(struct cellset_builder **b);
void cellset_builder_destroy(struct cellset_builder **b);

/* Output: CSV of interfaces.md, JSON (same fields), protobuf submission.
 * Each writes to a temporary file beside `path` and renames it into place,
 * so a crash never leaves a partial file. Return 0 or -1 with errno set. */
int cellset_write_csv(const struct cellset *cs, const char *path);
int cellset_write_json(const struct cellset *cs, const char *path);
/* Pooled results: the same CSV with two more columns, n_orgs,n_withheld,
 * and reason "partial" on a released cell that some organization withheld. */
int cellset_write_pooled_csv(const struct cellset *cs, const char *path);
/* Formats the integer v scaled by 10^decimals as an exact decimal:
 * 537888029830 with 2 decimals is "5378880298.30". With trim, trailing
 * zeros of the fraction (and a bare point) are left out: "12", "11.5".
 * buf must hold 48 bytes. */
void cells_format_scaled(char *buf, size_t len, cell_i128 v, int decimals, int trim);
/* Parses an exact decimal ("12", "11.5", "-0.25") into an integer scaled by
 * 10^decimals. More fraction digits than `decimals` are refused (-2), or,
 * with round_excess, rounded half away from zero. Returns 0, -1 (not a
 * number), -2 (too many decimals) or -3 (magnitude of 10^36 or more; the
 * caller checks its own range). No exponent, no locale. */
int cells_parse_scaled(const char *s, size_t len, int decimals, int round_excess,
                       cell_i128 *out);
/* Chooses the format from the extension (.csv, .json, .pb); -2 on an
 * unknown extension. */
int cellset_write_file(const struct cellset *cs, const char *path);

#endif
