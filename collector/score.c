#include "collector/score.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "collector/alert.h"
#include "common/alloc.h"
#include "common/timeutil.h"
#include "common/wire.h"

/* A field's value as text (for eq, ne and the evidence) and, when it is a
 * number, as one. */
struct value {
	char text[96];
	bool is_number;
	double number;
};

static bool read_field(const char *body, size_t len, const char *field,
		       struct value *v)
{
	msgpack_unpacked up;
	bool found = false;
	msgpack_unpacked_init(&up);
	if (body && msgpack_unpack_next(&up, body, len, NULL) ==
			    MSGPACK_UNPACK_SUCCESS) {
		const msgpack_object *o = wire_map_get(&up.data, field);
		found = o != NULL;
		if (!found) {
			/* nothing to read */
		} else if (o->type == MSGPACK_OBJECT_BOOLEAN) {
			snprintf(v->text, sizeof(v->text), "%s",
				 o->via.boolean ? "true" : "false");
		} else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
			snprintf(v->text, sizeof(v->text), "%" PRIu64, o->via.u64);
			v->is_number = true;
			v->number = (double)o->via.u64;
		} else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
			snprintf(v->text, sizeof(v->text), "%" PRId64, o->via.i64);
			v->is_number = true;
			v->number = (double)o->via.i64;
		} else if (o->type == MSGPACK_OBJECT_FLOAT32 ||
			   o->type == MSGPACK_OBJECT_FLOAT64) {
			snprintf(v->text, sizeof(v->text), "%g", o->via.f64);
			v->is_number = true;
			v->number = o->via.f64;
		} else if (o->type == MSGPACK_OBJECT_STR) {
			snprintf(v->text, sizeof(v->text), "%.*s",
				 (int)(o->via.str.size < 90 ? o->via.str.size : 90),
				 o->via.str.ptr);
		} else {
			snprintf(v->text, sizeof(v->text), "(a structure)");
		}
	}
	msgpack_unpacked_destroy(&up);
	return found;
}

static void format_age(int64_t us, char *buf, size_t cap)
{
	long long s = us / 1000000;
	if (s >= 86400)
		snprintf(buf, cap, "%lldd %lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, cap, "%lldh %lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, cap, "%llds", s);
}

void score_check(const struct policy_check *c,
		 const struct store_host_row *rows, size_t nrows,
		 int64_t last_seen_us, int64_t now_us,
		 struct check_result *out)
{
	struct value v = {0};
	bool found = false;
	out->check = c;
	out->pass = false;
	if (strcmp(c->state, "agent") == 0) {
		found = last_seen_us > 0;
		snprintf(v.text, sizeof(v.text), "%lld", (long long)last_seen_us);
		v.is_number = found;
		v.number = (double)last_seen_us;
		if (!found) {
			snprintf(out->evidence, sizeof(out->evidence),
				 "the agent never reported");
			return;
		}
	} else {
		const struct store_host_row *row = NULL;
		for (size_t i = 0; i < nrows && row == NULL; i++)
			if (strcmp(rows[i].kind, c->state) == 0)
				row = &rows[i];
		if (row == NULL) {
			snprintf(out->evidence, sizeof(out->evidence),
				 "no %s reported", c->state);
			return;
		}
		if (c->op == CHECK_PRESENT && c->field[0] == '\0') {
			out->pass = true;
			snprintf(out->evidence, sizeof(out->evidence),
				 "%s reported", c->state);
			return;
		}
		if (strcmp(c->field, "ts") == 0) {
			found = true;
			snprintf(v.text, sizeof(v.text), "%lld",
				 (long long)row->ts_us);
			v.is_number = true;
			v.number = (double)row->ts_us;
		} else {
			found = read_field(row->body, row->body_len, c->field, &v);
		}
		if (!found) {
			snprintf(out->evidence, sizeof(out->evidence),
				 "%s has no field %s", c->state, c->field);
			return;
		}
	}
	char age[32] = "";
	switch (c->op) {
	case CHECK_EQ:
		out->pass = strcmp(v.text, c->value) == 0;
		break;
	case CHECK_NE:
		out->pass = strcmp(v.text, c->value) != 0;
		break;
	case CHECK_LE:
		out->pass = v.is_number && v.number <= c->number;
		break;
	case CHECK_GE:
		out->pass = v.is_number && v.number >= c->number;
		break;
	case CHECK_AGE_LE:
		out->pass = v.is_number &&
			    now_us - (int64_t)v.number <= c->age_s * 1000000LL;
		if (v.is_number)
			format_age(now_us - (int64_t)v.number, age, sizeof(age));
		break;
	case CHECK_PRESENT:
		out->pass = true;
		break;
	}
	if (c->op == CHECK_AGE_LE && age[0])
		snprintf(out->evidence, sizeof(out->evidence),
			 "%s.%s was %s ago; wants within %s", c->state,
			 c->field, age, c->value);
	else
		snprintf(out->evidence, sizeof(out->evidence),
			 "%s.%s = %s; wants %s %s", c->state, c->field, v.text,
			 c->test, c->value);
}

/* ---- accumulating the store's rows ----------------------------------- */

struct pending_row {
	char kind[EVENT_KIND_MAX + 1];
	int64_t ts_us;
	char *body;
	size_t body_len;
};

struct collect {
	const struct policy_set *policies;
	int64_t now_us;
	struct score_report *report;
	size_t school_index; /* of the rows' current school */
	/* the agent whose rows are arriving */
	char agent[EVENT_AGENT_MAX + 1];
	char school[STORE_CODE_MAX + 1];
	char hostname[STORE_NAME_MAX + 1];
	int64_t last_seen_us;
	struct pending_row rows[32];
	size_t nrows;
	int failed;
};

static struct school_score *find_school(struct collect *c, const char *code)
{
	struct score_report *r = c->report;
	if (c->school_index < r->nschools &&
	    strcmp(r->schools[c->school_index].school.code, code) == 0)
		return &r->schools[c->school_index];
	for (size_t i = 0; i < r->nschools; i++) {
		if (strcmp(r->schools[i].school.code, code) == 0) {
			c->school_index = i;
			return &r->schools[i];
		}
	}
	return NULL;
}

static void clear_rows(struct collect *c)
{
	for (size_t i = 0; i < c->nrows; i++)
		alloc_free(c->rows[i].body);
	c->nrows = 0;
}

/* Scores the agent whose rows have all arrived. */
static void finish_host(struct collect *c)
{
	if (c->agent[0] == '\0')
		return;
	struct school_score *ss = find_school(c, c->school);
	const struct policy *pol =
		ss ? policy_for_level(c->policies, ss->school.level) : NULL;
	if (ss && pol == NULL)
		ss->no_policy = true;
	if (ss == NULL || pol == NULL) {
		clear_rows(c);
		c->agent[0] = '\0';
		return;
	}
	struct host_score *hosts = alloc_resize(
		ss->hosts, (ss->nhosts + 1) * sizeof(*ss->hosts));
	struct check_result *results =
		alloc_zeroed(pol->checks.count, sizeof(*results));
	if (hosts == NULL || results == NULL) {
		if (hosts)
			ss->hosts = hosts;
		alloc_free(results);
		c->failed = -ENOMEM;
		clear_rows(c);
		c->agent[0] = '\0';
		return;
	}
	ss->hosts = hosts;
	struct host_score *h = &hosts[ss->nhosts++];
	memset(h, 0, sizeof(*h));
	snprintf(h->agent, sizeof(h->agent), "%s", c->agent);
	snprintf(h->hostname, sizeof(h->hostname), "%s", c->hostname);
	h->last_seen_us = c->last_seen_us;
	h->stale = c->last_seen_us == 0 ||
		   c->now_us - c->last_seen_us > pol->stale_after * 1000000LL;
	struct store_host_row view[32];
	for (size_t i = 0; i < c->nrows; i++)
		view[i] = (struct store_host_row){
			.kind = c->rows[i].kind, .ts_us = c->rows[i].ts_us,
			.body = c->rows[i].body, .body_len = c->rows[i].body_len};
	long long passed = 0, total = 0;
	for (size_t i = 0; i < pol->checks.count; i++) {
		const struct policy_check *pc = policy_check_at(pol, i);
		score_check(pc, view, c->nrows, c->last_seen_us, c->now_us,
			    &results[i]);
		total += pc->weight;
		if (results[i].pass)
			passed += pc->weight;
	}
	h->results = results;
	h->nresults = pol->checks.count;
	h->score = total ? 100.0 * (double)passed / (double)total : 0;
	clear_rows(c);
	c->agent[0] = '\0';
}

static void on_row(void *arg, const struct store_host_row *r)
{
	struct collect *c = arg;
	if (strcmp(r->agent, c->agent) != 0) {
		finish_host(c);
		snprintf(c->agent, sizeof(c->agent), "%s", r->agent);
		snprintf(c->school, sizeof(c->school), "%s", r->school);
		snprintf(c->hostname, sizeof(c->hostname), "%s",
			 r->hostname ? r->hostname : "");
		c->last_seen_us = r->last_seen_us;
	}
	if (r->kind[0] == '\0' || c->nrows == sizeof(c->rows) / sizeof(c->rows[0]))
		return;
	struct pending_row *p = &c->rows[c->nrows];
	snprintf(p->kind, sizeof(p->kind), "%s", r->kind);
	p->ts_us = r->ts_us;
	p->body_len = r->body_len;
	p->body = NULL;
	if (r->body_len) {
		p->body = alloc_bytes(r->body_len);
		if (p->body == NULL) {
			c->failed = -ENOMEM;
			return;
		}
		memcpy(p->body, r->body, r->body_len);
	}
	c->nrows++;
}

static void on_school(void *arg, const struct store_school *s)
{
	struct score_report *r = arg;
	struct school_score *schools =
		alloc_resize(r->schools, (r->nschools + 1) * sizeof(*schools));
	if (schools == NULL)
		return;
	r->schools = schools;
	memset(&schools[r->nschools], 0, sizeof(schools[0]));
	schools[r->nschools++].school = *s;
}

int score_compute(struct store *st, const struct policy_set *policies,
		  const char *school, int64_t now_us, struct score_report *out,
		  char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	int rc;
	if (school) {
		struct store_school one;
		rc = store_school_get(st, school, &one);
		if (rc == 0)
			on_school(out, &one);
	} else {
		rc = store_school_list(st, on_school, out);
	}
	if (rc != 0) {
		snprintf(err, errlen, rc == -ENOENT ? "no school %s"
						    : "cannot read the schools",
			 school ? school : "");
		return rc;
	}
	struct collect c = {.policies = policies, .now_us = now_us,
			    .report = out};
	rc = store_host_states(st, school, on_row, &c);
	finish_host(&c);
	clear_rows(&c);
	if (rc == 0)
		rc = c.failed;
	if (rc != 0) {
		snprintf(err, errlen, "cannot read host state");
		score_report_free(out);
		return rc;
	}
	for (size_t i = 0; i < out->nschools; i++) {
		struct school_score *s = &out->schools[i];
		double sum = 0;
		if (policy_for_level(policies, s->school.level) == NULL)
			s->no_policy = true;
		s->enrolled = (int)s->nhosts;
		for (size_t h = 0; h < s->nhosts; h++) {
			if (s->hosts[h].stale) {
				s->stale++;
			} else {
				s->fresh++;
				sum += s->hosts[h].score;
			}
		}
		s->pcs = s->school.expected_pcs > s->enrolled
				 ? s->school.expected_pcs
				 : s->enrolled;
		s->missing = s->pcs - s->enrolled;
		s->score = s->pcs ? sum / s->pcs : 0;
	}
	out->province = score_rollup(out, NULL, &out->province_pcs);
	return 0;
}

double score_rollup(const struct score_report *r, const char *commune,
		    int *pcs)
{
	double sum = 0;
	int total = 0;
	for (size_t i = 0; i < r->nschools; i++) {
		const struct school_score *s = &r->schools[i];
		if (commune && strcmp(s->school.commune, commune) != 0)
			continue;
		sum += s->score * s->pcs;
		total += s->pcs;
	}
	*pcs = total;
	return total ? sum / total : 0;
}

void score_report_free(struct score_report *r)
{
	for (size_t i = 0; i < r->nschools; i++) {
		for (size_t h = 0; h < r->schools[i].nhosts; h++)
			alloc_free(r->schools[i].hosts[h].results);
		alloc_free(r->schools[i].hosts);
	}
	alloc_free(r->schools);
	memset(r, 0, sizeof(*r));
}

void score_day(int64_t now_us, char day[11])
{
	char stamp[32];
	timeutil_format_us(now_us, stamp, sizeof(stamp));
	snprintf(day, 11, "%.10s", stamp);
}

static void on_day(void *arg, const struct store_snapshot *sn)
{
	const char **want = arg;
	if (*want && strcmp(sn->day, *want) == 0)
		*want = NULL;
}

int score_snapshot_exists(struct store *st, const char *day, bool *exists)
{
	const char *want = day;
	/* The newest province rows; day is today's, so it would be first. */
	int rc = store_snapshot_list(st, "province", "", 2, on_day, &want);
	*exists = rc == 0 && want == NULL;
	return rc;
}

int score_snapshot(struct store *st, const struct score_report *r,
		   const struct alert_rule *drop_rule, const char *day,
		   score_drop_fn on_drop, void *arg, int *recorded)
{
	struct store_snapshot sn = {0};
	int rc = 0, n = 0;
	snprintf(sn.day, sizeof(sn.day), "%s", day);
	for (size_t i = 0; rc == 0 && i < r->nschools; i++) {
		const struct school_score *s = &r->schools[i];
		double drop;
		if (alert_check_drop(st, drop_rule, s->school.code, s->score,
				     sn.day, &drop) == 1 &&
		    on_drop)
			on_drop(arg, drop_rule, s->school.code, drop);
		snprintf(sn.scope, sizeof(sn.scope), "school");
		snprintf(sn.key, sizeof(sn.key), "%s", s->school.code);
		sn.score = s->score;
		sn.pcs = s->pcs;
		rc = store_snapshot_put(st, &sn);
		n++;
		/* A commune once, at its first school. */
		bool first = true;
		for (size_t j = 0; j < i; j++)
			if (strcmp(r->schools[j].school.commune,
				   s->school.commune) == 0)
				first = false;
		if (rc == 0 && first) {
			snprintf(sn.scope, sizeof(sn.scope), "commune");
			snprintf(sn.key, sizeof(sn.key), "%s", s->school.commune);
			sn.score = score_rollup(r, s->school.commune, &sn.pcs);
			rc = store_snapshot_put(st, &sn);
			n++;
		}
	}
	if (rc == 0) {
		snprintf(sn.scope, sizeof(sn.scope), "province");
		sn.key[0] = '\0';
		sn.score = r->province;
		sn.pcs = r->province_pcs;
		rc = store_snapshot_put(st, &sn);
		n++;
	}
	if (rc == 0)
		rc = score_snapshot_history(st, r, day);
	*recorded = n;
	return rc;
}
