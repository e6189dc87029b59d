#ifndef _WIN32
#include "agent/av/avprobe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/timeutil.h"

#define CLAMD_TIMEOUT_S 3

/* ---- clamd ------------------------------------------------------------------ */

/* One clamd command on a fresh connection (clamd closes after each
 * reply): "zPING" answers "PONG", "zVERSION" the version line. */
static int clamd_ask(const char *socket_path, const char *cmd, char *reply,
		     size_t cap)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", socket_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct timeval tv = {CLAMD_TIMEOUT_S, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int rc = 0;
	size_t len = strlen(cmd) + 1; /* the z-form ends with a NUL */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    send(fd, cmd, len, MSG_NOSIGNAL) != (ssize_t)len)
		rc = -errno;
	size_t got = 0;
	while (rc == 0 && got + 1 < cap) {
		ssize_t n = recv(fd, reply + got, cap - 1 - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		if (n <= 0)
			break;
		bool end = memchr(reply + got, '\0', (size_t)n) != NULL;
		got += (size_t)n;
		if (end)
			break;
	}
	reply[got < cap ? got : cap - 1] = '\0';
	close(fd);
	if (rc == 0 && got == 0)
		rc = -ECONNRESET;
	return rc;
}

/* A "Key value" line of clamd.conf (the first occurrence). */
static bool conf_value(const char *conf, const char *key, char *out,
		       size_t cap)
{
	FILE *f = fopen(conf, "re");
	char line[512];
	bool found = false;
	size_t klen = strlen(key);
	while (f && !found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) != 0 ||
		    (line[klen] != ' ' && line[klen] != '\t'))
			continue;
		const char *v = line + klen + strspn(line + klen, " \t");
		snprintf(out, cap, "%.*s", (int)strcspn(v, "\r\n"), v);
		found = true;
	}
	if (f)
		fclose(f);
	return found;
}

/* True when the process whose /proc/PID/stat this is bears that name
 * and has not ended. The line is "PID (COMM) STATE ...": COMM is the
 * first 15 bytes of the name and may hold spaces and parentheses, hence
 * the last ')'. A zombie (Z) or dead (X) process has ended, only its
 * parent has not reaped it yet: a crashed clamonacc is no protection. */
static bool live_process_named(const char *stat_path, const char *comm)
{
	char buf[256];
	int fd = open(stat_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	const char *from = strchr(buf, '(');
	const char *to = strrchr(buf, ')');
	if (from == NULL || to == NULL || to < from || to[1] != ' ')
		return false;
	size_t len = (size_t)(to - from - 1), want = strnlen(comm, 15);
	char state = to[2];
	return len == want && memcmp(from + 1, comm, len) == 0 &&
	       state != 'Z' && state != 'X';
}

static bool process_running(const char *comm)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	bool found = false;
	while (d && !found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		char path[300];
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		found = live_process_named(path, comm);
	}
	if (d)
		closedir(d);
	return found;
}

/* The freshest of daily.cld and daily.cvd: its header and mtime. */
static bool newest_daily(const char *dir, struct cvd_header *hdr,
			 int64_t *updated_us)
{
	static const char *const names[] = {"daily.cld", "daily.cvd"};
	bool found = false;
	for (size_t i = 0; i < 2; i++) {
		char path[600], buf[512];
		struct cvd_header h;
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf));
		bool ok = n > 0 && fstat(fd, &st) == 0 &&
			  cvd_parse_header(buf, (size_t)n, &h) == 0;
		close(fd);
		if (ok && (!found || h.build_unix > hdr->build_unix)) {
			*hdr = h;
			*updated_us = (int64_t)st.st_mtim.tv_sec * 1000000;
			found = true;
		}
	}
	return found;
}

static void probe_clamav(const struct avprobe_config *cfg, struct av_report *r)
{
	char sock[256] = "", reply[256];
	if (cfg->clamd_socket && cfg->clamd_socket[0])
		snprintf(sock, sizeof(sock), "%s", cfg->clamd_socket);
	else if (!conf_value(cfg->clamd_conf, "LocalSocket", sock, sizeof(sock)))
		snprintf(sock, sizeof(sock), "/run/clamav/clamd.ctl");
	bool answering = clamd_ask(sock, "zPING", reply, sizeof(reply)) == 0 &&
			 strcmp(reply, "PONG") == 0;
	struct cvd_header hdr;
	int64_t updated_us = 0;
	bool db = newest_daily(cfg->clamav_db, &hdr, &updated_us);
	bool installed = answering || db || access(cfg->clamd_conf, F_OK) == 0;
	if (!installed || r->count >= AV_MAX_PRODUCTS)
		return;
	struct av_product *p = &r->products[r->count++];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "ClamAV");
	snprintf(p->source, sizeof(p->source), "clamav");
	char engine[32] = "";
	unsigned dbv = 0;
	if (answering && clamd_ask(sock, "zVERSION", reply, sizeof(reply)) == 0 &&
	    clamd_parse_version(reply, engine, sizeof(engine), &dbv) == 0)
		snprintf(p->version, sizeof(p->version), "%s/%u", engine, dbv);
	if (db) {
		p->sig_known = true;
		p->sig_time_us = hdr.build_unix * 1000000;
	}
	char onacc[256] = "";
	bool onacc_conf =
		conf_value(cfg->clamd_conf, "OnAccessIncludePath", onacc,
			   sizeof(onacc)) ||
		conf_value(cfg->clamd_conf, "OnAccessMountPath", onacc,
			   sizeof(onacc));
	bool onacc_running = process_running("clamonacc");
	bool freshclam = process_running("freshclam");
	p->state = answering ? AV_ON : AV_OFF;
	/* Real time means files are checked as they are opened: clamd alone
	 * only scans what it is asked to. */
	p->realtime = answering && onacc_conf && onacc_running;
	char upd[40] = "never";
	if (updated_us)
		timeutil_format_us(updated_us, upd, sizeof(upd));
	snprintf(p->detail, sizeof(p->detail),
		 "clamd %s; freshclam %s, database %u of %s; on-access %s%s",
		 answering ? "answering" : "not answering",
		 freshclam ? "running" : "not running", db ? hdr.version : 0, upd,
		 onacc_conf ? "configured" : "not configured",
		 onacc_conf ? (onacc_running ? ", clamonacc running"
					     : ", clamonacc not running")
			    : "");
}

/* ---- other products: names from the data file ------------------------------------ */

static bool unit_exists(const char *name)
{
	static const char *const dirs[] = {"/etc/systemd/system",
					   "/lib/systemd/system",
					   "/usr/lib/systemd/system"};
	for (size_t i = 0; i < 3; i++) {
		char path[400];
		snprintf(path, sizeof(path), "%s/%s.service", dirs[i], name);
		if (access(path, F_OK) == 0)
			return true;
	}
	return false;
}

static void probe_listed(const char *file, struct av_report *r)
{
	FILE *f = fopen(file, "re");
	char line[256];
	while (f && fgets(line, sizeof(line), f) && r->count < AV_MAX_PRODUCTS) {
		char name[64], product[128];
		if (line[0] == '#' ||
		    sscanf(line, "%63s %127[^\n]", name, product) != 2)
			continue;
		bool running = process_running(name);
		if (!running && !unit_exists(name))
			continue;
		/* One entry a product, however many of its names match. */
		bool seen = false;
		for (size_t i = 0; i < r->count && !seen; i++)
			seen = strcmp(r->products[i].name, product) == 0;
		if (seen)
			continue;
		struct av_product *p = &r->products[r->count++];
		memset(p, 0, sizeof(*p));
		snprintf(p->name, sizeof(p->name), "%s", product);
		snprintf(p->source, sizeof(p->source), "service");
		p->state = AV_UNKNOWN;
		snprintf(p->detail, sizeof(p->detail),
			 "%s %s; the product has no interface eduwatch can ask",
			 name, running ? "is running" : "is installed");
	}
	if (f)
		fclose(f);
}

void avprobe_collect(const struct avprobe_config *cfg, struct av_report *out)
{
	memset(out, 0, sizeof(*out));
	probe_clamav(cfg, out);
	probe_listed(cfg->products_file, out);
	av_report_summarise(out, timeutil_now_us());
}
#endif
