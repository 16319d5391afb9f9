/*
 * test_audit.c - the hash-chained audit log: line format, hashes checked
 * with OpenSSL's one-shot SHA256 (a different route than the module's),
 * detection of a removed and of an altered entry, torn tails; several
 * entries with one fsync (audit_append_many) continuing a log written line
 * by line, chained the same way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "audit.h"
#include "atomic_file.h"

static char dir[256];
static char logpath[300];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/eq_audit_" EQ_MKTEMP_SUFFIX);
    if (!mkdtemp(dir))
        return -1;
    snprintf(logpath, sizeof logpath, "%s/audit.log", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(logpath);
    rmdir(dir);
    return 0;
}

static int read_lines(char lines[][1024], int max)
{
    FILE *f = fopen(logpath, "r");
    if (!f)
        return -1;
    int n = 0;
    while (n < max && fgets(lines[n], 1024, f))
        n++;
    fclose(f);
    return n;
}

static void write_lines(char lines[][1024], int n, int skip)
{
    FILE *f = fopen(logpath, "w");
    assert_non_null(f);
    for (int i = 0; i < n; i++)
        if (i != skip)
            fputs(lines[i], f);
    fclose(f);
}

static void hex_sha256(const char *s, size_t len, char out[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)s, len, d);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void append_three(void)
{
    assert_int_equal(audit_append(logpath, "round_open", "{\"round\":\"2025-r1-abcd\"}"), 0);
    assert_int_equal(audit_appendf(logpath, "submission", "org", "org:a", "round", "2025-r1-abcd",
                                   "sha256", "00ff", NULL), 0);
    assert_int_equal(audit_appendf(logpath, "round_close", "round", "2025-r1-abcd", NULL), 0);
}

/* Checks every line's seq, prev_hash and hash by recomputing them. */
static void check_chain(char lines[][1024], int n)
{
    char prev[65];
    memset(prev, '0', 64);
    prev[64] = 0;
    for (int i = 0; i < n; i++) {
        char *tab = strrchr(lines[i], '\t');
        assert_non_null(tab);
        char want[65];
        hex_sha256(lines[i], (size_t)(tab + 1 - lines[i]), want);
        assert_memory_equal(tab + 1, want, 64);
        char seq[8];
        snprintf(seq, sizeof seq, "%d\t", i + 1);
        assert_memory_equal(lines[i], seq, strlen(seq));
        assert_memory_equal(tab - 64, prev, 64);
        memcpy(prev, tab + 1, 64);
    }
}

static void test_format_and_chain(void **state)
{
    (void)state;
    append_three();
    char lines[8][1024];
    assert_int_equal(read_lines(lines, 8), 3);
    check_chain(lines, 3);
    assert_non_null(strstr(lines[1], "\tsubmission\t{\"org\":\"org:a\",\"round\":\"2025-r1-abcd\","
                                     "\"sha256\":\"00ff\"}\t"));
    long n = 0;
    char err[512];
    assert_int_equal(audit_verify(logpath, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
}

static void test_removed_entry(void **state)
{
    (void)state;
    append_three();
    char lines[8][1024];
    assert_int_equal(read_lines(lines, 8), 3);
    write_lines(lines, 3, 1);
    char err[512];
    long n;
    assert_int_equal(audit_verify(logpath, &n, err, sizeof err), 1);
    assert_non_null(strstr(err, "audit.log:2:"));
    assert_non_null(strstr(err, "removed"));
    /* removing the first entry is seen too */
    write_lines(lines, 3, 0);
    assert_int_equal(audit_verify(logpath, &n, err, sizeof err), 1);
    assert_non_null(strstr(err, "audit.log:1:"));
}

static void test_altered_entry(void **state)
{
    (void)state;
    append_three();
    char lines[8][1024];
    assert_int_equal(read_lines(lines, 8), 3);
    char *p = strstr(lines[1], "org:a");
    assert_non_null(p);
    p[4] = 'b'; /* org:a -> org:b */
    write_lines(lines, 3, -1);
    char err[512];
    long n;
    assert_int_equal(audit_verify(logpath, &n, err, sizeof err), 1);
    assert_non_null(strstr(err, "audit.log:2:"));
    assert_non_null(strstr(err, "hash mismatch"));
}

static void test_replaced_entry_with_own_hash(void **state)
{
    (void)state;
    /* An attacker who rewrites an entry and recomputes its hash still breaks
     * the next entry's prev_hash. */
    append_three();
    char lines[8][1024];
    assert_int_equal(read_lines(lines, 8), 3);
    char *p = strstr(lines[1], "org:a");
    p[4] = 'b';
    char *tab = strrchr(lines[1], '\t');
    char h[65];
    hex_sha256(lines[1], (size_t)(tab + 1 - lines[1]), h);
    memcpy(tab + 1, h, 64);
    write_lines(lines, 3, -1);
    char err[512];
    long n;
    assert_int_equal(audit_verify(logpath, &n, err, sizeof err), 1);
    assert_non_null(strstr(err, "audit.log:3:"));
    assert_non_null(strstr(err, "prev_hash"));
}

static void test_missing_and_torn(void **state)
{
    (void)state;
    char err[512];
    long n = 99;
    assert_int_equal(audit_verify(logpath, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    append_three();
    FILE *f = fopen(logpath, "a");
    fputs("4\t2025-01-01T00:00:00Z\tquery\t{}", f); /* a torn append */
    fclose(f);
    assert_int_equal(audit_verify(logpath, &n, err, sizeof err), 1);
    assert_non_null(strstr(err, "audit.log:4:"));
    /* the next append cuts the torn entry off, records it, then appends */
    assert_int_equal(audit_append(logpath, "query", "{\"after\":1}"), 0);
    long repairs = 0;
    assert_int_equal(audit_verify_anchored(logpath, 0, NULL, &n, &repairs, err, sizeof err), 0);
    assert_int_equal(n, 5);
    assert_int_equal(repairs, 1);
    char lines[8][1024];
    assert_int_equal(read_lines(lines, 8), 5);
    assert_true(strncmp(lines[3], "4\t", 2) == 0);
    assert_non_null(strstr(lines[3], "\trepair\t"));
    assert_non_null(strstr(lines[3], "\"removed_bytes\":31"));
    assert_non_null(strstr(lines[4], "{\"after\":1}"));
}

/* The store's anchor (seq, hash of the head) makes a cut-off tail visible. */
static void test_truncation_against_anchor(void **state)
{
    (void)state;
    char err[512], lines[8][1024];
    long n = 0, repairs = 0;
    append_three();
    assert_int_equal(read_lines(lines, 8), 3);
    char head[65];
    memcpy(head, lines[2] + strlen(lines[2]) - 65, 64); /* the last field, before '\n' */
    head[64] = 0;
    assert_int_equal(audit_verify_anchored(logpath, 3, head, &n, &repairs, err, sizeof err), 0);
    /* without the anchor, cutting off the newest entry passes */
    write_lines(lines, 2, -1);
    assert_int_equal(audit_verify(logpath, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    /* with it, verify reports it */
    assert_int_equal(audit_verify_anchored(logpath, 3, head, &n, &repairs, err, sizeof err), 1);
    assert_non_null(strstr(err, "cut off"));
    /* a replaced entry at the anchor's seq is reported too */
    assert_int_equal(audit_append(logpath, "other", "{}"), 0);
    assert_int_equal(audit_verify_anchored(logpath, 3, head, &n, &repairs, err, sizeof err), 1);
    assert_non_null(strstr(err, "replaced"));
    /* the writer notices the gap and records a repair entry */
    write_lines(lines, 2, -1);
    audit_writer_t *w = audit_writer_open(logpath);
    assert_non_null(w);
    assert_int_equal(audit_writer_anchor(w, 3, head), 1);
    assert_int_equal(audit_writer_commit(w), 0);
    assert_int_equal(read_lines(lines, 8), 3);
    assert_non_null(strstr(lines[2], "\trepair\t"));
    assert_non_null(strstr(lines[2], "\"anchor_seq\":3"));
}

static void test_bad_details(void **state)
{
    (void)state;
    assert_int_equal(audit_append(logpath, "query", "{\"a\":1}\n{\"b\":2}"), -1);
    assert_int_equal(audit_append(logpath, "bad\tevent", "{}"), -1);
    assert_int_equal(audit_appendf(logpath, "query", "what", "a\tb\nc", NULL), 0);
    long n;
    char err[256];
    assert_int_equal(audit_verify(logpath, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
}

static void test_append_many(void **state)
{
    (void)state;
    /* A log as an earlier version wrote it: one entry, made here by hand. */
    char first[512], h[65];
    int len = snprintf(first, sizeof first, "1\t2025-01-01T00:00:00Z\tround_open\t"
                       "{\"round\":\"old\"}\t%064d\t", 0);
    hex_sha256(first, (size_t)len, h);
    FILE *f = fopen(logpath, "w");
    assert_non_null(f);
    fprintf(f, "%s%s\n", first, h);
    fclose(f);

    assert_int_equal(audit_append_many(logpath, NULL, 0), 0); /* nothing to do */
    struct audit_entry batch[] = {
        {"connection", "{\"cn\":\"org:a\"}"},
        {"submission", "{\"org\":\"org:a\",\"duplicate\":false}"},
        {"rejection", NULL},
    };
    assert_int_equal(audit_append_many(logpath, batch, 3), 0);
    assert_int_equal(audit_append(logpath, "query", "{\"q\":1}"), 0);
    char lines[8][1024];
    assert_int_equal(read_lines(lines, 8), 5);
    check_chain(lines, 5);
    char old_line[600];
    snprintf(old_line, sizeof old_line, "%s%s\n", first, h);
    assert_string_equal(lines[0], old_line); /* the old entry is untouched */
    assert_non_null(strstr(lines[1], "\tconnection\t{\"cn\":\"org:a\"}\t"));
    assert_non_null(strstr(lines[2], "\tsubmission\t{\"org\":\"org:a\",\"duplicate\":false}\t"));
    assert_non_null(strstr(lines[3], "\trejection\t{}\t"));
    /* the entries of one call share its time */
    assert_memory_equal(lines[1] + 2, lines[2] + 2, 20);
    assert_memory_equal(lines[1] + 2, lines[3] + 2, 20);
    long n = 0;
    char err[512];
    assert_int_equal(audit_verify(logpath, &n, err, sizeof err), 0);
    assert_int_equal(n, 5);

    /* an unusable entry is skipped (-1), the others are written and chained */
    struct audit_entry mixed[] = {
        {"release", "{}"},
        {"bad\tevent", "{}"},
        {"query", "{\"a\":1}\n{\"b\":2}"},
        {"round_close", "{\"round\":\"old\"}"},
    };
    assert_int_equal(audit_append_many(logpath, mixed, 4), -1);
    assert_int_equal(read_lines(lines, 8), 7);
    check_chain(lines, 7);
    assert_non_null(strstr(lines[5], "\trelease\t{}\t"));
    assert_non_null(strstr(lines[6], "\tround_close\t"));
    assert_int_equal(audit_verify(logpath, &n, err, sizeof err), 0);
    assert_int_equal(n, 7);

    /* removing an entry from the middle of a group is detected */
    write_lines(lines, 7, 2);
    assert_int_equal(audit_verify(logpath, &n, err, sizeof err), 1);
    assert_non_null(strstr(err, "audit.log:3:"));
    assert_non_null(strstr(err, "removed"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_format_and_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_altered_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replaced_entry_with_own_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_torn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation_against_anchor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_details, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_many, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
