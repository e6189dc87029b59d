/* register: checking systems and reading the CSV register (register.h). */
#include "collector/register/register.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/event.h"
#include "common/textsafe.h"

/* ---- CSV ------------------------------------------------------------------- */

static int too_long(size_t line, char *err, size_t errlen)
{
	snprintf(err, errlen, "line %zu: a field is longer than %d bytes", line,
		 REGISTER_CSV_FIELD_MAX);
	return -EINVAL;
}

int register_csv_header(const struct register_csv_row *r,
			const char *const *names, int ncols, int *col_of,
			char *err, size_t errlen)
{
	char list[512] = "";
	for (int c = 0; c < ncols; c++) {
		col_of[c] = -1;
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", c ? ", " : "", names[c]);
	}
	for (size_t f = 0; f < r->nfields; f++) {
		int found = -1;
		for (int c = 0; c < ncols; c++)
			if (strlen(names[c]) == r->lens[f] &&
			    memcmp(names[c], r->fields[f], r->lens[f]) == 0)
				found = c;
		if (found < 0 || col_of[found] >= 0) {
			snprintf(err, errlen, "line 1: column %zu is not one of "
				 "%s (or is given twice)", f + 1, list);
			return -EINVAL;
		}
		col_of[found] = (int)f;
	}
	for (int c = 0; c < ncols; c++)
		if (col_of[c] < 0) {
			snprintf(err, errlen, "line 1: the header has no '%s' "
				 "column", names[c]);
			return -EINVAL;
		}
	return 0;
}

int register_csv_record(const struct register_csv_row *r, size_t nheader,
			size_t count, size_t max, const char *what,
			char *err, size_t errlen)
{
	if (r->nfields == 1 && r->lens[0] == 0)
		return 1;
	if (r->nfields != nheader) {
		snprintf(err, errlen, "line %zu: %zu columns, the header has %zu",
			 r->line, r->nfields, nheader);
		return -EINVAL;
	}
	if (count >= max) {
		snprintf(err, errlen, "line %zu: more than %zu %s", r->line, max,
			 what);
		return -EINVAL;
	}
	return 0;
}

int register_csv_parse(const char *buf, size_t len,
		       int (*cb)(void *arg, const struct register_csv_row *r,
				 char *err, size_t errlen),
		       void *arg, char *err, size_t errlen)
{
	/* Each field: up to one byte past the limit (then refused) and its
	 * NUL. */
	size_t cap = REGISTER_CSV_MAX_FIELDS * (REGISTER_CSV_FIELD_MAX + 2);
	char *store = alloc_bytes(cap);
	size_t line = 1, i = 0, offs[REGISTER_CSV_MAX_FIELDS];
	int rc = 0;
	if (store == NULL)
		return -ENOMEM;
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i < len && rc == 0) {
		struct register_csv_row row = {.line = line};
		size_t used = 0;
		bool end_of_record = false;
		while (!end_of_record) {
			size_t start = used;
			if (row.nfields == REGISTER_CSV_MAX_FIELDS) {
				snprintf(err, errlen, "line %zu: more than %d "
					 "columns", row.line,
					 REGISTER_CSV_MAX_FIELDS);
				rc = -EINVAL;
				goto done;
			}
			if (i < len && buf[i] == '"') {
				size_t qline = line;
				i++;
				for (;;) {
					if (i == len) {
						snprintf(err, errlen,
							 "line %zu: a quoted "
							 "field is never closed",
							 qline);
						rc = -EINVAL;
						goto done;
					}
					if (buf[i] == '"') {
						if (i + 1 < len &&
						    buf[i + 1] == '"') {
							i += 2;
							store[used++] = '"';
						} else {
							i++;
							break;
						}
					} else {
						if (buf[i] == '\n')
							line++;
						store[used++] = buf[i++];
					}
					if (used - start > REGISTER_CSV_FIELD_MAX) {
						rc = too_long(qline, err, errlen);
						goto done;
					}
				}
				if (i < len && buf[i] != ',' && buf[i] != '\n' &&
				    buf[i] != '\r') {
					snprintf(err, errlen,
						 "line %zu: text after the closing "
						 "quote of column %zu (a quote "
						 "inside a field is written \"\")",
						 line, row.nfields + 1);
					rc = -EINVAL;
					goto done;
				}
			} else {
				while (i < len && buf[i] != ',' &&
				       buf[i] != '\n' && buf[i] != '\r') {
					if (buf[i] == '"') {
						snprintf(err, errlen,
							 "line %zu: a quote "
							 "inside unquoted "
							 "column %zu (quote "
							 "the whole field)",
							 line, row.nfields + 1);
						rc = -EINVAL;
						goto done;
					}
					store[used++] = buf[i++];
					if (used - start > REGISTER_CSV_FIELD_MAX) {
						rc = too_long(line, err, errlen);
						goto done;
					}
				}
			}
			if (memchr(store + start, '\0', used - start) != NULL) {
				snprintf(err, errlen, "line %zu: a NUL byte in "
					 "column %zu", row.line,
					 row.nfields + 1);
				rc = -EINVAL;
				goto done;
			}
			offs[row.nfields] = start;
			row.lens[row.nfields] = used - start;
			store[used++] = '\0';
			row.nfields++;
			if (i < len && buf[i] == ',') {
				i++;
				continue;
			}
			if (i < len && buf[i] == '\r')
				i++;
			if (i < len && buf[i] == '\n')
				i++;
			line++;
			end_of_record = true;
		}
		for (size_t f = 0; f < row.nfields; f++)
			row.fields[f] = store + offs[f];
		/* A blank line is no record. */
		if (row.nfields == 1 && row.lens[0] == 0)
			continue;
		rc = cb(arg, &row, err, errlen);
	}
done:
	alloc_free(store);
	return rc;
}

/* ---- one system ---------------------------------------------------------------- */

static const char *const col_names[REG_NCOLS] = {
	"unit",	     "name",	    "kind",	     "level",
	"dossier",   "authority",   "decision_no",   "decision_date",
	"review_due", "hosts",
};

static const char *const dossiers[] = {"not_started", "drafted", "submitted",
				       "approved"};

const char *register_col_name(enum register_col c)
{
	return (unsigned)c < REG_NCOLS ? col_names[c] : "?";
}

int register_col_find(const char *name, size_t len)
{
	for (int c = 0; c < REG_NCOLS; c++)
		if (strlen(col_names[c]) == len &&
		    memcmp(col_names[c], name, len) == 0)
			return c;
	return -1;
}

bool register_date_valid(const char *s, size_t len)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	if (len != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (size_t i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
		(s[3] - '0');
	int m = (s[5] - '0') * 10 + (s[6] - '0');
	int d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 2000 || y > 2099 || m < 1 || m > 12 || d < 1 ||
	    d > mdays[m - 1])
		return false;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return !(m == 2 && d == 29 && !leap);
}

/* Copies a checked text into dst of cap bytes. */
static int set_text(char *dst, size_t cap, const char *what, const char *text,
		    size_t len, char *err, size_t errlen)
{
	if (len >= cap) {
		snprintf(err, errlen, "%s is %zu bytes; at most %zu", what, len,
			 cap - 1);
		return -EINVAL;
	}
	if (!textsafe_is_clean(text, len)) {
		snprintf(err, errlen, "%s is not valid UTF-8 text (it has "
			 "invalid bytes or control characters)", what);
		return -EINVAL;
	}
	memcpy(dst, text, len);
	dst[len] = '\0';
	return 0;
}

int register_set_field(struct store_system *y, enum register_col c,
		       const char *text, size_t len, char *err, size_t errlen)
{
	char tmp[16];
	switch (c) {
	case REG_UNIT:
		if (set_text(y->unit, sizeof(y->unit), "unit", text, len, err,
			     errlen) != 0)
			return -EINVAL;
		if (!event_agent_id_valid(y->unit)) {
			snprintf(err, errlen, "unit must be a school or unit "
				 "code of A-Z a-z 0-9 . _ -");
			return -EINVAL;
		}
		return 0;
	case REG_NAME:
		return set_text(y->name, sizeof(y->name), "name", text, len,
				err, errlen);
	case REG_KIND:
		return set_text(y->kind, sizeof(y->kind), "kind", text, len,
				err, errlen);
	case REG_LEVEL:
		if (len != 1 || text[0] < '1' || text[0] > '5') {
			snprintf(err, errlen, "level must be 1..5");
			return -EINVAL;
		}
		y->level = text[0] - '0';
		return 0;
	case REG_DOSSIER:
		for (size_t i = 0; i < sizeof(dossiers) / sizeof(dossiers[0]);
		     i++)
			if (strlen(dossiers[i]) == len &&
			    memcmp(dossiers[i], text, len) == 0) {
				snprintf(y->dossier, sizeof(y->dossier), "%s",
					 dossiers[i]);
				return 0;
			}
		snprintf(err, errlen, "dossier must be not_started, drafted, "
			 "submitted or approved");
		return -EINVAL;
	case REG_AUTHORITY:
		return set_text(y->authority, sizeof(y->authority), "authority",
				text, len, err, errlen);
	case REG_DECISION_NO:
		return set_text(y->decision_no, sizeof(y->decision_no),
				"decision_no", text, len, err, errlen);
	case REG_DECISION_DATE:
	case REG_REVIEW_DUE:
		if (len != 0 && !register_date_valid(text, len)) {
			snprintf(err, errlen, "%s must be a date YYYY-MM-DD "
				 "between 2000 and 2099", col_names[c]);
			return -EINVAL;
		}
		snprintf(tmp, sizeof(tmp), "%.*s", (int)len, text);
		snprintf(c == REG_REVIEW_DUE ? y->review_due : y->decision_date,
			 11, "%s", tmp);
		return 0;
	case REG_HOSTS:
		return set_text(y->hosts, sizeof(y->hosts), "hosts", text, len,
				err, errlen);
	case REG_NCOLS:
		break;
	}
	snprintf(err, errlen, "no such column");
	return -EINVAL;
}

int register_check(const struct store_system *y, char *err, size_t errlen)
{
	if (y->unit[0] == '\0' || y->name[0] == '\0' || y->kind[0] == '\0' ||
	    y->level == 0 || y->dossier[0] == '\0') {
		snprintf(err, errlen, "unit, name, kind, level and dossier are "
			 "required");
		return -EINVAL;
	}
	if (strcmp(y->dossier, "approved") == 0 &&
	    (y->authority[0] == '\0' || y->decision_no[0] == '\0' ||
	     y->decision_date[0] == '\0')) {
		snprintf(err, errlen, "an approved dossier needs its authority, "
			 "decision_no and decision_date");
		return -EINVAL;
	}
	return 0;
}

static bool decision_differs(const struct store_system *a,
			     const struct store_system *b)
{
	return strcmp(a->authority, b->authority) != 0 ||
	       strcmp(a->decision_no, b->decision_no) != 0 ||
	       strcmp(a->decision_date, b->decision_date) != 0;
}

bool register_change_is_approval(const struct store_system *old,
				 const struct store_system *sys)
{
	static const struct store_system none;
	bool was = old != NULL && strcmp(old->dossier, "approved") == 0;
	bool is = strcmp(sys->dossier, "approved") == 0;
	if (old == NULL)
		old = &none;
	if (decision_differs(old, sys))
		return true;
	if (!was && !is)
		return false;
	return old->level != sys->level ||
	       strcmp(old->dossier, sys->dossier) != 0;
}

/* One column's text in sys, for the audit diff. */
static const char *col_text(const struct store_system *y, enum register_col c,
			    char *num, size_t numlen)
{
	switch (c) {
	case REG_UNIT: return y->unit;
	case REG_NAME: return y->name;
	case REG_KIND: return y->kind;
	case REG_LEVEL:
		snprintf(num, numlen, "%d", y->level);
		return num;
	case REG_DOSSIER: return y->dossier;
	case REG_AUTHORITY: return y->authority;
	case REG_DECISION_NO: return y->decision_no;
	case REG_DECISION_DATE: return y->decision_date;
	case REG_REVIEW_DUE: return y->review_due;
	case REG_HOSTS: return y->hosts;
	case REG_NCOLS: break;
	}
	return "";
}

void register_diff(const struct store_system *old,
		   const struct store_system *sys, char *buf, size_t buflen)
{
	static const struct store_system none;
	static const enum register_col order[] = {
		REG_LEVEL,	   REG_DOSSIER,	   REG_AUTHORITY, REG_DECISION_NO,
		REG_DECISION_DATE, REG_REVIEW_DUE, REG_KIND,	  REG_HOSTS};
	size_t used = 0;
	if (buflen == 0)
		return;
	buf[0] = '\0';
	if (old == NULL)
		old = &none;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		char n1[8], n2[8];
		const char *a = col_text(old, order[i], n1, sizeof(n1));
		const char *b = col_text(sys, order[i], n2, sizeof(n2));
		if (strcmp(a, b) == 0 || used >= buflen)
			continue;
		int k = snprintf(buf + used, buflen - used, "%s%s '%s'->'%s'",
				 used ? "; " : "", col_names[order[i]], a, b);
		if (k < 0)
			break;
		used += (size_t)k;
	}
}

/* ---- a whole CSV --------------------------------------------------------------- */

struct csv_load {
	int col_of[REGISTER_CSV_MAX_FIELDS]; /* header position -> column */
	size_t ncols;
	bool have_header;
	struct store_system *items;
	size_t count, cap;
};

static int load_row(void *arg, const struct register_csv_row *r, char *err,
		    size_t errlen)
{
	struct csv_load *l = arg;
	char why[256];
	if (!l->have_header) {
		bool seen[REG_NCOLS] = {false};
		for (size_t f = 0; f < r->nfields; f++) {
			int c = register_col_find(r->fields[f], r->lens[f]);
			if (c < 0 || seen[c]) {
				char name[100];
				textsafe_escape(name, sizeof(name), r->fields[f],
						r->lens[f]);
				snprintf(err, errlen, "line %zu: header column "
					 "'%s' is %s", r->line, name,
					 c < 0 ? "unknown" : "repeated");
				return -EINVAL;
			}
			seen[c] = true;
			l->col_of[f] = c;
		}
		for (int c = REG_UNIT; c <= REG_DOSSIER; c++)
			if (!seen[c]) {
				snprintf(err, errlen, "line %zu: the header has "
					 "no '%s' column", r->line,
					 col_names[c]);
				return -EINVAL;
			}
		l->ncols = r->nfields;
		l->have_header = true;
		return 0;
	}
	if (r->nfields != l->ncols) {
		snprintf(err, errlen, "line %zu: %zu columns, the header has %zu",
			 r->line, r->nfields, l->ncols);
		return -EINVAL;
	}
	if (l->count == REGISTER_CSV_MAX_ROWS) {
		snprintf(err, errlen, "line %zu: more than %d systems", r->line,
			 REGISTER_CSV_MAX_ROWS);
		return -EINVAL;
	}
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct store_system *n =
			alloc_resize(l->items, cap * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		l->items = n;
		l->cap = cap;
	}
	struct store_system *y = &l->items[l->count];
	memset(y, 0, sizeof(*y));
	for (size_t f = 0; f < r->nfields; f++)
		if (register_set_field(y, (enum register_col)l->col_of[f],
				       r->fields[f], r->lens[f], why,
				       sizeof(why)) != 0) {
			snprintf(err, errlen, "line %zu, column %s: %s", r->line,
				 col_names[l->col_of[f]], why);
			return -EINVAL;
		}
	if (register_check(y, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "line %zu: %s", r->line, why);
		return -EINVAL;
	}
	l->count++;
	return 0;
}

int register_csv_load(const char *buf, size_t len, struct store_system **out,
		      size_t *count, char *err, size_t errlen)
{
	struct csv_load l = {.ncols = 0};
	*out = NULL;
	*count = 0;
	if (len > REGISTER_CSV_MAX_BYTES) {
		snprintf(err, errlen, "the file is %zu bytes; at most %u", len,
			 REGISTER_CSV_MAX_BYTES);
		return -EINVAL;
	}
	int rc = register_csv_parse(buf, len, load_row, &l, err, errlen);
	if (rc == 0 && !l.have_header) {
		snprintf(err, errlen, "the file is empty: it needs a header "
			 "row and one row per system");
		rc = -EINVAL;
	}
	if (rc != 0) {
		alloc_free(l.items);
		return rc;
	}
	*out = l.items;
	*count = l.count;
	return 0;
}
