"""The kernel's catalogue pre-filter (issue #16, "filtering in the kernel").

A python workload in a test cgroup opens 2,000 distinct ordinary files and a
secret of every catalogue form: a directory prefix (built-in /run/secrets/
and a pattern-file glob), an exact basename (.aws/credentials, .env), a
basename suffix (*.pem, *.key), a basename prefix (.env.*, .ssh/id_*), a
directory component (.config/gcloud/legacy_credentials/**). Every secret is
recorded field by field; the ordinary opens show in status
opens_filtered_in_kernel (>= 2,000) and the ring's file_open events do not
grow by thousands. Then a glob is added to the pattern file and the agent
reloads (SIGHUP): a file matching it, opened and filtered before, is
recorded at its next open by the same executable (the filter's generation
is in the dedup key: without it that open would be a repeat); a pattern file
with a bad line is refused whole on the next reload. The summary at exit
still names the categories of the secrets recorded under the first
catalogue (it outlives the reload)."""
import os
import signal
import shutil

from harness import PYTHON, Agent, Cgroup, check, check_eq, wait_for
from test_secrets import check_python_read

N_PLAIN = 2000

WORKLOAD = r"""
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
print(os.getpid(), flush=True)
for i in range(n):
    with open(os.path.join(root, "plain", "d%02d" % (i % 40), "f%05d.txt" % i)) as f:
        f.read()
for p in sys.argv[3:]:
    with open(p) as f:
        f.read()
"""

REOPEN = r"""
import sys
with open(sys.argv[1]) as f:
    f.read()
"""


def _write(path, content="s3cr3t-value\n"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content)
    return path


def _status(agent):
    return agent.reachctl("status", "-o", "json")


def test_kernel_filter_drops_ordinary_files_and_keeps_every_secret(cleanup, tmp):
    cg = Cgroup(cleanup, f"reach-e2e-kfilter-{os.getpid()}")
    for i in range(N_PLAIN):
        _write(os.path.join(tmp, "plain", "d%02d" % (i % 40), "f%05d.txt" % i), "x\n")
    run_dir = f"/run/secrets/reach-e2e-kfilter-{os.getpid()}"
    if not os.path.isdir("/run/secrets"):
        os.mkdir("/run/secrets")
        cleanup.add(os.rmdir, "/run/secrets")  # after the rmtree below (reverse order)
    cleanup.add(shutil.rmtree, run_dir, True)
    secrets = {
        # path -> (category, the catalogue form it exercises)
        _write(os.path.join(run_dir, "db_password")): "k8s-secret",                       # built-in prefix
        _write(os.path.join(tmp, "vault", "prod", "db.cfg")): "vault-file",               # pattern-file prefix
        _write(os.path.join(tmp, "home", ".aws", "credentials")): "aws-credentials",      # basename
        _write(os.path.join(tmp, "app", ".env")): "dotenv",                               # basename
        _write(os.path.join(tmp, "certs", "client.pem")): "private-key",                  # suffix
        _write(os.path.join(tmp, "certs", "api.key")): "private-key",                     # suffix
        _write(os.path.join(tmp, "app", ".env.production")): "dotenv",                    # basename prefix
        _write(os.path.join(tmp, "home", ".ssh", "id_ed25519")): "ssh-key",               # basename prefix
        _write(os.path.join(tmp, "home", ".config", "gcloud", "legacy_credentials", "me", "adc.json")):
            "gcp-credentials",                                                            # component
    }
    late = _write(os.path.join(tmp, "late-secrets", "deploy.tok"))  # matches nothing until the reload
    patterns = os.path.join(tmp, "patterns.txt")
    with open(patterns, "w") as f:
        f.write(f"{tmp}/vault/** vault-file\n")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--secret-patterns", patterns])
    before = _status(agent)
    check_eq(before["opens_filtered_in_kernel"], 0, "nothing filtered before the workload runs")

    p = cg.python(WORKLOAD, tmp, str(N_PLAIN), *secrets, late)
    pid = int(p.stdout.split()[0])
    for path, category in secrets.items():
        e = check_python_read(agent, path, pid, cg)
        check_eq(e["category"], category, f"{path} category")
        check_eq(e["requested_path"], path, f"{path} requested_path")
    after = wait_for(lambda: (s := _status(agent))["opens_filtered_in_kernel"] >= N_PLAIN and s,
                     "the ordinary opens counted as filtered in the kernel", 15)
    grown = after["events"]["file_open"] - before["events"]["file_open"]
    print(f"kfilter: {N_PLAIN} ordinary files: filtered_in_kernel={after['opens_filtered_in_kernel']} "
          f"sent_by_filter={after['opens_sent_by_filter']} file_open events={grown}")
    check(grown < N_PLAIN // 4, f"file_open ring events grew by {grown} for {N_PLAIN} ordinary files")
    check(after["opens_sent_by_filter"] >= len(secrets), "every secret went through the filter as sent")
    check(not any(e.get("path") == late for e in agent.edges()), "the .tok file is no secret before the reload")

    # a glob added to the pattern file, the agent told to reload
    with open(patterns, "a") as f:
        f.write("**/late-secrets/*.tok late-token\n")
    agent.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "secret catalogue reloaded" in agent.stderr(), "the catalogue reloaded", 10)
    cg.python(REOPEN, late)  # the same executable: a repeat but for the generation
    e = agent.wait_edge(late, lambda e: e["type"] == "secret" and e["path"] == late)
    check_eq(e["category"], "late-token", "the reloaded glob's category")
    check_eq(e["requested_path"], late, "late requested_path")
    check_eq(e["cgroup"], cg.rel, "late cgroup")
    check_eq(e["process_exe"], PYTHON, "late process executable")
    check_eq(e["uid"], 0, "late uid")

    # a bad pattern file: the reload fails whole, the catalogue in use stays
    with open(patterns, "a") as f:
        f.write("relative/path broken\n")
    agent.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "secret catalogue reload failed" in agent.stderr(), "the bad reload refused", 10)
    check(f"{patterns}:3:" in agent.stderr(), f"the bad line named: {agent.stderr()[-400:]}")

    summary = agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")
    recorded = {e["path"]: e["category"] for e in agent.summary_edges(cg.rel, "secrets")}
    check_eq(recorded, secrets | {late: "late-token"}, "the secrets recorded with their categories, nothing else")
    check(summary["opens_not_secret"] < N_PLAIN // 4, f"user space no longer sees the flood: {summary['opens_not_secret']}")
    # the exit summary carries the filter's counters too (read after the last event)
    check(summary["opens_filtered_in_kernel"] >= after["opens_filtered_in_kernel"],
          f"summary opens_filtered_in_kernel {summary['opens_filtered_in_kernel']} >= status' "
          f"{after['opens_filtered_in_kernel']}")
    check(summary["opens_sent_by_filter"] >= after["opens_sent_by_filter"] + 1,
          f"summary opens_sent_by_filter {summary['opens_sent_by_filter']}: status' {after['opens_sent_by_filter']} "
          "and the reloaded .tok's open")


def test_uncompilable_pattern_turns_the_filter_off(cleanup, tmp):
    """A pattern with no fixed part ("**/*") cannot be tested in the kernel:
    the filter is off, a log line says why, and every open reaches user
    space (none filtered in the kernel), so nothing is lost."""
    cg = Cgroup(cleanup, f"reach-e2e-kfilter-off-{os.getpid()}")
    for i in range(50):
        _write(os.path.join(tmp, "plain", "d%02d" % (i % 40), "f%05d.txt" % i), "x\n")
    patterns = os.path.join(tmp, "patterns.txt")
    with open(patterns, "w") as f:
        f.write("**/* everything\n")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--secret-patterns", patterns])
    check("kernel catalogue filter off: secret pattern '**/*'" in agent.stderr(), f"the why: {agent.stderr()[-500:]}")
    cg.python(WORKLOAD, tmp, "50")
    first = os.path.join(tmp, "plain", "d00", "f00000.txt")
    agent.wait_edge(first, lambda e: e["type"] == "secret" and e["path"] == first)
    status = _status(agent)
    check_eq(status["opens_filtered_in_kernel"], 0, "nothing filtered with the filter off")
    check_eq(status["opens_sent_by_filter"], 0, "the filter judged nothing")
    agent.stop()
