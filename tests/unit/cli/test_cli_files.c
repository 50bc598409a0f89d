/* Unit tests of the `lathe` command's local side (cli/files.c, cli/hash.c,
 * cli/manifest.c): which files a push takes from a directory and under which paths,
 * the path rules (the server's, which a pull applies to what the server sends), hashes
 * checked against coreutils' sha256sum, the manifest JSON, and the version id checked
 * against sha256sum over the canonical manifest text DR-SPEC defines. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "harness.h"

/* A fresh scratch directory (malloc'd). */
static char *scratch(void)
{
	char *d = th_fmt("%s/cli-XXXXXX", th_env("LATHE_TEST_TMP"));
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static void write_file(const char *dir, const char *rel, const char *data, size_t n)
{
	char *path = th_fmt("%s/%s", dir, rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	char *cmd = th_fmt("mkdir -p '%s'", path);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	*slash = '/';
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	fclose(f);
	free(path);
}

/* The first word sha256sum prints for the shell command's output (or a file). */
static void sha256sum_of(const char *shell, char out[65])
{
	char *cmd = th_fmt("%s | sha256sum", shell);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(out, 65, p));
	pclose(p);
	free(cmd);
	ck_assert(cli_sha256_valid(out));
}

START_TEST(walk_takes_regular_files_sorted_and_skips_dot_names)
{
	char *d = scratch();
	write_file(d, "b/2.png", "two", 3);
	write_file(d, "a/1.png", "one", 3);
	write_file(d, "a/sub/deep.txt", "deep", 4);
	write_file(d, "top.csv", "x,y\n", 4);
	write_file(d, ".git/config", "no", 2);
	write_file(d, "a/.DS_Store", "no", 2);
	char *fifo = th_fmt("%s/a/pipe", d);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	char *link_file = th_fmt("%s/b/link.png", d), *link_dir = th_fmt("%s/b/loop", d);
	ck_assert_int_eq(symlink("../a/1.png", link_file), 0);
	ck_assert_int_eq(symlink("..", link_dir), 0);

	struct cli_files f = {0};
	size_t skipped = 99;
	struct core_error err;
	char *root = th_fmt("%s/", d); /* a trailing slash changes nothing */
	ck_assert_int_eq(cli_files_walk(root, &f, &skipped, &err), CORE_OK);
	const char *want[] = {"a/1.png", "a/sub/deep.txt", "b/2.png", "b/link.png", "top.csv"};
	ck_assert_uint_eq(f.n, 5);
	for (size_t i = 0; i < f.n; i++)
		ck_assert_str_eq(f.v[i].path, want[i]);
	ck_assert_uint_eq(f.v[1].size, 4);
	ck_assert_uint_eq(f.v[3].size, 3); /* the link's target */
	ck_assert_uint_eq(skipped, 4);     /* .git, .DS_Store, the FIFO, the link to a directory */
	char *local = th_fmt("%s/a/sub/deep.txt", d);
	ck_assert_str_eq(f.v[1].local, local);

	/* one file: its base name */
	char *one = th_fmt("%s/b/2.png", d);
	ck_assert_int_eq(cli_files_walk(one, &f, NULL, &err), CORE_OK);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_str_eq(f.v[0].path, "2.png");
	ck_assert_str_eq(f.v[0].local, one);

	char *none = th_fmt("%s/absent", d);
	ck_assert_int_eq(cli_files_walk(none, &f, NULL, &err), CORE_ENOENT);
	ck_assert_ptr_nonnull(strstr(err.message, "absent"));
	ck_assert_uint_eq(f.n, 0);
	cli_files_free(&f);
	free(none), free(one), free(local), free(root), free(link_dir), free(link_file), free(fifo), free(d);
}
END_TEST

/* The walk sorts each directory's names, a directory's name counting as name + "/", and
 * never the whole list: its order must still be strcmp's over the full paths, where
 * '-' and '.' sort before '/' and a file "x" before "x.y". */
START_TEST(walk_order_is_bytewise_over_full_paths)
{
	char *d = scratch();
	const char *names[] = {"x/a", "x.y", "x-1/z", "x", "x0", "x.y.d/q", "y/x/b", "y/x.c", "y/x/a/1", "Z", "x-"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strcmp(names[i], "x") != 0) {
			char *rel = th_fmt("dir/%s", names[i]);
			write_file(d, rel, "1", 1);
			free(rel);
		}
	write_file(d, "x", "1", 1); /* a file x next to the directory dir */
	struct cli_files f = {0};
	struct core_error err;
	ck_assert_int_eq(cli_files_walk(d, &f, NULL, &err), CORE_OK);
	ck_assert_uint_eq(f.n, 11);
	for (size_t i = 1; i < f.n; i++)
		ck_assert_msg(strcmp(f.v[i - 1].path, f.v[i].path) < 0, "'%s' before '%s'", f.v[i - 1].path,
			      f.v[i].path);
	ck_assert_str_eq(f.v[0].path, "dir/Z");
	ck_assert_str_eq(f.v[f.n - 1].path, "x");
	cli_files_free(&f);
	free(d);
}
END_TEST

START_TEST(walk_refuses_names_the_server_would_refuse)
{
	char *d = scratch();
	write_file(d, "ok/a.png", "a", 1);
	write_file(d, "ok/back\\slash.png", "b", 1);
	struct cli_files f = {0};
	struct core_error err;
	ck_assert_int_eq(cli_files_walk(d, &f, NULL, &err), CORE_EINVAL);
	ck_assert_msg(strstr(err.message, "back\\slash.png") && strstr(err.message, "backslash"), "%s", err.message);
	ck_assert_uint_eq(f.n, 0);
	free(d);
}
END_TEST

START_TEST(path_rules)
{
	const char *good[] = {"a", "a/b.png", "class 1/x.jpeg", "caf\xc3\xa9/\xe2\x82\xac.csv", "a/..b/c.", "...."};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		ck_assert_msg(cli_path_valid(good[i], NULL), "%s should pass", good[i]);
	const char *bad[] = {"",     "/etc/passwd", "../x",  "a/../../x", "a//b",     "a/",           "./a", "a/./b",
			     "a\\b", "a\tb",        "a\x7f", "\xc3",      "\xc0\xaf", "\xed\xa0\x80", "a/.."};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *why = NULL;
		ck_assert_msg(!cli_path_valid(bad[i], &why), "'%s' should fail", bad[i]);
		ck_assert_ptr_nonnull(why);
	}
	char long_path[1100];
	memset(long_path, 'a', sizeof long_path - 1);
	long_path[1024] = '\0';
	ck_assert(cli_path_valid(long_path, NULL));
	long_path[1024] = 'a';
	long_path[1025] = '\0';
	ck_assert(!cli_path_valid(long_path, NULL));
}
END_TEST

START_TEST(hashes_match_sha256sum)
{
	char *d = scratch();
	struct cli_files f = {0};
	/* sizes around the read buffer's (256 KiB) edges, an empty file, many small ones */
	const size_t sizes[] = {0, 1, 262143, 262144, 262145, 1000000};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char *data = malloc(sizes[i] + 1);
		for (size_t j = 0; j < sizes[i]; j++)
			data[j] = (char)(j * 31 + i);
		char *rel = th_fmt("big/%zu.bin", i);
		write_file(d, rel, data, sizes[i]);
		free(rel);
		free(data);
	}
	for (int i = 0; i < 200; i++) {
		char *rel = th_fmt("small/%03d.txt", i), *text = th_fmt("file %d\n", i);
		write_file(d, rel, text, strlen(text));
		free(rel), free(text);
	}
	struct core_error err;
	ck_assert_int_eq(cli_files_walk(d, &f, NULL, &err), CORE_OK);
	ck_assert_uint_eq(f.n, 206);
	ck_assert_int_eq(cli_hash_files(&f, 4, NULL, &err), CORE_OK);
	for (size_t i = 0; i < f.n; i++) {
		char want[65], *cmd = th_fmt("cat '%s'", f.v[i].local);
		sha256sum_of(cmd, want);
		ck_assert_msg(strcmp(f.v[i].sha256, want) == 0, "%s: %s vs sha256sum %s", f.v[i].path, f.v[i].sha256,
			      want);
		free(cmd);
	}
	/* a file that grew after the walk is refused, named */
	FILE *grow = fopen(f.v[0].local, "ab");
	ck_assert_ptr_nonnull(grow);
	fputs("more", grow);
	fclose(grow);
	for (size_t i = 0; i < f.n; i++)
		f.v[i].sha256[0] = '\0'; /* a filled hash is kept (the cache's): clear them */
	ck_assert_int_eq(cli_hash_files(&f, 2, NULL, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "changed while it was read"));
	cli_files_free(&f);
	free(d);
}
END_TEST

START_TEST(manifest_json_and_id)
{
	struct cli_files f = {0};
	char a[65], b[65];
	sha256sum_of("printf 'first'", a);
	sha256sum_of("printf 'second!'", b);
	cli_files_add(&f, "z/last.png", NULL, 7, b);
	cli_files_add(&f, "a/first.png", NULL, 5, a);
	cli_files_add(&f, "a/B.png", NULL, 5, a);
	cli_files_sort(&f); /* bytewise: 'B' < 'f' */
	ck_assert_str_eq(f.v[0].path, "a/B.png");
	ck_assert_str_eq(f.v[1].path, "a/first.png");

	json_t *m = cli_manifest_json(&f);
	json_t *want = json_pack("{s:[{s:s,s:s,s:i},{s:s,s:s,s:i},{s:s,s:s,s:i}]}", "files", "path", "a/B.png",
				 "sha256", a, "size", 5, "path", "a/first.png", "sha256", a, "size", 5, "path",
				 "z/last.png", "sha256", b, "size", 7);
	ck_assert(json_equal(m, want));
	json_decref(want);

	/* the id: sha256 of "<sha256> <size> <path>\n" per file, sorted by path */
	char id[65], expect[65];
	cli_manifest_id(&f, id);
	char *canon = th_fmt("printf '%s 5 a/B.png\\n%s 5 a/first.png\\n%s 7 z/last.png\\n'", a, a, b);
	sha256sum_of(canon, expect);
	ck_assert_str_eq(id, expect);
	free(canon);

	/* what the server sends reads back to the same list and id, whatever its order */
	json_array_append(json_object_get(m, "files"), json_array_get(json_object_get(m, "files"), 0));
	json_array_remove(json_object_get(m, "files"), 0);
	struct cli_files back = {0};
	struct core_error err;
	ck_assert_int_eq(cli_manifest_parse(m, &back, &err), CORE_OK);
	ck_assert_uint_eq(back.n, 3);
	char id2[65];
	cli_manifest_id(&back, id2);
	ck_assert_str_eq(id2, id);
	cli_files_free(&back);
	json_decref(m);
	cli_files_free(&f);
}
END_TEST

/* A manifest whose paths would escape the pull's directory, or whose entries are
 * malformed, is refused whole. */
START_TEST(manifest_parse_refuses_escapes_and_malformed_entries)
{
	const char *sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	static const struct {
		const char *path;
		const char *sha;
		long long size;
		const char *needle;
	} bad[] = {
		{"../evil", NULL, 1, "refusing"},
		{"/etc/passwd", NULL, 1, "refusing"},
		{"a/../../b", NULL, 1, "refusing"},
		{"a\\..\\b", NULL, 1, "refusing"},
		{"ok", "ABC", 1, "sha256"},
		{"ok", "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", 1, "sha256"},
		{"ok", NULL, -1, "size"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *m = json_pack("{s:[{s:s,s:s,s:I}]}", "files", "path", bad[i].path, "sha256",
				      bad[i].sha ? bad[i].sha : sha, "size", (json_int_t)bad[i].size);
		struct cli_files out = {0};
		struct core_error err;
		ck_assert_int_eq(cli_manifest_parse(m, &out, &err), CORE_EINVAL);
		ck_assert_msg(strstr(err.message, bad[i].needle), "case %zu: %s", i, err.message);
		ck_assert_uint_eq(out.n, 0);
		json_decref(m);
	}
	json_t *dup = json_pack("{s:[{s:s,s:s,s:i},{s:s,s:s,s:i}]}", "files", "path", "x", "sha256", sha, "size", 1,
				"path", "x", "sha256", sha, "size", 1);
	struct cli_files out = {0};
	struct core_error err;
	ck_assert_int_eq(cli_manifest_parse(dup, &out, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "twice"));
	json_decref(dup);
	json_t *nofiles = json_pack("{s:i}", "files", 3);
	ck_assert_int_eq(cli_manifest_parse(nofiles, &out, &err), CORE_EINVAL);
	json_decref(nofiles);
}
END_TEST

/* The hash cache: unchanged files are vouched for, a changed one (even with the same
 * size and its old mtime put back) is hashed again, fresh files are not cached (racy). */
START_TEST(hash_cache_vouches_only_for_unchanged_files)
{
	char *d = scratch(), *cache = scratch();
	setenv("LATHE_CACHE_DIR", cache, 1);
	for (int i = 0; i < 20; i++) {
		char *rel = th_fmt("c/%02d.txt", i), *text = th_fmt("content %02d\n", i);
		write_file(d, rel, text, strlen(text));
		free(rel), free(text);
	}
	struct cli_files f = {0};
	struct core_error err;
	ck_assert_int_eq(cli_files_walk(d, &f, NULL, &err), CORE_OK);
	ck_assert_uint_eq(cli_hash_cache_apply(d, &f), 0); /* no cache yet */
	ck_assert_int_eq(cli_hash_files(&f, 2, NULL, &err), CORE_OK);
	ck_assert_int_eq(cli_hash_cache_save(d, &f, &err), CORE_OK);
	ck_assert_int_eq(cli_files_walk(d, &f, NULL, &err), CORE_OK);
	ck_assert_uint_eq(cli_hash_cache_apply(d, &f), 0); /* written just now: racy, not cached */

	/* the ctime is what makes a file old enough: wait it out */
	sleep(3);
	ck_assert_int_eq(cli_files_walk(d, &f, NULL, &err), CORE_OK);
	ck_assert_int_eq(cli_hash_files(&f, 2, NULL, &err), CORE_OK);
	char want[20][65];
	for (size_t i = 0; i < f.n; i++)
		memcpy(want[i], f.v[i].sha256, 65);
	ck_assert_int_eq(cli_hash_cache_save(d, &f, &err), CORE_OK);
	ck_assert_int_eq(cli_files_walk(d, &f, NULL, &err), CORE_OK);
	ck_assert_uint_eq(cli_hash_cache_apply(d, &f), 20);
	for (size_t i = 0; i < f.n; i++)
		ck_assert_str_eq(f.v[i].sha256, want[i]);

	/* same size, old mtime put back: the ctime still tells */
	char *p5 = th_fmt("%s/c/05.txt", d);
	struct stat before;
	ck_assert_int_eq(stat(p5, &before), 0);
	write_file(d, "c/05.txt", "CONTENT 05\n", 11);
	struct timespec ts[2] = {before.st_atim, before.st_mtim};
	ck_assert_int_eq(utimensat(AT_FDCWD, p5, ts, 0), 0);
	ck_assert_int_eq(cli_files_walk(d, &f, NULL, &err), CORE_OK);
	ck_assert_uint_eq(cli_hash_cache_apply(d, &f), 19);
	ck_assert_str_eq(f.v[5].sha256, "");
	ck_assert_int_eq(cli_hash_files(&f, 2, NULL, &err), CORE_OK);
	char fresh[65], *cmd = th_fmt("cat '%s'", p5);
	sha256sum_of(cmd, fresh);
	ck_assert_str_eq(f.v[5].sha256, fresh);
	ck_assert_str_ne(fresh, want[5]);
	unsetenv("LATHE_CACHE_DIR");
	cli_files_free(&f);
	free(cmd), free(p5), free(cache), free(d);
}
END_TEST

START_TEST(sizes_and_times_format)
{
	char b[32];
	ck_assert_str_eq(cli_fmt_bytes(0, b, sizeof b), "0 B");
	ck_assert_str_eq(cli_fmt_bytes(999, b, sizeof b), "999 B");
	ck_assert_str_eq(cli_fmt_bytes(1500, b, sizeof b), "1.5 kB");
	ck_assert_str_eq(cli_fmt_bytes(54000000, b, sizeof b), "54.0 MB");
	json_t *ms = json_integer(1764968142123LL);
	ck_assert_str_eq(cli_fmt_ms(ms, b, sizeof b), "2025-12-05 20:55:42Z");
	json_decref(ms);
	ck_assert_str_eq(cli_fmt_ms(json_null(), b, sizeof b), "-");
}
END_TEST

static Suite *cli_files_suite(void)
{
	Suite *s = suite_create("cli_files");
	TCase *tc = tcase_create("local");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, walk_takes_regular_files_sorted_and_skips_dot_names);
	tcase_add_test(tc, walk_order_is_bytewise_over_full_paths);
	tcase_add_test(tc, walk_refuses_names_the_server_would_refuse);
	tcase_add_test(tc, path_rules);
	tcase_add_test(tc, hashes_match_sha256sum);
	tcase_add_test(tc, manifest_json_and_id);
	tcase_add_test(tc, manifest_parse_refuses_escapes_and_malformed_entries);
	tcase_add_test(tc, hash_cache_vouches_only_for_unchanged_files);
	tcase_add_test(tc, sizes_and_times_format);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cli_files_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
