#include "agent/scan/scancache.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "common/alloc.h"
#include "common/log.h"

#define BATCH 512

struct scancache {
	sqlite3 *db;
	sqlite3_stmt *get, *put;
	int pending; /* puts in the open transaction */
};

static const char schema[] =
	"PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	"CREATE TABLE IF NOT EXISTS verdicts ("
	" dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,"
	" mtime INTEGER NOT NULL, ctime INTEGER NOT NULL,"
	" rules TEXT NOT NULL, sha256 TEXT, matches BLOB,"
	" PRIMARY KEY (dev, ino)) WITHOUT ROWID;";

int scancache_open(const char *path, struct scancache **out, char *err,
		   size_t errlen)
{
	struct scancache *sc = alloc_zeroed(1, sizeof(*sc));
	if (sc == NULL)
		return -ENOMEM;
	int rc = sqlite3_open_v2(path, &sc->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
					 SQLITE_OPEN_NOMUTEX,
				 NULL);
	if (rc == SQLITE_OK)
		sqlite3_busy_timeout(sc->db, 5000);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(sc->db, schema, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
			sc->db,
			"SELECT size, mtime, ctime, rules, sha256, matches "
			"FROM verdicts "
			"WHERE dev = ? AND ino = ?",
			-1, &sc->get, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(sc->db,
					"INSERT OR REPLACE INTO verdicts VALUES "
					"(?, ?, ?, ?, ?, ?, ?, ?)",
					-1, &sc->put, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "scan cache %s: %s", path,
			 sc->db ? sqlite3_errmsg(sc->db) : "cannot open");
		scancache_close(sc);
		return -EIO;
	}
	*out = sc;
	return 0;
}

void scancache_close(struct scancache *sc)
{
	if (sc == NULL)
		return;
	/* Closing: unsaved verdicts only cost a rescan next time. */
	EW_IGNORE(scancache_flush(sc));
	sqlite3_finalize(sc->get);
	sqlite3_finalize(sc->put);
	sqlite3_close(sc->db);
	alloc_free(sc);
}

bool scancache_hit(struct scancache *sc, const struct scancache_key *k,
		   const char *rules_version, struct scancache_verdict *out)
{
	sqlite3_reset(sc->get);
	sqlite3_bind_int64(sc->get, 1, (sqlite3_int64)k->dev);
	sqlite3_bind_int64(sc->get, 2, (sqlite3_int64)k->ino);
	bool hit = false;
	if (sqlite3_step(sc->get) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(sc->get, 3);
		hit = (uint64_t)sqlite3_column_int64(sc->get, 0) == k->size &&
		      sqlite3_column_int64(sc->get, 1) == k->mtime_ns &&
		      sqlite3_column_int64(sc->get, 2) == k->ctime_ns && v &&
		      strcmp(v, rules_version) == 0;
		const char *sha = (const char *)sqlite3_column_text(sc->get, 4);
		const void *blob = sqlite3_column_blob(sc->get, 5);
		int blen = sqlite3_column_bytes(sc->get, 5);
		if (hit && out) {
			memset(out, 0, sizeof(*out));
			out->matched = sha != NULL && blob != NULL && blen > 0;
			if (out->matched) {
				snprintf(out->sha256, sizeof(out->sha256), "%s", sha);
				out->matches = alloc_bytes((size_t)blen);
				if (out->matches == NULL)
					hit = false; /* rescan rather than lose it */
				else
					memcpy(out->matches, blob, (size_t)blen);
				out->matches_len = (size_t)blen;
			}
		}
	}
	sqlite3_reset(sc->get);
	return hit;
}

int scancache_put(struct scancache *sc, const struct scancache_key *k,
		  const char *rules_version, const struct scancache_verdict *v)
{
	if (sc->pending == 0 &&
	    sqlite3_exec(sc->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_reset(sc->put);
	sqlite3_bind_int64(sc->put, 1, (sqlite3_int64)k->dev);
	sqlite3_bind_int64(sc->put, 2, (sqlite3_int64)k->ino);
	sqlite3_bind_int64(sc->put, 3, (sqlite3_int64)k->size);
	sqlite3_bind_int64(sc->put, 4, k->mtime_ns);
	sqlite3_bind_int64(sc->put, 5, k->ctime_ns);
	sqlite3_bind_text(sc->put, 6, rules_version, -1, SQLITE_STATIC);
	if (v && v->matched) {
		sqlite3_bind_text(sc->put, 7, v->sha256, -1, SQLITE_STATIC);
		sqlite3_bind_blob(sc->put, 8, v->matches, (int)v->matches_len,
				  SQLITE_STATIC);
	} else {
		sqlite3_bind_null(sc->put, 7);
		sqlite3_bind_null(sc->put, 8);
	}
	int rc = sqlite3_step(sc->put) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_reset(sc->put);
	if (++sc->pending >= BATCH)
		return scancache_flush(sc);
	return rc;
}

int scancache_flush(struct scancache *sc)
{
	if (sc->pending == 0)
		return 0;
	sc->pending = 0;
	if (sqlite3_exec(sc->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		log_warn("scancache: commit failed: %s", sqlite3_errmsg(sc->db));
		sqlite3_exec(sc->db, "ROLLBACK", NULL, NULL, NULL);
		return -EIO;
	}
	return 0;
}

long long scancache_retain(struct scancache *sc, const char *rules_version)
{
	sqlite3_stmt *st = NULL;
	int rc = scancache_flush(sc);
	if (rc != 0)
		return rc;
	if (sqlite3_prepare_v2(sc->db, "DELETE FROM verdicts WHERE rules <> ?", -1,
			       &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, rules_version, -1, SQLITE_STATIC);
	long long n = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(sc->db)
						      : -EIO;
	sqlite3_finalize(st);
	return n;
}

long long scancache_count(struct scancache *sc)
{
	sqlite3_stmt *st = NULL;
	long long n = scancache_flush(sc);
	if (n != 0)
		return n;
	n = -EIO;
	if (sqlite3_prepare_v2(sc->db, "SELECT count(*) FROM verdicts", -1, &st,
			       NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}
