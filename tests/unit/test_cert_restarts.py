"""Which hosts ``cert renew`` / ``cert --alt-names`` restart: those whose cert files or runtime cert
config changed."""

from __future__ import annotations

from pathlib import Path

from sealkit.context import ClusterContext, HostRef, RuntimeInfo
from sealkit.engine.certs import _distribute_and_restart
from sealkit.hookspecs import hookimpl
from sealkit.testing.fixtures import make_context


class MintingRuntime:
    """Signs nothing through sealkit; mints its serving cert from a config that mentions the SANs."""

    def __init__(self) -> None:
        self.restarted: list[str] = []

    @hookimpl
    def sealkit_runtime_info(self) -> RuntimeInfo:
        return RuntimeInfo(name="minting")

    @hookimpl
    def sealkit_update_cert_config(self, ctx: ClusterContext, host: HostRef) -> bool:
        if not host.is_master:
            return False
        text = "sans: " + ",".join(ctx.cluster.certs.extra_sans)
        return host.conn.put(text.encode(), "/etc/minting.yaml", mode=0o600)

    @hookimpl
    def sealkit_restart_after_certs(self, ctx: ClusterContext, host: HostRef) -> None:
        self.restarted.append(host.ip)


def _ctx(tmp_path: Path, runtime: MintingRuntime) -> ClusterContext:
    return make_context(
        runtime,
        masters=["10.0.0.3", "10.0.0.2"],
        nodes=["10.0.0.1"],
        state_dir=tmp_path,
        runtime_name="minting",
    )


def test_changed_runtime_config_restarts_masters_in_order_and_only_them(tmp_path):
    rt = MintingRuntime()
    ctx = _ctx(tmp_path, rt)
    _distribute_and_restart(ctx)
    assert rt.restarted == ["10.0.0.2", "10.0.0.3"]
    assert ctx.hosts["10.0.0.1"].conn.files == {}


def test_unchanged_config_restarts_nothing_and_a_new_san_restarts_again(tmp_path):
    from dataclasses import replace

    rt = MintingRuntime()
    ctx = _ctx(tmp_path, rt)
    _distribute_and_restart(ctx)
    rt.restarted.clear()
    _distribute_and_restart(ctx)
    assert rt.restarted == []
    ctx.cluster = replace(ctx.cluster, certs=replace(ctx.cluster.certs, extra_sans=["new.example"]))
    _distribute_and_restart(ctx)
    assert rt.restarted == ["10.0.0.2", "10.0.0.3"]
    assert ctx.hosts["10.0.0.2"].conn.files["/etc/minting.yaml"][0] == b"sans: new.example"
