/* The deployment files, tested without a container engine. Each daemon is started the
 * way its container starts it: with the runtime stage's ENV from deploy/Dockerfile and
 * the env_file and environment entries of its service in docker-compose.yml, from /
 * (where nothing is writable, like Kubernetes' read-only root file system), as the
 * image's USER (uid and gid 10001) when the test runs as root, with no_new_privs. The
 * test adapts only what must be local: BIND_ADDRESS becomes 127.0.0.1 (network on
 * loopback only), PORT a free port, DATABASE_URL and KAFKA_BROKERS the run's own (only
 * where compose sets them), the peers' URLs a closed loopback port, and BLOB_DIR a fresh
 * directory owned by that user, after checking that the image's is absolute and is where
 * compose and Kubernetes mount the tracker's volume. Each daemon must become ready, the
 * tracker must store and return an artifact, and each must stop cleanly. Static checks
 * cover what a started process cannot show: every peer URL tools/run-stack.sh sets (the
 * reference of what must be wired) that a daemon has (its --settings-markdown) is set in
 * compose and Kubernetes to that peer's service name and port, with the daemon's own
 * token of enough scope where it has a *_TOKEN for that peer; compose publishes on
 * 127.0.0.1 only, every Kubernetes pod runs with the default seccomp profile as a
 * non-root user, and authentication is on everywhere with the token directory mounted
 * (AUTH_TOKENS_FILE then names a token file of this test's, with the one admin token the
 * test uses). Compose's var/auth/ env files are made by tools/compose-auth.sh at set-up
 * and are not in the repository: the peer check runs the script into a directory of its
 * own and reads them there; elsewhere they are skipped. */
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

static char *slurp_path(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f, "cannot read %s: %s", path, strerror(errno));
	char *text = NULL;
	size_t cap = 0;
	ck_assert_msg(getdelim(&text, &cap, '\0', f) >= 0, "cannot read %s", path);
	fclose(f);
	return text;
}

static char *slurp(const char *rel)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", th_env("LATHE_ROOT"), rel);
	return slurp_path(path);
}

/* --- an environment: "NAME=value" strings, a later set replacing an earlier ---------- */

struct env {
	char *vars[192];
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

/* auth_dir: where tools/compose-auth.sh wrote var/auth/'s files for this test; NULL
 * skips them (and anything else under var/, made at set-up). */
static void read_env_file(struct env *e, const char *rel, const char *auth_dir)
{
	char *text = NULL, *save = NULL;
	if (auth_dir && strncmp(rel, "var/auth/", 9) == 0) {
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", auth_dir, rel + 9);
		text = slurp_path(path);
	} else if (strncmp(rel, "var/", 4) == 0) {
		return;
	} else {
		text = slurp(rel);
	}
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line += strspn(line, " \t");
		if (*line == '#' || *line == '\0' || *line == '\r')
			continue;
		env_set_item(e, line, strlen(line), '=', rel);
	}
	free(text);
}

/* The environment compose gives the service: its env_file list (a flow list or one
 * file), then its environment (a block mapping), which wins. auth_dir: read_env_file's. */
static void compose_env(const char *compose, const char *service, struct env *e, const char *auth_dir)
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
				read_env_file(e, item, auth_dir);
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

/* The data of the ConfigMap lathe-config, whose "  NAME: value" lines every pod gets. */
static void k8s_config_map(const char *k8s, struct env *e)
{
	static const char head[] = "kind: ConfigMap\nmetadata: {name: lathe-config}\ndata:\n";
	const char *p = strstr(k8s, head);
	ck_assert_msg(p, "k8s/lathe.yaml has no ConfigMap lathe-config");
	p += sizeof head - 1;
	while (strncmp(p, "  ", 2) == 0 && p[2] != ' ' && p[2] != '#') {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		env_set_item(e, p + 2, len - 2, ':', "lathe-config");
		p += len + (eol ? 1 : 0);
	}
}

/* A malloc'd copy of the Deployment whose container runs lathe-<service>. */
static char *k8s_deployment(const char *k8s, const char *service)
{
	char command[128];
	snprintf(command, sizeof command, "command: [lathe-%s]", service);
	for (const char *doc = strstr(k8s, "kind: Deployment"); doc; doc = strstr(doc + 1, "kind: Deployment")) {
		const char *next = strstr(doc + 1, "\n---");
		char *d = strndup(doc, next ? (size_t)(next - doc) : strlen(doc));
		if (strstr(d, command))
			return d;
		free(d);
	}
	ck_abort_msg("k8s/lathe.yaml has no Deployment running lathe-%s", service);
	return NULL;
}

/* The environment of service's pod: lathe-config (when its envFrom names it), then its
 * env entries: "{name: N, value: V}" as they are, "{name: N, valueFrom: {secretKeyRef:
 * {name: S, key: K}}}" as N=secret:S/K. (The Secret lathe-env is not in the file.) */
static void k8s_env(const char *k8s, const char *service, struct env *e)
{
	char *d = k8s_deployment(k8s, service);
	if (strstr(d, "configMapRef: {name: lathe-config}"))
		k8s_config_map(k8s, e);
	for (const char *p = strstr(d, "{name: "); p; p = strstr(p + 1, "{name: ")) {
		char name[128], value[512], secret[128], key[128];
		if (sscanf(p, "{name: %127[A-Z0-9_], value: %511[^}]}", name, value) == 2) {
			char item[700]; /* through env_set_item, which drops the quotes */
			snprintf(item, sizeof item, "%s=%s", name, value);
			env_set_item(e, item, strlen(item), '=', "k8s/lathe.yaml env");
		} else if (sscanf(p,
				  "{name: %127[A-Z0-9_], valueFrom: {secretKeyRef: {name: %127[^,], key: %127[^}]}}}",
				  name, secret, key) == 3) {
			snprintf(value, sizeof value, "secret:%s/%s", secret, key);
			env_set(e, name, value);
		}
	}
	free(d);
}

/* The port of the Service named service, which must select service's pods and send to
 * the port its container listens on. 0 when there is no such Service. */
static unsigned k8s_service_port(const char *k8s, const char *service)
{
	char head[200], selector[200];
	snprintf(head, sizeof head, "kind: Service\nmetadata: {name: %s}\n", service);
	snprintf(selector, sizeof selector, "selector: {app: %s}\n  ports: [{port: ", service);
	const char *doc = strstr(k8s, head);
	if (!doc)
		return 0;
	const char *sel = strstr(doc, selector), *end = strstr(doc, "\n---");
	ck_assert_msg(sel && (!end || sel < end), "the Service %s does not select app %s (or not as read here)",
		      service, service);
	unsigned port = 0, target = 0, container = 0;
	ck_assert_int_eq(sscanf(sel + strlen(selector), "%u, targetPort: %u}]", &port, &target), 2);
	char *d = k8s_deployment(k8s, service);
	const char *cp = strstr(d, "ports: [{containerPort: ");
	ck_assert_msg(cp && sscanf(cp, "ports: [{containerPort: %u}]", &container) == 1,
		      "no containerPort in %s's Deployment", service);
	ck_assert_msg(target == container, "the Service %s sends to port %u; its container listens on %u", service,
		      target, container);
	free(d);
	return port;
}

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
	/* the ConfigMap has deploy/env/lathe.env's values, less the broker (in lathe-env) */
	struct env shared = {0};
	read_env_file(&shared, "deploy/env/lathe.env", NULL);
	struct env cm = {0};
	k8s_config_map(k8s, &cm);
	for (size_t i = 0; i < shared.n; i++) {
		const char *name = shared.vars[i], *eq = strchr(name, '=');
		if (strncmp(name, "KAFKA_BROKERS=", 14) == 0)
			continue;
		char key[128];
		snprintf(key, sizeof key, "%.*s", (int)(eq - name), name);
		ck_assert_msg(env_get(&cm, key) && strcmp(env_get(&cm, key), eq + 1) == 0,
			      "lathe-config's %s (%s) differs from deploy/env/lathe.env's (%s)", key,
			      env_get(&cm, key) ? env_get(&cm, key) : "unset", eq + 1);
	}
	env_free(&cm);
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
	read_env_file(&shared, "deploy/env/lathe.env", NULL);
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
		compose_env(compose, services[i], &e, NULL);
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
 * opening comment says. blob_dir receives the directory given as BLOB_DIR ("" if none);
 * peer_url (NULL: kept) replaces every http:// *_URL. */
static void container_env(const char *service, const struct image *img, struct env *env, char *blob_dir,
			  size_t blob_dir_size, const char *peer_url)
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
	compose_env(compose, service, env, NULL);
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
	/* the peers' service names would send DNS queries beyond loopback */
	for (size_t i = 0; peer_url && i < env->n; i++) {
		const char *eq = strchr(env->vars[i], '=');
		if (eq - env->vars[i] > 4 && strncmp(eq - 4, "_URL", 4) == 0 && strncmp(eq + 1, "http://", 7) == 0) {
			char name[128];
			snprintf(name, sizeof name, "%.*s", (int)(eq - env->vars[i]), env->vars[i]);
			env_set(env, name, peer_url);
		}
	}

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
	compose_env(compose, "experiment-tracker", &env, NULL);
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

/* --- peers: what tools/run-stack.sh wires, compose and Kubernetes wire too ------------- */

/* A daemon's settings from its --settings-markdown table: defaults ("" for none) and
 * descriptions, by name. */
struct settings {
	struct env defaults, descriptions;
};

static void daemon_settings(const char *service, struct settings *s)
{
	memset(s, 0, sizeof *s);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "'%s/lathe-%s' --settings-markdown", th_env("LATHE_TEST_BIN"), service);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		/* | `NAME` | type | `default` | description | */
		char name[128];
		if (sscanf(line, "| `%127[A-Z0-9_]` | ", name) != 1)
			continue;
		char *col = strstr(line, " | "), *def = col ? strstr(col + 3, " | ") : NULL;
		char *desc = def ? strstr(def + 3, " | ") : NULL;
		ck_assert_msg(desc, "lathe-%s --settings-markdown: a row of other columns: %s", service, line);
		/* `value`, or `(unset)` / `(required)` for none */
		char value[512] = "";
		def += 3;
		if (*def == '`' && def[1] != '(')
			snprintf(value, sizeof value, "%.*s", (int)strcspn(def + 1, "`"), def + 1);
		env_set(&s->defaults, name, value);
		desc += 3;
		desc[strcspn(desc, "\n")] = '\0';
		env_set(&s->descriptions, name, desc);
	}
	free(line);
	ck_assert_int_eq(pclose(f), 0);
	ck_assert_msg(s->defaults.n > 0, "lathe-%s --settings-markdown listed no settings", service);
}

static void settings_free(struct settings *s)
{
	env_free(&s->defaults);
	env_free(&s->descriptions);
}

/* A URL setting tools/run-stack.sh exports, and the daemon it points to ("" when it is
 * not one of the daemons: DATABASE_URL). */
struct stack_url {
	char name[64], peer[64];
};

/* Every NAME_URL=value run-stack.sh sets; a daemon's is http://127.0.0.1:${ports[peer]}. */
static size_t run_stack_urls(struct stack_url *out, size_t max)
{
	char *text = slurp("tools/run-stack.sh");
	size_t n = 0;
	for (const char *p = strstr(text, "_URL="); p; p = strstr(p + 1, "_URL=")) {
		const char *start = p;
		while (start > text && (start[-1] == '_' || (start[-1] >= 'A' && start[-1] <= 'Z')))
			start--;
		if (start == p || (start > text && start[-1] != ' ' && start[-1] != '\t' && start[-1] != '\n'))
			continue; /* ${X_URL=...} or another word: not an assignment */
		struct stack_url u = {0};
		snprintf(u.name, sizeof u.name, "%.*s", (int)(p + 4 - start), start);
		static const char peer[] = "=http://127.0.0.1:${ports[";
		if (strncmp(p + 4, peer, sizeof peer - 1) == 0) {
			const char *svc = p + 4 + sizeof peer - 1;
			snprintf(u.peer, sizeof u.peer, "%.*s", (int)strcspn(svc, "]"), svc);
		}
		bool seen = false;
		for (size_t i = 0; i < n; i++)
			seen = seen || strcmp(out[i].name, u.name) == 0;
		if (!seen) {
			ck_assert_uint_lt(n, max);
			out[n++] = u;
		}
	}
	free(text);
	return n;
}

static int scope_rank(const char *scope)
{
	return strcmp(scope, "admin") == 0 ? 3 : strcmp(scope, "write") == 0 ? 2 : strcmp(scope, "read") == 0 ? 1 : 0;
}

/* The scope a *_TOKEN setting's description asks for ("... token (write scope) ..."). */
static const char *scope_needed(const char *description)
{
	return strstr(description, "admin scope") ? "admin" : strstr(description, "write scope") ? "write" : "read";
}

/* The scope of the token whose secret is secret in the token file text, NULL if none. */
static const char *token_scope(char *tokens, const char *secret, char *scope, size_t scope_size)
{
	char hex[CORE_SHA256_HEX_LEN + 1], name[80], sc[16], hash[80];
	ck_assert_int_eq(core_sha256_hex(secret, strlen(secret), hex), CORE_OK);
	for (const char *line = tokens; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (sscanf(line, "%79s %15s %79s", name, sc, hash) == 3 && strcmp(hash, hex) == 0) {
			snprintf(scope, scope_size, "%s", sc);
			return scope;
		}
	return NULL;
}

/* For every daemon, every *_URL setting it has is one tools/run-stack.sh (the local
 * stack, the reference of what must be wired) sets, and compose and Kubernetes set it
 * too: a peer's to that peer's service name and the port it listens on there (127.0.0.1
 * or a setting left out would be the asking container itself), DATABASE_URL to
 * compose's PostgreSQL service and, in Kubernetes, from the Secret lathe-env. Where the
 * daemon has a *_TOKEN for that peer, compose gives it the secret of a token in the
 * token file (as tools/compose-auth.sh makes them) and Kubernetes a key of
 * lathe-service-tokens, each of the scope the setting asks for at least. */
START_TEST(peer_urls_and_tokens_are_wired)
{
	struct stack_url urls[32];
	size_t n_urls = run_stack_urls(urls, sizeof urls / sizeof urls[0]);
	char auth_dir[600], cmd[1400];
	snprintf(auth_dir, sizeof auth_dir, "%s/compose-auth-%d", th_env("LATHE_TEST_TMP"), (int)getpid());
	snprintf(cmd, sizeof cmd, "LATHE_AUTH_DIR='%s' '%s/tools/compose-auth.sh' >/dev/null 2>&1", auth_dir,
		 th_env("LATHE_ROOT"));
	ck_assert_msg(system(cmd) == 0, "tools/compose-auth.sh failed: %s", cmd);
	char tokens_path[700];
	snprintf(tokens_path, sizeof tokens_path, "%s/tokens", auth_dir);
	char *tokens = slurp_path(tokens_path);
	char *compose = slurp("docker-compose.yml"), *k8s = slurp("k8s/lathe.yaml");
	int peers_checked = 0;
	for (size_t i = 0; i < sizeof services / sizeof services[0]; i++) {
		const char *svc = services[i];
		struct settings set;
		daemon_settings(svc, &set);
		struct env ce = {0}, ke = {0};
		compose_env(compose, svc, &ce, auth_dir);
		k8s_env(k8s, svc, &ke);
		char *dep = k8s_deployment(k8s, svc);
		for (size_t v = 0; v < set.defaults.n; v++) {
			char name[128];
			const char *var = set.defaults.vars[v];
			size_t len = strcspn(var, "=");
			if (len < 4 || strncmp(var + len - 4, "_URL", 4) != 0)
				continue;
			snprintf(name, sizeof name, "%.*s", (int)len, var);
			const struct stack_url *u = NULL;
			for (size_t k = 0; k < n_urls; k++)
				if (strcmp(urls[k].name, name) == 0)
					u = &urls[k];
			ck_assert_msg(u, "lathe-%s has %s, which tools/run-stack.sh does not set", svc, name);
			const char *cv = env_get(&ce, name), *kv = env_get(&ke, name);
			ck_assert_msg(cv, "docker-compose.yml gives %s no %s", svc, name);
			if (!u->peer[0]) {
				/* postgresql://user:password@HOST:port/db: a service of compose's */
				const char *at = strrchr(cv, '@');
				ck_assert_msg(at, "%s's %s in docker-compose.yml names no host: %s", svc, name, cv);
				char host[128];
				snprintf(host, sizeof host, "%.*s", (int)strcspn(at + 1, ":/"), at + 1);
				char *block = compose_block(compose, host);
				ck_assert_msg(block, "%s's %s in docker-compose.yml names %s, not a service of it", svc,
					      name, host);
				free(block);
				ck_assert_msg(kv || strstr(dep, "secretRef: {name: lathe-env}"),
					      "k8s/lathe.yaml gives %s no %s (nor the Secret lathe-env)", svc, name);
				continue;
			}
			/* the peer's port in compose: its PORT there, else its default */
			struct settings peer_set;
			struct env pe = {0};
			daemon_settings(u->peer, &peer_set);
			compose_env(compose, u->peer, &pe, NULL);
			const char *port =
				env_get(&pe, "PORT") ? env_get(&pe, "PORT") : env_get(&peer_set.defaults, "PORT");
			ck_assert_ptr_nonnull(port);
			char want[300];
			snprintf(want, sizeof want, "http://%s:%s", u->peer, port);
			ck_assert_msg(strcmp(cv, want) == 0, "docker-compose.yml gives %s %s=%s; its peer is %s", svc,
				      name, cv, want);
			unsigned k8s_port = k8s_service_port(k8s, u->peer);
			ck_assert_msg(k8s_port, "k8s/lathe.yaml has no Service %s", u->peer);
			snprintf(want, sizeof want, "http://%s:%u", u->peer, k8s_port);
			ck_assert_msg(kv, "k8s/lathe.yaml gives %s no %s", svc, name);
			ck_assert_msg(strcmp(kv, want) == 0, "k8s/lathe.yaml gives %s %s=%s; its peer is %s", svc, name,
				      kv, want);
			env_free(&pe);
			settings_free(&peer_set);
			peers_checked++;

			char token[128];
			snprintf(token, sizeof token, "%.*s_TOKEN", (int)(len - 4), var);
			const char *desc = env_get(&set.descriptions, token);
			if (!desc)
				continue;
			const char *need = scope_needed(desc);
			const char *secret = env_get(&ce, token);
			ck_assert_msg(secret, "docker-compose.yml (with tools/compose-auth.sh's files) gives %s no %s",
				      svc, token);
			char scope[16];
			ck_assert_msg(token_scope(tokens, secret, scope, sizeof scope),
				      "%s's %s from tools/compose-auth.sh is no token of its token file", svc, token);
			ck_assert_msg(scope_rank(scope) >= scope_rank(need),
				      "%s's %s in compose has scope %s; it needs %s", svc, token, scope, need);
			const char *ref = env_get(&ke, token);
			static const char prefix[] = "secret:lathe-service-tokens/";
			ck_assert_msg(ref && strncmp(ref, prefix, sizeof prefix - 1) == 0,
				      "k8s/lathe.yaml gives %s no %s from the Secret lathe-service-tokens", svc, token);
			const char *key = ref + sizeof prefix - 1;
			/* the file's header makes that key with a token of enough scope */
			char made[200], from[200];
			snprintf(made, sizeof made, "tools/lathe-token new %s ", key);
			snprintf(from, sizeof from, "--from-file=%s=", key);
			const char *m = strstr(k8s, made);
			ck_assert_msg(m && strstr(k8s, from),
				      "k8s/lathe.yaml's header does not make the key %s of "
				      "lathe-service-tokens",
				      key);
			sscanf(m + strlen(made), "%15s", scope);
			ck_assert_msg(scope_rank(scope) >= scope_rank(need),
				      "k8s/lathe.yaml's key %s (%s's %s) is made with scope %s; it needs %s", key, svc,
				      token, scope, need);
		}
		free(dep);
		env_free(&ce);
		env_free(&ke);
		settings_free(&set);
	}
	ck_assert_msg(peers_checked > 0, "no daemon has a peer URL tools/run-stack.sh sets: nothing was checked");
	snprintf(cmd, sizeof cmd, "rm -r '%s'", auth_dir);
	ck_assert_int_eq(system(cmd), 0);
	free(tokens);
	free(compose);
	free(k8s);
}
END_TEST

/* Each daemon becomes ready and stops cleanly when started as its container. */
START_TEST(each_daemon_starts_as_its_container)
{
	struct image img;
	read_image(&img);
	struct env env;
	char blob_dir[700];
	/* no peer runs here (the registry asks its tracker only when a version is created;
	 * the others' peers answer later or are retried), and compose's names must not send a
	 * DNS query beyond loopback */
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
	tcase_add_test(files, peer_urls_and_tokens_are_wired);
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
