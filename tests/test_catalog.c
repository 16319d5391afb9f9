/*
 * test_catalog.c - catalog files (catalog_file.h): the default file
 * compiles to exactly the compiled-in catalog's definitions (channels and
 * every relation suppression reads), identity (SHA-256 of the canonical
 * text), errors with their lines, and the HEDIS example's derived
 * relations.
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

#include "catalog.h"
#include "catalog_def.h"
#include "catalog_file.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

static struct catalog *parse_ok(const char *text)
{
    struct catalog *c = malloc(sizeof *c);
    assert_non_null(c);
    char err[600];
    if (catalog_parse_text(c, text, "t.ini", err, sizeof err) != 0)
        fail_msg("did not parse: %s", err);
    return c;
}

static void parse_fails(const char *text, const char *want)
{
    struct catalog *c = malloc(sizeof *c);
    assert_non_null(c);
    char err[600] = "";
    int rc = catalog_parse_text(c, text, "t.ini", err, sizeof err);
    free(c);
    if (rc == 0)
        fail_msg("parsed, expected an error with \"%s\"", want);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

static void test_default_file_is_builtin(void **state)
{
    (void)state;
    struct catalog *c = catalog_load(EQ_SOURCE_DIR "/configs/catalog.ini", (char[600]){0}, 600);
    assert_non_null(c);
    const struct catalog *b = catalog_builtin();
    assert_int_equal(c->n_measures, M__COUNT);
    assert_int_equal(c->n_channels, CH__COUNT);
    assert_int_equal(c->leave_out, b->leave_out);
    for (int m = 0; m < M__COUNT; m++) {
        const struct measure_def *x = &c->m[m], *y = catalog_builtin_measure(m);
        assert_false(x->absent);
        assert_string_equal(x->name, y->name);
        assert_string_equal(x->label, y->label);
        assert_string_equal(x->population, y->population);
        assert_int_equal(x->kind, y->kind);
        assert_int_equal(x->better, y->better);
        assert_int_equal(x->numerator_is_count, y->numerator_is_count);
        assert_int_equal(x->denominator_is_count, y->denominator_is_count);
        assert_int_equal(x->ch_members, y->ch_members);
        assert_int_equal(x->ch_months, y->ch_months);
        assert_int_equal(x->ch_denominator, y->ch_denominator);
        assert_int_equal(x->ch_numerator, y->ch_numerator);
        assert_int_equal(x->ch_sum_sq, y->ch_sum_sq);
        if (x->parent != y->parent)
            fail_msg("%s: parent %d, built in %d", x->name, x->parent, y->parent);
        assert_true(x->num_per_den == y->num_per_den);
        assert_true(x->den_per_member == y->den_per_member);
        assert_true(x->sq_per_num == y->sq_per_num);
        assert_int_equal(x->any_of != NULL, y->any_of != NULL);
        for (int i = 0; y->any_of && y->any_of[i] >= 0; i++)
            assert_int_equal(x->any_of[i], y->any_of[i]);
        assert_string_equal(x->unit, b->m[m].unit);
    }
    /* the compiled-in catalog's identity is the file it was built from */
    assert_string_equal(c->sha256, b->sha256);
    assert_string_equal(c->name, "equity-default");
    assert_string_equal(b->name, "equity-default");
    assert_int_equal(c->strat[S_RACE].ncodes, RACE__COUNT);
    catalog_destroy(&c);
}

static void test_identity_canonical(void **state)
{
    (void)state;
    char *text = slurp(EQ_SOURCE_DIR "/configs/catalog.ini");
    struct catalog *a = parse_ok(text);
    /* comments, blank lines, spacing and CRLF do not change the identity */
    size_t n = strlen(text);
    char *b = malloc(n * 3 + 64);
    assert_non_null(b);
    size_t o = 0;
    o += (size_t)snprintf(b + o, 64, "; reformatted\r\n\r\n");
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '\n') {
            b[o++] = '\r';
            b[o++] = '\n';
        } else if (text[i] == '=') {
            /* the first '=' of a line separates key and value */
            size_t ls = i;
            while (ls > 0 && text[ls - 1] != '\n')
                ls--;
            if (memchr(text + ls, '=', i - ls) || text[ls] == ';') {
                b[o++] = text[i];
            } else {
                memcpy(b + o, "   =   ", 7);
                o += 7;
            }
        } else {
            b[o++] = text[i];
        }
    }
    b[o] = 0;
    struct catalog *c = parse_ok(b);
    assert_string_equal(a->sha256, c->sha256);
    /* any change of a definition does */
    char *p = strstr(text, "ip_admits > 0");
    assert_non_null(p);
    p[12] = '1';
    struct catalog *d = parse_ok(text);
    assert_string_not_equal(a->sha256, d->sha256);
    assert_true(d->m[M_READMIT_30D].den_per_member == 2);
    free(text);
    free(b);
    free(a);
    free(c);
    free(d);
}

#define HEAD "[catalog]\nname = t\nversion = 1\n"

static void test_errors(void **state)
{
    (void)state;
    parse_fails("[measure x]\nkind = count\nlabel = X\n", "[catalog] name and version");
    parse_fails(HEAD "[measure x]\nkind = share\nlabel = X\n", "[measure x] kind \"share\"");
    parse_fails(HEAD "[measure x]\nkind = rate\nlabel = X\nnumerator = sum ed_visits\n"
                "denominator = members\n", "a rate counts events");
    parse_fails(HEAD "[measure x]\nkind = proportion\nlabel = X\npopulation = total_cost > 3\n"
                "numerator = members\ndenominator = members\n", "with \"present\"");
    parse_fails(HEAD "[measure x]\nkind = proportion\nlabel = X\npopulation = sex = Q\n"
                "numerator = members\ndenominator = members\n", "not a code of sex");
    parse_fails(HEAD "[measure x]\nkind = count\nlabel = X\nbogus = 1\n", "t.ini:7:");
    parse_fails(HEAD "[measure x]\nkind = count\nkind = count\nlabel = X\n", "t.ini:6: [measure x] kind is set twice");
    parse_fails(HEAD "[stratifier race]\ncodes = WHITE PURPLE\n", "not a code of race");
    parse_fails(HEAD "[stratifier nation]\ncodes = A\n", "unknown stratifier");
    parse_fails(HEAD "[measure x]\nkind = proportion\nlabel = X\npopulation = all and\n"
                "numerator = members\ndenominator = members\n", "population");
}

static void test_hedis_example(void **state)
{
    (void)state;
    char err[600];
    struct catalog *c = catalog_load(EQ_SOURCE_DIR "/configs/catalog-hedis.ini", err, sizeof err);
    if (!c)
        fail_msg("%s", err);
    /* the built-in measures keep their ids, the HEDIS ones follow */
    const struct measure_def *pre = NULL, *post = NULL, *fum7 = NULL, *fum30 = NULL, *cis = NULL;
    int ipre = -1;
    for (int m = M__COUNT; m < c->n_measures; m++) {
        const struct measure_def *d = &c->m[m];
        if (!strcmp(d->name, "ppc_prenatal"))
            pre = d, ipre = m;
        if (!strcmp(d->name, "ppc_postpartum"))
            post = d;
        if (!strcmp(d->name, "fum_7d"))
            fum7 = d;
        if (!strcmp(d->name, "fum_30d"))
            fum30 = d;
        if (!strcmp(d->name, "cis_combo10"))
            cis = d;
    }
    assert_non_null(pre);
    assert_non_null(post);
    assert_non_null(fum7);
    assert_non_null(fum30);
    assert_non_null(cis);
    assert_string_equal(c->m[M_ED_RATE].name, "ed_rate");
    assert_true(c->n_flags >= 6);
    assert_true(catalog_column_find(c, "hedis_ppc_denominator") >= CATALOG_N_BASE_COLS);
    /* one population for prenatal and postpartum: same members channel,
     * the later one's parent is the earlier one; numerator <= members */
    assert_int_equal(pre->ch_members, post->ch_members);
    assert_int_equal(post->parent, ipre);
    assert_int_equal(pre->parent, M_POPULATION);
    assert_true(pre->num_per_den == 1 && post->num_per_den == 1);
    assert_int_equal(fum7->ch_members, fum30->ch_members);
    assert_int_not_equal(fum7->ch_numerator, fum30->ch_numerator);
    /* children two years old: the flag and an age condition */
    assert_int_equal(cis->kind, KIND_PROPORTION);
    assert_int_equal(cis->better, BETTER_HIGHER);
    assert_true(catalog_flag_measures(c) & (1u << ipre));
    assert_false(catalog_flag_measures(c) & (1u << M_ED_RATE));
    catalog_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_file_is_builtin),
        cmocka_unit_test(test_identity_canonical),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_hedis_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
