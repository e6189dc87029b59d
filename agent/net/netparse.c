#include "agent/net/netparse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* A bounds-checked reader: after the first overrun every read fails and
 * returns zeros, so a parser checks `ok` once where it matters. */
struct cursor {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool ok;
};

static struct cursor cursor_at(const uint8_t *p, size_t len)
{
	return (struct cursor){p, len, 0, true};
}

/* The readers run a few times per packet: inlined, they cost a compare. */
#define CURSOR_INLINE static inline __attribute__((always_inline))

CURSOR_INLINE bool have(struct cursor *c, size_t n)
{
	if (!c->ok || n > c->len - c->off) {
		c->ok = false;
		return false;
	}
	return true;
}

CURSOR_INLINE uint8_t u8(struct cursor *c)
{
	if (!have(c, 1))
		return 0;
	return c->p[c->off++];
}

CURSOR_INLINE uint16_t be16(struct cursor *c)
{
	if (!have(c, 2))
		return 0;
	uint16_t v = (uint16_t)(c->p[c->off] << 8 | c->p[c->off + 1]);
	c->off += 2;
	return v;
}

CURSOR_INLINE uint32_t be32(struct cursor *c)
{
	uint32_t hi = be16(c);
	return hi << 16 | be16(c);
}

CURSOR_INLINE void bytes(struct cursor *c, void *dst, size_t n)
{
	if (!have(c, n)) {
		memset(dst, 0, n);
		return;
	}
	memcpy(dst, c->p + c->off, n);
	c->off += n;
}

CURSOR_INLINE void skip(struct cursor *c, size_t n)
{
	if (have(c, n))
		c->off += n;
}

/* ---- frames ------------------------------------------------------------ */

static void parse_ports(struct cursor *c, struct net_packet *out)
{
	if (out->ip_proto == 17) {
		out->l4 = NET_L4_UDP;
		out->src_port = be16(c);
		out->dst_port = be16(c);
		uint16_t ulen = be16(c);
		skip(c, 2);
		size_t left = c->ok ? c->len - c->off : 0;
		/* Trust the UDP length only when it fits. */
		if (ulen >= 8 && (size_t)ulen - 8 <= left)
			left = (size_t)ulen - 8;
		out->payload = c->ok ? c->p + c->off : NULL;
		out->payload_len = c->ok ? left : 0;
	} else if (out->ip_proto == 6) {
		out->l4 = NET_L4_TCP;
		out->src_port = be16(c);
		out->dst_port = be16(c);
		skip(c, 8); /* seq, ack */
		uint8_t offset = u8(c);
		out->tcp_flags = u8(c);
		size_t header = (size_t)(offset >> 4) * 4;
		if (header < 20) {
			c->ok = false;
			return;
		}
		skip(c, header - 14);
		out->payload = c->ok ? c->p + c->off : NULL;
		out->payload_len = c->ok ? c->len - c->off : 0;
	}
}

static void parse_ipv4(struct cursor *c, struct net_packet *out)
{
	size_t start = c->off;
	uint8_t vihl = u8(c);
	if ((vihl >> 4) != 4 || (vihl & 0x0f) < 5) {
		c->ok = false;
		return;
	}
	size_t header = (size_t)(vihl & 0x0f) * 4;
	skip(c, 1);
	uint16_t total = be16(c);
	skip(c, 2);
	uint16_t frag = be16(c);
	skip(c, 1); /* ttl */
	out->ip_proto = u8(c);
	skip(c, 2);
	bytes(c, out->src_ip, 4);
	bytes(c, out->dst_ip, 4);
	skip(c, header - 20);
	if (!c->ok)
		return;
	out->l3 = NET_L3_IPV4;
	out->family = 4;
	/* Ethernet pads short frames: the IP length says where data ends. */
	if (total >= header && start + total <= c->len)
		c->len = start + total;
	out->fragment = (frag & 0x1fff) != 0;
	if (!out->fragment)
		parse_ports(c, out);
}

static void parse_ipv6(struct cursor *c, struct net_packet *out)
{
	uint32_t first = be32(c);
	if ((first >> 28) != 6) {
		c->ok = false;
		return;
	}
	uint16_t payload = be16(c);
	out->ip_proto = u8(c);
	skip(c, 1);
	bytes(c, out->src_ip, 16);
	bytes(c, out->dst_ip, 16);
	if (!c->ok)
		return;
	out->l3 = NET_L3_IPV6;
	out->family = 6;
	if ((size_t)payload <= c->len - c->off)
		c->len = c->off + payload;
	/* Extension headers are not followed: what we analyse (UDP to
	 * LLMNR/DNS, TCP SYNs) comes without them on a LAN. */
	parse_ports(c, out);
}

int net_parse_frame(const uint8_t *data, size_t len, struct net_packet *out)
{
	struct cursor c = cursor_at(data, len);
	memset(out, 0, sizeof(*out));
	bytes(&c, out->dst_mac, 6);
	bytes(&c, out->src_mac, 6);
	out->ethertype = be16(&c);
	/* At most two tags (802.1ad outer, 802.1Q inner). */
	for (int tags = 0; tags < 2 && c.ok &&
			   (out->ethertype == 0x8100 || out->ethertype == 0x88a8);
	     tags++) {
		out->vlan = be16(&c) & 0x0fff;
		out->ethertype = be16(&c);
	}
	if (!c.ok)
		return -EBADMSG;
	switch (out->ethertype) {
	case 0x0806: {
		uint16_t htype = be16(&c), ptype = be16(&c);
		uint8_t hlen = u8(&c), plen = u8(&c);
		if (htype != 1 || ptype != 0x0800 || hlen != 6 || plen != 4)
			return c.ok ? 0 : -EBADMSG; /* not Ethernet/IPv4 ARP */
		out->arp.op = be16(&c);
		bytes(&c, out->arp.sender_mac, 6);
		bytes(&c, out->arp.sender_ip, 4);
		bytes(&c, out->arp.target_mac, 6);
		bytes(&c, out->arp.target_ip, 4);
		if (c.ok)
			out->l3 = NET_L3_ARP;
		break;
	}
	case 0x0800:
		parse_ipv4(&c, out);
		break;
	case 0x86dd:
		parse_ipv6(&c, out);
		break;
	default:
		break;
	}
	return c.ok ? 0 : -EBADMSG;
}

/* ---- DHCP -------------------------------------------------------------- */

int net_parse_dhcp(const uint8_t *data, size_t len, struct net_dhcp *out)
{
	struct cursor c = cursor_at(data, len);
	memset(out, 0, sizeof(*out));
	out->op = u8(&c);
	uint8_t htype = u8(&c), hlen = u8(&c);
	skip(&c, 1);
	out->xid = be32(&c);
	skip(&c, 8); /* secs, flags, ciaddr */
	bytes(&c, out->your_ip, 4);
	skip(&c, 8); /* siaddr, giaddr */
	uint8_t chaddr[16];
	bytes(&c, chaddr, 16);
	if (htype == 1 && hlen == 6)
		memcpy(out->client_mac, chaddr, 6);
	skip(&c, 192); /* sname, file */
	if (be32(&c) != 0x63825363 || !c.ok)
		return -EBADMSG; /* no magic cookie: BOOTP, not DHCP */
	while (c.ok && c.off < c.len) {
		uint8_t code = u8(&c);
		if (code == 0)
			continue; /* pad */
		if (code == 255)
			break;
		uint8_t olen = u8(&c);
		/* A truncated option ends the list; what came before it is
		 * still evidence (a rogue server's id, say). */
		if (!c.ok || olen > c.len - c.off)
			break;
		const uint8_t *v = c.p + c.off;
		if (code == 53 && olen >= 1)
			out->message_type = v[0];
		else if (code == 54 && olen >= 4) {
			out->has_server_id = true;
			memcpy(out->server_id, v, 4);
		} else if (code == 3 && olen >= 4) {
			out->has_router = true;
			memcpy(out->router, v, 4);
		} else if (code == 6 && olen >= 4) {
			out->has_dns = true;
			memcpy(out->dns, v, 4);
		}
		c.off += olen;
	}
	return c.ok && out->message_type != 0 ? 0 : -EBADMSG;
}

/* ---- DNS --------------------------------------------------------------- */

/* Reads a possibly compressed name at *off into out (dotted, lower-case)
 * and moves *off past it in the original position. */
static int read_name(const uint8_t *msg, size_t len, size_t *off, char *out,
		     size_t cap)
{
	size_t pos = *off, used = 0, end = 0;
	int jumps = 0;
	bool jumped = false;
	for (;;) {
		if (pos >= len)
			return -EBADMSG;
		uint8_t l = msg[pos];
		if (l == 0) {
			pos++;
			break;
		}
		if ((l & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return -EBADMSG;
			size_t target = (size_t)(l & 0x3f) << 8 | msg[pos + 1];
			/* Only backwards, and not too often: loops end. */
			if (target >= pos || ++jumps > 16)
				return -EBADMSG;
			if (!jumped) {
				end = pos + 2;
				jumped = true;
			}
			pos = target;
			continue;
		}
		if ((l & 0xc0) != 0 || pos + 1 + l > len)
			return -EBADMSG;
		if (used + l + 2 > cap || used + l + 1 > NET_DNS_NAME_MAX)
			return -EBADMSG;
		if (used > 0)
			out[used++] = '.';
		for (size_t i = 0; i < l; i++) {
			char ch = (char)msg[pos + 1 + i];
			if (ch >= 'A' && ch <= 'Z')
				ch = (char)(ch - 'A' + 'a');
			/* Keep names printable in evidence and logs. */
			out[used++] = (ch >= 0x21 && ch <= 0x7e) ? ch : '?';
		}
		pos += 1 + l;
	}
	out[used] = '\0';
	*off = jumped ? end : pos;
	return 0;
}

int net_parse_dns(const uint8_t *data, size_t len, struct net_dns *out)
{
	struct cursor c = cursor_at(data, len);
	/* Not a memset of the whole struct: its name buffer and answers are
	 * most of it, and this runs for every DNS packet on the LAN. Answers
	 * are cleared one by one as they are filled. */
	out->qname[0] = '\0';
	out->qtype = 0;
	out->nanswers = 0;
	out->id = be16(&c);
	uint16_t flags = be16(&c);
	out->response = (flags & 0x8000) != 0;
	out->opcode = (uint8_t)((flags >> 11) & 0x0f);
	out->rcode = (uint8_t)(flags & 0x0f);
	out->qdcount = be16(&c);
	out->ancount = be16(&c);
	skip(&c, 4); /* nscount, arcount */
	if (!c.ok)
		return -EBADMSG;
	size_t off = c.off;
	/* The first name is read straight into qname; later ones only need
	 * skipping, through a scratch buffer. */
	char scratch[NET_DNS_NAME_MAX + 1];
	for (uint16_t q = 0; q < out->qdcount; q++) {
		char *name = q == 0 ? out->qname : scratch;
		if (read_name(data, len, &off, name, sizeof(scratch)) != 0 ||
		    off + 4 > len)
			return -EBADMSG;
		if (q == 0)
			out->qtype = (uint16_t)(data[off] << 8 | data[off + 1]);
		off += 4;
	}
	for (uint16_t a = 0; a < out->ancount; a++) {
		char *name = a == 0 && out->qdcount == 0 ? out->qname : scratch;
		if (read_name(data, len, &off, name, sizeof(scratch)) != 0 ||
		    off + 10 > len)
			return -EBADMSG;
		uint16_t type = (uint16_t)(data[off] << 8 | data[off + 1]);
		uint16_t rdlen = (uint16_t)(data[off + 8] << 8 | data[off + 9]);
		off += 10;
		if (off + rdlen > len)
			return -EBADMSG;
		if (out->nanswers < NET_DNS_MAX_ANSWERS) {
			struct net_dns_answer *ans = &out->answers[out->nanswers++];
			memset(ans, 0, sizeof(*ans));
			ans->type = type;
			if (type == 1 && rdlen == 4) {
				ans->family = 4;
				memcpy(ans->addr, data + off, 4);
			} else if (type == 28 && rdlen == 16) {
				ans->family = 6;
				memcpy(ans->addr, data + off, 16);
			} else if (type == 32 && rdlen >= 6) {
				/* NBNS NB record: flags, then an IPv4. */
				ans->family = 4;
				ans->nb_flags = (uint16_t)(data[off] << 8 |
							   data[off + 1]);
				memcpy(ans->addr, data + off + 2, 4);
			}
		}
		off += rdlen;
	}
	return 0;
}

int net_nbns_decode_name(char *qname, uint8_t *suffix)
{
	uint8_t decoded[16];
	size_t n = strcspn(qname, ".");
	if (n != 32)
		return -EBADMSG;
	for (size_t i = 0; i < 16; i++) {
		char hi = qname[2 * i], lo = qname[2 * i + 1];
		/* read_name lower-cased it: the alphabet is 'a'..'p'. */
		if (hi < 'a' || hi > 'p' || lo < 'a' || lo > 'p')
			return -EBADMSG;
		decoded[i] = (uint8_t)((hi - 'a') << 4 | (lo - 'a'));
	}
	/* 15 name bytes padded with spaces (NULs after the "*" of a node
	 * status query), then the suffix byte. */
	static const uint8_t browse[15] = "\x01\x02__MSBROWSE__\x02";
	size_t end = 15, used = 0;
	while (end > 0 && (decoded[end - 1] == ' ' || decoded[end - 1] == 0))
		end--;
	char out[15 * 4 + 8];
	if (memcmp(decoded, browse, 15) == 0) {
		used = (size_t)snprintf(out, sizeof(out), "__MSBROWSE__");
	} else {
		for (size_t i = 0; i < end; i++) {
			uint8_t ch = decoded[i];
			if (ch >= 0x21 && ch <= 0x7e && ch != '\\' && ch != '<')
				out[used++] = (char)ch;
			else
				used += (size_t)snprintf(out + used,
							 sizeof(out) - used,
							 "\\x%02x", ch);
		}
	}
	snprintf(out + used, sizeof(out) - used, "<%02x>", decoded[15]);
	*suffix = decoded[15];
	/* qname holds at least the 32 letters and their NUL. */
	memcpy(qname, out, strlen(out) + 1);
	return 0;
}

void net_format_ip(int family, const uint8_t *addr, char *buf, size_t cap)
{
	if (inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, buf,
		      (socklen_t)cap) == NULL)
		snprintf(buf, cap, "?");
}

void net_format_mac(const uint8_t mac[6], char *buf, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	char out[18];
	for (int i = 0; i < 6; i++) {
		out[3 * i] = hex[mac[i] >> 4];
		out[3 * i + 1] = hex[mac[i] & 15];
		out[3 * i + 2] = i < 5 ? ':' : '\0';
	}
	if (cap >= sizeof(out))
		memcpy(buf, out, sizeof(out));
	else
		snprintf(buf, cap, "%s", out);
}
