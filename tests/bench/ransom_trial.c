/* ransom_trial: the ransomware detector's false-positive (and positive)
 * trials. Runs exactly what the agent's ransom source runs (ransom_watch:
 * the platform's watcher, the model, the canaries) with the settings of
 * an agent.yaml, until SIGTERM/SIGINT or --seconds, and prints one JSON
 * line: the file events seen, the highest score any actor reached, the
 * threshold, the verdicts and the first verdict's reason.
 *
 *   ransom_trial -c agent.yaml [--seconds N]
 *
 * "watching" on stderr says the watch is in place; the workload starts
 * after it; each verdict is a "verdict" line there as it happens
 * (tests/integration/ransom_trials.sh). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/core/settings.h"
#include "agent/core/source.h"
#include "agent/ransom/ransom_settings.h"
#include "agent/ransom/ransom_watch.h"

static char first_reason[16] = "";
static unsigned first_files;

/* On the watcher's thread; the main thread reads after the join. */
static void on_verdict(void *arg, const struct ransom_verdict *v,
		       const char *root)
{
	(void)arg;
	fprintf(stderr, "verdict %s in %s: %u acts\n", v->reason, root,
		v->score);
	if (first_reason[0] == '\0') {
		snprintf(first_reason, sizeof(first_reason), "%s", v->reason);
		first_files = v->score;
	}
}

int main(int argc, char **argv)
{
	const char *config = NULL;
	long seconds = 600;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "-c") == 0)
			config = argv[i + 1];
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = strtol(argv[i + 1], NULL, 10);
	}
	if (config == NULL || seconds <= 0) {
		fprintf(stderr, "usage: ransom_trial -c agent.yaml "
				"[--seconds N]\n");
		return 2;
	}
	static struct agent_settings s;
	char err[512];
	if (agent_settings_load(config, &s, err, sizeof(err)) != 0) {
		fprintf(stderr, "ransom_trial: %s\n", err);
		return 3;
	}
	const struct ransom_settings *rs = agent_settings_for(&s, &ransom_config);
	const char *roots[RANSOM_ROOTS_MAX];
	struct ransom_watch_conf wc = {.roots = roots};
	for (size_t i = 0; i < rs->nfolders && i < RANSOM_ROOTS_MAX; i++)
		roots[wc.nroots++] = rs->folders[i];
	wc.ncanaries = rs->canaries ? wc.nroots : 0;
	ransom_settings_params(rs, &wc.params);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* the watcher inherits it */
	struct ransom_watch *w;
	if (ransom_watch_start(&wc, on_verdict, NULL, &w, err, sizeof(err)) !=
	    0) {
		fprintf(stderr, "ransom_trial: %s\n", err);
		return 1;
	}
	fprintf(stderr, "watching\n");
	struct timespec ts = {.tv_sec = seconds};
	(void)sigtimedwait(&set, NULL, &ts);
	struct ransom_watch_stats st;
	ransom_watch_stats(w, &st);
	ransom_watch_stop(w);
	printf("{\"events\":%llu,\"lost\":%llu,\"folders\":%u,\"canaries\":%u,"
	       "\"max_score\":%u,\"threshold\":%u,\"verdicts\":%llu,"
	       "\"first\":\"%s\",\"first_files\":%u}\n",
	       st.fs.events, st.fs.lost, st.fs.folders, st.canaries,
	       st.model.max_score, wc.params.threshold, st.model.verdicts,
	       first_reason, first_files);
	return 0;
}
