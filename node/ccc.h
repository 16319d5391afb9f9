/*
 * ccc.h - the Pediatric Complex Chronic Conditions classification, version 2
 * (Feudtner et al., BMC Pediatrics 2014;14:199): ICD-10-CM diagnosis codes
 * to CCC categories, for deriving `cmc` (child with medical complexity) on
 * site when the source carries diagnoses but no cmc flag ([input] cmc = ccc).
 *
 * The code list is data (data/ccc_v2_icd10cm.tsv, transcribed from the
 * paper's Additional file 1), read once with ccc_load(); this module only
 * knows how its entries match a code.
 */
#ifndef EQ_CCC_H
#define EQ_CCC_H

#include <stddef.h>
#include <stdint.h>

/* The categories, in the paper's order; bit i of a mask is category i. */
enum {
    CCC_NEUROMUSC, CCC_CVD, CCC_RESPIRATORY, CCC_RENAL, CCC_GI, CCC_HEMATO_IMMU,
    CCC_METABOLIC, CCC_CONGENI_GENETIC, CCC_MALIGNANCY, CCC_NEONATAL,
    CCC_TECH_DEP, CCC_TRANSPLANT,
    CCC__COUNT
};

/* Members under this age (years at the end of the period) are classified;
 * older members keep cmc unknown. */
#define CCC_AGE_LIMIT 21

struct ccc;

/* Reads a code list (tab-separated: category id, subcategory, code or
 * range; '#' comments; one header line "category\tsubcategory\tcode").
 * Returns the list (the caller's, free with ccc_destroy) or NULL with
 * "PATH:LINE: message" in err: unreadable file, unknown category, a code
 * that is not ICD-10-CM shaped (a letter, then alphanumerics, 3..8 of them
 * without dots), a range whose ends are out of order, or no entries. */
struct ccc *ccc_load(const char *path, char *err, size_t errlen);

void ccc_destroy(struct ccc **p);

/* Adds a crosswalk from SNOMED CT concepts to ICD-10-CM codes (for sources
 * that code diagnoses in SNOMED CT, such as Synthea): tab-separated, header
 * "snomed\ticd10cm" (further columns ignored), '#' comments; a concept
 * may appear on several lines. A concept then has the categories of its
 * ICD-10-CM codes. Returns 0, or -1 with "PATH:LINE: message" in err. */
int ccc_add_crosswalk(struct ccc *c, const char *path, char *err, size_t errlen);

/* Categories of one ICD-10-CM diagnosis code ("E84.0", "e840", " Q21.3 "),
 * or of a SNOMED CT concept id (all digits) through the crosswalk:
 * a bitmask of (1u << CCC_*), 0 when the code is in no category or is not
 * a code at all. Safe on any bytes; never fails. */
uint32_t ccc_classify(const struct ccc *c, const char *code, size_t len);

/* Number of categories (CCC__COUNT) and the id of category i
 * ("neuromusc", ...; "?" out of range). */
int ccc_category_count(void);
const char *ccc_category_name(int i);

/* Number of entries (codes and ranges) read. */
size_t ccc_entry_count(const struct ccc *c);

#endif
