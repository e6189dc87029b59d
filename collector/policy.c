#include "collector/policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"

#define C(key, type, member, size, def, lo, hi)                              \
	{key, type, offsetof(struct policy_check, member), size, def, lo, hi, \
	 NULL, 0}

static const struct config_field check_fields[] = {
	C("id", CONFIG_STRING, id, 64, NULL, 0, 0),
	C("weight", CONFIG_INT, weight, 0, NULL, 1, 100),
	C("control", CONFIG_STRING, control, 256, NULL, 0, 0),
	C("title_vi", CONFIG_STRING, title_vi, 256, NULL, 0, 0),
	C("title_en", CONFIG_STRING, title_en, 256, NULL, 0, 0),
	C("rationale_vi", CONFIG_STRING, rationale_vi, 512, NULL, 0, 0),
	C("rationale_en", CONFIG_STRING, rationale_en, 512, NULL, 0, 0),
	C("remediation_vi", CONFIG_STRING, remediation_vi, 512, NULL, 0, 0),
	C("remediation_en", CONFIG_STRING, remediation_en, 512, NULL, 0, 0),
	C("state", CONFIG_STRING, state, 32, NULL, 0, 0),
	C("field", CONFIG_STRING, field, 64, "", 0, 0),
	C("test", CONFIG_STRING, test, 16, NULL, 0, 0),
	C("value", CONFIG_STRING, value, 128, "", 0, 0),
};

#define P(key, type, member, size, def, lo, hi)                      \
	{key, type, offsetof(struct policy, member), size, def, lo, hi, \
	 NULL, 0}

static const struct config_field policy_fields[] = {
	P("level", CONFIG_INT, level, 0, NULL, 1, POLICY_LEVELS),
	P("name_vi", CONFIG_STRING, name_vi, 128, NULL, 0, 0),
	P("name_en", CONFIG_STRING, name_en, 128, NULL, 0, 0),
	P("stale_after", CONFIG_DURATION, stale_after, 0, "2h", 60, 30 * 86400),
	P("extends", CONFIG_INT, extends, 0, "0", 0, POLICY_LEVELS),
	{"checks", CONFIG_TABLE, offsetof(struct policy, checks),
	 sizeof(struct policy_check), NULL, 0, 200, check_fields,
	 CONFIG_FIELD_COUNT(check_fields)},
};

static const char *const test_names[] = {"eq", "ne", "le", "ge", "age_le",
					 "present"};

int policy_check_parse(const char *path, struct policy_check *c, char *err,
		       size_t errlen)
{
	size_t i;
	for (i = 0; i < sizeof(test_names) / sizeof(test_names[0]); i++)
		if (strcmp(c->test, test_names[i]) == 0)
			break;
	if (i == sizeof(test_names) / sizeof(test_names[0])) {
		snprintf(err, errlen, "%s: check '%s': test '%s' is not one of "
			 "eq, ne, le, ge, age_le, present", path, c->id, c->test);
		return -EINVAL;
	}
	c->op = (enum check_test)i;
	if (strcmp(c->state, "agent") == 0 && strcmp(c->field, "last_seen") != 0) {
		snprintf(err, errlen, "%s: check '%s': the agent state has one "
			 "field, last_seen", path, c->id);
		return -EINVAL;
	}
	if (c->op != CHECK_PRESENT && c->field[0] == '\0') {
		snprintf(err, errlen, "%s: check '%s': test '%s' needs a field",
			 path, c->id, c->test);
		return -EINVAL;
	}
	char *end;
	switch (c->op) {
	case CHECK_LE:
	case CHECK_GE:
		c->number = strtod(c->value, &end);
		if (c->value[0] == '\0' || *end != '\0') {
			snprintf(err, errlen, "%s: check '%s': value '%s' is not "
				 "a number", path, c->id, c->value);
			return -EINVAL;
		}
		break;
	case CHECK_AGE_LE:
		if (config_parse_duration(c->value, &c->age_s) != 0) {
			snprintf(err, errlen, "%s: check '%s': value '%s' is not "
				 "a duration like 24h or 7d", path, c->id,
				 c->value);
			return -EINVAL;
		}
		break;
	case CHECK_EQ:
	case CHECK_NE:
		if (c->value[0] == '\0') {
			snprintf(err, errlen, "%s: check '%s': test '%s' needs a "
				 "value", path, c->id, c->test);
			return -EINVAL;
		}
		break;
	case CHECK_PRESENT:
		break;
	}
	return 0;
}

int policy_load(const char *path, struct policy *out, char *err,
		size_t errlen)
{
	memset(out, 0, sizeof(*out));
	int rc = config_load_file(path, policy_fields,
				  CONFIG_FIELD_COUNT(policy_fields), out, err,
				  errlen);
	for (size_t i = 0; rc == 0 && i < out->checks.count; i++) {
		struct policy_check *c = (struct policy_check *)out->checks.items + i;
		rc = policy_check_parse(path, c, err, errlen);
		for (size_t j = 0; rc == 0 && j < i; j++) {
			if (strcmp(policy_check_at(out, j)->id, c->id) == 0) {
				snprintf(err, errlen, "%s: check id '%s' is used "
					 "twice", path, c->id);
				rc = -EINVAL;
			}
		}
	}
	if (rc == 0 && out->checks.count == 0) {
		snprintf(err, errlen, "%s: a policy needs at least one check",
			 path);
		rc = -EINVAL;
	}
	if (rc != 0)
		policy_free(out);
	return rc;
}

void policy_free(struct policy *p)
{
	config_free(policy_fields, CONFIG_FIELD_COUNT(policy_fields), p);
}

/* Puts base's checks before p's own, so a level-4 PC is held to all of
 * level 3 first. */
static int inherit_checks(const char *path, struct policy *p,
			  const struct policy *base, char *err, size_t errlen)
{
	size_t nb = base->checks.count, no = p->checks.count;
	struct policy_check *all = alloc_zeroed(nb + no, sizeof(*all));
	if (all == NULL)
		return -ENOMEM;
	memcpy(all, base->checks.items, nb * sizeof(*all));
	memcpy(all + nb, p->checks.items, no * sizeof(*all));
	for (size_t i = nb; i < nb + no; i++)
		for (size_t j = 0; j < nb; j++)
			if (strcmp(all[i].id, all[j].id) == 0) {
				snprintf(err, errlen, "%s: check '%s' is already "
					 "in level %lld, which it extends",
					 path, all[i].id, base->level);
				alloc_free(all);
				return -EINVAL;
			}
	alloc_free(p->checks.items);
	p->checks.items = all;
	p->checks.count = nb + no;
	return 0;
}

int policy_set_load(const char *dir, struct policy_set *out, char *err,
		    size_t errlen)
{
	memset(out, 0, sizeof(*out));
	for (int level = 1; level <= POLICY_LEVELS; level++) {
		char path[1024];
		struct policy *p = &out->levels[level - 1];
		snprintf(path, sizeof(path), "%s/level%d.yaml", dir, level);
		if (level > POLICY_LEVELS_REQUIRED && access(path, F_OK) != 0)
			continue; /* no policy at this level */
		int rc = policy_load(path, p, err, errlen);
		if (rc == 0 && p->level != level) {
			snprintf(err, errlen, "%s: says level %lld", path,
				 p->level);
			rc = -EINVAL;
		}
		if (rc == 0 && p->extends != 0 &&
		    (p->extends >= level ||
		     out->levels[p->extends - 1].checks.count == 0)) {
			snprintf(err, errlen, "%s: extends level %lld, which is "
				 "not a lower level with a policy", path,
				 p->extends);
			rc = -EINVAL;
		}
		if (rc == 0 && p->extends != 0)
			rc = inherit_checks(path, p,
					    &out->levels[p->extends - 1], err,
					    errlen);
		if (rc != 0) {
			policy_set_free(out);
			return rc;
		}
	}
	return 0;
}

void policy_set_free(struct policy_set *set)
{
	for (int i = 0; i < POLICY_LEVELS; i++)
		policy_free(&set->levels[i]);
}

const struct policy *policy_for_level(const struct policy_set *set,
				      int level)
{
	if (level < 1 || level > POLICY_LEVELS ||
	    set->levels[level - 1].checks.count == 0)
		return NULL;
	return &set->levels[level - 1];
}
