/*
 * cells.c - the cell set: tables, cells, lookups and the CSV/JSON writers.
 *
 * Writers never print the numbers of a withheld cell, never print
 * max_contrib, and write to a temporary file that is renamed into place
 * only once complete (a crash leaves the old file or none, never half).
 */
#include "cells.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "csvtext.h"
#include "race_detail.h"
#include "wire.h"

static const char *const reason_names[REASON__COUNT] = {
    "", "count", "complement", "denominator", "dominance", "secondary",
    "policy", "min_orgs", "partial", "not_available"};

const char *cell_reason_name(cell_reason r)
{
    if ((int)r < 0 || r >= REASON__COUNT)
        return "?";
    return reason_names[r];
}

int cell_reason_find(const char *name)
{
    for (int i = 0; i < REASON__COUNT; i++)
        if (strcmp(reason_names[i], name) == 0)
            return i;
    return -1;
}

struct cellset *cellset_new(void)
{
    struct cellset *cs = calloc(1, sizeof *cs);
    if (cs) {
        cs->k = 11;
        cs->dominance = 0.6;
    }
    return cs;
}

static void table_free(struct cell_table *t)
{
    for (int d = 0; d < t->ndim; d++) {
        if (!t->labels[d])
            continue;
        for (int i = 0; i < t->card[d]; i++)
            free(t->labels[d][i]);
        free(t->labels[d]);
    }
}

void cellset_destroy(struct cellset **pcs)
{
    if (!pcs || !*pcs)
        return;
    struct cellset *cs = *pcs;
    for (int i = 0; i < cs->ntables; i++)
        table_free(&cs->tables[i]);
    free(cs->tables);
    free(cs->cells);
    free(cs);
    *pcs = NULL;
}

struct cellset *cellset_copy(const struct cellset *src)
{
    struct cellset *cs = cellset_new();
    if (!cs)
        return NULL;
    memcpy(cs->org, src->org, sizeof cs->org);
    memcpy(cs->round, src->round, sizeof cs->round);
    memcpy(cs->period, src->period, sizeof cs->period);
    cs->k = src->k;
    cs->dominance = src->dominance;
    for (int t = 0; t < src->ntables; t++) {
        const struct cell_table *tb = &src->tables[t];
        const char *const *labels[CELLS_MAX_DIM] = {NULL};
        for (int d = 0; d < tb->ndim; d++)
            labels[d] = (const char *const *)tb->labels[d];
        if (cellset_add_table(cs, tb->ndim, tb->dim, tb->card, labels) != t)
            goto fail;
    }
    if (src->ncells) {
        cs->cells = malloc(src->ncells * sizeof *cs->cells);
        if (!cs->cells)
            goto fail;
        memcpy(cs->cells, src->cells, src->ncells * sizeof *cs->cells);
        cs->ncells = cs->cap = src->ncells;
    }
    return cs;
fail:
    cellset_destroy(&cs);
    return NULL;
}

int cellset_add_table(struct cellset *cs, int ndim, const int *dims,
                      const int *cards, const char *const *const *labels)
{
    if (ndim < 0 || ndim > CELLS_MAX_DIM)
        return -1;
    struct cell_table t;
    memset(&t, 0, sizeof t);
    t.ndim = ndim;
    t.nstrata = 1;
    size_t used = 0;
    if (ndim == 0)
        snprintf(t.name, sizeof t.name, "total");
    for (int d = 0; d < ndim; d++) {
        const char *sname = catalog_stratifier_name(dims[d]);
        if (!sname || dims[d] == S_TOTAL || cards[d] <= 0 ||
            cards[d] > catalog_stratifier_max_codes(dims[d]))
            goto fail;
        for (int e = 0; e < d; e++)
            if (t.dim[e] == dims[d])
                goto fail;
        t.dim[d] = dims[d];
        t.card[d] = cards[d];
        /* each card is at most 4096 (catalog.h's limits): the product of
         * three fits int64, and is bounded before it is used */
        if ((int64_t)t.nstrata * cards[d] > CELLS_MAX_STRATA)
            goto fail;
        t.nstrata *= cards[d];
        int n = snprintf(t.name + used, sizeof t.name - used, "%s%s", d ? "*" : "", sname);
        if (n < 0 || (size_t)n >= sizeof t.name - used)
            goto fail;
        used += (size_t)n;
        t.labels[d] = calloc((size_t)cards[d], sizeof(char *));
        if (!t.labels[d])
            goto fail;
        for (int i = 0; i < cards[d]; i++) {
            t.labels[d][i] = strdup(labels[d][i]);
            if (!t.labels[d][i])
                goto fail;
        }
    }
    struct cell_table *nt = realloc(cs->tables, (size_t)(cs->ntables + 1) * sizeof *nt);
    if (!nt)
        goto fail;
    cs->tables = nt;
    cs->tables[cs->ntables] = t;
    return cs->ntables++;
fail:
    table_free(&t);
    return -1;
}

int cell_table_stratum(const struct cell_table *t, const int *idx)
{
    int s = 0;
    for (int d = 0; d < t->ndim; d++)
        s = s * t->card[d] + idx[d];
    return s;
}

void cell_table_coords(const struct cell_table *t, int s, int *idx)
{
    for (int d = CELLS_MAX_DIM - 1; d >= 0; d--) {
        if (d >= t->ndim) {
            idx[d] = 0;
            continue;
        }
        idx[d] = s % t->card[d];
        s /= t->card[d];
    }
}

int cellset_find_table(const struct cellset *cs, const char *name)
{
    for (int i = 0; i < cs->ntables; i++)
        if (strcmp(cs->tables[i].name, name) == 0)
            return i;
    return -1;
}

struct cell *cellset_append(struct cellset *cs, const struct cell *c)
{
    if (cs->ncells == cs->cap) {
        size_t ncap = cs->cap ? cs->cap * 2 : 1024;
        struct cell *n = realloc(cs->cells, ncap * sizeof *n);
        if (!n)
            return NULL;
        cs->cells = n;
        cs->cap = ncap;
    }
    cs->cells[cs->ncells] = *c;
    return &cs->cells[cs->ncells++];
}

static int cell_cmp(const void *a, const void *b)
{
    const struct cell *x = a, *y = b;
    if (x->measure != y->measure)
        return x->measure < y->measure ? -1 : 1;
    if (x->table != y->table)
        return x->table < y->table ? -1 : 1;
    if (x->stratum != y->stratum)
        return x->stratum < y->stratum ? -1 : 1;
    return 0;
}

void cellset_sort(struct cellset *cs)
{
    if (cs->ncells > 1)
        qsort(cs->cells, cs->ncells, sizeof *cs->cells, cell_cmp);
}

struct cell *cellset_get(const struct cellset *cs, int measure, int table, int stratum)
{
    struct cell key = {.measure = measure, .table = table, .stratum = stratum};
    return bsearch(&key, cs->cells, cs->ncells, sizeof *cs->cells, cell_cmp);
}

void cellset_stratum_label(const struct cellset *cs, const struct cell *c, char *buf, size_t len)
{
    const struct cell_table *t = &cs->tables[c->table];
    if (t->ndim == 0) {
        snprintf(buf, len, "all");
    } else if (t->ndim == 1) {
        snprintf(buf, len, "%s", t->labels[0][c->stratum]);
    } else if (t->ndim == 2) {
        int a = c->stratum / t->card[1], b = c->stratum % t->card[1];
        snprintf(buf, len, "%s*%s", t->labels[0][a], t->labels[1][b]);
    } else {
        int idx[CELLS_MAX_DIM];
        cell_table_coords(t, c->stratum, idx);
        snprintf(buf, len, "%s*%s*%s", t->labels[0][idx[0]], t->labels[1][idx[1]],
                 t->labels[2][idx[2]]);
    }
}

/* The parent of stratum `label` of stratifier s in the race hierarchy:
 * its stratifier in *ps and its code, or NULL (a root, MULTIPLE, UNKNOWN). */
static const char *race_parent(int s, const char *label, int *ps)
{
    if (s == S_RACE_DETAIL) {
        int k = catalog_code_find(race_detail_codes, RD_N, label, strlen(label));
        if (k < 0)
            return NULL;
        *ps = S_RACE_GROUP;
        return race_group_codes[race_detail_group(k)];
    }
    if (s == S_RACE_GROUP) {
        int k = catalog_code_find(race_group_codes, RG_N, label, strlen(label));
        if (k < 0)
            return NULL;
        int m = race_group_minimum(k);
        *ps = m == RD_MIN_HISPANIC ? S_ETHNICITY : S_RACE;
        return m == RD_MIN_HISPANIC ? ethnicity_codes[ETH_HISPANIC] : race_codes[m];
    }
    return NULL;
}

static int race_label_index(char **labels, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(labels[i], s))
            return i;
    return -1;
}

int cellset_coarsened_to(const struct cellset *cs, const struct cell *c, char *buf, size_t len)
{
    if (c->reason == REASON_NONE || c->reason == REASON_NOT_AVAILABLE)
        return 0;
    const struct cell_table *t = &cs->tables[c->table];
    int d = -1;
    for (int i = 0; i < t->ndim && d < 0; i++)
        if (t->dim[i] == S_RACE_DETAIL || t->dim[i] == S_RACE_GROUP)
            d = i;
    if (d < 0)
        return 0;
    int idx[2] = {t->ndim == 2 ? c->stratum / t->card[1] : c->stratum,
                  t->ndim == 2 ? c->stratum % t->card[1] : 0};
    int s = t->dim[d];
    const char *lab = t->labels[d][idx[d]];
    const char *other = t->ndim == 2 ? t->labels[1 - d][idx[1 - d]] : NULL;
    int ps;
    for (const char *pl; (pl = race_parent(s, lab, &ps)) != NULL; s = ps, lab = pl) {
        char name[64];
        if (t->ndim == 1)
            snprintf(name, sizeof name, "%s", catalog_stratifier_name(ps));
        else
            snprintf(name, sizeof name, "%s*%s",
                     catalog_stratifier_name(d == 0 ? ps : t->dim[0]),
                     catalog_stratifier_name(d == 0 ? t->dim[1] : ps));
        int pt = cellset_find_table(cs, name);
        if (pt < 0)
            continue;
        const struct cell_table *P = &cs->tables[pt];
        int a = race_label_index(P->labels[d], P->card[d], pl);
        int b = other ? race_label_index(P->labels[1 - d], P->card[1 - d], other) : 0;
        if (a < 0 || b < 0)
            continue;
        int st = P->ndim == 1 ? a : d == 0 ? a * P->card[1] + b : b * P->card[1] + a;
        const struct cell *pc = cellset_get(cs, c->measure, pt, st);
        if (pc && pc->reason == REASON_NONE) {
            if (other)
                snprintf(buf, len, "%s:%s*%s", name, d == 0 ? pl : other, d == 0 ? other : pl);
            else
                snprintf(buf, len, "%s:%s", name, pl);
            return 1;
        }
    }
    return 0;
}

void cellset_count_reasons(const struct cellset *cs, uint64_t counts[REASON__COUNT])
{
    memset(counts, 0, REASON__COUNT * sizeof counts[0]);
    for (size_t i = 0; i < cs->ncells; i++)
        counts[cs->cells[i].reason]++;
}

int cell_field_decimals(int measure, int field)
{
    const struct measure_def *d = catalog_measure(measure);
    if (!d)
        return 0;
    switch (field) {
    case CELL_F_MONTHS:
        return CELL_MONTHS_DECIMALS;
    case CELL_F_DEN:
        return d->kind == KIND_RATE || d->kind == KIND_PMPM ? CELL_MONTHS_DECIMALS : 0;
    case CELL_F_NUM:
        return d->kind == KIND_PMPM || d->kind == KIND_MEAN ? 2 : 0;
    case CELL_F_SQ:
        return d->kind == KIND_PMPM || d->kind == KIND_MEAN ? 4 : 0;
    default:
        return 0;
    }
}

static const double pow10_tab[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
                                   100000000};

cell_i128 cell_field(const struct cell *c, int field)
{
    switch (field) {
    case CELL_F_MEMBERS: return c->members;
    case CELL_F_MONTHS: return c->member_months;
    case CELL_F_DEN: return c->denominator;
    case CELL_F_NUM: return c->numerator;
    default: return c->sum_sq;
    }
}

void cell_field_set(struct cell *c, int field, cell_i128 v)
{
    switch (field) {
    case CELL_F_MEMBERS: c->members = (int64_t)v; break;
    case CELL_F_MONTHS: c->member_months = (int64_t)v; break;
    case CELL_F_DEN: c->denominator = (int64_t)v; break;
    case CELL_F_NUM: c->numerator = (int64_t)v; break;
    default: c->sum_sq = v; break;
    }
}

int cell_field_channel(const struct measure_def *d, int field)
{
    switch (field) {
    case CELL_F_MEMBERS: return d->ch_members;
    case CELL_F_MONTHS: return d->ch_months;
    case CELL_F_DEN: return d->ch_denominator;
    case CELL_F_NUM: return d->ch_numerator;
    default: return d->ch_sum_sq;
    }
}

double cell_value(const struct cell *c, int field)
{
    return (double)cell_field(c, field) / pow10_tab[cell_field_decimals(c->measure, field)];
}

void cells_format_scaled(char *buf, size_t len, cell_i128 v, int decimals, int trim)
{
    char digits[48];
    int n = 0, neg = v < 0;
    unsigned __int128 u = neg ? -(unsigned __int128)v : (unsigned __int128)v;
    do {
        digits[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u && n < (int)sizeof digits);
    while (n <= decimals)
        digits[n++] = '0';
    /* digits[] is little-endian: the fraction is digits[0..decimals) */
    int skip = 0;
    if (trim)
        while (skip < decimals && digits[skip] == '0')
            skip++;
    char out[56];
    size_t o = 0;
    if (neg)
        out[o++] = '-';
    for (int i = n - 1; i >= decimals; i--)
        out[o++] = digits[i];
    if (skip < decimals) {
        out[o++] = '.';
        for (int i = decimals - 1; i >= skip; i--)
            out[o++] = digits[i];
    }
    out[o] = '\0';
    snprintf(buf, len, "%s", out);
}

int cells_parse_scaled(const char *s, size_t len, int decimals, int round_excess,
                       cell_i128 *out)
{
    static const cell_i128 limit = (cell_i128)1000000000000000000LL * 1000000000000000000LL;
    size_t i = 0;
    int neg = 0;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    cell_i128 v = 0;
    int ndig = 0, nfrac = 0, nexcess = 0, excess = 0, round_up = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, ndig++) {
        v = v * 10 + (s[i] - '0');
        if (v >= limit)
            return -3;
    }
    if (i < len && s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, ndig++) {
            if (nfrac < decimals) {
                v = v * 10 + (s[i] - '0');
                nfrac++;
                if (v >= limit)
                    return -3;
                continue;
            }
            /* beyond the unit: the first such digit decides rounding */
            if (nexcess++ == 0 && s[i] >= '5')
                round_up = 1;
            if (s[i] != '0')
                excess = 1;
        }
    }
    if (i != len || ndig == 0)
        return -1;
    if (excess && !round_excess)
        return -2;
    for (; nfrac < decimals; nfrac++) {
        v *= 10;
        if (v >= limit)
            return -3;
    }
    if (excess && round_up)
        v++;
    *out = neg ? -v : v;
    return 0;
}

void cell_format_fields(const struct cell *c, char out[5][CELL_FIELD_TEXT])
{
    int m = c->measure;
    snprintf(out[0], CELL_FIELD_TEXT, "%lld", (long long)c->members);
    cells_format_scaled(out[1], CELL_FIELD_TEXT, c->member_months, CELL_MONTHS_DECIMALS, 1);
    cells_format_scaled(out[2], CELL_FIELD_TEXT, c->denominator, cell_field_decimals(m, CELL_F_DEN),
                        1);
    /* cost sums in whole cents: always two decimals */
    cells_format_scaled(out[3], CELL_FIELD_TEXT, c->numerator, cell_field_decimals(m, CELL_F_NUM),
                        catalog_measure(m)->kind != KIND_PMPM);
    cells_format_scaled(out[4], CELL_FIELD_TEXT, c->sum_sq, cell_field_decimals(m, CELL_F_SQ), 1);
}

struct csv_args {
    const struct cellset *cs;
    int pooled;
};

static int write_csv_body(FILE *f, void *arg)
{
    const struct csv_args *a = arg;
    const struct cellset *cs = a->cs;
    fputs("org,round,measure,stratifier,stratum,members,member_months,denominator,"
          "numerator,sum_sq,suppressed,reason", f);
    fputs(a->pooled ? ",n_orgs,n_withheld\n" : "\n", f);
    char label[256], v[5][CELL_FIELD_TEXT];
    for (size_t i = 0; i < cs->ncells; i++) {
        const struct cell *c = &cs->cells[i];
        csvtext_write_field(f, cs->org);
        fputc(',', f);
        csvtext_write_field(f, cs->round);
        fprintf(f, ",%s,", catalog_measure(c->measure)->name);
        csvtext_write_field(f, cs->tables[c->table].name);
        fputc(',', f);
        cellset_stratum_label(cs, c, label, sizeof label);
        csvtext_write_field(f, label);
        if (c->reason == REASON_NONE) {
            cell_format_fields(c, v);
            fprintf(f, ",%s,%s,%s,%s,%s,0,%s", v[0], v[1], v[2], v[3], v[4],
                    a->pooled && c->n_withheld > 0 ? "partial" : "");
        } else {
            fprintf(f, ",,,,,,1,%s", cell_reason_name(c->reason));
            if (cellset_coarsened_to(cs, c, label, sizeof label))
                fprintf(f, ";coarsened_to=%s", label);
        }
        if (a->pooled)
            fprintf(f, ",%d,%d", c->n_orgs, c->n_withheld);
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

int cellset_write_csv(const struct cellset *cs, const char *path)
{
    struct csv_args a = {cs, 0};
    return atomic_file_write(path, write_csv_body, &a);
}

int cellset_write_pooled_csv(const struct cellset *cs, const char *path)
{
    struct csv_args a = {cs, 1};
    return atomic_file_write(path, write_csv_body, &a);
}

/* The cells as JSON: the same exact decimals as the CSV (whole cents,
 * 1/10000 member months), written as number text so that no double rounds
 * them on the way (jansson only writes doubles). */
static int write_json_body(FILE *f, void *arg)
{
    const struct cellset *cs = arg;
    const char *head[][2] = {{"org", cs->org}, {"round", cs->round}, {"period", cs->period}};
    fputs("{\n", f);
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++) {
        fprintf(f, " \"%s\": ", head[i][0]);
        if (csvtext_json_string(f, head[i][1]))
            goto bad;
        fputs(",\n", f);
    }
    fprintf(f, " \"k\": %d,\n \"cells\": [", cs->k);
    char label[256], v[5][CELL_FIELD_TEXT];
    for (size_t i = 0; i < cs->ncells; i++) {
        const struct cell *c = &cs->cells[i];
        fprintf(f, "%s\n  {\n   \"measure\": \"%s\",\n   \"stratifier\": ", i ? "," : "",
                catalog_measure(c->measure)->name);
        cellset_stratum_label(cs, c, label, sizeof label);
        if (csvtext_json_string(f, cs->tables[c->table].name) || fputs(",\n   \"stratum\": ", f) < 0 ||
            csvtext_json_string(f, label))
            goto bad;
        static const char *const names[5] = {"members", "member_months", "denominator",
                                             "numerator", "sum_sq"};
        if (c->reason == REASON_NONE)
            cell_format_fields(c, v);
        for (int k = 0; k < 5; k++)
            fprintf(f, ",\n   \"%s\": %s", names[k], c->reason == REASON_NONE ? v[k] : "null");
        if (c->reason == REASON_NONE)
            fputs(",\n   \"suppressed\": false,\n   \"reason\": null\n  }", f);
        else
        {
            fprintf(f, ",\n   \"suppressed\": true,\n   \"reason\": \"%s\"",
                    cell_reason_name(c->reason));
            if (cellset_coarsened_to(cs, c, label, sizeof label))
                fprintf(f, ",\n   \"coarsened_to\": \"%s\"", label);
            fputs("\n  }", f);
        }
    }
    fputs(cs->ncells ? "\n ]\n}\n" : "]\n}\n", f);
    return ferror(f) ? -1 : 0;
bad:
    errno = EILSEQ;
    return -1;
}

int cellset_write_json(const struct cellset *cs, const char *path)
{
    return atomic_file_write(path, write_json_body, (void *)cs);
}

/* ---- Builder ------------------------------------------------------------ */

/* Decoding must stay O(n) in the number of cells whatever a sender puts in a
 * submission: labels and cells are found through open-addressing hash
 * tables (indices into their arrays, -1 when empty), grown at half load. */
struct index_hash {
    int *slot;
    size_t cap;                 /* a power of two, or 0                       */
};

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33; /* the murmur3 finaliser */
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static int index_hash_reserve(struct index_hash *h, size_t n, uint64_t (*hash_of)(const void *, int),
                              const void *ctx)
{
    if (2 * (n + 1) <= h->cap)
        return 0;
    size_t ncap = h->cap ? h->cap * 2 : 64;
    while (2 * (n + 1) > ncap)
        ncap *= 2;
    int *ns = malloc(ncap * sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < ncap; i++)
        ns[i] = -1;
    for (size_t i = 0; i < h->cap; i++) {
        if (h->slot[i] < 0)
            continue;
        size_t j = hash_of(ctx, h->slot[i]) & (ncap - 1);
        while (ns[j] >= 0)
            j = (j + 1) & (ncap - 1);
        ns[j] = h->slot[i];
    }
    free(h->slot);
    h->slot = ns;
    h->cap = ncap;
    return 0;
}

struct label_list {
    char **v;
    int n, cap;
    struct index_hash h;
};

static uint64_t label_hash_of(const void *ctx, int i)
{
    const struct label_list *l = ctx;
    return hash_bytes(l->v[i], strlen(l->v[i]));
}

struct btable {
    char name[64];
    int ndim;
    int dim[CELLS_MAX_DIM];
    struct label_list labels[CELLS_MAX_DIM];
};

struct brow {
    struct cell c;      /* values; c.table = btable index                   */
    int idx[CELLS_MAX_DIM];
};

/* (measure, table, label index per dimension) of a row, packed: at most 64
 * measures and 2^14 tables, labels below 2^14 (catalog.h's limits: at most
 * 4096 codes a stratifier). */
static uint64_t brow_key(const struct brow *r)
{
    return (uint64_t)r->c.measure << 58 | (uint64_t)r->c.table << 44 |
           (uint64_t)r->idx[0] << 28 | (uint64_t)r->idx[1] << 14 | (uint64_t)r->idx[2];
}

struct cellset_builder {
    struct btable *tables;
    int ntables;
    int last_table;     /* rows mostly come table by table                  */
    struct brow *rows;
    size_t nrows, cap;
    struct index_hash rowh;
};

static uint64_t row_hash_of(const void *ctx, int i)
{
    const struct cellset_builder *b = ctx;
    return hash_u64(brow_key(&b->rows[i]));
}

struct cellset_builder *cellset_builder_new(void)
{
    struct cellset_builder *b = calloc(1, sizeof(struct cellset_builder));
    if (b)
        b->last_table = -1;
    return b;
}

void cellset_builder_destroy(struct cellset_builder **pb)
{
    if (!pb || !*pb)
        return;
    struct cellset_builder *b = *pb;
    for (int t = 0; t < b->ntables; t++)
        for (int d = 0; d < b->tables[t].ndim; d++) {
            for (int i = 0; i < b->tables[t].labels[d].n; i++)
                free(b->tables[t].labels[d].v[i]);
            free(b->tables[t].labels[d].v);
            free(b->tables[t].labels[d].h.slot);
        }
    free(b->tables);
    free(b->rows);
    free(b->rowh.slot);
    free(b);
    *pb = NULL;
}

/* Index of label s in l, added when new; -1 on no memory. */
static int label_index(struct label_list *l, const char *s, size_t len)
{
    uint64_t hv = hash_bytes(s, len);
    if (l->h.cap) {
        for (size_t j = hv & (l->h.cap - 1); l->h.slot[j] >= 0; j = (j + 1) & (l->h.cap - 1)) {
            const char *o = l->v[l->h.slot[j]];
            if (strlen(o) == len && memcmp(o, s, len) == 0)
                return l->h.slot[j];
        }
    }
    if (index_hash_reserve(&l->h, (size_t)l->n + 1, label_hash_of, l) != 0)
        return -1;
    if (l->n == l->cap) {
        int ncap = l->cap ? l->cap * 2 : 16;
        char **nv = realloc(l->v, (size_t)ncap * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n] = strndup(s, len);
    if (!l->v[l->n])
        return -1;
    size_t j = hv & (l->h.cap - 1);
    while (l->h.slot[j] >= 0)
        j = (j + 1) & (l->h.cap - 1);
    l->h.slot[j] = l->n;
    return l->n++;
}

/* Most tables one cell set may hold: the total, every stratifier, every
 * ordered pair of two different stratifiers, and as many three-way tables
 * again (below 2^14, brow_key's field). */
#define BUILDER_MAX_TABLES (2 * S__COUNT * S__COUNT)

static int builder_table(struct cellset_builder *b, const char *stratifier, char *err, size_t errlen)
{
    if (b->last_table >= 0 && strcmp(b->tables[b->last_table].name, stratifier) == 0)
        return b->last_table;
    for (int t = 0; t < b->ntables; t++)
        if (strcmp(b->tables[t].name, stratifier) == 0)
            return b->last_table = t;
    if (b->ntables >= BUILDER_MAX_TABLES) {
        snprintf(err, errlen, "more than %d tables", BUILDER_MAX_TABLES);
        return -1;
    }
    struct btable nt;
    memset(&nt, 0, sizeof nt);
    size_t slen = strlen(stratifier);
    if (slen >= sizeof nt.name) {
        snprintf(err, errlen, "stratifier name too long");
        return -1;
    }
    memcpy(nt.name, stratifier, slen + 1);
    if (strcmp(stratifier, "total") != 0) {
        const char *p = stratifier;
        while (1) {
            const char *star = strchr(p, '*');
            size_t len = star ? (size_t)(star - p) : strlen(p);
            int s = catalog_stratifier_find(p, len);
            if (s <= S_TOTAL || nt.ndim == CELLS_MAX_DIM) {
                snprintf(err, errlen, "unknown stratifier \"%.60s\"", stratifier);
                return -1;
            }
            nt.dim[nt.ndim++] = s;
            if (!star)
                break;
            p = star + 1;
        }
        for (int d = 1; d < nt.ndim; d++)
            for (int e = 0; e < d; e++)
                if (nt.dim[d] == nt.dim[e]) {
                    snprintf(err, errlen, "stratifier \"%.60s\" crosses a stratifier with itself",
                             stratifier);
                    return -1;
                }
    }
    struct btable *n = realloc(b->tables, (size_t)(b->ntables + 1) * sizeof *n);
    if (!n) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    b->tables = n;
    b->tables[b->ntables] = nt;
    return b->last_table = b->ntables++;
}

int cellset_builder_add(struct cellset_builder *b, const char *measure,
                        const char *stratifier, const char *stratum,
                        const struct cell *values, char *err, size_t errlen)
{
    int m = catalog_measure_find(measure);
    if (m < 0) {
        snprintf(err, errlen, "unknown measure \"%.60s\"", measure);
        return -1;
    }
    int t = builder_table(b, stratifier, err, errlen);
    if (t < 0)
        return -1;
    struct btable *bt = &b->tables[t];
    struct brow r;
    memset(&r, 0, sizeof r);
    r.c = *values;
    r.c.measure = m;
    r.c.table = t;
    if (bt->ndim == 0) {
        if (strcmp(stratum, "all") != 0) {
            snprintf(err, errlen, "total row must have stratum \"all\", not \"%.60s\"", stratum);
            return -1;
        }
    } else {
        const char *p = stratum;
        for (int d = 0; d < bt->ndim; d++) {
            const char *star = strchr(p, '*');
            if ((d < bt->ndim - 1) != (star != NULL)) {
                snprintf(err, errlen, "stratum \"%.60s\" does not have %d part(s) for \"%s\"",
                         stratum, bt->ndim, bt->name);
                return -1;
            }
            size_t len = star ? (size_t)(star - p) : strlen(p);
            if (len == 0) {
                snprintf(err, errlen, "empty stratum part in \"%.60s\"", stratum);
                return -1;
            }
            int s = bt->dim[d];
            if (!catalog_stratum_code_ok(s, p, len)) {
                snprintf(err, errlen, "\"%.*s\" is not a %s code", (int)(len > 40 ? 40 : len), p,
                         catalog_stratifier_name(s));
                return -1;
            }
            r.idx[d] = label_index(&bt->labels[d], p, len);
            if (r.idx[d] < 0) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            if (r.idx[d] >= catalog_stratifier_max_codes(s)) {
                snprintf(err, errlen, "more than %d %s strata", catalog_stratifier_max_codes(s),
                         catalog_stratifier_name(s));
                return -1;
            }
            p = star ? star + 1 : p + len;
        }
    }
    uint64_t key = brow_key(&r), hv = hash_u64(key);
    if (b->rowh.cap) {
        for (size_t j = hv & (b->rowh.cap - 1); b->rowh.slot[j] >= 0; j = (j + 1) & (b->rowh.cap - 1))
            if (brow_key(&b->rows[b->rowh.slot[j]]) == key) {
                snprintf(err, errlen, "repeated cell %s/%s/%.60s", measure, stratifier, stratum);
                return -1;
            }
    }
    if (b->nrows >= INT_MAX - 1 || index_hash_reserve(&b->rowh, b->nrows + 1, row_hash_of, b) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (b->nrows == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 256;
        struct brow *nr = realloc(b->rows, ncap * sizeof *nr);
        if (!nr) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        b->rows = nr;
        b->cap = ncap;
    }
    size_t j = hv & (b->rowh.cap - 1);
    while (b->rowh.slot[j] >= 0)
        j = (j + 1) & (b->rowh.cap - 1);
    b->rowh.slot[j] = (int)b->nrows;
    b->rows[b->nrows++] = r;
    return 0;
}

struct cellset *cellset_builder_finish(struct cellset_builder **pb)
{
    struct cellset_builder *b = *pb;
    struct cellset *cs = cellset_new();
    if (!cs)
        goto fail;
    for (int t = 0; t < b->ntables; t++) {
        struct btable *bt = &b->tables[t];
        int cards[CELLS_MAX_DIM] = {0};
        const char *const *labels[CELLS_MAX_DIM] = {NULL};
        for (int d = 0; d < bt->ndim; d++) {
            cards[d] = bt->labels[d].n;
            labels[d] = (const char *const *)bt->labels[d].v;
        }
        if (cellset_add_table(cs, bt->ndim, bt->dim, cards, labels) != t)
            goto fail;
    }
    for (size_t i = 0; i < b->nrows; i++) {
        struct brow *r = &b->rows[i];
        const struct cell_table *tab = &cs->tables[r->c.table];
        r->c.stratum = cell_table_stratum(tab, r->idx);
        if (!cellset_append(cs, &r->c))
            goto fail;
    }
    cellset_sort(cs);
    cellset_builder_destroy(pb);
    return cs;
fail:
    cellset_destroy(&cs);
    cellset_builder_destroy(pb);
    return NULL;
}

int cellset_write_file(const struct cellset *cs, const char *path)
{
    size_t n = strlen(path);
    if (n > 4 && strcmp(path + n - 4, ".csv") == 0)
        return cellset_write_csv(cs, path);
    if (n > 5 && strcmp(path + n - 5, ".json") == 0)
        return cellset_write_json(cs, path);
    if (n > 3 && strcmp(path + n - 3, ".pb") == 0)
        return cellset_write_pb(cs, path);
    return -2;
}
