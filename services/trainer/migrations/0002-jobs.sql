-- 0002: training jobs and their log lines. A job row is the whole truth about a job:
-- the API writes it (with its training.requests event, in one transaction), a worker
-- claims it by taking a lease it keeps renewing, and records progress, the tracker run
-- and the registered version on it. Times are Unix milliseconds (bigint).
CREATE TABLE jobs (
    id               text PRIMARY KEY,
    status           text NOT NULL DEFAULT 'QUEUED'
                     CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    spec             jsonb NOT NULL,
    created_at       bigint NOT NULL,
    started_at       bigint,
    ended_at         bigint,
    failure          text,
    epoch            int NOT NULL DEFAULT 0,
    step             bigint NOT NULL DEFAULT 0,
    loss             double precision,
    metrics          jsonb,
    run_id           text,
    parent_run_id    text,
    model_name       text,
    model_version    text,
    worker           text,
    lease_until      bigint,
    attempt          int NOT NULL DEFAULT 0,
    cancel_requested boolean NOT NULL DEFAULT false,
    checkpoint       text,
    registered       boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE jobs IS 'training jobs: the spec as submitted, the state machine, progress, what the job left in the tracker and registry';
COMMENT ON COLUMN jobs.id IS 'uuid as 32 lower-case hex digits; also the Kafka key of the job''s events';
COMMENT ON COLUMN jobs.status IS 'QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED; QUEUED -> CANCELLED; RUNNING -> QUEUED when its lease ran out';
COMMENT ON COLUMN jobs.spec IS 'the job spec as submitted, validated before the row was written';
COMMENT ON COLUMN jobs.created_at IS 'Unix ms of the submit; with id, the key of the newest-first listing';
COMMENT ON COLUMN jobs.started_at IS 'Unix ms of the first claim (a takeover keeps it)';
COMMENT ON COLUMN jobs.ended_at IS 'Unix ms the job reached SUCCEEDED, FAILED or CANCELLED';
COMMENT ON COLUMN jobs.failure IS 'why the job FAILED (or what cancelled it), shown to the client';
COMMENT ON COLUMN jobs.epoch IS 'epochs finished (of the current trial for a sweep)';
COMMENT ON COLUMN jobs.step IS 'mini-batches done in all';
COMMENT ON COLUMN jobs.loss IS 'the latest mini-batch or epoch loss; NULL before the first';
COMMENT ON COLUMN jobs.metrics IS 'latest metrics by name (val_loss, val_accuracy, ...; final test metrics at the end)';
COMMENT ON COLUMN jobs.run_id IS 'the experiment tracker''s run of this job (tag lathe.job_id), once made';
COMMENT ON COLUMN jobs.parent_run_id IS 'a sweep''s parent run, NULL for a single run';
COMMENT ON COLUMN jobs.model_name IS 'register.model of the spec, NULL when the job registers nothing';
COMMENT ON COLUMN jobs.model_version IS 'the model version the job registered, once it did';
COMMENT ON COLUMN jobs.worker IS 'the worker holding the lease (host:pid/thread), NULL when none';
COMMENT ON COLUMN jobs.lease_until IS 'Unix ms until which the worker holds the job; a RUNNING job past it may be taken over';
COMMENT ON COLUMN jobs.attempt IS 'claims so far: 1 for a job that ran once, more after takeovers';
COMMENT ON COLUMN jobs.cancel_requested IS 'a client asked to cancel a RUNNING job: its worker stops at the next mini-batch';
COMMENT ON COLUMN jobs.checkpoint IS 'sha256 of the last epoch''s checkpoint in the trainer''s blob store, where a takeover resumes';
COMMENT ON COLUMN jobs.registered IS 'the model version was created (and its alias set): never register twice';

CREATE INDEX jobs_created_idx ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_status_created_idx ON jobs (status, created_at DESC, id DESC);
CREATE INDEX jobs_lease_idx ON jobs (lease_until) WHERE status = 'RUNNING';
COMMENT ON INDEX jobs_created_idx IS 'GET /v1/jobs: newest first, keyset pages';
COMMENT ON INDEX jobs_status_created_idx IS 'GET /v1/jobs?status=: the same, of one status';
COMMENT ON INDEX jobs_lease_idx IS 'the periodic re-queue of RUNNING jobs whose lease ran out';

CREATE TABLE job_events (
    job_id text NOT NULL REFERENCES jobs ON DELETE CASCADE,
    seq    bigserial NOT NULL,
    at     bigint NOT NULL,
    level  text NOT NULL CHECK (level IN ('info', 'warn', 'error')),
    line   text NOT NULL,
    PRIMARY KEY (job_id, seq)
);
COMMENT ON TABLE job_events IS 'a job''s log lines, what GET /v1/jobs/{id}/events streams';
COMMENT ON COLUMN job_events.job_id IS 'the job';
COMMENT ON COLUMN job_events.seq IS 'from one sequence for all jobs: increasing within a job, so ?after=<seq> resumes a stream';
COMMENT ON COLUMN job_events.at IS 'Unix ms the line was written';
COMMENT ON COLUMN job_events.level IS 'info | warn | error';
COMMENT ON COLUMN job_events.line IS 'the line, one line of text';
