/* avprobe: asking the antivirus products on this PC how they are.
 *
 * Blocking (a socket to clamd, /proc, files), so the av source runs it
 * on the libuv thread pool. Linux asks ClamAV directly and recognises
 * other products by the process and service names in a data file,
 * reporting those as "unknown": they have no interface to ask. Windows
 * (avprobe_windows.c, not built here) reads SecurityCenter2 and
 * MSFT_MpComputerStatus over WMI and hands the raw values to the pure
 * decoders in avstatus.h. */
#ifndef EDUWATCH_AVPROBE_H
#define EDUWATCH_AVPROBE_H

#include "agent/av/avstatus.h"

struct avprobe_config {
	const char *clamd_socket;  /* "": LocalSocket from clamd_conf */
	const char *clamav_db;	   /* daily.cvd / daily.cld live here */
	const char *clamd_conf;
	const char *products_file; /* "NAME  Product" lines */
};

/* Fills out (products and summary). Never fails: what cannot be asked
 * is reported as such. */
void avprobe_collect(const struct avprobe_config *cfg, struct av_report *out);

#endif
