/* libFuzzer harness: an IOC list as it arrives from the collector, then
 * every line of the same input looked up as a domain and as an address. */
#include <stdint.h>
#include <string.h>

#include "agent/net/iocset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128], name[300];
	struct iocset *set = iocset_new();
	EW_IGNORE(iocset_add_text(set, (const char *)data, size, err, sizeof(err)));
	for (size_t off = 0; off < size;) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t end = nl ? (size_t)(nl - data) : size;
		size_t n = end - off < sizeof(name) - 1 ? end - off
							 : sizeof(name) - 1;
		memcpy(name, data + off, n);
		name[n] = '\0';
		const char *matched;
		iocset_match_domain(set, name, &matched);
		if (n >= 16)
			iocset_match_ip(set, 6, (const uint8_t *)name);
		else if (n >= 4)
			iocset_match_ip(set, 4, (const uint8_t *)name);
		off = end + 1;
	}
	iocset_free(set);
	return 0;
}
