/*
 * sodium_plain_alloc.c - a MEASUREMENT aid for the federation benchmark,
 * never part of the product: loaded with LD_PRELOAD by
 * `bench/run_federation.sh --plain-sodium-alloc`, it replaces libsodium's
 * guarded allocator (sodium_allocarray / sodium_malloc / sodium_free, which
 * libzmq's CURVE uses for every message's plaintext and its session keys)
 * by malloc, with the memory zeroed before it is freed. It drops what the
 * guarded allocator gives: guard pages around each buffer, a canary, and
 * mlock (no swapping of keys). It exists to show how much of a round's
 * time that allocator costs on a given machine (bench/README.md), so that
 * whoever runs a federation can weigh it; the daemons never load it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct hdr {
    size_t size;
    size_t pad; /* keeps the user pointer 16-byte aligned */
};

void *sodium_malloc(size_t size);
void *sodium_allocarray(size_t count, size_t size);
void sodium_free(void *p);

void *sodium_malloc(size_t size)
{
    if (size > SIZE_MAX - sizeof(struct hdr))
        return NULL;
    struct hdr *h = malloc(sizeof *h + (size ? size : 1));
    if (!h)
        return NULL;
    h->size = size;
    return h + 1;
}

void *sodium_allocarray(size_t count, size_t size)
{
    if (count > 0 && size >= SIZE_MAX / count)
        return NULL;
    return sodium_malloc(count * size);
}

void sodium_free(void *p)
{
    if (!p)
        return;
    struct hdr *h = (struct hdr *)p - 1;
    explicit_bzero(p, h->size);
    free(h);
}
