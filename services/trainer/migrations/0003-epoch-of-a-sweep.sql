-- A sweep runs several trials at once (sweep.parallelism), so "the current trial's
-- epochs" no longer names one number: a sweep's row counts trials finished.
COMMENT ON COLUMN jobs.epoch IS 'epochs finished; for a sweep, trials finished';
COMMENT ON COLUMN jobs.step IS 'mini-batches done in all (every trial of a sweep)';
