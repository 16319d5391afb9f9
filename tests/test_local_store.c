/*
 * test_local_store.c - the node's per-round files: directory creation and
 * permissions, round ids as file names, atomic writes with mode 0600, the
 * write-once submission, listing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local_store.h"

static char root[64];

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/test_local_store_%ld", (long)getpid());
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        return -1;
    return mkdir(root, 0700);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_in(char *buf, size_t len, const char *rel)
{
    snprintf(buf, len, "%s/%s", root, rel);
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void test_open_creates_private_dir(void **state)
{
    (void)state;
    char dir[128];
    path_in(dir, sizeof dir, "a/b/store");
    local_store_t *s = local_store_open(dir);
    assert_non_null(s);
    assert_string_equal(local_store_dir(s), dir);
    assert_int_equal(mode_of(dir), 0700);
    local_store_destroy(&s);
    assert_null(s);
    local_store_destroy(&s); /* safe on NULL */
}

static void test_open_refuses_writable_dir(void **state)
{
    (void)state;
    char dir[128];
    path_in(dir, sizeof dir, "shared");
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(chmod(dir, 0777), 0);
    assert_null(local_store_open(dir));
    assert_int_equal(chmod(dir, 0770), 0);
    assert_null(local_store_open(dir));
    /* readable by others: allowed (with a warning) */
    assert_int_equal(chmod(dir, 0755), 0);
    local_store_t *s = local_store_open(dir);
    assert_non_null(s);
    local_store_destroy(&s);
    /* a file is not a directory */
    char file[128];
    path_in(file, sizeof file, "plain");
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    assert_null(local_store_open(file));
    assert_null(local_store_open(""));
}

static void test_round_ids(void **state)
{
    (void)state;
    assert_true(local_store_round_id_ok("2025-r1-3f2a"));
    assert_true(local_store_round_id_ok("2025Q3-r12-00ff"));
    assert_true(local_store_round_id_ok("a_b.c:d"));
    assert_false(local_store_round_id_ok(""));
    assert_false(local_store_round_id_ok(NULL));
    assert_false(local_store_round_id_ok(".hidden"));
    assert_false(local_store_round_id_ok("../etc/passwd"));
    assert_false(local_store_round_id_ok("a/b"));
    assert_false(local_store_round_id_ok("a b"));
    char long_id[65];
    memset(long_id, 'x', 64);
    long_id[64] = 0;
    assert_false(local_store_round_id_ok(long_id));
    long_id[63] = 0;
    assert_true(local_store_round_id_ok(long_id));

    char dir[128], buf[256], want[256];
    path_in(dir, sizeof dir, "ids");
    local_store_t *s = local_store_open(dir);
    assert_non_null(s);
    assert_int_equal(local_store_path(s, "2025-r1-3f2a", LS_SUBMISSION, buf, sizeof buf), LS_OK);
    snprintf(want, sizeof want, "%s/2025-r1-3f2a.submission.pb", dir);
    assert_string_equal(buf, want);
    assert_int_equal(local_store_path(s, "../x", LS_ACK, buf, sizeof buf), LS_ERR_ARG);
    assert_int_equal(local_store_path(s, "r", LS_ACK, buf, 8), LS_ERR_ARG); /* does not fit */
    assert_int_equal(local_store_write(s, "../x", LS_ACK, "a", 1), LS_ERR_ARG);
    local_store_destroy(&s);
}

static void test_write_read_remove(void **state)
{
    (void)state;
    char dir[128], file[256];
    path_in(dir, sizeof dir, "rw");
    local_store_t *s = local_store_open(dir);
    assert_non_null(s);
    assert_false(local_store_has(s, "r1", LS_PENDING));
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(local_store_read(s, "r1", LS_PENDING, &buf, &len), LS_ERR_NOENT);
    assert_int_equal(local_store_write(s, "r1", LS_PENDING, "held\n", 5), LS_OK);
    assert_true(local_store_has(s, "r1", LS_PENDING));
    assert_false(local_store_has(s, "r1", LS_APPROVED));
    snprintf(file, sizeof file, "%s/r1.pending", dir);
    assert_int_equal(mode_of(file), 0600);
    assert_int_equal(local_store_read(s, "r1", LS_PENDING, &buf, &len), LS_OK);
    assert_int_equal(len, 5);
    assert_string_equal((char *)buf, "held\n");
    free(buf);
    /* replaced whole */
    assert_int_equal(local_store_write(s, "r1", LS_PENDING, "x", 1), LS_OK);
    assert_int_equal(local_store_read(s, "r1", LS_PENDING, &buf, &len), LS_OK);
    assert_int_equal(len, 1);
    free(buf);
    /* empty file */
    assert_int_equal(local_store_write(s, "r1", LS_APPROVED, NULL, 0), LS_OK);
    assert_true(local_store_has(s, "r1", LS_APPROVED));
    /* the submission has its own write-once path */
    assert_int_equal(local_store_write(s, "r1", LS_SUBMISSION, "x", 1), LS_ERR_ARG);
    assert_int_equal(local_store_remove(s, "r1", LS_PENDING), LS_OK);
    assert_false(local_store_has(s, "r1", LS_PENDING));
    assert_int_equal(local_store_remove(s, "r1", LS_PENDING), LS_OK); /* absent is fine */
    local_store_destroy(&s);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void test_submission_is_write_once(void **state)
{
    (void)state;
    char dir[128], file[256];
    path_in(dir, sizeof dir, "sub");
    local_store_t *s = local_store_open(dir);
    assert_non_null(s);
    const uint8_t first[] = {0x0a, 0x01, 0x00, 0xff, 0x42};
    const uint8_t other[] = {0x0a, 0x01, 0x00, 0xff, 0x43};
    assert_int_equal(local_store_put_submission(s, "2025-r1-aaaa", first, sizeof first), LS_OK);
    snprintf(file, sizeof file, "%s/2025-r1-aaaa.submission.pb", dir);
    assert_int_equal(mode_of(file), 0600);
    /* the same bytes again: fine (a restart storing what it already kept) */
    assert_int_equal(local_store_put_submission(s, "2025-r1-aaaa", first, sizeof first), LS_OK);
    /* different bytes: refused, and the kept copy is unchanged */
    assert_int_equal(local_store_put_submission(s, "2025-r1-aaaa", other, sizeof other),
                     LS_ERR_EXISTS);
    assert_int_equal(local_store_put_submission(s, "2025-r1-aaaa", first, 3), LS_ERR_EXISTS);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(local_store_read(s, "2025-r1-aaaa", LS_SUBMISSION, &buf, &len), LS_OK);
    assert_int_equal(len, sizeof first);
    assert_memory_equal(buf, first, sizeof first);
    free(buf);
    /* no temporary files left behind */
    assert_int_equal(count_entries(dir), 1);
    assert_string_equal(local_store_strerror(LS_ERR_EXISTS),
                        "a different submission is already stored for this round");
    local_store_destroy(&s);
}

static void test_list(void **state)
{
    (void)state;
    char dir[128], junk[256];
    path_in(dir, sizeof dir, "list");
    local_store_t *s = local_store_open(dir);
    assert_non_null(s);
    assert_int_equal(local_store_put_submission(s, "2025-r2-bbbb", "b", 1), LS_OK);
    assert_int_equal(local_store_put_submission(s, "2025-r1-aaaa", "a", 1), LS_OK);
    assert_int_equal(local_store_write(s, "2025-r1-aaaa", LS_ACK, "ok", 2), LS_OK);
    assert_int_equal(local_store_write(s, "2025-r3-cccc", LS_REQUEST, "q", 1), LS_OK);
    /* a stray temporary file and a foreign file are not rounds */
    snprintf(junk, sizeof junk, "%s/2025-r9-9999.submission.pb.tmp.123", dir);
    FILE *f = fopen(junk, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(junk, sizeof junk, "%s/notes.txt", dir);
    f = fopen(junk, "w");
    assert_non_null(f);
    fclose(f);
    char **ids = NULL;
    size_t n = 0;
    assert_int_equal(local_store_list(s, LS_SUBMISSION, &ids, &n), LS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ids[0], "2025-r1-aaaa");
    assert_string_equal(ids[1], "2025-r2-bbbb");
    local_store_ids_free(ids, n);
    assert_int_equal(local_store_list(s, LS_ACK, &ids, &n), LS_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "2025-r1-aaaa");
    local_store_ids_free(ids, n);
    assert_int_equal(local_store_list(s, LS_FAILED, &ids, &n), LS_OK);
    assert_int_equal(n, 0);
    local_store_ids_free(ids, n);
    assert_string_equal(local_store_suffix(LS_REQUEST), ".request.pb");
    local_store_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_creates_private_dir),
        cmocka_unit_test(test_open_refuses_writable_dir),
        cmocka_unit_test(test_round_ids),
        cmocka_unit_test(test_write_read_remove),
        cmocka_unit_test(test_submission_is_write_once),
        cmocka_unit_test(test_list),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
