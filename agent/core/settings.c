#include "agent/core/settings.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"

#define F(key, type, member, size, def, lo, hi)                               \
	{key, type, offsetof(struct agent_settings, member), size, def, lo, hi, NULL, 0}

static const struct config_field fields[] = {
	F("state_dir", CONFIG_STRING, state_dir, 512, "/var/lib/eduwatch-agent",
	  0, 0),
	F("collector.host", CONFIG_STRING, collector_host, 256, NULL, 0, 0),
	F("collector.port", CONFIG_INT, collector_port, 0, "7443", 1, 65535),
	F("collector.enroll_port", CONFIG_INT, enroll_port, 0, "7444", 1, 65535),
	F("uplink.batch", CONFIG_INT, batch, 0, "200", 1, 1000),
	F("uplink.window", CONFIG_INT, window, 0, "4", 1, 16),
	F("uplink.bandwidth", CONFIG_SIZE, bandwidth, 0, "0", 0, 1LL << 40),
	F("uplink.backoff_max", CONFIG_DURATION, backoff_max, 0, "5m", 1, 86400),
	F("heartbeat.interval", CONFIG_DURATION, heartbeat_interval, 0, "60s",
	  1, 86400),
	F("inventory.interval", CONFIG_DURATION, inventory_interval, 0, "1h", 1,
	  604800),
	F("spool.max_size", CONFIG_SIZE, spool_max_size, 0, "256MiB", 1 << 20,
	  1LL << 40),
	F("log.level", CONFIG_LOG_LEVEL, log_level, 0, "info", 0, 0),
	F("netsensor.enabled", CONFIG_BOOL, net_enabled, 0, "true", 0, 0),
	F("netsensor.interface", CONFIG_STRING, net_interface, 64, "", 0, 0),
	F("netsensor.gateway", CONFIG_STRING, net_gateway, 64, "", 0, 0),
	F("netsensor.gateway_mac", CONFIG_STRING, net_gateway_mac, 32, "", 0,
	  0),
	F("netsensor.arp_sweep", CONFIG_INT, net_arp_sweep, 0, "64", 8, 4096),
	F("netsensor.ioc_file", CONFIG_STRING, net_ioc_file, 512, "", 0, 0),
	F("netsensor.guarded_hosts", CONFIG_LIST, net_guarded_raw, 0, "[]", 0,
	  0),
	F("netsensor.dhcp_servers", CONFIG_LIST, net_dhcp_raw, 0, "[]", 0, 0),
	F("netsensor.name_responders", CONFIG_LIST, net_responders_raw, 0, "[]",
	  0, 0),
	F("netsensor.scan_ports", CONFIG_INT, net_scan_ports, 0, "20", 2, 24),
	F("netsensor.scan_window", CONFIG_DURATION, net_scan_window, 0, "10s", 1,
	  3600),
	F("netsensor.arp_flood", CONFIG_INT, net_arp_flood, 0, "30", 2, 100000),
	F("netsensor.mac_ips", CONFIG_INT, net_mac_ips, 0, "8", 2, 32),
	F("netsensor.arp_window", CONFIG_DURATION, net_arp_window, 0, "10s", 1,
	  3600),
	F("netsensor.poison_names", CONFIG_INT, net_poison_names, 0, "2", 1, 8),
	F("netsensor.dedupe_window", CONFIG_DURATION, net_dedupe_window, 0,
	  "10m", 1, 86400),
	F("scan.enabled", CONFIG_BOOL, scan_enabled, 0, "true", 0, 0),
	F("scan.full_interval", CONFIG_DURATION, scan_full_interval, 0, "7d",
	  3600, 366 * 86400LL),
	F("scan.quick_interval", CONFIG_DURATION, scan_quick_interval, 0, "1d",
	  600, 366 * 86400LL),
	F("scan.full_paths", CONFIG_LIST, scan_full_raw, 0, "[/]", 0, 0),
	F("scan.quick_paths", CONFIG_LIST, scan_quick_raw, 0,
	  "[/home/*/Downloads, /home/*/Desktop, /home/*/Tải xuống, "
	  "/root/Downloads, /root/Desktop, /tmp, /var/tmp, /dev/shm]",
	  0, 0),
	F("scan.usb_mounts", CONFIG_LIST, scan_usb_raw, 0,
	  "[/media, /run/media, /mnt]", 0, 0),
	F("scan.exclude", CONFIG_LIST, scan_exclude_raw, 0,
	  "[/proc, /sys, /dev, /run, /snap, /var/lib/eduwatch-agent]",
	  0, 0),
	F("scan.cpu", CONFIG_INT, scan_cpu, 0, "25", 1, 100),
	F("scan.max_file_size", CONFIG_SIZE, scan_max_file_size, 0, "64MiB",
	  1024, 1LL << 34),
	F("scan.timeout", CONFIG_DURATION, scan_timeout, 0, "60s", 1, 3600),
	F("scan.jobs", CONFIG_INT, scan_jobs, 0, "1", 1, 8),
	F("scan.quarantine", CONFIG_BOOL, scan_quarantine, 0, "false", 0, 0),
	F("backup.repo", CONFIG_STRING, backup_repo, 512, "", 0, 0),
	F("backup.password_file", CONFIG_STRING, backup_password_file, 512, "",
	  0, 0),
	F("backup.paths", CONFIG_LIST, backup_paths_raw, 0, "[/home]", 0, 0),
	F("backup.exclude", CONFIG_LIST, backup_exclude_raw, 0, "[]", 0, 0),
	F("backup.rpo", CONFIG_DURATION, backup_rpo, 0, "24h", 60,
	  366 * 86400LL),
	F("backup.verify_interval", CONFIG_DURATION, backup_verify_interval, 0,
	  "7d", 3600, 366 * 86400LL),
	F("backup.restore_test_interval", CONFIG_DURATION,
	  backup_restore_test_interval, 0, "90d", 3600, 3660 * 86400LL),
	F("backup.restore_sample", CONFIG_INT, backup_restore_sample, 0, "5", 1,
	  1000),
	F("backup.prune", CONFIG_BOOL, backup_prune, 0, "false", 0, 0),
	F("backup.keep_daily", CONFIG_INT, backup_keep_daily, 0, "7", 0, 3660),
	F("backup.keep_weekly", CONFIG_INT, backup_keep_weekly, 0, "4", 0, 520),
	F("backup.keep_monthly", CONFIG_INT, backup_keep_monthly, 0, "12", 0,
	  1200),
	F("backup.escrow", CONFIG_BOOL, backup_escrow, 0, "true", 0, 0),
	F("backup.check_interval", CONFIG_DURATION, backup_check_interval, 0,
	  "1m", 1, 3600),
	F("av.enabled", CONFIG_BOOL, av_enabled, 0, "true", 0, 0),
	F("av.interval", CONFIG_DURATION, av_interval, 0, "1h", 10, 86400),
	F("av.clamd_socket", CONFIG_STRING, av_clamd_socket, 256, "", 0, 0),
	F("av.clamav_db", CONFIG_STRING, av_clamav_db, 256, "/var/lib/clamav",
	  0, 0),
	F("av.clamd_conf", CONFIG_STRING, av_clamd_conf, 256,
	  "/etc/clamav/clamd.conf", 0, 0),
	F("av.products_file", CONFIG_STRING, av_products_file, 512,
	  "/usr/share/eduwatch/rules/av-products.txt", 0, 0),
	F("testing.synthetic_rate", CONFIG_INT, synthetic_rate, 0, "0", 0, 10000),
	F("testing.synthetic_log", CONFIG_STRING, synthetic_log, 512, "", 0, 0),
};

/* An address list becomes fixed arrays here, so that a typo is refused
 * when the file is read, not when the sensor starts. */
static int parse_ipv4_list(const char *path, const char *key,
			   const struct config_list *list,
			   unsigned char (*out)[4], size_t cap, size_t *n,
			   char *err, size_t errlen)
{
	*n = 0;
	if (list->count > cap) {
		snprintf(err, errlen, "%s: key '%s': at most %zu addresses",
			 path, key, cap);
		return -EINVAL;
	}
	for (size_t i = 0; i < list->count; i++) {
		if (inet_pton(AF_INET, list->items[i], out[i]) != 1) {
			snprintf(err, errlen, "%s: key '%s': '%s' is not an "
				 "IPv4 address", path, key, list->items[i]);
			return -EINVAL;
		}
	}
	*n = list->count;
	return 0;
}

/* A path list becomes fixed strings here, so that the settings struct
 * stays a plain value that can be copied and reloaded. */
static int copy_paths(const char *path, const char *key,
		      const struct config_list *list,
		      char (*out)[AGENT_PATH_LEN], size_t *n, char *err,
		      size_t errlen)
{
	if (list->count > AGENT_PATHS_MAX) {
		snprintf(err, errlen, "%s: key '%s': at most %d paths", path,
			 key, AGENT_PATHS_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < list->count; i++) {
		const char *p = list->items[i];
		if (p[0] != '/' || strlen(p) >= AGENT_PATH_LEN) {
			snprintf(err, errlen,
				 "%s: key '%s': '%s' is not an absolute path "
				 "of under %d bytes",
				 path, key, p, AGENT_PATH_LEN);
			return -EINVAL;
		}
		snprintf(out[i], AGENT_PATH_LEN, "%s", p);
	}
	*n = list->count;
	return 0;
}

int agent_settings_load(const char *path, struct agent_settings *out,
			char *err, size_t errlen)
{
	unsigned char gw[4];
	memset(out, 0, sizeof(*out));
	int rc = config_load_file(path, fields, CONFIG_FIELD_COUNT(fields), out,
				  err, errlen);
	if (rc == 0)
		rc = parse_ipv4_list(path, "netsensor.guarded_hosts",
				     &out->net_guarded_raw, out->net_guarded, 16,
				     &out->net_n_guarded, err, errlen);
	if (rc == 0)
		rc = parse_ipv4_list(path, "netsensor.dhcp_servers",
				     &out->net_dhcp_raw, out->net_dhcp_servers,
				     16, &out->net_n_dhcp_servers, err, errlen);
	if (rc == 0)
		rc = parse_ipv4_list(path, "netsensor.name_responders",
				     &out->net_responders_raw,
				     out->net_responders, 16,
				     &out->net_n_responders, err, errlen);
	if (rc == 0)
		rc = copy_paths(path, "scan.full_paths", &out->scan_full_raw,
				out->scan_full_paths, &out->scan_n_full, err,
				errlen);
	if (rc == 0)
		rc = copy_paths(path, "scan.quick_paths", &out->scan_quick_raw,
				out->scan_quick_paths, &out->scan_n_quick, err,
				errlen);
	if (rc == 0)
		rc = copy_paths(path, "scan.usb_mounts", &out->scan_usb_raw,
				out->scan_usb_prefixes, &out->scan_n_usb, err,
				errlen);
	if (rc == 0)
		rc = copy_paths(path, "scan.exclude", &out->scan_exclude_raw,
				out->scan_excludes, &out->scan_n_excludes, err,
				errlen);
	if (rc == 0)
		rc = copy_paths(path, "backup.paths", &out->backup_paths_raw,
				out->backup_paths, &out->backup_n_paths, err,
				errlen);
	if (rc == 0)
		rc = copy_paths(path, "backup.exclude", &out->backup_exclude_raw,
				out->backup_excludes, &out->backup_n_excludes, err,
				errlen);
	if (rc == 0 && out->backup_password_file[0] == '\0')
		snprintf(out->backup_password_file,
			 sizeof(out->backup_password_file), "%s/backup.pass",
			 out->state_dir);
	if (rc == 0 && out->net_gateway[0] &&
	    inet_pton(AF_INET, out->net_gateway, gw) != 1) {
		snprintf(err, errlen, "%s: key 'netsensor.gateway': '%s' is not "
			 "an IPv4 address", path, out->net_gateway);
		rc = -EINVAL;
	}
	unsigned m[6];
	char tail;
	if (rc == 0 && out->net_gateway_mac[0] &&
	    sscanf(out->net_gateway_mac, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0],
		   &m[1], &m[2], &m[3], &m[4], &m[5], &tail) != 6) {
		snprintf(err, errlen, "%s: key 'netsensor.gateway_mac': '%s' is "
			 "not a MAC address like 00:1a:2b:3c:4d:5e", path,
			 out->net_gateway_mac);
		rc = -EINVAL;
	}
	config_free(fields, CONFIG_FIELD_COUNT(fields), out);
	return rc;
}

int agent_settings_write(const char *path, const char *state_dir,
			 const char *host, int port, int enroll_port,
			 char *err, size_t errlen)
{
	char text[2048];
	int n = snprintf(text, sizeof(text),
			 "# eduwatch agent settings; see README.md.\n"
			 "state_dir: %s\n"
			 "collector:\n"
			 "  host: %s\n"
			 "  port: %d\n"
			 "  enroll_port: %d\n"
			 "uplink:\n"
			 "  batch: 200\n"
			 "  window: 4\n"
			 "  bandwidth: 0        # bytes/s for slow links, 0 = no cap\n"
			 "  backoff_max: 5m\n"
			 "heartbeat:\n"
			 "  interval: 60s\n"
			 "inventory:\n"
			 "  interval: 1h        # how often to look for changes\n"
			 "spool:\n"
			 "  max_size: 256MiB\n"
			 "netsensor:            # the LAN sensor; needs root\n"
			 "  enabled: true\n"
			 "  dhcp_servers: []    # e.g. [192.168.1.1]; others are rogue\n"
			 "  name_responders: [] # hosts allowed to answer LLMNR/NBNS\n"
			 "scan:                 # YARA, with the collector's signed rules\n"
			 "  full_interval: 7d\n"
			 "  quick_interval: 1d  # downloads, desktops, temp\n"
			 "  cpu: 25             # percent of one core\n"
			 "  max_file_size: 64MiB\n"
			 "av:\n"
			 "  interval: 1h        # and at once when the state changes\n"
			 "log:\n"
			 "  level: info\n",
			 state_dir, host, port, enroll_port);
	return config_write_text(path, text, n, sizeof(text), err, errlen);
}
