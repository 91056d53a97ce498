"""Roads to a secret file an attacker would take (issue #16, "the file, not
the string"): each road runs in its own cgroup and identity, and must give the
secret edge under the real file with its category, and `reachctl verify`
against a policy that declares no secret must not pass (exit 1: undeclared
secret; 2: inconclusive). The object is resolved in the kernel from the opened
struct file, so the spelling the workload chose does not matter."""
import os
import shutil
import struct
import subprocess

from harness import PYTHON, REACHCTL, ROOT, Agent, Cgroup, Failure, check, check_eq, sh, start_process, wait_for
from test_secrets import _secret

# Each road: (name, script). argv[1] is the secret, argv[2] the test's tmp.
ROADS = [
    ("control", "open(sys.argv[1]).read()"),
    ("symlink", """
link = os.path.join(sys.argv[2], "notes.txt")
os.symlink(os.path.relpath(sys.argv[1], sys.argv[2]), link)
open(link).read()
"""),
    ("opath", """
fd = os.open(sys.argv[1], os.O_PATH)
open(f"/proc/self/fd/{fd}").read()
"""),
    ("procroot", "open('/proc/self/root' + sys.argv[1]).read(); open(f'/proc/{os.getpid()}/root' + sys.argv[1]).read()"),
    ("dotdot", """
d = os.path.dirname(sys.argv[1])
open(d + "/../" + os.path.basename(d) + "/./" + os.path.basename(sys.argv[1])).read()
"""),
    ("byhandle", r"""
import ctypes, ctypes.util
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
buf = ctypes.create_string_buffer(8 + 128)
struct.pack_into("Ii", buf, 0, 128, 0)
mnt = ctypes.c_int()
if libc.name_to_handle_at(-100, sys.argv[1].encode(), buf, ctypes.byref(mnt), 0):
    sys.exit("name_to_handle_at: errno %d" % ctypes.get_errno())
mfd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
fd = libc.open_by_handle_at(mfd, buf, os.O_RDONLY)
if fd < 0:
    sys.exit("open_by_handle_at: errno %d" % ctypes.get_errno())
os.read(fd, 64)
"""),
    ("hardlink", """
link = os.path.join(sys.argv[2], "innocent.txt")
os.link(sys.argv[1], link)
open(link).read()
"""),
]

PRELUDE = "import os, struct, sys\n"


def _policy(path, identity):
    with open(path, "w") as f:
        f.write(f"""apiVersion: reach.dev/v1
kind: ReachPolicy
metadata:
  name: evasion
spec:
  identity: {identity}
  secrets: []
  tools: ["/**"]
""")


def _verify(agent, identity, policy):
    return subprocess.run([REACHCTL, "verify", "--socket", agent.socket, "--identity", identity, "--policy", policy],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)


def _verify_nothing_declared(agent, tmp, identity):
    """reachctl verify of identity against a policy that declares nothing
    (written once per identity)."""
    policy = os.path.join(tmp, "policy-" + identity.replace("/", "-") + ".yaml")
    if not os.path.exists(policy):
        _policy(policy, identity)
    return _verify(agent, identity, policy)


def _secret_edges(agent, cg):
    return [e for e in agent.edges() if e.get("type") == "secret" and e.get("cgroup") == cg.rel]


def test_every_road_lands_on_the_real_file(cleanup, tmp):
    keys = os.path.join(tmp, "keys")
    secret = _secret(os.path.join(keys, "x.key"), "not-a-real-key-material\n")
    root = Cgroup(cleanup, f"reach-e2e-evasion-{os.getpid()}")
    cgs, rules = {}, []
    for name, _ in ROADS + [("bindmount", None)]:
        cgs[name] = Cgroup(cleanup, name, parent=root)
        rules += ["--identity-rule", f"cgroup:{cgs[name].rel} host/ev-{name}"]
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, *rules])

    for name, script in ROADS:
        work = os.path.join(tmp, name)
        os.makedirs(work)
        cgs[name].python(PRELUDE + script, secret, work)
        e = agent.wait_edge(f"{name}: secret edge", lambda e, cg=cgs[name]: e in _secret_edges(agent, cg))
        check_eq(e["path"], secret, f"{name}: the edge is the real file")
        check_eq(e["category"], "private-key", f"{name}: category")
        if name == "symlink":
            check_eq(e["requested_path"], os.path.join(work, "notes.txt"), "symlink: the name as written")
        if name == "hardlink":
            check_eq(e["requested_path"], os.path.join(work, "innocent.txt"), "hardlink: the other name")
        if name == "byhandle":
            check_eq(e["requested_path"], "(open_by_handle_at)", "byhandle: no name was written")

    # a bind mount of the secret's directory in a private mount namespace
    mnt = os.path.join(tmp, "bindmnt")
    os.makedirs(mnt)
    cgs["bindmount"].run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                          f"mount --bind {keys} {mnt} && cat {mnt}/x.key >/dev/null"])
    e = agent.wait_edge("bindmount: secret edge", lambda e: e in _secret_edges(agent, cgs["bindmount"]))
    check_eq(e["path"], secret, "bindmount: the known secret, under its classed name")
    check_eq(e["requested_path"], f"{mnt}/x.key", "bindmount: the name as written")

    for name in cgs:
        p = _verify_nothing_declared(agent, tmp, f"host/ev-{name}")
        check(p.returncode in (1, 2), f"{name}: verify with nothing declared must not pass: {p.returncode} {p.stdout}")
        check(secret in p.stdout, f"{name}: the finding names the real file: {p.stdout[:400]}")
    # the ledger keeps the name as written beside the real file (opened_as)
    doc = wait_for(lambda: next((e for i in agent.reachctl("reach", "--identity", "host/ev-symlink", "-o", "json")
                                 ["identities"] for e in i["edges"] if e["kind"] == "secret"), None),
                   "symlink edge in the ledger", 10)
    check_eq(doc["object"], secret, "ledger: object is the real file")
    check_eq(doc["opened_as"], os.path.join(tmp, "symlink", "notes.txt"), "ledger: opened_as")
    agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")


# Reads a file by a name that looks like nothing twice, on one CPU, waiting
# on stdin between the reads. argv[1]: the name.
TWICE_ON_ONE_CPU = r"""
import os, sys
os.sched_setaffinity(0, {0})  # the kernel filter's dropped-file slots are per CPU
open(sys.argv[1]).read()
print("read", flush=True)
sys.stdin.readline()
open(sys.argv[1]).read()
"""


def test_a_dropped_file_learned_as_a_secret_is_judged_again(cleanup, tmp):
    """A secret first read by a hardlink's innocent name, before anyone read
    it by its classed name: its inode is unknown, the name matches nothing,
    so the kernel filter drops it (a per-CPU slot remembers the drop, no
    dedup entry). Another workload then reads it by its real name: classed,
    its inode learned. The first process's next read by the same innocent
    name, on the same CPU, must be a secret edge under the real file: the
    slot does not hide a secret learned since (before, the dropped file's
    dedup entry hid it on every CPU)."""
    secret = _secret(os.path.join(tmp, "keys", "late.key"), "not-a-real-key-material\n")
    link = os.path.join(tmp, "innocent-notes.txt")
    os.link(secret, link)
    root = Cgroup(cleanup, f"reach-e2e-learned-{os.getpid()}")
    first, classer = Cgroup(cleanup, "first", parent=root), Cgroup(cleanup, "classer", parent=root)
    agent = Agent(cleanup, tmp, ["--cgroup", root.path,
                                 "--identity-rule", f"cgroup:{first.rel} host/learned-first",
                                 "--identity-rule", f"cgroup:{classer.rel} host/learned-classer"])
    p = start_process(cleanup, [PYTHON, "-c", TWICE_ON_ONE_CPU, link], preexec_fn=first.enter_fn(),
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    check_eq(p.stdout.readline().strip(), "read", "the first read by the innocent name")
    classer.python("import sys; open(sys.argv[1]).read()", secret)
    e = agent.wait_edge("the real name's read: classed", lambda e: e in _secret_edges(agent, classer))
    check_eq((e["path"], e["category"]), (secret, "private-key"), "classed by its real name")
    # the first read's event, had there been one, came before the classer's
    check(not _secret_edges(agent, first), "unknown inode, innocent name: no secret edge for the first read")
    p.stdin.write("\n")
    p.stdin.flush()
    check_eq(p.wait(timeout=30), 0, "the reader's exit")
    e = agent.wait_edge("the innocent name's second read: a known secret",
                        lambda e: e in _secret_edges(agent, first))
    check_eq(e["path"], secret, "the edge is the real file")
    check_eq(e["requested_path"], link, "under the name it was read by")
    agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")


def _run_secrets(cleanup):
    """/run/secrets/, made for the test when the machine has none (removed
    after the test's own directories under it: cleanup runs in reverse)."""
    if not os.path.isdir("/run/secrets"):
        os.makedirs("/run/secrets")
        cleanup.add(os.rmdir, "/run/secrets")


def _innocent_link(cleanup, tmp, tag, target):
    """A hardlink to target under a name that matches no rule: in tmp, or
    under /run when tmp is on another filesystem."""
    link = os.path.join(tmp, "innocent-notes.txt")
    try:
        os.link(target, link)
    except OSError:
        link = os.path.join("/run", f"{tag}-notes.txt")
        os.link(target, link)
        cleanup.add(os.unlink, link)
    return link


def test_secret_inode_bits_rebuilt_keep_every_secret_left(cleanup, tmp):
    """The kernel skips the secret_inodes lookup of a file whose bit in
    secret_ino_bits is clear (bpf/maps.bpf.h secret__known): a key in the map
    without its bit would be a secret read through another name, missed. The
    agent rebuilds the bits from the map once as many keys were removed as
    are left. Walked here: 150 seeded files of an atomic writer's generation
    (/run/secrets/TAG/..2026_…/) are forgotten when the generation is
    removed (each an unmark), which rebuilds the bits; a secret still there,
    read only through a hardlink afterwards, must still be the secret."""
    tag = f"reach-e2e-bits-{os.getpid()}"
    _run_secrets(cleanup)
    top = os.path.join("/run/secrets", tag)
    cleanup.add(shutil.rmtree, top, True)
    generation = os.path.join(top, "..2026_12_07_00_00_00.000000001")
    os.makedirs(generation)
    for i in range(150):
        _secret(os.path.join(generation, f"token-{i:03d}"), "not-a-real-token\n")
    kept = _secret(os.path.join(top, "db_password"), "not-a-real-password\n")
    link = _innocent_link(cleanup, tmp, tag, kept)
    root = Cgroup(cleanup, tag)
    trigger, reader = Cgroup(cleanup, "trigger", parent=root), Cgroup(cleanup, "reader", parent=root)
    agent = Agent(cleanup, tmp, ["--cgroup", root.path,
                                 "--identity-rule", f"cgroup:{reader.rel} host/bits-reader"])
    before = agent.reachctl("status", "-o", "json")["secret_seeds"]
    check(before["files"] >= 151, f"the generation's files and the kept secret seeded at start: {before}")
    check(before["inode_bits_set"] >= 100, f"their bits set (a few may share one): {before}")
    check_eq(before["inode_bits_rebuilds"], 0, "no rebuild before any removal")

    shutil.rmtree(generation)
    # an exec in a monitored cgroup walks its namespace again (at most once
    # a second): the generation's seeds are forgotten, the bits rebuilt
    def rebuilt():
        trigger.run(["true"])
        st = agent.reachctl("status", "-o", "json")["secret_seeds"]
        return st if st["inode_bits_rebuilds"] >= 1 else None
    after = wait_for(rebuilt, "the bits rebuilt after the generation's removal", 20, 0.2)
    check(after["inode_bits_set"] <= before["inode_bits_set"] - 100,
          f"the removed files' bits cleared by the rebuild: {before} -> {after}")

    reader.python("import sys; open(sys.argv[1]).read()", link)
    e = agent.wait_edge("the kept secret through the hardlink", lambda e: e in _secret_edges(agent, reader))
    check_eq((e["path"], e["category"], e["requested_path"]), (kept, "k8s-secret", link),
             "the kept secret, known by its inode after the rebuild, under its classed name")
    r = _verify_nothing_declared(agent, tmp, "host/bits-reader")
    check_eq(r.returncode, 1, f"verify with no secret declared: the undeclared secret: {r.stdout[:400]}")
    agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")


# In a private mount namespace: a tmpfs over argv[1] (a directory under
# /run/secrets/) holding a secret, bind-mounted at argv[2] (an innocent
# name); then a reader exec'd every 50 ms (each exec asks the agent to walk
# this new namespace's secrets again) reading it by the innocent name only,
# until argv[3] exists.
NEW_NAMESPACE = r"""
import os, subprocess, sys, time
secret_dir, innocent, stop = sys.argv[1:4]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "reach-e2e", secret_dir], check=True)
with open(os.path.join(secret_dir, "api_token"), "w") as f:
    f.write("not-a-real-token\n")
subprocess.run(["mount", "--bind", secret_dir, innocent], check=True)
deadline = time.monotonic() + 30
while not os.path.exists(stop) and time.monotonic() < deadline:
    subprocess.run([sys.executable, "-c", "import sys; open(sys.argv[1]).read()",
                    os.path.join(innocent, "api_token")], check=True)
    time.sleep(0.05)
"""


def test_a_secret_never_read_by_its_name_is_known_by_its_inode(cleanup, tmp):
    """The road left by the test above: a secret read only through names that
    match nothing (a hardlink, a bind mount), never by its classed name by
    anyone. The agent walks the catalogue's fixed directories (here
    /run/secrets/) in every mount namespace's root at start, and in a new
    namespace when a process execs there (agent/seeds.h), so the secret's
    inode is known before it is read: each read is the secret, under its
    classed name, with the name used as opened_as. Three cgroups: a hardlink
    (the secret there before the agent started), a bind mount in a private
    mount namespace, and a secret that appears after the start in a
    namespace of its own (a tmpfs over a /run/secrets/ directory, as a pod's
    secret volume), bind-mounted and read only by the bind mount's name; and
    a user's ~/.aws/credentials ("**" rules are looked for under the homes)
    read through a hardlink. A policy declaring no secret must not pass any
    of them."""
    tag = f"reach-e2e-seeded-{os.getpid()}"
    _run_secrets(cleanup)
    secret_dir = os.path.join("/run/secrets", tag)
    cleanup.add(shutil.rmtree, secret_dir, True)
    secret = _secret(os.path.join(secret_dir, "db_password"), "not-a-real-password\n")
    link = _innocent_link(cleanup, tmp, tag, secret)
    late_dir = os.path.join("/run/secrets", f"{tag}-late")
    os.makedirs(late_dir)  # the mount point; the tmpfs lives in the private namespace only
    cleanup.add(os.rmdir, late_dir)
    late = os.path.join(late_dir, "api_token")
    # a user's cloud credentials ("**" + "/.aws/credentials": looked for
    # under each home), read only through a hardlink
    home = os.path.join("/home", tag)
    cleanup.add(shutil.rmtree, home, True)
    aws = _secret(os.path.join(home, ".aws", "credentials"), "[default]\naws_access_key_id = not-a-real-key\n")
    aws_link = os.path.join(os.path.dirname(link), f"{tag}-aws-notes.txt")
    os.link(aws, aws_link)
    if aws_link.startswith("/run/"):
        cleanup.add(os.unlink, aws_link)
    # a mount whose stat could wait on someone (here a procfs, standing in
    # for a pod's FUSE daemon): never entered by the walk, counted
    unsafe_dir = os.path.join("/run/secrets", f"{tag}-unsafe")
    os.makedirs(unsafe_dir)
    cleanup.add(os.rmdir, unsafe_dir)
    sh("mount", "-t", "proc", "reach-e2e", unsafe_dir)
    cleanup.add(sh, "umount", unsafe_dir)
    root = Cgroup(cleanup, tag)
    cgs = {name: Cgroup(cleanup, name, parent=root) for name in ("hardlink", "bindmount", "newns", "home")}
    rules = [a for name, cg in cgs.items() for a in ("--identity-rule", f"cgroup:{cg.rel} host/seeded-{name}")]
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, *rules])
    seeds = agent.reachctl("status", "-o", "json")["secret_seeds"]
    check(seeds["roots"] >= 1 and seeds["files"] >= 2, f"status secret_seeds after the start walk: {seeds}")
    check(seeds["unsafe_mounts"] >= 1, f"the procfs under /run/secrets/ not entered: {seeds}")

    cgs["hardlink"].python("import sys; open(sys.argv[1]).read()", link)
    e = agent.wait_edge("hardlink: secret edge", lambda e: e in _secret_edges(agent, cgs["hardlink"]))
    check_eq((e["path"], e["category"], e["requested_path"]), (secret, "k8s-secret", link),
             "hardlink: the secret under its classed name, read by the link's")
    check_eq(e["process_exe"], PYTHON, "hardlink: the reader")

    cgs["home"].python("import sys; open(sys.argv[1]).read()", aws_link)
    e = agent.wait_edge("home: secret edge", lambda e: e in _secret_edges(agent, cgs["home"]))
    check_eq((e["path"], e["category"], e["requested_path"]), (aws, "aws-credentials", aws_link),
             "home: the credentials under their classed name, read by the link's")

    mnt = os.path.join(tmp, "bindmnt")
    os.makedirs(mnt)
    cgs["bindmount"].run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                          f"mount --bind {secret_dir} {mnt} && cat {mnt}/db_password >/dev/null"])
    e = agent.wait_edge("bindmount: secret edge", lambda e: e in _secret_edges(agent, cgs["bindmount"]))
    check_eq((e["path"], e["category"], e["requested_path"]), (secret, "k8s-secret", f"{mnt}/db_password"),
             "bindmount: the secret under its classed name, read by the mount's")

    innocent = os.path.join(tmp, "innocent-dir")
    os.makedirs(innocent)
    stop = os.path.join(tmp, "stop")
    p = start_process(cleanup, ["unshare", "-m", "--propagation", "private", PYTHON, "-c", NEW_NAMESPACE, late_dir,
                                innocent, stop], preexec_fn=cgs["newns"].enter_fn())
    try:
        e = agent.wait_edge("newns: secret edge", lambda e: e in _secret_edges(agent, cgs["newns"]), 20)
    finally:
        open(stop, "w").close()
    check_eq(p.wait(timeout=30), 0, "the new namespace's reader")
    check_eq((e["path"], e["category"], e["requested_path"]), (late, "k8s-secret", f"{innocent}/api_token"),
             "newns: the secret that appeared after the start, under its classed name, read by the mount's")

    for name in cgs:
        r = _verify_nothing_declared(agent, tmp, f"host/seeded-{name}")
        check_eq(r.returncode, 1, f"{name}: verify with no secret declared: the undeclared secret: {r.stdout[:400]}")
    agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")
    for path in (agent.out_path, agent.err_path):
        with open(path) as f:
            text = f.read()
        check("not-a-real-password" not in text and "not-a-real-token" not in text and "not-a-real-key" not in text,
              f"no secret content in {os.path.basename(path)}")


def test_a_secret_on_a_mount_that_could_stall_is_not_read(cleanup, tmp):
    """A file the catalogue classes as a secret on a mount whose reads could
    wait on someone (a pod's FUSE daemon that never answers would stall the
    agent's loop; a procfs stands in for it here, mounted in the host's
    namespace): the secret edge is recorded, its content is not read (no
    fingerprint, counted as secret_content_unread). The same pattern on a
    local filesystem is fingerprinted as always."""
    stall, local = os.path.join(tmp, "stall"), os.path.join(tmp, "local")
    os.makedirs(stall)
    sh("mount", "-t", "proc", "reach-e2e", stall)
    cleanup.add(sh, "umount", stall)
    plain = _secret(os.path.join(local, "uptime"), "not-a-real-secret\n")
    patterns = os.path.join(tmp, "patterns.txt")
    with open(patterns, "w") as f:
        f.write(f"{stall}/** stall-test\n{local}/** stall-test\n")
    cg = Cgroup(cleanup, f"reach-e2e-stall-{os.getpid()}")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--secret-patterns", patterns])
    cg.python("import sys; open(sys.argv[1]).read(); open(sys.argv[2]).read()", f"{stall}/uptime", plain)
    for path in (f"{stall}/uptime", plain):
        agent.wait_edge(path, lambda e, path=path: e.get("type") == "secret" and e["path"] == path)
    edges = {e["path"]: e for e in _secret_edges(agent, cg)}
    check_eq(edges[f"{stall}/uptime"]["category"], "stall-test", "the file on the unsafe mount is the secret")
    check(not edges[f"{stall}/uptime"].get("content_fingerprint"),
          f"its content not read: {edges[f'{stall}/uptime']}")
    check(len(edges[plain].get("content_fingerprint", "")) == 16, f"the local one fingerprinted: {edges[plain]}")
    summary = agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")
    check(summary["secret_content_unread"] >= 1, f"counted: secret_content_unread {summary['secret_content_unread']}")


# A new name for a secret, made by the workload itself, then read only by
# it. argv[1]: the secret (never read by its name by anyone), argv[2]: the
# innocent name. The libc calls Python does not make (linkat's flags,
# renameat2) through ctypes: must() ends the script on their failure.
LIBC = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
def must(rc, what):
    if rc:
        sys.exit("%s: errno %d" % (what, ctypes.get_errno()))
"""

NEW_NAMES = [
    ("link", "os.link(sys.argv[1], sys.argv[2]); open(sys.argv[2]).read()"),
    ("rename", "os.rename(sys.argv[1], sys.argv[2]); open(sys.argv[2]).read()"),
    ("relative", """
os.chdir(os.path.dirname(sys.argv[1]))
os.rename(os.path.basename(sys.argv[1]), "notes.txt")
open("notes.txt").read()
"""),
    # renameat2(RENAME_EXCHANGE) of an innocent file with the secret: the
    # innocent name (the call's old name) now holds the secret
    ("exchange", """
open(sys.argv[2], "w").write("nothing\\n")
must(libc.renameat2(-100, sys.argv[2].encode(), -100, sys.argv[1].encode(), 2), "renameat2")
open(sys.argv[2]).read()
"""),
    # renamed to a scratch name, then swapped (RENAME_EXCHANGE, both names
    # innocent) with a decoy made first at the innocent name: the agent's
    # stat of the scratch name would find the decoy; every move of a
    # pending file is followed instead
    ("swapaway", """
open(sys.argv[2], "w").write("decoy\\n")
os.rename(sys.argv[1], sys.argv[2] + ".x")
must(libc.renameat2(-100, (sys.argv[2] + ".x").encode(), -100, sys.argv[2].encode(), 2), "renameat2")
open(sys.argv[2]).read()
"""),
    # linkat(AT_EMPTY_PATH) of an O_PATH descriptor of the secret (an
    # O_PATH open is no read): the kernel resolves the descriptor's file
    ("emptypath", """
fd = os.open(sys.argv[1], os.O_PATH)
must(libc.linkat(fd, b"", -100, sys.argv[2].encode(), 0x1000), "linkat")
open(sys.argv[2]).read()
"""),
]

# New names that are no secret's, seen and judged so: the identity passes.
PASS_NAMES = [
    # an O_TMPFILE file given its first name through /proc/self/fd/N
    # (AT_SYMLINK_FOLLOW): the kernel saw it nameless at the enter
    ("tmpfile", """
fd = os.open(os.path.dirname(sys.argv[2]), os.O_TMPFILE | os.O_WRONLY, 0o600)
os.write(fd, b"scratch\\n")
must(libc.linkat(-100, f"/proc/self/fd/{fd}".encode(), -100, sys.argv[2].encode(), 0x400), "linkat")
open(sys.argv[2]).read()
"""),
]

# New names reach cannot tell the file of: the blind road renamed-secret
# (verify inconclusive), never a pass.
ROAD_NAMES = [
    # linkat(AT_SYMLINK_FOLLOW) of /proc/self/fd/N, N an O_PATH descriptor
    # (os.link calls link(2), which follows nothing: linkat by ctypes)
    ("procfd", """
fd = os.open(sys.argv[1], os.O_PATH)
must(libc.linkat(-100, f"/proc/self/fd/{fd}".encode(), -100, sys.argv[2].encode(), 0x400), "linkat")
open(sys.argv[2]).read()
"""),
    # linkat(AT_SYMLINK_FOLLOW) of an innocent-named symlink to the secret
    ("symfollow", """
os.symlink(sys.argv[1], sys.argv[2] + ".lnk")
must(libc.linkat(-100, (sys.argv[2] + ".lnk").encode(), -100, sys.argv[2].encode(), 0x400), "linkat")
open(sys.argv[2]).read()
"""),
    # a new name through "..": which directory it lands in is the kernel's
    ("dotdot", """
d = os.path.dirname(sys.argv[2])
os.makedirs(os.path.join(d, "sub"))
os.link(sys.argv[1], os.path.join(d, "sub", "..", os.path.basename(sys.argv[2])))
open(sys.argv[2]).read()
"""),
]


DIR_LOOP = """
import os, sys
for i in range(60):
    os.makedirs(sys.argv[1])
    with open(os.path.join(sys.argv[1], "credentials"), "w") as f:
        f.write("[default]\\naws_access_key_id = not-a-real-key\\n")
    os.rename(sys.argv[1], f"{sys.argv[1]}-{i}")
print("renamed", flush=True)
sys.stdin.read()
"""


def test_a_secret_given_a_new_name_is_still_the_secret(cleanup, tmp):
    """A *.key file anywhere (no fixed directory: not seeded), never read by
    its name, given an innocent name by the workload (link, rename, a
    relative rename, a short-lived `ln` then another process's read) and
    read only by that name: the kernel sees the link or rename (its old name
    could be a secret's), taints the cgroup so the read reaches the agent
    after the link's event, and the agent learns the file's inode from the
    new name: the read is the secret under its classed name. A directory a
    rule names (".aws"), renamed, has its files walked under the new name and
    classed by their old ones. A chain of renames (the later ones' names
    innocent), or an exchange that swaps a decoy in, is followed while the
    first is pending. New names reach cannot tell the file of (ROAD_NAMES,
    a loop of directory renames) are the blind road renamed-secret."""
    root = Cgroup(cleanup, f"reach-e2e-newname-{os.getpid()}")
    names = [n for n, _ in NEW_NAMES + ROAD_NAMES + PASS_NAMES] + ["ln", "chain", "dir", "relcomp", "dirloop"]
    cgs = {n: Cgroup(cleanup, n, parent=root) for n in names}
    rules = [a for n, cg in cgs.items() for a in ("--identity-rule", f"cgroup:{cg.rel} host/newname-{n}")]
    secrets = {n: _secret(os.path.join(tmp, "apps", n, "server.key"), "not-a-real-key-material\n") for n in names}
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, *rules])
    expect = {}
    for name, script in NEW_NAMES + ROAD_NAMES + PASS_NAMES:
        innocent = os.path.join(tmp, "apps", name, "innocent-notes.txt")
        cgs[name].python(PRELUDE + LIBC + script, secrets[name], innocent)
        if (name, script) in NEW_NAMES:
            expect[name] = "notes.txt" if name == "relative" else innocent  # the name as written
    # a directory a rule names (".aws" of "**/.aws/credentials"), outside
    # any home (not seeded), renamed, its file read under the new path
    aws_dir = os.path.join(tmp, "apps", "dir", ".aws")
    aws = _secret(os.path.join(aws_dir, "credentials"), "[default]\naws_access_key_id = not-a-real-key\n")
    moved = os.path.join(tmp, "apps", "dir", "innocent")
    cgs["dir"].python("import os, sys; os.rename(sys.argv[1], sys.argv[2]); open(sys.argv[3]).read()",
                      aws_dir, moved, os.path.join(moved, "credentials"))
    e = agent.wait_edge("dir: secret edge", lambda e: e in _secret_edges(agent, cgs["dir"]))
    check_eq((e["path"], e["category"], e["requested_path"]),
             (aws, "aws-credentials", os.path.join(moved, "credentials")),
             "dir: the credentials under their classed name, read in the renamed directory")
    # a relative rename where only the directories class the file (a
    # component rule), out of them (renameat to a directory descriptor):
    # judged in its directory, not by its basename alone
    gdir = os.path.join(tmp, "apps", "relcomp", ".config", "gcloud", "legacy_credentials", "acct")
    adc = _secret(os.path.join(gdir, "adc.json"), '{"private_key": "not-a-real-key"}\n')
    out = os.path.join(tmp, "apps", "relcomp")
    cgs["relcomp"].python("import os, sys; os.chdir(sys.argv[1]); d = os.open(sys.argv[2], os.O_PATH); "
                          "os.rename('adc.json', 'notes.txt', dst_dir_fd=d); "
                          "open(os.path.join(sys.argv[2], 'notes.txt')).read()", gdir, out)
    e = agent.wait_edge("relcomp: secret edge", lambda e: e in _secret_edges(agent, cgs["relcomp"]))
    check_eq((e["path"], e["category"], e["requested_path"]),
             (adc, "gcp-credentials", os.path.join(out, "notes.txt")),
             "relcomp: the file classed by its directories, under its classed name")
    # directories a rule names (".aws"), made and renamed away in a loop:
    # each is a walk; faster than the agent walks (a bucket of 20, 10 a
    # second), the road, never the agent's loop spent on them. The renamer
    # stays alive (the walks go through its root) until the end.
    loop_aws = os.path.join(tmp, "apps", "dirloop", ".aws")
    looper = start_process(cleanup, [PYTHON, "-c", DIR_LOOP, loop_aws], preexec_fn=cgs["dirloop"].enter_fn(),
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    check_eq(looper.stdout.readline().strip(), "renamed", "the directories renamed")
    innocent = os.path.join(tmp, "apps", "ln", "innocent-notes.txt")
    cgs["ln"].run(["ln", secrets["ln"], innocent])  # exits before the agent reads its event
    cgs["ln"].python("import sys; open(sys.argv[1]).read()", innocent)
    expect["ln"] = innocent
    for name in expect:
        e = agent.wait_edge(f"{name}: secret edge", lambda e, cg=cgs[name]: e in _secret_edges(agent, cg))
        check_eq((e["path"], e["category"], e["requested_path"]), (secrets[name], "private-key", expect[name]),
                 f"{name}: the secret under its classed name, read by the new one")
    # a chain of renames, the later ones by innocent names: followed while
    # the first is pending, so the read at the end is the secret
    chain_dir = os.path.join(tmp, "apps", "chain")
    cgs["chain"].run(["sh", "-c", f"cd {chain_dir} && mv server.key a && mv a b && cat b >/dev/null"])
    e = agent.wait_edge("chain: secret edge", lambda e: e in _secret_edges(agent, cgs["chain"]))
    check_eq((e["path"], e["category"], e["requested_path"]), (secrets["chain"], "private-key", "b"),
             "chain: the secret under its classed name, read by the last name")
    ids = {n: os.stat(cg.path).st_ino for n, cg in cgs.items()}
    for name in names:
        if name in dict(PASS_NAMES):
            # once its link events are handled (the taint credited back)
            wait_for(lambda: _u64_map(agent.proc.pid, "link_acked").get(ids[name]) ==
                     _u64_map(agent.proc.pid, "link_taint").get(ids[name], -1), f"{name}: link events handled", 10)
            r = _verify_nothing_declared(agent, tmp, f"host/newname-{name}")
            check_eq(r.returncode, 0, f"{name}: no secret, no road: {r.stdout[:400]}")
            continue
        r = wait_for(lambda: (r := _verify_nothing_declared(agent, tmp, f"host/newname-{name}")).returncode in (1, 2)
                     and r,
                     f"{name}: verify with no secret declared does not pass", 15)
        if name in dict(ROAD_NAMES) or name == "dirloop":
            check_eq(r.returncode, 2, f"{name}: the new name reach cannot follow: {r.stdout[:300]}")
            check("renamed-secret" in r.stdout, f"{name}: the road named: {r.stdout[:400]}")
            if name == "dirloop":  # the walks' rate, or the pending names' room, whichever ends first
                check("faster than reach walks" in r.stdout or "too many new names" in r.stdout,
                      f"dirloop: the bound named: {r.stdout[:600]}")
        else:
            check_eq(r.returncode, 1, f"{name}: the undeclared secret: {r.stdout[:300]}")
    # every link event handled is credited back: the kernel counted them
    # (link_taint), the agent acked as many (link_acked), so the cgroups'
    # opens are filtered again
    taint = _u64_map(agent.proc.pid, "link_taint")
    check(all(ids[n] in taint for n in names), f"each cgroup's link events counted: {taint} {ids}")
    wait_for(lambda: (acked := _u64_map(agent.proc.pid, "link_acked")) and
             all(acked.get(ids[n]) == _u64_map(agent.proc.pid, "link_taint")[ids[n]] for n in names),
             "every cgroup's taint lifted once its link events are handled", 10)
    looper.stdin.close()
    check_eq(looper.wait(timeout=30), 0, "the renamer")
    agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")


def test_a_rename_raced_by_another_thread_is_still_the_secret(cleanup, tmp):
    """Another thread spins on open(new name) on the other CPU while the
    main thread renames the secret to it (clients/rename_race.c): its open
    lands the moment the file has the name, before the rename's syscall has
    returned. Judged only at the exit, the cgroup was not tainted yet and the
    read was dropped as an innocent file's (5 of 8 tries verified pass on
    the build before); judged at the enter, the taint and the link's event
    come before the file has the new name: every try is the secret under its
    classed name, read by the new one, and verify finds it undeclared."""
    exe = os.path.join(tmp, "rename_race")
    sh("gcc", "-O2", "-Wall", "-pthread", os.path.join(ROOT, "tests", "e2e", "clients", "rename_race.c"), "-o", exe)
    root = Cgroup(cleanup, f"reach-e2e-race-{os.getpid()}")
    tries = 6
    cgs = [Cgroup(cleanup, f"try{i}", parent=root) for i in range(tries)]
    rules = [a for i, cg in enumerate(cgs) for a in ("--identity-rule", f"cgroup:{cg.rel} host/race-{i}")]
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, *rules])
    for i, cg in enumerate(cgs):
        secret = _secret(os.path.join(tmp, f"race{i}", "server.key"), "not-a-real-key-material\n")
        innocent = os.path.join(tmp, f"race{i}", "innocent-notes.txt")
        cg.run([exe, secret, innocent])
        e = agent.wait_edge(f"try {i}: secret edge", lambda e, cg=cg: e in _secret_edges(agent, cg))
        check_eq((e["path"], e["category"], e["requested_path"]), (secret, "private-key", innocent),
                 f"try {i}: the secret under its classed name, read by the new one")
        r = _verify_nothing_declared(agent, tmp, f"host/race-{i}")
        check_eq(r.returncode, 1, f"try {i}: the undeclared secret: {r.stdout[:300]}")
    agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")


def test_a_new_name_through_io_uring_is_a_blind_road(cleanup, tmp):
    """IORING_OP_RENAMEAT gives the secret an innocent name with no syscall
    to judge (the ring's worker does it), then the ring reads it there: the
    identity's blind road io_uring renameat, verify inconclusive."""
    from test_roads import _client
    client = _client(cleanup, tmp)
    secret = _secret(os.path.join(tmp, "ring", "server.key"), "not-a-real-key-material\n")
    innocent = os.path.join(tmp, "ring", "innocent-notes.txt")
    cg = Cgroup(cleanup, f"reach-e2e-ringname-{os.getpid()}")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--identity-rule", f"cgroup:{cg.rel} host/ringname"])
    cg.run([client, "rename", secret, innocent])
    r = wait_for(lambda: (r := _verify_nothing_declared(agent, tmp, "host/ringname")).returncode != 0 and r,
                 "verify does not pass", 15)
    check_eq(r.returncode, 2, f"the ring's rename is a gap: {r.stdout[:400]}")
    check("io_uring" in r.stdout and "renameat" in r.stdout and "a new name given through the ring" in r.stdout,
          f"the road named: {r.stdout[:600]}")
    agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")


def test_long_path_is_a_loss_verify_inconclusive(cleanup, tmp):
    # deeper than the kernel's resolved-path bound (512 bytes, 32 components)
    deep = tmp
    for i in range(40):
        deep = os.path.join(deep, f"d{i:02d}-component")
    os.makedirs(deep)
    secret = os.path.join(deep, "deep.key")
    with open(secret, "w") as f:
        f.write("x\n")
    cg = Cgroup(cleanup, f"reach-e2e-evasion-long-{os.getpid()}")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--identity-rule", f"cgroup:{cg.rel} host/ev-long"])
    cg.python("import sys; open(sys.argv[1]).read()", secret)
    e = agent.wait_edge("long path: an edge anyway", lambda e: e in _secret_edges(agent, cg))
    check(e["path"].endswith("/deep.key") and e["path"] != secret, f"the cut path is a suffix: {e['path']}")
    p = _verify_nothing_declared(agent, tmp, "host/ev-long")
    check_eq(p.returncode, 2, f"a cut path makes the verdict inconclusive: {p.stdout}")
    check("lost" in p.stdout, f"the loss is named: {p.stdout[:400]}")
    agent.stop()


def _old_hash(data, seed):
    """The in-kernel dedup hash reach used before (unkeyed FNV-style words)."""
    m = (1 << 64) - 1
    h = (seed ^ 0xcbf29ce484222325) & m
    for i in range(0, len(data), 8):
        w = int.from_bytes(data[i:i + 8], "little")
        h ^= w
        h = (h * 0x100000001b3) & m
        h ^= h >> 29
    return h ^ len(data)


def _old_collision(target, seed, length):
    """A name of `length` bytes whose old hash equals target's: the hash is
    invertible, so only the last word needs solving."""
    m = (1 << 64) - 1
    inv_p = pow(0x100000001b3, -1, 1 << 64)
    want = _old_hash(target, seed) ^ length
    # undo h ^= h >> 29
    x = want
    for _ in range(3):
        x = want ^ (x >> 29)
    before_mul = (x * inv_p) & m
    for n in range(1 << 16):
        prefix = target[:-16] + f"{n:08x}".encode()
        h = (seed ^ 0xcbf29ce484222325) & m
        for i in range(0, len(prefix), 8):
            h ^= int.from_bytes(prefix[i:i + 8], "little")
            h = (h * 0x100000001b3) & m
            h ^= h >> 29
        last = (before_mul ^ h).to_bytes(8, "little")
        if 0 not in last and b"/"[0] not in last:
            return prefix + last
    return None


def test_dedup_collision_decoy_no_longer_hides_the_secret(cleanup, tmp):
    d = os.path.join(tmp, "c")
    os.makedirs(d)
    # a secret path whose length is a multiple of 8 (the last word is free)
    name = "k" * ((-(len(d) + 1 + 4)) % 8 + 16) + ".key"
    secret = os.path.join(d, name).encode()
    check_eq(len(secret) % 8, 0, "secret path length")
    st = os.stat(os.path.realpath(PYTHON))
    exe_seed = st.st_ino ^ (((os.major(st.st_dev) << 20) | os.minor(st.st_dev)) << 40)
    decoy = _old_collision(secret, exe_seed, len(secret))
    check(decoy is not None, "a colliding decoy name was found")
    check_eq(_old_hash(decoy, exe_seed), _old_hash(secret, exe_seed), "decoy collides under the old hash")
    check(decoy != secret and decoy.startswith(d.encode() + b"/"), "decoy is another file in the same directory")
    for path in (secret, decoy):
        with open(path, "wb") as f:
            f.write(b"v\n")
    cg = Cgroup(cleanup, f"reach-e2e-evasion-decoy-{os.getpid()}")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path])
    # names passed in hex: the decoy's bytes are not text (argv is recorded)
    cg.python("import os, sys\nfor h in sys.argv[1:]: os.read(os.open(bytes.fromhex(h), os.O_RDONLY), 2)",
              decoy.hex(), secret.hex())
    e = agent.wait_edge("the secret behind the decoy", lambda e: e in _secret_edges(agent, cg)
                        and e["path"] == os.fsdecode(secret))
    check_eq(e["category"], "private-key", "secret category")
    agent.stop()


def _map_ids(pid):
    """ids of the BPF maps a process holds (its descriptors' fdinfo)."""
    ids = set()
    fdinfo = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fdinfo):
        try:
            with open(os.path.join(fdinfo, fd)) as f:
                for line in f:
                    if line.startswith("map_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def _hash_key(pid):
    """The agent's dedup hash key, read back from its BPF object's rodata."""
    import json
    out = sh("bpftool", "-j", "map", "show").stdout
    mine = _map_ids(pid)
    for m in json.loads(out):
        if m.get("name", "").endswith(".rodata") and m.get("id") in mine:
            dump = json.loads(sh("bpftool", "-j", "map", "dump", "id", str(m["id"])).stdout)
            for entry in dump:
                for sec in entry.get("formatted", {}).get("value", {}).get(".rodata", []):
                    if "hash_key" in sec:
                        return tuple(sec["hash_key"])
    return None


def _u64_map(pid, name):
    """A __u64 -> __u64 hash map of the agent's, as a dict."""
    import json
    mine = _map_ids(pid)
    for m in json.loads(sh("bpftool", "-j", "map", "show").stdout):
        if m.get("name") == name and m.get("id") in mine:
            out = {}
            for entry in json.loads(sh("bpftool", "-j", "map", "dump", "id", str(m["id"])).stdout):
                f = entry.get("formatted")
                if f:
                    out[int(f["key"])] = int(f["value"])
                else:
                    out[int.from_bytes(bytes(int(b, 16) for b in entry["key"]), "little")] = \
                        int.from_bytes(bytes(int(b, 16) for b in entry["value"]), "little")
            return out
    raise Failure(f"no map {name} of the agent's")


def test_hash_key_differs_per_start(cleanup, tmp):
    cg = Cgroup(cleanup, f"reach-e2e-evasion-key-{os.getpid()}")
    keys = []
    for i in range(2):
        agent = Agent(cleanup, tmp, ["--cgroup", cg.path], name=f"reachd{i}")
        k = wait_for(lambda: _hash_key(agent.proc.pid), "the agent's rodata", 10)
        check(any(k), f"start {i}: the key is not zero")
        keys.append(k)
        agent.stop()
    check(keys[0] != keys[1], "a new key at each start")


SA_TOKEN = "reach-e2e-evasion-sa-token-7f3c91"
SA_DIR = "/run/secrets/kubernetes.io/serviceaccount"


def test_projected_sa_token_fingerprinted_and_sent(cleanup, tmp):
    """The kubelet's projected volume layout (token -> ..data/token,
    ..data -> ..<timestamp>) in a private mount namespace: the edge is the
    stable name, its content is fingerprinted through the reader's root, and
    sending it as a bearer is `secret-sent`."""
    from harness import make_test_ca, wait_port, ROOT
    ca, cert, key = make_test_ca(cleanup, tmp)
    server = os.path.join(ROOT, "tests", "e2e", "https_server.py")
    start_process(cleanup, [PYTHON, server, "--bind", "127.0.0.1", "--tls-port", "19201", "--plain-port", "19200",
                            "--cert", cert, "--key", key, "--log", os.path.join(tmp, "srv.log")])
    wait_port("127.0.0.1", 19200)
    cg = Cgroup(cleanup, f"reach-e2e-evasion-sa-{os.getpid()}")
    identity = "host/ev-sa"
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--identity-rule", f"cgroup:{cg.rel} {identity}"])
    ts = "..2026_12_05_21_00_00.123456789"
    layout = (f"mount -t tmpfs tmpfs /run && mkdir -p {SA_DIR}/{ts} && printf %s \"$SA\" > {SA_DIR}/{ts}/token "
              f"&& ln -s {ts} {SA_DIR}/..data && ln -s ..data/token {SA_DIR}/token && exec \"$0\" -c \"$1\"")
    reader = f"""
import http.client, sys
tok = open("/var/run/secrets/kubernetes.io/serviceaccount/token").read()
c = http.client.HTTPConnection("127.0.0.1", 19200)
c.request("GET", "/api/v1/namespaces", headers={{"Authorization": "Bearer " + tok}}); c.getresponse().read()
print("sent", flush=True)
sys.stdin.readline()   # stays alive until the agent has read the file through its root
"""
    p = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", layout, PYTHON, reader],
                         preexec_fn=cg.enter_fn(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                         env=dict(os.environ, SA=SA_TOKEN))  # not in argv: argv is recorded
    cleanup.add(lambda: (p.kill(), p.wait()))
    check_eq(p.stdout.readline().strip(), "sent", "the reader sent its token")
    e = agent.wait_edge("the projected token", lambda e: e in _secret_edges(agent, cg))
    p.stdin.close()
    p.wait(timeout=30)
    check_eq(e["path"], f"{SA_DIR}/token", "the stable name, not ..data or the timestamped directory")
    check_eq(e["category"], "k8s-sa-token", "category")
    check_eq(e["requested_path"], "/var/run/secrets/kubernetes.io/serviceaccount/token", "the name as written")
    check(len(e.get("content_fingerprint", "")) == 16, f"the content was fingerprinted: {e}")
    policy = os.path.join(tmp, "policy.yaml")
    _policy(policy, identity)
    sent = wait_for(lambda: (lambda r: r if "secret-sent" in r.stdout else None)(
        subprocess.run([REACHCTL, "verify", "--socket", agent.socket, "--identity", identity, "--policy", policy,
                        "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)),
        "secret-sent finding", 10)
    check(sent.returncode in (1, 2), f"verify does not pass: {sent.returncode}")
    check(SA_TOKEN not in sent.stdout and SA_TOKEN not in agent.stderr(), "the token itself is never printed")
    with open(agent.out_path) as f:
        check(SA_TOKEN not in f.read(), "the token is not in the events")
    agent.stop()
