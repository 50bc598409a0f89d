/* Small helpers several tests had each copied (prefix th_): a process's memory from
 * /proc, a daemon killed with SIGKILL, Python-made fixtures in a scratch directory, a
 * recursive remove, one series read from /metrics, and a JSON document checked against one of proto/'s schemas. Unit
 * tests may use them too (they need no daemon). Built on harness.h. */
#ifndef LATHE_TEST_UTIL_H
#define LATHE_TEST_UTIL_H
#include <stddef.h>
#include <sys/types.h>
#include "harness.h"

/* A field of /proc/<pid>/status in kB ("VmRSS", "VmHWM"); fails the test when absent. */
long th_proc_status_kb(pid_t pid, const char *field);

/* Kills d with SIGKILL, reaps it and frees it (no log check: a killed daemon's log is
 * not the test's business). */
void th_daemon_kill9(struct th_daemon *d);

/* Writes script to <dir>/mk.py and runs it with Debian's /usr/bin/python3 (numpy, PIL)
 * and dir as its argument; fails the test unless it exits 0. Returns what it printed
 * (malloc'd, NUL-terminated). */
char *th_python_fixtures(const char *dir, const char *script);

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
