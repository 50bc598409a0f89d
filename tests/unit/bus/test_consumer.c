/* Tests of the consumer (libs/bus/src/consumer.c) against the real devkafka broker:
 *   commit  a member that crashes before committing (a child process that _exit()s in
 *           its handler) leaves the message to the next member of its group, same
 *           partition and offset; a message whose handler returned BUS_HANDLED is not
 *           delivered again to a later member;
 *   retry   BUS_RETRY delivers the same message again, after a pause, before the next;
 *   thread  bus_consumer_start runs the handler on its own thread until freed;
 *   batch   a batch handler (bus_consumer_new_batch) gets every message once, in offset
 *           order per partition, in batches of at most max_batch; after BUS_HANDLED a
 *           later member of the group gets nothing of it again, after BUS_RETRY every
 *           message of the batch comes again; a lone message is handed over within
 *           max_wait_ms; a member joining while a batch is gathered never makes a
 *           batch hold a message twice or one of a partition taken away;
 *   args    bad arguments are refused; freeing never hangs on an unreachable broker.
 * Topics used for ordering checks are pre-created with one partition through devkafka's
 * control FIFO. Group timing on devkafka (session.timeout.ms 4000, bt_config): ~3 s to
 * the first assignment, ~3 s for each rebalance, and a new member joining a group whose
 * old member died waits out the dead member's session and a rebalance (~7 s). */
#include <check.h>
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bus_test.h"

static void teardown(void)
{
	ck_assert_int_eq(rd_kafka_wait_destroyed(5000), 0);
}

/* Creates a topic with one partition, so offsets give a total order. */
static void one_partition_topic(char *out, size_t n, const char *prefix)
{
	bt_unique(out, n, prefix);
	char cmd[160];
	snprintf(cmd, sizeof cmd, "topic %s 1", out);
	th_kafka_ctl(cmd);
}

static void produce_all(const char *topic, const char *key, const char *const *payloads)
{
	struct bus_config cfg = bt_config();
	struct bus_producer *p = NULL;
	struct core_error err = {{0}};
	ck_assert_msg(bus_producer_new(&cfg, &p, &err) == CORE_OK, "%s", err.message);
	for (size_t i = 0; payloads[i]; i++)
		ck_assert_msg(bus_produce(p, topic, key, payloads[i], strlen(payloads[i]), NULL, NULL, &err) == CORE_OK,
			      "%s", err.message);
	ck_assert_int_eq(bus_producer_flush(p, 15000), 0);
	bus_producer_free(p);
}

/* Polls a member of group until it handled at least one message (BUS_HANDLED). */
static void consume_first(const char *group, const char *topic, struct bt_collector *col)
{
	struct bus_config cfg = bt_config();
	const char *topics[] = {topic, NULL};
	struct bus_consumer *c = NULL;
	struct core_error err = {{0}};
	ck_assert_msg(bus_consumer_new(&cfg, group, topics, bt_collect, col, &c, &err) == CORE_OK, "%s", err.message);
	int64_t end = core_now_ms() + 40000;
	while (col->n == 0 && core_now_ms() < end)
		bus_consumer_poll(c, 100);
	bus_consumer_free(c);
	ck_assert_msg(col->n > 0, "no message within 40 s");
}

/* --- a member that crashes in its handler (runs in a child process) ------------------ */

static enum bus_handled crash_in_handler(const struct bus_message *m, void *cls)
{
	int fd = *(const int *)cls;
	char line[64];
	int n = snprintf(line, sizeof line, "%d %lld\n", (int)m->partition, (long long)m->offset);
	ssize_t w = write(fd, line, (size_t)n);
	_exit(w == n ? 42 : 3); /* a crash: no commit, no LeaveGroup */
}

static void crashing_member(const char *group, const char *topic, int fd)
{
	struct bus_config cfg = bt_config();
	const char *topics[] = {topic, NULL};
	struct bus_consumer *c = NULL;
	if (bus_consumer_new(&cfg, group, topics, crash_in_handler, &fd, &c, NULL) != CORE_OK)
		_exit(2);
	int64_t end = core_now_ms() + 40000;
	while (core_now_ms() < end)
		bus_consumer_poll(c, 100);
	_exit(1); /* no message came */
}

/* Reads "partition offset" from fd, waiting up to timeout_ms. */
static void read_position(int fd, int timeout_ms, int *partition, long long *offset)
{
	char buf[64] = {0};
	size_t got = 0;
	int64_t end = core_now_ms() + timeout_ms;
	while (got < sizeof buf - 1 && !memchr(buf, '\n', got) && core_now_ms() < end) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	ck_assert_msg(sscanf(buf, "%d %lld", partition, offset) == 2, "the crashing member reported nothing ('%s')",
		      buf);
}

START_TEST(test_crash_before_commit_redelivers)
{
	char topic[96], group[96];
	one_partition_topic(topic, sizeof topic, "bus.test.crash");
	bt_unique(group, sizeof group, "bus-test-crash");

	/* Fork before this process makes any librdkafka handle: librdkafka is not fork-safe. */
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		close(fds[0]);
		crashing_member(group, topic, fds[1]);
	}
	close(fds[1]);
	const char *first[] = {"first", NULL};
	produce_all(topic, "k", first);

	int partition = -1;
	long long offset = -1;
	read_position(fds[0], 40000, &partition, &offset);
	close(fds[0]);
	int status = 0;
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 42, "the crashing member ended with status %d",
		      status);

	/* The next member of the group gets the very same message, and commits it. */
	struct bt_collector col = {0};
	consume_first(group, topic, &col);
	ck_assert_int_eq(col.recs[0].partition, partition);
	ck_assert_int_eq(col.recs[0].offset, offset);
	ck_assert_str_eq(col.recs[0].payload, "first");
	bt_collector_free(&col);

	/* A later member starts after the committed message: the first thing it sees is the
	 * message produced after it (the same partition, the next offset). */
	const char *second[] = {"second", NULL};
	produce_all(topic, "k", second);
	consume_first(group, topic, &col);
	ck_assert_str_eq(col.recs[0].payload, "second");
	ck_assert_int_eq(col.recs[0].offset, offset + 1);
	bt_collector_free(&col);
}
END_TEST

/* --- BUS_RETRY ------------------------------------------------------------------------ */

struct retry_log {
	struct bt_collector col;
	int64_t at_ms[8];
	int retried;
};

static enum bus_handled retry_first_once(const struct bus_message *m, void *cls)
{
	struct retry_log *l = cls;
	if (l->col.n < 8)
		l->at_ms[l->col.n] = core_now_ms();
	bt_collect(m, &l->col);
	if (m->offset == 0 && l->retried == 0) {
		l->retried++;
		return BUS_RETRY;
	}
	return BUS_HANDLED;
}

START_TEST(test_retry_redelivers_before_the_next)
{
	char topic[96], group[96];
	one_partition_topic(topic, sizeof topic, "bus.test.retry");
	bt_unique(group, sizeof group, "bus-test-retry");
	const char *msgs[] = {"a", "b", NULL};
	produce_all(topic, "k", msgs);

	struct retry_log l = {0};
	struct bus_config cfg = bt_config();
	const char *topics[] = {topic, NULL};
	struct bus_consumer *c = NULL;
	ck_assert_int_eq(bus_consumer_new(&cfg, group, topics, retry_first_once, &l, &c, NULL), CORE_OK);
	int64_t end = core_now_ms() + 30000;
	while (l.col.n < 3 && core_now_ms() < end)
		bus_consumer_poll(c, 100);
	end = core_now_ms() + 300; /* nothing more may come */
	while (core_now_ms() < end)
		bus_consumer_poll(c, 50);
	bus_consumer_free(c);

	ck_assert_uint_eq(l.col.n, 3);
	ck_assert_str_eq(l.col.recs[0].payload, "a");
	ck_assert_str_eq(l.col.recs[1].payload, "a");
	ck_assert_int_eq(l.col.recs[1].offset, 0);
	ck_assert_str_eq(l.col.recs[2].payload, "b");
	ck_assert_int_ge(l.at_ms[1] - l.at_ms[0], 90); /* the pause (100 ms) */
	bt_collector_free(&l.col);
}
END_TEST

/* --- thread --------------------------------------------------------------------------- */

static enum bus_handled count_message(const struct bus_message *m, void *cls)
{
	(void)m;
	atomic_fetch_add((atomic_int *)cls, 1);
	return BUS_HANDLED;
}

START_TEST(test_thread_consumes_until_freed)
{
	char topic[96], group[96];
	bt_unique(topic, sizeof topic, "bus.test.thread");
	bt_unique(group, sizeof group, "bus-test-thread");
	atomic_int count;
	atomic_init(&count, 0);
	struct bus_config cfg = bt_config();
	const char *topics[] = {topic, NULL};
	struct bus_consumer *c = NULL;
	struct core_error err = {{0}};
	ck_assert_int_eq(bus_consumer_new(&cfg, group, topics, count_message, &count, &c, &err), CORE_OK);
	ck_assert_int_eq(bus_consumer_start(c, &err), CORE_OK);
	ck_assert_int_eq(bus_consumer_start(c, &err), CORE_EINVAL);
	const char *msgs[] = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", NULL};
	produce_all(topic, NULL, msgs);
	int64_t end = core_now_ms() + 30000;
	while (atomic_load(&count) < 10 && core_now_ms() < end)
		core_sleep_ms(50);
	bus_consumer_free(c);
	ck_assert_int_eq(atomic_load(&count), 10);
}
END_TEST

/* --- batches -------------------------------------------------------------------------- */

#define BATCHES_MAX 4096

/* What a batch handler saw: every message in the order handed out (col), and per call
 * its size and when it came. The handler answers BUS_RETRY for
 * its first `retries` calls, then BUS_HANDLED. */
struct batch_log {
	struct bt_collector col;
	size_t n_batches;
	size_t size[BATCHES_MAX];
	int64_t at_ms[BATCHES_MAX];
	int retries;
};

static enum bus_handled batch_collect(const struct bus_message *ms, size_t n, void *cls)
{
	struct batch_log *l = cls;
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_lt(l->n_batches, BATCHES_MAX);
	l->size[l->n_batches] = n;
	l->at_ms[l->n_batches] = core_now_ms();
	l->n_batches++;
	for (size_t i = 0; i < n; i++)
		bt_collect(&ms[i], &l->col);
	if (l->retries > 0) {
		l->retries--;
		return BUS_RETRY;
	}
	return BUS_HANDLED;
}

static struct bus_consumer *batch_consumer(const char *group, const char *topic, size_t max_batch, int max_wait_ms,
					   struct batch_log *l)
{
	struct bus_config cfg = bt_config();
	const char *topics[] = {topic, NULL};
	struct bus_consumer *c = NULL;
	struct core_error err = {{0}};
	ck_assert_msg(bus_consumer_new_batch(&cfg, group, topics, batch_collect, max_batch, max_wait_ms, l, &c, &err) ==
			      CORE_OK,
		      "%s", err.message);
	return c;
}

static void poll_until(struct bus_consumer *c, const size_t *n, size_t want, int timeout_ms)
{
	int64_t end = core_now_ms() + timeout_ms;
	while (*n < want && core_now_ms() < end)
		bus_consumer_poll(c, 100);
}

/* Polls linger_ms more (to catch what should not come), then frees c. */
static void linger_free(struct bus_consumer *c, int linger_ms)
{
	int64_t end = core_now_ms() + linger_ms;
	while (core_now_ms() < end)
		bus_consumer_poll(c, 50);
	bus_consumer_free(c);
}

/* The sequence number of a payload "<key> <i>". */
static long seq_of(const char *payload)
{
	return strtol(strchr(payload, ' ') + 1, NULL, 10);
}

/* n payloads "<key> <i>" with keys k0..k15 (murmur2 puts them in all 4 partitions of
 * an auto-created topic, 3 to 5 keys each); the array and its strings are malloc'd,
 * NULL-terminated. */
static char **keyed_payloads(size_t n)
{
	char **p = core_xcalloc(n + 1, sizeof *p);
	for (size_t i = 0; i < n; i++) {
		p[i] = core_xcalloc(1, 32);
		snprintf(p[i], 32, "k%zu %zu", i % 16, i);
	}
	return p;
}

static void produce_keyed(const char *topic, char **payloads)
{
	struct bus_config cfg = bt_config();
	struct bus_producer *p = NULL;
	struct core_error err = {{0}};
	ck_assert_msg(bus_producer_new(&cfg, &p, &err) == CORE_OK, "%s", err.message);
	for (size_t i = 0; payloads[i]; i++) {
		char key[8];
		snprintf(key, sizeof key, "%.*s", (int)strcspn(payloads[i], " "), payloads[i]);
		ck_assert_msg(bus_produce(p, topic, key, payloads[i], strlen(payloads[i]), NULL, NULL, &err) == CORE_OK,
			      "%s", err.message);
	}
	ck_assert_int_eq(bus_producer_flush(p, 15000), 0);
	bus_producer_free(p);
}

static void free_payloads(char **p)
{
	for (size_t i = 0; p[i]; i++)
		free(p[i]);
	free(p);
}

/* Within recs[from..to), each (partition, offset) once, offsets rising per partition
 * and each key's sequence numbers rising (a key stays in one partition). */
static void assert_ordered(const struct bt_record *recs, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		for (size_t j = from; j < i; j++) {
			if (recs[j].partition != recs[i].partition)
				continue;
			ck_assert_msg(recs[j].offset < recs[i].offset, "partition %d: offset %lld after %lld",
				      (int)recs[i].partition, (long long)recs[i].offset, (long long)recs[j].offset);
		}
		for (size_t j = from; j < i; j++) {
			if (strcmp(recs[j].key, recs[i].key) != 0)
				continue;
			ck_assert_int_eq(recs[j].partition, recs[i].partition);
			ck_assert_msg(seq_of(recs[j].payload) < seq_of(recs[i].payload), "key %s: '%s' after '%s'",
				      recs[i].key, recs[i].payload, recs[j].payload);
		}
	}
}

/* Fails unless recs[from..to) holds each payload exactly once. */
static void assert_each_once(const struct bt_record *recs, size_t from, size_t to, char **payloads, size_t n)
{
	ck_assert_uint_eq(to - from, n);
	for (size_t i = 0; i < n; i++) {
		size_t seen = 0;
		for (size_t j = from; j < to; j++)
			seen += strcmp(recs[j].payload, payloads[i]) == 0;
		ck_assert_msg(seen == 1, "'%s' handed out %zu times", payloads[i], seen);
	}
}

START_TEST(test_batch_gets_all_in_order_then_commits)
{
	char topic[96], group[96];
	bt_unique(topic, sizeof topic, "bus.test.batch"); /* 4 partitions */
	bt_unique(group, sizeof group, "bus-test-batch");
	enum { N = 300, MAX_BATCH = 32 };
	char **payloads = keyed_payloads(N);
	produce_keyed(topic, payloads);

	struct batch_log *l = core_xcalloc(1, sizeof *l);
	struct bus_consumer *c = batch_consumer(group, topic, MAX_BATCH, 200, l);
	poll_until(c, &l->col.n, N, 30000);
	linger_free(c, 300); /* nothing more may come */

	assert_each_once(l->col.recs, 0, l->col.n, payloads, N);
	assert_ordered(l->col.recs, 0, l->col.n);
	size_t biggest = 0;
	for (size_t b = 0; b < l->n_batches; b++) {
		ck_assert_uint_le(l->size[b], MAX_BATCH);
		biggest = l->size[b] > biggest ? l->size[b] : biggest;
	}
	ck_assert_uint_eq(biggest, MAX_BATCH); /* what was waiting came in full batches */
	ck_assert_uint_le(l->n_batches, N / 2);
	bt_collector_free(&l->col);

	/* Every batch was committed: a later member of the group starts after them, so the
	 * first thing it gets is what is produced now. */
	const char *after[] = {"k0 after", NULL};
	produce_all(topic, "k0", after);
	memset(l, 0, sizeof *l);
	c = batch_consumer(group, topic, MAX_BATCH, 200, l);
	poll_until(c, &l->col.n, 1, 40000);
	linger_free(c, 500); /* nothing more may come */
	ck_assert_uint_eq(l->col.n, 1);
	ck_assert_str_eq(l->col.recs[0].payload, "k0 after");
	bt_collector_free(&l->col);
	free(l);
	free_payloads(payloads);
}
END_TEST

START_TEST(test_batch_retry_redelivers_the_batch)
{
	char topic[96], group[96];
	bt_unique(topic, sizeof topic, "bus.test.batchretry"); /* 4 partitions */
	bt_unique(group, sizeof group, "bus-test-batchretry");
	enum { N = 40 };
	char **payloads = keyed_payloads(N);
	produce_keyed(topic, payloads);

	struct batch_log *l = core_xcalloc(1, sizeof *l);
	l->retries = 1;
	struct bus_consumer *c = batch_consumer(group, topic, 1000, 500, l);
	/* the first batch (handed back), then every message once more */
	poll_until(c, &l->n_batches, 1, 30000);
	ck_assert_uint_eq(l->n_batches, 1);
	size_t first = l->size[0];
	poll_until(c, &l->col.n, first + N, 30000);
	linger_free(c, 300); /* nothing more may come */

	ck_assert_uint_ge(l->n_batches, 2);
	ck_assert_int_ge(l->at_ms[1] - l->at_ms[0], 90); /* the pause (100 ms) */
	/* after the retry: each message exactly once, in order per partition */
	assert_each_once(l->col.recs, first, l->col.n, payloads, N);
	assert_ordered(l->col.recs, first, l->col.n);
	/* each partition of the handed-back batch starts again at its first message there */
	for (size_t i = 0; i < first; i++) {
		const struct bt_record *r = &l->col.recs[i];
		bool first_of_partition = true;
		for (size_t j = 0; j < i; j++)
			first_of_partition &= l->col.recs[j].partition != r->partition;
		if (!first_of_partition)
			continue;
		size_t k = first;
		while (k < l->col.n && l->col.recs[k].partition != r->partition)
			k++;
		ck_assert_uint_lt(k, l->col.n);
		ck_assert_int_eq(l->col.recs[k].offset, r->offset);
	}
	bt_collector_free(&l->col);
	free(l);
	free_payloads(payloads);
}
END_TEST

START_TEST(test_batch_lone_message_within_the_wait)
{
	char topic[96], group[96];
	one_partition_topic(topic, sizeof topic, "bus.test.trickle");
	bt_unique(group, sizeof group, "bus-test-trickle");
	enum { WAIT_MS = 300 };
	struct batch_log *l = core_xcalloc(1, sizeof *l);
	struct bus_consumer *c = batch_consumer(group, topic, 1000, WAIT_MS, l);
	/* join the group first (~3 s): the timing below is the batch's, not the join's */
	const char *warm[] = {"warm-up", NULL};
	produce_all(topic, "k", warm);
	poll_until(c, &l->col.n, 1, 30000);
	ck_assert_uint_eq(l->col.n, 1);

	const char *lone[] = {"lone", NULL};
	produce_all(topic, "k", lone); /* acknowledged: on the broker now */
	int64_t t0 = core_now_ms();
	int got = 0;
	while (got == 0 && core_now_ms() - t0 < 5000)
		got = bus_consumer_poll(c, 1000);
	int64_t took = core_now_ms() - t0;
	bus_consumer_free(c);
	ck_assert_int_eq(got, 1);
	ck_assert_uint_eq(l->n_batches, 2);
	ck_assert_uint_eq(l->size[1], 1);
	ck_assert_str_eq(l->col.recs[1].payload, "lone");
	/* It waited for company (the batch's wait) but not longer: the fetch (20 ms) plus
	 * the wait, with room for a slow machine. */
	ck_assert_int_ge(took, WAIT_MS - 10);
	ck_assert_int_lt(took, WAIT_MS + 700);
	bt_collector_free(&l->col);
	free(l);
}
END_TEST

/* A second member joins the group while the first gathers a batch (the first learns of
 * the rebalance within ~1 s, well within its 5 s wait): the first drops what it holds
 * of every partition it loses, so its batch holds no message twice and none of the
 * other member's partitions, and between them the two handle every message exactly
 * once. (Holding on to them, the first would hand its batch with its own partitions'
 * messages twice, read again from the committed offset after the eager re-assign,
 * and the other member's too.) */
struct shared_log {
	pthread_mutex_t mu;
	struct bt_collector col;
};

static enum bus_handled shared_collect(const struct bus_message *m, void *cls)
{
	struct shared_log *s = cls;
	pthread_mutex_lock(&s->mu);
	bt_collect(m, &s->col);
	pthread_mutex_unlock(&s->mu);
	return BUS_HANDLED;
}

START_TEST(test_batch_rebalance_while_gathering)
{
	char topic[96], group[96];
	bt_unique(topic, sizeof topic, "bus.test.batchrebalance"); /* 4 partitions */
	bt_unique(group, sizeof group, "bus-test-batchrebalance");
	enum { N = 40 };
	struct batch_log *l = core_xcalloc(1, sizeof *l);
	struct bus_consumer *a = batch_consumer(group, topic, 1000, 5000, l);
	/* a joins alone and gets every partition */
	const char *warm[] = {"k0 warm-up", NULL};
	produce_all(topic, "k0", warm);
	poll_until(a, &l->col.n, 1, 30000);
	ck_assert_uint_eq(l->col.n, 1);

	char **payloads = keyed_payloads(N);
	produce_keyed(topic, payloads);
	struct shared_log s = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct bus_config cfg = bt_config();
	const char *topics[] = {topic, NULL};
	struct bus_consumer *b = NULL;
	struct core_error err = {{0}};
	ck_assert_msg(bus_consumer_new(&cfg, group, topics, shared_collect, &s, &b, &err) == CORE_OK, "%s",
		      err.message);
	ck_assert_int_eq(bus_consumer_start(b, &err), CORE_OK);
	int64_t t0 = core_now_ms();
	size_t a_first = l->col.n;
	while (l->col.n == a_first && core_now_ms() - t0 < 30000)
		bus_consumer_poll(a, 1000); /* holds the messages already there for 5 s */
	size_t a_after = l->col.n;
	/* then both go on until every message was handled */
	int64_t end = core_now_ms() + 30000;
	for (;;) {
		pthread_mutex_lock(&s.mu);
		size_t nb = s.col.n;
		pthread_mutex_unlock(&s.mu);
		if (l->col.n - a_first + nb >= N || core_now_ms() > end)
			break;
		bus_consumer_poll(a, 100);
	}
	end = core_now_ms() + 500;
	while (core_now_ms() < end)
		bus_consumer_poll(a, 50);
	bus_consumer_free(b);
	bus_consumer_free(a);

	/* both got partitions */
	ck_assert_uint_gt(s.col.n, 0);
	ck_assert_uint_gt(a_after, a_first);
	/* a's batches: each message once, in order, and none of b's partitions */
	assert_ordered(l->col.recs, a_first, l->col.n);
	for (size_t i = a_first; i < l->col.n; i++)
		for (size_t j = 0; j < s.col.n; j++)
			ck_assert_msg(l->col.recs[i].partition != s.col.recs[j].partition,
				      "partition %d handed to both members", (int)s.col.recs[j].partition);
	/* between them, every message exactly once */
	struct bt_collector all = {0};
	for (size_t i = a_first; i < l->col.n; i++) {
		struct bus_message m = {.payload = l->col.recs[i].payload, .len = strlen(l->col.recs[i].payload)};
		bt_collect(&m, &all);
	}
	for (size_t i = 0; i < s.col.n; i++) {
		struct bus_message m = {.payload = s.col.recs[i].payload, .len = strlen(s.col.recs[i].payload)};
		bt_collect(&m, &all);
	}
	assert_each_once(all.recs, 0, all.n, payloads, N);
	bt_collector_free(&all);
	bt_collector_free(&s.col);
	bt_collector_free(&l->col);
	free(l);
	free_payloads(payloads);
}
END_TEST

/* --- arguments ------------------------------------------------------------------------ */

static enum bus_handled never(const struct bus_message *m, void *cls)
{
	(void)m;
	(void)cls;
	return BUS_HANDLED;
}

START_TEST(test_bad_arguments)
{
	struct bus_config cfg = bt_config();
	const char *topics[] = {"bus.test.args", NULL};
	const char *none[] = {NULL};
	struct bus_consumer *c = (struct bus_consumer *)&c;
	struct core_error err = {{0}};
	ck_assert_int_eq(bus_consumer_new(&cfg, NULL, topics, never, NULL, &c, &err), CORE_EINVAL);
	ck_assert_int_eq(bus_consumer_new(&cfg, "", topics, never, NULL, &c, &err), CORE_EINVAL);
	ck_assert_int_eq(bus_consumer_new(&cfg, "g", none, never, NULL, &c, &err), CORE_EINVAL);
	ck_assert_int_eq(bus_consumer_new(&cfg, "g", NULL, never, NULL, &c, &err), CORE_EINVAL);
	ck_assert_int_eq(bus_consumer_new(&cfg, "g", topics, NULL, NULL, &c, &err), CORE_EINVAL);
	cfg.brokers = NULL;
	ck_assert_int_eq(bus_consumer_new(&cfg, "g", topics, never, NULL, &c, &err), CORE_EINVAL);
	cfg = bt_config();
	cfg.max_poll_interval_ms = 1000; /* below session.timeout.ms: librdkafka refuses */
	ck_assert_int_eq(bus_consumer_new(&cfg, "g", topics, never, NULL, &c, &err), CORE_EINVAL);
	ck_assert_int_eq(bus_consumer_new_batch(&cfg, "g", topics, NULL, 10, 0, NULL, &c, &err), CORE_EINVAL);
	ck_assert_int_eq(bus_consumer_new_batch(&cfg, "g", topics, batch_collect, 0, 0, NULL, &c, &err), CORE_EINVAL);
	ck_assert_int_eq(bus_consumer_new_batch(&cfg, "g", topics, batch_collect, BUS_BATCH_MAX + 1, 0, NULL, &c, &err),
			 CORE_EINVAL);
	ck_assert_int_eq(bus_consumer_new_batch(&cfg, "g", topics, batch_collect, 10, -1, NULL, &c, &err), CORE_EINVAL);
	ck_assert_int_eq(
		bus_consumer_new_batch(&cfg, "g", topics, batch_collect, 10, BUS_BATCH_WAIT_MAX_MS + 1, NULL, &c, &err),
		CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "batch"));
	ck_assert_int_eq(bus_consumer_new_batch(&cfg, "", topics, batch_collect, 10, 0, NULL, &c, &err), CORE_EINVAL);
	ck_assert_ptr_eq(c, (struct bus_consumer *)&c);
	bus_consumer_free(NULL);
}
END_TEST

START_TEST(test_free_with_broker_unreachable_is_prompt)
{
	struct bus_config cfg = bt_config();
	cfg.brokers = "127.0.0.1:1";
	const char *topics[] = {"bus.test.nowhere", NULL};
	struct bus_consumer *c = NULL;
	ck_assert_int_eq(bus_consumer_new(&cfg, "bus-test-nowhere", topics, never, NULL, &c, NULL), CORE_OK);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(bus_consumer_poll(c, 100), 0);
	int64_t t0 = core_now_ms();
	bus_consumer_free(c);
	ck_assert_int_lt(core_now_ms() - t0, 3000);
}
END_TEST

static Suite *consumer_suite(void)
{
	Suite *s = suite_create("bus_consumer");
	TCase *tc = tcase_create("commit");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_crash_before_commit_redelivers);
	suite_add_tcase(s, tc);
	tc = tcase_create("retry");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_retry_redelivers_before_the_next);
	suite_add_tcase(s, tc);
	tc = tcase_create("thread");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_thread_consumes_until_freed);
	suite_add_tcase(s, tc);
	tc = tcase_create("batch");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_batch_gets_all_in_order_then_commits);
	tcase_add_test(tc, test_batch_retry_redelivers_the_batch);
	tcase_add_test(tc, test_batch_lone_message_within_the_wait);
	tcase_add_test(tc, test_batch_rebalance_while_gathering);
	suite_add_tcase(s, tc);
	tc = tcase_create("args");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_free_with_broker_unreachable_is_prompt);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(consumer_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
