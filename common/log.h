/*
 * log.h - the one logging module: everything goes to standard error (which
 * journald captures when run as a service), never to standard output,
 * which carries data. Never log keys, secrets or record-level values.
 */
#ifndef EQ_LOG_H
#define EQ_LOG_H

typedef enum { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG } log_level;

/* Program name shown in front of every line ("equity-node"). Also finds
 * out whether standard error is the journal (JOURNAL_STREAM): then every
 * line starts with a priority (<3> error, <4> warning, <6> info, <7>
 * debug) and carries no timestamp of its own. */
void log_init(const char *progname, log_level level);
/* 1 when log_init found standard error to be the journal's stream. */
int log_is_journal(void);
void log_set_level(log_level level);
log_level log_get_level(void);

/* warn: appends ": strerror(errno)"; warnx: does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
