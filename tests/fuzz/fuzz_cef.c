/* libFuzzer harness: the CEF escapers and the syslog alert given
 * arbitrary bytes write valid UTF-8, one line, with every special byte
 * escaped exactly as a SIEM parses it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/cef.h"
#include "collector/forward.h"
#include "common/jsonout.h"
#include "tests/support/jsoncheck.h"
#include "tests/support/testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An escaped value: valid UTF-8, no line break or control byte, and each
 * special byte after an odd run of backslashes. */
static void check_escaped(const struct cef_buf *b, bool header)
{
	if (b->failed || b->data == NULL)
		return;
	if (!jsoncheck_utf8(b->data, b->len))
		abort();
	size_t run = 0;
	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];
		if (c < 0x20 || c == 0x7f)
			abort();
		if ((header ? c == '|' : c == '=') && run % 2 == 0)
			abort();
		run = c == '\\' ? run + 1 : 0;
	}
	if (run % 2 != 0)
		abort(); /* a dangling backslash would escape our separator */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (int header = 0; header < 2; header++) {
		struct cef_buf b = {0};
		if (header)
			cef_escape_header(&b, s);
		else
			cef_escape_extension(&b, s);
		check_escaped(&b, header);
		cef_buf_release(&b);
	}
	free(s);

	static struct store_alert a;
	const uint8_t *p = data, *end = data + size;
	memset(&a, 0, sizeof(a));
	testutil_take_piece(&p, end, a.title, sizeof(a.title));
	testutil_take_piece(&p, end, a.kind, sizeof(a.kind));
	testutil_take_piece(&p, end, a.hostname, sizeof(a.hostname));
	testutil_take_piece(&p, end, a.agent, sizeof(a.agent));
	testutil_take_piece(&p, end, a.commune, sizeof(a.commune));
	testutil_take_piece(&p, end, a.evidence, sizeof(a.evidence));
	char path[2048];
	testutil_take_piece(&p, end, path, sizeof(path));
	json_cut_middle(path, strlen(path), a.file_path, sizeof(a.file_path));
	a.severity = size ? data[0] % 12 - 1 : 0;
	struct cef_buf b = {0};
	forward_format_syslog(&a, "collector", SYSLOG_NEWLINE, &b);
	if (!b.failed) {
		if (!jsoncheck_utf8(b.data, b.len))
			abort();
		/* One record, one line. */
		char *nl = memchr(b.data, '\n', b.len);
		if (nl == NULL || (size_t)(nl - b.data) != b.len - 1 ||
		    memchr(b.data, '\r', b.len) != NULL)
			abort();
	}
	cef_buf_release(&b);
	return 0;
}
