-- 0001: the tracker schema, owned by the experiment-tracker alone. Its tables arrive with the
-- service's domain issue, each in a numbered migration of its own.
COMMENT ON SCHEMA tracker IS 'experiment tracker: MLflow experiments, runs, params, metrics, tags, dataset inputs';
