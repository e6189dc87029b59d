/* libFuzzer harness: the province's schools CSV as `setup --schools`
 * reads it, through schoolcsv_load; every school it returns must hold
 * the values the checks promise. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/schoolcsv.h"
#include "common/alloc.h"
#include "common/event.h"
#include "common/textsafe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_school *s = NULL;
	size_t n = 0;
	char err[512];
	if (schoolcsv_load((const char *)data, size, &s, &n, err,
			   sizeof(err)) != 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!event_agent_id_valid(s[i].code) || s[i].level < 1 ||
		    s[i].level > 5 || s[i].expected_pcs < 0 ||
		    !textsafe_is_clean(s[i].name, strlen(s[i].name)) ||
		    s[i].name[0] == '\0')
			abort();
	alloc_free(s);
	return 0;
}
