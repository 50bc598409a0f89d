/* Open Inference Protocol v2 tensors over REST, pure (oip.h says what each function
 * promises). An infer request is parsed by hand at its top level and per input, so that
 * a `data` array of hundreds of numbers is read by one scanner straight into doubles,
 * without a jansson node per number (the benchmark's 784-pixel image is the common
 * request); the small, rare parts (parameters, outputs, shape, unknown members) go
 * through jansson, which json_loadb with JSON_DISABLE_EOF_CHECK lets us call on a
 * member in place. Numbers take the exact fast path (mantissa < 2^53 times a power of
 * ten up to 22) and fall back to strtod otherwise. The binary tensor data extension
 * (Triton's extension_binary_data.md): Inference-Header-Content-Length splits the body
 * into the JSON object and a tail holding the inputs with parameters.binary_data_size,
 * in input order, little-endian, BYTES as 4-byte lengths and bytes; sizes must add up
 * exactly. Responses are written with core_buf, binary outputs after the JSON. */
#include "oip.h"
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	enum ia_oip_dtype t;
	size_t size;
} ia_oip_dtypes[] = {
	{"BOOL", IA_OIP_BOOL, 1},     {"UINT8", IA_OIP_UINT8, 1},   {"UINT16", IA_OIP_UINT16, 2},
	{"UINT32", IA_OIP_UINT32, 4}, {"UINT64", IA_OIP_UINT64, 8}, {"INT8", IA_OIP_INT8, 1},
	{"INT16", IA_OIP_INT16, 2},   {"INT32", IA_OIP_INT32, 4},   {"INT64", IA_OIP_INT64, 8},
	{"FP16", IA_OIP_FP16, 2},     {"BF16", IA_OIP_BF16, 2},     {"FP32", IA_OIP_FP32, 4},
	{"FP64", IA_OIP_FP64, 8},     {"BYTES", IA_OIP_BYTES, 0},
};
#define N_DTYPES (sizeof ia_oip_dtypes / sizeof ia_oip_dtypes[0])

enum ia_oip_dtype ia_oip_dtype_parse(const char *name)
{
	for (size_t i = 0; name && i < N_DTYPES; i++)
		if (strcmp(name, ia_oip_dtypes[i].name) == 0)
			return ia_oip_dtypes[i].t;
	return 0;
}

const char *ia_oip_dtype_name(enum ia_oip_dtype t)
{
	for (size_t i = 0; i < N_DTYPES; i++)
		if (ia_oip_dtypes[i].t == t)
			return ia_oip_dtypes[i].name;
	return "?";
}

size_t ia_oip_dtype_size(enum ia_oip_dtype t)
{
	for (size_t i = 0; i < N_DTYPES; i++)
		if (ia_oip_dtypes[i].t == t)
			return ia_oip_dtypes[i].size;
	return 0;
}

bool ia_oip_dtype_is_float(enum ia_oip_dtype t)
{
	return t == IA_OIP_FP16 || t == IA_OIP_BF16 || t == IA_OIP_FP32 || t == IA_OIP_FP64;
}

/* --- scanning ------------------------------------------------------------------- */

struct scan {
	const char *p, *end;
	struct core_error *err;
};

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

static int peek(struct scan *s)
{
	skip_ws(s);
	return s->p < s->end ? (unsigned char)*s->p : -1;
}

static enum core_status expect(struct scan *s, char c, const char *where)
{
	if (peek(s) != (unsigned char)c)
		return core_fail(s->err, CORE_EINVAL, "malformed JSON: expected '%c' %s", c, where);
	s->p++;
	return CORE_OK;
}

static const double ia_oip_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
				      1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Reads one JSON number at s->p into *v. Exact: the fast path only when the decimal
 * mantissa and the power of ten are both exact doubles (then one rounding), strtod
 * otherwise. */
static enum core_status scan_number(struct scan *s, double *v)
{
	const char *p = s->p, *start = p, *end = s->end;
	bool neg = false;
	uint64_t m = 0;
	int digits = 0, exp10 = 0;
	if (p < end && *p == '-') {
		neg = true;
		p++;
	}
	if (p >= end || *p < '0' || *p > '9')
		goto bad;
	if (*p == '0') {
		p++;
	} else {
		while (p < end && *p >= '0' && *p <= '9') {
			if (digits < 19) {
				m = m * 10 + (uint64_t)(*p - '0');
				digits += m != 0;
			} else {
				exp10++;
				digits++;
			}
			p++;
		}
	}
	if (p < end && *p == '.') {
		p++;
		if (p >= end || *p < '0' || *p > '9')
			goto bad;
		while (p < end && *p >= '0' && *p <= '9') {
			if (digits < 19) {
				m = m * 10 + (uint64_t)(*p - '0');
				digits += m != 0;
				exp10--;
			} else {
				digits++;
			}
			p++;
		}
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		bool eneg = false;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		if (p >= end || *p < '0' || *p > '9')
			goto bad;
		int e = 0;
		while (p < end && *p >= '0' && *p <= '9') {
			if (e < 100000)
				e = e * 10 + (*p - '0');
			p++;
		}
		exp10 += eneg ? -e : e;
	}
	s->p = p;
	if (digits <= 19 && m <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
		double d = (double)m;
		d = exp10 < 0 ? d / ia_oip_pow10[-exp10] : d * ia_oip_pow10[exp10];
		*v = neg ? -d : d;
		return CORE_OK;
	}
	/* The rare long or far number: strtod on a NUL-terminated copy. */
	size_t n = (size_t)(p - start);
	char small[64], *copy = n < sizeof small ? small : malloc(n + 1);
	if (!copy)
		return core_fail(s->err, CORE_ENOMEM, "out of memory reading a number");
	memcpy(copy, start, n);
	copy[n] = 0;
	*v = strtod(copy, NULL);
	if (copy != small)
		free(copy);
	return CORE_OK;
bad:
	return core_fail(s->err, CORE_EINVAL, "malformed JSON: a bad number");
}

size_t ia_json_number(const char *p, const char *end, double *v)
{
	/* no message wanted: a core_error per number would be 512 bytes zeroed each time */
	struct scan s = {.p = p, .end = end, .err = NULL};
	return scan_number(&s, v) == CORE_OK ? (size_t)(s.p - p) : 0;
}

/* Moves s->p past one JSON string starting at its '"'; *plain tells whether it holds no
 * escape and no byte outside printable ASCII (then its bytes are its value). */
static enum core_status scan_string_span(struct scan *s, const char **start, size_t *len, bool *plain)
{
	const char *p = s->p + 1;
	bool pl = true;
	for (;;) {
		if (p >= s->end)
			return core_fail(s->err, CORE_EINVAL, "malformed JSON: a string does not end");
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			break;
		if (c == '\\') {
			pl = false;
			p += 2;
			continue;
		}
		if (c < 0x20)
			return core_fail(s->err, CORE_EINVAL, "malformed JSON: a control character in a string");
		if (c >= 0x80)
			pl = false;
		p++;
	}
	*start = s->p;
	*len = (size_t)(p + 1 - s->p);
	*plain = pl;
	s->p = p + 1;
	return CORE_OK;
}

/* Reads a JSON string into out (up to size bytes with the NUL; *n gets its length).
 * The plain ones are copied; the others are decoded and checked by jansson. */
static enum core_status scan_string_into(struct scan *s, char *out, size_t size, size_t *n)
{
	const char *start;
	size_t len;
	bool plain;
	if (peek(s) != '"')
		return core_fail(s->err, CORE_EINVAL, "malformed JSON: expected a string");
	enum core_status rc = scan_string_span(s, &start, &len, &plain);
	if (rc != CORE_OK)
		return rc;
	if (plain) {
		if (len - 2 >= size)
			return core_fail(s->err, CORE_ELIMIT, "a string is too long");
		memcpy(out, start + 1, len - 2);
		out[len - 2] = 0;
		*n = len - 2;
		return CORE_OK;
	}
	json_error_t je;
	json_t *j = json_loadb(start, len, JSON_DECODE_ANY, &je);
	if (!j)
		return core_fail(s->err, CORE_EINVAL, "malformed JSON string: %s", je.text);
	size_t jl = json_string_length(j);
	if (jl >= size) {
		json_decref(j);
		return core_fail(s->err, CORE_ELIMIT, "a string is too long");
	}
	memcpy(out, json_string_value(j), jl);
	out[jl] = 0;
	*n = jl;
	json_decref(j);
	return CORE_OK;
}

/* A string value as a malloc'd NUL-terminated copy (no NULs inside: \u0000 refused). */
static enum core_status scan_string_dup(struct scan *s, char **out)
{
	const char *save = s->p;
	if (peek(s) != '"')
		return core_fail(s->err, CORE_EINVAL, "expected a string");
	const char *start;
	size_t len;
	bool plain;
	enum core_status rc = scan_string_span(s, &start, &len, &plain);
	if (rc != CORE_OK)
		return rc;
	char *buf = malloc(len);
	if (!buf)
		return core_fail(s->err, CORE_ENOMEM, "out of memory");
	size_t n;
	s->p = save;
	rc = scan_string_into(s, buf, len, &n);
	if (rc == CORE_OK && strlen(buf) != n)
		rc = core_fail(s->err, CORE_EINVAL, "a string holds a NUL character");
	if (rc != CORE_OK) {
		free(buf);
		return rc;
	}
	*out = buf;
	return CORE_OK;
}

/* An object or array at s->p through jansson, in place. *out: new reference. */
static enum core_status scan_json(struct scan *s, json_t **out)
{
	json_error_t je;
	int c = peek(s);
	if (c != '{' && c != '[')
		return core_fail(s->err, CORE_EINVAL, "expected an object or an array");
	json_t *j = json_loadb(s->p, (size_t)(s->end - s->p), JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return core_fail(s->err, CORE_EINVAL, "malformed JSON: %s", je.text);
	s->p += je.position;
	*out = j;
	return CORE_OK;
}

/* Skips one value of any kind, checking it is well-formed. */
static enum core_status scan_skip(struct scan *s)
{
	int c = peek(s);
	if (c == '{' || c == '[') {
		json_t *j;
		enum core_status rc = scan_json(s, &j);
		json_decref(j);
		return rc;
	}
	if (c == '"') {
		const char *start;
		size_t len;
		bool plain;
		enum core_status rc = scan_string_span(s, &start, &len, &plain);
		if (rc != CORE_OK || plain)
			return rc;
		json_error_t je;
		json_t *j = json_loadb(start, len, JSON_DECODE_ANY, &je);
		if (!j)
			return core_fail(s->err, CORE_EINVAL, "malformed JSON string: %s", je.text);
		json_decref(j);
		return CORE_OK;
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		double v;
		return scan_number(s, &v);
	}
	static const char *const lits[] = {"true", "false", "null"};
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(lits[i]);
		if ((size_t)(s->end - s->p) >= n && memcmp(s->p, lits[i], n) == 0) {
			s->p += n;
			return CORE_OK;
		}
	}
	return core_fail(s->err, CORE_EINVAL, "malformed JSON: unexpected %s", c < 0 ? "end of input" : "character");
}

/* Finds the end of an array quickly (brackets and strings only); the real parse, which
 * checks everything, comes later. */
static enum core_status scan_find_end(struct scan *s)
{
	int depth = 0;
	const char *p = s->p;
	while (p < s->end) {
		char c = *p;
		if (c == '"') {
			p++;
			while (p < s->end && *p != '"')
				p += *p == '\\' ? 2 : 1;
		} else if (c == '[' || c == '{') {
			depth++;
		} else if (c == ']' || c == '}') {
			if (--depth == 0) {
				s->p = p + 1;
				return CORE_OK;
			}
		}
		p++;
	}
	return core_fail(s->err, CORE_EINVAL, "malformed JSON: an array does not end");
}

/* --- one input's data ------------------------------------------------------------ */

static bool ia_oip_fits(enum ia_oip_dtype t, double v)
{
	if (t == IA_OIP_FP64)
		return isfinite(v);
	if (t == IA_OIP_FP32 || t == IA_OIP_BF16)
		return fabs(v) <= FLT_MAX;
	if (t == IA_OIP_FP16)
		return fabs(v) <= 65504.0;
	if (v != floor(v))
		return false;
	switch (t) {
	case IA_OIP_BOOL:
		return v == 0 || v == 1;
	case IA_OIP_UINT8:
		return v >= 0 && v <= 255;
	case IA_OIP_UINT16:
		return v >= 0 && v <= 65535;
	case IA_OIP_UINT32:
		return v >= 0 && v <= 4294967295.0;
	case IA_OIP_UINT64:
		return v >= 0 && v < 18446744073709551616.0;
	case IA_OIP_INT8:
		return v >= -128 && v <= 127;
	case IA_OIP_INT16:
		return v >= -32768 && v <= 32767;
	case IA_OIP_INT32:
		return v >= -2147483648.0 && v <= 2147483647.0;
	case IA_OIP_INT64:
		return v >= -9223372036854775808.0 && v < 9223372036854775808.0;
	default:
		return false;
	}
}

struct data_ctx {
	struct scan *s;
	struct ia_oip_input *in;
	size_t i;   /* next element */
	char *pool; /* BYTES: decoded strings, NUL-terminated */
	size_t pool_used, pool_size;
	size_t *offs; /* BYTES: each string's offset in pool */
};

static enum core_status too_many(struct scan *s, const struct ia_oip_input *in)
{
	return core_fail(s->err, CORE_EINVAL, "input '%s': data has more than the %zu elements of its shape", in->name,
			 in->count);
}

static enum core_status data_scalar(struct data_ctx *d)
{
	struct scan *s = d->s;
	struct ia_oip_input *in = d->in;
	int c = peek(s);
	if (in->dtype == IA_OIP_BYTES) {
		if (c != '"')
			return core_fail(s->err, CORE_EINVAL,
					 "input '%s': element %zu is not a string (datatype BYTES)", in->name, d->i);
		size_t n;
		enum core_status rc = scan_string_into(s, d->pool + d->pool_used, d->pool_size - d->pool_used, &n);
		if (rc != CORE_OK)
			return rc;
		if (d->i >= in->count)
			return too_many(s, in);
		d->offs[d->i] = d->pool_used;
		in->str_len[d->i] = n;
		d->pool_used += n + 1;
		d->i++;
		return CORE_OK;
	}
	double v;
	if (c == '-' || (c >= '0' && c <= '9')) {
		enum core_status rc = scan_number(s, &v);
		if (rc != CORE_OK)
			return rc;
	} else if (in->dtype == IA_OIP_BOOL && c == 't' && s->end - s->p >= 4 && memcmp(s->p, "true", 4) == 0) {
		v = 1;
		s->p += 4;
	} else if (in->dtype == IA_OIP_BOOL && c == 'f' && s->end - s->p >= 5 && memcmp(s->p, "false", 5) == 0) {
		v = 0;
		s->p += 5;
	} else {
		return core_fail(s->err, CORE_EINVAL, "input '%s': element %zu is not a number (datatype %s)", in->name,
				 d->i, ia_oip_dtype_name(in->dtype));
	}
	if (d->i >= in->count)
		return too_many(s, in);
	if (!ia_oip_fits(in->dtype, v))
		return core_fail(s->err, CORE_EINVAL, "input '%s': element %zu (%.17g) is not a %s value", in->name,
				 d->i, v, ia_oip_dtype_name(in->dtype));
	in->num[d->i++] = v;
	return CORE_OK;
}

/* One array of the nested form at dimension dim: exactly shape[dim] members, scalars at
 * the last dimension, arrays above it. */
static enum core_status data_nested(struct data_ctx *d, size_t dim)
{
	struct scan *s = d->s;
	struct ia_oip_input *in = d->in;
	enum core_status rc = expect(s, '[', "(nested data)");
	if (rc != CORE_OK)
		return core_fail(s->err, CORE_EINVAL,
				 "input '%s': data is nested less deeply than its shape [%zu dims]", in->name,
				 in->ndim);
	size_t k = 0;
	if (peek(s) == ']') {
		s->p++;
	} else {
		for (;;) {
			if (dim + 1 < in->ndim) {
				rc = data_nested(d, dim + 1);
			} else if (peek(s) == '[') {
				rc = core_fail(s->err, CORE_EINVAL,
					       "input '%s': data is nested more deeply than its shape", in->name);
			} else {
				rc = data_scalar(d);
			}
			if (rc != CORE_OK)
				return rc;
			k++;
			int c = peek(s);
			if (c == ',') {
				s->p++;
				continue;
			}
			if (c == ']') {
				s->p++;
				break;
			}
			return core_fail(s->err, CORE_EINVAL, "malformed JSON in input '%s' data", in->name);
		}
	}
	if ((int64_t)k != in->shape[dim])
		return core_fail(s->err, CORE_EINVAL,
				 "input '%s': data has %zu members at dimension %zu, shape says %lld", in->name, k, dim,
				 (long long)in->shape[dim]);
	return CORE_OK;
}

/* The flat form: one array of count scalars. */
static enum core_status data_flat(struct data_ctx *d)
{
	struct scan *s = d->s;
	enum core_status rc = expect(s, '[', "(data)");
	if (rc != CORE_OK)
		return core_fail(s->err, CORE_EINVAL, "input '%s': data must be an array", d->in->name);
	if (peek(s) == ']') {
		s->p++;
	} else {
		for (;;) {
			if ((rc = data_scalar(d)) != CORE_OK)
				return rc;
			int c = peek(s);
			if (c == ',') {
				s->p++;
				continue;
			}
			if (c == ']') {
				s->p++;
				break;
			}
			return core_fail(s->err, CORE_EINVAL, "malformed JSON in input '%s' data", d->in->name);
		}
	}
	return CORE_OK;
}

/* Reads in's "data" at s->p (dtype and shape known), filling num or str. span_len: the
 * bytes the data array takes at most (for the string pool). */
static enum core_status parse_data(struct scan *s, struct ia_oip_input *in, size_t span_len)
{
	struct data_ctx d = {.s = s, .in = in};
	enum core_status rc = CORE_OK;
	if (in->count > span_len)
		return core_fail(s->err, CORE_EINVAL, "input '%s': data is shorter than its shape's %zu elements",
				 in->name, in->count);
	size_t nalloc = in->count ? in->count : 1;
	if (in->dtype == IA_OIP_BYTES) {
		d.pool_size = span_len + 1;
		d.pool = malloc(d.pool_size);
		d.offs = malloc(nalloc * sizeof *d.offs);
		in->str_len = malloc(nalloc * sizeof *in->str_len);
		in->str = malloc(nalloc * sizeof *in->str);
		if (!d.pool || !d.offs || !in->str_len || !in->str) {
			rc = core_fail(s->err, CORE_ENOMEM, "out of memory");
			goto out;
		}
	} else {
		in->num = malloc(nalloc * sizeof *in->num);
		if (!in->num) {
			rc = core_fail(s->err, CORE_ENOMEM, "out of memory");
			goto out;
		}
	}
	/* nested when the first member is itself an array */
	bool nested = false;
	if (peek(s) == '[') {
		const char *q = s->p + 1;
		while (q < s->end && (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t'))
			q++;
		nested = q < s->end && *q == '[';
	}
	rc = nested && in->ndim > 1 ? data_nested(&d, 0) : data_flat(&d);
	if (rc != CORE_OK)
		goto out;
	if (d.i != in->count) {
		rc = core_fail(s->err, CORE_EINVAL, "input '%s': data has %zu elements, shape %s %zu", in->name, d.i,
			       "says", in->count);
		goto out;
	}
	if (in->dtype == IA_OIP_BYTES) {
		for (size_t i = 0; i < in->count; i++)
			in->str[i] = d.pool + d.offs[i];
		if (in->count == 0)
			free(d.pool);
		d.pool = NULL; /* owned by in->str[0] now (or freed) */
	}
out:
	if (rc != CORE_OK && in->str) { /* its pointers lead nowhere yet */
		free(in->str);
		in->str = NULL;
	}
	free(d.pool);
	free(d.offs);
	return rc;
}

/* --- the request ------------------------------------------------------------------ */

static void input_clear(struct ia_oip_input *in)
{
	free(in->name);
	free(in->num);
	if (in->str && in->count)
		free(in->str[0]);
	free(in->str);
	free(in->str_len);
	json_decref(in->parameters);
	memset(in, 0, sizeof *in);
}

void ia_oip_request_free(struct ia_oip_request *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_inputs; i++)
		input_clear(&r->inputs[i]);
	free(r->inputs);
	for (size_t i = 0; i < r->n_outputs; i++) {
		free(r->outputs[i].name);
		json_decref(r->outputs[i].parameters);
	}
	free(r->outputs);
	free(r->id);
	json_decref(r->parameters);
	memset(r, 0, sizeof *r);
}

const struct ia_oip_input *ia_oip_input_find(const struct ia_oip_request *r, const char *name)
{
	for (size_t i = 0; i < r->n_inputs; i++)
		if (strcmp(r->inputs[i].name, name) == 0)
			return &r->inputs[i];
	return NULL;
}

/* Reads a member name (short: the ones we know are short; longer ones are skipped
 * as unknown). */
static enum core_status scan_key(struct scan *s, char *key, size_t size)
{
	size_t n;
	enum core_status rc = scan_string_into(s, key, size, &n);
	if (rc == CORE_ELIMIT) { /* too long for a member we know: an unknown one */
		key[0] = '?';
		key[1] = 0;
		rc = CORE_OK;
	}
	if (rc != CORE_OK)
		return rc;
	return expect(s, ':', "after a member name");
}

/* After a member: ',' (true: another follows) or the object's '}'. */
static enum core_status scan_next(struct scan *s, bool *more, char close)
{
	int c = peek(s);
	if (c == ',') {
		s->p++;
		*more = true;
		return CORE_OK;
	}
	if (c == (unsigned char)close) {
		s->p++;
		*more = false;
		return CORE_OK;
	}
	return core_fail(s->err, CORE_EINVAL, "malformed JSON: expected ',' or '%c'", close);
}

static enum core_status shape_from_json(struct scan *s, struct ia_oip_input *in, json_t *shape)
{
	if (!json_is_array(shape))
		return core_fail(s->err, CORE_EINVAL, "input '%s': shape must be an array of integers", in->name);
	if (json_array_size(shape) > IA_OIP_MAX_DIMS)
		return core_fail(s->err, CORE_EINVAL, "input '%s': shape has more than %d dimensions", in->name,
				 IA_OIP_MAX_DIMS);
	in->ndim = json_array_size(shape);
	size_t count = 1;
	for (size_t i = 0; i < in->ndim; i++) {
		json_t *v = json_array_get(shape, i);
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return core_fail(s->err, CORE_EINVAL, "input '%s': shape must be non-negative integers",
					 in->name);
		in->shape[i] = json_integer_value(v);
		if (in->shape[i] && count > (SIZE_MAX / 16) / (size_t)in->shape[i])
			return core_fail(s->err, CORE_EINVAL, "input '%s': shape is too large", in->name);
		count *= (size_t)in->shape[i];
	}
	in->count = count;
	return CORE_OK;
}

/* One member of "inputs", up to its '}'. A data array met before the datatype and the
 * shape is remembered and read at the end. */
static enum core_status parse_input(struct scan *s, struct ia_oip_input *in, int64_t *bin_size)
{
	enum core_status rc;
	char key[32];
	const char *data_at = NULL, *data_end = NULL;
	bool have_shape = false, have_data = false;
	unsigned seen = 0;
	json_t *shape = NULL;
	*bin_size = -1;
	if ((rc = expect(s, '{', "for an input")) != CORE_OK)
		return core_fail(s->err, CORE_EINVAL, "inputs must be objects");
	if (peek(s) == '}') {
		s->p++;
	} else {
		for (bool more = true; more;) {
			if ((rc = scan_key(s, key, sizeof key)) != CORE_OK)
				goto out;
			static const char *const known[] = {"name", "datatype", "shape", "parameters", "data"};
			for (unsigned k = 0; k < 5; k++) {
				if (strcmp(key, known[k]) != 0)
					continue;
				if (seen & 1u << k) {
					rc = core_fail(s->err, CORE_EINVAL, "an input has '%s' twice", key);
					goto out;
				}
				seen |= 1u << k;
			}
			if (strcmp(key, "name") == 0) {
				rc = scan_string_dup(s, &in->name);
			} else if (strcmp(key, "datatype") == 0) {
				char dt[16];
				size_t n;
				rc = scan_string_into(s, dt, sizeof dt, &n);
				if (rc == CORE_OK && !(in->dtype = ia_oip_dtype_parse(dt)))
					rc = core_fail(s->err, CORE_EINVAL, "input '%s': unknown datatype '%s'",
						       in->name ? in->name : "?", dt);
				else if (rc != CORE_OK)
					rc = core_fail(s->err, CORE_EINVAL,
						       "input '%s': datatype must be a datatype name",
						       in->name ? in->name : "?");
			} else if (strcmp(key, "shape") == 0) {
				rc = scan_json(s, &shape);
				have_shape = rc == CORE_OK;
			} else if (strcmp(key, "parameters") == 0) {
				rc = scan_json(s, &in->parameters);
				if (rc == CORE_OK && !json_is_object(in->parameters))
					rc = core_fail(s->err, CORE_EINVAL, "input parameters must be an object");
			} else if (strcmp(key, "data") == 0) {
				have_data = true;
				skip_ws(s);
				data_at = s->p;
				if (in->name && in->dtype && have_shape && in->dtype != IA_OIP_BYTES) {
					if ((rc = shape_from_json(s, in, shape)) == CORE_OK)
						rc = parse_data(s, in, (size_t)(s->end - s->p));
					data_at = NULL; /* read */
				} else if (peek(s) == '[') {
					rc = scan_find_end(s);
					data_end = s->p;
				} else {
					rc = scan_skip(s);
					data_end = s->p;
				}
			} else {
				rc = scan_skip(s);
			}
			if (rc != CORE_OK)
				goto out;
			if ((rc = scan_next(s, &more, '}')) != CORE_OK)
				goto out;
		}
	}
	if (!in->name) {
		rc = core_fail(s->err, CORE_EINVAL, "an input has no name");
		goto out;
	}
	if (!in->dtype) {
		rc = core_fail(s->err, CORE_EINVAL, "input '%s' has no datatype", in->name);
		goto out;
	}
	if (!have_shape) {
		rc = core_fail(s->err, CORE_EINVAL, "input '%s' has no shape", in->name);
		goto out;
	}
	if ((rc = shape_from_json(s, in, shape)) != CORE_OK)
		goto out;
	json_t *bds = json_object_get(in->parameters, "binary_data_size");
	if (bds) {
		if (!json_is_integer(bds) || json_integer_value(bds) < 0) {
			rc = core_fail(s->err, CORE_EINVAL,
				       "input '%s': binary_data_size must be a non-negative integer", in->name);
			goto out;
		}
		if (have_data) {
			rc = core_fail(s->err, CORE_EINVAL, "input '%s' has both data and binary_data_size", in->name);
			goto out;
		}
		*bin_size = json_integer_value(bds);
		in->binary = true;
	} else if (!have_data) {
		rc = core_fail(s->err, CORE_EINVAL, "input '%s' has no data", in->name);
		goto out;
	} else if (data_at) {
		struct scan sub = {.p = data_at, .end = data_end, .err = s->err};
		if ((rc = parse_data(&sub, in, (size_t)(data_end - data_at))) != CORE_OK)
			goto out;
		if (peek(&sub) != -1)
			rc = core_fail(s->err, CORE_EINVAL, "malformed JSON in input '%s' data", in->name);
	}
out:
	json_decref(shape);
	return rc;
}

static enum core_status parse_inputs(struct scan *s, struct ia_oip_request *r, int64_t **bin_sizes)
{
	enum core_status rc;
	size_t cap = 0;
	if ((rc = expect(s, '[', "for inputs")) != CORE_OK)
		return core_fail(s->err, CORE_EINVAL, "inputs must be an array");
	if (peek(s) == ']') {
		s->p++;
		return CORE_OK;
	}
	for (bool more = true; more;) {
		if (r->n_inputs == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct ia_oip_input *ni = realloc(r->inputs, ncap * sizeof *ni);
			int64_t *nb = realloc(*bin_sizes, ncap * sizeof *nb);
			if (ni)
				r->inputs = ni;
			if (nb)
				*bin_sizes = nb;
			if (!ni || !nb)
				return core_fail(s->err, CORE_ENOMEM, "out of memory");
			cap = ncap;
		}
		struct ia_oip_input *in = &r->inputs[r->n_inputs];
		memset(in, 0, sizeof *in);
		r->n_inputs++;
		if ((rc = parse_input(s, in, &(*bin_sizes)[r->n_inputs - 1])) != CORE_OK)
			return rc;
		for (size_t i = 0; i + 1 < r->n_inputs; i++)
			if (strcmp(r->inputs[i].name, in->name) == 0)
				return core_fail(s->err, CORE_EINVAL, "input '%s' is given twice", in->name);
		if ((rc = scan_next(s, &more, ']')) != CORE_OK)
			return rc;
	}
	return CORE_OK;
}

static enum core_status parse_outputs(struct scan *s, struct ia_oip_request *r)
{
	json_t *outs = NULL;
	enum core_status rc = scan_json(s, &outs);
	if (rc != CORE_OK)
		return rc;
	if (!json_is_array(outs)) {
		rc = core_fail(s->err, CORE_EINVAL, "outputs must be an array");
		goto out;
	}
	size_t n = json_array_size(outs);
	r->outputs = calloc(n ? n : 1, sizeof *r->outputs);
	if (!r->outputs) {
		rc = core_fail(s->err, CORE_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(outs, i);
		json_t *name = json_object_get(o, "name"), *params = json_object_get(o, "parameters");
		if (!json_is_string(name) || strlen(json_string_value(name)) != json_string_length(name)) {
			rc = core_fail(s->err, CORE_EINVAL, "outputs[%zu] needs a name", i);
			goto out;
		}
		if (params && !json_is_object(params)) {
			rc = core_fail(s->err, CORE_EINVAL, "outputs[%zu].parameters must be an object", i);
			goto out;
		}
		struct ia_oip_output_req *q = &r->outputs[r->n_outputs++];
		q->name = strdup(json_string_value(name));
		q->parameters = json_incref(params);
		q->binary = -1;
		if (!q->name) {
			rc = core_fail(s->err, CORE_ENOMEM, "out of memory");
			goto out;
		}
		json_t *b = json_object_get(params, "binary_data");
		if (b && !json_is_boolean(b)) {
			rc = core_fail(s->err, CORE_EINVAL, "output '%s': binary_data must be true or false", q->name);
			goto out;
		}
		if (b)
			q->binary = json_is_true(b);
	}
out:
	json_decref(outs);
	return rc;
}

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static double half_to_double(uint16_t h)
{
	int e = (h >> 10) & 0x1f, m = h & 0x3ff;
	double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m | 0x400, e - 25);
	return h & 0x8000 ? -v : v;
}

/* One binary input: size bytes at p. */
static enum core_status decode_binary(struct ia_oip_input *in, const unsigned char *p, size_t size,
				      struct core_error *err)
{
	size_t es = ia_oip_dtype_size(in->dtype), nalloc = in->count ? in->count : 1;
	if (in->dtype == IA_OIP_BYTES) {
		if (in->count > size / 4)
			return core_fail(err, CORE_EINVAL,
					 "input '%s': binary_data_size %zu is too small for %zu BYTES elements",
					 in->name, size, in->count);
		in->str = malloc(nalloc * sizeof *in->str);
		in->str_len = malloc(nalloc * sizeof *in->str_len);
		char *pool = malloc(size + 1);
		enum core_status rc = CORE_OK;
		size_t at = 0, used = 0;
		if (!in->str || !in->str_len || !pool) {
			rc = core_fail(err, CORE_ENOMEM, "out of memory");
			goto bytes_out;
		}
		for (size_t i = 0; i < in->count; i++) {
			size_t n = size - at < 4 ? 0 : le32(p + at);
			if (size - at < 4 || n > size - at - 4) {
				rc = core_fail(err, CORE_EINVAL, "input '%s': binary data ends inside element %zu",
					       in->name, i);
				goto bytes_out;
			}
			at += 4;
			memcpy(pool + used, p + at, n);
			pool[used + n] = 0;
			in->str[i] = pool + used;
			in->str_len[i] = n;
			at += n;
			used += n + 1;
		}
		if (at != size)
			rc = core_fail(err, CORE_EINVAL, "input '%s': binary_data_size %zu, its %zu elements take %zu",
				       in->name, size, in->count, at);
	bytes_out:
		if (rc != CORE_OK || in->count == 0) {
			free(pool);
			if (rc != CORE_OK) {
				free(in->str);
				in->str = NULL;
			}
		}
		return rc;
	}
	if (size != in->count * es)
		return core_fail(err, CORE_EINVAL, "input '%s': binary_data_size %zu, shape and datatype %s need %zu",
				 in->name, size, ia_oip_dtype_name(in->dtype), in->count * es);
	in->num = malloc(nalloc * sizeof *in->num);
	if (!in->num)
		return core_fail(err, CORE_ENOMEM, "out of memory");
	if (in->dtype == IA_OIP_FP32) {
		/* the common case (images, features) in a loop of its own: the general one
		 * below decides the type per element, which took a 10,000-image batch longer
		 * than its forward pass */
		bool finite = true;
		for (size_t i = 0; i < in->count; i++) {
			uint32_t u = le32(p + 4 * i);
			float f;
			memcpy(&f, &u, 4);
			finite &= isfinite(f) != 0;
			in->num[i] = f;
		}
		if (finite)
			return CORE_OK;
	}
	for (size_t i = 0; i < in->count; i++) {
		const unsigned char *q = p + i * es;
		double v;
		switch (in->dtype) {
		case IA_OIP_BOOL:
			if (q[0] > 1)
				return core_fail(err, CORE_EINVAL, "input '%s': BOOL element %zu is neither 0 nor 1",
						 in->name, i);
			v = q[0];
			break;
		case IA_OIP_UINT8:
			v = q[0];
			break;
		case IA_OIP_INT8:
			v = (int8_t)q[0];
			break;
		case IA_OIP_UINT16:
			v = le16(q);
			break;
		case IA_OIP_INT16:
			v = (int16_t)le16(q);
			break;
		case IA_OIP_UINT32:
			v = le32(q);
			break;
		case IA_OIP_INT32:
			v = (int32_t)le32(q);
			break;
		case IA_OIP_UINT64:
			v = (double)le64(q);
			break;
		case IA_OIP_INT64:
			v = (double)(int64_t)le64(q);
			break;
		case IA_OIP_FP16:
			v = half_to_double(le16(q));
			break;
		case IA_OIP_BF16: {
			uint32_t u = (uint32_t)le16(q) << 16;
			float f;
			memcpy(&f, &u, 4);
			v = f;
			break;
		}
		case IA_OIP_FP32: {
			uint32_t u = le32(q);
			float f;
			memcpy(&f, &u, 4);
			v = f;
			break;
		}
		default: {
			uint64_t u = le64(q);
			memcpy(&v, &u, 8);
			break;
		}
		}
		if (ia_oip_dtype_is_float(in->dtype) && !isfinite(v))
			return core_fail(err, CORE_EINVAL, "input '%s': element %zu is not a finite number", in->name,
					 i);
		in->num[i] = v;
	}
	return CORE_OK;
}

static enum core_status parse_header_len(const char *h, size_t len, size_t *out, struct core_error *err)
{
	size_t v = 0;
	if (!*h)
		return core_fail(err, CORE_EINVAL, "Inference-Header-Content-Length must be a number of bytes");
	for (const char *p = h; *p; p++) {
		if (*p < '0' || *p > '9')
			return core_fail(err, CORE_EINVAL, "Inference-Header-Content-Length must be a number of bytes");
		if (v <= len)
			v = v * 10 + (size_t)(*p - '0');
	}
	if (v > len)
		return core_fail(err, CORE_EINVAL, "Inference-Header-Content-Length %zu exceeds the body's %zu bytes",
				 v, len);
	*out = v;
	return CORE_OK;
}

enum core_status ia_oip_parse(const char *body, size_t len, const char *header_len, struct ia_oip_request *out,
			      struct core_error *err)
{
	struct ia_oip_request r = {0};
	int64_t *bin = NULL;
	size_t json_len = len;
	enum core_status rc = CORE_OK;
	bool seen_inputs = false, seen_id = false, seen_params = false, seen_outputs = false;
	memset(out, 0, sizeof *out);
	if (header_len && (rc = parse_header_len(header_len, len, &json_len, err)) != CORE_OK)
		return rc;
	struct scan s = {.p = body, .end = body + json_len, .err = err};
	char key[32];
	if ((rc = expect(&s, '{', "to open the request")) != CORE_OK) {
		rc = core_fail(err, CORE_EINVAL, "the request must be a JSON object");
		goto out;
	}
	if (peek(&s) == '}') {
		s.p++;
	} else {
		for (bool more = true; more;) {
			if ((rc = scan_key(&s, key, sizeof key)) != CORE_OK)
				goto out;
			bool *seen = strcmp(key, "inputs") == 0       ? &seen_inputs
				     : strcmp(key, "id") == 0         ? &seen_id
				     : strcmp(key, "parameters") == 0 ? &seen_params
				     : strcmp(key, "outputs") == 0    ? &seen_outputs
								      : NULL;
			if (seen && *seen) {
				rc = core_fail(err, CORE_EINVAL, "'%s' is given twice", key);
				goto out;
			}
			if (seen)
				*seen = true;
			if (strcmp(key, "inputs") == 0) {
				rc = parse_inputs(&s, &r, &bin);
			} else if (strcmp(key, "id") == 0) {
				rc = scan_string_dup(&s, &r.id);
				if (rc == CORE_EINVAL)
					rc = core_fail(err, CORE_EINVAL, "id must be a string");
			} else if (strcmp(key, "parameters") == 0) {
				rc = scan_json(&s, &r.parameters);
				if (rc == CORE_OK && !json_is_object(r.parameters))
					rc = core_fail(err, CORE_EINVAL, "parameters must be an object");
			} else if (strcmp(key, "outputs") == 0) {
				rc = parse_outputs(&s, &r);
			} else {
				rc = scan_skip(&s);
			}
			if (rc != CORE_OK)
				goto out;
			if ((rc = scan_next(&s, &more, '}')) != CORE_OK)
				goto out;
		}
	}
	if (peek(&s) != -1) {
		rc = core_fail(err, CORE_EINVAL, "malformed JSON: data after the request object%s",
			       header_len ? "" : " (binary data needs Inference-Header-Content-Length)");
		goto out;
	}
	if (r.n_inputs == 0) {
		rc = core_fail(err, CORE_EINVAL, "the request has no inputs");
		goto out;
	}
	json_t *bdo = json_object_get(r.parameters, "binary_data_output");
	if (bdo && !json_is_boolean(bdo)) {
		rc = core_fail(err, CORE_EINVAL, "parameters.binary_data_output must be true or false");
		goto out;
	}
	r.binary_output = json_is_true(bdo);
	/* the binary tail, in input order, exactly */
	const unsigned char *tail = (const unsigned char *)body + json_len;
	size_t tail_len = len - json_len, at = 0;
	for (size_t i = 0; i < r.n_inputs; i++) {
		if (bin[i] < 0)
			continue;
		if (!header_len) {
			rc = core_fail(err, CORE_EINVAL,
				       "input '%s' has binary_data_size but the request has no "
				       "Inference-Header-Content-Length",
				       r.inputs[i].name);
			goto out;
		}
		if ((uint64_t)bin[i] > tail_len - at) {
			rc = core_fail(err, CORE_EINVAL,
				       "input '%s': binary_data_size %lld, but only %zu bytes of binary data are left",
				       r.inputs[i].name, (long long)bin[i], tail_len - at);
			goto out;
		}
		if ((rc = decode_binary(&r.inputs[i], tail + at, (size_t)bin[i], err)) != CORE_OK)
			goto out;
		at += (size_t)bin[i];
	}
	if (at != tail_len) {
		rc = core_fail(err, CORE_EINVAL,
			       "the body has %zu bytes of binary data, the inputs' binary_data_size add up to %zu",
			       tail_len, at);
		goto out;
	}
out:
	free(bin);
	if (rc != CORE_OK) {
		ia_oip_request_free(&r);
		return rc;
	}
	*out = r;
	return CORE_OK;
}

enum core_status ia_oip_pick_outputs(const struct ia_oip_request *r, const char *const *names, size_t n, size_t *order,
				     bool *binary, size_t *count, struct core_error *err)
{
	for (size_t j = 0; j < n; j++)
		binary[j] = r->binary_output;
	if (!r->outputs) {
		for (size_t j = 0; j < n; j++)
			order[j] = j;
		*count = n;
		return CORE_OK;
	}
	size_t k = 0;
	for (size_t i = 0; i < r->n_outputs; i++) {
		size_t j = 0;
		while (j < n && strcmp(names[j], r->outputs[i].name) != 0)
			j++;
		if (j == n)
			return core_fail(err, CORE_EINVAL, "the model has no output '%s'", r->outputs[i].name);
		for (size_t q = 0; q < k; q++)
			if (order[q] == j)
				return core_fail(err, CORE_EINVAL, "output '%s' is asked for twice", names[j]);
		order[k++] = j;
		if (r->outputs[i].binary >= 0)
			binary[j] = r->outputs[i].binary;
	}
	*count = k;
	return CORE_OK;
}

/* --- the response ----------------------------------------------------------------- */

/* Rounds the decimal digits d[0..9) (with exponent *e, d[0] non-zero) to p digits into
 * out, carrying into the exponent. */
static void round_digits(const char *d, int p, char *out, int *e)
{
	memcpy(out, d, (size_t)p);
	if (p < 9 && d[p] >= '5') {
		int i = p - 1;
		while (i >= 0 && out[i] == '9')
			out[i--] = '0';
		if (i < 0) {
			out[0] = '1';
			(*e)++;
		} else {
			out[i]++;
		}
	}
	out[p] = 0;
}

/* digits (p of them, trailing zeros dropped here) times 10^e, as JSON text. */
static size_t spell(bool neg, const char *digits, int p, int e, char *out)
{
	while (p > 1 && digits[p - 1] == '0')
		p--;
	char *o = out;
	if (neg)
		*o++ = '-';
	if (e >= -5 && e < 9) {
		if (e < 0) {
			*o++ = '0';
			*o++ = '.';
			for (int i = -1; i > e; i--)
				*o++ = '0';
			memcpy(o, digits, (size_t)p);
			o += p;
		} else {
			for (int i = 0; i <= e || i < p; i++) {
				if (i == e + 1)
					*o++ = '.';
				*o++ = i < p ? digits[i] : '0';
			}
			if (p <= e + 1) { /* a real, as JSON writers spell one: "3.0" */
				*o++ = '.';
				*o++ = '0';
			}
		}
	} else {
		*o++ = digits[0];
		if (p > 1) {
			*o++ = '.';
			memcpy(o, digits + 1, (size_t)p - 1);
			o += p - 1;
		}
		/* "e%d" by hand: snprintf was most of a tiny probability's cost */
		*o++ = 'e';
		if (e < 0) {
			*o++ = '-';
			e = -e;
		}
		if (e >= 10)
			*o++ = (char)('0' + e / 10);
		*o++ = (char)('0' + e % 10);
	}
	*o = 0;
	return (size_t)(o - out);
}

/* 10^i for i in [-50, 50], as the nearest doubles (the literals; 10^0..10^22 exactly). */
static const double pow10_table[101] = {
	1e-50, 1e-49, 1e-48, 1e-47, 1e-46, 1e-45, 1e-44, 1e-43, 1e-42, 1e-41, 1e-40, 1e-39, 1e-38, 1e-37, 1e-36,
	1e-35, 1e-34, 1e-33, 1e-32, 1e-31, 1e-30, 1e-29, 1e-28, 1e-27, 1e-26, 1e-25, 1e-24, 1e-23, 1e-22, 1e-21,
	1e-20, 1e-19, 1e-18, 1e-17, 1e-16, 1e-15, 1e-14, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9,  1e-8,  1e-7,  1e-6,
	1e-5,  1e-4,  1e-3,  1e-2,  1e-1,  1e0,   1e1,   1e2,   1e3,   1e4,   1e5,   1e6,   1e7,   1e8,   1e9,
	1e10,  1e11,  1e12,  1e13,  1e14,  1e15,  1e16,  1e17,  1e18,  1e19,  1e20,  1e21,  1e22,  1e23,  1e24,
	1e25,  1e26,  1e27,  1e28,  1e29,  1e30,  1e31,  1e32,  1e33,  1e34,  1e35,  1e36,  1e37,  1e38,  1e39,
	1e40,  1e41,  1e42,  1e43,  1e44,  1e45,  1e46,  1e47,  1e48,  1e49,  1e50,
};

static double pow10_of(int i)
{
	return pow10_table[i + 50];
}

/* |f|'s nine significant digits (correctly rounded, as printf's %.8e gives them) into
 * d9, and its decimal exponent into *e: in double arithmetic, which is exact enough
 * (relative error ~1e-16 against a rounding step of 1e-9) except within a hair of a
 * tie or a power of ten; there, and only there, printf decides. */
static void nine_digits(float f, char *d9, int *e)
{
	double x = fabs((double)f);
	int e10 = (int)floor(log10(x));
	bool ok = e10 >= -46 && e10 <= 39;
	double m = 0;
	if (ok) {
		int k = 8 - e10;
		m = k >= -50 && k <= 50 ? x * pow10_of(k) : 0;
		double frac = m - floor(m);
		ok = m >= 1e8 && m < 1e9 && fabs(frac - 0.5) > 1e-5;
	}
	if (ok) {
		uint32_t v = (uint32_t)llround(m);
		if (v >= 1000000000u) { /* 999999999.5 and up: rounds to the next power of ten */
			v = 100000000u;
			e10++;
		}
		for (int i = 8; i >= 0; i--) {
			d9[i] = (char)('0' + v % 10);
			v /= 10;
		}
		d9[9] = 0;
		*e = e10;
		return;
	}
	char buf[32];
	snprintf(buf, sizeof buf, "%.8e", x);
	d9[0] = buf[0];
	memcpy(d9 + 1, buf + 2, 8);
	d9[9] = 0;
	*e = (int)strtol(buf + 11, NULL, 10);
}

/* Whether the decimal digits[0..p) x 10^(e-p+1) reads back (strtof) as f: the decimal
 * against the midpoints between f and its neighbours, in doubles (exact for a float's
 * midpoints); strtof itself only within a hair of a midpoint. */
static bool reads_back(float f, const char *digits, int p, int e, const char *text)
{
	double v = 0;
	for (int i = 0; i < p; i++)
		v = v * 10 + (digits[i] - '0');
	int k = e - p + 1;
	if (k < -50 || k > 50 || fabsf(f) < FLT_MIN || fabsf(f) == FLT_MAX)
		return strtof(text, NULL) == f;
	v *= pow10_of(k);
	double a = fabs((double)f);
	double lo = (a + (double)nextafterf(fabsf(f), 0)) / 2, hi = (a + (double)nextafterf(fabsf(f), INFINITY)) / 2;
	double margin = a * 1e-12;
	if (v > lo + margin && v < hi - margin)
		return true;
	if (v < lo - margin || v > hi + margin)
		return false;
	return strtof(text, NULL) == f;
}

size_t ia_oip_fmt_float(float f, char *out)
{
	if (!isfinite(f))
		return (size_t)snprintf(out, 32, "null");
	if (f == 0)
		return (size_t)snprintf(out, 32, signbit(f) ? "-0.0" : "0.0");
	/* nine significant digits always read back as the same float; try fewer first */
	char d9[10], dp[10];
	int e9;
	nine_digits(f, d9, &e9);
	bool neg = signbit(f);
	for (int p = 6; p < 9; p++) {
		int e = e9;
		round_digits(d9, p, dp, &e);
		size_t n = spell(neg, dp, p, e, out);
		if (reads_back(f, dp, p, e, out))
			return n;
	}
	return spell(neg, d9, 9, e9, out);
}

static size_t output_count(const struct ia_oip_output *o)
{
	size_t c = 1;
	for (size_t i = 0; i < o->ndim; i++)
		c *= (size_t)o->shape[i];
	return c;
}

static enum core_status put_le32(struct core_buf *b, uint32_t v)
{
	unsigned char q[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 24)};
	return core_buf_append(b, q, 4);
}

enum core_status ia_oip_render(const char *model, const char *version, const char *id, const struct ia_oip_output *outs,
			       size_t n, struct core_buf *b, size_t *json_len, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	size_t start = b->len;
	char num[32];
#define PUT(x)                                                                                                         \
	do {                                                                                                           \
		if ((rc = (x)) != CORE_OK)                                                                             \
			goto out;                                                                                      \
	} while (0)
	PUT(core_buf_append_str(b, "{\"model_name\":\""));
	PUT(core_buf_append_json_escaped(b, model));
	if (version) {
		PUT(core_buf_append_str(b, "\",\"model_version\":\""));
		PUT(core_buf_append_json_escaped(b, version));
	}
	if (id) {
		PUT(core_buf_append_str(b, "\",\"id\":\""));
		PUT(core_buf_append_json_escaped(b, id));
	}
	PUT(core_buf_append_str(b, "\",\"outputs\":["));
	for (size_t i = 0; i < n; i++) {
		const struct ia_oip_output *o = &outs[i];
		if (o->dtype != IA_OIP_FP32 && o->dtype != IA_OIP_BYTES) {
			rc = core_fail(err, CORE_EINVAL, "cannot render datatype %s", ia_oip_dtype_name(o->dtype));
			goto out;
		}
		PUT(core_buf_append_str(b, i ? ",{\"name\":\"" : "{\"name\":\""));
		PUT(core_buf_append_json_escaped(b, o->name));
		PUT(core_buf_printf(b, "\",\"datatype\":\"%s\",\"shape\":[", ia_oip_dtype_name(o->dtype)));
		for (size_t d = 0; d < o->ndim; d++)
			PUT(core_buf_printf(b, d ? ",%lld" : "%lld", (long long)o->shape[d]));
		size_t c = output_count(o);
		if (o->binary) {
			size_t size = 0;
			if (o->dtype == IA_OIP_FP32)
				size = c * 4;
			else
				for (size_t k = 0; k < c; k++)
					size += 4 + strlen(o->strs[k]);
			PUT(core_buf_printf(b, "],\"parameters\":{\"binary_data_size\":%zu}}", size));
			continue;
		}
		PUT(core_buf_append_str(b, "],\"data\":["));
		for (size_t k = 0; k < c; k++) {
			if (k)
				PUT(core_buf_append(b, ",", 1));
			if (o->dtype == IA_OIP_FP32) {
				size_t l = ia_oip_fmt_float(o->f32[k], num);
				PUT(core_buf_append(b, num, l));
			} else {
				PUT(core_buf_append(b, "\"", 1));
				PUT(core_buf_append_json_escaped(b, o->strs[k]));
				PUT(core_buf_append(b, "\"", 1));
			}
		}
		PUT(core_buf_append_str(b, "]}"));
	}
	PUT(core_buf_append_str(b, "]}"));
	*json_len = b->len - start;
	for (size_t i = 0; i < n; i++) {
		const struct ia_oip_output *o = &outs[i];
		if (!o->binary)
			continue;
		size_t c = output_count(o);
		for (size_t k = 0; k < c; k++) {
			if (o->dtype == IA_OIP_FP32) {
				uint32_t u;
				memcpy(&u, &o->f32[k], 4);
				PUT(put_le32(b, u));
			} else {
				size_t l = strlen(o->strs[k]);
				PUT(put_le32(b, (uint32_t)l));
				PUT(core_buf_append(b, o->strs[k], l));
			}
		}
	}
#undef PUT
out:
	if (rc != CORE_OK && rc != CORE_EINVAL)
		core_fail(err, rc, "the response does not fit: %s", core_strerror(rc));
	return rc;
}
