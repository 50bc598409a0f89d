/* Checks that every binary of the variant under test loads exactly the packages the
 * Makefile declares for it (<svc>_PKGS, which make records in
 * build/<variant>/links/<binary>.pkgs), by running tools/check-links.sh on it: a daemon
 * never carries a package that another service brought (OpenBLAS for the trainer,
 * libjpeg and libpng for the data registry and the inference API), and a list never
 * names a package its binary does not use. Two cases hand the checker a wrong list,
 * so a checker that sees nothing cannot pass. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "harness.h"

/* The packages make recorded for binary ("lathe-trainer", "devkafka"), one line. */
static void declared_pkgs(const char *binary, char *out, size_t cap)
{
	char path[700];
	snprintf(path, sizeof path, "%s/../links/%s.pkgs", th_env("LATHE_TEST_BIN"), binary);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f, "%s is missing: make writes it beside the binary's link", path);
	ck_assert_msg(fgets(out, (int)cap, f), "%s is empty", path);
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
}

/* Runs tools/check-links.sh on binary with the package list pkgs; returns its exit
 * status and leaves what it printed in out. */
static int check_links(const char *binary, const char *pkgs, char *out, size_t cap)
{
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "%s/tools/check-links.sh %s/%s %s 2>&1", th_env("LATHE_ROOT"),
		 th_env("LATHE_TEST_BIN"), binary, pkgs);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	int status = pclose(p);
	ck_assert_msg(WIFEXITED(status), "%s did not exit", cmd);
	return WEXITSTATUS(status);
}

static void links_as_declared(const char *binary)
{
	char pkgs[512], out[8192];
	declared_pkgs(binary, pkgs, sizeof pkgs);
	ck_assert_msg(check_links(binary, pkgs, out, sizeof out) == 0, "%s against its list (%s):\n%s", binary, pkgs,
		      out);
}

START_TEST(every_daemon_links_what_it_declares)
{
	char dir[600];
	snprintf(dir, sizeof dir, "%s/services", th_env("LATHE_ROOT"));
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	int daemons = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || e->d_type != DT_DIR)
			continue;
		char binary[300];
		snprintf(binary, sizeof binary, "lathe-%s", e->d_name);
		links_as_declared(binary);
		daemons++;
	}
	closedir(d);
	ck_assert_int_ge(daemons, 6);
}
END_TEST

START_TEST(devkafka_links_what_it_declares)
{
	links_as_declared("devkafka");
}
END_TEST

/* The `lathe` command is a client: libcurl, jansson and libcrypto, no daemon frame. */
START_TEST(the_cli_links_what_it_declares)
{
	links_as_declared("lathe");
}
END_TEST

/* The tracker's list without libpq: the checker must name the library it found. */
START_TEST(an_undeclared_library_is_caught)
{
	char pkgs[512], out[8192];
	declared_pkgs("lathe-experiment-tracker", pkgs, sizeof pkgs);
	char *at = strstr(pkgs, "libpq");
	ck_assert_ptr_nonnull(at);
	memset(at, ' ', strlen("libpq"));
	ck_assert_int_eq(check_links("lathe-experiment-tracker", pkgs, out, sizeof out), 1);
	ck_assert_msg(strstr(out, "links libpq.so"), "checker output: %s", out);
}
END_TEST

/* The tracker's list plus libpng, which it never uses: that is a wrong list too. */
START_TEST(a_declared_but_unused_package_is_caught)
{
	char list[512], pkgs[600], out[8192];
	declared_pkgs("lathe-experiment-tracker", list, sizeof list);
	snprintf(pkgs, sizeof pkgs, "%s libpng", list);
	ck_assert_int_eq(check_links("lathe-experiment-tracker", pkgs, out, sizeof out), 1);
	ck_assert_msg(strstr(out, "declares package libpng but does not use"), "checker output: %s", out);
}
END_TEST

static Suite *link_lists_suite(void)
{
	Suite *s = suite_create("link_lists");
	TCase *tc = tcase_create("binaries");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, every_daemon_links_what_it_declares);
	tcase_add_test(tc, devkafka_links_what_it_declares);
	tcase_add_test(tc, the_cli_links_what_it_declares);
	suite_add_tcase(s, tc);
	tc = tcase_create("checker");
	tcase_add_test(tc, an_undeclared_library_is_caught);
	tcase_add_test(tc, a_declared_but_unused_package_is_caught);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(link_lists_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
