"""reachctl behaves like kubectl (issue 20, the CLI): every command's
--help (its synopsis and its exit codes, exit 0), --version, global flags
before or after the command, REACH_SOCKET, and `diff` exiting 1 when reach
grew. Run against real ledger files (tests/deploy/synth_ledger.py) and the
real binary; no agent is needed except where the socket is the point."""
import json
import os
import subprocess
import sys
import time

from harness import REACHCTL, ROOT, check, check_eq

sys.path.insert(0, os.path.join(ROOT, "tests", "deploy"))
import synth_ledger  # noqa: E402

COMMANDS = ["reach", "coverage", "status", "verify", "findings", "epochs", "rotate", "policy suggest",
            "epoch start", "diff", "attest verify"]


def ctl(*args, env=None):
    e = dict(os.environ)
    e.pop("REACH_SOCKET", None)
    e.update(env or {})
    return subprocess.run([REACHCTL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30,
                          env=e)


def test_every_command_help_and_version(cleanup, tmp):
    p = ctl("--version")
    check_eq(p.returncode, 0, f"--version: {p.stderr}")
    check(p.stdout.startswith("reachctl ") and len(p.stdout.split()) == 2, f"--version prints {p.stdout!r}")
    check_eq(ctl("version").stdout, p.stdout, "the version command says the same")
    whole = ctl("--help")
    check_eq(whole.returncode, 0, "--help")
    for cmd in COMMANDS:
        for flag in ("--help", "-h"):
            h = ctl(*cmd.split(), flag)
            check_eq(h.returncode, 0, f"{cmd} {flag}: exit {h.returncode} {h.stderr}")
            check(h.stdout != whole.stdout, f"{cmd} {flag} prints the global usage")
            check(f"reachctl {cmd}" in h.stdout, f"{cmd} {flag} does not show its synopsis: {h.stdout[:200]}")
            check("Exit codes: 0 " in h.stdout, f"{cmd} {flag}: no exit codes")
            others = [c for c in COMMANDS if c != cmd and f"reachctl {c} " in h.stdout
                      and not (cmd == "epoch start" and c == "epochs")]
            check(not others, f"{cmd} {flag} shows other commands too: {others}")
        # after other options too
        h = ctl(*cmd.split(), "--identity", "a/b", "--help")
        check_eq(h.returncode, 0, f"{cmd} --identity a/b --help")
    check("diff: 1 when reach grew" in whole.stdout, "the global usage says diff's exit code")
    bad = ctl("nosuch", "--help")
    check_eq(bad.returncode, 2, "an unknown command with --help is still bad usage")
    check("unknown command 'nosuch'" in bad.stderr, bad.stderr)


def _ledgers(tmp):
    now = int(time.time() * 1000)
    a, b = os.path.join(tmp, "a.pb.z"), os.path.join(tmp, "b.pb.z")
    base = [{"kind": "secret", "object": "/var/run/secrets/llm/key", "category": "llm-key"}]
    synth_ledger.write(a, {"ai/gw": base}, now)
    synth_ledger.write(b, {"ai/gw": base + [{"kind": "tool", "object": "/bin/sh"}]}, now)
    return a, b


def test_global_flags_before_or_after_and_reach_socket(cleanup, tmp):
    a, _ = _ledgers(tmp)
    after = ctl("reach", "--ledger", a, "-o", "json")
    check_eq(after.returncode, 0, f"reach --ledger -o json: {after.stderr}")
    doc = json.loads(after.stdout)
    for form in (["--ledger", a, "-o", "json", "reach"], ["-o", "json", "reach", "--ledger", a],
                 [f"--ledger={a}", "-ojson", "reach"], ["--output=json", "--ledger", a, "reach"]):
        p = ctl(*form)
        check_eq(p.returncode, 0, f"{form}: {p.stderr}")
        check_eq(json.loads(p.stdout), doc, f"{form} prints what the flags after the command print")
    check(any(e.get("object") == "/var/run/secrets/llm/key" for i in doc.get("identities", [])
              for e in i.get("edges", [])) or "/var/run/secrets/llm/key" in after.stdout, "the ledger's edge is shown")
    # the socket: --socket before the command, REACH_SOCKET, and --socket over REACH_SOCKET
    sock_env = os.path.join(tmp, "from-env.sock")
    sock_flag = os.path.join(tmp, "from-flag.sock")
    p = ctl("status", env={"REACH_SOCKET": sock_env})
    check_eq(p.returncode, 1, "no agent there: exit 1")
    check(sock_env in p.stderr, f"REACH_SOCKET not used: {p.stderr}")
    p = ctl("--socket", sock_flag, "status", env={"REACH_SOCKET": sock_env})
    check(sock_flag in p.stderr and sock_env not in p.stderr, f"--socket before the command: {p.stderr}")
    p = ctl("-o", "yaml", "policy", "suggest", "--identity", "ai/gw", "--ledger", a)
    check_eq(p.returncode, 0, f"-o before a two-word command: {p.stderr}")
    check("kind: ReachPolicy" in p.stdout, f"policy suggest prints the policy: {p.stdout[:200]}")
    # --identity and --policy before the command too (as kubectl's -n)
    one = ctl("reach", "--ledger", a, "--identity", "ai/gw", "-o", "json")
    check_eq(one.returncode, 0, f"reach --identity after: {one.stderr}")
    for form in (["--identity", "ai/gw", "--ledger", a, "-o", "json", "reach"],
                 ["--identity=ai/gw", "reach", "--ledger", a, "-o", "json"]):
        p = ctl(*form)
        check_eq((p.returncode, json.loads(p.stdout) if p.returncode == 0 else None), (0, json.loads(one.stdout)),
                 f"{form}: the identity before the command selects as after it ({p.stderr})")
    pol = os.path.join(tmp, "gw-policy.yaml")
    with open(pol, "w") as f:
        f.write(ctl("policy", "suggest", "--identity", "ai/gw", "--ledger", a).stdout)
    after_v = ctl("verify", "--identity", "ai/gw", "--ledger", a, "--policy", pol, "-o", "json")
    before_v = ctl("--policy", pol, "--identity", "ai/gw", "verify", "--ledger", a, "-o", "json")
    check_eq((before_v.returncode, json.loads(before_v.stdout)["verdict"] if before_v.stdout else None),
             (after_v.returncode, json.loads(after_v.stdout)["verdict"] if after_v.stdout else None),
             f"--policy before verify judges as after it: {before_v.stderr} / {after_v.stderr}")
    # a policy is written as YAML only: another -o is bad usage, said so, wherever it is given
    for form in (["-o", "json", "policy", "suggest"], ["policy", "suggest", "-o", "json"]):
        p = ctl(*form, "--identity", "ai/gw", "--ledger", a)
        check_eq(p.returncode, 2, f"{form}: bad usage")
        check("policy suggest: -o must be one of yaml; not 'json'" in p.stderr, p.stderr)


def test_diff_exit_codes(cleanup, tmp):
    a, b = _ledgers(tmp)
    same = ctl("diff", a, a)
    check_eq(same.returncode, 0, f"no change: exit 0 ({same.stderr})")
    check_eq(json.loads(same.stdout)["appeared"], 0, "nothing appeared")
    grew = ctl("diff", a, b, "-o", "json")
    check_eq(grew.returncode, 1, f"reach grew: exit 1 ({grew.stderr})")
    doc = json.loads(grew.stdout)
    check_eq(doc["appeared"], 1, "one edge appeared")
    shrank = ctl("-o", "json", "diff", b, a)
    check_eq(shrank.returncode, 0, f"reach shrank: exit 0 ({shrank.stderr})")
    check_eq(json.loads(shrank.stdout)["disappeared"], 1, "one edge disappeared")
    check_eq(ctl("diff", a).returncode, 2, "one ledger: bad usage")
    t = ctl("diff", a, b, "-o", "table")
    check_eq(t.returncode, 1, f"diff -o table: reach grew, as with JSON: {t.stderr}")
    check("CHANGE" in t.stdout and "/bin/sh" in t.stdout, f"diff -o table shows the appeared tool: {t.stdout}")
    check_eq(ctl("diff", a, b, "-o", "dot").returncode, 2, "diff draws no graph: -o dot is bad usage")
    check_eq(ctl("diff", a, os.path.join(tmp, "missing.pb.z")).returncode, 2, "an unreadable ledger: 2, not 'grew'")


def test_output_yaml_is_the_json_document(cleanup, tmp):
    """-o yaml (libyaml's emitter) is the same document as -o json, strings
    that look like numbers, booleans or dates staying strings; an unknown -o
    value is bad usage (2)."""
    import yaml
    a, b = _ledgers(tmp)
    policy = os.path.join(tmp, "p.yaml")
    with open(policy, "w") as f:
        f.write("apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: gw}\n"
                "spec: {identity: ai/gw, secrets: [/var/run/secrets/llm/**]}\n")
    for args in (["reach", "--ledger", b], ["coverage", "--ledger", b],
                 ["verify", "--ledger", b, "--policy", policy], ["findings", "--ledger", b, "--policy", policy],
                 ["diff", a, b]):
        j = ctl(*args, "-o", "json")
        y = ctl(*args, "-o", "yaml")
        check_eq(y.returncode, j.returncode, f"{args}: the same exit code")
        check(j.stdout.strip(), f"{args} -o json printed nothing: {j.stderr}")
        check_eq(yaml.safe_load(y.stdout), json.loads(j.stdout), f"{args}: -o yaml is the -o json document")
        check(not y.stdout.lstrip().startswith("{"), f"{args}: -o yaml printed JSON")
    # the verdict of b: the shell is undeclared (fail), as JSON and YAML say
    check_eq(ctl("verify", "--ledger", b, "--policy", policy, "-o", "yaml").returncode, 1, "verify: findings")
    for cmd in (["reach", "--ledger", a], ["coverage", "--ledger", a], ["verify", "--ledger", a]):
        p = ctl(*cmd, "-o", "xml")
        check_eq(p.returncode, 2, f"{cmd} -o xml: bad usage")
        check("-o must be one of " in p.stderr and "not 'xml'" in p.stderr, p.stderr)
    check_eq(ctl("reach", "--ledger", a, "-o", "wide").returncode, 0, "-o wide is a table")
