/*
 * test_wire.c - cell set container, builder, writers, and the protobuf
 * codecs (Submission, Envelope, RoundRequest, small messages, NodeStatus)
 * with their checks of untrusted bytes.
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
#include <time.h>
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
                     .member_months = 3000 * CELL_MONTHS_SCALE, .denominator = 3000 * CELL_MONTHS_SCALE, .numerator = 120};
    assert_non_null(cellset_append(cs, &c));
    for (int s = 0; s < 3; s++) {
        struct cell r = {.measure = M_ED_RATE, .table = 1, .stratum = s, .members = 100,
                         .member_months = 1000 * CELL_MONTHS_SCALE, .denominator = 1000 * CELL_MONTHS_SCALE, .numerator = 40};
        assert_non_null(cellset_append(cs, &r));
    }
    for (int s = 0; s < 6; s++) {
        struct cell r = {.measure = M_ED_RATE, .table = 2, .stratum = s, .members = 50,
                         .member_months = 500 * CELL_MONTHS_SCALE, .denominator = 500 * CELL_MONTHS_SCALE, .numerator = 20,
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
    assert_non_null(strstr(err, "below k (k=60)"));
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

/* Rejected rows travel per reason; counts of 1..k-1 only as "fewer than k",
 * and a hostile submission that breaks that is refused. */
static void test_submission_rejected_rows(void **state)
{
    (void)state;
    struct cellset *cs = small_set();
    struct submission_meta meta;
    assert_int_equal(wire_meta_init(&meta, cs), 0);
    assert_int_equal(meta.k, 11);
    assert_int_equal(wire_meta_add_rejected(&meta, "range", 240), 0);
    assert_int_equal(wire_meta_add_rejected(&meta, "code", 3), 0);
    assert_int_equal(wire_meta_add_rejected(&meta, "period", 0), 0); /* nothing added */
    assert_int_equal(wire_meta_add_rejected(&meta, "Bad name", 50), -1);
    assert_int_equal(meta.n_rejected, 2);
    uint8_t *buf;
    size_t len;
    assert_int_equal(wire_submission_pack(cs, &meta, &buf, &len), 0);
    /* The number 3 is not in the bytes that leave. */
    Equity__V1__Submission *sub = equity__v1__submission__unpack(NULL, len, buf);
    assert_non_null(sub);
    assert_int_equal(sub->n_rejected, 2);
    assert_string_equal(sub->rejected[1]->reason, "code");
    assert_int_equal(sub->rejected[1]->rows, 0);
    assert_true(sub->rejected[1]->fewer_than_k);
    struct cellset *back = NULL;
    struct submission_meta m2;
    char err[256];
    assert_int_equal(wire_submission_unpack(buf, len, &back, &m2, err, sizeof err), 0);
    cellset_destroy(&back);
    assert_int_equal(m2.n_rejected, 2);
    assert_string_equal(m2.rejected[0].reason, "range");
    assert_int_equal(m2.rejected[0].rows, 240);
    assert_false(m2.rejected[0].fewer_than_k);
    assert_true(m2.rejected[1].fewer_than_k);
    free(buf);
    /* Hostile variants, each refused with its reason. */
    static const struct {
        const char *reason;
        uint64_t rows;
        int fewer;
        const char *msg;
    } bad[] = {
        {"code", 3, 0, "below k"},
        {"code", 3, 1, "fewer_than_k with a number"},
        {"range", 500, 0, "twice"},
        {"Range!", 50, 0, "lowercase"},
    };
    char *own = sub->rejected[1]->reason; /* freed with sub */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sub->rejected[1]->reason = (char *)bad[i].reason;
        sub->rejected[1]->rows = bad[i].rows;
        sub->rejected[1]->fewer_than_k = bad[i].fewer;
        size_t n = equity__v1__submission__get_packed_size(sub);
        uint8_t *p = malloc(n);
        assert_non_null(p);
        equity__v1__submission__pack(sub, p);
        back = NULL;
        assert_int_equal(wire_submission_unpack(p, n, &back, &m2, err, sizeof err), -1);
        assert_null(back);
        assert_non_null(strstr(err, bad[i].msg));
        free(p);
    }
    sub->rejected[1]->reason = own;
    equity__v1__submission__free_unpacked(sub, NULL);
    /* More reasons than a node has: refused. */
    for (int i = 0; i < WIRE_MAX_REJECTED; i++) {
        char name[8] = {'r', (char)('a' + i), 0};
        assert_int_equal(wire_meta_add_rejected(&meta, name, 20), i < WIRE_MAX_REJECTED - 2 ? 0 : -1);
    }
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
    sub.format_version = WIRE_FORMAT_VERSION;
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

    sub.format_version = 1; /* doubles: refused */
    len = equity__v1__submission__pack(&sub, buf);
    assert_int_equal(wire_submission_unpack(buf, len, &out, &m, err, sizeof err), -1);
    sub.format_version = 3;
    len = equity__v1__submission__pack(&sub, buf);
    assert_int_equal(wire_submission_unpack(buf, len, &out, &m, err, sizeof err), -1);
    sub.format_version = WIRE_FORMAT_VERSION;

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

/* Raw NodeStatus bytes as another implementation might send them. */
static uint8_t *raw_status(const char *round_id, const char *org, int state, const char *code,
                           const char *reason, size_t *len)
{
    Equity__V1__NodeStatus m = EQUITY__V1__NODE_STATUS__INIT;
    m.round_id = (char *)round_id;
    m.org = (char *)org;
    m.state = (Equity__V1__NodeState)state;
    m.code = (char *)code;
    m.reason = (char *)reason;
    *len = equity__v1__node_status__get_packed_size(&m);
    uint8_t *buf = malloc(*len ? *len : 1);
    assert_non_null(buf);
    equity__v1__node_status__pack(&m, buf);
    return buf;
}

static void expect_status_refused(const char *round_id, const char *org, int state,
                                  const char *code, const char *reason, const char *why)
{
    size_t len;
    uint8_t *buf = raw_status(round_id, org, state, code, reason, &len);
    struct node_status st;
    char err[200] = "";
    assert_int_equal(node_status_unpack(buf, len, &st, err, sizeof err), -1);
    if (!strstr(err, why))
        fail_msg("expected \"%s\" in \"%s\"", why, err);
    assert_string_equal(st.round_id, "");
    free(buf);
}

/* NodeStatus: what a node tells about a round it holds or cannot answer.
 * Round trip (through a signed-shape envelope of its type), and every rule
 * of the decoder on bytes built with protobuf-c directly. */
static void test_node_status(void **state)
{
    (void)state;
    struct node_status st, back;
    memset(&st, 0, sizeof st);
    snprintf(st.round_id, sizeof st.round_id, "2025-r1-00ab");
    snprintf(st.org, sizeof st.org, "org:a");
    st.state = NODE_STATE_HELD;
    snprintf(st.code, sizeof st.code, "rejected_rows");
    snprintf(st.reason, sizeof st.reason, "10.0 %% of the rows read were rejected (code)");
    uint8_t *buf, *env;
    size_t len, envlen;
    char err[200];
    assert_int_equal(node_status_pack(&st, &buf, &len), 0);
    assert_true(len <= NODE_STATUS_MAX_PAYLOAD);
    uint8_t mid[ENVELOPE_ID_LEN];
    assert_int_equal(envelope_pack(MSG_NODE_STATUS, buf, len, NULL, NULL, &env, &envlen, mid), 0);
    struct envelope e;
    assert_int_equal(envelope_unpack(env, envlen, &e, err, sizeof err), 0);
    assert_int_equal(e.type, MSG_NODE_STATUS);
    assert_string_equal(envelope_type_name(e.type), "NODE_STATUS");
    assert_int_equal(node_status_unpack(e.payload, e.payload_len, &back, err, sizeof err), 0);
    assert_string_equal(back.round_id, st.round_id);
    assert_string_equal(back.org, "org:a");
    assert_int_equal(back.state, NODE_STATE_HELD);
    assert_string_equal(back.code, "rejected_rows");
    assert_string_equal(back.reason, st.reason);
    envelope_free(&e);
    free(env);
    free(buf);
    assert_string_equal(node_state_name(NODE_STATE_HELD), "held");
    assert_string_equal(node_state_name(NODE_STATE_FAILING), "failing");
    assert_null(node_state_name(0));
    assert_null(node_state_name(3));

    /* FAILING with an empty reason is fine; the longest reason too. */
    char longest[NODE_STATUS_REASON_MAX + 2];
    memset(longest, 'x', NODE_STATUS_REASON_MAX);
    longest[NODE_STATUS_REASON_MAX] = 0;
    buf = raw_status("r1", "org:a", NODE_STATE_FAILING, "input_error", "", &len);
    assert_int_equal(node_status_unpack(buf, len, &back, err, sizeof err), 0);
    assert_int_equal(back.state, NODE_STATE_FAILING);
    free(buf);
    buf = raw_status("r1", "org:a", NODE_STATE_FAILING, "input_error", longest, &len);
    assert_int_equal(node_status_unpack(buf, len, &back, err, sizeof err), 0);
    assert_int_equal(strlen(back.reason), NODE_STATUS_REASON_MAX);
    free(buf);

    /* what the decoder refuses */
    expect_status_refused("", "org:a", NODE_STATE_HELD, "x", "", "without round_id");
    expect_status_refused("r1", "", NODE_STATE_HELD, "x", "", "without round_id or org");
    expect_status_refused("r1", "org:a", 0, "x", "", "neither HELD nor FAILING");
    expect_status_refused("r1", "org:a", 7, "x", "", "neither HELD nor FAILING");
    expect_status_refused("r1", "org:a", NODE_STATE_HELD, "", "", "code must be");
    expect_status_refused("r1", "org:a", NODE_STATE_HELD, "Input", "", "code must be");
    expect_status_refused("r1", "org:a", NODE_STATE_HELD, "a-b", "", "code must be");
    expect_status_refused("r1", "org:a", NODE_STATE_HELD, "abcdefghijklmnopqrstuvwxyz0123456",
                          "", "code");
    longest[NODE_STATUS_REASON_MAX] = 'x';
    longest[NODE_STATUS_REASON_MAX + 1] = 0;
    expect_status_refused("r1", "org:a", NODE_STATE_HELD, "x", longest, "reason longer than");
    expect_status_refused("r1", "org:a", NODE_STATE_HELD, "x", "line\nbreak", "control character");
    expect_status_refused("r1\t", "org:a", NODE_STATE_HELD, "x", "", "control character");
    /* oversized: an unknown field pads it past the limit */
    {
        size_t n = NODE_STATUS_MAX_PAYLOAD + 1;
        uint8_t *big = calloc(1, n);
        assert_non_null(big);
        assert_int_equal(node_status_unpack(big, n, &back, err, sizeof err), -1);
        assert_non_null(strstr(err, "over the limit"));
        free(big);
    }
    assert_int_equal(node_status_unpack((const uint8_t *)"\xff\xff", 2, &back, err, sizeof err), -1);
    /* the packer keeps the same rules */
    st.state = 0;
    assert_int_equal(node_status_pack(&st, &buf, &len), -1);
    st.state = NODE_STATE_FAILING;
    snprintf(st.code, sizeof st.code, "Bad Code");
    assert_int_equal(node_status_pack(&st, &buf, &len), -1);
    /* an envelope of an unknown type past NODE_STATUS is still refused */
    assert_int_equal(envelope_pack(MSG_NODE_STATUS + 1, (const uint8_t *)"", 0, NULL, NULL, &env,
                                   &envlen, NULL), 0);
    assert_int_equal(envelope_unpack(env, envlen, &e, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown message type 10"));
    free(env);
}

/* A hostile, well-signed node invents stratum labels: every part of a
 * stratum must be a code of its stratifier, and an open list (language,
 * county) cannot grow past the protocol's limit (issue: overflow of the
 * table size and the stratum index). */
static void test_builder_refuses_invented_codes(void **state)
{
    (void)state;
    struct cellset_builder *b = cellset_builder_new();
    char err[200], label[32];
    struct cell v = {.members = 12};
    assert_int_equal(cellset_builder_add(b, "wellness", "race*payer", "X1*Y1", &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a race code"));
    assert_int_equal(cellset_builder_add(b, "wellness", "race*payer", "BLACK*Y1", &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a payer code"));
    assert_int_equal(cellset_builder_add(b, "wellness", "race", "black", &v, err, sizeof err), -1);
    assert_int_equal(cellset_builder_add(b, "wellness", "age_band", "0-17", &v, err, sizeof err), 0);
    assert_int_equal(cellset_builder_add(b, "wellness", "age_band", "75+", &v, err, sizeof err), 0);
    assert_int_equal(cellset_builder_add(b, "wellness", "age_band", "017", &v, err, sizeof err), -1);
    assert_int_equal(cellset_builder_add(b, "wellness", "age_band", "200+", &v, err, sizeof err), -1);
    assert_int_equal(cellset_builder_add(b, "wellness", "county", "06075", &v, err, sizeof err), 0);
    assert_int_equal(cellset_builder_add(b, "wellness", "county", "6075", &v, err, sizeof err), -1);
    assert_int_equal(cellset_builder_add(b, "wellness", "language", "spa", &v, err, sizeof err), 0);
    assert_int_equal(cellset_builder_add(b, "wellness", "language", "Spanish", &v, err, sizeof err), -1);
    /* county codes are five digits: 4,096 distinct ones at most */
    int refused = 0;
    for (int i = 0; i < 5000 && !refused; i++) {
        snprintf(label, sizeof label, "%05d", 10000 + i);
        refused = cellset_builder_add(b, "ed_rate", "county", label, &v, err, sizeof err) != 0;
    }
    assert_true(refused);
    assert_non_null(strstr(err, "more than 4096 county strata"));
    cellset_builder_destroy(&b);
}

/* Decoding is linear: a submission with the most cells the protocol allows
 * of distinct, valid strata (language x county) decodes in well under the
 * 30 s a quadratic builder took for 120,000 cells. */
static void test_large_submission_decodes_fast(void **state)
{
    (void)state;
    const int nlang = 120, ncounty = 4000;
    size_t n = (size_t)nlang * ncounty;
    Equity__V1__Cell *cells = calloc(n, sizeof *cells);
    Equity__V1__Cell **cp = calloc(n, sizeof *cp);
    char *labels = calloc(n, 16);
    assert_true(cells && cp && labels);
    for (size_t i = 0; i < n; i++) {
        equity__v1__cell__init(&cells[i]);
        int l = (int)(i / (size_t)ncounty), c = (int)(i % (size_t)ncounty);
        snprintf(labels + 16 * i, 16, "%c%c*%05d", 'a' + l / 26, 'a' + l % 26, 10000 + c);
        cells[i].measure = "ed_rate";
        cells[i].stratifier = "language*county";
        cells[i].stratum = labels + 16 * i;
        cells[i].reason = EQUITY__V1__SUPPRESSION_REASON__SECONDARY;
        cp[i] = &cells[i];
    }
    uint8_t nonce[16] = {1};
    Equity__V1__Submission sub = EQUITY__V1__SUBMISSION__INIT;
    sub.format_version = WIRE_FORMAT_VERSION;
    sub.org = "org:x";
    sub.period = "2025";
    sub.k = 11;
    sub.dominance = 0.6;
    sub.nonce.data = nonce;
    sub.nonce.len = 16;
    sub.n_cells = n;
    sub.cells = cp;
    size_t len = equity__v1__submission__get_packed_size(&sub);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    equity__v1__submission__pack(&sub, buf);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct cellset *out = NULL;
    struct submission_meta m;
    char err[256];
    assert_int_equal(wire_submission_unpack(buf, len, &out, &m, err, sizeof err), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("decoded %zu cells in %.2f s\n", n, secs);
    assert_int_equal(out->ncells, n);
    assert_int_equal(out->tables[0].nstrata, nlang * ncounty);
    assert_true(secs < 10.0);
    assert_int_equal(wire_cells_check(out, 11, err, sizeof err), 0);
    cellset_destroy(&out);
    free(buf);
    free(labels);
    free(cp);
    free(cells);
}

/* security.md step 4: every released number of every channel is checked
 * against k, not only members. */
static void test_cells_check_every_channel(void **state)
{
    (void)state;
    struct {
        const char *measure;
        int64_t members, months, den, num; /* months in whole months, cost in cents */
        const char *want; /* NULL: plausible */
    } cases[] = {
        {"ed_rate", 100, 1200, 1200, 25, NULL},
        {"ed_rate", 100, 1200, 1200, 0, NULL},
        {"ed_rate", 100, 1200, 1200, 3, "a count below k"},
        {"wellness", 100, 1200, 100, 98, "complement"},
        {"wellness", 100, 1200, 100, 89, NULL},
        {"wellness", 100, 1200, 100, 100, NULL},
        {"wellness", 100, 1200, 100, 101, "numerator above denominator"},
        {"readmit_30d", 20, 240, 5, 0, "denominator count below k"},
        {"cost_pmpm", 4, 48, 48, 100000, "members below k"},
        {"cost_pmpm", 40, 480, 480, 100025, NULL},
        {"population", 0, 0, 0, 0, NULL},
        {"ed_rate", 0, 12, 12, 0, "no members"},
        {"ed_rate", 20, 250, 250, 0, "12 member months"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cellset_builder *b = cellset_builder_new();
        char err[256];
        int md = catalog_measure(catalog_measure_find(cases[i].measure))->kind;
        struct cell v = {.members = cases[i].members,
                         .member_months = cases[i].months * CELL_MONTHS_SCALE,
                         .denominator = md == KIND_RATE || md == KIND_PMPM
                                            ? cases[i].den * CELL_MONTHS_SCALE : cases[i].den,
                         .numerator = cases[i].num};
        if (md == KIND_PMPM) /* one member with all the cost: the largest possible */
            v.sum_sq = (cell_i128)v.numerator * v.numerator;
        if (!strcmp(cases[i].measure, "population"))
            v.denominator = v.numerator = v.members;
        assert_int_equal(cellset_builder_add(b, cases[i].measure, "sex", "F", &v, err, sizeof err), 0);
        struct cellset *cs = cellset_builder_finish(&b);
        assert_non_null(cs);
        int rc = wire_cells_check(cs, 11, err, sizeof err);
        if (cases[i].want) {
            if (rc != -1 || !strstr(err, cases[i].want))
                fail_msg("case %zu (%s): expected \"%s\", got rc %d \"%s\"", i, cases[i].measure,
                         cases[i].want, rc, rc ? err : "");
        } else if (rc != 0) {
            fail_msg("case %zu (%s): refused: %s", i, cases[i].measure, err);
        }
        cellset_destroy(&cs);
    }
}

/* A submission carries only what its round asked for. */
/* A sum of squares above 2^64 (cents^2) crosses the wire exactly in its two
 * halves; a high half of 2^63 or more is refused, and so is a sum of
 * squares that no member values can give. */
static void test_exact_sum_sq(void **state)
{
    (void)state;
    char err[256];
    struct cellset_builder *b = cellset_builder_new();
    const cell_i128 e24 = (cell_i128)1000000000000LL * 1000000000000LL;
    /* 20 members: one with 1e12 cents, 19 with 1 cent */
    struct cell v = {.members = 20, .member_months = 20 * 120000, .denominator = 20 * 120000,
                     .numerator = 1000000000000LL + 19, .sum_sq = e24 + 19};
    assert_int_equal(cellset_builder_add(b, "cost_pmpm", "total", "all", &v, err, sizeof err), 0);
    struct cellset *cs = cellset_builder_finish(&b);
    assert_non_null(cs);
    snprintf(cs->org, sizeof cs->org, "org:x");
    assert_int_equal(wire_cells_check(cs, 11, err, sizeof err), 0);
    struct submission_meta meta;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(wire_meta_init(&meta, cs), 0);
    assert_int_equal(wire_submission_pack(cs, &meta, &buf, &len), 0);
    struct cellset *out = NULL;
    struct submission_meta m;
    assert_int_equal(wire_submission_unpack(buf, len, &out, &m, err, sizeof err), 0);
    free(buf);
    assert_true(out->cells[0].sum_sq == e24 + 19);
    assert_true(out->cells[0].numerator == 1000000000019LL);
    char txt[64];
    cells_format_scaled(txt, sizeof txt, out->cells[0].sum_sq, 4, 1);
    assert_string_equal(txt, "100000000000000000000.0019");
    cellset_destroy(&out);
    /* impossible: above numerator^2, or below numerator^2 / members */
    cs->cells[0].sum_sq = (cell_i128)cs->cells[0].numerator * cs->cells[0].numerator + 1;
    assert_int_equal(wire_cells_check(cs, 11, err, sizeof err), -1);
    assert_non_null(strstr(err, "sum of squares"));
    cs->cells[0].sum_sq = (cell_i128)cs->cells[0].numerator * cs->cells[0].numerator / 20 - 1;
    assert_int_equal(wire_cells_check(cs, 11, err, sizeof err), -1);
    cellset_destroy(&cs);

    /* a high half of 2^63 or more does not fit and is refused */
    uint8_t nonce[16] = {1};
    Equity__V1__Submission sub = EQUITY__V1__SUBMISSION__INIT;
    Equity__V1__Cell c = EQUITY__V1__CELL__INIT;
    Equity__V1__Cell *cp = &c;
    sub.format_version = WIRE_FORMAT_VERSION;
    sub.org = "org:x";
    sub.period = "2025";
    sub.k = 11;
    sub.dominance = 0.6;
    sub.nonce.data = nonce;
    sub.nonce.len = 16;
    sub.n_cells = 1;
    sub.cells = &cp;
    c.measure = "cost_pmpm";
    c.stratifier = "total";
    c.stratum = "all";
    c.members = 20;
    c.sum_sq_hi = (uint64_t)1 << 63;
    uint8_t pb[512];
    len = equity__v1__submission__pack(&sub, pb);
    assert_int_equal(wire_submission_unpack(pb, len, &out, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "out of range"));
    c.sum_sq_hi = 0;
    c.numerator = (uint64_t)INT64_MAX + 1;
    len = equity__v1__submission__pack(&sub, pb);
    assert_int_equal(wire_submission_unpack(pb, len, &out, &m, err, sizeof err), -1);
}

static void test_cells_fit_request(void **state)
{
    (void)state;
    struct round_request r;
    memset(&r, 0, sizeof r);
    snprintf(r.period, sizeof r.period, "2025");
    r.measure_on[M_ED_RATE] = 1;
    r.strat_on[S_TOTAL] = r.strat_on[S_RACE] = 1;
    r.inter[0][0] = S_RACE;
    r.inter[0][1] = S_DISABILITY;
    r.n_inter = 1;
    struct cellset *cs = small_set(); /* ed_rate: total, race, race*disability, 2025 */
    char err[256];
    assert_int_equal(wire_cells_fit_request(cs, &r, err, sizeof err), 0);
    r.inter[0][1] = S_PAYER;
    assert_int_equal(wire_cells_fit_request(cs, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "race*disability"));
    r.inter[0][1] = S_DISABILITY;
    r.strat_on[S_RACE] = 0;
    assert_int_equal(wire_cells_fit_request(cs, &r, err, sizeof err), -1);
    r.strat_on[S_RACE] = 1;
    r.measure_on[M_ED_RATE] = 0;
    r.measure_on[M_WELLNESS] = 1;
    assert_int_equal(wire_cells_fit_request(cs, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "ed_rate"));
    r.measure_on[M_ED_RATE] = 1;
    snprintf(r.period, sizeof r.period, "2024");
    assert_int_equal(wire_cells_fit_request(cs, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "period"));
    cellset_destroy(&cs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cells_and_writers),
        cmocka_unit_test(test_submission_roundtrip),
        cmocka_unit_test(test_submission_rejected_rows),
        cmocka_unit_test(test_submission_rejects_bad_content),
        cmocka_unit_test(test_builder),
        cmocka_unit_test(test_builder_refuses_invented_codes),
        cmocka_unit_test(test_large_submission_decodes_fast),
        cmocka_unit_test(test_cells_check_every_channel),
        cmocka_unit_test(test_cells_fit_request),
        cmocka_unit_test(test_exact_sum_sq),
        cmocka_unit_test(test_round_request_and_small_messages),
        cmocka_unit_test(test_node_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
