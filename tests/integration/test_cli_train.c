/* Integration tests of `lathe train` and `lathe jobs` (cli/train.c): the built lathe
 * binary against a real lathe-trainer (WORKERS=0: jobs stay QUEUED unless cancelled)
 * and data registry. A submit without following prints the job; ls, show and cancel
 * find it; a bad spec exits 1 with the server's message naming the field; `lathe train`
 * following a job exits non-zero when the job ends CANCELLED (cancelled here while it
 * follows), after printing its log lines. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness_cli.h"
#include "harness_trainer.h"
#include "harness.h"

static struct th_daemon *dr, *tr;

static char *tmp(const char *name)
{
	return th_fmt("%s/cli-train-%d-%s", th_env("LATHE_TEST_TMP"), (int)getpid(), name);
}

/* Runs `lathe ARGS` with LATHE_TRAINER_URL set to the trainer. */
static void lathe(struct th_run *r, const char *args)
{
	char *env = th_fmt("LATHE_TRAINER_URL='%s'", tr->base_url);
	th_lathe(r, env, args);
	free(env);
}

static char *write_spec(const char *name, const char *text)
{
	char *path = tmp(name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void setup(void)
{
	static const char *const env[] = {"PROFILE_POLL_MS=50", NULL};
	dr = th_daemon_start("data-registry", NULL, env);
	th_trainer_push_csv(dr, "iris", "a,b,species\n1,2,x\n2,1,y\n3,3,x\n1,1,y\n", "species");
	tr = th_trainer_start(dr, NULL);
}

static void teardown(void)
{
	th_daemon_stop(tr);
	th_daemon_stop(dr);
}

#define SPEC                                                                                                           \
	"{\"dataset\": \"iris@1\", \"target\": \"species\", \"model\": {\"type\": \"mlp\", \"hidden\": [4]}, "         \
	"\"epochs\": 3}"

START_TEST(submit_ls_show_cancel)
{
	char *spec = write_spec("spec.json", SPEC);
	struct th_run r;
	char *args = th_fmt("train --no-follow %s", spec);
	lathe(&r, args);
	ck_assert_msg(r.status == 0, "exit %d: %s %s", r.status, r.out, r.err);
	const char *p = strstr(r.out, "job ");
	ck_assert_ptr_nonnull(p);
	char id[33];
	snprintf(id, sizeof id, "%.32s", p + 4);
	ck_assert_ptr_nonnull(strstr(r.out, "queued"));
	free(args);

	lathe(&r, "jobs ls");
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, id));
	ck_assert_ptr_nonnull(strstr(r.out, "QUEUED"));
	ck_assert_ptr_nonnull(strstr(r.out, "mlp"));
	lathe(&r, "jobs ls --status CANCELLED --json");
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_null(strstr(r.out, id));

	args = th_fmt("jobs show %s", id);
	lathe(&r, args);
	ck_assert_int_eq(r.status, 0);
	json_t *job = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(job);
	ck_assert_str_eq(json_string_value(json_object_get(job, "id")), id);
	json_decref(job);
	free(args);

	args = th_fmt("jobs cancel %s", id);
	lathe(&r, args);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "CANCELLED"));
	lathe(&r, args); /* ended: the server's 400 */
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "cannot be cancelled"));
	free(args);

	lathe(&r, "jobs show nothex");
	ck_assert_int_eq(r.status, 2);

	/* a bad spec: exit 1 with the server's words */
	char *bad = write_spec("bad.json", "{\"dataset\": \"iris@1\", \"target\": \"species\", \"model\": {\"type\": "
					   "\"svm\"}}");
	args = th_fmt("train %s", bad);
	lathe(&r, args);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "model.type: unknown family 'svm'"), "%s", r.err);
	free(args);
	free(bad);
	free(spec);
}
END_TEST

START_TEST(train_follows_until_the_job_ends)
{
	char *spec = write_spec("follow.json", SPEC);
	char *out = tmp("follow-out"), *err = tmp("follow-err"), *st = tmp("follow-status");
	char *cmd = th_fmt("(env -u LATHE_URL LATHE_TRAINER_URL='%s' %s/lathe train %s >%s 2>%s; echo $? >%s) &",
			   tr->base_url, th_env("LATHE_TEST_BIN"), spec, out, err, st);
	unlink(st);
	ck_assert_int_eq(system(cmd), 0);
	/* the job appears, then is cancelled while lathe follows it */
	char *id = NULL;
	for (int i = 0; i < 100 && !id; i++) {
		char *v = th_trainer_sql(tr, "SELECT id FROM jobs");
		if (*v)
			id = v;
		else
			free(v), usleep(50 * 1000);
	}
	ck_assert_ptr_nonnull(id);
	usleep(700 * 1000);
	char *path = th_fmt("/v1/jobs/%s/cancel", id);
	json_decref(th_ok(tr, "POST", path, NULL));
	char status[16] = "";
	for (int i = 0; i < 200 && !status[0]; i++) {
		FILE *f = fopen(st, "r");
		if (f) {
			if (!fgets(status, sizeof status, f))
				status[0] = '\0';
			fclose(f);
		}
		if (!status[0])
			usleep(50 * 1000);
	}
	ck_assert_msg(status[0], "lathe train did not end after the cancel");
	ck_assert_int_eq(strtol(status, NULL, 10), 1);
	struct th_run r;
	th_lathe_read(&r, out, err);
	ck_assert_msg(strstr(r.out, "CANCELLED"), "%s", r.out);
	ck_assert_msg(strstr(r.err, "queued: mlp on iris@1"), "%s", r.err);
	ck_assert_msg(strstr(r.err, "cancelled before it started"), "%s", r.err);
	ck_assert_msg(strstr(r.err, "epoch 0/3"), "%s", r.err);
	unlink(out), unlink(err), unlink(st);
	free(path), free(id), free(cmd), free(out), free(err), free(st), free(spec);
}
END_TEST

static Suite *cli_train_suite(void)
{
	Suite *s = suite_create("cli-train");
	TCase *tc = tcase_create("cli");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, submit_ls_show_cancel);
	tcase_add_test(tc, train_follows_until_the_job_ends);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cli_train_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
