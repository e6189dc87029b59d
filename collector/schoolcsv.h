/* schoolcsv: the province's list of schools from a spreadsheet, for the
 * first-run setup (a province has about 1,500 of them; nobody types
 * `school add` that often).
 *
 * RFC 4180 CSV through the register's reader (collector/register), UTF-8
 * with an optional BOM, a header row naming the columns in any order:
 *
 *   code,name,commune,level,expected_pcs
 *
 * Every row is checked before anything is returned: one bad row loads
 * nothing, and the error names the line and the column. */
#ifndef EDUWATCH_SCHOOLCSV_H
#define EDUWATCH_SCHOOLCSV_H

#include "common/check.h"

#include <stddef.h>

#include "collector/store.h"

#define SCHOOLCSV_MAX_ROWS 20000

/* Parses len bytes into schools (allocated, the caller frees with
 * alloc_free; *count of them). Returns 0, or -EINVAL with err naming the
 * line and column (a missing or repeated column, a code outside 1-32 of
 * A-Z a-z 0-9 . _ -, a code given twice, an empty or unprintable name,
 * a level outside 1..5, a PC count outside 0..100000, no rows), or
 * -ENOMEM. */
EW_MUST_CHECK
int schoolcsv_load(const char *buf, size_t len, struct store_school **out,
		   size_t *count, char *err, size_t errlen);

/* One school from its five fields in the order code, name, commune,
 * level, expected_pcs (each borrowed, len bytes, not NUL-terminated),
 * under the same rules as a CSV row: the console's school form uses it
 * too. 0, or -EINVAL with err naming the column and what it must be, and
 * *column (when not NULL) the column's name ("code" .. "expected_pcs"). */
EW_MUST_CHECK
int schoolcsv_school(const char *const fields[5], const size_t lens[5],
		     struct store_school *sc, const char **column, char *err,
		     size_t errlen);

#endif
