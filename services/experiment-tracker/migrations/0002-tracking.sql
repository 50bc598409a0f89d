-- 0002: MLflow's tracking entities. Names follow MLflow's so the REST layer maps
-- one to one. Times are Unix milliseconds (bigint), as MLflow sends them.
CREATE TABLE experiments (
    experiment_id     bigint PRIMARY KEY,
    name              text NOT NULL,
    artifact_location text NOT NULL,
    lifecycle_stage   text NOT NULL DEFAULT 'active' CHECK (lifecycle_stage IN ('active', 'deleted')),
    creation_time     bigint NOT NULL,
    last_update_time  bigint NOT NULL,
    CONSTRAINT experiments_name_key UNIQUE (name)
);
COMMENT ON TABLE experiments IS 'MLflow experiments; id 0 is Default, names unique across active and deleted';
COMMENT ON COLUMN experiments.artifact_location IS 'mlflow-artifacts:/<id> unless the client chose one';
CREATE SEQUENCE experiments_id_seq START 1 OWNED BY experiments.experiment_id;
INSERT INTO experiments (experiment_id, name, artifact_location, creation_time, last_update_time)
VALUES (0, 'Default', 'mlflow-artifacts:/0', (extract(epoch FROM now()) * 1000)::bigint,
        (extract(epoch FROM now()) * 1000)::bigint);

CREATE TABLE experiment_tags (
    experiment_id bigint NOT NULL REFERENCES experiments ON DELETE CASCADE,
    key           text NOT NULL,
    value         text NOT NULL DEFAULT '',
    PRIMARY KEY (experiment_id, key)
);
COMMENT ON TABLE experiment_tags IS 'experiment tags; upserted';

CREATE TABLE runs (
    run_id          text PRIMARY KEY,
    experiment_id   bigint NOT NULL REFERENCES experiments,
    run_name        text NOT NULL DEFAULT '',
    user_id         text NOT NULL DEFAULT '',
    status          text NOT NULL DEFAULT 'RUNNING'
                    CHECK (status IN ('RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED')),
    start_time      bigint,
    end_time        bigint,
    artifact_uri    text NOT NULL,
    lifecycle_stage text NOT NULL DEFAULT 'active' CHECK (lifecycle_stage IN ('active', 'deleted')),
    deleted_time    bigint
);
COMMENT ON TABLE runs IS 'MLflow runs; run_id is 32 lower-case hex characters (uuid4)';
CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time DESC, run_id);

CREATE TABLE params (
    run_id text NOT NULL REFERENCES runs ON DELETE CASCADE,
    key    text NOT NULL,
    value  text NOT NULL,
    PRIMARY KEY (run_id, key)
);
COMMENT ON TABLE params IS 'run parameters; write-once (same value accepted, a different one rejected)';
CREATE INDEX params_by_key ON params (key, value);

CREATE TABLE tags (
    run_id text NOT NULL REFERENCES runs ON DELETE CASCADE,
    key    text NOT NULL,
    value  text NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, key)
);
COMMENT ON TABLE tags IS 'run tags, mlflow.* system tags included; upserted';
CREATE INDEX tags_by_key ON tags (key, value);

CREATE TABLE metrics (
    run_id    text NOT NULL REFERENCES runs ON DELETE CASCADE,
    key       text NOT NULL,
    value     double precision NOT NULL,
    timestamp bigint NOT NULL,
    step      bigint NOT NULL DEFAULT 0,
    seq       bigserial NOT NULL,
    PRIMARY KEY (run_id, key, timestamp, step, value)
);
COMMENT ON TABLE metrics IS 'every logged metric point; identical points deduplicated by the key';
COMMENT ON COLUMN metrics.value IS 'NaN stored as NaN (PostgreSQL orders it above every number)';
COMMENT ON COLUMN metrics.seq IS 'arrival order: get-history answers in it';
CREATE INDEX metrics_history ON metrics (run_id, key, seq);

CREATE TABLE latest_metrics (
    run_id    text NOT NULL REFERENCES runs ON DELETE CASCADE,
    key       text NOT NULL,
    value     double precision NOT NULL,
    timestamp bigint NOT NULL,
    step      bigint NOT NULL,
    PRIMARY KEY (run_id, key)
);
COMMENT ON TABLE latest_metrics IS 'per run and key, the point greatest by (step, timestamp, value): what runs/get and search see';
CREATE INDEX latest_metrics_by_key ON latest_metrics (key, value);

CREATE TABLE datasets (
    dataset_id    bigserial PRIMARY KEY,
    experiment_id bigint NOT NULL REFERENCES experiments,
    name          text NOT NULL,
    digest        text NOT NULL,
    source_type   text NOT NULL,
    source        text NOT NULL,
    schema        text,
    profile       text,
    UNIQUE (experiment_id, name, digest)
);
COMMENT ON TABLE datasets IS 'MLflow datasets logged through log-inputs, one per (experiment, name, digest)';

CREATE TABLE inputs (
    input_id   bigserial PRIMARY KEY,
    dataset_id bigint NOT NULL REFERENCES datasets,
    run_id     text NOT NULL REFERENCES runs ON DELETE CASCADE,
    UNIQUE (dataset_id, run_id)
);
COMMENT ON TABLE inputs IS 'which run used which dataset';

CREATE TABLE input_tags (
    input_id bigint NOT NULL REFERENCES inputs ON DELETE CASCADE,
    key      text NOT NULL,
    value    text NOT NULL,
    PRIMARY KEY (input_id, key)
);
COMMENT ON TABLE input_tags IS 'tags of a dataset input (e.g. mlflow.data.context = training)';
