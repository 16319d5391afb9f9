/*
 * catalog_file.c - catalog files: parsing, compiling to channels, and the
 * relations derived from the definitions (catalog_file.h, docs/catalog.md).
 *
 * Compilation. Each measure's eligible population is a filter (a
 * conjunction of conditions on columns, in canonical form). Each number a
 * cell carries (members, member months, denominator, numerator, sum of
 * squares) is a channel: a per-member value summed over a set of members.
 * Two numbers are the same channel when they sum the same value over the
 * same members, whatever measure they belong to (population.members ==
 * ed_rate.members; readmit_30d's denominator, admissions among members
 * with an admission, is ip_rate's numerator: a sum of a count over the
 * members where that count is >= 1 is its sum over everyone). Channels are
 * numbered by eligible population in the order populations first appear
 * (by measure id), and within one population in the order they first
 * appear; for the default file this is catalog.h's CH_* order.
 *
 * Relations (catalog.h's measure_def, read by suppression's model):
 *   parent: a measure whose population is the numerator set of another
 *     (hrsn_food among those hrsn_screening counts) has that one as parent;
 *     else the first measure with the tightest population containing this
 *     one's (A inside B when A's filter implies B's);
 *   num_per_den: 1 when the numerator counts a subset of what the
 *     denominator counts (members where X among members; a sum of columns
 *     within a sum of more columns; a column bounded by another, as
 *     no_shows <= scheduled_appts); for a mean over members, the column's
 *     largest value per member;
 *   den_per_member: v when the population requires the denominator's sum
 *     to be >= v for every member;
 *   sq_per_num: the column's largest value (s^2 <= max x s);
 *   any_of: a numerator "members where A + B + ... >= 1" over flags is the
 *     union of the measures "members where A >= 1", ... of the same
 *     population.
 */
#include "catalog_file.h"
#include "race_detail.h"

#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "catalog_def.h"
#include "conf.h"
#include "identity.h"

/* ---- The compiled-in catalog and the active one ------------------------------ */

static const char *const builtin_units[M__COUNT] = {
    [M_POPULATION] = "members", [M_ED_RATE] = "per 1,000 member-years",
    [M_IP_RATE] = "per 1,000 member-years", [M_READMIT_30D] = "share of admissions",
    [M_WELLNESS] = "share of members", [M_NO_SHOW] = "share of appointments",
    [M_TELEHEALTH_SHARE] = "share of visits", [M_DIABETES_POOR_CONTROL] = "share of members",
    [M_BP_CONTROL] = "share of members", [M_HRSN_SCREENING] = "share of members",
    [M_HRSN_FOOD] = "share of members screened", [M_HRSN_HOUSING] = "share of members screened",
    [M_HRSN_TRANSPORT] = "share of members screened",
    [M_HRSN_UTILITIES] = "share of members screened",
    [M_HRSN_SAFETY] = "share of members screened", [M_HRSN_ANY] = "share of members screened",
    [M_COST_PMPM] = "USD per member per month", [M_EXPERIENCE] = "points (0-10)"};

/* ---- Catalogs ----------------------------------------------------------- */

static struct catalog builtin;
static atomic_int builtin_ready;
static const struct catalog *active;

const struct catalog *catalog_builtin(void)
{
    if (atomic_load(&builtin_ready))
        return &builtin;
    struct catalog *c = &builtin;
    memset(c, 0, sizeof *c);
    /* The compiled-in catalog is the default file as it was built in
     * (catalog_default_text): same identity, and the stratifiers' codes,
     * hierarchy and maps come from it; the measures are the table above. */
    char err[256];
    if (catalog_parse_text(c, catalog_default_text, "(built in)", err, sizeof err) != 0) {
        memset(c, 0, sizeof *c);
        snprintf(c->name, sizeof c->name, "builtin");
        snprintf(c->version, sizeof c->version, "0");
    }
    c->path[0] = '\0';
    c->builtin = 1;
    c->n_measures = M__COUNT;
    c->n_channels = CH__COUNT;
    for (int m = 0; m < M__COUNT; m++) {
        c->m[m] = *catalog_builtin_measure(m);
        c->m[m].unit = builtin_units[m];
        c->m[m].absent = 0;
    }
    c->leave_out = (1u << M_NO_SHOW) | (1u << M_TELEHEALTH_SHARE) |
                   (1u << M_DIABETES_POOR_CONTROL) | (1u << M_BP_CONTROL) | (1u << M_EXPERIENCE);
    atomic_store(&builtin_ready, 1);
    return c;
}

void catalog_set_active(const struct catalog *c)
{
    active = c;
}

const struct catalog *catalog_active(void)
{
    return active ? active : catalog_builtin();
}

int catalog_stratifier_offered(int s)
{
    if (s < 0 || s >= S__COUNT)
        return 0;
    if (!catalog_stratifier_opt_in(s))
        return 1;
    const struct catalog *c = catalog_active();
    return c && c->strat[s].defined;
}

int catalog_inter_offered(const int x[CATALOG_INTER_DIM], const char *item, size_t len,
                          char *err, size_t errlen)
{
    for (int d = 0; d < catalog_inter_ndim(x); d++)
        if (!catalog_stratifier_offered(x[d])) {
            snprintf(err, errlen, "\"%.*s\": stratifier %s needs a catalog that defines it "
                     "([stratifier %s], e.g. configs/catalog-identities.ini)",
                     (int)(len > 60 ? 60 : len), item, catalog_stratifier_name(x[d]),
                     catalog_stratifier_name(x[d]));
            return -1;
        }
    return 0;
}


int catalog_is_builtin(const struct catalog *c)
{
    return c && c->builtin;
}

const char *catalog_name(const struct catalog *c)
{
    return c->name;
}

const char *catalog_version(const struct catalog *c)
{
    return c->version;
}

const char *catalog_sha256(const struct catalog *c)
{
    return c->sha256;
}

const char *catalog_path(const struct catalog *c)
{
    return c->path;
}

int catalog_n_measures(void)
{
    return catalog_active()->n_measures;
}

int catalog_n_channels(void)
{
    return catalog_active()->n_channels;
}

const struct measure_def *catalog_measure(int id)
{
    const struct catalog *c = catalog_active();
    if (id < 0 || id >= c->n_measures)
        return NULL;
    return &c->m[id];
}

int catalog_measure_find(const char *name)
{
    const struct catalog *c = catalog_active();
    for (int i = 0; i < c->n_measures; i++)
        if (!c->m[i].absent && strcmp(c->m[i].name, name) == 0)
            return i;
    return -1;
}

unsigned catalog_leave_out(void)
{
    return catalog_active()->leave_out;
}

void catalog_all_measures(unsigned char *on)
{
    const struct catalog *c = catalog_active();
    memset(on, 0, CATALOG_MAX_MEASURES);
    for (int i = 0; i < c->n_measures; i++)
        on[i] = !c->m[i].absent;
}

/* ---- Columns ------------------------------------------------------------- */

const struct cat_column catalog_base_columns[CATALOG_N_BASE_COLS] = {
    {"member_id", CT_TEXT, 0, -1, NULL, 0},
    {"period", CT_TEXT, 0, -1, NULL, 0},
    {"age", CT_INT, 120, -1, NULL, 0},
    {"sex", CT_CODE, 0, -1, sex_codes, SEX__COUNT},
    {"race", CT_CODE, 0, -1, race_codes, RACE__COUNT},
    {"ethnicity", CT_CODE, 0, -1, ethnicity_codes, ETH__COUNT},
    {"language", CT_TEXT, 0, -1, NULL, 0},
    {"payer", CT_CODE, 0, -1, payer_codes, PAYER__COUNT},
    {"adi_decile", CT_INT, 10, -1, NULL, 0},
    {"disability", CT_CODE, 0, -1, ynu_codes, YNU__COUNT},
    {"cmc", CT_CODE, 0, -1, ynu_codes, YNU__COUNT},
    {"county", CT_TEXT, 0, -1, NULL, 0},
    {"member_months", CT_MONTHS, 0, -1, NULL, 0},
    {"ed_visits", CT_COUNT, 0, -1, NULL, 0},
    {"ip_admits", CT_COUNT, 0, -1, NULL, 0},
    {"ip_readmits_30d", CT_COUNT, 0, 14, NULL, 0}, /* <= ip_admits (extract.md) */
    {"primary_care_visits", CT_COUNT, 0, -1, NULL, 0},
    {"telehealth_visits", CT_COUNT, 0, -1, NULL, 0},
    {"scheduled_appts", CT_COUNT, 0, -1, NULL, 0},
    {"no_shows", CT_COUNT, 0, 18, NULL, 0}, /* <= scheduled_appts */
    {"wellness_visit", CT_FLAG, 1, -1, NULL, 0},
    {"diabetes", CT_FLAG, 1, -1, NULL, 0},
    {"hba1c_poor_control", CT_FLAG, 1, -1, NULL, 0},
    {"hypertension", CT_FLAG, 1, -1, NULL, 0},
    {"bp_controlled", CT_FLAG, 1, -1, NULL, 0},
    {"hrsn_screened", CT_FLAG, 1, -1, NULL, 0},
    {"hrsn_food", CT_FLAG, 1, -1, NULL, 0},
    {"hrsn_housing", CT_FLAG, 1, -1, NULL, 0},
    {"hrsn_transport", CT_FLAG, 1, -1, NULL, 0},
    {"hrsn_utilities", CT_FLAG, 1, -1, NULL, 0},
    {"hrsn_safety", CT_FLAG, 1, -1, NULL, 0},
    {"total_cost", CT_COST, 0, -1, NULL, 0},
    {"experience_score", CT_SCORE, 10 * 100, -1, NULL, 0}, /* hundredths (cells.h) */
};

static const struct cat_column flag_column = {"(flag)", CT_FLAG, 1, -1, NULL, 0};

static const struct cat_column *column(const struct catalog *c, int col)
{
    (void)c;
    return col < CATALOG_N_BASE_COLS ? &catalog_base_columns[col] : &flag_column;
}

int catalog_column_find(const struct catalog *c, const char *name)
{
    for (int i = 0; i < CATALOG_N_BASE_COLS; i++)
        if (strcasecmp(catalog_base_columns[i].name, name) == 0)
            return i;
    for (int i = 0; c && i < c->n_flags; i++)
        if (strcasecmp(c->flag_name[i], name) == 0)
            return CATALOG_N_BASE_COLS + i;
    return -1;
}

const char *catalog_column_name(const struct catalog *c, int col)
{
    if (col < CATALOG_N_BASE_COLS)
        return catalog_base_columns[col].name;
    return c->flag_name[col - CATALOG_N_BASE_COLS];
}

/* A column whose values are whole numbers >= 0 with nothing unknown in
 * them (an empty count or flag is 0 and leaves the member out instead). */
static int nonneg(const struct cat_column *k)
{
    return k->type == CT_COUNT || k->type == CT_FLAG;
}

/* ---- Canonical forms and implication --------------------------------------- */

static int expr_cmp(const struct cat_expr *a, const struct cat_expr *b)
{
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    for (int i = 0; i < a->n; i++)
        if (a->col[i] != b->col[i])
            return a->col[i] < b->col[i] ? -1 : 1;
    return 0;
}

/* Every column of a is in b. */
static int expr_sub(const struct cat_expr *a, const struct cat_expr *b)
{
    for (int i = 0; i < a->n; i++) {
        int in = 0;
        for (int j = 0; j < b->n; j++)
            in |= a->col[i] == b->col[j];
        if (!in)
            return 0;
    }
    return 1;
}

static int atom_cmp(const void *pa, const void *pb)
{
    const struct cat_atom *a = pa, *b = pb;
    int e = expr_cmp(&a->e, &b->e);
    if (e)
        return e;
    if (a->op != b->op)
        return a->op < b->op ? -1 : 1;
    return a->v < b->v ? -1 : a->v > b->v;
}

/* Rewrites an atom of a non-negative expression into >= / < form; returns
 * 0 when it always holds (dropped). */
static int atom_canon(const struct catalog *c, struct cat_atom *a)
{
    if (a->op == CAT_PRESENT)
        return 1;
    int nn = 1;
    for (int i = 0; i < a->e.n; i++)
        nn &= nonneg(column(c, a->e.col[i]));
    if (!nn)
        return 1;
    if (a->op == CAT_NE && a->v == 0) {
        a->op = CAT_GE;
        a->v = 1;
    } else if (a->op == CAT_EQ && a->v == 0) {
        a->op = CAT_LT;
        a->v = 1;
    } else if (a->op == CAT_EQ && a->v == 1 && a->e.n == 1 &&
               column(c, a->e.col[0])->type == CT_FLAG) {
        a->op = CAT_GE;
    } else if (a->op == CAT_NE && a->v == 1 && a->e.n == 1 &&
               column(c, a->e.col[0])->type == CT_FLAG) {
        a->op = CAT_LT;
    }
    return !(a->op == CAT_GE && a->v <= 0);
}

static void filter_canon(struct cat_filter *f)
{
    qsort(f->a, f->n, sizeof f->a[0], atom_cmp);
    int o = 0;
    for (int i = 0; i < f->n; i++)
        if (o == 0 || atom_cmp(&f->a[o - 1], &f->a[i]) != 0)
            f->a[o++] = f->a[i];
    f->n = (uint8_t)o;
}

static int filter_eq(const struct cat_filter *a, const struct cat_filter *b)
{
    if (a->n != b->n)
        return 0;
    for (int i = 0; i < a->n; i++)
        if (atom_cmp(&a->a[i], &b->a[i]) != 0)
            return 0;
    return 1;
}

/* a implies b (for every member). */
static int atom_implies(const struct catalog *c, const struct cat_atom *a, const struct cat_atom *b)
{
    if (expr_cmp(&a->e, &b->e) != 0) {
        /* x >= v, and x's columns within y's (non-negative): y >= v */
        int nn = 1;
        for (int i = 0; i < b->e.n; i++)
            nn &= nonneg(column(c, b->e.col[i]));
        return nn && b->op == CAT_GE && (a->op == CAT_GE || a->op == CAT_EQ) && a->v >= b->v &&
               expr_sub(&a->e, &b->e);
    }
    if (a->op == CAT_PRESENT || b->op == CAT_PRESENT)
        return a->op == b->op;
    switch (a->op) {
    case CAT_GE:
        return (b->op == CAT_GE && a->v >= b->v) || (b->op == CAT_NE && b->v < a->v);
    case CAT_LT:
        return (b->op == CAT_LT && a->v <= b->v) || (b->op == CAT_NE && b->v >= a->v);
    case CAT_EQ:
        return (b->op == CAT_GE && a->v >= b->v) || (b->op == CAT_LT && a->v < b->v) ||
               (b->op == CAT_EQ && a->v == b->v) || (b->op == CAT_NE && a->v != b->v);
    case CAT_NE:
        return b->op == CAT_NE && a->v == b->v;
    }
    return 0;
}

static int filter_implies(const struct catalog *c, const struct cat_filter *a,
                          const struct cat_filter *b)
{
    for (int j = 0; j < b->n; j++) {
        int ok = 0;
        for (int i = 0; !ok && i < a->n; i++)
            ok = atom_implies(c, &a->a[i], &b->a[j]);
        if (!ok)
            return 0;
    }
    return 1;
}

static int filter_and(struct cat_filter *out, const struct cat_filter *a, const struct cat_filter *b)
{
    if (a->n + b->n > CAT_FILTER_MAX)
        return -1;
    *out = *a;
    for (int i = 0; i < b->n; i++)
        out->a[out->n++] = b->a[i];
    filter_canon(out);
    return 0;
}

/* ---- Parsing definitions ---------------------------------------------------- */

struct lex {
    const char *s;
    char tok[64];
};

/* Next token: a name, a number, an operator or '+'; "" at the end. */
static const char *lex_next(struct lex *x)
{
    while (*x->s == ' ' || *x->s == '\t')
        x->s++;
    const char *p = x->s;
    size_t n = 0;
    if (!*p) {
        x->tok[0] = '\0';
        return x->tok;
    }
    if (isalnum((unsigned char)*p) || *p == '_' || *p == '-') {
        n = 1;
        while (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == '-')
            n++;
    } else if ((p[0] == '>' || p[0] == '<' || p[0] == '!' || p[0] == '=') && p[1] == '=') {
        n = 2;
    } else {
        n = 1;
    }
    if (n >= sizeof x->tok)
        n = sizeof x->tok - 1;
    memcpy(x->tok, p, n);
    x->tok[n] = '\0';
    x->s = p + n;
    return x->tok;
}

static const char *lex_peek(struct lex *x)
{
    struct lex y = *x;
    lex_next(&y);
    memcpy(x->tok, y.tok, sizeof x->tok);
    return x->tok;
}

static int parse_expr(struct catalog *c, struct lex *x, struct cat_expr *e, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    for (;;) {
        const char *t = lex_next(x);
        int col = catalog_column_find(c, t);
        if (col < 0) {
            /* any other name is an extra 0/1 flag column of the extract */
            if (!(isalpha((unsigned char)t[0]) || t[0] == '_')) {
                snprintf(err, errlen, "expected a column name, got \"%.40s\"", t);
                return -1;
            }
            if (c->n_flags >= CATALOG_MAX_FLAGS) {
                snprintf(err, errlen, "more than %d flag columns", CATALOG_MAX_FLAGS);
                return -1;
            }
            snprintf(c->flag_name[c->n_flags], sizeof c->flag_name[0], "%s", t);
            for (char *q = c->flag_name[c->n_flags]; *q; q++)
                *q = (char)tolower((unsigned char)*q);
            col = CATALOG_N_BASE_COLS + c->n_flags++;
        }
        const struct cat_column *k = column(c, col);
        if (k->type == CT_TEXT || k->type == CT_MONTHS) {
            snprintf(err, errlen, "column %s cannot be used in a definition", t);
            return -1;
        }
        if (e->n >= CAT_EXPR_MAX) {
            snprintf(err, errlen, "more than %d columns in a sum", CAT_EXPR_MAX);
            return -1;
        }
        int dup = 0;
        for (int i = 0; i < e->n; i++)
            dup |= e->col[i] == col;
        if (dup) {
            snprintf(err, errlen, "column %s twice in a sum", t);
            return -1;
        }
        e->col[e->n++] = (uint8_t)col;
        if (strcmp(lex_peek(x), "+") != 0)
            break;
        lex_next(x);
    }
    for (int i = 0; i < e->n; i++)
        for (int j = i + 1; j < e->n; j++)
            if (e->col[j] < e->col[i]) {
                uint8_t t = e->col[i];
                e->col[i] = e->col[j];
                e->col[j] = t;
            }
    if (e->n > 1)
        for (int i = 0; i < e->n; i++) {
            int ty = column(c, e->col[i])->type;
            if (ty != CT_COUNT && ty != CT_FLAG) {
                snprintf(err, errlen, "only counts and flags can be summed (%s)",
                         catalog_column_name(c, e->col[i]));
                return -1;
            }
        }
    return 0;
}

static int parse_int(const char *t, int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(t, &end, 10);
    if (errno || end == t || *end)
        return -1;
    *v = x;
    return 0;
}

/* FILTER: "all" | ATOM ("and" ATOM)*; ATOM: EXPR OP INTEGER | COLUMN OP CODE
 * | COLUMN "present". Stops at the end or before "where"-free text. */
static int parse_filter(struct catalog *c, struct lex *x, struct cat_filter *f, char *err,
                        size_t errlen)
{
    memset(f, 0, sizeof *f);
    if (strcasecmp(lex_peek(x), "all") == 0) {
        lex_next(x);
        return 0;
    }
    for (;;) {
        struct cat_atom a;
        memset(&a, 0, sizeof a);
        if (parse_expr(c, x, &a.e, err, errlen) != 0)
            return -1;
        const struct cat_column *k = column(c, a.e.col[0]);
        char op[8];
        snprintf(op, sizeof op, "%s", lex_next(x));
        if (strcasecmp(op, "present") == 0) {
            if (a.e.n != 1 || k->type != CT_SCORE) {
                snprintf(err, errlen, "\"present\" applies to a score column only");
                return -1;
            }
            a.op = CAT_PRESENT;
        } else {
            int neg = 0;
            if (!strcmp(op, "=") || !strcmp(op, "=="))
                a.op = CAT_EQ;
            else if (!strcmp(op, "!="))
                a.op = CAT_NE;
            else if (!strcmp(op, ">=") || !strcmp(op, ">"))
                a.op = CAT_GE;
            else if (!strcmp(op, "<") || !strcmp(op, "<="))
                a.op = CAT_LT;
            else {
                snprintf(err, errlen, "expected an operator (= != > >= < <= present), got \"%.20s\"",
                         op);
                return -1;
            }
            if (k->type == CT_COST || k->type == CT_SCORE) {
                snprintf(err, errlen, "%s can only be tested with \"present\"",
                         catalog_column_name(c, a.e.col[0]));
                return -1;
            }
            const char *t = lex_next(x);
            if (k->type == CT_CODE) {
                if (a.op != CAT_EQ && a.op != CAT_NE) {
                    snprintf(err, errlen, "a code column is tested with = or != only");
                    return -1;
                }
                int code = catalog_code_find(k->codes, k->ncodes, t, strlen(t));
                if (code < 0) {
                    snprintf(err, errlen, "\"%.30s\" is not a code of %s", t, k->name);
                    return -1;
                }
                a.v = code;
            } else {
                if (parse_int(t, &a.v) != 0) {
                    snprintf(err, errlen, "expected a whole number, got \"%.30s\"", t);
                    return -1;
                }
                if (!strcmp(op, ">"))
                    a.v += 1, neg = 0;
                else if (!strcmp(op, "<="))
                    a.v += 1;
            }
            (void)neg;
        }
        if (atom_canon(c, &a)) {
            if (f->n >= CAT_FILTER_MAX) {
                snprintf(err, errlen, "more than %d conditions", CAT_FILTER_MAX);
                return -1;
            }
            f->a[f->n++] = a;
        }
        const char *t = lex_peek(x);
        if (!t[0])
            break;
        if (strcasecmp(t, "and") != 0) {
            snprintf(err, errlen, "expected \"and\" or the end, got \"%.30s\"", t);
            return -1;
        }
        lex_next(x);
    }
    filter_canon(f);
    return 0;
}

/* VALUE: "members" | "members where FILTER" | "member_months" | "sum EXPR". */
static int parse_value(struct catalog *c, const char *text, struct cat_value *v, char *err,
                       size_t errlen)
{
    struct lex x = {text, ""};
    memset(v, 0, sizeof *v);
    const char *t = lex_next(&x);
    if (!strcasecmp(t, "members")) {
        v->kind = CV_ONE;
        if (!strcasecmp(lex_peek(&x), "where")) {
            lex_next(&x);
            if (parse_filter(c, &x, &v->where, err, errlen) != 0)
                return -1;
        }
    } else if (!strcasecmp(t, "member_months")) {
        v->kind = CV_MONTHS;
    } else if (!strcasecmp(t, "sum")) {
        v->kind = CV_SUM;
        if (parse_expr(c, &x, &v->e, err, errlen) != 0)
            return -1;
        for (int i = 0; i < v->e.n; i++) {
            int ty = column(c, v->e.col[i])->type;
            if (ty == CT_CODE || ty == CT_INT) {
                snprintf(err, errlen, "%s is not a number to sum", catalog_column_name(c, v->e.col[i]));
                return -1;
            }
        }
    } else {
        snprintf(err, errlen, "expected members, members where ..., member_months or sum ..., "
                 "got \"%.30s\"", t);
        return -1;
    }
    if (lex_peek(&x)[0]) {
        snprintf(err, errlen, "unexpected \"%.30s\"", x.tok);
        return -1;
    }
    return 0;
}

/* ---- The file ------------------------------------------------------------------ */

struct raw_measure {
    char name[48];
    char kind[16], population[512], numerator[512], denominator[512], sum_sq[8], better[16];
    char label[128], unit[48], population_label[200];
    int seen;
};

struct parse {
    struct catalog *c;
    struct raw_measure raw[CATALOG_MAX_MEASURES];
    int nraw;
    char *canon;
    size_t ncanon, capcanon;
    char last_section[128];
    int have_catalog;
    /* keys seen in the current section (duplicates are errors) */
    char seen_keys[64][64];
    int nseen;
};

static int canon_add(struct parse *p, const char *s)
{
    size_t n = strlen(s);
    if (p->ncanon + n + 1 > p->capcanon) {
        size_t cap = p->capcanon ? p->capcanon * 2 : 4096;
        while (cap < p->ncanon + n + 1)
            cap *= 2;
        char *q = realloc(p->canon, cap);
        if (!q)
            return -1;
        p->canon = q;
        p->capcanon = cap;
    }
    memcpy(p->canon + p->ncanon, s, n + 1);
    p->ncanon += n;
    return 0;
}

static int set_str(char *dst, size_t size, const char *key, const char *value, char *err,
                   size_t errlen)
{
    if (strlen(value) >= size) {
        snprintf(err, errlen, "%s: value longer than %zu characters", key, size - 1);
        return -1;
    }
    memcpy(dst, value, strlen(value) + 1);
    return 0;
}

/* parent.CODE = PARENT of race_detail (PARENT a race_group code) and
 * race_group (a race code, or HISPANIC): the node's hierarchy is that of
 * data/race-detail.tsv (race_detail.c), and the file must state it as is. */
static int race_parent_key(struct cat_strat *st, int s, const char *code, const char *value,
                           char *err, size_t errlen)
{
    int a = -1;
    for (int i = 0; i < st->ncodes; i++)
        if (!strcmp(st->code[i], code))
            a = i;
    int n = s == S_RACE_DETAIL ? RD_N : RG_N;
    const char *const *codes = s == S_RACE_DETAIL ? race_detail_codes : race_group_codes;
    int k = catalog_code_find(codes, n, code, strlen(code));
    if (a < 0 || k < 0) {
        snprintf(err, errlen, "parent.%.30s: a detailed code listed (before) in codes", code);
        return -1;
    }
    const char *want;
    if (s == S_RACE_DETAIL) {
        want = race_group_codes[race_detail_group(k)];
    } else {
        int m = race_group_minimum(k);
        want = m == RD_MIN_HISPANIC ? "HISPANIC" : race_codes[m];
    }
    if (strcmp(value, want) != 0) {
        snprintf(err, errlen, "parent.%.30s = %.30s: the node's hierarchy (data/race-detail.tsv) "
                 "has %s", code, value, want);
        return -1;
    }
    st->parent[a] = -1; /* the parent is in the next level's stratifier */
    return 0;
}

static int strat_key(struct catalog *c, const char *sname, const char *key, const char *value,
                     char *err, size_t errlen)
{
    int s = catalog_stratifier_find(sname, strlen(sname));
    if (s < 0) {
        snprintf(err, errlen, "unknown stratifier \"%.40s\" (a stratifier is computed by the node: "
                 "the catalog describes the built-in ones)", sname);
        return -1;
    }
    struct cat_strat *st = &c->strat[s];
    st->defined = 1;
    if (!strcmp(key, "column"))
        return set_str(st->column, sizeof st->column, key, value, err, errlen);
    if (!strcmp(key, "derived"))
        return set_str(st->derived, sizeof st->derived, key, value, err, errlen);
    if (!strcmp(key, "label"))
        return set_str(st->label, sizeof st->label, key, value, err, errlen);
    if (!strcmp(key, "open")) {
        st->open = !strcasecmp(value, "yes");
        if (!st->open && strcasecmp(value, "no")) {
            snprintf(err, errlen, "open: \"%.20s\" is not yes or no", value);
            return -1;
        }
        return 0;
    }
    if (!strcmp(key, "codes")) {
        st->ncodes = 0;
        char t[64];
        for (const char *q = value; *q;) {
            while (*q == ' ' || *q == '\t' || *q == ',')
                q++;
            size_t n = 0;
            while (q[n] && q[n] != ' ' && q[n] != '\t' && q[n] != ',')
                n++;
            if (!n)
                break;
            snprintf(t, sizeof t, "%.*s", (int)(n < sizeof t ? n : sizeof t - 1), q);
            q += n;
            if (st->ncodes >= CAT_MAX_CODES) {
                snprintf(err, errlen, "codes: more than %d", CAT_MAX_CODES);
                return -1;
            }
            if (s != S_TOTAL && !catalog_stratum_code_ok(s, t, strlen(t))) {
                snprintf(err, errlen, "codes: \"%.30s\" is not a code of %s", t, sname);
                return -1;
            }
            snprintf(st->code[st->ncodes], sizeof st->code[0], "%s", t);
            st->parent[st->ncodes++] = -1;
        }
        return 0;
    }
    if (!strncmp(key, "parent.", 7) && (s == S_RACE_DETAIL || s == S_RACE_GROUP))
        return race_parent_key(st, s, key + 7, value, err, errlen);
    if (!strncmp(key, "parent.", 7)) {
        int a = -1, b = -1;
        for (int i = 0; i < st->ncodes; i++) {
            if (!strcmp(st->code[i], key + 7))
                a = i;
            if (!strcmp(st->code[i], value))
                b = i;
        }
        if (a < 0 || b < 0 || a == b) {
            snprintf(err, errlen, "%s = %s: both must be codes listed (before) in codes", key, value);
            return -1;
        }
        for (int q = b; q >= 0; q = st->parent[q])
            if (q == a) {
                snprintf(err, errlen, "%s = %s: the hierarchy has a cycle", key, value);
                return -1;
            }
        st->parent[a] = b;
        return 0;
    }
    if (!strncmp(key, "map.", 4)) {
        if (st->nmaps >= CAT_MAX_MAPS) {
            snprintf(err, errlen, "more than %d map entries", CAT_MAX_MAPS);
            return -1;
        }
        if (!st->column[0]) {
            snprintf(err, errlen, "%s: a map needs the stratifier's column first", key);
            return -1;
        }
        uint32_t det = 0;
        uint8_t min = 0;
        if (s == S_RACE_DETAIL ? race_detail_response(value, strlen(value), &det, &min) < 0
                               : !catalog_stratum_code_ok(s, value, strlen(value))) {
            snprintf(err, errlen, "%s = %s: not a code of %s%s", key, value, sname,
                     s == S_RACE_DETAIL ? " (a detailed or minimum-category code)" : "");
            return -1;
        }
        if (set_str(st->map_from[st->nmaps], sizeof st->map_from[0], key, key + 4, err, errlen) ||
            set_str(st->map_to[st->nmaps], sizeof st->map_to[0], key, value, err, errlen))
            return -1;
        st->nmaps++;
        return 0;
    }
    snprintf(err, errlen, "unknown key \"%.40s\" (column, derived, codes, open, label, "
             "parent.CODE, map.LOCAL)", key);
    return -1;
}

static int on_key(void *ctx, const char *section, const char *key, const char *value, char *err,
                  size_t errlen)
{
    struct parse *p = ctx;
    struct catalog *c = p->c;
    char line[1200];
    if (strcmp(section, p->last_section) != 0) {
        snprintf(line, sizeof line, "[%s]\n", section);
        if (canon_add(p, line))
            goto nomem;
        snprintf(p->last_section, sizeof p->last_section, "%s", section);
        p->nseen = 0;
    }
    for (int i = 0; i < p->nseen; i++)
        if (!strcmp(p->seen_keys[i], key)) {
            snprintf(err, errlen, "%s is set twice", key);
            return -1;
        }
    if (p->nseen < 64)
        snprintf(p->seen_keys[p->nseen++], sizeof p->seen_keys[0], "%s", key);
    snprintf(line, sizeof line, "%s = %s\n", key, value);
    if (canon_add(p, line))
        goto nomem;

    if (!strcmp(section, "catalog")) {
        p->have_catalog = 1;
        if (!strcmp(key, "name"))
            return set_str(c->name, sizeof c->name, key, value, err, errlen);
        if (!strcmp(key, "version"))
            return set_str(c->version, sizeof c->version, key, value, err, errlen);
        if (!strcmp(key, "description"))
            return 0;
        snprintf(err, errlen, "unknown key \"%.40s\" (name, version, description)", key);
        return -1;
    }
    if (!strncmp(section, "stratifier ", 11))
        return strat_key(c, section + 11, key, value, err, errlen);
    if (strncmp(section, "measure ", 8) != 0) {
        snprintf(err, errlen, "unknown section (catalog, measure ID, stratifier NAME)");
        return -1;
    }
    const char *mname = section + 8;
    struct raw_measure *r = NULL;
    for (int i = 0; i < p->nraw; i++)
        if (!strcmp(p->raw[i].name, mname))
            r = &p->raw[i];
    if (!r) {
        if (p->nraw >= CATALOG_MAX_MEASURES) {
            snprintf(err, errlen, "more than %d measures", CATALOG_MAX_MEASURES);
            return -1;
        }
        size_t n = strlen(mname);
        int ok = n > 0 && n < sizeof r->name;
        for (size_t i = 0; ok && i < n; i++)
            ok = islower((unsigned char)mname[i]) || isdigit((unsigned char)mname[i]) ||
                 mname[i] == '_';
        if (!ok) {
            snprintf(err, errlen, "measure id \"%.40s\": lower-case letters, digits and _ only",
                     mname);
            return -1;
        }
        r = &p->raw[p->nraw++];
        memset(r, 0, sizeof *r);
        memcpy(r->name, mname, n + 1);
    }
    struct { const char *k; char *dst; size_t size; } f[] = {
        {"kind", r->kind, sizeof r->kind},
        {"population", r->population, sizeof r->population},
        {"numerator", r->numerator, sizeof r->numerator},
        {"denominator", r->denominator, sizeof r->denominator},
        {"sum_sq", r->sum_sq, sizeof r->sum_sq},
        {"better", r->better, sizeof r->better},
        {"label", r->label, sizeof r->label},
        {"unit", r->unit, sizeof r->unit},
        {"population_label", r->population_label, sizeof r->population_label},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!strcmp(key, f[i].k))
            return set_str(f[i].dst, f[i].size, key, value, err, errlen);
    snprintf(err, errlen, "unknown key \"%.40s\" (kind, population, numerator, denominator, "
             "sum_sq, better, label, unit, population_label)", key);
    return -1;
nomem:
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* ---- Compiling ------------------------------------------------------------------ */

static uint64_t expr_cols(const struct cat_expr *e)
{
    uint64_t m = 0;
    for (int i = 0; i < e->n; i++)
        m |= 1ULL << e->col[i];
    return m;
}

static uint64_t filter_cols(const struct cat_filter *f)
{
    uint64_t m = 0;
    for (int i = 0; i < f->n; i++)
        m |= expr_cols(&f->a[i].e);
    return m;
}

static int filter_index(struct catalog *c, const struct cat_filter *f)
{
    for (int i = 0; i < c->n_filters; i++)
        if (filter_eq(&c->filters[i], f))
            return i;
    c->filters[c->n_filters] = *f;
    return c->n_filters++;
}

/* The identity of a channel: the members it sums over and what it sums. */
struct chkey {
    struct cat_filter f;
    int kind;
    struct cat_expr e;
};

static int chkey_of(const struct catalog *c, int filter, const struct cat_value *v, struct chkey *k)
{
    memset(k, 0, sizeof *k);
    k->kind = v->kind;
    k->e = v->e;
    if (v->kind == CV_ONE)
        return filter_and(&k->f, &c->filters[filter], &v->where);
    k->f = c->filters[filter];
    if (v->kind == CV_SUM || v->kind == CV_SQ) {
        /* a sum over members where (columns) >= 1 of values within those
         * columns is the sum over everyone (the value is 0 elsewhere) */
        int o = 0;
        for (int i = 0; i < k->f.n; i++) {
            const struct cat_atom *a = &k->f.a[i];
            int drop = a->op == CAT_GE && a->v == 1 && expr_sub(&v->e, &a->e);
            if (!drop)
                k->f.a[o++] = *a;
        }
        k->f.n = (uint8_t)o;
    }
    return 0;
}

static int chkey_eq(const struct chkey *a, const struct chkey *b)
{
    return a->kind == b->kind && expr_cmp(&a->e, &b->e) == 0 && filter_eq(&a->f, &b->f);
}

/* Channel of (filter, value): an existing one, or a new one in group g. */
struct chbuild {
    struct chkey key[CATALOG_MAX_CHANNELS];
    struct cat_channel ch[CATALOG_MAX_CHANNELS];
    int group[CATALOG_MAX_CHANNELS];
    int n;
};

static int channel_of(const struct catalog *c, struct chbuild *b, int filter,
                      const struct cat_value *v, int group)
{
    struct chkey k;
    if (chkey_of(c, filter, v, &k) != 0)
        return -2;
    for (int i = 0; i < b->n; i++)
        if (chkey_eq(&b->key[i], &k))
            return i;
    if (b->n >= CATALOG_MAX_CHANNELS)
        return -2;
    b->key[b->n] = k;
    memset(&b->ch[b->n], 0, sizeof b->ch[b->n]);
    b->ch[b->n].filter = filter;
    b->ch[b->n].v = *v;
    b->ch[b->n].owner = -1;
    b->group[b->n] = group;
    return b->n++;
}

static const char *const builtin_names[M__COUNT] = {
    "population", "ed_rate", "ip_rate", "readmit_30d", "wellness", "no_show",
    "telehealth_share", "diabetes_poor_control", "bp_control", "hrsn_screening",
    "hrsn_food", "hrsn_housing", "hrsn_transport", "hrsn_utilities", "hrsn_safety",
    "hrsn_any", "cost_pmpm", "experience"};

static int value_is_count(const struct catalog *c, const struct cat_value *v)
{
    if (v->kind == CV_ONE)
        return 1;
    if (v->kind != CV_SUM)
        return 0;
    for (int i = 0; i < v->e.n; i++)
        if (!nonneg(column(c, v->e.col[i])))
            return 0;
    return 1;
}

/* numerator <= x * denominator for every set of members, or 0. */
static double num_per_den(const struct catalog *c, const struct measure_def *d,
                          const struct cat_src *s)
{
    const struct cat_value *n = &s->num, *dn = &s->den;
    if (d->kind == KIND_PROPORTION) {
        if (n->kind == CV_ONE && dn->kind == CV_ONE)
            return 1;
        if (n->kind == CV_SUM && dn->kind == CV_SUM && value_is_count(c, n) &&
            value_is_count(c, dn)) {
            if (expr_sub(&n->e, &dn->e))
                return 1;
            if (n->e.n == 1 && dn->e.n == 1 && column(c, n->e.col[0])->le == dn->e.col[0])
                return 1;
        }
        if (n->kind == CV_ONE && dn->kind == CV_SUM && value_is_count(c, dn)) {
            const struct cat_filter *f = &c->filters[s->filter];
            for (int i = 0; i < f->n; i++)
                if (f->a[i].op == CAT_GE && f->a[i].v >= 1 && expr_cmp(&f->a[i].e, &dn->e) == 0)
                    return 1;
        }
        return 0;
    }
    if (d->kind == KIND_MEAN && dn->kind == CV_ONE && n->kind == CV_SUM && n->e.n == 1)
        return (double)column(c, n->e.col[0])->max;
    return 0;
}

static double den_per_member(const struct catalog *c, const struct cat_src *s)
{
    if (s->den.kind != CV_SUM)
        return 0;
    const struct cat_filter *f = &c->filters[s->filter];
    int64_t best = 0;
    for (int i = 0; i < f->n; i++)
        if (f->a[i].op == CAT_GE && expr_cmp(&f->a[i].e, &s->den.e) == 0 && f->a[i].v > best)
            best = f->a[i].v;
    return (double)best;
}

static int parent_of(const struct catalog *c, int a)
{
    const struct cat_filter *fa = &c->filters[c->src[a].filter];
    /* the numerator set of another measure */
    for (int m = 0; m < c->n_measures; m++) {
        if (m == a || c->m[m].absent || c->src[m].num.kind != CV_ONE || !c->src[m].num.where.n)
            continue;
        struct cat_filter g;
        if (filter_and(&g, &c->filters[c->src[m].filter], &c->src[m].num.where) == 0 &&
            filter_eq(&g, fa))
            return m;
    }
    int cand[CATALOG_MAX_MEASURES], nc = 0;
    for (int m = 0; m < c->n_measures; m++) {
        if (m == a || c->m[m].absent)
            continue;
        const struct cat_filter *fm = &c->filters[c->src[m].filter];
        if (!filter_implies(c, fa, fm))
            continue;
        if (filter_implies(c, fm, fa) && m > a)
            continue; /* the same population: only an earlier measure */
        cand[nc++] = m;
    }
    int best = -1, best_score = -1;
    for (int i = 0; i < nc; i++) {
        int score = 0;
        for (int j = 0; j < nc; j++)
            score += filter_implies(c, &c->filters[c->src[cand[i]].filter],
                                    &c->filters[c->src[cand[j]].filter]);
        if (score > best_score) {
            best = cand[i];
            best_score = score;
        }
    }
    return best;
}

static int compile_measure(struct catalog *c, int id, const struct raw_measure *r, char *err,
                           size_t errlen)
{
    struct measure_def *d = &c->m[id];
    struct cat_src *s = &c->src[id];
    static const char *const kinds[] = {"count", "proportion", "rate", "mean", "pmpm"};
    int kind = -1;
    for (int k = 0; k < 5; k++)
        if (!strcasecmp(r->kind, kinds[k]))
            kind = k;
    if (kind < 0) {
        snprintf(err, errlen, "kind \"%.20s\" is not count, proportion, rate, mean or pmpm",
                 r->kind);
        return -1;
    }
    d->kind = (measure_kind)kind;
    if (!r->better[0] || !strcasecmp(r->better, "none"))
        d->better = BETTER_NONE;
    else if (!strcasecmp(r->better, "higher"))
        d->better = BETTER_HIGHER;
    else if (!strcasecmp(r->better, "lower"))
        d->better = BETTER_LOWER;
    else {
        snprintf(err, errlen, "better \"%.20s\" is not higher, lower or none", r->better);
        return -1;
    }
    if (!r->label[0]) {
        snprintf(err, errlen, "label is missing");
        return -1;
    }
    struct cat_filter f;
    struct lex x = {r->population[0] ? r->population : "all", ""};
    if (parse_filter(c, &x, &f, err, errlen) != 0 ||
        (lex_peek(&x)[0] && snprintf(err, errlen, "unexpected \"%.30s\"", x.tok) > 0)) {
        char e2[300];
        snprintf(e2, sizeof e2, "population: %.280s", err);
        snprintf(err, errlen, "%s", e2);
        return -1;
    }
    s->filter = filter_index(c, &f);
    memset(&s->sq, 0, sizeof s->sq);
    s->sq.kind = CV_NONE;
    const char *num = r->numerator, *den = r->denominator;
    if (kind == KIND_COUNT) {
        if ((num[0] && strcasecmp(num, "members")) || (den[0] && strcasecmp(den, "members"))) {
            snprintf(err, errlen, "a count has numerator = denominator = members");
            return -1;
        }
        num = den = "members";
    }
    if (!num[0] || !den[0]) {
        snprintf(err, errlen, "%s is missing", !num[0] ? "numerator" : "denominator");
        return -1;
    }
    char e1[300];
    if (parse_value(c, num, &s->num, e1, sizeof e1) != 0) {
        snprintf(err, errlen, "numerator: %s", e1);
        return -1;
    }
    if (parse_value(c, den, &s->den, e1, sizeof e1) != 0) {
        snprintf(err, errlen, "denominator: %s", e1);
        return -1;
    }
    if (s->den.kind == CV_ONE && s->den.where.n) {
        snprintf(err, errlen, "denominator: the members of the population (write the condition "
                 "in population)");
        return -1;
    }
    /* what each kind needs (measures.md) */
    int num_cost = s->num.kind == CV_SUM && s->num.e.n == 1 &&
                   column(c, s->num.e.col[0])->type == CT_COST;
    int num_score = s->num.kind == CV_SUM && s->num.e.n == 1 &&
                    column(c, s->num.e.col[0])->type == CT_SCORE;
    switch (kind) {
    case KIND_RATE:
        if (s->den.kind != CV_MONTHS || !value_is_count(c, &s->num)) {
            snprintf(err, errlen, "a rate counts events (numerator) per member_months (denominator)");
            return -1;
        }
        break;
    case KIND_PMPM:
        if (s->den.kind != CV_MONTHS || !num_cost) {
            snprintf(err, errlen, "a pmpm sums a cost column (numerator) per member_months");
            return -1;
        }
        break;
    case KIND_MEAN:
        if (s->den.kind != CV_ONE || s->num.kind != CV_SUM || s->num.e.n != 1) {
            snprintf(err, errlen, "a mean sums one column (numerator) over members (denominator)");
            return -1;
        }
        break;
    case KIND_PROPORTION:
        if (!value_is_count(c, &s->num) || !value_is_count(c, &s->den)) {
            snprintf(err, errlen, "a proportion's numerator and denominator are counts");
            return -1;
        }
        break;
    }
    if (r->sum_sq[0] && strcasecmp(r->sum_sq, "yes") && strcasecmp(r->sum_sq, "no")) {
        snprintf(err, errlen, "sum_sq \"%.8s\" is not yes or no", r->sum_sq);
        return -1;
    }
    if (!strcasecmp(r->sum_sq, "yes")) {
        if ((kind != KIND_MEAN && kind != KIND_PMPM) || s->num.kind != CV_SUM || s->num.e.n != 1) {
            snprintf(err, errlen, "sum_sq = yes needs a mean or pmpm of one column");
            return -1;
        }
        s->sq.kind = CV_SQ;
        s->sq.e = s->num.e;
    }
    (void)num_score;
    s->filter_cols = filter_cols(&f);
    s->value_cols = expr_cols(&s->num.e) | expr_cols(&s->den.e) | filter_cols(&s->num.where);
    d->numerator_is_count = value_is_count(c, &s->num);
    d->denominator_is_count = value_is_count(c, &s->den);
    snprintf(c->s_name[id], sizeof c->s_name[0], "%s", r->name);
    snprintf(c->s_label[id], sizeof c->s_label[0], "%s", r->label);
    snprintf(c->s_unit[id], sizeof c->s_unit[0], "%s", r->unit);
    snprintf(c->s_pop[id], sizeof c->s_pop[0], "%s",
             r->population_label[0] ? r->population_label : r->population[0] ? r->population : "all");
    d->name = c->s_name[id];
    d->label = c->s_label[id];
    d->unit = c->s_unit[id];
    d->population = c->s_pop[id];
    d->absent = 0;
    return 0;
}

static int compile(struct parse *p, char *err, size_t errlen)
{
    struct catalog *c = p->c;
    if (!p->have_catalog || !c->name[0] || !c->version[0]) {
        snprintf(err, errlen, "[catalog] name and version are required");
        return -1;
    }
    for (size_t i = 0; c->name[i]; i++)
        if (!isalnum((unsigned char)c->name[i]) && !strchr("-_.", c->name[i])) {
            snprintf(err, errlen, "[catalog] name: letters, digits, - _ . only");
            return -1;
        }
    if (p->nraw == 0) {
        snprintf(err, errlen, "no [measure ...] section");
        return -1;
    }
    /* ids: built-in names keep theirs, others follow in file order */
    int id_of[CATALOG_MAX_MEASURES], next = M__COUNT;
    for (int i = 0; i < p->nraw; i++) {
        id_of[i] = -1;
        for (int b = 0; b < M__COUNT; b++)
            if (!strcmp(p->raw[i].name, builtin_names[b]))
                id_of[i] = b;
        if (id_of[i] < 0) {
            if (next >= CATALOG_MAX_MEASURES) {
                snprintf(err, errlen, "[measure %s]: more than %d measures with the built-in ids",
                         p->raw[i].name, CATALOG_MAX_MEASURES);
                return -1;
            }
            id_of[i] = next++;
        }
    }
    c->n_measures = next;
    for (int m = 0; m < c->n_measures; m++) {
        c->m[m].absent = 1;
        c->m[m].name = m < M__COUNT ? builtin_names[m] : "";
        c->m[m].label = c->m[m].population = c->m[m].unit = "";
        c->m[m].parent = -1;
        c->m[m].ch_members = c->m[m].ch_months = c->m[m].ch_denominator = c->m[m].ch_numerator =
            c->m[m].ch_sum_sq = CH_NONE;
    }
    for (int i = 0; i < p->nraw; i++) {
        char e2[400];
        if (compile_measure(c, id_of[i], &p->raw[i], e2, sizeof e2) != 0) {
            snprintf(err, errlen, "[measure %s] %.300s", p->raw[i].name, e2);
            return -1;
        }
    }
    /* channels, grouped by population in order of first appearance */
    struct chbuild *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int group_of_filter[CATALOG_MAX_MEASURES], ngroups = 0;
    for (int i = 0; i < CATALOG_MAX_MEASURES; i++)
        group_of_filter[i] = -1;
    int rc = -1;
    for (int m = 0; m < c->n_measures; m++) {
        struct measure_def *d = &c->m[m];
        if (d->absent)
            continue;
        const struct cat_src *s = &c->src[m];
        if (group_of_filter[s->filter] < 0)
            group_of_filter[s->filter] = ngroups++;
        int g = group_of_filter[s->filter];
        struct cat_value one = {CV_ONE, {0, {0}}, {0, {{{0, {0}}, 0, 0}}}};
        struct cat_value months = one;
        months.kind = CV_MONTHS;
        int *fields[] = {&d->ch_members, &d->ch_months, &d->ch_denominator, &d->ch_numerator,
                         &d->ch_sum_sq};
        const struct cat_value *vals[] = {&one, &months, &s->den, &s->num, &s->sq};
        for (int f = 0; f < 5; f++) {
            if (vals[f]->kind == CV_NONE) {
                *fields[f] = CH_NONE;
                continue;
            }
            int ch = channel_of(c, b, s->filter, vals[f], g);
            if (ch < 0) {
                snprintf(err, errlen, "more than %d channels", CATALOG_MAX_CHANNELS);
                goto out;
            }
            *fields[f] = ch;
        }
    }
    /* renumber: group by group */
    int newid[CATALOG_MAX_CHANNELS], n = 0;
    for (int g = 0; g < ngroups; g++)
        for (int i = 0; i < b->n; i++)
            if (b->group[i] == g)
                newid[i] = n++;
    c->n_channels = b->n;
    for (int i = 0; i < b->n; i++)
        c->ch[newid[i]] = b->ch[i];
    for (int m = 0; m < c->n_measures; m++) {
        struct measure_def *d = &c->m[m];
        if (d->absent)
            continue;
        int *fields[] = {&d->ch_members, &d->ch_months, &d->ch_denominator, &d->ch_numerator,
                         &d->ch_sum_sq};
        for (int f = 0; f < 5; f++)
            if (*fields[f] >= 0)
                *fields[f] = newid[*fields[f]];
    }
    /* owners, leave-out, channel properties */
    int carriers[CATALOG_MAX_CHANNELS];
    memset(carriers, 0, sizeof carriers);
    for (int m = 0; m < c->n_measures; m++) {
        const struct measure_def *d = &c->m[m];
        if (d->absent)
            continue;
        int fields[] = {d->ch_members, d->ch_months, d->ch_denominator, d->ch_numerator,
                        d->ch_sum_sq};
        for (int f = 0; f < 5; f++) {
            int ch = fields[f];
            if (ch < 0)
                continue;
            int dup = 0;
            for (int g = 0; g < f; g++)
                dup |= fields[g] == ch;
            if (dup)
                continue;
            if (carriers[ch]++ == 0)
                c->ch[ch].owner = m;
            else if (c->ch[ch].owner != m)
                c->ch[ch].owner = -1;
        }
        if (d->kind == KIND_PMPM && d->ch_numerator >= 0)
            c->ch[d->ch_numerator].maxc = 1;
    }
    for (int ch = 0; ch < c->n_channels; ch++) {
        struct cat_channel *k = &c->ch[ch];
        int cost = 0;
        for (int i = 0; i < k->v.e.n; i++)
            cost |= column(c, k->v.e.col[i])->type == CT_COST;
        k->big = k->v.kind == CV_SUM && cost;
        k->wide = k->v.kind == CV_SQ && cost;
    }
    c->leave_out = 0;
    for (int m = 0; m < c->n_measures; m++) {
        const struct measure_def *d = &c->m[m];
        if (d->absent)
            continue;
        int own = 1;
        int fields[] = {d->ch_members, d->ch_months, d->ch_denominator, d->ch_numerator,
                        d->ch_sum_sq};
        for (int f = 0; f < 5; f++)
            if (fields[f] >= 0 && c->ch[fields[f]].owner != m)
                own = 0;
        if (own)
            c->leave_out |= 1u << m;
    }
    /* relations */
    for (int m = 0; m < c->n_measures; m++) {
        struct measure_def *d = &c->m[m];
        if (d->absent)
            continue;
        const struct cat_src *s = &c->src[m];
        d->parent = parent_of(c, m);
        d->num_per_den = num_per_den(c, d, s);
        d->den_per_member = den_per_member(c, s);
        d->sq_per_num = s->sq.kind == CV_SQ ? (double)column(c, s->sq.e.col[0])->max : 0;
        d->any_of = NULL;
        const struct cat_filter *w = &s->num.where;
        if (s->num.kind == CV_ONE && w->n == 1 && w->a[0].op == CAT_GE && w->a[0].v == 1 &&
            w->a[0].e.n >= 2) {
            int k = 0, ok = 1;
            for (int i = 0; ok && i < w->a[0].e.n; i++) {
                int found = -1;
                for (int q = 0; q < c->n_measures && found < 0; q++) {
                    const struct cat_src *t = &c->src[q];
                    if (q == m || c->m[q].absent || t->filter != s->filter || t->num.kind != CV_ONE ||
                        t->num.where.n != 1)
                        continue;
                    const struct cat_atom *a = &t->num.where.a[0];
                    if (a->op == CAT_GE && a->v == 1 && a->e.n == 1 && a->e.col[0] == w->a[0].e.col[i])
                        found = q;
                }
                if (found < 0)
                    ok = 0;
                else
                    c->any_of[m][k++] = found;
            }
            if (ok) {
                c->any_of[m][k] = -1;
                d->any_of = c->any_of[m];
            }
        }
    }
    rc = 0;
out:
    free(b);
    return rc;
}

static int parse(struct catalog *c, const char *path, const char *text, const char *name,
                 char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    struct parse *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    p->c = c;
    int rc = text ? conf_load_text(name, text, NULL, 0, NULL, on_key, p, err, errlen)
                  : conf_load(path, NULL, 0, NULL, on_key, p, err, errlen);
    if (rc == 0) {
        char e2[400];
        if (compile(p, e2, sizeof e2) != 0) {
            snprintf(err, errlen, "%.200s: %.380s", name, e2);
            rc = -1;
        }
    }
    if (rc == 0) {
        char hex[IDENTITY_HEX_SHA256];
        identity_sha256_hex(p->canon ? p->canon : "", p->ncanon, hex);
        snprintf(c->sha256, sizeof c->sha256, "%s", hex);
        if (path)
            snprintf(c->path, sizeof c->path, "%s", path);
    }
    free(p->canon);
    free(p);
    return rc;
}

int catalog_parse_text(struct catalog *c, const char *text, const char *name, char *err,
                       size_t errlen)
{
    return parse(c, NULL, text, name, err, errlen);
}

struct catalog *catalog_load(const char *path, char *err, size_t errlen)
{
    struct catalog *c = malloc(sizeof *c);
    if (!c) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    if (parse(c, path, NULL, path, err, errlen) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

void catalog_destroy(struct catalog **c)
{
    if (!c || !*c)
        return;
    if (!(*c)->builtin)
        free(*c);
    *c = NULL;
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

const char *catalog_default_path(void)
{
#ifdef EQ_CATALOG_INSTALLED
    if (is_file(EQ_CATALOG_INSTALLED))
        return EQ_CATALOG_INSTALLED;
#endif
#ifdef EQ_CATALOG_SOURCE
    if (is_file(EQ_CATALOG_SOURCE))
        return EQ_CATALOG_SOURCE;
#endif
    return NULL;
}

/* Catalogs opened so far: a program opens one or two, a test a few; the
 * same text read again is the same catalog (they live until exit). */
#define OPENED_MAX 32
static struct catalog *opened[OPENED_MAX];
static int nopened;

const struct catalog *catalog_open(const char *spec, char *err, size_t errlen)
{
    if (spec && !strcmp(spec, "builtin"))
        return catalog_builtin();
    const char *path = spec && spec[0] ? spec : catalog_default_path();
    if (!path)
        return catalog_builtin();
    struct catalog *c = catalog_load(path, err, errlen);
    if (!c)
        return NULL;
    for (int i = 0; i < nopened; i++)
        if (!strcmp(opened[i]->sha256, c->sha256) && !strcmp(opened[i]->path, c->path)) {
            free(c);
            return opened[i];
        }
    if (nopened >= OPENED_MAX) {
        free(c);
        snprintf(err, errlen, "%s: more than %d catalogs opened", path, OPENED_MAX);
        return NULL;
    }
    opened[nopened++] = c;
    return c;
}

void catalog_identity_text(const struct catalog *c, char *buf, size_t len)
{
    snprintf(buf, len, "%s %s sha256 %s (%s)", c->name, c->version, c->sha256,
             c->builtin ? "compiled in" : c->path);
}

unsigned catalog_flag_measures(const struct catalog *c)
{
    unsigned mask = 0;
    if (c->builtin)
        return 0;
    uint64_t flags = ~0ULL << CATALOG_N_BASE_COLS;
    for (int m = 0; m < c->n_measures; m++)
        if (!c->m[m].absent && ((c->src[m].filter_cols | c->src[m].value_cols) & flags))
            mask |= 1u << m;
    return mask;
}

/* ---- race_detail responses (race_detail.h): they need the file catalog --- */

int race_detail_maps_compile(struct race_detail_maps *m, const struct catalog *cat, char *err,
                             size_t errlen)
{
    m->n = 0;
    if (!cat || catalog_is_builtin(cat))
        return 0;
    const struct cat_strat *st = &cat->strat[S_RACE_DETAIL];
    for (int i = 0; i < st->nmaps && i < CAT_MAX_MAPS && m->n < RD_MAX_MAPS; i++) {
        uint32_t det = 0;
        uint8_t min = 0;
        size_t tl = strnlen(st->map_to[i], sizeof st->map_to[0]);
        if (race_detail_response(st->map_to[i], tl, &det, &min) < 0) {
            snprintf(err, errlen, "catalog map for race_detail: '%.48s' maps to '%.24s', which "
                     "is not a detailed or minimum-category code", st->map_from[i],
                     st->map_to[i]);
            return -1;
        }
        m->from[m->n] = st->map_from[i];
        m->det[m->n] = det;
        m->min[m->n++] = min;
    }
    return 0;
}

int race_detail_wanted(void)
{
    return catalog_stratifier_offered(S_RACE_DETAIL) || catalog_stratifier_offered(S_RACE_GROUP) ||
           catalog_stratifier_offered(S_RACE_AIC);
}
