/*
 * std_populations.c - the standard populations of age standardisation
 * (metrics.md section 2), as data with their sources.
 *
 * Cells carry the 11 age groups of the 2000 US standard (age_std: 0, 1-4,
 * 5-14, 15-24, 25-34, 35-44, 45-54, 55-64, 65-74, 75-84, 85+). The 19-group
 * standards are listed in full below and summed into those 11 groups.
 *
 * Sources:
 *  - 2000 US standard, 11 groups, per million: Anderson RN, Rosenberg HM.
 *    Age standardization of death rates: implementation of the year 2000
 *    standard. National Vital Statistics Reports 47(3), 1998, table 1.
 *  - 2000 US standard, 19 groups (SEER "2000 U.S. Std Million"): National
 *    Cancer Institute, SEER, Standard Populations - 19 Age Groups,
 *    https://seer.cancer.gov/stdpopulations/stdpop.19ages.html
 *  - European Standard Population 2013 (per 100,000): Eurostat, Revision of
 *    the European Standard Population, report of Eurostat's task force,
 *    2013 edition, table 2.1 (ISBN 978-92-79-31094-2).
 */
#include <string.h>

#include "catalog.h"
#include "metrics_params.h"

/* 0, 1-4, 5-9, 10-14, ..., 80-84, 85+ */
static const double seer19[19] = {13818, 55317, 72533, 73032, 72169, 66478, 64529,
                                  71044, 80762, 81851, 72118, 62716, 48454, 38793,
                                  34264, 31773, 26999, 17842, 15508};
/* 0, 1-4, 5-9, ..., 85-89, 90+ (20 rows: ESP2013 splits 85+) */
static const double esp2013[20] = {1000, 4000, 5500, 5500, 5500, 6000, 6000,
                                   6500, 7000, 7000, 7000, 7000, 6500, 6000,
                                   5500, 5000, 4000, 2500, 1500, 1000};

/* Sums five-year groups (from index 2 on, pairs) into the 11 groups; the
 * tail (85+) takes every remaining row. */
static void collapse(const double *w, int n, double *out)
{
    out[0] = w[0];
    out[1] = w[1];
    for (int g = 2; g < AGESTD__COUNT - 1; g++)
        out[g] = w[2 * g - 2] + w[2 * g - 1];
    out[AGESTD__COUNT - 1] = 0;
    for (int i = 2 * (AGESTD__COUNT - 1) - 2; i < n; i++)
        out[AGESTD__COUNT - 1] += w[i];
}

static const char *const names[STDPOP__COUNT] = {"us2000_11", "seer2000_19", "esp2013"};

const char *std_population_name(int id)
{
    return id >= 0 && id < STDPOP__COUNT ? names[id] : "";
}

int std_population_find(const char *name)
{
    for (int i = 0; i < STDPOP__COUNT; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

int std_population_weights(int id, double out[AGESTD__COUNT])
{
    switch (id) {
    case STDPOP_US2000_11: memcpy(out, age_std_weights, AGESTD__COUNT * sizeof *out); return 0;
    case STDPOP_SEER2000_19: collapse(seer19, 19, out); return 0;
    case STDPOP_ESP2013: collapse(esp2013, 20, out); return 0;
    default: return -1;
    }
}
