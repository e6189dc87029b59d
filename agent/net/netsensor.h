/* netsensor: the LAN sensor's two ways in, live capture and a file.
 *
 * Live, it runs as the helper process `eduwatch-agent _netsensor`, from
 * its own executable eduwatch-sensor (childproc.h): it
 * opens the capture on the default-route interface (or the configured
 * one) with a small snaplen and a BPF filter that admits only what the
 * detectors read (ARP, DHCP, DNS, LLMNR, NBNS and TCP SYNs), then enters
 * the sandbox (nobody, no capabilities, seccomp) before the first packet
 * is parsed, and reports to the agent over its stdout (see childproc.h):
 *   {t:"ready", iface, filter, gateway, gateway_mac, ioc_domains, ioc_ips,
 *    seccomp}
 *   {t:"alert", kind, sev, body:<msgpack evidence>}
 *   {t:"stats", packets, malformed, alerts, suppressed, received, dropped}
 *   {t:"error", msg}
 * From a file (`eduwatch-agent sniff --pcap FILE`), the same detectors run
 * over a capture, for tests, drills and forensics. */
#ifndef EDUWATCH_NETSENSOR_H
#define EDUWATCH_NETSENSOR_H

#include "common/check.h"

#include <stdbool.h>
#include <stdio.h>

#include "agent/core/settings.h"

/* The executable the sensor (live and `sniff`) runs from. */
#define NETSENSOR_HELPER "eduwatch-sensor"

/* BPF filter of the live capture. */
extern const char netsensor_filter[];

/* The helper's main: returns a process exit code. s may be NULL for the
 * built-in defaults. */
EW_MUST_CHECK
int netsensor_child_main(const struct agent_settings *s);

struct sniff_options {
	const char *pcap;
	const char *ioc_file; /* overrides the settings' list */
	const char *gateway_mac; /* overrides netsensor.gateway_mac */
	bool json;
};

/* Runs the detectors over a capture file and prints one line per alert
 * to stdout (a file, pipe, terminal or /dev/null), then a summary to
 * stderr. Returns an exit code: 0 done, 1 cannot read the capture or
 * write the alerts (a closed stdout), 3 bad IOC list or gateway MAC. */
EW_MUST_CHECK
int netsensor_sniff_file(const struct agent_settings *s,
			 const struct sniff_options *opts);

#endif
