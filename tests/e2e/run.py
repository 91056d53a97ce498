#!/usr/bin/env python3
"""Runs the end-to-end tests: every test_* function of every tests/e2e/test_*.py.

Each test gets a fresh Cleanup and temp dir; whatever it created is undone
even when it fails. Prints one line per test and ends with
"e2e: N passed, N failed". Needs root (loads BPF programs).
usage: run.py [-k SUBSTRING]
"""
import importlib.util
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402


def discover(filter_s):
    for name in sorted(os.listdir(HERE)):
        if not (name.startswith("test_") and name.endswith(".py")):
            continue
        spec = importlib.util.spec_from_file_location(name[:-3], os.path.join(HERE, name))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for attr in sorted(vars(mod)):
            fn = getattr(mod, attr)
            full = f"{name[:-3]}.{attr}"
            if attr.startswith("test_") and callable(fn) and (not filter_s or filter_s in full):
                yield full, fn


def main():
    filter_s = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else None
    if os.geteuid() != 0:
        print("e2e: needs root to load BPF programs")
        print("e2e: 0 passed, 1 failed")
        return 1
    if not os.path.exists(harness.REACHD):
        print(f"e2e: {harness.REACHD} not built (run make)")
        print("e2e: 0 passed, 1 failed")
        return 1
    # The agent's default syscall hooks are per-syscall tracepoints, whose ids
    # come from tracefs: mount it as a node would have it, and undo that after.
    mounted_tracefs = harness.ensure_tracefs()
    try:
        passed, failed, skipped = run_all(filter_s)
    finally:
        if mounted_tracefs:
            harness.sh("umount", harness.TRACEFS, check_rc=False)
    print(f"e2e: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed or not passed else 0


def run_all(filter_s):
    passed = failed = skipped = 0
    for name, fn in discover(filter_s):
        cleanup = harness.Cleanup()
        t0 = time.monotonic()
        try:
            tmp = harness.make_tmp(cleanup, "reach-e2e-")
            fn(cleanup, tmp)
            status, detail = "PASS", ""
        except harness.Skip as e:
            status, detail = "SKIP", f": {e}"
        except Exception as e:
            status = "FAIL"
            detail = f": {e}" if isinstance(e, harness.Failure) else ":\n" + traceback.format_exc()
        if status == "FAIL":
            for agent in harness.AGENTS:
                tail = agent.stderr().splitlines()[-15:]
                detail += f"\n    --- {os.path.basename(agent.err_path)} (last lines) ---\n    " + "\n    ".join(tail)
        harness.AGENTS.clear()
        errors = cleanup.run()
        if errors and status == "PASS":
            status, detail = "FAIL", f": cleanup failed: {errors}"
        print(f"{status} {name} ({time.monotonic() - t0:.1f}s){detail}", flush=True)
        if status == "PASS":
            passed += 1
        elif status == "SKIP":
            skipped += 1
        else:
            failed += 1
    return passed, failed, skipped


if __name__ == "__main__":
    sys.exit(main())
