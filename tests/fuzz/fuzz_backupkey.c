/* libFuzzer harness: a backup key file, which sits on a USB drive or a
 * share anyone can write to, is parsed before anything is authenticated;
 * and an escrow blob, as the collector reads it from an event. */
#include <stdint.h>

#include "common/backupkey.h"
#include "common/pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t keys[BACKUPKEY_LEN];
	if (key == NULL && pki_key_new(&key) != 0)
		return 0;
	EW_IGNORE(backupkey_parse(data, size, "fuzz passphrase", keys));
	EW_IGNORE(backupkey_escrow_open(data, size, key, keys));
	return 0;
}
