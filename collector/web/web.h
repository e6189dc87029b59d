/* web: the officers' console and JSON API, HTTPS on the collector's own
 * loop.
 *
 * h2o (Debian's libh2o, the libuv build) speaks HTTP/1.1 and TLS; this
 * module owns the listener, the TLS context (TLS 1.2 and up), the limits
 * enforced before any handler runs (body and header sizes), the security
 * headers every answer carries, and hands each request to the route table
 * (pages.c). Handlers run one at a time on libuv's threadpool; they read
 * through a read-only connection of their own (store_open_reader), so a
 * page never waits on ingest, and write (sessions, audit, acks) through
 * the store they are given. See docs/WEB.md for how a page is added. */
#ifndef EDUWATCH_WEB_H
#define EDUWATCH_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "collector/store.h"

/* Request bodies above this are refused with 413 by h2o before a handler
 * sees them; header blocks above WEB_MAX_HEADER_BYTES (or with more than
 * WEB_MAX_HEADERS lines) get 431 before routing. */
#define WEB_MAX_BODY (64 * 1024)
#define WEB_MAX_HEADER_BYTES (16 * 1024)
#define WEB_MAX_HEADERS 64
#define WEB_MAX_DESTS 16
#define WEB_MAX_RULE_SETS 16

struct web;
struct ca;

struct web_options {
	const char *listen;    /* address to bind */
	int port;	       /* 0: any free port (written to state_dir/web.port);
				  -1: no listener (tests and fuzzing) */
	const char *cert_file; /* PEM chain; NULL: plain HTTP (tests only) */
	const char *key_file;
	const char *state_dir;	 /* where web.port is written */
	int64_t stale_after_s;	 /* a PC silent this long is stale */
	/* The policies (level1.yaml ..) a PC page scores against; NULL: the
	 * page says its checks cannot be evaluated. */
	const char *policy_dir;
	/* The forwarding destinations' names, for the SOC page (borrowed
	 * for web_start, which copies up to WEB_MAX_DESTS). */
	const char *const *forward_dests;
	size_t nforward_dests;
	/* Report sign-off from the console (reports.c): the CA key that
	 * signs the archived PDF (NULL: sign-off is refused) and the fonts
	 * folder (NULL: REPORT_FONTS_DIR). Files go to state_dir/reports. */
	struct evp_pkey_st *report_key;
	const char *report_fonts_dir;
	/* Publishing rules and IOC lists from the admin page, through the
	 * command line's own path (agentcmd.h): the CA that signs bundles
	 * and commands (borrowed; NULL: publishing is refused) and the YARA
	 * rule sets to compile (web_start copies up to WEB_MAX_RULE_SETS
	 * pointers; the paths themselves are borrowed). */
	struct ca *ca;
	const char *const *rule_sets;
	size_t nrule_sets;
	/* drill.redteam_grace in seconds (0: its default): how long after
	 * the time it claims a red-team action may be recorded. */
	int64_t redteam_grace_s;
};

/* Creates the server on loop over st (borrowed; must outlive the server)
 * and starts listening. Returns 0 or a negative errno with a message. */
int web_start(uv_loop_t *loop, struct store *st,
	      const struct web_options *opts, struct web **out, char *err,
	      size_t errlen);
/* The port it listens on (the one the kernel chose for port 0). */
int web_port(const struct web *w);
/* Serves one connected stream (plain HTTP): the tests' and the fuzz
 * harness's way in. Takes ownership of stream; on_close frees it. */
void web_serve_stream(struct web *w, uv_stream_t *stream,
		      uv_close_cb on_close);
/* Stops accepting; once every connection is gone (or after a grace of two
 * seconds, after which no handler touches the store) calls cb and frees
 * the server. NULL is a no-op that still calls cb. */
void web_stop(struct web *w, void (*cb)(void *arg, int lingering), void *arg);

/* ---- accounts, for the command line (`user add|passwd|role`) --------- */

/* Hashes a password with argon2id (19 MiB, 2 passes, 1 lane, 16-byte
 * salt); out gets the encoded form, which records the parameters, so
 * they can be raised later without breaking old hashes. 0 or -errno. */
int web_password_hash(const char *password, char *out, size_t cap);
/* A new random password of 16 letters and digits, for a first login. */
int web_password_new(char *out, size_t cap);
/* Checks a role name and its scope ("" for the province-wide roles, a
 * commune for commune_officer, a school code for school_officer).
 * 0, or -EINVAL with a message. */
int web_role_check(const char *role, const char *scope, char *err,
		   size_t errlen);
/* True for roles that must log in with a TOTP code. */
bool web_role_needs_totp(const char *role);
/* A new TOTP secret (RFC 6238: 160 bits, base32). */
int web_totp_secret_new(char *out, size_t cap);
/* A user name: 1..STORE_USER_MAX letters, digits and . _ - @. */
bool web_user_name_ok(const char *name);
/* The roles, for --help and messages: "province_admin, ...". */
const char *web_role_names(void);

#endif
