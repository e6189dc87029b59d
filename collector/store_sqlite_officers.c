/* store_sqlite_officers: the console's accounts, sessions, API tokens and
 * audit log in the SQLite backend. */
#include "collector/store_sqlite.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int run(struct store *st, const char *site, enum sq_id id,
	       const struct sq_arg *args, size_t nargs, sq_row_fn row,
	       void *arg, struct sq_done *done)
{
	struct sqlite_store *s = sqlite_impl(st);
	struct sq_hold h;
	sq_admin_enter(s, &h, site);
	int rc = sq_run(&s->admin, id, args, nargs, row, arg, done);
	if (rc == -EIO && (s->admin.last_code & 0xff) == SQLITE_CONSTRAINT)
		rc = -EEXIST;
	sq_admin_leave(s, &h);
	return rc;
}

#define RUN(st, id, ...) run((st), __func__, (id), __VA_ARGS__)

int sqlite_user_add(struct store *st, const struct store_user *u)
{
	return RUN(st, SQ_USER_ADD,
		   SQ_ARGS(SQ_TEXT(u->name), SQ_TEXT(u->pwhash),
			   SQ_TEXT(u->role), SQ_TEXT(u->scope),
			   SQ_INT(u->disabled), SQ_TEXT(u->totp),
			   SQ_TEXT(u->lang[0] ? u->lang : "vi"),
			   SQ_INT(store_now_us())),
		   NULL, NULL, NULL);
}

int sqlite_user_update(struct store *st, const struct store_user *u)
{
	struct sq_done done;
	int rc = RUN(st, SQ_USER_UPDATE,
		     SQ_ARGS(SQ_TEXT(u->name), SQ_TEXT(u->pwhash),
			     SQ_TEXT(u->role), SQ_TEXT(u->scope),
			     SQ_INT(u->disabled), SQ_TEXT(u->totp),
			     SQ_TEXT(u->lang[0] ? u->lang : "vi"),
			     SQ_INT(u->failed), SQ_INT(u->locked)),
		     NULL, NULL, &done);
	return rc != 0 ? rc : done.changes > 0 ? 0 : -ENOENT;
}

struct user_cb {
	void (*cb)(void *, const struct store_user *);
	void *arg;
};

static int user_row(void *arg, sqlite3_stmt *q)
{
	struct user_cb *c = arg;
	struct store_user u;
	memset(&u, 0, sizeof(u));
	sq_copy_text(u.name, sizeof(u.name), q, 0);
	sq_copy_text(u.pwhash, sizeof(u.pwhash), q, 1);
	sq_copy_text(u.role, sizeof(u.role), q, 2);
	sq_copy_text(u.scope, sizeof(u.scope), q, 3);
	u.disabled = sqlite3_column_int(q, 4) != 0;
	u.failed = sqlite3_column_int(q, 5);
	u.locked = sqlite3_column_int(q, 6) != 0;
	sq_copy_text(u.totp, sizeof(u.totp), q, 7);
	sq_copy_text(u.lang, sizeof(u.lang), q, 8);
	u.created_us = sqlite3_column_int64(q, 9);
	c->cb(c->arg, &u);
	return 0;
}

static void copy_user(void *arg, const struct store_user *u)
{
	*(struct store_user *)arg = *u;
}

int sqlite_user_get(struct store *st, const char *name,
		    struct store_user *out)
{
	struct user_cb c = {copy_user, out};
	struct sq_done done;
	int rc = RUN(st, SQ_USER_GET, SQ_ARGS(SQ_TEXT(name)), user_row, &c,
		     &done);
	return rc != 0 ? rc : done.rows > 0 ? 0 : -ENOENT;
}

int sqlite_user_list(struct store *st,
		     void (*cb)(void *, const struct store_user *), void *arg)
{
	struct user_cb c = {cb, arg};
	return RUN(st, SQ_USER_LIST, SQ_NO_ARGS, user_row, &c, NULL);
}

static int read_flag(void *arg, sqlite3_stmt *q)
{
	*(bool *)arg = sqlite3_column_int(q, 0) != 0;
	return 0;
}

int sqlite_user_login_failed(struct store *st, const char *name,
			     int max_failed, bool *locked)
{
	*locked = false;
	return RUN(st, SQ_USER_FAILED, SQ_ARGS(SQ_TEXT(name), SQ_INT(max_failed)),
		   read_flag, locked, NULL);
}

int sqlite_user_login_ok(struct store *st, const char *name)
{
	return RUN(st, SQ_USER_OK, SQ_ARGS(SQ_TEXT(name)), NULL, NULL, NULL);
}

int sqlite_session_add(struct store *st, const unsigned char hash[32],
		       const char *user, int64_t now_us, const char *address)
{
	return RUN(st, SQ_SESSION_ADD,
		   SQ_ARGS(SQ_BLOB(hash, 32), SQ_TEXT(user), SQ_INT(now_us),
			   SQ_TEXT(address)),
		   NULL, NULL, NULL);
}

struct session_out {
	char *user;
	int64_t *created, *last;
};

static int session_row(void *arg, sqlite3_stmt *q)
{
	struct session_out *o = arg;
	sq_copy_text(o->user, STORE_USER_MAX + 1, q, 0);
	*o->created = sqlite3_column_int64(q, 1);
	*o->last = sqlite3_column_int64(q, 2);
	return 1;
}

int sqlite_session_get(struct store *st, const unsigned char hash[32],
		       char *user, int64_t *created_us, int64_t *last_us)
{
	struct session_out o = {user, created_us, last_us};
	struct sq_done done;
	int rc = RUN(st, SQ_SESSION_GET, SQ_ARGS(SQ_BLOB(hash, 32)),
		     session_row, &o, &done);
	return rc != 0 ? rc : done.rows > 0 ? 0 : -ENOENT;
}

int sqlite_session_touch(struct store *st, const unsigned char hash[32],
			 int64_t now_us)
{
	return RUN(st, SQ_SESSION_TOUCH,
		   SQ_ARGS(SQ_BLOB(hash, 32), SQ_INT(now_us)), NULL, NULL,
		   NULL);
}

int sqlite_session_delete(struct store *st, const unsigned char hash[32])
{
	return RUN(st, SQ_SESSION_DELETE, SQ_ARGS(SQ_BLOB(hash, 32)), NULL,
		   NULL, NULL);
}

int sqlite_session_delete_user(struct store *st, const char *user)
{
	return RUN(st, SQ_SESSION_DELETE_USER, SQ_ARGS(SQ_TEXT(user)), NULL,
		   NULL, NULL);
}

int sqlite_api_token_add(struct store *st, const unsigned char hash[32],
			 const char *label, const char *user, int64_t now_us)
{
	return RUN(st, SQ_API_TOKEN_ADD,
		   SQ_ARGS(SQ_BLOB(hash, 32), SQ_TEXT(label), SQ_TEXT(user),
			   SQ_INT(now_us)),
		   NULL, NULL, NULL);
}

static int token_user_row(void *arg, sqlite3_stmt *q)
{
	sq_copy_text(arg, STORE_USER_MAX + 1, q, 0);
	return 1;
}

int sqlite_api_token_user(struct store *st, const unsigned char hash[32],
			  char *user)
{
	struct sq_done done;
	int rc = RUN(st, SQ_API_TOKEN_USER, SQ_ARGS(SQ_BLOB(hash, 32)),
		     token_user_row, user, &done);
	return rc != 0 ? rc : done.rows > 0 ? 0 : -ENOENT;
}

int sqlite_audit_add(struct store *st, const struct store_audit *a)
{
	return RUN(st, SQ_AUDIT_ADD,
		   SQ_ARGS(SQ_INT(a->at_us ? a->at_us : store_now_us()),
			   SQ_TEXT(a->actor), SQ_TEXT(a->action),
			   SQ_TEXT(a->object), SQ_TEXT(a->address),
			   SQ_TEXT(a->detail)),
		   NULL, NULL, NULL);
}

struct audit_cb {
	void (*cb)(void *, const struct store_audit *);
	void *arg;
};

static int audit_row(void *arg, sqlite3_stmt *q)
{
	struct audit_cb *c = arg;
	struct store_audit a;
	a.id = (uint64_t)sqlite3_column_int64(q, 0);
	a.at_us = sqlite3_column_int64(q, 1);
	sq_copy_text(a.actor, sizeof(a.actor), q, 2);
	sq_copy_text(a.action, sizeof(a.action), q, 3);
	sq_copy_text(a.object, sizeof(a.object), q, 4);
	sq_copy_text(a.address, sizeof(a.address), q, 5);
	sq_copy_text(a.detail, sizeof(a.detail), q, 6);
	c->cb(c->arg, &a);
	return 0;
}

int sqlite_audit_list(struct store *st, uint64_t before_id, int limit,
		      void (*cb)(void *, const struct store_audit *),
		      void *arg)
{
	struct audit_cb c = {cb, arg};
	return RUN(st, SQ_AUDIT_LIST, SQ_ARGS(SQ_INT(before_id), SQ_INT(limit)),
		   audit_row, &c, NULL);
}
