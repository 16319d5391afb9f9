/* audit_release.h - a released cells CSV (interfaces.md) as the auditor reads
 * it: one row per (measure, stratifier, stratum), numbers or withheld. */
#ifndef AUDIT_RELEASE_H
#define AUDIT_RELEASE_H

#include <stddef.h>

enum { CH_MEMBERS, CH_MM, CH_DEN, CH_NUM, CH_SQ, CH_N };

struct rrow {
    char measure[40], strat[64], stratum[96];
    double v[CH_N];
    int suppressed;
    char reason[24];
};

struct release {
    char path[512];
    char org[64], round[64];
    struct rrow *rows;
    size_t n;
    int combo; /* which sum of worlds it shows (index into the audit's combos) */
};

/* Read PATH; 0 or -1 with a message on stderr. The header must start with
 * interfaces.md's columns in order; trailing columns are ignored. */
int release_read(const char *path, struct release *rel);
/* Write REL as a cells CSV; 0 or -1. */
int release_write(const char *path, const struct release *rel);
void release_free(struct release *rel);

#endif
