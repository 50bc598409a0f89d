/* The artifact wing of the experiment tracker, private to its files (prefix
 * et_artifact_ / et_q_artifacts_). Shared across:
 *   artifact_path.c   pure logic: path safety and normalisation, MIME type and
 *                     Content-Disposition of a download, the path of an
 *                     mlflow-artifacts: URI (unit-tested without a server)
 *   q_artifacts.c     one function per SQL statement on tracker.artifacts
 *   h_artifacts.c     the handlers of MLflow's proxied artifact API and artifacts/list
 * Their routes are in routes.c (et.h).
 * Artifact bytes live only in the blob store (by SHA-256); the database maps artifact
 * paths to blob keys. No user path ever reaches the filesystem. */
#ifndef ET_ARTIFACTS_H
#define ET_ARTIFACTS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "db/db.h"
#include "http/http.h"

/* --- paths (artifact_path.c) -------------------------------------------------- */

/* The longest normalised artifact path accepted, in bytes. */
#define ET_ARTIFACT_PATH_MAX 4096

/* Whether the raw (still percent-encoded) request path carries an encoded separator
 * (%2F, %5C in any case) or a backslash: a name that would change meaning once
 * decoded. Returns true when the raw path is acceptable. raw: borrowed. */
bool et_artifact_raw_path_ok(const char *raw);

/* Checks an artifact path as MLflow's validate_path_is_safe does, and normalises it.
 *   in   the once-decoded path (from the router or the query), borrowed
 *   out  [out] the normalised path: segments joined by single '/', empty and "."
 *        segments dropped, no leading or trailing '/'; "" for the root
 *   size bytes at out (ET_ARTIFACT_PATH_MAX + 1 holds any accepted path)
 * The checks run on in decoded again and again until it stops changing (at most ten
 * rounds, as MLflow): rejected are NUL and other control characters, '\\', '#', a
 * ".." segment, an absolute path ("/x", "C:..."), a "file:" URI, an encoding that
 * never settles, and a result longer than ET_ARTIFACT_PATH_MAX.
 * Returns true with out filled, or false (out unspecified): answer 400 "Invalid path". */
bool et_artifact_path_normalize(const char *in, char *out, size_t size);

/* Splits a normalised non-empty path at its last '/': parent ("" at the root) and
 * basename. parent: [out] a buffer of at least strlen(path) + 1 bytes. Returns the
 * basename, borrowed from path. */
const char *et_artifact_path_split(const char *path, char *parent);

/* MLflow's guess of a download's Content-Type from its file name (mime_type_utils):
 * text/plain for MLflow's text extensions (and the names MLmodel, MLproject), else
 * the type Python's mimetypes gives for the extension, else application/octet-stream.
 * Returns a static string. */
const char *et_artifact_mime_type(const char *basename);

/* Writes the Content-Disposition value for basename into out: "attachment;
 * filename=<name>" as MLflow does when the name is plain printable ASCII without
 * quotes, ';' or '\\', else "attachment; filename*=UTF-8''<percent-encoded name>"
 * (RFC 6266), so no name can break the header. Returns false when out is too small. */
bool et_artifact_content_disposition(const char *basename, char *out, size_t size);

/* The proxy path of an mlflow-artifacts: URI (what follows "mlflow-artifacts:",
 * after an optional "//authority", leading slashes stripped): "0/<run>/artifacts" for
 * "mlflow-artifacts:/0/<run>/artifacts". Returns it borrowed from uri, or NULL when uri
 * has another scheme. */
const char *et_artifact_uri_path(const char *uri);

/* --- queries (q_artifacts.c) ------------------------------------------------------ */

/* Adds a directory row for every ancestor of path (ON CONFLICT: kept as is) and counts
 * the ancestors that are files. Returns that count (0: the directories are in place)
 * or a negative db_status. */
int et_q_artifacts_insert_dirs(struct db_conn *c, const char *path, int64_t now_ms, struct core_error *err);

/* Inserts the file row parent/name, or updates it when it is already a file.
 * Returns 1 when written, 0 when parent/name is a directory (nothing written), or a
 * negative db_status. */
int et_q_artifacts_upsert_file(struct db_conn *c, const char *parent, const char *name, const char *blob_key,
			       uint64_t size, int64_t now_ms, struct core_error *err);

/* Lists the entries directly under dir ("" for the root), by name. res_out: [out]
 * columns name, is_dir ('t'/'f'), file_size (NULL for directories); the caller
 * PQclear()s it. Returns the row count or a negative db_status. */
int et_q_artifacts_list(struct db_conn *c, const char *dir, PGresult **res_out, struct core_error *err);

/* Looks up parent/name. res_out: [out] columns is_dir, blob_key, file_size; the
 * caller PQclear()s it. Returns 1 (found), 0 (no such entry) or a negative db_status. */
int et_q_artifacts_get(struct db_conn *c, const char *parent, const char *name, PGresult **res_out,
		       struct core_error *err);

/* Deletes the entry parent/name and, when it is a directory, everything below path
 * (= parent/name). Returns the rows deleted or a negative db_status. */
int et_q_artifacts_delete_tree(struct db_conn *c, const char *parent, const char *name, const char *path,
			       struct core_error *err);

/* Which of the n blob keys (borrowed) some file row names: sets referenced_out[i] to
 * true for each such keys[i] (the others are left as they are). One statement,
 * whatever n (the blob store's garbage collection asks a batch at a time).
 * Returns the count of referenced keys or a negative db_status. */
int et_q_artifacts_referenced(struct db_conn *c, const char *const *keys, size_t n, bool *referenced_out,
			      struct core_error *err);

/* Reads the artifact_uri of a run. uri_out: [out] malloc'd on 1, the caller frees.
 * Returns 1 (found), 0 (no such run) or a negative db_status. */
int et_q_artifacts_run_uri(struct db_conn *c, const char *run_id, char **uri_out, struct core_error *err);

/* --- handlers (h_artifacts.c) ----------------------------------------------------- */

int et_artifact_upload_chunk(struct http_request *req, void *app, const char *data, size_t len);
void et_h_artifact_upload(struct http_request *req, void *app);
void et_h_artifact_download(struct http_request *req, void *app);
void et_h_artifact_list(struct http_request *req, void *app);
void et_h_artifact_delete(struct http_request *req, void *app);
void et_h_run_artifacts_list(struct http_request *req, void *app);
/* mpu/create|complete|abort: 501 NOT_IMPLEMENTED, as MLflow answers for a destination
 * without multipart uploads (its client then falls back to one PUT). */
void et_h_artifact_mpu(struct http_request *req, void *app);
#endif
