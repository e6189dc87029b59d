#include "collector/drill/drill_scenario.h"

#include <errno.h>
#include <libgen.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"

/* A scenario is a few lines; anything bigger is not one. */
#define DRILL_SCENARIO_FILE_MAX (64 * 1024)

static const char *const stage_names[DRILL_STAGE_COUNT] = {
	[DRILL_STAGE_INJECTED] = "injected",
	[DRILL_STAGE_AV_ACTED] = "av_acted",
	[DRILL_STAGE_DETECTED] = "detected",
	[DRILL_STAGE_ALERT_RAISED] = "alert_raised",
	[DRILL_STAGE_FORWARDED] = "forwarded",
	[DRILL_STAGE_ACKNOWLEDGED] = "acknowledged",
	[DRILL_STAGE_RESOLVED] = "resolved",
	[DRILL_STAGE_CLEANED_UP] = "cleaned_up",
};

/* The injections the agent implements (agent/drill). */
static const char *const known_commands[] = {
	"drill.malware-drop",
	"drill.agent-silence",
	"drill.usb-worm",
	"drill.ransomware-sim",
	"drill.lan-attack",
	"drill.restore-test",
};

#define F(key, type, member, size, def, lo, hi)                            \
	{key, type, offsetof(struct drill_scenario, member), size, def, lo, \
	 hi, NULL, 0}

static const struct config_field scenario_fields[] = {
	F("id", CONFIG_STRING, id, DRILL_SCENARIO_ID_MAX + 1, NULL, 0, 0),
	F("title_vi", CONFIG_STRING, title_vi, 256, NULL, 0, 0),
	F("title_en", CONFIG_STRING, title_en, 256, NULL, 0, 0),
	F("command", CONFIG_STRING, command, 64, NULL, 0, 0),
	F("duration", CONFIG_DURATION, duration_s, 0, NULL, 1, 86400),
	F("stages", CONFIG_LIST, stages_raw, 0, NULL, 0, 0),
};

const char *drill_stage_name(enum drill_stage s)
{
	return (unsigned)s < DRILL_STAGE_COUNT ? stage_names[s] : NULL;
}

bool drill_command_known(const char *command)
{
	for (size_t i = 0; i < sizeof(known_commands) / sizeof(*known_commands);
	     i++)
		if (strcmp(command, known_commands[i]) == 0)
			return true;
	return false;
}

/* A scenario id becomes a file name: nothing that can climb out of the
 * drills folder or hide in a terminal. */
static bool id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > DRILL_SCENARIO_ID_MAX || id[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
	}
	return true;
}

static int check_stages(const char *name, struct drill_scenario *s,
			char *err, size_t errlen)
{
	if (s->stages_raw.count == 0) {
		snprintf(err, errlen, "%s: key 'stages': a scenario needs at "
			 "least the stage 'injected'", name);
		return -EINVAL;
	}
	for (size_t i = 0; i < s->stages_raw.count; i++) {
		const char *want = s->stages_raw.items[i];
		int found = -1;
		for (int k = 0; k < DRILL_STAGE_COUNT; k++)
			if (strcmp(want, stage_names[k]) == 0)
				found = k;
		if (found < 0) {
			snprintf(err, errlen, "%s: key 'stages': unknown stage "
				 "'%.64s' (known: injected, av_acted, detected, "
				 "alert_raised, forwarded, acknowledged, "
				 "resolved, cleaned_up)", name, want);
			return -EINVAL;
		}
		if (s->stages[found]) {
			snprintf(err, errlen, "%s: key 'stages': '%s' is listed "
				 "twice", name, want);
			return -EINVAL;
		}
		s->stages[found] = true;
	}
	if (!s->stages[DRILL_STAGE_INJECTED] ||
	    !s->stages[DRILL_STAGE_CLEANED_UP]) {
		snprintf(err, errlen, "%s: key 'stages': every scenario starts "
			 "with 'injected' and ends with 'cleaned_up' (the "
			 "cleanup is verified and reported)", name);
		return -EINVAL;
	}
	return 0;
}

/* The checks beyond the schema; name is the file for messages, id what
 * the file's name says the scenario is. */
static int validate(const char *name, const char *id,
		    struct drill_scenario *out, char *err, size_t errlen)
{
	if (!id_valid(out->id)) {
		snprintf(err, errlen, "%s: key 'id': '%.48s' is not a "
			 "scenario id (a-z, 0-9 and '-')", name, out->id);
		return -EINVAL;
	}
	if (strcmp(out->id, id) != 0) {
		snprintf(err, errlen, "%s: key 'id': says '%s'; a scenario's "
			 "id is its file name", name, out->id);
		return -EINVAL;
	}
	if (!drill_command_known(out->command)) {
		snprintf(err, errlen, "%s: key 'command': unknown injection "
			 "'%.64s' (known: drill.malware-drop, "
			 "drill.usb-worm, drill.ransomware-sim, "
			 "drill.agent-silence, drill.lan-attack, "
			 "drill.restore-test)", name,
			 out->command);
		return -EINVAL;
	}
	return check_stages(name, out, err, errlen);
}

int drill_scenario_parse(const char *name, const char *text, size_t len,
			 struct drill_scenario *out, char *err,
			 size_t errlen)
{
	memset(out, 0, sizeof(*out));
	int rc = config_load_string(name, text, len, scenario_fields,
				    CONFIG_FIELD_COUNT(scenario_fields), out,
				    err, errlen);
	if (rc == 0)
		rc = validate(name, name, out, err, errlen);
	config_free(scenario_fields, CONFIG_FIELD_COUNT(scenario_fields), out);
	return rc;
}

int drill_scenario_load(const char *dir, const char *id,
			struct drill_scenario *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!id_valid(id)) {
		snprintf(err, errlen, "'%.48s' is not a scenario id (a-z, 0-9 "
			 "and '-')", id);
		return -EINVAL;
	}
	char path[1024];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.yaml", dir, id) >=
	    sizeof(path)) {
		snprintf(err, errlen, "the drills folder path is too long");
		return -ENAMETOOLONG;
	}
	/* The file itself, never through a link: a scenario planted as a
	 * symlink to a file outside the drills folder is refused, not read
	 * (its text would reach the officer's error message). */
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > DRILL_SCENARIO_FILE_MAX) {
		int e = fd < 0 ? errno : 0;
		snprintf(err, errlen, "%s: %s", path,
			 e == ELOOP ? "a symbolic link; a scenario is a file of "
			 "the drills folder itself" : e == ENOENT ? "no such "
			 "scenario" : e ? "cannot be opened" : "not a regular "
			 "file of at most 64 KiB");
		if (fd >= 0)
			close(fd);
		return e == ENOENT ? -ENOENT : -EINVAL;
	}
	char *text = alloc_zeroed((size_t)st.st_size + 1, 1);
	ssize_t n = text ? read(fd, text, (size_t)st.st_size) : -1;
	close(fd);
	if (n != (ssize_t)st.st_size) {
		alloc_free(text);
		snprintf(err, errlen, "%s: cannot be read", path);
		return -EIO;
	}
	int rc = config_load_string(path, text, (size_t)n, scenario_fields,
				    CONFIG_FIELD_COUNT(scenario_fields), out,
				    err, errlen);
	alloc_free(text);
	if (rc == 0)
		rc = validate(path, id, out, err, errlen);
	config_free(scenario_fields, CONFIG_FIELD_COUNT(scenario_fields), out);
	return rc;
}

void drill_scenarios_dir(const char *policy_dir, char *out, size_t cap)
{
	char copy[1024];
	snprintf(copy, sizeof(copy), "%s", policy_dir);
	snprintf(out, cap, "%s/drills", dirname(copy));
}
