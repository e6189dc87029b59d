#include "tests/support/eventmix.h"

#include <stdio.h>
#include <string.h>

#include "common/event.h"
#include "common/wire.h"

static const char *const mix_kinds[] = {
	"agent.heartbeat", "agent.heartbeat", "agent.heartbeat", "av.status",
	"scan.summary",	   "agent.heartbeat", "scan.match",	 "backup.status",
	"agent.heartbeat", "net.port_scan",   "agent.heartbeat", "agent.inventory",
};

const char *eventmix_kind(uint64_t seq)
{
	return mix_kinds[seq % (sizeof(mix_kinds) / sizeof(mix_kinds[0]))];
}

int eventmix_severity(uint64_t seq)
{
	return strcmp(eventmix_kind(seq), "scan.match") == 0 ? 8 : 1;
}

uint64_t eventmix_timestamp(uint64_t seq)
{
	return 1764380000000000ull + seq * 1000000ull;
}

void eventmix_pack_body(msgpack_packer *pk, uint64_t seq)
{
	const char *kind = eventmix_kind(seq);
	char path[160];
	if (strcmp(kind, "scan.match") == 0) {
		snprintf(path, sizeof(path),
			 "C:\\Users\\hocsinh\\Downloads\\bai-tap-%llu.exe",
			 (unsigned long long)seq);
		msgpack_pack_map(pk, 5);
		wire_pack_kv_str(pk, "rule", "Win_Ransom_Note_Generic");
		wire_pack_kv_str(pk, "path", path);
		wire_pack_kv_u64(pk, "size", 184320 + seq);
		wire_pack_kv_str(pk, "sha256",
				 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b"
				 "822cd15d6c15b0f00a08");
		wire_pack_kv_str(pk, "bundle", "2026.11.28-1");
	} else if (strcmp(kind, "agent.inventory") == 0) {
		msgpack_pack_map(pk, 8);
		wire_pack_kv_str(pk, "hostname", "PC-LAB2-17");
		wire_pack_kv_str(pk, "os", "Windows 10 Pro 22H2");
		wire_pack_kv_str(pk, "kernel", "10.0.19045");
		wire_pack_kv_str(pk, "ips", "10.21.3.17,fe80::1c2b:3a4d");
		wire_pack_kv_str(pk, "macs", "00:1a:2b:3c:4d:5e");
		wire_pack_kv_u64(pk, "ram_mb", 4096);
		wire_pack_kv_u64(pk, "disk_free_mb", 23110);
		wire_pack_kv_u64(pk, "users", 1);
	} else if (strcmp(kind, "av.status") == 0) {
		msgpack_pack_map(pk, 4);
		wire_pack_kv_str(pk, "product", "Windows Defender");
		wire_pack_kv_bool(pk, "rtp", true);
		wire_pack_kv_u64(pk, "sig_age_h", seq % 96);
		wire_pack_kv_str(pk, "mode", "active");
	} else {
		msgpack_pack_map(pk, 2);
		wire_pack_kv_u64(pk, "uptime_s", seq * 60);
		wire_pack_kv_u64(pk, "spool", 0);
	}
}

void eventmix_pack(msgpack_packer *pk, const char *agent, uint64_t boot,
		   uint64_t seq)
{
	msgpack_pack_map(pk, 9);
	wire_pack_kv_u64(pk, "v", EVENT_VERSION);
	wire_pack_kv_str(pk, "agent", agent);
	wire_pack_kv_u64(pk, "boot", boot);
	wire_pack_kv_u64(pk, "seq", seq);
	wire_pack_kv_u64(pk, "ts", eventmix_timestamp(seq));
	wire_pack_kv_str(pk, "kind", eventmix_kind(seq));
	wire_pack_kv_u64(pk, "sev", (uint64_t)eventmix_severity(seq));
	wire_pack_kv_bool(pk, "drill", false);
	wire_pack_str(pk, "body");
	eventmix_pack_body(pk, seq);
}
