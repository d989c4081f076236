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

What this does NOT change: k3s mints its leaf certificates itself, valid 365 days, and renews them
only when it starts within 90 days of expiry (or on ``k3s certificate rotate``). A k3s node that
runs for a year without a restart serves expired certificates — the k3s plugin must restart k3s
(servers one at a time) before that, e.g. on every ``sealkit apply`` and from a periodic timer;
``cert check`` should report the leaf expiry read from the hosts. The secure join token's CA hash is
the SHA-256 of ``server-ca.crt`` as written here, so the controller can compute
``K10<hash>::server:<secret>`` without asking a server.
"""

from __future__ import annotations

from sealkit.pki.model import CASpec, KeyPairSpec, Layout, LayoutInput

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


def cert_layout(ctx: LayoutInput) -> Layout:
    """Servers: the five CAs and service.key; agents: nothing (the token pins the server CA)."""
    if not ctx.is_master:
        return Layout()
    return Layout(cas=CAS, keypairs=(SERVICE_KEY,))
