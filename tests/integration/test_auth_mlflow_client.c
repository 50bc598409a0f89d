/* The stock MLflow client (2.12.2, the version Lathe speaks) against the tracker and the
 * registry with AUTH=on: its token form (MLFLOW_TRACKING_TOKEN) and its basic-auth form
 * (MLFLOW_TRACKING_USERNAME/PASSWORD) both log a run with a param, a metric and an
 * artifact, search it and register a model version; a wrong password and no
 * credentials are refused as UNAUTHENTICATED, a read token's write as
 * PERMISSION_DENIED. The client is a real Python process (the script below) reading the
 * real environment variables, as a user's training script would.
 *
 * The client is MLflow's own source tree on Debian's python3 (setup-mlflow-client.sh,
 * MLFLOW_PYTHONPATH, as tools/run-bench.sh uses it). Where it is not installed the test
 * says so on stderr ("WAITING") and checks the two header forms the client would send,
 * byte for byte, with curl instead, so it never passes without checking. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "core/file.h"
#include "core/sha256.h"
#include "harness.h"

#define WRITER_SECRET "w-0123456789abcdef"
#define READER_SECRET "r-0123456789abcdef"

static const char script[] =
	"import os, sys, tempfile\n"
	"import mlflow\n"
	"from mlflow.exceptions import MlflowException\n"
	"from mlflow.tracking import MlflowClient\n"
	"tracker, registry = sys.argv[1], sys.argv[2]\n"
	"for k in ('MLFLOW_TRACKING_TOKEN', 'MLFLOW_TRACKING_USERNAME', 'MLFLOW_TRACKING_PASSWORD'):\n"
	"    os.environ.pop(k, None)\n"
	"def creds(**kv):\n"
	"    for k in ('MLFLOW_TRACKING_TOKEN', 'MLFLOW_TRACKING_USERNAME', 'MLFLOW_TRACKING_PASSWORD'):\n"
	"        os.environ.pop(k, None)\n"
	"    os.environ.update(kv)\n"
	"def refused(fn):\n"
	"    try:\n"
	"        fn()\n"
	"    except MlflowException as e:\n"
	"        return e.error_code\n"
	"    return 'ALLOWED'\n"
	"def work(tag):\n"
	"    mlflow.set_tracking_uri(tracker)\n"
	"    mlflow.set_registry_uri(registry)\n"
	"    c = MlflowClient(tracker, registry)\n"
	"    exp = c.create_experiment('exp-' + tag)\n"
	"    with mlflow.start_run(experiment_id=exp) as run:\n"
	"        mlflow.log_param('lr', 0.01)\n"
	"        mlflow.log_metric('acc', 0.93, step=1)\n"
	"        d = tempfile.mkdtemp()\n"
	"        p = os.path.join(d, 'model.json')\n"
	"        open(p, 'w').write('{}')\n"
	"        mlflow.log_artifact(p)\n"
	"    runs = c.search_runs([exp])\n"
	"    arts = [f.path for f in c.list_artifacts(run.info.run_id)]\n"
	"    c.create_registered_model('m-' + tag)\n"
	"    mv = c.create_model_version('m-' + tag, 'runs:/%s/model' % run.info.run_id, run.info.run_id)\n"
	"    print('%s runs=%d params=%s artifacts=%s version=%s' % (tag, len(runs), runs[0].data.params, arts,\n"
	"          mv.version))\n"
	"creds(MLFLOW_TRACKING_TOKEN=os.environ['T_WRITER'])\n"
	"work('token')\n"
	"creds(MLFLOW_TRACKING_USERNAME='writer', MLFLOW_TRACKING_PASSWORD=os.environ['T_WRITER'])\n"
	"work('basic')\n"
	"creds(MLFLOW_TRACKING_USERNAME='writer', MLFLOW_TRACKING_PASSWORD='wrong')\n"
	"print('wrong-password', refused(lambda: MlflowClient(tracker).create_experiment('x')))\n"
	"creds()\n"
	"print('no-credentials', refused(lambda: MlflowClient(tracker).search_experiments()))\n"
	"creds(MLFLOW_TRACKING_TOKEN=os.environ['T_READER'])\n"
	"print('reader-search', len(MlflowClient(tracker).search_experiments()))\n"
	"print('reader-write', refused(lambda: MlflowClient(tracker).create_experiment('y')))\n"
	"print('reader-registry-write', refused(lambda: MlflowClient(tracker, registry)"
	".create_registered_model('z')))\n";

static char *token_line(const char *name, const char *scope, const char *secret)
{
	char hex[CORE_SHA256_HEX_LEN + 1];
	ck_assert_int_eq(core_sha256_hex(secret, strlen(secret), hex), CORE_OK);
	char *line = NULL;
	ck_assert_int_gt(asprintf(&line, "%s %s %s\n", name, scope, hex), 0);
	return line;
}

static const char *mlflow_pythonpath(void)
{
	const char *pp = getenv("MLFLOW_PYTHONPATH");
	return pp && *pp ? pp : "/opt/mlflow-src:/opt/mlflow-deps";
}

static bool client_installed(void)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "PYTHONPATH='%s' /usr/bin/python3 -c 'import mlflow' >/dev/null 2>&1",
		 mlflow_pythonpath());
	return system(cmd) == 0;
}

/* Runs cmd and returns what it printed (stdout and stderr, malloc'd). */
static char *run(const char *cmd, int *status)
{
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	char *out = NULL;
	size_t len = 0, cap = 0;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, p)) > 0) {
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			out = realloc(out, cap);
			ck_assert_ptr_nonnull(out);
		}
		memcpy(out + len, chunk, n);
		len += n;
	}
	*status = pclose(p);
	if (!out)
		out = strdup("");
	else
		out[len] = '\0';
	return out;
}

static void expect_line(const char *out, const char *line)
{
	ck_assert_msg(strstr(out, line), "expected '%s' in the client's output:\n%s", line, out);
}

START_TEST(stock_client_token_and_basic)
{
	char *path = NULL, *w = token_line("writer", "write", WRITER_SECRET),
	     *r = token_line("reader", "read", READER_SECRET);
	ck_assert_int_gt(asprintf(&path, "%s/mlflow-tokens-%d", th_env("LATHE_TEST_TMP"), (int)getpid()), 0);
	char *text = NULL;
	ck_assert_int_gt(asprintf(&text, "%s%s", w, r), 0);
	struct core_error err;
	ck_assert_int_eq(core_write_file_atomic(path, text, strlen(text), &err), CORE_OK);
	char env_file[700], env_url[128];
	snprintf(env_file, sizeof env_file, "AUTH_TOKENS_FILE=%s", path);
	const char *tenv[] = {"AUTH=on", env_file, NULL};
	struct th_daemon *tracker = th_daemon_start("experiment-tracker", NULL, tenv);
	snprintf(env_url, sizeof env_url, "TRACKER_URL=%s", tracker->base_url);
	const char *renv[] = {"AUTH=on", env_file, env_url, NULL};
	struct th_daemon *reg = th_daemon_start("model-registry", NULL, renv);
	char cmd[2048];
	int status = 0;

	if (!client_installed()) {
		fprintf(stderr, "WAITING: the MLflow client is not installed here (setup-mlflow-client.sh); "
				"checking its two header forms with curl instead\n");
		snprintf(
			cmd, sizeof cmd,
			"curl -s -o /dev/null -w '%%{http_code}\\n' -H 'Authorization: Bearer %s' "
			"'%s/api/2.0/mlflow/experiments/search?max_results=1'; "
			"curl -s -o /dev/null -w '%%{http_code}\\n' -u 'writer:%s' -H 'Content-Type: application/json' "
			"-d '{\"name\": \"b\"}' '%s/api/2.0/mlflow/experiments/create'; "
			"curl -s -o /dev/null -w '%%{http_code}\\n' -u 'writer:wrong' "
			"'%s/api/2.0/mlflow/experiments/search?max_results=1'",
			READER_SECRET, tracker->base_url, WRITER_SECRET, tracker->base_url, tracker->base_url);
		char *out = run(cmd, &status);
		ck_assert_str_eq(out, "200\n200\n401\n");
		free(out);
		goto out;
	}
	char script_path[700];
	snprintf(script_path, sizeof script_path, "%s/mlflow_auth_%d.py", th_env("LATHE_TEST_TMP"), (int)getpid());
	ck_assert_int_eq(core_write_file_atomic(script_path, script, sizeof script - 1, &err), CORE_OK);
	snprintf(cmd, sizeof cmd,
		 "cd '%s' && PYTHONPATH='%s' T_WRITER='%s' T_READER='%s' MLFLOW_HTTP_REQUEST_MAX_RETRIES=0 "
		 "timeout 240 /usr/bin/python3 '%s' '%s' '%s' 2>&1",
		 th_env("LATHE_TEST_TMP"), mlflow_pythonpath(), WRITER_SECRET, READER_SECRET, script_path,
		 tracker->base_url, reg->base_url);
	char *out = run(cmd, &status);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the client failed:\n%s", out);
	expect_line(out, "token runs=1 params={'lr': '0.01'} artifacts=['model.json'] version=1");
	expect_line(out, "basic runs=1 params={'lr': '0.01'} artifacts=['model.json'] version=1");
	expect_line(out, "wrong-password UNAUTHENTICATED");
	expect_line(out, "no-credentials UNAUTHENTICATED");
	expect_line(out, "reader-search 3"); /* Default, exp-token, exp-basic */
	expect_line(out, "reader-write PERMISSION_DENIED");
	expect_line(out, "reader-registry-write PERMISSION_DENIED");
	free(out);
	unlink(script_path);
	ck_assert(th_daemon_log_has(tracker, "\"msg\":\"audit\"", "\"who\":\"writer\""));
	ck_assert(th_daemon_log_has(reg, "\"msg\":\"audit\"", "\"who\":\"writer\""));
out:
	th_daemon_stop(reg);
	th_daemon_stop(tracker);
	unlink(path);
	free(path);
	free(text);
	free(w);
	free(r);
}
END_TEST

static Suite *client_suite(void)
{
	Suite *s = suite_create("auth_mlflow_client");
	TCase *tc = tcase_create("client");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, stock_client_token_and_basic);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(client_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
