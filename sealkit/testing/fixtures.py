"""pytest fixtures for sealkit and its plugins (auto-loaded via the ``pytest11`` entry point)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sealkit.context import ClusterContext, HostRef
from sealkit.testing.recording import RecordingConnection, RecordingFleet


@pytest.fixture
def sealkit_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``SEALKIT_HOME`` for the test: state and image store never touch the user's."""
    home = tmp_path / "sealkit-home"
    home.mkdir()
    monkeypatch.setenv("SEALKIT_HOME", str(home))
    return home


@pytest.fixture
def recording_host() -> Callable[..., RecordingConnection]:
    """Factory: ``recording_host("10.0.0.1")`` → a connection that records commands and files."""
    return lambda address="10.0.0.1", user="root": RecordingConnection(address, user=user)


def make_context(
    runtime_plugin: object,
    *,
    masters: list[str],
    nodes: list[str] | None = None,
    state_dir: Path,
    runtime_name: str = "test",
    extra_plugins: tuple = (),
) -> ClusterContext:
    """A ClusterContext over recording connections: for testing a plugin's hooks without machines."""
    from sealkit import plugins
    from sealkit.cluster import Cluster, Host
    from sealkit.pki.store import PKIStore
    from sealkit.state import ClusterState

    hosts = [Host(ip=ip, roles=["master"]) for ip in masters]
    hosts += [Host(ip=ip, roles=["node"]) for ip in nodes or []]
    cluster = Cluster(name="test", hosts=hosts, images=["test/rootfs:v1.30.0"], runtime=runtime_name)
    pm = plugins.build_manager(
        None,
        extra=[(f"runtime:{runtime_name}", runtime_plugin), *extra_plugins],
        load_entry_points=False,
    )
    state = ClusterState("test", home=state_dir)
    state.dir.mkdir(parents=True, exist_ok=True)
    fleet = RecordingFleet()
    ctx = ClusterContext(
        cluster=cluster,
        state=state,
        fleet=fleet,
        pm=pm,  # type: ignore[arg-type]
        runtime=pm.hook.sealkit_runtime_info(),
        pki=PKIStore(state.pki_dir),
        image_ref="test/rootfs:v1.30.0",
        image_labels={"sealkit.io/version": "v1.30.0"},
        image_version="v1.30.0",
    )
    for i, h in enumerate(hosts):
        ctx.hosts[h.ip] = HostRef(
            spec=h,
            conn=fleet.conn(h.ip),  # type: ignore[arg-type]
            hostname=f"host-{i}",
            arch="amd64",
        )
    return ctx


@pytest.fixture
def plugin_context(tmp_path: Path) -> Callable[..., ClusterContext]:
    """Factory: ``plugin_context(MyRuntime(), masters=[...], nodes=[...])`` → ClusterContext."""

    def factory(
        runtime_plugin: object,
        *,
        masters: list[str] | None = None,
        nodes: list[str] | None = None,
        runtime_name: str = "test",
    ) -> ClusterContext:
        return make_context(
            runtime_plugin,
            masters=masters or ["10.0.0.1"],
            nodes=nodes,
            state_dir=tmp_path / "state",
            runtime_name=runtime_name,
        )

    return factory
