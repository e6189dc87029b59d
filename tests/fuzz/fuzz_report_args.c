/* libFuzzer harness: the report's period and scope parsers (--period,
 * --scope, and what a console page passes on from a URL), and the PDF's
 * date rewriting over any text (remarks and names are an officer's). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "collector/report/report.h"
#include "common/textsafe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[512], err[256];
	struct report_calendar cal;
	struct report_period p;
	struct report_scope s;
	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	report_calendar_default(&cal);
	if (report_period_parse(text, &cal, &p, err, sizeof(err)) == 0) {
		/* An accepted period is one of ours and in order. */
		if (p.from_us >= p.end_us || strcmp(p.from, p.to) >= 0 ||
		    strcmp(p.to, p.due) >= 0 || p.year < 2000 || p.year > 2099)
			__builtin_trap();
	}
	if (report_scope_parse(text, &s, err, sizeof(err)) == 0) {
		/* An accepted scope prints safely. */
		if (!textsafe_is_clean(s.id, strlen(s.id)))
			__builtin_trap();
	}
	/* Dates in place: the length stays, and only a date's digits and
	 * separators move ('-' becomes '/'). */
	char shown[sizeof(text)];
	memcpy(shown, text, size + 1);
	report_dates_vn(shown);
	if (strlen(shown) != strlen(text))
		__builtin_trap();
	for (size_t i = 0; i < size; i++)
		if (shown[i] != text[i] &&
		    (!((text[i] >= '0' && text[i] <= '9') || text[i] == '-') ||
		     !((shown[i] >= '0' && shown[i] <= '9') || shown[i] == '/')))
			__builtin_trap();
	return 0;
}
