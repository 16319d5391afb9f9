/*
 * catalog_file.h - reading a catalog file (docs/catalog.md): measures and
 * stratifiers as data, which the federation agrees on by identity (name,
 * version, SHA-256 of the canonical text).
 *
 * The file is INI (common/conf.c: libinih, lines of any length):
 *   [catalog]            name, version, description
 *   [measure ID]         kind, population, numerator, denominator, sum_sq,
 *                        better, label, unit, population_label
 *   [stratifier NAME]    column or derived, codes, open, label,
 *                        parent.CODE = PARENT, map.LOCAL = CODE
 * It is parsed once and compiled into the structures the node's tally
 * reads (catalog_def.h): filters over columns, channels, and the relations
 * suppression's model needs (parent, num_per_den, den_per_member,
 * sq_per_num, any_of), all derived from the definitions.
 *
 * Canonical text (what the SHA-256 covers): every "key = value" in file
 * order under its "[section]" line, each trimmed, comments and blank lines
 * left out, LF line ends; so re-indenting or commenting a file keeps its
 * identity, and any change of a definition changes it.
 */
#ifndef EQ_CATALOG_FILE_H
#define EQ_CATALOG_FILE_H

#include <stddef.h>

#include "catalog.h"

/* configs/catalog.ini as it was when the programs were built. */
extern const char catalog_default_text[];

/* Parses text (a whole catalog file; `name` for messages) into c (zeroed
 * first). Returns 0, or -1 with "name:line: message". */
int catalog_parse_text(struct catalog *c, const char *text, const char *name, char *err,
                       size_t errlen);

/* Reads the catalog file at path into a new catalog (free with
 * catalog_destroy). NULL with "path:line: message" on an error. */
struct catalog *catalog_load(const char *path, char *err, size_t errlen);
void catalog_destroy(struct catalog **c);

/* The default catalog file: the installed one (share/equity/catalog.ini
 * under the install prefix), else the source tree's configs/catalog.ini;
 * NULL when neither exists. */
const char *catalog_default_path(void);

/* The catalog a program runs with: `spec` is a file path, "builtin" (the
 * compiled-in catalog), or NULL/"" for the default file (the compiled-in
 * catalog when no default file exists). The result lives until exit.
 * NULL with a message on an error. */
const struct catalog *catalog_open(const char *spec, char *err, size_t errlen);

/* Prints a one-line identity: "NAME VERSION sha256 HEX (PATH)". */
void catalog_identity_text(const struct catalog *c, char *buf, size_t len);

/* Bit mask (bit = measure id) of the measures of c that read one of c's
 * extra flag columns (an input without those columns cannot feed them). */
unsigned catalog_flag_measures(const struct catalog *c);

#endif
