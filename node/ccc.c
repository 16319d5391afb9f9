/*
 * ccc.c - CCC v2 code list: loading and matching (see ccc.h).
 *
 * Codes are normalised to upper case without dots or blanks. An entry is a
 * range [lo, hi] (a single code has lo = hi) and matches a code whose first
 * strlen(lo) characters are >= lo and whose first strlen(hi) characters are
 * <= hi: that is prefix matching for a single code and the published
 * reading of ranges ("Q21.2-Q24" = Q21.2 .. Q24.x). A code shorter than an
 * end does not match: "Q21" is wider than the range "Q21.2-Q24".
 *
 * Every ICD-10-CM code starts with a three-character category (letter,
 * digit, letter or digit), so entries are indexed by the categories they
 * span; a lookup compares the code with the few entries of its category.
 */
#include "ccc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CODE_MAX 8
#define HEADS (26 * 10 * 36)

static const char *const names[CCC__COUNT] = {
    [CCC_NEUROMUSC] = "neuromusc", [CCC_CVD] = "cvd", [CCC_RESPIRATORY] = "respiratory",
    [CCC_RENAL] = "renal", [CCC_GI] = "gi", [CCC_HEMATO_IMMU] = "hemato_immu",
    [CCC_METABOLIC] = "metabolic", [CCC_CONGENI_GENETIC] = "congeni_genetic",
    [CCC_MALIGNANCY] = "malignancy", [CCC_NEONATAL] = "neonatal",
    [CCC_TECH_DEP] = "tech_dep", [CCC_TRANSPLANT] = "transplant",
};

struct entry {
    char lo[CODE_MAX + 1], hi[CODE_MAX + 1];
    uint8_t lolen, hilen;
    uint32_t mask;
};

struct xw {
    char code[24];                /* SNOMED CT concept id, digits        */
    uint32_t mask;                /* categories of its ICD-10-CM targets */
};

struct ccc {
    struct xw *xw;                /* sorted by code                       */
    size_t nxw;
    struct entry *e;
    size_t n, cap;
    uint32_t start[HEADS + 1];    /* entries of head h: idx[start[h]..start[h+1]) */
    uint32_t *idx;
};

int ccc_category_count(void)
{
    return CCC__COUNT;
}

const char *ccc_category_name(int i)
{
    return i >= 0 && i < CCC__COUNT ? names[i] : "?";
}

size_t ccc_entry_count(const struct ccc *c)
{
    return c ? c->n : 0;
}

/* Upper case, dots and blanks dropped; -1 when not a code shape. */
static int normalise(const char *s, size_t n, char out[CODE_MAX + 1])
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '.' || ch == ' ' || ch == '\t')
            continue;
        if (!isalnum(ch) || o == CODE_MAX)
            return -1;
        out[o++] = (char)toupper(ch);
    }
    out[o] = '\0';
    if (o < 3 || !isupper((unsigned char)out[0]) || !isdigit((unsigned char)out[1]))
        return -1;
    return (int)o;
}

static int alnum_index(char ch)
{
    return isdigit((unsigned char)ch) ? ch - '0' : 10 + (ch - 'A');
}

/* Index of a code's three-character category; order-preserving. */
static int head_of(const char *code)
{
    return ((code[0] - 'A') * 10 + (code[1] - '0')) * 36 + alnum_index(code[2]);
}

static uint32_t mask_of(const char *cat, size_t n)
{
    for (int i = 0; i < CCC__COUNT; i++)
        if (strlen(names[i]) == n && !memcmp(names[i], cat, n))
            return 1u << i;
    return 0;
}

static int add_entry(struct ccc *c, const struct entry *e)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 512;
        struct entry *ne = realloc(c->e, cap * sizeof *ne);
        if (!ne)
            return -1;
        c->e = ne;
        c->cap = cap;
    }
    c->e[c->n++] = *e;
    return 0;
}

static int build_index(struct ccc *c)
{
    size_t total = 0;
    memset(c->start, 0, sizeof c->start);
    for (size_t i = 0; i < c->n; i++) {
        int a = head_of(c->e[i].lo), b = head_of(c->e[i].hi);
        for (int h = a; h <= b; h++)
            c->start[h + 1]++;
        total += (size_t)(b - a + 1);
    }
    for (int h = 0; h < HEADS; h++)
        c->start[h + 1] += c->start[h];
    c->idx = malloc((total ? total : 1) * sizeof *c->idx);
    uint32_t *fill = calloc(HEADS, sizeof *fill);
    if (!c->idx || !fill) {
        free(fill);
        return -1;
    }
    for (size_t i = 0; i < c->n; i++) {
        int a = head_of(c->e[i].lo), b = head_of(c->e[i].hi);
        for (int h = a; h <= b; h++)
            c->idx[c->start[h] + fill[h]++] = (uint32_t)i;
    }
    free(fill);
    return 0;
}

struct ccc *ccc_load(const char *path, char *err, size_t errlen)
{
    struct ccc *c = calloc(1, sizeof *c);
    FILE *f = path ? fopen(path, "r") : NULL;
    char line[1024];
    unsigned long lineno = 0;
    int header = 0;
    if (!c || !f) {
        snprintf(err, errlen, "%s: %s", path ? path : "(no CCC code list)",
                 !c ? "out of memory" : strerror(errno));
        goto fail;
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            snprintf(err, errlen, "%s:%lu: line too long", path, lineno);
            goto fail;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (!len || line[0] == '#')
            continue;
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2 || strchr(t2 + 1, '\t')) {
            snprintf(err, errlen, "%s:%lu: expected 3 tab-separated fields", path, lineno);
            goto fail;
        }
        if (!header) {
            if (strcmp(line, "category\tsubcategory\tcode") != 0) {
                snprintf(err, errlen, "%s:%lu: expected the header \"category<TAB>subcategory<TAB>code\"",
                         path, lineno);
                goto fail;
            }
            header = 1;
            continue;
        }
        struct entry e;
        memset(&e, 0, sizeof e);
        e.mask = mask_of(line, (size_t)(t1 - line));
        if (!e.mask) {
            snprintf(err, errlen, "%s:%lu: unknown category \"%.*s\"", path, lineno,
                     (int)((t1 - line) > 40 ? 40 : (t1 - line)), line);
            goto fail;
        }
        /* The paper's technology-dependence and transplantation flags are
         * its Devices and Transplantation subcategories. */
        size_t sublen = (size_t)(t2 - t1 - 1);
        if (sublen == 7 && !strncmp(t1 + 1, "Devices", 7))
            e.mask |= 1u << CCC_TECH_DEP;
        if (sublen == 15 && !strncmp(t1 + 1, "Transplantation", 15))
            e.mask |= 1u << CCC_TRANSPLANT;
        const char *code = t2 + 1;
        const char *dash = strchr(code, '-');
        int lo = normalise(code, dash ? (size_t)(dash - code) : strlen(code), e.lo);
        int hi = dash ? normalise(dash + 1, strlen(dash + 1), e.hi) : lo;
        if (!dash && lo > 0)
            memcpy(e.hi, e.lo, sizeof e.hi);
        if (lo < 0 || hi < 0) {
            snprintf(err, errlen, "%s:%lu: \"%.20s\" is not an ICD-10-CM code or range", path, lineno, code);
            goto fail;
        }
        e.lolen = (uint8_t)lo;
        e.hilen = (uint8_t)hi;
        size_t m = e.lolen < e.hilen ? e.lolen : e.hilen;
        if (memcmp(e.lo, e.hi, m) > 0 || head_of(e.lo) > head_of(e.hi)) {
            snprintf(err, errlen, "%s:%lu: range \"%.20s\" ends before it starts", path, lineno, code);
            goto fail;
        }
        if (add_entry(c, &e) != 0) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        goto fail;
    }
    if (!c->n) {
        snprintf(err, errlen, "%s: no codes", path);
        goto fail;
    }
    if (build_index(c) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    fclose(f);
    return c;
fail:
    if (f)
        fclose(f);
    ccc_destroy(&c);
    return NULL;
}

void ccc_destroy(struct ccc **p)
{
    if (!p || !*p)
        return;
    free((*p)->e);
    free((*p)->xw);
    free((*p)->idx);
    free(*p);
    *p = NULL;
}

static int xw_cmp(const void *a, const void *b)
{
    const struct xw *x = a, *y = b;
    size_t lx = strlen(x->code), ly = strlen(y->code);
    return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x->code, y->code);
}

static uint32_t classify_icd(const struct ccc *c, const char *code, size_t len);

int ccc_add_crosswalk(struct ccc *c, const char *path, char *err, size_t errlen)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    char line[512];
    unsigned long lineno = 0;
    int header = 0, rc = -1;
    if (!c || !f) {
        snprintf(err, errlen, "%s: %s", path ? path : "(no crosswalk)", !c ? "no code list" : strerror(errno));
        goto out;
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (!len || line[0] == '#')
            continue;
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t1) {
            snprintf(err, errlen, "%s:%lu: expected tab-separated fields", path, lineno);
            goto out;
        }
        if (!header) {
            if (strncmp(line, "snomed\ticd10cm", 14) != 0) {
                snprintf(err, errlen, "%s:%lu: expected the header \"snomed<TAB>icd10cm<TAB>...\"", path, lineno);
                goto out;
            }
            header = 1;
            continue;
        }
        size_t sl = (size_t)(t1 - line);
        int ok = sl > 0 && sl < sizeof c->xw[0].code;
        for (size_t i = 0; ok && i < sl; i++)
            ok = isdigit((unsigned char)line[i]);
        size_t il = t2 ? (size_t)(t2 - t1 - 1) : strlen(t1 + 1);
        char norm[CODE_MAX + 1];
        if (!ok || normalise(t1 + 1, il, norm) < 0) {
            snprintf(err, errlen, "%s:%lu: expected a SNOMED CT concept id and an ICD-10-CM code", path, lineno);
            goto out;
        }
        struct xw *nx = realloc(c->xw, (c->nxw + 1) * sizeof *nx);
        if (!nx) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        c->xw = nx;
        memcpy(nx[c->nxw].code, line, sl);
        nx[c->nxw].code[sl] = '\0';
        nx[c->nxw].mask = classify_icd(c, t1 + 1, il);
        c->nxw++;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        goto out;
    }
    qsort(c->xw, c->nxw, sizeof *c->xw, xw_cmp);
    /* one concept may map to several codes: merge their masks */
    size_t o = 0;
    for (size_t i = 0; i < c->nxw; i++) {
        if (o && !strcmp(c->xw[o - 1].code, c->xw[i].code))
            c->xw[o - 1].mask |= c->xw[i].mask;
        else
            c->xw[o++] = c->xw[i];
    }
    c->nxw = o;
    rc = 0;
out:
    if (f)
        fclose(f);
    return rc;
}

uint32_t ccc_classify(const struct ccc *c, const char *code, size_t len)
{
    if (!c || !code)
        return 0;
    while (len && (*code == ' ' || *code == '\t')) {
        code++;
        len--;
    }
    while (len && (code[len - 1] == ' ' || code[len - 1] == '\t'))
        len--;
    if (len && c->nxw && len < sizeof c->xw[0].code && isdigit((unsigned char)code[0])) {
        struct xw key;
        memcpy(key.code, code, len);
        key.code[len] = '\0';
        const struct xw *x = bsearch(&key, c->xw, c->nxw, sizeof *c->xw, xw_cmp);
        return x ? x->mask : 0;
    }
    return classify_icd(c, code, len);
}

static uint32_t classify_icd(const struct ccc *c, const char *code, size_t len)
{
    char k[CODE_MAX + 1];
    if (!c || !code)
        return 0;
    /* trim surrounding blanks only; inner ones make it not a code */
    while (len && (*code == ' ' || *code == '\t')) {
        code++;
        len--;
    }
    while (len && (code[len - 1] == ' ' || code[len - 1] == '\t'))
        len--;
    for (size_t i = 0; i < len; i++)
        if (code[i] == ' ' || code[i] == '\t')
            return 0;
    int n = normalise(code, len, k);
    if (n < 0)
        return 0;
    int h = head_of(k);
    uint32_t mask = 0;
    for (uint32_t j = c->start[h]; j < c->start[h + 1]; j++) {
        const struct entry *e = &c->e[c->idx[j]];
        if (n < e->lolen || n < e->hilen)
            continue;
        if (memcmp(k, e->lo, e->lolen) >= 0 && memcmp(k, e->hi, e->hilen) <= 0)
            mask |= e->mask;
    }
    return mask;
}
