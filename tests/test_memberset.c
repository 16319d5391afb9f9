/*
 * test_memberset.c - the member-id fingerprint set: insert and lookup,
 * growth from a tiny table, no false negatives on a million ids, and the
 * memory it takes per member.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "memberset.h"

static uint64_t id_hash(long i)
{
    char id[32];
    int n = snprintf(id, sizeof id, "MBR-%08ld", i);
    return memberset_hash(id, (size_t)n);
}

static void test_hash(void **state)
{
    (void)state;
    assert_int_equal(memberset_hash("abc", 3), memberset_hash("abc", 3));
    assert_int_not_equal(memberset_hash("abc", 3), memberset_hash("abd", 3));
    assert_int_not_equal(memberset_hash("a", 1), memberset_hash("a\0", 2));
    assert_int_not_equal(memberset_hash("", 0), memberset_hash("\0", 1));
    /* long ids use the 16-byte loop */
    const char *a = "0123456789abcdef0123456789abcdefX";
    const char *b = "0123456789abcdef0123456789abcdefY";
    assert_int_not_equal(memberset_hash(a, 33), memberset_hash(b, 33));
}

static void test_insert_lookup(void **state)
{
    (void)state;
    memberset_t *s = memberset_new(1000);
    assert_non_null(s);
    for (long i = 0; i < 1000; i++)
        assert_int_equal(memberset_insert(s, id_hash(i)), 1);
    assert_int_equal(memberset_count(s), 1000);
    for (long i = 0; i < 1000; i++) {
        assert_true(memberset_contains(s, id_hash(i)));
        assert_int_equal(memberset_insert(s, id_hash(i)), 0); /* seen */
    }
    assert_int_equal(memberset_count(s), 1000);
    /* ids never inserted: a false positive needs a 40+-bit collision */
    int fp = 0;
    for (long i = 1000; i < 101000; i++)
        fp += memberset_contains(s, id_hash(i));
    assert_int_equal(fp, 0);
    memberset_destroy(&s);
    assert_null(s);
    memberset_destroy(&s); /* safe on NULL */
}

struct each { memberset_t *other; long n, found; };

static void each_cb(void *ctx, uint64_t prefix)
{
    struct each *e = ctx;
    e->n++;
    e->found += memberset_contains(e->other, prefix);
}

static void test_growth(void **state)
{
    (void)state;
    memberset_t *s = memberset_new(10);
    assert_non_null(s);
    unsigned bits = memberset_fingerprint_bits(s);
    size_t bytes0 = memberset_bytes(s);
    /* A set that starts tiny keeps few fingerprint bits (12 + 25), so among
     * 200k ids a handful of fingerprints collide (expected ~0.15 pairs at
     * 37 bits); colliding ids count once. */
    long dup = 0;
    for (long i = 0; i < 200000; i++) {
        int r = memberset_insert(s, id_hash(i));
        assert_true(r == 0 || r == 1);
        dup += r == 0;
    }
    assert_true(dup <= 3);
    assert_int_equal(memberset_count(s) + (size_t)dup, 200000);
    assert_true(memberset_bytes(s) >= bytes0 * 32);
    /* growing moves bits from slot to bucket: the fingerprint keeps its size */
    assert_int_equal(memberset_fingerprint_bits(s), bits);
    for (long i = 0; i < 200000; i++)
        assert_true(memberset_contains(s, id_hash(i)));
    /* foreach gives each fingerprint once, and each is found again */
    struct each e = {.other = s};
    memberset_foreach(s, each_cb, &e);
    assert_int_equal(e.n, (long)memberset_count(s));
    assert_int_equal(e.found, e.n);
    memberset_destroy(&s);
}

static void test_million(void **state)
{
    (void)state;
    memberset_t *s = memberset_new(1000000);
    assert_non_null(s);
    long dup = 0;
    for (long i = 0; i < 1000000; i++)
        dup += memberset_insert(s, id_hash(i)) == 0;
    /* 46-bit fingerprints: a collision among 1M ids has odds ~1e-2 */
    assert_true(dup <= 1);
    for (long i = 0; i < 1000000; i++)
        if (!memberset_contains(s, id_hash(i)))
            fail_msg("false negative for id %ld", i);
    /* at most ~8 bytes per member at this size (4-byte slots, load > 0.47) */
    assert_true(memberset_bytes(s) <= 8500000);
    memberset_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_insert_lookup),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_million),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
