/* `lathe demo`'s private header (prefix cli_demo_): the state its steps share and the one
 * file per part of the loop:
 *   demo.c          options, the services' URLs, the timeline (one line per step with the
 *                   elapsed seconds), the --json summary, the order of the steps
 *   demo_fmnist.c   Fashion-MNIST read from its gzip'd IDX files, written back as IDX
 *                   files and as a PNG folder <class>/<n>.png (libs/img's encoder)
 *   demo_data.c     step 1: both datasets pushed (cli_data_push), READY, the 80/10/10
 *                   split; step 4's second version with inverted images
 *   demo_train.c    step 2: the sweep job, followed; jobs polled (steps 2 and 5)
 *   demo_traffic.c  step 3: test images over OIP JSON, MLflow /invocations and PNG upload,
 *                   accuracy against the labels; the background sender of step 5
 *   demo_drift.c    step 4: the monitor (policy retrain), drifted traffic until a report
 *                   says dataset drift
 *   demo_promote.c  step 5: the retraining job, the challenger's evaluation and the swap
 *   demo_lineage.c  step 6: the lineage of a prediction made after it
 * Every step returns a status with err saying why; demo.c names the step and exits 1. */
#ifndef LATHE_CLI_DEMO_H
#define LATHE_CLI_DEMO_H
#include "cli.h"

#define DEMO_SIDE    28
#define DEMO_PIXELS  (DEMO_SIDE * DEMO_SIDE)
#define DEMO_CLASSES 10
#define DEMO_SPLIT   "lathe-0.8-0.1-0.1-s7" /* the name the trainer gives fractions [0.8, 0.1, 0.1], seed 7 */

struct cli_demo_opts {
	size_t images;      /* training images in the PNG dataset */
	size_t test;        /* test images sent per protocol (OIP; a fifth over the others) */
	int epochs;         /* per sweep trial */
	bool quick;         /* an MLP, fewer images and rows: tests */
	const char *json;   /* the summary's file, or NULL */
	const char *fmnist; /* the directory of the four .gz files */
	int wait_s;         /* the longest any one wait may take */
};

/* Fashion-MNIST in memory: 28x28 gray images, labels 0..9. */
struct cli_demo_fmnist {
	uint8_t *train_x, *train_y, *test_x, *test_y;
	size_t n_train, n_test;
};

extern const char *const cli_demo_class_names[DEMO_CLASSES];

struct demo {
	struct cli_demo_opts o;
	struct cli_conn data, trainer, tracker, registry, infer, drift;
	char suffix[32]; /* unique per run: names never clash on a stack used before */
	char png_ds[96], idx_ds[96], model[96], experiment[96];
	char tmp[256]; /* scratch directory, removed at the end */
	double t0;     /* cli_now() at the start */
	json_t *sum;   /* the --json summary: one member per step */
	struct cli_demo_fmnist fm;
	/* what later steps need from earlier ones */
	char champion[32], challenger[32]; /* model versions */
	char sweep_job[40], retrain_job[40];
	char report_id[40], champion_run[40];
	char after_swap_request[64]; /* a prediction's id made after the swap */
	char after_swap_version[32];
	long long png_versions; /* the PNG dataset's newest version number */
};

/* Prints one timeline line: "[  12.3s] <step>  <text>". */
void cli_demo_say(struct demo *d, const char *step, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The summary object of step (created on first use; borrowed). */
json_t *cli_demo_step(struct demo *d, const char *step);
/* Seconds since the demo started. */
double cli_demo_elapsed(const struct demo *d);

/* One JSON request on a fresh handle (cli_http_json); *out may be NULL on return. */
enum core_status cli_demo_call(const struct cli_conn *c, const char *method, const char *path, const json_t *body,
			       json_t **out, struct core_error *err);
/* before + arg URL-escaped + after (malloc'd): a path with one argument. */
char *cli_demo_path(const char *before, const char *arg, const char *after);

/* demo_fmnist.c */
enum core_status cli_demo_fmnist_read(const char *dir, struct cli_demo_fmnist *fm, struct core_error *err);
void cli_demo_fmnist_free(struct cli_demo_fmnist *fm);
/* Writes the first n_train / n_test records as the four IDX files into dir. */
enum core_status cli_demo_write_idx(const struct cli_demo_fmnist *fm, size_t n_train, size_t n_test, const char *dir,
				    struct core_error *err);
/* Writes n images (n x 784 pixels, labels y) as dir/<class>/<prefix><i>.png; invert:
 * 255 - pixel. */
enum core_status cli_demo_write_pngs(const uint8_t *x, const uint8_t *y, size_t n, bool invert, const char *prefix,
				     const char *dir, struct core_error *err);
/* Removes dir and everything below it (best effort: the demo's scratch files). */
void cli_demo_rm_tree(const char *dir);
/* The image i of x, inverted or not, into out (784 bytes). */
void cli_demo_image(const uint8_t *x, size_t i, bool invert, uint8_t *out);

/* demo_data.c */
enum core_status cli_demo_step_data(struct demo *d, struct core_error *err);
enum core_status cli_demo_push_drifted(struct demo *d, struct core_error *err);
/* Polls name@number until READY (or fails when it is FAILED or the wait ends). */
enum core_status cli_demo_wait_ready(struct demo *d, const char *name, long long number, struct core_error *err);

/* demo_train.c */
enum core_status cli_demo_step_train(struct demo *d, struct core_error *err);
/* Polls job id until it ends; *job: its last state (owned). CORE_OK only for SUCCEEDED. */
enum core_status cli_demo_follow_job(struct demo *d, const char *step, const char *id, json_t **job,
				     struct core_error *err);
/* Waits until the inference API serves model version v (its OIP metadata lists it). */
enum core_status cli_demo_wait_serving(struct demo *d, const char *version, struct core_error *err);

/* demo_traffic.c */
enum core_status cli_demo_step_predict(struct demo *d, struct core_error *err);
/* OIP infer of n images starting at test image first (inverted or not), request id id;
 * labels (may be NULL) get the predicted class indexes (-1: unknown name), version (may
 * be NULL, 32 bytes) the answering model version. */
enum core_status cli_demo_oip(struct demo *d, CURL *h, size_t first, size_t n, bool invert, const char *id, int *labels,
			      char *version, struct core_error *err);

/* The background sender of step 5: OIP requests of a few test images, about 100 a
 * second, until stopped; counts failures and notes when the answering version changed. */
struct cli_demo_sender;
struct cli_demo_sender *cli_demo_sender_start(struct demo *d);
/* The version the last answer came from ("" before any), and the request id of the
 * first answer from want (when it came: true). */
bool cli_demo_sender_seen(struct cli_demo_sender *s, const char *want, char *request_id, size_t cap, double *at);
/* Stops it and fills the totals; frees s. */
void cli_demo_sender_stop(struct cli_demo_sender *s, long *sent, long *failed, char *last_version, size_t cap);

/* demo_drift.c */
enum core_status cli_demo_step_drift(struct demo *d, struct core_error *err);

/* demo_promote.c */
enum core_status cli_demo_step_retrain(struct demo *d, struct core_error *err);
/* The model's promotion policy (PUT /v1/policies/{model}): accuracy up by 0.01 with a
 * class's recall down by at most 0.10, or with --quick accuracy alone; a trainer without
 * policies is left alone. */
enum core_status cli_demo_policy(struct demo *d, struct core_error *err);

/* demo_lineage.c */
enum core_status cli_demo_step_lineage(struct demo *d, struct core_error *err);
#endif
