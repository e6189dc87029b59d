/* libFuzzer harness: a red team's CSV of actions as `drill action
 * import` reads it, through drill_action_csv_load; every action it
 * returns must hold what the checks promise, and matching them against
 * alerts built from the same bytes must keep its figures in range,
 * some of the actions recorded after their alert (recorded late). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/drill/drill_redteam.h"
#include "common/alloc.h"
#include "common/textsafe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_redteam_action *a = NULL;
	size_t n = 0;
	char err[512];
	if (drill_action_csv_load((const char *)data, size, &a, &n, err,
				  sizeof(err)) != 0)
		return 0;
	if (n == 0 || n > DRILL_REDTEAM_CSV_MAX_ROWS)
		abort();
	struct store_redteam_alert al[4];
	memset(al, 0, sizeof(al));
	for (size_t i = 0; i < n; i++) {
		if (!drill_technique_valid(a[i].technique,
					   strlen(a[i].technique)) ||
		    (strcmp(a[i].target_kind, "host") != 0 &&
		     strcmp(a[i].target_kind, "school") != 0) ||
		    a[i].target[0] == '\0' || a[i].description[0] == '\0' ||
		    !textsafe_is_clean(a[i].description,
				       strlen(a[i].description)))
			abort();
		/* Alerts on the first actions' own targets and times. */
		if (i < 4) {
			memcpy(al[i].agent, a[i].target,
			       sizeof(al[i].agent) - 1);
			memcpy(al[i].school, a[i].target,
			       sizeof(al[i].school) - 1);
			al[i].first_us = a[i].at_us + (int64_t)i * 1000;
		}
		a[i].created_us = a[i].at_us + (int64_t)(i % 3) * 1500;
	}
	size_t nal = n < 4 ? n : 4;
	struct drill_redteam_match *m = alloc_zeroed(n, sizeof(*m));
	struct drill_redteam_figures fig;
	if (m != NULL &&
	    drill_redteam_match(a, n, al, nal, DRILL_REDTEAM_MATCH_US, m,
				&fig) == 0) {
		if (fig.detected + fig.late > n || fig.false_alerts > nal ||
		    fig.coverage < 0 || fig.coverage > 1)
			abort();
		for (size_t i = 0; i < n; i++)
			if (m[i].alert >= (long)nal ||
			    (m[i].late && (m[i].alert < 0 || m[i].detect_ms >= 0)) ||
			    (!m[i].late && m[i].alert >= 0 && m[i].detect_ms < 0))
				abort();
	}
	alloc_free(m);
	alloc_free(a);
	return 0;
}
