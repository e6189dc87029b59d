/* cef: alerts as the SOC's SIEM reads them, ArcSight CEF inside an RFC
 * 5424 syslog message, framed for a stream by octet counting (RFC 5425)
 * or by a newline.
 *
 *   CEF:0|eduwatch|eduwatch-collector|0.1.0|net.arp_spoof|ARP spoofing of
 *   the gateway|8|rt=1764400000000 dvchost=... shost=... cs6Label=drill
 *   cs6=false ...
 *
 * Escaping is exact, because a SIEM parses by it: in the header '\' and
 * '|' are escaped and a line break becomes a space (the header is one
 * line); in the extension '\', '=' are escaped and CR and LF become \r
 * and \n. UTF-8 (Vietnamese names) passes through unchanged; an invalid
 * UTF-8 byte becomes U+FFFD and any other control byte a space, so the
 * record is always valid UTF-8. Keys are ours and never escaped. */
#ifndef EDUWATCH_CEF_H
#define EDUWATCH_CEF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dynbuf.h"

struct cef_field {
	const char *key;   /* a CEF key: rt, shost, cs1Label, ... */
	const char *value; /* NULL or "": the field is left out */
};

struct cef_header {
	const char *signature_id; /* Device Event Class ID: the event kind */
	const char *name;
	int severity; /* 0..10; clamped */
};

/* The formatters append to a struct dynbuf (common/dynbuf.h): its error
 * is sticky, so a caller checks `failed` once, after the last append.
 * struct cef_buf is its old name, kept for callers not yet moved; a
 * zeroed one is ready. */
#define cef_buf dynbuf

/* dynbuf_free and dynbuf_add under their old names. */
void cef_buf_release(struct dynbuf *b);
void cef_buf_append(struct dynbuf *b, const char *s, size_t n);

/* Appends one CEF record (no line break). */
void cef_format(struct dynbuf *out, const struct cef_header *hdr,
		const struct cef_field *fields, size_t nfields);

/* Escapes one value for the header or for the extension (for tests). */
void cef_escape_header(struct dynbuf *out, const char *s);
void cef_escape_extension(struct dynbuf *out, const char *s);

enum syslog_framing { SYSLOG_OCTET_COUNTING, SYSLOG_NEWLINE };

struct syslog_meta {
	int facility;	   /* 0..23; 13 (log audit) by default */
	int severity;	   /* syslog 0..7, from the CEF severity */
	int64_t ts_us;	   /* the TIMESTAMP, UTC with microseconds */
	const char *hostname;
	const char *app;   /* APP-NAME */
	const char *msgid; /* MSGID, e.g. the event kind */
};

/* Maps CEF 0..10 to syslog severity (10 → 1 alert ... 0 → 6 info). */
int syslog_severity_from_cef(int cef_severity);

/* Wraps msg in an RFC 5424 message and frames it. */
void syslog_frame(struct dynbuf *out, const struct syslog_meta *meta,
		  const char *msg, size_t msg_len, enum syslog_framing framing);

#endif
