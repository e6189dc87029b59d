/* store_pg_writer: the writer thread of the PostgreSQL backend. It takes
 * whole queued batches (group commit) and stores them in one transaction
 * in a handful of statements, whatever the group's size: the events as
 * arrays, each once by its (agent, boot, seq), with the host states they
 * update; the agents' last contact; the alerts they raise and their
 * forward-queue rows. Rows are locked in a sorted order, so that
 * collectors sharing the database never deadlock on each other. A group
 * the server refuses is written again batch by batch, so that only the
 * faulty batch is refused. The batch callbacks run after the COMMIT, so
 * an ack always means stored. Between batches it keeps the monthly
 * partitions ahead of the clock and applies retention. Nothing here
 * takes the admin lock. */
#include "collector/store_pg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/check.h"
#include "common/jsonout.h"
#include "common/log.h"

#define PRUNE_STEP_ROWS 5000
#define DAY_US 86400000000LL
/* Partition creation by several collectors takes turns on this advisory
 * lock ("ewparts" in ASCII). */
#define PARTITION_LOCK_KEY "31093353232822387"

/* ---- monthly partitions ------------------------------------------------- */

/* The first microsecond of the month `add` months after the one holding
 * us (UTC). */
int64_t pg_month_start_us(int64_t us, int add, int *year, int *month)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	int m = tm.tm_year * 12 + tm.tm_mon + add;
	struct tm start = {.tm_year = m / 12, .tm_mon = m % 12, .tm_mday = 1};
	if (year)
		*year = start.tm_year + 1900;
	if (month)
		*month = start.tm_mon + 1;
	return (int64_t)timegm(&start) * 1000000;
}

int pg_create_partition(struct pg_conn *w, int64_t now, int add)
{
	int year, month;
	int64_t from = pg_month_start_us(now, add, &year, &month);
	int64_t to = pg_month_start_us(now, add + 1, NULL, NULL);
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "CREATE TABLE IF NOT EXISTS events_y%04dm%02d PARTITION OF "
		 "events FOR VALUES FROM (%lld) TO (%lld)",
		 year, month, (long long)from, (long long)to);
	return pg_exec(w, sql);
}

/* The month of now and the next one exist before any event of theirs
 * comes; at open, the previous month too (a late import, a test). */
static int ensure_partitions(struct pg_store *s, int64_t now)
{
	if (now < s->partition_until_us - DAY_US)
		return 0;
	bool first = s->partition_until_us == 0;
	int rc = pg_exec(&s->writer, "BEGIN; SELECT pg_advisory_xact_lock("
				     PARTITION_LOCK_KEY ")");
	for (int add = first ? -1 : 0; rc == 0 && add <= 1; add++)
		rc = pg_create_partition(&s->writer, now, add);
	rc = pg_end(&s->writer, rc);
	if (rc == 0)
		s->partition_until_us = pg_month_start_us(now, 2, NULL, NULL);
	return rc;
}

/* ---- binary arrays ---------------------------------------------------------- */

/* A group goes to the server as one array per column, in PostgreSQL's
 * binary array format: no text escaping of bodies, no per-event
 * statement. The element types are pg_type's OIDs; each must be the one
 * the statement casts its parameter to, or the server refuses it. */
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25
/* ndim, has-null flag, element type, length, lower bound */
#define ARRAY_HEAD 20

struct pg_array {
	unsigned char *buf;
	size_t len, cap;
	uint32_t oid;
	uint32_t n;
	bool has_null;
	bool failed; /* out of memory: the statement is not sent */
};

static void put_be32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (24 - 8 * i));
}

static unsigned char *array_room(struct pg_array *a, size_t n)
{
	if (a->failed)
		return NULL;
	if (a->len + n > a->cap) {
		size_t cap = a->cap ? a->cap : 4096;
		while (cap < a->len + n)
			cap *= 2;
		unsigned char *p = alloc_resize(a->buf, cap);
		if (p == NULL) {
			a->failed = true;
			return NULL;
		}
		a->buf = p;
		a->cap = cap;
	}
	a->len += n;
	return a->buf + a->len - n;
}

/* Empties a (keeping its memory) for elements of type oid. */
static void array_begin(struct pg_array *a, uint32_t oid)
{
	a->len = a->n = 0;
	a->has_null = a->failed = false;
	a->oid = oid;
	EW_IGNORE(array_room(a, ARRAY_HEAD)); /* a failure stays in a->failed */
}

/* One element of n bytes; p NULL is SQL NULL. */
static void array_put(struct pg_array *a, const void *p, size_t n)
{
	unsigned char *d = array_room(a, 4 + (p ? n : 0));
	if (d == NULL)
		return;
	a->n++;
	a->has_null |= p == NULL;
	put_be32(d, p ? (uint32_t)n : UINT32_MAX); /* -1: NULL */
	if (p)
		memcpy(d + 4, p, n);
}

static void array_put_int(struct pg_array *a, int64_t v)
{
	unsigned char be[8];
	for (int i = 0; i < 8; i++)
		be[i] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
	array_put(a, be, 8);
}

/* Text that is not UTF-8 goes repaired (U+FFFD for each bad byte), as
 * pg_run repairs its text parameters: the server would refuse it, and
 * with it the batch at every resend. */
static void array_put_text(struct pg_array *a, const char *s)
{
	size_t n = strlen(s);
	if (json_utf8_valid(s, n)) {
		array_put(a, s, n);
		return;
	}
	char *fixed = json_utf8_repaired(s, n);
	if (fixed == NULL) {
		a->failed = true;
		return;
	}
	array_put(a, fixed, strlen(fixed));
	alloc_free(fixed);
}

/* Closes a's header and adds it to args as a binary parameter; false
 * when memory ran out while filling it. */
static bool array_end(struct pg_array *a, struct pg_args *args)
{
	if (a->failed)
		return false;
	put_be32(a->buf, 1);
	put_be32(a->buf + 4, a->has_null);
	put_be32(a->buf + 8, a->oid);
	put_be32(a->buf + 12, a->n);
	put_be32(a->buf + 16, 1);
	pg_arg_bytea(args, a->buf, a->len);
	return true;
}

/* ---- a group of batches ----------------------------------------------------- */

/* The arrays of events_store, $1 to $10. */
#define EVENT_COLS 10

/* Every event of a group, in queue order, and where each batch starts:
 * the group is written whole, or batch by batch when it fails. */
struct group_event {
	struct event *ev;
	int64_t agent_ts; /* the agent's ts when clamped, else 0 */
	bool inserted;	  /* new, not a resend */
};

struct group {
	struct store_batch **batch;
	size_t nbatch;
	size_t *first; /* batch i's events are e[first[i] .. first[i + 1]) */
	struct group_event *e;
	struct pg_array col[EVENT_COLS]; /* the statement's parameters */
};

/* A statement's bodies stop at about this many bytes; the rest of the
 * range goes in the next statement of the same transaction (duplicates
 * and host states come out the same: each statement sees the last). */
#define SLICE_BYTES (32u << 20)

/* The events of e[from .. to), one array per column: their keys go in
 * sorted (two collectors take the key locks in the same order); the
 * events of the keys that were new are stored, the first of a key given
 * twice; each host's state of a state kind is the last of the slice,
 * newest by the collector's receive time ($11, never the agent's ts),
 * and the host rows are upserted in (agent, kind) order. Returns the
 * positions (from 1) of the events that were new. */
static const char events_store[] =
	"WITH v AS (SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[],"
	" $4::int8[], $5::text[], $6::int8[], $7::int8[], $8::bytea[],"
	" $9::int8[], $10::int8[]) WITH ORDINALITY AS v(agent, boot, seq, ts,"
	" kind, sev, drill, body, agent_ts, state, pos)),"
	" k AS (INSERT INTO event_keys(agent, boot, seq, received)"
	" SELECT agent, boot, seq, $11::int8 FROM v ORDER BY agent, boot, seq"
	" ON CONFLICT DO NOTHING RETURNING agent, boot, seq),"
	" n AS (SELECT DISTINCT ON (agent, boot, seq) v.* FROM v JOIN k"
	" USING (agent, boot, seq) ORDER BY agent, boot, seq, pos),"
	" e AS (INSERT INTO events(agent, boot, seq, ts, received, kind, sev,"
	" drill, body, agent_ts) SELECT agent, boot, seq, ts, $11::int8, kind,"
	" sev, drill, body, agent_ts FROM n),"
	" h AS (INSERT INTO host_state(agent, kind, ts, sev, drill, body,"
	" received, agent_ts) SELECT DISTINCT ON (agent, kind) agent, kind, ts,"
	" sev, drill, body, $11::int8, agent_ts FROM n WHERE state = 1"
	" ORDER BY agent, kind, pos DESC ON CONFLICT(agent, kind) DO UPDATE"
	" SET ts = excluded.ts, sev = excluded.sev, drill = excluded.drill,"
	" body = excluded.body, received = excluded.received,"
	" agent_ts = excluded.agent_ts"
	" WHERE excluded.received >= host_state.received)"
	" SELECT pos FROM n";

static void group_free(struct group *g)
{
	for (int i = 0; i < EVENT_COLS; i++)
		alloc_free(g->col[i].buf);
	alloc_free(g->batch);
	alloc_free(g->first);
	alloc_free(g->e);
}

/* Lays the queue out flat and clamps each event's ts once (a retry
 * batch by batch must not clamp again, or the agent's ts is lost). */
static int group_build(struct group *g, const struct store_batch_queue *list,
		       int64_t now)
{
	size_t nb = 0, n = 0;
	struct store_batch *b;
	*g = (struct group){0};
	STAILQ_FOREACH(b, list, link) {
		nb++;
		n += b->count;
	}
	g->batch = alloc_zeroed(nb, sizeof(*g->batch));
	g->first = alloc_zeroed(nb + 1, sizeof(*g->first));
	g->e = alloc_zeroed(n ? n : 1, sizeof(*g->e));
	if (g->batch == NULL || g->first == NULL || g->e == NULL)
		return -ENOMEM;
	n = 0;
	STAILQ_FOREACH(b, list, link) {
		g->batch[g->nbatch] = b;
		g->first[g->nbatch++] = n;
		for (size_t i = 0; i < b->count; i++, n++) {
			g->e[n].ev = &b->events[i];
			g->e[n].agent_ts = store_clamp_future_ts(&b->events[i],
								 now);
		}
	}
	g->first[g->nbatch] = n;
	return 0;
}

/* The parameters of events_store for e[from .. to), in its order. */
static void slice_columns(struct group *g, size_t from, size_t to)
{
	static const uint32_t oid[EVENT_COLS] = {OID_TEXT, OID_INT8,  OID_INT8,
					 OID_INT8, OID_TEXT,  OID_INT8,
					 OID_INT8, OID_BYTEA, OID_INT8,
					 OID_INT8};
	struct pg_array *c = g->col;
	for (int i = 0; i < EVENT_COLS; i++)
		array_begin(&c[i], oid[i]);
	for (size_t i = from; i < to; i++) {
		const struct event *ev = g->e[i].ev;
		int64_t agent_ts = g->e[i].agent_ts;
		array_put_text(&c[0], ev->agent);
		array_put_int(&c[1], (int64_t)ev->boot);
		array_put_int(&c[2], (int64_t)ev->seq);
		array_put_int(&c[3], (int64_t)ev->ts);
		array_put_text(&c[4], ev->kind);
		array_put_int(&c[5], ev->sev);
		array_put_int(&c[6], ev->drill);
		/* An empty body is stored as NULL, as SQLite's backend does. */
		array_put(&c[7], ev->body_len ? ev->body : NULL, ev->body_len);
		if (agent_ts != 0)
			array_put_int(&c[8], agent_ts);
		else
			array_put(&c[8], NULL, 0);
		array_put_int(&c[9], store_is_state_kind(ev->kind));
	}
}

struct new_events {
	struct group *g;
	size_t from, to;
};

static int mark_new(void *arg, const PGresult *res, int row)
{
	struct new_events *k = arg;
	long long pos = pg_int(res, row, 0);
	if (pos < 1 || (size_t)pos > k->to - k->from)
		return -EIO; /* not a position this statement sent */
	k->g->e[k->from + (size_t)pos - 1].inserted = true;
	return 0;
}

static int store_slice(struct pg_store *s, struct group *g, size_t from,
		       size_t to, int64_t now)
{
	struct pg_args a = {0};
	slice_columns(g, from, to);
	for (int i = 0; i < EVENT_COLS; i++)
		if (!array_end(&g->col[i], &a))
			return -ENOMEM;
	pg_arg_int(&a, now);
	struct new_events k = {g, from, to};
	return pg_run(&s->writer, events_store, &a, mark_new, &k, NULL);
}

/* Where the slice that starts at from ends: at least one event, then as
 * many as fit in SLICE_BYTES (with room for each one's other columns). */
static size_t slice_end(const struct group *g, size_t from, size_t to)
{
	size_t bytes = g->e[from].ev->body_len + 256, i = from + 1;
	for (; i < to && bytes + g->e[i].ev->body_len + 256 <= SLICE_BYTES; i++)
		bytes += g->e[i].ev->body_len + 256;
	return i;
}

static int store_events(struct pg_store *s, struct group *g, size_t from,
			size_t to, int64_t now)
{
	int rc = 0;
	for (size_t i = from; i < to; i++)
		g->e[i].inserted = false;
	while (rc == 0 && from < to) {
		size_t end = slice_end(g, from, to);
		rc = store_slice(s, g, from, end, now);
		from = end;
	}
	return rc;
}

/* How many of batch i's new events came with a clock too far ahead. */
static long long batch_clamped(const struct group *g, size_t i)
{
	long long n = 0;
	for (size_t j = g->first[i]; j < g->first[i + 1]; j++)
		n += g->e[j].inserted && g->e[j].agent_ts != 0;
	return n;
}

/* The agents' last contact for batches [b0, b1): their rows are locked
 * in id order first, so that two collectors holding batches of the same
 * agents take turns instead of deadlocking; then one UPDATE, where an
 * agent with several batches in the group gets the boot of its last one
 * and the sum of their clamped events. */
static const char agents_lock[] =
	"SELECT 1 FROM agents WHERE id = ANY($1::text[]) ORDER BY id"
	" FOR UPDATE";
static const char agents_touch[] =
	"UPDATE agents a SET last_seen = $4::int8, last_boot = v.boot,"
	" clamped = a.clamped + v.clamped FROM (SELECT DISTINCT ON (id) id,"
	" boot, sum(clamped) OVER (PARTITION BY id) AS clamped"
	" FROM unnest($1::text[], $2::int8[], $3::int8[]) WITH ORDINALITY"
	" AS u(id, boot, clamped, pos) ORDER BY id, pos DESC) v"
	" WHERE a.id = v.id";

static int touch_agents(struct pg_store *s, struct group *g, size_t b0,
			size_t b1, int64_t now)
{
	struct pg_array *id = &g->col[0], *boot = &g->col[1],
			*clamped = &g->col[2];
	array_begin(id, OID_TEXT);
	array_begin(boot, OID_INT8);
	array_begin(clamped, OID_INT8);
	for (size_t i = b0; i < b1; i++) {
		const struct store_batch *b = g->batch[i];
		if (b->count == 0)
			continue;
		/* A batch comes from one connection, hence one agent. */
		const struct event *last = &b->events[b->count - 1];
		array_put_text(id, last->agent);
		array_put_int(boot, (int64_t)last->boot);
		array_put_int(clamped, batch_clamped(g, i));
	}
	if (id->n == 0)
		return 0;
	struct pg_args a = {0}, ids = {0};
	if (!array_end(id, &a) || !array_end(boot, &a) ||
	    !array_end(clamped, &a))
		return -ENOMEM;
	pg_arg_int(&a, now);
	pg_arg_bytea(&ids, id->buf, id->len);
	int rc = pg_run(&s->writer, agents_lock, &ids, NULL, NULL, NULL);
	if (rc == 0)
		rc = pg_run(&s->writer, agents_touch, &a, NULL, NULL, NULL);
	return rc;
}

/* ---- a group's alerts ------------------------------------------------------- */

/* What deciding an alert's fate needs: open a new one or fold into the
 * open alert of its key, as pg_write_alert decides one at a time. */
struct alert_plan {
	char key[sizeof(((struct store_alert *)0)->dedupe_key)];
	long long suppress_s;
	int severity;
	size_t order;	 /* among the group's alerts */
	int64_t into;	 /* fold into this open alert's id (0: none) */
	bool opens;	 /* this alert is a new row ... */
	long long count; /* ... with this count ... */
	int max_sev;	 /* ... and this severity (its folds') */
};

struct alert_plans {
	struct alert_plan *p;
	size_t n, cap;
};

static int plan_alert(void *arg, const struct store_alert *a)
{
	struct alert_plans *l = arg;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct alert_plan *p = alloc_resize(l->p, cap * sizeof(*p));
		if (p == NULL)
			return -ENOMEM;
		l->p = p;
		l->cap = cap;
	}
	struct alert_plan *p = &l->p[l->n];
	*p = (struct alert_plan){.suppress_s = a->suppress_s,
				 .severity = a->severity, .order = l->n};
	snprintf(p->key, sizeof(p->key), "%s", a->dedupe_key);
	l->n++;
	return 0;
}

static int plan_cmp(const void *x, const void *y)
{
	const struct alert_plan *a = x, *b = y;
	int c = strcmp(a->key, b->key);
	if (c != 0)
		return c;
	return a->order < b->order ? -1 : a->order > b->order;
}

/* The open alert of a key that a repeat may fold into. */
struct open_alert {
	char key[sizeof(((struct store_alert *)0)->dedupe_key)];
	int64_t id, last;
};

struct open_alerts {
	struct open_alert *a;
	size_t n, cap;
};

static int read_open(void *arg, const PGresult *res, int row)
{
	struct open_alerts *l = arg;
	if (l->n == l->cap)
		return 1; /* one row per distinct key: never more */
	struct open_alert *o = &l->a[l->n++];
	pg_text(o->key, sizeof(o->key), res, row, 0);
	o->id = pg_int(res, row, 1);
	o->last = pg_int(res, row, 2);
	return 0;
}

static int open_cmp(const void *x, const void *y)
{
	return strcmp(((const struct open_alert *)x)->key,
		      ((const struct open_alert *)y)->key);
}

/* pg_write_alert's advisory locks (hashtext of the dedupe key), taken
 * all at once in a sorted order: two collectors raising the same keys
 * take turns instead of deadlocking. Then the open alert of each key, as
 * pg_write_alert reads it (a red-team alert whose window is over takes
 * no more repeats). */
static const char alert_keys_lock[] =
	"SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtext(k)"
	" AS h FROM unnest($1::text[]) AS u(k)) AS l ORDER BY h";
static const char alerts_open[] =
	"SELECT DISTINCT ON (dedupe_key) dedupe_key, id, last FROM alerts"
	" WHERE dedupe_key = ANY($1::text[]) AND state <> 'resolved'"
	" AND NOT EXISTS (SELECT 1 FROM redteam_alerts r JOIN drill_campaigns c"
	" ON c.id = r.campaign WHERE r.alert = alerts.id"
	" AND (c.state <> 'running' OR c.window_end <= $2::int8))"
	" ORDER BY dedupe_key, id DESC";

static int read_open_alerts(struct pg_store *s, struct group *g,
			    const struct alert_plans *l, int64_t now,
			    struct open_alerts *open)
{
	struct pg_array *keys = &g->col[0];
	array_begin(keys, OID_TEXT);
	for (size_t i = 0; i < l->n; i++)
		array_put_text(keys, l->p[i].key);
	struct pg_args a = {0};
	if (!array_end(keys, &a))
		return -ENOMEM;
	int rc = pg_run(&s->writer, alert_keys_lock, &a, NULL, NULL, NULL);
	pg_arg_int(&a, now);
	open->cap = l->n;
	open->a = alloc_zeroed(l->n, sizeof(*open->a));
	if (rc == 0 && open->a == NULL)
		rc = -ENOMEM;
	if (rc == 0)
		rc = pg_run(&s->writer, alerts_open, &a, read_open, open, NULL);
	if (rc == 0)
		qsort(open->a, open->n, sizeof(*open->a), open_cmp);
	return rc;
}

/* Each key's alerts in the order they came: the first folds into the
 * key's open alert while within its suppress window, or opens one; each
 * later one folds into whichever is open (all of a group has one time:
 * a new alert's last is now), unless its rule suppresses nothing. */
static void plan_key(struct alert_plan *p, size_t n, struct open_alert *o,
		     int64_t now)
{
	struct alert_plan *opened = NULL;
	for (size_t i = 0; i < n; i++) {
		long long window = p[i].suppress_s * 1000000LL;
		if (opened == NULL && o && now - o->last < window) {
			p[i].into = o->id;
			o->last = now;
		} else if (opened && window > 0) {
			opened->count++;
			if (p[i].severity > opened->max_sev)
				opened->max_sev = p[i].severity;
		} else {
			opened = &p[i];
			p[i].opens = true;
			p[i].count = 1;
			p[i].max_sev = p[i].severity;
		}
	}
}

static void plan_alerts(struct alert_plans *l, struct open_alerts *open,
			int64_t now)
{
	qsort(l->p, l->n, sizeof(*l->p), plan_cmp);
	for (size_t i = 0, j; i < l->n; i = j) {
		for (j = i + 1; j < l->n && strcmp(l->p[j].key, l->p[i].key) == 0;)
			j++;
		struct open_alert key = {0};
		snprintf(key.key, sizeof(key.key), "%s", l->p[i].key);
		struct open_alert *o =
			bsearch(&key, open->a, open->n, sizeof(*open->a), open_cmp);
		plan_key(&l->p[i], j - i, o, now);
	}
}

/* The repeats folded into alerts that were open before the group: one
 * UPDATE, each alert's count up by its repeats, the highest severity. */
static const char alerts_fold[] =
	"UPDATE alerts a SET last = $4::int8, count = a.count + v.n,"
	" severity = greatest(a.severity, v.sev) FROM (SELECT id, count(*) AS n,"
	" max(sev) AS sev FROM unnest($1::int8[], $2::int8[], $3::int8[])"
	" AS u(id, one, sev) GROUP BY id) v WHERE a.id = v.id";

static int fold_alerts(struct pg_store *s, struct group *g,
		       const struct alert_plans *l, int64_t now)
{
	struct pg_array *id = &g->col[0], *one = &g->col[1], *sev = &g->col[2];
	array_begin(id, OID_INT8);
	array_begin(one, OID_INT8);
	array_begin(sev, OID_INT8);
	for (size_t i = 0; i < l->n; i++) {
		if (l->p[i].into == 0)
			continue;
		array_put_int(id, l->p[i].into);
		array_put_int(one, 1);
		array_put_int(sev, l->p[i].severity);
	}
	if (id->n == 0)
		return 0;
	struct pg_args a = {0};
	if (!array_end(id, &a) || !array_end(one, &a) || !array_end(sev, &a))
		return -ENOMEM;
	pg_arg_int(&a, now);
	return pg_run(&s->writer, alerts_fold, &a, NULL, NULL, NULL);
}

/* The new alerts, in the order they came (their ids in that order), and
 * each one's forward-queue row and delivery record for every
 * destination: one statement. A PC's school is the agents table's. */
#define ALERT_COLS 14
static const char alerts_open_new[] =
	"WITH v AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[],"
	" $4::text[], $5::text[], $6::text[], $7::text[], $8::int8[],"
	" $9::int8[], $10::text[], $11::text[], $12::text[], $13::text[],"
	" $14::int8[]) WITH ORDINALITY AS v(rule, title, category, kind,"
	" dedupe_key, agent, school, severity, drill, evidence, src_ip,"
	" file_path, file_hash, count, pos)),"
	" a AS (INSERT INTO alerts(rule, title, category, kind, dedupe_key,"
	" agent, school, severity, drill, first, last, count, state, evidence,"
	" src_ip, file_path, file_hash) SELECT rule, title, category, kind,"
	" dedupe_key, v.agent, coalesce((SELECT g.school FROM agents g"
	" WHERE g.id = v.agent), v.school), severity, drill, $15::int8,"
	" $15::int8, count, 'open', evidence, src_ip, file_path, file_hash"
	" FROM v ORDER BY pos RETURNING id),"
	" d AS (SELECT a.id, dest FROM a CROSS JOIN unnest($16::text[])"
	" AS u(dest)),"
	" q AS (INSERT INTO forward_queue(dest, alert) SELECT dest, id FROM d)"
	" INSERT INTO forward_deliveries(dest, alert, queued)"
	" SELECT dest, id, $15::int8 FROM d ON CONFLICT DO NOTHING";

struct new_alerts {
	struct pg_array *col;
	const struct alert_plan **by_order; /* the plans, in order */
	size_t next;			    /* the next alert's order */
};

static int add_new_alert(void *arg, const struct store_alert *a)
{
	struct new_alerts *k = arg;
	const struct alert_plan *p = k->by_order[k->next++];
	if (!p->opens)
		return 0;
	struct pg_array *c = k->col;
	const char *text[] = {a->rule,	a->title, a->category, a->kind,
			      a->dedupe_key, a->agent, a->school};
	for (int i = 0; i < 7; i++)
		array_put_text(&c[i], text[i]);
	array_put_int(&c[7], p->max_sev);
	array_put_int(&c[8], a->drill);
	array_put_text(&c[9], a->evidence[0] ? a->evidence : "{}");
	array_put_text(&c[10], a->src_ip);
	array_put_text(&c[11], a->file_path);
	array_put_text(&c[12], a->file_hash);
	array_put_int(&c[13], p->count);
	return 0;
}

/* The new alerts' rows: the rules run again for the group's new events
 * (they are pure), keeping those the plan opens. The alerts are not
 * kept from the first run: 4 KiB of evidence each, up to four per
 * event. */
static int insert_alerts(struct pg_store *s, struct group *g, size_t from,
			 size_t to, const struct alert_plans *l, int64_t now)
{
	static const uint32_t oid[ALERT_COLS] = {
		OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT,
		OID_TEXT, OID_TEXT, OID_INT8, OID_INT8, OID_TEXT,
		OID_TEXT, OID_TEXT, OID_TEXT, OID_INT8};
	struct pg_array col[ALERT_COLS] = {{0}}, dests = {0};
	struct new_alerts k = {col, alloc_zeroed(l->n, sizeof(*k.by_order)), 0};
	int rc = k.by_order ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < l->n; i++)
		k.by_order[l->p[i].order] = &l->p[i];
	for (int i = 0; i < ALERT_COLS; i++)
		array_begin(&col[i], oid[i]);
	for (size_t i = from; rc == 0 && i < to; i++)
		if (g->e[i].inserted)
			rc = store_raise_alerts(&s->opts, g->e[i].ev,
						add_new_alert, &k);
	array_begin(&dests, OID_TEXT);
	for (size_t d = 0; d < s->opts.nforward_dests; d++)
		array_put_text(&dests, s->opts.forward_dests[d]);
	struct pg_args a = {0};
	for (int i = 0; rc == 0 && i < ALERT_COLS; i++)
		if (!array_end(&col[i], &a))
			rc = -ENOMEM;
	if (rc == 0 && col[0].n > 0) {
		pg_arg_int(&a, now);
		rc = array_end(&dests, &a) ? pg_run(&s->writer, alerts_open_new,
						    &a, NULL, NULL, NULL)
					   : -ENOMEM;
	}
	for (int i = 0; i < ALERT_COLS; i++)
		alloc_free(col[i].buf);
	alloc_free(dests.buf);
	alloc_free(k.by_order);
	return rc;
}

/* The alerts of the new events of e[from .. to), in a few statements
 * whatever their number: the keys locked and their open alerts read;
 * the repeats folded in one UPDATE; the new alerts and their
 * forward-queue rows in one INSERT. What each alert becomes is what
 * pg_write_alert would have made of it, one after the other. */
static int raise_alerts(struct pg_store *s, struct group *g, size_t from,
			size_t to, int64_t now)
{
	if (s->opts.alert_fn == NULL)
		return 0;
	struct alert_plans l = {0};
	struct open_alerts open = {0};
	int rc = 0;
	for (size_t i = from; rc == 0 && i < to; i++)
		if (g->e[i].inserted)
			rc = store_raise_alerts(&s->opts, g->e[i].ev,
						plan_alert, &l);
	if (rc == 0 && l.n > 0)
		rc = read_open_alerts(s, g, &l, now, &open);
	if (rc == 0 && l.n > 0) {
		plan_alerts(&l, &open, now);
		rc = fold_alerts(s, g, &l, now);
	}
	if (rc == 0 && l.n > 0)
		rc = insert_alerts(s, g, from, to, &l, now);
	alloc_free(l.p);
	alloc_free(open.a);
	return rc;
}

/* Each batch's counts once its transaction committed. */
static void count_batches(struct group *g, size_t b0, size_t b1)
{
	for (size_t i = b0; i < b1; i++) {
		struct store_batch *b = g->batch[i];
		b->stored = b->dup = 0;
		for (size_t j = g->first[i]; j < g->first[i + 1]; j++) {
			if (g->e[j].inserted)
				b->stored++;
			else
				b->dup++;
		}
		store_warn_clamped(b->events[0].agent, batch_clamped(g, i));
	}
}

/* Batches [b0, b1) in one transaction: their events, their agents' last
 * contact, then their alerts (whose rows and forward-queue rows come
 * after every event's, always in this order). */
static int write_run(struct pg_store *s, struct group *g, size_t b0,
		     size_t b1, int64_t now)
{
	size_t from = g->first[b0], to = g->first[b1];
	int rc = pg_exec(&s->writer, "BEGIN");
	if (rc == 0)
		rc = store_events(s, g, from, to, now);
	if (rc == 0)
		rc = touch_agents(s, g, b0, b1, now);
	if (rc == 0)
		rc = raise_alerts(s, g, from, to, now);
	rc = pg_end(&s->writer, rc);
	if (rc == 0)
		count_batches(g, b0, b1);
	return rc;
}

/* The group failed on something other than a lost server (a batch the
 * server refuses, a deadlock it broke): each batch again in its own
 * transaction, so that only the faulty one is refused and the others
 * are stored and acked. Sets each batch's status; returns 0. */
static int write_one_by_one(struct pg_store *s, struct group *g, int64_t now)
{
	int rc = 0;
	log_warn("store: PostgreSQL refused a group of %zu batches; writing "
		 "them one at a time", g->nbatch);
	for (size_t i = 0; i < g->nbatch; i++) {
		struct store_batch *b = g->batch[i];
		/* Once the server is gone, the rest waits for a resend. */
		if (rc != -EAGAIN)
			rc = write_run(s, g, i, i + 1, now);
		b->status = rc;
		if (rc != 0 && rc != -EAGAIN)
			log_err("store: a batch of agent %s was refused by "
				"PostgreSQL; it is not acked",
				b->count ? b->events[0].agent : "(empty)");
	}
	return 0;
}

static int write_batches(struct pg_store *s,
			 const struct store_batch_queue *list)
{
	int64_t now = store_now_us();
	struct group g = {0};
	int rc = ensure_partitions(s, now);
	if (rc == 0)
		rc = group_build(&g, list, now);
	if (rc == 0) {
		rc = write_run(s, &g, 0, g.nbatch, now);
		if (rc != 0 && rc != -EAGAIN && g.nbatch > 1)
			rc = write_one_by_one(s, &g, now);
	}
	group_free(&g);
	if (rc != 0)
		log_err("store: writing to PostgreSQL failed (%s); the batches "
			"are not acked and agents will resend them",
			rc == -EAGAIN ? "server unreachable" : "statement error");
	return rc;
}

/* ---- retention ------------------------------------------------------------- */

struct partition_list {
	int n;
	char names[64][64];
};

static int read_partition(void *arg, const PGresult *res, int row)
{
	struct partition_list *l = arg;
	if (l->n == 64)
		return 1;
	pg_text(l->names[l->n++], sizeof(l->names[0]), res, row, 0);
	return 0;
}

/* Whole months older than every retention are dropped, the cheap way
 * that leaves no dead rows; the rows of a shorter retention inside kept
 * months are deleted a step at a time; the exactly-once keys go with
 * the months they covered. */
static void drop_old_partitions(struct pg_store *s, int64_t cutoff)
{
	struct partition_list l = {0};
	if (pg_run(&s->writer,
		   "SELECT c.relname FROM pg_inherits i JOIN pg_class c"
		   " ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass"
		   " ORDER BY c.relname",
		   NULL, read_partition, &l, NULL) != 0)
		return;
	for (int i = 0; i < l.n; i++) {
		int year, month;
		if (sscanf(l.names[i], "events_y%4dm%2d", &year, &month) != 2)
			continue;
		struct tm end = {.tm_year = year - 1900, .tm_mon = month};
		if ((int64_t)timegm(&end) * 1000000 > cutoff)
			continue;
		char sql[128];
		snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s",
			 l.names[i]);
		if (pg_exec(&s->writer, sql) == 0)
			log_info("store: retention dropped partition %s",
				 l.names[i]);
	}
	struct pg_args a = {0};
	pg_arg_int(&a, cutoff);
	pg_arg_int(&a, PRUNE_STEP_ROWS);
	if (pg_run(&s->writer,
		   "DELETE FROM event_keys WHERE ctid IN (SELECT ctid FROM"
		   " event_keys WHERE received < $1 LIMIT $2)",
		   &a, NULL, NULL, NULL) != 0)
		log_warn("store: pruning old event keys failed");
}

static void prune_step(struct pg_store *s)
{
	int64_t now = store_now_us();
	if (now - s->last_prune_us < STORE_HOUSEKEEP_INTERVAL_US)
		return;
	s->last_prune_us = now;
	int low = s->opts.retention_days, high = s->opts.high_severity_days;
	if (low > 0 && high > 0)
		drop_old_partitions(s, now - (int64_t)(low > high ? low : high) *
						    DAY_US);
	const struct {
		const char *sql;
		int days;
	} steps[] = {
		{"DELETE FROM events WHERE id IN (SELECT id FROM events"
		 " WHERE received < $1 AND sev < $2 LIMIT $3)", low},
		{"DELETE FROM events WHERE id IN (SELECT id FROM events"
		 " WHERE received < $1 AND sev >= $2 LIMIT $3)", high},
	};
	for (size_t i = 0; i < 2; i++) {
		if (steps[i].days <= 0)
			continue;
		struct pg_args a = {0};
		long long n = 0;
		pg_arg_int(&a, now - (int64_t)steps[i].days * DAY_US);
		pg_arg_int(&a, s->opts.high_severity);
		pg_arg_int(&a, PRUNE_STEP_ROWS);
		if (pg_run(&s->writer, steps[i].sql, &a, NULL, NULL, &n) != 0)
			log_warn("store: retention prune failed");
		else if (n > 0)
			log_debug("store: pruned %lld expired events", n);
		/* A full step means more to do: come back soon. */
		if (n == PRUNE_STEP_ROWS)
			s->last_prune_us = 0;
	}
}

/* ---- the thread ----------------------------------------------------------- */

static int writer_write(void *backend, struct store_batch_queue *take)
{
	return write_batches(backend, take);
}

/* After a failed commit the connection is likely gone: the next commit
 * reconnects, and retention waits for it. */
static void writer_housekeep(void *backend, int status)
{
	if (status == 0)
		prune_step(backend);
}

static void writer_released(void *backend)
{
	alloc_free(backend);
}

const struct store_writer_ops pg_writer_ops = {
	.write = writer_write,
	.housekeep = writer_housekeep,
	.released = writer_released,
};

void pg_submit(struct store *st, struct store_batch *batch)
{
	store_writer_submit(&pg_impl(st)->w, batch);
}

size_t pg_backlog(const struct store *st)
{
	return store_writer_backlog(&pg_impl(st)->w);
}

int pg_writer_start(struct pg_store *s, uv_loop_t *loop, char *err,
		    size_t errlen)
{
	int rc = pg_connect(&s->writer, err, errlen);
	if (rc == 0)
		rc = ensure_partitions(s, store_now_us());
	if (rc != 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "cannot create event partitions");
		return rc;
	}
	return store_writer_start(&s->w, loop);
}

/* Commits what is queued, hands it back, stops the thread. */
void pg_writer_stop(struct pg_store *s)
{
	store_writer_stop(&s->w);
	pg_disconnect(&s->writer);
}
