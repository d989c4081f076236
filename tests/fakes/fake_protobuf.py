"""Decode the Kubernetes protobuf request bodies real clients send (sealkit-contract-fake).

Never shipped. Typed client-go clients (kubectl ≥ 1.3x `create`, helm 4's release storage in
Secrets) send `application/vnd.kubernetes.protobuf` bodies and do not fall back to JSON when the
server refuses them, so the fake apiserver decodes the few kinds they write. Wire format, from
upstream (kubernetes/apimachinery v0.35.7 pkg/runtime/serializer/protobuf/protobuf.go and
pkg/runtime/generated.proto; kubernetes/api v0.35.7 core/v1/generated.proto; apimachinery
pkg/apis/meta/v1/generated.proto): the 4-byte magic `k8s\\0`, then a `runtime.Unknown`
{typeMeta=1 {apiVersion=1, kind=2}, raw=2, contentEncoding=3, contentType=4} whose `raw` is the
object's message. Only the field numbers below are known; another kind raises KeyError so the
server can answer 415 naming it.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
from typing import Any

MAGIC = b"k8s\x00"

# message → field number → (json name, type); types: string, bytes, int64, bool, time, raw-json,
# map:string, map:bytes, rep:string, msg:<Message>, rep:<Message>
SCHEMAS: dict[str, dict[int, tuple[str, str]]] = {
    "Unknown": {1: ("typeMeta", "msg:TypeMeta"), 2: ("raw", "bytes"), 3: ("contentEncoding", "string"),
                4: ("contentType", "string")},
    "TypeMeta": {1: ("apiVersion", "string"), 2: ("kind", "string")},
    "ObjectMeta": {1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"),
                   4: ("selfLink", "string"), 5: ("uid", "string"), 6: ("resourceVersion", "string"),
                   7: ("generation", "int64"), 8: ("creationTimestamp", "time"),
                   9: ("deletionTimestamp", "time"), 10: ("deletionGracePeriodSeconds", "int64"),
                   11: ("labels", "map:string"), 12: ("annotations", "map:string"),
                   13: ("ownerReferences", "rep:OwnerReference"), 14: ("finalizers", "rep:string"),
                   17: ("managedFields", "rep:ManagedFieldsEntry")},
    "OwnerReference": {5: ("apiVersion", "string"), 1: ("kind", "string"), 3: ("name", "string"),
                       4: ("uid", "string"), 6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")},
    "ManagedFieldsEntry": {1: ("manager", "string"), 2: ("operation", "string"), 3: ("apiVersion", "string"),
                           4: ("time", "time"), 6: ("fieldsType", "string"), 7: ("fieldsV1", "msg:FieldsV1"),
                           8: ("subresource", "string")},
    "FieldsV1": {1: ("Raw", "raw-json")},
    "Time": {1: ("seconds", "int64"), 2: ("nanos", "int64")},
    "Secret": {1: ("metadata", "msg:ObjectMeta"), 5: ("immutable", "bool"), 2: ("data", "map:bytes"),
               4: ("stringData", "map:string"), 3: ("type", "string")},
    "ConfigMap": {1: ("metadata", "msg:ObjectMeta"), 4: ("immutable", "bool"), 2: ("data", "map:string"),
                  3: ("binaryData", "map:bytes")},
    "Namespace": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", "rep:string")},
    "DeleteOptions": {1: ("gracePeriodSeconds", "int64"), 2: ("preconditions", "msg:Preconditions"),
                      3: ("orphanDependents", "bool"), 4: ("propagationPolicy", "string"),
                      5: ("dryRun", "rep:string"),
                      6: ("ignoreStoreReadErrorWithClusterBreakingPotential", "bool")},
    "Preconditions": {1: ("uid", "string"), 2: ("resourceVersion", "string")},
}  # fmt: skip
TOP_LEVEL = {"Secret", "ConfigMap", "Namespace", "DeleteOptions"}


class ProtobufError(ValueError):
    """The body is not a Kubernetes protobuf envelope this fake can read."""


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) in order; value is int or bytes."""
    out = []
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            val, i = buf[i : i + n], i + n
        elif wire == 1:
            val, i = buf[i : i + 8], i + 8
        elif wire == 5:
            val, i = buf[i : i + 4], i + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.append((num, wire, val))
    return out


def _time(buf: bytes) -> str:
    msg = decode_message("Time", buf)
    stamp = _dt.datetime.fromtimestamp(int(msg.get("seconds", 0)), _dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def decode_message(name: str, buf: bytes) -> dict[str, Any]:
    schema = SCHEMAS[name]
    out: dict[str, Any] = {}
    for num, _wire, val in _fields(buf):
        if num not in schema:
            continue  # unknown fields are skipped, as proto2 decoders do
        key, typ = schema[num]
        if typ == "string":
            out[key] = val.decode()
        elif typ == "bytes":
            out[key] = bytes(val)
        elif typ == "int64":
            out[key] = val - (1 << 64) if val >= 1 << 63 else val
        elif typ == "bool":
            out[key] = bool(val)
        elif typ == "time":
            out[key] = _time(val)
        elif typ == "raw-json":
            out[key] = json.loads(val or b"{}")
        elif typ.startswith("map:"):
            entry = {n: v for n, _w, v in _fields(val)}
            k = entry.get(1, b"").decode()
            v = entry.get(2, b"")
            out.setdefault(key, {})[k] = base64.b64encode(v).decode() if typ == "map:bytes" else v.decode()
        elif typ == "rep:string":
            out.setdefault(key, []).append(val.decode())
        elif typ.startswith("rep:"):
            out.setdefault(key, []).append(decode_message(typ[4:], val))
        elif typ.startswith("msg:"):
            sub = decode_message(typ[4:], val)
            out[key] = sub.get("Raw", {}) if typ == "msg:FieldsV1" else sub
    return out


def decode(body: bytes) -> dict[str, Any]:
    """A JSON-shaped object from a protobuf request body (apiVersion/kind from the envelope)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    unknown = decode_message("Unknown", body[len(MAGIC) :])
    tm = unknown.get("typeMeta") or {}
    kind = tm.get("kind", "")
    if unknown.get("contentEncoding"):
        raise ProtobufError(f"content encoding {unknown['contentEncoding']!r} is not supported")
    if kind not in TOP_LEVEL:
        raise KeyError(kind)
    obj = decode_message(kind, unknown.get("raw", b""))
    return {"apiVersion": tm.get("apiVersion", ""), "kind": kind, **obj}
