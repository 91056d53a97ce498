"""Bad input never stalls observation (issue 21): a policy nested 100,000
levels deep, dropped into the watched policy directory, is refused at the
line and column of its 65th level with the last good policies kept, while
a secret read right after it is recorded and `reachctl status` answers.

Ports: none."""
import os

from harness import Agent, Cgroup, check, check_eq, wait_for

IDENTITY = "host/badpolicy"
GOOD = f"""apiVersion: reach.dev/v1
kind: ReachPolicy
metadata:
  name: good
spec:
  identity: {IDENTITY}
  secrets: []
  tools: ["/**/python3*"]
"""


def test_deeply_nested_policy_is_refused_and_reads_are_still_seen(cleanup, tmp):
    cg = Cgroup(cleanup, f"reach-e2e-badpolicy-{os.getpid()}")
    pdir = os.path.join(tmp, "policies")
    os.makedirs(pdir)
    with open(os.path.join(pdir, "good.yaml"), "w") as f:
        f.write(GOOD)
    secret = os.path.join(tmp, "keys", "during-reload.key")
    os.makedirs(os.path.dirname(secret))
    with open(secret, "w") as f:
        f.write("x\n")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--identity-rule", f"cgroup:{cg.rel} {IDENTITY}",
                                 "--policy", pdir])

    n = 100000
    bad = os.path.join(pdir, "nested.yaml")
    with open(bad + ".tmp", "w") as f:
        f.write(f"# line 1\n# line 2\nspec: {'[' * n}{']' * n}\n")
    os.rename(bad + ".tmp", bad)
    cg.python("import sys; open(sys.argv[1]).read()", secret)

    # refused where the 65th level opens: line 3, after "spec: " and 63 '['
    want = f"{bad}:3:{len('spec: ') + 63 + 1}: nested deeper than 64 levels"
    wait_for(lambda: want in agent.stderr(), f"the refusal '{want}'", 30)
    check("keeping the last good policies" in agent.stderr(), "the last good set is kept")
    # the read during the reload was drained and recorded
    e = agent.wait_edge("the secret read during the reload",
                        lambda e: e.get("type") == "secret" and e["path"] == secret, 15)
    check_eq(e["cgroup"], cg.rel, "the read's cgroup")
    status = agent.reachctl("status", "-o", "json")
    check(isinstance(status, dict) and status, "reachctl status answers")
    summary = agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")
    lost = {k: v for k, v in summary.items() if "lost" in k and isinstance(v, int) and v}
    check_eq(lost, {}, "no events lost")


def test_a_policy_load_that_hangs_never_delays_observation(cleanup, tmp):
    """A policy path whose open and read hang (a FIFO nobody writes: a hung
    file system). The load runs on the policy loader's thread: while it is
    blocked, a secret read is recorded and `reachctl status` answers; when
    the writer comes, the new policy is applied."""
    cg = Cgroup(cleanup, f"reach-e2e-hungpolicy-{os.getpid()}")
    pdir = os.path.join(tmp, "policies")
    os.makedirs(pdir)
    with open(os.path.join(pdir, "good.yaml"), "w") as f:
        f.write(GOOD)
    slow = os.path.join(tmp, "slow.yaml")
    with open(slow, "w") as f:
        f.write(GOOD.replace("name: good", "name: slow").replace(IDENTITY, "host/slow-1"))
    secret = os.path.join(tmp, "keys", "during-hung-load.key")
    os.makedirs(os.path.dirname(secret))
    with open(secret, "w") as f:
        f.write("x\n")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--identity-rule", f"cgroup:{cg.rel} {IDENTITY}",
                                 "--policy", pdir, "--policy", slow])

    # the file becomes a FIFO: the loader's open blocks until a writer comes
    os.unlink(slow)
    os.mkfifo(slow, 0o600)

    def reader_waiting():
        try:
            return os.open(slow, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO until a reader has it open
        except OSError:
            return None
    fd = wait_for(reader_waiting, "the policy loader blocked on the FIFO", 15)
    try:
        # the loader now waits in read(): the main loop must not
        cg.python("import sys; open(sys.argv[1]).read()", secret)
        e = agent.wait_edge("the secret read while a policy load hangs",
                            lambda e: e.get("type") == "secret" and e["path"] == secret, 15)
        check_eq(e["cgroup"], cg.rel, "the read's cgroup")
        status = agent.reachctl("status", "-o", "json")
        check(isinstance(status, dict) and status, "reachctl status answers while a policy load hangs")
        check("policies reloaded" not in agent.stderr(), "the hung load has not completed")
        os.write(fd, GOOD.replace("name: good", "name: slow").replace(IDENTITY, "host/slow-2").encode())
    finally:
        os.close(fd)
    wait_for(lambda: "policies reloaded: 2 " in agent.stderr(), "the load completed and applied", 15)
    # a regular file again, so that no later reload waits on the FIFO
    os.unlink(slow)
    with open(slow, "w") as f:
        f.write(GOOD.replace("name: good", "name: slow").replace(IDENTITY, "host/slow-2"))
    summary = agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")
    lost = {k: v for k, v in summary.items() if "lost" in k and isinstance(v, int) and v}
    check_eq(lost, {}, "no events lost")
