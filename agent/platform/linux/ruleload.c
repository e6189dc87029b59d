/* The resident Linux agent checks a rule bundle against its scanner's
 * libyara from the signed header alone: yararules_bundle_usable is
 * inline, so libyara stays out of this process (docs/DECISIONS.md, "The
 * agent's helpers are executables of their own"). The scanner helper is
 * built from the same tree against the same libyara headers. */
#include "agent/platform/ruleload.h"

#include <errno.h>

#include "common/errtext.h"
#include "common/yararules.h"

int ruleload_accept(const struct bundle_info *info, const void *raw,
		    size_t raw_len, uint64_t *rules, char *err, size_t errlen)
{
	(void)raw;
	if (raw_len != info->raw_len || !yararules_bundle_usable(info))
		return errtext_set(-EPROTO, err, errlen,
				   "the bundle's rules were compiled by libyara "
				   "%s and it carries no sources; this agent's "
				   "libyara is %s", info->yara, YR_VERSION);
	*rules = info->rules;
	return 0;
}
