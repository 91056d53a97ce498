/* One value of a Kubernetes Secret, read through the API (GET
 * /api/v1/namespaces/NS/secrets/NAME) with the agent's API client
 * (kube_watch.h: token re-read from its file, CA, redacted errors): how a
 * release gate takes its signing key without mounting the Secret. The value
 * is never logged nor put in an error; the caller wipes it after use. */
#ifndef REACH_KUBE_SECRET_H
#define REACH_KUBE_SECRET_H

#include <stddef.h>
#include <stdint.h>

struct kube_conn;

/* "NS/NAME[:KEY]" into its parts (KEY "" when not given): 0, or -EINVAL
 * with err saying what is wrong (names as Kubernetes allows: DNS labels /
 * subdomains, a data key of [-._a-zA-Z0-9]). */
int kube_secret_spec(const char *spec, char ns[64], char name[254], char key[254], char *err, size_t err_size);

/* The value of data[key] of Secret ns/name (key "": the Secret's only data
 * entry), base64-decoded: 0 with *value (malloc'ed, NUL-terminated, to
 * wipe and free) and *len; otherwise -errno with err naming the Secret and
 * why (not found, forbidden, no such key: the keys it has, never their
 * values). Blocking (a command-line tool's call, never an event loop's). */
int kube_secret_get(const struct kube_conn *c, const char *ns, const char *name, const char *key, uint8_t **value,
		    size_t *len, char *err, size_t err_size);

#endif
