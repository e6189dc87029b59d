/* libFuzzer harness: an Ethernet frame through every dissector the LAN
 * sensor will use, as the capture loop will call them. */
#include <stddef.h>
#include <stdint.h>

#include "agent/net/netparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_packet pk;
	if (net_parse_frame(data, size, &pk) != 0 || pk.l4 != NET_L4_UDP)
		return 0;
	uint16_t ports[2] = {pk.src_port, pk.dst_port};
	for (int i = 0; i < 2; i++) {
		if (ports[i] == 67 || ports[i] == 68) {
			struct net_dhcp dh;
			EW_IGNORE(net_parse_dhcp(pk.payload, pk.payload_len, &dh));
		} else if (ports[i] == 53 || ports[i] == 5353 ||
			   ports[i] == 5355 || ports[i] == 137) {
			struct net_dns dns;
			if (net_parse_dns(pk.payload, pk.payload_len, &dns) == 0 &&
			    ports[i] == 137)
				EW_IGNORE(net_nbns_decode_name(dns.qname, &(uint8_t){0}));
		}
	}
	return 0;
}
