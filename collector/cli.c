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

int cli_queue_command(struct store *st, struct ca *ca, const char *agent,
		      const char *type, const msgpack_sbuffer *args,
		      long long seconds, uint64_t *id)
{
	return cli_queue_command_until(st, ca, agent, type, args,
				       store_now_us() + seconds * 1000000LL,
				       id);
}

int cli_queue_command_until(struct store *st, struct ca *ca,
			    const char *agent, const char *type,
			    const msgpack_sbuffer *args, int64_t expires_us,
			    uint64_t *id)
{
	struct command c = {.issued_us = store_now_us(),
			    .expires_us = expires_us};
	snprintf(c.agent, sizeof(c.agent), "%s", agent);
	snprintf(c.type, sizeof(c.type), "%s", type);
	if (args && args->size) {
		c.args = args->data;
		c.args_len = args->size;
	}
	msgpack_sbuffer frame = {0};
	int rc = store_command_add(st, c.agent, c.type, c.issued_us,
				   c.expires_us, &c.id);
	if (rc == 0)
		rc = ca_sign_command(ca, &c, &frame);
	if (rc == 0)
		rc = store_command_set_frame(st, c.id, frame.data, frame.size);
	msgpack_sbuffer_destroy(&frame);
	*id = c.id;
	return rc;
}
