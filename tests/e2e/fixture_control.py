"""The control directory of the test fixtures (kube_server.py,
collector_server.py): a test drops a *.cmd file (written under another name
and renamed, so it is never read half-written); each line is applied with
fixture.apply(line) and the file is deleted once all its lines are, so the
test waits for it to disappear. A line that fails is written to errors.log
in the directory and the rest go on."""
import os
import sys
import time


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def control_loop(fx, ctl, name):
    while True:
        try:
            names = sorted(n for n in os.listdir(ctl) if n.endswith(".cmd"))
        except OSError:
            names = []
        for cmd_name in names:
            path = os.path.join(ctl, cmd_name)
            try:
                with open(path) as f:
                    lines = f.read().splitlines()
            except OSError:
                continue
            for line in lines:
                try:
                    fx.apply(line.strip())
                except Exception as e:  # report and go on: a test reads errors.log
                    msg = "%s: %r: %s\n" % (cmd_name, line, e)
                    sys.stderr.write(f"{name}: " + msg)
                    with open(os.path.join(ctl, "errors.log"), "a") as f:
                        f.write(msg)
            try:
                os.unlink(path)
            except OSError:
                pass
        time.sleep(0.05)
