/* drill_lan: the lan-attack drill's capture, made in memory and fed
 * through the LAN sensor's own detectors (agent/net/netdetect.h).
 *
 * Three attacks on a drill network of its own (10.99.0.0/24, locally
 * administered MACs, so nothing in it can be a school's): ARP poisoning
 * (the attacker claims the gateway's address, whose MAC the drill's
 * settings name), a rogue DHCP offer (a server off the drill's allowlist
 * answering a client), and a SYN scan of 30 ports of the drill's PC.
 * Nothing goes on the wire: the frames exist only in this process's
 * memory, and the detectors are pure logic over them. Each alert the
 * detectors raise goes to the caller's function exactly as the live
 * sensor's would. */
#ifndef EDUWATCH_DRILL_LAN_H
#define EDUWATCH_DRILL_LAN_H

#include "common/check.h"

#include <stdint.h>

#include "agent/net/netdetect.h"

/* The ports the drill's scan touches: over the detector's default
 * threshold (20 distinct ports in 10 s). */
#define DRILL_LAN_SCAN_PORTS 30

/* Replays the drill capture with its packets stamped from start_us on;
 * alert gets each detection (borrowed body). Fills *stats. 0 or
 * -ENOMEM. */
EW_MUST_CHECK
int drill_lan_replay(uint64_t start_us, netdetect_alert_fn alert, void *arg,
		     struct netdetect_stats *stats);

#endif
