"""The control-plane certificates every kubeadm-style Kubernetes needs, in kubeadm's
``/etc/kubernetes/pki`` layout: kube-apiserver (serving, kubelet client, etcd client, front-proxy
client) and stacked etcd (server, peer, healthcheck client).

Names, subjects and usages follow kubeadm's certlist (v1.29+) and "PKI certificates and requirements", so a
runtime that runs these components itself (``binary``) and one that lets kubeadm run them (``kubeadm``)
place the same files, and a third-party runtime of the same family can reuse them.
"""

from __future__ import annotations

from sealkit.pki.model import CertSpec, LayoutInput
from sealkit.pki.sans import cluster_sans, host_sans

PKI = "/etc/kubernetes/pki"
SERVER = frozenset({"server"})
CLIENT = frozenset({"client"})
PEER = frozenset({"server", "client"})


def control_plane_certs(
    ctx: LayoutInput, *, kubelet_client_group: str, pki: str = PKI
) -> tuple[CertSpec, ...]:
    """The seven leaves of one master. ``kubelet_client_group`` is the organization of
    apiserver-kubelet-client (``kubeadm:cluster-admins`` for kubeadm >= 1.29, else
    ``system:masters``)."""
    api_dns, api_ips = cluster_sans(
        [ctx.host_ip],
        [ctx.host_name, ctx.node],
        ctx.endpoint_host,
        ctx.service_cidr,
        ctx.dns_domain,
        ctx.extra_sans,
    )
    etcd_dns, etcd_ips = host_sans(ctx.host_ip, [ctx.node, ctx.host_name])
    return (
        CertSpec(
            ctx.scoped("apiserver"),
            "ca",
            "kube-apiserver",
            f"{pki}/apiserver.crt",
            f"{pki}/apiserver.key",
            dns_names=api_dns,
            ip_addresses=api_ips,
            usages=SERVER,
        ),
        CertSpec(
            ctx.scoped("apiserver-kubelet-client"),
            "ca",
            "kube-apiserver-kubelet-client",
            f"{pki}/apiserver-kubelet-client.crt",
            f"{pki}/apiserver-kubelet-client.key",
            organizations=(kubelet_client_group,),
            usages=CLIENT,
        ),
        CertSpec(
            ctx.scoped("front-proxy-client"),
            "front-proxy-ca",
            "front-proxy-client",
            f"{pki}/front-proxy-client.crt",
            f"{pki}/front-proxy-client.key",
            usages=CLIENT,
        ),
        CertSpec(
            ctx.scoped("apiserver-etcd-client"),
            "etcd-ca",
            "kube-apiserver-etcd-client",
            f"{pki}/apiserver-etcd-client.crt",
            f"{pki}/apiserver-etcd-client.key",
            usages=CLIENT,
        ),
        CertSpec(
            ctx.scoped("etcd-server"),
            "etcd-ca",
            ctx.node,
            f"{pki}/etcd/server.crt",
            f"{pki}/etcd/server.key",
            dns_names=etcd_dns,
            ip_addresses=etcd_ips,
            usages=PEER,
        ),
        CertSpec(
            ctx.scoped("etcd-peer"),
            "etcd-ca",
            ctx.node,
            f"{pki}/etcd/peer.crt",
            f"{pki}/etcd/peer.key",
            dns_names=etcd_dns,
            ip_addresses=etcd_ips,
            usages=PEER,
        ),
        CertSpec(
            ctx.scoped("etcd-healthcheck-client"),
            "etcd-ca",
            "kube-etcd-healthcheck-client",
            f"{pki}/etcd/healthcheck-client.crt",
            f"{pki}/etcd/healthcheck-client.key",
            usages=CLIENT,
        ),
    )
