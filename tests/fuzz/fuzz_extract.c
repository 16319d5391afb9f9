/*
 * fuzz_extract.c - libFuzzer target for the extract CSV reader: the input
 * bytes become a file (an in-memory memfd, so nothing touches the disk) read
 * with one or two workers, strict or not, with and without an asked period
 * and a code map. It must never crash, leak or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "extract.h"

static void count_sink(void *ctx, const struct member_record *r, int sign)
{
    long *n = ctx;
    *n += sign;
    (void)r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz_extract", 0);
    if (fd < 0)
        return 0;
    uint8_t mode = size ? data[0] : 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

    static const struct code_rule race[] = {{"2106-3", "WHITE"}, {"w", "WHITE"}};
    struct extract_options o;
    memset(&o, 0, sizeof o);
    o.threads = (mode & 1) ? 2 : 1;
    o.strict = (mode & 2) != 0;
    o.period = (mode & 4) ? "2025" : NULL;
    if (mode & 8) {
        o.rules[COL_RACE] = race;
        o.n_rules[COL_RACE] = 2;
    }
    long n[2] = {0, 0};
    void *sinks[2] = {&n[0], &n[1]};
    int nw = 2;
    struct profile p;
    memset(&p, 0, sizeof p);
    char err[512];
    int rc = extract_read(path, &o, count_sink, sinks, &nw, &p, err, sizeof err);
    if (rc == 0 && n[0] + n[1] != (long)p.rows_accepted)
        __builtin_trap(); /* the sinks and the profile must agree */
    profile_free(&p);
    close(fd);
    return 0;
}
