"""Subject alternative names: which DNS names and IPs the apiserver (and friends) must answer to.

A SAN missing from the apiserver certificate is a cluster nobody can reach by that address, so the
list is built in one place, deterministically (deduplicated, sorted), and every input is validated
loudly instead of being dropped with a warning as kubeadm does.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from sealkit.errors import ValidationError

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_RE = re.compile(rf"^(\*\.)?{_DNS_LABEL}(\.{_DNS_LABEL})*$")

LOOPBACK_IPS = ("127.0.0.1", "::1")


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _ip_key(ip: str) -> tuple[int, int]:
    addr = ipaddress.ip_address(ip)
    return (addr.version, int(addr))


def sort_ips(ips: Iterable[str]) -> tuple[str, ...]:
    """Normalise (compressed form), deduplicate, sort IPv4 before IPv6, numerically."""
    return tuple(sorted({str(ipaddress.ip_address(i)) for i in ips}, key=_ip_key))


def sort_dns(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({n.lower().rstrip(".") for n in names}))


def split_sans(values: Iterable[str], *, field: str = "spec.certs.sans") -> tuple[list[str], list[str]]:
    """Split user SANs into (dns_names, ips): IP-looking strings are IPs, the rest DNS names."""
    dns: list[str] = []
    ips: list[str] = []
    for i, raw in enumerate(values):
        value = raw.strip()
        if not value:
            continue
        if value.startswith("[") and value.endswith("]"):
            value = value[1:-1]
        if is_ip(value):
            ips.append(str(ipaddress.ip_address(value)))
            continue
        name = value.lower().rstrip(".")
        if len(name) > 253 or not _DNS_RE.match(name):
            raise ValidationError(
                f"{field}[{i}]",
                raw,
                "not an IP address nor an RFC 1123 DNS name",
                hint="use names like api.example.com or *.example.com, or plain IPs",
            )
        dns.append(name)
    return dns, ips


def service_ips(service_cidr: str) -> list[str]:
    """First IP of each service CIDR (the ``kubernetes`` Service IP); dual-stack: comma-joined."""
    out: list[str] = []
    for part in (p.strip() for p in service_cidr.split(",")):
        if not part:
            continue
        try:
            net = ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise ValidationError(
                "spec.network.serviceCIDR", service_cidr, f"{part!r} is not a CIDR"
            ) from None
        if net.num_addresses < 2:
            raise ValidationError(
                "spec.network.serviceCIDR", service_cidr, f"{part!r} has no room for a service IP"
            )
        out.append(str(net.network_address + 1))
    if not out:
        raise ValidationError("spec.network.serviceCIDR", service_cidr, "empty")
    return out


def cluster_sans(
    master_ips: Iterable[str],
    master_names: Iterable[str],
    endpoint_host: str,
    service_cidr: str,
    dns_domain: str = "cluster.local",
    extra: Iterable[str] = (),
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """SANs of an apiserver serving certificate: ``(dns_names, ips)``, deduplicated and sorted.

    Always: every given master IP and name, the HA endpoint (VIP or LB; an IP or a name), 127.0.0.1,
    ::1, localhost, the kubernetes Service IP(s), ``kubernetes``, ``kubernetes.default``,
    ``kubernetes.default.svc``, ``kubernetes.default.svc.<dns_domain>``; then the user's extra SANs.
    """
    domain = dns_domain.strip().strip(".")
    if not domain:
        raise ValidationError("spec.network.dnsDomain", dns_domain, "empty")
    extra_dns, extra_ips = split_sans(extra)
    names_dns, names_ips = split_sans([n for n in master_names if n], field="master hostnames")
    ep_dns, ep_ips = split_sans([endpoint_host], field="apiserver endpoint")
    dns = [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        f"kubernetes.default.svc.{domain}",
        *names_dns,
        *ep_dns,
        *extra_dns,
    ]
    ips = [*LOOPBACK_IPS, *service_ips(service_cidr), *master_ips, *names_ips, *ep_ips, *extra_ips]
    return sort_dns(dns), sort_ips(ips)


def host_sans(
    host_ip: str, host_names: Iterable[str], *, loopback: bool = True
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """SANs of a host-bound server cert (etcd, kubelet): its names and IP (+ localhost/loopback)."""
    dns, ips = split_sans([n for n in host_names if n], field="host names")
    ips.append(host_ip)
    if loopback:
        dns.append("localhost")
        ips.extend(LOOPBACK_IPS)
    return sort_dns(dns), sort_ips(ips)
