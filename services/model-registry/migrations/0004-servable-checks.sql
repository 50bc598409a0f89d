-- 0004: the servability check leaves the request path. model-versions/create used to
-- ask the tracker before answering, so a hung tracker stalled the registry (14.5 s for
-- a registered-models/get). Now create records the version at once with
-- lathe.servable = 'pending' and a row here; the registry's periodic task (servable.c)
-- asks the tracker, with a short timeout, and records the answer.
CREATE TABLE servable_checks (
    model_id bigint NOT NULL,
    version  bigint NOT NULL,
    attempts int    NOT NULL DEFAULT 0,
    next_at  bigint NOT NULL,
    request_id text NOT NULL DEFAULT '',
    PRIMARY KEY (model_id, version),
    FOREIGN KEY (model_id, version) REFERENCES model_versions ON DELETE CASCADE
);
CREATE INDEX servable_checks_next_at ON servable_checks (next_at);
COMMENT ON TABLE servable_checks IS 'model versions whose lathe.servable check is pending; removed once answered';
COMMENT ON COLUMN servable_checks.attempts IS 'tracker calls made so far (each unanswered one is retried later)';
COMMENT ON COLUMN servable_checks.request_id IS 'X-Request-Id of the registration, forwarded to the tracker';
COMMENT ON COLUMN servable_checks.next_at IS 'Unix ms when the check is due; a worker that claims it pushes it past its lease';
