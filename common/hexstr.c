#include "common/hexstr.h"

#include <errno.h>

static const char digits[] = "0123456789abcdef";

void hexstr_encode(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int hexstr_decode(const char *hex, uint8_t *out, size_t n)
{
	/* A NUL before 2n digits is not a digit: the loop stops there. */
	for (size_t i = 0; i < 2 * n; i++) {
		int v = digit_value(hex[i]);
		if (v < 0)
			return -EINVAL;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return hex[2 * n] == '\0' ? 0 : -EINVAL;
}
