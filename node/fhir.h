/*
 * fhir.h - the FHIR R4 Bulk Data adapter: reads a Bulk Data export folder
 * (NDJSON, one resource per line, plain or gzip) and produces one
 * member_record per patient alive in a calendar year, as the Synthea
 * adapter does (docs/sources.md gives the mapping field by field).
 *
 * Files: Patient (required), Encounter, Condition, Observation, Coverage,
 * ExplanationOfBenefit, named as Bulk Data servers name them
 * ("Patient.ndjson", "Patient.000.ndjson", "1.Patient.ndjson", with or
 * without ".gz"). Lines are parsed one at a time with jansson, so memory
 * is bounded by the number of patients and the longest line, not by the
 * file size. Patient ids stay in this module.
 */
#ifndef EQ_FHIR_H
#define EQ_FHIR_H

#include <stddef.h>

#include "ccc.h"
#include "extract.h"
#include "profile.h"
#include "record.h"

struct fhir_options {
    int year;                              /* calendar year, 1900..2200     */
    const struct code_rule *county_rules;  /* [map.county]: name -> FIPS    */
    int n_county_rules;
    /* The other code maps of the configuration, indexed by COL_* of
     * extract.h, each tried (case-insensitively, trimmed) before the
     * built-in mapping: COL_RACE and COL_ETHNICITY (a US Core ombCategory or
     * detailed code, or the text when there is no coding), COL_SEX
     * (Patient.gender as written), COL_LANGUAGE (a communication.language
     * coding code, or its text) and COL_PAYER (a Coverage type coding code,
     * type.text or payor display). A target that is not a standard code is
     * fatal. Other columns' rules are ignored: FHIR has no such field. */
    const struct code_rule *rules[COL__COUNT];
    int n_rules[COL__COUNT];
    int strict;                            /* abort on the first bad line   */
    const struct ccc *ccc;                 /* cmc from Conditions, or NULL  */
};

/* Reads the export in `dir` and hands each member of year o->year to
 * sink(sink_ctx, record, +1), in Patient file order, after all files are
 * read. The profile (zero-initialised by the caller) receives: source =
 * dir, rows_read = Patient lines, rows_accepted = members, every rejected
 * line of any file as "FILE: message" with its line number (a line that is
 * not JSON, not an object, of another resourceType, or with a bad value),
 * one map_rules entry per rule (county, race, ethnicity, sex, language,
 * payer) with its hits (members; payer rules: Coverage resources of
 * members), map misses per column (members with a race, ethnicity, sex,
 * language or county value that is neither standard nor mapped), and the
 * measures the export cannot feed.
 * Returns 0, or -1 with a message: no Patient file, an unreadable file, a
 * line over 16 MiB, or the first bad line in strict mode. */
int fhir_read(const char *dir, const struct fhir_options *o, record_sink_fn sink,
              void *sink_ctx, struct profile *prof, char *err, size_t errlen);

/* Shared with the OMOP adapter (omop.c), so that both map alike. */
struct hrsn_flags {
    uint8_t food, housing, transport, utilities, safety;
};
/* 1 when code is a PRAPARE or AHC HRSN LOINC code (panel or item). */
int fhir_hrsn_item(const char *loinc);
/* The i-th of those codes, NULL past the end. */
const char *fhir_hrsn_code(size_t i);
/* Sets the domains an answer (text or display) to item `loinc` is
 * positive for; refusals never are (docs/sources.md). */
void fhir_hrsn_positive(struct hrsn_flags *f, const char *loinc, const char *answer);
/* BCP 47 tag ("es", "en-US") or ISO 639-3 code -> record_lang_pack(). */
uint16_t fhir_language(const char *tag);
/* County: 5-digit FIPS, or a name through the rules (*rule = index used,
 * else -1), then California's counties; COUNTY_UNKNOWN otherwise. */
int fhir_county(const struct code_rule *rules, int nrules, const char *text, int *rule);
/* Payer code (PAYER_*) of a Source of Payment Typology code (by its first
 * digit) or of a payer name ("Dual Eligible", "Medicaid", ...); -1 empty. */
int fhir_payer_sopt(const char *code);
int fhir_payer_text(const char *text);

#endif
