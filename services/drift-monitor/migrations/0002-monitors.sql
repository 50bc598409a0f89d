-- 0002: monitors, one per watched model: what window of live traffic to compare with the
-- model's reference, how each feature is tested, when the whole counts as drifted, and
-- what a drifted window sets off. A row is written by POST /v1/monitors (or, later, by
-- the first prediction of a model with none) and changed by PATCH; the window state and
-- the reference a later slice keeps live in tables of their own. Times are Unix ms.
CREATE TABLE monitors (
    id               text PRIMARY KEY,
    model            text NOT NULL,
    window_size      bigint CHECK (window_size > 0),
    window_seconds   bigint CHECK (window_seconds > 0),
    features         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(features) = 'object'),
    drift_share      double precision NOT NULL DEFAULT 0.5 CHECK (drift_share > 0 AND drift_share <= 1),
    alert_policy     text NOT NULL DEFAULT 'alert' CHECK (alert_policy IN ('none', 'alert', 'retrain')),
    alert_cooldown_s bigint NOT NULL CHECK (alert_cooldown_s >= 0),
    created_at       bigint NOT NULL,
    updated_at       bigint NOT NULL,
    CONSTRAINT monitors_model_key UNIQUE (model),
    CONSTRAINT monitors_one_window CHECK ((window_size IS NULL) <> (window_seconds IS NULL))
);
COMMENT ON TABLE monitors IS 'drift monitors, one per registered model: window, per-feature tests, dataset-drift share, alert policy';
COMMENT ON COLUMN monitors.id IS 'uuid as 32 lower-case hex digits';
COMMENT ON COLUMN monitors.model IS 'the registered model watched (model registry name); unique: a model has at most one monitor, a second create is a 409';
COMMENT ON COLUMN monitors.window_size IS 'a window closes after this many predictions; NULL when the window is by time';
COMMENT ON COLUMN monitors.window_seconds IS 'a window closes this many seconds after it opened; NULL when the window is by rows';
COMMENT ON COLUMN monitors.features IS 'per-feature overrides {"<feature>": {"method": "<Evidently stattest short name>", "threshold": x}}, each member optional, validated before the write; features not named get Evidently''s default method and threshold';
COMMENT ON COLUMN monitors.drift_share IS 'the dataset drifts when drifted features / features >= this (Evidently''s drift_share, default 0.5)';
COMMENT ON COLUMN monitors.alert_policy IS 'on a drifted window: none (report only), alert (a drift.alerts event), retrain (the event and a retraining job asked of the trainer)';
COMMENT ON COLUMN monitors.alert_cooldown_s IS 'after an alert (or retrain request), further ones for this monitor wait this many seconds';
COMMENT ON COLUMN monitors.created_at IS 'Unix ms of the create; with id, the key of the newest-first listing';
COMMENT ON COLUMN monitors.updated_at IS 'Unix ms of the create or of the last PATCH';
COMMENT ON CONSTRAINT monitors_one_window ON monitors IS 'a window is by rows or by time, never both or neither';

CREATE INDEX monitors_created_idx ON monitors (created_at DESC, id DESC);
COMMENT ON INDEX monitors_created_idx IS 'GET /v1/monitors: newest first, keyset pages';
