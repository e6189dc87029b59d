/* netdetect: the LAN sensor's detectors, fed one Ethernet frame at a time.
 *
 * Pure logic over netparse: no capture, no clock, no I/O. Time is the
 * packet's own timestamp, so a capture file replays exactly as it was
 * seen live. Every table is fixed in size and indexed by a hash, so a
 * flood of forged MACs or addresses costs evictions, never memory. What
 * an alert carries is evidence (MACs, IPs, ports, xid, names, counts and
 * times), never packet payload: a DNS name is the most of a packet that
 * leaves. Each incident is reported once per dedupe window; repeats in
 * between are counted and reported with the next one.
 *
 * Detections and their event kinds:
 *   net.arp_spoof     a guarded IP (the gateway, a DHCP server, a listed
 *                     host) is claimed by a MAC other than the one better
 *                     evidence shows (the setting, the neighbour table, the
 *                     lease's DHCP ACK, routed traffic, ARP target fields,
 *                     answered requests); or, with no evidence at all, the
 *                     shapes of poisoning: unsolicited replies repeated to
 *                     a victim, a MAC claiming the gateway and its own IP.
 *                     Nothing is trusted for having been seen first.
 *   net.arp_flood     gratuitous ARP flood from one MAC, one MAC claiming
 *                     many IPs, or one MAC asking for many addresses (a
 *                     host sweep, reason "sweep")
 *   net.rogue_dhcp    an offer or ack from a server off the allowlist, or
 *                     two servers answering one transaction
 *   net.llmnr_poison  LLMNR/NBNS answers from a host off the allowlist
 *                     for several names, or for wpad
 *   net.ioc_dns       a DNS query for a listed domain (suffix match)
 *   net.ioc_ip        a TCP connection (its SYN) or UDP traffic to or from
 *                     a listed address
 *   net.port_scan     one source sending SYNs to many ports of one host,
 *                     reported when the scan stops (or after 5 minutes)
 *                     with its real counts
 * Every alert carries "summary_en" and "summary_vi": one line each, in
 * English and Vietnamese, that says what happened. */
#ifndef EDUWATCH_NETDETECT_H
#define EDUWATCH_NETDETECT_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/net/iocset.h"

#define NETDETECT_LIST_MAX 16
/* The ports of one source and destination are kept up to the threshold
 * only; 24 of them make a table entry one cache line. */
#define NETDETECT_SCAN_PORTS_MAX 24

struct netdetect_config {
	bool has_gateway;
	uint8_t gateway_ip[4];
	bool has_gateway_mac; /* the binding known before capture started */
	bool gateway_mac_is_setting; /* else from the neighbour table */
	uint8_t gateway_mac[6];
	uint8_t netmask[4];   /* the LAN's; all zero: a /24 */
	bool has_own;	      /* this PC, live: its traffic shows the gateway */
	uint8_t own_mac[6];
	uint8_t own_ip[4];
	size_t n_guarded; /* more IPs whose MAC must not change */
	uint8_t guarded[NETDETECT_LIST_MAX][4];
	size_t n_dhcp_servers; /* empty: only the two-servers rule applies */
	uint8_t dhcp_servers[NETDETECT_LIST_MAX][4];
	size_t n_responders;   /* hosts allowed to answer LLMNR/NBNS */
	uint8_t responders[NETDETECT_LIST_MAX][4];
	const struct iocset *ioc; /* borrowed; NULL: no IOC checks */
	unsigned scan_ports;	  /* distinct ports... */
	unsigned scan_window_s;	  /* ...within this many seconds */
	unsigned arp_flood;	  /* gratuitous ARPs from one MAC... */
	unsigned mac_ips;	  /* or distinct IPs claimed by one MAC... */
	unsigned arp_window_s;	  /* ...within this many seconds */
	unsigned arp_sweep;	  /* distinct addresses one MAC asks for */
	unsigned poison_names;	  /* distinct names one responder answers */
	unsigned dedupe_window_s;
};

void netdetect_config_defaults(struct netdetect_config *cfg);

/* Receives each alert: kind, severity 0..10 and a packed msgpack map of
 * evidence, borrowed for the call. */
typedef void (*netdetect_alert_fn)(void *arg, const char *kind, int sev,
				   const char *body, size_t len);

struct netdetect;

EW_MUST_CHECK
struct netdetect *netdetect_new(const struct netdetect_config *cfg,
				netdetect_alert_fn alert, void *arg);
void netdetect_free(struct netdetect *nd);

void netdetect_packet(struct netdetect *nd, const uint8_t *frame, size_t len,
		      uint64_t ts_us);

/* Time passes with no packet (live), or the capture ended (at UINT64_MAX):
 * reports the scans that have stopped by now_us. */
void netdetect_flush(struct netdetect *nd, uint64_t now_us);

struct netdetect_stats {
	uint64_t packets;
	uint64_t malformed;
	uint64_t alerts;
	uint64_t suppressed;
};

void netdetect_get_stats(const struct netdetect *nd,
			 struct netdetect_stats *out);

#endif
