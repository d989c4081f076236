"""The k3s contract fake runs workloads as k3s does (loopback, no lab).

Its embedded controller-manager and scheduler turn a Deployment into bound Pods under their leader Leases;
its containerd config carries the registries.yaml mirrors and credentials where the pod runtime (fake_cri)
reads them; the bundle holds it all."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest

from tests.fakes import bundle, fake_cri, fake_k3s, fakeapi, fakelib

HERE = Path(__file__).resolve().parents[1] / "fakes"
REGISTRIES = """\
mirrors:
  docker.io:
    endpoint:
      - "https://sealkit.registry:5000"
configs:
  "sealkit.registry:5000":
    auth:
      username: pull
      password: "s3cr\\"et"
    tls:
      ca_file: /etc/sealkit/registry-ca.crt
"""


def test_containerd_config_points_the_pod_runtime_at_the_mirrors_and_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("SEALKIT_FAKE_ROOT", str(tmp_path))
    p = fake_k3s.Paths("/var/lib/rancher/k3s")
    reg = tmp_path / "etc/rancher/k3s/registries.yaml"
    reg.parent.mkdir(parents=True)
    reg.write_text(REGISTRIES)
    configs = fake_k3s.check_registries("/etc/rancher/k3s/registries.yaml", p)
    text = fake_k3s.containerd_config_toml(p, configs, "native")
    doc = tomllib.loads(text)
    cri = doc["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["registry"]["config_path"] == str(
        tmp_path / "var/lib/rancher/k3s/agent/etc/containerd/certs.d"
    )
    assert cri["containerd"]["snapshotter"] == "native"
    assert doc["plugins"]["io.containerd.internal.v1.opt"]["path"] == p.containerd_root
    assert cri["registry"]["configs"]["sealkit.registry:5000"]["auth"] == {
        "username": "pull",
        "password": 's3cr"et',
    }
    # what the pod runtime pulls with: the hosts.toml mirror of docker.io and that mirror's credentials
    Path(p.containerd_config).parent.mkdir(parents=True, exist_ok=True)
    Path(p.containerd_config).write_text(text)
    loaded = fake_cri.RegistryConfig.load(p.containerd_config)
    assert loaded.credentials_for("sealkit-test/web:1.0") == ("pull", 's3cr"et')
    hosts = tomllib.loads((Path(p.certs_d) / "docker.io" / "hosts.toml").read_text())
    assert list(hosts["host"]) == ["https://sealkit.registry:5000/v2"]


def test_no_registries_yaml_leaves_no_stale_mirrors(tmp_path, monkeypatch):
    monkeypatch.setenv("SEALKIT_FAKE_ROOT", str(tmp_path))
    p = fake_k3s.Paths("/var/lib/rancher/k3s")
    stale = Path(p.certs_d) / "docker.io" / "hosts.toml"
    stale.parent.mkdir(parents=True)
    stale.write_text('server = "https://old"\n')
    assert fake_k3s.check_registries("/etc/rancher/k3s/registries.yaml", p) == {}
    assert not stale.exists()


def test_snapshotter_falls_back_to_native_only_on_an_overlay_root(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fake_k3s.fake_cri, "filesystem_type", lambda path: "ext4")
    assert fake_k3s.choose_snapshotter("overlayfs", str(tmp_path)) == "overlayfs"
    monkeypatch.setattr(fake_k3s.fake_cri, "filesystem_type", lambda path: "overlay")
    assert fake_k3s.choose_snapshotter("overlayfs", str(tmp_path)) == "native"
    assert 'level=warning msg="\\"overlayfs\\" snapshotter cannot be enabled' in capsys.readouterr().err
    assert fake_k3s.choose_snapshotter("native", str(tmp_path)) == "native"
    with pytest.raises(fake_k3s.Fatal, match="stargz"):
        fake_k3s.choose_snapshotter("stargz", str(tmp_path))


def test_filesystem_type_reads_the_mount_holding_a_path():
    assert fake_k3s.fake_cri.filesystem_type("/proc/self") == "proc"


def test_k3s_bundle_carries_the_embedded_components(tmp_path):
    out = bundle.bundle("k3s", tmp_path)
    text = out.read_text()
    for module in ("fake_controllers", "fake_scheduler", "fake_pods", "fake_cri", "fake_proxy"):
        assert f"'{module}':" in text, module
    proc = subprocess.run(
        ["/usr/bin/python3", str(out), "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and "sealkit-contract-fake" in proc.stdout, proc.stderr


def _deployment() -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "docker.io/sealkit-test/web:1.0"}]},
            },
        },
    }


def test_server_schedules_a_deployment_onto_its_node_under_leader_leases(tmp_path):
    """Old fake: the Deployment stayed without Pods (nothing in k3s ran the controllers or scheduler)."""
    ip = "127.0.84.7"
    port = fakeapi.free_port(ip)
    env = {**os.environ, "SEALKIT_FAKE_ROOT": str(tmp_path), "HOME": str(tmp_path)}
    log = tmp_path / "k3s.log"
    args = ["--bind-address", ip, "--node-ip", ip, "--https-listen-port", str(port), "--token", "t0ken"]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "k3s"), "server", "--node-name", "node-a", *args],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:

        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"k3s exited {proc.returncode}: {log.read_text()[-3000:]}")
            return "is up and running" in log.read_text()

        assert fakelib.wait_until(up, 90), log.read_text()[-3000:]
        client = fakelib.KubeClient(fakelib.load_kubeconfig(str(tmp_path / "etc/rancher/k3s/k3s.yaml")))
        client.request("POST", "/apis/apps/v1/namespaces/default/deployments", _deployment())

        def bound() -> list[str]:
            pods = client.request("GET", "/api/v1/namespaces/default/pods")["items"]
            nodes = [p["spec"].get("nodeName", "") for p in pods]
            return nodes if len(nodes) == 2 and all(nodes) else []

        deadline = time.monotonic() + 60
        while not bound() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert bound() == ["node-a", "node-a"], client.request("GET", "/api/v1/namespaces/default/pods")
        leases = client.request("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases")["items"]
        assert {"kube-controller-manager", "kube-scheduler"} <= {x["metadata"]["name"] for x in leases}
        assert "no container runtime (under $SEALKIT_FAKE_ROOT)" in log.read_text()
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, log.read_text()[-3000:]


def test_stopping_a_node_stops_its_pods_before_its_containerd():
    """k3s' containerd must still answer while the pod workers remove their containers."""
    order: list[str] = []

    class Runner:
        def sync(self) -> None:
            order.append("sync")

        def stop_all(self) -> None:
            order.append("pods")

    class Containerd:
        def check(self) -> None:
            pass

        def stop(self) -> None:
            order.append("containerd")

    stop = threading.Event()
    workloads = fake_k3s.NodeWorkloads(None, Runner(), None, stop)  # type: ignore[arg-type]
    workloads.thread.start()
    node = fake_k3s.NodeAgent(threading.Thread(), Containerd(), workloads)  # type: ignore[arg-type]
    assert fakelib.wait_until(lambda: "sync" in order, 10)
    stop.set()
    node.close()
    assert [o for o in order if o != "sync"] == ["pods", "containerd"]
    assert not workloads.thread.is_alive()


def test_a_given_runtime_endpoint_starts_no_containerd(tmp_path, monkeypatch):
    monkeypatch.setenv("SEALKIT_FAKE_ROOT", str(tmp_path))
    args = fakelib.FlagSet(fake_k3s.AGENT_FLAGS).parse_go(
        ["--container-runtime-endpoint", "unix:///run/containerd/containerd.sock"]
    )
    containerd, ctr = fake_k3s.container_runtime(args, fake_k3s.Paths(""), {})
    assert containerd is None and ctr is not None
    assert ctr.address == str(tmp_path / "run/containerd/containerd.sock")
