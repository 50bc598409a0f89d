-- 0001: the registry schema, owned by the model-registry alone. Its tables arrive with the
-- service's domain issue, each in a numbered migration of its own.
COMMENT ON SCHEMA registry IS 'model registry: registered models, versions, stages, aliases, tags; models.events outbox';
