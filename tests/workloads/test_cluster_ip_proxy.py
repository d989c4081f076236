"""The fake kube-proxy's ClusterIPs, in a throw-away network namespace (root; the machine's own network
is never touched): a Service's ClusterIP:port answers with its ready endpoint, and the address goes
from the node when the Service goes and when the proxy stops."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import socket, subprocess, threading
from tests.fakes import fake_proxy

subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
backend = socket.socket()
backend.bind(("127.0.0.1", 0))
backend.listen(8)
port = backend.getsockname()[1]


def serve():
    while True:
        conn, _ = backend.accept()
        conn.sendall(b"hello from the endpoint")
        conn.close()


threading.Thread(target=serve, daemon=True).start()
meta = {"namespace": "default", "name": "web"}
svc = {
    "metadata": meta,
    "spec": {"type": "ClusterIP", "clusterIP": "10.96.7.7", "ports": [{"port": 80, "targetPort": port}]},
}
# port == targetPort (the default): the pod, in the node's network, holds 0.0.0.0:6379 itself
own = {
    "metadata": {"namespace": "default", "name": "redis"},
    "spec": {"type": "ClusterIP", "clusterIP": "10.96.7.8", "ports": [{"port": 6379}]},
}
named = {  # a named targetPort may resolve to the same number (the redis app's `targetPort: redis`)
    "metadata": {"namespace": "default", "name": "named"},
    "spec": {"type": "NodePort", "clusterIP": "10.96.7.9", "ports": [{"port": 6380, "targetPort": "r"}]},
}
headless = {
    "metadata": {"namespace": "default", "name": "db"},
    "spec": {"clusterIP": "None", "ports": [{"port": 5}]},
}
ep = {"metadata": meta, "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": port}]}]}


class Api:
    services = [svc, headless, own, named]

    def request(self, method, path):
        return {"items": self.services if path.endswith("/services") else [ep]}


def bound():
    argv = ["ip", "-o", "-4", "addr", "show", "dev", "lo"]
    out = subprocess.run(argv, capture_output=True, text=True).stdout
    return sorted(line.split()[3] for line in out.splitlines())


api = Api()
proxy = fake_proxy.NodePortProxy(api, bind="127.0.0.1", cluster_ips=True)
proxy.sync()
assert bound() == ["10.96.7.7/32", "10.96.7.8/32", "10.96.7.9/32", "127.0.0.1/8"], bound()
with socket.create_connection(("10.96.7.7", 80), timeout=5) as conn:
    assert conn.recv(100) == b"hello from the endpoint"
pod = socket.socket()  # the pod starting after its Service: its wildcard bind must still succeed
pod.bind(("0.0.0.0", 6379))
pod.listen(1)
with socket.create_connection(("10.96.7.8", 6379), timeout=5):
    pass  # the kernel hands the ClusterIP straight to the pod's own listener
pod.close()
pod = socket.socket()
pod.bind(("0.0.0.0", 6380))  # the named port's pod, too
pod.close()
api.services = []
proxy.sync()
assert bound() == ["127.0.0.1/8"], bound()
api.services = [svc]
proxy.sync()
assert "10.96.7.7/32" in bound()
proxy.close()
assert bound() == ["127.0.0.1/8"], bound()
print("ok")
"""


def test_cluster_ip_answers_and_is_removed_with_its_service_and_the_proxy() -> None:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("needs root, unshare and ip (a private network namespace)")
    proc = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stdout + proc.stderr
