/* sqlite_ceiling: the raw SQLite insert ceiling that collector ingest is
 * measured against. Same database schema (created by the collector's own
 * store migrations), same rows (tests/support/eventmix), same page cache
 * and synchronous setting, one prepared INSERT, batches of 1,000 rows per
 * transaction, rows from all agents interleaved as they arrive in life.
 * No TLS, no framing, no validation: what is left is the disk and the
 * UNIQUE(agent, boot, seq) index.
 *
 * usage: sqlite_ceiling --db FILE --agents N --events M
 *                       [--sync full|normal] [--cache-mb 64] [--batch 1000]
 * prints: rows=R seconds=S rows_per_sec=X */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "collector/store.h"
#include "tests/support/eventmix.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'},
		{"agents", required_argument, NULL, 'n'},
		{"events", required_argument, NULL, 'm'},
		{"sync", required_argument, NULL, 's'},
		{"cache-mb", required_argument, NULL, 'c'},
		{"batch", required_argument, NULL, 'b'},
		{NULL, 0, NULL, 0},
	};
	const char *db_path = NULL, *sync = "full";
	int nagents = 1000, events = 100, cache_mb = 64, batch = 1000, ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': db_path = optarg; break;
		case 'n': nagents = (int)strtol(optarg, NULL, 10); break;
		case 'm': events = (int)strtol(optarg, NULL, 10); break;
		case 's': sync = optarg; break;
		case 'c': cache_mb = (int)strtol(optarg, NULL, 10); break;
		case 'b': batch = (int)strtol(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (db_path == NULL || nagents < 1 || events < 1 || batch < 1) {
		fprintf(stderr, "usage: sqlite_ceiling --db FILE --agents N "
				"--events M\n");
		return 2;
	}
	unlink(db_path);
	/* The collector's own migrations make the schema. */
	struct store_options so = {.url = db_path, .cache_bytes = 1 << 20};
	struct store *st;
	char err[256], url_copy[1024];
	snprintf(url_copy, sizeof(url_copy), "%s", db_path);
	so.url = url_copy;
	if (store_open(&so, NULL, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "sqlite_ceiling: %s\n", err);
		return 1;
	}
	store_close(st);

	sqlite3 *db;
	sqlite3_stmt *ins;
	char pragmas[200];
	sqlite3_open(db_path, &db);
	snprintf(pragmas, sizeof(pragmas),
		 "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;"
		 "PRAGMA cache_size=-%d;",
		 strcmp(sync, "normal") == 0 ? "NORMAL" : "FULL", cache_mb * 1024);
	sqlite3_exec(db, pragmas, NULL, NULL, NULL);
	sqlite3_prepare_v2(db,
			   "INSERT OR IGNORE INTO events(agent, boot, seq, ts,"
			   " received, kind, sev, drill, body)"
			   " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
			   -1, &ins, NULL);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	char agent[64];
	long long rows = 0;
	double start = now_s();
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (int seq = 1; seq <= events; seq++) {
		for (int a = 0; a < nagents; a++) {
			snprintf(agent, sizeof(agent), "79%03d-%016x", a % 1000,
				 (unsigned)a * 2654435761u);
			sb.size = 0;
			eventmix_pack_body(&pk, (uint64_t)seq);
			sqlite3_bind_text(ins, 1, agent, -1, SQLITE_STATIC);
			sqlite3_bind_int64(ins, 2, (sqlite3_int64)a * 7919 + 1);
			sqlite3_bind_int64(ins, 3, seq);
			sqlite3_bind_int64(ins, 4, (sqlite3_int64)eventmix_timestamp(seq));
			sqlite3_bind_int64(ins, 5, store_now_us());
			sqlite3_bind_text(ins, 6, eventmix_kind(seq), -1, SQLITE_STATIC);
			sqlite3_bind_int(ins, 7, eventmix_severity(seq));
			sqlite3_bind_int(ins, 8, 0);
			sqlite3_bind_blob(ins, 9, sb.data, (int)sb.size, SQLITE_STATIC);
			if (sqlite3_step(ins) != SQLITE_DONE) {
				fprintf(stderr, "sqlite_ceiling: %s\n",
					sqlite3_errmsg(db));
				return 1;
			}
			sqlite3_reset(ins);
			if (++rows % batch == 0) {
				sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
				sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
			}
		}
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	double seconds = now_s() - start;
	printf("rows=%lld seconds=%.3f rows_per_sec=%.0f\n", rows, seconds,
	       rows / seconds);
	msgpack_sbuffer_destroy(&sb);
	sqlite3_finalize(ins);
	sqlite3_close(db);
	return 0;
}
