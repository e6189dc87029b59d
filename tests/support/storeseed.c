/* storeseed: seeding a real store with agent events (storeseed.h). */
#include "tests/support/storeseed.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"

int storeseed_add(struct store_batch *b, const char *agent, const char *kind,
		  uint64_t seq, int64_t ts_us, const msgpack_sbuffer *body)
{
	struct event ev = {.v = EVENT_VERSION, .boot = 1, .seq = seq,
			   .ts = (uint64_t)ts_us, .sev = 1,
			   .body = alloc_bytes(body->size),
			   .body_len = body->size};
	if (ev.body == NULL)
		return -ENOMEM;
	memcpy(ev.body, body->data, body->size);
	snprintf(ev.agent, sizeof(ev.agent), "%s", agent);
	snprintf(ev.kind, sizeof(ev.kind), "%s", kind);
	return store_batch_add(b, &ev);
}
