/* agent-release status: which agent version runs where. Each agent says
 * its version in its hello and in its agent.start event; the latter is
 * kept in host_state, so the view needs no scan of the event log. A
 * version is what a PC claims: it is shown escaped and cut, never
 * trusted further. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "collector/cli.h"
#include "common/alloc.h"
#include "common/jsonout.h"
#include "common/textsafe.h"
#include "common/wire.h"

#define VERSION_MAX 32

struct agent_version {
	char school[STORE_CODE_MAX + 1];
	char version[VERSION_MAX + 1]; /* "" : not reported */
};

struct collect {
	struct agent_version *v;
	size_t n, cap;
	char agent[EVENT_AGENT_MAX + 1]; /* the agent of v[n - 1] */
	int64_t version_ts;		 /* of the version kept for it */
	int rc;
};

/* The version string of an agent.start or agent.inventory body. */
static void body_version(const char *body, size_t len, const char *field,
			 char out[VERSION_MAX + 1])
{
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	if (body && msgpack_unpack_next(&up, body, len, NULL) ==
			    MSGPACK_UNPACK_SUCCESS) {
		const msgpack_object *o = wire_map_get(&up.data, field);
		if (o != NULL && o->type == MSGPACK_OBJECT_STR &&
		    o->via.str.size > 0) {
			size_t n = o->via.str.size < VERSION_MAX ? o->via.str.size
								 : VERSION_MAX;
			memcpy(out, o->via.str.ptr, n);
			out[n] = '\0';
		}
	}
	msgpack_unpacked_destroy(&up);
}

static void on_row(void *arg, const struct store_host_row *r)
{
	struct collect *c = arg;
	if (c->rc != 0)
		return;
	if (c->n == 0 || strcmp(c->agent, r->agent) != 0) {
		if (c->n == c->cap) {
			size_t cap = c->cap ? 2 * c->cap : 256;
			struct agent_version *p =
				alloc_resize(c->v, cap * sizeof(*p));
			if (p == NULL) {
				c->rc = -ENOMEM;
				return;
			}
			c->v = p;
			c->cap = cap;
		}
		memset(&c->v[c->n], 0, sizeof(c->v[0]));
		snprintf(c->v[c->n].school, sizeof(c->v[0].school), "%s",
			 r->school);
		snprintf(c->agent, sizeof(c->agent), "%s", r->agent);
		c->version_ts = -1;
		c->n++;
	}
	const char *field = strcmp(r->kind, "agent.start") == 0 ? "version"
			    : strcmp(r->kind, "agent.inventory") == 0
				    ? "agent_version"
				    : NULL;
	/* The newer of the two reports wins: an upgraded agent says so in
	 * both, at start first. */
	if (field != NULL && r->ts_us > c->version_ts) {
		char v[VERSION_MAX + 1] = "";
		body_version(r->body, r->body_len, field, v);
		if (v[0]) {
			memcpy(c->v[c->n - 1].version, v, sizeof(v));
			c->version_ts = r->ts_us;
		}
	}
}

static int by_school_version(const void *a, const void *b)
{
	const struct agent_version *x = a, *y = b;
	int d = strcmp(x->school, y->school);
	return d ? d : strcmp(x->version, y->version);
}

int cmd_agent_release_check(const struct cli *cli)
{
	(void)cli;
	return cli_usage_error("usage: agent-release status [--school CODE] "
			       "[--json]");
}

int cmd_agent_release_status(struct cli *cli, struct cli_env *env)
{
	struct collect c = {0};
	if (cli->argc != 2)
		return cmd_agent_release_check(cli);
	int rc = store_host_states(env->store, cli->school, on_row, &c);
	if (rc != 0 || c.rc != 0) {
		fprintf(stderr, "eduwatch-collector: cannot read the agents' "
				"state\n");
		alloc_free(c.v);
		return EXIT_FAILURE_RUNTIME;
	}
	if (c.n)
		qsort(c.v, c.n, sizeof(c.v[0]), by_school_version);
	if (cli->json)
		printf("[");
	else
		printf("%-12s %-34s %s\n", "school", "agent version", "agents");
	int rows = 0;
	for (size_t i = 0; i < c.n;) {
		size_t j = i;
		while (j < c.n && by_school_version(&c.v[i], &c.v[j]) == 0)
			j++;
		const char *ver = c.v[i].version[0] ? c.v[i].version : NULL;
		if (cli->json) {
			printf("%s{\"school\":", rows ? "," : "");
			json_print_string(stdout, c.v[i].school);
			printf(",\"version\":");
			if (ver)
				json_print_string(stdout, ver);
			else
				printf("null");
			printf(",\"agents\":%zu}", j - i);
		} else {
			char school[SAFE_CAP(STORE_CODE_MAX + 1)];
			char v[SAFE_CAP(VERSION_MAX + 1)];
			printf("%-12s %-34s %zu\n", SAFE(school, c.v[i].school),
			       ver ? SAFE(v, ver) : "(not reported yet)", j - i);
		}
		rows++;
		i = j;
	}
	if (cli->json)
		printf("]\n");
	alloc_free(c.v);
	return EXIT_OK;
}
