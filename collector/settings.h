/* settings: collector.yaml, its schema and defaults. */
#ifndef EDUWATCH_SETTINGS_H
#define EDUWATCH_SETTINGS_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "common/log.h"

/* Where packages install rules/: policies/ and alerts.yaml. */
#define SETTINGS_RULES_DIR "/usr/share/eduwatch/rules"

#define SETTINGS_FORWARD_MAX 8
#define SETTINGS_YARA_MAX 16
#define SETTINGS_PILOT_MAX 256
/* releases.halt_min_schools at most: the rollout counts distinct
 * schools up to this many (collector/release.h). */
#define SETTINGS_HALT_SCHOOLS_MAX 64

/* One SOC destination (forward: in collector.yaml). */
struct forward_dest {
	char name[32];
	char type[16];	   /* syslog | https */
	char address[256]; /* syslog: host:port; https: the URL */
	bool tls;	   /* syslog: TLS (RFC 5425) or plain TCP */
	char framing[16];  /* syslog: octet | newline */
	char ca[512];	   /* trusted CA file; "": the system's (https) */
	char cert[512];	   /* client certificate for mTLS, optional */
	char key[512];
	char token[256];   /* https: bearer token, optional */
	char format[16];   /* https: ecs | ocsf */
	long long min_severity;
};

struct settings {
	char state_dir[512];
	char listen[64];
	long long ingest_port;
	long long enroll_port;
	long long max_connections;
	long long max_handshakes; /* in progress; past it, closed at accept */
	long long handshake_timeout;
	long long idle_timeout;
	long long max_events_per_second;
	long long backlog_high;
	char store_url[600];
	long long cache_size;
	long long batch_max_events;
	bool sync_full;
	long long snapshot_retention_days;
	long long retention_days;
	long long high_severity_days;
	long long high_severity;
	enum log_level log_level;
	long long stats_interval;
	long long stale_after; /* seconds without events: the PC is stale */
	/* The silent-PC alert (agent.silent): after this long without an
	 * event (0: stale_after), looked for this often. Short values are
	 * for tests and the agent-silence drill's rehearsals. */
	long long silent_after, silence_sweep;
	char policy_dir[512];  /* level1.yaml .. level5.yaml */
	char alert_rules[512]; /* alerts.yaml */
	/* YARA rule sets compiled into the bundle `rules publish` signs:
	 * ours, then any third-party collections the admin adds. */
	struct config_list yara_raw; /* loading only */
	char yara_rules[SETTINGS_YARA_MAX][512];
	size_t nyara_rules;
	/* The officers' console (collector/web): off unless enabled. */
	bool web_enabled;
	char web_listen[64];
	long long web_port; /* 0: any free port, written to state_dir/web.port */
	char web_cert[512]; /* "": the collector's server.crt */
	char web_key[512];
	/* Reports (collector/report): "MM-DD..MM-DD due MM-DD" for each
	 * period, how many days before its deadline serve drafts it, the
	 * compliance threshold, the issuing unit and the PDF's fonts. */
	char report_six_monthly[64];
	char report_annual[64];
	long long report_draft_days;
	long long report_threshold;
	char report_unit[128];
	char report_fonts_dir[512];
	/* Agent releases' rings (collector/release.h). */
	struct config_list release_pilot_raw[2]; /* loading only */
	char release_pilot_agents[SETTINGS_PILOT_MAX][65];
	size_t nrelease_pilot_agents;
	char release_pilot_schools[SETTINGS_PILOT_MAX][65];
	size_t nrelease_pilot_schools;
	long long release_percent_hour;
	long long release_within;
	long long release_halt_percent;
	long long release_halt_min_failures;
	long long release_halt_min_schools;
	long long release_soak;
	long long release_pilot_wait;
	long long release_tick;
	char release_key[512]; /* the offline release key's public PEM; "" */
	/* How long after the time it claims a red-team action may still
	 * be recorded (collector/drill/drill_redteam.h), in seconds. */
	long long redteam_grace;
	struct config_table forward_raw; /* loading only */
	struct forward_dest forward[SETTINGS_FORWARD_MAX];
	size_t nforward;
};

/* Loads path (defaults for what it omits). Returns 0 or -EINVAL with a
 * message naming file, line and key. */
EW_MUST_CHECK
int settings_load(const char *path, struct settings *out, char *err,
		  size_t errlen);

/* Settings given on the command line (-o KEY=VALUE, borrowed: argv
 * lives as long as the process), applied over the file by every later
 * settings_load, a reload's too. */
void settings_set_overrides(char *const *items, size_t n);

/* Writes a commented collector.yaml for a new state directory. */
EW_MUST_CHECK
int settings_write_default(const char *path, const char *state_dir,
			   const char *rules_dir, char *err, size_t errlen);

#endif
