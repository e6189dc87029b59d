/* report_text: the model as JSON and as CSV. Both print what the model
 * holds and compute nothing. */
#include "collector/report/report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/jsonout.h"

static void json_number(FILE *f, double v, bool na)
{
	if (na || !isfinite(v))
		fputs("null", f);
	else
		fprintf(f, "%.15g", v);
}

static void json_table(FILE *f, const struct report_table *t)
{
	fputs("{\"key\":", f);
	json_print_string(f, t->key);
	fputs(",\"title_vi\":", f);
	json_print_string(f, t->title_vi);
	fputs(",\"columns\":[", f);
	for (size_t c = 0; c < t->ncols; c++) {
		fputs(c ? "," : "", f);
		json_print_string(f, t->cols[c]);
	}
	fputs("],\"rows\":[", f);
	for (size_t i = 0; i < t->nrows; i++) {
		fputs(i ? ",[" : "[", f);
		for (size_t c = 0; c < t->ncols; c++) {
			const struct report_cell *cell = &t->cells[i * t->ncols + c];
			fputs(c ? "," : "", f);
			if (t->numeric[c])
				json_number(f, cell->num, cell->empty);
			else
				json_print_string(f, cell->text);
		}
		fputs("]", f);
	}
	fputs("]}", f);
}

int report_write_json(const struct report *r, FILE *f)
{
	fputs("{\"period\":{\"id\":", f);
	json_print_string(f, r->period.id);
	fprintf(f, ",\"kind\":\"%s\",\"from\":\"%s\",\"to\":\"%s\","
		   "\"due\":\"%s\"},\"scope\":",
		r->period.annual ? "annual" : "six-monthly", r->period.from,
		r->period.to, r->period.due);
	json_print_string(f, r->scope.id);
	fputs(",\"unit\":", f);
	json_print_string(f, r->unit_name);
	fprintf(f, ",\"generated_us\":%lld,\"version\":%d,\"state\":\"%s\","
		   "\"first_day\":\"%s\",\"last_day\":\"%s\","
		   "\"days_expected\":%zu,\"days_present\":%zu,"
		   "\"missing_count\":%zu,\"missing_days\":",
		(long long)r->generated_us, r->version, r->state, r->first_day,
		r->last_day, r->days_expected, r->days_present,
		r->missing_count);
	json_print_string(f, r->missing_days);
	fputs(",\"summary_vi\":", f);
	json_print_string(f, r->summary_vi);
	fputs(",\"remarks\":", f);
	json_print_string(f, r->remarks);
	fputs(",\"sections\":[", f);
	for (int s = 0; s < SEC_COUNT; s++) {
		const struct report_section *sec = &r->sections[s];
		fputs(s ? ",{\"key\":" : "{\"key\":", f);
		json_print_string(f, sec->key);
		fputs(",\"title_vi\":", f);
		json_print_string(f, sec->title_vi);
		fputs(",\"note_vi\":", f);
		json_print_string(f, sec->note_vi);
		fputs(",\"figures\":[", f);
		for (size_t i = 0; i < sec->nfigures; i++) {
			const struct report_figure *fg = &sec->figures[i];
			fputs(i ? ",{\"key\":" : "{\"key\":", f);
			json_print_string(f, fg->key);
			fputs(",\"label_vi\":", f);
			json_print_string(f, fg->label_vi);
			fputs(",\"value\":", f);
			json_number(f, fg->value, fg->na);
			fputs(",\"unit\":", f);
			json_print_string(f, fg->unit);
			fputs(",\"method\":", f);
			json_print_string(f, fg->method);
			fputs("}", f);
		}
		fputs("],\"tables\":[", f);
		for (size_t t = 0; t < sec->ntables; t++) {
			fputs(t ? "," : "", f);
			json_table(f, &sec->tables[t]);
		}
		fputs("]}", f);
	}
	fputs("]}\n", f);
	return ferror(f) ? -EIO : 0;
}

/* RFC 4180: a field with a comma, quote or line break is quoted, quotes
 * doubled. A leading =, +, - or @ would be a formula to a spreadsheet
 * that opens the file: such a text gets a leading apostrophe. */
static void csv_text(FILE *f, const char *s)
{
	bool quote = strpbrk(s, ",\"\r\n") != NULL;
	bool formula = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@';
	if (quote)
		fputc('"', f);
	if (formula)
		fputc('\'', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	if (quote)
		fputc('"', f);
}

static void csv_number(FILE *f, double v, bool empty)
{
	if (!empty && isfinite(v))
		fprintf(f, "%.15g", v);
}

int report_write_csv(const struct report *r, FILE *f)
{
	/* The figures first, as a table of their own. */
	fputs("table,section,key,label,value,unit,method\r\n", f);
	for (int s = 0; s < SEC_COUNT; s++)
		for (size_t i = 0; i < r->sections[s].nfigures; i++) {
			const struct report_figure *fg = &r->sections[s].figures[i];
			fputs("figures,", f);
			csv_text(f, r->sections[s].key);
			fputc(',', f);
			csv_text(f, fg->key);
			fputc(',', f);
			csv_text(f, fg->label_vi);
			fputc(',', f);
			csv_number(f, fg->value, fg->na);
			fputc(',', f);
			csv_text(f, fg->unit);
			fputc(',', f);
			csv_text(f, fg->method);
			fputs("\r\n", f);
		}
	for (int s = 0; s < SEC_COUNT; s++)
		for (size_t t = 0; t < r->sections[s].ntables; t++) {
			const struct report_table *tb = &r->sections[s].tables[t];
			fputs("\r\ntable", f);
			for (size_t c = 0; c < tb->ncols; c++) {
				fputc(',', f);
				csv_text(f, tb->cols[c]);
			}
			fputs("\r\n", f);
			for (size_t i = 0; i < tb->nrows; i++) {
				csv_text(f, tb->key);
				for (size_t c = 0; c < tb->ncols; c++) {
					const struct report_cell *cell =
						&tb->cells[i * tb->ncols + c];
					fputc(',', f);
					if (tb->numeric[c])
						csv_number(f, cell->num,
							   cell->empty);
					else
						csv_text(f, cell->text);
				}
				fputs("\r\n", f);
			}
		}
	return ferror(f) ? -EIO : 0;
}
