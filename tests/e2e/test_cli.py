"""Bad input: a clear error naming the problem and exit code 2."""
import os
import subprocess

from harness import REACHD, check, check_eq


def _run(args):
    return subprocess.run([REACHD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)


def test_unknown_flag(cleanup, tmp):
    p = _run(["--cgroup", "/sys/fs/cgroup", "--bogus"])
    check_eq(p.returncode, 2, "exit code")
    check("unknown option '--bogus'" in p.stderr, f"message names the flag: {p.stderr!r}")


def test_config_that_does_not_parse(cleanup, tmp):
    cfg = os.path.join(tmp, "bad.yaml")
    with open(cfg, "w") as f:
        f.write("monitor:\n  all: true\nsensor:\n  ringbuf_bytes: 5000\n")
    p = _run(["--config", cfg])
    check_eq(p.returncode, 2, "exit code")
    check(f"{cfg}:4:" in p.stderr and "ringbuf_bytes" in p.stderr, f"message names file:line and key: {p.stderr!r}")
    with open(cfg, "w") as f:
        f.write("monitor: [unclosed\n")
    p = _run(["--config", cfg])
    check_eq(p.returncode, 2, "exit code for a YAML syntax error")
    check(f"{cfg}:" in p.stderr, f"syntax error names the file: {p.stderr!r}")


def test_missing_pattern_file(cleanup, tmp):
    missing = os.path.join(tmp, "no-such-patterns.txt")
    p = _run(["--all", "--secret-patterns", missing])
    check_eq(p.returncode, 2, "exit code")
    check(missing in p.stderr and "No such file" in p.stderr, f"message names the file: {p.stderr!r}")


def test_bad_pattern_line(cleanup, tmp):
    pf = os.path.join(tmp, "patterns.txt")
    with open(pf, "w") as f:
        f.write("# comment\n/etc/llm/*.key llm\nrelative/path\n")
    p = _run(["--all", "--secret-patterns", pf])
    check_eq(p.returncode, 2, "exit code")
    check(f"{pf}:3" in p.stderr, f"message names file:line: {p.stderr!r}")


def test_not_a_cgroup(cleanup, tmp):
    p = _run(["--cgroup", tmp])
    check_eq(p.returncode, 2, "exit code")
    check("not a cgroup v2 directory" in p.stderr, f"message: {p.stderr!r}")


def test_nothing_to_monitor_and_help(cleanup, tmp):
    p = _run([])
    check_eq(p.returncode, 2, "exit code without a target")
    check("nothing to monitor" in p.stderr, f"message: {p.stderr!r}")
    h = _run(["--help"])
    check_eq(h.returncode, 0, "--help exit code")
    check("--cgroup PATH" in h.stdout, "--help lists --cgroup")
    v = _run(["--version"])
    check_eq(v.returncode, 0, "--version exit code")
    check(v.stdout.startswith("reachd "), "--version output")
