"""The kube-proxy CONTRACT FAKE's service forwarding (sealkit-contract-fake): never ship this.

A user-space proxy, like kube-proxy's former `userspace` mode (kubernetes/kubernetes v1.25.0
pkg/proxy/userspace, removed in v1.26): for every NodePort (and LoadBalancer) Service port it
listens on the node's addresses at the nodePort (`--nodeport-addresses` default: all) and relays
each TCP connection to one ready endpoint from the Service's Endpoints, round-robin. A port with
no ready endpoint refuses (the connection is closed at once, where iptables would REJECT).
Why user space: the lab hosts have no kernel modules (no IPVS) and the fakes must not leave
iptables rules behind. ClusterIPs are allocated by the apiserver but not routed (there is no
virtual IP on the nodes); UDP is not forwarded.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
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


def desired_ports(
    services: list[dict[str, Any]], endpoints: list[dict[str, Any]]
) -> dict[int, list[tuple[str, int]]]:
    """nodePort → ready backends (ip, port), from Services and their Endpoints."""
    eps = {(e["metadata"].get("namespace"), e["metadata"]["name"]): e for e in endpoints}
    out: dict[int, list[tuple[str, int]]] = {}
    for svc in services:
        spec = svc.get("spec") or {}
        if spec.get("type") not in ("NodePort", "LoadBalancer"):
            continue
        ep = eps.get((svc["metadata"].get("namespace"), svc["metadata"]["name"])) or {}
        for sp in spec.get("ports") or []:
            if not sp.get("nodePort") or sp.get("protocol", "TCP") != "TCP":
                continue
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
            out[int(sp["nodePort"])] = sorted(backends)
    return out


class NodePortProxy:
    """Keeps one Listener per nodePort in step with the API; call `sync` periodically."""

    def __init__(self, api: Any, bind: str = "0.0.0.0") -> None:
        self.api = api
        self.bind = bind
        self.listeners: dict[int, Listener] = {}

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

    def close(self) -> None:
        for lst in self.listeners.values():
            lst.close()
        self.listeners.clear()
