"""The embedded registry as available as the control plane (issue 18 item 1): one registry per master,
images synced to each, every host told about all of them, a dead master tolerated; and "it is OURS that
answers" before anything is pushed (issue 12 item 2)."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from types import SimpleNamespace

import pytest

from sealkit.cluster import Cluster, Host
from sealkit.context import ClusterContext, HostRef, RuntimeInfo
from sealkit.errors import ConnectError, StepFailed
from sealkit.pki.store import PKIStore
from sealkit.registry import service, sync
from sealkit.registry.plugin import RegistryPlugin
from sealkit.state import ClusterState
from tests.lab_registry.local_registry import free_port, local_registry, registry_binary
from tests.lab_registry.oci_fixture import BUSYBOX, busybox_image
from tests.unit.test_registry import FakeConn

M1, M2, M3, W1 = "10.213.0.11", "10.213.0.12", "10.213.0.13", "10.213.0.21"


def _ctx(tmp_path, masters=(M1, M2, M3), nodes=(W1,), down=()):
    hosts = [
        *(Host(ip=ip, roles=["master"]) for ip in masters),
        *(Host(ip=ip, roles=["node"]) for ip in nodes),
    ]
    ctx = ClusterContext(
        cluster=Cluster(name="t", hosts=hosts),
        state=ClusterState("t", home=tmp_path / "home"),
        fleet=None,
        pm=None,
        runtime=RuntimeInfo("test"),
        pki=PKIStore(tmp_path / "home" / "pki"),
    )
    for h in hosts:
        if h.ip not in down:
            ctx.hosts[h.ip] = HostRef(spec=h, conn=FakeConn({"/etc/hosts": b"127.0.0.1 localhost\n"}))
    return ctx


def _hosts_block(conn: FakeConn) -> list[str]:
    text = conn.files["/etc/hosts"].decode()
    return text.split("# sealkit begin\n")[1].split("# sealkit end")[0].splitlines()


# ------------------------------------------------------------------------------- which hosts
def test_every_master_runs_the_registry_and_hosts_learn_all_of_them(tmp_path):
    ctx = _ctx(tmp_path)
    assert service.registry_hosts(ctx) == [M1, M2, M3]
    info = service.registry_info(ctx)
    assert info.hosts == (M1, M2, M3)
    assert service.push_registry_info(ctx).hosts == (M1, M2, M3)


def test_hosts_being_removed_are_no_registry(tmp_path):
    ctx = _ctx(tmp_path)
    ctx.cluster.hosts[0].labels[service.REMOVING_LABEL] = "true"  # the engine's mark (host may be down)
    ctx.hosts[M2].facts["removed"] = True  # the drain's mark
    assert service.registry_hosts(ctx) == [M3]


def test_prepare_deploys_on_every_master_and_names_all_in_etc_hosts(tmp_path):
    ctx = _ctx(tmp_path)
    plugin = RegistryPlugin(binary="/usr/bin/docker-registry")
    for ip in (M1, M2, M3, W1):
        plugin.sealkit_prepare_host(ctx=ctx, host=ctx.hosts[ip])
    for ip in (M1, M2, M3):
        assert (
            service.UNIT_PATH in ctx.hosts[ip].conn.files
            and service.PUSH_UNIT_PATH in ctx.hosts[ip].conn.files
        )
        # each registry's certificate names its own IP: the mirror endpoints are per IP
        cert = ctx.hosts[ip].conn.files[service.CERT_PATH]
        from cryptography import x509

        sans = x509.load_pem_x509_certificate(cert).extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
        assert ip in {str(a) for a in sans.value.get_values_for_type(x509.IPAddress)}
    assert service.UNIT_PATH not in ctx.hosts[W1].conn.files
    # a registry host names itself first; a worker lists every master in order
    assert _hosts_block(ctx.hosts[M2].conn) == [f"{M2} sealkit.hub", f"{M1} sealkit.hub", f"{M3} sealkit.hub"]
    assert _hosts_block(ctx.hosts[W1].conn) == [f"{ip} sealkit.hub" for ip in (M1, M2, M3)]


# ----------------------------------------------------------------------- sync, several registries
needs_registry = pytest.mark.skipif(
    registry_binary() is None or not BUSYBOX.exists(),
    reason="needs Debian's docker-registry and busybox-static",
)


def _free_on(ips: tuple[str, ...]) -> int:
    for _ in range(50):
        port = free_port()
        try:
            with contextlib.ExitStack() as stack:
                for ip in ips:
                    s = stack.enter_context(socket.socket())
                    s.bind((ip, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no port free on every loopback address")


@contextlib.contextmanager
def _registries(tmp_path, ips):
    """One cluster's registries on several loopback addresses (same port, CA and account)."""
    port, pki, creds = _free_on(ips), PKIStore(tmp_path / "pki"), service.Credentials.generate()
    with contextlib.ExitStack() as stack:
        regs = [
            stack.enter_context(
                local_registry(tmp_path / ip, registry_binary(), ip=ip, port=port, pki=pki, creds=creds)
            )
            for ip in ips
        ]
        info = regs[0].info
        yield regs, type(info)(info.domain, port, tuple(ips), info.username, info.password, info.ca_pem)


@needs_registry
def test_images_go_to_every_registry_once(tmp_path):
    oci = tmp_path / "oci"
    busybox_image(oci, "docker.io/library/busybox:1.36")
    with _registries(tmp_path, ("127.0.0.2", "127.0.0.3")) as (_regs, info):
        first = sync.sync_to_hosts(oci, info)
        assert set(first.synced) == {"127.0.0.2", "127.0.0.3"} and not first.failed
        assert all(r.blobs_pushed > 0 for r in first.synced.values())
        again = sync.sync_to_hosts(oci, info)
        # content-addressed: nothing is sent to a registry that has it
        assert all(r.blobs_pushed == 0 and r.images_skipped for r in again.synced.values())


@needs_registry
def test_a_registry_that_does_not_answer_is_named_and_the_others_still_synced(tmp_path, monkeypatch):
    oci = tmp_path / "oci"
    busybox_image(oci, "docker.io/library/busybox:1.36")
    wait = sync.wait_listening
    monkeypatch.setattr(sync, "wait_listening", lambda address, timeout=30.0: wait(address, timeout=0.5))
    with _registries(tmp_path, ("127.0.0.2",)) as (_regs, info):
        both = type(info)(
            info.domain, info.port, ("127.0.0.4", "127.0.0.2"), info.username, info.password, info.ca_pem
        )
        result = sync.sync_to_hosts(oci, both)
        assert list(result.synced) == ["127.0.0.2"]
        assert "does not accept connections" in str(result.failed["127.0.0.4"])
        assert "NOT synced" in result.summary()
        # the plugin turns it into a step failure naming the host (the engine hands it only hosts that are up)
        ctx = SimpleNamespace(log=logging.getLogger("t"), local_rootfs=None)
        with pytest.raises(StepFailed, match=r"127\.0\.0\.4") as err:
            RegistryPlugin(images_dir=oci).sealkit_sync_images(ctx=ctx, registry=both)
        assert err.value.step == "registry-sync"


# ------------------------------------------------------------------------ is it ours that answers?
def _serve_once(handler) -> tuple[int, threading.Thread]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    def run():
        with srv:
            conn, _ = srv.accept()
            with conn:
                handler(conn)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return port, t


def test_a_plain_http_service_on_the_port_is_refused_before_any_push(tmp_path):
    ca = PKIStore(tmp_path / "pki").ensure_ca(service.ca_spec())
    port, t = _serve_once(
        lambda c: (c.recv(1024), c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    )
    with pytest.raises(StepFailed, match="is not sealkit's registry") as err:
        sync.verify_ours(f"127.0.0.1:{port}", ca.cert_pem)
    t.join(5)
    assert "--insecure" not in str(err.value)  # no hint for a flag `run` does not have
    assert "spec.registry.port" in err.value.hint


@needs_registry
def test_a_tls_registry_of_someone_else_is_refused(tmp_path):
    ours = PKIStore(tmp_path / "ours").ensure_ca(service.ca_spec())
    with local_registry(tmp_path / "foreign", registry_binary()) as foreign:  # its own CA
        with pytest.raises(StepFailed, match="certificate is not one this cluster's CA issued"):
            sync.verify_ours(foreign.address, ours.cert_pem)
        sync.verify_ours(foreign.address, foreign.info.ca_pem)  # and its own CA accepts it


def test_nothing_listening_is_a_connect_error(tmp_path):
    ca = PKIStore(tmp_path / "pki").ensure_ca(service.ca_spec())
    with pytest.raises(ConnectError, match="does not answer"):
        sync.verify_ours(f"127.0.0.1:{free_port()}", ca.cert_pem, timeout=1)


def test_sync_summary_is_one_short_line_for_people():
    from sealkit.errors import ConnectError
    from sealkit.registry.sync import HostsSync, SyncReport

    same = SyncReport(images=["a:1"], blobs_pushed=3, bytes_pushed=3 * 1024 * 1024, manifests_pushed=1)
    both = HostsSync(synced={"10.0.0.1": same, "10.0.0.2": same})
    assert (
        both.summary()
        == "images synced to the registry on 10.0.0.1, 10.0.0.2 (1 image in place, 3.0 MiB sent)"
    )
    assert "3 blob(s) pushed (3.0 MiB)" in both.detail()  # the counts stay for -v
    other = SyncReport(images=["a:1", "b:1"])
    mixed = HostsSync(synced={"10.0.0.1": same, "10.0.0.2": other}, failed={"10.0.0.3": ConnectError("down")})
    assert mixed.summary() == (
        "10.0.0.1: 1 image in place, 3.0 MiB sent; 10.0.0.2: 2 images in place, 0 B sent; "
        "10.0.0.3: NOT synced (down)"
    )
