#!/usr/bin/env python3
"""A Kubernetes API server test fixture: pods only, over HTTPS with a bearer
token, list + watch shaped like the real apiserver's.

usage: kube_server.py --port P --cert C --key K --token T --pods FILE.json
                      [--control DIR] [--bind ADDR] [--bookmark-interval S]
                      [--without RESOURCE]... [-v]

Serves
  GET /api/v1/pods[?fieldSelector=spec.nodeName=N]
      PodList {kind, apiVersion, metadata.resourceVersion, items} with only
      the pods of node N (all pods without the selector).
  GET /api/v1/pods?fieldSelector=...&watch=1&resourceVersion=RV
                  [&allowWatchBookmarks=true][&timeoutSeconds=S]
      a chunked stream of newline-terminated {"type","object"} events:
      ADDED / MODIFIED / DELETED for changes after RV (every pod as ADDED
      when RV is "" or "0"), a BOOKMARK every --bookmark-interval seconds
      when bookmarks are allowed, the stream ends cleanly after S seconds.
      Every event is written in two pieces with a pause in between, so
      clients must join objects split across reads. A watch from an RV
      older than the last `expire` gets 200 + an ERROR event with code 410
      (what the apiserver does for a compacted version).
  Without "Authorization: Bearer T": 401 with a Status body whose message
  echoes the header it got after ~100 characters (as a careless proxy does:
  a client that cuts the message before redacting leaks a token prefix).
  Other paths:
  404; unsupported selectors or a non-numeric RV: 400.

--pods FILE.json holds a list of pod objects, or a PodList. Resource versions
are one global counter, as in etcd.

Control (--control DIR). Drop a file named *.cmd into DIR (write it under
another name and rename it, so that it is never read half-written). Each
line is one command; the file is deleted once all its lines are applied,
so a test waits for the file to disappear to know the command took effect.
  add PATH | add JSON     add or replace pods (a pod, a list, or a PodList;
                          inline JSON on one line): ADDED, or MODIFIED when
                          the UID exists
  delete UID              delete a pod: DELETED
  put RESOURCE JSON       add or replace a namespaced object (reachpolicies,
                          policyreports, events; inline JSON on one line)
  remove RESOURCE NS/NAME delete it
  fail CODE [N]           the next N API requests (default 1) get HTTP CODE
                          with a Status body (500, 503, 403, 410, ...)
  garbage [N]             the next N requests get 200 and a body that is not
                          JSON (for a watch: a stream whose first line is not
                          JSON)
  hang [N]                the next N requests get 200 headers and then
                          nothing until `drop`, `stop` or 600 s
  clear                   forget the faults still queued
  drop                    end every open watch stream cleanly (as on
                          timeoutSeconds), so that clients reconnect and meet
                          the faults queued above
  expire                  compact the history: open watches get an ERROR 410
                          event, later watches from an older RV get one too
  bookmark                send a BOOKMARK on every open watch now
  stop                    close the listener and every open connection
                          (clients see connection resets / refusals)
  start                   listen again on the same port
Faults apply after the token check, in the order queued.
Files the server writes into DIR: `ready` (its port, once it listens;
removed on `stop`, written again on `start`), `requests.log` (one line per
request: "METHOD PATH?QUERY STATUS"; the token is never written),
`errors.log` (commands that failed), `objects.json` (every object but
pods, {resource: [objects]}, rewritten after each change).

Besides pods: namespaced reachpolicies (reach.dev/v1), secrets (v1), events (v1) and
policyreports (wgpolicyk8s.io/v1alpha2): list and watch across namespaces
(/apis/reach.dev/v1/reachpolicies) or in one, GET one, POST (generateName
honoured), PUT, PATCH as server-side apply (application/apply-patch+yaml,
fieldManager, force=true: create or replace), DELETE. A body whose kind or
apiVersion is not the resource's, or whose namespace or name differs from the
path, is 400. A PolicyReport is checked as the v1alpha2 CRD's schema checks it
(results[].result pass/fail/warn/error/skip, results[].severity high/medium/low,
results[].properties values strings, timestamp seconds and nanos integers,
summary counts integers): 422 Invalid otherwise, as the API server answers.
--without RESOURCE (repeatable): that resource is not served at all, as on a
cluster without its CRD: every path of it is 404 "the server could not find
the requested resource".
"""

import argparse
import copy
import json
import os
import ssl
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

from fixture_server import FixtureHandler, FixtureServer, ServedFixture, serve


# resource -> (kind, apiVersion, path prefix); pods have their own handling
# (node field selector, keyed by UID), the others are namespaced objects
# keyed by (namespace, name).
RESOURCES = {
    "pods": ("Pod", "v1", "/api/v1"),
    "events": ("Event", "v1", "/api/v1"),
    "reachpolicies": ("ReachPolicy", "reach.dev/v1", "/apis/reach.dev/v1"),
    "policyreports": ("PolicyReport", "wgpolicyk8s.io/v1alpha2", "/apis/wgpolicyk8s.io/v1alpha2"),
    # GET one (reachctl verify --attest --key-secret); put with the control
    # command `put secrets {...}`
    "secrets": ("Secret", "v1", "/api/v1"),
}


WITHOUT = set()  # --without: resources whose CRD is "not installed"


def route(path):
    """(resource, namespace or None, name or None) of a path, or None."""
    for res, (_, _, prefix) in RESOURCES.items():
        if res == "pods" or res in WITHOUT or not path.startswith(prefix + "/"):
            continue
        rest = path[len(prefix) + 1:].split("/")
        if rest == [res]:
            return res, None, None
        if len(rest) in (3, 4) and rest[0] == "namespaces" and rest[2] == res:
            return res, rest[1], rest[3] if len(rest) == 4 else None
    return None


def policy_report_problems(obj):
    """What the wgpolicyk8s.io/v1alpha2 PolicyReport CRD's schema refuses."""
    out = []
    for i, r in enumerate(obj.get("results") or []):
        if r.get("result") not in ("pass", "fail", "warn", "error", "skip"):
            out.append(f"results[{i}].result: Unsupported value: {r.get('result')!r}")
        if "severity" in r and r["severity"] not in ("high", "medium", "low"):
            out.append(f"results[{i}].severity: Unsupported value: {r['severity']!r}")
        if not isinstance(r.get("policy"), str):
            out.append(f"results[{i}].policy: Required value")
        for k, v in (r.get("properties") or {}).items():
            if not isinstance(v, str):
                out.append(f"results[{i}].properties.{k}: must be a string")
        ts = r.get("timestamp")
        if ts is not None and not (isinstance(ts.get("seconds"), int) and isinstance(ts.get("nanos"), int)):
            out.append(f"results[{i}].timestamp: seconds and nanos are required integers")
    for k, v in (obj.get("summary") or {}).items():
        if k not in ("pass", "fail", "warn", "error", "skip") or not isinstance(v, int):
            out.append(f"summary.{k}: not an integer count")
    return out


def status_body(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class State:
    """Pods, the event history and the fault queue, under one condition."""

    def __init__(self, pods, bookmark_interval):
        self.cond = threading.Condition()
        self.rv = 0
        self.pods = {}                  # uid -> pod
        self.events = []                # (rv, type, pod) in order
        self.compacted = 0              # watches from an RV below this: 410
        self.faults = []                # [kind, arg, remaining]
        self.drop_gen = 0
        self.expire_gen = 0
        self.bookmark_gen = 0
        self.stop_gen = 0
        self.bookmark_interval = bookmark_interval
        self.objects = {}               # (resource, ns, name) -> object
        self.generated = 0
        for pod in pods:
            self._upsert(pod, record=False)

    def _bump(self):
        self.rv += 1
        return self.rv

    def _upsert(self, pod, record=True):
        pod = copy.deepcopy(pod)
        pod.setdefault("kind", "Pod")
        pod.setdefault("apiVersion", "v1")
        meta = pod.setdefault("metadata", {})
        uid = meta.get("uid")
        if not uid:
            raise ValueError("pod without metadata.uid")
        kind = "MODIFIED" if uid in self.pods else "ADDED"
        meta["resourceVersion"] = str(self._bump())
        self.pods[uid] = pod
        if record:
            self.events.append((self.rv, kind, copy.deepcopy(pod), "pods"))

    def upsert(self, pod):
        with self.cond:
            self._upsert(pod)
            self.cond.notify_all()

    def delete(self, uid):
        with self.cond:
            pod = self.pods.pop(uid, None)
            if pod is None:
                raise KeyError("no pod with uid %s" % uid)
            pod["metadata"]["resourceVersion"] = str(self._bump())
            pod["metadata"].setdefault("deletionTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            self.events.append((self.rv, "DELETED", pod, "pods"))
            self.cond.notify_all()

    # Namespaced objects of other resources (reachpolicies, events,
    # policyreports), keyed by (resource, namespace, name).
    def put_object(self, resource, obj, generate=False):
        with self.cond:
            obj = copy.deepcopy(obj)
            meta = obj.setdefault("metadata", {})
            ns = meta.get("namespace") or ""
            if generate and not meta.get("name"):
                self.generated += 1
                meta["name"] = "%s%05d" % (meta.get("generateName", "obj-"), self.generated)
            name = meta.get("name")
            if not name or not ns:
                raise ValueError("object without metadata.namespace/name")
            key = (resource, ns, name)
            kind = "MODIFIED" if key in self.objects else "ADDED"
            if kind == "ADDED":
                meta["uid"] = meta.get("uid") or "%08x-0000-4000-8000-%012x" % (self.rv + 1, self.rv + 1)
                meta["creationTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            else:
                meta["uid"] = self.objects[key]["metadata"]["uid"]
            meta["resourceVersion"] = str(self._bump())
            self.objects[key] = obj
            self.events.append((self.rv, kind, copy.deepcopy(obj), resource))
            self.cond.notify_all()
            return copy.deepcopy(obj)

    def remove_object(self, resource, ns, name):
        with self.cond:
            obj = self.objects.pop((resource, ns, name), None)
            if obj is None:
                return None
            obj["metadata"]["resourceVersion"] = str(self._bump())
            self.events.append((self.rv, "DELETED", obj, resource))
            self.cond.notify_all()
            return obj

    def list_objects(self, resource, ns=None):
        with self.cond:
            items = [copy.deepcopy(o) for (r, n, _), o in sorted(self.objects.items())
                     if r == resource and (ns is None or n == ns)]
            return items, self.rv

    def take_fault(self):
        with self.cond:
            if not self.faults:
                return None
            f = self.faults[0]
            f[2] -= 1
            if f[2] <= 0:
                self.faults.pop(0)
            return (f[0], f[1])


def pod_list(state, node):
    with state.cond:
        items = [copy.deepcopy(p) for p in state.pods.values() if node is None or p.get("spec", {}).get("nodeName") == node]
        rv = state.rv
    for p in items:  # list items carry no kind/apiVersion, as in a real PodList
        p.pop("kind", None)
        p.pop("apiVersion", None)
    return {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": str(rv)}, "items": items}


class Handler(FixtureHandler):
    server_version = "kube-fixture"
    timeout = 30
    log_name = "kube_server"

    def log_request_line(self, code):
        self.append_request_log("%d" % code)

    def send_json(self, code, obj, reason=None):
        body = json.dumps(obj).encode() + b"\n"
        self.send_response(code, reason)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.log_request_line(code)

    def send_raw(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.log_request_line(code)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.log_request_line(200)

    def send_event(self, etype, obj):
        data = json.dumps({"type": etype, "object": obj}).encode() + b"\n"
        half = len(data) // 2
        self.chunk(data[:half])
        time.sleep(0.01)
        self.chunk(data[half:])

    def do_GET(self):
        self.answer_guarded(self.handle_get)

    def handle_get(self):
        state = self.server.state
        if self.headers.get("Authorization", "") != "Bearer " + self.server.token:
            got = self.headers.get("Authorization", "")
            self.send_json(401, status_body(401, "Unauthorized", "Unauthorized " + "." * 90 + " " + got))
            return
        url = urlsplit(self.path)
        q = parse_qs(url.query, keep_blank_values=True)
        if url.path != "/api/v1/pods":
            self.handle_get_objects(url, q)
            return
        node = None
        sel = q.get("fieldSelector", [""])[0]
        if sel:
            if not sel.startswith("spec.nodeName="):
                self.send_json(400, status_body(400, "BadRequest", "unsupported field selector %r" % sel))
                return
            node = sel[len("spec.nodeName="):]
        watch = q.get("watch", [""])[0] in ("1", "true")
        fault = state.take_fault()
        if fault:
            kind, arg = fault
            if kind == "fail":
                self.send_json(arg, status_body(arg, "InjectedFault", "injected HTTP %d" % arg))
                return
            if kind == "garbage":
                if watch:
                    self.start_stream()
                    self.chunk(b"<html>this is not a watch event</html>\n")
                    self.chunk(b"")
                else:
                    self.send_raw(200, b"{\"kind\": \"PodList\", \"items\": [ this is not json")
                return
            if kind == "hang":
                self.start_stream()
                self.wait_for_end(deadline=time.monotonic() + 600)
                self.close_connection = True
                return
        if not watch:
            self.send_json(200, pod_list(state, node))
            return
        rv_s = q.get("resourceVersion", [""])[0]
        try:
            since = int(rv_s) if rv_s else 0
        except ValueError:
            self.send_json(400, status_body(400, "BadRequest", "invalid resourceVersion %r" % rv_s))
            return
        try:
            timeout = float(q.get("timeoutSeconds", ["1800"])[0])
        except ValueError:
            timeout = 1800
        bookmarks = q.get("allowWatchBookmarks", [""])[0] in ("1", "true")
        self.serve_watch(node, since, timeout, bookmarks)

    def authorized(self):
        if self.headers.get("Authorization", "") != "Bearer " + self.server.token:
            self.send_json(401, status_body(401, "Unauthorized", "Unauthorized"))
            return False
        return True

    def handle_get_objects(self, url, q):
        r = route(url.path)
        if r is None:
            self.send_json(404, status_body(404, "NotFound", "the server could not find the requested resource"))
            return
        res, ns, name = r
        state = self.server.state
        fault = state.take_fault()
        if fault and fault[0] == "fail":
            self.send_json(fault[1], status_body(fault[1], "InjectedFault", "injected HTTP %d" % fault[1]))
            return
        if name:
            with state.cond:
                obj = copy.deepcopy(state.objects.get((res, ns, name)))
            if obj is None:
                self.send_json(404, status_body(404, "NotFound", '%s "%s" not found' % (res, name)))
            else:
                self.send_json(200, obj)
            return
        if q.get("watch", [""])[0] in ("1", "true"):
            rv_s = q.get("resourceVersion", [""])[0]
            try:
                since = int(rv_s) if rv_s else 0
                timeout = float(q.get("timeoutSeconds", ["1800"])[0])
            except ValueError:
                self.send_json(400, status_body(400, "BadRequest", "invalid resourceVersion or timeout"))
                return
            bookmarks = q.get("allowWatchBookmarks", [""])[0] in ("1", "true")
            self.serve_watch(None, since, timeout, bookmarks, resource=res)
            return
        items, rv = state.list_objects(res, ns)
        kind, api, _ = RESOURCES[res]
        self.send_json(200, {"kind": kind + "List", "apiVersion": api, "metadata": {"resourceVersion": str(rv)},
                             "items": items})

    def read_body(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        data = self.rfile.read(n) if n else b""
        try:
            return json.loads(data.decode()) if data else None
        except ValueError:
            return None

    def do_POST(self):
        self.answer_guarded(lambda: self.handle_write("POST"))

    def do_PATCH(self):
        self.answer_guarded(lambda: self.handle_write("PATCH"))

    def do_PUT(self):
        self.answer_guarded(lambda: self.handle_write("PUT"))

    def do_DELETE(self):
        self.answer_guarded(lambda: self.handle_write("DELETE"))

    def handle_write(self, method):
        """POST creates (generateName honoured), PUT replaces, PATCH with
        application/apply-patch+yaml (server-side apply, fieldManager and
        force=true required) creates or replaces, DELETE deletes."""
        body = self.read_body() if method != "DELETE" else None
        if not self.authorized():
            return
        url = urlsplit(self.path)
        q = parse_qs(url.query, keep_blank_values=True)
        r = route(url.path)
        state = self.server.state
        if r is None or r[1] is None:
            self.send_json(404, status_body(404, "NotFound", "the server could not find the requested resource"))
            return
        res, ns, name = r
        fault = state.take_fault()
        if fault and fault[0] == "fail":
            self.send_json(fault[1], status_body(fault[1], "InjectedFault", "injected HTTP %d" % fault[1]))
            return
        kind, api, _ = RESOURCES[res]
        if method == "DELETE":
            if not name:
                self.send_json(405, status_body(405, "MethodNotAllowed", "DELETE of a collection"))
                return
            obj = state.remove_object(res, ns, name)
            if obj is None:
                self.send_json(404, status_body(404, "NotFound", '%s "%s" not found' % (res, name)))
            else:
                self.send_json(200, status_body(200, "", "deleted") | {"status": "Success"})
            self.server.dump()
            return
        if not isinstance(body, dict) or body.get("kind") != kind or body.get("apiVersion") != api:
            self.send_json(400, status_body(400, "BadRequest", "body is not a %s %s" % (api, kind)))
            return
        if res == "policyreports" and policy_report_problems(body):
            self.send_json(422, status_body(422, "Invalid", "PolicyReport is invalid: " +
                                            "; ".join(policy_report_problems(body))))
            return
        meta = body.setdefault("metadata", {})
        if meta.get("namespace", ns) != ns:
            self.send_json(400, status_body(400, "BadRequest", "the namespace of the object does not match the path"))
            return
        meta["namespace"] = ns
        if method == "POST":
            if name or (not meta.get("name") and not meta.get("generateName")):
                self.send_json(400, status_body(400, "BadRequest", "POST to a collection with a name or generateName"))
                return
            if meta.get("name") and (res, ns, meta["name"]) in state.objects:
                self.send_json(409, status_body(409, "AlreadyExists", "already exists"))
                return
            obj = state.put_object(res, body, generate=True)
            self.send_json(201, obj)
        else:
            if not name or meta.get("name", name) != name:
                self.send_json(400, status_body(400, "BadRequest", "the name of the object does not match the path"))
                return
            if method == "PATCH" and (self.headers.get("Content-Type") != "application/apply-patch+yaml"
                                      or not q.get("fieldManager", [""])[0] or q.get("force", [""])[0] != "true"):
                self.send_json(415, status_body(415, "UnsupportedMediaType",
                                                "only server-side apply with fieldManager and force=true"))
                return
            if method == "PUT" and (res, ns, name) not in state.objects:
                self.send_json(404, status_body(404, "NotFound", '%s "%s" not found' % (res, name)))
                return
            meta["name"] = name
            obj = state.put_object(res, body)
            self.send_json(200, obj)
        self.server.dump()

    def wait_for_end(self, deadline):
        """Blocks until drop/stop or deadline; True when stopped."""
        state = self.server.state
        with state.cond:
            drop, stop = state.drop_gen, state.stop_gen
            while state.drop_gen == drop and state.stop_gen == stop and time.monotonic() < deadline:
                state.cond.wait(timeout=max(0.01, deadline - time.monotonic()))
            return state.stop_gen != stop

    def serve_watch(self, node, since, timeout, bookmarks, resource="pods"):
        state = self.server.state
        deadline = time.monotonic() + timeout
        self.start_stream()
        with state.cond:
            drop, expire, bmark, stop = state.drop_gen, state.expire_gen, state.bookmark_gen, state.stop_gen
            too_old = since and since < state.compacted
            if since == 0:
                # like the apiserver without a version: the current state as ADDED
                if resource == "pods":
                    initial = [("ADDED", copy.deepcopy(p)) for p in state.pods.values()]
                else:
                    initial = [("ADDED", copy.deepcopy(o)) for (r, _, _), o in state.objects.items() if r == resource]
                idx = len(state.events)
            else:
                initial = []
                idx = len(state.events)
                while idx > 0 and state.events[idx - 1][0] > since:
                    idx -= 1
            rv = state.rv
        if too_old:
            self.send_event("ERROR", status_body(410, "Expired", "too old resource version: %d (%d)" % (since, state.compacted)))
            self.chunk(b"")
            return
        for etype, pod in initial:
            if resource != "pods" or node is None or pod.get("spec", {}).get("nodeName") == node:
                self.send_event(etype, pod)
        next_bookmark = time.monotonic() + state.bookmark_interval
        while True:
            with state.cond:
                while (idx >= len(state.events) and state.drop_gen == drop and state.expire_gen == expire
                       and state.bookmark_gen == bmark and state.stop_gen == stop
                       and time.monotonic() < min(deadline, next_bookmark if bookmarks else deadline)):
                    state.cond.wait(timeout=max(0.01, min(deadline, next_bookmark) - time.monotonic()))
                batch = state.events[idx:]
                idx = len(state.events)
                rv = state.rv
                stopped = state.stop_gen != stop
                dropped = state.drop_gen != drop
                expired = state.expire_gen != expire
                forced_bookmark = state.bookmark_gen != bmark
                bmark = state.bookmark_gen
            if stopped:
                self.close_connection = True
                return  # no terminating chunk: the connection just dies
            for erv, etype, pod, res in batch:
                if res != resource:
                    continue
                if resource != "pods" or node is None or pod.get("spec", {}).get("nodeName") == node:
                    self.send_event(etype, pod)
            if expired:
                self.send_event("ERROR", status_body(410, "Expired", "too old resource version: %d (%d)" % (since, rv)))
                break
            now = time.monotonic()
            if bookmarks and (forced_bookmark or now >= next_bookmark):
                self.send_event("BOOKMARK", {"kind": RESOURCES.get(resource, ("Pod",))[0], "apiVersion": "v1",
                                             "metadata": {"resourceVersion": str(rv)}})
                next_bookmark = now + state.bookmark_interval
            if dropped or now >= deadline:
                break
        self.chunk(b"")


class Server(FixtureServer):
    conn_timeout = 10

    def __init__(self, addr, ctx, state, token, control, verbose):
        self.state = state
        self.token = token
        super().__init__(addr, Handler, ctx, control, verbose)

    def dump(self):
        """DIR/objects.json: every object but pods, {resource: [objects]}
        (written whole and renamed: tests read what the agent wrote)."""
        if not self.control:
            return
        with self.state.cond:
            out = {}
            for (res, _, _), obj in sorted(self.state.objects.items()):
                out.setdefault(res, []).append(copy.deepcopy(obj))
            tmp = os.path.join(self.control, ".objects.json.tmp")
            with open(tmp, "w") as f:
                json.dump(out, f, indent=1, sort_keys=True)
            os.rename(tmp, os.path.join(self.control, "objects.json"))


class Fixture(ServedFixture):
    def __init__(self, args, state, ctx):
        super().__init__(args)
        self.state = state
        self.ctx = ctx

    def make_server(self):
        return Server((self.args.bind, self.args.port), self.ctx, self.state, self.args.token,
                      self.args.control, self.args.verbose)

    def on_stop(self):
        # open watches end without a terminating chunk
        with self.state.cond:
            self.state.stop_gen += 1
            self.state.cond.notify_all()

    def dump(self):
        if self.srv:
            self.srv.dump()

    def apply(self, line):
        words = line.split(None, 1)
        if not words:
            return
        cmd, rest = words[0], (words[1].strip() if len(words) > 1 else "")
        st = self.state
        if cmd == "add":
            if rest.startswith("{") or rest.startswith("["):
                data = json.loads(rest)
            else:
                with open(rest) as f:
                    data = json.load(f)
            for pod in pods_of(data):
                st.upsert(pod)
        elif cmd == "delete":
            st.delete(rest)
        elif cmd == "put":
            res, data = rest.split(None, 1)
            if res not in RESOURCES or res == "pods":
                raise ValueError("unknown resource %r" % res)
            st.put_object(res, json.loads(data))
            self.dump()
        elif cmd == "remove":
            res, key = rest.split()
            ns, name = key.split("/", 1)
            if st.remove_object(res, ns, name) is None:
                raise KeyError("no %s %s" % (res, key))
            self.dump()
        elif cmd in ("fail", "garbage", "hang"):
            args = rest.split()
            if cmd == "fail":
                code, n = int(args[0]), int(args[1]) if len(args) > 1 else 1
            else:
                code, n = 0, int(args[0]) if args else 1
            with st.cond:
                st.faults.append([cmd, code, n])
        elif cmd == "clear":
            with st.cond:
                st.faults.clear()
        elif cmd == "drop":
            with st.cond:
                st.drop_gen += 1
                st.cond.notify_all()
        elif cmd == "expire":
            with st.cond:
                st.compacted = st.rv
                st.expire_gen += 1
                st.cond.notify_all()
        elif cmd == "bookmark":
            with st.cond:
                st.bookmark_gen += 1
                st.cond.notify_all()
        elif cmd == "stop":
            self.stop()
        elif cmd == "start":
            self.start()
        else:
            raise ValueError("unknown command %r" % cmd)


def pods_of(data):
    if isinstance(data, dict) and data.get("kind") == "PodList":
        return data.get("items", [])
    if isinstance(data, list):
        return data
    return [data]


def main():
    ap = argparse.ArgumentParser(description="Kubernetes API server fixture (pods list/watch)")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--pods", required=True)
    ap.add_argument("--control")
    ap.add_argument("--bookmark-interval", type=float, default=1.0)
    ap.add_argument("--without", action="append", default=[], choices=[r for r in RESOURCES if r != "pods"])
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    WITHOUT.update(args.without)

    with open(args.pods) as f:
        pods = pods_of(json.load(f))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    state = State(pods, args.bookmark_interval)
    return serve(Fixture(args, state, ctx), 'kube_server')


if __name__ == "__main__":
    sys.exit(main())
