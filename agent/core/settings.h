/* settings: agent.yaml, its schema and defaults. */
#ifndef EDUWATCH_AGENT_SETTINGS_H
#define EDUWATCH_AGENT_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "common/log.h"

#define AGENT_PATHS_MAX 16
#define AGENT_PATH_LEN 256

struct agent_settings {
	char state_dir[512];
	char collector_host[256];
	long long collector_port;
	long long enroll_port;
	long long batch;
	long long window;
	long long bandwidth;
	long long backoff_max;
	long long heartbeat_interval;
	long long inventory_interval;
	long long spool_max_size;
	enum log_level log_level;
	/* The LAN sensor (netsensor.*). Address lists are parsed at load. */
	bool net_enabled;
	char net_interface[64];	      /* "": the default route's */
	char net_gateway[64];	      /* "": the default route's */
	char net_gateway_mac[32];     /* "": learnt (neighbour table, DHCP) */
	long long net_arp_sweep;      /* distinct ARP targets of one MAC */
	char net_ioc_file[512];	      /* "": <state_dir>/ioc.txt if present */
	struct config_list net_guarded_raw, net_dhcp_raw, net_responders_raw;
	size_t net_n_guarded, net_n_dhcp_servers, net_n_responders;
	unsigned char net_guarded[16][4];
	unsigned char net_dhcp_servers[16][4];
	unsigned char net_responders[16][4];
	long long net_scan_ports;
	long long net_scan_window;
	long long net_arp_flood;
	long long net_mac_ips;
	long long net_arp_window;
	long long net_poison_names;
	long long net_dedupe_window;
	/* YARA scans (scan.*). Path lists are copied out at load. */
	bool scan_enabled;
	long long scan_full_interval;
	long long scan_quick_interval;
	struct config_list scan_full_raw, scan_quick_raw, scan_usb_raw,
		scan_exclude_raw;
	char scan_full_paths[AGENT_PATHS_MAX][AGENT_PATH_LEN];
	char scan_quick_paths[AGENT_PATHS_MAX][AGENT_PATH_LEN]; /* globs */
	char scan_usb_prefixes[AGENT_PATHS_MAX][AGENT_PATH_LEN];
	char scan_excludes[AGENT_PATHS_MAX][AGENT_PATH_LEN];
	size_t scan_n_full, scan_n_quick, scan_n_usb, scan_n_excludes;
	long long scan_cpu;	      /* percent of one core */
	long long scan_max_file_size;
	long long scan_timeout;
	long long scan_jobs;
	bool scan_quarantine;	      /* move matching files aside */
	/* Backups (backup.*). An empty repo turns them off. */
	char backup_repo[512];
	char backup_password_file[512]; /* "": <state_dir>/backup.pass */
	struct config_list backup_paths_raw, backup_exclude_raw;
	char backup_paths[AGENT_PATHS_MAX][AGENT_PATH_LEN];
	char backup_excludes[AGENT_PATHS_MAX][AGENT_PATH_LEN];
	size_t backup_n_paths, backup_n_excludes;
	long long backup_rpo;
	long long backup_verify_interval;
	long long backup_restore_test_interval;
	long long backup_restore_sample;
	bool backup_prune;
	long long backup_keep_daily, backup_keep_weekly, backup_keep_monthly;
	bool backup_escrow;
	long long backup_check_interval;
	/* Antivirus status (av.*). */
	bool av_enabled;
	long long av_interval;
	char av_clamd_socket[256];
	char av_clamav_db[256];
	char av_clamd_conf[256];
	char av_products_file[512];
	long long synthetic_rate;     /* testing: events per second, 0 off */
	char synthetic_log[512];      /* testing: where emitted seqs go */
};

int agent_settings_load(const char *path, struct agent_settings *out,
			char *err, size_t errlen);
int agent_settings_write(const char *path, const char *state_dir,
			 const char *host, int port, int enroll_port,
			 char *err, size_t errlen);

#endif
