/* `lathe`: the platform's command line. `lathe <noun> <verb> [options]`, one noun per
 * service: `data` (the data registry, data.c), `train` and `jobs` (train.c), `predict`
 * (predict.c), `drift` (drift.c), `lineage` (lineage.c); each is one row of the table below and one file.
 * Exit status: 0 ok, 1 failure (the reason on stderr), 2 usage. */
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "core/version.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} nouns[] = {
	{"data", cli_data_main, "versioned datasets: push, ls, show, pull (the data registry)"},
	{"train", cli_train_main, "submit a training job (SPEC.json) and follow it (the trainer)"},
	{"jobs", cli_jobs_main, "training jobs: ls, show, cancel (the trainer)"},
	{"predict", cli_predict_main, "predictions for images, a CSV or JSON (the inference API)"},
	{"drift", cli_drift_main, "drift reports, and batch drift of two dataset versions (the drift monitor)"},
	{"lineage", cli_lineage_main, "where a model version came from: run, job, dataset, drift (the trainer)"},
};

static void usage(FILE *out)
{
	fputs("usage: lathe <noun> <verb> [options]\n\nnouns:\n", out);
	for (size_t i = 0; i < sizeof nouns / sizeof nouns[0]; i++)
		fprintf(out, "  %-8s %s\n", nouns[i].name, nouns[i].help);
	fputs("\n`lathe <noun> --help` lists a noun's verbs. `lathe --version` prints the build.\n"
	      "Environment: LATHE_URL (the service's base URL; LATHE_DATA_URL, LATHE_TRAINER_URL,\n"
	      "INFERENCE_URL, LATHE_DRIFT_URL for one noun only),\n"
	      "LATHE_TOKEN (sent as a bearer token).\n"
	      "Exit status: 0 ok, 1 failure, 2 usage.\n",
	      out);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("lathe %s (%s)\n", core_version, core_commit);
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof nouns / sizeof nouns[0]; i++) {
		if (strcmp(argv[1], nouns[i].name) == 0) {
			if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
				cli_errorf("libcurl cannot start");
				return CLI_EXIT_FAIL;
			}
			int rc = nouns[i].fn(argc - 1, argv + 1);
			fflush(stdout);
			curl_global_cleanup();
			return rc;
		}
	}
	cli_errorf("'%s' is not a noun (lathe --help lists them)", argv[1]);
	return CLI_EXIT_USAGE;
}
