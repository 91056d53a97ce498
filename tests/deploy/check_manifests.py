#!/usr/bin/env python3
"""The deploy tier (tests/run.sh deploy): checks of deploy/ (Kubernetes
manifests), the Dockerfile and the deployment docs, without a cluster or a
container engine. One line per check, "PASS name" or "FAIL name: why", and a
last line "deploy: N passed, N failed". Exit 0 when nothing failed.

What is checked, and against what:
  - yamllint (deploy/.yamllint) and a YAML parse of every file;
  - the kustomizations: resources exist, known kinds, the secrets example and
    the hooks are not in them; our own render (resources + strategic-merge
    patches + images) yields exactly the expected objects, and equals
    `kubectl kustomize` when kubectl is installed;
  - the DaemonSet's least privilege (securityContext, capabilities equal to
    what the agent keeps, user/common/caps.c, plus the SYS_ADMIN it keeps
    only where uprobes need it; overlays/no-sys-admin without it), host
    mounts, probes, ports,
    resources; RBAC; the NetworkPolicy, Service and hooks selecting the
    right pods;
  - reach-config: accepted by the agent's own config loader (a small C
    program linked with build/libreach.a), every path it names mounted;
  - reach-policies and every ReachPolicy in docs/writing-a-reachpolicy.md:
    loaded by the real `reachctl verify`, and the examples judged against
    synthetic ledgers (pass when the workload does what is declared, fail
    with the expected finding when it does more);
  - the Dockerfile: runtime stage without compilers or -dev packages, its
    libraries covering what the binaries link, and the build context
    (.dockerignore applied) building both binaries with the Dockerfile's
    make command."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synth_ledger  # noqa: E402

DEPLOY = os.path.join(ROOT, "deploy")
BASE = os.path.join(DEPLOY, "base")
OVERLAYS = ["ai-nodes", "unconfined", "no-sys-admin", "example-full"]
COMPONENTS_DIR = os.path.join(DEPLOY, "components")
# The optional components: what each adds to the base (reachd flags, the
# Secret it mounts and the file of it each flag names, ClusterRole rules).
COMPONENTS = {
    "fingerprint-key": {"args": {"--fingerprint-key": ("reach-fingerprint-key", "key")}},
    "api-token": {"args": {"--api-token-file": ("reach-api", "token")}},
    "collector": {"args": {"--ship-url": None, "--ship-token-file": ("reach-collector", "token"),
                           "--ship-ca": ("reach-collector", "ca.crt")}},
    "otlp": {"args": {"--otlp-url": None}},
    "alertmanager": {"args": {"--alertmanager": None}},
    "webhook": {"args": {"--webhook": None}},
    "policy-reports": {"args": {"--policy-reports": None},
                       "rules": [{"apiGroups": ["wgpolicyk8s.io"], "resources": ["policyreports"],
                                  "verbs": ["create", "patch", "delete"]}]},
}
REACHCTL = os.path.join(ROOT, "build", "reachctl")
TMP = tempfile.mkdtemp(prefix="reach-deploy-")

NS = "reach-system"
# What reachd --drop-caps always keeps (user/common/caps.c caps_agent_needs[])
# and the one it keeps only where the kernel refuses uprobes without it
# (caps_uprobe_extra); the base DaemonSet adds both, overlays/no-sys-admin the
# first four only.
AGENT_NEEDS = ["BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH"]
UPROBE_EXTRA = "SYS_ADMIN"
AGENT_CAPS = AGENT_NEEDS + [UPROBE_EXTRA]
EXPECTED_BASE = {
    ("CustomResourceDefinition", "", "reachpolicies.reach.dev"),
    ("Namespace", "", NS),
    ("ServiceAccount", NS, "reach-agent"),
    ("ClusterRole", "", "reach-agent"),
    ("ClusterRoleBinding", "", "reach-agent"),
    ("ResourceQuota", NS, "reach-critical-pods"),
    ("ConfigMap", NS, "reach-config"),
    ("ConfigMap", NS, "reach-policies"),
    ("Service", NS, "reach-agent"),
    ("NetworkPolicy", NS, "reach-agent"),
    ("DaemonSet", NS, "reach-agent"),
}
KNOWN_KINDS = {kind for kind, _, _ in EXPECTED_BASE}
SECRETS = {"reach-collector": {"token", "ca.crt"}, "reach-fingerprint-key": {"key"}, "reach-api": {"token"}}
# mounted by the verification hooks only (not by the agents)
HOOK_SECRETS = {"reach-attest-key": {"reach.key"}}
AGENT_LABELS = {"app.kubernetes.io/name": "reach", "app.kubernetes.io/component": "agent"}
VERIFIER_LABELS = {"app.kubernetes.io/component": "verifier"}
HTTP_PORT = 9464

# The config schema the agent accepts (user/config/config.h), as far as the
# example uses it: a key outside it is a typo the loader would refuse.
CONFIG_SCHEMA = {
    "monitor": {"cgroups", "all"},
    "secrets": {"patterns", "pattern_files", "builtin"},
    "sensor": {"ringbuf_bytes", "dedup_entries"},
    "egress": {"cluster_cidrs", "apiserver"},
    "kubernetes": {"enabled", "api", "token_file", "ca_file", "node_name", "namespaces", "pod_selector",
                   "policy_reports"},
    "identity": {"rules"},
    "policy": {"paths", "default", "reachpolicies"},
    "agent": {"ready_file", "state_dir", "drop_caps", "fingerprint_key_file"},
    "ship": {"url", "token_file", "ca_file", "spool_dir", "spool_max_bytes", "report_interval_s",
             "snapshot_interval_s", "backoff_max_s", "timeout_s"},
    "alerts": {"alertmanager", "webhook", "min_severity"},
    "otlp": {"url"},
    "metrics": {"addr", "api_token_file"},
}

passed = failed = 0


class Fail(Exception):
    pass


def ensure(cond, why):
    if not cond:
        raise Fail(why)


def test(name, fn, *args):
    global passed, failed
    try:
        fn(*args)
    except Fail as e:
        failed += 1
        print(f"FAIL {name}: {e}")
    except Exception as e:  # a broken check is a failure too, with its reason
        failed += 1
        print(f"FAIL {name}: {type(e).__name__}: {e}")
    else:
        passed += 1
        print(f"PASS {name}")


def skip(name, why):
    print(f"SKIP {name}: {why}")


def rel(path):
    return os.path.relpath(path, ROOT)


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


# ---- loading ----------------------------------------------------------------

def yaml_files():
    out = []
    for d, _, files in os.walk(DEPLOY):
        out += [os.path.join(d, f) for f in files if f.endswith((".yaml", ".yml"))]
    return sorted(out)


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def obj_id(o):
    md = o.get("metadata", {})
    return (o.get("kind"), md.get("namespace", ""), md.get("name") or md.get("generateName"))


# ---- our kustomize: resources, strategic-merge patches, images --------------

MERGE_KEYS = {"containers": "name", "initContainers": "name", "volumes": "name", "volumeMounts": "name",
              "env": "name", "ports": "containerPort"}


def strategic_merge(base, patch, key=None):
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = strategic_merge(base[k], v, k) if k in base else v
        return out
    if isinstance(base, list) and isinstance(patch, list) and key in MERGE_KEYS:
        mk = MERGE_KEYS[key]
        out = list(base)
        for item in patch:
            for i, b in enumerate(out):
                if b.get(mk) == item.get(mk):
                    out[i] = strategic_merge(b, item)
                    break
            else:
                out.append(item)
        return out
    return patch


def set_images(node, images):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "image" and isinstance(v, str):
                name, _, tag = v.partition(":")
                for im in images:
                    if im["name"] == name:
                        node[k] = f"{im.get('newName', name)}:{im.get('newTag', tag or 'latest')}"
            else:
                set_images(v, images)
    elif isinstance(node, list):
        for v in node:
            set_images(v, images)


def json_patch(obj, ops, where):
    """RFC 6902 add/replace/remove, the ops the components use ("-" appends)."""
    import copy
    obj = copy.deepcopy(obj)
    for op in ops:
        ensure(op.get("op") in ("add", "replace", "remove"), f"{where}: op {op.get('op')} not supported")
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        node = obj
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        last = parts[-1]
        if isinstance(node, list):
            if op["op"] == "add":
                node.insert(len(node) if last == "-" else int(last), op["value"])
            elif op["op"] == "replace":
                node[int(last)] = op["value"]
            else:
                del node[int(last)]
        else:
            ensure(op["op"] == "add" or last in node, f"{where}: {op['path']} does not exist")
            if op["op"] == "remove":
                del node[last]
            else:
                node[last] = op["value"]
    return obj


def apply_patches(objs, directory, patches):
    for pt in patches:
        if set(pt) == {"path"}:
            for patch in load_all(os.path.join(directory, pt["path"])):
                matches = [i for i, o in enumerate(objs) if obj_id(o) == obj_id(patch)]
                ensure(len(matches) == 1, f"patch {pt['path']} targets {obj_id(patch)}: {len(matches)} matches")
                objs[matches[0]] = strategic_merge(objs[matches[0]], patch)
            continue
        ensure(set(pt) == {"target", "patch"} and set(pt["target"]) <= {"kind", "name"},
               f"{rel(directory)}: only path patches and kind/name-targeted JSON patches are supported: {pt}")
        ops = yaml.safe_load(pt["patch"])
        matches = [i for i, o in enumerate(objs) if all(
            (o["kind"] if k == "kind" else o["metadata"].get("name")) == v for k, v in pt["target"].items())]
        ensure(len(matches) == 1, f"{rel(directory)}: patch target {pt['target']}: {len(matches)} matches")
        objs[matches[0]] = json_patch(objs[matches[0]], ops, rel(directory))


def render(directory):
    """The objects `kubectl kustomize DIRECTORY` would produce, for the
    features these kustomizations use (anything else fails loudly):
    resources, components (kind Component, applied in order after the
    resources), patches by path (strategic merge) or by target (JSON
    patch), images."""
    with open(os.path.join(directory, "kustomization.yaml")) as f:
        k = yaml.safe_load(f)
    unknown = set(k) - {"apiVersion", "kind", "resources", "components", "patches", "images"}
    ensure(not unknown, f"{rel(directory)}: kustomization fields this renderer does not know: {sorted(unknown)}")
    objs = []
    for r in k.get("resources", []):
        p = os.path.normpath(os.path.join(directory, r))
        objs += render(p) if os.path.isdir(p) else load_all(p)
    for c in k.get("components", []):
        cdir = os.path.normpath(os.path.join(directory, c))
        with open(os.path.join(cdir, "kustomization.yaml")) as f:
            ck = yaml.safe_load(f)
        ensure(ck.get("kind") == "Component" and set(ck) <= {"apiVersion", "kind", "patches"},
               f"{rel(cdir)}: not a Component with patches only")
        apply_patches(objs, cdir, ck.get("patches", []))
    apply_patches(objs, directory, k.get("patches", []))
    if k.get("images"):
        for o in objs:
            set_images(o, k["images"])
    return objs


_rendered = {}


def rendered(name="base"):
    if name not in _rendered:
        _rendered[name] = render(BASE if name == "base" else os.path.join(DEPLOY, "overlays", name))
    return _rendered[name]


def find(objs, kind, name):
    for o in objs:
        if o["kind"] == kind and o["metadata"].get("name") == name:
            return o
    raise Fail(f"no {kind}/{name}")


def daemonset(name="base"):
    return find(rendered(name), "DaemonSet", "reach-agent")


def agent_container(name="base"):
    cs = daemonset(name)["spec"]["template"]["spec"]["containers"]
    ensure(len(cs) == 1, f"{len(cs)} containers")
    return cs[0]


def config_map_data(name):
    return find(rendered(), "ConfigMap", name)["data"]


def agent_config():
    return yaml.safe_load(config_map_data("reach-config")["config.yaml"])


def hooks():
    d = os.path.join(DEPLOY, "hooks")
    return [(f, load_all(os.path.join(d, f))) for f in sorted(os.listdir(d))]


def mounts_by_path(pod_spec, container):
    vols = {v["name"]: v for v in pod_spec.get("volumes", [])}
    return {m["mountPath"]: (m, vols[m["name"]]) for m in container.get("volumeMounts", [])}


def mount_of(path, pod_spec, container):
    """(mount, volume, key) for a file path inside a volume mount."""
    for mp, (m, v) in mounts_by_path(pod_spec, container).items():
        if path == mp:
            return m, v, m.get("subPath")
        if path.startswith(mp.rstrip("/") + "/"):
            return m, v, path[len(mp.rstrip("/")) + 1:]
    raise Fail(f"{path} is in no volume mount")


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


# ---- lint and parse ------------------------------------------------------------

def t_yamllint():
    exe = shutil.which("yamllint")
    ensure(exe, "yamllint is not installed (scripts/deps.sh installs it)")
    p = run([exe, "-f", "parsable", "-c", os.path.join(DEPLOY, ".yamllint"), DEPLOY])
    errors = [line for line in p.stdout.splitlines() if "[error]" in line]
    ensure(p.returncode == 0 and not errors, "\n  " + "\n  ".join(errors or p.stdout.splitlines()))


def t_parses(path):
    docs = load_all(path)
    ensure(docs, "no YAML document")
    for d in docs:
        ensure(isinstance(d, dict) and "kind" in d and "apiVersion" in d, "a document without kind/apiVersion")


def t_resources_exist(directory):
    with open(os.path.join(directory, "kustomization.yaml")) as f:
        k = yaml.safe_load(f)
    for r in k["resources"]:
        p = os.path.normpath(os.path.join(directory, r))
        ensure(os.path.isfile(p) or os.path.isfile(os.path.join(p, "kustomization.yaml")), f"{r}: missing")
        if os.path.isfile(p):
            for d in load_all(p):
                ensure(d["kind"] in KNOWN_KINDS, f"{r}: unexpected kind {d['kind']}")
    for pt in k.get("patches", []):
        ensure(os.path.isfile(os.path.join(directory, pt["path"])), f"patch {pt['path']}: missing")
    for c in k.get("components", []):
        ensure(os.path.isfile(os.path.join(directory, c, "kustomization.yaml")), f"component {c}: missing")


def t_not_in_kustomization():
    listed = set()
    for d, _, files in os.walk(DEPLOY):
        if "kustomization.yaml" in files:
            with open(os.path.join(d, "kustomization.yaml")) as f:
                k = yaml.safe_load(f)
            listed |= {os.path.normpath(os.path.join(d, r)) for r in k.get("resources", [])}
    for p in [os.path.join(DEPLOY, "secrets.example.yaml")] + [os.path.join(DEPLOY, "hooks", f) for f, _ in hooks()]:
        ensure(os.path.normpath(p) not in listed, f"{rel(p)} is a kustomization resource")
    ensure(not any("Secret" == o["kind"] for o in rendered()), "the base renders a Secret")


# ---- render ------------------------------------------------------------------------

def t_render_base():
    got = {obj_id(o) for o in rendered()}
    ensure(len(got) == len(rendered()), "duplicate objects")
    ensure(got == EXPECTED_BASE, f"missing {sorted(EXPECTED_BASE - got)}, unexpected {sorted(got - EXPECTED_BASE)}")


def t_render_overlay(name):
    got = {obj_id(o) for o in rendered(name)}
    ensure(got == EXPECTED_BASE, f"missing {sorted(EXPECTED_BASE - got)}, unexpected {sorted(got - EXPECTED_BASE)}")
    base = {obj_id(o): o for o in rendered()}
    changed = [i for i, o in ((obj_id(o), o) for o in rendered(name)) if o != base[i]]
    # example-full adds the policy-reports component: its ClusterRole rule
    want = [("ClusterRole", "", "reach-agent")] if name == "example-full" else []
    want.append(("DaemonSet", NS, "reach-agent"))
    ensure(sorted(changed) == sorted(want), f"the overlay changes {changed}, want {want}")


def t_overlay_ai_nodes():
    spec = daemonset("ai-nodes")["spec"]["template"]["spec"]
    ensure(spec["nodeSelector"] == {"kubernetes.io/os": "linux", "reach.dev/ai-node": "true"},
           f"nodeSelector {spec['nodeSelector']}")
    ensure(spec["tolerations"] == daemonset()["spec"]["template"]["spec"]["tolerations"], "tolerations changed")


def t_overlay_unconfined():
    sc, base_sc = agent_container("unconfined")["securityContext"], agent_container()["securityContext"]
    ensure(sc["seccompProfile"] == {"type": "Unconfined"}, f"seccompProfile {sc['seccompProfile']}")
    ensure(sc.get("appArmorProfile") == {"type": "Unconfined"}, f"appArmorProfile {sc.get('appArmorProfile')}")
    rest = {k: v for k, v in sc.items() if k not in ("seccompProfile", "appArmorProfile")}
    ensure(rest == {k: v for k, v in base_sc.items() if k != "seccompProfile"}, "it changes more than the profiles")


def kubectl_with_kustomize():
    """(kubectl, None) when kubectl embeds kustomize v4 or later (kubectl >=
    1.21): `patches:` and components need it. Debian bookworm's
    kubernetes-client is kubectl 1.20 with kustomize v2.0.3, which refuses
    both, so it is not in scripts/deps.sh: without a newer kubectl the
    checks that compare with it are skipped, said so, and our own renderer
    (render() above) still checks every object. (None, why) otherwise."""
    exe = shutil.which("kubectl")
    if not exe:
        return None, "kubectl not installed (kubectl >= 1.21 needed: Debian bookworm's 1.20 embeds kustomize v2)"
    p = run([exe, "version", "--client", "-o", "json"], timeout=30)
    try:
        v = json.loads(p.stdout)
    except ValueError:
        return None, f"kubectl version --client -o json: {p.stderr.strip()[:200]}"
    kv = v.get("kustomizeVersion", "")
    m = re.match(r"v?(\d+)\.", kv)
    if not m or int(m.group(1)) < 4:
        return None, (f"kubectl {v.get('clientVersion', {}).get('gitVersion', '?')} embeds kustomize "
                      f"{kv or 'v2 or v3'}: components and patches need kustomize >= v4 (kubectl >= 1.21)")
    return exe, None


def t_kubectl_kustomize(name, kubectl):
    d = BASE if name == "base" else os.path.join(DEPLOY, "overlays", name)
    p = run([kubectl, "kustomize", d], timeout=60)
    ensure(p.returncode == 0, p.stderr.strip())
    theirs = {obj_id(o): o for o in yaml.safe_load_all(p.stdout) if o}
    ours = {obj_id(o): o for o in rendered(name)}
    ensure(set(theirs) == set(ours), f"objects differ: {sorted(set(theirs) ^ set(ours))}")
    for i in ours:
        ensure(theirs[i] == ours[i], f"{i} differs from kubectl kustomize's")


# ---- the DaemonSet ----------------------------------------------------------------

def t_security_context():
    sc = agent_container()["securityContext"]
    ensure(sc.get("privileged") is False, "privileged is not false")
    ensure(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation is not false")
    ensure(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem is not true")
    ensure(sc.get("runAsUser") == 0 and sc.get("runAsNonRoot") is False, "not uid 0 (see the comment why)")
    ensure(sc.get("seccompProfile") == {"type": "RuntimeDefault"}, f"seccompProfile {sc.get('seccompProfile')}")


def t_capabilities():
    caps = agent_container()["securityContext"]["capabilities"]
    ensure(caps.get("drop") == ["ALL"], f"drop {caps.get('drop')}")
    ensure(caps.get("add") == AGENT_CAPS, f"add {caps.get('add')}, want exactly {AGENT_CAPS}")


def t_capabilities_match_agent():
    src = os.path.join(ROOT, "user", "common", "caps.c")
    with open(src) as f:
        text = f.read()
    m = re.search(r"caps_agent_needs\[\]\s*=\s*\{([^}]*)\}", text)
    ensure(m, "caps_agent_needs not found in user/common/caps.c")
    keeps = [c.strip().removeprefix("CAP_") for c in m.group(1).split(",") if c.strip()]
    ensure(sorted(keeps) == sorted(AGENT_NEEDS), f"the agent always keeps {keeps} (--drop-caps), want {AGENT_NEEDS}")
    x = re.search(r"\bconst\s+int\s+caps_uprobe_extra\s*=\s*CAP_([A-Z_]+)\s*;", text)
    ensure(x, "const int caps_uprobe_extra = CAP_...; not found in user/common/caps.c")
    ensure(x.group(1) == UPROBE_EXTRA, f"caps_uprobe_extra is CAP_{x.group(1)}, want CAP_{UPROBE_EXTRA}")
    add = agent_container()["securityContext"]["capabilities"]["add"]
    ensure(sorted(add) == sorted(keeps + [x.group(1)]),
           f"the agent keeps {keeps} + {x.group(1)} where uprobes need it, the DaemonSet adds {add}")


def t_overlay_no_sys_admin():
    c, base_c = agent_container("no-sys-admin"), agent_container()
    sc, base_sc = c["securityContext"], base_c["securityContext"]
    ensure(sc["capabilities"] == {"drop": ["ALL"], "add": AGENT_NEEDS},
           f"capabilities {sc['capabilities']}, want drop [ALL], add exactly {AGENT_NEEDS}")
    rest = {k: v for k, v in sc.items() if k != "capabilities"}
    ensure(rest == {k: v for k, v in base_sc.items() if k != "capabilities"}, "it changes more than the capabilities")
    ensure({k: v for k, v in c.items() if k != "securityContext"} ==
           {k: v for k, v in base_c.items() if k != "securityContext"}, "it changes more than the securityContext")


def t_capabilities_documented():
    with open(os.path.join(ROOT, "docs", "deploying.md")) as f:
        doc = f.read()
    listed = re.findall(r"^\| `(CAP_[A-Z_]+)` \|", doc, re.M)
    ensure([c.removeprefix("CAP_") for c in listed] == AGENT_CAPS, f"docs/deploying.md's table lists {listed}")


def t_pod_spec():
    ds = daemonset()
    spec = ds["spec"]["template"]["spec"]
    ensure(spec.get("hostPID") is True, "hostPID is not true")
    ensure(not spec.get("hostNetwork") and not spec.get("hostIPC"), "hostNetwork or hostIPC set")
    ensure(spec.get("priorityClassName") == "system-node-critical", f"priorityClassName {spec.get('priorityClassName')}")
    ensure(spec.get("terminationGracePeriodSeconds") == 30, "terminationGracePeriodSeconds is not 30")
    ensure(spec.get("tolerations") == [{"operator": "Exists"}], f"tolerations {spec.get('tolerations')}")
    ensure(spec.get("serviceAccountName") == "reach-agent", "serviceAccountName")
    ensure("fsGroup" not in spec.get("securityContext", {}), "fsGroup would make the fingerprint key group-readable")
    us = ds["spec"]["updateStrategy"]
    ensure(us == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}, f"updateStrategy {us}")
    ensure(selects(ds["spec"]["selector"]["matchLabels"], ds["spec"]["template"]["metadata"]["labels"]),
           "the selector does not select the template")


def t_host_mounts():
    spec = daemonset()["spec"]["template"]["spec"]
    c = agent_container()
    writable = []
    for path, (m, v) in mounts_by_path(spec, c).items():
        if "hostPath" not in v:
            continue
        if not m.get("readOnly"):
            writable.append(v["hostPath"]["path"])
    ensure(writable == ["/var/lib/reach"], f"writable host paths: {writable} (only /var/lib/reach may be)")
    vols = {v["name"]: v for v in spec["volumes"]}
    hp = {v["hostPath"]["path"]: v["hostPath"].get("type") for v in vols.values() if "hostPath" in v}
    # tracefs read-only: the default syscall hooks' tracepoint ids
    ensure(hp == {"/var/lib/reach": "DirectoryOrCreate", "/sys/kernel/btf": "Directory",
                  "/sys/fs/cgroup": "Directory", "/sys/kernel/tracing": "Directory"}, f"host paths {hp}")
    for path, (m, v) in mounts_by_path(spec, c).items():
        if "secret" in v or "configMap" in v:
            ensure(m.get("readOnly"), f"{path} is not read-only")


def secret_refs(node):
    """Every Secret a pod spec needs before its containers can start."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "secret" and isinstance(v, dict):
                out.append(v.get("secretName"))
            elif k in ("secretKeyRef", "secretRef") and isinstance(v, dict):
                out.append(v.get("name"))
            else:
                out += secret_refs(v)
    elif isinstance(node, list):
        for v in node:
            out += secret_refs(v)
    return out


def t_base_no_secrets(name):
    """Zero setup: `kubectl apply -k` of the base (or an overlay that adds no
    component) starts with no Secret to create first."""
    spec = daemonset(name)["spec"]["template"]["spec"]
    ensure(not secret_refs(spec), f"the pods need Secrets {secret_refs(spec)}")
    c = agent_container(name)
    ensure(not any(a.startswith(("--fingerprint-key", "--api-token-file", "--ship-")) for a in c["args"]),
           f"args name secret files: {c['args']}")


def t_secret_volumes():
    """example-full: the three Secrets of its components, mode 0400."""
    spec = daemonset("example-full")["spec"]["template"]["spec"]
    secrets = {v["secret"]["secretName"]: v["secret"] for v in spec["volumes"] if "secret" in v}
    ensure(set(secrets) == set(SECRETS), f"secret volumes {sorted(secrets)}")
    for name, s in secrets.items():
        ensure(s.get("defaultMode") == 0o400, f"{name}: defaultMode {s.get('defaultMode')} (want 0400)")
        ensure("items" not in s, f"{name}: items would hide keys")


def t_command():
    c = agent_container()
    cmd = c["command"] + c["args"]
    ensure(cmd == ["reachd", "--config", "/etc/reach/config.yaml", "--kube", "--drop-caps"], f"command {cmd}")
    spec = daemonset()["spec"]["template"]["spec"]
    m, v, key = mount_of("/etc/reach/config.yaml", spec, c)
    ensure(v.get("configMap", {}).get("name") == "reach-config" and key == "config.yaml", "config.yaml mount")
    env = {e["name"]: e for e in c["env"]}
    ensure(env.get("NODE_NAME", {}).get("valueFrom") == {"fieldRef": {"fieldPath": "spec.nodeName"}},
           "NODE_NAME is not the downward API's spec.nodeName")


def t_image():
    images = {c["image"] for c in daemonset()["spec"]["template"]["spec"]["containers"]}
    with open(os.path.join(BASE, "kustomization.yaml")) as f:
        tag = yaml.safe_load(f)["images"][0]["newTag"]
    ensure(images == {f"reach:{tag}"}, f"images {images}")
    for f, docs in hooks():
        for c in docs[0]["spec"]["template"]["spec"]["containers"]:
            ensure(c["image"] == f"reach:{tag}", f"{f}: image {c['image']}, the agents run reach:{tag}")


def t_ports_and_probes():
    c = agent_container()
    ports = {p["name"]: p for p in c["ports"]}
    ensure(list(ports) == ["http"] and ports["http"]["containerPort"] == HTTP_PORT, f"ports {c['ports']}")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")):
        g = c.get(probe, {}).get("httpGet", {})
        ensure(g.get("path") == path and g.get("port") in ("http", HTTP_PORT), f"{probe}: {g}")
    ann = daemonset()["spec"]["template"]["metadata"]["annotations"]
    ensure(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == str(HTTP_PORT)
           and ann.get("prometheus.io/path") == "/metrics", f"prometheus annotations {ann}")
    addr = agent_config()["metrics"]["addr"]
    ensure(addr.rsplit(":", 1)[1] == str(HTTP_PORT), f"metrics.addr {addr} is not the container port")


def t_resources():
    r = agent_container()["resources"]
    ensure(r.get("requests") == {"cpu": "50m", "memory": "128Mi"}, f"requests {r.get('requests')}")
    ensure(r.get("limits") == {"memory": "512Mi"}, f"limits {r.get('limits')} (no CPU limit: throttling drops events)")


# ---- RBAC, Service, NetworkPolicy, quota -----------------------------------------------

def t_clusterrole():
    rules = find(rendered(), "ClusterRole", "reach-agent")["rules"]
    ensure(rules == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
                     {"apiGroups": ["reach.dev"], "resources": ["reachpolicies"], "verbs": ["get", "list", "watch"]},
                     {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]}], f"rules {rules}")
    b = find(rendered(), "ClusterRoleBinding", "reach-agent")
    ensure(b["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "reach-agent"},
           f"roleRef {b['roleRef']}")
    ensure(b["subjects"] == [{"kind": "ServiceAccount", "name": "reach-agent", "namespace": NS}], "subjects")


# ---- the ReachPolicy CRD ------------------------------------------------------------

CRD_NAME = "reachpolicies.reach.dev"
BAD_FIXTURES = os.path.join(ROOT, "tests", "deploy", "fixtures", "reachpolicy-bad")


def crd():
    return find(rendered(), "CustomResourceDefinition", CRD_NAME)


def structural_problems(node, path="openAPIV3Schema", in_junctor=False):
    """What makes a schema non-structural (the apiextensions rules): every
    node has a type unless it preserves unknown fields; no additionalProperties
    next to properties; inside oneOf/anyOf/allOf/not only value validations
    (no type, no properties' types, no descriptions of new fields)."""
    out = []
    if not isinstance(node, dict):
        return [f"{path}: not a mapping"]
    if in_junctor:
        for k in ("type", "properties", "items", "additionalProperties", "default", "description", "nullable"):
            if k in node:
                out.append(f"{path}: {k} inside oneOf/anyOf/allOf/not")
    elif "type" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        out.append(f"{path}: no type")
    if "properties" in node and "additionalProperties" in node:
        out.append(f"{path}: properties and additionalProperties together")
    for k, v in node.get("properties", {}).items():
        out += structural_problems(v, f"{path}.properties.{k}", in_junctor)
    if "items" in node:
        out += structural_problems(node["items"], f"{path}.items", in_junctor)
    for j in ("oneOf", "anyOf", "allOf"):
        for i, sub in enumerate(node.get(j, [])):
            out += structural_problems(sub, f"{path}.{j}[{i}]", True)
    return out


def t_crd_structural():
    c = crd()
    ensure(c["apiVersion"] == "apiextensions.k8s.io/v1", "apiextensions.k8s.io/v1")
    spec = c["spec"]
    ensure(spec["group"] == "reach.dev" and spec["scope"] == "Namespaced", "group reach.dev, Namespaced")
    ensure(spec["names"]["kind"] == "ReachPolicy" and spec["names"]["plural"] == "reachpolicies", "names")
    versions = spec["versions"]
    ensure([(v["name"], v["served"], v["storage"]) for v in versions] == [("v1", True, True)], "v1 served and stored")
    v = versions[0]
    problems = structural_problems(v["schema"]["openAPIV3Schema"])
    ensure(not problems, "; ".join(problems))
    cols = {c["name"]: c["jsonPath"] for c in v["additionalPrinterColumns"]}
    ensure(cols.get("Service-Account") == ".spec.serviceAccount" and cols.get("Age") == ".metadata.creationTimestamp",
           f"printer columns {cols}")
    # the agent reads exactly this group, version and resource
    with open(os.path.join(ROOT, "user", "agent", "policy_crd.h")) as f:
        ensure('"/apis/reach.dev/v1/reachpolicies"' in f.read(), "the agent watches another path")


def strict_schema(node):
    """The CRD's schema as the API server applies it with kubectl's default
    strict field validation: an unknown field is an error (the server would
    prune it and kubectl refuse the apply), so every object node without
    x-kubernetes-preserve-unknown-fields gets additionalProperties: false."""
    if isinstance(node, list):
        return [strict_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict_schema(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if node.get("type") == "object" and "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    if node.get("type") == "object" and "metadata" in node.get("properties", {}):
        out["properties"]["metadata"] = {"type": "object"}  # ObjectMeta: the API server's own
    return out


def crd_validator():
    import jsonschema  # python3-jsonschema (scripts/deps.sh)
    schema = strict_schema(crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def as_object(doc, ns):
    """A policy document as the ReachPolicy object kubectl would send."""
    # YAML timestamps (exceptions[].expires) as the RFC 3339 text kubectl sends
    doc = json.loads(json.dumps(doc, default=lambda o: o.isoformat()))
    doc.setdefault("metadata", {})["namespace"] = ns
    return doc


def t_crd_accepts(doc, ns):
    errors = sorted(crd_validator().iter_errors(as_object(doc, ns)), key=str)
    ensure(not errors, "; ".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors[:3]))


def t_crd_rejects(doc, ns):
    ensure(list(crd_validator().iter_errors(as_object(doc, ns))), "accepted")


def as_loader_text(obj):
    """What the agent hands its policy loader for an object
    (policy_crd_render): apiVersion, kind, metadata.name, the spec with the
    service account qualified by the object's namespace."""
    ns = obj["metadata"]["namespace"]
    spec = dict(obj.get("spec") or {})
    sa = spec.get("serviceAccount")
    if isinstance(sa, str) and "/" not in sa:
        spec["serviceAccount"] = f"{ns}/{sa}"
    return json.dumps({"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                       "metadata": {"name": obj["metadata"]["name"]}, "spec": spec}, indent=2)


def t_bad_fixture(path):
    with open(path) as f:
        text = f.read()
    obj = yaml.safe_load(text)
    t_crd_rejects(obj, obj["metadata"]["namespace"])
    if "crd-only" not in text.split("\n", 1)[0]:
        # the agent's loader refuses it too: the schema mirrors the loader
        loader_path = os.path.join(TMP, "bad-" + os.path.basename(path))
        with open(loader_path, "w") as f:
            f.write(as_loader_text(obj))
        p = verify(empty_ledger(), loader_path)
        ensure(not p.stdout.strip().startswith("{") and loader_path in p.stderr,
               f"the agent's loader accepts it (exit {p.returncode})")


def crd_checks():
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        skip("crd schema checks", "python3-jsonschema not installed (scripts/deps.sh)")
        return
    for name, text in sorted(config_map_data("reach-policies").items()):
        for d in yaml.safe_load_all(text):
            ns = d["spec"]["serviceAccount"].split("/")[0]
            test(f"crd schema accepts reach-policies/{name} as an object of {ns}", t_crd_accepts, d, ns)
    for line, block in doc_policies():
        for d in yaml.safe_load_all(block):
            if "identity" in d.get("spec", {}):
                test(f"crd schema rejects docs/writing-a-reachpolicy.md:{line} (a host identity: files only)",
                     t_crd_rejects, d, "default")
            else:
                ns = d["spec"]["serviceAccount"].split("/")[0]
                test(f"crd schema accepts docs/writing-a-reachpolicy.md:{line}", t_crd_accepts, d, ns)
    bad = sorted(f for f in os.listdir(BAD_FIXTURES) if f.endswith(".yaml"))
    test("bad ReachPolicy fixtures exist", lambda: ensure(len(bad) >= 10, f"{len(bad)} fixtures"))
    for f in bad:
        test(f"crd schema and the agent's loader reject fixtures/reachpolicy-bad/{f}", t_bad_fixture,
             os.path.join(BAD_FIXTURES, f))


# ---- monitoring --------------------------------------------------------------------

MONITORING = os.path.join(DEPLOY, "monitoring")


def prometheus_rule():
    return load_all(os.path.join(MONITORING, "prometheusrule.yaml"))[0]


def rule_series(rule_doc):
    names = set()
    for g in rule_doc["spec"]["groups"]:
        for r in g["rules"]:
            names |= set(re.findall(r"\b(reach_[a-z0-9_]+)", r["expr"]))
    return names


def served_series():
    """Every metric family the agent's /metrics renders (user/ship/*.c)."""
    names = set()
    for f in os.listdir(os.path.join(ROOT, "user", "ship")):
        if f.endswith(".c"):
            with open(os.path.join(ROOT, "user", "ship", f)) as fh:
                names |= set(re.findall(r'"(reach_[a-z0-9_]+)"', fh.read()))
    return names


def t_promtool(promtool):
    doc = prometheus_rule()
    ensure(doc["kind"] == "PrometheusRule" and doc["apiVersion"] == "monitoring.coreos.com/v1", "a PrometheusRule")
    path = os.path.join(TMP, "rules.yaml")
    with open(path, "w") as f:
        yaml.safe_dump({"groups": doc["spec"]["groups"]}, f)
    p = run([promtool, "check", "rules", path], timeout=60)
    ensure(p.returncode == 0, (p.stdout + p.stderr).strip()[-400:])
    alerts = {r["alert"] for g in doc["spec"]["groups"] for r in g["rules"]}
    want = {"ReachEventsLost", "ReachHooksMissing", "ReachTLSBlind", "ReachVerdictFail", "ReachVerdictInconclusive",
            "ReachVerdictDrifted", "ReachPolicyLoadErrors", "ReachSpoolBacklog"}
    ensure(want <= alerts, f"missing alerts {sorted(want - alerts)}")


def t_rule_series_served():
    missing = rule_series(prometheus_rule()) - served_series()
    ensure(not missing, f"series the agent does not serve: {sorted(missing)}")


def dashboard_series():
    with open(os.path.join(MONITORING, "dashboard.json")) as f:
        d = json.load(f)
    exprs = [t["expr"] for p in d["panels"] for t in p["targets"]]
    ensure(len(exprs) >= 10, f"{len(exprs)} queries")
    return {n for e in exprs for n in re.findall(r"\b(reach_[a-z0-9_]+)", e)}


def t_dashboard_series_served():
    missing = dashboard_series() - served_series()
    ensure(not missing, f"series the agent does not serve: {sorted(missing)}")


def t_service():
    s = find(rendered(), "Service", "reach-agent")["spec"]
    pod_labels = daemonset()["spec"]["template"]["metadata"]["labels"]
    ensure(s.get("clusterIP") == "None", "not headless")
    ensure(s.get("publishNotReadyAddresses") is True, "not-ready agents are hidden from verifiers")
    ensure(selects(s["selector"], pod_labels), "the selector misses the agent pods")
    ensure(s["ports"] == [{"name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP"}],
           f"ports {s['ports']}")


def t_networkpolicy():
    np = find(rendered(), "NetworkPolicy", "reach-agent")["spec"]
    ensure(selects(np["podSelector"]["matchLabels"], daemonset()["spec"]["template"]["metadata"]["labels"]),
           "does not select the agent pods")
    ensure(np["policyTypes"] == ["Ingress"] and len(np["ingress"]) == 1, "one ingress rule expected")
    rule = np["ingress"][0]
    ensure(rule["ports"] == [{"protocol": "TCP", "port": HTTP_PORT}], f"ports {rule['ports']}")
    ensure(rule["from"] == [{"podSelector": {"matchLabels": VERIFIER_LABELS}},
                            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
           f"from {rule['from']}")
    for f, docs in hooks():
        labels = docs[0]["spec"]["template"]["metadata"]["labels"]
        ensure(selects(VERIFIER_LABELS, labels), f"{f}: its pods are not admitted")
        ensure(not selects(AGENT_LABELS, labels), f"{f}: its pods look like agents to the Service")


def t_namespace_and_quota():
    ns = find(rendered(), "Namespace", NS)
    ensure(ns["metadata"]["labels"].get("pod-security.kubernetes.io/enforce") == "privileged",
           "Pod Security admission would refuse hostPID/hostPath/capabilities")
    q = find(rendered(), "ResourceQuota", "reach-critical-pods")["spec"]
    ensure(q["scopeSelector"]["matchExpressions"] == [{"scopeName": "PriorityClass", "operator": "In",
                                                       "values": ["system-node-critical"]}], "quota scope")


# ---- the agent's config --------------------------------------------------------------

def t_config_keys():
    cfg = agent_config()
    for section, values in cfg.items():
        ensure(section in CONFIG_SCHEMA, f"unknown section {section}")
        ensure(isinstance(values, dict), f"{section} is not a mapping")
        unknown = set(values) - CONFIG_SCHEMA[section]
        ensure(not unknown, f"unknown keys in {section}: {sorted(unknown)}")
    ensure(cfg["monitor"] == {"all": False}, f"monitor {cfg['monitor']}")
    ensure(cfg["kubernetes"].get("enabled") is True, "kubernetes.enabled is not true")
    ensure(cfg["agent"] == {"state_dir": "/var/lib/reach", "drop_caps": True}, f"agent {cfg['agent']}")
    ensure(cfg["policy"] == {"reachpolicies": True, "paths": ["/etc/reach/policies"], "default": "audit"},
           f"policy {cfg['policy']}")
    ensure(cfg["ship"]["spool_dir"].startswith(cfg["agent"]["state_dir"] + "/"), "the spool is not in the state dir")
    ensure(cfg["alerts"] == {"min_severity": "medium"}, f"alerts {cfg['alerts']}")
    # zero setup: no sink, no secret file, reports off (the components add them)
    ensure("policy_reports" not in cfg["kubernetes"], "kubernetes.policy_reports: the PolicyReport CRD is not ours")
    ensure(not {"url", "token_file", "ca_file"} & set(cfg["ship"]), f"ship {cfg['ship']}")
    ensure("otlp" not in cfg and cfg["metrics"] == {"addr": "0.0.0.0:9464"}, f"otlp or metrics {cfg.get('metrics')}")


def t_config_paths_mounted():
    cfg = agent_config()
    spec, c = daemonset()["spec"]["template"]["spec"], agent_container()
    m, v, _ = mount_of(cfg["policy"]["paths"][0] + "/x.yaml", spec, c)
    ensure(v.get("configMap", {}).get("name") == "reach-policies" and "subPath" not in m,
           "policy.paths is not the reach-policies directory mount (no subPath: reloads need updates)")
    m, v, _ = mount_of(cfg["agent"]["state_dir"] + "/ledger.pb.z", spec, c)
    ensure(v.get("hostPath", {}).get("path") == cfg["agent"]["state_dir"], "state_dir is not the hostPath")
    m, v, _ = mount_of("/run/reach/reachd.sock", spec, c)
    ensure("emptyDir" in v, "the socket directory /run/reach is not writable (emptyDir)")


# ---- the agent's command line, as each kustomization renders it ---------------------

REACHD = os.path.join(ROOT, "build", "reachd")


def reachd_check_config(objs, tag):
    """`reachd --check-config` with the rendered DaemonSet's command line and
    ConfigMaps (their mount paths moved under TMP): the real option parser
    and loaders accept what the pods would run. Returns its stdout."""
    ensure(os.path.exists(REACHD), "build/reachd is missing: run make first")
    d = os.path.join(TMP, "cc-" + tag)
    os.makedirs(os.path.join(d, "policies"), exist_ok=True)
    cfg_map = next(o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "reach-config")
    pol_map = next(o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "reach-policies")
    moves = {"/etc/reach/config.yaml": os.path.join(d, "config.yaml"), "/etc/reach/policies": os.path.join(d, "policies"),
             "/var/lib/reach": os.path.join(d, "state")}

    def moved(text):
        for a, b in moves.items():
            text = text.replace(a, b)
        return text
    with open(moves["/etc/reach/config.yaml"], "w") as f:
        f.write(moved(cfg_map["data"]["config.yaml"]))
    for k, v in pol_map["data"].items():
        with open(os.path.join(d, "policies", k), "w") as f:
            f.write(v)
    ds = next(o for o in objs if o["kind"] == "DaemonSet")
    c = ds["spec"]["template"]["spec"]["containers"][0]
    ensure(c["command"] == ["reachd"], f"command {c['command']}")
    p = run([REACHD, "--check-config"] + [moved(a) for a in c["args"]], timeout=60)
    ensure(p.returncode == 0, f"reachd --check-config refuses the pod's command line: {p.stderr.strip()}")
    return p.stdout


def t_reachd_accepts(name):
    out = reachd_check_config(rendered(name), name)
    first = out.splitlines()[0]
    if name != "example-full":
        # nothing to ship to, no secret file named: the zero-setup agent
        for want in ("shipping to nowhere", "alerts to 0 alertmanagers", "otlp off"):
            ensure(want in first, f"{want!r} not in {first!r}")
        for want in ("agent.fingerprint_key_file = (none)", "metrics.api_token_file = (none)",
                     "alerts.webhook = (none)", "kubernetes.policy_reports = false"):
            lines = [ln.strip() for ln in out.splitlines()]
            ensure(want in lines or want.replace("false", "(none)") in lines, f"not {want!r}")
    else:
        for want in ("shipping to https://", "alerts to 1 alertmanagers", "otlp http://"):
            ensure(want in first, f"{want!r} not in {first!r}")
        ensure("kubernetes.policy_reports = true" in out, "policy reports off")


def component_overlay(name):
    d = os.path.join(TMP, "with-" + name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "kustomization.yaml"), "w") as f:
        yaml.safe_dump({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                        "resources": [os.path.relpath(BASE, d)],
                        "components": [os.path.relpath(os.path.join(COMPONENTS_DIR, name), d)]}, f)
    return d


def t_component(name, kubectl):
    """The base plus one component: exactly the flags, Secret mounts and RBAC
    rules the component promises, nothing else; kubectl renders the same;
    reachd accepts the command line."""
    want = COMPONENTS[name]
    d = component_overlay(name)
    objs = render(d)
    if kubectl:
        p = run([kubectl, "kustomize", d], timeout=60)
        ensure(p.returncode == 0, p.stderr.strip())
        theirs = {obj_id(o): o for o in yaml.safe_load_all(p.stdout) if o}
        ensure(theirs == {obj_id(o): o for o in objs}, "kubectl kustomize renders something else")
    base = {obj_id(o): o for o in rendered()}
    changed = sorted(obj_id(o) for o in objs if o != base[obj_id(o)])
    expect = sorted([("DaemonSet", NS, "reach-agent")] + ([("ClusterRole", "", "reach-agent")] if "rules" in want else []))
    ensure(changed == expect, f"changes {changed}, want {expect}")
    if "rules" in want:
        rules = next(o for o in objs if o["kind"] == "ClusterRole")["rules"]
        ensure(rules == find(rendered(), "ClusterRole", "reach-agent")["rules"] + want["rules"], f"rules {rules}")
    ds = next(o for o in objs if o["kind"] == "DaemonSet")
    spec, c = ds["spec"]["template"]["spec"], ds["spec"]["template"]["spec"]["containers"][0]
    base_c = agent_container()
    added = c["args"][len(base_c["args"]):]
    ensure(c["args"][:len(base_c["args"])] == base_c["args"], "the base's args changed")
    ensure([a.split("=", 1)[0] for a in added] == list(want["args"]), f"adds args {added}, want {list(want['args'])}")
    ensure({k: v for k, v in c.items() if k not in ("args", "volumeMounts")} ==
           {k: v for k, v in base_c.items() if k not in ("args", "volumeMounts")}, "changes more of the container")
    secrets = {s for s in (want["args"][a.split("=", 1)[0]] for a in added) if s}
    ensure(sorted(secret_refs(spec)) == sorted({s for s, _ in secrets}),
           f"mounts Secrets {secret_refs(spec)}, want {sorted({s for s, _ in secrets})}")
    for a in added:
        flag, _, value = a.partition("=")
        if want["args"][flag]:
            secret, key = want["args"][flag]
            m, v, k = mount_of(value, spec, c)
            ensure(v.get("secret", {}).get("secretName") == secret and k == key and m.get("readOnly"),
                   f"{flag}={value}: in {v} key {k}, want Secret {secret} key {key}, read-only")
            ensure(v["secret"].get("defaultMode") == 0o400, f"{secret}: defaultMode {v['secret'].get('defaultMode')}")
    reachd_check_config(objs, "component-" + name)


def t_components_documented():
    """Each component says what it is for and which Secret it needs, and the
    deploy README lists it."""
    with open(os.path.join(DEPLOY, "README.md")) as f:
        readme = f.read()
    ensure(sorted(os.listdir(COMPONENTS_DIR)) == sorted(COMPONENTS), f"components {sorted(os.listdir(COMPONENTS_DIR))}")
    for name, want in COMPONENTS.items():
        ensure(f"components/{name}" in readme or f"{name}/" in readme, f"deploy/README.md does not list {name}")
        with open(os.path.join(COMPONENTS_DIR, name, "kustomization.yaml")) as f:
            text = f.read()
        for s in {v[0] for v in want["args"].values() if v}:
            ensure(f"create secret generic {s}" in text, f"{name}: no `kubectl create secret generic {s}` line")


def build_config_check():
    lib = os.path.join(ROOT, "build", "libreach.a")
    ensure(os.path.exists(lib), "build/libreach.a is missing: run make first")
    out = os.path.join(TMP, "config_check")
    libs = run(["pkg-config", "--libs", "libbpf", "libelf", "zlib", "json-c", "yaml-0.1", "libcrypto",
                "libprotobuf-c", "libcurl"])
    ensure(libs.returncode == 0, f"pkg-config: {libs.stderr.strip()}")
    p = run(["cc", "-std=gnu11", "-D_GNU_SOURCE", "-I" + os.path.join(ROOT, "include"),
             "-I" + os.path.join(ROOT, "user"), "-I" + os.path.join(ROOT, "build"),
             "-I" + os.path.join(ROOT, "build", "proto"), os.path.join(ROOT, "tests", "deploy", "config_check.c"),
             lib] + libs.stdout.split() + ["-lpthread", "-o", out])
    ensure(p.returncode == 0, f"building config_check: {p.stderr.strip()}")
    return out


def t_config_real_loader():
    exe = build_config_check()
    path = os.path.join(TMP, "config.yaml")
    with open(path, "w") as f:
        f.write(config_map_data("reach-config")["config.yaml"])
    p = run([exe, path])
    ensure(p.returncode == 0, f"the agent's loader refuses it: {p.stderr.strip()}")
    bad = os.path.join(TMP, "config-typo.yaml")  # the loader is strict: a typo must be refused
    with open(bad, "w") as f:
        f.write(config_map_data("reach-config")["config.yaml"].replace("drop_caps:", "drop_cap:"))
    p = run([exe, bad])
    ensure(p.returncode == 1 and "drop_cap" in p.stderr, f"a typo was not refused: {p.stdout}{p.stderr}")


# ---- policies: the real loader and verifier ---------------------------------------------

def empty_ledger():
    path = os.path.join(TMP, "empty.pb.z")
    if not os.path.exists(path):
        synth_ledger.write(path, {}, int(time.time() * 1000))
    return path


def verify(ledger, policy, *args):
    ensure(os.access(REACHCTL, os.X_OK), "build/reachctl is missing: run make first")
    return run([REACHCTL, "verify", "--ledger", ledger, "--policy", policy, "-o", "json", *args], timeout=30)


def loaded_identities(policy):
    """Loads POLICY with the real loader (verify on an empty ledger: every
    identity with a policy is listed, inconclusive, exit 2)."""
    p = verify(empty_ledger(), policy)
    ensure(p.returncode == 2 and p.stdout.strip().startswith("{"), f"not loaded (exit {p.returncode}): {p.stderr.strip()}")
    return {i["identity"] for i in json.loads(p.stdout)["identities"] if i["has_policy"]}


def policies_dir():
    d = os.path.join(TMP, "policies")
    if not os.path.isdir(d):
        os.makedirs(d)
        for name, text in config_map_data("reach-policies").items():
            ensure(name.endswith(".yaml"), f"{name}: the agent loads *.yaml and *.yml only")
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
    return d


def t_policies_load():
    got = loaded_identities(policies_dir())
    ensure(got == {"llm-gateway/gateway", "agents/runner"}, f"identities {got}")


GATEWAY = [
    {"kind": "tool", "object": "/usr/local/bin/llm-gateway", "executables": ["/usr/local/bin/llm-gateway"]},
    {"kind": "secret", "object": "/var/run/secrets/llm/openai-api-key", "category": "k8s-secret"},
    {"kind": "secret", "object": "/var/run/secrets/llm/..2026_01_01_00_00_00.000000000/anthropic-api-key",
     "category": "k8s-secret"},
    {"kind": "egress", "object": "tcp/162.159.140.245/443", "name": "api.openai.com", "port": 443, "proto": "tcp",
     "dest_class": "external"},
    {"kind": "egress", "object": "tcp/160.79.104.10/443", "name": "api.anthropic.com", "port": 443, "proto": "tcp",
     "dest_class": "external"},
    {"kind": "egress", "object": "udp/10.96.0.10/53", "port": 53, "proto": "udp", "dest_class": "private"},
    {"kind": "credential", "object": "api.openai.com POST /v1/chat/completions bearer fp:0123456789abcdef",
     "name": "api.openai.com", "category": "bearer"},
    {"kind": "credential", "object": "api.anthropic.com POST /v1/messages api-key fp:fedcba9876543210",
     "name": "api.anthropic.com", "category": "api-key"},
    {"kind": "dns", "object": "api.openai.com"},
]
RUNNER = [
    {"kind": "tool", "object": "/usr/bin/python3", "executables": ["/usr/bin/python3"]},
    {"kind": "tool", "object": "/bin/sh"},
    {"kind": "tool", "object": "/usr/bin/sh"},
    {"kind": "tool", "object": "/usr/bin/git"},
    {"kind": "secret", "object": "/var/run/secrets/kubernetes.io/serviceaccount/token", "category": "k8s-sa-token"},
    {"kind": "egress", "object": "tcp/10.96.14.2/4000", "name": "llm-gateway.llm-gateway.svc.cluster.local",
     "port": 4000, "proto": "tcp", "dest_class": "private"},
    {"kind": "egress", "object": "udp/10.96.0.10/53", "port": 53, "proto": "udp", "dest_class": "private"},
    {"kind": "credential", "object": "llm-gateway.llm-gateway.svc:4000 POST /v1/chat/completions bearer fp:00112233445566aa",
     "name": "llm-gateway.llm-gateway.svc:4000", "category": "bearer"},
]


def judged(identity, edges, policy):
    ledger = os.path.join(TMP, identity.replace("/", "_") + f"-{len(edges)}.pb.z")
    synth_ledger.write(ledger, {identity: edges}, int(time.time() * 1000))
    p = verify(ledger, policy, "--identity", identity)
    ensure(p.stdout.strip().startswith("{"), f"exit {p.returncode}: {p.stderr.strip()}")
    out = json.loads(p.stdout)
    kinds = sorted(f["kind"] for f in out["findings"] if f.get("severity") in ("medium", "high", "critical"))
    return p.returncode, out["verdict"], kinds


def t_policy_pass(identity, edges):
    rc, verdict, kinds = judged(identity, edges, policies_dir())
    ensure(rc == 0 and verdict == "pass", f"exit {rc}, verdict {verdict}, findings {kinds}")


def t_policy_fail(identity, edges, extra, want):
    rc, verdict, kinds = judged(identity, edges + [extra], policies_dir())
    ensure(rc == 1 and verdict == "fail" and kinds == [want], f"exit {rc}, verdict {verdict}, findings {kinds}")


def doc_policies():
    """Every ```yaml block of docs/writing-a-reachpolicy.md with kind: ReachPolicy."""
    with open(os.path.join(ROOT, "docs", "writing-a-reachpolicy.md")) as f:
        text = f.read()
    blocks = re.findall(r"^```yaml\n(.*?)^```", text, re.M | re.S)
    return [(text[:text.index(b)].count("\n") + 1, b) for b in blocks if "kind: ReachPolicy" in b]


def t_doc_policy(line, block):
    path = os.path.join(TMP, f"doc-{line}.yaml")
    with open(path, "w") as f:
        f.write(block)
    ensure(loaded_identities(path), "no identity loaded")


def t_doc_yaml_blocks(doc):
    with open(os.path.join(ROOT, "docs", doc)) as f:
        text = f.read()
    blocks = re.findall(r"^```yaml\n(.*?)^```", text, re.M | re.S)
    for b in blocks:
        list(yaml.safe_load_all(b))


# ---- secrets example, hooks ----------------------------------------------------------------

def t_secrets_example():
    docs = load_all(os.path.join(DEPLOY, "secrets.example.yaml"))
    got = {d["metadata"]["name"]: d for d in docs}
    ensure(all(d["kind"] == "Secret" and d["metadata"]["namespace"] == NS for d in docs), "not Secrets in " + NS)
    ensure(set(got) == set(SECRETS) | set(HOOK_SECRETS), f"secrets {sorted(got)}")
    for name, keys in {**SECRETS, **HOOK_SECRETS}.items():
        data = got[name].get("stringData", {})
        ensure(set(data) == keys and "data" not in got[name], f"{name}: keys {sorted(data)}, want {sorted(keys)}")
        for k, v in data.items():
            ensure("REPLACE" in v, f"{name}.{k} is not an obvious placeholder")
    key = got["reach-fingerprint-key"]["stringData"]["key"]
    ensure(len(key) not in (32, 64, 65), "the key placeholder has a length the agent would accept as a key")


def t_hook(fname, docs):
    ensure(len(docs) == 1 and docs[0]["kind"] == "Job", "not one Job")
    job = docs[0]
    md, spec = job["metadata"], job["spec"]
    ann = md.get("annotations", {})
    if fname.startswith("helm"):
        ensure(set(ann.get("helm.sh/hook", "").split(",")) == {"post-install", "post-upgrade"}, "helm.sh/hook")
        ensure(ann.get("helm.sh/hook-delete-policy") == "before-hook-creation", "helm.sh/hook-delete-policy")
        ensure(isinstance(ann.get("helm.sh/hook-weight"), str), "helm.sh/hook-weight must be a string")
    else:
        ensure(ann.get("argocd.argoproj.io/hook") == "PostSync", "argocd.argoproj.io/hook")
        # a passing run's log holds the attestation: kept until the next sync
        ensure(ann.get("argocd.argoproj.io/hook-delete-policy") == "BeforeHookCreation",
               "argocd.argoproj.io/hook-delete-policy")
    ensure(md["namespace"] == NS and selects(VERIFIER_LABELS, md["labels"]), "namespace/labels")
    ensure(spec.get("backoffLimit") == 0, "backoffLimit is not 0 (a retry could turn a failure into a pass)")
    pod = spec["template"]["spec"]
    ensure(pod.get("restartPolicy") == "Never", "restartPolicy")
    psc = pod.get("securityContext", {})
    ensure(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 65534, "not non-root 65534")
    ensure(psc.get("seccompProfile") == {"type": "RuntimeDefault"}, "seccompProfile")
    ensure(pod.get("automountServiceAccountToken") is False, "mounts an API token it does not need")
    ensure(not pod.get("hostPID") and not pod.get("hostNetwork"), "host namespaces")
    (c,) = pod["containers"]
    sc = c["securityContext"]
    ensure(sc == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                  "capabilities": {"drop": ["ALL"]}}, f"securityContext {sc}")
    cmd = c["command"]
    ensure(cmd[:2] == ["reachctl", "verify"], f"command {cmd}")
    opts = dict(zip(cmd[2::2], cmd[3::2]))
    ensure(set(opts) == {"--identity", "--agents", "--api-token-file", "--policy", "--wait", "--attest", "--key"},
           f"options {sorted(opts)}")
    # the signed attestation goes to the Job's log; the key is the mounted
    # reach-attest-key Secret, readable by 65534 only through its group
    ensure(opts["--attest"] == "-", f"--attest {opts['--attest']}: the attestation line belongs in the log")
    m, v, _ = mount_of(os.path.dirname(opts["--key"]) + "/x", pod, c)
    items = v.get("secret", {}).get("items", [])
    ensure(v.get("secret", {}).get("secretName") == "reach-attest-key" and m.get("readOnly") is True and
           [(i["key"], i["path"]) for i in items] == [("reach.key", os.path.basename(opts["--key"]))],
           f"--key {opts['--key']} is not the reach-attest-key Secret's reach.key")
    ensure(v["secret"].get("defaultMode") == 0o440, "the signing key's mode is not 0440")
    ensure(opts["--agents"] == f"reach-agent.{NS}.svc:{HTTP_PORT}", f"--agents {opts['--agents']}")
    ensure(opts["--identity"] in loaded_identities(policies_dir()), f"{opts['--identity']} has no example policy")
    ensure(int(opts["--wait"]) + 60 <= spec.get("activeDeadlineSeconds", 0), "activeDeadlineSeconds < --wait + 60")
    m, v, key = mount_of(opts["--api-token-file"], pod, c)
    ensure(v.get("secret", {}).get("secretName") == "reach-api" and key == "token", "--api-token-file mount")
    ensure(v["secret"].get("defaultMode") == 0o440 and psc.get("fsGroup") == 65534,
           "the token is not readable by 65534 (defaultMode 0440 + fsGroup)")
    m, v, _ = mount_of(opts["--policy"] + "/x.yaml", pod, c)
    ensure(v.get("configMap", {}).get("name") == "reach-policies", "--policy is not the reach-policies mount")


# ---- the image -------------------------------------------------------------------------------

def dockerfile_stages():
    with open(os.path.join(ROOT, "Dockerfile")) as f:
        text = re.sub(r"\\\n", " ", f.read())
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            stages.append({"from": rest.split()[0], "lines": []})
        elif stages:
            stages[-1]["lines"].append((word.upper(), rest.strip()))
    return stages


def apt_packages(stage):
    pkgs = []
    for word, rest in stage["lines"]:
        if word == "RUN":
            for m in re.finditer(r"apt-get install ([^&;]*)", rest):
                pkgs += [w for w in m.group(1).split() if not w.startswith("-")]
    return pkgs


def t_dockerfile_runtime():
    stages = dockerfile_stages()
    ensure(len(stages) == 2, f"{len(stages)} stages")
    build, final = stages
    ensure(build["from"].startswith("debian:bookworm") and final["from"] == "debian:bookworm-slim",
           f"FROM {build['from']} / {final['from']}")
    pkgs = apt_packages(final)
    compilers = {"gcc", "g++", "cc", "clang", "llvm", "make", "pkg-config", "bpftool", "protobuf-c-compiler",
                 "build-essential", "binutils"}
    bad = [p for p in pkgs if p.endswith("-dev") or p in compilers or p.startswith(("gcc-", "clang-", "llvm-"))]
    ensure(pkgs and not bad, f"runtime stage installs {bad or 'nothing'}")
    words = dict(final["lines"])
    ensure(words.get("USER") == "0", "USER is not 0")
    ensure(words.get("ENTRYPOINT") == '["reachd"]', f"ENTRYPOINT {words.get('ENTRYPOINT')}")
    copies = [rest for w, rest in final["lines"] if w == "COPY"]
    ensure(any("/src/build/reachd" in c and "/src/build/reachctl" in c for c in copies), "binaries not copied")


def t_dockerfile_build_packages():
    with open(os.path.join(ROOT, "scripts", "deps.sh")) as f:
        text = f.read()
    block = re.search(r"REQUIRED=\(\n\s*# build\n(.*?)\n\s*#", text, re.S)
    ensure(block, "the build list of scripts/deps.sh not found")
    want = set(block.group(1).split()) - {"libcmocka-dev", "libclang-rt-14-dev"}  # tests and fuzzers only
    got = set(apt_packages(dockerfile_stages()[0]))
    ensure(want <= got, f"the build stage lacks {sorted(want - got)}")


def t_dockerfile_packages_exist():
    pkgs = apt_packages(dockerfile_stages()[0]) + apt_packages(dockerfile_stages()[1])
    missing = []
    for pkg in pkgs:
        p = run(["apt-cache", "policy", pkg])
        if "Candidate:" not in p.stdout or "Candidate: (none)" in p.stdout:
            missing.append(pkg)
    ensure(not missing, f"no such package in this host's apt sources (bookworm): {missing}")


def t_runtime_libraries():
    runtime = set(apt_packages(dockerfile_stages()[1])) | {"libc6"}  # libc6: in every Debian image
    for binary in ("reachd", "reachctl"):
        path = os.path.join(ROOT, "build", binary)
        ensure(os.path.exists(path), f"build/{binary} is missing: run make first")
        p = run(["readelf", "-d", path])
        ensure(p.returncode == 0, p.stderr.strip())
        for lib in re.findall(r"\(NEEDED\).*\[(.*)\]", p.stdout):
            q = run(["dpkg", "-S", "*/" + lib])
            owners = {line.split(":")[0] for line in q.stdout.splitlines() if line.strip()}
            ensure(owners & runtime, f"{binary} needs {lib} (package {sorted(owners) or '?'}), not installed at run time")


def dockerignore_regex(pat):
    """A .dockerignore pattern as Docker reads it: anchored at the context
    root, "*" and "?" within one path component, "**" across components."""
    out, i = "", 0
    while i < len(pat):
        if pat.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pat.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pat[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pat[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pat[i]), i + 1
    return re.compile(out + r"\Z")


def dockerignored(relpath, patterns):
    """The last matching pattern wins and "!" re-includes; a pattern that
    matches a directory matches everything below it."""
    parts = relpath.split("/")
    ignored = False
    for pat in patterns:
        neg = pat.startswith("!")
        rx = dockerignore_regex(pat[1:] if neg else pat)
        if any(rx.match("/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            ignored = not neg
    return ignored


def t_dockerignore():
    with open(os.path.join(ROOT, ".dockerignore")) as f:
        pats = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    for p in ("build/vmlinux.h", ".git/HEAD", "bench/tmp/x"):
        ensure(dockerignored(p, pats), f"{p} is in the build context")
    for p in ("Makefile", "bpf/x.bpf.c", "user/cmd/reachd.c", "proto/reach.proto", "include/abi/events.h",
              "deploy/vmlinux/x86_64.h"):
        ensure(not dockerignored(p, pats), f"{p} is left out of the build context")


def t_build_context():
    """The Dockerfile's build step on a copy of the build context: catches a
    .dockerignore that leaves out a file the build needs."""
    with open(os.path.join(ROOT, ".dockerignore")) as f:
        pats = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    ctx = os.path.join(TMP, "context")
    p = run(["git", "-C", ROOT, "ls-files", "--cached", "--others", "--exclude-standard"])
    ensure(p.returncode == 0, p.stderr.strip())
    for f in p.stdout.splitlines():
        if dockerignored(f, pats) or not os.path.isfile(os.path.join(ROOT, f)):
            continue
        os.makedirs(os.path.dirname(os.path.join(ctx, f)), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, f), os.path.join(ctx, f))
    steps = [m.group(1) for w, r in dockerfile_stages()[0]["lines"] if w == "RUN"
             for m in [re.search(r"(?:^|;)\s*make (.*)$", r)] if m]
    ensure(len(steps) == 1, f"{len(steps)} make steps in the build stage, want 1")
    make = steps[0].replace('"$VERSION"', "deploy-test").split()
    p = run(["make", "-j", str(os.cpu_count() or 2)] + make, cwd=ctx, timeout=600)
    ensure(p.returncode == 0, "make failed:\n  " + "\n  ".join((p.stdout + p.stderr).strip().splitlines()[-8:]))
    v = run([os.path.join(ctx, "build", "reachd"), "--version"])
    ensure("deploy-test" in v.stdout + v.stderr, f"reachd --version: {v.stdout}{v.stderr}")


# ---- main ---------------------------------------------------------------------------------

def main():
    test("yamllint deploy/", t_yamllint)
    for path in yaml_files():
        test(f"parses: {rel(path)}", t_parses, path)
    test("kustomization resources exist, known kinds: deploy/base", t_resources_exist, BASE)
    for o in OVERLAYS:
        test(f"kustomization resources exist: deploy/overlays/{o}", t_resources_exist, os.path.join(DEPLOY, "overlays", o))
    test("secrets example and hooks are not kustomization resources", t_not_in_kustomization)
    test("render deploy/base: exactly the expected objects", t_render_base)
    for o in OVERLAYS:
        test(f"render deploy/overlays/{o}: the base's objects, only the DaemonSet changed", t_render_overlay, o)
    test("overlay ai-nodes: node selector reach.dev/ai-node=true, tolerations kept", t_overlay_ai_nodes)
    test("overlay unconfined: seccomp and AppArmor Unconfined, nothing else", t_overlay_unconfined)
    test("overlay no-sys-admin: capabilities add exactly " + ",".join(AGENT_NEEDS) + ", nothing else",
         t_overlay_no_sys_admin)
    kubectl, why_not = kubectl_with_kustomize()
    for o in ["base"] + OVERLAYS:
        if kubectl:
            test(f"kubectl kustomize {o} equals our render", t_kubectl_kustomize, o, kubectl)
        else:
            skip(f"kubectl kustomize {o} equals our render", why_not)

    test("daemonset: securityContext (not privileged, no escalation, read-only root, RuntimeDefault)", t_security_context)
    test("daemonset: capabilities drop ALL, add exactly " + ",".join(AGENT_CAPS), t_capabilities)
    test("daemonset: capabilities equal what reachd --drop-caps keeps + caps_uprobe_extra (user/common/caps.c)",
         t_capabilities_match_agent)
    test("daemonset: capabilities equal docs/deploying.md's table", t_capabilities_documented)
    test("daemonset: hostPID, priority, grace period, tolerations, update strategy, no fsGroup", t_pod_spec)
    test("daemonset: host mounts read-only except /var/lib/reach", t_host_mounts)
    for o in ["base"] + [o for o in OVERLAYS if o != "example-full"]:
        test(f"zero setup: {o} needs no Secret", t_base_no_secrets, o)
    test("overlay example-full: the three secret volumes of its components, mode 0400", t_secret_volumes)
    for o in ["base"] + OVERLAYS:
        test(f"reachd --check-config accepts the command line and config of {o}", t_reachd_accepts, o)
    for name in COMPONENTS:
        test(f"component {name}: base + it adds exactly its flags, Secret mounts and rules; "
             "kubectl renders the same; reachd accepts it", t_component, name, kubectl)
        if not kubectl:
            skip(f"component {name}: kubectl kustomize renders the same", why_not)
    test("components: each documented, with its Secret's create command", t_components_documented)
    test("daemonset: command (no secret file), config mount, NODE_NAME", t_command)
    test("daemonset and hooks: the kustomization's image", t_image)
    test("daemonset: port 9464, probes /healthz /readyz, scrape annotations, metrics.addr", t_ports_and_probes)
    test("daemonset: requests 50m/128Mi, memory limit 512Mi, no CPU limit", t_resources)
    test("clusterrole: get/list/watch pods and reachpolicies, create events, write policyreports, nothing else; "
         "binding to reach-agent",
         t_clusterrole)
    test("crd reachpolicies.reach.dev: namespaced, v1 served and stored, structural, printer columns", t_crd_structural)
    crd_checks()
    test("service: headless, not-ready published, selects the agents", t_service)
    test("networkpolicy: 9464 from verifiers and monitoring only; hook pods admitted", t_networkpolicy)
    test("namespace pod-security privileged; quota for system-node-critical", t_namespace_and_quota)
    promtool = shutil.which("promtool")
    if promtool:
        test("monitoring/prometheusrule.yaml: promtool check rules; the alerts the docs promise", t_promtool, promtool)
    else:
        skip("monitoring/prometheusrule.yaml: promtool check rules", "promtool not installed (Debian prometheus)")
    test("monitoring/prometheusrule.yaml: every series is one the agent renders", t_rule_series_served)
    test("monitoring/dashboard.json: every query's series is one the agent renders", t_dashboard_series_served)
    if kubectl:
        test("kubectl kustomize deploy/monitoring", lambda: ensure(
            run([kubectl, "kustomize", MONITORING], timeout=60).returncode == 0, "kustomize failed"))
    else:
        skip("kubectl kustomize deploy/monitoring", why_not)

    test("reach-config: known sections and keys, values", t_config_keys)
    test("reach-config: every file it names is mounted from the right volume", t_config_paths_mounted)
    test("reach-config: accepted by the agent's config loader, a typo refused", t_config_real_loader)
    test("reach-policies: loaded by reachctl (both identities)", t_policies_load)
    test("policy llm-gateway/gateway: declared behaviour passes", t_policy_pass, "llm-gateway/gateway", GATEWAY)
    test("policy llm-gateway/gateway: a shell fails (unusual-tool)", t_policy_fail, "llm-gateway/gateway", GATEWAY,
         {"kind": "tool", "object": "/bin/sh"}, "unusual-tool")
    test("policy llm-gateway/gateway: another provider fails (undeclared-egress)", t_policy_fail,
         "llm-gateway/gateway", GATEWAY, {"kind": "egress", "object": "tcp/104.18.6.192/443", "name": "api.mistral.ai",
                                          "port": 443, "proto": "tcp", "dest_class": "external"}, "undeclared-egress")
    test("policy agents/runner: declared behaviour passes", t_policy_pass, "agents/runner", RUNNER)
    test("policy agents/runner: a direct call to a provider fails (undeclared-egress)", t_policy_fail,
         "agents/runner", RUNNER, {"kind": "egress", "object": "tcp/162.159.140.245/443", "name": "api.openai.com",
                                   "port": 443, "proto": "tcp", "dest_class": "external"}, "undeclared-egress")
    test("policy agents/runner: curl fails (unusual-tool)", t_policy_fail, "agents/runner", RUNNER,
         {"kind": "tool", "object": "/usr/bin/curl"}, "unusual-tool")
    blocks = []

    def t_doc_examples():
        blocks.extend(doc_policies())
        ensure(len(blocks) >= 3, f"{len(blocks)} found")
    test("docs/writing-a-reachpolicy.md has ReachPolicy examples", t_doc_examples)
    for line, block in blocks:
        test(f"docs/writing-a-reachpolicy.md:{line}: the example loads", t_doc_policy, line, block)
    test("docs/deploying.md: yaml blocks parse", t_doc_yaml_blocks, "deploying.md")

    test("secrets.example.yaml: the three secrets, their keys, placeholders only", t_secrets_example)
    for fname, docs in hooks():
        test(f"hooks/{fname}: Job, annotations, non-root, reachctl verify wiring", t_hook, fname, docs)

    test("Dockerfile: bookworm stages; runtime without compilers or -dev packages; USER 0; ENTRYPOINT reachd",
         t_dockerfile_runtime)
    test("Dockerfile: build stage installs scripts/deps.sh's build list", t_dockerfile_build_packages)
    if shutil.which("apt-cache"):
        test("Dockerfile: every package exists (apt-cache policy)", t_dockerfile_packages_exist)
    else:
        skip("Dockerfile: every package exists (apt-cache policy)", "no apt-cache")
    if shutil.which("dpkg") and shutil.which("readelf"):
        test("Dockerfile: runtime packages provide every library reachd and reachctl link", t_runtime_libraries)
    else:
        skip("Dockerfile: runtime packages provide every library", "no dpkg/readelf")
    test(".dockerignore: build/ and .git out, sources in", t_dockerignore)
    test("Dockerfile: the build context builds reachd and reachctl", t_build_context)

    shutil.rmtree(TMP, ignore_errors=True)
    print(f"deploy: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
