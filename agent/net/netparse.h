/* netparse: dissectors for what a PC sees on a school LAN.
 *
 * Ethernet (with 802.1Q tags), ARP, IPv4, IPv6, UDP, the TCP header, DHCP
 * with its options, and DNS messages (also LLMNR and NBNS, which share the
 * format) with compressed names. Every read goes through a bounds-checked
 * cursor; a truncated or lying packet returns -EBADMSG and never reads
 * outside the buffer. Name decompression follows at most 16 pointers and
 * only backwards, so a pointer loop ends. Payloads are borrowed pointers
 * into the caller's buffer: nothing here copies packet contents, and no
 * parser keeps a password it may pass over. */
#ifndef EDUWATCH_NETPARSE_H
#define EDUWATCH_NETPARSE_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum net_l3 { NET_L3_OTHER, NET_L3_ARP, NET_L3_IPV4, NET_L3_IPV6 };
enum net_l4 { NET_L4_OTHER, NET_L4_UDP, NET_L4_TCP };

struct net_arp {
	uint16_t op; /* 1 request, 2 reply */
	uint8_t sender_mac[6];
	uint8_t sender_ip[4];
	uint8_t target_mac[6];
	uint8_t target_ip[4];
};

struct net_packet {
	uint8_t dst_mac[6];
	uint8_t src_mac[6];
	uint16_t vlan;	    /* 0: untagged */
	uint16_t ethertype;
	enum net_l3 l3;
	struct net_arp arp;
	int family;	    /* 4 or 6 for IP */
	uint8_t src_ip[16]; /* IPv4 in the first 4 bytes */
	uint8_t dst_ip[16];
	uint8_t ip_proto;
	bool fragment;	    /* a non-first IPv4 fragment: no L4 header */
	enum net_l4 l4;
	uint16_t src_port;
	uint16_t dst_port;
	uint8_t tcp_flags;
	const uint8_t *payload;
	size_t payload_len;
};

#define NET_TCP_SYN 0x02
#define NET_TCP_ACK 0x10

/* Parses one Ethernet frame. Returns 0 or -EBADMSG. */
EW_MUST_CHECK
int net_parse_frame(const uint8_t *data, size_t len, struct net_packet *out);

/* ---- DHCP -------------------------------------------------------------- */

struct net_dhcp {
	uint8_t op;		/* 1 request, 2 reply */
	uint32_t xid;
	uint8_t client_mac[6];
	uint8_t your_ip[4];
	uint8_t message_type;	/* option 53: 1 discover, 2 offer, 5 ack... */
	bool has_server_id;
	uint8_t server_id[4];	/* option 54 */
	bool has_router;
	uint8_t router[4];	/* option 3, first address */
	bool has_dns;
	uint8_t dns[4];		/* option 6, first address */
};

EW_MUST_CHECK
int net_parse_dhcp(const uint8_t *data, size_t len, struct net_dhcp *out);

/* ---- DNS, LLMNR, NBNS ------------------------------------------------- */

#define NET_DNS_NAME_MAX 255
#define NET_DNS_MAX_ANSWERS 8

struct net_dns_answer {
	uint16_t type;
	int family;	/* 4 or 6 when type is A or AAAA (or NB), else 0 */
	uint16_t nb_flags; /* NB records: 0x8000 is a group name */
	uint8_t addr[16];
};

struct net_dns {
	uint16_t id;
	bool response;
	uint8_t opcode;
	uint8_t rcode;
	uint16_t qdcount, ancount;
	/* The first question's name, lower-case; or the first answer's when
	 * there is no question, as in NBNS responses. */
	char qname[NET_DNS_NAME_MAX + 1];
	uint16_t qtype;
	int nanswers;			   /* parsed, at most the max */
	struct net_dns_answer answers[NET_DNS_MAX_ANSWERS];
};

EW_MUST_CHECK
int net_parse_dns(const uint8_t *data, size_t len, struct net_dns *out);

/* NBNS names are "first-level encoded": 32 letters A-P for 16 bytes.
 * Decodes qname in place to the NetBIOS name as printable text, without
 * its padding and with its suffix byte in hex: "WORKGROUP<1d>", "*<00>"
 * for a node-status query, "__MSBROWSE__<01>" for the browsers' name.
 * Any other byte outside printable ASCII is written \xNN. *suffix gets
 * the suffix byte. Returns -EBADMSG if it is not such a name. */
EW_MUST_CHECK
int net_nbns_decode_name(char *qname, uint8_t *suffix);

/* Formats an address for evidence ("192.0.2.1", "fe80::1"). */
void net_format_ip(int family, const uint8_t *addr, char *buf, size_t cap);
void net_format_mac(const uint8_t mac[6], char *buf, size_t cap);

#endif
