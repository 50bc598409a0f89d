-- 0004: schedules and their firings. A schedule submits its job spec on a cron
-- expression (UTC) or when an event arrives; each firing is one row whose unique key
-- (schedule_id, fire_key) makes every trainer replica, and every redelivery of an
-- event, fire a due time or an event once. Times are Unix milliseconds (bigint).
CREATE TABLE schedules (
    id          text PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    spec        jsonb NOT NULL,
    cron        text,
    trigger     jsonb,
    paused      boolean NOT NULL DEFAULT false,
    next_due_at bigint,
    max_retries int NOT NULL DEFAULT 2 CHECK (max_retries BETWEEN 0 AND 10),
    backoff_ms  bigint NOT NULL DEFAULT 60000 CHECK (backoff_ms >= 0),
    created_at  bigint NOT NULL,
    updated_at  bigint NOT NULL,
    CHECK ((cron IS NULL) <> (trigger IS NULL))
);
COMMENT ON TABLE schedules IS 'job specs submitted on a cron expression or on an event (dataset version ready, drift alert)';
COMMENT ON COLUMN schedules.id IS 'uuid as 32 lower-case hex digits';
COMMENT ON COLUMN schedules.name IS 'unique name given by the client';
COMMENT ON COLUMN schedules.spec IS 'the job spec, validated as POST /v1/jobs validates one';
COMMENT ON COLUMN schedules.cron IS 'five-field cron expression in UTC (or @daily ...); NULL for an event trigger';
COMMENT ON COLUMN schedules.trigger IS '{event: dataset.version.ready, dataset} or {event: drift.alert, model}; NULL for cron';
COMMENT ON COLUMN schedules.paused IS 'a paused schedule fires nothing and retries nothing';
COMMENT ON COLUMN schedules.next_due_at IS 'Unix ms of the next cron firing; NULL for an event trigger';
COMMENT ON COLUMN schedules.max_retries IS 'how many times a fired job that ended FAILED is submitted again (0..10)';
COMMENT ON COLUMN schedules.backoff_ms IS 'the wait before the first retry; doubled for each further one';
COMMENT ON COLUMN schedules.created_at IS 'Unix ms of the create; with id, the listing''s keyset; events older than it fire nothing';
COMMENT ON COLUMN schedules.updated_at IS 'Unix ms of the last change; guards updates against a concurrent one';
CREATE INDEX schedules_due_idx ON schedules (next_due_at) WHERE cron IS NOT NULL AND NOT paused;
CREATE INDEX schedules_created_idx ON schedules (created_at DESC, id DESC);
CREATE INDEX schedules_trigger_idx ON schedules ((trigger->>'event')) WHERE trigger IS NOT NULL;
COMMENT ON INDEX schedules_due_idx IS 'the periodic task''s due cron schedules';
COMMENT ON INDEX schedules_created_idx IS 'GET /v1/schedules: newest first, keyset pages';
COMMENT ON INDEX schedules_trigger_idx IS 'the schedules an incoming event may fire';

CREATE TABLE firings (
    id          text NOT NULL UNIQUE,
    schedule_id text NOT NULL REFERENCES schedules ON DELETE CASCADE,
    fire_key    text NOT NULL,
    fired_at    bigint NOT NULL,
    spec        jsonb NOT NULL,
    job_id      text NOT NULL,
    job_ids     text[] NOT NULL,
    attempt     int NOT NULL DEFAULT 1,
    status      text NOT NULL DEFAULT 'QUEUED',
    retry_at    bigint,
    PRIMARY KEY (schedule_id, fire_key)
);
COMMENT ON TABLE firings IS 'one row per due time or event a schedule fired for: its jobs, one per attempt';
COMMENT ON COLUMN firings.id IS 'uuid as 32 lower-case hex digits: with fired_at, the history''s keyset';
COMMENT ON COLUMN firings.fire_key IS 'the due time (Unix ms as text) of a cron firing, or the triggering CloudEvent''s id';
COMMENT ON COLUMN firings.fired_at IS 'Unix ms the firing was written';
COMMENT ON COLUMN firings.spec IS 'the spec the jobs were submitted with (a dataset trigger pins the version)';
COMMENT ON COLUMN firings.job_id IS 'the last attempt''s job';
COMMENT ON COLUMN firings.job_ids IS 'every attempt''s job, first attempt first';
COMMENT ON COLUMN firings.attempt IS 'attempts so far: 1, and one more per retry; retries compare-and-set on it';
COMMENT ON COLUMN firings.status IS 'the last job''s status, as the periodic task last saw it';
COMMENT ON COLUMN firings.retry_at IS 'Unix ms at which the FAILED last job is submitted again; NULL when no retry is pending';
CREATE INDEX firings_list_idx ON firings (schedule_id, fired_at DESC, id DESC);
CREATE INDEX firings_open_idx ON firings (job_id) WHERE status IN ('QUEUED', 'RUNNING');
CREATE INDEX firings_retry_idx ON firings (retry_at) WHERE retry_at IS NOT NULL;
COMMENT ON INDEX firings_list_idx IS 'GET /v1/schedules/{id}/firings: newest first, keyset pages';
COMMENT ON INDEX firings_open_idx IS 'the periodic task''s look at the jobs that have not ended';
COMMENT ON INDEX firings_retry_idx IS 'the periodic task''s due retries';
