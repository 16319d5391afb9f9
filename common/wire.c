/*
 * wire.c - Submission encode/decode with protobuf-c, and checks of the
 * numbers a submission carries.
 */
#include "wire.h"

#include <errno.h>
#include <math.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomic_file.h"
#include "envelope.h"
#include "equity.pb-c.h"
#include "version.h"

int wire_meta_init(struct submission_meta *meta, const struct cellset *cs)
{
    memset(meta, 0, sizeof *meta);
    snprintf(meta->round_id, sizeof meta->round_id, "%s", cs->round);
    snprintf(meta->org, sizeof meta->org, "%s", cs->org);
    snprintf(meta->period, sizeof meta->period, "%s", cs->period);
    meta->k = (unsigned)cs->k;
    meta->dominance = cs->dominance;
    snprintf(meta->software, sizeof meta->software, "equity-node %s", EQ_VERSION);
    if (RAND_bytes(meta->nonce, sizeof meta->nonce) != 1)
        return -1;
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm))
        return -1;
    strftime(meta->created_at, sizeof meta->created_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return 0;
}

static int reason_word_ok(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n >= sizeof ((struct wire_rejected *)0)->reason)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((r[i] >= 'a' && r[i] <= 'z') || r[i] == '_'))
            return 0;
    return 1;
}

int wire_meta_add_rejected(struct submission_meta *meta, const char *reason, uint64_t rows)
{
    if (rows == 0)
        return 0;
    if (meta->n_rejected >= WIRE_MAX_REJECTED || !reason_word_ok(reason))
        return -1;
    struct wire_rejected *r = &meta->rejected[meta->n_rejected++];
    snprintf(r->reason, sizeof r->reason, "%s", reason);
    r->fewer_than_k = rows < meta->k;
    r->rows = r->fewer_than_k ? 0 : rows;
    return 0;
}

int wire_submission_pack(const struct cellset *cs, const struct submission_meta *meta,
                         uint8_t **out, size_t *len)
{
    int rc = -1;
    Equity__V1__Submission sub = EQUITY__V1__SUBMISSION__INIT;
    Equity__V1__Cell *cells = calloc(cs->ncells ? cs->ncells : 1, sizeof *cells);
    Equity__V1__Cell **cellp = calloc(cs->ncells ? cs->ncells : 1, sizeof *cellp);
    char *labels = calloc(cs->ncells ? cs->ncells : 1, 256);
    Equity__V1__ReasonCount rcs[REASON__COUNT];
    Equity__V1__ReasonCount *rcp[REASON__COUNT];
    uint64_t counts[REASON__COUNT];
    *out = NULL;
    if (!cells || !cellp || !labels)
        goto out;
    sub.format_version = WIRE_FORMAT_VERSION;
    sub.round_id = (char *)meta->round_id;
    sub.org = (char *)meta->org;
    sub.period = (char *)meta->period;
    sub.k = meta->k;
    sub.dominance = meta->dominance;
    sub.nonce.data = (uint8_t *)meta->nonce;
    sub.nonce.len = sizeof meta->nonce;
    sub.created_at = (char *)meta->created_at;
    sub.software = (char *)meta->software;
    sub.request_sha256 = (char *)meta->request_sha256;
    Equity__V1__RejectedRows rj[WIRE_MAX_REJECTED], *rjp[WIRE_MAX_REJECTED];
    int nrj = meta->n_rejected < 0 ? 0 : meta->n_rejected > WIRE_MAX_REJECTED ? WIRE_MAX_REJECTED
                                                                              : meta->n_rejected;
    for (int i = 0; i < nrj; i++) {
        equity__v1__rejected_rows__init(&rj[i]);
        rj[i].reason = (char *)meta->rejected[i].reason;
        rj[i].rows = meta->rejected[i].fewer_than_k ? 0 : meta->rejected[i].rows;
        rj[i].fewer_than_k = meta->rejected[i].fewer_than_k != 0;
        rjp[i] = &rj[i];
    }
    sub.n_rejected = (size_t)nrj;
    sub.rejected = rjp;
    for (size_t i = 0; i < cs->ncells; i++) {
        const struct cell *c = &cs->cells[i];
        Equity__V1__Cell *pc = &cells[i];
        equity__v1__cell__init(pc);
        pc->measure = (char *)catalog_measure(c->measure)->name;
        pc->stratifier = (char *)cs->tables[c->table].name;
        cellset_stratum_label(cs, c, labels + 256 * i, 256);
        pc->stratum = labels + 256 * i;
        pc->reason = (Equity__V1__SuppressionReason)c->reason;
        if (c->reason == REASON_NONE) {
            pc->members = (uint64_t)c->members;
            pc->member_months_e4 = (uint64_t)c->member_months;
            pc->denominator = (uint64_t)c->denominator;
            pc->numerator = (uint64_t)c->numerator;
            pc->sum_sq_lo = (uint64_t)(unsigned __int128)c->sum_sq;
            pc->sum_sq_hi = (uint64_t)((unsigned __int128)c->sum_sq >> 64);
        }
        pc->n_orgs = (uint32_t)c->n_orgs;
        pc->n_withheld = (uint32_t)c->n_withheld;
        cellp[i] = pc;
    }
    sub.n_cells = cs->ncells;
    sub.cells = cellp;
    cellset_count_reasons(cs, counts);
    size_t nr = 0;
    for (int r = 1; r < REASON__COUNT; r++) {
        if (!counts[r])
            continue;
        equity__v1__reason_count__init(&rcs[nr]);
        rcs[nr].reason = (Equity__V1__SuppressionReason)r;
        rcs[nr].cells = counts[r];
        rcp[nr] = &rcs[nr];
        nr++;
    }
    sub.n_withheld = nr;
    sub.withheld = rcp;
    *len = equity__v1__submission__get_packed_size(&sub);
    *out = malloc(*len ? *len : 1);
    if (!*out)
        goto out;
    equity__v1__submission__pack(&sub, *out);
    rc = 0;
out:
    free(cells);
    free(cellp);
    free(labels);
    return rc;
}

static int copy_str(char *dst, size_t dstlen, const char *src, const char *what,
                    char *err, size_t errlen)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= dstlen) {
        snprintf(err, errlen, "%s longer than %zu bytes", what, dstlen - 1);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)src[i];
        if (ch < 0x20 || ch == 0x7f) {
            snprintf(err, errlen, "%s holds a control character", what);
            return -1;
        }
    }
    memcpy(dst, src ? src : "", n + 1);
    return 0;
}

int wire_submission_unpack(const uint8_t *buf, size_t len, struct cellset **out,
                           struct submission_meta *meta, char *err, size_t errlen)
{
    int rc = -1;
    struct cellset_builder *b = NULL;
    *out = NULL;
    memset(meta, 0, sizeof *meta);
    Equity__V1__Submission *sub = equity__v1__submission__unpack(NULL, len, buf);
    if (!sub) {
        snprintf(err, errlen, "not a valid Submission protobuf (%zu bytes)", len);
        return -1;
    }
    if (sub->format_version != WIRE_FORMAT_VERSION) {
        snprintf(err, errlen, "unsupported submission format_version %u", sub->format_version);
        goto out;
    }
    if (copy_str(meta->round_id, sizeof meta->round_id, sub->round_id, "round_id", err, errlen) ||
        copy_str(meta->org, sizeof meta->org, sub->org, "org", err, errlen) ||
        copy_str(meta->period, sizeof meta->period, sub->period, "period", err, errlen) ||
        copy_str(meta->created_at, sizeof meta->created_at, sub->created_at, "created_at", err, errlen) ||
        copy_str(meta->software, sizeof meta->software, sub->software, "software", err, errlen) ||
        copy_str(meta->request_sha256, sizeof meta->request_sha256, sub->request_sha256,
                 "request_sha256", err, errlen))
        goto out;
    if (sub->nonce.len != WIRE_NONCE_LEN) {
        snprintf(err, errlen, "nonce must be %d bytes, got %zu", WIRE_NONCE_LEN, sub->nonce.len);
        goto out;
    }
    memcpy(meta->nonce, sub->nonce.data, WIRE_NONCE_LEN);
    if (sub->k < 2 || sub->k > 1000) {
        snprintf(err, errlen, "threshold k %u out of range 2..1000", sub->k);
        goto out;
    }
    meta->k = sub->k;
    if (!(sub->dominance > 0 && sub->dominance <= 1)) {
        snprintf(err, errlen, "dominance share out of range (0, 1]");
        goto out;
    }
    meta->dominance = sub->dominance;
    if (sub->n_rejected > WIRE_MAX_REJECTED) {
        snprintf(err, errlen, "too many rejected-row reasons (%zu > %d)", sub->n_rejected,
                 WIRE_MAX_REJECTED);
        goto out;
    }
    for (size_t i = 0; i < sub->n_rejected; i++) {
        const Equity__V1__RejectedRows *r = sub->rejected[i];
        if (!reason_word_ok(r->reason)) {
            snprintf(err, errlen, "rejected rows %zu: the reason is not a short lowercase word", i);
            goto out;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(sub->rejected[j]->reason, r->reason) == 0) {
                snprintf(err, errlen, "rejected rows: reason \"%s\" twice", r->reason);
                goto out;
            }
        if (r->fewer_than_k ? r->rows != 0 : r->rows < sub->k) {
            snprintf(err, errlen, "rejected rows \"%s\": %s", r->reason,
                     r->fewer_than_k ? "fewer_than_k with a number"
                                     : "a count below k (must be sent as fewer_than_k)");
            goto out;
        }
        struct wire_rejected *w = &meta->rejected[meta->n_rejected++];
        snprintf(w->reason, sizeof w->reason, "%s", r->reason);
        w->rows = r->rows;
        w->fewer_than_k = r->fewer_than_k;
    }
    if (sub->n_cells > WIRE_MAX_CELLS) {
        snprintf(err, errlen, "too many cells (%zu > %d)", sub->n_cells, WIRE_MAX_CELLS);
        goto out;
    }
    b = cellset_builder_new();
    if (!b) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < sub->n_cells; i++) {
        const Equity__V1__Cell *pc = sub->cells[i];
        struct cell c;
        memset(&c, 0, sizeof c);
        if ((int)pc->reason < 0 || (int)pc->reason >= (int)REASON__COUNT) {
            snprintf(err, errlen, "cell %zu: unknown reason %d", i, (int)pc->reason);
            goto out;
        }
        c.reason = (cell_reason)pc->reason;
        /* every number is a non-negative int64 (sum_sq: 127 bits) */
        if (pc->members > INT64_MAX || pc->member_months_e4 > INT64_MAX ||
            pc->denominator > INT64_MAX || pc->numerator > INT64_MAX ||
            pc->sum_sq_hi > INT64_MAX) {
            snprintf(err, errlen, "cell %zu: a number out of range", i);
            goto out;
        }
        c.members = (int64_t)pc->members;
        c.member_months = (int64_t)pc->member_months_e4;
        c.denominator = (int64_t)pc->denominator;
        c.numerator = (int64_t)pc->numerator;
        c.sum_sq = (cell_i128)(((unsigned __int128)pc->sum_sq_hi << 64) | pc->sum_sq_lo);
        c.n_orgs = (int)pc->n_orgs;
        c.n_withheld = (int)pc->n_withheld;
        if (c.reason != REASON_NONE && (pc->members || pc->member_months_e4 ||
                                        pc->denominator || pc->numerator ||
                                        pc->sum_sq_lo || pc->sum_sq_hi)) {
            snprintf(err, errlen, "cell %zu: a withheld cell carries numbers", i);
            goto out;
        }
        if (strlen(pc->stratum) > 200 || strlen(pc->stratifier) > 60) {
            snprintf(err, errlen, "cell %zu: stratifier or stratum too long", i);
            goto out;
        }
        char e2[200];
        if (cellset_builder_add(b, pc->measure, pc->stratifier, pc->stratum, &c, e2, sizeof e2) != 0) {
            snprintf(err, errlen, "cell %zu: %s", i, e2);
            goto out;
        }
    }
    *out = cellset_builder_finish(&b);
    if (!*out) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    snprintf((*out)->org, sizeof (*out)->org, "%s", meta->org);
    snprintf((*out)->round, sizeof (*out)->round, "%s", meta->round_id);
    snprintf((*out)->period, sizeof (*out)->period, "%s", meta->period);
    (*out)->k = (int)meta->k;
    (*out)->dominance = meta->dominance;
    rc = 0;
out:
    cellset_builder_destroy(&b);
    equity__v1__submission__free_unpacked(sub, NULL);
    return rc;
}

/* A released count in [1, k-1] (privacy.md, primary suppression). */
static int small(int64_t v, unsigned k)
{
    return v >= 1 && v < (int64_t)k;
}

/* Whether a sum of squares can come from `n` non-negative values summing to
 * x: x^2 / n <= sum_sq <= x^2 (Cauchy-Schwarz, and no cross term is
 * negative). Exact in 128 bits: x < 2^63. */
static int sum_sq_possible(int64_t n, int64_t x, cell_i128 sq)
{
    if (n <= 0 || x < 0 || sq < 0)
        return x == 0 && sq == 0;
    unsigned __int128 x2 = (unsigned __int128)x * (unsigned __int128)x;
    unsigned __int128 q = x2 / (unsigned __int128)n, r = x2 % (unsigned __int128)n;
    unsigned __int128 s = (unsigned __int128)sq;
    return s <= x2 && (s > q || (s == q && r == 0));
}

int wire_cells_check(const struct cellset *cs, unsigned k, char *err, size_t errlen)
{
    char label[256];
    for (size_t i = 0; i < cs->ncells; i++) {
        const struct cell *c = &cs->cells[i];
        const struct measure_def *m = catalog_measure(c->measure);
        const char *tname = cs->tables[c->table].name;
        const char *why = NULL;
        if (c->reason == REASON_MIN_ORGS || c->reason == REASON_PARTIAL) {
            why = "a pooled reason in an organization's submission";
        } else if (c->reason != REASON_NONE) {
            continue;
        } else if (c->members < 0 || c->member_months < 0 || c->denominator < 0 ||
                   c->numerator < 0 || c->sum_sq < 0) {
            why = "negative number";
        } else if (small(c->members, k)) {
            why = "members below k";
        } else if (m->numerator_is_count && small(c->numerator, k)) {
            why = "a count below k";
        } else if (m->denominator_is_count && small(c->denominator, k)) {
            why = "a denominator count below k";
        } else if (m->kind == KIND_PROPORTION && c->numerator > c->denominator) {
            why = "numerator above denominator";
        } else if (m->kind == KIND_PROPORTION && small(c->denominator - c->numerator, k)) {
            why = "a complement (denominator - numerator) below k";
        } else if (c->members == 0 && (c->member_months != 0 || c->denominator != 0 ||
                                       c->numerator != 0 || c->sum_sq != 0)) {
            why = "numbers for a stratum with no members";
        } else if (c->members > INT64_MAX / (12 * CELL_MONTHS_SCALE) ||
                   c->member_months > 12 * CELL_MONTHS_SCALE * c->members) {
            why = "more than 12 member months per member";
        } else if ((m->kind == KIND_PMPM || m->kind == KIND_MEAN) &&
                   !sum_sq_possible(m->kind == KIND_MEAN ? c->denominator : c->members,
                                    c->numerator, c->sum_sq)) {
            why = "a sum of squares that no member values can give";
        }
        if (why) {
            cellset_stratum_label(cs, c, label, sizeof label);
            snprintf(err, errlen, "%s %s=%s: %s (k=%u)", m->name, tname, label, why, k);
            return -1;
        }
    }
    return 0;
}

int wire_cells_fit_request(const struct cellset *cs, const struct round_request *req,
                           char *err, size_t errlen)
{
    if (strcmp(cs->period, req->period) != 0) {
        snprintf(err, errlen, "submission is for period \"%.31s\", the round's is \"%.31s\"",
                 cs->period, req->period);
        return -1;
    }
    for (int t = 0; t < cs->ntables; t++) {
        const struct cell_table *tb = &cs->tables[t];
        int asked = tb->ndim == 0 || (tb->ndim == 1 && req->strat_on[tb->dim[0]]);
        for (int i = 0; tb->ndim >= 2 && !asked && i < req->n_inter; i++) {
            int n = catalog_inter_ndim(req->inter[i]);
            asked = n == tb->ndim;
            for (int d = 0; d < n && asked; d++)
                asked = req->inter[i][d] == tb->dim[d];
        }
        if (!asked) {
            snprintf(err, errlen, "table \"%s\" is not in the round's request", tb->name);
            return -1;
        }
    }
    for (size_t i = 0; i < cs->ncells; i++)
        if (!req->measure_on[cs->cells[i].measure]) {
            snprintf(err, errlen, "measure \"%s\" is not in the round's request",
                     catalog_measure(cs->cells[i].measure)->name);
            return -1;
        }
    return 0;
}

int cellset_write_pb(const struct cellset *cs, const char *path)
{
    struct submission_meta meta;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (wire_meta_init(&meta, cs) != 0 || wire_submission_pack(cs, &meta, &buf, &len) != 0) {
        errno = ENOMEM;
        return -1;
    }
    int rc = atomic_file_write_bytes(path, buf, len, 0644);
    free(buf);
    return rc;
}
