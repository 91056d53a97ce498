/* The pattern is compiled into tokens and run as an NFA over the path: the
 * set of live token positions advances one path character at a time. This is
 * linear in the path, unlike naive recursive backtracking which goes
 * exponential on patterns such as "**a**a**a**b". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/glob.h"

enum glob_token_kind {
	TOKEN_LITERAL,   /* one exact character */
	TOKEN_ANY_CHAR,  /* '?' */
	TOKEN_CLASS,     /* '[...]' */
	TOKEN_STAR,      /* '*': stays within one path component */
	TOKEN_GLOBSTAR,  /* '**': crosses '/' */
};

struct glob_token {
	enum glob_token_kind kind;
	char literal;
	/* Globstar that is a whole component followed by '/': it may also
	 * swallow that '/' while matching nothing, i.e. match zero components. */
	bool may_match_zero_components;
	bool class_negated;
	const char *class_body;
	size_t class_len;
};

/* Patterns up to this length are matched without touching the heap; the
 * catalogue's patterns are all far shorter. */
#define GLOB_STACK_TOKENS 128

/* Per-token state flags. A globstar's zero-component shortcut may only be
 * taken on entry: once it has consumed characters it must end at a '/', or
 * "**" "/.env" would match "/app/x.env". */
typedef unsigned char glob_state;
#define STATE_ENTERED 1u
#define STATE_REPEATING 2u

struct glob_work {
	struct glob_token *tokens;
	glob_state *live;
	glob_state *next;
};

/* Reads one (possibly escaped) character of a class body. */
static unsigned char read_class_char(const char *body, size_t len, size_t *k)
{
	unsigned char c = (unsigned char)body[*k];

	if (c == '\\' && *k + 1 < len) {
		c = (unsigned char)body[*k + 1];
		*k += 2;
		return c;
	}
	*k += 1;
	return c;
}

static bool class_contains(const struct glob_token *t, unsigned char c)
{
	size_t k = 0;
	bool found = false;

	while (k < t->class_len && !found) {
		unsigned char lo = read_class_char(t->class_body, t->class_len, &k);
		unsigned char hi = lo;

		/* A '-' is a range only when something follows it; "[a-]" has a literal '-'. */
		if (k + 1 < t->class_len && t->class_body[k] == '-') {
			k++;
			hi = read_class_char(t->class_body, t->class_len, &k);
		}
		found = lo <= c && c <= hi;
	}
	return found != t->class_negated;
}

/* Parses "[...]" starting at pattern[i] == '['. Returns the index just past
 * the closing ']', or 0 when the class is unterminated (then '[' is literal). */
static size_t parse_class(const char *pattern, size_t i, struct glob_token *t)
{
	size_t j = i + 1;
	size_t body_start;

	t->class_negated = pattern[j] == '!' || pattern[j] == '^';
	if (t->class_negated)
		j++;
	body_start = j;
	if (pattern[j] == ']')
		j++;
	while (pattern[j] != '\0' && pattern[j] != ']') {
		if (pattern[j] == '\\' && pattern[j + 1] != '\0')
			j++;
		j++;
	}
	if (pattern[j] != ']')
		return 0;
	t->kind = TOKEN_CLASS;
	t->class_body = pattern + body_start;
	t->class_len = j - body_start;
	return j + 1;
}

static bool is_slash_literal(const struct glob_token *t)
{
	return t->kind == TOKEN_LITERAL && t->literal == '/';
}

/* Splits the pattern into tokens; returns how many. tokens must have room
 * for strlen(pattern) entries (every token consumes at least one char). */
static size_t tokenize(const char *pattern, struct glob_token *tokens)
{
	size_t n = 0;
	size_t i = 0;

	while (pattern[i] != '\0') {
		struct glob_token *t = &tokens[n];
		size_t after_class;

		memset(t, 0, sizeof(*t));
		if (pattern[i] == '*') {
			size_t stars = 0;

			while (pattern[i] == '*') {
				stars++;
				i++;
			}
			t->kind = stars > 1 ? TOKEN_GLOBSTAR : TOKEN_STAR;
		} else if (pattern[i] == '?') {
			t->kind = TOKEN_ANY_CHAR;
			i++;
		} else if (pattern[i] == '[' && (after_class = parse_class(pattern, i, t)) != 0) {
			i = after_class;
		} else if (pattern[i] == '\\' && pattern[i + 1] != '\0') {
			t->kind = TOKEN_LITERAL;
			t->literal = pattern[i + 1];
			i += 2;
		} else {
			t->kind = TOKEN_LITERAL;
			t->literal = pattern[i];
			i++;
		}
		n++;
	}

	/* Second pass: only now do we know what follows each globstar. */
	for (size_t k = 0; k + 1 < n; k++) {
		bool starts_component = k == 0 || is_slash_literal(&tokens[k - 1]);

		if (tokens[k].kind == TOKEN_GLOBSTAR && starts_component &&
		    is_slash_literal(&tokens[k + 1]))
			tokens[k].may_match_zero_components = true;
	}
	return n;
}

/* Adds every state reachable without consuming a character. Those edges only
 * point forward, so one ascending sweep reaches the fixed point. */
static void add_empty_matches(const struct glob_token *tokens, size_t n, glob_state *states)
{
	for (size_t k = 0; k < n; k++) {
		if (!states[k])
			continue;
		if (tokens[k].kind == TOKEN_STAR || tokens[k].kind == TOKEN_GLOBSTAR)
			states[k + 1] |= STATE_ENTERED;
		if (tokens[k].may_match_zero_components && (states[k] & STATE_ENTERED))
			states[k + 2] |= STATE_ENTERED;
	}
}

static bool token_accepts(const struct glob_token *t, unsigned char c)
{
	switch (t->kind) {
	case TOKEN_LITERAL:
		return (unsigned char)t->literal == c;
	case TOKEN_ANY_CHAR:
	case TOKEN_STAR:
		return c != '/';
	case TOKEN_CLASS:
		return c != '/' && class_contains(t, c);
	case TOKEN_GLOBSTAR:
		return true;
	}
	return false;
}

/* Advances all live states over c into next; returns whether any survived. */
static bool step(const struct glob_token *tokens, size_t n, const glob_state *live,
		 glob_state *next, unsigned char c)
{
	bool any = false;

	memset(next, 0, (n + 1) * sizeof(*next));
	for (size_t k = 0; k < n; k++) {
		if (!live[k] || !token_accepts(&tokens[k], c))
			continue;
		/* Stars repeat: they stay on their own token after consuming. */
		if (tokens[k].kind == TOKEN_STAR || tokens[k].kind == TOKEN_GLOBSTAR)
			next[k] |= STATE_REPEATING;
		else
			next[k + 1] |= STATE_ENTERED;
		any = true;
	}
	add_empty_matches(tokens, n, next);
	return any;
}

static bool run_nfa(const struct glob_token *tokens, size_t n, glob_state *live,
		    glob_state *next, const char *path)
{
	memset(live, 0, (n + 1) * sizeof(*live));
	live[0] = STATE_ENTERED;
	add_empty_matches(tokens, n, live);

	for (const char *p = path; *p != '\0'; p++) {
		glob_state *swap;

		if (!step(tokens, n, live, next, (unsigned char)*p))
			return false;
		swap = live;
		live = next;
		next = swap;
	}
	return live[n] != 0;
}

/* Long patterns get their working memory from the heap; *heap is what the
 * caller must free (NULL when the stack buffers suffice). False if out of
 * memory. */
static bool reserve_heap_work(size_t pattern_len, struct glob_work *work, void **heap)
{
	size_t tokens_size = pattern_len * sizeof(struct glob_token);
	size_t states_size = (pattern_len + 1) * sizeof(glob_state);
	void *block;

	*heap = NULL;
	if (pattern_len <= GLOB_STACK_TOKENS)
		return true;
	block = malloc(tokens_size + 2 * states_size);
	if (!block)
		return false;
	/* Tokens first keeps them at malloc's alignment; states are bytes. */
	work->tokens = block;
	work->live = (glob_state *)block + tokens_size;
	work->next = work->live + states_size;
	*heap = block;
	return true;
}

bool glob_match(const char *pattern, const char *path)
{
	struct glob_token stack_tokens[GLOB_STACK_TOKENS];
	glob_state stack_live[GLOB_STACK_TOKENS + 1];
	glob_state stack_next[GLOB_STACK_TOKENS + 1];
	struct glob_work work = { stack_tokens, stack_live, stack_next };
	void *heap;
	bool matched;
	size_t n;

	if (!pattern || !path)
		return false;
	if (!reserve_heap_work(strlen(pattern), &work, &heap))
		return false;
	n = tokenize(pattern, work.tokens);
	matched = run_nfa(work.tokens, n, work.live, work.next, path);
	free(heap);
	return matched;
}

int glob_check(const char *pattern, size_t *offset, char *why, size_t why_size)
{
	for (size_t i = 0; pattern && pattern[i]; i++) {
		if (pattern[i] == '\\') {
			if (pattern[i + 1])
				i++;
			continue;
		}
		if (pattern[i] == '*' && pattern[i + 1] == '*' && pattern[i + 2] == '*') {
			*offset = i;
			snprintf(why, why_size, "'***' is no pattern: '*' matches within a path component, '**' across them");
			return -EINVAL;
		}
		if (pattern[i] == '*') {
			while (pattern[i + 1] == '*')
				i++;
			continue;
		}
		if (pattern[i] == '[') {
			struct glob_token t;
			size_t end = parse_class(pattern, i, &t), j;

			if (!end) {
				*offset = i;
				snprintf(why, why_size, "unterminated character class '[' (write '\\[' for a literal '[')");
				return -EINVAL;
			}
			j = i + 1 + (pattern[i + 1] == '!' || pattern[i + 1] == '^');
			if (pattern[j] == ']')
				j++;
			for (; j < end - 1; j++) {
				unsigned char lo = (unsigned char)pattern[j], hi;

				if (lo == '\\' && j + 1 < end - 1) {
					j++;
					continue;
				}
				if (pattern[j + 1] != '-' || j + 2 >= end - 1)
					continue;
				hi = (unsigned char)pattern[j + 2];
				if (hi < lo) {
					*offset = j;
					snprintf(why, why_size, "range '%c-%c' is empty: its end is before its start", lo, hi);
					return -EINVAL;
				}
				j += 2;
			}
			i = end - 1;
		}
	}
	return 0;
}
