"""k0s certificate layout: pre-placed CAs and service-account key pair in ``/var/lib/k0s/pki``.

k0s skips generating a CA whose ``.crt`` and ``.key`` already exist in ``<data-dir>/pki`` (k0s docs,
"Install using custom CA certificates and SA key pair"): ``ca.*``, ``etcd/ca.*``,
``sa.key``/``sa.pub``, and likewise ``front-proxy-ca.*`` (k0s ensures it the same way). Controllers
joining later receive the CAs from the first one; the identical files are written on every
controller so each can be checked against the controller's CA. Workers get nothing: their ``ca.crt``
comes with the join token.

k0s mints its leaves itself, for ``spec.api.ca.certificatesExpireAfter`` and
``spec.storage.etcd.ca.certificatesExpireAfter`` (default 8760h = 1 year); the k0s plugin sets both to
the cluster's certificate validity (100 years = 876000h) in ``k0s.yaml``. The leaves it mints on
controllers are listed as ``minted`` so ``cert check`` reads their expiry from the hosts. Workers'
kubelet certificates are left out: the kubelet rotates them itself.
"""

from __future__ import annotations

from sealkit.api import CASpec, KeyPairSpec, Layout, LayoutInput

PKI = "/var/lib/k0s/pki"

CA = CASpec("ca", "kubernetes-ca", f"{PKI}/ca.crt", f"{PKI}/ca.key")
FRONT_PROXY_CA = CASpec(
    "front-proxy-ca",
    "kubernetes-front-proxy-ca",
    f"{PKI}/front-proxy-ca.crt",
    f"{PKI}/front-proxy-ca.key",
)
ETCD_CA = CASpec("etcd-ca", "etcd-ca", f"{PKI}/etcd/ca.crt", f"{PKI}/etcd/ca.key")
SA = KeyPairSpec("sa", f"{PKI}/sa.key", f"{PKI}/sa.pub")


# leaves k0s signs with those CAs on a controller
MINTED = tuple(
    f"{PKI}/{name}.crt"
    for name in ("server", "k0s-api", "admin", "apiserver-etcd-client", "etcd/server", "etcd/peer")
)


def cert_layout(ctx: LayoutInput) -> Layout:
    """Controllers: the three CAs and the SA key pair, and the leaves k0s mints; workers: nothing."""
    if not ctx.is_master:
        return Layout()
    return Layout(cas=(CA, FRONT_PROXY_CA, ETCD_CA), keypairs=(SA,), minted=MINTED)
