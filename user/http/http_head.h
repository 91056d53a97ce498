/* A strict, bounded parser of HTTP/1.x request heads as monitored processes
 * write them (plaintext sockets, TLS plaintext from uprobes), and the
 * credential detector on top of it. Untrusted bytes, cut anywhere: every
 * length is bounded, anything malformed is rejected whole.
 *
 * Raw credentials never leave http_parse_request_head(): each one is turned
 * into a keyed fingerprint (http/fingerprint.h) and every local copy (decoded
 * Basic, percent-decoded query value, JWT segments) is wiped. The result
 * holds fingerprints, kinds, header names and JWT iss/aud claims only. */
#ifndef REACH_HTTP_HEAD_H
#define REACH_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "http/fingerprint.h"

#define HTTP_MAX_CREDS 8
#define HTTP_MAX_LINE 8192    /* request line or header line, terminator excluded */
#define HTTP_MAX_HEADERS 100

struct http_credential {
	/* "bearer", "jwt", "basic", "aws-sigv4", "scheme:<name>" (other
	 * Authorization schemes, lower case; "scheme:none" when the value is a
	 * bare token, "scheme:other" when the name is too long or looks like a
	 * secret itself), "api-key", "cookie", "proxy-authorization",
	 * "query:<param>" (lower case), "token:<shape>" with shape one of sk,
	 * ghp, gho, ghu, ghs, ghr, github_pat, xox, akia, asia, glpat;
	 * "path:secret" (a path segment http/path_template.h calls a secret
	 * that looks like a credential: a bot token, a webhook secret, a key);
	 * "token" (a header that holds a token by convention: X-Auth-Token,
	 * PRIVATE-TOKEN, X-Vault-Token, X-Amz-Security-Token, X-Api-Token, ...;
	 * a JWT there keeps kind "token" with its claims), "api-key" also for Ocp-Apim-Subscription-Key,
	 * X-Functions-Key, ...; "header-secret": any other header whose name
	 * says token/key/secret/auth/session (not csrf, websocket, idempotency,
	 * request or trace ids) with a one-word, credential-shaped value */
	char kind[32];
	/* header name (lower case), "query", "path" (a token shape in a path
	 * segment) or "url" (userinfo of an absolute-form request target) */
	char where[64];
	/* FP_HEX_LEN hex digits of HMAC(key, credential). The credential is the
	 * token for bearer/jwt/api-key/scheme/token:*, the decoded "user:password"
	 * for basic (the raw value if it is not valid base64), the access key id
	 * for aws-sigv4 and query:x-amz-credential, the whole value for cookie,
	 * the percent-decoded value for query:*. */
	char fingerprint[FP_HEX_LEN + 1];
	/* JWT claims (bearer JWT, also a JWT in Proxy-Authorization or in a
	 * query parameter): printable ASCII only (anything else becomes '?'),
	 * truncated to fit; aud arrays are joined with ",". Never the signature. */
	char jwt_iss[256], jwt_aud[256];
	/* basic: the user name, only when it does not itself look like a
	 * credential (token shapes, long or random-looking strings, a user with
	 * an empty password) and has only [A-Za-z0-9._@+-]; else "" */
	char user[64];
};

struct http_request_head {
	char method[16];
	/* the path without the query string and without matrix parameters
	 * (";jsessionid=..."). Segments that look like secrets are replaced even
	 * here: known token shapes by {token}, secrets (http/path_template.h:
	 * after keys/tokens/secrets/webhooks, bot tokens, Slack hook secrets,
	 * JWTs, random-looking tokens) by {secret}, long hex (24+) and
	 * base64-ish ids by {id}; numbers, UUIDs and short words are kept. ""
	 * for CONNECT, "*" for OPTIONS *. */
	char path[1024];
	/* numbers, UUIDs, hex ids (24+, or 12+ mixing digits and letters) and
	 * base64-ish ids replaced by {id}, token shapes by {token}, secrets by
	 * {secret}, matrix parameters dropped:
	 * /v1/projects/{id}/secrets */
	char path_template[1024];
	bool path_truncated;      /* path or path_template did not fit */
	/* Host header, lower case, port kept; without one the authority of an
	 * absolute-form or CONNECT target; "" when absent, cut off or not a
	 * plausible host ([a-z0-9.-_:[]%] only, at most 255 bytes) */
	char host[256];
	int http_minor;           /* 0 or 1 */
	/* "kube-secrets": GET /api/v1/namespaces/<ns>/secrets[/<name>],
	 *   /api/v1/secrets, and the /api/v1/watch/... forms;
	 * "cloud-metadata-credentials": /latest/meta-data/iam/security-credentials[/...],
	 *   /latest/meta-data/identity-credentials/ec2/security-credentials[/...],
	 *   /computeMetadata/v1/instance/service-accounts/<sa>/{token,identity},
	 *   /metadata/identity/oauth2/token (Azure), /v2/credentials/... on 169.254.170.2 (ECS);
	 * "token-request": any other path whose last segment is "token" or
	 *   "access_token" (/token, /oauth/token, .../serviceaccounts/<sa>/token);
	 * "" otherwise. */
	char special[48];
	struct http_credential creds[HTTP_MAX_CREDS];
	int n_creds;              /* distinct (kind, where, fingerprint) */
	int creds_dropped;        /* credentials beyond HTTP_MAX_CREDS */
	bool truncated;           /* the head did not end within the captured bytes */
	bool json_body;           /* Content-Type says JSON (application/json, ...+json): an LLM or MCP call's body */
};

/*
 * Parses buf[0..len) (the first bytes a process wrote: may be cut anywhere)
 * and fingerprints its credentials with key. *out is always reset first.
 *
 * Returns 0 when a complete request line and the headers present were
 * parsed; truncated = true when the blank line was not reached: header lines
 * complete before the cut are used, a line cut in the middle is ignored.
 *
 * -ENOMSG: buf does not start with a known method (GET HEAD POST PUT DELETE
 *   CONNECT OPTIONS TRACE PATCH) followed by a space, in any letter case:
 *   not HTTP/1.x at all (TLS records, other protocols, most binary data, a
 *   buffer cut before the first space).
 * -EBADMSG: looks like HTTP but is not valid HTTP/1.x: the HTTP/2 preface
 *   "PRI * ...", a method not in upper case, a request line cut off or not
 *   "METHOD SP target SP HTTP/1.0|1.1", control bytes (NUL, a CR not
 *   followed by LF, ...) anywhere in the head, a line over HTTP_MAX_LINE
 *   (even one cut off), more than HTTP_MAX_HEADERS headers, obs-fold, a
 *   header name that is not a token or has whitespace before the colon,
 *   two Host headers. *out is zeroed: nothing partial is returned.
 * -EINVAL: out or key is NULL.
 * Lines end with CRLF; a bare LF is accepted too (RFC 9112 2.2).
 */
int http_parse_request_head(const uint8_t *buf, size_t len, const struct fp_key *key,
			    struct http_request_head *out);

/* One field of an HTTP/2 request (http/h2.h hands them over). */
struct http_field_ref {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/*
 * An HTTP/2 request, decoded: its :method, :path and :authority and its
 * regular fields in order, read by the same credential detector as an
 * HTTP/1 head (the Host header is :authority, cookie crumbs are joined
 * with "; " first, RFC 9113 8.2.3), so the same request gives the same
 * credentials and fingerprints over either. *out is always reset first;
 * http_minor is 0 and truncated false.
 * -ENOMSG: a method not in upper case or not known (as for HTTP/1).
 * -EBADMSG: :path missing or not origin-form or "*" (CONNECT: no :path,
 *   :authority is the target), a field name not lower-case token
 *   characters, a value with NUL, CR, LF or another control byte, a value
 *   or path over HTTP_MAX_LINE, more than HTTP_MAX_HEADERS fields.
 * -EINVAL, -ENOMEM.
 */
int http_parse_request_fields(const char *method, size_t method_len, const char *path, size_t path_len,
			      const char *authority, size_t authority_len, const struct http_field_ref *fields,
			      size_t n_fields, const struct fp_key *key, struct http_request_head *out);

/* Whether the value s[0..n) has a credential's shape rather than a name's:
 * a known token shape (sk-, ghp_, AKIA, ...), or 24 characters or more, or
 * 16 with a digit and a letter, or 10 with a digit and both cases. The test
 * the detector applies to the value of an unknown credential-named header;
 * a KEY=VALUE file's values are judged by it too (http/dotenv.h), so a value
 * fingerprinted there is one the wire would fingerprint. */
bool http_value_looks_secret(const char *s, size_t n);

#endif
