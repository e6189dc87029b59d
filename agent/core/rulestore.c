#include "agent/core/rulestore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <uv.h>

#include "agent/net/iocset.h"
#include "agent/platform/ruleload.h"
#include "common/alloc.h"
#include "common/fsutil.h"
#include "common/pki.h"

const char *rulestore_kind_name(enum rulestore_kind kind)
{
	return kind == RULESTORE_IOC	 ? "ioc"
	       : kind == RULESTORE_AGENT ? "agent"
					 : "rules";
}

static void installed_path(const char *state_dir, enum rulestore_kind kind,
			   char *out, size_t cap)
{
	snprintf(out, cap, "%s/rules/%s", state_dir,
		 kind == RULESTORE_IOC	   ? "ioc.ewb"
		 : kind == RULESTORE_AGENT ? "agent.ewb"
					   : "current.ewb");
}

/* Checks a bundle file against the pinned CA; raw (may be NULL) gets the
 * payload. */
static int verify(const char *state_dir, const char *file,
		  struct bundle_info *info, void **raw, size_t *raw_len,
		  char *err, size_t errlen)
{
	char ca_path[600];
	X509 *ca = NULL;
	snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", state_dir);
	if (pki_read_cert(ca_path, &ca) != 0) {
		snprintf(err, errlen, "%s: cannot read the pinned CA (is this PC "
			 "enrolled?)", ca_path);
		return -ENOENT;
	}
	void *payload = NULL;
	size_t len = 0;
	int rc = bundle_open_file(file, X509_get0_pubkey(ca), info, &payload,
				  &len, err, errlen);
	X509_free(ca);
	if (rc == 0 && raw) {
		*raw = payload;
		*raw_len = len;
	} else {
		alloc_free(payload);
	}
	return rc;
}

int rulestore_current(const char *state_dir, struct rulestore_current *out,
		      char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	installed_path(state_dir, RULESTORE_RULES, out->path, sizeof(out->path));
	snprintf(out->ca, sizeof(out->ca), "%s/ca.crt", state_dir);
	if (access(out->path, F_OK) != 0) {
		snprintf(err, errlen, "no rule bundle is installed (%s)",
			 out->path);
		return -ENOENT;
	}
	int rc = verify(state_dir, out->path, &out->info, NULL, NULL, err,
			errlen);
	if (rc == 0)
		snprintf(out->version_key, sizeof(out->version_key),
			 "bundle-%llu", (unsigned long long)out->info.version);
	return rc;
}

uint64_t rulestore_installed_version(const char *state_dir,
				     enum rulestore_kind kind)
{
	char path[600], err[256];
	struct bundle_info info;
	installed_path(state_dir, kind, path, sizeof(path));
	if (access(path, F_OK) != 0 ||
	    verify(state_dir, path, &info, NULL, NULL, err, sizeof(err)) != 0)
		return 0;
	return info.version;
}

int rulestore_installed_payload(const char *state_dir, enum rulestore_kind kind,
				struct bundle_info *info, void **raw,
				size_t *raw_len, char *err, size_t errlen)
{
	char path[600];
	installed_path(state_dir, kind, path, sizeof(path));
	return verify(state_dir, path, info, raw, raw_len, err, errlen);
}

void rulestore_part_path(const char *state_dir, enum rulestore_kind kind,
			 uint64_t version, char *out, size_t cap)
{
	snprintf(out, cap, "%s/rules/incoming-%s-%llu.part", state_dir,
		 rulestore_kind_name(kind), (unsigned long long)version);
}

uint64_t rulestore_part_size(const char *state_dir, enum rulestore_kind kind,
			     uint64_t version)
{
	char part[600];
	struct stat st;
	rulestore_part_path(state_dir, kind, version, part, sizeof(part));
	return stat(part, &st) == 0 ? (uint64_t)st.st_size : 0;
}

int rulestore_part_append(const char *state_dir, enum rulestore_kind kind,
			  uint64_t version, uint64_t offset, const void *data,
			  size_t len)
{
	char dir[600], part[600];
	snprintf(dir, sizeof(dir), "%s/rules", state_dir);
	mkdir(dir, 0700);
	rulestore_part_path(state_dir, kind, version, part, sizeof(part));
	if (offset + len > BUNDLE_MAX_FILE)
		return -EFBIG;
	int fd = open(part, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = fstat(fd, &st) == 0 ? 0 : -errno;
	if (rc == 0 && (uint64_t)st.st_size != offset)
		rc = -ESPIPE; /* out of step: the caller restarts the piece */
	size_t done = 0;
	while (rc == 0 && done < len) {
		ssize_t n = pwrite(fd, (const char *)data + done, len - done,
				   (off_t)(offset + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		else
			done += (size_t)n;
	}
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	return rc;
}


/* An IOC list is used only if the sensor's own parser takes every line. */
static int install_ioc_list(const char *state_dir, const void *text,
			    size_t len, char *err, size_t errlen)
{
	struct iocset *set = iocset_new();
	char why[200];
	if (set == NULL)
		return -ENOMEM;
	int rc = iocset_add_text(set, text, len, why, sizeof(why));
	iocset_free(set);
	if (rc != 0) {
		snprintf(err, errlen, "the IOC list is refused at line %s", why);
		return -EBADMSG;
	}
	char path[600];
	snprintf(path, sizeof(path), "%s/ioc.txt", state_dir);
	rc = fs_write_atomic(path, text, len, 0600);
	if (rc != 0)
		snprintf(err, errlen, "%s: %s", path, uv_strerror(rc));
	return rc;
}

static int install(const char *state_dir, enum rulestore_kind kind,
		   const char *file, uint64_t expect,
		   struct bundle_info *installed, char *err, size_t errlen)
{
	char dir[600], dst[600];
	struct bundle_info info;
	void *raw = NULL;
	size_t raw_len = 0;
	int rc = verify(state_dir, file, &info, &raw, &raw_len, err, errlen);
	if (rc != 0)
		return rc;
	const char *want = rulestore_kind_name(kind);
	uint64_t have = rulestore_installed_version(state_dir, kind);
	if (strcmp(info.kind, want) != 0) {
		snprintf(err, errlen, "the bundle holds '%s', not '%s'", info.kind,
			 want);
		rc = -EBADMSG;
	} else if (expect && info.version != expect) {
		snprintf(err, errlen, "bundle says version %llu, expected %llu",
			 (unsigned long long)info.version,
			 (unsigned long long)expect);
		rc = -EBADMSG;
	} else if (have >= info.version) {
		snprintf(err, errlen,
			 "bundle version %llu is not newer than the installed "
			 "%llu",
			 (unsigned long long)info.version,
			 (unsigned long long)have);
		rc = -EALREADY;
	}
	if (rc == 0 && kind == RULESTORE_IOC)
		rc = install_ioc_list(state_dir, raw, raw_len, err, errlen);
	/* Rules this PC's libyara cannot use are refused like a damaged
	 * bundle: the installed ones keep working. */
	if (rc == 0 && kind == RULESTORE_RULES)
		rc = ruleload_accept(&info, raw, raw_len, &info.rules, err,
				     errlen);
	alloc_free(raw);
	if (rc != 0)
		return rc;
	snprintf(dir, sizeof(dir), "%s/rules", state_dir);
	mkdir(dir, 0700);
	installed_path(state_dir, kind, dst, sizeof(dst));
	rc = fs_copy_atomic(file, dst, 0600);
	if (rc != 0) {
		snprintf(err, errlen, "cannot install the bundle: %s",
			 uv_strerror(rc));
		return rc;
	}
	if (installed)
		*installed = info;
	return 0;
}

int rulestore_install_part(const char *state_dir, enum rulestore_kind kind,
			   uint64_t version, struct bundle_info *installed,
			   char *err, size_t errlen)
{
	char part[600];
	rulestore_part_path(state_dir, kind, version, part, sizeof(part));
	int rc = install(state_dir, kind, part, version, installed, err, errlen);
	unlink(part);
	return rc;
}

int rulestore_install_file(const char *state_dir, const char *file,
			   struct bundle_info *installed, char *err,
			   size_t errlen)
{
	return install(state_dir, RULESTORE_RULES, file, 0, installed, err,
		       errlen);
}
