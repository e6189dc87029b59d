/* libFuzzer harness: the YAML configuration loader with a schema that has
 * every field type. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/config.h"

struct fuzz_settings {
	char name[32];
	long long count;
	bool flag;
	long long wait;
	long long size;
	struct config_list items;
};

static const struct config_field fields[] = {
	{"name", CONFIG_STRING, offsetof(struct fuzz_settings, name), 32, "x",
	 0, 0},
	{"a.count", CONFIG_INT, offsetof(struct fuzz_settings, count), 0, "1", 0,
	 100},
	{"a.flag", CONFIG_BOOL, offsetof(struct fuzz_settings, flag), 0, "no",
	 0, 0},
	{"a.b.wait", CONFIG_DURATION, offsetof(struct fuzz_settings, wait), 0,
	 "5m", 0, 0},
	{"size", CONFIG_SIZE, offsetof(struct fuzz_settings, size), 0, "1MiB",
	 0, 0},
	{"items", CONFIG_LIST, offsetof(struct fuzz_settings, items), 0, NULL,
	 0, 0},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_settings s;
	char err[512];
	config_load_string("fuzz.yaml", (const char *)data, size, fields,
			   CONFIG_FIELD_COUNT(fields), &s, err, sizeof(err));
	config_free(fields, CONFIG_FIELD_COUNT(fields), &s);
	return 0;
}
