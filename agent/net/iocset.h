/* iocset: indicators of compromise the LAN sensor looks for.
 *
 * A list is plain text, one indicator a line: a domain (matched with every
 * subdomain: "evil.example" matches "a.b.evil.example"), an IPv4 or an IPv6
 * address. '#' starts a comment; "*.evil.example" reads as "evil.example".
 * Domains are kept in an open-addressing hash table, so a lookup costs one
 * probe per label of the queried name however long the list is: 100,000
 * domains or more stay fast. The list is untrusted input (it arrives from
 * the collector) and each bad line is reported with its number. */
#ifndef EDUWATCH_IOCSET_H
#define EDUWATCH_IOCSET_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IOCSET_MAX_ENTRIES 2000000

struct iocset;

EW_MUST_CHECK
struct iocset *iocset_new(void);
void iocset_free(struct iocset *set);

/* Adds every line of text. Returns 0, -EINVAL with "LINE: reason" in err
 * for the first bad line (lines before it stay added), -E2BIG past
 * IOCSET_MAX_ENTRIES, or -ENOMEM. */
EW_MUST_CHECK
int iocset_add_text(struct iocset *set, const char *text, size_t len,
		    char *err, size_t errlen);
/* The same for a file; err starts with the path. */
EW_MUST_CHECK
int iocset_load_file(struct iocset *set, const char *path, char *err,
		     size_t errlen);

/* Matches name or one of its parent domains (case-insensitive, a trailing
 * dot ignored). On a match, *matched (when not NULL) points at the listed
 * suffix inside name. */
bool iocset_match_domain(const struct iocset *set, const char *name,
			 const char **matched);
/* family is 4 or 6; addr holds 4 or 16 bytes. */
bool iocset_match_ip(const struct iocset *set, int family,
		     const uint8_t *addr);

size_t iocset_domain_count(const struct iocset *set);
size_t iocset_ip_count(const struct iocset *set);

#endif
