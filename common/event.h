/* event: the event schema, to and from msgpack, with validation.
 *
 *   {v:1, agent:<id>, boot:<u64>, seq:<u64>, ts:<µs since epoch>,
 *    kind:<known kind>, sev:<0..10>, drill:<bool>, body:{...}}
 *
 * (agent, boot, seq) names an event exactly once. The body is kept as the
 * msgpack bytes of a map so that it can be stored and forwarded without a
 * second decode; it is limited in size, depth and string length. */
#ifndef EDUWATCH_EVENT_H
#define EDUWATCH_EVENT_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define EVENT_VERSION 1
#define EVENT_AGENT_MAX 64
#define EVENT_KIND_MAX 32
#define EVENT_BODY_MAX (64u * 1024u)
#define EVENT_BODY_DEPTH 8
#define EVENT_STRING_MAX 4096u
#define EVENT_SEV_MAX 10

struct event {
	uint32_t v;
	char agent[EVENT_AGENT_MAX + 1];
	uint64_t boot;
	uint64_t seq;
	uint64_t ts;
	char kind[EVENT_KIND_MAX + 1];
	uint8_t sev;
	bool drill;
	char *body; /* msgpack map bytes, owned; NULL means an empty map */
	size_t body_len;
};

/* Fills ev from a decoded msgpack map, copying every string out so that
 * the unpacker's buffer can be reused. On failure writes a reason naming
 * the field into err and returns -EBADMSG (or -ENOMEM). */
EW_MUST_CHECK
int event_from_msgpack(const msgpack_object *obj, struct event *ev, char *err,
		       size_t errlen);

/* Validates and decodes one event from raw msgpack bytes. */
EW_MUST_CHECK
int event_decode(const char *buf, size_t len, struct event *ev, char *err,
		 size_t errlen);

/* Packs ev as one msgpack map. */
void event_pack(msgpack_packer *pk, const struct event *ev);

/* Sets ev->body from a packed map; takes a copy. */
EW_MUST_CHECK
int event_set_body(struct event *ev, const char *body, size_t len);

/* Checks the fields an agent sets before it spools an event. */
EW_MUST_CHECK
int event_validate(const struct event *ev, char *err, size_t errlen);

bool event_kind_known(const char *kind);
bool event_agent_id_valid(const char *id);

/* Frees the body; the struct itself is the caller's. */
void event_clear(struct event *ev);

/* Renders a msgpack body as compact JSON (UTF-8 passed through, control
 * characters escaped). *out is allocated; the caller frees it. */
EW_MUST_CHECK
int event_body_to_json(const char *body, size_t len, char **out);

#endif
