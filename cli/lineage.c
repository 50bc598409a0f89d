/* `lathe lineage`: where a model version came from, as the trainer's GET /v1/lineage
 * walks it across the services, printed as a tree.
 *   lathe lineage MODEL[@VERSION] [--request-id ID] [--json]
 *       VERSION a number or an alias (default champion): the version, its run (and the
 *       run's page in the tracker), the job that trained it, the dataset version with
 *       its split, and the drift monitor's reports of the version; --request-id puts
 *       one prediction at the root.
 *   lathe lineage --dataset NAME@REF [--json]
 *       The dataset version and the model versions trained on it.
 * A node a service did not answer for reads "unavailable" with the reason. --json
 * prints the server's answer as it is. LATHE_TRAINER_URL, else LATHE_URL, names the
 * trainer. Exit 0, 1 (failure: the server's error quoted) or 2 (usage). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "core/alloc.h"

#define CLI_LINEAGE_DEFAULT_URL "http://127.0.0.1:5004"
#define METRICS_SHOWN           6

static const char lineage_usage[] =
	"usage: lathe lineage MODEL[@VERSION] [--request-id ID] [--json]\n"
	"       lathe lineage --dataset NAME@REF [--json]\n"
	"\n"
	"  Where a model version came from: its run, the training job, the dataset version\n"
	"  and split it was trained on, and its drift reports. VERSION is a number or an\n"
	"  alias (default champion); --request-id ID shows one prediction at the root.\n"
	"  --dataset lists the model versions trained on a dataset version.\n"
	"  --json prints the trainer's answer as it is.\n"
	"\n"
	"Environment: LATHE_TRAINER_URL or LATHE_URL (default " CLI_LINEAGE_DEFAULT_URL "),\n"
	"LATHE_TOKEN (sent as a bearer token). Exit status: 0 ok, 1 failure, 2 usage.\n";

static const char *str(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "-";
}

/* Prints "unavailable: <why>" after a node's head when the service did not answer;
 * true when it did so. */
static bool unavailable(const json_t *node)
{
	const char *why = json_string_value(json_object_get(node, "unavailable"));
	if (why)
		printf("  unavailable: %s", why);
	return why != NULL;
}

/* "  [champion, challenger]" when the version has aliases. */
static void print_aliases(const json_t *mv)
{
	json_t *aliases = json_object_get(mv, "aliases"), *a;
	size_t i;
	if (!json_array_size(aliases))
		return;
	printf("  [");
	json_array_foreach(aliases, i, a) printf("%s%s", i ? ", " : "", json_string_value(a));
	printf("]");
}

static void model_line(const json_t *mv, const json_t *run)
{
	printf("model %s v%s", str(mv, "name"), str(mv, "version"));
	print_aliases(mv);
	if (!unavailable(mv)) {
		printf("  run %s", str(mv, "run_id"));
		if (json_object_get(run, "url"))
			printf("  %s", str(run, "url"));
	}
	printf("\n");
}

static void job_line(const char *ind, const json_t *job)
{
	printf("%s├─ job", ind);
	if (unavailable(job)) {
		printf("\n");
		return;
	}
	json_t *spec = json_object_get(job, "spec");
	printf(" %s %s  %s", str(job, "id"), str(job, "status"), str(json_object_get(spec, "model"), "type"));
	if (json_is_integer(json_object_get(spec, "epochs")))
		printf(", %lld epochs", (long long)json_integer_value(json_object_get(spec, "epochs")));
	json_t *lr = json_object_get(json_object_get(spec, "optimizer"), "lr");
	if (json_is_number(lr))
		printf(", lr %g", json_number_value(lr));
	printf("\n");
}

/* The run's metrics that tell most, in this order, then others up to METRICS_SHOWN. */
static const char *const preferred[] = {"accuracy", "val_accuracy", "test_accuracy", "val_loss", "test_loss",
					"rmse",     "val_rmse",     "test_rmse",     "r2",       NULL};

static void run_line(const char *ind, const json_t *run)
{
	printf("%s├─ run", ind);
	if (!unavailable(run)) {
		json_t *metrics = json_object_get(run, "metrics"), *v;
		const char *k;
		int shown = 0;
		for (size_t i = 0; preferred[i] && shown < METRICS_SHOWN; i++)
			if (json_is_number(v = json_object_get(metrics, preferred[i])))
				printf(" %s %.4g", preferred[i], json_number_value(v)), shown++;
		if (!shown)
			json_object_foreach(metrics, k, v) if (shown < METRICS_SHOWN && json_is_number(v))
				printf(" %s %.4g", k, json_number_value(v)),
				shown++;
		if (!shown)
			printf(" %s, no metrics", str(run, "status"));
	}
	printf("\n");
}

static void dataset_line(const char *ind, const char *branch, const json_t *ds)
{
	char size[32];
	printf("%s%sdataset %s", ind, branch, str(ds, "ref"));
	if (!unavailable(ds)) {
		json_t *bytes = json_object_get(ds, "bytes");
		printf(" (id %s) %s, %lld files, %s", str(ds, "id"), str(ds, "status"),
		       (long long)json_integer_value(json_object_get(ds, "files")),
		       cli_fmt_bytes((uint64_t)json_integer_value(bytes), size, sizeof size));
	}
	printf("\n");
}

static void split_line(const char *ind, const json_t *split)
{
	json_t *fr = json_object_get(split, "fractions");
	printf("%s│  └─ split ", ind);
	if (json_is_object(fr))
		printf("fractions %g/%g/%g seed %lld", json_number_value(json_object_get(fr, "train")),
		       json_number_value(json_object_get(fr, "val")), json_number_value(json_object_get(fr, "test")),
		       (long long)json_integer_value(json_object_get(split, "seed")));
	else
		printf("%s", str(split, "name"));
	if (json_is_integer(json_object_get(split, "test_size")))
		printf(", test %lld", (long long)json_integer_value(json_object_get(split, "test_size")));
	unavailable(split);
	printf("\n");
}

static void reports_line(const char *ind, const json_t *doc)
{
	json_t *reports = json_object_get(doc, "reports");
	printf("%s└─ drift reports: ", ind);
	if (!json_is_array(reports)) {
		printf("unavailable: %s\n", str(doc, "reports_unavailable"));
		return;
	}
	printf("%lld (%lld with drift)", (long long)json_integer_value(json_object_get(doc, "reports_total")),
	       (long long)json_integer_value(json_object_get(doc, "reports_with_drift")));
	/* the newest report that found drift, else the newest */
	json_t *show = json_array_get(reports, 0), *r;
	size_t i;
	json_array_foreach(reports, i, r) if (json_is_true(json_object_get(r, "dataset_drift")))
	{
		show = r;
		break;
	}
	if (show)
		printf("  %s", str(show, "url"));
	printf("\n");
}

static void print_forward(const json_t *doc)
{
	const json_t *pred = json_object_get(doc, "prediction");
	const char *ind = "";
	if (pred) {
		printf("prediction %s\n└─ ", str(pred, "request_id"));
		ind = "   ";
	}
	json_t *ds = json_object_get(doc, "dataset");
	model_line(json_object_get(doc, "model_version"), json_object_get(doc, "run"));
	job_line(ind, json_object_get(doc, "job"));
	run_line(ind, json_object_get(doc, "run"));
	dataset_line(ind, "├─ ", ds);
	if (json_object_get(ds, "split"))
		split_line(ind, json_object_get(ds, "split"));
	reports_line(ind, doc);
}

static void print_backwards(const json_t *doc)
{
	json_t *models = json_object_get(doc, "models"), *m;
	size_t i, n = json_array_size(models);
	dataset_line("", "", json_object_get(doc, "dataset"));
	if (!models)
		printf("└─ models: unavailable: %s\n", str(doc, "models_unavailable"));
	else if (n == 0)
		printf("└─ no model version was trained on it\n");
	json_array_foreach(models, i, m)
	{
		printf("%s model %s v%s", i + 1 == n ? "└─" : "├─", str(m, "name"), str(m, "version"));
		print_aliases(m);
		printf("  run %s  job %s %s", str(m, "run_id"), str(json_object_get(m, "job"), "id"),
		       str(json_object_get(m, "job"), "status"));
		unavailable(m);
		printf("\n");
	}
}

int cli_lineage_main(int argc, char **argv)
{
	static const struct option opts[] = {{"dataset", required_argument, NULL, 'd'},
					     {"request-id", required_argument, NULL, 'r'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	const char *dataset = NULL, *request_id = NULL;
	bool as_json = false;
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "d:r:jh", opts, NULL)) != -1) {
		if (o == 'd')
			dataset = optarg;
		else if (o == 'r')
			request_id = optarg;
		else if (o == 'j')
			as_json = true;
		else if (o == 'h')
			return fputs(lineage_usage, stdout), CLI_EXIT_OK;
		else
			return cli_usage_error("lineage", NULL, "%s", "unknown option");
	}
	if (dataset ? optind != argc || request_id : optind + 1 != argc)
		return cli_usage_error("lineage", NULL, "%s",
				       "give MODEL[@VERSION], or --dataset NAME@REF (without --request-id)");
	if (dataset && !strchr(dataset, '@'))
		return cli_usage_error("lineage", NULL, "--dataset takes NAME@REF, got '%s'", dataset);
	struct cli_conn conn;
	struct core_error err = {{0}};
	if (cli_conn_init(&conn, "LATHE_TRAINER_URL", CLI_LINEAGE_DEFAULT_URL, &err) != CORE_OK)
		return cli_fail(&err);
	char *path;
	if (dataset) {
		char *q = cli_http_escape(dataset);
		path = core_xasprintf("/v1/lineage?dataset=%s", q);
		free(q);
	} else {
		const char *arg = argv[optind], *at = strrchr(arg, '@');
		char *model = at ? core_xstrndup(arg, (size_t)(at - arg)) : core_xstrdup(arg);
		char *qm = cli_http_escape(model), *qv = cli_http_escape(at && at[1] ? at + 1 : "champion");
		char *qr = request_id ? cli_http_escape(request_id) : NULL;
		path = core_xasprintf("/v1/lineage?model=%s&version=%s%s%s", qm, qv, qr ? "&request_id=" : "",
				      qr ? qr : "");
		free(qr), free(qv), free(qm), free(model);
		if (!*arg || (at && at == arg)) {
			free(path);
			return cli_usage_error("lineage", NULL, "'%s' names no model", arg);
		}
	}
	long status = 0;
	json_t *doc = NULL;
	enum core_status rc = cli_http_json(NULL, &conn, "GET", path, NULL, &status, &doc, &err);
	free(path);
	if (rc != CORE_OK)
		return cli_fail(&err);
	if (as_json) {
		json_dumpf(doc, stdout, JSON_INDENT(2));
		printf("\n");
	} else if (dataset) {
		print_backwards(doc);
	} else {
		print_forward(doc);
	}
	json_decref(doc);
	return CLI_EXIT_OK;
}
