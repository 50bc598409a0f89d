/* `lathe data ...`: the data registry's verbs (push, ls, show, pull), over its REST API
 * (services/data-registry/README.md). LATHE_DATA_URL, else LATHE_URL, names the daemon.
 *
 * push: walk PATH (files.c), hash on every core (hash.c), ask which contents the
 *   server lacks in one POST /v1/blobs/missing per 100,000 hashes, PUT only those on
 *   --jobs connections at once (pool.c), commit the manifest with POST
 *   /v1/datasets/NAME/versions, and check that the id the server answers is the one the
 *   manifest gives locally. When the local id is already a version of NAME (a second
 *   push of unchanged files), one GET answers it: nothing is asked, uploaded or
 *   committed.
 * pull: resolve NAME@REF, read the manifest (paths checked: nothing may land outside
 *   DIR), skip files DIR already holds with the right hash, download the rest on
 *   --jobs connections, each into a temporary file beside its target, verified against
 *   its sha256 and size, then renamed into place (a reader never sees a torn file).
 * Results go to stdout, progress and errors to stderr; exit 0, 1 (failure) or 2 (usage). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "core/alloc.h"
#include "core/file.h"

#define CLI_DATA_DEFAULT_URL "http://127.0.0.1:5002"
#define CLI_MISSING_CHUNK    100000
#define CLI_DEFAULT_JOBS     8
#define CLI_MAX_JOBS         64
#define CLI_RETRIES          3

static const char data_usage[] = "usage: lathe data <verb> [options]\n"
				 "\n"
				 "  push PATH --dataset NAME [--message M] [--format csv|idx|image-folder]\n"
				 "       [--label-column C] [--jobs N] [--quiet]\n"
				 "      Hash the files under PATH (or the one file PATH), upload the contents the\n"
				 "      registry does not hold yet, and commit them as a new version of NAME.\n"
				 "      Names starting with '.' are skipped. Prints the version.\n"
				 "  ls [NAME] [--json]\n"
				 "      The datasets, or NAME's versions (newest first).\n"
				 "  show NAME[@REF] [--json]\n"
				 "      One version. REF: a number, an id or an id prefix of 8+ hex digits, or\n"
				 "      'latest' (the newest READY version; the default).\n"
				 "  pull NAME[@REF] DIR [--jobs N] [--quiet]\n"
				 "      Write the version's files under DIR, each verified against its sha256.\n"
				 "\n"
				 "Environment: LATHE_DATA_URL or LATHE_URL (default " CLI_DATA_DEFAULT_URL "),\n"
				 "LATHE_TOKEN (sent as a bearer token). Exit status: 0 ok, 1 failure, 2 usage.\n";

/* Dataset names as the server takes them: [A-Za-z0-9][A-Za-z0-9._-]{0,127}. */
static bool name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128 || s[0] == '.' || s[0] == '_' || s[0] == '-')
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static bool parse_jobs(const char *s, unsigned *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > CLI_MAX_JOBS)
		return false;
	*out = (unsigned)v;
	return true;
}

/* Splits "NAME[@REF]" into malloc'd name and ref ("latest" when absent). */
static bool parse_ref(const char *arg, char **name, char **ref)
{
	const char *at = strchr(arg, '@');
	*name = at ? core_xstrndup(arg, (size_t)(at - arg)) : core_xstrdup(arg);
	*ref = core_xstrdup(at ? at + 1 : "latest");
	if (!name_valid(*name) || !**ref || strchr(*ref, '/')) {
		free(*name);
		free(*ref);
		*name = *ref = NULL;
		return false;
	}
	return true;
}

/* Whether the status is worth another try: no answer arrived (refused, reset). */
static bool retryable(enum core_status rc)
{
	return rc == CORE_EIO;
}

static void backoff(unsigned attempt)
{
	usleep(200000u << attempt);
}

static json_t *get_version(const struct cli_conn *conn, const char *name, const char *ref, struct core_error *err);

/* --- push ---------------------------------------------------------------------------- */

struct push {
	struct cli_conn conn;
	struct cli_files files;
	char **uniq;        /* distinct hashes, sorted */
	size_t *uniq_file;  /* a file holding each */
	bool *uniq_missing; /* the server lacks it */
	size_t n_uniq;
	size_t *todo; /* indexes into uniq to upload */
	size_t n_todo;
	struct cli_progress progress;
};

static int by_sha(const void *a, const void *b)
{
	const struct cli_file *const *x = a, *const *y = b;
	return strcmp((*x)->sha256, (*y)->sha256);
}

/* Fills p->uniq with the distinct hashes of p->files and a file for each. */
static void distinct_hashes(struct push *p)
{
	size_t n = p->files.n;
	const struct cli_file **order = core_xcalloc(n, sizeof *order);
	for (size_t i = 0; i < n; i++)
		order[i] = &p->files.v[i];
	qsort(order, n, sizeof *order, by_sha);
	p->uniq = core_xcalloc(n, sizeof *p->uniq);
	p->uniq_file = core_xcalloc(n, sizeof *p->uniq_file);
	p->uniq_missing = core_xcalloc(n, sizeof *p->uniq_missing);
	for (size_t i = 0; i < n; i++) {
		if (p->n_uniq && strcmp(p->uniq[p->n_uniq - 1], order[i]->sha256) == 0)
			continue;
		p->uniq[p->n_uniq] = (char *)order[i]->sha256;
		p->uniq_file[p->n_uniq] = (size_t)(order[i] - p->files.v);
		p->n_uniq++;
	}
	free(order);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Asks the server which distinct hashes it lacks, CLI_MISSING_CHUNK per request. */
static enum core_status ask_missing(struct push *p, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	for (size_t from = 0; from < p->n_uniq && rc == CORE_OK; from += CLI_MISSING_CHUNK) {
		size_t to = from + CLI_MISSING_CHUNK < p->n_uniq ? from + CLI_MISSING_CHUNK : p->n_uniq;
		json_t *hashes = json_array();
		for (size_t i = from; i < to; i++)
			json_array_append_new(hashes, json_string(p->uniq[i]));
		json_t *body = json_pack("{s:o}", "hashes", hashes);
		json_t *resp = NULL;
		long status;
		rc = cli_http_json(NULL, &p->conn, "POST", "/v1/blobs/missing", body, &status, &resp, err);
		json_decref(body);
		const json_t *missing = json_object_get(resp, "missing");
		if (rc == CORE_OK && !json_is_array(missing))
			rc = core_fail(err, CORE_EINVAL,
				       "the answer of POST /v1/blobs/missing has no \"missing\" list");
		size_t i;
		const json_t *m;
		if (rc == CORE_OK) {
			json_array_foreach(missing, i, m)
			{
				const char *s = json_string_value(m);
				char **hit =
					s ? bsearch(&s, p->uniq + from, to - from, sizeof *p->uniq, cmp_str) : NULL;
				if (!hit) {
					rc = core_fail(err, CORE_EINVAL,
						       "POST /v1/blobs/missing answered a hash that was not asked");
					break;
				}
				p->uniq_missing[hit - p->uniq] = true;
			}
		}
		json_decref(resp);
	}
	return rc;
}

static enum core_status upload_one(CURL *h, size_t i, void *arg, struct core_error *err)
{
	struct push *p = arg;
	size_t u = p->todo[i];
	const struct cli_file *f = &p->files.v[p->uniq_file[u]];
	char path[128];
	snprintf(path, sizeof path, "/v1/blobs/%s", p->uniq[u]);
	enum core_status rc;
	long status;
	for (unsigned attempt = 0;; attempt++) {
		rc = cli_http_put_file(h, &p->conn, path, f->local, f->size, &status, err);
		if (rc == CORE_OK || !retryable(rc) || attempt + 1 >= CLI_RETRIES)
			break;
		backoff(attempt);
	}
	if (rc != CORE_OK) {
		char msg[sizeof err->message];
		snprintf(msg, sizeof msg, "%s", err->message);
		return core_fail(err, rc, "uploading %s: %s", f->local, msg);
	}
	cli_progress_add(&p->progress, 1, f->size);
	return CORE_OK;
}

static int push_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dataset", required_argument, NULL, 'd'},
		{"message", required_argument, NULL, 'm'},
		{"format", required_argument, NULL, 'f'},
		{"label-column", required_argument, NULL, 'l'},
		{"jobs", required_argument, NULL, 'j'},
		{"quiet", no_argument, NULL, 'q'},
		{"no-cache", no_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool use_cache = true;
	const char *dataset = NULL, *message = NULL, *format = NULL, *label = NULL;
	unsigned jobs = CLI_DEFAULT_JOBS;
	bool quiet = false;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "d:m:f:l:j:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dataset = optarg;
			break;
		case 'm':
			message = optarg;
			break;
		case 'f':
			format = optarg;
			break;
		case 'l':
			label = optarg;
			break;
		case 'j':
			if (!parse_jobs(optarg, &jobs))
				return cli_usage_error("data", "push", "--jobs takes 1..64, got '%s'", optarg);
			break;
		case 'q':
			quiet = true;
			break;
		case 'C':
			use_cache = false;
			break;
		case 'h':
			fputs(data_usage, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_error("data", "push", "%s", "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("data", "push", "%s", "push takes one PATH");
	if (!dataset)
		return cli_usage_error("data", "push", "%s", "push needs --dataset NAME");
	if (!name_valid(dataset))
		return cli_usage_error("data", "push", "'%s' is not a dataset name ([A-Za-z0-9][A-Za-z0-9._-]{0,127})",
				       dataset);
	if (format && strcmp(format, "csv") != 0 && strcmp(format, "idx") != 0 && strcmp(format, "image-folder") != 0)
		return cli_usage_error("data", "push", "--format is csv, idx or image-folder, got '%s'", format);

	struct cli_push_opts o = {.message = message,
				  .format = format,
				  .label_column = label,
				  .jobs = jobs,
				  .quiet = quiet,
				  .no_cache = !use_cache};
	struct cli_push_result r;
	struct cli_conn conn;
	struct core_error err;
	if (cli_conn_init(&conn, "LATHE_DATA_URL", CLI_DATA_DEFAULT_URL, &err) != CORE_OK ||
	    cli_data_push(&conn, argv[optind], dataset, &o, &r, &err) != CORE_OK)
		return cli_fail(&err);
	char b1[32], b2[32], b3[32];
	printf("files: %zu, %llu bytes (%s), %zu distinct contents\n", r.files, (unsigned long long)r.bytes,
	       cli_fmt_bytes(r.bytes, b1, sizeof b1), r.distinct);
	if (r.skipped)
		printf("skipped: %zu entries (names starting with '.', links to directories, special files)\n",
		       r.skipped);
	printf("uploaded: %zu files, %llu bytes (%s)\n", r.uploaded, (unsigned long long)r.uploaded_bytes,
	       cli_fmt_bytes(r.uploaded_bytes, b2, sizeof b2));
	printf("already stored: %zu files, %llu bytes (%s)\n", r.distinct - r.uploaded,
	       (unsigned long long)r.stored_bytes, cli_fmt_bytes(r.stored_bytes, b3, sizeof b3));
	printf("hashed: %zu files (%zu vouched for by the hash cache)\n", r.files - r.cached, r.cached);
	printf("seconds: hash %.3f, upload %.3f, commit %.3f\n", r.hash_s, r.upload_s, r.commit_s);
	printf("version: %s@%lld %s (%s, %s)\n", dataset, r.number, r.id,
	       r.created ? "new" : "unchanged: the same files as this existing version", r.status);
	return CLI_EXIT_OK;
}

enum core_status cli_data_push(const struct cli_conn *conn, const char *root, const char *dataset,
			       const struct cli_push_opts *o, struct cli_push_result *res, struct core_error *err)
{
	struct push p = {.conn = *conn};
	enum core_status st = CORE_EINVAL;
	json_t *body = NULL, *resp = NULL;
	char *path = NULL, *name_esc = NULL;
	bool use_cache = !o->no_cache;
	unsigned jobs = o->jobs ? o->jobs : CLI_DEFAULT_JOBS;
	memset(res, 0, sizeof *res);
	if ((st = cli_files_walk(root, &p.files, &res->skipped, err)) != CORE_OK)
		goto out;
	if (p.files.n == 0) {
		st = core_fail(err, CORE_EINVAL, "no files to push under %s (names starting with '.' are skipped)",
			       root);
		goto out;
	}
	for (size_t i = 0; i < p.files.n; i++)
		res->bytes += p.files.v[i].size;

	double hash_start = cli_now();
	res->cached = use_cache ? cli_hash_cache_apply(root, &p.files) : 0;
	uint64_t to_hash = 0;
	for (size_t i = 0; i < p.files.n; i++)
		if (!p.files.v[i].sha256[0])
			to_hash += p.files.v[i].size;
	cli_progress_start(&p.progress, "hashing", p.files.n - res->cached, to_hash,
			   o->quiet || res->cached == p.files.n);
	st = cli_hash_files(&p.files, 0, &p.progress, err);
	cli_progress_end(&p.progress);
	res->hash_s = cli_now() - hash_start;
	if (st != CORE_OK)
		goto out;
	if (use_cache && res->cached < p.files.n)
		cli_hash_cache_save(root, &p.files, NULL); /* best effort */
	distinct_hashes(&p);
	long http_status = 0;
	char want[65];
	cli_manifest_id(&p.files, want);
	name_esc = cli_http_escape(dataset);
	p.todo = core_xcalloc(p.n_uniq, sizeof *p.todo);

	/* These exact files already a version of the dataset? Then every blob is stored (a
	 * version's blobs are never collected) and a commit would answer that version: one
	 * GET instead of the missing query and the commit of a large manifest. */
	const json_t *v = NULL;
	json_t *existing = get_version(&p.conn, dataset, want, err);
	if (existing) {
		v = existing;
		resp = existing;
		http_status = 200;
		for (size_t u = 0; u < p.n_uniq; u++)
			res->stored_bytes += p.files.v[p.uniq_file[u]].size;
	} else {
		if ((st = ask_missing(&p, err)) != CORE_OK)
			goto out;
		for (size_t u = 0; u < p.n_uniq; u++) {
			uint64_t size = p.files.v[p.uniq_file[u]].size;
			if (p.uniq_missing[u]) {
				p.todo[p.n_todo++] = u;
				res->uploaded_bytes += size;
			} else {
				res->stored_bytes += size;
			}
		}
		cli_progress_start(&p.progress, "uploading", p.n_todo, res->uploaded_bytes, o->quiet || p.n_todo == 0);
		st = cli_pool_run(p.n_todo, jobs, upload_one, &p, err);
		res->upload_s = cli_progress_end(&p.progress);
		if (st != CORE_OK)
			goto out;

		body = cli_manifest_json(&p.files);
		if (o->message)
			json_object_set_new(body, "message", json_string(o->message));
		if (o->format)
			json_object_set_new(body, "format", json_string(o->format));
		if (o->label_column)
			json_object_set_new(body, "label_column", json_string(o->label_column));
		path = core_xasprintf("/v1/datasets/%s/versions", name_esc);
		double commit_start = cli_now();
		if ((st = cli_http_json(NULL, &p.conn, "POST", path, body, &http_status, &resp, err)) != CORE_OK)
			goto out;
		res->commit_s = cli_now() - commit_start;
		v = json_object_get(resp, "version");
	}
	st = CORE_EINVAL;
	const char *id = json_string_value(json_object_get(v, "id"));
	const json_t *number = json_object_get(v, "number");
	if (!id || !json_is_integer(number)) {
		core_fail(err, st, "the commit's answer has no version id and number");
		goto out;
	}
	if (strcmp(want, id) != 0) {
		core_fail(err, st, "the server answered version id %s, but the manifest sent gives %s", id, want);
		goto out;
	}
	const char *vs = json_string_value(json_object_get(v, "status"));
	res->files = p.files.n;
	res->distinct = p.n_uniq;
	res->uploaded = p.n_todo;
	res->created = http_status == 201;
	res->number = (long long)json_integer_value(number);
	snprintf(res->id, sizeof res->id, "%s", id);
	snprintf(res->status, sizeof res->status, "%s", vs ? vs : "?");
	st = CORE_OK;
out:
	json_decref(body);
	json_decref(resp);
	free(path);
	free(name_esc);
	free(p.uniq);
	free(p.uniq_file);
	free(p.uniq_missing);
	free(p.todo);
	cli_files_free(&p.files);
	return st;
}

/* --- ls and show ------------------------------------------------------------------- */

/* GETs every page of path (which has a query already) and hands each item of the list
 * named key to print (or collects them all into *all when it is not NULL). */
static enum core_status get_pages(const struct cli_conn *conn, const char *path, const char *key, json_t *all,
				  struct core_error *err)
{
	char *token = NULL;
	enum core_status rc = CORE_OK;
	for (;;) {
		char *tok_esc = token ? cli_http_escape(token) : NULL;
		char *url = tok_esc ? core_xasprintf("%s&page_token=%s", path, tok_esc) : core_xstrdup(path);
		free(tok_esc);
		json_t *resp = NULL;
		long status;
		rc = cli_http_json(NULL, conn, "GET", url, NULL, &status, &resp, err);
		free(url);
		free(token);
		token = NULL;
		if (rc != CORE_OK)
			break;
		const json_t *list = json_object_get(resp, key);
		if (list && !json_is_array(list)) {
			json_decref(resp);
			rc = core_fail(err, CORE_EINVAL, "the answer's \"%s\" is not a list", key);
			break;
		}
		json_array_extend(all, (json_t *)list);
		const char *next = json_string_value(json_object_get(resp, "next_page_token"));
		if (next && *next)
			token = core_xstrdup(next);
		json_decref(resp);
		if (!token)
			break;
	}
	free(token);
	return rc;
}

static const char *str_or(const json_t *o, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : def;
}

static long long int_or(const json_t *o, const char *key, long long def)
{
	const json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (long long)json_integer_value(v) : def;
}

/* Parses the --json / --help options of ls and show; returns -1 to go on, else the
 * exit status. */
static int read_view_opts(const char *verb, int argc, char **argv, bool *as_json)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'J'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'J') {
			*as_json = true;
		} else if (c == 'h') {
			fputs(data_usage, stdout);
			return CLI_EXIT_OK;
		} else {
			return cli_usage_error("data", verb, "%s", "unknown option");
		}
	}
	return -1;
}

static void print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (s)
		puts(s);
	free(s);
}

static int ls_main(int argc, char **argv)
{
	bool as_json = false;
	int r = read_view_opts("ls", argc, argv, &as_json);
	if (r >= 0)
		return r;
	if (argc - optind > 1)
		return cli_usage_error("data", "ls", "%s", "ls takes at most one NAME");
	const char *name = optind < argc ? argv[optind] : NULL;
	if (name && !name_valid(name))
		return cli_usage_error("data", "ls", "'%s' is not a dataset name", name);
	struct cli_conn conn;
	struct core_error err;
	if (cli_conn_init(&conn, "LATHE_DATA_URL", CLI_DATA_DEFAULT_URL, &err) != CORE_OK)
		return cli_fail(&err);
	json_t *all = json_array();
	char *path = NULL;
	enum core_status rc;
	if (name) {
		char *esc = cli_http_escape(name);
		path = core_xasprintf("/v1/datasets/%s/versions?max_results=1000", esc);
		free(esc);
		rc = get_pages(&conn, path, "versions", all, &err);
	} else {
		path = core_xstrdup("/v1/datasets?max_results=1000");
		rc = get_pages(&conn, path, "datasets", all, &err);
	}
	free(path);
	if (rc != CORE_OK) {
		json_decref(all);
		return cli_fail(&err);
	}
	size_t i;
	const json_t *e;
	char t[40], b[32];
	if (as_json) {
		json_t *wrap = json_pack("{s:O}", name ? "versions" : "datasets", all);
		print_json(wrap);
		json_decref(wrap);
	} else if (name) {
		printf("%-7s %-12s %-8s %-12s %9s %10s  %-20s  %s\n", "VERSION", "ID", "STATUS", "FORMAT", "FILES",
		       "SIZE", "CREATED", "MESSAGE");
		json_array_foreach(all, i, e)
		{
			printf("%-7lld %-12.12s %-8s %-12s %9lld %10s  %-20s  %s\n", int_or(e, "number", 0),
			       str_or(e, "id", "-"), str_or(e, "status", "-"), str_or(e, "format", "-"),
			       int_or(e, "file_count", 0), cli_fmt_bytes((uint64_t)int_or(e, "bytes", 0), b, sizeof b),
			       cli_fmt_ms(json_object_get(e, "created_at"), t, sizeof t), str_or(e, "message", ""));
		}
	} else {
		printf("%-32s %8s %7s  %-20s  %s\n", "NAME", "VERSIONS", "LATEST", "UPDATED", "DESCRIPTION");
		json_array_foreach(all, i, e)
		{
			long long latest = int_or(e, "latest_version", -1);
			char lv[24];
			if (latest < 0)
				snprintf(lv, sizeof lv, "-");
			else
				snprintf(lv, sizeof lv, "%lld", latest);
			printf("%-32s %8lld %7s  %-20s  %s\n", str_or(e, "name", "?"), int_or(e, "version_count", 0),
			       lv, cli_fmt_ms(json_object_get(e, "updated_at"), t, sizeof t),
			       str_or(e, "description", ""));
		}
	}
	json_decref(all);
	return CLI_EXIT_OK;
}

/* GET /v1/datasets/NAME/versions/REF: the version object (new reference) or NULL. */
static json_t *get_version(const struct cli_conn *conn, const char *name, const char *ref, struct core_error *err)
{
	char *n = cli_http_escape(name), *r = cli_http_escape(ref);
	char *path = core_xasprintf("/v1/datasets/%s/versions/%s", n, r);
	json_t *resp = NULL, *v = NULL;
	long status;
	if (cli_http_json(NULL, conn, "GET", path, NULL, &status, &resp, err) == CORE_OK) {
		v = json_incref(json_object_get(resp, "version"));
		if (!v || !cli_sha256_valid(json_string_value(json_object_get(v, "id")))) {
			json_decref(v);
			v = NULL;
			core_fail(err, CORE_EINVAL, "the answer of GET %s has no version with an id", path);
		}
	}
	json_decref(resp);
	free(path);
	free(n);
	free(r);
	return v;
}

static int show_main(int argc, char **argv)
{
	bool as_json = false;
	int r = read_view_opts("show", argc, argv, &as_json);
	if (r >= 0)
		return r;
	if (argc - optind != 1)
		return cli_usage_error("data", "show", "%s", "show takes one NAME[@REF]");
	char *name, *ref;
	if (!parse_ref(argv[optind], &name, &ref))
		return cli_usage_error("data", "show", "'%s' is not NAME[@REF]", argv[optind]);
	struct cli_conn conn;
	struct core_error err;
	int status = CLI_EXIT_FAIL;
	json_t *v = NULL;
	if (cli_conn_init(&conn, "LATHE_DATA_URL", CLI_DATA_DEFAULT_URL, &err) != CORE_OK ||
	    !(v = get_version(&conn, name, ref, &err))) {
		status = cli_fail(&err);
		goto out;
	}
	if (as_json) {
		json_t *wrap = json_pack("{s:O}", "version", v);
		print_json(wrap);
		json_decref(wrap);
	} else {
		char t1[40], t2[40], b[32];
		printf("dataset:      %s\n", str_or(v, "dataset", name));
		printf("version:      %lld\n", int_or(v, "number", 0));
		printf("id:           %s\n", str_or(v, "id", "-"));
		printf("parent:       %s\n", str_or(v, "parent", "-"));
		printf("status:       %s\n", str_or(v, "status", "-"));
		if (json_is_string(json_object_get(v, "failure")))
			printf("failure:      %s\n", str_or(v, "failure", ""));
		printf("format:       %s\n", str_or(v, "format", "-"));
		printf("label column: %s\n", str_or(v, "label_column", "-"));
		printf("files:        %lld\n", int_or(v, "file_count", 0));
		printf("size:         %lld bytes (%s)\n", int_or(v, "bytes", 0),
		       cli_fmt_bytes((uint64_t)int_or(v, "bytes", 0), b, sizeof b));
		printf("created:      %s\n", cli_fmt_ms(json_object_get(v, "created_at"), t1, sizeof t1));
		printf("ready:        %s\n", cli_fmt_ms(json_object_get(v, "ready_at"), t2, sizeof t2));
		printf("message:      %s\n", str_or(v, "message", ""));
	}
	status = CLI_EXIT_OK;
out:
	json_decref(v);
	free(name);
	free(ref);
	return status;
}

/* --- pull ---------------------------------------------------------------------------- */

struct pull {
	struct cli_conn conn;
	const char *dir;
	struct cli_files files;
	size_t *todo;
	size_t n_todo;
	mode_t mode; /* of the files written: 0666 less the umask */
	struct cli_progress progress;
};

/* Whether target already holds exactly the file's bytes. */
static bool already_there(const char *target, const struct cli_file *f)
{
	struct stat st;
	if (lstat(target, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != f->size)
		return false;
	char sha[65];
	return cli_hash_file(target, sha, NULL, NULL) == CORE_OK && strcmp(sha, f->sha256) == 0;
}

/* Downloads one file into a temporary file beside its target, checks it, renames it. */
static enum core_status download_one(CURL *h, size_t i, void *arg, struct core_error *err)
{
	struct pull *p = arg;
	const struct cli_file *f = &p->files.v[p->todo[i]];
	char *target = core_xasprintf("%s/%s", p->dir, f->path);
	char *slash = strrchr(target, '/');
	char *parent = core_xstrndup(target, (size_t)(slash - target));
	char *tmp = core_xasprintf("%s/.%s.lathe-XXXXXX", parent, slash + 1);
	char path[128];
	snprintf(path, sizeof path, "/v1/blobs/%s", f->sha256);
	enum core_status rc = core_mkdir_p(parent, 0777, err);
	FILE *out = NULL;
	bool made = false;
	for (unsigned attempt = 0; rc == CORE_OK; attempt++) {
		int fd = mkstemp(tmp);
		if (fd < 0) {
			rc = core_fail(err, CORE_EIO, "cannot create a file in %s: %m", parent);
			break;
		}
		made = true;
		out = fdopen(fd, "wb");
		if (!out) {
			close(fd);
			rc = core_fail(err, CORE_EIO, "cannot write %s: %m", tmp);
			break;
		}
		struct core_sha256 *sha = core_sha256_new();
		uint64_t got = 0;
		rc = sha ? cli_http_get_to_file(h, &p->conn, path, out, sha, f->size, &got, err)
			 : core_fail(err, CORE_EIO, "libcrypto cannot make a sha256 context");
		char hex[65] = "";
		if (rc == CORE_OK)
			core_sha256_finish_hex(sha, hex);
		else
			core_sha256_free(sha);
		if (rc == CORE_OK && (got != f->size || strcmp(hex, f->sha256) != 0))
			rc = core_fail(
				err, CORE_EINVAL,
				"%s: the server sent %llu bytes with sha256 %s; the manifest says %llu bytes, %s",
				f->path, (unsigned long long)got, hex, (unsigned long long)f->size, f->sha256);
		if (fclose(out) != 0 && rc == CORE_OK)
			rc = core_fail(err, CORE_EIO, "cannot write %s: %m", tmp);
		out = NULL;
		if (rc == CORE_OK || !retryable(rc) || attempt + 1 >= CLI_RETRIES)
			break;
		unlink(tmp);
		made = false;
		snprintf(tmp + strlen(tmp) - 6, 7, "XXXXXX");
		backoff(attempt);
	}
	if (rc == CORE_OK && chmod(tmp, p->mode) != 0)
		rc = core_fail(err, CORE_EIO, "cannot chmod %s: %m", tmp);
	if (rc == CORE_OK && rename(tmp, target) != 0)
		rc = core_fail(err, CORE_EIO, "cannot rename %s to %s: %m", tmp, target);
	if (rc != CORE_OK && made)
		unlink(tmp);
	if (rc == CORE_OK)
		cli_progress_add(&p->progress, 1, f->size);
	free(tmp);
	free(parent);
	free(target);
	return rc;
}

static int pull_main(int argc, char **argv)
{
	static const struct option opts[] = {{"jobs", required_argument, NULL, 'j'},
					     {"quiet", no_argument, NULL, 'q'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	unsigned jobs = CLI_DEFAULT_JOBS;
	bool quiet = false;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "j:qh", opts, NULL)) != -1) {
		if (c == 'j') {
			if (!parse_jobs(optarg, &jobs))
				return cli_usage_error("data", "pull", "--jobs takes 1..64, got '%s'", optarg);
		} else if (c == 'q') {
			quiet = true;
		} else if (c == 'h') {
			fputs(data_usage, stdout);
			return CLI_EXIT_OK;
		} else {
			return cli_usage_error("data", "pull", "%s", "unknown option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("data", "pull", "%s", "pull takes NAME[@REF] and DIR");
	char *name, *ref;
	if (!parse_ref(argv[optind], &name, &ref))
		return cli_usage_error("data", "pull", "'%s' is not NAME[@REF]", argv[optind]);
	struct pull p = {.dir = argv[optind + 1]};
	struct core_error err;
	int status = CLI_EXIT_FAIL;
	json_t *v = NULL, *manifest = NULL;
	char *path = NULL, *name_esc = NULL;
	mode_t mask = umask(0);
	umask(mask);
	p.mode = 0666 & ~mask;
	if (cli_conn_init(&p.conn, "LATHE_DATA_URL", CLI_DATA_DEFAULT_URL, &err) != CORE_OK ||
	    !(v = get_version(&p.conn, name, ref, &err))) {
		status = cli_fail(&err);
		goto out;
	}
	const char *id = json_string_value(json_object_get(v, "id"));
	name_esc = cli_http_escape(name);
	path = core_xasprintf("/v1/datasets/%s/versions/%s/manifest", name_esc, id);
	long http_status;
	if (cli_http_json(NULL, &p.conn, "GET", path, NULL, &http_status, &manifest, &err) != CORE_OK ||
	    cli_manifest_parse(manifest, &p.files, &err) != CORE_OK) {
		status = cli_fail(&err);
		goto out;
	}
	char got_id[65];
	cli_manifest_id(&p.files, got_id);
	if (strcmp(got_id, id) != 0) {
		cli_errorf("the manifest the server sent does not hash to the version id %s", id);
		goto out;
	}
	if (core_mkdir_p(p.dir, 0777, &err) != CORE_OK) {
		status = cli_fail(&err);
		goto out;
	}
	p.todo = core_xcalloc(p.files.n ? p.files.n : 1, sizeof *p.todo);
	uint64_t bytes = 0, present_bytes = 0;
	for (size_t i = 0; i < p.files.n; i++) {
		char *target = core_xasprintf("%s/%s", p.dir, p.files.v[i].path);
		if (already_there(target, &p.files.v[i])) {
			present_bytes += p.files.v[i].size;
		} else {
			p.todo[p.n_todo++] = i;
			bytes += p.files.v[i].size;
		}
		free(target);
	}
	cli_progress_start(&p.progress, "pulling", p.n_todo, bytes, quiet || p.n_todo == 0);
	enum core_status rc = cli_pool_run(p.n_todo, jobs, download_one, &p, &err);
	double secs = cli_progress_end(&p.progress);
	if (rc != CORE_OK) {
		status = cli_fail(&err);
		goto out;
	}
	char b1[32], b2[32];
	printf("downloaded: %zu files, %llu bytes (%s), verified, %.3f s\n", p.n_todo, (unsigned long long)bytes,
	       cli_fmt_bytes(bytes, b1, sizeof b1), secs);
	printf("already present: %zu files, %llu bytes (%s)\n", p.files.n - p.n_todo, (unsigned long long)present_bytes,
	       cli_fmt_bytes(present_bytes, b2, sizeof b2));
	printf("version: %s@%lld %s -> %s\n", name, int_or(v, "number", 0), id, p.dir);
	status = CLI_EXIT_OK;
out:
	json_decref(v);
	json_decref(manifest);
	free(path);
	free(name_esc);
	free(name);
	free(ref);
	free(p.todo);
	cli_files_free(&p.files);
	return status;
}

/* --- dispatch ------------------------------------------------------------------------ */

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} data_verbs[] = {
	{"push", push_main},
	{"ls", ls_main},
	{"show", show_main},
	{"pull", pull_main},
};

int cli_data_main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(data_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(data_usage, stdout);
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof data_verbs / sizeof data_verbs[0]; i++)
		if (strcmp(argv[1], data_verbs[i].name) == 0)
			return data_verbs[i].fn(argc - 1, argv + 1);
	cli_errorf("'%s' is not a data verb (push, ls, show, pull)", argv[1]);
	fputs("try 'lathe data --help'\n", stderr);
	return CLI_EXIT_USAGE;
}
