/* libFuzzer harness: what antivirus products write that the agent reads:
 * a ClamAV database header (any file in the database folder), clamd's
 * VERSION reply, and a CIM datetime from WMI. */
#include <stdint.h>
#include <string.h>

#include "agent/av/avstatus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvd_header h;
	EW_IGNORE(cvd_parse_header((const char *)data, size, &h));
	char text[600], engine[32];
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
	memcpy(text, data, n);
	text[n] = '\0';
	unsigned db;
	EW_IGNORE(clamd_parse_version(text, engine, sizeof(engine), &db));
	int64_t us;
	EW_IGNORE(cim_datetime_parse(text, &us));
	struct defender_raw raw = {size & 1, "", ""};
	memcpy(raw.signature_updated, text,
	       n < sizeof(raw.signature_updated) - 1 ? n
						     : sizeof(raw.signature_updated) - 1);
	struct av_product p;
	defender_decode(&raw, &p);
	if (size >= 4) {
		struct wsc_state ws;
		wsc_decode_product_state((uint32_t)data[0] << 24 |
						 (uint32_t)data[1] << 16 |
						 (uint32_t)data[2] << 8 | data[3],
					 &ws);
	}
	return 0;
}
