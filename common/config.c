#include "common/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "common/alloc.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/pki.h"

#define CONFIG_MAX_FIELDS 256
#define CONFIG_KEY_MAX 256
#define CONFIG_LIST_MAX 10000

struct loader {
	const char *name;
	const char *key_prefix; /* "checks[3]" inside a table item, or "" */
	const struct config_field *fields;
	size_t nfields;
	void *out;
	bool seen[CONFIG_MAX_FIELDS];
	char *err;
	size_t errlen;
};

static int failf(struct loader *ld, int line, const char *key,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int failf(struct loader *ld, int line, const char *key,
		 const char *fmt, ...)
{
	char reason[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	char full[CONFIG_KEY_MAX + 64];
	if (key != NULL && ld->key_prefix && ld->key_prefix[0]) {
		snprintf(full, sizeof(full), "%s.%s", ld->key_prefix, key);
		key = full;
	}
	if (line > 0 && key != NULL)
		snprintf(ld->err, ld->errlen, "%s:%d: key '%s': %s", ld->name,
			 line, key, reason);
	else if (line > 0)
		snprintf(ld->err, ld->errlen, "%s:%d: %s", ld->name, line,
			 reason);
	else if (key != NULL)
		snprintf(ld->err, ld->errlen, "%s: key '%s': %s", ld->name, key,
			 reason);
	else
		snprintf(ld->err, ld->errlen, "%s: %s", ld->name, reason);
	return -EINVAL;
}

static int parse_number_with_unit(const char *text, long long *out,
				  const char *const *units,
				  const long long *factors, size_t nunits)
{
	char *end;
	errno = 0;
	if (text[0] == '\0' || text[0] == '-' || text[0] == '+')
		return -EINVAL;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno != 0 || end == text)
		return -EINVAL;
	long long factor = 1;
	if (*end != '\0') {
		size_t i;
		for (i = 0; i < nunits; i++)
			if (strcmp(end, units[i]) == 0)
				break;
		if (i == nunits)
			return -EINVAL;
		factor = factors[i];
	}
	if (v > (unsigned long long)(INT64_MAX / factor))
		return -ERANGE;
	*out = (long long)v * factor;
	return 0;
}

int config_parse_duration(const char *text, long long *seconds)
{
	static const char *const units[] = {"s", "m", "h", "d", "w"};
	static const long long factors[] = {1, 60, 3600, 86400, 604800};
	return parse_number_with_unit(text, seconds, units, factors, 5);
}

int config_parse_size(const char *text, long long *bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB",
					    "KB", "MB", "GB"};
	static const long long factors[] = {1, 1LL << 10, 1LL << 20, 1LL << 30,
					    1000, 1000000, 1000000000};
	return parse_number_with_unit(text, bytes, units, factors, 7);
}

static int parse_int(const char *text, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_bool(const char *text, bool *out)
{
	if (strcmp(text, "true") == 0 || strcmp(text, "yes") == 0 ||
	    strcmp(text, "on") == 0) {
		*out = true;
		return 0;
	}
	if (strcmp(text, "false") == 0 || strcmp(text, "no") == 0 ||
	    strcmp(text, "off") == 0) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

static void *slot(struct loader *ld, const struct config_field *f)
{
	return (char *)ld->out + f->offset;
}

static int check_range(struct loader *ld, const struct config_field *f,
		       int line, long long v, const char *text)
{
	if ((f->min != 0 || f->max != 0) && (v < f->min || v > f->max))
		return failf(ld, line, f->key, "value %s is out of range %lld..%lld",
			     text, f->min, f->max);
	return 0;
}

static int set_scalar(struct loader *ld, const struct config_field *f,
		      int line, const char *text)
{
	long long v;
	switch (f->type) {
	case CONFIG_STRING: {
		size_t n = strlen(text);
		if (n >= f->size)
			return failf(ld, line, f->key,
				     "value is %zu bytes, at most %zu allowed", n,
				     f->size - 1);
		memcpy(slot(ld, f), text, n + 1);
		return 0;
	}
	case CONFIG_INT:
		if (parse_int(text, &v) != 0)
			return failf(ld, line, f->key,
				     "expected an integer, got '%s'", text);
		if (check_range(ld, f, line, v, text) != 0)
			return -EINVAL;
		*(long long *)slot(ld, f) = v;
		return 0;
	case CONFIG_BOOL:
		if (parse_bool(text, slot(ld, f)) != 0)
			return failf(ld, line, f->key,
				     "expected true or false, got '%s'", text);
		return 0;
	case CONFIG_DURATION:
		if (config_parse_duration(text, &v) != 0)
			return failf(ld, line, f->key,
				     "expected a duration like 30s, 5m, 2h or "
				     "7d, got '%s'", text);
		if (check_range(ld, f, line, v, text) != 0)
			return -EINVAL;
		*(long long *)slot(ld, f) = v;
		return 0;
	case CONFIG_SIZE:
		if (config_parse_size(text, &v) != 0)
			return failf(ld, line, f->key,
				     "expected a size like 4096, 64KiB, 256MiB "
				     "or 1GiB, got '%s'", text);
		if (check_range(ld, f, line, v, text) != 0)
			return -EINVAL;
		*(long long *)slot(ld, f) = v;
		return 0;
	case CONFIG_LOG_LEVEL:
		if (log_level_parse(text, slot(ld, f)) != 0)
			return failf(ld, line, f->key,
				     "expected error, warn, info or debug, got "
				     "'%s'", text);
		return 0;
	case CONFIG_LIST:
	case CONFIG_TABLE:
		return failf(ld, line, f->key, "expected a list");
	}
	return -EINVAL;
}

static void list_clear(struct config_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		alloc_free(list->items[i]);
	alloc_free(list->items);
	list->items = NULL;
	list->count = 0;
}

static int list_push(struct config_list *list, const char *text, size_t len)
{
	char **items = alloc_resize(list->items,
				    (list->count + 1) * sizeof(char *));
	if (items == NULL)
		return -ENOMEM;
	list->items = items;
	items[list->count] = alloc_strndup(text, len);
	if (items[list->count] == NULL)
		return -ENOMEM;
	list->count++;
	return 0;
}

static const struct config_field *find_field(struct loader *ld,
					     const char *key, size_t *index)
{
	for (size_t i = 0; i < ld->nfields; i++) {
		if (strcmp(ld->fields[i].key, key) == 0) {
			*index = i;
			return &ld->fields[i];
		}
	}
	return NULL;
}

static bool is_section(struct loader *ld, const char *prefix)
{
	size_t n = strlen(prefix);
	for (size_t i = 0; i < ld->nfields; i++)
		if (strncmp(ld->fields[i].key, prefix, n) == 0 &&
		    ld->fields[i].key[n] == '.')
			return true;
	return false;
}

static int node_line(const yaml_node_t *node)
{
	return (int)node->start_mark.line + 1;
}

/* Copies a scalar to a NUL-terminated buffer; scalars may hold NULs. */
static int scalar_text(const yaml_node_t *node, char *buf, size_t cap)
{
	size_t len = node->data.scalar.length;
	const char *text = (const char *)node->data.scalar.value;
	if (len >= cap || memchr(text, '\0', len) != NULL)
		return -EINVAL;
	memcpy(buf, text, len);
	buf[len] = '\0';
	return 0;
}

static int load_list(struct loader *ld, const struct config_field *f,
		     int line, yaml_document_t *doc, const yaml_node_t *seq)
{
	struct config_list *list = slot(ld, f);
	list_clear(list);
	for (yaml_node_item_t *it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++) {
		const yaml_node_t *item = yaml_document_get_node(doc, *it);
		if (item == NULL || item->type != YAML_SCALAR_NODE)
			return failf(ld, item ? node_line(item) : line, f->key,
				     "list items must be plain strings");
		size_t len = item->data.scalar.length;
		const char *text = (const char *)item->data.scalar.value;
		if (memchr(text, '\0', len) != NULL)
			return failf(ld, node_line(item), f->key,
				     "bad list item");
		if (list->count >= CONFIG_LIST_MAX)
			return failf(ld, line, f->key, "more than %d items",
				     CONFIG_LIST_MAX);
		if (list_push(list, text, len) != 0)
			return failf(ld, line, f->key, "out of memory");
	}
	return 0;
}

static int load_mapping(struct loader *ld, yaml_document_t *doc,
			const yaml_node_t *map, const char *prefix,
			unsigned depth);
static int apply_defaults(struct loader *ld);
static int check_required(struct loader *ld);

static void table_clear(const struct config_field *f, struct config_table *t)
{
	for (size_t i = 0; i < t->count; i++)
		config_free(f->item_fields, f->item_nfields,
			    (char *)t->items + i * f->size);
	alloc_free(t->items);
	t->items = NULL;
	t->count = 0;
}

/* Each item of a table is a mapping loaded by a loader of its own, so it
 * gets defaults, unknown-key and duplicate checks and required fields
 * exactly like a file; its messages name it as "key[i].field". */
static int load_table(struct loader *ld, const struct config_field *f,
		      int line, yaml_document_t *doc, const yaml_node_t *seq,
		      unsigned depth)
{
	struct config_table *t = slot(ld, f);
	size_t max = f->max > 0 ? (size_t)f->max : CONFIG_LIST_MAX;
	table_clear(f, t);
	for (yaml_node_item_t *it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++) {
		const yaml_node_t *item = yaml_document_get_node(doc, *it);
		size_t index = t->count;
		char prefix[CONFIG_KEY_MAX];
		snprintf(prefix, sizeof(prefix), "%s[%zu]", f->key, index);
		if (item == NULL || item->type != YAML_MAPPING_NODE)
			return failf(ld, item ? node_line(item) : line, prefix,
				     "expected a mapping of keys");
		if (index >= max)
			return failf(ld, node_line(item), f->key,
				     "more than %zu items", max);
		void *items = alloc_resize(t->items, (index + 1) * f->size);
		if (items == NULL)
			return failf(ld, line, f->key, "out of memory");
		t->items = items;
		void *out = (char *)items + index * f->size;
		memset(out, 0, f->size);
		t->count++;
		struct loader sub = {
			.name = ld->name, .key_prefix = prefix,
			.fields = f->item_fields, .nfields = f->item_nfields,
			.out = out, .err = ld->err, .errlen = ld->errlen,
		};
		int rc = apply_defaults(&sub);
		if (rc == 0)
			rc = load_mapping(&sub, doc, item, "", depth + 1);
		if (rc == 0)
			rc = check_required(&sub);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int load_mapping(struct loader *ld, yaml_document_t *doc,
			const yaml_node_t *map, const char *prefix,
			unsigned depth)
{
	if (depth > 8)
		return failf(ld, node_line(map), prefix, "nested too deeply");
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		const yaml_node_t *key = yaml_document_get_node(doc, pair->key);
		const yaml_node_t *val = yaml_document_get_node(doc, pair->value);
		char name[128], path[CONFIG_KEY_MAX];
		int line = key ? node_line(key) : node_line(map);

		if (key == NULL || val == NULL || key->type != YAML_SCALAR_NODE ||
		    scalar_text(key, name, sizeof(name)) != 0)
			return failf(ld, line, prefix[0] ? prefix : NULL,
				     "keys must be short plain strings");
		if (snprintf(path, sizeof(path), "%s%s%s", prefix,
			     prefix[0] ? "." : "", name) >= (int)sizeof(path))
			return failf(ld, line, name, "key path too long");
		if (val->type == YAML_MAPPING_NODE) {
			if (!is_section(ld, path))
				return failf(ld, line, path,
					     "unknown section (check the "
					     "spelling)");
			int rc = load_mapping(ld, doc, val, path, depth + 1);
			if (rc != 0)
				return rc;
			continue;
		}
		size_t index;
		const struct config_field *f = find_field(ld, path, &index);
		if (f == NULL)
			return failf(ld, line, path,
				     "unknown key (check the spelling)");
		/* libyaml does not refuse duplicate keys; we do, since the
		 * second would silently win. */
		if (ld->seen[index])
			return failf(ld, line, path, "duplicate key");
		ld->seen[index] = true;
		if (val->type == YAML_SEQUENCE_NODE) {
			if (f->type != CONFIG_LIST && f->type != CONFIG_TABLE)
				return failf(ld, line, path,
					     "expected a single value, got a "
					     "list");
			int rc = f->type == CONFIG_TABLE
					 ? load_table(ld, f, line, doc, val, depth)
					 : load_list(ld, f, line, doc, val);
			if (rc != 0)
				return rc;
			continue;
		}
		char text[4096];
		if (scalar_text(val, text, sizeof(text)) != 0)
			return failf(ld, line, path,
				     "value is too long or holds a NUL byte");
		if (f->type == CONFIG_LIST || f->type == CONFIG_TABLE) {
			/* An empty value means an empty list. */
			if (text[0] != '\0')
				return failf(ld, line, path, "expected a list");
			if (f->type == CONFIG_LIST)
				list_clear(slot(ld, f));
			else
				table_clear(f, slot(ld, f));
			continue;
		}
		int rc = set_scalar(ld, f, line, text);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int apply_defaults(struct loader *ld)
{
	for (size_t i = 0; i < ld->nfields; i++) {
		const struct config_field *f = &ld->fields[i];
		if (f->type == CONFIG_LIST) {
			struct config_list *list = slot(ld, f);
			list->items = NULL;
			list->count = 0;
			continue;
		}
		if (f->type == CONFIG_TABLE) {
			struct config_table *t = slot(ld, f);
			t->items = NULL;
			t->count = 0;
			continue;
		}
		if (f->fallback == NULL)
			continue;
		int rc = set_scalar(ld, f, 0, f->fallback);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Checks the text before the parser sees it, so that the common mistakes
 * get a plain message with a line: YAML forbids C0 control bytes other than
 * tab and line breaks, and the file must be UTF-8 (Vietnamese names). */
static int check_text(struct loader *ld, const char *text, size_t len)
{
	int line = 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == '\n') {
			line++;
			continue;
		}
		if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
			return failf(ld, line, NULL,
				     "control byte 0x%02x is not allowed", c);
		if (c < 0x80)
			continue;
		/* Multi-byte UTF-8: a lead byte, then continuation bytes. */
		size_t extra;
		if (c >= 0xc2 && c <= 0xdf)
			extra = 1;
		else if (c >= 0xe0 && c <= 0xef)
			extra = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			extra = 3;
		else
			return failf(ld, line, NULL,
				     "the file is not valid UTF-8");
		if (extra >= len - i)
			return failf(ld, line, NULL,
				     "the file is not valid UTF-8");
		for (size_t k = 1; k <= extra; k++)
			if (((unsigned char)text[i + k] & 0xc0) != 0x80)
				return failf(ld, line, NULL,
					     "the file is not valid UTF-8");
		i += extra;
	}
	return 0;
}

static int syntax_error(struct loader *ld, const yaml_parser_t *parser)
{
	return failf(ld, (int)parser->problem_mark.line + 1, NULL,
		     "YAML syntax error: %s%s%s",
		     parser->problem ? parser->problem : "malformed",
		     parser->context ? " " : "",
		     parser->context ? parser->context : "");
}

/* A first pass over the events refuses anchors and aliases: with them a
 * small file can expand into a huge tree, and settings never need them. */
static int refuse_aliases(struct loader *ld, const char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_event_t event;
	int rc = 0;
	if (!yaml_parser_initialize(&parser))
		return failf(ld, 0, NULL, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	for (;;) {
		if (!yaml_parser_parse(&parser, &event)) {
			rc = syntax_error(ld, &parser);
			break;
		}
		int line = (int)event.start_mark.line + 1;
		bool anchored =
			event.type == YAML_ALIAS_EVENT ||
			(event.type == YAML_SCALAR_EVENT &&
			 event.data.scalar.anchor) ||
			(event.type == YAML_MAPPING_START_EVENT &&
			 event.data.mapping_start.anchor) ||
			(event.type == YAML_SEQUENCE_START_EVENT &&
			 event.data.sequence_start.anchor);
		yaml_event_type_t type = event.type;
		yaml_event_delete(&event);
		if (anchored) {
			rc = failf(ld, line, NULL,
				   "YAML anchors and aliases are not allowed");
			break;
		}
		if (type == YAML_DOCUMENT_END_EVENT) {
			/* One document per file. */
			if (!yaml_parser_parse(&parser, &event)) {
				rc = syntax_error(ld, &parser);
				break;
			}
			type = event.type;
			line = (int)event.start_mark.line + 1;
			yaml_event_delete(&event);
			if (type != YAML_STREAM_END_EVENT)
				rc = failf(ld, line, NULL,
					   "only one YAML document is allowed");
			break;
		}
		if (type == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&parser);
	return rc;
}

static int load_document(struct loader *ld, const char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	int rc = refuse_aliases(ld, text, len);
	if (rc != 0)
		return rc;
	if (!yaml_parser_initialize(&parser))
		return failf(ld, 0, NULL, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = syntax_error(ld, &parser);
		yaml_parser_delete(&parser);
		return rc;
	}
	const yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root != NULL && root->type == YAML_MAPPING_NODE)
		rc = load_mapping(ld, &doc, root, "", 0);
	else if (root != NULL && !(root->type == YAML_SCALAR_NODE &&
				   root->data.scalar.length == 0))
		rc = failf(ld, node_line(root), NULL,
			   "the top level must be a mapping of keys");
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rc != 0)
		return rc;
	return check_required(ld);
}

static int check_required(struct loader *ld)
{
	for (size_t i = 0; i < ld->nfields; i++) {
		const struct config_field *f = &ld->fields[i];
		if (!ld->seen[i] && f->fallback == NULL &&
		    f->type != CONFIG_LIST && f->type != CONFIG_TABLE)
			return failf(ld, 0, f->key, "required but missing");
	}
	return 0;
}

int config_load_string(const char *name, const char *text, size_t len,
		       const struct config_field *fields, size_t nfields,
		       void *out, char *err, size_t errlen)
{
	struct loader ld = {
		.name = name, .fields = fields, .nfields = nfields,
		.out = out, .err = err, .errlen = errlen,
	};
	if (nfields > CONFIG_MAX_FIELDS)
		return failf(&ld, 0, NULL, "schema too large");
	int rc = apply_defaults(&ld);
	if (rc != 0)
		return rc;
	rc = check_text(&ld, text, len);
	if (rc != 0)
		return rc;
	return load_document(&ld, text, len);
}

int config_load_file(const char *path, const struct config_field *fields,
		     size_t nfields, void *out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		int e = errno;
		char buf[128];
		snprintf(err, errlen, "%s: cannot open: %s", path,
			 strerror_r(e, buf, sizeof(buf)));
		/* Fill defaults anyway so that config_free() is safe. */
		struct loader ld = {.name = path, .fields = fields,
				    .nfields = nfields, .out = out,
				    .err = buf, .errlen = sizeof(buf)};
		apply_defaults(&ld);
		return -EINVAL;
	}
	char *text = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			if (cap > 16u << 20) {
				fclose(f);
				alloc_free(text);
				snprintf(err, errlen, "%s: larger than 16 MiB",
					 path);
				return -EINVAL;
			}
			char *grown = alloc_resize(text, cap);
			if (grown == NULL) {
				fclose(f);
				alloc_free(text);
				snprintf(err, errlen, "%s: out of memory", path);
				return -ENOMEM;
			}
			text = grown;
		}
		size_t n = fread(text + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	int rc = config_load_string(path, text ? text : "", len, fields,
				    nfields, out, err, errlen);
	alloc_free(text);
	return rc;
}

static int override_list(struct loader *ld, const struct config_field *f,
			 const char *value)
{
	struct config_list *list = slot(ld, f);
	list_clear(list);
	while (*value != '\0') {
		const char *comma = strchr(value, ',');
		size_t len = comma ? (size_t)(comma - value) : strlen(value);
		if (len == 0)
			return failf(ld, 0, f->key, "an empty list item");
		if (list->count >= CONFIG_LIST_MAX)
			return failf(ld, 0, f->key, "more than %d items",
				     CONFIG_LIST_MAX);
		if (list_push(list, value, len) != 0)
			return failf(ld, 0, f->key, "out of memory");
		value += len + (comma != NULL);
	}
	return 0;
}

int config_override(const char *assignment, const struct config_field *fields,
		    size_t nfields, void *out, char *err, size_t errlen)
{
	char name[CONFIG_KEY_MAX + 16], key[CONFIG_KEY_MAX];
	snprintf(name, sizeof(name), "-o %.*s", CONFIG_KEY_MAX, assignment);
	struct loader ld = {
		.name = name, .fields = fields, .nfields = nfields,
		.out = out, .err = err, .errlen = errlen,
	};
	const char *eq = strchr(assignment, '=');
	if (eq == NULL || eq == assignment)
		return failf(&ld, 0, NULL, "expected KEY=VALUE, such as "
			     "ingest.port=0");
	size_t klen = (size_t)(eq - assignment);
	if (klen >= sizeof(key))
		return failf(&ld, 0, NULL, "key too long");
	memcpy(key, assignment, klen);
	key[klen] = '\0';
	size_t index;
	const struct config_field *f = find_field(&ld, key, &index);
	if (f == NULL)
		return failf(&ld, 0, key, "unknown key");
	if (f->type == CONFIG_TABLE)
		return failf(&ld, 0, key, "a list of mappings cannot be set "
			     "with -o; write it in the file");
	if (f->type == CONFIG_LIST)
		return override_list(&ld, f, eq + 1);
	return set_scalar(&ld, f, 0, eq + 1);
}

void config_free(const struct config_field *fields, size_t nfields, void *out)
{
	for (size_t i = 0; i < nfields; i++) {
		void *field = (char *)out + fields[i].offset;
		if (fields[i].type == CONFIG_LIST)
			list_clear(field);
		else if (fields[i].type == CONFIG_TABLE)
			table_clear(&fields[i], field);
	}
}

int config_write_text(const char *path, const char *text, int written,
		      size_t cap, char *err, size_t errlen)
{
	if (written < 0 || (size_t)written >= cap) {
		snprintf(err, errlen, "%s: settings too long", path);
		return -ENAMETOOLONG;
	}
	int rc = fs_write_atomic(path, text, (size_t)written, 0640);
	if (rc != 0) {
		char buf[128];
		snprintf(err, errlen, "cannot write %s: %s", path,
			 strerror_r(-rc, buf, sizeof(buf)));
	}
	return rc;
}
