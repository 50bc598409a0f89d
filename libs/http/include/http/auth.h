/* http auth: the token store a server checks requests against (http_server_config.auth).
 *
 * Tokens live in one text file (the setting AUTH_TOKENS_FILE), one per line:
 *   <name> <scope> <sha256 of the secret, 64 hex digits>
 * with blank lines and lines starting with '#' ignored. name is 1..64 characters of
 * [A-Za-z0-9._@-], unique in the file; scope is read, write or admin. Only the hash of
 * a secret is ever stored; tools/lathe-token makes a secret, prints it once and appends
 * its line, or removes a name's line.
 *
 * A request presents a secret as
 *   Authorization: Bearer <secret>                    (MLFLOW_TRACKING_TOKEN)
 *   Authorization: Basic base64(<name>:<secret>)      (MLFLOW_TRACKING_USERNAME/PASSWORD)
 * The secret's SHA-256 is compared with every stored hash in constant time (a Basic
 * name must match its line too).
 *
 * The file is re-read when it changes (device, inode, size or mtime differ; looked at
 * no more than once a second), so tokens are created and revoked without a restart; a
 * Kubernetes Secret mounted as a volume is replaced in place and picked up the same
 * way. At start-up the file must be readable and every line valid. On a later change a
 * malformed line is skipped with an error log line (the others stay valid) and a file
 * that cannot be read leaves no token valid until it can: a revoked token never comes
 * back through a broken edit. Thread-safe. */
#ifndef HTTP_AUTH_H
#define HTTP_AUTH_H
#include <stdbool.h>
#include <stddef.h>
#include "core/status.h"
#include "http/http.h"

#define HTTP_AUTH_NAME_MAX 64
#define HTTP_AUTH_HASH_HEX 64
/* The longest secret or Authorization header value looked at; longer ones are invalid. */
#define HTTP_AUTH_SECRET_MAX 1024

struct http_auth;

/* One line of the token file. */
struct http_token {
	char name[HTTP_AUTH_NAME_MAX + 1];
	enum http_scope scope;             /* HTTP_SCOPE_READ, _WRITE or _ADMIN */
	char hash[HTTP_AUTH_HASH_HEX + 1]; /* lower-case hex */
};

/* Parses a token file's text (len bytes at text, NUL inside is malformed).
 * out, n_out: [out] the valid lines (malloc'd array, caller frees; NULL when none).
 * Returns the number of malformed lines (0: all good); err describes the first one
 * ("line 3: scope 'root' is not read, write or admin"). */
size_t http_tokens_parse(const char *text, size_t len, struct http_token **out, size_t *n_out, struct core_error *err);

/* Decodes the credentials of a Basic Authorization header (the text after "Basic "):
 * base64 of "name:secret", split at the first ':'. buf (cap bytes) receives the
 * decoded text; *name and *secret point into it. Returns false for text that is not
 * base64, decodes to more than cap - 1 bytes, holds a NUL, or has no ':' or an empty
 * name. */
bool http_auth_basic_decode(const char *b64, char *buf, size_t cap, const char **name, const char **secret);

/* The policy every daemon applies to its settings (svc):
 *   mode "on": tokens_file must be readable and valid, *out is the store;
 *   mode "off": *out is NULL (no authentication); a warn line when bind_address is not
 *     loopback, since then anyone who reaches the port may write and delete;
 *   mode NULL or "": off when bind_address is a loopback address, else CORE_EINVAL (a
 *     daemon reachable from elsewhere does not start open by accident).
 * Any other mode is CORE_EINVAL. err says why, naming the settings AUTH and
 * AUTH_TOKENS_FILE. */
enum core_status http_auth_setup(const char *mode, const char *tokens_file, const char *bind_address,
				 struct http_auth **out, struct core_error *err);

/* Opens the store on path (copied), reading it now. CORE_ENOENT / CORE_EIO when it
 * cannot be read, CORE_EINVAL when a line is malformed (err names it). */
enum core_status http_auth_open(const char *path, struct http_auth **out, struct core_error *err);

/* Frees the store. a may be NULL. No server may still use it. */
void http_auth_free(struct http_auth *a);

/* Scope names "read", "write", "admin" (and "public", "by-method"). */
const char *http_scope_name(enum http_scope s);
#endif
