#include "agent/core/spool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/log.h"

struct spool {
	sqlite3 *db;
	sqlite3_stmt *insert, *read, *ack, *drop, *size, *meta_get, *meta_set;
	sqlite3_stmt *acked_size;
	long long max_bytes;
	/* Kept up to date on every change, so stats never scan the table. */
	long long bytes; /* body bytes plus ROW_OVERHEAD per row */
	long long depth;
	uint64_t last_seq;
	uint64_t last_acked;
	long long dropped;
	time_t last_drop_log;
	char path[1024];
};

/* Per-row overhead beyond the body, for the size estimate. */
#define ROW_OVERHEAD 64

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS events("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT, boot INTEGER NOT NULL,"
	"  ts INTEGER NOT NULL, kind TEXT NOT NULL, sev INTEGER NOT NULL,"
	"  drill INTEGER NOT NULL, body BLOB);"
	"CREATE INDEX IF NOT EXISTS events_sev ON events(sev, seq);"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER);";

static int prepare_all(struct spool *sp)
{
	struct {
		sqlite3_stmt **st;
		const char *sql;
	} stmts[] = {
		{&sp->insert, "INSERT INTO events(boot, ts, kind, sev, drill, body)"
			      " VALUES(?1,?2,?3,?4,?5,?6)"},
		{&sp->read, "SELECT seq, boot, ts, kind, sev, drill, body FROM"
			    " events WHERE seq > ?1 ORDER BY seq LIMIT ?2"},
		{&sp->ack, "DELETE FROM events WHERE seq <= ?1"},
		/* The oldest event of the lowest severity present. */
		{&sp->drop, "DELETE FROM events WHERE seq = (SELECT seq FROM"
			    " events ORDER BY sev, seq LIMIT 1)"
			    " RETURNING length(body)"},
		{&sp->size, "SELECT count(*), coalesce(sum(length(body)), 0) FROM"
			    " events"},
		{&sp->meta_get, "SELECT value FROM meta WHERE key = ?1"},
		{&sp->meta_set, "INSERT INTO meta(key, value) VALUES(?1, ?2)"
				" ON CONFLICT(key) DO UPDATE SET value = ?2"},
		/* A primary-key range: costs what is acked, not the spool. */
		{&sp->acked_size, "SELECT count(*), coalesce(sum(length(body)), 0)"
				  " FROM events WHERE seq <= ?1"},
	};
	/* Returns SQLite's code: out of memory is not "not a spool". */
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		int rc = sqlite3_prepare_v3(sp->db, stmts[i].sql, -1,
					    SQLITE_PREPARE_PERSISTENT,
					    stmts[i].st, NULL);
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

static void finalize_all(struct spool *sp)
{
	sqlite3_stmt **all[] = {&sp->insert,   &sp->read,     &sp->ack,
				&sp->drop,     &sp->size,     &sp->meta_get,
				&sp->meta_set, &sp->acked_size};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		sqlite3_finalize(*all[i]);
		*all[i] = NULL;
	}
}

/* 0 with *out (0 when the key is absent), or a negative errno. */
static int meta_read(struct spool *sp, const char *key, long long *out)
{
	*out = 0;
	int rc = sqlite3_bind_text(sp->meta_get, 1, key, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(sp->meta_get);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(sp->meta_get, 0);
	sqlite3_reset(sp->meta_get);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return 0;
	return rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
}

static long long meta_get(struct spool *sp, const char *key)
{
	long long v;
	EW_IGNORE(meta_read(sp, key, &v)); /* 0 when unreadable */
	return v;
}

static int meta_set(struct spool *sp, const char *key, long long value)
{
	sqlite3_bind_text(sp->meta_set, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(sp->meta_set, 2, value);
	int rc = sqlite3_step(sp->meta_set);
	sqlite3_reset(sp->meta_set);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* Opens and checks the file. -EBADMSG means corrupt, or not a spool:
 * only what SQLite reports as such, never a lack of memory, which would
 * move a sound spool and its unsent events aside. */
static int try_open(struct spool *sp, char *err, size_t errlen)
{
	sqlite3_stmt *check = NULL;
	const char *verdict;
	int rc = sqlite3_open_v2(sp->path, &sp->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
					 SQLITE_OPEN_NOMUTEX,
				 NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(sp->db, 5000);
	/* A small cache keeps the agent's memory low; FULL sync because an
	 * event must survive a power cut once it is in the spool. */
	rc = sqlite3_exec(sp->db,
			  "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			  "PRAGMA cache_size=-256; PRAGMA auto_vacuum=INCREMENTAL;",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	rc = sqlite3_prepare_v2(sp->db, "PRAGMA quick_check", -1, &check, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(check);
	if (rc != SQLITE_ROW)
		goto fail;
	verdict = (const char *)sqlite3_column_text(check, 0);
	if (verdict == NULL) {
		rc = sqlite3_errcode(sp->db) == SQLITE_NOMEM ? SQLITE_NOMEM
							     : SQLITE_CORRUPT;
		goto fail;
	}
	if (strcmp(verdict, "ok") != 0) {
		rc = SQLITE_CORRUPT;
		goto fail;
	}
	sqlite3_finalize(check);
	check = NULL;
	rc = sqlite3_exec(sp->db, schema, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = prepare_all(sp);
	/* A database of other tables is not a spool. */
	if (rc != SQLITE_OK && rc != SQLITE_NOMEM)
		rc = SQLITE_CORRUPT;
	if (rc != SQLITE_OK)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", sp->path,
		 sp->db ? sqlite3_errmsg(sp->db) : sqlite3_errstr(rc));
	if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB)
		snprintf(err, errlen, "%s: the file is corrupt or not a spool",
			 sp->path);
	sqlite3_finalize(check);
	finalize_all(sp);
	sqlite3_close(sp->db);
	sp->db = NULL;
	rc &= 0xff;
	if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB)
		return -EBADMSG;
	return rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
}

static void move_aside(const char *path, char *moved_to, size_t cap)
{
	char from[1100];
	snprintf(moved_to, cap, "%s.corrupt-%ld", path, (long)time(NULL));
	rename(path, moved_to);
	/* The WAL and shared-memory files belong to the bad database. */
	snprintf(from, sizeof(from), "%s-wal", path);
	unlink(from);
	snprintf(from, sizeof(from), "%s-shm", path);
	unlink(from);
}

/* Counts from the table: at open, and after a rolled-back append whose
 * drops had already been subtracted. */
static int recount(struct spool *sp)
{
	sqlite3_stmt *q = sp->size;
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		sp->depth = sqlite3_column_int64(q, 0);
		sp->bytes = sqlite3_column_int64(q, 1) + sp->depth * ROW_OVERHEAD;
	}
	sqlite3_reset(q);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
}

/* What spool_open reads after the checks: counts, the last seq, the
 * last ack and the drop count. A spool opened with any of them unread
 * would misreport or resend, so any failure fails the open. */
static int load_state(struct spool *sp)
{
	sqlite3_stmt *seq = NULL;
	long long acked;
	int rc = recount(sp);
	if (rc != 0)
		return rc;
	int src = sqlite3_prepare_v2(sp->db,
				     "SELECT seq FROM sqlite_sequence WHERE "
				     "name = 'events'",
				     -1, &seq, NULL);
	if (src == SQLITE_OK)
		src = sqlite3_step(seq);
	if (src == SQLITE_ROW)
		sp->last_seq = (uint64_t)sqlite3_column_int64(seq, 0);
	sqlite3_finalize(seq);
	/* A new spool has no sqlite_sequence table until its first event. */
	if (src != SQLITE_ROW && src != SQLITE_DONE && src != SQLITE_ERROR)
		return src == SQLITE_NOMEM ? -ENOMEM : -EIO;
	if ((rc = meta_read(sp, "last_acked", &acked)) != 0 ||
	    (rc = meta_read(sp, "dropped", &sp->dropped)) != 0)
		return rc;
	sp->last_acked = (uint64_t)acked;
	return 0;
}

int spool_open(const char *path, long long max_bytes, struct spool **out,
	       struct spool_open_info *info, char *err, size_t errlen)
{
	struct spool *sp = alloc_zeroed(1, sizeof(*sp));
	*out = NULL;
	memset(info, 0, sizeof(*info));
	if (sp == NULL)
		return -ENOMEM;
	snprintf(sp->path, sizeof(sp->path), "%s", path);
	sp->max_bytes = max_bytes;
	int rc = try_open(sp, err, errlen);
	if (rc == -EBADMSG) {
		move_aside(path, info->moved_to, sizeof(info->moved_to));
		log_err("spool: %s; moved it to %s and started a new spool. "
			"Events in it that were not yet sent are lost and "
			"will be reported.", err, info->moved_to);
		info->recovered_corrupt = true;
		rc = try_open(sp, err, errlen);
	}
	if (rc != 0) {
		alloc_free(sp);
		return rc;
	}
	if ((rc = load_state(sp)) != 0) {
		snprintf(err, errlen, "%s: cannot read the spool's state: %s",
			 path, uv_strerror(rc));
		finalize_all(sp);
		sqlite3_close(sp->db);
		alloc_free(sp);
		return rc;
	}
	*out = sp;
	return 0;
}

void spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	finalize_all(sp);
	sqlite3_close(sp->db);
	alloc_free(sp);
}

/* Drops the least important events until a new one of `need` bytes fits. */
static int make_room(struct spool *sp, long long need)
{
	long long dropped = 0;
	while (sp->bytes + need > sp->max_bytes) {
		int rc = sqlite3_step(sp->drop);
		if (rc != SQLITE_ROW) {
			sqlite3_reset(sp->drop);
			break; /* empty */
		}
		sp->bytes -= sqlite3_column_int64(sp->drop, 0) + ROW_OVERHEAD;
		sp->depth--;
		sqlite3_step(sp->drop);
		sqlite3_reset(sp->drop);
		dropped++;
	}
	if (dropped > 0) {
		sp->dropped += dropped;
		meta_set(sp, "dropped", sp->dropped);
		/* Under a long outage this happens per event: say it once a
		 * minute, with the running total. */
		time_t now = time(NULL);
		if (now - sp->last_drop_log >= 60) {
			sp->last_drop_log = now;
			log_warn("spool: full (%lld bytes cap): %lld oldest "
				 "low-severity events dropped so far",
				 sp->max_bytes, sp->dropped);
		}
	}
	return 0;
}

int spool_append(struct spool *sp, struct event *ev)
{
	long long need = (long long)ev->body_len + ROW_OVERHEAD;
	int rc = sqlite3_exec(sp->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return -EIO;
	make_room(sp, need);
	sqlite3_stmt *q = sp->insert;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)ev->boot);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)ev->ts);
	sqlite3_bind_text(q, 3, ev->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 4, ev->sev);
	sqlite3_bind_int(q, 5, ev->drill);
	if (ev->body_len > 0)
		sqlite3_bind_blob(q, 6, ev->body, (int)ev->body_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 6);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		log_err("spool: cannot store a %s event: %s", ev->kind,
			sqlite3_errmsg(sp->db));
		sqlite3_exec(sp->db, "ROLLBACK", NULL, NULL, NULL);
		recount(sp);
		return rc == SQLITE_FULL ? -ENOSPC : -EIO;
	}
	ev->seq = (uint64_t)sqlite3_last_insert_rowid(sp->db);
	if (sqlite3_exec(sp->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_exec(sp->db, "ROLLBACK", NULL, NULL, NULL);
		recount(sp);
		return -EIO;
	}
	sp->bytes += need;
	sp->depth++;
	sp->last_seq = ev->seq;
	return 0;
}

int spool_read(struct spool *sp, uint64_t after, int max,
	       void (*cb)(void *arg, const struct event *ev), void *arg)
{
	sqlite3_stmt *q = sp->read;
	int n = 0, rc;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)after);
	sqlite3_bind_int(q, 2, max);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct event ev = {.v = EVENT_VERSION};
		ev.seq = (uint64_t)sqlite3_column_int64(q, 0);
		ev.boot = (uint64_t)sqlite3_column_int64(q, 1);
		ev.ts = (uint64_t)sqlite3_column_int64(q, 2);
		snprintf(ev.kind, sizeof(ev.kind), "%s",
			 (const char *)sqlite3_column_text(q, 3));
		ev.sev = (uint8_t)sqlite3_column_int(q, 4);
		ev.drill = sqlite3_column_int(q, 5) != 0;
		/* Borrowed: valid until the next step. */
		ev.body = (char *)sqlite3_column_blob(q, 6);
		ev.body_len = (size_t)sqlite3_column_bytes(q, 6);
		cb(arg, &ev);
		n++;
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? n : -EIO;
}

int spool_ack(struct spool *sp, uint64_t upto)
{
	if (upto <= sp->last_acked)
		return 0;
	long long freed = 0, rows = 0;
	int rc = sqlite3_exec(sp->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(sp->acked_size, 1, (sqlite3_int64)upto);
		if (sqlite3_step(sp->acked_size) == SQLITE_ROW) {
			rows = sqlite3_column_int64(sp->acked_size, 0);
			freed = sqlite3_column_int64(sp->acked_size, 1) +
				rows * ROW_OVERHEAD;
		}
		sqlite3_reset(sp->acked_size);
		sqlite3_bind_int64(sp->ack, 1, (sqlite3_int64)upto);
		rc = sqlite3_step(sp->ack) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_reset(sp->ack);
	}
	if (rc == SQLITE_OK && meta_set(sp, "last_acked", (long long)upto) != 0)
		rc = SQLITE_ERROR;
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(sp->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_exec(sp->db, "ROLLBACK", NULL, NULL, NULL);
		return -EIO;
	}
	sp->last_acked = upto;
	sp->bytes -= freed;
	sp->depth -= rows;
	sqlite3_exec(sp->db, "PRAGMA incremental_vacuum(64)", NULL, NULL, NULL);
	return 0;
}

int spool_stats(struct spool *sp, struct spool_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->depth = sp->depth;
	out->bytes = sp->bytes;
	out->last_seq = sp->last_seq;
	out->last_acked = sp->last_acked;
	out->dropped = sp->dropped;
	return 0;
}

long long spool_dropped(const struct spool *sp)
{
	return sp->dropped;
}

void spool_clear_dropped(struct spool *sp)
{
	sp->dropped = 0;
	meta_set(sp, "dropped", 0);
}

long long spool_counter_get(struct spool *sp, const char *name)
{
	return meta_get(sp, name);
}

int spool_counter_set(struct spool *sp, const char *name, long long value)
{
	return meta_set(sp, name, value);
}
