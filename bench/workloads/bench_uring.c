/* Scenario 9: the io_uring read path (issue 16: reach reads every READ
 * request's file at io_uring_complete). Opens PATH once with open(2), then
 * N times: one IORING_OP_READ of 64 bytes at offset 0, submitted and waited
 * for alone (the same one-at-a-time shape as bench_open's read), its CQE
 * checked. usage: bench_uring PATH N */
#include "common.h" /* first: defines _GNU_SOURCE */
#include <fcntl.h>
#include <liburing.h>

struct ctx {
	struct io_uring ring;
	int fd;
	char buf[64];
};

static void once(const void *arg)
{
	struct ctx *c = (struct ctx *)arg;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);
	struct io_uring_cqe *cqe;
	int rc;

	if (!sqe) {
		fprintf(stderr, "io_uring: no free SQE\n");
		exit(1);
	}
	io_uring_prep_read(sqe, c->fd, c->buf, sizeof(c->buf), 0);
	rc = io_uring_submit_and_wait(&c->ring, 1);
	if (rc < 0) {
		errno = -rc;
		die("io_uring_submit_and_wait");
	}
	rc = io_uring_wait_cqe(&c->ring, &cqe);
	if (rc < 0) {
		errno = -rc;
		die("io_uring_wait_cqe");
	}
	if (cqe->res <= 0) {
		errno = cqe->res < 0 ? -cqe->res : EIO;
		die("IORING_OP_READ");
	}
	io_uring_cqe_seen(&c->ring, cqe);
}

int main(int argc, char **argv)
{
	static struct ctx c;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: %s PATH N\n", argv[0]);
		return 2;
	}
	long n = parse_long(argv[2], "N");

	c.fd = open(argv[1], O_RDONLY);
	if (c.fd < 0)
		die(argv[1]);
	rc = io_uring_queue_init(8, &c.ring, 0);
	if (rc < 0) {
		errno = -rc;
		die("io_uring_queue_init");
	}
	timed_loop(n, once, &c);
	io_uring_queue_exit(&c.ring);
	close(c.fd);
	return 0;
}
