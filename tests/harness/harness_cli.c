/* The `lathe` runner of the CLI tests (harness_cli.h): one shell command per call,
 * stdout and stderr into scratch files read back whole. */
#include "harness_cli.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
}

void th_lathe(struct th_run *r, const char *env, const char *args)
{
	static unsigned seq;
	char *out = th_fmt("%s/lathe-out-%d-%u", th_env("LATHE_TEST_TMP"), (int)getpid(), seq);
	char *err = th_fmt("%s/lathe-err-%d-%u", th_env("LATHE_TEST_TMP"), (int)getpid(), seq++);
	char *cmd =
		th_fmt("env -u LATHE_URL -u LATHE_DATA_URL -u LATHE_TRAINER_URL -u INFERENCE_URL -u LATHE_DRIFT_URL "
		       "-u LATHE_INFER_URL -u LATHE_TRACKER_URL -u LATHE_REGISTRY_URL "
		       "%s %s/lathe %s >%s 2>%s",
		       env, th_env("LATHE_TEST_BIN"), args, out, err);
	int st = system(cmd);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	th_lathe_read(r, out, err);
	unlink(out);
	unlink(err);
	free(cmd), free(out), free(err);
}

void th_lathe_read(struct th_run *r, const char *out_path, const char *err_path)
{
	slurp(out_path, r->out, sizeof r->out);
	slurp(err_path, r->err, sizeof r->err);
}

void th_lathe_expect_exit(const struct th_run *r, int status, const char *what)
{
	ck_assert_msg(r->status == status, "%s: exit %d, expected %d\nstdout: %s\nstderr: %s", what, r->status, status,
		      r->out, r->err);
}
