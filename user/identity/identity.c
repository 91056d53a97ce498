#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "identity/cgpath.h"
#include "identity/identity.h"
#include "identity/kube.h"
#include "common/glob.h"

struct identity_resolver {
	struct kube *kube;
	struct identity_rule rules[IDENTITY_MAX_RULES];
	size_t n_rules;
};

struct identity_resolver *identity_resolver_new(struct kube *kube)
{
	struct identity_resolver *r = calloc(1, sizeof(*r));

	if (r)
		r->kube = kube;
	return r;
}

void identity_resolver_free(struct identity_resolver *r)
{
	free(r);
}

int identity_add_rule(struct identity_resolver *r, const char *rule)
{
	struct identity_rule *ir;
	const char *sp = strpbrk(rule, " \t");
	const char *name;
	size_t key_len;

	if (!sp)
		return -EINVAL;
	name = sp + strspn(sp, " \t");
	key_len = sp - rule;
	if (!*name || strlen(name) >= sizeof(ir->identity))
		return -EINVAL;
	for (const char *c = name; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f) /* blanks, newlines, control bytes */
			return -EINVAL;
	if (r->n_rules == IDENTITY_MAX_RULES)
		return -ENOSPC;
	ir = &r->rules[r->n_rules];
	memset(ir, 0, sizeof(*ir));
	if (key_len > 4 && strncmp(rule, "uid:", 4) == 0) {
		char num[16], *end;
		unsigned long v;

		if (key_len - 4 >= sizeof(num))
			return -EINVAL;
		memcpy(num, rule + 4, key_len - 4);
		num[key_len - 4] = '\0';
		if (num[0] < '0' || num[0] > '9')
			return -EINVAL;
		errno = 0;
		v = strtoul(num, &end, 10);
		if (errno || *end || v > UINT32_MAX)
			return -EINVAL;
		ir->by_uid = true;
		ir->uid = (uint32_t)v;
	} else if (key_len > 7 && strncmp(rule, "cgroup:", 7) == 0 && rule[7] == '/' &&
		   key_len - 7 < sizeof(ir->cgroup_glob)) {
		memcpy(ir->cgroup_glob, rule + 7, key_len - 7);
		ir->cgroup_glob[key_len - 7] = '\0';
	} else {
		return -EINVAL;
	}
	snprintf(ir->identity, sizeof(ir->identity), "%s", name);
	r->n_rules++;
	return 0;
}

static const struct identity_rule *match_rule(const struct identity_resolver *r, const char *path, uint32_t uid)
{
	for (size_t i = 0; i < r->n_rules; i++) {
		const struct identity_rule *ir = &r->rules[i];

		if (ir->by_uid ? ir->uid == uid : glob_match(ir->cgroup_glob, path))
			return ir;
	}
	return NULL;
}

static void resolve_pod(struct identity_resolver *r, const struct cgpath_info *cg, struct identity *out)
{
	struct kube_pod pod;

	if (!r->kube || kube_lookup(r->kube, cg->pod_uid, &pod) != 0) {
		/* pod not known (yet): hold the edges, show them as unknown */
		out->state = IDENTITY_PENDING;
		snprintf(out->name, sizeof(out->name), "unknown%s", out->cgroup_path);
		return;
	}
	snprintf(out->name, sizeof(out->name), "%s/%s", pod.ns, pod.service_account[0] ? pod.service_account : "default");
	snprintf(out->pod, sizeof(out->pod), "%s/%s", pod.ns, pod.name);
	for (int i = 0; i < pod.n_containers; i++) {
		const struct kube_container *c = &pod.containers[i];

		if (cg->container_id[0] && strcmp(c->container_id, cg->container_id) == 0) {
			snprintf(out->container, sizeof(out->container), "%s", c->name);
			snprintf(out->image, sizeof(out->image), "%s", c->image);
			snprintf(out->image_id, sizeof(out->image_id), "%s", c->image_id);
			break;
		}
	}
	out->state = IDENTITY_RESOLVED;
}

int identity_resolve(struct identity_resolver *r, uint64_t cgroup_id, const char *cgroup_path, uint32_t uid,
		     struct identity *out)
{
	const struct identity_rule *rule;
	struct cgpath_info cg;

	(void)cgroup_id;
	memset(out, 0, sizeof(*out));
	snprintf(out->cgroup_path, sizeof(out->cgroup_path), "%s", cgroup_path);
	out->state = IDENTITY_RESOLVED;

	/* configured rules first: the operator knows best */
	rule = match_rule(r, cgroup_path, uid);
	if (rule) {
		snprintf(out->name, sizeof(out->name), "%s", rule->identity);
		return 0;
	}
	if (cgpath_parse(cgroup_path, &cg) == 0) {
		switch (cg.kind) {
		case CGPATH_K8S_CONTAINER:
		case CGPATH_K8S_POD:
			resolve_pod(r, &cg, out);
			return 0;
		case CGPATH_K8S_CONMON:
			snprintf(out->name, sizeof(out->name), "host/conmon");
			return 0;
		case CGPATH_SYSTEMD_UNIT:
			snprintf(out->name, sizeof(out->name), "host/%s", cg.unit);
			return 0;
		case CGPATH_USER_SESSION:
			snprintf(out->name, sizeof(out->name), "host/uid-%" PRIu32, cg.uid);
			return 0;
		case CGPATH_UNKNOWN:
			break;
		}
	}
	snprintf(out->name, sizeof(out->name), "unknown%s", cgroup_path);
	return 0;
}

bool identity_split_k8s(const char *identity, char *ns, size_t ns_size, char *sa, size_t sa_size)
{
	const char *slash = identity ? strchr(identity, '/') : NULL;

	snprintf(ns, ns_size, "%s", "");
	snprintf(sa, sa_size, "%s", "");
	/* Kubernetes names hold no "/": a second one is a cgroup path */
	if (!slash || slash == identity || !slash[1] || strchr(slash + 1, '/') || !strncmp(identity, "host/", 5) ||
	    !strncmp(identity, "unknown/", 8))
		return false;
	snprintf(ns, ns_size, "%.*s", (int)(slash - identity), identity);
	snprintf(sa, sa_size, "%s", slash + 1);
	return true;
}

