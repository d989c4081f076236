"""Fixtures for the app-engine tests: a cluster context over a fake master, app images on disk."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sealkit.apps.model import ResolvedApp
from sealkit.apps.plugins import manager
from sealkit.apps.spec import load_spec
from sealkit.cluster import Cluster, Host
from sealkit.context import ClusterContext, HostRef, RuntimeInfo
from sealkit.hookspecs import hookimpl
from sealkit.pki.store import PKIStore
from sealkit.state import ClusterState
from tests.apps.fakekube import FakeCluster, FakeMaster

MASTER = "10.0.0.5"
NODE = "10.0.0.6"


class FakeRuntime:
    @hookimpl
    def sealkit_runtime_info(self) -> RuntimeInfo:
        return RuntimeInfo(name="fake")

    @hookimpl
    def sealkit_get_kubeconfig(self, ctx: ClusterContext) -> str:
        return "apiVersion: v1\nkind: Config\nusers: [{name: admin, user: {client-key-data: SECRETKEY}}]\n"


class ImagesRecorder:
    def __init__(self) -> None:
        self.synced: list[Path] = []
        self.deleted: list[list[str]] = []

    def sync(self, ctx: ClusterContext, rootfs: Path) -> str:
        self.synced.append(rootfs)
        return "synced"

    def delete(self, ctx: ClusterContext, names: list[str]) -> list[str]:
        self.deleted.append(sorted(names))
        return []


@pytest.fixture
def fake() -> FakeCluster:
    return FakeCluster()


@pytest.fixture
def images() -> ImagesRecorder:
    return ImagesRecorder()


@pytest.fixture
def make_ctx(tmp_path: Path, fake: FakeCluster) -> Callable[..., ClusterContext]:
    def factory(*extra: tuple[str, object], arch: str = "amd64", builtins: bool = True) -> ClusterContext:
        hosts = [Host(ip=MASTER, roles=["master"]), Host(ip=NODE, roles=["node"])]
        cluster = Cluster(name="test", hosts=hosts, images=["test/rootfs:v1.30.0"])
        pm = manager(("runtime:fake", FakeRuntime()), *extra, builtins=builtins)
        state = ClusterState("test", home=tmp_path / "home")
        state.ensure()
        ctx = ClusterContext(
            cluster=cluster,
            state=state,
            fleet=None,
            pm=pm,
            runtime=RuntimeInfo(name="fake"),  # type: ignore[arg-type]
            pki=PKIStore(state.pki_dir),
        )
        for i, h in enumerate(hosts):
            conn = FakeMaster(h.ip, fake)
            ctx.hosts[h.ip] = HostRef(spec=h, conn=conn, hostname=f"host-{i}", arch=arch)  # type: ignore[arg-type]
        return ctx

    return factory


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., ResolvedApp]:
    """``make_app(files={"sealkit-app.yaml": …, "charts/redis/Chart.yaml": …}, ref=…, digest=…)``."""

    def factory(
        files: dict[str, str],
        *,
        ref: str = "localhost/apps/redis:7.0",
        digest: str = "sha256:" + "1" * 64,
        env: dict[str, str] | None = None,
        cmd: tuple[str, ...] = (),
        arches: tuple[str, ...] = ("amd64",),
        images: tuple[str, ...] = ("docker.io/library/redis:7.0",),
        labels: dict[str, Any] | None = None,
    ) -> ResolvedApp:
        root = tmp_path / "images" / digest[7:19] / ref.replace("/", "_").replace(":", "_")
        for rel, text in files.items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(textwrap.dedent(text).lstrip())
        labels = {"sealkit.io/type": "app", **(labels or {})}
        spec = load_spec(root, image_ref=ref, labels=labels, cmd=cmd)
        return ResolvedApp(
            ref=ref,
            digest=digest,
            spec=spec,
            labels=labels,
            env=dict(env or {}),
            cmd=cmd,
            arches=arches,
            images=images,
            rootfs_for=lambda _arch, _root=root: _root,
        )

    return factory
