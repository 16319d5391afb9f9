/*
 * report.c - the organization's own report (see report.h).
 *
 * Everything comes from the node's store (the signed submission exactly as
 * it was sent, the coordinator's acknowledgement) and, when given, the
 * federation's pooled release. Estimates here are point values (x/d, 12000
 * x/M, x/M): the intervals and disparity metrics of the federation are in
 * the round report; this page answers "what did we send, what did we keep
 * back, and where do we sit".
 */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "cells_read.h"
#include "envelope.h"
#include "html.h"
#include "identity.h"
#include "local_store.h"
#include "wire.h"

struct nrep {
    const struct node_config *c;
    char round[64];
    struct submission_meta meta;
    struct cellset *own;
    struct cellset **pooled;
    int npooled;
    const char *pooled_path;
    char file[1400];
    size_t file_len;
    char file_sha[65], payload_sha[65];
    char *ack;
};

/* Point estimate of a released cell in display units (proportions x 100). */
static double point(int measure, const struct cell *c)
{
    if (!c || c->reason != REASON_NONE)
        return NAN;
    double mm = cell_value(c, CELL_F_MONTHS), den = cell_value(c, CELL_F_DEN);
    double num = cell_value(c, CELL_F_NUM);
    switch (catalog_measure(measure)->kind) {
    case KIND_PROPORTION: return den > 0 ? 100 * num / den : NAN;
    case KIND_RATE: return mm > 0 ? 12000 * num / mm : NAN;
    case KIND_MEAN: return den > 0 ? num / den : NAN;
    case KIND_PMPM: return mm > 0 ? num / mm : NAN;
    default: return num;
    }
}

static int decimals(int measure)
{
    measure_kind k = catalog_measure(measure)->kind;
    return k == KIND_COUNT ? 0 : k == KIND_MEAN || k == KIND_PMPM ? 2 : 1;
}

static const char *unit(int measure)
{
    switch (catalog_measure(measure)->kind) {
    case KIND_PROPORTION: return "% of the eligible population";
    case KIND_RATE: return "per 1,000 member-years";
    case KIND_MEAN: return "mean score";
    case KIND_PMPM: return "USD per member per month";
    default: return "members";
    }
}

/* The cell of (measure, table name, stratum label) in cs, or NULL. */
static const struct cell *cell_by_label(const struct cellset *cs, int measure, const char *table,
                                        const char *label)
{
    int t = cellset_find_table(cs, table);
    if (t < 0)
        return NULL;
    char buf[256];
    for (int s = 0; s < cs->tables[t].nstrata; s++) {
        const struct cell *c = cellset_get(cs, measure, t, s);
        if (!c)
            continue;
        cellset_stratum_label(cs, c, buf, sizeof buf);
        if (strcmp(buf, label) == 0)
            return c;
    }
    return NULL;
}

static const struct cellset *pooled_set(const struct nrep *R)
{
    return R->npooled == 1 ? R->pooled[0] : NULL;
}

static int has_measure(const struct cellset *cs, int m)
{
    for (size_t i = 0; i < cs->ncells; i++)
        if (cs->cells[i].measure == m)
            return 1;
    return 0;
}

static void write_left(FILE *f, const struct nrep *R)
{
    uint64_t counts[REASON__COUNT];
    cellset_count_reasons(R->own, counts);
    size_t withheld = 0;
    for (int k = 1; k < REASON__COUNT; k++)
        withheld += counts[k];
    fputs("<section id=\"sent\"><h2>Exactly what left the site</h2>\n<p>The signed submission "
          "kept on site, byte for byte what was sent: <code>", f);
    html_text(f, R->file);
    fprintf(f, "</code> (%zu bytes).</p>\n<ul><li>SHA-256 of the file: <code>", R->file_len);
    html_text(f, R->file_sha);
    fputs("</code></li><li>SHA-256 of the signed payload (as the coordinator records it): <code>",
          f);
    html_text(f, R->payload_sha);
    fputs("</code></li><li>created ", f);
    html_text(f, R->meta.created_at);
    fprintf(f, " by ");
    html_text(f, R->meta.software);
    fprintf(f, ", k = %u, period ", R->meta.k);
    html_text(f, R->meta.period);
    fprintf(f, "</li><li>%zu cells: %zu released, %zu withheld (no numbers sent)</li>",
            R->own->ncells, R->own->ncells - withheld, withheld);
    fputs("<li>acknowledgement: ", f);
    html_text(f, R->ack ? R->ack : "none kept (not acknowledged yet)");
    fputs("</li></ul>\n<p>No member-level value, member id or small cell is in it: only the "
          "cells below.</p>\n<details><summary>Every cell sent</summary><div class=\"tablewrap\">"
          "<table class=\"data sent\"><thead><tr><th>measure</th><th>stratifier</th><th>stratum"
          "</th><th>members</th><th>member months</th><th>denominator</th><th>numerator</th>"
          "<th>status</th></tr></thead><tbody>\n", f);
    char label[256];
    for (size_t i = 0; i < R->own->ncells; i++) {
        const struct cell *c = &R->own->cells[i];
        cellset_stratum_label(R->own, c, label, sizeof label);
        fprintf(f, "<tr class=\"%s\"><td>%s</td><td>", c->reason ? "withheld" : "released",
                catalog_measure(c->measure)->name);
        html_text(f, R->own->tables[c->table].name);
        fputs("</td><td>", f);
        html_text(f, label);
        fputs("</td>", f);
        if (c->reason != REASON_NONE) {
            fprintf(f, "<td colspan=\"4\">withheld</td><td>withheld: %s</td></tr>\n",
                    cell_reason_name(c->reason));
            continue;
        }
        const double v[4] = {cell_value(c, CELL_F_MEMBERS), cell_value(c, CELL_F_MONTHS),
                             cell_value(c, CELL_F_DEN), cell_value(c, CELL_F_NUM)};
        for (int k = 0; k < 4; k++) {
            fputs("<td class=\"n\">", f);
            html_num(f, v[k], v[k] == floor(v[k]) ? 0 : 2, 1);
            fputs("</td>", f);
        }
        fputs("<td>released</td></tr>\n", f);
    }
    fputs("</tbody></table></div></details></section>\n", f);
}

static void write_withheld(FILE *f, const struct nrep *R)
{
    static const char *const meaning[REASON__COUNT] = {
        [REASON_COUNT] = "a count of 1 to k-1 (primary)",
        [REASON_COMPLEMENT] = "denominator minus numerator of 1 to k-1 (primary)",
        [REASON_DENOMINATOR] = "fewer than k members behind a rate, mean or cost (primary)",
        [REASON_DOMINANCE] = "one member dominates a cost (primary)",
        [REASON_SECONDARY] = "withheld so that a primary cell cannot be recomputed from the "
                             "margins and other measures",
        [REASON_POLICY] = "this node's policy withholds it",
        [REASON_NOT_AVAILABLE] = "the source has no data for it"};
    uint64_t counts[REASON__COUNT];
    cellset_count_reasons(R->own, counts);
    fputs("<section id=\"withheld\"><h2>What this organization withheld, and why</h2>\n"
          "<div class=\"tablewrap\"><table class=\"data reasons\"><thead><tr><th>reason</th>"
          "<th>cells</th><th>meaning</th></tr></thead><tbody>\n", f);
    int any = 0;
    for (int k = 1; k < REASON__COUNT; k++) {
        if (!counts[k])
            continue;
        any = 1;
        fprintf(f, "<tr><td>%s</td><td class=\"n\">%llu</td><td>%s</td></tr>\n",
                cell_reason_name((cell_reason)k), (unsigned long long)counts[k],
                meaning[k] ? meaning[k] : "");
    }
    if (!any)
        fputs("<tr><td colspan=\"3\">nothing withheld: every cell was releasable</td></tr>\n", f);
    fputs("</tbody></table></div>\n<div class=\"tablewrap\"><table class=\"data withheld-cells\">"
          "<thead><tr><th>measure</th><th>stratifier</th><th>stratum</th><th>reason</th></tr>"
          "</thead><tbody>\n", f);
    char label[256];
    for (size_t i = 0; i < R->own->ncells; i++) {
        const struct cell *c = &R->own->cells[i];
        if (c->reason == REASON_NONE)
            continue;
        cellset_stratum_label(R->own, c, label, sizeof label);
        fprintf(f, "<tr class=\"withheld\"><td>%s</td><td>", catalog_measure(c->measure)->name);
        html_text(f, R->own->tables[c->table].name);
        fputs("</td><td>", f);
        html_text(f, label);
        fprintf(f, "</td><td>withheld: %s</td></tr>\n", cell_reason_name(c->reason));
    }
    fputs("</tbody></table></div></section>\n", f);
}

/* Range of the pooled estimates of a measure across the released groups of
 * every one-way table. */
static void pooled_range(const struct cellset *p, int m, double *lo, double *hi)
{
    *lo = *hi = NAN;
    for (size_t i = 0; i < p->ncells; i++) {
        const struct cell *c = &p->cells[i];
        if (c->measure != m || p->tables[c->table].ndim != 1)
            continue;
        double v = point(m, c);
        if (!isfinite(v))
            continue;
        if (!isfinite(*lo) || v < *lo)
            *lo = v;
        if (!isfinite(*hi) || v > *hi)
            *hi = v;
    }
}

static void write_comparison(FILE *f, const struct nrep *R)
{
    const struct cellset *p = pooled_set(R);
    fputs("<section id=\"spine\"><h2>Where this organization sits</h2>\n", f);
    if (!p) {
        fputs("<p>No pooled release given (<code>--pooled pooled.csv</code>, as the coordinator "
              "published it): only this organization's own figures are shown.</p>\n", f);
    }
    struct html_spine_row rows[CATALOG_MAX_MEASURES];
    int n = 0;
    for (int m = 0; m < catalog_n_measures(); m++) {
        if (!has_measure(R->own, m) || catalog_measure(m)->kind == KIND_COUNT)
            continue;
        struct html_spine_row *r = &rows[n++];
        memset(r, 0, sizeof *r);
        snprintf(r->label, sizeof r->label, "%s", catalog_measure(m)->label);
        const struct cell *own = cell_by_label(R->own, m, "total", "all");
        const struct cell *pc = p ? cell_by_label(p, m, "total", "all") : NULL;
        r->own = point(m, own);
        r->own_state = !own ? HTML_NOT_COMPUTED : own->reason ? HTML_WITHHELD : HTML_OK;
        r->mid = point(m, pc);
        r->mlo = r->mhi = NAN;
        r->lo = r->hi = NAN;
        if (p)
            pooled_range(p, m, &r->lo, &r->hi);
        r->decimals = decimals(m);
        r->scale = 1;
        measure_better b = catalog_measure(m)->better;
        if (isfinite(r->own) && isfinite(r->mid) && b != BETTER_NONE && r->own != r->mid)
            r->mark = (b == BETTER_LOWER) == (r->own > r->mid) ? HTML_MARK_ADVERSE
                                                              : HTML_MARK_FAVOURABLE;
        snprintf(r->note, sizeof r->note, "%s; better %s", unit(m),
                 b == BETTER_NONE ? "none" : b == BETTER_LOWER ? "lower" : "higher");
        if (own && own->reason)
            snprintf(r->note, sizeof r->note, "own cell withheld: %s",
                     cell_reason_name(own->reason));
    }
    html_chart_spine(f, "spine-total", "This organization's overall values against the "
                     "federation (red: worse than pooled, blue: better)", rows, n);
    /* Group by group, one-way tables. */
    for (int m = 0; m < catalog_n_measures(); m++) {
        if (!has_measure(R->own, m))
            continue;
        fputs("<details><summary>", f);
        html_text(f, catalog_measure(m)->label);
        fputs(" by group: this organization and the pooled release</summary>\n<div class="
              "\"tablewrap\"><table class=\"data groups\"><thead><tr><th>stratifier</th><th>"
              "group</th><th>this organization</th><th>pooled</th><th>status</th></tr></thead>"
              "<tbody>\n", f);
        char label[256];
        for (size_t i = 0; i < R->own->ncells; i++) {
            const struct cell *c = &R->own->cells[i];
            if (c->measure != m || R->own->tables[c->table].ndim > 1)
                continue;
            cellset_stratum_label(R->own, c, label, sizeof label);
            const char *tn = R->own->tables[c->table].name;
            const struct cell *pc = p ? cell_by_label(p, m, tn, label) : NULL;
            fprintf(f, "<tr class=\"%s\"><td>", c->reason ? "withheld" : "released");
            html_text(f, tn);
            fputs("</td><td>", f);
            html_text(f, label);
            fputs("</td><td class=\"n\">", f);
            if (c->reason)
                fputs("withheld", f);
            else
                html_num(f, point(m, c), decimals(m), 1);
            fputs("</td><td class=\"n\">", f);
            if (pc && pc->reason)
                fputs("withheld", f);
            else
                html_num(f, point(m, pc), decimals(m), 1);
            fputs("</td><td>", f);
            if (c->reason)
                fprintf(f, "own: withheld (%s)", cell_reason_name(c->reason));
            else
                fputs("own: released", f);
            if (pc && pc->reason)
                fprintf(f, "; pooled: withheld (%s)", cell_reason_name(pc->reason));
            else if (pc && pc->n_withheld > 0)
                fputs("; pooled: partial", f);
            fputs("</td></tr>\n", f);
        }
        fputs("</tbody></table></div></details>\n", f);
    }
    fputs("</section>\n", f);
}

static int write_page(FILE *f, void *arg)
{
    const struct nrep *R = arg;
    char title[300];
    snprintf(title, sizeof title, "Organization report: %s, round %s", R->c->org, R->round);
    html_begin(f, title);
    fputs("<p class=\"meta\">Written on site from this node's store; nothing in it is sent "
          "anywhere. Period ", f);
    html_text(f, R->meta.period);
    fputs(". Pooled release: ", f);
    html_text(f, R->pooled_path ? R->pooled_path : "not given");
    fputs(".</p>\n<nav><ul><li><a href=\"#sent\">Exactly what left the site</a></li><li><a "
          "href=\"#withheld\">What was withheld, and why</a></li><li><a href=\"#spine\">Where "
          "this organization sits</a></li></ul></nav>\n", f);
    write_left(f, R);
    write_withheld(f, R);
    write_comparison(f, R);
    html_end(f);
    return ferror(f) ? -1 : 0;
}

int node_report_write(const struct node_config *c, const char *round_id, const char *pooled_path,
                      const char *out_path, char *path, size_t pathlen, char *err,
                      size_t errlen)
{
    int rc = -2;
    struct nrep R;
    memset(&R, 0, sizeof R);
    R.c = c;
    R.pooled_path = pooled_path;
    snprintf(R.round, sizeof R.round, "%s", round_id);
    uint8_t *buf = NULL, *ackb = NULL;
    size_t len = 0, acklen = 0;
    struct envelope e;
    memset(&e, 0, sizeof e);
    local_store_t *st = NULL;
    if (!local_store_round_id_ok(round_id)) {
        snprintf(err, errlen, "round id \"%.60s\" is not a valid round id", round_id);
        return -1;
    }
    st = local_store_open(c->store_dir);
    if (!st) {
        snprintf(err, errlen, "cannot open the store %s", c->store_dir);
        return -1;
    }
    int lr = local_store_read(st, round_id, LS_SUBMISSION, &buf, &len);
    if (lr != LS_OK) {
        snprintf(err, errlen, "no submission of round %s kept in %s (%s)", round_id, c->store_dir,
                 local_store_strerror(lr));
        rc = -1;
        goto out;
    }
    local_store_path(st, round_id, LS_SUBMISSION, R.file, sizeof R.file);
    R.file_len = len;
    identity_sha256_hex(buf, len, R.file_sha);
    if (envelope_unpack(buf, len, &e, err, errlen) != 0 ||
        wire_submission_unpack(e.payload, e.payload_len, &R.own, &R.meta, err, errlen) != 0) {
        rc = -1;
        goto out;
    }
    identity_sha256_hex(e.payload, e.payload_len, R.payload_sha);
    if (local_store_read(st, round_id, LS_ACK, &ackb, &acklen) == LS_OK)
        R.ack = (char *)ackb;
    if (pooled_path) {
        char rerr[512];
        if (cells_read_csv(pooled_path, &R.pooled, &R.npooled, rerr, sizeof rerr) != 0) {
            snprintf(err, errlen, "%s", rerr);
            rc = -1;
            goto out;
        }
        if (R.npooled != 1 || strcmp(R.pooled[0]->round, round_id) != 0) {
            snprintf(err, errlen, "%s is not the pooled release of round %s", pooled_path,
                     round_id);
            rc = -1;
            goto out;
        }
    }
    char def[1400];
    if (!out_path) {
        snprintf(def, sizeof def, "%s/%s.report.html", local_store_dir(st), round_id);
        out_path = def;
    }
    if (atomic_file_write(out_path, write_page, &R) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", out_path, strerror(errno));
        goto out;
    }
    if (path)
        snprintf(path, pathlen, "%s", out_path);
    rc = 0;
out:
    free(buf);
    free(ackb);
    envelope_free(&e);
    cellset_destroy(&R.own);
    cells_read_free(&R.pooled, R.npooled);
    local_store_destroy(&st);
    return rc;
}
