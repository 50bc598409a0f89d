-- 0001: the trainer schema, owned by the trainer alone. Its tables arrive with the
-- service's domain issue, each in a numbered migration of its own.
COMMENT ON SCHEMA trainer IS 'trainer: training jobs, sweeps, their states; training.events outbox';
