/* The README's first command, tested: tools/run-stack.sh (what `make run` runs after
 * building) brings all six daemons to ready within 30 seconds, and its signal handler
 * (SIGTERM here, a terminal's Ctrl-C for a person: the script traps both) stops the
 * daemons, the broker and PostgreSQL, exits 0 and keeps the data directory. The stack
 * runs on free ports in a private directory (LATHE_PORT_OFFSET, LATHE_PG_PORT,
 * LATHE_VAR), never on a developer's running one. Its PostgreSQL listens on 127.0.0.1
 * only and asks for the password the script generated into LATHE_VAR (mode 0600). The
 * ports the scripts choose by themselves (PostgreSQL's default, free_port's picks) lie
 * below Linux's ephemeral range (32768-60999), where an outgoing connection could
 * already hold them. */
#include <check.h>
#include <fcntl.h>
#include <libgen.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"

static const unsigned base_ports[] = {5000, 5001, 5002, 5003, 5004, 8080};

static bool port_free(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {
		.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons((uint16_t)port)};
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* An offset that puts all six daemon ports on free ports. */
static unsigned free_offset(void)
{
	for (unsigned tries = 0; tries < 200; tries++) {
		unsigned offset = 10000 + (unsigned)(rand() % 40000);
		bool all = true;
		for (size_t i = 0; all && i < sizeof base_ports / sizeof base_ports[0]; i++)
			all = port_free(base_ports[i] + offset);
		if (all)
			return offset;
	}
	ck_abort_msg("no free set of ports for the stack");
	return 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t cap = 0;
	if (!f || getdelim(&text, &cap, '\0', f) < 0) {
		free(text);
		text = strdup("");
	}
	if (f)
		fclose(f);
	return text;
}

START_TEST(make_run_stack_comes_up_and_stops_cleanly)
{
	srand((unsigned)getpid());
	char var[512], out_path[600], build[512], offset_env[64], pg_env[64], var_env[600], cmd[1200];
	snprintf(var, sizeof var, "%s/stack-%d", th_env("LATHE_TEST_TMP"), (int)getpid());
	snprintf(out_path, sizeof out_path, "%s.out", var);
	snprintf(build, sizeof build, "%s", th_env("LATHE_TEST_BIN"));
	dirname(build); /* .../build/<variant>/bin -> .../build/<variant> */
	unsigned offset = free_offset();
	unsigned pg_port = th_free_port();
	snprintf(offset_env, sizeof offset_env, "LATHE_PORT_OFFSET=%u", offset);
	snprintf(pg_env, sizeof pg_env, "LATHE_PG_PORT=%u", pg_port);
	snprintf(var_env, sizeof var_env, "LATHE_VAR=%s", var);

	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		putenv(offset_env);
		putenv(pg_env);
		putenv(var_env);
		char script[600];
		snprintf(script, sizeof script, "%s/tools/run-stack.sh", th_env("LATHE_ROOT"));
		execl("/bin/bash", "bash", script, build, (char *)NULL);
		_exit(127);
	}

	/* ready within 30 s of starting, as the README promises */
	char *out = NULL;
	for (int waited = 0; waited < 30000; waited += 100) {
		free(out);
		out = slurp(out_path);
		if (strstr(out, "Lathe is up in"))
			break;
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid)
			ck_abort_msg("run-stack.sh exited during start-up: %s", out);
		usleep(100 * 1000);
	}
	ck_assert_msg(strstr(out, "Lathe is up in"), "the stack was not up within 30 s: %s", out);
	for (size_t i = 0; i < sizeof base_ports / sizeof base_ports[0]; i++) {
		char url[64];
		snprintf(url, sizeof url, "http://127.0.0.1:%u/readyz", base_ports[i] + offset);
		struct th_response r = th_http("GET", url, NULL, NULL, 0);
		ck_assert_msg(r.status == 200, "%s answered %ld", url, r.status);
		th_response_free(&r);
	}

	/* its PostgreSQL wants the password generated into LATHE_VAR, readable by us alone */
	char pw_path[700], conninfo[900];
	snprintf(pw_path, sizeof pw_path, "%s/pg.password", var);
	struct stat st;
	ck_assert_int_eq(stat(pw_path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	char *password = slurp(pw_path);
	ck_assert_uint_ge(strlen(password), 32);
	snprintf(conninfo, sizeof conninfo, "host=127.0.0.1 port=%u user=postgres dbname=lathe", pg_port);
	PGconn *conn = PQconnectdb(conninfo);
	ck_assert_msg(PQstatus(conn) == CONNECTION_BAD, "make run's PostgreSQL let us in without a password");
	ck_assert_ptr_nonnull(strstr(PQerrorMessage(conn), "password"));
	PQfinish(conn);
	snprintf(conninfo, sizeof conninfo, "host=127.0.0.1 port=%u user=postgres dbname=lathe password=wrong%s",
		 pg_port, password);
	conn = PQconnectdb(conninfo);
	ck_assert_msg(PQstatus(conn) == CONNECTION_BAD, "a wrong password was taken");
	PQfinish(conn);
	snprintf(conninfo, sizeof conninfo, "host=127.0.0.1 port=%u user=postgres dbname=lathe password=%s", pg_port,
		 password);
	conn = PQconnectdb(conninfo);
	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "the generated password fails: %s", PQerrorMessage(conn));
	PGresult *res = PQexec(conn, "SHOW listen_addresses");
	ck_assert_str_eq(PQgetvalue(res, 0, 0), "127.0.0.1");
	PQclear(res);
	PQfinish(conn);
	free(password);

	kill(pid, SIGTERM);
	int status = 0;
	pid_t got = 0;
	for (int waited = 0; waited < 60000 && got == 0; waited += 100) {
		got = waitpid(pid, &status, WNOHANG);
		if (got == 0)
			usleep(100 * 1000);
	}
	if (got == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	free(out);
	out = slurp(out_path);
	ck_assert_msg(got == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "run-stack.sh did not exit 0 after SIGTERM: %s", out);
	ck_assert_ptr_nonnull(strstr(out, "stopped; data kept in"));

	/* PostgreSQL is stopped, its data kept; no daemon logged an error */
	snprintf(cmd, sizeof cmd, "%s/tools/pg.sh status %s/pg", th_env("LATHE_ROOT"), var);
	ck_assert_msg(system(cmd) != 0, "PostgreSQL is still running after the stack stopped");
	snprintf(cmd, sizeof cmd, "test -f %s/pg/PG_VERSION", var);
	ck_assert_int_eq(system(cmd), 0);
	static const char *const services[] = {"experiment-tracker", "model-registry", "data-registry",
					       "drift-monitor",      "trainer",        "inference-api"};
	for (size_t i = 0; i < sizeof services / sizeof services[0]; i++) {
		char log[700];
		snprintf(log, sizeof log, "%s/logs/%s.log", var, services[i]);
		char *text = slurp(log);
		ck_assert_msg(strstr(text, "\"msg\":\"stopped\""), "%s did not log a clean stop", services[i]);
		const char *bad = strstr(text, "\"level\":\"error\"");
		ck_assert_msg(!bad, "%s logged an error: %.600s", services[i], bad); /* check caps a message's length */
		free(text);
	}
	free(out);
}
END_TEST

/* Linux gives outgoing connections local ports from 32768 up; a listener chosen there
 * can find its port taken by any client on the host. */
#define EPHEMERAL_FIRST 32768

START_TEST(stack_ports_lie_below_the_ephemeral_range)
{
	char path[600];
	snprintf(path, sizeof path, "%s/tools/run-stack.sh", th_env("LATHE_ROOT"));
	char *script = slurp(path);
	const char *def = strstr(script, "LATHE_PG_PORT:-");
	ck_assert_msg(def, "no LATHE_PG_PORT default in %s", path);
	long pg_default = strtol(def + strlen("LATHE_PG_PORT:-"), NULL, 10);
	ck_assert_msg(pg_default > 1024 && pg_default < EPHEMERAL_FIRST, "make run's PostgreSQL port %ld", pg_default);
	free(script);

	char cmd[800];
	snprintf(cmd, sizeof cmd, "bash -c '. %s/tools/stack-lib.sh && for i in $(seq 1 300); do free_port; done'",
		 th_env("LATHE_ROOT"));
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	int n = 0;
	long port;
	while (fscanf(p, "%ld", &port) == 1) {
		ck_assert_msg(port > 1024 && port < EPHEMERAL_FIRST, "free_port gave %ld", port);
		n++;
	}
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_int_eq(n, 300);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stack");
	TCase *tc = tcase_create("make-run");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, stack_ports_lie_below_the_ephemeral_range);
	tcase_add_test(tc, make_run_stack_comes_up_and_stops_cleanly);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
