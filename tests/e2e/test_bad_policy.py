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
