-- 0004: metric points without per-row foreign-key checks. The checks of metrics and
-- latest_metrics against runs ran once per inserted row (a query on runs with FOR KEY
-- SHARE each time): about a third of PostgreSQL's CPU in a 1000-metric log-batch. Every
-- write to these tables happens inside log-batch's transaction after it has locked the
-- run row (SELECT ... FOR NO KEY UPDATE, which a DELETE of the run waits for) and seen
-- it exist, so the lock keeps what the checks kept: no point of a missing run. What ON
-- DELETE CASCADE did, a trigger on runs now does; runs are never deleted by the tracker
-- (deletion is a lifecycle_stage), so this only serves an operator's DELETE.
ALTER TABLE metrics DROP CONSTRAINT metrics_run_id_fkey;
ALTER TABLE latest_metrics DROP CONSTRAINT latest_metrics_run_id_fkey;

CREATE FUNCTION runs_delete_metrics() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM metrics WHERE run_id = OLD.run_id;
    DELETE FROM latest_metrics WHERE run_id = OLD.run_id;
    RETURN OLD;
END
$$;
COMMENT ON FUNCTION runs_delete_metrics() IS 'ON DELETE CASCADE of metrics and latest_metrics, which have no foreign key (0004)';
CREATE TRIGGER runs_delete_metrics AFTER DELETE ON runs FOR EACH ROW EXECUTE FUNCTION runs_delete_metrics();
COMMENT ON TABLE metrics IS 'every logged metric point; identical points deduplicated by the key; written only under the run''s row lock (no foreign key: 0004)';
