/* mpmap: msgpack maps whose entry count is written when they close.
 *
 * An event body with optional fields used to start with a hand-counted
 * header (`msgpack_pack_map(&pk, 15 + (fatal != NULL))`): a field added
 * without its count fails only at run time, only on that path, as a
 * malformed event the collector refuses. Here the header is a map32 with
 * a placeholder, and mpmap_end counts what was packed after it and
 * patches it, as Fluent Bit's flb_mp_map_header_* do. Maps nest: close
 * the inner one first. The packer must write into a msgpack_sbuffer. */
#ifndef EDUWATCH_MPMAP_H
#define EDUWATCH_MPMAP_H

#include <stddef.h>

#include <msgpack.h>

struct mpmap {
	msgpack_sbuffer *sb;
	size_t at; /* offset of the map32 header */
};

/* pk's data must be a msgpack_sbuffer (msgpack_sbuffer_write). */
void mpmap_begin(struct mpmap *m, msgpack_packer *pk);

/* Counts the keys and values packed since mpmap_begin and writes the
 * count. An odd number of objects (a key without its value) is a bug in
 * the caller: it aborts with a message rather than ship a body the
 * collector would refuse for ever. */
void mpmap_end(struct mpmap *m);

#endif
