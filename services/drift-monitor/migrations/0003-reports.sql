-- 0003: drift reports, one per closed window of a monitor: the summary a listing shows in
-- columns (so lists and filters never open the documents), the whole report as jsonb.
-- A report belongs to its monitor and goes with it. Times are Unix ms.
CREATE TABLE reports (
    id                       text PRIMARY KEY,
    monitor_id               text NOT NULL REFERENCES monitors ON DELETE CASCADE,
    model                    text NOT NULL,
    model_version            text NOT NULL,
    window_start             bigint NOT NULL,
    window_end               bigint NOT NULL,
    rows                     bigint NOT NULL CHECK (rows >= 0),
    dataset_drift            boolean NOT NULL,
    share_of_drifted_columns double precision NOT NULL
                             CHECK (share_of_drifted_columns >= 0 AND share_of_drifted_columns <= 1),
    report                   jsonb NOT NULL CHECK (jsonb_typeof(report) = 'object'),
    created_at               bigint NOT NULL,
    CONSTRAINT reports_window_order CHECK (window_end >= window_start)
);
COMMENT ON TABLE reports IS 'drift reports: a monitor''s closed window compared with the serving version''s reference';
COMMENT ON COLUMN reports.id IS 'uuid as 32 lower-case hex digits';
COMMENT ON COLUMN reports.monitor_id IS 'the monitor whose window this is; deleting the monitor deletes its reports';
COMMENT ON COLUMN reports.model IS 'the registered model (copied from the monitor when the report was written)';
COMMENT ON COLUMN reports.model_version IS 'the model version that served the window, whose reference it was compared with';
COMMENT ON COLUMN reports.window_start IS 'Unix ms of the window''s first prediction';
COMMENT ON COLUMN reports.window_end IS 'Unix ms the window closed';
COMMENT ON COLUMN reports.rows IS 'predictions in the window';
COMMENT ON COLUMN reports.dataset_drift IS 'share_of_drifted_columns >= the monitor''s drift_share at the time (Evidently''s dataset_drift)';
COMMENT ON COLUMN reports.share_of_drifted_columns IS 'drifted features / features (Evidently''s share_of_drifted_columns)';
COMMENT ON COLUMN reports.report IS 'the whole report: per feature stattest_name, stattest_threshold, drift_score, drift_detected, distributions; lineage; prediction drift';
COMMENT ON COLUMN reports.created_at IS 'Unix ms the report was written; GET /v1/reports?since= filters on it';

CREATE INDEX reports_created_idx ON reports (created_at DESC, id DESC);
CREATE INDEX reports_monitor_created_idx ON reports (monitor_id, created_at DESC, id DESC);
COMMENT ON INDEX reports_created_idx IS 'GET /v1/reports: newest first, keyset pages';
COMMENT ON INDEX reports_monitor_created_idx IS 'GET /v1/reports?monitor=: the same, of one monitor (and the cascade on delete)';
