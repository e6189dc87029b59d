#include "agent/av/avstatus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *av_state_name(enum av_state state)
{
	switch (state) {
	case AV_ON: return "on";
	case AV_OFF: return "off";
	case AV_SNOOZED: return "snoozed";
	case AV_EXPIRED: return "expired";
	default: return "unknown";
	}
}

static bool parse_uint(const char *s, size_t n, unsigned long long max,
		       unsigned long long *out)
{
	unsigned long long v = 0;
	if (n == 0 || n > 20)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

int cvd_parse_header(const char *buf, size_t len, struct cvd_header *out)
{
	/* The header is padded with spaces to 512 bytes. Its build time has
	 * colons of its own ("14 Nov 2023 07:49 -0500"), so the fields are
	 * read from the right: unix time, builder, signature, MD5, level,
	 * signatures, version; what is left after the magic is the time. */
	const char *f[16];
	size_t flen[16], nf = 0, start = 0;
	if (len > 512)
		len = 512;
	while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\0'))
		len--;
	if (len < 11 || memcmp(buf, "ClamAV-VDB:", 11) != 0 ||
	    memchr(buf, '\0', len) != NULL)
		return -EBADMSG;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i <= len; i++) {
		if (i < len && buf[i] != ':')
			continue;
		if (nf == 16)
			return -EBADMSG;
		f[nf] = buf + start;
		flen[nf++] = i - start;
		start = i + 1;
	}
	if (nf < 9)
		return -EBADMSG;
	size_t last = nf - 1;
	unsigned long long v, sigs, level, unix_time;
	if (!parse_uint(f[last - 6], flen[last - 6], 0xffffffffu, &v) ||
	    !parse_uint(f[last - 5], flen[last - 5], 0xffffffffu, &sigs) ||
	    !parse_uint(f[last - 4], flen[last - 4], 0xffffffffu, &level) ||
	    !parse_uint(f[last], flen[last], 1ULL << 40, &unix_time))
		return -EBADMSG;
	/* From the first field after the magic to the one before version. */
	size_t tlen = (size_t)(f[last - 6] - 1 - f[1]);
	if (last - 6 < 2 || tlen >= sizeof(out->build_time))
		return -EBADMSG;
	memcpy(out->build_time, f[1], tlen);
	out->build_time[tlen] = '\0';
	out->version = (unsigned)v;
	out->signatures = (unsigned)sigs;
	out->level = (unsigned)level;
	out->build_unix = (int64_t)unix_time;
	return 0;
}

int clamd_parse_version(const char *reply, char *engine, size_t engine_cap,
			unsigned *db_version)
{
	if (strncmp(reply, "ClamAV ", 7) != 0)
		return -EBADMSG;
	const char *p = reply + 7;
	size_t n = strcspn(p, "/\n");
	if (n == 0 || n >= engine_cap)
		return -EBADMSG;
	memcpy(engine, p, n);
	engine[n] = '\0';
	*db_version = 0;
	if (p[n] == '/') {
		unsigned long long v;
		size_t m = strcspn(p + n + 1, "/\n");
		if (parse_uint(p + n + 1, m, 0xffffffffu, &v))
			*db_version = (unsigned)v;
	}
	return 0;
}

void wsc_decode_product_state(uint32_t ps, struct wsc_state *out)
{
	static const enum av_state scanner[] = {AV_OFF, AV_ON, AV_SNOOZED,
						AV_EXPIRED};
	unsigned s = (ps >> 12) & 0xf;
	out->state = s < 4 ? scanner[s] : AV_UNKNOWN;
	out->up_to_date = ((ps >> 4) & 0xf) == 0;
	out->microsoft = (ps & 0x100) != 0;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm):
 * timegm without the process's time zone. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int cim_datetime_parse(const char *t, int64_t *out_us)
{
	/* yyyymmddHHMMSS.mmmmmm+UUU: 25 characters. */
	unsigned long long y, mo, d, h, mi, s, us, off;
	if (strlen(t) < 25 || t[14] != '.' || (t[21] != '+' && t[21] != '-') ||
	    !parse_uint(t, 4, 9999, &y) || !parse_uint(t + 4, 2, 12, &mo) ||
	    !parse_uint(t + 6, 2, 31, &d) || !parse_uint(t + 8, 2, 23, &h) ||
	    !parse_uint(t + 10, 2, 59, &mi) || !parse_uint(t + 12, 2, 60, &s) ||
	    !parse_uint(t + 15, 6, 999999, &us) ||
	    !parse_uint(t + 22, 3, 999, &off) || mo == 0 || d == 0)
		return -EBADMSG;
	int64_t secs = days_from_civil((int64_t)y, (unsigned)mo, (unsigned)d) *
			       86400 +
		       (int64_t)(h * 3600 + mi * 60 + s);
	/* Local time = UTC + offset. */
	secs -= (t[21] == '-' ? -1 : 1) * (int64_t)off * 60;
	*out_us = secs * 1000000 + (int64_t)us;
	return 0;
}

void defender_decode(const struct defender_raw *raw, struct av_product *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "Microsoft Defender Antivirus");
	snprintf(out->source, sizeof(out->source), "defender");
	bool passive = strstr(raw->running_mode, "Passive") != NULL ||
		       strstr(raw->running_mode, "EDR Block") != NULL;
	out->sig_known = cim_datetime_parse(raw->signature_updated,
					    &out->sig_time_us) == 0;
	if (passive) {
		out->state = AV_OFF;
		out->realtime = false;
		snprintf(out->detail, sizeof(out->detail),
			 "%s: another antivirus is the active one; Defender's "
			 "enabled flags do not protect in this mode",
			 raw->running_mode);
	} else {
		out->state = raw->realtime_enabled ? AV_ON : AV_OFF;
		out->realtime = raw->realtime_enabled;
		snprintf(out->detail, sizeof(out->detail), "mode %s",
			 raw->running_mode[0] ? raw->running_mode : "unknown");
	}
}

void av_report_summarise(struct av_report *r, int64_t now_us)
{
	r->realtime = false;
	r->sig_age_days = -1;
	int64_t freshest = 0, freshest_any = 0;
	for (size_t i = 0; i < r->count; i++) {
		const struct av_product *p = &r->products[i];
		r->realtime |= p->realtime;
		if (!p->sig_known)
			continue;
		if ((p->realtime || p->state == AV_ON) && p->sig_time_us > freshest)
			freshest = p->sig_time_us;
		if (p->sig_time_us > freshest_any)
			freshest_any = p->sig_time_us;
	}
	/* The signatures of the product that is running count; when none
	 * runs, the freshest on disk still tells the officer something. */
	if (freshest == 0)
		freshest = freshest_any;
	if (freshest > 0) {
		int64_t age = now_us - freshest;
		r->sig_age_days = age <= 0 ? 0 : (int)(age / (86400LL * 1000000));
	}
}
