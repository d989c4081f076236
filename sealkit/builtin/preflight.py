"""Built-in preflight: checks every runtime needs before any change is made on a host."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from sealkit.context import INSTALLED_MARKER
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
        if facts.get("sealkit_installed"):
            return problems  # our own earlier run: ports in use by our services are expected
        ports = ctx.runtime.master_ports if host.is_master else ctx.runtime.node_ports
        busy = sorted(set(ports) & set(facts.get("listening_ports", ())))
        if busy:
            problems.append(
                f"ports {', '.join(map(str, busy))} already in use: another Kubernetes or service "
                "runs here; remove it or choose other hosts"
            )
        for path in facts.get("foreign_cluster", ()):
            problems.append(f"{path} exists: a cluster not installed by sealkit; reset it first")
        return problems


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
        "for p in /etc/kubernetes/admin.conf /etc/rancher/k3s/k3s.yaml /var/lib/k0s/pki/ca.crt; do "
        "test -e $p && echo foreign=$p; done; true",
    ]
)


def parse_facts(text: str, controller_now: float) -> dict[str, object]:
    """Turn FACTS_SCRIPT output into facts; pure so it is unit-tested."""
    facts: dict[str, object] = {"foreign_cluster": []}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "hostname":
            facts["hostname"] = value.strip()
        elif key == "arch":
            facts["arch"] = {"x86_64": "amd64", "aarch64": "arm64"}.get(value.strip(), value.strip())
        elif key == "now" and value.strip().isdigit():
            facts["clock_skew_s"] = int(value) - controller_now
        elif key == "free_mb" and value.strip().isdigit():
            facts["free_mb"] = int(value)
        elif key == "listening":
            facts["listening_ports"] = sorted({int(p) for p in value.split(",") if p.strip().isdigit()})
        elif key == "sealkit_installed":
            facts["sealkit_installed"] = True
        elif key == "foreign":
            facts["foreign_cluster"].append(value.strip())  # type: ignore[union-attr]
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
