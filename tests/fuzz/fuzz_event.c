/* libFuzzer harness: one event from raw msgpack, then its JSON rendering
 * and a re-encode that must decode to the same fields. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event ev, again;
	char err[160];
	if (event_decode((const char *)data, size, &ev, err, sizeof(err)) != 0)
		return 0;
	char *json = NULL;
	if (event_body_to_json(ev.body, ev.body_len, &json) == 0)
		free(json);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	event_pack(&pk, &ev);
	if (event_decode(sb.data, sb.size, &again, err, sizeof(err)) != 0 ||
	    again.seq != ev.seq || strcmp(again.agent, ev.agent) != 0 ||
	    again.body_len != ev.body_len)
		abort(); /* what we accept, we must be able to send on */
	event_clear(&again);
	msgpack_sbuffer_destroy(&sb);
	event_clear(&ev);
	return 0;
}
