/* Small helpers several tests had each copied (prefix th_): a process's memory from
 * /proc, a daemon killed with SIGKILL, Python-made fixtures in a scratch directory, a
 * recursive remove, one series read from /metrics, and a JSON document checked against one of proto/'s schemas. Unit
 * tests may use them too (they need no daemon). Built on harness.h. */
#ifndef LATHE_TEST_UTIL_H
#define LATHE_TEST_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "harness.h"

/* A field of /proc/<pid>/status in kB ("VmRSS", "VmHWM"); fails the test when absent. */
long th_proc_status_kb(pid_t pid, const char *field);

/* Kills d with SIGKILL, reaps it and frees it (no log check: a killed daemon's log is
 * not the test's business). */
void th_daemon_kill9(struct th_daemon *d);

/* Runs cmd with the shell and returns what it printed on stdout (malloc'd,
 * NUL-terminated); *status gets pclose's status (0: it exited 0). */
char *th_run_output(const char *cmd, int *status);

/* Writes script to <dir>/mk.py and runs it with Debian's /usr/bin/python3 (numpy, PIL)
 * and dir as its argument; fails the test unless it exits 0. Returns what it printed
 * (malloc'd, NUL-terminated). */
char *th_python_fixtures(const char *dir, const char *script);

/* The reference side of a numerical unit test: runs Debian's /usr/bin/python3 on a
 * program made of a common head (sys, collections, fractions, numpy as np, scipy.stats,
 * scipy.special, scipy.spatial.distance imported; warnings off; out(*values) printing
 * values as repr(float), which reads back to the same double), then prelude (may be
 * NULL: the caller's definitions), then body, with arg as sys.argv[1] (the file of the
 * values the C side used, written with %.17g). Reads the whitespace-separated numbers
 * it prints into out[0..max) and returns how many; fails the test unless it exits 0. */
size_t th_python_numbers(const char *arg, const char *prelude, const char *body, double *out, size_t max);

/* A fixed-seed xorshift64 stream, so every run draws the same samples. */
struct th_rng {
	uint64_t state; /* any non-zero seed */
};
/* Uniform in [0, 1), 53 bits. */
double th_urand(struct th_rng *r);
/* Standard normal (Box-Muller, one of the pair). */
double th_nrand(struct th_rng *r);

/* The member of the objects in array (borrowed) whose string member key equals value:
 * a drift report's column by column_name, say. Fails the test when none does. Borrowed. */
json_t *th_json_find(json_t *array, const char *key, const char *value);

/* How many times needle occurs in text (overlapping ones too). */
size_t th_count(const char *text, const char *needle);
/* Fails the test, showing text, unless it contains needle. */
void th_expect_has(const char *text, const char *needle);

/* rm -rf dir; fails the test when that fails. */
void th_rm_rf(const char *dir);

/* Checks the JSON text[0..len) against the schema at schema (a path below the source
 * tree, "proto/profile.schema.json") with tests/tools/json_schema_check.py; fails the
 * test with what (a name for the message) when it does not hold. */
void th_json_schema_check(const char *schema, const char *text, size_t len, const char *what);

/* The value of one series of d's GET /metrics: series is its whole name with labels as
 * rendered ("lathe_http_requests_total{route=\"/x\"}"); -1 when absent. Fails the test
 * unless /metrics answers 200. */
double th_metric(struct th_daemon *d, const char *series);
#endif
