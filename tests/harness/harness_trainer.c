/* The trainer tests' helpers (harness_trainer.h): daemons wired together, tiny datasets
 * pushed to the data registry and profiled, job submits and SQL. Datasets are made in
 * the run's scratch directory (LATHE_TEST_TMP) and sent in one request each, as `lathe
 * data push` of a file would. */
#include "harness_trainer.h"
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness_data.h"

struct th_daemon *th_trainer_start(struct th_daemon *data_registry, const char *const *extra_env)
{
	const char *env[16] = {0};
	size_t n = 0;
	char url[128] = "";
	bool workers = false;
	for (size_t i = 0; extra_env && extra_env[i] && i < 12; i++) {
		env[n++] = extra_env[i];
		workers = workers || strncmp(extra_env[i], "WORKERS=", 8) == 0;
	}
	if (!workers)
		env[n++] = "WORKERS=0";
	if (data_registry) {
		snprintf(url, sizeof url, "DATA_REGISTRY_URL=%s", data_registry->base_url);
		env[n++] = url;
	}
	return th_daemon_start("trainer", NULL, env);
}

void th_trainer_wait_ready(struct th_daemon *dr, const char *dataset, json_int_t number, int timeout_s)
{
	char *path = th_fmt("/v1/datasets/%s/versions/%lld", dataset, (long long)number);
	const char *status = NULL;
	json_t *body = NULL;
	for (int i = 0; i < timeout_s * 20; i++) {
		json_decref(body);
		body = th_ok(dr, "GET", path, NULL);
		status = json_string_value(json_object_get(json_object_get(body, "version"), "status"));
		if (status && strcmp(status, "PENDING") != 0)
			break;
		usleep(50 * 1000);
	}
	ck_assert_msg(status && strcmp(status, "READY") == 0, "%s@%lld: %s", dataset, (long long)number,
		      status ? status : "no status");
	json_decref(body);
	free(path);
}

static json_int_t commit(struct th_daemon *dr, const char *dataset, const char *query, const char *content_type,
			 const void *body, size_t len)
{
	char *url = th_fmt("%s/v1/datasets/%s/versions%s", dr->base_url, dataset, query);
	struct th_response r = th_data_http("POST", url, content_type, body, len, NULL, NULL, NULL, 0);
	ck_assert_msg(r.status == 201 || r.status == 200, "commit %s: %ld %s", dataset, r.status, r.body);
	json_int_t number = json_integer_value(json_object_get(json_object_get(r.json, "version"), "number"));
	th_response_free(&r);
	free(url);
	th_trainer_wait_ready(dr, dataset, number, 60);
	return number;
}

json_int_t th_trainer_push_csv(struct th_daemon *dr, const char *dataset, const char *csv, const char *label_column)
{
	char *query = label_column ? th_fmt("?filename=%s.csv&label_column=%s", dataset, label_column)
				   : th_fmt("?filename=%s.csv", dataset);
	json_int_t n = commit(dr, dataset, query, "text/csv", csv, strlen(csv));
	free(query);
	return n;
}

json_int_t th_trainer_push_images(struct th_daemon *dr, const char *dataset, int classes, int per_class, int size)
{
	char *dir = th_fmt("%s/trainer-%d-%s", th_env("LATHE_TEST_TMP"), (int)getpid(), dataset);
	char *cmd = th_fmt("rm -rf '%s' && mkdir -p '%s/img' && /usr/bin/python3 -c \"\n"
			   "import os, numpy as np\nfrom PIL import Image\n"
			   "root, k, n, s = '%s/img', %d, %d, %d\n"
			   "for c in range(k):\n"
			   "    os.makedirs(f'{root}/c{c}', exist_ok=True)\n"
			   "    for i in range(n):\n"
			   "        a = np.full((s, s), 20 + i, np.uint8)\n"
			   "        a[(c * s) // k:((c + 1) * s) // k, :] = 230 - i\n"
			   "        Image.fromarray(a, 'L').save(f'{root}/c{c}/{i}.png')\n"
			   "\" && cd '%s/img' && tar -cf ../img.tar c*",
			   dir, dir, dir, classes, per_class, size, dir);
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
	char *tar = th_fmt("%s/img.tar", dir);
	FILE *f = fopen(tar, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *body = malloc((size_t)len);
	ck_assert_ptr_nonnull(body);
	ck_assert_uint_eq(fread(body, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	json_int_t n = commit(dr, dataset, "", "application/x-tar", body, (size_t)len);
	free(body);
	free(tar);
	free(cmd);
	free(dir);
	return n;
}

struct th_response th_trainer_submit(struct th_daemon *t, const char *spec)
{
	return th_call(t, "POST", "/v1/jobs", spec);
}

char *th_trainer_sql(struct th_daemon *t, const char *text)
{
	PGconn *c = PQconnectdb(t->database_url);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	PQclear(PQexec(c, "SET search_path TO trainer"));
	PGresult *res = PQexec(c, text);
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK, "%s: %s", text,
		      PQerrorMessage(c));
	char *out = strdup(PQntuples(res) > 0 && PQnfields(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	PQfinish(c);
	return out;
}
