/*
 * fuzz_fhir.c - libFuzzer target for the FHIR Bulk Data reader
 * (node/fhir.c).
 *
 * A small valid export (six NDJSON files) is written once to a temporary
 * folder. The first input byte picks which file the rest of the input
 * replaces (bit 3: strict mode; bit 4: with a CCC v2 code list); the
 * reader then reads the folder. Every input must end in 0, or -1 with a
 * message, never in a crash, a leak or undefined behaviour, and every
 * record handed out must be in range. The file is restored after each run.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "fhir.h"

static const char *const names[6] = {"Patient.ndjson", "Coverage.ndjson", "Encounter.ndjson",
                                     "Condition.ndjson", "Observation.ndjson",
                                     "ExplanationOfBenefit.ndjson"};
static const char *const texts[6] = {
    "{\"resourceType\":\"Patient\",\"id\":\"a\",\"gender\":\"female\",\"birthDate\":\"2015-02-03\","
    "\"extension\":[{\"url\":\"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race\","
    "\"extension\":[{\"url\":\"ombCategory\",\"valueCoding\":{\"code\":\"2054-5\"}}]}],"
    "\"address\":[{\"district\":\"Los Angeles County\"}],"
    "\"communication\":[{\"language\":{\"coding\":[{\"code\":\"es\"}]},\"preferred\":true}]}\n"
    "{\"resourceType\":\"Patient\",\"id\":\"b\",\"birthDate\":\"1950\",\"deceasedDateTime\":\"2023-05-01T00:00:00Z\"}\n",
    "{\"resourceType\":\"Coverage\",\"beneficiary\":{\"reference\":\"Patient/a\"},\"type\":{\"coding\":"
    "[{\"system\":\"https://nahdo.org/sopt\",\"code\":\"2\"}]},\"period\":{\"start\":\"2022-01-01\",\"end\":\"2023-07-01\"}}\n",
    "{\"resourceType\":\"Encounter\",\"class\":{\"code\":\"IMP\"},\"subject\":{\"reference\":\"Patient/a\"},"
    "\"period\":{\"start\":\"2023-02-01T10:00:00Z\",\"end\":\"2023-02-04T10:00:00Z\"}}\n"
    "{\"resourceType\":\"Encounter\",\"class\":{\"code\":\"IMP\"},\"subject\":{\"reference\":\"Patient/a\"},"
    "\"period\":{\"start\":\"2023-02-20T10:00:00Z\",\"end\":\"2023-02-21T10:00:00Z\"}}\n",
    "{\"resourceType\":\"Condition\",\"code\":{\"coding\":[{\"code\":\"E84.0\"},{\"code\":\"E11.9\"}]},"
    "\"subject\":{\"reference\":\"Patient/a\"},\"onsetDateTime\":\"2020-01-01T00:00:00Z\"}\n",
    "{\"resourceType\":\"Observation\",\"code\":{\"coding\":[{\"code\":\"85354-9\"}]},\"subject\":{\"reference\":\"Patient/a\"},"
    "\"effectiveDateTime\":\"2023-03-01T00:00:00Z\",\"component\":[{\"code\":{\"coding\":[{\"code\":\"8480-6\"}]},"
    "\"valueQuantity\":{\"value\":120}},{\"code\":{\"coding\":[{\"code\":\"8462-4\"}]},\"valueQuantity\":{\"value\":80}}]}\n"
    "{\"resourceType\":\"Observation\",\"code\":{\"coding\":[{\"code\":\"88122-7\"}]},\"subject\":{\"reference\":\"Patient/a\"},"
    "\"effectiveDateTime\":\"2023-03-01\",\"valueCodeableConcept\":{\"text\":\"Often true\"}}\n",
    "{\"resourceType\":\"ExplanationOfBenefit\",\"patient\":{\"reference\":\"Patient/a\"},\"billablePeriod\":"
    "{\"start\":\"2023-02-01\"},\"total\":[{\"category\":{\"coding\":[{\"code\":\"submitted\"}]},\"amount\":{\"value\":12.5}}]}\n",
};

static char dir[64];
static struct ccc *ccc;

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
    ccc_destroy(&ccc);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "%s/fuzz_fhir_......", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    memset(dir + strlen(dir) - 6, 'X', 6);
    if (!mkdtemp(dir))
        abort();
    for (int i = 0; i < 6; i++)
        if (put(names[i], texts[i], strlen(texts[i])) < 0)
            abort();
    char err[256];
    ccc = ccc_load(EQ_SOURCE_DIR "/data/ccc_v2_icd10cm.tsv", err, sizeof err);
    if (!ccc)
        abort();
    atexit(cleanup);
    return 0;
}

static void sink(void *ctx, const struct member_record *r, int sign)
{
    uint64_t *n = ctx;
    *n += (uint64_t)sign + r->ip_readmits_30d + (r->member_months > RECORD_MAX_MONTHS) + r->cmc;
    if (r->ip_readmits_30d > r->ip_admits || r->member_months < 0 || r->member_months > RECORD_MAX_MONTHS ||
        r->race >= RACE__COUNT || r->ethnicity >= ETH__COUNT || r->payer >= PAYER__COUNT ||
        r->cmc >= YNU__COUNT || r->total_cost < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int which = data[0] % 6;
    if (put(names[which], data + 1, size - 1) < 0)
        abort();
    struct code_rule rule = {.from = "Harris County", .to = "48201"};
    struct code_rule race = {.from = "white-ish", .to = "WHITE"};
    struct fhir_options o = {.year = 2023, .county_rules = &rule, .n_county_rules = 1,
                             .strict = (data[0] >> 3) & 1, .ccc = (data[0] >> 4) & 1 ? ccc : NULL};
    o.rules[COL_RACE] = &race;
    o.n_rules[COL_RACE] = 1;
    struct profile p;
    memset(&p, 0, sizeof p);
    char err[256];
    uint64_t n = 0;
    int rc = fhir_read(dir, &o, sink, &n, &p, err, sizeof err);
    if (rc != 0 && (rc != -1 || err[0] == '\0'))
        abort();
    profile_free(&p);
    if (put(names[which], texts[which], strlen(texts[which])) < 0)
        abort();
    return 0;
}
