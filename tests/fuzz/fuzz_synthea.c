/*
 * fuzz_synthea.c - libFuzzer target for the Synthea adapter (node/synthea.c).
 *
 * A small, valid export folder is written once to a temporary directory.
 * The first input byte picks which of its six files the rest of the input
 * replaces (and, with bit 3, strict mode); the adapter then reads the folder.
 * Every input must end in 0 or -1 with a message, never in a crash, a leak
 * or undefined behaviour. The file is restored after each run. The folder
 * is removed at exit (libFuzzer's -max_total_time ends with _Exit, which
 * leaves it in /dev/shm or /tmp).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "synthea.h"

static const char *const names[6] = {"payers.csv", "patients.csv", "payer_transitions.csv",
                                     "encounters.csv", "conditions.csv", "observations.csv"};

static const char *const texts[6] = {
    "Id,NAME\np1,Medicaid\np2,Aetna\np3,NO_INSURANCE\n",
    "Id,BIRTHDATE,DEATHDATE,RACE,ETHNICITY,GENDER,STATE,COUNTY,FIPS\n"
    "A,1980-03-01,,black,nonhispanic,F,California,Los Angeles County,\n"
    "B,1950-07-15,2023-05-01,white,hispanic,M,California,Yuba County,06115\n"
    "C,2023-07-02,,other,,F,Texas,Harris County,\n",
    "PATIENT,MEMBERID,START_YEAR,END_YEAR,PAYER\n"
    "A,m,2022-01-01T00:00:00Z,2023-06-01T00:00:00Z,p1\n"
    "A,m,2023-06-01T00:00:00Z,,p2\n"
    "B,m,2020,2023,p3\n",
    "Id,START,STOP,PATIENT,ENCOUNTERCLASS,TOTAL_CLAIM_COST\n"
    "e1,2023-02-01T10:00:00Z,2023-02-05T10:00:00Z,A,inpatient,100.5\n"
    "e2,2023-02-20T10:00:00Z,2023-02-21T10:00:00Z,A,inpatient,10\n"
    "e3,2023-03-01T00:00:00Z,2023-03-01T01:00:00Z,B,emergency,1\n"
    "e4,2023-03-02,2023-03-02,C,wellness,2\n",
    "START,STOP,PATIENT,CODE\n"
    "2010-01-01,,A,44054006\n"
    "2010-01-01,2023-01-05,B,59621000\n",
    "DATE,PATIENT,CODE,VALUE\n"
    "2023-03-01T00:00:00Z,A,4548-4,9.5\n"
    "2023-03-01T00:00:00Z,B,8480-6,120\n"
    "2023-03-01T00:00:00Z,B,8462-4,80\n"
    "2023-03-01T00:00:00Z,A,54899-0,Spanish\n"
    "2023-03-01T00:00:00Z,A,93031-3,Food\n",
};

static char dir[64];

static int put(const char *name, const void *data, size_t n)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void cleanup(void)
{
    char path[128];
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* tmpfs when there is one: the target writes a file per input */
    snprintf(dir, sizeof dir, "%s/fuzz_synthea_......",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    memset(dir + strlen(dir) - 6, 'X', 6); /* the mkdtemp template */
    if (!mkdtemp(dir))
        abort();
    for (int i = 0; i < 6; i++)
        if (put(names[i], texts[i], strlen(texts[i])) < 0)
            abort();
    atexit(cleanup);
    return 0;
}

static void sink(void *ctx, const struct member_record *r, int sign)
{
    uint64_t *n = ctx;
    /* touch the record so the sanitizers see every field was written */
    *n += (uint64_t)sign + r->ip_readmits_30d + (r->member_months > RECORD_MAX_MONTHS);
    if (r->ip_readmits_30d > r->ip_admits || r->member_months < 0 || r->member_months > RECORD_MAX_MONTHS)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int which = data[0] % 6;
    int strict = (data[0] >> 3) & 1;
    if (put(names[which], data + 1, size - 1) < 0)
        abort();
    struct code_rule rule = {.from = "Harris County", .to = "48201"};
    struct synthea_options o = {.year = 2023, .county_rules = &rule, .n_county_rules = 1,
                                .strict = strict};
    struct profile p;
    memset(&p, 0, sizeof p);
    char err[256];
    uint64_t n = 0;
    int rc = synthea_read(dir, &o, sink, &n, &p, err, sizeof err);
    if (rc != 0 && (rc != -1 || err[0] == '\0'))
        abort();
    profile_free(&p);
    if (put(names[which], texts[which], strlen(texts[which])) < 0)
        abort();
    return 0;
}
