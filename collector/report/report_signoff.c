/* report_signoff: rendering to a file, and the sign-off that freezes a
 * report, shared by the command line (report sign) and the console. */
#include "collector/report/report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"

int report_render(const struct report *r, const char *format,
		  const char *path, const char *fonts_dir, char *err,
		  size_t errlen)
{
	if (strcmp(format, "pdf") == 0)
		return report_write_pdf(r, path, fonts_dir, err, errlen);
	if (strcmp(format, "xlsx") == 0)
		return report_write_xlsx(r, path, err, errlen);
	FILE *f = fopen(path, "we");
	if (f == NULL) {
		snprintf(err, errlen, "cannot create %s", path);
		return -errno;
	}
	int rc = strcmp(format, "csv") == 0 ? report_write_csv(r, f)
					    : report_write_json(r, f);
	if (fclose(f) != 0 && rc == 0)
		rc = -EIO;
	if (rc != 0)
		snprintf(err, errlen, "cannot write %s", path);
	return rc;
}

struct newest_state {
	bool found;
	int version;
	char state[12];
};

static void on_newest(void *arg, const struct store_report *r)
{
	struct newest_state *n = arg;
	if (n->found)
		return;
	n->found = true;
	n->version = r->version;
	snprintf(n->state, sizeof(n->state), "%s", r->state);
}

int report_sign_store(struct store *st, const struct report_period *p,
		      const struct report_scope *s,
		      const struct report_options *o,
		      struct report_signoff *so, char *err, size_t errlen)
{
	static const char *const exts[] = {"xlsx", "csv", "json"};
	struct newest_state n = {.found = false};
	struct report r;
	char dir[600], base[800];
	char *json = NULL;
	size_t len;
	if (store_report_list(st, p->id, s->id, on_newest, &n) != 0) {
		snprintf(err, errlen, "cannot read the stored reports");
		return -EIO;
	}
	if (n.found && strcmp(n.state, "signed") == 0) {
		snprintf(err, errlen, "%s %s version %d is signed already and "
			 "cannot be signed again; a correction is a new "
			 "version: draft it, then sign that", p->id, s->id,
			 n.version);
		so->version = n.version;
		return -EALREADY;
	}
	/* The numbers are computed once more now and frozen with the files
	 * rendered from them. */
	int rc = report_draft_store(st, p, s, o, so->remarks, &r, &so->id, err,
				    errlen);
	if (rc != 0)
		return rc;
	so->version = r.version;
	snprintf(r.state, sizeof(r.state), "signed");
	snprintf(r.number, sizeof(r.number), "%" PRIu64 "/BC-ATTT", so->id);
	snprintf(dir, sizeof(dir), "%s/reports", so->state_dir);
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		report_free(&r);
		snprintf(err, errlen, "cannot create %s", dir);
		return -EIO;
	}
	snprintf(base, sizeof(base), "%s/report-%" PRIu64 "-%s-v%d", dir,
		 so->id, p->id, r.version);
	snprintf(so->pdf, sizeof(so->pdf), "%s.pdf", base);
	rc = report_render(&r, "pdf", so->pdf, so->fonts_dir, err, errlen);
	for (size_t i = 0; rc == 0 && i < 3; i++) {
		char other[900];
		snprintf(other, sizeof(other), "%s.%s", base, exts[i]);
		rc = report_render(&r, exts[i], other, so->fonts_dir, err,
				   errlen);
	}
	if (rc == 0)
		rc = report_sign_file(so->pdf, so->key, p->id, s->id, r.version,
				      so->sha256, err, errlen);
	if (rc == 0 && (rc = report_json_string(&r, &json, &len)) == 0)
		rc = store_report_sign(st, so->id, so->by, so->pdf, so->sha256,
				       json);
	alloc_free(json);
	report_free(&r);
	if (rc == -EALREADY)
		snprintf(err, errlen, "signed by someone else in the meantime; "
			 "nothing changed");
	else if (rc != 0 && err[0] == '\0')
		snprintf(err, errlen, "cannot sign the report");
	return rc;
}
