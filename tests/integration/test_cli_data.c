/* Integration tests of `lathe data` (cli/): the built lathe binary against a real
 * lathe-data-registry with its own database, as a user runs it. A folder of 300 small
 * PNGs in three class folders (written by Debian's python3 + PIL) is pushed: everything
 * is uploaded; pushed again: nothing is uploaded and the same version answers; with one
 * file changed: that file alone is uploaded and a new version follows; pushed to a
 * second dataset: nothing is uploaded (blobs are shared). ls and show read the versions
 * back; pull writes them into a new directory byte for byte and a second pull
 * downloads nothing. Server errors exit 1 quoting the server, bad usage exits 2. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness_cli.h"
#include "harness.h"

#define N_PER_CLASS 100

/* Runs `lathe ARGS` (a shell fragment) with LATHE_URL = url (NULL: unset) and the hash
 * cache in the run's scratch directory, not the user's home. */
static void lathe(struct th_run *r, const char *url, const char *args)
{
	char *env = th_fmt("LATHE_CACHE_DIR='%s/cli-cache'%s%s%s", th_env("LATHE_TEST_TMP"), url ? " LATHE_URL='" : "",
			   url ? url : "", url ? "'" : "");
	th_lathe(r, env, args);
	free(env);
}

static void expect_out(const struct th_run *r, const char *needle, const char *what)
{
	ck_assert_msg(strstr(r->out, needle), "%s: stdout lacks '%s':\n%s\nstderr: %s", what, needle, r->out, r->err);
}

/* The version id push printed ("version: NAME@N <id> (..."), into id. */
static void version_id(const struct th_run *r, char id[65])
{
	const char *v = strstr(r->out, "version: ");
	ck_assert_ptr_nonnull(v);
	const char *sp = strchr(v + 9, ' ');
	ck_assert_ptr_nonnull(sp);
	ck_assert_int_eq(sscanf(sp + 1, "%64[0-9a-f]", id), 1);
	ck_assert_uint_eq(strlen(id), 64);
}

/* Writes N_PER_CLASS distinct small PNGs into each of three class folders under dir. */
static void make_images(const char *dir)
{
	char *cmd = th_fmt("/usr/bin/python3 -c '\n"
			   "import os, sys\n"
			   "from PIL import Image\n"
			   "root = sys.argv[1]\n"
			   "for c, cls in enumerate([\"cat\", \"dog\", \"bird\"]):\n"
			   "    os.makedirs(os.path.join(root, cls), exist_ok=True)\n"
			   "    for i in range(%d):\n"
			   "        im = Image.new(\"L\", (8 + i %% 5, 8), (c * 100 + i) %% 256)\n"
			   "        im.putpixel((0, 0), i)\n"
			   "        im.putpixel((1, 0), c)\n"
			   "        im.save(os.path.join(root, cls, \"%%03d.png\" %% i))\n"
			   "' '%s'",
			   N_PER_CLASS, dir);
	ck_assert_msg(system(cmd) == 0, "python3 + PIL could not write the images");
	free(cmd);
}

/* Whether the data registry serves the API yet (the stub answers 404/501). */
static bool api_ready(struct th_daemon *d)
{
	struct th_response r = th_call(d, "POST", "/v1/blobs/missing", "{\"hashes\":[]}");
	bool ok = r.status != 404 && r.status != 501;
	th_response_free(&r);
	return ok;
}

START_TEST(push_push_again_change_one_ls_show_pull)
{
	struct th_daemon *d = th_daemon_start("data-registry", NULL, NULL);
	if (!api_ready(d)) {
		printf("note: test_cli_data: the data registry does not serve /v1/blobs/missing yet: push/pull not "
		       "exercised\n");
		th_daemon_stop(d);
		return;
	}
	const char *url = d->base_url;
	char *src = th_fmt("%s/cli-src-%d", th_env("LATHE_TEST_TMP"), (int)getpid());
	make_images(src);
	char *hidden = th_fmt("%s/cat/.hidden-note", src);
	FILE *h = fopen(hidden, "w");
	ck_assert_ptr_nonnull(h);
	fputs("a dot-file is not pushed", h);
	fclose(h);

	struct th_run r;
	char *args = th_fmt("data push '%s' --dataset pets --message 'first cut'", src);
	lathe(&r, url, args);
	th_lathe_expect_exit(&r, 0, "first push");
	expect_out(&r, "files: 300,", "first push");
	expect_out(&r, "uploaded: 300 files", "first push");
	expect_out(&r, "already stored: 0 files, 0 bytes", "first push");
	expect_out(&r, "skipped: 1 entries", "first push");
	expect_out(&r, "version: pets@1 ", "first push");
	expect_out(&r, "(new", "first push");
	char id1[65];
	version_id(&r, id1);
	/* stderr is not a terminal here: plain lines, no bar drawing */
	ck_assert_msg(!strchr(r.err, '\r'), "progress drew a bar into a file: %s", r.err);

	lathe(&r, url, args);
	th_lathe_expect_exit(&r, 0, "second push");
	expect_out(&r, "uploaded: 0 files, 0 bytes", "second push");
	expect_out(&r, "already stored: 300 files", "second push");
	expect_out(&r, "version: pets@1 ", "second push");
	expect_out(&r, "unchanged", "second push");
	char again[65];
	version_id(&r, again);
	ck_assert_str_eq(again, id1);

	/* one file changes: it alone travels */
	char *cmd = th_fmt(
		"/usr/bin/python3 -c 'from PIL import Image; Image.new(\"L\", (9, 9), 7).save(\"%s/dog/042.png\")'",
		src);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	struct stat st;
	char *changed = th_fmt("%s/dog/042.png", src);
	ck_assert_int_eq(stat(changed, &st), 0);
	free(args);
	args = th_fmt("data push '%s' --dataset pets -m 'one dog redrawn'", src);
	lathe(&r, url, args);
	th_lathe_expect_exit(&r, 0, "push after a change");
	char *one = th_fmt("uploaded: 1 files, %lld bytes", (long long)st.st_size);
	expect_out(&r, one, "push after a change");
	expect_out(&r, "already stored: 299 files", "push after a change");
	expect_out(&r, "version: pets@2 ", "push after a change");
	char id2[65];
	version_id(&r, id2);
	ck_assert_str_ne(id2, id1);

	/* the same files to another dataset: stored once, nothing uploaded */
	free(args);
	args = th_fmt("data push '%s' --dataset pets-copy", src);
	lathe(&r, url, args);
	th_lathe_expect_exit(&r, 0, "push to a second dataset");
	expect_out(&r, "uploaded: 0 files, 0 bytes", "push to a second dataset");
	expect_out(&r, "version: pets-copy@1 ", "push to a second dataset");

	lathe(&r, url, "data ls");
	th_lathe_expect_exit(&r, 0, "ls");
	expect_out(&r, "pets ", "ls");
	expect_out(&r, "pets-copy ", "ls");
	lathe(&r, url, "data ls --json");
	th_lathe_expect_exit(&r, 0, "ls --json");
	json_t *j = json_loads(r.out, 0, NULL);
	ck_assert_msg(j, "ls --json printed no JSON: %s", r.out);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "datasets")), 2);
	json_decref(j);

	lathe(&r, url, "data ls pets");
	th_lathe_expect_exit(&r, 0, "ls pets");
	char prefix1[13], prefix2[13];
	snprintf(prefix1, sizeof prefix1, "%.12s", id1);
	snprintf(prefix2, sizeof prefix2, "%.12s", id2);
	expect_out(&r, prefix1, "ls pets");
	expect_out(&r, prefix2, "ls pets");
	expect_out(&r, "one dog redrawn", "ls pets");
	ck_assert_msg(strstr(r.out, prefix2) < strstr(r.out, prefix1), "ls pets is not newest first:\n%s", r.out);

	lathe(&r, url, "data show pets@1");
	th_lathe_expect_exit(&r, 0, "show pets@1");
	char *line = th_fmt("id:           %s", id1);
	expect_out(&r, line, "show pets@1");
	expect_out(&r, "files:        300\n", "show pets@1");
	expect_out(&r, "message:      first cut", "show pets@1");
	free(line);
	char *by_prefix = th_fmt("data show --json pets@%.10s", id2);
	lathe(&r, url, by_prefix);
	th_lathe_expect_exit(&r, 0, "show by id prefix");
	j = json_loads(r.out, 0, NULL);
	ck_assert_msg(j, "show --json printed no JSON: %s", r.out);
	json_t *v = json_object_get(j, "version");
	ck_assert_int_eq(json_integer_value(json_object_get(v, "number")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(v, "parent")), id1);
	ck_assert_int_eq(json_integer_value(json_object_get(v, "file_count")), 300);
	json_decref(j);

	/* pull version 2 into a new directory: byte for byte the source (less the dot-file) */
	char *dst = th_fmt("%s/cli-dst-%d", th_env("LATHE_TEST_TMP"), (int)getpid());
	char *pull = th_fmt("data pull pets@2 '%s' --jobs 4", dst);
	lathe(&r, url, pull);
	th_lathe_expect_exit(&r, 0, "pull");
	expect_out(&r, "downloaded: 300 files", "pull");
	cmd = th_fmt("diff -r -x .hidden-note '%s' '%s'", src, dst);
	ck_assert_msg(system(cmd) == 0, "the pulled tree differs from the pushed one");
	free(cmd);
	cmd = th_fmt("test $(find '%s' -type f | wc -l) -eq 300", dst);
	ck_assert_msg(system(cmd) == 0, "the pull left other files behind (temporary files?)");
	free(cmd);
	lathe(&r, url, pull);
	th_lathe_expect_exit(&r, 0, "second pull");
	expect_out(&r, "downloaded: 0 files", "second pull");
	expect_out(&r, "already present: 300 files", "second pull");

	/* version 1 over it: only the changed file is fetched again */
	free(pull);
	pull = th_fmt("data pull pets@1 '%s'", dst);
	lathe(&r, url, pull);
	th_lathe_expect_exit(&r, 0, "pull of version 1 over version 2");
	expect_out(&r, "downloaded: 1 files", "pull of version 1 over version 2");

	/* the server's errors: exit 1, its code and message quoted */
	lathe(&r, url, "data show pets@99");
	th_lathe_expect_exit(&r, 1, "show of a missing version");
	ck_assert_msg(strstr(r.err, "404 RESOURCE_DOES_NOT_EXIST: \""), "stderr: %s", r.err);
	char *pull_missing = th_fmt("data pull nosuch@1 '%s/none'", th_env("LATHE_TEST_TMP"));
	lathe(&r, url, pull_missing);
	th_lathe_expect_exit(&r, 1, "pull of a missing dataset");
	ck_assert_msg(strstr(r.err, "RESOURCE_DOES_NOT_EXIST"), "stderr: %s", r.err);

	free(pull_missing), free(pull), free(dst), free(by_prefix), free(one), free(changed), free(args);
	free(hidden), free(src);
	th_daemon_stop(d);
}
END_TEST

/* The walk takes a regular file's lstat as its stat; a link to a file is pushed as that
 * file, a link to a directory is skipped. */
START_TEST(push_follows_file_links_only)
{
	struct th_daemon *d = th_daemon_start("data-registry", NULL, NULL);
	if (!api_ready(d)) {
		printf("note: test_cli_data: the data registry does not serve /v1/blobs/missing yet\n");
		th_daemon_stop(d);
		return;
	}
	char *src = th_fmt("%s/cli-links-%d", th_env("LATHE_TEST_TMP"), (int)getpid());
	char *cmd = th_fmt("mkdir -p '%s/cat' && /usr/bin/python3 -c 'from PIL import Image; "
			   "Image.new(\"L\", (5, 5), 9).save(\"%s/cat/a.png\")' && ln -s a.png '%s/cat/b.png' && "
			   "ln -s cat '%s/dog'",
			   src, src, src, src);
	ck_assert_int_eq(system(cmd), 0);
	struct th_run r;
	char *args = th_fmt("data push '%s' --dataset links", src);
	lathe(&r, d->base_url, args);
	th_lathe_expect_exit(&r, 0, "push with links");
	expect_out(&r, "files: 2,", "push with links");
	expect_out(&r, "1 distinct contents", "push with links");
	expect_out(&r, "uploaded: 1 files", "push with links");
	expect_out(&r, "skipped: 1 entries", "push with links");
	free(args), free(cmd), free(src);
	th_daemon_stop(d);
}
END_TEST

/* What needs no server: usage errors exit 2, --help exits 0, an unreachable or
 * malformed URL exits 1 with the reason. */
START_TEST(usage_and_unreachable)
{
	struct th_run r;
	lathe(&r, NULL, "");
	th_lathe_expect_exit(&r, 2, "no arguments");
	lathe(&r, NULL, "--help");
	th_lathe_expect_exit(&r, 0, "--help");
	expect_out(&r, "data", "--help");
	lathe(&r, NULL, "data --help");
	th_lathe_expect_exit(&r, 0, "data --help");
	expect_out(&r, "push PATH --dataset NAME", "data --help");
	const char *usage[] = {
		"nouns",
		"data",
		"data frobnicate",
		"data push",
		"data push . --dataset",
		"data push /tmp",
		"data push /tmp --dataset 'bad/name'",
		"data push /tmp --dataset ok --format parquet",
		"data push /tmp --dataset ok --jobs 0",
		"data push /tmp --dataset ok --no-such-option",
		"data show",
		"data show 'a@'",
		"data pull onlyname",
		"data ls a b",
	};
	for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
		lathe(&r, "http://127.0.0.1:1", usage[i]);
		th_lathe_expect_exit(&r, 2, usage[i]);
		ck_assert_msg(strstr(r.err, "lathe") || strstr(r.err, "usage"), "%s: stderr says nothing: %s", usage[i],
			      r.err);
	}
	unsigned port = th_free_port();
	char *url = th_fmt("http://127.0.0.1:%u", port);
	lathe(&r, url, "data ls");
	th_lathe_expect_exit(&r, 1, "ls against a closed port");
	ck_assert_msg(strstr(r.err, "cannot reach"), "stderr: %s", r.err);
	lathe(&r, "ftp://example", "data ls");
	th_lathe_expect_exit(&r, 1, "ls with an ftp URL");
	ck_assert_msg(strstr(r.err, "LATHE_URL must start with http"), "stderr: %s", r.err);
	char *missing = th_fmt("data push '%s/nothing-here' --dataset x", th_env("LATHE_TEST_TMP"));
	lathe(&r, url, missing);
	th_lathe_expect_exit(&r, 1, "push of a missing path");
	ck_assert_msg(strstr(r.err, "nothing-here"), "stderr: %s", r.err);
	free(missing), free(url);
}
END_TEST

static Suite *cli_data_suite(void)
{
	Suite *s = suite_create("cli_data");
	TCase *tc = tcase_create("cli");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, push_push_again_change_one_ls_show_pull);
	tcase_add_test(tc, push_follows_file_links_only);
	tcase_add_test(tc, usage_and_unreachable);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cli_data_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
