/* auth: who is asking, inside collector/web/. Roles and what each may do,
 * password checks (argon2id), sessions (a 256-bit random id in the
 * cookie, its SHA-256 in the store), CSRF tokens bound to the session,
 * TOTP codes (RFC 6238) and a per-address limit on failed logins. */
#ifndef EDUWATCH_WEB_AUTH_H
#define EDUWATCH_WEB_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/store.h"

/* What a role may do; pages and API calls name the one they need. */
enum {
	AUTH_READ = 1u << 0,	   /* schools, PCs, scores */
	AUTH_ALERTS = 1u << 1,	   /* read alerts */
	AUTH_ACT = 1u << 2,	   /* ack and resolve alerts */
	AUTH_SOC = 1u << 3,	   /* the SOC feed's state */
	AUTH_ADMIN = 1u << 4,	   /* users, tokens, schools */
	AUTH_AUDIT = 1u << 5,	   /* the audit log */
	AUTH_DRILL = 1u << 6,	   /* drills */
};

struct auth_role {
	const char *name;
	enum store_scope_kind scope;
	unsigned perms;
	bool totp_required;
};

const struct auth_role *auth_role_find(const char *name);

/* The officer behind a request. */
struct auth_user {
	struct store_user u;
	const struct auth_role *role;
	struct store_scope scope;
	unsigned char session_hash[32];
	unsigned char session_raw[32];
	bool by_token; /* an API token: no cookie, no CSRF */
};

/* Verifies password against an encoded argon2id hash. */
bool auth_password_ok(const char *encoded, const char *password);

/* A new session id: raw bytes, their hex for the cookie, their hash. */
int auth_session_new(unsigned char raw[32], char hex[65],
		     unsigned char hash[32]);
/* The cookie's hex back to raw bytes and hash; -EINVAL when malformed. */
int auth_session_parse(const char *hex, unsigned char raw[32],
		       unsigned char hash[32]);
/* The CSRF token of a session: HMAC-SHA256(session id, "csrf"), hex. */
void auth_csrf_token(const unsigned char raw[32], char out[65]);
/* Failed logins in a row that lock an account until an admin clears it
 * (a wrong password on the TOTP enrolment form counts as one). */
#define AUTH_MAX_FAILED 5

/* Constant-time comparison of a presented token with the expected one. */
bool auth_csrf_ok(const unsigned char raw[32], const char *presented);

/* An API token "ewt_" + 64 hex, and its hash. */
int auth_api_token_new(char out[70], unsigned char hash[32]);
int auth_api_token_parse(const char *text, unsigned char hash[32]);

/* TOTP: the 6-digit code of secret (base32) at unix time t. */
int auth_totp_code(const char *secret, int64_t t, char code[7]);
/* code matches at now, or one 30-second step either side. */
bool auth_totp_ok(const char *secret, const char *code, int64_t now_s);

/* Failed logins per client address: true when addr has failed too often
 * in the last window and must wait. */
bool auth_address_blocked(const char *addr, int64_t now_s);
void auth_address_failed(const char *addr, int64_t now_s);

#endif
