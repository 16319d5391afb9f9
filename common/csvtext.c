/*
 * csvtext.c - CSV text as rows of fields, and its JSON form (see csvtext.h).
 *
 * Fields are copied into one arena (unquoted, NUL-terminated); rows are
 * arrays of offsets into it, so a table is three allocations.
 */
#include "csvtext.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

struct csvtext {
    char *arena;
    size_t *off;      /* nrows * ncols offsets into arena                  */
    size_t nrows, ncols;
};

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 256;
    while (nc < need)
        nc *= 2;
    void *q = realloc(*p, nc * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = nc;
    return 0;
}

csvtext_t *csvtext_parse(const char *name, const char *buf, size_t len, char *err,
                         size_t errlen)
{
    csvtext_t *t = calloc(1, sizeof *t);
    size_t acap = 0, alen = 0, ocap = 0, ooff = 0;
    size_t line = 1, col = 1, row_fields = 0;
    if (!t)
        goto nomem;
    if (len == 0) {
        snprintf(err, errlen, "%s:1:1: empty text (no header)", name);
        goto fail;
    }
    size_t i = 0;
    for (;;) {
        /* one field starts at i */
        if (grow((void **)&t->off, &ocap, ooff + 1, sizeof *t->off))
            goto nomem;
        t->off[ooff++] = alen;
        row_fields++;
        if (i < len && buf[i] == '"') {
            size_t qline = line;
            i++;
            for (;;) {
                if (i >= len) {
                    snprintf(err, errlen, "%s:%zu:%zu: quoted field is not closed", name,
                             qline, col);
                    goto fail;
                }
                if (buf[i] == '"') {
                    if (i + 1 < len && buf[i + 1] == '"') {
                        i++;
                    } else {
                        i++;
                        break;
                    }
                }
                if (buf[i] == '\n')
                    line++;
                if (grow((void **)&t->arena, &acap, alen + 2, 1))
                    goto nomem;
                t->arena[alen++] = buf[i++];
            }
        } else {
            while (i < len && buf[i] != ',' && buf[i] != '\n' &&
                   !(buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n')) {
                if (buf[i] == '"') {
                    snprintf(err, errlen, "%s:%zu:%zu: quote inside an unquoted field", name,
                             line, col);
                    goto fail;
                }
                if (grow((void **)&t->arena, &acap, alen + 2, 1))
                    goto nomem;
                t->arena[alen++] = buf[i++];
            }
        }
        if (grow((void **)&t->arena, &acap, alen + 1, 1))
            goto nomem;
        t->arena[alen++] = 0;
        int end_row = 0, end_text = 0;
        if (i >= len) {
            end_row = end_text = 1;
        } else if (buf[i] == ',') {
            i++;
            col++;
        } else if (buf[i] == '\r' || buf[i] == '\n') {
            i += buf[i] == '\r' ? 2 : 1;
            end_row = 1;
            end_text = i >= len;
        } else {
            snprintf(err, errlen, "%s:%zu:%zu: text after a closing quote", name, line, col);
            goto fail;
        }
        if (end_row) {
            if (t->nrows == 0)
                t->ncols = row_fields;
            else if (row_fields != t->ncols) {
                snprintf(err, errlen, "%s:%zu:1: %zu fields, the header has %zu", name, line,
                         row_fields, t->ncols);
                goto fail;
            }
            t->nrows++;
            row_fields = 0;
            line++;
            col = 1;
            if (end_text)
                break;
        }
    }
    if (!t->arena && !(t->arena = calloc(1, 1)))
        goto nomem;
    return t;
nomem:
    snprintf(err, errlen, "%s: out of memory", name);
fail:
    if (t) {
        free(t->arena);
        free(t->off);
        free(t);
    }
    return NULL;
}

void csvtext_destroy(csvtext_t **pt)
{
    if (!pt || !*pt)
        return;
    free((*pt)->arena);
    free((*pt)->off);
    free(*pt);
    *pt = NULL;
}

size_t csvtext_rows(const csvtext_t *t)
{
    return t->nrows;
}

size_t csvtext_cols(const csvtext_t *t)
{
    return t->ncols;
}

const char *csvtext_field(const csvtext_t *t, size_t row, size_t col)
{
    if (row >= t->nrows || col >= t->ncols)
        return NULL;
    return t->arena + t->off[row * t->ncols + col];
}

int csvtext_col(const csvtext_t *t, const char *name)
{
    for (size_t c = 0; c < t->ncols && t->nrows > 0; c++)
        if (strcmp(csvtext_field(t, 0, c), name) == 0)
            return (int)c;
    return -1;
}

void csvtext_write_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void csvtext_write_row(FILE *f, const csvtext_t *t, size_t row)
{
    for (size_t c = 0; c < t->ncols; c++) {
        if (c)
            fputc(',', f);
        csvtext_write_field(f, csvtext_field(t, row, c));
    }
    fputc('\n', f);
}

int csvtext_is_numeric_column(const char *name)
{
    static const char *const numeric[] = {"members", "member_months", "denominator",
                                          "numerator", "sum_sq", "suppressed", "n_orgs",
                                          "n_withheld", "value", "lower", "upper", "se"};
    for (size_t i = 0; i < sizeof numeric / sizeof numeric[0]; i++)
        if (strcmp(name, numeric[i]) == 0)
            return 1;
    return 0;
}

int csvtext_json_number_ok(const char *s)
{
    /* RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return 0;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (*p < '0' || *p > '9')
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

int csvtext_json_string(FILE *f, const char *s)
{
    json_t *j = json_string(s);
    int rc = j ? json_dumpf(j, f, JSON_ENCODE_ANY) : -1;
    json_decref(j);
    return rc;
}

/* Writes one field's JSON value: null for an empty field; a number in a
 * numeric column, as its own text when that is a JSON number (the CSV's
 * exact decimals: whole cents, 1/10000 months), else the double it reads as
 * (e.g. "+5"); a string otherwise. -1 with err set when a numeric column
 * holds a non-number or a non-finite one. */
static int write_value(FILE *f, const char *key, const char *v, size_t row, size_t col,
                       char *err, size_t errlen)
{
    if (!*v) {
        fputs("null", f);
        return 0;
    }
    if (!csvtext_is_numeric_column(key)) {
        if (csvtext_json_string(f, v) == 0)
            return 0;
        snprintf(err, errlen, "row %zu, column %zu (%s): not UTF-8 text", row + 1, col + 1, key);
        return -1;
    }
    if (csvtext_json_number_ok(v)) {
        fputs(v, f);
        return 0;
    }
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || errno == ERANGE || !isfinite(d)) {
        snprintf(err, errlen, "row %zu, column %zu (%s): not a number '%.40s'", row + 1, col + 1,
                 key, v);
        return -1;
    }
    fprintf(f, "%.17g", d);
    return 0;
}

static int write_json_rows(FILE *f, const csvtext_t *t, char *err, size_t errlen)
{
    fputs(t->nrows > 1 ? "[\n" : "[", f);
    for (size_t r = 1; r < t->nrows; r++) {
        fputs(" {\n", f);
        for (size_t c = 0; c < t->ncols; c++) {
            const char *key = csvtext_field(t, 0, c), *v = csvtext_field(t, r, c);
            fputs("  ", f);
            if (csvtext_json_string(f, key)) {
                snprintf(err, errlen, "column %zu: name is not UTF-8 text", c + 1);
                return -1;
            }
            fputs(": ", f);
            if (write_value(f, key, v, r, c, err, errlen))
                return -1;
            fputs(c + 1 < t->ncols ? ",\n" : "\n", f);
        }
        fputs(r + 1 < t->nrows ? " },\n" : " }\n", f);
    }
    fputs("]\n", f);
    if (!ferror(f))
        return 0;
    snprintf(err, errlen, "out of memory");
    return -1;
}

char *csvtext_to_json(const csvtext_t *t, char *err, size_t errlen)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int rc = write_json_rows(f, t, err, errlen);
    if (fclose(f) != 0 && rc == 0) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    if (rc) {
        free(out);
        return NULL;
    }
    return out;
}
