/*
 * profile.c - the data-quality profile of one input (see profile.h): reject
 * counts per reason with the first examples, code-map hits and misses, and
 * merging the per-worker profiles of a multi-threaded read.
 */
#include "profile.h"

#include "catalog.h"
#include "wire.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const reason_names[BAD__COUNT] = {
    [BAD_FIELD_COUNT] = "field_count",
    [BAD_QUOTING] = "quoting",
    [BAD_TYPE] = "type",
    [BAD_RANGE] = "range",
    [BAD_CODE] = "code",
    [BAD_INCONSISTENT] = "inconsistent",
    [BAD_DUPLICATE] = "duplicate",
    [BAD_PERIOD] = "other_period",
};

const char *profile_reason_name(bad_reason r)
{
    if ((int)r < 0 || r >= BAD__COUNT)
        return "unknown";
    return reason_names[r];
}

int profile_to_submission(const struct profile *p, struct submission_meta *meta)
{
    meta->n_rejected = 0;
    for (int r = 0; r < BAD__COUNT; r++)
        if (r != BAD_PERIOD && /* rows of other periods are not bad data */
            wire_meta_add_rejected(meta, reason_names[r], p->rejected[r]) != 0)
            return -1;
    return 0;
}

void profile_reject(struct profile *p, bad_reason r, uint64_t line, int column,
                    const char *field, const char *fmt, ...)
{
    if ((int)r < 0 || r >= BAD__COUNT)
        return;
    p->rejected[r]++;
    if (p->n_examples[r] >= PROFILE_EXAMPLES)
        return;
    struct profile_example *e = &p->examples[r][p->n_examples[r]++];
    e->line = line;
    e->column = column;
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

static int add_rule(struct profile *a, const struct profile_map_rule *r)
{
    for (size_t i = 0; i < a->n_map_rules; i++) {
        struct profile_map_rule *x = &a->map_rules[i];
        if (x->column == r->column && strcmp(x->from, r->from) == 0) {
            x->hits += r->hits;
            return 0;
        }
    }
    struct profile_map_rule *n = realloc(a->map_rules, (a->n_map_rules + 1) * sizeof *n);
    if (!n)
        return -1;
    a->map_rules = n;
    a->map_rules[a->n_map_rules++] = *r;
    return 0;
}

void profile_merge(struct profile *a, const struct profile *b)
{
    if (!a->source[0])
        memcpy(a->source, b->source, sizeof a->source);
    if (!a->period_seen[0])
        memcpy(a->period_seen, b->period_seen, sizeof a->period_seen);
    a->rows_read += b->rows_read;
    a->rows_accepted += b->rows_accepted;
    for (int r = 0; r < BAD__COUNT; r++) {
        a->rejected[r] += b->rejected[r];
        /* merge two line-ordered example lists, keep the first ones */
        struct profile_example m[2 * PROFILE_EXAMPLES];
        int i = 0, j = 0, k = 0;
        while (k < PROFILE_EXAMPLES && (i < a->n_examples[r] || j < b->n_examples[r])) {
            if (j >= b->n_examples[r] ||
                (i < a->n_examples[r] && a->examples[r][i].line <= b->examples[r][j].line))
                m[k++] = a->examples[r][i++];
            else
                m[k++] = b->examples[r][j++];
        }
        memcpy(a->examples[r], m, (size_t)k * sizeof m[0]);
        a->n_examples[r] = k;
    }
    for (size_t i = 0; i < b->n_map_rules; i++)
        if (add_rule(a, &b->map_rules[i]) < 0)
            break;
    for (int c = 0; c < 64; c++) {
        a->map_misses[c] += b->map_misses[c];
        a->empty_fields[c] += b->empty_fields[c];
    }
    for (int m = 0; m < 32; m++)
        a->left_out[m] += b->left_out[m];
    a->unavailable_measures |= b->unavailable_measures;
    a->race_detail_members += b->race_detail_members;
    a->race_detail_dropped += b->race_detail_dropped;
    a->ccc_on |= b->ccc_on;
    a->ccc_classified += b->ccc_classified;
    a->ccc_any += b->ccc_any;
    for (int i = 0; i < 16; i++)
        a->ccc_category[i] += b->ccc_category[i];
    if (!a->unavailable_why[0])
        memcpy(a->unavailable_why, b->unavailable_why, sizeof a->unavailable_why);
    if (!a->identity_why[0])
        memcpy(a->identity_why, b->identity_why, sizeof a->identity_why);
}

uint64_t profile_rejected_total(const struct profile *p)
{
    uint64_t t = 0;
    for (int r = 0; r < BAD__COUNT; r++)
        t += p->rejected[r];
    return t;
}

double profile_rejected_share(const struct profile *p)
{
    uint64_t other = p->rejected[BAD_PERIOD];
    uint64_t bad = profile_rejected_total(p) - other;
    uint64_t read = p->rows_read > other ? p->rows_read - other : 0;
    if (bad == 0)
        return 0;
    if (read == 0 || bad >= read)
        return 1;
    return (double)bad / (double)read;
}

void profile_reject_summary(const struct profile *p, char *buf, size_t len)
{
    size_t used = 0;
    if (!len)
        return;
    buf[0] = '\0';
    for (int r = 0; r < BAD__COUNT && used < len; r++) {
        if (!p->rejected[r])
            continue;
        int n = snprintf(buf + used, len - used, "%s%s %llu", used ? ", " : "",
                         reason_names[r], (unsigned long long)p->rejected[r]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (!buf[0])
        snprintf(buf, len, "none");
}

void profile_free(struct profile *p)
{
    if (!p)
        return;
    free(p->map_rules);
    p->map_rules = NULL;
    p->n_map_rules = 0;
}

void profile_count_ccc(struct profile *p, int cmc, uint32_t mask)
{
    p->ccc_on = 1;
    if (cmc == YNU_U) /* not classified */
        return;
    p->ccc_classified++;
    p->ccc_any += mask != 0;
    for (int i = 0; i < 16; i++)
        p->ccc_category[i] += (mask >> i) & 1u;
}
