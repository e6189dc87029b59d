/* scan.*: the scan source's keys in agent.yaml, their defaults and
 * ranges, owned here (agent/core/sources.h). */
#include "agent/scan/scan_settings.h"

#include "agent/core/source.h"

#define F(key, type, member, size, def, lo, hi)                               \
	{key, type, offsetof(struct scan_settings, member), size, def, lo, hi, \
	 NULL, 0}

static const struct config_field scan_fields[] = {
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
};

/* The path lists become fixed strings when the file is read. */
static int scan_check(void *conf, const struct agent_settings *core,
		      const char *path, char *err, size_t errlen)
{
	struct scan_settings *s = conf;
	(void)core;
	int rc = agent_settings_paths(path, "scan.full_paths", &s->scan_full_raw,
				      s->scan_full_paths, &s->scan_n_full, err,
				      errlen);
	if (rc == 0)
		rc = agent_settings_paths(path, "scan.quick_paths",
					  &s->scan_quick_raw, s->scan_quick_paths,
					  &s->scan_n_quick, err, errlen);
	if (rc == 0)
		rc = agent_settings_paths(path, "scan.usb_mounts",
					  &s->scan_usb_raw, s->scan_usb_prefixes,
					  &s->scan_n_usb, err, errlen);
	if (rc == 0)
		rc = agent_settings_paths(path, "scan.exclude",
					  &s->scan_exclude_raw, s->scan_excludes,
					  &s->scan_n_excludes, err, errlen);
	return rc;
}

const struct source_config scan_config = {
	.fields = scan_fields,
	.nfields = CONFIG_FIELD_COUNT(scan_fields),
	.size = sizeof(struct scan_settings),
	.check = scan_check,
};
