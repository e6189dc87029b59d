/* libFuzzer harness: an agent release as published (common/relpkg.h): a
 * signed release file or a bare payload, which the agent unwraps and
 * unpacks as root into its release folder. Whatever the bytes, an unwrap
 * must stay inside them and say why it refused; a pinned key (one made
 * here, which no input can have signed for) never lets one through; a
 * parse that succeeds must name only plain, distinct file names inside
 * the payload's bounds and a version of digits and dots. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/pki.h"
#include "common/relpkg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *pin;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relpkg pkg;
	char err[200];
	const void *payload = NULL;
	size_t payload_len = 0;
	bool is_signed = false;
	if (pin == NULL && pki_key_new(&pin) != 0)
		abort();
	err[0] = '\0';
	if (relpkg_unwrap(data, size, pin, &payload, &payload_len, &is_signed,
			  err, sizeof(err)) == 0 || err[0] == '\0')
		abort(); /* nothing here is signed by pin */
	err[0] = '\0';
	if (relpkg_unwrap(data, size, NULL, &payload, &payload_len, &is_signed,
			  err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	const uint8_t *p0 = payload;
	if (p0 < data || p0 + payload_len > data + size ||
	    (!is_signed && payload_len != size))
		abort();
	data = payload;
	size = payload_len;
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
