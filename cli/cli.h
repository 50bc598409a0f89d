/* The `lathe` command's private header (prefix cli_): what the nouns (data.c, train.c,
 * predict.c, drift.c; models and serve later) share. Each noun is one file with one entry point
 * (cli_data_main) that main.c's table names; the helpers below are the only code the
 * nouns have in common:
 *   http.c      base URL and token from the environment, JSON requests, file uploads and
 *               downloads over libcurl; server errors turned into one quoted message
 *   pool.c      runs N jobs over M threads, each with its own curl handle (parallel
 *               uploads and downloads that reuse their connections)
 *   files.c     walks a directory into a sorted file list; the path rules the server
 *               applies (docs: cli/README.md)
 *   hash.c      sha256 of many files on several threads
 *   cache.c     the hash cache: files unchanged since the last push are not read again
 *   manifest.c  the manifest JSON both ways and the canonical version id
 *   progress.c  a progress bar on a terminal, plain lines otherwise
 *   fmt.c       human sizes and times
 * Every function that can fail returns enum core_status and writes why into a struct
 * core_error; nouns print that message and exit 1. */
#ifndef LATHE_CLI_H
#define LATHE_CLI_H
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "core/sha256.h"
#include "core/status.h"

/* Exit statuses of every verb. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

/* Prints "lathe: <message>" on stderr. */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints err's message as cli_errorf does; returns CLI_EXIT_FAIL. */
int cli_fail(const struct core_error *err);
/* Prints "lathe: <message>" and "try 'lathe NOUN [VERB] --help'" (verb may be NULL) on
 * stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *noun, const char *verb, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* --- http.c ------------------------------------------------------------------------ */

/* Where a noun's service answers and how to authenticate. */
struct cli_conn {
	char base[1024]; /* base URL without a trailing '/' */
	char auth[4096]; /* "Authorization: Bearer <token>" or "" */
};

/* Fills c from the environment: url_env (e.g. "LATHE_DATA_URL", may be NULL), else
 * LATHE_URL, else def_url; LATHE_TOKEN when set. CORE_EINVAL when the URL is not
 * http:// or https:// or too long. */
enum core_status cli_conn_init(struct cli_conn *c, const char *url_env, const char *def_url, struct core_error *err);

/* A curl easy handle with the settings every request shares (timeouts, no signals,
 * keep-alive). NULL when curl cannot make one. The caller cleans it up. */
CURL *cli_http_handle(void);

/* Returns a malloc'd copy of s escaped for one URL path segment. */
char *cli_http_escape(const char *s);

/* Sends method to c->base + path with body (borrowed; NULL: no body) as JSON, on
 * handle h (NULL: a handle made for this call), and waits for the answer.
 * status: [out] the HTTP status (0 when none arrived). out: [out] on CORE_OK the parsed
 * JSON body (caller decrefs; NULL when the body was empty).
 * Returns CORE_OK for a 2xx answer; CORE_ENOENT for 404 and CORE_EINVAL for any other
 * 4xx/5xx, with err holding "<status> <error_code>: \"<server's message>\"";
 * CORE_EIO when no answer arrived (err has curl's words). */
enum core_status cli_http_json(CURL *h, const struct cli_conn *c, const char *method, const char *path,
			       const json_t *body, long *status, json_t **out, struct core_error *err);

/* cli_http_json with a body already encoded: len bytes of body sent as content_type
 * (NULL: no body; then body and len are ignored). Same returns. */
enum core_status cli_http_send(CURL *h, const struct cli_conn *c, const char *method, const char *path,
			       const char *content_type, const void *body, size_t len, long *status, json_t **out,
			       struct core_error *err);

/* PUTs the size bytes of the local file at local_path to c->base + path
 * (application/octet-stream). Same returns as cli_http_json (no body kept). */
enum core_status cli_http_put_file(CURL *h, const struct cli_conn *c, const char *path, const char *local_path,
				   uint64_t size, long *status, struct core_error *err);

/* GETs c->base + path into the open file out, feeding every byte to sha (may be NULL).
 * At most max bytes are accepted (more: CORE_ELIMIT). *got: [out] bytes written.
 * Same returns as cli_http_json otherwise. */
enum core_status cli_http_get_to_file(CURL *h, const struct cli_conn *c, const char *path, FILE *out,
				      struct core_sha256 *sha, uint64_t max, uint64_t *got, struct core_error *err);

/* --- pool.c ------------------------------------------------------------------------ */

/* One job: index i of the batch, on the worker's own handle. Returns CORE_OK or fails
 * with err filled; the first failure stops the batch. */
typedef enum core_status (*cli_job_fn)(CURL *h, size_t i, void *arg, struct core_error *err);

/* Runs fn for i in [0, n) on min(threads, n) threads, each with one curl handle kept
 * for all its jobs (so connections are reused). Returns CORE_OK when every job did,
 * else the first failure's status and message (the other jobs in flight finish; no new
 * ones start). */
enum core_status cli_pool_run(size_t n, unsigned threads, cli_job_fn fn, void *arg, struct core_error *err);

/* --- files.c ----------------------------------------------------------------------- */

struct cli_file {
	char *path;      /* relative, '/'-separated: the manifest's path */
	char *local;     /* where it is on this machine */
	uint64_t size;   /* bytes */
	char sha256[65]; /* lower-case hex; "" until hashed */
	/* what the walk saw (stat of the file itself), for the hash cache */
	int64_t mtime_ns, ctime_ns;
	uint64_t ino, dev;
};

struct cli_arena;

struct cli_files {
	struct cli_file *v;
	size_t n, cap;
	struct cli_arena *arena; /* where path and local live (files.c) */
};

/* Whether path is one the server accepts in a manifest: relative, '/'-separated, no
 * empty, "." or ".." segment, no backslash, no control character, valid UTF-8, at most
 * 1024 bytes. On false *why (when not NULL) names the rule it breaks. */
bool cli_path_valid(const char *path, const char **why);

/* Lists root into out, sorted by path (bytewise): a regular file gives one entry named
 * by its base name; a directory gives every regular file below it, at its path relative
 * to root. Names starting with '.' (files and directories) are skipped; symbolic links
 * are followed to regular files and skipped when they point at a directory (no loops);
 * other kinds (FIFOs, sockets, devices) are skipped. *skipped: [out] how many entries
 * were left out (may be NULL). CORE_EINVAL for a name the server would refuse (named in
 * err), CORE_EIO when a directory cannot be read. out is emptied first. */
enum core_status cli_files_walk(const char *root, struct cli_files *out, size_t *skipped, struct core_error *err);

/* Appends one entry (copies of path and local). */
void cli_files_add(struct cli_files *f, const char *path, const char *local, uint64_t size, const char *sha256);

/* Sorts by path, bytewise. */
void cli_files_sort(struct cli_files *f);

void cli_files_free(struct cli_files *f);

/* --- progress.c -------------------------------------------------------------------- */

/* Progress of one phase ("hashing", "uploading"): a redrawn bar on stderr when it is a
 * terminal, else a plain line at every tenth of the work. Thread-safe. */
struct cli_progress {
	pthread_mutex_t mu;
	const char *what;
	uint64_t total_n, total_bytes, n, bytes;
	bool tty, quiet;
	double start, last_draw;
	int last_tenth;
};

void cli_progress_start(struct cli_progress *p, const char *what, uint64_t total_n, uint64_t total_bytes, bool quiet);
void cli_progress_add(struct cli_progress *p, uint64_t n, uint64_t bytes);
/* Draws the final state, ends the line and returns the seconds the phase took. */
double cli_progress_end(struct cli_progress *p);

/* --- hash.c ------------------------------------------------------------------------ */

/* Fills the sha256 of every entry that has none yet (an entry the hash cache filled
 * is kept) from its local file on threads threads (0: one per core, at least 2),
 * counting into progress (may be NULL). CORE_EIO when a file cannot be
 * read; CORE_EINVAL when a file's size changed since it was listed. */
enum core_status cli_hash_files(struct cli_files *f, unsigned threads, struct cli_progress *progress,
				struct core_error *err);

/* sha256 of one file into out. */
enum core_status cli_hash_file(const char *local, char out[65], uint64_t *size, struct core_error *err);

/* --- cache.c ---------------------------------------------------------------------- */

/* The hash cache of one pushed directory, as git's index and DVC's state database keep
 * one: per file its sha256 with the size, mtime, ctime, inode and device it had when
 * hashed. A file whose five match is not read again. Stored under LATHE_CACHE_DIR, else
 * $XDG_CACHE_HOME/lathe, else ~/.cache/lathe, one file per directory (named by the
 * sha256 of its real path). Best effort: a missing or unreadable cache only means
 * hashing everything. */

/* Fills the sha256 of the entries of f (sorted, from cli_files_walk of root) that the
 * cache vouches for; returns how many. */
size_t cli_hash_cache_apply(const char *root, struct cli_files *f);

/* Writes f's hashes as root's cache, leaving out files modified within the last 2 s
 * (a later change within the same clock tick would go unseen: git's "racy" files).
 * Returns CORE_OK or why it could not (the caller may ignore it). */
enum core_status cli_hash_cache_save(const char *root, const struct cli_files *f, struct core_error *err);

/* --- manifest.c -------------------------------------------------------------------- */

/* {"files":[{"path","sha256","size"}...]} of f, in f's order (new reference). */
json_t *cli_manifest_json(const struct cli_files *f);

/* The version id the server gives these files: sha256 of "<sha256> <size> <path>\n" per
 * file, sorted by path. f must be sorted (cli_files_sort). */
void cli_manifest_id(const struct cli_files *f, char out[65]);

/* Reads a manifest the server sent ({"files":[...]}) into out (local = NULL), refusing
 * a path that cli_path_valid refuses (a server must not make us write outside the
 * target directory), a malformed sha256 or size, and a duplicate path. */
enum core_status cli_manifest_parse(const json_t *manifest, struct cli_files *out, struct core_error *err);

/* Whether s is 64 lower-case hex digits. */
bool cli_sha256_valid(const char *s);

/* --- fmt.c ------------------------------------------------------------------------- */

/* "1.5 MB" (powers of 1000, as `du --si`); writes into buf and returns it. */
const char *cli_fmt_bytes(uint64_t bytes, char *buf, size_t cap);
/* "2026-12-05 20:55:42Z" for ms since the epoch; "-" for a JSON null. */
const char *cli_fmt_ms(const json_t *ms, char *buf, size_t cap);
/* Seconds since an arbitrary start, monotonic. */
double cli_now(void);

/* --- nouns ------------------------------------------------------------------------- */

/* `lathe data VERB ...`: argv[0] is "data". Returns the exit status. */
int cli_data_main(int argc, char **argv);
/* `lathe train SPEC.json` and `lathe jobs ls|show|cancel` (train.c): argv[0] is the noun. */
int cli_train_main(int argc, char **argv);
int cli_jobs_main(int argc, char **argv);
/* `lathe predict MODEL FILE...` (predict.c): images, CSV or JSON to the inference API. */
int cli_predict_main(int argc, char **argv);
/* `lathe drift report|compare` (drift.c): the drift monitor's reports and batch drift. */
int cli_drift_main(int argc, char **argv);
/* `lathe lineage MODEL[@VERSION]` and `--dataset NAME@REF` (lineage.c): the trainer's
 * GET /v1/lineage as a tree. */
int cli_lineage_main(int argc, char **argv);
#endif
