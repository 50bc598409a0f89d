/* Unit tests of libs/http/src/auth.c: the token file parser (what a line may hold, what
 * makes it malformed, that one bad line does not hide the good ones), the decoding of
 * Basic credentials, the start-up policy on the AUTH setting (http_auth_setup), and a
 * real server on an ephemeral 127.0.0.1 port checking scopes per route and re-reading
 * its token file without a restart. */
#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/file.h"
#include "core/sha256.h"
#include "http/auth.h"
#include "http/http.h"

/* 64 copies of a one-character string literal: a hash's worth of hex digits. */
#define H8(c)  c c c c c c c c
#define H64(c) H8(c) H8(c) H8(c) H8(c) H8(c) H8(c) H8(c) H8(c)

START_TEST(parser_reads_valid_lines)
{
	const char *text = "# tokens\n"
			   "\n"
			   "ci-bot write " H64("a") "\n"
						    "  alice@example.org\tadmin\t" H64(
							    "B") "  \r\n"
								 "reader.1 read " H64("0"); /* no final newline */
	struct http_token *t = NULL;
	size_t n = 0;
	struct core_error err = {{0}};
	ck_assert_uint_eq(http_tokens_parse(text, strlen(text), &t, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(t[0].name, "ci-bot");
	ck_assert_int_eq(t[0].scope, HTTP_SCOPE_WRITE);
	ck_assert_str_eq(t[1].name, "alice@example.org");
	ck_assert_int_eq(t[1].scope, HTTP_SCOPE_ADMIN);
	ck_assert_str_eq(t[1].hash, H64("b")); /* lower-cased */
	ck_assert_str_eq(t[2].name, "reader.1");
	ck_assert_int_eq(t[2].scope, HTTP_SCOPE_READ);
	free(t);
}
END_TEST

START_TEST(parser_names_malformed_lines_and_keeps_the_rest)
{
	static const struct {
		const char *line;
		const char *why;
	} bad[] = {
		{"alice admin", "expected '<name> <scope> <sha256-hex>'"},
		{"alice admin " H64("a") " extra", "expected"},
		{"alice root " H64("a"), "scope is not read, write or admin"},
		{"alice admin " H64("g"), "hash is not 64 hex digits"},
		{"alice admin abc", "hash is not 64 hex digits"},
		{"al:ice admin " H64("a"), "outside [A-Za-z0-9._@-]"},
		{"a" H64("x") " admin " H64("a"), "longer than 64"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[512];
		snprintf(text, sizeof text, "good read " H64("1") "\n%s\nother write " H64("2") "\n", bad[i].line);
		struct http_token *t = NULL;
		size_t n = 0;
		struct core_error err = {{0}};
		ck_assert_uint_eq(http_tokens_parse(text, strlen(text), &t, &n, &err), 1);
		ck_assert_msg(strstr(err.message, "line 2: ") && strstr(err.message, bad[i].why), "%s: %s", bad[i].line,
			      err.message);
		ck_assert_uint_eq(n, 2);
		ck_assert_str_eq(t[0].name, "good");
		ck_assert_str_eq(t[1].name, "other");
		free(t);
	}
	/* a name used twice: the second line is the bad one */
	const char *dup = "x read " H64("1") "\nx admin " H64("2") "\n";
	struct http_token *t = NULL;
	size_t n = 0;
	struct core_error err = {{0}};
	ck_assert_uint_eq(http_tokens_parse(dup, strlen(dup), &t, &n, &err), 1);
	ck_assert_ptr_nonnull(strstr(err.message, "line 2: name already used"));
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(t[0].scope, HTTP_SCOPE_READ);
	free(t);
	/* a NUL inside a line */
	const char nul[] = "x read \0" H64("1") "\n";
	ck_assert_uint_eq(http_tokens_parse(nul, sizeof nul - 1, &t, &n, &err), 1);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(t);
}
END_TEST

START_TEST(basic_credentials_decode)
{
	char buf[256];
	const char *name = NULL, *secret = NULL;
	/* base64("alice:s3cr:et") */
	ck_assert(http_auth_basic_decode("YWxpY2U6czNjcjpldA==", buf, sizeof buf, &name, &secret));
	ck_assert_str_eq(name, "alice");
	ck_assert_str_eq(secret, "s3cr:et"); /* split at the first ':' only */
	/* base64("bob:") */
	ck_assert(http_auth_basic_decode("Ym9iOg==", buf, sizeof buf, &name, &secret));
	ck_assert_str_eq(name, "bob");
	ck_assert_str_eq(secret, "");
	/* base64("nocolon"), base64(":secret"), not base64, bad padding */
	ck_assert(!http_auth_basic_decode("bm9jb2xvbg==", buf, sizeof buf, &name, &secret));
	ck_assert(!http_auth_basic_decode("OnNlY3JldA==", buf, sizeof buf, &name, &secret));
	ck_assert(!http_auth_basic_decode("!!!!", buf, sizeof buf, &name, &secret));
	ck_assert(!http_auth_basic_decode("YWxpY2U6czNjcjpldA", buf, sizeof buf, &name, &secret));
	ck_assert(!http_auth_basic_decode("", buf, sizeof buf, &name, &secret));
	/* base64("a\0:b"): a NUL inside */
	ck_assert(!http_auth_basic_decode("YQA6Yg==", buf, sizeof buf, &name, &secret));
	/* too long for the buffer */
	ck_assert(!http_auth_basic_decode("YWxpY2U6czNjcjpldA==", buf, 8, &name, &secret));
}
END_TEST

static char *scratch_file(const char *text)
{
	char *path = strdup("/tmp/lathe-auth-test-XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	struct core_error err;
	ck_assert_int_eq(core_write_file_atomic(path, text, strlen(text), &err), CORE_OK);
	return path;
}

START_TEST(setup_policy)
{
	struct http_auth *a = (struct http_auth *)1;
	struct core_error err = {{0}};
	/* unset on loopback: off */
	ck_assert_int_eq(http_auth_setup(NULL, NULL, "127.0.0.1", &a, &err), CORE_OK);
	ck_assert_ptr_null(a);
	ck_assert_int_eq(http_auth_setup("", NULL, "::1", &a, &err), CORE_OK);
	ck_assert_ptr_null(a);
	/* unset elsewhere: refused, saying what to set */
	ck_assert_int_eq(http_auth_setup(NULL, NULL, "0.0.0.0", &a, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "AUTH is not set"));
	ck_assert_ptr_nonnull(strstr(err.message, "AUTH=on"));
	/* explicit off elsewhere: allowed (with a warning) */
	ck_assert_int_eq(http_auth_setup("off", NULL, "0.0.0.0", &a, &err), CORE_OK);
	ck_assert_ptr_null(a);
	ck_assert_int_eq(http_auth_setup("maybe", NULL, "127.0.0.1", &a, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "AUTH must be on or off"));
	ck_assert_int_eq(http_auth_setup("on", NULL, "127.0.0.1", &a, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "AUTH_TOKENS_FILE"));
	ck_assert_int_eq(http_auth_setup("on", "/nonexistent/tokens", "127.0.0.1", &a, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "AUTH_TOKENS_FILE"));
	/* at start-up every line must be valid */
	char *bad = scratch_file("x read " H64("1") "\ny superuser " H64("2") "\n");
	ck_assert_int_ne(http_auth_setup("on", bad, "127.0.0.1", &a, &err), CORE_OK);
	ck_assert_ptr_nonnull(strstr(err.message, "line 2"));
	unlink(bad);
	free(bad);
	char *good = scratch_file("x read " H64("1") "\n");
	ck_assert_int_eq(http_auth_setup("on", good, "0.0.0.0", &a, &err), CORE_OK);
	ck_assert_ptr_nonnull(a);
	http_auth_free(a);
	unlink(good);
	free(good);
}
END_TEST

/* --- a real server ------------------------------------------------------------------- */

static void h_ok(struct http_request *req, void *app)
{
	(void)app;
	http_reply_json(req, 200, json_pack("{s:s}", "who", http_request_principal(req)));
}

static const struct http_route routes[] = {
	{.methods = HTTP_GET | HTTP_POST, .pattern = "/thing", .handler = h_ok},
	{.methods = HTTP_POST, .pattern = "/search", .handler = h_ok, .scope = HTTP_SCOPE_READ},
	{.methods = HTTP_POST, .pattern = "/delete", .handler = h_ok, .scope = HTTP_SCOPE_ADMIN},
	{.methods = HTTP_GET, .pattern = "/healthz", .handler = h_ok, .scope = HTTP_SCOPE_PUBLIC},
	{.methods = HTTP_PUT, .pattern = "/big", .handler = h_ok, .body_limit = (size_t)64 << 20},
	{0},
};

static size_t sink(char *p, size_t size, size_t n, void *cls)
{
	(void)p;
	(void)cls;
	return size * n;
}

struct got {
	long status;
	bool challenge; /* WWW-Authenticate: Bearer ..., Basic ... */
};

static size_t header_cb(char *p, size_t size, size_t n, void *cls)
{
	struct got *g = cls;
	const char *want = "WWW-Authenticate: Bearer realm=\"lathe\", Basic realm=\"lathe\"";
	if (size * n >= strlen(want) && strncasecmp(p, want, strlen(want)) == 0)
		g->challenge = true;
	return size * n;
}

/* Sends method path with the Authorization header auth (NULL: none). */
static struct got call(unsigned port, const char *method, const char *path, const char *auth)
{
	struct got g = {0};
	char url[128], hdr[1200];
	snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	if (auth) {
		snprintf(hdr, sizeof hdr, "Authorization: %s", auth);
		h = curl_slist_append(h, hdr);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &g);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g.status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return g;
}

static char *token_line(const char *name, const char *scope, const char *secret)
{
	char hex[CORE_SHA256_HEX_LEN + 1];
	ck_assert_int_eq(core_sha256_hex(secret, strlen(secret), hex), CORE_OK);
	char *line = NULL;
	ck_assert_int_gt(asprintf(&line, "%s %s %s\n", name, scope, hex), 0);
	return line;
}

/* Sends raw bytes on a new connection and reads until the server closes it (or 3 s
 * pass); returns what came back (static). */
static const char *raw_exchange(unsigned port, const char *bytes, bool *closed)
{
	static char buf[8192];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	struct timeval tv = {.tv_sec = 3};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	ck_assert_int_eq(send(fd, bytes, strlen(bytes), MSG_NOSIGNAL), (ssize_t)strlen(bytes));
	size_t len = 0;
	ssize_t n;
	*closed = false;
	while (len < sizeof buf - 1 && (n = recv(fd, buf + len, sizeof buf - 1 - len, 0)) >= 0) {
		if (n == 0) {
			*closed = true;
			break;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	return buf;
}

/* Without a token, a big declared body is never read: 401 at once, connection closed.
 * A small one is read and dropped, and the connection stays open for the next request. */
START_TEST(refused_bodies_are_not_read)
{
	char *w = token_line("w", "write", "ws");
	char *path = scratch_file(w);
	struct core_error err = {{0}};
	struct http_auth *a = NULL;
	ck_assert_int_eq(http_auth_open(path, &a, &err), CORE_OK);
	struct http_server *s = NULL;
	struct http_server_config cfg = {.routes = routes, .auth = a};
	ck_assert_int_eq(http_server_start(&cfg, &s, &err), CORE_OK);
	unsigned port = http_server_port(s);
	bool closed = false;
	const char *got =
		raw_exchange(port, "PUT /big HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4194304\r\n\r\n", &closed);
	ck_assert_msg(strncmp(got, "HTTP/1.1 401", 12) == 0, "%s", got);
	ck_assert_ptr_nonnull(strstr(got, "UNAUTHENTICATED"));
	ck_assert(closed);
	/* small body: read, dropped, then no close (the 3 s receive timeout ends the read) */
	got = raw_exchange(port, "PUT /big HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}", &closed);
	ck_assert_msg(strncmp(got, "HTTP/1.1 401", 12) == 0, "%s", got);
	ck_assert(!closed);
	http_server_stop(s);
	http_auth_free(a);
	unlink(path);
	free(path);
	free(w);
}
END_TEST

START_TEST(server_checks_scopes_and_rereads_the_file)
{
	char *r = token_line("r", "read", "rs"), *w = token_line("w", "write", "ws");
	char *text = NULL;
	ck_assert_int_gt(asprintf(&text, "%s%s", r, w), 0);
	char *path = scratch_file(text);
	struct core_error err = {{0}};
	struct http_auth *a = NULL;
	ck_assert_int_eq(http_auth_open(path, &a, &err), CORE_OK);
	struct http_server *s = NULL;
	struct http_server_config cfg = {.routes = routes, .auth = a};
	ck_assert_int_eq(http_server_start(&cfg, &s, &err), CORE_OK);
	unsigned port = http_server_port(s);

	struct got g = call(port, "GET", "/thing", NULL);
	ck_assert_int_eq(g.status, 401);
	ck_assert(g.challenge);
	ck_assert_int_eq(call(port, "GET", "/healthz", NULL).status, 200);
	ck_assert_int_eq(call(port, "GET", "/thing", "Bearer wrong").status, 401);
	ck_assert_int_eq(call(port, "GET", "/thing", "Bearer rs").status, 200);
	ck_assert_int_eq(call(port, "GET", "/thing", "bearer   rs  ").status, 200);
	ck_assert_int_eq(call(port, "POST", "/search", "Bearer rs").status, 200);
	g = call(port, "POST", "/thing", "Bearer rs");
	ck_assert_int_eq(g.status, 403);
	ck_assert(!g.challenge);
	ck_assert_int_eq(call(port, "POST", "/thing", "Bearer ws").status, 200);
	ck_assert_int_eq(call(port, "POST", "/delete", "Bearer ws").status, 403);
	/* Basic: base64("w:ws"), base64("r:ws") (another token's secret), base64("w:wx") */
	ck_assert_int_eq(call(port, "POST", "/thing", "Basic dzp3cw==").status, 200);
	ck_assert_int_eq(call(port, "POST", "/thing", "Basic cjp3cw==").status, 401);
	ck_assert_int_eq(call(port, "POST", "/thing", "Basic dzp3eA==").status, 401);
	ck_assert_int_eq(call(port, "POST", "/thing", "Digest x").status, 401);

	/* revoke w, add an admin: in effect within about a second, no restart */
	char *adm = token_line("boss", "admin", "bs");
	free(text);
	ck_assert_int_gt(asprintf(&text, "%s%s", r, adm), 0);
	ck_assert_int_eq(core_write_file_atomic(path, text, strlen(text), &err), CORE_OK);
	long w_status = 0, boss_status = 0;
	for (int i = 0; i < 40 && !(w_status == 401 && boss_status == 200); i++) {
		usleep(100 * 1000);
		w_status = call(port, "POST", "/thing", "Bearer ws").status;
		boss_status = call(port, "POST", "/delete", "Bearer bs").status;
	}
	ck_assert_int_eq(w_status, 401);
	ck_assert_int_eq(boss_status, 200);
	/* the file gone: no token is valid (fail closed) */
	unlink(path);
	long r_status = 200;
	for (int i = 0; i < 40 && r_status != 401; i++) {
		usleep(100 * 1000);
		r_status = call(port, "GET", "/thing", "Bearer rs").status;
	}
	ck_assert_int_eq(r_status, 401);

	http_server_stop(s);
	http_auth_free(a);
	free(adm);
	free(text);
	free(r);
	free(w);
	free(path);
}
END_TEST

static Suite *auth_suite(void)
{
	Suite *s = suite_create("http_auth");
	TCase *tc = tcase_create("auth");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, parser_reads_valid_lines);
	tcase_add_test(tc, parser_names_malformed_lines_and_keeps_the_rest);
	tcase_add_test(tc, basic_credentials_decode);
	tcase_add_test(tc, setup_policy);
	tcase_add_test(tc, server_checks_scopes_and_rereads_the_file);
	tcase_add_test(tc, refused_bodies_are_not_read);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	SRunner *sr = srunner_create(auth_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
