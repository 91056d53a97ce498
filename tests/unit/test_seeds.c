/* Secret seeds (agent/seeds.h): which directories the catalogue gives, what
 * a walk finds there (regular files only, symlinks never followed, (dev,
 * ino) in the kernel's encoding), and what it forgets: a Kubernetes atomic
 * writer's generation once it is removed, never a secret moved elsewhere.
 * The walks run in this process's own root ("/"), on a temporary directory a
 * catalogue rule points at. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/seeds.h"
#include "reach/catalog.h"

#define MAX_SEEN 32

struct seen {
	struct reach_inode_key found[MAX_SEEN], forgot[MAX_SEEN];
	char paths[MAX_SEEN][512];
	size_t n_found, n_forgot;
	const char *only; /* paths outside are not secrets (other tests' files) */
};

static bool on_found(void *ctx, const struct reach_inode_key *k, const char *path)
{
	struct seen *s = ctx;

	if (strncmp(path, s->only, strlen(s->only)))
		return false;
	for (size_t i = 0; i < s->n_found; i++)
		if (!strcmp(s->paths[i], path))
			return true; /* met again in another mount namespace that shares this /tmp */
	if (s->n_found < MAX_SEEN) {
		snprintf(s->paths[s->n_found], sizeof(s->paths[0]), "%s", path);
		s->found[s->n_found++] = *k;
	}
	return true;
}

static void on_forget(void *ctx, const struct reach_inode_key *k)
{
	struct seen *s = ctx;

	if (s->n_forgot < MAX_SEEN)
		s->forgot[s->n_forgot++] = *k;
}

static void write_file(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs("not-a-real-secret\n", f);
	fclose(f);
}

static bool has_path(const struct seen *s, const char *path)
{
	for (size_t i = 0; i < s->n_found; i++)
		if (!strcmp(s->paths[i], path))
			return true;
	return false;
}

static void test_prefixes_of_the_builtin_catalogue(void **state)
{
	struct catalog *c = catalog_new();
	struct seen seen = { .only = "/" };
	struct seeds *s = seeds_new(on_found, on_forget, &seen);

	(void)state;
	assert_non_null(s);
	assert_int_equal(catalog_add_builtin(c), 0);
	assert_int_equal(seeds_set_catalog(s, c), 0);
	/* absolute rules with two components or more, each once (the
	 * serviceaccount ones are under /run/secrets/); the "**" rules'
	 * directories under each home (.config/gcloud/legacy_credentials/
	 * under .config/gcloud/), and the homes' own files (.netrc) */
	assert_string_equal(seeds_describe(s), "/etc/kubernetes/, /etc/ssh/, /run/secrets/, /var/run/secrets/, "
					       "~/{*,.aws/,.azure/,.config/gcloud/,.docker/,.kube/,.ssh/}");
	seeds_free(s);
	catalog_free(c);
}

static void test_walk_finds_forgets_and_keeps(void **state)
{
	char base[] = "/tmp/reach-seeds-XXXXXX", dir[64], gen[128], path[512], pattern[300], moved[512];
	struct catalog *c = catalog_new();
	struct seen seen = { 0 };
	struct seeds *s = seeds_new(on_found, on_forget, &seen);
	struct stat st;
	int64_t now = 1000000;

	(void)state;
	assert_non_null(mkdtemp(base));
	snprintf(dir, sizeof(dir), "%s/secrets", base);
	assert_int_equal(mkdir(dir, 0700), 0);
	seen.only = dir;
	/* a Kubernetes atomic writer's layout: token -> ..data/token,
	 * ..data -> ..2026_12_07_01.1 (the real directory) */
	snprintf(gen, sizeof(gen), "%s/..2026_12_07_01.1", dir);
	assert_int_equal(mkdir(gen, 0700), 0);
	snprintf(path, sizeof(path), "%s/token", gen);
	write_file(path);
	snprintf(path, sizeof(path), "%s/..data", dir);
	assert_int_equal(symlink("..2026_12_07_01.1", path), 0);
	snprintf(path, sizeof(path), "%s/token", dir);
	assert_int_equal(symlink("..data/token", path), 0);
	snprintf(path, sizeof(path), "%s/db_password", dir);
	write_file(path);
	snprintf(path, sizeof(path), "%s/elsewhere", base); /* a symlink out of the prefix: never followed */
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/elsewhere/other", base);
	write_file(path);
	snprintf(path, sizeof(path), "%s/out", dir);
	snprintf(moved, sizeof(moved), "%s/elsewhere", base);
	assert_int_equal(symlink(moved, path), 0);

	snprintf(pattern, sizeof(pattern), "%s/**", dir);
	assert_int_equal(catalog_add(c, pattern, "test-secret"), 0);
	assert_int_equal(seeds_set_catalog(s, c), 0);
	seeds_all(s, now);
	/* the two regular files, under their real directories */
	assert_int_equal(seen.n_found, 2);
	snprintf(path, sizeof(path), "%s/..2026_12_07_01.1/token", dir);
	assert_true(has_path(&seen, path));
	snprintf(path, sizeof(path), "%s/db_password", dir);
	assert_true(has_path(&seen, path));
	assert_int_equal(stat(path, &st), 0);
	for (size_t i = 0; i < seen.n_found; i++) {
		if (strcmp(seen.paths[i], path))
			continue;
		/* the kernel's dev_t: major << 20 | minor */
		assert_int_equal(seen.found[i].dev, (major(st.st_dev) << 20) | minor(st.st_dev));
		assert_int_equal(seen.found[i].ino, st.st_ino);
	}
	assert_true(seeds_stats(s).roots >= 1);
	assert_true(seeds_stats(s).files >= 2); /* and whatever else this node's namespaces hold under the prefix */

	/* the writer publishes a new generation and removes the old one; the
	 * secret file is moved out of the prefix (to be read under another
	 * name): the old generation is forgotten, the moved secret kept */
	char gen2[128];

	snprintf(gen2, sizeof(gen2), "%s/..2026_12_07_02.1", dir);
	assert_int_equal(mkdir(gen2, 0700), 0);
	snprintf(path, sizeof(path), "%s/token", gen2);
	write_file(path);
	snprintf(path, sizeof(path), "%s/..2026_12_07_01.1/token", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(gen), 0);
	snprintf(path, sizeof(path), "%s/db_password", dir);
	snprintf(moved, sizeof(moved), "%s/elsewhere/notes.txt", base);
	assert_int_equal(rename(path, moved), 0);
	seen.n_found = 0;
	seeds_process(s, 0, now + 500); /* within SEEDS_EXEC_FRESH_MS: not walked again */
	assert_int_equal(seen.n_found, 0);
	assert_int_equal(seen.n_forgot, 0);
	seeds_process(s, 0, now + SEEDS_EXEC_FRESH_MS);
	assert_int_equal(seen.n_found, 1);
	snprintf(path, sizeof(path), "%s/token", gen2);
	assert_true(has_path(&seen, path));
	assert_int_equal(seen.n_forgot, 1); /* the old token only */
	assert_int_equal(stat(moved, &st), 0);
	assert_false(seen.forgot[0].ino == st.st_ino);

	seeds_free(s);
	catalog_free(c);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefixes_of_the_builtin_catalogue),
		cmocka_unit_test(test_walk_finds_forgets_and_keeps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
