/* Unit tests for agent/drill/drill_lan: the lan-attack drill's capture,
 * made in memory, must set off each of the three detectors it stands
 * for (ARP poisoning, rogue DHCP, a port scan) through the sensor's real
 * netdetect, with no malformed frame and no other detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "agent/drill/drill_lan.h"
#include "common/wire.h"

struct seen {
	int arp_spoof, rogue_dhcp, port_scan, other;
	char dhcp_reason[64];
	uint64_t scan_ports;
};

static void on_alert(void *arg, const char *kind, int sev, const char *body,
		     size_t len)
{
	struct seen *s = arg;
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, body, len, NULL),
			 MSGPACK_UNPACK_SUCCESS);
	assert_true(sev >= 1 && sev <= 10);
	if (strcmp(kind, "net.arp_spoof") == 0) {
		s->arp_spoof++;
	} else if (strcmp(kind, "net.rogue_dhcp") == 0) {
		s->rogue_dhcp++;
		assert_int_equal(wire_get_str(&up.data, "reason", s->dhcp_reason,
					      sizeof(s->dhcp_reason)), 0);
	} else if (strcmp(kind, "net.port_scan") == 0) {
		s->port_scan++;
		assert_int_equal(wire_get_u64(&up.data, "distinct_ports",
					      &s->scan_ports), 0);
	} else {
		s->other++;
	}
	msgpack_unpacked_destroy(&up);
}

static void test_each_attack_detected_once(void **state)
{
	(void)state;
	struct seen s = {0};
	struct netdetect_stats st;
	assert_int_equal(drill_lan_replay(1796169600000000ULL, on_alert, &s,
					  &st), 0);
	assert_int_equal(s.arp_spoof, 1);
	assert_int_equal(s.rogue_dhcp, 1);
	assert_string_equal(s.dhcp_reason, "not_in_allowlist");
	assert_int_equal(s.port_scan, 1);
	assert_int_equal(s.scan_ports, DRILL_LAN_SCAN_PORTS);
	assert_int_equal(s.other, 0);
	assert_int_equal(st.malformed, 0);
	assert_int_equal(st.packets, 2 + 5 + DRILL_LAN_SCAN_PORTS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_attack_detected_once),
	};
	return cmocka_run_group_tests_name("drill_lan", tests, NULL, NULL);
}
