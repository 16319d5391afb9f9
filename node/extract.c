/*
 * extract.c - the streaming reader of the member-level extract CSV
 * (extract.md; API in extract.h).
 *
 * How it reads fast and stays small:
 * - The file is read in 4 MiB blocks (pread, or gzread for gzip detected by
 *   its magic bytes) into one buffer per worker and tokenised in place: an
 *   SSE2 scan finds the bytes that matter (',' '\n' '"' NUL) 64 at a time;
 *   fields are (offset, length) spans; "" escapes are undone in place only
 *   for fields that are used. Numbers are parsed by hand (plain counts and
 *   0/1 flags inline); standard codes are found with one probe of a
 *   perfect-hash table.
 * - Member-id fingerprints are inserted into the set in batches sorted by
 *   hash with prefetching, so the set's cache misses overlap (batch_flush).
 * - A plain file is cut into one byte range per worker at line starts; each
 *   worker reads the records that start in its range. A quoted field may
 *   hold a newline, so a cut can land inside a record: after the workers
 *   finish, the reader checks that each worker ended exactly where the next
 *   one started. If not (only possible with quoted newlines near a cut), the
 *   records of every worker are taken back (sign -1, by re-reading the same
 *   ranges the same way) and the file is read again with one worker.
 * - Duplicate member ids: each worker keeps a memberset of id fingerprints.
 *   A row whose fingerprint is already in its worker's set is held back
 *   (not given to the sink); after all workers finish, fingerprints present
 *   in two workers' sets are suspects too. If there is any suspect, one more
 *   streaming pass compares the exact ids of the suspect rows only: the
 *   first row of an id by line number is kept (a held one is given to the
 *   sink now), later ones are rejected as duplicates (a row already given
 *   is taken back with sign -1). The result does not depend on timing.
 *
 * Line numbers are physical lines (a quoted newline counts), 1 = header.
 */
#include "extract.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "cells.h"
#include "catalog.h"
#include "catalog_def.h"
#include "code_map.h"
#include "log.h"
#include "memberset.h"
#include "race_detail.h"
#include "tally.h"

#define BLOCK (4u << 20)
#define MAX_LINE (1u << 20)
#define SLACK 64
#define BUF_CAP (BLOCK + MAX_LINE + SLACK)
#define MAX_COLS 1024
#define MIN_SPLIT (64u << 10)       /* smallest byte range worth a worker   */
#define MAX_COUNT 1000000u          /* upper bound of a count column        */
#define MAX_WORKERS 64

const char *const extract_column_names[COL__COUNT] = {
    "member_id", "period", "age", "sex", "race", "ethnicity", "language",
    "payer", "adi_decile", "disability", "cmc", "county", "member_months",
    "ed_visits", "ip_admits", "ip_readmits_30d", "primary_care_visits",
    "telehealth_visits", "scheduled_appts", "no_shows", "wellness_visit",
    "diabetes", "hba1c_poor_control", "hypertension", "bp_controlled",
    "hrsn_screened", "hrsn_food", "hrsn_housing", "hrsn_transport",
    "hrsn_utilities", "hrsn_safety", "total_cost", "experience_score"};

int extract_column_find(const char *name)
{
    for (int c = 0; c < COL__COUNT; c++)
        if (strcasecmp(extract_column_names[c], name) == 0)
            return c;
    return -1;
}

/* ---- measure availability ------------------------------------------------ */

#define MB(m) (1u << (m))
#define HRSN_ALL (MB(M_HRSN_SCREENING) | MB(M_HRSN_FOOD) | MB(M_HRSN_HOUSING) | \
                  MB(M_HRSN_TRANSPORT) | MB(M_HRSN_UTILITIES) | MB(M_HRSN_SAFETY) | \
                  MB(M_HRSN_ANY))

/* Which measures need which input column. */
static const struct { int col; uint32_t measures; } measure_needs[] = {
    {COL_ED_VISITS, MB(M_ED_RATE)},
    {COL_IP_ADMITS, MB(M_IP_RATE) | MB(M_READMIT_30D)},
    {COL_IP_READMITS_30D, MB(M_READMIT_30D)},
    {COL_PRIMARY_CARE_VISITS, MB(M_TELEHEALTH_SHARE)},
    {COL_TELEHEALTH_VISITS, MB(M_TELEHEALTH_SHARE)},
    {COL_SCHEDULED_APPTS, MB(M_NO_SHOW)},
    {COL_NO_SHOWS, MB(M_NO_SHOW)},
    {COL_WELLNESS_VISIT, MB(M_WELLNESS)},
    {COL_DIABETES, MB(M_DIABETES_POOR_CONTROL)},
    {COL_HBA1C_POOR_CONTROL, MB(M_DIABETES_POOR_CONTROL)},
    {COL_HYPERTENSION, MB(M_BP_CONTROL)},
    {COL_BP_CONTROLLED, MB(M_BP_CONTROL)},
    {COL_HRSN_SCREENED, HRSN_ALL},
    {COL_HRSN_FOOD, MB(M_HRSN_FOOD) | MB(M_HRSN_ANY)},
    {COL_HRSN_HOUSING, MB(M_HRSN_HOUSING) | MB(M_HRSN_ANY)},
    {COL_HRSN_TRANSPORT, MB(M_HRSN_TRANSPORT) | MB(M_HRSN_ANY)},
    {COL_HRSN_UTILITIES, MB(M_HRSN_UTILITIES) | MB(M_HRSN_ANY)},
    {COL_HRSN_SAFETY, MB(M_HRSN_SAFETY) | MB(M_HRSN_ANY)},
    {COL_TOTAL_COST, MB(M_COST_PMPM)},
    {COL_EXPERIENCE_SCORE, MB(M_EXPERIENCE)},
};

/* ---- identity columns (issue 13) ---------------------------------------------- */

/* Optional columns beyond extract.md, read only when the active catalog
 * tallies their stratifier (docs/catalog.md, "Identity columns"). */
enum { IDC_RACE_SOURCE, IDC_ETHNICITY_SOURCE, IDC_SEXUAL_ORIENTATION, IDC_GENDER_IDENTITY,
       IDC__COUNT };
static const struct { const char *name; int strat; int unknown; } identity_cols[IDC__COUNT] = {
    {"race_source", S_RACE_SOURCE, RSRC_UNKNOWN},
    {"ethnicity_source", S_ETHNICITY_SOURCE, RSRC_UNKNOWN},
    {"sexual_orientation", S_SEXUAL_ORIENTATION, SO_UNKNOWN},
    {"gender_identity", S_GENDER_IDENTITY, GI_UNKNOWN}};

/* ---- code tables ----------------------------------------------------------- */

/* A standard code table packed for a fast case-insensitive lookup: the
 * codes, upper-cased and packed into two words, in a direct-mapped table
 * of HSLOTS entries whose hash (a multiplier found at set-up) puts each
 * code in its own slot; one compare finds a code or says it is none. */
#define HSLOTS 64
struct codetab {
    int n;
    uint8_t len[16];
    uint64_t k0[16], k1[16];
    uint64_t mul;                 /* 0: no perfect hash found, scan      */
    int8_t slot[HSLOTS];          /* code index, -1 empty                */
};

/* Upper-cases the ASCII letters of 8 bytes at once. */
static inline uint64_t upper8(uint64_t x)
{
    const uint64_t hi = 0x8080808080808080ULL;
    uint64_t ge_a = (x | hi) - 0x6161616161616161ULL;  /* high bit: byte >= 'a' */
    uint64_t ge_z1 = (x | hi) - 0x7b7b7b7b7b7b7b7bULL; /* high bit: byte > 'z'  */
    uint64_t m = ge_a & ~ge_z1 & ~x & hi;
    return x ^ (m >> 2);
}

/* Packs up to 16 bytes, upper-cased, into two words. Reads 16 bytes from
 * p: callers pass bytes of a buffer with SLACK readable bytes after it. */
static inline void pack16(const uint8_t *p, size_t len, uint64_t *k0, uint64_t *k1)
{
    uint64_t a, b;
    memcpy(&a, p, 8);
    memcpy(&b, p + 8, 8);
    if (len < 8) {
        a &= (1ULL << (8 * len)) - 1;
        b = 0;
    } else if (len < 16) {
        b &= (1ULL << (8 * (len - 8))) - 1;
    }
    *k0 = upper8(a);
    *k1 = upper8(b);
}

static inline unsigned codetab_hash(uint64_t mul, uint64_t k0, uint64_t k1, size_t len)
{
    uint64_t x = (k0 ^ (k1 * 0x9e3779b97f4a7c15ULL) ^ len) * mul;
    return (unsigned)(x >> 58); /* HSLOTS = 64 */
}

static void codetab_init(struct codetab *t, const char *const *codes, int n)
{
    t->n = n;
    for (int i = 0; i < n; i++) {
        uint8_t tmp[16] = {0};
        t->len[i] = (uint8_t)strlen(codes[i]);
        memcpy(tmp, codes[i], t->len[i]);
        pack16(tmp, t->len[i], &t->k0[i], &t->k1[i]);
    }
    /* Find a multiplier that gives every code its own slot. */
    uint64_t mul = 0xd6e8feb86659fd93ULL;
    t->mul = 0;
    for (int attempt = 0; attempt < 1000 && !t->mul; attempt++) {
        int ok = 1;
        memset(t->slot, -1, sizeof t->slot);
        for (int i = 0; i < n && ok; i++) {
            unsigned h = codetab_hash(mul, t->k0[i], t->k1[i], t->len[i]);
            if (t->slot[h] >= 0)
                ok = 0;
            else
                t->slot[h] = (int8_t)i;
        }
        if (ok)
            t->mul = mul;
        mul = mul * 6364136223846793005ULL + 1442695040888963407ULL;
        mul |= 1;
    }
}

static inline int codetab_find(const struct codetab *t, const uint8_t *p, size_t len)
{
    if (len > 16 || len == 0)
        return -1;
    uint64_t k0, k1;
    pack16(p, len, &k0, &k1);
    if (t->mul) {
        int i = t->slot[codetab_hash(t->mul, k0, k1, len)];
        return i >= 0 && t->len[i] == len && t->k0[i] == k0 && t->k1[i] == k1 ? i : -1;
    }
    for (int i = 0; i < t->n; i++)
        if (t->len[i] == len && t->k0[i] == k0 && t->k1[i] == k1)
            return i;
    return -1;
}

struct crule {
    const char *from;
    size_t flen;
    int code;         /* resolved standard code                     */
    int prof_index;   /* index in the profile's map_rules            */
};

/* ---- the reader (shared, read-only while workers run) ---------------------- */

struct reader {
    const char *path;
    const struct extract_options *opts;
    int fd;
    int is_gz;
    uint64_t file_size;     /* plain files: bytes; gzip: UINT64_MAX          */
    uint64_t data_start;    /* offset of the first data row                  */
    uint64_t header_lines;  /* physical lines of the header                  */
    int ncols;              /* fields in the header                          */
    int filecol[COL__COUNT];/* canonical column -> file field index, or -1   */
    /* A file catalog (catalog_def.h): its flag columns and, per measure,
     * the columns its population and its numbers read. */
    const struct catalog *cat;
    int nflags;
    int flagcol[CATALOG_MAX_FLAGS]; /* file field index, or -1              */
    uint64_t mfilter_cols[CATALOG_MAX_MEASURES], mvalue_cols[CATALOG_MAX_MEASURES];
    char hname[COL__COUNT][40];
    struct codetab tab_sex, tab_race, tab_eth, tab_payer, tab_ynu;
    struct crule *rules[COL__COUNT];
    int nrules[COL__COUNT];
    /* The active file catalog's map.LOCAL = CODE entries of the stratifier
     * that reads column c (docs/catalog.md): after the node's own rules,
     * before the standard codes. They point into the catalog. */
    struct crule cmaps[COL__COUNT][CAT_MAX_MAPS];
    int ncmaps[COL__COUNT];
    /* The optional race_detail column (docs/catalog.md): read only with a
     * catalog that defines race_detail, race_group or race_aic. */
    int rdcol;              /* file field index, or -1                       */
    struct race_detail_maps rdmaps; /* the catalog's map.LOCAL = CODE of race_detail */
    size_t total_rules;
    /* Identity columns (identity_cols below): file field index, or -1 when
     * absent or not tallied; the catalog's map. entries of each. */
    int idcol[IDC__COUNT];
    struct crule idmaps[IDC__COUNT][CAT_MAX_MAPS];
    int nidmaps[IDC__COUNT];
    const char *period;     /* asked period or NULL                          */
    size_t period_len;
    atomic_uint_fast64_t progress_bytes;
    atomic_int progress_decile;
    int show_progress;
};

/* ---- workers ---------------------------------------------------------------- */

enum mode { MODE_MAIN, MODE_RETRACT, MODE_VERIFY };

struct span {
    uint32_t off, len;
    uint8_t esc;
};

struct verify;

/* Rows wait in a batch for their set inserts (see batch_flush). */
#define BATCH 1024
#define SORT_BITS 12

struct pending {
    uint64_t h, off, line;
    uint64_t unk_cols;          /* empty columns of the row                    */
    int ins;                    /* memberset_insert's answer                   */
    struct member_record rec;
};

struct worker {
    struct reader *rd;
    int idx;
    enum mode mode;
    uint64_t start, end;        /* records starting in [start, end)            */
    uint64_t real_end;          /* offset after the last record read           */
    uint64_t lines;             /* physical lines consumed from start          */
    uint64_t line_base;         /* lines before start (for absolute numbers)   */
    record_sink_fn sink;
    void *sink_ctx;
    struct profile prof;        /* line numbers relative to the range start    */
    memberset_t *set;
    size_t set_expected;
    uint64_t *held;             /* absolute offsets of held rows, increasing   */
    size_t nheld, capheld;
    uint64_t *susp;             /* hashes of the held rows                     */
    size_t nsusp, capsusp;
    uint64_t accepted;          /* records given to the sink with +1           */
    char period[32];
    size_t period_len;
    uint64_t period_line;       /* relative line of the first period row       */
    int fatal;
    uint64_t err_line;          /* relative                                    */
    int err_col;
    char errmsg[400];
    struct verify *vf;
    /* per-record state */
    uint8_t *buf;
    size_t bufcap;
    struct span *f;
    int nf;
    uint64_t line;              /* relative line of the current record         */
    uint64_t rec_off;           /* absolute offset of the current record       */
    uint64_t unk_cols;          /* empty columns of the current record         */
    struct pending *batch;      /* rows waiting for their set insert (BATCH)   */
    uint32_t *order;            /* batch indices in hash order (BATCH)         */
    size_t nbatch;
    /* Workers sit side by side in one array: keep one worker's per-row
     * writes off the cache lines the next one reads (false sharing). */
    char pad[128];
};

/* Exact ids of suspect rows, for the verification pass. */
struct idslot {
    uint64_t h;
    char *id;
    size_t len;
};

struct verify {
    uint64_t *susp;             /* sorted fingerprint prefixes                 */
    size_t nsusp;
    unsigned fbits;
    const uint64_t *held;       /* sorted absolute offsets                     */
    size_t nheld;
    struct idslot *ids;
    size_t nids, capids;
    struct worker *workers;     /* the main-pass workers (sinks, ranges)       */
    int nworkers;
    void **sinks;
    struct profile *main;       /* BAD_DUPLICATE rejects go here               */
    int64_t accepted_delta;
    int oom;
};

/* ---- small helpers ------------------------------------------------------------ */

/* Quotes a value for a message: at most 40 bytes, non-printables escaped. */
static void quote_value(char *dst, size_t n, const uint8_t *p, size_t len)
{
    size_t o = 0;
    size_t lim = len > 40 ? 40 : len;
    for (size_t i = 0; i < lim && o + 5 < n; i++) {
        uint8_t c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            dst[o++] = (char)c;
        } else {
            int k = snprintf(dst + o, n - o, "\\x%02x", c);
            if (k < 0)
                break;
            o += (size_t)k;
        }
    }
    if (len > lim && o + 4 < n) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o < n ? o : n - 1] = '\0';
}

static int push_u64(uint64_t **a, size_t *n, size_t *cap, uint64_t v)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        uint64_t *na = realloc(*a, nc * sizeof *na);
        if (!na)
            return -1;
        *a = na;
        *cap = nc;
    }
    (*a)[(*n)++] = v;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int bsearch_u64(const uint64_t *a, size_t n, uint64_t v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && a[lo] == v;
}

/* ---- the scanner: positions of ',' '\n' '"' and NUL --------------------------- */

struct scan {
    const uint8_t *b;
    size_t blk, end;
    uint64_t mask;  /* specials of the 64 bytes at blk not yet returned */
};

static inline uint32_t special16(const uint8_t *p)
{
#ifdef __SSE2__
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i m = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(',')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'))),
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_setzero_si128())));
    return (uint32_t)_mm_movemask_epi8(m);
#else
    uint32_t m = 0;
    for (int i = 0; i < 16; i++)
        if (p[i] == ',' || p[i] == '\n' || p[i] == '"' || p[i] == 0)
            m |= 1u << i;
    return m;
#endif
}

/* 64 bytes at a time (reads up to 63 bytes past `end`: callers' buffers
 * have SLACK readable bytes after the data; those bytes are masked off). */
static inline uint64_t special64(const uint8_t *p)
{
    return (uint64_t)special16(p) | (uint64_t)special16(p + 16) << 16 |
           (uint64_t)special16(p + 32) << 32 | (uint64_t)special16(p + 48) << 48;
}

static inline uint64_t limit64(size_t blk, size_t end)
{
    size_t left = end - blk;
    return left >= 64 ? ~0ULL : ((1ULL << left) - 1);
}

static inline void scan_init(struct scan *s, const uint8_t *b, size_t pos, size_t end)
{
    s->b = b;
    s->blk = pos;
    s->end = end;
    s->mask = pos < end ? special64(b + pos) & limit64(pos, end) : 0;
}

static inline size_t scan_next(struct scan *s)
{
    while (!s->mask) {
        s->blk += 64;
        if (s->blk >= s->end)
            return s->end;
        s->mask = special64(s->b + s->blk) & limit64(s->blk, s->end);
    }
    unsigned bit = (unsigned)__builtin_ctzll(s->mask);
    s->mask &= s->mask - 1;
    return s->blk + bit;
}

/* ---- the tokenizer: one record ------------------------------------------------ */

enum { REC_DONE, REC_MORE, REC_FATAL };
enum { TERR_NONE, TERR_BINARY, TERR_OPEN_QUOTE };

struct tok {
    struct span *f;
    int cap;        /* spans available                               */
    int nf;         /* fields seen (may exceed cap)                  */
    int qerr;       /* 1-based field with a quoting error, 0 if none */
    uint32_t nl;    /* newlines consumed                             */
    size_t next;    /* offset after the record                       */
    int blank;      /* empty line                                    */
    int err;        /* TERR_* when REC_FATAL                         */
};

static inline void add_field(struct tok *t, size_t off, size_t len, int esc)
{
    if (t->nf < t->cap) {
        t->f[t->nf].off = (uint32_t)off;
        t->f[t->nf].len = (uint32_t)len;
        t->f[t->nf].esc = (uint8_t)esc;
    }
    t->nf++;
}

/* Tokenizes the record starting at b[pos] (data up to b[end]). REC_MORE when
 * the record does not end before `end` and more data may come. */
static int tokenize(const uint8_t *b, size_t pos, size_t end, int eof, struct tok *t)
{
    struct scan sc;
    size_t fs = pos, s;
    t->nf = 0;
    t->qerr = 0;
    t->nl = 0;
    t->blank = 0;
    t->err = TERR_NONE;
    scan_init(&sc, b, pos, end);
    for (;;) {
        if (fs < end && b[fs] == '"') {
            scan_next(&sc); /* the opening quote */
            int esc = 0;
            for (;;) {
                s = scan_next(&sc);
                if (s >= end) {
                    if (!eof)
                        return REC_MORE;
                    t->err = TERR_OPEN_QUOTE;
                    return REC_FATAL;
                }
                uint8_t c = b[s];
                if (c == '\n') {
                    t->nl++;
                    continue;
                }
                if (c == ',')
                    continue;
                if (c == 0) {
                    t->err = TERR_BINARY;
                    return REC_FATAL;
                }
                if (s + 1 >= end) {
                    if (!eof)
                        return REC_MORE;
                    add_field(t, fs + 1, s - fs - 1, esc);
                    t->next = end;
                    return REC_DONE;
                }
                if (b[s + 1] == '"') {
                    esc = 1;
                    scan_next(&sc);
                    continue;
                }
                break;
            }
            add_field(t, fs + 1, s - fs - 1, esc);
            uint8_t d = b[s + 1];
            if (d == ',') {
                scan_next(&sc);
                fs = s + 2;
                continue;
            }
            if (d == '\n') {
                scan_next(&sc);
                t->nl++;
                t->next = s + 2;
                return REC_DONE;
            }
            if (d == '\r') {
                if (s + 2 >= end) {
                    if (!eof)
                        return REC_MORE;
                    t->next = end;
                    return REC_DONE;
                }
                if (b[s + 2] == '\n') {
                    scan_next(&sc);
                    t->nl++;
                    t->next = s + 3;
                    return REC_DONE;
                }
            }
            t->qerr = t->nf;
            break; /* text after a closing quote */
        }
        s = scan_next(&sc);
        if (s >= end) {
            if (!eof)
                return REC_MORE;
            size_t len = end - fs;
            if (len && b[end - 1] == '\r')
                len--;
            if (t->nf == 0 && len == 0)
                t->blank = 1;
            add_field(t, fs, len, 0);
            t->next = end;
            return REC_DONE;
        }
        uint8_t c = b[s];
        if (c == ',') {
            add_field(t, fs, s - fs, 0);
            fs = s + 1;
            continue;
        }
        if (c == '\n') {
            size_t len = s - fs;
            if (len && b[s - 1] == '\r')
                len--;
            if (t->nf == 0 && len == 0)
                t->blank = 1;
            add_field(t, fs, len, 0);
            t->nl++;
            t->next = s + 1;
            return REC_DONE;
        }
        if (c == 0) {
            t->err = TERR_BINARY;
            return REC_FATAL;
        }
        t->qerr = t->nf + 1; /* a quote inside an unquoted field */
        break;
    }
    /* bad quoting: the record ends at the next newline, quotes ignored */
    for (;;) {
        s = scan_next(&sc);
        if (s >= end) {
            if (!eof)
                return REC_MORE;
            t->next = end;
            return REC_DONE;
        }
        if (b[s] == 0) {
            t->err = TERR_BINARY;
            return REC_FATAL;
        }
        if (b[s] == '\n') {
            t->nl++;
            t->next = s + 1;
            return REC_DONE;
        }
    }
}

/* ---- field access and parsing ---------------------------------------------------- */

/* The bytes of canonical column c of the current record (unescaped in
 * place on first use); len 0 for an absent column. */
static inline const uint8_t *field_at(struct worker *w, int fi, size_t *len);

static inline const uint8_t *field(struct worker *w, int c, size_t *len)
{
    return field_at(w, w->rd->filecol[c], len);
}

/* The same for file field fi (-1: absent). */
static inline const uint8_t *field_at(struct worker *w, int fi, size_t *len)
{
    if (fi < 0) {
        *len = 0;
        return (const uint8_t *)"";
    }
    struct span *sp = &w->f[fi];
    uint8_t *p = w->buf + sp->off;
    if (sp->esc) {
        size_t o = 0;
        for (size_t i = 0; i < sp->len; i++) {
            p[o++] = p[i];
            if (p[i] == '"' && i + 1 < sp->len && p[i + 1] == '"')
                i++;
        }
        sp->len = (uint32_t)o;
        sp->esc = 0;
    }
    /* Surrounding spaces are not part of a value (" 3" is 3, " " is empty). */
    while (sp->len && (p[0] == ' ' || p[0] == '\t')) {
        p++;
        sp->off++;
        sp->len--;
    }
    while (sp->len && (p[sp->len - 1] == ' ' || p[sp->len - 1] == '\t'))
        sp->len--;
    *len = sp->len;
    return p;
}

/* Notes that canonical column c of the current record is empty: unknown
 * (extract.md), unless the column is absent from the file altogether (then
 * its measures are unavailable, see read_header). */
static inline void note_empty(struct worker *w, int c)
{
    if (w->rd->filecol[c] >= 0)
        w->unk_cols |= 1ULL << c;
}

/* 0 ok, -1 not an integer, -2 out of [0, max]. */
static inline int parse_uint(const uint8_t *p, size_t n, uint32_t max, uint32_t *out)
{
    if (n == 0)
        return -1;
    size_t i = 0;
    int neg = 0;
    if (p[0] == '-') {
        neg = 1;
        i = 1;
        if (n == 1)
            return -1;
    }
    uint64_t v = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned)p[i] - '0';
        if (d > 9)
            return -1;
        if (v < 100000000000ULL)
            v = v * 10 + d;
    }
    if (neg)
        return v == 0 ? (*out = 0, 0) : -2;
    if (v > max)
        return -2;
    *out = (uint32_t)v;
    return 0;
}

/* A decimal number as an integer in units of 10^-decimals: digits with an
 * optional sign and point, no exponent (cells.h units: exact, so sums are
 * too). Returns 0, -1 (not a number), -2 (more than `decimals` decimals
 * that are not zeros; with round_excess they are rounded half up instead)
 * or -3 (above max, or negative and not zero). */
static int parse_fixed(const uint8_t *p, size_t n, int decimals, int round_excess, int64_t max,
                       int64_t *out)
{
    size_t i = 0;
    int neg = 0, any = 0, frac = -1, excess = 0, nexcess = 0, up = 0;
    uint64_t m = 0;
    if (n == 0)
        return -1;
    if (p[0] == '-' || p[0] == '+') {
        neg = p[0] == '-';
        i = 1;
    }
    for (; i < n; i++) {
        uint8_t c = p[i];
        if (c >= '0' && c <= '9') {
            any = 1;
            if (frac >= decimals) {
                if (nexcess++ == 0 && c >= '5')
                    up = 1;
                excess |= c != '0';
                continue;
            }
            if (frac >= 0)
                frac++;
            m = m * 10 + (uint64_t)(c - '0');
            if (m > (uint64_t)INT64_MAX / 100)
                return -3;
        } else if (c == '.' && frac < 0) {
            frac = 0;
        } else {
            return -1;
        }
    }
    if (!any)
        return -1;
    if (excess && !round_excess)
        return -2;
    for (int f = frac < 0 ? 0 : frac; f < decimals; f++) {
        m *= 10;
        if (m > (uint64_t)INT64_MAX / 100)
            return -3;
    }
    if (excess && up)
        m++;
    if ((neg && m != 0) || m > (uint64_t)max)
        return -3;
    *out = (int64_t)m;
    return 0;
}

/* ---- rejects and fatal errors ------------------------------------------------------ */

static void set_fatal(struct worker *w, uint64_t rel_line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_fatal(struct worker *w, uint64_t rel_line, int col, const char *fmt, ...)
{
    if (w->fatal)
        return;
    w->fatal = 1;
    w->err_line = rel_line;
    w->err_col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->errmsg, sizeof w->errmsg, fmt, ap);
    va_end(ap);
}

/* Rejects the current row for canonical column c (-1: the whole row).
 * `site` goes to the profile's examples, which stay on site and may quote
 * the value; `safe` names the column and the problem only, never a value:
 * in strict mode (main pass) every reason but another period is fatal, and
 * the fatal message ends up in the service's log. */
static int reject_msg(struct worker *w, bad_reason r, int c, const char *safe, const char *site)
{
    int col = c >= 0 ? w->rd->filecol[c] + 1 : 0;
    const char *fname = c >= 0 ? w->rd->hname[c] : "";
    profile_reject(&w->prof, r, w->line, col, fname, "%s", site);
    if (w->rd->opts->strict && r != BAD_PERIOD && w->mode == MODE_MAIN)
        set_fatal(w, w->line, col, "%s (%s)", safe, profile_reason_name(r));
    return -1;
}

/* reject_msg with one message that quotes no value. */
static int reject(struct worker *w, bad_reason r, int c, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int reject(struct worker *w, bad_reason r, int c, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return reject_msg(w, r, c, msg, msg);
}

static int reject_value(struct worker *w, bad_reason r, int c, const uint8_t *p, size_t len,
                        const char *what)
{
    char q[200], site[512], safe[256];
    quote_value(q, sizeof q, p, len);
    snprintf(site, sizeof site, "%s '%s' %s", w->rd->hname[c], q, what);
    snprintf(safe, sizeof safe, "%s %s", w->rd->hname[c], what);
    return reject_msg(w, r, c, safe, site);
}

/* ---- one record: validate, then dispatch -------------------------------------------- */

static int map_rule(struct worker *w, int c, const uint8_t *p, size_t len, int *code)
{
    const struct reader *rd = w->rd;
    for (int i = 0; i < rd->nrules[c]; i++) {
        const struct crule *r = &rd->rules[c][i];
        if (r->flen == len && strncasecmp(r->from, (const char *)p, len) == 0) {
            w->prof.map_rules[r->prof_index].hits++;
            *code = r->code;
            return 1;
        }
    }
    return 0;
}

static int coded(struct worker *w, int c, const struct codetab *tab, int unknown, int *out)
{
    size_t len;
    const uint8_t *p = field(w, c, &len);
    if (w->rd->nrules[c] && map_rule(w, c, p, len, out))
        return 0;
    for (int i = 0; i < w->rd->ncmaps[c]; i++) {
        const struct crule *r = &w->rd->cmaps[c][i];
        if (r->flen == len && strncasecmp(r->from, (const char *)p, len) == 0) {
            *out = r->code;
            return 0;
        }
    }
    if (len == 0) {
        *out = unknown;
        return 0;
    }
    int v = codetab_find(tab, p, len);
    if (v >= 0) {
        *out = v;
        return 0;
    }
    w->prof.map_misses[c]++;
    return reject_value(w, BAD_CODE, c, p, len, "is not a standard code or mapped value");
}

static int count_field_slow(struct worker *w, int c, uint32_t *out)
{
    size_t len;
    const uint8_t *p = field(w, c, &len);
    /* An empty count is unknown, not 0 events: the member is left out of
     * the measures that need it (unknown_of). */
    if (len == 0) {
        *out = 0;
        note_empty(w, c);
        return 0;
    }
    int r = parse_uint(p, len, MAX_COUNT, out);
    if (r == -1)
        return reject_value(w, BAD_TYPE, c, p, len, "is not a whole number");
    if (r == -2)
        return reject_value(w, BAD_RANGE, c, p, len, "is outside 0-1000000");
    return 0;
}

/* The common case inline: 1 to 6 plain digits (at most 999999, inside
 * the range); anything else goes through the full check above. */
static inline int count_field(struct worker *w, int c, uint32_t *out)
{
    int fi = w->rd->filecol[c];
    if (fi >= 0 && !w->f[fi].esc) {
        const uint8_t *p = w->buf + w->f[fi].off;
        size_t len = w->f[fi].len;
        if (len >= 1 && len <= 6) {
            uint32_t v = 0;
            size_t i = 0;
            for (; i < len; i++) {
                unsigned d = (unsigned)p[i] - '0';
                if (d > 9)
                    break;
                v = v * 10 + d;
            }
            if (i == len) {
                *out = v;
                return 0;
            }
        }
    }
    return count_field_slow(w, c, out);
}

static int flag_field_slow(struct worker *w, int c, uint8_t *out)
{
    size_t len;
    const uint8_t *p = field(w, c, &len);
    /* an empty flag is unknown, as for counts */
    if (len == 0) {
        *out = 0;
        note_empty(w, c);
        return 0;
    }
    if (len == 1 && (p[0] == '0' || p[0] == '1')) {
        *out = (uint8_t)(p[0] - '0');
        return 0;
    }
    uint32_t v;
    int r = parse_uint(p, len, 1, &v);
    if (r == 0) {
        *out = (uint8_t)v;
        return 0;
    }
    if (r == -2)
        return reject_value(w, BAD_RANGE, c, p, len, "is not 0 or 1");
    return reject_value(w, BAD_TYPE, c, p, len, "is not 0 or 1");
}

/* The common case inline: one digit 0 or 1. */
static inline int flag_field(struct worker *w, int c, uint8_t *out)
{
    int fi = w->rd->filecol[c];
    if (fi >= 0 && w->f[fi].len == 1) {
        unsigned d = (unsigned)w->buf[w->f[fi].off] - '0';
        if (d <= 1) {
            *out = (uint8_t)d;
            return 0;
        }
    }
    return flag_field_slow(w, c, out);
}

#define UNK(c) (u & (1ULL << (c)))

/* The measures a member is left out of, from the mask of its empty
 * columns: a measure needs its inputs, and a conditional input (HbA1c
 * control) only where its condition holds (diabetes = 1). */
static uint32_t unknown_of(uint64_t u, const struct member_record *r)
{
    uint32_t m = 0;
    if (!u)
        return 0;
    if (UNK(COL_ED_VISITS))
        m |= MB(M_ED_RATE);
    if (UNK(COL_IP_ADMITS))
        m |= MB(M_IP_RATE) | MB(M_READMIT_30D);
    else if (r->ip_admits > 0 && UNK(COL_IP_READMITS_30D))
        m |= MB(M_READMIT_30D);
    if (UNK(COL_PRIMARY_CARE_VISITS) || UNK(COL_TELEHEALTH_VISITS))
        m |= MB(M_TELEHEALTH_SHARE);
    if (UNK(COL_SCHEDULED_APPTS))
        m |= MB(M_NO_SHOW);
    else if (r->scheduled_appts > 0 && UNK(COL_NO_SHOWS))
        m |= MB(M_NO_SHOW);
    if (UNK(COL_WELLNESS_VISIT))
        m |= MB(M_WELLNESS);
    if (UNK(COL_DIABETES))
        m |= MB(M_DIABETES_POOR_CONTROL);
    else if (r->diabetes && UNK(COL_HBA1C_POOR_CONTROL))
        m |= MB(M_DIABETES_POOR_CONTROL);
    if (UNK(COL_HYPERTENSION))
        m |= MB(M_BP_CONTROL);
    else if (r->hypertension && UNK(COL_BP_CONTROLLED))
        m |= MB(M_BP_CONTROL);
    if (UNK(COL_HRSN_SCREENED)) {
        m |= HRSN_ALL;
    } else if (r->hrsn_screened) {
        static const int dom[][2] = {
            {COL_HRSN_FOOD, M_HRSN_FOOD}, {COL_HRSN_HOUSING, M_HRSN_HOUSING},
            {COL_HRSN_TRANSPORT, M_HRSN_TRANSPORT}, {COL_HRSN_UTILITIES, M_HRSN_UTILITIES},
            {COL_HRSN_SAFETY, M_HRSN_SAFETY}};
        for (size_t i = 0; i < sizeof dom / sizeof dom[0]; i++)
            if (UNK(dom[i][0]))
                m |= MB(dom[i][1]) | MB(M_HRSN_ANY);
    }
    if (UNK(COL_TOTAL_COST))
        m |= MB(M_COST_PMPM);
    return m;
}

/* unknown_of for a file catalog: a measure is unknown for a member when a
 * column its population reads is empty, or when the member is in the
 * population and a column its numbers read is empty (the compiled-in rule
 * above, from the definitions). */
static uint32_t unknown_of_catalog(const struct reader *rd, uint64_t u, const struct member_record *r)
{
    uint32_t m = 0;
    if (!u)
        return 0;
    const struct catalog *c = rd->cat;
    for (int q = 0; q < c->n_measures; q++) {
        if (c->m[q].absent)
            continue;
        if (u & rd->mfilter_cols[q])
            m |= MB(q);
        else if ((u & rd->mvalue_cols[q]) && tally_filter_holds(&c->filters[c->src[q].filter], r))
            m |= MB(q);
    }
    return m;
}

/* Counts an accepted (sign +1) or taken back (-1) member's empty fields
 * and the measures it is left out of. */
static void count_unknown(struct profile *p, uint64_t cols, uint32_t measures, int sign)
{
    for (int c = 0; cols && c < COL__COUNT; c++)
        if (cols & (1ULL << c))
            p->empty_fields[c] += (uint64_t)(int64_t)sign;
    for (int m = 0; measures && m < catalog_n_measures(); m++)
        if (measures & MB(m))
            p->left_out[m] += (uint64_t)(int64_t)sign;
}

/* The identity columns of the current record (docs/catalog.md): empty is
 * UNKNOWN; a value is matched against the catalog's map. entries, then the
 * codes and standard codes (catalog_identity_code), case-insensitive. A
 * value that is none of these rejects the row (BAD_CODE); the message
 * names the column, never the value (it would say who someone is). */
static int identity_fields(struct worker *w, struct member_record *r)
{
    const struct reader *rd = w->rd;
    uint8_t *dst[IDC__COUNT] = {&r->race_source, &r->ethnicity_source, &r->sexual_orientation,
                                &r->gender_identity};
    for (int i = 0; i < IDC__COUNT; i++) {
        if (rd->idcol[i] < 0)
            continue;
        size_t len;
        const uint8_t *p = field_at(w, rd->idcol[i], &len);
        int code = len == 0 ? identity_cols[i].unknown : -1;
        for (int k = 0; code < 0 && k < rd->nidmaps[i]; k++) {
            const struct crule *m = &rd->idmaps[i][k];
            if (m->flen == len && strncasecmp(m->from, (const char *)p, len) == 0)
                code = m->code;
        }
        if (code < 0)
            code = catalog_identity_code(identity_cols[i].strat, (const char *)p, len);
        if (code < 0) {
            char safe[96];
            snprintf(safe, sizeof safe, "%s is not a standard code or mapped value",
                     identity_cols[i].name);
            profile_reject(&w->prof, BAD_CODE, w->line, rd->idcol[i] + 1, identity_cols[i].name,
                           "%s", safe);
            if (rd->opts->strict && w->mode == MODE_MAIN)
                set_fatal(w, w->line, rd->idcol[i] + 1, "%s (%s)", safe,
                          profile_reason_name(BAD_CODE));
            return -1;
        }
        *dst[i] = (uint8_t)(code + 1);
    }
    return 0;
}

/* The race_detail field of the current record: responses separated by
 * ';' or '|', each a catalog map.LOCAL of race_detail, a detailed code, a
 * minimum category or a CDC code (race_detail_response). It must agree
 * with the race and ethnicity columns (race_detail_consistent); where those
 * are absent or empty they are derived from it. Messages name the column,
 * never the value. */
static int race_detail_field(struct worker *w, struct member_record *r)
{
    const struct reader *rd = w->rd;
    if (rd->rdcol < 0)
        return 0;
    size_t len;
    const uint8_t *p = field_at(w, rd->rdcol, &len);
    uint32_t det = 0;
    uint8_t min = 0;
    if (race_detail_list(&rd->rdmaps, (const char *)p, len, &det, &min) < 0) {
        char safe[160];
        snprintf(safe, sizeof safe, "race_detail has a response that is not a detailed, "
                 "minimum-category or CDC code, nor mapped");
        profile_reject(&w->prof, BAD_CODE, w->line, rd->rdcol + 1, "race_detail", "%s", safe);
        if (rd->opts->strict && w->mode == MODE_MAIN)
            set_fatal(w, w->line, rd->rdcol + 1, "%s (%s)", safe, profile_reason_name(BAD_CODE));
        return -1;
    }
    size_t rl = 0, el = 0;
    if (rd->filecol[COL_RACE] >= 0)
        field(w, COL_RACE, &rl);
    if (rd->filecol[COL_ETHNICITY] >= 0)
        field(w, COL_ETHNICITY, &el);
    int race = r->race, eth = r->ethnicity;
    const char *what = NULL;
    if (race_detail_settle(min, rl == 0, el == 0, &race, &eth, &what) < 0) {
        char safe[160];
        snprintf(safe, sizeof safe, "race_detail contradicts %s (one race reported: that "
                 "race; several: MULTI; a Hispanic response: HISPANIC)", what);
        profile_reject(&w->prof, BAD_INCONSISTENT, w->line, rd->rdcol + 1, "race_detail", "%s",
                       safe);
        if (rd->opts->strict && w->mode == MODE_MAIN)
            set_fatal(w, w->line, rd->rdcol + 1, "%s (%s)", safe,
                      profile_reason_name(BAD_INCONSISTENT));
        return -1;
    }
    r->race = (uint8_t)race;
    r->ethnicity = (uint8_t)eth;
    r->race_det = det;
    r->race_min = min;
    return 0;
}

static int validate(struct worker *w, struct member_record *r)
{
    const struct reader *rd = w->rd;
    size_t len;
    const uint8_t *p;
    int v;

    memset(r, 0, sizeof *r);
    w->unk_cols = 0;

    p = field(w, COL_AGE, &len);
    if (len == 0) {
        r->age = -1;
    } else {
        uint32_t a;
        int e = parse_uint(p, len, 120, &a);
        if (e == -1)
            return reject_value(w, BAD_TYPE, COL_AGE, p, len, "is not a whole number");
        if (e == -2)
            return reject_value(w, BAD_RANGE, COL_AGE, p, len, "is outside 0-120");
        r->age = (int16_t)a;
    }
    if (coded(w, COL_SEX, &rd->tab_sex, SEX_U, &v) < 0)
        return -1;
    r->sex = (uint8_t)v;
    if (coded(w, COL_RACE, &rd->tab_race, RACE_UNKNOWN, &v) < 0)
        return -1;
    r->race = (uint8_t)v;
    if (coded(w, COL_ETHNICITY, &rd->tab_eth, ETH_UNKNOWN, &v) < 0)
        return -1;
    r->ethnicity = (uint8_t)v;
    if (race_detail_field(w, r) < 0)
        return -1;

    p = field(w, COL_LANGUAGE, &len);
    if (rd->nrules[COL_LANGUAGE] && map_rule(w, COL_LANGUAGE, p, len, &v)) {
        r->language = (uint16_t)v;
    } else if (len == 0) {
        r->language = LANG_UNKNOWN;
    } else {
        v = record_lang_pack((const char *)p, (int)(len > 8 ? 8 : len));
        if (v < 0) {
            w->prof.map_misses[COL_LANGUAGE]++;
            return reject_value(w, BAD_CODE, COL_LANGUAGE, p, len,
                                "is not an ISO 639-3 code or mapped value");
        }
        r->language = (uint16_t)v;
    }

    if (coded(w, COL_PAYER, &rd->tab_payer, PAYER_UNKNOWN, &v) < 0)
        return -1;
    r->payer = (uint8_t)v;

    p = field(w, COL_ADI_DECILE, &len);
    if (len == 0) {
        r->adi_decile = 0;
    } else {
        uint32_t a;
        int e = parse_uint(p, len, 10, &a);
        if (e == -1)
            return reject_value(w, BAD_TYPE, COL_ADI_DECILE, p, len, "is not a whole number");
        if (e == -2 || a < 1)
            return reject_value(w, BAD_RANGE, COL_ADI_DECILE, p, len, "is outside 1-10");
        r->adi_decile = (uint8_t)a;
    }
    if (coded(w, COL_DISABILITY, &rd->tab_ynu, YNU_U, &v) < 0)
        return -1;
    r->disability = (uint8_t)v;
    if (coded(w, COL_CMC, &rd->tab_ynu, YNU_U, &v) < 0)
        return -1;
    r->cmc = (uint8_t)v;

    p = field(w, COL_COUNTY, &len);
    if (rd->nrules[COL_COUNTY] && map_rule(w, COL_COUNTY, p, len, &v)) {
        r->county = v;
    } else if (len == 0) {
        r->county = COUNTY_UNKNOWN;
    } else {
        int32_t cty = 0;
        int ok = len == 5;
        for (size_t i = 0; ok && i < 5; i++) {
            unsigned d = (unsigned)p[i] - '0';
            ok = d <= 9;
            cty = cty * 10 + (int32_t)d;
        }
        if (!ok) {
            w->prof.map_misses[COL_COUNTY]++;
            return reject_value(w, BAD_CODE, COL_COUNTY, p, len,
                                "is not a 5-digit FIPS code or mapped value");
        }
        r->county = cty;
    }

    p = field(w, COL_MEMBER_MONTHS, &len);
    if (len == 0)
        return reject(w, BAD_TYPE, COL_MEMBER_MONTHS, "%s is empty",
                      rd->hname[COL_MEMBER_MONTHS]);
    /* exact to 1/10000 month; more decimals are rounded (half up) */
    int64_t fx = 0;
    int prc = parse_fixed(p, len, CELL_MONTHS_DECIMALS, 1, RECORD_MAX_MONTHS, &fx);
    if (prc == -3)
        return reject_value(w, BAD_RANGE, COL_MEMBER_MONTHS, p, len, "is outside 0-12");
    if (prc < 0)
        return reject_value(w, BAD_TYPE, COL_MEMBER_MONTHS, p, len, "is not a number");
    r->member_months = (int32_t)fx;

    if (count_field(w, COL_ED_VISITS, &r->ed_visits) < 0 ||
        count_field(w, COL_IP_ADMITS, &r->ip_admits) < 0 ||
        count_field(w, COL_IP_READMITS_30D, &r->ip_readmits_30d) < 0 ||
        count_field(w, COL_PRIMARY_CARE_VISITS, &r->primary_care_visits) < 0 ||
        count_field(w, COL_TELEHEALTH_VISITS, &r->telehealth_visits) < 0 ||
        count_field(w, COL_SCHEDULED_APPTS, &r->scheduled_appts) < 0 ||
        count_field(w, COL_NO_SHOWS, &r->no_shows) < 0)
        return -1;
    if (flag_field(w, COL_WELLNESS_VISIT, &r->wellness_visit) < 0 ||
        flag_field(w, COL_DIABETES, &r->diabetes) < 0 ||
        flag_field(w, COL_HBA1C_POOR_CONTROL, &r->hba1c_poor_control) < 0 ||
        flag_field(w, COL_HYPERTENSION, &r->hypertension) < 0 ||
        flag_field(w, COL_BP_CONTROLLED, &r->bp_controlled) < 0 ||
        flag_field(w, COL_HRSN_SCREENED, &r->hrsn_screened) < 0 ||
        flag_field(w, COL_HRSN_FOOD, &r->hrsn_food) < 0 ||
        flag_field(w, COL_HRSN_HOUSING, &r->hrsn_housing) < 0 ||
        flag_field(w, COL_HRSN_TRANSPORT, &r->hrsn_transport) < 0 ||
        flag_field(w, COL_HRSN_UTILITIES, &r->hrsn_utilities) < 0 ||
        flag_field(w, COL_HRSN_SAFETY, &r->hrsn_safety) < 0)
        return -1;

    /* an empty total_cost is unknown, like an empty count */
    p = field(w, COL_TOTAL_COST, &len);
    if (!len)
        note_empty(w, COL_TOTAL_COST);
    if (len) {
        /* whole cents: USD with at most two decimals */
        prc = parse_fixed(p, len, 2, 0, RECORD_MAX_COST_CENTS, &fx);
        if (prc == -2)
            return reject_value(w, BAD_TYPE, COL_TOTAL_COST, p, len,
                                "has more than 2 decimals (whole cents)");
        if (prc == -3)
            return reject_value(w, BAD_RANGE, COL_TOTAL_COST, p, len, "is outside 0-1e10");
        if (prc < 0)
            return reject_value(w, BAD_TYPE, COL_TOTAL_COST, p, len, "is not a number");
        r->total_cost = fx;
    }
    p = field(w, COL_EXPERIENCE_SCORE, &len);
    if (len) {
        prc = parse_fixed(p, len, 2, 0, 10 * CELL_SCORE_SCALE, &fx);
        if (prc == -2)
            return reject_value(w, BAD_TYPE, COL_EXPERIENCE_SCORE, p, len,
                                "has more than 2 decimals");
        if (prc == -3)
            return reject_value(w, BAD_RANGE, COL_EXPERIENCE_SCORE, p, len, "is outside 0-10");
        if (prc < 0)
            return reject_value(w, BAD_TYPE, COL_EXPERIENCE_SCORE, p, len, "is not a number");
        r->experience_score = (int32_t)fx;
        r->has_experience = 1;
    }

    for (int q = 0; q < rd->nflags; q++) {
        int fi = rd->flagcol[q];
        if (fi < 0)
            continue;
        const uint8_t *fp = w->buf + w->f[fi].off;
        size_t fl = w->f[fi].len;
        while (fl && (fp[0] == ' ' || fp[0] == '\t'))
            fp++, fl--;
        while (fl && (fp[fl - 1] == ' ' || fp[fl - 1] == '\t'))
            fl--;
        if (fl == 0) {
            w->unk_cols |= 1ULL << (CATALOG_N_BASE_COLS + q);
        } else if (fl == 1 && (fp[0] == '0' || fp[0] == '1')) {
            r->xflags |= (uint32_t)(fp[0] - '0') << q;
        } else {
            char safe[64];
            snprintf(safe, sizeof safe, "%s is not 0, 1 or empty", rd->cat->flag_name[q]);
            return reject_msg(w, BAD_RANGE, -1, safe, safe);
        }
    }
    if (rd->cat && identity_fields(w, r) < 0)
        return -1;
    r->unknown_measures = rd->cat ? unknown_of_catalog(rd, w->unk_cols, r)
                                  : unknown_of(w->unk_cols, r);
    uint64_t u = w->unk_cols;
    /* only known numbers can contradict each other */
    int readm_bad = !(u & (1ULL << COL_IP_READMITS_30D | 1ULL << COL_IP_ADMITS)) &&
                    r->ip_readmits_30d > r->ip_admits;
    int noshow_bad = !(u & (1ULL << COL_NO_SHOWS | 1ULL << COL_SCHEDULED_APPTS)) &&
                     r->no_shows > r->scheduled_appts;
    if (readm_bad || noshow_bad) {
        int c = readm_bad ? COL_IP_READMITS_30D : COL_NO_SHOWS;
        int of = c == COL_NO_SHOWS ? COL_SCHEDULED_APPTS : COL_IP_ADMITS;
        uint32_t a = c == COL_NO_SHOWS ? r->no_shows : r->ip_readmits_30d;
        uint32_t b = c == COL_NO_SHOWS ? r->scheduled_appts : r->ip_admits;
        char site[160], safe[160];
        snprintf(site, sizeof site, "%s %u > %s %u", rd->hname[c], a, rd->hname[of], b);
        snprintf(safe, sizeof safe, "%s > %s", rd->hname[c], rd->hname[of]);
        return reject_msg(w, BAD_INCONSISTENT, c, safe, site);
    }
    return 0;
}

static int idtab_seen(struct verify *vf, uint64_t h, const uint8_t *id, size_t len)
{
    if (vf->nids * 2 >= vf->capids) {
        size_t nc = vf->capids ? vf->capids * 2 : 256;
        struct idslot *n = calloc(nc, sizeof *n);
        if (!n) {
            vf->oom = 1;
            return 0;
        }
        for (size_t i = 0; i < vf->capids; i++) {
            if (!vf->ids[i].id)
                continue;
            size_t j = vf->ids[i].h & (nc - 1);
            while (n[j].id)
                j = (j + 1) & (nc - 1);
            n[j] = vf->ids[i];
        }
        free(vf->ids);
        vf->ids = n;
        vf->capids = nc;
    }
    size_t j = h & (vf->capids - 1);
    while (vf->ids[j].id) {
        if (vf->ids[j].h == h && vf->ids[j].len == len && memcmp(vf->ids[j].id, id, len) == 0)
            return 1;
        j = (j + 1) & (vf->capids - 1);
    }
    char *c = malloc(len + 1);
    if (!c) {
        vf->oom = 1;
        return 0;
    }
    memcpy(c, id, len);
    c[len] = '\0';
    vf->ids[j].h = h;
    vf->ids[j].id = c;
    vf->ids[j].len = len;
    vf->nids++;
    return 0;
}

static int owner_of(const struct verify *vf, uint64_t off)
{
    int o = 0;
    for (int i = 1; i < vf->nworkers; i++)
        if (off >= vf->workers[i].start)
            o = i;
    return o;
}

/* Main and retract passes: the set decides whether the row is new (given
 * to the sink) or a suspected duplicate (held back for verification). */
static void commit(struct worker *w, const struct pending *e)
{
    int ins = e->ins;
    if (ins < 0) {
        set_fatal(w, e->line, 0, "out of memory for member ids");
        return;
    }
    if (ins == 1) {
        if (w->mode == MODE_MAIN) {
            w->sink(w->sink_ctx, &e->rec, +1);
            w->accepted++;
            count_unknown(&w->prof, e->unk_cols, e->rec.unknown_measures, +1);
        } else {
            w->sink(w->sink_ctx, &e->rec, -1);
        }
        return;
    }
    if (w->mode == MODE_MAIN &&
        (push_u64(&w->held, &w->nheld, &w->capheld, e->off) < 0 ||
         push_u64(&w->susp, &w->nsusp, &w->capsusp, e->h) < 0))
        set_fatal(w, e->line, 0, "out of memory for member ids");
}

/* Inserts the batch's fingerprints into the set in hash order, then hands
 * the rows to the sink in row order. A set much larger than the caches is
 * then swept from one end to the other instead of being hit at random
 * (TLB and cache misses on every row). A stable counting sort keeps rows
 * with the same fingerprint in row order, so the first one is the one
 * found new: the answers, and the order of records given to the sink, are
 * those of inserting row by row. */
static void batch_flush(struct worker *w)
{
    size_t n = w->nbatch;
    if (n == 0)
        return;
    uint32_t count[(1u << SORT_BITS) + 1];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++)
        count[(w->batch[i].h >> (64 - SORT_BITS)) + 1]++;
    for (size_t k = 1; k <= (1u << SORT_BITS); k++)
        count[k] += count[k - 1];
    for (size_t i = 0; i < n; i++)
        w->order[count[w->batch[i].h >> (64 - SORT_BITS)]++] = (uint32_t)i;
    for (size_t k = 0; k < n; k++) {
        if (k + 8 < n)
            memberset_prefetch(w->set, w->batch[w->order[k + 8]].h);
        struct pending *e = &w->batch[w->order[k]];
        e->ins = memberset_insert(w->set, e->h);
    }
    for (size_t i = 0; i < n; i++)
        commit(w, &w->batch[i]);
    w->nbatch = 0;
}

static void batch_push(struct worker *w, uint64_t h, const struct member_record *rec)
{
    struct pending *e = &w->batch[w->nbatch++];
    e->h = h;
    e->off = w->rec_off;
    e->line = w->line;
    e->unk_cols = w->unk_cols;
    e->rec = *rec;
    if (w->nbatch == BATCH)
        batch_flush(w);
}

static void handle_record(struct worker *w, const struct tok *t)
{
    struct reader *rd = w->rd;
    size_t len;
    const uint8_t *p;

    w->prof.rows_read++;
    if (t->qerr) {
        int c = t->qerr - 1;
        char name[40] = "";
        for (int k = 0; k < COL__COUNT; k++)
            if (rd->filecol[k] == c)
                snprintf(name, sizeof name, "%s", rd->hname[k]);
        profile_reject(&w->prof, BAD_QUOTING, w->line, t->qerr, name,
                       "misplaced quote in field %d", t->qerr);
        if (rd->opts->strict && w->mode == MODE_MAIN)
            set_fatal(w, w->line, t->qerr, "misplaced quote in field %d (quoting)", t->qerr);
        return;
    }
    if (t->nf != rd->ncols) {
        reject(w, BAD_FIELD_COUNT, -1, "%d fields, the header has %d", t->nf, rd->ncols);
        return;
    }

    p = field(w, COL_PERIOD, &len);
    if (rd->period) {
        if (len != rd->period_len || (memcmp(p, rd->period, len) != 0 &&
                                      strncasecmp((const char *)p, rd->period, len) != 0)) {
            reject_value(w, BAD_PERIOD, COL_PERIOD, p, len, "is not the period asked for");
            return;
        }
    } else if (len == 0) {
        reject(w, BAD_PERIOD, COL_PERIOD, "%s is empty", rd->hname[COL_PERIOD]);
        return;
    } else if (w->period_len == 0) {
        if (len >= sizeof w->period) {
            reject_value(w, BAD_PERIOD, COL_PERIOD, p, len, "is too long for a period");
            return;
        }
        memcpy(w->period, p, len);
        w->period[len] = '\0';
        w->period_len = len;
        w->period_line = w->line;
    } else if (len != w->period_len || (memcmp(p, w->period, len) != 0 &&
                                        strncasecmp((const char *)p, w->period, len) != 0)) {
        char q[200];
        quote_value(q, sizeof q, p, len);
        set_fatal(w, w->line, 0, "file holds periods %s and %s; choose one with --period",
                  w->period, q);
        return;
    }

    const uint8_t *id = field(w, COL_MEMBER_ID, &len);
    size_t idlen = len;
    if (idlen == 0) {
        reject(w, BAD_TYPE, COL_MEMBER_ID, "%s is empty", rd->hname[COL_MEMBER_ID]);
        return;
    }
    /* hash first and prefetch the set's slot: the validation below hides
     * the cache miss of a set much larger than the caches */
    uint64_t h = memberset_hash(id, idlen);
    struct member_record rec;
    if (validate(w, &rec) < 0)
        return;

    if (w->mode == MODE_VERIFY) {
        struct verify *vf = w->vf;
        if (!bsearch_u64(vf->susp, vf->nsusp, h >> (64 - vf->fbits)))
            return;
        int held = bsearch_u64(vf->held, vf->nheld, w->rec_off);
        int o = owner_of(vf, w->rec_off);
        if (idtab_seen(vf, h, id, idlen)) {
            /* Member ids are never quoted, not even in the on-site profile. */
            uint64_t abs = w->line_base + w->line;
            profile_reject(vf->main, BAD_DUPLICATE, abs, rd->filecol[COL_MEMBER_ID] + 1,
                           rd->hname[COL_MEMBER_ID], "%s seen before in this period",
                           rd->hname[COL_MEMBER_ID]);
            if (!held) {
                w->sink(vf->sinks[o], &rec, -1);
                vf->accepted_delta--;
                count_unknown(vf->main, w->unk_cols, rec.unknown_measures, -1);
            }
            if (rd->opts->strict)
                set_fatal(w, w->line, rd->filecol[COL_MEMBER_ID] + 1,
                          "%s seen before in this period (duplicate)",
                          rd->hname[COL_MEMBER_ID]);
        } else if (held) {
            w->sink(vf->sinks[o], &rec, +1);
            vf->accepted_delta++;
            count_unknown(vf->main, w->unk_cols, rec.unknown_measures, +1);
        }
        return;
    }
    batch_push(w, h, &rec);
}

/* ---- reading a byte range --------------------------------------------------------------- */

static void progress_add(struct reader *rd, size_t n)
{
    if (!rd->show_progress)
        return;
    uint64_t done = atomic_fetch_add(&rd->progress_bytes, n) + n;
    int dec = (int)(done * 10 / (rd->file_size ? rd->file_size : 1));
    int old = atomic_load(&rd->progress_decile);
    while (dec > old) {
        if (atomic_compare_exchange_weak(&rd->progress_decile, &old, dec)) {
            log_info("reading %s: %d%%", rd->path, dec * 10);
            break;
        }
    }
}

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    struct reader *rd = w->rd;
    gzFile gz = NULL;
    size_t len = 0, pos = 0;
    uint64_t bufoff = w->start, rdpos = w->start;
    int eof = 0;
    uint64_t gz_done = 0;
    struct tok t;
    t.f = w->f;
    t.cap = rd->ncols + 1;

    if (rd->is_gz) {
        int fd = dup(rd->fd);
        if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0 || !(gz = gzdopen(fd, "rb"))) {
            if (fd >= 0)
                close(fd);
            set_fatal(w, 0, 0, "cannot read gzip stream: %s", strerror(errno));
            goto out;
        }
        gzbuffer(gz, 256u << 10);
        if (w->start > 0 && gzseek(gz, (z_off_t)w->start, SEEK_SET) < 0) {
            set_fatal(w, 0, 0, "corrupt gzip stream");
            goto out;
        }
    } else {
        posix_fadvise(rd->fd, (off_t)w->start, (off_t)(w->end - w->start), POSIX_FADV_SEQUENTIAL);
    }

    for (;;) {
        if (pos >= len) {
            if (eof)
                break;
        } else if (bufoff + pos >= w->end) {
            break;
        }
        int r = REC_MORE;
        if (pos < len) {
            w->line = w->lines + 1;
            w->rec_off = bufoff + pos;
            r = tokenize(w->buf, pos, len, eof, &t);
        }
        if (r == REC_MORE) {
            if (len - pos > MAX_LINE) {
                set_fatal(w, w->lines + 1, 0, "line longer than 1 MiB");
                break;
            }
            memmove(w->buf, w->buf + pos, len - pos);
            bufoff += pos;
            len -= pos;
            pos = 0;
            size_t room = w->bufcap - SLACK - len;
            size_t want = room < BLOCK ? room : BLOCK;
            if (rdpos >= w->end && want > MIN_SPLIT)
                want = MIN_SPLIT; /* only finishing a record past the range */
            else if (rdpos < w->end && w->end - rdpos < want)
                want = (size_t)(w->end - rdpos);
            ssize_t n;
            if (gz) {
                n = gzread(gz, w->buf + len, (unsigned)want);
                if (n < 0) {
                    int ze;
                    const char *m = gzerror(gz, &ze);
                    set_fatal(w, w->lines + 1, 0, "corrupt gzip stream (%s)", m ? m : "?");
                    break;
                }
                if (n == 0) {
                    int ze = Z_OK;
                    gzerror(gz, &ze);
                    if (ze == Z_BUF_ERROR) {
                        set_fatal(w, w->lines + 1, 0, "truncated gzip stream");
                        break;
                    }
                }
            } else {
                do
                    n = pread(rd->fd, w->buf + len, want, (off_t)rdpos);
                while (n < 0 && errno == EINTR);
                if (n < 0) {
                    set_fatal(w, w->lines + 1, 0, "read error: %s", strerror(errno));
                    break;
                }
            }
            if (n == 0)
                eof = 1;
            len += (size_t)n;
            rdpos += (uint64_t)n;
            if (w->mode == MODE_MAIN) {
                if (gz) {
                    z_off_t co = gzoffset(gz);
                    if (co > 0 && (uint64_t)co > gz_done) {
                        progress_add(rd, (size_t)((uint64_t)co - gz_done));
                        gz_done = (uint64_t)co;
                    }
                } else {
                    progress_add(rd, (size_t)n);
                }
            }
            continue;
        }
        if (r == REC_FATAL) {
            if (t.err == TERR_BINARY)
                set_fatal(w, w->line + t.nl, 0, "binary data (NUL byte) at line %llu",
                          (unsigned long long)(w->line + t.nl));
            else
                set_fatal(w, w->line, 0, "quoted field still open at end of file");
            break;
        }
        if (t.next - pos > MAX_LINE) {
            set_fatal(w, w->line, 0, "line longer than 1 MiB");
            break;
        }
        if (!t.blank)
            handle_record(w, &t);
        w->lines += t.nl;
        pos = t.next;
        if (w->fatal)
            break;
    }
    w->real_end = bufoff + pos;
out:
    if (w->mode != MODE_VERIFY)
        batch_flush(w);
    if (gz)
        gzclose(gz);
    return NULL;
}

/* ---- setup: header, options ----------------------------------------------------------------- */

/* n bytes on whole 64-byte cache lines (free with free()). */
static void *alloc_lines(size_t n)
{
    return aligned_alloc(64, (n + 63) / 64 * 64);
}

static int worker_init(struct worker *w, struct reader *rd, int idx, enum mode mode,
                       uint64_t start, uint64_t end, size_t expected)
{
    memset(w, 0, sizeof *w);
    w->rd = rd;
    w->idx = idx;
    w->mode = mode;
    w->start = start;
    w->end = end;
    w->set_expected = expected;
    /* a small plain file needs no more buffer than its size */
    w->bufcap = BUF_CAP;
    if (!rd->is_gz && rd->file_size - start + 2 * SLACK < BUF_CAP)
        w->bufcap = (size_t)(rd->file_size - start) + 2 * SLACK;
    w->buf = calloc(1, w->bufcap);
    /* Per-row data on cache lines of its own: the other worker writes its
     * own next to it. */
    w->f = alloc_lines(((size_t)rd->ncols + 1) * sizeof *w->f);
    if (w->f)
        memset(w->f, 0, ((size_t)rd->ncols + 1) * sizeof *w->f);
    if (rd->total_rules) {
        w->prof.map_rules = calloc(rd->total_rules, sizeof *w->prof.map_rules);
        w->prof.n_map_rules = rd->total_rules;
    }
    if (mode != MODE_VERIFY) {
        w->set = memberset_new(expected);
        w->batch = alloc_lines(BATCH * sizeof *w->batch);
        w->order = alloc_lines(BATCH * sizeof *w->order);
    }
    if (!w->buf || !w->f || (rd->total_rules && !w->prof.map_rules) ||
        (mode != MODE_VERIFY && (!w->set || !w->batch || !w->order)))
        return -1;
    for (int c = 0; c < COL__COUNT; c++)
        for (int i = 0; i < rd->nrules[c]; i++) {
            struct profile_map_rule *m = &w->prof.map_rules[rd->rules[c][i].prof_index];
            m->column = c;
            snprintf(m->from, sizeof m->from, "%s", rd->rules[c][i].from);
            snprintf(m->to, sizeof m->to, "%s", rd->opts->rules[c][i].to);
        }
    return 0;
}

static void worker_free(struct worker *w)
{
    free(w->buf);
    free(w->f);
    free(w->held);
    free(w->susp);
    free(w->batch);
    free(w->order);
    w->batch = NULL;
    w->order = NULL;
    memberset_destroy(&w->set);
    profile_free(&w->prof);
    w->buf = NULL;
    w->f = NULL;
    w->held = w->susp = NULL;
}

static int compile_rules(struct reader *rd, char *err, size_t errlen)
{
    const struct extract_options *o = rd->opts;
    size_t k = 0;
    for (int c = 0; c < COL__COUNT; c++) {
        if (o->n_rules[c] <= 0 || !o->rules[c])
            continue;
        if (c != COL_SEX && c != COL_RACE && c != COL_ETHNICITY && c != COL_PAYER &&
            c != COL_DISABILITY && c != COL_CMC && c != COL_LANGUAGE && c != COL_COUNTY) {
            snprintf(err, errlen, "code map for %s: only coded columns can be mapped",
                     extract_column_names[c]);
            return -1;
        }
        rd->rules[c] = calloc((size_t)o->n_rules[c], sizeof *rd->rules[c]);
        if (!rd->rules[c]) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        rd->nrules[c] = o->n_rules[c];
        for (int i = 0; i < o->n_rules[c]; i++) {
            const struct code_rule *r = &o->rules[c][i];
            struct crule *cr = &rd->rules[c][i];
            size_t tl = strnlen(r->to, sizeof r->to);
            int code = code_map_target(c, r->to, tl); /* as node_config and the adapters */
            if (code < 0) {
                snprintf(err, errlen, "code map for %s: '%.48s' maps to '%.24s', which is not a "
                         "standard %s code", extract_column_names[c], r->from, r->to,
                         extract_column_names[c]);
                return -1;
            }
            cr->from = r->from;
            cr->flen = strnlen(r->from, sizeof r->from);
            cr->code = code;
            cr->prof_index = (int)k++;
        }
    }
    rd->total_rules = k;
    return 0;
}

/* The active file catalog's map. entries of the stratifiers read from a
 * coded column (race, ethnicity, sex, payer, disability, cmc). */
static int compile_catalog_maps(struct reader *rd, const struct catalog *cat, char *err,
                                size_t errlen)
{
    static const struct { int col, strat; const char *const *codes; int n; } cm[] = {
        {COL_RACE, S_RACE, race_codes, RACE__COUNT},
        {COL_ETHNICITY, S_ETHNICITY, ethnicity_codes, ETH__COUNT},
        {COL_SEX, S_SEX, sex_codes, SEX__COUNT},
        {COL_PAYER, S_PAYER, payer_codes, PAYER__COUNT},
        {COL_DISABILITY, S_DISABILITY, ynu_codes, YNU__COUNT},
        {COL_CMC, S_CMC, ynu_codes, YNU__COUNT}};
    for (size_t k = 0; k < sizeof cm / sizeof cm[0]; k++) {
        const struct cat_strat *st = &cat->strat[cm[k].strat];
        for (int i = 0; i < st->nmaps && i < CAT_MAX_MAPS; i++) {
            size_t tl = strnlen(st->map_to[i], sizeof st->map_to[0]);
            int code = catalog_code_find(cm[k].codes, cm[k].n, st->map_to[i], tl);
            if (code < 0) {
                snprintf(err, errlen, "catalog map for %s: '%.48s' maps to '%.24s', which is "
                         "not a standard code", extract_column_names[cm[k].col],
                         st->map_from[i], st->map_to[i]);
                return -1;
            }
            struct crule *cr = &rd->cmaps[cm[k].col][rd->ncmaps[cm[k].col]++];
            cr->from = st->map_from[i];
            cr->flen = strnlen(st->map_from[i], sizeof st->map_from[0]);
            cr->code = code;
            cr->prof_index = -1;
        }
    }
    return 0;
}

/* The identity columns of the header, by their own names, for the
 * stratifiers the active catalog tallies; the absent ones are noted in the
 * profile (every member is UNKNOWN there, as an empty field). */
static void identity_header(struct reader *rd, const struct span *f, int nf, const uint8_t *buf,
                            struct profile *prof)
{
    size_t o = 0;
    for (int i = 0; i < IDC__COUNT; i++) {
        rd->idcol[i] = -1;
        if (!rd->cat || !catalog_stratifier_offered(identity_cols[i].strat))
            continue;
        size_t wl = strlen(identity_cols[i].name);
        for (int k = 0; k < nf && rd->idcol[i] < 0; k++)
            if (f[k].len == wl && strncasecmp((const char *)buf + f[k].off, identity_cols[i].name, wl) == 0)
                rd->idcol[i] = k;
        if (rd->idcol[i] >= 0)
            continue;
        int n = snprintf(prof->identity_why + o, sizeof prof->identity_why - o, "%s%s",
                         o ? ", " : "no column ", identity_cols[i].name);
        if (n > 0)
            o = o + (size_t)n < sizeof prof->identity_why ? o + (size_t)n : sizeof prof->identity_why - 1;
    }
    if (o)
        snprintf(prof->identity_why + o, sizeof prof->identity_why - o,
                 " in the extract: every member UNKNOWN there");
}

/* The active file catalog's map. entries of the identity stratifiers. */
static int compile_identity_maps(struct reader *rd, const struct catalog *cat, char *err,
                                 size_t errlen)
{
    for (int i = 0; i < IDC__COUNT; i++) {
        const struct cat_strat *st = &cat->strat[identity_cols[i].strat];
        for (int k = 0; k < st->nmaps && k < CAT_MAX_MAPS; k++) {
            size_t tl = strnlen(st->map_to[k], sizeof st->map_to[0]);
            int code = catalog_identity_code(identity_cols[i].strat, st->map_to[k], tl);
            if (code < 0) {
                snprintf(err, errlen, "catalog map for %s: '%.48s' maps to '%.24s', which is "
                         "not a code of it", identity_cols[i].name, st->map_from[k], st->map_to[k]);
                return -1;
            }
            struct crule *cr = &rd->idmaps[i][rd->nidmaps[i]++];
            cr->from = st->map_from[k];
            cr->flen = strnlen(st->map_from[k], sizeof st->map_from[0]);
            cr->code = code;
            cr->prof_index = -1;
        }
    }
    return 0;
}

/* Reads and checks the header; fills the column tables. */
static int read_header(struct reader *rd, struct profile *prof, char *err, size_t errlen)
{
    int ret = -1;
    uint8_t *buf = malloc(MAX_LINE + 4 + SLACK);
    struct span *f = calloc(MAX_COLS + 1, sizeof *f);
    gzFile gz = NULL;
    size_t len = 0;
    if (!buf || !f) {
        snprintf(err, errlen, "%s: out of memory", rd->path);
        goto out;
    }
    if (rd->is_gz) {
        int fd = dup(rd->fd);
        if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0 || !(gz = gzdopen(fd, "rb"))) {
            if (fd >= 0)
                close(fd);
            snprintf(err, errlen, "%s: cannot read: %s", rd->path, strerror(errno));
            goto out;
        }
        while (len < MAX_LINE + 4) {
            int n = gzread(gz, buf + len, (unsigned)(MAX_LINE + 4 - len));
            if (n < 0) {
                int ze;
                snprintf(err, errlen, "%s:1: corrupt gzip stream (%s)", rd->path, gzerror(gz, &ze));
                goto out;
            }
            if (n == 0) {
                int ze = Z_OK;
                gzerror(gz, &ze);
                if (ze == Z_BUF_ERROR) {
                    snprintf(err, errlen, "%s:1: truncated gzip stream", rd->path);
                    goto out;
                }
                break;
            }
            len += (size_t)n;
        }
    } else {
        while (len < MAX_LINE + 4) {
            ssize_t n = pread(rd->fd, buf + len, MAX_LINE + 4 - len, (off_t)len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                snprintf(err, errlen, "%s: cannot read: %s", rd->path, strerror(errno));
                goto out;
            }
            if (n == 0)
                break;
            len += (size_t)n;
        }
    }
    size_t pos = 0;
    if (len >= 3 && buf[0] == 0xef && buf[1] == 0xbb && buf[2] == 0xbf)
        pos = 3; /* UTF-8 byte order mark */
    if (pos >= len) {
        snprintf(err, errlen, "%s:1: empty file (no header row)", rd->path);
        goto out;
    }
    struct tok t = {.f = f, .cap = MAX_COLS + 1};
    int eof = len < MAX_LINE + 4;
    int r = tokenize(buf, pos, len, eof, &t);
    if (r == REC_MORE || (r == REC_DONE && t.next - pos > MAX_LINE)) {
        snprintf(err, errlen, "%s:1: line longer than 1 MiB", rd->path);
        goto out;
    }
    if (r == REC_FATAL) {
        if (t.err == TERR_BINARY)
            snprintf(err, errlen, "%s:%u: binary data (NUL byte) at line %u", rd->path,
                     1 + t.nl, 1 + t.nl);
        else
            snprintf(err, errlen, "%s:1: quoted field still open at end of file", rd->path);
        goto out;
    }
    if (t.blank) {
        snprintf(err, errlen, "%s:1: empty header row", rd->path);
        goto out;
    }
    if (t.qerr) {
        snprintf(err, errlen, "%s:1:%d: misplaced quote in the header", rd->path, t.qerr);
        goto out;
    }
    if (t.nf > MAX_COLS) {
        snprintf(err, errlen, "%s:1: %d columns; at most %d are supported", rd->path, t.nf,
                 MAX_COLS);
        goto out;
    }
    rd->ncols = t.nf;
    rd->data_start = t.next;
    rd->header_lines = t.nl;
    /* header text for messages */
    char htext[600];
    size_t ho = 0;
    for (int i = 0; i < t.nf; i++) {
        /* header names are unescaped in place; the header is never re-read */
        uint8_t *p = buf + f[i].off;
        if (f[i].esc) {
            size_t o = 0;
            for (size_t k = 0; k < f[i].len; k++) {
                p[o++] = p[k];
                if (p[k] == '"' && k + 1 < f[i].len && p[k + 1] == '"')
                    k++;
            }
            f[i].len = (uint32_t)o;
            f[i].esc = 0;
        }
        char q[200];
        quote_value(q, sizeof q, p, f[i].len);
        int k = snprintf(htext + ho, sizeof htext - ho, "%s%s", i ? "," : "", q);
        if (k > 0)
            ho = ho + (size_t)k < sizeof htext ? ho + (size_t)k : sizeof htext - 1;
    }
    /* duplicate names */
    for (int i = 0; i < t.nf; i++)
        for (int j = i + 1; j < t.nf; j++)
            if (f[i].len == f[j].len &&
                strncasecmp((char *)buf + f[i].off, (char *)buf + f[j].off, f[i].len) == 0) {
                char q[200];
                quote_value(q, sizeof q, buf + f[j].off, f[j].len);
                snprintf(err, errlen, "%s:1:%d: duplicate column name '%s' (also column %d)",
                         rd->path, j + 1, q, i + 1);
                goto out;
            }
    /* map canonical columns */
    char why[256] = "";
    size_t wo = 0;
    for (int c = 0; c < COL__COUNT; c++) {
        const char *want = rd->opts->column_name[c];
        if (!want || !*want)
            want = extract_column_names[c];
        size_t wl = strlen(want);
        rd->filecol[c] = -1;
        snprintf(rd->hname[c], sizeof rd->hname[c], "%s", want);
        for (int i = 0; i < t.nf; i++)
            if (f[i].len == wl && strncasecmp((char *)buf + f[i].off, want, wl) == 0) {
                rd->filecol[c] = i;
                break;
            }
        if (rd->filecol[c] >= 0)
            continue;
        if (c <= COL_MEMBER_MONTHS) {
            if (strcmp(want, extract_column_names[c]) != 0)
                snprintf(err, errlen, "%s:1: missing required column '%s' (for %s) in header: %s",
                         rd->path, want, extract_column_names[c], htext);
            else
                snprintf(err, errlen, "%s:1: missing required column '%s' in header: %s",
                         rd->path, want, htext);
            goto out;
        }
        uint32_t m = 0;
        if (rd->cat) {
            /* a file catalog: the measures that read the column */
            for (int q = 0; q < rd->cat->n_measures; q++)
                if ((rd->mfilter_cols[q] | rd->mvalue_cols[q]) & (1ULL << c))
                    m |= MB(q);
        } else {
            for (size_t k = 0; k < sizeof measure_needs / sizeof measure_needs[0]; k++)
                if (measure_needs[k].col == c)
                    m |= measure_needs[k].measures;
        }
        prof->unavailable_measures |= m;
        int k = snprintf(why + wo, sizeof why - wo, "%s%s", wo ? ", " : "no column ", want);
        if (k > 0)
            wo = wo + (size_t)k < sizeof why ? wo + (size_t)k : sizeof why - 1;
    }
    /* the optional race_detail column, with a catalog that uses it */
    rd->rdcol = -1;
    if (race_detail_wanted())
        for (int i = 0; i < t.nf; i++)
            if (f[i].len == 11 && strncasecmp((char *)buf + f[i].off, "race_detail", 11) == 0) {
                rd->rdcol = i;
                break;
            }
    /* the catalog's flag columns, by their own names */
    for (int q = 0; q < rd->nflags; q++) {
        const char *want = rd->cat->flag_name[q];
        size_t wl = strlen(want);
        rd->flagcol[q] = -1;
        for (int i = 0; i < t.nf; i++)
            if (f[i].len == wl && strncasecmp((char *)buf + f[i].off, want, wl) == 0) {
                rd->flagcol[q] = i;
                break;
            }
        if (rd->flagcol[q] >= 0)
            continue;
        for (int mq = 0; mq < rd->cat->n_measures; mq++)
            if ((rd->mfilter_cols[mq] | rd->mvalue_cols[mq]) & (1ULL << (CATALOG_N_BASE_COLS + q)))
                prof->unavailable_measures |= MB(mq);
        int k = snprintf(why + wo, sizeof why - wo, "%s%s", wo ? ", " : "no column ", want);
        if (k > 0)
            wo = wo + (size_t)k < sizeof why ? wo + (size_t)k : sizeof why - 1;
    }
    identity_header(rd, f, t.nf, buf, prof);
    if (prof->unavailable_measures) {
        char names[256] = "";
        size_t no = 0;
        for (int m = 0; m < catalog_n_measures(); m++)
            if (prof->unavailable_measures & MB(m)) {
                int k = snprintf(names + no, sizeof names - no, "%s%s", no ? ", " : "",
                                 catalog_measure(m)->name);
                if (k > 0)
                    no = no + (size_t)k < sizeof names ? no + (size_t)k : sizeof names - 1;
            }
        snprintf(prof->unavailable_why, sizeof prof->unavailable_why,
                 "%s not available: %s in the extract", names, why);
    }
    ret = 0;
out:
    if (gz)
        gzclose(gz);
    free(buf);
    free(f);
    return ret;
}

/* ---- the whole read ---------------------------------------------------------------------------- */

struct xctx {
    memberset_t **sets;
    int upto;
    uint64_t **susp;
    size_t *n, *cap;
    int oom;
    unsigned fbits;
};

static void cross_one(void *ctx, uint64_t prefix)
{
    struct xctx *x = ctx;
    for (int v = 0; v < x->upto; v++)
        if (memberset_contains(x->sets[v], prefix)) {
            if (push_u64(x->susp, x->n, x->cap, prefix) < 0)
                x->oom = 1;
            return;
        }
}

static void run_workers(struct worker *ws, int n)
{
    pthread_t th[MAX_WORKERS];
    int started[MAX_WORKERS] = {0};
    for (int i = 1; i < n; i++)
        started[i] = pthread_create(&th[i], NULL, worker_run, &ws[i]) == 0;
    worker_run(&ws[0]);
    for (int i = 1; i < n; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            worker_run(&ws[i]);
    }
}

/* Finds the start of the first line at or after `off`. */
static uint64_t line_start_after(int fd, uint64_t off, uint64_t size)
{
    uint8_t tmp[65536];
    if (off == 0)
        return 0;
    uint64_t p = off - 1; /* a line starting exactly at off is fine */
    while (p < size) {
        ssize_t n = pread(fd, tmp, sizeof tmp, (off_t)p);
        if (n <= 0)
            return size;
        const uint8_t *nl = memchr(tmp, '\n', (size_t)n);
        if (nl)
            return p + (uint64_t)(nl - tmp) + 1;
        p += (uint64_t)n;
    }
    return size;
}

static void format_fatal(const struct reader *rd, const struct worker *w, char *err, size_t errlen)
{
    uint64_t line = w->line_base + w->err_line;
    if (w->err_line == 0)
        snprintf(err, errlen, "%s: %s", rd->path, w->errmsg);
    else if (w->err_col > 0)
        snprintf(err, errlen, "%s:%llu:%d: %s", rd->path, (unsigned long long)line, w->err_col,
                 w->errmsg);
    else
        snprintf(err, errlen, "%s:%llu: %s", rd->path, (unsigned long long)line, w->errmsg);
}

static void shift_lines(struct profile *p, uint64_t base)
{
    for (int r = 0; r < BAD__COUNT; r++)
        for (int i = 0; i < p->n_examples[r]; i++)
            p->examples[r][i].line += base;
}

int extract_read(const char *path, const struct extract_options *opts,
                 record_sink_fn sink, void **sinks, int *nworkers,
                 struct profile *profile, char *err, size_t errlen)
{
    int ret = -1;
    struct reader rd;
    struct worker *ws = NULL;
    int nw = 0;
    uint64_t *susp = NULL, *held = NULL;
    size_t nsusp = 0, capsusp = 0, nheld = 0, capheld = 0;
    struct verify vf;
    memset(&vf, 0, sizeof vf);
    memset(&rd, 0, sizeof rd);
    rd.fd = -1;
    atomic_init(&rd.progress_bytes, 0);
    atomic_init(&rd.progress_decile, 0);
    rd.path = path;
    rd.opts = opts;
    if (err && errlen)
        err[0] = '\0';
    snprintf(profile->source, sizeof profile->source, "%s", path);
    if (!sinks || !nworkers || *nworkers < 1) {
        snprintf(err, errlen, "%s: no sink to read into", path);
        goto out;
    }
    codetab_init(&rd.tab_sex, sex_codes, SEX__COUNT);
    codetab_init(&rd.tab_race, race_codes, RACE__COUNT);
    codetab_init(&rd.tab_eth, ethnicity_codes, ETH__COUNT);
    /* "UNKNOWN" is not a payer a file should say, but it is the code for an
     * empty payer, so accepting it as written is harmless. */
    codetab_init(&rd.tab_payer, payer_codes, PAYER__COUNT);
    codetab_init(&rd.tab_ynu, ynu_codes, YNU__COUNT);
    if (opts->period && *opts->period) {
        rd.period = opts->period;
        rd.period_len = strlen(opts->period);
    }
    if (compile_rules(&rd, err, errlen) < 0)
        goto out;

    rd.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (rd.fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(rd.fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        goto out;
    }
    rd.file_size = (uint64_t)st.st_size;
    uint8_t magic[2] = {0, 0};
    if (pread(rd.fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
        rd.is_gz = 1;
    const struct catalog *cat = catalog_active();
    if (!catalog_is_builtin(cat)) {
        rd.cat = cat;
        if (compile_catalog_maps(&rd, cat, err, errlen) < 0 ||
            compile_identity_maps(&rd, cat, err, errlen) < 0 ||
            race_detail_maps_compile(&rd.rdmaps, cat, err, errlen) < 0)
            goto out;
        rd.nflags = cat->n_flags;
        for (int q = 0; q < cat->n_measures; q++) {
            rd.mfilter_cols[q] = cat->m[q].absent ? 0 : cat->src[q].filter_cols;
            rd.mvalue_cols[q] = cat->m[q].absent ? 0 : cat->src[q].value_cols;
        }
    }
    if (read_header(&rd, profile, err, errlen) < 0)
        goto out;

    /* workers and ranges */
    uint64_t data_end = rd.is_gz ? UINT64_MAX : rd.file_size;
    int want = opts->threads > 0 ? opts->threads : 2;
    if (want > *nworkers)
        want = *nworkers;
    if (want > MAX_WORKERS)
        want = MAX_WORKERS;
    if (rd.is_gz)
        want = 1;
    else if ((rd.file_size - rd.data_start) / MIN_SPLIT < (uint64_t)want)
        want = (int)((rd.file_size - rd.data_start) / MIN_SPLIT) > 0
                   ? (int)((rd.file_size - rd.data_start) / MIN_SPLIT) : 1;
    nw = want;
    rd.show_progress = opts->progress && rd.file_size > (100u << 20);

    /* Expected members: from the average line length of the first 64 KiB. */
    size_t expected = 1024;
    if (!rd.is_gz) {
        uint8_t tmp[65536];
        ssize_t n = pread(rd.fd, tmp, sizeof tmp, (off_t)rd.data_start);
        size_t lines = 0;
        for (ssize_t i = 0; i < n; i++)
            lines += tmp[i] == '\n';
        if (n > 0 && lines > 0) {
            double avg = (double)n / (double)lines;
            expected = (size_t)((double)(rd.file_size - rd.data_start) / avg * 1.05 / nw) + 64;
        }
    } else {
        expected = (size_t)(rd.file_size / 16) + 1024; /* grows if needed */
    }

    ws = calloc((size_t)nw, sizeof *ws);
    if (!ws) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    uint64_t prev = rd.data_start;
    for (int i = 0; i < nw; i++) {
        uint64_t end = data_end;
        if (i + 1 < nw) {
            uint64_t nominal = rd.data_start + (rd.file_size - rd.data_start) * (uint64_t)(i + 1) / (uint64_t)nw;
            end = line_start_after(rd.fd, nominal, rd.file_size);
            if (end < prev)
                end = prev;
        }
        if (worker_init(&ws[i], &rd, i, MODE_MAIN, prev, end, expected) < 0) {
            snprintf(err, errlen, "%s: out of memory", path);
            goto out;
        }
        ws[i].sink = sink;
        ws[i].sink_ctx = sinks[i];
        prev = end;
    }
    run_workers(ws, nw);

    /* Check the cuts; then fatal errors in file order. */
    int misaligned = 0;
    uint64_t base = rd.header_lines;
    for (int i = 0; i < nw; i++) {
        ws[i].line_base = base;
        if (i > 0 && !ws[i - 1].fatal && ws[i - 1].real_end != ws[i].start) {
            misaligned = 1;
            break;
        }
        if (ws[i].fatal)
            break;
        base += ws[i].lines;
    }
    if (misaligned) {
        /* A quoted newline spans a cut: take every record back, then read
         * the file again with one worker. */
        log_debug("%s: a quoted field spans a worker cut; reading with one worker", path);
        for (int i = 0; i < nw; i++) {
            struct worker r;
            if (worker_init(&r, &rd, i, MODE_RETRACT, ws[i].start, ws[i].end, expected) < 0) {
                worker_free(&r);
                snprintf(err, errlen, "%s: out of memory", path);
                goto out;
            }
            r.sink = sink;
            r.sink_ctx = sinks[i];
            worker_run(&r);
            worker_free(&r);
        }
        for (int i = 0; i < nw; i++)
            worker_free(&ws[i]);
        nw = 1;
        if (worker_init(&ws[0], &rd, 0, MODE_MAIN, rd.data_start, data_end, expected * 2) < 0) {
            snprintf(err, errlen, "%s: out of memory", path);
            goto out;
        }
        ws[0].sink = sink;
        ws[0].sink_ctx = sinks[0];
        ws[0].line_base = rd.header_lines;
        worker_run(&ws[0]);
    }
    int fatal_w = -1;
    for (int i = 0; i < nw; i++)
        if (ws[i].fatal) {
            fatal_w = i;
            break;
        }

    /* One period per file (when none was asked for). */
    const char *period = rd.period;
    if (fatal_w < 0 && !period) {
        for (int i = 0; i < nw; i++) {
            if (!ws[i].period_len)
                continue;
            if (!period) {
                period = ws[i].period;
                continue;
            }
            if (strcasecmp(period, ws[i].period) != 0) {
                snprintf(err, errlen, "%s:%llu: file holds periods %s and %s; choose one with "
                         "--period", path,
                         (unsigned long long)(ws[i].line_base + ws[i].period_line), period,
                         ws[i].period);
                goto out;
            }
        }
    }

    /* Suspected duplicates: within a worker (held rows), across workers. */
    unsigned fbits = 64;
    for (int i = 0; i < nw; i++) {
        unsigned fb = memberset_fingerprint_bits(ws[i].set);
        if (fb < fbits)
            fbits = fb;
    }
    for (int i = 0; i < nw; i++) {
        for (size_t k = 0; k < ws[i].nsusp; k++)
            if (push_u64(&susp, &nsusp, &capsusp, ws[i].susp[k]) < 0)
                goto oom;
        for (size_t k = 0; k < ws[i].nheld; k++)
            if (push_u64(&held, &nheld, &capheld, ws[i].held[k]) < 0)
                goto oom;
        if (i > 0 && fatal_w < 0) {
            struct xctx x = {.sets = NULL, .upto = i, .susp = &susp, .n = &nsusp, .cap = &capsusp};
            memberset_t *sets[MAX_WORKERS];
            for (int v = 0; v < i; v++)
                sets[v] = ws[v].set;
            x.sets = sets;
            memberset_foreach(ws[i].set, cross_one, &x);
            if (x.oom)
                goto oom;
        }
    }
    for (size_t k = 0; k < nsusp; k++)
        susp[k] >>= 64 - fbits;
    if (nsusp)
        qsort(susp, nsusp, sizeof *susp, cmp_u64);
    if (nheld)
        qsort(held, nheld, sizeof *held, cmp_u64);

    for (int i = 0; i < nw; i++) {
        shift_lines(&ws[i].prof, ws[i].line_base);
        ws[i].prof.rows_accepted = ws[i].accepted;
        profile_merge(profile, &ws[i].prof);
    }

    if (nsusp && (fatal_w < 0 || opts->strict)) {
        struct worker v;
        vf.susp = susp;
        vf.nsusp = nsusp;
        vf.fbits = fbits;
        vf.held = held;
        vf.nheld = nheld;
        vf.workers = ws;
        vf.nworkers = nw;
        vf.sinks = sinks;
        vf.main = profile;
        uint64_t vend = fatal_w >= 0 ? ws[fatal_w].rec_off : data_end;
        if (worker_init(&v, &rd, 0, MODE_VERIFY, rd.data_start, vend, 0) < 0) {
            worker_free(&v);
            goto oom;
        }
        v.sink = sink;
        v.vf = &vf;
        v.line_base = rd.header_lines;
        if (rd.period == NULL && period) {
            rd.period = period;
            rd.period_len = strlen(period);
        }
        worker_run(&v);
        if (vf.oom)
            snprintf(v.errmsg, sizeof v.errmsg, "out of memory for member ids"), v.fatal = 1;
        if (v.fatal && fatal_w < 0) {
            format_fatal(&rd, &v, err, errlen);
            worker_free(&v);
            goto out;
        }
        if (v.fatal && fatal_w >= 0 && opts->strict) {
            /* the duplicate comes before the row that stopped the main pass */
            format_fatal(&rd, &v, err, errlen);
            worker_free(&v);
            goto out;
        }
        worker_free(&v);
        profile->rows_accepted = (uint64_t)((int64_t)profile->rows_accepted + vf.accepted_delta);
    }
    if (fatal_w >= 0) {
        format_fatal(&rd, &ws[fatal_w], err, errlen);
        goto out;
    }
    if (period)
        snprintf(profile->period_seen, sizeof profile->period_seen, "%s", period);
    *nworkers = nw;
    ret = 0;
    goto out;
oom:
    snprintf(err, errlen, "%s: out of memory", path);
out:
    for (size_t i = 0; i < vf.capids; i++)
        free(vf.ids[i].id);
    free(vf.ids);
    free(susp);
    free(held);
    if (ws)
        for (int i = 0; i < nw; i++)
            worker_free(&ws[i]);
    free(ws);
    for (int c = 0; c < COL__COUNT; c++)
        free(rd.rules[c]);
    if (rd.fd >= 0)
        close(rd.fd);
    return ret;
}
