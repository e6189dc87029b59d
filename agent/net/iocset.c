#include "agent/net/iocset.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"

#define DOMAIN_MAX 253
#define LABEL_MAX 63

/* A set of byte strings: keys live end to end in one arena and the table
 * holds (hash, offset, length). Growing the arena never moves a key's
 * offset, so the table survives it. */
struct slot {
	uint64_t hash; /* 0: empty */
	uint32_t off;
	uint32_t len;
};

/* Most lookups miss (nearly every DNS name on a LAN is clean), and a miss
 * in a table of 100,000 names costs a cache miss per label. A bitmap of
 * 2^21 bits (256 KiB, in L2) answers most misses first: with 100,000
 * names about 5% of lookups get past it to the table. */
#define FILTER_BITS (1u << 21)

struct keyset {
	struct slot *slots;
	size_t cap; /* a power of two */
	size_t count;
	char *arena;
	size_t arena_len, arena_cap;
	uint64_t *filter; /* FILTER_BITS bits, allocated with the first key */
};

/* The last labels (top-level domains) of the listed names, as a 4096-bit
 * map that stays in L1: a name whose TLD no listed name has is a miss
 * after hashing one short label, before any probe of the big filter. */
#define TLD_BITS 4096u

struct iocset {
	uint64_t tld[TLD_BITS / 64];
	struct keyset domains;
	struct keyset ips; /* key: family byte, then the address */
};

#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

/* FNV-1a, then a final mix so the low bits used for the index depend on
 * every byte. The table is built from the list, not from packets, so
 * flooding its chains is not in an attacker's hands. */
static uint64_t hash_finish(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h ? h : 1;
}

static uint64_t hash_bytes(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t h = FNV_OFFSET;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * FNV_PRIME;
	return hash_finish(h);
}

/* A label hashed 8 bytes at a time. OR-ing 0x20 into every byte lowers
 * A-Z and leaves the other characters a domain may hold unchanged (or
 * mapped where no valid character lands), so the hash is case-blind;
 * the final comparison is exact. */
static uint64_t hash_label(const char *p, size_t len)
{
	uint64_t h = (uint64_t)len * 0x9e3779b97f4a7c15ULL;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ (w | 0x2020202020202020ULL)) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
		p += 8;
		len -= 8;
	}
	if (len > 0) {
		uint64_t w = 0;
		memcpy(&w, p, len);
		w |= 0x2020202020202020ULL >> (8 * (8 - len));
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	return h;
}

/* Domains hash label by label from the right: walking a name once from
 * its end gives the hash of every parent domain on the way, one per
 * label, instead of hashing each suffix again. */
static uint64_t hash_add_label(uint64_t h, const char *label, size_t len)
{
	h = (h ^ hash_label(label, len)) * FNV_PRIME;
	return h ^ h >> 31;
}

static uint32_t tld_bit(const char *label, size_t len)
{
	return (uint32_t)(hash_label(label, len) >> 40) % TLD_BITS;
}

static uint64_t hash_domain(const char *name, size_t len)
{
	uint64_t h = FNV_OFFSET;
	size_t end = len;
	for (size_t i = len; i > 0; i--) {
		if (name[i - 1] != '.')
			continue;
		h = hash_add_label(h, name + i, end - i);
		end = i - 1;
	}
	return hash_finish(hash_add_label(h, name, end));
}

static bool filter_test(const struct keyset *ks, uint64_t h)
{
	uint32_t bit = (uint32_t)(h >> 40) & (FILTER_BITS - 1);
	return ks->filter && (ks->filter[bit / 64] >> (bit % 64) & 1);
}

static void filter_set(struct keyset *ks, uint64_t h)
{
	uint32_t bit = (uint32_t)(h >> 40) & (FILTER_BITS - 1);
	ks->filter[bit / 64] |= 1ULL << (bit % 64);
}

static bool keyset_has_hashed(const struct keyset *ks, uint64_t h,
			      const void *key, size_t len)
{
	if (ks->count == 0 || !filter_test(ks, h))
		return false;
	for (size_t i = h & (ks->cap - 1);; i = (i + 1) & (ks->cap - 1)) {
		const struct slot *s = &ks->slots[i];
		if (s->hash == 0)
			return false;
		if (s->hash == h && s->len == len &&
		    memcmp(ks->arena + s->off, key, len) == 0)
			return true;
	}
}

static int keyset_grow(struct keyset *ks)
{
	size_t cap = ks->cap ? ks->cap * 2 : 1024;
	struct slot *slots = alloc_zeroed(cap, sizeof(*slots));
	if (slots == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < ks->cap; i++) {
		if (ks->slots[i].hash == 0)
			continue;
		size_t j = ks->slots[i].hash & (cap - 1);
		while (slots[j].hash != 0)
			j = (j + 1) & (cap - 1);
		slots[j] = ks->slots[i];
	}
	alloc_free(ks->slots);
	ks->slots = slots;
	ks->cap = cap;
	return 0;
}

static int keyset_add(struct keyset *ks, uint64_t h, const void *key,
		      size_t len)
{
	if (keyset_has_hashed(ks, h, key, len))
		return 0;
	if (ks->filter == NULL &&
	    (ks->filter = alloc_zeroed(FILTER_BITS / 64, sizeof(uint64_t))) == NULL)
		return -ENOMEM;
	/* Keep the load under 1/2: probes stay short on a miss, which is the
	 * common case for every DNS query on the LAN. */
	if ((ks->count + 1) * 2 > ks->cap && keyset_grow(ks) != 0)
		return -ENOMEM;
	if (ks->arena_len + len > ks->arena_cap) {
		size_t cap = ks->arena_cap ? ks->arena_cap * 2 : 16384;
		while (cap < ks->arena_len + len)
			cap *= 2;
		char *arena = alloc_resize(ks->arena, cap);
		if (arena == NULL)
			return -ENOMEM;
		ks->arena = arena;
		ks->arena_cap = cap;
	}
	memcpy(ks->arena + ks->arena_len, key, len);
	filter_set(ks, h);
	size_t i = h & (ks->cap - 1);
	while (ks->slots[i].hash != 0)
		i = (i + 1) & (ks->cap - 1);
	ks->slots[i] = (struct slot){h, (uint32_t)ks->arena_len, (uint32_t)len};
	ks->arena_len += len;
	ks->count++;
	return 0;
}

static void keyset_clear(struct keyset *ks)
{
	alloc_free(ks->slots);
	alloc_free(ks->arena);
	alloc_free(ks->filter);
	memset(ks, 0, sizeof(*ks));
}

struct iocset *iocset_new(void)
{
	return alloc_zeroed(1, sizeof(struct iocset));
}

void iocset_free(struct iocset *set)
{
	if (set == NULL)
		return;
	keyset_clear(&set->domains);
	keyset_clear(&set->ips);
	alloc_free(set);
}

size_t iocset_domain_count(const struct iocset *set)
{
	return set->domains.count;
}

size_t iocset_ip_count(const struct iocset *set)
{
	return set->ips.count;
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Normalises a listed domain into out (lower-case, no "*." and no trailing
 * dot). Returns its length, or -1 with a reason. */
static int normalise_domain(const char *s, size_t n, char *out,
			    const char **why)
{
	if (n >= 2 && s[0] == '*' && s[1] == '.') {
		s += 2;
		n -= 2;
	}
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > DOMAIN_MAX) {
		*why = "a domain is 1 to 253 characters";
		return -1;
	}
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		char c = lower(s[i]);
		if (c == '.') {
			if (label == 0) {
				*why = "empty label";
				return -1;
			}
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			   c == '-' || c == '_') {
			if (++label > LABEL_MAX) {
				*why = "a label is at most 63 characters";
				return -1;
			}
		} else {
			*why = "not a domain or an IP address";
			return -1;
		}
		out[i] = c;
	}
	return (int)n;
}

static int add_indicator(struct iocset *set, const char *s, size_t n,
			 const char **why)
{
	char text[DOMAIN_MAX + 3];
	uint8_t key[17];
	if (n < sizeof(text)) {
		memcpy(text, s, n);
		text[n] = '\0';
		if (inet_pton(AF_INET, text, key + 1) == 1) {
			key[0] = 4;
			return keyset_add(&set->ips, hash_bytes(key, 5), key, 5);
		}
		if (inet_pton(AF_INET6, text, key + 1) == 1) {
			key[0] = 6;
			return keyset_add(&set->ips, hash_bytes(key, 17), key, 17);
		}
	}
	char dom[DOMAIN_MAX + 1];
	int len = normalise_domain(s, n, dom, why);
	if (len < 0)
		return -EINVAL;
	const char *dot = memrchr(dom, '.', (size_t)len);
	size_t tld_off = dot ? (size_t)(dot - dom) + 1 : 0;
	uint32_t bit = tld_bit(dom + tld_off, (size_t)len - tld_off);
	set->tld[bit / 64] |= 1ULL << (bit % 64);
	return keyset_add(&set->domains, hash_domain(dom, (size_t)len), dom,
			  (size_t)len);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

int iocset_add_text(struct iocset *set, const char *text, size_t len,
		    char *err, size_t errlen)
{
	size_t lineno = 0;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		const char *s = text + pos;
		size_t n = end - pos;
		pos = end + 1;
		lineno++;
		const char *hash = memchr(s, '#', n);
		if (hash)
			n = (size_t)(hash - s);
		while (n > 0 && is_space(*s)) {
			s++;
			n--;
		}
		while (n > 0 && is_space(s[n - 1]))
			n--;
		if (n == 0)
			continue;
		if (set->domains.count + set->ips.count >= IOCSET_MAX_ENTRIES) {
			snprintf(err, errlen, "%zu: more than %d indicators",
				 lineno, IOCSET_MAX_ENTRIES);
			return -E2BIG;
		}
		const char *why = "";
		int rc = add_indicator(set, s, n, &why);
		if (rc == -EINVAL) {
			snprintf(err, errlen, "%zu: %s", lineno, why);
			return rc;
		}
		if (rc != 0) {
			snprintf(err, errlen, "%zu: out of memory", lineno);
			return rc;
		}
	}
	return 0;
}

int iocset_load_file(struct iocset *set, const char *path, char *err,
		     size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		int e = errno;
		char buf[128];
		snprintf(err, errlen, "%s: %s", path,
			 strerror_r(e, buf, sizeof(buf)));
		return -e;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;
	for (;;) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *nbuf = alloc_resize(buf, ncap);
			if (nbuf == NULL) {
				rc = -ENOMEM;
				break;
			}
			buf = nbuf;
			cap = ncap;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (rc == 0 && ferror(f))
		rc = -EIO;
	fclose(f);
	if (rc != 0) {
		char why[128];
		snprintf(err, errlen, "%s: %s", path,
			 strerror_r(-rc, why, sizeof(why)));
		alloc_free(buf);
		return rc;
	}
	char why[160];
	rc = iocset_add_text(set, buf, len, why, sizeof(why));
	if (rc != 0)
		snprintf(err, errlen, "%s:%s", path, why);
	alloc_free(buf);
	return rc;
}

bool iocset_match_domain(const struct iocset *set, const char *name,
			 const char **matched)
{
	if (set->domains.count == 0)
		return false;
	size_t n = strnlen(name, DOMAIN_MAX + 2);
	if (n > DOMAIN_MAX + 1)
		return false;
	if (n > 0 && name[n - 1] == '.')
		n--;
	const char *dot = memrchr(name, '.', n);
	size_t tld_off = dot ? (size_t)(dot - name) + 1 : 0;
	uint32_t bit = tld_bit(name + tld_off, n - tld_off);
	if (!(set->tld[bit / 64] >> (bit % 64) & 1))
		return false;
	/* From the end backwards, a label at a time: after each label the
	 * hash is that parent domain's (see hash_domain). Only a suffix that
	 * passes the filter is copied in lower case and compared. */
	uint64_t h = FNV_OFFSET;
	size_t end = n;
	for (size_t i = n + 1; i > 0; i--) {
		if (i - 1 != 0 && name[i - 2] != '.')
			continue;
		size_t start = i - 1;
		h = hash_add_label(h, name + start, end - start);
		end = start > 0 ? start - 1 : 0;
		uint64_t full = hash_finish(h);
		if (!filter_test(&set->domains, full))
			continue;
		char low[DOMAIN_MAX + 1];
		for (size_t k = start; k < n; k++)
			low[k - start] = lower(name[k]);
		if (keyset_has_hashed(&set->domains, full, low, n - start)) {
			if (matched)
				*matched = name + start;
			return true;
		}
	}
	return false;
}

bool iocset_match_ip(const struct iocset *set, int family,
		     const uint8_t *addr)
{
	uint8_t key[17];
	size_t n = family == 6 ? 16 : 4;
	if (set->ips.count == 0 || (family != 4 && family != 6))
		return false;
	key[0] = (uint8_t)family;
	memcpy(key + 1, addr, n);
	return keyset_has_hashed(&set->ips, hash_bytes(key, n + 1), key, n + 1);
}
