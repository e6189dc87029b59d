/* timeutil: wall-clock time in microseconds, the unit of every event
 * timestamp, and its one printed form (UTC, ISO 8601). */
#ifndef EDUWATCH_TIMEUTIL_H
#define EDUWATCH_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

int64_t timeutil_now_us(void);

/* "2026-11-29T03:25:40Z", or "never" for us <= 0. */
void timeutil_format_us(int64_t us, char *buf, size_t cap);

#endif
