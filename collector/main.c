/* eduwatch-collector: the command line. One table says, for each
 * command, the options it takes, what it needs opened and the functions
 * that check and run it (cli.h); this file parses the options, opens
 * what the command needs, runs it and closes everything, in one place.
 * The daemon is collector_run() in daemon.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/ca.h"
#include "collector/cli.h"
#include "collector/policy.h"
#include "collector/settings.h"
#include "collector/store.h"
#include "common/log.h"

static const char usage_text[] =
	"usage: eduwatch-collector COMMAND [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  init --dir DIR [--name HOST]... [--rules DIR]\n"
	"                                    create the CA, the server certificate\n"
	"                                    (SANs: each --name; default localhost,\n"
	"                                    127.0.0.1), the database and DIR/collector.yaml\n"
	"                                    (rules: policies/ and alerts.yaml,\n"
	"                                    default: the rules installed with this\n"
	"                                    binary, BINDIR/../share/eduwatch/rules)\n"
	"  setup [--non-interactive] --dir DIR --name HOST... [--rules DIR]\n"
	"        --schools FILE.csv --admin NAME --out SHEET.csv [--expires 30d]\n"
	"                                    first run: init, the first\n"
	"                                    province_admin, the schools of the CSV\n"
	"                                    (code,name,commune,level,expected_pcs)\n"
	"                                    and a sheet of one enrollment string per\n"
	"                                    school; asks for what is missing on a\n"
	"                                    terminal\n"
	"  serve                             run in the foreground (SIGTERM stops,\n"
	"                                    SIGHUP reloads the log level)\n"
	"  version                           print the version\n"
	"  school add CODE NAME --commune C --level N --expected-pcs N\n"
	"  school list [--json]\n"
	"  token create --school CODE [--uses N] [--expires 7d]\n"
	"                                    print a one-time enrollment token\n"
	"  agent list [--school CODE] [--json]\n"
	"  agent revoke ID                   refuse this agent from its next handshake\n"
	"  agent enroll-string --school CODE [--name HOST] [--uses N] [--expires 7d]\n"
	"                                    a new token, the collector's address\n"
	"                                    and CA fingerprint as one checksummed\n"
	"                                    string: eduwatch-agent enroll STRING\n"
	"  agent-release status [--school CODE] [--json]\n"
	"                                    the agent versions running in each\n"
	"                                    school, as each PC last reported,\n"
	"                                    and each release's rollout\n"
	"  agent-release keygen --out DIR    make the offline release key (on a\n"
	"                                    machine that is not the collector):\n"
	"                                    DIR/release-key.pem (0600) and\n"
	"                                    DIR/release-key.pub.pem\n"
	"  agent-release sign DIR --key PRIVATE.pem --out FILE [--rollback]\n"
	"                                    sign the files of DIR (named\n"
	"                                    agent-VERSION) with the release key\n"
	"                                    into FILE; needs no collector\n"
	"  agent-release publish FILE|DIR --channel pilot|stable [--rollback]\n"
	"                                    publish a signed release FILE (or,\n"
	"                                    with no releases.release_key, the\n"
	"                                    folder DIR) and roll it out in\n"
	"                                    rings: the pilot PCs, then\n"
	"                                    releases.stable_percent_per_hour;\n"
	"                                    halts by itself when too many fail;\n"
	"                                    a rollback release may go back\n"
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
	"  score --snapshot                  record today's scores now (serve records\n"
	"                                    them daily by itself)\n"
	"  score history (--school CODE | --commune NAME | --province) [--limit N]\n"
	"  alerts list [--state open|acknowledged|resolved] [--school CODE]\n"
	"              [--limit N] [--json]\n"
	"  alerts ack ID --by NAME           an officer takes the alert\n"
	"  alerts resolve ID --by NAME       the incident is over\n"
	"  system add UNIT NAME --kind KIND --level 1-5 [--set COLUMN=VALUE]...\n"
	"  system set ID --set COLUMN=VALUE...\n"
	"                                    an information system of a school (or\n"
	"                                    the department); columns: dossier\n"
	"                                    (not_started|drafted|submitted|approved),\n"
	"                                    authority, decision_no, decision_date,\n"
	"                                    review_due, hosts, name, kind, level, unit.\n"
	"                                    A school's policy level is its highest\n"
	"                                    approved system's\n"
	"  system list [--school UNIT] [--json]\n"
	"  system import FILE.csv            the register from a CSV with a header\n"
	"                                    row; one bad row imports nothing\n"
	"  report draft|show|export --period 2026-H1|2026\n"
	"               --scope province|commune:NAME|school:CODE\n"
	"               [--format pdf|xlsx|csv|json] [--out PATH] [--set remarks=TEXT]\n"
	"                                    the six-monthly (H1: 1 Dec-31 May) or\n"
	"                                    annual (1 Dec-30 Nov) report\n"
	"  report sign --period P --scope S --by NAME\n"
	"                                    freeze it: PDF archived with its SHA-256,\n"
	"                                    signed with the CA key\n"
	"  report list [--period P] [--scope S] [--json]\n"
	"  report verify FILE.pdf            check an archived report's signature\n"
	"  drill plan --name N --type SCENARIO --by USER --school CODE|--commune NAME\n"
	"             --expires WINDOW       plan an incident drill (rules/drills/)\n"
	"  drill approve --name N --by USER  a second person, a province_admin\n"
	"  drill start --name N              signed commands to the PCs in scope\n"
	"  drill abort --name N --by USER    stop it and clean up everywhere\n"
	"  drill status --name N [--json]    its timeline and scoreboard\n"
	"  drill plan ... --type red-team    a red-team window: no injection,\n"
	"                                    the red team's actions are scored\n"
	"  drill action add --name N --by USER --set time=T --set target=host:H|school:C\n"
	"             --set technique=T1059.001 --set description=TEXT\n"
	"  drill action import --name N --by USER --csv FILE  (time,target,technique,description)\n"
	"  forward dead-letter list [--limit N] [--json]\n"
	"                                    alerts a SOC destination refused for\n"
	"                                    good, parked so the rest went on\n"
	"  user add NAME ROLE [SCOPE]        an account for the web console; prints\n"
	"                                    a one-time password (and a TOTP secret\n"
	"                                    for province_admin). Roles:\n"
	"                                    province_admin, province_officer,\n"
	"                                    commune_officer COMMUNE, school_officer\n"
	"                                    CODE, soc_viewer, drill_organiser, auditor\n"
	"  user list [--json]\n"
	"  user disable NAME | user unlock NAME | user passwd NAME\n"
	"  user role NAME ROLE [SCOPE]\n"
	"  store migrate --from sqlite:PATH --to postgresql://... [--batch N]\n"
	"                                    copy a SQLite store into an empty\n"
	"                                    PostgreSQL one, counts verified\n"
	"\n"
	"Options for every command but init and version (each command takes\n"
	"only the options shown with it; any other is a usage error):\n"
	"  -c, --config FILE   collector.yaml (default $EDUWATCH_COLLECTOR_CONFIG or\n"
	"                      /etc/eduwatch/collector.yaml)\n"
	"  -o, --option KEY=VALUE  a setting over the file's, by its dotted key\n"
	"                      (-o ingest.port=0 -o log.level=debug); repeatable;\n"
	"                      a list takes VALUE,VALUE\n"
	"  -h, --help          this text\n"
	"\n"
	"Exit codes: 0 done, 1 runtime failure, 2 usage error, 3 bad configuration\n"
	"(also: a command that signs, on a collector without DIR/ca.key), 4 no\n"
	"such school or agent.\n";

#define S CLI_NEEDS_SETTINGS
#define ST (CLI_NEEDS_SETTINGS | CLI_NEEDS_STORE)
/* Whatever reads collector.yaml also takes -o KEY=VALUE over it. */
#define C (CLI_OPT_CONFIG | CLI_OPT_OVERRIDE)

/* Looked up by command and second word; an entry whose sub is NULL takes
 * any other second word (or none), which for most commands is a usage
 * error its check() explains. */
static const struct cli_command commands[] = {
	{"init", NULL, cmd_init_check, cmd_init, 0,
	 CLI_OPT_DIR | CLI_OPT_NAME | CLI_OPT_RULES},
	{"setup", NULL, cmd_setup_check, cmd_setup, 0,
	 CLI_OPT_DIR | CLI_OPT_NAME | CLI_OPT_RULES | CLI_OPT_SCHOOLS |
		 CLI_OPT_ADMIN | CLI_OPT_OUT | CLI_OPT_EXPIRES |
		 CLI_OPT_NONINTERACTIVE | CLI_OPT_OVERRIDE},
	{"serve", NULL, NULL, cmd_serve, S, C},
	{"version", NULL, NULL, cmd_version, 0, 0},
	{"store", "migrate", cmd_store_check, cmd_store_migrate, 0,
	 CLI_OPT_FROM | CLI_OPT_TO | CLI_OPT_BATCH},
	{"store", NULL, cmd_store_check, NULL, 0, CLI_OPT_ALL},
	{"school", "add", cmd_school_add_check, cmd_school_add, ST,
	 C | CLI_OPT_COMMUNE | CLI_OPT_LEVEL | CLI_OPT_EXPECTED},
	{"school", "list", NULL, cmd_school_list, ST, C | CLI_OPT_JSON},
	{"school", NULL, cmd_school_check, NULL, 0, CLI_OPT_ALL},
	/* Tokens are for enrollment, which only the collector holding the
	 * CA key serves: CLI_NEEDS_CA refuses them (exit 3) elsewhere. */
	{"token", "create", cmd_token_create_check, cmd_token_create,
	 ST | CLI_NEEDS_CA,
	 C | CLI_OPT_SCHOOL | CLI_OPT_USES | CLI_OPT_EXPIRES},
	{"token", NULL, cmd_token_check, NULL, 0, CLI_OPT_ALL},
	{"agent", "list", NULL, cmd_agent_list, ST,
	 C | CLI_OPT_SCHOOL | CLI_OPT_JSON},
	{"agent", "revoke", cmd_agent_revoke_check, cmd_agent_revoke, ST, C},
	{"agent", "enroll-string", cmd_agent_enroll_string_check,
	 cmd_agent_enroll_string, ST | CLI_NEEDS_CA,
	 C | CLI_OPT_SCHOOL | CLI_OPT_NAME | CLI_OPT_USES | CLI_OPT_EXPIRES},
	{"agent", NULL, cmd_agent_check, NULL, 0, CLI_OPT_ALL},
	{"agent-release", "status", NULL, cmd_agent_release_status, ST,
	 C | CLI_OPT_SCHOOL | CLI_OPT_JSON},
	{"agent-release", "publish", cmd_agent_release_publish_check,
	 cmd_agent_release_publish, ST | CLI_NEEDS_CA,
	 C | CLI_OPT_CHANNEL | CLI_OPT_ROLLBACK},
	/* Run on the offline machine: no collector.yaml, no state. */
	{"agent-release", "keygen", cmd_agent_release_keygen_check,
	 cmd_agent_release_keygen, 0, CLI_OPT_OUT},
	{"agent-release", "sign", cmd_agent_release_sign_check,
	 cmd_agent_release_sign, 0, CLI_OPT_PATH | CLI_OPT_OUT | CLI_OPT_ROLLBACK},
	{"agent-release", NULL, cmd_agent_release_check, NULL, 0, CLI_OPT_ALL},
	{"events", "count", cmd_events_check, cmd_events_count, ST,
	 C | CLI_OPT_AGENT | CLI_OPT_BOOT},
	{"events", "list", cmd_events_check, cmd_events_list, ST,
	 C | CLI_OPT_AGENT | CLI_OPT_LIMIT | CLI_OPT_JSON},
	{"events", NULL, cmd_events_check, NULL, 0, CLI_OPT_ALL},
	{"command", "send", cmd_command_check, cmd_command_send, ST,
	 C | CLI_OPT_AGENT | CLI_OPT_TYPE | CLI_OPT_EXPIRES | CLI_OPT_KIND |
		 CLI_OPT_PATH},
	{"command", NULL, cmd_command_check, NULL, 0, CLI_OPT_ALL},
	{"rules", "publish", NULL, cmd_rules_publish, ST | CLI_NEEDS_CA,
	 C | CLI_OPT_AGENT},
	{"rules", "list", NULL, cmd_rules_list, S, C | CLI_OPT_JSON},
	{"rules", NULL, cmd_rules_check, NULL, 0, CLI_OPT_ALL},
	{"ioc", "publish", cmd_ioc_check, cmd_ioc_publish, ST | CLI_NEEDS_CA,
	 C | CLI_OPT_AGENT},
	{"ioc", NULL, cmd_ioc_check, NULL, 0, CLI_OPT_ALL},
	{"backup-key", "recover", cmd_backup_key_check, cmd_backup_key_recover,
	 ST, C | CLI_OPT_AGENT | CLI_OPT_OUT},
	{"backup-key", NULL, cmd_backup_key_check, NULL, 0, CLI_OPT_ALL},
	{"score", "history", cmd_score_history_check, cmd_score_history, ST,
	 C | CLI_OPT_SCHOOL | CLI_OPT_COMMUNE | CLI_OPT_PROVINCE |
		 CLI_OPT_LIMIT | CLI_OPT_JSON},
	{"score", NULL, cmd_score_check, cmd_score, ST | CLI_NEEDS_POLICY,
	 C | CLI_OPT_SCHOOL | CLI_OPT_COMMUNE | CLI_OPT_JSON |
		 CLI_OPT_SNAPSHOT},
	{"alerts", "list", cmd_alerts_check, cmd_alerts_list, ST,
	 C | CLI_OPT_STATE | CLI_OPT_SCHOOL | CLI_OPT_LIMIT | CLI_OPT_JSON},
	{"alerts", "ack", cmd_alerts_set_check, cmd_alerts_set, ST,
	 C | CLI_OPT_BY},
	{"alerts", "resolve", cmd_alerts_set_check, cmd_alerts_set, ST,
	 C | CLI_OPT_BY},
	{"alerts", NULL, cmd_alerts_check, NULL, 0, CLI_OPT_ALL},
	{"forward", "dead-letter", cmd_forward_check, cmd_forward_dead_letters,
	 ST, C | CLI_OPT_LIMIT | CLI_OPT_JSON},
	{"forward", NULL, cmd_forward_check, NULL, 0, CLI_OPT_ALL},
	{"user", "list", NULL, cmd_user, ST, C | CLI_OPT_JSON},
	{"user", "add", cmd_user_args_check, cmd_user, ST, C},
	{"user", "disable", cmd_user_args_check, cmd_user, ST, C},
	{"user", "unlock", cmd_user_args_check, cmd_user, ST, C},
	{"user", "passwd", cmd_user_args_check, cmd_user, ST, C},
	{"user", "role", cmd_user_args_check, cmd_user, ST, C},
	{"user", NULL, cmd_user_check, NULL, 0, CLI_OPT_ALL},
	{"system", "add", cmd_system_add_check, cmd_system_add, ST,
	 C | CLI_OPT_KIND | CLI_OPT_LEVEL | CLI_OPT_SET},
	{"system", "set", cmd_system_set_check, cmd_system_set, ST,
	 C | CLI_OPT_SET},
	{"system", "list", NULL, cmd_system_list, ST,
	 C | CLI_OPT_SCHOOL | CLI_OPT_JSON},
	{"system", "import", cmd_system_import_check, cmd_system_import, ST, C},
	{"system", NULL, cmd_system_check, NULL, 0, CLI_OPT_ALL},
	{"report", "draft", cmd_report_scoped_check, cmd_report_draft,
	 ST | CLI_NEEDS_POLICY,
	 C | CLI_OPT_PERIOD | CLI_OPT_SCOPE | CLI_OPT_SET | CLI_OPT_FORMAT |
		 CLI_OPT_OUT},
	{"report", "show", cmd_report_scoped_check, cmd_report_show,
	 ST | CLI_NEEDS_POLICY, C | CLI_OPT_PERIOD | CLI_OPT_SCOPE},
	{"report", "export", cmd_report_scoped_check, cmd_report_export,
	 ST | CLI_NEEDS_POLICY,
	 C | CLI_OPT_PERIOD | CLI_OPT_SCOPE | CLI_OPT_FORMAT | CLI_OPT_OUT},
	{"report", "sign", cmd_report_scoped_check, cmd_report_sign,
	 ST | CLI_NEEDS_POLICY | CLI_NEEDS_CA,
	 C | CLI_OPT_PERIOD | CLI_OPT_SCOPE | CLI_OPT_BY},
	{"report", "list", NULL, cmd_report_list, ST,
	 C | CLI_OPT_PERIOD | CLI_OPT_SCOPE | CLI_OPT_JSON},
	{"report", "verify", cmd_report_verify_check, cmd_report_verify, S, C},
	{"report", NULL, cmd_report_check, NULL, 0, CLI_OPT_ALL},
	{"drill", "plan", cmd_drill_args_check, cmd_drill_plan, ST,
	 C | CLI_OPT_NAME | CLI_OPT_TYPE | CLI_OPT_BY | CLI_OPT_SCHOOL |
		 CLI_OPT_COMMUNE | CLI_OPT_EXPIRES | CLI_OPT_RULES},
	{"drill", "approve", cmd_drill_args_check, cmd_drill_approve, ST,
	 C | CLI_OPT_NAME | CLI_OPT_BY},
	{"drill", "start", cmd_drill_args_check, cmd_drill_start, ST,
	 C | CLI_OPT_NAME | CLI_OPT_RULES},
	{"drill", "abort", cmd_drill_args_check, cmd_drill_abort, ST,
	 C | CLI_OPT_NAME | CLI_OPT_BY},
	{"drill", "status", cmd_drill_args_check, cmd_drill_status, ST,
	 C | CLI_OPT_NAME | CLI_OPT_JSON},
	{"drill", "action", cmd_drill_args_check, cmd_drill_action, ST,
	 C | CLI_OPT_NAME | CLI_OPT_BY | CLI_OPT_SET | CLI_OPT_PATH},
	{"drill", NULL, cmd_drill_check, NULL, 0, CLI_OPT_ALL},
};

#undef S
#undef ST
#undef C

/* Each long option with its bit; val is getopt's. */
static const struct {
	struct option opt;
	unsigned long long bit;
} options[] = {
	{{"config", required_argument, NULL, 'c'}, CLI_OPT_CONFIG},
	{{"dir", required_argument, NULL, 'd'}, CLI_OPT_DIR},
	{{"name", required_argument, NULL, 'n'}, CLI_OPT_NAME},
	{{"commune", required_argument, NULL, 'm'}, CLI_OPT_COMMUNE},
	{{"level", required_argument, NULL, 'l'}, CLI_OPT_LEVEL},
	{{"expected-pcs", required_argument, NULL, 'e'}, CLI_OPT_EXPECTED},
	{{"school", required_argument, NULL, 's'}, CLI_OPT_SCHOOL},
	{{"uses", required_argument, NULL, 'u'}, CLI_OPT_USES},
	{{"limit", required_argument, NULL, 'L'}, CLI_OPT_LIMIT},
	{{"expires", required_argument, NULL, 'x'}, CLI_OPT_EXPIRES},
	{{"agent", required_argument, NULL, 'a'}, CLI_OPT_AGENT},
	{{"type", required_argument, NULL, 'T'}, CLI_OPT_TYPE},
	{{"boot", required_argument, NULL, 'b'}, CLI_OPT_BOOT},
	{{"json", no_argument, NULL, 'j'}, CLI_OPT_JSON},
	{{"rules", required_argument, NULL, 'P'}, CLI_OPT_RULES},
	{{"state", required_argument, NULL, 'Z'}, CLI_OPT_STATE},
	{{"by", required_argument, NULL, 'B'}, CLI_OPT_BY},
	{{"snapshot", no_argument, NULL, 'S'}, CLI_OPT_SNAPSHOT},
	{{"province", no_argument, NULL, 'R'}, CLI_OPT_PROVINCE},
	{{"kind", required_argument, NULL, 'K'}, CLI_OPT_KIND},
	{{"out", required_argument, NULL, 'O'}, CLI_OPT_OUT},
	{{"path", required_argument, NULL, 'p'}, CLI_OPT_PATH},
	{{"set", required_argument, NULL, 'E'}, CLI_OPT_SET},
	{{"period", required_argument, NULL, 'W'}, CLI_OPT_PERIOD},
	{{"scope", required_argument, NULL, 'Y'}, CLI_OPT_SCOPE},
	{{"format", required_argument, NULL, 'F'}, CLI_OPT_FORMAT},
	{{"option", required_argument, NULL, 'o'}, CLI_OPT_OVERRIDE},
	{{"schools", required_argument, NULL, 1000}, CLI_OPT_SCHOOLS},
	{{"admin", required_argument, NULL, 1001}, CLI_OPT_ADMIN},
	{{"non-interactive", no_argument, NULL, 1002}, CLI_OPT_NONINTERACTIVE},
	{{"channel", required_argument, NULL, 1003}, CLI_OPT_CHANNEL},
	{{"rollback", no_argument, NULL, 1004}, CLI_OPT_ROLLBACK},
	/* drill action import --csv FILE: a path by its purpose's name */
	{{"csv", required_argument, NULL, 1005}, CLI_OPT_PATH},
	/* agent-release sign --key PRIVATE.pem: the same */
	{{"key", required_argument, NULL, 1006}, CLI_OPT_PATH},
	{{"from", required_argument, NULL, 1007}, CLI_OPT_FROM},
	{{"to", required_argument, NULL, 1008}, CLI_OPT_TO},
	{{"batch", required_argument, NULL, 1009}, CLI_OPT_BATCH},
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

static unsigned long long option_bit(int val)
{
	for (size_t i = 0; i < NOPTIONS; i++)
		if (options[i].opt.val == val)
			return options[i].bit;
	return 0;
}

static int parse_cli(int argc, char **argv, struct cli *cli)
{
	struct option opts[NOPTIONS + 2];
	int ch;
	for (size_t i = 0; i < NOPTIONS; i++)
		opts[i] = options[i].opt;
	opts[NOPTIONS] = (struct option){"help", no_argument, NULL, 'h'};
	opts[NOPTIONS + 1] = (struct option){NULL, 0, NULL, 0};
	memset(cli, 0, sizeof(*cli));
	cli->config = getenv("EDUWATCH_COLLECTOR_CONFIG");
	if (cli->config == NULL)
		cli->config = "/etc/eduwatch/collector.yaml";
	cli->uses = 1;
	cli->expires = "7d";
	cli->level = -1;
	cli->expected = -1;
	while ((ch = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
		cli->seen |= option_bit(ch);
		switch (ch) {
		case 'c': cli->config = optarg; break;
		case 'o':
			if (cli->noverrides == CLI_SETS_MAX)
				return cli_usage_error("at most %d -o",
						       CLI_SETS_MAX);
			cli->overrides[cli->noverrides++] = optarg;
			break;
		case 'd': cli->dir = optarg; break;
		case 'n':
			if (cli->nnames == 16)
				return cli_usage_error("at most 16 --name");
			cli->names[cli->nnames++] = optarg;
			break;
		case 'm': cli->commune = optarg; break;
		case 'l':
			if (cli_parse_long(optarg, 1, 5, &cli->level))
				return cli_usage_error("--level must be 1..5, "
						       "not '%s'", optarg);
			break;
		case 'e':
			if (cli_parse_long(optarg, 0, 100000, &cli->expected))
				return cli_usage_error("--expected-pcs must be "
						       "a count, not '%s'",
						       optarg);
			break;
		case 's': cli->school = optarg; break;
		case 'u':
			if (cli_parse_long(optarg, 1, 100000, &cli->uses))
				return cli_usage_error("--uses must be "
						       "1..100000, not '%s'",
						       optarg);
			break;
		case 'L':
			if (cli_parse_long(optarg, 1, 100000, &cli->limit))
				return cli_usage_error("--limit must be "
						       "1..100000, not '%s'",
						       optarg);
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
				return cli_usage_error("at most 16 --path");
			cli->paths[cli->npaths++] = optarg;
			break;
		case 'E':
			if (cli->nsets == 32)
				return cli_usage_error("at most 32 --set");
			cli->sets[cli->nsets++] = optarg;
			break;
		case 'W': cli->period = optarg; break;
		case 'Y': cli->scope = optarg; break;
		case 'F': cli->format = optarg; break;
		case 'a': cli->agent = optarg; break;
		case 'b': {
			char *end;
			cli->boot = strtoull(optarg, &end, 10);
			if (*end)
				return cli_usage_error("--boot must be a "
						       "number, not '%s'",
						       optarg);
			break;
		}
		case 'j': cli->json = true; break;
		case 'P': cli->rules = optarg; break;
		case 'Z': cli->state = optarg; break;
		case 'B': cli->by = optarg; break;
		case 'S': cli->snapshot = true; break;
		case 'R': cli->province = true; break;
		case 1000: cli->schools_csv = optarg; break;
		case 1001: cli->admin = optarg; break;
		case 1002: cli->non_interactive = true; break;
		case 1003: cli->channel = optarg; break;
		case 1004: cli->rollback = true; break;
		case 1005:
		case 1006:
			if (cli->npaths == 16)
				return cli_usage_error("at most 16 --path");
			cli->paths[cli->npaths++] = optarg;
			break;
		case 1007: cli->from = optarg; break;
		case 1008: cli->to = optarg; break;
		case 1009:
			if (cli_parse_long(optarg, 1, 10000000, &cli->batch))
				return cli_usage_error("--batch must be "
						       "1..10000000, not '%s'",
						       optarg);
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(EXIT_OK);
		default:
			return EXIT_USAGE;
		}
	}
	cli->argc = argc - optind;
	cli->argv = argv + optind;
	settings_set_overrides(cli->overrides, cli->noverrides);
	return 0;
}

static const struct cli_command *find_command(const struct cli *cli)
{
	const char *name = cli->argv[0];
	const char *sub = cli->argc > 1 ? cli->argv[1] : NULL;
	const struct cli_command *any = NULL;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct cli_command *c = &commands[i];
		if (strcmp(c->name, name) != 0)
			continue;
		if (c->sub == NULL)
			any = c;
		else if (sub && strcmp(c->sub, sub) == 0)
			return c;
	}
	return any;
}

/* The first option given that the command does not take, as a usage
 * error naming both; 0 when there is none. */
static int check_options(const struct cli *cli, const struct cli_command *c)
{
	unsigned long long extra = cli->seen & ~c->options;
	if (extra == 0)
		return 0;
	for (size_t i = 0; i < NOPTIONS; i++)
		if (extra & options[i].bit)
			return cli_usage_error("'%s%s%s' does not take --%s",
					       c->name, c->sub ? " " : "",
					       c->sub ? c->sub : "",
					       options[i].opt.name);
	return EXIT_USAGE;
}

/* Opens what the command needs, in order. Returns 0 or the exit status,
 * having said why; what was opened is in env either way. */
static int open_env(const struct cli *cli, unsigned needs,
		    struct cli_env *env)
{
	char err[512];
	int rc;
	if ((needs & CLI_NEEDS_SETTINGS) &&
	    (rc = cli_load_settings(cli->config, &env->settings)) != 0)
		return rc;
	if ((needs & CLI_NEEDS_STORE) &&
	    (rc = cli_open_store(&env->settings, &env->store)) != 0)
		return rc;
	if ((needs & CLI_NEEDS_POLICY) &&
	    policy_set_load(env->settings.policy_dir, &env->policies, err,
			    sizeof(err)) != 0) {
		/* Freed by the failed load: close_env must not again. */
		memset(&env->policies, 0, sizeof(env->policies));
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return EXIT_CONFIG;
	}
	if ((needs & CLI_NEEDS_CA) &&
	    ca_load(env->settings.state_dir, &env->ca, err, sizeof(err)) != 0) {
		env->ca = NULL;
		fprintf(stderr, "eduwatch-collector: %s\n", err);
		return EXIT_CONFIG;
	}
	return 0;
}

static void close_env(unsigned needs, struct cli_env *env)
{
	ca_free(env->ca);
	if ((needs & CLI_NEEDS_POLICY) && env->store)
		policy_set_free(&env->policies);
	if (env->store)
		store_close(env->store);
}

int main(int argc, char **argv)
{
	struct cli cli;
	static struct cli_env env;
	log_setup("eduwatch-collector", LOG_LEVEL_INFO);
	int rc = parse_cli(argc, argv, &cli);
	if (rc != 0)
		return rc;
	if (cli.argc < 1) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	const struct cli_command *c = find_command(&cli);
	if (c == NULL)
		return cli_usage_error("unknown command '%s'", cli.argv[0]);
	if ((rc = check_options(&cli, c)) != 0)
		return rc;
	if (c->check && (rc = c->check(&cli)) != 0)
		return rc;
	if (c->run == NULL) /* every fallback's check refuses */
		return EXIT_USAGE;
	rc = open_env(&cli, c->needs, &env);
	if (rc == 0)
		rc = c->run(&cli, &env);
	close_env(c->needs, &env);
	return rc;
}
