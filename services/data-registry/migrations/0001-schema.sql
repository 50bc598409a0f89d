-- 0001: the data schema, owned by the data-registry alone. Its tables arrive with the
-- service's domain issue, each in a numbered migration of its own.
COMMENT ON SCHEMA data IS 'data registry: datasets, content-addressed versions, profiles, splits; datasets.events outbox';
