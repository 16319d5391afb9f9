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
 * both append) and fsync before returning. A writer (audit_writer_open ..
 * _commit) chains several entries under one lock and writes them with one
 * write and one fsync (the daemon's group commit); the lines are the same
 * as if each had been appended alone. Removing an entry breaks the seq
 * sequence or the prev_hash link; altering one breaks its hash. Cutting off
 * the newest entries is not detectable from the file alone: the
 * coordinator keeps the head of the chain (seq and hash, the "anchor") in
 * its SQLite store, moved in the same transaction as what the entries
 * record (rounds.c), and audit_verify_anchored checks the file against it.
 *
 * A torn tail (a write cut short by a crash: the file does not end with a
 * newline) is cut off when the log is next opened for appending, back to
 * the last whole entry, and an entry "repair" records how many bytes were
 * removed and their SHA-256. A malformed whole last line is not repaired:
 * appends fail until an operator looks (audit verify).
 */
#ifndef EQ_COORD_AUDIT_H
#define EQ_COORD_AUDIT_H

#include <stddef.h>

#define AUDIT_MAX_DETAILS 16384

/* An open, locked log to append to (see above). */
typedef struct audit_writer audit_writer_t;

/* Opens path (created 0640 if missing), takes the exclusive lock and reads
 * the last entry; a torn tail is repaired (cut off, "repair" entry written
 * and flushed at once). NULL on failure (logged: cannot open, lock or read,
 * the last whole entry is malformed). */
audit_writer_t *audit_writer_open(const char *path);
/* Chains one entry after the last one (kept in memory until commit).
 * details as for audit_append. 0, or -1 (logged) and the writer is failed:
 * commit then writes nothing. */
int audit_writer_add(audit_writer_t *w, const char *event, const char *details);
/* Compares the log's head with the store's anchor (seq, hash; seq 0 = no
 * anchor yet): if the log ends before the anchor, or its entry at the
 * anchor's seq has another hash, logs an error and adds a "repair" entry
 * that records it (returns 1); 0 if the log reaches the anchor; -1 if the
 * entry could not be added. */
int audit_writer_anchor(audit_writer_t *w, long anchor_seq, const char *anchor_hash);
/* seq and hash of the last entry chained (pending ones included). */
void audit_writer_head(const audit_writer_t *w, long *seq, char hash[65]);
/* Writes the pending entries with one write and one fsync, unlocks, frees
 * w. 0, or -1 (logged): then none or only some of them may be on disk (a
 * torn tail, repaired at the next open). */
int audit_writer_commit(audit_writer_t *w);
/* Unlocks and frees w without writing the pending entries. NULL is fine. */
void audit_writer_abort(audit_writer_t *w);

/* Appends one entry. details_json must be a JSON object in compact form
 * without newlines or tabs (NULL = "{}"). Returns 0, or -1 (logged: cannot
 * open/lock/write the file, the last whole entry is unparsable, details too
 * long or not a single line). A torn tail is repaired first (see above). */
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

/* audit_verify, and also against the store's anchor (anchor_seq 0: none):
 * the log must reach entry anchor_seq and that entry's hash must be
 * anchor_hash, else 1 ("the newest N entries were cut off", "the log was
 * replaced"). *repairs (may be NULL) receives the number of "repair"
 * entries (torn tails cut off, entries lost in a crash). */
int audit_verify_anchored(const char *path, long anchor_seq, const char *anchor_hash,
                          long *entries, long *repairs, char *err, size_t errlen);

#endif
