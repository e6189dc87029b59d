/* schoolcsv: schools from a CSV (see schoolcsv.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "collector/register/register.h"
#include "collector/schoolcsv.h"
#include "common/alloc.h"
#include "common/event.h"
#include "common/textsafe.h"

enum col { COL_CODE, COL_NAME, COL_COMMUNE, COL_LEVEL, COL_PCS, NCOLS };
static const char *const col_names[NCOLS] = {
	"code", "name", "commune", "level", "expected_pcs",
};

struct load {
	int col_of[NCOLS]; /* the field index of each column, -1 unseen */
	size_t nheader;
	struct store_school *rows;
	size_t n, cap;
};

static int header(struct load *ld, const struct register_csv_row *r,
		  char *err, size_t errlen)
{
	int rc = register_csv_header(r, col_names, NCOLS, ld->col_of, err,
				     errlen);
	ld->nheader = r->nfields;
	return rc;
}

static int text(char *dst, size_t cap, const char *s, size_t len)
{
	if (len == 0 || len >= cap || !textsafe_is_clean(s, len))
		return -EINVAL;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

static int number(const char *s, size_t len, long lo, long hi, int *out)
{
	long v = 0;
	if (len == 0 || len > 6)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

int schoolcsv_school(const char *const fields[5], const size_t lens[5],
		     struct store_school *sc, const char **column, char *err,
		     size_t errlen)
{
	const char *const *f = fields;
	const size_t *l = lens;
	memset(sc, 0, sizeof(*sc));
	int bad = -1;
	if (text(sc->code, sizeof(sc->code), f[COL_CODE], l[COL_CODE]) != 0 ||
	    !event_agent_id_valid(sc->code))
		bad = COL_CODE;
	else if (text(sc->name, sizeof(sc->name), f[COL_NAME], l[COL_NAME]))
		bad = COL_NAME;
	else if (text(sc->commune, sizeof(sc->commune), f[COL_COMMUNE],
		      l[COL_COMMUNE]))
		bad = COL_COMMUNE;
	else if (number(f[COL_LEVEL], l[COL_LEVEL], 1, 5, &sc->level))
		bad = COL_LEVEL;
	else if (number(f[COL_PCS], l[COL_PCS], 0, 100000, &sc->expected_pcs))
		bad = COL_PCS;
	if (bad < 0)
		return 0;
	static const char *const why[NCOLS] = {
		"1-32 of A-Z a-z 0-9 . _ -",
		"printable UTF-8 text, not empty",
		"printable UTF-8 text, not empty",
		"a security level 1..5",
		"a count of PCs 0..100000",
	};
	if (column != NULL)
		*column = col_names[bad];
	snprintf(err, errlen, "column %s: must be %s", col_names[bad], why[bad]);
	return -EINVAL;
}

static int row(void *arg, const struct register_csv_row *r, char *err,
	       size_t errlen)
{
	struct load *ld = arg;
	if (r->line == 1 && ld->nheader == 0)
		return header(ld, r, err, errlen);
	int rc = register_csv_record(r, ld->nheader, ld->n, SCHOOLCSV_MAX_ROWS,
				     "schools", err, errlen);
	if (rc != 0)
		return rc > 0 ? 0 : rc;
	if (ld->n == ld->cap) {
		size_t cap = ld->cap ? 2 * ld->cap : 64;
		struct store_school *p =
			alloc_resize(ld->rows, cap * sizeof(*p));
		if (p == NULL)
			return -ENOMEM;
		ld->rows = p;
		ld->cap = cap;
	}
	struct store_school *sc = &ld->rows[ld->n];
	const char *f[NCOLS];
	size_t l[NCOLS];
	for (int c = 0; c < NCOLS; c++) {
		f[c] = r->fields[ld->col_of[c]];
		l[c] = r->lens[ld->col_of[c]];
	}
	char why[128];
	if (schoolcsv_school(f, l, sc, NULL, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "line %zu, %s", r->line, why);
		return -EINVAL;
	}
	for (size_t k = 0; k < ld->n; k++)
		if (strcmp(ld->rows[k].code, sc->code) == 0) {
			snprintf(err, errlen, "line %zu, column code: school "
				 "'%s' is given twice", r->line, sc->code);
			return -EINVAL;
		}
	ld->n++;
	return 0;
}

int schoolcsv_load(const char *buf, size_t len, struct store_school **out,
		   size_t *count, char *err, size_t errlen)
{
	struct load ld = {0};
	*out = NULL;
	*count = 0;
	int rc = register_csv_parse(buf, len, row, &ld, err, errlen);
	if (rc == 0 && ld.nheader == 0) {
		snprintf(err, errlen, "the file is empty: it needs a header "
			 "row code,name,commune,level,expected_pcs");
		rc = -EINVAL;
	} else if (rc == 0 && ld.n == 0) {
		snprintf(err, errlen, "the file names no school");
		rc = -EINVAL;
	}
	if (rc != 0) {
		alloc_free(ld.rows);
		return rc == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	*out = ld.rows;
	*count = ld.n;
	return 0;
}
