"""Removing an app's images asks every master's registry at once: one slow master does not serialise
the others, and what stays is named per host, in the masters' order."""

from __future__ import annotations

import contextlib
import threading

import pytest

from sealkit.apps.registry import RegistryImages
from sealkit.context import RegistryInfo

MASTERS = ("10.0.0.5", "10.0.0.6", "10.0.0.7")
DIGEST = "sha256:" + "a" * 64


class Resp:
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.headers = headers or {}

    def __enter__(self) -> Resp:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def registry_with(monkeypatch: pytest.MonkeyPatch, on_head) -> list[tuple[str, str]]:
    """Patch the registry client: ``on_head(host)`` runs on each HEAD; returns the calls made."""
    import sealkit.image.remote as remote
    import sealkit.registry.service as service
    import sealkit.registry.sync as sync

    calls: list[tuple[str, str]] = []

    class Client:
        def __init__(self, host: str, options: object) -> None:
            self.host = host

        def request(self, method: str, path: str, **_: object) -> Resp:
            calls.append((self.host, method))
            if method == "HEAD":
                on_head(self.host)
                return Resp(200, {"Docker-Content-Digest": DIGEST})
            return Resp(202)

    info = RegistryInfo("sealkit.hub", 5001, MASTERS, "push", "pw", b"PEM")
    monkeypatch.setattr(service, "push_registry_info", lambda ctx: info)
    monkeypatch.setattr(remote, "RegistryClient", Client)
    monkeypatch.setattr(sync, "_ca_file", lambda pem: contextlib.nullcontext("/ca"))
    return calls


def test_every_masters_registry_is_asked_at_the_same_time(monkeypatch):
    # each HEAD waits until all three masters are being asked: a serial delete never gets there
    together = threading.Barrier(len(MASTERS), timeout=10)
    calls = registry_with(monkeypatch, lambda host: together.wait())
    assert RegistryImages().delete(None, ["docker.io/library/redis:7.0"]) == []
    assert sorted(calls) == sorted((f"{ip}:5001", m) for ip in MASTERS for m in ("HEAD", "DELETE"))


def test_a_master_that_breaks_is_a_warning_naming_it_and_the_others_are_cleaned(monkeypatch):
    def head(host: str) -> None:
        if host.startswith("10.0.0.6:"):
            raise OSError("connection reset by peer")

    calls = registry_with(monkeypatch, head)
    [warning] = RegistryImages().delete(None, ["docker.io/library/redis:7.0"])
    assert warning == (
        "images docker.io/library/redis:7.0 stay in the registry on 10.0.0.6: "
        "OSError: connection reset by peer"
    )
    assert sorted(h for h, m in calls if m == "DELETE") == ["10.0.0.5:5001", "10.0.0.7:5001"]
