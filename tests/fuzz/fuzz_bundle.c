/* libFuzzer harness: rule bundles. The input is used twice: as a whole
 * bundle file (the magic, lengths and signature checks a forged file
 * meets), and split into a header and a payload that are then signed
 * with a fixed key, so that the header decoding and the decompression
 * behind the signature see arbitrary bytes too (a collector's own key
 * could sign a damaged header after a bug). */
#include <stdint.h>
#include <string.h>

#include <openssl/sha.h>

#include "common/alloc.h"
#include "common/bundle.h"
#include "common/pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *key;

static void try_open(const void *img, size_t len)
{
	struct bundle_info info;
	void *raw = NULL;
	size_t raw_len = 0;
	char err[200];
	if (bundle_open(img, len, key, &info, &raw, &raw_len, err,
			sizeof(err)) == 0)
		alloc_free(raw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (key == NULL && pki_key_new(&key) != 0)
		return 0;
	try_open(data, size);
	if (size < 2)
		return 0;
	size_t hlen = ((size_t)data[0] << 8 | data[1]) % (size - 1);
	const uint8_t *header = data + 2, *payload = data + 2 + hlen;
	size_t plen = size - 2 - hlen;
	if (hlen == 0)
		return 0;
	static const char ctx[] = "eduwatch-bundle-v1";
	uint8_t *tbs = alloc_bytes(sizeof(ctx) + hlen);
	memcpy(tbs, ctx, sizeof(ctx));
	memcpy(tbs + sizeof(ctx), header, hlen);
	unsigned char sig[PKI_SIG_MAX];
	size_t siglen = 0;
	if (pki_sign(key, tbs, sizeof(ctx) + hlen, sig, &siglen) != 0)
		abort(); /* fixed, valid input: a harness bug */
	alloc_free(tbs);
	size_t len = 8 + 4 + hlen + 4 + siglen + plen;
	uint8_t *img = alloc_bytes(len), *p = img;
	memcpy(p, "EWRULES1", 8);
	p[8] = (uint8_t)(hlen >> 24);
	p[9] = (uint8_t)(hlen >> 16);
	p[10] = (uint8_t)(hlen >> 8);
	p[11] = (uint8_t)hlen;
	memcpy(p + 12, header, hlen);
	p += 12 + hlen;
	p[0] = 0;
	p[1] = 0;
	p[2] = (uint8_t)(siglen >> 8);
	p[3] = (uint8_t)siglen;
	memcpy(p + 4, sig, siglen);
	memcpy(p + 4 + siglen, payload, plen);
	try_open(img, len);
	alloc_free(img);
	return 0;
}
