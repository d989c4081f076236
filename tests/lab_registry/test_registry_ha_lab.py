"""Issue 18 item 1 on real hosts: a registry on every master, each holding the images, and a real containerd
whose mirror config lists every master still pulls (and runs) the image after the FIRST master is powered off.

Three systemd lab hosts: two masters (each runs sealkit's two registry units, Debian's Distribution registry
standing in for the image's ``bin/registry``) and a worker with containerd + runc.
"""

from __future__ import annotations

import os
import secrets

import pytest

from sealkit.cluster import Cluster, Host
from sealkit.context import ClusterContext, HostRef, RuntimeInfo
from sealkit.pki.store import PKIStore
from sealkit.registry import service, sync
from sealkit.registry.plugin import RegistryPlugin
from sealkit.state import ClusterState
from tests.lab_registry.local_registry import registry_binary
from tests.lab_registry.oci_fixture import busybox_image
from tests.lab_registry.test_registry_lab import (
    CTR,
    IMAGE,
    PTY_HELPER,
    PTY_SCRIPT,
    _conn,
    _ctr_pull,
    _sh,
    _start_containerd,
    needs_tools,
)

pytestmark = pytest.mark.lab


@needs_tools
def test_a_worker_pulls_from_the_second_master_when_the_first_is_down(tmp_path):
    from tests.lab import Lab
    from tests.lab.core import SYSTEMD

    if not SYSTEMD.exists():
        pytest.skip("systemd hosts need /lib/systemd/systemd")
    lab = Lab.up(3, systemd=True, name=f"regha-{os.getpid()}-{secrets.token_hex(2)}")
    conns = []
    try:
        m1, m2, w = lab.hosts
        hosts = [
            Host(ip=m1.ip, roles=["master"]),
            Host(ip=m2.ip, roles=["master"]),
            Host(ip=w.ip, roles=["node"]),
        ]
        state = ClusterState("regha", home=tmp_path / "home")
        state.ensure()
        ctx = ClusterContext(
            cluster=Cluster(name="regha", hosts=hosts),
            state=state,
            fleet=None,  # type: ignore[arg-type]
            pm=None,  # type: ignore[arg-type]
            runtime=RuntimeInfo("lab"),
            pki=PKIStore(state.pki_dir),
        )
        for spec, lh in zip(hosts, (m1, m2, w), strict=True):
            conns.append(_conn(lh, state.known_hosts))
            ctx.hosts[spec.ip] = HostRef(spec=spec, conn=conns[-1])
        oci = tmp_path / "oci"
        entry = busybox_image(oci, IMAGE, marker="served by the second master")
        plugin = RegistryPlugin(binary=registry_binary(), images_dir=oci)
        for h in ctx.hosts.values():
            plugin.sealkit_prepare_host(ctx=ctx, host=h)
        info, push = service.registry_info(ctx), service.push_registry_info(ctx)
        assert info.hosts == (m1.ip, m2.ip)
        plugin.sealkit_sync_images(ctx=ctx, registry=push)  # to EACH master's own storage
        again = sync.sync_to_hosts(oci, push)
        assert set(again.synced) == {m1.ip, m2.ip} and not again.failed
        assert all(r.blobs_pushed == 0 for r in again.synced.values())  # each already has every blob

        worker = ctx.hosts[w.ip]
        names = _sh(worker, "getent ahostsv4 sealkit.hub | awk '{print $1}' | uniq").stdout.split()
        assert names == [m1.ip, m2.ip]  # the stable name resolves to every master, in order
        _start_containerd(worker, info)
        worker.conn.put(PTY_SCRIPT, PTY_HELPER, mode=0o700)

        lab.stop_host(m1)  # power off the first master: its registry is gone with it
        pulled = _ctr_pull(worker, info, "/etc/containerd/certs.d")
        assert pulled.rc == 0, pulled.stdout[-2000:] + pulled.stderr[-2000:]
        assert entry["digest"] in _sh(worker, f"{CTR} images ls").stdout
        ran = _sh(worker, f"{CTR} run --rm {IMAGE} sealkit-ha-t1", timeout=120)
        assert ran.rc == 0, ran.stderr
        assert ran.stdout.strip() == "served by the second master"
    finally:
        for c in conns:
            c.close()
        lab.down()
