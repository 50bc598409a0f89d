/* The producer of the drift monitor's ingest benchmark (issue 12), run by
 * tests/bench/bench_drift.sh: N prediction events of a tabular classifier with 20
 * numeric features, as lathe-inference-api sends them (CloudEvents, type
 * lathe.prediction, role "serve"; proto/events/inference.predictions.schema.json),
 * straight to topic inference.predictions with librdkafka.
 *
 *   bench_drift_produce BOOTSTRAP MODEL VERSION N METRICS_URL MAX_LAG SECONDS
 *
 * devkafka keeps only ~5 MiB per partition (older batches are dropped silently), so
 * the events cannot all be written before the daemon reads them: the producer stays at
 * most MAX_LAG events ahead of what the daemon counted as added (its /metrics counter
 * drift_events_total{outcome="added"}), and stops after SECONDS. The events carry no
 * key, so they spread over the topic's partitions (each partition's share of the lag
 * stays under the cap); lz4 as the inference API's producer would compress them.
 * Feature values are N(0, 1) (the reference's distribution: no drift), each request id
 * unique (the window's dedupe keeps every one).
 * Prints "produced=… bytes_per_event=… producer_cpu_ms=… waited_ms=…" on stdout. */
#include <curl/curl.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FEATURES 20

static double bd_now(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct bd_text {
	char buf[1 << 20];
	size_t len;
};

static size_t bd_collect(char *p, size_t size, size_t n, void *ud)
{
	struct bd_text *t = ud;
	size_t k = size * n;
	if (t->len + k >= sizeof t->buf)
		return 0;
	memcpy(t->buf + t->len, p, k);
	t->len += k;
	t->buf[t->len] = '\0';
	return k;
}

/* drift_events_total{outcome="added"} of the daemon's /metrics, or -1. */
static double bd_added(CURL *h, struct bd_text *t)
{
	static const char key[] = "drift_events_total{outcome=\"added\"} ";
	t->len = 0;
	t->buf[0] = '\0';
	if (curl_easy_perform(h) != CURLE_OK)
		return -1;
	const char *p = strstr(t->buf, key);
	return p ? strtod(p + sizeof key - 1, NULL) : 0;
}

static double bd_normal(unsigned short seed[3])
{
	return sqrt(-2 * log(1 - erand48(seed))) * cos(2 * M_PI * erand48(seed));
}

int main(int argc, char **argv)
{
	if (argc != 8) {
		fprintf(stderr, "usage: %s BOOTSTRAP MODEL VERSION N METRICS_URL MAX_LAG SECONDS\n", argv[0]);
		return 2;
	}
	const char *model = argv[2], *version = argv[3];
	long n = strtol(argv[4], NULL, 10), max_lag = strtol(argv[6], NULL, 10);
	double seconds = strtod(argv[7], NULL);
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof errstr) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "compression.type", "lz4", errstr, sizeof errstr) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof errstr) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", errstr, sizeof errstr) !=
		    RD_KAFKA_CONF_OK) {
		fprintf(stderr, "bench_drift_produce: %s\n", errstr);
		return 1;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (!rk) {
		fprintf(stderr, "bench_drift_produce: %s\n", errstr);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *h = curl_easy_init();
	struct bd_text *text = malloc(sizeof *text);
	curl_easy_setopt(h, CURLOPT_URL, argv[5]);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, bd_collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, text);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);

	unsigned short seed[3] = {0xd1f7, 0x0b3c, 0x0020};
	char ev[4096], when[32];
	double t0 = bd_now(CLOCK_MONOTONIC), c0 = bd_now(CLOCK_PROCESS_CPUTIME_ID), waited = 0, bytes = 0;
	long produced = 0, added = 0;
	int status = 0;
	for (; produced < n && bd_now(CLOCK_MONOTONIC) - t0 < seconds; produced++) {
		/* every 500 events: keep within MAX_LAG of the daemon */
		while (produced % 500 == 0 && produced - added > max_lag && bd_now(CLOCK_MONOTONIC) - t0 < seconds) {
			double w0 = bd_now(CLOCK_MONOTONIC), a = bd_added(h, text);
			if (a < 0) {
				fprintf(stderr, "bench_drift_produce: %s does not answer\n", argv[5]);
				status = 1;
				goto out;
			}
			added = (long)a;
			if (produced - added > max_lag) {
				rd_kafka_poll(rk, 2);
				nanosleep(&(struct timespec){0, 2000000}, NULL);
			}
			waited += bd_now(CLOCK_MONOTONIC) - w0;
		}
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
		int len = snprintf(ev, sizeof ev,
				   "{\"specversion\":\"1.0\",\"id\":\"bench-%ld\",\"source\":\"lathe/inference-api\","
				   "\"type\":\"lathe.prediction\",\"subject\":\"%s\",\"time\":\"%s\","
				   "\"datacontenttype\":\"application/json\",\"data\":{\"model\":\"%s\",\"version\":"
				   "\"%s\",\"request_id\":\"req-%ld\",\"timestamp\":\"%s\",\"protocol\":\"oip\","
				   "\"row\":0,\"role\":\"serve\",\"features\":{",
				   produced, model, when, model, version, produced, when);
		for (int f = 0; f < FEATURES; f++)
			len += snprintf(ev + len, sizeof ev - (size_t)len, "%s\"f%d\":%.6f", f ? "," : "", f,
					bd_normal(seed));
		double p = 0.5 + 0.5 * erand48(seed);
		len += snprintf(ev + len, sizeof ev - (size_t)len, "},\"label\":\"%s\",\"probability\":%.4f}}",
				p > 0.75 ? "yes" : "no", p);
		bytes += len;
		for (;;) {
			rd_kafka_resp_err_t e = rd_kafka_producev(
				rk, RD_KAFKA_V_TOPIC("inference.predictions"), RD_KAFKA_V_VALUE(ev, (size_t)len),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
			if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
				break;
			if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
				fprintf(stderr, "bench_drift_produce: %s\n", rd_kafka_err2str(e));
				status = 1;
				goto out;
			}
			rd_kafka_poll(rk, 10);
		}
		rd_kafka_poll(rk, 0);
	}
	if (rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "bench_drift_produce: events not delivered within 30 s\n");
		status = 1;
	}
out:
	printf("produced=%ld bytes_per_event=%.0f producer_cpu_ms=%.0f waited_ms=%.0f\n", produced,
	       produced ? bytes / (double)produced : 0, (bd_now(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e3, waited * 1e3);
	curl_easy_cleanup(h);
	curl_global_cleanup();
	free(text);
	rd_kafka_destroy(rk);
	return status;
}
