/* The data registry's private header (prefix dr_): its settings and state, and what
 * its files offer each other. Sections follow the files:
 *   main.c          settings table (BLOB_*), start/stop (the blob store), the svc_def
 *   routes.c        the one route table (/v1/datasets..., /v1/blobs..., /v1/admin/gc)
 *   h_datasets.c    datasets: create, list, get, update, delete
 *   h_blobs.c       blobs: missing, PUT (streamed, hash checked on the way), GET/HEAD
 *   h_versions.c    POST .../versions: the manifest commit and the one-request upload
 *   h_reads.c       version reads: list, get by ref, manifest (streamed), files, profile
 *   h_admin.c       GET/POST /v1/admin/gc: blob_gc with the registry's references
 *   gc_refs.c       the hook other parts extend with their blob references
 *   q_datasets.c    queries on datasets
 *   q_versions.c    queries on versions
 *   q_files.c       queries on version_files (manifest rows, n per statement)
 *   entities.c      Dataset and Version JSON from rows; transaction reply helpers
 *   ev_datasets.c   datasets.events CloudEvents, written through the outbox
 *   validate.c      names, tags, refs, hashes, page tokens (pure)
 *   manifest.c      the canonical manifest id (pure)
 *   manifest_scan.c a JSON commit body read in one pass, without a tree (pure)
 *   data.h          the data wing (dr-ingest): manifests, path rules, formats, unpacking,
 *                   CSV/IDX readers, items; its own file map
 * Handlers receive the struct svc * as app; dr_app(svc) gives this service's state.
 * Every change and its event are written in one transaction that first row-locks the
 * dataset, so one dataset's versions are numbered densely and its events are in commit
 * order. Other parts add their sections at the end of this file. */
#ifndef DR_H
#define DR_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "blob/blob.h"
#include "data.h"
#include "http/jspec.h"
#include "svc/svc.h"

/* --- state (main.c) ------------------------------------------------------------- */

struct dr_settings {
	char *blob_dir;          /* BLOB_DIR */
	long blob_max_bytes;     /* BLOB_MAX_BYTES: the largest blob one PUT may carry */
	long upload_max_bytes;   /* UPLOAD_MAX_BYTES: the largest one-request upload body */
	long unpacked_max_bytes; /* UNPACKED_MAX_BYTES: what one upload may unpack to */
	long gc_grace_s;         /* BLOB_GC_GRACE_S */
	long tmp_age_s;          /* BLOB_TMP_AGE_S */
	long profile_poll_ms;    /* PROFILE_POLL_MS (profile_worker.c) */
};

struct dr_app {
	struct dr_settings *settings; /* borrowed from svc */
	struct blob_store *blobs;     /* owned */
};

static inline struct dr_app *dr_app(void *svc)
{
	return svc_app(svc);
}

/* The service's blob store (borrowed, valid while the daemon runs). */
struct blob_store *dr_blobs(struct svc *svc);

/* --- routes and handlers ---------------------------------------------------------- */

extern const struct http_route dr_routes[];

/* Route body ceilings: the server's (the settings above are checked by the handlers
 * within them). */
#define DR_JSON_MANIFEST_MAX ((size_t)256 << 20) /* a JSON manifest commit */
#define DR_STREAM_LIMIT      ((size_t)1 << 40)   /* streamed routes: the settings decide */
#define DR_MISSING_MAX       100000

void dr_h_dataset_create(struct http_request *req, void *app);
void dr_h_dataset_list(struct http_request *req, void *app);
void dr_h_dataset_get(struct http_request *req, void *app);
void dr_h_dataset_update(struct http_request *req, void *app);
void dr_h_dataset_delete(struct http_request *req, void *app);
void dr_h_blobs_missing(struct http_request *req, void *app);
int dr_blob_put_chunk(struct http_request *req, void *app, const char *data, size_t len);
void dr_h_blob_put(struct http_request *req, void *app);
void dr_h_blob_get(struct http_request *req, void *app);
int dr_version_create_chunk(struct http_request *req, void *app, const char *data, size_t len);
void dr_h_version_create(struct http_request *req, void *app);
void dr_h_version_list(struct http_request *req, void *app);
void dr_h_version_get(struct http_request *req, void *app);
void dr_h_version_manifest(struct http_request *req, void *app);
void dr_h_version_file(struct http_request *req, void *app);
void dr_h_version_profile(struct http_request *req, void *app);
void dr_h_admin_gc(struct http_request *req, void *app);

/* --- h_blobs.c: what other handlers stream --------------------------------------- */

/* Replies 200 with the blob's bytes (streamed), ETag "<key>" and content_type. A
 * missing blob answers 404 (what NULL: a blob asked for by key) or 500 DATA_LOSS
 * naming what (a file of a version, a profile: rows say it is there). */
int dr_reply_blob(struct http_request *req, struct svc *svc, const char *key, const char *content_type,
		  const char *what);

/* --- manifest.c: the canonical id (pure) ------------------------------------------ */

/* Manifests, formats and path rules are data.h's (struct dr_manifest_file, enum
 * dr_format, dr_path_check, dr_manifest_sort, dr_detect_format). */

/* The version id of sorted files: sha256 hex of "<sha256> <size> <path>\n" per file,
 * nothing else. bytes_out: their total size (may be NULL). */
void dr_manifest_id(const struct dr_manifest_file *files, size_t n, char id_out[65], uint64_t *bytes_out);

/* --- manifest_scan.c (pure) ------------------------------------------------------ */

/* A JSON commit body read without a tree: the files as records written into the body
 * itself, in the order of a 4-byte offset each (see manifest_scan.c). */
struct dr_scan {
	char *buf;          /* the body (borrowed, rewritten) */
	uint32_t *order;    /* record offsets; sorted by path after dr_scan_finish */
	size_t n, cap;      /* records kept */
	size_t count;       /* elements of "files" (> n when some are bad or too many) */
	const char *opt[3]; /* message, format, label_column: into buf; NULL: absent/null */
	bool opt_bad[3];    /* present with a value that is neither a string nor null */
	bool files_array;   /* "files" is an array */
	bool files_present; /* "files" is there but not an array */
	bool not_object;    /* the body is an array */
	bool bad;           /* a file entry is wrong: bad_err (for files[bad_index]) */
	size_t bad_index;
	struct core_error bad_err;
};

/* Checks the JSON syntax of body[0..len) and collects its manifest into s (body is
 * rewritten in place; s->buf is body). CORE_EINVAL with a "Malformed JSON: ..." message
 * for a syntax error (s is then empty). Shape errors are left in s for the caller. */
enum core_status dr_scan_body(char *body, size_t len, struct dr_scan *s, struct core_error *err);
/* Sorts the records by path and computes the version id and total size; CORE_EINVAL
 * "duplicate path '<p>'" when a path comes twice. */
enum core_status dr_scan_finish(struct dr_scan *s, char id_out[65], uint64_t *bytes_out, struct core_error *err);
/* Files [at, at + max) of the sorted records into out (paths point into the body; do
 * not free them). Returns how many. */
size_t dr_scan_batch(const struct dr_scan *s, size_t at, struct dr_manifest_file *out, size_t max);
void dr_scan_free(struct dr_scan *s);

/* --- validate.c (pure) ------------------------------------------------------------ */

#define DR_NAME_MAX 128

/* [A-Za-z0-9][A-Za-z0-9._-]{0,127}. CORE_OK or CORE_EINVAL. */
enum core_status dr_check_dataset_name(const char *name, struct core_error *err);
/* A tags object: string values only, keys 1..250 bytes, values <= 5000. */
enum core_status dr_check_tags(json_t *tags, struct core_error *err);
/* max_results: absent -> def; else an integer in 1..max. */
enum core_status dr_check_max_results(const char *text, long def, long max, long *out, struct core_error *err);
/* Page tokens: opaque text over a name (datasets) or a number (versions). */
char *dr_token_from_name(const char *name); /* malloc'd */
enum core_status dr_token_to_name(const char *token, char *out, size_t size, struct core_error *err);
enum core_status dr_token_to_number(const char *token, int64_t *out, struct core_error *err);

/* A version reference: a number, a full id, an id prefix (>= 8 hex digits), "latest". */
enum dr_ref_kind { DR_REF_NUMBER = 1, DR_REF_ID, DR_REF_PREFIX, DR_REF_LATEST };
struct dr_ref {
	enum dr_ref_kind kind;
	int64_t number;
	char hex[65]; /* lower-cased */
};
enum core_status dr_ref_parse(const char *text, struct dr_ref *out, struct core_error *err);

/* --- entities.c: JSON from rows --------------------------------------------------- */

/* Columns every dataset query selects, in this order, from datasets d. */
#define DR_DATASET_COLS                                                                                                \
	"d.id, d.name, d.description, d.tags::text, d.created_at, d.updated_at, "                                      \
	"(SELECT count(*) FROM versions cv WHERE cv.dataset_id = d.id), "                                              \
	"(SELECT max(rv.number) FROM versions rv WHERE rv.dataset_id = d.id AND rv.status = 'READY')"
/* Columns every version query selects, in this order, from versions v joined with
 * datasets d. */
#define DR_VERSION_COLS                                                                                                \
	"d.name, v.number, v.id, v.parent, v.message, v.format, v.status, v.failure, v.file_count, v.bytes, "          \
	"v.label_column, v.created_at, v.ready_at, v.pk, v.profile_sha, v.dataset_id"

/* A Dataset / Version object from row of res (the columns above), owned by the caller. */
json_t *dr_dataset_json(const PGresult *res, int row);
json_t *dr_version_json(const PGresult *res, int row);

/* What the others need of a version row, without JSON. */
struct dr_version_row {
	int64_t pk, dataset_id, number;
	char id[65];
	enum dr_format format;
	char label_column[256]; /* "" when none */
	bool has_label_column;
	char status[16];      /* PENDING | READY | FAILED */
	char profile_sha[65]; /* "" when none */
};
void dr_version_row_fill(const PGresult *res, int row, struct dr_version_row *out);

/* Replies status {"<key>": entity} (entity stolen), or the transaction's failure. */
void dr_reply_entity(struct http_request *req, unsigned status, const char *key, int rc, json_t *entity,
		     const struct svc_fail *f, const struct core_error *err);

/* "Dataset 'X' not found" (404); returns DB_ROLLBACK. */
int dr_fail_no_dataset(struct svc_fail *f, const char *name);

/* Resolves name + ref to the version row (in the caller's transaction). Returns 1, or
 * DB_ROLLBACK with f set (unknown dataset or version 404, bad or ambiguous ref 400),
 * or a negative db_status. */
int dr_resolve_version(struct db_conn *c, const char *dataset, const char *ref, struct dr_version_row *out,
		       struct svc_fail *f, struct core_error *err);
/* The same, also handing over the DR_VERSION_COLS row in *res_out (the caller
 * PQclear()s it; NULL unless 1 is returned). */
int dr_resolve_version_res(struct db_conn *c, const char *dataset, const char *ref, struct dr_version_row *out,
			   PGresult **res_out, struct svc_fail *f, struct core_error *err);

/* --- q_datasets.c ----------------------------------------------------------------- */

/* Each takes err last and returns the row count or a negative db_status. */
int dr_q_insert_dataset(struct db_conn *c, const char *name, const char *description, const char *tags_json,
			int64_t now_ms, int64_t *id_out, struct core_error *err);
/* INSERT ... ON CONFLICT DO NOTHING: 1 when created, 0 when it was there. */
int dr_q_ensure_dataset(struct db_conn *c, const char *name, int64_t now_ms, struct core_error *err);
/* Row-locks the dataset (FOR UPDATE); 0 rows: none. */
int dr_q_lock_dataset(struct db_conn *c, const char *name, int64_t *id_out, struct core_error *err);
int dr_q_select_dataset(struct db_conn *c, int64_t id, PGresult **res_out, struct core_error *err);
int dr_q_dataset_by_name(struct db_conn *c, const char *name, PGresult **res_out, struct core_error *err);
/* A page ordered by name: names after after (NULL: from the start) starting with
 * prefix (NULL: any); limit rows. */
int dr_q_list_datasets(struct db_conn *c, const char *prefix, const char *after, int64_t limit, PGresult **res_out,
		       struct core_error *err);
/* description / tags NULL: unchanged. */
int dr_q_update_dataset(struct db_conn *c, int64_t id, const char *description, const char *tags_json, int64_t now_ms,
			struct core_error *err);
int dr_q_touch_dataset(struct db_conn *c, int64_t id, int64_t now_ms, struct core_error *err);
int dr_q_delete_dataset(struct db_conn *c, int64_t id, struct core_error *err);

/* --- q_versions.c ----------------------------------------------------------------- */

struct dr_version_new {
	int64_t dataset_id, number, file_count;
	uint64_t bytes;
	const char *id, *parent, *message, *format, *label_column; /* parent, label_column may be NULL */
	int64_t now_ms;
};
int dr_q_insert_version(struct db_conn *c, const struct dr_version_new *v, int64_t *pk_out, struct core_error *err);
/* The newest version (by number) of a dataset: number and id; 0 rows: none. */
int dr_q_newest_version(struct db_conn *c, int64_t dataset_id, int64_t *number_out, char id_out[65],
			struct core_error *err);
int dr_q_version_count(struct db_conn *c, int64_t dataset_id, int64_t *count_out, struct core_error *err);
/* A version row (DR_VERSION_COLS) by pk / by dataset and number / id / id prefix
 * (up to 2 rows) / the newest READY. */
int dr_q_version_by_pk(struct db_conn *c, int64_t pk, PGresult **res_out, struct core_error *err);
int dr_q_version_by_number(struct db_conn *c, int64_t dataset_id, int64_t number, PGresult **res_out,
			   struct core_error *err);
int dr_q_version_by_id(struct db_conn *c, int64_t dataset_id, const char *id, PGresult **res_out,
		       struct core_error *err);
int dr_q_version_by_prefix(struct db_conn *c, int64_t dataset_id, const char *prefix, PGresult **res_out,
			   struct core_error *err);
int dr_q_version_latest(struct db_conn *c, int64_t dataset_id, PGresult **res_out, struct core_error *err);
/* A page of versions, newest first: numbers below before (0: from the newest). */
int dr_q_list_versions(struct db_conn *c, int64_t dataset_id, int64_t before, int64_t limit, PGresult **res_out,
		       struct core_error *err);
/* The dataset id of name without a lock (reads); 0 rows: none. */
int dr_q_dataset_id(struct db_conn *c, const char *name, int64_t *id_out, struct core_error *err);

/* --- q_files.c -------------------------------------------------------------------- */

/* Rows per INSERT of manifest files (one statement over arrays per chunk). */
#define DR_FILES_CHUNK 10000

/* Inserts files[0..n) of version pk, at most DR_FILES_CHUNK per statement. */
int dr_q_insert_files(struct db_conn *c, int64_t version_pk, const struct dr_manifest_file *files, size_t n,
		      struct core_error *err);
/* Up to limit files of version pk with paths after after ("" from the start), by path:
 * rows (path, sha256, size). */
int dr_q_files_page(struct db_conn *c, int64_t version_pk, const char *after, int64_t limit, PGresult **res_out,
		    struct core_error *err);
/* One file of a version: (sha256, size); 0 rows: none. */
int dr_q_file(struct db_conn *c, int64_t version_pk, const char *path, PGresult **res_out, struct core_error *err);
/* Loads a version's manifest (sorted by path) into a malloc'd array (dr_manifest_free). */
int dr_q_version_files(struct db_conn *c, int64_t version_pk, struct dr_manifest_file **out, size_t *n,
		       struct core_error *err);
/* For blob_gc: sets referenced[i] when a manifest file or a profile names keys[i]. */
int dr_q_blobs_referenced(struct db_conn *c, const char *const *keys, size_t n, bool *referenced,
			  struct core_error *err);

/* --- ev_datasets.c ---------------------------------------------------------------- */

#define DR_TOPIC     "datasets.events"
#define DR_EV_SOURCE "lathe/data-registry"

/* Writes one datasets.events CloudEvent of type (e.g. "lathe.dataset.version.created")
 * about dataset (subject and key) into the outbox, inside the caller's transaction.
 * data: stolen. Returns DB_ONE_RESULT or a negative db_status. */
int dr_ev_write(struct db_conn *c, const char *type, const char *dataset, json_t *data, struct core_error *err);

/* --- gc_refs.c: the references other parts own ------------------------------------ */

/* Called by the collector (h_admin.c) for each batch after the registry's own
 * references (manifest files, profiles) are marked: sets referenced[i] for the keys
 * other parts still reference (split items, tensors), inside the batch's transaction.
 * Returns >= 0 or a negative db_status. dr-split adds its queries here. */
int dr_gc_refs_extra(struct db_conn *c, const char *const *keys, size_t n, bool *referenced, struct core_error *err);

/* --- h_versions.c: commits others call --------------------------------------------- */

/* What a commit is asked to record. files: sorted and checked (dr_manifest_order,
 * dr_path_check_len), every blob stored and touched; id and bytes: dr_manifest_id's. */
struct dr_commit {
	const char *dataset;
	struct dr_manifest_file *files; /* all the files, sorted; NULL when scan has them */
	const struct dr_scan *scan;     /* a JSON body's files (dr_scan_finish done) */
	size_t n;
	char id[65];
	uint64_t bytes;
	enum dr_format format;              /* 0: detect from the paths */
	const char *message, *label_column; /* may be NULL */
	bool check_content;                 /* one-request uploads: dr_check_content first */
};

/* Decides the format (given: checked against the paths; else detected), checks the
 * content when asked, touches every file's blob (blob.h's gc rule) and checks its size, then commits the
 * version (dense number under the dataset's row lock, dataset created when missing,
 * events) and replies 201 with the new version or 200 with the existing one of the
 * same id, or the failure (400 naming the first path whose blob is missing). */
void dr_commit_and_reply(struct http_request *req, struct svc *svc, struct dr_commit *cm);

/* --- dr-split: splits and tensors (split.h, split_build.c, q_splits.c, h_splits.c,
 * tensors.c, h_tensors.c, q_tensors.c, routes_splits.c) ------------------------------ */
#include "split_io.h"

/* The splits and tensors routes; listed in svc_def.routes next to dr_routes. */
extern const struct http_route dr_split_routes[];

void dr_h_split_create(struct http_request *req, void *app);
void dr_h_split_list(struct http_request *req, void *app);
void dr_h_split_get(struct http_request *req, void *app);
void dr_h_split_items(struct http_request *req, void *app);
void dr_h_tensors(struct http_request *req, void *app);

/* A split row as stored (q_splits.c); strings borrowed. */
struct dr_split_row {
	int64_t version_pk;
	const char *name, *args, *fractions, *counts, *class_counts, *items_sha;
	bool stratify;
	int64_t seed, item_count, created_at;
};
/* Columns of a split read (name, args, fractions, stratify, seed, counts, class_counts,
 * items_sha, item_count, created_at). Each returns rows or a negative db_status. */
int dr_q_insert_split(struct db_conn *c, const struct dr_split_row *s, struct core_error *err); /* 0: name taken */
int dr_q_split_by_name(struct db_conn *c, int64_t version_pk, const char *name, PGresult **res_out,
		       struct core_error *err);
int dr_q_list_splits(struct db_conn *c, int64_t version_pk, PGresult **res_out, struct core_error *err);
/* The nearest ancestor of the version (parent ids within dataset_id) with a split
 * named name: (args, items_sha); 0 rows: none. */
int dr_q_ancestor_split(struct db_conn *c, int64_t version_pk, int64_t dataset_id, const char *name, PGresult **res_out,
			struct core_error *err);
/* For the collector (dr_gc_refs_extra): marks keys that a split's items list or a
 * tensor export names. */
int dr_q_split_blobs_referenced(struct db_conn *c, const char *const *keys, size_t n, bool *referenced,
				struct core_error *err);
/* A stored export of (version, options_key): its blob and size; 0 rows: none. */
int dr_q_tensor_export(struct db_conn *c, int64_t version_pk, const char *options_key, char sha_out[65],
		       int64_t *size_out, struct core_error *err);
/* Records an export (the first one of a key stays). */
int dr_q_insert_tensor_export(struct db_conn *c, int64_t version_pk, const char *options_key, const char *sha,
			      int64_t size, int64_t now_ms, struct core_error *err);

/* Makes the predefined split "original" of an IDX version (train-* files -> train,
 * t10k-* -> test), for the profiler to call when it profiles one (off the request
 * path; reads every record once). Does nothing for other formats or when the version
 * has it already. CORE_OK; CORE_EINVAL naming a file the iterator refuses; CORE_EIO
 * for the store or the database (err says which). */
enum core_status dr_split_original(struct svc *svc, int64_t version_pk, struct core_error *err);

/* Replies 200 with the blob sha (ETag "<sha>", content_type), streamed from the store;
 * with ranges, Accept-Ranges: bytes and a single "Range: bytes=a-b" request answers 206
 * with Content-Range (a range that cannot be satisfied, or several, get the whole
 * blob, as RFC 9110 allows). If-None-Match naming the ETag answers 304. */
int dr_reply_blob_range(struct http_request *req, struct svc *svc, const char *sha, const char *content_type,
			bool ranges);
#endif
