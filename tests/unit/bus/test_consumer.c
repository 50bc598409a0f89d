/* Tests of the consumer (libs/bus/src/consumer.c) against the real devkafka broker:
 *   commit  a member that crashes before committing (a child process that _exit()s in
 *           its handler) leaves the message to the next member of its group, same
 *           partition and offset; a message whose handler returned BUS_HANDLED is not
 *           delivered again to a later member;
 *   retry   BUS_RETRY delivers the same message again, after a pause, before the next;
 *   thread  bus_consumer_start runs the handler on its own thread until freed;
 *   args    bad arguments are refused; freeing never hangs on an unreachable broker.
 * Topics used for ordering checks are pre-created with one partition through devkafka's
 * control FIFO. Group timing on devkafka: ~3 s to the first assignment, and a new member
 * joining a group whose old member died waits out the rebalance (~5-10 s). */
#include <check.h>
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>
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
