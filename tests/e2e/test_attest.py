"""Signed attestations (issue 19): the agent's verification records are
hash-chained per identity; `reachctl verify --attest FILE --key KEY` writes
an in-toto Statement in a DSSE envelope signed with an Ed25519 key, and
`reachctl attest verify FILE --key PUB` checks the signature, every record of
the chain and the policy/ledger digests. One byte changed in a record, the
policy or the signature, a record removed or reordered, or another key:
exit 1, the broken record named. The private key never appears in any
output."""
import base64
import hashlib
import json
import os
import signal
import subprocess

from harness import PYTHON, REACHCTL, ROOT, Agent, Cgroup, check, check_eq, make_test_ca, start_process, wait_for

KUBE_PORT = 20801  # this file's ports: 20800-20819

READ = "import sys\nfor p in sys.argv[1:]: open(p).read()\n"


def _run(*argv):
    return subprocess.run([REACHCTL, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)


def _openssl(*argv):
    subprocess.run(["openssl", *argv], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)


def _statement(env):
    return json.loads(base64.b64decode(env["payload"]))


def _rewrite(env, fn, path):
    """The envelope with its Statement changed by fn, the signature kept (an
    attacker without the key), written to path."""
    st = _statement(env)
    fn(st["predicate"])
    out = dict(env, payload=base64.b64encode(json.dumps(st, separators=(",", ":")).encode()).decode())
    with open(path, "w") as f:
        json.dump(out, f)
    return path


def test_attestation_signed_chained_and_tamper_evident(cleanup, tmp):
    declared, extra = os.path.join(tmp, "declared.key"), os.path.join(tmp, "extra.key")
    for p in (declared, extra):
        with open(p, "w") as f:
            f.write("x\n")
    key, pub = os.path.join(tmp, "signing.key"), os.path.join(tmp, "signing.pub")
    other_key, other_pub = os.path.join(tmp, "other.key"), os.path.join(tmp, "other.pub")
    for k, p in ((key, pub), (other_key, other_pub)):
        _openssl("genpkey", "-algorithm", "ed25519", "-out", k)
        _openssl("pkey", "-in", k, "-pubout", "-out", p)
    with open(key) as f:
        key_body = "".join(line for line in f.read().splitlines() if "-----" not in line)
    root = Cgroup(cleanup, f"reach-e2e-attest-{os.getpid()}")
    app = Cgroup(cleanup, "svc", parent=root)
    identity = "host/attestsvc"
    policy = os.path.join(tmp, "policy.yaml")

    def write_policy(path, secrets):
        with open(path, "w") as f:
            f.write(f"apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {{name: svc}}\nspec:\n"
                    f"  identity: {identity}\n  secrets: [{', '.join(secrets)}]\n  tools: [\"/**/python3*\"]\n")
    write_policy(policy, [declared])
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--identity-rule", f"cgroup:{app.rel} {identity}",
                                 "--policy", policy, "--settle-window", "1"])
    agent.epoch_start(identity, "v1")
    app.python(READ, declared, extra)

    def records():
        return agent.reachctl("epochs", "--identity", identity, "-o", "json")["records"]
    first = wait_for(lambda: next((r for r in records() if r["to_version"] == "v1" and r["state"] == "verified"),
                                  None), "v1 verified", 20)
    check_eq((first["verdict"], first["findings"]), ("fail", 1), "v1 fails: the undeclared read")
    check(len(first["hash"]) == 64 and len(first["prev_hash"]) == 64 and first["seq"] >= 1,
          f"the verified record is sealed into the chain: {first}")
    write_policy(policy, [declared, extra])
    agent.proc.send_signal(signal.SIGHUP)
    second = wait_for(lambda: next((r for r in records() if r["follows"] == first["id"] and r["state"] == "verified"),
                                   None), "v1 re-verified under the edited policy", 20)
    check_eq((second["verdict"], second["seq"], second["prev_hash"]), ("pass", first["seq"] + 1, first["hash"]),
             "the re-verification is the next link of the identity's chain")

    # v2 (the extra read again, now declared): a third link
    agent.epoch_start(identity, "v2")
    app.python(READ, declared, extra)
    third = wait_for(lambda: next((r for r in records() if r["to_version"] == "v2" and r["state"] == "verified"),
                                  None), "v2 verified", 20)
    check_eq((third["verdict"], third["seq"], third["prev_hash"]), ("pass", second["seq"] + 1, second["hash"]),
             "v2 is the next link")

    table = agent.reachctl("epochs", "--identity", identity).stdout
    check(all(f"{r['seq']}:{r['hash'][:12]}" in table for r in (first, second, third)),
          f"the table shows each record's link: {table}")

    # the attestation: verify passes (exit 0) and the file is written
    att = os.path.join(tmp, "attestation.json")
    p = _run("verify", "--socket", agent.socket, "--identity", identity, "--attest", att, "--key", key)
    check_eq(p.returncode, 0, f"verify --attest: {p.stdout}{p.stderr}")
    check(f"attestation of {identity} written to {att}" in p.stderr, f"says where: {p.stderr}")
    check(key_body[:24] not in p.stdout + p.stderr and "PRIVATE" not in p.stdout + p.stderr, "the key is never printed")
    with open(att) as f:
        env = json.load(f)
    check_eq(env["payloadType"], "application/vnd.in-toto+json", "DSSE payload type")
    check_eq(len(env["signatures"]), 1, "one signature")
    check(len(env["signatures"][0]["keyid"]) == 64, "keyid: SHA-256 of the public key")
    st = _statement(env)
    check_eq(st["_type"], "https://in-toto.io/Statement/v1", "in-toto Statement v1")
    check_eq(st["predicateType"], "https://reach.dev/attestation/verification/v1", "predicate type")
    check_eq(st["subject"][0]["name"], f"{identity}@v2", "subject: the identity's epoch")
    # a declared version's subject: the executable its root process ran under
    # it (python3 -c: the interpreter itself), hashed by the agent
    with open(PYTHON, "rb") as f:
        python_sha = hashlib.sha256(f.read()).hexdigest()
    check_eq((st["subject"][0]["annotations"]["reach.dev/digest-of"], st["subject"][0]["digest"]["sha256"]),
             ("executable", python_sha), "a declared version: the executable it ran")
    pred = st["predicate"]
    check_eq((pred["subject_of"], pred["artifact"]["sha256"], pred["artifact"]["size"]),
             ("executable", python_sha, os.path.getsize(PYTHON)), "the predicate names the file hashed")
    check_eq((pred["identity"], pred["epoch"], pred["previous_epoch"], pred["verdict"], pred["exit_code"]),
             (identity, "v2", "v1", "pass", 0),
             "the verdict attested")
    check_eq(pred["policy_digest"]["sha256"], third["policy_digest"], "the policy digest of the records' policies")
    check(len(pred["ledger_digest"]["sha256"]) == 64 and pred["ledger_source"] == "agent", "the ledger digest")
    check(pred["coverage"] is not None and "gaps" in pred["coverage"], f"the coverage record: {pred['coverage']}")
    check(pred["sensor"]["name"] == "reach" and pred["sensor"]["version"], "the sensor version")
    chain = pred["records"]
    check_eq([r["seq"] for r in chain], list(range(1, len(chain) + 1)), "the whole chain, in order")
    check_eq([(r["to_version"], r["state"], r["verdict"], r["findings"]) for r in chain][-3:],
             [("v1", "verified", "fail", 1), ("v1", "verified", "pass", 0), ("v2", "verified", "pass", 0)],
             "the two verifications of v1, then v2's")
    check_eq([r["hash"] for r in chain[-3:]], [first["hash"], second["hash"], third["hash"]],
             "the agent's records, as sealed")
    check_eq(pred["chain_head"], {"seq": third["seq"], "sha256": third["hash"]}, "the chain head")

    ok = _run("attest", "verify", att, "--key", pub, "--policy", policy)
    check_eq(ok.returncode, 0, f"attest verify: {ok.stdout}{ok.stderr}")
    check("signature: verifies with the key" in ok.stdout and f"records: {len(chain)} in the chain of {identity}"
          in ok.stdout and "(matches the policies given)" in ok.stdout and "attest verify: OK" in ok.stdout,
          f"what was checked: {ok.stdout}")

    def failed(path, *extra_args, want):
        r = _run("attest", "verify", path, "--key", *extra_args)
        check_eq(r.returncode, 1, f"{want}: {r.stdout}{r.stderr}")
        check("attest verify: FAILED" in r.stdout, f"{want}: FAILED: {r.stdout}")
        for w in ([want] if isinstance(want, str) else want):
            check(w in r.stdout, f"'{w}' in: {r.stdout}")
        return r.stdout

    # one byte of a record: that record is named, and the signature fails
    n = len(chain) - 3  # the failed verification of v1, seq n + 1

    def one_byte(pred):
        pred["records"][n]["findings"] = 0
    failed(_rewrite(env, one_byte, os.path.join(tmp, "changed.json")), pub,
           want=[f"record seq {n + 1} (id {first['id']}, {identity} v1, verified): changed",
                 "signature: does not verify with the key"])

    def removed(pred):  # the middle one: v1's re-verification
        del pred["records"][n + 1]
    failed(_rewrite(env, removed, os.path.join(tmp, "removed.json")), pub,
           want=f"record seq {n + 3} (id {third['id']}, {identity} v2, verified): after record seq {n + 1}: the "
                "records between are missing")

    def reordered(pred):
        pred["records"][n + 1], pred["records"][n + 2] = pred["records"][n + 2], pred["records"][n + 1]
    failed(_rewrite(env, reordered, os.path.join(tmp, "reordered.json")), pub,
           want=f"record seq {n + 2} (id {second['id']}, {identity} v1, verified): after record seq {n + 3}: out of "
                "order")

    # one byte of the policy: the digest differs
    edited = os.path.join(tmp, "policy-edited.yaml")
    write_policy(edited, [declared, extra.replace("extra.key", "extrb.key")])
    failed(att, pub, "--policy", edited, want="problem: policy: the policies given have digest")

    # one byte of the signature
    sig = base64.b64decode(env["signatures"][0]["sig"])
    bad_sig = dict(env, signatures=[dict(env["signatures"][0],
                                         sig=base64.b64encode(bytes([sig[0] ^ 1]) + sig[1:]).decode())])
    with open(os.path.join(tmp, "badsig.json"), "w") as f:
        json.dump(bad_sig, f)
    out = failed(os.path.join(tmp, "badsig.json"), pub, want="signature: does not verify with the key")
    check(f"records: {len(chain)} in the chain" in out, "the chain itself is intact")

    # another key
    failed(att, other_pub, want="signed by another key")

    # key files: clear errors, exit 2, nothing written
    missing = os.path.join(tmp, "missing.key")
    p = _run("verify", "--socket", agent.socket, "--identity", identity, "--attest", os.path.join(tmp, "no.json"),
             "--key", missing)
    check_eq((p.returncode, p.stderr.strip()), (2, f"reachctl: key file {missing}: No such file or directory"),
             "a missing key")
    check(not os.path.exists(os.path.join(tmp, "no.json")), "no attestation without a key")
    p = _run("verify", "--socket", agent.socket, "--identity", identity, "--attest", os.path.join(tmp, "no.json"),
             "--key", pub)
    check(p.returncode == 2 and f"key file {pub}: not a PEM private key" in p.stderr, f"a public key: {p.stderr}")
    p = _run("verify", "--socket", agent.socket, "--attest", os.path.join(tmp, "no.json"), "--key", key)
    check(p.returncode == 2 and "needs --identity" in p.stderr, f"--attest needs the identity: {p.stderr}")
    p = _run("attest", "verify", att)
    check(p.returncode == 2 and "needs --key" in p.stderr, f"attest verify needs a key: {p.stderr}")
    p = _run("attest", "verify", os.path.join(tmp, "nosuch.json"), "--key", pub)
    check(p.returncode == 2 and "No such file" in p.stderr, f"a missing attestation: {p.stderr}")
    agent.stop()

    # offline, from the saved ledger: its digest is checked against the file
    ledger = os.path.join(agent.state_dir, "ledger.pb.z")
    off = os.path.join(tmp, "offline.json")
    p = _run("verify", "--ledger", ledger, "--policy", policy, "--identity", identity, "--attest", off, "--key", key)
    check_eq(p.returncode, 0, f"verify --ledger --attest: {p.stdout}{p.stderr}")
    with open(off) as f:
        pred = _statement(json.load(f))["predicate"]
    check_eq((pred["ledger_source"], pred["records"], pred["chain_head"], pred["epoch"]), ("file", [], None, "v2"),
             "offline: no record chain (the records live in the agent)")
    check_eq(pred["subject_of"], "epoch-name", "offline: no file was hashed, the version's name only")
    ok = _run("attest", "verify", off, "--key", pub, "--ledger", ledger, "--policy", policy)
    check(ok.returncode == 0 and "(matches the ledger given)" in ok.stdout, f"the ledger matches: {ok.stdout}")
    changed = os.path.join(tmp, "ledger-changed.pb.z")
    with open(ledger, "rb") as f, open(changed, "wb") as g:
        data = bytearray(f.read())
        data[-1] ^= 1
        g.write(data)
    failed(off, pub, "--ledger", changed, want="problem: ledger: the ledger given has digest")

    # a restart: the chain goes on from the state directory's records file
    journal = os.path.join(agent.state_dir, "verification-records")
    with open(journal) as f:
        kept = [json.loads(line) for line in f]
    check_eq([r["hash"] for r in kept], [r["hash"] for r in chain], "every link kept on disk, in order")
    args = ["--cgroup", root.path, "--identity-rule", f"cgroup:{app.rel} {identity}", "--policy", policy,
            "--settle-window", "1"]
    agent2 = Agent(cleanup, tmp, args, name="reachd2")
    check(f"{len(chain)} verification records restored" in agent2.stderr(), f"restored: {agent2.stderr()[-600:]}")
    after = wait_for(lambda: next((r for r in agent2.reachctl("epochs", "--identity", identity, "-o", "json")["records"]
                                   if r["state"] == "verified"), None), "v2 verified again after the restart", 20)
    check_eq((after["to_version"], after["seq"], after["prev_hash"]), ("v2", third["seq"] + 1, third["hash"]),
             "the first link after the restart follows the last before it")
    check(after["id"] > third["id"], "record ids go on after the restored ones")
    att2 = os.path.join(tmp, "after-restart.json")
    p = _run("verify", "--socket", agent2.socket, "--identity", identity, "--attest", att2, "--key", key)
    check_eq(p.returncode, 0, f"verify --attest after the restart: {p.stdout}{p.stderr}")
    ok = _run("attest", "verify", att2, "--key", pub)
    check(ok.returncode == 0 and f"records: {len(chain) + 1} in the chain of {identity}" in ok.stdout,
          f"one chain across the restart: {ok.stdout}")
    agent2.stop()

    # one byte of a kept record changed on disk: the agent names it at start,
    # and reachctl refuses to sign the broken chain (exit 2)
    with open(journal) as f:
        lines = f.read().splitlines()
    i = next(k for k, line in enumerate(lines) if json.loads(line)["id"] == first["id"])
    check('"findings":1,' in lines[i], f"the failed verification's line: {lines[i]}")
    lines[i] = lines[i].replace('"findings":1,', '"findings":0,')
    with open(journal, "w") as f:
        f.write("\n".join(lines) + "\n")
    agent3 = Agent(cleanup, tmp, args, name="reachd3")
    named = f"record seq {first['seq']} (id {first['id']}, {identity} v1, verified): changed"
    check(f"the verification records of {identity} are not as written: {named}" in agent3.stderr(),
          f"the agent names the changed record: {agent3.stderr()[-1200:]}")
    att3 = os.path.join(tmp, "broken.json")
    p = _run("verify", "--socket", agent3.socket, "--identity", identity, "--attest", att3, "--key", key)
    check(p.returncode == 2 and named in p.stderr and "does not verify: no attestation written" in p.stderr,
          f"a broken chain is not signed: {p.returncode} {p.stderr}")
    check(not os.path.exists(att3), "nothing written")
    agent3.stop()


def test_attestation_subject_is_the_program_and_goes_to_stdout(cleanup, tmp):
    """python3 app.py with no declared version: the epoch is app.py's, and
    the attestation's subject is app.py's SHA-256 (subject_of program),
    hashed by the agent off its event loop; a new app.py is a new subject.
    `--attest -` prints one line `reach-attestation {...}` on stdout, and
    `attest verify` reads it back from a saved log. `--since` compares the
    new version with the old one."""
    secret = os.path.join(tmp, "svc.key")
    with open(secret, "w") as f:
        f.write("x\n")
    key, pub = os.path.join(tmp, "signing.key"), os.path.join(tmp, "signing.pub")
    _openssl("genpkey", "-algorithm", "ed25519", "-out", key)
    _openssl("pkey", "-in", key, "-pubout", "-out", pub)
    app_py = os.path.join(tmp, "app.py")
    root = Cgroup(cleanup, f"reach-e2e-attestprog-{os.getpid()}")
    app = Cgroup(cleanup, "svc", parent=root)
    identity = "host/attestprog"
    policy = os.path.join(tmp, "policy.yaml")
    with open(policy, "w") as f:
        f.write(f"apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {{name: prog}}\nspec:\n"
                f"  identity: {identity}\n  secrets: [{secret}]\n  tools: [\"/**/python3*\"]\n")
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--identity-rule", f"cgroup:{app.rel} {identity}",
                                 "--policy", policy, "--settle-window", "1"])

    def serve(version):
        """The service: reads its key, then runs until its stdin closes."""
        with open(app_py, "w") as f:
            f.write(f"# {version}\nimport sys\nopen(sys.argv[1]).read()\nsys.stdin.read()\n")
        with open(app_py, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        proc = subprocess.Popen([PYTHON, app_py, secret], stdin=subprocess.PIPE, preexec_fn=app.enter_fn())
        cleanup.add(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        return proc, sha

    def attest(*extra):
        p = _run("verify", "--socket", agent.socket, "--identity", identity, "--attest", "-", "--key", key, *extra)
        check_eq(p.returncode, 0, f"verify --attest -: {p.stdout}{p.stderr}")
        lines = [line for line in p.stdout.splitlines() if line.startswith("reach-attestation ")]
        check_eq(len(lines), 1, f"one attestation line on stdout: {p.stdout[:400]}")
        check(p.stdout.startswith("verify: ") and p.stdout.splitlines()[-1] == lines[0],
              f"the verdict first, the attestation the last line: {p.stdout[:200]}")
        check("written to stdout" in p.stderr, f"says where: {p.stderr}")
        return json.loads(lines[0][len("reach-attestation "):]), p.stdout

    def current_epoch():
        v = _run("verify", "--socket", agent.socket, "--identity", identity, "-o", "json")
        return json.loads(v.stdout)["identities"][0]["epoch"] if v.returncode in (0, 1, 2) and v.stdout else ""

    proc, sha1 = serve("1.0")
    epoch1 = f"app.py@{sha1[:12]}"
    wait_for(lambda: current_epoch() == epoch1, f"the program's epoch {epoch1}", 20)

    def subject():
        env, out = attest()
        st = _statement(env)
        return st if st["predicate"]["subject_of"] == "program" else None
    # hashed off the loop: the attestation names the file once the worker is done
    st = wait_for(subject, "the program file hashed", 20)
    check_eq((st["subject"][0]["name"], st["subject"][0]["digest"]["sha256"],
              st["subject"][0]["annotations"]["reach.dev/digest-of"]),
             (f"{identity}@{epoch1}", sha1, "program"), "the subject: app.py's SHA-256")
    check_eq((st["predicate"]["epoch"], st["predicate"]["artifact"]["sha256"], st["predicate"]["artifact"]["size"]),
             (epoch1, sha1, os.path.getsize(app_py)), "the predicate names the same file")
    env, out = attest()
    log = os.path.join(tmp, "job.log")
    with open(log, "w") as f:
        f.write("some earlier line of the Job's log\n" + out)
    ok = _run("attest", "verify", log, "--key", pub, "--policy", policy)
    check(ok.returncode == 0 and f"subject: the program's sha256 {sha1}" in ok.stdout and "attest verify: OK" in
          ok.stdout, f"attest verify reads the line from a saved log: {ok.stdout}{ok.stderr}")
    p = _run("verify", "--socket", agent.socket, "--identity", identity, "--attest", "-", "--key", key, "-o", "json")
    check(p.returncode == 2 and "use the text output" in p.stderr and not p.stdout,
          f"-o json with --attest -: refused, stdout stays JSON-only: {p.returncode} {p.stderr}")
    proc.stdin.close()
    proc.wait(timeout=30)

    # the application upgraded (python3 not): a new epoch, a new subject
    proc, sha2 = serve("1.1")
    epoch2 = f"app.py@{sha2[:12]}"
    wait_for(lambda: current_epoch() == epoch2, f"the new program's epoch {epoch2}", 20)
    st = wait_for(lambda: (lambda s: s if s and s["subject"][0]["digest"]["sha256"] == sha2 else None)(subject()),
                  "the new app.py hashed", 20)
    check_eq((st["predicate"]["epoch"], st["predicate"]["previous_epoch"]), (epoch2, epoch1),
             "the new version, after the old")
    since = agent.reachctl("verify", "--identity", identity, "--since", epoch1, check_rc=False)
    check(f"epoch {epoch2} (compared with {epoch1})" in since.stdout, f"--since names the pair: {since.stdout}")
    bad = agent.reachctl("verify", "--identity", identity, "--since", epoch2, check_rc=False)
    check(bad.returncode == 2 and "is the epoch judged" in bad.stderr, f"--since the epoch judged: {bad.stderr}")
    proc.stdin.close()
    proc.wait(timeout=30)
    status = agent.reachctl("status", "-o", "json")
    check_eq(status["artifact_hashes_skipped"], 0, "every file of the test was hashed")
    agent.stop()


def test_signing_key_from_a_kubernetes_secret(cleanup, tmp):
    """--key-secret NS/NAME[:KEY]: the signing key read from a Secret
    through the API (the local API stand-in over TLS with a bearer token),
    the same signature as the key's file; a missing Secret, a missing key,
    a forbidden read, a key that is no Ed25519 key: exit 2, the Secret named,
    nothing written, the key's bytes never printed."""
    key, pub = os.path.join(tmp, "signing.key"), os.path.join(tmp, "signing.pub")
    _openssl("genpkey", "-algorithm", "ed25519", "-out", key)
    _openssl("pkey", "-in", key, "-pubout", "-out", pub)
    rsa = os.path.join(tmp, "rsa.key")
    _openssl("genpkey", "-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:2048", "-out", rsa)
    with open(key, "rb") as f:
        pem = f.read()
    body = "".join(line for line in pem.decode().splitlines() if "-----" not in line)
    with open(rsa, "rb") as f:
        rsa_pem = f.read()

    ca, cert, tls_key = make_test_ca(cleanup, tmp)
    token = f"reach-e2e-attest-token-{os.getpid()}"
    token_file = os.path.join(tmp, "token")
    with open(token_file, "w") as f:
        f.write(token)
    control = os.path.join(tmp, "kube-control")
    os.makedirs(control)
    pods = os.path.join(tmp, "pods.json")
    with open(pods, "w") as f:
        json.dump([], f)
    start_process(cleanup, [PYTHON, os.path.join(ROOT, "tests", "e2e", "kube_server.py"), "--port", str(KUBE_PORT),
                            "--cert", cert, "--key", tls_key, "--token", token, "--pods", pods, "--control", control])
    wait_for(lambda: os.path.exists(os.path.join(control, "ready")), "kube API fixture ready", 10)
    n = [0]

    def command(line):
        n[0] += 1
        tmpf, final = os.path.join(control, f".{n[0]}.tmp"), os.path.join(control, f"{n[0]}.cmd")
        with open(tmpf, "w") as f:
            f.write(line + "\n")
        os.rename(tmpf, final)
        wait_for(lambda: not os.path.exists(final), f"kube API applied '{line[:30]}'", 10)

    def secret(name, data):
        obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"namespace": "reach-system", "name": name},
               "type": "Opaque", "data": {k: base64.b64encode(v).decode() for k, v in data.items()}}
        command("put secrets " + json.dumps(obj, separators=(",", ":")))
    secret("reach-attest-key", {"reach.key": pem})
    secret("two-keys", {"reach.key": pem, "other": b"x"})
    secret("rsa-key", {"reach.key": rsa_pem})

    # a ledger to judge offline (the Secret is the subject here, not the agent)
    root = Cgroup(cleanup, f"reach-e2e-attestsecret-{os.getpid()}")
    app = Cgroup(cleanup, "svc", parent=root)
    identity = "host/attestsecret"
    policy = os.path.join(tmp, "policy.yaml")
    with open(policy, "w") as f:
        f.write(f"apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {{name: s}}\nspec:\n"
                f"  identity: {identity}\n  tools: [\"/**/python3*\"]\n")
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--identity-rule", f"cgroup:{app.rel} {identity}"])
    app.python("pass")
    wait_for(lambda: any(i["identity"] == identity for i in agent.reachctl("reach", "-o", "json")["identities"]),
             "the identity observed", 10)
    agent.stop()
    ledger = os.path.join(agent.state_dir, "ledger.pb.z")
    kube = ["--kube-api", f"https://127.0.0.1:{KUBE_PORT}", "--kube-token-file", token_file, "--kube-ca", ca]

    def attest(out, spec, *extra):
        return _run("verify", "--ledger", ledger, "--policy", policy, "--identity", identity, "--attest", out,
                    "--key-secret", spec, *kube, *extra)

    for spec in ("reach-system/reach-attest-key", "reach-system/reach-attest-key:reach.key"):
        out = os.path.join(tmp, "from-secret.json")
        p = attest(out, spec)
        check_eq(p.returncode, 0, f"--key-secret {spec}: {p.stdout}{p.stderr}")
        check(body[:24] not in p.stdout + p.stderr and "PRIVATE" not in p.stdout + p.stderr, "the key never printed")
        ok = _run("attest", "verify", out, "--key", pub)
        check(ok.returncode == 0 and "signature: verifies with the key" in ok.stdout,
              f"signed by the Secret's key: {ok.stdout}{ok.stderr}")
        os.unlink(out)
    with open(os.path.join(control, "requests.log")) as f:
        log = f.read()
    check("GET /api/v1/namespaces/reach-system/secrets/reach-attest-key 200" in log, f"read through the API: {log}")

    def refused(spec, want, *extra):
        out = os.path.join(tmp, "refused.json")
        p = attest(out, spec, *extra)
        check(p.returncode == 2 and want in p.stderr, f"--key-secret {spec}: exit 2, '{want}': {p.returncode} {p.stderr}")
        check(not os.path.exists(out), "nothing written")
        check(body[:24] not in p.stdout + p.stderr and base64.b64encode(pem).decode()[:24] not in p.stderr,
              "the key never printed")
    refused("reach-system/nosuch", "secret reach-system/nosuch: not found (HTTP 404)")
    refused("reach-system/reach-attest-key:nokey", "secret reach-system/reach-attest-key: no such key (its keys: reach.key)")
    refused("reach-system/two-keys", "more than one key (its keys: ")
    refused("reach-system/rsa-key", "secret reach-system/rsa-key: a rsaEncryption key, not Ed25519")
    refused("reach-system", "give NAMESPACE/NAME[:KEY]")
    command("fail 403")
    refused("reach-system/reach-attest-key", "forbidden: the token may not get it")
    p = _run("verify", "--ledger", ledger, "--policy", policy, "--identity", identity, "--attest",
             os.path.join(tmp, "x.json"), "--key", key, "--key-secret", "reach-system/reach-attest-key")
    check(p.returncode == 2 and "not both" in p.stderr, f"--key and --key-secret: {p.stderr}")


RECORDS_PORT = 20802


def test_gate_attests_each_agents_chain(cleanup, tmp):
    """GET /v1/records (behind the agent's API token) serves every
    identity's hash chain; `verify --agents ... --attest -` carries, per
    agent, the identity's chain and the digest of the ledger it served, and
    `attest verify` checks each chain: one byte of an agent's record changed
    is named."""
    import urllib.error
    import urllib.request
    token = f"reach-e2e-attest-records-{os.getpid()}"
    token_file = os.path.join(tmp, "api-token")
    with open(token_file, "w") as f:
        f.write(token + "\n")
    os.chmod(token_file, 0o600)
    key, pub = os.path.join(tmp, "signing.key"), os.path.join(tmp, "signing.pub")
    _openssl("genpkey", "-algorithm", "ed25519", "-out", key)
    _openssl("pkey", "-in", key, "-pubout", "-out", pub)
    secret = os.path.join(tmp, "svc.key")
    with open(secret, "w") as f:
        f.write("x\n")
    root = Cgroup(cleanup, f"reach-e2e-attestrecs-{os.getpid()}")
    app = Cgroup(cleanup, "svc", parent=root)
    identity = "host/attestrecs"
    policy = os.path.join(tmp, "policy.yaml")
    with open(policy, "w") as f:
        f.write(f"apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {{name: recs}}\nspec:\n"
                f"  identity: {identity}\n  secrets: [{secret}]\n  tools: [\"/**/python3*\"]\n")
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--identity-rule", f"cgroup:{app.rel} {identity}",
                                 "--policy", policy, "--settle-window", "1", "--node-name", "recs-node",
                                 "--metrics-addr", f"127.0.0.1:{RECORDS_PORT}", "--api-token-file", token_file,
                                 "--persist-interval", "1"])
    agent.epoch_start(identity, "v1")
    app.python(READ, secret)

    def records():
        return agent.reachctl("epochs", "--identity", identity, "-o", "json")["records"]
    first = wait_for(lambda: next((r for r in records() if r["to_version"] == "v1" and r["state"] == "verified"),
                                  None), "v1 verified", 20)

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def served(auth=True):
        req = urllib.request.Request(f"http://127.0.0.1:{RECORDS_PORT}/v1/records",
                                     headers={"Authorization": f"Bearer {token}"} if auth else {})
        with opener.open(req, timeout=5) as r:
            return json.loads(r.read())
    doc = wait_for(lambda: (lambda d: d if any(r["hash"] == first["hash"] for r in d["records"]) else None)(served()),
                   "the sealed record served on /v1/records", 10)
    mine = [r for r in doc["records"] if r["identity"] == identity]
    check_eq([r["seq"] for r in mine], list(range(1, len(mine) + 1)), "the identity's whole chain, in order")
    try:
        served(auth=False)
        check(False, "/v1/records without the token")
    except urllib.error.HTTPError as e:
        check_eq(e.code, 401, "/v1/records needs the API token")

    p = subprocess.run([REACHCTL, "verify", "--identity", identity, "--agents", f"127.0.0.1:{RECORDS_PORT}",
                        "--api-token-file", token_file, "--policy", policy, "--attest", "-", "--key", key],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    check_eq(p.returncode, 0, f"the gate with --attest -: {p.stdout}{p.stderr}")
    line = next(x for x in p.stdout.splitlines() if x.startswith("reach-attestation "))
    env = json.loads(line[len("reach-attestation "):])
    pred = _statement(env)["predicate"]
    check_eq(pred["ledger_source"], "agents", "made by the gate")
    check_eq(len(pred["agents"]), 1, f"one agent: {pred['agents']}")
    g = pred["agents"][0]
    check_eq((g["agent"], g["node"], len(g["ledger_digest"]["sha256"])), (f"127.0.0.1:{RECORDS_PORT}", "recs-node", 64),
             "the agent and the digest of the ledger it served")
    check_eq([r["hash"] for r in g["records"]], [r["hash"] for r in mine], "the agent's chain of the identity")
    check_eq(g["chain_head"], {"seq": mine[-1]["seq"], "sha256": mine[-1]["hash"]}, "its head")
    att = os.path.join(tmp, "gate.json")
    with open(att, "w") as f:
        json.dump(env, f)
    ok = _run("attest", "verify", att, "--key", pub, "--policy", policy)
    check(ok.returncode == 0 and f"agent 127.0.0.1:{RECORDS_PORT} (node recs-node)" in ok.stdout and
          f"records: {len(mine)} in the chain of {identity}" in ok.stdout, f"each agent's chain checked: {ok.stdout}")

    def one_byte(pred):
        pred["agents"][0]["records"][0]["findings"] += 1
    r = _run("attest", "verify", _rewrite(env, one_byte, os.path.join(tmp, "changed.json")), "--key", pub)
    check(r.returncode == 1 and f"record seq 1 (id {mine[0]['id']}, {identity} v1" in r.stdout and
          ": changed" in r.stdout, f"an agent's record changed is named: {r.stdout}")
    agent.stop()
