/*
 * metrics_params.c - reads the metric parameters of a run or a round (see
 * metrics_params.h) with libinih; every value is range-checked and a bad
 * one is reported with its file and line.
 */
#include "metrics_params.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct load_ctx {
    struct metrics_params *p;
    const char *path;
    char *err;
    size_t errlen;
    int line;
};

static int num(struct load_ctx *c, const char *key, const char *v, double lo, double hi,
               double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || errno == ERANGE || !isfinite(d) || d < lo || d > hi) {
        snprintf(c->err, c->errlen, "%s:%d: %s: expected a number from %g to %g, found '%s'",
                 c->path, c->line, key, lo, hi, v);
        return -1;
    }
    *out = d;
    return 0;
}

/* libinih's reader: counts lines, so that messages can name them. */
struct line_reader {
    FILE *f;
    struct load_ctx *c;
};

static char *read_line(char *str, int num, void *stream)
{
    struct line_reader *r = stream;
    char *s = fgets(str, num, r->f);
    if (s)
        r->c->line++;
    return s;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct load_ctx *c = user;
    struct metrics_params *p = c->p;
    int lineno = c->line;
    if (strcmp(section, "unit_cost") == 0) {
        int m = catalog_measure_find(name);
        if (m < 0) {
            snprintf(c->err, c->errlen, "%s:%d: [unit_cost] %s: unknown measure", c->path,
                     lineno, name);
            return 0;
        }
        return num(c, name, value, 0, 1e9, &p->unit_cost[m]) == 0;
    }
    if (strcmp(section, "metrics") != 0) {
        snprintf(c->err, c->errlen, "%s:%d: unknown section [%s] (expected [metrics] or "
                 "[unit_cost])", c->path, lineno, section);
        return 0;
    }
    double d;
    if (strcmp(name, "conf") == 0)
        return num(c, name, value, 0.80, 0.999, &p->conf) == 0;
    if (strcmp(name, "min_denominator") == 0)
        return num(c, name, value, 0, 1e9, &p->min_denominator) == 0;
    if (strcmp(name, "mssp_scaler") == 0)
        return num(c, name, value, 0, 1e6, &p->mssp_scaler) == 0;
    if (strcmp(name, "mssp_threshold") == 0)
        return num(c, name, value, 0, 1, &p->mssp_threshold) == 0;
    if (strcmp(name, "mssp_cap") == 0)
        return num(c, name, value, 0, 1e6, &p->mssp_cap) == 0;
    if (strcmp(name, "heba_top_pbpm") == 0)
        return num(c, name, value, 0, 1e6, &p->heba_top_pbpm) == 0;
    if (strcmp(name, "heba_bottom_pbpm") == 0)
        return num(c, name, value, 0, 1e6, &p->heba_bottom_pbpm) == 0;
    if (strcmp(name, "capitation_base") == 0) {
        if (num(c, name, value, 0, 1e9, &d) != 0)
            return 0;
        if (!(d > 0)) {
            snprintf(c->err, c->errlen, "%s:%d: capitation_base: expected dollars greater than "
                     "0, found '%s'", c->path, lineno, value);
            return 0;
        }
        p->capitation_base = d;
        return 1;
    }
    if (strcmp(name, "standard_population") == 0) {
        int s = std_population_find(value);
        if (s < 0) {
            snprintf(c->err, c->errlen, "%s:%d: standard_population: expected us2000_11, "
                     "seer2000_19 or esp2013, found '%s'", c->path, lineno, value);
            return 0;
        }
        p->std_population = s;
        return 1;
    }
    if (strcmp(name, "reference") == 0) {
        if (metrics_params_set_reference(p, value) != 0) {
            snprintf(c->err, c->errlen, "%s:%d: reference: expected best, largest, total or a "
                     "stratum, found '%s'", c->path, lineno, value);
            return 0;
        }
        return 1;
    }
    snprintf(c->err, c->errlen, "%s:%d: [metrics] unknown key '%s'", c->path, lineno, name);
    return 0;
}

int metrics_params_load(struct metrics_params *p, const char *path, char *err, size_t errlen)
{
    struct metrics_params tmp = *p;
    struct load_ctx c = {&tmp, path, err, errlen, 0};
    err[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s:0: cannot read: %s", path, strerror(errno));
        return -1;
    }
    struct line_reader lr = {f, &c};
    int rc = ini_parse_stream(read_line, &lr, handler, &c);
    fclose(f);
    if (rc != 0) {
        if (!err[0])
            snprintf(err, errlen, "%s:%d: not an INI line", path, rc);
        return -1;
    }
    *p = tmp;
    return 0;
}

int metrics_params_for_round(const struct coord_config *cfg, const char *round_id,
                             const char *params_path, struct metrics_params *p, char *err,
                             size_t errlen)
{
    if (params_path)
        return metrics_params_load(p, params_path, err, errlen);
    for (const char *s = round_id; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_')) {
            snprintf(err, errlen, "round id \"%.60s\": expected letters, digits, - and _",
                     round_id);
            return -1;
        }
    char path[1400];
    snprintf(path, sizeof path, "%s/%s/params.ini", cfg->results_dir, round_id);
    if (access(path, F_OK) == 0)
        return metrics_params_load(p, path, err, errlen);
    snprintf(path, sizeof path, "%s/params.ini", cfg->results_dir);
    if (access(path, F_OK) == 0)
        return metrics_params_load(p, path, err, errlen);
    return 0;
}
