// SPDX-License-Identifier: Apache-2.0
/*
 * TLS plaintext before encryption: uprobes on the write functions of the
 * TLS libraries real AI stacks use. They are attached at run time by the
 * agent (user/sensor/tls.c) to each library file a monitored process maps,
 * once per file, so they fire for every process of that file: the
 * monitored check comes first.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "http.bpf.h"

/* BPF_KPROBE: libbpf 1.1 has no BPF_UPROBE; the pt_regs argument access is the same. */

/* session: the SSL * or gnutls session, which names the connection for a
 * head written in pieces */
static __always_inline int tls__write(const void *session, const void *buf, __u64 len, __u8 source)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 cgid = bpf_get_current_cgroup_id();

	if (task__is_monitored(pid_tgid, cgid))
		http__capture(buf, len, source, NULL, (__u64)session, pid_tgid, cgid);
	return 0;
}

/* int SSL_write(SSL *ssl, const void *buf, int num) */
SEC("uprobe")
int BPF_KPROBE(reach_ssl_write, void *ssl, const void *buf, int num)
{
	return num > 0 ? tls__write(ssl, buf, num, REACH_HTTP_OPENSSL) : 0;
}

/* int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written) */
SEC("uprobe")
int BPF_KPROBE(reach_ssl_write_ex, void *ssl, const void *buf, size_t num)
{
	return tls__write(ssl, buf, num, REACH_HTTP_OPENSSL);
}

/* Go (>= 1.17, register ABI): func (c *Conn) Write(b []byte) (int, error):
 * c in RAX, b's pointer in RBX, its length in RCX. Entry only: a Go
 * function's return cannot be probed safely (goroutine stacks move, and a
 * uretprobe's trampoline address on one breaks the runtime's unwinding).
 * The *Conn names the connection. */
SEC("uprobe")
int reach_go_tls_write(struct pt_regs *ctx)
{
	return tls__write((const void *)ctx->ax, (const void *)ctx->bx, ctx->cx, REACH_HTTP_GOTLS);
}

/* ssize_t gnutls_record_send(gnutls_session_t session, const void *data, size_t size) */
SEC("uprobe")
int BPF_KPROBE(reach_gnutls_record_send, void *session, const void *data, size_t size)
{
	return tls__write(session, data, size, REACH_HTTP_GNUTLS);
}
