-- 0006: the blob store's garbage collector asks, one batch of candidate keys at a time,
-- which keys artifact rows still name (et_q_artifacts_referenced). Without an index each
-- batch would scan the whole table; directories (blob_key NULL) stay out of it.
CREATE INDEX artifacts_blob_key ON artifacts (blob_key) WHERE blob_key IS NOT NULL;
COMMENT ON COLUMN artifacts.blob_key IS 'files: SHA-256 (hex) of the bytes in the blob store; blobs are shared by content, and the blob store''s garbage collection removes those no row names';
