-- 0002: MLflow's model-registry entities. A registered model has a surrogate id, so a
-- rename is one UPDATE and its versions, tags and aliases follow. Times are Unix
-- milliseconds (bigint), as MLflow sends them. Deleting a version removes its row: the
-- model's last_version counter keeps numbering dense and never reuses a number.
CREATE TABLE registered_models (
    id                bigserial PRIMARY KEY,
    name              text NOT NULL,
    creation_time     bigint NOT NULL,
    last_updated_time bigint NOT NULL,
    description       text NOT NULL DEFAULT '',
    last_version      bigint NOT NULL DEFAULT 0,
    CONSTRAINT registered_models_name_key UNIQUE (name)
);
COMMENT ON TABLE registered_models IS 'MLflow registered models; names unique';
COMMENT ON COLUMN registered_models.id IS 'surrogate key: versions, tags and aliases refer to it, so a rename touches one row';
COMMENT ON COLUMN registered_models.name IS 'the MLflow name, unique';
COMMENT ON COLUMN registered_models.creation_time IS 'Unix ms';
COMMENT ON COLUMN registered_models.last_updated_time IS 'Unix ms of the last change to the model or one of its versions';
COMMENT ON COLUMN registered_models.description IS 'free text, '''' when unset (MLflow answers "")';
COMMENT ON COLUMN registered_models.last_version IS
    'highest version number ever given (deleted ones included); a new version takes '
    'last_version + 1 in the UPDATE that row-locks the model, so concurrent creators '
    'serialize and numbers stay dense';

CREATE TABLE registered_model_tags (
    model_id bigint NOT NULL REFERENCES registered_models ON DELETE CASCADE,
    key      text NOT NULL,
    value    text NOT NULL DEFAULT '',
    PRIMARY KEY (model_id, key)
);
COMMENT ON TABLE registered_model_tags IS 'registered model tags; upserted';
COMMENT ON COLUMN registered_model_tags.model_id IS 'the model';
COMMENT ON COLUMN registered_model_tags.key IS 'tag key (<= 250 characters)';
COMMENT ON COLUMN registered_model_tags.value IS 'tag value (<= 5000 characters)';

CREATE TABLE model_versions (
    model_id          bigint NOT NULL REFERENCES registered_models ON DELETE CASCADE,
    version           bigint NOT NULL CHECK (version > 0),
    creation_time     bigint NOT NULL,
    last_updated_time bigint NOT NULL,
    description       text NOT NULL DEFAULT '',
    source            text NOT NULL,
    run_id            text NOT NULL DEFAULT '',
    run_link          text NOT NULL DEFAULT '',
    current_stage     text NOT NULL DEFAULT 'None'
                      CHECK (current_stage IN ('None', 'Staging', 'Production', 'Archived')),
    status            text NOT NULL DEFAULT 'READY',
    PRIMARY KEY (model_id, version)
);
COMMENT ON TABLE model_versions IS 'MLflow model versions, numbered 1, 2, ... per model; deleted ones are removed';
COMMENT ON COLUMN model_versions.model_id IS 'the registered model';
COMMENT ON COLUMN model_versions.version IS 'version number, dense per model (see registered_models.last_version)';
COMMENT ON COLUMN model_versions.creation_time IS 'Unix ms';
COMMENT ON COLUMN model_versions.last_updated_time IS 'Unix ms';
COMMENT ON COLUMN model_versions.description IS 'free text, '''' when unset';
COMMENT ON COLUMN model_versions.source IS 'artifact URI of the model (mlflow-artifacts:/..., s3://..., runs:/...)';
COMMENT ON COLUMN model_versions.run_id IS 'the tracker run that produced it, '''' when unset';
COMMENT ON COLUMN model_versions.run_link IS 'link to the run, '''' when unset';
COMMENT ON COLUMN model_versions.current_stage IS 'canonical stage name';
COMMENT ON COLUMN model_versions.status IS 'ModelVersionStatus name; always READY (registration is synchronous)';
CREATE INDEX model_versions_run_id_idx ON model_versions (run_id);

CREATE TABLE model_version_tags (
    model_id bigint NOT NULL,
    version  bigint NOT NULL,
    key      text NOT NULL,
    value    text NOT NULL DEFAULT '',
    PRIMARY KEY (model_id, version, key),
    FOREIGN KEY (model_id, version) REFERENCES model_versions ON DELETE CASCADE
);
COMMENT ON TABLE model_version_tags IS 'model version tags; upserted; lathe.servable* are written by the registry';
COMMENT ON COLUMN model_version_tags.model_id IS 'the model';
COMMENT ON COLUMN model_version_tags.version IS 'the version';
COMMENT ON COLUMN model_version_tags.key IS 'tag key (<= 250 characters)';
COMMENT ON COLUMN model_version_tags.value IS 'tag value (<= 5000 characters)';

CREATE TABLE registered_model_aliases (
    model_id bigint NOT NULL,
    alias    text NOT NULL,
    version  bigint NOT NULL,
    PRIMARY KEY (model_id, alias),
    FOREIGN KEY (model_id, version) REFERENCES model_versions ON DELETE CASCADE
);
COMMENT ON TABLE registered_model_aliases IS 'aliases: one version per (model, alias); deleting the version drops them';
COMMENT ON COLUMN registered_model_aliases.model_id IS 'the model';
COMMENT ON COLUMN registered_model_aliases.alias IS 'alias name (^[\w-]*$, <= 255, not latest, not v<digits>)';
COMMENT ON COLUMN registered_model_aliases.version IS 'the version the alias points to';

-- A version as the API shows it: its model's name, and its tags and aliases as JSON text.
CREATE VIEW model_version_view AS
SELECT v.model_id, m.name, v.version, v.creation_time, v.last_updated_time, v.current_stage,
       v.description, v.source, v.run_id, v.run_link, v.status,
       (SELECT json_agg(json_build_object('key', t.key, 'value', t.value) ORDER BY t.key)
          FROM model_version_tags t WHERE t.model_id = v.model_id AND t.version = v.version) AS tags,
       (SELECT json_agg(a.alias ORDER BY a.alias)
          FROM registered_model_aliases a WHERE a.model_id = v.model_id AND a.version = v.version) AS aliases
  FROM model_versions v JOIN registered_models m ON m.id = v.model_id;
COMMENT ON VIEW model_version_view IS 'model versions as the API shows them (tags and aliases as JSON arrays, NULL when none)';

-- A registered model as the API shows it, without latest_versions (see the handlers).
CREATE VIEW registered_model_view AS
SELECT m.id AS model_id, m.name, m.creation_time, m.last_updated_time, m.description,
       (SELECT json_agg(json_build_object('key', t.key, 'value', t.value) ORDER BY t.key)
          FROM registered_model_tags t WHERE t.model_id = m.id) AS tags,
       (SELECT json_agg(json_build_object('alias', a.alias, 'version', a.version::text) ORDER BY a.alias)
          FROM registered_model_aliases a WHERE a.model_id = m.id) AS aliases
  FROM registered_models m;
COMMENT ON VIEW registered_model_view IS 'registered models as the API shows them (tags and aliases as JSON arrays, NULL when none)';

-- Search filters arrive as arrays of (kind, key, op, value) clauses (see filter.c); these
-- evaluate one comparison, so the search statements keep a fixed text whatever the filter.
CREATE FUNCTION mr_text_match(lhs text, op text, val text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE op
        WHEN '=' THEN lhs = val
        WHEN '!=' THEN lhs <> val
        WHEN 'LIKE' THEN lhs LIKE val
        WHEN 'ILIKE' THEN lhs ILIKE val
        WHEN 'IN' THEN lhs IN (SELECT jsonb_array_elements_text(val::jsonb))
        WHEN 'NOT IN' THEN lhs NOT IN (SELECT jsonb_array_elements_text(val::jsonb))
    END
$$;
COMMENT ON FUNCTION mr_text_match(text, text, text) IS
    'one string clause of an MLflow search filter; IN takes a JSON array of strings';

CREATE FUNCTION mr_num_match(lhs bigint, op text, val text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE op
        WHEN '=' THEN lhs = val::bigint
        WHEN '!=' THEN lhs <> val::bigint
        WHEN '<' THEN lhs < val::bigint
        WHEN '<=' THEN lhs <= val::bigint
        WHEN '>' THEN lhs > val::bigint
        WHEN '>=' THEN lhs >= val::bigint
        WHEN 'IN' THEN lhs IN (SELECT jsonb_array_elements_text(val::jsonb)::bigint)
        WHEN 'NOT IN' THEN lhs NOT IN (SELECT jsonb_array_elements_text(val::jsonb)::bigint)
    END
$$;
COMMENT ON FUNCTION mr_num_match(bigint, text, text) IS 'one numeric clause of an MLflow search filter';
