/* Tests of multipart/form-data request bodies (struct http_route.multipart,
 * http_request_parts, libs/http/src/multipart.c) against a real server on an
 * ephemeral 127.0.0.1 port: bodies built by libcurl's MIME API (what `curl -F` sends),
 * and hand-written malformed ones; a route with multipart_or_body taking a plain body
 * too (an image upload: a form or the raw file). */
#include <check.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "core/time.h"
#include "core/buf.h"
#include "http/client.h"
#include "http/http.h"

#define UPLOAD_LIMIT     (1 << 20)
#define OIP_UPLOAD_LIMIT (64 * 1024)
#define FILE_SIZE        (300 * 1000 + 13)

static struct http_server *server;

/* FNV-1a, 64 bits: enough to tell the bytes came through unchanged. */
static unsigned long long fnv1a(const char *data, size_t len)
{
	unsigned long long h = 14695981039346656037ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)data[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Answers every part: name, filename, content type, length, hash; and which part
 * http_request_part finds for "file". */
static void h_upload(struct http_request *req, void *a)
{
	size_t n;
	const struct http_part *parts = http_request_parts(req, &n);
	(void)a;
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		char hash[32];
		snprintf(hash, sizeof hash, "%016llx", fnv1a(parts[i].data, parts[i].len));
		json_array_append_new(list, json_pack("{s:s, s:s?, s:s?, s:I, s:s, s:b}", "name", parts[i].name,
						      "filename", parts[i].filename, "content_type",
						      parts[i].content_type, "len", (json_int_t)parts[i].len, "hash",
						      hash, "terminated", parts[i].data[parts[i].len] == '\0'));
	}
	const struct http_part *file = http_request_part(req, "file");
	http_reply_json(req, 200,
			json_pack("{s:o, s:I}", "parts", list, "file_index", (json_int_t)(file ? file - parts : -1)));
}

/* A route taking a form or a plain body (multipart_or_body): says which it got. */
static void h_either(struct http_request *req, void *a)
{
	size_t n, len;
	const struct http_part *parts = http_request_parts(req, &n);
	const char *body = http_request_body(req, &len);
	const char *ct = http_request_header(req, "Content-Type");
	(void)a;
	const struct http_part *file = http_request_part(req, "file");
	char hash[32];
	snprintf(hash, sizeof hash, "%016llx", file ? fnv1a(file->data, file->len) : fnv1a(body, len));
	(void)parts;
	http_reply_json(req, 200,
			json_pack("{s:I, s:I, s:s, s:s}", "parts", (json_int_t)n, "body_len", (json_int_t)len, "hash",
				  hash, "type", ct ? ct : ""));
}

static const struct http_route routes[] = {
	{.methods = HTTP_POST,
	 .pattern = "/v2/either",
	 .handler = h_either,
	 .multipart = true,
	 .multipart_or_body = true,
	 .body_limit = UPLOAD_LIMIT},
	{.methods = HTTP_POST,
	 .pattern = "/upload",
	 .handler = h_upload,
	 .multipart = true,
	 .body_limit = UPLOAD_LIMIT},
	{.methods = HTTP_POST,
	 .pattern = "/v2/models/{name}/predict",
	 .handler = h_upload,
	 .multipart = true,
	 .body_limit = OIP_UPLOAD_LIMIT},
	{0},
};

static const struct http_error_prefix prefixes[] = {{.prefix = "/v2/", .shape = HTTP_ERRORS_OIP}, {0}};

static void setup(void)
{
	struct core_error err;
	struct http_server_config cfg = {.routes = routes, .threads = 2, .error_prefixes = prefixes};
	ck_assert_msg(http_server_start(&cfg, &server, &err) == CORE_OK, "start: %s", err.message);
}

static void teardown(void)
{
	http_server_stop(server);
	server = NULL;
}

/* --- clients ------------------------------------------------------------------------ */

static char *url_for(const char *path)
{
	static char url[512];
	snprintf(url, sizeof url, "http://127.0.0.1:%u%s", http_server_port(server), path);
	return url;
}

static size_t on_write(char *data, size_t size, size_t n, void *cls)
{
	return core_buf_append(cls, data, size * n) == CORE_OK ? size * n : 0;
}

/* The bytes of the test file: every byte value, CRLFs and lines that start like a
 * boundary, so that the parser must not cut there. */
static char *make_file(size_t len)
{
	char *f = malloc(len);
	for (size_t i = 0; i < len; i++)
		f[i] = (char)((i * 131 + (i >> 8)) & 0xff);
	for (size_t i = 1000; i + 40 < len; i += 5003)
		memcpy(f + i, "\r\n--------------------------boundary", 36);
	return f;
}

/* POSTs a MIME form built by libcurl (curl -F); returns the status, the JSON body in
 * *out (NULL when not JSON). chunked: send with Transfer-Encoding: chunked. */
static long post_form(const char *path, const char *file, size_t file_len, bool chunked, json_t **out)
{
	CURL *h = curl_easy_init();
	struct core_buf body;
	long status = 0;
	core_buf_init(&body, 1 << 20);
	curl_mime *mime = curl_mime_init(h);
	curl_mimepart *p = curl_mime_addpart(mime);
	curl_mime_name(p, "model");
	curl_mime_data(p, "resnet", CURL_ZERO_TERMINATED);
	p = curl_mime_addpart(mime);
	curl_mime_name(p, "empty");
	curl_mime_data(p, "", 0);
	p = curl_mime_addpart(mime);
	curl_mime_name(p, "file");
	curl_mime_data(p, file, file_len);
	curl_mime_filename(p, "cat.png");
	curl_mime_type(p, "image/png");
	p = curl_mime_addpart(mime);
	curl_mime_name(p, "meta");
	curl_mime_data(p, "{\"w\":28}", CURL_ZERO_TERMINATED);
	curl_mime_filename(p, "meta.json");
	curl_mime_type(p, "application/json");
	struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
	if (chunked)
		headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
	curl_easy_setopt(h, CURLOPT_URL, url_for(path));
	curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	CURLcode rc = curl_easy_perform(h);
	ck_assert_msg(rc == CURLE_OK, "POST %s: %s", path, curl_easy_strerror(rc));
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	*out = json_loadb(body.data ? body.data : "", body.len, 0, NULL);
	core_buf_free(&body);
	curl_slist_free_all(headers);
	curl_mime_free(mime);
	curl_easy_cleanup(h);
	return status;
}

/* POSTs raw bytes with the given Content-Type through httpc; fills *resp. */
static void post_raw(const char *path, const char *ct, const char *body, size_t len, struct httpc_response *resp)
{
	struct core_error err;
	struct httpc_request rq = {.method = "POST",
				   .url = url_for(path),
				   .body = body,
				   .body_len = len,
				   .content_type = ct,
				   .timeout_ms = 10000};
	ck_assert_msg(httpc_do(&rq, resp, &err) == CORE_OK, "POST %s: %s", path, err.message);
}

static void expect_raw(const char *path, const char *ct, const char *body, long status, const char *want)
{
	struct httpc_response r;
	post_raw(path, ct, body, strlen(body), &r);
	ck_assert_msg(r.status == status, "%s: status %ld, want %ld (%s)", body, r.status, status, r.body);
	ck_assert_msg(strcmp(r.body, want) == 0, "%s:\n got  %s\n want %s", body, r.body, want);
	httpc_response_free(&r);
}

static void assert_part(json_t *part, const char *name, const char *filename, const char *ct, size_t len,
			const char *data)
{
	char hash[32];
	snprintf(hash, sizeof hash, "%016llx", fnv1a(data, len));
	ck_assert_str_eq(json_string_value(json_object_get(part, "name")), name);
	if (filename)
		ck_assert_str_eq(json_string_value(json_object_get(part, "filename")), filename);
	else
		ck_assert(json_is_null(json_object_get(part, "filename")));
	if (ct)
		ck_assert_str_eq(json_string_value(json_object_get(part, "content_type")), ct);
	else
		ck_assert(json_is_null(json_object_get(part, "content_type")));
	ck_assert_int_eq(json_integer_value(json_object_get(part, "len")), (json_int_t)len);
	ck_assert_str_eq(json_string_value(json_object_get(part, "hash")), hash);
	ck_assert(json_is_true(json_object_get(part, "terminated")));
}

/* --- tests -------------------------------------------------------------------------- */

START_TEST(parts_of_a_curl_form)
{
	char *file = make_file(FILE_SIZE);
	for (int chunked = 0; chunked < 2; chunked++) {
		json_t *j = NULL;
		ck_assert_int_eq(post_form("/upload", file, FILE_SIZE, chunked, &j), 200);
		json_t *parts = json_object_get(j, "parts");
		ck_assert_int_eq(json_array_size(parts), 4);
		assert_part(json_array_get(parts, 0), "model", NULL, NULL, 6, "resnet");
		assert_part(json_array_get(parts, 1), "empty", NULL, NULL, 0, "");
		assert_part(json_array_get(parts, 2), "file", "cat.png", "image/png", FILE_SIZE, file);
		assert_part(json_array_get(parts, 3), "meta", "meta.json", "application/json", 8, "{\"w\":28}");
		ck_assert_int_eq(json_integer_value(json_object_get(j, "file_index")), 2);
		json_decref(j);
	}
	free(file);
}
END_TEST

/* A hand-written body: a preamble, a quoted boundary, a field without Content-Type,
 * and a file whose bytes start like the delimiter without being it. */
START_TEST(parts_of_a_written_body)
{
	static const char body[] = "preamble to ignore\r\n"
				   "--XyZ\r\n"
				   "Content-Disposition: form-data; name=\"a\"\r\n\r\n"
				   "1\r\n"
				   "--XyZ\r\n"
				   "Content-Disposition: form-data; name=\"file\"; filename=\"x.bin\"\r\n"
				   "Content-Type: application/octet-stream\r\n\r\n"
				   "\r\n--XyQ-not-it\r\n"
				   "--XyZ--\r\n";
	struct httpc_response r;
	post_raw("/upload", "multipart/form-data; boundary=\"XyZ\"", body, sizeof body - 1, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
	json_t *parts = json_object_get(j, "parts");
	ck_assert_int_eq(json_array_size(parts), 2);
	assert_part(json_array_get(parts, 0), "a", NULL, NULL, 1, "1");
	assert_part(json_array_get(parts, 1), "file", "x.bin", "application/octet-stream", 14, "\r\n--XyQ-not-it");
	json_decref(j);
	httpc_response_free(&r);
}
END_TEST

/* Sends a multipart body over a raw connection in pieces of step bytes, a moment
 * apart, so the parser sees boundaries, headers and data cut everywhere; returns the
 * JSON body of the reply (owned). */
static json_t *post_in_pieces(const char *body, size_t len, size_t step)
{
	char head[256], in[16384];
	size_t got = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)http_server_port(server)),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 5};
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	int n = snprintf(head, sizeof head,
			 "POST /upload HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: "
			 "multipart/form-data; boundary=--sep--\r\nContent-Length: %zu\r\n\r\n",
			 len);
	ck_assert_int_eq(send(fd, head, (size_t)n, MSG_NOSIGNAL), n);
	for (size_t off = 0; off < len; off += step) {
		size_t k = len - off < step ? len - off : step;
		ck_assert_int_eq(send(fd, body + off, k, MSG_NOSIGNAL), (ssize_t)k);
		core_sleep_ms(1);
	}
	for (ssize_t r; got < sizeof in - 1 && (r = recv(fd, in + got, sizeof in - 1 - got, 0)) > 0;)
		got += (size_t)r;
	close(fd);
	in[got] = '\0';
	ck_assert_msg(strncmp(in, "HTTP/1.1 200", 12) == 0, "reply: %s", in);
	const char *json = strstr(in, "\r\n\r\n");
	ck_assert_ptr_nonnull(json);
	return json_loads(json + 4, 0, NULL);
}

START_TEST(parts_cut_anywhere)
{
	static const char body[] = "----sep--\r\n"
				   "Content-Disposition: form-data; name=\"empty\"\r\n\r\n"
				   "\r\n----sep--\r\n"
				   "Content-Disposition: form-data; name=\"x\"\r\n\r\n"
				   "first x\r\n----sep--\r\n"
				   "Content-Disposition: form-data; name=\"x\"\r\n\r\n"
				   "second x, a little longer, with\r\nline ends\r\n----sep--\r\n"
				   "Content-Disposition: form-data; name=\"img\"; filename=\"a b.png\"\r\n"
				   "Content-Type: image/png\r\n\r\n"
				   "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\r\n--not-sep\r\n----sep----\r\n";
	for (size_t step = 1; step <= 7; step += 6) {
		json_t *j = post_in_pieces(body, sizeof body - 1, step);
		json_t *parts = json_object_get(j, "parts");
		ck_assert_msg(json_array_size(parts) == 4, "step %zu: %zu parts", step, json_array_size(parts));
		assert_part(json_array_get(parts, 0), "empty", NULL, NULL, 0, "");
		assert_part(json_array_get(parts, 1), "x", NULL, NULL, 7, "first x");
		assert_part(json_array_get(parts, 2), "x", NULL, NULL, 42,
			    "second x, a little longer, with\r\nline ends");
		assert_part(json_array_get(parts, 3), "img", "a b.png", "image/png", 27,
			    "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\r\n--not-sep");
		json_decref(j);
	}
}
END_TEST

START_TEST(over_the_limit_413)
{
	char *file = make_file(FILE_SIZE);
	char want[128];
	for (int chunked = 0; chunked < 2; chunked++) {
		json_t *j = NULL;
		ck_assert_int_eq(post_form("/v2/models/m/predict", file, FILE_SIZE, chunked, &j), 413);
		ck_assert_msg(j != NULL, "413 body is not JSON");
		ck_assert_int_eq(json_object_size(j), 1); /* OIP: {"error": ...} only */
		const char *msg = json_string_value(json_object_get(j, "error"));
		snprintf(want, sizeof want, "over the limit of %d bytes", OIP_UPLOAD_LIMIT);
		ck_assert_msg(msg && strstr(msg, want), "413 message: %s", msg ? msg : "(none)");
		json_decref(j);
	}
	free(file);
}
END_TEST

START_TEST(malformed_400)
{
	static const char part[] = "--bnd12\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue";
	static const char oip_path[] = "/v2/models/m/predict";
	/* no boundary in the Content-Type */
	expect_raw(oip_path, "multipart/form-data", part, 400,
		   "{\"error\":\"multipart/form-data body without a usable boundary\"}");
	/* libmicrohttpd 0.9.75 refuses a one-character boundary (measured; curl and
	 * browsers send 40 or more) */
	expect_raw(oip_path, "multipart/form-data; boundary=b", "--b\r\n", 400,
		   "{\"error\":\"multipart/form-data body without a usable boundary\"}");
	/* truncated: the closing boundary never comes */
	expect_raw(oip_path, "multipart/form-data; boundary=bnd12", part, 400,
		   "{\"error\":\"Malformed multipart/form-data body: it ends before its closing boundary\"}");
	/* truncated inside the part headers */
	expect_raw(oip_path, "multipart/form-data; boundary=bnd12", "--bnd12\r\nContent-Disposition: form-da", 400,
		   "{\"error\":\"Malformed multipart/form-data body: it ends before its closing boundary\"}");
	/* no boundary anywhere in the body */
	expect_raw(oip_path, "multipart/form-data; boundary=bnd12", "just some bytes", 400,
		   "{\"error\":\"Malformed multipart/form-data body: no part in it\"}");
	/* garbage where a line end must follow the boundary */
	expect_raw(oip_path, "multipart/form-data; boundary=bnd12",
		   "--bnd12XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--bnd12--\r\n", 400,
		   "{\"error\":\"Malformed multipart/form-data body\"}");
	/* data after the closing boundary */
	expect_raw(oip_path, "multipart/form-data; boundary=bnd12",
		   "--bnd12\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--bnd12--\r\nmore", 400,
		   "{\"error\":\"Malformed multipart/form-data body\"}");
	/* more parts than HTTP_MULTIPART_PARTS_MAX (256), each tiny */
	struct core_buf many;
	core_buf_init(&many, 1 << 20);
	for (int i = 0; i < 300; i++)
		core_buf_printf(&many, "--bnd12\r\nContent-Disposition: form-data; name=\"p%d\"\r\n\r\nv\r\n", i);
	core_buf_append_str(&many, "--bnd12--\r\n");
	expect_raw(oip_path, "multipart/form-data; boundary=bnd12", many.data, 413,
		   "{\"error\":\"multipart/form-data body has more than 256 parts\"}");
	core_buf_free(&many);
	/* another media type */
	expect_raw(oip_path, "application/json", "{}", 415,
		   "{\"error\":\"Content-Type must be one of ['multipart/form-data'] (got 'application/json')\"}");
	/* on a route with MLflow's shape */
	expect_raw("/upload", "multipart/form-data; boundary=bnd12", part, 400,
		   "{\"error_code\":\"BAD_REQUEST\",\"message\":\"Malformed multipart/form-data body: it ends before "
		   "its closing boundary\"}");
}
END_TEST

/* multipart_or_body: a form is parsed into parts, any other body is buffered whole (no
 * 415), a malformed form is still 400. */
START_TEST(multipart_or_plain_body)
{
	size_t len = 5000;
	char *file = make_file(len);
	char want[32];
	snprintf(want, sizeof want, "%016llx", fnv1a(file, len));
	struct httpc_response r;
	post_raw("/v2/either", "image/png", file, len, &r);
	ck_assert_int_eq(r.status, 200);
	json_t *j = json_loads(r.body, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "parts")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "body_len")), (json_int_t)len);
	ck_assert_str_eq(json_string_value(json_object_get(j, "hash")), want);
	ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "image/png");
	json_decref(j);
	httpc_response_free(&r);

	json_t *out = NULL;
	ck_assert_int_eq(post_form("/v2/either", file, len, false, &out), 200);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(json_integer_value(json_object_get(out, "parts")), 4);
	ck_assert_int_eq(json_integer_value(json_object_get(out, "body_len")), 0);
	ck_assert_str_eq(json_string_value(json_object_get(out, "hash")), want);
	json_decref(out);

	expect_raw("/v2/either", "multipart/form-data; boundary=bnd12", "just some bytes", 400,
		   "{\"error\":\"Malformed multipart/form-data body: no part in it\"}");
	free(file);

	/* the flag goes with multipart only */
	struct core_error err;
	struct http_server *s2 = NULL;
	const struct http_route bad[] = {
		{.methods = HTTP_POST, .pattern = "/x", .handler = h_either, .multipart_or_body = true}, {0}};
	struct http_server_config cfg = {.routes = bad};
	ck_assert_int_eq(http_server_start(&cfg, &s2, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "multipart_or_body"));
}
END_TEST

START_TEST(no_body_no_parts)
{
	struct httpc_response r;
	post_raw("/upload", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"parts\":[],\"file_index\":-1}");
	httpc_response_free(&r);
}
END_TEST

START_TEST(multipart_route_checked)
{
	struct core_error err;
	struct http_server *s2 = NULL;
	const struct http_route bad[] = {{.methods = HTTP_POST,
					  .pattern = "/x",
					  .handler = h_upload,
					  .multipart = true,
					  .content_type = "application/json"},
					 {0}};
	struct http_server_config cfg = {.routes = bad};
	ck_assert_int_eq(http_server_start(&cfg, &s2, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "multipart"));
	ck_assert_ptr_null(s2);
}
END_TEST

static Suite *multipart_suite(void)
{
	Suite *s = suite_create("http_multipart");
	TCase *tc = tcase_create("multipart");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, parts_of_a_curl_form);
	tcase_add_test(tc, parts_of_a_written_body);
	tcase_add_test(tc, parts_cut_anywhere);
	tcase_add_test(tc, over_the_limit_413);
	tcase_add_test(tc, malformed_400);
	tcase_add_test(tc, no_body_no_parts);
	tcase_add_test(tc, multipart_or_plain_body);
	tcase_add_test(tc, multipart_route_checked);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	struct core_error err;
	if (httpc_global_init(&err) != CORE_OK) {
		fprintf(stderr, "%s\n", err.message);
		return EXIT_FAILURE;
	}
	SRunner *sr = srunner_create(multipart_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	httpc_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
