/* synthetic_settings: the synthetic source's keys in agent.yaml. */
#ifndef EDUWATCH_SYNTHETIC_SETTINGS_H
#define EDUWATCH_SYNTHETIC_SETTINGS_H

struct synthetic_settings {
	long long rate; /* testing.synthetic_rate: events per second, 0 off */
	char log[512];	/* testing.synthetic_log: where emitted seqs go */
};

#endif
