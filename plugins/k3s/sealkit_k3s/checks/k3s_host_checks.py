"""``sealkit check`` for k3s: run by sealkit over pytest-testinfra against every host of the cluster."""

from __future__ import annotations

import shlex


def test_service_running(host, sealkit_host):
    unit = "k3s" if sealkit_host.is_master else "k3s-agent"
    svc = host.service(unit)
    assert svc.is_enabled, f"{unit} is not enabled: it would not come back after a reboot"
    assert svc.is_running, f"{unit} is not running"


def test_apiserver_listening(host, sealkit_host):
    if not sealkit_host.is_master:
        return
    assert host.socket("tcp://0.0.0.0:6443").is_listening or host.socket("tcp://:::6443").is_listening


def test_custom_ca_in_place(host, sealkit_host, sealkit_ctx):
    if not sealkit_host.is_master:
        return
    ca = host.file("/var/lib/rancher/k3s/server/tls/server-ca.crt")
    assert ca.exists
    assert ca.content.strip() == sealkit_ctx.pki.get_ca("server-ca").cert_pem.strip()
    key = host.file("/var/lib/rancher/k3s/server/tls/server-ca.key")
    assert key.mode & 0o077 == 0, "CA key readable by group/others"


def test_node_registered(host, sealkit_host, sealkit_ctx):
    master = sealkit_ctx.first_master
    out = master.conn.run(
        f"/usr/local/bin/k3s kubectl get node {shlex.quote(sealkit_host.name)} -o name", check=False
    )
    assert out.rc == 0, f"node {sealkit_host.name} not in the cluster: {out.stderr.strip()}"
