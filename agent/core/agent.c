#include "agent/core/agent.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "agent/platform/platform.h"
#include "agent/core/rulefetch.h"
#include "agent/core/rulestore.h"
#include "agent/core/source.h"
#include "agent/core/spool.h"
#include "agent/core/uplink.h"
#include "agent/upgrade/apply.h"
#include "agent/upgrade/tries.h"
#include "common/alloc.h"
#include "common/command.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/mpmap.h"
#include "common/pki.h"
#include "common/signals.h"
#include "common/timeutil.h"
#include "common/tls.h"
#include "common/version.h"
#include "common/wire.h"

#define STATUS_INTERVAL_MS 5000

/* What the collector may ask of the agent itself; sources add their own
 * (source_ops.command_types). */
static const char *const agent_commands[] = {
	"ping", "status", "rules.update", "ioc.update", "agent.upgrade",
	"agent.upgrade.halted"};
#define MAX_COMMAND_TYPES 16

/* The sources come from the source table (sources.h). */
#define NSOURCES agent_nsources

struct agent {
	uv_loop_t *loop;
	const struct agent_settings *settings;
	const char *config_path;
	struct agent_paths paths;
	char id[EVENT_AGENT_MAX + 1];
	char school[PKI_ID_MAX + 1];
	uint64_t boot;
	struct spool *spool;
	struct uplink *uplink;
	SSL_CTX *ctx;
	EVP_PKEY *collector_key; /* the pinned CA's key: verifies commands */
	void *source_state[AGENT_SOURCES_MAX]; /* settings.c checks the count */
	struct rulefetch *fetch[RULESTORE_KINDS]; /* by enum rulestore_kind */
	char rules_version[40];
	uint64_t rules_count; /* of the installed bundle, as installed */
	char release[RELPKG_VERSION_MAX + 1]; /* "": not run from a release */
	bool upgrade_pending; /* its release awaits check_pending's verdict */
	/* A release whose install failed for a reason that may pass, tried
	 * again from the status tick (apply_release). */
	uint64_t retry_version; /* its bundle; 0: none */
	int64_t retry_at_us;
	int retry_attempts;
	/* A restored release tried again later (tries.h); its release is
	 * "" when there is nothing to try now. */
	struct upgrade_tries tries;
	bool restart; /* a new release is current: agent_run returns
			 AGENT_RUN_RESTART */
	const char *allowed[MAX_COMMAND_TYPES];
	size_t nallowed;
	uv_timer_t status_timer;
	struct signals signals;
	uv_async_t stop_async; /* agent_request_stop's way in */
	bool stopping;
	bool reporting_drop;
};

void agent_paths_for(const char *state_dir, struct agent_paths *out)
{
	snprintf(out->key, sizeof(out->key), "%s/agent.key", state_dir);
	snprintf(out->cert, sizeof(out->cert), "%s/agent.crt", state_dir);
	snprintf(out->ca, sizeof(out->ca), "%s/ca.crt", state_dir);
	snprintf(out->spool, sizeof(out->spool), "%s/spool.db", state_dir);
	snprintf(out->status, sizeof(out->status), "%s/status", state_dir);
}

uint64_t agent_boot_id(const struct agent *agent)
{
	return agent->boot;
}

long long agent_spool_depth(struct agent *agent)
{
	struct spool_stats st;
	spool_stats(agent->spool, &st);
	return st.depth;
}

void agent_uplink_hold(struct agent *agent, uint64_t ms)
{
	if (agent->uplink)
		uplink_hold(agent->uplink, ms);
}

bool agent_uplink_held(const struct agent *agent)
{
	return agent->uplink && uplink_held(agent->uplink);
}

static void report_drops(struct agent *agent)
{
	long long dropped = spool_dropped(agent->spool);
	if (dropped <= 0 || agent->reporting_drop)
		return;
	/* The report itself goes through the spool; guard the recursion. */
	agent->reporting_drop = true;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	wire_pack_kv_u64(&pk, "dropped", (uint64_t)dropped);
	wire_pack_kv_u64(&pk, "max_bytes",
			 (uint64_t)agent->settings->spool_max_size);
	if (agent_emit(agent, "spool.dropped", 5, false, sb.data, sb.size,
		       NULL) == 0)
		spool_clear_dropped(agent->spool);
	msgpack_sbuffer_destroy(&sb);
	agent->reporting_drop = false;
}

int agent_emit(struct agent *agent, const char *kind, int sev, bool drill,
	       const char *body, size_t body_len, uint64_t *seq)
{
	struct event ev = {.v = EVENT_VERSION, .boot = agent->boot,
			   .ts = (uint64_t)timeutil_now_us(), .sev = (uint8_t)sev,
			   .drill = drill};
	char err[128];
	snprintf(ev.agent, sizeof(ev.agent), "%s", agent->id);
	snprintf(ev.kind, sizeof(ev.kind), "%s", kind);
	ev.body = (char *)body;
	ev.body_len = body_len;
	ev.seq = 1; /* validated before the spool assigns the real one */
	if (event_validate(&ev, err, sizeof(err)) != 0) {
		log_err("agent: refusing to spool a bad %s event: %s", kind, err);
		return -EINVAL;
	}
	int rc = spool_append(agent->spool, &ev);
	if (rc != 0)
		return rc;
	if (seq)
		*seq = ev.seq;
	report_drops(agent);
	if (agent->uplink)
		uplink_kick(agent->uplink);
	return 0;
}

/* The status file is what `eduwatch-agent status` reads: written whole
 * through a rename, so a reader never sees half of it. */
static void write_status(struct agent *agent)
{
	struct uplink_status us;
	struct spool_stats ss;
	char since[32], ack[32], now[32], text[2048];
	uplink_get_status(agent->uplink, &us);
	spool_stats(agent->spool, &ss);
	timeutil_format_us(us.connected ? us.connected_since_us : 0, since, sizeof(since));
	timeutil_format_us(us.last_ack_us, ack, sizeof(ack));
	timeutil_format_us(timeutil_now_us(), now, sizeof(now));
	int n = snprintf(
		text, sizeof(text),
		"pid=%ld\nversion=%s\nagent=%s\nschool=%s\nboot=%llu\n"
		"collector=%s:%lld\nconnected=%s\nconnected_since=%s\n"
		"last_ack=%s\nacked=%llu\nreconnects=%llu\nspool_depth=%lld\n"
		"last_seq=%llu\nlast_error=%s\nrss_kib=%ld\nupdated=%s\n",
		(long)getpid(), EDUWATCH_VERSION, agent->id, agent->school,
		(unsigned long long)agent->boot, agent->settings->collector_host,
		agent->settings->collector_port, us.connected ? "yes" : "no",
		since, ack, (unsigned long long)us.acked_events,
		(unsigned long long)us.reconnects, ss.depth,
		(unsigned long long)ss.last_seq, us.last_error,
		platform_rss_kib(), now);
	/* Rewritten every 5 s and read only by 'status': atomic for the
	 * reader, not worth an fsync. A failed write keeps the previous file,
	 * whose "now" line shows how stale it is, and is retried in 5 s. */
	if (n > 0 && (size_t)n < sizeof(text))
		EW_IGNORE(fs_write_replace(agent->paths.status, text, (size_t)n,
					   0644));
}

static void agent_stop(struct agent *agent, const char *why);
static void apply_release(struct agent *agent, uint64_t version);

/* A release installed but not yet seen healthy (apply.h): confirmed once
 * connected with events acked, restored (and restarted from) once its
 * deadline passed, whether or not its watchdog still lives. */
static void check_pending(struct agent *agent)
{
	struct uplink_status us;
	char why[512];
	uplink_get_status(agent->uplink, &us);
	switch (upgrade_check_pending(agent->settings->upgrade_root,
				      agent->release,
				      us.connected && us.acked_events > 0, why,
				      sizeof(why))) {
	case UPGRADE_WAITING:
		return;
	case UPGRADE_CONFIRMED:
		log_info("upgrade: release %s is healthy", agent->release);
		tries_clear(agent->settings->upgrade_root);
		break;
	case UPGRADE_RESTORED:
		log_warn("upgrade: %s", why);
		agent->restart = true;
		agent_stop(agent, "the previous release is current again");
		break;
	case UPGRADE_NONE:
		break;
	}
	agent->upgrade_pending = false;
	uv_timer_set_repeat(&agent->status_timer, STATUS_INTERVAL_MS);
}

/* The restored release's time has come (tries.h): installed again from
 * the verified bundle kept in rules/agent.ewb, unless a newer bundle
 * replaced it. Once started, the try is the install's: the count lives
 * in ROOT/tries and moves at the next restore. */
static void try_restored_again(struct agent *agent)
{
	const struct agent_settings *s = agent->settings;
	struct upgrade_tries t = agent->tries;
	agent->tries.release[0] = '\0';
	if (rulestore_installed_version(s->state_dir, RULESTORE_AGENT) !=
	    t.bundle) {
		log_info("upgrade: release %s is not tried again: a newer "
			 "bundle replaced it", t.release);
		tries_clear(s->upgrade_root);
		return;
	}
	log_info("upgrade: trying release %s again (try %d of %d)", t.release,
		 t.restores, UPGRADE_TRIES_MAX);
	apply_release(agent, t.bundle);
}

/* Connected for a while: the commands queued for this PC while it was
 * off (a halt of the release it is about to try again, say) come at the
 * hello, so they have been seen. A PC that boots with a try due would
 * else install a release halted overnight before it heard of the halt. */
#define COMMANDS_SEEN_US (10 * 1000000LL)
static bool heard_collector(struct agent *agent)
{
	struct uplink_status us;
	uplink_get_status(agent->uplink, &us);
	return us.connected &&
	       timeutil_now_us() - us.connected_since_us >= COMMANDS_SEEN_US;
}

static void on_status_timer(uv_timer_t *timer)
{
	struct agent *agent = timer->data;
	write_status(agent);
	if (agent->upgrade_pending && !agent->stopping)
		check_pending(agent);
	if (agent->retry_version && !agent->stopping &&
	    timeutil_now_us() >= agent->retry_at_us)
		apply_release(agent, agent->retry_version);
	if (!agent->stopping && !agent->upgrade_pending &&
	    agent->retry_version == 0 &&
	    tries_due(&agent->tries, timeutil_now_us()) &&
	    heard_collector(agent))
		try_restored_again(agent);
}

static void report_command(struct agent *agent, uint64_t id, const char *type,
			   bool ok, const char *msg)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	wire_pack_kv_u64(&pk, "id", id);
	wire_pack_kv_str(&pk, "type", type);
	wire_pack_kv_bool(&pk, "ok", ok);
	wire_pack_kv_str(&pk, "msg", msg);
	/* A refused command may mean someone impersonates the collector. */
	agent_emit(agent, "agent.command", ok ? 1 : 6, false, sb.data, sb.size,
		   NULL);
	msgpack_sbuffer_destroy(&sb);
}

/* The command types this agent accepts: its own and its sources'. */
static void build_allowed(struct agent *agent)
{
	agent->nallowed = 0;
	for (size_t i = 0; i < sizeof(agent_commands) / sizeof(agent_commands[0]);
	     i++)
		agent->allowed[agent->nallowed++] = agent_commands[i];
	for (size_t i = 0; i < NSOURCES; i++) {
		const char *const *t = agent_sources[i]->command_types;
		for (; t && *t && agent->nallowed < MAX_COMMAND_TYPES; t++)
			agent->allowed[agent->nallowed++] = *t;
	}
}

static void report_upgrade(struct agent *agent, uint64_t version,
			   const char *release, const char *state,
			   const char *error);

/* The collector halted the rollout of a release (collector/release.h):
 * this PC gives it up, where the watchdog's restore would else have it
 * installed again up to three times (tries.h), and a failed install of
 * it is not retried. */
static int halt_release(struct agent *agent, const msgpack_object *map,
			char *result, size_t cap)
{
	char release[RELPKG_VERSION_MAX + 1] = "";
	uint64_t version = 0;
	if (map == NULL ||
	    wire_get_str(map, "release", release, sizeof(release)) != 0 ||
	    !relpkg_version_ok(release) ||
	    wire_get_u64(map, "version", &version) != 0 || version == 0) {
		snprintf(result, cap, "a halt names the release and its bundle");
		return -EINVAL;
	}
	const struct agent_settings *s = agent->settings;
	struct upgrade_tries *t = &agent->tries;
	/* News for the officers only when this PC was to install it again;
	 * one that refused it, say, keeps "refused" as its last word. */
	bool news = agent->retry_version == version;
	if (news) {
		agent->retry_version = 0;
		agent->retry_attempts = 0;
	}
	tries_load(s->upgrade_root, t);
	news = news || (strcmp(t->release, release) == 0 &&
			t->bundle == version && tries_due(t, INT64_MAX));
	/* Written even then: an install under way now, restored later, is
	 * not tried again either. */
	if (tries_halt(t, release, version) &&
	    tries_save(s->upgrade_root, t) != 0)
		log_warn("upgrade: cannot record that release %s is given "
			 "up: it is given up only while this agent runs",
			 release);
	if (news) {
		log_info("upgrade: release %s is given up: its rollout is "
			 "halted", release);
		report_upgrade(agent, version, release, "halted", NULL);
	}
	snprintf(result, cap, "release %s %s", release,
		 news ? "given up: its rollout is halted"
		      : "is not installed again here");
	return 0;
}

static int run_command(struct agent *agent, const struct command *cmd,
		       char *result, size_t cap)
{
	msgpack_unpacked args;
	msgpack_unpacked_init(&args);
	const msgpack_object *map = NULL;
	if (cmd->args && msgpack_unpack_next(&args, cmd->args, cmd->args_len,
					     NULL) == MSGPACK_UNPACK_SUCCESS &&
	    args.data.type == MSGPACK_OBJECT_MAP)
		map = &args.data;
	int rc = -ENOTSUP;
	if (strcmp(cmd->type, "ping") == 0) {
		snprintf(result, cap, "pong");
		rc = 0;
	} else if (strcmp(cmd->type, "status") == 0) {
		struct uplink_status us;
		struct spool_stats ss;
		uplink_get_status(agent->uplink, &us);
		spool_stats(agent->spool, &ss);
		snprintf(result, cap,
			 "version %s, spool %lld, acked %llu, reconnects %llu, "
			 "rss %ld KiB, rules %s (%llu rules)",
			 EDUWATCH_VERSION, ss.depth,
			 (unsigned long long)us.acked_events,
			 (unsigned long long)us.reconnects, platform_rss_kib(),
			 agent->rules_version[0] ? agent->rules_version : "none",
			 (unsigned long long)agent->rules_count);
		rc = 0;
	} else if (strcmp(cmd->type, "agent.upgrade.halted") == 0) {
		rc = halt_release(agent, map, result, cap);
	} else if (strcmp(cmd->type, "rules.update") == 0 ||
		   strcmp(cmd->type, "ioc.update") == 0 ||
		   strcmp(cmd->type, "agent.upgrade") == 0) {
		uint64_t version = 0;
		if (map)
			wire_get_u64(map, "version", &version);
		rc = rulefetch_begin(agent->fetch[cmd->type[0] == 'i' ? RULESTORE_IOC
						  : cmd->type[0] == 'a'
							  ? RULESTORE_AGENT
							  : RULESTORE_RULES],
				     version, result, cap);
	} else {
		for (size_t i = 0; i < NSOURCES && rc == -ENOTSUP; i++) {
			const struct source_ops *src = agent_sources[i];
			for (const char *const *t = src->command_types;
			     t && *t && rc == -ENOTSUP; t++)
				if (strcmp(*t, cmd->type) == 0) {
					rc = agent->source_state[i] && src->command
						     ? src->command(
							       agent->source_state[i],
							       cmd->type, map,
							       result, cap)
						     : -ENOTSUP;
					if (rc == -ENOTSUP)
						snprintf(result, cap,
							 "%s is disabled on this PC",
							 src->name);
				}
		}
	}
	msgpack_unpacked_destroy(&args);
	return rc;
}

static void on_command(void *arg, const msgpack_object *frame)
{
	struct agent *agent = arg;
	struct command cmd;
	char err[200], result[200];
	char t[16] = "";
	wire_get_str(frame, "t", t, sizeof(t));
	if (strcmp(t, "blob") == 0) {
		char what[16] = "";
		wire_get_str(frame, "what", what, sizeof(what));
		for (int k = 0; k < RULESTORE_KINDS; k++)
			if (strcmp(what, rulestore_kind_name(k)) == 0)
				rulefetch_on_blob(agent->fetch[k], frame);
		return;
	}
	struct command_policy policy = {
		.agent_id = agent->id,
		.allowed_types = agent->allowed,
		.allowed_count = agent->nallowed,
		.last_executed_id =
			(uint64_t)spool_counter_get(agent->spool, "last_command"),
		.now_us = timeutil_now_us(),
	};
	int rc = command_verify(frame, agent->collector_key, &policy, &cmd, err,
				sizeof(err));
	if (rc != 0) {
		log_warn("agent: refused a command: %s", err);
		report_command(agent, cmd.id, cmd.type[0] ? cmd.type : "?", false,
			       err);
		return;
	}
	/* Record first: a crash mid-command must not let it run twice. So a
	 * command whose id cannot be recorded does not run. */
	rc = spool_counter_set(agent->spool, "last_command", (long long)cmd.id);
	if (rc != 0) {
		snprintf(result, sizeof(result), "not run: cannot record it: %s",
			 uv_strerror(rc));
		log_err("agent: command %llu (%s): %s",
			(unsigned long long)cmd.id, cmd.type, result);
		report_command(agent, cmd.id, cmd.type, false, result);
		command_clear(&cmd);
		return;
	}
	result[0] = '\0';
	rc = run_command(agent, &cmd, result, sizeof(result));
	log_info("agent: command %llu (%s): %s", (unsigned long long)cmd.id,
		 cmd.type, result);
	report_command(agent, cmd.id, cmd.type, rc == 0, result);
	command_clear(&cmd);
}

static int send_fetch(void *arg, const char *what, uint64_t version,
		      uint64_t offset)
{
	struct agent *agent = arg;
	struct wire_out out;
	wire_out_begin(&out, WIRE_FETCH, 3);
	wire_pack_kv_str(&out.pk, "what", what);
	wire_pack_kv_u64(&out.pk, "version", version);
	wire_pack_kv_u64(&out.pk, "offset", offset);
	return uplink_send(agent->uplink, &out);
}

static void note_rules(struct agent *agent)
{
	struct rulestore_current cur;
	char err[256];
	agent->rules_count = 0;
	agent->rules_version[0] = '\0';
	if (rulestore_current(agent->settings->state_dir, &cur, err,
			      sizeof(err)) == 0) {
		snprintf(agent->rules_version, sizeof(agent->rules_version),
			 "%s", cur.version_key);
		agent->rules_count = cur.info.rules;
	}
}

static void agent_stop(struct agent *agent, const char *why);

/* agent.upgrade events: what became of a release on this PC, for the
 * collector's rollout (collector/release.h) and the officers; tries (or
 * NULL) says how often a restored release was restored and when it is
 * tried again (0: never, "final"). */
static void report_upgrade_tries(struct agent *agent, uint64_t version,
				 const char *release, const char *state,
				 const char *error,
				 const struct upgrade_tries *tries)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct mpmap m;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	mpmap_begin(&m, &pk);
	if (version)
		wire_pack_kv_u64(&pk, "version", version);
	wire_pack_kv_str(&pk, "release", release);
	wire_pack_kv_str(&pk, "running", agent->release);
	wire_pack_kv_str(&pk, "state", state);
	if (error)
		wire_pack_kv_str(&pk, "error", error);
	if (tries) {
		wire_pack_kv_u64(&pk, "restores", (uint64_t)tries->restores);
		wire_pack_kv_u64(&pk, "next_try_us", (uint64_t)tries->next_us);
	}
	mpmap_end(&m);
	/* A refused or failed release may be an attack on the channel, or a
	 * release that must not reach more PCs. */
	agent_emit(agent, "agent.upgrade", error ? 6 : 1, false, sb.data,
		   sb.size, NULL);
	msgpack_sbuffer_destroy(&sb);
}

static void report_upgrade(struct agent *agent, uint64_t version,
			   const char *release, const char *state,
			   const char *error)
{
	report_upgrade_tries(agent, version, release, state, error, NULL);
}

/* The watchdog (or the agent's own check) restored the release failed:
 * reported once, as about that release, and counted against its tries:
 * installed again later, or given up and reported "final". */
static void note_restore(struct agent *agent, const char *failed,
			 const char *why)
{
	const struct agent_settings *s = agent->settings;
	struct upgrade_tries *t = &agent->tries;
	tries_load(s->upgrade_root, t);
	if (failed[0] == '\0') {
		report_upgrade(agent, 0, failed, "restored", why);
		return;
	}
	tries_note_restore(t, failed,
			   rulestore_installed_version(s->state_dir,
						       RULESTORE_AGENT),
			   s->upgrade_retry_restored_after, timeutil_now_us());
	if (tries_save(s->upgrade_root, t) != 0)
		log_warn("upgrade: cannot record the tries of release %s: it "
			 "is tried again only while this agent runs", failed);
	if (tries_final(t))
		log_warn("upgrade: release %s was restored %d times: not "
			 "tried again (given up: restored on every try, or its "
			 "rollout halted)", failed, t->restores);
	else
		log_info("upgrade: release %s will be tried again in %llds "
			 "(try %d of %d)", failed,
			 (long long)((t->next_us - timeutil_now_us()) / 1000000),
			 t->restores, UPGRADE_TRIES_MAX);
	report_upgrade_tries(agent, 0, failed,
			     tries_final(t) ? "final" : "restored", why, t);
}

/* Sources that failed to start with this release and started with the
 * one before: an agent.upgrade "error" about the release that runs, so
 * that a rollout halts on a release that connects but does not work
 * (collector/release.h). A source that failed before too is the PC's. */
static void report_release_errors(struct agent *agent, uint32_t failed)
{
	char error[160];
	uint32_t fresh = upgrade_new_failures(agent->settings->upgrade_root,
					      agent->release, failed);
	for (size_t i = 0; fresh && i < NSOURCES; i++)
		if (fresh & (1u << i)) {
			snprintf(error, sizeof(error), "source %s failed to "
				 "start with this release and not before",
				 agent_sources[i]->name);
			log_warn("upgrade: release %s: %s", agent->release,
				 error);
			report_upgrade(agent, 0, agent->release, "error", error);
			return; /* one report: the latest state is one row */
		}
}

/* At start without a restore to report: a try still to come (the PC was
 * restarted in between) stays due; one about the release that runs now
 * is this very try, judged by the pending marker. */
static void resume_tries(struct agent *agent)
{
	tries_load(agent->settings->upgrade_root, &agent->tries);
	if (strcmp(agent->tries.release, agent->release) == 0)
		agent->tries.release[0] = '\0';
}

#define UPGRADE_ATTEMPTS 5
#define UPGRADE_RETRY_MAX_S 3600

/* A verified agent release arrived: install it, leave a watchdog from
 * this (known good) release behind, and restart into the new one. */
static void apply_release(struct agent *agent, uint64_t version)
{
	const struct agent_settings *s = agent->settings;
	struct bundle_info info;
	char err[512], release[RELPKG_VERSION_MAX + 1] = "",
			  left[RELPKG_VERSION_MAX + 1] = "";
	void *raw = NULL;
	size_t len = 0;
	/* An agent not run from a release folder would install a release
	 * with nothing to go back to and no watchdog: refused. */
	if (agent->release[0] == '\0') {
		snprintf(err, sizeof(err), "this agent does not run from a "
			 "release folder of %s (the service must run "
			 "%s/current/eduwatch-agent)", s->upgrade_root,
			 s->upgrade_root);
		log_warn("upgrade: bundle %llu refused: %s",
			 (unsigned long long)version, err);
		report_upgrade(agent, version, "", "refused", err);
		return;
	}
	/* A release this PC gave up (its rollout halted, or restored on
	 * every try) is not installed, not even from a download that was
	 * under way when the halt came. */
	struct upgrade_tries given;
	tries_load(s->upgrade_root, &given);
	if (given.bundle == version && tries_final(&given)) {
		snprintf(err, sizeof(err), "release %s was given up on this PC "
			 "(its rollout halted, or it was restored on every "
			 "try)", given.release);
		log_warn("upgrade: bundle %llu refused: %s",
			 (unsigned long long)version, err);
		report_upgrade(agent, version, given.release, "refused", err);
		return;
	}
	int rc = rulestore_installed_payload(s->state_dir, RULESTORE_AGENT,
					     &info, &raw, &len, err, sizeof(err));
	if (rc == 0)
		rc = upgrade_apply(s->state_dir, s->upgrade_root,
				   s->upgrade_release_key, raw, len,
				   release, left, err, sizeof(err));
	alloc_free(raw);
	/* A refusal (a downgrade, a bad payload, a platform that cannot
	 * swap) is final; anything else
	 * (a full disk, a busy file) may pass: tried again, later each time,
	 * a bounded number of times, before it counts as refused. */
	bool transient = rc != 0 && rc != -EPERM && rc != -EBADMSG &&
			 rc != -EINVAL && rc != -ENOSYS; /* ENOSYS: Windows */
	if (transient && agent->retry_attempts + 1 < UPGRADE_ATTEMPTS) {
		long long delay = s->upgrade_retry_after
				  << (agent->retry_attempts < 10
					      ? agent->retry_attempts : 10);
		if (delay > UPGRADE_RETRY_MAX_S)
			delay = UPGRADE_RETRY_MAX_S;
		agent->retry_attempts++;
		agent->retry_version = version;
		agent->retry_at_us = timeutil_now_us() + delay * 1000000LL;
		log_warn("upgrade: release %s (bundle %llu) failed to install, "
			 "attempt %d of %d, again in %llds: %s",
			 release[0] ? release : "?", (unsigned long long)version,
			 agent->retry_attempts, UPGRADE_ATTEMPTS, delay, err);
		report_upgrade(agent, version, release, "retrying", err);
		return;
	}
	agent->retry_version = 0;
	agent->retry_attempts = 0;
	if (rc != 0) {
		log_warn("upgrade: release %s (bundle %llu) refused: %s",
			 release[0] ? release : "?", (unsigned long long)version,
			 err);
		report_upgrade(agent, version, release, "refused", err);
		return;
	}
	/* Without a release before it there is nothing to go back to. The
	 * marker outlives a watchdog killed with the service's cgroup. */
	if (left[0] && (rc = upgrade_mark_pending(s->upgrade_root, release,
						  s->upgrade_within)) != 0)
		log_warn("upgrade: cannot mark release %s pending: %s", release,
			 uv_strerror(rc));
	if (left[0] &&
	    (rc = upgrade_spawn_watchdog(s->upgrade_root, left, agent->config_path,
					 s->upgrade_within,
					 getenv("INVOCATION_ID") == NULL)) != 0)
		log_warn("upgrade: cannot start the watchdog: %s; release %s "
			 "runs unwatched", uv_strerror(rc), release);
	log_info("upgrade: release %s is current (was %s); restarting into it",
		 release, left[0] ? left : "none");
	report_upgrade(agent, version, release, "installed", NULL);
	agent->restart = true;
	agent_stop(agent, "a new release is installed");
}

static void fetch_finished(void *arg, enum rulestore_kind kind,
			   uint64_t version, const struct bundle_info *info,
			   const char *error)
{
	struct agent *agent = arg;
	if (kind == RULESTORE_AGENT) {
		if (error) {
			log_warn("upgrade: bundle %llu refused: %s",
				 (unsigned long long)version, error);
			report_upgrade(agent, version, "", "refused", error);
		} else {
			apply_release(agent, version);
		}
		return;
	}
	const char *what = rulestore_kind_name(kind);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	wire_pack_kv_u64(&pk, "version", version);
	wire_pack_kv_str(&pk, "state", error ? "refused" : "installed");
	if (error)
		wire_pack_kv_str(&pk, "error", error);
	else
		wire_pack_kv_u64(&pk, "rules", info->rules);
	if (error)
		log_warn("rules: %s bundle %llu refused: %s; keeping the one "
			 "installed", what, (unsigned long long)version, error);
	else
		log_info("rules: installed %s bundle %llu (%llu %s)", what,
			 (unsigned long long)version,
			 (unsigned long long)info->rules,
			 kind == RULESTORE_IOC ? "lines" : "rules");
	note_rules(agent);
	/* A refused bundle may be an attack on the rule channel. */
	agent_emit(agent, kind == RULESTORE_IOC ? "ioc.update" : "rules.update",
		   error ? 6 : 1, false, sb.data, sb.size, NULL);
	msgpack_sbuffer_destroy(&sb);
	/* A new IOC list: the sources that read it start again with it. */
	for (size_t i = 0; !error && kind == RULESTORE_IOC && i < NSOURCES; i++)
		if (agent->source_state[i] && agent_sources[i]->reload)
			agent_sources[i]->reload(agent->source_state[i]);
}

long long agent_counter_get(struct agent *agent, const char *name)
{
	return spool_counter_get(agent->spool, name);
}

void agent_counter_set(struct agent *agent, const char *name, long long v)
{
	int rc = spool_counter_set(agent->spool, name, v);
	if (rc != 0)
		log_warn("agent: cannot record counter %s: %s", name,
			 uv_strerror(rc));
}

const char *agent_rules_version(struct agent *agent)
{
	return agent->rules_version;
}

static void on_link_state(void *arg, bool connected)
{
	struct agent *agent = arg;
	for (int k = 0; connected && k < RULESTORE_KINDS; k++)
		rulefetch_connected(agent->fetch[k]);
	write_status(agent);
}

/* agent_request_stop comes from another thread (the Windows service
 * control handler), before, during or after agent_run: the running
 * agent's async handle, or the request kept for the next agent_run,
 * under one lock. */
static uv_once_t stop_once = UV_ONCE_INIT;
static uv_mutex_t stop_lock;
static uv_async_t *stop_target;
static bool stop_pending;

static void stop_lock_init(void)
{
	if (uv_mutex_init(&stop_lock) != 0)
		abort(); /* only without memory at start-up */
}

void agent_request_stop(void)
{
	uv_once(&stop_once, stop_lock_init);
	uv_mutex_lock(&stop_lock);
	if (stop_target != NULL)
		uv_async_send(stop_target);
	else
		stop_pending = true;
	uv_mutex_unlock(&stop_lock);
}

/* Points agent_request_stop at `target`, or at nothing; returns whether
 * a stop was requested while there was none. */
static bool stop_target_set(uv_async_t *target)
{
	uv_once(&stop_once, stop_lock_init);
	uv_mutex_lock(&stop_lock);
	stop_target = target;
	bool pending = stop_pending;
	stop_pending = false;
	uv_mutex_unlock(&stop_lock);
	return pending;
}

static void uplink_stopped(void *arg)
{
	struct agent *agent = arg;
	uv_close((uv_handle_t *)&agent->status_timer, NULL);
	signals_stop(&agent->signals);
	stop_target_set(NULL);
	uv_close((uv_handle_t *)&agent->stop_async, NULL);
}

/* Every source stops, agent.stop goes into the spool (SQLite, so it is
 * on disk when this returns) and the uplink closes: the loop then runs
 * out of handles and agent_run returns. */
static void agent_stop(struct agent *agent, const char *why)
{
	if (agent->stopping)
		return;
	agent->stopping = true;
	log_info("agent: %s, stopping", why);
	for (size_t i = 0; i < NSOURCES; i++)
		if (agent->source_state[i])
			agent_sources[i]->stop(agent->source_state[i]);
	for (int k = 0; k < RULESTORE_KINDS; k++)
		rulefetch_stop(agent->fetch[k]);
	agent_emit(agent, "agent.stop", 0, false, NULL, 0, NULL);
	write_status(agent);
	uplink_stop(agent->uplink, uplink_stopped, agent);
}

static void on_stop_signal(uv_signal_t *sig, int signum)
{
	char name[32], why[64];
	signals_name(signum, name, sizeof(name));
	snprintf(why, sizeof(why), "%s received", name);
	agent_stop(sig->data, why);
}

static void on_stop_request(uv_async_t *async)
{
	agent_stop(async->data, "stop requested");
}

static void on_reload(uv_signal_t *sig, int signum)
{
	struct agent *agent = sig->data;
	struct agent_settings fresh;
	char err[512];
	(void)signum;
	if (agent_settings_load(agent->config_path, &fresh, err, sizeof(err)) != 0) {
		log_err("agent: reload failed, keeping old settings: %s", err);
		return;
	}
	log_setup("eduwatch-agent", fresh.log_level);
	log_info("agent: reloaded %s (log level; other changes need a restart)",
		 agent->config_path);
}

static int load_identity(struct agent *agent, char *err, size_t errlen)
{
	X509 *cert = NULL;
	int rc = pki_read_cert(agent->paths.cert, &cert);
	if (rc != 0) {
		snprintf(err, errlen,
			 "not enrolled: cannot read %s (run 'eduwatch-agent "
			 "enroll' first)", agent->paths.cert);
		return rc;
	}
	rc = pki_cert_identity(cert, agent->id, sizeof(agent->id), agent->school,
			       sizeof(agent->school));
	X509_free(cert);
	if (rc != 0 || !event_agent_id_valid(agent->id)) {
		snprintf(err, errlen, "%s does not name an agent", agent->paths.cert);
		return -EINVAL;
	}
	X509 *ca = NULL;
	if (pki_read_cert(agent->paths.ca, &ca) != 0 ||
	    (agent->collector_key = X509_get_pubkey(ca)) == NULL) {
		X509_free(ca);
		snprintf(err, errlen, "cannot read the pinned CA %s",
			 agent->paths.ca);
		return -EINVAL;
	}
	X509_free(ca);
	return tls_ctx_new_from_files(false, agent->paths.ca, agent->paths.cert,
				      agent->paths.key, true, &agent->ctx, err,
				      errlen);
}

int agent_run(const char *config_path, const struct agent_settings *s)
{
	struct agent agent = {.settings = s, .config_path = config_path};
	struct spool_open_info info;
	char err[512];
	int rc;

	signal(SIGPIPE, SIG_IGN);
	platform_lower_priority();
	agent.loop = uv_default_loop();
	agent_paths_for(s->state_dir, &agent.paths);
	/* A release that started before and never reported healthy by its
	 * deadline (a crash loop, or a hang its killed watchdog never
	 * judged): the previous one, before anything else. */
	upgrade_running_release(agent.release, sizeof(agent.release));
	switch (upgrade_check_pending(s->upgrade_root, agent.release, false, err,
				      sizeof(err))) {
	case UPGRADE_RESTORED:
		log_warn("upgrade: %s", err);
		return AGENT_RUN_RESTART;
	case UPGRADE_WAITING:
		agent.upgrade_pending = true;
		break;
	default:
		break;
	}
	/* Said at start, not first when a release arrives: a pin that
	 * cannot be read refuses every release (apply.h). */
	if (s->upgrade_release_key[0]) {
		EVP_PKEY *pin = NULL;
		char fp[65] = "?";
		rc = pki_read_pubkey(s->upgrade_release_key, &pin);
		if (rc == 0 && pki_pubkey_fingerprint(pin, fp) != 0)
			snprintf(fp, sizeof(fp), "?");
		EVP_PKEY_free(pin);
		if (rc != 0)
			log_warn("upgrade: cannot read the release key %s (%s): "
				 "every pushed release will be refused",
				 s->upgrade_release_key, uv_strerror(rc));
		else
			log_info("upgrade: releases must be signed by the "
				 "release key sha256:%s", fp);
	}
	if ((rc = load_identity(&agent, err, sizeof(err))) != 0) {
		log_err("agent: %s", err);
		EVP_PKEY_free(agent.collector_key);
		return rc;
	}
	RAND_bytes((unsigned char *)&agent.boot, sizeof(agent.boot));
	agent.boot &= 0x7fffffffffffffffull; /* SQLite integers are signed */
	if ((rc = spool_open(agent.paths.spool, s->spool_max_size, &agent.spool,
			     &info, err, sizeof(err))) != 0) {
		log_err("agent: cannot open the spool: %s", err);
		SSL_CTX_free(agent.ctx);
		EVP_PKEY_free(agent.collector_key);
		return rc;
	}
	struct uplink_options uo = {
		.host = s->collector_host,
		.port = (int)s->collector_port,
		.ctx = agent.ctx,
		.agent_id = agent.id,
		.boot = agent.boot,
		.release = agent.release,
		.batch_max = (int)s->batch,
		.window = (int)s->window,
		.bandwidth_bps = s->bandwidth,
		.backoff_max_s = (int)s->backoff_max,
	};
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	wire_pack_kv_str(&pk, "version", EDUWATCH_VERSION);
	wire_pack_kv_str(&pk, "release", agent.release);
	wire_pack_kv_u64(&pk, "pid", (uint64_t)getpid());
	agent_emit(&agent, "agent.start", 0, false, sb.data, sb.size, NULL);
	msgpack_sbuffer_destroy(&sb);
	if (info.recovered_corrupt) {
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 1);
		wire_pack_kv_str(&pk, "moved_to", info.moved_to);
		agent_emit(&agent, "spool.corrupt", 6, false, sb.data, sb.size,
			   NULL);
		msgpack_sbuffer_destroy(&sb);
	}
	char why[512], failed[RELPKG_VERSION_MAX + 1];
	/* Reported as about the release undone, which the collector matches
	 * to its rollout; "running" says what runs again. */
	if (upgrade_take_restore_note(s->upgrade_root, failed, why, sizeof(why)))
		note_restore(&agent, failed, why);
	else if (agent.release[0])
		resume_tries(&agent);
	build_allowed(&agent);
	note_rules(&agent);
	static const struct rulefetch_ops fetch_ops = {send_fetch,
						       fetch_finished};
	for (int k = 0; k < RULESTORE_KINDS; k++)
		if ((rc = rulefetch_start(agent.loop, s->state_dir, k, &fetch_ops,
					  &agent, &agent.fetch[k])) != 0)
			goto done;
	if ((rc = uplink_start(agent.loop, agent.spool, &uo, on_command,
			       on_link_state, &agent, &agent.uplink)) != 0)
		goto done;
	struct source_env env = {agent.loop, s, NULL, &agent, config_path};
	uint32_t failed_sources = 0;
	for (size_t i = 0; i < NSOURCES; i++) {
		env.config = agent_settings_for(s, agent_source_configs[i]);
		rc = agent_sources[i]->init(&env, &agent.source_state[i]);
		if (rc == 0 && agent.source_state[i])
			rc = agent_sources[i]->start(agent.source_state[i]);
		if (rc != 0) {
			log_err("agent: source %s failed to start: %s",
				agent_sources[i]->name, uv_strerror(rc));
			failed_sources |= 1u << i;
			rc = 0; /* one broken check must not stop the others */
		}
	}
	if (agent.release[0])
		report_release_errors(&agent, failed_sources);
	uv_timer_init(agent.loop, &agent.status_timer);
	agent.status_timer.data = &agent;
	/* A new release awaiting its verdict says how it is every second:
	 * its watchdog reads the status file, and has only upgrade.within. */
	uv_timer_start(&agent.status_timer, on_status_timer, 0,
		       agent.upgrade_pending ? 1000 : STATUS_INTERVAL_MS);
	/* Without its handlers the agent still dies on SIGTERM (the default
	 * action), only without a clean stop: not worth leaving the PC
	 * unwatched for. */
	if ((rc = signals_start(agent.loop, &agent.signals, &agent,
				on_stop_signal, on_reload)) != 0) {
		log_err("agent: cannot handle signals, a stop will not be clean: "
			"%s", uv_strerror(rc));
		rc = 0;
	}
	uv_async_init(agent.loop, &agent.stop_async, on_stop_request);
	agent.stop_async.data = &agent;
	if (stop_target_set(&agent.stop_async))
		agent_stop(&agent, "stop requested before the start");
	log_info("agent: %s (school %s) boot %llu sending to %s:%lld",
		 agent.id, agent.school, (unsigned long long)agent.boot,
		 s->collector_host, s->collector_port);
	uv_run(agent.loop, UV_RUN_DEFAULT);
done:
	for (size_t i = 0; i < NSOURCES; i++)
		if (agent.source_state[i])
			agent_sources[i]->free(agent.source_state[i]);
	uplink_free(agent.uplink);
	for (int k = 0; k < RULESTORE_KINDS; k++)
		if (agent.fetch[k])
			rulefetch_free(agent.fetch[k]);
	spool_close(agent.spool);
	SSL_CTX_free(agent.ctx);
	EVP_PKEY_free(agent.collector_key);
	uv_loop_close(agent.loop);
	log_info("agent: stopped");
	return rc == 0 && agent.restart ? AGENT_RUN_RESTART : rc;
}
