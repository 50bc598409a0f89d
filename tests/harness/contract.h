/* Contract tests (prefix th_contract_): a service's OpenAPI 3 document in
 * proto/openapi/<service>.yaml is kept true by checking real responses against it and
 * the daemon's real route table against its paths. The documents are written in JSON
 * syntax (which is YAML) so jansson reads them with no YAML library.
 *
 * Conventions of the documents:
 *   - paths use OpenAPI {param} segments; a path item with "x-lathe-rest": true has a
 *     last {param} that spans several segments (the route's {name*}, e.g. artifact paths);
 *   - "x-lathe-ajax-twins": true at the top level says every /api/2.0/ path is also
 *     served at /ajax-api/2.0/ (MLflow's web UI prefix);
 *   - every document stands alone (the daemon serves it at GET /openapi.json):
 *     "$ref": "#/components/schemas/X" resolves in the document itself. The routes
 *     every daemon serves and the Status and Error schemas are copies of
 *     proto/openapi/common.yaml's (tests/unit/openapi keeps them equal).
 * Schemas are checked for: type (one or a list), nullable, properties, required, items, enum,
 * additionalProperties: false, oneOf/anyOf, $ref. */
#ifndef LATHE_TEST_CONTRACT_H
#define LATHE_TEST_CONTRACT_H
#include <jansson.h>
#include "harness.h"

/* Loads proto/openapi/<name>.yaml as it is; fails the test if it is missing, not
 * valid JSON or has no paths. The caller json_decref()s it. */
json_t *th_contract_load(const char *name);

/* Fails the test unless the document has `method path` (path: a concrete request
 * path; a query string is ignored), lists r->status among its responses (or has a
 * "default"), and, when that response declares an application/json schema, r's body
 * is valid against it. */
void th_contract_check(json_t *doc, const char *method, const char *path, const struct th_response *r);

/* Fails the test unless the document's `method path` (path concrete, as for
 * th_contract_check) lists status among its responses with content_type's media type
 * (its parameters, "; charset=utf-8", dropped) written out in its content: for answers
 * that are not JSON (a page, a file), whose bodies th_contract_check cannot read. */
void th_contract_media_type(json_t *doc, const char *method, const char *path, long status, const char *content_type);

/* What a client session got a 2xx from, by the document's operations: each response
 * goes through th_contract_note, and at the end th_contract_expect_all says whether the
 * session used every operation. Set doc (borrowed) and zero the rest. */
#define TH_CONTRACT_OPS_MAX 64
struct th_contract_cover {
	json_t *doc;
	char seen[TH_CONTRACT_OPS_MAX][200]; /* "POST /v2/models/{model}/infer" */
	size_t n;
};
/* th_contract_check, then notes METHOD and the document's template of path when r is
 * a 2xx. */
void th_contract_note(struct th_contract_cover *c, const char *method, const char *path, const struct th_response *r);
/* Fails the test unless the document has n_ops operations and the session got a 2xx
 * from each. */
void th_contract_expect_all(const struct th_contract_cover *c, size_t n_ops);

/* Fails the test unless every METHOD PATTERN that `lathe-<service> --routes` prints
 * (HEAD excepted) is in the document and every operation of the document is served. */
void th_contract_routes(json_t *doc, const char *service);
#endif
