// fuzz-sources: user/reach/redact.c user/http/path_template.c user/http/http_head.c user/http/fingerprint.c user/common/log.c user/common/fileio.c -lcrypto
/* libFuzzer target for the argv redactor (reach/redact.c) and the path
 * templater (http/path_template.c, through the HTTP parser). Two checks:
 *  - arbitrary argv (the input split at NUL bytes): no crash, every output
 *    NUL terminated within its buffer, even with small buffers;
 *  - a planted secret put into each argv form and path form the redactor
 *    must handle, with the fuzz input as the surrounding text (kept apart
 *    from the secret by a delimiter): the secret never survives.
 * Run: tests/fuzz/run.sh [seconds]   (corpus: tests/fuzz/corpus/redact/) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http/http_head.h"
#include "reach/redact.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)
#define TOKEN "Qx7vR2mK9pL4wZ8nT3bY6cJd"
#define MAX_ARGS 16
#define OUT 2048

static struct fp_key key = { { 1, 2, 3, 4 } };
static char outbuf[MAX_ARGS][OUT];

static void run_argv(const char *const *argv, size_t argc, size_t size)
{
	char *outs[MAX_ARGS];

	for (size_t i = 0; i < argc; i++) {
		outs[i] = outbuf[i];
		memset(outbuf[i], 'Z', OUT);
	}
	redact_argv(&key, argv, argc, outs, size);
	for (size_t i = 0; size && i < argc; i++)
		CHECK(memchr(outbuf[i], '\0', size) != NULL);
}

/* argv forms: "%s" is the noise, "$" where the planted secret goes */
static const char *const forms[][5] = {
	{ "tool", "--password", "$", "%s" },
	{ "tool", "%s", "--token=$" },
	{ "sh", "-c", "%s $ %s" },
	{ "python3", "-c", "%s$" },
	{ "curl", "%s", "https://u:$@h/%s" },
	{ "curl", "-H", "Authorization: Bearer %s\"$" },
	{ "curl", "-H", "X-Api-Key: $ %s" },
	{ "mysql", "-p$", "%s" },
	{ "sshpass", "-p", "$", "%s" },
	{ "docker", "login", "-p", "$", "%s" },
	{ "tool", "%s $ %s" },
	{ "tool", "%s password=$ %s" },
	{ "tool", "{\"password\":\"$\"} %s" },
	{ "openssl", "%s", "-passin", "pass:$" },
};

static const char *const paths[] = {
	"/%s/bot12345:$/send", "/services/T0123ABCD/B0123ABCD/$", "/v1/keys/$/%s", "/%s;jsessionid=$",
	"/%s/$/%s", "/%s?code=$",
};

/* Replaces "%s" by noise and "$" by the secret. */
static void fill(char *dst, size_t size, const char *fmt, const char *noise)
{
	size_t pos = 0;

	for (; *fmt && pos + 1 < size; fmt++) {
		const char *ins = NULL;

		if (fmt[0] == '%' && fmt[1] == 's') {
			ins = noise;
			fmt++;
		} else if (*fmt == '$') {
			ins = TOKEN;
		}
		if (!ins) {
			dst[pos++] = *fmt;
			continue;
		}
		for (; *ins && pos + 1 < size; ins++)
			dst[pos++] = *ins;
	}
	dst[pos] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), noise[256], args[5][600], req[1024];
	const char *argv[MAX_ARGS];
	size_t argc = 0, off = 0, n;
	struct http_request_head h;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	/* 1. arbitrary argv, roomy and tiny buffers */
	while (off <= size && argc < MAX_ARGS) {
		argv[argc++] = copy + off;
		off += strlen(copy + off) + 1;
	}
	run_argv(argv, argc, OUT);
	run_argv(argv, argc, size % 40);

	/* 2. planted secret: noise is the input up to the first NUL, without
	 * the secret's own start (else the input could plant it glued) */
	n = strnlen(copy, sizeof(noise) - 1);
	memcpy(noise, copy, n);
	noise[n] = '\0';
	if (strstr(noise, "Qx7v") || n == 0)
		goto out;
	for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
		const char *fa[5];
		size_t c = 0;

		for (; c < 5 && forms[f][c]; c++) {
			fill(args[c], sizeof(args[c]), forms[f][c], noise);
			fa[c] = args[c];
		}
		run_argv(fa, c, OUT);
		for (size_t i = 0; i < c; i++)
			CHECK(strstr(outbuf[i], TOKEN) == NULL);
	}
	for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
		char path[700];

		fill(path, sizeof(path), paths[p], noise);
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", path);
		if (http_parse_request_head((const uint8_t *)req, strlen(req), &key, &h) == 0) {
			CHECK(strstr(h.path, TOKEN) == NULL);
			CHECK(strstr(h.path_template, TOKEN) == NULL);
		}
	}
out:
	free(copy);
	return 0;
}
