#include "common/command.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/errtext.h"
#include "common/pki.h"
#include "common/wire.h"

static const char domain[] = "eduwatch-command-v1";

static int signed_bytes(const struct command *cmd, msgpack_sbuffer *sb)
{
	msgpack_packer pk;
	static const char empty_map = (char)0x80;
	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 7);
	wire_pack_str(&pk, domain);
	msgpack_pack_uint64(&pk, cmd->id);
	wire_pack_str(&pk, cmd->agent);
	wire_pack_str(&pk, cmd->type);
	if (cmd->args && cmd->args_len)
		msgpack_sbuffer_write(sb, cmd->args, cmd->args_len);
	else
		msgpack_sbuffer_write(sb, &empty_map, 1);
	msgpack_pack_int64(&pk, cmd->issued_us);
	msgpack_pack_int64(&pk, cmd->expires_us);
	return sb->data ? 0 : -ENOMEM;
}

int command_build_frame(const struct command *cmd, EVP_PKEY *key,
			msgpack_sbuffer *out)
{
	msgpack_sbuffer tbs;
	unsigned char sig[PKI_SIG_MAX];
	size_t siglen = 0;
	int rc = signed_bytes(cmd, &tbs);
	if (rc != 0)
		return rc;
	rc = pki_sign(key, tbs.data, tbs.size, sig, &siglen);
	msgpack_sbuffer_destroy(&tbs);
	if (rc != 0)
		return rc;
	struct wire_out w;
	static const char empty_map = (char)0x80;
	wire_out_begin(&w, WIRE_COMMAND, 7);
	wire_pack_kv_u64(&w.pk, "id", cmd->id);
	wire_pack_kv_str(&w.pk, "agent", cmd->agent);
	wire_pack_kv_str(&w.pk, "type", cmd->type);
	wire_pack_str(&w.pk, "args");
	if (cmd->args && cmd->args_len)
		msgpack_sbuffer_write(&w.buf, cmd->args, cmd->args_len);
	else
		msgpack_sbuffer_write(&w.buf, &empty_map, 1);
	wire_pack_str(&w.pk, "issued");
	msgpack_pack_int64(&w.pk, cmd->issued_us);
	wire_pack_str(&w.pk, "expires");
	msgpack_pack_int64(&w.pk, cmd->expires_us);
	wire_pack_str(&w.pk, "sig");
	msgpack_pack_bin(&w.pk, siglen);
	msgpack_pack_bin_body(&w.pk, sig, siglen);
	rc = wire_out_finish(&w);
	if (rc != 0) {
		wire_out_release(&w);
		return rc;
	}
	*out = w.buf;
	return 0;
}

static int get_i64(const msgpack_object *map, const char *key, int64_t *out)
{
	const msgpack_object *o = wire_map_get(map, key);
	if (o == NULL)
		return -EBADMSG;
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
		*out = (int64_t)o->via.u64;
	else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		*out = o->via.i64;
	else
		return -EBADMSG;
	return 0;
}

int command_verify(const msgpack_object *frame, EVP_PKEY *pubkey,
		   const struct command_policy *policy, struct command *cmd,
		   char *err, size_t errlen)
{
	memset(cmd, 0, sizeof(*cmd));
	const msgpack_object *args = wire_map_get(frame, "args");
	const msgpack_object *sig = wire_map_get(frame, "sig");
	if (wire_get_u64(frame, "id", &cmd->id) != 0 ||
	    wire_get_str(frame, "agent", cmd->agent, sizeof(cmd->agent)) != 0 ||
	    wire_get_str(frame, "type", cmd->type, sizeof(cmd->type)) != 0 ||
	    get_i64(frame, "issued", &cmd->issued_us) != 0 ||
	    get_i64(frame, "expires", &cmd->expires_us) != 0 || args == NULL ||
	    args->type != MSGPACK_OBJECT_MAP || sig == NULL ||
	    sig->type != MSGPACK_OBJECT_BIN || sig->via.bin.size > 160)
		return errtext_set(-EBADMSG, err, errlen,
			      "command frame lacks id, agent, type, args, "
			      "issued, expires or sig");
	/* Keep the args exactly as signed: re-pack the decoded map. */
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_object(&pk, *args);
	if (sb.data == NULL || sb.size > COMMAND_ARGS_MAX) {
		msgpack_sbuffer_destroy(&sb);
		return errtext_set(-EBADMSG, err, errlen, "command args too large");
	}
	cmd->args = alloc_bytes(sb.size);
	if (cmd->args == NULL) {
		msgpack_sbuffer_destroy(&sb);
		return errtext_set(-ENOMEM, err, errlen, "out of memory");
	}
	memcpy(cmd->args, sb.data, sb.size);
	cmd->args_len = sb.size;
	msgpack_sbuffer_destroy(&sb);

	int rc = 0;
	msgpack_sbuffer tbs;
	if (signed_bytes(cmd, &tbs) != 0) {
		rc = errtext_set(-ENOMEM, err, errlen, "out of memory");
		goto fail;
	}
	bool ok = pki_verify(pubkey, tbs.data, tbs.size,
			     (const unsigned char *)sig->via.bin.ptr,
			     sig->via.bin.size);
	msgpack_sbuffer_destroy(&tbs);
	/* Check the signature first: nothing about an unsigned command is
	 * worth acting on, not even its reason to be refused. */
	if (!ok) {
		rc = errtext_set(-EPERM, err, errlen,
			    "command %llu: bad signature (not from our collector)",
			    (unsigned long long)cmd->id);
		goto fail;
	}
	if (strcmp(cmd->agent, policy->agent_id) != 0) {
		rc = errtext_set(-EPERM, err, errlen,
			    "command %llu is for agent %s, not this one",
			    (unsigned long long)cmd->id, cmd->agent);
		goto fail;
	}
	bool allowed = false;
	for (size_t i = 0; i < policy->allowed_count; i++)
		if (strcmp(cmd->type, policy->allowed_types[i]) == 0)
			allowed = true;
	if (!allowed) {
		rc = errtext_set(-EPERM, err, errlen,
			    "command %llu: type '%s' is not on the allow-list",
			    (unsigned long long)cmd->id, cmd->type);
		goto fail;
	}
	if (cmd->expires_us <= policy->now_us ||
	    cmd->issued_us > policy->now_us + COMMAND_SKEW_US ||
	    cmd->expires_us - cmd->issued_us > COMMAND_MAX_LIFETIME_US) {
		rc = errtext_set(-ETIMEDOUT, err, errlen,
			    "command %llu: expired or issued in the future",
			    (unsigned long long)cmd->id);
		goto fail;
	}
	if (cmd->id <= policy->last_executed_id) {
		rc = errtext_set(-EALREADY, err, errlen,
			    "command %llu: already executed (replay)",
			    (unsigned long long)cmd->id);
		goto fail;
	}
	return 0;
fail:
	command_clear(cmd);
	return rc;
}

void command_clear(struct command *cmd)
{
	alloc_free(cmd->args);
	cmd->args = NULL;
	cmd->args_len = 0;
}
