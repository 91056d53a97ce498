#!/usr/bin/env python3
"""reach benchmark harness (issue 9, first scenarios).

    bench/run.py            full run (< 10 min on 2 cores): writes bench/results.md and bench/results.json
    bench/run.py --quick    smoke run (< 1 min): writes bench/tmp/quick/results.{md,json}
                            (git-ignored, so a test run never dirties the tree)

Scenarios
  1  syscall overhead: open/read/close of a secret file, loopback connect/close,
     fork+exec /bin/true; configurations `none`, `reachd` (workload monitored)
     and `reachd-unmonitored` (reachd watches another, empty cgroup).
  2  peers on the same open loop: bpftrace one-liner (in-kernel count) and
     opensnoop (libbpf-tools; BCC's opensnoop-bpfcc when it can compile here).
  3  pipeline throughput: distinct-file opens at paced rates, losses and agent
     CPU per 100k events.
  4  memory: agent RSS idle and after the throughput run, BPF map memory.
  5  scaling: 1, 10, 100 concurrent monitored processes on the open loop.

Every overhead is a ratio against `none` measured in the same run: scenarios
1-2 bracket each configuration between two `none` runs (none, A, none, B, ...,
A, B, ... rotated every round), scenario 5 alternates none/reachd, so drift and
a neighbour's load hit them alike. Other engineers may run tests meanwhile:
read the per-round ranges in results.md as the noise floor. Exit status: 0 when every scenario produced data, 1 when
one could not run at all, 2 on bad usage or missing prerequisites.
"""
import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
WORKLOADS = os.path.join(BENCH, "workloads")
REACHD = os.path.join(ROOT, "build", "reachd")
PORTS = range(18200, 18300)
CLK_TCK = os.sysconf("SC_CLK_TCK")
TRACEFS = "/sys/kernel/tracing"

MODES = {
    "full": dict(
        rounds=12, n_open=250000, n_connect=25000, n_exec=1000,
        gen_files=200000, gen_rates=[5000, 10000, 15000, 20000, 30000, 50000, 100000, 200000, 400000, 0],
        gen_seconds=2.0, gen_reps=2, gen_plain=True,
        scale_k=[1, 10, 100], scale_total=1000000, scale_rounds=5,
    ),
    "quick": dict(
        rounds=2, n_open=50000, n_connect=5000, n_exec=200,
        gen_files=20000, gen_rates=[10000, 100000, 0],
        gen_seconds=0.5, gen_reps=1, gen_plain=False,
        scale_k=[1, 10], scale_total=100000, scale_rounds=1,
    ),
}


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- resources

class Cleanup:
    """Undo steps run in reverse order, all of them, also on SIGINT/SIGTERM."""

    def __init__(self):
        self.steps = []

    def add(self, fn, *args):
        self.steps.append((fn, args))

    def run(self):
        while self.steps:
            fn, args = self.steps.pop()
            try:
                fn(*args)
            except Exception as e:  # keep undoing the rest
                log(f"cleanup {fn.__name__}: {e}")


def kill_proc(p):
    """Ends one process this harness started (by its own Popen handle)."""
    if p.poll() is None:
        try:
            p.kill()
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def cgroup2_mount():
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "cgroup2":
                return parts[1]
    raise BenchError("no cgroup2 mount found")


def remove_cgroup(path):
    """Kills what is left in one of our reach-bench-* cgroups and removes it."""
    if not os.path.isdir(path):
        return
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


class Ctx:
    def __init__(self, mode, params):
        self.mode = mode
        self.p = params
        self.cleanup = Cleanup()
        self.cg_root = cgroup2_mount()
        self.tmp = tempfile.mkdtemp(prefix="reach-bench-")
        os.chmod(self.tmp, 0o755)
        self.cleanup.add(shutil.rmtree, self.tmp, True)
        self.bin = os.path.join(BENCH, "tmp", "bin")
        self.seq = 0

    def cgroup(self, role):
        path = os.path.join(self.cg_root, f"reach-bench-{role}-{os.getpid()}")
        remove_cgroup(path)
        os.mkdir(path)
        self.cleanup.add(remove_cgroup, path)
        return path

    def path(self, name):
        self.seq += 1
        return os.path.join(self.tmp, f"{self.seq:04d}-{name}")

    def popen(self, argv, cgroup=None, **kw):
        if cgroup:
            procs = os.path.join(cgroup, "cgroup.procs")

            def enter():
                with open(procs, "w") as f:
                    f.write(str(os.getpid()))
            kw["preexec_fn"] = enter
        p = subprocess.Popen(argv, **kw)
        self.cleanup.add(kill_proc, p)
        return p


def wait_for(cond, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(interval)
    return cond()


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def tail_text(path, n=400):
    s = read_text(path).strip()
    return s[-n:] if s else "(no stderr)"


def last_line(path):
    """The last non-empty line of a possibly large file, without reading it all."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        pos = end
        chunk = 1 << 20
        buf = b""
        while pos > 0:
            step = min(chunk, pos)
            pos -= step
            f.seek(pos)
            buf = f.read(step) + buf
            stripped = buf.rstrip(b"\n")
            i = stripped.rfind(b"\n")
            if i >= 0:
                return stripped[i + 1:].decode()
        return buf.strip().decode()


def count_lines(path):
    n = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 22)
            if not b:
                return n
            n += b.count(b"\n")


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def proc_mem_kb(pid):
    out = {}
    for line in read_text(f"/proc/{pid}/status").splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"):
            out[k] = int(v.split()[0])
    return out


def bpf_map_memlock(pid):
    """Sum of memlock over the BPF maps one process holds open (from fdinfo)."""
    total, n = 0, 0
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(os.path.join(fd_dir, fd)) != "anon_inode:bpf-map":
                continue
        except OSError:
            continue
        info = read_text(f"/proc/{pid}/fdinfo/{fd}")
        for line in info.splitlines():
            if line.startswith("memlock:"):
                total += int(line.split()[1])
                n += 1
    return total, n


# ---------------------------------------------------------------- sensors

class SensorError(Exception):
    pass


class NoSensor:
    name = "none"

    def start(self):
        pass

    def stop(self):
        return {}


class Reachd:
    """build/reachd --events with stdout and stderr to files; SIGTERM ends it."""

    def __init__(self, ctx, name, cgroup, extra=()):
        self.ctx, self.name, self.cgroup, self.extra = ctx, name, cgroup, list(extra)
        self.proc = None

    def start(self):
        c = self.ctx
        self.ready = c.path("reachd.ready")
        self.out_path = c.path("reachd.out")
        self.err_path = c.path("reachd.err")
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.proc = c.popen([REACHD, "--events", "--ready-file", self.ready, "--cgroup", self.cgroup, *self.extra],
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(self.ready) or self.proc.poll() is not None, 30)
        if not os.path.exists(self.ready):
            kill_proc(self.proc)
            raise SensorError(f"reachd did not get ready (exit {self.proc.returncode}): {tail_text(self.err_path)}")
        time.sleep(0.2)  # let start-up work after attaching finish before anything is timed
        self.cpu0 = proc_cpu_s(self.proc.pid)

    def cpu_s(self):
        return proc_cpu_s(self.proc.pid) - self.cpu0

    def wait_idle(self, timeout=30):
        """Waits until the agent's CPU time stops moving (ring buffer drained)."""
        deadline = time.monotonic() + timeout
        last, still = -1.0, 0
        while time.monotonic() < deadline and still < 4:
            time.sleep(0.05)
            cur = proc_cpu_s(self.proc.pid)
            still = still + 1 if cur == last else 0
            last = cur

    def stop(self):
        pid = self.proc.pid
        if self.proc.poll() is not None:
            raise SensorError(f"reachd died during the run (exit {self.proc.returncode}): {tail_text(self.err_path)}")
        res = {"cpu_s": round(self.cpu_s(), 3), **proc_mem_kb(pid)}
        res["map_memlock_bytes"], res["maps"] = bpf_map_memlock(pid)
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            kill_proc(self.proc)
            raise SensorError("reachd did not exit within 120 s of SIGTERM")
        if rc != 0:
            raise SensorError(f"reachd exited {rc}: {tail_text(self.err_path)}")
        try:
            res["summary"] = json.loads(last_line(self.out_path))
        except (ValueError, OSError) as e:
            raise SensorError(f"no JSON summary from reachd: {e}")
        if res["summary"].get("type") != "summary":
            raise SensorError("reachd's last line is not its summary")
        res["lines"] = count_lines(self.out_path)
        os.unlink(self.out_path)  # can be 100+ MB in scenario 3
        return res

    def secret_count(self, summary, cgroup, suffix):
        rel = cgroup[len(self.ctx.cg_root):]
        for c in summary.get("cgroups", []):
            if c["cgroup"] == rel:
                return sum(e["count"] for e in c["secrets"] if e["path"].endswith(suffix))
        return 0


def ensure_tracefs(ctx):
    """Peers attach tracepoints by id, which needs tracefs: mount it if absent
    and unmount it at the end (only if this run mounted it)."""
    if os.path.isdir(os.path.join(TRACEFS, "events")):
        return None
    r = subprocess.run(["mount", "-t", "tracefs", "nodev", TRACEFS], capture_output=True, text=True)
    if r.returncode != 0:
        return f"cannot mount tracefs: {r.stderr.strip()}"
    ctx.cleanup.add(subprocess.run, ["umount", TRACEFS])
    return None


class Peer:
    """A peer tool started as a child, considered attached when `ready_marker`
    appears in its output (plus a settle delay), stopped with SIGINT."""
    settle = 1.0
    ready_timeout = 60

    def __init__(self, ctx):
        self.ctx = ctx
        self.proc = None

    def available(self):
        return shutil.which(self.argv()[0]) is not None or os.path.exists(self.argv()[0])

    def start(self):
        c = self.ctx
        self.out_path = c.path(f"{self.name}.out")
        self.err_path = c.path(f"{self.name}.err")
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.proc = c.popen(self.argv(), stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=self.env())
        ok = wait_for(lambda: self.ready_marker in read_text(self.out_path) or self.proc.poll() is not None,
                      self.ready_timeout, 0.05)
        if self.proc.poll() is not None or not ok:
            kill_proc(self.proc)
            err = (read_text(self.err_path) + read_text(self.out_path)).strip().splitlines()
            why = [l for l in err if "rror" in l or "nable" in l] or err[-2:] or ["no output"]
            raise SensorError(f"{self.name} did not attach (exit {self.proc.returncode}): {why[0].strip()[:300]}")
        time.sleep(self.settle)
        self.cpu0 = proc_cpu_s(self.proc.pid)

    def stop(self):
        if self.proc.poll() is not None:
            raise SensorError(f"{self.name} died during the run: {tail_text(self.err_path)}")
        cpu = proc_cpu_s(self.proc.pid) - self.cpu0
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            kill_proc(self.proc)
        res = {"cpu_s": round(cpu, 3), "seen": self.seen()}
        os.unlink(self.out_path)
        return res

    def env(self):
        return None


class Bpftrace(Peer):
    name = "bpftrace"
    label = "bpftrace (tracepoint sys_enter_openat, comm filter, in-kernel count)"
    ready_marker = "Attaching"
    script = 'tracepoint:syscalls:sys_enter_openat /comm == "bench_open"/ { @[comm] = count(); }'

    def argv(self):
        return ["bpftrace", "-e", self.script]

    def seen(self):
        for line in read_text(self.out_path).splitlines():
            if line.startswith("@[bench_open]:"):
                return int(line.split(":")[1])
        return 0


class Opensnoop(Peer):
    """libbpf-tools' opensnoop (CO-RE, no compiler at start). -n filters by
    name in user space, so every open is sent to its perf buffer: for the
    loop's own opens that is the same per-open cost as a pid filter. stdout
    is line-buffered (stdbuf -oL) as on a terminal, which also lets the
    harness see the header it prints once attached."""
    name = "opensnoop"
    label = "opensnoop (libbpf-tools, -n bench_open, output to a file)"
    ready_marker = "PID"
    settle = 0.5
    path = "/usr/sbin/opensnoop"

    def argv(self):
        return ["stdbuf", "-oL", self.path, "-n", "bench_open"]

    def available(self):
        return os.path.exists(self.path) and shutil.which("stdbuf") is not None

    def seen(self):
        return sum(1 for l in read_text(self.out_path).splitlines() if " bench_open " in l)


class OpensnoopBcc(Opensnoop):
    name = "opensnoop-bpfcc"
    label = "opensnoop-bpfcc (BCC, Python, compiles its C with clang at start)"
    path = "/usr/sbin/opensnoop-bpfcc"
    ready_timeout = 120

    def argv(self):
        return [self.path, "-n", "bench_open"]

    def available(self):
        return os.path.exists(self.path)

    def env(self):
        return dict(os.environ, PYTHONUNBUFFERED="1")


# ---------------------------------------------------------------- workloads

def build_workloads(ctx):
    os.makedirs(ctx.bin, exist_ok=True)
    for name in ("bench_open", "bench_connect", "bench_exec", "bench_gen"):
        src = os.path.join(WORKLOADS, f"{name}.c")
        r = subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", os.path.join(ctx.bin, name), src],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError(f"cannot build {src}: {r.stderr.strip()[-500:]}")


def start_workload(ctx, argv, cgroup):
    return ctx.popen([os.path.join(ctx.bin, argv[0]), *argv[1:]], cgroup=cgroup, cwd=ctx.tmp,
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish_workload(p, timeout=120):
    try:
        out, err = p.communicate(b"g", timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_proc(p)
        raise BenchError(f"workload {p.args[0]} timed out after {timeout} s")
    if p.returncode != 0:
        raise BenchError(f"workload {os.path.basename(p.args[0])} exited {p.returncode}: {err.decode()[-300:]}")
    return json.loads(out.decode().strip().splitlines()[-1])


def run_workload(ctx, argv, cgroup, timeout=120):
    return finish_workload(start_workload(ctx, argv, cgroup), timeout)


def start_server(ctx):
    """The accept-and-close loopback server, on the first free port of our range."""
    for port in PORTS:
        p = ctx.popen([os.path.join(ctx.bin, "bench_connect"), "serve", str(port)],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        line = p.stdout.readline().decode().strip()
        if line == "ready":
            return p, port
        kill_proc(p)
    raise BenchError("no free loopback port in 18200-18299")


# ---------------------------------------------------------------- statistics

def med(xs):
    return statistics.median(xs) if xs else None


def pct(ratio):
    return None if ratio is None else round((ratio - 1.0) * 100.0, 1)


def fmt_pct(p):
    return "n/a" if p is None else f"{p:+.1f} %"


def fmt_ns(ns):
    if ns is None:
        return "n/a"
    if ns >= 100000:
        return f"{ns / 1000:,.0f} µs"
    if ns >= 10000:
        return f"{ns / 1000:,.1f} µs"
    return f"{ns:,.0f} ns"


def paired(rounds, cfg, base="none"):
    """Median and range of the per-round ratio cfg/base (same round only)."""
    rs = [r[cfg] / r[base] for r in rounds if r.get(cfg) and r.get(base)]
    if not rs:
        return None, None, None
    return med(rs), min(rs), max(rs)


# ---------------------------------------------------------------- scenarios 1 and 2

S1_WORKLOADS = ["open", "connect", "exec"]


def scenario_overhead(ctx, results):
    p = ctx.p
    wl_cg = ctx.cgroup("wl")
    idle_cg = ctx.cgroup("idle")
    secret = os.path.join(ctx.tmp, "bench.key")
    with open(secret, "w") as f:
        f.write("not-a-real-key\n")
    server, port = start_server(ctx)
    argv = {
        "open": ["bench_open", secret, str(p["n_open"])],
        "connect": ["bench_connect", str(port), str(p["n_connect"])],
        "exec": ["bench_exec", str(p["n_exec"])],
    }

    peers_info = {}
    peers = []
    tracefs_err = ensure_tracefs(ctx)
    for peer in (Bpftrace(ctx), Opensnoop(ctx), OpensnoopBcc(ctx)):
        info = {"label": peer.label}
        if not peer.available():
            info["status"] = "not installed (scripts/deps.sh --bench installs it)"
        elif tracefs_err:
            info["status"] = tracefs_err
        else:
            try:  # one probe start: a peer that cannot attach here is recorded, not fatal
                peer.start()
                peer.stop()
                info["status"] = "ok"
                peers.append(peer)
            except (SensorError, OSError) as e:
                info["status"] = f"cannot run here: {e}"
        peers_info[peer.name] = info
        log(f"peer {peer.name}: {info['status']}")
    results["s2"] = {"peers": peers_info}

    configs = [NoSensor(), Reachd(ctx, "reachd", wl_cg), Reachd(ctx, "reachd-unmonitored", idle_cg)] + peers
    agent = {c.name: [] for c in configs}
    validation = {c.name: [] for c in configs}
    errors = []
    none = configs[0]
    sensors = configs[1:]
    raw = {w: {c.name: [] for c in configs} for w in S1_WORKLOADS}
    ratios = {w: {c.name: [] for c in sensors} for w in S1_WORKLOADS}
    sequences = []
    for r in range(p["rounds"]):
        # Bracketed baseline: none, A, none, B, none, ... with A, B, ... rotated
        # every round; each run is compared with the mean of the two `none`
        # runs around it, a few seconds apart at most.
        order = sensors[r % len(sensors):] + sensors[:r % len(sensors)]
        seq = [none]
        for c in order:
            seq += [c, none]
        log(f"scenario 1/2: round {r + 1}/{p['rounds']} ({', '.join(c.name for c in order)}, none between)")
        measured = []
        for cfg in seq:
            wls = ["open"] if isinstance(cfg, Peer) else S1_WORKLOADS
            vals = {}
            try:
                cfg.start()
                try:
                    for w in wls:
                        vals[w] = run_workload(ctx, argv[w], wl_cg)["ns_per_iter"]
                finally:
                    res = cfg.stop()
            except (SensorError, BenchError) as e:
                errors.append(f"round {r + 1} {cfg.name}: {e}")
                log(f"  {cfg.name}: {e}")
                measured.append((cfg.name, {}))
                continue
            measured.append((cfg.name, vals))
            if isinstance(cfg, Reachd):
                agent[cfg.name].append(res["cpu_s"])
                expect = p["n_open"] + p["n_open"] // 10 + 1
                seen = cfg.secret_count(res["summary"], wl_cg, "bench.key")
                validation[cfg.name].append(seen)
                if cfg.name == "reachd" and seen < expect:
                    errors.append(f"round {r + 1} reachd: counted {seen} opens of bench.key, expected >= {expect}")
                if cfg.name == "reachd-unmonitored" and seen:
                    errors.append(f"round {r + 1} reachd-unmonitored: saw {seen} opens of an unmonitored workload")
            elif isinstance(cfg, Peer):
                agent[cfg.name].append(res["cpu_s"])
                validation[cfg.name].append(res["seen"])
        for k, (name, vals) in enumerate(measured):
            for w, v in vals.items():
                raw[w][name].append(v)
                if name == "none":
                    continue
                base = [b[1][w] for b in (measured[k - 1], measured[k + 1]) if w in b[1]]
                if base:
                    ratios[w][name].append(v / statistics.mean(base))
        sequences.append([{"config": n, **{w: round(v, 1) for w, v in vals.items()}} for n, vals in measured])

    table = {}
    for w in S1_WORKLOADS:
        table[w] = {}
        base = raw[w]["none"]
        for cfg in configs:
            vals = raw[w][cfg.name]
            if not vals:
                continue
            x = {"median_ns": round(med(vals), 1), "min_ns": round(min(vals), 1), "runs": len(vals)}
            rs = ratios[w].get(cfg.name)
            if rs:
                m = med(rs)
                x.update({"ratio": round(m, 4), "overhead_pct": pct(m),
                          "overhead_range_pct": [pct(min(rs)), pct(max(rs))],
                          "best_of_overhead_pct": pct(min(vals) / min(base)) if base else None})
            table[w][cfg.name] = x
    expect = p["n_open"] + p["n_open"] // 10 + 1
    results["s1"] = {
        "iterations": {"open": p["n_open"], "connect": p["n_connect"], "exec": p["n_exec"]},
        "rounds": p["rounds"], "port": port, "secret_path": secret,
        "runs_per_round_ns": sequences, "table": table,
        "sensor_cpu_s_per_round": {k: v for k, v in agent.items() if v},
        "opens_seen": {k: v for k, v in validation.items() if v}, "opens_expected": expect,
        "errors": errors,
    }
    results["s2"]["table"] = {k: v for k, v in table["open"].items()}
    kill_proc(server)
    ok = all(table[w].get("none") and table[w].get("reachd") for w in S1_WORKLOADS)
    return ok, errors


# ---------------------------------------------------------------- scenarios 3 and 4

def mount_tmpfs(ctx, name, size="2g"):
    d = os.path.join(ctx.tmp, name)
    os.mkdir(d)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "reach-bench", d],
                       capture_output=True, text=True)
    if r.returncode != 0:
        log(f"cannot mount a tmpfs ({r.stderr.strip()}): using {d} on its own filesystem")
        return d, False
    ctx.cleanup.add(subprocess.run, ["umount", "-l", d])
    return d, True


def scenario_throughput(ctx, results):
    p = ctx.p
    gen_cg = ctx.cgroup("gen")
    fs, is_tmpfs = mount_tmpfs(ctx, "gen")
    sets = [("secret", ".key")] + ([("plain", ".dat")] if p["gen_plain"] else [])
    dirs = {}
    for kind, suffix in sets:
        d = os.path.join(fs, kind)
        os.mkdir(d)
        t = time.monotonic()
        r = subprocess.run([os.path.join(ctx.bin, "bench_gen"), "mkfiles", d, str(p["gen_files"]), suffix],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError(f"cannot create the generator's files: {r.stderr.strip()}")
        dirs[kind] = d
        log(f"scenario 3: created {p['gen_files']} {suffix} files in {time.monotonic() - t:.1f} s")

    # Memory at rest: a fresh agent, nothing observed yet.
    idle = Reachd(ctx, "reachd", gen_cg)
    idle.start()
    time.sleep(0.3)
    mem_idle = proc_mem_kb(idle.proc.pid)
    memlock, nmaps = bpf_map_memlock(idle.proc.pid)
    idle.stop()
    results["s4"] = {"idle": {**mem_idle, "map_memlock_bytes": memlock, "maps": nmaps}}

    steps = [("secret", rate) for rate in p["gen_rates"]]
    if p["gen_plain"]:
        steps.append(("plain", 0))
    runs = []
    errors = []
    for rep in range(p["gen_reps"]):
        for kind, rate in (steps if rep % 2 == 0 else list(reversed(steps))):
            n = p["gen_files"] if rate == 0 else min(p["gen_files"], int(rate * p["gen_seconds"]))
            suffix = dict(sets)[kind]
            agent = Reachd(ctx, "reachd", gen_cg)
            try:
                agent.start()
                gen = start_workload(ctx, ["bench_gen", dirs[kind], str(n), suffix, str(rate)], gen_cg)
                time.sleep(0.05)  # let the generator's own start-up opens pass
                cpu0 = proc_cpu_s(agent.proc.pid)
                out = finish_workload(gen)
                agent.wait_idle()
                cpu = proc_cpu_s(agent.proc.pid) - cpu0
                res = agent.stop()
            except (SensorError, BenchError) as e:
                errors.append(f"rep {rep + 1} {kind} rate {rate or 'max'}: {e}")
                log(f"  {kind} {rate or 'max'}: {e}")
                if agent.proc:
                    kill_proc(agent.proc)
                continue
            s = res["summary"]
            ev = s["events"]["file_open"]
            lost = s["losses"]["file_open"]["ringbuf_full"]
            other_losses = {k: v for k, v in s["losses"]["file_open"].items() if k != "ringbuf_full" and v}
            run = {
                "files": kind, "rep": rep + 1, "target_rate": rate, "opens": n,
                "achieved_rate": round(out["rate"]), "events_file_open": ev, "ringbuf_full": lost,
                "events_lost_total": s["events_lost"], "other_losses": other_losses,
                "loss_ratio": round(lost / (ev + lost), 5) if ev + lost else 0.0,
                "edges_printed": res["lines"] - 1, "opens_not_secret": s.get("opens_not_secret"),
                "agent_cpu_s": round(cpu, 3),
                # lost events never reach the agent: CPU is per event it processed
                "cpu_s_per_100k_events": round(cpu / ev * 100000, 3) if ev else None,
                "VmRSS_kb": res.get("VmRSS"), "VmHWM_kb": res.get("VmHWM"),
                "map_memlock_bytes": res["map_memlock_bytes"],
            }
            runs.append(run)
            log(f"scenario 3: {kind} target {rate or 'max'}/s -> {run['achieved_rate']}/s, "
                f"{ev} events, {lost} lost, agent {cpu:.2f} s CPU, RSS {run['VmHWM_kb']} kB")

    # Per target rate (secret files): zero loss only if every repetition had none.
    table = []
    for rate in p["gen_rates"]:
        rs = [r for r in runs if r["files"] == "secret" and r["target_rate"] == rate]
        if not rs:
            continue
        table.append({
            "target_rate": rate, "runs": len(rs),
            "achieved_rate": round(med([r["achieved_rate"] for r in rs])),
            "events": round(med([r["events_file_open"] for r in rs])),
            "lost": max(r["ringbuf_full"] for r in rs),
            "loss_ratio": max(r["loss_ratio"] for r in rs),
            "cpu_s_per_100k_events": med([r["cpu_s_per_100k_events"] for r in rs if r["cpu_s_per_100k_events"]]),
            "VmHWM_kb": max(r["VmHWM_kb"] or 0 for r in rs),
        })
    zero = [t for t in table if t["lost"] == 0]
    best = max(zero, key=lambda t: t["achieved_rate"]) if zero else None
    above = [t for t in table if t["lost"] > 0 and (best is None or t["achieved_rate"] > best["achieved_rate"])]
    plain_runs = [r for r in runs if r["files"] == "plain"]
    plain = None
    if plain_runs:
        plain = {"runs": len(plain_runs), "achieved_rate": round(med([r["achieved_rate"] for r in plain_runs])),
                 "events": round(med([r["events_file_open"] for r in plain_runs])),
                 "lost": max(r["ringbuf_full"] for r in plain_runs),
                 "cpu_s_per_100k_events": med([r["cpu_s_per_100k_events"] for r in plain_runs
                                               if r["cpu_s_per_100k_events"]])}
    secret_cpu = [r["cpu_s_per_100k_events"] for r in runs
                  if r["files"] == "secret" and r["cpu_s_per_100k_events"] and r["events_file_open"] >= 5000]
    results["s3"] = {
        "files": p["gen_files"], "tmpfs": is_tmpfs, "ringbuf_mib": 8, "seconds_per_step": p["gen_seconds"], "reps": p["gen_reps"],
        "runs": runs, "table": table,
        "max_zero_loss_rate": best["achieved_rate"] if best else None,
        "loss_above": [{"achieved_rate": t["achieved_rate"], "loss_ratio": t["loss_ratio"]} for t in above],
        "plain": plain, "cpu_s_per_100k_events": round(med(secret_cpu), 3) if secret_cpu else None,
        "errors": errors,
    }
    # Scenario 4 from the largest run: memory after ~gen_files secret edges.
    big = [r for r in runs if r["files"] == "secret"]
    if big:
        b = max(big, key=lambda r: r["events_file_open"])
        results["s4"]["after_throughput"] = {"edges": b["edges_printed"], "VmHWM_kb": b["VmHWM_kb"],
                                             "VmRSS_kb": b["VmRSS_kb"], "map_memlock_bytes": b["map_memlock_bytes"]}
        if b["edges_printed"] > 0 and mem_idle.get("VmRSS"):
            results["s4"]["rss_bytes_per_edge"] = round((b["VmHWM_kb"] - mem_idle["VmRSS"]) * 1024 / b["edges_printed"])
    return bool(table), errors


# ---------------------------------------------------------------- scenario 5

def scenario_scaling(ctx, results):
    p = ctx.p
    cg = ctx.cgroup("scale")
    secret = os.path.join(ctx.tmp, "scale.key")
    with open(secret, "w") as f:
        f.write("not-a-real-key\n")
    configs = [NoSensor(), Reachd(ctx, "reachd", cg)]
    data = {k: [] for k in p["scale_k"]}
    errors = []
    for r in range(p["scale_rounds"]):
        for k in p["scale_k"]:
            row = {}
            order = configs if (r + k) % 2 == 0 else list(reversed(configs))
            for cfg in order:
                per = max(1, p["scale_total"] // k)
                try:
                    cfg.start()
                    try:
                        procs = [start_workload(ctx, ["bench_open", secret, str(per)], cg) for _ in range(k)]
                        outs = [finish_workload(pr) for pr in procs]
                    finally:
                        cfg.stop()
                except (SensorError, BenchError) as e:
                    errors.append(f"round {r + 1} k={k} {cfg.name}: {e}")
                    continue
                span = max(o["t1"] for o in outs) - min(o["t0"] for o in outs)
                row[cfg.name] = span / (per * k)
            data[k].append(row)
        log(f"scenario 5: round {r + 1}/{p['scale_rounds']} done")
    table = []
    for k in p["scale_k"]:
        m, lo, hi = paired(data[k], "reachd")
        table.append({"processes": k, "none_ns": med([x["none"] for x in data[k] if "none" in x]),
                      "reachd_ns": med([x["reachd"] for x in data[k] if "reachd" in x]),
                      "overhead_pct": pct(m), "overhead_range_pct": [pct(lo), pct(hi)] if m else None})
    results["s5"] = {"total_opens": p["scale_total"], "rounds": p["scale_rounds"], "per_round_ns": data,
                     "table": table, "errors": errors}
    return all(t["overhead_pct"] is not None for t in table), errors


# ---------------------------------------------------------------- report

def cpu_times():
    """(busy, steal, total) jiffies of all CPUs from /proc/stat."""
    f = [int(x) for x in read_text("/proc/stat").splitlines()[0].split()[1:]]
    idle = f[3] + f[4]  # idle + iowait
    steal = f[7] if len(f) > 7 else 0
    total = sum(f[:8])
    return total - idle - steal, steal, total


def environment():
    def cmd(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=10).stdout.strip()
        except Exception:
            return ""
    cpu = ""
    for line in read_text("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    others = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            comm = read_text(f"/proc/{pid}/comm").strip()
            if comm in ("reachd", "bpftrace", "opensnoop"):
                others.append(comm)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "kernel": platform.release(), "cpu": cpu,
        "cores": os.cpu_count(), "loadavg_at_start": read_text("/proc/loadavg").split()[:3],
        "commit": cmd(["git", "describe", "--always", "--dirty"]), "reachd": cmd([REACHD, "--version"]),
        "other_sensors_running_at_start": others,
    }


def cell(x):
    """'1,112 ns **+29.4 %** (best +31.4 %; rounds -19.7..+56.8)' for one configuration."""
    rng = x.get("overhead_range_pct") or [None, None]
    return (f"{fmt_ns(x['median_ns'])} **{fmt_pct(x.get('overhead_pct'))}** (best {fmt_pct(x.get('best_of_overhead_pct'))};"
            f" rounds {fmt_pct(rng[0])}..{fmt_pct(rng[1])})")


def render_summary(res, a):
    s1, s2, s3, s4, s5 = (res.get(k) for k in ("s1", "s2", "s3", "s4", "s5"))
    rows = []
    if s1:
        for w, what in (("open", "open+read+close of a secret file"), ("connect", "loopback connect+close"),
                        ("exec", "fork+exec /bin/true")):
            t = s1["table"].get(w, {})
            for c, who in (("reachd", "monitored"), ("reachd-unmonitored", "not monitored (rest of the node)")):
                if t.get(c) and t.get("none"):
                    rows.append((f"{what}, {who}", f"{fmt_ns(t['none']['median_ns'])} → {fmt_ns(t[c]['median_ns'])}",
                                 f"{fmt_pct(t[c].get('overhead_pct'))} (best-of {fmt_pct(t[c].get('best_of_overhead_pct'))})"))
    if s2:
        t = s2.get("table", {})
        for name, info in s2["peers"].items():
            if t.get(name):
                rows.append((f"same open loop under {name}", fmt_ns(t[name]["median_ns"]),
                             f"{fmt_pct(t[name].get('overhead_pct'))} (best-of {fmt_pct(t[name].get('best_of_overhead_pct'))})"))
            else:
                st = info["status"]
                why = st.split(": ")[-1].split(". ")[0] if st.startswith("cannot run") else st
                rows.append((f"same open loop under {name}", "not run", why))
    if s3:
        best = s3["max_zero_loss_rate"]
        rows.append(("highest distinct-secret-file open rate with zero loss (2 s sustained)" if s3["seconds_per_step"] >= 2
                     else "highest distinct-secret-file open rate with zero loss",
                     "none" if best is None else f"{best:,}/s", "; ".join(
                         f"{x['loss_ratio'] * 100:.1f} % lost at {x['achieved_rate']:,}/s" for x in s3["loss_above"][:2])
                     or "no loss at any rate"))
        if s3.get("cpu_s_per_100k_events"):
            c = s3["cpu_s_per_100k_events"]
            rows.append(("agent CPU per 100k secret events", f"{c:.2f} s", f"≈ {100000 / c:,.0f} events/s per core"))
    if s4:
        i = s4["idle"]
        rows.append(("agent memory at rest", f"RSS {i.get('VmRSS', 0) / 1024:.1f} MiB",
                     f"+ {i['map_memlock_bytes'] / 1048576:.1f} MiB BPF maps"))
        if "rss_bytes_per_edge" in s4:
            rows.append(("agent memory per secret edge held", f"≈ {s4['rss_bytes_per_edge']:,} B",
                         f"peak RSS {s4['after_throughput']['VmHWM_kb'] / 1024:.1f} MiB at "
                         f"{s4['after_throughput']['edges']:,} edges"))
    if s5:
        for t in s5["table"]:
            rows.append((f"{t['processes']} concurrent monitored open loops", f"{fmt_ns(t['none_ns'])} → "
                         f"{fmt_ns(t['reachd_ns'])} per open", fmt_pct(t["overhead_pct"])))
    if not rows:
        return
    a("## Summary")
    a("")
    a("| measurement | value | overhead / note |")
    a("| --- | --- | --- |")
    for r in rows:
        a("| " + " | ".join(r) + " |")
    a("")


def render_md(res):
    env = res["env"]
    L = []
    a = L.append
    a("# reach benchmark results")
    a("")
    a(f"Mode **{res['mode']}**, {env['date']}, wall time {res['wall_s']:.0f} s. Kernel {env['kernel']}, "
      f"{env['cores']} × {env['cpu']}, {env['reachd'] or 'reachd ?'} (commit {env['commit']}). "
      f"Load average at start {' '.join(env['loadavg_at_start'])}, at end {' '.join(env.get('loadavg_at_end', []))}"
      + (f"; other sensors running at start: {', '.join(env['other_sensors_running_at_start'])}"
         if env["other_sensors_running_at_start"] else "") + ".")
    a("")
    a("Regenerate with `make bench` (`python3 bench/run.py`; `--quick` for a smoke run that writes to")
    a("bench/tmp/quick/). Times are medians over runs. Scenarios 1 and 2 run `none, A, none, B, none, ...`")
    a("with A, B, ... rotated every round; an overhead is the median over rounds of each run's ratio to the")
    a("mean of the two `none` runs around it (seconds apart), so drift and a neighbour's load cancel out as far")
    a("as they can. *best* is the ratio of the fastest runs (noise only ever adds time); *rounds* is the lowest")
    a("and highest per-round ratio: when they straddle zero, the difference is within this run's noise.")
    st = env.get("cpu_share_during_run")
    if st:
        a(f"During the run the machine's CPUs were {st['busy_pct']:.0f} % busy (this benchmark included) and "
          f"{st['steal_pct']:.1f} % stolen by the hypervisor.")
    a("")
    render_summary(res, a)
    s1 = res.get("s1")
    if s1:
        a("## 1. Syscall overhead on a monitored workload")
        a("")
        it = s1["iterations"]
        a(f"C loops built with `gcc -O2` (bench/workloads/), {s1['rounds']} rounds: `open` = open+read+close of "
          f"`bench.key` ({it['open']:,}/run; a built-in secret pattern, so reachd counts every open in its "
          f"dedup map), `connect` = socket+connect+close to a loopback server on port {s1['port']} "
          f"({it['connect']:,}/run), `exec` = fork+exec `/bin/true`+wait ({it['exec']:,}/run). "
          "`reachd-unmonitored`: reachd watches an empty cgroup and the workload runs outside it, i.e. the "
          "cost to every other process on the node (reachd's programs run on every syscall exit and check "
          "the cgroup first). All three configurations put the workload in the same cgroup.")
        a("")
        a("| workload (per iteration) | none | reachd | reachd-unmonitored |")
        a("| --- | --- | --- | --- |")
        for w in S1_WORKLOADS:
            t = s1["table"].get(w, {})
            cells = []
            for c in ("none", "reachd", "reachd-unmonitored"):
                x = t.get(c)
                if not x:
                    cells.append("failed")
                elif c == "none":
                    cells.append(fmt_ns(x["median_ns"]))
                else:
                    cells.append(cell(x))
            a(f"| {w} | " + " | ".join(cells) + " |")
        a("")
        cpu = s1["sensor_cpu_s_per_round"]
        if cpu.get("reachd"):
            a(f"reachd's own CPU per round (all three workloads): median {med(cpu['reachd']):.2f} s monitored, "
              f"{med(cpu.get('reachd-unmonitored') or [0]):.2f} s unmonitored. Opens of bench.key counted by "
              f"reachd (kernel dedup count) per round: {', '.join(f'{x:,}' for x in s1['opens_seen'].get('reachd', []))}"
              f" (expected {s1['opens_expected']:,} with warm-up).")
            a("")
        ex = s1["table"].get("exec", {})
        if ex.get("reachd") and (ex["reachd"].get("overhead_pct") or 0) < -2:
            a("A monitored fork+exec loop coming out *faster* is not a speed-up from reachd: the exec events wake "
              "the agent on the other vCPU, which likely keeps it out of idle and makes the parent's wake-up "
              "from waitpid cheaper on this VM. Read it as ‘no measurable cost’.")
            a("")
        if s1["errors"]:
            a("Errors: " + "; ".join(s1["errors"]))
            a("")
    s2 = res.get("s2")
    if s2:
        a("## 2. Peers on the same open loop")
        a("")
        a("Same `open` loop, same rounds, rotated with the configurations above (peers run the open workload "
          "only). Peers attach tracepoints by id, so tracefs is mounted for them (and unmounted after, when "
          "this run mounted it). *Seen* checks that each tool was attached for the whole loop.")
        a("")
        a("| tool | status | ns/open and overhead vs none | opens seen per run | tool CPU per run |")
        a("| --- | --- | --- | --- | --- |")
        t = s2.get("table", {})
        s1v = (s1 or {}).get("opens_seen", {})
        s1c = (s1 or {}).get("sensor_cpu_s_per_round", {})
        exp = (s1 or {}).get("opens_expected", 0)
        rows = [("reachd", "reachd (tp_btf sys_exit, cgroup filter, in-kernel dedup)", "ok")]
        rows += [(k, v["label"], v["status"]) for k, v in s2["peers"].items()]
        for name, label, status in rows:
            x = t.get(name)
            if x:
                seen = s1v.get(name, [])
                seen_s = f"{med(seen):,.0f} of {exp:,}" if seen else "n/a"
                cpu_s = f"{med(s1c[name]):.2f} s" if s1c.get(name) else "n/a"
                if name == "reachd":
                    cpu_s += " (3 workloads)"
                a(f"| {label} | {status} | {cell(x)} | {seen_s} | {cpu_s} |")
            else:
                a(f"| {label} | {status} | n/a | n/a | n/a |")
        a("")
    s3 = res.get("s3")
    if s3:
        a("## 3. Pipeline throughput")
        a("")
        a(f"A generator in the monitored cgroup opens distinct files (pre-created, {s3['files']:,} `*.key` in a "
          f"{'tmpfs' if s3['tmpfs'] else 'plain directory'}) at a paced target rate for {s3['seconds_per_step']} s "
          f"per step (capped at the file count; `max` = unpaced), a fresh reachd per step, {s3['reps']} "
          "repetition(s), order reversed in the second. Every open is a new kernel edge and every `*.key` is a "
          "secret, so each event goes the whole way: ring buffer, path resolution, catalogue match, edge record "
          "and one JSON line (`--events` with stdout to a file, so the printing cost is included). Lost = "
          "`losses.file_open.ringbuf_full` (worst repetition), loss ratio = lost / (events + lost). Agent CPU = "
          "utime+stime from /proc/PID/stat from the generator's start until the agent went idle (drained), "
          "before SIGTERM, divided by the events it processed.")
        a("")
        a("| target rate | achieved | events | lost | loss ratio | agent CPU / 100k events | agent peak RSS |")
        a("| --- | --- | --- | --- | --- | --- | --- |")
        for t in s3["table"]:
            cpu = t["cpu_s_per_100k_events"]
            rate = "max" if t["target_rate"] == 0 else f"{t['target_rate']:,}/s"
            a(f"| {rate} | {t['achieved_rate']:,}/s | {t['events']:,} | {t['lost']:,} | "
              f"{t['loss_ratio'] * 100:.2f} % | {'n/a' if cpu is None else '%.2f s' % cpu} | "
              f"{t['VmHWM_kb'] / 1024:.1f} MiB |")
        a("")
        best = s3["max_zero_loss_rate"]
        best_s = "none" if best is None else f"{best:,} opens/s"
        a(f"Highest rate with zero loss: **{best_s}**."
          + ("" if not s3["loss_above"] else " Above it: " + ", ".join(
              f"{x['loss_ratio'] * 100:.1f} % lost at {x['achieved_rate']:,}/s" for x in s3["loss_above"]) + ".")
          + (" No step lost events: the ceiling was not reached (the generator's own open rate is the limit)."
             if not s3["loss_above"] else ""))
        c = s3.get("cpu_s_per_100k_events")
        if c:
            a("")
            a(f"The agent needs about {c:.2f} s of CPU per 100k secret events, so one core drains about "
              f"{100000 / c:,.0f} events/s; the {s3['ringbuf_mib']} MiB ring buffer absorbs a burst above that "
              "only until it is full, after which a sustained rate loses the excess (the `events` column "
              "at high rates is what was drained during the step plus what the ring buffer held).")
        p = s3.get("plain")
        if p:
            a("")
            a(f"For comparison, unpaced opens of files that match no secret pattern (`*.dat`: still one event "
              f"each, but no edge and no JSON line), {p['runs']} run(s): {p['achieved_rate']:,}/s, "
              f"{p['events']:,} events, {p['lost']:,} lost, {p['cpu_s_per_100k_events']:.2f} s agent CPU "
              "per 100k events: most of the per-event cost is before the edge is stored or printed.")
        if s3["errors"]:
            a("")
            a("Errors: " + "; ".join(s3["errors"]))
        a("")
    s4 = res.get("s4")
    if s4:
        a("## 4. Memory")
        a("")
        i = s4["idle"]
        a(f"Agent at rest: RSS {i.get('VmRSS', 0) / 1024:.1f} MiB; kernel side {i['map_memlock_bytes'] / 1048576:.1f} "
          f"MiB of BPF maps ({i['maps']} maps, `memlock` from /proc/PID/fdinfo, the 8 MiB ring buffer included).")
        t = s4.get("after_throughput")
        if t:
            a(f"After the throughput step that stored the most edges ({t['edges']:,} secret edges held): peak RSS "
              f"{t['VmHWM_kb'] / 1024:.1f} MiB"
              + (f", about {s4['rss_bytes_per_edge']:,} bytes per edge" if "rss_bytes_per_edge" in s4 else "")
              + f"; BPF maps {t['map_memlock_bytes'] / 1048576:.1f} MiB (fixed-size maps, LRU dedup).")
        a("")
    s5 = res.get("s5")
    if s5:
        a("## 5. Scaling with monitored processes")
        a("")
        a(f"N concurrent copies of the open loop in the monitored cgroup share {s5['total_opens']:,} opens of one "
          f"secret file; time per open = makespan (first loop start to last loop end, from the loops' own "
          f"clocks) / opens, {s5['rounds']} round(s), `none` and `reachd` alternated. On 2 cores, N ≥ 2 "
          "loops run in parallel and all hit the same dedup entry, so this shows contention on it as well "
          "as per-process bookkeeping (fork/exec/exit events, process tree).")
        a("")
        a("| processes | none | reachd | overhead |")
        a("| --- | --- | --- | --- |")
        for t in s5["table"]:
            rng = t["overhead_range_pct"] or [None, None]
            a(f"| {t['processes']} | {fmt_ns(t['none_ns'])} | {fmt_ns(t['reachd_ns'])} | "
              f"**{fmt_pct(t['overhead_pct'])}** (rounds {fmt_pct(rng[0])}..{fmt_pct(rng[1])}) |")
        if s5["errors"]:
            a("")
            a("Errors: " + "; ".join(s5["errors"]))
        a("")
    a("## Not measured yet")
    a("")
    for line in res["not_done"]:
        a(f"- {line}")
    if res["failed"]:
        a("")
        a("## Failed scenarios")
        a("")
        for k, v in res["failed"].items():
            a(f"- {k}: {v}")
    a("")
    return "\n".join(L)


NOT_DONE = [
    "Egress and DNS: the connect loop measures whatever hooks build/reachd attaches today; there is no DNS "
    "workload and no check that reachd reported the connections.",
    "Scenario 4 is a snapshot (RSS at rest and after the largest throughput step, BPF map memlock): no soak "
    "run, no growth over hours, no kernel slab accounting beyond map memlock.",
    "Scenario 5 scales concurrent processes in one cgroup only: 1 -> 100 monitored cgroups (cgroup-verdict "
    "cache misses), deep or long-lived process trees and --all mode are not measured.",
    "No sweeps of --ringbuf-bytes / --dedup-entries, no pinned-CPU runs (taskset), no per-syscall latency "
    "distributions (medians of loop averages only).",
    "opensnoop-bpfcc (BCC) needs kernel headers or CONFIG_IKHEADERS to compile its program; on a kernel "
    "without them scenario 2 records why instead of a number.",
]


def main():
    ap = argparse.ArgumentParser(description="reach benchmark harness")
    ap.add_argument("--quick", action="store_true", help="smoke run under a minute")
    ap.add_argument("--out-dir", help="where results.md and results.json go "
                    "(default bench/ for a full run, bench/tmp/quick/ for --quick)")
    ap.add_argument("--only", help="comma-separated scenarios to run: 1 (with 2), 3 (with 4), 5")
    args = ap.parse_args()
    mode = "quick" if args.quick else "full"
    out_dir = args.out_dir or (os.path.join(BENCH, "tmp", "quick") if args.quick else BENCH)
    only = set((args.only or "1,3,5").split(","))

    if os.geteuid() != 0:
        print("bench: must run as root (BPF, cgroups, tmpfs)", file=sys.stderr)
        return 2
    if not os.access(REACHD, os.X_OK):
        print(f"bench: {REACHD} not found: run `make all` first", file=sys.stderr)
        return 2
    if not shutil.which("gcc"):
        print("bench: gcc not found: run scripts/deps.sh --bench", file=sys.stderr)
        return 2

    t_start = time.monotonic()
    cpu_start = cpu_times()
    ctx = Ctx(mode, MODES[mode])

    def on_signal(sig, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)

    results = {"mode": mode, "params": ctx.p, "env": environment(), "failed": {}, "errors": {}}
    scenarios = [("1", "scenario 1+2 (syscall overhead, peers)", scenario_overhead),
                 ("3", "scenario 3+4 (throughput, memory)", scenario_throughput),
                 ("5", "scenario 5 (scaling)", scenario_scaling)]
    try:
        build_workloads(ctx)
        for key, name, fn in scenarios:
            if key not in only:
                continue
            t = time.monotonic()
            log(f"{name}: start")
            try:
                ok, errors = fn(ctx, results)
                if not ok:
                    results["failed"][name] = "; ".join(errors[:3]) or "no measurement"
            except (BenchError, SensorError, OSError) as e:
                results["failed"][name] = str(e)
            log(f"{name}: {time.monotonic() - t:.0f} s" + (" FAILED" if name in results["failed"] else ""))
    except KeyboardInterrupt:
        log("interrupted")
        ctx.cleanup.run()
        return 130
    except BenchError as e:
        results["failed"]["setup"] = str(e)
    finally:
        ctx.cleanup.run()

    results["wall_s"] = round(time.monotonic() - t_start, 1)
    results["env"]["loadavg_at_end"] = read_text("/proc/loadavg").split()[:3]
    busy, steal, total = (b - a for a, b in zip(cpu_start, cpu_times()))
    if total > 0:
        results["env"]["cpu_share_during_run"] = {"busy_pct": round(100 * busy / total, 1),
                                                  "steal_pct": round(100 * steal / total, 2)}
    results["not_done"] = NOT_DONE
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=1, sort_keys=False)
        f.write("\n")
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(render_md(results))
    log(f"wrote {out_dir}/results.md and results.json in {results['wall_s']:.0f} s")
    for k, v in results["failed"].items():
        log(f"FAILED {k}: {v}")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
