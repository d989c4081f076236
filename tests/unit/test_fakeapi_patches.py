"""The fake apiserver's patch semantics (tests/fakes/fake_apply.py) and protobuf decoding, as pure functions.

Each case is an upstream behaviour real clients depend on (see the modules' docstrings for where).
"""

from __future__ import annotations

import base64

import pytest

from tests.fakes import fake_apply, fake_protobuf


def test_strategic_merge_merges_container_ports_by_container_port() -> None:
    live = {"containers": [{"name": "a", "ports": [{"containerPort": 80}, {"containerPort": 81}]}]}
    patch = {
        "containers": [
            {"name": "a", "ports": [{"containerPort": 82}, {"$patch": "delete", "containerPort": 81}]}
        ],
        "$setElementOrder/containers": [{"name": "a"}],
    }
    got = fake_apply.strategic_merge_patch(live, patch)
    assert got == {"containers": [{"name": "a", "ports": [{"containerPort": 80}, {"containerPort": 82}]}]}


def test_strategic_merge_replaces_lists_without_merge_key_and_honours_directives() -> None:
    live = {
        "spec": {"tolerations": [{"key": "a"}], "finalizers": ["x", "y"], "strategy": {"type": "R", "r": 1}}
    }
    patch = {
        "spec": {
            "tolerations": [{"key": "b"}],
            "$deleteFromPrimitiveList/finalizers": ["x"],
            "strategy": {"type": "Recreate", "r": None, "$retainKeys": ["type"]},
        }
    }
    got = fake_apply.strategic_merge_patch(live, patch)
    assert got["spec"]["tolerations"] == [{"key": "b"}]  # atomic: no patchMergeKey upstream
    assert got["spec"]["finalizers"] == ["y"]
    assert got["spec"]["strategy"] == {"type": "Recreate"}


def test_server_side_apply_creates_then_removes_what_the_manager_dropped() -> None:
    first = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "labels": {"a": "1", "b": "2"}},
        "data": {"k": "v", "old": "x"},
    }
    obj = fake_apply.server_side_apply(None, first, "helm", "v1", "2026-01-01T00:00:00Z")
    assert obj["data"] == {"k": "v", "old": "x"}
    entry = obj["metadata"]["managedFields"][0]
    assert entry["manager"] == "helm" and entry["operation"] == "Apply"
    assert entry["fieldsV1"]["f:data"] == {"f:k": {}, "f:old": {}}
    # someone else adds a field; the applier drops one of its own
    obj["data"]["theirs"] = "t"
    obj["metadata"]["managedFields"].append(
        {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:data": {"f:theirs": {}}}}
    )
    second = {**first, "metadata": {"name": "c", "labels": {"a": "1"}}, "data": {"k": "v2"}}
    obj = fake_apply.server_side_apply(obj, second, "helm", "v1", "2026-01-01T00:00:01Z")
    assert obj["data"] == {"k": "v2", "theirs": "t"}
    assert obj["metadata"]["labels"] == {"a": "1"}
    assert [e["manager"] for e in obj["metadata"]["managedFields"]] == ["kubectl-edit", "helm"]


def test_server_side_apply_merges_keyed_lists_and_drops_removed_items() -> None:
    def deploy(*names: str) -> dict:
        return {
            "spec": {"template": {"spec": {"containers": [{"name": n, "image": f"{n}:1"} for n in names]}}}
        }

    obj = fake_apply.server_side_apply(None, deploy("a", "b"), "m", "apps/v1", "t")
    obj = fake_apply.server_side_apply(obj, deploy("a"), "m", "apps/v1", "t")
    assert obj["spec"]["template"]["spec"]["containers"] == [{"name": "a", "image": "a:1"}]
    with pytest.raises(ValueError, match="fieldManager"):
        fake_apply.server_side_apply(obj, deploy("a"), "", "apps/v1", "t")


def _field(num: int, wire: int, payload: bytes | int) -> bytes:
    def varint(n: int) -> bytes:
        out = b""
        while True:
            b, n = n & 0x7F, n >> 7
            out += bytes([b | (0x80 if n else 0)])
            if not n:
                return out

    key = varint(num << 3 | wire)
    if wire == 0:
        return key + varint(int(payload))
    assert isinstance(payload, bytes)
    return key + varint(len(payload)) + payload


def test_protobuf_secret_and_delete_options_decode() -> None:
    meta = (
        _field(1, 2, b"s1") + _field(3, 2, b"ns") + _field(11, 2, _field(1, 2, b"app") + _field(2, 2, b"x"))
    )
    secret = (
        _field(1, 2, meta)
        + _field(2, 2, _field(1, 2, b"pw") + _field(2, 2, b"\x00\xff"))
        + _field(3, 2, b"Opaque")
    )
    envelope = _field(1, 2, _field(1, 2, b"v1") + _field(2, 2, b"Secret")) + _field(2, 2, secret)
    obj = fake_protobuf.decode(fake_protobuf.MAGIC + envelope)
    assert obj == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s1", "namespace": "ns", "labels": {"app": "x"}},
        "data": {"pw": base64.b64encode(b"\x00\xff").decode()},
        "type": "Opaque",
    }
    opts = _field(1, 2, _field(1, 2, b"v1") + _field(2, 2, b"DeleteOptions")) + _field(
        2, 2, _field(4, 2, b"Foreground")
    )
    assert fake_protobuf.decode(fake_protobuf.MAGIC + opts)["propagationPolicy"] == "Foreground"
    deployment = _field(1, 2, _field(1, 2, b"apps/v1") + _field(2, 2, b"Deployment"))
    with pytest.raises(KeyError):
        fake_protobuf.decode(fake_protobuf.MAGIC + deployment)
    with pytest.raises(fake_protobuf.ProtobufError):
        fake_protobuf.decode(b"{}")


def test_bundles_load_every_sibling_before_its_importer(tmp_path) -> None:
    from tests.fakes import bundle

    for name in bundle.FAKES:
        assert bundle.bundle(name, tmp_path).exists()
    src = {
        "fakelib": "",
        "fakeapi": "try:\n    from . import fake_apply\nexcept ImportError:\n    import fake_apply\n",
    }
    with pytest.raises(ValueError, match="fakeapi imports fake_apply"):
        bundle.check_order("x", ("fakelib", "fakeapi"), src)
