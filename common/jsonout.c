#include "common/jsonout.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

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

/* The inside of a JSON string, without its quotes. */
static void put_escaped(FILE *f, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			fprintf(f, "\\%c", c);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
			i++;
		} else if (c < 0x80) {
			fputc(c, f);
			i++;
		} else {
			size_t len = json_utf8_len(s + i, n - i);
			if (len == 0) {
				fputs("\\ufffd", f);
				i++;
			} else {
				fwrite(s + i, 1, len, f);
				i += len;
			}
		}
	}
}

void json_print_strn(FILE *f, const char *str, size_t n)
{
	fputc('"', f);
	put_escaped(f, str, n);
	fputc('"', f);
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

static void render_value(FILE *f, const msgpack_object *o,
			 const struct json_render_opts *opts);

static void render_str(FILE *f, const char *s, size_t n,
		       const struct json_render_opts *opts)
{
	size_t h, t;
	if (opts->max_string == 0 || n <= opts->max_string) {
		json_print_strn(f, s, n);
		return;
	}
	cut_points(s, n, opts->max_string, &h, &t);
	fputc('"', f);
	put_escaped(f, s, h);
	fputs(JSON_CUT_MARKER, f);
	put_escaped(f, s + t, n - t);
	fputc('"', f);
}

static void render_b64(FILE *f, const char *s, size_t n)
{
	/* 4 output bytes per 3 input bytes, in steps that keep each call
	 * on a 3-byte boundary. */
	unsigned char buf[4 * 256 + 1];
	fputc('"', f);
	for (size_t i = 0; i < n; i += 3 * 256) {
		size_t k = n - i < 3 * 256 ? n - i : 3 * 256;
		int w = EVP_EncodeBlock(buf, (const unsigned char *)s + i, (int)k);
		fwrite(buf, 1, (size_t)w, f);
	}
	fputc('"', f);
}

static void render_value(FILE *f, const msgpack_object *o,
			 const struct json_render_opts *opts)
{
	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		render_str(f, o->via.str.ptr, o->via.str.size, opts);
		break;
	case MSGPACK_OBJECT_ARRAY:
		fputc('[', f);
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			if (i)
				fputc(',', f);
			render_value(f, &o->via.array.ptr[i], opts);
		}
		fputc(']', f);
		break;
	case MSGPACK_OBJECT_MAP:
		fputc('{', f);
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			const msgpack_object *v = &kv->val;
			bool str_key = kv->key.type == MSGPACK_OBJECT_STR;
			if (i)
				fputc(',', f);
			if (str_key)
				render_str(f, kv->key.via.str.ptr,
					   kv->key.via.str.size, opts);
			else
				fputs("\"?\"", f);
			fputc(':', f);
			render_value(f, v, opts);
			if (opts->raw_b64 && str_key &&
			    v->type == MSGPACK_OBJECT_STR &&
			    (opts->max_string == 0 ||
			     v->via.str.size <= opts->max_string) &&
			    !json_utf8_valid(v->via.str.ptr, v->via.str.size)) {
				fputc(',', f);
				fputc('"', f);
				put_escaped(f, kv->key.via.str.ptr,
					    kv->key.via.str.size);
				fputs("_b64\":", f);
				render_b64(f, v->via.str.ptr, v->via.str.size);
			}
		}
		fputc('}', f);
		break;
	default:
		json_print_msgpack(f, o);
		break;
	}
}

int json_render_msgpack(const msgpack_object *o,
			const struct json_render_opts *opts, char **out,
			size_t *len)
{
	static const struct json_render_opts none = {0};
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);
	*out = NULL;
	*len = 0;
	if (f == NULL)
		return -ENOMEM;
	render_value(f, o, opts ? opts : &none);
	if (fclose(f) != 0 || text == NULL) {
		free(text);
		return -ENOMEM;
	}
	*out = text;
	*len = n;
	return 0;
}

void json_print_sanitized(FILE *f, const char *json, size_t n)
{
	const unsigned char *s = (const unsigned char *)json;
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c < 0x20 || c == 0x7f) {
			fputc(' ', f);
			i++;
		} else if (c < 0x80) {
			fputc(c, f);
			i++;
		} else {
			size_t len = json_utf8_len(s + i, n - i);
			if (len == 0) {
				fputs("\\ufffd", f);
				i++;
			} else {
				fwrite(s + i, 1, len, f);
				i += len;
			}
		}
	}
}

void json_print_msgpack(FILE *f, const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		fputs("null", f);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		fputs(o->via.boolean ? "true" : "false", f);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		fprintf(f, "%" PRIu64, o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		fprintf(f, "%" PRId64, o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		/* JSON has no NaN or infinity. */
		if (isfinite(o->via.f64))
			fprintf(f, "%.17g", o->via.f64);
		else
			fputs("null", f);
		break;
	case MSGPACK_OBJECT_STR:
		json_print_strn(f, o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		fputc('"', f);
		for (uint32_t i = 0; i < o->via.bin.size; i++)
			fprintf(f, "%02x", (unsigned char)o->via.bin.ptr[i]);
		fputc('"', f);
		break;
	case MSGPACK_OBJECT_ARRAY:
		fputc('[', f);
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			if (i)
				fputc(',', f);
			json_print_msgpack(f, &o->via.array.ptr[i]);
		}
		fputc(']', f);
		break;
	case MSGPACK_OBJECT_MAP:
		fputc('{', f);
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			if (i)
				fputc(',', f);
			if (kv->key.type == MSGPACK_OBJECT_STR)
				json_print_strn(f, kv->key.via.str.ptr,
						kv->key.via.str.size);
			else
				fputs("\"?\"", f);
			fputc(':', f);
			json_print_msgpack(f, &kv->val);
		}
		fputc('}', f);
		break;
	default:
		fputs("null", f);
		break;
	}
}
