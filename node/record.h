/*
 * record.h - one member's record for one period, as every input adapter
 * (extract CSV, Synthea) produces it in memory (extract.md).
 *
 * The record holds only what the tally needs: coded stratifiers and the
 * measure inputs. Identifiers (member_id) stay in the adapter, which uses
 * them for de-duplication and joins only; they never reach the tally.
 */
#ifndef EQ_RECORD_H
#define EQ_RECORD_H

#include <stddef.h>
#include <stdint.h>

/* Pack an ISO 639-3 code ("spa") into 1..17575; 0 = unknown ("und" or empty). */
#define LANG_UNKNOWN 0
#define LANG_PACKED_MAX (26 * 26 * 26)
int record_lang_pack(const char *s, int len); /* -1 when not three letters */
void record_lang_unpack(int code, char out[4]);

#define COUNTY_UNKNOWN (-1)

/* Units of the numbers below (cells.h): member months in 1/10000 month,
 * costs in cents, experience scores in hundredths. */
#define RECORD_MONTHS_SCALE 10000
#define RECORD_MAX_MONTHS (12 * RECORD_MONTHS_SCALE)
#define RECORD_MAX_COST_CENTS 1000000000000LL /* 1e10 USD */

struct member_record {
    /* Stratifiers (catalog.h codes). */
    int16_t age;          /* 0..120, -1 unknown                          */
    uint8_t sex;          /* SEX_*                                        */
    uint8_t race;         /* RACE_*                                       */
    uint8_t ethnicity;    /* ETH_*                                        */
    uint8_t payer;        /* PAYER_*                                      */
    uint8_t disability;   /* YNU_*                                        */
    uint8_t cmc;          /* YNU_*                                        */
    uint8_t adi_decile;   /* 1..10, 0 unknown                             */
    uint16_t language;    /* record_lang_pack(), LANG_UNKNOWN             */
    int32_t county;       /* 5-digit FIPS as a number, COUNTY_UNKNOWN     */
    /* Identity stratifiers (catalog.h, issue 13), each stored as its code
     * + 1 so that 0 (a zeroed record, a source without the data) is the
     * code UNKNOWN: use record_identity() to read them. */
    uint8_t race_source;        /* RSRC_* + 1                              */
    uint8_t ethnicity_source;   /* RSRC_* + 1                              */
    uint8_t sexual_orientation; /* SO_* + 1                                */
    uint8_t gender_identity;    /* GI_* + 1                                */
    /* Detailed race and ethnicity responses (race_detail.h): bit d for each
     * detailed code reported, and the minimum categories reported or
     * implied (bits RACE_AIAN..RACE_WHITE, RD_MIN_HISPANIC); 0 when the
     * source has none. */
    uint32_t race_det;
    uint8_t race_min;

    /* Measure inputs. */
    int32_t member_months; /* 1/CELL_MONTHS_SCALE months, 0..12 months    */
    uint32_t ed_visits;
    uint32_t ip_admits;
    uint32_t ip_readmits_30d;     /* <= ip_admits                         */
    uint32_t primary_care_visits;
    uint32_t telehealth_visits;
    uint32_t scheduled_appts;
    uint32_t no_shows;            /* <= scheduled_appts                   */
    uint8_t wellness_visit;
    uint8_t diabetes;
    uint8_t hba1c_poor_control;   /* counted only where diabetes = 1      */
    uint8_t hypertension;
    uint8_t bp_controlled;        /* counted only where hypertension = 1  */
    uint8_t hrsn_screened;
    uint8_t hrsn_food, hrsn_housing, hrsn_transport, hrsn_utilities, hrsn_safety;
    uint8_t has_experience;       /* experience_score present             */
    /* The catalog's extra 0/1 flag columns (catalog_def.h), bit i = flag i
     * of the active catalog; an empty flag is 0 here and unknown below. */
    uint32_t xflags;
    /* Which measure sources exist at all (an adapter without the source sets
     * 0, so the measure is reported as not available, never as zero). */
    int64_t total_cost;           /* cents, 0..RECORD_MAX_COST_CENTS      */
    int32_t experience_score;     /* hundredths, 0..1000 when has_experience */
    /* Measures this member is left out of because a field they need was
     * empty (unknown, extract.md), bit = measure id. The member still counts
     * in every other measure. */
    uint32_t unknown_measures;
};

/* The code of a stored identity field (above): v - 1, or `unknown` for 0
 * or a value past n (never a stratum outside the table). */
static inline int record_identity(uint8_t v, int n, int unknown)
{
    return v >= 1 && v <= n ? v - 1 : unknown;
}

/* For the adapters that read coverage periods (Synthea, FHIR): sets
 * r->payer to the payer code with most covered seconds in cov[0..npayers)
 * (UNINSURED when none) and r->member_months to the covered time, at most
 * the time alive and the year, in 1/RECORD_MONTHS_SCALE months of the year
 * (year = its length in seconds), rounded half up once per member so that
 * sums over members are exact. */
void record_set_coverage(struct member_record *r, const int64_t *cov, int npayers, int64_t alive,
                         int64_t year);

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (negative
 * before), for the adapters' date parsing. */
int64_t record_days_from_civil(int64_t y, int m, int d);

/* The n ASCII digits at s as a number in *out; -1 when one is not a digit. */
int record_digits(const char *s, size_t n, int *out);

#endif
