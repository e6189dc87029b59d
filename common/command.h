/* command: signed commands from the collector to one agent.
 *
 *   {t:"command", id:<u64>, agent:<id>, type:<str>, args:{...},
 *    issued:<µs>, expires:<µs>, sig:<bin: ECDSA P-256 / SHA-256, DER>}
 *
 * The signature covers a canonical msgpack array
 *   ["eduwatch-command-v1", id, agent, type, args, issued, expires]
 * so a command cannot be moved to another agent, retyped or extended. The
 * collector signs with its CA key; the agent verifies with the CA it pinned
 * at enrollment. Before acting, the agent also checks: its own id, a type
 * on its allow-list, issued not in the future (5 min skew), not expired, a
 * lifetime of at most 7 days, and an id above the last it executed (no
 * replay). */
#ifndef EDUWATCH_COMMAND_H
#define EDUWATCH_COMMAND_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <openssl/evp.h>

#include "common/event.h"

#define COMMAND_TYPE_MAX 32
#define COMMAND_ARGS_MAX 4096
#define COMMAND_MAX_LIFETIME_US (7LL * 86400 * 1000000)
#define COMMAND_SKEW_US (5LL * 60 * 1000000)

struct command {
	uint64_t id;
	char agent[EVENT_AGENT_MAX + 1];
	char type[COMMAND_TYPE_MAX + 1];
	char *args; /* packed msgpack map, owned; NULL for none */
	size_t args_len;
	int64_t issued_us;
	int64_t expires_us;
};

/* Packs and signs a complete command frame into out (a wire frame with its
 * length header). */
EW_MUST_CHECK
int command_build_frame(const struct command *cmd, EVP_PKEY *key,
			msgpack_sbuffer *out);

struct command_policy {
	const char *agent_id;
	const char *const *allowed_types;
	size_t allowed_count;
	uint64_t last_executed_id;
	int64_t now_us;
};

/* Decodes and checks a command frame's map. Fills cmd on success (free
 * with command_clear). Returns 0, or -EBADMSG / -EPERM / -ETIMEDOUT /
 * -EALREADY with a reason in err. */
EW_MUST_CHECK
int command_verify(const msgpack_object *frame, EVP_PKEY *pubkey,
		   const struct command_policy *policy, struct command *cmd,
		   char *err, size_t errlen);

void command_clear(struct command *cmd);

#endif
