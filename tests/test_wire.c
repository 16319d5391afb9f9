/*
 * test_wire.c - cell set container, builder, writers, and the protobuf
 * codecs (Submission, Envelope, RoundRequest, small messages) with their
 * checks of untrusted bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cells.h"
#include "envelope.h"
#include "equity.pb-c.h"
#include "wire.h"
#include "atomic_file.h"

static struct cellset *small_set(void)
{
    struct cellset *cs = cellset_new();
    assert_non_null(cs);
    const char *races[] = {"BLACK", "WHITE", "UNKNOWN"};
    const char *dis[] = {"Y", "N"};
    const char *const *l1[] = {races};
    const char *const *l2[] = {races, dis};
    int d1[] = {S_RACE}, c1[] = {3};
    int d2[] = {S_RACE, S_DISABILITY}, c2[] = {3, 2};
    assert_int_equal(cellset_add_table(cs, 0, NULL, NULL, NULL), 0);
    assert_int_equal(cellset_add_table(cs, 1, d1, c1, l1), 1);
    assert_int_equal(cellset_add_table(cs, 2, d2, c2, l2), 2);
    assert_string_equal(cs->tables[2].name, "race*disability");
    struct cell c = {.measure = M_ED_RATE, .table = 0, .stratum = 0, .members = 300,
                     .member_months = 3000, .denominator = 3000, .numerator = 120};
    assert_non_null(cellset_append(cs, &c));
    for (int s = 0; s < 3; s++) {
        struct cell r = {.measure = M_ED_RATE, .table = 1, .stratum = s, .members = 100,
                         .member_months = 1000, .denominator = 1000, .numerator = 40};
        assert_non_null(cellset_append(cs, &r));
    }
    for (int s = 0; s < 6; s++) {
        struct cell r = {.measure = M_ED_RATE, .table = 2, .stratum = s, .members = 50,
                         .member_months = 500, .denominator = 500, .numerator = 20,
                         .max_contrib = 77777};
        if (s == 1)
            r.reason = REASON_COUNT;
        assert_non_null(cellset_append(cs, &r));
    }
    cellset_sort(cs);
    snprintf(cs->org, sizeof cs->org, "org:test");
    snprintf(cs->period, sizeof cs->period, "2025");
    return cs;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_cells_and_writers(void **state)
{
    (void)state;
    struct cellset *cs = small_set();
    struct cell *c = cellset_get(cs, M_ED_RATE, 2, 1);
    assert_non_null(c);
    char label[64];
    cellset_stratum_label(cs, c, label, sizeof label);
    assert_string_equal(label, "BLACK*N");
    assert_null(cellset_get(cs, M_IP_RATE, 2, 1));
    char dir[] = "/tmp/eq_wire_" EQ_MKTEMP_SUFFIX;
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/cells.csv", dir);
    assert_int_equal(cellset_write_file(cs, path), 0);
    char *csv = slurp(path);
    assert_non_null(strstr(csv, "org,round,measure,stratifier,stratum,members,member_months,denominator,numerator,sum_sq,suppressed,reason\n"));
    assert_non_null(strstr(csv, "org:test,,ed_rate,race*disability,BLACK*N,,,,,,1,count\n"));
    assert_non_null(strstr(csv, "org:test,,ed_rate,total,all,300,3000,3000,120,0,0,\n"));
    assert_null(strstr(csv, "77777")); /* max_contrib never written */
    snprintf(path, sizeof path, "%s/cells.json", dir);
    assert_int_equal(cellset_write_file(cs, path), 0);
    char *json = slurp(path);
    assert_non_null(strstr(json, "\"reason\": \"count\""));
    assert_null(strstr(json, "77777"));
    snprintf(path, sizeof path, "%s/cells.txt", dir);
    assert_int_equal(cellset_write_file(cs, path), -2);
    /* no temporary files left behind */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 2", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    uint64_t counts[REASON__COUNT];
    cellset_count_reasons(cs, counts);
    assert_int_equal(counts[REASON_NONE], 9);
    assert_int_equal(counts[REASON_COUNT], 1);
    cellset_destroy(&cs);
    assert_null(cs);
    cellset_destroy(&cs); /* safe on NULL */
}

static void test_submission_roundtrip(void **state)
{
    (void)state;
    struct cellset *cs = small_set();
    snprintf(cs->round, sizeof cs->round, "2025-r1-abcd");
    struct submission_meta meta;
    assert_int_equal(wire_meta_init(&meta, cs), 0);
    uint8_t *buf;
    size_t len;
    assert_int_equal(wire_submission_pack(cs, &meta, &buf, &len), 0);
    struct cellset *back;
    struct submission_meta m2;
    char err[256];
    assert_int_equal(wire_submission_unpack(buf, len, &back, &m2, err, sizeof err), 0);
    assert_string_equal(m2.round_id, "2025-r1-abcd");
    assert_string_equal(m2.org, "org:test");
    assert_memory_equal(m2.nonce, meta.nonce, WIRE_NONCE_LEN);
    assert_int_equal(back->ncells, cs->ncells);
    int t = cellset_find_table(back, "race*disability");
    assert_true(t >= 0);
    /* the withheld cell arrived withheld and without numbers */
    int found = 0;
    char label[64];
    for (size_t i = 0; i < back->ncells; i++) {
        cellset_stratum_label(back, &back->cells[i], label, sizeof label);
        if (back->cells[i].table == t && !strcmp(label, "BLACK*N")) {
            found = 1;
            assert_int_equal(back->cells[i].reason, REASON_COUNT);
            assert_true(back->cells[i].members == 0 && back->cells[i].numerator == 0);
        }
        assert_true(back->cells[i].max_contrib == 0);
    }
    assert_true(found);
    assert_int_equal(wire_cells_check(back, 11, err, sizeof err), 0);
    assert_int_equal(wire_cells_check(back, 60, err, sizeof err), -1); /* 50 members < 60 */
    assert_non_null(strstr(err, "below k=60"));
    cellset_destroy(&back);

    /* every single-byte corruption is either refused or decodes to a valid set */
    for (size_t i = 0; i < len; i += 7) {
        uint8_t *copy = malloc(len);
        memcpy(copy, buf, len);
        copy[i] ^= 0x5a;
        struct cellset *x = NULL;
        if (wire_submission_unpack(copy, len, &x, &m2, err, sizeof err) == 0)
            cellset_destroy(&x);
        free(copy);
    }
    assert_int_equal(wire_submission_unpack((const uint8_t *)"\xff\xff\xff", 3, &back, &m2, err, sizeof err), -1);
    free(buf);
    cellset_destroy(&cs);
}

static void test_submission_rejects_bad_content(void **state)
{
    (void)state;
    char err[256];
    struct cellset *out;
    struct submission_meta m;
    uint8_t nonce[16] = {1};
    Equity__V1__Submission sub = EQUITY__V1__SUBMISSION__INIT;
    Equity__V1__Cell c = EQUITY__V1__CELL__INIT;
    Equity__V1__Cell *cp = &c;
    sub.format_version = 1;
    sub.org = "org:x";
    sub.period = "2025";
    sub.k = 11;
    sub.dominance = 0.6;
    sub.nonce.data = nonce;
    sub.nonce.len = 16;
    sub.n_cells = 1;
    sub.cells = &cp;
    c.measure = "ed_rate";
    c.stratifier = "race";
    c.stratum = "BLACK";
    c.members = 20;
    uint8_t buf[512];
    size_t len = equity__v1__submission__pack(&sub, buf);
    assert_int_equal(wire_submission_unpack(buf, len, &out, &m, err, sizeof err), 0);
    cellset_destroy(&out);

    c.measure = "not_a_measure";
    len = equity__v1__submission__pack(&sub, buf);
    assert_int_equal(wire_submission_unpack(buf, len, &out, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown measure"));
    c.measure = "ed_rate";

    c.stratifier = "race*race";
    len = equity__v1__submission__pack(&sub, buf);
    assert_int_equal(wire_submission_unpack(buf, len, &out, &m, err, sizeof err), -1);
    c.stratifier = "race";

    c.reason = EQUITY__V1__SUPPRESSION_REASON__COUNT; /* withheld but with numbers */
    len = equity__v1__submission__pack(&sub, buf);
    assert_int_equal(wire_submission_unpack(buf, len, &out, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "carries numbers"));
    c.reason = 0;

    sub.format_version = 2;
    len = equity__v1__submission__pack(&sub, buf);
    assert_int_equal(wire_submission_unpack(buf, len, &out, &m, err, sizeof err), -1);
    sub.format_version = 1;

    sub.nonce.len = 3;
    len = equity__v1__submission__pack(&sub, buf);
    assert_int_equal(wire_submission_unpack(buf, len, &out, &m, err, sizeof err), -1);
    sub.nonce.len = 16;

    sub.org = "org:\nx";
    len = equity__v1__submission__pack(&sub, buf);
    assert_int_equal(wire_submission_unpack(buf, len, &out, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "control character"));
}

static void test_builder(void **state)
{
    (void)state;
    struct cellset_builder *b = cellset_builder_new();
    char err[200];
    struct cell v = {.members = 12};
    assert_int_equal(cellset_builder_add(b, "wellness", "total", "all", &v, err, sizeof err), 0);
    assert_int_equal(cellset_builder_add(b, "wellness", "race*payer", "BLACK*MEDICAID", &v, err, sizeof err), 0);
    assert_int_equal(cellset_builder_add(b, "wellness", "race*payer", "WHITE*DUAL", &v, err, sizeof err), 0);
    assert_int_equal(cellset_builder_add(b, "wellness", "race*payer", "WHITE*DUAL", &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "repeated"));
    assert_int_equal(cellset_builder_add(b, "wellness", "race*payer", "WHITE", &v, err, sizeof err), -1);
    assert_int_equal(cellset_builder_add(b, "wellness", "total", "x", &v, err, sizeof err), -1);
    assert_int_equal(cellset_builder_add(b, "wellness", "colour", "x", &v, err, sizeof err), -1);
    struct cellset *cs = cellset_builder_finish(&b);
    assert_null(b);
    assert_non_null(cs);
    assert_int_equal(cs->ncells, 3);
    int t = cellset_find_table(cs, "race*payer");
    assert_int_equal(cs->tables[t].card[0], 2);
    assert_int_equal(cs->tables[t].card[1], 2);
    assert_non_null(cellset_get(cs, M_WELLNESS, t, 1 * 2 + 1)); /* WHITE*DUAL */
    assert_null(cellset_get(cs, M_WELLNESS, t, 1 * 2 + 0));     /* WHITE*MEDICAID absent */
    cellset_destroy(&cs);
}

static void test_round_request_and_small_messages(void **state)
{
    (void)state;
    struct round_request r, back;
    memset(&r, 0, sizeof r);
    snprintf(r.round_id, sizeof r.round_id, "2025-r1-0001");
    snprintf(r.period, sizeof r.period, "2025");
    r.measure_on[M_ED_RATE] = r.measure_on[M_COST_PMPM] = 1;
    r.strat_on[S_TOTAL] = r.strat_on[S_RACE] = r.strat_on[S_PAYER] = 1;
    r.inter[0][0] = S_RACE;
    r.inter[0][1] = S_PAYER;
    r.n_inter = 1;
    r.k = 11;
    r.min_orgs = 3;
    uint8_t *buf;
    size_t len;
    char err[200];
    assert_int_equal(round_request_pack(&r, &buf, &len), 0);
    assert_int_equal(round_request_unpack(buf, len, &back, err, sizeof err), 0);
    assert_string_equal(back.round_id, r.round_id);
    assert_memory_equal(back.measure_on, r.measure_on, sizeof r.measure_on);
    assert_memory_equal(back.strat_on, r.strat_on, sizeof r.strat_on);
    assert_int_equal(back.n_inter, 1);
    assert_int_equal(back.inter[0][1], S_PAYER);
    assert_int_equal(back.min_orgs, 3);
    free(buf);
    r.k = 1; /* below the smallest threshold */
    assert_int_equal(round_request_pack(&r, &buf, &len), 0);
    assert_int_equal(round_request_unpack(buf, len, &back, err, sizeof err), -1);
    free(buf);

    uint8_t id[ENVELOPE_ID_LEN] = {9};
    struct ack a;
    assert_int_equal(ack_pack(id, "2025-r1", "ab", 1, 0, &buf, &len), 0);
    assert_int_equal(ack_unpack(buf, len, &a, err, sizeof err), 0);
    assert_int_equal(a.duplicate, 1);
    assert_memory_equal(a.message_id, id, sizeof id);
    free(buf);
    struct error_msg em;
    assert_int_equal(error_pack(id, "conflict", "a different submission is stored", &buf, &len), 0);
    assert_int_equal(error_unpack(buf, len, &em, err, sizeof err), 0);
    assert_string_equal(em.code, "conflict");
    free(buf);

    /* unsigned envelope round trip; signed-envelope checks need certificates
     * and live in the federation tests */
    uint8_t *env;
    size_t envlen;
    uint8_t mid[ENVELOPE_ID_LEN];
    assert_int_equal(hello_pack("org:a", "equity-node", &buf, &len), 0);
    assert_int_equal(envelope_pack(MSG_HELLO, buf, len, NULL, NULL, &env, &envlen, mid), 0);
    struct envelope e;
    assert_int_equal(envelope_unpack(env, envlen, &e, err, sizeof err), 0);
    assert_int_equal(e.type, MSG_HELLO);
    assert_memory_equal(e.message_id, mid, sizeof mid);
    struct hello h;
    assert_int_equal(hello_unpack(e.payload, e.payload_len, &h, err, sizeof err), 0);
    assert_string_equal(h.org, "org:a");
    envelope_free(&e);
    assert_int_equal(envelope_unpack((const uint8_t *)"junk", 4, &e, err, sizeof err), -1);
    free(env);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cells_and_writers),
        cmocka_unit_test(test_submission_roundtrip),
        cmocka_unit_test(test_submission_rejects_bad_content),
        cmocka_unit_test(test_builder),
        cmocka_unit_test(test_round_request_and_small_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
