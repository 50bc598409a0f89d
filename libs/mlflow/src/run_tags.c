/* Which trainer job a run belongs to (mlflow/run_tags.h): a sweep's trial runs carry
 * lathe.sweep_job_id and lathe.sweep_trial, and the ones written before those tags
 * existed only "<job>-trial-<i>" in lathe.job_id. The trainer's evaluation and lineage
 * and the drift monitor's retraining all ask this question; reading it here, once,
 * keeps them from disagreeing on an odd tag. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "mlflow/run_tags.h"

/* A whole, non-empty run of decimal digits that fits a long: its value. */
static bool decimal(const char *s, long *out)
{
	if (!s || !*s || strspn(s, "0123456789") != strlen(s))
		return false;
	errno = 0;
	long v = strtol(s, NULL, 10);
	if (errno == ERANGE)
		return false;
	*out = v;
	return true;
}

bool mlflow_trial_key_split(const char *tag, size_t *job_len, long *trial)
{
	if (!tag)
		return false;
	const char *last = NULL;
	for (const char *p = strstr(tag, MLFLOW_TRIAL_INFIX); p; p = strstr(p + 1, MLFLOW_TRIAL_INFIX))
		last = p;
	long t;
	if (!last || last == tag || !decimal(last + strlen(MLFLOW_TRIAL_INFIX), &t))
		return false;
	if (job_len)
		*job_len = (size_t)(last - tag);
	if (trial)
		*trial = t;
	return true;
}

char *mlflow_run_job(const char *job_id, const char *sweep_job_id, const char *sweep_trial, long *trial)
{
	long t = -1;
	size_t n = 0;
	char *job = NULL;
	if (sweep_job_id && *sweep_job_id) {
		job = core_xstrdup(sweep_job_id);
		if (!decimal(sweep_trial, &t) && !mlflow_trial_key_split(job_id, NULL, &t))
			t = -1;
	} else if (mlflow_trial_key_split(job_id, &n, &t)) {
		job = core_xstrndup(job_id, n);
	} else if (job_id && *job_id) {
		job = core_xstrdup(job_id);
	}
	if (trial)
		*trial = t;
	return job;
}
