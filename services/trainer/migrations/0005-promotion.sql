-- 0005: champion / challenger evaluation. A model's promotion policy, and one row per
-- evaluation of a challenger version against the champion of the moment: the
-- models.events consumer (or POST /v1/evaluations) queues it, a worker claims it with a
-- lease as jobs are claimed, and records the decision. Times are Unix milliseconds.
CREATE TABLE policies (
    model           text PRIMARY KEY,
    metric          text NOT NULL DEFAULT 'accuracy' CHECK (metric IN ('accuracy', 'macro_f1', 'log_loss')),
    min_improvement double precision NOT NULL DEFAULT 0 CHECK (min_improvement >= 0),
    max_recall_drop double precision NOT NULL DEFAULT 0.02 CHECK (max_recall_drop BETWEEN 0 AND 1),
    mode            text NOT NULL DEFAULT 'auto' CHECK (mode IN ('auto', 'manual')),
    updated_at      bigint NOT NULL
);
COMMENT ON TABLE policies IS 'how a challenger of a model is judged; a model without a row gets the default policy';
COMMENT ON COLUMN policies.metric IS 'the metric that must improve: accuracy, macro_f1 (higher is better) or log_loss (lower is better)';
COMMENT ON COLUMN policies.min_improvement IS 'how much the metric must improve on the challenger''s test split';
COMMENT ON COLUMN policies.max_recall_drop IS 'how far any one class''s recall may fall';
COMMENT ON COLUMN policies.mode IS 'auto: a passing challenger is promoted; manual: the verdict is recorded, no alias moves';

CREATE TABLE evaluations (
    id                 text PRIMARY KEY,
    model              text NOT NULL,
    challenger_version text NOT NULL,
    champion_version   text,
    status             text NOT NULL DEFAULT 'QUEUED' CHECK (status IN ('QUEUED', 'RUNNING', 'DONE', 'FAILED')),
    decision           text CHECK (decision IN ('promoted', 'rejected', 'manual')),
    reason             text,
    metrics            jsonb,
    run_id             text,
    worker             text,
    lease_until        bigint,
    attempt            int NOT NULL DEFAULT 0,
    created_at         bigint NOT NULL,
    ended_at           bigint
);
-- one evaluation per (model, challenger, champion): a redelivered alias event finds it
CREATE UNIQUE INDEX evaluations_once ON evaluations (model, challenger_version, (coalesce(champion_version, '')));
CREATE INDEX evaluations_by_model ON evaluations (model, created_at DESC, id DESC);
CREATE INDEX evaluations_queued ON evaluations (created_at) WHERE status IN ('QUEUED', 'RUNNING');
COMMENT ON TABLE evaluations IS 'challenger evaluations: queued by the models.events consumer or the API, run by a worker';
COMMENT ON COLUMN evaluations.id IS 'uuid as 32 lower-case hex digits';
COMMENT ON COLUMN evaluations.champion_version IS 'the champion when the evaluation was queued; NULL when the model had none';
COMMENT ON COLUMN evaluations.status IS 'QUEUED -> RUNNING -> DONE | FAILED; RUNNING -> RUNNING under another worker once its lease ran out';
COMMENT ON COLUMN evaluations.decision IS 'promoted | rejected | manual (mode manual: nothing moved), once DONE';
COMMENT ON COLUMN evaluations.reason IS 'why: the metric delta and recall drops, or why the evaluation FAILED';
COMMENT ON COLUMN evaluations.metrics IS 'champion_<m>, challenger_<m>, delta_<m> on the challenger''s test split, own_ ones on the champion''s';
COMMENT ON COLUMN evaluations.run_id IS 'the experiment tracker''s run of the comparison (experiment lathe-promotion)';
COMMENT ON COLUMN evaluations.lease_until IS 'Unix ms until which worker holds a RUNNING evaluation';
