/* `lathe train` and `lathe jobs`: the trainer's jobs from the command line.
 *   lathe train SPEC.json [--no-follow] [--quiet]
 *       submits the spec (a file, or - for stdin), prints the job id, then follows the
 *       job: its log lines (GET /v1/jobs/{id}/events?follow=true, streamed) and a live
 *       one-line progress bar (epoch/epochs, loss, accuracy, from GET /v1/jobs/{id}
 *       whenever lines arrive and at least every second) until the job ends. Exit 0 when
 *       it SUCCEEDED, 1 otherwise.
 *   lathe jobs ls [--status S] [--max N] [--json] | show ID | cancel ID
 * On a terminal the bar is redrawn in place on stderr; elsewhere each log line and each
 * finished epoch is one plain line. Results go to stdout, progress and errors to stderr. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "core/alloc.h"
#include "core/buf.h"

#define CLI_TRAINER_DEFAULT_URL "http://127.0.0.1:5004"

static const char jobs_usage[] =
	"usage: lathe train SPEC.json [--no-follow] [--quiet]\n"
	"       lathe jobs <verb> [options]\n"
	"\n"
	"  train SPEC.json   submit a training job (SPEC.json: the job spec, - for stdin) and follow\n"
	"                    it with a progress bar until it ends; exit 0 when it SUCCEEDED\n"
	"  jobs ls [--status QUEUED|RUNNING|SUCCEEDED|FAILED|CANCELLED] [--max N] [--json]\n"
	"                    the jobs, newest first\n"
	"  jobs show ID      one job (JSON)\n"
	"  jobs cancel ID    cancel a job: a queued one at once, a running one at its next batch\n"
	"\n"
	"Environment: LATHE_TRAINER_URL or LATHE_URL (default " CLI_TRAINER_DEFAULT_URL "),\n"
	"LATHE_TOKEN (sent as a bearer token). Exit status: 0 ok, 1 failure, 2 usage.\n";

static bool id_valid(const char *s)
{
	size_t n = strlen(s);
	if (n != 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* GET /v1/jobs/{id} -> the job (owned) or NULL with err. */
static json_t *get_job(CURL *h, const struct cli_conn *c, const char *id, struct core_error *err)
{
	char path[128];
	snprintf(path, sizeof path, "/v1/jobs/%s", id);
	long status = 0;
	json_t *body = NULL;
	if (cli_http_json(h, c, "GET", path, NULL, &status, &body, err) != CORE_OK)
		return NULL;
	json_t *job = json_incref(json_object_get(body, "job"));
	json_decref(body);
	if (!job)
		core_fail(err, CORE_EINVAL, "the trainer answered no job");
	return job;
}

/* --- following a job ------------------------------------------------------------------ */

struct follow {
	const struct cli_conn *conn;
	CURL *poll; /* handle for GET job */
	const char *id;
	struct core_buf partial; /* a line not yet ended */
	bool tty, quiet;
	double last_poll;
	int last_epoch;
	int epochs;       /* from the spec: epochs, or a sweep's trials */
	const char *unit; /* "epoch", or "trial" for a sweep (its job counts trials done) */
	size_t drawn;     /* width of the bar on screen */
};

static double metric(json_t *job, const char *name)
{
	json_t *v = json_object_get(json_object_get(job, "metrics"), name);
	return json_is_number(v) ? json_number_value(v) : -1;
}

/* A sweep's trial count as the trainer makes it (sweep_points.c): random: `trials`
 * (default 10); grid: every combination of the space's lists, at most `trials`. */
static int sweep_trials(json_t *sweep)
{
	json_int_t trials = json_integer_value(json_object_get(sweep, "trials"));
	const char *method = json_string_value(json_object_get(sweep, "method"));
	if (method && strcmp(method, "random") == 0)
		return trials > 0 && trials <= 10000 ? (int)trials : 10;
	long grid = 1;
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(sweep, "space"), k, v)
	{
		if (json_array_size(v) && grid <= 10000)
			grid *= (long)json_array_size(v);
	}
	if (trials > 0 && trials < grid)
		grid = (long)trials;
	return grid <= 10000 ? (int)grid : 10000;
}

/* The bar's text for job. */
static void bar_text(struct follow *f, json_t *job, char *out, size_t size)
{
	const char *status = json_string_value(json_object_get(job, "status"));
	int epoch = (int)json_integer_value(json_object_get(job, "epoch"));
	int epochs = f->epochs > 0 ? f->epochs : 1;
	int fill = epoch * 20 / epochs;
	if (fill > 20)
		fill = 20;
	char bar[21];
	for (int i = 0; i < 20; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[20] = '\0';
	int n = snprintf(out, size, "[%s] %s %d/%d", bar, f->unit, epoch, f->epochs);
	json_t *loss = json_object_get(job, "loss");
	if (json_is_number(loss) && n >= 0 && (size_t)n < size)
		n += snprintf(out + n, size - (size_t)n, "  loss %.4f", json_number_value(loss));
	double acc = metric(job, "val_accuracy");
	const char *acc_name = "val_acc";
	if (acc < 0) {
		acc = metric(job, "accuracy");
		acc_name = "acc";
	}
	if (acc >= 0 && n >= 0 && (size_t)n < size)
		n += snprintf(out + n, size - (size_t)n, "  %s %.4f", acc_name, acc);
	if (n >= 0 && (size_t)n < size)
		snprintf(out + n, size - (size_t)n, "  %s", status ? status : "?");
}

static void clear_bar(struct follow *f)
{
	if (f->tty && f->drawn) {
		fprintf(stderr, "\r%*s\r", (int)f->drawn, "");
		f->drawn = 0;
	}
}

/* Reads the job and redraws the bar (tty) or prints a line per finished epoch. */
static void refresh(struct follow *f)
{
	struct core_error err = {{0}};
	f->last_poll = cli_now();
	json_t *job = get_job(f->poll, f->conn, f->id, &err);
	if (!job || f->quiet) {
		json_decref(job);
		return;
	}
	char text[256];
	bar_text(f, job, text, sizeof text);
	int epoch = (int)json_integer_value(json_object_get(job, "epoch"));
	if (f->tty) {
		clear_bar(f);
		fputs(text, stderr);
		f->drawn = strlen(text);
	} else if (epoch != f->last_epoch) {
		fprintf(stderr, "%s\n", text);
	}
	f->last_epoch = epoch;
	fflush(stderr);
	json_decref(job);
}

/* One ndjson line of the events stream: printed above the bar. */
static void event_line(struct follow *f, const char *text, size_t len)
{
	json_t *l = json_loadb(text, len, 0, NULL);
	const char *line = json_string_value(json_object_get(l, "line"));
	const char *level = json_string_value(json_object_get(l, "level"));
	if (line && !f->quiet) {
		clear_bar(f);
		fprintf(stderr, "%s%s%s\n", level && strcmp(level, "info") ? level : "",
			level && strcmp(level, "info") ? ": " : "", line);
	}
	json_decref(l);
}

static size_t on_events(char *data, size_t size, size_t nmemb, void *arg)
{
	struct follow *f = arg;
	size_t n = size * nmemb;
	if (core_buf_append(&f->partial, data, n) != CORE_OK)
		return 0;
	char *start = f->partial.data, *nl;
	while ((nl = memchr(start, '\n', f->partial.len - (size_t)(start - f->partial.data))) != NULL) {
		event_line(f, start, (size_t)(nl - start));
		start = nl + 1;
	}
	size_t rest = f->partial.len - (size_t)(start - f->partial.data);
	memmove(f->partial.data, start, rest);
	f->partial.len = rest;
	f->partial.data[rest] = '\0';
	if (cli_now() - f->last_poll >= 0.2)
		refresh(f);
	return n;
}

/* Called by curl about once a second while the stream is quiet: keeps the bar live. */
static int on_tick(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	struct follow *f = arg;
	if (cli_now() - f->last_poll >= 1.0)
		refresh(f);
	return 0;
}

/* Streams the job's events until it ends; then the final state decides the exit. */
static int follow_job(const struct cli_conn *c, const char *id, int epochs, const char *unit, bool quiet)
{
	struct follow f = {.conn = c,
			   .id = id,
			   .tty = isatty(2),
			   .quiet = quiet,
			   .last_epoch = -1,
			   .epochs = epochs,
			   .unit = unit};
	struct core_error err = {{0}};
	core_buf_init(&f.partial, (size_t)16 << 20);
	f.poll = cli_http_handle();
	CURL *h = cli_http_handle();
	int rc = CLI_EXIT_FAIL;
	if (!f.poll || !h) {
		cli_errorf("libcurl cannot make a handle");
		goto out;
	}
	char *url = core_xasprintf("%s/v1/jobs/%s/events?follow=true", c->base, id);
	struct curl_slist *hdrs = c->auth[0] ? curl_slist_append(NULL, c->auth) : NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_events);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &f);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_tick);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &f);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	/* an epoch may print nothing for minutes: no low-speed abort on this stream */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 0L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 0L);
	refresh(&f);
	CURLcode cr = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	free(url);
	if (cr != CURLE_OK)
		cli_errorf("the events stream broke: %s", errbuf[0] ? errbuf : curl_easy_strerror(cr));
	else if (status != 200)
		cli_errorf("the trainer answered %ld to the events stream", status);
	/* the final state, also after a broken stream (the job goes on without us) */
	json_t *job = get_job(f.poll, c, id, &err);
	clear_bar(&f);
	if (!job) {
		rc = cli_fail(&err);
		goto out;
	}
	char text[256];
	bar_text(&f, job, text, sizeof text);
	const char *st = json_string_value(json_object_get(job, "status"));
	const char *failure = json_string_value(json_object_get(job, "failure"));
	if (!quiet)
		fprintf(stderr, "%s\n", text);
	if (st && strcmp(st, "SUCCEEDED") == 0) {
		const char *run = json_string_value(json_object_get(job, "run_id"));
		const char *model = json_string_value(json_object_get(job, "model_name"));
		const char *version = json_string_value(json_object_get(job, "model_version"));
		printf("job %s SUCCEEDED", id);
		if (run)
			printf(", run %s", run);
		if (model && version)
			printf(", registered %s version %s", model, version);
		printf("\n");
		rc = CLI_EXIT_OK;
	} else if (st && (strcmp(st, "FAILED") == 0 || strcmp(st, "CANCELLED") == 0)) {
		printf("job %s %s%s%s\n", id, st, failure ? ": " : "", failure ? failure : "");
	} else {
		printf("job %s is still %s (the stream ended early); follow it with 'lathe jobs show %s'\n", id,
		       st ? st : "?", id);
	}
	json_decref(job);
out:
	if (h)
		curl_easy_cleanup(h);
	if (f.poll)
		curl_easy_cleanup(f.poll);
	core_buf_free(&f.partial);
	return rc;
}

/* --- verbs ---------------------------------------------------------------------------- */

static json_t *read_spec(const char *path, struct core_error *err)
{
	json_error_t je;
	json_t *spec = strcmp(path, "-") == 0 ? json_loadf(stdin, 0, &je) : json_load_file(path, 0, &je);
	if (!spec)
		core_fail(err, CORE_EINVAL, "%s: not a JSON spec: %s (line %d)", path, je.text, je.line);
	return spec;
}

int cli_train_main(int argc, char **argv)
{
	static const struct option opts[] = {{"no-follow", no_argument, NULL, 'n'},
					     {"quiet", no_argument, NULL, 'q'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	bool follow = true, quiet = false;
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "nqh", opts, NULL)) != -1) {
		if (o == 'n')
			follow = false;
		else if (o == 'q')
			quiet = true;
		else if (o == 'h') {
			fputs(jobs_usage, stdout);
			return CLI_EXIT_OK;
		} else
			return cli_usage_error("jobs", NULL, "%s", "unknown option");
	}
	if (optind != argc - 1)
		return cli_usage_error("jobs", NULL, "%s", "train takes one SPEC.json");
	struct core_error err = {{0}};
	struct cli_conn conn;
	if (cli_conn_init(&conn, "LATHE_TRAINER_URL", CLI_TRAINER_DEFAULT_URL, &err) != CORE_OK)
		return cli_fail(&err);
	json_t *spec = read_spec(argv[optind], &err);
	if (!spec)
		return cli_fail(&err);
	long status = 0;
	json_t *body = NULL;
	enum core_status rc = cli_http_json(NULL, &conn, "POST", "/v1/jobs", spec, &status, &body, &err);
	json_t *epochs = json_object_get(spec, "epochs");
	int n_epochs = json_is_integer(epochs) ? (int)json_integer_value(epochs) : 10;
	const char *unit = "epoch";
	json_t *sweep = json_object_get(spec, "sweep");
	if (json_is_object(sweep)) {
		unit = "trial";
		n_epochs = sweep_trials(sweep);
	}
	json_decref(spec);
	if (rc != CORE_OK)
		return cli_fail(&err);
	const char *id = json_string_value(json_object_get(json_object_get(body, "job"), "id"));
	if (!id || !id_valid(id)) {
		json_decref(body);
		cli_errorf("the trainer answered no job id");
		return CLI_EXIT_FAIL;
	}
	char job_id[33];
	snprintf(job_id, sizeof job_id, "%s", id);
	json_decref(body);
	if (!quiet || !follow)
		printf("job %s queued\n", job_id);
	fflush(stdout);
	return follow ? follow_job(&conn, job_id, n_epochs, unit, quiet) : CLI_EXIT_OK;
}

static int jobs_ls(int argc, char **argv, const struct cli_conn *conn)
{
	static const struct option opts[] = {{"status", required_argument, NULL, 's'},
					     {"max", required_argument, NULL, 'm'},
					     {"json", no_argument, NULL, 'j'},
					     {0}};
	const char *st = NULL;
	long max = 100;
	bool as_json = false;
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "s:m:j", opts, NULL)) != -1) {
		if (o == 's')
			st = optarg;
		else if (o == 'm') {
			char *end = NULL;
			max = strtol(optarg, &end, 10);
			if (*end || max < 1 || max > 1000)
				return cli_usage_error("jobs", NULL, "--max takes 1..1000, got '%s'", optarg);
		} else if (o == 'j')
			as_json = true;
		else
			return cli_usage_error("jobs", NULL, "%s", "unknown option");
	}
	if (optind != argc)
		return cli_usage_error("jobs", NULL, "%s", "ls takes no arguments");
	char path[256];
	if (st)
		snprintf(path, sizeof path, "/v1/jobs?max_results=%ld&status=%.20s", max, st);
	else
		snprintf(path, sizeof path, "/v1/jobs?max_results=%ld", max);
	struct core_error err = {{0}};
	long status = 0;
	json_t *body = NULL;
	if (cli_http_json(NULL, conn, "GET", path, NULL, &status, &body, &err) != CORE_OK)
		return cli_fail(&err);
	json_t *jobs = json_object_get(body, "jobs"), *j;
	size_t i;
	if (as_json) {
		char *text = json_dumps(jobs, JSON_INDENT(2));
		printf("%s\n", text ? text : "[]");
		free(text);
	} else {
		printf("%-32s  %-9s  %-6s  %-9s  %-20s  %s\n", "ID", "STATUS", "EPOCH", "LOSS", "CREATED", "MODEL");
		json_array_foreach(jobs, i, j)
		{
			char when[40], loss[16] = "-", epoch[16];
			json_t *l = json_object_get(j, "loss");
			if (json_is_number(l))
				snprintf(loss, sizeof loss, "%.4f", json_number_value(l));
			snprintf(epoch, sizeof epoch, "%lld",
				 (long long)json_integer_value(json_object_get(j, "epoch")));
			json_t *m = json_object_get(json_object_get(j, "spec"), "model");
			const char *model = json_string_value(json_object_get(m, "type"));
			printf("%-32s  %-9s  %-6s  %-9s  %-20s  %s\n", json_string_value(json_object_get(j, "id")),
			       json_string_value(json_object_get(j, "status")), epoch, loss,
			       cli_fmt_ms(json_object_get(j, "created_at"), when, sizeof when), model ? model : "-");
		}
		if (json_object_get(body, "next_page_token"))
			fprintf(stderr, "(more: raise --max or filter by --status)\n");
	}
	json_decref(body);
	return CLI_EXIT_OK;
}

static int jobs_show_or_cancel(int argc, char **argv, const struct cli_conn *conn, bool cancel)
{
	if (argc != 2)
		return cli_usage_error("jobs", NULL, "%s takes one job ID", cancel ? "cancel" : "show");
	if (!id_valid(argv[1]))
		return cli_usage_error("jobs", NULL, "'%s' is not a job id (32 hex digits)", argv[1]);
	struct core_error err = {{0}};
	long status = 0;
	json_t *body = NULL;
	char path[128];
	snprintf(path, sizeof path, cancel ? "/v1/jobs/%s/cancel" : "/v1/jobs/%s", argv[1]);
	if (cli_http_json(NULL, conn, cancel ? "POST" : "GET", path, NULL, &status, &body, &err) != CORE_OK)
		return cli_fail(&err);
	json_t *job = json_object_get(body, "job");
	if (cancel) {
		const char *st = json_string_value(json_object_get(job, "status"));
		if (st && strcmp(st, "CANCELLED") == 0)
			printf("job %s CANCELLED\n", argv[1]);
		else
			printf("job %s: cancel requested (it stops at its next batch)\n", argv[1]);
	} else {
		char *text = json_dumps(job, JSON_INDENT(2));
		printf("%s\n", text ? text : "{}");
		free(text);
	}
	json_decref(body);
	return CLI_EXIT_OK;
}

int cli_jobs_main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(jobs_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(jobs_usage, stdout);
		return CLI_EXIT_OK;
	}
	struct core_error err = {{0}};
	struct cli_conn conn;
	if (cli_conn_init(&conn, "LATHE_TRAINER_URL", CLI_TRAINER_DEFAULT_URL, &err) != CORE_OK)
		return cli_fail(&err);
	if (strcmp(argv[1], "ls") == 0)
		return jobs_ls(argc - 1, argv + 1, &conn);
	if (strcmp(argv[1], "show") == 0)
		return jobs_show_or_cancel(argc - 1, argv + 1, &conn, false);
	if (strcmp(argv[1], "cancel") == 0)
		return jobs_show_or_cancel(argc - 1, argv + 1, &conn, true);
	cli_errorf("'%s' is not a jobs verb (ls, show, cancel)", argv[1]);
	fputs("try 'lathe jobs --help'\n", stderr);
	return CLI_EXIT_USAGE;
}
