/* A version's format (face: data.h): detected from the manifest's paths when the client
 * gives none, or the given one checked against them. Pure: only names are looked at
 * here; whether the bytes fit (a CSV's rows, an IDX header, an image header) is for
 * dr_check_content at upload and for the profiler after a manifest commit. */
#include <string.h>
#include <strings.h>
#include "data.h"

const char *dr_format_name(enum dr_format f)
{
	switch (f) {
	case DR_FORMAT_CSV:
		return "csv";
	case DR_FORMAT_IDX:
		return "idx";
	case DR_FORMAT_IMAGE_FOLDER:
		return "image-folder";
	}
	return NULL;
}

enum core_status dr_format_parse(const char *s, enum dr_format *out, struct core_error *err)
{
	for (enum dr_format f = DR_FORMAT_CSV; f <= DR_FORMAT_IMAGE_FOLDER; f++) {
		if (s && strcmp(s, dr_format_name(f)) == 0) {
			*out = f;
			return CORE_OK;
		}
	}
	return core_fail(err, CORE_EINVAL, "format must be one of csv, idx, image-folder, got '%.100s'", s ? s : "");
}

static bool ends_with_ci(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len >= n && strncasecmp(s + len - n, suffix, n) == 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

bool dr_idx_name(const char *path)
{
	const char *b = base_name(path);
	size_t len = strlen(b);
	if (len > 3 && strcmp(b + len - 3, ".gz") == 0)
		len -= 3;
	/* "...-idx<d>-ubyte": 11 characters from the '-' before "idx" */
	if (len < 12)
		return false;
	const char *t = b + len - 11;
	return strncmp(t, "-idx", 4) == 0 && t[4] >= '0' && t[4] <= '9' && strncmp(t + 5, "-ubyte", 6) == 0;
}

bool dr_image_name(const char *path)
{
	const char *b = base_name(path);
	size_t len = strlen(b);
	/* a name beyond its extension: ".png" alone is a hidden file, not an image */
	return (len > 4 && (ends_with_ci(b, len, ".png") || ends_with_ci(b, len, ".jpg"))) ||
	       (len > 5 && ends_with_ci(b, len, ".jpeg"));
}

static bool fits(enum dr_format fmt, const char *path)
{
	switch (fmt) {
	case DR_FORMAT_CSV: {
		size_t len = strlen(base_name(path));
		return len > 4 && ends_with_ci(path, strlen(path), ".csv");
	}
	case DR_FORMAT_IDX:
		return dr_idx_name(path);
	case DR_FORMAT_IMAGE_FOLDER: { /* <class>/<name>: exactly one folder, as DR-SPEC says */
		const char *slash = strchr(path, '/');
		return slash && slash != path && !strchr(slash + 1, '/') && dr_image_name(path);
	}
	}
	return false;
}

static const char *rule(enum dr_format fmt)
{
	switch (fmt) {
	case DR_FORMAT_CSV:
		return "a csv version holds only .csv files";
	case DR_FORMAT_IDX:
		return "an idx version holds only IDX files (*-idx<N>-ubyte, optionally .gz)";
	case DR_FORMAT_IMAGE_FOLDER:
		return "an image-folder version holds only <class>/<name>.{jpg,jpeg,png} files";
	}
	return "";
}

enum core_status dr_format_check(enum dr_format fmt, const struct dr_manifest_file *files, size_t n,
				 struct core_error *err)
{
	if (!dr_format_name(fmt))
		return core_fail(err, CORE_EINVAL, "unknown format");
	if (n == 0)
		return core_fail(err, CORE_EINVAL, "a version needs at least one file");
	for (size_t i = 0; i < n; i++) {
		if (!fits(fmt, files[i].path))
			return core_fail(err, CORE_EINVAL, "'%.300s' does not fit format %s: %s", files[i].path,
					 dr_format_name(fmt), rule(fmt));
	}
	return CORE_OK;
}

enum core_status dr_detect_format_more(enum dr_format fmt, const char *first, const struct dr_manifest_file *files,
				       size_t n, struct core_error *err)
{
	for (size_t i = 0; i < n; i++) {
		if (!fits(fmt, files[i].path))
			return core_fail(err, CORE_EINVAL,
					 "cannot detect the format: '%.300s' is %s but '%.300s' is not; "
					 "give format explicitly or upload files of one kind",
					 first, dr_format_name(fmt), files[i].path);
	}
	return CORE_OK;
}

enum core_status dr_detect_format(const struct dr_manifest_file *files, size_t n, enum dr_format *out,
				  struct core_error *err)
{
	if (n == 0)
		return core_fail(err, CORE_EINVAL, "a version needs at least one file");
	/* The first file decides which format is tried; every other file must agree. */
	for (enum dr_format f = DR_FORMAT_CSV; f <= DR_FORMAT_IMAGE_FOLDER; f++) {
		if (!fits(f, files[0].path))
			continue;
		if (dr_detect_format_more(f, files[0].path, files + 1, n - 1, err) != CORE_OK)
			return CORE_EINVAL;
		*out = f;
		return CORE_OK;
	}
	return core_fail(err, CORE_EINVAL,
			 "cannot detect the format from '%.300s': expected .csv files, IDX files "
			 "(*-idx<N>-ubyte[.gz]) or <class>/<name>.{jpg,jpeg,png} images",
			 files[0].path);
}
