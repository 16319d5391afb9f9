/*
 * log.c - logging to standard error with a program name and level: a UTC
 * timestamp in front of each line, or, when standard error is the journal
 * (JOURNAL_STREAM matches fd 2), a <N> priority prefix instead, so that
 * `journalctl -p err` finds the errors and each line has one timestamp.
 *
 * The program name and level are process-wide settings made once at start
 * (log_init); they are the only file-scope state, read-mostly by design.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *log_prog = "equity";
static log_level log_lvl = LOG_LVL_INFO;
static int log_journal; /* stderr is the journal's stream (JOURNAL_STREAM) */

/* systemd.exec(5): JOURNAL_STREAM is "DEV:INODE" of the stream it connected
 * to stderr; it is inherited by children whose stderr is something else,
 * so it counts only when it matches fd 2. */
static int stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    char tail;
    struct stat st;
    if (!js || sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) != 2 || fstat(2, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *progname, log_level level)
{
    if (progname)
        log_prog = progname;
    log_lvl = level;
    log_journal = stderr_is_journal();
}

int log_is_journal(void) { return log_journal; }

void log_set_level(log_level level) { log_lvl = level; }
log_level log_get_level(void) { return log_lvl; }

static void log_emit(log_level lvl, const char *tag, int with_errno, const char *fmt, va_list ap)
{
    int saved = errno;
    if (lvl > log_lvl)
        return;
    char line[2048];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    if (n < 0)
        return;
    if (with_errno) {
        size_t used = strlen(line);
        snprintf(line + used, sizeof line - used, ": %s", strerror(saved));
    }
    /* one record, one line: a newline inside a message would start a line
     * without priority or timestamp */
    for (char *c = line; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    if (log_journal) {
        /* sd-daemon(3) priority prefix; the journal adds the time itself */
        static const char prio[] = {'3', '4', '6', '7'};
        fprintf(stderr, "<%c>%s %s: %s\n", prio[lvl], log_prog, tag, line);
    } else {
        char ts[32] = "";
        struct timespec now;
        struct tm tm;
        if (clock_gettime(CLOCK_REALTIME, &now) == 0 && gmtime_r(&now.tv_sec, &tm))
            strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf(stderr, "%s %s %s: %s\n", ts, log_prog, tag, line);
    }
    errno = saved;
}

#define LOG_FN(name, lvl, tag, errflag)          \
    void name(const char *fmt, ...)              \
    {                                            \
        va_list ap;                              \
        va_start(ap, fmt);                       \
        log_emit(lvl, tag, errflag, fmt, ap);    \
        va_end(ap);                              \
    }

LOG_FN(log_warn, LOG_LVL_WARN, "warning", 1)
LOG_FN(log_warnx, LOG_LVL_WARN, "warning", 0)
LOG_FN(log_error, LOG_LVL_ERROR, "error", 0)
LOG_FN(log_info, LOG_LVL_INFO, "info", 0)
LOG_FN(log_debug, LOG_LVL_DEBUG, "debug", 0)
