/* report_xlsx: the model as a workbook (libxlsxwriter): a summary sheet
 * with every figure, then one sheet per section with its tables. Numbers
 * are written as numbers so an officer can sum and chart them. */
#include "collector/report/report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <xlsxwriter.h>

static lxw_row_t write_table(lxw_worksheet *ws, lxw_row_t r0,
			     const struct report_table *t, lxw_format *bold)
{
	worksheet_write_string(ws, r0++, 0, t->title_vi, bold);
	for (size_t c = 0; c < t->ncols; c++)
		worksheet_write_string(ws, r0, (lxw_col_t)c, t->cols[c], bold);
	r0++;
	for (size_t i = 0; i < t->nrows; i++, r0++)
		for (size_t c = 0; c < t->ncols; c++) {
			const struct report_cell *cell = &t->cells[i * t->ncols + c];
			if (t->numeric[c] && !cell->empty)
				worksheet_write_number(ws, r0, (lxw_col_t)c,
						       cell->num, NULL);
			else if (!t->numeric[c])
				worksheet_write_string(ws, r0, (lxw_col_t)c,
						       cell->text, NULL);
		}
	return r0 + 1;
}

int report_write_xlsx(const struct report *r, const char *path, char *err,
		      size_t errlen)
{
	lxw_workbook_options opt = {.constant_memory = LXW_FALSE,
				    .tmpdir = NULL};
	lxw_workbook *wb = workbook_new_opt(path, &opt);
	if (wb == NULL) {
		snprintf(err, errlen, "cannot create %s", path);
		return -EIO;
	}
	lxw_format *bold = workbook_add_format(wb);
	format_set_bold(bold);
	lxw_worksheet *sum = workbook_add_worksheet(wb, "figures");
	worksheet_set_column(sum, 0, 0, 28, NULL);
	worksheet_set_column(sum, 1, 1, 48, NULL);
	worksheet_write_string(sum, 0, 0, "period", bold);
	worksheet_write_string(sum, 0, 1, r->period.id, NULL);
	worksheet_write_string(sum, 1, 0, "scope", bold);
	worksheet_write_string(sum, 1, 1, r->scope.id, NULL);
	worksheet_write_string(sum, 2, 0, "summary_vi", bold);
	worksheet_write_string(sum, 2, 1, r->summary_vi, NULL);
	static const char *const head[] = {"key", "label", "value", "unit",
					   "method"};
	for (int c = 0; c < 5; c++)
		worksheet_write_string(sum, 4, (lxw_col_t)c, head[c], bold);
	lxw_row_t row = 5;
	for (int s = 0; s < SEC_COUNT; s++)
		for (size_t i = 0; i < r->sections[s].nfigures; i++, row++) {
			const struct report_figure *f = &r->sections[s].figures[i];
			worksheet_write_string(sum, row, 0, f->key, NULL);
			worksheet_write_string(sum, row, 1, f->label_vi, NULL);
			if (!f->na)
				worksheet_write_number(sum, row, 2, f->value,
						       NULL);
			worksheet_write_string(sum, row, 3, f->unit, NULL);
			worksheet_write_string(sum, row, 4, f->method, NULL);
		}
	for (int s = 0; s < SEC_COUNT; s++) {
		const struct report_section *sec = &r->sections[s];
		lxw_worksheet *ws = workbook_add_worksheet(wb, sec->key);
		lxw_row_t r0 = 0;
		worksheet_set_column(ws, 0, 7, 18, NULL);
		worksheet_write_string(ws, r0++, 0, sec->title_vi, bold);
		if (sec->note_vi[0])
			worksheet_write_string(ws, r0++, 0, sec->note_vi, NULL);
		r0++;
		for (size_t t = 0; t < sec->ntables; t++)
			r0 = write_table(ws, r0, &sec->tables[t], bold);
	}
	lxw_error e = workbook_close(wb);
	if (e != LXW_NO_ERROR) {
		snprintf(err, errlen, "cannot write %s: %s", path,
			 lxw_strerror(e));
		return -EIO;
	}
	return 0;
}
