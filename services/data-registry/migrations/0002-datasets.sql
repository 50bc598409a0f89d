-- 0002: datasets, their content-addressed versions and the files of each version.
-- A version is immutable: its id is the sha256 of its canonical manifest, its files
-- name blobs in the service's blob store (BLOB_DIR), which the collector keeps while a
-- row here (or a profile, split or tensor) references them. Times are Unix ms.
CREATE TABLE datasets (
    id          bigserial PRIMARY KEY,
    name        text COLLATE "C" NOT NULL,
    description text NOT NULL DEFAULT '',
    tags        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  bigint NOT NULL,
    updated_at  bigint NOT NULL,
    CONSTRAINT datasets_name_key UNIQUE (name)
);
COMMENT ON TABLE datasets IS 'named datasets; a delete removes the row and (forced) its versions, never blobs';
COMMENT ON COLUMN datasets.id IS 'surrogate key: versions refer to it';
COMMENT ON COLUMN datasets.name IS '[A-Za-z0-9][A-Za-z0-9._-]{0,127}, unique; C collation so listings page in byte order';
COMMENT ON COLUMN datasets.description IS 'free text, '''' when unset';
COMMENT ON COLUMN datasets.tags IS 'a JSON object of string values; PATCH replaces it whole';
COMMENT ON COLUMN datasets.created_at IS 'Unix ms';
COMMENT ON COLUMN datasets.updated_at IS 'Unix ms of the last change to the dataset or a new version of it';

CREATE TABLE versions (
    pk           bigserial PRIMARY KEY,
    dataset_id   bigint NOT NULL REFERENCES datasets ON DELETE CASCADE,
    number       bigint NOT NULL CHECK (number > 0),
    id           text COLLATE "C" NOT NULL CHECK (id ~ '^[0-9a-f]{64}$'),
    parent       text COLLATE "C" CHECK (parent ~ '^[0-9a-f]{64}$'),
    message      text NOT NULL DEFAULT '',
    format       text NOT NULL CHECK (format IN ('csv', 'idx', 'image-folder')),
    label_column text,
    status       text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'READY', 'FAILED')),
    failure      text,
    file_count   bigint NOT NULL CHECK (file_count >= 0),
    bytes        bigint NOT NULL CHECK (bytes >= 0),
    profile_sha  text COLLATE "C" CHECK (profile_sha ~ '^[0-9a-f]{64}$'),
    created_at   bigint NOT NULL,
    ready_at     bigint,
    CONSTRAINT versions_number_key UNIQUE (dataset_id, number),
    CONSTRAINT versions_id_key UNIQUE (dataset_id, id)
);
CREATE INDEX versions_profile_sha_idx ON versions (profile_sha) WHERE profile_sha IS NOT NULL;
CREATE INDEX versions_pending_idx ON versions (pk) WHERE status = 'PENDING';
COMMENT ON TABLE versions IS 'immutable versions of a dataset, numbered 1, 2, ... per dataset';
COMMENT ON COLUMN versions.pk IS 'surrogate key: version_files and the other parts'' tables refer to it';
COMMENT ON COLUMN versions.dataset_id IS 'the dataset';
COMMENT ON COLUMN versions.number IS
    'dense per dataset: max + 1, taken while the dataset row is locked (FOR UPDATE), so concurrent commits '
    'serialise and never skip or share a number';
COMMENT ON COLUMN versions.id IS
    'sha256 hex of the canonical manifest (files sorted bytewise by path, each "<sha256> <size> <path>\n"); '
    'committing the same files again answers this version';
COMMENT ON COLUMN versions.parent IS 'id of the dataset''s newest version when this one was committed; NULL for the first';
COMMENT ON COLUMN versions.message IS 'the committer''s message, '''' when unset';
COMMENT ON COLUMN versions.format IS 'how the files are read: given at commit or detected from the paths';
COMMENT ON COLUMN versions.label_column IS 'csv: the column holding the class; NULL when none';
COMMENT ON COLUMN versions.status IS 'PENDING until the profiler has read every file, then READY or FAILED';
COMMENT ON COLUMN versions.failure IS 'FAILED: why (naming the file); NULL otherwise';
COMMENT ON COLUMN versions.file_count IS 'number of files (rows in version_files)';
COMMENT ON COLUMN versions.bytes IS 'total size of the files';
COMMENT ON COLUMN versions.profile_sha IS 'blob key of the profile JSON, set when READY; a gc reference';
COMMENT ON COLUMN versions.created_at IS 'Unix ms of the commit';
COMMENT ON COLUMN versions.ready_at IS 'Unix ms when the profiler made it READY; NULL before';

CREATE TABLE version_files (
    version_pk bigint NOT NULL REFERENCES versions ON DELETE CASCADE,
    path       text COLLATE "C" NOT NULL,
    sha256     text COLLATE "C" NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size       bigint NOT NULL CHECK (size >= 0),
    PRIMARY KEY (version_pk, path)
);
CREATE INDEX version_files_sha256_idx ON version_files (sha256);
COMMENT ON TABLE version_files IS 'the manifest of each version: one row per file; rows never change';
COMMENT ON COLUMN version_files.version_pk IS 'the version';
COMMENT ON COLUMN version_files.path IS 'relative /-separated path in the version (manifest.c''s rules); C collation: manifest order is byte order';
COMMENT ON COLUMN version_files.sha256 IS 'blob key of the file''s bytes; indexed for the collector''s reference checks';
COMMENT ON COLUMN version_files.size IS 'bytes';
