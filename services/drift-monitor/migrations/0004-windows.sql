-- 0004: what the stream keeps durable between batches: each monitor's open window (the
-- state window.c saves, written in the transaction that precedes the Kafka commit of
-- the batch that changed it), the time of a monitor's last alert (its cooldown), and
-- the retraining requests a drifted window left for the trainer. Times are Unix ms.
CREATE TABLE windows (
    monitor_id    text PRIMARY KEY REFERENCES monitors ON DELETE CASCADE,
    model_version text NOT NULL,
    rows          bigint NOT NULL CHECK (rows >= 0),
    state         bytea NOT NULL,
    updated_at    bigint NOT NULL
);
COMMENT ON TABLE windows IS 'the open window of each monitor that has seen a prediction: its state as window.c saves it';
COMMENT ON COLUMN windows.model_version IS 'the model version whose predictions the window holds and whose reference it is compared with';
COMMENT ON COLUMN windows.rows IS 'predictions in the window (also inside state; here for people and gauges)';
COMMENT ON COLUMN windows.state IS 'window.c''s saved form: per column a reservoir or category counts, the dedupe keys, the Kafka position of the last event applied';
COMMENT ON COLUMN windows.updated_at IS 'Unix ms of the last batch that changed the window';

ALTER TABLE monitors ADD COLUMN last_alert_at bigint;
COMMENT ON COLUMN monitors.last_alert_at IS 'Unix ms of the last drift.alerts event (or retraining request) of this monitor; the next waits alert_cooldown_s after it';

CREATE TABLE retrains (
    id            text PRIMARY KEY,
    monitor_id    text NOT NULL REFERENCES monitors ON DELETE CASCADE,
    report_id     text NOT NULL REFERENCES reports ON DELETE CASCADE,
    model         text NOT NULL,
    model_version text NOT NULL,
    status        text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SUBMITTED', 'FAILED')),
    job_id        text,
    failure       text,
    attempts      integer NOT NULL DEFAULT 0,
    created_at    bigint NOT NULL,
    updated_at    bigint NOT NULL
);
COMMENT ON TABLE retrains IS 'retraining requests of monitors whose policy is retrain: written with the drifted report, sent to the trainer afterwards (POST /v1/jobs) by the retrain task';
COMMENT ON COLUMN retrains.status IS 'PENDING: not sent yet (or the trainer did not answer); SUBMITTED: the trainer queued job_id; FAILED: the trainer refused it (failure says why)';
COMMENT ON COLUMN retrains.job_id IS 'the trainer job made for it';
COMMENT ON COLUMN retrains.attempts IS 'calls to the trainer so far';

CREATE INDEX retrains_pending_idx ON retrains (created_at) WHERE status = 'PENDING';
CREATE INDEX retrains_report_idx ON retrains (report_id);
COMMENT ON INDEX retrains_pending_idx IS 'the retrain task: the oldest pending requests first';
COMMENT ON INDEX retrains_report_idx IS 'the cascade when a report goes';
