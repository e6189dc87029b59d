/* store_migrate: SQLite to PostgreSQL, copied in one transaction and
 * verified before it commits (store_migrate.h). It reads the SQLite file
 * with sqlite3 directly (read-only, one snapshot) and writes through the
 * PostgreSQL backend's own connection, after the backend's open has
 * brought the target's schema to this collector's version. */
#include "collector/store_migrate.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "collector/store.h"
#include "collector/store_pg.h"
#include "collector/store_sqlite.h"
#include "common/alloc.h"
#include "common/jsonout.h"

/* Every table the collector keeps, parents before children (reports
 * before the reports that supersede them, by id; a red-team campaign
 * before its actions and the alerts of its window). events stays the
 * fourth: verify counts its keys against it. */
static const char *const copied[] = {
	"schools",	 "tokens",	  "agents",	"events",
	"host_state",	 "commands",	  "score_snapshots",
	"drill_campaigns", "drill_targets", "redteam_actions",
	"alerts",	 "redteam_alerts", "forward_queue", "dead_letters",
	"forward_deliveries", "users",	  "sessions",	"api_tokens",
	"audit_log",	 "systems",	  "day_school", "day_host",
	"reports",	 "agent_releases",
};

/* SQLite tables left behind on purpose. drill_deliveries: a drill
 * alert's receipts are its forward_deliveries rows on PostgreSQL (SQLite
 * migration 12 copied them there, forward_done writes both since). */
static const char *const left_behind[] = {"schema_version",
					  "drill_deliveries"};

/* The target's triggers that judge each insert as live work: an action
 * outside its window is refused, so is one recorded more than 5 minutes
 * from the database's clock (any action of a store kept for a while),
 * an alert raised in a running window is flagged and tied to it (a row
 * of redteam_alerts). The copy is history already judged on SQLite, its
 * redteam_alerts rows copied as they are (a second row from the trigger
 * would break the COPY), so these are disabled for the copy, inside its
 * transaction: no other writer sees them off, and a failed copy leaves
 * them as they were. */
static const char *const live_triggers[][2] = {
	{"alerts", "redteam_window_alert"},
	{"redteam_actions", "redteam_action_in_window"},
	{"redteam_actions", "redteam_action_claim"},
};

/* A column named differently: "user" is a reserved word in PostgreSQL. */
static const char *sqlite_column(const char *table, const char *pg_col)
{
	if (strcmp(pg_col, "username") == 0 &&
	    (strcmp(table, "sessions") == 0 || strcmp(table, "api_tokens") == 0))
		return "user";
	return pg_col;
}

#define EVENT_SAMPLE 500
#define MAX_COLUMNS 32
#define MAX_MONTHS 1200 /* a century of partitions: more is a bad clock */

struct column {
	char pg[64];
	char sq[64];
	bool boolean; /* PostgreSQL boolean, SQLite 0/1 */
	bool bytea;
	bool serial; /* takes its default from a sequence */
	bool in_sqlite;
};

struct run {
	const struct store_migrate_options *o;
	sqlite3 *sq;
	struct pg_conn *pg;
	char *err;
	size_t errlen;
	char *buf; /* COPY text being built */
	size_t len, cap;
};

static bool in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return true;
	return false;
}
#define IN_LIST(name, list) in_list(name, list, sizeof(list) / sizeof(list[0]))

static const char *pg_message(const struct run *r)
{
	return r->pg->db ? PQerrorMessage(r->pg->db) : "no connection";
}

/* ---- the source ------------------------------------------------------ */

static int sq_count(struct run *r, const char *table, long long *n)
{
	char sql[128];
	sqlite3_stmt *st = NULL;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\"", table);
	int rc = sqlite3_prepare_v2(r->sq, sql, -1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		*n = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		return 0;
	}
	snprintf(r->err, r->errlen, "reading %s from %s: %s", table,
		 r->o->from, sqlite3_errmsg(r->sq));
	sqlite3_finalize(st);
	return -EIO;
}

/* An eduwatch store of exactly this collector's schema, every table of
 * it known here. Runs inside the read transaction, so it judges the
 * snapshot that is copied. */
static int check_source(struct run *r)
{
	sqlite3_stmt *st = NULL;
	int version = -1, rc;
	rc = sqlite3_prepare_v2(r->sq, "SELECT max(version) FROM schema_version",
				-1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) == SQLITE_INTEGER)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version < 1) {
		snprintf(r->err, r->errlen,
			 "%s is not an eduwatch store (%s)", r->o->from,
			 rc == SQLITE_OK ? "no schema version"
					 : sqlite3_errmsg(r->sq));
		return -EINVAL;
	}
	if (version > sqlite_schema_latest()) {
		snprintf(r->err, r->errlen,
			 "%s has schema version %d, newer than this collector "
			 "(%d): migrate with the collector that wrote it",
			 r->o->from, version, sqlite_schema_latest());
		return -EINVAL;
	}
	if (version < sqlite_schema_latest()) {
		/* Read-only here: upgrading it is serve's job. */
		snprintf(r->err, r->errlen,
			 "%s has schema version %d, older than this collector "
			 "(%d): run this collector's serve on it once to "
			 "upgrade it, then migrate",
			 r->o->from, version, sqlite_schema_latest());
		return -EINVAL;
	}
	rc = sqlite3_prepare_v2(r->sq,
				"SELECT name FROM sqlite_master WHERE type = "
				"'table' AND name NOT LIKE 'sqlite\\_%' "
				"ESCAPE '\\' ORDER BY name",
				-1, &st, NULL);
	int out = rc == SQLITE_OK ? 0 : -EIO;
	while (out == 0 && sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		if (IN_LIST(t, copied) || IN_LIST(t, left_behind))
			continue;
		snprintf(r->err, r->errlen,
			 "%s: table %s is unknown to this migration",
			 r->o->from, t);
		out = -EINVAL;
	}
	sqlite3_finalize(st);
	return out;
}

/* ---- the target ------------------------------------------------------ */

static int read_one(void *arg, const PGresult *res, int row)
{
	*(long long *)arg = pg_int(res, row, 0);
	return 1;
}

static int pg_count(struct run *r, const char *table, long long *n)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\"", table);
	*n = -1;
	int rc = pg_run(r->pg, sql, NULL, read_one, n, NULL);
	if (rc != 0)
		snprintf(r->err, r->errlen, "counting %s: %s", table,
			 pg_message(r));
	return rc;
}

static int check_target_empty(struct run *r)
{
	static const char *const held[] = {"schools", "agents", "event_keys",
					   "users", "alerts"};
	for (size_t i = 0; i < sizeof(held) / sizeof(held[0]); i++) {
		long long n;
		int rc = pg_count(r, held[i], &n);
		if (rc != 0)
			return rc;
		if (n > 0) {
			snprintf(r->err, r->errlen,
				 "the target already holds %lld rows in %s: "
				 "migrate into an empty database",
				 n, held[i]);
			return -EINVAL;
		}
	}
	return 0;
}

struct column_list {
	struct column c[MAX_COLUMNS];
	int n;
};

static int read_column(void *arg, const PGresult *res, int row)
{
	struct column_list *l = arg;
	if (l->n == MAX_COLUMNS)
		return -E2BIG;
	struct column *c = &l->c[l->n++];
	pg_text(c->pg, sizeof(c->pg), res, row, 0);
	c->boolean = strcmp(PQgetvalue(res, row, 1), "boolean") == 0;
	c->bytea = strcmp(PQgetvalue(res, row, 1), "bytea") == 0;
	c->serial = strncmp(PQgetvalue(res, row, 2), "nextval(", 8) == 0;
	return 0;
}

/* The target's columns, each matched to its source column by name; a
 * source column with no target is refused (its values would be lost). */
static int map_columns(struct run *r, const char *table,
		       struct column_list *l)
{
	struct pg_args a = {0};
	memset(l, 0, sizeof(*l));
	pg_arg_text(&a, table);
	int rc = pg_run(r->pg,
			"SELECT column_name, data_type, "
			"coalesce(column_default, '') FROM "
			"information_schema.columns WHERE table_schema = "
			"current_schema() AND table_name = $1 "
			"ORDER BY ordinal_position",
			&a, read_column, l, NULL);
	if (rc != 0 || l->n == 0) {
		snprintf(r->err, r->errlen, "the target has no table %s%s%s",
			 table, rc ? ": " : "", rc ? pg_message(r) : "");
		return rc ? rc : -EIO;
	}
	char sql[128];
	sqlite3_stmt *st = NULL;
	snprintf(sql, sizeof(sql), "PRAGMA table_info(\"%s\")", table);
	if (sqlite3_prepare_v2(r->sq, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(r->err, r->errlen, "%s: %s", table,
			 sqlite3_errmsg(r->sq));
		return -EIO;
	}
	rc = 0;
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 1);
		bool found = false;
		if (name == NULL) { /* a crafted file: a column with no name */
			snprintf(r->err, r->errlen, "%s: a column with no name",
				 table);
			rc = -EINVAL;
			break;
		}
		for (int i = 0; i < l->n; i++) {
			if (strcmp(sqlite_column(table, l->c[i].pg), name) != 0)
				continue;
			snprintf(l->c[i].sq, sizeof(l->c[i].sq), "%s", name);
			l->c[i].in_sqlite = found = true;
		}
		if (!found) {
			snprintf(r->err, r->errlen,
				 "column %s.%s has no place in the target",
				 table, name);
			rc = -EINVAL;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

/* ---- COPY ------------------------------------------------------------ */

static int buf_room(struct run *r, size_t n)
{
	if (r->len + n <= r->cap)
		return 0;
	size_t cap = r->cap ? r->cap : 1 << 16;
	while (cap < r->len + n)
		cap *= 2;
	char *p = alloc_resize(r->buf, cap);
	if (p == NULL)
		return -ENOMEM;
	r->buf = p;
	r->cap = cap;
	return 0;
}

/* Text in COPY's format, made valid UTF-8 on the way: SQLite kept what
 * an older collector stored from an agent's bytes (a file name is any
 * bytes), and PostgreSQL would refuse the whole migration for one of
 * them. Each bad byte becomes U+FFFD, as the collector now stores it. */
static int put_text(struct run *r, const unsigned char *p, size_t n)
{
	if (buf_room(r, 3 * n))
		return -ENOMEM;
	for (size_t i = 0; i < n;) {
		size_t len = p[i] < 0x80 ? 1 : json_utf8_len(p + i, n - i);
		char e = p[i] == '\\' ? '\\' : p[i] == '\t' ? 't'
				       : p[i] == '\n' ? 'n'
				       : p[i] == '\r' ? 'r' : 0;
		if (len == 0) {
			memcpy(r->buf + r->len, JSON_UTF8_REPLACEMENT, 3);
			r->len += 3;
			i++;
		} else if (e) {
			r->buf[r->len++] = '\\';
			r->buf[r->len++] = e;
			i++;
		} else {
			memcpy(r->buf + r->len, p + i, len);
			r->len += len;
			i += len;
		}
	}
	return 0;
}

/* One value in COPY's text format: \N for NULL, bytea as \\x and hex,
 * text with backslash, tab and line breaks escaped. */
static int put_value(struct run *r, sqlite3_stmt *st, int col,
		     const struct column *c)
{
	static const char hex[] = "0123456789abcdef";
	int type = sqlite3_column_type(st, col);
	if (type == SQLITE_NULL || !c->in_sqlite) {
		if (buf_room(r, 2))
			return -ENOMEM;
		memcpy(r->buf + r->len, "\\N", 2);
		r->len += 2;
		return 0;
	}
	if (c->boolean) {
		if (buf_room(r, 1))
			return -ENOMEM;
		r->buf[r->len++] = sqlite3_column_int64(st, col) ? 't' : 'f';
		return 0;
	}
	if (type == SQLITE_INTEGER || type == SQLITE_FLOAT) {
		char num[40];
		int n = type == SQLITE_INTEGER
				? snprintf(num, sizeof(num), "%lld",
					   (long long)sqlite3_column_int64(st, col))
				: snprintf(num, sizeof(num), "%.17g",
					   sqlite3_column_double(st, col));
		if (buf_room(r, (size_t)n))
			return -ENOMEM;
		memcpy(r->buf + r->len, num, (size_t)n);
		r->len += (size_t)n;
		return 0;
	}
	const unsigned char *p = type == SQLITE_BLOB
					 ? sqlite3_column_blob(st, col)
					 : sqlite3_column_text(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);
	if (c->bytea) {
		if (buf_room(r, 3 + 2 * n))
			return -ENOMEM;
		memcpy(r->buf + r->len, "\\\\x", 3);
		r->len += 3;
		for (size_t i = 0; i < n; i++) {
			r->buf[r->len++] = hex[p[i] >> 4];
			r->buf[r->len++] = hex[p[i] & 15];
		}
		return 0;
	}
	return put_text(r, p, n);
}

static int flush(struct run *r)
{
	if (r->len > 0 && PQputCopyData(r->pg->db, r->buf, (int)r->len) != 1)
		return -EIO;
	r->len = 0;
	return 0;
}

/* Ends the COPY, with an error message when rc says it failed (the
 * server then discards it); returns rc or the server's verdict. */
static int copy_end(struct run *r, const char *table, int rc)
{
	if (PQputCopyEnd(r->pg->db, rc ? "store migrate failed" : NULL) != 1 &&
	    rc == 0)
		rc = -EIO;
	PGresult *res;
	while ((res = PQgetResult(r->pg->db)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0) {
			snprintf(r->err, r->errlen, "copying %s: %s", table,
				 PQresultErrorMessage(res));
			rc = -EIO;
		}
		PQclear(res);
	}
	if (rc != 0 && r->err[0] == '\0')
		snprintf(r->err, r->errlen, "copying %s: %s", table,
			 rc == -ENOMEM ? "out of memory" : pg_message(r));
	return rc;
}

static int copy_table(struct run *r, const char *table, long long total,
		      bool *serial_id)
{
	struct column_list l;
	char cols_pg[2048] = "", cols_sq[2048] = "", sql[4600];
	int rc = map_columns(r, table, &l);
	if (rc != 0)
		return rc;
	size_t np = 0, ns = 0;
	bool has_id = false;
	for (int i = 0; i < l.n; i++) {
		const struct column *c = &l.c[i];
		has_id |= strcmp(c->pg, "id") == 0 && c->in_sqlite;
		*serial_id |= strcmp(c->pg, "id") == 0 && c->serial;
		np += (size_t)snprintf(cols_pg + np, sizeof(cols_pg) - np,
				       "%s\"%s\"", i ? ", " : "", c->pg);
		/* A target column the source lacks (a lease) reads NULL. */
		ns += (size_t)snprintf(cols_sq + ns, sizeof(cols_sq) - ns,
				       "%s%s%s%s", i ? ", " : "",
				       c->in_sqlite ? "\"" : "",
				       c->in_sqlite ? c->sq : "NULL",
				       c->in_sqlite ? "\"" : "");
		/* snprintf says what it would have written: past the end,
		 * the next call's room would wrap. Names come from the
		 * target's schema, which a wrong --to could make long. */
		if (np >= sizeof(cols_pg) || ns >= sizeof(cols_sq)) {
			snprintf(r->err, r->errlen, "%s: its column list is "
				 "too long", table);
			return -E2BIG;
		}
	}
	snprintf(sql, sizeof(sql), "SELECT %s FROM \"%s\"%s", cols_sq, table,
		 has_id ? " ORDER BY id" : "");
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(r->sq, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(r->err, r->errlen, "reading %s: %s", table,
			 sqlite3_errmsg(r->sq));
		return -EIO;
	}
	snprintf(sql, sizeof(sql), "COPY \"%s\"(%s) FROM STDIN", table,
		 cols_pg);
	PGresult *res = PQexec(r->pg->db, sql);
	bool copying = PQresultStatus(res) == PGRES_COPY_IN;
	if (!copying)
		snprintf(r->err, r->errlen, "copying %s: %s", table,
			 PQresultErrorMessage(res));
	PQclear(res);
	if (!copying) {
		sqlite3_finalize(st);
		return -EIO;
	}
	long long rows = 0;
	int step;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; rc == 0 && i < l.n; i++) {
			rc = put_value(r, st, i, &l.c[i]);
			if (rc == 0 && (rc = buf_room(r, 1)) == 0)
				r->buf[r->len++] = i + 1 < l.n ? '\t' : '\n';
		}
		if (rc == 0 && ++rows % r->o->batch == 0) {
			rc = flush(r);
			fprintf(r->o->out, "  %s: %lld/%lld\n", table, rows,
				total);
			fflush(r->o->out);
		}
	}
	if (rc == 0 && step != SQLITE_DONE) {
		snprintf(r->err, r->errlen, "reading %s: %s", table,
			 sqlite3_errmsg(r->sq));
		rc = -EIO;
	}
	sqlite3_finalize(st);
	if (rc == 0)
		rc = flush(r);
	r->len = 0;
	return copy_end(r, table, rc);
}

/* ---- events: partitions, keys, sequences ------------------------------- */

static int sq_range(struct run *r, int64_t *lo, int64_t *hi)
{
	sqlite3_stmt *st = NULL;
	int rc = -EIO;
	*lo = *hi = 0;
	if (sqlite3_prepare_v2(r->sq, "SELECT min(received), max(received) "
				      "FROM events", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		*lo = sqlite3_column_int64(st, 0);
		*hi = sqlite3_column_int64(st, 1);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

/* A partition for every month from the first event's to the last's, as
 * the writer names them, so its own later CREATE IF NOT EXISTS agrees. */
static int make_partitions(struct run *r, long long events)
{
	int64_t lo, hi;
	if (events == 0)
		return 0;
	if (sq_range(r, &lo, &hi) != 0) {
		snprintf(r->err, r->errlen, "reading events: %s",
			 sqlite3_errmsg(r->sq));
		return -EIO;
	}
	for (int add = 0; add < MAX_MONTHS; add++) {
		if (pg_month_start_us(lo, add, NULL, NULL) > hi)
			return 0;
		int rc = pg_create_partition(r->pg, lo, add);
		if (rc != 0) {
			snprintf(r->err, r->errlen, "creating partitions: %s",
				 pg_message(r));
			return rc;
		}
	}
	snprintf(r->err, r->errlen,
		 "events span more than %d months (received %" PRId64
		 " to %" PRId64 "): refusing so many partitions",
		 MAX_MONTHS, lo, hi);
	return -EINVAL;
}

/* Ids the source handed out stay handed out: each serial sequence goes
 * past both the highest id copied and SQLite's AUTOINCREMENT high mark
 * (an alert's id is known to the SOC even after its row is gone). */
static int fix_sequence(struct run *r, const char *table)
{
	long long mark = 0;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(r->sq, "SELECT seq FROM sqlite_sequence WHERE "
				      "name = ?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			mark = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st); /* no sqlite_sequence: no AUTOINCREMENT */
	struct pg_args a = {0};
	pg_arg_text(&a, table);
	pg_arg_int(&a, mark);
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "SELECT setval(s, greatest((SELECT max(id) FROM \"%s\"), "
		 "$2::bigint)) FROM pg_get_serial_sequence($1, 'id') s "
		 "WHERE s IS NOT NULL AND greatest((SELECT max(id) FROM "
		 "\"%s\"), $2::bigint) > 0",
		 table, table);
	int rc = pg_run(r->pg, sql, &a, NULL, NULL, NULL);
	if (rc != 0)
		snprintf(r->err, r->errlen, "the id sequence of %s: %s", table,
			 pg_message(r));
	return rc;
}

/* ---- verification ------------------------------------------------------ */

/* EVENT_SAMPLE events picked at random in the source, each compared
 * with the target's row of the same id, field by field. */
static int compare_events(struct run *r, int *sampled)
{
	static const char *const fields[] = {
		"agent", "boot", "seq", "ts", "received", "kind",
		"sev", "drill", "body", "agent_ts"};
	sqlite3_stmt *st = NULL;
	*sampled = 0;
	if (sqlite3_prepare_v2(r->sq,
			       "SELECT id, agent, boot, seq, ts, received, "
			       "kind, sev, drill, lower(hex(body)), agent_ts "
			       "FROM events ORDER BY random() LIMIT "
			       "?",
			       -1, &st, NULL) != SQLITE_OK) {
		snprintf(r->err, r->errlen, "sampling events: %s",
			 sqlite3_errmsg(r->sq));
		return -EIO;
	}
	sqlite3_bind_int(st, 1, EVENT_SAMPLE);
	int rc = 0;
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		struct pg_args a = {0};
		pg_arg_int(&a, sqlite3_column_int64(st, 0));
		PGresult *res = PQexecParams(
			r->pg->db,
			"SELECT agent, boot, seq, ts, received, kind, sev, "
			"drill, encode(body, 'hex'), agent_ts FROM events "
			"WHERE id = $1",
			a.n, NULL, a.v, a.len, a.fmt, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK ||
		    PQntuples(res) != 1) {
			snprintf(r->err, r->errlen,
				 "event %lld: %s", (long long)sqlite3_column_int64(st, 0),
				 PQresultStatus(res) == PGRES_TUPLES_OK
					 ? "missing in the target"
					 : PQresultErrorMessage(res));
			rc = -EIO;
		}
		for (int f = 0; rc == 0 && f < 10; f++) {
			const char *want =
				(const char *)sqlite3_column_text(st, f + 1);
			bool want_null = sqlite3_column_type(st, f + 1) ==
					 SQLITE_NULL;
			bool got_null = PQgetisnull(res, 0, f);
			const char *got = PQgetvalue(res, 0, f);
			if (want_null != got_null ||
			    (!want_null && strcmp(want, got) != 0)) {
				snprintf(r->err, r->errlen,
					 "event %lld differs in %s",
					 (long long)sqlite3_column_int64(st, 0),
					 fields[f]);
				rc = -EIO;
			}
		}
		PQclear(res);
		if (rc == 0)
			(*sampled)++;
	}
	sqlite3_finalize(st);
	return rc;
}

/* ---- the whole run ----------------------------------------------------- */

static int set_live_triggers(struct run *r, const char *how)
{
	size_t n = sizeof(live_triggers) / sizeof(live_triggers[0]);
	for (size_t i = 0; i < n; i++) {
		char sql[160];
		snprintf(sql, sizeof(sql), "ALTER TABLE \"%s\" %s TRIGGER \"%s\"",
			 live_triggers[i][0], how, live_triggers[i][1]);
		if (pg_exec(r->pg, sql) != 0) {
			snprintf(r->err, r->errlen, "%s: %s", sql,
				 pg_message(r));
			return -EIO;
		}
	}
	return 0;
}

static int copy_all(struct run *r, long long counts[])
{
	int rc = pg_exec(r->pg, "BEGIN");
	if (rc == 0)
		rc = check_target_empty(r);
	if (rc == 0)
		rc = set_live_triggers(r, "DISABLE");
	for (size_t i = 0; rc == 0 && i < sizeof(copied) / sizeof(copied[0]);
	     i++) {
		const char *t = copied[i];
		rc = sq_count(r, t, &counts[i]);
		if (rc == 0 && strcmp(t, "events") == 0)
			rc = make_partitions(r, counts[i]);
		bool serial_id = false;
		if (rc == 0)
			rc = copy_table(r, t, counts[i], &serial_id);
		if (rc == 0 && serial_id)
			rc = fix_sequence(r, t);
		if (rc == 0 && strcmp(t, "events") == 0 &&
		    (rc = pg_exec(r->pg, "INSERT INTO event_keys(agent, boot, "
					 "seq, received) SELECT agent, boot, "
					 "seq, received FROM events")) != 0)
			snprintf(r->err, r->errlen,
				 "the events' exactly-once keys: %s",
				 pg_message(r));
	}
	return rc == 0 ? set_live_triggers(r, "ENABLE") : rc;
}

static int verify(struct run *r, const long long counts[])
{
	FILE *out = r->o->out;
	int bad = 0, rc = 0;
	fprintf(out, "%-20s %12s %12s\n", "table", "sqlite", "postgresql");
	for (size_t i = 0; rc == 0 && i < sizeof(copied) / sizeof(copied[0]);
	     i++) {
		long long n;
		rc = pg_count(r, copied[i], &n);
		if (rc != 0)
			break;
		fprintf(out, "%-20s %12lld %12lld%s\n", copied[i], counts[i],
			n, n == counts[i] ? "" : "  MISMATCH");
		bad += n != counts[i];
	}
	long long keys = 0;
	if (rc == 0 && (rc = pg_count(r, "event_keys", &keys)) == 0) {
		fprintf(out, "%-20s %12lld %12lld%s\n", "(event_keys)",
			counts[3], keys, keys == counts[3] ? "" : "  MISMATCH");
		bad += keys != counts[3];
	}
	if (rc != 0)
		return rc;
	if (bad > 0) {
		snprintf(r->err, r->errlen, "%d table(s) differ in row count",
			 bad);
		return -EIO;
	}
	int sampled = 0;
	rc = compare_events(r, &sampled);
	if (rc == 0)
		fprintf(out, "events: %d sampled rows equal field by field\n",
			sampled);
	return rc;
}

int store_migrate(const struct store_migrate_options *o, char *err,
		  size_t errlen)
{
	struct run r = {.o = o, .err = err, .errlen = errlen};
	struct store *st = NULL;
	long long counts[sizeof(copied) / sizeof(copied[0])] = {0};
	err[0] = '\0';
	int rc = sqlite3_open_v2(o->from, &r.sq, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", o->from,
			 r.sq ? sqlite3_errmsg(r.sq) : sqlite3_errstr(rc));
		sqlite3_close(r.sq);
		return -EINVAL;
	}
	sqlite3_busy_timeout(r.sq, 10000);
	/* The source's indexes may order by Vietnamese names. */
	rc = sqlite_collation_register(r.sq) == 0 ? 0 : -EIO;
	/* One snapshot from the first read to the last, writers or not. */
	if (rc == 0 && sqlite_exec(r.sq, "BEGIN", err, errlen) != 0)
		rc = -EIO;
	if (rc == 0)
		rc = check_source(&r);
	if (rc == 0) {
		/* The backend's open creates or upgrades the target's
		 * schema, under its advisory lock. */
		struct store_options so = {.url = o->to};
		rc = store_open(&so, NULL, &st, err, errlen);
		if (rc == 0)
			r.pg = &pg_impl(st)->admin;
	}
	if (rc == 0 && (rc = pg_exec(r.pg, "SET client_encoding = 'UTF8'")) != 0)
		snprintf(err, errlen, "%s", pg_message(&r));
	if (rc == 0)
		rc = copy_all(&r, counts);
	if (rc == 0)
		rc = verify(&r, counts);
	/* Verified inside the transaction: a mismatch commits nothing. */
	if (r.pg != NULL && (rc = pg_end(r.pg, rc)) != 0 && err[0] == '\0')
		snprintf(err, errlen, "commit: %s", pg_message(&r));
	EW_IGNORE(sqlite_exec(r.sq, "ROLLBACK", NULL, 0)); /* read only */
	sqlite3_close(r.sq);
	store_close(st);
	alloc_free(r.buf);
	return rc;
}
