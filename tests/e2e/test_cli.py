"""Bad input: a clear error naming the problem and exit code 2."""
import os
import subprocess

from harness import REACHD, check, check_eq


def _run(args, tmp):
    """reachd with the test's own state dir and socket: a run that gets past
    argument checks must not write to /var/lib/reach or /run/reach."""
    state = ["--state-dir", os.path.join(tmp, "state"), "--socket", os.path.join(tmp, "reachd.sock")]
    return subprocess.run([REACHD, *args, *state], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)


def test_unknown_flag(cleanup, tmp):
    p = _run(["--cgroup", "/sys/fs/cgroup", "--bogus"], tmp)
    check_eq(p.returncode, 2, "exit code")
    check("unknown option '--bogus'" in p.stderr, f"message names the flag: {p.stderr!r}")


def test_config_that_does_not_parse(cleanup, tmp):
    cfg = os.path.join(tmp, "bad.yaml")
    with open(cfg, "w") as f:
        f.write("monitor:\n  all: true\nsensor:\n  ringbuf_bytes: 5000\n")
    p = _run(["--config", cfg], tmp)
    check_eq(p.returncode, 2, "exit code")
    check(f"{cfg}:4:" in p.stderr and "ringbuf_bytes" in p.stderr, f"message names file:line and key: {p.stderr!r}")
    with open(cfg, "w") as f:
        f.write("monitor: [unclosed\n")
    p = _run(["--config", cfg], tmp)
    check_eq(p.returncode, 2, "exit code for a YAML syntax error")
    check(f"{cfg}:" in p.stderr, f"syntax error names the file: {p.stderr!r}")


def test_missing_pattern_file(cleanup, tmp):
    missing = os.path.join(tmp, "no-such-patterns.txt")
    p = _run(["--all", "--secret-patterns", missing], tmp)
    check_eq(p.returncode, 2, "exit code")
    check(missing in p.stderr and "No such file" in p.stderr, f"message names the file: {p.stderr!r}")


def test_bad_pattern_line(cleanup, tmp):
    pf = os.path.join(tmp, "patterns.txt")
    with open(pf, "w") as f:
        f.write("# comment\n/etc/llm/*.key llm\nrelative/path\n")
    p = _run(["--all", "--secret-patterns", pf], tmp)
    check_eq(p.returncode, 2, "exit code")
    check(f"{pf}:3" in p.stderr, f"message names file:line: {p.stderr!r}")


def test_not_a_cgroup(cleanup, tmp):
    p = _run(["--cgroup", tmp], tmp)
    check_eq(p.returncode, 2, "exit code")
    check("not a cgroup v2 directory" in p.stderr, f"message: {p.stderr!r}")


def test_nothing_to_monitor_and_help(cleanup, tmp):
    p = _run([], tmp)
    check_eq(p.returncode, 2, "exit code without a target")
    check("nothing to monitor" in p.stderr, f"message: {p.stderr!r}")
    h = _run(["--help"], tmp)
    check_eq(h.returncode, 0, "--help exit code")
    check("--cgroup PATH" in h.stdout, "--help lists --cgroup")
    v = _run(["--version"], tmp)
    check_eq(v.returncode, 0, "--version exit code")
    check(v.stdout.startswith("reachd "), "--version output")


def test_invalid_cidr_and_apiserver(cleanup, tmp):
    p = _run(["--all", "--cluster-cidr", "10.0.0.1/8"], tmp)
    check_eq(p.returncode, 2, "exit code for a CIDR with host bits")
    check("'10.0.0.1/8'" in p.stderr, f"message names the value: {p.stderr!r}")
    p = _run(["--all", "--apiserver", "kubernetes.default:443"], tmp)
    check_eq(p.returncode, 2, "exit code for a host name as apiserver")
    check("'kubernetes.default:443'" in p.stderr, f"message names the value: {p.stderr!r}")
    cfg = os.path.join(tmp, "egress.yaml")
    with open(cfg, "w") as f:
        f.write("monitor:\n  all: true\negress:\n  cluster_cidrs:\n    - 10.96.0.0/12\n    - 10.244.0.0/33\n")
    p = _run(["--config", cfg], tmp)
    check_eq(p.returncode, 2, "exit code for a bad CIDR in the config")
    check(f"{cfg}:6:7: egress.cluster_cidrs[1]: '10.244.0.0/33'" in p.stderr, f"file:line:col and value: {p.stderr!r}")
    env = dict(os.environ, KUBERNETES_SERVICE_HOST="not-an-ip")
    p = subprocess.run([REACHD, "--cgroup", "/nonexistent", "--state-dir", os.path.join(tmp, "state"),
                        "--socket", os.path.join(tmp, "reachd.sock")], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    check_eq(p.returncode, 2, "exit code for a bad KUBERNETES_SERVICE_HOST")
