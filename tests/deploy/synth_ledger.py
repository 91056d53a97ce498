"""Writes reach ledger files (user/reach/ledger_store.h) from Python, so that
the deploy tier can run the real `reachctl verify --ledger` against the
example ReachPolicies: a 64-byte header (magic, format version, lengths,
SHA-256) and a zlib-compressed reach.v1.Ledger (proto/reach.proto), encoded
by hand: the few fields used here need no protobuf library."""
import hashlib
import struct
import zlib

KIND = {"secret": 1, "tool": 2, "egress": 3, "credential": 4, "dns": 5}


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field, wire):
    return _varint(field << 3 | wire)


def _uint(field, n):
    return _key(field, 0) + _varint(n) if n else b""


def _bytes(field, data):
    if isinstance(data, str):
        data = data.encode()
    return _key(field, 2) + _varint(len(data)) + data if data else b""


def _edge(e, now_ms):
    """e: dict with kind, object and optionally category, dest_class, name,
    port, proto, executables, epoch."""
    msg = _uint(1, KIND[e["kind"]]) + _bytes(2, e["object"])
    msg += _bytes(3, e.get("category", "")) + _bytes(4, e.get("dest_class", ""))
    msg += _bytes(5, e.get("name", "")) + _uint(6, e.get("port", 0)) + _bytes(7, e.get("proto", ""))
    if e["kind"] == "egress":  # map<string, uint64> outcomes = 8
        entry = _bytes(1, "established") + _uint(2, 1)
        msg += _bytes(8, entry)
    msg += _uint(9, e.get("count", 1))
    msg += _uint(10, now_ms - 60_000) + _uint(11, now_ms)
    for exe in e.get("executables", []):
        msg += _bytes(12, exe)
    msg += _bytes(16, e.get("epoch", "")) + _bytes(17, e.get("epoch", ""))
    return msg


def write(path, identities, now_ms, node="deploy-test"):
    """identities: {identity: [edge dict, ...]}; sorted as the agent does."""
    raw = _uint(1, 1) + _bytes(2, node)
    for name in sorted(identities):
        edges = sorted(identities[name], key=lambda e: (KIND[e["kind"]], e["object"]))
        ident = _bytes(1, name) + b"".join(_bytes(2, _edge(e, now_ms)) for e in edges)
        raw += _bytes(3, ident)
    raw += _uint(6, now_ms)
    comp = zlib.compress(raw)
    head = b"REACHLG1" + struct.pack("<IIQQ", 1, 0, len(raw), len(comp))
    head += hashlib.sha256(head + comp).digest()
    with open(path, "wb") as f:
        f.write(head + comp)
