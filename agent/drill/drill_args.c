/* drill_args: a drill command's arguments, checked (drill_args.h). */
#include "agent/drill/drill_args.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/wire.h"

/* One component, not hidden, no "..": a name the agent creates under its
 * drill folder's fd, never a path. Portable characters only (letters,
 * digits, '.', '-', '_'), because the same name reaches the Windows agent,
 * where a backslash is a separator and ':' opens an alternate data stream; a
 * drill's file names are the scenario's own, so nothing real is refused. */
static bool bare_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > DRILL_FILE_NAME_MAX || name[0] == '.' ||
	    strstr(name, "..") != NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* An optional unsigned key: absent leaves *out at 0; present, it must be
 * a number in [lo, hi]. 0 or -ERANGE. */
static int optional_u64(const msgpack_object *args, const char *key,
			uint64_t lo, uint64_t hi, long long *out)
{
	uint64_t v = 0;
	if (wire_map_get(args, key) == NULL)
		return 0;
	if (wire_get_u64(args, key, &v) != 0 || v < lo || v > hi)
		return -ERANGE;
	*out = (long long)v;
	return 0;
}

int drill_args_parse(const msgpack_object *args, int64_t now_us,
		     struct drill_args *out, char *result, size_t cap)
{
	uint64_t end = 0;
	memset(out, 0, sizeof(*out));
	if (args == NULL || args->type != MSGPACK_OBJECT_MAP ||
	    wire_get_u64(args, "campaign_id", &out->campaign_id) ||
	    out->campaign_id == 0 ||
	    wire_get_str(args, "campaign", out->campaign,
			 sizeof(out->campaign)) ||
	    wire_get_u64(args, "window_end_us", &end)) {
		snprintf(result, cap, "refused: not a drill campaign's command");
		return -EINVAL;
	}
	if (wire_get_str(args, "approver", out->approver,
			 sizeof(out->approver)) ||
	    out->approver[0] == '\0') {
		snprintf(result, cap, "refused: campaign %s is not approved",
			 out->campaign);
		return -EPERM;
	}
	if (end > (uint64_t)INT64_MAX || (int64_t)end <= now_us) {
		if (end > (uint64_t)INT64_MAX)
			goto far;
		snprintf(result, cap, "refused: campaign %s's window has closed",
			 out->campaign);
		return -ETIMEDOUT;
	}
	if ((int64_t)end - now_us > DRILL_WINDOW_MAX_US)
		goto far;
	out->window_end_us = (int64_t)end;
	const msgpack_object *f = wire_map_get(args, "file");
	if (f != NULL &&
	    (wire_get_str(args, "file", out->file, sizeof(out->file)) != 0 ||
	     !bare_name(out->file))) {
		snprintf(result, cap, "refused: a drill writes only inside its "
			 "drill folder");
		return -EPERM;
	}
	if (optional_u64(args, "duration_s", 0, DRILL_DURATION_MAX_S,
			 &out->duration_s) != 0) {
		snprintf(result, cap, "refused: campaign %s: duration out of "
			 "range (at most %llds)", out->campaign,
			 DRILL_DURATION_MAX_S);
		return -ERANGE;
	}
	if (optional_u64(args, "count", 1, DRILL_COUNT_MAX, &out->count) != 0) {
		snprintf(result, cap, "refused: campaign %s: count out of range "
			 "(1 to %d files)", out->campaign, DRILL_COUNT_MAX);
		return -ERANGE;
	}
	return 0;
far:
	snprintf(result, cap, "refused: campaign %s's window ends more than 7 "
		 "days ahead", out->campaign);
	return -ERANGE;
}
