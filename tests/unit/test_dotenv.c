/* The KEY=VALUE credential parser (http/dotenv.h): which lines give a
 * fingerprint under which key, that malformed lines are counted and
 * skipped, and that a value's fingerprint is the one the HTTP credential
 * detector gives the same value sent as a bearer (what links them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/dotenv.h"
#include "http/http_head.h"

#define OPENAI "sk-proj-4fG7hJ2kL9mN3pQ8rS5tU1vW6xY0zA"
#define GHP "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

static const struct fp_key key = { { 7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
				     16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31 } };
static struct dotenv_result res;

static void parse(const char *s) { dotenv_fingerprints(&key, s, strlen(s), &res); }

static const char *fp_of(const char *value)
{
	static char fp[FP_HEX_LEN + 1];

	fp_compute(&key, value, strlen(value), fp);
	return fp;
}

/* The fingerprint kept under name, or NULL. */
static const char *fp_under(const char *name)
{
	for (size_t i = 0; i < res.n; i++)
		if (!strcmp(res.fps[i].key, name))
			return res.fps[i].fp;
	return NULL;
}

static void assert_fp(const char *name, const char *value)
{
	const char *got = fp_under(name);

	assert_non_null(got);
	assert_string_equal(got, fp_of(value));
}

static void test_plain_export_quotes(void **state)
{
	parse("OPENAI_API_KEY=" OPENAI "\n"
	      "export GITHUB_TOKEN=" GHP "\n"
	      "SINGLE='" OPENAI "x'\n"
	      "DOUBLE=\"" OPENAI "y\"\n"
	      "SPACED = " OPENAI "z   \n"
	      "ESCAPED=\"ab\\\"cdEFGH12345678\"\n");
	assert_int_equal(res.n, 6);
	assert_int_equal(res.malformed, 0);
	assert_fp("OPENAI_API_KEY", OPENAI);
	assert_fp("GITHUB_TOKEN", GHP);
	assert_fp("SINGLE", OPENAI "x");
	assert_fp("DOUBLE", OPENAI "y");
	assert_fp("SPACED", OPENAI "z");
	assert_fp("ESCAPED", "ab\"cdEFGH12345678");
	/* the key names come in file order */
	assert_string_equal(res.fps[0].key, "OPENAI_API_KEY");
	assert_string_equal(res.fps[1].key, "GITHUB_TOKEN");
}

static void test_comments_and_names(void **state)
{
	parse("# OPENAI_API_KEY=" OPENAI "\n"
	      "   # indented comment\n"
	      "\n"
	      "\t\n"
	      "A=" OPENAI " # the key\n"
	      "B=abc#" OPENAI "\n"      /* a '#' inside a word is the value's */
	      "C='" OPENAI "' # quoted, then a comment\n"
	      "DEBUG=true\n"            /* names, not credentials */
	      "PORT=8080\n"
	      "LOG_LEVEL=information\n"
	      "GREETING=\"hello there general kenobi\"\n");
	assert_int_equal(res.malformed, 0);
	assert_int_equal(res.n, 3);
	assert_fp("A", OPENAI);
	assert_fp("B", "abc#" OPENAI);
	assert_fp("C", OPENAI);
}

/* ~/.aws/credentials: INI sections are skipped, "key = value" read. */
static void test_ini_sections(void **state)
{
	parse("[default]\n"
	      "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
	      "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
	      "region = eu-west-1\n"
	      "[profile other]\n");
	assert_int_equal(res.malformed, 0);
	assert_int_equal(res.n, 2);
	assert_fp("aws_access_key_id", "AKIAIOSFODNN7EXAMPLE");
	assert_fp("aws_secret_access_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
}

static void test_crlf_and_last_line(void **state)
{
	parse("A=" OPENAI "\r\nB=" GHP);
	assert_int_equal(res.n, 2);
	assert_fp("A", OPENAI); /* the "\r" is not the value's */
	assert_fp("B", GHP);
}

static void test_malformed_counted(void **state)
{
	char *big = malloc(DOTENV_MAX_LINE + 64);
	size_t n;

	assert_non_null(big);
	parse("not a line\n"
	      "=" OPENAI "\n"                 /* no key */
	      "1KEY=" OPENAI "\n"             /* not a name */
	      "K=\"" OPENAI "\n"              /* unclosed quote (a multi-line value) */
	      "K2='" OPENAI "' trailing\n"    /* junk after the quote */
	      "GOOD=" OPENAI "\n");
	assert_int_equal(res.malformed, 5);
	assert_int_equal(res.n, 1);
	assert_fp("GOOD", OPENAI);

	/* a line longer than the bound: counted, the next line still read */
	strcpy(big, "HUGE=");
	n = strlen(big);
	memset(big + n, 'a', DOTENV_MAX_LINE);
	n += DOTENV_MAX_LINE;
	strcpy(big + n, "\nNEXT=" OPENAI "\n");
	parse(big);
	assert_int_equal(res.malformed, 1);
	assert_int_equal(res.n, 1);
	assert_fp("NEXT", OPENAI);
	free(big);
}

/* A quoted value over several lines (python-dotenv, dotenv for node): one
 * record to its closing quote, not malformed; the lines inside are the
 * value's (a KEY=VALUE among them is not a key); a value of several lines
 * is not one word (no fingerprint); the next record is read after it. */
static void test_multiline_values(void **state)
{
	parse("PEM=\"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\"\n"
	      "AFTER=" OPENAI "\n");
	assert_int_equal(res.malformed, 0);
	assert_int_equal(res.n, 1);
	assert_fp("AFTER", OPENAI);

	parse("NOTE=\"first\nINSIDE=" GHP "\nlast\"\nB=" OPENAI "\n");
	assert_int_equal(res.malformed, 0);
	assert_int_equal(res.n, 1);
	assert_null(fp_under("INSIDE"));
	assert_fp("B", OPENAI);

	/* single quotes, an escaped double quote inside, CRLF, a comment after */
	parse("S='a\nb'\r\nE=\"x\\\"\ny\" # note\r\nC=" GHP "\r\n");
	assert_int_equal(res.malformed, 0);
	assert_int_equal(res.n, 1);
	assert_fp("C", GHP);

	/* junk after the closing quote: the whole record is malformed, the
	 * next line still read */
	parse("J=\"a\nb\" junk\nK=" OPENAI "\n");
	assert_int_equal(res.malformed, 1);
	assert_int_equal(res.n, 1);
	assert_fp("K", OPENAI);

	/* never closed: the opening line is malformed, the rest read as lines */
	parse("U=\"open\nL=" OPENAI "\n");
	assert_int_equal(res.malformed, 1);
	assert_int_equal(res.n, 1);
	assert_fp("L", OPENAI);

	/* the lines a record spans count toward DOTENV_MAX_LINES */
	{
		char *s = malloc(DOTENV_MAX_LINES + 64), *p = s;

		assert_non_null(s);
		for (int i = 0; i < DOTENV_MAX_LINES - 10; i++)
			*p++ = '\n';
		p += sprintf(p, "M=\"");
		for (int i = 0; i < 9; i++) /* the record: 10 lines, the last of the bound */
			*p++ = '\n';
		p += sprintf(p, "\"\nLATE=%s\n", OPENAI);
		parse(s);
		assert_int_equal(res.malformed, 0);
		assert_int_equal(res.unread, 1);
		assert_int_equal(res.n, 0);
		free(s);
	}
}

static void test_binary(void **state)
{
	static const char bin[] = "\x7f" "ELF\x02\x01\x01\0\0\0A=" OPENAI "\nB=x\x01y" OPENAI "\nC=" GHP "\n";

	dotenv_fingerprints(&key, bin, sizeof(bin) - 1, &res);
	assert_int_equal(res.malformed, 2);
	assert_int_equal(res.n, 1);
	assert_fp("C", GHP);
}

static void test_bounds(void **state)
{
	size_t cap = (DOTENV_MAX_KEYS + 10) * 64 + (DOTENV_MAX_LINES + 10) * 2;
	char *s = malloc(cap), *p = s;

	assert_non_null(s);
	for (int i = 0; i < DOTENV_MAX_KEYS + 10; i++)
		p += sprintf(p, "K%d=%s%04d\n", i, OPENAI, i);
	parse(s);
	assert_int_equal(res.n, DOTENV_MAX_KEYS);
	assert_int_equal(res.dropped, 10);

	/* the same pair twice is one entry */
	parse("A=" OPENAI "\nA=" OPENAI "\nexport A=" OPENAI "\n");
	assert_int_equal(res.n, 1);

	p = s;
	for (int i = 0; i < DOTENV_MAX_LINES + 10; i++)
		p += sprintf(p, "\n");
	sprintf(p, "LATE=%s\n", OPENAI);
	parse(s);
	assert_int_equal(res.n, 0);
	assert_int_equal(res.unread, 11);
	free(s);
}

/* The link itself: the bearer the HTTP detector fingerprints from the wire
 * is the value the .env file held. */
static void test_same_fingerprint_as_bearer(void **state)
{
	static const char req[] = "POST /v1/chat/completions HTTP/1.1\r\nHost: api.example\r\n"
				  "Authorization: Bearer " OPENAI "\r\n\r\n";
	static struct http_request_head head;
	bool found = false;

	parse("OPENAI_API_KEY=\"" OPENAI "\"\nDB_URL=postgres://app:s3cretPassw0rd@db:5432/app\n");
	assert_int_equal(http_parse_request_head((const uint8_t *)req, sizeof(req) - 1, &key, &head), 0);
	for (int i = 0; i < head.n_creds; i++)
		if (!strcmp(head.creds[i].kind, "bearer")) {
			assert_string_equal(head.creds[i].fingerprint, fp_under("OPENAI_API_KEY"));
			found = true;
		}
	assert_true(found);
	assert_non_null(fp_under("DB_URL")); /* long: a credential's shape */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_export_quotes), cmocka_unit_test(test_comments_and_names),
		cmocka_unit_test(test_crlf_and_last_line),  cmocka_unit_test(test_ini_sections),  cmocka_unit_test(test_malformed_counted),
		cmocka_unit_test(test_multiline_values),
		cmocka_unit_test(test_binary),		    cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_same_fingerprint_as_bearer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
