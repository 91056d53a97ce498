"""A full ring buffer is counted and reported, never silent."""
import os
import signal

from harness import Agent, Cgroup, check, check_eq


def test_tiny_ringbuf_flood_counts_losses(cleanup, tmp):
    cg = Cgroup(cleanup, f"reach-e2e-flood-{os.getpid()}")
    d = os.path.join(tmp, "flood")
    os.makedirs(d)
    for i in range(3000):
        with open(os.path.join(d, f"f{i}.key"), "w") as f:
            f.write("x")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--ringbuf-bytes", "4096"])
    # The agent is stopped while the workload opens 3,000 distinct files, so
    # a 4 KiB ring (four events) must overflow; then it drains and reports.
    agent.proc.send_signal(signal.SIGSTOP)
    try:
        cg.python("import os, sys\nfor n in os.listdir(sys.argv[1]): open(os.path.join(sys.argv[1], n)).read()", d)
    finally:
        agent.proc.send_signal(signal.SIGCONT)
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
