/* `lathe drift`: the drift monitor's reports and batch drift from the command line.
 *   lathe drift report ID [--json]
 *       GET /v1/reports/{id}: the model and version, the window, the dataset verdict,
 *       then a table of the features (name, type, method, threshold, score, DRIFT or
 *       ok) and, when the report has one, of the predictions.
 *   lathe drift compare NAME@A NAME@B [--column NAME=METHOD[:THRESHOLD]]...
 *                       [--drift-share X] [--json]
 *       POST /v1/drift with the two data-registry versions as samples ({"dataset":
 *       "NAME@A"}): the drift monitor reads them from the data registry and answers
 *       Evidently's data-drift table, printed as the same table.
 * The tables are aligned by the display width of their cells (UTF-8 code points), so a
 * column name in any script lines up. --json prints the server's answer as it is.
 * LATHE_DRIFT_URL, else LATHE_URL, names the daemon. Results go to stdout, errors to
 * stderr; exit 0, 1 (failure: the server's error quoted) or 2 (usage). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "core/alloc.h"

#define CLI_DRIFT_DEFAULT_URL "http://127.0.0.1:5003"

static const char drift_usage[] =
	"usage: lathe drift <verb> [options]\n"
	"\n"
	"  report ID [--json]\n"
	"      A drift report of a monitor's window: model, version, window, the dataset verdict,\n"
	"      then per feature its type, method, threshold, score and verdict (and the\n"
	"      predictions' when the report has them).\n"
	"  compare NAME@A NAME@B [--column NAME=METHOD[:THRESHOLD]]... [--drift-share X] [--json]\n"
	"      Batch drift of two data-registry versions (A the reference, B the current one;\n"
	"      @REF as in 'lathe data show': a number, an id or id prefix, latest). --column\n"
	"      sets a column's stattest (ks, chisquare, z, wasserstein, jensenshannon, psi,\n"
	"      kl_div, hellinger, TVD) and threshold ('age=psi:0.2', 'age=psi', 'age=:0.01');\n"
	"      --drift-share the share of drifted columns that makes the dataset drift (0.5).\n"
	"\n"
	"Environment: LATHE_DRIFT_URL or LATHE_URL (default " CLI_DRIFT_DEFAULT_URL "),\n"
	"LATHE_TOKEN (sent as a bearer token). Exit status: 0 ok, 1 failure, 2 usage.\n";

static void print_json(const json_t *v)
{
	char *text = json_dumps(v, JSON_INDENT(2));
	printf("%s\n", text ? text : "null");
	free(text);
}

/* --- the table ------------------------------------------------------------------------- */

enum { T_NAME, T_TYPE, T_METHOD, T_THRESHOLD, T_SCORE, T_VERDICT, T_COLS };

static const char *const heads[T_COLS] = {"COLUMN", "TYPE", "METHOD", "THRESHOLD", "SCORE", "DRIFT"};

/* Display width: code points, not bytes (a name in Cyrillic is as wide as its letters). */
static size_t text_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* A threshold as given ("%g"), a score to 4 significant digits; "-" for null. */
static void number_cell(const json_t *v, bool score, char *out, size_t cap)
{
	if (!json_is_number(v) || !isfinite(json_number_value(v)))
		snprintf(out, cap, "-");
	else if (score)
		snprintf(out, cap, "%.4g", json_number_value(v));
	else
		snprintf(out, cap, "%g", json_number_value(v));
}

/* The cells of one ROW of Evidently's table (docs: services/drift-monitor/README.md). */
struct row {
	const char *cell[T_COLS];
	char threshold[32], score[32];
};

static void row_of(json_t *col, struct row *r)
{
	const char *name = json_string_value(json_object_get(col, "column_name"));
	const char *type = json_string_value(json_object_get(col, "column_type"));
	const char *method = json_string_value(json_object_get(col, "stattest_name"));
	number_cell(json_object_get(col, "stattest_threshold"), false, r->threshold, sizeof r->threshold);
	number_cell(json_object_get(col, "drift_score"), true, r->score, sizeof r->score);
	r->cell[T_NAME] = name ? name : "?";
	r->cell[T_TYPE] = type ? type : "?";
	r->cell[T_METHOD] = method ? method : "?";
	r->cell[T_THRESHOLD] = r->threshold;
	r->cell[T_SCORE] = r->score;
	r->cell[T_VERDICT] = json_is_true(json_object_get(col, "drift_detected")) ? "DRIFT" : "ok";
}

static void print_line(const char *const cell[T_COLS], const size_t width[T_COLS])
{
	for (int c = 0; c < T_COLS; c++) {
		fputs(cell[c], stdout);
		if (c + 1 < T_COLS)
			printf("%*s", (int)(width[c] - text_width(cell[c]) + 2), "");
	}
	putchar('\n');
}

/* Prints columns (an array of ROWs) as an aligned table. */
static void print_table(json_t *columns)
{
	size_t n = json_array_size(columns), width[T_COLS], i;
	struct row *rows = core_xcalloc(n ? n : 1, sizeof *rows);
	for (int c = 0; c < T_COLS; c++)
		width[c] = text_width(heads[c]);
	json_t *col;
	json_array_foreach(columns, i, col)
	{
		row_of(col, &rows[i]);
		for (int c = 0; c < T_COLS; c++) {
			size_t w = text_width(rows[i].cell[c]);
			width[c] = w > width[c] ? w : width[c];
		}
	}
	print_line(heads, width);
	for (i = 0; i < n; i++)
		print_line(rows[i].cell, width);
	free(rows);
}

/* "dataset drift: YES (2 of 3 columns drifted: share 0.667 >= drift_share 0.5)" from
 * doc; share and drift (may be NULL) are the report summary's, which win. */
static void print_verdict(json_t *doc, const json_t *share, const json_t *drift)
{
	share = share ? share : json_object_get(doc, "share_of_drifted_columns");
	drift = drift ? drift : json_object_get(doc, "dataset_drift");
	json_t *limit = json_object_get(doc, "drift_share");
	json_t *of = json_object_get(doc, "number_of_columns"),
	       *drifted = json_object_get(doc, "number_of_drifted_columns");
	bool yes = json_is_true(drift);
	char detail[200] = "";
	int n = 0;
	if (json_is_integer(of) && json_is_integer(drifted))
		n += snprintf(detail, sizeof detail, "%lld of %lld columns drifted",
			      (long long)json_integer_value(drifted), (long long)json_integer_value(of));
	if (json_is_number(share))
		n += snprintf(detail + n, sizeof detail - (size_t)n, "%sshare %.3g", n ? ": " : "",
			      json_number_value(share));
	if (json_is_number(share) && json_is_number(limit))
		snprintf(detail + n, sizeof detail - (size_t)n, " %s drift_share %g", yes ? ">=" : "<",
			 json_number_value(limit));
	printf("dataset drift: %s%s%s%s\n", yes ? "YES" : "no", detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
}

/* --- report ------------------------------------------------------------------------------ */

static bool id_valid(const char *s)
{
	return strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

/* A member of the report's window: report.window.<key>, else report.window_<key> (the
 * flat names of the report's columns), else the document's window.<key>. */
static json_t *window_member(json_t *report, json_t *doc, const char *key)
{
	char flat[32];
	snprintf(flat, sizeof flat, "window_%s", key);
	json_t *v = json_object_get(json_object_get(report, "window"), key);
	if (!v)
		v = json_object_get(report, strcmp(key, "rows") == 0 ? "rows" : flat);
	return v ? v : json_object_get(json_object_get(doc, "window"), key);
}

/* "window: 2026-... to 2026-..., 500 rows (a window of 500 rows)". */
static void print_window(json_t *report, json_t *doc)
{
	json_t *dw = json_object_get(doc, "window");
	char from[40], to[40];
	json_t *rows = window_member(report, doc, "rows");
	printf("window:        %s to %s", cli_fmt_ms(window_member(report, doc, "start"), from, sizeof from),
	       cli_fmt_ms(window_member(report, doc, "end"), to, sizeof to));
	if (json_is_integer(rows))
		printf(", %lld rows", (long long)json_integer_value(rows));
	json_t *size = json_object_get(dw, "size"), *seconds = json_object_get(dw, "seconds");
	if (json_is_integer(size))
		printf(" (a window of %lld rows)", (long long)json_integer_value(size));
	else if (json_is_integer(seconds))
		printf(" (a window of %lld s)", (long long)json_integer_value(seconds));
	putchar('\n');
}

/* "lineage: run R, dataset D@V" from the document's lineage, when it has one. */
static void print_lineage(json_t *doc)
{
	json_t *l = json_object_get(doc, "lineage");
	const char *run = json_string_value(json_object_get(l, "run_id"));
	const char *ds = json_string_value(json_object_get(l, "dataset"));
	const char *dv = json_string_value(json_object_get(l, "dataset_version"));
	if (!run && !ds)
		return;
	printf("lineage:       run %s, dataset %s%s%s\n", run ? run : "-", ds ? ds : "-", dv ? "@" : "", dv ? dv : "");
}

static int drift_report(int argc, char **argv, const struct cli_conn *conn)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {0}};
	bool as_json = false;
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (o != 'j')
			return cli_usage_error("drift", NULL, "report: unknown option");
		as_json = true;
	}
	if (argc - optind != 1)
		return cli_usage_error("drift", NULL, "report takes one report ID");
	const char *id = argv[optind];
	if (!id_valid(id))
		return cli_usage_error("drift", NULL, "'%s' is not a report id (32 lower-case hex digits)", id);
	struct core_error err = {{0}};
	long status = 0;
	json_t *body = NULL;
	char path[64];
	snprintf(path, sizeof path, "/v1/reports/%s", id);
	if (cli_http_json(NULL, conn, "GET", path, NULL, &status, &body, &err) != CORE_OK)
		return cli_fail(&err);
	json_t *r = json_object_get(body, "report");
	if (!json_is_object(r)) {
		json_decref(body);
		cli_errorf("the drift monitor answered no report");
		return CLI_EXIT_FAIL;
	}
	if (as_json) {
		print_json(r);
		json_decref(body);
		return CLI_EXIT_OK;
	}
	json_t *doc = json_object_get(r, "result");
	const char *model = json_string_value(json_object_get(r, "model"));
	const char *version = json_string_value(json_object_get(r, "model_version"));
	char created[40];
	printf("report:        %s\n", id);
	printf("model:         %s, version %s\n", model ? model : "?", version ? version : "?");
	const char *monitor = json_string_value(json_object_get(r, "monitor_id"));
	printf("monitor:       %s\n", monitor ? monitor : "?");
	print_window(r, doc);
	printf("created:       %s\n", cli_fmt_ms(json_object_get(r, "created_at"), created, sizeof created));
	print_lineage(doc);
	print_verdict(doc, json_object_get(r, "share_of_drifted_columns"), json_object_get(r, "dataset_drift"));
	json_t *features = json_object_get(doc, "columns");
	if (json_array_size(features)) {
		printf("\nfeatures\n");
		print_table(features);
	} else {
		printf("\nfeatures: none in the report\n");
	}
	json_t *preds = json_object_get(json_object_get(doc, "predictions"), "columns");
	if (json_array_size(preds)) {
		printf("\npredictions\n");
		print_table(preds);
	}
	json_decref(body);
	return CLI_EXIT_OK;
}

/* --- compare ----------------------------------------------------------------------------- */

/* "NAME=METHOD[:THRESHOLD]" (also "NAME=:THRESHOLD") into columns[NAME]. The name is what
 * precedes the last '=' (a method never holds one, a column name may). */
static bool add_column(json_t *columns, const char *arg)
{
	const char *eq = strrchr(arg, '=');
	if (!eq || eq == arg)
		return false;
	const char *spec = eq + 1, *colon = strchr(spec, ':');
	size_t mlen = colon ? (size_t)(colon - spec) : strlen(spec);
	json_t *o = json_object();
	if (mlen)
		json_object_set_new(o, "method", json_stringn(spec, mlen));
	if (colon) {
		char *end = NULL;
		double t = strtod(colon + 1, &end);
		if (!colon[1] || *end || !isfinite(t)) {
			json_decref(o);
			return false;
		}
		json_object_set_new(o, "threshold", json_real(t));
	}
	if (json_object_size(o) == 0) {
		json_decref(o);
		return false;
	}
	char *name = core_xstrndup(arg, (size_t)(eq - arg));
	json_object_set_new(columns, name, o);
	free(name);
	return true;
}

static int drift_compare(int argc, char **argv, const struct cli_conn *conn)
{
	static const struct option opts[] = {{"column", required_argument, NULL, 'c'},
					     {"drift-share", required_argument, NULL, 's'},
					     {"json", no_argument, NULL, 'j'},
					     {0}};
	bool as_json = false;
	json_t *columns = json_object(), *share = NULL;
	int o, rc = CLI_EXIT_USAGE;
	optind = 1;
	while ((o = getopt_long(argc, argv, "c:s:j", opts, NULL)) != -1) {
		char *end = NULL;
		double v = 0;
		switch (o) {
		case 'c':
			if (!add_column(columns, optarg)) {
				cli_usage_error("drift", NULL, "--column takes NAME=METHOD[:THRESHOLD], not '%s'",
						optarg);
				goto out;
			}
			break;
		case 's':
			v = strtod(optarg, &end);
			if (!*optarg || *end || !isfinite(v)) {
				cli_usage_error("drift", NULL, "--drift-share takes a number in (0, 1], not '%s'",
						optarg);
				goto out;
			}
			json_decref(share);
			share = json_real(v);
			break;
		case 'j':
			as_json = true;
			break;
		default:
			cli_usage_error("drift", NULL, "compare: unknown option");
			goto out;
		}
	}
	if (argc - optind != 2) {
		cli_usage_error("drift", NULL,
				"compare takes two versions, NAME@A NAME@B (the reference, then the current one)");
		goto out;
	}
	const char *ref = argv[optind], *cur = argv[optind + 1];
	json_t *req = json_pack("{s:{s:s}, s:{s:s}}", "reference", "dataset", ref, "current", "dataset", cur);
	if (!req) {
		cli_usage_error("drift", NULL, "a version is not valid UTF-8");
		goto out;
	}
	if (json_object_size(columns))
		json_object_set(req, "columns", columns);
	if (share)
		json_object_set(req, "drift_share", share);
	struct core_error err = {{0}};
	long status = 0;
	json_t *answer = NULL;
	enum core_status st = cli_http_json(NULL, conn, "POST", "/v1/drift", req, &status, &answer, &err);
	json_decref(req);
	if (st != CORE_OK) {
		rc = cli_fail(&err);
		goto out;
	}
	if (as_json) {
		print_json(answer);
	} else {
		printf("reference:     %s\ncurrent:       %s\n", ref, cur);
		print_verdict(answer, NULL, NULL);
		putchar('\n');
		print_table(json_object_get(answer, "columns"));
	}
	json_decref(answer);
	rc = CLI_EXIT_OK;
out:
	json_decref(columns);
	json_decref(share);
	return rc;
}

int cli_drift_main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(drift_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(drift_usage, stdout);
		return CLI_EXIT_OK;
	}
	struct core_error err = {{0}};
	struct cli_conn conn;
	if (cli_conn_init(&conn, "LATHE_DRIFT_URL", CLI_DRIFT_DEFAULT_URL, &err) != CORE_OK)
		return cli_fail(&err);
	if (strcmp(argv[1], "report") == 0)
		return drift_report(argc - 1, argv + 1, &conn);
	if (strcmp(argv[1], "compare") == 0)
		return drift_compare(argc - 1, argv + 1, &conn);
	cli_errorf("'%s' is not a drift verb (report, compare)", argv[1]);
	fputs("try 'lathe drift --help'\n", stderr);
	return CLI_EXIT_USAGE;
}
