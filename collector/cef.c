#include "collector/cef.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/jsonout.h"
#include "common/version.h"

void cef_buf_release(struct dynbuf *b)
{
	dynbuf_free(b);
}

void cef_buf_append(struct dynbuf *b, const char *s, size_t n)
{
	dynbuf_add(b, s, n);
}

static void puts_(struct dynbuf *b, const char *s)
{
	dynbuf_add_str(b, s);
}

/* One escaper for both places; they differ in which bytes are special.
 * A SIEM reads the record as UTF-8: an invalid sequence (a file name's
 * raw bytes) becomes U+FFFD, one per byte, after the escaping rules. */
static void escape(struct dynbuf *out, const char *s, bool header)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = u[i];
		if (c == '\\')
			puts_(out, "\\\\");
		else if (header && c == '|')
			puts_(out, "\\|");
		else if (!header && c == '=')
			puts_(out, "\\=");
		else if (c == '\n')
			puts_(out, header ? " " : "\\n");
		else if (c == '\r')
			puts_(out, header ? " " : "\\r");
		else if (c < 0x20 || c == 0x7f)
			puts_(out, " ");
		else if (c < 0x80)
			dynbuf_add(out, s + i, 1);
		else {
			size_t len = json_utf8_len(u + i, n - i);
			if (len == 0) {
				puts_(out, "\xef\xbf\xbd");
			} else {
				dynbuf_add(out, s + i, len);
				i += len - 1;
			}
		}
	}
}

void cef_escape_header(struct dynbuf *out, const char *s)
{
	escape(out, s, true);
}

void cef_escape_extension(struct dynbuf *out, const char *s)
{
	escape(out, s, false);
}

void cef_format(struct dynbuf *out, const struct cef_header *hdr,
		const struct cef_field *fields, size_t nfields)
{
	char sev[8];
	int severity = hdr->severity < 0 ? 0 : hdr->severity > 10 ? 10
								  : hdr->severity;
	snprintf(sev, sizeof(sev), "%d", severity);
	puts_(out, "CEF:0|eduwatch|eduwatch-collector|");
	cef_escape_header(out, EDUWATCH_VERSION);
	puts_(out, "|");
	cef_escape_header(out, hdr->signature_id);
	puts_(out, "|");
	cef_escape_header(out, hdr->name);
	puts_(out, "|");
	puts_(out, sev);
	puts_(out, "|");
	bool first = true;
	for (size_t i = 0; i < nfields; i++) {
		if (fields[i].value == NULL || fields[i].value[0] == '\0')
			continue;
		if (!first)
			puts_(out, " ");
		first = false;
		puts_(out, fields[i].key);
		puts_(out, "=");
		cef_escape_extension(out, fields[i].value);
	}
}

int syslog_severity_from_cef(int s)
{
	/* CEF 9-10 very high, 7-8 high, 4-6 medium, 1-3 low, 0 info. */
	return s >= 9 ? 1 : s >= 7 ? 3 : s >= 4 ? 4 : s >= 1 ? 5 : 6;
}

/* An RFC 5424 header field: printable US-ASCII, at most max bytes, "-"
 * when empty. */
static void header_field(struct dynbuf *out, const char *s, size_t max)
{
	size_t n = 0;
	for (const char *p = s ? s : ""; *p && n < max; p++, n++) {
		char c = *p;
		dynbuf_add(out, (c > 32 && c < 127) ? p : "_", 1);
	}
	if (n == 0)
		puts_(out, "-");
}

void syslog_frame(struct dynbuf *out, const struct syslog_meta *meta,
		  const char *msg, size_t msg_len, enum syslog_framing framing)
{
	struct dynbuf m = {0};
	char head[64];
	int facility = meta->facility >= 0 && meta->facility <= 23
			       ? meta->facility
			       : 13;
	int severity = meta->severity >= 0 && meta->severity <= 7
			       ? meta->severity
			       : 6;
	time_t t = (time_t)(meta->ts_us / 1000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	dynbuf_addf(&m, "<%d>1 ", facility * 8 + severity);
	strftime(head, sizeof(head), "%Y-%m-%dT%H:%M:%S", &tm);
	puts_(&m, head);
	dynbuf_addf(&m, ".%06lldZ ", (long long)(meta->ts_us % 1000000));
	header_field(&m, meta->hostname, 255);
	puts_(&m, " ");
	header_field(&m, meta->app, 48);
	puts_(&m, " - "); /* PROCID */
	header_field(&m, meta->msgid, 32);
	puts_(&m, " - "); /* no STRUCTURED-DATA */
	dynbuf_add(&m, msg, msg_len);
	if (m.failed) {
		if (!out->failed)
			out->failed = m.failed;
		dynbuf_free(&m);
		return;
	}
	if (framing == SYSLOG_OCTET_COUNTING) {
		dynbuf_addf(out, "%zu ", m.len);
		dynbuf_add(out, m.data, m.len);
	} else {
		dynbuf_add(out, m.data, m.len);
		puts_(out, "\n");
	}
	dynbuf_free(&m);
}
