"""Secret-file reads observed on the real kernel (issue: sensor foundation)."""
import os
import subprocess

from harness import PYTHON, Agent, Cgroup, check, check_eq

NOBODY = 65534


def _secret(path, content="s3cr3t-value\n", mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content)
    os.chmod(path, mode)
    return path


def check_python_read(agent, path, pid, cg):
    """Waits for the secret edge of path and checks who read it, field by
    field: a python process pid (PYTHON) of cgroup cg, uid 0, read-only."""
    e = agent.wait_edge(path, lambda e: e["type"] == "secret" and e["path"] == path)
    check_eq(e["pid"], pid, f"{path} pid")
    check_eq(e["tgid"], pid, f"{path} tgid")
    check_eq(e["uid"], 0, f"{path} uid")
    check_eq(e["comm"], os.path.basename(PYTHON)[:15], f"{path} comm")
    check_eq(e["cgroup"], cg.rel, f"{path} cgroup")
    check_eq(e["open_flags"][0], "O_RDONLY", f"{path} access mode")
    check_eq(e["process_exe"], PYTHON, f"{path} process executable")
    return e


def _only(edges, what, pred):
    found = [e for e in edges if pred(e)]
    check_eq(len(found), 1, f"edges for {what}")
    return found[0]


def test_abs_relative_and_dirfd_paths(cleanup, tmp):
    cg = Cgroup(cleanup, f"reach-e2e-paths-{os.getpid()}")
    abs_key = _secret(os.path.join(tmp, "abs", "api.key"))
    rel_env = _secret(os.path.join(tmp, "rel", "app", ".env"))
    dirfd_pem = _secret(os.path.join(tmp, "dirfd", "certs", "client.pem"))
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path])

    code = r"""
import os, sys
tmp = sys.argv[1]
print(os.getpid(), flush=True)
open(os.path.join(tmp, "abs", "api.key")).read()           # absolute
os.chdir(os.path.join(tmp, "rel"))
open("app/.env").read()                                     # relative after chdir
d = os.open(os.path.join(tmp, "dirfd"), os.O_RDONLY | os.O_DIRECTORY)
fd = os.open("certs/client.pem", os.O_RDONLY, dir_fd=d)     # openat with a dirfd
os.read(fd, 64)
"""
    p = cg.python(code, tmp)
    pid = int(p.stdout.split()[0])
    for path, requested in ((abs_key, abs_key), (rel_env, "app/.env"), (dirfd_pem, "certs/client.pem")):
        e = check_python_read(agent, path, pid, cg)
        check_eq(e["requested_path"], requested, f"{path} requested_path")
        check_eq(e["lineage"][-1], PYTHON, f"{path} lineage ends with the process")
    check_eq(_only(agent.edges(), "api.key", lambda e: e.get("path") == abs_key)["category"],
             "private-key", "api.key category")
    check_eq(_only(agent.edges(), ".env", lambda e: e.get("path") == rel_env)["category"],
             "dotenv", ".env category")
    summary = agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")
    secrets = agent.summary_edges(cg.rel, "secrets")
    for path in (abs_key, rel_env, dirfd_pem):
        check_eq(_only(secrets, path, lambda e, path=path: e["path"] == path)["count"], 1, f"{path} count")
    check(summary["opens_not_secret"] > 0, "python's own opens were seen and not reported as secrets")
    for e in secrets:
        check(e["path"].startswith(tmp), f"only planted secrets reported, got {e['path']}")


def test_repeated_read_is_one_event(cleanup, tmp):
    cg = Cgroup(cleanup, f"reach-e2e-dedup-{os.getpid()}")
    token = _secret(os.path.join(tmp, "sa", "token.key"))
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path])
    code = r"""
import sys
for _ in range(10000):
    with open(sys.argv[1]) as f:
        f.read()
"""
    cg.python(code, token)
    agent.wait_edge("token.key", lambda e: e.get("path") == token)
    agent.stop()
    e = _only(agent.summary_edges(cg.rel, "secrets"), "token.key", lambda e: e["path"] == token)
    check_eq(e["count"], 10000, "count of 10,000 reads (from the kernel dedup map)")
    check_eq(e["events"], 1, "ring-buffer events for 10,000 reads")
    check_eq(sum(1 for x in agent.edges() if x.get("path") == token), 1, "edge lines printed")


def _unix_s(iso):
    """Seconds since the epoch of the summary's "2026-12-07T01:37:27.945Z"."""
    import calendar
    import time
    return calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S")) + int(iso[20:23]) / 1000


def test_repeats_held_in_the_task_count_and_keep_their_time(cleanup, tmp):
    """A process reads a secret three times in a row, idles, then exits. The
    kernel holds the repeats of its last tick in the task (its repeat cache)
    and adds them at its exit: the count is every read, and the edge's
    last_seen is the last read, not the exit two seconds later."""
    import time
    cg = Cgroup(cleanup, f"reach-e2e-held-{os.getpid()}")
    token = _secret(os.path.join(tmp, "held", "token.key"))
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path])
    code = r"""
import sys, time
for _ in range(3):
    with open(sys.argv[1]) as f:
        f.read()
print(time.time(), flush=True)
time.sleep(2)
"""
    p = cg.python(code, token)
    last_read = float(p.stdout.split()[0])
    exited = time.time()
    agent.wait_edge("token.key", lambda e: e.get("path") == token)
    agent.stop()
    e = _only(agent.summary_edges(cg.rel, "secrets"), "token.key", lambda e: e["path"] == token)
    check_eq(e["count"], 3, "every read counted (the held repeats added at the exit)")
    seen = _unix_s(e["last_seen"])
    check(last_read - 1.0 <= seen <= last_read + 0.5,
          f"last_seen {e['last_seen']} is the last read ({last_read:.3f}), not the exit ({exited:.3f})")


def test_failed_and_write_only_opens_are_not_reads(cleanup, tmp):
    cg = Cgroup(cleanup, f"reach-e2e-fail-{os.getpid()}")
    os.makedirs(os.path.join(tmp, "s"))
    missing = os.path.join(tmp, "s", "missing.key")
    root_only = _secret(os.path.join(tmp, "s", "root-only.key"), mode=0o600)
    write_only = _secret(os.path.join(tmp, "s", "write-only.key"), mode=0o666)
    readable = _secret(os.path.join(tmp, "s", "shared.key"), mode=0o644)
    marker = _secret(os.path.join(tmp, "s", "marker.key"), mode=0o644)
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path])
    # As nobody: ENOENT, EACCES, a write-only open, then a successful read
    # (uid recorded), then the marker that tells the test all was processed.
    code = r"""
import errno, os, sys
os.setgid(65534); os.setuid(65534)
missing, root_only, write_only, readable, marker = sys.argv[1:]
for path, want in ((missing, errno.ENOENT), (root_only, errno.EACCES)):
    try:
        open(path).read()
        sys.exit(f"{path} opened")
    except OSError as e:
        assert e.errno == want, (path, e)
os.close(os.open(write_only, os.O_WRONLY))
open(readable).read()
open(marker).read()
"""
    cg.python(code, missing, root_only, write_only, readable, marker)
    agent.wait_edge("marker", lambda e: e.get("path") == marker)
    e = _only(agent.edges(), "shared.key", lambda e: e.get("path") == readable)
    check_eq(e["uid"], NOBODY, "uid of the reader")
    agent.stop()
    paths = {e["path"] for e in agent.summary_edges(cg.rel, "secrets")}
    for p in (missing, root_only, write_only):
        check(p not in paths, f"{os.path.basename(p)} must not be a secret read")
    check_eq(paths, {readable, marker}, "secret reads recorded")


def test_outside_cgroup_not_recorded(cleanup, tmp):
    cg = Cgroup(cleanup, f"reach-e2e-outside-{os.getpid()}")
    shared = _secret(os.path.join(tmp, "shared.key"))
    outside_only = _secret(os.path.join(tmp, "outside-only.key"))
    marker = _secret(os.path.join(tmp, "marker.key"))
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path])
    # the same secret read outside first, then inside: the inside pid is kept
    outside = subprocess.run([PYTHON, "-c", "import sys; print(__import__('os').getpid());"
                              "[open(p).read() for p in sys.argv[1:]]", shared, outside_only],
                             stdout=subprocess.PIPE, text=True, check=True)
    outside_pid = int(outside.stdout.split()[0])
    p = cg.python("import os, sys; print(os.getpid()); [open(p).read() for p in sys.argv[1:]]", shared, marker)
    inside_pid = int(p.stdout.split()[0])
    agent.wait_edge("marker", lambda e: e.get("path") == marker)
    agent.stop()
    secrets = agent.summary_edges(cg.rel, "secrets")
    e = _only(secrets, "shared.key", lambda e: e["path"] == shared)
    check_eq(e["tgid"], inside_pid, "reader of the shared secret")
    check_eq(e["count"], 1, "reads counted (the outside read excluded)")
    check(all(x["path"] != outside_only for x in secrets), "a read outside the cgroup was recorded")
    for c in agent.summary["cgroups"]:
        for x in c["secrets"] + c["tools"]:
            check(x["tgid"] != outside_pid, f"process outside the cgroup recorded in {c['cgroup']}")


def test_child_cgroup_created_later_is_monitored(cleanup, tmp):
    parent = Cgroup(cleanup, f"reach-e2e-tree-{os.getpid()}")
    secret = _secret(os.path.join(tmp, "late", "db.key"))
    agent = Agent(cleanup, tmp, ["--cgroup", parent.path])
    child = Cgroup(cleanup, "pod-late", parent=parent)  # created after the agent started
    child.python("import sys; open(sys.argv[1]).read()", secret)
    e = agent.wait_edge("db.key", lambda e: e.get("path") == secret)
    check_eq(e["cgroup"], child.rel, "cgroup of the edge (the child)")
    agent.stop()
