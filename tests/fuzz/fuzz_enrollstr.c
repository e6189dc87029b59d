/* libFuzzer harness: an enrollment string as a technician typed it (or a
 * file handed to `eduwatch-agent enroll --from`), through enrollstr_decode.
 * Whatever decodes must encode back to a string that decodes the same. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/enrollstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct enrollstr a, b;
	char err[256], text[ENROLLSTR_TEXT_MAX];
	if (enrollstr_decode((const char *)data, size, &a, err, sizeof(err)) != 0)
		return 0;
	if (enrollstr_encode(&a, text, sizeof(text)) != 0)
		abort();
	if (enrollstr_decode(text, strlen(text), &b, err, sizeof(err)) != 0 ||
	    memcmp(&a, &b, sizeof(a)) != 0)
		abort();
	return 0;
}
