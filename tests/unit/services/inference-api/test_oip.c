/* Unit tests of oip.c (services/inference-api/oip.h): Open Inference Protocol v2 infer
 * requests in their JSON forms (flat and nested data, members in any order, every
 * datatype's range) and with the binary tensor data extension (sizes that must add up
 * exactly, BYTES as length-prefixed strings), the outputs a request asks for, and
 * responses rendered as JSON or JSON plus binary. The last test times the parse of the
 * benchmark's request (784 pixels) and prints it, for whoever tunes the scanner. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/time.h"
#include "oip.h"

static struct core_error err;

static enum core_status parse(const char *json, struct ia_oip_request *r)
{
	return ia_oip_parse(json, strlen(json), NULL, r, &err);
}

/* Fails to parse, with a message containing want. */
static void refused(const char *json, const char *want)
{
	struct ia_oip_request r;
	enum core_status rc = parse(json, &r);
	ck_assert_msg(rc == CORE_EINVAL, "accepted: %s", json);
	ck_assert_msg(strstr(err.message, want), "'%s' does not say '%s'", err.message, want);
	ck_assert_ptr_null(r.inputs);
	ia_oip_request_free(&r);
}

START_TEST(flat_json_fp32)
{
	struct ia_oip_request r;
	const char *body = "{\"id\": \"req-1\", \"parameters\": {\"x\": 1},"
			   " \"inputs\": [{\"name\": \"image\", \"shape\": [1, 4], \"datatype\": \"FP32\","
			   " \"data\": [0, 1.5, -2e2, 255]}]}";
	ck_assert_int_eq(parse(body, &r), CORE_OK);
	ck_assert_str_eq(r.id, "req-1");
	ck_assert(json_is_object(r.parameters));
	ck_assert(!r.binary_output);
	ck_assert_uint_eq(r.n_inputs, 1);
	const struct ia_oip_input *in = ia_oip_input_find(&r, "image");
	ck_assert_ptr_nonnull(in);
	ck_assert_int_eq(in->dtype, IA_OIP_FP32);
	ck_assert_uint_eq(in->ndim, 2);
	ck_assert_int_eq(in->shape[0], 1);
	ck_assert_int_eq(in->shape[1], 4);
	ck_assert_uint_eq(in->count, 4);
	ck_assert_double_eq(in->num[0], 0);
	ck_assert_double_eq(in->num[1], 1.5);
	ck_assert_double_eq(in->num[2], -200);
	ck_assert_double_eq(in->num[3], 255);
	ck_assert(!in->binary);
	ck_assert_ptr_null(r.outputs);
	ck_assert_ptr_null(ia_oip_input_find(&r, "nope"));
	ia_oip_request_free(&r);
	ia_oip_request_free(&r); /* harmless twice */
}
END_TEST

START_TEST(nested_equals_flat_and_members_in_any_order)
{
	struct ia_oip_request a, b, c;
	ck_assert_int_eq(parse("{\"inputs\":[{\"name\":\"x\",\"shape\":[2,3],\"datatype\":\"INT32\","
			       "\"data\":[1,2,3,4,5,6]}]}",
			       &a),
			 CORE_OK);
	ck_assert_int_eq(parse("{\"inputs\":[{\"name\":\"x\",\"shape\":[2,3],\"datatype\":\"INT32\","
			       "\"data\":[ [1, 2, 3] , [4,5,6]]}]}",
			       &b),
			 CORE_OK);
	/* data before shape and datatype: read once they are known; unknown members skipped */
	ck_assert_int_eq(parse("{\"model_name\": \"m\", \"inputs\":[{\"data\":[[1,2,3],[4,5,6]],\"extra\":{\"a\":[1]},"
			       "\"name\":\"x\",\"datatype\":\"INT32\",\"shape\":[2,3]}], \"more\": [true, null]}",
			       &c),
			 CORE_OK);
	for (size_t i = 0; i < 6; i++) {
		ck_assert_double_eq(a.inputs[0].num[i], (double)(i + 1));
		ck_assert_double_eq(b.inputs[0].num[i], (double)(i + 1));
		ck_assert_double_eq(c.inputs[0].num[i], (double)(i + 1));
	}
	ia_oip_request_free(&a);
	ia_oip_request_free(&b);
	ia_oip_request_free(&c);
	/* a three-dimensional image, nested all the way */
	ck_assert_int_eq(parse("{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2,2],\"datatype\":\"UINT8\","
			       "\"data\":[[[0,255],[7,8]]]}]}",
			       &a),
			 CORE_OK);
	ck_assert_double_eq(a.inputs[0].num[1], 255);
	ck_assert_double_eq(a.inputs[0].num[3], 8);
	ia_oip_request_free(&a);
	/* nested that does not follow the shape */
	refused("{\"inputs\":[{\"name\":\"x\",\"shape\":[2,3],\"datatype\":\"FP32\",\"data\":[[1,2],[3,4],[5,6]]}]}",
		"dimension 1, shape says 3");
	refused("{\"inputs\":[{\"name\":\"x\",\"shape\":[2,3],\"datatype\":\"FP32\",\"data\":[[1,2,3],[4,5]]}]}",
		"dimension 1");
	refused("{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[[[1],[2]]]}]}",
		"more deeply");
	refused("{\"inputs\":[{\"name\":\"x\",\"shape\":[2,1,1],\"datatype\":\"FP32\",\"data\":[[1],[2]]}]}",
		"less deeply");
	/* flat with the wrong count */
	refused("{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2]}]}",
		"has 2 elements");
	refused("{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]}",
		"more than the 3");
	refused("{\"inputs\":[{\"data\":[1,2,3,4],\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\"}]}",
		"more than the 3");
	refused("{\"inputs\":[{\"name\":\"x\",\"shape\":[1000000],\"datatype\":\"FP32\",\"data\":[1]}]}",
		"shorter than");
}
END_TEST

START_TEST(datatypes)
{
	struct ia_oip_request r;
	ck_assert_int_eq(
		parse("{\"inputs\":[{\"name\":\"a\",\"shape\":[3],\"datatype\":\"INT8\",\"data\":[-128,0,127]},"
		      "{\"name\":\"b\",\"shape\":[3],\"datatype\":\"BOOL\",\"data\":[true,false,1]},"
		      "{\"name\":\"c\",\"shape\":[2],\"datatype\":\"FP64\",\"data\":[0.1,1e-300]},"
		      "{\"name\":\"d\",\"shape\":[2,1],\"datatype\":\"BYTES\",\"data\":[\"red\",\"gr\\u00fcn "
		      "\\\"x\\\"\"]},"
		      "{\"name\":\"e\",\"shape\":[1],\"datatype\":\"UINT64\",\"data\":[18446744073709549568]},"
		      "{\"name\":\"f\",\"shape\":[2],\"datatype\":\"FP32\",\"data\":[1.0,3.0e0]}]}",
		      &r),
		CORE_OK);
	ck_assert_uint_eq(r.n_inputs, 6);
	ck_assert_double_eq(r.inputs[0].num[0], -128);
	ck_assert_double_eq(r.inputs[1].num[0], 1);
	ck_assert_double_eq(r.inputs[1].num[1], 0);
	ck_assert_double_eq(r.inputs[1].num[2], 1);
	ck_assert_double_eq(r.inputs[2].num[0], 0.1);
	ck_assert_double_eq(r.inputs[2].num[1], 1e-300);
	ck_assert_int_eq(r.inputs[3].dtype, IA_OIP_BYTES);
	ck_assert_ptr_null(r.inputs[3].num);
	ck_assert_str_eq(r.inputs[3].str[0], "red");
	ck_assert_str_eq(r.inputs[3].str[1], "gr\xc3\xbcn \"x\"");
	ck_assert_uint_eq(r.inputs[3].str_len[1], 9);
	ck_assert_double_eq(r.inputs[4].num[0], 18446744073709549568.0);
	ck_assert_double_eq(r.inputs[5].num[1], 3);
	ia_oip_request_free(&r);

	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"UINT8\",\"data\":[256]}]}", "not a UINT8");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"UINT8\",\"data\":[-1]}]}", "not a UINT8");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"INT32\",\"data\":[1.5]}]}", "not a INT32");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"BOOL\",\"data\":[2]}]}", "not a BOOL");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1e39]}]}", "not a FP32");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[1e400]}]}", "not a FP64");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[\"1\"]}]}", "not a number");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[null]}]}", "not a number");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[true]}]}", "not a number");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[1]}]}", "not a string");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FLOAT\",\"data\":[1]}]}",
		"unknown datatype 'FLOAT'");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"fp32\",\"data\":[1]}]}", "unknown datatype");
	ck_assert_int_eq(ia_oip_dtype_parse("UINT16"), IA_OIP_UINT16);
	ck_assert_str_eq(ia_oip_dtype_name(IA_OIP_BF16), "BF16");
	ck_assert_uint_eq(ia_oip_dtype_size(IA_OIP_INT64), 8);
	ck_assert_uint_eq(ia_oip_dtype_size(IA_OIP_BYTES), 0);
}
END_TEST

START_TEST(numbers)
{
	static const struct {
		const char *text;
		double v;
	} ok[] = {
		{"0", 0},
		{"-0.5", -0.5},
		{"123456789", 123456789},
		{"1E3", 1000},
		{"2.5e-3", 2.5e-3},
		{"12345678901234567890123", 12345678901234567890123.0},
		{"0.1234567890123456789012", 0.1234567890123456789012},
		{"4.9e-324", 4.9e-324},
		{"1.7976931348623157e308", 1.7976931348623157e308},
		{"9007199254740993", 9007199254740993.0},
	};
	char body[256];
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct ia_oip_request r;
		snprintf(body, sizeof body,
			 "{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[%s]}]}",
			 ok[i].text);
		ck_assert_msg(parse(body, &r) == CORE_OK, "%s: %s", ok[i].text, err.message);
		ck_assert_msg(r.inputs[0].num[0] == ok[i].v, "%s read as %.17g", ok[i].text, r.inputs[0].num[0]);
		ia_oip_request_free(&r);
	}
	static const char *const bad[] = {"01", "1.", "-", ".5", "1e", "+1", "0x10", "1.e5", "--1", "NaN"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct ia_oip_request r;
		snprintf(body, sizeof body,
			 "{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[%s]}]}", bad[i]);
		ck_assert_msg(parse(body, &r) == CORE_EINVAL, "accepted %s", bad[i]);
	}
}
END_TEST

START_TEST(malformed_requests)
{
	refused("", "JSON object");
	refused("[]", "JSON object");
	refused("{\"inputs\":[]}", "no inputs");
	refused("{}", "no inputs");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]} x",
		"after the request");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]", "expected ','");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1,]}]}", "not a number");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1 2]}]}", "malformed");
	refused("{\"inputs\":[{\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}", "no name");
	refused("{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"data\":[1]}]}", "no shape");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"data\":[1]}]}", "no datatype");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\"}]}", "no data");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[-1],\"datatype\":\"FP32\",\"data\":[1]}]}", "non-negative");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":\"1\",\"datatype\":\"FP32\",\"data\":[1]}]}",
		"object or an array");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":1}]}", "must be an array");
	refused("{\"inputs\":[{\"name\":\"a\",\"name\":\"b\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}",
		"'name' twice");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]},"
		"{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}",
		"given twice");
	refused("{\"id\": 7, \"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}",
		"id must be a string");
	refused("{\"parameters\": [], \"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}",
		"parameters must be an object");
	refused("{\"parameters\": {\"binary_data_output\": 1}, \"inputs\":[{\"name\":\"a\",\"shape\":[1],"
		"\"datatype\":\"FP32\",\"data\":[1]}]}",
		"true or false");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"\x01\"]}]}", "control");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"\\x\"]}]}", "malformed");
	refused("{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}],\"inputs\":[]}",
		"twice");
	refused("{\"outputs\":[{\"parameters\":{}}],\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\","
		"\"data\":[1]}]}",
		"needs a name");
	/* a member name too long to be one we know is an unknown one, skipped */
	struct ia_oip_request r;
	ck_assert_int_eq(parse("{\"a_member_name_longer_than_any_we_know_of\": {\"b\": 1}, \"inputs\":[{\"name\":\"a\","
			       "\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}",
			       &r),
			 CORE_OK);
	ia_oip_request_free(&r);
}
END_TEST

/* JSON header + binary tail, as a client of the extension sends them. */
struct bin {
	char body[4096];
	size_t len;
	char hlen[32];
};

static void bin_make(struct bin *b, const char *json, const void *tail, size_t tail_len)
{
	size_t jl = strlen(json);
	memcpy(b->body, json, jl);
	if (tail_len)
		memcpy(b->body + jl, tail, tail_len);
	b->len = jl + tail_len;
	snprintf(b->hlen, sizeof b->hlen, "%zu", jl);
}

START_TEST(binary_inputs)
{
	struct bin b;
	struct ia_oip_request r;
	/* FP32 [1,3] and UINT8 [2] as binary, a JSON input between them */
	float f[3] = {0.5f, -1.25f, 255.0f};
	unsigned char tail[14];
	memcpy(tail, f, 12); /* the test machine is little-endian, as the wire */
	tail[12] = 7;
	tail[13] = 200;
	bin_make(&b,
		 "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_"
		 "size\":12}},"
		 "{\"name\":\"j\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[9]},"
		 "{\"name\":\"u\",\"shape\":[2],\"datatype\":\"UINT8\",\"parameters\":{\"binary_data_size\":2}}],"
		 "\"outputs\":[{\"name\":\"label\",\"parameters\":{\"binary_data\":false}},{\"name\":\"probabilities\"}"
		 "],"
		 "\"parameters\":{\"binary_data_output\":true}}",
		 tail, sizeof tail);
	ck_assert_msg(ia_oip_parse(b.body, b.len, b.hlen, &r, &err) == CORE_OK, "%s", err.message);
	ck_assert(r.inputs[0].binary);
	ck_assert_double_eq(r.inputs[0].num[0], 0.5);
	ck_assert_double_eq(r.inputs[0].num[1], -1.25);
	ck_assert_double_eq(r.inputs[0].num[2], 255);
	ck_assert(!r.inputs[1].binary);
	ck_assert_double_eq(r.inputs[1].num[0], 9);
	ck_assert_double_eq(r.inputs[2].num[0], 7);
	ck_assert_double_eq(r.inputs[2].num[1], 200);
	ck_assert(r.binary_output);
	ck_assert_uint_eq(r.n_outputs, 2);
	ck_assert_int_eq(r.outputs[0].binary, 0);
	ck_assert_int_eq(r.outputs[1].binary, -1);
	/* which outputs, in the request's order, binary unless said otherwise */
	const char *const names[] = {"probabilities", "label", "other"};
	size_t order[3], count;
	bool binary[3];
	ck_assert_int_eq(ia_oip_pick_outputs(&r, names, 3, order, binary, &count, &err), CORE_OK);
	ck_assert_uint_eq(count, 2);
	ck_assert_uint_eq(order[0], 1);
	ck_assert_uint_eq(order[1], 0);
	ck_assert(!binary[1]);
	ck_assert(binary[0]);
	ck_assert_int_eq(ia_oip_pick_outputs(&r, names + 1, 2, order, binary, &count, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "no output 'probabilities'"));
	ia_oip_request_free(&r);

	/* the header length equal to the body: no binary part, all JSON */
	bin_make(&b, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}", NULL, 0);
	ck_assert_int_eq(ia_oip_parse(b.body, b.len, b.hlen, &r, &err), CORE_OK);
	ck_assert_int_eq(ia_oip_pick_outputs(&r, names, 3, order, binary, &count, &err), CORE_OK);
	ck_assert_uint_eq(count, 3);
	ck_assert_uint_eq(order[2], 2);
	ck_assert(!binary[0] && !binary[2]);
	ia_oip_request_free(&r);

	/* BYTES: 4-byte little-endian lengths, then the bytes (a NUL inside is kept) */
	static const unsigned char bytes[] = {3, 0, 0, 0, 'c', 'a', 't', 0, 0, 0, 0, 2, 0, 0, 0, 'a', 0};
	bin_make(&b,
		 "{\"inputs\":[{\"name\":\"s\",\"shape\":[3],\"datatype\":\"BYTES\",\"parameters\":{\"binary_data_"
		 "size\":17}}]}",
		 bytes, sizeof bytes);
	ck_assert_msg(ia_oip_parse(b.body, b.len, b.hlen, &r, &err) == CORE_OK, "%s", err.message);
	ck_assert_str_eq(r.inputs[0].str[0], "cat");
	ck_assert_str_eq(r.inputs[0].str[1], "");
	ck_assert_uint_eq(r.inputs[0].str_len[2], 2);
	ck_assert_int_eq(memcmp(r.inputs[0].str[2], "a\0", 3), 0);
	ia_oip_request_free(&r);
}
END_TEST

static void bin_refused(const char *json, const void *tail, size_t tail_len, const char *hlen, const char *want)
{
	struct bin b;
	struct ia_oip_request r;
	bin_make(&b, json, tail, tail_len);
	enum core_status rc = ia_oip_parse(b.body, b.len, hlen ? hlen : b.hlen, &r, &err);
	ck_assert_msg(rc == CORE_EINVAL, "accepted: %s", json);
	ck_assert_msg(strstr(err.message, want), "'%s' does not say '%s'", err.message, want);
	ia_oip_request_free(&r);
}

START_TEST(binary_sizes_must_add_up)
{
	unsigned char tail[64] = {0};
	const char *fp12 = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"parameters\":{"
			   "\"binary_data_size\":12}}]}";
	/* too few bytes */
	bin_refused(fp12, tail, 8, NULL, "only 8 bytes");
	/* too many */
	bin_refused(fp12, tail, 16, NULL, "16 bytes of binary data");
	/* a size that is not the shape's */
	bin_refused("{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_"
		    "size\":8}}]}",
		    tail, 8, NULL, "need 12");
	/* binary data without the header */
	{
		struct ia_oip_request r;
		ck_assert_int_eq(ia_oip_parse(fp12, strlen(fp12), NULL, &r, &err), CORE_EINVAL);
		ck_assert_ptr_nonnull(strstr(err.message, "no Inference-Header-Content-Length"));
	}
	/* a tail with no header at all is data after the object */
	{
		struct bin b;
		struct ia_oip_request r;
		bin_make(&b, fp12, tail, 12);
		ck_assert_int_eq(ia_oip_parse(b.body, b.len, NULL, &r, &err), CORE_EINVAL);
	}
	/* header values */
	bin_refused(fp12, tail, 12, "abc", "must be a number");
	bin_refused(fp12, tail, 12, "", "must be a number");
	bin_refused(fp12, tail, 12, "99999", "exceeds");
	bin_refused(fp12, tail, 12, "2", "malformed JSON");
	/* data and binary both */
	bin_refused("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1],"
		    "\"parameters\":{\"binary_data_size\":4}}]}",
		    tail, 4, NULL, "both");
	bin_refused("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\","
		    "\"parameters\":{\"binary_data_size\":-4}}]}",
		    tail, 0, NULL, "non-negative");
	/* BYTES whose lengths run past the tensor */
	static const unsigned char bytes[] = {9, 0, 0, 0, 'a', 'b'};
	bin_refused("{\"inputs\":[{\"name\":\"s\",\"shape\":[1],\"datatype\":\"BYTES\",\"parameters\":{\"binary_data_"
		    "size\":6}}]}",
		    bytes, sizeof bytes, NULL, "ends inside element 0");
	bin_refused("{\"inputs\":[{\"name\":\"s\",\"shape\":[2],\"datatype\":\"BYTES\",\"parameters\":{\"binary_data_"
		    "size\":6}}]}",
		    "\2\0\0\0ab", 6, NULL, "too small for 2");
	bin_refused("{\"inputs\":[{\"name\":\"s\",\"shape\":[2],\"datatype\":\"BYTES\",\"parameters\":{\"binary_data_"
		    "size\":8}}]}",
		    "\2\0\0\0ab\5\0", 8, NULL, "ends inside element 1");
	bin_refused("{\"inputs\":[{\"name\":\"s\",\"shape\":[1],\"datatype\":\"BYTES\",\"parameters\":{\"binary_data_"
		    "size\":7}}]}",
		    "\2\0\0\0abc", 7, NULL, "elements take 6");
	/* BOOL bytes other than 0 and 1, non-finite floats */
	bin_refused("{\"inputs\":[{\"name\":\"b\",\"shape\":[1],\"datatype\":\"BOOL\",\"parameters\":{\"binary_data_"
		    "size\":1}}]}",
		    "\2", 1, NULL, "neither 0 nor 1");
	float inf = INFINITY;
	bin_refused("{\"inputs\":[{\"name\":\"b\",\"shape\":[1],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_"
		    "size\":4}}]}",
		    &inf, 4, NULL, "finite");
}
END_TEST

START_TEST(binary_integer_and_half_types)
{
	struct bin b;
	struct ia_oip_request r;
	static const unsigned char tail[] = {
		0xff, 0xff,                                     /* INT16 -1 */
		0x00, 0x3c, 0x00, 0xc0,                         /* FP16 1.0, -2.0 */
		0x80, 0x3f,                                     /* BF16 1.0 */
		0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* INT64 -2 */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, /* FP64 1.0 */
		0x01, 0x00, 0x00, 0x80,                         /* UINT32 2^31 + 1 */
	};
	bin_make(&b,
		 "{\"inputs\":["
		 "{\"name\":\"a\",\"shape\":[1],\"datatype\":\"INT16\",\"parameters\":{\"binary_data_size\":2}},"
		 "{\"name\":\"b\",\"shape\":[2],\"datatype\":\"FP16\",\"parameters\":{\"binary_data_size\":4}},"
		 "{\"name\":\"c\",\"shape\":[1],\"datatype\":\"BF16\",\"parameters\":{\"binary_data_size\":2}},"
		 "{\"name\":\"d\",\"shape\":[1],\"datatype\":\"INT64\",\"parameters\":{\"binary_data_size\":8}},"
		 "{\"name\":\"e\",\"shape\":[1],\"datatype\":\"FP64\",\"parameters\":{\"binary_data_size\":8}},"
		 "{\"name\":\"f\",\"shape\":[1],\"datatype\":\"UINT32\",\"parameters\":{\"binary_data_size\":4}}]}",
		 tail, sizeof tail);
	ck_assert_msg(ia_oip_parse(b.body, b.len, b.hlen, &r, &err) == CORE_OK, "%s", err.message);
	ck_assert_double_eq(r.inputs[0].num[0], -1);
	ck_assert_double_eq(r.inputs[1].num[0], 1);
	ck_assert_double_eq(r.inputs[1].num[1], -2);
	ck_assert_double_eq(r.inputs[2].num[0], 1);
	ck_assert_double_eq(r.inputs[3].num[0], -2);
	ck_assert_double_eq(r.inputs[4].num[0], 1);
	ck_assert_double_eq(r.inputs[5].num[0], 2147483649.0);
	ia_oip_request_free(&r);
}
END_TEST

START_TEST(render_json_and_binary)
{
	static const float probs[] = {0.1f, 0.7f, 0.2f, 1.0f, 0.0f, 0.0f};
	static const char *const labels[] = {"dog", "c\"at"};
	struct ia_oip_output outs[2] = {
		{.name = "probabilities", .dtype = IA_OIP_FP32, .ndim = 2, .shape = {2, 3}, .f32 = probs},
		{.name = "label", .dtype = IA_OIP_BYTES, .ndim = 1, .shape = {2}, .strs = labels},
	};
	struct core_buf b;
	size_t jl;
	core_buf_init(&b, 1 << 20);
	ck_assert_int_eq(ia_oip_render("mnist", "3", "req-1", outs, 2, &b, &jl, &err), CORE_OK);
	ck_assert_uint_eq(jl, b.len);
	ck_assert_str_eq(b.data,
			 "{\"model_name\":\"mnist\",\"model_version\":\"3\",\"id\":\"req-1\",\"outputs\":["
			 "{\"name\":\"probabilities\",\"datatype\":\"FP32\",\"shape\":[2,3],"
			 "\"data\":[0.1,0.7,0.2,1.0,0.0,0.0]},"
			 "{\"name\":\"label\",\"datatype\":\"BYTES\",\"shape\":[2],\"data\":[\"dog\",\"c\\\"at\"]}]}");
	json_error_t je;
	json_t *j = json_loads(b.data, 0, &je);
	ck_assert_ptr_nonnull(j);
	json_decref(j);
	/* binary: both outputs after the JSON, in order */
	core_buf_reset(&b);
	outs[0].binary = outs[1].binary = true;
	ck_assert_int_eq(ia_oip_render("mnist", NULL, NULL, outs, 2, &b, &jl, &err), CORE_OK);
	ck_assert_uint_eq(b.len, jl + 24 + (4 + 3) + (4 + 4));
	j = json_loadb(b.data, jl, 0, &je);
	ck_assert_ptr_nonnull(j);
	ck_assert_ptr_null(json_object_get(j, "id"));
	ck_assert_ptr_null(json_object_get(j, "model_version"));
	json_t *o0 = json_array_get(json_object_get(j, "outputs"), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(o0, "parameters"), "binary_data_size")),
			 24);
	ck_assert_ptr_null(json_object_get(o0, "data"));
	json_t *o1 = json_array_get(json_object_get(j, "outputs"), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(o1, "parameters"), "binary_data_size")),
			 15);
	json_decref(j);
	ck_assert_int_eq(memcmp(b.data + jl, probs, 24), 0);
	ck_assert_int_eq(memcmp(b.data + jl + 24, "\3\0\0\0dog\4\0\0\0c\"at", 15), 0);
	/* the buffer's ceiling */
	struct core_buf small;
	core_buf_init(&small, 16);
	ck_assert_int_eq(ia_oip_render("mnist", NULL, NULL, outs, 2, &small, &jl, &err), CORE_ELIMIT);
	core_buf_free(&small);
	core_buf_free(&b);
}
END_TEST

START_TEST(floats_shortest_and_exact)
{
	char out[32];
	static const struct {
		float f;
		const char *text;
	} cases[] = {
		{0.1f, "0.1"},
		{1.0f, "1.0"},
		{-2.5f, "-2.5"},
		{100.0f, "100.0"},
		{1e-6f, "1e-6"},
		{3e10f, "3e10"},
		{0.001f, "0.001"},
		{123456792.0f, "123456790.0"},
		{1.0f / 3, "0.33333334"},
		{-0.0f, "-0.0"},
		{0.0f, "0.0"},
		{16777216.0f, "16777216.0"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ia_oip_fmt_float(cases[i].f, out);
		ck_assert_msg(strcmp(out, cases[i].text) == 0, "%.9g as %s, want %s", (double)cases[i].f, out,
			      cases[i].text);
	}
	ia_oip_fmt_float(NAN, out);
	ck_assert_str_eq(out, "null");
	/* every text reads back as its float, over many magnitudes */
	unsigned seed = 12345;
	for (int i = 0; i < 20000; i++) {
		seed = seed * 1103515245u + 12345u;
		uint32_t u = seed ^ (seed >> 7) << 20;
		float f;
		memcpy(&f, &u, 4);
		if (!isfinite(f))
			continue;
		size_t n = ia_oip_fmt_float(f, out);
		ck_assert_uint_eq(n, strlen(out));
		float back = strtof(out, NULL);
		ck_assert_msg(back == f || (f == 0 && back == 0), "%.9g written %s", (double)f, out);
	}
}
END_TEST

/* The reference ia_oip_fmt_float must agree with: printf's correctly rounded nine
 * digits, then the fewest of 6, 7, 8 (rounded from those nine) that strtof reads back.
 * Only the digits and exponent are compared: the spelling is shared. */
static void reference_digits(float f, char *digits, int *exp)
{
	char buf[32], d9[10], dp[10], text[48];
	snprintf(buf, sizeof buf, "%.8e", fabs((double)f));
	d9[0] = buf[0];
	memcpy(d9 + 1, buf + 2, 8);
	d9[9] = 0;
	int e9 = (int)strtol(buf + 11, NULL, 10);
	for (int p = 6; p < 9; p++) {
		memcpy(dp, d9, (size_t)p);
		int e = e9;
		if (d9[p] >= '5') {
			int i = p - 1;
			while (i >= 0 && dp[i] == '9')
				dp[i--] = '0';
			if (i < 0) {
				dp[0] = '1';
				e++;
			} else {
				dp[i]++;
			}
		}
		dp[p] = 0;
		snprintf(text, sizeof text, "%s%c.%se%d", f < 0 ? "-" : "", dp[0], dp + 1, e);
		if (strtof(text, NULL) == f) {
			memcpy(digits, dp, (size_t)p + 1);
			*exp = e;
			return;
		}
	}
	memcpy(digits, d9, 10);
	*exp = e9;
}

/* The significant digits (trailing zeros dropped) and decimal exponent a JSON number
 * spells. */
static void digits_of(const char *text, char *digits, int *exp)
{
	int n = 0, e = 0, point = -1, first = -1;
	const char *c = text;
	if (*c == '-')
		c++;
	for (int pos = 0; *c && *c != 'e'; c++) {
		if (*c == '.') {
			point = pos;
			continue;
		}
		if (first < 0 && *c != '0')
			first = pos;
		if (first >= 0)
			digits[n++] = *c;
		pos++;
	}
	if (point < 0)
		point = (int)strcspn(text[0] == '-' ? text + 1 : text, "e");
	if (*c == 'e')
		e = (int)strtol(c + 1, NULL, 10);
	while (n > 1 && digits[n - 1] == '0')
		n--;
	digits[n] = 0;
	*exp = e + point - first - 1;
}

START_TEST(fmt_float_agrees_with_printf_and_strtof)
{
	/* random bit patterns over every magnitude, then the probabilities a softmax writes
	 * (0..1), then values near powers of ten, then halves (ties in the last digits) */
	unsigned seed = 777;
	long checked = 0;
	for (int i = 0; i < 600000; i++) {
		seed = seed * 1103515245u + 12345u;
		uint32_t u = seed ^ (seed >> 9) << 17;
		float f;
		if (i < 200000) {
			memcpy(&f, &u, 4);
		} else if (i < 400000) {
			f = (float)(u >> 8) / 16777216.0f;
		} else if (i < 500000) {
			f = powf(10.0f, (float)(i % 77) - 38) * (1.0f + (float)((int)(u % 2001) - 1000) * 1e-7f);
		} else {
			f = (float)(u % 100000) + 0.5f;
			f = i % 2 ? f / 1024.0f : f;
		}
		if (!isfinite(f) || f == 0)
			continue;
		char out[32], got[16], want[16];
		int ge, we;
		ia_oip_fmt_float(f, out);
		ck_assert_msg(strtof(out, NULL) == f, "%.9g written %s", (double)f, out);
		digits_of(out, got, &ge);
		reference_digits(f, want, &we);
		size_t wl = strlen(want);
		while (wl > 1 && want[wl - 1] == '0')
			want[--wl] = 0;
		ck_assert_msg(strcmp(got, want) == 0 && ge == we, "%.9g written %s: digits %s e%d, printf's %s e%d",
			      (double)f, out, got, ge, want, we);
		checked++;
	}
	ck_assert_int_gt(checked, 590000);
	/* the speed, for the record (benchmarks judge it): a reply's 10 probabilities */
	char out[32];
	float probs[10];
	for (int i = 0; i < 10; i++)
		probs[i] = (float)(i + 1) / 55.0f;
	uint64_t t0 = core_monotonic_ns();
	size_t sum = 0;
	for (int r = 0; r < 20000; r++)
		for (int i = 0; i < 10; i++)
			sum += ia_oip_fmt_float(probs[i], out);
	fprintf(stderr, "fmt_float: %.1f ns per float (%zu bytes)\n", (double)(core_monotonic_ns() - t0) / 200000.0,
		sum);
}
END_TEST

/* The benchmark's request: one 28x28 image of pixel values. Prints the parse time. */
START_TEST(parse_784_pixels_speed)
{
	struct core_buf b;
	core_buf_init(&b, 1 << 20);
	core_buf_append_str(&b,
			    "{\"id\":\"bench\",\"inputs\":[{\"name\":\"image\",\"shape\":[1,784],\"datatype\":\"FP32\","
			    "\"data\":[");
	for (int i = 0; i < 784; i++)
		core_buf_printf(&b, i ? ",%d.%d" : "%d.%d", (i * 37) % 256, i % 10);
	core_buf_append_str(&b, "]}]}");
	struct ia_oip_request r;
	int rounds = 300;
	struct timespec t0, t1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	for (int k = 0; k < rounds; k++) {
		ck_assert_int_eq(ia_oip_parse(b.data, b.len, NULL, &r, &err), CORE_OK);
		if (k + 1 < rounds)
			ia_oip_request_free(&r);
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / rounds;
	fprintf(stderr, "test_oip: a 784-pixel infer request (%zu bytes) parses in %.1f us of CPU\n", b.len, us);
	ck_assert_uint_eq(r.inputs[0].count, 784);
	ck_assert_double_eq(r.inputs[0].num[783], (783 * 37) % 256 + 0.3);
	ia_oip_request_free(&r);
	core_buf_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("inference-api-oip");
	TCase *tc = tcase_create("oip");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, flat_json_fp32);
	tcase_add_test(tc, nested_equals_flat_and_members_in_any_order);
	tcase_add_test(tc, datatypes);
	tcase_add_test(tc, numbers);
	tcase_add_test(tc, malformed_requests);
	tcase_add_test(tc, binary_inputs);
	tcase_add_test(tc, binary_sizes_must_add_up);
	tcase_add_test(tc, binary_integer_and_half_types);
	tcase_add_test(tc, render_json_and_binary);
	tcase_add_test(tc, floats_shortest_and_exact);
	tcase_add_test(tc, fmt_float_agrees_with_printf_and_strtof);
	tcase_add_test(tc, parse_784_pixels_speed);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
