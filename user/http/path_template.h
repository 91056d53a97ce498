/* Path templates that never carry secrets. A request path is split into
 * segments and each one is classified: kept as it is (a word: "v1",
 * "chat"), an id (a number, a UUID, a short hex id: kept in the path,
 * "{id}" in the template), a random id (long hex, base64-ish: "{id}" in
 * both, it may be a key itself) or a secret ("{secret}" in both: a value
 * that follows "keys", "tokens", "secrets", "webhooks", a Telegram
 * "bot<digits>:<token>", the secret of a Slack "/services/T../B../X.."
 * hook, a JWT, a high-entropy token). Matrix parameters (";jsessionid=..")
 * are cut off: only the text before the first ';' of a segment is
 * considered at all.
 *
 * The same classification serves the HTTP parser (http_head.c) and the
 * argv redactor (reach/redact.c, the path of a URL in a command line). */
#ifndef REACH_HTTP_PATH_TEMPLATE_H
#define REACH_HTTP_PATH_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

enum path_seg_class {
	PATH_SEG_KEEP,   /* a word: kept in path and template */
	PATH_SEG_ID,     /* number, UUID, short hex id: kept in path, {id} in template */
	PATH_SEG_RANDOM, /* long random id: {id} in path and template */
	PATH_SEG_SECRET, /* a secret: {secret} in path and template */
};

/* What the classifier remembers between the segments of one path. Zero it
 * before the first segment. */
struct path_tmpl_state {
	int secret_next;  /* the next segment(s) follow "keys", "tokens", ...: secrets */
	int slack;        /* 1 after "services", 2 after "services/T..", 3 after ".../B.." */
};

/* Classifies seg[0..len) (one segment, no '/'). *keep_len gets how many
 * bytes of it count at all: the part before the first ';' (matrix
 * parameters are dropped whole, they carry session ids). The class is that
 * of seg[0..*keep_len). */
enum path_seg_class path_segment_class(struct path_tmpl_state *st, const char *seg, size_t len, size_t *keep_len);

/* True when the segment, classified PATH_SEG_SECRET, is itself shaped like
 * a credential (random enough to be a key, a JWT, a bot token) rather than a
 * name that merely follows "secrets" ("db-password"): then it belongs in
 * the edge's credential set, fingerprinted. */
bool path_segment_is_credential(const char *seg, size_t len);

/* A token of 16 or more characters that looks random rather than like a
 * word, a path or a version: mixed-case letters and digits in short runs,
 * a long hex string, or high character entropy. s is one token (no
 * whitespace); separators ('/', '.', '-', '_', ':') split it into parts
 * judged each, and the whole is also judged as one base64 run. */
bool token_looks_random(const char *s, size_t n);

/* A query parameter name that carries a credential (token, key, code,
 * password, signature, session...): dropped from anything stored. */
bool query_param_is_secret(const char *name, size_t n);

#endif
