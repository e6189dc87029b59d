/* pg_ceiling: PostgreSQL's own insert ceiling, which collector ingest into
 * a postgresql: store is measured against. The same database and schema
 * (the collector's own migrations and partitions: run it on the database
 * the collector just filled, whose events it empties first), the same
 * rows as sqlite_ceiling (tests/support/eventmix, agents interleaved as
 * they arrive in life), the same two tables the store writes (event_keys
 * for exactly-once, the month's events partition), with COPY, the
 * server's fastest path, in one transaction per batch. No TLS to the
 * agents, no framing, no validation, no host state, no alerts: what is
 * left is the server, its WAL and the unique index.
 *
 * usage: pg_ceiling --url postgresql://... --agents N --events M
 *                   [--batch 5000]
 * prints: rows=R seconds=S rows_per_sec=X */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "collector/store.h"
#include "common/dynbuf.h"
#include "tests/support/eventmix.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run(PGconn *db, const char *sql)
{
	PGresult *r = PQexec(db, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
		 PQresultStatus(r) == PGRES_COPY_IN;
	if (!ok)
		fprintf(stderr, "pg_ceiling: %s: %s", sql, PQerrorMessage(db));
	PQclear(r);
	return ok ? 0 : -1;
}

/* One COPY of the text in buf into the table and columns of sql. */
static int copy(PGconn *db, const char *sql, const char *buf, size_t len)
{
	if (run(db, sql) != 0 || PQputCopyData(db, buf, (int)len) != 1 ||
	    PQputCopyEnd(db, NULL) != 1)
		return -1;
	PGresult *r = PQgetResult(db);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "pg_ceiling: COPY: %s", PQerrorMessage(db));
	PQclear(r);
	while ((r = PQgetResult(db)) != NULL)
		PQclear(r);
	return ok ? 0 : -1;
}

static int flush(PGconn *db, struct dynbuf *keys, struct dynbuf *rows)
{
	int rc = run(db, "BEGIN");
	if (rc == 0)
		rc = copy(db, "COPY event_keys(agent, boot, seq, received) FROM STDIN",
			  keys->data, keys->len);
	if (rc == 0)
		rc = copy(db, "COPY events(agent, boot, seq, ts, received, kind,"
			  " sev, drill, body) FROM STDIN", rows->data, rows->len);
	if (rc == 0)
		rc = run(db, "COMMIT");
	dynbuf_reset(keys);
	dynbuf_reset(rows);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"url", required_argument, NULL, 'u'},
		{"agents", required_argument, NULL, 'n'},
		{"events", required_argument, NULL, 'm'},
		{"batch", required_argument, NULL, 'b'},
		{NULL, 0, NULL, 0},
	};
	const char *url = NULL;
	int nagents = 1000, events = 100, batch = 5000, ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'u': url = optarg; break;
		case 'n': nagents = (int)strtol(optarg, NULL, 10); break;
		case 'm': events = (int)strtol(optarg, NULL, 10); break;
		case 'b': batch = (int)strtol(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (url == NULL || nagents < 1 || events < 1 || batch < 1) {
		fprintf(stderr, "usage: pg_ceiling --url postgresql://... "
				"--agents N --events M [--batch 5000]\n");
		return 2;
	}
	PGconn *db = PQconnectdb(url);
	if (PQstatus(db) != CONNECTION_OK) {
		fprintf(stderr, "pg_ceiling: %s", PQerrorMessage(db));
		return 1;
	}
	
	/* As the collector's writer runs: commits wait for the WAL. */
	if (run(db, "SET synchronous_commit = on") != 0 ||
	    run(db, "TRUNCATE events, event_keys") != 0)
		return 1;
	struct dynbuf keys, rows;
	dynbuf_init(&keys, 0);
	dynbuf_init(&rows, 0);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	char agent[64], line[512];
	long long n = 0;
	double start = now_s();
	for (int seq = 1; seq <= events; seq++) {
		for (int a = 0; a < nagents; a++) {
			snprintf(agent, sizeof(agent), "79%03d-%016x", a % 1000,
				 (unsigned)a * 2654435761u);
			long long boot = (long long)a * 7919 + 1;
			long long received = (long long)store_now_us();
			int len = snprintf(line, sizeof(line), "%s\t%lld\t%d\t%lld\n",
					   agent, boot, seq, received);
			dynbuf_add(&keys, line, (size_t)len);
			sb.size = 0;
			eventmix_pack_body(&pk, (uint64_t)seq);
			len = snprintf(line, sizeof(line),
				       "%s\t%lld\t%d\t%llu\t%lld\t%s\t%d\t0\t\\\\x",
				       agent, boot, seq,
				       (unsigned long long)eventmix_timestamp(seq),
				       received, eventmix_kind(seq),
				       eventmix_severity(seq));
			dynbuf_add(&rows, line, (size_t)len);
			for (size_t i = 0; i < sb.size; i++)
				dynbuf_addf(&rows, "%02x",
					    (unsigned char)sb.data[i]);
			dynbuf_add(&rows, "\n", 1);
			if (keys.failed || rows.failed) {
				fprintf(stderr, "pg_ceiling: out of memory\n");
				return 1;
			}
			if (++n % batch == 0 && flush(db, &keys, &rows) != 0)
				return 1;
		}
	}
	if (keys.len > 0 && flush(db, &keys, &rows) != 0)
		return 1;
	double seconds = now_s() - start;
	printf("rows=%lld seconds=%.3f rows_per_sec=%.0f\n", n, seconds,
	       n / seconds);
	msgpack_sbuffer_destroy(&sb);
	dynbuf_free(&keys);
	dynbuf_free(&rows);
	PQfinish(db);
	return 0;
}
