/*
 * test_html.c - the reports' HTML and SVG writer (common/html.h): every
 * string is escaped, a withheld value is written as withheld (never as a
 * dot or a number), partial points are hollow, every chart carries its data
 * table, and the page's head forbids every external resource and script.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"

static char *render(void (*fn)(FILE *, void *), void *arg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    fn(f, arg);
    fclose(f);
    return buf;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void esc(FILE *f, void *arg)
{
    html_text(f, arg);
}

static void test_escape(void **state)
{
    (void)state;
    char *s = render(esc, "<script>alert('x')</script> & \"q\"");
    assert_string_equal(s, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
    free(s);
}

static void page(FILE *f, void *arg)
{
    (void)arg;
    html_begin(f, "Round <1> & \"all\"");
    html_end(f);
}

static void test_page_head(void **state)
{
    (void)state;
    char *s = render(page, NULL);
    assert_non_null(strstr(s, "<title>Round &lt;1&gt; &amp; &quot;all&quot;</title>"));
    assert_non_null(strstr(s, "Content-Security-Policy\" content=\"default-src 'none'"));
    assert_non_null(strstr(s, "name=\"viewport\""));
    assert_non_null(strstr(s, "@media (max-width:640px)"));
    assert_null(strstr(s, "<script"));
    assert_null(strstr(s, "src="));
    assert_null(strstr(s, "href=\"http"));
    free(s);
}

static void dots(FILE *f, void *arg)
{
    (void)arg;
    struct html_point p[3];
    memset(p, 0, sizeof p);
    snprintf(p[0].label, sizeof p[0].label, "WHITE");
    p[0].value = 0.5;
    p[0].lower = 0.4;
    p[0].upper = 0.6;
    p[0].n_orgs = 3;
    snprintf(p[1].label, sizeof p[1].label, "AIAN<b>");
    p[1].value = p[1].lower = p[1].upper = NAN;
    p[1].state = HTML_WITHHELD;
    p[1].n_orgs = 1;
    snprintf(p[1].note, sizeof p[1].note, "min_orgs: 1 organization");
    snprintf(p[2].label, sizeof p[2].label, "BLACK");
    p[2].value = 0.7;
    p[2].lower = 0.65;
    p[2].upper = 0.75;
    p[2].state = HTML_PARTIAL;
    p[2].mark = HTML_MARK_ADVERSE;
    struct html_axis ax = {"% of members", NAN, 0, 1, 100};
    html_chart_dots(f, "est-x", "Caption & more", p, 3, &ax);
}

static void test_dots_withheld(void **state)
{
    (void)state;
    char *s = render(dots, NULL);
    /* two dots (WHITE filled, BLACK hollow), none for the withheld group */
    assert_int_equal(count(s, "<circle"), 2);
    assert_non_null(strstr(s, "fill=\"#fff\" stroke=\"#b2182b\""));
    assert_non_null(strstr(s, "withheld: min_orgs: 1 organization</text>"));
    assert_null(strstr(s, "AIAN<b>"));
    assert_non_null(strstr(s, "AIAN&lt;b&gt;"));
    /* the data table: the withheld row says so, values in percent */
    assert_non_null(strstr(s, "<tr class=\"withheld\"><td>AIAN&lt;b&gt;</td><td colspan=\"3\">"
                              "withheld</td>"));
    assert_non_null(strstr(s, "<td class=\"n\">50.0</td><td class=\"n\">40.0</td>"));
    assert_non_null(strstr(s, "partial, <span class=\"adverse\">adverse</span>"));
    assert_int_equal(count(s, "<table class=\"data\">"), 1);
    assert_non_null(strstr(s, "<figcaption>Caption &amp; more</figcaption>"));
    free(s);
}

static void nums(FILE *f, void *arg)
{
    (void)arg;
    html_num(f, 2.5, 0, 1);
    fputc(' ', f);
    html_num(f, -2.5, 0, 1);
    fputc(' ', f);
    html_num(f, 0.12345, 1, 100);
    fputc(' ', f);
    html_num(f, NAN, 2, 1);
    fputc(' ', f);
    html_num(f, -0.0001, 2, 1);
}

static void test_numbers(void **state)
{
    (void)state;
    char *s = render(nums, NULL);
    assert_string_equal(s, "3 -3 12.3 \xe2\x80\x94 0.00"); /* half away from zero */
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_page_head),
        cmocka_unit_test(test_dots_withheld),
        cmocka_unit_test(test_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
