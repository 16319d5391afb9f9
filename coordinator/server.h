/*
 * server.h - the equity-coordinator service: binds the node and analyst
 * sockets (CURVE servers behind the ZAP handler, transport.h), receives
 * one message at a time and hands it to rounds.h, sends the replies, and
 * audits connections. Sockets and dispatch only: the rules are in rounds.c.
 */
#ifndef EQ_COORD_SERVER_H
#define EQ_COORD_SERVER_H

#include <signal.h>

#include "coord_config.h"

/* Runs until *stop becomes nonzero (set by a signal handler; the loop
 * polls with cfg->poll_ms as its timeout), then closes everything.
 * Returns 0 after a clean shutdown, 1 if the service cannot start because
 * of the configuration (keys, certificates, endpoints; logged), 3 on an
 * internal failure. */
int server_run(const struct coord_config *cfg, volatile sig_atomic_t *stop);

#endif
