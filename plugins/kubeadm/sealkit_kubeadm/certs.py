"""kubeadm's certificate layout, pre-placed so kubeadm uses sealkit's CAs and 100-year leaves.

kubeadm uses any CA, leaf or kubeconfig it finds in ``/etc/kubernetes`` ("Using existing … on disk")
as long as it is signed by the right CA and carries the SANs kubeadm itself would put in (node name,
advertise address, service IP, ``kubernetes.default…``, controlPlaneEndpoint, certSANs; for etcd:
node name, localhost, advertise address, 127.0.0.1, ::1). Names, subjects and usages below follow
kubeadm's certlist for v1.29+ (``cmd/kubeadm/app/phases/certs/certlist.go``) and "PKI certificates
and requirements".

Deliberately NOT pre-placed:

* ``kubelet.conf``: ``kubeadm join`` refuses to run when it exists (preflight ``FileAvailable``),
  and on the init node ``kubeadm init`` rewrites it to point at the kubelet's self-rotating client
  certificate (``/var/lib/kubelet/pki/kubelet-client-current.pem``); kubelet client certificates
  rotate themselves, signed by kube-controller-manager for ``--cluster-signing-duration``;
* on workers, ``/etc/kubernetes/pki/ca.crt``: ``kubeadm join`` writes it from the discovery data it
  has verified against the CA hash, and refuses to run when it already exists.

Pre-placed beyond kubeadm's own set: the kubelet serving certificate
(``/var/lib/kubelet/pki/kubelet.crt``), which the kubelet otherwise self-signs for 1 year; signed by
the cluster CA, the apiserver (and metrics-server) can verify kubelets instead of skipping TLS
verification.
"""

from __future__ import annotations

import re

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
KUBELET_PKI = "/var/lib/kubelet/pki"

CA = CASpec("ca", "kubernetes", f"{PKI}/ca.crt", f"{PKI}/ca.key")
FRONT_PROXY_CA = CASpec(
    "front-proxy-ca", "front-proxy-ca", f"{PKI}/front-proxy-ca.crt", f"{PKI}/front-proxy-ca.key"
)
ETCD_CA = CASpec("etcd-ca", "etcd-ca", f"{PKI}/etcd/ca.crt", f"{PKI}/etcd/ca.key")
#: the cluster CA, nothing shipped: a worker only needs it to exist to sign its kubelet cert
CA_SIGN_ONLY = CASpec("ca", "kubernetes")
SA = KeyPairSpec("sa", f"{PKI}/sa.key", f"{PKI}/sa.pub")

#: kubeadm >= 1.29 binds this group to cluster-admin; system:masters is for super-admin.conf only
CLUSTER_ADMINS = "kubeadm:cluster-admins"
MASTERS = "system:masters"


def _minor(version: str) -> int | None:
    m = re.match(r"^v?1\.(\d+)", version.strip())
    return int(m.group(1)) if m else None


def admin_group(kube_version: str) -> str:
    """Group of admin.conf and apiserver-kubelet-client: kubeadm:cluster-admins from v1.29 (where
    kubeadm creates its ClusterRoleBinding), system:masters before. Unknown version: assume a
    current one."""
    minor = _minor(kube_version)
    return MASTERS if minor is not None and minor < 29 else CLUSTER_ADMINS


def kubelet_serving(ctx: LayoutInput, directory: str = KUBELET_PKI) -> CertSpec:
    """The kubelet's serving certificate, shaped like a ``kubernetes.io/kubelet-serving`` one."""
    dns, ips = host_sans(ctx.host_ip, [ctx.node, ctx.host_name], loopback=False)
    return CertSpec(
        name=ctx.scoped("kubelet-serving"),
        ca="ca",
        common_name=f"system:node:{ctx.node}",
        organizations=("system:nodes",),
        dns_names=dns,
        ip_addresses=ips,
        usages=SERVER,
        cert_path=f"{directory}/kubelet.crt",
        key_path=f"{directory}/kubelet.key",
    )


def cert_layout(ctx: LayoutInput) -> Layout:
    """Files for one host: masters get the control-plane PKI, workers their kubelet serving cert."""
    if not ctx.is_master:
        return Layout(cas=(CA_SIGN_ONLY,), certs=(kubelet_serving(ctx),))

    group = admin_group(ctx.kube_version)
    certs = (
        *kubernetes.control_plane_certs(ctx, kubelet_client_group=group, pki=PKI),
        kubelet_serving(ctx),
    )
    kubeconfigs = [
        # one admin identity for the whole cluster (the controller's `sealkit kubeconfig` uses it
        # too)
        KubeconfigSpec("admin", f"{CONF}/admin.conf", ctx.endpoint_url, "kubernetes-admin", (group,)),
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
    ]
    if ctx.first_master and group == CLUSTER_ADMINS:
        # kubeadm init writes super-admin.conf on the first control-plane node only (break-glass)
        kubeconfigs.append(
            KubeconfigSpec(
                "super-admin",
                f"{CONF}/super-admin.conf",
                ctx.endpoint_url,
                "kubernetes-super-admin",
                (MASTERS,),
            )
        )
    return Layout(
        cas=(CA, FRONT_PROXY_CA, ETCD_CA),
        certs=certs,
        kubeconfigs=tuple(kubeconfigs),
        keypairs=(SA,),
    )
