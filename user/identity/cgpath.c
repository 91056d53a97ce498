#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "identity/cgpath.h"

#define CGPATH_MAX_COMPONENTS 128 /* far deeper than any real hierarchy */
#define CONTAINER_ID_LEN 64
#define POD_UID_LEN 36

struct comp {
	const char *s;
	size_t n;
};

/* Container cgroup names: the systemd driver wraps the id in a scope unit
 * named by the runtime; cgroupfs uses the bare id (containerd, docker) or
 * CRI-O's prefixed one. Longer prefixes first: "crio-conmon-" before "crio-". */
struct scope_form {
	const char *prefix;
	const char *runtime;
	enum cgpath_kind kind;
};

static const struct scope_form systemd_scopes[] = {
	{ "cri-containerd-", "containerd", CGPATH_K8S_CONTAINER },
	{ "crio-conmon-", "cri-o", CGPATH_K8S_CONMON },
	{ "crio-", "cri-o", CGPATH_K8S_CONTAINER },
	{ "docker-", "docker", CGPATH_K8S_CONTAINER },
};

static const struct scope_form cgroupfs_dirs[] = {
	{ "crio-conmon-", "cri-o", CGPATH_K8S_CONMON },
	{ "crio-", "cri-o", CGPATH_K8S_CONTAINER },
	{ "", "", CGPATH_K8S_CONTAINER },
};

static const char *const qos_classes[] = { "burstable", "besteffort" };

static bool comp_eq(struct comp c, const char *s)
{
	return c.n == strlen(s) && memcmp(c.s, s, c.n) == 0;
}

static bool has_prefix(struct comp c, const char *p, size_t pn)
{
	return c.n >= pn && memcmp(c.s, p, pn) == 0;
}

static bool has_suffix(struct comp c, const char *s)
{
	size_t sn = strlen(s);

	return c.n >= sn && memcmp(c.s + c.n - sn, s, sn) == 0;
}

static bool is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A pod UID as the driver writes it: 8-4-4-4-12 hex groups joined by sep
 * ('_' for systemd, '-' for cgroupfs). Written to out with '-'. */
static bool parse_uid(const char *s, size_t n, char sep, char out[POD_UID_LEN + 1])
{
	if (n != POD_UID_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != sep : !is_hex(s[i]))
			return false;
		out[i] = dash ? '-' : s[i];
	}
	out[n] = '\0';
	return true;
}

/* prefix + 64 lowercase hex + suffix, for one of the forms. */
static bool parse_container(struct comp c, const struct scope_form *forms, size_t n_forms,
			    const char *suffix, struct cgpath_info *out)
{
	size_t sn = strlen(suffix);

	for (size_t i = 0; i < n_forms; i++) {
		size_t pn = strlen(forms[i].prefix);

		if (!has_prefix(c, forms[i].prefix, pn) || !has_suffix(c, suffix))
			continue;
		/* the first matching prefix decides: "crio-conmon-<id>" is never a
		 * malformed "crio-" id */
		if (c.n != pn + CONTAINER_ID_LEN + sn || !is_lower_hex(c.s + pn, CONTAINER_ID_LEN))
			return false;
		memcpy(out->container_id, c.s + pn, CONTAINER_ID_LEN);
		out->container_id[CONTAINER_ID_LEN] = '\0';
		strcpy(out->runtime, forms[i].runtime);
		out->kind = forms[i].kind;
		return true;
	}
	return false;
}

/*
 * systemd driver, from the kubepods root slice at c[0]:
 *   P.slice / [P-<qos>.slice /] P[-<qos>]-pod<uid_>.slice [/ <runtime>-<id>.scope [/ ...]]
 * where P is "kubepods" or "<prefix>-kubepods" (kind: "kubelet-kubepods").
 */
static bool parse_systemd_kubepods(const struct comp *c, size_t n, struct cgpath_info *out)
{
	char qp[512];
	size_t pl, ql, i = 1;
	const char *qos = "guaranteed";

	if (!(comp_eq(c[0], "kubepods.slice") || has_suffix(c[0], "-kubepods.slice")))
		return false;
	pl = c[0].n - strlen(".slice");
	if (pl + 64 > sizeof(qp) || n < 2)
		return false;
	memcpy(qp, c[0].s, pl);
	ql = pl;
	for (size_t q = 0; q < sizeof(qos_classes) / sizeof(qos_classes[0]); q++) {
		size_t qn = strlen(qos_classes[q]);

		if (c[1].n == pl + 1 + qn + strlen(".slice") && memcmp(c[1].s, qp, pl) == 0 &&
		    c[1].s[pl] == '-' && memcmp(c[1].s + pl + 1, qos_classes[q], qn) == 0 &&
		    has_suffix(c[1], ".slice")) {
			qos = qos_classes[q];
			qp[ql++] = '-';
			memcpy(qp + ql, qos, qn);
			ql += qn;
			i = 2;
			break;
		}
	}
	memcpy(qp + ql, "-pod", 4);
	ql += 4;
	/* pod slice: <qp><uid_>.slice */
	if (i >= n || c[i].n != ql + POD_UID_LEN + strlen(".slice") || memcmp(c[i].s, qp, ql) != 0 ||
	    !has_suffix(c[i], ".slice") || !parse_uid(c[i].s + ql, POD_UID_LEN, '_', out->pod_uid))
		return false;
	strcpy(out->qos, qos);
	if (++i == n) {
		out->kind = CGPATH_K8S_POD;
		return true;
	}
	return parse_container(c[i], systemd_scopes, sizeof(systemd_scopes) / sizeof(systemd_scopes[0]),
			       ".scope", out);
}

/* cgroupfs driver: kubepods / [<qos> /] pod<uid> [/ <id> [/ ...]] */
static bool parse_cgroupfs_kubepods(const struct comp *c, size_t n, struct cgpath_info *out)
{
	const char *qos = "guaranteed";
	size_t i = 1;

	if (!comp_eq(c[0], "kubepods") || n < 2)
		return false;
	for (size_t q = 0; q < sizeof(qos_classes) / sizeof(qos_classes[0]); q++) {
		if (comp_eq(c[1], qos_classes[q])) {
			qos = qos_classes[q];
			i = 2;
			break;
		}
	}
	if (i >= n || c[i].n != 3 + POD_UID_LEN || !has_prefix(c[i], "pod", 3) ||
	    !parse_uid(c[i].s + 3, POD_UID_LEN, '-', out->pod_uid))
		return false;
	strcpy(out->qos, qos);
	if (++i == n) {
		out->kind = CGPATH_K8S_POD;
		return true;
	}
	return parse_container(c[i], cgroupfs_dirs, sizeof(cgroupfs_dirs) / sizeof(cgroupfs_dirs[0]), "", out);
}

/* The unit name without ".service"/".scope" when c is a unit; else false. */
static bool unit_stem(struct comp c, char *out, size_t out_size)
{
	static const char *const suffixes[] = { ".service", ".scope" };

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t sn = strlen(suffixes[i]);

		if (c.n > sn && c.n - sn < out_size && has_suffix(c, suffixes[i])) {
			memcpy(out, c.s, c.n - sn);
			out[c.n - sn] = '\0';
			return true;
		}
	}
	return false;
}

/* system.slice [/ <name>.slice ...] / <unit>.service|.scope [/ ...] */
static bool parse_system_unit(const struct comp *c, size_t n, struct cgpath_info *out)
{
	size_t i = 1;

	if (n < 2 || !comp_eq(c[0], "system.slice"))
		return false;
	while (i < n && has_suffix(c[i], ".slice"))
		i++;
	if (i == n || !unit_stem(c[i], out->unit, sizeof(out->unit)))
		return false;
	out->kind = CGPATH_SYSTEMD_UNIT;
	return true;
}

/* user.slice / user-<uid>.slice [/ <unit>.service|.scope [/ ...]] */
static bool parse_user_session(const struct comp *c, size_t n, struct cgpath_info *out)
{
	uint64_t uid = 0;
	size_t digits;

	if (n < 2 || !comp_eq(c[0], "user.slice") || !has_prefix(c[1], "user-", 5) || !has_suffix(c[1], ".slice"))
		return false;
	digits = c[1].n - 5 - strlen(".slice");
	if (digits == 0 || digits > 10)
		return false;
	for (size_t i = 0; i < digits; i++) {
		char d = c[1].s[5 + i];

		if (d < '0' || d > '9')
			return false;
		uid = uid * 10 + (uint64_t)(d - '0');
	}
	if (uid > UINT32_MAX)
		return false;
	if (n > 2 && !unit_stem(c[2], out->unit, sizeof(out->unit)))
		out->unit[0] = '\0';
	out->uid = (uint32_t)uid;
	out->kind = CGPATH_USER_SESSION;
	return true;
}

int cgpath_parse(const char *path, struct cgpath_info *out)
{
	struct comp c[CGPATH_MAX_COMPONENTS];
	size_t n = 0;
	const char *p;

	if (!path || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	for (p = path; *p;) {
		const char *e;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchrnul(p, '/');
		if (n == CGPATH_MAX_COMPONENTS)
			return 0;
		c[n++] = (struct comp){ p, (size_t)(e - p) };
		p = e;
	}
	/* The innermost kubepods root wins: a kind node runs its pods below
	 * the outer runtime's container cgroup. */
	for (size_t a = n; a-- > 0;) {
		struct cgpath_info tmp;

		memset(&tmp, 0, sizeof(tmp));
		if (parse_systemd_kubepods(c + a, n - a, &tmp) || parse_cgroupfs_kubepods(c + a, n - a, &tmp)) {
			*out = tmp;
			return 0;
		}
	}
	if (!parse_system_unit(c, n, out) && !parse_user_session(c, n, out))
		memset(out, 0, sizeof(*out));
	return 0;
}

const char *cgpath_kind_name(enum cgpath_kind kind)
{
	switch (kind) {
	case CGPATH_K8S_CONTAINER: return "k8s-container";
	case CGPATH_K8S_CONMON: return "k8s-conmon";
	case CGPATH_K8S_POD: return "k8s-pod";
	case CGPATH_SYSTEMD_UNIT: return "systemd-unit";
	case CGPATH_USER_SESSION: return "user-session";
	case CGPATH_UNKNOWN: break;
	}
	return "unknown";
}
