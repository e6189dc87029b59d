/* report_model: computes every figure of a report from the store. Each
 * figure carries a sentence (in Vietnamese, for the officer who signs)
 * saying what it counts; the test computes the same figures on its own
 * from the database and compares them. */
#include "collector/report/report.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/drill/drill_redteam.h"
#include "collector/drill/drill_timeline.h"
#include "common/alloc.h"

/* ---- building blocks ---------------------------------------------------- */

static struct report_figure *figure(struct report_section *s, const char *key,
				    const char *label, double value,
				    const char *unit, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static struct report_figure *figure(struct report_section *s, const char *key,
				    const char *label, double value,
				    const char *unit, const char *fmt, ...)
{
	va_list ap;
	if (s->nfigures == sizeof(s->figures) / sizeof(s->figures[0]))
		abort(); /* a programming error: the sections are fixed */
	struct report_figure *f = &s->figures[s->nfigures++];
	f->key = key;
	snprintf(f->label_vi, sizeof(f->label_vi), "%s", label);
	f->value = isfinite(value) ? value : 0;
	f->na = !isfinite(value);
	f->unit = unit;
	va_start(ap, fmt);
	vsnprintf(f->method, sizeof(f->method), fmt, ap);
	va_end(ap);
	return f;
}

static struct report_table *table(struct report_section *s, const char *key,
				  const char *title, size_t ncols,
				  const char *const *cols, const bool *numeric)
{
	if (s->ntables == sizeof(s->tables) / sizeof(s->tables[0]) ||
	    ncols > REPORT_TABLE_COLS)
		abort();
	struct report_table *t = &s->tables[s->ntables++];
	t->key = key;
	snprintf(t->title_vi, sizeof(t->title_vi), "%s", title);
	t->ncols = ncols;
	for (size_t i = 0; i < ncols; i++) {
		t->cols[i] = cols[i];
		t->numeric[i] = numeric[i];
	}
	return t;
}

/* Appends a row: for each column a text (const char *) or a number
 * (double) as the column says; NAN makes an empty numeric cell. */
static int row(struct report_table *t, ...)
{
	va_list ap;
	if (t->nrows == t->caprows) {
		size_t cap = t->caprows ? t->caprows * 2 : 16;
		struct report_cell *c =
			alloc_resize(t->cells, cap * t->ncols * sizeof(*c));
		if (c == NULL)
			return -ENOMEM;
		t->cells = c;
		t->caprows = cap;
	}
	struct report_cell *c = &t->cells[t->nrows * t->ncols];
	memset(c, 0, t->ncols * sizeof(*c));
	int rc = 0;
	va_start(ap, t);
	for (size_t i = 0; i < t->ncols; i++) {
		if (t->numeric[i]) {
			double v = va_arg(ap, double);
			c[i].num = isfinite(v) ? v : 0;
			c[i].empty = !isfinite(v);
		} else {
			const char *s = va_arg(ap, const char *);
			c[i].text = alloc_strdup(s ? s : "");
			if (c[i].text == NULL)
				rc = -ENOMEM;
		}
	}
	va_end(ap);
	t->nrows++;
	return rc;
}

static double pct(double num, double den)
{
	return den > 0 ? round(10000.0 * num / den) / 100.0 : NAN;
}

static double round2(double v)
{
	return isfinite(v) ? round(v * 100.0) / 100.0 : v;
}

/* Nearest-rank percentile of n sorted values (NAN for none). */
static double percentile(const double *v, size_t n, double p)
{
	if (n == 0)
		return NAN;
	size_t rank = (size_t)ceil(p * (double)n);
	return v[rank ? rank - 1 : 0];
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void day_add(const char *day, int delta, char out[11])
{
	struct tm tm = {0};
	sscanf(day, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm) + (time_t)delta * 86400;
	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/* ---- what is read from the store -------------------------------------------- */

struct school_acc {
	struct store_school school;
	struct store_day_school first, last; /* rows; day "" when none */
	double cov_sum;
	int cov_days;
};

struct day_acc {
	bool present;
	long long pcs, av_ok, rpo_ok, restore_ok, enrolled, fresh;
	double score_w;
	long long pcs_w;
};

struct alert_acc {
	uint64_t id;
	char kind[EVENT_KIND_MAX + 1];
	char school[STORE_CODE_MAX + 1];
	int severity;
	bool drill;
	int64_t first_us, ack_us, resolved_us;
};

struct build {
	const struct report_period *period;
	const struct report_scope *scope;
	struct school_acc *schools;
	size_t nschools, capschools;
	struct day_acc *days;
	size_t ndays;
	char last_day[11]; /* rows come by day: the last one's index */
	long last_index;
	struct alert_acc *alerts;
	size_t nalerts, capalerts;
	int rc;
};

static int cmp_school(const void *a, const void *b)
{
	return strcmp(((const struct school_acc *)a)->school.code,
		      ((const struct school_acc *)b)->school.code);
}

static int cmp_code(const void *key, const void *elem)
{
	return strcmp(key, ((const struct school_acc *)elem)->school.code);
}

static struct school_acc *find_school(struct build *b, const char *code)
{
	return bsearch(code, b->schools, b->nschools, sizeof(*b->schools),
		       cmp_code);
}

static void on_school(void *arg, const struct store_school *s)
{
	struct build *b = arg;
	if ((b->scope->kind == SCOPE_COMMUNE &&
	     strcmp(s->commune, b->scope->key) != 0) ||
	    (b->scope->kind == SCOPE_SCHOOL &&
	     strcmp(s->code, b->scope->key) != 0) || b->rc)
		return;
	if (b->nschools == b->capschools) {
		size_t cap = b->capschools ? b->capschools * 2 : 64;
		struct school_acc *n =
			alloc_resize(b->schools, cap * sizeof(*n));
		if (n == NULL) {
			b->rc = -ENOMEM;
			return;
		}
		b->schools = n;
		b->capschools = cap;
	}
	memset(&b->schools[b->nschools], 0, sizeof(*b->schools));
	b->schools[b->nschools++].school = *s;
}

static long day_index(const struct build *b, const char *day)
{
	struct tm a = {0}, z = {0};
	sscanf(b->period->from, "%4d-%2d-%2d", &a.tm_year, &a.tm_mon,
	       &a.tm_mday);
	sscanf(day, "%4d-%2d-%2d", &z.tm_year, &z.tm_mon, &z.tm_mday);
	a.tm_year -= 1900, a.tm_mon -= 1, z.tm_year -= 1900, z.tm_mon -= 1;
	return (long)((timegm(&z) - timegm(&a)) / 86400);
}

static void on_day_school(void *arg, const struct store_day_school *d)
{
	struct build *b = arg;
	struct school_acc *s = find_school(b, d->school);
	if (strcmp(d->day, b->last_day) != 0) {
		b->last_index = day_index(b, d->day);
		memcpy(b->last_day, d->day, sizeof(b->last_day));
	}
	long i = b->last_index;
	if (s == NULL || i < 0 || (size_t)i >= b->ndays)
		return;
	struct day_acc *a = &b->days[i];
	a->present = true;
	a->pcs += d->pcs;
	a->av_ok += d->av_ok;
	a->rpo_ok += d->rpo_ok;
	a->restore_ok += d->restore_ok;
	a->enrolled += d->enrolled;
	a->fresh += d->fresh;
	if (!d->no_policy) {
		a->score_w += d->score * d->pcs;
		a->pcs_w += d->pcs;
	}
	if (s->first.day[0] == '\0')
		s->first = *d;
	s->last = *d;
	if (d->pcs > 0) {
		s->cov_sum += (double)d->av_ok / d->pcs;
		s->cov_days++;
	}
}

static void on_alert(void *arg, const struct store_alert *a)
{
	struct build *b = arg;
	if (b->rc || find_school(b, a->school) == NULL ||
	    a->first_us >= b->period->end_us)
		return;
	/* Alerts resolved before the period have nothing to say about it. */
	if (a->resolved_us != 0 && a->resolved_us < b->period->from_us &&
	    a->first_us < b->period->from_us)
		return;
	if (b->nalerts == b->capalerts) {
		size_t cap = b->capalerts ? b->capalerts * 2 : 256;
		struct alert_acc *n = alloc_resize(b->alerts, cap * sizeof(*n));
		if (n == NULL) {
			b->rc = -ENOMEM;
			return;
		}
		b->alerts = n;
		b->capalerts = cap;
	}
	struct alert_acc *x = &b->alerts[b->nalerts++];
	x->id = a->id;
	snprintf(x->kind, sizeof(x->kind), "%s", a->kind);
	snprintf(x->school, sizeof(x->school), "%s", a->school);
	x->severity = a->severity;
	x->drill = a->drill;
	x->first_us = a->first_us;
	x->ack_us = a->ack_us;
	x->resolved_us = a->resolved_us;
}

struct dl_count {
	struct build *b;
	long long n;
	const struct alert_acc *alerts;
	size_t nalerts;
};

static int cmp_alert_id(const void *a, const void *b)
{
	uint64_t x = ((const struct alert_acc *)a)->id;
	uint64_t y = ((const struct alert_acc *)b)->id;
	return x < y ? -1 : x > y;
}

static void on_dead_letter(void *arg, const struct store_dead_letter *dl)
{
	struct dl_count *c = arg;
	if (dl->at_us < c->b->period->from_us || dl->at_us >= c->b->period->end_us)
		return;
	if (c->b->scope->kind != SCOPE_PROVINCE) {
		struct alert_acc key = {.id = dl->alert};
		if (bsearch(&key, c->alerts, c->nalerts, sizeof(key),
			    cmp_alert_id) == NULL)
			return;
	}
	c->n++;
}

/* ---- SOC delivery lag --------------------------------------------------------- */

/* One destination's deliveries of in-scope, non-drill alerts queued in the
 * period: lags in seconds (queued to confirmed), refusals, and those not
 * confirmed when the report was built. A destination taken out of the
 * configuration will never confirm its queue: it is shown apart. */
struct lag_dest {
	char dest[64];
	bool removed;
	double *lag;
	size_t nlag, caplag;
	long long dead, waiting;
};

struct lag_acc {
	struct build *b;
	const struct report_options *o;
	struct lag_dest *d;
	size_t nd, capd;
	long long clamped; /* confirmed before queued: the clock stepped */
	int rc;
};

/* Whether dest is among the configured destinations (all are, when the
 * caller did not name them). */
static bool dest_configured(const struct report_options *o, const char *dest)
{
	if (o->forward_dest_names == NULL)
		return true;
	for (size_t i = 0; i < o->forward_dests; i++)
		if (strcmp(o->forward_dest_names[i], dest) == 0)
			return true;
	return false;
}

static int push_double(double **v, size_t *n, size_t *cap, double x)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		double *p = alloc_resize(*v, c * sizeof(*p));
		if (p == NULL)
			return -ENOMEM;
		*v = p;
		*cap = c;
	}
	(*v)[(*n)++] = x;
	return 0;
}

static struct lag_dest *lag_dest_of(struct lag_acc *c, const char *dest)
{
	for (size_t i = 0; i < c->nd; i++)
		if (strcmp(c->d[i].dest, dest) == 0)
			return &c->d[i];
	if (c->nd == c->capd) {
		size_t cap = c->capd ? c->capd * 2 : 4;
		struct lag_dest *p = alloc_resize(c->d, cap * sizeof(*p));
		if (p == NULL)
			return NULL;
		c->d = p;
		c->capd = cap;
	}
	struct lag_dest *d = &c->d[c->nd++];
	memset(d, 0, sizeof(*d));
	snprintf(d->dest, sizeof(d->dest), "%s", dest);
	d->removed = !dest_configured(c->o, dest);
	return d;
}

static void on_delivery(void *arg, const struct store_delivery *dv)
{
	struct lag_acc *c = arg;
	struct alert_acc key = {.id = dv->alert};
	const struct alert_acc *a;
	if (c->rc != 0)
		return;
	/* The alert must be in scope and real; one since pruned is not
	 * known to be either, so it is left out. */
	a = bsearch(&key, c->b->alerts, c->b->nalerts, sizeof(key),
		    cmp_alert_id);
	if (a == NULL || a->drill)
		return;
	struct lag_dest *d = lag_dest_of(c, dv->dest);
	if (d == NULL) {
		c->rc = -ENOMEM;
		return;
	}
	/* The times are the collector's clock at queueing and at
	 * confirmation: a step backwards between them makes a negative lag,
	 * counted at 0 and reported. */
	int64_t lag_us = dv->delivered_us - dv->queued_us;
	if (dv->dead_us > 0) {
		d->dead++;
	} else if (dv->delivered_us > 0) {
		if (lag_us < 0) {
			lag_us = 0;
			c->clamped++;
		}
		c->rc = push_double(&d->lag, &d->nlag, &d->caplag,
				    (double)lag_us / 1e6);
	} else {
		d->waiting++;
	}
}

static int cmp_lag_dest(const void *x, const void *y)
{
	return strcmp(((const struct lag_dest *)x)->dest,
		      ((const struct lag_dest *)y)->dest);
}

/* Delivery lag from the recorded queue and confirmation times: over every
 * destination together, and one row per destination. */
static int soc_delivery_lag(struct report_section *s, struct build *b,
			    struct store *st, const struct report_options *o)
{
	struct lag_acc c = {.b = b, .o = o};
	double *all = NULL;
	size_t nall = 0, capall = 0;
	long long waiting = 0, removed = 0;
	char label[sizeof(c.d[0].dest) + 48];
	static const char *const cols[] = {"Đích SOC", "Đã xác nhận",
					   "Từ chối", "Chưa xác nhận",
					   "Trung vị (giây)", "P90 (giây)",
					   "Tối đa (giây)"};
	static const bool num[] = {false, true, true, true, true, true, true};
	struct report_table *t = table(s, "delivery_lag_by_dest",
				       "Độ trễ chuyển cảnh báo theo đích SOC",
				       7, cols, num);
	int rc = store_forward_deliveries(st, b->period->from_us,
					  b->period->end_us, on_delivery, &c);
	if (rc == 0)
		rc = c.rc;
	if (c.nd > 0)
		qsort(c.d, c.nd, sizeof(*c.d), cmp_lag_dest);
	for (size_t i = 0; rc == 0 && i < c.nd; i++) {
		struct lag_dest *d = &c.d[i];
		qsort(d->lag, d->nlag, sizeof(double), cmp_double);
		if (d->removed)
			removed += d->waiting;
		else
			waiting += d->waiting;
		for (size_t j = 0; rc == 0 && j < d->nlag; j++)
			rc = push_double(&all, &nall, &capall, d->lag[j]);
		snprintf(label, sizeof(label), "%s%s", d->dest,
			 d->removed ? " (đã gỡ khỏi cấu hình)" : "");
		if (rc == 0)
			rc = row(t, label, (double)d->nlag, (double)d->dead,
				 (double)d->waiting,
				 round2(percentile(d->lag, d->nlag, 0.5)),
				 round2(percentile(d->lag, d->nlag, 0.9)),
				 round2(percentile(d->lag, d->nlag, 1.0)));
	}
	if (rc == 0 && nall > 0)
		qsort(all, nall, sizeof(double), cmp_double);
	if (rc == 0) {
		figure(s, "soc.delivery_lag_median",
		       "Độ trễ chuyển cảnh báo (trung vị)",
		       round2(percentile(all, nall, 0.5)), "giây",
		       "Từ lúc cảnh báo (không tính diễn tập) được xếp hàng tới "
		       "lúc đích SOC xác nhận, theo thời điểm bộ thu đã lưu, "
		       "trên %zu lượt chuyển xếp hàng trong kỳ; %lld lượt chưa "
		       "được xác nhận; %lld lượt tới đích đã gỡ khỏi cấu hình "
		       "(không còn chờ); %lld lượt có giờ xác nhận trước giờ "
		       "xếp hàng (đồng hồ bị chỉnh lùi), tính là 0 giây.",
		       nall, waiting, removed, c.clamped);
		figure(s, "soc.deliveries_waiting",
		       "Lượt chuyển chưa được xác nhận", (double)waiting,
		       "lượt", "Tới các đích SOC đang cấu hình, lúc lập báo "
		       "cáo.");
		figure(s, "soc.deliveries_dest_removed",
		       "Lượt chuyển tới đích đã gỡ", (double)removed, "lượt",
		       "Chưa xác nhận, tới đích SOC không còn trong cấu hình: "
		       "sẽ không bao giờ được gửi, không tính là đang chờ.");
		figure(s, "soc.delivery_lag_clamped",
		       "Lượt chuyển có độ trễ âm (đồng hồ chỉnh lùi)",
		       (double)c.clamped, "lượt",
		       "Tính là 0 giây trong trung vị, P90 và lớn nhất.");
		figure(s, "soc.delivery_lag_p90",
		       "Độ trễ chuyển cảnh báo (phân vị 90)",
		       round2(percentile(all, nall, 0.9)), "giây",
		       "Phân vị 90 theo hạng gần nhất, mọi đích SOC gộp lại.");
		figure(s, "soc.delivery_lag_max",
		       "Độ trễ chuyển cảnh báo (lớn nhất)",
		       round2(percentile(all, nall, 1.0)), "giây",
		       "Lượt chuyển chậm nhất trong kỳ.");
	}
	for (size_t i = 0; i < c.nd; i++)
		alloc_free(c.d[i].lag);
	alloc_free(c.d);
	alloc_free(all);
	return rc;
}

/* ---- the register ------------------------------------------------------------ */

struct sys_acc {
	struct build *b;
	long long by[6][5]; /* level 1..5 x dossier (4) + total */
	long long total, overdue;
	struct report_table *overdue_t;
	int rc;
};

static void on_system(void *arg, const struct store_system *y)
{
	static const char *const order[] = {"not_started", "drafted",
					    "submitted", "approved"};
	struct sys_acc *c = arg;
	/* The province's report covers the department's own systems too. */
	if (c->b->scope->kind != SCOPE_PROVINCE &&
	    find_school(c->b, y->unit) == NULL)
		return;
	if (y->level < 1 || y->level > 5)
		return;
	for (int i = 0; i < 4; i++)
		if (strcmp(y->dossier, order[i]) == 0)
			c->by[y->level][i]++;
	c->by[y->level][4]++;
	c->total++;
	if (y->review_due[0] && strcmp(y->review_due, c->b->period->to) <= 0) {
		c->overdue++;
		if (c->rc == 0)
			c->rc = row(c->overdue_t, y->unit, y->name,
				    (double)y->level, y->dossier, y->review_due);
	}
}

/* ---- sections ------------------------------------------------------------------ */

static const char *const sec_keys[SEC_COUNT] = {
	"av", "classification", "soc", "incidents", "backups", "drills",
	"compliance",
};
static const char *const sec_titles[SEC_COUNT] = {
	"Phòng chống mã độc (phần mềm diệt virus)",
	"Phân loại hệ thống thông tin theo cấp độ",
	"Kết nối với Trung tâm giám sát (SOC)",
	"Sự cố và cảnh báo",
	"Sao lưu dữ liệu",
	"Diễn tập ứng cứu sự cố",
	"Mức độ tuân thủ chính sách",
};

static struct day_acc *day_at(struct build *b, const char *day)
{
	long i = day[0] ? day_index(b, day) : -1;
	return i >= 0 && (size_t)i < b->ndays ? &b->days[i] : NULL;
}

enum area { AREA_AV, AREA_RPO };

/* The mean over the days with data of the day's share of PCs passing an
 * area, in % (NAN without such a day); *ndays gets how many days. */
static double daily_share(const struct build *b, enum area a, int *ndays)
{
	double sum = 0;
	int n = 0;
	for (size_t i = 0; i < b->ndays; i++) {
		const struct day_acc *d = &b->days[i];
		if (!d->present || d->pcs <= 0)
			continue;
		sum += (double)(a == AREA_AV ? d->av_ok : d->rpo_ok) / d->pcs;
		n++;
	}
	*ndays = n;
	return n ? round2(100.0 * sum / n) : NAN;
}

static int section_av(struct report *r, struct build *b)
{
	struct report_section *s = &r->sections[SEC_AV];
	struct day_acc *end = day_at(b, r->last_day);
	int n;
	double avg = daily_share(b, AREA_AV, &n);
	figure(s, "av.coverage_end", "Tỷ lệ máy được bảo vệ cuối kỳ",
	       end ? pct(end->av_ok, end->pcs) : NAN, "%",
	       "Ngày %s: số máy bật bảo vệ thời gian thực và có mẫu nhận diện "
	       "trong hạn của chính sách (%lld) chia cho số máy phải có "
	       "(%lld = max(số máy dự kiến, số máy đã đăng ký) của từng "
	       "trường); máy không báo cáo hoặc chưa từng đăng ký tính là "
	       "không được bảo vệ.",
	       r->last_day[0] ? r->last_day : "-", end ? end->av_ok : 0,
	       end ? end->pcs : 0);
	figure(s, "av.coverage_avg", "Tỷ lệ máy được bảo vệ bình quân trong kỳ",
	       avg, "%",
	       "Trung bình của tỷ lệ hằng ngày trên %d ngày có số liệu "
	       "(ngày thiếu số liệu không tính).", n);
	figure(s, "av.pcs_end", "Số máy phải được bảo vệ cuối kỳ",
	       end ? (double)end->pcs : NAN, "máy",
	       "Tổng max(số máy dự kiến, số máy đã đăng ký) các trường ngày %s.",
	       r->last_day[0] ? r->last_day : "-");
	static const char *const cols[] = {"Xã/phường", "Trường", "Tên trường",
					   "Số máy", "Được bảo vệ",
					   "Tỷ lệ cuối kỳ (%)",
					   "Bình quân (%)"};
	static const bool num[] = {false, false, false, true, true, true, true};
	struct report_table *t = table(s, "av_by_school",
				       "Tỷ lệ bảo vệ theo trường", 7, cols, num);
	static const char *const ccols[] = {"Xã/phường", "Số máy", "Được bảo vệ",
					    "Tỷ lệ cuối kỳ (%)"};
	static const bool cnum[] = {false, true, true, true};
	struct report_table *ct = table(s, "av_by_commune",
					"Tỷ lệ bảo vệ theo xã/phường", 4,
					ccols, cnum);
	int rc = 0;
	const char *commune = NULL;
	long long cp = 0, ca = 0;
	for (size_t i = 0; rc == 0 && i < b->nschools; i++) {
		const struct school_acc *sa = &b->schools[i];
		bool at_end = strcmp(sa->last.day, r->last_day) == 0 &&
			      r->last_day[0];
		rc = row(t, sa->school.commune, sa->school.code, sa->school.name,
			 at_end ? (double)sa->last.pcs : NAN,
			 at_end ? (double)sa->last.av_ok : NAN,
			 at_end ? pct(sa->last.av_ok, sa->last.pcs) : NAN,
			 sa->cov_days ? round2(100.0 * sa->cov_sum / sa->cov_days)
				      : NAN);
	}
	/* b->schools is sorted by code; communes are grouped here by a
	 * second pass over each distinct commune. */
	for (size_t i = 0; rc == 0 && i < b->nschools; i++) {
		commune = b->schools[i].school.commune;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(b->schools[j].school.commune, commune) == 0;
		if (seen)
			continue;
		cp = ca = 0;
		for (size_t j = i; j < b->nschools; j++) {
			const struct school_acc *sa = &b->schools[j];
			if (strcmp(sa->school.commune, commune) != 0 ||
			    strcmp(sa->last.day, r->last_day) != 0 ||
			    !r->last_day[0])
				continue;
			cp += sa->last.pcs;
			ca += sa->last.av_ok;
		}
		rc = row(ct, commune, (double)cp, (double)ca, pct(ca, cp));
	}
	return rc;
}

static int section_classification(struct report *r, struct build *b,
				  struct store *st)
{
	static const char *const dossier_vi[] = {
		"Chưa lập hồ sơ", "Đã lập hồ sơ", "Đã trình", "Đã phê duyệt",
		"Tổng"};
	struct report_section *s = &r->sections[SEC_CLASSIFICATION];
	static const char *const ocols[] = {"Đơn vị", "Hệ thống", "Cấp độ",
					    "Hồ sơ", "Hạn rà soát"};
	static const bool onum[] = {false, false, true, false, false};
	struct report_table *lt;
	static const char *const lcols[] = {"Cấp độ", "Chưa lập hồ sơ",
					    "Đã lập hồ sơ", "Đã trình",
					    "Đã phê duyệt", "Tổng"};
	static const bool lnum[] = {true, true, true, true, true, true};
	lt = table(s, "systems_by_level", "Hệ thống thông tin theo cấp độ và "
		   "tình trạng hồ sơ", 6, lcols, lnum);
	struct sys_acc c = {.b = b};
	c.overdue_t = table(s, "overdue_reviews", "Hệ thống quá hạn rà soát",
			    5, ocols, onum);
	int rc = store_system_list(st, NULL, on_system, &c);
	if (rc == 0)
		rc = c.rc;
	for (int lv = 1; rc == 0 && lv <= 5; lv++)
		rc = row(lt, (double)lv, (double)c.by[lv][0],
			 (double)c.by[lv][1], (double)c.by[lv][2],
			 (double)c.by[lv][3], (double)c.by[lv][4]);
	(void)dossier_vi;
	long long approved = 0;
	for (int lv = 1; lv <= 5; lv++)
		approved += c.by[lv][3];
	figure(s, "class.systems", "Số hệ thống thông tin trong sổ đăng ký",
	       (double)c.total, "hệ thống",
	       "Các hệ thống của các đơn vị trong phạm vi báo cáo%s.",
	       b->scope->kind == SCOPE_PROVINCE ? " (kể cả của Sở)" : "");
	figure(s, "class.approved", "Số hệ thống đã được phê duyệt cấp độ",
	       (double)approved, "hệ thống",
	       "Hồ sơ đề xuất cấp độ ở trạng thái đã phê duyệt.");
	figure(s, "class.overdue", "Số hệ thống quá hạn rà soát",
	       (double)c.overdue, "hệ thống",
	       "Hạn rà soát không muộn hơn ngày cuối kỳ %s.", b->period->to);
	/* Schools whose level has no policy are named, never scored. */
	long long no_policy = 0;
	static const char *const ncols[] = {"Trường", "Tên trường", "Cấp độ"};
	static const bool nnum[] = {false, false, true};
	struct report_table *nt = table(s, "schools_without_policy",
					"Trường ở cấp độ chưa có chính sách "
					"(không chấm điểm)", 3, ncols, nnum);
	for (size_t i = 0; rc == 0 && i < b->nschools; i++) {
		const struct school_acc *sa = &b->schools[i];
		if (!r->last_day[0] || strcmp(sa->last.day, r->last_day) != 0 ||
		    !sa->last.no_policy)
			continue;
		no_policy++;
		rc = row(nt, sa->school.code, sa->school.name,
			 (double)sa->last.level);
	}
	figure(s, "class.no_policy", "Số trường ở cấp độ chưa có chính sách",
	       (double)no_policy, "trường",
	       "Trường có cấp độ (từ hệ thống đã phê duyệt cao nhất) mà chưa "
	       "có tệp chính sách levelN.yaml ngày %s; các trường này không "
	       "được chấm điểm.", r->last_day[0] ? r->last_day : "-");
	return rc;
}

static int section_soc(struct report *r, struct build *b, struct store *st,
		       const struct report_options *o)
{
	struct report_section *s = &r->sections[SEC_SOC];
	struct day_acc *end = day_at(b, r->last_day);
	long long connected = 0, alerts = 0;
	for (size_t i = 0; i < b->nschools; i++)
		if (r->last_day[0] &&
		    strcmp(b->schools[i].last.day, r->last_day) == 0 &&
		    b->schools[i].last.enrolled > 0)
			connected++;
	figure(s, "soc.schools_connected", "Số trường có máy kết nối",
	       (double)connected, "trường",
	       "Trường có ít nhất một máy đã đăng ký (chưa thu hồi) ngày %s.",
	       r->last_day[0] ? r->last_day : "-");
	figure(s, "soc.pcs_connected", "Số máy đã kết nối",
	       end ? (double)end->enrolled : NAN, "máy",
	       "Máy đã đăng ký, chưa thu hồi, ngày %s.",
	       r->last_day[0] ? r->last_day : "-");
	figure(s, "soc.pcs_reporting", "Số máy đang báo cáo",
	       end ? (double)end->fresh : NAN, "máy",
	       "Máy đã báo cáo trong thời hạn stale_after của chính sách, "
	       "ngày %s.", r->last_day[0] ? r->last_day : "-");
	static const char *const cols[] = {"Loại cảnh báo", "Mức độ",
					   "Số cảnh báo"};
	static const bool num[] = {false, true, true};
	struct report_table *t = table(s, "alerts_forwarded",
				       "Cảnh báo chuyển lên SOC theo loại và "
				       "mức độ", 3, cols, num);
	/* Sorted by kind then severity to group. */
	int rc = 0;
	if (o->forward_dests > 0) {
		for (size_t i = 0; rc == 0 && i < b->nalerts; i++) {
			const struct alert_acc *a = &b->alerts[i];
			if (a->drill || a->first_us < b->period->from_us)
				continue;
			alerts++;
			bool seen = false;
			for (size_t j = 0; j < i && !seen; j++)
				seen = !b->alerts[j].drill &&
				       b->alerts[j].first_us >=
					       b->period->from_us &&
				       strcmp(b->alerts[j].kind, a->kind) == 0 &&
				       b->alerts[j].severity == a->severity;
			if (seen)
				continue;
			long long n = 0;
			for (size_t j = i; j < b->nalerts; j++)
				n += !b->alerts[j].drill &&
				     b->alerts[j].first_us >= b->period->from_us &&
				     strcmp(b->alerts[j].kind, a->kind) == 0 &&
				     b->alerts[j].severity == a->severity;
			rc = row(t, a->kind, (double)a->severity, (double)n);
		}
	}
	figure(s, "soc.alerts_forwarded", "Số cảnh báo chuyển lên SOC",
	       (double)alerts, "cảnh báo",
	       o->forward_dests > 0
		       ? "Cảnh báo (không tính diễn tập) mở trong kỳ; mỗi cảnh "
			 "báo được xếp hàng gửi tới %zu đích SOC trong cùng giao "
			 "dịch lưu nó."
		       : "Chưa cấu hình đích SOC nào (%zu): không cảnh báo nào "
			 "được chuyển.",
	       o->forward_dests);
	struct dl_count dc = {.b = b, .alerts = b->alerts,
			      .nalerts = b->nalerts};
	if (rc == 0)
		rc = store_dead_letter_list(st, NULL, INT_MAX, on_dead_letter,
					    &dc);
	figure(s, "soc.dead_letters", "Số cảnh báo SOC từ chối (dead letter)",
	       (double)dc.n, "cảnh báo",
	       "Cảnh báo mà đích SOC từ chối hẳn (HTTP 4xx về nội dung) trong "
	       "kỳ, được giữ lại để cán bộ xem.");
	if (rc == 0)
		rc = soc_delivery_lag(s, b, st, o);
	return rc;
}

static int section_incidents(struct report *r, struct build *b)
{
	struct report_section *s = &r->sections[SEC_INCIDENTS];
	size_t n = 0, nack = 0, nres = 0;
	long long open_end = 0;
	double *ack = alloc_zeroed(b->nalerts + 1, sizeof(double));
	double *res = alloc_zeroed(b->nalerts + 1, sizeof(double));
	int rc = ack && res ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < b->nalerts; i++) {
		const struct alert_acc *a = &b->alerts[i];
		if (a->drill)
			continue;
		if (a->resolved_us == 0 || a->resolved_us >= b->period->end_us)
			open_end++;
		if (a->first_us < b->period->from_us)
			continue;
		n++;
		if (a->ack_us > 0)
			ack[nack++] = (double)(a->ack_us - a->first_us) / 6e7;
		if (a->resolved_us > 0)
			res[nres++] = (double)(a->resolved_us - a->first_us) / 6e7;
	}
	if (rc == 0) {
		qsort(ack, nack, sizeof(double), cmp_double);
		qsort(res, nres, sizeof(double), cmp_double);
	}
	figure(s, "inc.alerts", "Số cảnh báo trong kỳ", (double)n, "cảnh báo",
	       "Cảnh báo (không tính diễn tập) mở lần đầu trong kỳ.");
	figure(s, "inc.ack_median", "Thời gian tiếp nhận (trung vị)",
	       round2(percentile(ack, nack, 0.5)), "phút",
	       "Từ lúc cảnh báo mở tới lúc cán bộ tiếp nhận, trên %zu cảnh báo "
	       "đã tiếp nhận; trung vị theo hạng gần nhất.", nack);
	figure(s, "inc.ack_p90", "Thời gian tiếp nhận (phân vị 90)",
	       round2(percentile(ack, nack, 0.9)), "phút",
	       "Phân vị 90 theo hạng gần nhất (giá trị thứ ⌈0,9·n⌉).");
	figure(s, "inc.resolve_median", "Thời gian xử lý xong (trung vị)",
	       round2(percentile(res, nres, 0.5)), "phút",
	       "Từ lúc cảnh báo mở tới lúc đóng, trên %zu cảnh báo đã đóng.",
	       nres);
	figure(s, "inc.resolve_p90", "Thời gian xử lý xong (phân vị 90)",
	       round2(percentile(res, nres, 0.9)), "phút",
	       "Phân vị 90 theo hạng gần nhất.");
	figure(s, "inc.open_end", "Số cảnh báo còn mở cuối kỳ",
	       (double)open_end, "cảnh báo",
	       "Mở trước khi kỳ kết thúc và chưa đóng trước thời điểm đó.");
	static const char *const cols[] = {"Loại cảnh báo", "Số cảnh báo",
					   "Đã tiếp nhận", "Đã đóng"};
	static const bool num[] = {false, true, true, true};
	struct report_table *t = table(s, "alerts_by_kind",
				       "Cảnh báo theo loại", 4, cols, num);
	for (size_t i = 0; rc == 0 && i < b->nalerts; i++) {
		const struct alert_acc *a = &b->alerts[i];
		if (a->drill || a->first_us < b->period->from_us)
			continue;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !b->alerts[j].drill &&
			       b->alerts[j].first_us >= b->period->from_us &&
			       strcmp(b->alerts[j].kind, a->kind) == 0;
		if (seen)
			continue;
		long long c = 0, ca = 0, cr = 0;
		for (size_t j = i; j < b->nalerts; j++) {
			const struct alert_acc *x = &b->alerts[j];
			if (x->drill || x->first_us < b->period->from_us ||
			    strcmp(x->kind, a->kind) != 0)
				continue;
			c++;
			ca += x->ack_us > 0;
			cr += x->resolved_us > 0;
		}
		rc = row(t, a->kind, (double)c, (double)ca, (double)cr);
	}
	alloc_free(ack);
	alloc_free(res);
	return rc;
}

static int section_backups(struct report *r, struct build *b)
{
	struct report_section *s = &r->sections[SEC_BACKUPS];
	struct day_acc *end = day_at(b, r->last_day);
	int n;
	double avg = daily_share(b, AREA_RPO, &n);
	figure(s, "bak.rpo_end", "Tỷ lệ máy đạt RPO cuối kỳ",
	       end ? pct(end->rpo_ok, end->pcs) : NAN, "%",
	       "Máy có bản sao lưu mới nhất trong thời hạn RPO (%lld) chia cho "
	       "số máy phải có (%lld), ngày %s.", end ? end->rpo_ok : 0,
	       end ? end->pcs : 0, r->last_day[0] ? r->last_day : "-");
	figure(s, "bak.rpo_avg", "Tỷ lệ máy đạt RPO bình quân",
	       avg, "%",
	       "Trung bình tỷ lệ hằng ngày trên %d ngày có số liệu.", n);
	figure(s, "bak.restore_end", "Tỷ lệ máy đã thử khôi phục trong hạn",
	       end ? pct(end->restore_ok, end->pcs) : NAN, "%",
	       "Máy có lần thử khôi phục (đọc lại và kiểm tra dữ liệu) trong "
	       "thời hạn của chính sách (%lld), ngày %s.",
	       end ? end->restore_ok : 0, r->last_day[0] ? r->last_day : "-");
	static const char *const cols[] = {"Trường", "Số máy", "Đạt RPO",
					   "Đã thử khôi phục"};
	static const bool num[] = {false, true, true, true};
	struct report_table *t = table(s, "backups_by_school",
				       "Sao lưu theo trường (cuối kỳ)", 4, cols,
				       num);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < b->nschools; i++) {
		const struct school_acc *sa = &b->schools[i];
		bool at_end = r->last_day[0] &&
			      strcmp(sa->last.day, r->last_day) == 0;
		rc = row(t, sa->school.code, at_end ? (double)sa->last.pcs : NAN,
			 at_end ? (double)sa->last.rpo_ok : NAN,
			 at_end ? (double)sa->last.restore_ok : NAN);
	}
	return rc;
}

struct drill_campaigns {
	struct store_drill *items;
	size_t n, cap;
	bool failed;
};

static void on_drill(void *arg, const struct store_drill *d)
{
	struct drill_campaigns *c = arg;
	if (c->failed)
		return;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		void *p = cap > 4096 ? NULL
				     : alloc_resize(c->items, cap * sizeof(*c->items));
		if (p == NULL) {
			c->failed = true;
			return;
		}
		c->items = p;
		c->cap = cap;
	}
	c->items[c->n++] = *d;
}

/* One campaign's PCs inside the report's scope. */
struct drill_tally {
	struct build *b;
	size_t targets, part, detected, forwarded, passed;
};

static void on_drill_target(void *arg, const struct store_drill_target *t)
{
	struct drill_tally *y = arg;
	int64_t st[DRILL_STAGE_COUNT];
	if (find_school(y->b, t->school) == NULL)
		return;
	y->targets++;
	if (!drill_target_took_part(t))
		return;
	y->part++;
	drill_target_stages(t, st);
	y->detected += st[DRILL_STAGE_DETECTED] > 0;
	y->forwarded += st[DRILL_STAGE_FORWARDED] > 0;
	y->passed += drill_target_passed(t);
}

/* Whether a red-team window's scope (school:CODE, commune:NAME) lies in
 * the report's. */
static bool redteam_in_scope(struct build *b, const struct store_drill *d)
{
	if (strncmp(d->scope, "school:", 7) == 0)
		return find_school(b, d->scope + 7) != NULL;
	if (strncmp(d->scope, "commune:", 8) != 0)
		return false;
	for (size_t i = 0; i < b->nschools; i++)
		if (strcmp(b->schools[i].school.commune, d->scope + 8) == 0)
			return true;
	return false;
}

/* The red-team windows of the period in the scope, scored as `drill
 * status` and the console score them (drill_redteam_score): actions
 * recorded late are shown apart, never as detections. */
static int redteam_table(struct report_section *s, struct build *b,
			 struct store *st, const struct drill_campaigns *c)
{
	static const char *const cols[] = {"Cửa sổ tấn công thử", "Phạm vi",
					   "Hành động", "Phát hiện",
					   "Ghi muộn (không tính)",
					   "Tỷ lệ phát hiện (%)",
					   "Cảnh báo không khớp"};
	static const bool num[] = {false, false, true, true, true, true, true};
	struct report_table *t = table(s, "redteam", "Các cửa sổ tấn công thử "
				       "(red team) trong kỳ", 7, cols, num);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < c->n; i++) {
		const struct store_drill *d = &c->items[i];
		struct drill_redteam_score sc;
		if (strcmp(d->scenario, DRILL_REDTEAM) != 0 ||
		    !redteam_in_scope(b, d))
			continue;
		rc = drill_redteam_score(st, d->id, &sc);
		const struct drill_redteam_figures *f = &sc.fig;
		if (rc == 0)
			rc = row(t, d->name, d->scope, (double)f->actions,
				 (double)f->detected, (double)f->late,
				 f->actions > f->late ? 100 * f->coverage : NAN,
				 (double)f->false_alerts);
		drill_redteam_score_free(&sc);
	}
	return rc == -ENOTSUP ? 0 : rc;
}

/* The campaigns started in the period with PCs in the scope, from the
 * same timeline as `drill status` (collector/drill/drill_timeline.h). */
static int section_drills(struct report *r, struct build *b,
			  struct store *st)
{
	struct report_section *s = &r->sections[SEC_DRILLS];
	struct drill_campaigns c = {0};
	int rc = store_drill_list(st, b->period->from_us, b->period->end_us,
				  on_drill, &c);
	if (rc == -ENOTSUP)
		rc = 0; /* a backend without drills: none held */
	if (rc == 0 && c.failed)
		rc = -ENOMEM;
	static const char *const cols[] = {"Cuộc diễn tập", "Kịch bản",
					   "Trạng thái", "Máy tham gia",
					   "Phát hiện", "Chuyển SOC", "Đạt",
					   "Kết quả"};
	static const bool num[] = {false, false, false, true,
				   true, true, true, false};
	struct report_table *t = table(s, "drills", "Các cuộc diễn tập trong kỳ",
				       8, cols, num);
	size_t held = 0, part = 0, detected = 0, passed = 0;
	for (size_t i = 0; rc == 0 && i < c.n; i++) {
		struct drill_tally y = {.b = b};
		rc = store_drill_targets(st, c.items[i].id, on_drill_target, &y);
		if (rc != 0 || y.targets == 0)
			continue;
		held++;
		part += y.part;
		detected += y.detected;
		passed += y.passed;
		rc = row(t, c.items[i].name, c.items[i].scenario,
			 c.items[i].state, (double)y.part, (double)y.detected,
			 (double)y.forwarded, (double)y.passed,
			 drill_result(y.part, y.passed));
	}
	if (rc == 0)
		rc = redteam_table(s, b, st, &c);
	alloc_free(c.items);
	if (rc != 0)
		return rc;
	if (held == 0)
		snprintf(s->note_vi, sizeof(s->note_vi),
			 "Không có cuộc diễn tập nào được tổ chức trong kỳ.");
	figure(s, "drill.held", "Số cuộc diễn tập", (double)held, "cuộc",
	       "Các cuộc diễn tập bắt đầu trong kỳ có máy thuộc phạm vi báo "
	       "cáo.");
	figure(s, "drill.pcs", "Lượt máy tham gia", (double)part, "máy",
	       "Máy đã nhận lệnh diễn tập (không tính máy mất liên lạc hay bị "
	       "thu hồi), cộng qua các cuộc.");
	figure(s, "drill.detection_rate", "Tỷ lệ phát hiện",
	       part ? pct((double)detected, (double)part) : NAN, "%",
	       "Máy mà eduwatch phát hiện mẫu diễn tập (%zu) chia cho máy tham "
	       "gia (%zu).", detected, part);
	figure(s, "drill.pass_rate", "Tỷ lệ đạt trọn chuỗi",
	       part ? pct((double)passed, (double)part) : NAN, "%",
	       "Máy chạy đủ chuỗi: cài mẫu, phát hiện, cảnh báo, chuyển SOC, "
	       "dọn dẹp có kiểm chứng (%zu), chia cho máy tham gia (%zu).",
	       passed, part);
	return 0;
}

struct check_count {
	char id[64];
	long long n;
};

struct fail_acc {
	struct build *b;
	struct check_count c[64];
	size_t nc;
	long long hosts;
};

static void on_day_host(void *arg, const struct store_day_host *d)
{
	struct fail_acc *f = arg;
	if (find_school(f->b, d->school) == NULL)
		return;
	f->hosts++;
	const char *p = d->failed;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		size_t i;
		for (i = 0; i < f->nc; i++)
			if (strlen(f->c[i].id) == n &&
			    memcmp(f->c[i].id, p, n) == 0)
				break;
		if (i == f->nc && f->nc < 64 && n < sizeof(f->c[0].id)) {
			snprintf(f->c[i].id, sizeof(f->c[i].id), "%.*s", (int)n,
				 p);
			f->nc++;
		}
		if (i < f->nc)
			f->c[i].n++;
		p += n;
		if (*p == ',')
			p++;
	}
}

static int cmp_check(const void *a, const void *b)
{
	const struct check_count *x = a, *y = b;
	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return strcmp(x->id, y->id);
}

static int section_compliance(struct report *r, struct build *b,
			      struct store *st, const struct report_options *o)
{
	struct report_section *s = &r->sections[SEC_COMPLIANCE];
	struct day_acc *first = day_at(b, r->first_day);
	struct day_acc *end = day_at(b, r->last_day);
	double start_score =
		first && first->pcs_w ? round2(first->score_w / first->pcs_w)
				      : NAN;
	double end_score =
		end && end->pcs_w ? round2(end->score_w / end->pcs_w) : NAN;
	figure(s, "comp.score_start", "Điểm tuân thủ đầu kỳ", start_score,
	       "điểm",
	       "Điểm các trường ngày %s, bình quân có trọng số là số máy phải "
	       "có; trường chưa có chính sách không tính.",
	       r->first_day[0] ? r->first_day : "-");
	figure(s, "comp.score_end", "Điểm tuân thủ cuối kỳ", end_score, "điểm",
	       "Như trên, ngày %s.", r->last_day[0] ? r->last_day : "-");
	figure(s, "comp.trend", "Thay đổi trong kỳ",
	       isfinite(start_score) && isfinite(end_score)
		       ? round2(end_score - start_score)
		       : NAN,
	       "điểm", "Điểm cuối kỳ trừ điểm đầu kỳ.");
	static const char *const cols[] = {"Trường", "Tên trường", "Xã/phường",
					   "Cấp độ", "Điểm"};
	static const bool num[] = {false, false, false, true, true};
	char title[160];
	snprintf(title, sizeof(title), "Trường dưới ngưỡng %.0f điểm (cuối kỳ)",
		 o->threshold);
	struct report_table *t = table(s, "schools_below", title, 5, cols, num);
	long long below = 0;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < b->nschools; i++) {
		const struct school_acc *sa = &b->schools[i];
		if (!r->last_day[0] || strcmp(sa->last.day, r->last_day) != 0 ||
		    sa->last.no_policy || sa->last.score >= o->threshold)
			continue;
		below++;
		rc = row(t, sa->school.code, sa->school.name,
			 sa->school.commune, (double)sa->last.level,
			 round2(sa->last.score));
	}
	figure(s, "comp.schools_below", "Số trường dưới ngưỡng", (double)below,
	       "trường", "Trường có chính sách với điểm ngày %s dưới %.0f.",
	       r->last_day[0] ? r->last_day : "-", o->threshold);
	struct fail_acc *f = alloc_zeroed(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	f->b = b;
	if (rc == 0 && r->last_day[0])
		rc = store_day_hosts(st, r->last_day, on_day_host, f);
	qsort(f->c, f->nc, sizeof(f->c[0]), cmp_check);
	static const char *const fcols[] = {"Tiêu chí", "Số máy không đạt",
					    "Tỷ lệ (%)"};
	static const bool fnum[] = {false, true, true};
	struct report_table *ft = table(s, "checks_failing",
					"Các tiêu chí không đạt nhiều nhất "
					"(cuối kỳ)", 3, fcols, fnum);
	for (size_t i = 0; rc == 0 && i < f->nc && i < 10; i++)
		rc = row(ft, f->c[i].id, (double)f->c[i].n,
			 pct(f->c[i].n, f->hosts));
	alloc_free(f);
	static const char *const tcols[] = {"Ngày", "Điểm tuân thủ",
					    "Tỷ lệ bảo vệ (%)"};
	static const bool tnum[] = {false, true, true};
	struct report_table *tt = table(s, "trend", "Diễn biến theo ngày", 3,
					tcols, tnum);
	for (size_t i = 0; rc == 0 && i < r->npoints; i++)
		rc = row(tt, r->points[i].day, r->points[i].score,
			 r->points[i].av);
	return rc;
}

/* ---- days with data, the summary ----------------------------------------------- */

static void note_missing(struct report *r, struct build *b, size_t upto)
{
	size_t len = 0;
	bool cut = false;
	for (size_t i = 0; i < upto; i++) {
		if (b->days[i].present)
			continue;
		size_t j = i;
		while (j + 1 < upto && !b->days[j + 1].present)
			j++;
		r->missing_count += j - i + 1;
		char a[11], z[11];
		day_add(b->period->from, (int)i, a);
		day_add(b->period->from, (int)j, z);
		if (!cut) {
			int n = i == j ? snprintf(r->missing_days + len,
						  sizeof(r->missing_days) - len,
						  "%s%s", len ? ", " : "", a)
				       : snprintf(r->missing_days + len,
						  sizeof(r->missing_days) - len,
						  "%s%s..%s", len ? ", " : "",
						  a, z);
			if (n < 0 || (size_t)n >= sizeof(r->missing_days) - len) {
				r->missing_days[len] = '\0';
				cut = true;
			} else {
				len += (size_t)n;
			}
		}
		i = j;
	}
}

static void fmt_num(char *out, size_t cap, const struct report_figure *f)
{
	if (f == NULL || f->na)
		snprintf(out, cap, "không có số liệu");
	else
		snprintf(out, cap, "%.2f%s", f->value,
			 strcmp(f->unit, "%") == 0 ? "%" : "");
	/* Vietnamese writes the decimal comma, as the PDF's figures do. */
	char *dot = strchr(out, '.');
	if (dot)
		*dot = ',';
}

static void summarise(struct report *r)
{
	char cov[32], rpo[32], s0[32], s1[32];
	fmt_num(cov, sizeof(cov), report_figure_find(r, "av.coverage_end"));
	fmt_num(rpo, sizeof(rpo), report_figure_find(r, "bak.rpo_end"));
	fmt_num(s0, sizeof(s0), report_figure_find(r, "comp.score_start"));
	fmt_num(s1, sizeof(s1), report_figure_find(r, "comp.score_end"));
	const struct report_figure *inc = report_figure_find(r, "inc.alerts");
	const struct report_figure *open = report_figure_find(r, "inc.open_end");
	const struct report_figure *below =
		report_figure_find(r, "comp.schools_below");
	const struct report_figure *trend = report_figure_find(r, "comp.trend");
	const char *dir = trend == NULL || trend->na ? "không xác định được"
			  : trend->value > 0.005	 ? "tăng"
			  : trend->value < -0.005	 ? "giảm"
							 : "không đổi";
	int n = snprintf(
		r->summary_vi, sizeof(r->summary_vi),
		"Trong kỳ báo cáo từ ngày %s đến ngày %s, tỷ lệ máy tính được "
		"phần mềm diệt virus bảo vệ cuối kỳ đạt %s; tỷ lệ máy đạt yêu "
		"cầu sao lưu (RPO) đạt %s. Điểm tuân thủ chính sách %s, từ %s "
		"đầu kỳ đến %s cuối kỳ; %.0f trường dưới ngưỡng. Hệ thống ghi "
		"nhận %.0f cảnh báo, còn %.0f cảnh báo chưa xử lý xong cuối kỳ.",
		r->period.from, r->period.to, cov, rpo, dir, s0, s1,
		below ? below->value : 0, inc ? inc->value : 0,
		open ? open->value : 0);
	if (n > 0 && (size_t)n < sizeof(r->summary_vi) && r->missing_count)
		snprintf(r->summary_vi + n, sizeof(r->summary_vi) - (size_t)n,
			 " Thiếu số liệu %zu ngày: %s.", r->missing_count,
			 r->missing_days);
}

const struct report_figure *report_figure_find(const struct report *r,
					       const char *key)
{
	for (int s = 0; s < SEC_COUNT; s++)
		for (size_t i = 0; i < r->sections[s].nfigures; i++)
			if (strcmp(r->sections[s].figures[i].key, key) == 0)
				return &r->sections[s].figures[i];
	return NULL;
}

int report_build(struct store *st, const struct report_period *period,
		 const struct report_scope *scope,
		 const struct report_options *o, struct report *r, char *err,
		 size_t errlen)
{
	struct build b = {.period = period, .scope = scope};
	memset(r, 0, sizeof(*r));
	r->period = *period;
	r->scope = *scope;
	r->generated_us = o->now_us;
	snprintf(r->unit_name, sizeof(r->unit_name), "%s",
		 o->unit_name ? o->unit_name : "SỞ GIÁO DỤC VÀ ĐÀO TẠO");
	for (int i = 0; i < SEC_COUNT; i++) {
		r->sections[i].key = sec_keys[i];
		r->sections[i].title_vi = sec_titles[i];
	}
	int rc = store_school_list(st, on_school, &b);
	if (rc == 0)
		rc = b.rc;
	if (rc == 0 && b.nschools == 0 && scope->kind != SCOPE_PROVINCE) {
		snprintf(err, errlen, "no %s '%s' in the store",
			 scope->kind == SCOPE_SCHOOL ? "school" : "commune",
			 scope->key);
		rc = -ENOENT;
		goto fail;
	}
	qsort(b.schools, b.nschools, sizeof(*b.schools), cmp_school);
	b.ndays = (size_t)((period->end_us - period->from_us) / 86400000000LL);
	b.days = alloc_zeroed(b.ndays + 1, sizeof(*b.days));
	if (rc == 0 && b.days == NULL)
		rc = -ENOMEM;
	if (rc == 0)
		rc = store_day_schools(st, period->from, period->to,
				       on_day_school, &b);
	if (rc == 0)
		rc = store_alert_list(st, NULL,
				      scope->kind == SCOPE_SCHOOL ? scope->key
								  : NULL,
				      INT_MAX, on_alert, &b);
	if (rc == 0)
		rc = b.rc;
	if (rc != 0)
		goto fail;
	/* qsort's base must not be NULL, even for no element: a scope with
	 * no alert has no array. */
	if (b.nalerts > 1)
		qsort(b.alerts, b.nalerts, sizeof(*b.alerts), cmp_alert_id);
	/* Days after today are not missing, only not yet. */
	size_t upto = b.ndays;
	if (o->now_us < period->end_us)
		upto = o->now_us <= period->from_us
			       ? 0
			       : (size_t)((o->now_us - period->from_us) /
					  86400000000LL) + 1;
	if (upto > b.ndays)
		upto = b.ndays;
	r->days_expected = upto;
	r->points = alloc_zeroed(b.ndays + 1, sizeof(*r->points));
	if (r->points == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < b.ndays; i++) {
		struct day_acc *d = &b.days[i];
		if (!d->present)
			continue;
		char day[11];
		day_add(period->from, (int)i, day);
		if (r->first_day[0] == '\0')
			snprintf(r->first_day, sizeof(r->first_day), "%s", day);
		snprintf(r->last_day, sizeof(r->last_day), "%s", day);
		r->days_present++;
		struct report_point *p = &r->points[r->npoints++];
		snprintf(p->day, sizeof(p->day), "%s", day);
		p->score = d->pcs_w ? round2(d->score_w / d->pcs_w) : NAN;
		p->av = pct(d->av_ok, d->pcs);
	}
	note_missing(r, &b, upto);
	if ((rc = section_av(r, &b)) != 0 ||
	    (rc = section_classification(r, &b, st)) != 0 ||
	    (rc = section_soc(r, &b, st, o)) != 0 ||
	    (rc = section_incidents(r, &b)) != 0 ||
	    (rc = section_backups(r, &b)) != 0 ||
	    (rc = section_drills(r, &b, st)) != 0 ||
	    (rc = section_compliance(r, &b, st, o)) != 0)
		goto fail;
	summarise(r);
	alloc_free(b.schools);
	alloc_free(b.days);
	alloc_free(b.alerts);
	return 0;
fail:
	if (rc != -ENOENT)
		snprintf(err, errlen, "cannot compute the report: %s",
			 uv_strerror(rc));
	alloc_free(b.schools);
	alloc_free(b.days);
	alloc_free(b.alerts);
	report_free(r);
	return rc;
}

void report_free(struct report *r)
{
	for (int s = 0; s < SEC_COUNT; s++)
		for (size_t t = 0; t < r->sections[s].ntables; t++) {
			struct report_table *tb = &r->sections[s].tables[t];
			for (size_t i = 0; i < tb->nrows * tb->ncols; i++)
				alloc_free(tb->cells[i].text);
			alloc_free(tb->cells);
			tb->cells = NULL;
			tb->nrows = tb->caprows = 0;
		}
	alloc_free(r->points);
	r->points = NULL;
	r->npoints = 0;
}
