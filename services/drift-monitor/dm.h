/* The drift monitor's private header (prefix dm_): what its files offer each other.
 * Sections follow the files:
 *   main.c        the settings (where the data registry is) and the svc_def
 *   routes.c      the one route table (/v1/monitors..., /v1/reports...)
 *   spec.c        a monitor spec (POST body) and a patch (PATCH body): parse and check
 *                 everything, pure; the stattest names and thresholds come from
 *                 libs/stats (stats/drift.h), so the API accepts what the statistics can do
 *   h_monitors.c  monitors: create, list, get, patch, delete
 *   h_reports.c   reports: list (by monitor, since), get
 *   table.c       Evidently's data-drift table: a row per column from its two samples,
 *                 and the dataset verdict, pure (batch.c and window.c write reports with it)
 *   batch.c       batch drift (POST /v1/drift): two CSV samples to a report, pure
 *   dataset.c     a batch sample named as a data-registry version: its CSV fetched
 *   refdoc.c      a model's reference.json read into the columns a window compares with, pure
 *   event.c       a prediction event's members a window needs, read from its text, pure
 *   window.c      a monitor's window of live predictions in fixed memory: add, report,
 *                 save and load, pure
 *   stream.c      inference.predictions in batches into the windows; closed windows to
 *                 reports, alerts (outbox) and retraining requests, durable per batch
 *   peers.c       the registry, tracker and trainer: a version's lineage and reference,
 *                 a retraining job
 *   retrain.c     the periodic task that sends the retraining requests to the trainer
 *   q_windows.c   one function per SQL statement on windows and retraining requests
 *   h_drift.c     POST /v1/drift, thin over batch.c and dataset.c
 *   html.c        a report as an HTML page for people (GET /v1/reports/{id}.html), pure
 *   q_monitors.c  one function per SQL statement on monitors; the statement is named as
 *                 the function (dm_q_monitor_insert prepares "dm_q_monitor_insert")
 *   q_reports.c   the same on reports
 *   entities.c    Monitor and Report JSON from rows
 * Handlers receive the struct svc * as app (dm_app(app) gives the service's state). A monitor is checked whole before
 * anything is written; one statement writes it, so a refused request leaves nothing behind. Reports are written by the
 * window slice (not yet); this one reads them. */
#ifndef DM_H
#define DM_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/buf.h"
#include "bus/bus.h"
#include "db/db.h"
#include "metrics/metrics.h"
#include "core/buf.h"
#include "http/jspec.h"
#include "stats/distance.h"
#include "stats/drift.h"
#include "svc/svc.h"

/* --- main.c: settings and state -------------------------------------------------------- */

struct dm_settings {
	char *tracker_url, *tracker_token; /* TRACKER_*: runs and reference.json */
	long tracker_timeout_ms;
	char *registry_url, *registry_token; /* REGISTRY_*: model versions */
	long registry_timeout_ms;
	char *trainer_url, *trainer_token; /* TRAINER_*: retraining jobs */
	long trainer_timeout_ms;
	long retrain_every_ms;         /* RETRAIN_EVERY_MS: the retrain task's period */
	char *consumer_group;          /* CONSUMER_GROUP: on inference.predictions ("drift") */
	char *data_registry_url;       /* DATA_REGISTRY_URL: batch drift's {"dataset": ...} samples */
	char *data_registry_token;     /* DATA_REGISTRY_TOKEN: sent as Bearer, or NULL */
	long data_registry_timeout_ms; /* DATA_REGISTRY_TIMEOUT_MS: one call to it */
	long dataset_max_bytes;        /* DATASET_MAX_BYTES: the largest version a sample names */
};

struct dm_stream;

struct dm_app {
	struct dm_settings *settings; /* borrowed from svc */
	struct dm_stream *stream;     /* owned */
};

static inline struct dm_app *dm_app(struct svc *svc)
{
	return svc_app(svc);
}

/* --- routes and handlers (routes.c, h_monitors.c, h_reports.c) -------------------- */

extern const struct http_route dm_routes[];

#define DM_SPEC_MAX ((size_t)1 << 20) /* a monitor spec body (feature overrides included) */

void dm_h_monitor_create(struct http_request *req, void *app);
void dm_h_monitor_list(struct http_request *req, void *app);
void dm_h_monitor_get(struct http_request *req, void *app);
void dm_h_monitor_patch(struct http_request *req, void *app);
void dm_h_monitor_delete(struct http_request *req, void *app);
void dm_h_report_list(struct http_request *req, void *app);
void dm_h_report_get(struct http_request *req, void *app);
void dm_h_drift(struct http_request *req, void *app);

/* --- spec.c: monitor specs, pure ---------------------------------------------------
 * The POST body:
 *   {"model": "iris",                                  required, 1..DM_NAME_MAX bytes
 *    "window": {"size": N} | {"seconds": S},           default {"size": 1000}
 *    "features": {"<f>": {"method": "psi", "threshold": 0.2}, ...}   each member optional
 *    "drift_share": 0.5,                               (0, 1]
 *    "alert": {"policy": "none" | "alert" | "retrain", "cooldown_seconds": C}}
 * Unknown members are refused at every level, so a typo never silently keeps a default.
 * A PATCH body has the same members but model; each one given replaces the stored one
 * (features and window whole, alert member by member). Messages name the field
 * ("window.size: must be an integer from 10 to 10000000"). */

#define DM_ID_LEN             SVC_PAGE_ID_LEN /* uuid hex, lower case */
#define DM_NAME_MAX           1024            /* bytes of a model or feature name (MLflow: 256 characters) */
#define DM_VERSION_MAX        63              /* bytes of a model version ("3") an event may name */
#define DM_FEATURES_MAX       4096            /* feature overrides of one monitor */
#define DM_WINDOW_SIZE_MIN    10
#define DM_WINDOW_SIZE_MAX    10000000
#define DM_WINDOW_SIZE_DEF    1000
#define DM_WINDOW_SECONDS_MIN 1
#define DM_WINDOW_SECONDS_MAX 2592000  /* 30 days */
#define DM_COOLDOWN_MAX       31536000 /* a year */
#define DM_COOLDOWN_DEF       3600

struct dm_spec {
	const char *model;      /* borrowed from the body; NULL in a patch */
	int64_t window_size;    /* rows; 0 when the window is by time */
	int64_t window_seconds; /* seconds; 0 when the window is by rows */
	json_t *features;       /* the overrides as checked, owned (an object, maybe empty) */
	double drift_share;
	const char *alert_policy; /* static: "none", "alert", "retrain" */
	int64_t cooldown_s;
	/* What a patch gave (a create sets them all): members not given stay as stored. */
	bool has_window, has_features, has_drift_share, has_policy, has_cooldown;
};

/* Parses and checks a POST body into *out (defaults for what is absent). body
 * borrowed; out->model borrows from it. CORE_OK (release with dm_spec_clear), or
 * CORE_EINVAL naming the field; nothing to release then. */
enum core_status dm_spec_parse(json_t *body, struct dm_spec *out, struct core_error *err);
/* The same for a PATCH body: only what is given is set (has_*). */
enum core_status dm_spec_parse_patch(json_t *body, struct dm_spec *out, struct core_error *err);
void dm_spec_clear(struct dm_spec *s);
/* Per-column overrides {"<name>": {"method"?, "threshold"?}} (a monitor's features, a
 * batch's columns), checked as a monitor spec checks them; field names the member in
 * messages ("columns.age.threshold: ..."). CORE_OK with *checked a new object (owned:
 * method names canonical), or CORE_EINVAL naming the field. */
enum core_status dm_overrides_parse(json_t *obj, const char *field, json_t **checked, struct core_error *err);
/* Refuses a member of obj that allowed (NULL-terminated) does not list, so a typo never
 * silently keeps a default; where names obj in the message (NULL: the top level). */
enum core_status dm_refuse_unknown(json_t *obj, const char *where, const char *const *allowed, struct core_error *err);

/* --- table.c: Evidently's data-drift table, pure ---------------------------------------
 * A row: column_name, column_type ("num"/"cat"), stattest_name, stattest_threshold,
 * drift_score (null when the method gives none), drift_detected, and reference/current
 * {count, missing, histogram{edges, counts} (Sturges bins over both samples) |
 * value_counts (the 100 most frequent over both, the rest in "other")}. */

/* One column's two samples (index 0 the reference, 1 the current), missing values
 * already taken out. Everything is borrowed. */
struct dm_col {
	const char *name;
	enum stats_column_type type;
	const double *num[2]; /* numerical: the values */
	size_t n_num[2];
	const struct stats_bins *cats; /* categorical: the categories (labels) and both counts */
	/* categorical, optional: each sample's values in their order (TVD's permutations
	 * start from it); NULL: the categories repeated by their counts */
	const char *const *cells[2];
	size_t n_cells[2];
	uint64_t missing[2];
	/* The counts shown when a sample stands for more values than it holds (a window's
	 * reservoir); 0: the sample's size. */
	uint64_t count[2];
	/* The reference's size for Evidently's default method when the reference sample is
	 * a subsample; 0: the sample's size. */
	uint64_t n_ref;
};

/* Column c's row into *row (owned) and its verdict into *drifted: the override's method
 * and threshold ({"method"?, "threshold"?} as dm_overrides_parse checked it; NULL: none),
 * else Evidently's default. field names the overrides in messages ("columns",
 * "features"). CORE_OK; CORE_EINVAL naming the column (no value in a sample, a method
 * that does not apply to its type, a statistic that cannot be computed). */
enum core_status dm_col_report(const struct dm_col *c, json_t *override, const char *field, json_t **row, bool *drifted,
			       struct core_error *err);
/* The table {columns: rows, number_of_columns, number_of_drifted_columns,
 * share_of_drifted_columns, drift_share, dataset_drift} (rows stolen), or NULL when out
 * of memory. */
json_t *dm_table(json_t *rows, size_t n_drifted, double drift_share);

/* --- batch.c: batch drift of two CSV samples, pure ----------------------------------
 * The POST /v1/drift body:
 *   {"reference": {"csv": "<text with a header row>"},  required
 *    "current":   {"csv": "..."},                       required, the same header set
 *    "columns":   {"<name>": {"method"?, "threshold"?}}, overrides as a monitor's features
 *    "drift_share": 0.5}                                 (0, 1]
 * Either sample may be {"dataset": "name@ref"} in place of "csv": a data-registry
 * version, checked for its form here and fetched by dataset.c before the report. The
 * answer is Evidently's data-drift table: per column column_name, column_type
 * ("num"/"cat"), stattest_name, stattest_threshold, drift_score (null when the method
 * gives none), drift_detected, and reference/current {count, missing, histogram{edges,
 * counts} | value_counts}; then number_of_columns, number_of_drifted_columns,
 * share_of_drifted_columns, dataset_drift.
 * A column is numerical when every non-empty cell of both samples reads as a finite
 * number, else categorical; an empty cell is missing and dropped, as Evidently drops
 * NaN before any stattest. */

#define DM_BATCH_MAX ((size_t)32 << 20) /* a batch body: both CSV texts and the overrides */

struct dm_batch {
	const char *ref_csv, *cur_csv; /* borrowed from the body, or from dataset.c's texts;
					* NULL for a dataset sample until it is fetched */
	size_t ref_len, cur_len;
	const char *ref_dataset, *cur_dataset; /* "name@ref" borrowed from the body, or NULL */
	json_t *columns;                       /* checked overrides, owned (an object, maybe empty) */
	double drift_share;
};

/* Parses and checks the body into *out. CORE_OK (release with dm_batch_clear) or
 * CORE_EINVAL naming the field (nothing to release then). */
enum core_status dm_batch_parse(json_t *body, struct dm_batch *out, struct core_error *err);
/* The report of b's two samples (both texts set) into *report (owned). CORE_OK; CORE_EINVAL naming the
 * sample, column or override at fault (bad CSV, headers that differ, a column with no
 * value in a sample, a method that does not apply to the column's type);
 * CORE_ENOMEM when a sample's copy cannot be allocated. */
enum core_status dm_batch_report(const struct dm_batch *b, json_t **report, struct core_error *err);
void dm_batch_clear(struct dm_batch *b);

/* --- dataset.c: a batch sample named as a data-registry version -----------------------
 * "name@ref" names a version as the data registry does: ref a number, a full id, an id
 * prefix of at least 8 hex digits, or latest (the newest READY one; also when @ref is
 * left out). The version is read from DATA_REGISTRY_URL over its HTTP API (GET
 * /v1/datasets/{name}/versions/{ref}, then its manifest by id and each file as a blob),
 * so the two calls of one sample see the same version even when a new one arrives
 * meanwhile. It must be csv, not FAILED, and hold at most DATASET_MAX_BYTES of files
 * (16 MiB by default: each side of a dataset request holds what half an inline body
 * may, and each sample's cells are copied once by batch.c). One file is the sample as
 * it is; several (in path order) are joined under the first's header, each with that
 * header, as the registry's profiler requires. */

#define DM_DATASET_REF_MAX 64 /* bytes of the ref after '@' (a full id) */

/* Checks the form of "name@ref" (name as the registry takes it, ref letters and digits)
 * for field ("reference.dataset"), pure: CORE_OK or CORE_EINVAL naming the field. */
enum core_status dm_dataset_ref_check(const char *text, const char *field, struct core_error *err);

/* The texts fetched for b's dataset samples; the batch borrows them. */
struct dm_dataset_texts {
	char *text[2]; /* reference, current; NULL for an inline sample */
};

/* Fetches each dataset sample of b and points b's text at it. CORE_OK; CORE_ENOENT: no
 * such dataset or version (404); CORE_EINVAL: the ref is malformed or ambiguous, the
 * version is not tabular CSV or FAILED, or its files do not join (400); CORE_ELIMIT:
 * over DATASET_MAX_BYTES (413); CORE_EIO: the data registry did not answer (503). The
 * message names the sample ("reference.dataset: 'iris@9' ..."). out is filled either
 * way: release it with dm_dataset_texts_free after the report. */
enum core_status dm_dataset_fetch(const struct dm_settings *s, const char *request_id, struct dm_batch *b,
				  struct dm_dataset_texts *out, struct core_error *err);
void dm_dataset_texts_free(struct dm_dataset_texts *t);

/* --- html.c: a report as an HTML page for people, pure --------------------------------
 * One self-contained page (inline style and SVG; no script, no asset fetched): the
 * title with model, version and window; the dataset verdict (dataset_drift,
 * share_of_drifted_columns against drift_share, number_of_drifted_columns of
 * number_of_columns); a table per column (column_name, column_type, stattest_name,
 * stattest_threshold, drift_score, drift_detected) with a chart of the reference's and
 * the current's shares per bin (num: histogram edges/counts) or category (cat:
 * value_counts and other); the same for result.predictions, then result.lineage and
 * result.window when present. Every text from the document is HTML-escaped; a member
 * missing or of the wrong type is shown as "—" or left out, so any JSON gives a page. */

#define DM_HTML_MAX ((size_t)64 << 20) /* a report's page; a document with ~100k columns */

/* Appends the page of report (the Report object of dm_report_json with "result";
 * borrowed, any JSON) to out. CORE_OK; CORE_ENOMEM or CORE_ELIMIT (out's ceiling)
 * when the page does not fit, out then holding part of it. */
enum core_status dm_report_html(const json_t *report, struct core_buf *out);

/* --- refdoc.c: a model's reference, pure --------------------------------------------- */

struct dm_ref_label {
	char *label;
	uint64_t count;
};

/* One column of the reference, in the space of prediction events. */
struct dm_ref_col {
	char *name;
	enum stats_column_type type;
	double *sample; /* numerical: the reference's values (or an even subsample) */
	size_t n_sample;
	struct dm_ref_label *cats; /* categorical: the categories, sorted bytewise, counts > 0 */
	size_t k;
	uint64_t count, missing; /* of the whole reference */
};

struct dm_ref {
	struct dm_ref_col *cols; /* the inputs: tabular columns by name, or brightness/contrast */
	size_t n_cols;
	struct dm_ref_col *pred; /* "label" and "confidence" (classifier), or "output_<i>" */
	size_t n_pred;
	bool image; /* columns are read from an event's "image", else its "features" */
};

/* Reads reference.json (borrowed) into *out (release with dm_ref_free). CORE_OK, or
 * CORE_EINVAL saying what is missing or malformed (a format 1 reference, without
 * "columns", is refused: it describes the net's preprocessed inputs, which events do
 * not carry). */
enum core_status dm_ref_parse(json_t *doc, struct dm_ref *out, struct core_error *err);
void dm_ref_free(struct dm_ref *r);

/* --- event.c: a prediction event for a window, pure ------------------------------------ */

#define DM_EVENT_VALUES DM_FEATURES_MAX /* features (or prediction outputs) of one event read */
#define DM_NUM_TEXT     32              /* a number's text, as a category */

struct dm_str { /* bytes in the event's text or tree, not NUL-terminated; p NULL: absent */
	const char *p;
	size_t n;
};

enum dm_val_kind { DM_VAL_MISSING, DM_VAL_NUM, DM_VAL_STR };

struct dm_value {
	struct dm_str name; /* a feature's or image member's name */
	enum dm_val_kind kind;
	double num;             /* DM_VAL_NUM */
	char text[DM_NUM_TEXT]; /* DM_VAL_NUM: its text (a category's name) */
	struct dm_str str;      /* DM_VAL_STR */
};

struct dm_event {
	struct dm_str type, model, version, request_id, timestamp, role, label;
	int64_t row;
	struct dm_value probability;
	bool image;                     /* values are the image summary, else the features */
	struct dm_value *values, *pred; /* DM_EVENT_VALUES each (dm_event_init) */
	size_t n_values, n_pred;
};

void dm_event_init(struct dm_event *ev);
void dm_event_free(struct dm_event *ev);
void dm_event_reset(struct dm_event *ev);
/* Reads the CloudEvent text[0..len) into *ev (pointing into text). false when the text
 * is not in the common form (an escape in a string, deep nesting, too many values,
 * malformed): read it with bus_event_parse and dm_event_of_json instead. */
bool dm_event_scan(const char *text, size_t len, struct dm_event *ev);
/* dm_event_scan without the values (features, image, probability, prediction: skipped,
 * checked for form only): what groups an event (type, model, version, role, time). It
 * stops as soon as it has all five (type before data, as CloudEvents are written), so
 * what follows is checked only by dm_event_scan. */
bool dm_event_scan_head(const char *text, size_t len, struct dm_event *ev);
/* The same from a parsed event (borrowed; ev points into it). */
void dm_event_of_json(json_t *event, struct dm_event *ev);
/* Whether s holds exactly the C string c. */
bool dm_str_is(struct dm_str s, const char *c);
/* Whether ev, read whole (dm_event_scan or dm_event_of_json), is what its head said: a
 * served prediction (type lathe.prediction, role serve) of model and version, made at
 * timestamp (the head's bytes; p NULL: none). A member given twice is read last-wins by
 * both readers, but the head may stop before the second one: such an event says two
 * things, and is skipped rather than grouped by one and applied by the other. */
bool dm_event_agrees(const struct dm_event *ev, const char *model, const char *version, struct dm_str timestamp);

/* --- window.c: a monitor's window, pure ----------------------------------------------- */

#define DM_SAMPLE_MAX  10000 /* values a window keeps per numeric column (a reservoir) */
#define DM_CATS_MAX    1000  /* categories a window counts per column; more go to DM_OTHER */
#define DM_LABEL_MAX   256   /* bytes of a category a window counts; longer go to DM_OTHER */
#define DM_DEDUPE_KEYS 4096  /* request keys per generation; two generations are kept */
#define DM_OTHER       "(other)"

struct dm_win_col {
	double *res; /* numerical: the reservoir (DM_SAMPLE_MAX once used) */
	size_t n_res;
	uint64_t seen;             /* numerical: finite values added */
	struct dm_ref_label *cats; /* categorical: counted categories, sorted bytewise */
	size_t k;
	uint64_t other;   /* categorical: values past DM_CATS_MAX or DM_LABEL_MAX */
	uint64_t missing; /* null, absent or unreadable values */
};

struct dm_window {
	const struct dm_ref *ref; /* borrowed: the columns (ref->cols, then ref->pred) */
	struct dm_win_col *cols;
	uint64_t rows;            /* predictions added */
	int64_t start_ms, end_ms; /* the first and last prediction's time (Unix ms) */
	uint64_t rng;             /* the reservoir's generator state */
	uint64_t *keys[2];        /* dedupe sets: [0] the newer generation */
	size_t n_keys;            /* keys in keys[0] */
	uint64_t duplicates;      /* predictions refused as seen before */
	int32_t partition;        /* the Kafka position of the last event applied (-1: none): */
	int64_t offset;           /* a redelivered batch is recognised by it */
};

enum dm_add { DM_ADDED, DM_DUPLICATE };

/* An empty window over ref's columns (borrowed: it must outlive the window). */
void dm_window_init(struct dm_window *w, const struct dm_ref *ref, int64_t now_ms);
void dm_window_clear(struct dm_window *w);
/* Empties the window for the next one; the dedupe keys and the Kafka position stay. */
void dm_window_restart(struct dm_window *w, int64_t now_ms);
/* Adds an event made at at_ms: DM_DUPLICATE when its request id, row and role were
 * added before (within the last DM_DEDUPE_KEYS..2x of them). */
enum dm_add dm_window_add_event(struct dm_window *w, const struct dm_event *ev, int64_t at_ms);
/* The dedupe key of an event with a request id (never 0): the hash of its request id,
 * row and role, as saved windows hold it. */
uint64_t dm_window_event_key(const struct dm_event *ev);
/* The same for an event's data member (borrowed), through dm_event_of_json. */
enum dm_add dm_window_add(struct dm_window *w, json_t *data, int64_t at_ms);
/* The window against its reference: Evidently's table (table.c) of the input columns
 * with the monitor's overrides (the features object, borrowed, may be NULL) and
 * drift_share, plus "predictions": {"columns": rows} (Evidently's defaults). A column
 * with no value in the window gets a row with a null score, drift_detected false and a
 * "note". *doc owned. CORE_OK, or the failure of a statistic (err says which). */
enum core_status dm_window_report(const struct dm_window *w, json_t *overrides, double drift_share, json_t **doc,
				  struct core_error *err);
/* Appends the window's state to out (binary, versioned). CORE_OK or out's failure. */
enum core_status dm_window_save(const struct dm_window *w, struct core_buf *out);
/* A window from what dm_window_save wrote, over ref (the same reference). CORE_OK, or
 * CORE_EINVAL for bytes that do not read back as a window of ref (w is then cleared). */
enum core_status dm_window_load(struct dm_window *w, const struct dm_ref *ref, const void *data, size_t len,
				struct core_error *err);

/* --- stream.c: predictions into windows ------------------------------------------------- */

/* Events per batch (one transaction makes a batch durable) and how long a batch waits
 * for more after its first: a trickle is applied within that, a flood in batches. Each
 * transaction rewrites the windows it changed (a window of 10,000 rows of 20 columns
 * is ~1.7 MB), so a larger batch costs less per event: 5,000 -> 20,000 took a catch-up
 * from 79k to 109k events/s; librdkafka holds the messages anyway. */
#define DM_STREAM_BATCH_MAX     20000
#define DM_STREAM_BATCH_WAIT_MS 200

/* The stream's state (the models it has seen, their windows) and its gauges, created in
 * reg. */
struct dm_stream *dm_stream_new(struct metrics_registry *reg);
void dm_stream_free(struct dm_stream *st);
/* The consumer's batch handler (svc_consumer_def.handle_batch). */
enum bus_handled dm_stream_batch(struct svc *svc, void *app, const struct bus_message *ms, size_t n);
/* Closes the windows by time that are due (a periodic task). */
void dm_stream_tick(struct svc *svc, void *app);

/* --- peers.c: the other services ------------------------------------------------------ */

/* A version's lineage {model, version, run_id, artifact_uri, job_id?, dataset?,
 * dataset_version?, params (the run's)} into *out (owned). CORE_EIO: a peer did not answer; CORE_EINVAL:
 * unknown version, no run. */
enum core_status dm_peer_lineage(const struct dm_settings *s, const char *model, const char *version, json_t **out,
				 struct core_error *err);
/* reference.json of the lineage's run into *doc (owned). CORE_EIO or CORE_EINVAL. */
enum core_status dm_peer_reference(const struct dm_settings *s, json_t *lineage, json_t **doc, struct core_error *err);
/* The job spec to retrain model with, pure: a copy of spec (the serving version's job)
 * on its dataset's latest version ("<name>@latest"), registered as {model, alias
 * challenger}, without its sweep (one training: when the version is a trial's, the
 * trial's point, recognised in params (its run's, or NULL), set first), named "retrain <model> (drift)" (the
 * model's name cut at a character's start so the run name fits the trainer's 250
 * bytes). Owned. */
json_t *dm_retrain_spec(json_t *spec, const char *model, json_t *params);
/* Submits the retraining job of model version (the spec of the job that trained it, on
 * the dataset's latest version, registered with alias challenger): *job_id (malloc'd).
 * CORE_EIO: ask again later; CORE_EINVAL: it cannot be done (message says why). */
enum core_status dm_peer_retrain(const struct dm_settings *s, const char *model, const char *version,
				 const char *request_id, char **job_id, struct core_error *err);

/* --- retrain.c: the retrain task -------------------------------------------------------- */

/* Sends pending retraining requests to the trainer, oldest first (a periodic task). */
void dm_retrain_run(struct svc *svc, void *app);
long dm_retrain_every(const void *settings_app);

/* --- q_monitors.c: monitors ---------------------------------------------------------
 * Every function runs one statement on a connection inside the caller's db_run_tx body
 * and returns db_exec's result: a row count (>= 0) or a negative db_status. Functions
 * with a res hand the rows (DM_MONITOR_COLS) to the caller, who PQclears. */

#define DM_MONITOR_COLS                                                                                                \
	"m.id, m.model, m.window_size, m.window_seconds, m.features::text, m.drift_share, m.alert_policy, "            \
	"m.alert_cooldown_s, m.created_at, m.updated_at"

/* Inserts the monitor unless its model has one: 1 written, 0 the model is taken. */
int dm_q_monitor_insert(struct db_conn *c, const char *id, const struct dm_spec *s, int64_t now,
			struct core_error *err);
int dm_q_monitor_get(struct db_conn *c, const char *id, PGresult **res, struct core_error *err);
/* A page newest first, after the keyset of page (if any), of model when not NULL. */
int dm_q_monitor_list(struct db_conn *c, const char *model, const struct svc_page *page, long limit, PGresult **res,
		      struct core_error *err);
/* Sets what the patch gives (has_*) and updated_at = now; the row after it in *res.
 * 0: no such monitor. */
int dm_q_monitor_update(struct db_conn *c, const char *id, const struct dm_spec *patch, int64_t now, PGresult **res,
			struct core_error *err);
/* Deletes the monitor (its reports go with it). 0: no such monitor. */
int dm_q_monitor_delete(struct db_conn *c, const char *id, struct core_error *err);
/* The model's monitor (0 or 1 row): DM_MONITOR_COLS, then last_alert_at (NULL: never). */
int dm_q_monitor_of_model(struct db_conn *c, const char *model, PGresult **res, struct core_error *err);
/* Records an alert at `at` (the cooldown counts from it). */
int dm_q_monitor_alerted(struct db_conn *c, const char *id, int64_t at, struct core_error *err);

/* --- q_reports.c: reports ------------------------------------------------------------ */

#define DM_REPORT_COLS                                                                                                 \
	"r.id, r.monitor_id, r.model, r.model_version, r.window_start, r.window_end, r.rows, r.dataset_drift, "        \
	"r.share_of_drifted_columns, r.created_at"

/* The report's row: DM_REPORT_COLS, then r.report::text. */
int dm_q_report_get(struct db_conn *c, const char *id, PGresult **res, struct core_error *err);
/* A page newest first (DM_REPORT_COLS), of monitor_id when not NULL, created at or
 * after since when since >= 0. */
int dm_q_report_list(struct db_conn *c, const char *monitor_id, int64_t since, const struct svc_page *page, long limit,
		     PGresult **res, struct core_error *err);

/* A report as written: its summary columns and the document (borrowed). */
struct dm_report_row {
	const char *id, *monitor_id, *model, *version;
	int64_t window_start, window_end, rows, created_at;
	bool dataset_drift;
	double share;
	json_t *doc;
};
int dm_q_report_insert(struct db_conn *c, const struct dm_report_row *r, struct core_error *err);

/* --- q_windows.c: windows and retraining requests ------------------------------------ */

/* The monitor's saved window (0 or 1 row): model_version, state (text form: decode it
 * with dm_q_window_state). */
int dm_q_window_get(struct db_conn *c, const char *monitor_id, PGresult **res, struct core_error *err);
/* The state bytes of row (malloc'd by libpq: release with PQfreemem), *len its size. */
unsigned char *dm_q_window_state(const PGresult *res, int row, size_t *len);
/* Writes the monitor's window (insert or replace). */
int dm_q_window_put(struct db_conn *c, const char *monitor_id, const char *version, int64_t rows, const void *state,
		    size_t len, int64_t now, struct core_error *err);
/* A PENDING request for the report's model version. */
int dm_q_retrain_insert(struct db_conn *c, const char *id, const char *monitor_id, const char *report_id,
			const char *model, const char *version, int64_t now, struct core_error *err);
/* The oldest PENDING request (0 or 1 row: id, model, model_version, attempts), locked
 * FOR UPDATE SKIP LOCKED. */
int dm_q_retrain_next(struct db_conn *c, PGresult **res, struct core_error *err);
/* Sets a request's status (job_id, failure may be NULL) and counts the attempt. */
int dm_q_retrain_update(struct db_conn *c, const char *id, const char *status, const char *job_id, const char *failure,
			int64_t now, struct core_error *err);
/* The report's request (0 or 1 row: id, status, job_id, failure). */
int dm_q_retrain_of_report(struct db_conn *c, const char *report_id, PGresult **res, struct core_error *err);

/* --- entities.c: JSON from rows ------------------------------------------------------ */

/* The Monitor object of row (DM_MONITOR_COLS), or NULL for an unreadable row. Owned. */
json_t *dm_monitor_json(const PGresult *res, int row);
/* The Report object of row (DM_REPORT_COLS); with_document: the row also holds the
 * report's text (column 10), answered as "result". NULL for an unreadable row. Owned. */
json_t *dm_report_json(const PGresult *res, int row, bool with_document);
/* Renders rows [0, min(rc, page->limit)) of res with render into items (a list query
 * asks for page->limit + 1 rows: one more says another page follows); when rc exceeds
 * page->limit, *next gets the token of the last row handed out (its created_at in
 * column created_col, its id in column 0; malloc'd). Returns rc, or DB_HARD_ERROR with
 * err naming the row that could not be read. */
int dm_page_collect(int rc, const PGresult *res, const struct svc_page *page, json_t *(*render)(const PGresult *, int),
		    int created_col, json_t *items, char **next, struct core_error *err);
/* Replies 200 {"<key>": items, "next_page_token": next} (no token when next is NULL).
 * items borrowed. */
void dm_reply_page(struct http_request *req, const char *key, json_t *items, const char *next);
/* Answers a transaction that read one entity: 'status {"<key>": entity}', or the
 * failure (rc < 0, or no entity: 500). entity stolen. */
void dm_reply_entity(struct http_request *req, unsigned status, const char *key, int rc, json_t *entity,
		     const struct svc_fail *f, const struct core_error *err);
/* The 404 of an unknown monitor or report, recorded in f; returns DB_ROLLBACK. */
int dm_fail_no_monitor(struct svc_fail *f, const char *id);
int dm_fail_no_report(struct svc_fail *f, const char *id);

#endif
