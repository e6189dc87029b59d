/* Unit tests for agent/netparse with packets built byte by byte. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/net/netparse.h"

struct buf {
	uint8_t b[1600];
	size_t n;
};

static void put(struct buf *p, const void *src, size_t n)
{
	memcpy(p->b + p->n, src, n);
	p->n += n;
}

static void put8(struct buf *p, uint8_t v) { put(p, &v, 1); }
static void put16(struct buf *p, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	put(p, b, 2);
}
static void put32(struct buf *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p, (uint16_t)v);
}

static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0x0a};
static const uint8_t mac_b[6] = {0x02, 0, 0, 0, 0, 0x0b};
static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static void ether(struct buf *p, const uint8_t *dst, uint16_t vlan,
		  uint16_t type)
{
	p->n = 0;
	put(p, dst, 6);
	put(p, mac_a, 6);
	if (vlan) {
		put16(p, 0x8100);
		put16(p, vlan);
	}
	put16(p, type);
}

/* An IPv4 + UDP header; the caller appends `payload` bytes after. */
static void ipv4_udp(struct buf *p, uint16_t sport, uint16_t dport,
		     size_t payload)
{
	put8(p, 0x45);
	put8(p, 0);
	put16(p, (uint16_t)(20 + 8 + payload));
	put32(p, 0);
	put8(p, 64);
	put8(p, 17);
	put16(p, 0);
	put32(p, 0xc0000201); /* 192.0.2.1 */
	put32(p, 0xc00002ff);
	put16(p, sport);
	put16(p, dport);
	put16(p, (uint16_t)(8 + payload));
	put16(p, 0);
}

static void test_arp_with_vlan(void **state)
{
	(void)state;
	struct buf p;
	struct net_packet pk;
	ether(&p, bcast, 10, 0x0806);
	put16(&p, 1);
	put16(&p, 0x0800);
	put8(&p, 6);
	put8(&p, 4);
	put16(&p, 2);
	put(&p, mac_b, 6);
	put32(&p, 0xc0000201);
	put(&p, mac_a, 6);
	put32(&p, 0xc0000202);
	assert_int_equal(net_parse_frame(p.b, p.n, &pk), 0);
	assert_int_equal(pk.vlan, 10);
	assert_int_equal(pk.l3, NET_L3_ARP);
	assert_int_equal(pk.arp.op, 2);
	assert_memory_equal(pk.arp.sender_mac, mac_b, 6);
	char ip[64];
	net_format_ip(4, pk.arp.sender_ip, ip, sizeof(ip));
	assert_string_equal(ip, "192.0.2.1");
	/* Every truncation is an error, never a read past the end. */
	for (size_t n = 0; n < p.n; n++)
		assert_int_equal(net_parse_frame(p.b, n, &pk), -EBADMSG);
}

static void dhcp_offer(struct buf *d)
{
	d->n = 0;
	put8(d, 2);
	put8(d, 1);
	put8(d, 6);
	put8(d, 0);
	put32(d, 0xdeadbeef);
	put32(d, 0);
	put32(d, 0);
	put32(d, 0xc0000264); /* yiaddr 192.0.2.100 */
	put32(d, 0);
	put32(d, 0);
	put(d, mac_b, 6);
	static const uint8_t zero[202];
	put(d, zero, 10 + 192);
	put32(d, 0x63825363);
	uint8_t opts[] = {53, 1, 2, 54, 4, 192, 0, 2, 66, 3, 4, 192, 0, 2, 66,
			  6, 8, 8, 8, 8, 8, 1, 1, 1, 1, 0, 255};
	put(d, opts, sizeof(opts));
}

static void test_dhcp_offer_in_frame(void **state)
{
	(void)state;
	struct buf p, d;
	struct net_packet pk;
	struct net_dhcp dh;
	dhcp_offer(&d);
	ether(&p, bcast, 0, 0x0800);
	ipv4_udp(&p, 67, 68, d.n);
	put(&p, d.b, d.n);
	put(&p, "\0\0\0\0", 4); /* Ethernet padding after the IP packet */
	assert_int_equal(net_parse_frame(p.b, p.n, &pk), 0);
	assert_int_equal(pk.l4, NET_L4_UDP);
	assert_int_equal(pk.src_port, 67);
	assert_int_equal(pk.payload_len, d.n);
	assert_int_equal(net_parse_dhcp(pk.payload, pk.payload_len, &dh), 0);
	assert_int_equal(dh.message_type, 2);
	assert_int_equal(dh.xid, 0xdeadbeef);
	assert_true(dh.has_server_id);
	assert_int_equal(dh.server_id[3], 66);
	assert_true(dh.has_dns);
	assert_int_equal(dh.dns[0], 8);
	assert_memory_equal(dh.client_mac, mac_b, 6);
	/* The DNS option (6) claims 200 bytes, past the end: it is not
	 * read, and what came before it still is. */
	d.b[d.n - 11] = 200;
	assert_int_equal(net_parse_dhcp(d.b, d.n, &dh), 0);
	assert_false(dh.has_dns);
	assert_true(dh.has_server_id);
	/* Cut before the magic cookie: not DHCP. */
	assert_int_equal(net_parse_dhcp(d.b, 236, &dh), -EBADMSG);
}

static void dns_response(struct buf *d, bool loop)
{
	d->n = 0;
	put16(d, 0x1234);
	put16(d, 0x8180);
	put16(d, 1);
	put16(d, 1);
	put32(d, 0);
	/* question: Evil.Example. A IN */
	uint8_t q[] = {4, 'E', 'v', 'i', 'l', 7, 'E', 'x', 'a', 'm', 'p', 'l',
		       'e', 0};
	put(d, q, sizeof(q));
	put16(d, 1);
	put16(d, 1);
	/* answer: a pointer to the question name (offset 12), or to itself */
	put16(d, loop ? (uint16_t)(0xc000 | d->n) : 0xc00c);
	put16(d, 1);
	put16(d, 1);
	put32(d, 60);
	put16(d, 4);
	put32(d, 0xcb007101); /* 203.0.113.1 */
}

static void test_dns_compression_and_loops(void **state)
{
	(void)state;
	struct buf d;
	struct net_dns dns;
	dns_response(&d, false);
	assert_int_equal(net_parse_dns(d.b, d.n, &dns), 0);
	assert_true(dns.response);
	assert_string_equal(dns.qname, "evil.example");
	assert_int_equal(dns.qtype, 1);
	assert_int_equal(dns.nanswers, 1);
	assert_int_equal(dns.answers[0].family, 4);
	assert_int_equal(dns.answers[0].addr[0], 203);
	dns_response(&d, true);
	assert_int_equal(net_parse_dns(d.b, d.n, &dns), -EBADMSG);
	for (size_t n = 0; n < d.n; n++)
		assert_int_not_equal(net_parse_dns(d.b, n, &dns), 0);
}

/* First-level encodes 15 name bytes (padded with pad) and a suffix, as
 * read_name leaves them: lower-case letters a-p. */
static void nbns_encode(char out[33], const char *name, size_t len, char pad,
			uint8_t suffix)
{
	uint8_t raw[16];
	memset(raw, (uint8_t)pad, 15);
	memcpy(raw, name, len);
	raw[15] = suffix;
	for (int i = 0; i < 16; i++) {
		out[2 * i] = (char)('a' + (raw[i] >> 4));
		out[2 * i + 1] = (char)('a' + (raw[i] & 15));
	}
	out[32] = '\0';
}

static void test_nbns_name(void **state)
{
	(void)state;
	uint8_t suffix = 0xff;
	/* "WPAD" padded to 15 with spaces, suffix 0x00, first-level
	 * encoded and lower-cased as read_name leaves it. */
	char name[256] = "fhfaebeecacacacacacacacacacacaaa";
	assert_int_equal(net_nbns_decode_name(name, &suffix), 0);
	assert_string_equal(name, "WPAD<00>");
	assert_int_equal(suffix, 0);
	/* What a Windows LAN answers every day, as an officer should read
	 * it: the master browser, the browsers' name, a node status. */
	nbns_encode(name, "WORKGROUP", 9, ' ', 0x1d);
	assert_int_equal(net_nbns_decode_name(name, &suffix), 0);
	assert_string_equal(name, "WORKGROUP<1d>");
	assert_int_equal(suffix, 0x1d);
	nbns_encode(name, "\x01\x02__MSBROWSE__\x02", 15, ' ', 0x01);
	assert_int_equal(net_nbns_decode_name(name, &suffix), 0);
	assert_string_equal(name, "__MSBROWSE__<01>");
	nbns_encode(name, "*", 1, '\0', 0x00);
	assert_int_equal(net_nbns_decode_name(name, &suffix), 0);
	assert_string_equal(name, "*<00>");
	/* Other bytes are shown, never passed through raw. */
	nbns_encode(name, "PC\x07<\\", 5, ' ', 0x20);
	assert_int_equal(net_nbns_decode_name(name, &suffix), 0);
	assert_string_equal(name, "PC\\x07\\x3c\\x5c<20>");
	char bad[64] = "not-an-nbns-name";
	assert_int_equal(net_nbns_decode_name(bad, &suffix), -EBADMSG);
}

static void test_ipv6_llmnr_and_tcp_syn(void **state)
{
	(void)state;
	struct buf p;
	struct net_packet pk;
	ether(&p, mac_b, 0, 0x86dd);
	put32(&p, 0x60000000);
	put16(&p, 8 + 4);
	put8(&p, 17);
	put8(&p, 255);
	uint8_t src[16] = {0xfe, 0x80, [15] = 1}, dst[16] = {0xff, 0x02, [15] = 3};
	put(&p, src, 16);
	put(&p, dst, 16);
	put16(&p, 5355);
	put16(&p, 5355);
	put16(&p, 12);
	put16(&p, 0);
	put32(&p, 0xabcdef01);
	assert_int_equal(net_parse_frame(p.b, p.n, &pk), 0);
	assert_int_equal(pk.family, 6);
	assert_int_equal(pk.dst_port, 5355);
	assert_int_equal(pk.payload_len, 4);
	char ip[64];
	net_format_ip(6, pk.src_ip, ip, sizeof(ip));
	assert_string_equal(ip, "fe80::1");

	ether(&p, mac_b, 0, 0x0800);
	put8(&p, 0x45);
	put8(&p, 0);
	put16(&p, 40);
	put32(&p, 0);
	put8(&p, 64);
	put8(&p, 6);
	put16(&p, 0);
	put32(&p, 0xc0000205);
	put32(&p, 0xc0000201);
	put16(&p, 40000);
	put16(&p, 445);
	put32(&p, 1);
	put32(&p, 0);
	put8(&p, 0x50);
	put8(&p, NET_TCP_SYN);
	put16(&p, 1024);
	put32(&p, 0);
	assert_int_equal(net_parse_frame(p.b, p.n, &pk), 0);
	assert_int_equal(pk.l4, NET_L4_TCP);
	assert_int_equal(pk.dst_port, 445);
	assert_int_equal(pk.tcp_flags, NET_TCP_SYN);
	/* A TCP data offset below 5 words is malformed. */
	p.b[p.n - 8] = 0x40;
	assert_int_equal(net_parse_frame(p.b, p.n, &pk), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arp_with_vlan),
		cmocka_unit_test(test_dhcp_offer_in_frame),
		cmocka_unit_test(test_dns_compression_and_loops),
		cmocka_unit_test(test_nbns_name),
		cmocka_unit_test(test_ipv6_llmnr_and_tcp_syn),
	};
	return cmocka_run_group_tests_name("netparse", tests, NULL, NULL);
}
