/* store_pg: setup of the PostgreSQL backend: the connections and the one
 * query helper, the schema and its migrations, the admin lock, open and
 * close. The writer thread is in store_pg_writer.c, the synchronous calls
 * in store_pg_query.c (the console's officers and the register in
 * store_pg_officers.c), the ops table in store_pg_ops.c. */
#include "collector/store_pg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/alloc.h"
#include "common/jsonout.h"
#include "common/log.h"

/* Statements that run longer than this are cancelled by the server: a
 * stuck query must not hold an agent's batch (or an officer's page)
 * forever; the batch is refused and resent. */
#define STATEMENT_TIMEOUT "30s"
/* Migrations of several collectors starting at once take turns on this
 * advisory lock ("ewschema" in ASCII). */
#define SCHEMA_LOCK_KEY "7311707123858120037"

/* Each entry moves the schema one version up; never edit a shipped one.
 * The same tables as the SQLite schema, with two differences: events are
 * range-partitioned by the month they were received in, so retention
 * drops whole partitions; and since a unique key on a partitioned table
 * must hold the partition key, exactly-once is kept by event_keys, one
 * unpartitioned row per (agent, boot, seq). */
static const char *const migrations[] = {
	/* 1 */
	"CREATE TABLE schools("
	"  code text PRIMARY KEY, name text NOT NULL, commune text NOT NULL,"
	"  level integer NOT NULL, expected_pcs integer NOT NULL,"
	"  created bigint NOT NULL);"
	"CREATE TABLE tokens("
	"  hash bytea PRIMARY KEY, school text NOT NULL REFERENCES schools(code),"
	"  uses_left integer NOT NULL, expires bigint NOT NULL,"
	"  created bigint NOT NULL);"
	"CREATE TABLE agents("
	"  id text PRIMARY KEY, school text NOT NULL REFERENCES schools(code),"
	"  hostname text NOT NULL, cert_sha256 text NOT NULL,"
	"  enrolled bigint NOT NULL, revoked bigint,"
	"  last_seen bigint, last_boot bigint,"
	"  clamped bigint NOT NULL DEFAULT 0);"
	"CREATE INDEX agents_school ON agents(school, revoked);"
	"CREATE TABLE event_keys("
	"  agent text NOT NULL, boot bigint NOT NULL, seq bigint NOT NULL,"
	"  received bigint NOT NULL, PRIMARY KEY(agent, boot, seq));"
	"CREATE INDEX event_keys_received ON event_keys(received);"
	"CREATE TABLE events("
	"  id bigserial NOT NULL, agent text NOT NULL, boot bigint NOT NULL,"
	"  seq bigint NOT NULL, ts bigint NOT NULL, received bigint NOT NULL,"
	"  kind text NOT NULL, sev integer NOT NULL, drill integer NOT NULL,"
	"  body bytea, agent_ts bigint) PARTITION BY RANGE (received);"
	"CREATE INDEX events_agent ON events(agent, id);"
	"CREATE INDEX events_id ON events(id);"
	"CREATE TABLE host_state("
	"  agent text NOT NULL, kind text NOT NULL, ts bigint NOT NULL,"
	"  sev integer NOT NULL, drill integer NOT NULL, body bytea,"
	"  received bigint NOT NULL, agent_ts bigint,"
	"  PRIMARY KEY(agent, kind));"
	"CREATE TABLE commands("
	"  id bigserial PRIMARY KEY, agent text NOT NULL,"
	"  type text NOT NULL, issued bigint NOT NULL, expires bigint NOT NULL,"
	"  frame bytea, sent bigint);"
	"CREATE INDEX commands_pending ON commands(agent) WHERE sent IS NULL;"
	"CREATE TABLE score_snapshots("
	"  day text NOT NULL, scope text NOT NULL, key text NOT NULL,"
	"  score double precision NOT NULL, pcs integer NOT NULL,"
	"  PRIMARY KEY(scope, key, day));"
	"CREATE TABLE alerts("
	"  id bigserial PRIMARY KEY, rule text NOT NULL,"
	"  title text NOT NULL, category text NOT NULL, kind text NOT NULL,"
	"  dedupe_key text NOT NULL, agent text NOT NULL, school text NOT NULL,"
	"  severity integer NOT NULL, drill integer NOT NULL,"
	"  first bigint NOT NULL, last bigint NOT NULL, count bigint NOT NULL,"
	"  state text NOT NULL, ack_by text, ack bigint, resolved_by text,"
	"  resolved bigint, evidence text NOT NULL, src_ip text NOT NULL,"
	"  file_path text NOT NULL, file_hash text NOT NULL);"
	"CREATE INDEX alerts_key ON alerts(dedupe_key, state);"
	"CREATE INDEX alerts_open_school ON alerts(state, school, severity);"
	/* claimed_by/claimed_until: a collector's lease on the rows it is
	 * sending, so that two collectors never send the same alert at once
	 * (taken with FOR UPDATE SKIP LOCKED). */
	"CREATE TABLE forward_queue(dest text NOT NULL, alert bigint NOT NULL,"
	"  claimed_by text, claimed_until bigint,"
	"  PRIMARY KEY(dest, alert));"
	"CREATE TABLE dead_letters("
	"  id bigserial PRIMARY KEY, dest text NOT NULL,"
	"  alert bigint NOT NULL, status integer NOT NULL,"
	"  reason text NOT NULL, at bigint NOT NULL);"
	"CREATE INDEX dead_letters_dest ON dead_letters(dest, id);",
	/* 2: every alert's delivery to every SOC destination, as in the
	 * SQLite schema's version 12 (queued with the alert, confirmed by
	 * forward_done, refused by dead_letter_add, each in the transaction
	 * that moves the queue); alerts in flight are carried over. */
	"CREATE TABLE IF NOT EXISTS forward_deliveries(dest text NOT NULL,"
	"  alert bigint NOT NULL, queued bigint NOT NULL, delivered bigint,"
	"  dead bigint, PRIMARY KEY(alert, dest));"
	"CREATE INDEX IF NOT EXISTS forward_deliveries_queued"
	"  ON forward_deliveries(queued);"
	"INSERT INTO forward_deliveries(dest, alert, queued)"
	"  SELECT q.dest, q.alert, a.first FROM forward_queue q"
	"  JOIN alerts a ON a.id = q.alert ON CONFLICT DO NOTHING;"
	"INSERT INTO forward_deliveries(dest, alert, queued, dead)"
	"  SELECT d.dest, d.alert, a.first, min(d.at) FROM dead_letters d"
	"  JOIN alerts a ON a.id = d.alert GROUP BY d.dest, d.alert, a.first"
	"  ON CONFLICT DO NOTHING;",
	/* 3: officers, sessions, API tokens, audit, register: the console's
	 * accounts, sessions and API tokens (by the SHA-256 of their
	 * secret), the append-only audit log and the register of
	 * information systems, as in the SQLite schema's versions 7 and 8.
	 * "user" is a reserved word here, so a session's and a token's
	 * officer is "username". The audit log refuses UPDATE and DELETE
	 * in the database itself, as SQLite's triggers do, so a console bug
	 * or a stolen admin session cannot rewrite history through us. */
	"CREATE TABLE IF NOT EXISTS users("
	"  name text PRIMARY KEY, pwhash text NOT NULL, role text NOT NULL,"
	"  scope text NOT NULL, disabled boolean NOT NULL DEFAULT false,"
	"  failed integer NOT NULL DEFAULT 0,"
	"  locked boolean NOT NULL DEFAULT false,"
	"  totp text NOT NULL DEFAULT '', lang text NOT NULL DEFAULT 'vi',"
	"  created bigint NOT NULL);"
	"CREATE TABLE IF NOT EXISTS sessions("
	"  hash bytea PRIMARY KEY,"
	"  username text NOT NULL REFERENCES users(name),"
	"  created bigint NOT NULL, last bigint NOT NULL,"
	"  address text NOT NULL);"
	"CREATE INDEX IF NOT EXISTS sessions_username ON sessions(username);"
	"CREATE TABLE IF NOT EXISTS api_tokens("
	"  hash bytea PRIMARY KEY, label text NOT NULL,"
	"  username text NOT NULL REFERENCES users(name),"
	"  created bigint NOT NULL, revoked bigint);"
	"CREATE TABLE IF NOT EXISTS audit_log("
	"  id bigserial PRIMARY KEY, at bigint NOT NULL,"
	"  actor text NOT NULL, action text NOT NULL, object text NOT NULL,"
	"  address text NOT NULL, detail text NOT NULL);"
	"CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger"
	"  LANGUAGE plpgsql AS $$ BEGIN"
	"  RAISE EXCEPTION 'the audit log is append-only'; END $$;"
	"CREATE OR REPLACE TRIGGER audit_log_no_change"
	"  BEFORE UPDATE OR DELETE ON audit_log"
	"  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();"
	"CREATE OR REPLACE TRIGGER audit_log_no_truncate"
	"  BEFORE TRUNCATE ON audit_log"
	"  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();"
	"CREATE TABLE IF NOT EXISTS systems("
	"  id bigserial PRIMARY KEY, unit text NOT NULL,"
	"  name text NOT NULL, kind text NOT NULL,"
	"  level integer NOT NULL CHECK(level BETWEEN 1 AND 5),"
	"  dossier text NOT NULL CHECK(dossier IN ('not_started', 'drafted',"
	"   'submitted', 'approved')),"
	"  authority text NOT NULL, decision_no text NOT NULL,"
	"  decision_date text NOT NULL, review_due text NOT NULL,"
	"  hosts text NOT NULL, updated bigint NOT NULL,"
	"  UNIQUE(unit, name));",
	/* 4: daily history, reports, drills, releases: the tables of the
	 * SQLite schema's versions 8, 10 and 13, and the same rules kept
	 * by the database (a signed report is frozen and kept, a finished
	 * drill is kept as it ended, the organiser cannot approve their
	 * own drill). SQLite's drill_deliveries has no twin here: a drill
	 * alert's receipts are its forward_deliveries rows, which
	 * forward_done confirms in the statement that dequeues them.
	 * Each statement may run again (IF NOT EXISTS, OR REPLACE), as
	 * version 2's do. */
	"CREATE TABLE IF NOT EXISTS day_school("
	"  day text NOT NULL, school text NOT NULL, commune text NOT NULL,"
	"  level integer NOT NULL, no_policy integer NOT NULL,"
	"  pcs integer NOT NULL, enrolled integer NOT NULL,"
	"  fresh integer NOT NULL, av_ok integer NOT NULL,"
	"  rpo_ok integer NOT NULL, restore_ok integer NOT NULL,"
	"  score double precision NOT NULL, PRIMARY KEY(day, school));"
	"CREATE TABLE IF NOT EXISTS day_host("
	"  day text NOT NULL, agent text NOT NULL, school text NOT NULL,"
	"  score double precision NOT NULL, fresh integer NOT NULL,"
	"  av_ok integer NOT NULL, rpo_ok integer NOT NULL,"
	"  restore_ok integer NOT NULL, failed text NOT NULL,"
	"  PRIMARY KEY(day, agent));"
	"CREATE TABLE IF NOT EXISTS reports("
	"  id bigserial PRIMARY KEY, period text NOT NULL, scope text NOT NULL,"
	"  version integer NOT NULL, state text NOT NULL,"
	"  created bigint NOT NULL, signed bigint, signed_by text,"
	"  supersedes bigint REFERENCES reports(id), pdf_path text,"
	"  pdf_sha256 text, remarks text NOT NULL, model text NOT NULL,"
	"  UNIQUE(period, scope, version));"
	"CREATE OR REPLACE FUNCTION reports_signed_kept() RETURNS trigger"
	"  LANGUAGE plpgsql AS $$ BEGIN"
	"  IF OLD.state = 'signed' AND TG_OP = 'DELETE' THEN"
	"   RAISE EXCEPTION 'a signed report is kept'; END IF;"
	"  IF OLD.state = 'signed' THEN"
	"   RAISE EXCEPTION 'a signed report is frozen'; END IF;"
	"  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;"
	"  RETURN NEW; END $$;"
	"CREATE OR REPLACE TRIGGER reports_frozen BEFORE UPDATE OR DELETE ON reports"
	"  FOR EACH ROW EXECUTE FUNCTION reports_signed_kept();"
	"CREATE TABLE IF NOT EXISTS drill_campaigns("
	"  id bigserial PRIMARY KEY, name text NOT NULL UNIQUE,"
	"  organiser text NOT NULL, scenario text NOT NULL,"
	"  scope text NOT NULL, window_start bigint NOT NULL,"
	"  window_end bigint NOT NULL, state text NOT NULL CHECK(state IN"
	"  ('planned', 'approved', 'running', 'aborted', 'done')),"
	"  approver text CHECK(approver IS NULL OR approver <> organiser),"
	"  approved bigint, started bigint, ended bigint,"
	"  ended_by text, created bigint NOT NULL);"
	"CREATE OR REPLACE FUNCTION drill_campaigns_final() RETURNS trigger"
	"  LANGUAGE plpgsql AS $$ BEGIN"
	"  IF OLD.state IN ('aborted', 'done') THEN"
	"   RAISE EXCEPTION 'a finished drill is kept as it ended'; END IF;"
	"  RETURN NEW; END $$;"
	"CREATE OR REPLACE TRIGGER drill_campaigns_final BEFORE UPDATE ON"
	"  drill_campaigns FOR EACH ROW EXECUTE FUNCTION"
	"  drill_campaigns_final();"
	"CREATE TABLE IF NOT EXISTS drill_targets("
	"  campaign bigint NOT NULL REFERENCES drill_campaigns(id),"
	"  agent text NOT NULL, school text NOT NULL, status text NOT NULL,"
	"  command bigint, abort_command bigint, at bigint NOT NULL,"
	"  PRIMARY KEY(campaign, agent));"
	"CREATE TABLE IF NOT EXISTS agent_releases("
	"  id bigint PRIMARY KEY, release text NOT NULL,"
	"  channel text NOT NULL CHECK(channel IN ('pilot', 'stable')),"
	"  rollback integer NOT NULL, state text NOT NULL CHECK(state IN"
	"  ('pilot', 'stable', 'halted', 'done')), why text NOT NULL,"
	"  size bigint NOT NULL, queued bigint NOT NULL,"
	"  created bigint NOT NULL, pilot bigint NOT NULL,"
	"  stable bigint NOT NULL, ended bigint NOT NULL);",
	/* 5: red-team windows, as in the SQLite schema's version 14: the
	 * red team's actions, which the database keeps to their campaign's
	 * kind and window whoever writes them; and every alert opened in a
	 * running window on a PC of its scope, flagged a drill by the
	 * statement that opens it (a BEFORE INSERT trigger sets the flag in
	 * the row itself, so no collector's forwarder can read it unflagged)
	 * and tied to its campaign for the SOC. Being in the database, both
	 * hold for every collector sharing it. Each statement may run
	 * again. */
	"CREATE TABLE IF NOT EXISTS redteam_actions("
	"  id bigserial PRIMARY KEY,"
	"  campaign bigint NOT NULL REFERENCES drill_campaigns(id),"
	"  at bigint NOT NULL, target_kind text NOT NULL"
	"  CHECK(target_kind IN ('host', 'school')), target text NOT NULL,"
	"  technique text NOT NULL, description text NOT NULL,"
	"  recorded_by text NOT NULL, created bigint NOT NULL);"
	"CREATE INDEX IF NOT EXISTS redteam_actions_campaign"
	"  ON redteam_actions(campaign, at);"
	"CREATE OR REPLACE FUNCTION redteam_action_in_window() RETURNS trigger"
	"  LANGUAGE plpgsql AS $$ BEGIN"
	"  IF NOT EXISTS (SELECT 1 FROM drill_campaigns c"
	"   WHERE c.id = NEW.campaign AND c.scenario = 'red-team'"
	"   AND NEW.at >= c.window_start AND NEW.at < c.window_end) THEN"
	"   RAISE EXCEPTION 'a red-team action lies in its window'; END IF;"
	"  RETURN NEW; END $$;"
	"CREATE OR REPLACE TRIGGER redteam_action_in_window BEFORE INSERT"
	"  ON redteam_actions FOR EACH ROW EXECUTE FUNCTION"
	"  redteam_action_in_window();"
	"CREATE TABLE IF NOT EXISTS redteam_alerts(alert bigint PRIMARY KEY,"
	"  campaign bigint NOT NULL);"
	/* NEW.id is already drawn from its sequence when a BEFORE trigger
	 * runs; the oldest running window wins, as on SQLite. */
	"CREATE OR REPLACE FUNCTION redteam_window_alert() RETURNS trigger"
	"  LANGUAGE plpgsql AS $$ DECLARE w bigint; BEGIN"
	"  SELECT c.id INTO w FROM drill_campaigns c"
	"   WHERE c.scenario = 'red-team' AND c.state = 'running'"
	"   AND NEW.first >= c.window_start AND NEW.first < c.window_end"
	"   AND (c.scope = 'school:' || NEW.school OR c.scope = 'commune:' ||"
	"   (SELECT commune FROM schools WHERE code = NEW.school))"
	"   ORDER BY c.id LIMIT 1;"
	"  IF w IS NOT NULL THEN"
	"   INSERT INTO redteam_alerts(alert, campaign) VALUES(NEW.id, w)"
	"    ON CONFLICT DO NOTHING;"
	"   NEW.drill := 1; END IF;"
	"  RETURN NEW; END $$;"
	"CREATE OR REPLACE TRIGGER redteam_window_alert BEFORE INSERT ON"
	"  alerts FOR EACH ROW EXECUTE FUNCTION redteam_window_alert();",
	/* 6: red-team actions stand as they were recorded, as in the
	 * SQLite schema's version 15: a claimed time at most 24 h before
	 * the recording and 5 minutes after, a recording time within 5
	 * minutes of the database's clock, and no UPDATE. */
	"CREATE OR REPLACE FUNCTION redteam_action_claim() RETURNS trigger"
	"  LANGUAGE plpgsql AS $$ DECLARE"
	"  now_us bigint := (extract(epoch FROM clock_timestamp())"
	"   * 1000000)::bigint; BEGIN"
	"  IF abs(NEW.created - now_us) > 300000000"
	"   OR NEW.at < NEW.created - 86400000000"
	"   OR NEW.at > NEW.created + 300000000 THEN"
	"   RAISE EXCEPTION 'a red-team action claims a time at most 24 h"
	" before its recording and 5 minutes after'; END IF;"
	"  RETURN NEW; END $$;"
	"CREATE OR REPLACE TRIGGER redteam_action_claim BEFORE INSERT"
	"  ON redteam_actions FOR EACH ROW EXECUTE FUNCTION"
	"  redteam_action_claim();"
	"CREATE OR REPLACE FUNCTION redteam_action_append_only() RETURNS"
	"  trigger LANGUAGE plpgsql AS $$ BEGIN"
	"  RAISE EXCEPTION 'red-team actions are append-only'; END $$;"
	"CREATE OR REPLACE TRIGGER redteam_action_append_only BEFORE UPDATE"
	"  ON redteam_actions FOR EACH ROW EXECUTE FUNCTION"
	"  redteam_action_append_only();",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* ---- parameters and columns ------------------------------------------------ */

static struct pg_args *arg_slot(struct pg_args *a, int *i)
{
	/* More parameters than a statement of this backend has is a bug. */
	if (a->n >= PG_ARGS_MAX)
		abort();
	*i = a->n++;
	return a;
}

void pg_arg_text(struct pg_args *a, const char *s)
{
	int i;
	arg_slot(a, &i);
	a->v[i] = s;
	a->len[i] = 0;
	a->fmt[i] = 0;
}

void pg_arg_int(struct pg_args *a, long long v)
{
	int i;
	arg_slot(a, &i);
	snprintf(a->num[i], sizeof(a->num[i]), "%lld", v);
	a->v[i] = a->num[i];
	a->len[i] = 0;
	a->fmt[i] = 0;
}

void pg_arg_real(struct pg_args *a, double v)
{
	int i;
	arg_slot(a, &i);
	snprintf(a->num[i], sizeof(a->num[i]), "%.17g", v);
	a->v[i] = a->num[i];
	a->len[i] = 0;
	a->fmt[i] = 0;
}

void pg_arg_bytea(struct pg_args *a, const void *p, size_t n)
{
	int i;
	arg_slot(a, &i);
	/* An empty body is stored as NULL, as SQLite's backend does. */
	a->v[i] = n > 0 ? p : NULL;
	a->len[i] = (int)n;
	a->fmt[i] = 1;
}

long long pg_int(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return 0;
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

double pg_real(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return 0;
	return strtod(PQgetvalue(res, row, col), NULL);
}

void pg_text(char *dst, size_t cap, const PGresult *res, int row, int col)
{
	snprintf(dst, cap, "%s", PQgetvalue(res, row, col));
}

unsigned char *pg_bytea(const PGresult *res, int row, int col, size_t *len)
{
	*len = 0;
	if (PQgetisnull(res, row, col))
		return NULL;
	return PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col),
			       len);
}

/* ---- connections ------------------------------------------------------------ */

int pg_connect(struct pg_conn *c, char *err, size_t errlen)
{
	/* The URL is expanded as dbname; the keywords after it only fill
	 * what it left out. A server that stops answering over TCP (a
	 * partition, a host frozen mid-failover) would hold a call forever:
	 * statement_timeout is the server's own clock, so the client side
	 * gives up by TCP keepalives (an idle wait) and tcp_user_timeout
	 * (data sent and never acknowledged) within about 30 s, and the
	 * batch is refused and resent. A unix socket ignores both. */
	const char *keys[] = {"dbname", "connect_timeout", "application_name",
			      "keepalives", "keepalives_idle",
			      "keepalives_interval", "keepalives_count",
			      "tcp_user_timeout", NULL};
	const char *vals[] = {c->conninfo, "5", "eduwatch-collector", "1",
			      "10", "5", "4", "30000", NULL};
	pg_disconnect(c);
	c->db = PQconnectdbParams(keys, vals, 1);
	if (c->db == NULL || PQstatus(c->db) != CONNECTION_OK) {
		if (err != NULL)
			snprintf(err, errlen, "cannot connect to PostgreSQL: %s",
				 c->db ? PQerrorMessage(c->db) : "out of memory");
		pg_disconnect(c);
		return -EAGAIN;
	}
	/* UTC and microsecond integers everywhere: the server's own zone
	 * and clock never enter a row. */
	PGresult *r = PQexec(c->db, "SET statement_timeout = '" STATEMENT_TIMEOUT
				    "'; SET TimeZone = 'UTC';"
				    " SET client_min_messages = warning");
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok) {
		if (err != NULL)
			snprintf(err, errlen, "PostgreSQL session setup: %s",
				 PQerrorMessage(c->db));
		pg_disconnect(c);
		return -EIO;
	}
	return 0;
}

void pg_disconnect(struct pg_conn *c)
{
	if (c->db != NULL)
		PQfinish(c->db);
	c->db = NULL;
}

/* A connection lost (server restarted, network cut) is opened again on
 * the next call; a call made while the server is away fails with
 * -EAGAIN, and its caller decides whether to retry. */
static int ensure_connected(struct pg_conn *c)
{
	if (c->db != NULL && PQstatus(c->db) == CONNECTION_OK)
		return 0;
	char err[512];
	int rc = pg_connect(c, err, sizeof(err));
	if (rc != 0)
		log_warn("store: %s", err);
	else
		log_info("store: reconnected to PostgreSQL");
	return rc;
}

/* A failed statement: logs it, and tells a server that went away (no
 * SQLSTATE at all is libpq's own error: the connection broke; class 08 is
 * a connection error, 57P an administrator's shutdown) from an error in
 * the statement. */
int pg_failed(struct pg_conn *c, const PGresult *res, const char *sql)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
				: NULL;
	snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", state ? state : "");
	bool gone = state == NULL || PQstatus(c->db) != CONNECTION_OK ||
		    strncmp(c->sqlstate, "08", 2) == 0 ||
		    strncmp(c->sqlstate, "57P", 3) == 0;
	/* Unique and foreign-key violations are answers the callers turn
	 * into errnos; they are not worth a log line. */
	if (strncmp(c->sqlstate, "23", 2) != 0)
		log_err("store: PostgreSQL: %s (statement: %.80s)",
			PQerrorMessage(c->db), sql);
	if (gone)
		pg_disconnect(c);
	return gone ? -EAGAIN : -EIO;
}

/* PostgreSQL refuses a statement, and with it the whole transaction (a
 * batch of many agents' events), for one text parameter that is not
 * UTF-8. The callers make what an agent names valid (alert.c); this is
 * the belt for any path that does not: such a parameter goes as a copy
 * with U+FFFD for each bad byte. The copies are owned[], freed by the
 * caller; returns the arguments to send, or NULL without memory. */
static const struct pg_args *valid_text_args(const struct pg_args *a,
					     struct pg_args *fixed,
					     char **owned)
{
	const struct pg_args *use = a;
	for (int i = 0; i < a->n; i++) {
		size_t n;
		if (a->fmt[i] != 0 || a->v[i] == NULL ||
		    json_utf8_valid(a->v[i], n = strlen(a->v[i])))
			continue;
		if (use == a) {
			*fixed = *a;
			use = fixed;
		}
		owned[i] = json_utf8_repaired(a->v[i], n);
		if (owned[i] == NULL)
			return NULL;
		fixed->v[i] = owned[i];
		log_warn("store: a text value that was not UTF-8 was repaired "
			 "(U+FFFD for each bad byte)");
	}
	return use;
}

static PGresult *exec_params(struct pg_conn *c, const char *sql,
			     const struct pg_args *a)
{
	struct pg_args fixed;
	char *owned[PG_ARGS_MAX] = {0};
	const struct pg_args *use = valid_text_args(a, &fixed, owned);
	PGresult *res = use ? PQexecParams(c->db, sql, use->n, NULL, use->v,
					   use->len, use->fmt, 0)
			    : NULL;
	for (int i = 0; i < a->n; i++)
		alloc_free(owned[i]);
	return res;
}

int pg_run(struct pg_conn *c, const char *sql, const struct pg_args *a,
	   pg_row_fn row, void *arg, long long *affected)
{
	static const struct pg_args none;
	if (a == NULL)
		a = &none;
	if (affected != NULL)
		*affected = 0;
	c->sqlstate[0] = '\0';
	int rc = ensure_connected(c);
	if (rc != 0)
		return rc;
	PGresult *res = exec_params(c, sql, a);
	if (res == NULL)
		return -ENOMEM;
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		rc = pg_failed(c, res, sql);
		PQclear(res);
		return rc;
	}
	int rows = PQntuples(res);
	if (affected != NULL) {
		const char *n = PQcmdTuples(res);
		*affected = n[0] ? strtoll(n, NULL, 10) : rows;
	}
	for (int i = 0; row != NULL && i < rows; i++) {
		int r = row(arg, res, i);
		if (r != 0) {
			rc = r < 0 ? r : 0;
			break;
		}
	}
	PQclear(res);
	return rc;
}

int pg_exec(struct pg_conn *c, const char *sql)
{
	c->sqlstate[0] = '\0';
	int rc = ensure_connected(c);
	if (rc != 0)
		return rc;
	PGresult *res = PQexec(c->db, sql);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		rc = pg_failed(c, res, sql);
	PQclear(res);
	return rc;
}

int pg_end(struct pg_conn *c, int rc)
{
	if (rc == 0)
		return pg_exec(c, "COMMIT");
	/* Already failing: the first error is the one to report, and a
	 * failed ROLLBACK ends with the connection anyway. */
	if (c->db != NULL && PQstatus(c->db) == CONNECTION_OK)
		EW_IGNORE(pg_exec(c, "ROLLBACK"));
	return rc;
}

/* ---- the admin lock ------------------------------------------------------ */

/* "pg_school_list" is store_school_list to the caller. */
static const char *call_name(const char *fn)
{
	return strncmp(fn, "pg_", 3) == 0 ? fn + 3 : fn;
}

void pg_enter(struct pg_store *s, const char *call)
{
	uv_thread_t self = uv_thread_self();
	if (atomic_load(&s->admin_held) && uv_thread_equal(&s->admin_owner, &self)) {
		/* Only this thread can have set both: it is inside a row
		 * callback (or the alert function) of its own call. */
		fprintf(stderr,
			"store: store_%s called from a row callback of "
			"store_%s on the same store; collect rows in the "
			"callback and act after the call returns\n",
			call_name(call), call_name(s->admin_call));
		abort();
	}
	uv_mutex_lock(&s->admin_lock);
	s->admin_owner = self;
	s->admin_call = call;
	atomic_store(&s->admin_held, true);
}

void pg_leave(struct pg_store *s)
{
	atomic_store(&s->admin_held, false);
	uv_mutex_unlock(&s->admin_lock);
}

int pg_admin_run(struct pg_store *s, const char *call, const char *sql,
		 const struct pg_args *a, pg_row_fn row, void *arg,
		 long long *affected)
{
	pg_enter(s, call);
	int rc = pg_run(&s->admin, sql, a, row, arg, affected);
	pg_leave(s);
	return rc;
}

/* ---- schema -------------------------------------------------------------- */

static int read_version(void *arg, const PGresult *res, int row)
{
	*(int *)arg = (int)pg_int(res, row, 0);
	return 1;
}

static int migrate(struct pg_conn *c, char *err, size_t errlen)
{
	int version = 0;
	int rc = pg_exec(c, "CREATE TABLE IF NOT EXISTS schema_version("
			    "version integer NOT NULL)");
	/* Two collectors creating it at once: one wins, the other sees a
	 * unique violation on the catalog; the lock below orders the rest. */
	if (rc != 0 && (rc = pg_exec(c, "SELECT 1 FROM schema_version")) != 0) {
		snprintf(err, errlen, "cannot create schema_version: %s",
			 c->db ? PQerrorMessage(c->db) : "no connection");
		return rc;
	}
	rc = pg_exec(c, "BEGIN; SELECT pg_advisory_xact_lock(" SCHEMA_LOCK_KEY
			")");
	if (rc == 0)
		rc = pg_run(c, "SELECT coalesce(max(version), 0) FROM "
			       "schema_version",
			    NULL, read_version, &version, NULL);
	if (rc == 0 && version > SCHEMA_VERSION) {
		snprintf(err, errlen,
			 "database schema version %d is newer than this "
			 "collector (%d): upgrade the collector",
			 version, SCHEMA_VERSION);
		return pg_end(c, -EINVAL);
	}
	for (int v = version; rc == 0 && v < SCHEMA_VERSION; v++) {
		struct pg_args a = {0};
		pg_arg_int(&a, v + 1);
		rc = pg_exec(c, migrations[v]);
		if (rc == 0)
			rc = pg_run(c, "INSERT INTO schema_version VALUES($1)", &a,
				    NULL, NULL, NULL);
		if (rc == 0 && version > 0)
			log_info("store: migrated schema to version %d", v + 1);
	}
	if (rc != 0 && err[0] == '\0')
		snprintf(err, errlen, "migrating the PostgreSQL schema: %s",
			 c->db ? PQerrorMessage(c->db) : "no connection");
	return pg_end(c, rc);
}

/* ---- open and close -------------------------------------------------------- */

int pg_open(const struct store_options *opts, const char *location,
	    uv_loop_t *loop, struct store **out, char *err, size_t errlen)
{
	struct pg_store *s = alloc_zeroed(1, sizeof(*s));
	int rc;
	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (s == NULL)
		return -ENOMEM;
	s->base.backend = &store_pg_backend;
	s->opts = *opts;
	if (s->opts.batch_max_events <= 0)
		s->opts.batch_max_events = 5000;
	unsigned char rnd[6] = {0};
	EW_IGNORE(RAND_bytes(rnd, sizeof(rnd))); /* a name, not a secret */
	if (opts->instance != NULL)
		snprintf(s->instance, sizeof(s->instance), "%s", opts->instance);
	else
		snprintf(s->instance, sizeof(s->instance),
			 "%ld-%02x%02x%02x%02x%02x%02x", (long)getpid(), rnd[0],
			 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	int n = snprintf(s->admin.conninfo, sizeof(s->admin.conninfo),
			 "postgresql:%s", location);
	if (n < 0 || (size_t)n >= sizeof(s->admin.conninfo)) {
		alloc_free(s);
		snprintf(err, errlen, "store url too long");
		return -ENAMETOOLONG;
	}
	memcpy(s->writer.conninfo, s->admin.conninfo,
	       sizeof(s->writer.conninfo));
	uv_mutex_init(&s->admin_lock);
	store_writer_init(&s->w, &pg_writer_ops, s,
			  (size_t)s->opts.batch_max_events);
	if ((rc = pg_connect(&s->admin, err, errlen)) != 0 ||
	    (rc = migrate(&s->admin, err, errlen)) != 0)
		goto fail;
	if (loop != NULL && (rc = pg_writer_start(s, loop, err, errlen)) != 0)
		goto fail;
	*out = &s->base;
	return 0;
fail:
	pg_close(&s->base);
	return rc;
}

void pg_close(struct store *st)
{
	struct pg_store *s = pg_impl(st);
	pg_writer_stop(s);
	pg_disconnect(&s->admin);
	uv_mutex_destroy(&s->admin_lock);
	/* Frees s, now or once the loop has let go of the writer. */
	store_writer_release(&s->w);
}
