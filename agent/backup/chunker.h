/* chunker: content-defined chunking (FastCDC, with a gear hash).
 *
 * A chunk ends where the rolling hash of the last bytes matches a mask, so
 * inserting a byte early in a file moves only the chunks around it: the
 * rest keep their boundaries, their ids, and their place in the
 * repository. FastCDC's normalised chunking uses a stricter mask before
 * the average size and a looser one after, which narrows the spread of
 * sizes around the average (1 MiB here; 256 KiB minimum, 4 MiB maximum).
 * The gear table is derived from a per-repository seed, so chunk
 * boundaries, like chunk ids, say nothing an outsider could match
 * against known files. */
#ifndef EDUWATCH_CHUNKER_H
#define EDUWATCH_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#define CHUNK_MIN (256u * 1024u)
#define CHUNK_AVG (1024u * 1024u)
#define CHUNK_MAX (4u * 1024u * 1024u)

struct chunker_params {
	uint64_t gear[256];
};

/* Fills the gear table from a 32-byte seed. */
void chunker_init(struct chunker_params *p, const uint8_t seed[32]);

/* The length of the next chunk of buf (len bytes available). When fewer
 * than CHUNK_MAX bytes remain and more data may follow, the caller must
 * refill first unless at_end: the cut is then at most len. */
size_t chunker_next(const struct chunker_params *p, const uint8_t *buf,
		    size_t len);

#endif
