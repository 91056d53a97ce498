#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "reach/program.h"

#define PROGRAM_HASH_MAX (16u << 20) /* bounded work on the event loop; scripts are far smaller */

enum interp { I_NONE, I_PYTHON, I_NODE, I_RUBY, I_PERL, I_JAVA };

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
	return I_NONE;
}

/* Options that take the next argument as their value. */
static bool takes_value(enum interp in, const char *opt)
{
	static const char *const py[] = { "-W", "-X", "--check-hash-based-pycs", NULL };
	static const char *const node[] = { "-r", "--require", "--import", "--loader", "--inspect-port", NULL };
	static const char *const ruby[] = { "-I", "-r", "-C", NULL };
	static const char *const perl[] = { "-I", "-M", "-m", NULL };
	const char *const *v = in == I_PYTHON ? py : in == I_NODE ? node : in == I_RUBY ? ruby : in == I_PERL ? perl : NULL;

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

int program_path(const char *exe, const char *args, size_t len, char *out, size_t out_size)
{
	enum interp in = exe ? interpreter_of(exe) : I_NONE;
	bool skip_value = false, jar_next = false;
	size_t off;

	if (in == I_NONE || !args)
		return -ENOENT;
	off = strnlen(args, len) + 1; /* argv[0] */
	while (off < len) {
		const char *a = args + off;
		size_t n = strnlen(a, len - off);

		off += n + 1;
		if (skip_value) {
			skip_value = false;
			continue;
		}
		if (in == I_JAVA) {
			if (jar_next)
				goto found;
			jar_next = !strcmp(a, "-jar");
			if (!jar_next && a[0] != '-')
				return -ENOENT; /* a main class: no file to follow */
			continue;
		}
		if (!strcmp(a, "--"))
			continue;
		if (a[0] == '-' && a[1]) {
			if (inline_program(in, a))
				return -ENOENT;
			skip_value = takes_value(in, a);
			continue;
		}
found:
		if (!*a || n >= out_size)
			return *a ? -ENAMETOOLONG : -ENOENT;
		memcpy(out, a, n + 1);
		return 0;
	}
	return -ENOENT;
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
