"""Roads to a secret that reach cannot see as an open (issue #16, the rest):
a process that brings a descriptor into a monitored cgroup (moved there by
itself or by another, or born there by clone3 CLONE_INTO_CGROUP), a process
that already held it when reach started, and descriptors passed with
recvmmsg. Each road runs in its own cgroup and identity under a policy that
declares every tool and no secret: `reachctl verify` must not pass. The
secret is recorded under the real file for the process that holds it, with
how it reached it as requested_path; what reach cannot look at is a loss of
that identity (inconclusive)."""
import os

from harness import PYTHON, ROOT, Agent, Cgroup, check, check_eq, sh, start_process, wait_for
from test_roads import _fd_server, _secret, _verify

# this file uses no ports (its reserve: 20780-20799); unix sockets only
ENTERED = "(held on entering the cgroup)"
AT_START = "(held when reach started)"


def _client(tmp):
    exe = os.path.join(tmp, "held_client")
    sh("gcc", "-O2", "-Wall", os.path.join(ROOT, "tests", "e2e", "clients", "held_client.c"), "-o", exe)
    return exe


def _held_edge(agent, cg, via):
    return agent.wait_edge(f"{cg.rel}: secret edge {via}", lambda e: e.get("type") == "secret" and
                           e.get("cgroup") == cg.rel and e.get("requested_path") == via, 15)


def _check_edge(e, secret, exe, via, what):
    check_eq(e["path"], secret, f"{what}: the edge is the real file")
    check_eq(e["category"], "private-key", f"{what}: category")
    check_eq(e["process_exe"], exe, f"{what}: the holder's edge")
    check_eq(e["requested_path"], via, f"{what}: how the file reached it")


def _in_cgroup(cg, pid):
    with open(os.path.join(cg.path, "cgroup.procs")) as f:
        return str(pid) in f.read().split()


def _finish(p, what):
    wait_for(lambda: p.poll() is not None, f"{what}: client exits", 30)
    check_eq(p.returncode, 0, f"{what}: client read the secret")


def test_entered_with_a_descriptor(cleanup, tmp):
    """A process opens the secret outside every monitored cgroup, then
    enters one holding it: it writes its own pid to cgroup.procs (self),
    another process moves it (moved), or it is born there by clone3
    CLONE_INTO_CGROUP (clone3: a fork, no cgroup_attach_task). It then reads
    with read(2), never opening nor exec'ing inside. The file it holds is its
    secret edge, ENTERED, under the real file."""
    client = _client(tmp)
    secret = _secret(tmp)
    root = Cgroup(cleanup, f"reach-e2e-entered-{os.getpid()}")
    modes = ("self", "moved", "clone3")
    cgs, rules = {}, []
    for mode in modes:
        cgs[mode] = Cgroup(cleanup, mode, parent=root)
        rules += ["--identity-rule", f"cgroup:{cgs[mode].rel} host/entered-{mode}"]
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, *rules])
    for mode in modes:
        release = os.path.join(tmp, f"{mode}.release")
        if mode == "moved":
            ready = os.path.join(tmp, "moved.ready")
            p = start_process(cleanup, [client, "wait", secret, ready, release])
            wait_for(lambda: os.path.exists(ready), "moved: holder ready", 10)
            with open(os.path.join(cgs[mode].path, "cgroup.procs"), "w") as f:
                f.write(str(p.pid))  # moved by this (unmonitored) test process
        else:
            p = start_process(cleanup, [client, mode, secret, cgs[mode].path, release])
        e = _held_edge(agent, cgs[mode], ENTERED)
        _check_edge(e, secret, client, ENTERED, mode)
        if mode != "clone3":
            check(_in_cgroup(cgs[mode], p.pid), f"{mode}: the holder itself is in the cgroup")
        with open(release, "w"):
            pass
        _finish(p, mode)
    for mode in modes:
        rc, v = _verify(agent, f"host/entered-{mode}", tmp)
        check(rc in (1, 2) and v["verdict"] != "pass", f"{mode}: verify must not pass: {rc} {v}")
        check(secret in v["text"], f"{mode}: the finding names the real file: {v['text'][:600]}")
    doc = wait_for(lambda: next((e for i in agent.reachctl("reach", "--identity", "host/entered-self", "-o", "json")
                                 ["identities"] for e in i["edges"] if e["kind"] == "secret"), None),
                   "entered edge in the ledger", 10)
    check_eq((doc["object"], doc["opened_as"]), (secret, ENTERED), "ledger: object and opened_as")
    summary = agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")
    check(summary["events"].get("file_via", 0) >= 3, f"file_via events counted: {summary['events']}")


def test_held_when_reach_started(cleanup, tmp):
    """A monitored process opened the secret before reach started and reads
    it later with read(2): reach's start-up walk (bpf iterator task_file)
    records the file it holds, AT_START. An unmonitored process holding the
    same secret is not anybody's edge."""
    client = _client(tmp)
    secret = _secret(tmp)
    root = Cgroup(cleanup, f"reach-e2e-atstart-{os.getpid()}")
    cg = Cgroup(cleanup, "app", parent=root)
    release = os.path.join(tmp, "atstart.release")
    p = start_process(cleanup, [client, "self", secret, cg.path, release])
    wait_for(lambda: _in_cgroup(cg, p.pid), "holder in its cgroup before reach starts", 10)
    outside_ready = os.path.join(tmp, "outside.ready")
    outside = start_process(cleanup, [client, "wait", secret, outside_ready, os.path.join(tmp, "never")])
    wait_for(lambda: os.path.exists(outside_ready), "unmonitored holder ready", 10)
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--identity-rule", f"cgroup:{cg.rel} host/atstart"])
    e = _held_edge(agent, cg, AT_START)
    _check_edge(e, secret, client, AT_START, "at start")
    check_eq(e["pid"], p.pid, "at start: the holder's pid")
    with open(release, "w"):
        pass
    _finish(p, "at start")
    rc, v = _verify(agent, "host/atstart", tmp)
    check(rc in (1, 2) and v["verdict"] != "pass", f"verify must not pass: {rc} {v}")
    check(secret in v["text"], f"the finding names the real file: {v['text'][:600]}")
    summary = agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")
    check(not [x for x in agent.edges() if x.get("pid") == outside.pid],
          "the unmonitored holder is nobody's edge")
    check_eq(sum(summary["losses"].get("file_via", {}).values()), 0, f"no file_via loss: {summary['losses']}")


def _recvmmsg(cleanup, tmp, style):
    client = _client(tmp)
    secret = _secret(os.path.join(tmp, style))
    sock = os.path.join(tmp, f"fd-{style}.sock")
    _fd_server(cleanup, secret, sock)
    root = Cgroup(cleanup, f"reach-e2e-mmsg-{style}-{os.getpid()}")
    cg = Cgroup(cleanup, "mmsg", parent=root)
    many = Cgroup(cleanup, "many", parent=root)
    agent = Agent(cleanup, os.path.join(tmp, style), ["--syscall-hooks", style, "--cgroup", root.path,
                                                      "--identity-rule", f"cgroup:{cg.rel} host/mmsg",
                                                      "--identity-rule", f"cgroup:{many.rel} host/mmsg-many"])
    cg.run([client, "mmsg", sock])
    e = agent.wait_edge(f"{style}: recvmmsg: secret edge",
                        lambda e: e.get("type") == "secret" and e.get("cgroup") == cg.rel, 15)
    check_eq((e["path"], e["category"]), (secret, "private-key"), f"{style}: recvmmsg: the edge is the real file")
    check_eq(e["process_exe"], client, f"{style}: recvmmsg: the receiver's edge")
    check_eq(e["requested_path"], "(received over SCM_RIGHTS)", f"{style}: recvmmsg: how the descriptor arrived")
    rc, v = _verify(agent, "host/mmsg", tmp)
    check(rc in (1, 2) and v["verdict"] != "pass", f"{style}: recvmmsg: verify must not pass: {rc} {v}")
    check(secret in v["text"], f"{style}: recvmmsg: the finding names the real file: {v['text'][:600]}")
    many.run([client, "mmsg-many", "65"])

    def many_inconclusive():
        rc, v = _verify(agent, "host/mmsg-many", tmp)
        return (rc, v) if v["verdict"] == "inconclusive" else None
    rc, v = wait_for(many_inconclusive, f"{style}: 65 messages in one recvmmsg: inconclusive", 15)
    check_eq(rc, 2, f"{style}: many: exit code {v}")
    check("file_via truncated 1" in v["reasons"], f"{style}: many: the loss is named: {v['reasons']}")
    agent.stop()
    check_eq(agent.returncode, 0, f"{style}: reachd exit code")


def test_recvmmsg_descriptors(cleanup, tmp):
    """A descriptor received with recvmmsg (SCM_RIGHTS in a message of the
    vector) is the receiver's secret edge under the real file; more messages
    in one call than the kernel looks at (64) is a loss of the receiver's
    identity: inconclusive, the loss named. Both syscall-exit styles (the
    dispatcher's handler and sys_exit_recvmmsg's program)."""
    for style in ("dispatcher", "per-syscall"):
        os.makedirs(os.path.join(tmp, style))
        _recvmmsg(cleanup, tmp, style)


def test_held_when_a_pod_becomes_monitored(cleanup, tmp):
    """A process of a pod's container holds a secret before the agent knows
    the pod (it entered while its cgroup was not monitored): when the pod
    arrives through the API watch and its cgroup becomes monitored, the
    same walk as at start records the file it holds, under the pod's
    service account."""
    import json
    import test_kube
    saved = test_kube.API_PORT
    test_kube.API_PORT = 20780  # this file's reserve, not test_kube's port
    cleanup.add(setattr, test_kube, "API_PORT", saved)
    test_kube._made.clear()
    client = _client(tmp)
    secret = _secret(tmp)
    root = Cgroup(cleanup, f"reach-e2e-heldpod-{os.getpid()}")
    uid, cid = test_kube._uid(), test_kube._cid()
    cg = test_kube._systemd_container_cgroup(cleanup, root, uid, cid)
    api = test_kube.KubeAPI(cleanup, tmp, [])
    agent = Agent(cleanup, tmp, api.args())
    release = os.path.join(tmp, "pod.release")
    p = start_process(cleanup, [client, "self", secret, cg.path, release])
    wait_for(lambda: _in_cgroup(cg, p.pid), "holder in the pod's cgroup, not monitored yet", 10)
    api.command("add " + json.dumps(test_kube._pod("tools", "held-55d6c7b8f-eeeee", "held", uid, cid,
                                                   "r.example/held:1")))
    wait_for(lambda: agent.reachctl("status", "-o", "json").get("pods_monitored") == 1, "the pod monitored", 15)

    def held():
        for i in agent.reachctl("reach", "-o", "json")["identities"]:
            for e in i["edges"]:
                if i["identity"] == "tools/held" and e["kind"] == "secret":
                    return e
        return None
    e = wait_for(held, "the held secret under the pod's service account", 15)
    check_eq((e["object"], e["category"], e["opened_as"]), (secret, "private-key", AT_START), "ledger edge")
    check_eq(e["executables"], [client], "the holder's executable")
    check_eq(e["pods"], ["tools/held-55d6c7b8f-eeeee"], "the pod")
    with open(release, "w"):
        pass
    _finish(p, "pod")
    agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")


def test_a_failed_walk_is_inconclusive(cleanup, tmp):
    """The walk of held files fails (here a seccomp filter refuses
    bpf(BPF_ITER_CREATE), as a restrictive profile could): which monitored
    process held what is unknown, so the agent warns and every identity is
    inconclusive (a node-wide file_via read_failed loss), never a pass over
    the secret a process held before reach looked."""
    client = _client(tmp)
    deny = os.path.join(tmp, "deny_syscall")
    sh("gcc", "-O2", "-Wall", os.path.join(ROOT, "tests", "e2e", "clients", "deny_syscall.c"), "-o", deny)
    secret = _secret(tmp)
    root = Cgroup(cleanup, f"reach-e2e-nowalk-{os.getpid()}")
    cg = Cgroup(cleanup, "app", parent=root)
    release = os.path.join(tmp, "nowalk.release")
    p = start_process(cleanup, [client, "self", secret, cg.path, release])
    wait_for(lambda: _in_cgroup(cg, p.pid), "holder in its cgroup before reach starts", 10)
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--identity-rule", f"cgroup:{cg.rel} host/nowalk"],
                  wrap=[deny, "bpf-iter-create"])
    check("walking the files monitored processes already hold (iter/task_file): Operation not permitted"
          in agent.stderr(), f"the failure is named: {agent.stderr()[-600:]}")
    with open(release, "w"):
        pass
    _finish(p, "nowalk")

    def inconclusive():
        rc, v = _verify(agent, "host/nowalk", tmp)
        return (rc, v) if v["verdict"] == "inconclusive" else None
    rc, v = wait_for(inconclusive, "a failed walk: inconclusive", 15)
    check_eq(rc, 2, f"exit code {v}")
    check("node-wide" in v["reasons"] and "file_via read_failed 1" in v["reasons"],
          f"the loss is named, node-wide: {v['reasons']}")
    check(not [e for e in agent.edges() if e.get("type") == "secret"], "nothing was seen: no secret edge")
    agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")
