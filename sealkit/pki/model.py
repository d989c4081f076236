"""What the PKI signs and where it lands: frozen value types shared by the store and runtimes.

A runtime plugin describes a host's certificate layout with these types (pure data, no I/O); the
:class:`sealkit.pki.store.PKIStore` on the controller signs it with the cluster's long-lived CAs and
turns it into :class:`FileSpec` objects the engine writes on the host. Keeping the description
separate from the signing lets ``cert check``/``renew``/``--alt-names`` reuse the very same layout.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal

from sealkit.errors import PluginError

KeyType = Literal["rsa-2048", "ecdsa-p256"]
Usage = Literal["server", "client"]

KEY_TYPES: frozenset[str] = frozenset({"rsa-2048", "ecdsa-p256"})
USAGES: frozenset[str] = frozenset({"server", "client"})

#: 100 years: the default lifetime of CAs and leaves, so nothing silently expires after 1 year
DEFAULT_VALIDITY_DAYS = 36500

MODE_SECRET = 0o600
MODE_PUBLIC = 0o644

# Store names may contain "/" (host-scoped names such as "10.0.0.11/apiserver") but never escape the
# store.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]*(/[A-Za-z0-9][A-Za-z0-9._:@-]*)*$")


def _check_name(kind: str, name: str) -> None:
    if not _NAME_RE.match(name) or ".." in name:
        raise PluginError(
            f"{kind} name {name!r} is invalid: use letters, digits, '.', '_', '-', ':', '@' "
            "and '/' between parts (it names files in the cluster's pki/ directory)"
        )


def _check_path(kind: str, name: str, path: str | None) -> None:
    if path is None:
        return
    p = PurePosixPath(path)
    if not p.is_absolute() or ".." in p.parts:
        raise PluginError(f"{kind} {name!r}: host path {path!r} must be absolute and without '..'")


def _check_key_type(kind: str, name: str, key_type: str) -> None:
    if key_type not in KEY_TYPES:
        raise PluginError(f"{kind} {name!r}: key_type {key_type!r} is not one of {sorted(KEY_TYPES)}")


def scoped(host: str, name: str) -> str:
    """Store name of a per-host item (``10.0.0.11/apiserver``): each host has its own key."""
    return f"{host}/{name}"


@dataclass(frozen=True)
class CASpec:
    """A certificate authority of the cluster and where (if at all) its files go on a host.

    ``name`` identifies the CA in the store ("ca", "etcd-ca", "server-ca", …); ``common_name`` is
    used only when the CA is first created — an existing CA is never regenerated.
    ``cert_path``/``key_path`` of None mean "do not ship this file to the host" (a worker gets
    ``ca.crt`` but never ``ca.key``; a layout may list a CA with no paths at all just so it exists
    before a leaf is signed with it).
    """

    name: str
    common_name: str
    cert_path: str | None = None
    key_path: str | None = None
    key_type: KeyType = "rsa-2048"

    def __post_init__(self) -> None:
        _check_name("CA", self.name)
        _check_path("CA", self.name, self.cert_path)
        _check_path("CA", self.name, self.key_path)
        _check_key_type("CA", self.name, self.key_type)
        if not self.common_name:
            raise PluginError(f"CA {self.name!r}: common_name is empty")


@dataclass(frozen=True)
class CertSpec:
    """A leaf certificate: identity, SANs, usages, signing CA and its host paths.

    ``name`` is the store key: the same name always means the same key pair, so per-host
    certificates must use a host-scoped name (see :func:`scoped`). ``usages`` map to
    ExtendedKeyUsage serverAuth/clientAuth; KeyUsage is digitalSignature (+ keyEncipherment for RSA
    keys).
    """

    name: str
    ca: str
    common_name: str
    cert_path: str
    key_path: str
    organizations: tuple[str, ...] = ()
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    usages: frozenset[str] = frozenset({"client"})
    key_type: KeyType = "rsa-2048"

    def __post_init__(self) -> None:
        _check_name("certificate", self.name)
        _check_name("CA", self.ca)
        _check_path("certificate", self.name, self.cert_path)
        _check_path("certificate", self.name, self.key_path)
        _check_key_type("certificate", self.name, self.key_type)
        if not self.common_name:
            raise PluginError(f"certificate {self.name!r}: common_name is empty")
        if not self.usages or not set(self.usages) <= USAGES:
            raise PluginError(
                f"certificate {self.name!r}: usages {sorted(self.usages)} must be a non-empty "
                f"subset of {sorted(USAGES)}"
            )
        for ip in self.ip_addresses:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise PluginError(f"certificate {self.name!r}: {ip!r} is not an IP address") from None


@dataclass(frozen=True)
class KubeconfigSpec:
    """A kubeconfig embedding a client certificate (CN = user, O = groups) and the CA it trusts.

    ``user`` defaults to the common name and ``context`` to ``<user>@<cluster_name>``, as kubeadm
    writes them.
    """

    name: str
    path: str
    server: str
    common_name: str
    organizations: tuple[str, ...] = ()
    ca: str = "ca"
    cluster_name: str = "kubernetes"
    user: str = ""
    key_type: KeyType = "rsa-2048"

    def __post_init__(self) -> None:
        _check_name("kubeconfig", self.name)
        _check_name("CA", self.ca)
        _check_path("kubeconfig", self.name, self.path)
        _check_key_type("kubeconfig", self.name, self.key_type)
        if not self.server.startswith("https://"):
            raise PluginError(f"kubeconfig {self.name!r}: server {self.server!r} must be an https:// URL")
        if not self.common_name:
            raise PluginError(f"kubeconfig {self.name!r}: common_name is empty")

    @property
    def user_name(self) -> str:
        return self.user or self.common_name

    @property
    def context_name(self) -> str:
        return f"{self.user_name}@{self.cluster_name}"

    def cert_spec(self) -> CertSpec:
        """The client certificate embedded in this kubeconfig (no host paths of its own)."""
        return CertSpec(
            name=self.name,
            ca=self.ca,
            common_name=self.common_name,
            organizations=self.organizations,
            cert_path=self.path,
            key_path=self.path,
            usages=frozenset({"client"}),
            key_type=self.key_type,
        )


@dataclass(frozen=True)
class KeyPairSpec:
    """A bare key pair, no certificate: the service-account token signing key (``sa.key``).

    Created once and never rotated by ``cert renew``: rotating it would invalidate every issued
    token.
    """

    name: str
    private_path: str
    public_path: str | None = None
    key_type: KeyType = "rsa-2048"

    def __post_init__(self) -> None:
        _check_name("key pair", self.name)
        _check_path("key pair", self.name, self.private_path)
        _check_path("key pair", self.name, self.public_path)
        _check_key_type("key pair", self.name, self.key_type)


@dataclass(frozen=True)
class FileSpec:
    """One file as it must end up on a host: 0600 for keys and kubeconfigs, 0644 for certs."""

    path: str
    content: bytes = field(repr=False)
    mode: int = MODE_PUBLIC

    @property
    def sha256(self) -> str:
        """Content digest, so the engine can skip a write when the host already has these bytes."""
        return hashlib.sha256(self.content).hexdigest()

    @property
    def secret(self) -> bool:
        return not self.mode & 0o077

    def __repr__(self) -> str:
        return f"FileSpec(path={self.path!r}, mode={oct(self.mode)}, sha256={self.sha256[:12]})"


@dataclass(frozen=True)
class Layout:
    """Everything the PKI must put on one host, as a runtime's ``cert_layout`` describes it.

    ``minted`` names certificate files the runtime signs itself with these CAs (k3s, k0s): sealkit never
    writes them, but ``cert check`` reads them, so a short-lived leaf cannot hide behind a long-lived CA.
    """

    cas: tuple[CASpec, ...] = ()
    certs: tuple[CertSpec, ...] = ()
    kubeconfigs: tuple[KubeconfigSpec, ...] = ()
    keypairs: tuple[KeyPairSpec, ...] = ()
    minted: tuple[str, ...] = ()

    def paths(self) -> list[str]:
        """Every host path this layout writes (used to detect two specs writing the same file)."""
        out: list[str] = []
        for ca in self.cas:
            out += [p for p in (ca.cert_path, ca.key_path) if p]
        for c in self.certs:
            out += [c.cert_path, c.key_path]
        out += [k.path for k in self.kubeconfigs]
        for kp in self.keypairs:
            out += [p for p in (kp.private_path, kp.public_path) if p]
        return out

    def __add__(self, other: Layout) -> Layout:
        return Layout(
            self.cas + other.cas,
            self.certs + other.certs,
            self.kubeconfigs + other.kubeconfigs,
            self.keypairs + other.keypairs,
            self.minted + other.minted,
        )


@dataclass(frozen=True)
class LayoutInput:
    """What a runtime needs to know about a host and its cluster to describe the host's certs.

    ``endpoint_host``/``endpoint_port`` is the HA endpoint (VIP or LB address) every client uses;
    ``apiserver_port`` is where the host's own apiserver listens (controller-manager/scheduler talk
    to it directly). ``first_master`` marks the host that bootstraps the cluster (kubeadm init).
    ``kube_version`` (``v1.30.4``; empty = a current one) lets a layout follow version-dependent
    subjects.
    """

    host_name: str
    host_ip: str
    is_master: bool
    master_ips: tuple[str, ...]
    master_names: tuple[str, ...]
    endpoint_host: str
    endpoint_port: int = 6443
    service_cidr: str = "10.96.0.0/12"
    dns_domain: str = "cluster.local"
    extra_sans: tuple[str, ...] = ()
    node_name: str = ""
    apiserver_port: int = 6443
    first_master: bool = False
    kube_version: str = ""

    def __post_init__(self) -> None:
        try:
            ipaddress.ip_address(self.host_ip)
        except ValueError:
            raise PluginError(f"layout input: host_ip {self.host_ip!r} is not an IP address") from None
        if not self.endpoint_host:
            raise PluginError("layout input: endpoint_host is empty (the HA endpoint is a SAN)")

    @property
    def node(self) -> str:
        """Node name: given, else the host name, else the IP (lower-cased, as the kubelet does)."""
        return (self.node_name or self.host_name or self.host_ip).lower()

    @property
    def endpoint_url(self) -> str:
        return https_url(self.endpoint_host, self.endpoint_port)

    @property
    def local_url(self) -> str:
        return https_url(self.host_ip, self.apiserver_port)

    def scoped(self, name: str) -> str:
        """Host-scoped store name, keyed by IP (unique in a cluster, unlike cloned hostnames)."""
        return scoped(self.host_ip, name)


def https_url(host: str, port: int) -> str:
    """``https://host:port`` with IPv6 literals bracketed."""
    h = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"https://{h}:{port}"
