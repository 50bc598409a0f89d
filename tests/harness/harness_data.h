/* Helpers for the data registry's integration tests (prefix th_data_): blobs put by
 * content, manifests committed from (path, bytes) pairs, requests with one extra header
 * that read a reply header back, a count of the blobs in a daemon's store, and a folder
 * pushed and committed as a version (as the CLI would, without it). Built on
 * harness.h; any test of a part of the data registry (frame, splits, tensors, CLI) may
 * use them. */
#ifndef LATHE_TEST_DATA_H
#define LATHE_TEST_DATA_H
#include <jansson.h>
#include <stddef.h>
#include "harness.h"

/* PUTs len bytes as a blob; fails the test unless 201 or 200. key_out: the sha256. */
void th_data_put_blob(struct th_daemon *d, const void *data, size_t len, char key_out[65]);

/* One file of a test manifest: path and its bytes (NUL-terminated text). */
struct th_data_file {
	const char *path;
	const char *text;
};

/* Builds {"files":[{path, sha256, size}...]} for files[0..n) (in the given order),
 * PUTting each file's bytes first when put is true. Owned by the caller. */
json_t *th_data_manifest(struct th_daemon *d, const struct th_data_file *files, size_t n, bool put);

/* POSTs body (JSON, borrowed) to /v1/datasets/<dataset>/versions. */
struct th_response th_data_commit(struct th_daemon *d, const char *dataset, json_t *body);

/* Sends a request with an optional extra header ("If-None-Match: ..."; NULL: none) and
 * copies the value of reply header want (NULL: none) into value_out ("" when absent). */
struct th_response th_data_http(const char *method, const char *url, const char *content_type, const void *body,
				size_t len, const char *header, const char *want, char *value_out, size_t value_size);

/* The daemon's blob store directory (BLOB_DIR=<tmp>/blobs-<tag>, th_daemon_start's). */
void th_data_blob_dir(struct th_daemon *d, char *out, size_t size);

/* Number of blobs under <blob_dir>/objects. */
size_t th_data_blob_count(const char *blob_dir);

/* The whole file at path, NUL-terminated (malloc'd); *len its size. Fails the test when
 * it cannot be read. */
char *th_data_read_file(const char *path, size_t *len);

/* A fresh directory <LATHE_TEST_TMP>/<tag>-<pid> (malloc'd path). */
char *th_data_scratch_dir(const char *tag);

/* Pushes every file under dir as a version of dataset, the content-addressed way: PUT
 * each blob, then POST the manifest (paths relative to dir, sorted). extra: more JSON
 * members ("" or ", \"label_column\": \"label\""). Fails the test unless the commit
 * answers 201 or 200; returns the version number. */
long th_data_push_dir(struct th_daemon *d, const char *dataset, const char *dir, const char *extra);

/* Runs one SQL statement on d's database (schema data); returns the first value of the
 * first row (malloc'd; "" when there is none). Fails the test on an error. */
char *th_data_sql(struct th_daemon *d, const char *text);
#endif
