/*
 * catalog.h - the measure catalog and the stratifiers (measures.md).
 *
 * These names are stable: the protocol, the store and the reports use them.
 * Both the node (which computes cells) and the coordinator (which pools and
 * analyses them) include this header, so the definitions live in one place.
 */
#ifndef EQ_CATALOG_H
#define EQ_CATALOG_H

#include <stddef.h>

/* ---- Measures ---------------------------------------------------------- */

typedef enum {
    KIND_COUNT,      /* population: numerator = denominator = members           */
    KIND_PROPORTION, /* numerator / denominator, both counts                    */
    KIND_RATE,       /* events per 1,000 member-years (denominator = months)    */
    KIND_MEAN,       /* numerator / denominator, sum_sq gives the variance       */
    KIND_PMPM        /* cost per member per month (denominator = member months) */
} measure_kind;

typedef enum {
    M_POPULATION,
    M_ED_RATE,
    M_IP_RATE,
    M_READMIT_30D,
    M_WELLNESS,
    M_NO_SHOW,
    M_TELEHEALTH_SHARE,
    M_DIABETES_POOR_CONTROL,
    M_BP_CONTROL,
    M_HRSN_SCREENING,
    M_HRSN_FOOD,
    M_HRSN_HOUSING,
    M_HRSN_TRANSPORT,
    M_HRSN_UTILITIES,
    M_HRSN_SAFETY,
    M_HRSN_ANY,
    M_COST_PMPM,
    M_EXPERIENCE,
    M__COUNT
} measure_id;

/* Better direction of a measure (metrics.md section 3). */
typedef enum { BETTER_NONE = 0, BETTER_LOWER = -1, BETTER_HIGHER = 1 } measure_better;

/* What a measure's numbers mean; used by suppression to know which numbers
 * are counts of people or events (small-count rule) and which are not. */
struct measure_def {
    const char *name;          /* stable id, e.g. "ed_rate"                   */
    measure_kind kind;
    measure_better better;
    int numerator_is_count;    /* numerator counts members or events          */
    int denominator_is_count;  /* denominator counts members or events        */
    const char *population;    /* eligible population, for documentation      */
    const char *label;         /* human label for tables                      */
    /* Channels: which additive statistic each field of the cell carries.
     * Two measures that carry the same channel release the same number for
     * the same stratum (e.g. population.members == ed_rate.members), which
     * complementary suppression must take into account (privacy.md). */
    int ch_members, ch_months, ch_denominator, ch_numerator, ch_sum_sq;
    /* What else a reader knows about these numbers, in every stratum
     * (suppression's model of a reader's knowledge, docs/design.md): each is
     * a fact of the definitions, not of the data, so a measure added here
     * gets its inequalities without a change to suppress.c.
     *   parent: the measure whose eligible population contains this one's
     *     (-1: none): members <= the parent's members, member months <= the
     *     parent's member months;
     *   num_per_den: numerator <= num_per_den x denominator (1 for a
     *     proportion of members or events among members or events, 10 for
     *     a 0-10 score per respondent; 0: no bound);
     *   den_per_member: each eligible member adds at least this much to the
     *     denominator (readmissions: >= 1 admission), so members <=
     *     denominator / den_per_member (0: no bound);
     *   sq_per_num: sum of squares <= sq_per_num x numerator (a score in
     *     0..10: s^2 <= 10 s, in the cells' units of hundredths 1000;
     *     0: no bound);
     *   any_of: the numerator counts the members positive in any of these
     *     measures' numerators (list ends with -1; NULL: none), so it is >=
     *     each of them and <= their sum.
     * Member months are at most CATALOG_MAX_MONTHS per member (extract.md),
     * for every measure. */
    int parent;
    double num_per_den;
    double den_per_member;
    double sq_per_num;
    const int *any_of;
    const char *unit;          /* unit of the value, for tables            */
    /* A built-in id (M_*) that the active catalog does not define: no
     * round may ask for it, no node computes it; its name stays reserved. */
    int absent;
};

/* Most member months one member has in a period (extract.md: 0-12). */
#define CATALOG_MAX_MONTHS 12

/* Channel ids: each is one additive statistic of the member-level data. */
enum {
    CH_NONE = -1,
    CH_MEMBERS_ALL, CH_MONTHS_ALL, CH_ED, CH_IP, CH_WELLNESS, CH_SCREENED,
    CH_COST, CH_COST_SQ,
    CH_MEMBERS_IP, CH_MONTHS_IP, CH_READMITS,
    CH_MEMBERS_SCHED, CH_MONTHS_SCHED, CH_SCHED, CH_NOSHOW,
    CH_MEMBERS_VISIT, CH_MONTHS_VISIT, CH_VISITS, CH_TELE,
    CH_MEMBERS_DIAB, CH_MONTHS_DIAB, CH_POOR,
    CH_MEMBERS_HTN, CH_MONTHS_HTN, CH_BPC,
    CH_MONTHS_SCREENED, CH_FOOD, CH_HOUSING, CH_TRANSPORT, CH_UTILITIES,
    CH_SAFETY, CH_HRSN_ANY,
    CH_MEMBERS_EXP, CH_MONTHS_EXP, CH_EXP_SUM, CH_EXP_SQ,
    CH__COUNT
};

/* ---- The active catalog ----------------------------------------------- *
 *
 * A catalog is the federation's agreed list of measures (and stratifiers):
 * the compiled-in one (catalog_builtin()), or one read from a catalog file
 * (catalog_file.h; configs/catalog.ini is the default). Measure ids are
 * small integers: a measure with a built-in name keeps its M_* id, others
 * follow from M__COUNT in file order, up to CATALOG_MAX_MEASURES. Channels
 * of a file catalog are numbered by catalog_file.c (the default file gives
 * the CH_* numbers above). A program sets its catalog once at start, before
 * any thread runs; everything below reads the active one. */
#define CATALOG_MAX_MEASURES 32   /* bit masks of measures are 32 bits     */
#define CATALOG_MAX_CHANNELS 96

struct catalog;

/* Measure id of the compiled-in table (catalog.c), or NULL. */
const struct measure_def *catalog_builtin_measure(int id);
/* The compiled-in catalog (measures above, channels CH_*). */
const struct catalog *catalog_builtin(void);
void catalog_set_active(const struct catalog *c);
const struct catalog *catalog_active(void);
/* Whether c is the compiled-in catalog (its tally is the hand-written one). */
int catalog_is_builtin(const struct catalog *c);
/* Identity of a catalog: name, version, SHA-256 (64 hex) of its canonical
 * text (catalog_file.h). */
const char *catalog_name(const struct catalog *c);
const char *catalog_version(const struct catalog *c);
const char *catalog_sha256(const struct catalog *c);
/* Where it was read from ("" for the compiled-in one). */
const char *catalog_path(const struct catalog *c);

/* Measure ids of the active catalog are 0 .. catalog_n_measures()-1;
 * catalog_measure() of such an id is never NULL (see `absent`). */
int catalog_n_measures(void);
int catalog_n_channels(void);
const struct measure_def *catalog_measure(int id);
/* Returns the id of a measure of the active catalog (case-sensitive), or
 * -1 (also for an absent built-in). */
int catalog_measure_find(const char *name);
/* Sets on[m] = 1 for every measure the active catalog defines (others 0;
 * on has CATALOG_MAX_MEASURES entries). */
void catalog_all_measures(unsigned char *on);
/* Measures of the active catalog that one member can be left out of alone
 * (bit = id): those whose every channel is their own (node/tally.h). */
unsigned catalog_leave_out(void);
const char *catalog_kind_name(measure_kind kind);

/* ---- Codes of the extract (extract.md) --------------------------------- */

enum { RACE_AIAN, RACE_ASIAN, RACE_BLACK, RACE_MENA, RACE_NHPI, RACE_WHITE,
       RACE_MULTI, RACE_OTHER, RACE_UNKNOWN, RACE_DECLINED, RACE__COUNT };
enum { ETH_HISPANIC, ETH_NOT_HISPANIC, ETH_UNKNOWN, ETH_DECLINED, ETH__COUNT };
enum { SEX_F, SEX_M, SEX_X, SEX_U, SEX__COUNT };
enum { PAYER_MEDICAID, PAYER_MEDICARE, PAYER_DUAL, PAYER_COMMERCIAL,
       PAYER_UNINSURED, PAYER_OTHER, PAYER_UNKNOWN, PAYER__COUNT };
enum { YNU_Y, YNU_N, YNU_U, YNU__COUNT };

extern const char *const race_codes[RACE__COUNT];
extern const char *const ethnicity_codes[ETH__COUNT];
extern const char *const sex_codes[SEX__COUNT];
extern const char *const payer_codes[PAYER__COUNT];
extern const char *const ynu_codes[YNU__COUNT];

/* Case-insensitive lookup of a code in a table; -1 when absent. */
int catalog_code_find(const char *const *table, int n, const char *s, size_t len);

/* ---- Stratifiers -------------------------------------------------------- */

typedef enum {
    S_TOTAL,
    S_RACE,
    S_ETHNICITY,
    S_RACE_ETHNICITY,
    S_SEX,
    S_AGE_BAND,
    S_LANGUAGE,
    S_NON_ENGLISH,
    S_PAYER,
    S_ADI_QUINTILE,
    S_DISABILITY,
    S_CMC,
    S_COUNTY,
    S_AGE_STD,
    S_HEBA_BAND,
    /* Opt-in (docs/catalog.md): computed only with a catalog that has their
     * [stratifier NAME] section, never by "all" of the default catalog.
     * Identity stratifiers (catalog_stratifier_is_identity): */
    S_RACE_SOURCE,
    S_ETHNICITY_SOURCE,
    S_SEXUAL_ORIENTATION,
    S_GENDER_IDENTITY,
    /* detailed race and ethnicity: */
    S_RACE_DETAIL,   /* detailed race and ethnicity, alone (race_detail.h) */
    S_RACE_GROUP,    /* its intermediate level                              */
    S_RACE_AIC,      /* alone or in combination: not additive               */
    S__COUNT
} stratifier_id;

/* Whether stratifier s is opt-in (S_RACE_SOURCE ... S_RACE_AIC). */
int catalog_stratifier_opt_in(int s);
/* Whether "all" (a node's [report] stratifiers, a round's [round]
 * stratifiers, tally_spec_default) includes s: every stratifier that is
 * not opt-in, and an opt-in one that the active catalog defines. */
int catalog_stratifier_offered(int s);
/* Whether s's strata partition the members (one stratum per member): all
 * but race_aic, where a member counts in every minimum category reported. */
int catalog_stratifier_additive(int s);
/* Whether a two-way table a*b may be computed: not with race_aic (not
 * additive), and race_detail or race_group not crossed with race,
 * ethnicity, race_ethnicity or each other (the suppression model ties
 * detailed race to those through its own atoms, docs/catalog.md). */
int catalog_intersection_allowed(int a, int b);

const char *catalog_stratifier_name(int s);
int catalog_stratifier_find(const char *name, size_t len);

/* Limits of the open code lists, part of the protocol: a node never writes
 * more strata per dimension, and the coordinator refuses a table that has
 * more (so a table's size, and a stratum's index, stay small). */
#define CATALOG_MAX_LANGUAGES 1024   /* language codes, with "other", "und" */
#define CATALOG_MAX_COUNTIES 4096    /* county FIPS codes, with "UNKNOWN"   */
#define CATALOG_MAX_AGE_BANDS 24     /* age bands, without "UNKNOWN"        */

/* Whether code[0..len) is a stratum code of stratifier s exactly as a node
 * writes it: one of the fixed codes (race, sex, payer, ...), or for the open
 * lists an ISO 639 code, "other" or "und" (language), five FIPS digits or
 * "UNKNOWN" (county), "N", "N-M", "N+" or "UNKNOWN" (age_band). */
int catalog_stratum_code_ok(int s, const char *code, size_t len);
/* Most distinct strata one table dimension of stratifier s can have. */
int catalog_stratifier_max_codes(int s);

/* race_ethnicity strata (OMB SPD 15 (2024) tabulation): Hispanic of any race,
 * then race among non-Hispanic members, then unknown and declined. */
enum { RE_HISPANIC, RE_NH_AIAN, RE_NH_ASIAN, RE_NH_BLACK, RE_NH_MENA,
       RE_NH_NHPI, RE_NH_WHITE, RE_NH_MULTI, RE_NH_OTHER, RE_UNKNOWN,
       RE_DECLINED, RE__COUNT };
extern const char *const race_ethnicity_codes[RE__COUNT];
int catalog_race_ethnicity(int race, int ethnicity);

/* 2000 US standard population age groups (metrics.md section 2). */
enum { AGESTD__COUNT = 11 };
extern const char *const age_std_codes[AGESTD__COUNT + 1]; /* + "UNKNOWN" */
extern const double age_std_weights[AGESTD__COUNT];
int catalog_age_std(int age); /* age < 0 (unknown) -> AGESTD__COUNT */

/* heba_band (ACO REACH health equity benchmark adjustment proxy). */
enum { HEBA_TOP, HEBA_MIDDLE, HEBA_BOTTOM, HEBA_UNKNOWN, HEBA__COUNT };
extern const char *const heba_codes[HEBA__COUNT];
int catalog_heba_band(int adi_decile, int payer); /* adi 0 = unknown */

/* adi_quintile strata "1".."5" and "UNKNOWN" (5 = deciles 9-10). */
enum { ADIQ__COUNT = 6 };
extern const char *const adi_quintile_codes[ADIQ__COUNT];
int catalog_adi_quintile(int adi_decile); /* 0 (unknown) -> 5 (UNKNOWN) */

/* non_english strata. */
enum { NONENG_YES, NONENG_NO, NONENG_UNKNOWN, NONENG__COUNT };
extern const char *const non_english_codes[NONENG__COUNT];

/* ---- Identity stratifiers (issue 13; docs/catalog.md "Identity columns") --
 *
 * Source of race and of ethnicity (NCQA reports self-reported and imputed
 * data apart, for race and for ethnicity separately), sexual orientation and
 * gender identity (data/sogi.tsv). Each is a plain partition of the members:
 * its one-way table adds up to the total. They are tallied only when the
 * active catalog defines their [stratifier] section (the default catalog
 * does not: its output is unchanged). */
enum { RSRC_SELF, RSRC_IMPUTED, RSRC_UNKNOWN, RSRC__COUNT };
enum { SO_STRAIGHT, SO_LESBIAN_GAY, SO_BISEXUAL, SO_SOMETHING_ELSE, SO_DONT_KNOW,
       SO_DECLINED, SO_UNKNOWN, SO__COUNT };
enum { GI_FEMALE, GI_MALE, GI_TRANSGENDER_FEMALE, GI_TRANSGENDER_MALE, GI_NONBINARY,
       GI_OTHER, GI_DONT_KNOW, GI_DECLINED, GI_UNKNOWN, GI__COUNT };
extern const char *const race_source_codes[RSRC__COUNT];
extern const char *const sexual_orientation_codes[SO__COUNT];
extern const char *const gender_identity_codes[GI__COUNT];

/* Whether s is one of the opt-in identity stratifiers above (read from
 * the record's identity fields). */
int catalog_stratifier_is_identity(int s);
/* Code index of an identity stratifier's value: its code (case-insensitive)
 * or a standard code of data/sogi.tsv (SNOMED CT, LOINC answer, NullFlavor
 * ASKU/UNK; DIRECT/INDIRECT for a source, NCQA's words); -1 when none. */
int catalog_identity_code(int s, const char *v, size_t len);
/*
 * Intersections: two or three different stratifiers, as in "race*disability"
 * or "race*disability*cmc". Held as three stratifier ids in the order
 * written; a two-way one has S_TOTAL (0) third, so that a zeroed entry with
 * two ids set is a two-way intersection. Three-way intersections cross only
 * stratifiers with fixed code lists (not language or county: their open
 * lists would make the table too large to tally or protect).
 */
#define CATALOG_INTER_DIM 3
/* Most three-way intersections a round may carry; each side's
 * configuration bounds it further (max_three_way, default
 * CATALOG_DEFAULT_THREE_WAY). */
#define CATALOG_MAX_THREE_WAY 8
#define CATALOG_DEFAULT_THREE_WAY "2"

/* Parses one intersection (len bytes of s, no separators) into out.
 * Returns 0, or -1 with a message (quoting at most 60 bytes of s) in err:
 * not two or three stratifiers joined by '*', an unknown stratifier, the
 * same stratifier twice, a three-way one with language or county, or a
 * pair catalog_intersection_allowed refuses. */
int catalog_inter_parse(const char *s, size_t len, int out[CATALOG_INTER_DIM], char *err,
                      size_t errlen);
/* 0 when the active catalog offers every stratifier of x (parsed from the
 * len bytes of item), else -1 with a message naming the one it lacks. */
int catalog_inter_offered(const int x[CATALOG_INTER_DIM], const char *item, size_t len,
                          char *err, size_t errlen);
/* 2 or 3 for a parsed intersection. */
int catalog_inter_ndim(const int x[CATALOG_INTER_DIM]);
/* Whether a and b cross the same stratifiers (in any order). */
int catalog_inter_same(const int a[CATALOG_INTER_DIM], const int b[CATALOG_INTER_DIM]);
/* "race*disability*cmc" into buf (always NUL-terminated). */
void catalog_inter_name(const int x[CATALOG_INTER_DIM], char *buf, size_t len);
/* Three-way intersections among the n of inter. */
int catalog_inter_count_three(const int (*inter)[CATALOG_INTER_DIM], int n);


#endif
