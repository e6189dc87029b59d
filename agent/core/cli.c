#include "agent/core/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "agent/core/childproc.h"
#include "common/log.h"

const char cli_usage_text[] =
	"usage: eduwatch-agent COMMAND [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  enroll --collector HOST:PORT --token T (--ca CAFILE | --ca-sha256 HEX)\n"
	"         [--enroll-port N] [--state-dir DIR] [--if-needed]\n"
	"  enroll STRING | --from FILE [--state-dir DIR] [--if-needed]\n"
	"                      enroll this PC once; writes the key (0600), the\n"
	"                      certificate, the pinned CA and, if missing, -c FILE.\n"
	"                      STRING (EW1-...) is what 'eduwatch-collector agent\n"
	"                      enroll-string' printed: address, token and CA\n"
	"                      fingerprint, checksummed against typing mistakes;\n"
	"                      --if-needed: an enrolled PC exits 0 (installers)\n"
	"  upgrade install DIR VERSION [--rollback] [--within 5m] [--root DIR]\n"
	"                      install the files of DIR as release VERSION in\n"
	"                      ROOT/agent-VERSION and switch ROOT/current to it\n"
	"                      atomically (default root /usr/lib/eduwatch); never\n"
	"                      a downgrade unless --rollback; --within: pending\n"
	"                      until its agent is healthy, restored by 'run'\n"
	"                      past twice that\n"
	"  upgrade seed [--root DIR]      make the binaries beside this one\n"
	"                      the current release, unless one as new or newer\n"
	"                      is there (the package's postinst)\n"
	"  upgrade restore [--root DIR]   switch back to ROOT/previous\n"
	"  upgrade status [--root DIR]    the current and previous releases\n"
	"  upgrade watch --within 5m [--root DIR] [--restart]\n"
	"                      the watchdog after a swap: unless the agent of\n"
	"                      -c restarts, connects and has events acked within\n"
	"                      the time, switch back to ROOT/previous, write why\n"
	"                      to ROOT/last-restore and exit 1; --restart: also\n"
	"                      stop that agent and run the restored one (no\n"
	"                      service manager does); the agent starts this\n"
	"                      itself after a pushed release\n"
	"  run [--console]     run in the foreground (SIGTERM stops, SIGHUP reloads);\n"
	"                      on Windows the service manager runs it, and\n"
	"                      --console runs it in this console (Ctrl+C stops)\n"
	"  service install | uninstall\n"
	"                      Windows: register the auto-start LocalSystem\n"
	"                      service running 'run -c FILE', with restart on\n"
	"                      failure; or stop and remove it\n"
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
	"  -o, --option KEY=VALUE  a setting over the file's, by its dotted key\n"
	"                      (-o uplink.backoff_max=2s); repeatable; a list\n"
	"                      takes VALUE,VALUE\n"
	"  -h, --help          this text\n"
	"\n"
	"Exit codes: 0 done, 1 runtime failure, 2 usage error, 3 bad configuration,\n"
	"4 not enrolled.\n";

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "eduwatch-agent: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'eduwatch-agent --help'.\n");
	return EXIT_USAGE;
}

int cli_parse(int argc, char **argv, struct cli *cli)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"option", required_argument, NULL, 'o'},
		{"collector", required_argument, NULL, 'C'},
		{"token", required_argument, NULL, 't'},
		{"ca", required_argument, NULL, 'a'},
		{"ca-sha256", required_argument, NULL, 'f'},
		{"from", required_argument, NULL, 'F'},
		{"root", required_argument, NULL, 'U'},
		{"rollback", no_argument, NULL, 'B'},
		{"within", required_argument, NULL, 'H'},
		{"restart", no_argument, NULL, 'X'},
		{"enroll-port", required_argument, NULL, 'e'},
		{"state-dir", required_argument, NULL, 's'},
		{"pcap", required_argument, NULL, 'p'},
		{"ioc", required_argument, NULL, 'i'},
		{"gateway-mac", required_argument, NULL, 'g'},
		{"json", no_argument, NULL, 'j'},
		{"console", no_argument, NULL, 'O'},
		{"if-needed", no_argument, NULL, 'I'},
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
	while ((ch = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': cli->config = optarg; break;
		case 'o':
			if (cli->nsets >= sizeof(cli->sets) / sizeof(cli->sets[0]))
				return cli_usage_error("at most 32 -o");
			cli->sets[cli->nsets++] = optarg;
			break;
		case 'C': cli->collector = optarg; break;
		case 't': cli->token = optarg; break;
		case 'a': cli->ca = optarg; break;
		case 'f': cli->ca_sha256 = optarg; break;
		case 'F': cli->from = optarg; break;
		case 'U': cli->upgrade_root = optarg; break;
		case 'B': cli->rollback = true; break;
		case 'H': cli->within = optarg; break;
		case 'X': cli->restart = true; break;
		case 's': cli->state_dir = optarg; break;
		case 'p': cli->pcap = optarg; break;
		case 'i': cli->ioc = optarg; break;
		case 'g': cli->gateway_mac = optarg; break;
		case 'j': cli->json = true; break;
		case 'O': cli->console = true; break;
		case 'I': cli->if_needed = true; break;
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
				return cli_usage_error("--keep-* must be a count, not '%s'",
						   optarg);
			cli->keep[ch - '1'] = (int)v;
			break;
		}
		case 'r':
			if (cli->nrules >= sizeof(cli->rules) / sizeof(cli->rules[0]))
				return cli_usage_error("at most 16 --rules");
			cli->rules[cli->nrules++] = optarg;
			break;
		case 'J':
		case 'P': {
			char *end;
			long v = strtol(optarg, &end, 10);
			long hi = ch == 'J' ? 8 : 100;
			if (*end || v < 1 || v > hi)
				return cli_usage_error("--%s must be 1..%ld, not '%s'",
						   ch == 'J' ? "jobs" : "cpu", hi,
						   optarg);
			*(ch == 'J' ? &cli->jobs : &cli->cpu) = (int)v;
			break;
		}
		case 'e': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 65535)
				return cli_usage_error("--enroll-port must be a port, "
						   "not '%s'", optarg);
			cli->enroll_port = (int)v;
			break;
		}
		case 'h':
			fputs(cli_usage_text, stdout);
			exit(EXIT_OK);
		default:
			return EXIT_USAGE;
		}
	}
	cli->argc = argc - optind;
	cli->argv = argv + optind;
	agent_settings_set_overrides(cli->sets, cli->nsets);
	return 0;
}

int cli_load(const struct cli *cli, struct agent_settings *s)
{
	char err[512];
	if (agent_settings_load(cli->config, s, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-agent: %s\n", err);
		return EXIT_CONFIG;
	}
	log_setup("eduwatch-agent", s->log_level);
	return 0;
}


int cli_exec_helper(const char *name, char **argv)
{
	char path[4096], err[512];
	if (childproc_helper_path(name, path, sizeof(path), err,
				  sizeof(err)) == 0) {
		execv(path, argv);
		snprintf(err, sizeof(err), "cannot run %s: %s", path,
			 uv_strerror(-errno));
	}
	fprintf(stderr, "eduwatch-agent: %s\n", err);
	return EXIT_RUNTIME;
}
