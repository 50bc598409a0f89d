/* The deployment files, tested without a container engine. Each daemon is started the
 * way its container starts it: with the runtime stage's ENV from deploy/Dockerfile and
 * the env_file and environment entries of its service in docker-compose.yml, from /
 * (where nothing is writable, like Kubernetes' read-only root file system), as the
 * image's USER (uid and gid 10001) when the test runs as root, with no_new_privs. The
 * test adapts only what must be local: BIND_ADDRESS becomes 127.0.0.1 (network on
 * loopback only), PORT a free port, DATABASE_URL and KAFKA_BROKERS the run's own (only
 * where compose sets them), TRACKER_URL the test's tracker, and BLOB_DIR a fresh
 * directory owned by that user, after checking that the image's is absolute and is where
 * compose and Kubernetes mount the tracker's volume. Each daemon must become ready, the
 * tracker must store and return an artifact, and each must stop cleanly. Static checks
 * cover what a started process cannot show: TRACKER_URL names the tracker's service,
 * compose publishes on 127.0.0.1 only, every Kubernetes pod runs with the default
 * seccomp profile as a non-root user, and authentication is on everywhere with the token
 * directory mounted (AUTH_TOKENS_FILE then names a token file of this test's, with the
 * one admin token the test uses; compose's var/auth/ env files, made by
 * tools/compose-auth.sh at set-up, are not in the repository and are skipped). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/sha256.h"
#include "harness.h"

static const char *const services[] = {
	"experiment-tracker", "model-registry", "data-registry", "drift-monitor", "trainer", "inference-api",
};

/* the blob store's mount point in compose and Kubernetes, and its volume names */
#define COMPOSE_BLOBS "blobs:"
#define K8S_CLAIM     "experiment-tracker-blobs"

/* the token the daemons started here accept (scope admin), sent as Basic in URLs */
#define ADMIN_SECRET "container-test-admin-secret"

static char *slurp(const char *rel)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", th_env("LATHE_ROOT"), rel);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f, "cannot read %s: %s", path, strerror(errno));
	char *text = NULL;
	size_t cap = 0;
	ck_assert_msg(getdelim(&text, &cap, '\0', f) >= 0, "cannot read %s", path);
	fclose(f);
	return text;
}

/* --- an environment: "NAME=value" strings, a later set replacing an earlier ---------- */

struct env {
	char *vars[64];
	size_t n;
};

static void env_set(struct env *e, const char *name, const char *value)
{
	size_t len = strlen(name);
	char *var = NULL;
	ck_assert_int_gt(asprintf(&var, "%s=%s", name, value), 0);
	for (size_t i = 0; i < e->n; i++) {
		if (strncmp(e->vars[i], name, len) == 0 && e->vars[i][len] == '=') {
			free(e->vars[i]);
			e->vars[i] = var;
			return;
		}
	}
	ck_assert_uint_lt(e->n, sizeof e->vars / sizeof e->vars[0] - 1);
	e->vars[e->n++] = var;
	e->vars[e->n] = NULL;
}

static const char *env_get(const struct env *e, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < e->n; i++)
		if (strncmp(e->vars[i], name, len) == 0 && e->vars[i][len] == '=')
			return e->vars[i] + len + 1;
	return NULL;
}

static void env_free(struct env *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->vars[i]);
	e->n = 0;
}

/* Sets one "NAME=value" (or compose's "NAME: value") item; quotes around the value go. */
static void env_set_item(struct env *e, const char *item, size_t len, char sep, const char *where)
{
	const char *mid = memchr(item, sep, len);
	ck_assert_msg(mid && mid > item, "%s: not NAME%cvalue: %.*s", where, sep, (int)len, item);
	char name[128], value[1024];
	snprintf(name, sizeof name, "%.*s", (int)(mid - item), item);
	const char *v = mid + 1, *end = item + len;
	while (v < end && *v == ' ')
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\r'))
		end--;
	if (end - v >= 2 && (*v == '"' || *v == '\'') && end[-1] == *v) {
		v++;
		end--;
	}
	snprintf(value, sizeof value, "%.*s", (int)(end - v), v);
	env_set(e, name, value);
}

/* --- deploy/Dockerfile --------------------------------------------------------------- */

struct image {
	struct env env;
	uid_t uid;
	gid_t gid;
	char workdir[256];
};

/* The runtime stage (after the last FROM): its USER, WORKDIR and ENV lines. */
static void read_image(struct image *img)
{
	char *text = slurp("deploy/Dockerfile");
	char *stage = NULL, *p;
	for (p = strstr(text, "FROM "); p; p = strstr(p + 1, "FROM "))
		if (p == text || p[-1] == '\n')
			stage = p;
	ck_assert_msg(stage, "no FROM in deploy/Dockerfile");
	memset(img, 0, sizeof *img);
	bool have_user = false;
	for (char *line = strtok_r(stage, "\n", &p); line; line = strtok_r(NULL, "\n", &p)) {
		if (strncmp(line, "USER ", 5) == 0) {
			unsigned uid = 0, gid = 0;
			int got = sscanf(line + 5, "%u:%u", &uid, &gid);
			ck_assert_msg(got >= 1, "USER must be numeric (Kubernetes' runAsNonRoot checks it): %s", line);
			img->uid = uid;
			img->gid = got == 2 ? gid : uid;
			have_user = true;
		} else if (strncmp(line, "WORKDIR ", 8) == 0) {
			snprintf(img->workdir, sizeof img->workdir, "%s", line + 8);
		} else if (strncmp(line, "ENV ", 4) == 0) {
			/* one NAME=value per line (the legacy "ENV NAME value" form is not read) */
			env_set_item(&img->env, line + 4, strlen(line + 4), '=', "deploy/Dockerfile ENV");
		}
	}
	ck_assert_msg(have_user, "the runtime stage of deploy/Dockerfile has no USER");
	ck_assert_msg(img->uid != 0, "the image runs as root");
	free(text);
}

/* --- docker-compose.yml --------------------------------------------------------------- */

/* The lines of the top-level-in-services entry "  name:", up to the next line indented
 * two spaces or less. Returns a malloc'd copy, NULL when absent. */
static char *compose_block(const char *compose, const char *name)
{
	char head[128];
	int n = snprintf(head, sizeof head, "\n  %s:\n", name);
	const char *start = strstr(compose, head);
	if (!start)
		return NULL;
	start += n;
	const char *end = start;
	while (*end) {
		const char *eol = strchr(end, '\n');
		size_t len = eol ? (size_t)(eol - end) : strlen(end);
		bool blank = strspn(end, " ") >= len;
		if (!blank && strspn(end, " ") <= 2)
			break;
		end += len + (eol ? 1 : 0);
	}
	return strndup(start, (size_t)(end - start));
}

static void read_env_file(struct env *e, const char *rel)
{
	if (strncmp(rel, "var/", 4) == 0) /* made at set-up (tools/compose-auth.sh) */
		return;
	char *text = slurp(rel), *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line += strspn(line, " \t");
		if (*line == '#' || *line == '\0' || *line == '\r')
			continue;
		env_set_item(e, line, strlen(line), '=', rel);
	}
	free(text);
}

/* The environment compose gives the service: its env_file list (a flow list or one
 * file), then its environment (a block mapping), which wins. */
static void compose_env(const char *compose, const char *service, struct env *e)
{
	char *block = compose_block(compose, service);
	ck_assert_msg(block, "docker-compose.yml has no service %s", service);
	char *save = NULL;
	bool in_environment = false;
	for (char *line = strtok_r(block, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t indent = strspn(line, " ");
		if (in_environment && indent >= 6 && line[indent] != '#') {
			env_set_item(e, line + indent, strlen(line + indent), ':', "docker-compose.yml environment");
			continue;
		}
		in_environment = false;
		if (strncmp(line, "    env_file:", 13) == 0) {
			char *list = line + 13, *item, *isave = NULL;
			list += strspn(list, " [");
			char *close = strchr(list, ']');
			if (close)
				*close = '\0';
			for (item = strtok_r(list, ", ", &isave); item; item = strtok_r(NULL, ", ", &isave))
				read_env_file(e, item);
		} else if (strncmp(line, "    environment:", 16) == 0) {
			ck_assert_msg(line[16 + strspn(line + 16, " ")] == '\0',
				      "write %s's environment in docker-compose.yml as a block mapping (the test reads "
				      "that form)",
				      service);
			in_environment = true;
		}
	}
	free(block);
}

/* The x-lathe anchor must not carry settings: they belong in each service's entry,
 * where compose_env reads them (a merge key would hide them from this test). */
START_TEST(compose_keeps_settings_in_each_service)
{
	char *compose = slurp("docker-compose.yml");
	const char *anchor = strstr(compose, "\nx-lathe:");
	ck_assert_ptr_nonnull(anchor);
	const char *end = strstr(anchor, "\nservices:");
	ck_assert_ptr_nonnull(end);
	char *block = strndup(anchor, (size_t)(end - anchor));
	ck_assert_msg(!strstr(block, "environment") && !strstr(block, "env_file"),
		      "x-lathe in docker-compose.yml carries settings; give them to each service: %s", block);
	free(block);
	free(compose);
}
END_TEST

/* Published ports listen on the host's loopback only: "127.0.0.1:HOST:CONTAINER". */
START_TEST(compose_publishes_on_loopback_only)
{
	char *compose = slurp("docker-compose.yml");
	int published = 0;
	for (const char *p = strstr(compose, "ports:"); p; p = strstr(p + 1, "ports:")) {
		const char *eol = strchr(p, '\n');
		ck_assert_ptr_nonnull(eol);
		ck_assert_msg(memchr(p, '[', (size_t)(eol - p)), "write ports as a flow list: %.*s", (int)(eol - p), p);
		for (const char *q = memchr(p, '"', (size_t)(eol - p)); q; q = memchr(q, '"', (size_t)(eol - q))) {
			ck_assert_msg(strncmp(q, "\"127.0.0.1:", 11) == 0, "a port published beyond loopback: %.*s",
				      (int)(eol - p), p);
			const char *close = memchr(q + 1, '"', (size_t)(eol - q - 1));
			ck_assert_ptr_nonnull(close);
			q = close + 1;
			published++;
		}
	}
	ck_assert_int_eq(published, (int)(sizeof services / sizeof services[0]));
	free(compose);
}
END_TEST

/* --- Kubernetes ----------------------------------------------------------------------- */

/* Every pod: non-root as the image's user, RuntimeDefault seccomp, no privilege
 * escalation, a read-only root file system; the tracker's blobs on its claim. */
START_TEST(k8s_pods_are_restricted_and_keep_blobs)
{
	struct image img;
	read_image(&img);
	char *k8s = slurp("k8s/lathe.yaml");
	char want_user[64];
	snprintf(want_user, sizeof want_user, "runAsUser: %u,", (unsigned)img.uid);
	int pods = 0;
	for (const char *doc = strstr(k8s, "kind: Deployment"); doc; doc = strstr(doc + 1, "kind: Deployment")) {
		const char *next = strstr(doc + 1, "\n---");
		char *d = strndup(doc, next ? (size_t)(next - doc) : strlen(doc));
		ck_assert_msg(strstr(d, "seccompProfile: {type: RuntimeDefault}"), "no RuntimeDefault seccomp: %s", d);
		ck_assert_msg(strstr(d, "runAsNonRoot: true") && strstr(d, want_user), "not the image's user: %s", d);
		ck_assert_msg(strstr(d, "allowPrivilegeEscalation: false"), "privilege escalation allowed: %s", d);
		ck_assert_msg(strstr(d, "readOnlyRootFilesystem: true"), "writable root: %s", d);
		ck_assert_msg(strstr(d, "capabilities: {drop: [ALL]}"), "capabilities kept: %s", d);
		ck_assert_msg(strstr(d, "configMapRef: {name: lathe-config}"), "no lathe-config: %s", d);
		if (strstr(d, "command: [lathe-experiment-tracker]")) {
			char mount[300];
			snprintf(mount, sizeof mount, "mountPath: %s}", env_get(&img.env, "BLOB_DIR"));
			ck_assert_msg(strstr(d, mount), "the tracker's BLOB_DIR is not on a volume: %s", d);
			ck_assert_msg(strstr(d, "claimName: " K8S_CLAIM "}"),
				      "the tracker's blobs are not on its claim");
		}
		free(d);
		pods++;
	}
	ck_assert_int_eq(pods, (int)(sizeof services / sizeof services[0]));
	ck_assert_msg(strstr(k8s, "kind: PersistentVolumeClaim\nmetadata: {name: " K8S_CLAIM "}"), "no claim %s",
		      K8S_CLAIM);
	/* the ConfigMap agrees with deploy/env/lathe.env on what they both set */
	struct env shared = {0};
	read_env_file(&shared, "deploy/env/lathe.env");
	const char *cm = strstr(k8s, "kind: ConfigMap\nmetadata: {name: lathe-config}\ndata:\n");
	ck_assert_ptr_nonnull(cm);
	const char *cm_end = strstr(cm, "\n---");
	ck_assert_ptr_nonnull(cm_end);
	static const char *const same[] = {"BIND_ADDRESS", "BLOB_DIR", "TRACKER_URL", "AUTH", "AUTH_TOKENS_FILE"};
	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
		char line[400], quoted[400];
		snprintf(line, sizeof line, "\n  %s: %s\n", same[i], env_get(&shared, same[i]));
		snprintf(quoted, sizeof quoted, "\n  %s: \"%s\"\n", same[i], env_get(&shared, same[i]));
		const char *hit = strstr(cm, line), *qhit = strstr(cm, quoted);
		ck_assert_msg((hit && hit < cm_end) || (qhit && qhit < cm_end),
			      "lathe-config's %s differs from deploy/env/lathe.env's", same[i]);
	}
	env_free(&shared);
	env_free(&img.env);
	free(k8s);
}
END_TEST

/* Authentication is on in compose and Kubernetes, and every daemon sees the token
 * directory (mounted, not the file, so rewrites arrive); the registry has its own token
 * for the tracker in both. */
START_TEST(auth_is_on_with_tokens_mounted)
{
	struct env shared = {0};
	read_env_file(&shared, "deploy/env/lathe.env");
	ck_assert_msg(env_get(&shared, "AUTH") && strcmp(env_get(&shared, "AUTH"), "on") == 0,
		      "deploy/env/lathe.env does not set AUTH=on");
	const char *file = env_get(&shared, "AUTH_TOKENS_FILE");
	ck_assert_msg(file && file[0] == '/', "no absolute AUTH_TOKENS_FILE in deploy/env/lathe.env");
	char dir[300];
	snprintf(dir, sizeof dir, "%s", file);
	*strrchr(dir, '/') = '\0';
	char compose_mount[400], k8s_mount[400];
	snprintf(compose_mount, sizeof compose_mount, "./var/auth:%s:ro", dir);
	snprintf(k8s_mount, sizeof k8s_mount, "{name: tokens, mountPath: %s, readOnly: true}", dir);

	char *compose = slurp("docker-compose.yml");
	for (size_t i = 0; i < sizeof services / sizeof services[0]; i++) {
		char *block = compose_block(compose, services[i]);
		struct env e = {0};
		compose_env(compose, services[i], &e);
		ck_assert_msg(env_get(&e, "AUTH") && strcmp(env_get(&e, "AUTH"), "on") == 0, "%s: AUTH is not on",
			      services[i]);
		ck_assert_msg(strstr(block, compose_mount), "%s does not mount the token directory: %s", services[i],
			      block);
		if (strcmp(services[i], "model-registry") == 0)
			ck_assert_msg(strstr(block, "var/auth/model-registry.env"),
				      "the registry gets no TRACKER_TOKEN in docker-compose.yml");
		env_free(&e);
		free(block);
	}
	free(compose);

	char *k8s = slurp("k8s/lathe.yaml");
	int pods = 0;
	for (const char *doc = strstr(k8s, "kind: Deployment"); doc; doc = strstr(doc + 1, "kind: Deployment")) {
		const char *next = strstr(doc + 1, "\n---");
		char *d = strndup(doc, next ? (size_t)(next - doc) : strlen(doc));
		ck_assert_msg(strstr(d, k8s_mount) && strstr(d, "secretName: lathe-tokens"),
			      "a pod without the token directory: %s", d);
		ck_assert_msg(!strstr(d, "subPath"), "a subPath mount never sees the Secret change: %s", d);
		if (strstr(d, "command: [lathe-model-registry]"))
			ck_assert_msg(strstr(d, "name: TRACKER_TOKEN, valueFrom: {secretKeyRef:"),
				      "the registry gets no TRACKER_TOKEN in k8s/lathe.yaml");
		free(d);
		pods++;
	}
	ck_assert_int_eq(pods, (int)(sizeof services / sizeof services[0]));
	free(k8s);
	env_free(&shared);
}
END_TEST

/* --- the daemons, started as their containers start them ------------------------------ */

static struct th_daemon *spawn_as_container(const char *service, const struct image *img, const struct env *env)
{
	struct th_daemon *d = calloc(1, sizeof *d);
	ck_assert_ptr_nonnull(d);
	d->port = (unsigned)strtoul(env_get(env, "PORT"), NULL, 10);
	snprintf(d->base_url, sizeof d->base_url, "http://127.0.0.1:%u", d->port);
	snprintf(d->log_path, sizeof d->log_path, "%s/container-%s-%u.log", th_env("LATHE_TEST_TMP"), service, d->port);
	const char *db = env_get(env, "DATABASE_URL");
	d->database_url = db ? strdup(db) : NULL;
	char bin[512];
	snprintf(bin, sizeof bin, "%s/lathe-%s", th_env("LATHE_TEST_BIN"), service);

	int log_fd = open(d->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(log_fd, 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(log_fd, STDERR_FILENO);
		dup2(log_fd, STDOUT_FILENO);
		if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setgid(img->gid) != 0 || setuid(img->uid) != 0)) {
			fprintf(stderr, "cannot become uid %u: %s\n", (unsigned)img->uid, strerror(errno));
			_exit(126);
		}
		/* allowPrivilegeEscalation: false */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || chdir("/") != 0) {
			fprintf(stderr, "container set-up: %s\n", strerror(errno));
			_exit(126);
		}
		char *argv[] = {bin, NULL};
		execve(bin, argv, (char *const *)env->vars);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	close(log_fd);
	d->pid = pid;
	return d;
}

/* The environment a container of service gets, adapted to this test run as the file's
 * opening comment says. blob_dir receives the directory given as BLOB_DIR ("" if none). */
static void container_env(const char *service, const struct image *img, struct env *env, char *blob_dir,
			  size_t blob_dir_size, const char *tracker_url)
{
	char *compose = slurp("docker-compose.yml");
	memset(env, 0, sizeof *env);
	/* the base image's PATH, and the sanitizers' options of an asan build */
	env_set(env, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	static const char *const pass[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"};
	for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++)
		if (getenv(pass[i]))
			env_set(env, pass[i], getenv(pass[i]));
	for (size_t i = 0; i < img->env.n; i++)
		env_set_item(env, img->env.vars[i], strlen(img->env.vars[i]), '=', "image");
	compose_env(compose, service, env);
	free(compose);

	ck_assert_msg(env_get(env, "KAFKA_BROKERS"), "compose gives %s no KAFKA_BROKERS", service);
	env_set(env, "KAFKA_BROKERS", th_env("LATHE_TEST_KAFKA"));
	/* the local broker's session limit; compose's Kafka takes the default */
	env_set(env, "KAFKA_SESSION_TIMEOUT_MS", "6000");
	if (env_get(env, "DATABASE_URL")) {
		char *url = th_db_create();
		env_set(env, "DATABASE_URL", url);
		free(url);
	}
	ck_assert_msg(env_get(env, "BIND_ADDRESS"), "no BIND_ADDRESS for %s", service);
	env_set(env, "BIND_ADDRESS", "127.0.0.1");
	char port[16];
	snprintf(port, sizeof port, "%u", th_free_port());
	env_set(env, "PORT", port);
	if (tracker_url && env_get(env, "TRACKER_URL"))
		env_set(env, "TRACKER_URL", tracker_url);

	if (env_get(env, "AUTH") && strcmp(env_get(env, "AUTH"), "on") == 0) {
		char path[700], hex[CORE_SHA256_HEX_LEN + 1];
		snprintf(path, sizeof path, "%s/container-tokens-%s", th_env("LATHE_TEST_TMP"), port);
		ck_assert_int_eq(core_sha256_hex(ADMIN_SECRET, strlen(ADMIN_SECRET), hex), CORE_OK);
		FILE *f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fprintf(f, "admin admin %s\n", hex);
		ck_assert_int_eq(fclose(f), 0);
		ck_assert_int_eq(chmod(path, 0644), 0);
		env_set(env, "AUTH_TOKENS_FILE", path);
	}

	blob_dir[0] = '\0';
	const char *blobs = env_get(env, "BLOB_DIR");
	if (blobs) {
		ck_assert_msg(blobs[0] == '/', "%s's BLOB_DIR is relative (%s): from / as uid %u it cannot be created",
			      service, blobs, (unsigned)img->uid);
		snprintf(blob_dir, blob_dir_size, "%s/container-blobs-%s", th_env("LATHE_TEST_TMP"), port);
		ck_assert_int_eq(mkdir(blob_dir, 0750), 0);
		if (geteuid() == 0)
			ck_assert_int_eq(chown(blob_dir, img->uid, img->gid), 0);
		env_set(env, "BLOB_DIR", blob_dir);
	}
}

/* The image's BLOB_DIR is absolute and is where compose mounts the tracker's volume. */
START_TEST(blob_dir_is_absolute_and_on_a_volume)
{
	struct image img;
	read_image(&img);
	const char *blobs = env_get(&img.env, "BLOB_DIR");
	ck_assert_msg(blobs && blobs[0] == '/', "deploy/Dockerfile sets no absolute BLOB_DIR");
	char *compose = slurp("docker-compose.yml");
	struct env env = {0};
	compose_env(compose, "experiment-tracker", &env);
	const char *svc_blobs = env_get(&env, "BLOB_DIR") ? env_get(&env, "BLOB_DIR") : blobs;
	ck_assert_msg(svc_blobs[0] == '/', "compose sets the tracker's BLOB_DIR relative: %s", svc_blobs);
	char *block = compose_block(compose, "experiment-tracker");
	char mount[300];
	snprintf(mount, sizeof mount, COMPOSE_BLOBS "%s]", svc_blobs);
	ck_assert_msg(strstr(block, "volumes: [") && strstr(block, mount),
		      "the tracker's BLOB_DIR %s is not on a volume in docker-compose.yml", svc_blobs);
	ck_assert_msg(strstr(compose, "\nvolumes:\n") && strstr(strstr(compose, "\nvolumes:\n"), "\n  blobs:"),
		      "docker-compose.yml does not declare the volume blobs");
	free(block);
	free(compose);
	env_free(&env);
	env_free(&img.env);
}
END_TEST

/* TRACKER_URL names the tracker's compose service and port, which Kubernetes' Service of
 * the same name has too: not loopback, which in a container is the asking container. */
START_TEST(tracker_url_names_the_tracker_service)
{
	struct image img;
	read_image(&img);
	struct env env = {0};
	char *compose = slurp("docker-compose.yml");
	compose_env(compose, "model-registry", &env);
	const char *url = env_get(&env, "TRACKER_URL");
	ck_assert_msg(url, "compose gives the model registry no TRACKER_URL (its default is loopback)");
	ck_assert_str_eq(url, "http://experiment-tracker:5000");
	char *k8s = slurp("k8s/lathe.yaml");
	ck_assert_ptr_nonnull(strstr(k8s, "kind: Service\nmetadata: {name: experiment-tracker}"));
	ck_assert_ptr_nonnull(strstr(k8s, "selector: {app: experiment-tracker}\n  ports: [{port: 5000,"));
	free(k8s);
	free(compose);
	env_free(&env);
	env_free(&img.env);
}
END_TEST

/* Each daemon becomes ready and stops cleanly when started as its container. */
START_TEST(each_daemon_starts_as_its_container)
{
	struct image img;
	read_image(&img);
	struct env env;
	char blob_dir[700];
	/* the registry asks its tracker only when a version is created: none is here, and
	 * compose's name must not send a DNS query beyond loopback */
	container_env(services[_i], &img, &env, blob_dir, sizeof blob_dir, "http://127.0.0.1:1");
	struct th_daemon *d = spawn_as_container(services[_i], &img, &env);
	/* alone, the inference API is live but waits for the model registry to be ready */
	const char *until = th_ready_alone(services[_i]) ? "/readyz" : "/healthz";
	if (!th_daemon_wait_status(d, until, 200, 30000))
		ck_abort_msg("%s did not answer %s within 30 s (log: %s)", services[_i], until, d->log_path);
	struct th_response r = th_call(d, "GET", "/healthz", NULL);
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
	th_daemon_stop(d);
	env_free(&env);
	env_free(&img.env);
}
END_TEST

/* The tracker stores an artifact in its blob store and gives the bytes back; the files
 * belong to the container's user. */
START_TEST(tracker_stores_an_artifact_as_its_container)
{
	struct image img;
	read_image(&img);
	struct env env;
	char blob_dir[700];
	container_env("experiment-tracker", &img, &env, blob_dir, sizeof blob_dir, NULL);
	ck_assert_msg(blob_dir[0], "the tracker's container has no BLOB_DIR");
	struct th_daemon *d = spawn_as_container("experiment-tracker", &img, &env);
	ck_assert_msg(th_daemon_wait_status(d, "/readyz", 200, 30000), "the tracker did not become ready");

	const char *create = "{\"experiment_id\": \"0\", \"start_time\": 1700000000000}";
	/* AUTH=on as in compose: credentials as the URL's userinfo (curl sends Basic) */
	char authed[300], url[512];
	snprintf(authed, sizeof authed, "http://admin:" ADMIN_SECRET "@127.0.0.1:%u", d->port);
	snprintf(url, sizeof url, "%s/api/2.0/mlflow/runs/create", d->base_url);
	struct th_response r = th_http("POST", url, "application/json", create, strlen(create));
	ck_assert_int_eq(r.status, 401);
	th_response_free(&r);
	snprintf(url, sizeof url, "%s/api/2.0/mlflow/runs/create", authed);
	r = th_http("POST", url, "application/json", create, strlen(create));
	ck_assert_msg(r.status == 200, "runs/create: %ld %s", r.status, r.body);
	const char *run_id =
		json_string_value(json_object_get(json_object_get(json_object_get(r.json, "run"), "info"), "run_id"));
	ck_assert_ptr_nonnull(run_id);
	snprintf(url, sizeof url, "%s/api/2.0/mlflow-artifacts/artifacts/0/%s/artifacts/model/weights.bin", authed,
		 run_id);
	th_response_free(&r);
	static const char bytes[] = "weights kept on the volume\n";
	r = th_http("PUT", url, "application/octet-stream", bytes, sizeof bytes - 1);
	ck_assert_msg(r.status == 200, "PUT artifact: %ld %s", r.status, r.body);
	th_response_free(&r);
	r = th_http("GET", url, NULL, NULL, 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, sizeof bytes - 1);
	ck_assert(memcmp(r.body, bytes, sizeof bytes - 1) == 0);
	th_response_free(&r);

	/* the bytes are under BLOB_DIR, in files the container's user owns */
	char cmd[900];
	snprintf(cmd, sizeof cmd, "test -n \"$(find %s -type f -size %zuc -user %u)\"", blob_dir, sizeof bytes - 1,
		 (unsigned)(geteuid() == 0 ? img.uid : geteuid()));
	ck_assert_msg(system(cmd) == 0, "no blob of %zu bytes owned by uid %u under BLOB_DIR", sizeof bytes - 1,
		      (unsigned)img.uid);
	th_daemon_stop(d);
	env_free(&env);
	env_free(&img.env);
}
END_TEST

int main(void)
{
	if (geteuid() != 0)
		printf("note: test_container_env runs as uid %u, not root: the daemons run as that user, not as the "
		       "image's USER\n",
		       (unsigned)geteuid());
	fflush(stdout);
	Suite *s = suite_create("container-env");
	TCase *files = tcase_create("files");
	tcase_add_test(files, compose_keeps_settings_in_each_service);
	tcase_add_test(files, compose_publishes_on_loopback_only);
	tcase_add_test(files, k8s_pods_are_restricted_and_keep_blobs);
	tcase_add_test(files, blob_dir_is_absolute_and_on_a_volume);
	tcase_add_test(files, tracker_url_names_the_tracker_service);
	tcase_add_test(files, auth_is_on_with_tokens_mounted);
	suite_add_tcase(s, files);
	TCase *daemons = tcase_create("daemons");
	tcase_set_timeout(daemons, 90);
	tcase_add_loop_test(daemons, each_daemon_starts_as_its_container, 0,
			    (int)(sizeof services / sizeof services[0]));
	tcase_add_test(daemons, tracker_stores_an_artifact_as_its_container);
	suite_add_tcase(s, daemons);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
