"""The two syscall-exit hook styles (bpf/syscalls.bpf.c, user/sensor/syscall_hooks.c)
record the same reach: per-syscall tracepoints, the default where the kernel
offers them (auto; issue 16's benchmark), asked for by name; the tp_btf
dispatcher asked for by name, and as auto's fallback when tracefs is not
mounted (the agent here runs with tracefs unmounted in its mount namespace)
or perf_event_open is refused (a seccomp filter), the reason in status; and
where 32-bit syscalls can be issued (syscall tracepoints do not fire for
them): the agent's probe must agree with what this test finds the kernel
does, and a probe that cannot tell takes the dispatcher too.

One workload drives every syscall-exit program reach has: openat + read of a
secret, a DNS lookup (sendto/recvfrom through glibc), one more with send and
read(2) on a connected UDP socket (seen at sock_recv_length), TCP connects, and a
bearer-token HTTP request through each of send (sendto), write, writev and
sendmsg (writev and sendmsg with the head split over several iovecs)."""
import ctypes
import errno
import hashlib
import hmac
import os
import struct
import subprocess

from harness import PYTHON, ROOT, Agent, Cgroup, TestNet, check, check_eq, sh
from test_egress import DNS_IP, NAME_V4, NAME_V6, TTL, _dnsmasq, _in_resolver_ns

TOKEN = "reach-e2e-hookstyle-token-4b1e7d"
SENDERS = ("send", "write", "writev", "sendmsg")

WORKLOAD = r"""
import os, socket, struct, sys
secret, name, dns_ip, v6name = sys.argv[1:5]
open(secret).read()                                        # openat + read
addr = socket.getaddrinfo(name, 80, socket.AF_INET, socket.SOCK_STREAM)[0][4]   # DNS: sendto + recvfrom
# DNS as Go's resolver does it: a connected UDP socket, send, read(2); the
# AAAA answer's address (its last 16 bytes) is then connected to, so the v6
# edge's name can only come from this answer
q = struct.pack(">HHHHHH", 0x5a5a, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in v6name.split(".")) + b"\0" + struct.pack(">HH", 28, 1)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.connect((dns_ip, 53))
u.send(q)
answer = os.read(u.fileno(), 512)
u.close()
v6 = socket.socket(socket.AF_INET6)
v6.connect((socket.inet_ntop(socket.AF_INET6, answer[-16:]), 80))
v6.close()
def request(path):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n"
            % (path, name, os.environ["TOKEN"])).encode()
for how in ("send", "write", "writev", "sendmsg"):
    s = socket.create_connection(addr)                     # connect
    head = request("/v1/hookstyle/" + how)
    if how == "send":
        s.send(head)
    elif how == "write":
        os.write(s.fileno(), head)
    elif how == "writev":
        os.writev(s.fileno(), [head[:20], head[20:]])
    else:
        s.sendmsg([head[:9], head[9:30], head[30:]])   # three iovecs: gathered in the kernel
    while s.recv(4096):
        pass
    s.close()
"""


def _status(agent):
    return agent.reachctl("status", "-o", "json")


def _run(cleanup, tmp, tag, hook_args, wrap=()):
    net = TestNet(cleanup, tag)
    net.serve_http(cleanup)
    resolv = _dnsmasq(cleanup, tmp)
    secret = os.path.join(tmp, "hooks", "service.key")
    os.makedirs(os.path.dirname(secret))
    with open(secret, "w") as f:
        f.write("not-a-real-key\n")
    fp_key = os.urandom(32)
    key_file = os.path.join(tmp, "fingerprint.key")
    with open(key_file, "wb") as f:
        f.write(fp_key)
    os.chmod(key_file, 0o600)
    cg = Cgroup(cleanup, f"reach-e2e-hooks-{tag}-{os.getpid()}")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--fingerprint-key", key_file, *hook_args], wrap=wrap)
    status = _status(agent)
    # the verifier's work is most of the start-up: measured, logged, in status
    check(status["bpf_load_ms"] > 0, f"status bpf_load_ms: {status.get('bpf_load_ms')}")
    check("BPF programs verified and loaded in " in agent.stderr(), "the load time is logged")
    cg.run(_in_resolver_ns(resolv, [PYTHON, "-c", WORKLOAD, secret, NAME_V4, DNS_IP, NAME_V6]),
           env=dict(os.environ, TOKEN=TOKEN))
    agent.wait_edge("last request", lambda e: e.get("type") == "credential"
                    and e["path_template"] == "/v1/hookstyle/sendmsg", 15)
    live = _status(agent)  # what a caller without --events sees: the same counters as the summary
    agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")
    for kind in ("file_open", "http", "dns", "egress"):
        check_eq(live["events"][kind], agent.summary["events"][kind], f"status events.{kind} = summary")
    check(live["events"]["file_open"] >= 1 and live["opens_not_secret"] >= 1,
          f"status counts the secret and python's other opens: {live['events']}, {live['opens_not_secret']}")

    secrets = [e for e in agent.summary_edges(cg.rel, "secrets") if e["path"] == secret]
    check_eq(len(secrets), 1, "secret edges for service.key")
    check_eq((secrets[0]["count"], secrets[0]["category"]), (1, "private-key"), "secret read once, categorised")
    egress = agent.summary_edges(cg.rel, "egress")
    web = [e for e in egress if e["address"] == net.V4 and e["port"] == 80 and e["proto"] == "tcp"]
    check_eq(len(web), 1, "egress edges to the server")
    check_eq((web[0]["name"], web[0]["name_ttl"]), (NAME_V4, TTL), "the connects carry the DNS name and TTL")
    check_eq(web[0]["outcomes"], {"established": 4}, "four connects, all established")
    check([e for e in egress if e["address"] == DNS_IP and e["port"] == 53 and e["proto"] == "udp"],
          "the DNS query is a UDP egress edge")
    v6 = [e for e in egress if e["address"] == net.V6 and e["port"] == 80 and e["proto"] == "tcp"]
    check_eq(len(v6), 1, "egress edges to the server's v6 address")
    check_eq((v6[0]["name"], v6[0]["name_ttl"]), (NAME_V6, TTL),
             "the v6 connect carries the name of the answer read with read(2) on a connected UDP socket")
    creds = {e["path_template"]: e for e in agent.edges() if e.get("type") == "credential"}
    want_fp = hmac.new(fp_key, TOKEN.encode(), hashlib.sha256).hexdigest()[:16]
    for how in SENDERS:
        c = creds.get(f"/v1/hookstyle/{how}")
        check(c is not None, f"credential edge of the request sent with {how}: have {sorted(creds)}")
        check_eq((c["method"], c["credential_kind"], c["source"], c["port"]), ("GET", "bearer", "plaintext", 80),
                 f"{how} request")
        check_eq(c["fingerprint"], want_fp, f"{how}: fingerprint = HMAC(key, token)")
    for path in (agent.out_path, agent.err_path):
        with open(path) as f:
            check(TOKEN not in f.read(), f"token absent from {os.path.basename(path)}")
    return status


def test_per_syscall_tracepoints(cleanup, tmp):
    status = _run(cleanup, tmp, "hk1", ["--syscall-hooks", "per-syscall"])
    check_eq(status["syscall_hooks"], "per-syscall", "status: hook style")
    check_eq(status["syscall_hooks_fallback"], None, "asked for: no fallback")
    hook = status["hooks"][0]
    check(hook.startswith("tracepoint/syscalls/sys_exit_{"), f"first hook is the per-syscall set: {hook}")
    attached = hook[hook.index("{"):].strip("{}").split(",")
    for nr in ("openat", "openat2", "open_by_handle_at", "open", "recvfrom", "recvmsg", "write", "writev", "connect",
               "sendto", "sendmsg", "sendmmsg", "pidfd_getfd", "recvmmsg"):
        check(nr in attached, f"sys_exit_{nr} attached: {hook}")
    # a socket's read(2) is seen in sock_recvmsg (this kernel has the
    # tracepoint): no program at the exit of every read on the node
    check("read" not in attached, f"no sys_exit_read: {hook}")
    # files held on entering a monitored cgroup, and when reach starts
    for name in ("tp_btf/cgroup_attach_task", "iter/task_file", "tp_btf/sock_recv_length"):
        check(name in status["hooks"], f"{name} attached: {status['hooks']}")


def test_dispatcher_by_name(cleanup, tmp):
    status = _run(cleanup, tmp, "hk2", ["--syscall-hooks", "dispatcher"])
    check_eq(status["syscall_hooks"], "dispatcher", "status: hook style")
    check_eq(status["syscall_hooks_fallback"], None, "asked for: not a fallback")
    check(status["hooks"][0].startswith("tp_btf/sys_exit "), f"first hook: {status['hooks'][0]}")


def _default_style(cleanup, tmp, wrap=()):
    cg = Cgroup(cleanup, f"reach-e2e-hooks-default-{os.getpid()}")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path], wrap=wrap)
    status = _status(agent)
    agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")
    return status, agent.stderr()


def _deny_syscall(tmp):
    """tests/e2e/clients/deny_syscall.c built: a command with one syscall refused."""
    deny = os.path.join(tmp, "deny_syscall")
    sh("gcc", "-O2", "-Wall", os.path.join(ROOT, "tests", "e2e", "clients", "deny_syscall.c"), "-o", deny)
    return deny


def _compat_syscalls_on(tmp):
    """What this kernel does with 32-bit syscalls, found independently of the
    agent: a 32-bit executable (exit(42) through int $0x80) run, an x32
    getpid asked. Returns (ia32 on, x32 on)."""
    code = bytes([0xb8, 1, 0, 0, 0, 0xbb, 42, 0, 0, 0, 0xcd, 0x80])
    entry = 0x08048000 + 52 + 32
    ehdr = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9) + struct.pack(
        "<HHIIIIIHHHHHH", 2, 3, 1, entry, 52, 0, 0, 52, 32, 1, 0, 0, 0)
    size = 52 + 32 + len(code)
    phdr = struct.pack("<IIIIIIII", 1, 0, 0x08048000, 0x08048000, size, size, 5, 0x1000)
    path = os.path.join(tmp, "elf32-exit42")
    with open(path, "wb") as f:
        f.write(ehdr + phdr + code)
    os.chmod(path, 0o755)
    try:
        ia32 = subprocess.run([path], timeout=10).returncode == 42
    except OSError as e:
        check_eq(e.errno, errno.ENOEXEC, f"exec of a 32-bit ELF: {e}")
        ia32 = False
    libc = ctypes.CDLL(None, use_errno=True)
    r = libc.syscall(ctypes.c_long(0x40000000 | 39))  # x32 getpid
    x32 = r == os.getpid()
    if not x32:
        check_eq(ctypes.get_errno(), errno.ENOSYS, "x32 getpid refused as unknown")
    return ia32, x32


def test_default_style_follows_the_node(cleanup, tmp):
    # the suite mounts tracefs as a node has it (run.py): per-syscall
    # tracepoints unless 32-bit syscalls can be issued here
    ia32, x32 = _compat_syscalls_on(tmp)
    status, err = _default_style(cleanup, tmp)
    compat = status["compat_syscalls"]
    if not ia32 and not x32:
        check_eq(compat, "off", "status: the agent's probe agrees, no 32-bit syscalls on this kernel")
        check_eq(status["syscall_hooks"], "per-syscall", "the default: per-syscall tracepoints")
        check_eq(status["syscall_hooks_fallback"], None, "status: no fallback")
        check(status["hooks"][0].startswith("tracepoint/syscalls/sys_exit_{"), f"first hook: {status['hooks'][0]}")
        check("per-syscall tracepoints unavailable" not in err, "no fallback logged")
        return
    check(("ia32 (" in compat) == ia32 and ("x32 (" in compat) == x32,
          f"status compat_syscalls {compat!r}: the kernel runs ia32 {ia32}, x32 {x32}")
    check_eq(status["syscall_hooks"], "dispatcher", "32-bit syscalls on: the dispatcher sees them")
    check("32-bit syscalls may be issued on this node" in (status["syscall_hooks_fallback"] or ""),
          f"status names the reason: {status['syscall_hooks_fallback']}")


def test_compat_probe_that_cannot_tell_takes_the_dispatcher(cleanup, tmp):
    # a seccomp profile refusing execveat: the agent cannot run its 32-bit
    # probe, so it cannot rule 32-bit syscalls out: the dispatcher, which
    # sees them, and the reason in status; per-syscall asked for by name
    # is then a clear error, not a start blind to them
    deny = _deny_syscall(tmp)
    status, _ = _default_style(cleanup, tmp, wrap=[deny, "execveat"])
    check("ia32: the probe could not tell (exec of a memfd refused)" in status["compat_syscalls"],
          f"status compat_syscalls: {status['compat_syscalls']}")
    check_eq(status["syscall_hooks"], "dispatcher", "unknown 32-bit syscalls: the dispatcher")
    check(status["hooks"][0].startswith("tp_btf/sys_exit "), f"first hook: {status['hooks'][0]}")
    check("32-bit syscalls may be issued on this node (ia32: the probe could not tell" in
          (status["syscall_hooks_fallback"] or ""), f"status names the reason: {status['syscall_hooks_fallback']}")
    from harness import REACHD
    p = subprocess.run([deny, "execveat", REACHD, "--all", "--syscall-hooks", "per-syscall", "--duration", "1",
                        "--state-dir", os.path.join(tmp, "st2"), "--socket", os.path.join(tmp, "s2.sock")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    check(p.returncode != 0, "per-syscall with 32-bit syscalls possibly on does not start")
    check("per-syscall hooks: 32-bit syscalls may be issued on this node" in p.stderr,
          f"the error names 32-bit syscalls: {p.stderr[-400:]}")


def test_default_falls_back_to_the_dispatcher_without_tracefs(cleanup, tmp):
    # the agent in its own mount namespace with tracefs (and debugfs)
    # unmounted: the dispatcher needs neither; the whole workload is
    # recorded the same (_run's checks), and the reason is in status and log
    hide = ["unshare", "-m", "sh", "-c", "umount /sys/kernel/tracing 2>/dev/null; "
            "umount /sys/kernel/debug/tracing 2>/dev/null; umount /sys/kernel/debug 2>/dev/null; exec \"$@\"", "sh"]
    status = _run(cleanup, tmp, "hk3", [], wrap=hide)
    check_eq(status["syscall_hooks"], "dispatcher", "without tracefs: the dispatcher")
    check(status["hooks"][0].startswith("tp_btf/sys_exit "), f"first hook: {status['hooks'][0]}")
    check("tracefs is not mounted at /sys/kernel/tracing" in (status["syscall_hooks_fallback"] or ""),
          f"status names the reason: {status['syscall_hooks_fallback']}")


def test_default_falls_back_to_the_dispatcher_when_perf_event_open_is_refused(cleanup, tmp):
    # tracefs mounted, but a seccomp profile refuses perf_event_open (as
    # CRI-O's and old containerd's did without SYS_ADMIN): a per-syscall
    # attach would fail after the load; auto probes it first
    status, err = _default_style(cleanup, tmp, wrap=[_deny_syscall(tmp), "perf-event-open"])
    check_eq(status["syscall_hooks"], "dispatcher", "perf_event_open refused: the dispatcher")
    check(status["hooks"][0].startswith("tp_btf/sys_exit "), f"first hook: {status['hooks'][0]}")
    why = status["syscall_hooks_fallback"] or ""
    check("perf_event_open of tracepoint syscalls/sys_exit_openat refused: Operation not permitted" in why,
          f"status names the refusal: {why}")
    check("syscall exits on the tp_btf dispatcher (every syscall runs a program): per-syscall tracepoints "
          "unavailable: perf_event_open" in err, f"the fallback is logged: {err[-600:]}")


def test_per_syscall_without_tracefs_is_a_clear_error(cleanup, tmp):
    from harness import REACHD
    p = subprocess.run(["unshare", "-m", "sh", "-c", "umount /sys/kernel/tracing 2>/dev/null; "
                        "umount /sys/kernel/debug/tracing 2>/dev/null; umount /sys/kernel/debug 2>/dev/null; exec \"$@\"", "sh", REACHD, "--all",
                        "--syscall-hooks", "per-syscall", "--duration", "1", "--state-dir", os.path.join(tmp, "st"),
                        "--socket", os.path.join(tmp, "s.sock")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    check(p.returncode != 0, "per-syscall without tracefs does not start")
    check("tracefs is not mounted at /sys/kernel/tracing" in p.stderr, f"the error names tracefs: {p.stderr[-400:]}")


def test_a_refused_x32_number_is_no_road(cleanup, tmp):
    # The dispatcher marks a monitored task's 32-bit syscalls as the blind
    # road compat-syscall. An x32 number this kernel refuses (ENOSYS: x32
    # not built in or off) did nothing: not a road, the identity can pass.
    # (Where x32 or ia32 run, the probe takes the dispatcher and their
    # syscalls are the road: not reachable on a kernel without them.)
    from test_roads import _verify
    ia32, x32 = _compat_syscalls_on(tmp)
    if x32:
        print("SKIP: x32 syscalls run on this kernel: a refused x32 number cannot be made")
        return
    cg = Cgroup(cleanup, f"reach-e2e-hooks-x32-{os.getpid()}")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--syscall-hooks", "dispatcher",
                                 "--identity-rule", f"cgroup:{cg.rel} host/x32-refused"])
    p = cg.python("import ctypes, errno, os\n"
                  "libc = ctypes.CDLL(None, use_errno=True)\n"
                  "r = libc.syscall(ctypes.c_long(0x40000000 | 39))\n"
                  "print(r, ctypes.get_errno(), flush=True)\n"
                  "open('/etc/hostname').read()\n")
    check_eq(p.stdout.split(), ["-1", str(errno.ENOSYS)], "the x32 getpid refused with ENOSYS")
    agent.wait_edge("the workload's python", lambda e: e.get("type") == "tool" and e.get("cgroup") == cg.rel, 15)
    rc, v = _verify(agent, "host/x32-refused", tmp)
    check_eq((rc, v["verdict"]), (0, "pass"), f"a refused x32 number is no gap: {v}")
    check("compat-syscall" not in agent.stderr(), "no compat-syscall road logged")
    agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")
