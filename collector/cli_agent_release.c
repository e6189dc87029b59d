/* agent-release: the offline release key (keygen, sign), publishing a
 * release, and status: which agent version runs where. Each agent says
 * its version in its hello and in its agent.start event; the latter is
 * kept in host_state, so the view needs no scan of the event log. A
 * version is what a PC claims: it is shown escaped and cut, never
 * trusted further. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>

#include "collector/cli.h"
#include "collector/release.h"
#include "common/alloc.h"
#include "common/fsutil.h"
#include "common/jsonout.h"
#include "common/pki.h"
#include "common/relpkg.h"
#include "common/textsafe.h"
#include "common/wire.h"

#define VERSION_MAX 32

struct agent_version {
	char school[STORE_CODE_MAX + 1];
	char version[VERSION_MAX + 1]; /* "" : not reported */
	bool release; /* version is the release folder agent.start named */
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
	/* The release folder an agent runs from is what rollouts move, so
	 * it wins; otherwise the newer of the two reports of the program's
	 * version: an upgraded agent says so in both, at start first. */
	struct agent_version *a = &c->v[c->n - 1];
	char v[VERSION_MAX + 1] = "";
	if (strcmp(r->kind, "agent.start") == 0) {
		body_version(r->body, r->body_len, "release", v);
		if (v[0]) {
			memcpy(a->version, v, sizeof(v));
			a->release = true;
			return;
		}
	}
	if (field != NULL && !a->release && r->ts_us > c->version_ts) {
		body_version(r->body, r->body_len, field, v);
		if (v[0]) {
			memcpy(a->version, v, sizeof(v));
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
			       "[--json] | agent-release keygen --out DIR | "
			       "agent-release sign DIR --key PRIVATE.pem --out "
			       "FILE [--rollback] | agent-release publish "
			       "FILE|DIR --channel pilot|stable [--rollback]");
}

int cmd_agent_release_publish_check(const struct cli *cli)
{
	if (cli->argc != 3 || cli->channel == NULL)
		return cli_usage_error("usage: agent-release publish FILE|DIR "
				       "--channel pilot|stable [--rollback]");
	return 0;
}

#define RELEASE_KEY_FILE "release-key.pem"
#define RELEASE_PUB_FILE "release-key.pub.pem"

int cmd_agent_release_keygen_check(const struct cli *cli)
{
	if (cli->argc != 2 || cli->out == NULL)
		return cli_usage_error("usage: agent-release keygen --out DIR");
	return 0;
}

/* The offline release key: made once, on the machine that will keep it
 * (never the collector); the public half goes to the collector
 * (releases.release_key) and to every PC (upgrade.release_key). */
int cmd_agent_release_keygen(struct cli *cli, struct cli_env *env)
{
	char priv[4096], pub[4096], fp[65];
	EVP_PKEY *key = NULL;
	(void)env;
	snprintf(priv, sizeof(priv), "%s/" RELEASE_KEY_FILE, cli->out);
	snprintf(pub, sizeof(pub), "%s/" RELEASE_PUB_FILE, cli->out);
	if (mkdir(cli->out, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "eduwatch-collector: cannot create %s: %s\n",
			cli->out, uv_strerror(-errno));
		return EXIT_FAILURE_RUNTIME;
	}
	/* A second keygen over the first would orphan every PC that pins
	 * the old key: refused, the operator removes it on purpose. */
	if (access(priv, F_OK) == 0) {
		fprintf(stderr, "eduwatch-collector: %s exists; a new release "
			"key is a key rotation (README, agent releases): "
			"move the old one away first\n", priv);
		return EXIT_FAILURE_RUNTIME;
	}
	int rc = pki_key_new(&key);
	if (rc == 0)
		rc = pki_write_key(priv, key);
	if (rc == 0)
		rc = pki_write_pubkey(pub, key);
	if (rc == 0)
		rc = pki_pubkey_fingerprint(key, fp);
	EVP_PKEY_free(key);
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: cannot make the release "
			"key in %s: %s\n", cli->out, uv_strerror(rc));
		return EXIT_FAILURE_RUNTIME;
	}
	printf("release key: %s (private, 0600: keep it off the collector)\n"
	       "public key:  %s (to the collector's releases.release_key and "
	       "every PC's upgrade.release_key)\nfingerprint: sha256:%s\n",
	       priv, pub, fp);
	return EXIT_OK;
}

int cmd_agent_release_sign_check(const struct cli *cli)
{
	if (cli->argc != 3 || cli->npaths != 1 || cli->out == NULL)
		return cli_usage_error("usage: agent-release sign DIR --key "
				       "PRIVATE.pem --out FILE [--rollback]");
	return 0;
}

/* Packs a release folder and signs it with the offline key: runs where
 * the key is, with no collector state at all. */
int cmd_agent_release_sign(struct cli *cli, struct cli_env *env)
{
	const char *dir = cli->argv[2];
	char release[RELPKG_VERSION_MAX + 1], err[768], fp[65];
	char *payload = NULL, *file = NULL;
	size_t payload_len = 0, file_len = 0;
	EVP_PKEY *key = NULL;
	(void)env;
	if (!relpkg_dir_version(dir, release)) {
		fprintf(stderr, "eduwatch-collector: %s: a release folder is "
			"named agent-VERSION (digits and dots), as it will be "
			"on the PCs\n", dir);
		return EXIT_USAGE;
	}
	int rc = pki_read_key(cli->paths[0], &key);
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: cannot read the release "
			"key %s: %s\n", cli->paths[0], uv_strerror(rc));
		return EXIT_CONFIG;
	}
	rc = relpkg_pack_dir(dir, release, cli->rollback, &payload,
			     &payload_len, err, sizeof(err));
	if (rc == 0 && (rc = relpkg_sign(key, payload, payload_len, &file,
					 &file_len)) != 0)
		snprintf(err, sizeof(err), "cannot sign: %s", uv_strerror(rc));
	if (rc == 0 && (rc = fs_write_atomic(cli->out, file, file_len,
					     0644)) != 0)
		snprintf(err, sizeof(err), "cannot write %s: %s", cli->out,
			 uv_strerror(rc));
	if (rc == 0 && pki_pubkey_fingerprint(key, fp) != 0)
		snprintf(fp, sizeof(fp), "?");
	EVP_PKEY_free(key);
	alloc_free(payload);
	alloc_free(file);
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: release not signed: %s\n",
			err);
		return EXIT_FAILURE_RUNTIME;
	}
	printf("signed agent release %s%s into %s (%zu bytes) with the "
	       "release key sha256:%s\n", release,
	       cli->rollback ? " (rollback)" : "", cli->out, file_len, fp);
	return EXIT_OK;
}

int cmd_agent_release_publish(struct cli *cli, struct cli_env *env)
{
	struct store_release r;
	char err[768];
	int rc = release_publish(env->store, env->ca, &env->settings,
				 cli->argv[2], cli->channel, cli->rollback, &r,
				 err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: release not published: "
				"%s\n", err);
		return rc == -EINVAL ? EXIT_CONFIG : EXIT_FAILURE_RUNTIME;
	}
	printf("published agent release %s%s as bundle %llu (%llu bytes "
	       "signed); rollout starts in the %s ring\n",
	       r.release, r.rollback ? " (rollback)" : "",
	       (unsigned long long)r.id, (unsigned long long)r.size, r.channel);
	return EXIT_OK;
}

/* The rollouts, newest first, with each ring's progress. */
struct rollouts {
	struct store_release *v;
	size_t n, cap;
	int rc;
};

static void add_release(void *arg, const struct store_release *r)
{
	struct rollouts *l = arg;
	if (l->rc != 0 || l->n >= 20) /* the recent ones are what matters */
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		struct store_release *p = alloc_resize(l->v, cap * sizeof(*p));
		if (p == NULL) {
			l->rc = -ENOMEM;
			return;
		}
		l->v = p;
		l->cap = cap;
	}
	l->v[l->n++] = *r;
}

static void print_ring_json(const char *name, const struct release_ring *g)
{
	printf(",\"%s\":{\"pcs\":%llu,\"offered\":%llu,\"upgraded\":%llu,"
	       "\"failed\":%llu,\"silent\":%llu,\"failed_schools\":%llu}",
	       name, (unsigned long long)g->pcs, (unsigned long long)g->offered,
	       (unsigned long long)g->upgraded, (unsigned long long)g->failed,
	       (unsigned long long)g->silent,
	       (unsigned long long)g->failed_schools);
}

static int print_rollouts(struct cli_env *env, bool json)
{
	struct rollouts l = {0};
	int rc = store_release_list(env->store, add_release, &l);
	if (rc == -ENOTSUP) {
		if (json)
			printf("[]");
		return 0;
	}
	if (rc == 0)
		rc = l.rc;
	if (json)
		printf("[");
	else if (l.n)
		printf("\n%-8s %-12s %-7s %-7s %-22s %-22s %s\n", "release",
		       "bundle", "channel", "state", "pilot up/failed/offered",
		       "stable up/failed/offered", "why");
	int64_t now = store_now_us();
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		const struct store_release *r = &l.v[i];
		struct release_ring p, s;
		rc = release_progress(env->store, &env->settings, r, now, &p, &s);
		if (rc != 0)
			break;
		if (json) {
			printf("%s{\"release\":", i ? "," : "");
			json_print_string(stdout, r->release);
			printf(",\"bundle\":%llu,\"channel\":\"%s\",\"rollback\":"
			       "%s,\"state\":\"%s\",\"why\":",
			       (unsigned long long)r->id, r->channel,
			       r->rollback ? "true" : "false", r->state);
			json_print_string(stdout, r->why);
			print_ring_json("pilot", &p);
			print_ring_json("stable", &s);
			printf("}");
		} else {
			char why[SAFE_CAP(sizeof(r->why))];
			char pr[32], sr[32];
			snprintf(pr, sizeof(pr), "%llu/%llu/%llu of %llu",
				 (unsigned long long)p.upgraded,
				 (unsigned long long)p.failed,
				 (unsigned long long)p.offered,
				 (unsigned long long)p.pcs);
			snprintf(sr, sizeof(sr), "%llu/%llu/%llu of %llu",
				 (unsigned long long)s.upgraded,
				 (unsigned long long)s.failed,
				 (unsigned long long)s.offered,
				 (unsigned long long)s.pcs);
			printf("%-8s %-12llu %-7s %-7s %-22s %-22s %s\n",
			       r->release, (unsigned long long)r->id, r->channel,
			       r->state, pr, sr, SAFE(why, r->why));
		}
	}
	if (json)
		printf("]");
	alloc_free(l.v);
	return rc;
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
		printf("{\"versions\":[");
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
		printf("],\"rollouts\":");
	alloc_free(c.v);
	rc = print_rollouts(env, cli->json);
	if (cli->json)
		printf("}\n");
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: cannot read the "
				"releases: %s\n", uv_strerror(rc));
		return EXIT_FAILURE_RUNTIME;
	}
	return EXIT_OK;
}
