/* avstatus: what the antivirus products on a PC say about themselves,
 * decoded. Pure functions over recorded values, so that every decoder,
 * the Windows ones included, is tested on Linux; the probes that gather
 * the values are in avprobe.h.
 *
 * The report's two summary fields are what policies score:
 *   realtime      some product protects in real time now;
 *   sig_age_days  the age of the freshest signatures of such a product. */
#ifndef EDUWATCH_AVSTATUS_H
#define EDUWATCH_AVSTATUS_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AV_MAX_PRODUCTS 8

enum av_state { AV_UNKNOWN, AV_ON, AV_OFF, AV_SNOOZED, AV_EXPIRED };

struct av_product {
	char name[64];
	char source[16];     /* clamav, wsc, defender, service */
	enum av_state state;
	bool realtime;	     /* on-access / real-time protection on */
	bool sig_known;
	int64_t sig_time_us; /* signature build or update time */
	bool sig_up_to_date; /* the product's own verdict (WSC) */
	char version[64];
	char detail[160];    /* what a person needs to act */
};

struct av_report {
	struct av_product products[AV_MAX_PRODUCTS];
	size_t count;
	bool realtime;
	int sig_age_days; /* -1: unknown */
};

const char *av_state_name(enum av_state state);

/* ---- ClamAV ---------------------------------------------------------------- */

struct cvd_header {
	char build_time[40];  /* as written: "14 Nov 2023 07:49-0500" */
	unsigned version;
	unsigned signatures;
	unsigned level;	      /* functionality level */
	int64_t build_unix;   /* seconds; the ninth field */
};

/* Parses the 512-byte ASCII header of a .cvd or .cld file:
 * "ClamAV-VDB:time:version:sigs:level:md5:dsig:builder:unix-time".
 * Returns 0 or -EBADMSG. */
EW_MUST_CHECK
int cvd_parse_header(const char *buf, size_t len, struct cvd_header *out);

/* Parses clamd's VERSION reply "ClamAV 1.0.3/27093/Tue Nov 14 08:26:44
 * 2023": the engine, and the database version when present. */
EW_MUST_CHECK
int clamd_parse_version(const char *reply, char *engine, size_t engine_cap,
			unsigned *db_version);

/* ---- Windows Security Center (SecurityCenter2 AntiVirusProduct) -------------- */

struct wsc_state {
	enum av_state state; /* on, off, snoozed, expired */
	bool up_to_date;
	bool microsoft;	     /* the product is Microsoft's (Defender) */
};

/* Decodes productState: bits 12-15 the scanner (0 off, 1 on, 2 snoozed,
 * 3 expired), bits 4-7 the signatures (0 up to date, 1 out of date), bit
 * 8 Microsoft's own product. 397568 = on, up to date; 393472 = off;
 * 266256 = on, out of date. */
void wsc_decode_product_state(uint32_t product_state, struct wsc_state *out);

/* ---- Microsoft Defender (MSFT_MpComputerStatus) ------------------------------ */

struct defender_raw {
	bool realtime_enabled;	    /* RealTimeProtectionEnabled */
	char signature_updated[32]; /* AntivirusSignatureLastUpdated, CIM */
	char running_mode[32];	    /* AMRunningMode */
};

/* A CIM datetime ("20231114074900.000000-300": local time and its offset
 * in minutes) to Unix microseconds. Returns 0 or -EBADMSG. */
EW_MUST_CHECK
int cim_datetime_parse(const char *text, int64_t *out_us);

/* Defender's status. In passive mode ("Passive Mode", "SxS Passive
 * Mode", "EDR Block Mode") its flags still read enabled although another
 * product is the one protecting, so it is never counted as real-time
 * protection then. */
void defender_decode(const struct defender_raw *raw, struct av_product *out);

/* Fills the summary fields from the products. */
void av_report_summarise(struct av_report *r, int64_t now_us);

#endif
