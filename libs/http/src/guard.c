/* Checks on a request's headers that guard the server itself rather than a route, run
 * by server.c's begin() on the first access-handler call, before any body byte is read:
 *
 * - Framing (request smuggling). libmicrohttpd 0.9.75 accepts a request with both
 *   Content-Length and Transfer-Encoding, with two different Content-Length headers
 *   (the bytes past the first length then run as a second request), and a
 *   Content-Length of "+2" (it sends the reply's header block twice). A proxy in front
 *   may frame such a request differently than MHD does, which is what smuggling lives
 *   on. We refuse them: Content-Length must occur at most once and be decimal digits
 *   only; Transfer-Encoding at most once, exactly "chunked", and never with a
 *   Content-Length; and one Host header at most. server.c queues the 400 at once with "Connection: close", so the
 *   rest of the bytes on that connection are never parsed.
 *
 * - Host (DNS rebinding). A web page can make a browser send requests to a name that
 *   resolves to 127.0.0.1; the browser then sends that name as Host. A server that only
 *   listens on loopback answers only loopback names unless told otherwise (ALLOWED_HOSTS
 *   in a service); one bound elsewhere (a container, a Kubernetes pod, whose probes send
 *   the pod IP as Host) allows every Host unless a list is given.
 *
 * - Size. libmicrohttpd answers a request line or header block that overflows its
 *   per-connection memory (32 KiB by default) with a fixed HTML page (414 or 431) before
 *   any callback runs, so no JSON error can be given there. Below that, a URI over
 *   HTTP_MAX_URI_BYTES gets 414 URI_TOO_LONG and a header block over
 *   HTTP_MAX_HEADER_BYTES 431 HEADERS_TOO_LARGE in the route's error shape, so the
 *   sizes clients actually hit (a long filter in a query string, a huge cookie) get an
 *   error they can parse. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/alloc.h"
#include "http_int.h"

/* --- framing ------------------------------------------------------------------------ */

struct framing {
	unsigned n_length;
	unsigned n_encoding;
	unsigned n_host;
	bool length_bad;   /* a Content-Length value that is not plain decimal digits */
	bool encoding_bad; /* a Transfer-Encoding other than "chunked" */
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct framing *f = cls;
	(void)kind;
	if (!key)
		return MHD_YES;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		f->n_length++;
		if (!value || !*value || strspn(value, "0123456789") != strlen(value))
			f->length_bad = true;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0) {
		f->n_host++;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		f->n_encoding++;
		if (!value || strcasecmp(value, "chunked") != 0)
			f->encoding_bad = true;
	}
	return MHD_YES;
}

const char *http_framing_problem(struct MHD_Connection *conn)
{
	struct framing f = {0};
	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &f);
	if (f.n_length > 1)
		return "more than one Content-Length header";
	if (f.length_bad)
		return "Content-Length must be decimal digits only";
	if (f.n_encoding > 1)
		return "more than one Transfer-Encoding header";
	if (f.encoding_bad)
		return "Transfer-Encoding must be 'chunked'";
	if (f.n_length && f.n_encoding)
		return "both Content-Length and Transfer-Encoding";
	if (f.n_host > 1) /* RFC 9112 3.2; a proxy may route by the other one */
		return "more than one Host header";
	return NULL;
}

/* --- size --------------------------------------------------------------------------- */

struct sizes {
	size_t bytes;
};

static enum MHD_Result add_size(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct sizes *z = cls;
	(void)kind;
	/* "name=value&" or "Name: value\r\n": close enough to the bytes on the wire */
	z->bytes += (key ? strlen(key) : 0) + (value ? strlen(value) : 0) + 2;
	return MHD_YES;
}

enum http_error_code http_size_problem(struct MHD_Connection *conn, const char *path)
{
	struct sizes uri = {strlen(path)}, headers = {0};
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_size, &uri);
	if (uri.bytes > HTTP_MAX_URI_BYTES)
		return HTTP_EC_URI_TOO_LONG;
	MHD_get_connection_values(conn, MHD_HEADER_KIND, add_size, &headers);
	if (headers.bytes > HTTP_MAX_HEADER_BYTES)
		return HTTP_EC_HEADERS_TOO_LARGE;
	return HTTP_EC_NONE;
}

/* --- Host --------------------------------------------------------------------------- */

/* Copies the name part of a Host value (or of a list entry) into out, lower-cased,
 * without the port, the brackets of an IPv6 literal, or one trailing dot. Returns false
 * when it does not fit or is empty. */
static bool host_name(const char *v, char *out, size_t cap)
{
	size_t n;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v == '[') {
		const char *end = strchr(v, ']');
		if (!end)
			return false;
		v++;
		n = (size_t)(end - v);
	} else {
		n = strcspn(v, ": \t");
	}
	if (n > 0 && v[n - 1] == '.')
		n--;
	if (n == 0 || n >= cap)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)v[i]);
	out[n] = '\0';
	return true;
}

static bool name_is_loopback(const char *name)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (strcmp(name, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, name, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, name, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

bool http_address_is_loopback(const char *address)
{
	return name_is_loopback(address);
}

enum core_status http_hosts_init(struct http_server *s, const char *allowed, bool loopback_bind, struct core_error *err)
{
	if (!allowed || !*allowed) {
		s->hosts_mode = loopback_bind ? HTTP_HOSTS_LOOPBACK : HTTP_HOSTS_ANY;
		return CORE_OK;
	}
	s->hosts_mode = HTTP_HOSTS_LIST;
	for (const char *p = allowed; *p;) {
		size_t n = strcspn(p, ",");
		char item[256], name[256];
		if (n >= sizeof item)
			return core_fail(err, CORE_EINVAL, "allowed hosts: an entry is longer than %zu characters",
					 sizeof item - 1);
		memcpy(item, p, n);
		item[n] = '\0';
		p += n + (p[n] == ',');
		size_t lead = strspn(item, " \t");
		if (item[lead] == '\0')
			continue; /* "a,,b" or a trailing comma */
		if (strcmp(item + lead, "*") == 0 || strncmp(item + lead, "* ", 2) == 0) {
			s->hosts_mode = HTTP_HOSTS_ANY;
			continue;
		}
		if (!host_name(item, name, sizeof name))
			return core_fail(err, CORE_EINVAL, "allowed hosts: '%s' is not a host name", item + lead);
		s->hosts = core_xrealloc(s->hosts, (s->n_hosts + 1) * sizeof *s->hosts);
		s->hosts[s->n_hosts++] = core_xstrdup(name);
	}
	return CORE_OK;
}

void http_hosts_free(struct http_server *s)
{
	for (size_t i = 0; i < s->n_hosts; i++)
		free(s->hosts[i]);
	free(s->hosts);
	s->hosts = NULL;
	s->n_hosts = 0;
}

const char *http_host_problem(const struct http_server *s, struct MHD_Connection *conn, const char *version)
{
	const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	char name[256];
	if (!host) /* HTTP/1.0 may omit it; MHD 0.9.75 lets a 1.1 request without one through */
		return version && strcmp(version, MHD_HTTP_VERSION_1_0) == 0 ? NULL : "Missing Host header";
	if (s->hosts_mode == HTTP_HOSTS_ANY)
		return NULL;
	if (!host_name(host, name, sizeof name))
		return "Host header is not a host name";
	if (s->hosts_mode == HTTP_HOSTS_LOOPBACK)
		return name_is_loopback(name) ? NULL : "Host is not allowed";
	for (size_t i = 0; i < s->n_hosts; i++)
		if (strcmp(s->hosts[i], name) == 0)
			return NULL;
	return "Host is not allowed";
}
