/* Token authentication and authorisation (face: http/auth.h), and the audit line.
 * server.c's begin() calls http_auth_admit once a request matched a route, before any
 * body byte is read, and on_completed calls http_auth_audit; everything else about
 * tokens lives here.
 *
 * The store: the parsed token file (an immutable table) behind a mutex, with the
 * identity (device, inode, size, mtime) of the file it came from. A request hashes the
 * presented secret outside the lock, then, under it, swaps in a fresh table when the
 * file changed (looked at no more than once a second) and compares the hash with every
 * line in constant time (CRYPTO_memcmp, no early exit), so neither the hashes nor which
 * line matched leak through timing. A table is a few lines; re-reading it under the
 * lock costs microseconds, once per change.
 *
 * Why hashes: a copy of the file (a backup, a leaked Secret) does not let anyone in.
 * The secrets are 256 random bits (tools/lathe-token), so an unsalted SHA-256 is as
 * good as any slow hash here. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "core/alloc.h"
#include "core/file.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/time.h"
#include "http/auth.h"
#include "http_int.h"

/* A token file is a handful of lines; a bigger one is a mistake. */
#define TOKENS_FILE_MAX     ((size_t)1 << 20)
#define RECHECK_INTERVAL_NS 1000000000ULL
#define CHALLENGE           "Bearer realm=\"lathe\", Basic realm=\"lathe\""

/* What a token file looked like when it was read; a change to any member means
 * "read it again". */
struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	bool present;
};

struct http_auth {
	char *path;
	pthread_mutex_t lock; /* guards everything below */
	struct http_token *tokens;
	size_t n_tokens;
	struct file_id id;
	uint64_t checked_ns; /* core_monotonic_ns of the last stat */
};

const char *http_scope_name(enum http_scope s)
{
	switch (s) {
	case HTTP_SCOPE_BY_METHOD:
		return "by-method";
	case HTTP_SCOPE_PUBLIC:
		return "public";
	case HTTP_SCOPE_READ:
		return "read";
	case HTTP_SCOPE_WRITE:
		return "write";
	case HTTP_SCOPE_ADMIN:
		return "admin";
	}
	return "?";
}

/* --- the token file ---------------------------------------------------------------- */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	       c == '-' || c == '@';
}

/* Splits line (NUL-terminated, modified) into at most max whitespace-separated fields;
 * returns how many there were (max + 1 when there were more). */
static size_t split_fields(char *line, char **fields, size_t max)
{
	size_t n = 0;
	char *save = NULL;
	for (char *f = strtok_r(line, " \t\r", &save); f; f = strtok_r(NULL, " \t\r", &save)) {
		if (n == max)
			return max + 1;
		fields[n++] = f;
	}
	return n;
}

/* Parses one non-comment line into t; returns NULL or why it is malformed. */
static const char *parse_line(char *line, const struct http_token *seen, size_t n_seen, struct http_token *t)
{
	char *f[3];
	size_t n = split_fields(line, f, 3);
	if (n != 3)
		return "expected '<name> <scope> <sha256-hex>'";
	size_t name_len = strlen(f[0]);
	if (name_len > HTTP_AUTH_NAME_MAX)
		return "name longer than 64 characters";
	for (size_t i = 0; i < name_len; i++)
		if (!name_char(f[0][i]))
			return "name holds a character outside [A-Za-z0-9._@-]";
	for (size_t i = 0; i < n_seen; i++)
		if (strcmp(seen[i].name, f[0]) == 0)
			return "name already used by an earlier line";
	if (strcmp(f[1], "read") == 0)
		t->scope = HTTP_SCOPE_READ;
	else if (strcmp(f[1], "write") == 0)
		t->scope = HTTP_SCOPE_WRITE;
	else if (strcmp(f[1], "admin") == 0)
		t->scope = HTTP_SCOPE_ADMIN;
	else
		return "scope is not read, write or admin";
	if (strlen(f[2]) != HTTP_AUTH_HASH_HEX || strspn(f[2], "0123456789abcdefABCDEF") != HTTP_AUTH_HASH_HEX)
		return "hash is not 64 hex digits (the SHA-256 of the secret)";
	memcpy(t->name, f[0], name_len + 1);
	for (size_t i = 0; i <= HTTP_AUTH_HASH_HEX; i++)
		t->hash[i] = (f[2][i] >= 'A' && f[2][i] <= 'F') ? (char)(f[2][i] - 'A' + 'a') : f[2][i];
	return NULL;
}

size_t http_tokens_parse(const char *text, size_t len, struct http_token **out, size_t *n_out, struct core_error *err)
{
	struct http_token *tokens = NULL;
	size_t n = 0, cap = 0, bad = 0, line_no = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t line_len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = core_xstrndup(p, line_len);
		p += line_len + (nl ? 1 : 0);
		line_no++;
		const char *why = NULL;
		const char *s = line + strspn(line, " \t\r");
		if (strlen(line) != line_len)
			why = "holds a NUL byte";
		else if (*s == '\0' || *s == '#')
			goto next;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			tokens = core_xrealloc(tokens, cap * sizeof *tokens);
		}
		if (!why)
			why = parse_line(line, tokens, n, &tokens[n]);
		if (why) {
			if (bad++ == 0)
				core_fail(err, CORE_EINVAL, "line %zu: %s", line_no, why);
		} else {
			n++;
		}
	next:
		free(line);
	}
	if (n == 0) {
		free(tokens);
		tokens = NULL;
	}
	*out = tokens;
	*n_out = n;
	return bad;
}

static struct file_id file_id_of(const char *path)
{
	struct file_id id = {0};
	struct stat st;
	if (stat(path, &st) == 0) {
		id.present = true;
		id.dev = st.st_dev;
		id.ino = st.st_ino;
		id.size = st.st_size;
		id.mtime = st.st_mtim;
	}
	return id;
}

static bool file_id_same(const struct file_id *a, const struct file_id *b)
{
	return a->present == b->present && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Reads and parses the file. strict: any malformed line fails (start-up); else those
 * lines are skipped and logged. On failure *tokens is NULL. */
static enum core_status load(const char *path, bool strict, struct http_token **tokens, size_t *n,
			     struct core_error *err)
{
	char *text = NULL;
	size_t len = 0;
	*tokens = NULL;
	*n = 0;
	enum core_status rc = core_read_file(path, TOKENS_FILE_MAX, &text, &len, err);
	if (rc != CORE_OK)
		return rc;
	struct core_error why = {{0}};
	size_t bad = http_tokens_parse(text, len, tokens, n, &why);
	free(text);
	if (bad && strict) {
		free(*tokens);
		*tokens = NULL;
		*n = 0;
		return core_fail(err, CORE_EINVAL, "token file %s: %s", path, why.message);
	}
	if (bad)
		core_log(CORE_LOG_ERROR, "token file %s: %zu malformed line(s) skipped; first: %s", path, bad,
			 why.message);
	return CORE_OK;
}

/* Swaps in the file's current content when it changed. Called with a->lock held. */
static void refresh_locked(struct http_auth *a)
{
	uint64_t now = core_monotonic_ns();
	if (now - a->checked_ns < RECHECK_INTERVAL_NS)
		return;
	a->checked_ns = now;
	struct file_id id = file_id_of(a->path);
	if (file_id_same(&id, &a->id))
		return;
	struct http_token *tokens = NULL;
	size_t n = 0;
	struct core_error err = {{0}};
	if (load(a->path, false, &tokens, &n, &err) != CORE_OK)
		core_log(CORE_LOG_ERROR, "token file unreadable, no token is valid until it is fixed: %s", err.message);
	free(a->tokens);
	a->tokens = tokens;
	a->n_tokens = n;
	a->id = id;
	struct core_log_field f[] = {CORE_LF_STR("file", a->path), CORE_LF_INT("tokens", (long long)n)};
	core_log_with(CORE_LOG_INFO, f, 2, "token file reloaded");
}

enum core_status http_auth_open(const char *path, struct http_auth **out, struct core_error *err)
{
	struct http_token *tokens = NULL;
	size_t n = 0;
	if (!path || !*path)
		return core_fail(err, CORE_EINVAL, "no token file given");
	struct file_id id = file_id_of(path);
	enum core_status rc = load(path, true, &tokens, &n, err);
	if (rc != CORE_OK)
		return rc;
	struct http_auth *a = core_xcalloc(1, sizeof *a);
	a->path = core_xstrdup(path);
	pthread_mutex_init(&a->lock, NULL);
	a->tokens = tokens;
	a->n_tokens = n;
	a->id = id;
	a->checked_ns = core_monotonic_ns();
	struct core_log_field f[] = {CORE_LF_STR("file", path), CORE_LF_INT("tokens", (long long)n)};
	core_log_with(CORE_LOG_INFO, f, 2, "authentication on");
	*out = a;
	return CORE_OK;
}

void http_auth_free(struct http_auth *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->lock);
	free(a->tokens);
	free(a->path);
	free(a);
}

enum core_status http_auth_setup(const char *mode, const char *tokens_file, const char *bind_address,
				 struct http_auth **out, struct core_error *err)
{
	const char *address = bind_address && *bind_address ? bind_address : "127.0.0.1";
	bool loopback = http_address_is_loopback(address);
	*out = NULL;
	if (!mode || !*mode) {
		if (loopback)
			return CORE_OK;
		return core_fail(err, CORE_EINVAL,
				 "BIND_ADDRESS %s is not a loopback address and AUTH is not set: set AUTH=on with "
				 "AUTH_TOKENS_FILE (tools/lathe-token makes tokens), or AUTH=off to serve "
				 "everyone without credentials",
				 address);
	}
	if (strcmp(mode, "off") == 0) {
		if (!loopback) {
			struct core_log_field f[] = {CORE_LF_STR("address", address)};
			core_log_with(CORE_LOG_WARN, f, 1,
				      "AUTH=off on a non-loopback address: anyone who reaches the port may write "
				      "and delete");
		}
		return CORE_OK;
	}
	if (strcmp(mode, "on") != 0)
		return core_fail(err, CORE_EINVAL, "AUTH must be on or off, got '%s'", mode);
	if (!tokens_file || !*tokens_file)
		return core_fail(err, CORE_EINVAL, "AUTH=on needs AUTH_TOKENS_FILE (tools/lathe-token makes one)");
	struct core_error why = {{0}};
	enum core_status rc = http_auth_open(tokens_file, out, &why);
	if (rc != CORE_OK)
		return core_fail(err, rc == CORE_ENOENT ? CORE_EINVAL : rc, "AUTH=on: AUTH_TOKENS_FILE: %s",
				 why.message);
	return CORE_OK;
}

/* --- credentials --------------------------------------------------------------------- */

bool http_auth_basic_decode(const char *b64, char *buf, size_t cap, const char **name, const char **secret)
{
	size_t in_len = strlen(b64);
	/* EVP_DecodeUpdate skips whitespace and checks padding; its output is at most 3/4
	 * of the input, which must fit in buf with room for the NUL. */
	if (cap < 2 || in_len == 0 || in_len > HTTP_AUTH_SECRET_MAX * 2 || (in_len / 4 + 1) * 3 > cap - 1)
		return false;
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	if (!ctx)
		return false;
	int n = 0, tail = 0;
	bool ok = false;
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, (unsigned char *)buf, &n, (const unsigned char *)b64, (int)in_len) >= 0 &&
	    EVP_DecodeFinal(ctx, (unsigned char *)buf + n, &tail) == 1)
		ok = true;
	EVP_ENCODE_CTX_free(ctx);
	if (!ok)
		return false;
	size_t len = (size_t)n + (size_t)tail;
	buf[len] = '\0';
	char *colon = strchr(buf, ':');
	if (strlen(buf) != len || !colon || colon == buf)
		return false;
	*colon = '\0';
	*name = buf;
	*secret = colon + 1;
	return true;
}

/* Who the header's credentials belong to. */
enum verdict { CRED_MISSING, CRED_INVALID, CRED_OK };

/* Looks the credentials of header up in a; on CRED_OK fills name and scope. */
static enum verdict lookup(struct http_auth *a, const char *header, char name[HTTP_AUTH_NAME_MAX + 1],
			   enum http_scope *scope)
{
	char decoded[HTTP_AUTH_SECRET_MAX + HTTP_AUTH_NAME_MAX + 2];
	const char *want_name = NULL, *secret = NULL;
	if (!header)
		return CRED_MISSING;
	while (*header == ' ' || *header == '\t')
		header++;
	size_t scheme = strcspn(header, " \t");
	const char *rest = header + scheme;
	rest += strspn(rest, " \t");
	if (strlen(rest) > HTTP_AUTH_SECRET_MAX * 2)
		return CRED_INVALID;
	char value[HTTP_AUTH_SECRET_MAX * 2 + 1];
	snprintf(value, sizeof value, "%s", rest);
	size_t vlen = strlen(value);
	while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
		value[--vlen] = '\0';
	if (scheme == 6 && strncasecmp(header, "Bearer", 6) == 0) {
		secret = value;
	} else if (scheme == 5 && strncasecmp(header, "Basic", 5) == 0) {
		if (!http_auth_basic_decode(value, decoded, sizeof decoded, &want_name, &secret))
			return CRED_INVALID;
	} else {
		return CRED_INVALID;
	}
	if (!*secret || strlen(secret) > HTTP_AUTH_SECRET_MAX)
		return CRED_INVALID;

	char hash[CORE_SHA256_HEX_LEN + 1];
	if (core_sha256_hex(secret, strlen(secret), hash) != CORE_OK)
		return CRED_INVALID;
	const struct http_token *found = NULL;
	pthread_mutex_lock(&a->lock);
	refresh_locked(a);
	for (size_t i = 0; i < a->n_tokens; i++) {
		const struct http_token *t = &a->tokens[i];
		bool same = CRYPTO_memcmp(hash, t->hash, HTTP_AUTH_HASH_HEX) == 0;
		if (same && (!want_name || strcmp(want_name, t->name) == 0) && !found)
			found = t;
	}
	if (found) {
		memcpy(name, found->name, sizeof found->name);
		*scope = found->scope;
	}
	pthread_mutex_unlock(&a->lock);
	OPENSSL_cleanse(decoded, sizeof decoded);
	OPENSSL_cleanse(value, sizeof value);
	return found ? CRED_OK : CRED_INVALID;
}

/* The scope the request needs on its route. */
static enum http_scope required_scope(const struct http_request *req)
{
	enum http_scope s = req->match.route->scope;
	if (s != HTTP_SCOPE_BY_METHOD)
		return s;
	return req->method == HTTP_GET || req->method == HTTP_HEAD ? HTTP_SCOPE_READ : HTTP_SCOPE_WRITE;
}

bool http_auth_admit(struct http_request *req)
{
	struct http_auth *a = req->server->auth;
	const char *route = req->match.route->name ? req->match.route->name : req->match.route->pattern;
	req->scope = required_scope(req);
	if (!a || req->scope == HTTP_SCOPE_PUBLIC)
		return true;
	const char *header = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	enum http_scope has = HTTP_SCOPE_BY_METHOD;
	char name[HTTP_AUTH_NAME_MAX + 1] = "";
	enum verdict v = lookup(a, header, name, &has);
	if (v != CRED_OK) {
		http_reply_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE, CHALLENGE);
		http_reply_error(req, HTTP_EC_UNAUTHENTICATED,
				 v == CRED_MISSING ? "Authentication required: send Authorization: Bearer <token> "
						     "or Basic <name:token>"
						   : "Invalid credentials");
		return false;
	}
	memcpy(req->principal, name, sizeof name);
	if (has < req->scope) {
		http_reply_error(req, HTTP_EC_PERMISSION_DENIED, "Token '%s' has scope %s; %s %s needs %s", name,
				 http_scope_name(has), req->method_str, route, http_scope_name(req->scope));
		return false;
	}
	return true;
}

void http_auth_audit(const struct http_request *req)
{
	/* With auth off nobody is known: the access line already says what and carries the
	 * request id, so a second line per write would repeat it with "anonymous". */
	if (!req->server->auth || (req->scope != HTTP_SCOPE_WRITE && req->scope != HTTP_SCOPE_ADMIN))
		return;
	const struct http_route *r = req->match.route;
	struct core_log_field f[] = {
		CORE_LF_STR("who", http_request_principal(req)),
		CORE_LF_STR("scope", http_scope_name(req->scope)),
		CORE_LF_STR("method", req->method_str),
		CORE_LF_STR("route", r->name ? r->name : r->pattern),
		CORE_LF_STR("path", req->path),
		CORE_LF_INT("status", req->queued_status ? req->queued_status : 499),
		CORE_LF_STR("request_id", req->id),
	};
	core_log_with(CORE_LOG_INFO, f, sizeof f / sizeof f[0], "audit");
}

const char *http_request_principal(const struct http_request *req)
{
	return req->principal[0] ? req->principal : "anonymous";
}
