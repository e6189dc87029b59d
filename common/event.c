#include "common/event.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/errtext.h"
#include "common/jsonout.h"
#include "common/wire.h"

/* Every kind a source may emit. Adding a source means adding its kinds
 * here, so the collector refuses typos instead of storing them. */
static const char *const known_kinds[] = {
	"agent.start",	   "agent.stop",      "agent.heartbeat",
	"agent.inventory", "agent.command",   "spool.dropped",
	"spool.corrupt",   "av.status",	      "scan.match",
	"scan.summary",	   "scan.error",      "backup.status",
	"backup.restore_test", "net.arp_spoof", "net.arp_flood",
	"net.rogue_dhcp",  "net.llmnr_poison", "net.ioc_dns",
	"net.ioc_ip",	   "net.port_scan",   "net.sensor",
	"drill.action",    "rules.update",    "scan.quarantine", "backup.escrow",
	"ioc.update",      "agent.upgrade",
	"drill.injected", "drill.av_acted", "drill.cleaned_up", /* agent/drill */
	"backup.drill_restore", /* the restore-test drill, verified */
	"ransomware.suspect", /* agent/ransom */
	"test.synthetic",
};

bool event_kind_known(const char *kind)
{
	for (size_t i = 0; i < sizeof(known_kinds) / sizeof(known_kinds[0]); i++)
		if (strcmp(kind, known_kinds[i]) == 0)
			return true;
	return false;
}

bool event_agent_id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > EVENT_AGENT_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

/* Body limits beyond what the frame check enforces: depth, string length
 * and string-only map keys, so forwarders can render any body safely. */
static int check_body(const msgpack_object *o, unsigned depth)
{
	if (depth > EVENT_BODY_DEPTH)
		return -1;
	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		return o->via.str.size <= EVENT_STRING_MAX ? 0 : -1;
	case MSGPACK_OBJECT_BIN:
		return o->via.bin.size <= EVENT_STRING_MAX ? 0 : -1;
	case MSGPACK_OBJECT_EXT:
		return -1;
	case MSGPACK_OBJECT_ARRAY:
		for (uint32_t i = 0; i < o->via.array.size; i++)
			if (check_body(&o->via.array.ptr[i], depth + 1) != 0)
				return -1;
		return 0;
	case MSGPACK_OBJECT_MAP:
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			if (kv->key.type != MSGPACK_OBJECT_STR ||
			    kv->key.via.str.size > 128 ||
			    check_body(&kv->val, depth + 1) != 0)
				return -1;
		}
		return 0;
	default:
		return 0;
	}
}

int event_set_body(struct event *ev, const char *body, size_t len)
{
	char *copy = NULL;
	if (len > 0) {
		copy = alloc_bytes(len);
		if (copy == NULL)
			return -ENOMEM;
		memcpy(copy, body, len);
	}
	alloc_free(ev->body);
	ev->body = copy;
	ev->body_len = len;
	return 0;
}

int event_from_msgpack(const msgpack_object *obj, struct event *ev, char *err,
		       size_t errlen)
{
	uint64_t v, sev;
	memset(ev, 0, sizeof(*ev));
	if (obj->type != MSGPACK_OBJECT_MAP)
		return errtext_set(-EBADMSG, err, errlen, "event is not a map");
	if (wire_get_u64(obj, "v", &v) != 0 || v != EVENT_VERSION)
		return errtext_set(-EBADMSG, err, errlen, "field 'v' must be %d", EVENT_VERSION);
	ev->v = (uint32_t)v;
	if (wire_get_str(obj, "agent", ev->agent, sizeof(ev->agent)) != 0 ||
	    !event_agent_id_valid(ev->agent))
		return errtext_set(-EBADMSG, err, errlen, "field 'agent' missing or not an id");
	if (wire_get_u64(obj, "boot", &ev->boot) != 0)
		return errtext_set(-EBADMSG, err, errlen, "field 'boot' missing or not a u64");
	if (wire_get_u64(obj, "seq", &ev->seq) != 0 || ev->seq == 0)
		return errtext_set(-EBADMSG, err, errlen, "field 'seq' missing or zero");
	if (wire_get_u64(obj, "ts", &ev->ts) != 0)
		return errtext_set(-EBADMSG, err, errlen, "field 'ts' missing or not a u64");
	if (wire_get_str(obj, "kind", ev->kind, sizeof(ev->kind)) != 0)
		return errtext_set(-EBADMSG, err, errlen, "field 'kind' missing or too long");
	if (!event_kind_known(ev->kind))
		return errtext_set(-EBADMSG, err, errlen, "unknown event kind '%s'", ev->kind);
	if (wire_get_u64(obj, "sev", &sev) != 0 || sev > EVENT_SEV_MAX)
		return errtext_set(-EBADMSG, err, errlen, "field 'sev' must be 0..%d",
			    EVENT_SEV_MAX);
	ev->sev = (uint8_t)sev;
	if (wire_get_bool(obj, "drill", &ev->drill) != 0)
		return errtext_set(-EBADMSG, err, errlen, "field 'drill' missing or not a bool");

	const msgpack_object *body = wire_map_get(obj, "body");
	/* An absent body and an empty map are the same event: keep one form
	 * so that a re-encoded event is byte-for-byte what was accepted. */
	if (body == NULL || (body->type == MSGPACK_OBJECT_MAP &&
			     body->via.map.size == 0))
		return 0;
	if (body->type != MSGPACK_OBJECT_MAP)
		return errtext_set(-EBADMSG, err, errlen, "field 'body' must be a map");
	if (check_body(body, 0) != 0)
		return errtext_set(-EBADMSG, err, errlen,
			    "field 'body' too deep, has a long string, an ext "
			    "or a non-string key");
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_object(&pk, *body);
	int rc = 0;
	if (sb.data == NULL)
		rc = -ENOMEM;
	else if (sb.size > EVENT_BODY_MAX)
		rc = errtext_set(-EBADMSG, err, errlen, "field 'body' is %zu bytes, limit %u",
			  sb.size, EVENT_BODY_MAX);
	else
		rc = event_set_body(ev, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

int event_decode(const char *buf, size_t len, struct event *ev, char *err,
		 size_t errlen)
{
	msgpack_unpacked up;
	size_t off = 0;

	memset(ev, 0, sizeof(*ev));
	if (wire_check_msgpack(buf, len, WIRE_MAX_DEPTH) != 0)
		return errtext_set(-EBADMSG, err, errlen, "not one well-formed msgpack object");
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, buf, len, &off) != MSGPACK_UNPACK_SUCCESS) {
		msgpack_unpacked_destroy(&up);
		return errtext_set(-EBADMSG, err, errlen, "msgpack decode failed");
	}
	int rc = event_from_msgpack(&up.data, ev, err, errlen);
	msgpack_unpacked_destroy(&up);
	if (rc != 0)
		event_clear(ev);
	return rc;
}

int event_validate(const struct event *ev, char *err, size_t errlen)
{
	if (ev->v != EVENT_VERSION)
		return errtext_set(-EBADMSG, err, errlen, "version %u", ev->v);
	if (!event_agent_id_valid(ev->agent))
		return errtext_set(-EBADMSG, err, errlen, "bad agent id");
	if (ev->seq == 0)
		return errtext_set(-EBADMSG, err, errlen, "seq must be > 0");
	if (!event_kind_known(ev->kind))
		return errtext_set(-EBADMSG, err, errlen, "unknown event kind '%s'", ev->kind);
	if (ev->sev > EVENT_SEV_MAX)
		return errtext_set(-EBADMSG, err, errlen, "sev %u > %d", ev->sev, EVENT_SEV_MAX);
	if (ev->body_len > EVENT_BODY_MAX)
		return errtext_set(-EBADMSG, err, errlen, "body too large");
	return 0;
}

void event_pack(msgpack_packer *pk, const struct event *ev)
{
	static const char empty_map = (char)0x80;
	msgpack_pack_map(pk, 9);
	wire_pack_kv_u64(pk, "v", ev->v);
	wire_pack_kv_str(pk, "agent", ev->agent);
	wire_pack_kv_u64(pk, "boot", ev->boot);
	wire_pack_kv_u64(pk, "seq", ev->seq);
	wire_pack_kv_u64(pk, "ts", ev->ts);
	wire_pack_kv_str(pk, "kind", ev->kind);
	wire_pack_kv_u64(pk, "sev", ev->sev);
	wire_pack_kv_bool(pk, "drill", ev->drill);
	wire_pack_str(pk, "body");
	/* The body is already msgpack: append its bytes as they are. */
	if (ev->body != NULL && ev->body_len > 0)
		pk->callback(pk->data, ev->body, ev->body_len);
	else
		pk->callback(pk->data, &empty_map, 1);
}

void event_clear(struct event *ev)
{
	alloc_free(ev->body);
	ev->body = NULL;
	ev->body_len = 0;
}

/* ---- JSON rendering ---------------------------------------------------- */

struct jbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void jput(struct jbuf *j, const char *s, size_t n)
{
	if (j->oom)
		return;
	if (j->len + n + 1 > j->cap) {
		size_t cap = j->cap ? j->cap : 256;
		while (cap < j->len + n + 1)
			cap *= 2;
		char *p = alloc_resize(j->p, cap);
		if (p == NULL) {
			j->oom = 1;
			return;
		}
		j->p = p;
		j->cap = cap;
	}
	memcpy(j->p + j->len, s, n);
	j->len += n;
	j->p[j->len] = '\0';
}

static void jstr(struct jbuf *j, const char *s, size_t n)
{
	jput(j, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			jput(j, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			int k = snprintf(esc, sizeof(esc), "\\u%04x", c);
			jput(j, esc, (size_t)k);
		} else if (c < 0x80) {
			jput(j, (const char *)&s[i], 1);
		} else {
			/* A file name can hold any bytes: invalid UTF-8 would
			 * make the whole text invalid JSON for a SIEM. */
			size_t len = json_utf8_len((const unsigned char *)s + i,
						   n - i);
			if (len == 0)
				jput(j, "\\ufffd", 6);
			else
				jput(j, s + i, len);
			i += len ? len - 1 : 0;
		}
	}
	jput(j, "\"", 1);
}

static void jobj(struct jbuf *j, const msgpack_object *o)
{
	char num[64];
	int k;
	switch (o->type) {
	case MSGPACK_OBJECT_NIL: jput(j, "null", 4); break;
	case MSGPACK_OBJECT_BOOLEAN:
		if (o->via.boolean)
			jput(j, "true", 4);
		else
			jput(j, "false", 5);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		k = snprintf(num, sizeof(num), "%llu",
			     (unsigned long long)o->via.u64);
		jput(j, num, (size_t)k);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		k = snprintf(num, sizeof(num), "%lld", (long long)o->via.i64);
		jput(j, num, (size_t)k);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		k = snprintf(num, sizeof(num), "%.17g", o->via.f64);
		/* JSON has no NaN or infinity. */
		if (strpbrk(num, "ni") != NULL)
			jput(j, "null", 4);
		else
			jput(j, num, (size_t)k);
		break;
	case MSGPACK_OBJECT_STR:
		jstr(j, o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		jput(j, "\"", 1);
		for (uint32_t i = 0; i < o->via.bin.size; i++) {
			k = snprintf(num, sizeof(num), "%02x",
				     (unsigned char)o->via.bin.ptr[i]);
			jput(j, num, (size_t)k);
		}
		jput(j, "\"", 1);
		break;
	case MSGPACK_OBJECT_ARRAY:
		jput(j, "[", 1);
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			if (i)
				jput(j, ",", 1);
			jobj(j, &o->via.array.ptr[i]);
		}
		jput(j, "]", 1);
		break;
	case MSGPACK_OBJECT_MAP:
		jput(j, "{", 1);
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			if (i)
				jput(j, ",", 1);
			if (kv->key.type == MSGPACK_OBJECT_STR)
				jstr(j, kv->key.via.str.ptr, kv->key.via.str.size);
			else
				jstr(j, "?", 1);
			jput(j, ":", 1);
			jobj(j, &kv->val);
		}
		jput(j, "}", 1);
		break;
	default:
		jput(j, "null", 4);
		break;
	}
}

int event_body_to_json(const char *body, size_t len, char **out)
{
	struct jbuf j = {0};
	msgpack_unpacked up;
	size_t off = 0;

	*out = NULL;
	if (body == NULL || len == 0) {
		*out = alloc_strdup("{}");
		return *out ? 0 : -ENOMEM;
	}
	if (wire_check_msgpack(body, len, WIRE_MAX_DEPTH) != 0)
		return -EBADMSG;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, body, len, &off) != MSGPACK_UNPACK_SUCCESS) {
		msgpack_unpacked_destroy(&up);
		return -EBADMSG;
	}
	jobj(&j, &up.data);
	msgpack_unpacked_destroy(&up);
	if (j.oom || j.p == NULL) {
		alloc_free(j.p);
		return -ENOMEM;
	}
	*out = j.p;
	return 0;
}
