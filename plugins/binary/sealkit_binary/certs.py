"""Certificate layout of the ``binary`` runtime: sealkit generates every cert and kubeconfig.

Paths follow kubeadm's conventions (``/etc/kubernetes/pki``, ``/etc/kubernetes/*.conf``) so
operators find things where they expect them; subjects follow "PKI certificates and requirements".
Without kubeadm there is no ``kubeadm:cluster-admins`` binding, so admin and
apiserver-kubelet-client use ``system:masters`` (the documented group).

Only masters receive ``ca.key`` (kube-controller-manager signs CSRs with it); the etcd and
front-proxy CA keys never leave the controller, since every certificate they sign is issued here.
The kubelet client certificate is embedded in ``kubelet.conf`` for 100 years: the binary runtime
should run the kubelet without client-certificate rotation (or with kube-controller-manager's
``--cluster-signing-duration`` at the same lifetime) so it does not fall back to 1-year
certificates.
"""

from __future__ import annotations

from sealkit.api import (
    SERVER,
    CASpec,
    CertSpec,
    KeyPairSpec,
    KubeconfigSpec,
    Layout,
    LayoutInput,
    host_sans,
    kubernetes,
)

PKI = "/etc/kubernetes/pki"
CONF = "/etc/kubernetes"

CA = CASpec("ca", "kubernetes", f"{PKI}/ca.crt", f"{PKI}/ca.key")
CA_CERT_ONLY = CASpec("ca", "kubernetes", f"{PKI}/ca.crt")
FRONT_PROXY_CA = CASpec("front-proxy-ca", "front-proxy-ca", f"{PKI}/front-proxy-ca.crt")
ETCD_CA = CASpec("etcd-ca", "etcd-ca", f"{PKI}/etcd/ca.crt")
SA = KeyPairSpec("sa", f"{PKI}/sa.key", f"{PKI}/sa.pub")

MASTERS = "system:masters"
NODES = "system:nodes"


def node_layout(ctx: LayoutInput) -> Layout:
    """What every host runs: kubelet (client + serving identity) and kube-proxy."""
    kubelet_dns, kubelet_ips = host_sans(ctx.host_ip, [ctx.node, ctx.host_name], loopback=False)
    certs = (
        CertSpec(
            ctx.scoped("kubelet-serving"),
            "ca",
            f"system:node:{ctx.node}",
            f"{PKI}/kubelet.crt",
            f"{PKI}/kubelet.key",
            organizations=(NODES,),
            dns_names=kubelet_dns,
            ip_addresses=kubelet_ips,
            usages=SERVER,
        ),
    )
    kubeconfigs = (
        KubeconfigSpec(
            ctx.scoped("kubelet"),
            f"{CONF}/kubelet.conf",
            ctx.endpoint_url,
            f"system:node:{ctx.node}",
            (NODES,),
        ),
        KubeconfigSpec(
            ctx.scoped("kube-proxy"),
            f"{CONF}/kube-proxy.conf",
            ctx.endpoint_url,
            "system:kube-proxy",
        ),
    )
    return Layout(cas=(CA if ctx.is_master else CA_CERT_ONLY,), certs=certs, kubeconfigs=kubeconfigs)


def master_layout(ctx: LayoutInput) -> Layout:
    """The control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, admin."""
    certs = kubernetes.control_plane_certs(ctx, kubelet_client_group=MASTERS, pki=PKI)
    kubeconfigs = (
        KubeconfigSpec("admin", f"{CONF}/admin.conf", ctx.endpoint_url, "kubernetes-admin", (MASTERS,)),
        KubeconfigSpec(
            ctx.scoped("controller-manager"),
            f"{CONF}/controller-manager.conf",
            ctx.local_url,
            "system:kube-controller-manager",
        ),
        KubeconfigSpec(
            ctx.scoped("scheduler"),
            f"{CONF}/scheduler.conf",
            ctx.local_url,
            "system:kube-scheduler",
        ),
    )
    return Layout(cas=(FRONT_PROXY_CA, ETCD_CA), certs=certs, kubeconfigs=kubeconfigs, keypairs=(SA,))


def cert_layout(ctx: LayoutInput) -> Layout:
    """Files for one host: the node set everywhere, plus the control-plane set on masters."""
    layout = node_layout(ctx)
    return layout + master_layout(ctx) if ctx.is_master else layout
