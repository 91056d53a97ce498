/* Scenario 3: open distinct files at a paced target rate.
 *   bench_gen mkfiles DIR COUNT SUFFIX   create DIR/f0000000SUFFIX ... (one byte each)
 *   bench_gen DIR COUNT SUFFIX RATE      open+close each file once, RATE opens/s
 *                                        (RATE 0: as fast as possible)
 * Pacing: the i-th open is due at t0 + i/RATE; the generator sleeps only when
 * it is ahead by more than 50 us, so it never drifts but never busy-waits
 * long. Prints {"iters":N,"ns":T,"ns_per_iter":X,"rate":achieved}. */
#include "common.h" /* first: defines _GNU_SOURCE */
#include <fcntl.h>

static void name_of(char *buf, size_t len, const char *dir, long i, const char *suffix)
{
	snprintf(buf, len, "%s/f%07ld%s", dir, i, suffix);
}

int main(int argc, char **argv)
{
	char path[4096];

	if (argc == 5 && !strcmp(argv[1], "mkfiles")) {
		long n = parse_long(argv[3], "COUNT");

		for (long i = 0; i < n; i++) {
			name_of(path, sizeof(path), argv[2], i, argv[4]);
			int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

			if (fd < 0 || write(fd, "x", 1) != 1)
				die(path);
			close(fd);
		}
		return 0;
	}
	if (argc != 5) {
		fprintf(stderr, "usage: %s mkfiles DIR COUNT SUFFIX | %s DIR COUNT SUFFIX RATE\n", argv[0], argv[0]);
		return 2;
	}
	long n = parse_long(argv[2], "COUNT");
	double rate = atof(argv[4]);
	wait_go();
	unsigned long long t0 = now_ns();
	for (long i = 0; i < n; i++) {
		if (rate > 0) {
			unsigned long long due = t0 + (unsigned long long)((double)i * 1e9 / rate);
			unsigned long long t = now_ns();

			if (due > t + 50000) {
				struct timespec ts = { .tv_sec = (time_t)((due - t) / 1000000000ULL),
						       .tv_nsec = (long)((due - t) % 1000000000ULL) };
				nanosleep(&ts, NULL);
			}
		}
		name_of(path, sizeof(path), argv[1], i, argv[3]);
		int fd = open(path, O_RDONLY);

		if (fd < 0)
			die(path);
		close(fd);
	}
	unsigned long long ns = now_ns() - t0;
	printf("{\"iters\":%ld,\"ns\":%llu,\"ns_per_iter\":%.1f,\"rate\":%.0f}\n", n, ns, (double)ns / (double)n,
	       (double)n * 1e9 / (double)ns);
	return 0;
}
