"""Each runtime's ``sealkit_host_expectations``: pure (no command reaches a host), the units each role
runs, and — for k3s, whose join runs on recording connections — digests equal to what the join wrote,
so a re-run right after an install finds no drift."""

from __future__ import annotations

import hashlib

import pytest
from sealkit_binary.plugin import Runtime as Binary
from sealkit_k0s.plugin import Runtime as K0s
from sealkit_k3s import plugin as k3s
from sealkit_k3s import verify_impl
from sealkit_kubeadm.plugin import Runtime as Kubeadm

from sealkit.engine import ops, verify
from sealkit.registry.service import registry_info
from sealkit.testing.fixtures import make_context

K3s = k3s.Runtime  # its expectations are the verify_impl mixin
assert issubclass(K3s, verify_impl.Expectations)


RUNTIMES = {
    "kubeadm": (
        Kubeadm,
        {"containerd.service", "kubelet.service"},
        {"containerd.service", "kubelet.service"},
    ),
    "k0s": (K0s, {"k0scontroller.service"}, {"k0sworker.service"}),
    "binary": (
        Binary,
        {
            "containerd.service",
            "kube-etcd.service",
            "kube-apiserver.service",
            "kube-controller-manager.service",
            "kube-scheduler.service",
            "kubelet.service",
            "kube-proxy.service",
        },
        {"containerd.service", "kubelet.service", "kube-proxy.service"},
    ),
    "k3s": (K3s, {"k3s.service"}, {"k3s-agent.service"}),
}


def _context(cls, name, tmp_path):
    """Two hosts, with the runtime's CAs in the cluster's PKI (as the certs phase leaves them)."""
    ctx = make_context(cls(), masters=["10.0.0.1"], nodes=["10.0.0.2"], state_dir=tmp_path, runtime_name=name)
    ctx.pki.render(ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=ctx.first_master))
    return ctx


def _expect(ctx, ip):
    return verify.expectations(ctx, ctx.hosts[ip], registry=registry_info(ctx), backends=ops.lb_backends(ctx))


@pytest.mark.parametrize("name", RUNTIMES)
def test_expectations_are_pure_and_name_each_roles_units(name, tmp_path):
    cls, master_units, node_units = RUNTIMES[name]
    ctx = _context(cls, name, tmp_path)
    master, node = _expect(ctx, "10.0.0.1"), _expect(ctx, "10.0.0.2")
    assert master_units <= set(master.units), master.units
    assert node_units <= set(node.units) and not (set(node.units) & (master_units - node_units)), node.units
    for ip in ctx.hosts:
        assert ctx.hosts[ip].conn.commands == [] and ctx.hosts[ip].conn.files == {}
    assert all(f.path.startswith("/") for f in (*master.files, *node.files))


def test_k3s_digests_recorded_at_join_are_those_of_the_files_the_join_wrote(tmp_path):
    ctx = _context(K3s, "k3s", tmp_path)
    rt = K3s()
    for ip in ctx.hosts:
        rt.sealkit_prepare_host(ctx=ctx, host=ctx.hosts[ip])
    rt.sealkit_init_cluster(ctx=ctx, host=ctx.hosts["10.0.0.1"])
    rt.sealkit_join_node(ctx=ctx, host=ctx.hosts["10.0.0.2"])
    for ip in ctx.hosts:
        written = ctx.hosts[ip].conn.files
        declared = {f.path for f in k3s_own(ctx, ip)}
        recorded = verify.recorded(_expect(ctx, ip))
        assert declared and declared <= set(written)
        for path in declared:
            assert recorded[path] == hashlib.sha256(written[path][0]).hexdigest(), path


def k3s_own(ctx, ip):
    return verify_impl.expectations(ctx, ctx.hosts[ip]).files
