/*
 * query.h - the analysts' query service of the coordinator: answers a
 * Query (proto/equity.proto) from an analyst or operator identity with the
 * list of rounds (what = "rounds": round, period, status open / closed /
 * released, opened_at, deadline, closed_at, submissions, late, refusals),
 * or the released pooled cells (with a `period` column appended) or their
 * metrics, filtered by measure and stratifier, as CSV text. A stratifier the
 * round did not release, or a reference value that is no group of the asked
 * one-way tables, is a bad_query. Only released results leave: a round that is
 * not closed and released gets not_released; per-organization cells are
 * served (what = "org_cells") only when the round's terms say
 * per_org_to_analysts. Every query, answered or not, gets its audit entry
 * "query" (analyst CN, round, filters, rows) in a->audit: the caller
 * (rounds.c) records it durably before any answer leaves.
 *
 * The released file is checked against the SHA-256 recorded at release
 * before it is served.
 */
#ifndef EQ_COORD_QUERY_H
#define EQ_COORD_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "coord_config.h"
#include "store.h"

struct query_answer {
    char round_id[64];
    char *csv;            /* malloc'ed CSV text (header + rows)            */
    uint32_t rows;        /* rows after the header                          */
    char code[48];        /* on error: stable code for the ERROR message    */
    char message[256];    /* on error: for people                           */
    char *audit;          /* the "query" audit entry's details (malloc'ed;
                             NULL if out of memory: then do not answer)     */
};

enum {
    QUERY_OK = 0,
    QUERY_EREFUSED = -1,  /* code/message set: send ERROR                   */
    QUERY_EINTERNAL = -2  /* code "internal"                                 */
};

/* Answers one Query payload from the analyst cn. Returns QUERY_OK with
 * a->csv set (free with query_answer_clear), or an error with a->code and
 * a->message (codes: malformed, unknown_round, not_released, bad_query,
 * forbidden, internal). */
int query_answer(const struct coord_config *cfg, store_t *st, const char *cn,
                 const uint8_t *payload, size_t len, struct query_answer *a);

void query_answer_clear(struct query_answer *a);

#endif
