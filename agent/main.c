/* eduwatch-agent: command-line entry point. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "agent/core/agent.h"
#include "agent/av/avprobe.h"
#include "agent/backup/backupcli.h"
#include "agent/net/netsensor.h"
#include "agent/scan/quarantine.h"
#include "agent/core/rulestore.h"
#include "agent/scan/scanchild.h"
#include "agent/scan/scancli.h"
#include "agent/core/settings.h"
#include "agent/core/spool.h"
#include "common/enroll_client.h"
#include "common/hostname.h"
#include "common/jsonout.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/pki.h"
#include "common/textsafe.h"
#include "common/version.h"

enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,
	EXIT_USAGE = 2,
	EXIT_CONFIG = 3,
	EXIT_NOT_ENROLLED = 4,
};

static const char usage_text[] =
	"usage: eduwatch-agent COMMAND [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  enroll --collector HOST:PORT --token T (--ca CAFILE | --ca-sha256 HEX)\n"
	"         [--enroll-port N] [--state-dir DIR]\n"
	"                      enroll this PC once; writes the key (0600), the\n"
	"                      certificate, the pinned CA and, if missing, -c FILE\n"
	"  run                 run in the foreground (SIGTERM stops, SIGHUP reloads)\n"
	"  status              enrolled? running? connected? spool depth, last ack\n"
	"  sniff --pcap FILE [--ioc FILE] [--gateway-mac MAC] [--json]\n"
	"                      run the LAN sensor's detectors over a capture file\n"
	"                      (settings from -c when the file exists)\n"
	"  scan PATH... [--rules FILE|DIR]... [--json] [--jobs N] [--cpu PCT]\n"
	"       [--no-cache] [--verbose]\n"
	"                      scan with YARA: the installed rule bundle, or\n"
	"                      rule files compiled on the spot; exit 5 when\n"
	"                      something matched\n"
	"  av [--json]         what the antivirus products on this PC report now;\n"
	"                      exit 1 when nothing protects it in real time\n"
	"  backup init | run [PATH...] | list | verify [--read-data] | repair\n"
	"       | restore SNAPSHOT [PATH] --to DIR [--allow-shared-target]\n"
	"         [--keep-damaged]\n"
	"       | prune --keep-daily N --keep-weekly N --keep-monthly N\n"
	"       [--repo DIR] [--password-file F] [--json]\n"
	"                      encrypted, deduplicated backups (backup.* settings;\n"
	"                      the passphrase may come from EDUWATCH_BACKUP_PASSWORD)\n"
	"  quarantine list [--json] | quarantine restore ID [--to PATH]\n"
	"                      files moved aside by scans (scan.quarantine)\n"
	"  rules show | rules install FILE\n"
	"                      the installed rule bundle; install one by hand\n"
	"                      (it must be signed by the collector's CA)\n"
	"  version\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE   agent.yaml (default $EDUWATCH_AGENT_CONFIG or\n"
	"                      /etc/eduwatch/agent.yaml)\n"
	"  -h, --help          this text\n"
	"\n"
	"Exit codes: 0 done, 1 runtime failure, 2 usage error, 3 bad configuration,\n"
	"4 not enrolled.\n";

struct cli {
	const char *config;
	const char *collector;
	const char *token;
	const char *ca;
	const char *ca_sha256;
	const char *state_dir;
	int enroll_port;
	const char *pcap;
	const char *ioc;
	const char *gateway_mac;
	const char *rules[16];
	size_t nrules;
	int jobs;
	int cpu;
	bool no_cache;
	bool verbose;
	const char *to;
	const char *repo;
	const char *password_file;
	bool read_data;
	bool allow_shared_target;
	bool keep_damaged;
	int keep[3];
	bool json;
	int argc;
	char **argv;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "eduwatch-agent: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'eduwatch-agent --help'.\n");
	return EXIT_USAGE;
}

static int parse_cli(int argc, char **argv, struct cli *cli)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"collector", required_argument, NULL, 'C'},
		{"token", required_argument, NULL, 't'},
		{"ca", required_argument, NULL, 'a'},
		{"ca-sha256", required_argument, NULL, 'f'},
		{"enroll-port", required_argument, NULL, 'e'},
		{"state-dir", required_argument, NULL, 's'},
		{"pcap", required_argument, NULL, 'p'},
		{"ioc", required_argument, NULL, 'i'},
		{"gateway-mac", required_argument, NULL, 'g'},
		{"json", no_argument, NULL, 'j'},
		{"rules", required_argument, NULL, 'r'},
		{"jobs", required_argument, NULL, 'J'},
		{"cpu", required_argument, NULL, 'P'},
		{"no-cache", no_argument, NULL, 'N'},
		{"verbose", no_argument, NULL, 'v'},
		{"to", required_argument, NULL, 'T'},
		{"repo", required_argument, NULL, 'R'},
		{"password-file", required_argument, NULL, 'W'},
		{"read-data", no_argument, NULL, 'D'},
		{"allow-shared-target", no_argument, NULL, 'S'},
		{"keep-damaged", no_argument, NULL, 'K'},
		{"keep-daily", required_argument, NULL, '1'},
		{"keep-weekly", required_argument, NULL, '2'},
		{"keep-monthly", required_argument, NULL, '3'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int ch;
	memset(cli, 0, sizeof(*cli));
	cli->config = getenv("EDUWATCH_AGENT_CONFIG");
	if (cli->config == NULL)
		cli->config = "/etc/eduwatch/agent.yaml";
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': cli->config = optarg; break;
		case 'C': cli->collector = optarg; break;
		case 't': cli->token = optarg; break;
		case 'a': cli->ca = optarg; break;
		case 'f': cli->ca_sha256 = optarg; break;
		case 's': cli->state_dir = optarg; break;
		case 'p': cli->pcap = optarg; break;
		case 'i': cli->ioc = optarg; break;
		case 'g': cli->gateway_mac = optarg; break;
		case 'j': cli->json = true; break;
		case 'N': cli->no_cache = true; break;
		case 'v': cli->verbose = true; break;
		case 'T': cli->to = optarg; break;
		case 'R': cli->repo = optarg; break;
		case 'W': cli->password_file = optarg; break;
		case 'D': cli->read_data = true; break;
		case 'S': cli->allow_shared_target = true; break;
		case 'K': cli->keep_damaged = true; break;
		case '1':
		case '2':
		case '3': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 0 || v > 10000)
				return usage_error("--keep-* must be a count, not '%s'",
						   optarg);
			cli->keep[ch - '1'] = (int)v;
			break;
		}
		case 'r':
			if (cli->nrules >= sizeof(cli->rules) / sizeof(cli->rules[0]))
				return usage_error("at most 16 --rules");
			cli->rules[cli->nrules++] = optarg;
			break;
		case 'J':
		case 'P': {
			char *end;
			long v = strtol(optarg, &end, 10);
			long hi = ch == 'J' ? 8 : 100;
			if (*end || v < 1 || v > hi)
				return usage_error("--%s must be 1..%ld, not '%s'",
						   ch == 'J' ? "jobs" : "cpu", hi,
						   optarg);
			*(ch == 'J' ? &cli->jobs : &cli->cpu) = (int)v;
			break;
		}
		case 'e': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 65535)
				return usage_error("--enroll-port must be a port, "
						   "not '%s'", optarg);
			cli->enroll_port = (int)v;
			break;
		}
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

static int load(const struct cli *cli, struct agent_settings *s)
{
	char err[512];
	if (agent_settings_load(cli->config, s, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-agent: %s\n", err);
		return EXIT_CONFIG;
	}
	log_setup("eduwatch-agent", s->log_level);
	return 0;
}

static int cmd_enroll(const struct cli *cli)
{
	char host[256], err[512], hostname[128] = "unknown";
	X509 *ca = NULL;
	EVP_PKEY *key = NULL;
	struct enroll_result res = {0};
	struct agent_settings s;
	struct agent_paths paths;
	int rc = EXIT_RUNTIME;

	if (cli->collector == NULL || cli->token == NULL ||
	    (cli->ca == NULL) == (cli->ca_sha256 == NULL))
		return usage_error("enroll needs --collector HOST:PORT, --token "
				   "and one of --ca FILE or --ca-sha256 HEX");
	const char *colon = strrchr(cli->collector, ':');
	char *end;
	long port = colon ? strtol(colon + 1, &end, 10) : 0;
	if (colon == NULL || *end || port < 1 || port > 65535 ||
	    (size_t)(colon - cli->collector) >= sizeof(host))
		return usage_error("--collector must be HOST:PORT, not '%s'",
				   cli->collector);
	snprintf(host, sizeof(host), "%.*s", (int)(colon - cli->collector),
		 cli->collector);
	int enroll_port = cli->enroll_port ? cli->enroll_port : (int)port + 1;
	const char *state_dir = cli->state_dir;
	if (access(cli->config, F_OK) == 0) {
		if (load(cli, &s) != 0)
			return EXIT_CONFIG;
		if (state_dir == NULL)
			state_dir = s.state_dir;
	}
	if (state_dir == NULL)
		state_dir = "/var/lib/eduwatch-agent";
	agent_paths_for(state_dir, &paths);
	if (access(paths.cert, F_OK) == 0) {
		fprintf(stderr, "eduwatch-agent: already enrolled (%s exists); "
				"remove the state directory to enroll again\n",
			paths.cert);
		return EXIT_RUNTIME;
	}
	if (mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "eduwatch-agent: cannot create %s: %s\n",
			state_dir, uv_strerror(-errno));
		return EXIT_RUNTIME;
	}
	if (cli->ca != NULL && pki_read_cert(cli->ca, &ca) != 0) {
		fprintf(stderr, "eduwatch-agent: cannot read the CA certificate "
				"%s\n", cli->ca);
		return EXIT_CONFIG;
	}
	/* The collector takes only plain names; map ours into that set so an
	 * odd local name (a space, a Vietnamese letter) never blocks it. */
	char raw_hostname[256] = "";
	gethostname(raw_hostname, sizeof(raw_hostname) - 1);
	hostname_sanitize(raw_hostname, hostname, sizeof(hostname));
	struct enroll_request req = {
		.host = host, .port = enroll_port, .ca = ca,
		.ca_sha256 = cli->ca_sha256,
		.token = cli->token, .hostname = hostname,
		.version = EDUWATCH_VERSION, .timeout_ms = 30000,
	};
	if (pki_key_new(&key) != 0)
		goto done;
	req.key = key;
	if (enroll_client_run(&req, &res, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-agent: %s\n", err);
		goto done;
	}
	/* Key first, 0600: a certificate without its key is useless, the
	 * reverse would leave a stray key. */
	if (pki_write_key(paths.key, key) != 0 ||
	    pki_write_cert(paths.ca, res.ca) != 0 ||
	    pki_write_cert(paths.cert, res.cert) != 0) {
		fprintf(stderr, "eduwatch-agent: cannot write into %s\n",
			state_dir);
		goto done;
	}
	if (access(cli->config, F_OK) != 0 &&
	    agent_settings_write(cli->config, state_dir, host, (int)port,
				 enroll_port, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-agent: %s\n", err);
		goto done;
	}
	printf("enrolled as agent %s of school %s\n"
	       "state: %s\nsettings: %s\nnext: eduwatch-agent run -c %s\n",
	       res.agent, res.school, state_dir, cli->config, cli->config);
	rc = EXIT_OK;
done:
	X509_free(ca);
	X509_free(res.ca);
	X509_free(res.cert);
	EVP_PKEY_free(key);
	return rc;
}

/* Reads "key=value" lines of the status file into a small table. */
struct status_file {
	char keys[24][32];
	char values[24][200];
	int n;
};

static void read_status(const char *path, struct status_file *sf)
{
	FILE *f = fopen(path, "re");
	char line[300];
	sf->n = 0;
	if (f == NULL)
		return;
	while (sf->n < 24 && fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		eq[1 + strcspn(eq + 1, "\n")] = '\0';
		snprintf(sf->keys[sf->n], sizeof(sf->keys[0]), "%s", line);
		snprintf(sf->values[sf->n], sizeof(sf->values[0]), "%s", eq + 1);
		sf->n++;
	}
	fclose(f);
}

static const char *status_get(const struct status_file *sf, const char *key)
{
	for (int i = 0; i < sf->n; i++)
		if (strcmp(sf->keys[i], key) == 0)
			return sf->values[i];
	return "";
}

static int cmd_status(const struct cli *cli)
{
	struct agent_settings s;
	struct agent_paths paths;
	struct status_file sf;
	X509 *cert = NULL;
	char id[EVENT_AGENT_MAX + 1] = "", school[PKI_ID_MAX + 1] = "";
	if (load(cli, &s) != 0)
		return EXIT_CONFIG;
	agent_paths_for(s.state_dir, &paths);
	printf("eduwatch-agent %s\n", EDUWATCH_VERSION);
	if (pki_read_cert(paths.cert, &cert) != 0) {
		printf("enrolled:   no (run 'eduwatch-agent enroll')\n");
		return EXIT_NOT_ENROLLED;
	}
	pki_cert_identity(cert, id, sizeof(id), school, sizeof(school));
	X509_free(cert);
	printf("enrolled:   yes, agent %s, school %s, collector %s:%lld\n", id,
	       school, s.collector_host, s.collector_port);
	read_status(paths.status, &sf);
	long pid = strtol(status_get(&sf, "pid"), NULL, 10);
	bool running = pid > 0 && kill((pid_t)pid, 0) == 0;
	printf("running:    %s", running ? "yes" : "no");
	if (running)
		printf(" (pid %ld, memory %s KiB)", pid, status_get(&sf, "rss_kib"));
	printf("\n");
	if (running && strcmp(status_get(&sf, "connected"), "yes") == 0)
		printf("connected:  yes, since %s\n",
		       status_get(&sf, "connected_since"));
	else
		printf("connected:  no%s%s\n",
		       status_get(&sf, "last_error")[0] ? ", last error: " : "",
		       status_get(&sf, "last_error"));
	/* The spool is the truth for depth, whether or not the agent runs. */
	struct spool *sp;
	struct spool_open_info info;
	char err[256];
	if (spool_open(paths.spool, s.spool_max_size, &sp, &info, err,
		       sizeof(err)) == 0) {
		struct spool_stats st;
		spool_stats(sp, &st);
		printf("spool:      %lld events waiting (last seq %llu, last "
		       "acked %llu)\n",
		       st.depth, (unsigned long long)st.last_seq,
		       (unsigned long long)st.last_acked);
		spool_close(sp);
	} else {
		printf("spool:      unreadable: %s\n", err);
	}
	printf("last ack:   %s\n",
	       status_get(&sf, "last_ack")[0] ? status_get(&sf, "last_ack")
					      : "never");
	return EXIT_OK;
}

struct qlist {
	bool json;
	int count;
};

static void print_quarantined(void *arg, const struct quarantine_entry *e)
{
	struct qlist *q = arg;
	char when[40];
	timeutil_format_us(e->quarantined_us, when, sizeof(when));
	if (q->json) {
		printf("%s{\"id\":\"%s\",\"path\":", q->count ? "," : "", e->id);
		json_print_string(stdout, e->path);
		printf(",\"sha256\":\"%s\",\"size\":%llu,\"rules\":", e->sha256,
		       (unsigned long long)e->size);
		json_print_string(stdout, e->rules);
		printf(",\"quarantined\":\"%s\"}", when);
	} else {
		/* The path and rule names came from a planted file. */
		printf("%s  %s  ", e->id, when);
		textsafe_fputs(stdout, e->rules);
		printf("  %llu bytes  ", (unsigned long long)e->size);
		textsafe_fputs(stdout, e->path);
		printf("\n  sha256 %s\n", e->sha256);
	}
	q->count++;
}

static int cmd_quarantine(const struct cli *cli)
{
	struct agent_settings s;
	char qdir[600], err[600];
	const char *sub = cli->argc > 1 ? cli->argv[1] : "list";
	int rc = load(cli, &s);
	if (rc != 0)
		return rc;
	quarantine_dir(s.state_dir, qdir, sizeof(qdir));
	if (strcmp(sub, "list") == 0) {
		struct qlist q = {cli->json, 0};
		if (cli->json)
			printf("[");
		rc = quarantine_list(qdir, print_quarantined, &q);
		if (cli->json)
			printf("]\n");
		else if (rc == 0)
			printf("nothing in quarantine\n");
		return rc < 0 ? EXIT_RUNTIME : EXIT_OK;
	}
	if (strcmp(sub, "restore") != 0 || cli->argc < 3)
		return usage_error("usage: quarantine list | quarantine restore ID "
				   "[--to PATH]");
	err[0] = '\0';
	if (quarantine_restore(qdir, cli->argv[2], cli->to, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-agent: %s\n", err);
		return EXIT_RUNTIME;
	}
	if (err[0])
		fprintf(stderr, "eduwatch-agent: %s\n", err);
	printf("restored %s\n", cli->argv[2]);
	return EXIT_OK;
}

static int cmd_av(const struct cli *cli)
{
	struct agent_settings s;
	int rc = load(cli, &s);
	if (rc != 0)
		return rc;
	struct avprobe_config cfg = {s.av_clamd_socket, s.av_clamav_db,
				     s.av_clamd_conf, s.av_products_file};
	struct av_report r;
	avprobe_collect(&cfg, &r);
	if (cli->json) {
		printf("{\"realtime\":%s,\"sig_age_days\":", r.realtime ? "true" : "false");
		if (r.sig_age_days >= 0)
			printf("%d", r.sig_age_days);
		else
			printf("null");
		printf(",\"products\":[");
		for (size_t i = 0; i < r.count; i++) {
			const struct av_product *p = &r.products[i];
			printf("%s{\"name\":", i ? "," : "");
			json_print_string(stdout, p->name);
			printf(",\"source\":\"%s\",\"state\":\"%s\",\"realtime\":%s,"
			       "\"version\":",
			       p->source, av_state_name(p->state),
			       p->realtime ? "true" : "false");
			json_print_string(stdout, p->version);
			printf(",\"detail\":");
			json_print_string(stdout, p->detail);
			if (p->sig_known)
				printf(",\"sig_time_us\":%lld",
				       (long long)p->sig_time_us);
			printf("}");
		}
		printf("]}\n");
		return r.realtime ? EXIT_OK : EXIT_RUNTIME;
	}
	if (r.count == 0)
		printf("no antivirus product found\n");
	for (size_t i = 0; i < r.count; i++) {
		const struct av_product *p = &r.products[i];
		char when[40] = "unknown";
		if (p->sig_known)
			timeutil_format_us(p->sig_time_us, when, sizeof(when));
		printf("%s (%s): %s, real-time %s, signatures %s%s%s\n  %s\n",
		       p->name, p->source, av_state_name(p->state),
		       p->realtime ? "on" : "off", when,
		       p->version[0] ? ", version " : "", p->version, p->detail);
	}
	printf("protected in real time: %s; signature age: ",
	       r.realtime ? "yes" : "NO");
	if (r.sig_age_days >= 0)
		printf("%d day(s)\n", r.sig_age_days);
	else
		printf("unknown\n");
	return r.realtime ? EXIT_OK : EXIT_RUNTIME;
}

static int cmd_rules(const struct cli *cli)
{
	struct agent_settings s;
	char err[512];
	const char *sub = cli->argc > 1 ? cli->argv[1] : "show";
	int rc = load(cli, &s);
	if (rc != 0)
		return rc;
	if (strcmp(sub, "install") == 0) {
		struct bundle_info info;
		if (cli->argc < 3)
			return usage_error("rules install needs a FILE");
		if (rulestore_install_file(s.state_dir, cli->argv[2], &info, err,
					   sizeof(err)) != 0) {
			fprintf(stderr, "eduwatch-agent: %s: %s\n", cli->argv[2],
				err);
			return EXIT_RUNTIME;
		}
		printf("installed rule bundle %llu (%llu rules); the running "
		       "agent uses it from its next scan\n",
		       (unsigned long long)info.version,
		       (unsigned long long)info.rules);
		return EXIT_OK;
	}
	if (strcmp(sub, "show") != 0)
		return usage_error("unknown rules command '%s'", sub);
	struct rulestore_current cur;
	if (rulestore_current(s.state_dir, &cur, err, sizeof(err)) != 0) {
		printf("rules: %s\n", err);
		return EXIT_RUNTIME;
	}
	char when[40];
	timeutil_format_us(cur.info.created_us, when, sizeof(when));
	if (cli->json) {
		printf("{\"version\":%llu,\"rules\":%llu,\"created\":",
		       (unsigned long long)cur.info.version,
		       (unsigned long long)cur.info.rules);
		json_print_string(stdout, when);
		printf(",\"yara\":");
		json_print_string(stdout, cur.info.yara);
		printf(",\"sources\":");
		json_print_string(stdout, cur.info.sources);
		printf("}\n");
	} else {
		printf("bundle:   %llu, signed by the pinned CA\n"
		       "rules:    %llu (libyara %s)\ncreated:  %s\n"
		       "sources:  %s\n",
		       (unsigned long long)cur.info.version,
		       (unsigned long long)cur.info.rules, cur.info.yara, when,
		       cur.info.sources);
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct cli cli;
	struct agent_settings s;
	log_setup("eduwatch-agent", LOG_LEVEL_INFO);
	/* The scanner's helper process, started by scans; not for people. Its
	 * options are its own, so it is dispatched before ours are parsed. */
	if (argc > 1 && strcmp(argv[1], "_scanner") == 0)
		return scanchild_main(argc - 1, argv + 1);
	int rc = parse_cli(argc, argv, &cli);
	if (rc != 0)
		return rc;
	if (cli.argc < 1) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = cli.argv[0];
	if (strcmp(cmd, "enroll") == 0)
		return cmd_enroll(&cli);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(&cli);
	if (strcmp(cmd, "version") == 0) {
		printf("eduwatch-agent %s\n", EDUWATCH_VERSION);
		return EXIT_OK;
	}
	if (strcmp(cmd, "sniff") == 0) {
		if (cli.pcap == NULL)
			return usage_error("sniff needs --pcap FILE");
		bool have_config = access(cli.config, F_OK) == 0;
		if (have_config && (rc = load(&cli, &s)) != 0)
			return rc;
		struct sniff_options so = {.pcap = cli.pcap, .ioc_file = cli.ioc,
					   .gateway_mac = cli.gateway_mac,
					   .json = cli.json};
		return netsensor_sniff_file(have_config ? &s : NULL, &so);
	}
	/* The LAN sensor's helper process, started by `run`; not for people. */
	if (strcmp(cmd, "_netsensor") == 0) {
		bool have_config = access(cli.config, F_OK) == 0;
		if (have_config && (rc = load(&cli, &s)) != 0)
			return rc;
		return netsensor_child_main(have_config ? &s : NULL);
	}
	if (strcmp(cmd, "scan") == 0) {
		if (cli.argc < 2)
			return usage_error("scan needs at least one PATH");
		bool have_config = access(cli.config, F_OK) == 0;
		if (have_config && (rc = load(&cli, &s)) != 0)
			return rc;
		struct scancli_options so = {
			.paths = (const char *const *)cli.argv + 1,
			.npaths = (size_t)cli.argc - 1,
			.rules = cli.rules,
			.nrules = cli.nrules,
			.settings = have_config ? &s : NULL,
			.json = cli.json,
			.verbose = cli.verbose,
			.no_cache = cli.no_cache,
			.jobs = cli.jobs,
			.cpu = cli.cpu,
		};
		return scancli_run(&so);
	}
	if (strcmp(cmd, "rules") == 0)
		return cmd_rules(&cli);
	if (strcmp(cmd, "av") == 0)
		return cmd_av(&cli);
	if (strcmp(cmd, "quarantine") == 0)
		return cmd_quarantine(&cli);
	if (strcmp(cmd, "backup") == 0) {
		if (cli.argc < 2)
			return usage_error("backup needs a command: init, run, "
					   "list, verify, restore or prune");
		bool have_config = access(cli.config, F_OK) == 0;
		if (have_config && (rc = load(&cli, &s)) != 0)
			return rc;
		struct backupcli_options bo = {
			.command = cli.argv[1],
			.args = (const char *const *)cli.argv + 2,
			.nargs = (size_t)cli.argc - 2,
			.settings = have_config ? &s : NULL,
			.repo = cli.repo,
			.password_file = cli.password_file,
			.to = cli.to,
			.json = cli.json,
			.read_data = cli.read_data,
			.allow_shared_target = cli.allow_shared_target,
			.keep_damaged = cli.keep_damaged,
			.keep_daily = cli.keep[0],
			.keep_weekly = cli.keep[1],
			.keep_monthly = cli.keep[2],
		};
		return backupcli_run(&bo);
	}
	if (strcmp(cmd, "run") == 0) {
		if ((rc = load(&cli, &s)) != 0)
			return rc;
		rc = agent_run(cli.config, &s);
		return rc == -ENOENT || rc == -EBADMSG ? EXIT_NOT_ENROLLED
		       : rc != 0			 ? EXIT_RUNTIME
							 : EXIT_OK;
	}
	return usage_error("unknown command '%s'", cmd);
}
