/* libFuzzer harness: an agent release's payload (common/relpkg.h), which
 * the agent unpacks as root into its release folder. Whatever the bytes,
 * a parse that succeeds must name only plain, distinct file names inside
 * the payload's bounds and a version of digits and dots. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/relpkg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relpkg pkg;
	char err[200];
	if (relpkg_parse(data, size, &pkg, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort(); /* a refusal always says why */
		return 0;
	}
	if (!relpkg_version_ok(pkg.release) || pkg.nfiles == 0 ||
	    pkg.nfiles > RELPKG_FILES)
		abort();
	for (size_t i = 0; i < pkg.nfiles; i++) {
		const struct relpkg_file *f = &pkg.files[i];
		const uint8_t *p = f->data;
		if (f->name[0] == '\0' || f->name[0] == '.' ||
		    strchr(f->name, '/') != NULL || p < data ||
		    p + f->len > data + size)
			abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(pkg.files[j].name, f->name) == 0)
				abort();
	}
	relpkg_clear(&pkg);
	return 0;
}
