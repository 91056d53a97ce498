// SPDX-License-Identifier: Apache-2.0
/*
 * An attacker's io_uring client for the evasion roads (tests/e2e/test_roads.py):
 * every file and network operation goes through the ring, so no open, read,
 * connect or send syscall exit happens in the task.
 *
 *   uring_client read PATH            OPENAT + READ
 *   uring_client fixed PATH           OPENAT into a fixed-file slot + READ of the fixed file
 *   uring_client recvread SOCKPATH    connect to a unix socket, RECVMSG a descriptor (SCM_RIGHTS), READ it
 *   uring_client rename OLD NEW       RENAMEAT (then OPENAT + READ of NEW)
 *   uring_client udp HOST PORT        UDP socket: CONNECT + SEND
 *   uring_client udpto HOST PORT      unconnected UDP socket: SENDMSG with msg_name
 *   uring_client tcp HOST PORT        TCP CONNECT + SEND of an HTTP head
 *   uring_client tcpmsg HOST PORT     TCP CONNECT + SENDMSG
 *   uring_client sqpoll PATH HOST PORT  a ring with IORING_SETUP_SQPOLL: the kernel
 *                                     thread iou-sqp-PID submits (no io_uring_enter
 *                                     per request): OPENAT + READ of PATH, then
 *                                     TCP CONNECT + SEND of an HTTP head
 * Exit 0 when every request completed, 1 with the failing step on stderr.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct io_uring ring;

/* Submits the prepared SQE and waits for its CQE: the result, or -errno. */
static int run(const char *what)
{
	struct io_uring_cqe *cqe;
	int rc = io_uring_submit(&ring);

	if (rc < 0) {
		fprintf(stderr, "%s: submit: %s\n", what, strerror(-rc));
		exit(1);
	}
	rc = io_uring_wait_cqe(&ring, &cqe);
	if (rc < 0) {
		fprintf(stderr, "%s: wait: %s\n", what, strerror(-rc));
		exit(1);
	}
	rc = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", what, strerror(-rc));
		exit(1);
	}
	return rc;
}

static void read_fd(int fd, bool fixed)
{
	char buf[256];
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

	io_uring_prep_read(sqe, fd, buf, sizeof(buf), 0);
	if (fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
	run("read");
}

static void sockaddr_of(const char *host, const char *port, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(atoi(port));
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
		fprintf(stderr, "bad address %s\n", host);
		exit(2);
	}
}

static void do_connect(int fd, struct sockaddr_in *sin)
{
	io_uring_prep_connect(io_uring_get_sqe(&ring), fd, (struct sockaddr *)sin, sizeof(*sin));
	run("connect");
}

static void do_sendmsg(int fd, struct sockaddr_in *to, const char *payload)
{
	struct iovec iov = { .iov_base = (void *)payload, .iov_len = strlen(payload) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (to) {
		msg.msg_name = to;
		msg.msg_namelen = sizeof(*to);
	}
	io_uring_prep_sendmsg(io_uring_get_sqe(&ring), fd, &msg, 0);
	run("sendmsg");
}

/* Whether the poller thread runs in this process: /proc/self/task/TID/comm
 * "iou-sqp-PID". Without it the ring would be an ordinary one and the test
 * would walk the wrong road. */
static bool have_sq_thread(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	bool found = false;

	while (d && !found && (de = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		found = fgets(comm, sizeof(comm), f) && !strncmp(comm, "iou-sqp-", 8);
		fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

/* A descriptor over a unix socket, received through the ring. */
static int recv_fd(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char data[8], control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			      .msg_controllen = sizeof(control) };
	struct cmsghdr *cmsg;
	int s = socket(AF_UNIX, SOCK_STREAM, 0), fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	io_uring_prep_connect(io_uring_get_sqe(&ring), s, (struct sockaddr *)&sun, sizeof(sun));
	run("connect unix");
	io_uring_prep_recvmsg(io_uring_get_sqe(&ring), s, &msg, 0);
	run("recvmsg");
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS) {
		fprintf(stderr, "recvmsg: no descriptor\n");
		exit(1);
	}
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(fd));
	return fd;
}

int main(int argc, char **argv)
{
	static const char head[] = "GET /uring HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: uring-client\r\n\r\n";
	struct sockaddr_in sin;
	int rc, fd;

	if (argc < 3) {
		fprintf(stderr, "usage: uring_client read|fixed|recvread|udp|udpto|tcp|tcpmsg|sqpoll ARGS\n");
		return 2;
	}
	if (!strcmp(argv[1], "sqpoll")) {
		struct io_uring_params p = { .flags = IORING_SETUP_SQPOLL, .sq_thread_idle = 2000 };

		rc = io_uring_queue_init_params(8, &ring, &p);
	} else {
		rc = io_uring_queue_init(8, &ring, 0);
	}
	if (rc < 0) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-rc));
		return 1;
	}
	if (!strcmp(argv[1], "read")) {
		io_uring_prep_openat(io_uring_get_sqe(&ring), AT_FDCWD, argv[2], O_RDONLY, 0);
		read_fd(run("openat"), false);
	} else if (!strcmp(argv[1], "fixed")) {
		int slots[1] = { -1 };

		rc = io_uring_register_files(&ring, slots, 1);
		if (rc < 0) {
			fprintf(stderr, "register_files: %s\n", strerror(-rc));
			return 1;
		}
		io_uring_prep_openat_direct(io_uring_get_sqe(&ring), AT_FDCWD, argv[2], O_RDONLY, 0, 0);
		run("openat direct");
		read_fd(0, true);
	} else if (argc >= 4 && !strcmp(argv[1], "rename")) {
		io_uring_prep_renameat(io_uring_get_sqe(&ring), AT_FDCWD, argv[2], AT_FDCWD, argv[3], 0);
		run("renameat");
		io_uring_prep_openat(io_uring_get_sqe(&ring), AT_FDCWD, argv[3], O_RDONLY, 0);
		read_fd(run("openat"), false);
	} else if (!strcmp(argv[1], "recvread")) {
		read_fd(recv_fd(argv[2]), false);
	} else if (argc >= 4 && !strcmp(argv[1], "udp")) {
		sockaddr_of(argv[2], argv[3], &sin);
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		do_connect(fd, &sin);
		io_uring_prep_send(io_uring_get_sqe(&ring), fd, "uring-udp", 9, 0);
		run("send");
	} else if (argc >= 4 && !strcmp(argv[1], "udpto")) {
		sockaddr_of(argv[2], argv[3], &sin);
		do_sendmsg(socket(AF_INET, SOCK_DGRAM, 0), &sin, "uring-udpto");
	} else if (argc >= 4 && (!strcmp(argv[1], "tcp") || !strcmp(argv[1], "tcpmsg"))) {
		sockaddr_of(argv[2], argv[3], &sin);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		do_connect(fd, &sin);
		if (!strcmp(argv[1], "tcp")) {
			io_uring_prep_send(io_uring_get_sqe(&ring), fd, head, sizeof(head) - 1, 0);
			run("send");
		} else {
			do_sendmsg(fd, NULL, head);
		}
	} else if (argc >= 5 && !strcmp(argv[1], "sqpoll")) {
		/* every request below is taken from the SQ ring by the poller
		 * thread; io_uring_submit only wakes it when it went idle */
		/* the poller names itself when it first runs: under load that is
		 * after io_uring_queue_init returns, so look for up to 5 s */
		bool sq = false;

		for (int i = 0; i < 500 && !(sq = have_sq_thread()); i++)
			usleep(10000);
		if (!(ring.flags & IORING_SETUP_SQPOLL) || !sq) {
			fprintf(stderr, "sqpoll: no iou-sqp thread\n");
			return 1;
		}
		io_uring_prep_openat(io_uring_get_sqe(&ring), AT_FDCWD, argv[2], O_RDONLY, 0);
		read_fd(run("openat"), false);
		sockaddr_of(argv[3], argv[4], &sin);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		do_connect(fd, &sin);
		io_uring_prep_send(io_uring_get_sqe(&ring), fd, head, sizeof(head) - 1, 0);
		run("send");
	} else {
		fprintf(stderr, "unknown mode %s\n", argv[1]);
		return 2;
	}
	io_uring_queue_exit(&ring);
	return 0;
}
