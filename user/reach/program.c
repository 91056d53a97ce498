#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "reach/program.h"

#define PROGRAM_HASH_MAX (16u << 20) /* bounded work on the event loop; scripts are far smaller */

/* I_LAUNCHER: npx, uvx, bunx run a package by name (fetched into a
 * cache): no program file of their own, the package is the program. */
enum interp { I_NONE, I_PYTHON, I_NODE, I_RUBY, I_PERL, I_JAVA, I_LAUNCHER };

static enum interp interpreter_of(const char *exe)
{
	const char *base = strrchr(exe, '/');

	base = base ? base + 1 : exe;
	if (!strncmp(base, "python", 6))
		return I_PYTHON;
	if (!strcmp(base, "node") || !strcmp(base, "nodejs"))
		return I_NODE;
	if (!strncmp(base, "ruby", 4))
		return I_RUBY;
	if (!strncmp(base, "perl", 4))
		return I_PERL;
	if (!strcmp(base, "java"))
		return I_JAVA;
	if (!strcmp(base, "npx") || !strcmp(base, "uvx") || !strcmp(base, "bunx"))
		return I_LAUNCHER;
	return I_NONE;
}

/* Options that take the next argument as their value. */
static bool takes_value(enum interp in, const char *opt)
{
	static const char *const py[] = { "-W", "-X", "--check-hash-based-pycs", NULL };
	static const char *const node[] = { "-r", "--require", "--import", "--loader", "--inspect-port", NULL };
	static const char *const ruby[] = { "-I", "-r", "-C", NULL };
	static const char *const perl[] = { "-I", "-M", "-m", NULL };
	static const char *const launcher[] = { "-p", "--package", "--from", "--with", "--python", "-c", "--call", NULL };
	const char *const *v = in == I_PYTHON ? py : in == I_NODE ? node : in == I_RUBY ? ruby : in == I_PERL ? perl
			     : in == I_LAUNCHER ? launcher : NULL;

	for (; v && *v; v++)
		if (!strcmp(opt, *v))
			return true;
	return false;
}

/* Options after which the program is inline or a module: no file. */
static bool inline_program(enum interp in, const char *opt)
{
	if (in == I_PYTHON)
		return !strncmp(opt, "-c", 2) || !strncmp(opt, "-m", 2);
	if (in == I_NODE)
		return !strcmp(opt, "-e") || !strcmp(opt, "--eval") || !strcmp(opt, "-p") || !strcmp(opt, "--print");
	if (in == I_RUBY || in == I_PERL)
		return !strncmp(opt, "-e", 2) || !strncmp(opt, "-E", 2);
	return false;
}

/* What an interpreter's argv names as its program. */
enum prog_kind { P_NONE, P_FILE, P_MODULE };

/* The program argument in args (argv, NUL-separated): a file, a module
 * (python -m NAME), or none (inline code, a main class, nothing). One walk
 * for the epoch (program_path) and the identity (program_name). */
static enum prog_kind find_program(enum interp in, const char *args, size_t len, const char **prog, size_t *prog_len)
{
	bool skip_value = false, jar_next = false, module_next = false;
	size_t off = strnlen(args, len) + 1; /* argv[0] */

	while (off < len) {
		const char *a = args + off;
		size_t n = strnlen(a, len - off);

		off += n + 1;
		if (module_next) {
			*prog = a;
			*prog_len = n;
			return n ? P_MODULE : P_NONE;
		}
		if (skip_value) {
			skip_value = false;
			continue;
		}
		if (in == I_JAVA) {
			if (jar_next)
				goto found;
			jar_next = !strcmp(a, "-jar");
			if (!jar_next && a[0] != '-')
				return P_NONE; /* a main class: no file to follow */
			continue;
		}
		if (!strcmp(a, "--"))
			continue;
		if (a[0] == '-' && a[1]) {
			if (in == I_PYTHON && !strncmp(a, "-m", 2)) {
				if (a[2]) { /* -mNAME */
					*prog = a + 2;
					*prog_len = n - 2;
					return P_MODULE;
				}
				module_next = true;
				continue;
			}
			if (inline_program(in, a))
				return P_NONE;
			skip_value = takes_value(in, a);
			continue;
		}
found:
		if (!*a)
			return P_NONE;
		*prog = a;
		*prog_len = n;
		return P_FILE;
	}
	return P_NONE;
}

int program_path(const char *exe, const char *args, size_t len, char *out, size_t out_size)
{
	enum interp in = exe ? interpreter_of(exe) : I_NONE;
	const char *prog;
	size_t n;

	if (in == I_NONE || in == I_LAUNCHER || !args || find_program(in, args, len, &prog, &n) != P_FILE)
		return -ENOENT;
	if (n >= out_size)
		return -ENAMETOOLONG;
	memcpy(out, prog, n);
	out[n] = '\0';
	return 0;
}

bool program_is_interpreter(const char *exe)
{
	return exe && interpreter_of(exe) != I_NONE;
}

/* Copies [s, s+n) to out as a name: bounded, no control characters or
 * spaces (a name is one token of a lineage entry). */
static int put_name(const char *s, size_t n, char *out, size_t out_size)
{
	size_t j = 0;

	if (!n || !out_size)
		return -ENOENT;
	for (size_t i = 0; i < n && j + 1 < out_size; i++)
		out[j++] = ((unsigned char)s[i] <= ' ' || s[i] == 0x7f) ? '_' : s[i];
	out[j] = '\0';
	return 0;
}

/* A package spec as npx/uvx/bunx take it: "@scope/name@1.2.3" -> "name",
 * "name==1.0" -> "name", "git+https://..." -> its last path component. */
static int package_name(const char *spec, size_t n, char *out, size_t out_size)
{
	const char *end = spec + n, *s = spec, *slash, *at;

	if (n && *s == '@') { /* scoped: the name after the scope */
		slash = memchr(s, '/', n);
		if (slash)
			s = slash + 1;
	}
	while ((slash = memchr(s, '/', (size_t)(end - s))) && slash + 1 < end)
		s = slash + 1;
	at = memchr(s, '@', (size_t)(end - s));
	if (at)
		end = at;
	for (const char *c = s; c < end; c++)
		if (*c == '=' || *c == '<' || *c == '>' || *c == '[' || *c == '~' || *c == '/') {
			end = c;
			break;
		}
	return put_name(s, (size_t)(end - s), out, out_size);
}

/* A program file's name: the package it belongs to when it lives in one
 * (".../node_modules/@scope/server-x/dist/index.js" -> "server-x",
 * ".../node_modules/.bin/mcp-x" -> "mcp-x", ".../site-packages/pkg/..." ->
 * "pkg"), else its base name ("agent.mjs"). */
static int file_name(const char *path, size_t n, char *out, size_t out_size)
{
	static const char *const roots[] = { "/node_modules/", "/site-packages/", "/dist-packages/", NULL };
	const char *end = path + n, *base = path, *best = NULL, *c;

	for (const char *const *r = roots; *r; r++) {
		size_t rl = strlen(*r);

		for (c = path; c + rl <= end; c++)
			if (!memcmp(c, *r, rl) && (!best || c + rl > best))
				best = c + rl;
	}
	if (best && best < end) {
		const char *comp = best, *stop;

		if (*comp == '@' || !strncmp(comp, ".bin/", 5)) { /* the scope's or .bin's next component */
			const char *slash = memchr(comp, '/', (size_t)(end - comp));

			if (slash && slash + 1 < end)
				comp = slash + 1;
		}
		stop = memchr(comp, '/', (size_t)(end - comp));
		if (stop) /* a file inside a package directory: the package */
			return put_name(comp, (size_t)(stop - comp), out, out_size);
		if (comp != best) /* .bin/NAME: the command's name */
			return put_name(comp, (size_t)(end - comp), out, out_size);
	}
	for (c = path; c < end; c++)
		if (*c == '/')
			base = c + 1;
	return put_name(base, (size_t)(end - base), out, out_size);
}

int program_name(const char *exe, const char *args, size_t len, char *out, size_t out_size)
{
	enum interp in = exe ? interpreter_of(exe) : I_NONE;
	enum prog_kind k;
	const char *prog;
	size_t n;

	if (in == I_NONE || !args || !len)
		return -ENOENT;
	if (in == I_LAUNCHER) /* npx PKG, uvx PKG, bunx PKG: the package it runs */
		k = find_program(I_LAUNCHER, args, len, &prog, &n);
	else
		k = find_program(in, args, len, &prog, &n);
	if (k == P_NONE)
		return -ENOENT;
	if (in == I_LAUNCHER)
		return package_name(prog, n, out, out_size);
	if (k == P_MODULE)
		return put_name(prog, n, out, out_size);
	if (in == I_NODE) {
		/* node running npx (npx-cli.js): the package npx was asked for */
		const char *base = prog, *c;
		size_t bn;

		for (c = prog; c < prog + n; c++)
			if (*c == '/')
				base = c + 1;
		bn = (size_t)(prog + n - base);
		if ((bn == 10 && !memcmp(base, "npx-cli.js", 10)) || (bn == 3 && !memcmp(base, "npx", 3))) {
			const char *pkg;
			size_t pn;

			/* the rest of argv as npx's own: the script is its argv[0] */
			if (find_program(I_LAUNCHER, prog, len - (size_t)(prog - args), &pkg, &pn) != P_NONE)
				return package_name(pkg, pn, out, out_size);
		}
	}
	return file_name(prog, n, out, out_size);
}

int program_hash(const char *path, char *hex, size_t hex_size)
{
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	size_t total = 0;
	EVP_MD_CTX *ctx;
	int fd, rc = 0;
	ssize_t n;

	if (hex_size < 13)
		return -EINVAL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0)
		return -errno;
	if (!(ctx = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		rc = -ENOMEM;
		goto out;
	}
	while (total < PROGRAM_HASH_MAX && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n)) {
			rc = -ENOMEM;
			goto out;
		}
		total += (size_t)n;
	}
	if (!EVP_DigestFinal_ex(ctx, md, &md_len) || md_len < 6) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < 6; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
out:
	EVP_MD_CTX_free(ctx);
	close(fd);
	return rc;
}
