#include "common/jsonout.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/alloc.h"
#include "common/dynbuf.h"

size_t json_utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;
	if (n == 0 || s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (len > n)
		return 0;
	cp = s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF are invalid. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

bool json_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	for (size_t i = 0; i < n;) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		size_t len = json_utf8_len(s + i, n - i);
		if (len == 0)
			return false;
		i += len;
	}
	return true;
}

bool json_utf8_repair(const char *str, size_t n, char *out, size_t cap)
{
	static const char replacement[] = JSON_UTF8_REPLACEMENT;
	const unsigned char *s = (const unsigned char *)str;
	size_t used = 0;
	bool cut = false;
	for (size_t i = 0; i < n;) {
		size_t len = s[i] < 0x80 ? 1 : json_utf8_len(s + i, n - i);
		const char *from = len ? (const char *)s + i : replacement;
		size_t put = len ? len : sizeof(replacement) - 1;
		if (used + put >= cap) {
			cut = true;
			break;
		}
		memcpy(out + used, from, put);
		used += put;
		i += len ? len : 1;
	}
	out[used] = '\0';
	return cut;
}

char *json_utf8_repaired(const char *s, size_t n)
{
	if (n > (SIZE_MAX - 1) / 3)
		return NULL;
	char *out = alloc_bytes(JSON_UTF8_REPAIR_CAP(n));
	if (out != NULL)
		json_utf8_repair(s, n, out, JSON_UTF8_REPAIR_CAP(n));
	return out;
}

/* Where the writers below put their bytes: a stream (CLI output) or a
 * buffer (rendered text, the SOC's JSON). One escaping path for both. */
struct jout {
	FILE *f;
	struct dynbuf *b;
};

static void put(struct jout *o, const void *p, size_t n)
{
	if (o->b)
		dynbuf_add(o->b, p, n);
	else
		fwrite(p, 1, n, o->f);
}

static void put_str(struct jout *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_char(struct jout *o, char c)
{
	put(o, &c, 1);
}

/* Writes n bytes as valid UTF-8 JSON text, in one pass that copies runs
 * unchanged: a byte that is not part of valid UTF-8 becomes \ufffd. As
 * the inside of a JSON string (escape_string), quotes and backslashes are
 * escaped and control bytes become \u00XX; as JSON we rendered ourselves
 * and stored (!escape_string), those are its own syntax and stay, and a
 * stray control byte becomes a space. */
static void put_utf8(struct jout *o, const char *str, size_t n,
		     bool escape_string)
{
	if (n == 0)
		return; /* an empty string may come as NULL */
	const unsigned char *s = (const unsigned char *)str;
	char esc[8];
	size_t run = 0; /* bytes that go out as they are, not yet written */
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t len = 1;
		const char *rep = NULL;
		if (escape_string && (c == '"' || c == '\\')) {
			esc[0] = '\\';
			esc[1] = (char)c;
			esc[2] = '\0';
			rep = esc;
		} else if (c < 0x20 || c == 0x7f) {
			if (escape_string) {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				rep = esc;
			} else {
				rep = " ";
			}
		} else if (c >= 0x80) {
			len = json_utf8_len(s + i, n - i);
			if (len == 0) {
				len = 1;
				rep = "\\ufffd";
			}
		}
		if (rep == NULL) {
			run += len;
			i += len;
			continue;
		}
		put(o, s + i - run, run);
		run = 0;
		put_str(o, rep);
		i += len;
	}
	put(o, s + n - run, run);
}

/* The inside of a JSON string, without its quotes. */
static void put_escaped(struct jout *o, const char *str, size_t n)
{
	put_utf8(o, str, n, true);
}

static void put_strn(struct jout *o, const char *str, size_t n)
{
	put_char(o, '"');
	put_escaped(o, str, n);
	put_char(o, '"');
}

void json_print_strn(FILE *f, const char *str, size_t n)
{
	struct jout o = {.f = f};
	put_strn(&o, str, n);
}

void json_print_string(FILE *f, const char *s)
{
	json_print_strn(f, s, strlen(s));
}

/* Where to cut s (n > max) so that head + marker + tail is at most max
 * bytes: a third for the head, the rest for the tail, neither splitting
 * a UTF-8 sequence. */
static void cut_points(const char *str, size_t n, size_t max, size_t *head,
		       size_t *tail_at)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t room = max > sizeof(JSON_CUT_MARKER) ? max - (sizeof(JSON_CUT_MARKER) - 1) : 0;
	size_t h = room / 3, t = n - (room - h);
	/* Back off at most 3 bytes: past that the bytes are not UTF-8 and
	 * any boundary will do. */
	for (int k = 0; k < 3 && h > 0 && (s[h] & 0xc0) == 0x80; k++)
		h--;
	for (int k = 0; k < 3 && t < n && (s[t] & 0xc0) == 0x80; k++)
		t++;
	*head = h;
	*tail_at = t;
}

bool json_cut_middle(const char *s, size_t n, char *out, size_t cap)
{
	size_t h, t;
	if (n < cap) {
		memcpy(out, s, n);
		out[n] = '\0';
		return false;
	}
	cut_points(s, n, cap - 1, &h, &t);
	memcpy(out, s, h);
	memcpy(out + h, JSON_CUT_MARKER, sizeof(JSON_CUT_MARKER) - 1);
	h += sizeof(JSON_CUT_MARKER) - 1;
	memcpy(out + h, s + t, n - t);
	out[h + n - t] = '\0';
	return true;
}

/* JSON we rendered and stored, made valid UTF-8 on the way out. */
static void put_sanitized(struct jout *o, const char *json, size_t n)
{
	put_utf8(o, json, n, false);
}

void json_print_sanitized(FILE *f, const char *json, size_t n)
{
	struct jout o = {.f = f};
	put_sanitized(&o, json, n);
}

/* A number through snprintf, so both sinks get the same digits. */
static void put_number(struct jout *o, const msgpack_object *v)
{
	char num[40];
	if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		snprintf(num, sizeof(num), "%" PRIu64, v->via.u64);
	else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		snprintf(num, sizeof(num), "%" PRId64, v->via.i64);
	else if (isfinite(v->via.f64))
		snprintf(num, sizeof(num), "%.17g", v->via.f64);
	else
		snprintf(num, sizeof(num), "null"); /* JSON has no NaN */
	put_str(o, num);
}

/* The plain writer: no cuts, no KEY_b64, no raw JSON. */
static void put_msgpack(struct jout *o, const msgpack_object *v)
{
	static const char hex[] = "0123456789abcdef";
	switch (v->type) {
	case MSGPACK_OBJECT_NIL:
		put_str(o, "null");
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		put_str(o, v->via.boolean ? "true" : "false");
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		put_number(o, v);
		break;
	case MSGPACK_OBJECT_STR:
		put_strn(o, v->via.str.ptr, v->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		put_char(o, '"');
		for (uint32_t i = 0; i < v->via.bin.size; i++) {
			unsigned char c = (unsigned char)v->via.bin.ptr[i];
			char two[2] = {hex[c >> 4], hex[c & 15]};
			put(o, two, 2);
		}
		put_char(o, '"');
		break;
	case MSGPACK_OBJECT_ARRAY:
		put_char(o, '[');
		for (uint32_t i = 0; i < v->via.array.size; i++) {
			if (i)
				put_char(o, ',');
			put_msgpack(o, &v->via.array.ptr[i]);
		}
		put_char(o, ']');
		break;
	case MSGPACK_OBJECT_MAP:
		put_char(o, '{');
		for (uint32_t i = 0; i < v->via.map.size; i++) {
			const msgpack_object_kv *kv = &v->via.map.ptr[i];
			if (i)
				put_char(o, ',');
			if (kv->key.type == MSGPACK_OBJECT_STR)
				put_strn(o, kv->key.via.str.ptr, kv->key.via.str.size);
			else
				put_str(o, "\"?\"");
			put_char(o, ':');
			put_msgpack(o, &kv->val);
		}
		put_char(o, '}');
		break;
	default:
		put_str(o, "null");
		break;
	}
}

void json_print_msgpack(FILE *f, const msgpack_object *v)
{
	struct jout o = {.f = f};
	put_msgpack(&o, v);
}

static void render_value(struct jout *o, const msgpack_object *v,
			 const struct json_render_opts *opts);

static void render_str(struct jout *o, const char *s, size_t n,
		       const struct json_render_opts *opts)
{
	size_t h, t;
	if (opts->max_string == 0 || n <= opts->max_string) {
		put_strn(o, s, n);
		return;
	}
	cut_points(s, n, opts->max_string, &h, &t);
	put_char(o, '"');
	put_escaped(o, s, h);
	put_str(o, JSON_CUT_MARKER);
	put_escaped(o, s + t, n - t);
	put_char(o, '"');
}

static void render_b64(struct jout *o, const char *s, size_t n)
{
	/* 4 output bytes per 3 input bytes, in steps that keep each call
	 * on a 3-byte boundary. */
	unsigned char buf[4 * 256 + 1];
	put_char(o, '"');
	for (size_t i = 0; i < n; i += 3 * 256) {
		size_t k = n - i < 3 * 256 ? n - i : 3 * 256;
		int w = EVP_EncodeBlock(buf, (const unsigned char *)s + i, (int)k);
		put(o, buf, (size_t)w);
	}
	put_char(o, '"');
}

static void render_value(struct jout *o, const msgpack_object *v,
			 const struct json_render_opts *opts)
{
	switch (v->type) {
	case MSGPACK_OBJECT_STR:
		render_str(o, v->via.str.ptr, v->via.str.size, opts);
		break;
	case MSGPACK_OBJECT_ARRAY:
		put_char(o, '[');
		for (uint32_t i = 0; i < v->via.array.size; i++) {
			if (i)
				put_char(o, ',');
			render_value(o, &v->via.array.ptr[i], opts);
		}
		put_char(o, ']');
		break;
	case MSGPACK_OBJECT_MAP:
		put_char(o, '{');
		for (uint32_t i = 0; i < v->via.map.size; i++) {
			const msgpack_object_kv *kv = &v->via.map.ptr[i];
			const msgpack_object *val = &kv->val;
			bool str_key = kv->key.type == MSGPACK_OBJECT_STR;
			if (i)
				put_char(o, ',');
			if (str_key)
				render_str(o, kv->key.via.str.ptr,
					   kv->key.via.str.size, opts);
			else
				put_str(o, "\"?\"");
			put_char(o, ':');
			render_value(o, val, opts);
			if (opts->raw_b64 && str_key &&
			    val->type == MSGPACK_OBJECT_STR &&
			    (opts->max_string == 0 ||
			     val->via.str.size <= opts->max_string) &&
			    !json_utf8_valid(val->via.str.ptr, val->via.str.size)) {
				put_str(o, ",\"");
				put_escaped(o, kv->key.via.str.ptr,
					    kv->key.via.str.size);
				put_str(o, "_b64\":");
				render_b64(o, val->via.str.ptr, val->via.str.size);
			}
		}
		put_char(o, '}');
		break;
	case MSGPACK_OBJECT_EXT:
		if (opts->raw_json && v->via.ext.type == JSON_EXT_RAW) {
			put_sanitized(o, v->via.ext.ptr, v->via.ext.size);
			break;
		}
		put_msgpack(o, v);
		break;
	default:
		put_msgpack(o, v);
		break;
	}
}

int json_render_msgpack_buf(struct dynbuf *out, const msgpack_object *o,
			    const struct json_render_opts *opts)
{
	static const struct json_render_opts none = {0};
	struct jout j = {.b = out};
	render_value(&j, o, opts ? opts : &none);
	return out->failed;
}

int json_render_msgpack(const msgpack_object *o,
			const struct json_render_opts *opts, char **out,
			size_t *len)
{
	struct dynbuf b = {0};
	*out = NULL;
	*len = 0;
	if (json_render_msgpack_buf(&b, o, opts) != 0 ||
	    (*out = dynbuf_take(&b, len)) == NULL) {
		int rc = b.failed ? b.failed : -ENOMEM;
		dynbuf_free(&b);
		return rc;
	}
	return 0;
}
