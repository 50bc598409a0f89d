/* Pure logic of the artifact API (face: artifacts.h), no I/O:
 *   et_artifact_raw_path_ok / et_artifact_path_normalize
 *       path safety as MLflow's validate_path_is_safe (mlflow/utils/uri.py) sees it:
 *       decode until stable, then no control characters, '\\', '#', "..", absolute
 *       paths or file: URIs; then one canonical spelling ("a/b/c") to store and look up
 *   et_artifact_path_split      parent and basename of a canonical path
 *   et_artifact_mime_type       MLflow's _guess_mime_type (mime_type_utils.py) on a
 *                               fixed table standing in for Python's mimetypes
 *   et_artifact_content_disposition  the download's attachment header, injection-proof
 *   et_artifact_uri_path        "mlflow-artifacts:/0/R/artifacts" -> "0/R/artifacts"
 * Safety does not rest on these checks alone: artifact paths are only ever database
 * keys; bytes live in the blob store under their SHA-256. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "artifacts.h"

/* MLflow decodes at most this many times; a path still changing after that is refused. */
#define DECODE_ROUNDS 10

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One round of percent-decoding in place (Python's unquote: a '%' not followed by two
 * hex digits stays as it is). Returns false when a %00 would make a NUL; *changed says
 * whether anything was decoded. */
static bool decode_once(char *s, bool *changed)
{
	char *w = s;
	*changed = false;
	for (const char *r = s; *r; r++) {
		int hi = r[0] == '%' ? hex_value(r[1]) : -1;
		int lo = hi >= 0 ? hex_value(r[2]) : -1;
		if (lo < 0) {
			*w++ = *r;
			continue;
		}
		char c = (char)(hi * 16 + lo);
		if (c == '\0')
			return false;
		*w++ = c;
		r += 2;
		*changed = true;
	}
	*w = '\0';
	return true;
}

/* Whether s (fully decoded) is safe by MLflow's rules, and stricter: no control
 * characters at all. */
static bool decoded_safe(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '\\' || *p == '#')
			return false;
	if (s[0] == '/')
		return false; /* absolute (POSIX; "//host" too) */
	if (strncasecmp(s, "file:", 5) == 0)
		return false;
	if (((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')) && s[1] == ':')
		return false; /* a Windows drive: "C:/x" */
	for (const char *seg = s;;) {
		const char *end = strchrnul(seg, '/');
		if (end - seg == 2 && seg[0] == '.' && seg[1] == '.')
			return false;
		if (*end == '\0')
			return true;
		seg = end + 1;
	}
}

bool et_artifact_raw_path_ok(const char *raw)
{
	for (const char *p = raw; *p; p++) {
		if (*p == '\\')
			return false;
		if (p[0] == '%' && p[1] == '2' && (p[2] == 'f' || p[2] == 'F'))
			return false;
		if (p[0] == '%' && p[1] == '5' && (p[2] == 'c' || p[2] == 'C'))
			return false;
	}
	return true;
}

bool et_artifact_path_normalize(const char *in, char *out, size_t size)
{
	char buf[ET_ARTIFACT_PATH_MAX + 1];
	size_t n = strlen(in);
	if (n > ET_ARTIFACT_PATH_MAX || size == 0)
		return false;
	memcpy(buf, in, n + 1);
	if (!decoded_safe(buf))
		return false;
	for (int round = 0;; round++) {
		bool changed = false;
		if (!decode_once(buf, &changed))
			return false;
		if (!changed)
			break;
		if (round + 1 >= DECODE_ROUNDS)
			return false;
		if (!decoded_safe(buf))
			return false;
	}

	/* The stored spelling is the once-decoded input, without empty or "." segments. */
	size_t w = 0;
	for (const char *seg = in;;) {
		const char *end = strchrnul(seg, '/');
		size_t len = (size_t)(end - seg);
		if (len > 0 && !(len == 1 && seg[0] == '.')) {
			if (w + (w > 0) + len + 1 > size || w + (w > 0) + len > ET_ARTIFACT_PATH_MAX)
				return false;
			if (w > 0)
				out[w++] = '/';
			memcpy(out + w, seg, len);
			w += len;
		}
		if (*end == '\0')
			break;
		seg = end + 1;
	}
	out[w] = '\0';
	return true;
}

const char *et_artifact_path_split(const char *path, char *parent)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		parent[0] = '\0';
		return path;
	}
	size_t len = (size_t)(slash - path);
	memcpy(parent, path, len);
	parent[len] = '\0';
	return slash + 1;
}

/* MLflow's text extensions (mime_type_utils.get_text_extensions), compared exactly. */
static const char *const text_extensions[] = {
	"txt", "log", "err",  "cfg", "conf", "cnf", "cf",  "ini", "properties", "prop", "hocon",   "toml",      "yaml",
	"yml", "xml", "json", "js",  "py",   "py3", "csv", "tsv", "md",         "rst",  "MLmodel", "MLproject", NULL,
};

/* The common part of Python's mimetypes table (any case, as mimetypes retries lower
 * case). Extensions missing here are served as application/octet-stream. */
static const struct {
	const char *ext;
	const char *type;
} mime_table[] = {
	{"html", "text/html"},
	{"htm", "text/html"},
	{"css", "text/css"},
	{"png", "image/png"},
	{"jpg", "image/jpeg"},
	{"jpeg", "image/jpeg"},
	{"jpe", "image/jpeg"},
	{"gif", "image/gif"},
	{"svg", "image/svg+xml"},
	{"bmp", "image/bmp"},
	{"ico", "image/vnd.microsoft.icon"},
	{"tif", "image/tiff"},
	{"tiff", "image/tiff"},
	{"webp", "image/webp"},
	{"pdf", "application/pdf"},
	{"zip", "application/zip"},
	{"tar", "application/x-tar"},
	{"tgz", "application/x-tar"},
	{"mp3", "audio/mpeg"},
	{"wav", "audio/x-wav"},
	{"mp4", "video/mp4"},
	{"mpeg", "video/mpeg"},
	{"mov", "video/quicktime"},
	{"avi", "video/x-msvideo"},
	{"webm", "video/webm"},
	{"sh", "application/x-sh"},
	{"wasm", "application/wasm"},
	{"ps", "application/postscript"},
	{"rtf", "application/rtf"},
	{"doc", "application/msword"},
	{"xls", "application/vnd.ms-excel"},
	{"ppt", "application/vnd.ms-powerpoint"},
	{"bin", "application/octet-stream"},
	{"h5", "application/x-hdf5"},
	{"hdf5", "application/x-hdf5"},
	{"ipynb", "application/json"},
	{NULL, NULL},
};

/* "x.tar.gz" and the like: mimetypes strips the compression and answers the tar type. */
static bool is_compressed_tar(const char *name)
{
	static const char *const suffixes[] = {".tar.gz", ".tar.bz2", ".tar.xz", ".tar.Z", NULL};
	size_t n = strlen(name);
	for (size_t i = 0; suffixes[i]; i++) {
		size_t k = strlen(suffixes[i]);
		if (n > k && strcasecmp(name + n - k, suffixes[i]) == 0)
			return true;
	}
	return false;
}

const char *et_artifact_mime_type(const char *basename)
{
	/* os.path.splitext: the last '.', unless the name only starts with dots */
	const char *dot = strrchr(basename, '.');
	const char *lead = basename;
	while (*lead == '.')
		lead++;
	const char *ext = dot && dot >= lead ? dot + 1 : "";
	const char *text_key = *ext ? ext : basename;
	for (size_t i = 0; text_extensions[i]; i++)
		if (strcmp(text_key, text_extensions[i]) == 0)
			return "text/plain";
	if (is_compressed_tar(basename))
		return "application/x-tar";
	if (*ext)
		for (size_t i = 0; mime_table[i].ext; i++)
			if (strcasecmp(ext, mime_table[i].ext) == 0)
				return mime_table[i].type;
	return "application/octet-stream";
}

bool et_artifact_content_disposition(const char *basename, char *out, size_t size)
{
	bool plain = *basename != '\0';
	for (const unsigned char *p = (const unsigned char *)basename; *p && plain; p++)
		plain = *p >= 0x20 && *p < 0x7f && *p != '"' && *p != ';' && *p != '\\' && *p != ',';
	if (plain) {
		int n = snprintf(out, size, "attachment; filename=%s", basename);
		return n >= 0 && (size_t)n < size;
	}
	static const char prefix[] = "attachment; filename*=UTF-8''";
	static const char hex[] = "0123456789ABCDEF";
	size_t w = sizeof prefix - 1;
	if (w + 1 > size)
		return false;
	memcpy(out, prefix, w);
	for (const unsigned char *p = (const unsigned char *)basename; *p; p++) {
		/* RFC 5987 attr-char */
		bool keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			    strchr("!#$&+-.^_`|~", *p) != NULL;
		if (w + (keep ? 1 : 3) + 1 > size)
			return false;
		if (keep) {
			out[w++] = (char)*p;
		} else {
			out[w++] = '%';
			out[w++] = hex[*p >> 4];
			out[w++] = hex[*p & 15];
		}
	}
	out[w] = '\0';
	return true;
}

const char *et_artifact_uri_path(const char *uri)
{
	static const char scheme[] = "mlflow-artifacts:";
	if (strncasecmp(uri, scheme, sizeof scheme - 1) != 0)
		return NULL;
	const char *p = uri + sizeof scheme - 1;
	if (p[0] == '/' && p[1] == '/')
		p = strchrnul(p + 2, '/'); /* skip the authority */
	while (*p == '/')
		p++;
	return p;
}
