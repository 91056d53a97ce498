/* A rename that another thread races: the reader spins on open(new) on one
 * CPU while the main thread renames old to new on the other, so the
 * reader's open lands the moment the file has the new name, before the
 * rename's syscall has returned. argv: old new. Exit 0 once the reader has
 * read the file. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *new_name;
static atomic_int spinning;

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set); /* best effort: one CPU still races */
}

static void *reader(void *arg)
{
	char buf[256];
	int fd;

	(void)arg;
	pin(1);
	atomic_store(&spinning, 1);
	while ((fd = open(new_name, O_RDONLY)) < 0)
		;
	if (read(fd, buf, sizeof(buf)) < 0)
		exit(3);
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;

	if (argc != 3) {
		fprintf(stderr, "usage: rename_race OLD NEW\n");
		return 2;
	}
	new_name = argv[2];
	pin(0);
	if (pthread_create(&t, NULL, reader, NULL))
		return 2;
	while (!atomic_load(&spinning))
		;
	if (rename(argv[1], argv[2])) {
		perror("rename");
		return 1;
	}
	pthread_join(t, NULL);
	return 0;
}
