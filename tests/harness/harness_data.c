/* Helpers for the data registry's integration tests (face: harness_data.h): blobs, manifests, folders pushed,
 * requests with a header in and a header out (libcurl), and the blob store on disk. */
#include "harness_data.h"
#include <check.h>
#include <curl/curl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <libpq-fe.h>
#include "core/sha256.h"

void th_data_put_blob(struct th_daemon *d, const void *data, size_t len, char key_out[65])
{
	ck_assert_int_eq(core_sha256_hex(data, len, key_out), CORE_OK);
	char *url = th_fmt("%s/v1/blobs/%s", d->base_url, key_out);
	struct th_response r = th_http("PUT", url, "application/octet-stream", data, len);
	ck_assert_msg(r.status == 201 || r.status == 200, "PUT blob: %ld %s", r.status, r.body);
	th_response_free(&r);
	free(url);
}

json_t *th_data_manifest(struct th_daemon *d, const struct th_data_file *files, size_t n, bool put)
{
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		char key[65];
		size_t len = strlen(files[i].text);
		if (put)
			th_data_put_blob(d, files[i].text, len, key);
		else
			ck_assert_int_eq(core_sha256_hex(files[i].text, len, key), CORE_OK);
		json_array_append_new(list, json_pack("{s:s, s:s, s:I}", "path", files[i].path, "sha256", key, "size",
						      (json_int_t)len));
	}
	return json_pack("{s:o}", "files", list);
}

struct th_response th_data_commit(struct th_daemon *d, const char *dataset, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);
	char *path = th_fmt("/v1/datasets/%s/versions", dataset);
	struct th_response r = th_call(d, "POST", path, text);
	free(path);
	free(text);
	return r;
}

struct header_want {
	const char *name;
	char *out;
	size_t size;
};

static size_t on_header(char *p, size_t size, size_t n, void *cls)
{
	struct header_want *w = cls;
	size_t m = size * n, k = w->name ? strlen(w->name) : 0;
	if (w->name && m > k + 1 && strncasecmp(p, w->name, k) == 0 && p[k] == ':') {
		const char *v = p + k + 1;
		while (*v == ' ')
			v++;
		size_t vl = m - (size_t)(v - p);
		while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
			vl--;
		snprintf(w->out, w->size, "%.*s", (int)vl, v);
	}
	return m;
}

struct th_response th_data_http(const char *method, const char *url, const char *content_type, const void *body,
				size_t len, const char *header, const char *want, char *value_out, size_t value_size)
{
	struct th_response r = {0};
	struct th_collect s = {0};
	struct header_want w = {.name = want, .out = value_out, .size = value_size};
	if (value_out && value_size)
		value_out[0] = '\0';
	CURL *curl = curl_easy_init();
	ck_assert_ptr_nonnull(curl);
	struct curl_slist *h = NULL;
	char ct[256];
	if (content_type) {
		snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
		h = curl_slist_append(h, ct);
	}
	if (header)
		h = curl_slist_append(h, header);
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	if (body) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, th_collect_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &w);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
	CURLcode rc = curl_easy_perform(curl);
	ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, url, curl_easy_strerror(rc));
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
	curl_slist_free_all(h);
	curl_easy_cleanup(curl);
	r.body = s.data ? s.data : strdup("");
	r.body_len = s.len;
	r.json = json_loadb(r.body, r.body_len, 0, NULL);
	return r;
}

void th_data_blob_dir(struct th_daemon *d, char *out, size_t size)
{
	const char *tag = strrchr(d->log_path, '-') + 1;
	snprintf(out, size, "%s/blobs-%.16s", th_env("LATHE_TEST_TMP"), tag);
}

size_t th_data_blob_count(const char *blob_dir)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/objects", blob_dir);
	DIR *top = opendir(path);
	if (!top)
		return 0;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(top))) {
		if (e->d_name[0] == '.')
			continue;
		char sub[1400];
		snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
		DIR *dd = opendir(sub);
		if (!dd)
			continue;
		struct dirent *f;
		while ((f = readdir(dd)))
			if (f->d_name[0] != '.')
				n++;
		closedir(dd);
	}
	closedir(top);
	return n;
}

char *th_data_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

char *th_data_scratch_dir(const char *tag)
{
	char *dir = th_fmt("%s/%s-%d", th_env("LATHE_TEST_TMP"), tag, (int)getpid());
	char *cmd = th_fmt("mkdir -p %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	return dir;
}

long th_data_push_dir(struct th_daemon *d, const char *dataset, const char *dir, const char *extra)
{
	char *cmd = th_fmt("cd %s && find . -type f | sort", dir);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	json_t *files = json_array();
	char line[4096];
	while (fgets(line, sizeof line, p)) {
		line[strcspn(line, "\n")] = '\0';
		const char *rel = line + 2; /* "./" */
		char *full = th_fmt("%s/%s", dir, rel);
		size_t len;
		char *data = th_data_read_file(full, &len), sha[65];
		th_data_put_blob(d, data, len, sha);
		json_array_append_new(
			files, json_pack("{s:s, s:s, s:I}", "path", rel, "sha256", sha, "size", (json_int_t)len));
		free(data);
		free(full);
	}
	pclose(p);
	free(cmd);
	json_t *m = json_pack("{s:o}", "files", files);
	char *text = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	/* the extra members go before the closing brace */
	text[strlen(text) - 1] = '\0';
	char *body = th_fmt("%s%s}", text, extra);
	char *path = th_fmt("/v1/datasets/%s/versions", dataset);
	struct th_response r = th_call(d, "POST", path, body);
	ck_assert_msg(r.status == 201 || r.status == 200, "commit %s: %ld %s", dir, r.status, r.body);
	long number = (long)json_integer_value(json_object_get(json_object_get(r.json, "version"), "number"));
	ck_assert_int_gt(number, 0);
	th_response_free(&r);
	free(path);
	free(body);
	free(text);
	return number;
}

char *th_data_sql(struct th_daemon *d, const char *text)
{
	PGconn *c = PQconnectdb(d->database_url);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	PQclear(PQexec(c, "SET search_path TO data"));
	PGresult *res = PQexec(c, text);
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK, "%s: %s", text,
		      PQerrorMessage(c));
	char *out = strdup(PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	PQfinish(c);
	return out;
}
