/* bundle: a signed, compressed file the collector pushes to agents: the
 * compiled YARA rules, or the LAN sensor's IOC list.
 *
 * The collector compiles the rule sets its admin chose (or takes the IOC
 * list), signs the result with its CA key and pushes it to the agents; an
 * agent uses a bundle only if the signature verifies against the CA it
 * pinned at enrollment, and only as the kind its signed header names.
 * Compiled rules are libyara's own serialisation, which trusts its input
 * completely, so the signature is what stands between a forged file and
 * the scanner's memory. The layout (big-endian integers):
 *
 *   "EWRULES1"                      8-byte magic
 *   u32 H, header[H]                a msgpack map, H <= 64 KiB
 *   u32 S, sig[S]                   ECDSA P-256 / SHA-256 over
 *                                   "eduwatch-bundle-v1\0" || header
 *   payload                         zstd frame of the compiled rules
 *                                   (for rules, then their sources)
 *
 * The header names the kind, the version, the payload's length and
 * SHA-256 and its size once decompressed, so the signature covers every
 * byte. A rule bundle's payload is the compiled rules (compiled_len
 * bytes) followed by the rule sources they were compiled from, so that an
 * agent whose libyara cannot load another version's compiled form can
 * compile the same signed text (docs/DECISIONS.md, "Rule bundles across
 * libyara versions"); a bundle without the header's compiled_len is the
 * compiled form alone, as bundles were before. */
#ifndef EDUWATCH_BUNDLE_H
#define EDUWATCH_BUNDLE_H

#include "common/check.h"

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define BUNDLE_MAX_RAW (512u * 1024u * 1024u)
#define BUNDLE_MAX_FILE (256u * 1024u * 1024u)

struct bundle_info {
	char kind[16];	      /* "rules" (compiled YARA) or "ioc" (a list) */
	uint64_t version;     /* grows with every publication, per kind */
	int64_t created_us;
	uint64_t rules;	      /* rule count, for people */
	char yara[24];	      /* libyara version that compiled it */
	char sources[256];    /* the rule sets in it, for people */
	uint64_t raw_len;     /* the payload, decompressed */
	/* Rules: the compiled form is raw[0, compiled_len) and the sources
	 * raw[compiled_len, raw_len). bundle_build writes the field only
	 * when it is not 0; bundle_open sets it to raw_len when the header
	 * has none (compiled form only). */
	uint64_t compiled_len;
};

/* Compresses and signs raw (the compiled rules) into a new bundle file
 * image in *out (free with alloc_free). Returns 0 or a negative errno. */
EW_MUST_CHECK
int bundle_build(EVP_PKEY *key, const struct bundle_info *info,
		 const void *raw, size_t raw_len, char **out, size_t *out_len);

/* Checks a bundle image: layout, signature, payload hash, then inflates.
 * On success fills info and *raw (free with alloc_free). Returns 0, or
 * -EBADMSG (damaged) / -EPERM (not signed by pubkey) with a reason. */
EW_MUST_CHECK
int bundle_open(const void *data, size_t len, EVP_PKEY *pubkey,
		struct bundle_info *info, void **raw, size_t *raw_len,
		char *err, size_t errlen);

/* Reads and opens a bundle file. */
EW_MUST_CHECK
int bundle_open_file(const char *path, EVP_PKEY *pubkey,
		     struct bundle_info *info, void **raw, size_t *raw_len,
		     char *err, size_t errlen);

#endif
