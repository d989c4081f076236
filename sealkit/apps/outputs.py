"""Where to connect and with what: entry points and credentials from the objects the app created.

* NodePort Service: ``<host IP>:<nodePort>`` for every cluster host (the IPs sealkit reaches them by,
  which are the addresses the user's clients can reach too); LoadBalancer: the address in its status;
  with ``ingress:``, the Ingress rule's host on 80 (443 when it has TLS). A ClusterIP Service without
  an Ingress is not reachable from outside the cluster: a warning says so instead of a wrong address.
* Credentials: a Secret's key (base64-decoded), a generated/``-e`` env value, or a plain value.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from sealkit.apps.kube import meta
from sealkit.apps.spec import CredentialSpec, EndpointSpec


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _port(service: dict[str, Any], want: int | str) -> dict[str, Any] | None:
    for p in (service.get("spec") or {}).get("ports") or []:
        if isinstance(p, dict) and (p.get("port") == want or (p.get("name") and p.get("name") == want)):
            return p
    return None


def endpoint_addresses(
    ep: EndpointSpec,
    service: dict[str, Any] | None,
    ingress: dict[str, Any] | None,
    host_ips: Sequence[str],
) -> tuple[list[str], list[str]]:
    """(addresses, warnings) for one declared entry point."""
    if ep.ingress:
        if ingress is None:
            return [], [f"entry point {ep.name}: ingress {ep.ingress} does not exist"]
        spec = ingress.get("spec") or {}
        port = 443 if spec.get("tls") else 80
        hosts = [r.get("host") for r in spec.get("rules") or [] if isinstance(r, dict) and r.get("host")]
        if hosts:
            return [f"{_bracket(str(h))}:{port}" for h in hosts], []
        lb = ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        addrs = [str(i.get("ip") or i.get("hostname")) for i in lb if isinstance(i, dict)]
        return [f"{_bracket(a)}:{port}" for a in addrs if a != "None"], []
    if service is None:
        return [], [f"entry point {ep.name}: service {ep.service} does not exist"]
    port = _port(service, ep.port)
    if port is None:
        return [], [f"entry point {ep.name}: service {ep.service} has no port {ep.port}"]
    kind = (service.get("spec") or {}).get("type", "ClusterIP")
    if kind == "LoadBalancer":
        lb = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        addrs = [str(i.get("ip") or i.get("hostname") or "") for i in lb if isinstance(i, dict)]
        addrs = [a for a in addrs if a]
        if addrs:
            return [f"{_bracket(a)}:{port['port']}" for a in addrs], []
    if kind in ("NodePort", "LoadBalancer") and port.get("nodePort"):
        return [f"{_bracket(h)}:{port['nodePort']}" for h in host_ips], []
    return [], [
        f"entry point {ep.name}: service {ep.service} is {kind}, not reachable from outside the cluster "
        "(the image should make it a NodePort or LoadBalancer, or name an ingress)"
    ]


def credential_values(
    creds: Sequence[CredentialSpec], secrets: Mapping[str, dict[str, Any] | None], env: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """(name → value, warnings); ``secrets`` maps Secret name → object (None when absent)."""
    out: dict[str, str] = {}
    warnings: list[str] = []
    for c in creds:
        if c.value:
            out[c.name] = c.value
        elif c.env:
            if c.env in env:
                out[c.name] = env[c.env]
            else:
                warnings.append(f"credential {c.name}: {c.env} is not set")
        else:
            secret = secrets.get(c.secret)
            raw = ((secret or {}).get("data") or {}).get(c.key)
            if secret is None:
                warnings.append(f"credential {c.name}: secret {c.secret} does not exist")
            elif raw is None:
                warnings.append(f"credential {c.name}: secret {c.secret} has no key {c.key}")
            else:
                try:
                    out[c.name] = base64.b64decode(str(raw), validate=True).decode()
                except (binascii.Error, UnicodeDecodeError):
                    warnings.append(f"credential {c.name}: secret {c.secret} key {c.key} is not base64 text")
    return out, warnings


def claimed_volumes(pods: Sequence[dict[str, Any]]) -> list[str]:
    """PersistentVolumeClaims the app's pods mount (kept on remove unless --purge)."""
    names = set()
    for pod in pods:
        for v in (pod.get("spec") or {}).get("volumes") or []:
            claim = (v or {}).get("persistentVolumeClaim") or {}
            if claim.get("claimName"):
                names.add(f"{meta(pod).get('namespace', '')}/{claim['claimName']}")
    return sorted(names)
