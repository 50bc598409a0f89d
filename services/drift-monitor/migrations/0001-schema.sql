-- 0001: the drift schema, owned by the drift-monitor alone. Its tables arrive with the
-- service's domain issue, each in a numbered migration of its own.
COMMENT ON SCHEMA drift IS 'drift monitor: monitors, drift reports, alerts; drift.alerts outbox';
