/* html: the one template layer. Every byte of a page goes through
 * html_emit, whose %s escapes its argument for HTML text and attributes
 * alike (& < > " ' and /), so a school name, a host name or a file path
 * from a PC can never become markup. There is no "raw" conversion: a
 * page is built from literal templates and escaped values only. */
#ifndef EDUWATCH_WEB_HTML_H
#define EDUWATCH_WEB_HTML_H

#include "common/dynbuf.h"

/* Appends tmpl with its conversions: %s (a string, escaped; NULL as ""),
 * %d (int), %lld (long long), %.1f (double), %% (a percent sign). Any
 * other conversion is a bug and aborts in every build. */
void html_emit(struct dynbuf *b, const char *tmpl, ...);

/* Appends s escaped. Invalid UTF-8 becomes U+FFFD. */
void html_escape(struct dynbuf *b, const char *s);

/* s percent-encoded for a URL's query value into out (cut at cap). The
 * result still goes through html_emit's %s into an attribute. */
void html_url_encode(const char *s, char *out, size_t cap);

#endif
