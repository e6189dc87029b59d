/* store_sqlite: setup of the SQLite backend: the file and its modes, the
 * connections, the schema and its migrations, open and close, and the
 * ops table. The writer thread is in store_sqlite_writer.c, the queries
 * in store_sqlite_query.c, their statements in store_sqlite_stmt.c. */
#include "collector/store_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/alloc.h"
#include "common/log.h"

/* Each entry moves the schema one version up; never edit a shipped one. */
static const char *const migrations[] = {
	/* 1 */
	"CREATE TABLE schools("
	"  code TEXT PRIMARY KEY, name TEXT NOT NULL, commune TEXT NOT NULL,"
	"  level INTEGER NOT NULL, expected_pcs INTEGER NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE tokens("
	"  hash BLOB PRIMARY KEY, school TEXT NOT NULL REFERENCES schools(code),"
	"  uses_left INTEGER NOT NULL, expires INTEGER NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE agents("
	"  id TEXT PRIMARY KEY, school TEXT NOT NULL REFERENCES schools(code),"
	"  hostname TEXT NOT NULL, cert_sha256 TEXT NOT NULL,"
	"  enrolled INTEGER NOT NULL, revoked INTEGER,"
	"  last_seen INTEGER, last_boot INTEGER);"
	"CREATE INDEX agents_school ON agents(school);"
	"CREATE TABLE events("
	"  id INTEGER PRIMARY KEY, agent TEXT NOT NULL, boot INTEGER NOT NULL,"
	"  seq INTEGER NOT NULL, ts INTEGER NOT NULL, received INTEGER NOT NULL,"
	"  kind TEXT NOT NULL, sev INTEGER NOT NULL, drill INTEGER NOT NULL,"
	"  body BLOB, UNIQUE(agent, boot, seq));"
	"CREATE TABLE host_state("
	"  agent TEXT NOT NULL, kind TEXT NOT NULL, ts INTEGER NOT NULL,"
	"  sev INTEGER NOT NULL, drill INTEGER NOT NULL, body BLOB,"
	"  PRIMARY KEY(agent, kind)) WITHOUT ROWID;",
	/* 2 */
	"CREATE TABLE commands("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, agent TEXT NOT NULL,"
	"  type TEXT NOT NULL, issued INTEGER NOT NULL, expires INTEGER NOT NULL,"
	"  frame BLOB, sent INTEGER);"
	"CREATE INDEX commands_pending ON commands(sent, agent);",
	/* 3 */
	"CREATE TABLE score_snapshots("
	"  day TEXT NOT NULL, scope TEXT NOT NULL, key TEXT NOT NULL,"
	"  score REAL NOT NULL, pcs INTEGER NOT NULL,"
	"  PRIMARY KEY(scope, key, day)) WITHOUT ROWID;",
	/* 4 */
	"CREATE TABLE alerts("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, rule TEXT NOT NULL,"
	"  title TEXT NOT NULL, category TEXT NOT NULL, kind TEXT NOT NULL,"
	"  dedupe_key TEXT NOT NULL, agent TEXT NOT NULL, school TEXT NOT NULL,"
	"  severity INTEGER NOT NULL, drill INTEGER NOT NULL,"
	"  first INTEGER NOT NULL, last INTEGER NOT NULL, count INTEGER NOT NULL,"
	"  state TEXT NOT NULL, ack_by TEXT, ack INTEGER, resolved_by TEXT,"
	"  resolved INTEGER, evidence TEXT NOT NULL, src_ip TEXT NOT NULL,"
	"  file_path TEXT NOT NULL, file_hash TEXT NOT NULL);"
	"CREATE INDEX alerts_key ON alerts(dedupe_key, state);"
	"CREATE INDEX alerts_state ON alerts(state, id);"
	"CREATE TABLE forward_queue(dest TEXT NOT NULL, alert INTEGER NOT NULL,"
	"  PRIMARY KEY(dest, alert)) WITHOUT ROWID;",
	/* dead letters: alerts a SOC destination refused for good */
	"CREATE TABLE IF NOT EXISTS dead_letters("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, dest TEXT NOT NULL,"
	"  alert INTEGER NOT NULL, status INTEGER NOT NULL,"
	"  reason TEXT NOT NULL, at INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS dead_letters_dest ON dead_letters(dest, id);",
	/* 6: the collector's receive time orders host state; an agent's ts
	 * too far ahead of it is clamped, and the agent's own value is kept
	 * in agent_ts (NULL when it was not clamped). Rows pinned by a
	 * far-future ts before this version are healed the same way, with
	 * the 10-minute bound of that time (STORE_MAX_FUTURE_SKEW_US). */
	"ALTER TABLE events ADD COLUMN agent_ts INTEGER;"
	"ALTER TABLE host_state ADD COLUMN received INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE host_state ADD COLUMN agent_ts INTEGER;"
	"ALTER TABLE agents ADD COLUMN clamped INTEGER NOT NULL DEFAULT 0;"
	"UPDATE events SET agent_ts = ts, ts = received"
	"  WHERE ts > received + 600000000;"
	"UPDATE host_state SET agent_ts = ts,"
	"  ts = CAST(strftime('%s', 'now') AS INTEGER) * 1000000"
	"  WHERE ts > CAST(strftime('%s', 'now') AS INTEGER) * 1000000"
	"  + 600000000;"
	"UPDATE host_state SET received = ts;",
	/* 7: the officers' console: accounts, sessions and API tokens (by
	 * the SHA-256 of their secret), and an append-only audit log. IF NOT
	 * EXISTS: a database rolled back to an older version keeps them. */
	"CREATE TABLE IF NOT EXISTS users("
	"  name TEXT PRIMARY KEY, pwhash TEXT NOT NULL, role TEXT NOT NULL,"
	"  scope TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,"
	"  failed INTEGER NOT NULL DEFAULT 0, locked INTEGER NOT NULL DEFAULT 0,"
	"  totp TEXT NOT NULL DEFAULT '', lang TEXT NOT NULL DEFAULT 'vi',"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS sessions("
	"  hash BLOB PRIMARY KEY, user TEXT NOT NULL REFERENCES users(name),"
	"  created INTEGER NOT NULL, last INTEGER NOT NULL,"
	"  address TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user);"
	"CREATE TABLE IF NOT EXISTS api_tokens("
	"  hash BLOB PRIMARY KEY, label TEXT NOT NULL,"
	"  user TEXT NOT NULL REFERENCES users(name), created INTEGER NOT NULL,"
	"  revoked INTEGER);"
	"CREATE TABLE IF NOT EXISTS audit_log("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,"
	"  actor TEXT NOT NULL, action TEXT NOT NULL, object TEXT NOT NULL,"
	"  address TEXT NOT NULL, detail TEXT NOT NULL);"
	"CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
	/* 8: the register of information systems, the daily history reports
	 * stand on (never pruned with events), and the reports themselves;
	 * a signed report is frozen by the database too. IF NOT EXISTS:
	 * a test's downgrade to an older version leaves them. */
	"CREATE TABLE IF NOT EXISTS systems("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, unit TEXT NOT NULL,"
	"  name TEXT NOT NULL, kind TEXT NOT NULL,"
	"  level INTEGER NOT NULL CHECK(level BETWEEN 1 AND 5),"
	"  dossier TEXT NOT NULL CHECK(dossier IN ('not_started', 'drafted',"
	"   'submitted', 'approved')),"
	"  authority TEXT NOT NULL, decision_no TEXT NOT NULL,"
	"  decision_date TEXT NOT NULL, review_due TEXT NOT NULL,"
	"  hosts TEXT NOT NULL, updated INTEGER NOT NULL,"
	"  UNIQUE(unit, name));"
	"CREATE TABLE IF NOT EXISTS day_school("
	"  day TEXT NOT NULL, school TEXT NOT NULL, commune TEXT NOT NULL,"
	"  level INTEGER NOT NULL, no_policy INTEGER NOT NULL,"
	"  pcs INTEGER NOT NULL, enrolled INTEGER NOT NULL,"
	"  fresh INTEGER NOT NULL, av_ok INTEGER NOT NULL,"
	"  rpo_ok INTEGER NOT NULL, restore_ok INTEGER NOT NULL,"
	"  score REAL NOT NULL, PRIMARY KEY(day, school)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS day_host("
	"  day TEXT NOT NULL, agent TEXT NOT NULL, school TEXT NOT NULL,"
	"  score REAL NOT NULL, fresh INTEGER NOT NULL, av_ok INTEGER NOT NULL,"
	"  rpo_ok INTEGER NOT NULL, restore_ok INTEGER NOT NULL,"
	"  failed TEXT NOT NULL, PRIMARY KEY(day, agent)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS reports("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, period TEXT NOT NULL,"
	"  scope TEXT NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL,"
	"  created INTEGER NOT NULL, signed INTEGER, signed_by TEXT,"
	"  supersedes INTEGER REFERENCES reports(id), pdf_path TEXT,"
	"  pdf_sha256 TEXT, remarks TEXT NOT NULL, model TEXT NOT NULL,"
	"  UNIQUE(period, scope, version));"
	"CREATE TRIGGER IF NOT EXISTS reports_frozen BEFORE UPDATE ON reports"
	"  WHEN OLD.state = 'signed' BEGIN"
	"  SELECT RAISE(ABORT, 'a signed report is frozen'); END;"
	"CREATE TRIGGER IF NOT EXISTS reports_kept BEFORE DELETE ON reports"
	"  WHEN OLD.state = 'signed' BEGIN"
	"  SELECT RAISE(ABORT, 'a signed report is kept'); END;",
	/* 9: the console's overview reads every school's live PC count and
	 * every open alert's severity; both indexes cover their query, so
	 * the overview never visits a table row (docs/BENCHMARKS.md, web). */
	"CREATE INDEX IF NOT EXISTS agents_school_live ON agents(school, revoked);"
	"CREATE INDEX IF NOT EXISTS alerts_open_school"
	"  ON alerts(state, school, severity);",
	/* 10: incident drill campaigns and the PCs each one targeted. The
	 * database itself refuses an approval by the organiser (the second
	 * person rule) and any change to a finished campaign. */
	"CREATE TABLE IF NOT EXISTS drill_campaigns("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,"
	"  organiser TEXT NOT NULL, scenario TEXT NOT NULL,"
	"  scope TEXT NOT NULL, window_start INTEGER NOT NULL,"
	"  window_end INTEGER NOT NULL, state TEXT NOT NULL CHECK(state IN"
	"  ('planned', 'approved', 'running', 'aborted', 'done')),"
	"  approver TEXT CHECK(approver IS NULL OR approver <> organiser),"
	"  approved INTEGER, started INTEGER, ended INTEGER,"
	"  ended_by TEXT, created INTEGER NOT NULL);"
	"CREATE TRIGGER IF NOT EXISTS drill_campaigns_final BEFORE UPDATE ON"
	"  drill_campaigns WHEN OLD.state IN ('aborted', 'done') BEGIN"
	"  SELECT RAISE(ABORT, 'a finished drill is kept as it ended'); END;"
	"CREATE TABLE IF NOT EXISTS drill_targets("
	"  campaign INTEGER NOT NULL REFERENCES drill_campaigns(id),"
	"  agent TEXT NOT NULL, school TEXT NOT NULL, status TEXT NOT NULL,"
	"  command INTEGER, abort_command INTEGER, at INTEGER NOT NULL,"
	"  PRIMARY KEY(campaign, agent)) WITHOUT ROWID;",
	/* 11: when each drill alert reached each SOC destination. The
	 * forwarder dequeues an alert once its destination confirmed it;
	 * a trigger notes that moment for drill alerts only (a real alert
	 * needs no receipt kept), and not for one parked as a dead letter
	 * (refused is not delivered). The drill's "forwarded" stage reads
	 * it. */
	"CREATE TABLE IF NOT EXISTS drill_deliveries(dest TEXT NOT NULL,"
	"  alert INTEGER NOT NULL, at INTEGER NOT NULL,"
	"  PRIMARY KEY(alert, dest)) WITHOUT ROWID;"
	"CREATE TRIGGER IF NOT EXISTS drill_delivered AFTER DELETE ON"
	"  forward_queue WHEN (SELECT drill FROM alerts WHERE id = OLD.alert)"
	"  = 1 AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE"
	"  d.dest = OLD.dest AND d.alert = OLD.alert) BEGIN"
	"  INSERT OR IGNORE INTO drill_deliveries(dest, alert, at) VALUES("
	"  OLD.dest, OLD.alert, CAST((julianday('now') - 2440587.5)"
	"  * 86400000000.0 AS INTEGER)); END;",
	/* 12: every alert's delivery to every SOC destination: queued with
	 * the alert, confirmed by forward_done, or refused as a dead letter,
	 * each written in the transaction that moves the queue, so the
	 * report's delivery lag stands on recorded times. Alerts already in
	 * flight are carried over: queued with their first time (the moment
	 * they were queued, in the same transaction), drill deliveries with
	 * their receipt, dead letters with their refusal. */
	"CREATE TABLE IF NOT EXISTS forward_deliveries(dest TEXT NOT NULL,"
	"  alert INTEGER NOT NULL, queued INTEGER NOT NULL, delivered INTEGER,"
	"  dead INTEGER, PRIMARY KEY(alert, dest)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS forward_deliveries_queued"
	"  ON forward_deliveries(queued);"
	"INSERT OR IGNORE INTO forward_deliveries(dest, alert, queued)"
	"  SELECT q.dest, q.alert, a.first FROM forward_queue q"
	"  JOIN alerts a ON a.id = q.alert;"
	"INSERT OR IGNORE INTO forward_deliveries(dest, alert, queued,"
	"  delivered) SELECT d.dest, d.alert, a.first, d.at"
	"  FROM drill_deliveries d JOIN alerts a ON a.id = d.alert;"
	"INSERT OR IGNORE INTO forward_deliveries(dest, alert, queued, dead)"
	"  SELECT d.dest, d.alert, a.first, min(d.at) FROM dead_letters d"
	"  JOIN alerts a ON a.id = d.alert GROUP BY d.dest, d.alert;",
	/* 13: agent releases and how far each rollout got
	 * (collector/release.h). A release, once published, keeps what it
	 * is; only its progress changes. */
	"CREATE TABLE IF NOT EXISTS agent_releases("
	"  id INTEGER PRIMARY KEY, release TEXT NOT NULL,"
	"  channel TEXT NOT NULL CHECK(channel IN ('pilot', 'stable')),"
	"  rollback INTEGER NOT NULL, state TEXT NOT NULL CHECK(state IN"
	"  ('pilot', 'stable', 'halted', 'done')), why TEXT NOT NULL,"
	"  size INTEGER NOT NULL, queued INTEGER NOT NULL,"
	"  created INTEGER NOT NULL, pilot INTEGER NOT NULL,"
	"  stable INTEGER NOT NULL, ended INTEGER NOT NULL);",
	/* 14: red-team windows (a campaign whose scenario is "red-team").
	 * The red team's actions, which the database keeps to their
	 * campaign's kind and window whoever writes them; and every alert
	 * opened in a running window on a PC of its scope, flagged a drill
	 * in the same statement that opens it (before the forwarder can
	 * read it) and tied to its campaign, so the SOC is told. */
	"CREATE TABLE IF NOT EXISTS redteam_actions("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  campaign INTEGER NOT NULL REFERENCES drill_campaigns(id),"
	"  at INTEGER NOT NULL, target_kind TEXT NOT NULL"
	"  CHECK(target_kind IN ('host', 'school')), target TEXT NOT NULL,"
	"  technique TEXT NOT NULL, description TEXT NOT NULL,"
	"  recorded_by TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS redteam_actions_campaign"
	"  ON redteam_actions(campaign, at);"
	"CREATE TRIGGER IF NOT EXISTS redteam_action_in_window BEFORE INSERT"
	"  ON redteam_actions WHEN NOT EXISTS (SELECT 1 FROM drill_campaigns c"
	"  WHERE c.id = NEW.campaign AND c.scenario = 'red-team'"
	"  AND NEW.at >= c.window_start AND NEW.at < c.window_end) BEGIN"
	"  SELECT RAISE(ABORT, 'a red-team action lies in its window'); END;"
	"CREATE TABLE IF NOT EXISTS redteam_alerts(alert INTEGER PRIMARY KEY,"
	"  campaign INTEGER NOT NULL);"
	"CREATE TRIGGER IF NOT EXISTS redteam_window_alert AFTER INSERT ON"
	"  alerts BEGIN"
	"  INSERT OR IGNORE INTO redteam_alerts(alert, campaign)"
	"  SELECT NEW.id, c.id FROM drill_campaigns c"
	"  WHERE c.scenario = 'red-team' AND c.state = 'running'"
	"  AND NEW.first >= c.window_start AND NEW.first < c.window_end"
	"  AND (c.scope = 'school:' || NEW.school OR c.scope = 'commune:' ||"
	"  (SELECT commune FROM schools WHERE code = NEW.school))"
	"  ORDER BY c.id LIMIT 1;"
	"  UPDATE alerts SET drill = 1 WHERE id = NEW.id AND drill = 0"
	"  AND EXISTS (SELECT 1 FROM redteam_alerts r WHERE r.alert = NEW.id);"
	"  END;",
	/* 15: red-team actions stand as they were recorded, whoever writes
	 * (docs/DECISIONS.md, "Red-team actions recorded late"). The time
	 * an action claims lies at most 24 h before its recording and 5
	 * minutes after (clock skew); its recording time is the database's
	 * clock, give or take those 5 minutes, so that a hand-written
	 * `created` cannot dress a late action as a timely one; and no
	 * action is changed once stored. Times in microseconds. */
	"CREATE TRIGGER IF NOT EXISTS redteam_action_claim BEFORE INSERT"
	"  ON redteam_actions WHEN abs(NEW.created -"
	"  CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))"
	"  > 300000000 OR NEW.at < NEW.created - 86400000000"
	"  OR NEW.at > NEW.created + 300000000 BEGIN"
	"  SELECT RAISE(ABORT, 'a red-team action claims a time at most 24 h"
	" before its recording and 5 minutes after'); END;"
	"CREATE TRIGGER IF NOT EXISTS redteam_action_append_only BEFORE UPDATE"
	"  ON redteam_actions"
	"  BEGIN SELECT RAISE(ABORT, 'red-team actions are append-only'); END;",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

int sqlite_schema_latest(void)
{
	return SCHEMA_VERSION;
}

int sqlite_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		if (err != NULL)
			snprintf(err, errlen, "%s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

int sqlite_open_connection(struct sqlite_store *s, sqlite3 **out, char *err,
			   size_t errlen)
{
	char pragmas[256];
	int rc = sqlite3_open_v2(s->path, out,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
					 SQLITE_OPEN_NOMUTEX,
				 NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", s->path,
			 *out ? sqlite3_errmsg(*out) : sqlite3_errstr(rc));
		sqlite3_close(*out);
		*out = NULL;
		return -EIO;
	}
	sqlite3_busy_timeout(*out, 10000);
	if (sqlite_collation_register(*out) != 0) {
		snprintf(err, errlen, "database %s: cannot add the vi collation",
			 s->path);
		sqlite3_close(*out);
		*out = NULL;
		return -EIO;
	}
	snprintf(pragmas, sizeof(pragmas),
		 "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;"
		 "PRAGMA foreign_keys=ON; PRAGMA cache_size=-%lld;",
		 s->opts.sync_full ? "FULL" : "NORMAL",
		 s->opts.cache_bytes / 1024);
	if (sqlite_exec(*out, pragmas, err, errlen) != 0) {
		sqlite3_close(*out);
		*out = NULL;
		return -EIO;
	}
	return 0;
}

static int schema_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int version = 0;
	if (sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return version;
}

static int migrate(sqlite3 *db, char *err, size_t errlen)
{
	int version;
	/* Up to date: nothing to write. A CLI command must not queue for the
	 * write lock behind a busy collector's writer just to learn that. */
	if (schema_version(db) == SCHEMA_VERSION)
		return 0;
	if (sqlite_exec(db,
		     "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER "
		     "NOT NULL); BEGIN IMMEDIATE;",
		     err, errlen) != 0)
		return -EIO;
	version = schema_version(db);
	if (version > SCHEMA_VERSION) {
		/* Already failing; a failed ROLLBACK ends with the
		 * connection. */
		EW_IGNORE(sqlite_exec(db, "ROLLBACK", NULL, 0));
		snprintf(err, errlen,
			 "database schema version %d is newer than this "
			 "collector (%d): upgrade the collector",
			 version, SCHEMA_VERSION);
		return -EINVAL;
	}
	for (int v = version; v < SCHEMA_VERSION; v++) {
		char bump[96];
		snprintf(bump, sizeof(bump),
			 "INSERT INTO schema_version VALUES(%d)", v + 1);
		if (sqlite_exec(db, migrations[v], err, errlen) != 0 ||
		    sqlite_exec(db, bump, err, errlen) != 0) {
			/* Already failing, as above. */
			EW_IGNORE(sqlite_exec(db, "ROLLBACK", NULL, 0));
			return -EIO;
		}
		if (version > 0)
			log_info("store: migrated schema to version %d", v + 1);
	}
	return sqlite_exec(db, "COMMIT", err, errlen);
}

/* The event store holds every PC's reports: only the collector's user may
 * read it. SQLite creates a database 0644 less the umask and gives its
 * -wal and -shm the database's mode, so the file is created 0600 here
 * before SQLite sees it, and one made by an older version, with its
 * companions, is brought down to 0600 with a log line. */
static int restrict_db_files(const char *path, char *err, size_t errlen)
{
	static const char *const companions[] = {"-wal", "-shm", "-journal"};
	struct stat sb;
	if (path[0] == '\0' || path[0] == ':' || strncmp(path, "file:", 5) == 0)
		return 0; /* in memory, or a URI whose options SQLite owns */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		int rc = -errno;
		snprintf(err, errlen, "cannot open database %s: %s", path,
			 uv_strerror(rc));
		return rc;
	}
	if (fstat(fd, &sb) == 0 && (sb.st_mode & 077) != 0) {
		if (fchmod(fd, 0600) != 0) {
			int rc = -errno;
			close(fd);
			snprintf(err, errlen,
				 "database %s is readable by others (mode %03o) "
				 "and cannot be made 0600: %s",
				 path, (unsigned)(sb.st_mode & 0777),
				 uv_strerror(rc));
			return rc;
		}
		log_warn("store: %s was readable by others (mode %03o); made "
			 "it 0600", path, (unsigned)(sb.st_mode & 0777));
	}
	close(fd);
	for (size_t i = 0; i < sizeof(companions) / sizeof(companions[0]); i++) {
		char side[sizeof(((struct sqlite_store *)0)->path) + 16];
		snprintf(side, sizeof(side), "%s%s", path, companions[i]);
		if (stat(side, &sb) == 0 && (sb.st_mode & 077) != 0 &&
		    chmod(side, 0600) == 0)
			log_warn("store: %s was readable by others (mode %03o); "
				 "made it 0600", side,
				 (unsigned)(sb.st_mode & 0777));
	}
	return 0;
}

static void sqlite_close(struct store *st);

/* A store's state with its locks made and no connection yet; NULL when
 * memory ran out. sqlite_close frees it. */
static struct sqlite_store *store_new(const struct store_options *opts,
				      const char *location)
{
	struct sqlite_store *s = alloc_zeroed(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->base.backend = &store_sqlite_backend;
	s->opts = *opts;
	if (s->opts.batch_max_events <= 0)
		s->opts.batch_max_events = 5000;
	snprintf(s->path, sizeof(s->path), "%s", location);
	s->admin.guard = s;
	uv_mutex_init(&s->admin_lock);
	uv_mutex_init(&s->ckpt_lock);
	uv_cond_init(&s->ckpt_wake);
	store_writer_init(&s->w, &sqlite_writer_ops, s,
			  (size_t)s->opts.batch_max_events);
	return s;
}

static int sqlite_open(const struct store_options *opts, const char *location,
		       uv_loop_t *loop, struct store **out, char *err,
		       size_t errlen)
{
	struct sqlite_store *s = store_new(opts, location);
	int rc;
	*out = NULL;
	if (s == NULL)
		return -ENOMEM;
	if ((rc = restrict_db_files(s->path, err, errlen)) != 0 ||
	    (rc = sqlite_open_connection(s, &s->admin.db, err, errlen)) != 0 ||
	    (rc = migrate(s->admin.db, err, errlen)) != 0)
		goto fail;
	if (loop != NULL && (rc = sqlite_writer_start(s, loop, err, errlen)) != 0)
		goto fail;
	*out = &s->base;
	return 0;
fail:
	sqlite_close(&s->base);
	return rc;
}

/* The console's reader: the same file, opened read-only (query_only as
 * well, so even a statement that would write is refused by SQLite), no
 * migration (the store that owns the file did it) and no writer thread. */
static int sqlite_open_reader(struct store *st, struct store **out, char *err,
			      size_t errlen)
{
	struct sqlite_store *owner = sqlite_impl(st);
	const char *path = owner->path;
	char pragmas[128];
	int rc;
	if (path[0] == '\0' || path[0] == ':' || strncmp(path, "file:", 5) == 0) {
		snprintf(err, errlen, "store %s is not a file a second connection "
			 "can share", path[0] ? path : "(temporary)");
		return -ENOTSUP;
	}
	struct store_options ro = owner->opts;
	/* Reads only: no alerts raised, nothing queued for forwarding. */
	ro.alert_fn = NULL;
	ro.nforward_dests = 0;
	struct sqlite_store *s = store_new(&ro, path);
	if (s == NULL)
		return -ENOMEM;
	rc = sqlite3_open_v2(s->path, &s->admin.db,
			     SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s to read: %s",
			 s->path, s->admin.db ? sqlite3_errmsg(s->admin.db)
					      : sqlite3_errstr(rc));
		rc = -EIO;
		goto fail;
	}
	/* A reader that waits at all waits only for a checkpoint's brief
	 * WAL-index lock, never for a writer's transaction. */
	sqlite3_busy_timeout(s->admin.db, 10000);
	if (sqlite_collation_register(s->admin.db) != 0) {
		snprintf(err, errlen, "database %s: cannot add the vi collation",
			 s->path);
		rc = -EIO;
		goto fail;
	}
	snprintf(pragmas, sizeof(pragmas),
		 "PRAGMA query_only=ON; PRAGMA cache_size=-%lld;",
		 s->opts.cache_bytes / 1024 > 0 ? s->opts.cache_bytes / 1024
						 : 2048);
	if ((rc = sqlite_exec(s->admin.db, pragmas, err, errlen)) != 0)
		goto fail;
	*out = &s->base;
	return 0;
fail:
	sqlite_close(&s->base);
	return rc;
}

static void sqlite_close(struct store *st)
{
	struct sqlite_store *s = sqlite_impl(st);
	sqlite_writer_stop(s);
	sq_conn_close(&s->admin);
	uv_mutex_destroy(&s->admin_lock);
	uv_mutex_destroy(&s->ckpt_lock);
	uv_cond_destroy(&s->ckpt_wake);
	/* Frees s, now or once the loop has let go of the writer. */
	store_writer_release(&s->w);
}

/* A SQLite file has one collector (its writer holds the file), so that
 * collector runs every scheduled job. */
static int sqlite_lead(struct store *st, const char *job, bool *leading)
{
	(void)st;
	(void)job;
	*leading = true;
	return 0;
}

const struct store_backend store_sqlite_backend = {
	.scheme = "sqlite",
	.open = sqlite_open,
	.close = sqlite_close,
	.open_reader = sqlite_open_reader,
	.submit = sqlite_submit,
	.backlog = sqlite_backlog,
	.school_add = sqlite_school_add,
	.school_get = sqlite_school_get,
	.school_list = sqlite_school_list,
	.token_add = sqlite_token_add,
	.token_consume = sqlite_token_consume,
	.agent_add = sqlite_agent_add,
	.agent_revoke = sqlite_agent_revoke,
	.agent_allowed = sqlite_agent_allowed,
	.agents_revoked_since = sqlite_agents_revoked_since,
	.agent_list = sqlite_agent_list,
	.count_events = sqlite_count_events,
	.recent_events = sqlite_recent_events,
	.command_add = sqlite_command_add,
	.command_set_frame = sqlite_command_set_frame,
	.commands_pending = sqlite_commands_pending,
	.command_mark_sent = sqlite_command_mark_sent,
	.commands_withdraw = sqlite_commands_withdraw,
	.host_states = sqlite_host_states,
	.snapshot_put = sqlite_snapshot_put,
	.alert_raise = sqlite_alert_raise,
	.alert_list = sqlite_alert_list,
	.alert_set_state = sqlite_alert_set_state,
	.forward_next = sqlite_forward_next,
	.forward_done = sqlite_forward_done,
	.forward_depth = sqlite_forward_depth,
	.forward_deliveries = sqlite_forward_deliveries,
	.agents_silent = sqlite_agents_silent,
	.snapshot_list = sqlite_snapshot_list,
	.dead_letter_add = sqlite_dead_letter_add,
	.dead_letter_list = sqlite_dead_letter_list,
	.dead_letter_count = sqlite_dead_letter_count,
	.forward_status_scoped = sqlite_forward_status_scoped,
	.dead_letter_list_scoped = sqlite_dead_letter_list_scoped,
	.school_list_scoped = sqlite_school_list_scoped,
	.school_get_scoped = sqlite_school_get_scoped,
	.agent_list_scoped = sqlite_agent_list_scoped,
	.agent_get_scoped = sqlite_agent_get_scoped,
	.alert_list_scoped = sqlite_alert_list_scoped,
	.alert_open_counts_scoped = sqlite_alert_open_counts_scoped,
	.alert_volume_scoped = sqlite_alert_volume_scoped,
	.alert_set_state_scoped = sqlite_alert_set_state_scoped,
	.user_add = sqlite_user_add,
	.user_update = sqlite_user_update,
	.user_get = sqlite_user_get,
	.user_list = sqlite_user_list,
	.user_login_failed = sqlite_user_login_failed,
	.user_login_ok = sqlite_user_login_ok,
	.session_add = sqlite_session_add,
	.session_get = sqlite_session_get,
	.session_touch = sqlite_session_touch,
	.session_delete = sqlite_session_delete,
	.session_delete_user = sqlite_session_delete_user,
	.api_token_add = sqlite_api_token_add,
	.api_token_user = sqlite_api_token_user,
	.audit_add = sqlite_audit_add,
	.audit_list = sqlite_audit_list,
	.system_put = sqlite_system_put,
	.system_set = sqlite_system_set,
	.system_get = sqlite_system_get,
	.system_list = sqlite_system_list,
	.day_school_put = sqlite_day_school_put,
	.day_host_put = sqlite_day_host_put,
	.day_put_all = sqlite_day_put_all,
	.snapshot_prune = sqlite_snapshot_prune,
	.day_schools = sqlite_day_schools,
	.day_hosts = sqlite_day_hosts,
	.report_draft = sqlite_report_draft,
	.report_sign = sqlite_report_sign,
	.report_list = sqlite_report_list,
	.report_list_scoped = sqlite_report_list_scoped,
	.drill_add = sqlite_drill_add,
	.drill_get = sqlite_drill_get,
	.drill_transition = sqlite_drill_transition,
	.drill_target_put = sqlite_drill_target_put,
	.drill_targets = sqlite_drill_targets,
	.drill_list = sqlite_drill_list,
	.drill_all = sqlite_drill_all,
	.redteam_actions_add = sqlite_redteam_actions_add,
	.redteam_actions = sqlite_redteam_actions,
	.redteam_alerts = sqlite_redteam_alerts,
	.release_put = sqlite_release_put,
	.release_list = sqlite_release_list,
	.lead = sqlite_lead,
};
