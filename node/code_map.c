/*
 * code_map.c - [map.*] rules for the adapters (see code_map.h).
 */
#include "code_map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog.h"
#include "record.h"

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

int code_map_target(int col, const char *to, size_t len)
{
    if (!to)
        return -1;
    trim(&to, &len);
    switch (col) {
    case COL_RACE: return catalog_code_find(race_codes, RACE__COUNT, to, len);
    case COL_ETHNICITY: return catalog_code_find(ethnicity_codes, ETH__COUNT, to, len);
    case COL_SEX: return catalog_code_find(sex_codes, SEX__COUNT, to, len);
    case COL_PAYER: return catalog_code_find(payer_codes, PAYER__COUNT, to, len);
    case COL_DISABILITY:
    case COL_CMC: return catalog_code_find(ynu_codes, YNU__COUNT, to, len);
    case COL_LANGUAGE: return record_lang_pack(to, (int)len);
    case COL_COUNTY: {
        if (len != 5)
            return -1;
        int v = 0;
        for (size_t i = 0; i < 5; i++) {
            if (to[i] < '0' || to[i] > '9')
                return -1;
            v = v * 10 + (to[i] - '0');
        }
        return v > 0 ? v : -1;
    }
    default: return -1;
    }
}

int code_map_init(struct code_map *m, const struct code_rule *const rules[COL__COUNT],
                  const int n[COL__COUNT], const int *cols, size_t ncols,
                  struct profile *prof, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    m->prof = prof;
    size_t total = 0;
    for (size_t k = 0; k < ncols; k++) {
        int col = cols[k];
        if (col < 0 || col >= COL__COUNT || n[col] < 0 || (n[col] > 0 && !rules[col])) {
            snprintf(err, errlen, "bad %s rule list", col >= 0 && col < COL__COUNT ? extract_column_names[col] : "code-map");
            return -1;
        }
        total += (size_t)n[col];
    }
    if (total == 0)
        return 0;
    struct profile_map_rule *mr = realloc(prof->map_rules, (prof->n_map_rules + total) * sizeof *mr);
    if (!mr) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    prof->map_rules = mr;
    for (size_t k = 0; k < ncols; k++) {
        int col = cols[k];
        m->base[col] = prof->n_map_rules;
        if (!n[col])
            continue;
        m->code[col] = calloc((size_t)n[col], sizeof *m->code[col]);
        if (!m->code[col]) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        m->rules[col] = rules[col];
        m->n[col] = n[col];
        for (int i = 0; i < n[col]; i++) {
            const struct code_rule *r = &rules[col][i];
            size_t tl = strnlen(r->to, sizeof r->to);
            int code = code_map_target(col, r->to, tl);
            if (code < 0) {
                m->n[col] = i; /* the rules resolved so far stay usable for free */
                snprintf(err, errlen, "%s rule %d: \"%.*s\" is not a %s%s code",
                         extract_column_names[col], i + 1, (int)(tl > 24 ? 24 : tl), r->to,
                         col == COL_COUNTY ? "5-digit FIPS" : "standard ",
                         col == COL_COUNTY ? "" : extract_column_names[col]);
                return -1;
            }
            m->code[col][i] = code;
            struct profile_map_rule *x = &mr[prof->n_map_rules++];
            memset(x, 0, sizeof *x);
            x->column = col;
            snprintf(x->from, sizeof x->from, "%.*s", (int)strnlen(r->from, sizeof r->from), r->from);
            snprintf(x->to, sizeof x->to, "%.*s", (int)tl, r->to);
        }
    }
    return 0;
}

int code_map_init_split(struct code_map *m, const struct code_rule *const rules[COL__COUNT],
                        const int n[COL__COUNT], const struct code_rule *county_rules,
                        int n_county_rules, const int *cols, size_t ncols,
                        struct profile *prof, char *err, size_t errlen)
{
    const struct code_rule *r[COL__COUNT];
    int nr[COL__COUNT];
    for (int k = 0; k < COL__COUNT; k++) {
        r[k] = rules[k];
        nr[k] = n[k];
    }
    r[COL_COUNTY] = county_rules;
    nr[COL_COUNTY] = n_county_rules;
    return code_map_init(m, r, nr, cols, ncols, prof, err, errlen);
}

int code_map_find(const struct code_map *m, int col, const char *s, size_t len)
{
    if (!s || col < 0 || col >= COL__COUNT)
        return -1;
    trim(&s, &len);
    if (len == 0)
        return -1;
    for (int i = 0; i < m->n[col]; i++) {
        const char *from = m->rules[col][i].from;
        size_t fl = strnlen(from, sizeof m->rules[col][i].from);
        trim(&from, &fl);
        if (fl == len && strncasecmp(from, s, len) == 0)
            return i;
    }
    return -1;
}

int code_map_code(const struct code_map *m, int col, int i)
{
    return m->code[col][i];
}

void code_map_hit(struct code_map *m, int col, int i)
{
    if (i >= 0 && i < m->n[col] && m->prof)
        m->prof->map_rules[m->base[col] + (size_t)i].hits++;
}

int code_map_apply(struct code_map *m, int col, const char *s)
{
    int i = code_map_find(m, col, s, s ? strlen(s) : 0);
    if (i < 0)
        return -1;
    code_map_hit(m, col, i);
    return m->code[col][i];
}

void code_map_free(struct code_map *m)
{
    for (int col = 0; col < COL__COUNT; col++) {
        free(m->code[col]);
        m->code[col] = NULL;
    }
}
