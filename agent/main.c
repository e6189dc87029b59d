/* eduwatch-agent: command-line entry point. scan, sniff and backup run
 * in their helper executables (agent/core/cli.h). */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <uv.h>

#include "agent/core/agent.h"
#include "agent/av/av_settings.h"
#include "agent/av/avprobe.h"
#include "agent/backup/backupcli.h"
#include "agent/net/netsensor.h"
#include "agent/scan/quarantine.h"
#include "agent/core/rulestore.h"
#include "agent/scan/scanchild.h"
#ifdef _WIN32
#include "agent/platform/windows/winscan.h"
#endif
#include "agent/core/cli.h"
#include "agent/core/settings.h"
#include "agent/core/sources.h"
#include "agent/upgrade/apply.h"
#include "agent/upgrade/swap.h"
#include "agent/core/spool.h"
#include "agent/platform/service.h"
#include "common/enroll_client.h"
#include "common/config.h"
#include "common/enrollstr.h"
#include "common/fsutil.h"
#include "common/hostname.h"
#include "common/jsonout.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/pki.h"
#include "common/textsafe.h"
#include "common/version.h"

/* enroll STRING or --from FILE: the one-string form (common/enrollstr.h),
 * read and checked before anything is sent. The file may hold blanks and
 * line breaks around and inside the string; "-" is standard input. */
static int read_enroll_string(const struct cli *cli, struct enrollstr *es)
{
	char buf[ENROLLSTR_INPUT_MAX + 1], err[256];
	size_t len;
	if (cli->from != NULL) {
		bool use_stdin = strcmp(cli->from, "-") == 0;
		FILE *f = use_stdin ? stdin : fopen(cli->from, "re");
		if (f == NULL) {
			fprintf(stderr, "eduwatch-agent: cannot read %s: %s\n",
				cli->from, uv_strerror(-errno));
			return EXIT_CONFIG;
		}
		len = fread(buf, 1, sizeof(buf), f);
		bool bad = ferror(f);
		if (!use_stdin)
			fclose(f);
		if (bad) {
			fprintf(stderr, "eduwatch-agent: cannot read %s\n",
				cli->from);
			return EXIT_CONFIG;
		}
	} else {
		len = strnlen(cli->argv[1], sizeof(buf));
		memcpy(buf, cli->argv[1], len);
	}
	int rc = enrollstr_decode(buf, len, es, err, sizeof(err));
	OPENSSL_cleanse(buf, sizeof(buf));
	if (rc != 0) {
		fprintf(stderr, "eduwatch-agent: %s%s%s\n",
			cli->from ? cli->from : "", cli->from ? ": " : "", err);
		return EXIT_USAGE;
	}
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
	struct enrollstr es = {0};
	const char *token = cli->token, *ca_sha256 = cli->ca_sha256;
	long port;
	int enroll_port, rc = EXIT_RUNTIME;

	bool one_string = cli->from != NULL || cli->argc == 2;
	if (one_string) {
		if (cli->collector || cli->token || cli->ca || cli->ca_sha256 ||
		    cli->enroll_port || (cli->from != NULL && cli->argc != 1) ||
		    cli->argc > 2)
			return cli_usage_error("enroll takes one enrollment "
					       "string (or --from FILE) and no "
					       "--collector, --token, --ca, "
					       "--ca-sha256 or --enroll-port");
		if ((rc = read_enroll_string(cli, &es)) != 0)
			return rc;
		rc = EXIT_RUNTIME;
		snprintf(host, sizeof(host), "%s", es.host);
		port = es.port;
		enroll_port = es.enroll_port;
		token = es.token;
		ca_sha256 = es.ca_sha256;
	} else {
		if (cli->collector == NULL || cli->token == NULL ||
		    (cli->ca == NULL) == (cli->ca_sha256 == NULL) ||
		    cli->argc != 1)
			return cli_usage_error(
				"enroll needs an enrollment string (EW1-...), "
				"--from FILE, or --collector HOST:PORT, --token "
				"and one of --ca FILE or --ca-sha256 HEX");
		const char *colon = strrchr(cli->collector, ':');
		char *end;
		port = colon ? strtol(colon + 1, &end, 10) : 0;
		if (colon == NULL || *end || port < 1 || port > 65535 ||
		    (size_t)(colon - cli->collector) >= sizeof(host))
			return cli_usage_error("--collector must be HOST:PORT, "
					       "not '%s'", cli->collector);
		snprintf(host, sizeof(host), "%.*s",
			 (int)(colon - cli->collector), cli->collector);
		enroll_port = cli->enroll_port ? cli->enroll_port : (int)port + 1;
	}
	const char *state_dir = cli->state_dir;
	if (access(cli->config, F_OK) == 0) {
		if (cli_load(cli, &s) != 0)
			return EXIT_CONFIG;
		if (state_dir == NULL)
			state_dir = s.state_dir;
	}
	if (state_dir == NULL)
		state_dir = "/var/lib/eduwatch-agent";
	agent_paths_for(state_dir, &paths);
	if (access(paths.cert, F_OK) == 0 && cli->if_needed) {
		/* An upgrade or repair of the MSI, with the properties of the
		 * first install: the PC keeps the identity it has. */
		printf("already enrolled (%s exists)\n", paths.cert);
		return EXIT_OK;
	}
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
		.ca_sha256 = ca_sha256,
		.token = token, .hostname = hostname,
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
	OPENSSL_cleanse(&es, sizeof(es));
	X509_free(ca);
	X509_free(res.ca);
	X509_free(res.cert);
	EVP_PKEY_free(key);
	return rc;
}

static int upgrade_watch(const struct cli *cli, const char *root);

/* upgrade seed: the package's binaries, beside this executable, become
 * the release the unit runs (ROOT/current), unless a release as new or
 * newer is there already. */
static int upgrade_seed(const char *root)
{
	static const char *const files[] = {"eduwatch-agent", SCANCHILD_HELPER,
					    NETSENSOR_HELPER,
					    BACKUPCLI_HELPER, NULL};
	char err[512];
	bool kept;
	if (swap_seed(root, files, EDUWATCH_VERSION, &kept, err,
		      sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-agent: cannot seed %s: %s\n", root,
			err);
		return EXIT_RUNTIME;
	}
	if (kept)
		printf("release kept in %s: it is not older than %s\n", root,
		       EDUWATCH_VERSION);
	else
		printf("release %s is current in %s\n", EDUWATCH_VERSION, root);
	return EXIT_OK;
}

/* upgrade install|restore|status|watch: the versioned binary directory
 * (agent/upgrade/swap.h). */
static int cmd_upgrade(const struct cli *cli)
{
	const char *root = cli->upgrade_root ? cli->upgrade_root
					     : "/usr/lib/eduwatch";
	const char *sub = cli->argc > 1 ? cli->argv[1] : "";
	char err[512], cur[SWAP_VERSION_MAX + 1], prev[SWAP_VERSION_MAX + 1];
	if (strcmp(sub, "install") == 0 && cli->argc == 4) {
		if (swap_install(root, cli->argv[2], cli->argv[3], cli->rollback,
				 err, sizeof(err)) != 0) {
			fprintf(stderr, "eduwatch-agent: upgrade refused: %s\n",
				err);
			return EXIT_RUNTIME;
		}
		/* --within: pending until healthy, as a pushed release is;
		 * `run` restores it past twice that (apply.h). */
		long long within = 0;
		if (cli->within != NULL &&
		    (config_parse_duration(cli->within, &within) != 0 ||
		     within < 1 ||
		     upgrade_mark_pending(root, cli->argv[3], within) != 0)) {
			fprintf(stderr, "eduwatch-agent: release %s is current "
					"but not marked pending (--within %s)\n",
				cli->argv[3], cli->within);
			return EXIT_RUNTIME;
		}
		printf("release %s is current in %s\n", cli->argv[3], root);
		return EXIT_OK;
	}
	if (strcmp(sub, "seed") == 0 && cli->argc == 2)
		return upgrade_seed(root);
	if (strcmp(sub, "restore") == 0 && cli->argc == 2) {
		if (swap_restore_previous(root, err, sizeof(err)) != 0) {
			fprintf(stderr, "eduwatch-agent: %s\n", err);
			return EXIT_RUNTIME;
		}
		EW_IGNORE(swap_version(root, "current", cur, sizeof(cur)));
		printf("release %s is current again in %s\n", cur, root);
		return EXIT_OK;
	}
	if (strcmp(sub, "status") == 0 && cli->argc == 2) {
		if (swap_version(root, "current", cur, sizeof(cur)) != 0 ||
		    swap_version(root, "previous", prev, sizeof(prev)) != 0) {
			fprintf(stderr, "eduwatch-agent: %s holds links that "
					"are not releases\n", root);
			return EXIT_RUNTIME;
		}
		printf("current:  %s\nprevious: %s\n", cur[0] ? cur : "(none)",
		       prev[0] ? prev : "(none)");
		return EXIT_OK;
	}
	if (strcmp(sub, "watch") == 0 && cli->argc == 2)
		return upgrade_watch(cli, root);
	return cli_usage_error("usage: upgrade install DIR VERSION [--rollback] "
			       "| upgrade seed | upgrade restore | upgrade status [--root DIR]");
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

/* The watchdog after a swap: the new release is healthy once an agent
 * of a new boot (not the one running when the watch began) is running,
 * connected, and has had events acked. Otherwise, when the time is up,
 * `current` goes back to `previous` and the reason is kept in
 * ROOT/last-restore for the restored agent and the officers. */
/* With --restart (an agent that no service manager restarts): the agent
 * of the unhealthy release is stopped and the restored one started in
 * the watchdog's place. Under systemd the service's restart does it. */
static void restart_restored(const struct cli *cli, const char *root,
			     const struct agent_paths *paths, const char *boot0)
{
	struct status_file sf;
	read_status(paths->status, &sf);
	long pid = strtol(status_get(&sf, "pid"), NULL, 10);
	if (pid > 0 && strcmp(status_get(&sf, "boot"), boot0) != 0) {
		kill((pid_t)pid, SIGTERM);
		for (int i = 0; i < 100 && kill((pid_t)pid, 0) == 0; i++)
			usleep(100 * 1000);
		if (kill((pid_t)pid, 0) == 0)
			kill((pid_t)pid, SIGKILL);
	}
	char exe[700];
	snprintf(exe, sizeof(exe), "%s/current/eduwatch-agent", root);
	char *argv[] = {exe, "run", "-c", (char *)cli->config, NULL};
	execv(exe, argv);
	fprintf(stderr, "eduwatch-agent: cannot start %s: %s\n", exe,
		uv_strerror(-errno));
}

static int upgrade_watch(const struct cli *cli, const char *root)
{
	struct agent_settings s;
	struct agent_paths paths;
	struct status_file sf;
	long long seconds = 0;
	char boot0[64], cur[SWAP_VERSION_MAX + 1], why[512], err[512];
	if (cli->within == NULL || config_parse_duration(cli->within, &seconds) != 0 ||
	    seconds < 1)
		return cli_usage_error("upgrade watch needs --within DURATION "
				       "(like 5m)");
	if (cli_load(cli, &s) != 0)
		return EXIT_CONFIG;
	agent_paths_for(s.state_dir, &paths);
	if (swap_version(root, "current", cur, sizeof(cur)) != 0 || !cur[0]) {
		fprintf(stderr, "eduwatch-agent: %s has no current release\n",
			root);
		return EXIT_RUNTIME;
	}
	read_status(paths.status, &sf);
	snprintf(boot0, sizeof(boot0), "%s", status_get(&sf, "boot"));
	int64_t deadline = timeutil_now_us() + seconds * 1000000LL;
	while (timeutil_now_us() < deadline) {
		read_status(paths.status, &sf);
		long pid = strtol(status_get(&sf, "pid"), NULL, 10);
		if (strcmp(status_get(&sf, "boot"), boot0) != 0 && pid > 0 &&
		    kill((pid_t)pid, 0) == 0 &&
		    strcmp(status_get(&sf, "connected"), "yes") == 0 &&
		    strtoull(status_get(&sf, "acked"), NULL, 10) > 0) {
			printf("release %s is healthy: agent pid %ld connected "
			       "and acked\n", cur, pid);
			upgrade_clear_pending(root);
			return EXIT_OK;
		}
		usleep(500 * 1000);
	}
	read_status(paths.status, &sf);
	snprintf(why, sizeof(why),
		 "release %s did not report healthy within %s (last status: "
		 "connected=%s, last error: %s); restored the previous release\n",
		 cur, cli->within, status_get(&sf, "connected")[0]
					 ? status_get(&sf, "connected") : "none",
		 status_get(&sf, "last_error")[0] ? status_get(&sf, "last_error")
						  : "none");
	/* The agent may have restored it itself (its pending marker's
	 * deadline): a second restore would put the bad release back. */
	char now_cur[SWAP_VERSION_MAX + 1];
	if (swap_version(root, "current", now_cur, sizeof(now_cur)) != 0 ||
	    strcmp(now_cur, cur) != 0) {
		fprintf(stderr, "eduwatch-agent: release %s is no longer "
				"current; nothing to restore\n", cur);
		return EXIT_RUNTIME;
	}
	if (swap_restore_previous(root, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-agent: release %s is unhealthy and "
				"cannot be undone: %s\n", cur, err);
		return EXIT_RUNTIME;
	}
	upgrade_clear_pending(root);
	char path[700];
	snprintf(path, sizeof(path), "%s/last-restore", root);
	if (fs_write_atomic(path, why, strlen(why), 0644) != 0)
		fprintf(stderr, "eduwatch-agent: cannot write %s\n", path);
	fprintf(stderr, "eduwatch-agent: %s", why);
	if (cli->restart)
		restart_restored(cli, root, &paths, boot0);
	return EXIT_RUNTIME;
}

static int cmd_status(const struct cli *cli)
{
	struct agent_settings s;
	struct agent_paths paths;
	struct status_file sf;
	X509 *cert = NULL;
	char id[EVENT_AGENT_MAX + 1] = "", school[PKI_ID_MAX + 1] = "";
	if (cli_load(cli, &s) != 0)
		return EXIT_CONFIG;
	agent_paths_for(s.state_dir, &paths);
	printf("eduwatch-agent %s\n", EDUWATCH_VERSION);
	if (pki_read_cert(paths.cert, &cert) != 0) {
		printf("enrolled:   no (run 'eduwatch-agent enroll')\n");
		return EXIT_NOT_ENROLLED;
	}
	if (pki_cert_identity(cert, id, sizeof(id), school, sizeof(school)) != 0) {
		snprintf(id, sizeof(id), "(unreadable)");
		snprintf(school, sizeof(school), "(unreadable)");
	}
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
	int rc = cli_load(cli, &s);
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
		return cli_usage_error("usage: quarantine list | quarantine restore ID "
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
	int rc = cli_load(cli, &s);
	if (rc != 0)
		return rc;
	const struct av_settings *av = agent_settings_for(&s, &av_config);
	struct avprobe_config cfg = {av->av_clamd_socket, av->av_clamav_db,
				     av->av_clamd_conf, av->av_products_file};
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
	int rc = cli_load(cli, &s);
	if (rc != 0)
		return rc;
	if (strcmp(sub, "install") == 0) {
		struct bundle_info info;
		if (cli->argc < 3)
			return cli_usage_error("rules install needs a FILE");
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
		return cli_usage_error("unknown rules command '%s'", sub);
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

static int cmd_service(const struct cli *cli)
{
	char err[512] = "";
	const char *sub = cli->argc > 1 ? cli->argv[1] : "";
	int rc;
	if (strcmp(sub, "install") == 0)
		rc = service_install(cli->config, err, sizeof(err));
	else if (strcmp(sub, "uninstall") == 0)
		rc = service_uninstall(err, sizeof(err));
	else
		return cli_usage_error("usage: service install | service uninstall");
	if (rc != 0) {
		fprintf(stderr, "eduwatch-agent: %s\n", err);
		return EXIT_RUNTIME;
	}
	printf("service %s %s\n", SERVICE_NAME,
	       sub[0] == 'i' ? "installed" : "removed");
	return EXIT_OK;
}

/* Commands whose code lives in a helper executable (cli.h). */
static const struct {
	const char *cmd, *helper;
} handed_over[] = {
	{"scan", SCANCHILD_HELPER},	{"_scanner", SCANCHILD_HELPER},
	{"sniff", NETSENSOR_HELPER},	{"_netsensor", NETSENSOR_HELPER},
	{"backup", BACKUPCLI_HELPER},	{"_backup", BACKUPCLI_HELPER},
};

int main(int argc, char **argv)
{
	struct cli cli;
	struct agent_settings s;
	log_setup("eduwatch-agent", LOG_LEVEL_INFO);
	/* The scanner's options are its own: handed over before ours are
	 * parsed. */
	if (argc > 1 && strcmp(argv[1], "_scanner") == 0)
#ifdef _WIN32
		return winscan_child_main();
#else
		return cli_exec_helper(SCANCHILD_HELPER, argv);
#endif
	int rc = cli_parse(argc, argv, &cli);
	if (rc != 0)
		return rc;
	if (cli.argc < 1) {
		fputs(cli_usage_text, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = cli.argv[0];
#ifdef _WIN32
	/* No helper executables on Windows yet: scan runs here. */
	if (strcmp(cmd, "scan") == 0)
		return winscan_main(&cli);
#endif
	for (size_t i = 0; i < sizeof(handed_over) / sizeof(handed_over[0]); i++)
		if (strcmp(cmd, handed_over[i].cmd) == 0)
			return cli_exec_helper(handed_over[i].helper, argv);
	if (strcmp(cmd, "enroll") == 0)
		return cmd_enroll(&cli);
	if (strcmp(cmd, "upgrade") == 0)
		return cmd_upgrade(&cli);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(&cli);
	if (strcmp(cmd, "version") == 0) {
		printf("eduwatch-agent %s\n", EDUWATCH_VERSION);
		return EXIT_OK;
	}
	if (strcmp(cmd, "rules") == 0)
		return cmd_rules(&cli);
	if (strcmp(cmd, "av") == 0)
		return cmd_av(&cli);
	if (strcmp(cmd, "quarantine") == 0)
		return cmd_quarantine(&cli);
	if (strcmp(cmd, "service") == 0)
		return cmd_service(&cli);
	if (strcmp(cmd, "run") == 0) {
		if ((rc = cli_load(&cli, &s)) != 0)
			return rc;
		/* The thread pool serves only the antivirus probe and name
		 * lookups; libuv's four threads would each keep a touched
		 * stack for the agent's whole life. An admin's own setting
		 * wins. */
		setenv("UV_THREADPOOL_SIZE", "2", 0);
		char err[512] = "";
		rc = service_run(cli.config, &s, cli.console, err, sizeof(err));
#ifndef _WIN32
		if (rc == AGENT_RUN_RESTART) {
			/* The same process, so a service manager sees its
			 * agent go on, now from the new release. */
			char exe[600];
			snprintf(exe, sizeof(exe), "%s/current/eduwatch-agent",
				 s.upgrade_root);
			execv(exe, argv);
			fprintf(stderr, "eduwatch-agent: cannot start %s: %s\n",
				exe, uv_strerror(-errno));
			return EXIT_RUNTIME;
		}
#endif
		if (rc == -ENOTCONN) {
			fprintf(stderr, "eduwatch-agent: %s\n", err);
			return EXIT_USAGE;
		}
		if (err[0])
			fprintf(stderr, "eduwatch-agent: %s\n", err);
		return rc == -ENOENT || rc == -EBADMSG ? EXIT_NOT_ENROLLED
		       : rc != 0			 ? EXIT_RUNTIME
							 : EXIT_OK;
	}
	return cli_usage_error("unknown command '%s'", cmd);
}
