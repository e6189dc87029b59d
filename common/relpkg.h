/* relpkg: the payload of an agent release bundle (bundle.h, kind
 * "agent"): the files of one release directory and what the release is.
 *
 * The bundle's signature covers the payload's hash, so everything here is
 * signed; it is still parsed as hostile bytes (a leaked key, a bug in the
 * collector), because the agent installs it as root. The payload is one
 * msgpack map:
 *
 *   {release: "1.2.0",            digits and dots, <= RELPKG_VERSION_MAX
 *    rollback: bool,              may replace a newer release
 *    files: [[name, exec, data], ...]}
 *
 * A name is a plain file name ([A-Za-z0-9._-], no leading dot, no
 * slash), at most RELPKG_FILES files, each named once. */
#ifndef EDUWATCH_RELPKG_H
#define EDUWATCH_RELPKG_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#define RELPKG_VERSION_MAX 32
#define RELPKG_VERSION_PART_DIGITS 9
#define RELPKG_NAME_MAX 64
#define RELPKG_FILES 64

struct relpkg_file {
	char name[RELPKG_NAME_MAX + 1];
	bool exec;
	const void *data; /* borrowed from the payload */
	size_t len;
};

struct relpkg {
	char release[RELPKG_VERSION_MAX + 1];
	bool rollback;
	struct relpkg_file files[RELPKG_FILES];
	size_t nfiles;
	void *priv; /* the unpacked msgpack the files point into */
};

/* Packs the regular files of dir (no links, nothing below) as release
 * `release` into *out (free with alloc_free). Returns 0 or a negative
 * errno with a reason in err. */
EW_MUST_CHECK
int relpkg_pack_dir(const char *dir, const char *release, bool rollback,
		    char **out, size_t *out_len, char *err, size_t errlen);

/* Parses a payload; pkg borrows from data, which must outlive it.
 * Returns 0 or -EBADMSG with a reason. Free with relpkg_clear. */
EW_MUST_CHECK
int relpkg_parse(const void *data, size_t len, struct relpkg *pkg, char *err,
		 size_t errlen);
void relpkg_clear(struct relpkg *pkg);

/* A signed release file: the payload signed by the province's offline
 * release key (`agent-release sign`, on a machine that is not the
 * collector), which the collector publishes as the agent bundle's
 * payload unchanged, so the PCs check the release key's signature
 * themselves and a collector's CA key alone cannot push a release
 * (docs/DECISIONS.md, "Agent releases are signed by an offline key").
 * The layout (big-endian):
 *
 *   "EWRELSG1"                 8-byte magic
 *   u32 S, sig[S]              ECDSA P-256 / SHA-256 over
 *                              "eduwatch-release-v1\0" || SHA-256(payload)
 *   payload                    as above
 *
 * A bare payload (no magic: a msgpack map never begins with 'E') is an
 * unsigned release, as releases were before the release key. */
#define RELPKG_SIGNED_MAGIC "EWRELSG1"

/* Signs payload with key into a signed release file image in *out (free
 * with alloc_free). Returns 0 or a negative errno. */
EW_MUST_CHECK
int relpkg_sign(EVP_PKEY *key, const void *payload, size_t len, char **out,
		size_t *out_len);

/* Splits a published release into its payload (borrowed from data).
 * With pin (the release key's public half), only a signed release file
 * whose signature verifies passes; without, the signature is not checked
 * (the bundle's own CA signature is all the agent asks for) but a signed
 * file must still be well formed. *is_signed says which form it was.
 * Returns 0, -EBADMSG (damaged) or -EPERM (not signed by pin), with a
 * reason. */
EW_MUST_CHECK
int relpkg_unwrap(const void *data, size_t len, EVP_PKEY *pin,
		  const void **payload, size_t *payload_len, bool *is_signed,
		  char *err, size_t errlen);

/* The release a folder holds, from its name agent-VERSION (the name it
 * will have on every PC; trailing slashes ignored). False, with out "",
 * for any other name. */
bool relpkg_dir_version(const char *dir, char out[RELPKG_VERSION_MAX + 1]);

/* Whether s is a release version: numbers separated by single dots, each
 * of 1 to RELPKG_VERSION_PART_DIGITS digits with no leading zero, so that
 * one version has one spelling and every part fits an unsigned long. */
bool relpkg_version_ok(const char *s);

#endif
