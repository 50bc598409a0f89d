/* Manifests both ways (face: cli.h): the JSON a push commits, the canonical version id
 * the server will answer (so a push can check the server hashed what it was sent), and
 * the reading of a manifest a pull receives, which refuses any path that could write
 * outside the target directory and any malformed hash or size. */
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "core/alloc.h"

bool cli_sha256_valid(const char *s)
{
	if (!s || strlen(s) != 64)
		return false;
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

json_t *cli_manifest_json(const struct cli_files *f)
{
	json_t *files = json_array();
	for (size_t i = 0; i < f->n; i++)
		json_array_append_new(files, json_pack("{s:s, s:s, s:I}", "path", f->v[i].path, "sha256",
						       f->v[i].sha256, "size", (json_int_t)f->v[i].size));
	return json_pack("{s:o}", "files", files);
}

void cli_manifest_id(const struct cli_files *f, char out[65])
{
	struct core_sha256 *sha = core_sha256_new();
	if (!sha)
		abort(); /* libcrypto without sha256: nothing works */
	for (size_t i = 0; i < f->n; i++) {
		char line[96];
		int n = snprintf(line, sizeof line, "%s %llu ", f->v[i].sha256, (unsigned long long)f->v[i].size);
		core_sha256_update(sha, line, (size_t)n);
		core_sha256_update(sha, f->v[i].path, strlen(f->v[i].path));
		core_sha256_update(sha, "\n", 1);
	}
	core_sha256_finish_hex(sha, out);
}

enum core_status cli_manifest_parse(const json_t *manifest, struct cli_files *out, struct core_error *err)
{
	cli_files_free(out);
	const json_t *files = json_object_get(manifest, "files");
	if (!json_is_array(files))
		return core_fail(err, CORE_EINVAL, "the manifest the server sent has no \"files\" list");
	enum core_status rc = CORE_OK;
	size_t i;
	const json_t *e;
	json_array_foreach(files, i, e)
	{
		const char *path = json_string_value(json_object_get(e, "path"));
		const char *sha = json_string_value(json_object_get(e, "sha256"));
		const json_t *size = json_object_get(e, "size");
		const char *why = NULL;
		if (!path) {
			rc = core_fail(err, CORE_EINVAL, "manifest entry %zu has no path", i);
		} else if (!cli_path_valid(path, &why)) {
			rc = core_fail(err, CORE_EINVAL, "refusing the server's path '%s': %s", path, why);
		} else if (!cli_sha256_valid(sha)) {
			rc = core_fail(err, CORE_EINVAL, "manifest entry '%s' has a malformed sha256", path);
		} else if (!json_is_integer(size) || json_integer_value(size) < 0) {
			rc = core_fail(err, CORE_EINVAL, "manifest entry '%s' has a malformed size", path);
		}
		if (rc != CORE_OK)
			break;
		cli_files_add(out, path, NULL, (uint64_t)json_integer_value(size), sha);
	}
	if (rc == CORE_OK) {
		cli_files_sort(out);
		for (i = 1; i < out->n; i++) {
			if (strcmp(out->v[i - 1].path, out->v[i].path) == 0) {
				rc = core_fail(err, CORE_EINVAL, "the manifest names '%s' twice", out->v[i].path);
				break;
			}
		}
	}
	if (rc != CORE_OK)
		cli_files_free(out);
	return rc;
}
