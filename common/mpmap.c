#include "common/mpmap.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"

void mpmap_begin(struct mpmap *m, msgpack_packer *pk)
{
	m->sb = pk->data;
	m->at = m->sb->size;
	/* Over 65,535 entries forces the 5-byte map32 form, the one that
	 * any count can be patched into. */
	msgpack_pack_map(pk, 0x10000);
}

void mpmap_end(struct mpmap *m)
{
	msgpack_unpacked obj;
	size_t off = m->at + 5, objects = 0;
	msgpack_unpacked_init(&obj);
	while (off < m->sb->size) {
		msgpack_unpack_return r = msgpack_unpack_next(
			&obj, m->sb->data, m->sb->size, &off);
		if (r != MSGPACK_UNPACK_SUCCESS)
			break;
		objects++;
	}
	msgpack_unpacked_destroy(&obj);
	if (off != m->sb->size || objects % 2 != 0 || objects / 2 > UINT32_MAX) {
		log_err("mpmap: a map holds %zu objects, not key-value pairs: "
			"a bug in the code that packed it", objects);
		abort();
	}
	uint32_t n = (uint32_t)(objects / 2);
	unsigned char *h = (unsigned char *)m->sb->data + m->at + 1;
	h[0] = (unsigned char)(n >> 24);
	h[1] = (unsigned char)(n >> 16);
	h[2] = (unsigned char)(n >> 8);
	h[3] = (unsigned char)n;
}
