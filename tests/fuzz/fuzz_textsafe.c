/* libFuzzer harness: textsafe output is valid UTF-8 with no control
 * bytes, whatever the input, at every buffer size; a cut output is a
 * prefix of the whole one, and the stream form matches it. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/textsafe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An independent strict UTF-8 check (RFC 3629) that also refuses the
 * C0/C1 controls and DEL, so the harness does not trust the code it
 * tests. */
static void check_safe(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				abort();
			i++;
			continue;
		}
		size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
		if (need == 0 || i + need > n || c < 0xc2 || c > 0xf4)
			abort();
		unsigned long cp = c & (0x7f >> need);
		for (size_t k = 1; k < need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				abort();
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		static const unsigned long min[5] = {0, 0, 0x80, 0x800, 0x10000};
		if (cp < min[need] || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
			abort();
		i += need;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	size_t full_len = textsafe_escaped_len(in, size);
	char *full = malloc(full_len + 1);
	if (full == NULL)
		return 0;
	if (textsafe_escape(full, full_len + 1, in, size) != full_len ||
	    strlen(full) != full_len)
		abort(); /* a NUL in the input must come out escaped */
	check_safe((const unsigned char *)full, full_len);
	if (textsafe_is_clean(in, size) !=
	    (full_len == size && memcmp(full, in, size) == 0))
		abort();

	/* Cut at a size chosen by the input: a prefix, still safe. */
	size_t cap = size > 0 ? (size_t)data[0] % (full_len + 2) : 0;
	char small[260];
	if (cap > sizeof(small))
		cap = sizeof(small);
	size_t n = textsafe_escape(small, cap, in, size);
	if (cap > 0 && (n >= cap || small[n] != '\0' ||
			memcmp(small, full, n) != 0 ||
			(n + TEXTSAFE_UNIT_MAX < cap && n != full_len)))
		abort();
	if (cap > 0)
		check_safe((const unsigned char *)small, n);

	char *mem = NULL;
	size_t memlen = 0;
	FILE *f = open_memstream(&mem, &memlen);
	if (f != NULL) {
		if (textsafe_fwrite(f, in, size) != 0)
			abort();
		fclose(f);
		if (memlen != full_len || memcmp(mem, full, full_len) != 0)
			abort();
		free(mem);
	}

	/* The JSON form keeps backslashes but is as safe. */
	mem = NULL;
	memlen = 0;
	f = open_memstream(&mem, &memlen);
	if (f != NULL) {
		if (textsafe_fwrite_json(f, in, size) != 0)
			abort();
		fclose(f);
		check_safe((const unsigned char *)mem, memlen);
		free(mem);
	}
	free(full);
	return 0;
}
