/* Pod parsing and owner resolution, then the pod cache against
 * tests/e2e/kube_server.py over TLS on 127.0.0.1, on a port the kernel picks
 * (read from the server's ready file, so two trees can run this at once),
 * with a CA made with the openssl CLI in a mkdtemp directory, removed at the
 * end. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "identity/kube.h"
#include "testutil.h"

#define NODE "node-a"
#define CID_APP "4e8a0b7c1d2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b"
#define CID_INIT "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DIGEST "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

/* ------------------------------------------------------------------ */
/* Real-shaped pods                                                     */

/* A pod as the apiserver returns it; owner_kind NULL for a bare pod, hash
 * NULL for no pod-template-hash label. */
static char *pod_json(const char *uid, const char *ns, const char *name, const char *node, const char *sa,
		      const char *owner_kind, const char *owner_name, const char *hash, const char *runtime)
{
	char owner[512] = "", labels[256], *out = NULL;

	if (owner_kind)
		snprintf(owner, sizeof(owner),
			 ",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"%s\",\"name\":\"%s\","
			 "\"uid\":\"99999999-0000-4000-8000-000000000001\",\"controller\":true,\"blockOwnerDeletion\":true}]",
			 owner_kind, owner_name);
	snprintf(labels, sizeof(labels), "{\"app.kubernetes.io/name\":\"%s\"%s%s%s}", name,
		 hash ? ",\"pod-template-hash\":\"" : "", hash ? hash : "", hash ? "\"" : "");
	if (asprintf(&out,
		     "{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
		     "\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"%s\",\"resourceVersion\":\"1\","
		     "\"creationTimestamp\":\"2025-01-01T00:00:00Z\",\"labels\":%s,"
		     "\"annotations\":{\"kubectl.kubernetes.io/restartedAt\":\"2025-01-01T00:00:00Z\"}%s},"
		     "\"spec\":{\"volumes\":[{\"name\":\"kube-api-access-abcde\",\"projected\":{\"defaultMode\":420}}],"
		     "\"initContainers\":[{\"name\":\"init-perms\",\"image\":\"busybox:1.36\",\"command\":[\"sh\",\"-c\",\"true\"]}],"
		     "\"containers\":[{\"name\":\"app\",\"image\":\"ghcr.io/example/%s:1.2.3\","
		     "\"ports\":[{\"containerPort\":8080,\"protocol\":\"TCP\"}],"
		     "\"resources\":{\"requests\":{\"cpu\":\"100m\"}},"
		     "\"volumeMounts\":[{\"name\":\"kube-api-access-abcde\",\"readOnly\":true,"
		     "\"mountPath\":\"/var/run/secrets/kubernetes.io/serviceaccount\"}]},"
		     "{\"name\":\"sidecar\",\"image\":\"envoyproxy/envoy:v1.30\"}],"
		     "\"restartPolicy\":\"Always\",\"serviceAccountName\":\"%s\",\"serviceAccount\":\"%s\","
		     "\"nodeName\":\"%s\",\"schedulerName\":\"default-scheduler\"},"
		     "\"status\":{\"phase\":\"Running\",\"hostIP\":\"172.18.0.2\",\"podIP\":\"10.244.0.12\","
		     "\"qosClass\":\"Burstable\",\"startTime\":\"2025-01-01T00:00:01Z\","
		     "\"initContainerStatuses\":[{\"name\":\"init-perms\",\"state\":{\"terminated\":{\"exitCode\":0,"
		     "\"reason\":\"Completed\"}},\"ready\":true,\"restartCount\":0,"
		     "\"image\":\"docker.io/library/busybox:1.36\",\"imageID\":\"docker.io/library/busybox@" DIGEST "\","
		     "\"containerID\":\"%s://" CID_INIT "\"}],"
		     "\"containerStatuses\":[{\"name\":\"app\",\"state\":{\"running\":{\"startedAt\":\"2025-01-01T00:00:02Z\"}},"
		     "\"ready\":true,\"restartCount\":0,\"image\":\"ghcr.io/example/%s:1.2.3\","
		     "\"imageID\":\"ghcr.io/example/%s@" DIGEST "\",\"containerID\":\"%s://" CID_APP "\",\"started\":true},"
		     "{\"name\":\"sidecar\",\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}},\"ready\":false,"
		     "\"restartCount\":0,\"image\":\"envoyproxy/envoy:v1.30\",\"imageID\":\"\",\"started\":false}]}}",
		     name, ns, uid, labels, owner, name, sa, sa, node, runtime, name, name, runtime) < 0)
		return NULL;
	return out;
}

static int parse_str(const char *json, struct kube_pod *out)
{
	json_object *o = json_tokener_parse(json);
	int rc;

	assert_non_null(o);
	rc = kube_parse_pod(o, out);
	json_object_put(o);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Parsing                                                              */

static void test_parse_deployment_pod(void **state)
{
	char *j = pod_json("3f1c2d4e-1111-4a5b-9c8d-0123456789ab", "ai", "llm-gateway-7d4b9c8f6d-x2x9z", NODE,
			   "llm-gateway", "ReplicaSet", "llm-gateway-7d4b9c8f6d", "7d4b9c8f6d", "containerd");
	struct kube_pod p;
	json_object *labels, *v;

	assert_non_null(j);
	assert_int_equal(parse_str(j, &p), 0);
	free(j);
	assert_string_equal(p.uid, "3f1c2d4e-1111-4a5b-9c8d-0123456789ab");
	assert_string_equal(p.ns, "ai");
	assert_string_equal(p.name, "llm-gateway-7d4b9c8f6d-x2x9z");
	assert_string_equal(p.service_account, "llm-gateway");
	assert_string_equal(p.node, NODE);
	assert_string_equal(p.owner_kind, "Deployment");
	assert_string_equal(p.owner_name, "llm-gateway");
	/* compact, '/' not escaped, a valid object */
	assert_string_equal(p.labels_json,
			    "{\"app.kubernetes.io/name\":\"llm-gateway-7d4b9c8f6d-x2x9z\",\"pod-template-hash\":\"7d4b9c8f6d\"}");
	labels = json_tokener_parse(p.labels_json);
	assert_non_null(labels);
	assert_true(json_object_object_get_ex(labels, "pod-template-hash", &v));
	json_object_put(labels);

	/* init containers first, then spec order; statuses merged by name */
	assert_int_equal(p.n_containers, 3);
	assert_string_equal(p.containers[0].name, "init-perms");
	assert_string_equal(p.containers[0].image, "busybox:1.36");
	assert_string_equal(p.containers[0].image_id, "docker.io/library/busybox@" DIGEST);
	assert_string_equal(p.containers[0].container_id, CID_INIT);
	assert_string_equal(p.containers[1].name, "app");
	assert_string_equal(p.containers[1].image, "ghcr.io/example/llm-gateway-7d4b9c8f6d-x2x9z:1.2.3");
	assert_string_equal(p.containers[1].image_id, "ghcr.io/example/llm-gateway-7d4b9c8f6d-x2x9z@" DIGEST);
	assert_string_equal(p.containers[1].container_id, CID_APP);
	/* not started yet: no id, no image ID */
	assert_string_equal(p.containers[2].name, "sidecar");
	assert_string_equal(p.containers[2].image, "envoyproxy/envoy:v1.30");
	assert_string_equal(p.containers[2].image_id, "");
	assert_string_equal(p.containers[2].container_id, "");
}

struct owner_case {
	const char *refs;     /* the ownerReferences array, or NULL */
	const char *hash;     /* pod-template-hash label, or NULL */
	const char *kind, *name;
};

static void test_owner_resolution(void **state)
{
	static const struct owner_case cases[] = {
		{ "[{\"kind\":\"ReplicaSet\",\"name\":\"web-5f7c9d8b6\",\"controller\":true}]", "5f7c9d8b6", "Deployment", "web" },
		/* a hyphenated deployment name keeps its hyphens */
		{ "[{\"kind\":\"ReplicaSet\",\"name\":\"llm-gw-v2-5f7c9d8b6\",\"controller\":true}]", "5f7c9d8b6", "Deployment", "llm-gw-v2" },
		/* a bare ReplicaSet: no hash label, or a name that does not end in it */
		{ "[{\"kind\":\"ReplicaSet\",\"name\":\"web-5f7c9d8b6\",\"controller\":true}]", NULL, "ReplicaSet", "web-5f7c9d8b6" },
		{ "[{\"kind\":\"ReplicaSet\",\"name\":\"web-abc\",\"controller\":true}]", "5f7c9d8b6", "ReplicaSet", "web-abc" },
		{ "[{\"kind\":\"ReplicaSet\",\"name\":\"web5f7c9d8b6\",\"controller\":true}]", "5f7c9d8b6", "ReplicaSet", "web5f7c9d8b6" },
		{ "[{\"kind\":\"ReplicaSet\",\"name\":\"-5f7c9d8b6\",\"controller\":true}]", "5f7c9d8b6", "ReplicaSet", "-5f7c9d8b6" },
		{ "[{\"kind\":\"ReplicaSet\",\"name\":\"web-5f7c9d8b6\",\"controller\":true}]", "", "ReplicaSet", "web-5f7c9d8b6" },
		{ "[{\"kind\":\"StatefulSet\",\"name\":\"vector-db\",\"controller\":true}]", NULL, "StatefulSet", "vector-db" },
		{ "[{\"kind\":\"DaemonSet\",\"name\":\"reachd\",\"controller\":true}]", "x", "DaemonSet", "reachd" },
		{ "[{\"kind\":\"Job\",\"name\":\"nightly-eval-28910340\",\"controller\":true}]", NULL, "Job", "nightly-eval-28910340" },
		/* static pod mirror */
		{ "[{\"kind\":\"Node\",\"name\":\"node-a\",\"controller\":true}]", NULL, "Node", "node-a" },
		/* the controller wins over earlier references */
		{ "[{\"kind\":\"ConfigMap\",\"name\":\"cm\"},{\"kind\":\"StatefulSet\",\"name\":\"db\",\"controller\":true}]", NULL, "StatefulSet", "db" },
		{ "[{\"kind\":\"ConfigMap\",\"name\":\"cm\",\"controller\":false},{\"kind\":\"Job\",\"name\":\"j\"}]", NULL, "ConfigMap", "cm" },
		/* none, empty, broken */
		{ NULL, NULL, "", "" },
		{ "[]", NULL, "", "" },
		{ "[{\"kind\":\"StatefulSet\"}]", NULL, "", "" },
		{ "[{\"name\":\"x\"}]", NULL, "", "" },
		{ "[42]", NULL, "", "" },
		{ "{\"kind\":\"Job\",\"name\":\"j\"}", NULL, "", "" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char json[1024];
		struct kube_pod p;

		snprintf(json, sizeof(json),
			 "{\"metadata\":{\"uid\":\"u-%zu\",\"namespace\":\"ns\",\"name\":\"p\",\"labels\":{%s%s%s}%s%s}}",
			 i, cases[i].hash ? "\"pod-template-hash\":\"" : "", cases[i].hash ? cases[i].hash : "",
			 cases[i].hash ? "\"" : "", cases[i].refs ? ",\"ownerReferences\":" : "",
			 cases[i].refs ? cases[i].refs : "");
		assert_int_equal(parse_str(json, &p), 0);
		if (strcmp(p.owner_kind, cases[i].kind) || strcmp(p.owner_name, cases[i].name))
			fail_msg("case %zu: owner %s/%s, want %s/%s", i, p.owner_kind, p.owner_name, cases[i].kind, cases[i].name);
	}
}

static void test_container_id_prefixes(void **state)
{
	static const char *const runtimes[] = { "containerd", "cri-o", "docker" };

	for (size_t i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++) {
		char *j = pod_json("u1", "ns", "p", NODE, "sa", NULL, NULL, NULL, runtimes[i]);
		struct kube_pod p;

		assert_int_equal(parse_str(j, &p), 0);
		free(j);
		assert_string_equal(p.containers[0].container_id, CID_INIT);
		assert_string_equal(p.containers[1].container_id, CID_APP);
		assert_string_equal(p.owner_kind, "");
	}
}

static void test_container_id_edge_cases(void **state)
{
	struct kube_pod p;

	assert_int_equal(parse_str("{\"metadata\":{\"uid\":\"u\"},\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"i\"},"
				   "{\"name\":\"b\",\"image\":\"i\"},{\"name\":\"c\",\"image\":\"i\"},{\"name\":\"d\"}]},"
				   "\"status\":{\"containerStatuses\":["
				   "{\"name\":\"a\",\"containerID\":\"" CID_APP "\"},"                        /* no scheme */
				   "{\"name\":\"b\",\"containerID\":\"containerd://" CID_APP "00\"},"         /* too long */
				   "{\"name\":\"c\",\"containerID\":\"\"},"
				   "{\"name\":\"d\",\"containerID\":42,\"image\":\"from-status:1\"},"
				   "{\"name\":\"e\",\"containerID\":\"cri-o://" CID_INIT "\",\"imageID\":\"x@" DIGEST "\"},"
				   "{\"containerID\":\"docker://" CID_INIT "\"}]}}", &p), 0);
	assert_int_equal(p.n_containers, 5);
	assert_string_equal(p.containers[0].container_id, CID_APP);
	assert_string_equal(p.containers[1].container_id, "");
	assert_string_equal(p.containers[2].container_id, "");
	assert_string_equal(p.containers[3].container_id, "");
	assert_string_equal(p.containers[3].image, "from-status:1"); /* spec had none */
	/* a status without a spec entry still counts */
	assert_string_equal(p.containers[4].name, "e");
	assert_string_equal(p.containers[4].container_id, CID_INIT);
	assert_string_equal(p.containers[4].image_id, "x@" DIGEST);
}

static void test_ephemeral_and_cap(void **state)
{
	char json[8192];
	size_t off;
	struct kube_pod p;

	off = (size_t)snprintf(json, sizeof(json), "{\"metadata\":{\"uid\":\"u\"},\"spec\":{\"containers\":[");
	for (int i = 0; i < 20; i++)
		off += (size_t)snprintf(json + off, sizeof(json) - off, "%s{\"name\":\"c%d\",\"image\":\"img%d\"}", i ? "," : "", i, i);
	snprintf(json + off, sizeof(json) - off, "]}}");
	assert_int_equal(parse_str(json, &p), 0);
	assert_int_equal(p.n_containers, KUBE_MAX_CONTAINERS);
	assert_string_equal(p.containers[15].name, "c15");

	assert_int_equal(parse_str("{\"metadata\":{\"uid\":\"u\"},\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"a\"}],"
				   "\"ephemeralContainers\":[{\"name\":\"debugger\",\"image\":\"busybox\"}]},"
				   "\"status\":{\"ephemeralContainerStatuses\":[{\"name\":\"debugger\","
				   "\"containerID\":\"containerd://" CID_INIT "\"}]}}", &p), 0);
	assert_int_equal(p.n_containers, 2);
	assert_string_equal(p.containers[1].name, "debugger");
	assert_string_equal(p.containers[1].container_id, CID_INIT);
}

static void test_service_account_and_labels(void **state)
{
	struct kube_pod p;
	char json[16384];
	size_t off;
	json_object *o;

	/* only the deprecated field */
	assert_int_equal(parse_str("{\"metadata\":{\"uid\":\"u\"},\"spec\":{\"serviceAccount\":\"old\"}}", &p), 0);
	assert_string_equal(p.service_account, "old");
	assert_string_equal(p.labels_json, "{}");
	assert_string_equal(p.ns, "");
	assert_int_equal(p.n_containers, 0);

	/* labels too long for the field: whole labels only, still JSON */
	off = (size_t)snprintf(json, sizeof(json), "{\"metadata\":{\"uid\":\"u\",\"labels\":{");
	for (int i = 0; i < 40; i++)
		off += (size_t)snprintf(json + off, sizeof(json) - off, "%s\"key%02d\":\"%0100d\"", i ? "," : "", i, i);
	snprintf(json + off, sizeof(json) - off, "}}}");
	assert_int_equal(parse_str(json, &p), 0);
	assert_true(strlen(p.labels_json) < sizeof(p.labels_json));
	o = json_tokener_parse(p.labels_json);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_object));
	assert_true(json_object_object_length(o) >= 10);
	assert_true(json_object_object_length(o) < 40);
	json_object_put(o);
}

static void test_parse_rejects(void **state)
{
	struct kube_pod p;
	json_object *o = json_object_new_array();

	assert_int_equal(kube_parse_pod(NULL, &p), -EINVAL);
	assert_int_equal(kube_parse_pod(o, &p), -EINVAL);
	assert_int_equal(kube_parse_pod(o, NULL), -EINVAL);
	json_object_put(o);
	assert_int_equal(parse_str("{}", &p), -EINVAL);
	assert_int_equal(parse_str("{\"metadata\":{\"name\":\"x\"}}", &p), -EINVAL);
	assert_int_equal(parse_str("{\"metadata\":{\"uid\":\"\"}}", &p), -EINVAL);
	assert_int_equal(parse_str("{\"metadata\":{\"uid\":7}}", &p), -EINVAL);
	assert_int_equal(parse_str("{\"metadata\":{\"uid\":\"3f1c2d4e-1111-4a5b-9c8d-0123456789abc\"}}", &p), -EINVAL);
	assert_string_equal(p.uid, ""); /* zeroed, not half-filled */
	assert_int_equal(parse_str("{\"metadata\":{\"uid\":\"3f1c2d4e-1111-4a5b-9c8d-0123456789ab\"},\"spec\":[],\"status\":7}", &p), 0);
}

/* ------------------------------------------------------------------ */
/* The integration fixture                                              */

#define MAX_EVENTS 64

struct rec {
	enum kube_event_type type;
	struct kube_pod pod;
};

static struct {
	char dir[64];
	char path[8][PATH_MAX];
	char token[64];
	pid_t server;
	struct kube *k;
	int cmd_seq;
	struct rec ev[MAX_EVENTS];
	int n_ev;
	bool certs_made;
	int saved_stderr;
	int port; /* the server's, from its ready file */
} fx = { .saved_stderr = -1 };

enum { P_CTL, P_CA, P_CERT, P_KEY, P_TOKEN, P_PODS, P_LOG, P_OTHER_CA };

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_event(void *ctx, enum kube_event_type type, const struct kube_pod *pod)
{
	if (fx.n_ev >= MAX_EVENTS) {
		fx.n_ev = MAX_EVENTS + 1; /* remembered as an overflow */
		return;
	}
	fx.ev[fx.n_ev].type = type;
	fx.ev[fx.n_ev].pod = *pod;
	fx.n_ev++;
}

static void drain(void)
{
	if (fx.k)
		kube_drain(fx.k, on_event, NULL);
	assert_true(fx.n_ev <= MAX_EVENTS);
}

static int count_events(enum kube_event_type type, const char *uid)
{
	int n = 0;

	for (int i = 0; i < fx.n_ev && i < MAX_EVENTS; i++)
		if (fx.ev[i].type == type && strcmp(fx.ev[i].pod.uid, uid) == 0)
			n++;
	return n;
}

static const struct kube_pod *last_event(enum kube_event_type type, const char *uid)
{
	for (int i = (fx.n_ev < MAX_EVENTS ? fx.n_ev : MAX_EVENTS); i-- > 0;)
		if (fx.ev[i].type == type && strcmp(fx.ev[i].pod.uid, uid) == 0)
			return &fx.ev[i].pod;
	return NULL;
}

static struct kube_stats stats(void)
{
	struct kube_stats s;

	kube_get_stats(fx.k, &s);
	return s;
}

/* Polls (draining events) until expr holds; fails the test at the deadline. */
#define WAIT_UNTIL(expr, ms)                                                                         \
	do {                                                                                         \
		uint64_t dl_ = mono_ms() + (ms);                                                     \
		for (;;) {                                                                           \
			drain();                                                                     \
			if (expr)                                                                    \
				break;                                                               \
			if (mono_ms() > dl_) {                                                       \
				struct kube_stats s_ = stats();                                      \
				fail_msg("line %d: no \"%s\" within %d ms (lists %lu watches %lu errors %lu " \
					 "relists %lu synced %d last error: %s)", __LINE__, #expr, (ms),        \
					 (unsigned long)s_.lists, (unsigned long)s_.watches,         \
					 (unsigned long)s_.errors, (unsigned long)s_.relists_410,    \
					 s_.synced, s_.last_error);                                  \
			}                                                                            \
			usleep(20000);                                                               \
		}                                                                                    \
	} while (0)

static int write_file(const char *path, const char *text)
{
	char tmp[PATH_MAX + 8];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	if (fclose(f) != 0)
		return -EIO;
	return rename(tmp, path) == 0 ? 0 : -errno;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void kill_server(void)
{
	uint64_t dl;
	int st;

	if (fx.server <= 0)
		return;
	kill(fx.server, SIGTERM);
	for (dl = mono_ms() + 3000; mono_ms() < dl;) {
		if (waitpid(fx.server, &st, WNOHANG) == fx.server) {
			fx.server = 0;
			return;
		}
		usleep(10000);
	}
	kill(fx.server, SIGKILL);
	waitpid(fx.server, &st, 0);
	fx.server = 0;
}

static void cleanup_all(void)
{
	kube_stop(fx.k);
	fx.k = NULL;
	kill_server();
	if (fx.dir[0]) {
		remove_tree(fx.dir);
		fx.dir[0] = '\0';
	}
}

static void print_server_log(void)
{
	char line[512];
	FILE *f = fopen(fx.path[P_LOG], "r");

	if (!f)
		return;
	fprintf(stderr, "--- kube_server.py log ---\n");
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fclose(f);
}

static int make_dir_and_certs(void)
{
	static const char *const names[] = { "control", "ca.crt", "server.crt", "server.key", "token",
					     "pods.json", "server.log", "other-ca.crt" };
	const char *d;
	char ext[PATH_MAX];

	if (fx.certs_made)
		return 0;
	strcpy(fx.dir, "/tmp/reach-test-kube-XXXXXX");
	if (!mkdtemp(fx.dir)) {
		fx.dir[0] = '\0';
		return -1;
	}
	atexit(cleanup_all);
	for (int i = 0; i < 8; i++)
		snprintf(fx.path[i], sizeof(fx.path[i]), "%s/%s", fx.dir, names[i]);
	if (mkdir(fx.path[P_CTL], 0700) != 0)
		return -1;
	d = fx.dir;
	snprintf(ext, sizeof(ext), "%s/ext.cnf", d);
	if (write_file(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
			    "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"))
		return -1;
#define EC "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
	if (run("openssl req -x509 " EC " -keyout %s/ca.key -out %s/ca.crt -days 2 -subj /CN=reach-test-ca "
		"-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign >>%s/openssl.log 2>&1",
		d, d, d) ||
	    run("openssl req " EC " -keyout %s/server.key -out %s/server.csr -subj /CN=127.0.0.1 >>%s/openssl.log 2>&1", d, d, d) ||
	    run("openssl x509 -req -in %s/server.csr -CA %s/ca.crt -CAkey %s/ca.key -CAcreateserial -out %s/server.crt "
		"-days 2 -extfile %s >>%s/openssl.log 2>&1", d, d, d, d, ext, d) ||
	    run("openssl req -x509 " EC " -keyout %s/other-ca.key -out %s/other-ca.crt -days 2 -subj /CN=127.0.0.1 "
		">>%s/openssl.log 2>&1", d, d, d))
		return -1;
#undef EC
	snprintf(fx.token, sizeof(fx.token), "reach-test-token-%d-Zq8pX3vK", (int)getpid());
	fx.certs_made = true;
	return 0;
}

static const char *server_script(void)
{
	static char path[PATH_MAX + 64];
	char exe[PATH_MAX];
	ssize_t n;

	if (access("tests/e2e/kube_server.py", R_OK) == 0)
		return "tests/e2e/kube_server.py";
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	snprintf(path, sizeof(path), "%s/../../tests/e2e/kube_server.py", dirname(exe));
	return access(path, R_OK) == 0 ? path : NULL;
}

#define UID_A "3f1c2d4e-1111-4a5b-9c8d-0123456789ab"
#define UID_B "7a8b9c0d-2222-4e5f-8a9b-fedcba987654"
#define UID_C "11111111-2222-3333-4444-555555555555"
#define UID_D "9d9d9d9d-aaaa-bbbb-cccc-dddddddddddd"
#define UID_E "12345678-9abc-def0-1234-56789abcdef0"

static int write_initial_pods(void)
{
	char *a = pod_json(UID_A, "ai", "llm-gateway-5f7c9d8b6-abcde", NODE, "llm-gateway", "ReplicaSet",
			   "llm-gateway-5f7c9d8b6", "5f7c9d8b6", "containerd");
	char *b = pod_json(UID_B, "ai", "vector-db-0", NODE, "vector-db", "StatefulSet", "vector-db", NULL, "containerd");
	char *c = pod_json(UID_C, "ai", "elsewhere-0", "node-b", "other", "StatefulSet", "elsewhere", NULL, "cri-o");
	char *all = NULL;
	int rc = -1;

	if (a && b && c && asprintf(&all, "[%s,\n%s,\n%s]\n", a, b, c) >= 0)
		rc = write_file(fx.path[P_PODS], all);
	free(a);
	free(b);
	free(c);
	free(all);
	return rc;
}

/* Starts kube_server.py and waits for its ready file. */
static int start_server(void)
{
	const char *script = server_script();
	char port[16], ready[PATH_MAX + 8];
	uint64_t dl;
	pid_t pid;
	int st;

	if (!script) {
		fprintf(stderr, "test_kube: tests/e2e/kube_server.py not found\n");
		return -1;
	}
	/* the first start lets the kernel pick; later ones reuse that port */
	snprintf(port, sizeof(port), "%d", fx.port);
	snprintf(ready, sizeof(ready), "%s/ready", fx.path[P_CTL]);
	unlink(ready);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(fx.path[P_LOG], O_WRONLY | O_CREAT | O_APPEND, 0600);

		/* the server dies with this test, whatever happens to it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("python3", "python3", script, "--port", port, "--bind", "127.0.0.1", "--cert", fx.path[P_CERT],
		       "--key", fx.path[P_KEY], "--token", fx.token, "--pods", fx.path[P_PODS], "--control",
		       fx.path[P_CTL], "--bookmark-interval", "0.5", (char *)NULL);
		_exit(127);
	}
	fx.server = pid;
	for (dl = mono_ms() + 10000; mono_ms() < dl;) {
		FILE *f = fopen(ready, "r");

		if (f) {
			int got = fscanf(f, "%d", &fx.port);

			fclose(f);
			if (got == 1 && fx.port > 0)
				return 0;
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			fx.server = 0;
			fprintf(stderr, "test_kube: kube_server.py exited early (port %d busy?)\n", fx.port);
			print_server_log();
			return -1;
		}
		usleep(20000);
	}
	fprintf(stderr, "test_kube: kube_server.py not ready within 10 s\n");
	print_server_log();
	kill_server();
	return -1;
}

static int setup_server(void **state)
{
	memset(fx.ev, 0, sizeof(fx.ev));
	fx.n_ev = 0;
	fx.port = 0;
	if (make_dir_and_certs() || write_initial_pods() || write_file(fx.path[P_TOKEN], fx.token) ||
	    start_server()) {
		kill_server();
		return -1;
	}
	return 0;
}

static int teardown_server(void **state)
{
	kube_stop(fx.k);
	fx.k = NULL;
	if (fx.saved_stderr >= 0) { /* a failed test left stderr captured */
		fflush(stderr);
		dup2(fx.saved_stderr, 2);
		close(fx.saved_stderr);
		fx.saved_stderr = -1;
	}
	kill_server();
	return 0;
}

static int teardown_group(void **state)
{
	cleanup_all();
	return 0;
}

/* Drops one command file into the control directory and waits until the
 * server has applied it (the file disappears). */
static void ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ctl(const char *fmt, ...)
{
	char text[65536], path[PATH_MAX + 32];
	va_list ap;
	uint64_t dl;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%06d.cmd", fx.path[P_CTL], ++fx.cmd_seq);
	assert_int_equal(write_file(path, text), 0);
	for (dl = mono_ms() + 5000; access(path, F_OK) == 0;) {
		if (mono_ms() > dl) {
			print_server_log();
			fail_msg("kube_server.py did not apply: %s", text);
		}
		usleep(10000);
	}
}

static void add_pod(const char *uid, const char *name, const char *node)
{
	char *j = pod_json(uid, "tools", name, node, "agent", "Job", name, NULL, "cri-o");
	char *flat;

	assert_non_null(j);
	/* one line: inline JSON after "add" */
	for (flat = j; *flat; flat++)
		if (*flat == '\n')
			*flat = ' ';
	ctl("add %s\n", j);
	free(j);
}

static void start_client(const char *ca, unsigned idle_timeout_s)
{
	char err[256] = "", url[64];
	struct kube_opts o = {
		.api_url = url,
		.token_file = fx.path[P_TOKEN],
		.ca_file = ca,
		.node_name = NODE,
		.watch_timeout_s = 30,
		.idle_timeout_s = idle_timeout_s,
	};

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", fx.port);
	if (kube_new(&fx.k, &o, err, sizeof(err)) != 0)
		fail_msg("kube_new: %s", err);
	assert_int_equal(kube_start(fx.k), 0);
	assert_int_equal(kube_start(fx.k), -EALREADY);
}

static int count_lines_with(const char *path, const char *needle)
{
	char line[1024];
	int n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

/* ------------------------------------------------------------------ */
/* Integration                                                          */

static void test_list_then_watch_add_delete(void **state)
{
	struct kube_pod p;
	const struct kube_pod *e;
	struct kube_stats s;
	char reqlog[PATH_MAX + 16];
	uint64_t t0;

	start_client(fx.path[P_CA], 0);
	WAIT_UNTIL(stats().synced && count_events(KUBE_POD_UPSERT, UID_B) == 1, 10000);
	/* the list: both pods of this node, in list order, not the other node's */
	assert_int_equal(fx.n_ev, 2);
	assert_int_equal(fx.ev[0].type, KUBE_POD_UPSERT);
	assert_string_equal(fx.ev[0].pod.uid, UID_A);
	assert_string_equal(fx.ev[1].pod.uid, UID_B);
	assert_int_equal(kube_lookup(fx.k, UID_A, &p), 0);
	assert_string_equal(p.ns, "ai");
	assert_string_equal(p.service_account, "llm-gateway");
	assert_string_equal(p.owner_kind, "Deployment");
	assert_string_equal(p.owner_name, "llm-gateway");
	assert_string_equal(p.containers[1].container_id, CID_APP);
	assert_string_equal(p.containers[1].image_id, "ghcr.io/example/llm-gateway-5f7c9d8b6-abcde@" DIGEST);
	assert_int_equal(kube_lookup(fx.k, UID_B, &p), 0);
	assert_string_equal(p.owner_kind, "StatefulSet");
	assert_int_equal(kube_lookup(fx.k, UID_C, &p), -ENOENT);
	assert_int_equal(kube_lookup(fx.k, "nope", &p), -ENOENT);
	assert_int_equal(kube_lookup(fx.k, NULL, &p), -EINVAL);
	WAIT_UNTIL(stats().watches >= 1, 5000);

	/* added through the watch; a pod of another node never shows */
	add_pod(UID_E, "other-node-job", "node-b");
	add_pod(UID_D, "eval-job", NODE);
	WAIT_UNTIL(count_events(KUBE_POD_UPSERT, UID_D) == 1, 5000);
	e = last_event(KUBE_POD_UPSERT, UID_D);
	assert_string_equal(e->ns, "tools");
	assert_string_equal(e->service_account, "agent");
	assert_string_equal(e->owner_kind, "Job");
	assert_string_equal(e->containers[1].container_id, CID_APP); /* cri-o:// stripped */
	assert_int_equal(kube_lookup(fx.k, UID_D, &p), 0);
	assert_string_equal(p.name, "eval-job");

	/* a MODIFIED that changes nothing we keep is no event; one that does
	 * is (events arrive in order: when the second shows, the first is done) */
	add_pod(UID_D, "eval-job", NODE);
	{
		char *j = pod_json(UID_D, "tools", "eval-job", NODE, "agent-v2", "Job", "eval-job", NULL, "cri-o");
		char *c;

		for (c = j; *c; c++)
			if (*c == '\n')
				*c = ' ';
		ctl("add %s\n", j);
		free(j);
	}
	WAIT_UNTIL(strcmp(last_event(KUBE_POD_UPSERT, UID_D)->service_account, "agent-v2") == 0, 5000);
	assert_int_equal(count_events(KUBE_POD_UPSERT, UID_D), 2);

	ctl("delete %s\n", UID_D);
	WAIT_UNTIL(count_events(KUBE_POD_DELETE, UID_D) == 1, 5000);
	assert_string_equal(last_event(KUBE_POD_DELETE, UID_D)->name, "eval-job");
	assert_int_equal(kube_lookup(fx.k, UID_D, &p), -ENOENT);
	assert_int_equal(count_events(KUBE_POD_UPSERT, UID_E), 0);
	assert_int_equal(count_events(KUBE_POD_UPSERT, UID_C), 0);

	s = stats();
	assert_int_equal(s.lists, 1);
	assert_int_equal(s.errors, 0);
	assert_int_equal(s.relists_410, 0);
	assert_true(s.events >= 4);
	assert_string_equal(s.last_error, "");

	/* the requests carried the node selector, a version and bookmarks */
	snprintf(reqlog, sizeof(reqlog), "%s/requests.log", fx.path[P_CTL]);
	assert_int_equal(count_lines_with(reqlog, "GET /api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a 200"), 1);
	assert_true(count_lines_with(reqlog, "&watch=1&resourceVersion=") >= 1);
	assert_true(count_lines_with(reqlog, "allowWatchBookmarks=true&timeoutSeconds=30 200") >= 1);

	/* stopping mid-watch is prompt */
	t0 = mono_ms();
	kube_stop(fx.k);
	fx.k = NULL;
	assert_true(mono_ms() - t0 < 1500);
}

static void test_wrong_token_then_rotation(void **state)
{
	char logpath[PATH_MAX + 16], text[8192] = "";
	struct kube_stats s;
	int saved, fd;
	ssize_t n;

	/* the token file rotates: a wrong token first, the right one later */
	assert_int_equal(write_file(fx.path[P_TOKEN], "wrong-token-Hk29fQ7Lx0\n"), 0);
	/* capture the log lines to check that no token is in them */
	snprintf(logpath, sizeof(logpath), "%s/client.log", fx.dir);
	fd = open(logpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = fx.saved_stderr = dup(2);
	dup2(fd, 2);

	start_client(fx.path[P_CA], 0);
	WAIT_UNTIL(stats().errors >= 3, 10000);
	s = stats();
	assert_int_equal(s.synced, 0);
	assert_int_equal(s.lists, 0);
	assert_non_null(strstr(s.last_error, "401"));
	assert_null(strstr(s.last_error, "wrong-token-Hk29fQ7Lx0"));
	assert_null(strstr(s.last_error, fx.token));
	/* the server echoed the token past the message's cut: no prefix either */
	assert_null(strstr(s.last_error, "wrong-tok"));

	assert_int_equal(write_file(fx.path[P_TOKEN], fx.token), 0);
	WAIT_UNTIL(stats().synced == 1 && count_events(KUBE_POD_UPSERT, UID_A) == 1, 15000);
	kube_stop(fx.k);
	fx.k = NULL;

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	fx.saved_stderr = -1;
	n = pread(fd, text, sizeof(text) - 1, 0);
	close(fd);
	assert_true(n > 0);
	text[n] = '\0';
	/* one warning for the retry storm, one line for the recovery */
	assert_non_null(strstr(text, "401"));
	assert_non_null(strstr(text, "recovered"));
	assert_int_equal(count_lines_with(logpath, "warning"), 1);
	assert_null(strstr(text, "wrong-token-Hk29fQ7Lx0"));
	assert_null(strstr(text, "wrong-tok"));
	assert_null(strstr(text, fx.token));
}

static void test_server_errors_and_garbage_then_recovery(void **state)
{
	struct kube_stats s;

	start_client(fx.path[P_CA], 0);
	WAIT_UNTIL(stats().synced && stats().watches >= 1, 10000);

	/* 500 twice for the re-watch, then fine */
	ctl("fail 500 2\ndrop\n");
	WAIT_UNTIL(stats().errors >= 2, 10000);
	assert_non_null(strstr(stats().last_error, "HTTP 500"));
	assert_non_null(strstr(stats().last_error, "injected"));
	add_pod(UID_D, "after-500", NODE);
	WAIT_UNTIL(count_events(KUBE_POD_UPSERT, UID_D) == 1, 10000);
	assert_int_equal(stats().errors, 2);

	/* a stream that is not JSON */
	ctl("garbage 1\ndrop\n");
	WAIT_UNTIL(stats().errors >= 3, 10000);
	assert_non_null(strstr(stats().last_error, "invalid JSON"));
	ctl("delete %s\n", UID_D);
	WAIT_UNTIL(count_events(KUBE_POD_DELETE, UID_D) == 1, 10000);

	/* a list that is not JSON: expire forces the re-list */
	ctl("garbage 1\nexpire\n");
	WAIT_UNTIL(stats().errors >= 4 && stats().lists >= 2, 10000);
	s = stats();
	assert_int_equal(s.errors, 4);
	assert_int_equal(s.lists, 2);
	assert_int_equal(s.relists_410, 1);
	assert_non_null(strstr(s.last_error, "list pods"));
	add_pod(UID_E, "after-garbage", NODE);
	WAIT_UNTIL(count_events(KUBE_POD_UPSERT, UID_E) == 1, 10000);
	/* the unchanged pods are no news after the re-list */
	assert_int_equal(count_events(KUBE_POD_UPSERT, UID_A), 1);
	assert_int_equal(stats().synced, 1);
}

static void test_gone_relists_and_outage(void **state)
{
	struct kube_stats s;
	struct kube_pod p;

	start_client(fx.path[P_CA], 0);
	WAIT_UNTIL(stats().synced && stats().watches >= 1, 10000);

	/* HTTP 410 on the watch request */
	ctl("fail 410 1\ndrop\n");
	WAIT_UNTIL(stats().relists_410 == 1 && stats().lists == 2, 10000);
	/* ERROR 410 event on an open watch */
	WAIT_UNTIL(stats().watches >= 2, 5000); /* the 410 answer was no watch */
	ctl("expire\n");
	WAIT_UNTIL(stats().relists_410 == 2 && stats().lists == 3, 10000);
	assert_int_equal(stats().errors, 0);

	/* the server goes away; meanwhile a pod goes and another comes, and the
	 * history is compacted: the re-list catches up on both */
	ctl("stop\ndelete %s\n", UID_B);
	add_pod(UID_D, "during-outage", NODE);
	WAIT_UNTIL(stats().errors >= 2, 10000); /* lost stream + refused reconnects */
	ctl("expire\nstart\n");
	WAIT_UNTIL(count_events(KUBE_POD_DELETE, UID_B) == 1 && count_events(KUBE_POD_UPSERT, UID_D) == 1, 20000);
	s = stats();
	assert_int_equal(s.relists_410, 3);
	assert_int_equal(s.lists, 4);
	assert_int_equal(kube_lookup(fx.k, UID_B, &p), -ENOENT);
	assert_int_equal(kube_lookup(fx.k, UID_D, &p), 0);
	assert_int_equal(kube_lookup(fx.k, UID_A, &p), 0);
	/* each pod of the first list was announced once: re-lists send only news */
	assert_int_equal(count_events(KUBE_POD_UPSERT, UID_A), 1);
	assert_int_equal(count_events(KUBE_POD_UPSERT, UID_B), 1);
}

static void test_dead_watch_times_out(void **state)
{
	start_client(fx.path[P_CA], 2);
	WAIT_UNTIL(stats().synced && stats().watches >= 1, 10000);
	/* bookmarks every 0.5 s keep a quiet watch alive past the idle limit */
	usleep(3000000);
	assert_int_equal(stats().errors, 0);
	ctl("hang 1\ndrop\n");
	WAIT_UNTIL(stats().errors >= 1, 20000);
	assert_non_null(strstr(stats().last_error, "watch pods"));
	add_pod(UID_D, "after-hang", NODE);
	WAIT_UNTIL(count_events(KUBE_POD_UPSERT, UID_D) == 1, 10000);
	assert_int_equal(stats().errors, 1);
}

static void test_wrong_ca_is_refused(void **state)
{
	uint64_t t0;

	start_client(fx.path[P_OTHER_CA], 0);
	WAIT_UNTIL(stats().errors >= 1, 10000);
	assert_int_equal(stats().synced, 0);
	assert_int_equal(fx.n_ev, 0);
	/* stopping during the backoff sleep is prompt too */
	t0 = mono_ms();
	kube_stop(fx.k);
	fx.k = NULL;
	assert_true(mono_ms() - t0 < 1500);
}

/* ------------------------------------------------------------------ */
/* Options                                                              */

static void test_new_checks_options(void **state)
{
	char err[256];
	struct kube *k = NULL;
	struct kube_opts o = { .api_url = "https://127.0.0.1:1", .token_file = "/dev/null",
			       .ca_file = "/dev/null", .node_name = "n" };
	struct kube_opts bad;
	char *saved_node = getenv("NODE_NAME") ? strdup(getenv("NODE_NAME")) : NULL;

	assert_int_equal(kube_new(&k, &o, err, sizeof(err)), 0);
	kube_stop(k); /* never started */
	kube_stop(NULL);

	bad = o;
	bad.api_url = "http://127.0.0.1:1";
	assert_int_equal(kube_new(&k, &bad, err, sizeof(err)), -EINVAL);
	assert_null(k);
	assert_non_null(strstr(err, "https"));

	bad = o;
	bad.node_name = NULL;
	unsetenv("NODE_NAME");
	assert_int_equal(kube_new(&k, &bad, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "NODE_NAME"));
	setenv("NODE_NAME", "from-env", 1);
	assert_int_equal(kube_new(&k, &bad, err, sizeof(err)), 0);
	kube_stop(k);

	bad = o;
	bad.ca_file = "/nonexistent/ca.crt";
	assert_int_equal(kube_new(&k, &bad, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/ca.crt"));
	bad = o;
	bad.token_file = "/nonexistent/token";
	assert_int_equal(kube_new(&k, &bad, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "token"));

	/* in-cluster defaults from the environment */
	bad = o;
	bad.api_url = NULL;
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_equal(kube_new(&k, &bad, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "KUBERNETES_SERVICE_HOST"));
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_new(&k, &bad, err, sizeof(err)), 0);
	kube_stop(k);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	if (saved_node)
		setenv("NODE_NAME", saved_node, 1);
	else
		unsetenv("NODE_NAME");
	free(saved_node);

	assert_int_equal(kube_new(NULL, &o, err, sizeof(err)), -EINVAL);
	assert_int_equal(kube_start(NULL), -EINVAL);
	assert_int_equal(kube_lookup(NULL, "x", NULL), -EINVAL);
	kube_drain(NULL, on_event, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_deployment_pod),
		cmocka_unit_test(test_owner_resolution),
		cmocka_unit_test(test_container_id_prefixes),
		cmocka_unit_test(test_container_id_edge_cases),
		cmocka_unit_test(test_ephemeral_and_cap),
		cmocka_unit_test(test_service_account_and_labels),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_new_checks_options),
		cmocka_unit_test_setup_teardown(test_list_then_watch_add_delete, setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(test_wrong_token_then_rotation, setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(test_server_errors_and_garbage_then_recovery, setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(test_gone_relists_and_outage, setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(test_dead_watch_times_out, setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(test_wrong_ca_is_refused, setup_server, teardown_server),
	};

	return cmocka_run_group_tests_name("kube", tests, NULL, teardown_group);
}
