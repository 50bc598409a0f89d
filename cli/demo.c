/* `lathe demo`: the whole loop against a running stack (`make run`'s, or a test's), as a
 * timeline of one line per step with the elapsed seconds and real figures: Fashion-MNIST
 * pushed twice (IDX files, a PNG folder) and split; a sweep trained and the best model
 * made `champion`; its accuracy over three protocols; drifted traffic until the drift
 * monitor reports drift and asks for a retrain; the retrained challenger evaluated and
 * swapped in under live traffic; the lineage of a prediction made after the swap. Names
 * carry a timestamp, so the demo runs on a fresh stack and again on the same one, and
 * leaves everything in place. The steps live in demo_*.c (demo.h says which); this file
 * holds the options, the URLs, the timeline and the --json summary. */
#include "demo.h"
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/alloc.h"

static const char cli_demo_usage[] =
	"usage: lathe demo [--images N] [--test N] [--epochs E] [--quick] [--json FILE]\n"
	"                  [--fmnist DIR] [--wait SECONDS]\n"
	"\n"
	"Runs the whole loop against a running stack (make run) and prints a timeline:\n"
	"  1 data     Fashion-MNIST pushed as IDX files and as a PNG folder, split 80/10/10\n"
	"  2 train    a sweep of two learning rates; the best registered as champion\n"
	"  3 predict  test images over OIP JSON, /invocations and PNG upload; accuracy\n"
	"  4 drift    a monitor with policy retrain; inverted images until drift is reported\n"
	"  5 retrain  the retraining job, the challenger's evaluation, the swap under traffic\n"
	"  6 lineage  where a prediction made after the swap came from\n"
	"\n"
	"  --images N    training images in the PNG dataset (default all 60000)\n"
	"  --test N      test images sent over OIP (default 500; a fifth over the others)\n"
	"  --epochs E    epochs per trial (default 3)\n"
	"  --quick       an MLP on 2000 images, 2 epochs, fewer rows (tests)\n"
	"  --json FILE   a summary of every step's outcome\n"
	"  --fmnist DIR  the four IDX .gz files (default /usr/share/datasets/fashion-mnist)\n"
	"  --wait S      the longest one wait may take (default 180)\n"
	"\n"
	"Environment: LATHE_DATA_URL (5002), LATHE_TRAINER_URL (5004), LATHE_DRIFT_URL (5003),\n"
	"LATHE_INFER_URL or INFERENCE_URL (8080), LATHE_TRACKER_URL (5000), LATHE_REGISTRY_URL\n"
	"(5001), each http://127.0.0.1:<port> by default; LATHE_TOKEN.\n"
	"Exit status: 0 every step did what it should, 1 a step failed (named), 2 usage.\n";

const char *const cli_demo_class_names[DEMO_CLASSES] = {"tshirt", "trouser", "pullover", "dress", "coat",
							"sandal", "shirt",   "sneaker",  "bag",   "boot"};

double cli_demo_elapsed(const struct demo *d)
{
	return cli_now() - d->t0;
}

void cli_demo_say(struct demo *d, const char *step, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("[%6.1fs] %-8s ", cli_demo_elapsed(d), step);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	va_end(ap);
}

json_t *cli_demo_step(struct demo *d, const char *step)
{
	json_t *s = json_object_get(d->sum, step);
	if (!s) {
		s = json_object();
		json_object_set_new(d->sum, step, s);
	}
	return s;
}

enum core_status cli_demo_call(const struct cli_conn *c, const char *method, const char *path, const json_t *body,
			       json_t **out, struct core_error *err)
{
	long status = 0;
	json_t *got = NULL;
	enum core_status rc = cli_http_json(NULL, c, method, path, body, &status, &got, err);
	if (out)
		*out = got;
	else
		json_decref(got);
	return rc;
}

char *cli_demo_path(const char *before, const char *arg, const char *after)
{
	char *e = cli_http_escape(arg);
	char *p = core_xasprintf("%s%s%s", before, e, after);
	free(e);
	return p;
}

static enum core_status connect_all(struct demo *d, struct core_error *err)
{
	static const struct {
		size_t off;
		const char *envs[3], *def;
	} svc[] = {
		{offsetof(struct demo, data), {"LATHE_DATA_URL", NULL}, "http://127.0.0.1:5002"},
		{offsetof(struct demo, trainer), {"LATHE_TRAINER_URL", NULL}, "http://127.0.0.1:5004"},
		{offsetof(struct demo, drift), {"LATHE_DRIFT_URL", NULL}, "http://127.0.0.1:5003"},
		{offsetof(struct demo, infer), {"LATHE_INFER_URL", "INFERENCE_URL", NULL}, "http://127.0.0.1:8080"},
		{offsetof(struct demo, tracker), {"LATHE_TRACKER_URL", NULL}, "http://127.0.0.1:5000"},
		{offsetof(struct demo, registry), {"LATHE_REGISTRY_URL", NULL}, "http://127.0.0.1:5001"},
	};
	for (size_t i = 0; i < sizeof svc / sizeof svc[0]; i++) {
		struct cli_conn *c = (struct cli_conn *)((char *)d + svc[i].off);
		enum core_status rc = cli_conn_init_only(c, svc[i].envs, svc[i].def, err);
		if (rc != CORE_OK)
			return rc;
	}
	return CORE_OK;
}

static bool parse_size(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* Options into d->o; returns -1 to go on, else the exit status. */
static int parse_opts(int argc, char **argv, struct cli_demo_opts *o)
{
	static const struct option opts[] = {
		{"images", required_argument, NULL, 'n'},
		{"test", required_argument, NULL, 't'},
		{"epochs", required_argument, NULL, 'e'},
		{"quick", no_argument, NULL, 'q'},
		{"json", required_argument, NULL, 'j'},
		{"fmnist", required_argument, NULL, 'f'},
		{"wait", required_argument, NULL, 'w'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	long images = -1, test = -1, epochs = -1, wait_s = 180, v;
	int c;
	*o = (struct cli_demo_opts){.fmnist = "/usr/share/datasets/fashion-mnist"};
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (!parse_size(optarg, 100, 60000, &images))
				return cli_usage_error("demo", NULL, "--images takes 100..60000, got '%s'", optarg);
			break;
		case 't':
			if (!parse_size(optarg, 10, 5000, &test))
				return cli_usage_error("demo", NULL, "--test takes 10..5000, got '%s'", optarg);
			break;
		case 'e':
			if (!parse_size(optarg, 1, 100, &epochs))
				return cli_usage_error("demo", NULL, "--epochs takes 1..100, got '%s'", optarg);
			break;
		case 'q':
			o->quick = true;
			break;
		case 'j':
			o->json = optarg;
			break;
		case 'f':
			o->fmnist = optarg;
			break;
		case 'w':
			if (!parse_size(optarg, 10, 3600, &v))
				return cli_usage_error("demo", NULL, "--wait takes 10..3600 seconds, got '%s'", optarg);
			wait_s = v;
			break;
		case 'h':
			fputs(cli_demo_usage, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_error("demo", NULL, "%s", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("demo", NULL, "demo takes no arguments, got '%s'", argv[optind]);
	o->images = (size_t)(images > 0 ? images : o->quick ? 2000 : 60000);
	o->test = (size_t)(test > 0 ? test : o->quick ? 200 : 500);
	o->epochs = (int)(epochs > 0 ? epochs : o->quick ? 2 : 3);
	o->wait_s = (int)wait_s;
	return -1;
}

static void write_summary(struct demo *d, const char *failed_step, const char *why)
{
	if (!d->o.json)
		return;
	json_object_set_new(d->sum, "ok", json_boolean(!failed_step));
	json_object_set_new(d->sum, "seconds", json_real(cli_demo_elapsed(d)));
	if (failed_step) {
		json_object_set_new(d->sum, "failed_step", json_string(failed_step));
		json_object_set_new(d->sum, "failure", json_string(why));
	}
	if (json_dump_file(d->sum, d->o.json, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
		cli_errorf("cannot write the summary to %s", d->o.json);
}

int cli_demo_main(int argc, char **argv)
{
	struct demo *d = core_xcalloc(1, sizeof *d);
	int rc = parse_opts(argc, argv, &d->o);
	if (rc >= 0) {
		free(d);
		return rc;
	}
	static const struct {
		const char *name;
		enum core_status (*fn)(struct demo *, struct core_error *);
	} steps[] = {
		{"data", cli_demo_step_data},   {"train", cli_demo_step_train},     {"predict", cli_demo_step_predict},
		{"drift", cli_demo_step_drift}, {"retrain", cli_demo_step_retrain}, {"lineage", cli_demo_step_lineage},
	};
	struct core_error err = {{0}};
	const char *failed = NULL;
	d->t0 = cli_now();
	d->sum = json_object();
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(d->suffix, sizeof d->suffix, "%Y%m%d-%H%M%S", &tm);
	snprintf(d->idx_ds, sizeof d->idx_ds, "fmnist-idx-%s", d->suffix);
	snprintf(d->png_ds, sizeof d->png_ds, "fmnist-png-%s", d->suffix);
	snprintf(d->model, sizeof d->model, "fmnist-%s", d->suffix);
	snprintf(d->experiment, sizeof d->experiment, "demo-%s", d->suffix);
	json_object_set_new(d->sum, "names",
			    json_pack("{s:s, s:s, s:s, s:s}", "idx_dataset", d->idx_ds, "png_dataset", d->png_ds,
				      "model", d->model, "experiment", d->experiment));
	snprintf(d->tmp, sizeof d->tmp, "%s/lathe-demo-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (connect_all(d, &err) != CORE_OK) {
		failed = "setup";
	} else if (!mkdtemp(d->tmp)) {
		core_fail(&err, CORE_EIO, "cannot make a scratch directory %s: %s", d->tmp, strerror(errno));
		d->tmp[0] = '\0';
		failed = "setup";
	} else if (cli_demo_fmnist_read(d->o.fmnist, &d->fm, &err) != CORE_OK) {
		failed = "setup";
	}
	if (!failed)
		printf("lathe demo %s: model %s, datasets %s and %s\n", d->suffix, d->model, d->png_ds, d->idx_ds);
	for (size_t i = 0; !failed && i < sizeof steps / sizeof steps[0]; i++) {
		double t = cli_demo_elapsed(d);
		enum core_status st = steps[i].fn(d, &err);
		json_object_set_new(cli_demo_step(d, steps[i].name), "seconds", json_real(cli_demo_elapsed(d) - t));
		json_object_set_new(cli_demo_step(d, steps[i].name), "ok", json_boolean(st == CORE_OK));
		if (st != CORE_OK)
			failed = steps[i].name;
	}
	if (failed)
		cli_errorf("demo step %s failed: %s", failed, err.message);
	else
		printf("[%6.1fs] done: every step did what it should; the stack keeps running\n", cli_demo_elapsed(d));
	write_summary(d, failed, err.message);
	if (d->tmp[0])
		cli_demo_rm_tree(d->tmp);
	cli_demo_fmnist_free(&d->fm);
	json_decref(d->sum);
	free(d);
	return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
