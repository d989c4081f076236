"""Built-in preflight: checks every runtime needs before any change is made on a host."""

from __future__ import annotations

import ipaddress
import re
import shlex
from typing import TYPE_CHECKING

from sealkit.context import INSTALLED_MARKER
from sealkit.errors import StepFailed
from sealkit.hookspecs import hookimpl

if TYPE_CHECKING:
    from sealkit.context import ClusterContext, HostRef

#: free space needed under /var/lib for the rootfs, images and runtime data
MIN_FREE_MB = 2048
MAX_CLOCK_SKEW_S = 30


class PreflightPlugin:
    """Disk, clock skew, free ports, an existing foreign cluster; hostnames are checked cluster-wide."""

    @hookimpl
    def sealkit_preflight(self, ctx: ClusterContext, host: HostRef) -> list[str]:
        problems: list[str] = []
        facts = host.facts
        free_mb = facts.get("free_mb")
        if isinstance(free_mb, int) and free_mb < MIN_FREE_MB:
            problems.append(f"only {free_mb} MB free under /var/lib (need {MIN_FREE_MB} MB)")
        skew = facts.get("clock_skew_s")
        if isinstance(skew, (int, float)) and abs(skew) > MAX_CLOCK_SKEW_S:
            problems.append(
                f"clock differs from the controller by {skew:+.0f} s (max {MAX_CLOCK_SKEW_S} s): "
                "certificates and etcd need synchronised clocks; fix NTP on the host"
            )
        problems += _name_clashes(ctx, facts)
        if facts.get("sealkit_installed"):
            return problems  # our own earlier run: ports in use by our services are expected
        claims = {
            **{
                p: "the runtime"
                for p in (ctx.runtime.master_ports if host.is_master else ctx.runtime.node_ports)
            },
            **_lb_ports(ctx, host),
            **_registry_ports(ctx, host),
        }
        busy = sorted(set(claims) & set(facts.get("listening_ports", ())))
        if busy:
            which = ", ".join(f"{p} ({claims[p]})" for p in busy)
            fix = "stop what listens there or choose other hosts"
            if any(claims[p].startswith("the registry") for p in busy):
                fix += ", or move the embedded registry to a free port (Clusterfile spec.registry.port)"
            problems.append(f"ports {which} already in use: another Kubernetes or service runs here; {fix}")
        for path in facts.get("foreign_cluster", ()):
            problems.append(f"{path} exists: a cluster not installed by sealkit; reset it first")
        return problems


def _registry_ports(ctx: ClusterContext, host: HostRef) -> dict[int, str]:
    """The embedded registry's pull and push ports, on every host that runs it (none elsewhere)."""
    from sealkit.registry import service

    if host.ip not in {h.ip for h in ctx.cluster.registry_hosts}:
        return {}
    _, port, _ = service.registry_settings(ctx)
    return {port: "the registry", service.push_port(port): "the registry's push endpoint"}


def _lb_ports(ctx: ClusterContext, host: HostRef) -> dict[int, str]:
    """The node-local apiserver LB's port on workers, unless the runtime balances natively."""
    from sealkit.ha.plugin import strategy

    if host.is_master or strategy(ctx) == "native":
        return {}
    return {ctx.cluster.ha.port: "the apiserver load balancer"}


def _name_clashes(ctx: ClusterContext, facts: dict[str, object]) -> list[str]:
    """The registry's stable name must be ours alone in /etc/hosts: a line outside sealkit's block that
    names it would send pulls to whatever that line says (resolvers read the file top down)."""
    from sealkit.registry import service

    domain, _, _ = service.registry_settings(ctx)
    entries = facts.get("etc_hosts")
    if not isinstance(entries, list):
        return []
    return [
        f"/etc/hosts maps {domain} to {ip} outside sealkit's block: the registry's name is taken; "
        f"remove that line or set spec.registry.domain to another name"
        for ip, name in entries
        if name == domain.lower()
    ]


#: paths whose presence means a cluster sealkit did not install; a host may only report these
FOREIGN_CLUSTER_PATHS = ("/etc/kubernetes/admin.conf", "/etc/rancher/k3s/k3s.yaml", "/var/lib/k0s/pki/ca.crt")

#: one round trip that gathers every fact preflight and the engine need
FACTS_SCRIPT = "; ".join(
    [
        "echo hostname=$(hostname)",
        "echo arch=$(uname -m)",
        "echo now=$(date +%s)",
        "echo free_mb=$(df -Pm /var/lib 2>/dev/null | awk 'NR==2{print $4}')",
        "echo listening=$( (ss -Hltn 2>/dev/null || true) | awk '{print $4}' | sed 's/.*://' "
        "| sort -un | tr '\\n' ,)",
        f"test -e {INSTALLED_MARKER} && echo sealkit_installed=1 || true",
        f"for p in {' '.join(FOREIGN_CLUSTER_PATHS)}; do test -e $p && echo foreign=$p; done; true",
        # names /etc/hosts gives outside sealkit's own block (a clash with the registry's name is refused)
        "awk '/^# sealkit begin/{s=1;next} /^# sealkit end/{s=0;next} s||/^[[:space:]]*#/{next} "
        '{for(i=2;i<=NF&&$i!~/^#/;i++) print "etc_hosts=" $1 " " $i}\' /etc/hosts 2>/dev/null; true',
    ]
)
#: what ``status`` needs of a host (its name, and the arch every facts answer carries) in one fork: the full
#: script's ``ss``/``df``/``awk`` cost the hosts' CPU ~0.3 s of a 1.3 s status at 20 lab hosts
STATUS_FACTS_SCRIPT = 'set -f && set -- $(uname -nm) && echo "hostname=$1" && echo "arch=$2"'
#: at most this many /etc/hosts names are kept from a host's answer
MAX_ETC_HOSTS = 4096
_HOSTS_NAME = re.compile(r"[a-z0-9._-]{1,253}")

#: OCI architecture names sealkit can ship a rootfs for (those :func:`sealkit.image.oci.normalize_arch`
#: maps ``uname -m`` spellings to); anything else a host reports is refused, never used in a path
KNOWN_ARCHES = frozenset({"amd64", "arm64", "arm", "ppc64le", "s390x", "riscv64"})
#: RFC 1123 subdomain, as Kubernetes validates node names (k8s.io/apimachinery IsDNS1123Subdomain)
_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = re.compile(rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*")
_MAX_HOSTNAME = 253
_MAX_LABEL = 63


def _refuse(host: str | None, fact: str, value: str, why: str, hint: str) -> StepFailed:
    return StepFailed(
        f"the host reports {fact} {value[:80]!r}: {why}; refusing to use it",
        host=host,
        step="facts",
        hint=hint,
    )


def valid_arch(value: str, *, host: str | None = None) -> str:
    """``uname -m`` (or an OCI name) → one of :data:`KNOWN_ARCHES`, or StepFailed naming host and value.

    The architecture names a directory on the controller (``$SEALKIT_HOME/rootfs/<digest>-<arch>``), so
    a host answering ``amd64/../../.ssh`` must never get that far.
    """
    from sealkit.image.oci import normalize_arch

    arch = normalize_arch(value.strip())
    if arch not in KNOWN_ARCHES:
        raise _refuse(
            host,
            "architecture",
            value,
            f"not one of {', '.join(sorted(KNOWN_ARCHES))}",
            "check `uname -m` on the host; set spec.hosts[].arch in the Clusterfile if it is known",
        )
    return arch


def valid_hostname(value: str, *, host: str | None = None) -> str:
    """The hostname lower-cased as Kubernetes does for node names; StepFailed unless RFC 1123.

    It becomes a node name, a file name in the cluster state and an argument of remote commands.
    """
    name = value.strip().lower()
    if (
        not name
        or len(name) > _MAX_HOSTNAME
        or not _DNS1123_SUBDOMAIN.fullmatch(name)
        or any(len(label) > _MAX_LABEL for label in name.split("."))
    ):
        raise _refuse(
            host,
            "hostname",
            value,
            "not an RFC 1123 name (lower-case letters, digits, '-' and '.', at most 253 characters)",
            f"set a valid hostname on the host, e.g. {shlex.quote('hostnamectl set-hostname node-1')}",
        )
    return name


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _int(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isdigit() and len(value) <= 18 else None


def parse_facts(text: str, controller_now: float, *, host: str | None = None) -> dict[str, object]:
    """Turn FACTS_SCRIPT output into typed, validated facts; pure so it is unit-tested.

    Everything a host prints is untrusted: arch and hostname must be in their closed sets (StepFailed
    naming ``host`` and the value otherwise), numbers are numbers, ports are 1-65535, and a foreign
    cluster is reported only by one of the paths the script tests. Lines the script does not print are
    ignored.
    """
    facts: dict[str, object] = {"foreign_cluster": []}
    foreign: list[str] = []
    etc_hosts: list[tuple[str, str]] = []
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "hostname":
            facts["hostname"] = valid_hostname(value, host=host)
        elif key == "arch":
            facts["arch"] = valid_arch(value, host=host)
        elif key == "now" and (now := _int(value)) is not None:
            facts["clock_skew_s"] = now - controller_now
        elif key == "free_mb" and (free := _int(value)) is not None:
            facts["free_mb"] = free
        elif key == "listening":
            ports = {_int(p) for p in value.split(",")}
            facts["listening_ports"] = sorted(p for p in ports if p is not None and 0 < p < 65536)
        elif key == "sealkit_installed" and value.strip() == "1":
            facts["sealkit_installed"] = True
        elif key == "foreign" and value.strip() in FOREIGN_CLUSTER_PATHS and value.strip() not in foreign:
            foreign.append(value.strip())
        elif key == "etc_hosts" and len(etc_hosts) < MAX_ETC_HOSTS:
            ip, _, name = value.strip().partition(" ")
            if _HOSTS_NAME.fullmatch(name.lower()) and _is_ip(ip):
                etc_hosts.append((ip, name.lower()))
    facts["foreign_cluster"] = foreign
    facts["etc_hosts"] = etc_hosts
    for required in ("hostname", "arch"):
        if required not in facts:
            raise StepFailed(
                f"the host did not report its {required} (`hostname` / `uname -m` printed nothing)",
                host=host,
                step="facts",
                hint="check that the login shell of the SSH user is a POSIX shell with coreutils",
            )
    return facts


def unique_hostnames(hosts: list[HostRef]) -> list[str]:
    """Cluster-wide: two hosts with one hostname would become one Kubernetes node."""
    seen: dict[str, str] = {}
    problems = []
    for h in hosts:
        name = h.name
        if name in seen:
            problems.append(
                f"hosts {seen[name]} and {h.ip} share the hostname {name!r}: node names must be "
                f"unique; run e.g. {shlex.quote('hostnamectl set-hostname NEW')} on one of them"
            )
        else:
            seen[name] = h.ip
    return problems
