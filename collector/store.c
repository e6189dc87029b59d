#include "collector/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>

#include "collector/store_backend.h"
#include "collector/store_pg.h"
#include "collector/store_sqlite.h"
#include "common/log.h"
#include "common/alloc.h"
#include "common/timeutil.h"
#include "common/wire.h"

static const struct store_backend *const backends[] = {
	&store_sqlite_backend,
	&store_pg_backend,
};

size_t store_alert_text_fields(const struct store_alert *a, const char *first,
			       const char *last,
			       struct store_field out[STORE_ALERT_TEXT_FIELDS])
{
	const struct store_field f[STORE_ALERT_TEXT_FIELDS] = {
		{"rule", a->rule},	   {"title", a->title},
		{"category", a->category}, {"kind", a->kind},
		{"agent", a->agent},	   {"hostname", a->hostname},
		{"school", a->school},	   {"commune", a->commune},
		{"state", a->state},	   {"ack_by", a->ack_by},
		{"resolved_by", a->resolved_by}, {"first", first},
		{"last", last},		   {"file_path", a->file_path},
	};
	memcpy(out, f, sizeof(f));
	return STORE_ALERT_TEXT_FIELDS;
}

int64_t store_now_us(void)
{
	return timeutil_now_us();
}

/* Kinds whose latest value is the state of a host (the scorer reads
 * host_state, never the event log). */
static const char *const state_kinds[] = {
	"av.status", "backup.status", "backup.restore_test", "scan.summary",
	"agent.inventory", "agent.start", "net.sensor",
	/* What became of the last agent release pushed (collector/release.h). */
	"agent.upgrade",
	/* Kept for as long as the PC exists, whatever the retention: the
	 * province's way back into a school's backups. */
	"backup.escrow",
};

bool store_is_state_kind(const char *kind)
{
	for (size_t i = 0; i < sizeof(state_kinds) / sizeof(state_kinds[0]); i++)
		if (strcmp(kind, state_kinds[i]) == 0)
			return true;
	return false;
}

/* An agent's clock, or the agent itself, may lie: a ts far ahead of our
 * receive time would otherwise win every later "which is newest" and pin
 * the PC's state. */
int64_t store_clamp_future_ts(struct event *ev, int64_t now)
{
	if ((int64_t)ev->ts <= now + STORE_MAX_FUTURE_SKEW_US &&
	    (int64_t)ev->ts >= 0)
		return 0;
	int64_t agent_ts = (int64_t)ev->ts;
	ev->ts = (uint64_t)now;
	return agent_ts;
}

void store_warn_clamped(const char *agent, long long n)
{
	if (n > 0)
		log_warn("store: agent %s sent %lld event(s) stamped more "
			 "than %lld s ahead of the collector's clock; "
			 "stored at the receive time and flagged",
			 agent, n, STORE_MAX_FUTURE_SKEW_US / 1000000);
}

int store_raise_alerts(const struct store_options *opts,
		       const struct event *ev,
		       int (*write)(void *ctx, const struct store_alert *a),
		       void *ctx)
{
	struct store_alert alerts[STORE_ALERTS_PER_EVENT];
	if (opts->alert_fn == NULL)
		return 0;
	size_t n = opts->alert_fn(opts->alert_arg, ev, alerts,
				  STORE_ALERTS_PER_EVENT);
	EW_ASSERT(n <= STORE_ALERTS_PER_EVENT);
	for (size_t i = 0; i < n; i++) {
		int rc = write(ctx, &alerts[i]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

bool store_body_flag(const void *body, size_t len, const char *key)
{
	bool v = false;
	if (body == NULL || len == 0)
		return false;
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, body, len, NULL) ==
		    MSGPACK_UNPACK_SUCCESS &&
	    up.data.type == MSGPACK_OBJECT_MAP) {
		const msgpack_object *o = wire_map_get(&up.data, key);
		v = o && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
	}
	msgpack_unpacked_destroy(&up);
	return v;
}

int store_open(const struct store_options *opts, uv_loop_t *loop,
	       struct store **out, char *err, size_t errlen)
{
	const char *url = opts->url;
	const char *colon = strchr(url, ':');
	*out = NULL;
	/* A plain path (no scheme, or a Windows-style drive) means SQLite. */
	if (colon == NULL || colon == url || strchr(url, '/') < colon)
		return store_sqlite_backend.open(opts, url, loop, out, err,
						 errlen);
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		size_t n = strlen(backends[i]->scheme);
		if ((size_t)(colon - url) == n &&
		    strncmp(url, backends[i]->scheme, n) == 0)
			return backends[i]->open(opts, colon + 1, loop, out, err,
						 errlen);
	}
	snprintf(err, errlen, "store url '%s': unknown scheme (known: sqlite, postgresql)",
		 url);
	return -EINVAL;
}

void store_close(struct store *st)
{
	if (st != NULL)
		st->backend->close(st);
}

int store_open_reader(struct store *st, struct store **out, char *err,
		      size_t errlen)
{
	*out = NULL;
	return st->backend->open_reader(st, out, err, errlen);
}

struct store_batch *store_batch_new(size_t capacity)
{
	struct store_batch *b = alloc_zeroed(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	b->events = alloc_zeroed(capacity ? capacity : 1, sizeof(struct event));
	if (b->events == NULL) {
		alloc_free(b);
		return NULL;
	}
	b->capacity = capacity ? capacity : 1;
	return b;
}

void store_batch_free(struct store_batch *batch)
{
	if (batch == NULL)
		return;
	for (size_t i = 0; i < batch->count; i++)
		event_clear(&batch->events[i]);
	alloc_free(batch->events);
	alloc_free(batch);
}

int store_batch_add(struct store_batch *batch, struct event *ev)
{
	if (batch->count == batch->capacity)
		return -ENOSPC;
	batch->events[batch->count++] = *ev;
	ev->body = NULL;
	ev->body_len = 0;
	return 0;
}

size_t store_batch_count(const struct store_batch *batch)
{
	return batch->count;
}

void store_submit(struct store *st, struct store_batch *batch,
		  store_commit_cb cb, void *arg)
{
	batch->cb = cb;
	batch->arg = arg;
	st->backend->submit(st, batch);
}

size_t store_backlog(const struct store *st)
{
	return st->backend->backlog(st);
}

int store_school_add(struct store *st, const struct store_school *school)
{
	return st->backend->school_add(st, school);
}

int store_school_get(struct store *st, const char *code,
		     struct store_school *out)
{
	return st->backend->school_get(st, code, out);
}

int store_school_list(struct store *st,
		      void (*cb)(void *arg, const struct store_school *s),
		      void *arg)
{
	return st->backend->school_list(st, cb, arg);
}

int store_token_add(struct store *st, const unsigned char hash[32],
		    const char *school, int uses, int64_t expires_us)
{
	return st->backend->token_add(st, hash, school, uses, expires_us);
}

int store_token_consume(struct store *st, const unsigned char hash[32],
			enum store_token_result *result,
			char school[STORE_CODE_MAX + 1])
{
	return st->backend->token_consume(st, hash, result, school);
}

int store_agent_add(struct store *st, const char *id, const char *school,
		    const char *hostname, const char *cert_sha256)
{
	return st->backend->agent_add(st, id, school, hostname, cert_sha256);
}

int store_agent_revoke(struct store *st, const char *id)
{
	return st->backend->agent_revoke(st, id);
}

int store_agent_allowed(struct store *st, const char *id, bool *allowed)
{
	return st->backend->agent_allowed(st, id, allowed);
}

int store_agent_list(struct store *st, const char *school,
		     void (*cb)(void *arg, const struct store_agent *a),
		     void *arg)
{
	return st->backend->agent_list(st, school, cb, arg);
}

int store_host_states(struct store *st, const char *school,
		      void (*cb)(void *arg, const struct store_host_row *r),
		      void *arg)
{
	return st->backend->host_states(st, school, cb, arg);
}

int store_snapshot_put(struct store *st, const struct store_snapshot *snap)
{
	return st->backend->snapshot_put(st, snap);
}

int store_snapshot_list(struct store *st, const char *scope, const char *key,
			int limit,
			void (*cb)(void *arg, const struct store_snapshot *s),
			void *arg)
{
	return st->backend->snapshot_list(st, scope, key, limit, cb, arg);
}

int store_alert_raise(struct store *st, const struct store_alert *a,
		      bool *created)
{
	return st->backend->alert_raise(st, a, created);
}

int store_alert_list(struct store *st, const char *state, const char *school,
		     int limit,
		     void (*cb)(void *arg, const struct store_alert *a),
		     void *arg)
{
	return st->backend->alert_list(st, state, school, limit, cb, arg);
}

int store_alert_set_state(struct store *st, uint64_t id, const char *state,
			  const char *who)
{
	return st->backend->alert_set_state(st, id, state, who);
}

int store_agents_silent(struct store *st, int64_t before_us,
			void (*cb)(void *arg, const char *agent,
				   int64_t last_us),
			void *arg)
{
	return st->backend->agents_silent(st, before_us, cb, arg);
}

int store_forward_next(struct store *st, const char *dest, uint64_t after_id,
		       int limit,
		       void (*cb)(void *arg, const struct store_alert *a),
		       void *arg)
{
	return st->backend->forward_next(st, dest, after_id, limit, cb, arg);
}

int store_forward_done(struct store *st, const char *dest, uint64_t id)
{
	return st->backend->forward_done(st, dest, id);
}

int store_forward_depth(struct store *st, const char *dest, long long *n)
{
	return st->backend->forward_depth(st, dest, n);
}

int store_forward_deliveries(struct store *st, int64_t from_us,
			     int64_t end_us,
			     void (*cb)(void *arg,
					const struct store_delivery *d),
			     void *arg)
{
	return st->backend->forward_deliveries(st, from_us, end_us, cb, arg);
}

int store_dead_letter_add(struct store *st, const struct store_dead_letter *dl,
			  const struct event *notice)
{
	return st->backend->dead_letter_add(st, dl, notice);
}

int store_dead_letter_list(struct store *st, const char *dest, int limit,
			   void (*cb)(void *arg,
				      const struct store_dead_letter *dl),
			   void *arg)
{
	return st->backend->dead_letter_list(st, dest, limit, cb, arg);
}

int store_forward_status_scoped(struct store *st,
				const struct store_scope *sc, const char *dest,
				struct store_forward_status *out)
{
	return st->backend->forward_status_scoped(st, sc, dest, out);
}

int store_dead_letter_list_scoped(struct store *st,
				  const struct store_scope *sc,
				  const char *dest, int limit,
				  void (*cb)(void *arg,
					     const struct store_dead_letter *dl),
				  void *arg)
{
	return st->backend->dead_letter_list_scoped(st, sc, dest, limit, cb,
						     arg);
}

int store_dead_letter_count(struct store *st, const char *dest,
			    long long *n)
{
	return st->backend->dead_letter_count(st, dest, n);
}

int store_count_events(struct store *st, const char *agent, uint64_t boot,
		       long long *count)
{
	return st->backend->count_events(st, agent, boot, count);
}

int store_recent_events(struct store *st, const char *agent, int limit,
			void (*cb)(void *arg, const struct store_event_row *r),
			void *arg)
{
	return st->backend->recent_events(st, agent, limit, cb, arg);
}

int store_command_add(struct store *st, const char *agent, const char *type,
		      int64_t issued_us, int64_t expires_us, uint64_t *id)
{
	return st->backend->command_add(st, agent, type, issued_us, expires_us,
					id);
}

int store_command_set_frame(struct store *st, uint64_t id, const char *frame,
			    size_t len)
{
	return st->backend->command_set_frame(st, id, frame, len);
}

int store_commands_pending(struct store *st, const char *agent,
			   void (*cb)(void *arg, uint64_t id, const char *agent,
				      const char *frame, size_t len),
			   void *arg)
{
	return st->backend->commands_pending(st, agent, cb, arg);
}

int store_command_mark_sent(struct store *st, uint64_t id)
{
	return st->backend->command_mark_sent(st, id);
}

int store_commands_withdraw(struct store *st, const char *type,
			    int64_t issued_before_us, int64_t now_us,
			    long long *withdrawn)
{
	return st->backend->commands_withdraw(st, type, issued_before_us,
					      now_us, withdrawn);
}

int store_agents_revoked_since(struct store *st, int64_t since_us,
			       void (*cb)(void *arg, const char *id,
					  int64_t revoked_us),
			       void *arg)
{
	return st->backend->agents_revoked_since(st, since_us, cb, arg);
}

/* ---- officers (the console) ------------------------------------------------ */

int store_school_list_scoped(struct store *st, const struct store_scope *sc,
			     void (*cb)(void *arg, const struct store_school *s),
			     void *arg)
{
	return st->backend->school_list_scoped(st, sc, cb, arg);
}

int store_school_get_scoped(struct store *st, const struct store_scope *sc,
			    const char *code, struct store_school *out)
{
	return st->backend->school_get_scoped(st, sc, code, out);
}

int store_agent_list_scoped(struct store *st, const struct store_scope *sc,
			    const char *school,
			    void (*cb)(void *arg, const struct store_agent *a),
			    void *arg)
{
	return st->backend->agent_list_scoped(st, sc, school, cb, arg);
}

int store_agent_get_scoped(struct store *st, const struct store_scope *sc,
			   const char *id, struct store_agent *out)
{
	return st->backend->agent_get_scoped(st, sc, id, out);
}

int store_alert_list_scoped(struct store *st, const struct store_scope *sc,
			    const char *state, const char *school,
			    uint64_t before_id, int limit,
			    void (*cb)(void *arg, const struct store_alert *a),
			    void *arg)
{
	return st->backend->alert_list_scoped(st, sc, state, school, before_id,
					      limit, cb, arg);
}

int store_alert_open_counts_scoped(struct store *st,
				   const struct store_scope *sc,
				   long long by_sev[3])
{
	return st->backend->alert_open_counts_scoped(st, sc, by_sev);
}

void store_day_name(long long day, char out[11])
{
	time_t t = (time_t)(day * 86400);
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, 11, "%Y-%m-%d", &tm) != 10)
		snprintf(out, 11, "0000-00-00");
}

int store_alert_volume_scoped(struct store *st, const struct store_scope *sc,
			      int64_t from_us,
			      void (*cb)(void *arg,
					 const struct store_alert_volume *v),
			      void *arg)
{
	return st->backend->alert_volume_scoped(st, sc, from_us, cb, arg);
}

int store_alert_set_state_scoped(struct store *st,
				 const struct store_scope *sc, uint64_t id,
				 const char *state, const char *who)
{
	return st->backend->alert_set_state_scoped(st, sc, id, state, who);
}

int store_user_add(struct store *st, const struct store_user *u)
{
	return st->backend->user_add(st, u);
}

int store_user_update(struct store *st, const struct store_user *u)
{
	return st->backend->user_update(st, u);
}

int store_user_get(struct store *st, const char *name, struct store_user *out)
{
	return st->backend->user_get(st, name, out);
}

int store_user_list(struct store *st,
		    void (*cb)(void *arg, const struct store_user *u),
		    void *arg)
{
	return st->backend->user_list(st, cb, arg);
}

int store_user_login_failed(struct store *st, const char *name,
			    int max_failed, bool *locked)
{
	return st->backend->user_login_failed(st, name, max_failed, locked);
}

int store_user_login_ok(struct store *st, const char *name)
{
	return st->backend->user_login_ok(st, name);
}

int store_session_add(struct store *st, const unsigned char hash[32],
		      const char *user, int64_t now_us, const char *address)
{
	return st->backend->session_add(st, hash, user, now_us, address);
}

int store_session_get(struct store *st, const unsigned char hash[32],
		      char user[STORE_USER_MAX + 1], int64_t *created_us,
		      int64_t *last_us)
{
	return st->backend->session_get(st, hash, user, created_us, last_us);
}

int store_session_touch(struct store *st, const unsigned char hash[32],
			int64_t now_us)
{
	return st->backend->session_touch(st, hash, now_us);
}

int store_session_delete(struct store *st, const unsigned char hash[32])
{
	return st->backend->session_delete(st, hash);
}

int store_session_delete_user(struct store *st, const char *user)
{
	return st->backend->session_delete_user(st, user);
}

int store_api_token_add(struct store *st, const unsigned char hash[32],
			const char *label, const char *user, int64_t now_us)
{
	return st->backend->api_token_add(st, hash, label, user, now_us);
}

int store_api_token_user(struct store *st, const unsigned char hash[32],
			 char user[STORE_USER_MAX + 1])
{
	return st->backend->api_token_user(st, hash, user);
}

int store_audit_add(struct store *st, const struct store_audit *a)
{
	return st->backend->audit_add(st, a);
}

int store_audit_list(struct store *st, uint64_t before_id, int limit,
		     void (*cb)(void *arg, const struct store_audit *a),
		     void *arg)
{
	return st->backend->audit_list(st, before_id, limit, cb, arg);
}

/* ---- register, daily history, reports ------------------------------------ */

int store_system_put(struct store *st, const struct store_system *sys,
		     uint64_t *id)
{
	return st->backend->system_put(st, sys, id);
}

int store_system_set(struct store *st, const struct store_system *sys)
{
	return st->backend->system_set(st, sys);
}

int store_system_get(struct store *st, uint64_t id, struct store_system *out)
{
	return st->backend->system_get(st, id, out);
}

int store_system_list(struct store *st, const char *unit,
		      void (*cb)(void *arg, const struct store_system *s),
		      void *arg)
{
	return st->backend->system_list(st, unit, cb, arg);
}

int store_day_school_put(struct store *st, const struct store_day_school *d)
{
	return st->backend->day_school_put(st, d);
}

int store_day_host_put(struct store *st, const struct store_day_host *d)
{
	return st->backend->day_host_put(st, d);
}

int store_lead(struct store *st, const char *job, bool *leading)
{
	*leading = false;
	return st->backend->lead(st, job, leading);
}

int store_snapshot_prune(struct store *st, const char *before_day,
			 long long *removed)
{
	return st->backend->snapshot_prune(st, before_day, removed);
}

int store_day_put_all(struct store *st,
		      int (*next)(void *arg, struct store_day_row *row),
		      void *arg)
{
	return st->backend->day_put_all(st, next, arg);
}

int store_day_schools(struct store *st, const char *from, const char *to,
		      void (*cb)(void *arg, const struct store_day_school *d),
		      void *arg)
{
	return st->backend->day_schools(st, from, to, cb, arg);
}

int store_day_hosts(struct store *st, const char *day,
		    void (*cb)(void *arg, const struct store_day_host *d),
		    void *arg)
{
	return st->backend->day_hosts(st, day, cb, arg);
}

int store_report_draft(struct store *st, const struct store_report *r,
		       uint64_t *id, int *version)
{
	return st->backend->report_draft(st, r, id, version);
}

int store_report_sign(struct store *st, uint64_t id, const char *by,
		      const char *pdf_path, const char *pdf_sha256,
		      const char *model)
{
	return st->backend->report_sign(st, id, by, pdf_path, pdf_sha256,
					model);
}

int store_report_list(struct store *st, const char *period, const char *scope,
		      void (*cb)(void *arg, const struct store_report *r),
		      void *arg)
{
	return st->backend->report_list(st, period, scope, cb, arg);
}

int store_report_list_scoped(struct store *st, const struct store_scope *sc,
			     uint64_t id,
			     void (*cb)(void *arg, const struct store_report *r),
			     void *arg)
{
	return st->backend->report_list_scoped(st, sc, id, cb, arg);
}

int store_drill_add(struct store *st, const struct store_drill *d,
		    uint64_t *id)
{
	return st->backend->drill_add(st, d, id);
}

int store_drill_get(struct store *st, const char *name,
		    struct store_drill *out)
{
	return st->backend->drill_get(st, name, out);
}

int store_drill_transition(struct store *st, uint64_t id, const char *from,
			   const char *to, const char *who)
{
	return st->backend->drill_transition(st, id, from, to, who);
}

int store_drill_target_put(struct store *st,
			   const struct store_drill_target *t)
{
	return st->backend->drill_target_put(st, t);
}

int store_drill_list(struct store *st, int64_t from_us, int64_t end_us,
		     void (*cb)(void *arg, const struct store_drill *d),
		     void *arg)
{
	if (st->backend->drill_list == NULL)
		return -ENOTSUP;
	return st->backend->drill_list(st, from_us, end_us, cb, arg);
}

int store_drill_all(struct store *st,
		    void (*cb)(void *arg, const struct store_drill *d),
		    void *arg)
{
	return st->backend->drill_all(st, cb, arg);
}

int store_redteam_actions_add(struct store *st,
			      const struct store_redteam_action *a, size_t n)
{
	return st->backend->redteam_actions_add(st, a, n);
}

int store_redteam_actions(struct store *st, uint64_t campaign,
			  void (*cb)(void *arg,
				     const struct store_redteam_action *a),
			  void *arg)
{
	return st->backend->redteam_actions(st, campaign, cb, arg);
}

int store_redteam_alerts(struct store *st, uint64_t campaign,
			 void (*cb)(void *arg,
				    const struct store_redteam_alert *a),
			 void *arg)
{
	return st->backend->redteam_alerts(st, campaign, cb, arg);
}

int store_release_put(struct store *st, const struct store_release *r)
{
	return st->backend->release_put(st, r);
}

int store_release_list(struct store *st,
		       void (*cb)(void *arg, const struct store_release *r),
		       void *arg)
{
	return st->backend->release_list(st, cb, arg);
}

int store_drill_targets(struct store *st, uint64_t campaign,
			void (*cb)(void *arg,
				   const struct store_drill_target *t),
			void *arg)
{
	return st->backend->drill_targets(st, campaign, cb, arg);
}
