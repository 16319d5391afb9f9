/*
 * catalog_def.h - the inside of a catalog (catalog.h): the measures as a
 * catalog file defines them (filters over extract columns, numerator and
 * denominator), compiled once into channels that the node's tally reads
 * straight from a member record, and the stratifiers' codes, hierarchy and
 * local code maps. Read by catalog.c, catalog_file.c and the node's tally
 * and extract reader; other code uses catalog.h only.
 */
#ifndef EQ_CATALOG_DEF_H
#define EQ_CATALOG_DEF_H

#include <stdint.h>

#include "catalog.h"

/* Columns a catalog may name: the extract's (extract.md, in its order:
 * the same ids as node/extract.h's COL_*), then extra 0/1 flag columns
 * that a catalog names (HEDIS-style member-level numerator and denominator
 * flags). Column ids fit a 64-bit mask. */
enum cat_coltype {
    CT_TEXT,   /* member_id, period: never in a definition          */
    CT_INT,    /* age, adi_decile: whole numbers, unknown = fails    */
    CT_CODE,   /* sex, race, ...: = or != a standard code            */
    CT_MONTHS, /* member_months                                      */
    CT_COUNT,  /* counts of events                                   */
    CT_FLAG,   /* 0/1                                                */
    CT_COST,   /* cents                                              */
    CT_SCORE   /* experience score, hundredths 0..1000, may be absent */
};
#define CATALOG_N_BASE_COLS 33
#define CATALOG_MAX_FLAGS 24
#define CATALOG_MAX_COLS (CATALOG_N_BASE_COLS + CATALOG_MAX_FLAGS)

struct cat_column {
    const char *name;
    int type;            /* CT_*                                              */
    int64_t max;         /* most one member has (0: no bound)                 */
    int le;              /* a column this one never exceeds (-1: none)        */
    const char *const *codes; /* CT_CODE: the standard codes                  */
    int ncodes;
};
extern const struct cat_column catalog_base_columns[CATALOG_N_BASE_COLS];

/* A sum of columns (sorted, distinct). */
#define CAT_EXPR_MAX 6
struct cat_expr {
    uint8_t n;
    uint8_t col[CAT_EXPR_MAX];
};

/* One condition: expr op v; CAT_PRESENT: the (score) column has a value. */
enum { CAT_GE, CAT_LT, CAT_EQ, CAT_NE, CAT_PRESENT };
struct cat_atom {
    struct cat_expr e;
    uint8_t op;
    int64_t v;
};

/* A conjunction of conditions in canonical order (n = 0: every member). */
#define CAT_FILTER_MAX 6
struct cat_filter {
    uint8_t n;
    struct cat_atom a[CAT_FILTER_MAX];
};

/* A per-member value: 1 (members; with `where`: members for whom `where`
 * holds), member months, a sum of columns, or the square of one column. */
enum { CV_NONE = -1, CV_ONE, CV_MONTHS, CV_SUM, CV_SQ };
struct cat_value {
    int8_t kind;
    struct cat_expr e;
    struct cat_filter where;
};

/* One channel: the value summed over the members a population filter
 * keeps (the filter of the first measure that carries it). */
struct cat_channel {
    int filter;          /* index in catalog.filters                          */
    struct cat_value v;
    int owner;           /* the only measure carrying it, or -1               */
    int wide;            /* a square of costs: a 128-bit sum                  */
    int maxc;            /* keep the largest single value (pmpm numerators)   */
    int big;             /* a cost sum: checked for int64 overflow            */
};

/* A measure as the file defines it. */
struct cat_src {
    int filter;          /* its eligible population, index in filters         */
    struct cat_value num, den, sq;
    uint64_t filter_cols; /* columns its population reads                     */
    uint64_t value_cols;  /* columns its numbers read                         */
};

/* A stratifier as the file describes it (the tally computes the built-in
 * ones; the file fixes their codes, hierarchy and local code maps). */
#define CAT_MAX_CODES 64
#define CAT_MAX_MAPS 128
struct cat_strat {
    int defined;
    char column[48];     /* extract column, or "" for a derived one           */
    char derived[96];    /* how a derived stratifier is computed (text)       */
    char label[96];
    int open;            /* open code list (language, county, age_band)       */
    int ncodes;
    char code[CAT_MAX_CODES][24];
    int parent[CAT_MAX_CODES]; /* index of the parent code, -1: a root        */
    int nmaps;
    char map_from[CAT_MAX_MAPS][48];
    char map_to[CAT_MAX_MAPS][24];
};

struct catalog {
    char name[64];
    char version[32];
    char sha256[65];
    char path[1024];
    int builtin;
    int n_measures;
    struct measure_def m[CATALOG_MAX_MEASURES];
    int n_channels;
    /* File catalogs only. */
    struct cat_src src[CATALOG_MAX_MEASURES];
    int n_filters;
    struct cat_filter filters[CATALOG_MAX_MEASURES];
    struct cat_channel ch[CATALOG_MAX_CHANNELS];
    int n_flags;
    char flag_name[CATALOG_MAX_FLAGS][48];
    /* Measures a member can be left out of alone (every channel its own). */
    uint32_t leave_out;
    int any_of[CATALOG_MAX_MEASURES][CAT_EXPR_MAX + 1];
    char s_name[CATALOG_MAX_MEASURES][48];
    char s_label[CATALOG_MAX_MEASURES][128];
    char s_unit[CATALOG_MAX_MEASURES][48];
    char s_pop[CATALOG_MAX_MEASURES][200];
    struct cat_strat strat[S__COUNT];
};

/* Column id of a catalog column name (base or one of c's flags), or -1. */
int catalog_column_find(const struct catalog *c, const char *name);
/* Name of column id col of c. */
const char *catalog_column_name(const struct catalog *c, int col);

#endif
