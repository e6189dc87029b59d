/* rulepub: compiling and signing the YARA rule bundle agents scan with.
 *
 * `eduwatch-collector rules publish` compiles the configured rule sets
 * (ours and any third-party collection, with the external variables real
 * collections expect), signs the compiled form with the CA key and keeps
 * it as <state_dir>/bundles/bundle-<version>.ewb, where ingest serves it
 * to agents piece by piece. IOC lists for the LAN sensor travel the same
 * way (ioc-<version>.ewb). The version only grows: the larger of the
 * last one plus one and the current Unix time, so that a restored backup
 * of the collector can never publish a version agents already passed. */
#ifndef EDUWATCH_RULEPUB_H
#define EDUWATCH_RULEPUB_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/bundle.h"

void rulepub_dir(const char *state_dir, char *out, size_t cap);

/* Builds, signs and stores a new bundle. A rule that fails to compile is
 * named in err as FILE:LINE. Returns 0 or a negative errno. */
EW_MUST_CHECK
int rulepub_publish(const char *state_dir, const char *const *sets,
		    size_t nsets, EVP_PKEY *key, struct bundle_info *info,
		    size_t *file_size, char *err, size_t errlen);

/* The newest published rule bundle's version, or 0. */
uint64_t rulepub_latest(const char *state_dir);

/* Signs an IOC list (domains and addresses, one a line) as an "ioc"
 * bundle, stored as ioc-<version>.ewb. */
#define RULEPUB_IOC_MAX (256u * 1024u * 1024u)
EW_MUST_CHECK
int rulepub_publish_ioc(const char *state_dir, const char *file, EVP_PKEY *key,
			struct bundle_info *info, size_t *file_size, char *err,
			size_t errlen);
/* The same for a list already in memory (the console's upload); source
 * names it in the bundle and in err. Borrows buf. */
EW_MUST_CHECK
int rulepub_publish_ioc_text(const char *state_dir, const char *buf,
			     size_t len, const char *source, EVP_PKEY *key,
			     struct bundle_info *info, size_t *file_size,
			     char *err, size_t errlen);

/* Signs a release as published (common/relpkg.h: a signed release file
 * or a bare payload, borrowed, unchanged) as an "agent" bundle of
 * release `release`, stored as agent-<version>.ewb. */
EW_MUST_CHECK
int rulepub_publish_agent(const char *state_dir, const void *raw,
			  size_t raw_len, const char *release, bool rollback,
			  EVP_PKEY *key, struct bundle_info *info,
			  size_t *file_size, char *err, size_t errlen);

#endif
