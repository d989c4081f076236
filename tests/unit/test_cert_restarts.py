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


class RotatingRuntime(MintingRuntime):
    """Mints leaves on masters; renews them itself (stop, remove, start)."""

    def __init__(self) -> None:
        super().__init__()
        self.renewed: list[str] = []

    @hookimpl
    def sealkit_cert_specs(self, ctx: ClusterContext, host: HostRef):
        from sealkit.pki.model import Layout

        return Layout(minted=("/pki/server.crt",)) if host.is_master else None

    @hookimpl
    def sealkit_renew_minted_certs(self, ctx: ClusterContext, host: HostRef) -> bool:
        self.renewed.append(host.ip)
        return True


def test_renew_lets_the_runtime_renew_its_minted_leaves_instead_of_a_plain_restart(tmp_path):
    rt = RotatingRuntime()
    ctx = _ctx(tmp_path, rt)
    renewed = _distribute_and_restart(ctx, renew_minted=True)
    assert rt.renewed == ["10.0.0.2", "10.0.0.3"]  # masters, in order, one at a time
    assert rt.restarted == []  # renewing restarted them already
    assert renewed == {"10.0.0.2": ["/pki/server.crt"], "10.0.0.3": ["/pki/server.crt"]}


def test_alt_names_do_not_renew_minted_leaves(tmp_path):
    rt = RotatingRuntime()
    ctx = _ctx(tmp_path, rt)
    assert _distribute_and_restart(ctx) == {}
    assert rt.renewed == [] and rt.restarted == ["10.0.0.2", "10.0.0.3"]
