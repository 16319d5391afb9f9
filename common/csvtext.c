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

/* A JSON number for a field: an integer when the text is one (exactly),
 * else a real. NULL when the text is not a finite number. */
static json_t *number_of(const char *s)
{
    char *end;
    if (!strpbrk(s, ".eEnN")) {
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end != s && !*end && errno == 0)
            return json_integer((json_int_t)v);
    }
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(d))
        return NULL;
    return json_real(d);
}

char *csvtext_to_json(const csvtext_t *t, char *err, size_t errlen)
{
    json_t *arr = json_array();
    char *out = NULL;
    if (!arr)
        goto nomem;
    for (size_t r = 1; r < t->nrows; r++) {
        json_t *o = json_object();
        if (!o || json_array_append_new(arr, o))
            goto nomem;
        for (size_t c = 0; c < t->ncols; c++) {
            const char *key = csvtext_field(t, 0, c), *v = csvtext_field(t, r, c);
            json_t *j;
            if (!*v)
                j = json_null();
            else if (csvtext_is_numeric_column(key)) {
                j = number_of(v);
                if (!j) {
                    snprintf(err, errlen, "row %zu, column %zu (%s): not a number '%.40s'", r + 1,
                             c + 1, key, v);
                    goto out;
                }
            } else
                j = json_string(v);
            if (!j || json_object_set_new(o, key, j))
                goto nomem;
        }
    }
    /* %.10g in the CSV: 10 significant digits print every value back as it was. */
    char *s = json_dumps(arr, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    if (!s)
        goto nomem;
    size_t n = strlen(s);
    out = malloc(n + 2);
    if (out) {
        memcpy(out, s, n);
        out[n] = '\n';
        out[n + 1] = 0;
    } else {
        snprintf(err, errlen, "out of memory");
    }
    free(s);
    goto out;
nomem:
    snprintf(err, errlen, "out of memory");
out:
    json_decref(arr);
    return out;
}
