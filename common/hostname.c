#include "common/hostname.h"

#include <stdio.h>
#include <string.h>

static bool hostname_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

bool hostname_valid(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > HOSTNAME_MAX || name[0] == '-' || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!hostname_char_ok((unsigned char)name[i]))
			return false;
	return true;
}

void hostname_sanitize(const char *src, char *dst, size_t cap)
{
	size_t n = 0;
	/* Skip what may not lead, so "-x" and ".x" keep their real part. */
	while (*src == '-' || *src == '.')
		src++;
	for (; *src != '\0' && n < HOSTNAME_MAX && n + 1 < cap; src++)
		dst[n++] = hostname_char_ok((unsigned char)*src) ? *src : '-';
	dst[n] = '\0';
	if (!hostname_valid(dst))
		snprintf(dst, cap, "pc");
}
