#include "collector/settings.h"

#include "collector/drill/drill_redteam.h"
#include "collector/report/report.h"
#include "collector/score.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"

#define F(key, type, member, size, def, lo, hi)                               \
	{key, type, offsetof(struct settings, member), size, def, lo, hi, NULL, 0}

#define D(key, type, member, size, def, lo, hi)                              \
	{key, type, offsetof(struct forward_dest, member), size, def, lo, hi, \
	 NULL, 0}

static const struct config_field dest_fields[] = {
	D("name", CONFIG_STRING, name, 32, NULL, 0, 0),
	D("type", CONFIG_STRING, type, 16, NULL, 0, 0),
	D("address", CONFIG_STRING, address, 256, NULL, 0, 0),
	D("tls", CONFIG_BOOL, tls, 0, "true", 0, 0),
	D("framing", CONFIG_STRING, framing, 16, "octet", 0, 0),
	D("ca", CONFIG_STRING, ca, 512, "", 0, 0),
	D("cert", CONFIG_STRING, cert, 512, "", 0, 0),
	D("key", CONFIG_STRING, key, 512, "", 0, 0),
	D("token", CONFIG_STRING, token, 256, "", 0, 0),
	D("format", CONFIG_STRING, format, 16, "ecs", 0, 0),
	D("min_severity", CONFIG_INT, min_severity, 0, "0", 0, 10),
};

static const struct config_field fields[] = {
	F("state_dir", CONFIG_STRING, state_dir, 512, NULL, 0, 0),
	F("listen", CONFIG_STRING, listen, 64, "0.0.0.0", 0, 0),
	/* Port 0: a free port chosen at start, written to <state_dir>/ports. */
	F("ingest.port", CONFIG_INT, ingest_port, 0, "7443", 0, 65535),
	F("ingest.max_connections", CONFIG_INT, max_connections, 0, "60000", 1,
	  1000000),
	F("ingest.max_handshakes", CONFIG_INT, max_handshakes, 0, "256", 1,
	  100000),
	F("ingest.handshake_timeout", CONFIG_DURATION, handshake_timeout, 0,
	  "10s", 1, 3600),
	F("ingest.idle_timeout", CONFIG_DURATION, idle_timeout, 0, "5m", 5,
	  86400),
	F("ingest.max_events_per_second", CONFIG_INT, max_events_per_second, 0,
	  "1000", 1, 1000000),
	F("ingest.backlog_high", CONFIG_INT, backlog_high, 0, "50000", 1000,
	  10000000),
	F("enroll.port", CONFIG_INT, enroll_port, 0, "7444", 0, 65535),
	F("store.url", CONFIG_STRING, store_url, 600, "", 0, 0),
	F("store.cache_size", CONFIG_SIZE, cache_size, 0, "64MiB", 1 << 20,
	  1LL << 34),
	F("store.batch_max_events", CONFIG_INT, batch_max_events, 0, "5000", 1,
	  100000),
	F("store.sync_full", CONFIG_BOOL, sync_full, 0, "true", 0, 0),
	/* Bounded below by hand, to name the legal minimum (settings_load). */
	F("store.snapshot_retention_days", CONFIG_INT, snapshot_retention_days,
	  0, "1096", 0, 36500),
	F("retention.days", CONFIG_INT, retention_days, 0, "180", 0, 36500),
	F("retention.high_severity_days", CONFIG_INT, high_severity_days, 0,
	  "730", 0, 36500),
	F("retention.high_severity", CONFIG_INT, high_severity, 0, "7", 0, 10),
	F("agents.stale_after", CONFIG_DURATION, stale_after, 0, "2h", 60,
	  30 * 86400),
	F("agents.silent_after", CONFIG_DURATION, silent_after, 0, "0", 0,
	  30 * 86400),
	F("agents.silence_sweep", CONFIG_DURATION, silence_sweep, 0, "60s", 1,
	  3600),
	F("log.level", CONFIG_LOG_LEVEL, log_level, 0, "info", 0, 0),
	F("score.policy_dir", CONFIG_STRING, policy_dir, 512,
	  SETTINGS_RULES_DIR "/policies", 0, 0),
	F("alerts.rules", CONFIG_STRING, alert_rules, 512,
	  SETTINGS_RULES_DIR "/alerts.yaml", 0, 0),
	F("yara.rules", CONFIG_LIST, yara_raw, 0, "[" SETTINGS_RULES_DIR "/yara]",
	  0, 0),
	F("log.stats_interval", CONFIG_DURATION, stats_interval, 0, "60s", 0,
	  86400),
	F("web.enabled", CONFIG_BOOL, web_enabled, 0, "false", 0, 0),
	F("web.listen", CONFIG_STRING, web_listen, 64, "127.0.0.1", 0, 0),
	F("web.port", CONFIG_INT, web_port, 0, "8443", 0, 65535),
	F("web.cert", CONFIG_STRING, web_cert, 512, "", 0, 0),
	F("web.key", CONFIG_STRING, web_key, 512, "", 0, 0),
	F("report.six_monthly", CONFIG_STRING, report_six_monthly, 64,
	  "12-01..05-31 due 06-05", 0, 0),
	F("report.annual", CONFIG_STRING, report_annual, 64,
	  "12-01..11-30 due 12-05", 0, 0),
	F("report.draft_days_before", CONFIG_INT, report_draft_days, 0, "10",
	  0, 90),
	F("report.threshold", CONFIG_INT, report_threshold, 0, "80", 0, 100),
	F("report.unit", CONFIG_STRING, report_unit, 128,
	  "SỞ GIÁO DỤC VÀ ĐÀO TẠO", 0, 0),
	F("report.fonts_dir", CONFIG_STRING, report_fonts_dir, 512,
	  "/usr/share/fonts/truetype/liberation2", 0, 0),
	/* Agent releases (collector/release.h): the pilot ring (agent ids,
	 * and every PC of the schools named), the stable ring's pace, how
	 * long an offered PC has to run the release, the share of failures
	 * that halts a rollout, how long the pilot runs before stable, and
	 * how often the rollout is looked at. */
	F("releases.pilot_agents", CONFIG_LIST, release_pilot_raw[0], 0, "[]",
	  0, 0),
	F("releases.pilot_schools", CONFIG_LIST, release_pilot_raw[1], 0, "[]",
	  0, 0),
	F("releases.stable_percent_per_hour", CONFIG_INT, release_percent_hour,
	  0, "10", 1, 360000),
	F("releases.reconnect_within", CONFIG_DURATION, release_within, 0, "30m",
	  1, 7 * 86400),
	F("releases.halt_percent", CONFIG_INT, release_halt_percent, 0, "10", 1,
	  100),
	F("releases.halt_min_failures", CONFIG_INT, release_halt_min_failures,
	  0, "3", 1, 100000),
	F("releases.halt_min_schools", CONFIG_INT, release_halt_min_schools, 0,
	  "2", 1, SETTINGS_HALT_SCHOOLS_MAX),
	F("releases.pilot_soak", CONFIG_DURATION, release_soak, 0, "24h", 0,
	  30 * 86400),
	/* After the soak, a pilot PC that was restored, refused, or has
	 * been silent this long no longer holds the pilot back, once one
	 * pilot PC runs the release (collector/release.h). */
	F("releases.pilot_wait", CONFIG_DURATION, release_pilot_wait, 0, "72h",
	  1, 90 * 86400),
	/* The public half of the province's offline release key: set, a
	 * release is published only as a file `agent-release sign` made
	 * with that key (the PCs pin it too: agent.yaml
	 * upgrade.release_key). */
	F("releases.release_key", CONFIG_STRING, release_key, 512, "", 0, 0),
	F("releases.check_every", CONFIG_DURATION, release_tick, 0, "60s", 1,
	  3600),
	/* Bounded by hand, to say why (settings_load). */
	F("drill.redteam_grace", CONFIG_DURATION, redteam_grace, 0, "4h", 0,
	  0),
	{"forward", CONFIG_TABLE, offsetof(struct settings, forward_raw),
	 sizeof(struct forward_dest), NULL, 0, SETTINGS_FORWARD_MAX, dest_fields,
	 CONFIG_FIELD_COUNT(dest_fields)},
};

/* What the schema cannot say: allowed words, and unique names. */
static int check_dest(const char *path, const struct forward_dest *d,
		      const struct settings *s, size_t index, char *err,
		      size_t errlen)
{
	const char *why = NULL;
	if (strcmp(d->type, "syslog") != 0 && strcmp(d->type, "https") != 0)
		why = "type must be syslog or https";
	else if (strcmp(d->framing, "octet") != 0 &&
		 strcmp(d->framing, "newline") != 0)
		why = "framing must be octet or newline";
	else if (strcmp(d->format, "ecs") != 0 && strcmp(d->format, "ocsf") != 0)
		why = "format must be ecs or ocsf";
	else if (strcmp(d->type, "https") == 0 &&
		 strncmp(d->address, "https://", 8) != 0)
		why = "an https destination's address is an https:// URL";
	else if (strcmp(d->type, "syslog") == 0 && strchr(d->address, ':') == NULL)
		why = "a syslog destination's address is HOST:PORT";
	else if ((d->cert[0] == '\0') != (d->key[0] == '\0'))
		why = "cert and key go together";
	for (size_t i = 0; why == NULL && i < index; i++)
		if (strcmp(s->forward[i].name, d->name) == 0)
			why = "the name is used twice";
	if (why == NULL)
		return 0;
	snprintf(err, errlen, "%s: key 'forward[%zu]' (%s): %s", path, index,
		 d->name, why);
	return -EINVAL;
}

static char *const *overrides;
static size_t noverrides;

void settings_set_overrides(char *const *items, size_t n)
{
	overrides = items;
	noverrides = n;
}

int settings_load(const char *path, struct settings *out, char *err,
		  size_t errlen)
{
	memset(out, 0, sizeof(*out));
	int rc = config_load_file(path, fields, CONFIG_FIELD_COUNT(fields), out,
				  err, errlen);
	for (size_t i = 0; rc == 0 && i < noverrides; i++)
		rc = config_override(overrides[i], fields,
				     CONFIG_FIELD_COUNT(fields), out, err,
				     errlen);
	for (size_t i = 0; rc == 0 && i < out->forward_raw.count; i++) {
		out->forward[i] =
			((const struct forward_dest *)out->forward_raw.items)[i];
		rc = check_dest(path, &out->forward[i], out, i, err, errlen);
		out->nforward = i + 1;
	}
	if (rc == 0 && out->yara_raw.count > SETTINGS_YARA_MAX) {
		snprintf(err, errlen, "%s: key 'yara.rules': at most %d rule sets",
			 path, SETTINGS_YARA_MAX);
		rc = -EINVAL;
	}
	for (size_t i = 0; rc == 0 && i < out->yara_raw.count; i++) {
		snprintf(out->yara_rules[i], sizeof(out->yara_rules[i]), "%s",
			 out->yara_raw.items[i]);
		out->nyara_rules = i + 1;
	}
	for (int k = 0; rc == 0 && k < 2; k++) {
		const struct config_list *l = &out->release_pilot_raw[k];
		char(*to)[65] = k ? out->release_pilot_schools
				  : out->release_pilot_agents;
		if (l->count > SETTINGS_PILOT_MAX) {
			snprintf(err, errlen, "%s: key 'releases.pilot_%s': at "
				 "most %d", path, k ? "schools" : "agents",
				 SETTINGS_PILOT_MAX);
			rc = -EINVAL;
		}
		for (size_t i = 0; rc == 0 && i < l->count; i++)
			snprintf(to[i], sizeof(to[i]), "%s", l->items[i]);
		if (rc == 0)
			*(k ? &out->nrelease_pilot_schools
			    : &out->nrelease_pilot_agents) = l->count;
	}
	/* The destinations now live in the fixed array: the struct stays a
	 * plain value that can be copied on reload. */
	config_free(fields, CONFIG_FIELD_COUNT(fields), out);
	if (rc != 0)
		return rc;
	if ((out->web_cert[0] == '\0') != (out->web_key[0] == '\0')) {
		snprintf(err, errlen, "%s: keys 'web.cert' and 'web.key' go "
			 "together", path);
		return -EINVAL;
	}
	if (out->snapshot_retention_days < SCORE_SNAPSHOT_KEEP_MIN_DAYS) {
		snprintf(err, errlen,
			 "%s: key 'store.snapshot_retention_days' is %lld days; "
			 "the legal minimum is %d days (3 years), since the "
			 "six-monthly and annual reports stand on these "
			 "snapshots: set it to %d or more",
			 path, out->snapshot_retention_days,
			 SCORE_SNAPSHOT_KEEP_MIN_DAYS,
			 SCORE_SNAPSHOT_KEEP_MIN_DAYS);
		return -EINVAL;
	}
	if (out->redteam_grace < 60 ||
	    out->redteam_grace > DRILL_REDTEAM_GRACE_MAX_S) {
		snprintf(err, errlen,
			 "%s: key 'drill.redteam_grace' is %llds; it must lie "
			 "between 1m and 24h: a red-team action recorded "
			 "longer after the time it claims cannot be told from "
			 "one written from the alerts (the store refuses "
			 "claims older than 24h)", path,
			 out->redteam_grace);
		return -EINVAL;
	}
	struct report_calendar cal;
	char why[200];
	if (report_calendar_parse(out->report_six_monthly, out->report_annual,
				  (int)out->report_draft_days, &cal, why,
				  sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: key 'report': %s", path, why);
		return -EINVAL;
	}
	if (out->store_url[0] == '\0')
		snprintf(out->store_url, sizeof(out->store_url),
			 "sqlite:%s/eduwatch.db", out->state_dir);
	return 0;
}

int settings_write_default(const char *path, const char *state_dir,
			   const char *rules_dir, char *err, size_t errlen)
{
	char text[3900];
	int n = snprintf(
		text, sizeof(text),
		"# eduwatch collector settings. Every key is optional except\n"
		"# state_dir; the values shown are the defaults.\n"
		"state_dir: %s\n"
		"listen: 0.0.0.0\n"
		"ingest:\n"
		"  port: 7443\n"
		"  max_connections: 60000\n"
		"  max_handshakes: 256   # in progress; past it, closed at accept\n"
		"  handshake_timeout: 10s\n"
		"  idle_timeout: 5m\n"
		"  max_events_per_second: 1000   # per agent, pings included\n"
		"  backlog_high: 50000           # queued events that pause reading\n"
		"enroll:\n"
		"  port: 7444\n"
		"store:\n"
		"  # url: sqlite:/var/lib/eduwatch-collector/eduwatch.db\n"
		"  cache_size: 64MiB\n"
		"  batch_max_events: 5000\n"
		"  sync_full: true   # fsync each commit: an ack survives power loss\n"
		"  snapshot_retention_days: 1096   # daily history; 3 years at least\n"
		"agents:\n"
		"  stale_after: 2h   # no event for this long: the PC counts as stale\n"
		"  # silent_after: 0  # no event for this long: agent.silent (0: stale_after)\n"
		"  # silence_sweep: 60s   # how often silent PCs are looked for\n"
		"retention:\n"
		"  days: 180                # events below high_severity\n"
		"  high_severity_days: 730\n"
		"  high_severity: 7\n"
		"log:\n"
		"  level: info\n"
		"  stats_interval: 60s\n"
		"score:\n"
		"  policy_dir: %s/policies   # level1.yaml .. level5.yaml\n"
		"# Six-monthly and annual reports (the defaults):\n"
		"# report:\n"
		"#   six_monthly: \"12-01..05-31 due 06-05\"\n"
		"#   annual: \"12-01..11-30 due 12-05\"\n"
		"#   draft_days_before: 10      # serve drafts them this early\n"
		"#   threshold: 80              # schools below it are listed\n"
		"#   unit: \"SỞ GIÁO DỤC VÀ ĐÀO TẠO\"\n"
		"alerts:\n"
		"  rules: %s/alerts.yaml\n"
		"yara:\n"
		"  # Rule sets for 'rules publish' (files or folders of *.yar);\n"
		"  # add third-party collections after ours.\n"
		"  rules: [%s/yara]\n"
		"# The officers' console and JSON API (HTTPS). cert and key\n"
		"# default to the collector's server.crt and server.key.\n"
		"web:\n"
		"  enabled: false\n"
		"  listen: 127.0.0.1\n"
		"  port: 8443\n"
		"# SOC destinations; each alert is queued durably for each one.\n"
		"# forward:\n"
		"#   - name: soc-syslog\n"
		"#     type: syslog               # RFC 5424 + CEF, RFC 5425 framing\n"
		"#     address: siem.soc.example.vn:6514\n"
		"#     tls: true\n"
		"#     ca: /etc/eduwatch/soc-ca.crt\n"
		"#   - name: soc-https\n"
		"#     type: https                # JSON POST\n"
		"#     address: https://siem.soc.example.vn/api/alerts\n"
		"#     format: ecs                # or ocsf\n"
		"#     token: ...                 # bearer; or cert/key for mTLS\n",
		state_dir, rules_dir, rules_dir, rules_dir);
	return config_write_text(path, text, n, sizeof(text), err, errlen);
}
