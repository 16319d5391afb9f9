/*
 * html.c - the small HTML and SVG writer of the reports (see html.h).
 *
 * Charts are drawn in a fixed viewBox and scaled by CSS to the page's
 * width, so the same file reads at 1280 px and on a phone; the labels of a
 * chart are repeated in its data table, which is what a screen reader or a
 * spreadsheet gets.
 */
#include "html.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define VB_W 720.0   /* viewBox width                          */
#define LAB_W 230.0  /* label column                           */
#define PLOT_X0 240.0
#define PLOT_X1 700.0
#define ROW_H 22.0
#define TOP 34.0

void html_text(FILE *f, const char *s)
{
    if (!s)
        return;
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

void html_textf(FILE *f, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    html_text(f, buf);
}

static const char css[] =
    ":root{--adv:#b2182b;--fav:#2166ac;--ink:#222;--mute:#666;--line:#ccc}"
    "*{box-sizing:border-box}"
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--ink);"
    "margin:0 auto;padding:0 16px 48px;max-width:1180px}"
    "h1{font-size:1.6em;margin:.8em 0 .2em}h2{font-size:1.3em;margin-top:1.6em;"
    "border-bottom:2px solid var(--line)}h3{font-size:1.1em;margin-top:1.2em}"
    "nav ul{columns:3 220px;padding-left:1.2em}"
    ".meta{color:var(--mute)}.note{color:var(--mute);font-size:.92em}"
    "figure.chart{margin:1em 0;padding:0}figure.chart svg{width:100%;height:auto;"
    "max-width:900px;display:block}figcaption{font-weight:600;margin:.3em 0}"
    ".tablewrap{overflow-x:auto;max-width:100%}"
    "table{border-collapse:collapse;margin:.4em 0 1em;font-size:.9em}"
    "th,td{border:1px solid var(--line);padding:3px 7px;text-align:left;vertical-align:top}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "th{background:#f3f3f3}"
    "tr.withheld td,tr.not_computed td{color:var(--mute);font-style:italic}"
    "tr.partial td{background:#fff8e1}"
    ".adverse{color:var(--adv);font-weight:600}.favourable{color:var(--fav);font-weight:600}"
    ".legend span{margin-right:1.2em}"
    "details{margin:.6em 0}summary{cursor:pointer;font-weight:600}"
    "section.summary{border:2px solid var(--ink);padding:0 16px 8px;margin:1em 0}"
    ".kpi{display:flex;flex-wrap:wrap;gap:12px}.kpi div{border:1px solid var(--line);"
    "padding:8px 12px;min-width:200px;flex:1}.kpi b{display:block;font-size:1.4em}"
    "@media (max-width:640px){body{font-size:14px;padding:0 8px 32px}nav ul{columns:1}"
    "th,td{padding:2px 4px}.kpi div{min-width:100%}}"
    "@media print{section.summary{page-break-after:always}details{display:block}}";

void html_begin(FILE *f, const char *title)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'; img-src data:\">\n<title>", f);
    html_text(f, title);
    fputs("</title>\n<style>", f);
    fputs(css, f);
    fputs("</style>\n</head>\n<body>\n<h1>", f);
    html_text(f, title);
    fputs("</h1>\n", f);
}

void html_end(FILE *f)
{
    fputs("</body>\n</html>\n", f);
}

void html_num(FILE *f, double v, int decimals, double scale)
{
    if (!isfinite(v)) {
        fputs("\xe2\x80\x94", f); /* em dash */
        return;
    }
    double p = pow(10, decimals);
    double r = round(v * scale * p) / p; /* half away from zero */
    fprintf(f, "%.*f", decimals, r == 0 ? 0.0 : r);
}

static const char *state_name(int s)
{
    switch (s) {
    case HTML_PARTIAL: return "partial";
    case HTML_WITHHELD: return "withheld";
    case HTML_NOT_COMPUTED: return "not_computed";
    default: return "released";
    }
}

static const char *mark_name(int m)
{
    return m == HTML_MARK_ADVERSE ? "adverse" : m == HTML_MARK_FAVOURABLE ? "favourable" : "";
}

static const char *mark_colour(int m)
{
    return m == HTML_MARK_ADVERSE ? "#b2182b" : m == HTML_MARK_FAVOURABLE ? "#2166ac" : "#333";
}

/* ---- scales ------------------------------------------------------------- */

struct scale {
    double lo, hi;
    int log;
};

static void scale_fit(struct scale *s, double v)
{
    if (!isfinite(v) || (s->log && !(v > 0)))
        return;
    if (s->log)
        v = log(v);
    if (!isfinite(s->lo) || v < s->lo)
        s->lo = v;
    if (!isfinite(s->hi) || v > s->hi)
        s->hi = v;
}

static void scale_finish(struct scale *s)
{
    if (!isfinite(s->lo) || !isfinite(s->hi)) {
        s->lo = s->log ? log(0.5) : 0;
        s->hi = s->log ? log(2) : 1;
    }
    if (s->hi - s->lo < 1e-12) {
        double d = fabs(s->lo) > 0 ? fabs(s->lo) * 0.1 : 1;
        s->lo -= d;
        s->hi += d;
    }
    double pad = (s->hi - s->lo) * 0.05;
    s->lo -= pad;
    s->hi += pad;
}

static double scale_x(const struct scale *s, double v, double x0, double x1)
{
    double t = s->log ? (v > 0 ? log(v) : s->lo) : v;
    double x = x0 + (t - s->lo) / (s->hi - s->lo) * (x1 - x0);
    return x < x0 ? x0 : x > x1 ? x1 : x;
}

/* Up to 6 "nice" tick values of the scale. */
static int scale_ticks(const struct scale *s, double *t, int max)
{
    int n = 0;
    if (s->log) {
        static const double steps[] = {0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1,
                                       2,    4,    5,    10,  20,  50,   100};
        for (size_t i = 0; i < sizeof steps / sizeof *steps && n < max; i++) {
            double l = log(steps[i]);
            if (l >= s->lo && l <= s->hi)
                t[n++] = steps[i];
        }
        return n;
    }
    double range = s->hi - s->lo, raw = range / 5, mag = pow(10, floor(log10(raw)));
    double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag
                                                                                  : 10 * mag;
    for (double v = ceil(s->lo / step) * step; v <= s->hi && n < max; v += step)
        t[n++] = fabs(v) < step * 1e-9 ? 0 : v;
    return n;
}

static void tick_label(FILE *f, double v, double scale)
{
    double a = fabs(v * scale);
    int d = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
    html_num(f, v, d, scale);
}

static void axis(FILE *f, const struct scale *s, double y0, double y1, double scale,
                 const char *unit)
{
    double t[8];
    int n = scale_ticks(s, t, 8);
    for (int i = 0; i < n; i++) {
        double x = scale_x(s, t[i], PLOT_X0, PLOT_X1);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>",
                x, y0, x, y1);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\" "
                   "fill=\"#555\">", x, y0 - 6);
        tick_label(f, t[i], scale);
        fputs("</text>", f);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"13\" font-size=\"12\" text-anchor=\"middle\" "
               "fill=\"#333\">", (PLOT_X0 + PLOT_X1) / 2);
    html_text(f, unit);
    fputs("</text>\n", f);
}

/* ---- dot and whisker ------------------------------------------------------ */

static void dots_table(FILE *f, const struct html_point *pt, int n, const struct html_axis *ax)
{
    fputs("<div class=\"tablewrap\"><table class=\"data\"><thead><tr><th>group</th>"
          "<th>value</th><th>95% lower</th><th>95% upper</th><th>status</th>"
          "<th>organizations</th><th>notes</th></tr></thead><tbody>\n", f);
    for (int i = 0; i < n; i++) {
        const struct html_point *p = &pt[i];
        fprintf(f, "<tr class=\"%s\"><td>", state_name(p->state));
        html_text(f, p->label);
        fputs("</td>", f);
        if (p->state == HTML_WITHHELD || p->state == HTML_NOT_COMPUTED) {
            fprintf(f, "<td colspan=\"3\">%s</td>",
                    p->state == HTML_WITHHELD ? "withheld" : "not computed");
        } else {
            const double v[3] = {p->value, p->lower, p->upper};
            for (int k = 0; k < 3; k++) {
                fputs("<td class=\"n\">", f);
                html_num(f, v[k], ax->decimals, ax->scale);
                fputs("</td>", f);
            }
        }
        fprintf(f, "<td>%s", state_name(p->state));
        if (p->mark)
            fprintf(f, ", <span class=\"%s\">%s</span>", mark_name(p->mark), mark_name(p->mark));
        fputs("</td><td class=\"n\">", f);
        if (p->n_orgs >= 0)
            fprintf(f, "%d", p->n_orgs);
        fputs("</td><td>", f);
        html_text(f, p->note);
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table></div>\n", f);
}

void html_chart_dots(FILE *f, const char *id, const char *caption,
                     const struct html_point *pt, int n, const struct html_axis *ax)
{
    struct scale s = {NAN, NAN, ax->log};
    for (int i = 0; i < n; i++) {
        if (pt[i].state != HTML_OK && pt[i].state != HTML_PARTIAL)
            continue;
        scale_fit(&s, pt[i].value);
        scale_fit(&s, pt[i].lower);
        scale_fit(&s, pt[i].upper);
    }
    scale_fit(&s, ax->ref);
    scale_finish(&s);
    double h = TOP + ROW_H * (n > 0 ? n : 1) + 8;
    fputs("<figure class=\"chart\" id=\"", f);
    html_text(f, id);
    fputs("\"><figcaption>", f);
    html_text(f, caption);
    fprintf(f, "</figcaption>\n<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f "
               "%.0f\" role=\"img\" aria-label=\"", VB_W, h);
    html_text(f, caption);
    fputs("\">", f);
    axis(f, &s, TOP, h - 6, ax->scale, ax->unit);
    if (isfinite(ax->ref) && (!ax->log || ax->ref > 0)) {
        double x = scale_x(&s, ax->ref, PLOT_X0, PLOT_X1);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" "
                   "stroke-dasharray=\"4 3\"/>", x, TOP - 4, x, h - 6);
    }
    for (int i = 0; i < n; i++) {
        const struct html_point *p = &pt[i];
        double y = TOP + ROW_H * i + ROW_H / 2;
        fprintf(f, "\n<g class=\"row %s\"><text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
                   "text-anchor=\"end\" fill=\"#222\">", state_name(p->state), LAB_W, y + 4);
        char lab[40];
        snprintf(lab, sizeof lab, "%.*s", (int)sizeof lab - 1, p->label); /* cut on purpose */
        if (strlen(p->label) >= sizeof lab)
            memcpy(lab + sizeof lab - 4, "...", 4);
        html_text(f, lab);
        fputs("</text>", f);
        if (p->state == HTML_WITHHELD || p->state == HTML_NOT_COMPUTED) {
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" font-style=\"italic\" "
                       "fill=\"#777\">%s", PLOT_X0 + 4, y + 4,
                    p->state == HTML_WITHHELD ? "withheld" : "not computed");
            if (p->note[0]) {
                fputs(": ", f);
                html_text(f, p->note);
            }
            fputs("</text></g>", f);
            continue;
        }
        const char *col = mark_colour(p->mark);
        if (isfinite(p->lower) && isfinite(p->upper))
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                       "stroke-width=\"1.6\"%s/>",
                    scale_x(&s, p->lower, PLOT_X0, PLOT_X1), y,
                    scale_x(&s, p->upper, PLOT_X0, PLOT_X1), y, col,
                    p->state == HTML_PARTIAL ? " stroke-dasharray=\"3 2\"" : "");
        if (isfinite(p->value)) {
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\" stroke=\"%s\" "
                       "stroke-width=\"1.6\"><title>",
                    scale_x(&s, p->value, PLOT_X0, PLOT_X1), y,
                    p->state == HTML_PARTIAL ? "#fff" : col, col);
            html_text(f, p->label);
            fputs(": ", f);
            html_num(f, p->value, ax->decimals, ax->scale);
            if (p->state == HTML_PARTIAL)
                fputs(" (partial)", f);
            fputs("</title></circle>", f);
        }
        fputs("</g>", f);
    }
    fputs("\n</svg>\n", f);
    dots_table(f, pt, n, ax);
    fputs("</figure>\n", f);
}

/* ---- funnel ------------------------------------------------------------- */

static void polyline(FILE *f, const struct scale *sx, const struct scale *sy, const double *xs,
                     const double *ys, int m, double y0, double y1, const char *style)
{
    fputs("<polyline fill=\"none\" stroke=\"#555\" ", f);
    fputs(style, f);
    fputs(" points=\"", f);
    for (int i = 0; i < m; i++) {
        if (!isfinite(ys[i]))
            continue;
        double x = scale_x(sx, xs[i], PLOT_X0 - 170, PLOT_X1);
        double y = y1 - (scale_x(sy, ys[i], 0, 1)) * (y1 - y0);
        fprintf(f, "%.1f,%.1f ", x, y);
    }
    fputs("\"/>", f);
}

void html_chart_funnel(FILE *f, const char *id, const char *caption, const char *size_unit,
                       const struct html_funnel_point *pt, int n, double p0, const double *xs,
                       const double *lo95, const double *hi95, const double *lo998,
                       const double *hi998, int m, const struct html_axis *ax)
{
    struct scale sx = {NAN, NAN, 0}, sy = {NAN, NAN, 0};
    scale_fit(&sx, 0);
    for (int i = 0; i < n; i++) {
        scale_fit(&sx, pt[i].size);
        scale_fit(&sy, pt[i].value);
    }
    for (int i = 0; i < m; i++) {
        scale_fit(&sx, xs[i]);
        scale_fit(&sy, lo998[i]);
        scale_fit(&sy, hi998[i]);
    }
    scale_fit(&sy, p0);
    scale_finish(&sx);
    scale_finish(&sy);
    const double y0 = 24, y1 = 300, h = 330;
    fputs("<figure class=\"chart funnel\" id=\"", f);
    html_text(f, id);
    fputs("\"><figcaption>", f);
    html_text(f, caption);
    fprintf(f, "</figcaption>\n<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f "
               "%.0f\" role=\"img\" aria-label=\"", VB_W, h);
    html_text(f, caption);
    fputs("\">", f);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"#ccc\"/>", PLOT_X0 - 170, y0, PLOT_X1 - PLOT_X0 + 170, y1 - y0);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">",
            (PLOT_X0 - 170 + PLOT_X1) / 2, h - 8);
    html_text(f, size_unit);
    fputs("</text><text x=\"70\" y=\"16\" font-size=\"12\">", f);
    html_text(f, ax->unit);
    fputs("</text>", f);
    double ty[8];
    int nt = scale_ticks(&sy, ty, 8);
    for (int i = 0; i < nt; i++) {
        double y = y1 - scale_x(&sy, ty[i], 0, 1) * (y1 - y0);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\" "
                   "fill=\"#555\">", PLOT_X0 - 174, y + 4);
        tick_label(f, ty[i], ax->scale);
        fputs("</text>", f);
    }
    double yp = y1 - scale_x(&sy, p0, 0, 1) * (y1 - y0);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#222\"/>",
            PLOT_X0 - 170, yp, PLOT_X1, yp);
    polyline(f, &sx, &sy, xs, lo95, m, y0, y1, "stroke-dasharray=\"5 3\"");
    polyline(f, &sx, &sy, xs, hi95, m, y0, y1, "stroke-dasharray=\"5 3\"");
    polyline(f, &sx, &sy, xs, lo998, m, y0, y1, "");
    polyline(f, &sx, &sy, xs, hi998, m, y0, y1, "");
    for (int i = 0; i < n; i++) {
        double x = scale_x(&sx, pt[i].size, PLOT_X0 - 170, PLOT_X1);
        double y = y1 - scale_x(&sy, pt[i].value, 0, 1) * (y1 - y0);
        int out = strncmp(pt[i].position, "within", 6) != 0;
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"><title>", x, y,
                out ? "#b2182b" : "#333");
        html_text(f, pt[i].label);
        fputs(": ", f);
        html_text(f, pt[i].position);
        fprintf(f, "</title></circle><text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">", x + 7,
                y - 6);
        html_text(f, pt[i].label);
        fputs("</text>", f);
    }
    fputs("\n</svg>\n<p class=\"legend note\"><span>solid line: pooled value</span>"
          "<span>dashed: 95 % limits</span><span>outer: 99.8 % limits</span></p>\n", f);
    fputs("<div class=\"tablewrap\"><table class=\"data\"><thead><tr><th>organization</th>"
          "<th>size</th><th>value</th><th>position</th></tr></thead><tbody>\n", f);
    for (int i = 0; i < n; i++) {
        fputs("<tr><td>", f);
        html_text(f, pt[i].label);
        fputs("</td><td class=\"n\">", f);
        html_num(f, pt[i].size, 0, 1);
        fputs("</td><td class=\"n\">", f);
        html_num(f, pt[i].value, ax->decimals, ax->scale);
        fputs("</td><td>", f);
        html_text(f, pt[i].position);
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table></div></figure>\n", f);
}

/* ---- spine ---------------------------------------------------------------- */

void html_chart_spine(FILE *f, const char *id, const char *caption,
                      const struct html_spine_row *rows, int n)
{
    double h = TOP + ROW_H * (n > 0 ? n : 1) + 8;
    fputs("<figure class=\"chart spine\" id=\"", f);
    html_text(f, id);
    fputs("\"><figcaption>", f);
    html_text(f, caption);
    fprintf(f, "</figcaption>\n<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f "
               "%.0f\" role=\"img\" aria-label=\"", VB_W, h);
    html_text(f, caption);
    fputs("\"><text x=\"470\" y=\"14\" font-size=\"12\" text-anchor=\"middle\">each row on its "
          "own scale: grey = range across the federation's groups, dark = pooled 95 % CI, "
          "line = pooled, dot = this organization</text>", f);
    for (int i = 0; i < n; i++) {
        const struct html_spine_row *r = &rows[i];
        double y = TOP + ROW_H * i + ROW_H / 2;
        struct scale s = {NAN, NAN, 0};
        const double vals[6] = {r->lo, r->hi, r->mid, r->mlo, r->mhi,
                                r->own_state == HTML_OK || r->own_state == HTML_PARTIAL
                                    ? r->own : NAN};
        for (int k = 0; k < 6; k++)
            scale_fit(&s, vals[k]);
        scale_finish(&s);
        fprintf(f, "\n<g class=\"row %s\"><text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
                   "text-anchor=\"end\">", state_name(r->own_state), LAB_W, y + 4);
        html_text(f, r->label);
        fputs("</text>", f);
        if (isfinite(r->lo) && isfinite(r->hi))
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"12\" "
                       "fill=\"#ddd\"/>", scale_x(&s, r->lo, PLOT_X0, PLOT_X1), y - 6,
                    scale_x(&s, r->hi, PLOT_X0, PLOT_X1) - scale_x(&s, r->lo, PLOT_X0, PLOT_X1));
        if (isfinite(r->mlo) && isfinite(r->mhi))
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"12\" "
                       "fill=\"#999\"/>", scale_x(&s, r->mlo, PLOT_X0, PLOT_X1), y - 6,
                    scale_x(&s, r->mhi, PLOT_X0, PLOT_X1) - scale_x(&s, r->mlo, PLOT_X0, PLOT_X1));
        if (isfinite(r->mid))
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\" "
                       "stroke-width=\"2\"/>", scale_x(&s, r->mid, PLOT_X0, PLOT_X1), y - 9,
                    scale_x(&s, r->mid, PLOT_X0, PLOT_X1), y + 9);
        if (r->own_state == HTML_OK || r->own_state == HTML_PARTIAL) {
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>",
                    scale_x(&s, r->own, PLOT_X0, PLOT_X1), y,
                    r->own_state == HTML_PARTIAL ? "#fff" : mark_colour(r->mark));
        } else {
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" font-style=\"italic\" "
                       "fill=\"#777\">%s</text>", PLOT_X1 - 120, y + 4,
                    r->own_state == HTML_WITHHELD ? "own: withheld" : "own: not computed");
        }
        fputs("</g>", f);
    }
    fputs("\n</svg>\n<div class=\"tablewrap\"><table class=\"data\"><thead><tr><th>measure"
          "</th><th>federation low</th><th>federation high</th><th>pooled</th><th>pooled 95% "
          "lower</th><th>pooled 95% upper</th><th>this organization</th><th>status</th>"
          "<th>notes</th></tr></thead><tbody>\n", f);
    for (int i = 0; i < n; i++) {
        const struct html_spine_row *r = &rows[i];
        fprintf(f, "<tr class=\"%s\"><td>", state_name(r->own_state));
        html_text(f, r->label);
        fputs("</td>", f);
        const double v[5] = {r->lo, r->hi, r->mid, r->mlo, r->mhi};
        for (int k = 0; k < 5; k++) {
            fputs("<td class=\"n\">", f);
            html_num(f, v[k], r->decimals, r->scale);
            fputs("</td>", f);
        }
        fputs("<td class=\"n\">", f);
        if (r->own_state == HTML_WITHHELD)
            fputs("withheld", f);
        else
            html_num(f, r->own, r->decimals, r->scale);
        fprintf(f, "</td><td>%s", state_name(r->own_state));
        if (r->mark)
            fprintf(f, ", <span class=\"%s\">%s</span>", mark_name(r->mark), mark_name(r->mark));
        fputs("</td><td>", f);
        html_text(f, r->note);
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table></div></figure>\n", f);
}
