"""``sealkit check`` for k0s: run by sealkit over pytest-testinfra against every host of the cluster."""

from __future__ import annotations

import shlex

import yaml

from sealkit.api import Endpoint

K0S = "/usr/local/bin/k0s"
PKI = "/var/lib/k0s/pki"


def test_service_running(host, sealkit_host):
    unit = "k0scontroller" if sealkit_host.is_master else "k0sworker"
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
    ca = host.file(f"{PKI}/ca.crt")
    assert ca.exists, "the cluster CA is missing: k0s made its own?"
    assert ca.content.strip() == sealkit_ctx.pki.get_ca("ca").cert_pem.strip(), (
        "k0s uses a CA that is not the cluster's: certificates sealkit signs will not verify"
    )
    key = host.file(f"{PKI}/ca.key")
    assert key.mode & 0o077 == 0, "CA key readable by group/others"


def test_leaves_are_long_lived(host, sealkit_host, sealkit_ctx):
    if not sealkit_host.is_master:
        return
    cfg = yaml.safe_load(host.file("/etc/k0s/k0s.yaml").content_string)
    want = f"{sealkit_ctx.cluster.certs.validity_days * 24}h"
    assert cfg["spec"]["api"]["ca"]["certificatesExpireAfter"] == want
    assert cfg["spec"]["storage"]["etcd"]["ca"]["certificatesExpireAfter"] == want


def test_etcd_member(host, sealkit_host, sealkit_ctx):
    if not sealkit_host.is_master:
        return
    out = sealkit_ctx.first_master.conn.run(f"{K0S} etcd member-list", check=False)
    assert out.rc == 0, f"k0s etcd member-list failed: {out.stderr.strip()}"
    assert Endpoint(sealkit_host.ip, 2380).url() in out.stdout, f"{sealkit_host.ip} is not in etcd"


def test_node_registered(host, sealkit_host, sealkit_ctx):
    master = sealkit_ctx.first_master
    out = master.conn.run(f"{K0S} kubectl get node {shlex.quote(sealkit_host.name)} -o name", check=False)
    assert out.rc == 0, f"node {sealkit_host.name} not in the cluster: {out.stderr.strip()}"
