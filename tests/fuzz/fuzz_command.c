/* libFuzzer harness: a command frame body as the agent receives it, through
 * frame validation and command_verify (signature and policy checks). */
#include <stddef.h>
#include <stdint.h>

#include "common/command.h"
#include "common/pki.h"
#include "common/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *key;
	static const char *const allowed[] = {"ping", "status"};
	if (key == NULL && pki_key_new(&key) != 0)
		return 0;
	struct wire_msg msg;
	if (wire_msg_parse(&msg, (const char *)data, size) != 0)
		return 0;
	struct command cmd;
	char err[200];
	struct command_policy p = {"a-79001-0001", allowed, 2, 0,
				   1764380000000000LL};
	if (command_verify(msg.root, key, &p, &cmd, err, sizeof(err)) == 0)
		command_clear(&cmd);
	wire_msg_release(&msg);
	return 0;
}
