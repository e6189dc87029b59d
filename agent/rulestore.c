#include "agent/rulestore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "common/alloc.h"
#include "common/pki.h"

static void paths(const char *state_dir, char *dir, char *current,
		  char *ca, size_t cap)
{
	snprintf(dir, cap, "%s/rules", state_dir);
	snprintf(current, cap, "%s/rules/current.ewb", state_dir);
	snprintf(ca, cap, "%s/ca.crt", state_dir);
}

static int verify(const char *ca_path, const char *file,
		  struct bundle_info *info, char *err, size_t errlen)
{
	X509 *ca = NULL;
	if (pki_read_cert(ca_path, &ca) != 0) {
		snprintf(err, errlen, "%s: cannot read the pinned CA (is this PC "
			 "enrolled?)", ca_path);
		return -ENOENT;
	}
	void *raw = NULL;
	size_t raw_len = 0;
	int rc = bundle_open_file(file, X509_get0_pubkey(ca), info, &raw,
				  &raw_len, err, errlen);
	alloc_free(raw);
	X509_free(ca);
	return rc;
}

int rulestore_current(const char *state_dir, struct rulestore_current *out,
		      char *err, size_t errlen)
{
	char dir[600];
	memset(out, 0, sizeof(*out));
	paths(state_dir, dir, out->path, out->ca, sizeof(out->path));
	if (access(out->path, F_OK) != 0) {
		snprintf(err, errlen, "no rule bundle is installed (%s)",
			 out->path);
		return -ENOENT;
	}
	int rc = verify(out->ca, out->path, &out->info, err, errlen);
	if (rc == 0)
		snprintf(out->version_key, sizeof(out->version_key),
			 "bundle-%llu", (unsigned long long)out->info.version);
	return rc;
}

void rulestore_part_path(const char *state_dir, uint64_t version, char *out,
			 size_t cap)
{
	snprintf(out, cap, "%s/rules/incoming-%llu.part", state_dir,
		 (unsigned long long)version);
}

uint64_t rulestore_part_size(const char *state_dir, uint64_t version)
{
	char part[600];
	struct stat st;
	rulestore_part_path(state_dir, version, part, sizeof(part));
	return stat(part, &st) == 0 ? (uint64_t)st.st_size : 0;
}

int rulestore_part_append(const char *state_dir, uint64_t version,
			  uint64_t offset, const void *data, size_t len)
{
	char dir[600], part[600];
	snprintf(dir, sizeof(dir), "%s/rules", state_dir);
	mkdir(dir, 0700);
	rulestore_part_path(state_dir, version, part, sizeof(part));
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

static int install(const char *state_dir, const char *file, uint64_t expect,
		   struct bundle_info *installed, char *err, size_t errlen)
{
	char dir[600], current[600], ca[600];
	paths(state_dir, dir, current, ca, sizeof(dir));
	struct bundle_info info;
	int rc = verify(ca, file, &info, err, errlen);
	if (rc != 0)
		return rc;
	if (expect && info.version != expect) {
		snprintf(err, errlen, "bundle says version %llu, expected %llu",
			 (unsigned long long)info.version,
			 (unsigned long long)expect);
		return -EBADMSG;
	}
	struct rulestore_current cur;
	char ignore[256];
	if (rulestore_current(state_dir, &cur, ignore, sizeof(ignore)) == 0 &&
	    cur.info.version >= info.version) {
		snprintf(err, errlen,
			 "bundle version %llu is not newer than the installed "
			 "%llu",
			 (unsigned long long)info.version,
			 (unsigned long long)cur.info.version);
		return -EALREADY;
	}
	mkdir(dir, 0700);
	char tmp[640];
	snprintf(tmp, sizeof(tmp), "%s/.install.tmp", dir);
	/* Copy, fsync, rename: a power cut leaves the old bundle or the new,
	 * never half of one. */
	FILE *in = fopen(file, "rbe");
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	char buf[65536];
	size_t n;
	rc = in && out >= 0 ? 0 : -errno;
	while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (write(out, buf, n) != (ssize_t)n)
			rc = -EIO;
	if (rc == 0 && fsync(out) != 0)
		rc = -errno;
	if (in)
		fclose(in);
	if (out >= 0)
		close(out);
	if (rc == 0 && rename(tmp, current) != 0)
		rc = -errno;
	if (rc != 0) {
		unlink(tmp);
		snprintf(err, errlen, "cannot install the bundle: %s",
			 strerror(-rc));
		return rc;
	}
	if (installed)
		*installed = info;
	return 0;
}

int rulestore_install_part(const char *state_dir, uint64_t version,
			   struct bundle_info *installed, char *err,
			   size_t errlen)
{
	char part[600];
	rulestore_part_path(state_dir, version, part, sizeof(part));
	int rc = install(state_dir, part, version, installed, err, errlen);
	unlink(part);
	return rc;
}

int rulestore_install_file(const char *state_dir, const char *file,
			   struct bundle_info *installed, char *err,
			   size_t errlen)
{
	return install(state_dir, file, 0, installed, err, errlen);
}
