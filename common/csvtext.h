/*
 * csvtext.h - the CSV text of released results (cells CSV, metrics CSV)
 * as rows of fields, for the coordinator's query service (filtering rows)
 * and equity-query (JSON and human tables).
 *
 * RFC 4180 quoting ("a,b" and "" inside quotes); rows end with LF or CRLF.
 * The first row is the header. The text is untrusted: a row with a field
 * count different from the header's, or an unterminated quote, is an
 * error reported as "name:line:column: message".
 */
#ifndef EQ_CSVTEXT_H
#define EQ_CSVTEXT_H

#include <stddef.h>
#include <stdio.h>

typedef struct csvtext csvtext_t;

/* Parses len bytes of buf (need not be NUL-terminated). Returns a new
 * table (caller owns; csvtext_destroy) or NULL with a message in err. An
 * empty text is an error (no header). */
csvtext_t *csvtext_parse(const char *name, const char *buf, size_t len, char *err,
                         size_t errlen);
void csvtext_destroy(csvtext_t **t);

/* Rows, the header included. */
size_t csvtext_rows(const csvtext_t *t);
size_t csvtext_cols(const csvtext_t *t);
/* Borrowed field text ("" for an empty field); NULL when out of range. */
const char *csvtext_field(const csvtext_t *t, size_t row, size_t col);
/* The header's column of that name, or -1. */
int csvtext_col(const csvtext_t *t, const char *name);

/* Writes one row as CSV (quoting fields that need it) ending in LF. */
/* Writes one RFC 4180 field: quoted (with "" escapes) only when it holds a
 * comma, a quote or a line break. */
void csvtext_write_field(FILE *f, const char *s);

void csvtext_write_row(FILE *f, const csvtext_t *t, size_t row);

/* 1 if a column of that name holds numbers in the cells and metrics CSVs
 * (members, ..., n_withheld, value, lower, upper, se), else 0. */
int csvtext_is_numeric_column(const char *name);

/* 1 if s is a JSON number as RFC 8259 spells it (no "+", ".5", "nan"). */
int csvtext_json_number_ok(const char *s);

/* Writes s as a JSON string (quoted, escaped). 0, or -1 (not UTF-8, or no
 * memory). */
int csvtext_json_string(FILE *f, const char *s);

/* The rows after the header as a JSON array of objects keyed by the header:
 * numeric columns as JSON numbers (the CSV's own text, so exact decimals stay
 * exact: no double in between), empty fields as null, the rest as
 * strings. Returns a malloc'ed NUL-terminated text ending in a newline, or
 * NULL (no memory, or a numeric column holding a non-number: err says where). */
char *csvtext_to_json(const csvtext_t *t, char *err, size_t errlen);

#endif
