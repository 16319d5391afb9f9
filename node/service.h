/*
 * service.h - `equity-node run`: the organization's long-running service
 * (protocol.md). It connects out to the coordinator (ZeroMQ DEALER, CURVE
 * client pinning the coordinator's key from its certificate), asks for
 * open rounds, verifies each signed round request, applies the node's
 * [policy] (refuse with a reason, or hold for on-site approval), computes
 * and suppresses the round's cells, signs the Submission, keeps a copy in
 * [store] dir BEFORE sending it, and resends exactly that copy with
 * backoff until the coordinator acknowledges it. While a round it received
 * is held for approval on site or cannot be computed, it tells the
 * coordinator so in a signed NodeStatus (held / failing, a code and a
 * fixed text without record values), resent with backoff until
 * acknowledged. A restarted service
 * resends what it kept; it never computes a second submission for a round.
 *
 * Plus `equity-node approve` (mark a held round approved) and the identity
 * checks of `check-config`.
 */
#ifndef EQ_SERVICE_H
#define EQ_SERVICE_H

#include <stddef.h>

#include "node_config.h"

/* Runs until SIGTERM or SIGINT (then returns 0 after closing the socket).
 * Returns -1 (logged) when it cannot start: incomplete or invalid identity
 * (a secret key readable by group/others, a certificate that does not
 * verify, a wrong role), no input, unusable store directory.
 *
 * Test hook (documented in docs/operators.md): the environment variable
 * EQ_TEST_HOLD_BEFORE_SEND=N makes the service wait N seconds after it has
 * stored a new submission and before it first sends it, so that a test
 * can kill it at exactly that point. */
int service_run(const struct node_config *c);

/* Approves a round held by approval = manual: requires
 * store_dir/<round>.pending, writes store_dir/<round>.approved (who and
 * when); the running service picks it up on its next poll. Returns 0, or
 * -1 with a message on standard error (no such round waiting, already
 * answered, bad round id). */
int service_approve(const struct node_config *c, const char *round_id);

/* The settings `preview --round ID` uses: c with the measures,
 * stratifiers, intersections, k and period of the round request kept in
 * store_dir/<round>.request.pb (a round the service received, e.g. one
 * held for approval). *out is the caller's (may be large: heap). Returns 0
 * or -1 with a message in err. */
int service_round_config(const struct node_config *c, const char *round_id,
                         struct node_config *out, char *err, size_t errlen);

/* Checks the identity files configured in c: all of [identity] ca, crl,
 * transport_cert, transport_key, signing_cert, signing_key and
 * [coordinator] certificate must be set once any is; secret keys mode 0600
 * or stricter; our certificates verify against CA + CRL, have role node,
 * the right key kinds and CN = [node] org, and match our secret keys; the
 * coordinator's certificate verifies and has role coordinator.
 * Returns 1 when no identity is configured (nothing to check), 0 when all
 * is well, -1 with a one-line message in err otherwise. */
int service_check_identity(const struct node_config *c, char *err, size_t errlen);

#endif
