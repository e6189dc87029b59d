/* libFuzzer harness: the register's CSV import (record splitting, header
 * matching and every column's check), as `system import` runs it on a
 * file an officer was sent. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "collector/register/register.h"
#include "common/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_system *items = NULL;
	size_t count = 0;
	char err[512];
	if (register_csv_load((const char *)data, size, &items, &count, err,
			      sizeof(err)) == 0) {
		/* What was accepted satisfies the register's own checks. */
		for (size_t i = 0; i < count; i++)
			if (register_check(&items[i], err, sizeof(err)) != 0 ||
			    items[i].level < 1 || items[i].level > 5)
				__builtin_trap();
	} else if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL) {
		__builtin_trap(); /* every refusal says why */
	}
	alloc_free(items);
	return 0;
}
