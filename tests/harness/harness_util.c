/* Small shared test helpers (face: harness_util.h): /proc memory figures, SIGKILL of a
 * daemon, Python fixtures and reference numbers, a seeded random stream, rm -rf, schema
 * checks. Each used to be copied into the
 * tests that needed it. */
#include "harness_util.h"
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

long th_proc_status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	long kb = -1;
	size_t n = strlen(field);
	while (fgets(line, sizeof line, f))
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			kb = strtol(line + n + 1, NULL, 10);
	fclose(f);
	ck_assert_int_ge(kb, 0);
	return kb;
}

void th_daemon_kill9(struct th_daemon *d)
{
	ck_assert_int_eq(kill(d->pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(d->pid, NULL, 0), d->pid);
	for (size_t i = 0; i < d->n_expected_errors; i++)
		free(d->expected_errors[i]);
	free(d->database_url);
	free(d);
}

char *th_run_output(const char *cmd, int *status)
{
	FILE *p = popen(cmd, "r");
	ck_assert_msg(p != NULL, "cannot run %s", cmd);
	size_t cap = 4096, n = 0, got;
	char *out = malloc(cap);
	ck_assert_ptr_nonnull(out);
	while ((got = fread(out + n, 1, cap - n - 1, p)) > 0) {
		n += got;
		if (cap - n < 2) {
			cap *= 2;
			out = realloc(out, cap);
			ck_assert_ptr_nonnull(out);
		}
	}
	out[n] = '\0';
	*status = pclose(p);
	return out;
}

char *th_python_fixtures(const char *dir, const char *script)
{
	char *py = th_fmt("%s/mk.py", dir);
	FILE *f = fopen(py, "w");
	ck_assert_ptr_nonnull(f);
	fputs(script, f);
	ck_assert_int_eq(fclose(f), 0);
	char *cmd = th_fmt("/usr/bin/python3 %s %s", py, dir);
	int status;
	char *out = th_run_output(cmd, &status);
	ck_assert_msg(status == 0, "%s failed", cmd);
	free(cmd);
	free(py);
	return out;
}

size_t th_python_numbers(const char *arg, const char *prelude, const char *body, double *out, size_t max)
{
	char *script = th_fmt("%s.py", arg);
	FILE *f = fopen(script, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"import sys, warnings, collections, fractions\n"
		"import numpy as np, scipy.stats, scipy.special, scipy.spatial.distance\n"
		"warnings.simplefilter('ignore')\n"
		"def out(*vals):\n"
		"    print(' '.join(repr(float(v)) for v in vals))\n"
		"%s\n%s\n",
		prelude ? prelude : "", body);
	ck_assert_int_eq(fclose(f), 0);
	char *cmd = th_fmt("/usr/bin/python3 '%s' '%s'", script, arg);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	size_t n = 0;
	char word[64];
	while (n < max && fscanf(p, "%63s", word) == 1)
		out[n++] = strtod(word, NULL);
	ck_assert_msg(pclose(p) == 0, "%s failed", cmd);
	unlink(script);
	free(script);
	free(cmd);
	return n;
}

double th_urand(struct th_rng *r)
{
	r->state ^= r->state << 13;
	r->state ^= r->state >> 7;
	r->state ^= r->state << 17;
	return (double)(r->state >> 11) / 9007199254740992.0;
}

double th_nrand(struct th_rng *r)
{
	double u = th_urand(r), v = th_urand(r);
	return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

json_t *th_json_find(json_t *array, const char *key, const char *value)
{
	json_t *o;
	size_t i;
	json_array_foreach(array, i, o)
	{
		const char *v = json_string_value(json_object_get(o, key));
		if (v && strcmp(v, value) == 0)
			return o;
	}
	ck_abort_msg("no %s '%s' among %zu objects", key, value, json_array_size(array));
	return NULL;
}

size_t th_count(const char *text, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

void th_expect_has(const char *text, const char *needle)
{
	ck_assert_msg(strstr(text, needle) != NULL, "'%s' is missing from:\n%s", needle, text);
}

void th_rm_rf(const char *dir)
{
	char *cmd = th_fmt("rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
}

void th_json_schema_check(const char *schema, const char *text, size_t len, const char *what)
{
	const char *root = getenv("LATHE_ROOT");
	const char *tmp = getenv("LATHE_TEST_TMP");
	root = root ? root : ".";
	char *doc = th_fmt("%s/schema-doc-%d.json", tmp ? tmp : "/tmp", (int)getpid());
	FILE *f = fopen(doc, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	char *cmd =
		th_fmt("/usr/bin/python3 '%s/tests/tools/json_schema_check.py' '%s/%s' '%s'", root, root, schema, doc);
	ck_assert_msg(system(cmd) == 0, "%s breaks %s: %.2000s", what, schema, text);
	unlink(doc);
	free(doc);
	free(cmd);
}

double th_metric(struct th_daemon *d, const char *series)
{
	struct th_response r = th_call(d, "GET", "/metrics", NULL);
	ck_assert_int_eq(r.status, 200);
	double v = -1;
	size_t n = strlen(series);
	for (const char *line = r.body; line && *line;) {
		if (strncmp(line, series, n) == 0 && line[n] == ' ') {
			v = strtod(line + n + 1, NULL);
			break;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	th_response_free(&r);
	return v;
}
