/* netbench: the LAN sensor's detector throughput against a bare libpcap
 * read loop over the same capture, in the same run.
 *
 *   netbench gen FILE PACKETS   write a capture of what the sensor's BPF
 *                               filter admits on a busy school LAN
 *   netbench run FILE IOCFILE   9 rounds of a pcap_next_ex loop that only
 *                               touches each packet and the same loop
 *                               feeding netdetect with the IOC list;
 *                               ratio is the median of the rounds'
 *                               ratios, best_ratio best over best
 * The capture mixes ARP (200 hosts, one spoofer), DNS queries (names that
 * miss and hit a 100,000-domain IOC list), DHCP offers, LLMNR answers and
 * TCP SYNs (normal connections and two scans). */
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/net/iocset.h"
#include "agent/net/netdetect.h"

static uint8_t frame[600];
static size_t flen;

static void put(const void *p, size_t n)
{
	memcpy(frame + flen, p, n);
	flen += n;
}
static void put8(uint8_t v) { put(&v, 1); }
static void put16(uint16_t v)
{
	uint16_t n = htons(v);
	put(&n, 2);
}
static void put32(uint32_t v)
{
	uint32_t n = htonl(v);
	put(&n, 4);
}

static void ether(uint32_t src, uint32_t dst, uint16_t type)
{
	flen = 0;
	uint8_t d[6] = {2, 0, 0, (uint8_t)(dst >> 16), (uint8_t)(dst >> 8), (uint8_t)dst};
	uint8_t s[6] = {2, 0, 0, (uint8_t)(src >> 16), (uint8_t)(src >> 8), (uint8_t)src};
	put(d, 6);
	put(s, 6);
	put16(type);
}

static void ipv4(uint32_t src, uint32_t dst, uint8_t proto, size_t l4len)
{
	put8(0x45);
	put8(0);
	put16((uint16_t)(20 + l4len));
	put32(0);
	put8(64);
	put8(proto);
	put16(0);
	put32(src);
	put32(dst);
}

static void arp(uint32_t mac, uint32_t ip, uint32_t target)
{
	ether(mac, 0xffffff, 0x0806);
	put16(1);
	put16(0x0800);
	put8(6);
	put8(4);
	put16(2);
	uint8_t m[6] = {2, 0, 0, (uint8_t)(mac >> 16), (uint8_t)(mac >> 8), (uint8_t)mac};
	put(m, 6);
	put32(ip);
	put(m, 6);
	put32(target);
}

static void dns_query(uint32_t src, const char *name)
{
	uint8_t q[300];
	size_t n = 0;
	const char *p = name;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		q[n++] = (uint8_t)l;
		memcpy(q + n, p, l);
		n += l;
		p += l + (dot ? 1 : 0);
	}
	q[n++] = 0;
	ether(src, 1, 0x0800);
	ipv4(0x0a000000 | src, 0x0a000001, 17, 8 + 12 + n + 4);
	put16(40000);
	put16(53);
	put16((uint16_t)(8 + 12 + n + 4));
	put16(0);
	put16(0x1234);
	put16(0x0100);
	put16(1);
	put16(0);
	put32(0);
	put(q, n);
	put16(1);
	put16(1);
}

static void syn(uint32_t src, uint32_t dst, uint16_t port)
{
	ether(src, dst, 0x0800);
	ipv4(0x0a000000 | src, 0x0a000000 | dst, 6, 20);
	put16(40000);
	put16(port);
	put32(1);
	put32(0);
	put8(0x50);
	put8(0x02);
	put16(1024);
	put32(0);
}

static void dhcp_offer(uint32_t server, uint32_t xid)
{
	ether(server, 0xffffff, 0x0800);
	size_t bootp = 236 + 4 + 3 + 6 + 1;
	ipv4(0x0a000000 | server, 0xffffffff, 17, 8 + bootp);
	put16(67);
	put16(68);
	put16((uint16_t)(8 + bootp));
	put16(0);
	put8(2);
	put8(1);
	put8(6);
	put8(0);
	put32(xid);
	uint8_t zero[228] = {0};
	put(zero, 228);
	put32(0x63825363);
	put8(53);
	put8(1);
	put8(2);
	put8(54);
	put8(4);
	put32(0x0a000000 | server);
	put8(255);
}

static void gen(const char *path, long packets)
{
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 1024);
	pcap_dumper_t *d = pcap_dump_open(dead, path);
	if (d == NULL) {
		fprintf(stderr, "netbench: %s\n", pcap_geterr(dead));
		exit(1);
	}
	char name[128];
	unsigned seed = 42;
	for (long i = 0; i < packets; i++) {
		unsigned r = rand_r(&seed), pick = rand_r(&seed);
		switch (pick % 10) {
		case 0: case 1: case 2:
			arp(1 + r % 200, 0x0a000000 | (1 + r % 200), 0x0a000014);
			break;
		case 3: case 4: case 5:
			if (pick % 50 == 3)
				snprintf(name, sizeof(name), "cdn%u.host%u.ioc%u.example",
					 r % 7, r % 100000, (r % 100000) % 97);
			else
				snprintf(name, sizeof(name), "www%u.school%u.edu.vn",
					 r % 10, r % 5000);
			dns_query(1 + r % 200, name);
			break;
		case 6:
			dhcp_offer(pick % 100 == 6 ? 66 : 1, r);
			break;
		default:
			if (pick % 20 == 7)
				syn(66, 20, (uint16_t)(1 + r % 1024)); /* a scan */
			else
				syn(20, 1 + r % 200, r % 2 ? 443 : 80);
		}
		struct pcap_pkthdr h = {.caplen = (bpf_u_int32)flen,
					.len = (bpf_u_int32)flen};
		h.ts.tv_sec = 1800000000 + i / 10000;
		h.ts.tv_usec = (i % 10000) * 100;
		pcap_dump((u_char *)d, &h, frame);
	}
	pcap_dump_close(d);
	pcap_close(dead);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long alerts;
static void on_alert(void *arg, const char *kind, int sev, const char *body,
		     size_t len)
{
	(void)arg, (void)sev, (void)body, (void)len;
	alerts++;
	/* NETBENCH_KINDS=1: which detectors speak, to see what costs. */
	static int kinds = -1;
	if (kinds < 0)
		kinds = getenv("NETBENCH_KINDS") != NULL;
	if (kinds)
		fprintf(stderr, "%s\n", kind);
}

/* The bare loop reads a byte of each packet into this, so that the
 * compiler cannot drop the read. */
static volatile unsigned touched;

/* One pass; returns packets per second. nd NULL: the bare loop. */
static double pass(const char *path, struct netdetect *nd, long *count)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(path, err);
	if (pc == NULL) {
		fprintf(stderr, "netbench: %s\n", err);
		exit(1);
	}
	struct pcap_pkthdr *h;
	const u_char *data;
	long n = 0;
	double t0 = now_s();
	while (pcap_next_ex(pc, &h, &data) == 1) {
		if (nd)
			netdetect_packet(nd, data, h->caplen,
					 (uint64_t)h->ts.tv_sec * 1000000u +
						 (uint64_t)h->ts.tv_usec);
		else
			touched += data[h->caplen - 1]; /* read it, like a parser */
		n++;
	}
	double t = now_s() - t0;
	pcap_close(pc);
	*count = n;
	return n / t;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "gen") == 0) {
		gen(argv[2], atol(argv[3]));
		return 0;
	}
	if (argc != 4 || strcmp(argv[1], "run") != 0) {
		fprintf(stderr, "usage: netbench gen FILE PACKETS | run FILE IOCFILE\n");
		return 2;
	}
	char err[256];
	struct iocset *ioc = iocset_new();
	if (iocset_load_file(ioc, argv[3], err, sizeof(err)) != 0) {
		fprintf(stderr, "netbench: %s\n", err);
		return 1;
	}
	struct netdetect_config cfg;
	netdetect_config_defaults(&cfg);
	cfg.has_gateway = true;
	cfg.gateway_ip[0] = 10, cfg.gateway_ip[3] = 1;
	cfg.n_dhcp_servers = 1;
	cfg.dhcp_servers[0][0] = 10, cfg.dhcp_servers[0][3] = 1;
	cfg.ioc = ioc;
	/* Rounds of the two loops back to back, in alternating order: on a
	 * shared machine the load moves between rounds, and a ratio taken
	 * within a round sees the same load on both sides. The median of
	 * those ratios is reported, with the best of each loop beside it. */
	enum { ROUNDS = 9 };
	double best_raw = 0, best_det = 0, ratios[ROUNDS];
	long n = 0;
	for (int round = 0; round < ROUNDS; round++) {
		struct netdetect *nd = netdetect_new(&cfg, on_alert, NULL);
		double raw, det;
		alerts = 0;
		if (round % 2 == 0) {
			raw = pass(argv[2], NULL, &n);
			det = pass(argv[2], nd, &n);
		} else {
			det = pass(argv[2], nd, &n);
			raw = pass(argv[2], NULL, &n);
		}
		netdetect_free(nd);
		ratios[round] = det / raw;
		if (raw > best_raw)
			best_raw = raw;
		if (det > best_det)
			best_det = det;
	}
	for (int i = 1; i < ROUNDS; i++)
		for (int j = i; j > 0 && ratios[j - 1] > ratios[j]; j--) {
			double t = ratios[j];
			ratios[j] = ratios[j - 1];
			ratios[j - 1] = t;
		}
	printf("packets=%ld ioc_domains=%zu alerts=%lu raw_pps=%.0f "
	       "detect_pps=%.0f ratio=%.2f best_ratio=%.2f min_ratio=%.2f "
	       "max_ratio=%.2f\n",
	       n, iocset_domain_count(ioc), alerts, best_raw, best_det,
	       ratios[ROUNDS / 2], best_det / best_raw, ratios[0],
	       ratios[ROUNDS - 1]);
	iocset_free(ioc);
	return 0;
}
