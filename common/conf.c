/*
 * conf.c - table-driven INI parsing with line numbers.
 *
 * inih calls our reader once per line, so counting lines in the reader
 * gives the line of the key the handler is looking at. The reader reads
 * whole lines of any length (getline): inih's line buffer is INI_MAX_LINE
 * bytes (200 in Debian's build), so a longer "key = value" line is handed
 * to inih as "key = <mark>" and the handler takes the value kept by the
 * reader; a longer comment is handed over as ";". Every physical line is
 * one reader call, so inih's own line numbers stay right too.
 */
#include "conf.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LONG_MARK "\x1e"
#define MAX_SECTIONS 64

struct conf_state {
    const struct conf_key *keys;
    size_t nkeys;
    void *out;
    conf_free_fn free_fn;
    void *ctx;
    FILE *f;
    int line;
    int *lines;              /* line of each key of the table, 0 = unset */
    char msg[512];
    int msg_line;
    char *lbuf;              /* the current physical line, any length   */
    size_t lcap;
    char *longval;           /* value of a line too long for inih       */
    int long_line;           /* the line longval belongs to             */
    int cont_line;           /* an indented line (inih: continuation)   */
    int key_seen;            /* a key = value line was read             */
    char sec_name[MAX_SECTIONS][64];
    int sec_line[MAX_SECTIONS];
    int nsec;
};

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void set_msg(struct conf_state *st, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_msg(struct conf_state *st, int line, const char *fmt, ...)
{
    if (st->msg[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->msg, sizeof st->msg, fmt, ap);
    va_end(ap);
    st->msg_line = line;
}

/* Notes "[name]" lines (for "required key missing in [name] at line N"). */
static void note_section(struct conf_state *st, const char *s)
{
    const char *e = strchr(s, ']');
    if (*s != '[' || !e || st->nsec >= MAX_SECTIONS)
        return;
    int n = (int)(e - s - 1);
    for (int i = 0; i < st->nsec; i++)
        if ((int)strlen(st->sec_name[i]) == n && !strncmp(st->sec_name[i], s + 1, (size_t)n))
            return;
    snprintf(st->sec_name[st->nsec], sizeof st->sec_name[0], "%.*s", n, s + 1);
    st->sec_line[st->nsec++] = st->line;
}

static char *conf_reader(char *buf, int size, void *stream)
{
    struct conf_state *st = stream;
    ssize_t n = getline(&st->lbuf, &st->lcap, st->f);
    if (n < 0)
        return NULL;
    st->line++;
    char *s = st->lbuf;
    if (st->line == 1 && n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
        s += 3, n -= 3; /* UTF-8 byte order mark */
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    char *t = s;
    while (is_space(*t))
        t++;
    if (*t && *t != ';' && *t != '#') {
        if (t > s && st->key_seen && *t != '[')
            st->cont_line = st->line;
        if (*t == '[') {
            note_section(st, t);
            st->key_seen = 0; /* inih forgets the previous key at a section */
        } else {
            st->key_seen = 1;
        }
    }
    if (n + 2 <= size) {
        memcpy(buf, s, (size_t)n);
        buf[n] = '\n';
        buf[n + 1] = '\0';
        return buf;
    }
    /* A line longer than inih's buffer. */
    if (!*t || *t == ';' || *t == '#') {
        snprintf(buf, (size_t)size, ";\n");
        return buf;
    }
    /* as inih: the name ends at '=' or ':' (or an inline comment) */
    char *eq = t;
    int was_space = 0;
    while (*eq && *eq != '=' && *eq != ':' && !(was_space && *eq == ';')) {
        was_space = is_space(*eq);
        eq++;
    }
    if (*t == '[' || (*eq != '=' && *eq != ':')) {
        /* not a key: let inih say what is wrong with (the start of) it */
        memcpy(buf, s, (size_t)size - 2);
        buf[size - 2] = '\n';
        buf[size - 1] = '\0';
        return buf;
    }
    char *ne = eq;
    while (ne > t && is_space(ne[-1]))
        ne--;
    char *v = eq + 1;
    while (is_space(*v))
        v++;
    /* inline comment: ';' after whitespace, as inih strips it */
    char *c = v;
    was_space = 0;
    while (*c && !(was_space && *c == ';')) {
        was_space = is_space(*c);
        c++;
    }
    *c = '\0';
    while (c > v && is_space(c[-1]))
        *--c = '\0';
    size_t nl = (size_t)(ne - t);
    if (nl + sizeof " = " LONG_MARK "\n" > (size_t)size) {
        set_msg(st, st->line, "%d: key name longer than %d characters", st->line, size - 8);
        snprintf(buf, (size_t)size, ";\n");
        return buf;
    }
    free(st->longval);
    st->longval = strdup(v);
    if (!st->longval) {
        set_msg(st, st->line, "%d: out of memory", st->line);
        snprintf(buf, (size_t)size, ";\n");
        return buf;
    }
    st->long_line = st->line;
    snprintf(buf, (size_t)size, "%.*s = " LONG_MARK "\n", (int)nl, t);
    return buf;
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
    if (st->long_line == st->line && !strcmp(value, LONG_MARK))
        value = st->longval;
    if (st->cont_line == st->line) {
        snprintf(st->msg, sizeof st->msg, "%d: indented line continues the value of \"%.60s\": "
                 "write each key = value on one line (lines may be of any length)", st->line,
                 name);
        return 0;
    }
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
        if (st->lines[i]) {
            snprintf(st->msg, sizeof st->msg, "%d: [%s] %s is set twice (first at line %d)",
                     st->line, section, name, st->lines[i]);
            return 0;
        }
        if (set_value(k, st->out, value, err, sizeof err) != 0) {
            snprintf(st->msg, sizeof st->msg, "%d: [%s] %s", st->line, section, err);
            return 0;
        }
        st->lines[i] = st->line;
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
    return conf_load_lines(path, keys, nkeys, out, free_fn, ctx, NULL, err, errlen);
}

static void state_free(struct conf_state *st)
{
    free(st->lines);
    free(st->lbuf);
    free(st->longval);
    if (st->f)
        fclose(st->f);
}

static int load(const char *path, const char *text, const struct conf_key *keys, size_t nkeys,
                void *out, conf_free_fn free_fn, void *ctx, int *lines, char *err, size_t errlen)
{
    if (lines)
        memset(lines, 0, nkeys * sizeof *lines);
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
    st.lines = calloc(nkeys ? nkeys : 1, sizeof *st.lines);
    if (!st.lines) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    st.f = text ? fmemopen((void *)text, strlen(text), "r") : fopen(path, "r");
    if (!st.f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        state_free(&st);
        return -1;
    }
    int rc = ini_parse_stream(conf_reader, &st, conf_handler, &st);
    int ret = -1;
    if (rc > 0 && (!st.msg[0] || rc < st.msg_line)) {
        snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)", path, rc);
        goto out;
    }
    if (st.msg[0]) {
        snprintf(err, errlen, "%s:%s", path, st.msg);
        goto out;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)", path,
                 rc > 0 ? rc : st.line);
        goto out;
    }
    for (size_t i = 0; i < nkeys; i++)
        if (keys[i].required && !st.lines[i]) {
            /* the line of the section when there is one, else the end */
            int at = st.line > 0 ? st.line : 1;
            for (int k = 0; k < st.nsec; k++)
                if (!strcmp(st.sec_name[k], keys[i].section))
                    at = st.sec_line[k];
            snprintf(err, errlen, "%s:%d: required key \"%s\" missing in section [%s]", path,
                     at, keys[i].name, keys[i].section);
            goto out;
        }
    if (lines)
        memcpy(lines, st.lines, nkeys * sizeof *lines);
    ret = 0;
out:
    state_free(&st);
    return ret;
}

int conf_load_lines(const char *path, const struct conf_key *keys, size_t nkeys, void *out,
                    conf_free_fn free_fn, void *ctx, int *lines, char *err, size_t errlen)
{
    return load(path, NULL, keys, nkeys, out, free_fn, ctx, lines, err, errlen);
}

int conf_load_text(const char *name, const char *text, const struct conf_key *keys, size_t nkeys,
                   void *out, conf_free_fn free_fn, void *ctx, char *err, size_t errlen)
{
    if (!text[0]) {
        snprintf(err, errlen, "%s: empty text", name);
        return -1;
    }
    return load(name, text, keys, nkeys, out, free_fn, ctx, NULL, err, errlen);
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
