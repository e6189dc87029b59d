#include "common/backupkey.h"

#include <errno.h>
#include <string.h>

#include <msgpack.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "common/fsutil.h"
#include "common/pki.h"
#include "common/wire.h"

#define SCRYPT_N (1u << 15)
#define SCRYPT_R 8u
#define SCRYPT_P 1u
/* A key file on a USB drive is anyone's to edit: its cost parameters
 * are bounded so that it cannot make the agent spend more than 64 MiB or
 * a second on it. */
#define SCRYPT_N_MAX (1u << 16)
#define SCRYPT_MAXMEM (64u * 1024u * 1024u)

/* Binds a sealed key (file or escrow) to its purpose. */
static const char key_aad[] = "eduwatch-backup-key-v1";

/* nonce || AES-256-GCM(plain) || tag, with aad bound in. */
int backupkey_seal(const uint8_t key[32], const void *aad, size_t aad_len,
		const void *plain, size_t len, uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, ok = c && RAND_bytes(out, BACKUPKEY_NONCE) == 1 &&
			 EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, out) &&
			 (aad_len == 0 ||
			  EVP_EncryptUpdate(c, NULL, &n, aad, (int)aad_len)) &&
			 EVP_EncryptUpdate(c, out + BACKUPKEY_NONCE, &n, plain, (int)len) &&
			 EVP_EncryptFinal_ex(c, out + BACKUPKEY_NONCE + n, &n) &&
			 EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, BACKUPKEY_TAG,
					     out + BACKUPKEY_NONCE + len);
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -EIO;
}

int backupkey_unseal(const uint8_t key[32], const void *aad, size_t aad_len,
		       const uint8_t *in, size_t len, uint8_t *out)
{
	if (len < BACKUPKEY_OVERHEAD)
		return -EBADMSG;
	size_t plen = len - BACKUPKEY_OVERHEAD;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key,
						 in) &&
			 (aad_len == 0 ||
			  EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len)) &&
			 EVP_DecryptUpdate(c, out, &n, in + BACKUPKEY_NONCE, (int)plen) &&
			 EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, BACKUPKEY_TAG,
					     (void *)(in + BACKUPKEY_NONCE + plen)) &&
			 EVP_DecryptFinal_ex(c, out + n, &n) > 0;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -EBADMSG;
}

static int derive(const char *pass, const uint8_t *salt, uint64_t n,
		  uint64_t rr, uint64_t p, uint8_t kek[32])
{
	return EVP_PBE_scrypt(pass, strlen(pass), salt, 16, n, rr, p,
			      SCRYPT_MAXMEM, kek, 32) == 1
		       ? 0
		       : -EINVAL;
}



int backupkey_write(const char *path, const uint8_t keys[BACKUPKEY_LEN],
		    const char *pass)
{
	uint8_t salt[16], kek[32], sealed[BACKUPKEY_LEN + BACKUPKEY_OVERHEAD];
	RAND_bytes(salt, sizeof(salt));
	int rc = derive(pass, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, kek);
	if (rc == 0)
		rc = backupkey_seal(kek, key_aad, sizeof(key_aad), keys,
				    BACKUPKEY_LEN, sealed);
	OPENSSL_cleanse(kek, sizeof(kek));
	if (rc != 0)
		return rc;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 6);
	wire_pack_kv_str(&pk, "kdf", "scrypt");
	wire_pack_kv_u64(&pk, "n", SCRYPT_N);
	wire_pack_kv_u64(&pk, "r", SCRYPT_R);
	wire_pack_kv_u64(&pk, "p", SCRYPT_P);
	wire_pack_str(&pk, "salt");
	msgpack_pack_bin(&pk, sizeof(salt));
	msgpack_pack_bin_body(&pk, salt, sizeof(salt));
	wire_pack_str(&pk, "sealed");
	msgpack_pack_bin(&pk, sizeof(sealed));
	msgpack_pack_bin_body(&pk, sealed, sizeof(sealed));
	rc = fs_write_atomic(path, sb.data, sb.size, 0600);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

int backupkey_parse(const void *data, size_t len, const char *pass,
		    uint8_t keys[BACKUPKEY_LEN])
{
	const char *buf = data;
	int rc;
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	uint64_t n = 0, rr = 0, p = 0;
	const msgpack_object *salt = NULL, *sealed = NULL;
	rc = -EBADMSG;
	if (wire_check_msgpack(buf, len, 4) == 0 &&
	    msgpack_unpack_next(&up, buf, len, NULL) ==
		    MSGPACK_UNPACK_SUCCESS &&
	    up.data.type == MSGPACK_OBJECT_MAP &&
	    wire_get_u64(&up.data, "n", &n) == 0 &&
	    wire_get_u64(&up.data, "r", &rr) == 0 &&
	    wire_get_u64(&up.data, "p", &p) == 0 &&
	    (salt = wire_map_get(&up.data, "salt")) != NULL &&
	    (sealed = wire_map_get(&up.data, "sealed")) != NULL &&
	    salt->type == MSGPACK_OBJECT_BIN && salt->via.bin.size == 16 &&
	    sealed->type == MSGPACK_OBJECT_BIN &&
	    sealed->via.bin.size == BACKUPKEY_LEN + BACKUPKEY_OVERHEAD &&
	    n >= 1024 && n <= SCRYPT_N_MAX && (n & (n - 1)) == 0 && rr >= 1 &&
	    rr <= 8 && p >= 1 && p <= 4)
		rc = 0;
	uint8_t kek[32];
	if (rc == 0 && derive(pass, (const uint8_t *)salt->via.bin.ptr, n, rr, p,
			      kek) != 0)
		rc = -EINVAL;
	if (rc == 0 &&
	    backupkey_unseal(kek, key_aad, sizeof(key_aad),
			(const uint8_t *)sealed->via.bin.ptr,
			sealed->via.bin.size, keys) != 0)
		rc = -EACCES;
	OPENSSL_cleanse(kek, sizeof(kek));
	msgpack_unpacked_destroy(&up);
	return rc;
}

static int ecdh_key(EVP_PKEY *mine, EVP_PKEY *peer, uint8_t out[32])
{
	uint8_t secret[66];
	size_t slen = sizeof(secret);
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(mine, NULL);
	int ok = c && EVP_PKEY_derive_init(c) == 1 &&
		 EVP_PKEY_derive_set_peer(c, peer) == 1 &&
		 EVP_PKEY_derive(c, secret, &slen) == 1;
	EVP_PKEY_CTX_free(c);
	if (!ok)
		return -EINVAL;
	/* HKDF-SHA-256 of the shared secret, bound to this purpose. */
	EVP_PKEY_CTX *h = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	size_t olen = 32;
	ok = h && EVP_PKEY_derive_init(h) == 1 &&
	     EVP_PKEY_CTX_set_hkdf_md(h, EVP_sha256()) == 1 &&
	     EVP_PKEY_CTX_set1_hkdf_key(h, secret, (int)slen) == 1 &&
	     EVP_PKEY_CTX_add1_hkdf_info(h, (const unsigned char *)key_aad,
					 (int)sizeof(key_aad)) == 1 &&
	     EVP_PKEY_derive(h, out, &olen) == 1;
	EVP_PKEY_CTX_free(h);
	OPENSSL_cleanse(secret, sizeof(secret));
	return ok ? 0 : -EINVAL;
}

int backupkey_escrow_seal(const uint8_t keys[BACKUPKEY_LEN],
			  EVP_PKEY *recipient, char **out, size_t *out_len)
{
	EVP_PKEY *eph = EVP_EC_gen("P-256");
	uint8_t k[32], sealed[BACKUPKEY_LEN + BACKUPKEY_OVERHEAD];
	unsigned char *der = NULL;
	int der_len = eph ? i2d_PUBKEY(eph, &der) : -1;
	int rc = der_len > 0 ? ecdh_key(eph, recipient, k) : -EINVAL;
	if (rc == 0)
		rc = backupkey_seal(k, key_aad, sizeof(key_aad), keys,
				    BACKUPKEY_LEN, sealed);
	OPENSSL_cleanse(k, sizeof(k));
	if (rc == 0) {
		msgpack_sbuffer sb;
		msgpack_packer pk;
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 3);
		wire_pack_kv_u64(&pk, "v", 1);
		wire_pack_str(&pk, "epk");
		msgpack_pack_bin(&pk, (size_t)der_len);
		msgpack_pack_bin_body(&pk, der, (size_t)der_len);
		wire_pack_str(&pk, "sealed");
		msgpack_pack_bin(&pk, sizeof(sealed));
		msgpack_pack_bin_body(&pk, sealed, sizeof(sealed));
		*out = sb.data;
		*out_len = sb.size;
	}
	OPENSSL_free(der);
	EVP_PKEY_free(eph);
	return rc;
}

int backupkey_escrow_open(const void *escrow, size_t len, EVP_PKEY *ca_key,
			  uint8_t keys[BACKUPKEY_LEN])
{
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	const msgpack_object *epk = NULL, *sealed = NULL;
	int rc = -EBADMSG;
	if (wire_check_msgpack(escrow, len, 4) == 0 &&
	    msgpack_unpack_next(&up, escrow, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
	    up.data.type == MSGPACK_OBJECT_MAP &&
	    (epk = wire_map_get(&up.data, "epk")) != NULL &&
	    (sealed = wire_map_get(&up.data, "sealed")) != NULL &&
	    epk->type == MSGPACK_OBJECT_BIN && sealed->type == MSGPACK_OBJECT_BIN &&
	    sealed->via.bin.size == BACKUPKEY_LEN + BACKUPKEY_OVERHEAD)
		rc = 0;
	EVP_PKEY *peer = NULL;
	const unsigned char *p = rc == 0 ? (const unsigned char *)epk->via.bin.ptr
					 : NULL;
	if (rc == 0 && (peer = d2i_PUBKEY(NULL, &p, epk->via.bin.size)) == NULL)
		rc = -EBADMSG;
	uint8_t k[32];
	if (rc == 0 && ecdh_key(ca_key, peer, k) != 0)
		rc = -EINVAL;
	if (rc == 0 && backupkey_unseal(k, key_aad, sizeof(key_aad),
					(const uint8_t *)sealed->via.bin.ptr,
					sealed->via.bin.size, keys) != 0)
		rc = -EACCES;
	OPENSSL_cleanse(k, sizeof(k));
	EVP_PKEY_free(peer);
	msgpack_unpacked_destroy(&up);
	return rc;
}
