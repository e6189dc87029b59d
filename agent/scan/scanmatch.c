/* scan_pack_match_head (scan.h): a match's head, the same from the Linux
 * scan engine and the Windows one. */
#include "agent/scan/scan.h"

#include "common/wire.h"

void scan_pack_match_head(msgpack_packer *pk, const struct scan_file *f)
{
	const msgpack_object *ms = f->matches;
	uint32_t n = ms && ms->type == MSGPACK_OBJECT_ARRAY ? ms->via.array.size
							   : 0;
	wire_pack_kv_str(pk, "path", f->path);
	wire_pack_kv_u64(pk, "size", f->size);
	wire_pack_kv_str(pk, "sha256", f->sha256 ? f->sha256 : "");
	wire_pack_str(pk, "rules");
	msgpack_pack_array(pk, n);
	for (uint32_t i = 0; i < n; i++) {
		const char *rule = "?";
		size_t len = 1;
		const msgpack_object *m = &ms->via.array.ptr[i];
		if (m->type != MSGPACK_OBJECT_MAP ||
		    wire_get_strview(m, "rule", &rule, &len) != 0) {
			rule = "?";
			len = 1;
		}
		wire_pack_strn(pk, rule, len);
	}
}
