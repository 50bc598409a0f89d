/* Unit tests of libs/mlflow's run tags (mlflow/run_tags.h), the one reading of which
 * trainer job a run belongs to that the trainer's evaluation and lineage and the drift
 * monitor's retraining share: the old trial form "<job>-trial-<i>" split and refused,
 * the sweep tags taken before it, a plain job's run, and a run with no trainer tag.
 * Links libmlflow.a. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlflow/run_tags.h"

#define JOB "0123456789abcdef0123456789abcdef"

static void splits(const char *tag, size_t job_len, long trial)
{
	size_t n = 999;
	long t = -2;
	ck_assert_msg(mlflow_trial_key_split(tag, &n, &t), "<%s> not split", tag);
	ck_assert_uint_eq(n, job_len);
	ck_assert_int_eq(t, trial);
	ck_assert(mlflow_trial_key_split(tag, NULL, NULL));
}

static void refused(const char *tag)
{
	size_t n = 999;
	long t = -2;
	ck_assert_msg(!mlflow_trial_key_split(tag, &n, &t), "<%s> split", tag ? tag : "(null)");
	ck_assert_uint_eq(n, 999); /* untouched */
	ck_assert_int_eq(t, -2);
}

/* mlflow_run_job gives want (NULL: none) and trial. */
static void job_is(const char *job_id, const char *sweep_job_id, const char *sweep_trial, const char *want, long trial)
{
	long t = -2;
	char *job = mlflow_run_job(job_id, sweep_job_id, sweep_trial, &t);
	if (want)
		ck_assert_msg(job && strcmp(job, want) == 0, "<%s, %s, %s> -> <%s>, want <%s>", job_id, sweep_job_id,
			      sweep_trial, job ? job : "(null)", want);
	else
		ck_assert_msg(!job, "<%s> -> <%s>, want none", job_id, job);
	ck_assert_int_eq(t, trial);
	free(job);
	job = mlflow_run_job(job_id, sweep_job_id, sweep_trial, NULL);
	ck_assert(want ? job && strcmp(job, want) == 0 : !job);
	free(job);
}

START_TEST(old_trial_form_splits)
{
	splits(JOB "-trial-0", 32, 0);
	splits(JOB "-trial-3", 32, 3);
	splits(JOB "-trial-12", 32, 12);
	splits("j-trial-007", 1, 7);
	/* the last infix counts: a job id holding one stays whole */
	splits("a-trial-b-trial-2", 9, 2);
	/* what sweep.c writes reads back */
	char key[64];
	snprintf(key, sizeof key, "%s" MLFLOW_TRIAL_INFIX "%zu", JOB, (size_t)41);
	splits(key, 32, 41);
}
END_TEST

START_TEST(other_texts_are_no_trial)
{
	refused(NULL);
	refused("");
	refused(JOB);
	refused(JOB "-trial-");                        /* no index */
	refused(JOB "-trial-x");                       /* not a number */
	refused(JOB "-trial-1x");                      /* not only digits */
	refused(JOB "-trial--1");                      /* no sign */
	refused(JOB "-trial- 1");                      /* no space */
	refused("-trial-1");                           /* no job */
	refused(JOB "-trial-1-x");                     /* more after the index */
	refused(JOB "-trial-99999999999999999999999"); /* out of range */
	refused("eval-" JOB);
}
END_TEST

START_TEST(sweep_tags_come_first)
{
	/* a trial written since the sweep tags exist */
	job_is(JOB "-trial-2", JOB, "2", JOB, 2);
	/* the explicit tags win over whatever lathe.job_id says */
	job_is("renamed-by-hand", JOB, "5", JOB, 5);
	job_is(NULL, JOB, "5", JOB, 5);
	/* a missing or unreadable trial tag: the index from lathe.job_id, else none */
	job_is(JOB "-trial-4", JOB, NULL, JOB, 4);
	job_is(JOB "-trial-4", JOB, "four", JOB, 4);
	job_is(JOB, JOB, "", JOB, -1);
	/* an empty sweep job tag is no tag */
	job_is(JOB "-trial-1", "", "1", JOB, 1);
}
END_TEST

START_TEST(older_runs_fall_back_to_the_job_tag)
{
	/* a trial written before the sweep tags */
	job_is(JOB "-trial-1", NULL, NULL, JOB, 1);
	job_is(JOB "-trial-10", NULL, NULL, JOB, 10);
	/* one job's run, or a tag that is no trial's: as it is */
	job_is(JOB, NULL, NULL, JOB, -1);
	job_is(JOB "-trial-x", NULL, NULL, JOB "-trial-x", -1);
	job_is("eval-" JOB, NULL, NULL, "eval-" JOB, -1);
	/* not the trainer's run */
	job_is(NULL, NULL, NULL, NULL, -1);
	job_is("", NULL, NULL, NULL, -1);
	job_is("", "", "3", NULL, -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mlflow_run_tags");
	TCase *tc = tcase_create("run_tags");
	tcase_add_test(tc, old_trial_form_splits);
	tcase_add_test(tc, other_texts_are_no_trial);
	tcase_add_test(tc, sweep_tags_come_first);
	tcase_add_test(tc, older_runs_fall_back_to_the_job_tag);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
