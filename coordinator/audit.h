/*
 * audit.h - the coordinator's append-only, hash-chained audit log
 * (security.md "Audit"): who connected, what was submitted with its hash,
 * what was released, who queried what.
 *
 * One entry per line, six fields separated by tabs:
 *
 *   seq  time  event  details  prev_hash  hash
 *
 *   seq        1, 2, 3, ... with no gaps
 *   time       RFC 3339 UTC ("2025-03-01T12:00:00Z")
 *   event      connection, round_open, submission, rejection, refusal,
 *              round_close, release, query
 *   details    one compact JSON object (no tabs or newlines: JSON escapes them)
 *   prev_hash  the hash field of the previous entry (64 zeros for the first)
 *   hash       lower-case hex SHA-256 of everything before it on the line,
 *              i.e. "seq\ttime\tevent\tdetails\tprev_hash\t"
 *
 * Appends take an exclusive flock on the file (the daemon and the CLI
 * both append) and fsync before returning. audit_append_many writes
 * several entries under one lock with one fsync (the daemon's group
 * commit); the lines are the same as if each had been appended alone. Removing an entry breaks the
 * seq sequence or the prev_hash link; altering one breaks its hash. (Cutting
 * off the newest entries is not detectable from the file alone.)
 */
#ifndef EQ_COORD_AUDIT_H
#define EQ_COORD_AUDIT_H

#include <stddef.h>

#define AUDIT_MAX_DETAILS 16384

/* Appends one entry. details_json must be a JSON object in compact form
 * without newlines or tabs (NULL = "{}"). Returns 0, or -1 (logged: cannot
 * open/lock/write the file, the last entry is torn or unparsable, details
 * too long or not a single line). */
int audit_append(const char *path, const char *event, const char *details_json);

/* One entry for audit_append_many. */
struct audit_entry {
    const char *event;   /* as for audit_append                             */
    const char *details; /* compact one-line JSON object; NULL = "{}"       */
};

/* Appends entries[0..n-1] in order, continuing the chain from the last
 * entry of the file, under one flock, with one write and one fsync: the
 * file gets exactly the lines n audit_append calls would have written
 * (seq, prev_hash and hash chained the same way; all with the time of this
 * call). An entry whose event or details are unusable (see audit_append)
 * is logged and skipped, the others are written. Returns 0 when all n were
 * written and flushed (n = 0: nothing to do), -1 otherwise (logged: an
 * entry skipped, or the file cannot be opened, locked, read, written or
 * flushed, in which case none of them may be on disk). */
int audit_append_many(const char *path, const struct audit_entry *entries, size_t n);

/* Same, building the details object from key/value string pairs ended by a
 * NULL key: audit_appendf(p, "submission", "org", org, "round", id, NULL).
 * Values that are NULL are written as JSON null. */
int audit_appendf(const char *path, const char *event, ...);

/* Recomputes the chain. Returns 0 if every entry is intact (*entries set
 * to their number when not NULL); 1 if the chain is broken, with
 * "path:LINE: what is wrong" in err (a seq gap or prev_hash mismatch for a
 * removed entry, a hash mismatch for an altered one, or a malformed line);
 * -1 if the file cannot be read (message in err). A missing file is an
 * empty, intact log. */
int audit_verify(const char *path, long *entries, char *err, size_t errlen);

#endif
