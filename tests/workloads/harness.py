"""A one-node "cluster" on loopback made of the contract fakes plus REAL containerd, registry and kubectl.

Test-only. Everything that decides whether a workload runs is real: the Distribution registry with
sealkit's TLS and htpasswd auth, containerd + runc pulling through the certs.d/hosts.toml and CRI
credentials that sealkit's own renderer (sealkit.registry.mirrors) writes, and kubectl 1.35 from
npm. The Kubernetes side is the fakes (apiserver, controller-manager, scheduler, kubelet pod
runner, kube-proxy forwarder) driven in-process, so a failure points at one component.
The containerd is private (its own root, state, socket and opt dir under a temp dir; its CRI
plugin is disabled because the fake kubelet drives it with `ctr`), so the machine's state is not
touched beyond the cgroups runc makes, which are removed again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sealkit.registry.mirrors import containerd_cri_registry_toml, containerd_files
from tests.e2e.images import WEB
from tests.fakes import fake_controllers, fake_cri, fake_pods, fake_proxy, fake_scheduler, fakeapi, fakelib
from tests.lab_registry.local_registry import LocalRegistry

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".venv" / "tools"
KUBECTL = {"1.35": TOOLS / "v35" / "kubectl", "1.29": TOOLS / "v29" / "kubectl"}
HELM = {"4": TOOLS / "v35" / "helm", "3": TOOLS / "v29" / "helm"}
CGROUP_ROOT = Path("/sys/fs/cgroup")
#: the web image (WEB) the cluster test images carry in images/ serves this page on this port
WEB_PORT = 8080
WEB_PAGE = "hello from sealkit-test/web\n"


def free_port(host: str = "127.0.0.1") -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], timeout: float = 300, every: float = 1.0) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def _k8s_cgroups() -> set[Path]:
    return {p for p in CGROUP_ROOT.glob("*/k8s.io") if p.is_dir()}


@dataclass
class Containerd:
    """A private containerd; `ctr` is the fake kubelet's view of it."""

    dir: Path
    proc: subprocess.Popen[bytes]
    ctr: fake_cri.Ctr

    @property
    def socket(self) -> str:
        return str(self.dir / "containerd.sock")

    def containers(self) -> list[str]:
        return self.ctr.ours()

    def snapshots(self) -> list[str]:
        out = self.ctr.run_ctr("snapshots", "ls")
        return [line.split()[0] for line in out.splitlines()[1:] if line.strip()]

    def delete_image(self, ref: str) -> None:
        self.ctr.run_ctr("images", "rm", fake_cri.normalize_image(ref))


@contextlib.contextmanager
def private_containerd(registry: LocalRegistry) -> Iterator[Containerd]:
    """containerd with sealkit's mirror config for `registry` (docker.io → the registry)."""
    d = Path(tempfile.mkdtemp(prefix="skc-", dir="/tmp"))  # short: unix socket paths are limited
    cgroups_before = _k8s_cgroups()
    mirror = dataclasses.replace(registry.info, domain="127.0.0.1")
    certs = d / "certs.d"
    for spec in containerd_files(mirror, ["docker.io"], str(registry.ca_file), certs_dir=str(certs)):
        path = Path(spec.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(spec.content)
    config = d / "config.toml"
    config.write_text(
        "version = 2\n"
        f'root = "{d}/root"\n'
        f'state = "{d}/state"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        "[grpc]\n"
        f'  address = "{d}/containerd.sock"\n'
        '[plugins."io.containerd.internal.v1.opt"]\n'
        f'  path = "{d}/opt"\n' + containerd_cri_registry_toml(mirror, config_path=str(certs))
    )
    config.chmod(0o600)
    log = open(d / "containerd.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(["containerd", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT)
    ctr = fake_cri.Ctr(str(d / "containerd.sock"), str(config))
    try:
        wait_for("containerd's socket", lambda: os.path.exists(ctr.address) or proc.poll() is not None, 60)
        if proc.poll() is not None:
            raise RuntimeError(f"containerd exited: {(d / 'containerd.log').read_text()[-2000:]}")
        yield Containerd(d, proc, ctr)
    finally:
        for cid in ctr.ours():
            ctr.remove(cid)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for m in sorted((m for m in mounts if m.startswith(str(d))), key=len, reverse=True):
            subprocess.run(["umount", "-l", m], check=False)
        for cg in _k8s_cgroups() - cgroups_before:
            with contextlib.suppress(OSError):
                cg.rmdir()
        shutil.rmtree(d, ignore_errors=True)


def push_image(layout: Path, name: str, registry: LocalRegistry) -> str:
    """skopeo copy oci:LAYOUT:NAME to the registry under the mirror's repository path."""
    repo = fake_cri.normalize_image(name).split("/", 1)[1]
    certs = registry.ca_file.parent / "skopeo-certs"
    certs.mkdir(exist_ok=True)
    shutil.copy(registry.ca_file, certs / "ca.crt")
    dest = f"docker://{registry.address}/{repo}"
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--quiet",
            "--dest-cert-dir",
            str(certs),
            "--dest-creds",
            f"{registry.info.username}:{registry.info.password}",
            f"oci:{layout}:{name}",
            dest,
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return dest


def delete_from_registry(registry: LocalRegistry, name: str) -> None:
    """Remove a repository from the registry's storage (as if it was never synced)."""
    repo = fake_cri.normalize_image(name).split("/", 1)[1].rsplit(":", 1)[0]
    shutil.rmtree(registry.data_dir / "docker" / "registry" / "v2" / "repositories" / repo)


@dataclass
class Node:
    """The fakes of one node and its control plane, ticking in one background thread."""

    api: fakeapi.FakeAPIServer
    client: fakelib.KubeClient
    kubeconfig: Path
    runner: fake_pods.PodRunner
    server: fake_pods.KubeletServer
    proxy: fake_proxy.NodePortProxy
    stop: threading.Event
    errors: list[str]

    def kubectl(
        self, *args: str, version: str = "1.35", check: bool = True, timeout: float = 120, stdin: str = ""
    ) -> str:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "HOME": str(self.kubeconfig.parent)}
        proc = subprocess.run(
            [str(KUBECTL[version]), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc.stdout + (proc.stderr if not check else "")

    def pods(self, ns: str = "default") -> list[dict[str, Any]]:
        return self.client.request("GET", f"/api/v1/namespaces/{ns}/pods").get("items") or []


def make_pki(d: Path) -> None:
    fakelib.make_ca(str(d / "server-ca.crt"), str(d / "server-ca.key"), "workloads-server-ca")
    fakelib.make_ca(str(d / "client-ca.crt"), str(d / "client-ca.key"), "workloads-client-ca")
    fakelib.issue_cert(
        str(d / "server-ca.crt"),
        str(d / "server-ca.key"),
        str(d / "serving.crt"),
        str(d / "serving.key"),
        fakelib.CertSpec("apiserver", dns=("localhost",), ips=("127.0.0.1",), server=True),
    )
    fakelib.issue_cert(
        str(d / "client-ca.crt"),
        str(d / "client-ca.key"),
        str(d / "admin.crt"),
        str(d / "admin.key"),
        fakelib.CertSpec("kubernetes-admin", ("system:masters",), client=True),
    )


@contextlib.contextmanager
def one_node(work: Path, containerd: Containerd, node_name: str = "node-1") -> Iterator[Node]:
    pki = work / "pki"
    pki.mkdir(parents=True)
    make_pki(pki)
    cfg = fakeapi.APIServerConfig(
        cert_file=str(pki / "serving.crt"),
        key_file=str(pki / "serving.key"),
        client_ca_file=str(pki / "client-ca.crt"),
        secure_port=0,
        store=fakeapi.JsonFileStore(str(work / "state.json")),
        anonymous_auth=False,
        node_monitor_period=3600,
    )
    api = fakeapi.FakeAPIServer(cfg)
    api.start()
    kubeconfig = work / "kubeconfig"
    fakelib.write_file(
        str(kubeconfig),
        fakelib.kubeconfig(
            api.url,
            (pki / "server-ca.crt").read_text(),
            cert_pem=(pki / "admin.crt").read_text(),
            key_pem=(pki / "admin.key").read_text(),
        ),
        0o600,
    )
    client = fakelib.KubeClient(fakelib.load_kubeconfig(str(kubeconfig)))
    kubelet_port = free_port()
    node = fakelib.node_object(node_name, ["127.0.0.1"], [], "v1.30.4", {}, [], {})
    node["status"]["daemonEndpoints"] = {"kubeletEndpoint": {"Port": kubelet_port}}
    client.request("POST", "/api/v1/nodes", node)
    runner = fake_pods.PodRunner(client, node_name, "127.0.0.1", str(work / "kubelet"), containerd.ctr)
    server = fake_pods.KubeletServer.serve(
        ("127.0.0.1", kubelet_port), runner, str(work / "kubelet-pki"), node_name
    )
    proxy = fake_proxy.NodePortProxy(client, bind="127.0.0.1")
    cm = fake_controllers.ControllerManager(client)
    sched = fake_scheduler.Scheduler(client)
    stop = threading.Event()
    errors: list[str] = []

    def tick() -> None:
        while not stop.wait(0.5):
            for step in (cm.run_pass, sched.run_pass, runner.sync, proxy.sync):
                try:
                    step()
                except (fakelib.FakeError, OSError) as exc:
                    errors.append(f"{step.__qualname__}: {exc}")

    t = threading.Thread(target=tick, name="workloads-tick", daemon=True)
    t.start()
    try:
        yield Node(api, client, kubeconfig, runner, server, proxy, stop, errors)
    finally:
        stop.set()
        t.join(10)
        runner.stop_all()
        proxy.close()
        server.shutdown()
        api.stop()


# ---- one workload on a cluster: apply, wait Ready, probe the NodePort -------------------------------


def kubectl_binary(version: str = "1.35") -> Path:
    """The real kubectl the tests drive clusters with; a missing one fails naming the fix."""
    path = KUBECTL[version]
    if not path.exists():
        raise AssertionError(
            f"kubectl {version} missing at {path}: run .ci/install (or tests/testimages/tools.sh)"
        )
    return path


def kubectl(kubeconfig: Path, *args: str, stdin: str = "", check: bool = True, timeout: float = 120) -> str:
    """Run the real kubectl 1.35 against `kubeconfig`; stdout, or an AssertionError naming the call."""
    proc = subprocess.run(
        [str(kubectl_binary()), "--kubeconfig", str(kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {proc.stderr}")
    return proc.stdout


def http_get(url: str, timeout: float = 5) -> str:
    """The body at `url`, or "" when nothing answers (a probe, polled by wait_for)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read().decode()
    except OSError:
        return ""


def web_manifests(name: str = "web", image: str = WEB, replicas: int = 1) -> str:
    """A Deployment of the web image (tcpSocket readiness) and a NodePort Service in front of it."""
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": image,
                            "ports": [{"containerPort": WEB_PORT}],
                            "readinessProbe": {"tcpSocket": {"port": WEB_PORT}, "periodSeconds": 1},
                        }
                    ]
                },
            },
        },
    }
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "type": "NodePort",
            "selector": {"app": name},
            "ports": [{"port": 80, "targetPort": WEB_PORT}],
        },
    }
    return json.dumps(deploy) + "\n---\n" + json.dumps(svc)


@dataclass
class WebWorkload:
    """The web Deployment + NodePort Service on a cluster, driven with the real kubectl."""

    kubeconfig: Path
    name: str = "web"

    def apply(self) -> None:
        kubectl(self.kubeconfig, "apply", "-f", "-", stdin=web_manifests(self.name))

    def wait_ready(self, timeout: float = 600) -> None:
        """`kubectl rollout status`: every replica updated and available (its pods Ready)."""
        kubectl(
            self.kubeconfig,
            "rollout",
            "status",
            f"deployment/{self.name}",
            f"--timeout={int(timeout)}s",
            timeout=timeout + 30,
        )

    def node_port(self) -> int:
        svc = json.loads(kubectl(self.kubeconfig, "get", "svc", self.name, "-o", "json"))
        return int(svc["spec"]["ports"][0]["nodePort"])

    def wait_answers(self, ips: Iterable[str], timeout: float = 120) -> int:
        """Poll the NodePort on every IP until the web page comes back; returns the port."""
        port = self.node_port()
        for ip in ips:
            page = wait_for(
                f"NodePort {port} on {ip}", lambda ip=ip: http_get(f"http://{ip}:{port}/"), timeout, every=0.5
            )
            assert page == WEB_PAGE, (ip, page)
        return port

    def cluster_ip(self) -> str:
        svc = json.loads(kubectl(self.kubeconfig, "get", "svc", self.name, "-o", "json"))
        return str(svc["spec"]["clusterIP"])

    def pods(self) -> list[dict[str, Any]]:
        out = kubectl(self.kubeconfig, "get", "pods", "-l", f"app={self.name}", "-o", "json")
        return json.loads(out)["items"]

    def delete(self, timeout: float = 180) -> None:
        """Delete the Deployment and wait until no pod of it is left in the API."""
        kubectl(self.kubeconfig, "delete", "deployment", self.name, "--wait=true", "--timeout=120s")
        wait_for(f"the pods of {self.name} to go", lambda: not self.pods(), timeout)
