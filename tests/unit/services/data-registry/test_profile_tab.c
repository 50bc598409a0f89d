/* Unit tests for the tabular profile builder (profile_tab.c, profile_col.c): a CSV the
 * test writes (numbers with pandas' missing markers, a categorical column, a text
 * column, a column that turns non-numeric late, an all-missing one, a label column) and
 * sklearn's wine CSV are fed row by row, and every column's type and statistics are
 * compared with pandas and numpy computed at test time by Debian's /usr/bin/python3
 * (read_csv with float_precision="round_trip", so both sides hold the same doubles).
 * Rows are split on ',' here: the test's files hold no quoted fields. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http.h"
#include "profile.h"
#include "stats/stats.h"
#include "harness_util.h"

static char *tmp_path(const char *name)
{
	const char *dir = getenv("LATHE_TEST_TMP");
	char *p;
	ck_assert(asprintf(&p, "%s/proftab-%d-%s", dir ? dir : "/tmp", (int)getpid(), name) > 0);
	return p;
}

/* What pandas and numpy say about the CSV at path: one object per column. */
static const char REFERENCE_PY[] =
	"import sys, json, warnings, numpy as np, pandas as pd\n"
	"warnings.simplefilter('ignore')\n"
	"df = pd.read_csv(sys.argv[1], float_precision='round_trip', dtype=None)\n"
	"label = sys.argv[2] if len(sys.argv) > 2 else None\n"
	"def num(v):\n"
	"    v = float(v)\n"
	"    return None if np.isnan(v) else v\n"
	"cols = []\n"
	"for name in df.columns:\n"
	"    s = df[name]\n"
	"    v = s.dropna()\n"
	"    o = {'name': name, 'count': int(len(v)), 'missing': int(s.isna().sum()), 'distinct': int(v.nunique())}\n"
	"    if pd.api.types.is_numeric_dtype(s):\n"
	"        o['type'] = 'numeric'\n"
	"        x = v.to_numpy(dtype=float)\n"
	"        o.update(min=num(x.min()) if len(x) else None, max=num(x.max()) if len(x) else None,\n"
	"                 mean=num(x.mean()) if len(x) else None, std=num(s.std()))\n"
	"        if len(x):\n"
	"            q = np.quantile(x, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])\n"
	"            o['quantiles'] = dict(zip(['p1','p5','p25','p50','p75','p95','p99'], map(float, q)))\n"
	"            c, e = np.histogram(x, bins=20)\n"
	"            o['histogram'] = {'edges': list(map(float, e)), 'counts': list(map(int, c))}\n"
	"    else:\n"
	"        n = o['distinct']\n"
	"        o['type'] = 'categorical' if n <= 50 or n <= 0.05 * len(v) else 'text'\n"
	"        if o['type'] == 'categorical':\n"
	"            vc = sorted(v.astype(str).value_counts().items(), key=lambda kv: (-kv[1], kv[0].encode()))\n"
	"            top = vc[:100]\n"
	"            o['values'] = {'top': [{'value': k, 'count': int(c)} for k, c in top],\n"
	"                           'other': int(len(v) - sum(c for _, c in top))}\n"
	"    cols.append(o)\n"
	"classes = None\n"
	"if label:\n"
	"    vc = df[label].dropna().astype(str).value_counts()\n"
	"    classes = [{'name': k, 'count': int(vc[k])} for k in sorted(vc.index, key=lambda k: k.encode())]\n"
	"json.dump({'items': len(df), 'columns': cols, 'classes': classes}, sys.stdout)\n";

static json_t *reference(const char *csv, const char *label)
{
	char *script = tmp_path("ref.py"), *out = tmp_path("ref.json"), *cmd;
	FILE *f = fopen(script, "w");
	ck_assert_ptr_nonnull(f);
	fputs(REFERENCE_PY, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert(asprintf(&cmd, "/usr/bin/python3 '%s' '%s' %s%s%s > '%s'", script, csv, label ? "'" : "",
			   label ? label : "", label ? "'" : "", out) > 0);
	ck_assert_int_eq(system(cmd), 0);
	json_error_t e;
	json_t *ref = json_load_file(out, 0, &e);
	ck_assert_msg(ref != NULL, "reference JSON: %s", e.text);
	unlink(script);
	unlink(out);
	free(script);
	free(out);
	free(cmd);
	return ref;
}

/* Splits each line of path on ',' and feeds the builder; the label column's value is
 * the class. Returns the profile. */
static json_t *profile_of(const char *path, const char *label)
{
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	char *fields[64];
	size_t ncols = 0, label_ix = (size_t)-1;
	struct dr_prof_tab *t = NULL;

	while ((len = getline(&line, &cap, f)) > 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		size_t n = 0;
		for (char *p = line;; p++) {
			char *comma = strchr(p, ',');
			fields[n++] = p;
			if (!comma)
				break;
			*comma = 0;
			p = comma;
		}
		if (!t) {
			ncols = n;
			for (size_t i = 0; i < n; i++)
				if (label && strcmp(fields[i], label) == 0)
					label_ix = i;
			t = dr_prof_tab_new((const char *const *)fields, n, label);
			continue;
		}
		ck_assert_uint_eq(n, ncols);
		dr_prof_tab_add(t, (const char *const *)fields, n, label_ix < n ? fields[label_ix] : NULL);
	}
	free(line);
	fclose(f);
	json_t *p = dr_prof_tab_json(t, "0123abcd");
	dr_prof_tab_free(t);
	return p;
}

/* Checks prof, as the daemon will serve it (http_json_text), against
 * proto/profile.schema.json. */
static void schema_check(const json_t *prof)
{
	size_t len;
	char *text = http_json_text(prof, JSON_COMPACT, &len);
	ck_assert_ptr_nonnull(text);
	th_json_schema_check("proto/profile.schema.json", text, len, "the profile");
	free(text);
}

static double real_of(const json_t *v)
{
	return json_is_null(v) ? NAN : json_number_value(v);
}

static void expect_num(const json_t *got, const json_t *want, const char *col, const char *key, double rel)
{
	double g = real_of(got), w = real_of(want);
	ck_assert_msg(got != NULL, "%s: no %s", col, key);
	if (isnan(w)) {
		ck_assert_msg(json_is_null(got), "%s.%s: %g, pandas has none", col, key, g);
		return;
	}
	ck_assert_msg(fabs(g - w) <= rel * fmax(1, fabs(w)), "%s.%s: %.17g, pandas %.17g", col, key, g, w);
}

/* Compares every column and the classes with the reference. */
static void compare(json_t *prof, json_t *ref)
{
	ck_assert_int_eq(json_integer_value(json_object_get(prof, "items")),
			 json_integer_value(json_object_get(ref, "items")));
	ck_assert_str_eq(json_string_value(json_object_get(prof, "format")), "csv");
	json_t *pc = json_object_get(prof, "columns"), *rc = json_object_get(ref, "columns");
	ck_assert_uint_eq(json_array_size(pc), json_array_size(rc));
	for (size_t i = 0; i < json_array_size(rc); i++) {
		json_t *g = json_array_get(pc, i), *w = json_array_get(rc, i);
		const char *name = json_string_value(json_object_get(w, "name"));
		ck_assert_str_eq(json_string_value(json_object_get(g, "name")), name);
		ck_assert_msg(json_equal(json_object_get(g, "type"), json_object_get(w, "type")),
			      "%s: type %s, pandas %s", name, json_string_value(json_object_get(g, "type")),
			      json_string_value(json_object_get(w, "type")));
		const char *ints[] = {"count", "missing", "distinct"};
		for (size_t k = 0; k < 3; k++)
			ck_assert_msg(json_integer_value(json_object_get(g, ints[k])) ==
					      json_integer_value(json_object_get(w, ints[k])),
				      "%s.%s: %lld, pandas %lld", name, ints[k],
				      (long long)json_integer_value(json_object_get(g, ints[k])),
				      (long long)json_integer_value(json_object_get(w, ints[k])));
		ck_assert(json_is_true(json_object_get(g, "distinct_exact")));
		if (strcmp(json_string_value(json_object_get(w, "type")), "numeric") == 0) {
			expect_num(json_object_get(g, "min"), json_object_get(w, "min"), name, "min", 0);
			expect_num(json_object_get(g, "max"), json_object_get(w, "max"), name, "max", 0);
			expect_num(json_object_get(g, "mean"), json_object_get(w, "mean"), name, "mean", 1e-12);
			expect_num(json_object_get(g, "std"), json_object_get(w, "std"), name, "std", 1e-9);
			json_t *wq = json_object_get(w, "quantiles");
			if (!wq) {
				ck_assert(json_is_null(json_object_get(g, "quantiles")));
				ck_assert(json_is_null(json_object_get(g, "histogram")));
				continue;
			}
			ck_assert(json_is_true(json_object_get(g, "quantiles_exact")));
			for (size_t k = 0; k < DR_PROF_NQ; k++) {
				const char *q = dr_prof_quantile_names[k];
				expect_num(json_object_get(json_object_get(g, "quantiles"), q), json_object_get(wq, q),
					   name, q, 0);
			}
			json_t *gh = json_object_get(g, "histogram"), *wh = json_object_get(w, "histogram");
			for (size_t k = 0; k <= DR_PROF_BINS; k++)
				expect_num(json_array_get(json_object_get(gh, "edges"), k),
					   json_array_get(json_object_get(wh, "edges"), k), name, "edge", 0);
			ck_assert_msg(json_equal(json_object_get(gh, "counts"), json_object_get(wh, "counts")),
				      "%s: histogram counts differ", name);
		} else {
			ck_assert_ptr_null(json_object_get(g, "mean"));
			json_t *wv = json_object_get(w, "values"), *gv = json_object_get(g, "values");
			if (!wv) {
				ck_assert_ptr_null(gv);
				continue;
			}
			ck_assert_msg(json_equal(json_object_get(gv, "top"), json_object_get(wv, "top")),
				      "%s: top values differ", name);
			ck_assert_int_eq(json_integer_value(json_object_get(gv, "other")),
					 json_integer_value(json_object_get(wv, "other")));
			ck_assert(json_is_true(json_object_get(gv, "exact")));
		}
	}
	ck_assert_msg(json_equal(json_object_get(prof, "classes"), json_object_get(ref, "classes")), "classes differ");
}

/* ---- cases ------------------------------------------------------------------------ */

START_TEST(written_csv)
{
	char *path = tmp_path("data.csv");
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "x,n,color,note,late,empty,const,label\n");
	static const char *const colors[] = {"red", "green", "blue", "NA", ""};
	static const char *const labels[] = {"cat", "dog", "bird"};
	uint64_t s = 12345;
	for (int i = 0; i < 2000; i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		double u = (double)(s >> 11) / 9007199254740992.0;
		char x[64];
		if (i % 13 == 0)
			snprintf(x, sizeof x, "%s", i % 2 ? "NaN" : "");
		else
			snprintf(x, sizeof x, "%.6g", 100 * u * u - 20);
		fprintf(f, "%s,%d,%s,note %d,%s,%s,%s,%s\n", x, (int)(u * 37) - 5, colors[(s >> 5) % 5], i,
			i == 1999 ? "oops" : "1.5", i % 2 ? "" : "null", "0.1", labels[(s >> 9) % 3]);
	}
	ck_assert_int_eq(fclose(f), 0);
	json_t *prof = profile_of(path, "label"), *ref = reference(path, "label");
	compare(prof, ref);
	schema_check(prof);
	/* spot checks that do not lean on the reference's own choices */
	json_t *cols = json_object_get(prof, "columns");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(cols, 2), "type")), "categorical");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(cols, 3), "type")), "text");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(cols, 4), "type")), "categorical");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(cols, 5), "count")), 0);
	ck_assert(json_real_value(json_object_get(json_array_get(cols, 6), "std")) == 0);
	ck_assert_uint_eq(json_array_size(json_object_get(prof, "classes")), 3);
	json_decref(prof);
	json_decref(ref);
	unlink(path);
	free(path);
}
END_TEST

START_TEST(wine_csv)
{
	/* sklearn's wine data: its first line is a count header; the test gives it names */
	FILE *in = fopen("/usr/lib/python3/dist-packages/sklearn/datasets/data/wine_data.csv", "r");
	ck_assert_msg(in != NULL, "python3-sklearn's wine_data.csv is missing (make deps)");
	char *path = tmp_path("wine.csv");
	FILE *out = fopen(path, "w");
	ck_assert_ptr_nonnull(out);
	char line[4096];
	ck_assert_ptr_nonnull(fgets(line, sizeof line, in));
	for (int i = 0; i < 13; i++)
		fprintf(out, "f%d,", i);
	fprintf(out, "target\n");
	while (fgets(line, sizeof line, in))
		fputs(line, out);
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
	json_t *prof = profile_of(path, "target"), *ref = reference(path, "target");
	compare(prof, ref);
	schema_check(prof);
	ck_assert_int_eq(json_integer_value(json_object_get(prof, "items")), 178);
	json_decref(prof);
	json_decref(ref);
	unlink(path);
	free(path);
}
END_TEST

START_TEST(no_rows_and_no_label)
{
	const char *cols[] = {"a", "b"};
	struct dr_prof_tab *t = dr_prof_tab_new(cols, 2, NULL);
	json_t *p = dr_prof_tab_json(t, "v");
	ck_assert_int_eq(json_integer_value(json_object_get(p, "items")), 0);
	ck_assert(json_is_null(json_object_get(p, "classes")));
	json_t *a = json_array_get(json_object_get(p, "columns"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(a, "type")), "numeric");
	ck_assert(json_is_null(json_object_get(a, "mean")));
	ck_assert(json_is_null(json_object_get(a, "histogram")));
	schema_check(p);
	/* a short row's absent fields are missing; bytes that are not UTF-8 still make JSON */
	const char *row[] = {"\xff\xfe"};
	dr_prof_tab_add(t, row, 1, NULL);
	json_decref(p);
	p = dr_prof_tab_json(t, "v");
	a = json_array_get(json_object_get(p, "columns"), 0);
	json_t *b = json_array_get(json_object_get(p, "columns"), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(b, "missing")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(a, "type")), "categorical");
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(json_object_get(a, "values"), "top"), 0), "value")),
			 "??");
	json_decref(p);
	dr_prof_tab_free(t);
}
END_TEST

START_TEST(value_rules)
{
	double x;
	ck_assert(dr_prof_parse_number(" 1.5 ", &x) && x == 1.5);
	ck_assert(dr_prof_parse_number("-.5e2", &x) && x == -50);
	ck_assert(dr_prof_parse_number("+3", &x) && x == 3);
	ck_assert(!dr_prof_parse_number("0x10", &x));
	ck_assert(!dr_prof_parse_number("inf", &x));
	ck_assert(!dr_prof_parse_number("1e999", &x));
	ck_assert(!dr_prof_parse_number("1,5", &x));
	ck_assert(!dr_prof_parse_number("", &x));
	ck_assert(!dr_prof_parse_number(" ", &x));
	ck_assert(dr_prof_missing(""));
	ck_assert(dr_prof_missing("NA"));
	ck_assert(dr_prof_missing("#N/A"));
	ck_assert(dr_prof_missing("None"));
	ck_assert(!dr_prof_missing(" NA"));
	ck_assert(!dr_prof_missing("na"));
}
END_TEST

static Suite *profile_tab_suite(void)
{
	Suite *s = suite_create("profile_tab");
	TCase *tc = tcase_create("pandas");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, written_csv);
	tcase_add_test(tc, wine_csv);
	tcase_add_test(tc, no_rows_and_no_label);
	tcase_add_test(tc, value_rules);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(profile_tab_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
