#include "common/log.h"
#include "common/textsafe.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *log_ident = "eduwatch";
static enum log_level log_min = LOG_LEVEL_INFO;
static int log_to_journal;
static FILE *log_stream; /* NULL: stderr */

void log_setup(const char *ident, enum log_level min_level)
{
	log_ident = ident;
	log_min = min_level;
	log_to_journal = getenv("JOURNAL_STREAM") != NULL;
#ifdef _WIN32
	/* msvcrt buffers stderr fully when it is a file or a pipe (it has
	 * no line buffering: _IOLBF means _IOFBF), so the log of an agent
	 * ended by taskkill /F or a service stop would be lost. */
	setvbuf(stderr, NULL, _IONBF, 0);
#endif
}

int log_level_parse(const char *name, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
		{"error", LOG_LEVEL_ERR}, {"warn", LOG_LEVEL_WARN},
		{"info", LOG_LEVEL_INFO}, {"debug", LOG_LEVEL_DEBUG},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(name, names[i].name) == 0) {
			*out = names[i].level;
			return 0;
		}
	}
	return -1;
}

int log_enabled(enum log_level level)
{
	return level <= log_min;
}

static const char *level_word(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_ERR: return "error";
	case LOG_LEVEL_WARN: return "warn";
	case LOG_LEVEL_INFO: return "info";
	default: return "debug";
	}
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	size_t used = 0;
	va_list ap;

	if (!log_enabled(level))
		return;
	if (log_to_journal) {
		used = (size_t)snprintf(line, sizeof(line), "<%d>", (int)level);
	} else {
		struct timespec now;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		used = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		used += (size_t)snprintf(line + used, sizeof(line) - used,
					 ".%03ldZ %s %s: ", now.tv_nsec / 1000000,
					 log_ident, level_word(level));
	}
	/* The message carries names from peers (host names, agent names,
	 * event kinds, file names): a newline in one would forge a line and
	 * an ESC would repaint the terminal of whoever tails the log. So the
	 * whole message is escaped, once, here, and no caller can forget. */
	char message[1536];
	va_start(ap, fmt);
	int n = vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	size_t message_len = n < 0 ? 0
			     : (size_t)n < sizeof(message) ? (size_t)n
							  : sizeof(message) - 1;
	if (used > sizeof(line) - 2)
		used = sizeof(line) - 2;
	else
		used += textsafe_escape(line + used, sizeof(line) - 2 - used,
					message, message_len);
	/* One fputs per line so that lines from threads never interleave. */
	line[used] = '\n';
	line[used + 1] = '\0';
	fputs(line, log_stream ? log_stream : stderr);
}

void log_set_stream(FILE *stream)
{
	log_stream = stream;
}
