/* source: the one shape every check and sensor has.
 *
 * A source is a struct source_ops with init, start, stop and free, and it
 * sends events out through agent_emit() only. It owns its settings: its
 * keys in agent.yaml, their defaults and its struct (source_config).
 * Adding a check means adding a folder with a file of this shape and its
 * settings table, and one line in the source table (sources.h); nothing
 * else in the tree changes. stop() must begin closing the source's libuv handles;
 * free() runs after the loop has finished closing them. */
#ifndef EDUWATCH_SOURCE_H
#define EDUWATCH_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <uv.h>

#include "agent/core/settings.h"

struct agent;

/* A source's own settings: keys in agent.yaml with their defaults and
 * ranges (common/config.h), each landing in the source's struct at its
 * offset; the loader reads them with the core's, from the same file. */
struct source_config {
	const struct config_field *fields;
	size_t nfields;
	size_t size; /* of the source's settings struct */
	/* Optional, after loading: checks and derives (copies path lists
	 * out of their config_list, which is freed after). core: the core
	 * settings being loaded; path: for messages. 0 or -EINVAL with err
	 * naming the file and the key. */
	int (*check)(void *conf, const struct agent_settings *core,
		     const char *path, char *err, size_t errlen);
};

struct source_env {
	uv_loop_t *loop;
	const struct agent_settings *settings;
	const void *config; /* the source's own settings, or NULL */
	struct agent *agent;
	const char *config_path; /* for helper processes started by a source */
};

struct source_ops {
	const char *name;
	/* Returns 0, or a negative errno; *state is the source's own. A source
	 * that does not apply here (disabled in settings) sets *state = NULL
	 * and returns 0. */
	int (*init)(const struct source_env *env, void **state);
	int (*start)(void *state);
	void (*stop)(void *state);
	void (*free)(void *state);
	/* Optional: a verified command from the collector of a type this
	 * source owns (see command_types). Fills result; returns 0 when it
	 * was carried out or started, a negative errno when refused. */
	int (*command)(void *state, const char *type, const msgpack_object *args,
		       char *result, size_t result_cap);
	const char *const *command_types; /* NULL-terminated, or NULL */
	/* Optional: something the source reads changed (a new IOC list). */
	void (*reload)(void *state);
};

/* Spools one event (body: a packed msgpack map, or NULL) and wakes the
 * uplink. The seq it got is stored in *seq when seq is not NULL. Not
 * EW_MUST_CHECK: a failure is logged where it happens (a refused event
 * here, a spool error in spool_append), and a source has nothing else to
 * do about it. */
int agent_emit(struct agent *agent, const char *kind, int sev, bool drill,
	       const char *body, size_t body_len, uint64_t *seq);

uint64_t agent_boot_id(const struct agent *agent);
/* Small durable numbers a source keeps across restarts (last scan times):
 * the spool's counters. 0 when never set. */
long long agent_counter_get(struct agent *agent, const char *name);
void agent_counter_set(struct agent *agent, const char *name, long long v);
/* The installed rule bundle's version ("" when none): scans carry it. */
const char *agent_rules_version(struct agent *agent);
/* Events waiting in the spool. */
long long agent_spool_depth(struct agent *agent);
/* The agent-silence drill: no uplink for ms (0: back at once), events
 * spooled meanwhile (uplink_hold). */
void agent_uplink_hold(struct agent *agent, uint64_t ms);
bool agent_uplink_held(const struct agent *agent);

#include "agent/core/sources.h"

#endif
