/*
 * policy.c - checks a round request against the node's [policy] and turns
 * an allowed request into the tally spec of the round (policy.h).
 */
#include "policy.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Appends formatted text to buf at *used, never past buflen - 1. */
static void appendf(char *buf, size_t buflen, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void appendf(char *buf, size_t buflen, size_t *used, const char *fmt, ...)
{
    if (!buf || buflen == 0 || *used >= buflen - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, buflen - *used, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    *used += (size_t)n;
    if (*used > buflen - 1)
        *used = buflen - 1;
}

/* True when the list is the single word "all" (spaces and commas aside). */
static int list_is_all(const char *list)
{
    const char *p = list;
    while (*p == ',' || isspace((unsigned char)*p))
        p++;
    if (strncmp(p, "all", 3) != 0)
        return 0;
    p += 3;
    while (*p == ',' || isspace((unsigned char)*p))
        p++;
    return *p == '\0';
}

struct allowed {
    unsigned char measure_on[CATALOG_MAX_MEASURES];
    unsigned char strat_on[S__COUNT];
    int all_inter;
    int inter[TALLY_MAX_INTERSECTIONS][CATALOG_INTER_DIM];
    int n_inter;
};

static int allowed_load(const struct node_config *c, struct allowed *a, char *err, size_t errlen)
{
    char e[300];
    memset(a, 0, sizeof *a);
    if (node_config_parse_measures(c->allowed_measures, a->measure_on, e, sizeof e) != 0) {
        snprintf(err, errlen, "[policy] allowed_measures: %s", e);
        return POLICY_ERR_CONFIG;
    }
    if (node_config_parse_stratifiers(c->allowed_stratifiers, a->strat_on, e, sizeof e) != 0) {
        snprintf(err, errlen, "[policy] allowed_stratifiers: %s", e);
        return POLICY_ERR_CONFIG;
    }
    if (list_is_all(c->allowed_intersections)) {
        a->all_inter = 1;
    } else if (node_config_parse_intersections(c->allowed_intersections, a->inter,
                                               TALLY_MAX_INTERSECTIONS, &a->n_inter, e,
                                               sizeof e) != 0) {
        snprintf(err, errlen, "[policy] allowed_intersections: %s", e);
        return POLICY_ERR_CONFIG;
    }
    return POLICY_OK;
}

int policy_config_check(const struct node_config *c, char *err, size_t errlen)
{
    struct allowed a;
    return allowed_load(c, &a, err, errlen);
}

static int inter_listed(const struct allowed *a, const int *x)
{
    if (a->all_inter)
        return 1;
    for (int i = 0; i < a->n_inter; i++)
        if (catalog_inter_same(a->inter[i], x))
            return 1;
    return 0;
}

static int inter_valid(const int *x)
{
    int n = 0;
    for (int d = 0; d < CATALOG_INTER_DIM; d++) {
        if (x[d] < S_TOTAL || x[d] >= S__COUNT || (d < 2 && x[d] == S_TOTAL))
            return 0;
        for (int e = 0; e < d; e++)
            if (x[d] != S_TOTAL && x[d] == x[e])
                return 0;
        n += x[d] != S_TOTAL;
    }
    return n >= 2;
}

int policy_check(const struct node_config *c, const struct round_request *r, char *reason,
                 size_t reasonlen)
{
    struct allowed a;
    char e[400];
    size_t used = 0;
    if (reason && reasonlen)
        reason[0] = '\0';
    if (allowed_load(c, &a, e, sizeof e) != POLICY_OK) {
        used = 0;
        appendf(reason, reasonlen, &used, "this node's policy cannot be read (%s)", e);
        return POLICY_ERR_CONFIG;
    }
    int refused = 0;
#define NOTE(...)                                                   \
    do {                                                            \
        appendf(reason, reasonlen, &used, "%s", refused ? "; " : ""); \
        appendf(reason, reasonlen, &used, __VA_ARGS__);             \
        refused++;                                                  \
    } while (0)
    for (int m = 0; m < catalog_n_measures(); m++)
        if (r->measure_on[m] && !a.measure_on[m])
            NOTE("measure %s is not allowed by this node's policy", catalog_measure(m)->name);
    for (int s = 0; s < S__COUNT; s++)
        if (s != S_TOTAL && r->strat_on[s] && !a.strat_on[s])
            NOTE("stratifier %s is not allowed by this node's policy", catalog_stratifier_name(s));
    if (r->n_inter < 0 || r->n_inter > ROUND_MAX_INTER) {
        NOTE("the request lists %d intersections", r->n_inter);
    } else {
        for (int i = 0; i < r->n_inter; i++) {
            const int *x = r->inter[i];
            if (!inter_valid(x)) {
                NOTE("intersection %d names an unknown stratifier", i + 1);
                continue;
            }
            char xn[64];
            catalog_inter_name(x, xn, sizeof xn);
            int bad = -1;
            for (int d = 0; d < catalog_inter_ndim(x) && bad < 0; d++)
                if (!a.strat_on[x[d]])
                    bad = x[d];
            if (!inter_listed(&a, x))
                NOTE("intersection %s is not allowed by this node's policy", xn);
            else if (bad >= 0)
                NOTE("intersection %s would release stratifier %s, which this node's policy "
                     "does not allow", xn, catalog_stratifier_name(bad));
        }
        int n3 = catalog_inter_count_three((const int(*)[CATALOG_INTER_DIM])r->inter, r->n_inter);
        if (n3 > c->max_three_way)
            NOTE("the request asks for %d three-way intersections, more than this node's "
                 "max_three_way = %d", n3, c->max_three_way);
    }
    if ((int)r->k < c->min_k)
        NOTE("the round's k = %u is below this node's minimum k = %d", r->k, c->min_k);
#undef NOTE
    return refused ? POLICY_REFUSED : POLICY_OK;
}

int policy_effective_k(const struct node_config *c, const struct round_request *r)
{
    int k = (int)r->k > c->k ? (int)r->k : c->k;
    return k < c->min_k ? c->min_k : k;
}

int policy_round_spec(const struct node_config *c, const struct round_request *r,
                      struct tally_spec *spec)
{
    if (r->n_inter < 0 || r->n_inter > TALLY_MAX_INTERSECTIONS)
        return -1;
    *spec = c->spec;
    spec->unavailable = 0;
    memcpy(spec->measure_on, r->measure_on, sizeof spec->measure_on);
    memcpy(spec->stratifier_on, r->strat_on, sizeof spec->stratifier_on);
    spec->stratifier_on[S_TOTAL] = 1;
    spec->n_inter = r->n_inter;
    for (int i = 0; i < r->n_inter; i++) {
        if (!inter_valid(r->inter[i]))
            return -1;
        memcpy(spec->inter[i], r->inter[i], sizeof spec->inter[i]);
        for (int d = 0; d < catalog_inter_ndim(r->inter[i]); d++)
            spec->stratifier_on[r->inter[i][d]] = 1;
    }
    return 0;
}

size_t policy_describe(const struct node_config *c, const struct round_request *r, char *buf,
                       size_t buflen)
{
    size_t used = 0;
    if (!buf || buflen == 0)
        return 0;
    buf[0] = '\0';
    appendf(buf, buflen, &used, "round        %s\n", r->round_id);
    appendf(buf, buflen, &used, "period       %s\n", r->period);
    appendf(buf, buflen, &used, "coordinator  %s\n", r->coordinator);
    appendf(buf, buflen, &used, "opened at    %s\n", r->opened_at);
    appendf(buf, buflen, &used, "deadline     %s\n", r->deadline[0] ? r->deadline : "(none)");
    appendf(buf, buflen, &used, "k            %u asked, %d applied by this node\n", r->k,
            policy_effective_k(c, r));
    appendf(buf, buflen, &used, "measures    ");
    for (int m = 0; m < catalog_n_measures(); m++)
        if (r->measure_on[m])
            appendf(buf, buflen, &used, " %s", catalog_measure(m)->name);
    appendf(buf, buflen, &used, "\nstratifiers ");
    for (int s = 0; s < S__COUNT; s++)
        if (r->strat_on[s])
            appendf(buf, buflen, &used, " %s", catalog_stratifier_name(s));
    appendf(buf, buflen, &used, "\nintersections");
    if (r->n_inter == 0)
        appendf(buf, buflen, &used, " none");
    for (int i = 0; i < r->n_inter && i < ROUND_MAX_INTER; i++) {
        char xn[64];
        catalog_inter_name(r->inter[i], xn, sizeof xn);
        appendf(buf, buflen, &used, " %s", xn);
    }
    appendf(buf, buflen, &used, "\nterms        min_orgs %u, per-organization results to analysts: %s, "
            "single-organization cells: %s\n", r->min_orgs, r->per_org_to_analysts ? "yes" : "no",
            r->allow_single_org ? "yes" : "no");
    appendf(buf, buflen, &used, "agreement    %s\n", r->agreement[0] ? r->agreement : "(none)");
    return used;
}
