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

#include <stdint.h>

/* Pack an ISO 639-3 code ("spa") into 1..17575; 0 = unknown ("und" or empty). */
#define LANG_UNKNOWN 0
#define LANG_PACKED_MAX (26 * 26 * 26)
int record_lang_pack(const char *s, int len); /* -1 when not three letters */
void record_lang_unpack(int code, char out[4]);

#define COUNTY_UNKNOWN (-1)

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

    /* Measure inputs. */
    double member_months; /* 0..12                                        */
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
    /* Which measure sources exist at all (an adapter without the source sets
     * 0, so the measure is reported as not available, never as zero). */
    double total_cost;            /* USD, >= 0                            */
    double experience_score;      /* 0..10 when has_experience            */
    /* Measures this member is left out of because a field they need was
     * empty (unknown, extract.md), bit = measure id. The member still counts
     * in every other measure. */
    uint32_t unknown_measures;
};

#endif
