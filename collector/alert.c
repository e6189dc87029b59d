#include "collector/alert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "collector/score.h"
#include "common/alloc.h"
#include "common/jsonout.h"
#include "common/timeutil.h"
#include "common/wire.h"

#define R(key, type, member, size, def, lo, hi)                            \
	{key, type, offsetof(struct alert_rule, member), size, def, lo, hi, \
	 NULL, 0}

static const struct config_field rule_fields[] = {
	R("id", CONFIG_STRING, id, 64, NULL, 0, 0),
	R("title", CONFIG_STRING, title, 200, NULL, 0, 0),
	R("category", CONFIG_STRING, category, 64, NULL, 0, 0),
	R("kind", CONFIG_STRING, kind, EVENT_KIND_MAX + 1, NULL, 0, 0),
	R("field", CONFIG_STRING, field, 64, "", 0, 0),
	R("test", CONFIG_STRING, test, 16, "present", 0, 0),
	R("value", CONFIG_STRING, value, 128, "", 0, 0),
	R("severity", CONFIG_INT, severity, 0, NULL, 0, 10),
	R("dedupe", CONFIG_LIST, dedupe, 0, NULL, 0, 0),
	R("suppress", CONFIG_DURATION, suppress, 0, "1h", 0, 30 * 86400),
};

static const struct config_field file_fields[] = {
	{"rules", CONFIG_TABLE, offsetof(struct alert_rules, rules),
	 sizeof(struct alert_rule), NULL, 0, 500, rule_fields,
	 CONFIG_FIELD_COUNT(rule_fields)},
};

static bool made_by_collector(const char *kind)
{
	return strcmp(kind, "agent.silent") == 0 ||
	       strcmp(kind, "compliance.drop") == 0 ||
	       strcmp(kind, ALERT_KIND_DEAD_LETTER) == 0;
}

int alert_rules_load(const char *path, struct alert_rules *out, char *err,
		     size_t errlen)
{
	memset(out, 0, sizeof(*out));
	int rc = config_load_file(path, file_fields,
				  CONFIG_FIELD_COUNT(file_fields), out, err,
				  errlen);
	for (size_t i = 0; rc == 0 && i < out->rules.count; i++) {
		struct alert_rule *r = (struct alert_rule *)out->rules.items + i;
		if (!event_kind_known(r->kind) && !made_by_collector(r->kind)) {
			snprintf(err, errlen, "%s: rule '%s': unknown event kind "
				 "'%s'", path, r->id, r->kind);
			rc = -EINVAL;
			break;
		}
		struct policy_check *c = &r->cond;
		memset(c, 0, sizeof(*c));
		snprintf(c->id, sizeof(c->id), "%s", r->id);
		snprintf(c->state, sizeof(c->state), "%s", r->kind);
		snprintf(c->field, sizeof(c->field), "%s", r->field);
		snprintf(c->test, sizeof(c->test), "%s", r->test);
		snprintf(c->value, sizeof(c->value), "%s", r->value);
		rc = policy_check_parse(path, c, err, errlen);
	}
	if (rc != 0)
		alert_rules_free(out);
	return rc;
}

void alert_rules_free(struct alert_rules *r)
{
	config_free(file_fields, CONFIG_FIELD_COUNT(file_fields), r);
}

const struct alert_rule *alert_rule_for(const struct alert_rules *r,
					const char *kind)
{
	for (size_t i = 0; i < r->rules.count; i++) {
		const struct alert_rule *rule =
			(const struct alert_rule *)r->rules.items + i;
		if (strcmp(rule->kind, kind) == 0)
			return rule;
	}
	return NULL;
}

void alert_from_rule(const struct alert_rule *rule, const char *agent,
		     const char *key_extra, const char *evidence_json,
		     bool drill, struct store_alert *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->rule, sizeof(out->rule), "%s", rule->id);
	snprintf(out->title, sizeof(out->title), "%s", rule->title);
	snprintf(out->category, sizeof(out->category), "%s", rule->category);
	snprintf(out->kind, sizeof(out->kind), "%s", rule->kind);
	snprintf(out->agent, sizeof(out->agent), "%s", agent);
	snprintf(out->dedupe_key, sizeof(out->dedupe_key), "%s|%s%s%s",
		 rule->id, agent, key_extra[0] ? "|" : "", key_extra);
	/* Cut JSON is no JSON: an oversized body is pointed to instead. */
	if (evidence_json && strlen(evidence_json) < sizeof(out->evidence))
		snprintf(out->evidence, sizeof(out->evidence), "%s",
			 evidence_json);
	else
		snprintf(out->evidence, sizeof(out->evidence), "%s",
			 evidence_json ? "{\"note\":\"evidence too large; see "
					 "the event\"}"
				       : "{}");
	out->severity = (int)rule->severity;
	out->suppress_s = rule->suppress;
	out->drill = drill;
}

/* The values of the rule's dedupe fields, '|'-joined. */
static void dedupe_extra(const struct alert_rule *rule, const msgpack_object *body,
			 char *out, size_t cap)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < rule->dedupe.count && body; i++) {
		const msgpack_object *v = wire_map_get(body, rule->dedupe.items[i]);
		/* At most 120 bytes of each, cut between characters and made
		 * valid UTF-8: the key is a text column, and PostgreSQL refuses
		 * a whole transaction for one stray byte. */
		char text[121] = "";
		if (v && v->type == MSGPACK_OBJECT_STR)
			json_utf8_repair(v->via.str.ptr, v->via.str.size, text,
					 sizeof(text));
		else if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			snprintf(text, sizeof(text), "%llu",
				 (unsigned long long)v->via.u64);
		int n = snprintf(out + used, cap - used, "%s%s", i ? "|" : "",
				 text);
		if (n < 0 || (size_t)n >= cap - used)
			break;
		used += (size_t)n;
	}
}

/* A string of the body that fits dst, as valid UTF-8 (an agent's bytes
 * go into a text column). */
static void copy_str(const msgpack_object *map, const char *key, char *dst,
		     size_t cap)
{
	const msgpack_object *v = map ? wire_map_get(map, key) : NULL;
	if (v && v->type == MSGPACK_OBJECT_STR && v->via.str.size < cap &&
	    memchr(v->via.str.ptr, '\0', v->via.str.size) == NULL)
		json_utf8_repair(v->via.str.ptr, v->via.str.size, dst, cap);
}

/* The path for the SOC's column: made valid UTF-8 (a Linux file name is
 * any bytes), then cut in the middle if still too long. */
static void copy_path(const msgpack_object *path, char *dst, size_t cap)
{
	char *text = json_utf8_repaired(path->via.str.ptr, path->via.str.size);
	if (text == NULL)
		return;
	json_cut_middle(text, strlen(text), dst, cap);
	alloc_free(text);
}

/* The event's body as evidence, within the alert's column: long strings
 * are cut in the middle (the end of a path names the file), shorter at
 * each try; raw bytes that are not UTF-8 ride along in KEY_b64. NULL
 * when even the shortest form does not fit (thousands of keys). */
static char *evidence_json(const msgpack_object *body)
{
	static const size_t limits[] = {0, 1024, 256, 64};
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		struct json_render_opts o = {.max_string = limits[i],
					     .raw_b64 = true};
		char *json = NULL;
		size_t len = 0;
		if (json_render_msgpack(body, &o, &json, &len) != 0)
			return NULL;
		if (len < STORE_ALERT_EVIDENCE_MAX)
			return json;
		free(json);
	}
	return NULL;
}

/* The fields a SIEM has columns for, from whichever evidence key holds
 * them in each event kind. */
static void pick_siem_fields(const msgpack_object *body, struct store_alert *a)
{
	static const char *const src_keys[] = {
		"src_ip", "responder_ip", "server_ip", "ioc_ip", "client_ip",
		"ip"};
	for (size_t i = 0; i < sizeof(src_keys) / sizeof(src_keys[0]) &&
			   a->src_ip[0] == '\0';
	     i++)
		copy_str(body, src_keys[i], a->src_ip, sizeof(a->src_ip));
	/* A path too long for the column is cut in the middle, never
	 * dropped: a deep folder must not hide a file from the SOC. */
	const msgpack_object *path = body ? wire_map_get(body, "path") : NULL;
	if (path && path->type == MSGPACK_OBJECT_STR &&
	    memchr(path->via.str.ptr, '\0', path->via.str.size) == NULL)
		copy_path(path, a->file_path, sizeof(a->file_path));
	copy_str(body, "sha256", a->file_hash, sizeof(a->file_hash));
}

size_t alert_evaluate(void *arg, const struct event *ev,
		      struct store_alert *out, size_t max)
{
	const struct alert_rules *rules = arg;
	size_t n = 0;
	msgpack_unpacked up;
	const msgpack_object *body = NULL;
	char *json = NULL;
	msgpack_unpacked_init(&up);
	for (size_t i = 0; i < rules->rules.count && n < max; i++) {
		const struct alert_rule *r =
			(const struct alert_rule *)rules->rules.items + i;
		if (strcmp(r->kind, ev->kind) != 0)
			continue;
		struct store_host_row row = {.kind = ev->kind,
					     .ts_us = (int64_t)ev->ts,
					     .body = ev->body,
					     .body_len = ev->body_len};
		struct check_result res;
		score_check(&r->cond, &row, 1, (int64_t)ev->ts, (int64_t)ev->ts,
			    &res);
		if (!res.pass)
			continue;
		if (body == NULL && ev->body &&
		    msgpack_unpack_next(&up, ev->body, ev->body_len, NULL) ==
			    MSGPACK_UNPACK_SUCCESS)
			body = &up.data;
		if (json == NULL && body)
			json = evidence_json(body);
		char extra[200];
		dedupe_extra(r, body, extra, sizeof(extra));
		/* A drill's finding never folds into a real alert of the same
		 * key, nor a real one into a drill's (a real infection hidden
		 * as a drill for the suppress window), and each campaign gets
		 * its own alert to time. */
		uint64_t campaign = 0;
		if (ev->drill && body &&
		    wire_get_u64(body, "campaign_id", &campaign) != 0)
			campaign = 0;
		if (ev->drill) {
			size_t used = strlen(extra);
			snprintf(extra + used, sizeof(extra) - used,
				 "%sdrill:%llu", used ? "|" : "",
				 (unsigned long long)campaign);
		}
		alert_from_rule(r, ev->agent, extra,
				json ? json
				: body ? "{\"note\":\"evidence too large; see the "
					 "event\"}"
				       : NULL,
				ev->drill, &out[n]);
		pick_siem_fields(body, &out[n++]);
	}
	msgpack_unpacked_destroy(&up);
	free(json);
	return n;
}

struct previous {
	char today[11];
	bool found;
	struct store_snapshot snap;
};

static void on_previous(void *arg, const struct store_snapshot *sn)
{
	struct previous *p = arg;
	if (!p->found && strcmp(sn->day, p->today) != 0) {
		p->snap = *sn;
		p->found = true;
	}
}

int alert_check_drop(struct store *st, const struct alert_rule *rule,
		     const char *school, double score, const char *today,
		     double *drop)
{
	struct previous prev = {.found = false};
	snprintf(prev.today, sizeof(prev.today), "%s", today);
	*drop = 0;
	if (rule == NULL)
		return 0;
	int rc = store_snapshot_list(st, "school", school, 2, on_previous,
				     &prev);
	if (rc != 0 || !prev.found)
		return rc;
	double fall = prev.snap.score - score;
	/* The rule's test reads a body {drop: fall}, as for an event. */
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	wire_pack_str(&pk, "drop");
	msgpack_pack_double(&pk, fall);
	struct store_host_row row = {.kind = rule->kind, .body = sb.data,
				     .body_len = sb.size};
	struct check_result res;
	score_check(&rule->cond, &row, 1, 0, 0, &res);
	msgpack_sbuffer_destroy(&sb);
	if (!res.pass)
		return 0;
	char evidence[400];
	struct store_alert a;
	bool created = false;
	snprintf(evidence, sizeof(evidence),
		 "{\"school\":\"%s\",\"before\":%.2f,\"before_day\":\"%s\","
		 "\"after\":%.2f,\"drop\":%.2f}",
		 school, prev.snap.score, prev.snap.day, score, fall);
	alert_from_rule(rule, "", school, evidence, false, &a);
	snprintf(a.school, sizeof(a.school), "%s", school);
	rc = store_alert_raise(st, &a, &created);
	if (rc != 0)
		return rc;
	*drop = fall;
	return created ? 1 : 0;
}

struct silent_agents {
	char (*ids)[EVENT_AGENT_MAX + 1];
	int64_t *last_us;
	size_t n, cap;
};

static void on_silent(void *arg, const char *agent, int64_t last_us)
{
	struct silent_agents *sa = arg;
	if (sa->n == sa->cap) {
		size_t cap = sa->cap ? sa->cap * 2 : 64;
		void *ids = alloc_resize(sa->ids, cap * sizeof(*sa->ids));
		if (ids == NULL)
			return;
		sa->ids = ids;
		void *last = alloc_resize(sa->last_us, cap * sizeof(*sa->last_us));
		if (last == NULL)
			return;
		sa->last_us = last;
		sa->cap = cap;
	}
	snprintf(sa->ids[sa->n], sizeof(sa->ids[0]), "%s", agent);
	sa->last_us[sa->n++] = last_us;
}

/* The agent-silence drill (agent/drill): the agent's newest
 * drill.injected, when it holds the uplink over the start of the
 * silence and the hold has not long ended. */
struct silence_drill {
	int64_t last_us, now_us, grace_us;
	bool seen;	      /* the newest drill.injected was looked at */
	uint64_t campaign_id; /* a drill's silence when not 0 */
	int64_t until_us;     /* the hold's end, as the agent said it */
};

static void on_recent(void *arg, const struct store_event_row *r)
{
	struct silence_drill *sd = arg;
	uint64_t until = 0, id = 0;
	if (sd->seen || !r->ev.drill ||
	    strcmp(r->ev.kind, "drill.injected") != 0)
		return;
	sd->seen = true;
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	if (r->ev.body &&
	    msgpack_unpack_next(&up, r->ev.body, r->ev.body_len, NULL) ==
		    MSGPACK_UNPACK_SUCCESS &&
	    wire_get_u64(&up.data, "hold_until_us", &until) == 0 &&
	    wire_get_u64(&up.data, "campaign_id", &id) == 0 &&
	    until <= (uint64_t)(INT64_MAX - sd->grace_us) &&
	    sd->last_us <= (int64_t)until &&
	    sd->now_us < (int64_t)until + sd->grace_us) {
		sd->campaign_id = id;
		sd->until_us = (int64_t)until;
	}
	msgpack_unpacked_destroy(&up);
}

/* What the collector itself knows of the campaign an agent names: the
 * agent's word is not enough, or a PC taken over could dress its own
 * silence as a drill (flagged, so that a SOC filters it, and resolved by
 * itself when the PC is back). */
struct silence_claim {
	uint64_t id;
	const char *agent;
	bool started;	  /* the campaign exists and was started */
	int64_t end_us;	  /* its window's end */
	bool targeted;	  /* this agent got its command */
};

static void on_claimed_campaign(void *arg, const struct store_drill *d)
{
	struct silence_claim *c = arg;
	if (d->id != c->id)
		return;
	c->started = d->started_us != 0;
	c->end_us = d->window_end_us;
}

static void on_claimed_target(void *arg, const struct store_drill_target *t)
{
	struct silence_claim *c = arg;
	if (t->command != 0 && strcmp(t->agent, c->agent) == 0)
		c->targeted = true;
}

/* The claim holds when the campaign was started, sent this agent its
 * command, and its window covers the hold the agent says it keeps. */
static bool silence_claim_holds(struct store *st, const char *agent,
				uint64_t id, int64_t until_us)
{
	struct silence_claim c = {.id = id, .agent = agent};
	if (store_drill_all(st, on_claimed_campaign, &c) != 0 || !c.started ||
	    until_us > c.end_us)
		return false;
	return store_drill_targets(st, id, on_claimed_target, &c) == 0 &&
	       c.targeted;
}

/* A silence is the drill's while the agent's hold covers it; once the
 * hold has ended, the PC gets the same grace any PC gets, and a PC still
 * silent after that is silent for real (switched off mid-drill). The
 * injected event is among the last the agent sent before holding. */
static uint64_t silence_campaign(struct store *st, const char *agent,
				 int64_t last_us, int64_t now_us,
				 long long grace_s)
{
	struct silence_drill sd = {.last_us = last_us, .now_us = now_us,
				   .grace_us = grace_s * 1000000LL};
	if (store_recent_events(st, agent, 16, on_recent, &sd) != 0 ||
	    sd.campaign_id == 0 ||
	    !silence_claim_holds(st, agent, sd.campaign_id, sd.until_us))
		return 0;
	return sd.campaign_id;
}

struct drill_silences {
	uint64_t ids[256];
	char agents[256][EVENT_AGENT_MAX + 1];
	size_t n;
};

static void on_open_alert(void *arg, const struct store_alert *a)
{
	struct drill_silences *ds = arg;
	if (!a->drill || strcmp(a->kind, "agent.silent") != 0 ||
	    ds->n == sizeof(ds->ids) / sizeof(*ds->ids))
		return;
	ds->ids[ds->n] = a->id;
	snprintf(ds->agents[ds->n++], sizeof(ds->agents[0]), "%s", a->agent);
}

/* A drill's silent-PC alert is resolved when the PC is back: the drill
 * is over for that PC. A real one waits for an officer, who should ask
 * why the PC went quiet. */
static int resolve_drill_silences(struct store *st,
				  const struct silent_agents *sa)
{
	static const char *const states[] = {"open", "acknowledged"};
	struct drill_silences *ds = alloc_zeroed(1, sizeof(*ds));
	int rc = ds == NULL ? -ENOMEM : 0;
	for (size_t k = 0; rc == 0 && k < 2; k++) {
		ds->n = 0;
		rc = store_alert_list(st, states[k], NULL, 1000, on_open_alert,
				      ds);
		for (size_t i = 0; rc == 0 && i < ds->n; i++) {
			bool silent = false;
			for (size_t j = 0; j < sa->n && !silent; j++)
				silent = strcmp(sa->ids[j], ds->agents[i]) == 0;
			if (silent)
				continue;
			int r = store_alert_set_state(st, ds->ids[i], "resolved",
						      "eduwatch: the PC is back");
			if (r != 0 && r != -EALREADY)
				rc = r;
		}
	}
	alloc_free(ds);
	return rc;
}

/* Listed first and raised after, since raising takes the store lock the
 * listing holds. */
int alert_sweep_silence(struct store *st, const struct alert_rule *rule,
			int64_t now_us, long long stale_after_s,
			size_t *raised)
{
	struct silent_agents sa = {0};
	*raised = 0;
	if (rule == NULL)
		return 0;
	int rc = store_agents_silent(st, now_us - stale_after_s * 1000000LL,
				     on_silent, &sa);
	for (size_t i = 0; i < sa.n; i++) {
		char evidence[200], seen[32], extra[40] = "";
		struct store_alert a;
		bool created;
		uint64_t campaign = silence_campaign(st, sa.ids[i],
						     sa.last_us[i], now_us,
						     stale_after_s);
		timeutil_format_us(sa.last_us[i], seen, sizeof(seen));
		if (campaign != 0) {
			/* Its own alert per campaign, never folded into a
			 * real one (alert_evaluate's rule for drills). */
			snprintf(extra, sizeof(extra), "drill:%llu",
				 (unsigned long long)campaign);
			snprintf(evidence, sizeof(evidence),
				 "{\"last_seen\":\"%s\",\"silent_s\":%lld,"
				 "\"campaign_id\":%llu}", seen,
				 (long long)((now_us - sa.last_us[i]) / 1000000),
				 (unsigned long long)campaign);
		} else {
			snprintf(evidence, sizeof(evidence),
				 "{\"last_seen\":\"%s\",\"silent_s\":%lld}",
				 seen,
				 (long long)((now_us - sa.last_us[i]) / 1000000));
		}
		alert_from_rule(rule, sa.ids[i], extra, evidence, campaign != 0,
				&a);
		int r = store_alert_raise(st, &a, &created);
		if (r == 0)
			(*raised)++;
		else if (rc == 0)
			rc = r;
	}
	if (rc == 0)
		rc = resolve_drill_silences(st, &sa);
	alloc_free(sa.ids);
	alloc_free(sa.last_us);
	return rc;
}
