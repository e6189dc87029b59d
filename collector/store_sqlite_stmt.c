/* store_sqlite_stmt: every statement of the SQLite backend, and the one
 * helper that runs them (prepare once, bind with checks, step, reset), so
 * that no query repeats that scaffolding, and the admin lock with its
 * re-entrancy check. */
#include "collector/store_sqlite.h"

#include <errno.h>
#include <execinfo.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"


/* An officer's scope: the province sees all, a commune officer the
 * schools of one commune, a school officer one school. */
#define SCOPE_OF(commune, code)                                       \
	"(?1 = 0 OR (?1 = 1 AND " commune " = ?2) OR (?1 = 2 AND " code \
	" = ?2))"
/* agent_list's columns; the per-agent event count is left at 0, as a
 * page of a thousand PCs must not count every event of each. */
#define AGENT_SCOPED_SELECT                                                \
	"SELECT a.id, a.school, a.hostname, a.enrolled,"                    \
	" coalesce(a.last_seen, 0), a.revoked IS NOT NULL, 0, a.clamped"     \
	" FROM agents a JOIN schools s ON s.code = a.school WHERE "         \
	SCOPE_OF("s.commune", "s.code")
#define USER_SELECT                                                  \
	"SELECT name, pwhash, role, scope, disabled, failed, locked,"  \
	" totp, lang, created FROM users"

static const struct {
	const char *name;
	const char *sql;
} table[SQ_COUNT] = {
	[SQ_BEGIN] = {"begin", "BEGIN IMMEDIATE"},
	/* A read snapshot: several SELECTs that see the same commit, and
	 * the one BEGIN a read-only connection may run. */
	[SQ_BEGIN_READ] = {"begin_read", "BEGIN DEFERRED"},
	[SQ_COMMIT] = {"commit", "COMMIT"},
	[SQ_ROLLBACK] = {"rollback", "ROLLBACK"},

	[SQ_EVENT_INSERT] = {"event_insert",
		"INSERT OR IGNORE INTO events(agent, boot, seq, ts, received,"
		" kind, sev, drill, body, agent_ts)"
		" VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"},
	/* Newest by the collector's receive time, never the agent's ts: in
	 * one batch, later events come later in seq order. */
	[SQ_STATE_UPSERT] = {"state_upsert",
		"INSERT INTO host_state(agent, kind, ts, sev, drill, body,"
		" received, agent_ts) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"
		" ON CONFLICT(agent, kind) DO UPDATE"
		" SET ts=excluded.ts, sev=excluded.sev, drill=excluded.drill,"
		" body=excluded.body, received=excluded.received,"
		" agent_ts=excluded.agent_ts"
		" WHERE excluded.received >= host_state.received"},
	[SQ_AGENT_TOUCH] = {"agent_touch",
		"UPDATE agents SET last_seen=?1, last_boot=?2,"
		" clamped=clamped+?4 WHERE id=?3"},
	[SQ_PRUNE_LOW] = {"prune_low",
		"DELETE FROM events WHERE id IN (SELECT id FROM events"
		" WHERE received < ?1 AND sev < ?2 ORDER BY id LIMIT ?3)"},
	[SQ_PRUNE_HIGH] = {"prune_high",
		"DELETE FROM events WHERE id IN (SELECT id FROM events"
		" WHERE received < ?1 AND sev >= ?2 ORDER BY id LIMIT ?3)"},

	/* An alert a red-team window flagged takes no more repeats once
	 * that window is over: a real infection going on after it must not
	 * hide in the exercise's alert for the suppress window. */
	[SQ_ALERT_FIND] = {"alert_find",
		"SELECT id, last FROM alerts WHERE dedupe_key = ?1"
		" AND state != 'resolved' AND NOT EXISTS (SELECT 1 FROM"
		" redteam_alerts r JOIN drill_campaigns c ON c.id = r.campaign"
		" WHERE r.alert = alerts.id AND (c.state != 'running'"
		" OR c.window_end <= CAST((julianday('now') - 2440587.5)"
		" * 86400000000.0 AS INTEGER)))"
		" ORDER BY id DESC LIMIT 1"},
	[SQ_ALERT_FOLD] = {"alert_fold",
		"UPDATE alerts SET last = ?1, count = count + 1,"
		" severity = max(severity, ?2) WHERE id = ?3"},
	[SQ_ALERT_INSERT] = {"alert_insert",
		"INSERT INTO alerts(rule, title, category, kind, dedupe_key,"
		" agent, school, severity, drill, first, last, count, state,"
		" evidence, src_ip, file_path, file_hash)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, coalesce((SELECT school FROM"
		" agents WHERE id = ?6), ?7), ?8, ?9, ?10, ?10, 1, 'open', ?11,"
		" ?12, ?13, ?14)"},
	[SQ_FORWARD_QUEUE] = {"forward_queue",
		"INSERT INTO forward_queue(dest, alert) VALUES(?1, ?2)"},

	[SQ_SCHOOL_ADD] = {"school_add",
		"INSERT INTO schools(code, name, commune, level,"
		" expected_pcs, created) VALUES(?1,?2,?3,?4,?5,?6)"
		" ON CONFLICT(code) DO UPDATE SET name=?2,"
		" commune=?3, level=?4, expected_pcs=?5"},
	[SQ_SCHOOL_GET] = {"school_get",
			   STORE_SQL_SCHOOL_SELECT " WHERE s.code = ?1"},
	[SQ_SCHOOL_LIST] = {"school_list",
		STORE_SQL_SCHOOL_SELECT " ORDER BY s.commune, s.code"},
	[SQ_TOKEN_ADD] = {"token_add",
		"INSERT INTO tokens(hash, school, uses_left,"
		" expires, created) VALUES(?1,?2,?3,?4,?5)"},
	[SQ_TOKEN_FIND] = {"token_find",
		"SELECT school, uses_left, expires FROM tokens"
		" WHERE hash = ?1"},
	[SQ_TOKEN_USE] = {"token_use",
		"UPDATE tokens SET uses_left = uses_left - 1 WHERE hash = ?1"},
	[SQ_AGENT_ADD] = {"agent_add",
		"INSERT INTO agents(id, school, hostname,"
		" cert_sha256, enrolled) VALUES(?1,?2,?3,?4,?5)"},
	[SQ_AGENT_REVOKE] = {"agent_revoke",
		"UPDATE agents SET revoked = ?2 WHERE id = ?1"
		" AND revoked IS NULL"},
	[SQ_AGENT_ALLOWED] = {"agent_allowed",
		"SELECT revoked IS NULL FROM agents WHERE id = ?1"},
	[SQ_AGENTS_REVOKED_SINCE] = {"agents_revoked_since",
		"SELECT id, revoked FROM agents WHERE revoked > ?1"
		" ORDER BY revoked"},
	[SQ_AGENTS_SILENT] = {"agents_silent",
		"SELECT id, coalesce(last_seen, enrolled) FROM"
		" agents WHERE revoked IS NULL AND"
		" coalesce(last_seen, enrolled) < ?1"},
	[SQ_AGENT_LIST] = {"agent_list",
		"SELECT id, school, hostname, enrolled, coalesce(last_seen, 0),"
		" revoked IS NOT NULL,"
		" (SELECT count(*) FROM events e WHERE e.agent = a.id), clamped"
		" FROM agents a WHERE ?1 IS NULL OR school = ?1"
		" ORDER BY school, hostname"},
	[SQ_EVENTS_COUNT] = {"events_count",
		"SELECT count(*) FROM events WHERE (?1 IS NULL OR"
		" agent = ?1) AND (?2 = 0 OR boot = ?2)"},
	[SQ_EVENTS_RECENT] = {"events_recent",
		"SELECT agent, boot, seq, ts, kind, sev, drill, body,"
		" received, coalesce(agent_ts, 0) FROM events"
		" WHERE ?1 IS NULL OR agent = ?1"
		" ORDER BY id DESC LIMIT ?2"},
	[SQ_COMMAND_ADD] = {"command_add",
		"INSERT INTO commands(agent, type, issued, expires)"
		" VALUES(?1,?2,?3,?4)"},
	[SQ_COMMAND_SET_FRAME] = {"command_set_frame",
		"UPDATE commands SET frame = ?2 WHERE id = ?1"},
	[SQ_COMMAND_MARK_SENT] = {"command_mark_sent",
		"UPDATE commands SET sent = ?2 WHERE id = ?1"},
	[SQ_COMMANDS_WITHDRAW] = {"commands_withdraw",
		"UPDATE commands SET expires = ?2 WHERE type = ?1 AND sent"
		" IS NULL AND expires > ?2 AND issued < ?3"},
	[SQ_COMMANDS_PENDING] = {"commands_pending",
		"SELECT id, agent, frame FROM commands WHERE sent"
		" IS NULL AND frame IS NOT NULL AND expires > ?2"
		" AND (?1 IS NULL OR agent = ?1) ORDER BY id"
		" LIMIT 1000"},
	[SQ_HOST_STATES] = {"host_states",
		"SELECT a.id, a.school, a.hostname, coalesce(a.last_seen, 0),"
		" coalesce(h.kind, ''), coalesce(h.ts, 0), h.body,"
		" coalesce(h.received, 0)"
		" FROM agents a LEFT JOIN host_state h ON h.agent = a.id"
		" WHERE a.revoked IS NULL AND (?1 IS NULL OR a.school = ?1)"
		" ORDER BY a.school, a.id"},
	[SQ_SNAPSHOT_PUT] = {"snapshot_put",
		"INSERT OR REPLACE INTO score_snapshots(day, scope,"
		" key, score, pcs) VALUES(?1, ?2, ?3, ?4, ?5)"},
	[SQ_SNAPSHOT_LIST] = {"snapshot_list",
		"SELECT day, scope, key, score, pcs FROM"
		" score_snapshots WHERE scope = ?1 AND key = ?2"
		" ORDER BY day DESC LIMIT ?3"},
	[SQ_ALERT_LIST] = {"alert_list",
		"SELECT " STORE_SQL_ALERT_COLS STORE_SQL_ALERT_JOINS
		" WHERE (?1 IS NULL OR a.state = ?1) AND (?2 IS NULL"
		" OR a.school = ?2) ORDER BY a.id DESC LIMIT ?3"},
	[SQ_FORWARD_NEXT] = {"forward_next",
		"SELECT " STORE_SQL_ALERT_COLS ", coalesce((SELECT r.campaign"
		" FROM redteam_alerts r WHERE r.alert = a.id), 0)"
		STORE_SQL_ALERT_JOINS
		" JOIN forward_queue f ON f.alert = a.id"
		" WHERE f.dest = ?1 AND f.alert > ?2"
		" ORDER BY f.alert LIMIT ?3"},
	[SQ_ALERT_ACK] = {"alert_ack",
		"UPDATE alerts SET state = 'acknowledged', ack_by = ?2,"
		" ack = ?3 WHERE id = ?1 AND state = 'open'"},
	[SQ_ALERT_RESOLVE] = {"alert_resolve",
		"UPDATE alerts SET state = 'resolved', resolved_by = ?2,"
		" resolved = ?3 WHERE id = ?1 AND state != 'resolved'"},
	[SQ_ALERT_EXISTS] = {"alert_exists",
		"SELECT count(*) FROM alerts WHERE id = ?1"},
	[SQ_FORWARD_DONE] = {"forward_done",
		"DELETE FROM forward_queue WHERE dest = ?1 AND alert <= ?2"},
	[SQ_FORWARD_DEPTH] = {"forward_depth",
		"SELECT count(*) FROM forward_queue WHERE dest = ?1"},
	[SQ_DEAD_LETTER_ADD] = {"dead_letter_add",
		"INSERT INTO dead_letters(dest, alert, status, reason, at)"
		" VALUES(?1, ?2, ?3, ?4, ?5)"},
	[SQ_FORWARD_DROP] = {"forward_drop",
		"DELETE FROM forward_queue WHERE dest = ?1 AND alert = ?2"},
	[SQ_DELIVERY_QUEUED] = {"delivery_queued",
		"INSERT OR IGNORE INTO forward_deliveries(dest, alert, queued)"
		" VALUES(?1, ?2, ?3)"},
	/* Before forward_done's DELETE, in its transaction: exactly the
	 * rows that DELETE takes off are confirmed. */
	[SQ_DELIVERY_CONFIRMED] = {"delivery_confirmed",
		"UPDATE forward_deliveries SET delivered = ?3"
		" WHERE dest = ?1 AND delivered IS NULL AND dead IS NULL"
		" AND alert IN (SELECT alert FROM forward_queue"
		"  WHERE dest = ?1 AND alert <= ?2)"},
	[SQ_DELIVERY_DEAD] = {"delivery_dead",
		"UPDATE forward_deliveries SET dead = ?3"
		" WHERE dest = ?1 AND alert = ?2 AND delivered IS NULL"
		" AND dead IS NULL"},
	/* Snapshot retention (store_snapshot_prune): day is in each key. */
	[SQ_PRUNE_SNAPSHOTS] = {"prune_snapshots",
		"DELETE FROM score_snapshots WHERE day < ?1"},
	[SQ_PRUNE_DAY_SCHOOL] = {"prune_day_school",
		"DELETE FROM day_school WHERE day < ?1"},
	[SQ_PRUNE_DAY_HOST] = {"prune_day_host",
		"DELETE FROM day_host WHERE day < ?1"},
	[SQ_DELIVERY_LIST] = {"delivery_list",
		"SELECT dest, alert, queued, coalesce(delivered, 0),"
		" coalesce(dead, 0) FROM forward_deliveries"
		" WHERE queued >= ?1 AND queued < ?2 ORDER BY alert, dest"},
	[SQ_DEAD_LETTER_LIST] = {"dead_letter_list",
		"SELECT d.id, d.dest, d.alert, d.status,"
		" d.reason, d.at, coalesce(a.rule, ''),"
		" coalesce(a.agent, '') FROM dead_letters d"
		" LEFT JOIN alerts a ON a.id = d.alert"
		" WHERE ?1 IS NULL OR d.dest = ?1"
		" ORDER BY d.id DESC LIMIT ?2"},
	[SQ_DEAD_LETTER_COUNT] = {"dead_letter_count",
		"SELECT count(*) FROM dead_letters WHERE"
		" ?1 IS NULL OR dest = ?1"},

	/* The console's reads: ?1 is the scope's kind (enum
	 * store_scope_kind), ?2 its value; see SCOPE_OF. */
	[SQ_SCHOOL_LIST_SCOPED] = {"school_list_scoped",
		STORE_SQL_SCHOOL_SELECT " WHERE " SCOPE_OF("s.commune", "s.code")
		" ORDER BY s.commune COLLATE vi, s.name COLLATE vi, s.code"},
	[SQ_SCHOOL_GET_SCOPED] = {"school_get_scoped",
		STORE_SQL_SCHOOL_SELECT " WHERE " SCOPE_OF("s.commune", "s.code")
		" AND s.code = ?3"},
	/* Two statements, not "?3 IS NULL OR": one school's PCs must use
	 * the agents_school index. */
	[SQ_AGENT_LIST_SCOPED] = {"agent_list_scoped",
		AGENT_SCOPED_SELECT " ORDER BY a.school, a.hostname"},
	[SQ_AGENT_LIST_SCOPED_SCHOOL] = {"agent_list_scoped_school",
		AGENT_SCOPED_SELECT " AND a.school = ?3"
		" ORDER BY a.hostname"},
	[SQ_AGENT_GET_SCOPED] = {"agent_get_scoped",
		AGENT_SCOPED_SELECT " AND a.id = ?3"},
	[SQ_ALERT_LIST_SCOPED] = {"alert_list_scoped",
		"SELECT " STORE_SQL_ALERT_COLS STORE_SQL_ALERT_JOINS
		" WHERE " SCOPE_OF("c.commune", "a.school")
		" AND (?3 IS NULL OR a.state = ?3) AND (?4 IS NULL"
		" OR a.school = ?4) AND (?5 = 0 OR a.id < ?5)"
		" ORDER BY a.id DESC LIMIT ?6"},
	[SQ_ALERT_IN_SCOPE] = {"alert_in_scope",
		"SELECT count(*) FROM alerts a LEFT JOIN schools c"
		" ON c.code = a.school WHERE "
		SCOPE_OF("c.commune", "a.school") " AND a.id = ?3"},

	/* The SOC page: ?3 is the destination. One row of figures; each
	 * subquery walks dest's part of the queue (its primary key) or
	 * its dead letters (dead_letters_dest) and joins the alert's school
	 * for the scope. */
	[SQ_FORWARD_STATUS_SCOPED] = {"forward_status_scoped",
		"SELECT (SELECT count(*) FROM forward_queue q"
		"  JOIN alerts a ON a.id = q.alert"
		"  LEFT JOIN schools c ON c.code = a.school"
		"  WHERE q.dest = ?3 AND " SCOPE_OF("c.commune", "a.school") "),"
		" (SELECT coalesce(min(a.first), 0) FROM forward_queue q"
		"  JOIN alerts a ON a.id = q.alert"
		"  LEFT JOIN schools c ON c.code = a.school"
		"  WHERE q.dest = ?3 AND " SCOPE_OF("c.commune", "a.school") "),"
		" (SELECT count(*) FROM dead_letters d"
		"  LEFT JOIN alerts a ON a.id = d.alert"
		"  LEFT JOIN schools c ON c.code = a.school"
		"  WHERE d.dest = ?3 AND (?1 = 0 OR " SCOPE_OF("c.commune", "a.school") "))"},
	/* Everything below dest's oldest waiting alert has left the queue
	 * (forward_done takes alerts off in id order): the newest of those
	 * in scope, without a dead letter, was delivered, at the time
	 * forward_done recorded (the alert's last time for one delivered
	 * before deliveries were recorded). */
	[SQ_FORWARD_DELIVERED_SCOPED] = {"forward_delivered_scoped",
		"SELECT a.id, coalesce((SELECT fd.delivered FROM"
		" forward_deliveries fd WHERE fd.alert = a.id AND fd.dest = ?3),"
		" a.last) FROM alerts a"
		" LEFT JOIN schools c ON c.code = a.school"
		" WHERE " SCOPE_OF("c.commune", "a.school")
		" AND a.id < coalesce((SELECT min(alert) FROM forward_queue"
		"  WHERE dest = ?3), 9223372036854775807)"
		" AND NOT EXISTS (SELECT 1 FROM dead_letters d"
		"  WHERE d.dest = ?3 AND d.alert = a.id)"
		" ORDER BY a.id DESC LIMIT 1"},
	[SQ_DEAD_LETTER_LIST_SCOPED] = {"dead_letter_list_scoped",
		"SELECT d.id, d.dest, d.alert, d.status,"
		" d.reason, d.at, coalesce(a.rule, ''),"
		" coalesce(a.agent, '') FROM dead_letters d"
		" LEFT JOIN alerts a ON a.id = d.alert"
		" LEFT JOIN schools c ON c.code = a.school"
		" WHERE d.dest = ?3 AND (?1 = 0 OR " SCOPE_OF("c.commune", "a.school") ")"
		" ORDER BY d.id DESC LIMIT ?4"},
	/* Grouped by school on the alerts_open_school index first, so the
	 * scope's join to schools is one lookup per school, not per alert. */
	[SQ_ALERT_OPEN_COUNTS_SCOPED] = {"alert_open_counts_scoped",
		"SELECT coalesce(sum(x.low), 0), coalesce(sum(x.mid), 0),"
		" coalesce(sum(x.high), 0) FROM (SELECT a.school AS school,"
		" sum(a.severity < 4) AS low,"
		" sum(a.severity BETWEEN 4 AND 6) AS mid,"
		" sum(a.severity >= 7) AS high FROM alerts a"
		" WHERE a.state = 'open' GROUP BY a.school) x"
		" LEFT JOIN schools c ON c.code = x.school WHERE "
		SCOPE_OF("c.commune", "x.school")},
	/* The day as a whole number of days since 1970 in Vietnam time
	 * (integer arithmetic, no date() per row), and the scope as the
	 * set of its schools' codes: a join per alert, or a grouping by
	 * school first, cost 3-5 times as much over 100,000 alerts
	 * (docs/DECISIONS.md, "Alert volume"). */
	[SQ_ALERT_VOLUME_SCOPED] = {"alert_volume_scoped",
		"SELECT (a.first / 1000000 + 25200) / 86400 AS day, a.kind,"
		" count(*) FROM alerts a WHERE a.first >= ?3 AND (?1 = 0 OR"
		" a.school IN (SELECT c.code FROM schools c WHERE (?1 = 1 AND"
		" c.commune = ?2) OR (?1 = 2 AND c.code = ?2)))"
		" GROUP BY day, a.kind ORDER BY day, a.kind"},

	[SQ_USER_ADD] = {"user_add",
		"INSERT INTO users(name, pwhash, role, scope, disabled,"
		" totp, lang, created) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"},
	[SQ_USER_UPDATE] = {"user_update",
		"UPDATE users SET pwhash=?2, role=?3, scope=?4, disabled=?5,"
		" totp=?6, lang=?7, failed=?8, locked=?9 WHERE name=?1"},
	[SQ_USER_GET] = {"user_get", USER_SELECT " WHERE name = ?1"},
	[SQ_USER_LIST] = {"user_list", USER_SELECT " ORDER BY name"},
	[SQ_USER_FAILED] = {"user_failed",
		"UPDATE users SET failed = failed + 1,"
		" locked = locked OR failed + 1 >= ?2 WHERE name = ?1"
		" RETURNING locked"},
	[SQ_USER_OK] = {"user_ok",
		"UPDATE users SET failed = 0 WHERE name = ?1"},
	[SQ_SESSION_ADD] = {"session_add",
		"INSERT INTO sessions(hash, user, created, last, address)"
		" VALUES(?1,?2,?3,?3,?4)"},
	[SQ_SESSION_GET] = {"session_get",
		"SELECT user, created, last FROM sessions WHERE hash = ?1"},
	[SQ_SESSION_TOUCH] = {"session_touch",
		"UPDATE sessions SET last = ?2 WHERE hash = ?1"},
	[SQ_SESSION_DELETE] = {"session_delete",
		"DELETE FROM sessions WHERE hash = ?1"},
	[SQ_SESSION_DELETE_USER] = {"session_delete_user",
		"DELETE FROM sessions WHERE user = ?1"},
	[SQ_API_TOKEN_ADD] = {"api_token_add",
		"INSERT INTO api_tokens(hash, label, user, created)"
		" VALUES(?1,?2,?3,?4)"},
	[SQ_API_TOKEN_USER] = {"api_token_user",
		"SELECT user FROM api_tokens WHERE hash = ?1"
		" AND revoked IS NULL"},
	[SQ_AUDIT_ADD] = {"audit_add",
		"INSERT INTO audit_log(at, actor, action, object, address,"
		" detail) VALUES(?1,?2,?3,?4,?5,?6)"},
	[SQ_AUDIT_LIST] = {"audit_list",
		"SELECT id, at, actor, action, object, address, detail"
		" FROM audit_log WHERE ?1 = 0 OR id < ?1"
		" ORDER BY id DESC LIMIT ?2"},
#define SYSTEM_COLUMNS                                                   \
	"id, unit, name, kind, level, dossier, authority, decision_no," \
	" decision_date, review_due, hosts"
	[SQ_SYSTEM_PUT] = {"system_put",
		"INSERT INTO systems(unit, name, kind, level, dossier,"
		" authority, decision_no, decision_date, review_due, hosts,"
		" updated) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)"
		" ON CONFLICT(unit, name) DO UPDATE SET kind=excluded.kind,"
		" level=excluded.level, dossier=excluded.dossier,"
		" authority=excluded.authority,"
		" decision_no=excluded.decision_no,"
		" decision_date=excluded.decision_date,"
		" review_due=excluded.review_due, hosts=excluded.hosts,"
		" updated=excluded.updated RETURNING id"},
	[SQ_SYSTEM_SET] = {"system_set",
		"UPDATE systems SET unit=?2, name=?3, kind=?4, level=?5,"
		" dossier=?6, authority=?7, decision_no=?8, decision_date=?9,"
		" review_due=?10, hosts=?11, updated=?12 WHERE id=?1"},
	[SQ_SYSTEM_GET] = {"system_get",
		"SELECT " SYSTEM_COLUMNS " FROM systems WHERE id = ?1"},
	[SQ_SYSTEM_LIST] = {"system_list",
		"SELECT " SYSTEM_COLUMNS " FROM systems"
		" WHERE ?1 IS NULL OR unit = ?1 ORDER BY unit, name"},
	/* The policy level follows the highest approved system; a school
	 * with none approved keeps the level it was given. */
	[SQ_SCHOOL_LEVEL_SYNC] = {"school_level_sync",
		"UPDATE schools SET level = (SELECT max(level) FROM systems"
		" WHERE unit = ?1 AND dossier = 'approved') WHERE code = ?1"
		" AND EXISTS(SELECT 1 FROM systems WHERE unit = ?1"
		" AND dossier = 'approved')"},
	[SQ_DAY_SCHOOL_PUT] = {"day_school_put",
		"INSERT OR REPLACE INTO day_school(day, school, commune, level,"
		" no_policy, pcs, enrolled, fresh, av_ok, rpo_ok, restore_ok,"
		" score) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)"},
	[SQ_DAY_HOST_PUT] = {"day_host_put",
		"INSERT OR REPLACE INTO day_host(day, agent, school, score,"
		" fresh, av_ok, rpo_ok, restore_ok, failed)"
		" VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)"},
	[SQ_DAY_SCHOOLS] = {"day_schools",
		"SELECT day, school, commune, level, no_policy, pcs, enrolled,"
		" fresh, av_ok, rpo_ok, restore_ok, score FROM day_school"
		" WHERE day >= ?1 AND day <= ?2 ORDER BY day, school"},
	[SQ_DAY_HOSTS] = {"day_hosts",
		"SELECT day, agent, school, score, fresh, av_ok, rpo_ok,"
		" restore_ok, failed FROM day_host WHERE day = ?1"
		" ORDER BY school, agent"},
	[SQ_REPORT_NEWEST] = {"report_newest",
		"SELECT id, version, state FROM reports WHERE period = ?1"
		" AND scope = ?2 ORDER BY version DESC LIMIT 1"},
	[SQ_REPORT_INSERT] = {"report_insert",
		"INSERT INTO reports(period, scope, version, state, created,"
		" remarks, model, supersedes)"
		" VALUES(?1, ?2, ?3, 'draft', ?4, ?5, ?6, ?7)"},
	[SQ_REPORT_UPDATE_DRAFT] = {"report_update_draft",
		"UPDATE reports SET created = ?2, remarks = ?3, model = ?4"
		" WHERE id = ?1 AND state = 'draft'"},
	[SQ_REPORT_STATE] = {"report_state",
		"SELECT state FROM reports WHERE id = ?1"},
	[SQ_REPORT_SIGN] = {"report_sign",
		"UPDATE reports SET state = 'signed', signed = ?2,"
		" signed_by = ?3, pdf_path = ?4, pdf_sha256 = ?5, model = ?6"
		" WHERE id = ?1 AND state = 'draft'"},
	[SQ_REPORT_LIST] = {"report_list",
		STORE_SQL_REPORT_SELECT
		" WHERE (?1 IS NULL OR period = ?1) AND (?2 IS NULL"
		" OR scope = ?2) ORDER BY period DESC, scope, version DESC"},
	/* A report's scope is "province", "commune:NAME" or "school:CODE";
	 * an officer sees those inside their own (?1, ?2 as SCOPE_OF), and a
	 * commune officer the reports of its communes' schools too. ?3: one
	 * report's id, or 0 for all. */
	[SQ_REPORT_LIST_SCOPED] = {"report_list_scoped",
		STORE_SQL_REPORT_SELECT
		" WHERE (?3 = 0 OR r.id = ?3) AND (?1 = 0"
		" OR (?1 = 1 AND (r.scope = 'commune:' || ?2 OR r.scope IN"
		"  (SELECT 'school:' || code FROM schools WHERE commune = ?2)))"
		" OR (?1 = 2 AND r.scope = 'school:' || ?2))"
		" ORDER BY period DESC, scope, version DESC"},

	[SQ_DRILL_ADD] = {"drill_add",
		"INSERT INTO drill_campaigns(name, organiser, scenario, scope,"
		" window_start, window_end, state, created)"
		" VALUES(?1,?2,?3,?4,?5,?6,'planned',?7)"},
	[SQ_DRILL_GET] = {"drill_get",
		STORE_SQL_DRILL_SELECT " WHERE name = ?1"},
	/* One statement per move, conditional on the state it leaves, so
	 * two officers racing (approve and abort) cannot both win. */
	[SQ_DRILL_TRANSITION] = {"drill_transition",
		"UPDATE drill_campaigns SET state = ?3,"
		" approver = CASE WHEN ?3 = 'approved' THEN ?4 ELSE approver END,"
		" approved = CASE WHEN ?3 = 'approved' THEN ?5 ELSE approved END,"
		" started = CASE WHEN ?3 = 'running' THEN ?5 ELSE started END,"
		" ended = CASE WHEN ?3 IN ('aborted', 'done') THEN ?5"
		"  ELSE ended END,"
		" ended_by = CASE WHEN ?3 IN ('aborted', 'done') THEN ?4"
		"  ELSE ended_by END"
		" WHERE id = ?1 AND state = ?2"},
	[SQ_DRILL_TARGET_PUT] = {"drill_target_put",
		"INSERT INTO drill_targets(campaign, agent, school, status,"
		" command, abort_command, at) VALUES(?1,?2,?3,?4,?5,?6,?7)"
		" ON CONFLICT(campaign, agent) DO UPDATE SET status = ?4,"
		" command = coalesce(?5, command),"
		" abort_command = coalesce(?6, abort_command), at = ?7"},
	/* A target's command row says when it reached the PC (sent); the
	 * agent's drill.* events after it, and the first drill alert of
	 * the PC, give the rest of the timeline. The first by time, then by
	 * id: alerts stored in one group can share their time (on
	 * PostgreSQL often), and each stage must read the same alert. */
	[SQ_DRILL_TARGETS] = {"drill_targets",
		STORE_SQL_DRILL_TARGET_HEAD
		" (SELECT e.ts FROM events e WHERE e.agent = t.agent AND"
		"  e.kind = 'drill.av_acted' AND e.ts >= c.issued - 1000000"
		"  ORDER BY e.ts LIMIT 1),"
		" (SELECT e.body FROM events e WHERE e.agent = t.agent AND"
		"  e.kind = 'drill.av_acted' AND e.ts >= c.issued - 1000000"
		"  ORDER BY e.ts LIMIT 1),"
		" (SELECT e.ts FROM events e WHERE e.agent = t.agent AND"
		"  e.kind = 'drill.cleaned_up' AND e.ts >= c.issued - 1000000"
		"  ORDER BY e.ts LIMIT 1),"
		" (SELECT e.body FROM events e WHERE e.agent = t.agent AND"
		"  e.kind = 'drill.cleaned_up' AND e.ts >= c.issued - 1000000"
		"  ORDER BY e.ts LIMIT 1),"
		" (SELECT a.first FROM alerts a WHERE a.agent = t.agent AND"
		"  a.drill = 1 AND a.first >= c.issued ORDER BY a.first, a.id"
		"  LIMIT 1),"
		" (SELECT a.ack FROM alerts a WHERE a.agent = t.agent AND"
		"  a.drill = 1 AND a.first >= c.issued ORDER BY a.first, a.id"
		"  LIMIT 1),"
		" (SELECT a.resolved FROM alerts a WHERE a.agent = t.agent AND"
		"  a.drill = 1 AND a.first >= c.issued ORDER BY a.first, a.id"
		"  LIMIT 1),"
		STORE_SQL_DRILL_DETECTED ","
		/* forwarded: the first drill alert was confirmed by every SOC
		 * destination it was queued for (none still waiting). */
		" (SELECT CASE WHEN EXISTS (SELECT 1 FROM forward_queue q"
		"  WHERE q.alert = x.id) THEN NULL ELSE max(f.at) END"
		"  FROM (SELECT a.id FROM alerts a WHERE a.agent = t.agent AND"
		"  a.drill = 1 AND a.first >= c.issued ORDER BY a.first, a.id"
		"  LIMIT 1) x JOIN drill_deliveries f ON f.alert = x.id),"
		" (SELECT count(*) FROM drill_deliveries f WHERE f.alert ="
		"  (SELECT a.id FROM alerts a WHERE a.agent = t.agent AND"
		"  a.drill = 1 AND a.first >= c.issued ORDER BY a.first, a.id"
		"  LIMIT 1))"
		" FROM drill_targets t"
		" LEFT JOIN commands c ON c.id = t.command"
		" LEFT JOIN commands k ON k.id = t.abort_command"
		" WHERE t.campaign = ?1 ORDER BY t.school, t.agent"},
	[SQ_RELEASE_PUT] = {"release_put",
		"INSERT INTO agent_releases(id, release, channel, rollback,"
		" state, why, size, queued, created, pilot, stable, ended)"
		" VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)"
		" ON CONFLICT(id) DO UPDATE SET state = ?5, why = ?6,"
		" queued = ?8, pilot = ?10, stable = ?11, ended = ?12"},
	[SQ_RELEASE_LIST] = {"release_list",
		"SELECT id, release, channel, rollback, state, why, size,"
		" queued, created, pilot, stable, ended"
		" FROM agent_releases ORDER BY id DESC"},
	[SQ_DRILL_LIST] = {"drill_list",
		STORE_SQL_DRILL_SELECT " WHERE started >= ?1 AND started < ?2"
		" ORDER BY started, id"},
	[SQ_DRILL_ALL] = {"drill_all",
		"SELECT id, name, organiser, scenario, scope, window_start,"
		" window_end, state, coalesce(approver, ''),"
		" coalesce(approved, 0), coalesce(started, 0),"
		" coalesce(ended, 0), coalesce(ended_by, ''), created"
		" FROM drill_campaigns ORDER BY id DESC LIMIT 1000"},
	[SQ_REDTEAM_ACTION_ADD] = {"redteam_action_add",
		"INSERT INTO redteam_actions(campaign, at, target_kind, target,"
		" technique, description, recorded_by, created)"
		" VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"},
	[SQ_REDTEAM_ACTIONS] = {"redteam_actions",
		"SELECT id, campaign, at, target_kind, target, technique,"
		" description, recorded_by, created FROM redteam_actions"
		" WHERE campaign = ?1 ORDER BY at, id"},
	/* The alerts of the window on the scope's PCs, whether or not the
	 * trigger tied them (one opened before the window started running
	 * still counts against it); an aborted window ends at its abort. */
	[SQ_REDTEAM_ALERTS] = {"redteam_alerts",
		"SELECT a.id, a.agent, coalesce(g.hostname, ''), a.school,"
		" a.title, a.first, coalesce(a.ack, 0)"
		" FROM drill_campaigns c JOIN alerts a"
		" ON a.first >= c.window_start AND a.first < min(c.window_end,"
		" coalesce(c.ended, c.window_end))"
		" LEFT JOIN agents g ON g.id = a.agent"
		" WHERE c.id = ?1 AND (c.scope = 'school:' || a.school"
		" OR c.scope = 'commune:' || (SELECT commune FROM schools"
		" WHERE code = a.school))"
		" ORDER BY a.first, a.id"},
#undef SYSTEM_COLUMNS
};

const char *sq_name(enum sq_id id)
{
	return (unsigned)id < SQ_COUNT ? table[id].name : "?";
}

void sq_copy_text(char *dst, size_t cap, sqlite3_stmt *row, int col)
{
	const unsigned char *t = sqlite3_column_text(row, col);
	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* ---- the admin lock ------------------------------------------------------- */

/* The admin locks this thread holds, innermost first. */
static _Thread_local struct sq_hold *held;

/* A row callback (or the alert function) called back into the store that
 * is running it. Waiting on the lock would hang the collector for good;
 * say where instead, with a backtrace for the caller's line. */
static _Noreturn void reentry_abort(const char *site, const char *holder)
{
	void *frames[32];
	char msg[512];
	/* Sites are this backend's functions; say the store.h names. */
	const char *pre = "sqlite_";
	size_t np = strlen(pre);
	bool map_site = strncmp(site, pre, np) == 0;
	bool map_holder = strncmp(holder, pre, np) == 0;
	int n = snprintf(msg, sizeof(msg),
			 "store: %s%s was called from inside the row callback "
			 "of %s%s, which holds the store's lock; collect the "
			 "rows in the callback and call the store after it "
			 "returns (collector/store.h, locking contract)\n",
			 map_site ? "store_" : "", site + (map_site ? np : 0),
			 map_holder ? "store_" : "",
			 holder + (map_holder ? np : 0));
	if (n > 0)
		(void)!write(STDERR_FILENO, msg,
			     (size_t)n < sizeof(msg) ? (size_t)n
						     : sizeof(msg) - 1);
	n = backtrace(frames, 32);
	backtrace_symbols_fd(frames, n, STDERR_FILENO);
	abort();
}

void sq_admin_enter(struct sqlite_store *s, struct sq_hold *h,
		    const char *site)
{
	for (struct sq_hold *f = held; f != NULL; f = f->up)
		if (f->s == s)
			reentry_abort(site, f->site);
	uv_mutex_lock(&s->admin_lock);
	h->s = s;
	h->site = site;
	h->up = held;
	held = h;
}

void sq_admin_leave(struct sqlite_store *s, struct sq_hold *h)
{
	/* Frames are stack-ordered: leaving any but the innermost is a bug. */
	if (held != h) {
		fprintf(stderr, "store: %s left the store's lock out of order\n",
			h->site);
		abort();
	}
	held = h->up;
	uv_mutex_unlock(&s->admin_lock);
}

static bool holds(const struct sqlite_store *s)
{
	for (struct sq_hold *f = held; f != NULL; f = f->up)
		if (f->s == s)
			return true;
	return false;
}

int sq_admin_run(struct sqlite_store *s, const char *site, enum sq_id id,
		 const struct sq_arg *args, size_t nargs, sq_row_fn row,
		 void *arg, struct sq_done *done)
{
	struct sq_hold h;
	sq_admin_enter(s, &h, site);
	int rc = sq_run(&s->admin, id, args, nargs, row, arg, done);
	sq_admin_leave(s, &h);
	return rc;
}

int sq_admin_end(struct sqlite_store *s, int rc)
{
	if (rc == 0)
		return sq_run(&s->admin, SQ_COMMIT, SQ_NO_ARGS, NULL, NULL,
			      NULL) == 0
			       ? 0
			       : -EIO;
	/* Already failing; the error to report is the first one. */
	EW_IGNORE(sq_run(&s->admin, SQ_ROLLBACK, SQ_NO_ARGS, NULL, NULL, NULL));
	return rc;
}

/* ---- running statements ----------------------------------------------------- */

static int prepare_one(struct sq_conn *c, enum sq_id id)
{
	if (c->stmt[id] != NULL)
		return 0;
	int rc = sqlite3_prepare_v3(c->db, table[id].sql, -1,
				    SQLITE_PREPARE_PERSISTENT, &c->stmt[id],
				    NULL);
	if (rc != SQLITE_OK) {
		c->last_code = rc;
		sqlite3_finalize(c->stmt[id]);
		c->stmt[id] = NULL;
		return -EIO;
	}
	return 0;
}

int sq_prepare(struct sq_conn *c, const enum sq_id *ids, size_t n,
	       char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (prepare_one(c, ids[i]) != 0) {
			snprintf(err, errlen, "preparing statement %s: %s",
				 table[ids[i]].name, sqlite3_errmsg(c->db));
			return -EIO;
		}
	return 0;
}

static int bind_one(sqlite3_stmt *q, int i, const struct sq_arg *a)
{
	switch (a->type) {
	case SQ_T_NULL:
		return sqlite3_bind_null(q, i);
	case SQ_T_INT:
		return sqlite3_bind_int64(q, i, (sqlite3_int64)a->i);
	case SQ_T_REAL:
		return sqlite3_bind_double(q, i, a->d);
	case SQ_T_TEXT:
		return a->p ? sqlite3_bind_text(q, i, a->p, -1, SQLITE_STATIC)
			    : sqlite3_bind_null(q, i);
	case SQ_T_BLOB:
		return a->p ? sqlite3_bind_blob64(q, i, a->p,
						  (sqlite3_uint64)a->n,
						  SQLITE_STATIC)
			    : sqlite3_bind_null(q, i);
	}
	return SQLITE_MISUSE;
}

int sq_run(struct sq_conn *c, enum sq_id id, const struct sq_arg *args,
	   size_t nargs, sq_row_fn row, void *arg, struct sq_done *done)
{
	struct sq_done local;
	int rc, step;
	if (done == NULL)
		done = &local;
	memset(done, 0, sizeof(*done));
	/* The admin connection is shared: a run outside its lock is a bug
	 * that would corrupt another thread's transaction. */
	if (c->guard != NULL && !holds(c->guard)) {
		fprintf(stderr, "store: statement %s run without the store's "
			"lock\n", table[id].name);
		abort();
	}
	if (prepare_one(c, id) != 0) {
		log_err("store: preparing %s: %s", table[id].name,
			sqlite3_errmsg(c->db));
		return -EIO;
	}
	sqlite3_stmt *q = c->stmt[id];
	if ((int)nargs != sqlite3_bind_parameter_count(q)) {
		log_err("store: %s takes %d arguments, given %zu",
			table[id].name, sqlite3_bind_parameter_count(q), nargs);
		return -EINVAL;
	}
	for (size_t i = 0; i < nargs; i++) {
		rc = bind_one(q, (int)i + 1, &args[i]);
		if (rc != SQLITE_OK) {
			c->last_code = rc;
			log_err("store: binding argument %zu of %s: %s", i + 1,
				table[id].name, sqlite3_errstr(rc));
			sqlite3_reset(q);
			return rc == SQLITE_TOOBIG || rc == SQLITE_RANGE
				       ? -EINVAL
				       : -EIO;
		}
	}
	rc = 0;
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		done->rows++;
		if (row == NULL)
			continue;
		int r = row(arg, q);
		if (r != 0) {
			rc = r < 0 ? r : 0;
			break;
		}
	}
	if (step == SQLITE_DONE) {
		/* Only a write's counts are its own; a read's are stale. */
		if (sqlite3_stmt_readonly(q) == 0)
			done->changes = sqlite3_changes(c->db);
		if (done->changes > 0)
			done->rowid = sqlite3_last_insert_rowid(c->db);
	} else if (step != SQLITE_ROW) {
		c->last_code = step;
		rc = -EIO;
	}
	sqlite3_reset(q);
	return rc;
}

void sq_conn_close(struct sq_conn *c)
{
	for (size_t i = 0; i < SQ_COUNT; i++) {
		sqlite3_finalize(c->stmt[i]);
		c->stmt[i] = NULL;
	}
	sqlite3_close(c->db);
	c->db = NULL;
}
