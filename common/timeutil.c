#include "common/timeutil.h"

#include <stdio.h>
#include <time.h>

int64_t timeutil_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void timeutil_format_us(int64_t us, char *buf, size_t cap)
{
	if (us <= 0) {
		snprintf(buf, cap, "never");
		return;
	}
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
