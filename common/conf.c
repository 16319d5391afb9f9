/*
 * conf.c - table-driven INI parsing with line numbers.
 *
 * inih calls our reader once per line, so counting lines in the reader
 * gives the line of the key the handler is looking at.
 */
#include "conf.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct conf_state {
    const struct conf_key *keys;
    size_t nkeys;
    void *out;
    conf_free_fn free_fn;
    void *ctx;
    FILE *f;
    int line;
    unsigned char *seen;
    char msg[512];
    int msg_line;
};

static char *conf_reader(char *buf, int size, void *stream)
{
    struct conf_state *st = stream;
    char *r = fgets(buf, size, st->f);
    if (r)
        st->line++;
    return r;
}

static int set_value(const struct conf_key *k, void *out, const char *value, char *err, size_t errlen)
{
    char *base = (char *)out + k->offset;
    char *end;
    switch (k->type) {
    case CONF_STR:
        if (strlen(value) >= k->size) {
            snprintf(err, errlen, "%s: value longer than %zu characters", k->name, k->size - 1);
            return -1;
        }
        memcpy(base, value, strlen(value) + 1);
        return 0;
    case CONF_INT: {
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end) {
            snprintf(err, errlen, "%s: \"%.60s\" is not a whole number", k->name, value);
            return -1;
        }
        if (v < k->min || v > k->max) {
            snprintf(err, errlen, "%s: %ld is out of range %g..%g", k->name, v, k->min, k->max);
            return -1;
        }
        *(int *)base = (int)v;
        return 0;
    }
    case CONF_DOUBLE: {
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end || !isfinite(v)) {
            snprintf(err, errlen, "%s: \"%.60s\" is not a number", k->name, value);
            return -1;
        }
        if (v < k->min || v > k->max) {
            snprintf(err, errlen, "%s: %g is out of range %g..%g", k->name, v, k->min, k->max);
            return -1;
        }
        *(double *)base = v;
        return 0;
    }
    case CONF_BOOL:
        if (!strcasecmp(value, "yes") || !strcasecmp(value, "true") || !strcmp(value, "1") ||
            !strcasecmp(value, "on")) {
            *(int *)base = 1;
            return 0;
        }
        if (!strcasecmp(value, "no") || !strcasecmp(value, "false") || !strcmp(value, "0") ||
            !strcasecmp(value, "off")) {
            *(int *)base = 0;
            return 0;
        }
        snprintf(err, errlen, "%s: \"%.60s\" is not yes or no", k->name, value);
        return -1;
    case CONF_ENUM:
        for (int i = 0; k->values[i]; i++)
            if (!strcasecmp(k->values[i], value)) {
                *(int *)base = i;
                return 0;
            }
        {
            size_t used = (size_t)snprintf(err, errlen, "%s: \"%.40s\" is not one of", k->name, value);
            for (int i = 0; k->values[i] && used < errlen; i++)
                used += (size_t)snprintf(err + used, errlen - used, " %s", k->values[i]);
        }
        return -1;
    }
    return -1;
}

static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
    struct conf_state *st = user;
    char err[400];
    if (st->msg[0])
        return 0;
    st->msg_line = st->line;
    if (!section[0]) {
        snprintf(st->msg, sizeof st->msg, "%d: key \"%.60s\" outside any [section]", st->line, name);
        return 0;
    }
    int section_known = 0;
    for (size_t i = 0; i < st->nkeys; i++) {
        const struct conf_key *k = &st->keys[i];
        if (strcmp(k->section, section) != 0)
            continue;
        section_known = 1;
        if (strcmp(k->name, name) != 0)
            continue;
        if (set_value(k, st->out, value, err, sizeof err) != 0) {
            snprintf(st->msg, sizeof st->msg, "%d: [%s] %s", st->line, section, err);
            return 0;
        }
        st->seen[i] = 1;
        return 1;
    }
    if (!section_known && st->free_fn) {
        if (st->free_fn(st->ctx, section, name, value, err, sizeof err) != 0) {
            snprintf(st->msg, sizeof st->msg, "%d: [%s] %s", st->line, section, err);
            return 0;
        }
        return 1;
    }
    if (section_known)
        snprintf(st->msg, sizeof st->msg, "%d: unknown key \"%.60s\" in section [%s]", st->line, name, section);
    else
        snprintf(st->msg, sizeof st->msg, "%d: unknown section [%.60s]", st->line, section);
    return 0;
}

int conf_load(const char *path, const struct conf_key *keys, size_t nkeys, void *out,
              conf_free_fn free_fn, void *ctx, char *err, size_t errlen)
{
    char e2[400];
    for (size_t i = 0; i < nkeys; i++)
        if (keys[i].def && set_value(&keys[i], out, keys[i].def, e2, sizeof e2) != 0) {
            snprintf(err, errlen, "built-in default: %s", e2);
            return -1;
        }
    if (!path)
        return 0;
    struct conf_state st;
    memset(&st, 0, sizeof st);
    st.keys = keys;
    st.nkeys = nkeys;
    st.out = out;
    st.free_fn = free_fn;
    st.ctx = ctx;
    st.seen = calloc(nkeys ? nkeys : 1, 1);
    if (!st.seen) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    st.f = fopen(path, "r");
    if (!st.f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(st.seen);
        return -1;
    }
    int rc = ini_parse_stream(conf_reader, &st, conf_handler, &st);
    fclose(st.f);
    if (rc > 0 && (!st.msg[0] || rc < st.msg_line)) {
        snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)", path, rc);
        free(st.seen);
        return -1;
    }
    if (st.msg[0]) {
        snprintf(err, errlen, "%s:%s", path, st.msg);
        free(st.seen);
        return -1;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)", path,
                 rc > 0 ? rc : st.line);
        free(st.seen);
        return -1;
    }
    for (size_t i = 0; i < nkeys; i++)
        if (keys[i].required && !st.seen[i]) {
            snprintf(err, errlen, "%s:0: required key \"%s\" missing in section [%s]", path,
                     keys[i].name, keys[i].section);
            free(st.seen);
            return -1;
        }
    free(st.seen);
    return 0;
}

void conf_print(FILE *f, const struct conf_key *keys, size_t nkeys, const void *in)
{
    const char *section = "";
    for (size_t i = 0; i < nkeys; i++) {
        const struct conf_key *k = &keys[i];
        const char *base = (const char *)in + k->offset;
        if (strcmp(section, k->section) != 0) {
            fprintf(f, "%s[%s]\n", i ? "\n" : "", k->section);
            section = k->section;
        }
        fprintf(f, "%s = ", k->name);
        switch (k->type) {
        case CONF_STR: fprintf(f, "%s\n", base); break;
        case CONF_INT: fprintf(f, "%d\n", *(const int *)base); break;
        case CONF_DOUBLE: fprintf(f, "%g\n", *(const double *)base); break;
        case CONF_BOOL: fprintf(f, "%s\n", *(const int *)base ? "yes" : "no"); break;
        case CONF_ENUM: fprintf(f, "%s\n", k->values[*(const int *)base]); break;
        }
    }
}
