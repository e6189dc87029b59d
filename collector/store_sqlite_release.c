/* store_sqlite_release: agent releases and their rollout in the SQLite
 * backend. */
#include "collector/store_sqlite.h"

#include <string.h>

#define RUN(st, id, ...) ADMIN_RUN(sqlite_impl(st), (id), __VA_ARGS__)

int sqlite_release_put(struct store *st, const struct store_release *r)
{
	return RUN(st, SQ_RELEASE_PUT,
		   SQ_ARGS(SQ_INT(r->id), SQ_TEXT(r->release),
			   SQ_TEXT(r->channel), SQ_INT(r->rollback),
			   SQ_TEXT(r->state), SQ_TEXT(r->why), SQ_INT(r->size),
			   SQ_INT(r->queued), SQ_INT(r->created_us),
			   SQ_INT(r->pilot_us), SQ_INT(r->stable_us),
			   SQ_INT(r->ended_us)),
		   NULL, NULL, NULL);
}

struct release_cb {
	void (*cb)(void *, const struct store_release *);
	void *arg;
};

static int release_row(void *arg, sqlite3_stmt *q)
{
	struct release_cb *c = arg;
	struct store_release r;
	memset(&r, 0, sizeof(r));
	r.id = (uint64_t)sqlite3_column_int64(q, 0);
	sq_copy_text(r.release, sizeof(r.release), q, 1);
	sq_copy_text(r.channel, sizeof(r.channel), q, 2);
	r.rollback = sqlite3_column_int64(q, 3) != 0;
	sq_copy_text(r.state, sizeof(r.state), q, 4);
	sq_copy_text(r.why, sizeof(r.why), q, 5);
	r.size = (uint64_t)sqlite3_column_int64(q, 6);
	r.queued = (uint64_t)sqlite3_column_int64(q, 7);
	r.created_us = sqlite3_column_int64(q, 8);
	r.pilot_us = sqlite3_column_int64(q, 9);
	r.stable_us = sqlite3_column_int64(q, 10);
	r.ended_us = sqlite3_column_int64(q, 11);
	c->cb(c->arg, &r);
	return 0;
}

int sqlite_release_list(struct store *st,
			void (*cb)(void *, const struct store_release *),
			void *arg)
{
	struct release_cb c = {cb, arg};
	return RUN(st, SQ_RELEASE_LIST, SQ_ARGS(), release_row, &c, NULL);
}
