/* drill_settings: the drill source's keys in agent.yaml. */
#ifndef EDUWATCH_DRILL_SETTINGS_H
#define EDUWATCH_DRILL_SETTINGS_H

#include <stdbool.h>

struct drill_settings {
	bool enabled;	      /* drill.enabled */
	char folder[512];     /* drill.folder: "" is STATE_DIR/drill */
	long long av_wait_s;  /* drill.av_wait: how long the AV gets */
	char usb_folder[512]; /* drill.usb_folder: usb-worm's stand-in volume
			       * (a tmpfs mount); "" is STATE_DIR/drill-usb */
	long long sim_dwell_s; /* drill.sim_dwell: ransomware-sim's documents
				* sit this long before they are encrypted,
				* longer than the detector's window
				* (ransom.window), so that they are old
				* files to it, as a PC's documents are */
};

/* The agent counter (source.h) holding the campaign id of the drill
 * running now, 0 when none: the ransomware detector reads it so that
 * its drill verdict names the campaign (one alert per campaign). */
#define DRILL_COUNTER_CAMPAIGN "drill.campaign_running"

#endif
