/*
 * memberset.h - a compact set of member-id fingerprints, used by the extract
 * reader to find duplicate member ids among millions of rows in little memory.
 *
 * Each id is hashed to 64 bits (memberset_hash); the set keeps the top F bits
 * of the hash (F = memberset_fingerprint_bits) in 4-byte slots: the high bits
 * select the home bucket, the slot stores the next bits plus a probe distance
 * (Robin Hood linear probing), so growing the table re-derives home buckets
 * without the ids. At the default 0.6-0.8 load this is 5-7 bytes per member.
 *
 * Fingerprints can collide, so "already present" only means "suspected
 * duplicate": the caller must verify it against the exact ids.
 */
#ifndef EQ_MEMBERSET_H
#define EQ_MEMBERSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct memberset memberset_t;

/* A set sized for about `expected` ids without growing; NULL when out of
 * memory. Two sets made with the same `expected` keep the same number of
 * fingerprint bits, whatever they grow to later. */
memberset_t *memberset_new(size_t expected);
void memberset_destroy(memberset_t **s);

/* 64-bit hash of an id (wyhash-style multiply-fold mixing). */
uint64_t memberset_hash(const void *id, size_t len);

/* Adds the fingerprint of hash h. Returns 1 when it was new, 0 when the
 * fingerprint was already present (a suspected duplicate), -1 when the table
 * could not grow (out of memory). */
int memberset_insert(memberset_t *s, uint64_t h);

/* 1 when the fingerprint of h (its top memberset_fingerprint_bits bits) is
 * present, else 0. */
int memberset_contains(const memberset_t *s, uint64_t h);

/* Hints the CPU to load h's home slot (call early, insert later). */
void memberset_prefetch(const memberset_t *s, uint64_t h);

size_t memberset_count(const memberset_t *s);
unsigned memberset_fingerprint_bits(const memberset_t *s);
size_t memberset_bytes(const memberset_t *s);

/* Calls fn(ctx, prefix) for each stored fingerprint, as a hash whose top F
 * bits are the fingerprint and whose other bits are zero, in slot order
 * (which follows the hash order except for the wrap-around at the end). */
void memberset_foreach(const memberset_t *s, void (*fn)(void *ctx, uint64_t prefix), void *ctx);

#endif
