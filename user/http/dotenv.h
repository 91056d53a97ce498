/* The credentials of a KEY=VALUE file (.env, .env.production, ...), each
 * reduced at once to the keyed fingerprint the wire's credential detector
 * gives the same value (http/fingerprint.h), so a key loaded from a .env
 * file and sent as a bearer is linked to the file (finding secret-sent).
 *
 * Untrusted bytes (the file is the workload's): lines and values are
 * bounded, and a line that is not KEY=VALUE, a comment or blank (binary,
 * too long, a key that is not a name, a quote never closed) is counted and
 * skipped. Values never leave dotenv_fingerprints(): the result holds key
 * names and fingerprints only, and every copy of a value is wiped. */
#ifndef REACH_HTTP_DOTENV_H
#define REACH_HTTP_DOTENV_H

#include <stddef.h>
#include <stdint.h>
#include "http/fingerprint.h"

#define DOTENV_MAX_KEYS 64    /* fingerprints kept per file; the rest counted */
#define DOTENV_MAX_LINES 4096 /* lines read per file; the rest counted */
#define DOTENV_MAX_LINE 4096  /* bytes per line, terminator excluded */
#define DOTENV_KEY_MAX 64     /* a longer name is not a key: malformed */

struct dotenv_fp {
	char key[DOTENV_KEY_MAX + 1]; /* the variable's name: never its value */
	char fp[FP_HEX_LEN + 1];
};

struct dotenv_result {
	struct dotenv_fp fps[DOTENV_MAX_KEYS]; /* in file order, (key, fp) pairs distinct */
	size_t n;
	uint64_t dropped;   /* credential-shaped values past DOTENV_MAX_KEYS */
	uint64_t malformed; /* lines skipped as not KEY=VALUE, comment or blank */
	uint64_t unread;    /* lines past DOTENV_MAX_LINES */
};

/* Parses buf[0..len) as a dotenv file: lines split on "\n" (a "\r" before
 * it dropped), "# comment" lines, blank lines and "[section]" lines (an
 * INI file such as ~/.aws/credentials) skipped, then
 * [export ]KEY[ ]=[ ]VALUE with KEY a name ([A-Za-z_][A-Za-z0-9_.-]*) and
 * VALUE either 'single quoted' (literal), "double quoted" (\" \\ \n \r \t
 * unescaped) or bare (up to a " #" comment, trailing blanks trimmed); after
 * a closing quote only blanks or a comment. A quoted value may run over
 * several lines (KEY="line1<newline>line2", as python-dotenv and dotenv for
 * node read it): one record to its closing quote (the record, like a line,
 * at most DOTENV_MAX_LINE bytes; each line it spans counts toward
 * DOTENV_MAX_LINES); never closed, its first line is malformed and the
 * next are read as lines. Each value of one word, 8 bytes
 * or more, that has a credential's shape (http_value_looks_secret()) gets
 * fp_compute(k, value) under its key. */
void dotenv_fingerprints(const struct fp_key *k, const char *buf, size_t len, struct dotenv_result *out);

#endif
