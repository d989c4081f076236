"""The kubeadm runtime: ``kubeadm init`` / ``kubeadm join`` on containerd, with sealkit's PKI pre-placed.

Written against kubeadm's documented interface (kubernetes.io: "Installing kubeadm", "Container
runtimes", kubeadm configuration API v1beta3 / v1beta4, the ``kubeadm init|join|token|reset|upgrade``
references, "Certificate management with kubeadm"). Decisions, and why:

Host layout
  ``kubeadm``, ``kubelet``, ``kubectl`` (and ``crictl`` when the image ships it) go from the cluster
  image's ``bin/`` to ``/usr/local/bin`` — kubeadm's "without a package manager" install: a distro's
  ``/usr/bin/kubectl`` is never overwritten and reset removes exactly what was installed. The
  kubelet unit and the ``10-kubeadm.conf`` drop-in are the official packages' units with that path
  (``/etc/systemd/system/kubelet.service{,.d/10-kubeadm.conf}``); the kubelet is enabled, not
  started: ``kubeadm init/join`` write its config and restart it. kubeadm runs with ``PATH``
  including ``/usr/local/bin`` because it executes ``kubelet`` (version preflight) by name, and
  ``sudo``'s ``secure_path`` on some distros lacks it.

CRI
  containerd. The image's ``bin/containerd`` (+ ``containerd-shim-runc-v2``, ``ctr``, ``runc``) with
  our own ``containerd.service`` when shipped — the version the image was built with —, else the
  host's containerd and runc. ``/etc/containerd/config.toml`` is replaced (a host's original is kept
  as ``config.toml.sealkit-orig`` and restored on reset) by a minimal one: ``SystemdCgroup = true``
  (kubeadm configures the kubelet's systemd cgroup driver), the sandbox image kubeadm expects (so
  the kubelet never pulls a pause image the cluster image lacks), ``config_path =
  /etc/containerd/certs.d`` (where the mirror ``hosts.toml`` files go) and the embedded registry's
  pull credentials (hence mode 0600; containerd's CRI plugin keeps auth only in config.toml).

Certificates
  The engine writes ``certs.cert_layout`` before init/join, so kubeadm finds every CA, leaf and
  kubeconfig and prints "Using existing …". kubeadm checks an existing apiserver certificate
  against the SANs it would put in (node name, advertise address, service IP, ``kubernetes.*``,
  controlPlaneEndpoint, ``apiServer.certSANs``), so ``certSANs`` here is exactly the extra SANs the
  layout gets. Shared CAs, ``sa.key`` and the etcd CA are on every master, so masters join without
  ``--upload-certs``/``--certificate-key`` (the kubeadm-certs Secret, valid two hours, never
  exists) and the controller stays the only holder of the CA keys' source of truth.
  ``controllerManager.extraArgs.cluster-signing-duration`` = the cluster's certificate validity,
  so kubelet client certificates (rotated by the kubelet, signed by the controller-manager) live
  as long as ours.

controlPlaneEndpoint: a name, not the VIP
  sealkit's HA puts the VIP (``spec.ha.vip``) only on workers (an LB cannot bind ``vip:6443`` next
  to an apiserver bound to ``0.0.0.0:6443``), but kubeadm uses controlPlaneEndpoint from masters
  too: ``admin.conf``, ``kubelet.conf``, the ``cluster-info`` that a joining master bootstraps
  through. So controlPlaneEndpoint is ``apiserver.cluster.local:6443`` (sealos' name) and a marked
  block in ``/etc/hosts`` resolves it: on workers to the HA endpoint (VIP → node-local LB → every
  apiserver), on the first master to itself, on a joining master to the master it joins through
  and, once its own apiserver is ready, to itself. The apiserver certificates carry the name and
  the VIP; ``spec.ha.port`` must equal the apiserver port (checked in preflight).

Images
  ``imageRepository`` = the embedded registry (``sealkit.hub:5000``) and ``dns.imageRepository`` =
  ``sealkit.hub:5000/coredns``: kubeadm then asks for ``sealkit.hub:5000/kube-apiserver:vX``,
  ``…/etcd:…``, ``…/pause:…``, ``…/coredns/coredns:…`` — exactly the repositories the registry sync
  stores ``registry.k8s.io/…`` images under — so control-plane pulls go straight to the registry
  and cannot leak to the internet; the mirror config makes original names (``registry.k8s.io/…``,
  ``docker.io/…`` in app manifests) resolve there too.

Join token and CA pin
  ``[a-z0-9]{6}.[a-z0-9]{16}``, generated once per cluster and kept in the cluster state (0600). It
  reaches hosts only inside 0600 kubeadm config files, never argv; ``kubeadm init`` gets
  ``--skip-token-print``. It is created by ``kubeadm init`` (``bootstrapTokens``, ttl 24h). Every
  join gets a fresh token of its own from ``kubeadm token create --ttl 2h0m0s`` on a master (read
  from its stdout, written only into the joining host's 0600 config): ``token create`` refuses an
  id that exists (CreateNewTokens, failIfExists=true), so init's token cannot be re-created, and a
  per-join token lets joins weeks later and parallel joins work; no token is a permanent
  credential. The CA pin is ``sha256:`` of the cluster CA's DER SubjectPublicKeyInfo, computed on
  the controller (kubeadm's ``discovery-token-ca-cert-hash``). See LEDGER.md for every command.

Preflight
  kubeadm's own preflight runs in full: no ``--ignore-preflight-errors`` is passed by default,
  because nothing it checks is something sealkit does instead (sealkit writes the sysctl
  ``net.ipv4.ip_forward=1`` and loads ``br_netfilter`` so the checks pass rather than skipping
  them). ``KUBEADM_IGNORE_PREFLIGHT_ERRORS`` in the cluster (or host) env is passed through as
  ``nodeRegistration.ignorePreflightErrors`` for machines below kubeadm's minimums (NumCPU, Mem).
  sealkit's own preflight refuses a master whose ``/var/lib/etcd`` or a host whose
  ``/etc/cni/net.d`` holds data it did not create (``ownership.py``; ``SEALKIT_TAKE_OVER`` parks
  it for the cluster's life and reset gives it back), and a half-done init/join is reset only when
  sealkit's own kubeadm config on the host shows that sealkit started it.

Removal
  A master is deleted from a master that stays: ``kubectl drain``, ``kubectl delete node``, then
  ``etcdctl member remove`` run in the staying master's etcd pod — this works even when the
  removed machine is broken, where ``kubeadm reset``'s own member removal would need the removed
  master's etcd and apiserver to work. ``kubeadm reset -f`` therefore runs with
  ``--skip-phases=remove-etcd-member``; afterwards everything kubeadm reset leaves is removed (see
  :func:`reset_steps`).

Upgrade
  New ``kubeadm`` first; ``kubeadm upgrade apply vX --certificate-renewal=false --yes`` on the first
  master, ``kubeadm upgrade node --certificate-renewal=false`` on every other host (so the 100-year
  certificates survive: sealos #4113), then the new kubelet/kubectl and a kubelet restart. Nodes
  are not drained (a minor kubelet upgrade keeps pods running; draining would stall single-node
  clusters and PDB-protected apps). ``upgrade apply`` needs a working CNI (kubeadm's CreateJob
  health check) and the new version's images in the registry.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import shlex
import string
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sealkit.api import (
    Endpoint,
    Layout,
    LayoutInput,
    PluginError,
    RuntimeInfo,
    StepFailed,
    hookimpl,
    hostops,
    ownership,
)
from sealkit_kubeadm import certs

if TYPE_CHECKING:
    from sealkit.api import ClusterContext, FileSpec, HostRef, RegistryInfo

# ------------------------------------------------------------------------------------- support range
#: the minors upstream maintains (the newest three) as far as the kubernetes/kubernetes snapshot
#: shows: CHANGELOG-1.36.md has v1.36.0, CHANGELOG-1.37.md only v1.37.0-alpha.1
OLDEST_VERSION = "v1.34.0"
NEWEST_VERSION = "v1.36.99"

# ------------------------------------------------------------------------------------------- paths
BIN_DIR = "/usr/local/bin"
KUBEADM = f"{BIN_DIR}/kubeadm"
KUBELET = f"{BIN_DIR}/kubelet"
KUBECTL = f"{BIN_DIR}/kubectl"
BINARIES = ("kubeadm", "kubelet", "kubectl")
#: installed when the image ships them; etcdctl on the host lets sealkit manage etcd members without
#: `kubectl exec` into the etcd pod (which needs a working pods/exec path through the apiserver)
OPTIONAL_BINARIES = ("crictl", "etcdctl")
#: what kubeadm needs on PATH (it runs kubelet, systemctl, iptables, … by name)
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

K8S_DIR = "/etc/kubernetes"
PKI_DIR = certs.PKI
MANIFESTS = f"{K8S_DIR}/manifests"
MANIFESTS_PARKED = f"{K8S_DIR}/manifests-sealkit-restart"
ADMIN_CONF = f"{K8S_DIR}/admin.conf"
KUBELET_CONF = f"{K8S_DIR}/kubelet.conf"
INIT_CONFIG = f"{K8S_DIR}/kubeadm-init.yaml"
JOIN_CONFIG = f"{K8S_DIR}/kubeadm-join.yaml"
ETCD_DIR = "/var/lib/etcd"
KUBELET_DIR = "/var/lib/kubelet"

KUBELET_UNIT = "kubelet.service"
KUBELET_DROPIN = "kubelet.service.d/10-kubeadm.conf"
CONTAINERD_UNIT = "containerd.service"
CONTAINERD_CONFIG = "/etc/containerd/config.toml"
CONTAINERD_BACKUP = f"{CONTAINERD_CONFIG}.sealkit-orig"
CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
CRI_SOCKET = f"unix://{CONTAINERD_SOCKET}"
#: from the image's bin/, when it ships containerd (containerd and the shim are required then)
CONTAINERD_BINARIES = ("containerd", "containerd-shim-runc-v2", "ctr", "runc")

SYSCTL_FILE = "/etc/sysctl.d/99-sealkit-kubeadm.conf"
MODULES_FILE = "/etc/modules-load.d/sealkit-kubeadm.conf"
HOSTS_FILE = "/etc/hosts"
CNI_CONF_DIR = "/etc/cni/net.d"

#: marker in every file this plugin writes; reset recognises its own files by it
MARK = "written by sealkit (runtime kubeadm)"
#: the controlPlaneEndpoint name (sealos' choice, so migrated clusters keep their kubeconfigs)
APISERVER_NAME = "apiserver.cluster.local"
HOSTS_BEGIN = "# sealkit-kubeadm begin"
HOSTS_END = "# sealkit-kubeadm end"

TOKEN_TTL = "24h0m0s"
#: a join's own token: long enough for kubeadm join (KUBEADM_TIMEOUT) and the kubelet's TLS bootstrap
JOIN_TOKEN_TTL = "2h0m0s"
TOKEN_GROUP = "system:bootstrappers:kubeadm:default-node-token"
IGNORE_PREFLIGHT_ENV = "KUBEADM_IGNORE_PREFLIGHT_ERRORS"
ETCD_PEER_PORT = 2380
CONTROL_PLANE_PORTS = (6443, 2379, 2380, 10257, 10259)

#: seconds; kubeadm init/join pull images and wait for the control plane themselves
KUBEADM_TIMEOUT = 900
UPGRADE_TIMEOUT = 1800
READY_TIMEOUT = 300
#: how long a half-done host gets to become healthy before it is wiped and redone
SETTLE_TIMEOUT = 60

_ETCDCTL_TLS = (
    "--endpoints=https://127.0.0.1:2379 "
    f"--cacert={PKI_DIR}/etcd/ca.crt "
    f"--cert={PKI_DIR}/etcd/healthcheck-client.crt "
    f"--key={PKI_DIR}/etcd/healthcheck-client.key"
)


# ----------------------------------------------------------------------------------------- versions
def kube_version(version: str) -> str:
    """``v1.30.4`` from ``1.30.4`` / ``v1.30.4``; PluginError when it is not a Kubernetes version."""
    v = version.strip()
    if not re.match(r"^v?1\.\d+\.\d+([-+.][0-9A-Za-z.+-]*)?$", v):
        raise PluginError(
            f"cluster image version {version!r} is not a Kubernetes version (v1.MINOR.PATCH)",
            hint="label the kubeadm cluster image with sealkit.io/version=v1.30.4 (or similar)",
        )
    return v if v.startswith("v") else f"v{v}"


def kube_minor(version: str) -> int:
    return int(kube_version(version).split(".")[1])


def kubeadm_api(version: str) -> str:
    """kubeadm.k8s.io/v1beta4 from 1.31 (where it appeared), v1beta3 before."""
    return "kubeadm.k8s.io/v1beta4" if kube_minor(version) >= 31 else "kubeadm.k8s.io/v1beta3"


def default_pause_tag(version: str) -> str:
    """The pause tag kubeadm's constants pin for a minor (``kubeadm config images list``)."""
    minor = kube_minor(version)
    if minor <= 25:
        return "3.8"
    if minor <= 30:
        return "3.9"
    if minor <= 33:
        return "3.10"
    return "3.10.1"


def pause_tag(version: str, image_names: list[str] | tuple[str, ...] = ()) -> str:
    """The pause tag the cluster image ships (the newest if several), else kubeadm's default."""
    tags = [n.rsplit(":", 1)[1] for n in image_names if re.search(r"/pause:[\w.-]+$", n)]
    if not tags:
        return default_pause_tag(version)

    def key(tag: str) -> tuple[int, ...]:
        return tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[.-]", tag))

    return max(tags, key=key)


def containerd_major(version_output: str) -> int:
    """Major version from ``containerd --version`` (``… 1.6.20~ds1 …``, ``… v2.0.0 …``)."""
    for word in version_output.split()[1:]:
        m = re.match(r"^v?(\d+)\.\d+", word)
        if m:
            return int(m.group(1))
    raise StepFailed(
        f"cannot read the containerd version from {version_output.strip()!r}",
        step="containerd",
        hint="check that `containerd --version` works on the host",
    )


# -------------------------------------------------------------------------------------- cluster bits
def registry_address(ctx: ClusterContext) -> str:
    from sealkit.api import registry_settings

    domain, port, _ = registry_settings(ctx)
    return f"{domain}:{port}"


def control_plane_endpoint(ctx: ClusterContext) -> str:
    return f"{APISERVER_NAME}:{ctx.runtime.apiserver_port}"


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def signing_duration(ctx: ClusterContext) -> str:
    """The cluster's certificate validity as a Go duration (36500 days → ``876000h``)."""
    return f"{int(ctx.cluster.certs.validity_days) * 24}h"


def join_token(ctx: ClusterContext) -> str:
    """The cluster's bootstrap token; made once, kept in the cluster state (0600)."""

    def make() -> str:
        alphabet = string.ascii_lowercase + string.digits
        pick = "".join(secrets.choice(alphabet) for _ in range(22))
        return f"{pick[:6]}.{pick[6:]}"

    token = ctx.state.secret("kubeadm-token", make)
    if re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}", token):
        return token
    raise PluginError(
        f"{ctx.state.dir / 'secrets' / 'kubeadm-token'} does not hold a kubeadm bootstrap token "
        "([a-z0-9]{6}.[a-z0-9]{16})",
        hint="delete that file to have sealkit generate a new one",
    )


def ca_cert_hash(ctx: ClusterContext) -> str:
    """kubeadm's discovery-token-ca-cert-hash: sha256 of the CA's DER SubjectPublicKeyInfo."""
    from sealkit.api import spki_sha256

    return "sha256:" + spki_sha256(ctx.pki.get_ca(certs.CA.name).cert.public_key())


def control_master(ctx: ClusterContext, exclude: HostRef | None = None) -> HostRef:
    """The master kubectl/kubeadm commands run against: the first one not being removed."""
    for m in ctx.masters:
        if (exclude is None or m.ip != exclude.ip) and not m.facts.get("removed"):
            return m
    raise StepFailed(
        "no master is left to run the cluster commands on",
        host=exclude.ip if exclude else None,
        hint="keep at least one master in the cluster (sealkit reset removes all of it)",
    )


def kubectl(args: str, *, server: str | None = None) -> str:
    """A kubectl command line with the admin kubeconfig (optionally against one apiserver)."""
    srv = f" --server {shlex.quote(server)}" if server else ""
    return f"{KUBECTL} --kubeconfig {ADMIN_CONF}{srv} {args}"


def _local_url(ctx: ClusterContext, host: HostRef) -> str:
    return Endpoint(host.ip, ctx.runtime.apiserver_port).url()


# ------------------------------------------------------------------------------ user kubeadm documents
#: field paths sealkit decides (user documents may not change them: the PKI, the HA wiring, reset
#: and the join flow depend on them); everything else in a user's document is merged in
_OWNED: dict[str, tuple[tuple[str, ...], ...]] = {
    "ClusterConfiguration": (
        ("kubernetesVersion",),
        ("controlPlaneEndpoint",),
        ("certificatesDir",),
        ("networking",),
        ("etcd", "local", "dataDir"),
    ),
    "InitConfiguration": (
        ("bootstrapTokens",),
        ("localAPIEndpoint",),
        ("nodeRegistration", "name"),
        ("nodeRegistration", "criSocket"),
    ),
    "JoinConfiguration": (
        ("discovery",),
        ("controlPlane",),
        ("caCertPath",),
        ("nodeRegistration", "name"),
        ("nodeRegistration", "criSocket"),
    ),
    "KubeletConfiguration": (("cgroupDriver",), ("tlsCertFile",), ("tlsPrivateKeyFile",)),
    "KubeProxyConfiguration": (),
}
_GROUPS = ("kubeadm.k8s.io/", "kubelet.config.k8s.io/", "kubeproxy.config.k8s.io/")
#: where kubeadm keeps component flags (a map in v1beta3, a list of {name, value} in v1beta4)
_ARG_PATHS = (
    ("apiServer", "extraArgs"),
    ("controllerManager", "extraArgs"),
    ("scheduler", "extraArgs"),
    ("etcd", "local", "extraArgs"),
    ("nodeRegistration", "kubeletExtraArgs"),
)


def user_documents(ctx: ClusterContext) -> dict[str, dict[str, Any]]:
    """kubeadm/kubelet/kube-proxy documents of the Clusterfile (sealos users keep them there)."""
    out: dict[str, dict[str, Any]] = {}
    for doc in ctx.cluster.documents or []:
        if not isinstance(doc, dict):
            continue
        kind, api = str(doc.get("kind", "")), str(doc.get("apiVersion", ""))
        if kind in _OWNED and api.startswith(_GROUPS):
            out[kind] = _args_to_map(copy.deepcopy(doc))
    return out


def _get(d: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _args_to_map(doc: dict[str, Any]) -> dict[str, Any]:
    """Normalise every extra-args field to ``{name: value}`` (v1beta4 lists accepted)."""
    for path in _ARG_PATHS:
        parent = _get(doc, path[:-1]) if len(path) > 1 else doc
        if isinstance(parent, dict) and isinstance(parent.get(path[-1]), list):
            parent[path[-1]] = {
                str(a["name"]): str(a.get("value", ""))
                for a in parent[path[-1]]
                if isinstance(a, dict) and "name" in a
            }
    return doc


def _args_for_api(doc: dict[str, Any], api: str) -> dict[str, Any]:
    """Render extra-args maps in the form ``api`` expects (sorted, so output is deterministic)."""
    for path in _ARG_PATHS:
        parent = _get(doc, path[:-1]) if len(path) > 1 else doc
        if isinstance(parent, dict) and isinstance(parent.get(path[-1]), dict):
            args = parent[path[-1]]
            if api.endswith("v1beta4"):
                parent[path[-1]] = [{"name": k, "value": str(args[k])} for k in sorted(args)]
            else:
                parent[path[-1]] = {k: str(args[k]) for k in sorted(args)}
    return doc


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _with_user(ctx: ClusterContext, ours: dict[str, Any]) -> dict[str, Any]:
    """``ours`` with the user's document of the same kind merged in, sealkit's fields kept."""
    kind = ours["kind"]
    user = user_documents(ctx).get(kind)
    if not user:
        return ours
    merged = _merge(ours, {k: v for k, v in user.items() if k not in ("apiVersion", "kind")})
    for path in _OWNED[kind]:
        theirs, mine = _get(user, path), _get(ours, path)
        if theirs is not None and theirs != mine:
            ctx.log.warning(
                "kubeadm: %s.%s from the Clusterfile is ignored (sealkit sets it; use spec.network, "
                "spec.certs, spec.ha instead)",
                kind,
                ".".join(path),
            )
        parent = _get(merged, path[:-1]) if len(path) > 1 else merged
        if isinstance(parent, dict):
            if mine is None:
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = copy.deepcopy(mine)
    if kind == "ClusterConfiguration":
        sans = [*(_get(ours, ("apiServer", "certSANs")) or [])]
        sans += [s for s in (_get(user, ("apiServer", "certSANs")) or []) if s not in sans]
        merged.setdefault("apiServer", {})["certSANs"] = sans
    return merged


def user_cert_sans(ctx: ClusterContext) -> list[str]:
    """``apiServer.certSANs`` of a user ClusterConfiguration: they must be in our certificates."""
    doc = user_documents(ctx).get("ClusterConfiguration") or {}
    return [str(s) for s in (_get(doc, ("apiServer", "certSANs")) or [])]


# ---------------------------------------------------------------------------------- kubeadm configs
def cert_sans(ctx: ClusterContext) -> list[str]:
    """The SANs beyond kubeadm's own: the endpoint name, the HA endpoint, the user's extra SANs."""
    out: list[str] = []
    for san in (APISERVER_NAME, ctx.endpoint().host, *ctx.cluster.certs.extra_sans):
        if san and san not in out:
            out.append(san)
    return out


def layout_input(ctx: ClusterContext, host: HostRef) -> LayoutInput:
    """The PKI input for ``host``: endpoint = the controlPlaneEndpoint name, VIP as an extra SAN."""
    li = ctx.layout_input(host)
    extra: list[str] = []
    for san in (*li.extra_sans, li.endpoint_host, *user_cert_sans(ctx)):
        if san and san != APISERVER_NAME and san not in extra:
            extra.append(san)
    return replace(li, endpoint_host=APISERVER_NAME, extra_sans=tuple(extra))


def node_registration(ctx: ClusterContext, host: HostRef) -> dict[str, Any]:
    reg: dict[str, Any] = {
        "name": host.name,
        "criSocket": CRI_SOCKET,
        "kubeletExtraArgs": {"node-ip": host.ip},
    }
    if host.is_master and not ctx.cluster.nodes:
        reg["taints"] = []  # masters-only cluster: workloads must be able to run on them
    ignore = ctx.cluster.env_for(host.spec).get(IGNORE_PREFLIGHT_ENV, "")
    checks = [c.strip() for c in ignore.split(",") if c.strip()]
    if checks:
        reg["ignorePreflightErrors"] = checks
    return reg


def cluster_configuration(ctx: ClusterContext) -> dict[str, Any]:
    """ClusterConfiguration with extra args as maps (rendered per API version later)."""
    version = kube_version(ctx.image_version)
    reg = registry_address(ctx)
    net = ctx.cluster.network
    ours: dict[str, Any] = {
        "apiVersion": kubeadm_api(version),
        "kind": "ClusterConfiguration",
        "kubernetesVersion": version,
        "controlPlaneEndpoint": control_plane_endpoint(ctx),
        "certificatesDir": PKI_DIR,
        "imageRepository": reg,
        "dns": {"imageRepository": f"{reg}/coredns"},
        "etcd": {"local": {"dataDir": ETCD_DIR}},
        "networking": {
            "podSubnet": net.pod_cidr,
            "serviceSubnet": net.service_cidr,
            "dnsDomain": net.dns_domain,
        },
        "apiServer": {"certSANs": cert_sans(ctx)},
        "controllerManager": {"extraArgs": {"cluster-signing-duration": signing_duration(ctx)}},
    }
    return _with_user(ctx, ours)


def kubelet_configuration(ctx: ClusterContext) -> dict[str, Any]:
    """Cluster-wide kubelet settings (kubeadm uploads them; joining nodes download them)."""
    ours = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "cgroupDriver": "systemd",
        # the serving certificate the PKI signed (kubelet would self-sign one for a year)
        "tlsCertFile": f"{certs.KUBELET_PKI}/kubelet.crt",
        "tlsPrivateKeyFile": f"{certs.KUBELET_PKI}/kubelet.key",
    }
    return _with_user(ctx, ours)


def init_configuration(ctx: ClusterContext, host: HostRef, token: str) -> dict[str, Any]:
    ours = {
        "apiVersion": kubeadm_api(ctx.image_version),
        "kind": "InitConfiguration",
        "bootstrapTokens": [
            {
                "token": token,
                "ttl": TOKEN_TTL,
                "usages": ["signing", "authentication"],
                "groups": [TOKEN_GROUP],
                "description": "sealkit join token (re-created before every join)",
            }
        ],
        "localAPIEndpoint": {"advertiseAddress": host.ip, "bindPort": ctx.runtime.apiserver_port},
        "nodeRegistration": node_registration(ctx, host),
    }
    return _with_user(ctx, ours)


def join_configuration(ctx: ClusterContext, host: HostRef, token: str, *, via: str) -> dict[str, Any]:
    """JoinConfiguration; ``via`` is the discovery endpoint (``host:port``)."""
    ours: dict[str, Any] = {
        "apiVersion": kubeadm_api(ctx.image_version),
        "kind": "JoinConfiguration",
        "caCertPath": f"{PKI_DIR}/ca.crt",
        "discovery": {
            "bootstrapToken": {
                "apiServerEndpoint": via,
                "token": token,
                "caCertHashes": [ca_cert_hash(ctx)],
            }
        },
        "nodeRegistration": node_registration(ctx, host),
    }
    if host.is_master:
        ours["controlPlane"] = {
            "localAPIEndpoint": {
                "advertiseAddress": host.ip,
                "bindPort": ctx.runtime.apiserver_port,
            }
        }
    return _with_user(ctx, ours)


def render_documents(docs: list[dict[str, Any]]) -> str:
    api = next((d["apiVersion"] for d in docs if d["apiVersion"].startswith("kubeadm.")), "")
    body = "---\n".join(yaml.safe_dump(_args_for_api(copy.deepcopy(d), api), sort_keys=False) for d in docs)
    return f"# {MARK}; holds the join token: keep 0600\n{body}"


def init_config_text(ctx: ClusterContext, host: HostRef) -> str:
    """``kubeadm-init.yaml`` for ``host``: Init + Cluster + Kubelet (+ the user's KubeProxy)."""
    token = join_token(ctx)
    docs = [
        init_configuration(ctx, host, token),
        cluster_configuration(ctx),
        kubelet_configuration(ctx),
    ]
    proxy = user_documents(ctx).get("KubeProxyConfiguration")
    if proxy:
        docs.append(proxy)
    return render_documents(docs)


def join_config_text(ctx: ClusterContext, host: HostRef, via: str, token: str | None = None) -> str:
    """``kubeadm-join.yaml``; ``token`` is the fresh one created for this join (the cluster's own
    token from ``kubeadm init`` when None)."""
    return render_documents([join_configuration(ctx, host, token or join_token(ctx), via=via)])


def parse_created_token(output: str, host: str) -> str:
    """The token ``kubeadm token create`` printed (its only stdout line); StepFailed otherwise."""
    found = [w for w in output.split() if re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}", w)]
    if len(found) != 1:
        raise StepFailed(
            f"kubeadm token create printed {len(found)} bootstrap tokens, expected exactly one",
            host=host,
            step="kubeadm token create",
            hint="run `kubeadm token create --kubeconfig /etc/kubernetes/admin.conf` on the first "
            "master and check that the apiserver answers",
        )
    return found[0]


# --------------------------------------------------------------------------------- units and files
_KUBELET_UNIT = f"""\
# {MARK}: the kubelet unit of the official packages, binary in {BIN_DIR}
[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart={KUBELET}
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
"""

_KUBELET_DROPIN = f"""\
# {MARK}: the 10-kubeadm.conf drop-in of the official kubeadm package
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig={K8S_DIR}/bootstrap-kubelet.conf \
--kubeconfig={KUBELET_CONF}"
Environment="KUBELET_CONFIG_ARGS=--config={KUBELET_DIR}/config.yaml"
# kubeadm init/join write KUBELET_KUBEADM_ARGS (node-ip, hostname override, ...) here
EnvironmentFile=-{KUBELET_DIR}/kubeadm-flags.env
# the admin's last-resort overrides (KUBELET_EXTRA_ARGS), as with the deb packages
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart={KUBELET} $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS \
$KUBELET_EXTRA_ARGS
"""

_CONTAINERD_UNIT = f"""\
# {MARK}: containerd's upstream unit, binary from the cluster image in {BIN_DIR}
[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target local-fs.target

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart={BIN_DIR}/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
"""


def kubelet_unit() -> str:
    return _KUBELET_UNIT


def kubelet_dropin() -> str:
    return _KUBELET_DROPIN


def containerd_unit() -> str:
    return _CONTAINERD_UNIT


def sysctl_conf(ctx: ClusterContext) -> str:
    """What kubeadm's preflight and kube-proxy expect (kubernetes.io "Container runtimes")."""
    net = ctx.cluster.network
    lines = [
        f"# {MARK}",
        "net.ipv4.ip_forward = 1",
        "net.bridge.bridge-nf-call-iptables = 1",
        "net.bridge.bridge-nf-call-ip6tables = 1",
    ]
    if ":" in net.pod_cidr or ":" in net.service_cidr:
        lines += ["net.ipv6.conf.all.forwarding = 1", "net.ipv6.conf.default.forwarding = 1"]
    return "\n".join(lines) + "\n"


def modules_conf() -> str:
    return f"# {MARK}\noverlay\nbr_netfilter\n"


def containerd_config(registry: RegistryInfo, major: int, sandbox_image: str) -> str:
    """Minimal containerd config.toml (v2 for containerd 1.x, v3 for 2.x); a secret (0600)."""
    from sealkit.api import CERTS_D, containerd_cri_registry_toml

    if major == 1:
        runtime = '"io.containerd.grpc.v1.cri"'
        head = f"version = 2\n\n[plugins.{runtime}]\n  sandbox_image = {json.dumps(sandbox_image)}\n\n"
    else:
        runtime = '"io.containerd.cri.v1.runtime"'
        head = (
            "version = 3\n\n"
            '[plugins."io.containerd.cri.v1.images".pinned_images]\n'
            f"  sandbox = {json.dumps(sandbox_image)}\n\n"
        )
    return (
        f"# {MARK}: holds the registry pull credentials, keep 0600\n"
        + head
        + f"[plugins.{runtime}.containerd.runtimes.runc]\n"
        '  runtime_type = "io.containerd.runc.v2"\n\n'
        f"[plugins.{runtime}.containerd.runtimes.runc.options]\n"
        "  SystemdCgroup = true\n\n"
        + containerd_cri_registry_toml(registry, config_path=CERTS_D, containerd_major=major)
    )


def hosts_with_alias(text: str, ip: str | None) -> str:
    """``/etc/hosts`` with this plugin's block set to ``ip APISERVER_NAME`` (removed for None);
    every other line stays byte-for-byte."""
    kept: list[str] = []
    inside = False
    for line in text.splitlines(keepends=True):
        mark = line.strip()
        if mark == HOSTS_BEGIN:
            inside = True
        elif inside and mark == HOSTS_END:
            inside = False
        elif not inside:
            kept.append(line)
    if inside:
        raise PluginError(
            f"{HOSTS_FILE} has '{HOSTS_BEGIN}' without '{HOSTS_END}'",
            hint=f"delete the line '{HOSTS_BEGIN}' and the entry after it, then re-run",
        )
    body = "".join(kept)
    if ip is None:
        return body
    if body and not body.endswith("\n"):
        body += "\n"
    return f"{body}{HOSTS_BEGIN}\n{ip} {APISERVER_NAME}\n{HOSTS_END}\n"


def etcd_member_id(listing: str, name: str, ip: str) -> str | None:
    """The ID of ``name``/``ip`` in ``etcdctl member list`` (simple format), or None."""
    peer = f"https://{_hostport(ip, ETCD_PEER_PORT)}"
    for line in listing.splitlines():
        parts = [p.strip() for p in line.split(", ")]
        if len(parts) < 4 or not re.fullmatch(r"[0-9a-f]+", parts[0]):
            continue
        if parts[2] == name or peer in parts[3].split(","):
            return parts[0]
    return None


def reset_steps() -> list[tuple[str, str]]:
    """``(what, command)`` of reset after ``kubeadm reset``, each idempotent.

    ``kubeadm reset -f`` stops the kubelet, removes the cluster's containers, unmounts and empties
    /var/lib/kubelet, empties /etc/kubernetes/manifests and the certificates dir and deletes the
    kubeconfigs. It leaves (its own documentation says so) /etc/cni/net.d, iptables/IPVS rules and
    kubeconfigs elsewhere; with remove-etcd-member skipped it also leaves /var/lib/etcd. Removed
    here: those (iptables: only KUBE-/CNI-/FLANNEL- chains and the rules that use them; links cni0,
    flannel.1, flannel-v6.1, kube-ipvs0), our kubeadm configs, units and binaries. Not touched:
    /opt/cni/bin (CNI plugins a CNI DaemonSet copied; possibly shared with other runtimes), IPVS
    tables, live sysctl values (until reboot).
    """
    chains = "KUBE-|CNI-|FLANNEL-"
    iptables = (
        "for t in iptables ip6tables; do "
        'command -v "$t-save" >/dev/null 2>&1 && command -v "$t-restore" >/dev/null 2>&1 || continue; '
        f"if \"$t-save\" 2>/dev/null | grep -qE '{chains}'; then "
        f'"$t-save" | grep -vE \'{chains}\' | "$t-restore" || exit 1; fi; done'
    )
    links = (
        "for l in cni0 flannel.1 flannel-v6.1 kube-ipvs0; do "
        'if ip link show "$l" >/dev/null 2>&1; then ip link delete "$l" || exit 1; fi; done'
    )
    bins = " ".join(f"{BIN_DIR}/{b} {BIN_DIR}/{b}.sealkit-new" for b in (*BINARIES, *OPTIONAL_BINARIES))
    return [
        ("iptables rules of kube-proxy and CNI", iptables),
        ("CNI and kube-proxy network links", links),
        ("kubeadm, kubelet, kubectl binaries", f"rm -f {bins}"),
    ]


def containerd_reset_script(ours: bool) -> str:
    """Undo the containerd setup: all of it when the image's containerd was installed, else only
    our config (the host's original restored), our mirror dirs and the Kubernetes images."""
    if ours:
        bins = " ".join(f"{BIN_DIR}/{b} {BIN_DIR}/{b}.sealkit-new" for b in CONTAINERD_BINARIES)
        return f"rm -f {bins}"
    return (
        f"if [ -e {CONTAINERD_BACKUP} ]; then mv -f {CONTAINERD_BACKUP} {CONTAINERD_CONFIG}; "
        f"elif grep -qsF '{MARK}' {CONTAINERD_CONFIG}; then rm -f {CONTAINERD_CONFIG}; fi; "
        'for d in /etc/containerd/certs.d/*/; do [ -d "$d" ] || continue; '
        'if grep -qsF \'Managed by sealkit\' "$d/hosts.toml"; then rm -rf "$d"; fi; done; '
        "if systemctl is-active -q containerd; then "
        "if command -v ctr >/dev/null 2>&1; then "
        # --sync: the garbage collection (snapshot dirs included) ends before the restart, not after it
        "ctr -n k8s.io images ls -q | xargs -r ctr -n k8s.io images rm --sync >/dev/null || exit 1; fi; "
        "systemctl restart containerd; fi"
    )


def claimed_dirs(host: HostRef) -> list[ownership.Claimed]:
    """Directories kubeadm fills that may hold the host's own data: etcd's on masters (stacked etcd;
    kubeadm's preflight DirAvailable--var-lib-etcd and reset's CleanDir act on it), CNI config."""
    dirs = [ownership.Claimed(CNI_CONF_DIR, "CNI config dir")]
    if host.is_master:
        dirs.insert(0, ownership.Claimed(ETCD_DIR, "etcd data dir"))
    return dirs


# ------------------------------------------------------------------------------------------ plugin
class Runtime:
    """Hook implementations of the kubeadm runtime."""

    # ----------------------------------------------------------------------------------- describe
    @hookimpl
    def sealkit_runtime_info(self) -> RuntimeInfo:
        return RuntimeInfo(
            name="kubeadm",
            default_ha="haproxy",  # kubeadm brings no apiserver load balancer
            binaries=BINARIES,
            master_ports=(6443, 2379, 2380, 10250, 10257, 10259),
            node_ports=(10250,),
            description="kubeadm init/join on containerd; sealkit's PKI pre-placed",
            oldest_version=OLDEST_VERSION,
            newest_version=NEWEST_VERSION,
        )

    @hookimpl
    def sealkit_cert_specs(self, ctx: ClusterContext, host: HostRef) -> Layout:
        return certs.cert_layout(layout_input(ctx, host))

    @hookimpl
    def sealkit_registry_mirror_config(
        self, ctx: ClusterContext, host: HostRef, registry: RegistryInfo
    ) -> list[FileSpec]:
        from sealkit.api import mirrors

        return mirrors.containerd_files(registry, mirrors.upstreams_for(self._image_names(ctx)))

    @hookimpl
    def sealkit_host_checks(self, ctx: ClusterContext) -> list[str]:
        return [str(Path(__file__).with_name("checks") / "kubeadm_host_checks.py")]

    @hookimpl
    def sealkit_host_expectations(self, ctx: ClusterContext, host: HostRef) -> hostops.Expectations:
        """containerd and the kubelet running; the kubelet's unit and drop-in and the kernel settings
        files as prepare writes them. The containerd config depends on the host's containerd release
        and kubeadm's own files are kubeadm's: neither is declared."""
        kubelet = (KUBELET_UNIT,)
        return hostops.Expectations(
            units=(CONTAINERD_UNIT, KUBELET_UNIT),
            files=(
                hostops.ExpectedFile(
                    f"{hostops.UNIT_DIR}/{KUBELET_UNIT}", kubelet_unit().encode(), 0o644, kubelet
                ),
                hostops.ExpectedFile(
                    f"{hostops.UNIT_DIR}/{KUBELET_DROPIN}", kubelet_dropin().encode(), 0o644, kubelet
                ),
                hostops.ExpectedFile(MODULES_FILE, modules_conf().encode(), 0o644),
                hostops.ExpectedFile(SYSCTL_FILE, sysctl_conf(ctx).encode(), 0o644),
            ),
        )

    @hookimpl
    def sealkit_runtime_version(self, ctx: ClusterContext, host: HostRef) -> str | None:
        res = host.conn.run(f"{KUBELET} --version", check=False, timeout=30)
        if res.rc != 0:
            return None
        m = re.search(r"\bv\d+\.\d+\.\d+\S*", res.stdout)
        return m.group(0) if m else res.stdout.strip() or None

    # ---------------------------------------------------------------------------------- preflight
    @hookimpl
    def sealkit_preflight(self, ctx: ClusterContext, host: HostRef) -> list[str]:
        problems: list[str] = []
        ep = ctx.endpoint()
        if ep.port != ctx.runtime.apiserver_port:
            problems.append(
                f"spec.ha.port is {ep.port}, the apiserver port is {ctx.runtime.apiserver_port}: "
                f"the kubeadm runtime uses one controlPlaneEndpoint ({APISERVER_NAME}:port) on "
                "masters and workers; set spec.ha.port to the apiserver port"
            )
        try:
            if kube_minor(ctx.image_version) < 22:
                problems.append(f"Kubernetes {ctx.image_version}: kubeadm < 1.22 is not supported")
        except PluginError as err:
            problems.append(err.message)
        claimed = claimed_dirs(host)
        facts = ownership.parse_probe(
            host.conn.run(ownership.probe_script("kubeadm", claimed), timeout=30).stdout
        )
        problems += ownership.foreign(facts, claimed, ownership.take_over(ctx, host), host=host.ip)
        shipped = self._shipped(ctx)
        if shipped is not None:
            missing = [b for b in BINARIES if b not in shipped]
            if missing:
                problems.append(f"the cluster image lacks bin/{', bin/'.join(missing)}")
        need = [b for b in ("containerd", "runc") if shipped is None or b not in shipped]
        if need:
            res = host.conn.run(
                f"{PATH_ENV}; for b in {' '.join(need)}; do "
                'command -v "$b" >/dev/null 2>&1 || echo "missing:$b"; done; true',
                timeout=30,
            )
            for word in res.stdout.split():
                if word.startswith("missing:"):
                    problems.append(
                        f"{word[8:]} is not installed and the cluster image does not ship "
                        f"bin/{word[8:]}: install it (containerd + runc) or use an image that ships it"
                    )
        return problems

    # ------------------------------------------------------------------------------------ prepare
    @hookimpl
    def sealkit_prepare_host(self, ctx: ClusterContext, host: HostRef) -> None:
        ownership.remember(host, "kubeadm", claimed_dirs(host), ownership.take_over(ctx, host))
        self._kernel_settings(ctx, host)
        self._ensure_containerd(ctx, host)
        for name in BINARIES:
            hostops.install_binary(host, ctx.remote_rootfs, name, BIN_DIR)
        for name in self._present(host, ctx.remote_rootfs, OPTIONAL_BINARIES):
            hostops.install_binary(host, ctx.remote_rootfs, name, BIN_DIR)
        hostops.write_unit(host, KUBELET_UNIT, kubelet_unit())
        hostops.write_unit(host, KUBELET_DROPIN, kubelet_dropin())
        # enabled, not started: kubeadm writes the kubelet's config and restarts it (a kubelet
        # started earlier would only crash-loop)
        hostops.systemctl(host, "enable", KUBELET_UNIT, timeout=60)
        if not host.is_master:
            self._set_alias(host, ctx.endpoint().host)
        elif host.ip == control_master(ctx).ip:
            self._set_alias(host, host.ip)
        else:
            self._set_alias(host, control_master(ctx, exclude=host).ip)

    def _kernel_settings(self, ctx: ClusterContext, host: HostRef) -> None:
        hostops.write_file(host, MODULES_FILE, modules_conf())
        hostops.write_file(host, SYSCTL_FILE, sysctl_conf(ctx))
        for what, cmd in (
            ("load the overlay and br_netfilter modules", "modprobe -a overlay br_netfilter"),
            ("apply the sysctl settings", f"sysctl -e -p {SYSCTL_FILE}"),
        ):
            res = host.conn.run(f"{PATH_ENV}; {cmd}", check=False, timeout=60)
            if res.rc != 0:
                last = (res.stderr or res.stdout).strip().splitlines()[-1:] or [f"exit {res.rc}"]
                ctx.log.warning(
                    "%s: could not %s now (%s); they apply at boot, and kubeadm's preflight "
                    "reports it if Kubernetes needs them",
                    host,
                    what,
                    last[0],
                )

    def _ensure_containerd(self, ctx: ClusterContext, host: HostRef) -> None:
        """containerd installed, configured for Kubernetes and running; restarted only on change."""
        from sealkit.api import registry_info

        root = ctx.remote_rootfs
        shipped = self._present(host, root, CONTAINERD_BINARIES)
        changed = False
        if "containerd" in shipped:
            for name in shipped:
                changed = hostops.install_binary(host, root, name, BIN_DIR) or changed
            changed = hostops.write_unit(host, CONTAINERD_UNIT, containerd_unit()) or changed
            exe = f"{BIN_DIR}/containerd"
        else:
            exe = "containerd"
        needed = f"{exe} containerd-shim-runc-v2 runc"
        missing = host.conn.run(
            f'{PATH_ENV}; for b in {needed}; do command -v "$b" >/dev/null 2>&1 || echo "$b"; done; true',
            timeout=30,
        ).stdout.split()
        if missing:
            raise StepFailed(
                f"{', '.join(missing)} not found on the host and not shipped in the image",
                host=host.ip,
                step="containerd",
                hint="install containerd (with containerd-shim-runc-v2) and runc on the host, or "
                "ship them in the cluster image's bin/",
            )
        major = containerd_major(host.conn.run(f"{PATH_ENV}; {exe} --version", timeout=30).stdout)
        version = kube_version(ctx.image_version)
        sandbox = f"{cluster_configuration(ctx)['imageRepository']}/pause:" + pause_tag(
            version, self._image_names(ctx)
        )
        text = containerd_config(registry_info(ctx), major, sandbox)
        host.conn.run(
            f"if [ -e {CONTAINERD_CONFIG} ] && [ ! -e {CONTAINERD_BACKUP} ] && "
            f"! grep -qF '{MARK}' {CONTAINERD_CONFIG}; then "
            f"cp -p {CONTAINERD_CONFIG} {CONTAINERD_BACKUP}; fi; mkdir -p /etc/containerd/certs.d",
            timeout=30,
        )
        changed = hostops.write_file(host, CONTAINERD_CONFIG, text, 0o600) or changed
        hostops.remember_unit_state(host, CONTAINERD_UNIT, hostops.CONTAINERD_RUNTIME_PATHS)
        hostops.start_or_restart(host, CONTAINERD_UNIT, changed=changed, timeout=120)
        hostops.wait_until(
            host, f"test -S {CONTAINERD_SOCKET}", what="containerd socket", timeout=60, interval=1
        )

    # --------------------------------------------------------------------------------------- init
    @hookimpl
    def sealkit_init_cluster(self, ctx: ClusterContext, host: HostRef) -> bool:
        self._set_alias(host, host.ip)
        left = self._leftovers(host)
        if left and self._settled(ctx, host, host, left, need_manifests=True):
            ctx.log.info("%s: kubeadm: control plane already initialised", host)
            return True
        if left:
            ctx.log.warning("%s: kubeadm: half-done init (%s): reset and init again", host, left)
            self._wipe(ctx, host)
        hostops.write_file(host, INIT_CONFIG, init_config_text(ctx, host), 0o600)
        self._kubeadm(host, f"init --config {INIT_CONFIG} --skip-token-print", "kubeadm init")
        self._wait_ready(ctx, host)
        self._wait_registered(host, host)
        return True

    # --------------------------------------------------------------------------------------- join
    @hookimpl
    def sealkit_join_master(self, ctx: ClusterContext, host: HostRef) -> bool:
        control = control_master(ctx, exclude=host)
        left = self._leftovers(host)
        if left and self._settled(ctx, host, control, left, need_manifests=True):
            self._set_alias(host, host.ip)
            ctx.log.info("%s: kubeadm: already a control-plane member", host)
            return True
        if left:
            ctx.log.warning("%s: kubeadm: half-done join (%s): reset and join again", host, left)
            self._forget(control, host)
            self._wipe(ctx, host)
        self._set_alias(host, control.ip)  # until our own apiserver serves
        token = self._join_token(control, host)
        via = _hostport(control.ip, ctx.runtime.apiserver_port)
        hostops.write_file(host, JOIN_CONFIG, join_config_text(ctx, host, via, token), 0o600)
        self._kubeadm(host, f"join --config {JOIN_CONFIG}", "kubeadm join (control plane)")
        self._wait_ready(ctx, host)
        self._set_alias(host, host.ip)
        self._wait_registered(control, host)
        return True

    @hookimpl
    def sealkit_join_node(self, ctx: ClusterContext, host: HostRef) -> bool:
        control = control_master(ctx)
        left = self._leftovers(host)
        if left and self._settled(ctx, host, control, left, need_manifests=False):
            ctx.log.info("%s: kubeadm: already joined", host)
            return True
        if left:
            ctx.log.warning("%s: kubeadm: half-done join (%s): reset and join again", host, left)
            self._wipe(ctx, host)
        ep = ctx.endpoint()
        self._set_alias(host, ep.host)
        token = self._join_token(control, host)
        via = _hostport(ep.host, ep.port)
        hostops.write_file(host, JOIN_CONFIG, join_config_text(ctx, host, via, token), 0o600)
        self._kubeadm(host, f"join --config {JOIN_CONFIG}", "kubeadm join")
        self._wait_registered(control, host)
        return True

    # ----------------------------------------------------------------------------- delete, reset
    @hookimpl
    def sealkit_drain_host(self, ctx: ClusterContext, host: HostRef) -> bool:
        """Drain and delete the node from a master that stays; for a master, its etcd member too."""
        stays = control_master(ctx, exclude=host)
        name = shlex.quote(host.name)
        stays.conn.run(
            f"n=$({kubectl(f'get node {name} --ignore-not-found -o name')}) || exit 1; "
            f'if [ -n "$n" ]; then '
            f"{kubectl(f'drain {name} --ignore-daemonsets --delete-emptydir-data --force --timeout=120s')}"
            f" && {kubectl(f'delete node {name} --ignore-not-found')}; fi",
            timeout=300,
        )
        if host.is_master:
            self._remove_etcd_member(stays, host)
        return True

    @hookimpl
    def sealkit_reset_host(self, ctx: ClusterContext, host: HostRef) -> None:
        """``kubeadm reset -f``, then everything it leaves and everything this plugin installed."""
        failures: list[str] = []
        res = host.conn.run(
            f"if [ -x {KUBEADM} ]; then {PATH_ENV} {KUBEADM} reset -f --cri-socket {CRI_SOCKET} "
            "--skip-phases=remove-etcd-member; fi",
            check=False,
            timeout=600,
        )
        if res.rc != 0:
            last = (res.stderr or res.stdout).strip().splitlines()[-1:] or [f"exit {res.rc}"]
            failures.append(f"kubeadm reset failed ({last[0]}): the cluster's containers may still run")
        host.conn.run(f"rm -rf {hostops.UNIT_DIR}/kubelet.service.d", timeout=60)
        hostops.remove_unit(host, KUBELET_UNIT)
        hostops.remove_paths(host, K8S_DIR, KUBELET_DIR, "/var/lib/cni", SYSCTL_FILE, MODULES_FILE)
        for what, cmd in reset_steps():
            res = host.conn.run(cmd, check=False, timeout=300)
            if res.rc != 0:
                failures.append(f"{what} left behind (rc={res.rc})")
        ours = host.conn.run(
            f"grep -qsF '{MARK}' {hostops.UNIT_DIR}/{CONTAINERD_UNIT} && echo ours; true",
            timeout=30,
        ).stdout.split() == ["ours"]
        if ours:
            hostops.remove_unit(host, CONTAINERD_UNIT)
            hostops.remove_paths(host, "/etc/containerd", "/var/lib/containerd", "/run/containerd")
        res = host.conn.run(containerd_reset_script(ours), check=False, timeout=300)
        if res.rc != 0:
            failures.append(f"containerd configuration or images left behind (rc={res.rc})")
        hostops.restore_unit_state(host, CONTAINERD_UNIT, hostops.CONTAINERD_RUNTIME_PATHS)
        # containerd's CRI recreates its CNI conf dir on every start: the claimed dirs (CNI config,
        # etcd data) go back to what the host had once containerd is back to the host's own state
        # (removed, emptied, or the parked content moved back), then the empty parents we created
        ownership.give_back(host, "kubeadm", claimed_dirs(host))
        host.conn.run(
            "for d in /etc/cni /etc/containerd/certs.d; do "
            '[ ! -d "$d" ] || rmdir --ignore-fail-on-non-empty "$d"; done',
            timeout=60,
        )
        self._set_alias(host, None)
        if failures:
            raise StepFailed(
                "reset incomplete: " + "; ".join(failures),
                host=host.ip,
                step="reset",
                hint="fix the cause on the host and run the reset again (it is safe to repeat)",
            )

    # ------------------------------------------------------------------------------------ upgrade
    @hookimpl
    def sealkit_upgrade_host(
        self, ctx: ClusterContext, host: HostRef, from_version: str, to_version: str
    ) -> bool:
        """New kubeadm → ``kubeadm upgrade apply|node --certificate-renewal=false`` → new kubelet."""
        version = kube_version(to_version)
        self._ensure_containerd(ctx, host)  # the pause image may change with the minor
        hostops.install_binary(host, ctx.remote_rootfs, "kubeadm", BIN_DIR)
        if host.is_master and host.ip == control_master(ctx).ip:
            cmd = f"upgrade apply {version} --certificate-renewal=false --yes"
        else:
            cmd = "upgrade node --certificate-renewal=false"
        self._kubeadm(host, cmd, f"kubeadm {cmd.split()[0]} {cmd.split()[1]}", UPGRADE_TIMEOUT)
        changed = False
        for name in ("kubelet", "kubectl"):
            changed = hostops.install_binary(host, ctx.remote_rootfs, name, BIN_DIR) or changed
        changed = hostops.write_unit(host, KUBELET_UNIT, kubelet_unit()) or changed
        changed = hostops.write_unit(host, KUBELET_DROPIN, kubelet_dropin()) or changed
        hostops.start_or_restart(host, KUBELET_UNIT, changed=changed, timeout=120)
        if host.is_master:
            self._wait_ready(ctx, host)
        where = host if host.is_master else control_master(ctx)
        hostops.wait_node_version(where, kubectl("").rstrip(), host.name, version, timeout=READY_TIMEOUT)
        return True

    # --------------------------------------------------------------------------------- kubeconfig
    @hookimpl
    def sealkit_get_kubeconfig(self, ctx: ClusterContext) -> str:
        """admin.conf of the first master, pointed at that master (the name resolves only on hosts)."""
        first = control_master(ctx)
        text = first.conn.run(f"cat {ADMIN_CONF}", timeout=30).stdout
        cfg = yaml.safe_load(text) or {}
        for cluster in cfg.get("clusters") or []:
            if isinstance(cluster, dict) and isinstance(cluster.get("cluster"), dict):
                cluster["cluster"]["server"] = _local_url(ctx, first)
        return yaml.safe_dump(cfg, sort_keys=False)

    # ----------------------------------------------------------------------------------- cert renew
    @hookimpl
    def sealkit_restart_after_certs(self, ctx: ClusterContext, host: HostRef) -> None:
        """Static pods do not reload every certificate: kubeadm's documented way is to move their
        manifests out of the kubelet's directory until the pods are gone, then back. The kubelet's
        serving certificate is read at start: restart it (workers: only that)."""
        if host.is_master:
            host.conn.run(
                f"mkdir -p {MANIFESTS_PARKED} && for f in {MANIFESTS}/*.yaml; do "
                f'[ -e "$f" ] && mv -f "$f" {MANIFESTS_PARKED}/; done; true',
                timeout=30,
            )
            ports = "|".join(str(p) for p in CONTROL_PLANE_PORTS)
            hostops.wait_until(
                host,
                f"! (ss -Hltn | awk '{{print $4}}' | grep -Eq ':({ports})$')",
                what="control-plane static pods stopped",
                timeout=READY_TIMEOUT,
            )
            host.conn.run(
                f"for f in {MANIFESTS_PARKED}/*.yaml; do "
                f'[ -e "$f" ] && mv -f "$f" {MANIFESTS}/; done; rmdir {MANIFESTS_PARKED}',
                timeout=30,
            )
        hostops.systemctl(host, "restart", KUBELET_UNIT, timeout=120)
        if host.is_master:
            self._wait_ready(ctx, host)

    # ------------------------------------------------------------------------------------ helpers
    def _image_names(self, ctx: ClusterContext) -> list[str]:
        """Container images the cluster image ships (names), read on the controller."""
        if ctx.local_rootfs is None:
            return []
        from sealkit.api import IMAGES_SUBDIR, image_names

        return image_names(Path(ctx.local_rootfs) / IMAGES_SUBDIR)

    def _shipped(self, ctx: ClusterContext) -> set[str] | None:
        """Files in the cluster image's bin/ (controller side), None when unknown."""
        if ctx.local_rootfs is None:
            return None
        bindir = Path(ctx.local_rootfs) / "bin"
        return {p.name for p in bindir.iterdir()} if bindir.is_dir() else set()

    def _present(self, host: HostRef, rootfs: str, names: tuple[str, ...]) -> list[str]:
        """Which of ``names`` the image's bin/ on the host holds."""
        quoted = " ".join(shlex.quote(n) for n in names)
        out = host.conn.run(
            f"cd {shlex.quote(rootfs + '/bin')} 2>/dev/null && "
            f'for n in {quoted}; do [ -f "$n" ] && echo "$n"; done; true',
            timeout=30,
        ).stdout.split()
        return [n for n in names if n in out]

    def _kubeadm(self, host: HostRef, args: str, what: str, timeout: float = KUBEADM_TIMEOUT) -> None:
        res = host.conn.run(f"{PATH_ENV} {KUBEADM} {args}", check=False, timeout=timeout)
        if res.rc != 0:
            tail = " | ".join((res.stderr or res.stdout).strip().splitlines()[-5:])
            raise StepFailed(
                f"{what} failed (rc={res.rc}): {tail}",
                host=host.ip,
                step=what,
                hint="see the kubeadm output above and `journalctl -u kubelet -n 100` on the host; "
                "a re-run resets a half-done host and tries again",
            )

    def _set_alias(self, host: HostRef, ip: str | None) -> None:
        current = host.conn.run(f"cat {HOSTS_FILE}", timeout=30).stdout
        wanted = hosts_with_alias(current, ip)
        if wanted != current:
            host.conn.put(wanted.encode(), HOSTS_FILE, mode=0o644)

    def _join_token(self, control: HostRef, host: HostRef) -> str:
        """A fresh bootstrap token for one join, made on ``control``; it reaches ``host`` only in its
        0600 join config. ``kubeadm token create`` refuses an id that exists (CreateNewTokens,
        failIfExists), so the token ``kubeadm init`` made cannot be re-created; a new random one
        per join is what upstream supports at every release, and joins running in parallel never
        touch each other's token. It expires after JOIN_TOKEN_TTL (the tokencleaner deletes it)."""
        description = f"sealkit join of {host.name}"
        res = control.conn.run(
            f"{PATH_ENV} {KUBEADM} token create --kubeconfig {ADMIN_CONF} --ttl {JOIN_TOKEN_TTL} "
            f"--description {shlex.quote(description)}",
            check=False,
            timeout=120,
        )
        if res.rc != 0:
            tail = " | ".join((res.stderr or "").strip().splitlines()[-5:])
            raise StepFailed(
                f"kubeadm token create failed (rc={res.rc}): {tail}",
                host=control.ip,
                step="kubeadm token create",
                hint="check that the apiserver on this master answers (kubectl get --raw=/readyz)",
            )
        return parse_created_token(res.stdout, control.ip)

    def _leftovers(self, host: HostRef) -> list[str]:
        """What an earlier kubeadm init/join *of sealkit's* left on the host: nothing unless one of our
        kubeadm configs (written just before ``kubeadm init|join`` runs, carrying MARK) says sealkit
        started kubeadm here — a foreign cluster's files are for kubeadm's own preflight to refuse,
        never for us to reset; etcd data only on a master."""
        etcd = f'[ -n "$(ls -A {ETCD_DIR} 2>/dev/null)" ] && echo etcd-data; ' if host.is_master else ""
        out = host.conn.run(
            f"grep -qsF '{MARK}' {INIT_CONFIG} {JOIN_CONFIG} || exit 0; "
            f"[ -e {KUBELET_CONF} ] && echo kubelet.conf; "
            # a join killed before the TLS bootstrap finished leaves only this (its preflight refuses it)
            f"[ -e {K8S_DIR}/bootstrap-kubelet.conf ] && echo bootstrap-kubelet.conf; "
            f'[ -n "$(ls -A {MANIFESTS} 2>/dev/null)" ] && echo manifests; '
            f"{etcd}true",
            timeout=30,
        ).stdout.split()
        return sorted(out)

    def _settled(
        self,
        ctx: ClusterContext,
        host: HostRef,
        control: HostRef,
        left: list[str],
        *,
        need_manifests: bool,
    ) -> bool:
        """True when an earlier init/join completed: kubelet.conf (+ manifests), the node
        registered and, on a master, its apiserver ready — given SETTLE_TIMEOUT to get there."""
        if "kubelet.conf" not in left or (need_manifests and "manifests" not in left):
            return False
        hostops.systemctl(host, "start", KUBELET_UNIT, timeout=120)
        try:
            if need_manifests:
                self._wait_ready(ctx, host, timeout=SETTLE_TIMEOUT)
            self._wait_registered(control, host, timeout=SETTLE_TIMEOUT)
        except StepFailed as err:
            ctx.log.warning("%s: kubeadm: earlier attempt is not healthy: %s", host, err.message)
            return False
        return True

    def _wipe(self, ctx: ClusterContext, host: HostRef) -> None:
        """Undo a half-done init/join (kubeadm reset) and put the certificates back."""
        self._kubeadm(
            host,
            f"reset -f --cri-socket {CRI_SOCKET} --skip-phases=remove-etcd-member",
            "kubeadm reset (half-done host)",
            timeout=600,
        )
        hostops.remove_paths(host, MANIFESTS_PARKED)
        if host.is_master:  # the stacked etcd's data (the dir itself may be the etcd package's)
            hostops.clear_dir(host, ETCD_DIR)
        layout = self.sealkit_cert_specs(ctx=ctx, host=host)
        c = ctx.cluster.certs
        files = ctx.pki.render(layout, validity_days=c.validity_days, ca_validity_days=c.ca_validity_days)
        ctx.pm.hook.sealkit_install_certs(ctx=ctx, host=host, files=files)

    def _forget(self, control: HostRef, host: HostRef) -> None:
        """Remove a half-joined master's node object and etcd member, as seen from ``control``."""
        control.conn.run(kubectl(f"delete node {shlex.quote(host.name)} --ignore-not-found"),
                         timeout=120)  # fmt: skip
        self._remove_etcd_member(control, host)

    def _remove_etcd_member(self, stays: HostRef, host: HostRef) -> None:
        local = stays.conn.run(f"test -x {BIN_DIR}/etcdctl", check=False, timeout=30).rc == 0
        if local:  # the image shipped etcdctl: talk to the staying master's etcd directly
            etcdctl = f"ETCDCTL_API=3 {BIN_DIR}/etcdctl {_ETCDCTL_TLS}"
        else:
            etcdctl = kubectl(f"-n kube-system exec etcd-{shlex.quote(stays.name)} -- etcdctl {_ETCDCTL_TLS}")
        listing = stays.conn.run(f"{etcdctl} member list", timeout=120).stdout
        member = etcd_member_id(listing, host.name, host.ip)
        if member is not None:
            hostops.remove_etcd_member(stays, etcdctl, member)

    def _wait_ready(self, ctx: ClusterContext, host: HostRef, timeout: float = READY_TIMEOUT) -> None:
        hostops.wait_until(
            host,
            kubectl("get --raw=/readyz", server=_local_url(ctx, host)),
            what=f"apiserver on {host.ip}",
            timeout=timeout,
        )

    def _wait_registered(self, where: HostRef, host: HostRef, timeout: float = READY_TIMEOUT) -> None:
        hostops.wait_until(
            where,
            f'test -n "$({kubectl(f"get node {shlex.quote(host.name)} --ignore-not-found -o name")})"',
            what=f"node {host.name} registered",
            timeout=timeout,
        )
