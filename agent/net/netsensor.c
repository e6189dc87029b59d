#include "agent/net/netsensor.h"
#include "agent/net/netsensor_settings.h"
#include "agent/core/sources.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "agent/core/childproc.h"
#include "agent/net/iocset.h"
#include "agent/net/netdetect.h"
#include "agent/net/netparse.h"
#include "agent/platform/platform.h"
#include "agent/platform/sandbox.h"
#include "common/alloc.h"
#include "common/event.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/wire.h"

#define SNAPLEN 1024
#define STATS_INTERVAL_S 3600

/* ARP, DHCP, DNS, LLMNR and NBNS, and TCP SYNs (inbound scans, outbound
 * connections to listed addresses) and SYN-ACKs (one a connection: whose
 * MAC brings the Internet's answers, which is the gateway's); the same
 * again under one 802.1Q tag. IPv6 TCP flags are read at their fixed
 * offset (40 + 13) because BPF's tcp[] is IPv4-only. */
#define FILTER_BODY                                                          \
	"arp or (udp and (port 67 or port 68 or port 53 or port 5355 or "    \
	"port 137)) or (ip and tcp and tcp[tcpflags] & tcp-syn != 0) or "    \
	"(ip6 and ip6[6] = 6 and ip6[53] & 0x12 = 0x02)"
const char netsensor_filter[] =
	"(" FILTER_BODY ") or (vlan and (" FILTER_BODY "))";

/* ---- configuration ----------------------------------------------------- */

static int load_ioc(const char *path, struct iocset **out, char *err,
		    size_t errlen)
{
	struct iocset *set = iocset_new();
	if (set == NULL)
		return -ENOMEM;
	int rc = iocset_load_file(set, path, err, errlen);
	if (rc != 0) {
		iocset_free(set);
		return rc;
	}
	*out = set;
	return 0;
}

static int parse_mac(const char *text, uint8_t mac[6])
{
	unsigned m[6];
	char tail;
	if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2],
		   &m[3], &m[4], &m[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)m[i];
	return 0;
}

/* This PC on the capture interface: its MAC, IPv4 address and mask, so
 * that its own traffic and its own DHCP lease can vouch for the
 * gateway. */
static void own_addresses(const char *iface, struct netdetect_config *cfg)
{
	struct ifaddrs *all = NULL, *i;
	bool mac = false, ip = false;
	if (getifaddrs(&all) != 0)
		return;
	for (i = all; i; i = i->ifa_next) {
		if (i->ifa_addr == NULL || strcmp(i->ifa_name, iface) != 0)
			continue;
		if (i->ifa_addr->sa_family == AF_PACKET && !mac) {
			const struct sockaddr_ll *ll =
				(const struct sockaddr_ll *)i->ifa_addr;
			if (ll->sll_halen == 6) {
				memcpy(cfg->own_mac, ll->sll_addr, 6);
				mac = true;
			}
		} else if (i->ifa_addr->sa_family == AF_INET && !ip) {
			const struct sockaddr_in *a =
				(const struct sockaddr_in *)i->ifa_addr;
			memcpy(cfg->own_ip, &a->sin_addr, 4);
			if (i->ifa_netmask)
				memcpy(cfg->netmask,
				       &((const struct sockaddr_in *)
						 i->ifa_netmask)->sin_addr,
				       4);
			ip = true;
		}
	}
	freeifaddrs(all);
	cfg->has_own = mac && ip;
}

/* Fills the detector settings. live: also ask the system for the default
 * route's interface and gateway, the gateway's current MAC and this PC's
 * own addresses. */
static int prepare(const struct agent_settings *s, bool live,
		   const char *ioc_override, const char *gateway_mac,
		   struct netdetect_config *cfg, struct iocset **ioc,
		   char *iface, size_t iface_cap, char *err, size_t errlen)
{
	const struct netsensor_settings *ns =
		s ? agent_settings_for(s, &netsensor_config) : NULL;
	netdetect_config_defaults(cfg);
	*ioc = NULL;
	iface[0] = '\0';
	char ioc_path[600] = "";
	if (ioc_override)
		snprintf(ioc_path, sizeof(ioc_path), "%s", ioc_override);
	if (s) {
		cfg->scan_ports = (unsigned)ns->net_scan_ports;
		cfg->scan_window_s = (unsigned)ns->net_scan_window;
		cfg->arp_flood = (unsigned)ns->net_arp_flood;
		cfg->mac_ips = (unsigned)ns->net_mac_ips;
		cfg->arp_window_s = (unsigned)ns->net_arp_window;
		cfg->arp_sweep = (unsigned)ns->net_arp_sweep;
		cfg->poison_names = (unsigned)ns->net_poison_names;
		cfg->dedupe_window_s = (unsigned)ns->net_dedupe_window;
		memcpy(cfg->guarded, ns->net_guarded, sizeof(cfg->guarded));
		cfg->n_guarded = ns->net_n_guarded;
		memcpy(cfg->dhcp_servers, ns->net_dhcp_servers,
		       sizeof(cfg->dhcp_servers));
		cfg->n_dhcp_servers = ns->net_n_dhcp_servers;
		memcpy(cfg->responders, ns->net_responders,
		       sizeof(cfg->responders));
		cfg->n_responders = ns->net_n_responders;
		if (ns->net_gateway[0] &&
		    inet_pton(AF_INET, ns->net_gateway, cfg->gateway_ip) == 1)
			cfg->has_gateway = true;
		if (!gateway_mac && ns->net_gateway_mac[0])
			gateway_mac = ns->net_gateway_mac;
		snprintf(iface, iface_cap, "%s", ns->net_interface);
		if (!ioc_override && ns->net_ioc_file[0])
			snprintf(ioc_path, sizeof(ioc_path), "%s",
				 ns->net_ioc_file);
		else if (!ioc_override) {
			snprintf(ioc_path, sizeof(ioc_path), "%s/ioc.txt",
				 s->state_dir);
			if (access(ioc_path, F_OK) != 0)
				ioc_path[0] = '\0';
		}
	}
	if (live) {
		char route_if[64];
		uint8_t gw[4];
		if (platform_default_route(route_if, sizeof(route_if), gw) == 0) {
			if (iface[0] == '\0')
				snprintf(iface, iface_cap, "%s", route_if);
			if (!cfg->has_gateway) {
				memcpy(cfg->gateway_ip, gw, 4);
				cfg->has_gateway = true;
			}
		}
		if (!gateway_mac && cfg->has_gateway &&
		    platform_arp_lookup(cfg->gateway_ip, cfg->gateway_mac) == 0)
			cfg->has_gateway_mac = true;
		if (iface[0] == '\0') {
			snprintf(err, errlen, "no default route and no "
					      "netsensor.interface set");
			return -ENOENT;
		}
		own_addresses(iface, cfg);
	}
	if (gateway_mac) {
		if (parse_mac(gateway_mac, cfg->gateway_mac) != 0) {
			snprintf(err, errlen,
				 "gateway MAC '%s' is not like 00:1a:2b:3c:4d:5e",
				 gateway_mac);
			return -EINVAL;
		}
		cfg->has_gateway_mac = true;
		cfg->gateway_mac_is_setting = true;
	}
	if (ioc_path[0] && load_ioc(ioc_path, ioc, err, errlen) != 0)
		return -EINVAL;
	cfg->ioc = *ioc;
	return 0;
}

/* ---- the live helper --------------------------------------------------- */

struct live {
	struct netdetect *nd;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	bool parent_gone;
};

static void send_map(struct live *lv)
{
	if (childproc_send(STDOUT_FILENO, lv->sb.data, lv->sb.size) != 0)
		lv->parent_gone = true;
	msgpack_sbuffer_clear(&lv->sb);
}

static void send_error(struct live *lv, const char *msg)
{
	msgpack_pack_map(&lv->pk, 2);
	wire_pack_kv_str(&lv->pk, "t", "error");
	wire_pack_kv_str(&lv->pk, "msg", msg);
	send_map(lv);
}

static void live_alert(void *arg, const char *kind, int sev, const char *body,
		       size_t len)
{
	struct live *lv = arg;
	msgpack_pack_map(&lv->pk, 4);
	wire_pack_kv_str(&lv->pk, "t", "alert");
	wire_pack_kv_str(&lv->pk, "kind", kind);
	wire_pack_kv_u64(&lv->pk, "sev", (uint64_t)sev);
	wire_pack_str(&lv->pk, "body");
	msgpack_pack_bin(&lv->pk, len);
	msgpack_pack_bin_body(&lv->pk, body, len);
	send_map(lv);
}

/* The detectors' clock: the capture's timestamp, live or from a file. */
static uint64_t packet_us(const struct pcap_pkthdr *h)
{
	return (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
}

static void live_packet(u_char *arg, const struct pcap_pkthdr *h,
			const u_char *data)
{
	struct live *lv = (struct live *)arg;
	netdetect_packet(lv->nd, data, h->caplen, packet_us(h));
}

static void send_stats(struct live *lv, pcap_t *pc)
{
	struct netdetect_stats st;
	struct pcap_stat ps = {0};
	netdetect_get_stats(lv->nd, &st);
	pcap_stats(pc, &ps);
	msgpack_pack_map(&lv->pk, 7);
	wire_pack_kv_str(&lv->pk, "t", "stats");
	wire_pack_kv_u64(&lv->pk, "packets", st.packets);
	wire_pack_kv_u64(&lv->pk, "malformed", st.malformed);
	wire_pack_kv_u64(&lv->pk, "alerts", st.alerts);
	wire_pack_kv_u64(&lv->pk, "suppressed", st.suppressed);
	wire_pack_kv_u64(&lv->pk, "received", ps.ps_recv);
	wire_pack_kv_u64(&lv->pk, "dropped", ps.ps_drop);
	send_map(lv);
}

static pcap_t *open_live(const char *iface, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE] = "";
	struct bpf_program prog;
	pcap_t *pc = pcap_create(iface, perr);
	if (pc == NULL) {
		snprintf(err, errlen, "capture on %s: %s", iface, perr);
		return NULL;
	}
	/* Not promiscuous: a PC needs only broadcast, multicast and its own
	 * traffic, and students' traffic is not ours to look at. */
	pcap_set_snaplen(pc, SNAPLEN);
	pcap_set_promisc(pc, 0);
	pcap_set_timeout(pc, 1000);
	pcap_set_buffer_size(pc, 2 << 20);
	int rc = pcap_activate(pc);
	if (rc < 0) {
		snprintf(err, errlen, "capture on %s: %s%s", iface,
			 pcap_geterr(pc),
			 rc == PCAP_ERROR_PERM_DENIED ? " (needs root or "
							"CAP_NET_RAW)"
						      : "");
		pcap_close(pc);
		return NULL;
	}
	if (pcap_datalink(pc) != DLT_EN10MB) {
		snprintf(err, errlen, "capture on %s: not an Ethernet link",
			 iface);
		pcap_close(pc);
		return NULL;
	}
	if (pcap_compile(pc, &prog, netsensor_filter, 1,
			 PCAP_NETMASK_UNKNOWN) != 0 ||
	    pcap_setfilter(pc, &prog) != 0) {
		snprintf(err, errlen, "capture filter: %s", pcap_geterr(pc));
		pcap_close(pc);
		return NULL;
	}
	pcap_freecode(&prog);
	/* Non-blocking, with our own poll: with TPACKET_V3 a quiet LAN never
	 * retires a block, and a blocking read would never return, so a
	 * scan that has stopped would never be reported. */
	if (pcap_setnonblock(pc, 1, perr) != 0 ||
	    pcap_get_selectable_fd(pc) < 0) {
		snprintf(err, errlen, "capture on %s: cannot poll: %s", iface,
			 perr);
		pcap_close(pc);
		return NULL;
	}
	return pc;
}

int netsensor_child_main(const struct agent_settings *s)
{
	struct live lv = {0};
	struct netdetect_config cfg;
	struct iocset *ioc = NULL;
	char iface[64], err[512];
	pcap_t *pc = NULL;
	int code = 1;
	pid_t parent = getppid();
	signal(SIGPIPE, SIG_IGN);
	msgpack_sbuffer_init(&lv.sb);
	msgpack_packer_init(&lv.pk, &lv.sb, msgpack_sbuffer_write);

	if (prepare(s, true, NULL, NULL, &cfg, &ioc, iface, sizeof(iface), err,
		    sizeof(err)) != 0 ||
	    (pc = open_live(iface, err, sizeof(err))) == NULL) {
		send_error(&lv, err);
		goto out;
	}
	/* Everything this process needs is open: give up the rest before
	 * the first packet is parsed. */
	struct sandbox_policy policy = {.out_fd = STDOUT_FILENO,
					.packet_capture = true};
	if (sandbox_enter(&policy, err, sizeof(err)) != 0) {
		send_error(&lv, err);
		goto out;
	}
	lv.nd = netdetect_new(&cfg, live_alert, &lv);
	if (lv.nd == NULL)
		goto out;
	char gw[20] = "", gwmac[24] = "";
	if (cfg.has_gateway)
		net_format_ip(4, cfg.gateway_ip, gw, sizeof(gw));
	if (cfg.has_gateway_mac)
		net_format_mac(cfg.gateway_mac, gwmac, sizeof(gwmac));
	msgpack_pack_map(&lv.pk, 8);
	wire_pack_kv_str(&lv.pk, "t", "ready");
	wire_pack_kv_str(&lv.pk, "iface", iface);
	wire_pack_kv_str(&lv.pk, "filter", netsensor_filter);
	wire_pack_kv_str(&lv.pk, "gateway", gw);
	wire_pack_kv_str(&lv.pk, "gateway_mac", gwmac);
	wire_pack_kv_u64(&lv.pk, "ioc_domains", ioc ? iocset_domain_count(ioc) : 0);
	wire_pack_kv_u64(&lv.pk, "ioc_ips", ioc ? iocset_ip_count(ioc) : 0);
	wire_pack_kv_bool(&lv.pk, "seccomp", sandbox_has_seccomp());
	send_map(&lv);

	int64_t next_stats = timeutil_now_us() + STATS_INTERVAL_S * 1000000LL;
	while (!lv.parent_gone && getppid() == parent) {
		struct pollfd pfd = {.fd = pcap_get_selectable_fd(pc),
				     .events = POLLIN};
		if (poll(&pfd, 1, 1000) < 0 && errno != EINTR) {
			send_error(&lv, "capture: poll failed");
			goto out;
		}
		int n = pcap_dispatch(pc, -1, live_packet, (u_char *)&lv);
		if (n == PCAP_ERROR) {
			snprintf(err, sizeof(err), "capture: %s", pcap_geterr(pc));
			send_error(&lv, err);
			goto out;
		}
		/* A scan is reported when it stops: time moves on without
		 * packets too. */
		netdetect_flush(lv.nd, (uint64_t)timeutil_now_us());
		if (timeutil_now_us() >= next_stats) {
			send_stats(&lv, pc);
			next_stats += STATS_INTERVAL_S * 1000000LL;
		}
	}
	code = 0;
out:
	netdetect_free(lv.nd);
	iocset_free(ioc);
	if (pc)
		pcap_close(pc);
	msgpack_sbuffer_destroy(&lv.sb);
	return code;
}

/* ---- a capture file ---------------------------------------------------- */

struct sniff {
	bool json;
};

static void print_alert(void *arg, const char *kind, int sev, const char *body,
			size_t len)
{
	struct sniff *sn = arg;
	char *json = NULL;
	if (event_body_to_json(body, len, &json) != 0)
		return;
	if (sn->json) {
		printf("{\"kind\":\"%s\",\"sev\":%d,\"evidence\":%s}\n", kind, sev,
		       json);
	} else {
		printf("%-17s sev %-2d %s\n", kind, sev, json);
	}
	alloc_free(json);
}

int netsensor_sniff_file(const struct agent_settings *s,
			 const struct sniff_options *opts)
{
	struct netdetect_config cfg;
	struct iocset *ioc = NULL;
	struct netdetect *nd = NULL;
	pcap_t *pc = NULL;
	char iface[64], err[512], perr[PCAP_ERRBUF_SIZE] = "";
	struct sniff sn = {.json = opts->json};
	int code = 1;
	/* With stdout closed, the capture would be opened as descriptor 1
	 * and every alert written into it, silently lost. */
	int fl = fcntl(STDOUT_FILENO, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY) {
		fprintf(stderr, "eduwatch-agent: sniff: standard output is %s; "
				"send it to a file, a pipe or /dev/null\n",
			fl < 0 ? "closed" : "open for reading only");
		return 1;
	}
	if (prepare(s, false, opts->ioc_file, opts->gateway_mac, &cfg, &ioc,
		    iface, sizeof(iface), err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-agent: %s\n", err);
		return 3;
	}
	if ((pc = pcap_open_offline(opts->pcap, perr)) == NULL) {
		/* libpcap names the file for a missing one, not for one that
		 * is not a capture. */
		if (strstr(perr, opts->pcap))
			fprintf(stderr, "eduwatch-agent: %s\n", perr);
		else
			fprintf(stderr, "eduwatch-agent: %s: %s\n", opts->pcap,
				perr);
		goto out;
	}
	if (pcap_datalink(pc) != DLT_EN10MB) {
		fprintf(stderr, "eduwatch-agent: %s: only Ethernet captures are "
				"read (link type %d)\n",
			opts->pcap, pcap_datalink(pc));
		goto out;
	}
	/* A capture file is as hostile as the LAN it came from. */
	struct sandbox_policy policy = {.out_fd = STDOUT_FILENO};
	if (sandbox_enter(&policy, err, sizeof(err)) != 0) {
		fprintf(stderr, "eduwatch-agent: %s\n", err);
		goto out;
	}
	if ((nd = netdetect_new(&cfg, print_alert, &sn)) == NULL)
		goto out;
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc;
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1)
		netdetect_packet(nd, data, h->caplen, packet_us(h));
	netdetect_flush(nd, UINT64_MAX);
	struct netdetect_stats st;
	netdetect_get_stats(nd, &st);
	code = 0;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		char ebuf[128];
		fprintf(stderr, "eduwatch-agent: sniff: writing the alerts of "
				"%s to standard output: %s\n",
			opts->pcap, strerror_r(errno, ebuf, sizeof(ebuf)));
		code = 1;
	}
	if (rc == PCAP_ERROR) {
		fprintf(stderr, "eduwatch-agent: %s: %s (after %llu packets)\n",
			opts->pcap, pcap_geterr(pc),
			(unsigned long long)st.packets);
		code = 1;
	}
	fprintf(stderr,
		"sniff: %llu packets, %llu malformed, %llu alerts (%llu "
		"repeats folded)\n",
		(unsigned long long)st.packets, (unsigned long long)st.malformed,
		(unsigned long long)st.alerts,
		(unsigned long long)st.suppressed);
out:
	netdetect_free(nd);
	if (pc)
		pcap_close(pc);
	iocset_free(ioc);
	return code;
}
