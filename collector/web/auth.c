/* auth: roles, passwords, sessions, CSRF, TOTP and login throttling. */
#include "collector/web/auth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "collector/web/web.h"
#include "common/hexstr.h"

/* OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane): about 40 ms
 * here, so a login does not stall the loop for long. */
#define PW_T_COST 2
#define PW_M_COST 19456
#define PW_LANES 1
#define PW_SALT 16
#define PW_HASH 32

static const struct auth_role roles[] = {
	{"province_admin", STORE_SCOPE_PROVINCE,
	 AUTH_READ | AUTH_ALERTS | AUTH_ACT | AUTH_SOC | AUTH_ADMIN |
		 AUTH_AUDIT | AUTH_DRILL,
	 true},
	{"province_officer", STORE_SCOPE_PROVINCE,
	 AUTH_READ | AUTH_ALERTS | AUTH_ACT, false},
	{"commune_officer", STORE_SCOPE_COMMUNE,
	 AUTH_READ | AUTH_ALERTS | AUTH_ACT, false},
	{"school_officer", STORE_SCOPE_SCHOOL,
	 AUTH_READ | AUTH_ALERTS | AUTH_ACT, false},
	{"soc_viewer", STORE_SCOPE_PROVINCE, AUTH_ALERTS | AUTH_SOC, false},
	{"drill_organiser", STORE_SCOPE_PROVINCE,
	 AUTH_READ | AUTH_ALERTS | AUTH_DRILL, false},
	{"auditor", STORE_SCOPE_PROVINCE, AUTH_READ | AUTH_ALERTS | AUTH_AUDIT,
	 false},
};
#define NROLES (sizeof(roles) / sizeof(roles[0]))

const struct auth_role *auth_role_find(const char *name)
{
	for (size_t i = 0; i < NROLES; i++)
		if (strcmp(roles[i].name, name) == 0)
			return &roles[i];
	return NULL;
}

const char *web_role_names(void)
{
	return "province_admin, province_officer, commune_officer, "
	       "school_officer, soc_viewer, drill_organiser, auditor";
}

int web_role_check(const char *role, const char *scope, char *err,
		   size_t errlen)
{
	const struct auth_role *r = auth_role_find(role);
	if (r == NULL) {
		snprintf(err, errlen, "unknown role '%s' (roles: %s)", role,
			 web_role_names());
		return -EINVAL;
	}
	if (r->scope == STORE_SCOPE_PROVINCE && scope[0] != '\0') {
		snprintf(err, errlen, "role %s covers the whole province and "
			 "takes no scope", role);
		return -EINVAL;
	}
	if (r->scope != STORE_SCOPE_PROVINCE && scope[0] == '\0') {
		snprintf(err, errlen, "role %s needs a scope: the %s", role,
			 r->scope == STORE_SCOPE_COMMUNE ? "commune's name"
							 : "school's code");
		return -EINVAL;
	}
	return 0;
}

bool web_role_needs_totp(const char *role)
{
	const struct auth_role *r = auth_role_find(role);
	return r != NULL && r->totp_required;
}

int web_password_hash(const char *password, char *out, size_t cap)
{
	unsigned char salt[PW_SALT];
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return -EIO;
	int rc = argon2id_hash_encoded(PW_T_COST, PW_M_COST, PW_LANES, password,
				       strlen(password), salt, sizeof(salt),
				       PW_HASH, out, cap);
	return rc == ARGON2_OK ? 0 : -EINVAL;
}

bool auth_password_ok(const char *encoded, const char *password)
{
	/* Only our own variant: an "$argon2i$" row planted in the store
	 * would otherwise pick a weaker function. */
	if (strncmp(encoded, "$argon2id$", 10) != 0)
		return false;
	return argon2id_verify(encoded, password, strlen(password)) ==
	       ARGON2_OK;
}

static int random_text(const char *alphabet, size_t n, char *out, size_t cap)
{
	size_t an = strlen(alphabet);
	if (cap < n + 1)
		return -ENOSPC;
	for (size_t i = 0; i < n;) {
		unsigned char b;
		if (RAND_bytes(&b, 1) != 1)
			return -EIO;
		/* No modulo bias: drop bytes past the last full round. */
		if (b >= 256 - 256 % an)
			continue;
		out[i++] = alphabet[b % an];
	}
	out[n] = '\0';
	return 0;
}

int web_password_new(char *out, size_t cap)
{
	/* No 0/O, 1/l/I: read aloud over the phone to a school. */
	return random_text("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
			   "23456789",
			   16, out, cap);
}

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

bool web_user_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > STORE_USER_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-' || c == '@'))
			return false;
	}
	return true;
}

int web_totp_secret_new(char *out, size_t cap)
{
	return random_text(b32, 32, out, cap);
}

int auth_session_new(unsigned char raw[32], char hexid[65],
		     unsigned char hash[32])
{
	if (RAND_bytes(raw, 32) != 1)
		return -EIO;
	hexstr_encode(raw, 32, hexid);
	SHA256(raw, 32, hash);
	return 0;
}

int auth_session_parse(const char *hexid, unsigned char raw[32],
		       unsigned char hash[32])
{
	if (hexstr_decode(hexid, raw, 32) != 0)
		return -EINVAL;
	SHA256(raw, 32, hash);
	return 0;
}

void auth_csrf_token(const unsigned char raw[32], char out[65])
{
	unsigned char mac[32];
	unsigned int n = sizeof(mac);
	HMAC(EVP_sha256(), raw, 32, (const unsigned char *)"csrf", 4, mac, &n);
	hexstr_encode(mac, 32, out);
}

bool auth_csrf_ok(const unsigned char raw[32], const char *presented)
{
	char want[65];
	auth_csrf_token(raw, want);
	return strlen(presented) == 64 &&
	       CRYPTO_memcmp(want, presented, 64) == 0;
}

int auth_api_token_new(char out[70], unsigned char hash[32])
{
	unsigned char raw[32];
	if (RAND_bytes(raw, 32) != 1)
		return -EIO;
	memcpy(out, "ewt_", 4);
	hexstr_encode(raw, 32, out + 4);
	SHA256((const unsigned char *)out, 68, hash);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

int auth_api_token_parse(const char *text, unsigned char hash[32])
{
	unsigned char raw[32];
	if (strncmp(text, "ewt_", 4) != 0 ||
	    hexstr_decode(text + 4, raw, 32) != 0)
		return -EINVAL;
	SHA256((const unsigned char *)text, 68, hash);
	return 0;
}

static int base32_decode(const char *s, unsigned char *out, size_t cap,
			 size_t *n)
{
	unsigned buf = 0;
	int bits = 0;
	*n = 0;
	for (; *s; s++) {
		const char *p = strchr(b32, *s);
		if (p == NULL || *s == '\0')
			return -EINVAL;
		buf = (buf << 5) | (unsigned)(p - b32);
		bits += 5;
		if (bits >= 8) {
			if (*n == cap)
				return -EINVAL;
			out[(*n)++] = (unsigned char)(buf >> (bits - 8));
			bits -= 8;
		}
	}
	return 0;
}

/* RFC 6238 over RFC 4226: HMAC-SHA1 of the 30-second step, dynamic
 * truncation, six digits. */
int auth_totp_code(const char *secret, int64_t t, char code[7])
{
	unsigned char key[64], msg[8], mac[20];
	unsigned int maclen = sizeof(mac);
	size_t klen;
	uint64_t step = (uint64_t)(t / 30);
	if (base32_decode(secret, key, sizeof(key), &klen) != 0 || klen == 0)
		return -EINVAL;
	for (int i = 7; i >= 0; i--) {
		msg[i] = (unsigned char)(step & 0xff);
		step >>= 8;
	}
	HMAC(EVP_sha1(), key, (int)klen, msg, sizeof(msg), mac, &maclen);
	OPENSSL_cleanse(key, sizeof(key));
	int off = mac[19] & 0x0f;
	uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) |
		       ((uint32_t)mac[off + 1] << 16) |
		       ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
	snprintf(code, 7, "%06u", bin % 1000000u);
	return 0;
}

bool auth_totp_ok(const char *secret, const char *code, int64_t now_s)
{
	char want[7];
	bool ok = false;
	if (strlen(code) != 6)
		return false;
	for (int d = -1; d <= 1; d++)
		if (auth_totp_code(secret, now_s + d * 30, want) == 0 &&
		    CRYPTO_memcmp(want, code, 6) == 0)
			ok = true;
	return ok;
}

/* Failed logins per address: a small table, the oldest entry replaced
 * when full, so a flood of addresses costs no memory. */
#define ADDR_SLOTS 256
#define ADDR_WINDOW_S 300
#define ADDR_MAX_FAILS 20

static struct {
	char addr[64];
	int64_t since;
	int fails;
} addrs[ADDR_SLOTS];

static int addr_slot(const char *addr, bool create, int64_t now_s)
{
	int oldest = 0;
	for (int i = 0; i < ADDR_SLOTS; i++) {
		if (strcmp(addrs[i].addr, addr) == 0)
			return i;
		if (addrs[i].since < addrs[oldest].since)
			oldest = i;
	}
	if (!create)
		return -1;
	snprintf(addrs[oldest].addr, sizeof(addrs[oldest].addr), "%s", addr);
	addrs[oldest].since = now_s;
	addrs[oldest].fails = 0;
	return oldest;
}

bool auth_address_blocked(const char *addr, int64_t now_s)
{
	int i = addr_slot(addr, false, now_s);
	if (i < 0 || now_s - addrs[i].since > ADDR_WINDOW_S)
		return false;
	return addrs[i].fails >= ADDR_MAX_FAILS;
}

void auth_address_failed(const char *addr, int64_t now_s)
{
	int i = addr_slot(addr, true, now_s);
	if (now_s - addrs[i].since > ADDR_WINDOW_S) {
		addrs[i].since = now_s;
		addrs[i].fails = 0;
	}
	addrs[i].fails++;
}
