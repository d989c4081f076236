"""Which hosts ``cert renew`` / ``cert --alt-names`` restart: those whose cert files or runtime cert
config changed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sealkit.context import ClusterContext, HostRef, RuntimeInfo
from sealkit.engine.certs import _distribute_and_restart
from sealkit.hookspecs import hookimpl
from sealkit.testing.fixtures import make_context
from tests.lab_ha import tls


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


def _short_lived_pem(days: int) -> str:
    return tls.self_signed("k3s", valid_for=dt.timedelta(days=days, hours=1)).cert_pem.decode()


def test_status_counts_the_leaves_the_runtime_minted(tmp_path):
    from sealkit.engine.certs import min_days_left

    ctx = _ctx(tmp_path, RotatingRuntime())
    master = ctx.hosts["10.0.0.2"]
    pems = _short_lived_pem(365) + _short_lived_pem(36500)  # k3s files may hold the chain
    master.conn.answer(r"^if \[ -r /pki/server.crt \]", 0, "@@sealkit-file /pki/server.crt\n" + pems)
    assert min_days_left(ctx, "10.0.0.2") == 365  # a one-year leaf does not hide behind long-lived ones
    ctx.hosts["10.0.0.3"].conn.answer(r"^if", 0, "@@sealkit-missing /pki/server.crt\n")  # not minted yet
    assert min_days_left(ctx, "10.0.0.3") is None
    assert min_days_left(ctx, "10.0.0.1") is None  # nothing issued, nothing minted


class _LocalShell:
    """Runs commands in a local shell: the script `cert check` sends is real shell, so it is run as one."""

    def run(self, cmd: str, **_: object):
        import subprocess
        from types import SimpleNamespace

        proc = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, check=True)
        return SimpleNamespace(stdout=proc.stdout, rc=proc.returncode)


def test_cert_check_reads_every_file_of_a_host_in_one_round_trip(tmp_path):
    from types import SimpleNamespace

    from sealkit.engine.certs import _read_files, _row

    pem = _short_lived_pem(400)
    (tmp_path / "with space.crt").write_text(pem.rstrip("\n"))  # no trailing newline
    (tmp_path / "b.crt").write_text(pem)
    host = SimpleNamespace(ip="10.0.0.9", conn=_LocalShell())
    paths = [str(tmp_path / "b.crt"), str(tmp_path / "missing.crt"), str(tmp_path / "with space.crt")]
    found = dict(_read_files(host, [*paths, paths[0]]))
    assert sorted(found) == sorted(paths)
    assert found[str(tmp_path / "missing.crt")] is None
    rows = {p: _row(host.ip, p, content) for p, content in found.items()}
    assert rows[str(tmp_path / "missing.crt")]["subject"] == "MISSING"
    assert rows[str(tmp_path / "with space.crt")]["days_left"] == 400
    assert rows[str(tmp_path / "b.crt")]["days_left"] == 400


def test_cert_check_reports_the_certificate_the_apiserver_serves(tmp_path):
    import socket
    import ssl
    import threading

    from sealkit.context import Endpoint
    from sealkit.engine.certs import served_row

    pair = tls.self_signed("k3s-listener", valid_for=dt.timedelta(days=365, hours=1), dns=("new.example",))
    (tmp_path / "tls.crt").write_bytes(pair.cert_pem)
    (tmp_path / "tls.key").write_bytes(pair.key_pem)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve_one() -> None:
        conn, _ = listener.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass  # the client hangs up once it has the certificate

    thread = threading.Thread(target=serve_one, daemon=True)
    thread.start()
    row = served_row(Endpoint("127.0.0.1", port))
    thread.join(timeout=10)
    listener.close()
    assert row["file"] == f"https://127.0.0.1:{port} (served)"
    assert row["subject"] == "CN=k3s-listener" and row["days_left"] == 365 and row["sans"] == ["new.example"]

    closed = served_row(Endpoint("127.0.0.1", port), timeout=1)  # nothing listens any more
    assert closed["days_left"] is None and "NOT REACHABLE" in closed["subject"]


class CARuntime(MintingRuntime):
    """Places one CA on masters, as kubeadm places its cluster CA."""

    @hookimpl
    def sealkit_cert_specs(self, ctx: ClusterContext, host: HostRef):
        from sealkit.pki.model import CASpec, Layout

        return (
            Layout(cas=(CASpec("ca", "test-ca", "/pki/ca.crt", "/pki/ca.key"),)) if host.is_master else None
        )


def test_a_host_with_a_foreign_ca_is_refused_before_any_file_is_written(tmp_path):
    import pytest

    from sealkit.engine.certs import install_host_certs
    from sealkit.pki.check import CAMismatch

    ctx = _ctx(tmp_path, CARuntime())
    ours, foreign = ctx.hosts["10.0.0.2"], ctx.hosts["10.0.0.3"]
    ctx.pki.render(ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=ours))  # the controller's CA exists
    own_ca = ctx.pki.get_ca("ca").cert_pem.decode()
    ours.conn.answer(r"^if \[ -r /pki/ca.crt \]", 0, "@@sealkit-file /pki/ca.crt\n" + own_ca)
    foreign.conn.answer(
        r"^if \[ -r /pki/ca.crt \]", 0, "@@sealkit-file /pki/ca.crt\n" + _short_lived_pem(3650)
    )
    install_host_certs(ctx, ours.ip)
    assert "/pki/ca.crt" in ours.conn.files
    with pytest.raises(CAMismatch):
        install_host_certs(ctx, foreign.ip)
    assert foreign.conn.files == {}
