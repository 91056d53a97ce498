/* Scenario 9: files received over a unix socket (issue 16: reach reads the
 * SCM_RIGHTS descriptors of every recvmsg at its exit). PATH is opened once;
 * then N times: its descriptor is sent over a socketpair (sendmsg,
 * SCM_RIGHTS), received (recvmsg: a new descriptor of the same file),
 * 64 bytes read at offset 0 through the received descriptor (pread), and
 * that descriptor closed. Sender and receiver are this one process: the
 * receiving side is what reach hooks; the sender's sendmsg is the price any
 * such hand-over pays with or without reach.
 * usage: bench_scm PATH N */
#include "common.h" /* first: defines _GNU_SOURCE */
#include <fcntl.h>
#include <sys/socket.h>

struct ctx {
	int sv[2];
	int fd;
};

static void once(const void *arg)
{
	const struct ctx *c = arg;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	char byte = 'x', buf[64];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm;
	int got;

	memset(ctl.buf, 0, sizeof(ctl.buf));
	cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &c->fd, sizeof(int));
	if (sendmsg(c->sv[0], &m, 0) != 1)
		die("sendmsg");
	memset(ctl.buf, 0, sizeof(ctl.buf));
	m.msg_controllen = sizeof(ctl.buf);
	if (recvmsg(c->sv[1], &m, MSG_CMSG_CLOEXEC) != 1)
		die("recvmsg");
	cm = CMSG_FIRSTHDR(&m);
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
		fprintf(stderr, "recvmsg: no SCM_RIGHTS descriptor\n");
		exit(1);
	}
	memcpy(&got, CMSG_DATA(cm), sizeof(int));
	if (pread(got, buf, sizeof(buf), 0) <= 0)
		die("pread");
	close(got);
}

int main(int argc, char **argv)
{
	static struct ctx c;

	if (argc != 3) {
		fprintf(stderr, "usage: %s PATH N\n", argv[0]);
		return 2;
	}
	long n = parse_long(argv[2], "N");

	c.fd = open(argv[1], O_RDONLY);
	if (c.fd < 0)
		die(argv[1]);
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, c.sv) < 0)
		die("socketpair");
	timed_loop(n, once, &c);
	return 0;
}
