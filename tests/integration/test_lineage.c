/* GET /v1/lineage on a real trainer wired to a real tracker, model registry, data
 * registry and drift monitor (processes, on the run's PostgreSQL and broker):
 *   - a tiny image classifier is trained on version 1 of a 10-image dataset (split
 *     0.6/0.2/0.2, seed 7) and registered under the alias champion; the drift monitor
 *     gets a monitor of the model and three report rows (two of version 1, one with
 *     drift; one of version 2), written in SQL as its window slice writes them;
 *   - lineage by version number and by alias: every node holds what the test knows
 *     (the job id, the run id and its tracker URL, the dataset version id, its file
 *     count and bytes, the split with its test size, the manifest's files, the reports
 *     of that version only, one with drift); request_id comes back as the root;
 *   - backwards from the dataset version: the model version with its run and job;
 *     another version of the dataset lists none;
 *   - unknown model, version, alias or dataset: 404; bad parameters: 400;
 *   - every answer is checked against proto/openapi/trainer.yaml;
 *   - a second trainer on the same database whose tracker, data registry and drift
 *     monitor do not answer: still 200, those nodes "unavailable", the job still found;
 *     one whose registry does not answer: the job, run and dataset still found by the
 *     version number, an alias unresolved, backwards the version listed unchecked;
 *     one whose drift monitor takes the connection and never answers (the reports
 *     unavailable after DRIFT_TIMEOUT_MS, the rest there); one without DRIFT_URL;
 *   - `lathe lineage NAME@1` prints the tree with the ids; --json the server's answer;
 *     --dataset the backwards tree. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "contract.h"
#include "harness_cli.h"
#include "harness_db.h"
#include "harness_train.h"
#include "harness_trainer.h"
#include "harness.h"

#define MODEL   "lineage-m"
#define DATASET "lineage-ds"
#define DEAD    "http://127.0.0.1:1"

static const char spec[] = "{\"dataset\": \"" DATASET "@latest\", \"split\": {\"fractions\": [0.6, 0.2, 0.2], "
			   "\"seed\": 7}, \"model\": {\"type\": \"mlp\", \"hidden\": [8]}, "
			   "\"optimizer\": {\"type\": \"adam\", \"lr\": 0.01}, \"epochs\": 2, \"batch_size\": 4, "
			   "\"seed\": 5, \"experiment\": \"lineage\", "
			   "\"register\": {\"model\": \"" MODEL "\", \"alias\": \"champion\"}}";

static const char *sget(json_t *o, const char *path)
{
	/* "a/b/c": members of members (keys may hold dots: "lathe.job_id") */
	char key[128];
	const char *p = path;
	while (o && *p) {
		size_t n = strcspn(p, "/");
		snprintf(key, sizeof key, "%.*s", (int)n, p);
		o = json_object_get(o, key);
		p += n + (p[n] == '/');
	}
	return json_string_value(o);
}

static json_int_t iget(json_t *o, const char *a, const char *b)
{
	return json_integer_value(json_object_get(json_object_get(o, a), b));
}

static json_t *contract;

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* GET /v1/lineage?query: must answer want, with a body the OpenAPI document allows. */
static json_t *lineage(struct th_daemon *t, const char *query, long want)
{
	char *path = th_fmt("/v1/lineage?%s", query);
	struct th_response r = th_call(t, "GET", path, NULL);
	ck_assert_msg(r.status == want, "%s -> %ld %s", path, r.status, r.body);
	th_contract_check(contract, "GET", path, &r);
	json_t *doc = json_incref(r.json);
	ck_assert_ptr_nonnull(doc);
	th_response_free(&r);
	free(path);
	return doc;
}

static void insert_report(struct th_daemon *dm, const char *monitor, int n, const char *version, bool drift)
{
	long long created = 1765000000000LL + n * 1000;
	char *q =
		th_fmt("INSERT INTO reports (id, monitor_id, model, model_version, window_start, window_end, rows, "
		       "dataset_drift, share_of_drifted_columns, report, created_at) SELECT '%032x', id, model, '%s', "
		       "%lld, %lld, 100, %s, %s, '{}', %lld FROM monitors WHERE id = '%s'",
		       n, version, created - 500, created - 1, drift ? "true" : "false", drift ? "0.75" : "0.25",
		       created, monitor);
	free(th_sql(dm, "drift", q));
	free(q);
}

/* Everything the test knows about the trained version, checked in a forward answer. */
struct known {
	const char *job_id, *run_id, *version_id;
	json_int_t files, bytes, test_size;
	const char *tracker, *drift;
};

static void check_forward(json_t *doc, const struct known *k)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	ck_assert_msg(!strstr(text, "unavailable"), "%s", text);
	ck_assert_str_eq(sget(doc, "model_version/name"), MODEL);
	ck_assert_str_eq(sget(doc, "model_version/version"), "1");
	ck_assert_str_eq(sget(doc, "model_version/run_id"), k->run_id);
	ck_assert_str_eq(
		json_string_value(json_array_get(json_object_get(json_object_get(doc, "model_version"), "aliases"), 0)),
		"champion");
	ck_assert_str_eq(sget(doc, "run/run_id"), k->run_id);
	ck_assert_str_eq(sget(doc, "run/status"), "FINISHED");
	ck_assert_str_eq(sget(doc, "run/params/optimizer.lr"), "0.01");
	ck_assert_str_eq(sget(doc, "run/tags/lathe.job_id"), k->job_id);
	char *url = th_fmt("%s/#/experiments/%s/runs/%s", k->tracker, sget(doc, "run/experiment_id"), k->run_id);
	ck_assert_str_eq(sget(doc, "run/url"), url);
	free(url);
	ck_assert(json_is_number(json_object_get(json_object_get(json_object_get(doc, "run"), "metrics"), "val_loss")));
	ck_assert_str_eq(sget(doc, "job/id"), k->job_id);
	ck_assert_str_eq(sget(doc, "job/status"), "SUCCEEDED");
	ck_assert_str_eq(sget(doc, "job/spec/dataset"), DATASET "@latest");
	/* the spec said latest; the lineage names the version trained on */
	ck_assert_str_eq(sget(doc, "dataset/ref"), DATASET "@1");
	ck_assert_str_eq(sget(doc, "dataset/id"), k->version_id);
	ck_assert_str_eq(sget(doc, "dataset/status"), "READY");
	ck_assert_int_eq(iget(doc, "dataset", "version"), 1);
	ck_assert_int_eq(iget(doc, "dataset", "files"), k->files);
	ck_assert_int_eq(iget(doc, "dataset", "bytes"), k->bytes);
	json_t *split = json_object_get(json_object_get(doc, "dataset"), "split");
	ck_assert_str_eq(sget(split, "name"), "lathe-0.6-0.2-0.2-s7");
	ck_assert_int_eq(json_integer_value(json_object_get(split, "seed")), 7);
	ck_assert(json_real_value(json_object_get(json_object_get(split, "fractions"), "test")) == 0.2);
	ck_assert_int_eq(json_integer_value(json_object_get(split, "test_size")), k->test_size);
	json_t *files = json_object_get(doc, "files");
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "files_total")), k->files);
	ck_assert_int_eq(json_array_size(files), k->files < 20 ? k->files : 20);
	ck_assert_uint_eq(strlen(sget(json_array_get(files, 0), "sha256")), 64);
	/* the reports of version 1 only, newest first, one with drift */
	json_t *reports = json_object_get(doc, "reports");
	ck_assert_int_eq(json_array_size(reports), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "reports_total")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "reports_with_drift")), 1);
	char *rid = th_fmt("%032x", 2), *rurl = th_fmt("%s/v1/reports/%s.html", k->drift, rid);
	ck_assert_str_eq(sget(json_array_get(reports, 0), "id"), rid);
	ck_assert_str_eq(sget(json_array_get(reports, 0), "url"), rurl);
	ck_assert(json_is_true(json_object_get(json_array_get(reports, 0), "dataset_drift")));
	ck_assert(json_is_false(json_object_get(json_array_get(reports, 1), "dataset_drift")));
	free(rid), free(rurl), free(text);
}

START_TEST(lineage_walks_every_service)
{
	struct th_train_stack s;
	contract = th_contract_load("trainer");
	struct th_daemon *dm = th_daemon_start("drift-monitor", NULL,
					       (const char *const[]){"TRACKER_URL=" DEAD, "REGISTRY_URL=" DEAD, NULL});
	char *drift_env = th_fmt("DRIFT_URL=%s", dm->base_url);
	const char *env[] = {"WORKERS=1", drift_env, NULL};
	th_train_start(&s, env);
	ck_assert_int_eq(th_trainer_push_images(s.data, DATASET, 2, 5, 8), 1);
	char *job_id = th_train_submit(&s, spec);
	json_t *job = th_train_wait(&s, job_id, 60000);
	ck_assert_str_eq(json_string_value(json_object_get(job, "status")), "SUCCEEDED");
	ck_assert_str_eq(json_string_value(json_object_get(job, "model_version")), "1");
	struct known k = {.job_id = job_id,
			  .run_id = json_string_value(json_object_get(job, "run_id")),
			  .tracker = s.tracker->base_url,
			  .drift = dm->base_url};
	json_t *v = th_train_get(s.data, "/v1/datasets/" DATASET "/versions/1");
	k.version_id = json_string_value(json_object_get(json_object_get(v, "version"), "id"));
	k.files = iget(v, "version", "file_count");
	k.bytes = iget(v, "version", "bytes");
	ck_assert_int_eq(k.files, 10);
	json_t *sp = th_train_get(s.data, "/v1/datasets/" DATASET "/versions/1/splits/lathe-0.6-0.2-0.2-s7");
	k.test_size =
		json_integer_value(json_object_get(json_object_get(json_object_get(sp, "split"), "counts"), "test"));
	ck_assert_int_eq(k.test_size, 2);
	struct th_response mr = th_call(dm, "POST", "/v1/monitors", "{\"model\": \"" MODEL "\"}");
	ck_assert_msg(mr.status == 201, "%ld %s", mr.status, mr.body);
	json_t *m = json_incref(mr.json);
	th_response_free(&mr);
	const char *monitor = sget(m, "monitor/id");
	insert_report(dm, monitor, 1, "1", false);
	insert_report(dm, monitor, 2, "1", true);
	insert_report(dm, monitor, 3, "2", true);

	/* forward, by number and by alias, with a prediction at the root */
	json_t *doc = lineage(s.trainer, "model=" MODEL "&version=1", 200);
	check_forward(doc, &k);
	ck_assert_ptr_null(json_object_get(doc, "prediction"));
	json_decref(doc);
	doc = lineage(s.trainer, "model=" MODEL "&version=champion&request_id=req-42", 200);
	check_forward(doc, &k);
	ck_assert_str_eq(sget(doc, "prediction/request_id"), "req-42");
	json_decref(doc);

	/* backwards */
	doc = lineage(s.trainer, "dataset=" DATASET "@1", 200);
	ck_assert_str_eq(sget(doc, "dataset/id"), k.version_id);
	json_t *models = json_object_get(doc, "models");
	ck_assert_int_eq(json_array_size(models), 1);
	ck_assert_str_eq(sget(json_array_get(models, 0), "name"), MODEL);
	ck_assert_str_eq(sget(json_array_get(models, 0), "version"), "1");
	ck_assert_str_eq(sget(json_array_get(models, 0), "run_id"), k.run_id);
	ck_assert_str_eq(sget(json_array_get(models, 0), "job/id"), job_id);
	ck_assert_ptr_null(json_object_get(json_array_get(models, 0), "unavailable"));
	json_decref(doc);
	ck_assert_int_eq(th_trainer_push_images(s.data, DATASET, 2, 6, 8), 2);
	doc = lineage(s.trainer, "dataset=" DATASET "@2", 200);
	ck_assert_int_eq(json_array_size(json_object_get(doc, "models")), 0);
	ck_assert_int_eq(iget(doc, "dataset", "files"), 12);
	json_decref(doc);

	/* unknown: 404 in MLflow's shape; bad parameters: 400 */
	static const char *const missing[] = {"model=nope&version=1", "model=" MODEL "&version=9",
					      "model=" MODEL "&version=nosuchalias", "dataset=" DATASET "@7",
					      "dataset=nope@1"};
	for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
		doc = lineage(s.trainer, missing[i], 404);
		ck_assert_str_eq(sget(doc, "error_code"), "RESOURCE_DOES_NOT_EXIST");
		json_decref(doc);
	}
	static const char *const bad[] = {"",
					  "model=" MODEL,
					  "version=1",
					  "model=" MODEL "&version=1&dataset=" DATASET "@1",
					  "dataset=" DATASET,
					  "dataset=@1",
					  "model=a%20b&version=1",
					  "model=" MODEL "&version=1&request_id=a%0Ab"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		doc = lineage(s.trainer, bad[i], 400);
		ck_assert_str_eq(sget(doc, "error_code"), "INVALID_PARAMETER_VALUE");
		json_decref(doc);
	}

	/* the CLI */
	struct th_run r;
	char *cenv = th_fmt("LATHE_TRAINER_URL='%s'", s.trainer->base_url);
	th_lathe(&r, cenv, "lineage " MODEL "@1 --request-id req-42");
	ck_assert_msg(r.status == 0, "%d %s %s", r.status, r.out, r.err);
	char *want[] = {th_fmt("prediction req-42"),
			th_fmt("model " MODEL " v1  [champion]  run %s", k.run_id),
			th_fmt("job %s SUCCEEDED  mlp, 2 epochs, lr 0.01", job_id),
			th_fmt("dataset " DATASET "@1 (id %s) READY, 10 files", k.version_id),
			th_fmt("split fractions 0.6/0.2/0.2 seed 7, test 2"),
			th_fmt("drift reports: 2 (1 with drift)  %s/v1/reports/%032x.html", dm->base_url, 2)};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		ck_assert_msg(strstr(r.out, want[i]), "'%s' not in:\n%s", want[i], r.out);
		free(want[i]);
	}
	th_lathe(&r, cenv, "lineage " MODEL " --json");
	ck_assert_int_eq(r.status, 0);
	doc = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(doc);
	check_forward(doc, &k);
	json_decref(doc);
	th_lathe(&r, cenv, "lineage --dataset " DATASET "@1");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, "model " MODEL " v1  [champion]"), "%s", r.out);
	ck_assert_msg(strstr(r.out, job_id), "%s", r.out);
	th_lathe(&r, cenv, "lineage nope@1");
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "RESOURCE_DOES_NOT_EXIST"), "%s", r.err);
	th_lathe(&r, cenv, "lineage");
	ck_assert_int_eq(r.status, 2);
	free(cenv);

	/* peers down: a second trainer on the same database whose tracker, data registry and
	 * drift monitor do not answer */
	char *blob = th_fmt("BLOB_DIR=%s/blobs-lineage-dead", th_env("LATHE_TEST_TMP"));
	char *reg = th_fmt("REGISTRY_URL=%s", s.registry->base_url);
	const char *denv[] = {"WORKERS=0", "TRACKER_URL=" DEAD, "DATA_REGISTRY_URL=" DEAD, "DRIFT_URL=" DEAD, reg, blob,
			      NULL};
	struct th_daemon *t2 = th_daemon_start("trainer", s.trainer_db, denv);
	doc = lineage(t2, "model=" MODEL "&version=champion", 200);
	ck_assert_str_eq(sget(doc, "model_version/run_id"), k.run_id);
	ck_assert_ptr_nonnull(sget(doc, "run/unavailable"));
	ck_assert_str_eq(sget(doc, "job/id"), job_id); /* found by the version it registered */
	ck_assert_ptr_nonnull(sget(doc, "dataset/unavailable"));
	ck_assert_ptr_nonnull(sget(doc, "files_unavailable"));
	ck_assert_ptr_nonnull(sget(doc, "reports_unavailable"));
	json_decref(doc);
	/* the CLI prints the tree all the same, each silent service named */
	char *denv_cli = th_fmt("LATHE_TRAINER_URL='%s'", t2->base_url);
	th_lathe(&r, denv_cli, "lineage " MODEL);
	ck_assert_msg(r.status == 0, "%d %s %s", r.status, r.out, r.err);
	ck_assert_msg(strstr(r.out, "├─ run  unavailable: the experiment tracker could not be reached"), "%s", r.out);
	ck_assert_msg(strstr(r.out, job_id), "%s", r.out);
	ck_assert_msg(strstr(r.out, "drift reports: unavailable: the drift monitor could not be reached"), "%s", r.out);
	free(denv_cli);
	th_daemon_stop(t2);
	/* the registry dead: the job is found by the version number, and through its run the
	 * dataset; an alias cannot be resolved; backwards lists the job's version unchecked */
	free(blob);
	blob = th_fmt("BLOB_DIR=%s/blobs-lineage-noreg", th_env("LATHE_TEST_TMP"));
	const char *renv[] = {"WORKERS=0", s.env[0], "REGISTRY_URL=" DEAD, s.env[2], blob, NULL};
	t2 = th_daemon_start("trainer", s.trainer_db, renv);
	doc = lineage(t2, "model=" MODEL "&version=1", 200);
	ck_assert_ptr_nonnull(sget(doc, "model_version/unavailable"));
	ck_assert_str_eq(sget(doc, "job/id"), job_id);
	ck_assert_str_eq(sget(doc, "run/run_id"), k.run_id);
	ck_assert_str_eq(sget(doc, "run/status"), "FINISHED");
	ck_assert_str_eq(sget(doc, "dataset/id"), k.version_id);
	json_decref(doc);
	doc = lineage(t2, "model=" MODEL "&version=champion", 200);
	ck_assert_ptr_nonnull(sget(doc, "model_version/unavailable"));
	ck_assert_ptr_nonnull(sget(doc, "job/unavailable"));
	ck_assert_ptr_nonnull(sget(doc, "run/unavailable"));
	json_decref(doc);
	doc = lineage(t2, "dataset=" DATASET "@1", 200);
	ck_assert_int_eq(json_array_size(json_object_get(doc, "models")), 1);
	ck_assert_str_eq(sget(json_array_get(json_object_get(doc, "models"), 0), "job/id"), job_id);
	ck_assert_ptr_nonnull(sget(json_array_get(json_object_get(doc, "models"), 0), "unavailable"));
	json_decref(doc);
	th_daemon_stop(t2);
	/* no drift monitor configured */
	free(blob);
	blob = th_fmt("BLOB_DIR=%s/blobs-lineage-nodrift", th_env("LATHE_TEST_TMP"));
	const char *nenv[] = {"WORKERS=0", s.env[0], s.env[1], s.env[2], blob, NULL};
	t2 = th_daemon_start("trainer", s.trainer_db, nenv);
	doc = lineage(t2, "model=" MODEL "&version=1", 200);
	ck_assert_str_eq(sget(doc, "reports_unavailable"), "DRIFT_URL not set");
	ck_assert_str_eq(sget(doc, "dataset/id"), k.version_id);
	json_decref(doc);
	th_daemon_stop(t2);

	/* a drift monitor that takes the connection and never answers: the reports are
	 * unavailable once DRIFT_TIMEOUT_MS has passed, the rest is all there */
	int slow = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	ck_assert_int_eq(bind(slow, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(slow, 16), 0);
	ck_assert_int_eq(getsockname(slow, (struct sockaddr *)&sa, &sl), 0);
	char *slow_url = th_fmt("DRIFT_URL=http://127.0.0.1:%d", ntohs(sa.sin_port));
	free(blob);
	blob = th_fmt("BLOB_DIR=%s/blobs-lineage-slow", th_env("LATHE_TEST_TMP"));
	const char *senv[] = {"WORKERS=0", s.env[0], s.env[1], s.env[2], blob, slow_url, "DRIFT_TIMEOUT_MS=300", NULL};
	t2 = th_daemon_start("trainer", s.trainer_db, senv);
	double t0 = mono_s();
	doc = lineage(t2, "model=" MODEL "&version=1", 200);
	ck_assert_msg(mono_s() - t0 < 5.0, "the answer took %.1f s", mono_s() - t0);
	ck_assert_ptr_nonnull(sget(doc, "reports_unavailable"));
	ck_assert_ptr_null(json_object_get(doc, "reports"));
	ck_assert_str_eq(sget(doc, "job/id"), job_id);
	ck_assert_str_eq(sget(doc, "dataset/id"), k.version_id);
	json_decref(doc);
	th_daemon_stop(t2);
	close(slow);
	free(slow_url);

	free(blob), free(reg);
	json_decref(m), json_decref(sp), json_decref(v), json_decref(job);
	free(job_id), free(drift_env);
	th_train_stop(&s);
	th_daemon_stop(dm);
	json_decref(contract);
}
END_TEST

static Suite *lineage_suite(void)
{
	Suite *s = suite_create("lineage");
	TCase *tc = tcase_create("lineage");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, lineage_walks_every_service);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(lineage_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
