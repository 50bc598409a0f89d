-- 0003: the artifact tree behind MLflow's proxied artifact API. Bytes live in the blob
-- store (BLOB_DIR) under their SHA-256; this table maps artifact paths to blob keys.
-- One row per file and per directory, keyed by (parent, name): listing a directory is
-- one range of the primary key, deleting a tree one range more. Paths are canonical
-- ("0/<run>/artifacts/d/hi.txt": no empty, "." or ".." segments; see artifact_path.c)
-- and compared bytewise (COLLATE "C"), which the subtree ranges rely on.
CREATE TABLE artifacts (
    parent       text COLLATE "C" NOT NULL,
    name         text COLLATE "C" NOT NULL,
    is_dir       boolean NOT NULL,
    blob_key     text,
    file_size    bigint,
    updated_time bigint NOT NULL,
    PRIMARY KEY (parent, name),
    CONSTRAINT artifacts_name_check CHECK (name <> '' AND strpos(name, '/') = 0),
    CONSTRAINT artifacts_kind_check CHECK (
        (is_dir AND blob_key IS NULL AND file_size IS NULL)
        OR (NOT is_dir AND blob_key ~ '^[0-9a-f]{64}$' AND file_size >= 0))
);
COMMENT ON TABLE artifacts IS 'artifact files and directories of the mlflow-artifacts proxy; a file names its bytes by blob key';
COMMENT ON COLUMN artifacts.parent IS 'canonical path of the containing directory; '''' at the root';
COMMENT ON COLUMN artifacts.name IS 'the entry''s own name (no slash)';
COMMENT ON COLUMN artifacts.is_dir IS 'directories exist as rows so that listings never scan a subtree';
COMMENT ON COLUMN artifacts.blob_key IS 'files: SHA-256 (hex) of the bytes in the blob store; blobs are shared by content and never deleted here';
COMMENT ON COLUMN artifacts.file_size IS 'files: size in bytes';
COMMENT ON COLUMN artifacts.updated_time IS 'Unix ms of the last write (upload or overwrite)';
