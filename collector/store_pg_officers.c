/* store_pg_officers: the console's accounts, sessions, API tokens and
 * audit log, and the register of information systems, in the PostgreSQL
 * backend: the same contract as store_sqlite_officers.c and the register
 * half of store_sqlite_report.c, on the admin connection.
 *
 * Several collectors may share the database, so every counter moves in
 * the statement that reads it (a failed login is one UPDATE ...
 * RETURNING: its row lock makes two collectors' failures queue, and
 * neither is lost), and the register's writes, which recompute a
 * school's policy level from all its systems, take turns on one advisory
 * lock. */
#include "collector/store_pg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Register writes from every collector take turns on this advisory lock
 * ("ewregist" in ASCII). Officers edit the register by hand, a few times
 * a month, so one lock for all of it costs nothing and cannot deadlock,
 * where a lock per unit would have to be ordered against the row locks
 * of a system that moves from one unit to another. */
#define REGISTER_LOCK_KEY "7311711722327110516"

/* One statement under the admin lock. A unique or foreign-key violation
 * is -EEXIST, as SQLite's backend answers for any constraint of these
 * tables: a name taken, or a session or token for an officer that does
 * not exist. */
static int run(struct store *st, const char *call, const char *sql,
	       const struct pg_args *a, pg_row_fn row, void *arg,
	       long long *affected)
{
	struct pg_store *s = pg_impl(st);
	pg_enter(s, call);
	int rc = pg_run(&s->admin, sql, a, row, arg, affected);
	if (rc == -EIO && (strcmp(s->admin.sqlstate, "23505") == 0 ||
			   strcmp(s->admin.sqlstate, "23503") == 0))
		rc = -EEXIST;
	pg_leave(s);
	return rc;
}
#define RUN(st, ...) run((st), __func__, __VA_ARGS__)

/* An optional result: -ENOENT when the statement touched no row. */
static int found(int rc, long long rows)
{
	return rc != 0 ? rc : rows > 0 ? 0 : -ENOENT;
}

static bool pg_flag(const PGresult *res, int row, int col)
{
	return PQgetvalue(res, row, col)[0] == 't';
}

/* ---- accounts ------------------------------------------------------------ */

#define USER_SELECT                                                  \
	"SELECT name, pwhash, role, scope, disabled, failed, locked,"  \
	" totp, lang, created FROM users"

/* The fields user_add and user_update both write, $2 to $7. */
static void user_args(struct pg_args *a, const struct store_user *u)
{
	pg_arg_text(a, u->name);
	pg_arg_text(a, u->pwhash);
	pg_arg_text(a, u->role);
	pg_arg_text(a, u->scope);
	pg_arg_text(a, u->disabled ? "true" : "false");
	pg_arg_text(a, u->totp);
	pg_arg_text(a, u->lang[0] ? u->lang : "vi");
}

int pg_user_add(struct store *st, const struct store_user *u)
{
	struct pg_args a = {0};
	user_args(&a, u);
	pg_arg_int(&a, store_now_us());
	return RUN(st,
		   "INSERT INTO users(name, pwhash, role, scope, disabled,"
		   " totp, lang, created) VALUES($1, $2, $3, $4, $5, $6, $7, $8)",
		   &a, NULL, NULL, NULL);
}

int pg_user_update(struct store *st, const struct store_user *u)
{
	struct pg_args a = {0};
	long long rows;
	user_args(&a, u);
	pg_arg_int(&a, u->failed);
	pg_arg_text(&a, u->locked ? "true" : "false");
	int rc = RUN(st,
		     "UPDATE users SET pwhash = $2, role = $3, scope = $4,"
		     " disabled = $5, totp = $6, lang = $7, failed = $8,"
		     " locked = $9 WHERE name = $1",
		     &a, NULL, NULL, &rows);
	return found(rc, rows);
}

struct user_cb {
	void (*cb)(void *, const struct store_user *);
	void *arg;
};

static int user_row(void *arg, const PGresult *q, int r)
{
	struct user_cb *c = arg;
	struct store_user u;
	memset(&u, 0, sizeof(u));
	pg_text(u.name, sizeof(u.name), q, r, 0);
	pg_text(u.pwhash, sizeof(u.pwhash), q, r, 1);
	pg_text(u.role, sizeof(u.role), q, r, 2);
	pg_text(u.scope, sizeof(u.scope), q, r, 3);
	u.disabled = pg_flag(q, r, 4);
	u.failed = (int)pg_int(q, r, 5);
	u.locked = pg_flag(q, r, 6);
	pg_text(u.totp, sizeof(u.totp), q, r, 7);
	pg_text(u.lang, sizeof(u.lang), q, r, 8);
	u.created_us = pg_int(q, r, 9);
	c->cb(c->arg, &u);
	return 0;
}

static void copy_user(void *arg, const struct store_user *u)
{
	*(struct store_user *)arg = *u;
}

int pg_user_get(struct store *st, const char *name, struct store_user *out)
{
	struct user_cb c = {copy_user, out};
	struct pg_args a = {0};
	long long rows;
	pg_arg_text(&a, name);
	int rc = RUN(st, USER_SELECT " WHERE name = $1", &a, user_row, &c,
		     &rows);
	return found(rc, rows);
}

int pg_user_list(struct store *st,
		 void (*cb)(void *, const struct store_user *), void *arg)
{
	struct user_cb c = {cb, arg};
	/* Byte order, as SQLite's BINARY: the same list on both backends,
	 * whatever the database's locale. */
	return RUN(st, USER_SELECT " ORDER BY name COLLATE \"C\"", NULL,
		   user_row, &c, NULL);
}

static int read_flag(void *arg, const PGresult *q, int r)
{
	*(bool *)arg = pg_flag(q, r, 0);
	return 1;
}

int pg_user_login_failed(struct store *st, const char *name, int max_failed,
			 bool *locked)
{
	struct pg_args a = {0};
	*locked = false;
	pg_arg_text(&a, name);
	pg_arg_int(&a, max_failed);
	/* Counted and compared in one statement on the row's own values:
	 * two collectors failing the same account at once each add one,
	 * and the one that reaches max_failed locks it. */
	return RUN(st,
		   "UPDATE users SET failed = failed + 1,"
		   " locked = locked OR failed + 1 >= $2 WHERE name = $1"
		   " RETURNING locked",
		   &a, read_flag, locked, NULL);
}

int pg_user_login_ok(struct store *st, const char *name)
{
	struct pg_args a = {0};
	pg_arg_text(&a, name);
	return RUN(st, "UPDATE users SET failed = 0 WHERE name = $1", &a, NULL,
		   NULL, NULL);
}

/* ---- sessions and API tokens ---------------------------------------------- */

int pg_session_add(struct store *st, const unsigned char hash[32],
		   const char *user, int64_t now_us, const char *address)
{
	struct pg_args a = {0};
	pg_arg_bytea(&a, hash, 32);
	pg_arg_text(&a, user);
	pg_arg_int(&a, now_us);
	pg_arg_text(&a, address);
	return RUN(st,
		   "INSERT INTO sessions(hash, username, created, last, address)"
		   " VALUES($1, $2, $3, $3, $4)",
		   &a, NULL, NULL, NULL);
}

struct session_out {
	char *user;
	int64_t *created, *last;
};

static int session_row(void *arg, const PGresult *q, int r)
{
	struct session_out *o = arg;
	pg_text(o->user, STORE_USER_MAX + 1, q, r, 0);
	*o->created = pg_int(q, r, 1);
	*o->last = pg_int(q, r, 2);
	return 1;
}

int pg_session_get(struct store *st, const unsigned char hash[32],
		   char *user, int64_t *created_us, int64_t *last_us)
{
	struct session_out o = {user, created_us, last_us};
	struct pg_args a = {0};
	long long rows;
	pg_arg_bytea(&a, hash, 32);
	int rc = RUN(st,
		     "SELECT username, created, last FROM sessions"
		     " WHERE hash = $1",
		     &a, session_row, &o, &rows);
	return found(rc, rows);
}

int pg_session_touch(struct store *st, const unsigned char hash[32],
		     int64_t now_us)
{
	struct pg_args a = {0};
	pg_arg_bytea(&a, hash, 32);
	pg_arg_int(&a, now_us);
	return RUN(st, "UPDATE sessions SET last = $2 WHERE hash = $1", &a,
		   NULL, NULL, NULL);
}

int pg_session_delete(struct store *st, const unsigned char hash[32])
{
	struct pg_args a = {0};
	pg_arg_bytea(&a, hash, 32);
	return RUN(st, "DELETE FROM sessions WHERE hash = $1", &a, NULL, NULL,
		   NULL);
}

int pg_session_delete_user(struct store *st, const char *user)
{
	struct pg_args a = {0};
	pg_arg_text(&a, user);
	return RUN(st, "DELETE FROM sessions WHERE username = $1", &a, NULL,
		   NULL, NULL);
}

int pg_api_token_add(struct store *st, const unsigned char hash[32],
		     const char *label, const char *user, int64_t now_us)
{
	struct pg_args a = {0};
	pg_arg_bytea(&a, hash, 32);
	pg_arg_text(&a, label);
	pg_arg_text(&a, user);
	pg_arg_int(&a, now_us);
	return RUN(st,
		   "INSERT INTO api_tokens(hash, label, username, created)"
		   " VALUES($1, $2, $3, $4)",
		   &a, NULL, NULL, NULL);
}

static int token_user_row(void *arg, const PGresult *q, int r)
{
	pg_text(arg, STORE_USER_MAX + 1, q, r, 0);
	return 1;
}

int pg_api_token_user(struct store *st, const unsigned char hash[32],
		      char *user)
{
	struct pg_args a = {0};
	long long rows;
	pg_arg_bytea(&a, hash, 32);
	int rc = RUN(st,
		     "SELECT username FROM api_tokens WHERE hash = $1"
		     " AND revoked IS NULL",
		     &a, token_user_row, user, &rows);
	return found(rc, rows);
}

/* ---- audit log --------------------------------------------------------------- */

int pg_audit_add(struct store *st, const struct store_audit *a)
{
	struct pg_args p = {0};
	pg_arg_int(&p, a->at_us ? a->at_us : store_now_us());
	pg_arg_text(&p, a->actor);
	pg_arg_text(&p, a->action);
	pg_arg_text(&p, a->object);
	pg_arg_text(&p, a->address);
	pg_arg_text(&p, a->detail);
	return RUN(st,
		   "INSERT INTO audit_log(at, actor, action, object, address,"
		   " detail) VALUES($1, $2, $3, $4, $5, $6)",
		   &p, NULL, NULL, NULL);
}

struct audit_cb {
	void (*cb)(void *, const struct store_audit *);
	void *arg;
};

static int audit_row(void *arg, const PGresult *q, int r)
{
	struct audit_cb *c = arg;
	struct store_audit a;
	a.id = (uint64_t)pg_int(q, r, 0);
	a.at_us = pg_int(q, r, 1);
	pg_text(a.actor, sizeof(a.actor), q, r, 2);
	pg_text(a.action, sizeof(a.action), q, r, 3);
	pg_text(a.object, sizeof(a.object), q, r, 4);
	pg_text(a.address, sizeof(a.address), q, r, 5);
	pg_text(a.detail, sizeof(a.detail), q, r, 6);
	c->cb(c->arg, &a);
	return 0;
}

int pg_audit_list(struct store *st, uint64_t before_id, int limit,
		  void (*cb)(void *, const struct store_audit *), void *arg)
{
	struct audit_cb c = {cb, arg};
	struct pg_args a = {0};
	pg_arg_int(&a, (long long)before_id);
	/* A negative limit is none, as SQLite reads it; PostgreSQL's LIMIT
	 * NULL is the same, where LIMIT -1 is an error. */
	if (limit < 0)
		pg_arg_text(&a, NULL);
	else
		pg_arg_int(&a, limit);
	return RUN(st,
		   "SELECT id, at, actor, action, object, address, detail"
		   " FROM audit_log WHERE $1::bigint = 0 OR id < $1::bigint"
		   " ORDER BY id DESC LIMIT $2::bigint",
		   &a, audit_row, &c, NULL);
}

/* ---- the register of information systems ------------------------------------- */

#define SYSTEM_SELECT                                                    \
	"SELECT id, unit, name, kind, level, dossier, authority,"       \
	" decision_no, decision_date, review_due, hosts FROM systems"

/* A school's policy level follows its highest approved system; a school
 * with none approved keeps the level it was given. */
#define SCHOOL_LEVEL_SYNC                                                 \
	"UPDATE schools SET level = (SELECT max(level) FROM systems"      \
	" WHERE unit = $1 AND dossier = 'approved') WHERE code = $1"     \
	" AND EXISTS(SELECT 1 FROM systems WHERE unit = $1"              \
	" AND dossier = 'approved')"

/* $1 to $10: the fields system_put and system_set both write. */
static void system_args(struct pg_args *a, const struct store_system *y)
{
	pg_arg_text(a, y->unit);
	pg_arg_text(a, y->name);
	pg_arg_text(a, y->kind);
	pg_arg_int(a, y->level);
	pg_arg_text(a, y->dossier);
	pg_arg_text(a, y->authority);
	pg_arg_text(a, y->decision_no);
	pg_arg_text(a, y->decision_date);
	pg_arg_text(a, y->review_due);
	pg_arg_text(a, y->hosts);
}

static int level_sync(struct pg_conn *c, const char *unit)
{
	struct pg_args a = {0};
	pg_arg_text(&a, unit);
	return pg_run(c, SCHOOL_LEVEL_SYNC, &a, NULL, NULL, NULL);
}

/* Opens the register's write transaction on the admin connection. */
static int register_begin(struct pg_conn *c)
{
	int rc = pg_exec(c, "BEGIN");
	if (rc == 0)
		rc = pg_exec(c, "SELECT pg_advisory_xact_lock("
				REGISTER_LOCK_KEY ")");
	return rc;
}

static int read_id(void *arg, const PGresult *q, int r)
{
	*(uint64_t *)arg = (uint64_t)pg_int(q, r, 0);
	return 1;
}

int pg_system_put(struct store *st, const struct store_system *y,
		  uint64_t *id)
{
	struct pg_store *s = pg_impl(st);
	struct pg_args a = {0};
	uint64_t got = 0;
	system_args(&a, y);
	pg_arg_int(&a, store_now_us());
	PG_ENTER(s);
	int rc = register_begin(&s->admin);
	if (rc == 0)
		rc = pg_run(&s->admin,
			    "INSERT INTO systems(unit, name, kind, level,"
			    " dossier, authority, decision_no, decision_date,"
			    " review_due, hosts, updated) VALUES($1, $2, $3, $4,"
			    " $5, $6, $7, $8, $9, $10, $11)"
			    " ON CONFLICT(unit, name) DO UPDATE SET"
			    " kind = excluded.kind, level = excluded.level,"
			    " dossier = excluded.dossier,"
			    " authority = excluded.authority,"
			    " decision_no = excluded.decision_no,"
			    " decision_date = excluded.decision_date,"
			    " review_due = excluded.review_due,"
			    " hosts = excluded.hosts, updated = excluded.updated"
			    " RETURNING id",
			    &a, read_id, &got, NULL);
	if (rc == 0)
		rc = level_sync(&s->admin, y->unit);
	rc = pg_end(&s->admin, rc);
	pg_leave(s);
	if (id != NULL)
		*id = rc == 0 ? got : 0;
	return rc;
}

static void read_system(const PGresult *q, int r, struct store_system *y)
{
	memset(y, 0, sizeof(*y));
	y->id = (uint64_t)pg_int(q, r, 0);
	pg_text(y->unit, sizeof(y->unit), q, r, 1);
	pg_text(y->name, sizeof(y->name), q, r, 2);
	pg_text(y->kind, sizeof(y->kind), q, r, 3);
	y->level = (int)pg_int(q, r, 4);
	pg_text(y->dossier, sizeof(y->dossier), q, r, 5);
	pg_text(y->authority, sizeof(y->authority), q, r, 6);
	pg_text(y->decision_no, sizeof(y->decision_no), q, r, 7);
	pg_text(y->decision_date, sizeof(y->decision_date), q, r, 8);
	pg_text(y->review_due, sizeof(y->review_due), q, r, 9);
	pg_text(y->hosts, sizeof(y->hosts), q, r, 10);
}

static int system_one(void *arg, const PGresult *q, int r)
{
	read_system(q, r, arg);
	return 1;
}

int pg_system_set(struct store *st, const struct store_system *y)
{
	struct pg_store *s = pg_impl(st);
	struct store_system old;
	struct pg_args k = {0}, a = {0};
	long long rows = 0;
	pg_arg_int(&k, (long long)y->id);
	system_args(&a, y);
	pg_arg_int(&a, store_now_us());
	pg_arg_int(&a, (long long)y->id);
	PG_ENTER(s);
	int rc = register_begin(&s->admin);
	if (rc == 0)
		rc = pg_run(&s->admin, SYSTEM_SELECT " WHERE id = $1", &k,
			    system_one, &old, &rows);
	if (rc == 0 && rows == 0)
		rc = -ENOENT;
	if (rc == 0)
		rc = pg_run(&s->admin,
			    "UPDATE systems SET unit = $1, name = $2, kind = $3,"
			    " level = $4, dossier = $5, authority = $6,"
			    " decision_no = $7, decision_date = $8,"
			    " review_due = $9, hosts = $10, updated = $11"
			    " WHERE id = $12",
			    &a, NULL, NULL, NULL);
	/* Both units: a system may move from one to the other. */
	if (rc == 0)
		rc = level_sync(&s->admin, y->unit);
	if (rc == 0 && strcmp(old.unit, y->unit) != 0)
		rc = level_sync(&s->admin, old.unit);
	rc = pg_end(&s->admin, rc);
	pg_leave(s);
	return rc;
}

int pg_system_get(struct store *st, uint64_t id, struct store_system *out)
{
	struct pg_args a = {0};
	long long rows;
	pg_arg_int(&a, (long long)id);
	int rc = RUN(st, SYSTEM_SELECT " WHERE id = $1", &a, system_one, out,
		     &rows);
	return found(rc, rows);
}

struct system_cb {
	void (*cb)(void *, const struct store_system *);
	void *arg;
};

static int system_row(void *arg, const PGresult *q, int r)
{
	struct system_cb *c = arg;
	struct store_system y;
	read_system(q, r, &y);
	c->cb(c->arg, &y);
	return 0;
}

int pg_system_list(struct store *st, const char *unit,
		   void (*cb)(void *, const struct store_system *), void *arg)
{
	struct system_cb c = {cb, arg};
	struct pg_args a = {0};
	pg_arg_text(&a, unit);
	return RUN(st,
		   SYSTEM_SELECT " WHERE $1::text IS NULL OR unit = $1"
		   " ORDER BY unit COLLATE \"C\", name COLLATE \"C\"",
		   &a, system_row, &c, NULL);
}
