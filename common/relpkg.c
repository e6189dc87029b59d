/* relpkg: an agent release's files as one signed payload (relpkg.h). */
#include "common/relpkg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>
#include <openssl/sha.h>

#include "common/alloc.h"
#include "common/bundle.h"
#include "common/errtext.h"
#include "common/fsutil.h"
#include "common/pki.h"
#include "common/wire.h"

bool relpkg_version_ok(const char *v)
{
	size_t n = strlen(v), digits = 0;
	if (n == 0 || n > RELPKG_VERSION_MAX)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (v[i] >= '0' && v[i] <= '9') {
			/* No leading zero: "1.02" and "1.2" would be two
			 * folders of one version. */
			if (digits == 1 && v[i - 1] == '0')
				return false;
			if (++digits > RELPKG_VERSION_PART_DIGITS)
				return false;
		} else if ((v[i] == '.' || v[i] == '\0') && digits > 0) {
			digits = 0;
		} else {
			return false;
		}
	}
	return true;
}

bool relpkg_dir_version(const char *dir, char out[RELPKG_VERSION_MAX + 1])
{
	size_t end = strlen(dir);
	out[0] = '\0';
	while (end > 1 && dir[end - 1] == '/')
		end--;
	size_t start = end;
	while (start > 0 && dir[start - 1] != '/')
		start--;
	size_t n = end - start;
	if (n <= 6 || n - 6 > RELPKG_VERSION_MAX ||
	    strncmp(dir + start, "agent-", 6) != 0)
		return false;
	memcpy(out, dir + start + 6, n - 6);
	out[n - 6] = '\0';
	if (!relpkg_version_ok(out)) {
		out[0] = '\0';
		return false;
	}
	return true;
}

/* A name the agent may create inside its release directory as root. */
static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || n > RELPKG_NAME_MAX || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

#ifndef _WIN32
/* Packing runs on the collector only. */
static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int relpkg_pack_dir(const char *dir, const char *release, bool rollback,
		    char **out, size_t *out_len, char *err, size_t errlen)
{
	struct dirent **names = NULL;
	char path[4096];
	struct stat st;
	int rc = 0;
	*out = NULL;
	if (!relpkg_version_ok(release))
		return errtext_set(-EINVAL, err, errlen, "'%s' is not a release "
				   "version of digits and dots", release);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errtext_set(-errno, err, errlen, "%s: %s", dir,
				   strerror_r(errno, path, sizeof(path)));
	int n = scandirat(dfd, ".", &names, NULL, by_name);
	if (n < 0) {
		rc = errtext_set(-errno, err, errlen, "%s: %s", dir,
				 strerror_r(errno, path, sizeof(path)));
		close(dfd);
		return rc;
	}
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	size_t files = 0;
	for (int i = 0; i < n; i++)
		if (names[i]->d_name[0] != '.')
			files++;
	if (files == 0 || files > RELPKG_FILES)
		rc = errtext_set(-EINVAL, err, errlen, "%s holds %zu files; a "
				 "release holds 1 to %d", dir, files,
				 RELPKG_FILES);
	if (rc == 0) {
		msgpack_pack_map(&pk, 3);
		wire_pack_kv_str(&pk, "release", release);
		wire_pack_kv_bool(&pk, "rollback", rollback);
		wire_pack_str(&pk, "files");
		msgpack_pack_array(&pk, files);
	}
	for (int i = 0; rc == 0 && i < n; i++) {
		const char *name = names[i]->d_name;
		char *data = NULL;
		size_t len = 0;
		if (name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		/* Opened under the folder's fd without following a link, and
		 * checked as opened: a file swapped for a link to the CA's
		 * key between a check and a read is never signed. */
		int fd = -1;
		if (!name_ok(name, strlen(name))) {
			rc = errtext_set(-EINVAL, err, errlen, "%s: a release "
					 "file name is letters, digits, '.', "
					 "'_' and '-'", path);
		} else if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW |
						   O_NONBLOCK | O_CLOEXEC)) < 0 ||
			   fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			rc = errtext_set(-EINVAL, err, errlen, "%s is not a "
					 "regular file; a release holds only "
					 "files", path);
		} else if ((rc = fs_read_fd(fd, BUNDLE_MAX_RAW, &data,
					    &len)) != 0) {
			errtext_set(rc, err, errlen, "cannot read %s", path);
		} else {
			msgpack_pack_array(&pk, 3);
			wire_pack_str(&pk, name);
			if (st.st_mode & 0111)
				msgpack_pack_true(&pk);
			else
				msgpack_pack_false(&pk);
			msgpack_pack_bin(&pk, len);
			msgpack_pack_bin_body(&pk, data, len);
			alloc_free(data);
		}
		if (fd >= 0)
			close(fd);
	}
	close(dfd);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (rc == 0 && sb.size > BUNDLE_MAX_RAW)
		rc = errtext_set(-EMSGSIZE, err, errlen, "%s is larger than a "
				 "bundle may be", dir);
	if (rc == 0) {
		*out = alloc_bytes(sb.size);
		if (*out == NULL)
			rc = errtext_set(-ENOMEM, err, errlen, "out of memory");
		else {
			memcpy(*out, sb.data, sb.size);
			*out_len = sb.size;
		}
	}
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

#endif

static int parse_file(const msgpack_object *o, struct relpkg *pkg, char *err,
		      size_t errlen)
{
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 3)
		return errtext_set(-EBADMSG, err, errlen, "release file %zu is "
				   "not [name, exec, data]", pkg->nfiles);
	const msgpack_object *name = &o->via.array.ptr[0];
	const msgpack_object *exec = &o->via.array.ptr[1];
	const msgpack_object *data = &o->via.array.ptr[2];
	if (name->type != MSGPACK_OBJECT_STR ||
	    !name_ok(name->via.str.ptr, name->via.str.size))
		return errtext_set(-EBADMSG, err, errlen, "release file %zu has "
				   "no plain file name", pkg->nfiles);
	if (exec->type != MSGPACK_OBJECT_BOOLEAN ||
	    data->type != MSGPACK_OBJECT_BIN)
		return errtext_set(-EBADMSG, err, errlen, "release file %zu is "
				   "damaged", pkg->nfiles);
	struct relpkg_file *f = &pkg->files[pkg->nfiles];
	memcpy(f->name, name->via.str.ptr, name->via.str.size);
	f->name[name->via.str.size] = '\0';
	for (size_t i = 0; i < pkg->nfiles; i++)
		if (strcmp(pkg->files[i].name, f->name) == 0)
			return errtext_set(-EBADMSG, err, errlen, "release file "
					   "%s is named twice", f->name);
	f->exec = exec->via.boolean;
	f->data = data->via.bin.ptr;
	f->len = data->via.bin.size;
	pkg->nfiles++;
	return 0;
}

int relpkg_parse(const void *data, size_t len, struct relpkg *pkg, char *err,
		 size_t errlen)
{
	memset(pkg, 0, sizeof(*pkg));
	if (wire_check_msgpack(data, len, WIRE_MAX_DEPTH) != 0)
		return errtext_set(-EBADMSG, err, errlen, "the release payload "
				   "is not msgpack");
	msgpack_unpacked *up = alloc_zeroed(1, sizeof(*up));
	if (up == NULL)
		return errtext_set(-ENOMEM, err, errlen, "out of memory");
	msgpack_unpacked_init(up);
	pkg->priv = up;
	size_t off = 0;
	if (msgpack_unpack_next(up, data, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != len || up->data.type != MSGPACK_OBJECT_MAP) {
		relpkg_clear(pkg);
		return errtext_set(-EBADMSG, err, errlen, "the release payload "
				   "is not one map");
	}
	const msgpack_object *files = wire_map_get(&up->data, "files");
	int rc = 0;
	if (wire_get_str(&up->data, "release", pkg->release,
			 sizeof(pkg->release)) != 0 ||
	    !relpkg_version_ok(pkg->release))
		rc = errtext_set(-EBADMSG, err, errlen, "the release names no "
				 "version of digits and dots");
	else if (wire_get_bool(&up->data, "rollback", &pkg->rollback) != 0)
		rc = errtext_set(-EBADMSG, err, errlen, "the release does not "
				 "say whether it is a rollback");
	else if (files == NULL || files->type != MSGPACK_OBJECT_ARRAY ||
		 files->via.array.size == 0 ||
		 files->via.array.size > RELPKG_FILES)
		rc = errtext_set(-EBADMSG, err, errlen, "the release holds no "
				 "list of 1 to %d files", RELPKG_FILES);
	for (uint32_t i = 0; rc == 0 && i < files->via.array.size; i++)
		rc = parse_file(&files->via.array.ptr[i], pkg, err, errlen);
	if (rc != 0)
		relpkg_clear(pkg);
	return rc;
}

void relpkg_clear(struct relpkg *pkg)
{
	if (pkg->priv) {
		msgpack_unpacked_destroy(pkg->priv);
		alloc_free(pkg->priv);
	}
	memset(pkg, 0, sizeof(*pkg));
}

#define SIGNED_MAGIC_LEN (sizeof(RELPKG_SIGNED_MAGIC) - 1)
#define SIGN_CONTEXT "eduwatch-release-v1"

/* The signed bytes: a context of its own, so that a release signature is
 * never valid as a bundle's or a command's, then the payload's hash. */
static void sign_input(const void *payload, size_t len,
		       unsigned char out[sizeof(SIGN_CONTEXT) + 32])
{
	memcpy(out, SIGN_CONTEXT, sizeof(SIGN_CONTEXT));
	SHA256(payload, len, out + sizeof(SIGN_CONTEXT));
}

int relpkg_sign(EVP_PKEY *key, const void *payload, size_t len, char **out,
		size_t *out_len)
{
	unsigned char tbs[sizeof(SIGN_CONTEXT) + 32], sig[PKI_SIG_MAX];
	size_t siglen = 0;
	*out = NULL;
	if (len == 0 || len > BUNDLE_MAX_RAW - SIGNED_MAGIC_LEN - 4 - PKI_SIG_MAX)
		return -EMSGSIZE;
	sign_input(payload, len, tbs);
	int rc = pki_sign(key, tbs, sizeof(tbs), sig, &siglen);
	if (rc != 0)
		return rc;
	size_t total = SIGNED_MAGIC_LEN + 4 + siglen + len;
	unsigned char *p = alloc_bytes(total);
	if (p == NULL)
		return -ENOMEM;
	memcpy(p, RELPKG_SIGNED_MAGIC, SIGNED_MAGIC_LEN);
	p[8] = (unsigned char)(siglen >> 24);
	p[9] = (unsigned char)(siglen >> 16);
	p[10] = (unsigned char)(siglen >> 8);
	p[11] = (unsigned char)siglen;
	memcpy(p + 12, sig, siglen);
	memcpy(p + 12 + siglen, payload, len);
	*out = (char *)p;
	*out_len = total;
	return 0;
}

int relpkg_unwrap(const void *data, size_t len, EVP_PKEY *pin,
		  const void **payload, size_t *payload_len, bool *is_signed,
		  char *err, size_t errlen)
{
	const unsigned char *p = data;
	*payload = NULL;
	*payload_len = 0;
	*is_signed = len >= SIGNED_MAGIC_LEN &&
		     memcmp(p, RELPKG_SIGNED_MAGIC, SIGNED_MAGIC_LEN) == 0;
	if (!*is_signed) {
		if (pin != NULL)
			return errtext_set(-EPERM, err, errlen, "the release "
					   "is not signed by the release key "
					   "(a bundle signed only by the "
					   "collector is refused)");
		*payload = data;
		*payload_len = len;
		return 0;
	}
	if (len < SIGNED_MAGIC_LEN + 4)
		return errtext_set(-EBADMSG, err, errlen, "the signed release "
				   "is cut short");
	size_t siglen = (size_t)p[8] << 24 | (size_t)p[9] << 16 |
			(size_t)p[10] << 8 | p[11];
	if (siglen == 0 || siglen > PKI_SIG_MAX ||
	    siglen >= len - SIGNED_MAGIC_LEN - 4)
		return errtext_set(-EBADMSG, err, errlen, "the release "
				   "signature is damaged");
	const unsigned char *body = p + SIGNED_MAGIC_LEN + 4 + siglen;
	size_t body_len = len - SIGNED_MAGIC_LEN - 4 - siglen;
	if (pin != NULL) {
		unsigned char tbs[sizeof(SIGN_CONTEXT) + 32];
		sign_input(body, body_len, tbs);
		if (!pki_verify(pin, tbs, sizeof(tbs), p + SIGNED_MAGIC_LEN + 4,
				siglen))
			return errtext_set(-EPERM, err, errlen, "the release "
					   "signature does not verify against "
					   "the pinned release key");
	}
	*payload = body;
	*payload_len = body_len;
	return 0;
}
