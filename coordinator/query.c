/*
 * query.c - the analysts' query service (see query.h).
 *
 * Order: decode and check the Query (names against the catalog), find the
 * round (unknown_round), require it released (not_released), read the
 * released pooled.csv and check its recorded SHA-256, then build the CSV:
 * the cells as released, or their metrics computed with the asked
 * reference, filtered by the measure and stratifier columns.
 */
#include "query.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "audit.h"
#include "cells_read.h"
#include "csvtext.h"
#include "envelope.h"
#include "equity.pb-c.h"
#include "identity.h"
#include "log.h"
#include "metrics.h"
#include "release.h"
#include "wire.h"

#define QUERY_MAX_FILTERS 64

void query_answer_clear(struct query_answer *a)
{
    if (!a)
        return;
    free(a->csv);
    a->csv = NULL;
    free(a->audit);
    a->audit = NULL;
}

static int refuse(struct query_answer *a, const char *code, const char *fmt, const char *arg)
{
    snprintf(a->code, sizeof a->code, "%s", code);
    snprintf(a->message, sizeof a->message, fmt, arg ? arg : "");
    return strcmp(code, "internal") == 0 ? QUERY_EINTERNAL : QUERY_EREFUSED;
}

static int in_list(const char *s, char **list, size_t n)
{
    if (n == 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

/* Rows of csv whose measure and stratifier columns pass the filters,
 * header first, into a new text. */
static int filter_csv(const char *csv, size_t len, const Equity__V1__Query *q,
                      struct query_answer *a)
{
    char err[256];
    csvtext_t *t = csvtext_parse("result", csv, len, err, sizeof err);
    if (!t) {
        log_error("query: released text does not parse: %s", err);
        return refuse(a, "internal", "the released result cannot be read%s", NULL);
    }
    int cm = csvtext_col(t, "measure"), cs = csvtext_col(t, "stratifier");
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f || cm < 0 || cs < 0) {
        if (f)
            fclose(f);
        free(buf);
        csvtext_destroy(&t);
        return refuse(a, "internal", "cannot filter the result%s", NULL);
    }
    uint32_t rows = 0;
    for (size_t r = 0; r < csvtext_rows(t); r++) {
        if (r > 0 && (!in_list(csvtext_field(t, r, (size_t)cm), q->measures, q->n_measures) ||
                      !in_list(csvtext_field(t, r, (size_t)cs), q->stratifiers,
                               q->n_stratifiers)))
            continue;
        csvtext_write_row(f, t, r);
        rows += r > 0;
    }
    int bad = ferror(f);
    fclose(f);
    csvtext_destroy(&t);
    if (bad) {
        free(buf);
        return refuse(a, "internal", "cannot filter the result%s", NULL);
    }
    a->csv = buf;
    a->rows = rows;
    return QUERY_OK;
}

static char *metrics_text(const char *csv, size_t len, const char *reference,
                          const char *period, size_t *outlen)
{
    struct cellset **sets = NULL;
    int nsets = 0;
    char err[512];
    char *buf = NULL;
    size_t blen = 0;
    metrics_out *mo = NULL;
    struct metrics_params p;
    metrics_params_default(&p);
    if (reference && reference[0] && metrics_params_set_reference(&p, reference) != 0)
        return NULL;
    if (cells_read_buffer("pooled.csv", csv, len, &sets, &nsets, err, sizeof err) != 0 ||
        nsets != 1) {
        log_error("query: released pooled cells do not read back: %s", err);
        goto out;
    }
    mo = metrics_out_new();
    if (!mo)
        goto out;
    metrics_out_set_period(mo, period);
    if (metrics_compute(sets[0], &p, mo) || metrics_compute_quality(sets[0], &p, mo))
        goto out;
    FILE *f = open_memstream(&buf, &blen);
    if (!f)
        goto out;
    int bad = metrics_out_write(mo, f) != 0;
    fclose(f);
    if (bad) {
        free(buf);
        buf = NULL;
    }
    *outlen = blen;
out:
    metrics_out_destroy(&mo);
    cells_read_free(&sets, nsets);
    return buf;
}

/* Section 5 and 7 per organization (funnel rows, heterogeneity, data
 * quality) from the per-organization cells text. */
static char *org_metrics_text(const char *csv, size_t len, const char *period, size_t *outlen)
{
    struct cellset **sets = NULL;
    int nsets = 0;
    char err[512], *buf = NULL;
    size_t blen = 0;
    metrics_out *mo = NULL;
    struct metrics_params p;
    metrics_params_default(&p);
    if (cells_read_buffer("submissions", csv, len, &sets, &nsets, err, sizeof err) != 0) {
        log_error("query: submissions do not read back: %s", err);
        goto out;
    }
    mo = metrics_out_new();
    if (!mo)
        goto out;
    metrics_out_set_period(mo, period);
    if (metrics_compute_orgs(sets, nsets, &p, mo) != 0)
        goto out;
    FILE *f = open_memstream(&buf, &blen);
    if (!f)
        goto out;
    int bad = metrics_out_write(mo, f) != 0;
    fclose(f);
    if (bad) {
        free(buf);
        buf = NULL;
    }
    *outlen = blen;
out:
    metrics_out_destroy(&mo);
    cells_read_free(&sets, nsets);
    return buf;
}

/* Per-organization cells of the round's in-time submissions, one CSV. */
struct org_ctx {
    FILE *f;
    const char *tmp;
    int n, bad;
};

static int org_sub(void *vctx, const struct store_submission *sub)
{
    struct org_ctx *c = vctx;
    if (sub->late)
        return 0;
    struct envelope e;
    struct submission_meta meta;
    struct cellset *cs = NULL;
    char err[256];
    size_t len = 0;
    char *txt = NULL;
    if (envelope_unpack(sub->envelope, sub->envelope_len, &e, err, sizeof err) != 0) {
        c->bad++;
        return 0;
    }
    if (wire_submission_unpack(e.payload, e.payload_len, &cs, &meta, err, sizeof err) != 0 ||
        cellset_write_csv(cs, c->tmp) != 0 || !(txt = release_read_file(c->tmp, &len))) {
        c->bad++;
    } else {
        const char *body = txt;
        if (c->n++ > 0) { /* keep one header */
            const char *nl = strchr(txt, '\n');
            body = nl ? nl + 1 : txt + len;
        }
        fputs(body, c->f);
    }
    free(txt);
    cellset_destroy(&cs);
    envelope_free(&e);
    return 0;
}

static char *org_cells_text(const struct coord_config *cfg, store_t *st, const char *round_id,
                            size_t *outlen)
{
    char tmp[1400];
    snprintf(tmp, sizeof tmp, "%s/%s/.org-cells-%ld.csv", cfg->results_dir, round_id,
             (long)getpid());
    char *buf = NULL;
    size_t blen = 0;
    struct org_ctx c = {open_memstream(&buf, &blen), tmp, 0, 0};
    if (!c.f)
        return NULL;
    int rc = store_submissions_each(st, round_id, org_sub, &c);
    fclose(c.f);
    unlink(tmp);
    if (rc != 0 || c.bad || c.n == 0) {
        free(buf);
        return NULL;
    }
    *outlen = blen;
    return buf;
}

/* The released cells with a `period` column appended (same rows). */
static char *with_period(const char *csv, size_t len, const char *period, size_t *outlen)
{
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f)
        return NULL;
    size_t start = 0;
    int header = 1;
    for (size_t i = 0; i < len; i++) {
        if (csv[i] != '\n')
            continue;
        size_t end = i > start && csv[i - 1] == '\r' ? i - 1 : i;
        fwrite(csv + start, 1, end - start, f);
        fputc(',', f);
        if (header)
            fputs("period", f);
        else
            csvtext_write_field(f, period);
        fputc('\n', f);
        header = 0;
        start = i + 1;
    }
    int bad = ferror(f) || start != len; /* the release ends every line */
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    *outlen = blen;
    return buf;
}

/* Checks the asked stratifiers and reference against the released cells:
 * an unknown one is a bad_query, not an empty answer. */
static int check_names(const char *csv, size_t len, const Equity__V1__Query *q, int metrics,
                       struct query_answer *a)
{
    struct cellset **sets = NULL;
    int nsets = 0, rc = QUERY_OK;
    char err[512];
    if (cells_read_buffer("pooled.csv", csv, len, &sets, &nsets, err, sizeof err) != 0 ||
        nsets > 1) {
        log_error("query: released pooled cells do not read back: %s", err);
        return refuse(a, "internal", "the released result cannot be read%s", NULL);
    }
    const struct cellset *cs = nsets ? sets[0] : NULL;
    for (size_t i = 0; i < q->n_stratifiers && rc == QUERY_OK; i++)
        if (!cs || cellset_find_table(cs, q->stratifiers[i]) < 0)
            rc = refuse(a, "bad_query", "unknown stratifier \"%.60s\": the round released no "
                        "such table", q->stratifiers[i]);
    const char *ref = q->reference;
    if (rc == QUERY_OK && metrics && ref && ref[0] && strcmp(ref, "best") &&
        strcmp(ref, "largest") && strcmp(ref, "total")) {
        int found = 0;
        for (int t = 0; cs && t < cs->ntables && !found; t++) {
            const struct cell_table *tb = &cs->tables[t];
            if (tb->ndim != 1 || !in_list(tb->name, q->stratifiers, q->n_stratifiers))
                continue;
            for (int k = 0; k < tb->nstrata && !found; k++)
                found = strcmp(tb->labels[0][k], ref) == 0;
        }
        if (!found)
            rc = refuse(a, "bad_query", "unknown reference \"%.60s\": no group of the asked "
                        "one-way tables has this value", ref);
    }
    cells_read_free(&sets, nsets);
    return rc;
}

/* what = "rounds": every round with its period, status, deadline and
 * submissions. */
struct rounds_ctx {
    FILE *f;
    store_t *st;
    uint32_t rows;
    int bad;
};

static void iso(FILE *f, int64_t t)
{
    if (t <= 0)
        return;
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[32];
    gmtime_r(&tt, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fputs(buf, f);
}

struct sub_count {
    int n, late;
};

static int count_sub(void *ctx, const struct store_submission *sub)
{
    struct sub_count *c = ctx;
    if (sub->late)
        c->late++;
    else
        c->n++;
    return 0;
}

static int count_refusal(void *ctx, const char *round_id, const char *org, const char *reason,
                         int64_t received_at)
{
    (void)round_id;
    (void)org;
    (void)reason;
    (void)received_at;
    (*(int *)ctx)++;
    return 0;
}

static int round_row(void *vctx, const struct store_round *r)
{
    struct rounds_ctx *c = vctx;
    struct sub_count sc = {0, 0};
    int refusals = 0;
    if (store_submissions_each(c->st, r->round_id, count_sub, &sc) != 0 ||
        store_refusals_each(c->st, r->round_id, count_refusal, &refusals) != 0) {
        c->bad = 1;
        return 1;
    }
    csvtext_write_field(c->f, r->round_id);
    fputc(',', c->f);
    csvtext_write_field(c->f, r->period);
    fprintf(c->f, ",%s,", !r->closed         ? "open"
                          : r->cancelled       ? "cancelled"
                          : r->pooled_sha256[0] ? "released"
                                               : "closed");
    iso(c->f, r->opened_at);
    fputc(',', c->f);
    iso(c->f, r->deadline);
    fputc(',', c->f);
    iso(c->f, r->closed_at);
    fprintf(c->f, ",%d,%d,%d\n", sc.n, sc.late, refusals);
    c->rows++;
    return 0;
}

static int rounds_text(store_t *st, struct query_answer *a)
{
    char *buf = NULL;
    size_t blen = 0;
    struct rounds_ctx c = {open_memstream(&buf, &blen), st, 0, 0};
    if (!c.f)
        return refuse(a, "internal", "out of memory%s", NULL);
    fputs("round,period,status,opened_at,deadline,closed_at,submissions,late,refusals\n", c.f);
    int rc = store_rounds_each(st, round_row, &c);
    int bad = ferror(c.f) || rc != 0 || c.bad;
    fclose(c.f);
    if (bad) {
        free(buf);
        return refuse(a, "internal", "cannot list the rounds%s", NULL);
    }
    snprintf(a->round_id, sizeof a->round_id, "*");
    a->csv = buf;
    a->rows = c.rows;
    return QUERY_OK;
}

static json_t *str_array(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static void audit_query(const char *cn, const Equity__V1__Query *q, struct query_answer *a,
                        int rc)
{
    json_t *o = json_object();
    json_object_set_new(o, "cn", json_string(cn));
    json_object_set_new(o, "round", json_string(q && q->round_id ? q->round_id : ""));
    json_object_set_new(o, "what", json_string(q && q->what && q->what[0] ? q->what : "cells"));
    json_object_set_new(o, "measures", q ? str_array(q->measures, q->n_measures) : json_array());
    json_object_set_new(o, "stratifiers",
                        q ? str_array(q->stratifiers, q->n_stratifiers) : json_array());
    json_object_set_new(o, "reference",
                        json_string(q && q->reference && q->reference[0] ? q->reference : ""));
    json_object_set_new(o, "result", json_string(rc == QUERY_OK ? "ok" : a->code));
    json_object_set_new(o, "rows", json_integer(rc == QUERY_OK ? a->rows : 0));
    a->audit = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!a->audit)
        log_error("audit: cannot describe a query of %s (out of memory)", cn);
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '*'))
            return 0;
    return 1;
}

static int answer(const struct coord_config *cfg, store_t *st, const Equity__V1__Query *q,
                  struct query_answer *a)
{
    struct store_round sr;
    memset(&sr, 0, sizeof sr);
    char *csv = NULL, *text = NULL;
    size_t clen = 0, tlen = 0;
    int rc;
    if (q->what && strcmp(q->what, "rounds") == 0)
        return rounds_text(st, a);
    if (!q->round_id || !q->round_id[0] || strlen(q->round_id) >= sizeof a->round_id)
        return refuse(a, "malformed", "the query names no round%s", NULL);
    snprintf(a->round_id, sizeof a->round_id, "%s", q->round_id);
    if (q->n_measures > QUERY_MAX_FILTERS || q->n_stratifiers > QUERY_MAX_FILTERS)
        return refuse(a, "bad_query", "too many filters (at most 64 of each)%s", NULL);
    for (size_t i = 0; i < q->n_measures; i++)
        if (catalog_measure_find(q->measures[i]) < 0)
            return refuse(a, "bad_query", "unknown measure \"%.60s\"", q->measures[i]);
    for (size_t i = 0; i < q->n_stratifiers; i++)
        if (!valid_name(q->stratifiers[i]))
            return refuse(a, "bad_query", "bad stratifier name \"%.60s\"", q->stratifiers[i]);
    const char *what = q->what && q->what[0] ? q->what : "cells";
    int is_cells = !strcmp(what, "cells"), is_metrics = !strcmp(what, "metrics"),
        is_orgm = !strcmp(what, "org_metrics");
    int is_org = !strcmp(what, "org_cells") || is_orgm;
    if (!is_cells && !is_metrics && !is_org)
        return refuse(a, "bad_query",
                      "what = \"%.40s\": expected rounds, cells, metrics, org_cells or "
                      "org_metrics", what);
    if (is_metrics && q->reference && q->reference[0]) {
        struct metrics_params p;
        metrics_params_default(&p);
        if (strlen(q->reference) > 100 || metrics_params_set_reference(&p, q->reference) != 0)
            return refuse(a, "bad_query", "bad reference \"%.60s\"", q->reference);
    }
    int g = store_round_get(st, q->round_id, &sr);
    if (g == STORE_ERR_NOT_FOUND)
        return refuse(a, "unknown_round", "no round \"%.60s\"", q->round_id);
    if (g != 0)
        return refuse(a, "internal", "cannot read the round%s", NULL);
    if (!sr.closed || !sr.pooled_sha256[0]) {
        rc = refuse(a, "not_released", "round %.60s is not released yet (still open)",
                    q->round_id);
        goto out;
    }
    if (is_org) {
        struct round_request rq;
        char err[256];
        if (round_request_unpack(sr.request, sr.request_len, &rq, err, sizeof err) != 0) {
            rc = refuse(a, "internal", "cannot read the round's terms%s", NULL);
            goto out;
        }
        if (!rq.per_org_to_analysts) {
            rc = refuse(a, "forbidden", "the terms of round %.60s do not give "
                        "per-organization cells to analysts", q->round_id);
            goto out;
        }
        text = org_cells_text(cfg, st, sr.round_id, &tlen);
        if (!text) {
            rc = refuse(a, "internal", "cannot read the submissions%s", NULL);
            goto out;
        }
        if (is_orgm) {
            char *mt = org_metrics_text(text, tlen, sr.period, &tlen);
            free(text);
            text = mt;
            if (!text) {
                rc = refuse(a, "internal", "cannot compute the per-organization metrics%s",
                            NULL);
                goto out;
            }
        }
        rc = filter_csv(text, tlen, q, a);
        goto out;
    }
    char path[1300], sha[65];
    snprintf(path, sizeof path, "%s/%s/pooled.csv", cfg->results_dir, sr.round_id);
    csv = release_read_file(path, &clen);
    if (csv)
        identity_sha256_hex(csv, clen, sha);
    if (!csv || strcmp(sha, sr.pooled_sha256) != 0) {
        log_error("round %s: %s is missing or differs from the released result", sr.round_id,
                  path);
        rc = refuse(a, "internal", "the released result is unavailable%s", NULL);
        goto out;
    }
    if ((rc = check_names(csv, clen, q, is_metrics, a)) != QUERY_OK)
        goto out;
    if (is_cells) {
        text = with_period(csv, clen, sr.period, &tlen);
        if (!text) {
            rc = refuse(a, "internal", "cannot read the released result%s", NULL);
            goto out;
        }
        rc = filter_csv(text, tlen, q, a);
        goto out;
    }
    text = metrics_text(csv, clen, q->reference, sr.period, &tlen);
    if (!text) {
        rc = refuse(a, "internal", "cannot compute the metrics%s", NULL);
        goto out;
    }
    rc = filter_csv(text, tlen, q, a);
out:
    free(csv);
    free(text);
    store_round_clear(&sr);
    return rc;
}

int query_answer(const struct coord_config *cfg, store_t *st, const char *cn,
                 const uint8_t *payload, size_t len, struct query_answer *a)
{
    memset(a, 0, sizeof *a);
    Equity__V1__Query *q = equity__v1__query__unpack(NULL, len, payload);
    int rc;
    if (!q)
        rc = refuse(a, "malformed", "not a valid Query message%s", NULL);
    else
        rc = answer(cfg, st, q, a);
    audit_query(cn, q, a, rc);
    if (rc == QUERY_OK)
        log_info("query by %s: round %s, %u rows", cn, a->round_id, a->rows);
    else
        log_warnx("query by %s refused: %s: %s", cn, a->code, a->message);
    if (q)
        equity__v1__query__free_unpacked(q, NULL);
    return rc;
}
