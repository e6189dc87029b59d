/* hostname: the one rule for a PC's name as the collector stores it.
 *
 * The name an agent gives at enrollment is chosen by whoever holds the
 * token, and it ends up in log lines, terminal tables, reports and the
 * SOC feed. So it is held to what Windows and DNS allow anyway: 1 to
 * HOSTNAME_MAX bytes of ASCII letters, digits, '-', '_' and '.', not
 * starting with '-' or '.'. The agent maps its own name into that set
 * before it enrolls, so an odd local name never blocks enrollment. */
#ifndef EDUWATCH_HOSTNAME_H
#define EDUWATCH_HOSTNAME_H

#include <stdbool.h>
#include <stddef.h>

#define HOSTNAME_MAX 63

bool hostname_valid(const char *name);

/* Writes a valid name for src into dst (cap > HOSTNAME_MAX): bytes outside
 * the set become '-', the result is cut to HOSTNAME_MAX, and an empty or
 * unusable name becomes "pc". */
void hostname_sanitize(const char *src, char *dst, size_t cap);

#endif
