/* backupkey: the keys of a backup repository, and how they are kept.
 *
 * A repository has 96 bytes of master keys: AES-256-GCM for its blobs and
 * files, HMAC-SHA-256 for chunk ids, and the chunker's seed. They are
 * kept in two sealed forms:
 *   - the key file, sealed (AES-256-GCM) with a key derived from the
 *     school's passphrase by scrypt (N = 2^15, r = 8, p = 1);
 *   - an escrow, sealed to the collector's CA public key (ephemeral ECDH
 *     on P-256, HKDF-SHA-256, AES-256-GCM), so that the province can
 *     write a new key file for a school that lost its passphrase.
 * In common/ because the agent seals and the collector opens. */
#ifndef EDUWATCH_BACKUPKEY_H
#define EDUWATCH_BACKUPKEY_H

#include "common/check.h"

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define BACKUPKEY_LEN 96
#define BACKUPKEY_NONCE 12
#define BACKUPKEY_TAG 16
#define BACKUPKEY_OVERHEAD (BACKUPKEY_NONCE + BACKUPKEY_TAG)

/* AES-256-GCM: out = nonce || ciphertext || tag (len + OVERHEAD bytes),
 * with aad bound in. Returns 0, or -EBADMSG when opening fails. */
EW_MUST_CHECK
int backupkey_seal(const uint8_t key[32], const void *aad, size_t aad_len,
		   const void *plain, size_t len, uint8_t *out);
EW_MUST_CHECK
int backupkey_unseal(const uint8_t key[32], const void *aad, size_t aad_len,
		     const uint8_t *in, size_t len, uint8_t *out);

/* The key file, written atomically with mode 0600. */
EW_MUST_CHECK
int backupkey_write(const char *path, const uint8_t keys[BACKUPKEY_LEN],
		    const char *passphrase);
/* Returns 0, -EACCES for a wrong passphrase, -EBADMSG for a damaged
 * file, -EINVAL when its scrypt cost is out of bounds. */
EW_MUST_CHECK
int backupkey_parse(const void *data, size_t len, const char *passphrase,
		    uint8_t keys[BACKUPKEY_LEN]);

EW_MUST_CHECK
int backupkey_escrow_seal(const uint8_t keys[BACKUPKEY_LEN],
			  EVP_PKEY *recipient, char **out, size_t *out_len);
/* Returns 0, -EACCES (sealed for another key) or -EBADMSG. */
EW_MUST_CHECK
int backupkey_escrow_open(const void *escrow, size_t len, EVP_PKEY *ca_key,
			  uint8_t keys[BACKUPKEY_LEN]);

#endif
