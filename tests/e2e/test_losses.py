"""A full ring buffer is counted and reported, never silent."""
import json
import os
import signal
import subprocess
import urllib.request

from harness import REACHCTL, Agent, Cgroup, check, check_eq, wait_for

METRICS_PORT = 18709


def test_tiny_ringbuf_flood_counts_losses(cleanup, tmp):
    cg = Cgroup(cleanup, f"reach-e2e-flood-{os.getpid()}")
    d = os.path.join(tmp, "flood")
    os.makedirs(d)
    for i in range(3000):
        with open(os.path.join(d, f"f{i}.key"), "w") as f:
            f.write("x")
    policy = os.path.join(tmp, "policy.yaml")
    with open(policy, "w") as f:
        f.write(f"""apiVersion: reach.dev/v1
kind: ReachPolicy
metadata:
  name: flood
spec:
  identity: host/flood
  secrets: ["{d}/*"]
  tools: ["/**/python3*"]
""")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--ringbuf-bytes", "4096", "--policy", policy,
                                 "--identity-rule", f"cgroup:{cg.rel} host/flood",
                                 "--metrics-addr", f"127.0.0.1:{METRICS_PORT}"])
    # The agent is stopped while the workload opens 3,000 distinct files, so
    # a 4 KiB ring (four events) must overflow; then it drains and reports.
    agent.proc.send_signal(signal.SIGSTOP)
    try:
        cg.python("import os, sys\nfor n in os.listdir(sys.argv[1]): open(os.path.join(sys.argv[1], n)).read()", d)
    finally:
        agent.proc.send_signal(signal.SIGCONT)
    # the loss is visible: /metrics counts it, and verification is
    # inconclusive with a high sensor-blind finding (a flood hides activity)
    def lost_metric():
        text = urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=5).read().decode()
        for line in text.splitlines():
            if line.startswith('reach_events_lost_total{kind="file_open",reason="ringbuf_full"}'):
                return float(line.split()[-1]) or None
        return None
    check(wait_for(lost_metric, "the loss in /metrics", 10) > 0, "reach_events_lost_total counts the loss")
    p = subprocess.run([REACHCTL, "verify", "--socket", agent.socket, "--identity", "host/flood", "-o", "json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    check_eq(p.returncode, 2, f"verify is inconclusive after a loss: {p.stdout[-300:]} {p.stderr}")
    doc = json.loads(p.stdout)
    blind = [f for f in doc["findings"] if f["kind"] == "sensor-blind"]
    check_eq([(f["object"], f["severity"]) for f in blind], [("events-lost", "high")], "the sensor-blind finding")
    check("events lost" in doc["identities"][0]["reasons"], f"the verdict says why: {doc['identities'][0]}")
    summary = agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code after a flood")
    check("other" in summary["losses"], "losses of the maps shared by every kind are reported too")
    lost = summary["losses"]["file_open"]["ringbuf_full"]
    check(lost > 0, "ring-buffer losses counted")
    check_eq(summary["events_lost"], sum(v["ringbuf_full"] for v in summary["losses"].values()), "events_lost total")
    seen = len(agent.summary_edges(cg.rel, "secrets"))
    check(seen < 3000, f"some events must have been lost with a 4 KiB ring, saw {seen}")
    check(seen + lost >= 3000, f"every open either recorded or counted lost: {seen} + {lost}")
    check("events lost because the ring buffer was full" in agent.stderr(), "loss reported on stderr")
