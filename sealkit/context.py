"""Values handed to every hook: the run's context and the hosts it acts on.

Kept in one small module so plugins depend on a stable surface, not on the engine's internals; plugins import
these types through :mod:`sealkit.api` (docs/plugins.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pluggy

    from sealkit.cluster import Cluster, Host
    from sealkit.pki.model import LayoutInput
    from sealkit.pki.store import PKIStore
    from sealkit.ssh import Connection, Fleet
    from sealkit.state import ClusterState

#: where the cluster image's rootfs lives on every host (content-addressed copy, see engine.distribute)
REMOTE_ROOT = "/var/lib/sealkit"
#: what apps put on a master (their files, the installers' kubeconfig, kubectl's and helm's caches):
#: reset removes it with the rootfs, so no app step is needed
REMOTE_APPS = f"{REMOTE_ROOT}/apps"
#: present from the first rootfs push to reset: what sits in the runtime's directories is sealkit's
INSTALLED_MARKER = f"{REMOTE_ROOT}/installed"


@dataclass(frozen=True)
class Endpoint:
    """A host:port pair, e.g. the apiserver endpoint workers use."""

    host: str
    port: int

    def url(self, scheme: str = "https") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class RuntimeInfo:
    """What a runtime plugin says about itself (``sealkit_runtime_info``)."""

    name: str
    #: HA strategy used when the Clusterfile says ``auto``: ``haproxy``, ``ipvs`` or ``native``
    default_ha: str = "haproxy"
    apiserver_port: int = 6443
    #: binaries the cluster image must ship in ``bin/`` for this runtime
    binaries: tuple[str, ...] = ()
    #: TCP ports that must be free on a master / on a node before install (preflight)
    master_ports: tuple[int, ...] = (6443,)
    node_ports: tuple[int, ...] = (10250,)
    #: one line for ``sealkit plugins`` and the docs
    description: str = ""
    #: the support matrix: the oldest and the newest release this plugin installs and upgrades to, as
    #: Kubernetes versions (``v1.30.0``); an image outside is refused before any host is touched.
    #: Empty: no range declared (third-party plugins that have not said).
    oldest_version: str = ""
    newest_version: str = ""


@dataclass(frozen=True)
class RegistryInfo:
    """The embedded registry: stable name, port, where it runs, credentials and CA."""

    domain: str
    port: int
    hosts: tuple[str, ...]
    username: str
    password: str = field(repr=False)
    ca_pem: bytes = field(repr=False, default=b"")

    @property
    def address(self) -> str:
        return f"{self.domain}:{self.port}"


@dataclass
class HostRef:
    """One host of the cluster as hooks see it: model, discovered facts, and its persistent connection.

    ``conn`` keeps the :class:`sealkit.api.HostConnection` protocol (``run`` through ``sh -c``, sudo for
    non-root logins, content-addressed ``put``); ``hostname`` and ``arch`` are empty until facts are
    gathered, so ``name`` falls back to the IP (as in a dry run).
    """

    spec: Host
    conn: Connection
    hostname: str = ""
    arch: str = ""
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ip(self) -> str:
        return self.spec.ip

    @property
    def roles(self) -> list[str]:
        return list(self.spec.roles)

    @property
    def is_master(self) -> bool:
        return "master" in self.spec.roles

    @property
    def name(self) -> str:
        """Node name: the discovered hostname, lower-cased as Kubernetes requires, else the IP."""
        return (self.hostname or self.spec.ip).lower()

    def __str__(self) -> str:
        return self.spec.ip


@dataclass
class ClusterContext:
    """Everything a hook may need about the current run. One per run; never a global."""

    cluster: Cluster
    state: ClusterState
    fleet: Fleet
    pm: pluggy.PluginManager
    runtime: RuntimeInfo
    pki: PKIStore
    #: labels and version of the cluster image being applied
    image_ref: str = ""
    image_labels: dict[str, str] = field(default_factory=dict)
    image_version: str = ""
    #: where the image's rootfs was unpacked on the controller (for reading templates, manifests)
    local_rootfs: Path | None = None
    remote_rootfs: str = f"{REMOTE_ROOT}/rootfs"
    dry_run: bool = False
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("sealkit"))
    #: hosts by IP, filled by the engine after facts gathering
    hosts: dict[str, HostRef] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return dict(self.cluster.env)

    @property
    def masters(self) -> list[HostRef]:
        return [self.hosts[h.ip] for h in self.cluster.masters if h.ip in self.hosts]

    @property
    def nodes(self) -> list[HostRef]:
        return [self.hosts[h.ip] for h in self.cluster.nodes if h.ip in self.hosts]

    @property
    def first_master(self) -> HostRef:
        return self.hosts[self.cluster.masters[0].ip]

    def layout_input(self, host: HostRef) -> LayoutInput:
        """What a runtime's certificate layout needs to know about ``host`` and the cluster.

        A master's own certificates carry its own IP and name plus the shared endpoint, so adding a
        master never forces new certificates on the others.
        """
        from sealkit.pki.model import LayoutInput

        ep = self.endpoint()
        masters = [m for m in self.masters if m.ip == host.ip] if host.is_master else self.masters
        return LayoutInput(
            host_name=host.name,
            host_ip=host.ip,
            is_master=host.is_master,
            master_ips=tuple(m.ip for m in masters),
            master_names=tuple(m.name for m in masters),
            endpoint_host=ep.host,
            endpoint_port=ep.port,
            service_cidr=self.cluster.network.service_cidr,
            dns_domain=self.cluster.network.dns_domain,
            extra_sans=tuple(self.cluster.certs.extra_sans),
            node_name=host.name,
            apiserver_port=self.runtime.apiserver_port,
            first_master=bool(self.cluster.masters) and host.ip == self.cluster.masters[0].ip,
            kube_version=self.image_version,
        )

    def endpoint(self) -> Endpoint:
        """The apiserver endpoint workers use, as the HA strategy answers it."""
        ep = self.pm.hook.sealkit_apiserver_endpoint(ctx=self)
        if ep is None:
            raise RuntimeError("no plugin answered sealkit_apiserver_endpoint")
        return ep
