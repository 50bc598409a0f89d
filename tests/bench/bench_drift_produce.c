/* The producer of the drift monitor's ingest benchmark (issue 12), run by
 * tests/bench/bench_drift.sh: N prediction events of a tabular classifier with 20
 * numeric features, as lathe-inference-api sends them (CloudEvents, type
 * lathe.prediction, role "serve"; proto/events/inference.predictions.schema.json),
 * straight to topic inference.predictions with librdkafka, before the daemon reads any
 * (the topic is filled first, then the daemon catches up: what is measured is the
 * daemon alone, not this producer, which would otherwise take more of the machine's two
 * cores than the daemon does).
 *
 *   bench_drift_produce BOOTSTRAP MODEL VERSION N
 *
 * devkafka keeps only ~5 MiB per partition (older batches are dropped silently), so the
 * events carry no key and spread over the topic's partitions, which bench_drift.sh
 * creates in sufficient number; lz4 as the inference API's producer would compress them.
 * Feature values are N(0, 1) (the reference's distribution: no drift), each request id
 * unique (the window's dedupe keeps every one).
 * Prints "produced=… bytes_per_event=… producer_cpu_ms=… wall_ms=…" on stdout. */
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

static double bd_normal(unsigned short seed[3])
{
	return sqrt(-2 * log(1 - erand48(seed))) * cos(2 * M_PI * erand48(seed));
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s BOOTSTRAP MODEL VERSION N\n", argv[0]);
		return 2;
	}
	const char *model = argv[2], *version = argv[3];
	long n = strtol(argv[4], NULL, 10);
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

	unsigned short seed[3] = {0xd1f7, 0x0b3c, 0x0020};
	char ev[4096], when[32];
	double t0 = bd_now(CLOCK_MONOTONIC), c0 = bd_now(CLOCK_PROCESS_CPUTIME_ID), bytes = 0;
	long produced = 0;
	int status = 0;
	for (; produced < n; produced++) {
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
		int len = snprintf(ev, sizeof ev,
				   "{\"specversion\":\"1.0\",\"id\":\"bench-%ld\",\"source\":\"lathe/inference-api\","
				   "\"type\":\"lathe.prediction\",\"subject\":\"%s\",\"time\":\"%s\","
				   "\"datacontenttype\":\"application/json\",\"data\":{\"model\":\"%s\",\"version\":"
				   "\"%s\",\"request_id\":\"req-%ld\",\"timestamp\":\"%s\",\"protocol\":\"oip\","
				   "\"role\":\"serve\",\"row\":0,\"features\":{",
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
	if (rd_kafka_flush(rk, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "bench_drift_produce: events not delivered within 60 s\n");
		status = 1;
	}
out:
	printf("produced=%ld bytes_per_event=%.0f producer_cpu_ms=%.0f wall_ms=%.0f\n", produced,
	       produced ? bytes / (double)produced : 0, (bd_now(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e3,
	       (bd_now(CLOCK_MONOTONIC) - t0) * 1e3);
	rd_kafka_destroy(rk);
	return status;
}
