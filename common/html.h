/*
 * html.h - a small writer for the self-contained HTML reports of a round
 * (coordinator/report.c) and of an organization (node/report.c): escaped
 * text, one inline style sheet, and inline SVG charts, each followed by the
 * table of its data. Nothing refers to a network resource and nothing needs
 * a script: a report opens from disk or from a mail attachment.
 *
 * Every string that reaches the page goes through html_text / html_textf
 * (& < > " ' escaped). Numbers are printed with the C locale's "%.*f".
 * A withheld value is never drawn as a number: charts write "withheld" and
 * the reason in its place, and tables say so in the status column.
 */
#ifndef EQ_HTML_H
#define EQ_HTML_H

#include <stdio.h>

/* Writes s escaped for text and attribute values. NULL writes nothing. */
void html_text(FILE *f, const char *s);
/* Formats (printf) then escapes the result. */
void html_textf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The document's start: doctype, charset, viewport, a Content-Security-
 * Policy that forbids every external resource and script, the style sheet,
 * <body> and the <h1> title. html_end closes the body. */
void html_begin(FILE *f, const char *title);
void html_end(FILE *f);

/* A number with `decimals` decimals (half away from zero), or "—" when not
 * finite. `scale` multiplies first (100 for percentages). */
void html_num(FILE *f, double v, int decimals, double scale);

enum html_state { HTML_OK, HTML_PARTIAL, HTML_WITHHELD, HTML_NOT_COMPUTED };
enum html_mark { HTML_MARK_NONE, HTML_MARK_ADVERSE, HTML_MARK_FAVOURABLE };

/* One row of a dot-and-whisker chart (estimates, forest plots, trends). */
struct html_point {
    char label[160];
    double value, lower, upper; /* lower/upper NaN: no whisker              */
    int state;                  /* enum html_state                          */
    int mark;                   /* enum html_mark                           */
    int n_orgs;                 /* organizations behind the value (-1: none) */
    char note[200];             /* reason withheld, flags                   */
};

struct html_axis {
    const char *unit;   /* axis title ("per 1,000 member-years")          */
    double ref;         /* reference line (NaN: none): 1 for RR, 0 for RD  */
    int log;            /* log scale (ratios)                              */
    int decimals;       /* decimals in the data table                      */
    double scale;       /* multiplier for display (100: percentages)       */
};

/* A <figure class="chart"> with an inline SVG of the points (one row each;
 * withheld and not-computed rows carry their status text instead of a dot;
 * partial rows a hollow dot), then its <table class="data">. id becomes the
 * figure's id (escaped). */
void html_chart_dots(FILE *f, const char *id, const char *caption,
                     const struct html_point *pt, int n, const struct html_axis *ax);

/* A funnel plot: organizations' values against their size with the 95 %
 * and 99.8 % limits around p0, sampled at m sizes (xs ascending). Labels
 * are what the page may show (names, or anonymous letters). */
struct html_funnel_point {
    char label[128];
    double size, value;
    char position[24];  /* above_99.8, above_95, within, below_95, below_99.8 */
};

void html_chart_funnel(FILE *f, const char *id, const char *caption, const char *size_unit,
                       const struct html_funnel_point *pt, int n, double p0, const double *xs,
                       const double *lo95, const double *hi95, const double *lo998,
                       const double *hi998, int m, const struct html_axis *ax);

/* A spine chart row: the federation's range (lo..hi), its value (mid) with
 * its interval (mlo..mhi), and this organization's value (own), on a scale
 * of its own per row. */
struct html_spine_row {
    char label[160];
    double lo, hi, mid, mlo, mhi, own;
    int own_state;      /* enum html_state of own                         */
    int mark;           /* enum html_mark of own against mid              */
    int decimals;
    double scale;
    char note[200];
};

void html_chart_spine(FILE *f, const char *id, const char *caption,
                      const struct html_spine_row *rows, int n);

#endif
