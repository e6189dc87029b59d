/* config: YAML configuration files read through libyaml, against a schema.
 *
 * A module describes its settings as a table of config_field (dotted key,
 * type, where it lands in the module's struct, default, range). Loading
 * fills the struct with defaults, then with the file, and refuses unknown
 * keys, wrong types, out-of-range values and YAML aliases. Every error
 * names the file, the line and the key, e.g.
 *   agent.yaml:7: key 'uplink.backoff_max': expected a duration like 30s,
 *   5m, 2h or 7d, got 'soon' */
#ifndef EDUWATCH_CONFIG_H
#define EDUWATCH_CONFIG_H

#include "common/check.h"

#include <stdbool.h>
#include <stddef.h>

enum config_type {
	CONFIG_STRING,	 /* char[size] inside the struct */
	CONFIG_INT,	 /* long long */
	CONFIG_BOOL,	 /* bool */
	CONFIG_DURATION, /* long long seconds: 90, 30s, 5m, 2h, 7d */
	CONFIG_SIZE,	 /* long long bytes: 4096, 64KiB, 256MiB, 1GiB */
	CONFIG_LIST,	 /* struct config_list of strings */
	CONFIG_LOG_LEVEL, /* enum log_level: error, warn, info, debug */
	CONFIG_TABLE,	 /* struct config_table: a list of mappings, each
			    loaded into a struct by its own schema */
};

struct config_list {
	char **items;
	size_t count;
};

struct config_table {
	void *items; /* count structs of the item size, contiguous */
	size_t count;
};

struct config_field {
	const char *key;
	enum config_type type;
	size_t offset;
	size_t size;	      /* CONFIG_STRING capacity, NUL included;
				 CONFIG_TABLE: the size of one item */
	const char *fallback; /* default as YAML text; NULL: required */
	long long min, max;   /* inclusive range for numbers; 0,0: any;
				 CONFIG_TABLE: item count */
	const struct config_field *item_fields; /* CONFIG_TABLE: its schema */
	size_t item_nfields;
};

#define CONFIG_FIELD_COUNT(table) (sizeof(table) / sizeof((table)[0]))

/* Loads path into out. Returns 0, or -EINVAL with a message in err (out
 * may then hold partial values; call config_free either way). */
EW_MUST_CHECK
int config_load_file(const char *path, const struct config_field *fields,
		     size_t nfields, void *out, char *err, size_t errlen);

/* The same for text in memory; name is used in messages. */
EW_MUST_CHECK
int config_load_string(const char *name, const char *text, size_t len,
		       const struct config_field *fields, size_t nfields,
		       void *out, char *err, size_t errlen);

/* Applies one "key=value" given on a command line (-o) over what loading
 * set: the key is a dotted key of the schema (unknown keys are refused),
 * the value is checked as the file's would be; a list takes its items
 * separated by commas ("yara.rules=/a,/b"), and a table cannot be set
 * this way. Call it after config_load_file, before the caller's own
 * checks. Returns 0, or -EINVAL with a message in err naming the
 * assignment. */
int config_override(const char *assignment, const struct config_field *fields,
		    size_t nfields, void *out, char *err, size_t errlen);

/* Frees what loading allocated (lists, tables). */
void config_free(const struct config_field *fields, size_t nfields,
		 void *out);

/* Writes a settings file made with snprintf: `written` is snprintf's
 * return for a buffer of `cap` bytes. Atomic (temp file and rename), mode
 * 0640. Returns 0 or a negative errno with a message in err. */
EW_MUST_CHECK
int config_write_text(const char *path, const char *text, int written,
		      size_t cap, char *err, size_t errlen);

EW_MUST_CHECK
int config_parse_duration(const char *text, long long *seconds);
EW_MUST_CHECK
int config_parse_size(const char *text, long long *bytes);

#endif
