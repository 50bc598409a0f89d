/* Running the built `lathe` command in an integration test (prefix th_): the binary of
 * the variant under test ($LATHE_TEST_BIN/lathe) with the environment the test gives
 * and none of the caller's service URLs, its exit status and what it printed. Built on
 * harness.h; every test of a `lathe` noun may use it. */
#ifndef LATHE_TEST_CLI_H
#define LATHE_TEST_CLI_H
#include "harness.h"

struct th_run {
	int status;      /* exit status, or -1 when it did not exit */
	char out[65536]; /* stdout (cut at the size) */
	char err[16384]; /* stderr */
};

/* Runs `lathe ARGS` (args: a shell fragment) with env ("NAME='value' ...", may be "")
 * after unsetting LATHE_URL and every noun's own URL variable, so only what the test
 * names is used. Output goes through files in LATHE_TEST_TMP. */
void th_lathe(struct th_run *r, const char *env, const char *args);

/* Reads what a `lathe` run the test started itself (in the background, say) wrote to
 * out_path and err_path into r (status untouched). */
void th_lathe_read(struct th_run *r, const char *out_path, const char *err_path);

/* Fails the test unless r exited with status; what names the call in the message. */
void th_lathe_expect_exit(const struct th_run *r, int status, const char *what);
#endif
