/*
 * memberset.c - compact set of member-id fingerprints (see memberset.h).
 *
 * Slot layout (uint32): bits 31..7 hold the remainder (up to 25 bits of the
 * fingerprint below the home-bucket bits), bits 6..0 hold probe distance + 1
 * (0 = empty slot). With 2^b slots, a fingerprint of F bits splits into a
 * b-bit home bucket and an (F - b)-bit remainder. Doubling the table moves
 * one bit from the remainder into the home bucket, so F never changes and no
 * id is needed to grow. Robin Hood ordering keeps probe distances short and
 * lets a lookup stop early.
 */
#include "memberset.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define DIST_BITS 7
#define DIST_MAX ((1u << DIST_BITS) - 2)   /* largest distance storable */
#define REM_BITS_MAX (32 - DIST_BITS)
#define MIN_BITS 12

/* Zeroed slot array; big ones on transparent huge pages where the kernel
 * allows it, since every insert touches a random slot (TLB misses). */
static uint32_t *slots_alloc(unsigned bits)
{
    size_t bytes = ((size_t)1 << bits) * sizeof(uint32_t);
    const size_t huge = (size_t)2 << 20;
    if (bytes < huge)
        return calloc((size_t)1 << bits, sizeof(uint32_t));
    void *p = NULL;
    if (posix_memalign(&p, huge, bytes) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);
#endif
    memset(p, 0, bytes);
    return p;
}

/* One cache line of its own: count changes on every insert, and each
 * reader thread has a set. */
struct memberset {
    _Alignas(64) uint32_t *slot;
    unsigned bits;   /* log2 of slot count */
    unsigned rbits;  /* remainder bits in a slot */
    size_t count;
};
_Static_assert(sizeof(struct memberset) % 64 == 0, "memberset: whole cache lines");

static inline uint64_t mum(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

uint64_t memberset_hash(const void *id, size_t len)
{
    static const uint64_t p0 = 0xa0761d6478bd642fULL, p1 = 0xe7037ed1a0b428dbULL,
                          p2 = 0x8ebc6af09c88c6e3ULL;
    const uint8_t *s = id;
    size_t n = len;
    uint64_t seed = p0 ^ mum(len ^ p1, p2);
    uint64_t a = 0, b = 0;
    while (n > 16) {
        seed = mum(rd64(s) ^ p1, rd64(s + 8) ^ seed);
        s += 16;
        n -= 16;
    }
    if (n >= 8) {
        a = rd64(s);
        b = rd64(s + n - 8);
    } else if (n >= 4) {
        a = rd32(s);
        b = rd32(s + n - 4);
    } else if (n > 0) {
        a = ((uint64_t)s[0] << 16) | ((uint64_t)s[n >> 1] << 8) | s[n - 1];
    }
    return mum(p1 ^ len, mum(a ^ p1, b ^ seed) ^ p2);
}

static unsigned bits_for(size_t expected)
{
    unsigned b = MIN_BITS;
    /* target load <= 0.7 */
    while (b < 32 && (double)expected > 0.7 * (double)((size_t)1 << b))
        b++;
    return b;
}

memberset_t *memberset_new(size_t expected)
{
    memberset_t *s = aligned_alloc(64, sizeof *s);
    if (!s)
        return NULL;
    memset(s, 0, sizeof *s);
    s->bits = bits_for(expected);
    s->rbits = REM_BITS_MAX;
    s->slot = slots_alloc(s->bits);
    if (!s->slot) {
        free(s);
        return NULL;
    }
    return s;
}

void memberset_destroy(memberset_t **sp)
{
    if (!sp || !*sp)
        return;
    free((*sp)->slot);
    free(*sp);
    *sp = NULL;
}

size_t memberset_count(const memberset_t *s) { return s->count; }
unsigned memberset_fingerprint_bits(const memberset_t *s) { return s->bits + s->rbits; }
size_t memberset_bytes(const memberset_t *s)
{
    return sizeof *s + ((size_t)1 << s->bits) * sizeof *s->slot;
}

/* Places (home, rem) by Robin Hood probing: the entry goes where the
 * first richer entry (shorter distance) or an empty slot is, and the run up
 * to the next empty slot shifts one place right, which keeps every cluster
 * sorted by home bucket. Returns 1 inserted, 0 already present, -1 when a
 * distance would not fit in a slot (nothing is changed then). */
static int place(uint32_t *slot, unsigned bits, uint32_t home, uint32_t rem)
{
    size_t mask = ((size_t)1 << bits) - 1;
    size_t p = home;
    uint32_t d = 0;
    for (;;) {
        uint32_t v = slot[p];
        if (v == 0)
            break;
        uint32_t vd = (v & ((1u << DIST_BITS) - 1)) - 1;
        if (vd < d)
            break;
        if (vd == d && (v >> DIST_BITS) == rem)
            return 0;
        d++;
        if (d > DIST_MAX)
            return -1;
        p = (p + 1) & mask;
    }
    /* dry run: every entry of the run moves one further from home */
    size_t e = p;
    while (slot[e] != 0) {
        if ((slot[e] & ((1u << DIST_BITS) - 1)) - 1 + 1 > DIST_MAX)
            return -1;
        e = (e + 1) & mask;
        if (e == p)
            return -1; /* full table; the load limit prevents it */
    }
    while (e != p) {
        size_t prev = (e - 1) & mask;
        slot[e] = slot[prev] + 1; /* distance + 1 in the low bits */
        e = prev;
    }
    slot[p] = (rem << DIST_BITS) | (d + 1);
    return 1;
}

static int grow(memberset_t *s)
{
    if (s->rbits <= 1 || s->bits >= 36)
        return -1;
    unsigned nb = s->bits + 1, nr = s->rbits - 1;
    uint32_t *ns = slots_alloc(nb);
    if (!ns)
        return -1;
    size_t n = (size_t)1 << s->bits, mask = n - 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = s->slot[i];
        if (!v)
            continue;
        uint32_t d = (v & ((1u << DIST_BITS) - 1)) - 1;
        uint32_t rem = v >> DIST_BITS;
        size_t home = (i - d) & mask;
        uint32_t nhome = (uint32_t)((home << 1) | (rem >> nr));
        uint32_t nrem = rem & ((1u << nr) - 1);
        if (place(ns, nb, nhome, nrem) < 0) {
            /* distance overflow in the bigger table: practically impossible
             * at half the load; give up rather than lose an entry */
            free(ns);
            return -1;
        }
    }
    free(s->slot);
    s->slot = ns;
    s->bits = nb;
    s->rbits = nr;
    return 0;
}

static inline void split(const memberset_t *s, uint64_t h, uint32_t *home, uint32_t *rem)
{
    uint64_t fp = h >> (64 - (s->bits + s->rbits));
    *home = (uint32_t)(fp >> s->rbits);
    *rem = (uint32_t)(fp & ((1u << s->rbits) - 1));
}

int memberset_insert(memberset_t *s, uint64_t h)
{
    if ((double)(s->count + 1) > 0.8 * (double)((size_t)1 << s->bits) && grow(s) < 0)
        return -1;
    for (;;) {
        uint32_t home, rem;
        split(s, h, &home, &rem);
        int r = place(s->slot, s->bits, home, rem);
        if (r == 1)
            s->count++;
        if (r >= 0)
            return r;
        if (grow(s) < 0)
            return -1;
    }
}

void memberset_prefetch(const memberset_t *s, uint64_t h)
{
    uint32_t home, rem;
    split(s, h, &home, &rem);
    __builtin_prefetch(&s->slot[home], 0, 3);
}

int memberset_contains(const memberset_t *s, uint64_t h)
{
    uint32_t home, rem;
    split(s, h, &home, &rem);
    size_t mask = ((size_t)1 << s->bits) - 1;
    size_t i = home;
    for (uint32_t d = 0; d <= DIST_MAX; d++) {
        uint32_t v = s->slot[i];
        if (v == 0)
            return 0;
        uint32_t vd = (v & ((1u << DIST_BITS) - 1)) - 1;
        if (vd < d)
            return 0;
        if (vd == d && (v >> DIST_BITS) == rem)
            return 1;
        i = (i + 1) & mask;
    }
    return 0;
}

void memberset_foreach(const memberset_t *s, void (*fn)(void *ctx, uint64_t prefix), void *ctx)
{
    size_t n = (size_t)1 << s->bits, mask = n - 1;
    unsigned f = s->bits + s->rbits;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = s->slot[i];
        if (!v)
            continue;
        uint32_t d = (v & ((1u << DIST_BITS) - 1)) - 1;
        uint64_t home = (i - d) & mask;
        uint64_t fp = (home << s->rbits) | (v >> DIST_BITS);
        fn(ctx, fp << (64 - f));
    }
}
