/* rulefetch: downloading a bundle the collector announced (rules or an
 * IOC list; one rulefetch per kind).
 *
 * A signed "rules.update" or "ioc.update" command names a version; the
 * agent then asks for the bundle piece by piece over its own connection
 * ("fetch" frames,
 * answered by "blob" frames), writing each piece to the partial file
 * before asking for the next. A cut link, a restart of the agent or a
 * busy collector only pause the download: it resumes at the partial
 * file's size. The complete file is installed only if its signature
 * verifies (rulestore.h).
 *
 * Lifecycle: loop-owned, `_start` / `_stop` / `_free`, as every loop-owned
 * module in the tree: stop begins closing the handles, free runs once the
 * loop has closed them. */
#ifndef EDUWATCH_RULEFETCH_H
#define EDUWATCH_RULEFETCH_H

#include "common/check.h"

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <uv.h>

#include "agent/core/rulestore.h"
#include "common/bundle.h"

struct rulefetch;

struct rulefetch_ops {
	/* Sends {t:"fetch", what, version, offset}; returns 0 or -ENOTCONN
	 * (the download waits for rulefetch_connected). */
	int (*send_fetch)(void *arg, const char *what, uint64_t version,
			  uint64_t offset);
	/* The download ended: installed (error NULL) or refused. */
	void (*finished)(void *arg, enum rulestore_kind kind, uint64_t version,
			 const struct bundle_info *info, const char *error);
};

EW_MUST_CHECK
int rulefetch_start(uv_loop_t *loop, const char *state_dir,
		  enum rulestore_kind kind, const struct rulefetch_ops *ops,
		  void *arg, struct rulefetch **out);
/* Starts (or resumes) fetching version. Fills result for the command. */
EW_MUST_CHECK
int rulefetch_begin(struct rulefetch *rf, uint64_t version, char *result,
		    size_t cap);
void rulefetch_on_blob(struct rulefetch *rf, const msgpack_object *frame);
void rulefetch_connected(struct rulefetch *rf);
/* Closes the timer; free after the loop has closed it. */
void rulefetch_stop(struct rulefetch *rf);
void rulefetch_free(struct rulefetch *rf);

#endif
