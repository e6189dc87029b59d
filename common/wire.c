#include "common/wire.h"

#include <errno.h>
#include <string.h>

#include "common/alloc.h"

static const char *const type_names[WIRE_TYPE_COUNT] = {
	[WIRE_HELLO] = "hello",	    [WIRE_EVENTS] = "events",
	[WIRE_ACK] = "ack",	    [WIRE_COMMAND] = "command",
	[WIRE_RESULT] = "result",   [WIRE_PING] = "ping",
	[WIRE_ENROLL] = "enroll",   [WIRE_ENROLLED] = "enrolled",
	[WIRE_ERROR] = "error",	    [WIRE_FETCH] = "fetch",
	[WIRE_BLOB] = "blob",
};

const char *wire_type_name(enum wire_type type)
{
	return (unsigned)type < WIRE_TYPE_COUNT ? type_names[type] : "?";
}

/* ---- incremental decoding ---------------------------------------------- */

struct wire_decoder {
	unsigned char header[WIRE_HEADER_SIZE];
	size_t header_have;
	char *body;	   /* allocated once the length is known and valid */
	size_t body_len;
	size_t body_have;
	size_t max_frame;
	int dead;
};

struct wire_decoder *wire_decoder_new(void)
{
	struct wire_decoder *dec = alloc_zeroed(1, sizeof(*dec));
	if (dec != NULL)
		dec->max_frame = WIRE_MAX_FRAME;
	return dec;
}

void wire_decoder_set_max_frame(struct wire_decoder *dec, size_t max)
{
	dec->max_frame = max < WIRE_MAX_FRAME ? max : WIRE_MAX_FRAME;
}

void wire_decoder_free(struct wire_decoder *dec)
{
	if (dec == NULL)
		return;
	alloc_free(dec->body);
	alloc_free(dec);
}

size_t wire_decoder_buffered(const struct wire_decoder *dec)
{
	return dec->header_have + dec->body_have;
}

int wire_decoder_feed(struct wire_decoder *dec, const char *data, size_t len,
		      wire_frame_cb cb, void *arg)
{
	if (dec->dead)
		return -EBADMSG;
	while (len > 0) {
		if (dec->header_have < WIRE_HEADER_SIZE) {
			size_t take = WIRE_HEADER_SIZE - dec->header_have;
			if (take > len)
				take = len;
			memcpy(dec->header + dec->header_have, data, take);
			dec->header_have += take;
			data += take;
			len -= take;
			if (dec->header_have < WIRE_HEADER_SIZE)
				break;
			uint32_t n = (uint32_t)dec->header[0] << 24 |
				     (uint32_t)dec->header[1] << 16 |
				     (uint32_t)dec->header[2] << 8 |
				     (uint32_t)dec->header[3];
			/* Rejected before a single body byte is buffered. */
			if (n == 0 || n > dec->max_frame) {
				dec->dead = 1;
				return -EMSGSIZE;
			}
			dec->body = alloc_bytes(n);
			if (dec->body == NULL) {
				dec->dead = 1;
				return -ENOMEM;
			}
			dec->body_len = n;
			dec->body_have = 0;
		}
		size_t take = dec->body_len - dec->body_have;
		if (take > len)
			take = len;
		memcpy(dec->body + dec->body_have, data, take);
		dec->body_have += take;
		data += take;
		len -= take;
		if (dec->body_have < dec->body_len)
			break;
		char *body = dec->body;
		size_t body_len = dec->body_len;
		dec->body = NULL;
		dec->body_len = dec->body_have = dec->header_have = 0;
		int rc = cb(arg, body, body_len);
		alloc_free(body);
		if (rc != 0) {
			dec->dead = 1;
			return rc;
		}
	}
	return 0;
}

/* ---- msgpack pre-validation -------------------------------------------- */

struct walk {
	const unsigned char *p;
	size_t len;
	size_t pos;
	unsigned max_depth;
};

static int walk_need(struct walk *w, size_t n)
{
	return n <= w->len - w->pos ? 0 : -EBADMSG;
}

static int walk_uint(struct walk *w, size_t width, uint64_t *out)
{
	if (walk_need(w, width) != 0)
		return -EBADMSG;
	uint64_t v = 0;
	for (size_t i = 0; i < width; i++)
		v = v << 8 | w->p[w->pos + i];
	w->pos += width;
	*out = v;
	return 0;
}

static int walk_object(struct walk *w, unsigned depth);

/* Every element takes at least one byte, so a count larger than the bytes
 * left is a lie and is refused before anything is allocated for it. */
static int walk_children(struct walk *w, uint64_t count, unsigned depth)
{
	if (depth >= w->max_depth || count > w->len - w->pos)
		return -EBADMSG;
	for (uint64_t i = 0; i < count; i++) {
		int rc = walk_object(w, depth + 1);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int walk_skip(struct walk *w, uint64_t n)
{
	if (n > w->len - w->pos)
		return -EBADMSG;
	w->pos += (size_t)n;
	return 0;
}

static int walk_object(struct walk *w, unsigned depth)
{
	uint64_t n;

	if (walk_need(w, 1) != 0)
		return -EBADMSG;
	unsigned char b = w->p[w->pos++];
	if (b <= 0x7f || b >= 0xe0)
		return 0; /* fixint */
	if (b <= 0x8f)
		return walk_children(w, 2ull * (b & 0x0f), depth);
	if (b <= 0x9f)
		return walk_children(w, b & 0x0f, depth);
	if (b <= 0xbf)
		return walk_skip(w, b & 0x1f);
	switch (b) {
	case 0xc0: case 0xc2: case 0xc3:
		return 0;
	case 0xc4: case 0xd9:
		return walk_uint(w, 1, &n) ?: walk_skip(w, n);
	case 0xc5: case 0xda:
		return walk_uint(w, 2, &n) ?: walk_skip(w, n);
	case 0xc6: case 0xdb:
		return walk_uint(w, 4, &n) ?: walk_skip(w, n);
	case 0xca: return walk_skip(w, 4);
	case 0xcb: return walk_skip(w, 8);
	case 0xcc: case 0xd0: return walk_skip(w, 1);
	case 0xcd: case 0xd1: return walk_skip(w, 2);
	case 0xce: case 0xd2: return walk_skip(w, 4);
	case 0xcf: case 0xd3: return walk_skip(w, 8);
	case 0xdc:
		return walk_uint(w, 2, &n) ?: walk_children(w, n, depth);
	case 0xdd:
		return walk_uint(w, 4, &n) ?: walk_children(w, n, depth);
	case 0xde:
		return walk_uint(w, 2, &n) ?: walk_children(w, 2 * n, depth);
	case 0xdf:
		return walk_uint(w, 4, &n) ?: walk_children(w, 2 * n, depth);
	default:
		/* 0xc1 is reserved; ext types (0xc7-0xc9, 0xd4-0xd8) are not
		 * part of our protocol. */
		return -EBADMSG;
	}
}

int wire_check_msgpack(const char *buf, size_t len, unsigned max_depth)
{
	struct walk w = {(const unsigned char *)buf, len, 0, max_depth};
	if (len == 0 || max_depth == 0)
		return -EBADMSG;
	int rc = walk_object(&w, 0);
	if (rc != 0)
		return rc;
	return w.pos == len ? 0 : -EBADMSG;
}

/* ---- validated messages ------------------------------------------------ */

static int str_equals(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	       memcmp(o->via.str.ptr, s, n) == 0;
}

const msgpack_object *wire_map_get(const msgpack_object *map, const char *key)
{
	if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		if (str_equals(&kv->key, key))
			return &kv->val;
	}
	return NULL;
}

int wire_msg_parse(struct wire_msg *msg, const char *body, size_t len)
{
	size_t off = 0;

	memset(msg, 0, sizeof(*msg));
	if (wire_check_msgpack(body, len, WIRE_MAX_DEPTH) != 0)
		return -EBADMSG;
	msgpack_unpacked_init(&msg->unpacked);
	msgpack_unpack_return ret =
		msgpack_unpack_next(&msg->unpacked, body, len, &off);
	if (ret != MSGPACK_UNPACK_SUCCESS || off != len) {
		msgpack_unpacked_destroy(&msg->unpacked);
		return ret == MSGPACK_UNPACK_NOMEM_ERROR ? -ENOMEM : -EBADMSG;
	}
	msg->root = &msg->unpacked.data;
	const msgpack_object *t = wire_map_get(msg->root, "t");
	if (t == NULL)
		goto fail;
	for (int i = 0; i < WIRE_TYPE_COUNT; i++) {
		if (str_equals(t, type_names[i])) {
			msg->type = (enum wire_type)i;
			return 0;
		}
	}
fail:
	msgpack_unpacked_destroy(&msg->unpacked);
	memset(msg, 0, sizeof(*msg));
	return -EBADMSG;
}

void wire_msg_release(struct wire_msg *msg)
{
	if (msg->root != NULL)
		msgpack_unpacked_destroy(&msg->unpacked);
	memset(msg, 0, sizeof(*msg));
}

int wire_get_u64(const msgpack_object *map, const char *key, uint64_t *out)
{
	const msgpack_object *o = wire_map_get(map, key);
	if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return -EBADMSG;
	*out = o->via.u64;
	return 0;
}

int wire_get_bool(const msgpack_object *map, const char *key, bool *out)
{
	const msgpack_object *o = wire_map_get(map, key);
	if (o == NULL || o->type != MSGPACK_OBJECT_BOOLEAN)
		return -EBADMSG;
	*out = o->via.boolean;
	return 0;
}

int wire_get_strview(const msgpack_object *map, const char *key,
		     const char **ptr, size_t *len)
{
	const msgpack_object *o = wire_map_get(map, key);
	if (o == NULL || o->type != MSGPACK_OBJECT_STR)
		return -EBADMSG;
	*ptr = o->via.str.ptr;
	*len = o->via.str.size;
	return 0;
}

int wire_get_str(const msgpack_object *map, const char *key, char *dst,
		 size_t cap)
{
	const char *p;
	size_t n;
	if (wire_get_strview(map, key, &p, &n) != 0 || n >= cap ||
	    memchr(p, '\0', n) != NULL)
		return -EBADMSG;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

/* ---- encoding ---------------------------------------------------------- */

void wire_pack_strn(msgpack_packer *pk, const char *s, size_t n)
{
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

void wire_pack_str(msgpack_packer *pk, const char *s)
{
	wire_pack_strn(pk, s, strlen(s));
}

void wire_pack_kv_str(msgpack_packer *pk, const char *key, const char *val)
{
	wire_pack_str(pk, key);
	wire_pack_str(pk, val);
}

void wire_pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t val)
{
	wire_pack_str(pk, key);
	msgpack_pack_uint64(pk, val);
}

void wire_pack_kv_bool(msgpack_packer *pk, const char *key, bool val)
{
	wire_pack_str(pk, key);
	if (val)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

void wire_out_begin(struct wire_out *out, enum wire_type type,
		    uint32_t extra_keys)
{
	static const char zero[WIRE_HEADER_SIZE];
	msgpack_sbuffer_init(&out->buf);
	msgpack_packer_init(&out->pk, &out->buf, msgpack_sbuffer_write);
	msgpack_sbuffer_write(&out->buf, zero, sizeof(zero));
	msgpack_pack_map(&out->pk, 1 + extra_keys);
	wire_pack_kv_str(&out->pk, "t", wire_type_name(type));
}

int wire_out_finish(struct wire_out *out)
{
	if (out->buf.data == NULL || out->buf.size < WIRE_HEADER_SIZE + 1)
		return -ENOMEM;
	size_t n = out->buf.size - WIRE_HEADER_SIZE;
	if (n > WIRE_MAX_FRAME)
		return -EMSGSIZE;
	unsigned char *h = (unsigned char *)out->buf.data;
	h[0] = (unsigned char)(n >> 24);
	h[1] = (unsigned char)(n >> 16);
	h[2] = (unsigned char)(n >> 8);
	h[3] = (unsigned char)n;
	return 0;
}

void wire_out_release(struct wire_out *out)
{
	msgpack_sbuffer_destroy(&out->buf);
}
