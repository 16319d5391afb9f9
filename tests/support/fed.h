/*
 * fed.h - test fixtures for anything that needs a federation's identities:
 * a temporary directory, a CA made with common/ca.c, identities issued into
 * sub-directories, and capture of standard error (where log.h writes) so a
 * test can assert what was logged.
 */
#ifndef EQ_TEST_FED_H
#define EQ_TEST_FED_H

#include <stddef.h>
#include <time.h>

#include "ca.h"

/* mkdtemp under $TMPDIR (or /tmp) into out; 0 or -1. */
int fed_tmpdir(char *out, size_t outlen);
/* rm -rf dir (best effort). */
void fed_rmrf(const char *dir);

/* Create a CA in <root>/ca and return it opened (NULL on failure). */
ca_t *fed_ca(const char *root, const char *name);

/* Issue an identity into <root>/<sub>/ (transport + signing pair).
 * not_before/not_after 0 = defaults. 0 or a negative identity_err. */
int fed_issue(ca_t *ca, const char *root, const char *sub, identity_role role, const char *name,
              time_t not_before, time_t not_after);

/* "<root>/<sub>/<file>" into out (static-size buffers in tests). */
const char *fed_path(char *out, size_t outlen, const char *root, const char *sub,
                     const char *file);

/* Copy a file (e.g. a transport certificate into an enrolled directory). */
int fed_copy(const char *from, const char *to);

/* Redirect stderr (fd 2) into a temporary file until fed_capture_end, which
 * restores it and returns what was written (malloc'd, NUL-terminated). */
struct fed_capture {
    int saved_fd;
    char path[256];
};
int fed_capture_begin(struct fed_capture *c);
char *fed_capture_end(struct fed_capture *c);

/* Sleep ms milliseconds. */
void fed_sleep_ms(int ms);

#endif
