/* Agents: the list, revocation, their events, signed commands and the
 * recovery of a backup key from its escrow. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <uv.h>

#include "collector/agentcmd.h"
#include "collector/cli.h"
#include "common/alloc.h"
#include "common/backupkey.h"
#include "common/config.h"
#include "common/jsonout.h"
#include "common/log.h"
#include "common/textsafe.h"
#include "common/timeutil.h"
#include "common/wire.h"

/* ---- agent --------------------------------------------------------------- */

int cmd_agent_check(const struct cli *cli)
{
	if (cli->argc < 2)
		return cli_usage_error("agent needs 'list', 'revoke' or 'enroll-string'");
	return cli_usage_error("unknown agent command '%s'", cli->argv[1]);
}

static void print_agent(void *arg, const struct store_agent *a)
{
	struct cli_list *ls = arg;
	char seen[32];
	/* Never seen counts as stale too: the PC is in the inventory but
	 * has not reported. */
	bool stale = !a->revoked && a->last_seen_us < ls->stale_before_us;
	timeutil_format_us(a->last_seen_us, seen, sizeof(seen));
	if (ls->json) {
		printf("%s{\"id\":", ls->count ? "," : "");
		json_print_string(stdout, a->id);
		printf(",\"school\":");
		json_print_string(stdout, a->school);
		printf(",\"hostname\":");
		json_print_string(stdout, a->hostname);
		printf(",\"last_seen\":\"%s\",\"stale\":%s,\"revoked\":%s,"
		       "\"events\":%lld,\"clamped_events\":%lld}",
		       seen, stale ? "true" : "false",
		       a->revoked ? "true" : "false", a->events, a->clamped);
	} else {
		char id[SAFE_CAP(sizeof(a->id))];
		char school[SAFE_CAP(sizeof(a->school))];
		char host[SAFE_CAP(sizeof(a->hostname))];
		char clamped[48] = "";
		if (a->clamped > 0)
			snprintf(clamped, sizeof(clamped),
				 "  %lld FUTURE-TS CLAMPED", a->clamped);
		printf("%-30s %-10s %-20s last seen %-20s %8lld events%s%s%s\n",
		       SAFE(id, a->id), SAFE(school, a->school),
		       SAFE(host, a->hostname), seen, a->events,
		       stale ? "  STALE" : "", a->revoked ? "  REVOKED" : "",
		       clamped);
	}
	ls->count++;
}

int cmd_agent_list(struct cli *cli, struct cli_env *env)
{
	struct cli_list ls = {.json = cli->json};
	ls.stale_before_us = store_now_us() - env->settings.stale_after * 1000000LL;
	if (ls.json)
		printf("[");
	int rc = store_agent_list(env->store, cli->school, print_agent, &ls);
	if (ls.json)
		printf("]\n");
	return rc ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

int cmd_agent_revoke_check(const struct cli *cli)
{
	return cli->argc == 3 ? 0 : cli_usage_error("usage: agent revoke ID");
}

int cmd_agent_revoke(struct cli *cli, struct cli_env *env)
{
	int rc = store_agent_revoke(env->store, cli->argv[2]);
	if (rc == -ENOENT) {
		fprintf(stderr, "eduwatch-collector: no active agent '%s'\n",
			cli->argv[2]);
		return EXIT_NOT_FOUND;
	}
	if (rc != 0)
		return EXIT_FAILURE_RUNTIME;
	printf("agent %s revoked: its next handshake will be refused\n",
	       cli->argv[2]);
	return EXIT_OK;
}

/* ---- events -------------------------------------------------------------- */

int cmd_events_check(const struct cli *cli)
{
	if (cli->argc == 2 && (strcmp(cli->argv[1], "list") == 0 ||
			       strcmp(cli->argv[1], "count") == 0))
		return 0;
	return cli_usage_error("usage: events count|list [--agent ID] "
			       "[--boot N] [--limit N]");
}

static void print_event(void *arg, const struct store_event_row *r)
{
	struct cli_list *ls = arg;
	char when[32], agent_when[32] = "", received[32], *json = NULL;
	timeutil_format_us((int64_t)r->ev.ts, when, sizeof(when));
	timeutil_format_us(r->received_us, received, sizeof(received));
	/* A ts too far in the future was replaced by the receive time: say
	 * so, and what the agent claimed. */
	bool clamped = r->agent_ts_us != 0;
	if (clamped)
		timeutil_format_us(r->agent_ts_us, agent_when,
				   sizeof(agent_when));
	if (event_body_to_json(r->ev.body, r->ev.body_len, &json) != 0)
		fprintf(stderr, "eduwatch-collector: event %llu of %s: body "
				"cannot be rendered, shown as {}\n",
			(unsigned long long)r->ev.seq, r->ev.agent);
	if (ls->json) {
		printf("%s{\"ts\":\"%s\",\"received\":\"%s\",\"agent\":",
		       ls->count ? "," : "", when, received);
		json_print_string(stdout, r->ev.agent);
		printf(",\"seq\":%llu,\"kind\":", (unsigned long long)r->ev.seq);
		json_print_string(stdout, r->ev.kind);
		printf(",\"sev\":%u,\"drill\":%s,\"ts_clamped\":%s,",
		       r->ev.sev, r->ev.drill ? "true" : "false",
		       clamped ? "true" : "false");
		if (clamped)
			printf("\"agent_ts\":\"%s\",\"agent_ts_us\":%lld,",
			       agent_when, (long long)r->agent_ts_us);
		printf("\"body\":%s}", json ? json : "{}");
	} else {
		char agent[SAFE_CAP(sizeof(r->ev.agent))];
		char kind[SAFE_CAP(sizeof(r->ev.kind))];
		printf("%s  %-28s %-16s sev %-2u %s", when, SAFE(agent, r->ev.agent),
		       SAFE(kind, r->ev.kind), r->ev.sev,
		       r->ev.drill ? "[drill] " : "");
		if (clamped)
			printf("[ts clamped: the agent said %s] ", agent_when);
		const char *body = json ? json : "{}";
		textsafe_fwrite_json(stdout, body, strlen(body));
		putchar('\n');
	}
	free(json);
	ls->count++;
}

int cmd_events_list(struct cli *cli, struct cli_env *env)
{
	struct cli_list ls = {.json = cli->json};
	if (ls.json)
		printf("[");
	int rc = store_recent_events(env->store, cli->agent,
				     cli->limit ? (int)cli->limit : 20,
				     print_event, &ls);
	if (ls.json)
		printf("]\n");
	return rc ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

int cmd_events_count(struct cli *cli, struct cli_env *env)
{
	long long count;
	if (store_count_events(env->store, cli->agent, cli->boot, &count) != 0)
		return EXIT_FAILURE_RUNTIME;
	printf("%lld\n", count);
	return EXIT_OK;
}

/* ---- command send -------------------------------------------------------- */

static const char *scan_kind(const struct cli *cli)
{
	return cli->kind ? cli->kind : cli->npaths ? "paths" : "quick";
}

static int check_scan_args(const struct cli *cli)
{
	const char *kind = scan_kind(cli);
	if (strcmp(kind, "quick") != 0 && strcmp(kind, "full") != 0 &&
	    strcmp(kind, "paths") != 0)
		return cli_usage_error("--kind must be quick or full, not '%s'",
				       kind);
	if (strcmp(kind, "paths") == 0 && cli->npaths == 0)
		return cli_usage_error("a scan of paths needs --path");
	for (size_t i = 0; i < cli->npaths; i++)
		if (cli->paths[i][0] != '/' || strlen(cli->paths[i]) >= 256)
			return cli_usage_error("--path must be absolute: '%s'",
					       cli->paths[i]);
	return 0;
}

/* scan: {kind: quick|full|paths, paths: [...]} */
static void pack_scan_args(const struct cli *cli, msgpack_sbuffer *sb)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	wire_pack_kv_str(&pk, "kind", scan_kind(cli));
	wire_pack_str(&pk, "paths");
	msgpack_pack_array(&pk, (uint32_t)cli->npaths);
	for (size_t i = 0; i < cli->npaths; i++)
		wire_pack_str(&pk, cli->paths[i]);
}

static int command_seconds(const struct cli *cli, long long *seconds)
{
	if (config_parse_duration(cli->expires_set ? cli->expires : "1h",
				  seconds) != 0 || *seconds < 1 ||
	    *seconds > 7 * 86400)
		return -1;
	return 0;
}

int cmd_command_check(const struct cli *cli)
{
	long long seconds;
	if (cli->argc != 2 || strcmp(cli->argv[1], "send") != 0 ||
	    cli->agent == NULL || cli->type == NULL)
		return cli_usage_error("usage: command send --agent ID --type TYPE "
				       "[--expires 1h]");
	if (command_seconds(cli, &seconds) != 0)
		return cli_usage_error("--expires must be a duration up to 7d");
	return strcmp(cli->type, "scan") == 0 ? check_scan_args(cli) : 0;
}

int cmd_command_send(struct cli *cli, struct cli_env *env)
{
	struct ca *ca;
	char err[512];
	long long seconds = 0;
	bool known = false;
	EW_IGNORE(command_seconds(cli, &seconds)); /* checked */
	if (store_agent_allowed(env->store, cli->agent, &known) != 0) {
		fprintf(stderr, "eduwatch-collector: cannot read agent '%s' "
				"from the store\n",
			cli->agent);
		return EXIT_FAILURE;
	}
	if (!known) {
		fprintf(stderr, "eduwatch-collector: no active agent '%s'\n",
			cli->agent);
		return EXIT_NOT_FOUND;
	}
	if (ca_load(env->settings.state_dir, &ca, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return EXIT_CONFIG;
	}
	msgpack_sbuffer args;
	msgpack_sbuffer_init(&args);
	if (strcmp(cli->type, "scan") == 0)
		pack_scan_args(cli, &args);
	uint64_t id = 0;
	int rc = agentcmd_queue(env->store, ca, cli->agent, cli->type, &args,
				   seconds, &id);
	msgpack_sbuffer_destroy(&args);
	ca_free(ca);
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: cannot queue the command\n");
		return EXIT_FAILURE_RUNTIME;
	}
	printf("command %llu (%s) queued for agent %s; the agent gets it when "
	       "connected, and its result arrives as an agent.command event\n",
	       (unsigned long long)id, cli->type, cli->agent);
	return EXIT_OK;
}

/* ---- backup-key recover -------------------------------------------------- */

struct escrow_find {
	const char *agent;
	char *blob;
	size_t len;
};

static void find_escrow(void *arg, const struct store_host_row *r)
{
	struct escrow_find *f = arg;
	if (strcmp(r->agent, f->agent) != 0 || strcmp(r->kind, "backup.escrow") != 0)
		return;
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, r->body, r->body_len, NULL) ==
		    MSGPACK_UNPACK_SUCCESS &&
	    up.data.type == MSGPACK_OBJECT_MAP) {
		const msgpack_object *e = wire_map_get(&up.data, "escrow");
		if (e && e->type == MSGPACK_OBJECT_BIN && f->blob == NULL &&
		    (f->blob = alloc_bytes(e->via.bin.size)) != NULL) {
			memcpy(f->blob, e->via.bin.ptr, e->via.bin.size);
			f->len = e->via.bin.size;
		}
	}
	msgpack_unpacked_destroy(&up);
}

int cmd_backup_key_check(const struct cli *cli)
{
	const char *pass = getenv("EDUWATCH_BACKUP_PASSWORD");
	if (cli->argc != 2 || strcmp(cli->argv[1], "recover") != 0 ||
	    cli->agent == NULL || cli->out == NULL)
		return cli_usage_error("usage: backup-key recover --agent ID "
				       "--out FILE");
	if (pass == NULL || strlen(pass) < 8)
		return cli_usage_error("set EDUWATCH_BACKUP_PASSWORD to the new "
				       "passphrase (8 characters or more)");
	return 0;
}

int cmd_backup_key_recover(struct cli *cli, struct cli_env *env)
{
	struct ca *ca;
	char err[512];
	const char *pass = getenv("EDUWATCH_BACKUP_PASSWORD");
	struct escrow_find f = {.agent = cli->agent};
	if (store_host_states(env->store, NULL, find_escrow, &f) != 0) {
		fprintf(stderr, "eduwatch-collector: cannot read host states "
				"from the store\n");
		alloc_free(f.blob);
		return EXIT_FAILURE;
	}
	if (f.blob == NULL) {
		fprintf(stderr, "eduwatch-collector: agent %s has sent no backup "
				"key escrow\n",
			cli->agent);
		return EXIT_NOT_FOUND;
	}
	if (ca_load(env->settings.state_dir, &ca, err, sizeof(err)) != 0) {
		alloc_free(f.blob);
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return EXIT_CONFIG;
	}
	uint8_t keys[BACKUPKEY_LEN];
	int rc = backupkey_escrow_open(f.blob, f.len, ca_key(ca), keys);
	alloc_free(f.blob);
	ca_free(ca);
	if (rc == 0)
		rc = backupkey_write(cli->out, keys, pass);
	OPENSSL_cleanse(keys, sizeof(keys));
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: cannot recover the key: %s\n",
			rc == -EACCES ? "the escrow was sealed for another CA"
				      : uv_strerror(rc));
		return EXIT_FAILURE_RUNTIME;
	}
	log_info("collector: backup key of agent %s recovered to %s",
		 cli->agent, cli->out);
	printf("wrote %s: copy it to the repository as keys/key; the "
	       "repository then opens with the new passphrase\n",
	       cli->out);
	return EXIT_OK;
}
