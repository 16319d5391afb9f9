/*
 * cells_read.c - parse a cells CSV (interfaces.md) into cellsets.
 *
 * Two passes: libcsv splits the bytes into rows, each row is checked and
 * kept (parse_row); then the tables are built from the union of the strata
 * seen in the whole file and the cells are appended to one cellset per
 * organization (build_sets). The buffer is fed to libcsv one physical line
 * at a time so that messages can name the line a row starts on.
 */
#include "cells_read.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { COL_ORG, COL_ROUND, COL_MEASURE, COL_STRATIFIER, COL_STRATUM, COL_MEMBERS,
       COL_MONTHS, COL_DENOMINATOR, COL_NUMERATOR, COL_SUM_SQ, COL_SUPPRESSED,
       COL_REASON, COL_N_ORGS, COL_N_WITHHELD, COL_PERIOD, NCOLS_MAX };
#define NCOLS_BASE 12
#define NCOLS_POOLED 14

static const char *const col_names[NCOLS_MAX] = {
    "org", "round", "measure", "stratifier", "stratum", "members", "member_months",
    "denominator", "numerator", "sum_sq", "suppressed", "reason", "n_orgs", "n_withheld",
    "period"};

#define MAX_FIELD 1024

struct row {
    long line;
    char *org, *round, *table, *stratum, *period;
    int measure;
    struct cell c;
};

struct ctx {
    const char *name;
    char *err;
    size_t errlen;
    int failed;            /* 0, CELLS_READ_EINPUT or CELLS_READ_ESYS */
    long line;             /* physical line being fed */
    long row_line;         /* line the current row started on */
    int ncols;             /* columns of the header (0 before it) */
    int nfields;           /* fields seen in the current row */
    char *f[NCOLS_MAX];    /* the current row's fields */
    struct row *rows;
    size_t nrows, caprows;
};

static void fail(struct ctx *x, int code, long line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void fail(struct ctx *x, int code, long line, int col, const char *fmt, ...)
{
    if (x->failed)
        return;
    x->failed = code;
    if (!x->err || x->errlen == 0)
        return;
    int n;
    if (col > 0)
        n = snprintf(x->err, x->errlen, "%s:%ld:%d: ", x->name, line, col);
    else
        n = snprintf(x->err, x->errlen, "%s:%ld: ", x->name, line);
    if (n < 0 || (size_t)n >= x->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->err + n, x->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static void clear_fields(struct ctx *x)
{
    for (int i = 0; i < NCOLS_MAX; i++) {
        free(x->f[i]);
        x->f[i] = NULL;
    }
    x->nfields = 0;
}

static void on_field(void *s, size_t len, void *data)
{
    struct ctx *x = data;
    if (x->failed)
        return;
    if (x->nfields == 0)
        x->row_line = x->line;
    if (x->nfields < NCOLS_MAX) {
        if (len > MAX_FIELD) {
            fail(x, CELLS_READ_EINPUT, x->row_line, x->nfields + 1,
                 "field longer than %d bytes", MAX_FIELD);
            return;
        }
        char *v = malloc(len + 1);
        if (!v) {
            fail(x, CELLS_READ_ESYS, x->row_line, 0, "out of memory");
            return;
        }
        if (len)
            memcpy(v, s, len);
        v[len] = '\0';
        x->f[x->nfields] = v;
    }
    x->nfields++;
}

/* Parses a number field: a non-negative exact decimal with at most
 * `decimals` decimals (cells.h units), as an integer in those units; an
 * int64 unless wide (sum_sq: 127 bits). */
static int parse_num(struct ctx *x, int col, int decimals, int wide, cell_i128 *out)
{
    const char *s = x->f[col];
    cell_i128 v = 0;
    int rc = cells_parse_scaled(s, strlen(s), decimals, 0, &v);
    if (rc == -2) {
        fail(x, CELLS_READ_EINPUT, x->row_line, col + 1,
             "%s: more than %d decimals in '%s'", col_names[col], decimals, s);
        return -1;
    }
    if (rc < 0 || v < 0 || (!wide && v > INT64_MAX)) {
        fail(x, CELLS_READ_EINPUT, x->row_line, col + 1,
             "%s: expected a non-negative number, found '%s'", col_names[col], s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_int(struct ctx *x, int col, int *out)
{
    const char *s = x->f[col];
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE || v < 0 || v > 1000000) {
        fail(x, CELLS_READ_EINPUT, x->row_line, col + 1,
             "%s: expected a count of organizations, found '%s'", col_names[col], s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static void check_header(struct ctx *x)
{
    if (x->nfields != NCOLS_BASE && x->nfields != NCOLS_POOLED && x->nfields != NCOLS_MAX) {
        fail(x, CELLS_READ_EINPUT, x->row_line, 0,
             "header has %d columns, expected %d (%s,...,%s), %d with n_orgs,n_withheld or %d "
             "with n_orgs,n_withheld,period", x->nfields, NCOLS_BASE, col_names[0],
             col_names[NCOLS_BASE - 1], NCOLS_POOLED, NCOLS_MAX);
        return;
    }
    for (int i = 0; i < x->nfields; i++) {
        const char *h = x->f[i];
        /* A UTF-8 byte order mark before the first name is tolerated. */
        if (i == 0 && (unsigned char)h[0] == 0xEF && (unsigned char)h[1] == 0xBB &&
            (unsigned char)h[2] == 0xBF)
            h += 3;
        if (strcmp(h, col_names[i]) != 0) {
            fail(x, CELLS_READ_EINPUT, x->row_line, i + 1,
                 "header: expected '%s', found '%s'", col_names[i], h);
            return;
        }
    }
    x->ncols = x->nfields;
}

static int check_label(struct ctx *x, int col, size_t max)
{
    const char *s = x->f[col];
    if (s[0] == '\0') {
        fail(x, CELLS_READ_EINPUT, x->row_line, col + 1, "%s is empty", col_names[col]);
        return -1;
    }
    if (strlen(s) >= max) {
        fail(x, CELLS_READ_EINPUT, x->row_line, col + 1, "%s '%s' is longer than %zu bytes",
             col_names[col], s, max - 1);
        return -1;
    }
    return 0;
}

/* Checks the stratifier name and that the stratum has one part per
 * dimension ("all" for the total). */
static int check_strata(struct ctx *x)
{
    const char *t = x->f[COL_STRATIFIER], *s = x->f[COL_STRATUM];
    if (strcmp(t, "total") == 0) {
        if (strcmp(s, "all") != 0) {
            fail(x, CELLS_READ_EINPUT, x->row_line, COL_STRATUM + 1,
                 "stratum of the total must be 'all', found '%s'", s);
            return -1;
        }
        return 0;
    }
    /* one, two or three catalog names joined by '*', each once */
    int dims[CELLS_MAX_DIM], ndim = 0;
    const char *p = t;
    for (;;) {
        const char *star = strchr(p, '*');
        size_t l = star ? (size_t)(star - p) : strlen(p);
        int sid = ndim < CELLS_MAX_DIM ? catalog_stratifier_find(p, l) : -1;
        for (int d = 0; sid > S_TOTAL && d < ndim; d++)
            if (dims[d] == sid)
                sid = -1;
        if (sid <= S_TOTAL) {
            fail(x, CELLS_READ_EINPUT, x->row_line, COL_STRATIFIER + 1,
                 "unknown stratifier '%s' (one, two or three different catalog names "
                 "joined by '*')", t);
            return -1;
        }
        dims[ndim++] = sid;
        if (!star)
            break;
        p = star + 1;
    }
    int sparts = 1, empty = s[0] == '*' || s[0] == '\0';
    for (const char *q = strchr(s, '*'); q; q = strchr(q + 1, '*')) {
        sparts++;
        empty |= q[1] == '*' || q[1] == '\0';
    }
    if (sparts != ndim || empty) {
        fail(x, CELLS_READ_EINPUT, x->row_line, COL_STRATUM + 1,
             "stratum '%s' does not have one value per dimension of '%s'", s, t);
        return -1;
    }
    return 0;
}

/* A withheld row's reason may carry a coarsening note (docs/catalog.md):
 * "REASON;coarsened_to=TABLE:STRATUM", TABLE a stratifier or two joined by
 * '*'. The note is checked and cut off (it follows from the released cells:
 * cellset_coarsened_to). Returns -1 (and fails) on a malformed note. */
static int coarsen_note(struct ctx *x, const char *sup)
{
    char *reason = x->f[COL_REASON];
    char *semi = strchr(reason, ';');
    if (!semi)
        return 0;
    static const char key[] = "coarsened_to=";
    char *tab = semi + 1, *colon = strchr(tab, ':');
    int ok = sup[0] == '1' && !strncmp(tab, key, sizeof key - 1) && colon && colon[1];
    if (ok) {
        tab += sizeof key - 1;
        char *star = memchr(tab, '*', (size_t)(colon - tab));
        size_t l0 = star ? (size_t)(star - tab) : (size_t)(colon - tab);
        ok = catalog_stratifier_find(tab, l0) > S_TOTAL &&
             (!star || catalog_stratifier_find(star + 1, (size_t)(colon - star - 1)) > S_TOTAL);
    }
    if (!ok) {
        fail(x, CELLS_READ_EINPUT, x->row_line, COL_REASON + 1,
             "reason '%s': only a withheld row may carry a note, "
             "';coarsened_to=TABLE:STRATUM'", reason);
        return -1;
    }
    *semi = '\0';
    return 0;
}

static void parse_row(struct ctx *x)
{
    if (x->nfields != x->ncols) {
        fail(x, CELLS_READ_EINPUT, x->row_line, 0, "row has %d fields, the header has %d",
             x->nfields, x->ncols);
        return;
    }
    struct row r;
    memset(&r, 0, sizeof r);
    r.line = x->row_line;
    if (check_label(x, COL_ORG, sizeof(((struct cellset *)0)->org)) ||
        check_label(x, COL_ROUND, sizeof(((struct cellset *)0)->round)) ||
        check_label(x, COL_STRATIFIER, sizeof(((struct cell_table *)0)->name)) ||
        check_label(x, COL_STRATUM, 256))
        return;
    r.measure = catalog_measure_find(x->f[COL_MEASURE]);
    if (r.measure < 0) {
        fail(x, CELLS_READ_EINPUT, x->row_line, COL_MEASURE + 1, "unknown measure '%s'",
             x->f[COL_MEASURE]);
        return;
    }
    if (check_strata(x))
        return;
    const char *sup = x->f[COL_SUPPRESSED], *reason = x->f[COL_REASON];
    if (strcmp(sup, "0") != 0 && strcmp(sup, "1") != 0) {
        fail(x, CELLS_READ_EINPUT, x->row_line, COL_SUPPRESSED + 1,
             "suppressed: expected 0 or 1, found '%s'", sup);
        return;
    }
    if (coarsen_note(x, sup))
        return;
    int rid = reason[0] ? cell_reason_find(reason) : 0;
    if (rid < 0) {
        fail(x, CELLS_READ_EINPUT, x->row_line, COL_REASON + 1, "unknown reason '%s'", reason);
        return;
    }
    if (x->ncols == NCOLS_MAX &&
        check_label(x, COL_PERIOD, sizeof(((struct cellset *)0)->period)))
        return;
    if (x->ncols >= NCOLS_POOLED) {
        if ((x->f[COL_N_ORGS][0] && parse_int(x, COL_N_ORGS, &r.c.n_orgs)) ||
            (x->f[COL_N_WITHHELD][0] && parse_int(x, COL_N_WITHHELD, &r.c.n_withheld)))
            return;
    }
    if (sup[0] == '1') {
        for (int col = COL_MEMBERS; col <= COL_SUM_SQ; col++)
            if (x->f[col][0]) {
                fail(x, CELLS_READ_EINPUT, x->row_line, col + 1,
                     "%s: a suppressed row carries no numbers, found '%s'", col_names[col],
                     x->f[col]);
                return;
            }
        if (rid == REASON_NONE) {
            fail(x, CELLS_READ_EINPUT, x->row_line, COL_REASON + 1,
                 "a suppressed row needs a reason");
            return;
        }
        r.c.reason = (cell_reason)rid;
    } else {
        if (rid != REASON_NONE && rid != REASON_PARTIAL) {
            fail(x, CELLS_READ_EINPUT, x->row_line, COL_REASON + 1,
                 "reason '%s' on a released row (suppressed = 0)", reason);
            return;
        }
        int64_t *dst[] = {&r.c.members, &r.c.member_months, &r.c.denominator, &r.c.numerator};
        static const int field_of[] = {CELL_F_MEMBERS, CELL_F_MONTHS, CELL_F_DEN, CELL_F_NUM};
        for (int col = COL_MEMBERS; col <= COL_NUMERATOR; col++) {
            if (!x->f[col][0]) {
                fail(x, CELLS_READ_EINPUT, x->row_line, col + 1,
                     "%s is empty on a released row", col_names[col]);
                return;
            }
            cell_i128 v;
            if (parse_num(x, col, cell_field_decimals(r.measure, field_of[col - COL_MEMBERS]),
                          0, &v))
                return;
            *dst[col - COL_MEMBERS] = (int64_t)v;
        }
        if (x->f[COL_SUM_SQ][0] &&
            parse_num(x, COL_SUM_SQ, cell_field_decimals(r.measure, CELL_F_SQ), 1, &r.c.sum_sq))
            return;
        const struct measure_def *m = catalog_measure(r.measure);
        if (m->kind == KIND_PROPORTION && r.c.numerator > r.c.denominator) {
            fail(x, CELLS_READ_EINPUT, x->row_line, COL_NUMERATOR + 1,
                 "numerator %s exceeds denominator %s of proportion '%s'",
                 x->f[COL_NUMERATOR], x->f[COL_DENOMINATOR], m->name);
            return;
        }
        if (rid == REASON_PARTIAL && r.c.n_withheld < 1)
            r.c.n_withheld = 1;
        r.c.reason = REASON_NONE;
    }
    r.c.measure = r.measure;
    if (x->nrows == x->caprows) {
        size_t ncap = x->caprows ? 2 * x->caprows : 256;
        struct row *n = realloc(x->rows, ncap * sizeof *n);
        if (!n) {
            fail(x, CELLS_READ_ESYS, x->row_line, 0, "out of memory");
            return;
        }
        x->rows = n;
        x->caprows = ncap;
    }
    /* Take ownership of the label fields. */
    r.org = x->f[COL_ORG];
    r.round = x->f[COL_ROUND];
    r.table = x->f[COL_STRATIFIER];
    r.stratum = x->f[COL_STRATUM];
    r.period = x->f[COL_PERIOD]; /* NULL without the column */
    x->f[COL_ORG] = x->f[COL_ROUND] = x->f[COL_STRATIFIER] = x->f[COL_STRATUM] = NULL;
    x->f[COL_PERIOD] = NULL;
    x->rows[x->nrows++] = r;
}

static void on_row(int c, void *data)
{
    (void)c;
    struct ctx *x = data;
    if (!x->failed) {
        if (x->ncols == 0)
            check_header(x);
        else
            parse_row(x);
    }
    clear_fields(x);
}

/* ---- pass 2: tables and cellsets ---------------------------------------- */

struct strlist {
    char **v;
    int n, cap;
};

static int strlist_index(struct strlist *l, const char *s, size_t len, int add)
{
    for (int i = 0; i < l->n; i++)
        if (strlen(l->v[i]) == len && strncmp(l->v[i], s, len) == 0)
            return i;
    if (!add)
        return -1;
    if (l->n == l->cap) {
        int ncap = l->cap ? 2 * l->cap : 8;
        char **nv = realloc(l->v, (size_t)ncap * sizeof *nv);
        if (!nv)
            return -2;
        l->v = nv;
        l->cap = ncap;
    }
    char *d = strndup(s, len);
    if (!d)
        return -2;
    l->v[l->n] = d;
    return l->n++;
}

static void strlist_free(struct strlist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

struct tdef {
    int ndim;
    int dims[CELLS_MAX_DIM];
    struct strlist labels[CELLS_MAX_DIM];
};

struct key {
    int org, measure, table, stratum;
    size_t row;
};

static int key_cmp(const void *a, const void *b)
{
    const struct key *p = a, *q = b;
    if (p->org != q->org)
        return p->org < q->org ? -1 : 1;
    if (p->measure != q->measure)
        return p->measure < q->measure ? -1 : 1;
    if (p->table != q->table)
        return p->table < q->table ? -1 : 1;
    if (p->stratum != q->stratum)
        return p->stratum < q->stratum ? -1 : 1;
    return p->row < q->row ? -1 : (p->row > q->row);
}

static int build_sets(struct ctx *x, struct cellset ***out, int *nout)
{
    struct strlist orgs = {0}, tnames = {0};
    struct tdef *tdefs = NULL;
    struct key *keys = NULL;
    int (*ridx)[CELLS_MAX_DIM] = NULL;
    struct cellset **sets = NULL;
    int nsets = 0, rc = CELLS_READ_ESYS;

    if (x->nrows > 0) {
        keys = calloc(x->nrows, sizeof *keys);
        if (!keys)
            goto nomem;
    }
    /* Tables, labels (union over the file) and organizations. */
    for (size_t i = 0; i < x->nrows; i++) {
        struct row *r = &x->rows[i];
        int o = strlist_index(&orgs, r->org, strlen(r->org), 1);
        int t = strlist_index(&tnames, r->table, strlen(r->table), 1);
        if (o < 0 || t < 0)
            goto nomem;
        keys[i].org = o;
        keys[i].table = t;
        keys[i].measure = r->measure;
        keys[i].row = i;
    }
    /* Table definitions, in order of first appearance. */
    if (tnames.n > 0) {
        tdefs = calloc((size_t)tnames.n, sizeof *tdefs);
        if (!tdefs)
            goto nomem;
    }
    for (int t = 0; t < tnames.n; t++) {
        const char *name = tnames.v[t];
        if (strcmp(name, "total") == 0)
            continue;
        /* checked by check_strata: known, different, at most three */
        for (const char *p = name;;) {
            const char *star = strchr(p, '*');
            size_t l = star ? (size_t)(star - p) : strlen(p);
            tdefs[t].dims[tdefs[t].ndim++] = catalog_stratifier_find(p, l);
            if (!star)
                break;
            p = star + 1;
        }
    }
    /* Labels and stratum indices. */
    if (x->nrows > 0) {
        ridx = calloc(x->nrows, sizeof *ridx);
        if (!ridx)
            goto nomem;
    }
    for (size_t i = 0; i < x->nrows; i++) {
        struct row *r = &x->rows[i];
        struct tdef *td = &tdefs[keys[i].table];
        const char *p = r->stratum;
        for (int d = 0; d < td->ndim; d++) {
            const char *star = strchr(p, '*');
            size_t l = star ? (size_t)(star - p) : strlen(p);
            ridx[i][d] = strlist_index(&td->labels[d], p, l, 1);
            if (ridx[i][d] < 0)
                goto nomem;
            p = star ? star + 1 : p + l;
        }
    }
    for (int t = 0; t < tnames.n; t++) {
        int64_t n = 1;
        int over = 0;
        for (int d = 0; d < tdefs[t].ndim; d++)
            over |= __builtin_mul_overflow(n, (int64_t)tdefs[t].labels[d].n, &n);
        if (over || n > CELLS_MAX_STRATA) {
            fail(x, CELLS_READ_EINPUT, 0, COL_STRATUM + 1,
                 "table '%s' has more than %d strata", tnames.v[t], CELLS_MAX_STRATA);
            rc = CELLS_READ_EINPUT;
            goto out;
        }
    }
    for (size_t i = 0; i < x->nrows; i++) {
        struct tdef *td = &tdefs[keys[i].table];
        int st = 0;
        for (int d = 0; d < td->ndim; d++)
            st = st * td->labels[d].n + ridx[i][d];
        keys[i].stratum = st;
    }
    /* Duplicates and rounds. */
    if (x->nrows > 1)
        qsort(keys, x->nrows, sizeof *keys, key_cmp);
    for (size_t i = 1; i < x->nrows; i++) {
        if (keys[i].org == keys[i - 1].org && keys[i].measure == keys[i - 1].measure &&
            keys[i].table == keys[i - 1].table && keys[i].stratum == keys[i - 1].stratum) {
            struct row *r = &x->rows[keys[i].row];
            fail(x, CELLS_READ_EINPUT, r->line, 0,
                 "duplicate cell (org '%s', measure '%s', stratifier '%s', stratum '%s'), "
                 "first on line %ld", r->org, catalog_measure(r->measure)->name, r->table,
                 r->stratum, x->rows[keys[i - 1].row].line);
            rc = CELLS_READ_EINPUT;
            goto out;
        }
    }
    if (orgs.n > 0) {
        sets = calloc((size_t)orgs.n, sizeof *sets);
        if (!sets)
            goto nomem;
    }
    for (int o = 0; o < orgs.n; o++) {
        sets[o] = cellset_new();
        if (!sets[o])
            goto nomem;
        nsets++;
        snprintf(sets[o]->org, sizeof sets[o]->org, "%s", orgs.v[o]);
        for (int t = 0; t < tnames.n; t++) {
            struct tdef *td = &tdefs[t];
            int cards[CELLS_MAX_DIM] = {0};
            const char *const *labels[CELLS_MAX_DIM] = {NULL};
            for (int d = 0; d < td->ndim; d++) {
                cards[d] = td->labels[d].n;
                labels[d] = (const char *const *)td->labels[d].v;
            }
            if (cellset_add_table(sets[o], td->ndim, td->dims, cards, labels) != t)
                goto nomem;
        }
    }
    for (size_t k = 0; k < x->nrows; k++) {
        const struct key *key = &keys[k];
        struct row *r = &x->rows[key->row];
        struct cellset *cs = sets[key->org];
        if (cs->round[0] == '\0') {
            snprintf(cs->round, sizeof cs->round, "%s", r->round);
        } else if (strcmp(cs->round, r->round) != 0) {
            fail(x, CELLS_READ_EINPUT, r->line, COL_ROUND + 1,
                 "round '%s' differs from round '%s' of org '%s' earlier in the file "
                 "(a file holds one round per organization)", r->round, cs->round, r->org);
            rc = CELLS_READ_EINPUT;
            goto out;
        }
        if (r->period && r->period[0]) {
            if (cs->period[0] == '\0') {
                snprintf(cs->period, sizeof cs->period, "%s", r->period);
            } else if (strcmp(cs->period, r->period) != 0) {
                fail(x, CELLS_READ_EINPUT, r->line, COL_PERIOD + 1,
                     "period '%s' differs from period '%s' of org '%s' earlier in the file",
                     r->period, cs->period, r->org);
                rc = CELLS_READ_EINPUT;
                goto out;
            }
        }
        struct cell c = r->c;
        c.measure = key->measure;
        c.table = key->table;
        c.stratum = key->stratum;
        if (!cellset_append(cs, &c))
            goto nomem;
    }
    for (int o = 0; o < nsets; o++)
        cellset_sort(sets[o]);
    *out = sets;
    *nout = nsets;
    sets = NULL;
    nsets = 0;
    rc = 0;
    goto out;
nomem:
    fail(x, CELLS_READ_ESYS, 0, 0, "out of memory");
    rc = CELLS_READ_ESYS;
out:
    cells_read_free(&sets, nsets);
    for (int t = 0; tdefs && t < tnames.n; t++)
        for (int d = 0; d < CELLS_MAX_DIM; d++)
            strlist_free(&tdefs[t].labels[d]);
    free(tdefs);
    free(ridx);
    strlist_free(&orgs);
    strlist_free(&tnames);
    free(keys);
    return rc;
}

int cells_read_buffer(const char *name, const char *buf, size_t len,
                      struct cellset ***sets, int *nsets, char *err, size_t errlen)
{
    struct ctx x;
    struct csv_parser p;
    int rc;

    memset(&x, 0, sizeof x);
    x.name = name ? name : "(buffer)";
    x.err = err;
    x.errlen = errlen;
    *sets = NULL;
    *nsets = 0;
    if (err && errlen)
        err[0] = '\0';
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        fail(&x, CELLS_READ_ESYS, 0, 0, "out of memory");
        return CELLS_READ_ESYS;
    }
    size_t pos = 0;
    x.line = 1;
    while (pos < len && !x.failed) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (buf + pos)) + 1 : len - pos;
        if (csv_parse(&p, buf + pos, n, on_field, on_row, &x) != n && !x.failed)
            fail(&x, CELLS_READ_EINPUT, x.line, 0, "malformed CSV (%s)",
                 csv_strerror(csv_error(&p)));
        pos += n;
        x.line++;
    }
    x.line--;
    if (!x.failed && csv_fini(&p, on_field, on_row, &x) != 0)
        fail(&x, CELLS_READ_EINPUT, x.line, 0, "malformed CSV (%s)",
             csv_strerror(csv_error(&p)));
    csv_free(&p);
    clear_fields(&x);
    if (!x.failed && x.ncols == 0)
        fail(&x, CELLS_READ_EINPUT, 1, 0, "empty file: expected the header %s,...,%s",
             col_names[0], col_names[NCOLS_BASE - 1]);
    rc = x.failed ? x.failed : build_sets(&x, sets, nsets);
    for (size_t i = 0; i < x.nrows; i++) {
        free(x.rows[i].org);
        free(x.rows[i].round);
        free(x.rows[i].table);
        free(x.rows[i].stratum);
        free(x.rows[i].period);
    }
    free(x.rows);
    return rc;
}

int cells_read_csv(const char *path, struct cellset ***sets, int *nsets,
                   char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = CELLS_READ_ESYS;
    *sets = NULL;
    *nsets = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return CELLS_READ_ESYS;
    }
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? 2 * cap : 65536;
            char *n = realloc(buf, ncap);
            if (!n) {
                snprintf(err, errlen, "%s: out of memory", path);
                goto out;
            }
            buf = n;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        goto out;
    }
    rc = cells_read_buffer(path, buf, len, sets, nsets, err, errlen);
out:
    fclose(f);
    free(buf);
    return rc;
}

void cells_read_free(struct cellset ***sets, int nsets)
{
    if (!sets || !*sets)
        return;
    for (int i = 0; i < nsets; i++)
        cellset_destroy(&(*sets)[i]);
    free(*sets);
    *sets = NULL;
}
