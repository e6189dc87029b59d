/* wire: the frame codec shared by agent and collector.
 *
 * A frame is a 4-byte big-endian length followed by exactly one msgpack map
 * whose key "t" names the frame type. Lengths of 0 or above WIRE_MAX_FRAME
 * are fatal for the connection and are rejected before any body byte is
 * buffered. See docs/PROTOCOL.md for every frame's fields.
 *
 * Untrusted msgpack is walked by wire_check_msgpack() before msgpack-c sees
 * it: msgpack-c allocates an array's or map's whole element count up front,
 * so a 5-byte header claiming 4 billion elements must never reach it. */
#ifndef EDUWATCH_WIRE_H
#define EDUWATCH_WIRE_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define WIRE_VERSION 1
#define WIRE_HEADER_SIZE 4
#define WIRE_MAX_FRAME (1024u * 1024u)
#define WIRE_MAX_DEPTH 16
#define WIRE_MAX_EVENTS_PER_FRAME 1000

enum wire_type {
	WIRE_HELLO,
	WIRE_EVENTS,
	WIRE_ACK,
	WIRE_COMMAND,
	WIRE_RESULT,
	WIRE_PING,
	WIRE_ENROLL,
	WIRE_ENROLLED,
	WIRE_ERROR,
	WIRE_FETCH, /* agent -> collector: a piece of a published file */
	WIRE_BLOB,  /* collector -> agent: that piece */
	WIRE_TYPE_COUNT
};

const char *wire_type_name(enum wire_type type);

/* ---- incremental decoding ---------------------------------------------- */

struct wire_decoder;

/* Called once per complete frame; body is borrowed for the call only.
 * A non-zero return stops feeding and is returned by wire_decoder_feed. */
typedef int (*wire_frame_cb)(void *arg, const char *body, size_t len);

EW_MUST_CHECK
struct wire_decoder *wire_decoder_new(void);
void wire_decoder_free(struct wire_decoder *dec);

/* Lowers the largest frame this decoder accepts (at most WIRE_MAX_FRAME).
 * A peer that has not authenticated gets a small limit, so a header alone
 * cannot make the server reserve a mebibyte. */
void wire_decoder_set_max_frame(struct wire_decoder *dec, size_t max);

/* Feeds bytes as they arrive; frames split at any byte boundary decode the
 * same as whole ones. Returns 0, the callback's non-zero value, -EMSGSIZE for
 * a length of 0 or over the decoder's limit, or -ENOMEM. After an error the
 * decoder must not be fed again: close the connection. */
EW_MUST_CHECK
int wire_decoder_feed(struct wire_decoder *dec, const char *data, size_t len,
		      wire_frame_cb cb, void *arg);

/* Bytes of a partial frame currently buffered (for memory accounting). */
size_t wire_decoder_buffered(const struct wire_decoder *dec);

/* ---- validated messages ------------------------------------------------ */

/* Checks that buf holds exactly one msgpack object, nested at most
 * max_depth deep, with no count larger than the bytes left, no ext types
 * and no reserved bytes. Returns 0 or -EBADMSG. */
EW_MUST_CHECK
int wire_check_msgpack(const char *buf, size_t len, unsigned max_depth);

struct wire_msg {
	msgpack_unpacked unpacked;
	const msgpack_object *root; /* the frame's map */
	enum wire_type type;
};

/* Validates and unpacks a frame body. On success the caller must call
 * wire_msg_release(). Returns 0, -EBADMSG (not a map, no or unknown "t")
 * or -ENOMEM. */
EW_MUST_CHECK
int wire_msg_parse(struct wire_msg *msg, const char *body, size_t len);
void wire_msg_release(struct wire_msg *msg);

/* Lookups in a msgpack map by string key; NULL when absent or not a map. */
const msgpack_object *wire_map_get(const msgpack_object *map, const char *key);
int wire_get_u64(const msgpack_object *map, const char *key, uint64_t *out);
int wire_get_bool(const msgpack_object *map, const char *key, bool *out);
/* Copies a string value into dst (NUL-terminated). Fails with -EBADMSG if
 * missing, not a string, longer than cap-1 bytes or holding a NUL. */
int wire_get_str(const msgpack_object *map, const char *key, char *dst,
		 size_t cap);
/* Borrowed view of a string value; valid while the message lives. */
int wire_get_strview(const msgpack_object *map, const char *key,
		     const char **ptr, size_t *len);

/* ---- encoding ---------------------------------------------------------- */

struct wire_out {
	msgpack_sbuffer buf;
	msgpack_packer pk;
};

/* Starts a frame: reserves the length and opens a map of 1 + extra_keys
 * entries whose first key is "t". The caller then packs extra_keys pairs. */
void wire_out_begin(struct wire_out *out, enum wire_type type,
		    uint32_t extra_keys);
/* Patches the length. Returns 0 or -EMSGSIZE when the frame is too big. */
EW_MUST_CHECK
int wire_out_finish(struct wire_out *out);
void wire_out_release(struct wire_out *out);

void wire_pack_str(msgpack_packer *pk, const char *s);
void wire_pack_strn(msgpack_packer *pk, const char *s, size_t n);
void wire_pack_kv_str(msgpack_packer *pk, const char *key, const char *val);
void wire_pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t val);
void wire_pack_kv_bool(msgpack_packer *pk, const char *key, bool val);

#endif
