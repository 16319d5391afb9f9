/* audit_model.h - what a reader of released cells knows, written from
 * privacy.md and measures.md alone (not from common/ or the catalog).
 *
 * The auditor's world: member-level extracts it generated itself ("worlds"),
 * releases (cells CSV files written by equity-node) each of which shows a sum
 * of worlds, and the linear facts a reader knows. A variable is one additive
 * quantity (members, member months, visits, cost, ...) of one world in one
 * cell (a released table's stratum, or an atom of a finer cross-classification
 * that links derived stratifiers). The model is a sound relaxation of the
 * reader's knowledge: every constraint holds for the true data (checked at
 * run time), so any cell the LP narrows is narrowed for a real reader too. */
#ifndef AUDIT_MODEL_H
#define AUDIT_MODEL_H

#include <stddef.h>

/* Additive quantities per cell (measures.md catalog, channels of a cell). */
enum aq {
    AQ_POP_M,   /* members with member_months > 0 */
    AQ_POP_MM,  /* their member months */
    AQ_ED,      /* sum ed_visits */
    AQ_IP,      /* sum ip_admits */
    AQ_RA_M,    /* members with ip_admits > 0 */
    AQ_RA_MM,
    AQ_RA_N,    /* sum ip_readmits_30d */
    AQ_WELL,    /* members with wellness_visit = 1 */
    AQ_NS_M,    /* members with scheduled_appts > 0 */
    AQ_NS_MM,
    AQ_NS_D,    /* sum scheduled_appts */
    AQ_NS_N,    /* sum no_shows */
    AQ_TH_M,    /* members with any (telehealth or primary care) visit */
    AQ_TH_MM,
    AQ_TH_D,    /* sum telehealth + primary care visits */
    AQ_TH_N,    /* sum telehealth visits */
    AQ_DB_M,    /* members with diabetes */
    AQ_DB_MM,
    AQ_DB_N,    /* ... with hba1c_poor_control */
    AQ_HT_M,    /* members with hypertension */
    AQ_HT_MM,
    AQ_HT_N,    /* ... with bp_controlled */
    AQ_SC_M,    /* members screened for HRSN */
    AQ_SC_MM,
    AQ_HF,      /* screened and food positive */
    AQ_HH,
    AQ_HTR,
    AQ_HU,
    AQ_HS,
    AQ_HA,      /* screened and any domain positive */
    AQ_COST,    /* sum total_cost */
    AQ_COSTSQ,  /* sum total_cost^2 */
    AQ_EX_M,    /* respondents (experience_score present) */
    AQ_EX_MM,
    AQ_EX_S,    /* sum of scores */
    AQ_EX_SQ,   /* sum of squared scores */
    /* HEDIS-style measures from member-level 0/1 flags (configs/catalog-hedis.ini,
     * docs/catalog.md "Flag columns"): each eligible population is the members
     * whose denominator flag is 1 (CIS: and age < 3, known), each numerator the
     * members of it whose numerator flag is 1. */
    AQ_PPC_M,   /* members with hedis_ppc_denominator = 1 */
    AQ_PPC_MM,
    AQ_PPC_PRE, /* ... and hedis_ppc_prenatal = 1 */
    AQ_PPC_POST,/* ... and hedis_ppc_postpartum = 1 */
    AQ_FUM_M,   /* members with hedis_fum_denominator = 1 */
    AQ_FUM_MM,
    AQ_FUM_7,   /* ... and hedis_fum_7d = 1 */
    AQ_FUM_30,  /* ... and hedis_fum_30d = 1 */
    AQ_CIS_M,   /* members with hedis_cis_denominator = 1 and age < 3 */
    AQ_CIS_MM,
    AQ_CIS_N,   /* ... and hedis_cis_combo10 = 1 */
    AQ_N
};

extern const char *const aq_name[AQ_N];

/* One member-level record as the auditor reads it (extract.md). */
struct arec {
    char id[32];
    int age; /* -1 unknown */
    char sex[8], race[16], eth[16], lang[8], payer[16], dis[4], cmc[4], county[8];
    int adi; /* 0 unknown, else 1..10 */
    double mm;
    int ed, ip, readmit, pc, tele, sched, noshow, well, diab, poor, htn, bpc, scr;
    int hf, hh, htr, hu, hs;
    double cost;
    double exp; /* < 0 when not a respondent */
    /* optional columns (docs/catalog.md, "Identity columns" and "Flag
     * columns"): "" / 0 when the extract has none */
    char rsrc[16], esrc[16], so[24], gi[24];
    int ppc, ppc_pre, ppc_post, fum, fum7, fum30, cis, cis10;
    /* race_detail and race_group strata (docs/catalog.md, "Detailed race and
     * ethnicity"), from the optional race_detail column; "UNKNOWN" without it */
    char rdd[16], rdg[24];
    /* race_aic's race categories (bit i = rd_races[i]): those reported in
     * race_detail, else the race column's when it is one of them */
    unsigned aicr;
};

/* The six race minimum categories, in race_aic's bit order. */
extern const char *const rd_races[6];
/* aicr of a member with this race_detail value and race column. */
unsigned rd_aic_races(const char *value, const char *race);

/* The detailed race and ethnicity code list as docs/catalog.md and
 * data/race-detail.tsv give it (transcribed here, not taken from common/). */
struct rd_code {
    const char *code, *cdc, *group, *minimum;
};
extern const struct rd_code rd_codes[];
extern const int rd_ncodes;
/* The minimum category ("ASIAN", "HISPANIC", ...) above a race_detail or
 * race_group stratum, or NULL (MULTIPLE, UNKNOWN, an unknown label). */
const char *rd_minimum_of(const char *stratum);
/* The group of a detailed code, or NULL. */
const char *rd_group_of(const char *detail);
/* The strata of one race_detail value (";" or "|" separated responses). */
void rd_strata(const char *value, char *rdd, size_t nd, char *rdg, size_t ng);

/* The record's contribution to every quantity (0 where not eligible). */
void arec_values(const struct arec *r, double v[AQ_N]);

/* Read an extract CSV written by audit-gen (plain, unquoted). Returns the
 * number of records (>= 0) into *out (caller frees), or -1 with a message. */
long arec_read(const char *path, struct arec **out);

#endif
