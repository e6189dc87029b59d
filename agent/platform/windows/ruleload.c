/* The Windows agent loads a rule bundle into its libyara before
 * installing it: the cross-built libyara (4.5.2) cannot read the compiled
 * form Debian 12's (4.2.3) writes, so it compiles the bundle's signed
 * sources, after the signature and the payload hash have verified. The
 * rules are freed again: the resident agent does not scan yet (the
 * scanner's isolation is not ported), and `scan` loads them itself. */
#include "agent/platform/ruleload.h"

#include <errno.h>
#include <stdbool.h>

#include "common/errtext.h"
#include "common/log.h"
#include "common/yararules.h"

int ruleload_accept(const struct bundle_info *info, const void *raw,
		    size_t raw_len, uint64_t *rules, char *err, size_t errlen)
{
	YR_RULES *yr = NULL;
	bool compiled_here = false;
	int rc = yararules_from_bundle(info, raw, raw_len, &yr, &compiled_here,
				       err, errlen);
	if (rc != 0)
		return rc;
	*rules = yararules_count(yr);
	yr_rules_destroy(yr);
	log_info("rules: bundle %llu loads in libyara %s: %llu rules (%s)",
		 (unsigned long long)info->version, YR_VERSION,
		 (unsigned long long)*rules,
		 compiled_here ? "compiled here from its signed sources"
			       : "its compiled form");
	return 0;
}
