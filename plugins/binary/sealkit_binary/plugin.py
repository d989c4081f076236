"""The ``binary`` runtime: Kubernetes "the hard way" — raw binaries plus systemd units.

Every component runs from the cluster image's ``bin/`` (copied to ``/usr/local/bin``) under a
systemd unit whose command line is rendered by a pure function of this module, with the flags
documented in the kubernetes.io command-line references (kube-apiserver, kube-controller-manager,
kube-scheduler, kubelet, kube-proxy) and etcd v3.4's flags. Certificates and kubeconfigs are
sealkit's own (see :mod:`sealkit_binary.certs`); nothing here generates key material.

etcd is a real cluster with TLS everywhere (client-cert-auth and peer-client-cert-auth against the
etcd CA). The engine initialises the first master, then joins the others ONE AT A TIME, so:

* ``init`` bootstraps a ONE-member cluster (``initial-cluster-state new``): a member of a brand-new
  3-member cluster would block until a quorum of its peers is up, which never happens when they are
  started one after the other;
* ``join_master`` adds the new member as a LEARNER from a healthy member (``etcdctl member add
  --learner``), starts it with ``initial-cluster-state existing`` and the membership etcd reported,
  then promotes it once it has caught up. A learner does not count towards quorum, so a join that
  fails half-way (host down, wrong certificate) never costs the cluster its quorum — a plain
  ``member add`` would turn a 1-member cluster into a 2-member one that needs both;
* ``drain_host`` of a master does ``etcdctl member remove`` from a master that stays, before the
  host is reset, so the cluster never keeps a dead voting member.

The bootstrap-only settings (``ETCD_INITIAL_CLUSTER``, ``..._STATE``, ``..._TOKEN``) live in an
environment file next to the unit: etcd ignores them once its data directory exists, and keeping
them out of the unit means the unit's text does not depend on the membership at join time.

Masters reach their own apiserver (``https://<own ip>:6443``); workers reach every apiserver through
the HA endpoint (``ctx.endpoint()``, the node-local haproxy VIP by default).

Supported releases: v1.34 – v1.36; every flag a unit renders is checked against each release's
upstream facts (tests/fakes/upstream). ``/var/lib/etcd`` (masters) and ``/etc/cni/net.d`` holding
data sealkit did not create are refused in preflight (``ownership.py``: ``SEALKIT_TAKE_OVER`` parks
it, reset gives it back). LEDGER.md lists every command run on a host and its upstream source.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from sealkit.api import (
    Layout,
    LayoutInput,
    PluginError,
    RuntimeInfo,
    StepFailed,
    hookimpl,
    hostops,
    https_url,
    ownership,
)
from sealkit_binary import certs

if TYPE_CHECKING:
    from sealkit.api import ClusterContext, FileSpec, HostRef, RegistryInfo

# ------------------------------------------------------------------------------------------- paths
BIN_DIR = "/usr/local/bin"
MASTER_BINARIES = (
    "etcd",
    "etcdctl",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubectl",
)
NODE_BINARIES = ("kubelet", "kube-proxy")
#: shipped in the cluster image's bin/ when hosts have no containerd of their own
CONTAINERD_BINARIES = ("containerd", "containerd-shim-runc-v2", "runc", "ctr")

#: not "etcd.service": that name belongs to distribution packages (Debian's etcd-server), whose
#: enablement our reset would otherwise undo
ETCD_UNIT = "kube-etcd.service"
APISERVER_UNIT = "kube-apiserver.service"
CONTROLLER_MANAGER_UNIT = "kube-controller-manager.service"
SCHEDULER_UNIT = "kube-scheduler.service"
KUBELET_UNIT = "kubelet.service"
KUBE_PROXY_UNIT = "kube-proxy.service"
CONTAINERD_UNIT = "containerd.service"
CONTROL_PLANE_UNITS = (APISERVER_UNIT, CONTROLLER_MANAGER_UNIT, SCHEDULER_UNIT)
NODE_UNITS = (KUBELET_UNIT, KUBE_PROXY_UNIT)

ETCD_DATA_DIR = "/var/lib/etcd"
ETCD_ENV_FILE = f"{certs.CONF}/etcd.env"
KUBELET_DIR = "/var/lib/kubelet"
KUBELET_CONFIG = f"{KUBELET_DIR}/config.yaml"
KUBE_PROXY_DIR = "/var/lib/kube-proxy"
KUBE_PROXY_CONFIG = f"{KUBE_PROXY_DIR}/config.yaml"
CONTAINERD_CONFIG = "/etc/containerd/config.toml"
CONTAINERD_CONFIG_BACKUP = f"{CONTAINERD_CONFIG}.sealkit-orig"
CRI_SOCKET = "/run/containerd/containerd.sock"
CRI_ENDPOINT = f"unix://{CRI_SOCKET}"
#: host-side memory of what this plugin did (read back by reset)
STATE_DIR = "/var/lib/sealkit/binary"
CONTAINERD_MARKER = f"{STATE_DIR}/containerd-from-image"
ETCD_TOKEN_MARKER = f"{STATE_DIR}/etcd-cluster-token"

#: every path reset removes (besides units, binaries and containerd's files)
#: the minors upstream maintains (the newest three) as far as the kubernetes/kubernetes snapshot shows
#: (CHANGELOG-1.36.md has v1.36.0, CHANGELOG-1.37.md only v1.37.0-alpha.1); every flag the units
#: render is checked against tests/fakes/upstream/kubernetes/<release>.yaml
OLDEST_VERSION = "v1.34.0"
NEWEST_VERSION = "v1.36.99"

RESET_PATHS = (
    certs.CONF,
    KUBELET_DIR,
    KUBE_PROXY_DIR,
    "/var/log/pods",
    "/var/log/containers",
    "/var/lib/cni",
    STATE_DIR,
)

ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
ETCD_METRICS_PORT = 2381
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
READY_TIMEOUT = 300
HEADER = "# written by sealkit (runtime binary); changes are overwritten on the next run\n"


# ---------------------------------------------------------------------------- certificate layout
def cert_layout(li: LayoutInput) -> Layout:
    """:func:`certs.cert_layout`, a master's kubelet and kube-proxy pointed at its own apiserver.

    No node-local load balancer runs on masters (an LB on ``vip:6443`` cannot bind next to an
    apiserver on ``0.0.0.0:6443``), so the HA endpoint is unreachable from them; their node
    components use the same local URL as the controller-manager and scheduler.
    """
    layout = certs.cert_layout(li)
    if not li.is_master:
        return layout
    node_kcs = {k.path for k in certs.node_layout(li).kubeconfigs}
    kcs = tuple(replace(k, server=li.local_url) if k.path in node_kcs else k for k in layout.kubeconfigs)
    return replace(layout, kubeconfigs=kcs)


@dataclass(frozen=True)
class Paths:
    """Host paths of every file the units name, read from the certificate layout (never guessed)."""

    certs: Mapping[str, tuple[str, str]]
    kubeconfigs: Mapping[str, str]
    ca: str
    ca_key: str | None
    front_proxy_ca: str | None
    etcd_ca: str | None
    sa_key: str | None
    sa_pub: str | None

    def cert(self, name: str) -> tuple[str, str]:
        try:
            return self.certs[name]
        except KeyError:
            raise PluginError(
                f"binary runtime: certificate {name!r} is not in the certificate layout",
                hint="sealkit_binary.certs and sealkit_binary.plugin disagree; report it",
            ) from None

    def kubeconfig(self, name: str) -> str:
        try:
            return self.kubeconfigs[name]
        except KeyError:
            raise PluginError(
                f"binary runtime: kubeconfig {name!r} is not in the certificate layout",
                hint="sealkit_binary.certs and sealkit_binary.plugin disagree; report it",
            ) from None


def paths_of(layout: Layout) -> Paths:
    """Index a host's layout by unscoped names (``apiserver``, ``etcd-server``, ``kubelet``, …)."""
    cas = {c.name: c for c in layout.cas}
    ca = cas.get("ca")
    if ca is None or not ca.cert_path:
        raise PluginError("binary runtime: the certificate layout ships no cluster CA (ca.crt)")
    sa = layout.keypairs[0] if layout.keypairs else None

    def path(name: str) -> str | None:
        spec = cas.get(name)
        return spec.cert_path if spec else None

    return Paths(
        certs={c.name.rsplit("/", 1)[-1]: (c.cert_path, c.key_path) for c in layout.certs},
        kubeconfigs={k.name.rsplit("/", 1)[-1]: k.path for k in layout.kubeconfigs},
        ca=ca.cert_path,
        ca_key=ca.key_path,
        front_proxy_ca=path("front-proxy-ca"),
        etcd_ca=path("etcd-ca"),
        sa_key=sa.private_path if sa else None,
        sa_pub=sa.public_path if sa else None,
    )


def _need(value: str | None, what: str) -> str:
    if not value:
        raise PluginError(f"binary runtime: the certificate layout has no {what}")
    return value


# ------------------------------------------------------------------------------------ cluster facts
def cluster_dns_ip(service_cidr: str) -> str:
    """The cluster DNS Service IP: the 10th address of the (first) service CIDR, as kubeadm does."""
    first = service_cidr.split(",")[0].strip()
    try:
        net = ipaddress.ip_network(first, strict=False)
    except ValueError:
        raise PluginError(f"service CIDR {service_cidr!r} is not a CIDR") from None
    if net.num_addresses < 12:
        raise PluginError(f"service CIDR {first} is too small for a cluster DNS address")
    return str(net.network_address + 10)


def peer_url(ip: str) -> str:
    return https_url(ip, ETCD_PEER_PORT)


def client_url(ip: str) -> str:
    return https_url(ip, ETCD_CLIENT_PORT)


def live_master_ips(ctx: ClusterContext, *, exclude: str = "") -> list[str]:
    """Masters of the cluster model (connected or not), minus hosts being removed, ``exclude``."""
    removed = {h.ip for h in ctx.hosts.values() if h.facts.get("removed")}
    return [h.ip for h in ctx.cluster.masters if h.ip not in removed and h.ip != exclude]


def etcd_servers(host_ip: str, master_ips: Iterable[str]) -> str:
    """``--etcd-servers``: every master's etcd, the host's own member first (no dead first hop)."""
    ips = [host_ip, *[ip for ip in master_ips if ip != host_ip]]
    return ",".join(client_url(ip) for ip in ips)


def signing_duration(validity_days: int) -> str:
    """``--cluster-signing-duration`` as long as sealkit's own leaves (100 years by default)."""
    return f"{int(validity_days) * 24}h"


# --------------------------------------------------------------------------------- systemd units
_UNSAFE = re.compile(r"[\s\"'\\;]")


def systemd_arg(arg: str) -> str:
    """One ExecStart word: refuse what would need quoting, escape systemd's specifiers."""
    if not arg or _UNSAFE.search(arg):
        raise PluginError(f"binary runtime: unsafe command-line argument {arg!r} for a unit")
    return arg.replace("%", "%%").replace("$", "$$")


def render_flags(flags: Mapping[str, str]) -> list[str]:
    """``{"name": "value"}`` → ``["--name=value", …]`` sorted by name, as kubeadm renders them."""
    return [f"--{k}={v}" for k, v in sorted(flags.items())]


def unit_text(
    *,
    description: str,
    documentation: str,
    exec_start: list[str],
    after: tuple[str, ...] = ("network-online.target",),
    wants: tuple[str, ...] = ("network-online.target",),
    notify: bool = False,
    environment_file: str | None = None,
    environment: Mapping[str, str] | None = None,
    restart_sec: int = 5,
    limit_nofile: int | None = None,
    extra: tuple[str, ...] = (),
) -> str:
    """A systemd unit with a multi-line ExecStart (one flag per line)."""
    words = [systemd_arg(w) for w in exec_start]
    lines = [
        HEADER.rstrip("\n"),
        "[Unit]",
        f"Description={description}",
        f"Documentation={documentation}",
        f"After={' '.join(after)}",
    ]
    if wants:
        lines.append(f"Wants={' '.join(wants)}")
    lines += ["", "[Service]"]
    if notify:
        lines.append("Type=notify")
    for key, value in sorted((environment or {}).items()):
        lines.append(f"Environment={key}={value}")
    if environment_file:
        lines.append(f"EnvironmentFile={environment_file}")
    lines.append("ExecStart=" + " \\\n  ".join(words))
    lines += ["Restart=always", f"RestartSec={restart_sec}"]
    if limit_nofile:
        lines.append(f"LimitNOFILE={limit_nofile}")
    lines += [*extra, "", "[Install]", "WantedBy=multi-user.target", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- etcd
def etcd_flags(name: str, ip: str, paths: Paths) -> list[str]:
    """etcd v3.4 flags of one member; bootstrap settings are in :func:`etcd_bootstrap_env`."""
    server_crt, server_key = paths.cert("etcd-server")
    peer_crt, peer_key = paths.cert("etcd-peer")
    ca = _need(paths.etcd_ca, "etcd CA")
    return render_flags(
        {
            "name": name,
            "data-dir": ETCD_DATA_DIR,
            "listen-client-urls": f"{https_url('127.0.0.1', ETCD_CLIENT_PORT)},{client_url(ip)}",
            "advertise-client-urls": client_url(ip),
            "listen-peer-urls": peer_url(ip),
            "initial-advertise-peer-urls": peer_url(ip),
            "listen-metrics-urls": f"http://127.0.0.1:{ETCD_METRICS_PORT}",
            "client-cert-auth": "true",
            "trusted-ca-file": ca,
            "cert-file": server_crt,
            "key-file": server_key,
            "peer-client-cert-auth": "true",
            "peer-trusted-ca-file": ca,
            "peer-cert-file": peer_crt,
            "peer-key-file": peer_key,
            "snapshot-count": "10000",
            "logger": "zap",
        }
    )


def etcd_bootstrap_env(initial_cluster: list[tuple[str, str]], state: str, token: str) -> str:
    """``ETCD_INITIAL_*`` (etcd reads every flag from ``ETCD_<FLAG>``); ignored once data exists."""
    if state not in ("new", "existing"):
        raise PluginError(f"etcd initial-cluster-state {state!r} is not new/existing")
    if not initial_cluster:
        raise PluginError("etcd initial cluster is empty")
    value = ",".join(f"{n}={u}" for n, u in initial_cluster)
    for item in (value, token):
        if _UNSAFE.search(item):
            raise PluginError(f"etcd bootstrap setting {item!r} has unsafe characters")
    return (
        HEADER + "# bootstrap-only: etcd ignores these once /var/lib/etcd holds data\n"
        f"ETCD_INITIAL_CLUSTER={value}\n"
        f"ETCD_INITIAL_CLUSTER_STATE={state}\n"
        f"ETCD_INITIAL_CLUSTER_TOKEN={token}\n"
    )


def etcd_unit(name: str, ip: str, paths: Paths, arch: str = "") -> str:
    """``Type=notify``: ``systemctl start`` returns once the member serves (etcd notifies)."""
    env = {"ETCD_UNSUPPORTED_ARCH": arch} if arch and arch not in ("amd64", "ppc64le") else {}
    return unit_text(
        description="etcd key-value store (Kubernetes datastore)",
        documentation="https://etcd.io/docs/v3.4/op-guide/configuration/",
        exec_start=[f"{BIN_DIR}/etcd", *etcd_flags(name, ip, paths)],
        notify=True,
        environment=env,
        environment_file=ETCD_ENV_FILE,
        limit_nofile=65536,
        extra=("TimeoutStartSec=300",),
    )


@dataclass(frozen=True)
class Member:
    """One line of ``etcdctl member list -w simple``."""

    id: str
    started: bool
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    learner: bool


def parse_member_list(text: str) -> list[Member]:
    """Parse ``ID, started|unstarted, NAME, PEER_URLS, CLIENT_URLS, IS_LEARNER`` (etcd 3.4)."""
    members = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        parts = [p.strip() for p in line.split(", ")]
        if len(parts) != 6 or not re.fullmatch(r"[0-9a-f]+", parts[0]):
            raise StepFailed(
                f"unexpected `etcdctl member list` line: {line!r}",
                step="etcd membership",
                hint="is etcdctl from etcd v3.4+ installed in /usr/local/bin?",
            )
        members.append(
            Member(
                id=parts[0],
                started=parts[1] == "started",
                name=parts[2],
                peer_urls=tuple(u for u in parts[3].split(",") if u),
                client_urls=tuple(u for u in parts[4].split(",") if u),
                learner=parts[5] == "true",
            )
        )
    return members


def member_for(members: list[Member], url: str) -> Member | None:
    return next((m for m in members if url in m.peer_urls), None)


@dataclass(frozen=True)
class JoinPlan:
    """What to do, before starting etcd on a joining master, given the membership and its disk."""

    remove: tuple[str, ...] = ()
    wipe_data: bool = False
    add: bool = False
    promote_others: tuple[str, ...] = ()


def plan_etcd_join(members: list[Member], my_peer_url: str, has_data: bool) -> JoinPlan:
    """Decide how a master joins etcd; re-running after any failure converges.

    * unstarted members of OTHER hosts are leftovers of a failed join: removed (they hold no data,
      and etcd 3.4 allows one learner at a time);
    * a started learner of another host is a join that failed before promotion: promoted;
    * our member missing → (wipe stale local data) and add as learner;
    * our member unstarted → wipe whatever a failed start left and start;
    * our member started but our data gone (host reinstalled) → remove and add again: a member
      restarting with an empty WAL would crash the raft log ("tocommit out of range").
    """
    mine = member_for(members, my_peer_url)
    remove = [m.id for m in members if m is not mine and not m.started]
    others = tuple(m.id for m in members if m is not mine and m.started and m.learner)
    if mine is None:
        return JoinPlan(tuple(remove), wipe_data=has_data, add=True, promote_others=others)
    if not mine.started:
        return JoinPlan(tuple(remove), wipe_data=has_data, add=False, promote_others=others)
    if not has_data:
        return JoinPlan((*remove, mine.id), wipe_data=False, add=True, promote_others=others)
    return JoinPlan(tuple(remove), promote_others=others)


def initial_cluster(members: list[Member], my_name: str, my_peer_url: str) -> list[tuple[str, str]]:
    """``--initial-cluster`` for a joining member: exactly etcd's membership (etcd matches members
    by peer URL and count), with our own entry named by us."""
    out = []
    for m in members:
        if my_peer_url in m.peer_urls:
            out.append((my_name, my_peer_url))
        elif not m.name:
            raise StepFailed(
                f"etcd member {m.id} ({', '.join(m.peer_urls)}) never started",
                step="etcd join",
                hint=f"remove it: etcdctl member remove {m.id}",
            )
        else:
            out += [(m.name, u) for u in m.peer_urls]
    if not any(u == my_peer_url for _, u in out):
        out.append((my_name, my_peer_url))
    return out


ETCDCTL_CERT = f"{certs.PKI}/etcd/healthcheck-client.crt"
ETCDCTL_KEY = f"{certs.PKI}/etcd/healthcheck-client.key"


def etcdctl(args: str, *, timeout: int = 60, endpoint: str = "https://127.0.0.1:2379") -> str:
    """An etcdctl command against the host's own member, authenticated with the healthcheck client
    certificate (file paths only; nothing secret in argv)."""
    return (
        f"ETCDCTL_API=3 {BIN_DIR}/etcdctl --endpoints={endpoint} "
        f"--cacert={certs.ETCD_CA.cert_path} --cert={ETCDCTL_CERT} --key={ETCDCTL_KEY} "
        f"--dial-timeout=5s --command-timeout={timeout}s {args}"
    )


# ------------------------------------------------------------------------------ control plane
def apiserver_flags(ctx: ClusterContext, host: HostRef, paths: Paths) -> list[str]:
    crt, key = paths.cert("apiserver")
    kcrt, kkey = paths.cert("apiserver-kubelet-client")
    ecrt, ekey = paths.cert("apiserver-etcd-client")
    pcrt, pkey = paths.cert("front-proxy-client")
    net = ctx.cluster.network
    return render_flags(
        {
            "advertise-address": host.ip,
            "allow-privileged": "true",
            "authorization-mode": "Node,RBAC",
            "bind-address": "0.0.0.0",
            "client-ca-file": paths.ca,
            "enable-admission-plugins": "NodeRestriction",
            "etcd-cafile": _need(paths.etcd_ca, "etcd CA"),
            "etcd-certfile": ecrt,
            "etcd-keyfile": ekey,
            "etcd-servers": etcd_servers(host.ip, live_master_ips(ctx)),
            "kubelet-certificate-authority": paths.ca,
            "kubelet-client-certificate": kcrt,
            "kubelet-client-key": kkey,
            "kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
            "proxy-client-cert-file": pcrt,
            "proxy-client-key-file": pkey,
            "requestheader-allowed-names": "front-proxy-client",
            "requestheader-client-ca-file": _need(paths.front_proxy_ca, "front-proxy CA"),
            "requestheader-extra-headers-prefix": "X-Remote-Extra-",
            "requestheader-group-headers": "X-Remote-Group",
            "requestheader-username-headers": "X-Remote-User",
            "secure-port": str(ctx.runtime.apiserver_port),
            "service-account-issuer": f"https://kubernetes.default.svc.{net.dns_domain}",
            "service-account-key-file": _need(paths.sa_pub, "service-account public key"),
            "service-account-signing-key-file": _need(paths.sa_key, "service-account key"),
            "service-cluster-ip-range": net.service_cidr,
            "tls-cert-file": crt,
            "tls-private-key-file": key,
        }
    )


def controller_manager_flags(ctx: ClusterContext, paths: Paths) -> list[str]:
    kc = paths.kubeconfig("controller-manager")
    net = ctx.cluster.network
    return render_flags(
        {
            "allocate-node-cidrs": "true",
            "authentication-kubeconfig": kc,
            "authorization-kubeconfig": kc,
            "bind-address": "127.0.0.1",
            "client-ca-file": paths.ca,
            "cluster-cidr": net.pod_cidr,
            "cluster-name": "kubernetes",
            "cluster-signing-cert-file": paths.ca,
            "cluster-signing-key-file": _need(paths.ca_key, "cluster CA key"),
            "cluster-signing-duration": signing_duration(ctx.cluster.certs.validity_days),
            "kubeconfig": kc,
            "leader-elect": "true",
            "requestheader-client-ca-file": _need(paths.front_proxy_ca, "front-proxy CA"),
            "root-ca-file": paths.ca,
            "service-account-private-key-file": _need(paths.sa_key, "service-account key"),
            "service-cluster-ip-range": net.service_cidr,
            "use-service-account-credentials": "true",
        }
    )


def scheduler_flags(paths: Paths) -> list[str]:
    kc = paths.kubeconfig("scheduler")
    return render_flags(
        {
            "authentication-kubeconfig": kc,
            "authorization-kubeconfig": kc,
            "bind-address": "127.0.0.1",
            "kubeconfig": kc,
            "leader-elect": "true",
        }
    )


def control_plane_units(ctx: ClusterContext, host: HostRef, paths: Paths) -> dict[str, str]:
    docs = "https://kubernetes.io/docs/reference/command-line-tools-reference/"
    return {
        APISERVER_UNIT: unit_text(
            description="Kubernetes API Server",
            documentation=f"{docs}kube-apiserver/",
            exec_start=[f"{BIN_DIR}/kube-apiserver", *apiserver_flags(ctx, host, paths)],
            after=("network-online.target", ETCD_UNIT),
            wants=("network-online.target",),
            limit_nofile=65536,
        ),
        CONTROLLER_MANAGER_UNIT: unit_text(
            description="Kubernetes Controller Manager",
            documentation=f"{docs}kube-controller-manager/",
            exec_start=[
                f"{BIN_DIR}/kube-controller-manager",
                *controller_manager_flags(ctx, paths),
            ],
            after=("network-online.target", APISERVER_UNIT),
        ),
        SCHEDULER_UNIT: unit_text(
            description="Kubernetes Scheduler",
            documentation=f"{docs}kube-scheduler/",
            exec_start=[f"{BIN_DIR}/kube-scheduler", *scheduler_flags(paths)],
            after=("network-online.target", APISERVER_UNIT),
        ),
    }


# ---------------------------------------------------------------------------------- node parts
def schedulable(host: HostRef) -> bool:
    """A master is tainted unless it also has the ``node`` role."""
    return not host.is_master or "node" in host.roles


def kubelet_config(
    ctx: ClusterContext, host: HostRef, paths: Paths, *, resolv_conf: str = ""
) -> dict[str, object]:
    """``/var/lib/kubelet/config.yaml`` (kubelet.config.k8s.io/v1beta1 KubeletConfiguration).

    Client certificate rotation stays off: ``kubelet.conf`` embeds a 100-year certificate of ours,
    and rotation would replace it with one of ``--cluster-signing-duration``.
    """
    crt, key = paths.cert("kubelet-serving")
    net = ctx.cluster.network
    cfg: dict[str, object] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": paths.ca},
        },
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": "systemd",
        "clusterDNS": [cluster_dns_ip(net.service_cidr)],
        "clusterDomain": net.dns_domain,
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "tlsCertFile": crt,
        "tlsPrivateKeyFile": key,
    }
    if not schedulable(host):
        cfg["registerWithTaints"] = [{"key": CONTROL_PLANE_LABEL, "effect": "NoSchedule"}]
    if resolv_conf:
        cfg["resolvConf"] = resolv_conf
    return cfg


def kubelet_flags(host: HostRef, paths: Paths) -> list[str]:
    return render_flags(
        {
            "config": KUBELET_CONFIG,
            "container-runtime-endpoint": CRI_ENDPOINT,
            "hostname-override": host.name,
            "kubeconfig": paths.kubeconfig("kubelet"),
            "node-ip": host.ip,
        }
    )


def kube_proxy_config(ctx: ClusterContext, host: HostRef, paths: Paths) -> dict[str, object]:
    """``/var/lib/kube-proxy/config.yaml`` (kubeproxy.config.k8s.io/v1alpha1)."""
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "bindAddress": "0.0.0.0",
        "clientConnection": {"kubeconfig": paths.kubeconfig("kube-proxy")},
        "clusterCIDR": ctx.cluster.network.pod_cidr,
        "hostnameOverride": host.name,
        "mode": "iptables",
    }


def node_units(host: HostRef, paths: Paths) -> dict[str, str]:
    docs = "https://kubernetes.io/docs/reference/command-line-tools-reference/"
    return {
        KUBELET_UNIT: unit_text(
            description="Kubernetes Kubelet",
            documentation=f"{docs}kubelet/",
            exec_start=[f"{BIN_DIR}/kubelet", *kubelet_flags(host, paths)],
            after=("network-online.target", CONTAINERD_UNIT),
            wants=("network-online.target", CONTAINERD_UNIT),
            restart_sec=10,
        ),
        KUBE_PROXY_UNIT: unit_text(
            description="Kubernetes Kube Proxy",
            documentation=f"{docs}kube-proxy/",
            exec_start=[f"{BIN_DIR}/kube-proxy", f"--config={KUBE_PROXY_CONFIG}"],
        ),
    }


def dump_yaml(doc: Mapping[str, object]) -> str:
    return HEADER + yaml.safe_dump(dict(doc), sort_keys=True)


# ------------------------------------------------------------------------------------ containerd
def containerd_major(version_output: str) -> int:
    """Major version from ``containerd --version`` (``containerd github.com/… v1.7.13 …``)."""
    words = version_output.split()
    m = re.match(r"^v?(\d+)\.\d+", words[2]) if len(words) > 2 else None
    if not m:
        raise StepFailed(
            f"cannot read the containerd version from {version_output.strip()!r}",
            step="containerd",
            hint="install containerd >= 1.6 on the host, or ship bin/containerd in the image",
        )
    return int(m.group(1))


def containerd_config(registry: RegistryInfo, *, major: int, snapshotter: str = "overlayfs") -> str:
    """containerd's ``config.toml``: CRI with runc + systemd cgroups (the kubelet's cgroupDriver),
    ``config_path`` for the mirrors' ``hosts.toml`` and the embedded registry's pull credentials.
    A secret (mode 0600)."""
    from sealkit.api import mirrors

    if not re.fullmatch(r"[a-z0-9_-]+", snapshotter):
        raise PluginError(f"containerd snapshotter {snapshotter!r} is not a plugin name")
    if major == 1:
        cri = '"io.containerd.grpc.v1.cri"'
        head = (
            f"version = 2\n\n[plugins.{cri}.containerd]\n"
            f'  snapshotter = "{snapshotter}"\n  default_runtime_name = "runc"\n\n'
            f"[plugins.{cri}.containerd.runtimes.runc]\n"
            '  runtime_type = "io.containerd.runc.v2"\n\n'
            f"[plugins.{cri}.containerd.runtimes.runc.options]\n  SystemdCgroup = true\n\n"
        )
    elif major == 2:
        rt, img = '"io.containerd.cri.v1.runtime"', '"io.containerd.cri.v1.images"'
        head = (
            f'version = 3\n\n[plugins.{img}]\n  snapshotter = "{snapshotter}"\n\n'
            f'[plugins.{rt}.containerd]\n  default_runtime_name = "runc"\n\n'
            f"[plugins.{rt}.containerd.runtimes.runc]\n"
            '  runtime_type = "io.containerd.runc.v2"\n\n'
            f"[plugins.{rt}.containerd.runtimes.runc.options]\n  SystemdCgroup = true\n\n"
        )
    else:
        raise PluginError(f"containerd {major}.x is not supported (1.x or 2.x)")
    return (
        HEADER
        + head
        + mirrors.containerd_cri_registry_toml(registry, config_path=mirrors.CERTS_D, containerd_major=major)
    )


def containerd_unit() -> str:
    """containerd's upstream unit, for a containerd shipped in the cluster image."""
    return unit_text(
        description="containerd container runtime",
        documentation="https://containerd.io",
        exec_start=[f"{BIN_DIR}/containerd"],
        after=("network.target", "local-fs.target"),
        wants=(),
        notify=True,
        extra=(
            "ExecStartPre=-/sbin/modprobe overlay",
            "Delegate=yes",
            "KillMode=process",
            "LimitNPROC=infinity",
            "LimitCORE=infinity",
            "TasksMax=infinity",
            "OOMScoreAdjust=-999",
        ),
    )


# ----------------------------------------------------------------------------------- probes
def parse_kv(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep:
            out[key] = value.strip()
    return out


def preflight_problems(
    facts: Mapping[str, str], *, is_master: bool, token: str, image_has_containerd: bool | None
) -> list[str]:
    """Problems a host has before anything is changed; pure so every branch is tested.

    ``token`` is this cluster's etcd token ("" before any host was prepared): etcd data on a
    master is ours only when the host carries the same token (written in prepare).
    """
    problems = []
    if facts.get("swap", "0") not in ("", "0"):
        problems.append(
            "swap is on: the kubelet refuses to start with swap (failSwapOn); "
            "run `swapoff -a` and remove swap from /etc/fstab"
        )
    if is_master and facts.get("etcd_data") == "1" and (not token or facts.get("token") != token):
        problems.append(
            f"{ETCD_DATA_DIR} holds data of another etcd cluster: etcd would ignore the new "
            f"cluster's settings and serve the old data; run `sealkit reset` on the old cluster "
            f"or remove {ETCD_DATA_DIR}"
        )
    if image_has_containerd is False and not facts.get("containerd"):
        problems.append(
            "no containerd: install it on the host (apt-get install containerd / dnf install "
            "containerd) or ship bin/containerd in the cluster image"
        )
    return problems


PREFLIGHT_SCRIPT = (
    "echo swap=$(awk 'NR>1' /proc/swaps 2>/dev/null | wc -l); "
    f"if [ -d {ETCD_DATA_DIR}/member ]; then echo etcd_data=1; fi; "
    f"echo token=$(cat {ETCD_TOKEN_MARKER} 2>/dev/null); "
    "echo containerd=$(command -v containerd 2>/dev/null); true"
)


def _token_path(ctx: ClusterContext) -> Path:
    return Path(ctx.state.dir) / "secrets" / "etcd-cluster-token"


def existing_etcd_cluster_token(ctx: ClusterContext) -> str:
    """The token if this cluster already has one (preflight must not create state)."""
    try:
        return _token_path(ctx).read_text().strip()
    except FileNotFoundError:
        return ""


def etcd_cluster_token(ctx: ClusterContext) -> str:
    """``--initial-cluster-token``, made once per cluster and kept in its state (hosts prepared
    concurrently agree on one value). Not a secret, but kept with the other per-cluster values."""
    return ctx.state.secret("etcd-cluster-token", lambda: f"sealkit-{secrets.token_hex(12)}")


def claimed_dirs(host: HostRef) -> list[ownership.Claimed]:
    """Directories this runtime fills that may hold the host's own data (see ownership)."""
    dirs = [ownership.Claimed("/etc/cni/net.d", "CNI config dir")]
    if host.is_master:
        dirs.insert(0, ownership.Claimed(ETCD_DATA_DIR, "etcd data dir"))
    return dirs


# ---------------------------------------------------------------------------------- the runtime
@dataclass
class _Changed:
    """Which units must restart because their file, config or binary changed (one call's state)."""

    units: dict[str, bool] = field(default_factory=dict)

    def mark(self, unit: str, changed: bool) -> None:
        self.units[unit] = self.units.get(unit, False) or changed

    def __getitem__(self, unit: str) -> bool:
        return self.units.get(unit, False)


def reset_pods_script(ctr: str) -> str:
    """Remove the pods' tasks, containers and images from CRI's namespace k8s.io while containerd still
    runs (``ctr`` is the client to use), then stop what is left of the kubelet's systemd slice."""
    k = f"{ctr} -n k8s.io"
    return (
        f"if [ -S {CRI_SOCKET} ] && command -v {ctr} >/dev/null 2>&1; then "
        f'for t in $({k} tasks ls -q); do {k} tasks kill -s SIGKILL "$t"; '
        f'{k} tasks delete -f "$t"; done >/dev/null 2>&1; '
        f"{k} containers ls -q | xargs -r {k} containers delete >/dev/null 2>&1; "
        # --sync: the garbage collection (snapshot dirs included) ends before containerd is stopped
        f"{k} images ls -q | xargs -r {k} images rm --sync >/dev/null 2>&1; fi; "
        # whatever is left of the pods: the kubelet's systemd slice (cgroupDriver: systemd)
        "systemctl stop kubepods.slice >/dev/null 2>&1; true"
    )


class Runtime:
    """Hook implementations of the binary runtime."""

    # ------------------------------------------------------------------------------ description
    @hookimpl
    def sealkit_runtime_info(self) -> RuntimeInfo:
        return RuntimeInfo(
            name="binary",
            default_ha="haproxy",
            binaries=MASTER_BINARIES,
            master_ports=(6443, 2379, 2380, 2381, 10250, 10256, 10257, 10259),
            node_ports=(10250, 10256),
            description="Kubernetes the hard way: etcd and every component as systemd units",
            oldest_version=OLDEST_VERSION,
            newest_version=NEWEST_VERSION,
        )

    @hookimpl
    def sealkit_cert_specs(self, ctx: ClusterContext, host: HostRef) -> Layout:
        return cert_layout(ctx.layout_input(host))

    @hookimpl
    def sealkit_registry_mirror_config(
        self, ctx: ClusterContext, host: HostRef, registry: RegistryInfo
    ) -> list[FileSpec]:
        """containerd reads ``certs.d/<registry>/hosts.toml`` on every pull: no restart needed
        (the ``config_path`` and credentials are in config.toml, written in prepare)."""
        from sealkit.api import REGISTRY_CA_PATH, mirrors

        upstreams = mirrors.upstreams_for(ctx.cluster.images)
        return mirrors.containerd_files(registry, upstreams, REGISTRY_CA_PATH)

    @hookimpl
    def sealkit_host_checks(self, ctx: ClusterContext) -> list[str]:
        return [str(Path(__file__).with_name("checks") / "binary_host_checks.py")]

    # -------------------------------------------------------------------------------- preflight
    @hookimpl
    def sealkit_preflight(self, ctx: ClusterContext, host: HostRef) -> list[str]:
        claimed = claimed_dirs(host)
        out = host.conn.run(
            f"{PREFLIGHT_SCRIPT}; {ownership.probe_script('binary', claimed)}", timeout=30
        ).stdout
        facts = parse_kv(out)
        image_has = None
        if ctx.local_rootfs is not None:
            image_has = (Path(ctx.local_rootfs) / "bin" / "containerd").is_file()
        token = existing_etcd_cluster_token(ctx) if host.is_master else ""
        problems = preflight_problems(
            facts, is_master=host.is_master, token=token, image_has_containerd=image_has
        )
        owned = ownership.parse_probe(out)
        return problems + ownership.foreign(owned, claimed, ownership.take_over(ctx, host), host=host.ip)

    # ---------------------------------------------------------------------------------- prepare
    @hookimpl
    def sealkit_prepare_host(self, ctx: ClusterContext, host: HostRef) -> None:
        """Binaries for the host's role, containerd (the host's, else the image's) configured and
        running, and the etcd cluster token marker on masters."""
        ownership.remember(host, "binary", claimed_dirs(host), ownership.take_over(ctx, host))
        self._install_binaries(ctx, host)
        self._ensure_containerd(ctx, host)
        if host.is_master:
            hostops.write_file(host, ETCD_TOKEN_MARKER, etcd_cluster_token(ctx) + "\n", 0o644)

    def _install_binaries(self, ctx: ClusterContext, host: HostRef) -> dict[str, bool]:
        names = MASTER_BINARIES if host.is_master else NODE_BINARIES
        return {n: hostops.install_binary(host, ctx.remote_rootfs, n, BIN_DIR) for n in names}

    def _ensure_containerd(self, ctx: ClusterContext, host: HostRef) -> None:
        from sealkit.api import registry_info

        root = shlex.quote(f"{ctx.remote_rootfs}/bin")
        probe = parse_kv(
            host.conn.run(
                f"if [ -e {CONTAINERD_MARKER} ]; then echo ours=1; fi; "
                f"echo host=$(command -v containerd 2>/dev/null); "
                f"if [ -x {root}/containerd ]; then echo image=1; fi; true",
                timeout=30,
            ).stdout
        )
        ours = probe.get("ours") == "1"
        host_bin = probe.get("host", "")
        if ours or (not host_bin and probe.get("image") == "1"):
            # only when the host has none: then /var/lib/containerd and /etc/containerd are ours
            changed = self._install_image_containerd(ctx, host)
            binary = f"{BIN_DIR}/containerd"
        elif host_bin:
            changed = False
            binary = host_bin
        else:
            raise StepFailed(
                "no containerd on the host and none in the cluster image (bin/containerd)",
                host=host.ip,
                step="prepare: containerd",
                hint="install containerd on the host (apt-get install containerd) or ship "
                "bin/containerd, bin/containerd-shim-runc-v2 and bin/runc in the cluster image",
            )
        major = containerd_major(host.conn.run(f"{shlex.quote(binary)} --version", timeout=30).stdout)
        out = host.conn.run(
            "for b in runc containerd-shim-runc-v2; do "
            'command -v "$b" >/dev/null 2>&1 || echo "missing=$b"; done; true',
            timeout=30,
        ).stdout
        missing = [x.split("=", 1)[1] for x in out.split() if x.startswith("missing=")]
        if missing:
            raise StepFailed(
                f"containerd cannot run containers here: no {', '.join(missing)}",
                host=host.ip,
                step="prepare: containerd",
                hint="install runc and containerd's runc shim on the host (apt-get install runc "
                "containerd), or ship bin/runc and bin/containerd-shim-runc-v2 in the image",
            )
        # keep the host's own config once, so reset can give it back
        host.conn.run(
            f"if [ -f {CONTAINERD_CONFIG} ] && [ ! -e {CONTAINERD_CONFIG_BACKUP} ] && "
            f"! head -n1 {CONTAINERD_CONFIG} | grep -qF 'written by sealkit'; then "
            f"cp -p {CONTAINERD_CONFIG} {CONTAINERD_CONFIG_BACKUP}; fi",
            timeout=30,
        )
        snapshotter = ctx.env.get("SEALKIT_CONTAINERD_SNAPSHOTTER", "overlayfs")
        text = containerd_config(registry_info(ctx), major=major, snapshotter=snapshotter)
        changed = hostops.write_file(host, CONTAINERD_CONFIG, text, 0o600) or changed
        hostops.remember_unit_state(host, CONTAINERD_UNIT, hostops.CONTAINERD_RUNTIME_PATHS)
        hostops.start_or_restart(host, CONTAINERD_UNIT, changed=changed, timeout=120)
        hostops.wait_until(host, f"test -S {CRI_SOCKET}", what="containerd CRI socket", timeout=60)

    def _install_image_containerd(self, ctx: ClusterContext, host: HostRef) -> bool:
        root = shlex.quote(f"{ctx.remote_rootfs}/bin")
        present = host.conn.run(
            f'for b in {" ".join(CONTAINERD_BINARIES)}; do if [ -x {root}/"$b" ]; then echo "$b"; fi; done',
            timeout=30,
        ).stdout.split()
        changed = False
        for name in (b for b in CONTAINERD_BINARIES if b in present):
            changed = hostops.install_binary(host, ctx.remote_rootfs, name, BIN_DIR) or changed
        hostops.write_file(host, CONTAINERD_MARKER, "\n".join(present) + "\n", 0o644)
        return hostops.write_unit(host, CONTAINERD_UNIT, containerd_unit()) or changed

    # -------------------------------------------------------------------------------- helpers
    def _paths(self, ctx: ClusterContext, host: HostRef) -> Paths:
        return paths_of(cert_layout(ctx.layout_input(host)))

    def _kubectl(self, ctx: ClusterContext, server: HostRef, args: str) -> str:
        """kubectl on a master, with the admin kubeconfig, against that master's own apiserver."""
        admin = f"{certs.CONF}/admin.conf"
        url = https_url(server.ip, ctx.runtime.apiserver_port)
        return f"{BIN_DIR}/kubectl --kubeconfig={admin} --server={url} {args}"

    def _staying_master(self, ctx: ClusterContext, but: HostRef) -> HostRef:
        """A master that stays in the cluster and is connected, other than ``but``."""
        for m in ctx.masters:
            if m.ip != but.ip and not m.facts.get("removed"):
                return m
        raise StepFailed(
            "no other master is connected to run etcdctl/kubectl from",
            host=but.ip,
            step="binary: pick a healthy master",
            hint="check that the cluster's first master is reachable over SSH",
        )

    def _wait_etcd(self, host: HostRef) -> None:
        hostops.wait_until(
            host,
            etcdctl("endpoint health", timeout=8),
            what=f"etcd on {host.name}",
            timeout=READY_TIMEOUT,
        )

    def _wait_apiserver(self, ctx: ClusterContext, host: HostRef) -> None:
        hostops.wait_until(
            host,
            self._kubectl(ctx, host, "get --raw=/readyz --request-timeout=8s"),
            what=f"kube-apiserver on {host.name}",
            timeout=READY_TIMEOUT,
        )

    def _wait_node(self, ctx: ClusterContext, server: HostRef, node: HostRef) -> None:
        hostops.wait_until(
            server,
            self._kubectl(ctx, server, f"get node {shlex.quote(node.name)} -o name --request-timeout=8s"),
            what=f"node {node.name} registered",
            timeout=READY_TIMEOUT,
        )

    def _resolv_conf(self, host: HostRef) -> str:
        """systemd-resolved's stub (127.0.0.53) loops CoreDNS: give the kubelet the real file."""
        res = host.conn.run(
            "if systemctl is-active -q systemd-resolved 2>/dev/null && "
            "[ -f /run/systemd/resolve/resolv.conf ]; then echo resolved=1; fi; true",
            timeout=30,
        )
        return "/run/systemd/resolve/resolv.conf" if "resolved=1" in res.stdout else ""

    # ---------------------------------------------------------------------------- etcd phases
    def _write_etcd(self, ctx: ClusterContext, host: HostRef, env: str | None) -> bool:
        paths = self._paths(ctx, host)
        host.conn.run(f"install -d -m 0700 {ETCD_DATA_DIR}", timeout=30)
        changed = False
        if env is not None:
            changed = hostops.write_file(host, ETCD_ENV_FILE, env, 0o644)
        unit = etcd_unit(host.name, host.ip, paths, host.arch)
        return hostops.write_unit(host, ETCD_UNIT, unit) or changed

    def _init_etcd(self, ctx: ClusterContext, host: HostRef) -> None:
        env = etcd_bootstrap_env([(host.name, peer_url(host.ip))], "new", etcd_cluster_token(ctx))
        changed = self._write_etcd(ctx, host, env)
        hostops.start_or_restart(host, ETCD_UNIT, changed=changed, timeout=READY_TIMEOUT)
        self._wait_etcd(host)

    def _members(self, member_host: HostRef) -> list[Member]:
        res = member_host.conn.run(etcdctl("member list -w simple"), check=False, timeout=90)
        if res.rc != 0:
            raise StepFailed(
                f"etcd on {member_host.ip} does not answer `member list`: "
                f"{(res.stderr or res.stdout).strip()[-300:]}",
                host=member_host.ip,
                step="etcd membership",
                hint=f"journalctl -u {ETCD_UNIT} -n 50 on {member_host.ip}",
            )
        return parse_member_list(res.stdout)

    def _join_etcd(self, ctx: ClusterContext, host: HostRef) -> None:
        """Learner add → start with ``existing`` → promote; see the module doc."""
        h = self._staying_master(ctx, host)
        me = peer_url(host.ip)
        members = self._members(h)
        has_data = (
            "data=1"
            in host.conn.run(
                f"if [ -d {ETCD_DATA_DIR}/member ]; then echo data=1; fi; true", timeout=30
            ).stdout
        )
        plan = plan_etcd_join(members, me, has_data)
        for member_id in plan.promote_others:
            self._promote(h, member_id)
        for member_id in plan.remove:
            self._remove_member(h, member_id)
        if plan.wipe_data:
            host.conn.run(
                f"systemctl stop {ETCD_UNIT} 2>/dev/null || true; rm -rf {ETCD_DATA_DIR}/member",
                timeout=120,
            )
        if plan.add:
            # etcd refuses any member add ("unhealthy cluster") until every member has been
            # connected for 5 s, e.g. right after the previous master joined: retry until it accepts
            hostops.wait_until(
                h,
                etcdctl(f"member add {shlex.quote(host.name)} --peer-urls={me} --learner"),
                what=f"etcd accepting {host.name} as a new member",
                timeout=90,
                interval=2,
            )
        if plan.add or plan.remove:
            members = self._members(h)
        mine = member_for(members, me)
        fresh = plan.add or plan.wipe_data or (mine is not None and not mine.started)
        env = None
        if fresh:
            env = etcd_bootstrap_env(
                initial_cluster(members, host.name, me), "existing", etcd_cluster_token(ctx)
            )
        # a member that already runs with its data keeps its bootstrap env (etcd ignores it)
        changed = self._write_etcd(ctx, host, env)
        hostops.start_or_restart(host, ETCD_UNIT, changed=changed, timeout=READY_TIMEOUT)
        mine = member_for(self._members(h), me)
        if mine is None:
            raise StepFailed(
                f"etcd member {me} vanished while joining",
                host=host.ip,
                step="etcd join",
                hint="re-run: the join converges",
            )
        if mine.learner:
            self._promote(h, mine.id)
        self._wait_etcd(host)

    def _remove_member(self, member_host: HostRef, member_id: str) -> None:
        hostops.remove_etcd_member(member_host, etcdctl("", timeout=8).rstrip(), member_id)

    def _promote(self, member_host: HostRef, member_id: str) -> None:
        """Promote a learner once it caught up (etcd refuses before); done if already a voter."""
        hostops.wait_until(
            member_host,
            f"{etcdctl(f'member promote {member_id}', timeout=8)} >/dev/null 2>&1 || "
            f"{etcdctl('member list -w simple', timeout=8)} | "
            f"grep -qE '^{member_id}, started, .*, false$'",
            what=f"etcd learner {member_id} promoted",
            timeout=READY_TIMEOUT,
        )

    # ------------------------------------------------------------------------ control plane
    def _start_control_plane(
        self, ctx: ClusterContext, host: HostRef, changed: _Changed | None = None
    ) -> None:
        changed = changed or _Changed()
        paths = self._paths(ctx, host)
        for unit, text in control_plane_units(ctx, host, paths).items():
            changed.mark(unit, hostops.write_unit(host, unit, text))
        hostops.start_or_restart(host, APISERVER_UNIT, changed=changed[APISERVER_UNIT])
        self._wait_apiserver(ctx, host)
        for unit in (CONTROLLER_MANAGER_UNIT, SCHEDULER_UNIT):
            hostops.start_or_restart(host, unit, changed=changed[unit])

    def _start_node(self, ctx: ClusterContext, host: HostRef, changed: _Changed | None = None) -> None:
        changed = changed or _Changed()
        paths = self._paths(ctx, host)
        kcfg = kubelet_config(ctx, host, paths, resolv_conf=self._resolv_conf(host))
        changed.mark(KUBELET_UNIT, hostops.write_file(host, KUBELET_CONFIG, dump_yaml(kcfg)))
        pcfg = kube_proxy_config(ctx, host, paths)
        changed.mark(KUBE_PROXY_UNIT, hostops.write_file(host, KUBE_PROXY_CONFIG, dump_yaml(pcfg)))
        for unit, text in node_units(host, paths).items():
            changed.mark(unit, hostops.write_unit(host, unit, text))
        for unit in NODE_UNITS:
            hostops.start_or_restart(host, unit, changed=changed[unit])

    def _label_master(self, ctx: ClusterContext, server: HostRef, host: HostRef) -> None:
        server.conn.run(
            self._kubectl(
                ctx,
                server,
                f"label node {shlex.quote(host.name)} {CONTROL_PLANE_LABEL}= --overwrite",
            ),
            timeout=60,
        )

    # ------------------------------------------------------------------------------ boot hooks
    @hookimpl
    def sealkit_init_cluster(self, ctx: ClusterContext, host: HostRef) -> bool:
        """A one-member etcd, the control plane, then the master's own kubelet and kube-proxy."""
        self._init_etcd(ctx, host)
        self._start_control_plane(ctx, host)
        self._start_node(ctx, host)
        self._wait_node(ctx, host, host)
        self._label_master(ctx, host, host)
        return True

    @hookimpl
    def sealkit_join_master(self, ctx: ClusterContext, host: HostRef) -> bool:
        self._join_etcd(ctx, host)
        self._start_control_plane(ctx, host)
        self._start_node(ctx, host)
        self._wait_node(ctx, host, host)
        self._label_master(ctx, host, host)
        return True

    @hookimpl
    def sealkit_join_node(self, ctx: ClusterContext, host: HostRef) -> bool:
        """kubelet and kube-proxy through the HA endpoint; done when the Node object exists."""
        self._start_node(ctx, host)
        self._wait_node(ctx, ctx.first_master, host)
        return True

    @hookimpl
    def sealkit_drain_host(self, ctx: ClusterContext, host: HostRef) -> bool:
        """From a master that stays: drain and delete the Node, then (a master) leave etcd."""
        stays = self._staying_master(ctx, host)
        name = shlex.quote(host.name)
        get = self._kubectl(ctx, stays, f"get node {name} -o name")
        drain = self._kubectl(
            ctx,
            stays,
            f"drain {name} --ignore-daemonsets --delete-emptydir-data --force --timeout=120s",
        )
        delete = self._kubectl(ctx, stays, f"delete node {name} --ignore-not-found")
        stays.conn.run(f"if {get} >/dev/null 2>&1; then {drain}; fi && {delete}", timeout=300)
        if host.is_master:
            mine = member_for(self._members(stays), peer_url(host.ip))
            if mine is not None:
                self._remove_member(stays, mine.id)
        return True

    @hookimpl
    def sealkit_reset_host(self, ctx: ClusterContext, host: HostRef) -> None:
        """Remove every unit, file, data dir and binary this plugin placed; give back the host's
        containerd config when containerd is the host's own."""
        run = host.conn.run
        ours = run(f"cat {CONTAINERD_MARKER} 2>/dev/null || true", timeout=30).stdout.split()
        hostops.remove_unit(host, KUBELET_UNIT)
        hostops.remove_unit(host, KUBE_PROXY_UNIT)
        res = run(
            f"if [ -x {BIN_DIR}/kube-proxy ]; then {BIN_DIR}/kube-proxy --cleanup; fi",
            check=False,
            timeout=120,
        )
        if res.rc != 0:
            ctx.log.warning(
                "%s: kube-proxy --cleanup failed (rc %s); stale KUBE-* iptables rules may remain: %s",
                host,
                res.rc,
                res.stderr.strip()[-200:],
            )
        # pods: CRI's namespace k8s.io (tasks, containers, images), while containerd still runs
        run(reset_pods_script(f"{BIN_DIR}/ctr" if "ctr" in ours else "ctr"), timeout=300)
        for unit in (SCHEDULER_UNIT, CONTROLLER_MANAGER_UNIT, APISERVER_UNIT, ETCD_UNIT):
            hostops.remove_unit(host, unit)
        if ours:
            hostops.remove_unit(host, CONTAINERD_UNIT)
            hostops.remove_paths(host, "/var/lib/containerd", "/run/containerd", "/etc/containerd")
            run(
                "rm -f "
                + " ".join(
                    f"{BIN_DIR}/{b} {BIN_DIR}/{b}.sealkit-new" for b in CONTAINERD_BINARIES if b in ours
                ),
                timeout=60,
            )
        else:
            self._give_back_containerd(host)
        hostops.restore_unit_state(host, CONTAINERD_UNIT, hostops.CONTAINERD_RUNTIME_PATHS)
        hostops.remove_paths(host, *RESET_PATHS)
        # the etcd data dir (masters) and the CNI config dir back to what the host had before, then
        # the parents we created when they are empty
        ownership.give_back(host, "binary", claimed_dirs(host))
        host.conn.run(
            "for d in /etc/cni /etc/containerd/certs.d; do "
            '[ ! -d "$d" ] || rmdir --ignore-fail-on-non-empty "$d"; done',
            timeout=60,
        )
        run(
            "rm -f " + " ".join(f"{BIN_DIR}/{b} {BIN_DIR}/{b}.sealkit-new" for b in MASTER_BINARIES),
            timeout=60,
        )

    def _give_back_containerd(self, host: HostRef) -> None:
        """The host's own containerd: our mirror files out, its own config back, restarted."""
        d = "/etc/containerd/certs.d"
        host.conn.run(
            f'for f in {d}/*/hosts.toml; do [ -f "$f" ] || continue; '
            f'if head -n1 "$f" | grep -qF \'Managed by sealkit\'; then rm -f "$f"; '
            f'rmdir "$(dirname "$f")" 2>/dev/null || true; fi; done; '
            f"rmdir {d} 2>/dev/null || true; "
            f"if [ -e {CONTAINERD_CONFIG_BACKUP} ]; then mv -f {CONTAINERD_CONFIG_BACKUP} "
            f"{CONTAINERD_CONFIG}; restart=1; "
            f"elif [ -f {CONTAINERD_CONFIG} ] && head -n1 {CONTAINERD_CONFIG} | "
            f"grep -qF 'written by sealkit'; then rm -f {CONTAINERD_CONFIG}; restart=1; fi; "
            f'if [ -n "$restart" ] && systemctl is-active -q {CONTAINERD_UNIT}; then '
            f"systemctl restart {CONTAINERD_UNIT}; fi; true",
            timeout=120,
        )

    @hookimpl
    def sealkit_upgrade_host(
        self, ctx: ClusterContext, host: HostRef, from_version: str, to_version: str
    ) -> bool:
        """Replace the binaries, restart in order: etcd (if its binary changed), apiserver,
        controller-manager, scheduler, then kubelet and kube-proxy. The engine does masters first,
        one at a time; each waits until healthy before the next component restarts."""
        binaries = self._install_binaries(ctx, host)
        changed = _Changed()
        if host.is_master:
            if self._write_etcd(ctx, host, None) or binaries.get("etcd"):
                hostops.systemctl(host, "restart", ETCD_UNIT, timeout=READY_TIMEOUT)
                self._wait_etcd(host)
            for unit, binary in zip(
                CONTROL_PLANE_UNITS,
                ("kube-apiserver", "kube-controller-manager", "kube-scheduler"),
                strict=True,
            ):
                changed.mark(unit, binaries.get(binary, False))
            self._start_control_plane(ctx, host, changed)
        changed.mark(KUBELET_UNIT, binaries.get("kubelet", False))
        changed.mark(KUBE_PROXY_UNIT, binaries.get("kube-proxy", False))
        self._start_node(ctx, host, changed)
        server = host if host.is_master else ctx.first_master
        kubectl = self._kubectl(ctx, server, "").rstrip()
        hostops.wait_node_version(server, kubectl, host.name, to_version, timeout=READY_TIMEOUT)
        return True

    @hookimpl
    def sealkit_get_kubeconfig(self, ctx: ClusterContext) -> str:
        """The admin kubeconfig, its server set to the first master (the controller reaches it)."""
        first = ctx.first_master
        text = first.conn.run(f"cat {certs.CONF}/admin.conf", timeout=30).stdout
        doc = yaml.safe_load(text)
        if not isinstance(doc, dict) or not doc.get("clusters"):
            raise StepFailed(
                f"{certs.CONF}/admin.conf is not a kubeconfig",
                host=first.ip,
                step="kubeconfig",
                hint="sealkit cert renew rewrites it",
            )
        url = https_url(first.ip, ctx.runtime.apiserver_port)
        for cluster in doc["clusters"]:
            cluster.setdefault("cluster", {})["server"] = url
        return yaml.safe_dump(doc, sort_keys=False)

    @hookimpl
    def sealkit_host_expectations(self, ctx: ClusterContext, host: HostRef) -> hostops.Expectations:
        """containerd and the node units everywhere, etcd and the control plane on masters, each unit file
        and the kube-proxy config as the start steps write them. etcd's unit names the members it joined
        with and the kubelet's config the host's resolv.conf: their content is not declared here."""
        paths = self._paths(ctx, host)
        units = dict(node_units(host, paths))
        if host.is_master:
            units = {**control_plane_units(ctx, host, paths), **units}
        files = [
            hostops.ExpectedFile(f"{hostops.UNIT_DIR}/{unit}", text.encode(), 0o644, (unit,))
            for unit, text in units.items()
        ]
        proxy = dump_yaml(kube_proxy_config(ctx, host, paths)).encode()
        files.append(hostops.ExpectedFile(KUBE_PROXY_CONFIG, proxy, 0o644, (KUBE_PROXY_UNIT,)))
        running = (CONTAINERD_UNIT, *((ETCD_UNIT,) if host.is_master else ()), *units)
        return hostops.Expectations(units=tuple(running), files=tuple(files))

    @hookimpl
    def sealkit_runtime_version(self, ctx: ClusterContext, host: HostRef) -> str | None:
        res = host.conn.run(f"{BIN_DIR}/kubelet --version", check=False, timeout=30)
        if res.rc != 0:
            return None
        m = re.search(r"\bv\d+\.\d+\.\d+\S*", res.stdout)
        return m.group(0) if m else (res.stdout.strip() or None)

    @hookimpl
    def sealkit_restart_after_certs(self, ctx: ClusterContext, host: HostRef) -> None:
        """Every component reads its certificates at start only: restart in dependency order."""
        if host.is_master:
            hostops.systemctl(host, "restart", ETCD_UNIT, timeout=READY_TIMEOUT)
            self._wait_etcd(host)
            hostops.systemctl(host, "restart", APISERVER_UNIT, timeout=READY_TIMEOUT)
            self._wait_apiserver(ctx, host)
            for unit in (CONTROLLER_MANAGER_UNIT, SCHEDULER_UNIT):
                hostops.systemctl(host, "restart", unit, timeout=READY_TIMEOUT)
        for unit in NODE_UNITS:
            hostops.systemctl(host, "restart", unit, timeout=READY_TIMEOUT)
