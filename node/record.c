/*
 * record.c - helpers for the in-memory member record.
 */
#include "record.h"

#include "catalog.h"

int record_lang_pack(const char *s, int len)
{
    if (len != 3)
        return -1;
    int v = 0;
    for (int i = 0; i < 3; i++) {
        int c = (unsigned char)s[i] | 0x20; /* lower case */
        if (c < 'a' || c > 'z')
            return -1;
        v = v * 26 + (c - 'a');
    }
    /* "und" (undetermined) is the unknown code; "aaa" packs to 0 and is not
     * an ISO 639-3 code in use, so 0 is free to mean unknown. */
    if (v == ((('u' - 'a') * 26 + ('n' - 'a')) * 26 + ('d' - 'a')))
        return LANG_UNKNOWN;
    return v;
}

void record_lang_unpack(int code, char out[4])
{
    if (code <= 0 || code >= LANG_PACKED_MAX) {
        out[0] = 'u'; out[1] = 'n'; out[2] = 'd'; out[3] = '\0';
        return;
    }
    out[2] = (char)('a' + code % 26);
    out[1] = (char)('a' + (code / 26) % 26);
    out[0] = (char)('a' + code / 676);
    out[3] = '\0';
}

void record_set_coverage(struct member_record *r, const int64_t *cov, int npayers, int64_t alive,
                         int64_t year)
{
    int64_t covered = 0, secs;
    int best = -1;
    for (int k = 0; k < npayers; k++) {
        covered += cov[k];
        if (cov[k] > 0 && (best < 0 || cov[k] > cov[best]))
            best = k;
    }
    if (best < 0) {
        r->payer = PAYER_UNINSURED;
        secs = alive;
    } else {
        r->payer = (uint8_t)best;
        secs = covered < alive ? covered : alive;
    }
    if (secs > year)
        secs = year;
    if (secs < 0)
        secs = 0;
    r->member_months = year > 0 ? (int32_t)((secs * RECORD_MAX_MONTHS + year / 2) / year) : 0;
}

int64_t record_days_from_civil(int64_t y, int m, int d)
{
    /* H. Hinnant's days_from_civil algorithm */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int record_digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}
