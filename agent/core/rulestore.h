/* rulestore: the signed bundles installed on this PC: the YARA rules, and
 * the LAN sensor's IOC list.
 *
 * <state_dir>/rules/current.ewb is the rule bundle the scanner uses, and
 * <state_dir>/rules/ioc.ewb the IOC bundle whose list is unpacked into
 * <state_dir>/ioc.txt for the sensor. A new one arrives in pieces as
 * <state_dir>/rules/incoming-<kind>-<version>.part (so a download cut by
 * a flaky link resumes where it stopped), and replaces the installed one
 * only after its signature verifies against the pinned CA, its signed
 * kind is the one expected, its version is newer and (for a list) every
 * line parses: a corrupt, unsigned, replayed or mislabelled bundle is
 * refused and the old one stays. */
#ifndef EDUWATCH_RULESTORE_H
#define EDUWATCH_RULESTORE_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bundle.h"

/* RULESTORE_AGENT: an agent release (common/relpkg.h), installed by
 * agent/upgrade/apply.h from rules/agent.ewb. */
enum rulestore_kind { RULESTORE_RULES, RULESTORE_IOC, RULESTORE_AGENT };
#define RULESTORE_KINDS 3

/* "rules", "ioc" or "agent": the bundle header's kind, and the wire's `what`. */
const char *rulestore_kind_name(enum rulestore_kind kind);

struct rulestore_current {
	char path[600];	   /* the bundle file */
	char ca[600];	   /* the CA that must have signed it */
	struct bundle_info info;
	char version_key[40]; /* "bundle-<version>": the scan cache's key */
};

/* The installed rule bundle, verified. Returns 0, -ENOENT when there is
 * none, or another negative errno with a reason. */
EW_MUST_CHECK
int rulestore_current(const char *state_dir, struct rulestore_current *out,
		      char *err, size_t errlen);
/* The installed version of a kind, verified; 0 when there is none. */
uint64_t rulestore_installed_version(const char *state_dir,
				     enum rulestore_kind kind);

/* The installed bundle of a kind, verified again, and its payload in
 * *raw (free with alloc_free). Returns 0 or a negative errno with a
 * reason. */
EW_MUST_CHECK
int rulestore_installed_payload(const char *state_dir, enum rulestore_kind kind,
				struct bundle_info *info, void **raw,
				size_t *raw_len, char *err, size_t errlen);

/* The partial download of a version: its path and how many bytes it has. */
void rulestore_part_path(const char *state_dir, enum rulestore_kind kind,
			 uint64_t version, char *out, size_t cap);
uint64_t rulestore_part_size(const char *state_dir, enum rulestore_kind kind,
			     uint64_t version);
/* Appends data at offset (which must be the part's current size). */
EW_MUST_CHECK
int rulestore_part_append(const char *state_dir, enum rulestore_kind kind,
			  uint64_t version, uint64_t offset, const void *data,
			  size_t len);
/* Verifies the complete part and installs it. Returns 0, or a negative
 * errno with the reason; the part is removed either way. */
EW_MUST_CHECK
int rulestore_install_part(const char *state_dir, enum rulestore_kind kind,
			   uint64_t version, struct bundle_info *installed,
			   char *err, size_t errlen);
/* Installs a rule bundle file by hand (`eduwatch-agent rules install`). */
EW_MUST_CHECK
int rulestore_install_file(const char *state_dir, const char *file,
			   struct bundle_info *installed, char *err,
			   size_t errlen);

#endif
