#include "agent/netdetect.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "agent/netparse.h"
#include "common/alloc.h"
#include "common/wire.h"

#define US_PER_S 1000000ULL
#define MAC_SLOTS 1024
#define SCAN_SLOTS 1024
#define RESPONDER_SLOTS 256
#define DEDUPE_SLOTS 2048
#define XID_SLOTS 256
#define MAC_IPS_TRACKED 32
#define NAMES_TRACKED 8
#define NAMES_SHOWN 4
#define NAME_SHOWN_MAX 64
#define XID_WINDOW_US (10 * US_PER_S)

enum guard_role { ROLE_GATEWAY, ROLE_DHCP_SERVER, ROLE_GUARDED };
static const char *const role_names[] = {"gateway", "dhcp_server", "guarded"};

struct binding {
	uint8_t ip[4];
	enum guard_role role;
	bool has_mac;
	uint8_t mac[6];
};

/* One per sender MAC seen in ARP: its gratuitous ARPs and the IPs it
 * claimed in the current window. */
struct mac_entry {
	bool used;
	uint8_t mac[6];
	uint64_t window_start;
	unsigned garp;
	unsigned n_ips;
	uint8_t ips[MAC_IPS_TRACKED][4];
};

struct scan_entry {
	bool used;
	int family;
	uint8_t src[16], dst[16];
	uint64_t window_start;
	unsigned n_ports;
	uint16_t ports[NETDETECT_SCAN_PORTS_MAX];
};

struct responder_entry {
	bool used;
	uint8_t ip[4];
	uint64_t window_start;
	unsigned n_names;
	uint64_t name_hash[NAMES_TRACKED];
	char shown[NAMES_SHOWN][NAME_SHOWN_MAX];
};

struct xid_entry {
	uint32_t xid;
	uint8_t server[4];
	uint8_t server_mac[6];
	uint64_t ts;
	bool used;
};

struct dedupe_entry {
	uint64_t key;
	uint64_t last_us;
	uint64_t repeats;
};

struct netdetect {
	struct netdetect_config cfg;
	netdetect_alert_fn alert;
	void *arg;
	struct netdetect_stats stats;
	struct binding guards[NETDETECT_LIST_MAX * 2 + 1];
	size_t n_guards;
	struct mac_entry macs[MAC_SLOTS];
	struct scan_entry scans[SCAN_SLOTS];
	struct responder_entry responders[RESPONDER_SLOTS];
	struct xid_entry xids[XID_SLOTS];
	struct dedupe_entry dedupe[DEDUPE_SLOTS];
	msgpack_sbuffer body;
	msgpack_packer pk;
	uint64_t now;	     /* the current packet's time */
	uint64_t repeats;    /* of the alert being built */
};

void netdetect_config_defaults(struct netdetect_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->scan_ports = 20;
	cfg->scan_window_s = 10;
	cfg->arp_flood = 30;
	cfg->mac_ips = 8;
	cfg->arp_window_s = 10;
	cfg->poison_names = 2;
	cfg->dedupe_window_s = 600;
}

/* Table keys are a few fixed bytes (a MAC, two addresses); hashing them a
 * word at a time keeps the per-packet cost small. Tables are fixed-size
 * and evict, so a crafted collision costs an attacker's own state only. */
static uint64_t hash_mix(const void *data, size_t len, uint64_t h)
{
	const uint8_t *p = data;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 32;
		p += 8;
		len -= 8;
	}
	uint64_t tail = 0;
	memcpy(&tail, p, len);
	h = (h ^ tail ^ (uint64_t)len << 56) * 0x9e3779b97f4a7c15ULL;
	return h ^ h >> 29;
}

static uint64_t hash_bytes(const void *data, size_t len)
{
	return hash_mix(data, len, 0x243f6a8885a308d3ULL);
}

static void add_guard(struct netdetect *nd, const uint8_t ip[4],
		      enum guard_role role, const uint8_t *mac)
{
	for (size_t i = 0; i < nd->n_guards; i++)
		if (memcmp(nd->guards[i].ip, ip, 4) == 0)
			return;
	if (nd->n_guards == sizeof(nd->guards) / sizeof(nd->guards[0]))
		return;
	struct binding *b = &nd->guards[nd->n_guards++];
	memcpy(b->ip, ip, 4);
	b->role = role;
	if (mac) {
		memcpy(b->mac, mac, 6);
		b->has_mac = true;
	}
}

struct netdetect *netdetect_new(const struct netdetect_config *cfg,
				netdetect_alert_fn alert, void *arg)
{
	struct netdetect *nd = alloc_zeroed(1, sizeof(*nd));
	if (nd == NULL)
		return NULL;
	nd->cfg = *cfg;
	if (nd->cfg.scan_ports > NETDETECT_SCAN_PORTS_MAX)
		nd->cfg.scan_ports = NETDETECT_SCAN_PORTS_MAX;
	if (nd->cfg.mac_ips > MAC_IPS_TRACKED)
		nd->cfg.mac_ips = MAC_IPS_TRACKED;
	if (nd->cfg.poison_names > NAMES_TRACKED)
		nd->cfg.poison_names = NAMES_TRACKED;
	nd->alert = alert;
	nd->arg = arg;
	if (cfg->has_gateway)
		add_guard(nd, cfg->gateway_ip, ROLE_GATEWAY,
			  cfg->has_gateway_mac ? cfg->gateway_mac : NULL);
	for (size_t i = 0; i < cfg->n_dhcp_servers && i < NETDETECT_LIST_MAX; i++)
		add_guard(nd, cfg->dhcp_servers[i], ROLE_DHCP_SERVER, NULL);
	for (size_t i = 0; i < cfg->n_guarded && i < NETDETECT_LIST_MAX; i++)
		add_guard(nd, cfg->guarded[i], ROLE_GUARDED, NULL);
	msgpack_sbuffer_init(&nd->body);
	msgpack_packer_init(&nd->pk, &nd->body, msgpack_sbuffer_write);
	return nd;
}

void netdetect_free(struct netdetect *nd)
{
	if (nd == NULL)
		return;
	msgpack_sbuffer_destroy(&nd->body);
	alloc_free(nd);
}

void netdetect_get_stats(const struct netdetect *nd,
			 struct netdetect_stats *out)
{
	*out = nd->stats;
}

/* ---- alerts ------------------------------------------------------------ */

/* Admits an incident (kind + key) at most once per dedupe window; a
 * suppressed one is counted and reported as "repeats" with the next. The
 * table is direct-mapped: under a flood of distinct incidents an old key
 * may be forgotten and reported again, never the other way round. */
static bool dedupe_admit(struct netdetect *nd, const char *kind,
			 const void *key, size_t key_len)
{
	uint64_t h = hash_mix(key, key_len, hash_bytes(kind, strlen(kind)));
	struct dedupe_entry *e = &nd->dedupe[h % DEDUPE_SLOTS];
	uint64_t window = (uint64_t)nd->cfg.dedupe_window_s * US_PER_S;
	if (e->key == h && e->last_us != 0 && nd->now >= e->last_us &&
	    nd->now - e->last_us < window) {
		e->repeats++;
		nd->stats.suppressed++;
		return false;
	}
	nd->repeats = e->key == h ? e->repeats : 0;
	e->key = h;
	e->last_us = nd->now ? nd->now : 1;
	e->repeats = 0;
	return true;
}

/* Opens the evidence map: fields + 2 entries, the first two common. */
static msgpack_packer *begin_alert(struct netdetect *nd, uint32_t fields)
{
	msgpack_sbuffer_clear(&nd->body);
	msgpack_pack_map(&nd->pk, fields + 2);
	wire_pack_kv_u64(&nd->pk, "seen_us", nd->now);
	wire_pack_kv_u64(&nd->pk, "repeats", nd->repeats);
	return &nd->pk;
}

static void finish_alert(struct netdetect *nd, const char *kind, int sev)
{
	nd->stats.alerts++;
	nd->alert(nd->arg, kind, sev, nd->body.data, nd->body.size);
}

static void pack_ip(msgpack_packer *pk, const char *key, int family,
		    const uint8_t *addr)
{
	char buf[64];
	net_format_ip(family, addr, buf, sizeof(buf));
	wire_pack_kv_str(pk, key, buf);
}

static void pack_mac(msgpack_packer *pk, const char *key, const uint8_t *mac)
{
	char buf[24];
	net_format_mac(mac, buf, sizeof(buf));
	wire_pack_kv_str(pk, key, buf);
}

/* ---- ARP --------------------------------------------------------------- */

static struct binding *find_guard(struct netdetect *nd, const uint8_t ip[4])
{
	for (size_t i = 0; i < nd->n_guards; i++)
		if (memcmp(nd->guards[i].ip, ip, 4) == 0)
			return &nd->guards[i];
	return NULL;
}

static void check_binding(struct netdetect *nd, const struct net_packet *p)
{
	const struct net_arp *a = &p->arp;
	struct binding *b = find_guard(nd, a->sender_ip);
	if (b == NULL)
		return;
	if (!b->has_mac) {
		/* First sight: trust on first use, like the host's own cache. */
		memcpy(b->mac, a->sender_mac, 6);
		b->has_mac = true;
		return;
	}
	if (memcmp(b->mac, a->sender_mac, 6) == 0)
		return;
	uint8_t key[10];
	memcpy(key, a->sender_ip, 4);
	memcpy(key + 4, a->sender_mac, 6);
	if (!dedupe_admit(nd, "net.arp_spoof", key, sizeof(key)))
		return;
	msgpack_packer *pk = begin_alert(nd, 7);
	wire_pack_kv_str(pk, "role", role_names[b->role]);
	pack_ip(pk, "ip", 4, a->sender_ip);
	pack_mac(pk, "expected_mac", b->mac);
	pack_mac(pk, "claimed_mac", a->sender_mac);
	pack_mac(pk, "eth_src", p->src_mac);
	wire_pack_kv_str(pk, "op", a->op == 2 ? "reply" : "request");
	pack_ip(pk, "target_ip", 4, a->target_ip);
	finish_alert(nd, "net.arp_spoof", b->role == ROLE_GUARDED ? 7 : 8);
}

static struct mac_entry *mac_slot(struct netdetect *nd, const uint8_t mac[6])
{
	struct mac_entry *e = &nd->macs[hash_bytes(mac, 6) % MAC_SLOTS];
	uint64_t window = (uint64_t)nd->cfg.arp_window_s * US_PER_S;
	if (!e->used || memcmp(e->mac, mac, 6) != 0 ||
	    nd->now < e->window_start || nd->now - e->window_start >= window) {
		/* Counters only: ips[] beyond n_ips is never read. */
		e->garp = 0;
		e->n_ips = 0;
		e->used = true;
		memcpy(e->mac, mac, 6);
		e->window_start = nd->now;
	}
	return e;
}

static void check_arp_volume(struct netdetect *nd, const struct net_packet *p)
{
	const struct net_arp *a = &p->arp;
	static const uint8_t zero[4];
	if (memcmp(a->sender_ip, zero, 4) == 0) /* an ARP probe: no claim */
		return;
	struct mac_entry *e = mac_slot(nd, a->sender_mac);
	bool gratuitous = memcmp(a->sender_ip, a->target_ip, 4) == 0;
	if (gratuitous)
		e->garp++;
	bool known = false;
	for (unsigned i = 0; i < e->n_ips; i++)
		if (memcmp(e->ips[i], a->sender_ip, 4) == 0)
			known = true;
	if (!known && e->n_ips < MAC_IPS_TRACKED)
		memcpy(e->ips[e->n_ips++], a->sender_ip, 4);

	const char *reason = NULL;
	unsigned count = 0;
	if (nd->cfg.arp_flood && gratuitous && e->garp == nd->cfg.arp_flood) {
		reason = "gratuitous_flood";
		count = e->garp;
	} else if (nd->cfg.mac_ips && !known && e->n_ips == nd->cfg.mac_ips) {
		reason = "many_ips";
		count = e->n_ips;
	}
	if (reason == NULL)
		return;
	uint8_t key[7];
	memcpy(key, a->sender_mac, 6);
	key[6] = (uint8_t)reason[0];
	if (!dedupe_admit(nd, "net.arp_flood", key, sizeof(key)))
		return;
	msgpack_packer *pk = begin_alert(nd, 5);
	wire_pack_kv_str(pk, "reason", reason);
	pack_mac(pk, "mac", a->sender_mac);
	wire_pack_kv_u64(pk, "count", count);
	wire_pack_kv_u64(pk, "window_s", nd->cfg.arp_window_s);
	wire_pack_str(pk, "ips");
	unsigned shown = e->n_ips < 8 ? e->n_ips : 8;
	msgpack_pack_array(pk, shown);
	for (unsigned i = 0; i < shown; i++) {
		char buf[20];
		net_format_ip(4, e->ips[i], buf, sizeof(buf));
		wire_pack_str(pk, buf);
	}
	finish_alert(nd, "net.arp_flood", 6);
}

/* ---- DHCP -------------------------------------------------------------- */

static bool in_list(const uint8_t (*list)[4], size_t n, const uint8_t ip[4])
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(list[i], ip, 4) == 0)
			return true;
	return false;
}

static void rogue_dhcp_alert(struct netdetect *nd, const struct net_packet *p,
			     const struct net_dhcp *d, const uint8_t server[4],
			     const char *reason, const struct xid_entry *other)
{
	uint8_t key[10];
	memcpy(key, server, 4);
	memcpy(key + 4, p->src_mac, 6);
	if (!dedupe_admit(nd, "net.rogue_dhcp", key, sizeof(key)))
		return;
	uint32_t n = 8 + (d->has_router ? 1 : 0) + (d->has_dns ? 1 : 0) +
		     (other ? 2 : 0);
	msgpack_packer *pk = begin_alert(nd, n);
	wire_pack_kv_str(pk, "reason", reason);
	pack_ip(pk, "server_ip", 4, server);
	pack_mac(pk, "server_mac", p->src_mac);
	wire_pack_kv_u64(pk, "xid", d->xid);
	wire_pack_kv_str(pk, "message", d->message_type == 5 ? "ack" : "offer");
	pack_ip(pk, "offered_ip", 4, d->your_ip);
	pack_mac(pk, "client_mac", d->client_mac);
	wire_pack_kv_u64(pk, "allowlist_size", nd->cfg.n_dhcp_servers);
	if (d->has_router)
		pack_ip(pk, "router", 4, d->router);
	if (d->has_dns)
		pack_ip(pk, "dns", 4, d->dns);
	if (other) {
		pack_ip(pk, "other_server_ip", 4, other->server);
		pack_mac(pk, "other_server_mac", other->server_mac);
	}
	finish_alert(nd, "net.rogue_dhcp", 8);
}

static void check_dhcp(struct netdetect *nd, const struct net_packet *p)
{
	struct net_dhcp d;
	if (net_parse_dhcp(p->payload, p->payload_len, &d) != 0) {
		nd->stats.malformed++;
		return;
	}
	if (d.op != 2 || (d.message_type != 2 && d.message_type != 5))
		return;
	uint8_t server[4];
	memcpy(server, d.has_server_id ? d.server_id : p->src_ip, 4);

	bool allowed = nd->cfg.n_dhcp_servers == 0 ||
		       in_list((const uint8_t(*)[4])nd->cfg.dhcp_servers,
			       nd->cfg.n_dhcp_servers, server);
	if (!allowed) {
		rogue_dhcp_alert(nd, p, &d, server, "not_in_allowlist", NULL);
	} else if (!nd->cfg.has_gateway && d.has_router &&
		   nd->cfg.n_dhcp_servers > 0) {
		/* The allowlisted server names the gateway: guard it. */
		nd->cfg.has_gateway = true;
		memcpy(nd->cfg.gateway_ip, d.router, 4);
		add_guard(nd, d.router, ROLE_GATEWAY, NULL);
	}

	/* Two servers answering one transaction: one of them is rogue, even
	 * when no allowlist says which. Transactions are direct-mapped by
	 * xid; a newer one may evict an older, never merge with it. */
	struct xid_entry *x = &nd->xids[hash_bytes(&d.xid, 4) % XID_SLOTS];
	if (x->used && x->xid == d.xid && nd->now >= x->ts &&
	    nd->now - x->ts <= XID_WINDOW_US) {
		if (memcmp(x->server, server, 4) != 0)
			rogue_dhcp_alert(nd, p, &d, server, "two_servers", x);
		return;
	}
	*x = (struct xid_entry){.xid = d.xid, .ts = nd->now, .used = true};
	memcpy(x->server, server, 4);
	memcpy(x->server_mac, p->src_mac, 6);
}

/* ---- DNS and name poisoning ------------------------------------------ */

static void check_dns_query(struct netdetect *nd, const struct net_packet *p)
{
	if (nd->cfg.ioc == NULL)
		return;
	struct net_dns q;
	if (net_parse_dns(p->payload, p->payload_len, &q) != 0) {
		nd->stats.malformed++;
		return;
	}
	const char *matched = NULL;
	if (q.response || q.qdcount == 0 ||
	    !iocset_match_domain(nd->cfg.ioc, q.qname, &matched))
		return;
	uint8_t key[16 + 64];
	size_t mlen = strlen(matched);
	if (mlen > 64)
		mlen = 64;
	memcpy(key, p->src_ip, 16);
	memcpy(key + 16, matched, mlen);
	if (!dedupe_admit(nd, "net.ioc_dns", key, 16 + mlen))
		return;
	msgpack_packer *pk = begin_alert(nd, 6);
	wire_pack_kv_str(pk, "query", q.qname);
	wire_pack_kv_str(pk, "matched", matched);
	wire_pack_kv_u64(pk, "qtype", q.qtype);
	pack_ip(pk, "client_ip", p->family, p->src_ip);
	pack_mac(pk, "client_mac", p->src_mac);
	pack_ip(pk, "server_ip", p->family, p->dst_ip);
	finish_alert(nd, "net.ioc_dns", 7);
}

static struct responder_entry *responder_slot(struct netdetect *nd,
					      const uint8_t ip[4])
{
	struct responder_entry *e =
		&nd->responders[hash_bytes(ip, 4) % RESPONDER_SLOTS];
	uint64_t window = (uint64_t)nd->cfg.dedupe_window_s * US_PER_S;
	if (!e->used || memcmp(e->ip, ip, 4) != 0 || nd->now < e->window_start ||
	    nd->now - e->window_start >= window) {
		memset(e, 0, sizeof(*e));
		e->used = true;
		memcpy(e->ip, ip, 4);
		e->window_start = nd->now;
	}
	return e;
}

static void check_name_answer(struct netdetect *nd, const struct net_packet *p,
			      bool nbns)
{
	struct net_dns r;
	if (net_parse_dns(p->payload, p->payload_len, &r) != 0) {
		nd->stats.malformed++;
		return;
	}
	if (!r.response || r.ancount == 0 || p->family != 4)
		return;
	if (in_list((const uint8_t(*)[4])nd->cfg.responders,
		    nd->cfg.n_responders, p->src_ip))
		return;
	if (nbns && net_nbns_decode_name(r.qname) != 0)
		return;
	for (char *c = r.qname; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');

	struct responder_entry *e = responder_slot(nd, p->src_ip);
	uint64_t h = hash_bytes(r.qname, strlen(r.qname));
	bool seen = false;
	for (unsigned i = 0; i < e->n_names; i++)
		if (e->name_hash[i] == h)
			seen = true;
	if (!seen && e->n_names < NAMES_TRACKED) {
		if (e->n_names < NAMES_SHOWN)
			snprintf(e->shown[e->n_names], NAME_SHOWN_MAX, "%s",
				 r.qname);
		e->name_hash[e->n_names++] = h;
	}
	/* Responder-style tools answer every name asked; a real PC answers
	 * for its own. WPAD answers hijack proxies, so one is enough. */
	bool wpad = strcmp(r.qname, "wpad") == 0;
	if (!wpad && e->n_names < nd->cfg.poison_names)
		return;
	if (!dedupe_admit(nd, "net.llmnr_poison", p->src_ip, 4))
		return;
	uint32_t n = 7 + (r.nanswers > 0 && r.answers[0].family ? 1 : 0);
	msgpack_packer *pk = begin_alert(nd, n);
	wire_pack_kv_str(pk, "protocol", nbns ? "nbns" : "llmnr");
	pack_ip(pk, "responder_ip", 4, p->src_ip);
	pack_mac(pk, "responder_mac", p->src_mac);
	pack_ip(pk, "victim_ip", 4, p->dst_ip);
	wire_pack_kv_str(pk, "name", r.qname);
	wire_pack_kv_u64(pk, "distinct_names", e->n_names);
	wire_pack_str(pk, "names");
	unsigned shown = e->n_names < NAMES_SHOWN ? e->n_names : NAMES_SHOWN;
	msgpack_pack_array(pk, shown);
	for (unsigned i = 0; i < shown; i++)
		wire_pack_str(pk, e->shown[i]);
	if (n == 8)
		pack_ip(pk, "answer", r.answers[0].family, r.answers[0].addr);
	finish_alert(nd, "net.llmnr_poison", 7);
}

/* ---- IOC addresses and scans ---------------------------------------- */

static void check_ioc_ip(struct netdetect *nd, const struct net_packet *p)
{
	if (nd->cfg.ioc == NULL)
		return;
	bool dst = iocset_match_ip(nd->cfg.ioc, p->family, p->dst_ip);
	bool src = !dst && iocset_match_ip(nd->cfg.ioc, p->family, p->src_ip);
	if (!dst && !src)
		return;
	const uint8_t *ioc = dst ? p->dst_ip : p->src_ip;
	const uint8_t *local = dst ? p->src_ip : p->dst_ip;
	uint8_t key[32];
	memcpy(key, ioc, 16);
	memcpy(key + 16, local, 16);
	if (!dedupe_admit(nd, "net.ioc_ip", key, sizeof(key)))
		return;
	msgpack_packer *pk = begin_alert(nd, 6);
	pack_ip(pk, "ioc_ip", p->family, ioc);
	pack_ip(pk, "local_ip", p->family, local);
	pack_mac(pk, "local_mac", dst ? p->src_mac : p->dst_mac);
	wire_pack_kv_str(pk, "direction", dst ? "outbound" : "inbound");
	wire_pack_kv_str(pk, "proto", p->l4 == NET_L4_TCP   ? "tcp"
				      : p->l4 == NET_L4_UDP ? "udp"
							    : "ip");
	wire_pack_kv_u64(pk, "port", dst ? p->dst_port : p->src_port);
	finish_alert(nd, "net.ioc_ip", 7);
}

static void check_syn(struct netdetect *nd, const struct net_packet *p)
{
	if (nd->cfg.scan_ports == 0)
		return;
	uint8_t key[33];
	key[0] = (uint8_t)p->family;
	memcpy(key + 1, p->src_ip, 16);
	memcpy(key + 17, p->dst_ip, 16);
	struct scan_entry *e = &nd->scans[hash_bytes(key, sizeof(key)) % SCAN_SLOTS];
	uint64_t window = (uint64_t)nd->cfg.scan_window_s * US_PER_S;
	if (!e->used || e->family != p->family ||
	    memcmp(e->src, p->src_ip, 16) != 0 ||
	    memcmp(e->dst, p->dst_ip, 16) != 0 || nd->now < e->window_start ||
	    nd->now - e->window_start >= window) {
		e->n_ports = 0;
		e->used = true;
		e->family = p->family;
		memcpy(e->src, p->src_ip, 16);
		memcpy(e->dst, p->dst_ip, 16);
		e->window_start = nd->now;
	}
	for (unsigned i = 0; i < e->n_ports; i++)
		if (e->ports[i] == p->dst_port)
			return;
	if (e->n_ports >= NETDETECT_SCAN_PORTS_MAX)
		return;
	e->ports[e->n_ports++] = p->dst_port;
	if (e->n_ports != nd->cfg.scan_ports)
		return;
	if (!dedupe_admit(nd, "net.port_scan", key, sizeof(key)))
		return;
	msgpack_packer *pk = begin_alert(nd, 7);
	pack_ip(pk, "src_ip", p->family, p->src_ip);
	pack_mac(pk, "src_mac", p->src_mac);
	pack_ip(pk, "dst_ip", p->family, p->dst_ip);
	wire_pack_kv_u64(pk, "distinct_ports", e->n_ports);
	wire_pack_kv_u64(pk, "window_s", nd->cfg.scan_window_s);
	wire_pack_kv_u64(pk, "first_us", e->window_start);
	wire_pack_str(pk, "ports");
	unsigned shown = e->n_ports < 16 ? e->n_ports : 16;
	msgpack_pack_array(pk, shown);
	for (unsigned i = 0; i < shown; i++)
		msgpack_pack_uint16(pk, e->ports[i]);
	finish_alert(nd, "net.port_scan", 5);
}

/* ---- dispatch ---------------------------------------------------------- */

void netdetect_packet(struct netdetect *nd, const uint8_t *frame, size_t len,
		      uint64_t ts_us)
{
	struct net_packet p;
	nd->stats.packets++;
	nd->now = ts_us;
	if (net_parse_frame(frame, len, &p) != 0) {
		nd->stats.malformed++;
		return;
	}
	if (p.l3 == NET_L3_ARP) {
		check_binding(nd, &p);
		check_arp_volume(nd, &p);
		return;
	}
	if (p.l3 != NET_L3_IPV4 && p.l3 != NET_L3_IPV6)
		return;
	check_ioc_ip(nd, &p);
	if (p.l4 == NET_L4_TCP) {
		if ((p.tcp_flags & (NET_TCP_SYN | NET_TCP_ACK)) == NET_TCP_SYN)
			check_syn(nd, &p);
		return;
	}
	if (p.l4 != NET_L4_UDP)
		return;
	if (p.src_port == 67 && p.dst_port == 68)
		check_dhcp(nd, &p);
	else if (p.dst_port == 53)
		check_dns_query(nd, &p);
	else if (p.src_port == 5355)
		check_name_answer(nd, &p, false);
	else if (p.src_port == 137)
		check_name_answer(nd, &p, true);
}
