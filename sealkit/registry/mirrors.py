"""Pure renderers of the container runtimes' mirror config: original image names pull from the
embedded registry.

Formats, as their projects document them:

* containerd ≥ 1.5 reads one ``hosts.toml`` per registry host namespace under a config directory
  (``/etc/containerd/certs.d/<upstream>/hosts.toml``; ``_default`` is the fallback for every
  registry). Hosts listed as ``[host."…"]`` are tried in order, then ``server``. The CRI plugin only
  reads that directory when ``config_path`` is set in ``config.toml`` (``ctr`` needs
  ``--hosts-dir``).
* k3s generates its containerd config from ``/etc/rancher/k3s/registries.yaml`` (``mirrors`` +
  ``configs``).
* k0s (≥ 1.27.1) merges ``/etc/k0s/containerd.d/*.toml`` drop-ins into the containerd config it
  manages.

Authentication, honestly: ``hosts.toml`` has no credentials field. The Distribution registry's
htpasswd auth cannot allow anonymous pulls while refusing anonymous pushes, so the registry keeps
basic auth for everything and the *runtime* holds the pull credentials:

* containerd 1.x/2.x CRI: ``[plugins."<cri>".registry.configs."sealkit.hub:5000".auth]`` —
  deprecated in favour of hosts.toml but documented as supported through the 1.x line (1.6 LTS
  included) and it is what the CRI plugin consults, keyed by the host it contacts (the mirror), when
  ``config_path`` is set. It must be *merged* into the runtime's own ``config.toml``: containerd 1.x
  ``imports`` replace whole plugin sections, so a separate drop-in would wipe the CRI plugin's other
  settings.
* k3s: ``configs."sealkit.hub:5000".auth`` in registries.yaml (k3s writes it into its containerd
  config).
* k0s: the same CRI ``configs`` table in the drop-in (k0s merges CRI sections as a patch).
* ``ctr`` (tests, debugging): ``--user``; ``ctr`` does not read the CRI config.

Several registries (one per master): every mirror lists each registry host by IP
(``https://<ip>:<port>``, in ``RegistryInfo.hosts`` order) — containerd (and k3s's containerd) tries
the next host when one refuses the connection, times out, or answers 404 or 5xx, so a dead master or
a registry that missed a sync never stops a pull. Each registry's certificate carries its own IP.
The stable name (``sealkit.hub:5000``, which kubeadm's ``imageRepository`` uses) gets its own
namespace listing the same hosts, and credentials are given for the name and for every IP.

Every file holding credentials is rendered with mode 0600. Nothing here does I/O: the engine writes
the returned :class:`~sealkit.pki.model.FileSpec` objects (content-addressed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import PurePosixPath

from sealkit.context import RegistryInfo
from sealkit.errors import PluginError
from sealkit.pki.model import MODE_PUBLIC, MODE_SECRET, FileSpec
from sealkit.registry import REGISTRY_CA_PATH

#: containerd's conventional hosts directory (``config_path``)
CERTS_D = "/etc/containerd/certs.d"
K3S_REGISTRIES_PATH = "/etc/rancher/k3s/registries.yaml"
K0S_DROPIN_PATH = "/etc/k0s/containerd.d/sealkit-registry.toml"

#: registries whose images Kubernetes clusters need; mirrored even when no synced image names them
DEFAULT_UPSTREAMS: tuple[str, ...] = (
    "docker.io",
    "registry.k8s.io",
    "k8s.gcr.io",
    "quay.io",
    "ghcr.io",
    "gcr.io",
)

#: where each upstream's API really lives, when it differs from the name in image references
_API_HOSTS = {"docker.io": "registry-1.docker.io"}

_HOST_RE = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
    r"|\[[0-9a-f:]+\])(?::[0-9]{1,5})?$"
)
_PATH_RE = re.compile(r"^/[A-Za-z0-9._/:@+-]*$")

HEADER = "# Managed by sealkit: pulls are served by the cluster's embedded registry. Do not edit.\n"


def _q(value: str) -> str:
    """A TOML basic string / YAML double-quoted scalar: JSON's escapes are valid in both."""
    return json.dumps(value, ensure_ascii=True)


def check_upstream(upstream: str) -> str:
    """Return ``upstream`` (``host[:port]``, lower case) or raise: it becomes a directory name
    and a URL."""
    name = upstream.strip().lower()
    if not _HOST_RE.match(name):
        raise PluginError(
            f"registry mirror: {upstream!r} is not a registry host[:port]",
            hint="name registries as they appear in image references, e.g. docker.io or quay.io",
        )
    return name


def _check_path(what: str, path: str) -> str:
    if not _PATH_RE.match(path) or ".." in PurePosixPath(path).parts:
        raise PluginError(f"registry mirror: {what} {path!r} must be an absolute path without '..'")
    return path


def upstream_server(upstream: str) -> str:
    """The URL containerd falls back to for ``upstream`` (Docker Hub's API host is not
    docker.io)."""
    name = check_upstream(upstream)
    return f"https://{_API_HOSTS.get(name, name)}"


def mirror_url(mirror: RegistryInfo) -> str:
    """The stable name's URL (resolved through the /etc/hosts block)."""
    return f"https://{mirror.address}"


def endpoints(mirror: RegistryInfo) -> list[str]:
    """``host:port`` of every registry, in order: each host's IP, or the stable name when the info
    names no host."""
    if not mirror.hosts:
        return [mirror.address]
    return [f"[{ip}]:{mirror.port}" if ":" in ip else f"{ip}:{mirror.port}" for ip in mirror.hosts]


def endpoint_urls(mirror: RegistryInfo) -> list[str]:
    return [f"https://{e}" for e in endpoints(mirror)]


def auth_hosts(mirror: RegistryInfo) -> list[str]:
    """Every ``host:port`` a runtime may contact for the registry: the stable name and each IP."""
    return list(dict.fromkeys([mirror.address, *endpoints(mirror)]))


def _host_tables(mirror: RegistryInfo, ca: str) -> str:
    return "".join(
        f'[host.{_q(url)}]\n  capabilities = ["pull", "resolve"]\n  ca = {_q(ca)}\n'
        for url in endpoint_urls(mirror)
    )


def upstreams_for(image_refs: Iterable[str], extra: Iterable[str] = DEFAULT_UPSTREAMS) -> list[str]:
    """Registries to mirror: those named by the synced images plus ``extra``; sorted, deduplicated.

    A reference without a registry (``busybox:1.36``) is a Docker Hub image.
    """
    from sealkit.image.reference import parse_reference

    names = {check_upstream(u) for u in extra}
    for ref in image_refs:
        names.add(check_upstream(parse_reference(ref).remote().registry or "docker.io"))
    return sorted(names)


# ------------------------------------------------------------------------------------- containerd
def containerd_hosts_toml(
    upstream: str,
    mirror: RegistryInfo,
    ca_path: str,
    *,
    certs_dir: str = CERTS_D,
    fallback: bool = True,
) -> tuple[str, str]:
    """``(path, text)`` of ``<certs_dir>/<upstream>/hosts.toml``: try the embedded registry first.

    Every registry host is listed, in order. ``fallback=True`` keeps the upstream as ``server``
    (tried only when every registry fails, e.g. an image that was never synced); ``fallback=False``
    makes the registry's stable name the server, so nothing ever leaves the cluster — the
    air-gapped choice.
    """
    name = check_upstream(upstream)
    ca = _check_path("CA path", ca_path)
    path = f"{_check_path('certs dir', certs_dir).rstrip('/')}/{name}/hosts.toml"
    if not fallback:
        text = f"{HEADER}server = {_q(mirror_url(mirror))}\nca = {_q(ca)}\n\n{_host_tables(mirror, ca)}"
        return path, text
    text = f"{HEADER}server = {_q(upstream_server(name))}\n\n{_host_tables(mirror, ca)}"
    return path, text


def containerd_default_hosts_toml(
    mirror: RegistryInfo, ca_path: str, *, certs_dir: str = CERTS_D
) -> tuple[str, str]:
    """``(path, text)`` of ``<certs_dir>/_default/hosts.toml``: every registry without its own
    directory tries the embedded registry first, then its own upstream (containerd adds it after
    the listed hosts)."""
    ca = _check_path("CA path", ca_path)
    path = f"{_check_path('certs dir', certs_dir).rstrip('/')}/_default/hosts.toml"
    return path, HEADER + _host_tables(mirror, ca)


def containerd_registry_hosts_toml(
    mirror: RegistryInfo, ca_path: str, *, certs_dir: str = CERTS_D
) -> tuple[str, str]:
    """``(path, text)`` for the embedded registry's own name, so ``sealkit.hub:5000/…`` pulls
    verify TLS against the cluster CA too."""
    return containerd_hosts_toml(mirror.address, mirror, ca_path, certs_dir=certs_dir, fallback=False)


def cri_plugin_name(containerd_major: int) -> str:
    """The CRI image plugin's table name: containerd 2.x split the CRI plugin and renamed it."""
    if containerd_major not in (1, 2):
        raise PluginError(f"registry mirror: containerd major version {containerd_major} is not 1 or 2")
    return "io.containerd.grpc.v1.cri" if containerd_major == 1 else "io.containerd.cri.v1.images"


def containerd_cri_registry_toml(
    mirror: RegistryInfo, *, config_path: str = CERTS_D, containerd_major: int = 1
) -> str:
    """The registry part of containerd's ``config.toml`` (config ``version = 2`` for containerd 1.x,
    ``version = 3`` for 2.x): point the CRI plugin at the hosts directory and give it the pull
    credentials for the embedded registry (its stable name and every registry IP). A secret: the
    file it goes into must be 0600.

    Merge this into the runtime's full config.toml (see the module doc for why not an ``imports``
    file).
    """
    plugin = cri_plugin_name(containerd_major)
    auths = "".join(
        "\n"
        f"[plugins.{_q(plugin)}.registry.configs.{_q(host)}.auth]\n"
        f"  username = {_q(mirror.username)}\n"
        f"  password = {_q(mirror.password)}\n"
        for host in auth_hosts(mirror)
    )
    return (
        f"[plugins.{_q(plugin)}.registry]\n"
        f"  config_path = {_q(_check_path('config_path', config_path))}\n"
        f"{auths}"
    )


def containerd_files(
    mirror: RegistryInfo,
    upstreams: Iterable[str] = DEFAULT_UPSTREAMS,
    ca_path: str = REGISTRY_CA_PATH,
    *,
    certs_dir: str = CERTS_D,
    fallback: bool = True,
    default_namespace: bool = True,
) -> list[FileSpec]:
    """Every ``hosts.toml`` a containerd host needs: one per upstream, the registry's own name
    and, with ``default_namespace``, the ``_default`` catch-all. Public files (no credentials in
    them)."""
    out: list[FileSpec] = []
    seen: set[str] = set()
    for up in upstreams:
        name = check_upstream(up)
        if name in seen or name == mirror.address:
            continue
        seen.add(name)
        path, text = containerd_hosts_toml(name, mirror, ca_path, certs_dir=certs_dir, fallback=fallback)
        out.append(FileSpec(path, text.encode(), MODE_PUBLIC))
    path, text = containerd_registry_hosts_toml(mirror, ca_path, certs_dir=certs_dir)
    out.append(FileSpec(path, text.encode(), MODE_PUBLIC))
    if default_namespace:
        path, text = containerd_default_hosts_toml(mirror, ca_path, certs_dir=certs_dir)
        out.append(FileSpec(path, text.encode(), MODE_PUBLIC))
    return out


# -------------------------------------------------------------------------------------------- k3s
#: registries.yaml's wildcard mirror key: k3s renders it as containerd's ``certs.d/_default``
K3S_WILDCARD = "*"


def k3s_registries_yaml(mirror: RegistryInfo, upstreams: Iterable[str], ca_path: str) -> str:
    """``/etc/rancher/k3s/registries.yaml``: every upstream mirrored to the embedded registry, whose
    ``configs`` entries (the stable name and every registry IP) carry the pull credentials and the
    cluster CA; the stable name is itself mirrored to every registry IP. A secret (mode 0600).

    The wildcard mirror ``"*"`` sends every other registry (an app image named ``localhost/…`` or
    ``registry.example:5000/…``) to the embedded registry too: k3s writes it as containerd's
    ``certs.d/_default/hosts.toml`` with an empty ``server``, so containerd falls back to the image's
    own registry after the listed hosts (k3s-io/k3s ``pkg/agent/containerd/config.go``
    ``getHostConfigs``, release-1.34..1.36). containerd uses ``_default`` only for a registry without
    its own directory, so the named upstreams stay: same hosts, explicit fallback.
    """
    ca = _check_path("CA path", ca_path)
    names = sorted({check_upstream(u) for u in upstreams} | {check_upstream(mirror.address)})
    urls = endpoint_urls(mirror)
    lines = [HEADER.rstrip("\n"), "mirrors:"]
    for name in [*names, K3S_WILDCARD]:
        lines += [f"  {_q(name)}:", "    endpoint:", *(f"      - {_q(u)}" for u in urls)]
    lines.append("configs:")
    for host in auth_hosts(mirror):
        lines += [
            f"  {_q(host)}:",
            "    auth:",
            f"      username: {_q(mirror.username)}",
            f"      password: {_q(mirror.password)}",
            "    tls:",
            f"      ca_file: {_q(ca)}",
        ]
    return "\n".join(lines) + "\n"


def k3s_files(
    mirror: RegistryInfo,
    upstreams: Iterable[str] = DEFAULT_UPSTREAMS,
    ca_path: str = REGISTRY_CA_PATH,
) -> list[FileSpec]:
    """The single file k3s needs (it renders containerd's hosts.toml itself)."""
    text = k3s_registries_yaml(mirror, upstreams, ca_path)
    return [FileSpec(K3S_REGISTRIES_PATH, text.encode(), MODE_SECRET)]


# -------------------------------------------------------------------------------------------- k0s
def k0s_containerd_dropin(
    mirror: RegistryInfo, *, config_path: str = CERTS_D, containerd_major: int = 1
) -> str:
    """``/etc/k0s/containerd.d/sealkit-registry.toml``: k0s merges a drop-in holding a CRI
    section into the containerd config it manages. k0s releases bundling containerd 1.7 read
    config ``version = 2``; those bundling containerd 2.x read ``version = 3``. A secret (mode
    0600)."""
    version = 2 if containerd_major == 1 else 3
    return f"{HEADER}version = {version}\n\n" + containerd_cri_registry_toml(
        mirror, config_path=config_path, containerd_major=containerd_major
    )


def k0s_files(
    mirror: RegistryInfo,
    upstreams: Iterable[str] = DEFAULT_UPSTREAMS,
    ca_path: str = REGISTRY_CA_PATH,
    *,
    containerd_major: int = 1,
    certs_dir: str = CERTS_D,
) -> list[FileSpec]:
    """The k0s drop-in plus the containerd hosts files it points at."""
    dropin = k0s_containerd_dropin(mirror, config_path=certs_dir, containerd_major=containerd_major)
    return [
        FileSpec(K0S_DROPIN_PATH, dropin.encode(), MODE_SECRET),
        *containerd_files(mirror, upstreams, ca_path, certs_dir=certs_dir),
    ]
