/* The helpers every collector command shares. */
#include "collector/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "collector/daemon.h"
#include "common/log.h"

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "eduwatch-collector: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'eduwatch-collector --help'.\n");
	return EXIT_USAGE;
}

int cli_parse_long(const char *text, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int cli_load_settings(const char *config, struct settings *s)
{
	char err[512];
	if (settings_load(config, s, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return EXIT_CONFIG;
	}
	log_setup("eduwatch-collector", s->log_level);
	return 0;
}

/* The destinations' names, for the store's forward queues; they point
 * into the settings, which live as long as the store. */
static const char *dest_names[SETTINGS_FORWARD_MAX];

int cli_open_store(const struct settings *s, struct store **st)
{
	char err[512];
	struct store_options o;
	collector_store_options(s, dest_names, &o);
	if (store_open(&o, NULL, st, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return EXIT_FAILURE_RUNTIME;
	}
	return 0;
}
