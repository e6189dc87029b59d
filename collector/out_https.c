/* out_https: a JSON array of alerts POSTed by libcurl, ECS field names or
 * OCSF (Detection Finding 2004, Compliance Finding 2003), delivered on a
 * 2xx answer. Each alert is built as a msgpack tree and rendered by
 * common/jsonout, the one escaping path; no JSON is written by printf. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>
#include <openssl/crypto.h>

#include "collector/forward.h"
#include "collector/output.h"
#include "common/alloc.h"
#include "common/dynbuf.h"
#include "common/jsonout.h"
#include "common/timeutil.h"
#include "common/version.h"

#define IO_TIMEOUT_S 10

struct https_out {
	struct forward_dest dest;
	bool ocsf;
	CURL *curl;
	struct dynbuf body; /* the batch being posted, reused */
};

/* ---- the document, as msgpack ------------------------------------------- */

/* Packs into a dynbuf. A map's entries are counted as they are packed and
 * its header (map32) patched when it closes, as Fluent Bit's
 * flb_mp_map_header does, so an optional field cannot miscount it. */
struct doc {
	struct dynbuf mp;
	msgpack_packer pk;
};

struct map {
	size_t at;
	uint32_t n;
};

static int doc_write(void *data, const char *buf, size_t len)
{
	return dynbuf_add(data, buf, len) == 0 ? 0 : -1;
}

static void map_begin(struct doc *d, struct map *m)
{
	static const char header[5] = {(char)0xdf};
	m->at = d->mp.len;
	m->n = 0;
	dynbuf_add(&d->mp, header, sizeof(header));
}

static void map_end(struct doc *d, const struct map *m)
{
	if (d->mp.failed)
		return;
	unsigned char *p = (unsigned char *)d->mp.data + m->at + 1;
	p[0] = (unsigned char)(m->n >> 24);
	p[1] = (unsigned char)(m->n >> 16);
	p[2] = (unsigned char)(m->n >> 8);
	p[3] = (unsigned char)m->n;
}

static void str(struct doc *d, const char *s)
{
	msgpack_pack_str_with_body(&d->pk, s, strlen(s));
}

static void key(struct doc *d, struct map *m, const char *k)
{
	m->n++;
	str(d, k);
}

static void kv_str(struct doc *d, struct map *m, const char *k, const char *v)
{
	key(d, m, k);
	str(d, v);
}

static void kv_int(struct doc *d, struct map *m, const char *k, int64_t v)
{
	key(d, m, k);
	msgpack_pack_int64(&d->pk, v);
}

static void kv_bool(struct doc *d, struct map *m, const char *k, bool v)
{
	key(d, m, k);
	if (v)
		msgpack_pack_true(&d->pk);
	else
		msgpack_pack_false(&d->pk);
}

static void kv_map(struct doc *d, struct map *m, const char *k,
		   struct map *child)
{
	key(d, m, k);
	map_begin(d, child);
}

/* Stored evidence is JSON we wrote, possibly by a version that let
 * invalid UTF-8 through: it goes out raw, sanitized by the renderer. */
static void kv_raw_json(struct doc *d, struct map *m, const char *k,
			const char *json)
{
	size_t n = strlen(json);
	key(d, m, k);
	msgpack_pack_ext(&d->pk, n, JSON_EXT_RAW);
	msgpack_pack_ext_body(&d->pk, json, n);
}

static void kv_strs(struct doc *d, struct map *m, const char *k,
		    const char *const *v, size_t n)
{
	key(d, m, k);
	msgpack_pack_array(&d->pk, n);
	for (size_t i = 0; i < n; i++)
		str(d, v[i]);
}

/* ---- ECS and OCSF ------------------------------------------------------- */

static size_t ecs_categories(const char *category, const char **out)
{
	if (strncmp(category, "malware", 7) == 0) {
		out[0] = "malware";
		return 1;
	}
	if (strcmp(category, "network-attack") == 0 ||
	    strcmp(category, "ioc") == 0) {
		out[0] = "network";
		out[1] = "intrusion_detection";
		return 2;
	}
	out[0] = strcmp(category, "compliance") == 0 ||
				 strcmp(category, "backup") == 0
			 ? "configuration"
			 : "host";
	return 1;
}

static void iso_time(int64_t us, char *buf, size_t cap)
{
	char base[32];
	timeutil_format_us(us, base, sizeof(base));
	/* 2026-11-29T05:39:19Z -> 2026-11-29T05:39:19.123Z */
	snprintf(buf, cap, "%.19s.%03lldZ", base, (long long)(us / 1000 % 1000));
}

static void pack_ecs(struct doc *d, const struct store_alert *a,
		     const char *id, const char *evidence)
{
	char first[40], last[40];
	const char *cats[2];
	struct map top, m, sub;
	iso_time(a->first_us, first, sizeof(first));
	iso_time(a->last_us, last, sizeof(last));
	map_begin(d, &top);
	kv_str(d, &top, "@timestamp", first);
	kv_map(d, &top, "event", &m);
	kv_str(d, &m, "kind", "alert");
	kv_str(d, &m, "id", id);
	kv_strs(d, &m, "category", cats, ecs_categories(a->category, cats));
	kv_int(d, &m, "severity", a->severity);
	kv_str(d, &m, "created", last);
	kv_str(d, &m, "dataset", "eduwatch.alert");
	kv_str(d, &m, "action", a->kind);
	map_end(d, &m);
	kv_map(d, &top, "rule", &m);
	kv_str(d, &m, "id", a->rule);
	kv_str(d, &m, "name", a->title);
	map_end(d, &m);
	kv_str(d, &top, "message", a->title);
	kv_map(d, &top, "host", &m);
	kv_str(d, &m, "name", a->hostname);
	kv_str(d, &m, "id", a->agent);
	map_end(d, &m);
	kv_map(d, &top, "organization", &m);
	kv_str(d, &m, "id", a->school);
	map_end(d, &m);
	kv_map(d, &top, "labels", &m);
	kv_str(d, &m, "commune", a->commune);
	kv_str(d, &m, "drill", a->drill ? "true" : "false");
	if (a->drill_campaign != 0) {
		char campaign[24];
		snprintf(campaign, sizeof(campaign), "%llu",
			 (unsigned long long)a->drill_campaign);
		kv_str(d, &m, "drill_campaign", campaign);
	}
	map_end(d, &m);
	if (a->src_ip[0]) {
		kv_map(d, &top, "source", &m);
		kv_str(d, &m, "ip", a->src_ip);
		map_end(d, &m);
	}
	if (a->file_path[0] || a->file_hash[0]) {
		kv_map(d, &top, "file", &m);
		kv_str(d, &m, "path", a->file_path);
		kv_str(d, &m, "name", output_file_name(a->file_path));
		kv_map(d, &m, "hash", &sub);
		kv_str(d, &sub, "sha256", a->file_hash);
		map_end(d, &sub);
		map_end(d, &m);
	}
	kv_map(d, &top, "observer", &m);
	kv_str(d, &m, "vendor", "eduwatch");
	kv_str(d, &m, "product", "eduwatch-collector");
	kv_str(d, &m, "version", EDUWATCH_VERSION);
	map_end(d, &m);
	static const char *const drill[] = {"drill"};
	kv_strs(d, &top, "tags", drill, a->drill ? 1 : 0);
	kv_map(d, &top, "eduwatch", &m);
	kv_int(d, &m, "count", a->count);
	kv_str(d, &m, "state", a->state);
	kv_raw_json(d, &m, "evidence", evidence);
	map_end(d, &m);
	map_end(d, &top);
}

static void pack_ocsf(struct doc *d, const struct store_alert *a,
		      const char *id, const char *evidence)
{
	bool compliance = strcmp(a->kind, "compliance.drop") == 0;
	/* OCSF severity_id: 1 informational .. 5 critical. */
	int sev = a->severity >= 9 ? 5 : a->severity >= 7 ? 4
		  : a->severity >= 4 ? 3 : a->severity >= 1 ? 2 : 1;
	const char *status = strcmp(a->state, "open") == 0 ? "New"
			     : strcmp(a->state, "acknowledged") == 0 ? "In Progress"
								       : "Resolved";
	struct map top, m, sub, file;
	map_begin(d, &top);
	kv_int(d, &top, "class_uid", compliance ? 2003 : 2004);
	kv_int(d, &top, "category_uid", 2);
	kv_int(d, &top, "activity_id", 1);
	kv_int(d, &top, "type_uid", compliance ? 200301 : 200401);
	kv_int(d, &top, "severity_id", sev);
	kv_int(d, &top, "time", a->first_us / 1000);
	kv_map(d, &top, "metadata", &m);
	kv_str(d, &m, "version", "1.1.0");
	kv_str(d, &m, "uid", id);
	kv_map(d, &m, "product", &sub);
	kv_str(d, &sub, "name", "eduwatch-collector");
	kv_str(d, &sub, "vendor_name", "eduwatch");
	kv_str(d, &sub, "version", EDUWATCH_VERSION);
	map_end(d, &sub);
	map_end(d, &m);
	kv_map(d, &top, "finding_info", &m);
	kv_str(d, &m, "uid", id);
	kv_str(d, &m, "title", a->title);
	kv_strs(d, &m, "types", (const char *const[]){a->category}, 1);
	kv_int(d, &m, "first_seen_time", a->first_us / 1000);
	kv_int(d, &m, "last_seen_time", a->last_us / 1000);
	map_end(d, &m);
	kv_str(d, &top, "message", a->title);
	kv_str(d, &top, "status", status);
	kv_map(d, &top, "device", &m);
	kv_str(d, &m, "hostname", a->hostname);
	kv_str(d, &m, "uid", a->agent);
	map_end(d, &m);
	if (a->file_path[0] || a->file_hash[0]) {
		key(d, &top, "evidences");
		msgpack_pack_array(&d->pk, 1);
		map_begin(d, &m);
		kv_map(d, &m, "file", &file);
		kv_str(d, &file, "name", output_file_name(a->file_path));
		kv_str(d, &file, "path", a->file_path);
		if (a->file_hash[0]) {
			key(d, &file, "hashes");
			msgpack_pack_array(&d->pk, 1);
			map_begin(d, &sub);
			kv_int(d, &sub, "algorithm_id", 3);
			kv_str(d, &sub, "algorithm", "SHA-256");
			kv_str(d, &sub, "value", a->file_hash);
			map_end(d, &sub);
		}
		map_end(d, &file);
		map_end(d, &m);
	}
	if (compliance) {
		static const char *const standards[] = {"eduwatch policy"};
		kv_map(d, &top, "compliance", &m);
		kv_strs(d, &m, "standards", standards, 1);
		kv_str(d, &m, "status", "Fail");
		map_end(d, &m);
	}
	kv_map(d, &top, "unmapped", &m);
	kv_str(d, &m, "school", a->school);
	kv_str(d, &m, "commune", a->commune);
	kv_str(d, &m, "rule", a->rule);
	kv_bool(d, &m, "drill", a->drill);
	if (a->drill_campaign != 0)
		kv_int(d, &m, "drill_campaign", (long long)a->drill_campaign);
	kv_int(d, &m, "count", a->count);
	kv_raw_json(d, &m, "evidence", evidence);
	map_end(d, &m);
	map_end(d, &top);
}

void forward_format_json(const struct store_alert *a, bool ocsf,
			 struct dynbuf *out)
{
	static const struct json_render_opts opts = {.raw_json = true};
	struct doc d;
	char id[40];
	snprintf(id, sizeof(id), "eduwatch-%llu", (unsigned long long)a->id);
	dynbuf_init(&d.mp, OUTPUT_ALERT_MAX_BYTES);
	msgpack_packer_init(&d.pk, &d.mp, doc_write);
	const char *evidence = a->evidence[0] ? a->evidence : "{}";
	if (ocsf)
		pack_ocsf(&d, a, id, evidence);
	else
		pack_ecs(&d, a, id, evidence);
	int rc = d.mp.failed;
	if (rc == 0) {
		msgpack_unpacked up;
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, d.mp.data, d.mp.len, NULL) ==
		    MSGPACK_UNPACK_SUCCESS)
			rc = json_render_msgpack_buf(out, &up.data, &opts);
		else
			rc = -ENOMEM;
		msgpack_unpacked_destroy(&up);
	}
	if (rc != 0 && !out->failed)
		out->failed = rc;
	dynbuf_free(&d.mp);
}

/* ---- transport ---------------------------------------------------------- */

/* Keeps the start of the answer (a SIEM says there why it refused). */
static size_t keep_answer(char *p, size_t size, size_t n, void *arg)
{
	struct output_report *r = arg;
	size_t len = size * n;
	size_t room = sizeof(r->answer) - 1 - r->answer_len;
	memcpy(r->answer + r->answer_len, p, len < room ? len : room);
	r->answer_len += len < room ? len : room;
	r->answer[r->answer_len] = '\0';
	return len;
}

/* A refusal that names the content, not the sender or the moment: a 4xx,
 * except 408 (timeout) and 429 (slow down), and except those that any
 * body would get (401 and 403: credentials; 404 and 405: the URL; 407:
 * a proxy), which retry as a 5xx does, rather than park every alert. */
static bool refused_for_good(long status)
{
	return status >= 400 && status <= 499 && status != 408 &&
	       status != 429 && status != 401 && status != 403 &&
	       status != 404 && status != 405 && status != 407;
}

static int https_open(const struct forward_dest *dest,
		      const char *collector_host, void **state, char *err,
		      size_t errlen)
{
	struct https_out *h = alloc_zeroed(1, sizeof(*h));
	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	h->dest = *dest;
	h->ocsf = strcmp(dest->format, "ocsf") == 0;
	dynbuf_init(&h->body, OUTPUT_BATCH_MAX_BYTES);
	h->curl = curl_easy_init();
	if (h->curl == NULL) {
		snprintf(err, errlen, "forward %s: libcurl failed", dest->name);
		alloc_free(h);
		return -ENOMEM;
	}
	*state = h;
	return 0;
}

/* POSTs alerts[0, n) as one JSON array. */
static enum output_status https_deliver(void *state,
					const struct store_alert *alerts,
					size_t n, struct output_report *r)
{
	struct https_out *h = state;
	dynbuf_reset(&h->body);
	dynbuf_add(&h->body, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			dynbuf_add(&h->body, ",", 1);
		forward_format_json(&alerts[i], h->ocsf, &h->body);
	}
	dynbuf_add(&h->body, "]", 1);
	if (h->body.failed) {
		snprintf(r->error, sizeof(r->error), "out of memory");
		return OUTPUT_RETRY;
	}
	CURL *c = h->curl;
	struct curl_slist *headers =
		curl_slist_append(NULL, "Content-Type: application/json");
	char auth[300];
	if (h->dest.token[0]) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
			 h->dest.token);
		headers = curl_slist_append(headers, auth);
	}
	curl_easy_setopt(c, CURLOPT_URL, h->dest.address);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, h->body.data);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)h->body.len);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)IO_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_answer);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (h->dest.ca[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, h->dest.ca);
	if (h->dest.cert[0]) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, h->dest.cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, h->dest.key);
	}
	CURLcode cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	OPENSSL_cleanse(auth, sizeof(auth));
	if (cc != CURLE_OK) {
		snprintf(r->error, sizeof(r->error), "%s", curl_easy_strerror(cc));
		return OUTPUT_RETRY;
	}
	if (r->status >= 200 && r->status <= 299)
		return OUTPUT_OK;
	snprintf(r->error, sizeof(r->error), "HTTP status %ld", r->status);
	return refused_for_good(r->status) ? OUTPUT_REFUSED : OUTPUT_RETRY;
}

static void https_close(void *state)
{
	struct https_out *h = state;
	if (h == NULL)
		return;
	curl_easy_cleanup(h->curl);
	dynbuf_free(&h->body);
	alloc_free(h);
}

const struct output output_https = {
	.name = "https",
	.open = https_open,
	.deliver = https_deliver,
	.confirm = NULL, /* a 2xx answer is the acknowledgement */
	.close = https_close,
};
