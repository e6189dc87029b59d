/* score_print: the score report as text for officers and as JSON. */
#include <string.h>

#include "collector/score.h"
#include "common/jsonout.h"
#include "common/textsafe.h"
#include "common/timeutil.h"

/* Room for n bytes once escaped (at most 4 bytes out per byte in). Names
 * and evidence come from PCs and officers: escaped before they reach a
 * terminal, so that none can repaint it or forge a line. */
#define SAFE_CAP(n) (4 * (n) + 1)
#define SAFE(buf, s) textsafe_str(buf, sizeof(buf), s)

/* Communes in the order their first school comes. */
static size_t communes(const struct score_report *r, const char **out,
		       size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < r->nschools; i++) {
		const char *c = r->schools[i].school.commune;
		size_t j;
		for (j = 0; j < n; j++)
			if (strcmp(out[j], c) == 0)
				break;
		if (j == n && n < cap)
			out[n++] = c;
	}
	return n;
}

static void text_school(FILE *f, const struct school_score *s)
{
	char code[SAFE_CAP(sizeof(s->school.code))];
	char name[SAFE_CAP(sizeof(s->school.name))];
	if (s->no_policy) {
		fprintf(f, "  %-8s %-32s level %d  not scored: no policy for "
			   "level %d\n",
			SAFE(code, s->school.code), SAFE(name, s->school.name),
			s->school.level, s->school.level);
		return;
	}
	fprintf(f, "  %-8s %-32s level %d  %5.1f%%  %d PCs: %d reporting, %d "
		   "stale, %d missing\n",
		SAFE(code, s->school.code), SAFE(name, s->school.name),
		s->school.level, s->score, s->pcs, s->fresh, s->stale,
		s->missing);
}

static void text_hosts(FILE *f, const struct school_score *s)
{
	for (size_t h = 0; h < s->nhosts; h++) {
		const struct host_score *hs = &s->hosts[h];
		char seen[32], host[SAFE_CAP(sizeof(hs->hostname))];
		char agent[SAFE_CAP(sizeof(hs->agent))];
		timeutil_format_us(hs->last_seen_us, seen, sizeof(seen));
		fprintf(f, "\n  %s (%s)  %.1f%%%s, last seen %s\n",
			SAFE(host, hs->hostname), SAFE(agent, hs->agent),
			hs->score,
			hs->stale ? " as last reported, counted as 0: stale" : "",
			hs->last_seen_us ? seen : "never");
		for (size_t i = 0; i < hs->nresults; i++) {
			const struct check_result *cr = &hs->results[i];
			if (cr->pass)
				continue;
			fprintf(f, "    FAIL %-20s weight %lld  %s\n", cr->check->id,
				cr->check->weight, cr->check->title_en);
			char evidence[SAFE_CAP(sizeof(cr->evidence))];
			fprintf(f, "         evidence: %s\n",
				SAFE(evidence, cr->evidence));
			fprintf(f, "         fix: %s\n", cr->check->remediation_en);
		}
	}
	if (s->missing > 0)
		fprintf(f, "\n  %d PC(s) expected by the school's inventory never "
			   "enrolled: each counts as 0\n",
			s->missing);
}

static void json_kv_str(FILE *f, const char *key, const char *val, bool comma)
{
	fprintf(f, "%s\"%s\":", comma ? "," : "", key);
	json_print_string(f, val);
}

static void json_school(FILE *f, const struct school_score *s, bool hosts)
{
	fputc('{', f);
	json_kv_str(f, "code", s->school.code, false);
	json_kv_str(f, "name", s->school.name, true);
	json_kv_str(f, "commune", s->school.commune, true);
	fprintf(f, ",\"level\":%d,\"scored\":%s,\"score\":%.2f,\"pcs\":%d,"
		   "\"expected\":%d,\"enrolled\":%d,\"reporting\":%d,\"stale\":%d,"
		   "\"missing\":%d",
		s->school.level, s->no_policy ? "false" : "true", s->score, s->pcs,
		s->school.expected_pcs, s->enrolled, s->fresh, s->stale,
		s->missing);
	if (hosts) {
		fputs(",\"hosts\":[", f);
		for (size_t h = 0; h < s->nhosts; h++) {
			const struct host_score *hs = &s->hosts[h];
			fprintf(f, "%s{", h ? "," : "");
			json_kv_str(f, "agent", hs->agent, false);
			json_kv_str(f, "hostname", hs->hostname, true);
			fprintf(f, ",\"last_seen_us\":%lld,\"stale\":%s,"
				   "\"score\":%.2f,\"checks\":[",
				(long long)hs->last_seen_us,
				hs->stale ? "true" : "false", hs->score);
			for (size_t i = 0; i < hs->nresults; i++) {
				const struct check_result *cr = &hs->results[i];
				fprintf(f, "%s{", i ? "," : "");
				json_kv_str(f, "id", cr->check->id, false);
				fprintf(f, ",\"pass\":%s,\"weight\":%lld",
					cr->pass ? "true" : "false",
					cr->check->weight);
				json_kv_str(f, "control", cr->check->control, true);
				json_kv_str(f, "title_vi", cr->check->title_vi, true);
				json_kv_str(f, "title_en", cr->check->title_en, true);
				json_kv_str(f, "evidence", cr->evidence, true);
				if (!cr->pass) {
					json_kv_str(f, "remediation_vi",
						    cr->check->remediation_vi, true);
					json_kv_str(f, "remediation_en",
						    cr->check->remediation_en, true);
				}
				fputc('}', f);
			}
			fputs("]}", f);
		}
		fputc(']', f);
	}
	fputc('}', f);
}

void score_print(FILE *f, const struct score_report *r, const char *commune,
		 const char *school, bool json)
{
	const char *names[2048];
	size_t ncommunes = communes(r, names, sizeof(names) / sizeof(names[0]));
	if (json) {
		fprintf(f, "{\"province\":{\"score\":%.2f,\"pcs\":%d},"
			   "\"communes\":[",
			r->province, r->province_pcs);
		bool first = true;
		for (size_t i = 0; i < ncommunes; i++) {
			if (commune && strcmp(names[i], commune) != 0)
				continue;
			int pcs;
			double sc = score_rollup(r, names[i], &pcs);
			fprintf(f, "%s{", first ? "" : ",");
			json_kv_str(f, "commune", names[i], false);
			fprintf(f, ",\"score\":%.2f,\"pcs\":%d}", sc, pcs);
			first = false;
		}
		fputs("],\"schools\":[", f);
		first = true;
		for (size_t i = 0; i < r->nschools; i++) {
			const struct school_score *s = &r->schools[i];
			if (commune && strcmp(s->school.commune, commune) != 0)
				continue;
			if (!first)
				fputc(',', f);
			json_school(f, s, school != NULL);
			first = false;
		}
		fputs("]}\n", f);
		return;
	}
	if (school == NULL && commune == NULL)
		fprintf(f, "province: %.1f%% (%d PCs)\n", r->province,
			r->province_pcs);
	for (size_t i = 0; i < ncommunes; i++) {
		if (commune && strcmp(names[i], commune) != 0)
			continue;
		int pcs;
		double sc = score_rollup(r, names[i], &pcs);
		char name[SAFE_CAP(STORE_NAME_MAX + 1)];
		if (school == NULL)
			fprintf(f, "commune %s: %.1f%% (%d PCs)\n",
				SAFE(name, names[i]), sc, pcs);
		for (size_t s = 0; s < r->nschools; s++)
			if (strcmp(r->schools[s].school.commune, names[i]) == 0)
				text_school(f, &r->schools[s]);
	}
	if (school && r->nschools == 1)
		text_hosts(f, &r->schools[0]);
}
