#include "agent/backup/chunker.h"

#include <string.h>

#include <openssl/evp.h>

/* Masks with 22 and 18 one-bits (FastCDC's "normalisation level 2"
 * around a 2^20 average: a cut is 4 times rarer than average before it,
 * 4 times likelier after), spread over the top 48 bits of the hash,
 * which have seen the most bytes. */
#define MASK_S 0xaaa554aaa5540000ULL
#define MASK_L 0xa4a4a4a4a4a40000ULL

void chunker_init(struct chunker_params *p, const uint8_t seed[32])
{
	/* The table is SHA-256 in counter mode over the seed: 256 words. */
	for (unsigned i = 0; i < 256; i += 4) {
		uint8_t in[36], d[32];
		unsigned dlen = 0;
		memcpy(in, seed, 32);
		in[32] = (uint8_t)(i >> 24);
		in[33] = (uint8_t)(i >> 16);
		in[34] = (uint8_t)(i >> 8);
		in[35] = (uint8_t)i;
		EVP_Digest(in, sizeof(in), d, &dlen, EVP_sha256(), NULL);
		for (unsigned j = 0; j < 4; j++) {
			uint64_t v = 0;
			for (unsigned k = 0; k < 8; k++)
				v = v << 8 | d[j * 8 + k];
			p->gear[i + j] = v;
		}
	}
}

size_t chunker_next(const struct chunker_params *p, const uint8_t *buf,
		    size_t len)
{
	if (len <= CHUNK_MIN)
		return len;
	size_t end = len < CHUNK_MAX ? len : CHUNK_MAX;
	size_t normal = end < CHUNK_AVG ? end : CHUNK_AVG;
	uint64_t h = 0;
	size_t i = CHUNK_MIN;
	/* The hash of the window before i: 64 bytes are enough, since each
	 * step shifts one bit out. */
	for (size_t j = CHUNK_MIN - 64; j < CHUNK_MIN; j++)
		h = (h << 1) + p->gear[buf[j]];
	for (; i < normal; i++) {
		h = (h << 1) + p->gear[buf[i]];
		if (!(h & MASK_S))
			return i + 1;
	}
	for (; i < end; i++) {
		h = (h << 1) + p->gear[buf[i]];
		if (!(h & MASK_L))
			return i + 1;
	}
	return end;
}
