/* eventmix: the synthetic event stream of the load generator and the
 * SQLite ceiling benchmark, so both insert exactly the same rows. The mix
 * follows a school PC's day: mostly heartbeats, some AV and scan status,
 * now and then a YARA match, an inventory or a LAN detection. */
#ifndef EDUWATCH_EVENTMIX_H
#define EDUWATCH_EVENTMIX_H

#include <stdint.h>

#include <msgpack.h>

/* The kind and severity of event number seq. */
const char *eventmix_kind(uint64_t seq);
int eventmix_severity(uint64_t seq);
uint64_t eventmix_timestamp(uint64_t seq);

/* Packs the body map of event seq. */
void eventmix_pack_body(msgpack_packer *pk, uint64_t seq);

/* Packs the whole event map (v, agent, boot, seq, ts, kind, sev, drill,
 * body). */
void eventmix_pack(msgpack_packer *pk, const char *agent, uint64_t boot,
		   uint64_t seq);

#endif
