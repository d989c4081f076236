"""k3s certificate layout: pre-placed CAs so k3s signs everything with sealkit's long-lived CAs.

k3s bypasses its own CA generation when it finds these files in ``/var/lib/rancher/k3s/server/tls``
on the first server's initial start (k3s docs, "k3s certificate" → Using Custom CA Certificates):
server-ca, client-ca, request-header-ca, etcd/server-ca, etcd/peer-ca (certificate + key each; the
etcd ones are needed even without embedded etcd) and ``service.key`` (the service-account signing
key, no certificate).

k3s stores the authoritative CAs in its datastore (encrypted with the token) and extracts them on
every server; the identical files are written on every server so any of them can be checked against
the controller's CA (a joining server whose files match the datastore's is unaffected). Agents get
nothing.

k3s mints its leaf certificates itself, for 365 days unless ``CATTLE_NEW_SIGNED_CERT_EXPIRATION_DAYS``
says otherwise (the plugin sets it to the Clusterfile's validity in the units' environment), and
renews them only when it starts within 90 days of expiry (or on ``k3s certificate rotate``). The
leaves it mints are listed as ``minted`` so ``cert check`` reads their expiry from the hosts: a
one-year leaf cannot hide behind a hundred-year CA. The secure join token's CA hash is
the SHA-256 of ``server-ca.crt`` as written here, so the controller can compute
``K10<hash>::server:<secret>`` without asking a server.
"""

from __future__ import annotations

from sealkit.api import CASpec, KeyPairSpec, Layout, LayoutInput

TLS = "/var/lib/rancher/k3s/server/tls"


def _ca(name: str, common_name: str, rel: str) -> CASpec:
    return CASpec(name, common_name, f"{TLS}/{rel}.crt", f"{TLS}/{rel}.key")


SERVER_CA = _ca("server-ca", "k3s-server-ca", "server-ca")
CLIENT_CA = _ca("client-ca", "k3s-client-ca", "client-ca")
REQUEST_HEADER_CA = _ca("request-header-ca", "k3s-request-header-ca", "request-header-ca")
ETCD_SERVER_CA = _ca("etcd-server-ca", "etcd-server-ca", "etcd/server-ca")
ETCD_PEER_CA = _ca("etcd-peer-ca", "etcd-peer-ca", "etcd/peer-ca")
SERVICE_KEY = KeyPairSpec("sa", f"{TLS}/service.key")

CAS = (SERVER_CA, CLIENT_CA, REQUEST_HEADER_CA, ETCD_SERVER_CA, ETCD_PEER_CA)

AGENT = "/var/lib/rancher/k3s/agent"
# leaves k3s signs with those CAs and keeps until a start within 90 days of their expiry
MINTED_ON_SERVERS = (
    f"{TLS}/serving-kube-apiserver.crt",
    f"{TLS}/client-admin.crt",
    f"{TLS}/etcd/server-client.crt",
    f"{TLS}/etcd/peer-server-client.crt",
)
MINTED_ON_EVERY_NODE = (f"{AGENT}/client-kubelet.crt", f"{AGENT}/serving-kubelet.crt")


def cert_layout(ctx: LayoutInput) -> Layout:
    """Servers: the five CAs and service.key; agents: nothing to place (the token pins the server CA).
    Both list the leaves k3s mints there."""
    if not ctx.is_master:
        return Layout(minted=MINTED_ON_EVERY_NODE)
    return Layout(cas=CAS, keypairs=(SERVICE_KEY,), minted=MINTED_ON_SERVERS + MINTED_ON_EVERY_NODE)
