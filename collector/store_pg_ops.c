/* store_pg_ops: the PostgreSQL backend's ops table. Every call of the
 * store interface has its PostgreSQL form: ingest, enrollment, scoring,
 * alerts, forwarding, the console's scoped reads, the officers'
 * accounts, sessions, API tokens and audit log, the register
 * (store_pg_officers.c), the daily history and reports
 * (store_pg_report.c), drills and agent releases (store_pg_drill.c),
 * red-team windows (store_pg_redteam.c). */
#include "collector/store_pg.h"

#include <errno.h>

/* PostgreSQL readers never wait on its writers (MVCC), so the console
 * reads through the store's own connections: "no separate reader" is
 * the web server's cue for that, not an error worth a log line. */
static int pg_open_reader(struct store *st, struct store **out, char *err,
			  size_t errlen)
{
	(void)st;
	(void)err;
	(void)errlen;
	*out = NULL;
	return -ENOTSUP;
}

const struct store_backend store_pg_backend = {
	.scheme = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.open_reader = pg_open_reader,
	.forward_status_scoped = pg_forward_status_scoped,
	.dead_letter_list_scoped = pg_dead_letter_list_scoped,
	.drill_list = pg_drill_list,
	.release_put = pg_release_put,
	.release_list = pg_release_list,
	.submit = pg_submit,
	.backlog = pg_backlog,
	.school_add = pg_school_add,
	.school_get = pg_school_get,
	.school_list = pg_school_list,
	.token_add = pg_token_add,
	.token_consume = pg_token_consume,
	.agent_add = pg_agent_add,
	.agent_revoke = pg_agent_revoke,
	.agent_allowed = pg_agent_allowed,
	.agents_revoked_since = pg_agents_revoked_since,
	.agent_list = pg_agent_list,
	.count_events = pg_count_events,
	.recent_events = pg_recent_events,
	.command_add = pg_command_add,
	.command_set_frame = pg_command_set_frame,
	.commands_pending = pg_commands_pending,
	.command_mark_sent = pg_command_mark_sent,
	.commands_withdraw = pg_commands_withdraw,
	.host_states = pg_host_states,
	.snapshot_put = pg_snapshot_put,
	.alert_raise = pg_alert_raise,
	.alert_list = pg_alert_list,
	.alert_set_state = pg_alert_set_state,
	.forward_next = pg_forward_next,
	.forward_done = pg_forward_done,
	.forward_depth = pg_forward_depth,
	.forward_deliveries = pg_forward_deliveries,
	.agents_silent = pg_agents_silent,
	.snapshot_list = pg_snapshot_list,
	.dead_letter_add = pg_dead_letter_add,
	.dead_letter_list = pg_dead_letter_list,
	.dead_letter_count = pg_dead_letter_count,
	.school_list_scoped = pg_school_list_scoped,
	.school_get_scoped = pg_school_get_scoped,
	.agent_list_scoped = pg_agent_list_scoped,
	.agent_get_scoped = pg_agent_get_scoped,
	.alert_list_scoped = pg_alert_list_scoped,
	.alert_open_counts_scoped = pg_alert_open_counts_scoped,
	.alert_volume_scoped = pg_alert_volume_scoped,
	.alert_set_state_scoped = pg_alert_set_state_scoped,
	.user_add = pg_user_add,
	.user_update = pg_user_update,
	.user_get = pg_user_get,
	.user_list = pg_user_list,
	.user_login_failed = pg_user_login_failed,
	.user_login_ok = pg_user_login_ok,
	.session_add = pg_session_add,
	.session_get = pg_session_get,
	.session_touch = pg_session_touch,
	.session_delete = pg_session_delete,
	.session_delete_user = pg_session_delete_user,
	.api_token_add = pg_api_token_add,
	.api_token_user = pg_api_token_user,
	.audit_add = pg_audit_add,
	.audit_list = pg_audit_list,
	.system_put = pg_system_put,
	.system_set = pg_system_set,
	.system_get = pg_system_get,
	.system_list = pg_system_list,
	.day_school_put = pg_day_school_put,
	.day_host_put = pg_day_host_put,
	.day_put_all = pg_day_put_all,
	.snapshot_prune = pg_snapshot_prune,
	.day_schools = pg_day_schools,
	.day_hosts = pg_day_hosts,
	.report_draft = pg_report_draft,
	.report_sign = pg_report_sign,
	.report_list = pg_report_list,
	.report_list_scoped = pg_report_list_scoped,
	.drill_add = pg_drill_add,
	.drill_get = pg_drill_get,
	.drill_transition = pg_drill_transition,
	.drill_target_put = pg_drill_target_put,
	.drill_targets = pg_drill_targets,
	.lead = pg_lead,
	.drill_all = pg_drill_all,
	.redteam_actions_add = pg_redteam_actions_add,
	.redteam_actions = pg_redteam_actions,
	.redteam_alerts = pg_redteam_alerts,
};
