/*
 * synthea.c - the Synthea CSV adapter (extract.md, "Synthea CSV adapter").
 *
 * One pass over each file, in this order: payers.csv (payer id -> payer
 * code), patients.csv (one entry per patient: demographics and whether the
 * patient is alive in the year), payer_transitions.csv (covered months per
 * payer code), encounters.csv, conditions.csv and, when present,
 * observations.csv (per-patient accumulators). Only then is each member's
 * record built and handed to the sink, so a fatal error hands out nothing.
 *
 * Parsing is libcsv's (RFC 4180). Input is fed to it one physical line at a
 * time so that errors can name the line; a quoting error drops the row
 * being read and parsing resumes on the next line with a fresh parser.
 *
 * Mapping choices that the specification leaves open, in one place:
 * - A member is a patient born on or before Dec 31 and not dead before
 *   Jan 1; the day of death counts as lived. Age = year - birth year (age on
 *   Dec 31), unknown above 120.
 * - Coverage: each payer_transitions row covers [start, end) intersected
 *   with the part of the year the member was alive; months = that span /
 *   (year length) * 12. Plain years (START_YEAR=2015) mean Jan 1 of the start
 *   year to Dec 31 of the end year. An empty end means still covered. Months
 *   are summed per payer code (two commercial plans add up), capped at the
 *   months alive (<= 12), and the payer is the code with the most months
 *   (ties: the first of MEDICAID, MEDICARE, DUAL, COMMERCIAL, UNINSURED). A
 *   member alive in the year without any covered time in it is UNINSURED
 *   with member months = months alive in the year: Synthea records
 *   uninsured time as the NO_INSURANCE payer, so a gap means the export did
 *   not say, and a patient seen by the source still belongs to the
 *   population for the months it existed.
 * - Readmission: both the index stay and the following stay start in the
 *   year; an index stay counts once when another inpatient stay starts 0 to
 *   30 days (inclusive) after its STOP. Overlapping stays (transfers) are not
 *   readmissions.
 * - PRAPARE (LOINC item codes, values as Synthea writes them): see
 *   prapare_positive(). Domains are positive when any screen in the year was
 *   positive; the language is the most recent answer in the year.
 * - Not in Synthea: appointments (no_show), patient experience survey,
 *   disability, children with medical complexity (U), ADI (0 = unknown).
 */
#include "synthea.h"

#include <csv.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cells.h"
#include "catalog.h"
#include "code_map.h"

#define MAX_FIELDS 512
#define MAX_ROW_BYTES (1u << 20)
#define CHUNK (64 * 1024)
#define DAY 86400LL
#define T_NONE INT64_MIN
#define T_OPEN INT64_MAX

/* ---- Tables ------------------------------------------------------------ */

/* California's 58 counties in alphabetical order: county i has FIPS
 * 06000 + 2 * i + 1 (06001 Alameda .. 06115 Yuba). */
static const char *const ca_counties[] = {
    "Alameda", "Alpine", "Amador", "Butte", "Calaveras", "Colusa",
    "Contra Costa", "Del Norte", "El Dorado", "Fresno", "Glenn", "Humboldt",
    "Imperial", "Inyo", "Kern", "Kings", "Lake", "Lassen", "Los Angeles",
    "Madera", "Marin", "Mariposa", "Mendocino", "Merced", "Modoc", "Mono",
    "Monterey", "Napa", "Nevada", "Orange", "Placer", "Plumas", "Riverside",
    "Sacramento", "San Benito", "San Bernardino", "San Diego",
    "San Francisco", "San Joaquin", "San Luis Obispo", "San Mateo",
    "Santa Barbara", "Santa Clara", "Santa Cruz", "Shasta", "Sierra",
    "Siskiyou", "Solano", "Sonoma", "Stanislaus", "Sutter", "Tehama",
    "Trinity", "Tulare", "Tuolumne", "Ventura", "Yolo", "Yuba",
};
_Static_assert(sizeof ca_counties / sizeof ca_counties[0] == 58, "58 counties");

/* PRAPARE answer text (54899-0) -> ISO 639-3. "Language other than
 * English", Synthea's only other answer, names no language: it maps to
 * und and counts as a miss. */
static const struct { const char *text; const char *iso; } languages[] = {
    {"English", "eng"}, {"Spanish", "spa"}, {"Chinese", "zho"},
    {"Mandarin", "cmn"}, {"Cantonese", "yue"}, {"Vietnamese", "vie"},
    {"Tagalog", "tgl"}, {"Filipino", "fil"}, {"Korean", "kor"},
    {"Russian", "rus"}, {"Arabic", "ara"}, {"Armenian", "hye"},
    {"Persian", "fas"}, {"Farsi", "fas"}, {"Japanese", "jpn"},
    {"Hindi", "hin"}, {"Punjabi", "pan"}, {"French", "fra"},
    {"German", "deu"}, {"Portuguese", "por"}, {"Italian", "ita"},
    {"Polish", "pol"}, {"Hmong", "hmn"}, {"Khmer", "khm"}, {"Thai", "tha"},
    {"Ukrainian", "ukr"}, {"Haitian Creole", "hat"}, {"Somali", "som"},
    {"Amharic", "amh"}, {"Bengali", "ben"}, {"Urdu", "urd"},
    {"Gujarati", "guj"}, {"Lao", "lao"}, {"American Sign Language", "ase"},
};

/* PRAPARE item codes (LOINC panel 93025-5): any of them in the year means
 * the member was screened. */
static const char *const prapare_codes[] = {
    "93025-5", "32624-9", "54899-0", "56051-6", "63512-8", "63586-2",
    "67875-5", "71802-3", "76437-3", "76501-6", "82589-3", "93026-3",
    "93027-1", "93028-9", "93029-7", "93030-5", "93031-3", "93033-9",
    "93034-7", "93035-4", "93038-8", "93043-8",
};

enum { OBS_NONE, OBS_A1C, OBS_SBP, OBS_DBP, OBS_PRAPARE };

/* ---- Small helpers ----------------------------------------------------- */

static int ieq(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n == m && strncasecmp(s, lit, n) == 0;
}

static int starts_ci(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n >= m && strncasecmp(s, lit, m) == 0;
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* Drops a trailing " County" (any case) from a county name. */
static void strip_county(const char **s, size_t *n)
{
    trim(s, n);
    if (*n > 7 && strncasecmp(*s + *n - 7, " county", 7) == 0)
        *n -= 7;
    trim(s, n);
}

/* Parses "YYYY-MM-DD", optionally followed by "THH:MM[:SS[.fff]]" (or a
 * space instead of T) and "Z" or "+HH:MM"/"-HH:MM". Returns 0 with seconds
 * since 1970 UTC in *t and the calendar year in *year, or -1. */
static int parse_time(const char *s, size_t n, int64_t *t, int *year)
{
    int y, mo, d, h = 0, mi = 0, se = 0;
    if (n < 10 || s[4] != '-' || s[7] != '-' || record_digits(s, 4, &y) < 0 ||
        record_digits(s + 5, 2, &mo) < 0 || record_digits(s + 8, 2, &d) < 0)
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1000 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return -1;
    size_t i = 10;
    int64_t off = 0;
    if (i < n && (s[i] == 'T' || s[i] == ' ')) {
        if (n < i + 6 || s[i + 3] != ':' || record_digits(s + i + 1, 2, &h) < 0 ||
            record_digits(s + i + 4, 2, &mi) < 0 || h > 23 || mi > 59)
            return -1;
        i += 6;
        if (i < n && s[i] == ':') {
            if (n < i + 3 || record_digits(s + i + 1, 2, &se) < 0 || se > 60)
                return -1;
            i += 3;
            if (i < n && s[i] == '.') {
                i++;
                size_t f = i;
                while (i < n && s[i] >= '0' && s[i] <= '9')
                    i++;
                if (i == f)
                    return -1;
            }
        }
        if (i < n && s[i] == 'Z') {
            i++;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
            int oh, om;
            if (n < i + 6 || s[i + 3] != ':' || record_digits(s + i + 1, 2, &oh) < 0 ||
                record_digits(s + i + 4, 2, &om) < 0 || oh > 23 || om > 59)
                return -1;
            off = (oh * 3600LL + om * 60LL) * (s[i] == '+' ? 1 : -1);
            i += 6;
        }
    }
    if (i != n)
        return -1;
    *t = record_days_from_civil(y, mo, d) * DAY + h * 3600LL + mi * 60LL + se - off;
    if (year)
        *year = y;
    return 0;
}

/* A coverage bound: a date/timestamp or a plain 4-digit year (Jan 1 of it
 * for a start, Jan 1 of the next year for an end). */
static int parse_bound(const char *s, size_t n, int is_end, int64_t *t)
{
    int y;
    if (n == 4 && record_digits(s, 4, &y) == 0) {
        if (y < 1000)
            return -1;
        *t = record_days_from_civil(y + (is_end ? 1 : 0), 1, 1) * DAY;
        return 0;
    }
    return parse_time(s, n, t, NULL);
}

/* ---- The adapter's state ------------------------------------------------ */

struct stay {
    int64_t start, stop;
};

struct pat {
    char *id;
    size_t idlen;
    uint8_t valid, member;
    uint8_t sex, race, eth;
    uint8_t miss_race, miss_eth, miss_sex, miss_county;
    int county_rule;              /* index of the county rule used, or -1  */
    int16_t race_rule, eth_rule, sex_rule, lang_rule; /* code-map rule, -1 */
    int32_t county;
    int age;
    int64_t alive_from, alive_to; /* part of the year the member lived     */
    int64_t cov[PAYER__COUNT];    /* covered seconds per payer code         */
    uint32_t ed, pc, tele;
    uint8_t wellness;
    int64_t cost;                 /* cents                                   */
    struct stay *stays;
    uint32_t nstays, capstays;
    uint8_t diabetes, htn;
    uint32_t ccc;                 /* CCC v2 categories of active conditions */
    int64_t a1c_t, sbp_t, dbp_t, lang_t;
    double a1c, sbp, dbp;
    uint16_t lang;
    uint8_t lang_miss;
    uint8_t screened, food, housing, transport, utilities, safety;
};

struct payer {
    char *id;
    size_t idlen;
    int code;
};

struct ctx {
    const struct synthea_options *o;
    struct profile *prof;
    char *err;
    size_t errlen;
    int64_t y0, y1;               /* [Jan 1 year, Jan 1 year+1) UTC         */
    struct pat *pats;
    size_t npats, cappats;
    uint32_t *hash;               /* open addressing, index + 1, 0 = empty  */
    size_t hashcap;
    struct payer *payers;
    size_t npayers, cappayers;
    struct code_map map;          /* [map.*] rules, hits into prof         */
    int state_col;                /* STATE column of patients.csv, or -1   */
};

/* One CSV file being read. */
struct reader {
    struct ctx *c;
    const char *name;             /* file name, for messages               */
    char path[4096];
    uint64_t line;                /* current physical line (1-based)       */
    uint64_t row_line;            /* line where the current row started    */
    int in_row, header_done, stop;
    char **hdr;
    int nhdr;
    char *buf;                    /* the current row's fields, NUL-ended   */
    size_t buflen, bufcap;
    size_t off[MAX_FIELDS], flen[MAX_FIELDS];
    int nf;                       /* fields in the current row             */
    int too_long;
    int (*on_header)(struct reader *r);
    int (*on_row)(struct reader *r);
    int col[8];                   /* header index of each needed column    */
};

static int fatal(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fatal(struct ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (c->errlen > 0)
        vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Rejects the current row: counts it in the profile and, in strict mode,
 * stops the run. `col` is the header index of the field, or -1. Messages
 * never carry identifiers: callers quote only codes and amounts. */
static int row_bad(struct reader *r, bad_reason why, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int row_bad(struct reader *r, bad_reason why, int col, const char *fmt, ...)
{
    char msg[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *field = col >= 0 && col < r->nhdr ? r->hdr[col] : "";
    profile_reject(r->c->prof, why, r->row_line, col + 1, field, "%s: %s", r->name, msg);
    if (r->c->o->strict) {
        fatal(r->c, "%s:%llu:%d: %s", r->path, (unsigned long long)r->row_line,
              col + 1, msg);
        r->stop = 1;
        return -1;
    }
    return 0;
}

static const char *fld(const struct reader *r, int col, size_t *n)
{
    *n = r->flen[col];
    return r->buf + r->off[col];
}

/* ---- Patients: lookup ----------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static long pat_find(const struct ctx *c, const char *id, size_t n)
{
    if (c->hashcap == 0)
        return -1;
    size_t mask = c->hashcap - 1;
    for (size_t i = hash_bytes(id, n) & mask;; i = (i + 1) & mask) {
        uint32_t v = c->hash[i];
        if (v == 0)
            return -1;
        const struct pat *p = &c->pats[v - 1];
        if (p->idlen == n && memcmp(p->id, id, n) == 0)
            return (long)(v - 1);
    }
}

static int hash_insert(struct ctx *c, size_t idx)
{
    if ((c->npats + 1) * 2 > c->hashcap) {
        size_t cap = c->hashcap ? c->hashcap * 2 : 1024;
        uint32_t *h = calloc(cap, sizeof *h);
        if (!h)
            return -1;
        free(c->hash);
        c->hash = h;
        c->hashcap = cap;
        for (size_t k = 0; k < c->npats; k++) {
            if (k == idx)
                continue;
            size_t i = hash_bytes(c->pats[k].id, c->pats[k].idlen) & (cap - 1);
            while (h[i])
                i = (i + 1) & (cap - 1);
            h[i] = (uint32_t)(k + 1);
        }
    }
    size_t mask = c->hashcap - 1;
    size_t i = hash_bytes(c->pats[idx].id, c->pats[idx].idlen) & mask;
    while (c->hash[i])
        i = (i + 1) & mask;
    c->hash[i] = (uint32_t)(idx + 1);
    return 0;
}

/* Looks up the PATIENT field of a row: returns the patient when it is a
 * member of the year, NULL otherwise (rejecting unknown ids; *stop set
 * when that rejection ends the run). */
static struct pat *row_patient(struct reader *r, int col, int *stop)
{
    size_t n;
    const char *id = fld(r, col, &n);
    *stop = 0;
    long k = pat_find(r->c, id, n);
    if (k < 0) {
        if (row_bad(r, BAD_INCONSISTENT, col, "%s is empty or not in patients.csv",
                    r->hdr[col]) < 0)
            *stop = 1;
        return NULL;
    }
    struct pat *p = &r->c->pats[k];
    return p->valid && p->member ? p : NULL;
}

/* ---- The CSV driver ------------------------------------------------------ */

static void on_field(void *s, size_t len, void *data)
{
    struct reader *r = data;
    if (r->stop)
        return;
    if (!r->in_row) {
        r->in_row = 1;
        r->row_line = r->line;
        r->nf = 0;
        r->buflen = 0;
        r->too_long = 0;
    }
    if (r->nf >= MAX_FIELDS) {
        r->nf++;
        return;
    }
    if (r->buflen + len + 1 > MAX_ROW_BYTES) {
        r->too_long = 1;
        len = 0;
    }
    if (r->buflen + len + 1 > r->bufcap) {
        size_t cap = r->bufcap ? r->bufcap : 4096;
        while (cap < r->buflen + len + 1)
            cap *= 2;
        char *b = realloc(r->buf, cap);
        if (!b) {
            fatal(r->c, "%s: out of memory", r->path);
            r->stop = 1;
            return;
        }
        r->buf = b;
        r->bufcap = cap;
    }
    if (len > 0 && s)
        memcpy(r->buf + r->buflen, s, len);
    r->off[r->nf] = r->buflen;
    r->flen[r->nf] = len;
    r->buflen += len;
    r->buf[r->buflen++] = '\0';
    r->nf++;
}

static void on_row_end(int term, void *data)
{
    struct reader *r = data;
    (void)term;
    if (r->stop || !r->in_row)
        return;
    r->in_row = 0;
    if (!r->header_done) {
        r->header_done = 1;
        if (r->nf > MAX_FIELDS) {
            fatal(r->c, "%s:%llu: header has %d columns, more than %d", r->path,
                  (unsigned long long)r->row_line, r->nf, MAX_FIELDS);
            r->stop = 1;
            return;
        }
        r->hdr = calloc((size_t)r->nf + 1, sizeof *r->hdr);
        if (!r->hdr) {
            fatal(r->c, "%s: out of memory", r->path);
            r->stop = 1;
            return;
        }
        r->nhdr = r->nf;
        for (int i = 0; i < r->nf; i++) {
            size_t n;
            const char *s = fld(r, i, &n);
            if (i == 0 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
                s += 3;
                n -= 3;
            }
            trim(&s, &n);
            r->hdr[i] = strndup(s, n);
            if (!r->hdr[i]) {
                fatal(r->c, "%s: out of memory", r->path);
                r->stop = 1;
                return;
            }
        }
        if (r->on_header(r) < 0)
            r->stop = 1;
        return;
    }
    if (r->nf != r->nhdr) {
        row_bad(r, BAD_FIELD_COUNT, -1, "%d fields where the header has %d", r->nf, r->nhdr);
        return;
    }
    if (r->too_long) {
        row_bad(r, BAD_RANGE, -1, "row longer than %u bytes", MAX_ROW_BYTES);
        return;
    }
    if (r->on_row(r) < 0)
        r->stop = 1;
}

static void reader_free(struct reader *r)
{
    for (int i = 0; i < r->nhdr; i++)
        free(r->hdr[i]);
    free(r->hdr);
    free(r->buf);
    r->hdr = NULL;
    r->buf = NULL;
    r->nhdr = 0;
}

/* Reads one file of the folder. Returns 0, 1 when an optional file is
 * absent, or -1 (err set). */
static int read_file(struct ctx *c, const char *dir, const char *name, int optional,
                     int (*on_header)(struct reader *), int (*on_row)(struct reader *))
{
    struct reader *r = calloc(1, sizeof *r);
    char *chunk = malloc(CHUNK);
    struct csv_parser p;
    int parser_ok = 0, rc = -1;
    FILE *fp = NULL;
    const unsigned char opts = CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL;

    if (!r || !chunk) {
        rc = fatal(c, "out of memory");
        goto out;
    }
    r->c = c;
    r->name = name;
    r->on_header = on_header;
    r->on_row = on_row;
    r->line = 1;
    if ((size_t)snprintf(r->path, sizeof r->path, "%s/%s", dir, name) >= sizeof r->path) {
        rc = fatal(c, "%s: folder name too long", name);
        goto out;
    }
    fp = fopen(r->path, "rb");
    if (!fp) {
        if (optional && errno == ENOENT) {
            rc = 1;
            goto out;
        }
        rc = fatal(c, "%s: cannot open: %s", r->path, strerror(errno));
        goto out;
    }
    if (csv_init(&p, opts) != 0) {
        rc = fatal(c, "out of memory");
        goto out;
    }
    parser_ok = 1;
    int skip_line = 0;
    size_t n;
    while ((n = fread(chunk, 1, CHUNK, fp)) > 0) {
        size_t pos = 0;
        while (pos < n) {
            char *nl = memchr(chunk + pos, '\n', n - pos);
            size_t end = nl ? (size_t)(nl - chunk) + 1 : n;
            if (!skip_line) {
                size_t len = end - pos;
                if (csv_parse(&p, chunk + pos, len, on_field, on_row_end, r) != len &&
                    !r->stop) {
                    /* Quoting error: drop the row, resume on the next line. */
                    if (!r->header_done) {
                        rc = fatal(c, "%s:%llu: bad quoting in the header", r->path,
                                   (unsigned long long)r->line);
                        goto out;
                    }
                    uint64_t at = r->line;
                    r->in_row = 0;
                    r->row_line = at;
                    csv_free(&p);
                    parser_ok = 0;
                    if (csv_init(&p, opts) != 0) {
                        rc = fatal(c, "out of memory");
                        goto out;
                    }
                    parser_ok = 1;
                    skip_line = nl ? 0 : 1;
                    if (row_bad(r, BAD_QUOTING, -1, "misplaced or unbalanced quote") < 0)
                        goto out;
                }
            } else if (nl) {
                skip_line = 0;
            }
            if (r->stop)
                goto out;
            if (nl)
                r->line++;
            pos = end;
        }
    }
    if (ferror(fp)) {
        rc = fatal(c, "%s: read error: %s", r->path, strerror(errno));
        goto out;
    }
    if (!skip_line && csv_fini(&p, on_field, on_row_end, r) != 0 && !r->stop) {
        if (!r->header_done) {
            rc = fatal(c, "%s:%llu: bad quoting in the header", r->path,
                       (unsigned long long)r->line);
            goto out;
        }
        if (row_bad(r, BAD_QUOTING, -1, "quoted field still open at end of file") < 0)
            goto out;
    }
    if (r->stop)
        goto out;
    if (!r->header_done) {
        rc = fatal(c, "%s: empty file (no header)", r->path);
        goto out;
    }
    rc = 0;
out:
    if (parser_ok)
        csv_free(&p);
    if (fp)
        fclose(fp);
    if (r)
        reader_free(r);
    free(r);
    free(chunk);
    return rc;
}

static int col_find(const struct reader *r, const char *name)
{
    for (int i = 0; i < r->nhdr; i++)
        if (strcasecmp(r->hdr[i], name) == 0)
            return i;
    return -1;
}

/* Resolves required columns into r->col[0..]; a missing one is fatal. */
static int cols_need(struct reader *r, const char *const *names, int n)
{
    for (int i = 0; i < n; i++) {
        r->col[i] = col_find(r, names[i]);
        if (r->col[i] < 0)
            return fatal(r->c, "%s:1: missing required column %s", r->path, names[i]);
    }
    return 0;
}

/* ---- payers.csv ---------------------------------------------------------- */

enum { PY_ID, PY_NAME };

static int payers_header(struct reader *r)
{
    static const char *const need[] = {"Id", "NAME"};
    return cols_need(r, need, 2);
}

static int payers_row(struct reader *r)
{
    struct ctx *c = r->c;
    size_t idn, nn;
    const char *id = fld(r, r->col[PY_ID], &idn);
    const char *name = fld(r, r->col[PY_NAME], &nn);
    if (idn == 0)
        return row_bad(r, BAD_CODE, r->col[PY_ID], "empty payer Id");
    for (size_t i = 0; i < c->npayers; i++)
        if (c->payers[i].idlen == idn && memcmp(c->payers[i].id, id, idn) == 0)
            return row_bad(r, BAD_DUPLICATE, r->col[PY_ID], "payer Id seen before");
    if (c->npayers == c->cappayers) {
        size_t cap = c->cappayers ? c->cappayers * 2 : 16;
        struct payer *pp = realloc(c->payers, cap * sizeof *pp);
        if (!pp)
            return fatal(c, "out of memory");
        c->payers = pp;
        c->cappayers = cap;
    }
    trim(&name, &nn);
    int code = PAYER_COMMERCIAL;
    int pr = code_map_find(&c->map, COL_PAYER, name, nn);
    if (pr >= 0) {
        code = code_map_code(&c->map, COL_PAYER, pr);
        code_map_hit(&c->map, COL_PAYER, pr);
    } else if (ieq(name, nn, "Medicaid"))
        code = PAYER_MEDICAID;
    else if (ieq(name, nn, "Medicare"))
        code = PAYER_MEDICARE;
    else if (ieq(name, nn, "Dual Eligible"))
        code = PAYER_DUAL;
    else if (ieq(name, nn, "NO_INSURANCE"))
        code = PAYER_UNINSURED;
    struct payer *py = &c->payers[c->npayers];
    py->id = malloc(idn); /* ids may hold NUL bytes: copy by length */
    if (!py->id)
        return fatal(c, "out of memory");
    memcpy(py->id, id, idn);
    py->idlen = idn;
    py->code = code;
    c->npayers++;
    return 0;
}

/* ---- patients.csv -------------------------------------------------------- */

enum { PT_ID, PT_BIRTH, PT_DEATH, PT_RACE, PT_ETH, PT_GENDER, PT_COUNTY, PT_FIPS };
/* r->col[PT_FIPS] and ctx.state_col (STATE) are optional (-1 when absent). */

int synthea_language_name(const char *text, size_t len)
{
    if (!text)
        return -1;
    trim(&text, &len);
    for (size_t i = 0; i < sizeof languages / sizeof languages[0]; i++)
        if (ieq(text, len, languages[i].text))
            return record_lang_pack(languages[i].iso, 3);
    return -1;
}

int synthea_ca_county_fips(const char *name, size_t len)
{
    strip_county(&name, &len);
    for (size_t i = 0; i < sizeof ca_counties / sizeof ca_counties[0]; i++)
        if (ieq(name, len, ca_counties[i]))
            return 6000 + 2 * (int)i + 1;
    return COUNTY_UNKNOWN;
}

static int patients_header(struct reader *r)
{
    static const char *const need[] = {"Id", "BIRTHDATE", "DEATHDATE", "RACE",
                                       "ETHNICITY", "GENDER", "COUNTY"};
    if (cols_need(r, need, 7) < 0)
        return -1;
    r->col[PT_FIPS] = col_find(r, "FIPS");
    return 0;
}

static void patient_county(struct reader *r, struct pat *p)
{
    const struct synthea_options *o = r->c->o;
    size_t n, fn = 0;
    const char *name = fld(r, r->col[PT_COUNTY], &n);
    int v = COUNTY_UNKNOWN;
    p->county = COUNTY_UNKNOWN;
    p->county_rule = -1;
    if (r->col[PT_FIPS] >= 0) {
        const char *f = fld(r, r->col[PT_FIPS], &fn);
        trim(&f, &fn);
        if ((fn == 4 || fn == 5) && record_digits(f, fn, &v) == 0 && v >= 1000) {
            p->county = v;
            return;
        }
    }
    strip_county(&name, &n);
    if (n == 0) {
        p->miss_county = fn > 0;
        return;
    }
    for (int i = 0; i < o->n_county_rules; i++) {
        const char *from = o->county_rules[i].from;
        size_t fl = strnlen(from, sizeof o->county_rules[i].from);
        strip_county(&from, &fl);
        if (fl == n && strncasecmp(from, name, n) == 0) {
            p->county = code_map_code(&r->c->map, COL_COUNTY, i);
            p->county_rule = i;
            return;
        }
    }
    /* The built-in table is California's: use it unless the row says
     * another state. */
    int ca = 1;
    if (r->c->state_col >= 0) {
        size_t sn;
        const char *st = fld(r, r->c->state_col, &sn);
        trim(&st, &sn);
        ca = sn == 0 || ieq(st, sn, "California") || ieq(st, sn, "CA");
    }
    if (ca)
        p->county = synthea_ca_county_fips(name, n);
    p->miss_county = p->county == COUNTY_UNKNOWN;
}

static int patients_row(struct reader *r)
{
    struct ctx *c = r->c;
    size_t n;
    const char *id = fld(r, r->col[PT_ID], &n);
    c->prof->rows_read++;
    if (n == 0)
        return row_bad(r, BAD_CODE, r->col[PT_ID], "empty patient Id");
    if (pat_find(c, id, n) >= 0)
        return row_bad(r, BAD_DUPLICATE, r->col[PT_ID], "patient Id seen before");
    if (c->npats == c->cappats) {
        size_t cap = c->cappats ? c->cappats * 2 : 256;
        if (cap > UINT32_MAX - 1)
            return fatal(c, "%s: too many patients", r->path);
        struct pat *pp = realloc(c->pats, cap * sizeof *pp);
        if (!pp)
            return fatal(c, "out of memory");
        c->pats = pp;
        c->cappats = cap;
    }
    struct pat *p = &c->pats[c->npats];
    memset(p, 0, sizeof *p);
    p->id = malloc(n);
    if (!p->id)
        return fatal(c, "out of memory");
    memcpy(p->id, id, n);
    p->idlen = n;
    p->a1c_t = p->sbp_t = p->dbp_t = p->lang_t = T_NONE;
    c->npats++;
    if (hash_insert(c, c->npats - 1) < 0)
        return fatal(c, "out of memory");

    /* Dates are identifiers: messages name the column, never the value. */
    int64_t birth, death = T_NONE;
    int by;
    const char *s = fld(r, r->col[PT_BIRTH], &n);
    if (parse_time(s, n, &birth, &by) < 0)
        return row_bad(r, BAD_TYPE, r->col[PT_BIRTH], "BIRTHDATE is not a date (YYYY-MM-DD)");
    s = fld(r, r->col[PT_DEATH], &n);
    if (n > 0 && parse_time(s, n, &death, NULL) < 0)
        return row_bad(r, BAD_TYPE, r->col[PT_DEATH], "DEATHDATE is not a date (YYYY-MM-DD)");
    if (death != T_NONE && death < birth)
        return row_bad(r, BAD_INCONSISTENT, r->col[PT_DEATH], "DEATHDATE before BIRTHDATE");
    p->valid = 1;
    if (birth >= c->y1 || (death != T_NONE && death < c->y0))
        return 0;
    p->member = 1;
    p->alive_from = birth > c->y0 ? birth : c->y0;
    p->alive_to = c->y1;
    if (death != T_NONE) {
        /* the day of death counts as lived */
        int64_t day = death / DAY - (death % DAY < 0); /* floor, before 1970 too */
        int64_t end = (day + 1) * DAY;
        if (end < p->alive_to)
            p->alive_to = end;
    }
    p->age = c->o->year - by;
    if (p->age > 120)
        p->age = -1;

    p->race_rule = p->eth_rule = p->sex_rule = p->lang_rule = -1;
    s = fld(r, r->col[PT_GENDER], &n);
    trim(&s, &n);
    p->sex = SEX_U;
    if ((p->sex_rule = (int16_t)code_map_find(&c->map, COL_SEX, s, n)) >= 0)
        p->sex = (uint8_t)code_map_code(&c->map, COL_SEX, p->sex_rule);
    else if (ieq(s, n, "F"))
        p->sex = SEX_F;
    else if (ieq(s, n, "M"))
        p->sex = SEX_M;
    else if (n > 0)
        p->miss_sex = 1;

    s = fld(r, r->col[PT_RACE], &n);
    trim(&s, &n);
    static const struct { const char *v; int code; } races[] = {
        {"white", RACE_WHITE}, {"black", RACE_BLACK}, {"asian", RACE_ASIAN},
        {"native", RACE_AIAN}, {"hawaiian", RACE_NHPI}, {"other", RACE_OTHER},
    };
    p->race = RACE_UNKNOWN;
    p->miss_race = n > 0;
    if ((p->race_rule = (int16_t)code_map_find(&c->map, COL_RACE, s, n)) >= 0) {
        p->race = (uint8_t)code_map_code(&c->map, COL_RACE, p->race_rule);
        p->miss_race = 0;
    }
    for (size_t i = 0; p->race_rule < 0 && i < sizeof races / sizeof races[0]; i++)
        if (ieq(s, n, races[i].v)) {
            p->race = (uint8_t)races[i].code;
            p->miss_race = 0;
        }

    s = fld(r, r->col[PT_ETH], &n);
    trim(&s, &n);
    p->eth = ETH_UNKNOWN;
    if ((p->eth_rule = (int16_t)code_map_find(&c->map, COL_ETHNICITY, s, n)) >= 0)
        p->eth = (uint8_t)code_map_code(&c->map, COL_ETHNICITY, p->eth_rule);
    else if (ieq(s, n, "hispanic"))
        p->eth = ETH_HISPANIC;
    else if (ieq(s, n, "nonhispanic"))
        p->eth = ETH_NOT_HISPANIC;
    else if (n > 0)
        p->miss_eth = 1;

    patient_county(r, p);
    return 0;
}

static int patients_header_state(struct reader *r)
{
    if (patients_header(r) < 0)
        return -1;
    r->c->state_col = col_find(r, "STATE");
    return 0;
}

/* ---- payer_transitions.csv ----------------------------------------------- */

enum { TR_PATIENT, TR_PAYER, TR_START, TR_END };

static int transitions_header(struct reader *r)
{
    static const char *const need[] = {"PATIENT", "PAYER"};
    if (cols_need(r, need, 2) < 0)
        return -1;
    r->col[TR_START] = col_find(r, "START_DATE");
    r->col[TR_END] = col_find(r, "END_DATE");
    if (r->col[TR_START] < 0 || r->col[TR_END] < 0) {
        r->col[TR_START] = col_find(r, "START_YEAR");
        r->col[TR_END] = col_find(r, "END_YEAR");
    }
    if (r->col[TR_START] < 0)
        return fatal(r->c, "%s:1: missing required column START_DATE (or START_YEAR)", r->path);
    if (r->col[TR_END] < 0)
        return fatal(r->c, "%s:1: missing required column END_DATE (or END_YEAR)", r->path);
    return 0;
}

static int transitions_row(struct reader *r)
{
    struct ctx *c = r->c;
    int stop;
    struct pat *p = row_patient(r, r->col[TR_PATIENT], &stop);
    if (!p)
        return stop ? -1 : 0;
    size_t n;
    const char *s = fld(r, r->col[TR_START], &n);
    int64_t start, end = T_OPEN;
    if (parse_bound(s, n, 0, &start) < 0)
        return row_bad(r, BAD_TYPE, r->col[TR_START], "%s is not a date or a year",
                       r->hdr[r->col[TR_START]]);
    s = fld(r, r->col[TR_END], &n);
    if (n > 0 && parse_bound(s, n, 1, &end) < 0)
        return row_bad(r, BAD_TYPE, r->col[TR_END], "%s is not a date or a year",
                       r->hdr[r->col[TR_END]]);
    if (end < start)
        return row_bad(r, BAD_INCONSISTENT, r->col[TR_END], "%s before %s",
                       r->hdr[r->col[TR_END]], r->hdr[r->col[TR_START]]);
    const char *pid = fld(r, r->col[TR_PAYER], &n);
    const struct payer *py = NULL;
    for (size_t i = 0; i < c->npayers; i++)
        if (c->payers[i].idlen == n && memcmp(c->payers[i].id, pid, n) == 0)
            py = &c->payers[i];
    if (!py)
        return row_bad(r, BAD_INCONSISTENT, r->col[TR_PAYER],
                       "PAYER is empty or not in payers.csv");
    int64_t a = start > p->alive_from ? start : p->alive_from;
    int64_t b = end < p->alive_to ? end : p->alive_to;
    if (b > a)
        p->cov[py->code] += b - a;
    return 0;
}

/* ---- encounters.csv ------------------------------------------------------ */

enum { EN_START, EN_STOP, EN_PATIENT, EN_CLASS, EN_COST };

static int encounters_header(struct reader *r)
{
    static const char *const need[] = {"START", "STOP", "PATIENT", "ENCOUNTERCLASS",
                                       "TOTAL_CLAIM_COST"};
    return cols_need(r, need, 5);
}

static int encounters_row(struct reader *r)
{
    struct ctx *c = r->c;
    int stop;
    struct pat *p = row_patient(r, r->col[EN_PATIENT], &stop);
    if (!p)
        return stop ? -1 : 0;
    size_t n;
    const char *s = fld(r, r->col[EN_START], &n);
    int64_t start, end;
    if (parse_time(s, n, &start, NULL) < 0)
        return row_bad(r, BAD_TYPE, r->col[EN_START], "START is not a date or timestamp");
    if (start < c->y0 || start >= c->y1)
        return 0;
    s = fld(r, r->col[EN_COST], &n);
    int64_t cost = 0;
    if (n > 0) {
        /* amounts are record-level values: never quoted. Whole cents. */
        cell_i128 v = 0;
        int prc = cells_parse_scaled(s, n, 2, 0, &v);
        if (prc == -2)
            return row_bad(r, BAD_TYPE, r->col[EN_COST],
                           "TOTAL_CLAIM_COST has more than 2 decimals (whole cents)");
        if (prc == -1)
            return row_bad(r, BAD_TYPE, r->col[EN_COST], "TOTAL_CLAIM_COST is not a number");
        if (v < 0)
            return row_bad(r, BAD_RANGE, r->col[EN_COST], "TOTAL_CLAIM_COST is negative");
        if (prc == -3 || v > RECORD_MAX_COST_CENTS - p->cost)
            return row_bad(r, BAD_RANGE, r->col[EN_COST],
                           "TOTAL_CLAIM_COST takes the member's cost above 1e10");
        cost = (int64_t)v;
    }
    const char *cl = fld(r, r->col[EN_CLASS], &n);
    trim(&cl, &n);
    if (ieq(cl, n, "inpatient")) {
        s = fld(r, r->col[EN_STOP], &n);
        end = start;
        if (n > 0 && parse_time(s, n, &end, NULL) < 0)
            return row_bad(r, BAD_TYPE, r->col[EN_STOP], "STOP is not a date or timestamp");
        if (end < start)
            return row_bad(r, BAD_INCONSISTENT, r->col[EN_STOP], "STOP before START");
        if (p->nstays == p->capstays) {
            uint32_t cap = p->capstays ? p->capstays * 2 : 4;
            struct stay *st = realloc(p->stays, cap * sizeof *st);
            if (!st)
                return fatal(c, "out of memory");
            p->stays = st;
            p->capstays = cap;
        }
        p->stays[p->nstays].start = start;
        p->stays[p->nstays].stop = end;
        p->nstays++;
    } else if (ieq(cl, n, "emergency")) {
        p->ed++;
    } else if (ieq(cl, n, "wellness")) {
        p->wellness = 1;
    } else if (ieq(cl, n, "ambulatory") || ieq(cl, n, "outpatient")) {
        p->pc++;
    } else if (ieq(cl, n, "virtual")) {
        p->tele++;
    }
    /* Other classes (urgentcare, home, hospice, snf, ...) count for cost only. */
    p->cost += cost;
    return 0;
}

/* ---- conditions.csv ------------------------------------------------------ */

enum { CO_START, CO_STOP, CO_PATIENT, CO_CODE };

static int conditions_header(struct reader *r)
{
    static const char *const need[] = {"START", "STOP", "PATIENT", "CODE"};
    return cols_need(r, need, 4);
}

static int conditions_row(struct reader *r)
{
    struct ctx *c = r->c;
    size_t n;
    const char *code = fld(r, r->col[CO_CODE], &n);
    trim(&code, &n);
    int diab = ieq(code, n, "44054006");
    int htn = ieq(code, n, "59621000") || ieq(code, n, "38341003");
    uint32_t ccc = c->o->ccc ? ccc_classify(c->o->ccc, code, n) : 0;
    if (!diab && !htn && !ccc)
        return 0;
    int stop;
    struct pat *p = row_patient(r, r->col[CO_PATIENT], &stop);
    if (!p)
        return stop ? -1 : 0;
    int64_t start, end = T_OPEN;
    const char *s = fld(r, r->col[CO_START], &n);
    if (parse_time(s, n, &start, NULL) < 0)
        return row_bad(r, BAD_TYPE, r->col[CO_START], "START is not a date");
    s = fld(r, r->col[CO_STOP], &n);
    if (n > 0 && parse_time(s, n, &end, NULL) < 0)
        return row_bad(r, BAD_TYPE, r->col[CO_STOP], "STOP is not a date");
    if (start < c->y1 && end >= c->y0) {
        if (diab)
            p->diabetes = 1;
        if (htn)
            p->htn = 1;
        p->ccc |= ccc;
    }
    return 0;
}

/* ---- observations.csv ---------------------------------------------------- */

enum { OB_DATE, OB_PATIENT, OB_CODE, OB_VALUE };

static int observations_header(struct reader *r)
{
    static const char *const need[] = {"DATE", "PATIENT", "CODE", "VALUE"};
    return cols_need(r, need, 4);
}

/* Positive PRAPARE answers, by item (Synthea's answer texts):
 *   71802-3 housing situation: "I do not have housing..." (not "I have
 *           housing", not "I choose not to answer")            -> housing
 *   93033-9 worried about losing housing: "Yes"                -> housing
 *   93031-3 unable to get when needed: "Food"                  -> food
 *                                      "Utilities"             -> utilities
 *           (Clothing, Medicine, Phone, Other: no domain here)
 *   93030-5 transportation kept you from...: "Yes..."          -> transport
 *   93026-3 feel safe where you live: "No" ("Unsure" is not positive)
 *                                                               -> safety
 * Refusals ("I choose not to answer this question") are never positive. */
static void prapare_positive(struct pat *p, const char *code, size_t cn,
                             const char *v, size_t vn)
{
    if (ieq(code, cn, "71802-3")) {
        if (starts_ci(v, vn, "I do not have housing"))
            p->housing = 1;
    } else if (ieq(code, cn, "93033-9")) {
        if (ieq(v, vn, "Yes"))
            p->housing = 1;
    } else if (ieq(code, cn, "93031-3")) {
        if (ieq(v, vn, "Food"))
            p->food = 1;
        else if (ieq(v, vn, "Utilities"))
            p->utilities = 1;
    } else if (ieq(code, cn, "93030-5")) {
        if (starts_ci(v, vn, "Yes"))
            p->transport = 1;
    } else if (ieq(code, cn, "93026-3")) {
        if (ieq(v, vn, "No"))
            p->safety = 1;
    }
}

static int observations_row(struct reader *r)
{
    struct ctx *c = r->c;
    size_t cn, vn, n;
    const char *code = fld(r, r->col[OB_CODE], &cn);
    trim(&code, &cn);
    int kind = OBS_NONE;
    if (ieq(code, cn, "4548-4"))
        kind = OBS_A1C;
    else if (ieq(code, cn, "8480-6"))
        kind = OBS_SBP;
    else if (ieq(code, cn, "8462-4"))
        kind = OBS_DBP;
    else
        for (size_t i = 0; i < sizeof prapare_codes / sizeof prapare_codes[0]; i++)
            if (ieq(code, cn, prapare_codes[i]))
                kind = OBS_PRAPARE;
    if (kind == OBS_NONE)
        return 0;
    int stop;
    struct pat *p = row_patient(r, r->col[OB_PATIENT], &stop);
    if (!p)
        return stop ? -1 : 0;
    int64_t t;
    const char *s = fld(r, r->col[OB_DATE], &n);
    if (parse_time(s, n, &t, NULL) < 0)
        return row_bad(r, BAD_TYPE, r->col[OB_DATE], "DATE is not a date or timestamp");
    if (t < c->y0 || t >= c->y1)
        return 0;
    const char *v = fld(r, r->col[OB_VALUE], &vn);
    trim(&v, &vn);
    if (kind == OBS_PRAPARE) {
        p->screened = 1;
        prapare_positive(p, code, cn, v, vn);
        if (ieq(code, cn, "54899-0") && t >= p->lang_t) {
            p->lang_t = t;
            p->lang = LANG_UNKNOWN;
            p->lang_miss = vn > 0;
            p->lang_rule = (int16_t)code_map_find(&c->map, COL_LANGUAGE, v, vn);
            if (p->lang_rule >= 0) {
                p->lang = (uint16_t)code_map_code(&c->map, COL_LANGUAGE, p->lang_rule);
                p->lang_miss = 0;
            }
            int named = p->lang_rule < 0 ? synthea_language_name(v, vn) : -1;
            if (named >= 0) {
                p->lang = (uint16_t)named;
                p->lang_miss = 0;
            }
        }
        return 0;
    }
    /* a result is a record-level value: never quoted */
    char *e;
    errno = 0;
    double x = vn > 0 ? strtod(v, &e) : 0;
    if (vn == 0 || e != v + vn || errno == ERANGE || !isfinite(x) || x < 0) {
        return row_bad(r, BAD_TYPE, r->col[OB_VALUE], "VALUE of %s is not a number",
                       kind == OBS_A1C ? "4548-4" : kind == OBS_SBP ? "8480-6" : "8462-4");
    }
    /* the most recent wins; on equal times the later row */
    if (kind == OBS_A1C && t >= p->a1c_t) {
        p->a1c_t = t;
        p->a1c = x;
    } else if (kind == OBS_SBP && t >= p->sbp_t) {
        p->sbp_t = t;
        p->sbp = x;
    } else if (kind == OBS_DBP && t >= p->dbp_t) {
        p->dbp_t = t;
        p->dbp = x;
    }
    return 0;
}

/* ---- Building the records ------------------------------------------------ */

static uint32_t readmissions(const struct pat *p)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < p->nstays; i++)
        for (uint32_t j = 0; j < p->nstays; j++) {
            if (j == i)
                continue;
            int64_t gap = p->stays[j].start - p->stays[i].stop;
            if (gap >= 0 && gap <= 30 * DAY) {
                k++;
                break;
            }
        }
    return k;
}

static void build_record(const struct ctx *c, const struct pat *p, int has_obs,
                         struct member_record *m)
{
    memset(m, 0, sizeof *m);
    m->age = (int16_t)p->age;
    m->sex = p->sex;
    m->race = p->race;
    m->ethnicity = p->eth;
    m->disability = YNU_U;
    m->cmc = YNU_U;
    if (c->o->ccc && p->age >= 0 && p->age < CCC_AGE_LIMIT)
        m->cmc = p->ccc ? YNU_Y : YNU_N;
    m->adi_decile = 0;
    m->county = p->county;
    m->language = has_obs ? p->lang : LANG_UNKNOWN;

    record_set_coverage(m, p->cov, PAYER__COUNT, p->alive_to - p->alive_from, c->y1 - c->y0);

    m->ed_visits = p->ed;
    m->ip_admits = p->nstays;
    m->ip_readmits_30d = readmissions(p);
    m->primary_care_visits = p->pc;
    m->telehealth_visits = p->tele;
    m->wellness_visit = p->wellness;
    m->diabetes = p->diabetes;
    m->hypertension = p->htn;
    m->total_cost = p->cost;
    if (has_obs) {
        m->hba1c_poor_control = p->diabetes && (p->a1c_t == T_NONE || p->a1c > 9.0);
        m->bp_controlled = p->htn && p->sbp_t != T_NONE && p->dbp_t != T_NONE &&
                           p->sbp < 140.0 && p->dbp < 90.0;
        m->hrsn_screened = p->screened;
        m->hrsn_food = p->food;
        m->hrsn_housing = p->housing;
        m->hrsn_transport = p->transport;
        m->hrsn_utilities = p->utilities;
        m->hrsn_safety = p->safety;
    }
}

/* Coded columns a Synthea export has: county first, as the profile lists them. */
static const int mapped_cols[] = {COL_COUNTY, COL_RACE, COL_ETHNICITY, COL_SEX, COL_LANGUAGE, COL_PAYER};

static int add_rules(struct ctx *c)
{
    const struct synthea_options *o = c->o;
    char e[200];
    if (code_map_init_split(&c->map, o->rules, o->n_rules, o->county_rules, o->n_county_rules,
                            mapped_cols, sizeof mapped_cols / sizeof mapped_cols[0], c->prof, e,
                            sizeof e) != 0)
        return fatal(c, "synthea: %s", e);
    return 0;
}

int synthea_read(const char *dir, const struct synthea_options *o,
                 record_sink_fn sink, void *sink_ctx, struct profile *prof,
                 char *err, size_t errlen)
{
    struct ctx c;
    int rc = -1, has_obs = 0;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.prof = prof;
    c.err = err;
    c.errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
    if (!dir || !o || !sink || !prof) {
        fatal(&c, "synthea: missing argument");
        goto out;
    }
    if (o->year < 1900 || o->year > 2200) {
        fatal(&c, "synthea: year %d out of range 1900..2200", o->year);
        goto out;
    }
    c.y0 = record_days_from_civil(o->year, 1, 1) * DAY;
    c.y1 = record_days_from_civil(o->year + 1, 1, 1) * DAY;
    snprintf(prof->source, sizeof prof->source, "%s", dir);
    snprintf(prof->period_seen, sizeof prof->period_seen, "%d", o->year);
    if (add_rules(&c) < 0)
        goto out;

    c.state_col = -1;
    if (read_file(&c, dir, "payers.csv", 0, payers_header, payers_row) != 0 ||
        read_file(&c, dir, "patients.csv", 0, patients_header_state, patients_row) != 0 ||
        read_file(&c, dir, "payer_transitions.csv", 0, transitions_header, transitions_row) != 0 ||
        read_file(&c, dir, "encounters.csv", 0, encounters_header, encounters_row) != 0 ||
        read_file(&c, dir, "conditions.csv", 0, conditions_header, conditions_row) != 0)
        goto out;
    int orc = read_file(&c, dir, "observations.csv", 1, observations_header, observations_row);
    if (orc < 0)
        goto out;
    has_obs = orc == 0;

    prof->unavailable_measures |= 1u << M_NO_SHOW | 1u << M_EXPERIENCE;
    if (has_obs) {
        snprintf(prof->unavailable_why, sizeof prof->unavailable_why,
                 "Synthea exports have no appointments (no_show) and no patient "
                 "experience survey (experience)");
    } else {
        for (int m = M_HRSN_SCREENING; m <= M_HRSN_ANY; m++)
            prof->unavailable_measures |= 1u << m;
        prof->unavailable_measures |= 1u << M_DIABETES_POOR_CONTROL | 1u << M_BP_CONTROL;
        snprintf(prof->unavailable_why, sizeof prof->unavailable_why,
                 "Synthea exports have no appointments (no_show) and no experience "
                 "survey; without observations.csv there are no HbA1c, blood pressure "
                 "or PRAPARE screening results (diabetes_poor_control, bp_control, hrsn_*)");
    }

    for (size_t i = 0; i < c.npats; i++) {
        const struct pat *p = &c.pats[i];
        if (!p->valid || !p->member)
            continue;
        struct member_record m;
        build_record(&c, p, has_obs, &m);
        prof->map_misses[COL_RACE] += p->miss_race;
        prof->map_misses[COL_ETHNICITY] += p->miss_eth;
        prof->map_misses[COL_SEX] += p->miss_sex;
        prof->map_misses[COL_COUNTY] += p->miss_county;
        if (has_obs)
            prof->map_misses[COL_LANGUAGE] += p->lang_miss;
        code_map_hit(&c.map, COL_COUNTY, p->county_rule);
        const struct { int col; int rule; } used[] = {
            {COL_RACE, p->race_rule}, {COL_ETHNICITY, p->eth_rule}, {COL_SEX, p->sex_rule},
            {COL_LANGUAGE, has_obs ? p->lang_rule : -1}};
        for (size_t k = 0; k < sizeof used / sizeof used[0]; k++)
            code_map_hit(&c.map, used[k].col, used[k].rule);
        if (o->ccc)
            profile_count_ccc(prof, m.cmc, p->ccc);
        prof->rows_accepted++;
        sink(sink_ctx, &m, +1);
    }
    rc = 0;
out:
    for (size_t i = 0; i < c.npats; i++) {
        free(c.pats[i].id);
        free(c.pats[i].stays);
    }
    free(c.pats);
    free(c.hash);
    for (size_t i = 0; i < c.npayers; i++)
        free(c.payers[i].id);
    free(c.payers);
    code_map_free(&c.map);
    return rc;
}
