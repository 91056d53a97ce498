/* A Secret's value through the API (kube_secret.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include "common/dsse.h"
#include "identity/kube_secret.h"
#include "identity/kube_watch.h"

static bool name_ok(const char *s, size_t max, bool key)
{
	size_t n = strlen(s);

	if (!n || n > max)
		return false;
	for (const char *p = s; *p; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
			  (key && ((*p >= 'A' && *p <= 'Z') || *p == '_'));

		if (!ok)
			return false;
	}
	return true;
}

int kube_secret_spec(const char *spec, char ns[64], char name[254], char key[254], char *err, size_t err_size)
{
	const char *slash = strchr(spec, '/'), *colon;
	size_t nl;

	ns[0] = name[0] = key[0] = '\0';
	if (!slash || (nl = (size_t)(slash - spec)) == 0 || nl > 63) {
		snprintf(err, err_size, "--key-secret %s: give NAMESPACE/NAME[:KEY]", spec);
		return -EINVAL;
	}
	memcpy(ns, spec, nl);
	ns[nl] = '\0';
	colon = strchr(slash + 1, ':');
	snprintf(name, 254, "%.*s", colon ? (int)(colon - slash - 1) : 253, slash + 1);
	if (colon)
		snprintf(key, 254, "%s", colon + 1);
	if (!name_ok(ns, 63, false) || !name_ok(name, 253, false) || (colon && !name_ok(key, 253, true)) ||
	    (colon && strlen(colon + 1) > 253) || (!colon && strlen(slash + 1) > 253)) {
		snprintf(err, err_size,
			 "--key-secret %s: NAMESPACE/NAME[:KEY] with Kubernetes names (lower-case letters, digits, '-', "
			 "'.'; a key may also hold upper-case letters and '_')",
			 spec);
		return -EINVAL;
	}
	return 0;
}

int kube_secret_get(const struct kube_conn *c, const char *ns, const char *name, const char *key, uint8_t **value,
		    size_t *len, char *err, size_t err_size)
{
	char path[512], why[512];
	json_object *resp = NULL, *data, *v = NULL;
	long status = 0;
	int rc;

	*value = NULL;
	*len = 0;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", ns, name);
	rc = kube_conn_request(c, "GET", path, NULL, NULL, NULL, &status, &resp, why, sizeof(why));
	if (rc) {
		snprintf(err, err_size, "secret %s/%s: %s", ns, name, why);
		return rc;
	}
	if (status != 200 || !resp) {
		json_object_put(resp);
		snprintf(err, err_size, "secret %s/%s: %s (HTTP %ld)", ns, name,
			 status == 404   ? "not found"
			 : status == 403 ? "forbidden: the token may not get it (RBAC: get on secrets, that name)"
			 : status == 401 ? "the API refused the token"
			 : status == 200 ? "the answer is not JSON"
					 : "the API answered with an error",
			 status);
		return status == 404 ? -ENOENT : status == 401 || status == 403 ? -EACCES : -EIO;
	}
	if (!json_object_object_get_ex(resp, "data", &data) || !json_object_is_type(data, json_type_object) ||
	    !json_object_object_length(data)) {
		json_object_put(resp);
		snprintf(err, err_size, "secret %s/%s: holds no data", ns, name);
		return -ENOENT;
	}
	if (key[0]) {
		json_object_object_get_ex(data, key, &v);
	} else if (json_object_object_length(data) == 1) {
		json_object_object_foreach(data, k, val)
		{
			(void)k;
			v = val;
		}
	}
	if (!v || !json_object_is_type(v, json_type_string)) {
		/* the keys it has (names only: never a value) */
		size_t off = 0;
		char keys[256] = "";

		json_object_object_foreach(data, k, val)
		{
			(void)val;
			if (off < sizeof(keys))
				off += (size_t)snprintf(keys + off, sizeof(keys) - off, "%s%s", off ? ", " : "", k);
		}
		snprintf(err, err_size, "secret %s/%s: %s (its keys: %s): give NS/NAME:KEY", ns, name,
			 key[0] ? "no such key" : "more than one key", keys);
		json_object_put(resp);
		return -ENOENT;
	}
	rc = dsse_b64_decode(json_object_get_string(v), value, len);
	/* json-c's copy of the base64 text goes with resp (not wiped: the
	 * PEM decoded from it is, by the caller) */
	json_object_put(resp);
	if (rc) {
		snprintf(err, err_size, "secret %s/%s: key %s is not base64", ns, name, key[0] ? key : "(the only one)");
		return -EINVAL;
	}
	return 0;
}
