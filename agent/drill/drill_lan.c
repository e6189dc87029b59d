/* drill_lan: the lan-attack drill's capture (drill_lan.h). */
#include "agent/drill/drill_lan.h"

#include <errno.h>
#include <string.h>

/* The drill network: its gateway (also its one allowed DHCP server),
 * the drill's PC, and the attacker. */
static const uint8_t gw_ip[4] = {10, 99, 0, 1};
static const uint8_t gw_mac[6] = {0x02, 0xed, 0xd1, 0x00, 0x00, 0x01};
static const uint8_t pc_ip[4] = {10, 99, 0, 10};
static const uint8_t pc_mac[6] = {0x02, 0xed, 0xd1, 0x00, 0x00, 0x10};
static const uint8_t evil_ip[4] = {10, 99, 0, 66};
static const uint8_t evil_mac[6] = {0x02, 0xed, 0xd1, 0x00, 0x00, 0x66};
static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

#define FRAME_MAX 400
#define ETH_LEN 14
#define IP_LEN 20

struct frame {
	uint8_t b[FRAME_MAX];
	size_t n;
};

static void put(struct frame *f, const void *p, size_t len)
{
	memcpy(f->b + f->n, p, len);
	f->n += len;
}

static void put16(struct frame *f, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	put(f, b, 2);
}

static void put32(struct frame *f, uint32_t v)
{
	put16(f, (uint16_t)(v >> 16));
	put16(f, (uint16_t)v);
}

static void zeros(struct frame *f, size_t len)
{
	memset(f->b + f->n, 0, len);
	f->n += len;
}

static void ether(struct frame *f, const uint8_t dst[6], const uint8_t src[6],
		  uint16_t type)
{
	f->n = 0;
	put(f, dst, 6);
	put(f, src, 6);
	put16(f, type);
}

/* An IPv4 header with its checksum, for a payload of len bytes. */
static void ipv4(struct frame *f, const uint8_t src[4], const uint8_t dst[4],
		 uint8_t proto, size_t len)
{
	size_t at = f->n;
	put16(f, 0x4500);
	put16(f, (uint16_t)(IP_LEN + len));
	put32(f, 0x00004000); /* id 0, don't fragment */
	put16(f, (uint16_t)(64 << 8 | proto));
	put16(f, 0);
	put(f, src, 4);
	put(f, dst, 4);
	uint32_t sum = 0;
	for (size_t i = 0; i < IP_LEN; i += 2)
		sum += (uint32_t)(f->b[at + i] << 8 | f->b[at + i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	f->b[at + 10] = (uint8_t)(~sum >> 8);
	f->b[at + 11] = (uint8_t)~sum;
}

/* "ip is at mac", unasked, to the drill's PC. */
static void arp_reply(struct frame *f, const uint8_t mac[6],
		      const uint8_t ip[4])
{
	ether(f, pc_mac, mac, 0x0806);
	put16(f, 1);
	put16(f, 0x0800);
	put16(f, 6 << 8 | 4);
	put16(f, 2);
	put(f, mac, 6);
	put(f, ip, 4);
	put(f, pc_mac, 6);
	put(f, pc_ip, 4);
	zeros(f, 60 - f->n); /* Ethernet's minimum */
}

/* A DHCP offer from server to the drill's PC, naming server as router. */
static void dhcp_offer(struct frame *f, const uint8_t mac[6],
		       const uint8_t server[4], uint32_t xid)
{
	static const uint8_t offered[4] = {10, 99, 0, 10};
	const size_t bootp = 240 + 3 + 6 + 6 + 1;
	ether(f, bcast_mac, mac, 0x0800);
	ipv4(f, server, (const uint8_t[4]){255, 255, 255, 255}, 17, 8 + bootp);
	put16(f, 67);
	put16(f, 68);
	put16(f, (uint16_t)(8 + bootp));
	put16(f, 0); /* no UDP checksum: allowed over IPv4 */
	put32(f, 0x02010600); /* reply, Ethernet, 6-byte address, 0 hops */
	put32(f, xid);
	put32(f, 0);	      /* secs, flags */
	zeros(f, 4);	      /* ciaddr */
	put(f, offered, 4);   /* yiaddr */
	put(f, server, 4);    /* siaddr */
	zeros(f, 4);	      /* giaddr */
	put(f, pc_mac, 6);
	zeros(f, 10 + 64 + 128); /* chaddr's padding, sname, file */
	put32(f, 0x63825363);
	put(f, (const uint8_t[3]){53, 1, 2}, 3); /* an offer */
	put(f, (const uint8_t[2]){54, 4}, 2);
	put(f, server, 4);
	put(f, (const uint8_t[2]){3, 4}, 2);
	put(f, server, 4);
	put(f, (const uint8_t[1]){255}, 1);
}

static void tcp_syn(struct frame *f, uint16_t sport, uint16_t dport)
{
	ether(f, pc_mac, evil_mac, 0x0800);
	ipv4(f, evil_ip, pc_ip, 6, 20);
	put16(f, sport);
	put16(f, dport);
	put32(f, 0x0d1d0000u + dport); /* seq */
	put32(f, 0);		       /* ack */
	put16(f, 5 << 12 | 0x02);      /* 20-byte header, SYN */
	put16(f, 1024);
	put32(f, 0); /* checksum (not checked), urgent */
}

int drill_lan_replay(uint64_t start_us, netdetect_alert_fn alert, void *arg,
		     struct netdetect_stats *stats)
{
	struct netdetect_config cfg;
	struct frame f;
	netdetect_config_defaults(&cfg);
	cfg.has_gateway = true;
	memcpy(cfg.gateway_ip, gw_ip, 4);
	cfg.has_gateway_mac = true;
	cfg.gateway_mac_is_setting = true;
	memcpy(cfg.gateway_mac, gw_mac, 6);
	cfg.has_own = true;
	memcpy(cfg.own_mac, pc_mac, 6);
	memcpy(cfg.own_ip, pc_ip, 4);
	cfg.n_dhcp_servers = 1;
	memcpy(cfg.dhcp_servers[0], gw_ip, 4);
	struct netdetect *nd = netdetect_new(&cfg, alert, arg);
	if (nd == NULL)
		return -ENOMEM;
	uint64_t t = start_us;
	/* The school's own DHCP server answers first, then the rogue. */
	dhcp_offer(&f, gw_mac, gw_ip, 0x0d1d1e01);
	netdetect_packet(nd, f.b, f.n, t += 1000);
	dhcp_offer(&f, evil_mac, evil_ip, 0x0d1d1e01);
	netdetect_packet(nd, f.b, f.n, t += 1000);
	/* Poisoning: the gateway's address claimed by the attacker, every
	 * 200 ms, as arpspoof does (every 2 s; faster here, same shape). */
	for (int i = 0; i < 5; i++) {
		arp_reply(&f, evil_mac, gw_ip);
		netdetect_packet(nd, f.b, f.n, t += 200000);
	}
	for (uint16_t p = 0; p < DRILL_LAN_SCAN_PORTS; p++) {
		tcp_syn(&f, 40000, (uint16_t)(20 + p));
		netdetect_packet(nd, f.b, f.n, t += 10000);
	}
	/* The capture ends: the scan that stopped is reported. */
	netdetect_flush(nd, UINT64_MAX);
	netdetect_get_stats(nd, stats);
	netdetect_free(nd);
	return 0;
}
