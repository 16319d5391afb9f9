/* audit_model.c - the auditor's own reading of extract.md and measures.md:
 * one record's contribution to each additive quantity of a cell. Nothing here
 * is taken from common/ or node/; a disagreement with what equity-node
 * releases shows up as a definition mismatch in the audit. */
#include "audit_model.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const aq_name[AQ_N] = {
    "members",
    "member_months",
    "ed_visits",
    "ip_admits",
    "members(ip_admits>0)",
    "member_months(ip_admits>0)",
    "readmits_30d",
    "wellness_visits",
    "members(scheduled>0)",
    "member_months(scheduled>0)",
    "scheduled_appts",
    "no_shows",
    "members(any_visit)",
    "member_months(any_visit)",
    "visits(tele+pc)",
    "telehealth_visits",
    "members(diabetes)",
    "member_months(diabetes)",
    "hba1c_poor",
    "members(hypertension)",
    "member_months(hypertension)",
    "bp_controlled",
    "members(screened)",
    "member_months(screened)",
    "hrsn_food+",
    "hrsn_housing+",
    "hrsn_transport+",
    "hrsn_utilities+",
    "hrsn_safety+",
    "hrsn_any+",
    "cost_sum",
    "cost_sum_sq",
    "respondents",
    "member_months(respondents)",
    "score_sum",
    "score_sum_sq",
    "members(ppc)",
    "member_months(ppc)",
    "ppc_prenatal",
    "ppc_postpartum",
    "members(fum)",
    "member_months(fum)",
    "fum_7d",
    "fum_30d",
    "members(cis)",
    "member_months(cis)",
    "cis_combo10",
};

void arec_values(const struct arec *r, double v[AQ_N])
{
    memset(v, 0, sizeof(double) * AQ_N);
    if (!(r->mm > 0))
        return; /* measures.md: population = members with member_months > 0 */
    v[AQ_POP_M] = 1;
    v[AQ_POP_MM] = r->mm;
    v[AQ_ED] = r->ed;
    v[AQ_IP] = r->ip;
    if (r->ip > 0) {
        v[AQ_RA_M] = 1;
        v[AQ_RA_MM] = r->mm;
        v[AQ_RA_N] = r->readmit;
    }
    v[AQ_WELL] = r->well == 1;
    if (r->sched > 0) {
        v[AQ_NS_M] = 1;
        v[AQ_NS_MM] = r->mm;
        v[AQ_NS_D] = r->sched;
        v[AQ_NS_N] = r->noshow;
    }
    if (r->tele + r->pc > 0) {
        v[AQ_TH_M] = 1;
        v[AQ_TH_MM] = r->mm;
        v[AQ_TH_D] = r->tele + r->pc;
        v[AQ_TH_N] = r->tele;
    }
    if (r->diab == 1) {
        v[AQ_DB_M] = 1;
        v[AQ_DB_MM] = r->mm;
        v[AQ_DB_N] = r->poor == 1;
    }
    if (r->htn == 1) {
        v[AQ_HT_M] = 1;
        v[AQ_HT_MM] = r->mm;
        v[AQ_HT_N] = r->bpc == 1;
    }
    if (r->scr == 1) {
        v[AQ_SC_M] = 1;
        v[AQ_SC_MM] = r->mm;
        v[AQ_HF] = r->hf == 1;
        v[AQ_HH] = r->hh == 1;
        v[AQ_HTR] = r->htr == 1;
        v[AQ_HU] = r->hu == 1;
        v[AQ_HS] = r->hs == 1;
        v[AQ_HA] = (r->hf | r->hh | r->htr | r->hu | r->hs) == 1;
    }
    v[AQ_COST] = r->cost;
    v[AQ_COSTSQ] = r->cost * r->cost;
    if (r->exp >= 0) {
        v[AQ_EX_M] = 1;
        v[AQ_EX_MM] = r->mm;
        v[AQ_EX_S] = r->exp;
        v[AQ_EX_SQ] = r->exp * r->exp;
    }
    if (r->ppc == 1) {
        v[AQ_PPC_M] = 1;
        v[AQ_PPC_MM] = r->mm;
        v[AQ_PPC_PRE] = r->ppc_pre == 1;
        v[AQ_PPC_POST] = r->ppc_post == 1;
    }
    if (r->fum == 1) {
        v[AQ_FUM_M] = 1;
        v[AQ_FUM_MM] = r->mm;
        v[AQ_FUM_7] = r->fum7 == 1;
        v[AQ_FUM_30] = r->fum30 == 1;
    }
    if (r->cis == 1 && r->age >= 0 && r->age < 3) {
        v[AQ_CIS_M] = 1;
        v[AQ_CIS_MM] = r->mm;
        v[AQ_CIS_N] = r->cis10 == 1;
    }
}

/* Optional columns: identity stratifiers (text), HEDIS-style flags, and
 * the detailed race and ethnicity responses (OPT[12]). */
static const char *const OPT[] = {
    "race_source", "ethnicity_source", "sexual_orientation", "gender_identity",
    "hedis_ppc_denominator", "hedis_ppc_prenatal", "hedis_ppc_postpartum",
    "hedis_fum_denominator", "hedis_fum_7d", "hedis_fum_30d", "hedis_cis_denominator",
    "hedis_cis_combo10", "race_detail"};
#define NOPT (sizeof(OPT) / sizeof(OPT[0]))

static const char *const COLS[] = {
    "member_id", "age", "sex", "race", "ethnicity", "language", "payer", "adi_decile",
    "disability", "cmc", "county", "member_months", "ed_visits", "ip_admits",
    "ip_readmits_30d", "primary_care_visits", "telehealth_visits", "scheduled_appts",
    "no_shows", "wellness_visit", "diabetes", "hba1c_poor_control", "hypertension",
    "bp_controlled", "hrsn_screened", "hrsn_food", "hrsn_housing", "hrsn_transport",
    "hrsn_utilities", "hrsn_safety", "total_cost", "experience_score"};
#define NCOLS (sizeof(COLS) / sizeof(COLS[0]))

static void copy_code(char *dst, size_t n, const char *src, int upper)
{
    size_t i = 0;
    for (; src[i] && i + 1 < n; i++)
        dst[i] = (char)(upper ? toupper((unsigned char)src[i]) : tolower((unsigned char)src[i]));
    dst[i] = '\0';
}

static int to_int(const char *s, int dflt)
{
    if (!*s)
        return dflt;
    char *end;
    long v = strtol(s, &end, 10);
    return *end ? dflt : (int)v;
}

const struct rd_code rd_codes[] = {
    {"CHINESE", "2034-7", "EAST_ASIAN", "ASIAN"},
    {"JAPANESE", "2039-6", "EAST_ASIAN", "ASIAN"},
    {"KOREAN", "2040-4", "EAST_ASIAN", "ASIAN"},
    {"ASIAN_INDIAN", "2029-7", "SOUTH_ASIAN", "ASIAN"},
    {"BANGLADESHI", "2030-5", "SOUTH_ASIAN", "ASIAN"},
    {"NEPALESE", "2050-3", "SOUTH_ASIAN", "ASIAN"},
    {"PAKISTANI", "2044-6", "SOUTH_ASIAN", "ASIAN"},
    {"SRI_LANKAN", "2045-3", "SOUTH_ASIAN", "ASIAN"},
    {"BURMESE", "2032-1", "SOUTHEAST_ASIAN", "ASIAN"},
    {"CAMBODIAN", "2033-9", "SOUTHEAST_ASIAN", "ASIAN"},
    {"FILIPINO", "2036-2", "SOUTHEAST_ASIAN", "ASIAN"},
    {"HMONG", "2037-0", "SOUTHEAST_ASIAN", "ASIAN"},
    {"INDONESIAN", "2038-8", "SOUTHEAST_ASIAN", "ASIAN"},
    {"LAO", "2041-2", "SOUTHEAST_ASIAN", "ASIAN"},
    {"THAI", "2046-1", "SOUTHEAST_ASIAN", "ASIAN"},
    {"VIETNAMESE", "2047-9", "SOUTHEAST_ASIAN", "ASIAN"},
    {"MEXICAN", "2148-5", "MEXICAN_GROUP", "HISPANIC"},
    {"PUERTO_RICAN", "2180-8", "CARIBBEAN_HISPANIC", "HISPANIC"},
    {"CUBAN", "2182-4", "CARIBBEAN_HISPANIC", "HISPANIC"},
    {"SALVADORAN", "2161-8", "CENTRAL_AMERICAN", "HISPANIC"},
    {"LEBANESE", "", "MIDDLE_EASTERN", "MENA"},
    {"IRANIAN", "", "MIDDLE_EASTERN", "MENA"},
    {"EGYPTIAN", "", "NORTH_AFRICAN", "MENA"},
};
const int rd_ncodes = (int)(sizeof(rd_codes) / sizeof(rd_codes[0]));

/* minimum categories as responses, and their CDC codes */
static const char *const rd_min[][2] = {
    {"AIAN", "AIAN"}, {"ASIAN", "ASIAN"}, {"BLACK", "BLACK"}, {"MENA", "MENA"},
    {"NHPI", "NHPI"}, {"WHITE", "WHITE"}, {"HISPANIC", "HISPANIC"}, {"1002-5", "AIAN"},
    {"2028-9", "ASIAN"}, {"2054-5", "BLACK"}, {"2118-8", "MENA"}, {"2076-8", "NHPI"},
    {"2106-3", "WHITE"}, {"2135-2", "HISPANIC"}};

const char *rd_minimum_of(const char *s)
{
    for (int i = 0; i < rd_ncodes; i++)
        if (!strcmp(rd_codes[i].code, s) || !strcmp(rd_codes[i].group, s))
            return rd_codes[i].minimum;
    return NULL;
}

const char *rd_group_of(const char *d)
{
    for (int i = 0; i < rd_ncodes; i++)
        if (!strcmp(rd_codes[i].code, d))
            return rd_codes[i].group;
    return NULL;
}

/* "alone": one detailed code (group: detailed codes of one group) and no
 * minimum category but its own; none: UNKNOWN; else MULTIPLE */
void rd_strata(const char *value, char *rdd, size_t nd, char *rdg, size_t ng)
{
    const char *det[16], *mins[16];
    int n = 0, nm = 0;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", value);
    for (char *save = NULL, *t = strtok_r(buf, ";|", &save); t; t = strtok_r(NULL, ";|", &save)) {
        while (*t == ' ')
            t++;
        for (char *e = t + strlen(t); e > t && e[-1] == ' ';)
            *--e = '\0';
        for (char *u = t; *u; u++)
            *u = (char)toupper((unsigned char)*u);
        const char *m = NULL;
        for (int i = 0; i < rd_ncodes && !m; i++)
            if (!strcmp(t, rd_codes[i].code) || (*rd_codes[i].cdc && !strcmp(t, rd_codes[i].cdc))) {
                if (n < 16)
                    det[n++] = rd_codes[i].code;
                m = rd_codes[i].minimum;
            }
        for (size_t i = 0; i < sizeof(rd_min) / sizeof(rd_min[0]) && !m; i++)
            if (!strcmp(t, rd_min[i][0]))
                m = rd_min[i][1];
        int dup = !m;
        for (int i = 0; i < nm && !dup; i++)
            dup = !strcmp(mins[i], m);
        if (!dup && nm < 16)
            mins[nm++] = m;
    }
    int same = 1;
    for (int i = 1; i < n; i++)
        same &= !strcmp(det[i], det[0]);
    int onegroup = 1;
    for (int i = 1; i < n; i++)
        onegroup &= !strcmp(rd_group_of(det[i]), rd_group_of(det[0]));
    int onemin = n > 0 && nm == 1;
    snprintf(rdd, nd, "%s", n == 0 ? "UNKNOWN" : same && onemin ? det[0] : "MULTIPLE");
    snprintf(rdg, ng, "%s", n == 0 ? "UNKNOWN" : onegroup && onemin ? rd_group_of(det[0]) : "MULTIPLE");
}

const char *const rd_races[6] = {"AIAN", "ASIAN", "BLACK", "MENA", "NHPI", "WHITE"};

unsigned rd_aic_races(const char *value, const char *race)
{
    unsigned m = 0;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", value);
    for (char *save = NULL, *t = strtok_r(buf, ";|", &save); t; t = strtok_r(NULL, ";|", &save)) {
        while (*t == ' ')
            t++;
        for (char *e = t + strlen(t); e > t && e[-1] == ' ';)
            *--e = '\0';
        for (char *u = t; *u; u++)
            *u = (char)toupper((unsigned char)*u);
        const char *cat = NULL;
        for (int i = 0; i < rd_ncodes && !cat; i++)
            if (!strcmp(t, rd_codes[i].code) || (*rd_codes[i].cdc && !strcmp(t, rd_codes[i].cdc)))
                cat = rd_codes[i].minimum;
        for (size_t i = 0; i < sizeof(rd_min) / sizeof(rd_min[0]) && !cat; i++)
            if (!strcmp(t, rd_min[i][0]))
                cat = rd_min[i][1];
        for (int i = 0; cat && i < 6; i++)
            if (!strcmp(cat, rd_races[i]))
                m |= 1u << i;
    }
    for (int i = 0; !m && i < 6; i++)
        if (!strcmp(race, rd_races[i]))
            m = 1u << i;
    return m;
}

long arec_read(const char *path, struct arec **out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "audit: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    long n = 0, alloc = 0;
    struct arec *v = NULL;
    int pos[NCOLS], opos[NOPT];
    if (getline(&line, &cap, f) < 0) {
        fprintf(stderr, "audit: %s: empty\n", path);
        goto fail;
    }
    {
        for (size_t c = 0; c < NCOLS; c++)
            pos[c] = -1;
        for (size_t c = 0; c < NOPT; c++)
            opos[c] = -1;
        int i = 0;
        for (char *save = NULL, *t = strtok_r(line, ",\r\n", &save); t;
             t = strtok_r(NULL, ",\r\n", &save), i++)
        {
            for (size_t c = 0; c < NCOLS; c++)
                if (strcmp(t, COLS[c]) == 0)
                    pos[c] = i;
            for (size_t c = 0; c < NOPT; c++)
                if (strcmp(t, OPT[c]) == 0)
                    opos[c] = i;
        }
        for (size_t c = 0; c < NCOLS; c++)
            if (pos[c] < 0) {
                fprintf(stderr, "audit: %s: no column %s\n", path, COLS[c]);
                goto fail;
            }
    }
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        const char *fld[64];
        int nf = 0;
        for (char *p = line; nf < 64;) {
            fld[nf++] = p;
            char *c = strchr(p, ',');
            if (!c)
                break;
            *c = '\0';
            p = c + 1;
        }
        const char *g[NCOLS];
        for (size_t c = 0; c < NCOLS; c++) {
            if (pos[c] >= nf) {
                fprintf(stderr, "audit: %s:%ld: short row\n", path, n + 2);
                goto fail;
            }
            g[c] = fld[pos[c]];
        }
        if (n == alloc) {
            alloc = alloc ? 2 * alloc : 1024;
            struct arec *nv = realloc(v, (size_t)alloc * sizeof(*v));
            if (!nv)
                goto fail;
            v = nv;
        }
        struct arec *r = &v[n++];
        memset(r, 0, sizeof(*r));
        copy_code(r->id, sizeof(r->id), g[0], 0);
        r->age = to_int(g[1], -1);
        copy_code(r->sex, sizeof(r->sex), g[2], 1);
        copy_code(r->race, sizeof(r->race), g[3], 1);
        copy_code(r->eth, sizeof(r->eth), g[4], 1);
        copy_code(r->lang, sizeof(r->lang), g[5], 0);
        copy_code(r->payer, sizeof(r->payer), g[6], 1);
        r->adi = to_int(g[7], 0);
        copy_code(r->dis, sizeof(r->dis), g[8], 1);
        copy_code(r->cmc, sizeof(r->cmc), g[9], 1);
        copy_code(r->county, sizeof(r->county), g[10], 0);
        r->mm = strtod(g[11], NULL);
        int *ints[] = {&r->ed,    &r->ip,  &r->readmit, &r->pc,   &r->tele, &r->sched,
                       &r->noshow, &r->well, &r->diab,  &r->poor, &r->htn,  &r->bpc,
                       &r->scr,   &r->hf,  &r->hh,      &r->htr,  &r->hu,   &r->hs};
        for (int i = 0; i < 18; i++)
            *ints[i] = to_int(g[12 + i], 0);
        r->cost = strtod(g[30], NULL);
        r->exp = *g[31] ? strtod(g[31], NULL) : -1;
        const char *o[NOPT];
        for (size_t c = 0; c < NOPT; c++)
            o[c] = opos[c] >= 0 && opos[c] < nf ? fld[opos[c]] : "";
        copy_code(r->rsrc, sizeof(r->rsrc), o[0], 1);
        copy_code(r->esrc, sizeof(r->esrc), o[1], 1);
        copy_code(r->so, sizeof(r->so), o[2], 1);
        copy_code(r->gi, sizeof(r->gi), o[3], 1);
        int *flags[] = {&r->ppc, &r->ppc_pre, &r->ppc_post, &r->fum,
                        &r->fum7, &r->fum30, &r->cis, &r->cis10};
        for (int i = 0; i < 8; i++)
            *flags[i] = to_int(o[4 + i], 0);
        rd_strata(o[12], r->rdd, sizeof(r->rdd), r->rdg, sizeof(r->rdg));
        r->aicr = rd_aic_races(o[12], r->race);
    }
    free(line);
    fclose(f);
    *out = v;
    return n;
fail:
    free(line);
    free(v);
    fclose(f);
    return -1;
}
