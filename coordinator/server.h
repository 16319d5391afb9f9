/*
 * server.h - the equity-coordinator service: binds the node and analyst
 * sockets (CURVE servers behind the ZAP handler, transport.h), receives
 * the node messages that are waiting (up to a bound) and hands them to
 * rounds.h as one batch (one transaction, one audit fsync, then the
 * replies), an analyst's message alone, and audits connections. Sockets
 * and dispatch only: the rules are in rounds.c.
 */
#ifndef EQ_COORD_SERVER_H
#define EQ_COORD_SERVER_H

#include <signal.h>

#include "coord_config.h"

/* Runs until *stop becomes nonzero (set by a signal handler; the loop
 * polls with cfg->poll_ms as its timeout), then closes everything. When
 * *reload (may be NULL) becomes nonzero (SIGHUP) the enrolled certificates
 * and the CRL are re-read and *reload reset. Once a second, the open rounds
 * whose deadline has passed are closed and released (rounds_close_due).
 * Returns 0 after a clean shutdown, 1 if the service cannot start because
 * of the configuration (keys, certificates, endpoints; logged), 3 on an
 * internal failure, including the ZAP handler thread ending or a socket
 * that could not be re-bound (fail closed: libzmq would otherwise accept
 * any CURVE key). */
int server_run(const struct coord_config *cfg, volatile sig_atomic_t *stop,
               volatile sig_atomic_t *reload);

#endif
