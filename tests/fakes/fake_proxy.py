"""The kube-proxy CONTRACT FAKE's service forwarding (sealkit-contract-fake): never ship this.

A user-space proxy, like kube-proxy's former `userspace` mode (kubernetes/kubernetes v1.25.0
pkg/proxy/userspace, removed in v1.26): for every NodePort (and LoadBalancer) Service port it
listens on the node's addresses at the nodePort (`--nodeport-addresses` default: all) and relays
each TCP connection to one ready endpoint from the Service's Endpoints, round-robin. A port with
no ready endpoint refuses (the connection is closed at once, where iptables would REJECT).
Why user space: the lab hosts have no kernel modules (no IPVS) and the fakes must not leave
iptables rules behind. UDP is not forwarded.

ClusterIPs (`cluster_ips=True`, what the fakes' kube-proxies use): kube-proxy's IPVS mode binds every
Service's ClusterIP to a dummy device on the node, `kube-ipvs0` (kubernetes/kubernetes
pkg/proxy/ipvs/proxier.go defaultDummyDevice), so the node itself and host-network pods reach it;
here the addresses go on `lo` with the label `lo:kube-proxy` (no dummy module needed in the lab) and a
user-space listener on each ClusterIP:port relays to the same ready endpoints as the NodePort. The
addresses are removed when a Service goes and when the proxy stops (real kube-proxy leaves
kube-ipvs0 until `kube-proxy --cleanup`), so a stopped fake leaves the node's network as it found it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import shutil
import socket
import subprocess
import threading
from typing import Any

try:  # package import in sealkit's tests; sibling import when copied onto a host
    from . import fakelib
except ImportError:
    import fakelib  # type: ignore[no-redef]


class Listener:
    """One nodePort: accept, pick a backend, relay both directions."""

    def __init__(self, port: int, bind: str = "0.0.0.0") -> None:
        self.port = port
        self.backends: list[tuple[str, int]] = []
        self.rr = itertools.count()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((bind, port))
        self.sock.listen(64)
        self.closed = False
        threading.Thread(target=self.accept_loop, name=f"nodeport-{port}", daemon=True).start()

    def accept_loop(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.relay, args=(conn,), daemon=True).start()

    def relay(self, conn: socket.socket) -> None:
        backends = list(self.backends)
        upstream = None
        for _ in range(len(backends)):
            host, port = backends[next(self.rr) % len(backends)]
            try:
                upstream = socket.create_connection((host, port), timeout=5)
                break
            except OSError:
                continue
        if upstream is None:
            conn.close()
            return
        upstream.settimeout(None)

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)

        t = threading.Thread(target=pump, args=(upstream, conn), daemon=True)
        t.start()
        pump(conn, upstream)
        t.join()
        conn.close()
        upstream.close()

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.close()


def _backends(sp: dict[str, Any], ep: dict[str, Any]) -> list[tuple[str, int]]:
    """Ready (ip, port) of a Service port from its Endpoints (the port matched by name, or the only one)."""
    backends = []
    for subset in ep.get("subsets") or []:
        port = next(
            (
                p["port"]
                for p in subset.get("ports") or []
                if p.get("name", "") == sp.get("name", "") or len(subset.get("ports") or []) == 1
            ),
            None,
        )
        if port is None:
            continue
        backends += [(a["ip"], int(port)) for a in subset.get("addresses") or []]
    return sorted(backends)


def _by_name(endpoints: list[dict[str, Any]]) -> dict[tuple[Any, str], dict[str, Any]]:
    return {(e["metadata"].get("namespace"), e["metadata"]["name"]): e for e in endpoints}


def desired_ports(
    services: list[dict[str, Any]], endpoints: list[dict[str, Any]]
) -> dict[int, list[tuple[str, int]]]:
    """nodePort → ready backends (ip, port), from Services and their Endpoints."""
    eps = _by_name(endpoints)
    out: dict[int, list[tuple[str, int]]] = {}
    for svc in services:
        spec = svc.get("spec") or {}
        if spec.get("type") not in ("NodePort", "LoadBalancer"):
            continue
        ep = eps.get((svc["metadata"].get("namespace"), svc["metadata"]["name"])) or {}
        for sp in spec.get("ports") or []:
            if not sp.get("nodePort") or sp.get("protocol", "TCP") != "TCP":
                continue
            out[int(sp["nodePort"])] = _backends(sp, ep)
    return out


def desired_cluster_ports(
    services: list[dict[str, Any]], endpoints: list[dict[str, Any]]
) -> dict[tuple[str, int], list[tuple[str, int]]]:
    """(IPv4 ClusterIP, port) → ready backends, for every Service with a ClusterIP (not headless,
    not ExternalName)."""
    eps = _by_name(endpoints)
    out: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for svc in services:
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP") or ""
        if spec.get("type") == "ExternalName" or ip in ("", "None"):
            continue
        try:
            if ipaddress.ip_address(ip).version != 4:
                continue
        except ValueError:
            continue
        ep = eps.get((svc["metadata"].get("namespace"), svc["metadata"]["name"])) or {}
        for sp in spec.get("ports") or []:
            if sp.get("protocol", "TCP") == "TCP" and sp.get("port"):
                out[(ip, int(sp["port"]))] = _backends(sp, ep)
    return out


def pods_own_port(services: list[dict[str, Any]], ip: str, port: int) -> bool:
    """True unless the Service port at ``ip:port`` targets another port *number*. The fakes run pods in the
    node's network, so a pod listening on 0.0.0.0:port holds that port on every node it runs on, and a relay
    bound to ip:port would take it from the pod (EADDRINUSE). That is the case when targetPort is the same
    number (or absent: it defaults to port), and may be when it is a name (resolved from the pods' container
    ports, which may not exist yet): no relay then. The ClusterIP is still bound on lo, so on a node that
    runs such a pod the kernel hands ip:port to the pod directly; on a node without one it is refused."""
    for svc in services:
        spec = svc.get("spec") or {}
        if spec.get("clusterIP") != ip:
            continue
        for sp in spec.get("ports") or []:
            if int(sp.get("port") or 0) == port:
                target = sp.get("targetPort", port)
                return not (isinstance(target, int) and target != port)
    return False


VIP_DEVICE = "lo"
VIP_LABEL = "lo:kube-proxy"


class ServiceVIPs:
    """The ClusterIPs bound on the node (see the module docstring): `ip addr` on lo, labelled so that
    the ones this proxy added, and only those, are found and removed again."""

    def __init__(self) -> None:
        self.ip = shutil.which("ip") or "/usr/sbin/ip"

    def _ip(self, *args: str) -> str:
        proc = subprocess.run([self.ip, *args], capture_output=True, text=True, timeout=30, check=False)
        if proc.returncode != 0:
            raise fakelib.FakeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def current(self) -> set[str]:
        out = self._ip("-o", "-4", "addr", "show", "dev", VIP_DEVICE, "label", VIP_LABEL)
        return {f.split("/")[0] for line in out.splitlines() for f in line.split()[3:4]}

    def ensure(self, want: set[str]) -> None:
        have = self.current()
        for ip in sorted(want - have):
            self._ip("addr", "add", f"{ip}/32", "dev", VIP_DEVICE, "label", VIP_LABEL)
        for ip in sorted(have - want):
            self._ip("addr", "del", f"{ip}/32", "dev", VIP_DEVICE, "label", VIP_LABEL)


class NodePortProxy:
    """Keeps one Listener per nodePort (and, with `cluster_ips`, per ClusterIP port) in step with the
    API; call `sync` periodically, `close` when the proxy stops."""

    def __init__(self, api: Any, bind: str = "0.0.0.0", cluster_ips: bool = False) -> None:
        self.api = api
        self.bind = bind
        self.listeners: dict[int, Listener] = {}
        self.vips = ServiceVIPs() if cluster_ips else None
        self.cluster: dict[tuple[str, int], Listener] = {}

    def sync(self) -> None:
        services = self.api.request("GET", "/api/v1/services").get("items") or []
        endpoints = self.api.request("GET", "/api/v1/endpoints").get("items") or []
        want = desired_ports(services, endpoints)
        for port, backends in want.items():
            lst = self.listeners.get(port)
            if lst is None:
                try:
                    lst = self.listeners[port] = Listener(port, self.bind)
                except OSError as exc:
                    fakelib.klog("error", f"can't open port :{port} for a NodePort service: {exc}")
                    continue
            lst.backends = backends
        for port in [p for p in self.listeners if p not in want]:
            self.listeners.pop(port).close()
        if self.vips is not None:
            try:
                self.sync_cluster_ips(desired_cluster_ports(services, endpoints), services)
            except (fakelib.FakeError, OSError, subprocess.SubprocessError) as exc:
                fakelib.klog("error", f"ClusterIP sync failed (will retry): {exc}")

    def sync_cluster_ips(
        self, want: dict[tuple[str, int], list[tuple[str, int]]], services: list[dict[str, Any]] = ()
    ) -> None:
        assert self.vips is not None
        relayed = {k: v for k, v in want.items() if not pods_own_port(list(services), *k)}
        for key in [k for k in self.cluster if k not in relayed]:
            self.cluster.pop(key).close()
        self.vips.ensure({ip for ip, _ in want})
        for (ip, port), backends in relayed.items():
            lst = self.cluster.get((ip, port))
            if lst is None:
                try:
                    lst = self.cluster[(ip, port)] = Listener(port, ip)
                except OSError as exc:
                    fakelib.klog("error", f"can't open {ip}:{port} for a ClusterIP service: {exc}")
                    continue
            lst.backends = backends

    def close(self) -> None:
        for lst in [*self.listeners.values(), *self.cluster.values()]:
            lst.close()
        self.listeners.clear()
        self.cluster.clear()
        if self.vips is not None:
            try:
                self.vips.ensure(set())
            except (fakelib.FakeError, OSError, subprocess.SubprocessError) as exc:
                fakelib.klog("error", f"removing ClusterIPs from {VIP_DEVICE}: {exc}")
