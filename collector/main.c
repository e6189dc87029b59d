/* eduwatch-collector: command-line entry point. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <uv.h>

#include "collector/ca.h"
#include "collector/alert.h"
#include "collector/enroll.h"
#include "collector/forward.h"
#include "collector/ingest.h"
#include "collector/policy.h"
#include "collector/rulepub.h"
#include "collector/score.h"
#include "collector/settings.h"
#include "collector/store.h"
#include "common/alloc.h"
#include "common/backupkey.h"
#include "common/command.h"
#include "common/config.h"
#include "common/jsonout.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/textsafe.h"
#include "common/timeutil.h"
#include "common/tls.h"
#include "common/version.h"
#include "common/wire.h"

/* Exit codes, documented in --help. */
enum {
	EXIT_OK = 0,
	EXIT_FAILURE_RUNTIME = 1,
	EXIT_USAGE = 2,
	EXIT_CONFIG = 3,
	EXIT_NOT_FOUND = 4,
};

static const char usage_text[] =
	"usage: eduwatch-collector COMMAND [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  init --dir DIR [--name HOST]... [--rules DIR]\n"
	"                                    create the CA, the server certificate\n"
	"                                    (SANs: each --name; default localhost,\n"
	"                                    127.0.0.1), the database and DIR/collector.yaml\n"
	"                                    (rules: policies/ and alerts.yaml,\n"
	"                                    default " SETTINGS_RULES_DIR ")\n"
	"  serve                             run in the foreground (SIGTERM stops,\n"
	"                                    SIGHUP reloads the log level)\n"
	"  school add CODE NAME --commune C --level N --expected-pcs N\n"
	"  school list [--json]\n"
	"  token create --school CODE [--uses N] [--expires 7d]\n"
	"                                    print a one-time enrollment token\n"
	"  agent list [--school CODE] [--json]\n"
	"  agent revoke ID                   refuse this agent from its next handshake\n"
	"  events count [--agent ID] [--boot N]\n"
	"  events list [--agent ID] [--limit N] [--json]   newest first\n"
	"  command send --agent ID --type ping|status|scan [--expires 1h]\n"
	"               [--kind quick|full] [--path P]...\n"
	"                                    queue a command signed with the CA key;\n"
	"                                    scan: a YARA scan now (the quick paths,\n"
	"                                    the full paths, or each --path)\n"
	"  rules publish [--agent ID]        compile the yara.rules sets, sign the\n"
	"                                    bundle and push it to every agent (or one)\n"
	"  rules list [--json]               published bundles, newest first\n"
	"  ioc publish FILE [--agent ID]     sign an IOC list (domains, addresses)\n"
	"                                    and push it to every agent's LAN sensor\n"
	"  backup-key recover --agent ID --out FILE\n"
	"                                    a new key file for the agent's backup\n"
	"                                    repository from its escrow, locked with\n"
	"                                    $EDUWATCH_BACKUP_PASSWORD; copy it to\n"
	"                                    <repository>/keys/key\n"
	"  score [--school CODE | --commune NAME] [--json]\n"
	"                                    compliance against each school's level\n"
	"                                    policy; --school explains every failing\n"
	"                                    check with its evidence\n"
	"  score --snapshot                  record today's scores (daily, by timer)\n"
	"  score history (--school CODE | --commune NAME | --province) [--limit N]\n"
	"  alerts list [--state open|acknowledged|resolved] [--school CODE]\n"
	"              [--limit N] [--json]\n"
	"  alerts ack ID --by NAME           an officer takes the alert\n"
	"  alerts resolve ID --by NAME       the incident is over\n"
	"  forward dead-letter list [--limit N] [--json]\n"
	"                                    alerts a SOC destination refused for\n"
	"                                    good, parked so the rest went on\n"
	"\n"
	"Options for every command but init:\n"
	"  -c, --config FILE   collector.yaml (default $EDUWATCH_COLLECTOR_CONFIG or\n"
	"                      /etc/eduwatch/collector.yaml)\n"
	"  -h, --help          this text\n"
	"\n"
	"Exit codes: 0 done, 1 runtime failure, 2 usage error, 3 bad configuration,\n"
	"4 no such school or agent.\n";

struct cli {
	const char *config;
	const char *dir;
	const char *names[16];
	size_t nnames;
	const char *commune;
	const char *school;
	const char *agent;
	const char *expires;
	bool expires_set;
	const char *type;
	long level;
	long expected;
	long uses;
	long limit; /* 0: the command's default */
	unsigned long long boot;
	bool json;
	const char *rules;
	const char *state;
	const char *by;
	bool snapshot;
	bool province;
	const char *kind;
	const char *out;
	const char *paths[16];
	size_t npaths;
	int argc; /* positional arguments left */
	char **argv;
};

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "eduwatch-collector: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'eduwatch-collector --help'.\n");
	return EXIT_USAGE;
}

static int parse_long(const char *text, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_cli(int argc, char **argv, struct cli *cli)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"dir", required_argument, NULL, 'd'},
		{"name", required_argument, NULL, 'n'},
		{"commune", required_argument, NULL, 'm'},
		{"level", required_argument, NULL, 'l'},
		{"expected-pcs", required_argument, NULL, 'e'},
		{"school", required_argument, NULL, 's'},
		{"uses", required_argument, NULL, 'u'},
		{"limit", required_argument, NULL, 'L'},
		{"expires", required_argument, NULL, 'x'},
		{"agent", required_argument, NULL, 'a'},
		{"type", required_argument, NULL, 'T'},
		{"boot", required_argument, NULL, 'b'},
		{"json", no_argument, NULL, 'j'},
		{"rules", required_argument, NULL, 'P'},
		{"state", required_argument, NULL, 'Z'},
		{"by", required_argument, NULL, 'B'},
		{"snapshot", no_argument, NULL, 'S'},
		{"province", no_argument, NULL, 'R'},
		{"kind", required_argument, NULL, 'K'},
		{"out", required_argument, NULL, 'O'},
		{"path", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int ch;
	memset(cli, 0, sizeof(*cli));
	cli->config = getenv("EDUWATCH_COLLECTOR_CONFIG");
	if (cli->config == NULL)
		cli->config = "/etc/eduwatch/collector.yaml";
	cli->uses = 1;
	cli->expires = "7d";
	cli->level = -1;
	cli->expected = -1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': cli->config = optarg; break;
		case 'd': cli->dir = optarg; break;
		case 'n':
			if (cli->nnames == 16)
				return usage_error("at most 16 --name");
			cli->names[cli->nnames++] = optarg;
			break;
		case 'm': cli->commune = optarg; break;
		case 'l':
			if (parse_long(optarg, 1, 5, &cli->level))
				return usage_error("--level must be 1..5, not '%s'",
						   optarg);
			break;
		case 'e':
			if (parse_long(optarg, 0, 100000, &cli->expected))
				return usage_error("--expected-pcs must be a count, "
						   "not '%s'", optarg);
			break;
		case 's': cli->school = optarg; break;
		case 'u':
			if (parse_long(optarg, 1, 100000, &cli->uses))
				return usage_error("--uses must be 1..100000, not "
						   "'%s'", optarg);
			break;
		case 'L':
			if (parse_long(optarg, 1, 100000, &cli->limit))
				return usage_error("--limit must be 1..100000, not "
						   "'%s'", optarg);
			break;
		case 'x':
			cli->expires = optarg;
			cli->expires_set = true;
			break;
		case 'T': cli->type = optarg; break;
		case 'K': cli->kind = optarg; break;
		case 'O': cli->out = optarg; break;
		case 'p':
			if (cli->npaths == 16)
				return usage_error("at most 16 --path");
			cli->paths[cli->npaths++] = optarg;
			break;
		case 'a': cli->agent = optarg; break;
		case 'b': {
			char *end;
			cli->boot = strtoull(optarg, &end, 10);
			if (*end)
				return usage_error("--boot must be a number, not "
						   "'%s'", optarg);
			break;
		}
		case 'j': cli->json = true; break;
		case 'P': cli->rules = optarg; break;
		case 'Z': cli->state = optarg; break;
		case 'B': cli->by = optarg; break;
		case 'S': cli->snapshot = true; break;
		case 'R': cli->province = true; break;
		case 'h':
			fputs(usage_text, stdout);
			exit(EXIT_OK);
		default:
			return EXIT_USAGE;
		}
	}
	cli->argc = argc - optind;
	cli->argv = argv + optind;
	return 0;
}

static int load_settings(const struct cli *cli, struct settings *s)
{
	char err[512];
	if (settings_load(cli->config, s, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return EXIT_CONFIG;
	}
	log_setup("eduwatch-collector", s->log_level);
	return 0;
}

/* The destinations' names, for the store's forward queues; they point
 * into the settings, which live as long as the store. */
static const char *dest_names[SETTINGS_FORWARD_MAX];

static void store_options_from(const struct settings *s,
			       struct store_options *o)
{
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < s->nforward; i++)
		dest_names[i] = s->forward[i].name;
	o->forward_dests = dest_names;
	o->nforward_dests = s->nforward;
	o->url = s->store_url;
	o->cache_bytes = s->cache_size;
	o->batch_max_events = (int)s->batch_max_events;
	o->sync_full = s->sync_full;
	o->retention_days = (int)s->retention_days;
	o->high_severity_days = (int)s->high_severity_days;
	o->high_severity = (int)s->high_severity;
}

static int open_store_sync(const struct cli *cli, struct settings *s,
			   struct store **st)
{
	char err[512];
	struct store_options o;
	int rc = load_settings(cli, s);
	if (rc != 0)
		return rc;
	store_options_from(s, &o);
	if (store_open(&o, NULL, st, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return EXIT_FAILURE_RUNTIME;
	}
	return 0;
}

/* ---- init ---------------------------------------------------------------- */

/* The state dir holds the CA key and every PC's reports. One that others
 * can read or enter (an existing 0755 folder) is made 0700 when it is
 * ours, with a line saying so, and refused when it is not. */
static int init_dir_private(const char *dir)
{
	struct stat sb;
	if (stat(dir, &sb) != 0) {
		if (errno == ENOENT)
			return 0; /* ca_init creates it 0700 */
		fprintf(stderr, "eduwatch-collector: --dir %s: %s\n", dir,
			uv_strerror(-errno));
		return EXIT_FAILURE_RUNTIME;
	}
	if (!S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "eduwatch-collector: --dir %s is not a "
				"directory\n", dir);
		return EXIT_CONFIG;
	}
	if ((sb.st_mode & 077) == 0)
		return 0;
	if (sb.st_uid != geteuid()) {
		fprintf(stderr,
			"eduwatch-collector: --dir %s (mode %03o) is open to "
			"other users and owned by uid %u, not us: use a "
			"directory of the collector's user, mode 0700\n",
			dir, (unsigned)(sb.st_mode & 0777), (unsigned)sb.st_uid);
		return EXIT_CONFIG;
	}
	if (chmod(dir, 0700) != 0) {
		fprintf(stderr, "eduwatch-collector: --dir %s: cannot make it "
				"0700: %s\n", dir, uv_strerror(-errno));
		return EXIT_FAILURE_RUNTIME;
	}
	fprintf(stderr, "eduwatch-collector: --dir %s was open to other users "
			"(mode %03o); made it 0700\n",
		dir, (unsigned)(sb.st_mode & 0777));
	return 0;
}

static int cmd_init(struct cli *cli)
{
	char err[512], path[1024];
	static const char *const default_names[] = {"localhost", "127.0.0.1"};
	if (cli->dir == NULL)
		return usage_error("init needs --dir DIR");
	const char *const *names = cli->nnames ? cli->names : default_names;
	size_t nnames = cli->nnames ? cli->nnames : 2;
	int prc = init_dir_private(cli->dir);
	if (prc != 0)
		return prc;
	if (ca_init(cli->dir, names, nnames, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return EXIT_FAILURE_RUNTIME;
	}
	snprintf(path, sizeof(path), "%s/collector.yaml", cli->dir);
	char rules[PATH_MAX];
	if (cli->rules && realpath(cli->rules, rules) == NULL) {
		fprintf(stderr, "eduwatch-collector: --rules %s: %s\n",
			cli->rules, uv_strerror(-errno));
		return EXIT_CONFIG;
	}
	if (settings_write_default(path, cli->dir,
				   cli->rules ? rules : SETTINGS_RULES_DIR, err,
				   sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return EXIT_FAILURE_RUNTIME;
	}
	struct cli with_config = *cli;
	with_config.config = path;
	struct settings s;
	struct store *st;
	int rc = open_store_sync(&with_config, &s, &st);
	if (rc != 0)
		return rc;
	store_close(st);
	printf("created CA, server certificate and database in %s\n"
	       "settings: %s\n"
	       "agents pin this CA: %s/ca.crt\n"
	       "next: eduwatch-collector school add ... -c %s\n",
	       cli->dir, path, cli->dir, path);
	return EXIT_OK;
}

struct list_state {
	bool json;
	int count;
	int64_t stale_before_us; /* agents last seen before this are stale */
};

/* Room for a field of n bytes once escaped for the terminal (an escape
 * is at most 4 bytes per input byte). Every string that a PC or an
 * officer typed goes through textsafe before it reaches a terminal:
 * a host name must not be able to clear the screen or forge a line. */
#define SAFE_CAP(n) (4 * (n) + 1)
#define SAFE(buf, s) textsafe_str(buf, sizeof(buf), s)

/* ---- score --------------------------------------------------------------- */

static void print_snapshot(void *arg, const struct store_snapshot *sn)
{
	bool *json_first = arg;
	if (json_first[0]) {
		printf("%s{\"day\":\"%s\",\"score\":%.2f,\"pcs\":%d}",
		       json_first[1] ? "" : ",", sn->day, sn->score, sn->pcs);
		json_first[1] = false;
	} else {
		printf("%s  %5.1f%%  %d PCs\n", sn->day, sn->score, sn->pcs);
	}
}

static int score_history(struct store *st, const struct cli *cli)
{
	const char *scope = cli->school ? "school" : cli->commune ? "commune"
								 : "province";
	const char *key = cli->school ? cli->school
			  : cli->commune ? cli->commune
					 : "";
	long limit = 30;
	if (!cli->school && !cli->commune && !cli->province)
		return usage_error("score history needs --school, --commune or "
				   "--province");
	if (cli->limit)
		limit = cli->limit;
	bool json_first[2] = {cli->json, true};
	if (cli->json)
		printf("[");
	int rc = store_snapshot_list(st, scope, key, (int)limit, print_snapshot,
				     json_first);
	if (cli->json)
		printf("]\n");
	return rc == 0 ? EXIT_OK : EXIT_FAILURE_RUNTIME;
}

struct previous {
	char today[11];
	bool found;
	struct store_snapshot snap;
};

static void on_previous(void *arg, const struct store_snapshot *sn)
{
	struct previous *p = arg;
	if (!p->found && strcmp(sn->day, p->today) != 0) {
		p->snap = *sn;
		p->found = true;
	}
}

/* compliance.drop: a school's score fell since its last snapshot by at
 * least what the rule says. */
static void check_drop(struct store *st, const struct alert_rule *rule,
		       const struct school_score *s, const char *today)
{
	struct previous prev = {.found = false};
	snprintf(prev.today, sizeof(prev.today), "%s", today);
	if (rule == NULL ||
	    store_snapshot_list(st, "school", s->school.code, 2, on_previous,
				&prev) != 0 ||
	    !prev.found)
		return;
	double drop = prev.snap.score - s->score;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	wire_pack_str(&pk, "drop");
	msgpack_pack_double(&pk, drop);
	struct store_host_row row = {.kind = rule->kind, .body = sb.data,
				     .body_len = sb.size};
	struct check_result res;
	score_check(&rule->cond, &row, 1, 0, 0, &res);
	msgpack_sbuffer_destroy(&sb);
	if (!res.pass)
		return;
	char evidence[400];
	struct store_alert a;
	bool created;
	snprintf(evidence, sizeof(evidence),
		 "{\"school\":\"%s\",\"before\":%.2f,\"before_day\":\"%s\","
		 "\"after\":%.2f,\"drop\":%.2f}",
		 s->school.code, prev.snap.score, prev.snap.day, s->score, drop);
	alert_from_rule(rule, "", s->school.code, evidence, false, &a);
	snprintf(a.school, sizeof(a.school), "%s", s->school.code);
	if (store_alert_raise(st, &a, &created) == 0 && created)
		printf("alert: %s %s dropped %.1f points\n", rule->id,
		       s->school.code, drop);
}

/* Today's scores for every school, commune and the province. */
static int score_snapshot(struct store *st, const struct score_report *r,
			  const struct alert_rules *rules)
{
	struct store_snapshot sn = {0};
	char today[32];
	timeutil_format_us(timeutil_now_us(), today, sizeof(today));
	snprintf(sn.day, sizeof(sn.day), "%.10s", today);
	int rc = 0, n = 0;
	for (size_t i = 0; rc == 0 && i < r->nschools; i++) {
		const struct school_score *s = &r->schools[i];
		check_drop(st, alert_rule_for(rules, "compliance.drop"), s,
			   sn.day);
		snprintf(sn.scope, sizeof(sn.scope), "school");
		snprintf(sn.key, sizeof(sn.key), "%s", s->school.code);
		sn.score = s->score;
		sn.pcs = s->pcs;
		rc = store_snapshot_put(st, &sn);
		n++;
		/* A commune once, at its first school. */
		bool first = true;
		for (size_t j = 0; j < i; j++)
			if (strcmp(r->schools[j].school.commune,
				   s->school.commune) == 0)
				first = false;
		if (rc == 0 && first) {
			snprintf(sn.scope, sizeof(sn.scope), "commune");
			snprintf(sn.key, sizeof(sn.key), "%s", s->school.commune);
			sn.score = score_rollup(r, s->school.commune, &sn.pcs);
			rc = store_snapshot_put(st, &sn);
			n++;
		}
	}
	if (rc == 0) {
		snprintf(sn.scope, sizeof(sn.scope), "province");
		sn.key[0] = '\0';
		sn.score = r->province;
		sn.pcs = r->province_pcs;
		rc = store_snapshot_put(st, &sn);
		n++;
	}
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: cannot write the snapshot\n");
		return EXIT_FAILURE_RUNTIME;
	}
	printf("snapshot %s: %d scores recorded (province %.1f%%)\n", sn.day, n,
	       r->province);
	return EXIT_OK;
}

static int cmd_score(struct cli *cli)
{
	struct settings s;
	struct store *st;
	struct policy_set policies;
	struct score_report report;
	char err[512];
	if (cli->school && cli->commune)
		return usage_error("score takes --school or --commune, not both");
	int rc = open_store_sync(cli, &s, &st);
	if (rc != 0)
		return rc;
	if (cli->argc > 1 && strcmp(cli->argv[1], "history") == 0) {
		rc = score_history(st, cli);
		store_close(st);
		return rc;
	}
	if (cli->argc > 1) {
		store_close(st);
		return usage_error("unknown score command '%s'", cli->argv[1]);
	}
	if (policy_set_load(s.policy_dir, &policies, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		store_close(st);
		return EXIT_CONFIG;
	}
	rc = score_compute(st, &policies, cli->school, timeutil_now_us(), &report,
			   err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		rc = rc == -ENOENT ? EXIT_NOT_FOUND : EXIT_FAILURE_RUNTIME;
	} else if (cli->snapshot) {
		struct alert_rules rules;
		if (alert_rules_load(s.alert_rules, &rules, err, sizeof(err)) != 0) {
			fprintf(stderr, "eduwatch-collector: %s\n", err);
			rc = EXIT_CONFIG;
		} else {
			rc = score_snapshot(st, &report, &rules);
			alert_rules_free(&rules);
		}
	} else {
		score_print(stdout, &report, cli->commune, cli->school, cli->json);
		rc = EXIT_OK;
	}
	score_report_free(&report);
	policy_set_free(&policies);
	store_close(st);
	return rc;
}

/* ---- alerts -------------------------------------------------------------- */

static void print_alert(void *arg, const struct store_alert *a)
{
	struct list_state *ls = arg;
	char first[32], last[32];
	timeutil_format_us(a->first_us, first, sizeof(first));
	timeutil_format_us(a->last_us, last, sizeof(last));
	if (!ls->json) {
		char rule[SAFE_CAP(sizeof(a->rule))];
		char school[SAFE_CAP(sizeof(a->school))];
		char host[SAFE_CAP(sizeof(a->hostname))];
		char title[SAFE_CAP(sizeof(a->title))];
		char ack_by[SAFE_CAP(sizeof(a->ack_by))];
		printf("%-6llu %-13s sev %-2d %-22s %-8s %s%s\n       %s x%lld, "
		       "first %s, last %s%s%s\n       ",
		       (unsigned long long)a->id, a->state, a->severity,
		       SAFE(rule, a->rule), SAFE(school, a->school),
		       SAFE(host, a->hostname[0] ? a->hostname : a->agent),
		       a->drill ? " [drill]" : "", SAFE(title, a->title),
		       a->count, first, last,
		       a->ack_by[0] ? ", acknowledged by " : "",
		       SAFE(ack_by, a->ack_by));
		textsafe_fwrite_json(stdout, a->evidence, strlen(a->evidence));
		putchar('\n');
		ls->count++;
		return;
	}
	printf("%s{\"id\":%llu,", ls->count ? "," : "",
	       (unsigned long long)a->id);
	const char *texts[][2] = {
		{"rule", a->rule},	   {"title", a->title},
		{"category", a->category}, {"kind", a->kind},
		{"agent", a->agent},	   {"hostname", a->hostname},
		{"school", a->school},	   {"commune", a->commune},
		{"state", a->state},	   {"ack_by", a->ack_by},
		{"resolved_by", a->resolved_by}, {"first", first},
		{"last", last},
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		printf("\"%s\":", texts[i][0]);
		json_print_string(stdout, texts[i][1]);
		putchar(',');
	}
	printf("\"severity\":%d,\"drill\":%s,\"count\":%lld,\"evidence\":",
	       a->severity, a->drill ? "true" : "false", a->count);
	/* Stored by an older version, evidence may hold invalid UTF-8. */
	if (a->evidence[0])
		json_print_sanitized(stdout, a->evidence, strlen(a->evidence));
	else
		fputs("{}", stdout);
	putchar('}');
	ls->count++;
}

static int cmd_alerts(struct cli *cli)
{
	struct settings s;
	struct store *st;
	const char *sub = cli->argc > 1 ? cli->argv[1] : "";
	bool list = strcmp(sub, "list") == 0;
	if (!list && strcmp(sub, "ack") != 0 && strcmp(sub, "resolve") != 0)
		return usage_error("alerts list | ack ID --by NAME | resolve ID "
				   "--by NAME");
	if (cli->state && strcmp(cli->state, "open") != 0 &&
	    strcmp(cli->state, "acknowledged") != 0 &&
	    strcmp(cli->state, "resolved") != 0)
		return usage_error("--state is open, acknowledged or resolved");
	long id = 0;
	if (!list && (cli->argc < 3 || parse_long(cli->argv[2], 1, LONG_MAX, &id) ||
		      cli->by == NULL))
		return usage_error("alerts %s needs an alert id and --by NAME", sub);
	int rc = open_store_sync(cli, &s, &st);
	if (rc != 0)
		return rc;
	if (list) {
		struct list_state ls = {.json = cli->json};
		if (ls.json)
			printf("[");
		rc = store_alert_list(st, cli->state, cli->school,
				      cli->limit ? (int)cli->limit : 100,
				      print_alert, &ls);
		if (ls.json)
			printf("]\n");
		else if (ls.count == 0)
			printf("no alerts\n");
		rc = rc == 0 ? EXIT_OK : EXIT_FAILURE_RUNTIME;
	} else {
		const char *state = strcmp(sub, "ack") == 0 ? "acknowledged"
							    : "resolved";
		rc = store_alert_set_state(st, (uint64_t)id, state, cli->by);
		if (rc == 0)
			printf("alert %ld %s by %s\n", id, state, cli->by);
		else
			fprintf(stderr, "eduwatch-collector: alert %ld: %s\n", id,
				rc == -ENOENT	   ? "no such alert"
				: rc == -EALREADY ? "already past that state"
						  : "cannot update");
		rc = rc == 0 ? EXIT_OK : rc == -ENOENT ? EXIT_NOT_FOUND
						       : EXIT_FAILURE_RUNTIME;
	}
	store_close(st);
	return rc;
}

static void print_dead_letter(void *arg, const struct store_dead_letter *dl)
{
	struct list_state *ls = arg;
	char when[32];
	timeutil_format_us(dl->at_us, when, sizeof(when));
	if (ls->json) {
		printf("%s{\"id\":%llu,\"at\":\"%s\",\"destination\":",
		       ls->count ? "," : "", (unsigned long long)dl->id, when);
		json_print_string(stdout, dl->dest);
		printf(",\"alert\":%llu,\"status\":%d,\"rule\":",
		       (unsigned long long)dl->alert, dl->status);
		json_print_string(stdout, dl->rule);
		fputs(",\"agent\":", stdout);
		json_print_string(stdout, dl->agent);
		fputs(",\"reason\":", stdout);
		json_print_string(stdout, dl->reason);
		putchar('}');
	} else {
		/* The reason is printable ASCII (forward.c); the rest ours. */
		printf("%-6llu %s %-16s alert %-6llu %-20s %s\n",
		       (unsigned long long)dl->id, when, dl->dest,
		       (unsigned long long)dl->alert, dl->rule, dl->reason);
	}
	ls->count++;
}

static int cmd_forward(struct cli *cli)
{
	struct settings s;
	struct store *st;
	if (cli->argc != 3 || strcmp(cli->argv[1], "dead-letter") != 0 ||
	    strcmp(cli->argv[2], "list") != 0)
		return usage_error("usage: forward dead-letter list [--limit N] "
				   "[--json]");
	int rc = open_store_sync(cli, &s, &st);
	if (rc != 0)
		return rc;
	struct list_state ls = {.json = cli->json};
	if (ls.json)
		printf("[");
	rc = store_dead_letter_list(st, NULL, cli->limit ? (int)cli->limit : 100,
				    print_dead_letter, &ls);
	if (ls.json)
		printf("]\n");
	else if (ls.count == 0)
		printf("no dead letters\n");
	store_close(st);
	return rc == 0 ? EXIT_OK : EXIT_FAILURE_RUNTIME;
}

/* ---- serve --------------------------------------------------------------- */

struct daemon {
	uv_loop_t *loop;
	struct alert_rules rules;
	struct forwarder *forwarders[SETTINGS_FORWARD_MAX];
	uv_timer_t silence_timer;
	char hostname[256];
	char bundle_dir[600];
	struct settings settings;
	const char *config_path;
	struct store *store;
	struct ingest *ingest;
	struct enroll *enroll;
	SSL_CTX *ingest_ctx;
	SSL_CTX *enroll_ctx;
	struct ca *ca;
	struct signals signals;
	bool stopping;
};

static void log_forward_stats(struct daemon *d)
{
	for (size_t i = 0; i < d->settings.nforward; i++) {
		struct forward_stats fs;
		long long queued = 0;
		if (d->forwarders[i] == NULL)
			continue;
		forward_get_stats(d->forwarders[i], &fs);
		store_forward_depth(d->store, d->settings.forward[i].name, &queued);
		long long dead = 0;
		store_dead_letter_count(d->store, d->settings.forward[i].name,
					&dead);
		log_info("forward %s: sent=%llu skipped=%llu queued=%lld "
			 "dead_letters=%lld failed_attempts=%llu connects=%llu "
			 "last_error=%s",
			 d->settings.forward[i].name,
			 (unsigned long long)fs.sent,
			 (unsigned long long)fs.skipped, queued, dead,
			 (unsigned long long)fs.attempts_failed,
			 (unsigned long long)fs.connects,
			 fs.last_error[0] ? fs.last_error : "-");
	}
}

struct silent_agents {
	char (*ids)[EVENT_AGENT_MAX + 1];
	int64_t *last_us;
	size_t n, cap;
};

static void on_silent(void *arg, const char *agent, int64_t last_us)
{
	struct silent_agents *sa = arg;
	if (sa->n == sa->cap) {
		size_t cap = sa->cap ? sa->cap * 2 : 64;
		void *ids = alloc_resize(sa->ids, cap * sizeof(*sa->ids));
		if (ids == NULL)
			return;
		sa->ids = ids;
		void *last = alloc_resize(sa->last_us, cap * sizeof(*sa->last_us));
		if (last == NULL)
			return;
		sa->last_us = last;
		sa->cap = cap;
	}
	snprintf(sa->ids[sa->n], sizeof(sa->ids[0]), "%s", agent);
	sa->last_us[sa->n++] = last_us;
}

/* agent.silent: a PC that stopped reporting. Listed first and raised
 * after, since raising takes the store lock the listing holds. */
static void sweep_silence(uv_timer_t *timer)
{
	struct daemon *d = timer->data;
	const struct alert_rule *rule = alert_rule_for(&d->rules, "agent.silent");
	struct silent_agents sa = {0};
	int64_t now = timeutil_now_us();
	if (rule == NULL || d->store == NULL)
		return;
	store_agents_silent(d->store, now - d->settings.stale_after * 1000000LL,
			    on_silent, &sa);
	for (size_t i = 0; i < sa.n; i++) {
		char evidence[160], seen[32];
		struct store_alert a;
		bool created;
		timeutil_format_us(sa.last_us[i], seen, sizeof(seen));
		snprintf(evidence, sizeof(evidence),
			 "{\"last_seen\":\"%s\",\"silent_s\":%lld}", seen,
			 (long long)((now - sa.last_us[i]) / 1000000));
		alert_from_rule(rule, sa.ids[i], "", evidence, false, &a);
		store_alert_raise(d->store, &a, &created);
	}
	alloc_free(sa.ids);
	alloc_free(sa.last_us);
}

static void on_ingest_stopped(void *arg)
{
	struct daemon *d = arg;
	ingest_log_stats(d->ingest);
	enroll_stop(d->enroll);
	d->enroll = NULL;
	uv_close((uv_handle_t *)&d->silence_timer, NULL);
	log_forward_stats(d);
	for (size_t i = 0; i < d->settings.nforward; i++) {
		forward_stop(d->forwarders[i]);
		d->forwarders[i] = NULL;
	}
	/* Commits what is queued; their callbacks find closed connections. */
	store_close(d->store);
	d->store = NULL;
	signals_close(&d->signals);
	log_info("collector: stopped");
}

static void on_stop_signal(uv_signal_t *sig, int signum)
{
	struct daemon *d = sig->data;
	if (d->stopping)
		return;
	d->stopping = true;
	log_info("collector: %s received, draining", strsignal(signum));
	ingest_stop(d->ingest, on_ingest_stopped, d);
}

static void on_reload(uv_signal_t *sig, int signum)
{
	struct daemon *d = sig->data;
	struct settings fresh;
	char err[512];
	(void)signum;
	if (settings_load(d->config_path, &fresh, err, sizeof(err)) != 0) {
		log_err("collector: reload failed, keeping old settings: %s", err);
		return;
	}
	log_setup("eduwatch-collector", fresh.log_level);
	ingest_log_stats(d->ingest);
	log_forward_stats(d);
	log_info("collector: reloaded %s (log level; other changes need a "
		 "restart)", d->config_path);
}

static int cmd_serve(struct cli *cli)
{
	struct daemon d = {.config_path = cli->config};
	char err[512], ca_file[1024], cert_file[1024], key_file[1024];
	struct store_options so;
	int rc = load_settings(cli, &d.settings);
	if (rc != 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	/* One descriptor per agent: 60,000 PCs need far more than 1024. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	d.loop = uv_default_loop();
	const char *dir = d.settings.state_dir;
	ca_path(dir, "ca.crt", ca_file, sizeof(ca_file));
	ca_path(dir, "server.crt", cert_file, sizeof(cert_file));
	ca_path(dir, "server.key", key_file, sizeof(key_file));
	if (ca_load(dir, &d.ca, err, sizeof(err)) != 0 ||
	    tls_ctx_new_from_files(true, ca_file, cert_file, key_file, true,
				   &d.ingest_ctx, err, sizeof(err)) != 0 ||
	    tls_ctx_new_from_files(true, ca_file, cert_file, key_file, false,
				   &d.enroll_ctx, err, sizeof(err)) != 0) {
		log_err("collector: %s", err);
		rc = EXIT_CONFIG;
		goto done;
	}
	if (alert_rules_load(d.settings.alert_rules, &d.rules, err,
			     sizeof(err)) != 0) {
		log_err("collector: %s", err);
		rc = EXIT_CONFIG;
		goto done;
	}
	store_options_from(&d.settings, &so);
	so.alert_fn = alert_evaluate;
	so.alert_arg = &d.rules;
	if (store_open(&so, d.loop, &d.store, err, sizeof(err)) != 0) {
		log_err("collector: %s", err);
		rc = EXIT_FAILURE_RUNTIME;
		goto done;
	}
	gethostname(d.hostname, sizeof(d.hostname) - 1);
	rulepub_dir(d.settings.state_dir, d.bundle_dir, sizeof(d.bundle_dir));
	for (size_t i = 0; i < d.settings.nforward; i++) {
		if (forward_start(d.store, &d.settings.forward[i], d.hostname,
				  &d.forwarders[i], err, sizeof(err)) != 0) {
			log_err("collector: forward %s: %s",
				d.settings.forward[i].name, err);
			rc = EXIT_CONFIG;
			goto done;
		}
		log_info("collector: forwarding alerts to %s (%s %s)",
			 d.settings.forward[i].name, d.settings.forward[i].type,
			 d.settings.forward[i].address);
	}

	struct ingest_options io = {
		.host = d.settings.listen,
		.port = (int)d.settings.ingest_port,
		.max_connections = (int)d.settings.max_connections,
		.handshake_timeout_s = (int)d.settings.handshake_timeout,
		.idle_timeout_s = (int)d.settings.idle_timeout,
		.max_events_per_second = (int)d.settings.max_events_per_second,
		.backlog_high = (size_t)d.settings.backlog_high,
		.stats_interval_s = (int)d.settings.stats_interval,
		.bundle_dir = d.bundle_dir,
	};
	if (ingest_start(d.loop, d.ingest_ctx, d.store, &io, &d.ingest, err,
			 sizeof(err)) != 0 ||
	    enroll_start(d.loop, d.enroll_ctx, d.ca, d.store, d.settings.listen,
			 (int)d.settings.enroll_port, &d.enroll, err,
			 sizeof(err)) != 0) {
		log_err("collector: %s", err);
		rc = EXIT_FAILURE_RUNTIME;
		goto done;
	}
	uv_timer_init(d.loop, &d.silence_timer);
	d.silence_timer.data = &d;
	uv_timer_start(&d.silence_timer, sweep_silence, 60000, 60000);
	signals_start(d.loop, &d.signals, &d, on_stop_signal, on_reload);
	log_info("collector: eduwatch-collector %s serving from %s",
		 EDUWATCH_VERSION, dir);
	uv_run(d.loop, UV_RUN_DEFAULT);
	rc = EXIT_OK;
done:
	for (size_t i = 0; i < d.settings.nforward; i++)
		forward_stop(d.forwarders[i]);
	alert_rules_free(&d.rules);
	ingest_free(d.ingest);
	SSL_CTX_free(d.ingest_ctx);
	SSL_CTX_free(d.enroll_ctx);
	ca_free(d.ca);
	if (d.store)
		store_close(d.store);
	uv_run(d.loop, UV_RUN_NOWAIT);
	return rc;
}

/* ---- admin commands ------------------------------------------------------ */

static void print_school(void *arg, const struct store_school *sc)
{
	struct list_state *ls = arg;
	if (ls->json) {
		printf("%s{\"code\":", ls->count ? "," : "");
		json_print_string(stdout, sc->code);
		printf(",\"name\":");
		json_print_string(stdout, sc->name);
		printf(",\"commune\":");
		json_print_string(stdout, sc->commune);
		printf(",\"level\":%d,\"expected_pcs\":%d,\"enrolled_pcs\":%d}",
		       sc->level, sc->expected_pcs, sc->enrolled_pcs);
	} else {
		char code[SAFE_CAP(sizeof(sc->code))];
		char name[SAFE_CAP(sizeof(sc->name))];
		char commune[SAFE_CAP(sizeof(sc->commune))];
		printf("%-10s %-30s %-20s level %d  %d/%d PCs enrolled\n",
		       SAFE(code, sc->code), SAFE(name, sc->name),
		       SAFE(commune, sc->commune), sc->level,
		       sc->enrolled_pcs, sc->expected_pcs);
	}
	ls->count++;
}

static void print_agent(void *arg, const struct store_agent *a)
{
	struct list_state *ls = arg;
	char seen[32];
	/* Never seen counts as stale too: the PC is in the inventory but
	 * has not reported. */
	bool stale = !a->revoked && a->last_seen_us < ls->stale_before_us;
	timeutil_format_us(a->last_seen_us, seen, sizeof(seen));
	if (ls->json) {
		printf("%s{\"id\":", ls->count ? "," : "");
		json_print_string(stdout, a->id);
		printf(",\"school\":");
		json_print_string(stdout, a->school);
		printf(",\"hostname\":");
		json_print_string(stdout, a->hostname);
		printf(",\"last_seen\":\"%s\",\"stale\":%s,\"revoked\":%s,"
		       "\"events\":%lld,\"clamped_events\":%lld}",
		       seen, stale ? "true" : "false",
		       a->revoked ? "true" : "false", a->events, a->clamped);
	} else {
		char id[SAFE_CAP(sizeof(a->id))];
		char school[SAFE_CAP(sizeof(a->school))];
		char host[SAFE_CAP(sizeof(a->hostname))];
		char clamped[48] = "";
		if (a->clamped > 0)
			snprintf(clamped, sizeof(clamped),
				 "  %lld FUTURE-TS CLAMPED", a->clamped);
		printf("%-30s %-10s %-20s last seen %-20s %8lld events%s%s%s\n",
		       SAFE(id, a->id), SAFE(school, a->school),
		       SAFE(host, a->hostname), seen, a->events,
		       stale ? "  STALE" : "", a->revoked ? "  REVOKED" : "",
		       clamped);
	}
	ls->count++;
}

static int cmd_school(struct cli *cli)
{
	struct settings s;
	struct store *st;
	if (cli->argc < 2)
		return usage_error("school needs 'add' or 'list'");
	const char *sub = cli->argv[1];
	if (strcmp(sub, "add") == 0) {
		if (cli->argc != 4 || cli->commune == NULL || cli->level < 0 ||
		    cli->expected < 0)
			return usage_error("usage: school add CODE NAME --commune C "
					   "--level N --expected-pcs N");
		struct store_school sc = {.level = (int)cli->level,
					  .expected_pcs = (int)cli->expected};
		if (!event_agent_id_valid(cli->argv[2]) ||
		    strlen(cli->argv[2]) > STORE_CODE_MAX)
			return usage_error("school code '%s' must be 1-32 of "
					   "A-Z a-z 0-9 . _ -", cli->argv[2]);
		snprintf(sc.code, sizeof(sc.code), "%s", cli->argv[2]);
		snprintf(sc.name, sizeof(sc.name), "%s", cli->argv[3]);
		snprintf(sc.commune, sizeof(sc.commune), "%s", cli->commune);
		int rc = open_store_sync(cli, &s, &st);
		if (rc != 0)
			return rc;
		rc = store_school_add(st, &sc);
		store_close(st);
		if (rc != 0) {
			fprintf(stderr, "eduwatch-collector: cannot add school\n");
			return EXIT_FAILURE_RUNTIME;
		}
		printf("school %s (%s, %s) level %d, %d PCs expected\n", sc.code,
		       sc.name, sc.commune, sc.level, sc.expected_pcs);
		return EXIT_OK;
	}
	if (strcmp(sub, "list") == 0) {
		struct list_state ls = {.json = cli->json};
		int rc = open_store_sync(cli, &s, &st);
		if (rc != 0)
			return rc;
		if (ls.json)
			printf("[");
		rc = store_school_list(st, print_school, &ls);
		if (ls.json)
			printf("]\n");
		store_close(st);
		return rc ? EXIT_FAILURE_RUNTIME : EXIT_OK;
	}
	return usage_error("unknown school command '%s'", sub);
}

static int cmd_token(struct cli *cli)
{
	struct settings s;
	struct store *st;
	long long seconds;
	char token[64];
	unsigned char hash[32];
	if (cli->argc != 2 || strcmp(cli->argv[1], "create") != 0 ||
	    cli->school == NULL)
		return usage_error("usage: token create --school CODE [--uses N] "
				   "[--expires 7d]");
	if (config_parse_duration(cli->expires, &seconds) != 0 || seconds < 1)
		return usage_error("--expires '%s' is not a duration like 7d",
				   cli->expires);
	int rc = open_store_sync(cli, &s, &st);
	if (rc != 0)
		return rc;
	struct store_school sc;
	if (store_school_get(st, cli->school, &sc) != 0) {
		store_close(st);
		fprintf(stderr, "eduwatch-collector: no school '%s' (add it with "
				"'school add')\n", cli->school);
		return EXIT_NOT_FOUND;
	}
	if (enroll_token_new(token, hash) != 0 ||
	    store_token_add(st, hash, cli->school, (int)cli->uses,
			    store_now_us() + seconds * 1000000LL) != 0) {
		store_close(st);
		fprintf(stderr, "eduwatch-collector: cannot create the token\n");
		return EXIT_FAILURE_RUNTIME;
	}
	store_close(st);
	/* Only the token goes to stdout, so scripts can capture it. */
	printf("%s\n", token);
	fprintf(stderr, "token for school %s: %ld use(s), expires in %s; only its "
			"hash is stored\n", cli->school, cli->uses, cli->expires);
	return EXIT_OK;
}

static int cmd_agent(struct cli *cli)
{
	struct settings s;
	struct store *st;
	if (cli->argc < 2)
		return usage_error("agent needs 'list' or 'revoke'");
	const char *sub = cli->argv[1];
	int rc;
	if (strcmp(sub, "list") == 0) {
		struct list_state ls = {.json = cli->json};
		if ((rc = open_store_sync(cli, &s, &st)) != 0)
			return rc;
		ls.stale_before_us = store_now_us() - s.stale_after * 1000000LL;
		if (ls.json)
			printf("[");
		rc = store_agent_list(st, cli->school, print_agent, &ls);
		if (ls.json)
			printf("]\n");
		store_close(st);
		return rc ? EXIT_FAILURE_RUNTIME : EXIT_OK;
	}
	if (strcmp(sub, "revoke") == 0) {
		if (cli->argc != 3)
			return usage_error("usage: agent revoke ID");
		if ((rc = open_store_sync(cli, &s, &st)) != 0)
			return rc;
		rc = store_agent_revoke(st, cli->argv[2]);
		store_close(st);
		if (rc == -ENOENT) {
			fprintf(stderr, "eduwatch-collector: no active agent '%s'\n",
				cli->argv[2]);
			return EXIT_NOT_FOUND;
		}
		if (rc != 0)
			return EXIT_FAILURE_RUNTIME;
		printf("agent %s revoked: its next handshake will be refused\n",
		       cli->argv[2]);
		return EXIT_OK;
	}
	return usage_error("unknown agent command '%s'", sub);
}

/* Signs and queues one command; the agent gets it when it connects. */
static int queue_command(struct store *st, struct ca *ca, const char *agent,
			 const char *type, const msgpack_sbuffer *args,
			 long long seconds, uint64_t *id)
{
	struct command c = {.issued_us = store_now_us()};
	c.expires_us = c.issued_us + seconds * 1000000LL;
	snprintf(c.agent, sizeof(c.agent), "%s", agent);
	snprintf(c.type, sizeof(c.type), "%s", type);
	if (args && args->size) {
		c.args = args->data;
		c.args_len = args->size;
	}
	msgpack_sbuffer frame = {0};
	int rc = store_command_add(st, c.agent, c.type, c.issued_us,
				   c.expires_us, &c.id);
	if (rc == 0)
		rc = ca_sign_command(ca, &c, &frame);
	if (rc == 0)
		rc = store_command_set_frame(st, c.id, frame.data, frame.size);
	msgpack_sbuffer_destroy(&frame);
	*id = c.id;
	return rc;
}

/* scan: {kind: quick|full|paths, paths: [...]} */
static int pack_scan_args(const struct cli *cli, msgpack_sbuffer *sb)
{
	msgpack_packer pk;
	const char *kind = cli->kind ? cli->kind : cli->npaths ? "paths" : "quick";
	if (strcmp(kind, "quick") != 0 && strcmp(kind, "full") != 0 &&
	    strcmp(kind, "paths") != 0)
		return usage_error("--kind must be quick or full, not '%s'", kind);
	if (strcmp(kind, "paths") == 0 && cli->npaths == 0)
		return usage_error("a scan of paths needs --path");
	for (size_t i = 0; i < cli->npaths; i++)
		if (cli->paths[i][0] != '/' || strlen(cli->paths[i]) >= 256)
			return usage_error("--path must be absolute: '%s'",
					   cli->paths[i]);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	wire_pack_kv_str(&pk, "kind", kind);
	wire_pack_str(&pk, "paths");
	msgpack_pack_array(&pk, (uint32_t)cli->npaths);
	for (size_t i = 0; i < cli->npaths; i++)
		wire_pack_str(&pk, cli->paths[i]);
	return 0;
}

static int cmd_command(struct cli *cli)
{
	struct settings s;
	struct store *st;
	struct ca *ca;
	char err[512];
	long long seconds;
	if (cli->argc != 2 || strcmp(cli->argv[1], "send") != 0 ||
	    cli->agent == NULL || cli->type == NULL)
		return usage_error("usage: command send --agent ID --type TYPE "
				   "[--expires 1h]");
	if (config_parse_duration(cli->expires_set ? cli->expires : "1h",
				  &seconds) != 0 || seconds < 1 ||
	    seconds > 7 * 86400)
		return usage_error("--expires must be a duration up to 7d");
	msgpack_sbuffer args;
	msgpack_sbuffer_init(&args);
	int rc = strcmp(cli->type, "scan") == 0 ? pack_scan_args(cli, &args) : 0;
	if (rc == 0)
		rc = open_store_sync(cli, &s, &st);
	if (rc != 0) {
		msgpack_sbuffer_destroy(&args);
		return rc;
	}
	bool known = false;
	store_agent_allowed(st, cli->agent, &known);
	if (!known) {
		store_close(st);
		msgpack_sbuffer_destroy(&args);
		fprintf(stderr, "eduwatch-collector: no active agent '%s'\n",
			cli->agent);
		return EXIT_NOT_FOUND;
	}
	if (ca_load(s.state_dir, &ca, err, sizeof(err)) != 0) {
		store_close(st);
		msgpack_sbuffer_destroy(&args);
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return EXIT_CONFIG;
	}
	uint64_t id = 0;
	rc = queue_command(st, ca, cli->agent, cli->type, &args, seconds, &id);
	msgpack_sbuffer_destroy(&args);
	ca_free(ca);
	store_close(st);
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: cannot queue the command\n");
		return EXIT_FAILURE_RUNTIME;
	}
	printf("command %llu (%s) queued for agent %s; the agent gets it when "
	       "connected, and its result arrives as an agent.command event\n",
	       (unsigned long long)id, cli->type, cli->agent);
	return EXIT_OK;
}

/* ---- backup keys ------------------------------------------------------------ */

struct escrow_find {
	const char *agent;
	char *blob;
	size_t len;
};

static void find_escrow(void *arg, const struct store_host_row *r)
{
	struct escrow_find *f = arg;
	if (strcmp(r->agent, f->agent) != 0 || strcmp(r->kind, "backup.escrow") != 0)
		return;
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, r->body, r->body_len, NULL) ==
		    MSGPACK_UNPACK_SUCCESS &&
	    up.data.type == MSGPACK_OBJECT_MAP) {
		const msgpack_object *e = wire_map_get(&up.data, "escrow");
		if (e && e->type == MSGPACK_OBJECT_BIN && f->blob == NULL &&
		    (f->blob = alloc_bytes(e->via.bin.size)) != NULL) {
			memcpy(f->blob, e->via.bin.ptr, e->via.bin.size);
			f->len = e->via.bin.size;
		}
	}
	msgpack_unpacked_destroy(&up);
}

static int cmd_backup_key(struct cli *cli)
{
	struct settings s;
	struct store *st;
	struct ca *ca;
	char err[512];
	const char *pass = getenv("EDUWATCH_BACKUP_PASSWORD");
	if (cli->argc != 2 || strcmp(cli->argv[1], "recover") != 0 ||
	    cli->agent == NULL || cli->out == NULL)
		return usage_error("usage: backup-key recover --agent ID --out FILE");
	if (pass == NULL || strlen(pass) < 8)
		return usage_error("set EDUWATCH_BACKUP_PASSWORD to the new "
				   "passphrase (8 characters or more)");
	int rc = open_store_sync(cli, &s, &st);
	if (rc != 0)
		return rc;
	struct escrow_find f = {.agent = cli->agent};
	store_host_states(st, NULL, find_escrow, &f);
	store_close(st);
	if (f.blob == NULL) {
		fprintf(stderr, "eduwatch-collector: agent %s has sent no backup "
				"key escrow\n",
			cli->agent);
		return EXIT_NOT_FOUND;
	}
	if (ca_load(s.state_dir, &ca, err, sizeof(err)) != 0) {
		alloc_free(f.blob);
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return EXIT_CONFIG;
	}
	uint8_t keys[BACKUPKEY_LEN];
	rc = backupkey_escrow_open(f.blob, f.len, ca_key(ca), keys);
	alloc_free(f.blob);
	ca_free(ca);
	if (rc == 0)
		rc = backupkey_write(cli->out, keys, pass);
	OPENSSL_cleanse(keys, sizeof(keys));
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: cannot recover the key: %s\n",
			rc == -EACCES ? "the escrow was sealed for another CA"
				      : uv_strerror(rc));
		return EXIT_FAILURE_RUNTIME;
	}
	log_info("collector: backup key of agent %s recovered to %s",
		 cli->agent, cli->out);
	printf("wrote %s: copy it to the repository as keys/key; the "
	       "repository then opens with the new passphrase\n",
	       cli->out);
	return EXIT_OK;
}

/* ---- rules ----------------------------------------------------------------- */

struct agent_ids {
	char (*ids)[EVENT_AGENT_MAX + 1];
	size_t count, cap;
};

static void add_agent_id(struct agent_ids *l, const char *id)
{
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		void *p = alloc_resize(l->ids, cap * sizeof(*l->ids));
		if (p == NULL)
			return;
		l->ids = p;
		l->cap = cap;
	}
	snprintf(l->ids[l->count++], sizeof(l->ids[0]), "%s", id);
}

static void collect_agent(void *arg, const struct store_agent *a)
{
	if (!a->revoked)
		add_agent_id(arg, a->id);
}

static int cmd_rules_list(const struct settings *s, bool json)
{
	char dir[600];
	rulepub_dir(s->state_dir, dir, sizeof(dir));
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);
	if (json)
		printf("[");
	int shown = 0;
	for (int i = n - 1; i >= 0; i--) {
		unsigned long long v;
		char path[900];
		struct stat st;
		if (sscanf(names[i]->d_name, "bundle-%llu.ewb", &v) == 1 &&
		    snprintf(path, sizeof(path), "%s/%s", dir,
			     names[i]->d_name) > 0 &&
		    stat(path, &st) == 0) {
			if (json)
				printf("%s{\"version\":%llu,\"bytes\":%lld}",
				       shown ? "," : "", v, (long long)st.st_size);
			else
				printf("bundle %llu  %lld bytes  %s\n", v,
				       (long long)st.st_size, path);
			shown++;
		}
		free(names[i]);
	}
	free(names);
	if (json)
		printf("]\n");
	else if (shown == 0)
		printf("no bundle published yet: run 'eduwatch-collector rules "
		       "publish'\n");
	return EXIT_OK;
}

/* What publishing needs: the store, to find the agents, and the CA key,
 * to sign. Returns 0 or the exit status, having said why. */
static int open_store_and_ca(const struct cli *cli, struct settings *s,
			     struct store **st, struct ca **ca)
{
	char err[512];
	int rc = open_store_sync(cli, s, st);
	if (rc != 0)
		return rc;
	if (ca_load(s->state_dir, ca, err, sizeof(err)) != 0) {
		store_close(*st);
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return EXIT_CONFIG;
	}
	return 0;
}

/* Queues a signed `type` command naming a published bundle for one agent,
 * or every unrevoked one. Returns how many were queued. */
static size_t push_bundle(struct store *st, struct ca *ca, const char *agent,
			  const char *type, const struct bundle_info *info,
			  size_t size)
{
	struct agent_ids targets = {0};
	if (agent)
		add_agent_id(&targets, agent);
	else
		store_agent_list(st, NULL, collect_agent, &targets);
	msgpack_sbuffer args;
	msgpack_packer pk;
	msgpack_sbuffer_init(&args);
	msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	wire_pack_kv_u64(&pk, "version", info->version);
	wire_pack_kv_u64(&pk, "size", size);
	size_t queued = 0;
	for (size_t i = 0; i < targets.count; i++) {
		uint64_t id;
		if (queue_command(st, ca, targets.ids[i], type, &args, 7 * 86400,
				  &id) == 0)
			queued++;
	}
	msgpack_sbuffer_destroy(&args);
	alloc_free(targets.ids);
	return queued;
}

static int cmd_rules(struct cli *cli)
{
	struct settings s;
	struct store *st;
	struct ca *ca;
	char err[768];
	const char *sub = cli->argc > 1 ? cli->argv[1] : "";
	if (strcmp(sub, "list") == 0) {
		int rc = load_settings(cli, &s);
		return rc ? rc : cmd_rules_list(&s, cli->json);
	}
	if (strcmp(sub, "publish") != 0)
		return usage_error("usage: rules publish [--agent ID] | rules list");
	int rc = open_store_and_ca(cli, &s, &st, &ca);
	if (rc != 0)
		return rc;
	const char *sets[SETTINGS_YARA_MAX];
	for (size_t i = 0; i < s.nyara_rules; i++)
		sets[i] = s.yara_rules[i];
	struct bundle_info info;
	size_t size = 0;
	rc = rulepub_publish(s.state_dir, sets, s.nyara_rules, ca_key(ca), &info,
			     &size, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: rules not published: %s\n",
			err);
		ca_free(ca);
		store_close(st);
		return rc == -EINVAL ? EXIT_CONFIG : EXIT_FAILURE_RUNTIME;
	}
	printf("published bundle %llu: %llu rules, %zu bytes signed (%s)\n",
	       (unsigned long long)info.version,
	       (unsigned long long)info.rules, size, info.sources);
	size_t queued = push_bundle(st, ca, cli->agent, "rules.update", &info,
				    size);
	ca_free(ca);
	store_close(st);
	printf("queued rules.update for %zu agent(s); each fetches the bundle "
	       "when connected\n",
	       queued);
	return EXIT_OK;
}

static int cmd_ioc(struct cli *cli)
{
	struct settings s;
	struct store *st;
	struct ca *ca;
	char err[768];
	if (cli->argc != 3 || strcmp(cli->argv[1], "publish") != 0)
		return usage_error("usage: ioc publish FILE [--agent ID]");
	int rc = open_store_and_ca(cli, &s, &st, &ca);
	if (rc != 0)
		return rc;
	struct bundle_info info;
	size_t size = 0;
	rc = rulepub_publish_ioc(s.state_dir, cli->argv[2], ca_key(ca), &info,
				 &size, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "eduwatch-collector: IOC list not published: %s\n",
			err);
		ca_free(ca);
		store_close(st);
		return EXIT_CONFIG;
	}
	size_t queued = push_bundle(st, ca, cli->agent, "ioc.update", &info, size);
	ca_free(ca);
	store_close(st);
	printf("published IOC list %llu (%llu lines, %zu bytes signed); queued "
	       "ioc.update for %zu agent(s)\n",
	       (unsigned long long)info.version, (unsigned long long)info.rules,
	       size, queued);
	return EXIT_OK;
}

static void print_event(void *arg, const struct store_event_row *r)
{
	struct list_state *ls = arg;
	char when[32], agent_when[32] = "", received[32], *json = NULL;
	timeutil_format_us((int64_t)r->ev.ts, when, sizeof(when));
	timeutil_format_us(r->received_us, received, sizeof(received));
	/* A ts too far in the future was replaced by the receive time: say
	 * so, and what the agent claimed. */
	bool clamped = r->agent_ts_us != 0;
	if (clamped)
		timeutil_format_us(r->agent_ts_us, agent_when,
				   sizeof(agent_when));
	event_body_to_json(r->ev.body, r->ev.body_len, &json);
	if (ls->json) {
		printf("%s{\"ts\":\"%s\",\"received\":\"%s\",\"agent\":",
		       ls->count ? "," : "", when, received);
		json_print_string(stdout, r->ev.agent);
		printf(",\"seq\":%llu,\"kind\":", (unsigned long long)r->ev.seq);
		json_print_string(stdout, r->ev.kind);
		printf(",\"sev\":%u,\"drill\":%s,\"ts_clamped\":%s,",
		       r->ev.sev, r->ev.drill ? "true" : "false",
		       clamped ? "true" : "false");
		if (clamped)
			printf("\"agent_ts\":\"%s\",\"agent_ts_us\":%lld,",
			       agent_when, (long long)r->agent_ts_us);
		printf("\"body\":%s}", json ? json : "{}");
	} else {
		char agent[SAFE_CAP(sizeof(r->ev.agent))];
		char kind[SAFE_CAP(sizeof(r->ev.kind))];
		printf("%s  %-28s %-16s sev %-2u %s", when, SAFE(agent, r->ev.agent),
		       SAFE(kind, r->ev.kind), r->ev.sev,
		       r->ev.drill ? "[drill] " : "");
		if (clamped)
			printf("[ts clamped: the agent said %s] ", agent_when);
		const char *body = json ? json : "{}";
		textsafe_fwrite_json(stdout, body, strlen(body));
		putchar('\n');
	}
	free(json);
	ls->count++;
}

static int cmd_events(struct cli *cli)
{
	struct settings s;
	struct store *st;
	long long count;
	if (cli->argc == 2 && strcmp(cli->argv[1], "list") == 0) {
		struct list_state ls = {.json = cli->json};
		int rc = open_store_sync(cli, &s, &st);
		if (rc != 0)
			return rc;
		if (ls.json)
			printf("[");
		rc = store_recent_events(st, cli->agent,
					 cli->limit ? (int)cli->limit : 20,
					 print_event, &ls);
		if (ls.json)
			printf("]\n");
		store_close(st);
		return rc ? EXIT_FAILURE_RUNTIME : EXIT_OK;
	}
	if (cli->argc != 2 || strcmp(cli->argv[1], "count") != 0)
		return usage_error("usage: events count|list [--agent ID] "
				   "[--boot N] [--limit N]");
	int rc = open_store_sync(cli, &s, &st);
	if (rc != 0)
		return rc;
	rc = store_count_events(st, cli->agent, cli->boot, &count);
	store_close(st);
	if (rc != 0)
		return EXIT_FAILURE_RUNTIME;
	printf("%lld\n", count);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct cli cli;
	log_setup("eduwatch-collector", LOG_LEVEL_INFO);
	int rc = parse_cli(argc, argv, &cli);
	if (rc != 0)
		return rc;
	if (cli.argc < 1) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = cli.argv[0];
	if (strcmp(cmd, "init") == 0)
		return cmd_init(&cli);
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(&cli);
	if (strcmp(cmd, "school") == 0)
		return cmd_school(&cli);
	if (strcmp(cmd, "token") == 0)
		return cmd_token(&cli);
	if (strcmp(cmd, "agent") == 0)
		return cmd_agent(&cli);
	if (strcmp(cmd, "events") == 0)
		return cmd_events(&cli);
	if (strcmp(cmd, "command") == 0)
		return cmd_command(&cli);
	if (strcmp(cmd, "rules") == 0)
		return cmd_rules(&cli);
	if (strcmp(cmd, "backup-key") == 0)
		return cmd_backup_key(&cli);
	if (strcmp(cmd, "ioc") == 0)
		return cmd_ioc(&cli);
	if (strcmp(cmd, "score") == 0)
		return cmd_score(&cli);
	if (strcmp(cmd, "alerts") == 0)
		return cmd_alerts(&cli);
	if (strcmp(cmd, "forward") == 0)
		return cmd_forward(&cli);
	if (strcmp(cmd, "version") == 0) {
		printf("eduwatch-collector %s\n", EDUWATCH_VERSION);
		return EXIT_OK;
	}
	return usage_error("unknown command '%s'", cmd);
}
