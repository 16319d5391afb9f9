/*
 * conf.h - table-driven INI configuration (libinih underneath).
 *
 * A program lists every setting once (section, key, type, range, default,
 * required, help) and gets a filled struct back, or "file:line: message"
 * on the first error: unknown key, bad value, out of range, missing
 * required key. Sections whose keys are free (code maps, column names) are
 * handed to a callback. conf_print() shows the effective settings, as
 * `check-config` prints them.
 */
#ifndef EQ_CONF_H
#define EQ_CONF_H

#include <stddef.h>
#include <stdio.h>

typedef enum { CONF_STR, CONF_INT, CONF_DOUBLE, CONF_BOOL, CONF_ENUM } conf_type;

struct conf_key {
    const char *section;
    const char *name;
    conf_type type;
    size_t offset;          /* offsetof in the target struct              */
    size_t size;            /* CONF_STR: buffer size                      */
    double min, max;        /* CONF_INT, CONF_DOUBLE                      */
    const char *def;        /* default as text; NULL = none               */
    int required;
    const char *const *values; /* CONF_ENUM: NULL-terminated names (int)  */
    const char *help;
};

/* Called for keys of sections that the table does not list; return 0 to
 * accept, or -1 with a message in err (the line number is added). A NULL
 * callback makes such keys errors. */
typedef int (*conf_free_fn)(void *ctx, const char *section, const char *key,
                            const char *value, char *err, size_t errlen);

/* Applies defaults, then reads path (NULL: defaults only). Returns 0, or -1
 * with "path:line: message". */
int conf_load(const char *path, const struct conf_key *keys, size_t nkeys, void *out,
              conf_free_fn free_fn, void *ctx, char *err, size_t errlen);

/* conf_load, and lines[i] (nkeys entries; NULL: not wanted) receives the
 * line of keys[i] in path, 0 when the file does not set it. Lines may be
 * of any length; a key set twice is an error naming both lines; the
 * missing-required-key error names the line of its [section] (or the
 * file's last line). */
int conf_load_lines(const char *path, const struct conf_key *keys, size_t nkeys, void *out,
                    conf_free_fn free_fn, void *ctx, int *lines, char *err, size_t errlen);

/* conf_load of text held in memory (a NUL-terminated whole file); `name`
 * stands for the path in messages. */
int conf_load_text(const char *name, const char *text, const struct conf_key *keys, size_t nkeys,
                   void *out, conf_free_fn free_fn, void *ctx, char *err, size_t errlen);

/* Prints "[section] key = value" for every setting. */
void conf_print(FILE *f, const struct conf_key *keys, size_t nkeys, const void *in);

#endif
