/* libFuzzer harness: a stream of Ethernet frames through the LAN sensor's
 * detectors, which keep state between frames. Input: frames, each after a
 * 2-byte big-endian length. Thresholds are at their lowest so that every
 * alert path runs, and every alert body must be valid msgpack that renders
 * as JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/net/iocset.h"
#include "agent/net/netdetect.h"
#include "common/alloc.h"
#include "common/event.h"
#include "common/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_alert(void *arg, const char *kind, int sev, const char *body,
		     size_t len)
{
	char *json = NULL;
	(void)arg;
	if (!event_kind_known(kind) || sev < 0 || sev > 10 ||
	    wire_check_msgpack(body, len, 8) != 0 ||
	    event_body_to_json(body, len, &json) != 0)
		abort();
	alloc_free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct iocset *ioc;
	static const char list[] = "evil.example\n203.0.113.66\n2001:db8::66\n";
	char err[64];
	if (ioc == NULL) {
		ioc = iocset_new();
		if (iocset_add_text(ioc, list, sizeof(list) - 1, err, sizeof(err)) != 0)
			abort(); /* fixed, valid input: a harness bug */
	}
	struct netdetect_config cfg;
	netdetect_config_defaults(&cfg);
	cfg.has_gateway = true;
	memcpy(cfg.gateway_ip, (uint8_t[]){192, 0, 2, 1}, 4);
	cfg.n_dhcp_servers = 1;
	memcpy(cfg.dhcp_servers[0], (uint8_t[]){192, 0, 2, 1}, 4);
	cfg.ioc = ioc;
	cfg.scan_ports = 2;
	cfg.arp_flood = 2;
	cfg.mac_ips = 2;
	cfg.poison_names = 1;
	cfg.dedupe_window_s = 1;
	cfg.arp_sweep = 8;
	/* The last byte picks what the sensor knew at start: a gateway MAC
	 * (setting or neighbour table) and this PC's own addresses. */
	if (size > 0 && (data[size - 1] & 1)) {
		cfg.has_gateway_mac = true;
		cfg.gateway_mac_is_setting = data[size - 1] & 2;
		memcpy(cfg.gateway_mac, (uint8_t[]){2, 0, 0, 0, 0, 1}, 6);
	}
	if (size > 0 && (data[size - 1] & 4)) {
		cfg.has_own = true;
		memcpy(cfg.own_mac, (uint8_t[]){2, 0, 0, 0, 0, 0x20}, 6);
		memcpy(cfg.own_ip, (uint8_t[]){192, 0, 2, 20}, 4);
		memcpy(cfg.netmask, (uint8_t[]){255, 255, 255, 0}, 4);
	}
	struct netdetect *nd = netdetect_new(&cfg, on_alert, NULL);
	uint64_t ts = 1;
	size_t off = 0;
	while (off + 2 <= size) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (len > size - off)
			len = size - off;
		ts += 250000u * (len & 7);
		netdetect_packet(nd, data + off, len, ts);
		off += len;
	}
	netdetect_flush(nd, UINT64_MAX);
	netdetect_free(nd);
	return 0;
}
