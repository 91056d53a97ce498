#!/usr/bin/env python3
"""An independent decoder of OTLP ExportLogsServiceRequest bytes.

Written from the protobuf wire format and the OTLP specification's field
numbers, on purpose without reach's generated code or any protobuf library:
it is the check that what reach encodes is what a collector reads.

decode_request(data) -> {"resource_logs": [{
    "resource": {"attributes": {KEY: VALUE}},
    "scope_logs": [{"scope": {"name", "version"},
                    "log_records": [{"time_unix_nano", "observed_time_unix_nano",
                                     "severity_number", "severity_text", "body",
                                     "attributes": {KEY: VALUE}, "event_name"}]}]}]}
Missing scalars decode to their proto3 defaults (0, ""), a missing body to
None. Attribute values are str, bool, int or float. ValueError on bytes that
are not a well-formed request: truncation, a field with the wrong wire type,
a string that is not UTF-8, a key given twice in one attribute list.

usage: otlp_wire.py FILE   prints the decoded request as JSON
"""

import json
import struct
import sys

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5


def varint(buf, i):
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift >= 70:
            raise ValueError("varint longer than 10 bytes")


def fields(buf):
    """Yields (field number, wire type, value): int for varint and fixed
    types (the raw bits), bytes for length-delimited."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise ValueError("field number 0")
        if wt == VARINT:
            v, i = varint(buf, i)
        elif wt == FIXED64:
            if i + 8 > len(buf):
                raise ValueError("truncated fixed64")
            v, i = struct.unpack_from("<Q", buf, i)[0], i + 8
        elif wt == FIXED32:
            if i + 4 > len(buf):
                raise ValueError("truncated fixed32")
            v, i = struct.unpack_from("<I", buf, i)[0], i + 4
        elif wt == LEN:
            n, i = varint(buf, i)
            if i + n > len(buf):
                raise ValueError("truncated length-delimited field %d" % num)
            v, i = bytes(buf[i:i + n]), i + n
        else:
            raise ValueError("unsupported wire type %d (field %d)" % (wt, num))
        yield num, wt, v


def want(num, wt, expected):
    if wt != expected:
        raise ValueError("field %d: wire type %d, expected %d" % (num, wt, expected))


def text(v):
    return v.decode("utf-8")  # strict: proto3 strings must be UTF-8


def int64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def any_value(buf):
    value = None
    for num, wt, v in fields(buf):
        if num == 1:
            want(num, wt, LEN)
            value = text(v)
        elif num == 2:
            want(num, wt, VARINT)
            value = bool(v)
        elif num == 3:
            want(num, wt, VARINT)
            value = int64(v)
        elif num == 4:
            want(num, wt, FIXED64)
            value = struct.unpack("<d", struct.pack("<Q", v))[0]
    return value


def key_values(items):
    out = {}
    for buf in items:
        key, value = "", None
        for num, wt, v in fields(buf):
            if num == 1:
                want(num, wt, LEN)
                key = text(v)
            elif num == 2:
                want(num, wt, LEN)
                value = any_value(v)
        if key in out:
            raise ValueError("attribute %r given twice" % key)
        out[key] = value
    return out


def message(buf, spec):
    """Decodes buf by spec {num: (name, wire type, convert, repeated, default)}."""
    out = {name: ([] if rep else default) for name, _, _, rep, default in spec.values()}
    for num, wt, v in fields(buf):
        if num not in spec:
            continue  # unknown fields are legal; reach sends none
        name, expected, convert, rep, _ = spec[num]
        want(num, wt, expected)
        if rep:
            out[name].append(convert(v))
        else:
            out[name] = convert(v)
    return out


def resource(buf):
    raw = message(buf, {1: ("attributes", LEN, bytes, True, None)})
    return {"attributes": key_values(raw["attributes"])}


def scope(buf):
    return message(buf, {1: ("name", LEN, text, False, ""), 2: ("version", LEN, text, False, "")})


def log_record(buf):
    r = message(buf, {
        1: ("time_unix_nano", FIXED64, int, False, 0),
        2: ("severity_number", VARINT, int64, False, 0),
        3: ("severity_text", LEN, text, False, ""),
        5: ("body", LEN, any_value, False, None),
        6: ("attributes", LEN, bytes, True, None),
        11: ("observed_time_unix_nano", FIXED64, int, False, 0),
        12: ("event_name", LEN, text, False, ""),
    })
    r["attributes"] = key_values(r["attributes"])
    return r


def scope_logs(buf):
    return message(buf, {1: ("scope", LEN, scope, False, None), 2: ("log_records", LEN, log_record, True, None)})


def resource_logs(buf):
    return message(buf, {1: ("resource", LEN, resource, False, None), 2: ("scope_logs", LEN, scope_logs, True, None)})


def decode_request(data):
    return message(data, {1: ("resource_logs", LEN, resource_logs, True, None)})


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as f:
        print(json.dumps(decode_request(f.read()), indent=1, sort_keys=True))
