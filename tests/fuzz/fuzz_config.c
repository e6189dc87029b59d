/* libFuzzer harness: the YAML configuration loader with a schema that has
 * every field type, tables nested two deep included. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/config.h"

struct fuzz_item {
	char id[16];
	long long weight;
	struct config_list tags;
	struct config_table nested;
};

/* Items nest one level: a table inside a table. */
static const struct config_field leaf_fields[] = {
	{"id", CONFIG_STRING, offsetof(struct fuzz_item, id), 16, NULL, 0, 0,
	 NULL, 0},
};

static const struct config_field item_fields[] = {
	{"id", CONFIG_STRING, offsetof(struct fuzz_item, id), 16, NULL, 0, 0,
	 NULL, 0},
	{"weight", CONFIG_INT, offsetof(struct fuzz_item, weight), 0, "1", 1, 10,
	 NULL, 0},
	{"tags", CONFIG_LIST, offsetof(struct fuzz_item, tags), 0, NULL, 0, 0,
	 NULL, 0},
	{"nested", CONFIG_TABLE, offsetof(struct fuzz_item, nested),
	 sizeof(struct fuzz_item), NULL, 0, 4, leaf_fields,
	 CONFIG_FIELD_COUNT(leaf_fields)},
};

struct fuzz_settings {
	char name[32];
	long long count;
	bool flag;
	long long wait;
	long long size;
	struct config_list items;
	struct config_table checks;
};

static const struct config_field fields[] = {
	{"name", CONFIG_STRING, offsetof(struct fuzz_settings, name), 32, "x",
	 0, 0, NULL, 0},
	{"a.count", CONFIG_INT, offsetof(struct fuzz_settings, count), 0, "1", 0,
	 100, NULL, 0},
	{"a.flag", CONFIG_BOOL, offsetof(struct fuzz_settings, flag), 0, "no",
	 0, 0, NULL, 0},
	{"a.b.wait", CONFIG_DURATION, offsetof(struct fuzz_settings, wait), 0,
	 "5m", 0, 0, NULL, 0},
	{"size", CONFIG_SIZE, offsetof(struct fuzz_settings, size), 0, "1MiB",
	 0, 0, NULL, 0},
	{"items", CONFIG_LIST, offsetof(struct fuzz_settings, items), 0, NULL,
	 0, 0, NULL, 0},
	{"checks", CONFIG_TABLE, offsetof(struct fuzz_settings, checks),
	 sizeof(struct fuzz_item), NULL, 0, 50, item_fields,
	 CONFIG_FIELD_COUNT(item_fields)},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_settings s;
	char err[512];
	EW_IGNORE(config_load_string("fuzz.yaml", (const char *)data, size, fields,
			   CONFIG_FIELD_COUNT(fields), &s, err, sizeof(err)));
	config_free(fields, CONFIG_FIELD_COUNT(fields), &s);
	return 0;
}
