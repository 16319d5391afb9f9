/*
 * policy.h - the node's own rules for what a round may ask of it ([policy]
 * of node.ini), applied to a coordinator's round request before anything
 * is computed (privacy.md principle 2: a request that asks for more than
 * the policy allows is refused with a reason, never silently narrowed).
 *
 * Rules:
 *   - every measure asked for is in allowed_measures ("all" = any);
 *   - every one-way stratifier asked for is in allowed_stratifiers;
 *   - every intersection is in allowed_intersections ("all" = any, "none" =
 *     no intersection at all; a*b matches b*a, a*b*c any order of its
 *     three) and each of its stratifiers is allowed (its one-way tables
 *     are released with it as margins);
 *   - at most max_three_way of the intersections are three-way;
 *   - the round's k is at least [policy] min_k. The node then applies
 *     max(round k, [node] k), which is never below min_k.
 */
#ifndef EQ_POLICY_H
#define EQ_POLICY_H

#include <stddef.h>

#include "envelope.h"
#include "node_config.h"
#include "tally.h"

enum {
    POLICY_OK = 0,
    POLICY_REFUSED = -1, /* the request asks for something not allowed   */
    POLICY_ERR_CONFIG = -2, /* the node's own [policy] lists do not parse */
};

/* Validates the [policy] lists of c (check-config, service start).
 * 0, or POLICY_ERR_CONFIG with "[policy] key: message" in err. */
int policy_config_check(const struct node_config *c, char *err, size_t errlen);

/* Checks a parsed round request against c's [policy]. 0 when allowed;
 * POLICY_REFUSED with a human-readable reason naming every item that is
 * not allowed (e.g. "stratifier county is not allowed by this node's
 * policy"); POLICY_ERR_CONFIG when the policy itself is broken (reason
 * says so; the request must then be refused too). */
int policy_check(const struct node_config *c, const struct round_request *r, char *reason,
                 size_t reasonlen);

/* Threshold the node applies for the round: max(round k, [node] k). */
int policy_effective_k(const struct node_config *c, const struct round_request *r);

/* The tally spec for the round: the node's age bands and language rule,
 * the round's measures, stratifiers and intersections (with each
 * intersection's one-way margins switched on). Returns 0 or -1 (more
 * intersections than the tally holds). */
int policy_round_spec(const struct node_config *c, const struct round_request *r,
                      struct tally_spec *spec);

/* A readable multi-line summary of a request (for the .pending file and
 * the log): round, period, coordinator, deadline, k asked and applied,
 * measures, stratifiers, intersections, terms. Always NUL-terminates;
 * returns the length written (truncated to buflen - 1). */
size_t policy_describe(const struct node_config *c, const struct round_request *r, char *buf,
                       size_t buflen);

#endif
