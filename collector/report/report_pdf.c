/* report_pdf: the model as an administrative report in the style of
 * Decree 30/2020/NĐ-CP: A4, margins 20/20/30/15 mm (top, bottom, left,
 * right), a serif face at 13 pt for the body, the national motto and the
 * issuing unit's header, the number and the place and date, the title,
 * numbered sections, tables that continue across pages under a repeated
 * header row, trend charts, and the recipients and signature blocks.
 *
 * Text is laid out by pango on cairo, so Vietnamese diacritics are shaped
 * and the PDF embeds subsets of the fonts. The fonts come from a
 * fontconfig configuration built here from explicit files (fonts_dir),
 * never from the machine's own font setup, so every collector renders
 * the same document. */
#include "collector/report/report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cairo-pdf.h>
#include <fontconfig/fontconfig.h>
#include <pango/pangocairo.h>
#include <pango/pangofc-fontmap.h>

#include "common/alloc.h"

#define MM (72.0 / 25.4)
#define PAGE_W (210 * MM)
#define PAGE_H (297 * MM)
#define M_TOP (20 * MM)
#define M_BOTTOM (20 * MM)
#define M_LEFT (30 * MM)
#define M_RIGHT (15 * MM)
#define TEXT_W (PAGE_W - M_LEFT - M_RIGHT)
#define FAMILY "Liberation Serif"

static const char *const font_files[] = {
	"LiberationSerif-Regular.ttf", "LiberationSerif-Bold.ttf",
	"LiberationSerif-Italic.ttf", "LiberationSerif-BoldItalic.ttf",
};

struct pdf {
	cairo_surface_t *surface;
	cairo_t *cr;
	PangoFontMap *fontmap;
	PangoContext *ctx;
	double y;
	int page;
};

enum style { ST_BODY, ST_BOLD, ST_ITALIC, ST_SMALL, ST_SMALL_BOLD, ST_TITLE };

static PangoLayout *layout(struct pdf *p, const char *text, enum style st,
			   double width, PangoAlignment align)
{
	static const struct {
		double size;
		PangoWeight weight;
		PangoStyle style;
	} styles[] = {
		[ST_BODY] = {13, PANGO_WEIGHT_NORMAL, PANGO_STYLE_NORMAL},
		[ST_BOLD] = {13, PANGO_WEIGHT_BOLD, PANGO_STYLE_NORMAL},
		[ST_ITALIC] = {13, PANGO_WEIGHT_NORMAL, PANGO_STYLE_ITALIC},
		[ST_SMALL] = {11, PANGO_WEIGHT_NORMAL, PANGO_STYLE_NORMAL},
		[ST_SMALL_BOLD] = {11, PANGO_WEIGHT_BOLD, PANGO_STYLE_NORMAL},
		[ST_TITLE] = {14, PANGO_WEIGHT_BOLD, PANGO_STYLE_NORMAL},
	};
	PangoLayout *l = pango_layout_new(p->ctx);
	PangoFontDescription *fd = pango_font_description_new();
	pango_font_description_set_family(fd, FAMILY);
	pango_font_description_set_absolute_size(fd,
						 styles[st].size * PANGO_SCALE);
	pango_font_description_set_weight(fd, styles[st].weight);
	pango_font_description_set_style(fd, styles[st].style);
	pango_layout_set_font_description(l, fd);
	pango_font_description_free(fd);
	pango_layout_set_width(l, (int)(width * PANGO_SCALE));
	pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
	pango_layout_set_alignment(l, align);
	/* Every date the document prints, in the administrative form. */
	char *shown = g_strdup(text);
	report_dates_vn(shown);
	pango_layout_set_text(l, shown, -1);
	g_free(shown);
	return l;
}

static double layout_h(PangoLayout *l)
{
	int w, h;
	pango_layout_get_size(l, &w, &h);
	return (double)h / PANGO_SCALE;
}

static void draw_at(struct pdf *p, PangoLayout *l, double x, double y)
{
	cairo_move_to(p->cr, x, y);
	pango_cairo_show_layout(p->cr, l);
}

/* Pages after the first carry their number at the top, centred. */
static void new_page(struct pdf *p)
{
	char num[16];
	cairo_show_page(p->cr);
	p->page++;
	snprintf(num, sizeof(num), "%d", p->page);
	PangoLayout *l = layout(p, num, ST_BODY, TEXT_W, PANGO_ALIGN_CENTER);
	draw_at(p, l, M_LEFT, 10 * MM);
	g_object_unref(l);
	p->y = M_TOP;
}

static void ensure(struct pdf *p, double h)
{
	if (p->y + h > PAGE_H - M_BOTTOM)
		new_page(p);
}

/* A paragraph across the text width, with first-line indent via the
 * leading spaces the caller gives. */
static void para(struct pdf *p, const char *text, enum style st,
		 PangoAlignment align, double after)
{
	PangoLayout *l = layout(p, text, st, TEXT_W, align);
	double h = layout_h(l);
	ensure(p, h);
	draw_at(p, l, M_LEFT, p->y);
	p->y += h + after;
	g_object_unref(l);
}

static void fmt_value(char *out, size_t cap, double v, bool empty)
{
	if (empty || !isfinite(v)) {
		snprintf(out, cap, "-");
		return;
	}
	/* Vietnamese writes the decimal comma. */
	if (v == floor(v) && fabs(v) < 1e15)
		snprintf(out, cap, "%.0f", v);
	else
		snprintf(out, cap, "%.2f", v);
	char *dot = strchr(out, '.');
	if (dot)
		*dot = ',';
}

/* ---- the header block -------------------------------------------------- */

static void header(struct pdf *p, const struct report *r)
{
	char buf[512], date[128];
	struct tm tm;
	time_t t = (time_t)(r->generated_us / 1000000);
	double lw = TEXT_W * 0.42, rw = TEXT_W * 0.58;
	gmtime_r(&t, &tm);
	PangoLayout *left = layout(p, "", ST_SMALL_BOLD, lw, PANGO_ALIGN_CENTER);
	/* Markup only for the underline: the unit's name is escaped. */
	char *unit = g_markup_escape_text(r->unit_name, -1);
	snprintf(buf, sizeof(buf), "%s\n<u>BỘ PHẬN AN TOÀN THÔNG TIN</u>", unit);
	g_free(unit);
	pango_layout_set_markup(left, buf, -1);
	PangoLayout *right = layout(p, "", ST_SMALL_BOLD, rw,
				    PANGO_ALIGN_CENTER);
	pango_layout_set_markup(right,
				"CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\n"
				"<span size='13312'><u>Độc lập - Tự do - Hạnh "
				"phúc</u></span>",
				-1);
	draw_at(p, left, M_LEFT, p->y);
	draw_at(p, right, M_LEFT + lw, p->y);
	double h = fmax(layout_h(left), layout_h(right));
	g_object_unref(left);
	g_object_unref(right);
	p->y += h + 8;
	snprintf(buf, sizeof(buf), "Số: %s",
		 r->number[0] ? r->number : "      /BC-ATTT");
	left = layout(p, buf, ST_BODY, lw, PANGO_ALIGN_CENTER);
	snprintf(date, sizeof(date), "ngày %02d tháng %02d năm %04d",
		 tm.tm_mday, tm.tm_mon + 1, tm.tm_year + 1900);
	right = layout(p, date, ST_ITALIC, rw, PANGO_ALIGN_CENTER);
	draw_at(p, left, M_LEFT, p->y);
	draw_at(p, right, M_LEFT + lw, p->y);
	p->y += fmax(layout_h(left), layout_h(right)) + 24;
	g_object_unref(left);
	g_object_unref(right);
	para(p, "BÁO CÁO", ST_TITLE, PANGO_ALIGN_CENTER, 2);
	snprintf(buf, sizeof(buf),
		 "Tình hình bảo đảm an toàn thông tin trong các trường học\n"
		 "%s %d (từ ngày %s đến ngày %s)",
		 r->period.annual ? "năm" : "sáu tháng đầu năm", r->period.year,
		 r->period.from, r->period.to);
	para(p, buf, ST_BOLD, PANGO_ALIGN_CENTER, 4);
	snprintf(buf, sizeof(buf), "Phạm vi: %s%s%s",
		 r->scope.kind == SCOPE_PROVINCE	? "toàn tỉnh"
		 : r->scope.kind == SCOPE_COMMUNE ? "xã/phường "
						  : "trường ",
		 r->scope.key, r->state[0] && strcmp(r->state, "signed") != 0
				       ? " (dự thảo)"
				       : "");
	para(p, buf, ST_ITALIC, PANGO_ALIGN_CENTER, 14);
}

/* ---- tables -------------------------------------------------------------- */

static void col_widths(const struct report_table *t, double *w)
{
	double total = 0;
	for (size_t c = 0; c < t->ncols; c++) {
		w[c] = t->numeric[c] ? 1.0 : 1.8;
		total += w[c];
	}
	for (size_t c = 0; c < t->ncols; c++)
		w[c] = w[c] / total * TEXT_W;
}

/* Lays out one row; draws it when draw is set. Returns its height. */
static double table_row(struct pdf *p, const struct report_table *t,
			const char *const *texts, const double *w, bool head,
			bool draw)
{
	PangoLayout *ls[REPORT_TABLE_COLS];
	double h = 0, x = M_LEFT;
	for (size_t c = 0; c < t->ncols; c++) {
		ls[c] = layout(p, texts[c], head ? ST_SMALL_BOLD : ST_SMALL,
			       w[c] - 6,
			       head ? PANGO_ALIGN_CENTER
			       : t->numeric[c] ? PANGO_ALIGN_RIGHT
					       : PANGO_ALIGN_LEFT);
		h = fmax(h, layout_h(ls[c]));
	}
	h += 6;
	for (size_t c = 0; c < t->ncols; c++) {
		if (draw) {
			cairo_rectangle(p->cr, x, p->y, w[c], h);
			cairo_set_line_width(p->cr, 0.5);
			cairo_stroke(p->cr);
			draw_at(p, ls[c], x + 3, p->y + 3);
		}
		x += w[c];
		g_object_unref(ls[c]);
	}
	return h;
}

static void draw_table(struct pdf *p, const struct report_table *t)
{
	double w[REPORT_TABLE_COLS];
	char cells[REPORT_TABLE_COLS][256];
	const char *texts[REPORT_TABLE_COLS];
	col_widths(t, w);
	para(p, t->title_vi, ST_ITALIC, PANGO_ALIGN_LEFT, 4);
	if (t->nrows == 0) {
		para(p, "(không có)", ST_SMALL, PANGO_ALIGN_LEFT, 10);
		return;
	}
	double hh = table_row(p, t, t->cols, w, true, false);
	ensure(p, hh + 20);
	p->y += table_row(p, t, t->cols, w, true, true);
	for (size_t i = 0; i < t->nrows; i++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const struct report_cell *cell = &t->cells[i * t->ncols + c];
			if (t->numeric[c])
				fmt_value(cells[c], sizeof(cells[c]), cell->num,
					  cell->empty);
			else
				snprintf(cells[c], sizeof(cells[c]), "%s",
					 cell->text);
			texts[c] = cells[c];
		}
		double h = table_row(p, t, texts, w, false, false);
		/* A row that does not fit starts a page with the header
		 * again. */
		if (p->y + h > PAGE_H - M_BOTTOM) {
			new_page(p);
			p->y += table_row(p, t, t->cols, w, true, true);
		}
		p->y += table_row(p, t, texts, w, false, true);
	}
	p->y += 10;
}

/* ---- the trend chart ------------------------------------------------------- */

static void chart(struct pdf *p, const struct report *r)
{
	double h = 170, x0 = M_LEFT + 30, x1 = M_LEFT + TEXT_W - 10;
	if (r->npoints < 2)
		return;
	para(p, "Biểu đồ: điểm tuân thủ (đường liền) và tỷ lệ máy được bảo vệ "
		"(đường đứt) theo ngày, thang 0-100", ST_ITALIC,
	     PANGO_ALIGN_LEFT, 4);
	ensure(p, h + 30);
	double y0 = p->y + h, y1 = p->y;
	cairo_t *cr = p->cr;
	cairo_set_line_width(cr, 0.5);
	for (int g = 0; g <= 100; g += 25) {
		char lab[8];
		double y = y0 - (y0 - y1) * g / 100.0;
		cairo_set_source_rgb(cr, 0.8, 0.8, 0.8);
		cairo_move_to(cr, x0, y);
		cairo_line_to(cr, x1, y);
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0, 0, 0);
		snprintf(lab, sizeof(lab), "%d", g);
		PangoLayout *l = layout(p, lab, ST_SMALL, 26, PANGO_ALIGN_RIGHT);
		draw_at(p, l, x0 - 30, y - 7);
		g_object_unref(l);
	}
	for (int series = 0; series < 2; series++) {
		bool started = false;
		double dash[] = {4, 3};
		cairo_set_dash(cr, dash, series ? 2 : 0, 0);
		cairo_set_line_width(cr, 1.2);
		for (size_t i = 0; i < r->npoints; i++) {
			double v = series ? r->points[i].av : r->points[i].score;
			if (!isfinite(v)) {
				started = false;
				continue;
			}
			double x = x0 + (x1 - x0) * (double)i /
						(double)(r->npoints - 1);
			double y = y0 - (y0 - y1) * fmin(fmax(v, 0), 100) / 100;
			if (started)
				cairo_line_to(cr, x, y);
			else
				cairo_move_to(cr, x, y);
			started = true;
		}
		cairo_stroke(cr);
	}
	cairo_set_dash(cr, NULL, 0, 0);
	PangoLayout *a = layout(p, r->points[0].day, ST_SMALL, 80,
				PANGO_ALIGN_LEFT);
	PangoLayout *z = layout(p, r->points[r->npoints - 1].day, ST_SMALL, 80,
				PANGO_ALIGN_RIGHT);
	draw_at(p, a, x0, y0 + 2);
	draw_at(p, z, x1 - 80, y0 + 2);
	g_object_unref(a);
	g_object_unref(z);
	p->y = y0 + 24;
}

/* ---- the body ------------------------------------------------------------------ */

static const char *const roman[] = {"I",  "II",	 "III", "IV", "V",
				    "VI", "VII", "VIII", "IX", "X"};

static void body(struct pdf *p, const struct report *r)
{
	char buf[1400], v[64];
	para(p, "TÓM TẮT", ST_BOLD, PANGO_ALIGN_LEFT, 4);
	snprintf(buf, sizeof(buf), "        %s", r->summary_vi);
	para(p, buf, ST_BODY, PANGO_ALIGN_LEFT, 6);
	if (r->missing_count) {
		snprintf(buf, sizeof(buf),
			 "        Số liệu thiếu %zu ngày (không có ảnh chụp hằng "
			 "ngày): %s.", r->missing_count, r->missing_days);
		para(p, buf, ST_ITALIC, PANGO_ALIGN_LEFT, 6);
	}
	chart(p, r);
	for (int s = 0; s < SEC_COUNT; s++) {
		const struct report_section *sec = &r->sections[s];
		snprintf(buf, sizeof(buf), "%s. %s", roman[s], sec->title_vi);
		PangoLayout *l = layout(p, buf, ST_BOLD, TEXT_W,
					PANGO_ALIGN_LEFT);
		ensure(p, layout_h(l) + 40); /* no heading alone at a foot */
		g_object_unref(l);
		para(p, buf, ST_BOLD, PANGO_ALIGN_LEFT, 4);
		if (sec->note_vi[0]) {
			snprintf(buf, sizeof(buf), "        %s", sec->note_vi);
			para(p, buf, ST_BODY, PANGO_ALIGN_LEFT, 4);
		}
		for (size_t i = 0; i < sec->nfigures; i++) {
			const struct report_figure *f = &sec->figures[i];
			fmt_value(v, sizeof(v), f->value, f->na);
			snprintf(buf, sizeof(buf), "        - %s: %s%s%s.",
				 f->label_vi, f->na ? "không có số liệu" : v,
				 f->na || !f->unit[0]	   ? ""
				 : strcmp(f->unit, "%") == 0 ? ""
							     : " ",
				 f->na ? "" : f->unit);
			para(p, buf, ST_BODY, PANGO_ALIGN_LEFT, 0);
			snprintf(buf, sizeof(buf), "          Cách tính: %s",
				 f->method);
			para(p, buf, ST_SMALL, PANGO_ALIGN_LEFT, 3);
		}
		p->y += 4;
		for (size_t t = 0; t < sec->ntables; t++)
			if (strcmp(sec->tables[t].key, "trend") != 0)
				draw_table(p, &sec->tables[t]);
	}
	snprintf(buf, sizeof(buf), "%s. Ý KIẾN CỦA CÁN BỘ PHỤ TRÁCH",
		 roman[SEC_COUNT]);
	para(p, buf, ST_BOLD, PANGO_ALIGN_LEFT, 4);
	snprintf(buf, sizeof(buf), "        %s",
		 r->remarks[0] ? r->remarks : "(chưa có ý kiến)");
	para(p, buf, ST_BODY, PANGO_ALIGN_LEFT, 16);
	/* Recipients (left) and the signer (right). */
	ensure(p, 110);
	double lw = TEXT_W * 0.5;
	PangoLayout *left = layout(p, "", ST_SMALL, lw, PANGO_ALIGN_LEFT);
	pango_layout_set_markup(left,
				"<b><i>Nơi nhận:</i></b>\n- Sở Giáo dục và Đào "
				"tạo;\n- Trung tâm giám sát an toàn thông tin;"
				"\n- Lưu: VT.",
				-1);
	PangoLayout *right = layout(p, "NGƯỜI LẬP BÁO CÁO", ST_BOLD, lw,
				    PANGO_ALIGN_CENTER);
	draw_at(p, left, M_LEFT, p->y);
	draw_at(p, right, M_LEFT + lw, p->y);
	p->y += fmax(layout_h(left), layout_h(right));
	g_object_unref(left);
	g_object_unref(right);
}

/* ---- fonts ------------------------------------------------------------------------- */

static int fonts_config(const char *dir, FcConfig **out, char *err,
			size_t errlen)
{
	FcConfig *cfg = FcConfigCreate();
	if (cfg == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(font_files) / sizeof(font_files[0]);
	     i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, font_files[i]);
		if (access(path, R_OK) != 0 ||
		    !FcConfigAppFontAddFile(cfg, (const FcChar8 *)path)) {
			snprintf(err, errlen, "font %s is missing or unreadable "
				 "(Debian package fonts-liberation2)", path);
			FcConfigDestroy(cfg);
			return -ENOENT;
		}
	}
	*out = cfg;
	return 0;
}

int report_write_pdf(const struct report *r, const char *path,
		     const char *fonts_dir, char *err, size_t errlen)
{
	struct pdf p = {.page = 1, .y = M_TOP};
	FcConfig *cfg = NULL;
	int rc = fonts_config(fonts_dir ? fonts_dir : REPORT_FONTS_DIR, &cfg,
			      err, errlen);
	if (rc != 0)
		return rc;
	p.fontmap = pango_cairo_font_map_new_for_font_type(CAIRO_FONT_TYPE_FT);
	if (p.fontmap == NULL) {
		FcConfigDestroy(cfg);
		snprintf(err, errlen, "pango has no FreeType font map");
		return -EIO;
	}
	/* The font map takes its own reference. */
	pango_fc_font_map_set_config(PANGO_FC_FONT_MAP(p.fontmap), cfg);
	FcConfigDestroy(cfg);
	p.surface = cairo_pdf_surface_create(path, PAGE_W, PAGE_H);
	if (cairo_surface_status(p.surface) != CAIRO_STATUS_SUCCESS) {
		snprintf(err, errlen, "cannot create %s: %s", path,
			 cairo_status_to_string(cairo_surface_status(p.surface)));
		rc = -EIO;
		goto done;
	}
	char title[256];
	snprintf(title, sizeof(title), "Báo cáo an toàn thông tin %s %s",
		 r->period.id, r->scope.id);
	cairo_pdf_surface_set_metadata(p.surface, CAIRO_PDF_METADATA_TITLE,
				       title);
	cairo_pdf_surface_set_metadata(p.surface, CAIRO_PDF_METADATA_CREATOR,
				       "eduwatch-collector");
	p.cr = cairo_create(p.surface);
	p.ctx = pango_font_map_create_context(p.fontmap);
	pango_cairo_update_context(p.cr, p.ctx);
	cairo_set_source_rgb(p.cr, 0, 0, 0);
	header(&p, r);
	body(&p, r);
	cairo_show_page(p.cr);
	cairo_surface_finish(p.surface);
	if (cairo_surface_status(p.surface) != CAIRO_STATUS_SUCCESS) {
		snprintf(err, errlen, "cannot write %s: %s", path,
			 cairo_status_to_string(cairo_surface_status(p.surface)));
		rc = -EIO;
	}
done:
	if (p.ctx)
		g_object_unref(p.ctx);
	if (p.cr)
		cairo_destroy(p.cr);
	if (p.surface)
		cairo_surface_destroy(p.surface);
	/* Drops the fontmap's fontconfig configuration and caches now;
	 * a GObject may outlive its last unref in glib's own caches. */
	pango_fc_font_map_shutdown(PANGO_FC_FONT_MAP(p.fontmap));
	g_object_unref(p.fontmap);
	return rc;
}
