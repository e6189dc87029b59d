/* html: escaping for every page the console renders. */
#include "collector/web/html.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonout.h"

void html_escape(struct dynbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p);
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		if (c >= 0x80) {
			size_t k = json_utf8_len(p + i, n - i);
			if (k == 0) {
				dynbuf_add_str(b, "\xef\xbf\xbd");
				i++;
			} else {
				dynbuf_add(b, p + i, k);
				i += k;
			}
			continue;
		}
		switch (c) {
		case '&': dynbuf_add_str(b, "&amp;"); break;
		case '<': dynbuf_add_str(b, "&lt;"); break;
		case '>': dynbuf_add_str(b, "&gt;"); break;
		case '"': dynbuf_add_str(b, "&quot;"); break;
		case '\'': dynbuf_add_str(b, "&#39;"); break;
		case '/': dynbuf_add_str(b, "&#47;"); break;
		default:
			if (c < 0x20 && c != '\t' && c != '\n')
				dynbuf_add_str(b, "\xef\xbf\xbd");
			else
				dynbuf_add(b, &c, 1);
		}
		i++;
	}
}

void html_emit(struct dynbuf *b, const char *tmpl, ...)
{
	va_list ap;
	const char *p = tmpl;
	va_start(ap, tmpl);
	while (*p) {
		const char *pct = strchr(p, '%');
		if (pct == NULL) {
			dynbuf_add_str(b, p);
			break;
		}
		dynbuf_add(b, p, (size_t)(pct - p));
		p = pct + 1;
		if (*p == 's') {
			html_escape(b, va_arg(ap, const char *));
			p += 1;
		} else if (*p == 'd') {
			dynbuf_addf(b, "%d", va_arg(ap, int));
			p += 1;
		} else if (strncmp(p, "lld", 3) == 0) {
			dynbuf_addf(b, "%lld", va_arg(ap, long long));
			p += 3;
		} else if (strncmp(p, ".1f", 3) == 0) {
			dynbuf_addf(b, "%.1f", va_arg(ap, double));
			p += 3;
		} else if (*p == '%') {
			dynbuf_add(b, "%", 1);
			p += 1;
		} else {
			fprintf(stderr, "html_emit: unknown conversion in '%s'\n",
				tmpl);
			abort();
		}
	}
	va_end(ap);
}

/* A query value percent-encoded (RFC 3986 unreserved bytes kept), so a
 * commune's name with spaces, diacritics or '&' stays one value. */
void html_url_encode(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (; *s && n + 4 <= cap; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n] = '\0';
}
