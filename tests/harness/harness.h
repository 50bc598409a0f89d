/* The integration-test harness (prefix th_): what every test that needs the real
 * platform around it calls. tools/run-tests.sh starts one PostgreSQL cluster and one
 * devkafka broker per test run and describes them in the environment:
 *   LATHE_TEST_PG_URL     admin URL of the cluster (database "postgres")
 *   LATHE_TEST_KAFKA      devkafka's bootstrap list
 *   LATHE_TEST_KAFKA_CTL  devkafka's control FIFO ("down 1", "up 1", ...)
 *   LATHE_TEST_BIN        the directory holding the daemons of the variant under test
 *   LATHE_TEST_TMP        a scratch directory removed after the run
 *   LATHE_ROOT            the repository (for tools/pg.sh)
 * Each test gets its own database (th_db_create) and its own daemon processes
 * (th_daemon_start), so tests never see each other's state.
 * Failures inside the harness abort the test with a message (ck_abort_msg): a test
 * whose ground is missing cannot pass. */
#ifndef LATHE_TEST_HARNESS_H
#define LATHE_TEST_HARNESS_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Returns the environment variable's value; fails the test when it is unset. */
const char *th_env(const char *name);

/* Creates an empty database with a fresh name and returns its URL (malloc'd). */
char *th_db_create(void);

/* Returns a TCP port on 127.0.0.1 in 20000-31999 (outside the ephemeral range)
 * that nothing listened on a moment ago. */
unsigned th_free_port(void);

/* Sends one command line to devkafka's control FIFO ("down 1", "up 1"). */
void th_kafka_ctl(const char *command);

/* A response body growing as libcurl delivers it (th_collect_body); data is malloc'd
 * and NUL-terminated once anything arrived. */
struct th_collect {
	char *data;
	size_t len, cap;
};

/* libcurl CURLOPT_WRITEFUNCTION appending to the struct th_collect given as
 * CURLOPT_WRITEDATA. */
size_t th_collect_body(char *p, size_t size, size_t n, void *cls);

/* --- daemons -------------------------------------------------------------------- */

struct th_daemon {
	pid_t pid;
	unsigned port;
	char base_url[64];         /* "http://127.0.0.1:PORT" */
	char log_path[512];        /* the daemon's stderr */
	char *database_url;        /* owned */
	char *expected_errors[16]; /* substrings of error lines the test expects */
	size_t n_expected_errors;
};

/* Starts services/<service> (binary lathe-<service>) on a free port with its own fresh
 * database (database_url NULL) or the given one, KAFKA_BROKERS from the run, and the
 * extra "NAME=value" settings (NULL-terminated, may be NULL; one named as a default,
 * such as BLOB_DIR=<TMP>/blobs-<tag> or LOG_LEVEL=debug, replaces it; PORT=n restarts a daemon
 * on the port it had); waits until /readyz
 * answers 200 (at most 30 s). */
struct th_daemon *th_daemon_start(const char *service, const char *database_url, const char *const *extra_env);

/* Whether service becomes ready with no other Lathe service beside it. The inference
 * API does not: it is ready once the model registry has said what it serves and those
 * models are loaded (test_infer_lifecycle shows it). */
bool th_ready_alone(const char *service);
/* th_daemon_start for a daemon started on its own: waits for /readyz 200 when
 * th_ready_alone(service), else only for /healthz 200 (live). */
struct th_daemon *th_daemon_start_alone(const char *service, const char *database_url, const char *const *extra_env);

/* Starts the daemon without waiting for readiness. */
struct th_daemon *th_daemon_spawn(const char *service, const char *database_url, const char *const *extra_env);

/* Waits up to timeout_ms for GET path to answer want_status. Returns whether it did. */
bool th_daemon_wait_status(struct th_daemon *d, const char *path, long want_status, int timeout_ms);

/* Declares that the daemon's log may hold an error line containing substring. */
void th_daemon_expect_error(struct th_daemon *d, const char *substring);

/* Sends SIGTERM, waits (at most 30 s) and fails the test unless the daemon exited 0
 * and its log holds no error line the test did not expect. Frees d. */
void th_daemon_stop(struct th_daemon *d);

/* Whether one line of the daemon's log holds both substrings (b may be NULL). */
bool th_daemon_log_has(struct th_daemon *d, const char *a, const char *b);

/* Whether the daemon process is still the one started (not exited). */
bool th_daemon_alive(struct th_daemon *d);

/* --- HTTP ----------------------------------------------------------------------- */

struct th_response {
	long status;
	char *body; /* malloc'd, NUL-terminated */
	size_t body_len;
	json_t *json; /* parsed body, NULL when not JSON */
};

/* Sends a request (body may be NULL) and returns the response; fails the test when no
 * response arrives. Content-Type is application/json when a body is given and
 * content_type is NULL. */
struct th_response th_http(const char *method, const char *url, const char *content_type, const char *body,
			   size_t body_len);
/* th_http on d's base URL + path with a JSON body (or none). */
struct th_response th_call(struct th_daemon *d, const char *method, const char *path, const char *json_body);
void th_response_free(struct th_response *r);

/* th_call that must answer 200 with a JSON body: returns the body (owned: json_decref),
 * failing the test with the status and body otherwise. */
json_t *th_ok(struct th_daemon *d, const char *method, const char *path, const char *json_body);

/* POSTs {"<k1>": v1, "<k2>": v2} (v2 NULL: k1 alone), encoded by jansson so any name
 * travels intact; the caller frees the response. */
struct th_response th_post_fields(struct th_daemon *d, const char *path, const char *k1, const char *v1, const char *k2,
				  const char *v2);

/* printf into a malloc'd string (the caller frees); fails the test when out of memory. */
char *th_fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

/* Checks an error reply: status, error_code, and that message contains needle (NULL:
 * anything). Fails the test otherwise. */
void th_expect_error(const struct th_response *r, long status, const char *error_code, const char *needle);

/* Fails the test when text (a reply body, a tag a client reads) shows what only the
 * operator should see: a loopback address, "localhost", the number port (0: not
 * checked) standing alone, or the test's scratch directory (LATHE_TEST_TMP, where
 * the blob stores and private clusters live). */
void th_expect_no_internals(const char *text, unsigned port);
#endif
