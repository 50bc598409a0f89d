/* devkafka: a local Kafka broker for one machine, used by `make run` and by every
 * test run. It wraps librdkafka's mock cluster (rdkafka_mock.h, 2.0.2), which speaks
 * the real Kafka protocol over TCP, so services, kcat and Python clients connect
 * to it exactly as they would to a real broker.
 *
 *   devkafka [-b BROKERS] [-t topic:partitions]... [-f FILE] [-c FIFO] [-T SECS]
 *   devkafka --version
 *
 * Start-up: a producer handle with no bootstrap servers (the mock needs one for
 * its bookkeeping) -> rd_kafka_mock_cluster_new() -> pre-create topics with
 * replication min(brokers, 3) -> open the control FIFO -> publish the bootstrap
 * list ("BOOTSTRAP=..." on stdout and, atomically, FILE). FILE appearing therefore
 * means "ready, FIFO open". Brokers listen on 127.0.0.1 on ephemeral ports, so a
 * restart gets new ports; always read the list back. Then a 200 ms ppoll() loop
 * serves the FIFO (one command per line, see run_command()) until SIGTERM/SIGINT
 * or the -T bound, and tears the cluster down (exit 0).
 *
 * The mock is not a faithful broker (see docs/devkafka.md):
 * - retention is capped at about 5 MiB (and 100 000 batches) per partition; older
 *   batches are dropped silently;
 * - any topic a client names is auto-created with 4 partitions, so typos pass;
 * - group timing: the first assignment takes 3 s, every later rebalance
 *   session.timeout.ms - 1 s; clients should use session.timeout.ms=6000,
 *   heartbeat.interval.ms=1000, and fetch.wait.max.ms 10-100 (an empty fetch is
 *   held for the full wait);
 * - no Admin API, transactions only pretend, all state is lost on exit;
 * - mock commands are synchronous (the CMD echo means "in effect"), but one that
 *   arrives right behind another can take ~1 s: a lost wake-up in the 2.0.2 mock
 *   thread (seen with strace), outside our control.
 *
 * The only mutable global is the signal flag; everything else hangs off main(). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "core/version.h"

#define DK_MAX_TOPICS     64
#define DK_MAX_TOPIC_LEN  249 /* Kafka's own limit */
#define DK_MAX_PARTITIONS 1024
#define DK_MAX_BROKERS    16
#define DK_MAX_ERR_CNT    100000 /* copies one `err` command may push */
#define DK_MAX_SECONDS    (366L * 24 * 3600)
#define DK_LINE_MAX       512 /* control line, newline excluded */
#define DK_MAX_WORDS      4
#define DK_TICK_MS        200

enum dk_status {
	DK_OK = 0,
	DK_ERR_USAGE,   /* bad command line: exit 2 */
	DK_ERR_RUNTIME, /* could not start or publish: exit 1 */
};

struct dk_topic {
	char name[DK_MAX_TOPIC_LEN + 1];
	int partitions;
};

struct dk_opts {
	int brokers;
	struct dk_topic topics[DK_MAX_TOPICS];
	size_t n_topics;
	const char *bootstrap_file; /* borrowed from argv, may be NULL */
	const char *fifo_path;      /* borrowed from argv, may be NULL */
	long max_seconds;           /* 0 = no bound */
	bool help;
};

/* The control FIFO. rfd is the end we read; wfd is a write end we hold ourselves
 * so that the FIFO never reports EOF (and poll() never spins) between writers. */
struct dk_fifo {
	const char *path;
	bool created; /* we made it with mkfifo, so we unlink it on exit */
	dev_t dev;    /* identity of the FIFO we opened, so that exit never */
	ino_t ino;    /* unlinks a newer FIFO that replaced ours at path */
	int rfd;
	int wfd;
	char buf[DK_LINE_MAX + 1];
	size_t len;
	bool discarding; /* current line overflowed buf; drop up to the newline */
};

/* Signal number that asked us to stop, 0 while running. Set only by on_signal. */
static volatile sig_atomic_t stop_signal;

static const struct dk_topic default_topics[] = {
	{"datasets.events", 4}, {"training.requests", 4},     {"training.events", 4},
	{"models.events", 4},   {"inference.predictions", 4}, {"drift.alerts", 4},
};

static void on_signal(int signo)
{
	stop_signal = signo;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: devkafka [-b BROKERS] [-t topic:partitions]... [-f BOOTSTRAP_FILE]\n"
		"                [-c CONTROL_FIFO] [-T MAX_SECONDS] [-h]\n"
		"       devkafka --version\n"
		"  -b N      number of mock brokers, 1..%d (default 1)\n"
		"  -t T:P    pre-create topic T with P partitions (repeatable); without -t:\n"
		"            datasets.events training.requests training.events models.events\n"
		"            inference.predictions drift.alerts, 4 partitions each\n"
		"  -f FILE   also write the bootstrap list to FILE (via FILE.tmp + rename)\n"
		"  -c FIFO   control FIFO (created if missing): down ID | up ID | rtt ID MS |\n"
		"            topic NAME PARTS | err APIKEY CNT ERRCODE | clear APIKEY\n"
		"  -T SECS   exit after SECS seconds (0 = never, the default)\n",
		DK_MAX_BROKERS);
}

/* Prints one line on stdout and flushes it, so harnesses reading a pipe see it. */
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* Parses a whole decimal integer in [min, max] into *out; *out is unchanged on
 * failure. Returns true on success. */
static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end = NULL;
	long v;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* Kafka topic names: 1..249 of [a-zA-Z0-9._-], and not "." or "..". */
static bool topic_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > DK_MAX_TOPIC_LEN)
		return false;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
			  c == '_' || c == '-';
		if (!ok)
			return false;
	}
	return true;
}

/* Parses "name:partitions" (split at the last ':') into *t. */
static enum dk_status parse_topic_arg(const char *arg, struct dk_topic *t)
{
	const char *colon = strrchr(arg, ':');
	size_t len;
	long parts;

	if (colon == NULL) {
		fprintf(stderr, "devkafka: -t %s: expected topic:partitions\n", arg);
		return DK_ERR_USAGE;
	}
	len = (size_t)(colon - arg);
	if (!topic_name_ok(arg, len)) {
		fprintf(stderr, "devkafka: -t %s: bad topic name\n", arg);
		return DK_ERR_USAGE;
	}
	if (!parse_long(colon + 1, 1, DK_MAX_PARTITIONS, &parts)) {
		fprintf(stderr, "devkafka: -t %s: partitions must be 1..%d\n", arg, DK_MAX_PARTITIONS);
		return DK_ERR_USAGE;
	}
	memcpy(t->name, arg, len);
	t->name[len] = '\0';
	t->partitions = (int)parts;
	return DK_OK;
}

/* Fills *o from the command line. Returns DK_ERR_USAGE (message already on
 * stderr) on any bad argument. */
static enum dk_status parse_args(int argc, char **argv, struct dk_opts *o)
{
	enum dk_status rc = DK_OK;
	long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->brokers = 1;
	opterr = 0;
	for (;;) {
		c = getopt(argc, argv, ":b:t:f:c:T:h");
		if (c == -1)
			break;
		switch (c) {
		case 'b':
			if (!parse_long(optarg, 1, DK_MAX_BROKERS, &v)) {
				fprintf(stderr, "devkafka: -b %s: must be 1..%d\n", optarg, DK_MAX_BROKERS);
				rc = DK_ERR_USAGE;
				goto out;
			}
			o->brokers = (int)v;
			break;
		case 't':
			if (o->n_topics == DK_MAX_TOPICS) {
				fprintf(stderr, "devkafka: more than %d -t topics\n", DK_MAX_TOPICS);
				rc = DK_ERR_USAGE;
				goto out;
			}
			rc = parse_topic_arg(optarg, &o->topics[o->n_topics]);
			if (rc != DK_OK)
				goto out;
			o->n_topics++;
			break;
		case 'f':
			o->bootstrap_file = optarg;
			break;
		case 'c':
			o->fifo_path = optarg;
			break;
		case 'T':
			if (!parse_long(optarg, 0, DK_MAX_SECONDS, &v)) {
				fprintf(stderr, "devkafka: -T %s: must be 0..%ld\n", optarg, DK_MAX_SECONDS);
				rc = DK_ERR_USAGE;
				goto out;
			}
			o->max_seconds = v;
			break;
		case 'h':
			o->help = true;
			break;
		case ':':
			fprintf(stderr, "devkafka: -%c needs an argument\n", optopt);
			rc = DK_ERR_USAGE;
			goto out;
		default:
			fprintf(stderr, "devkafka: unknown option -%c\n", optopt);
			rc = DK_ERR_USAGE;
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "devkafka: unexpected argument '%s'\n", argv[optind]);
		rc = DK_ERR_USAGE;
		goto out;
	}
	if (o->bootstrap_file != NULL && o->bootstrap_file[0] == '\0') {
		fprintf(stderr, "devkafka: -f needs a non-empty path\n");
		rc = DK_ERR_USAGE;
		goto out;
	}
	if (o->fifo_path != NULL && o->fifo_path[0] == '\0') {
		fprintf(stderr, "devkafka: -c needs a non-empty path\n");
		rc = DK_ERR_USAGE;
		goto out;
	}
	if (o->n_topics == 0) {
		o->n_topics = sizeof(default_topics) / sizeof(default_topics[0]);
		memcpy(o->topics, default_topics, sizeof(default_topics));
	}
out:
	if (rc != DK_OK)
		usage(stderr);
	return rc;
}

/* Installs on_signal for SIGINT and SIGTERM, ignores SIGPIPE (a closed stdout must
 * not kill the broker), and blocks SIGINT/SIGTERM in this thread. librdkafka's
 * threads, created later, inherit the block, so the signals are taken only inside
 * main_loop()'s ppoll(), which unblocks them atomically (no lost wake-up).
 * [out] *old_mask receives the mask to hand to ppoll(). */
static enum dk_status setup_signals(sigset_t *old_mask)
{
	struct sigaction sa;
	sigset_t block;
	int err;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
		goto fail;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		goto fail;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	err = pthread_sigmask(SIG_BLOCK, &block, old_mask);
	if (err != 0) {
		errno = err;
		goto fail;
	}
	return DK_OK;
fail:
	fprintf(stderr, "devkafka: signal setup: %s\n", strerror(errno));
	return DK_ERR_RUNTIME;
}

/* Creates the bookkeeping handle and the mock cluster.
 * [out] *rkp and *mcp are set only on success; the caller destroys both. */
static enum dk_status cluster_start(int brokers, rd_kafka_t **rkp, rd_kafka_mock_cluster_t **mcp)
{
	enum dk_status rc = DK_ERR_RUNTIME;
	rd_kafka_conf_t *conf = NULL;
	rd_kafka_t *rk = NULL;
	rd_kafka_mock_cluster_t *mc = NULL;
	char errstr[512];

	conf = rd_kafka_conf_new();
	/* 4 = warning: silences the "no bootstrap.servers" notice (level 5). */
	if (rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "client.id", "devkafka", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "devkafka: config: %s\n", errstr);
		goto out;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL) {
		fprintf(stderr, "devkafka: rd_kafka_new: %s\n", errstr);
		goto out;
	}
	conf = NULL; /* now owned by rk */
	mc = rd_kafka_mock_cluster_new(rk, brokers);
	if (mc == NULL) {
		fprintf(stderr, "devkafka: rd_kafka_mock_cluster_new failed\n");
		goto out;
	}
	*rkp = rk;
	*mcp = mc;
	rk = NULL;
	rc = DK_OK;
out:
	if (rk != NULL)
		rd_kafka_destroy(rk);
	if (conf != NULL)
		rd_kafka_conf_destroy(conf);
	return rc;
}

static int replication_for(int brokers)
{
	return brokers < 3 ? brokers : 3;
}

static enum dk_status create_topics(rd_kafka_mock_cluster_t *mc, const struct dk_opts *o)
{
	for (size_t i = 0; i < o->n_topics; i++) {
		const struct dk_topic *t = &o->topics[i];
		rd_kafka_resp_err_t err =
			rd_kafka_mock_topic_create(mc, t->name, t->partitions, replication_for(o->brokers));
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			fprintf(stderr, "devkafka: create topic %s: %s\n", t->name, rd_kafka_err2str(err));
			return DK_ERR_RUNTIME;
		}
	}
	return DK_OK;
}

/* Creates the FIFO at f->path if missing (remembering that we did), then opens a
 * non-blocking read end and our own write end. On failure everything this call
 * made is undone and f->rfd/f->wfd stay -1. */
static enum dk_status fifo_open(struct dk_fifo *f)
{
	enum dk_status rc = DK_ERR_RUNTIME;
	struct stat st;
	const char *step = "stat";

	if (stat(f->path, &st) == 0) {
		if (!S_ISFIFO(st.st_mode)) {
			fprintf(stderr, "devkafka: %s exists and is not a FIFO\n", f->path);
			goto out;
		}
	} else if (errno == ENOENT) {
		step = "mkfifo";
		if (mkfifo(f->path, 0600) != 0)
			goto fail;
		f->created = true;
	} else {
		goto fail;
	}
	step = "open for reading";
	f->rfd = open(f->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (f->rfd < 0)
		goto fail;
	step = "fstat";
	if (fstat(f->rfd, &st) != 0)
		goto fail;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	step = "open for writing";
	f->wfd = open(f->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (f->wfd < 0)
		goto fail;
	rc = DK_OK;
	goto out;
fail:
	fprintf(stderr, "devkafka: %s %s: %s\n", step, f->path, strerror(errno));
out:
	if (rc != DK_OK) {
		if (f->rfd >= 0)
			close(f->rfd);
		f->rfd = -1;
		if (f->created)
			unlink(f->path);
		f->created = false;
	}
	return rc;
}

/* Closes both ends and, if we created it, removes the FIFO, unless the path
 * now names another file (another devkafka started on the same path). */
static void fifo_close(struct dk_fifo *f)
{
	struct stat st;

	if (f->created && stat(f->path, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino && unlink(f->path) != 0)
		fprintf(stderr, "devkafka: unlink %s: %s\n", f->path, strerror(errno));
	f->created = false;
	if (f->wfd >= 0)
		close(f->wfd);
	if (f->rfd >= 0)
		close(f->rfd);
	f->wfd = -1;
	f->rfd = -1;
}

/* Writes all len bytes of buf to fd. Returns false (errno set) on failure. */
static bool write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		buf += w;
		len -= (size_t)w;
	}
	return true;
}

/* Writes "list\n" to path atomically: path.tmp, then rename(). */
static enum dk_status write_bootstrap_file(const char *path, const char *list)
{
	enum dk_status rc = DK_ERR_RUNTIME;
	char *tmp = NULL;
	const char *step = "allocate";
	size_t plen = strlen(path);
	int fd = -1;

	tmp = malloc(plen + sizeof(".tmp"));
	if (tmp == NULL)
		goto out;
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp", sizeof(".tmp"));
	step = "open";
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto out;
	step = "write";
	if (!write_all(fd, list, strlen(list)) || !write_all(fd, "\n", 1))
		goto out;
	step = "close";
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	step = "rename";
	if (rename(tmp, path) != 0)
		goto out;
	rc = DK_OK;
out:
	if (rc != DK_OK) {
		fprintf(stderr, "devkafka: bootstrap file %s: %s: %s\n", path, step, strerror(errno));
		if (fd >= 0)
			close(fd);
		if (tmp != NULL)
			unlink(tmp);
	}
	free(tmp);
	return rc;
}

/* Splits line in place at blanks into at most max words. Returns the word count,
 * or max + 1 if there are more words than that. */
static int split_words(char *line, char **words, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return n;
		if (n == max)
			return max + 1;
		words[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
}

static bool parse_broker_id(const char *s, int32_t *out)
{
	long v;

	/* -1 means "all brokers" to set_down/set_up/set_rtt */
	if (!parse_long(s, -1, INT32_MAX, &v))
		return false;
	*out = (int32_t)v;
	return true;
}

static bool parse_api_key(const char *s, int16_t *out)
{
	long v;

	if (!parse_long(s, 0, INT16_MAX, &v))
		return false;
	*out = (int16_t)v;
	return true;
}

/* `err APIKEY CNT ERRCODE`: pushes CNT copies of ERRCODE onto the cluster-wide
 * error stack of APIKEY. */
static rd_kafka_resp_err_t cmd_push_errors(rd_kafka_mock_cluster_t *mc, char **w)
{
	rd_kafka_resp_err_t *errs = NULL;
	int16_t api_key;
	long cnt, code;

	if (!parse_api_key(w[1], &api_key) || !parse_long(w[2], 1, DK_MAX_ERR_CNT, &cnt) ||
	    !parse_long(w[3], RD_KAFKA_RESP_ERR__BEGIN, RD_KAFKA_RESP_ERR_END_ALL - 1, &code))
		return RD_KAFKA_RESP_ERR__INVALID_ARG;
	errs = malloc((size_t)cnt * sizeof(*errs));
	if (errs == NULL)
		return RD_KAFKA_RESP_ERR__FAIL;
	for (long i = 0; i < cnt; i++)
		errs[i] = (rd_kafka_resp_err_t)code;
	rd_kafka_mock_push_request_errors_array(mc, api_key, (size_t)cnt, errs);
	free(errs);
	return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Runs one control command (line is NUL-terminated, no newline) and echoes
 * "CMD <line> -> <result>" on stdout. Malformed commands answer with
 * RD_KAFKA_RESP_ERR__INVALID_ARG. */
static void run_command(rd_kafka_mock_cluster_t *mc, int brokers, const char *line)
{
	char work[DK_LINE_MAX + 1];
	char *w[DK_MAX_WORDS] = {NULL};
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__INVALID_ARG;
	int32_t id;
	int16_t api_key;
	long v;
	int n;

	snprintf(work, sizeof(work), "%s", line);
	n = split_words(work, w, DK_MAX_WORDS);
	if (n == 0)
		return; /* blank line */
	if (n > DK_MAX_WORDS)
		goto out;
	if (n == 2 && strcmp(w[0], "down") == 0) {
		if (parse_broker_id(w[1], &id))
			err = rd_kafka_mock_broker_set_down(mc, id);
	} else if (n == 2 && strcmp(w[0], "up") == 0) {
		if (parse_broker_id(w[1], &id))
			err = rd_kafka_mock_broker_set_up(mc, id);
	} else if (n == 3 && strcmp(w[0], "rtt") == 0) {
		if (parse_broker_id(w[1], &id) && parse_long(w[2], 0, INT_MAX, &v))
			err = rd_kafka_mock_broker_set_rtt(mc, id, (int)v);
	} else if (n == 3 && strcmp(w[0], "topic") == 0) {
		if (topic_name_ok(w[1], strlen(w[1])) && parse_long(w[2], 1, DK_MAX_PARTITIONS, &v))
			err = rd_kafka_mock_topic_create(mc, w[1], (int)v, replication_for(brokers));
	} else if (n == 4 && strcmp(w[0], "err") == 0) {
		err = cmd_push_errors(mc, w);
	} else if (n == 2 && strcmp(w[0], "clear") == 0) {
		if (parse_api_key(w[1], &api_key)) {
			rd_kafka_mock_clear_request_errors(mc, api_key);
			err = RD_KAFKA_RESP_ERR_NO_ERROR;
		}
	}
out:
	say("CMD %s -> %s", line, rd_kafka_err2str(err));
}

/* Handles the newline that ends the line collected in f->buf. */
static void fifo_end_line(struct dk_fifo *f, rd_kafka_mock_cluster_t *mc, int brokers)
{
	if (f->discarding) {
		say("CMD <line longer than %d bytes> -> %s", DK_LINE_MAX,
		    rd_kafka_err2str(RD_KAFKA_RESP_ERR__INVALID_ARG));
	} else {
		if (f->len > 0 && f->buf[f->len - 1] == '\r')
			f->len--;
		f->buf[f->len] = '\0';
		run_command(mc, brokers, f->buf);
	}
	f->len = 0;
	f->discarding = false;
}

/* Reads what is available on the FIFO and runs each complete line. A line
 * longer than DK_LINE_MAX is dropped whole and answered as invalid; a partial
 * line waits in f->buf for the rest (writers must end commands with '\n'). */
static void fifo_service(struct dk_fifo *f, rd_kafka_mock_cluster_t *mc, int brokers)
{
	char chunk[4096];

	for (;;) {
		ssize_t n = read(f->rfd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* EAGAIN: drained (no EOF: we hold wfd) */
		for (ssize_t i = 0; i < n; i++) {
			if (chunk[i] == '\n')
				fifo_end_line(f, mc, brokers);
			else if (f->len == DK_LINE_MAX)
				f->discarding = true;
			else if (!f->discarding)
				f->buf[f->len++] = chunk[i];
		}
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Serves the FIFO (if any) every DK_TICK_MS until a signal arrives or the -T
 * bound passes. Signals are unblocked only inside ppoll() (see setup_signals). */
static void main_loop(rd_kafka_t *rk, rd_kafka_mock_cluster_t *mc, const struct dk_opts *o, struct dk_fifo *f,
		      const sigset_t *wait_mask)
{
	int64_t deadline = o->max_seconds > 0 ? now_ms() + o->max_seconds * 1000 : 0;

	while (stop_signal == 0) {
		struct pollfd pfd = {.fd = f->rfd, .events = POLLIN};
		int64_t wait = DK_TICK_MS;
		struct timespec ts;
		int r;

		if (deadline != 0) {
			int64_t left = deadline - now_ms();
			if (left <= 0) {
				fprintf(stderr, "devkafka: -T %ld s elapsed, stopping\n", o->max_seconds);
				return;
			}
			if (left < wait)
				wait = left;
		}
		ts.tv_sec = (time_t)(wait / 1000);
		ts.tv_nsec = (long)(wait % 1000) * 1000000L;
		r = ppoll(f->rfd >= 0 ? &pfd : NULL, f->rfd >= 0 ? 1 : 0, &ts, wait_mask);
		if (r > 0 && (pfd.revents & POLLIN))
			fifo_service(f, mc, o->brokers);
		rd_kafka_poll(rk, 0); /* serve any queued log or error events */
	}
	fprintf(stderr, "devkafka: %s, stopping\n", strsignal(stop_signal));
}

int main(int argc, char **argv)
{
	enum dk_status rc;
	struct dk_opts opts;
	struct dk_fifo fifo = {.rfd = -1, .wfd = -1};
	rd_kafka_t *rk = NULL;
	rd_kafka_mock_cluster_t *mc = NULL;
	const char *list;
	sigset_t wait_mask;

	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("devkafka %s (commit %s)\n", core_version, core_commit);
		return 0;
	}
	rc = parse_args(argc, argv, &opts);
	if (rc != DK_OK)
		goto out;
	if (opts.help) {
		usage(stdout);
		goto out;
	}
	rc = setup_signals(&wait_mask);
	if (rc != DK_OK)
		goto out;
	rc = cluster_start(opts.brokers, &rk, &mc);
	if (rc != DK_OK)
		goto out;
	rc = create_topics(mc, &opts);
	if (rc != DK_OK)
		goto out;
	if (opts.fifo_path != NULL) {
		fifo.path = opts.fifo_path;
		rc = fifo_open(&fifo);
		if (rc != DK_OK)
			goto out;
	}
	list = rd_kafka_mock_cluster_bootstraps(mc);
	if (opts.bootstrap_file != NULL) {
		rc = write_bootstrap_file(opts.bootstrap_file, list);
		if (rc != DK_OK)
			goto out;
	}
	say("BOOTSTRAP=%s", list);
	main_loop(rk, mc, &opts, &fifo, &wait_mask);
out:
	fifo_close(&fifo);
	if (mc != NULL)
		rd_kafka_mock_cluster_destroy(mc);
	if (rk != NULL)
		rd_kafka_destroy(rk);
	switch (rc) {
	case DK_OK:
		return 0;
	case DK_ERR_USAGE:
		return 2;
	default:
		return 1;
	}
}
