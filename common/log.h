/* log: one line per message on stderr, in a form journald understands.
 *
 * Under systemd (JOURNAL_STREAM set) each line starts with the syslog
 * priority "<N>" so journald keeps the level; elsewhere it carries a UTC
 * timestamp and a level word. Never pass a secret (token, key, passphrase)
 * to these functions: log lines leave the machine in support bundles. */
#ifndef EDUWATCH_LOG_H
#define EDUWATCH_LOG_H

#include "common/check.h"

#include <stdio.h>

enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARN = 4,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

/* ident is borrowed and must outlive logging (a string literal). */
void log_setup(const char *ident, enum log_level min_level);
EW_MUST_CHECK
int log_level_parse(const char *name, enum log_level *out);
int log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Lines go to `stream` (unbuffered, the caller's) instead of stderr, or
 * to stderr again when NULL: a Windows service has no stderr at all. */
void log_set_stream(FILE *stream);

#define log_err(...) log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
