"""/healthz follows the ring buffer's drain (issue 21): when the agent's
main loop stops draining the kernel's events, /healthz turns 503 after
--healthz-stall-s, although the HTTP endpoint still answers /metrics and
/readyz; once the drain runs again it is 200, and nothing was lost.

The drain is stalled the way it stalls in production: the agent's --events
stdout is a pipe whose reader stops reading (a log shipper that hangs). The
test holds the read end; a pipe of one page fills after a few edges and the
agent's write blocks inside the drain.

Ports: 20600 (agent metrics)."""
import fcntl
import json
import os
import signal
import threading
import urllib.error
import urllib.request

from harness import Agent, Cgroup, check, check_eq, wait_for

PORT = 20600
F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ (Python >= 3.10 names it)
N_KEYS = 200


class Pump:
    """Reads a pipe into memory while it is not paused."""

    def __init__(self, fd):
        self.fd = fd
        self.data = bytearray()
        self.lock = threading.Lock()
        self.go = threading.Event()
        self.go.set()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            self.go.wait()
            chunk = os.read(self.fd, 65536)
            if not chunk:
                break
            with self.lock:
                self.data += chunk
        self.done.set()

    def pause(self):
        self.go.clear()

    def resume(self):
        self.go.set()

    def lines(self):
        with self.lock:
            text = bytes(self.data).decode(errors="replace")
        return [json.loads(line) for line in text.split("\n")[:-1] if line.strip()]


def _get(path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_healthz_fails_while_the_drain_is_stalled_and_recovers(cleanup, tmp):
    cg = Cgroup(cleanup, f"reach-e2e-health-{os.getpid()}")
    keys = os.path.join(tmp, "keys")
    os.makedirs(keys)
    paths = []
    for i in range(N_KEYS):
        paths.append(os.path.join(keys, f"stall-{i:03d}.key"))
        with open(paths[-1], "w") as f:
            f.write("x\n")
    r, w = os.pipe()
    cleanup.add(os.close, r)
    fcntl.fcntl(w, F_SETPIPE_SZ, 4096)
    pump = Pump(r)
    cleanup.add(pump.resume)  # a failed test must not leave the agent blocked on its stdout
    try:
        agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--metrics-addr", f"127.0.0.1:{PORT}",
                                     "--healthz-stall-s", "2"], stdout=w)
    finally:
        os.close(w)  # the agent holds the write end: EOF when it exits
    check_eq(wait_for(lambda: (lambda s: s if s[0] == 200 else None)(_get("/healthz")), "/healthz 200", 10),
             (200, "ok\n"), "/healthz while draining")

    # the reader stops: the agent's writes of new edges block in the drain
    pump.pause()
    cg.python("import sys\nfor p in sys.argv[1:]:\n    open(p).read()", *paths)
    status, body = wait_for(lambda: (lambda s: s if s[0] == 503 else None)(_get("/healthz")),
                            "/healthz 503 while the drain is stalled", 30)
    check("ring buffer not drained for" in body, f"/healthz says why: {body!r}")
    # whatever else still answers, liveness fails
    check_eq(_get("/readyz"), (200, "ready\n"), "/readyz during the stall")
    status, metrics = _get("/metrics")
    check_eq(status, 200, "/metrics during the stall")
    check("reach_events_total" in metrics, "/metrics serves its exposition during the stall")

    # the reader comes back: the drain runs again and /healthz recovers
    pump.resume()
    wait_for(lambda: _get("/healthz") == (200, "ok\n"), "/healthz 200 after the stall", 30)
    # every read made during the stall was recorded
    want = set(paths)
    wait_for(lambda: want <= {e.get("path") for e in pump.lines() if e.get("type") == "secret"},
             f"all {N_KEYS} reads made during the stall in the events", 30)

    agent.proc.send_signal(signal.SIGTERM)
    check_eq(agent.proc.wait(timeout=30), 0, "reachd exit code")
    check(pump.done.wait(10), "the agent's stdout closed")
    summaries = [e for e in pump.lines() if e.get("type") == "summary"]
    check_eq(len(summaries), 1, "summary lines printed at exit")
    lost = {k: v for k, v in summaries[0].items() if "lost" in k and isinstance(v, int) and v}
    check_eq(lost, {}, "no events lost during the stall")
