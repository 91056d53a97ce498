/* Dropping capabilities after load: see caps.h. Raw capget/capset instead of
 * libcap: three system calls on two 32-bit words, not worth a dependency. */
#include <errno.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common/caps.h"
#include "common/log.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#ifndef CAP_LAST_CAP
#define CAP_LAST_CAP 40
#endif

const int caps_agent_needs[] = { CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH };
const size_t caps_agent_needs_count = sizeof(caps_agent_needs) / sizeof(caps_agent_needs[0]);
const int caps_uprobe_extra = CAP_SYS_ADMIN;

static const char *const cap_names[] = {
	"cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner", "cap_fsetid", "cap_kill",
	"cap_setgid", "cap_setuid", "cap_setpcap", "cap_linux_immutable", "cap_net_bind_service",
	"cap_net_broadcast", "cap_net_admin", "cap_net_raw", "cap_ipc_lock", "cap_ipc_owner", "cap_sys_module",
	"cap_sys_rawio", "cap_sys_chroot", "cap_sys_ptrace", "cap_sys_pacct", "cap_sys_admin", "cap_sys_boot",
	"cap_sys_nice", "cap_sys_resource", "cap_sys_time", "cap_sys_tty_config", "cap_mknod", "cap_lease",
	"cap_audit_write", "cap_audit_control", "cap_setfcap", "cap_mac_override", "cap_mac_admin", "cap_syslog",
	"cap_wake_alarm", "cap_block_suspend", "cap_audit_read", "cap_perfmon", "cap_bpf", "cap_checkpoint_restore",
};

static uint64_t needed_mask(void)
{
	uint64_t m = 0;

	for (size_t i = 0; i < caps_agent_needs_count; i++)
		m |= 1ULL << caps_agent_needs[i];
	return m;
}

static int cap_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };

	return syscall(SYS_capget, &hdr, data) ? -errno : 0;
}

uint64_t caps_effective(void)
{
	struct __user_cap_data_struct d[2];

	if (cap_get(d))
		return 0;
	return (uint64_t)d[0].effective | ((uint64_t)d[1].effective << 32);
}

void caps_describe(uint64_t mask, char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (int c = 0; c < 64 && len < n; c++) {
		if (!(mask & (1ULL << c)))
			continue;
		if (c < (int)(sizeof(cap_names) / sizeof(cap_names[0])))
			len += (size_t)snprintf(out + len, n - len, "%s%s", len ? "," : "", cap_names[c]);
		else
			len += (size_t)snprintf(out + len, n - len, "%scap_%d", len ? "," : "", c);
	}
}

/* Every capability but the needed ones leaves the bounding set. Needs
 * CAP_SETPCAP, which a container granted only the needed list lacks: then
 * there is nothing to drop (the runtime already bounded it). */
static void drop_bounding(uint64_t keep)
{
	if (!(caps_effective() & (1ULL << CAP_SETPCAP)))
		return;
	for (int c = 0; c <= CAP_LAST_CAP + 8; c++) {
		if (keep & (1ULL << c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) && errno == EINVAL)
			break; /* past the kernel's last capability */
	}
}

static int cap_set_effective(struct __user_cap_data_struct d[2], uint64_t eff)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };

	d[0].effective = (uint32_t)eff;
	d[1].effective = (uint32_t)(eff >> 32);
	return syscall(SYS_capset, &hdr, d) ? -errno : 0;
}

/* perf_event_open(2) of a uprobe on path at offset: 0 or -errno. */
static int try_uprobe(const char *path, uint64_t offset)
{
	struct perf_event_attr attr;
	FILE *f = fopen("/sys/bus/event_source/devices/uprobe/type", "re");
	int type = -1, fd;

	if (!f)
		return -ENOENT;
	if (fscanf(f, "%d", &type) != 1)
		type = -1;
	fclose(f);
	if (type < 0)
		return -ENOENT;
	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = (uint32_t)type;
	attr.config1 = (uint64_t)(uintptr_t)path; /* uprobe_path */
	attr.config2 = offset;                    /* probe_offset */
	fd = (int)syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

bool caps_uprobe_needs_extra(void)
{
	struct __user_cap_data_struct d[2];
	uint64_t eff, extra = 1ULL << caps_uprobe_extra;
	char exe[4096];
	ssize_t n;
	int rc;

	if (cap_get(d))
		return false;
	eff = (uint64_t)d[0].effective | ((uint64_t)d[1].effective << 32);
	if (!(eff & extra))
		return false;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return true; /* cannot measure: keep what TLS capture may need */
	exe[n] = '\0';
	if (cap_set_effective(d, eff & ~extra))
		return true;
	rc = try_uprobe(exe, 0);
	cap_set_effective(d, eff);
	return rc == -EACCES || rc == -EPERM;
}

void caps_explain_refusal(char *out, size_t n)
{
	uint64_t eff = caps_effective(), admin = 1ULL << CAP_SYS_ADMIN;
	uint64_t missing = 0;
	char names[128];

	if (!(eff & admin)) {
		if (!(eff & (1ULL << CAP_BPF)))
			missing |= 1ULL << CAP_BPF;
		if (!(eff & (1ULL << CAP_PERFMON)))
			missing |= 1ULL << CAP_PERFMON;
	}
	if (missing) {
		caps_describe(missing, names, sizeof(names));
		snprintf(out, n, "missing %s (effective capabilities; cap_sys_admin would also do): "
			 "run as root, or grant cap_bpf,cap_perfmon,cap_sys_ptrace,cap_dac_read_search", names);
		return;
	}
	snprintf(out, n, "the capabilities are there (%s): something else refuses bpf()/perf_event_open(): "
		 "a seccomp or AppArmor profile (containers: deploy/overlays/unconfined), "
		 "kernel.perf_event_paranoid, or kernel lockdown",
		 eff & admin ? "cap_sys_admin" : "cap_bpf, cap_perfmon");
}

int caps_drop_to_agent_needs(bool keep_extra, char *err, size_t err_size)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];
	uint64_t keep = needed_mask() | (keep_extra ? 1ULL << caps_uprobe_extra : 0), have;
	char missing[256];
	int rc;

	if ((rc = cap_get(d))) {
		format_error(err, err_size, "capget: %s", strerror(-rc));
		return rc;
	}
	have = (uint64_t)d[0].permitted | ((uint64_t)d[1].permitted << 32);
	if ((have & keep) != keep) {
		caps_describe(keep & ~have, missing, sizeof(missing));
		format_error(err, err_size, "missing capabilities the agent needs: %s", missing);
		return -EPERM;
	}
	drop_bounding(keep);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL) {
		format_error(err, err_size, "clearing ambient capabilities: %s", strerror(errno));
		return -errno;
	}
	d[0].permitted = d[0].effective = (uint32_t)keep;
	d[1].permitted = d[1].effective = (uint32_t)(keep >> 32);
	d[0].inheritable = d[1].inheritable = 0;
	if (syscall(SYS_capset, &hdr, d)) {
		format_error(err, err_size, "capset: %s", strerror(errno));
		return -errno;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		format_error(err, err_size, "no_new_privs: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int caps_drop_for_agent(char *err, size_t err_size)
{
	char have[512];
	bool keep_extra = caps_uprobe_needs_extra();
	int rc;

	if (keep_extra)
		log_info("--drop-caps: keeping cap_sys_admin: this kernel refuses uprobes (TLS credential capture) "
			 "with cap_perfmon alone");
	if ((rc = caps_drop_to_agent_needs(keep_extra, err, err_size)))
		return rc;
	caps_describe(caps_effective(), have, sizeof(have));
	log_info("capabilities dropped to %s", have);
	return 0;
}
