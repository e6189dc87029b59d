#include "common/bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>
#include <openssl/sha.h>
#include <zstd.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/errtext.h"
#include "common/pki.h"
#include "common/wire.h"

#define MAGIC "EWRULES1"
#define MAGIC_LEN 8
#define HEADER_MAX (64u * 1024u)
#define SIG_CONTEXT "eduwatch-bundle-v1"

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* The signed bytes: a fixed context string, then the header. The context
 * keeps a bundle signature from ever being valid as a command's. */
static int sign_input(const void *header, size_t hlen, unsigned char **out,
		      size_t *out_len)
{
	size_t clen = sizeof(SIG_CONTEXT); /* with its NUL */
	unsigned char *buf = alloc_bytes(clen + hlen);
	if (buf == NULL)
		return -ENOMEM;
	memcpy(buf, SIG_CONTEXT, clen);
	memcpy(buf + clen, header, hlen);
	*out = buf;
	*out_len = clen + hlen;
	return 0;
}

int bundle_build(EVP_PKEY *key, const struct bundle_info *info,
		 const void *raw, size_t raw_len, char **out, size_t *out_len)
{
	if (raw_len == 0 || raw_len > BUNDLE_MAX_RAW)
		return -EMSGSIZE;
	size_t cap = ZSTD_compressBound(raw_len);
	char *packed = alloc_bytes(cap);
	if (packed == NULL)
		return -ENOMEM;
	size_t plen = ZSTD_compress(packed, cap, raw, raw_len, 9);
	if (ZSTD_isError(plen)) {
		alloc_free(packed);
		return -EIO;
	}
	unsigned char digest[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)packed, plen, digest);

	msgpack_sbuffer hb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&hb);
	msgpack_packer_init(&pk, &hb, msgpack_sbuffer_write);
	if (info->compiled_len > raw_len) {
		alloc_free(packed);
		return -EINVAL;
	}
	msgpack_pack_map(&pk, info->compiled_len ? 10 : 9);
	wire_pack_kv_str(&pk, "kind", info->kind);
	wire_pack_kv_u64(&pk, "version", info->version);
	wire_pack_kv_u64(&pk, "created", (uint64_t)info->created_us);
	wire_pack_kv_u64(&pk, "rules", info->rules);
	wire_pack_kv_str(&pk, "yara", info->yara);
	wire_pack_kv_str(&pk, "sources", info->sources);
	wire_pack_kv_u64(&pk, "raw_len", raw_len);
	if (info->compiled_len)
		wire_pack_kv_u64(&pk, "compiled_len", info->compiled_len);
	wire_pack_kv_u64(&pk, "payload_len", plen);
	wire_pack_str(&pk, "payload_sha256");
	msgpack_pack_bin(&pk, sizeof(digest));
	msgpack_pack_bin_body(&pk, digest, sizeof(digest));

	int rc = hb.size <= HEADER_MAX ? 0 : -EMSGSIZE;
	unsigned char sig[PKI_SIG_MAX];
	size_t siglen = 0;
	unsigned char *tbs = NULL;
	size_t tbs_len = 0;
	if (rc == 0)
		rc = sign_input(hb.data, hb.size, &tbs, &tbs_len);
	if (rc == 0)
		rc = pki_sign(key, tbs, tbs_len, sig, &siglen);
	alloc_free(tbs);
	char *img = NULL;
	size_t total = MAGIC_LEN + 4 + hb.size + 4 + siglen + plen;
	if (rc == 0 && (img = alloc_bytes(total)) == NULL)
		rc = -ENOMEM;
	if (rc == 0) {
		unsigned char *p = (unsigned char *)img;
		memcpy(p, MAGIC, MAGIC_LEN);
		p += MAGIC_LEN;
		put_u32(p, (uint32_t)hb.size);
		memcpy(p + 4, hb.data, hb.size);
		p += 4 + hb.size;
		put_u32(p, (uint32_t)siglen);
		memcpy(p + 4, sig, siglen);
		p += 4 + siglen;
		memcpy(p, packed, plen);
		*out = img;
		*out_len = total;
	}
	msgpack_sbuffer_destroy(&hb);
	alloc_free(packed);
	return rc;
}

static int read_header(const msgpack_object *map, struct bundle_info *info,
		       uint64_t *payload_len, const unsigned char **digest)
{
	uint64_t created = 0;
	const msgpack_object *d = wire_map_get(map, "payload_sha256");
	memset(info, 0, sizeof(*info));
	if (wire_get_str(map, "kind", info->kind, sizeof(info->kind)) != 0 ||
	    wire_get_u64(map, "version", &info->version) != 0 ||
	    wire_get_u64(map, "created", &created) != 0 ||
	    wire_get_u64(map, "rules", &info->rules) != 0 ||
	    wire_get_u64(map, "raw_len", &info->raw_len) != 0 ||
	    wire_get_u64(map, "payload_len", payload_len) != 0 ||
	    wire_get_str(map, "yara", info->yara, sizeof(info->yara)) != 0 ||
	    wire_get_str(map, "sources", info->sources,
			 sizeof(info->sources)) != 0 ||
	    d == NULL || d->type != MSGPACK_OBJECT_BIN ||
	    d->via.bin.size != SHA256_DIGEST_LENGTH)
		return -EBADMSG;
	info->created_us = (int64_t)created;
	/* Absent: a bundle of the compiled form alone. */
	if (wire_map_get(map, "compiled_len") == NULL)
		info->compiled_len = info->raw_len;
	else if (wire_get_u64(map, "compiled_len", &info->compiled_len) != 0 ||
		 info->compiled_len == 0 || info->compiled_len > info->raw_len)
		return -EBADMSG;
	*digest = (const unsigned char *)d->via.bin.ptr;
	return 0;
}

int bundle_open(const void *data, size_t len, EVP_PKEY *pubkey,
		struct bundle_info *info, void **raw, size_t *raw_len,
		char *err, size_t errlen)
{
	const unsigned char *p = data;
	*raw = NULL;
	*raw_len = 0;
	if (len < MAGIC_LEN + 8 || memcmp(p, MAGIC, MAGIC_LEN) != 0)
		return errtext_set(-EBADMSG, err, errlen, "not a rule bundle");
	size_t off = MAGIC_LEN;
	uint32_t hlen = get_u32(p + off);
	off += 4;
	if (hlen == 0 || hlen > HEADER_MAX || hlen > len - off - 4)
		return errtext_set(-EBADMSG, err, errlen, "bundle header is damaged");
	const unsigned char *header = p + off;
	off += hlen;
	uint32_t siglen = get_u32(p + off);
	off += 4;
	if (siglen == 0 || siglen > PKI_SIG_MAX || siglen > len - off)
		return errtext_set(-EBADMSG, err, errlen, "bundle signature is damaged");
	const unsigned char *sig = p + off;
	off += siglen;

	/* The signature first: nothing in an unsigned header is worth
	 * parsing further. */
	unsigned char *tbs = NULL;
	size_t tbs_len = 0;
	if (sign_input(header, hlen, &tbs, &tbs_len) != 0)
		return errtext_set(-ENOMEM, err, errlen, "out of memory");
	bool ok = pki_verify(pubkey, tbs, tbs_len, sig, siglen);
	alloc_free(tbs);
	if (!ok)
		return errtext_set(-EPERM, err, errlen,
			    "bundle signature does not verify (not from our "
			    "collector)");

	if (wire_check_msgpack((const char *)header, hlen, WIRE_MAX_DEPTH) != 0)
		return errtext_set(-EBADMSG, err, errlen, "bundle header is damaged");
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	uint64_t plen = 0;
	const unsigned char *digest = NULL;
	int rc = -EBADMSG;
	if (msgpack_unpack_next(&up, (const char *)header, hlen, NULL) ==
		    MSGPACK_UNPACK_SUCCESS &&
	    up.data.type == MSGPACK_OBJECT_MAP)
		rc = read_header(&up.data, info, &plen, &digest);
	unsigned char want[SHA256_DIGEST_LENGTH];
	if (rc == 0)
		memcpy(want, digest, sizeof(want));
	msgpack_unpacked_destroy(&up);
	if (rc != 0)
		return errtext_set(rc, err, errlen, "bundle header is incomplete");
	if (plen != len - off)
		return errtext_set(-EBADMSG, err, errlen,
			    "bundle is truncated (%zu of %llu payload bytes)",
			    len - off, (unsigned long long)plen);
	unsigned char got[SHA256_DIGEST_LENGTH];
	SHA256(p + off, plen, got);
	if (memcmp(got, want, sizeof(got)) != 0)
		return errtext_set(-EBADMSG, err, errlen,
			    "bundle payload does not match its signed hash");
	if (info->raw_len == 0 || info->raw_len > BUNDLE_MAX_RAW)
		return errtext_set(-EBADMSG, err, errlen, "bundle size is out of range");
	void *out = alloc_bytes(info->raw_len);
	if (out == NULL)
		return errtext_set(-ENOMEM, err, errlen, "out of memory");
	size_t n = ZSTD_decompress(out, info->raw_len, p + off, plen);
	if (ZSTD_isError(n) || n != info->raw_len) {
		alloc_free(out);
		return errtext_set(-EBADMSG, err, errlen, "bundle payload is damaged");
	}
	*raw = out;
	*raw_len = n;
	return 0;
}

int bundle_open_file(const char *path, EVP_PKEY *pubkey,
		     struct bundle_info *info, void **raw, size_t *raw_len,
		     char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errtext_set(-errno, err, errlen, "%s: %s", path,
				   uv_strerror(-errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > BUNDLE_MAX_FILE) {
		close(fd);
		return errtext_set(-EBADMSG, err, errlen, "%s: not a bundle file", path);
	}
	size_t len = (size_t)st.st_size, done = 0;
	char *buf = alloc_bytes(len);
	if (buf == NULL) {
		close(fd);
		return errtext_set(-ENOMEM, err, errlen, "out of memory");
	}
	while (done < len) {
		ssize_t n = read(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	int rc = done == len ? bundle_open(buf, len, pubkey, info, raw, raw_len,
					   err, errlen)
			     : errtext_set(-EIO, err, errlen, "%s: short read", path);
	alloc_free(buf);
	return rc;
}
