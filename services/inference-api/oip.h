/* oip.c's face (prefix ia_oip_): the Open Inference Protocol v2's tensors as they travel
 * over REST, with nothing of HTTP or of models in it. An infer request body (JSON, or
 * JSON followed by the binary tensor data extension's tail) becomes a struct
 * ia_oip_request of typed, shape-checked tensors; a response becomes JSON, or JSON plus
 * a binary tail for the outputs asked for as binary. h_oip.c sits between these and
 * the model (prep.c, infer.c). Pure and thread-safe; every function here is unit-tested
 * (tests/unit/services/inference-api/test_oip.c). */
#ifndef IA_OIP_H
#define IA_OIP_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/status.h"

/* The protocol's datatypes. BF16 and FP16 travel as binary data in practice; from JSON
 * they are taken as numbers. */
enum ia_oip_dtype {
	IA_OIP_BOOL = 1,
	IA_OIP_UINT8,
	IA_OIP_UINT16,
	IA_OIP_UINT32,
	IA_OIP_UINT64,
	IA_OIP_INT8,
	IA_OIP_INT16,
	IA_OIP_INT32,
	IA_OIP_INT64,
	IA_OIP_FP16,
	IA_OIP_BF16,
	IA_OIP_FP32,
	IA_OIP_FP64,
	IA_OIP_BYTES,
};

/* Dimensions a tensor may have. */
#define IA_OIP_MAX_DIMS 8

/* Returns the datatype named name ("FP32"; case-sensitive as the protocol), or 0. */
enum ia_oip_dtype ia_oip_dtype_parse(const char *name);
/* Returns the protocol's name of t ("FP32"), or "?" for a value outside the enum. */
const char *ia_oip_dtype_name(enum ia_oip_dtype t);
/* Returns the bytes of one element of t in binary data; 0 for BYTES (variable). */
size_t ia_oip_dtype_size(enum ia_oip_dtype t);
/* True for the floating-point datatypes. */
bool ia_oip_dtype_is_float(enum ia_oip_dtype t);

/* One input tensor of a request. Values are held as doubles whatever the datatype
 * (integers beyond 2^53 round; the nets compute in float anyway); BYTES elements as
 * NUL-terminated strings (which may hold NULs of their own when they came as binary:
 * str_len says how long each is). */
struct ia_oip_input {
	char *name;
	enum ia_oip_dtype dtype;
	size_t ndim;
	int64_t shape[IA_OIP_MAX_DIMS];
	size_t count;       /* elements: the product of shape */
	double *num;        /* [count], every datatype but BYTES; NULL for BYTES */
	char **str;         /* [count], BYTES only: pointers into one pool */
	size_t *str_len;    /* [count], BYTES only */
	json_t *parameters; /* the input's "parameters" object, or NULL */
	bool binary;        /* it came as binary data */
};

/* One entry of the request's "outputs". */
struct ia_oip_output_req {
	char *name;
	int binary;         /* parameters.binary_data: 1 true, 0 false, -1 not given */
	json_t *parameters; /* or NULL */
};

struct ia_oip_request {
	char *id;           /* "id", or NULL when the request gave none */
	json_t *parameters; /* the request's "parameters" object, or NULL */
	bool binary_output; /* parameters.binary_data_output */
	struct ia_oip_input *inputs;
	size_t n_inputs;
	struct ia_oip_output_req *outputs; /* NULL when the request named none: all of them */
	size_t n_outputs;
};

/* Parses an infer request.
 *   body, len     the whole HTTP body (borrowed; need not be NUL-terminated)
 *   header_len    the Inference-Header-Content-Length header's value, or NULL: then the
 *                 whole body is the JSON object and no input may be binary
 *   out           [out] on CORE_OK, owned by the caller (ia_oip_request_free); on
 *                 failure left empty (nothing to free, but freeing it is harmless)
 * The JSON part is one object: "inputs" (required, non-empty; each with "name",
 * "datatype", "shape" and either "data" -- row-major, flat or nested exactly as the
 * shape -- or parameters.binary_data_size), "id", "parameters", "outputs". Binary data
 * follow the JSON in the inputs' order and must add up to the rest of the body
 * exactly; BYTES elements are 4-byte little-endian lengths followed by the bytes.
 * Integer datatypes take only integral values in their range, BOOL true/false (or 0/1),
 * BYTES strings. Returns CORE_OK; CORE_EINVAL with err naming the input and what is
 * wrong (for a 400); CORE_ENOMEM. */
enum core_status ia_oip_parse(const char *body, size_t len, const char *header_len, struct ia_oip_request *out,
			      struct core_error *err);
void ia_oip_request_free(struct ia_oip_request *r);

/* Returns the request's input named name, or NULL. */
const struct ia_oip_input *ia_oip_input_find(const struct ia_oip_request *r, const char *name);

/* Decides which outputs a response carries and in what form.
 *   names, n      the outputs the model has
 *   order         [out] at least n entries: indexes into names, in the response's
 *                 order (the request's, or the model's when it named none)
 *   binary        [out] n entries, by index into names: send that output as binary
 * Returns how many outputs to send (written to *count), CORE_OK; CORE_EINVAL when the
 * request names an output the model does not have, or one twice. */
enum core_status ia_oip_pick_outputs(const struct ia_oip_request *r, const char *const *names, size_t n, size_t *order,
				     bool *binary, size_t *count, struct core_error *err);

/* An output tensor to render: FP32 values, or BYTES strings (NUL-terminated). */
struct ia_oip_output {
	const char *name;
	enum ia_oip_dtype dtype; /* IA_OIP_FP32 or IA_OIP_BYTES */
	size_t ndim;
	int64_t shape[IA_OIP_MAX_DIMS];
	const float *f32;        /* FP32: product of shape values */
	const char *const *strs; /* BYTES: product of shape strings */
	bool binary;             /* as binary data (parameters.binary_data_size) */
};

/* Renders an infer response into body (appended; its ceiling applies):
 * {"model_name","model_version","id"?,"outputs":[...]} then the binary outputs' bytes
 * in the outputs' order. *json_len gets the JSON part's length (== body->len - start
 * when nothing is binary): the Inference-Header-Content-Length to send when they
 * differ. model_version and id may be NULL (left out). Floats are written in the
 * shortest form that reads back as the same float. Returns CORE_OK; CORE_ELIMIT or
 * CORE_ENOMEM from the buffer; CORE_EINVAL for a dtype it cannot render. */
enum core_status ia_oip_render(const char *model, const char *version, const char *id, const struct ia_oip_output *outs,
			       size_t n, struct core_buf *body, size_t *json_len, struct core_error *err);

/* Reads the JSON number at p (before end) into *v, as the OIP parser reads numbers;
 * returns the bytes it took, 0 when p holds no well-formed number. */
size_t ia_json_number(const char *p, const char *end, double *v);

/* Writes f as the shortest decimal that reads back (strtof) as exactly f, in JSON's
 * spelling; out: at least 32 bytes. Returns the length. Non-finite values: "null". */
size_t ia_oip_fmt_float(float f, char *out);

/* --- h_oip.c: the OIP v2 REST routes (routes.c points at them; app is the struct svc *).
 * Declared here until ia.h gains them. */
struct http_request;
void ia_h_server_meta(struct http_request *req, void *app); /* GET /v2 */
void ia_h_live(struct http_request *req, void *app);        /* GET /v2/health/live */
void ia_h_ready(struct http_request *req, void *app);       /* GET /v2/health/ready */
void ia_h_model_meta(struct http_request *req, void *app);  /* GET /v2/models/{model}[/versions/{version}] */
void ia_h_model_ready(struct http_request *req, void *app); /* GET .../ready */
void ia_h_infer(struct http_request *req, void *app);       /* POST .../infer */
#endif
