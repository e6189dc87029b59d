/* libFuzzer harness: the whole receive path of a connection. Bytes are fed
 * to the incremental frame decoder in chunks whose sizes come from the
 * input, every frame is validated and parsed, and every event in an
 * "events" frame is decoded, as the collector's ingest does. */
#include <stddef.h>
#include <stdint.h>

#include "common/event.h"
#include "common/wire.h"

static int on_frame(void *arg, const char *body, size_t len)
{
	(void)arg;
	struct wire_msg msg;
	if (wire_msg_parse(&msg, body, len) != 0)
		return 0;
	const msgpack_object *evs = wire_map_get(msg.root, "ev");
	if (msg.type == WIRE_EVENTS && evs != NULL &&
	    evs->type == MSGPACK_OBJECT_ARRAY) {
		for (uint32_t i = 0; i < evs->via.array.size; i++) {
			struct event ev;
			char err[128];
			if (event_from_msgpack(&evs->via.array.ptr[i], &ev, err,
					       sizeof(err)) == 0) {
				char *json = NULL;
				if (event_body_to_json(ev.body, ev.body_len,
						       &json) == 0)
					free(json);
			}
			event_clear(&ev);
		}
	}
	wire_msg_release(&msg);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_decoder *dec = wire_decoder_new();
	if (dec == NULL || size == 0) {
		wire_decoder_free(dec);
		return 0;
	}
	/* The first byte picks the chunk size, to split frames anywhere. */
	size_t chunk = (size_t)data[0] + 1;
	data++;
	size--;
	while (size > 0) {
		size_t n = size < chunk ? size : chunk;
		if (wire_decoder_feed(dec, (const char *)data, n, on_frame,
				      NULL) != 0)
			break;
		data += n;
		size -= n;
	}
	wire_decoder_free(dec);
	return 0;
}
