/* Handlers of /v1/blobs (face: dr.h; routes in routes.c): the content-addressed store
 * every dataset shares, so equal files are stored once. A client asks which of its
 * hashes are missing, PUTs those, then commits a manifest naming them (h_versions.c).
 *
 * PUT streams: the route's upload function feeds each body chunk to a blob_writer and
 * to a sha256 of its own, so when the body ends the handler compares the digest with
 * the key in the path BEFORE committing: a mismatch aborts the write and nothing is
 * kept. BLOB_MAX_BYTES is checked as the bytes come (413). An uncommitted writer hangs
 * on the request state and is aborted when the request completes (a client that goes
 * away, a crash: the partial file in BLOB_DIR/tmp is swept later).
 *
 *   first chunk  put_begin_or_reply: key checked, writer and hash opened
 *   each chunk   size checked, blob_writer_write, core_sha256_update
 *   body ended   dr_h_blob_put: digest == key ? commit (201, 200 if it was stored)
 *                                              : abort (400)
 * GET/HEAD stream the blob's file with ETag "<sha256>". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/alloc.h"
#include "core/sha256.h"
#include "dr.h"

struct blob_store *dr_blobs(struct svc *svc)
{
	return dr_app(svc)->blobs;
}

static bool key_param_or_reply(struct http_request *req, const char **out)
{
	*out = http_request_param(req, "sha256");
	if (!*out || !blob_key_valid(*out)) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Invalid blob key '%.80s': 64 lower-case hex digits (sha256)", *out ? *out : "");
		return false;
	}
	return true;
}

/* --- missing ---------------------------------------------------------------------- */

void dr_h_blobs_missing(struct http_request *req, void *app)
{
	json_t *hashes = NULL;
	const struct http_jspec spec[] = {HTTP_JS_REQ_ARRAY("hashes", &hashes), HTTP_JS_END};
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	size_t n = json_array_size(hashes);
	if (n > DR_MISSING_MAX) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "Too many hashes: %zu (at most %d per request)",
				 n, DR_MISSING_MAX);
		return;
	}
	size_t i;
	json_t *h;
	json_array_foreach(hashes, i, h)
	{
		const char *k = json_string_value(h);
		if (!k || !blob_key_valid(k)) {
			http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
					 "Invalid hash at hashes[%zu]: 64 lower-case hex digits (sha256)", i);
			return;
		}
	}
	json_t *missing = json_array(), *seen = json_object();
	json_array_foreach(hashes, i, h)
	{
		const char *k = json_string_value(h);
		if (json_object_get(seen, k))
			continue;
		json_object_set_new(seen, k, json_true());
		if (!blob_exists(dr_blobs(app), k))
			json_array_append(missing, h);
	}
	json_decref(seen);
	http_reply_json(req, 200, json_pack("{s:o}", "missing", missing));
}

/* --- put -------------------------------------------------------------------------- */

struct put_state {
	struct blob_writer *writer; /* owned until committed */
	struct core_sha256 *hash;   /* owned */
	char key[BLOB_KEY_LEN + 1];
	uint64_t size;
};

static void put_state_free(void *p)
{
	struct put_state *st = p;
	if (!st)
		return;
	blob_writer_abort(st->writer);
	core_sha256_free(st->hash);
	free(st);
}

static struct put_state *put_begin_or_reply(struct http_request *req, void *app)
{
	const char *key;
	struct core_error err = {{0}};
	if (!key_param_or_reply(req, &key))
		return NULL;
	struct put_state *st = core_xcalloc(1, sizeof *st);
	snprintf(st->key, sizeof st->key, "%s", key);
	if (!(st->hash = core_sha256_new())) {
		http_reply_error(req, HTTP_EC_INTERNAL_ERROR, "sha256 unavailable");
		goto fail;
	}
	if (blob_writer_new(dr_blobs(app), &st->writer, &err) != CORE_OK) {
		http_reply_error_detail(req, HTTP_EC_INTERNAL_ERROR, err.message, "blob storage error");
		goto fail;
	}
	http_request_set_state(req, st, put_state_free);
	return st;
fail:
	put_state_free(st);
	return NULL;
}

int dr_blob_put_chunk(struct http_request *req, void *app, const char *data, size_t len)
{
	struct put_state *st = http_request_state(req);
	struct core_error err = {{0}};
	if (!st && !(st = put_begin_or_reply(req, app)))
		return -1;
	long max = dr_app(app)->settings->blob_max_bytes;
	st->size += len;
	if (st->size > (uint64_t)max) {
		http_reply_error(req, HTTP_EC_REQUEST_TOO_LARGE, "Blob is over the limit of %ld bytes (BLOB_MAX_BYTES)",
				 max);
		return -1;
	}
	core_sha256_update(st->hash, data, len);
	if (blob_writer_write(st->writer, data, len, &err) != CORE_OK) {
		http_reply_error_detail(req, HTTP_EC_INTERNAL_ERROR, err.message, "blob storage error");
		return -1;
	}
	return 0;
}

void dr_h_blob_put(struct http_request *req, void *app)
{
	struct put_state *st = http_request_state(req);
	struct core_error err = {{0}};
	char digest[BLOB_KEY_LEN + 1], key[BLOB_KEY_LEN + 1];
	if (!st && !(st = put_begin_or_reply(req, app))) /* an empty body: no chunk came */
		return;
	struct core_sha256 *h = st->hash;
	st->hash = NULL;
	core_sha256_finish_hex(h, digest);
	if (strcmp(digest, st->key) != 0) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "The body's sha256 is %s, not the %s the path names: nothing was stored", digest,
				 st->key);
		return; /* the writer is aborted when the request completes */
	}
	bool existed = blob_exists(dr_blobs(app), st->key);
	struct blob_writer *w = st->writer;
	st->writer = NULL; /* commit frees it, whatever the outcome; a commit of stored
			      content refreshes its mtime (blob.h's gc rule) */
	if (blob_writer_commit(w, key, &err) != CORE_OK) {
		http_reply_error_detail(req, HTTP_EC_INTERNAL_ERROR, err.message, "blob storage error");
		return;
	}
	http_reply_json(req, existed ? 200 : 201, json_pack("{s:s, s:I}", "sha256", key, "size", (json_int_t)st->size));
}

/* --- get -------------------------------------------------------------------------- */

struct blob_read {
	int fd;
};

static ssize_t blob_read_fn(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct blob_read *d = cls;
	ssize_t n;
	do
		n = pread(d->fd, buf, max, (off_t)pos);
	while (n < 0 && errno == EINTR);
	return n;
}

static void blob_read_free(void *cls)
{
	struct blob_read *d = cls;
	close(d->fd);
	free(d);
}

int dr_reply_blob(struct http_request *req, struct svc *svc, const char *key, const char *content_type,
		  const char *what)
{
	int fd = -1;
	uint64_t size = 0;
	struct core_error err = {{0}};
	enum core_status rc = blob_open(dr_blobs(svc), key, &fd, &size, &err);
	if (rc == CORE_ENOENT)
		return http_reply_error(req, what ? HTTP_EC_DATA_LOSS : HTTP_EC_RESOURCE_DOES_NOT_EXIST,
					"%s%s not found", what ? "The bytes of " : "Blob ", what ? what : key);
	if (rc != CORE_OK)
		return http_reply_error_detail(req, HTTP_EC_INTERNAL_ERROR, err.message, "blob storage error");
	char etag[BLOB_KEY_LEN + 3];
	snprintf(etag, sizeof etag, "\"%s\"", key);
	http_reply_header(req, "ETag", etag);
	http_reply_header(req, "X-Content-Type-Options", "nosniff");
	struct blob_read *d = core_xmalloc(sizeof *d);
	d->fd = fd;
	return http_reply_stream(req, 200, content_type, (int64_t)size, blob_read_fn, d, blob_read_free);
}

void dr_h_blob_get(struct http_request *req, void *app)
{
	const char *key;
	if (!key_param_or_reply(req, &key))
		return;
	dr_reply_blob(req, app, key, "application/octet-stream", NULL);
}
