-- 0003: splits of a version into named parts (train/val/test) and the tensor files
-- exported from them. Both keep their bulk in the blob store (the items list of a
-- split, the safetensors file of an export) and reference it here, which is what the
-- collector asks. Times are Unix ms.
CREATE TABLE splits (
    version_pk   bigint NOT NULL REFERENCES versions ON DELETE CASCADE,
    name         text COLLATE "C" NOT NULL,
    args         text NOT NULL,
    fractions    jsonb NOT NULL,
    stratify     boolean NOT NULL,
    seed         bigint NOT NULL,
    counts       jsonb NOT NULL,
    class_counts jsonb NOT NULL,
    items_sha    text COLLATE "C" NOT NULL CHECK (items_sha ~ '^[0-9a-f]{64}$'),
    item_count   bigint NOT NULL CHECK (item_count >= 0),
    created_at   bigint NOT NULL,
    PRIMARY KEY (version_pk, name)
);
CREATE INDEX splits_items_sha_idx ON splits (items_sha);
COMMENT ON TABLE splits IS 'named assignments of a version''s items to parts; rows never change';
COMMENT ON COLUMN splits.version_pk IS 'the version';
COMMENT ON COLUMN splits.name IS 'the split''s name, unique per version ("original": an IDX version''s own train/test)';
COMMENT ON COLUMN splits.args IS
    'canonical JSON of the arguments ({"fractions":{sorted},"seed":n,"stratify":b}; "original" for the '
    'predefined one): the same name with other arguments is a conflict, and a later version inherits '
    'the assignment of an ancestor''s split only when this matches';
COMMENT ON COLUMN splits.fractions IS 'part name -> fraction asked for (original: the parts'' actual shares)';
COMMENT ON COLUMN splits.stratify IS 'whether each class was split on its own';
COMMENT ON COLUMN splits.seed IS 'the seed of the order sha256(seed, class, item key)';
COMMENT ON COLUMN splits.counts IS 'part name -> items (rows of the items list) in it';
COMMENT ON COLUMN splits.class_counts IS 'part name -> {class -> items}';
COMMENT ON COLUMN splits.items_sha IS 'blob key of the items list {"items":[{"item","class","split"}...]}, one item a line in the version''s item order; a gc reference';
COMMENT ON COLUMN splits.item_count IS 'rows of the items list';
COMMENT ON COLUMN splits.created_at IS 'Unix ms';

CREATE TABLE tensor_exports (
    version_pk  bigint NOT NULL REFERENCES versions ON DELETE CASCADE,
    options_key text COLLATE "C" NOT NULL,
    blob_sha    text COLLATE "C" NOT NULL CHECK (blob_sha ~ '^[0-9a-f]{64}$'),
    size        bigint NOT NULL CHECK (size >= 0),
    created_at  bigint NOT NULL,
    PRIMARY KEY (version_pk, options_key)
);
CREATE INDEX tensor_exports_blob_sha_idx ON tensor_exports (blob_sha);
COMMENT ON TABLE tensor_exports IS 'safetensors files computed once per (version, split, options) and served from the blob store';
COMMENT ON COLUMN tensor_exports.version_pk IS 'the version';
COMMENT ON COLUMN tensor_exports.options_key IS 'canonical text of the split and options (tensors.c); equal requests share it';
COMMENT ON COLUMN tensor_exports.blob_sha IS 'blob key of the safetensors file; a gc reference';
COMMENT ON COLUMN tensor_exports.size IS 'bytes of the file';
COMMENT ON COLUMN tensor_exports.created_at IS 'Unix ms';
