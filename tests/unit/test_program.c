#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "reach/program.h"

/* argv as the exec event carries it: NUL-separated. */
static int path_of(const char *exe, const char *const *argv, char *out, size_t size)
{
	char buf[512];
	size_t len = 0;

	for (; *argv; argv++) {
		size_t n = strlen(*argv) + 1;

		memcpy(buf + len, *argv, n);
		len += n;
	}
	return program_path(exe, buf, len, out, size);
}

static int name_of(const char *exe, const char *const *argv, char *out, size_t size)
{
	char buf[512];
	size_t len = 0;

	for (; *argv; argv++) {
		size_t n = strlen(*argv) + 1;

		memcpy(buf + len, *argv, n);
		len += n;
	}
	return program_name(exe, buf, len, out, size);
}

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_program_path(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(path_of("/usr/bin/python3.11", ARGV("python3", "/srv/app/main.py", "--port", "80"), out, sizeof(out)), 0);
	assert_string_equal(out, "/srv/app/main.py");
	assert_int_equal(path_of("/usr/bin/python3", ARGV("python3", "-u", "-W", "ignore", "app.py"), out, sizeof(out)), 0);
	assert_string_equal(out, "app.py");
	assert_int_equal(path_of("/usr/bin/node", ARGV("node", "--require", "x.js", "server.js"), out, sizeof(out)), 0);
	assert_string_equal(out, "server.js");
	assert_int_equal(path_of("/usr/bin/java", ARGV("java", "-Xmx1g", "-jar", "/opt/app.jar", "serve"), out, sizeof(out)), 0);
	assert_string_equal(out, "/opt/app.jar");
	assert_int_equal(path_of("/usr/bin/ruby3.1", ARGV("ruby", "app.rb"), out, sizeof(out)), 0);
	assert_string_equal(out, "app.rb");
	/* inline programs and modules have no file: the interpreter stays the version */
	assert_int_equal(path_of("/usr/bin/python3", ARGV("python3", "-c", "print(1)"), out, sizeof(out)), -ENOENT);
	assert_int_equal(path_of("/usr/bin/python3", ARGV("python3", "-m", "http.server"), out, sizeof(out)), -ENOENT);
	assert_int_equal(path_of("/usr/bin/node", ARGV("node", "-e", "1"), out, sizeof(out)), -ENOENT);
	assert_int_equal(path_of("/usr/bin/java", ARGV("java", "-cp", "x", "Main"), out, sizeof(out)), -ENOENT);
	assert_int_equal(path_of("/usr/bin/python3", ARGV("python3"), out, sizeof(out)), -ENOENT);
	/* no interpreter */
	assert_int_equal(path_of("/usr/sbin/nginx", ARGV("nginx", "conf.py"), out, sizeof(out)), -ENOENT);
	assert_int_equal(path_of("/usr/bin/python3", ARGV("python3", "/a/very/long/path/that/does/not/fit/in/the/buffer/main.py"),
				 out, 16), -ENAMETOOLONG);
}

static void test_program_name(void **state)
{
	char out[64];

	(void)state;
	/* a script: its base name */
	assert_int_equal(name_of("/usr/bin/node", ARGV("node", "/srv/agent/agent.mjs"), out, sizeof(out)), 0);
	assert_string_equal(out, "agent.mjs");
	assert_int_equal(name_of("/usr/bin/python3.11", ARGV("python3", "-u", "srv.py", "--token", "x"), out, sizeof(out)), 0);
	assert_string_equal(out, "srv.py");
	/* a file inside a package: the package, without its scope */
	assert_int_equal(name_of("/usr/bin/node",
				 ARGV("node", "/w/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js", "/tmp"),
				 out, sizeof(out)), 0);
	assert_string_equal(out, "server-filesystem");
	assert_int_equal(name_of("/usr/bin/node", ARGV("node", "/w/node_modules/.bin/mcp-server-filesystem"), out, sizeof(out)), 0);
	assert_string_equal(out, "mcp-server-filesystem");
	assert_int_equal(name_of("/usr/bin/python3", ARGV("python3", "/v/lib/python3.11/site-packages/mcp_git/__main__.py"),
				 out, sizeof(out)), 0);
	assert_string_equal(out, "mcp_git");
	/* python -m: the module */
	assert_int_equal(name_of("/usr/bin/python3", ARGV("python3", "-m", "http.server", "8000"), out, sizeof(out)), 0);
	assert_string_equal(out, "http.server");
	assert_int_equal(name_of("/usr/bin/python3", ARGV("python3", "-mmcp_server_fetch"), out, sizeof(out)), 0);
	assert_string_equal(out, "mcp_server_fetch");
	/* java -jar */
	assert_int_equal(name_of("/usr/bin/java", ARGV("java", "-jar", "/opt/app.jar"), out, sizeof(out)), 0);
	assert_string_equal(out, "app.jar");
	/* launchers: the package asked for, without scope or version */
	assert_int_equal(name_of("/usr/bin/npx", ARGV("npx", "-y", "@modelcontextprotocol/server-filesystem@2025.1.1", "/tmp"),
				 out, sizeof(out)), 0);
	assert_string_equal(out, "server-filesystem");
	assert_int_equal(name_of("/usr/local/bin/uvx", ARGV("uvx", "--from", "git+x", "mcp-server-git==1.0"), out, sizeof(out)), 0);
	assert_string_equal(out, "mcp-server-git");
	/* node running npx's script (a shebang exec) */
	assert_int_equal(name_of("/usr/bin/node", ARGV("node", "/usr/lib/node_modules/npm/bin/npx-cli.js", "-y", "@s/srv-x"),
				 out, sizeof(out)), 0);
	assert_string_equal(out, "srv-x");
	/* a name is one token: no spaces or control characters */
	assert_int_equal(name_of("/usr/bin/node", ARGV("node", "/tmp/my agent\n.js"), out, sizeof(out)), 0);
	assert_string_equal(out, "my_agent_.js");
	/* nothing to name: inline code, no program, no interpreter */
	assert_int_equal(name_of("/usr/bin/python3", ARGV("python3", "-c", "print(1)"), out, sizeof(out)), -ENOENT);
	assert_int_equal(name_of("/usr/bin/node", ARGV("node"), out, sizeof(out)), -ENOENT);
	assert_int_equal(name_of("/usr/bin/npx", ARGV("npx"), out, sizeof(out)), -ENOENT);
	assert_int_equal(name_of("/usr/bin/curl", ARGV("curl", "x.py"), out, sizeof(out)), -ENOENT);
	assert_true(program_is_interpreter("/usr/bin/python3.11"));
	assert_true(program_is_interpreter("/usr/bin/npx"));
	assert_false(program_is_interpreter("/usr/bin/curl"));
	/* epochs are unchanged: a module or a launcher has no program file */
	assert_int_equal(path_of("/usr/bin/npx", ARGV("npx", "pkg"), out, sizeof(out)), -ENOENT);
}

static void test_program_hash(void **state)
{
	char path[] = "/tmp/reach-test-program-XXXXXX", a[13], b[13];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	close(fd);
	assert_int_equal(program_hash(path, a, sizeof(a)), 0);
	assert_string_equal(a, "ba7816bf8f01"); /* SHA-256("abc") */
	fd = open(path, O_WRONLY | O_TRUNC); /* another build of the program */
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abd", 3), 3);
	close(fd);
	assert_int_equal(program_hash(path, b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	unlink(path);
	assert_int_equal(program_hash(path, b, sizeof(b)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_program_path),
		cmocka_unit_test(test_program_name),
		cmocka_unit_test(test_program_hash),
	};

	return cmocka_run_group_tests_name("program", tests, NULL, NULL);
}
