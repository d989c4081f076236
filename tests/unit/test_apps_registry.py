"""Removing an app's images from the embedded registry: by digest, and a refusal is a warning."""

from __future__ import annotations

import contextlib

import pytest

from sealkit.apps.registry import RegistryImages
from sealkit.context import RegistryInfo
from sealkit.errors import ImageError


class Resp:
    def __init__(self, status, headers=None):
        self.status = status
        self.headers = headers or {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


class FakeClient:
    calls: list[tuple[str, str, str]] = []
    refuse_delete = False

    def __init__(self, host, options):
        self.host = host

    def request(self, method, path, *, scope=None, headers=None, ok=(200,)):
        FakeClient.calls.append((self.host, method, path))
        if method == "HEAD":
            known = "redis" in path
            return Resp(
                200 if known else 404, {"Docker-Content-Digest": "sha256:" + "a" * 64} if known else {}
            )
        if FakeClient.refuse_delete:
            raise ImageError(f"registry refused the request: DELETE {path}: HTTP 405 (UNSUPPORTED)")
        return Resp(202)


@pytest.fixture
def fake_registry(monkeypatch):
    import sealkit.image.remote as remote
    import sealkit.registry.service as service
    import sealkit.registry.sync as sync

    FakeClient.calls = []
    FakeClient.refuse_delete = False
    info = RegistryInfo("sealkit.hub", 5001, ("10.0.0.5",), "push", "pw", b"PEM")
    monkeypatch.setattr(service, "push_registry_info", lambda ctx: info)
    monkeypatch.setattr(remote, "RegistryClient", FakeClient)
    monkeypatch.setattr(sync, "_ca_file", lambda pem: contextlib.nullcontext("/ca"))
    return FakeClient


def test_delete_by_digest_on_the_push_instance(fake_registry):
    warnings = RegistryImages().delete(None, ["docker.io/library/redis:7.0", "docker.io/library/gone:1"])
    assert warnings == []
    assert fake_registry.calls == [
        ("10.0.0.5:5001", "HEAD", "/v2/library/redis/manifests/7.0"),
        ("10.0.0.5:5001", "DELETE", "/v2/library/redis/manifests/sha256:" + "a" * 64),
        ("10.0.0.5:5001", "HEAD", "/v2/library/gone/manifests/1"),
    ]


def test_a_registry_that_refuses_deletes_gives_a_warning(fake_registry):
    fake_registry.refuse_delete = True
    [warning] = RegistryImages().delete(None, ["docker.io/library/redis:7.0"])
    assert warning.startswith("image docker.io/library/redis:7.0 stays in the registry on ")
    assert "405" in warning


def test_nothing_to_delete_contacts_nobody(fake_registry):
    assert RegistryImages().delete(None, []) == []
    assert fake_registry.calls == []
