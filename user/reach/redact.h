/* Redaction of command lines before they reach any output. A tool's argv
 * is stored by allow, not by deny: the executable, argv[0], flags ("-x",
 * "--name") and ordinary values (paths, host names, numbers, package names)
 * are kept; a value is replaced by "[redacted:fp:<16 hex>]" (the keyed
 * fingerprint of the value, so the same secret is recognisable across
 * edges and nodes without being readable) when it is
 *   - inline code: the program text of sh -c, python -c, node -e/--eval,
 *     perl -e, ruby -e, php -r, ... (stored as its fingerprint and length:
 *     "[redacted:fp:<hex> len=<n>]"), never the code;
 *   - the value after, or glued to, a flag that names a credential
 *     (--password X, --pass=X, --api-key X, -pX and -p X for mysql and
 *     sshpass, docker login -p X, openssl -passin pass:X, curl -u user:pw);
 *   - the userinfo of a URL (http://user:TOKEN@host, postgres://app:TOKEN@db,
 *     https://TOKEN@github.com: scheme, host and the path kept, secret path
 *     segments and credential query parameters redacted as in
 *     http/path_template.h);
 *   - the value of a key=value, key: value or JSON-ish "key": "value" pair
 *     whose key says pass/token/secret/key/auth/credential/cookie/session
 *     (headers, -e FOO_TOKEN=X, --data '{"password":"X"}', a dict in code);
 *   - a Bearer/Basic credential, a known token shape (ghp_, sk-, AKIA, ...)
 *     or any token of 16+ characters that looks random.
 * The rules are tables in redact.c, one comment per rule. */
#ifndef REACH_REDACT_H
#define REACH_REDACT_H

#include <stdbool.h>
#include <stddef.h>
#include "http/fingerprint.h"

/* What every redacted value starts with. */
#define REDACT_MARK "[redacted:fp:"

/* Redacts argv[0..argc) into out[0..argc), each out[i] out_size bytes and
 * always NUL terminated (truncated when small: truncation only ever cuts
 * kept text or a marker, never exposes a secret). key fingerprints the
 * redacted values. Returns how many entries differ from their input. */
int redact_argv(const struct fp_key *key, const char *const argv[], size_t argc, char *const out[],
		size_t out_size);

#endif
