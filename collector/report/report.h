/* report: the six-monthly and annual information-security reports.
 *
 * One model, rendered four ways. report_build() computes every figure of
 * a period and scope from the store (the daily history of the snapshot,
 * the register, alerts and dead letters), each with a sentence saying how
 * it was computed; JSON, CSV, XLSX and PDF are renderings of that model
 * and compute nothing. A console page renders the same model (its JSON
 * or the struct).
 *
 * Periods (defaults; struct report_calendar makes them configurable):
 *   "2026-H1": six-monthly, 1 Dec 2025 .. 31 May 2026, due 5 Jun 2026;
 *   "2026":    annual,      1 Dec 2025 .. 30 Nov 2026, due 5 Dec 2026.
 * Scopes: "province", "commune:NAME", "school:CODE".
 *
 * Sign-off (report_sign.c) freezes a report: its model is stored, its PDF
 * archived with its SHA-256 and a signature by the collector's CA key in
 * FILE.sig beside it, which report_verify_file() checks. */
#ifndef EDUWATCH_REPORT_H
#define EDUWATCH_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>

#include "collector/store.h"

/* ---- periods and scopes --------------------------------------------------- */

/* Month/day of each period's start, end and deadline. The start lies in
 * the year before the period's year when its month is after the end's. */
struct report_calendar {
	int half_start_m, half_start_d, half_end_m, half_end_d;
	int half_due_m, half_due_d;
	int year_start_m, year_start_d, year_end_m, year_end_d;
	int year_due_m, year_due_d;
	int draft_days_before; /* serve drafts this many days before due */
};

void report_calendar_default(struct report_calendar *cal);
/* From collector.yaml's "MM-DD..MM-DD due MM-DD" for each period. The
 * deadline must come after the end (within the following year). */
int report_calendar_parse(const char *six_monthly, const char *annual,
			  int draft_days_before, struct report_calendar *out,
			  char *err, size_t errlen);

struct report_period {
	char id[16];   /* "2026-H1" or "2026" */
	bool annual;
	int year;
	char from[11]; /* YYYY-MM-DD, inclusive */
	char to[11];
	char due[11];
	int64_t from_us, end_us; /* [from 00:00, day after to 00:00) UTC */
};

/* Parses "YYYY-H1" or "YYYY" (2000..2099). 0 or -EINVAL with err. */
int report_period_parse(const char *text, const struct report_calendar *cal,
			struct report_period *out, char *err, size_t errlen);

/* Rewrites, in place, every ISO date ("YYYY-MM-DD", standing alone: no
 * letter or digit touching it) in text to the Vietnamese administrative
 * form "DD/MM/YYYY", which has the same length. The PDF prints its dates
 * so; the model, JSON, CSV and XLSX keep ISO dates for machines. */
void report_dates_vn(char *text);

enum report_scope_kind { SCOPE_PROVINCE, SCOPE_COMMUNE, SCOPE_SCHOOL };

struct report_scope {
	enum report_scope_kind kind;
	char key[STORE_NAME_MAX + 1]; /* the commune or school; "" */
	char id[STORE_NAME_MAX + 16];  /* canonical: "commune:NAME" */
};

/* Parses "province", "commune:NAME" (valid UTF-8, no control characters)
 * or "school:CODE". 0 or -EINVAL with err. */
int report_scope_parse(const char *text, struct report_scope *out, char *err,
		       size_t errlen);

/* ---- the model ---------------------------------------------------------------- */

#define REPORT_TABLE_COLS 8
#define REPORT_TEXT_MAX 2048

/* A number, or "not available" (na) with the method saying why. */
struct report_figure {
	const char *key;      /* stable: "av.coverage_end" */
	char label_vi[160];
	double value;
	bool na;
	const char *unit;     /* "%", "PC", "giờ", "" */
	char method[480];     /* how it was computed, in Vietnamese */
};

/* A cell is text, or a number when its column is numeric; a numeric cell
 * may be empty (no data). */
struct report_cell {
	char *text; /* owned; NULL for a number */
	double num;
	bool empty;
};

struct report_table {
	const char *key;
	char title_vi[160];
	size_t ncols;
	const char *cols[REPORT_TABLE_COLS];
	bool numeric[REPORT_TABLE_COLS];
	size_t nrows, caprows;
	struct report_cell *cells; /* nrows x ncols */
};

enum report_section_id {
	SEC_AV,
	SEC_CLASSIFICATION,
	SEC_SOC,
	SEC_INCIDENTS,
	SEC_BACKUPS,
	SEC_DRILLS,
	SEC_COMPLIANCE,
	SEC_COUNT
};

struct report_section {
	const char *key;
	const char *title_vi;
	char note_vi[400];
	size_t nfigures;
	struct report_figure figures[16];
	size_t ntables;
	struct report_table tables[6];
};

/* One point of a trend chart. */
struct report_point {
	char day[11];
	double score;	 /* compliance of the scope that day */
	double av;	 /* antivirus coverage, % */
};

struct report {
	struct report_period period;
	struct report_scope scope;
	char unit_name[STORE_NAME_MAX + 1]; /* the issuing unit */
	char number[64];		    /* "12/BC-SGDĐT" style, set on sign */
	int64_t generated_us;
	int version;
	char state[12]; /* "draft", "signed", or "" when not stored */
	char first_day[11], last_day[11]; /* with data; "" when none */
	size_t days_expected, days_present;
	char missing_days[1024]; /* ranges "2026-01-03..2026-01-05, ..." */
	size_t missing_count;
	char summary_vi[REPORT_TEXT_MAX];
	char remarks[REPORT_TEXT_MAX];
	size_t npoints;
	struct report_point *points;
	struct report_section sections[SEC_COUNT];
};

struct report_options {
	double threshold; /* compliance below it is listed; default 80 */
	size_t forward_dests; /* SOC destinations configured */
	/* their names (forward_dests of them), or NULL when not known: then
	 * every destination in the records counts as configured */
	const char *const *forward_dest_names;
	const char *unit_name; /* issuing unit; NULL: a default */
	int64_t now_us;
};

/* Computes the model. Returns 0, -ENOENT for an unknown school or commune
 * (err says which), or a negative errno. */
int report_build(struct store *st, const struct report_period *period,
		 const struct report_scope *scope,
		 const struct report_options *opts, struct report *out,
		 char *err, size_t errlen);
void report_free(struct report *r);

/* Finds a figure by key; NULL when there is none. */
const struct report_figure *report_figure_find(const struct report *r,
					       const char *key);

/* ---- renderings ------------------------------------------------------------- */

/* The whole model as one JSON object. */
int report_write_json(const struct report *r, FILE *f);
/* Every table (and the figures as one table), one CSV document with a
 * "table" column first; RFC 4180. */
int report_write_csv(const struct report *r, FILE *f);
/* One sheet per section, numbers as numbers. */
int report_write_xlsx(const struct report *r, const char *path, char *err,
		      size_t errlen);
/* An administrative document (Decree 30/2020 style) in A4. fonts_dir
 * holds the font files named in report_pdf.c (Debian's
 * fonts-liberation2 by default). */
int report_write_pdf(const struct report *r, const char *path,
		     const char *fonts_dir, char *err, size_t errlen);

/* The default folder of the embedded fonts. */
#define REPORT_FONTS_DIR "/usr/share/fonts/truetype/liberation2"

/* ---- sign-off ------------------------------------------------------------------- */

/* Writes path.sig: the file's SHA-256 and an Ed25519/ECDSA/RSA signature
 * over it by key, with the period, scope and version. sha256_hex gets
 * the file's hash. */
int report_sign_file(const char *path, EVP_PKEY *key, const char *period,
		     const char *scope, int version, char sha256_hex[65],
		     char *err, size_t errlen);
/* Checks path against path.sig with the CA certificate (PEM file).
 * 0 when both the hash and the signature hold; -EBADMSG with err saying
 * what does not. */
int report_verify_file(const char *path, const char *ca_cert_path, char *err,
		       size_t errlen);

#endif

/* ---- stored reports and deadlines (report_store.c) ------------------------------ */

/* The model as one JSON string (allocated; alloc_free). */
int report_json_string(const struct report *r, char **out, size_t *len);

/* Builds the model and stores it as the period and scope's draft (a new
 * version when the newest is signed: a correction naming it). remarks
 * NULL keeps the draft's own. Fills r (report_free it). */
int report_draft_store(struct store *st, const struct report_period *period,
		       const struct report_scope *scope,
		       const struct report_options *opts, const char *remarks,
		       struct report *r, uint64_t *id, char *err,
		       size_t errlen);

/* What serve does once in a while (report_tick): drafts the province's
 * reports whose deadline is within cal->draft_days_before days, and
 * raises one reminder alert per period that is past its deadline with no
 * signed version. Returns 0 or a negative errno. */
int report_tick(struct store *st, const struct report_calendar *cal,
		const struct report_options *opts, int *drafted,
		int *reminded);

/* ---- rendering to a file and sign-off (report_signoff.c) ------------------------ */

/* Renders r as format (pdf, xlsx, csv, json) into path. fonts_dir: see
 * report_write_pdf. 0 or -errno with err. */
int report_render(const struct report *r, const char *format,
		  const char *path, const char *fonts_dir, char *err,
		  size_t errlen);

struct report_signoff {
	const char *by;	       /* who signs it off, for the store */
	const char *remarks;   /* NULL: the draft's */
	const char *state_dir; /* files go to state_dir/reports */
	const char *fonts_dir;
	EVP_PKEY *key; /* the CA key that signs the PDF */
	/* filled */
	uint64_t id;
	int version;
	char pdf[900];
	char sha256[65];
};

/* Computes the period and scope's numbers once more, stores them as the
 * draft, renders PDF, XLSX, CSV and JSON to state_dir/reports, signs the
 * PDF and freezes the report. -EALREADY (with err) when its newest
 * version is signed already; 0 or -errno with err. */
int report_sign_store(struct store *st, const struct report_period *p,
		      const struct report_scope *s,
		      const struct report_options *o,
		      struct report_signoff *so, char *err, size_t errlen);
