/* register: the register of information systems, as people type it: one
 * system from command-line fields, or many from a CSV file (the first load
 * of a province's 1,500 schools comes from a spreadsheet).
 *
 * Everything here is checked before the store sees it: a CSV with one bad
 * row imports nothing, and the error names the line and the column. The
 * CSV dialect is RFC 4180 (comma, double quotes doubled inside a quoted
 * field, CRLF or LF), UTF-8 with an optional BOM, a header row naming the
 * columns in any order:
 *
 *   unit,name,kind,level,dossier,authority,decision_no,decision_date,
 *   review_due,hosts
 *
 * (unit, name, kind, level and dossier are required; the rest may be
 * empty, except that an approved dossier needs its authority, decision
 * number and date). */
#ifndef EDUWATCH_REGISTER_H
#define EDUWATCH_REGISTER_H

#include <stdbool.h>
#include <stddef.h>

#include "collector/store.h"

#define REGISTER_CSV_MAX_BYTES (64u << 20)
#define REGISTER_CSV_MAX_ROWS 200000
#define REGISTER_CSV_MAX_FIELDS 32
#define REGISTER_CSV_FIELD_MAX 1024

/* One record of a CSV: fields borrowed until the callback returns. */
struct register_csv_row {
	size_t line; /* where the record starts, 1-based */
	size_t nfields;
	const char *fields[REGISTER_CSV_MAX_FIELDS];
	size_t lens[REGISTER_CSV_MAX_FIELDS];
};

/* Splits len bytes into records and calls cb for each (cb returns 0 to
 * go on, or a negative errno that stops and is returned). Returns 0, or
 * -EINVAL with err naming the line: an unterminated quote, a quote inside
 * an unquoted field, text after a closing quote, a NUL byte, a field over
 * REGISTER_CSV_FIELD_MAX or a record over REGISTER_CSV_MAX_FIELDS. */
int register_csv_parse(const char *buf, size_t len,
		       int (*cb)(void *arg, const struct register_csv_row *r,
				 char *err, size_t errlen),
		       void *arg, char *err, size_t errlen);

/* A header row naming the ncols columns of names, in any order, each
 * once: col_of[c] gets the field index of names[c]. 0, or -EINVAL with
 * err naming the first field that is no column or is repeated, or the
 * first column missing. Every CSV reader with named columns uses it. */
int register_csv_header(const struct register_csv_row *r,
			const char *const *names, int ncols, int *col_of,
			char *err, size_t errlen);

/* The checks a named-column reader makes on a data row before reading
 * its fields: 1 for a blank line (a spreadsheet's trailing one: no
 * record), 0 for a row of nheader fields while count < max, or -EINVAL
 * with err naming the line (what: the records, "schools"). */
int register_csv_record(const struct register_csv_row *r, size_t nheader,
			size_t count, size_t max, const char *what,
			char *err, size_t errlen);

/* The columns a system has, in store_system order. */
enum register_col {
	REG_UNIT,
	REG_NAME,
	REG_KIND,
	REG_LEVEL,
	REG_DOSSIER,
	REG_AUTHORITY,
	REG_DECISION_NO,
	REG_DECISION_DATE,
	REG_REVIEW_DUE,
	REG_HOSTS,
	REG_NCOLS
};

/* The column's header name ("decision_no"), and the column of a name
 * (-1: none). */
const char *register_col_name(enum register_col c);
int register_col_find(const char *name, size_t len);

/* Sets one column of sys from text, checked: valid UTF-8 without control
 * characters, within its size, a level 1..5, a dossier status, a date
 * YYYY-MM-DD in 2000..2099. err says what is wrong with the value. */
int register_set_field(struct store_system *sys, enum register_col c,
		       const char *text, size_t len, char *err, size_t errlen);

/* Checks one register entry as a whole (required columns; an approved
 * entry needs its decision). */
int register_check(const struct store_system *sys, char *err, size_t errlen);

/* Whether turning old (NULL: a system not yet in the register) into sys
 * is an approval, which only the province may record: sys is or old was
 * approved and its level, dossier status or decision (authority, number,
 * date) differs, or sys sets a decision at all. A unit's own officer may
 * propose a level (not_started, drafted, submitted) but an approved level
 * sets the school's policy level, so they may neither approve nor undo an
 * approval (docs/DECISIONS.md, "Who approves a register entry"). */
bool register_change_is_approval(const struct store_system *old,
				 const struct store_system *sys);

/* Writes the columns that differ between old (NULL: none) and sys as
 * "col 'before'->'after'; ..." into buf for the audit log, the decision
 * columns first so that truncation to buflen cuts the hosts list. */
void register_diff(const struct store_system *old,
		   const struct store_system *sys, char *buf, size_t buflen);

/* Parses a whole CSV into systems (allocated array, caller frees with
 * alloc_free). Nothing partial: any error returns -EINVAL with err naming
 * the line and column. */
int register_csv_load(const char *buf, size_t len, struct store_system **out,
		      size_t *count, char *err, size_t errlen);

/* A date "YYYY-MM-DD" within 2000..2099 that exists. */
bool register_date_valid(const char *s, size_t len);

#endif
