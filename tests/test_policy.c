/*
 * test_policy.c - the node's [policy] against round requests: allowed and
 * refused cases with their reasons, k handling, and the round's tally spec.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"
#include "node_config.h"
#include "policy.h"

/* Loads a node_config from the given ini text (written to a real file). */
static struct node_config *load(const char *ini)
{
    static int serial;
    char path[96];
    snprintf(path, sizeof path, "/tmp/test_policy_%ld_%d.ini", (long)getpid(), serial++);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(ini, f);
    fclose(f);
    struct node_config *c = calloc(1, sizeof *c);
    assert_non_null(c);
    char err[600];
    int rc = node_config_load(c, path, err, sizeof err);
    unlink(path);
    if (rc != 0)
        fail_msg("config did not load: %s", err);
    return c;
}

/* A request for population + ed_rate by race and sex, race*sex, k = 11. */
static void base_request(struct round_request *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->round_id, sizeof r->round_id, "2025-r1-abcd");
    snprintf(r->period, sizeof r->period, "2025");
    snprintf(r->coordinator, sizeof r->coordinator, "coord:state");
    r->measure_on[M_POPULATION] = 1;
    r->measure_on[M_ED_RATE] = 1;
    r->strat_on[S_TOTAL] = 1;
    r->strat_on[S_RACE] = 1;
    r->strat_on[S_SEX] = 1;
    r->inter[0][0] = S_RACE;
    r->inter[0][1] = S_SEX;
    r->n_inter = 1;
    r->k = 11;
    r->min_orgs = 2;
}

static void test_default_policy_allows_everything(void **state)
{
    (void)state;
    struct node_config *c = load("[node]\norg = org:a\n");
    struct round_request r;
    base_request(&r);
    for (int m = 0; m < M__COUNT; m++)
        r.measure_on[m] = 1;
    /* every stratifier of the default catalog (the opt-in ones need a
     * catalog that defines them, docs/catalog.md) */
    for (int s = 0; s < S__COUNT; s++)
        r.strat_on[s] = (unsigned char)!catalog_stratifier_opt_in(s);
    r.inter[1][0] = S_PAYER;
    r.inter[1][1] = S_COUNTY;
    r.n_inter = 2;
    char reason[512];
    assert_int_equal(policy_check(c, &r, reason, sizeof reason), POLICY_OK);
    assert_string_equal(reason, "");
    assert_int_equal(policy_effective_k(c, &r), 11);
    free(c);
}

static void test_stratifier_not_allowed(void **state)
{
    (void)state;
    struct node_config *c = load("[node]\norg = org:a\n[policy]\n"
                                 "allowed_stratifiers = race, sex, payer\n");
    struct round_request r;
    base_request(&r);
    char reason[512];
    assert_int_equal(policy_check(c, &r, reason, sizeof reason), POLICY_OK);
    r.strat_on[S_COUNTY] = 1;
    assert_int_equal(policy_check(c, &r, reason, sizeof reason), POLICY_REFUSED);
    assert_string_equal(reason, "stratifier county is not allowed by this node's policy");
    free(c);
}

static void test_every_refused_measure_is_named(void **state)
{
    (void)state;
    struct node_config *c = load("[policy]\nallowed_measures = population, ed_rate, ip_rate\n");
    struct round_request r;
    base_request(&r);
    r.measure_on[M_COST_PMPM] = 1;
    r.measure_on[M_EXPERIENCE] = 1;
    char reason[512];
    assert_int_equal(policy_check(c, &r, reason, sizeof reason), POLICY_REFUSED);
    assert_string_equal(reason, "measure cost_pmpm is not allowed by this node's policy; "
                                "measure experience is not allowed by this node's policy");
    free(c);
}

static void test_intersections(void **state)
{
    (void)state;
    struct node_config *c = load("[policy]\nallowed_intersections = sex*race, race*disability\n");
    struct round_request r;
    base_request(&r); /* asks race*sex: listed the other way round */
    char reason[512];
    assert_int_equal(policy_check(c, &r, reason, sizeof reason), POLICY_OK);
    r.inter[1][0] = S_RACE;
    r.inter[1][1] = S_PAYER;
    r.n_inter = 2;
    assert_int_equal(policy_check(c, &r, reason, sizeof reason), POLICY_REFUSED);
    assert_string_equal(reason, "intersection race*payer is not allowed by this node's policy");
    free(c);

    c = load("[policy]\nallowed_intersections = none\n");
    assert_int_equal(policy_check(c, &r, reason, sizeof reason), POLICY_REFUSED);
    assert_non_null(strstr(reason, "intersection race*sex is not allowed"));
    r.n_inter = 0;
    assert_int_equal(policy_check(c, &r, reason, sizeof reason), POLICY_OK);
    free(c);
}

/* Three-way intersections: listed in any order, a two-way entry does not
 * allow them, at most max_three_way, each stratifier allowed; the tally
 * spec gets all three and their one-way margins. */
static void test_three_way(void **state)
{
    (void)state;
    struct node_config *c =
        load("[policy]\nallowed_intersections = race*sex, cmc*race*disability, race*disability\n");
    struct round_request r;
    base_request(&r);
    r.inter[1][0] = S_RACE;
    r.inter[1][1] = S_DISABILITY;
    r.inter[1][2] = S_CMC;
    r.n_inter = 2;
    char reason[512];
    assert_int_equal(policy_check(c, &r, reason, sizeof reason), POLICY_OK);
    struct tally_spec spec;
    assert_int_equal(policy_round_spec(c, &r, &spec), 0);
    assert_int_equal(spec.n_inter, 2);
    assert_int_equal(spec.inter[1][2], S_CMC);
    assert_true(spec.stratifier_on[S_CMC] && spec.stratifier_on[S_DISABILITY]);
    char text[2048];
    policy_describe(c, &r, text, sizeof text);
    assert_non_null(strstr(text, "intersections race*sex race*disability*cmc\n"));
    /* race*sex*disability: only its two-way race*sex and race*disability are listed */
    r.inter[1][2] = S_SEX;
    assert_int_equal(policy_check(c, &r, reason, sizeof reason), POLICY_REFUSED);
    assert_string_equal(reason,
                        "intersection race*disability*sex is not allowed by this node's policy");
    free(c);

    c = load("[policy]\nmax_three_way = 1\n");
    r.inter[1][2] = S_CMC;
    r.inter[2][0] = S_SEX;
    r.inter[2][1] = S_PAYER;
    r.inter[2][2] = S_CMC;
    r.n_inter = 3;
    r.strat_on[S_PAYER] = 1;
    assert_int_equal(policy_check(c, &r, reason, sizeof reason), POLICY_REFUSED);
    assert_string_equal(reason, "the request asks for 2 three-way intersections, more than this "
                                "node's max_three_way = 1");
    free(c);

    c = load("[policy]\nallowed_stratifiers = race, sex, disability\n");
    r.n_inter = 2;
    r.strat_on[S_PAYER] = 0;
    assert_int_equal(policy_check(c, &r, reason, sizeof reason), POLICY_REFUSED);
    assert_non_null(strstr(reason, "intersection race*disability*cmc would release stratifier cmc"));
    free(c);
}

static void test_intersection_margin_needs_allowed_stratifier(void **state)
{
    (void)state;
    /* Intersections are "all", but county is not an allowed stratifier: a
     * race*county table would release the county margins. */
    struct node_config *c = load("[policy]\nallowed_stratifiers = race, sex, payer\n");
    struct round_request r;
    base_request(&r);
    r.inter[0][0] = S_RACE;
    r.inter[0][1] = S_COUNTY;
    char reason[512];
    assert_int_equal(policy_check(c, &r, reason, sizeof reason), POLICY_REFUSED);
    assert_string_equal(reason, "intersection race*county would release stratifier county, "
                                "which this node's policy does not allow");
    free(c);
}

static void test_k_handling(void **state)
{
    (void)state;
    struct node_config *c = load("[node]\nk = 15\n[policy]\nmin_k = 11\n");
    struct round_request r;
    base_request(&r);
    char reason[512];
    /* A round below the node's minimum is refused, never silently raised. */
    r.k = 5;
    assert_int_equal(policy_check(c, &r, reason, sizeof reason), POLICY_REFUSED);
    assert_string_equal(reason, "the round's k = 5 is below this node's minimum k = 11");
    /* At or above the minimum: the node applies max(round k, its own k). */
    r.k = 11;
    assert_int_equal(policy_check(c, &r, reason, sizeof reason), POLICY_OK);
    assert_int_equal(policy_effective_k(c, &r), 15);
    r.k = 20;
    assert_int_equal(policy_check(c, &r, reason, sizeof reason), POLICY_OK);
    assert_int_equal(policy_effective_k(c, &r), 20);
    free(c);
}

static void test_several_reasons_together(void **state)
{
    (void)state;
    struct node_config *c = load("[policy]\nmin_k = 20\nallowed_stratifiers = race\n"
                                 "allowed_measures = population\n[node]\nk = 20\n");
    struct round_request r;
    base_request(&r);
    char reason[512];
    assert_int_equal(policy_check(c, &r, reason, sizeof reason), POLICY_REFUSED);
    assert_string_equal(reason,
                        "measure ed_rate is not allowed by this node's policy; "
                        "stratifier sex is not allowed by this node's policy; "
                        "intersection race*sex would release stratifier sex, which this node's "
                        "policy does not allow; "
                        "the round's k = 11 is below this node's minimum k = 20");
    /* A short buffer is truncated, never overrun. */
    char small[16];
    assert_int_equal(policy_check(c, &r, small, sizeof small), POLICY_REFUSED);
    assert_int_equal(strlen(small), 15);
    free(c);
}

static void test_broken_policy_refuses(void **state)
{
    (void)state;
    struct node_config *c = load("[policy]\nallowed_stratifiers = race, rase\n");
    char err[300];
    assert_int_equal(policy_config_check(c, err, sizeof err), POLICY_ERR_CONFIG);
    assert_string_equal(err, "[policy] allowed_stratifiers: unknown stratifier \"rase\"");
    struct round_request r;
    base_request(&r);
    char reason[512];
    assert_int_equal(policy_check(c, &r, reason, sizeof reason), POLICY_ERR_CONFIG);
    assert_non_null(strstr(reason, "this node's policy cannot be read"));
    free(c);

    c = load("[policy]\nallowed_intersections = race*race\n");
    assert_int_equal(policy_config_check(c, err, sizeof err), POLICY_ERR_CONFIG);
    assert_non_null(strstr(err, "[policy] allowed_intersections:"));
    free(c);
}

static void test_round_spec(void **state)
{
    (void)state;
    struct node_config *c = load("[report]\nmeasures = all\nage_bands = 0, 18, 65\n"
                                 "stratifiers = all\n");
    struct round_request r;
    base_request(&r);
    r.strat_on[S_SEX] = 0;          /* sex only as a margin of race*sex */
    r.inter[1][0] = S_PAYER;
    r.inter[1][1] = S_LANGUAGE;
    r.n_inter = 2;
    struct tally_spec spec;
    assert_int_equal(policy_round_spec(c, &r, &spec), 0);
    /* measures exactly the round's, not the node's [report] "all" */
    int nm = 0;
    for (int m = 0; m < M__COUNT; m++)
        nm += spec.measure_on[m];
    assert_int_equal(nm, 2);
    assert_true(spec.measure_on[M_POPULATION] && spec.measure_on[M_ED_RATE]);
    /* total, race, and the margins sex, payer, language */
    int ns = 0;
    for (int s = 0; s < S__COUNT; s++)
        ns += spec.stratifier_on[s];
    assert_int_equal(ns, 5);
    assert_true(spec.stratifier_on[S_TOTAL] && spec.stratifier_on[S_SEX] &&
                spec.stratifier_on[S_PAYER] && spec.stratifier_on[S_LANGUAGE]);
    assert_int_equal(spec.n_inter, 2);
    assert_int_equal(spec.inter[1][0], S_PAYER);
    assert_int_equal(spec.inter[1][1], S_LANGUAGE);
    /* the node's own age bands stay */
    assert_int_equal(spec.n_age_bands, 3);
    assert_int_equal(spec.age_band_lo[2], 65);
    free(c);
}

static void test_round_request_roundtrip_then_policy(void **state)
{
    (void)state;
    struct node_config *c = load("[policy]\nallowed_stratifiers = race, sex\n");
    struct round_request r, back;
    base_request(&r);
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[300];
    assert_int_equal(round_request_pack(&r, &buf, &len), 0);
    assert_int_equal(round_request_unpack(buf, len, &back, err, sizeof err), 0);
    free(buf);
    char reason[512];
    assert_int_equal(policy_check(c, &back, reason, sizeof reason), POLICY_OK);
    char text[2048];
    size_t n = policy_describe(c, &back, text, sizeof text);
    assert_int_equal(n, strlen(text));
    assert_non_null(strstr(text, "round        2025-r1-abcd\n"));
    assert_non_null(strstr(text, "k            11 asked, 11 applied by this node\n"));
    assert_non_null(strstr(text, "measures     population ed_rate\n"));
    assert_non_null(strstr(text, "intersections race*sex\n"));
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_policy_allows_everything),
        cmocka_unit_test(test_stratifier_not_allowed),
        cmocka_unit_test(test_every_refused_measure_is_named),
        cmocka_unit_test(test_intersections),
        cmocka_unit_test(test_intersection_margin_needs_allowed_stratifier),
        cmocka_unit_test(test_three_way),
        cmocka_unit_test(test_k_handling),
        cmocka_unit_test(test_several_reasons_together),
        cmocka_unit_test(test_broken_policy_refuses),
        cmocka_unit_test(test_round_spec),
        cmocka_unit_test(test_round_request_roundtrip_then_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
