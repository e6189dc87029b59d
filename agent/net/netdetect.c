#include "agent/net/netdetect.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "agent/net/netparse.h"
#include "common/alloc.h"
#include "common/wire.h"

#define US_PER_S 1000000ULL
#define MAC_SLOTS 1024
#define SCAN_SLOTS 1024
#define RESPONDER_SLOTS 256
#define DEDUPE_SLOTS 2048
#define XID_SLOTS 256
#define ASK_SLOTS 1024
#define OWNER_SLOTS 512
#define MAC_IPS_TRACKED 32
#define NAMES_TRACKED 8
#define NAMES_SHOWN 4
#define NAME_SHOWN_MAX 64
#define XID_WINDOW_US (10 * US_PER_S)
#define ASK_WINDOW_US (3 * US_PER_S)
#define BINDING_MACS 4
#define UNSOLICITED_REPEATS 3
#define SWEEP_BITS 1024
#define SCANS_ACTIVE 8
#define SCAN_SAMPLE 16
#define SCAN_MAX_US (300 * US_PER_S)

enum guard_role { ROLE_GATEWAY, ROLE_DHCP_SERVER, ROLE_GUARDED };
static const char *const role_names[] = {"gateway", "dhcp_server", "guarded"};

/* Where a MAC for a guarded IP was seen, weakest first. The rank decides
 * whom an alert blames when two MACs claim one address: a forged reply
 * may come first, so being first proves nothing. */
enum mac_source {
	SRC_UNSOLICITED, /* an ARP reply nobody asked for */
	SRC_ARP_SENDER,	 /* a request or gratuitous ARP */
	SRC_ARP_TARGET,	 /* another host's ARP names it as the target */
	SRC_SOLICITED,	 /* the reply to a request we saw */
	SRC_OWN_DST,	 /* this PC's own off-subnet traffic goes there */
	SRC_NEIGHBOUR,	 /* the PC's neighbour table when the sensor began */
	SRC_ROUTED,	 /* the Ethernet source of routed IP traffic */
	SRC_DHCP,	 /* the allowlisted DHCP server's ACK names it */
	SRC_SETTING,	 /* netsensor.gateway_mac or --gateway-mac */
	SRC_COUNT
};
static const char *const source_names[SRC_COUNT] = {
	"unsolicited_arp_reply", "arp_sender",	   "arp_target",
	"arp_reply",		 "own_traffic",	   "neighbour_table",
	"routed_traffic",	 "dhcp_ack",	   "setting"};

struct binding_mac {
	uint8_t mac[6];
	uint16_t sources; /* bit per enum mac_source */
	bool other_ip;	  /* also claims another address of the LAN */
	bool alerted;
	unsigned unsolicited;
	uint64_t first_us;
};

struct binding {
	uint8_t ip[4];
	enum guard_role role;
	unsigned n_macs;
	struct binding_mac macs[BINDING_MACS];
};

/* One per sender MAC seen in ARP: its gratuitous ARPs, the IPs it
 * claimed, the targets it asked for (a sweep) and its unanswered replies,
 * all in the current window. */
struct mac_entry {
	bool used;
	uint8_t mac[6];
	uint64_t window_start;
	unsigned garp;
	unsigned n_ips;
	unsigned asked; /* distinct targets, counted through the bitmap */
	unsigned unsolicited;
	uint8_t unsol_ip[4], unsol_victim[4];
	uint64_t asked_bits[SWEEP_BITS / 64];
	uint8_t first_asked[4], last_asked[4];
	uint8_t ips[MAC_IPS_TRACKED][4];
};

/* Per source and destination: the first ports of a window, enough to see
 * the threshold. A scan past it moves to one of a few active records,
 * which count every port until it stops. */
struct scan_entry {
	uint64_t key; /* hash of family, source and destination; 0: free */
	uint32_t window_start_ms; /* the packet clock in ms, wrapping */
	uint8_t active; /* index + 1 of its active record, or 0 */
	uint8_t n_ports;
	uint16_t ports[NETDETECT_SCAN_PORTS_MAX];
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct scan_entry) == 64, "one cache line");

struct scan_active {
	bool used;
	uint64_t key;
	int family;
	uint8_t src[16], dst[16], src_mac[6];
	uint64_t first_us, last_us, syns;
	unsigned distinct, n_sample;
	uint16_t sample[SCAN_SAMPLE];
	uint64_t repeats;
	uint64_t bits[65536 / 64];
};

struct responder_entry {
	bool used;
	int family;
	uint8_t ip[16];
	uint64_t window_start;
	unsigned n_names;
	uint64_t name_hash[NAMES_TRACKED];
	char shown[NAMES_SHOWN][NAME_SHOWN_MAX];
};

/* A NetBIOS name and the address that registered it. */
struct owner_entry {
	uint64_t name_hash;
	uint8_t ip[4];
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
	struct binding *gateway; /* in guards, or NULL */
	uint32_t netmask;	 /* host order; the gateway's subnet */
	uint32_t subnet;
	struct mac_entry macs[MAC_SLOTS];
	struct scan_entry scans[SCAN_SLOTS];
	struct scan_active active[SCANS_ACTIVE];
	unsigned n_active;
	uint64_t scan_deadline; /* the earliest an active scan may end */
	struct responder_entry responders[RESPONDER_SLOTS];
	struct owner_entry owners[OWNER_SLOTS];
	struct xid_entry xids[XID_SLOTS];
	uint32_t asks[ASK_SLOTS];     /* hashed (asker, asked): a tag */
	uint32_t ask_time[ASK_SLOTS]; /* and when, in quarter seconds */
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
	cfg->arp_sweep = 64;
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

static uint32_t ip4(const uint8_t ip[4])
{
	return (uint32_t)ip[0] << 24 | (uint32_t)ip[1] << 16 |
	       (uint32_t)ip[2] << 8 | ip[3];
}

static struct binding *add_guard(struct netdetect *nd, const uint8_t ip[4],
				 enum guard_role role)
{
	for (size_t i = 0; i < nd->n_guards; i++)
		if (memcmp(nd->guards[i].ip, ip, 4) == 0)
			return &nd->guards[i];
	if (nd->n_guards == sizeof(nd->guards) / sizeof(nd->guards[0]))
		return NULL;
	struct binding *b = &nd->guards[nd->n_guards++];
	memcpy(b->ip, ip, 4);
	b->role = role;
	return b;
}

static void set_gateway(struct netdetect *nd, const uint8_t ip[4])
{
	nd->cfg.has_gateway = true;
	memcpy(nd->cfg.gateway_ip, ip, 4);
	nd->gateway = add_guard(nd, ip, ROLE_GATEWAY);
	if (nd->gateway)
		nd->gateway->role = ROLE_GATEWAY;
	nd->subnet = ip4(ip) & nd->netmask;
}

static void observe_mac(struct netdetect *nd, struct binding *b,
			const uint8_t mac[6], enum mac_source src,
			const struct net_packet *p);

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
	if (nd->cfg.arp_sweep > SWEEP_BITS / 2)
		nd->cfg.arp_sweep = SWEEP_BITS / 2;
	nd->alert = alert;
	nd->arg = arg;
	nd->netmask = ip4(cfg->netmask);
	if (nd->netmask == 0)
		nd->netmask = 0xffffff00u;
	msgpack_sbuffer_init(&nd->body);
	msgpack_packer_init(&nd->pk, &nd->body, msgpack_sbuffer_write);
	if (cfg->has_gateway) {
		set_gateway(nd, cfg->gateway_ip);
		if (cfg->has_gateway_mac && nd->gateway)
			observe_mac(nd, nd->gateway, cfg->gateway_mac,
				    cfg->gateway_mac_is_setting ? SRC_SETTING
								: SRC_NEIGHBOUR,
				    NULL);
	}
	for (size_t i = 0; i < cfg->n_dhcp_servers && i < NETDETECT_LIST_MAX; i++)
		add_guard(nd, cfg->dhcp_servers[i], ROLE_DHCP_SERVER);
	for (size_t i = 0; i < cfg->n_guarded && i < NETDETECT_LIST_MAX; i++)
		add_guard(nd, cfg->guarded[i], ROLE_GUARDED);
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

/* RFC 3339 in UTC: an officer reads "2027-01-15T08:00:01.250Z", not
 * microseconds since 1970. The date is computed here (the civil-from-days
 * algorithm of H. Hinnant), because glibc's gmtime_r reads the time zone
 * file on first use, which the sandbox refuses. */
static void format_time(uint64_t us, char *buf, size_t cap)
{
	uint64_t secs = us / US_PER_S;
	int64_t z = (int64_t)(secs / 86400) + 719468;
	unsigned sod = (unsigned)(secs % 86400);
	int64_t era = z / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	if (m <= 2)
		y++;
	if (y < 0 || y > 9999 || cap < 25) {
		snprintf(buf, cap, "?");
		return;
	}
	/* Digits by hand: this runs for every alert. */
	unsigned ms = (unsigned)(us % US_PER_S / 1000);
	unsigned v[] = {(unsigned)y / 100, (unsigned)y % 100, m, d,
			sod / 3600, sod / 60 % 60, sod % 60};
	static const char sep[] = "\0\0--T::";
	size_t at = 0;
	for (int i = 0; i < 7; i++) {
		if (sep[i])
			buf[at++] = sep[i];
		buf[at++] = (char)('0' + v[i] / 10);
		buf[at++] = (char)('0' + v[i] % 10);
	}
	buf[at++] = '.';
	buf[at++] = (char)('0' + ms / 100);
	buf[at++] = (char)('0' + ms / 10 % 10);
	buf[at++] = (char)('0' + ms % 10);
	buf[at++] = 'Z';
	buf[at] = '\0';
}

/* Concatenates the strings up to NULL into buf, cut to fit. For the
 * summaries of alerts that may come by the thousand (IOC hits), where
 * printf's format parsing is most of an alert's cost. */
static void join(char *buf, size_t cap, ...)
{
	va_list ap;
	size_t at = 0;
	va_start(ap, cap);
	for (const char *s; (s = va_arg(ap, const char *)) != NULL;) {
		size_t n = strlen(s);
		if (n > cap - 1 - at)
			n = cap - 1 - at;
		memcpy(buf + at, s, n);
		at += n;
	}
	va_end(ap);
	buf[at] = '\0';
}

static void pack_time(msgpack_packer *pk, const char *key, uint64_t us)
{
	char buf[40];
	format_time(us, buf, sizeof(buf));
	wire_pack_kv_str(pk, key, buf);
}

/* Opens the evidence map: fields of the detector, then the common five
 * (seen_us, time, repeats, summary_en, summary_vi), the last two packed
 * by finish_alert. */
static msgpack_packer *begin_alert(struct netdetect *nd, uint32_t fields)
{
	msgpack_sbuffer_clear(&nd->body);
	msgpack_pack_map(&nd->pk, fields + 5);
	wire_pack_kv_u64(&nd->pk, "seen_us", nd->now);
	pack_time(&nd->pk, "time", nd->now);
	wire_pack_kv_u64(&nd->pk, "repeats", nd->repeats);
	return &nd->pk;
}

static void finish_alert(struct netdetect *nd, const char *kind, int sev,
			 const char *en, const char *vi)
{
	wire_pack_kv_str(&nd->pk, "summary_en", en);
	wire_pack_kv_str(&nd->pk, "summary_vi", vi);
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

static int best_source(const struct binding_mac *m)
{
	for (int s = SRC_COUNT - 1; s >= 0; s--)
		if (m->sources & (1u << s))
			return s;
	return -1;
}

/* How far a MAC is believed to own its address: its best evidence, and
 * nothing at all when it behaves like a poisoner (repeated unsolicited
 * replies, the gateway's IP and one of its own) without a setting or a
 * lease to vouch for it. */
static int trust(const struct binding_mac *m)
{
	int best = best_source(m);
	if (best < SRC_DHCP &&
	    (m->unsolicited >= UNSOLICITED_REPEATS || m->other_ip))
		return -1;
	return best;
}

static void binding_key(const struct binding *b, const uint8_t mac[6],
			uint8_t key[10])
{
	memcpy(key, b->ip, 4);
	memcpy(key + 4, mac, 6);
}

/* One alert for a MAC claiming a guarded IP that better evidence gives to
 * another (expected may be NULL: no other MAC, a shape alone). */
static void spoof_alert(struct netdetect *nd, struct binding *b,
			struct binding_mac *claimed,
			const struct binding_mac *expected, const char *reason,
			const struct net_packet *p)
{
	uint8_t key[10];
	binding_key(b, claimed->mac, key);
	claimed->alerted = true;
	if (!dedupe_admit(nd, "net.arp_spoof", key, sizeof(key)))
		return;
	char ip[20], cm[24], em[24] = "", en[300], vi[300];
	net_format_ip(4, b->ip, ip, sizeof(ip));
	net_format_mac(claimed->mac, cm, sizeof(cm));
	/* Known before the first packet (the neighbour table): no time. */
	bool first = claimed->first_us != 0;
	uint32_t n = 5 + (first ? 1 : 0) + (expected ? 2 : 0) + (p ? 2 : 0) +
		     (claimed->unsolicited ? 1 : 0);
	msgpack_packer *pk = begin_alert(nd, n);
	wire_pack_kv_str(pk, "role", role_names[b->role]);
	wire_pack_kv_str(pk, "reason", reason);
	wire_pack_kv_str(pk, "ip", ip);
	wire_pack_kv_str(pk, "claimed_mac", cm);
	int cs = best_source(claimed);
	wire_pack_kv_str(pk, "claimed_from", cs >= 0 ? source_names[cs] : "?");
	if (first)
		pack_time(pk, "claimed_first", claimed->first_us);
	if (claimed->unsolicited)
		wire_pack_kv_u64(pk, "unsolicited_replies", claimed->unsolicited);
	if (expected) {
		net_format_mac(expected->mac, em, sizeof(em));
		wire_pack_kv_str(pk, "expected_mac", em);
		int es = best_source(expected);
		wire_pack_kv_str(pk, "expected_from",
				 es >= 0 ? source_names[es] : "?");
	}
	if (p) {
		pack_mac(pk, "eth_src", p->src_mac);
		pack_ip(pk, "target_ip", 4,
			p->l3 == NET_L3_ARP ? p->arp.target_ip : p->dst_ip);
	}
	const char *who = b->role == ROLE_GATEWAY ? "gateway" : "host";
	const char *vwho = b->role == ROLE_GATEWAY ? "cổng mạng (gateway)"
						   : "máy";
	if (expected) {
		snprintf(en, sizeof(en),
			 "ARP spoofing: %s claims to be the %s %s, which is %s",
			 cm, who, ip, em);
		snprintf(vi, sizeof(vi),
			 "Giả mạo ARP: %s tự nhận là %s %s, vốn là %s", cm,
			 vwho, ip, em);
	} else {
		snprintf(en, sizeof(en),
			 "ARP spoofing: %s claims to be the %s %s (%s)", cm, who,
			 ip, reason);
		snprintf(vi, sizeof(vi),
			 "Giả mạo ARP: %s tự nhận là %s %s (%s)", cm, vwho, ip,
			 reason);
	}
	finish_alert(nd, "net.arp_spoof",
		     b->role == ROLE_GUARDED ? 7 : 8, en, vi);
}

/* First-hop redundancy (VRRP, HSRP v1 and v2): the gateway's IP answers
 * ARP with a virtual MAC, while the active router routes with its own. */
static bool virtual_router_mac(const uint8_t m[6])
{
	return (m[0] == 0 && m[1] == 0 && m[2] == 0x5e && m[3] == 0 &&
		m[4] == 1) ||
	       (m[0] == 0 && m[1] == 0 && m[2] == 0x0c && m[3] == 0x07 &&
		m[4] == 0xac) ||
	       (m[0] == 0 && m[1] == 0 && m[2] == 0x0c && m[3] == 0x9f &&
		(m[4] & 0xf0) == 0xf0);
}

/* Evidence that comes from IP traffic alone. */
#define SOURCES_IP ((1u << SRC_ROUTED) | (1u << SRC_OWN_DST))

/* A virtual gateway MAC and a router's own MAC seen in routed traffic
 * are one gateway, not a conflict. */
static bool same_router(const struct binding_mac *a,
			const struct binding_mac *b)
{
	return (virtual_router_mac(a->mac) && !(b->sources & ~SOURCES_IP)) ||
	       (virtual_router_mac(b->mac) && !(a->sources & ~SOURCES_IP));
}

static const char *conflict_reason(int expected_source)
{
	if (expected_source >= SRC_DHCP || expected_source == SRC_NEIGHBOUR)
		return "not_the_known_mac";
	if (expected_source >= SRC_OWN_DST)
		return "ip_traffic_disagrees";
	if (expected_source == SRC_ARP_TARGET)
		return "arp_target_disagrees";
	if (expected_source == SRC_SOLICITED)
		return "unanswered_claim";
	return "two_macs";
}

/* Judges a binding after new evidence: the most trusted MAC is the owner,
 * every other one is blamed. When the claims are equal (two MACs seen
 * only as ARP senders), the later one is named but the reason says only
 * that two MACs disagree. current: the MAC of this packet, which is
 * re-judged (and counted as a repeat) every time it claims the address. */
static void judge(struct netdetect *nd, struct binding *b,
		  struct binding_mac *current, const struct net_packet *p)
{
	struct binding_mac *owner = NULL;
	int owner_trust = -2;
	for (unsigned i = 0; i < b->n_macs; i++) {
		int t = trust(&b->macs[i]);
		if (t > owner_trust ||
		    (t == owner_trust && b->macs[i].first_us < owner->first_us)) {
			owner = &b->macs[i];
			owner_trust = t;
		}
	}
	for (unsigned i = 0; i < b->n_macs; i++) {
		struct binding_mac *m = &b->macs[i];
		if (m == owner)
			continue;
		if (m != current && m->alerted)
			continue;
		if (same_router(m, owner) && trust(m) >= 0 && trust(owner) >= 0)
			continue;
		/* A trusted owner with an untrusted rival: blame the rival.
		 * Both untrusted (each a poisoner's shape): blame each. */
		spoof_alert(nd, b, m, owner_trust >= 0 ? owner : NULL,
			    owner_trust >= 0 ? conflict_reason(owner_trust)
					     : "conflicting_claims",
			    m == current ? p : NULL);
	}
	if (b->n_macs == 1 && current && trust(current) < 0) {
		/* No rival in sight, but the claim itself has a poisoner's
		 * shape. */
		spoof_alert(nd, b, current, NULL,
			    current->other_ip ? "claims_gateway_and_own_ip"
					      : "unsolicited_replies",
			    p);
	}
}

/* Records that mac was seen for b's address through src; judges the
 * binding when that is news, or when the packet is this MAC's claim. */
static void observe_mac(struct netdetect *nd, struct binding *b,
			const uint8_t mac[6], enum mac_source src,
			const struct net_packet *p)
{
	struct binding_mac *m = NULL;
	for (unsigned i = 0; i < b->n_macs; i++)
		if (memcmp(b->macs[i].mac, mac, 6) == 0)
			m = &b->macs[i];
	bool news = false;
	if (m == NULL) {
		if (b->n_macs == BINDING_MACS) {
			/* Full: forget the least trusted, never the owner. */
			unsigned worst = 0;
			for (unsigned i = 1; i < b->n_macs; i++)
				if (trust(&b->macs[i]) < trust(&b->macs[worst]))
					worst = i;
			b->macs[worst] = b->macs[--b->n_macs];
		}
		m = &b->macs[b->n_macs++];
		memset(m, 0, sizeof(*m));
		memcpy(m->mac, mac, 6);
		m->first_us = nd->now;
		news = true;
	}
	if (!(m->sources & (1u << src))) {
		m->sources |= (uint16_t)(1u << src);
		news = true;
	}
	if (src == SRC_UNSOLICITED && ++m->unsolicited == UNSOLICITED_REPEATS)
		news = true;
	bool claim = src <= SRC_SOLICITED && src != SRC_ARP_TARGET;
	if (news || (claim && (b->n_macs > 1 || trust(m) < 0)))
		judge(nd, b, claim ? m : NULL, p);
}

/* A reply is solicited when the host it goes to asked for that address
 * in the last seconds. The table remembers (asker, asked) pairs by hash
 * with the time of the ask. */
static uint32_t ask_slot(const uint8_t asker[4], const uint8_t asked[4],
			 uint32_t *tag)
{
	uint8_t k[8];
	memcpy(k, asker, 4);
	memcpy(k + 4, asked, 4);
	uint64_t h = hash_bytes(k, 8);
	*tag = (uint32_t)(h >> 40) | 1u;
	return (uint32_t)(h % ASK_SLOTS);
}

static void note_ask(struct netdetect *nd, const struct net_arp *a)
{
	uint32_t tag, slot = ask_slot(a->sender_ip, a->target_ip, &tag);
	nd->asks[slot] = tag;
	nd->ask_time[slot] = (uint32_t)(nd->now / (US_PER_S / 4));
}

static bool was_asked(struct netdetect *nd, const struct net_arp *a)
{
	uint32_t tag, slot = ask_slot(a->target_ip, a->sender_ip, &tag);
	uint32_t now = (uint32_t)(nd->now / (US_PER_S / 4));
	return nd->asks[slot] == tag &&
	       now - nd->ask_time[slot] <= ASK_WINDOW_US / (US_PER_S / 4);
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
		e->unsolicited = 0;
		if (e->asked) {
			memset(e->asked_bits, 0, sizeof(e->asked_bits));
			e->asked = 0;
		}
		e->used = true;
		memcpy(e->mac, mac, 6);
		e->window_start = nd->now;
	}
	return e;
}

static void flood_alert(struct netdetect *nd, const struct mac_entry *e,
			const char *reason, unsigned count)
{
	uint8_t key[7];
	memcpy(key, e->mac, 6);
	key[6] = (uint8_t)reason[1];
	if (!dedupe_admit(nd, "net.arp_flood", key, sizeof(key)))
		return;
	bool sweep = reason[1] == 'w';
	char mac[24], en[300], vi[300], first[20] = "", last[20] = "";
	net_format_mac(e->mac, mac, sizeof(mac));
	msgpack_packer *pk = begin_alert(nd, 5 + (sweep ? 3 : 0));
	wire_pack_kv_str(pk, "reason", reason);
	wire_pack_kv_str(pk, "mac", mac);
	wire_pack_kv_u64(pk, "count", count);
	wire_pack_kv_u64(pk, "window_s", nd->cfg.arp_window_s);
	if (sweep) {
		net_format_ip(4, e->first_asked, first, sizeof(first));
		net_format_ip(4, e->last_asked, last, sizeof(last));
		pack_time(pk, "first", e->window_start);
		wire_pack_kv_str(pk, "first_target", first);
		wire_pack_kv_str(pk, "last_target", last);
	}
	wire_pack_str(pk, "ips");
	unsigned shown = e->n_ips < 8 ? e->n_ips : 8;
	msgpack_pack_array(pk, shown);
	for (unsigned i = 0; i < shown; i++) {
		char buf[20];
		net_format_ip(4, e->ips[i], buf, sizeof(buf));
		wire_pack_str(pk, buf);
	}
	if (sweep) {
		snprintf(en, sizeof(en),
			 "ARP host sweep: %s asked for %u addresses in %u s "
			 "(%s ... %s), as scanners do",
			 mac, count, nd->cfg.arp_window_s, first, last);
		snprintf(vi, sizeof(vi),
			 "Quét máy qua ARP: %s hỏi %u địa chỉ trong %u giây "
			 "(%s ... %s), như công cụ dò quét",
			 mac, count, nd->cfg.arp_window_s, first, last);
	} else if (reason[0] == 'g') {
		snprintf(en, sizeof(en),
			 "ARP flood: %s sent %u gratuitous ARPs in %u s", mac,
			 count, nd->cfg.arp_window_s);
		snprintf(vi, sizeof(vi),
			 "Tràn ARP: %s gửi %u gói ARP tự nguyện trong %u giây",
			 mac, count, nd->cfg.arp_window_s);
	} else {
		snprintf(en, sizeof(en),
			 "ARP: %s claims %u addresses in %u s", mac, count,
			 nd->cfg.arp_window_s);
		snprintf(vi, sizeof(vi),
			 "ARP: %s tự nhận %u địa chỉ IP trong %u giây", mac,
			 count, nd->cfg.arp_window_s);
	}
	finish_alert(nd, "net.arp_flood", 6, en, vi);
}

static void check_arp(struct netdetect *nd, const struct net_packet *p)
{
	const struct net_arp *a = &p->arp;
	static const uint8_t zero[4];
	static const uint8_t zero_mac[6], bcast_mac[6] = {0xff, 0xff, 0xff,
							  0xff, 0xff, 0xff};
	bool probe = memcmp(a->sender_ip, zero, 4) == 0;
	bool gratuitous = memcmp(a->sender_ip, a->target_ip, 4) == 0;
	uint32_t tag, ask = ask_slot(a->target_ip, a->sender_ip, &tag);
	__builtin_prefetch(&nd->asks[ask]);
	struct mac_entry *e = mac_slot(nd, a->sender_mac);

	if (a->op == 1 && !gratuitous) {
		note_ask(nd, a);
		/* A sweep: many distinct targets asked by one MAC. */
		uint32_t bit = (uint32_t)(hash_bytes(a->target_ip, 4) % SWEEP_BITS);
		uint64_t mask = 1ULL << (bit % 64);
		if (!(e->asked_bits[bit / 64] & mask)) {
			e->asked_bits[bit / 64] |= mask;
			if (e->asked++ == 0)
				memcpy(e->first_asked, a->target_ip, 4);
			memcpy(e->last_asked, a->target_ip, 4);
			if (nd->cfg.arp_sweep && e->asked == nd->cfg.arp_sweep)
				flood_alert(nd, e, "sweep", e->asked);
		}
	}
	if (probe)
		return; /* an ARP probe claims nothing */

	bool unsolicited = a->op == 2 && !gratuitous && !was_asked(nd, a);
	bool solicited = a->op == 2 && !gratuitous && !unsolicited;
	if (unsolicited) {
		if (e->unsolicited == 0 ||
		    memcmp(e->unsol_ip, a->sender_ip, 4) != 0 ||
		    memcmp(e->unsol_victim, a->target_ip, 4) != 0) {
			e->unsolicited = 0;
			memcpy(e->unsol_ip, a->sender_ip, 4);
			memcpy(e->unsol_victim, a->target_ip, 4);
		}
		e->unsolicited++;
	}

	/* The sender's claim, and what the target fields say of another
	 * address. */
	struct binding *b = nd->n_guards ? find_guard(nd, a->sender_ip) : NULL;
	if (b) {
		observe_mac(nd, b, a->sender_mac,
			    unsolicited ? SRC_UNSOLICITED
			    : solicited ? SRC_SOLICITED
					: SRC_ARP_SENDER,
			    p);
	} else if (unsolicited && e->unsolicited == UNSOLICITED_REPEATS) {
		/* Not a guarded address, still a poisoner's shape: the same
		 * forged reply again and again to a victim that never
		 * asked. */
		struct binding tmp = {.role = ROLE_GUARDED, .n_macs = 1};
		memcpy(tmp.ip, a->sender_ip, 4);
		memcpy(tmp.macs[0].mac, a->sender_mac, 6);
		tmp.macs[0].sources = 1u << SRC_UNSOLICITED;
		tmp.macs[0].unsolicited = e->unsolicited;
		tmp.macs[0].first_us = e->window_start;
		spoof_alert(nd, &tmp, &tmp.macs[0], NULL, "unsolicited_replies",
			    p);
	}
	if (nd->n_guards && memcmp(a->target_mac, zero_mac, 6) != 0 &&
	    memcmp(a->target_mac, bcast_mac, 6) != 0 && !gratuitous) {
		struct binding *t = find_guard(nd, a->target_ip);
		if (t)
			observe_mac(nd, t, a->target_mac, SRC_ARP_TARGET, NULL);
	}

	if (gratuitous)
		e->garp++;
	bool known = false;
	for (unsigned i = 0; i < e->n_ips; i++)
		if (memcmp(e->ips[i], a->sender_ip, 4) == 0)
			known = true;
	if (!known && e->n_ips < MAC_IPS_TRACKED)
		memcpy(e->ips[e->n_ips++], a->sender_ip, 4);

	/* One MAC with the gateway's address and one of its own. */
	struct binding *gw = nd->gateway;
	if (gw && !known && e->n_ips >= 2) {
		bool has_gw = false;
		for (unsigned i = 0; i < e->n_ips; i++)
			if (memcmp(e->ips[i], gw->ip, 4) == 0)
				has_gw = true;
		for (unsigned i = 0; has_gw && i < gw->n_macs; i++)
			if (memcmp(gw->macs[i].mac, a->sender_mac, 6) == 0 &&
			    !gw->macs[i].other_ip) {
				gw->macs[i].other_ip = true;
				judge(nd, gw, &gw->macs[i], p);
			}
	}

	if (nd->cfg.arp_flood && gratuitous && e->garp == nd->cfg.arp_flood)
		flood_alert(nd, e, "gratuitous_flood", e->garp);
	else if (nd->cfg.mac_ips && !known && e->n_ips == nd->cfg.mac_ips)
		flood_alert(nd, e, "many_ips", e->n_ips);
}

/* Only the router brings traffic from the Internet. Private ranges are
 * left out because the LAN's mask may be wider than the /24 assumed, and
 * a neighbour in the next /24 is not a router. */
static bool is_public(uint32_t a)
{
	return a != 0 && (a >> 28) < 14 && (a >> 24) != 10 && (a >> 24) != 127 &&
	       (a & 0xfff00000u) != 0xac100000u && /* 172.16/12 */
	       (a & 0xffff0000u) != 0xc0a80000u && /* 192.168/16 */
	       (a & 0xffc00000u) != 0x64400000u && /* 100.64/10 */
	       (a & 0xffff0000u) != 0xa9fe0000u;   /* 169.254/16 */
}

/* Routed IPv4 traffic shows the gateway's MAC: frames from off the subnet
 * come from it, and this PC's frames to off the subnet go to it. A MAC
 * that claimed the gateway in ARP and also sends from an address of the
 * LAN is a poisoner speaking for itself. */
static void check_routed(struct netdetect *nd, const struct net_packet *p)
{
	struct binding *gw = nd->gateway;
	uint32_t src = ip4(p->src_ip);
	bool src_local = (src & nd->netmask) == nd->subnet;
	if (!src_local) {
		if (is_public(src))
			observe_mac(nd, gw, p->src_mac, SRC_ROUTED, NULL);
		return;
	}
	if (nd->cfg.has_own && memcmp(p->src_mac, nd->cfg.own_mac, 6) == 0 &&
	    is_public(ip4(p->dst_ip)) && p->dst_mac[0] % 2 == 0)
		observe_mac(nd, gw, p->dst_mac, SRC_OWN_DST, NULL);
	if (memcmp(p->src_ip, gw->ip, 4) == 0)
		return;
	for (unsigned i = 0; i < gw->n_macs; i++) {
		struct binding_mac *m = &gw->macs[i];
		if (!m->other_ip && memcmp(m->mac, p->src_mac, 6) == 0 &&
		    (m->sources & ((1u << SRC_UNSOLICITED) |
				   (1u << SRC_ARP_SENDER) |
				   (1u << SRC_SOLICITED)))) {
			m->other_ip = true;
			judge(nd, gw, m, p);
		}
	}
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
	char sip[20], smac[24], en[300], vi[300];
	net_format_ip(4, server, sip, sizeof(sip));
	net_format_mac(p->src_mac, smac, sizeof(smac));
	if (other) {
		snprintf(en, sizeof(en),
			 "Rogue DHCP: %s (%s) answers a client another server "
			 "already answered", sip, smac);
		snprintf(vi, sizeof(vi),
			 "DHCP giả mạo: %s (%s) trả lời máy khách mà máy chủ "
			 "khác đã trả lời", sip, smac);
	} else {
		snprintf(en, sizeof(en),
			 "Rogue DHCP: %s (%s) hands out addresses and is not "
			 "on the school's list", sip, smac);
		snprintf(vi, sizeof(vi),
			 "DHCP giả mạo: %s (%s) cấp địa chỉ IP nhưng không "
			 "có trong danh sách của trường", sip, smac);
	}
	finish_alert(nd, "net.rogue_dhcp", 8, en, vi);
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
	} else if (d.has_router && nd->cfg.n_dhcp_servers > 0 &&
		   (!nd->cfg.has_own ||
		    memcmp(d.client_mac, nd->cfg.own_mac, 6) == 0)) {
		/* The allowlisted server names the gateway: guard it. When
		 * the server is the router itself, its ACK also shows the
		 * router's MAC, which nothing forged before can outweigh. */
		if (!nd->cfg.has_gateway)
			set_gateway(nd, d.router);
		if (nd->gateway && d.message_type == 5 &&
		    memcmp(d.router, nd->gateway->ip, 4) == 0 &&
		    memcmp(p->src_ip, d.router, 4) == 0)
			observe_mac(nd, nd->gateway, p->src_mac, SRC_DHCP, NULL);
	}

	/* Two servers answering one transaction: one of them is rogue, even
	 * when no allowlist says which. Transactions are direct-mapped by
	 * xid; a newer one may evict an older, never merge with it. */
	struct xid_entry *x = &nd->xids[hash_bytes(&d.xid, 4) % XID_SLOTS];
	if (x->used && x->xid == d.xid && nd->now >= x->ts &&
	    nd->now - x->ts <= XID_WINDOW_US) {
		/* Two servers the school listed may both answer (failover
		 * pairs do): only an unlisted one is news, and that is
		 * reported above. */
		if (memcmp(x->server, server, 4) != 0 && nd->cfg.n_dhcp_servers == 0)
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
	char client[64], en[600], vi[600];
	net_format_ip(p->family, p->src_ip, client, sizeof(client));
	msgpack_packer *pk = begin_alert(nd, 6);
	wire_pack_kv_str(pk, "query", q.qname);
	wire_pack_kv_str(pk, "matched", matched);
	wire_pack_kv_u64(pk, "qtype", q.qtype);
	wire_pack_kv_str(pk, "client_ip", client);
	pack_mac(pk, "client_mac", p->src_mac);
	pack_ip(pk, "server_ip", p->family, p->dst_ip);
	join(en, sizeof(en), "Known-bad domain: ", client, " looked up ",
	     q.qname, " (listed: ", matched, ")", NULL);
	join(vi, sizeof(vi), "Tên miền độc hại: ", client, " tra cứu ",
	     q.qname, " (trong danh sách: ", matched, ")", NULL);
	finish_alert(nd, "net.ioc_dns", 7, en, vi);
}

static struct responder_entry *responder_slot(struct netdetect *nd,
					      const struct net_packet *p)
{
	struct responder_entry *e =
		&nd->responders[hash_bytes(p->src_ip, 16) % RESPONDER_SLOTS];
	uint64_t window = (uint64_t)nd->cfg.dedupe_window_s * US_PER_S;
	if (!e->used || e->family != p->family ||
	    memcmp(e->ip, p->src_ip, 16) != 0 || nd->now < e->window_start ||
	    nd->now - e->window_start >= window) {
		memset(e, 0, sizeof(*e));
		e->used = true;
		e->family = p->family;
		memcpy(e->ip, p->src_ip, 16);
		e->window_start = nd->now;
	}
	return e;
}

static struct owner_entry *owner_slot(struct netdetect *nd, uint64_t h)
{
	return &nd->owners[h % OWNER_SLOTS];
}

/* Names every Windows LAN answers for without anyone being poisoned: the
 * browsers' __MSBROWSE__, the workgroup's master browser <1d> and its
 * group <1e>, a domain's <1b>/<1c>, the logged-on user's messenger name
 * <03> (a second name of the same host), and any group name. */
static bool nbns_normal_name(const char *name, uint8_t suffix,
			     const struct net_dns *r)
{
	if (suffix == 0x03 || suffix == 0x1b || suffix == 0x1c || suffix == 0x1d ||
	    suffix == 0x1e || strncmp(name, "__MSBROWSE__<", 13) == 0 ||
	    name[0] == '*')
		return true;
	return r->nanswers > 0 && r->answers[0].type == 32 &&
	       (r->answers[0].nb_flags & 0x8000);
}

/* Names a poisoner wants asked: proxy auto-discovery above all. */
static bool bait_name(const char *base)
{
	return strcmp(base, "wpad") == 0 || strcmp(base, "isatap") == 0;
}

static void check_name_answer(struct netdetect *nd, const struct net_packet *p,
			      bool nbns)
{
	struct net_dns r;
	if (net_parse_dns(p->payload, p->payload_len, &r) != 0) {
		nd->stats.malformed++;
		return;
	}
	uint8_t suffix = 0;
	if (nbns && (r.qtype == 33 ||
		     (r.nanswers > 0 && r.answers[0].type == 33)))
		return; /* node status (NBSTAT): a host describing itself */
	if (nbns && net_nbns_decode_name(r.qname, &suffix) != 0)
		return;
	/* The name without its suffix, lower-case: a host's <00> and <20>
	 * are one name. */
	char base[NET_DNS_NAME_MAX + 1];
	size_t blen = nbns ? strcspn(r.qname, "<") : strlen(r.qname);
	for (size_t i = 0; i < blen; i++) {
		char c = r.qname[i];
		base[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	base[blen] = '\0';
	uint64_t h = hash_bytes(base, blen);

	/* A registration or refresh: the host owns the name. */
	if (nbns && !r.response && p->family == 4 &&
	    (r.opcode == 5 || r.opcode == 8 || r.opcode == 9)) {
		struct owner_entry *o = owner_slot(nd, h);
		o->name_hash = h;
		memcpy(o->ip, p->src_ip, 4);
		return;
	}
	if (!r.response || r.ancount == 0)
		return;
	if (p->family == 4 &&
	    in_list((const uint8_t(*)[4])nd->cfg.responders,
		    nd->cfg.n_responders, p->src_ip))
		return;
	if (nbns && nbns_normal_name(r.qname, suffix, &r))
		return;

	struct responder_entry *e = responder_slot(nd, p);
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
	 * for its own. A name another host registered, or bait such as
	 * wpad, is enough on its own. */
	const struct owner_entry *o = owner_slot(nd, h);
	const char *reason = NULL;
	if (p->family == 4 && o->name_hash == h &&
	    memcmp(o->ip, p->src_ip, 4) != 0)
		reason = "answers_another_hosts_name";
	else if (bait_name(base))
		reason = "bait_name";
	else if (e->n_names >= nd->cfg.poison_names)
		reason = "many_names";
	if (reason == NULL)
		return;
	uint8_t key[17];
	key[0] = (uint8_t)p->family;
	memcpy(key + 1, p->src_ip, 16);
	if (!dedupe_admit(nd, "net.llmnr_poison", key, sizeof(key)))
		return;
	bool has_answer = r.nanswers > 0 && r.answers[0].family;
	uint32_t n = 8 + (has_answer ? 1 : 0) + (o->name_hash == h ? 1 : 0);
	char resp[64], en[400], vi[400];
	net_format_ip(p->family, p->src_ip, resp, sizeof(resp));
	msgpack_packer *pk = begin_alert(nd, n);
	wire_pack_kv_str(pk, "protocol", nbns ? "nbns" : "llmnr");
	wire_pack_kv_str(pk, "reason", reason);
	wire_pack_kv_str(pk, "responder_ip", resp);
	pack_mac(pk, "responder_mac", p->src_mac);
	pack_ip(pk, "victim_ip", p->family, p->dst_ip);
	wire_pack_kv_str(pk, "name", r.qname);
	wire_pack_kv_u64(pk, "distinct_names", e->n_names);
	wire_pack_str(pk, "names");
	unsigned shown = e->n_names < NAMES_SHOWN ? e->n_names : NAMES_SHOWN;
	msgpack_pack_array(pk, shown);
	for (unsigned i = 0; i < shown; i++)
		wire_pack_str(pk, e->shown[i]);
	if (has_answer)
		pack_ip(pk, "answer", r.answers[0].family, r.answers[0].addr);
	if (o->name_hash == h)
		pack_ip(pk, "registered_by", 4, o->ip);
	snprintf(en, sizeof(en),
		 "Name poisoning (%s): %s answers for %s, a name that is not "
		 "its own (%s)",
		 nbns ? "NBNS" : "LLMNR", resp, r.qname, reason);
	snprintf(vi, sizeof(vi),
		 "Đầu độc phân giải tên (%s): %s trả lời thay cho tên %s, "
		 "không phải tên của nó (%s)",
		 nbns ? "NBNS" : "LLMNR", resp, r.qname, reason);
	finish_alert(nd, "net.llmnr_poison", 7, en, vi);
}

/* ---- IOC addresses and scans ---------------------------------------- */

static void check_ioc_ip(struct netdetect *nd, const struct net_packet *p)
{
	bool dst = iocset_match_ip(nd->cfg.ioc, p->family, p->dst_ip);
	bool src = !dst && iocset_match_ip(nd->cfg.ioc, p->family, p->src_ip);
	if (!dst && !src)
		return;
	/* A TCP connection is its SYN: the rest of the flow, and the
	 * SYN-ACK of one we already counted, are not new connections. */
	if (p->l4 == NET_L4_TCP &&
	    (p->tcp_flags & (NET_TCP_SYN | NET_TCP_ACK)) != NET_TCP_SYN)
		return;
	const uint8_t *ioc = dst ? p->dst_ip : p->src_ip;
	const uint8_t *local = dst ? p->src_ip : p->dst_ip;
	uint8_t key[32];
	memcpy(key, ioc, 16);
	memcpy(key + 16, local, 16);
	if (!dedupe_admit(nd, "net.ioc_ip", key, sizeof(key)))
		return;
	char ioc_s[64], local_s[64], en[300], vi[300];
	net_format_ip(p->family, ioc, ioc_s, sizeof(ioc_s));
	net_format_ip(p->family, local, local_s, sizeof(local_s));
	const char *proto = p->l4 == NET_L4_TCP   ? "tcp"
			    : p->l4 == NET_L4_UDP ? "udp"
						  : "ip";
	unsigned port = dst ? p->dst_port : p->src_port;
	msgpack_packer *pk = begin_alert(nd, 6);
	wire_pack_kv_str(pk, "ioc_ip", ioc_s);
	wire_pack_kv_str(pk, "local_ip", local_s);
	pack_mac(pk, "local_mac", dst ? p->src_mac : p->dst_mac);
	wire_pack_kv_str(pk, "direction", dst ? "outbound" : "inbound");
	wire_pack_kv_str(pk, "proto", proto);
	wire_pack_kv_u64(pk, "port", port);
	if (dst) {
		snprintf(en, sizeof(en),
			 "Known-bad address: %s connected to %s (%s port %u)",
			 local_s, ioc_s, proto, port);
		snprintf(vi, sizeof(vi),
			 "Địa chỉ độc hại: %s kết nối tới %s (%s cổng %u)",
			 local_s, ioc_s, proto, port);
	} else {
		snprintf(en, sizeof(en),
			 "Known-bad address: %s connected to %s (%s port %u)",
			 ioc_s, local_s, proto, port);
		snprintf(vi, sizeof(vi),
			 "Địa chỉ độc hại: %s kết nối tới %s (%s cổng %u)",
			 ioc_s, local_s, proto, port);
	}
	finish_alert(nd, "net.ioc_ip", 7, en, vi);
}

static void scan_report(struct netdetect *nd, struct scan_active *s)
{
	uint64_t saved_now = nd->now, saved_rep = nd->repeats;
	nd->now = s->last_us;
	nd->repeats = s->repeats;
	char src[64], dst[64], first[40], last[40], en[400], vi[400];
	net_format_ip(s->family, s->src, src, sizeof(src));
	net_format_ip(s->family, s->dst, dst, sizeof(dst));
	format_time(s->first_us, first, sizeof(first));
	format_time(s->last_us, last, sizeof(last));
	msgpack_packer *pk = begin_alert(nd, 9);
	wire_pack_kv_str(pk, "src_ip", src);
	pack_mac(pk, "src_mac", s->src_mac);
	wire_pack_kv_str(pk, "dst_ip", dst);
	wire_pack_kv_u64(pk, "distinct_ports", s->distinct);
	wire_pack_kv_u64(pk, "syns", s->syns);
	wire_pack_kv_u64(pk, "window_s", nd->cfg.scan_window_s);
	wire_pack_kv_str(pk, "first", first);
	wire_pack_kv_str(pk, "last", last);
	wire_pack_str(pk, "ports");
	msgpack_pack_array(pk, s->n_sample);
	for (unsigned i = 0; i < s->n_sample; i++)
		msgpack_pack_uint16(pk, s->sample[i]);
	snprintf(en, sizeof(en),
		 "Port scan: %s probed %u ports of %s (%llu SYNs, %s to %s)",
		 src, s->distinct, dst, (unsigned long long)s->syns, first,
		 last);
	snprintf(vi, sizeof(vi),
		 "Dò quét cổng: %s thăm dò %u cổng của %s (%llu gói SYN, "
		 "từ %s đến %s)",
		 src, s->distinct, dst, (unsigned long long)s->syns, first,
		 last);
	finish_alert(nd, "net.port_scan", 5, en, vi);
	nd->now = saved_now;
	nd->repeats = saved_rep;
	s->used = false;
	nd->n_active--;
	for (size_t i = 0; i < SCAN_SLOTS; i++)
		if (nd->scans[i].active == (uint8_t)(s - nd->active) + 1)
			nd->scans[i].active = 0;
}

void netdetect_flush(struct netdetect *nd, uint64_t now_us)
{
	uint64_t idle = (uint64_t)nd->cfg.scan_window_s * US_PER_S;
	nd->scan_deadline = UINT64_MAX;
	for (unsigned i = 0; i < SCANS_ACTIVE; i++) {
		struct scan_active *s = &nd->active[i];
		if (!s->used)
			continue;
		if (now_us >= s->last_us + idle ||
		    now_us >= s->first_us + SCAN_MAX_US) {
			scan_report(nd, s);
			continue;
		}
		uint64_t d = s->last_us + idle;
		if (s->first_us + SCAN_MAX_US < d)
			d = s->first_us + SCAN_MAX_US;
		if (d < nd->scan_deadline)
			nd->scan_deadline = d;
	}
}

static void scan_count(struct scan_active *s, uint16_t port)
{
	s->syns++;
	uint64_t bit = 1ULL << (port % 64);
	if (s->bits[port / 64] & bit)
		return;
	s->bits[port / 64] |= bit;
	s->distinct++;
	if (s->n_sample < SCAN_SAMPLE)
		s->sample[s->n_sample++] = port;
}

/* A scan past the threshold: counted in an active record until it stops,
 * then reported once with its real size. With every record busy (a flood
 * of scanners), it is reported at once with what is known. */
static void scan_start(struct netdetect *nd, struct scan_entry *e,
		       const struct net_packet *p, uint64_t first_us)
{
	struct scan_active *s = NULL;
	for (unsigned i = 0; i < SCANS_ACTIVE && s == NULL; i++)
		if (!nd->active[i].used)
			s = &nd->active[i];
	struct scan_active tmp;
	bool now = s == NULL;
	if (now)
		s = &tmp;
	s->used = true;
	s->key = e->key;
	s->family = p->family;
	memcpy(s->src, p->src_ip, 16);
	memcpy(s->dst, p->dst_ip, 16);
	memcpy(s->src_mac, p->src_mac, 6);
	s->first_us = first_us;
	s->last_us = nd->now;
	s->syns = 0;
	s->distinct = 0;
	s->n_sample = 0;
	s->repeats = nd->repeats;
	memset(s->bits, 0, sizeof(s->bits));
	for (unsigned i = 0; i < e->n_ports; i++)
		scan_count(s, e->ports[i]);
	nd->n_active++;
	if (now) {
		scan_report(nd, s);
		return;
	}
	e->active = (uint8_t)(s - nd->active) + 1;
	if (s->last_us + (uint64_t)nd->cfg.scan_window_s * US_PER_S <
	    nd->scan_deadline)
		nd->scan_deadline =
			s->last_us + (uint64_t)nd->cfg.scan_window_s * US_PER_S;
}

static uint64_t syn_key(const struct net_packet *p, uint8_t key[33])
{
	key[0] = (uint8_t)p->family;
	memcpy(key + 1, p->src_ip, 16);
	memcpy(key + 17, p->dst_ip, 16);
	return hash_bytes(key, 33);
}

/* h and key from syn_key, computed early so that the slot could be
 * prefetched while the other detectors ran. */
static void check_syn(struct netdetect *nd, const struct net_packet *p,
		      uint64_t h, const uint8_t key[33])
{
	struct scan_entry *e = &nd->scans[h % SCAN_SLOTS];
	h |= 1; /* 0 marks a free entry */
	uint32_t now_ms = (uint32_t)(nd->now / 1000);
	if (e->active && e->key == h) {
		struct scan_active *s = &nd->active[e->active - 1];
		s->last_us = nd->now;
		scan_count(s, p->dst_port);
		return;
	}
	uint32_t elapsed_ms = now_ms - e->window_start_ms;
	if (e->key != h || elapsed_ms >= nd->cfg.scan_window_s * 1000u) {
		e->key = h;
		e->n_ports = 0;
		e->active = 0;
		e->window_start_ms = now_ms;
		elapsed_ms = 0;
	}
	for (unsigned i = 0; i < e->n_ports; i++)
		if (e->ports[i] == p->dst_port)
			return;
	if (e->n_ports >= NETDETECT_SCAN_PORTS_MAX)
		return;
	e->ports[e->n_ports++] = p->dst_port;
	if (e->n_ports != nd->cfg.scan_ports)
		return;
	if (!dedupe_admit(nd, "net.port_scan", key, 33))
		return;
	scan_start(nd, e, p, nd->now - (uint64_t)elapsed_ms * 1000);
}

/* ---- dispatch ---------------------------------------------------------- */

void netdetect_packet(struct netdetect *nd, const uint8_t *frame, size_t len,
		      uint64_t ts_us)
{
	struct net_packet p;
	nd->stats.packets++;
	nd->now = ts_us;
	if (nd->n_active && ts_us >= nd->scan_deadline)
		netdetect_flush(nd, ts_us);
	if (net_parse_frame(frame, len, &p) != 0) {
		nd->stats.malformed++;
		return;
	}
	if (p.l3 == NET_L3_ARP) {
		check_arp(nd, &p);
		return;
	}
	if (p.l3 != NET_L3_IPV4 && p.l3 != NET_L3_IPV6)
		return;
	/* A SYN's scan slot is a likely cache miss: ask for it now and let
	 * the other checks run while it comes. */
	bool syn = p.l4 == NET_L4_TCP && nd->cfg.scan_ports &&
		   (p.tcp_flags & (NET_TCP_SYN | NET_TCP_ACK)) == NET_TCP_SYN;
	uint8_t key[33];
	uint64_t h = 0;
	if (syn) {
		h = syn_key(&p, key);
		__builtin_prefetch(&nd->scans[h % SCAN_SLOTS]);
	}
	if (p.l3 == NET_L3_IPV4 && nd->gateway)
		check_routed(nd, &p);
	if (nd->cfg.ioc)
		check_ioc_ip(nd, &p);
	if (p.l4 == NET_L4_TCP) {
		if (syn)
			check_syn(nd, &p, h, key);
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
	else if (p.src_port == 137 || p.dst_port == 137)
		check_name_answer(nd, &p, true);
}
