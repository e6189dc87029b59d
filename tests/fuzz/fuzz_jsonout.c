/* libFuzzer harness: every JSON writer of the collector (strings, msgpack
 * bodies with cuts and KEY_b64, stored evidence, event bodies, the SOC's
 * ECS and OCSF alerts) given arbitrary bytes must write valid UTF-8 that
 * a strict JSON validator accepts. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "collector/forward.h"
#include "common/dynbuf.h"
#include "common/event.h"
#include "common/jsonout.h"
#include "common/wire.h"
#include "tests/support/jsoncheck.h"
#include "tests/support/testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must_be_json(const char *s, size_t n)
{
	if (!jsoncheck_valid(s, n, NULL))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	/* A string, any bytes. */
	f = open_memstream(&text, &len);
	json_print_strn(f, s, size);
	fclose(f);
	must_be_json(text, len);
	free(text);

	/* Stored evidence: our JSON with whatever bytes inside a string. */
	f = open_memstream(&text, &len);
	fputs("{\"path\":\"", f);
	for (size_t i = 0; i < size; i++)
		if (data[i] != '"' && data[i] != '\\')
			fputc(data[i], f);
	fputs("\"}", f);
	fclose(f);
	char *san = NULL;
	size_t san_len = 0;
	f = open_memstream(&san, &san_len);
	json_print_sanitized(f, text, len);
	fclose(f);
	must_be_json(san, san_len);
	free(san);
	free(text);

	/* The middle cut keeps within its room. */
	char cut[64];
	json_cut_middle(s, size, cut, sizeof(cut));
	if (strlen(cut) >= sizeof(cut))
		abort();

	/* A msgpack body, as an agent sends it. */
	char *evidence = NULL;
	if (size > 0 && wire_check_msgpack(s, size, EVENT_BODY_DEPTH) == 0) {
		msgpack_unpacked up;
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, s, size, NULL) ==
		    MSGPACK_UNPACK_SUCCESS) {
			struct json_render_opts o = {.max_string = data[0] % 3 ? 0 : 16,
						     .raw_b64 = data[0] & 1};
			size_t n = 0;
			if (json_render_msgpack(&up.data, &o, &evidence, &n) == 0)
				must_be_json(evidence, n);
			/* Into a capped buffer: the whole JSON or an error,
			 * never a short text taken for whole. */
			struct dynbuf capped;
			dynbuf_init(&capped, 1 + size % 64);
			if (json_render_msgpack_buf(&capped, &up.data, &o) == 0) {
				must_be_json(capped.data, capped.len);
				if (evidence == NULL || capped.len != n ||
				    memcmp(capped.data, evidence, n) != 0)
					abort();
			} else if (capped.failed != -EMSGSIZE &&
				   capped.failed != -ENOMEM) {
				abort();
			}
			dynbuf_free(&capped);
			f = open_memstream(&text, &len);
			json_print_msgpack(f, &up.data);
			fclose(f);
			must_be_json(text, len);
			free(text);
			if (up.data.type == MSGPACK_OBJECT_MAP &&
			    event_body_to_json(s, size, &text) == 0) {
				must_be_json(text, strlen(text));
				free(text);
			}
		}
		msgpack_unpacked_destroy(&up);
	}

	/* An alert whose every text field comes from the input. */
	static struct store_alert a;
	const uint8_t *p = data, *end = data + size;
	memset(&a, 0, sizeof(a));
	testutil_take_piece(&p, end, a.title, sizeof(a.title));
	testutil_take_piece(&p, end, a.rule, sizeof(a.rule));
	testutil_take_piece(&p, end, a.kind, sizeof(a.kind));
	testutil_take_piece(&p, end, a.category, sizeof(a.category));
	testutil_take_piece(&p, end, a.agent, sizeof(a.agent));
	testutil_take_piece(&p, end, a.hostname, sizeof(a.hostname));
	testutil_take_piece(&p, end, a.school, sizeof(a.school));
	testutil_take_piece(&p, end, a.commune, sizeof(a.commune));
	testutil_take_piece(&p, end, a.state, sizeof(a.state));
	testutil_take_piece(&p, end, a.src_ip, sizeof(a.src_ip));
	testutil_take_piece(&p, end, a.file_hash, sizeof(a.file_hash));
	char path[2048];
	testutil_take_piece(&p, end, path, sizeof(path));
	json_cut_middle(path, strlen(path), a.file_path, sizeof(a.file_path));
	if (evidence && strlen(evidence) < sizeof(a.evidence))
		memcpy(a.evidence, evidence, strlen(evidence) + 1);
	free(evidence);
	a.severity = size ? data[size - 1] % 12 - 1 : 0;
	a.count = (long long)size;
	for (int ocsf = 0; ocsf < 2; ocsf++) {
		struct cef_buf b = {0};
		forward_format_json(&a, ocsf, &b);
		if (!b.failed)
			must_be_json(b.data, b.len);
		cef_buf_release(&b);
	}
	return 0;
}
