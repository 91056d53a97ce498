// SPDX-License-Identifier: Apache-2.0
/*
 * A process that holds a secret it opened before it was monitored, for
 * tests/e2e/test_roads2.py and test_roads3.py. It never opens the secret
 * inside the monitored cgroup; only clone3exec execs after entering it.
 *
 *   held_client self   SECRET CGROUP_DIR RELEASE  open, move itself into CGROUP_DIR (cgroup.procs), read
 *   held_client wait   SECRET READY RELEASE       open, write READY; whoever moves it; read after RELEASE
 *   held_client clone3 SECRET CGROUP_DIR RELEASE  open, clone3(CLONE_INTO_CGROUP) a child that reads
 *   held_client mmsg   SOCKET                     recvmmsg a descriptor (SCM_RIGHTS) from SOCKET, read it
 *   held_client mmsg-many N                        recvmmsg N datagrams of a socketpair in one call
 *   held_client clone3exec CLOEXEC KEPT CGROUP_DIR PROGRAM RELEASE
 *                 open CLOEXEC with O_CLOEXEC and KEPT without, clone3(CLONE_INTO_CGROUP)
 *                 a child that execs PROGRAM idle RELEASE at once (it reads neither)
 *   held_client idle RELEASE                       read nothing, wait for RELEASE, exit 0
 *
 * Each process that reads waits until RELEASE exists (a deadline of 60 s)
 * so that the agent can name its executable while it lives. Exit 0 on
 * success, 1 with the failing step on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *step)
{
	fprintf(stderr, "held_client: %s: %s\n", step, strerror(errno));
	return 1;
}

/* Polls for path with a deadline (never a fixed sleep). */
static int wait_file(const char *path)
{
	struct timespec tick = { 0, 20 * 1000 * 1000 };

	for (int i = 0; i < 3000; i++) {
		if (access(path, F_OK) == 0)
			return 0;
		nanosleep(&tick, NULL);
	}
	errno = ETIMEDOUT;
	return -1;
}

static int read_some(int fd)
{
	char buf[64];

	return read(fd, buf, sizeof(buf)) > 0 ? 0 : -1;
}

static int enter(const char *dir)
{
	char path[4096], pid[32];
	int fd, n;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	n = snprintf(pid, sizeof(pid), "%d", getpid());
	if (write(fd, pid, n) != n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* A child born in the cgroup at dir (clone3 CLONE_INTO_CGROUP): its pid,
 * 0 in the child, -1 on failure (said). */
static long clone_into(const char *dir)
{
	struct clone_args args = { 0 };
	int cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long pid;

	if (cg < 0)
		return fail("open cgroup dir"), -1;
	args.flags = CLONE_INTO_CGROUP;
	args.exit_signal = SIGCHLD;
	args.cgroup = (uint64_t)cg;
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0)
		fail("clone3");
	return pid;
}

static int do_clone3(int secret, const char *dir, const char *release)
{
	long pid = clone_into(dir);
	int status;

	if (pid < 0)
		return 1;
	if (pid == 0) {
		/* the child: born in the monitored cgroup with the descriptor */
		if (wait_file(release))
			_exit(fail("wait release"));
		_exit(read_some(secret) ? fail("read") : 0);
	}
	if (waitpid(pid, &status, 0) < 0)
		return fail("waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* The clone3-then-exec shape (a runner starting a workload in its cgroup):
 * the child is born in the cgroup holding both descriptors, runs this image
 * until execve closes the close-on-exec one, then runs PROGRAM holding only
 * KEPT. */
static int do_clone3exec(char **argv)
{
	int cloexec = open(argv[2], O_RDONLY | O_CLOEXEC), kept = open(argv[3], O_RDONLY), status;
	long pid;

	if (cloexec < 0 || kept < 0)
		return fail("open");
	if ((pid = clone_into(argv[4])) < 0)
		return 1;
	if (pid == 0) {
		execl(argv[5], argv[5], "idle", argv[6], (char *)NULL);
		_exit(fail("exec"));
	}
	if (waitpid(pid, &status, 0) < 0)
		return fail("waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static int do_mmsg(const char *sock)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char data[2][8], ctl[2][CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov[2];
	struct mmsghdr msgs[2];
	struct cmsghdr *c;
	int s, fd;

	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0)
		return fail("socket");
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock);
	if (connect(s, (struct sockaddr *)&addr, sizeof(addr)))
		return fail("connect");
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < 2; i++) {
		iov[i].iov_base = data[i];
		iov[i].iov_len = sizeof(data[i]);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_control = ctl[i];
		msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i]);
	}
	/* one message arrives: MSG_WAITFORONE returns it without waiting for the second */
	if (recvmmsg(s, msgs, 2, MSG_WAITFORONE, NULL) < 1)
		return fail("recvmmsg");
	c = CMSG_FIRSTHDR(&msgs[0].msg_hdr);
	if (!c || c->cmsg_type != SCM_RIGHTS) {
		errno = EPROTO;
		return fail("no SCM_RIGHTS");
	}
	memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	return read_some(fd) ? fail("read") : 0;
}

static int do_mmsg_many(int n)
{
	struct mmsghdr *msgs = calloc(n, sizeof(*msgs));
	struct iovec *iov = calloc(n, sizeof(*iov));
	char *buf = calloc(n, 8);
	int sv[2], got;

	if (!msgs || !iov || !buf)
		return fail("calloc");
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
		return fail("socketpair");
	for (int i = 0; i < n; i++)
		if (send(sv[0], "m", 1, 0) != 1)
			return fail("send");
	for (int i = 0; i < n; i++) {
		iov[i].iov_base = buf + 8 * i;
		iov[i].iov_len = 8;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	got = recvmmsg(sv[1], msgs, n, MSG_DONTWAIT, NULL);
	if (got != n) {
		fprintf(stderr, "held_client: recvmmsg: %d of %d\n", got, n);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int fd;

	if (argc == 3 && !strcmp(argv[1], "mmsg"))
		return do_mmsg(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "idle"))
		return wait_file(argv[2]) ? fail("wait release") : 0;
	if (argc == 7 && !strcmp(argv[1], "clone3exec"))
		return do_clone3exec(argv);
	if (argc == 3 && !strcmp(argv[1], "mmsg-many"))
		return do_mmsg_many(atoi(argv[2]) > 0 ? atoi(argv[2]) : 1);
	if (argc != 5) {
		fprintf(stderr, "usage: held_client self|wait|clone3 SECRET CGROUP_DIR|READY RELEASE | mmsg SOCKET | "
				"mmsg-many N\n");
		return 2;
	}
	fd = open(argv[2], O_RDONLY); /* outside every monitored cgroup */
	if (fd < 0)
		return fail("open secret");
	if (!strcmp(argv[1], "clone3"))
		return do_clone3(fd, argv[3], argv[4]);
	if (!strcmp(argv[1], "self")) {
		if (enter(argv[3]))
			return fail("enter cgroup");
	} else {
		char tmp[4096];
		int r;

		snprintf(tmp, sizeof(tmp), "%s.tmp", argv[3]);
		r = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (r < 0 || dprintf(r, "%d", getpid()) < 0 || close(r) || rename(tmp, argv[3]))
			return fail("ready file");
	}
	if (wait_file(argv[4]))
		return fail("wait release");
	return read_some(fd) ? fail("read") : 0;
}
