/* storeseed: one agent event put into a store batch, as ingest would, for
 * the unit tests that seed a real store (test_score, test_release). */
#ifndef EDUWATCH_STORESEED_H
#define EDUWATCH_STORESEED_H

#include <stdint.h>

#include <msgpack.h>

#include "collector/store.h"

/* Adds event seq of agent (boot 1, severity 1) stamped ts_us by the
 * agent's clock; the batch takes a copy of body. Returns 0 or a negative
 * errno. */
int storeseed_add(struct store_batch *b, const char *agent, const char *kind,
		  uint64_t seq, int64_t ts_us, const msgpack_sbuffer *body);

#endif
