/* mlflow/run_tags.h: the run tags Lathe's trainer writes on its MLflow runs and other
 * services read back (the trainer's promotion and lineage, the drift monitor's
 * retraining), with the one reading of which job a run belongs to. Pure: the caller
 * fetches the tags its own way and passes their values; nothing here does I/O. */
#ifndef MLFLOW_RUN_TAGS_H
#define MLFLOW_RUN_TAGS_H
#include <stdbool.h>
#include <stddef.h>

/* The job's run key: the job id, or "<job id>-trial-<i>" on a sweep's trial run (it
 * finds the run again on a takeover, and users search by it). */
#define MLFLOW_TAG_JOB_ID "lathe.job_id"
/* On a sweep's trial runs only: the sweep's job id, and the trial's index (decimal). */
#define MLFLOW_TAG_SWEEP_JOB_ID "lathe.sweep_job_id"
#define MLFLOW_TAG_SWEEP_TRIAL  "lathe.sweep_trial"
/* What joins a sweep's job id and a trial index in a trial run's lathe.job_id. */
#define MLFLOW_TRIAL_INFIX "-trial-"

/* Whether tag is the old trial form "<job>-trial-<i>" (<job> not empty, <i> one or more
 * decimal digits, the last "-trial-" in tag): then *job_len (may be NULL) is <job>'s
 * length in bytes and *trial (may be NULL) is <i> (false when <i> does not fit a
 * long). NULL or any other text: false, outputs untouched. */
bool mlflow_trial_key_split(const char *tag, size_t *job_len, long *trial);

/* The trainer's job of a run from its tags' values (each NULL when the run lacks it):
 *   sweep_job_id set (a trial written since the sweep tags exist): that job, and the
 *     trial sweep_trial names (else the one job_id names, else -1);
 *   else job_id in the old trial form (a trial written before): the job and trial it
 *     names (mlflow_trial_key_split);
 *   else job_id itself, trial -1 (one job's run, or not a trial).
 * Returns the job id (malloc'd), or NULL when neither tag is set (not the trainer's
 * run). *trial (may be NULL): the trial index, -1 when the run is no sweep's trial. */
char *mlflow_run_job(const char *job_id, const char *sweep_job_id, const char *sweep_trial, long *trial);
#endif
