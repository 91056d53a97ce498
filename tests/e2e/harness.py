"""End-to-end harness: real BPF, real cgroups, real workloads.

Every resource a test makes (cgroups, the agent, servers, temp dirs) is
registered for cleanup and removed even when the test fails. Tests wait for
readiness and for results with deadlines, never for a fixed sleep.
"""
import atexit
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REACHD = os.path.join(ROOT, "build", "reachd")
REACHCTL = os.path.join(ROOT, "build", "reachctl")
# The interpreter running the tests is a real binary (not a pyenv shim), so
# workloads exec it directly and its comm is predictable.
PYTHON = os.path.realpath(sys.executable)


class Failure(AssertionError):
    pass


class Skip(Exception):
    """A tool the test needs is not installed: reported as skipped (never a
    pass), with what is missing."""


def need_tools(*tools):
    """Skips the test unless every tool is on PATH (or, given as an absolute
    path, exists)."""
    import shutil
    missing = [t for t in tools if not (os.path.exists(t) if t.startswith("/") else shutil.which(t))]
    if missing:
        raise Skip(f"not installed: {', '.join(missing)} (scripts/deps.sh)")


def check(cond, what):
    if not cond:
        raise Failure(what)


def check_eq(actual, expected, what):
    if actual != expected:
        raise Failure(f"{what}: expected {expected!r}, got {actual!r}")


def cgroup2_mount():
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "cgroup2":
                return parts[1]
    raise Failure("no cgroup2 mount found")


def wait_for(cond, what, timeout=10.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(interval)
    raise Failure(f"timed out after {timeout}s waiting for {what}")


class Cleanup:
    """Runs registered undo steps in reverse order, all of them, always."""

    def __init__(self):
        self.steps = []

    def add(self, fn, *args):
        self.steps.append((fn, args))

    def run(self):
        errors = []
        for fn, args in reversed(self.steps):
            try:
                fn(*args)
            except Exception as e:  # keep undoing the rest
                errors.append(f"{fn.__name__}: {e}")
        self.steps = []
        return errors


class Cgroup:
    def __init__(self, cleanup, name, parent=None):
        base = parent.path if parent else cgroup2_mount()
        self.path = os.path.join(base, name)
        self.rel = self.path[len(cgroup2_mount()):]
        if os.path.exists(self.path):
            remove_cgroup(self.path)
        os.mkdir(self.path)
        cleanup.add(remove_cgroup, self.path)

    def enter_fn(self):
        """preexec_fn that moves the child into this cgroup before exec."""
        procs = os.path.join(self.path, "cgroup.procs")

        def enter():
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
        return enter

    def run(self, argv, check_rc=True, **kw):
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        kw.setdefault("timeout", 60)
        p = subprocess.run(argv, preexec_fn=self.enter_fn(), text=True, **kw)
        if check_rc and p.returncode != 0:
            raise Failure(f"workload {argv[:3]} exited {p.returncode}: {p.stderr[-500:]}")
        return p

    def python(self, code, *args, **kw):
        return self.run([PYTHON, "-c", code, *args], **kw)


def remove_cgroup(path):
    """Kills whatever is left in a cgroup tree and removes it, leaves first."""
    if not os.path.isdir(path):
        return
    for entry in os.listdir(path):
        sub = os.path.join(path, entry)
        if os.path.isdir(sub):
            remove_cgroup(sub)
    deadline = time.monotonic() + 5
    while True:
        try:
            with open(os.path.join(path, "cgroup.procs")) as f:
                pids = [int(x) for x in f.read().split()]
        except FileNotFoundError:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.rmdir(path)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# Agents started by the running test: the runner shows their logs on failure.
AGENTS = []

# The capabilities the agent documents as enough (user/common/caps.h,
# deploy/base/daemonset.yaml). With REACH_E2E_CAPS=only, every agent runs
# under capsh with exactly these (the rest leave the bounding set, so root
# gets no more); otherwise it starts with root's and drops to them
# (--drop-caps). Either way every test runs on the documented privileges.
BASE_CAPS = ["cap_bpf", "cap_perfmon", "cap_sys_ptrace", "cap_dac_read_search"]
CAPS_ONLY = os.environ.get("REACH_E2E_CAPS") == "only"

# perf_event_open(2) of a uprobe (what libbpf's uprobe attach does), on the
# interpreter at offset 0 (no executable mapping covers it: nothing is
# probed); prints the errno, 0 for success.
UPROBE_TRY = r"""
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
t = int(open("/sys/bus/event_source/devices/uprobe/type").read())
path = ctypes.create_string_buffer(os.path.realpath(sys.executable).encode())
attr = struct.pack("IIQQQQQIIQQ", t, 128, 0, 0, 0, 0, 0, 0, 0, ctypes.addressof(path), 0)
attr = ctypes.create_string_buffer(attr + b"\0" * (128 - len(attr)), 128)
fd = libc.syscall(298, attr, -1, 0, -1, 8)
print(0 if fd >= 0 else ctypes.get_errno())
"""


def all_capabilities():
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    p = subprocess.run(["capsh", f"--decode={(1 << (last + 1)) - 1:x}"], stdout=subprocess.PIPE, text=True,
                       check=True)
    return p.stdout.strip().split("=", 1)[1].split(",")


def _uprobe_needs_sys_admin():
    """The measurement the agent makes at start (user/common/caps.c): does
    this kernel refuse a uprobe with BASE_CAPS alone?"""
    drop = ",".join(c for c in all_capabilities() if c not in BASE_CAPS)
    p = subprocess.run(["capsh", f"--drop={drop}", "--", "-c", 'exec "$0" -c "$1"', os.path.realpath(sys.executable),
                        UPROBE_TRY], stdout=subprocess.PIPE, text=True, check=True)
    return int(p.stdout.strip()) in (1, 13)  # EPERM, EACCES


# what the agent documents and keeps: BASE_CAPS, plus cap_sys_admin where
# the kernel refuses uprobes without it
AGENT_CAPS = BASE_CAPS + (["cap_sys_admin"] if _uprobe_needs_sys_admin() else [])


def agent_argv(argv):
    """argv of reachd, under capsh with only AGENT_CAPS in CAPS_ONLY mode."""
    if not CAPS_ONLY:
        return argv
    drop = ",".join(c for c in all_capabilities() if c not in AGENT_CAPS)
    return ["capsh", f"--drop={drop}", "--", "-c", 'exec "$0" "$@"', *argv]


def effective_caps(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                mask = int(line.split()[1], 16)
    p = subprocess.run(["capsh", f"--decode={mask:x}"], stdout=subprocess.PIPE, text=True, check=True)
    names = p.stdout.strip().split("=", 1)[1]
    return sorted(names.split(",")) if names else []


class Agent:
    """reachd under test: started with --events and a ready file."""

    def __init__(self, cleanup, tmp, args, name="reachd", wrap=(), stdout=None):
        """stdout: a file descriptor for the agent's stdout (the events and
        the summary) instead of TMP/NAME.stdout; lines() and stop() then
        have nothing to read: the caller reads it."""
        self.ready = os.path.join(tmp, f"{name}.ready")
        self.out_path = os.path.join(tmp, f"{name}.stdout")
        self.err_path = os.path.join(tmp, f"{name}.stderr")
        # every agent under test keeps its ledger and API socket in the test's tmp
        self.state_dir = os.path.join(tmp, "state")
        self.socket = os.path.join(tmp, "reachd.sock")
        if os.path.exists(self.ready):
            os.unlink(self.ready)
        self.out = open(self.out_path, "w") if stdout is None else None
        self.err = open(self.err_path, "w")
        # wrap: a command that execs the rest (e.g. a mount namespace)
        self.proc = subprocess.Popen(list(wrap) + agent_argv([REACHD, "--events", "--ready-file", self.ready, "--state-dir",
                                                 self.state_dir, "--socket", self.socket, "--drop-caps", *args]),
                                     stdout=self.out if stdout is None else stdout, stderr=self.err)
        cleanup.add(self._kill)
        AGENTS.append(self)
        wait_for(lambda: os.path.exists(self.ready) or self.proc.poll() is not None, "reachd ready", 30)
        if self.proc.poll() is not None:
            raise Failure(f"reachd exited {self.proc.returncode} before ready: {self.stderr()[-800:]}")
        self.summary = None
        self.returncode = None
        self.killed_by_test = False

    def _kill(self):
        rc = self.proc.poll()
        if rc is None:
            self.proc.kill()
            self.proc.wait()
        if self.out:
            self.out.close()
        self.err.close()
        # an agent that died on a signal nobody sent (SIGSEGV, SIGABRT) fails the test
        if rc is not None and rc < 0 and -rc != signal.SIGKILL and not self.killed_by_test:
            raise Failure(f"reachd died on signal {-rc} during the test")

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def lines(self):
        return read_jsonl(self.out_path)

    def edges(self):
        return [e for e in self.lines() if e.get("type") != "summary"]

    def wait_edge(self, what, pred, timeout=10):
        return wait_for(lambda: next((e for e in self.edges() if pred(e)), None), what, timeout)

    def stop(self):
        """SIGTERM, wait, and return the summary it printed."""
        self.proc.send_signal(signal.SIGTERM)
        self.returncode = self.proc.wait(timeout=30)
        check(self.returncode >= 0, f"reachd died on signal {-self.returncode} while stopping")
        self.out.flush()
        summaries = [e for e in self.lines() if e.get("type") == "summary"]
        check_eq(len(summaries), 1, "summary lines printed at exit")
        self.summary = summaries[0]
        return self.summary

    def reachctl(self, *args, check_rc=True):
        """reachctl against this agent's socket; parsed JSON for -o json."""
        p = subprocess.run([REACHCTL, args[0], "--socket", self.socket, *args[1:]], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        if check_rc and p.returncode != 0:
            raise Failure(f"reachctl {' '.join(args)} exited {p.returncode}: {p.stderr}")
        return json.loads(p.stdout) if "json" in args and p.returncode == 0 else p

    def epoch_start(self, identity, version):
        """reachctl epoch start: a pipeline opens a new software version."""
        p = subprocess.run([REACHCTL, "epoch", "start", "--socket", self.socket, "--identity", identity, "--version",
                            version], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        if p.returncode != 0:
            raise Failure(f"reachctl epoch start {identity} {version} exited {p.returncode}: {p.stderr}")

    def summary_edges(self, cgroup_rel, kind):
        for c in self.summary["cgroups"]:
            if c["cgroup"] == cgroup_rel:
                return c[kind]
        return []


def probe_node_first(agent, cg, node):
    """Holds a node process in cg until the agent has probed node's TLS
    (node carries OpenSSL in its 100 MB executable: the probe goes in when
    the agent reads the exec, which a quick client's first request can
    beat). The probe then lingers (--tls-probe-linger, 300 s by default), so
    the test's clients are judged, not raced: the race itself is a gap of
    its own, tested in test_transport_gaps."""
    real = os.path.realpath(node)
    holder = subprocess.Popen([real, "-e", "setTimeout(() => {}, 60000)"], preexec_fn=cg.enter_fn())
    try:
        wait_for(lambda: any("tls: probing" in line and line.rstrip().endswith(f"{real} (openssl)")
                             for line in agent.stderr().splitlines()), "node's TLS probed", 30)
    finally:
        holder.kill()
        holder.wait()


TRACEFS = "/sys/kernel/tracing"


def ensure_tracefs():
    """Mounts tracefs at /sys/kernel/tracing when absent; True if it did.
    A failed mount is said and the suite runs on (the agent falls back to
    its dispatcher; the per-syscall tests then fail and say why)."""
    if os.path.isdir(os.path.join(TRACEFS, "events")):
        return False
    p = sh("mount", "-t", "tracefs", "nodev", TRACEFS, check_rc=False)
    if p.returncode != 0:
        print(f"e2e: cannot mount tracefs at {TRACEFS}: {p.stderr.strip()}", flush=True)
        return False
    return True


def read_jsonl(path):
    """Every whole JSON line of a file ([] while it does not exist): a last
    line without its newline is one the writer is still writing."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip() and line.endswith("\n")]


def make_tmp(cleanup, prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    cleanup.add(shutil.rmtree, d, True)
    return d


def sh(*argv, check_rc=True):
    p = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    if check_rc and p.returncode != 0:
        raise Failure(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.strip()}")
    return p


def start_process(cleanup, argv, **kw):
    """A long-running helper (server) killed at cleanup."""
    kw.setdefault("stdout", subprocess.DEVNULL)
    kw.setdefault("stderr", subprocess.DEVNULL)
    p = subprocess.Popen(argv, **kw)

    def stop():
        if p.poll() is None:
            p.kill()
        p.wait()
    cleanup.add(stop)
    return p


def wait_port(host, port, netns=None, timeout=10):
    """Waits until a TCP server accepts connections (from inside netns if given)."""
    code = f"import socket; socket.create_connection(({host!r}, {port}), timeout=1).close()"
    argv = [PYTHON, "-c", code]
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    wait_for(lambda: subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0,
             f"server {host}:{port}", timeout)


class TestNet:
    """A remote host in its own network namespace, reached over a veth pair:
    198.51.100.2 and 2001:db8:51::2 (documentation ranges), plus the cloud
    metadata address 169.254.169.254. On-link routes only: no default route,
    so nothing in the namespace waits on a resolver it cannot reach."""

    V4, V6, METADATA = "198.51.100.2", "2001:db8:51::2", "169.254.169.254"

    def __init__(self, cleanup, tag):
        self.ns = f"reach-e2e-{tag}"
        self.host_if, self.ns_if = f"rh-{tag}"[:15], f"rn-{tag}"[:15]
        sh("ip", "netns", "del", self.ns, check_rc=False)
        sh("ip", "link", "del", self.host_if, check_rc=False)
        sh("ip", "netns", "add", self.ns)
        cleanup.add(sh, "ip", "netns", "del", self.ns)
        sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        cleanup.add(sh, "ip", "link", "del", self.host_if)  # removes both ends
        sh("ip", "link", "set", self.ns_if, "netns", self.ns)
        sh("ip", "addr", "add", "198.51.100.1/24", "dev", self.host_if)
        sh("ip", "addr", "add", "2001:db8:51::1/64", "dev", self.host_if, "nodad")
        sh("ip", "link", "set", self.host_if, "up")
        sh("ip", "route", "add", f"{self.METADATA}/32", "dev", self.host_if)
        nse = ["ip", "netns", "exec", self.ns]
        sh(*nse, "ip", "link", "set", "lo", "up")
        sh(*nse, "ip", "addr", "add", f"{self.V4}/24", "dev", self.ns_if)
        sh(*nse, "ip", "addr", "add", f"{self.METADATA}/32", "dev", self.ns_if)
        sh(*nse, "ip", "addr", "add", f"{self.V6}/64", "dev", self.ns_if, "nodad")
        sh(*nse, "ip", "link", "set", self.ns_if, "up")
        sh(*nse, "ip", "route", "add", "198.51.100.1/32", "dev", self.ns_if, check_rc=False)
        self.nsexec = nse

    def serve_http(self, cleanup, port=80):
        """python3 http.server on every address of the namespace (dual stack)."""
        start_process(cleanup, self.nsexec + [PYTHON, "-m", "http.server", "--bind", "::", str(port)])
        wait_port(self.V4, port, self.ns)
        wait_port(self.V6, port, self.ns)

    def serve_accept(self, cleanup, port):
        """A bare accept-and-close server: for connect loops."""
        start_process(cleanup, self.nsexec + [PYTHON, os.path.join(ROOT, "tests", "e2e", "accept_server.py"), str(port)])
        wait_port(self.V4, port, self.ns)


_SESSION_DIR = None


def session_dir():
    """A temp dir shared by the tests of this run (removed at exit): for
    what is the same in every test, such as a built test client."""
    global _SESSION_DIR
    if _SESSION_DIR is None:
        _SESSION_DIR = tempfile.mkdtemp(prefix="reach-e2e-session-")
        os.chmod(_SESSION_DIR, 0o755)
        atexit.register(shutil.rmtree, _SESSION_DIR, True)
    return _SESSION_DIR


def go_build(src, out, flags=()):
    """`go build FLAGS -o OUT SRC` (GOPATH mode, no cgo), built once per test
    session: a build with the same source text, path, flags and toolchain
    is a copy of the first (a fresh file: tests may change it), and every
    build shares the session's Go build cache. A fresh GOCACHE per test
    had rebuilt crypto/tls and net/http each time (5-7 s a build)."""
    go = shutil.which("go")
    with open(src, "rb") as f:
        h = hashlib.sha256(f.read())
    version = subprocess.run([go, "version"], stdout=subprocess.PIPE, text=True, check=True, timeout=60).stdout
    h.update(json.dumps([os.path.realpath(src), list(flags), go, version]).encode())
    d = session_dir()
    built = os.path.join(d, "go-" + h.hexdigest()[:32])
    if not os.path.exists(built):
        env = dict(os.environ, GOCACHE=os.path.join(d, "gocache"), GOPATH=os.path.join(d, "gopath"), HOME=d,
                   GO111MODULE="off", CGO_ENABLED="0")
        p = subprocess.run([go, "build", *flags, "-o", built + ".tmp", src], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=300)
        if p.returncode != 0:
            raise Failure(f"go build {os.path.basename(src)} exited {p.returncode}: {p.stderr[-800:]}")
        os.rename(built + ".tmp", built)
    shutil.copy2(built, out)
    return out


def make_test_ca(cleanup, tmp, ip="127.0.0.1"):
    """A throwaway CA and a server certificate for ip, made with the openssl
    CLI in tmp (removed with it). Returns (ca.crt, server.crt, server.key)."""
    d = os.path.join(tmp, "pki")
    os.makedirs(d)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write(f"subjectAltName=IP:{ip},DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    sh("openssl", "req", "-x509", *ec, "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.crt", "-days", "2",
       "-subj", "/CN=reach-test-ca", "-addext", "basicConstraints=critical,CA:TRUE",
       "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    sh("openssl", "req", *ec, "-keyout", f"{d}/server.key", "-out", f"{d}/server.csr", "-subj", f"/CN={ip}")
    sh("openssl", "x509", "-req", "-in", f"{d}/server.csr", "-CA", f"{d}/ca.crt", "-CAkey", f"{d}/ca.key",
       "-CAcreateserial", "-out", f"{d}/server.crt", "-days", "2", "-extfile", ext)
    return f"{d}/ca.crt", f"{d}/server.crt", f"{d}/server.key"


def parse_tables(text):
    """reachctl's edge tables: {"kind": [{"COLUMN": cell}]}, from each
    "KIND (N)" title, its header row and its rows (cells three or more
    spaces apart); a table's row count is checked against its title."""
    tables, lines, i = {}, text.splitlines(), 0
    while i < len(lines):
        m = re.fullmatch(r"([a-z-]+) \((\d+)\)", lines[i])
        if not m:
            i += 1
            continue
        header = re.split(r" {3,}", lines[i + 1].strip())
        rows = []
        for ln in lines[i + 2:i + 2 + int(m.group(2))]:
            cells = re.split(r" {3,}", ln.strip())
            check_eq(len(cells), len(header), f"a row of {m.group(1)} has a cell per column: {ln!r}")
            rows.append(dict(zip(header, cells)))
        tables[m.group(1)] = rows
        i += 2 + int(m.group(2))
    return tables
