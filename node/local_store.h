/*
 * local_store.h - the node's on-site record of every round it has seen
 * ([store] dir of node.ini; protocol.md). One file per round and state,
 * each written whole (temporary file, fsync, rename) with mode 0600:
 *
 *   <round>.request.pb     the coordinator's signed RoundRequest envelope
 *   <round>.pending        readable summary of a request held for approval
 *   <round>.approved       written by `equity-node approve` (who, when)
 *   <round>.refused        the reason this node refused the round
 *   <round>.submission.pb  the signed Submission envelope, exactly the bytes
 *                          sent; write-once: never replaced by other bytes
 *   <round>.ack            the coordinator's acknowledgement (text)
 *   <round>.failed         a final error from the coordinator (text)
 *   <round>.status         the status last reported to the coordinator for
 *                          a round not answered yet (held or failing: state,
 *                          code, reason; text), resent after a restart
 *
 * Round ids become file names, so only [A-Za-z0-9._:-] (not starting with
 * '.') up to 63 characters are accepted.
 */
#ifndef EQ_LOCAL_STORE_H
#define EQ_LOCAL_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    LS_OK = 0,
    LS_ERR_ARG = -1,    /* bad argument or a round id unfit for a file name */
    LS_ERR_IO = -2,     /* the file system said no (errno kept)             */
    LS_ERR_EXISTS = -3, /* write-once file already holds different bytes   */
    LS_ERR_NOENT = -4,  /* no such file                                    */
    LS_ERR_PERM = -5,   /* store directory writable by group or others     */
} local_store_err;

const char *local_store_strerror(int err);

typedef enum {
    LS_REQUEST,
    LS_PENDING,
    LS_APPROVED,
    LS_REFUSED,
    LS_SUBMISSION,
    LS_ACK,
    LS_FAILED,
    LS_STATUS,
    LS__KINDS
} local_store_kind;

/* File name suffix of a kind (".submission.pb", ...). */
const char *local_store_suffix(local_store_kind kind);

typedef struct local_store local_store_t;

/* Opens dir, creating it with mode 0700 if missing. Refuses (NULL, logged)
 * a path that is not a directory or that group/others can write to (anyone
 * who can write there could plant an .approved file); warns when others
 * can read it. */
local_store_t *local_store_open(const char *dir);
void local_store_destroy(local_store_t **s);
const char *local_store_dir(const local_store_t *s);

/* 1 if round_id is usable as a file name (see above), else 0. */
int local_store_round_id_ok(const char *round_id);

/* The path of a round's file into buf. LS_ERR_ARG on a bad id or when it
 * does not fit. */
int local_store_path(const local_store_t *s, const char *round_id, local_store_kind kind,
                     char *buf, size_t buflen);

/* 1 if the file exists, 0 if not (or on a bad id). */
int local_store_has(const local_store_t *s, const char *round_id, local_store_kind kind);

/* Writes (replacing) a file atomically with mode 0600. For LS_SUBMISSION use
 * local_store_put_submission: this returns LS_ERR_ARG for it. */
int local_store_write(local_store_t *s, const char *round_id, local_store_kind kind,
                      const void *buf, size_t len);

/* Stores the submission bytes once. If the file exists already: LS_OK when
 * it holds the same bytes, LS_ERR_EXISTS (nothing changed) when it holds
 * different ones. The file appears whole or not at all (link of a fsynced
 * temporary file, so an existing file is never replaced). */
int local_store_put_submission(local_store_t *s, const char *round_id, const void *buf,
                               size_t len);

/* Reads a whole file; *buf (malloc'ed, NUL-terminated after len bytes) is
 * the caller's. LS_ERR_NOENT if absent. */
int local_store_read(const local_store_t *s, const char *round_id, local_store_kind kind,
                     uint8_t **buf, size_t *len);

/* Removes a file (absent is fine). */
int local_store_remove(local_store_t *s, const char *round_id, local_store_kind kind);

/* Round ids that have a file of this kind, sorted; *ids is an array of
 * *n malloc'ed strings, freed with local_store_ids_free. */
int local_store_list(const local_store_t *s, local_store_kind kind, char ***ids, size_t *n);
void local_store_ids_free(char **ids, size_t n);

#endif
