"""Tests of sealkit's CONTRACT FAKES (sealkit-contract-fake) on loopback, without the lab.

They pin what the fakes promise sealkit's runtime plugins: the real `kubectl` works against the
fake apiserver, unknown flags fail like the real tools, the files real k3s writes appear with the
right modes, tokens have k3s' format and joins fail the way k3s' do, and state is shared through
a real etcd. Processes are tracked and stopped by PID.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import bundle, fake_k0s, fake_k3s, fakeapi, fakelib

HERE = Path(__file__).resolve().parent
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
KUBECTL = "/usr/bin/kubectl"
needs_kubectl = pytest.mark.skipif(not os.path.exists(KUBECTL), reason="no /usr/bin/kubectl")
needs_etcd = pytest.mark.skipif(not shutil.which("etcd"), reason="no etcd binary")
needs_openssl = pytest.mark.skipif(not shutil.which("openssl"), reason="no openssl CLI")
DAY = 86400.0


def days_left(cert: Path) -> float:
    """Days from now until the certificate's NotAfter."""
    return (fakelib.cert_info(cert.read_text()).not_after - time.time()) / DAY


# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------


class Procs:
    """Processes started by a test; stopped by PID at teardown."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with open(log, "ab") as fh:
            proc = subprocess.Popen(
                cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
            )
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)


@pytest.fixture
def procs() -> Iterator[Procs]:
    p = Procs()
    yield p
    p.stop_all()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    fakelib.make_ca(str(d / "server-ca.crt"), str(d / "server-ca.key"), "test-server-ca")
    fakelib.make_ca(str(d / "client-ca.crt"), str(d / "client-ca.key"), "test-client-ca")
    fakelib.make_ca(str(d / "other-ca.crt"), str(d / "other-ca.key"), "test-other-ca")
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
    fakelib.issue_cert(
        str(d / "other-ca.crt"),
        str(d / "other-ca.key"),
        str(d / "rogue.crt"),
        str(d / "rogue.key"),
        fakelib.CertSpec("rogue", ("system:masters",), client=True),
    )
    return d


def make_server(
    pki: Path, store: fakeapi.Store, anonymous: bool = False, version: str = "v1.30.4"
) -> fakeapi.FakeAPIServer:
    cfg = fakeapi.APIServerConfig(
        cert_file=str(pki / "serving.crt"),
        key_file=str(pki / "serving.key"),
        client_ca_file=str(pki / "client-ca.crt"),
        secure_port=0,
        store=store,
        anonymous_auth=anonymous,
        version=version,
        node_monitor_period=3600,
    )
    server = fakeapi.FakeAPIServer(cfg)
    server.start()
    return server


@pytest.fixture
def apiserver(pki: Path, tmp_path: Path) -> Iterator[fakeapi.FakeAPIServer]:
    server = make_server(pki, fakeapi.JsonFileStore(str(tmp_path / "state.json")))
    yield server
    server.stop()


def admin_kubeconfig(pki: Path, url: str, path: Path) -> Path:
    fakelib.write_file(
        str(path),
        fakelib.kubeconfig(
            url,
            (pki / "server-ca.crt").read_text(),
            cert_pem=(pki / "admin.crt").read_text(),
            key_pem=(pki / "admin.key").read_text(),
        ),
        0o600,
    )
    return path


def admin_client(pki: Path, url: str) -> fakelib.KubeClient:
    return fakelib.KubeClient(
        fakelib.KubeCreds(
            server=url,
            ca_pem=(pki / "server-ca.crt").read_text(),
            cert_file=str(pki / "admin.crt"),
            key_file=str(pki / "admin.key"),
        )
    )


def a_node(name: str, version: str = "v1.30.4", role: str = "control-plane") -> dict:
    stamp = fakelib.now_rfc3339()
    labels = {f"node-role.kubernetes.io/{role}": ""} if role else {}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "lastHeartbeatTime": stamp,
                    "lastTransitionTime": stamp,
                }
            ],
            "addresses": [{"type": "InternalIP", "address": "10.213.0.10"}],
            "nodeInfo": {"kubeletVersion": version},
        },
    }


def kubectl(kubeconfig: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(kubeconfig.parent)}
    proc = subprocess.run([KUBECTL, *args], capture_output=True, text=True, env=env, timeout=60, check=False)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


# --------------------------------------------------------------------------------------------
# fakelib: YAML subset, flag parsing
# --------------------------------------------------------------------------------------------


def test_yaml_subset_parses_nested_config() -> None:
    text = """
# k3s-style config
write-kubeconfig-mode: "0644"
mode-unquoted: 0644
cluster-init: true
tls-san:
  - a.example
  - 10.0.0.1
node-label: [x=1, "y=2"]
---
apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
networking:
  podSubnet: 10.244.0.0/16
apiServer:
  certSANs:
  - lb.example
  extraArgs:
    v: "4"
certs: |
  line1
  line2
"""
    first, second = fakelib.yaml_load_all(text)
    assert first["write-kubeconfig-mode"] == "0644"
    assert first["mode-unquoted"] == 0o644  # YAML 1.1 octal, the k3s footgun, reproduced
    assert first["cluster-init"] is True
    assert first["tls-san"] == ["a.example", "10.0.0.1"]
    assert first["node-label"] == ["x=1", "y=2"]
    assert second["networking"]["podSubnet"] == "10.244.0.0/16"
    assert second["apiServer"]["certSANs"] == ["lb.example"]
    assert second["apiServer"]["extraArgs"] == {"v": "4"}
    assert second["certs"] == "line1\nline2\n"


def test_yaml_rejects_unsupported_and_round_trips() -> None:
    with pytest.raises(fakelib.YamlError):
        fakelib.yaml_load("a: &anchor 1\nb: *anchor\n")
    with pytest.raises(fakelib.YamlError):
        fakelib.yaml_load("a: 1\na: 2\n")
    doc = {
        "apiVersion": "v1",
        "clusters": [{"name": "default", "cluster": {"server": "x:1"}}],
        "users": [],
        "preferences": {},
        "mode": "0644",
        "yes": "yes",
        "n": None,
    }
    assert fakelib.yaml_load(fakelib.yaml_dump(doc)) == doc


def test_go_flags_reject_unknown_and_need_values() -> None:
    fs = fakelib.FlagSet(
        [
            fakelib.Flag("token", aliases=("t",)),
            fakelib.Flag("cluster-init", "bool"),
            fakelib.Flag("tls-san", "slice", split_commas=True),
        ]
    )
    args = fs.parse_go(["--cluster-init", "-t", "x", "--tls-san=a,b", "--tls-san", "c"])
    assert args.get("cluster-init") is True
    assert args.get("token") == "x"
    assert args.get("tls-san") == ["a", "b", "c"]
    with pytest.raises(fakelib.FlagError, match=r"^flag provided but not defined: -nope$"):
        fs.parse_go(["--nope"])
    with pytest.raises(fakelib.FlagError, match="flag needs an argument: -token"):
        fs.parse_go(["--token"])


def test_pflag_style_errors_match_cobra() -> None:
    fs = fakelib.FlagSet([fakelib.Flag("config"), fakelib.Flag("force", "bool", aliases=("f",))])
    args = fs.parse_pflag(["reset", "-f", "--config=/x"])
    assert args.positional == ["reset"]
    assert args.get("force") is True
    with pytest.raises(fakelib.FlagError, match=r"^unknown flag: --nope$"):
        fs.parse_pflag(["--nope"])
    with pytest.raises(fakelib.FlagError, match=r"^unknown shorthand flag: 'x' in -x$"):
        fs.parse_pflag(["-x"])


# --------------------------------------------------------------------------------------------
# fakeapi: API semantics in-process
# --------------------------------------------------------------------------------------------


def test_selectors_and_patches() -> None:
    assert fakeapi.match_labels({"a": "1", "b": "2"}, "a=1,b in (2,3),!c")
    assert not fakeapi.match_labels({"a": "1"}, "a!=1")
    node = {"spec": {"nodeName": "n1"}, "metadata": {"name": "p"}}
    assert fakeapi.match_fields(node, "spec.nodeName=n1")
    assert not fakeapi.match_fields(node, "spec.nodeName!=n1")
    merged = fakeapi.merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}})
    assert merged == {"a": {"c": 2, "d": 3}}
    conds = [{"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "False"}]
    smp = fakeapi.strategic_merge_patch(
        {"status": {"conditions": conds}},
        {"status": {"conditions": [{"type": "Ready", "status": "False"}]}},
    )
    assert smp["status"]["conditions"] == [
        {"type": "Ready", "status": "False"},
        {"type": "DiskPressure", "status": "False"},
    ]


def test_api_create_conflict_and_status_subresource(apiserver: fakeapi.FakeAPIServer, pki: Path) -> None:
    c = admin_client(pki, apiserver.url)
    created = c.request("POST", "/api/v1/nodes", a_node("n1"))
    assert created["metadata"]["uid"]
    with pytest.raises(fakelib.HTTPStatusError) as exc:
        c.request("POST", "/api/v1/nodes", a_node("n1"))
    assert exc.value.status == 409 and "AlreadyExists" in exc.value.body
    # a main-resource update ignores status; /status changes it
    c.request(
        "PATCH",
        "/api/v1/nodes/n1",
        {"status": {"nodeInfo": {"kubeletVersion": "v9"}}},
        content_type="application/merge-patch+json",
    )
    got = c.request("GET", "/api/v1/nodes/n1")
    assert got["status"]["nodeInfo"]["kubeletVersion"] == "v1.30.4"
    c.request(
        "PATCH",
        "/api/v1/nodes/n1/status",
        {"status": {"nodeInfo": {"kubeletVersion": "v1.31.0"}}},
        content_type="application/merge-patch+json",
    )
    assert c.request("GET", "/api/v1/nodes/n1")["status"]["nodeInfo"]["kubeletVersion"] == "v1.31.0"
    stale = dict(got, metadata=dict(got["metadata"], resourceVersion="1"))
    with pytest.raises(fakelib.HTTPStatusError) as exc:
        c.request("PUT", "/api/v1/nodes/n1", stale)
    assert exc.value.status == 409
    with pytest.raises(fakelib.HTTPStatusError) as exc:
        c.request("POST", "/api/v1/namespaces/nope/configmaps", {"metadata": {"name": "x"}})
    assert exc.value.status == 404


def test_authentication_rules(pki: Path, tmp_path: Path) -> None:
    server = make_server(pki, fakeapi.JsonFileStore(str(tmp_path / "s.json")), anonymous=True)
    try:
        ctx = fakelib.client_ssl_context(ca_pem=(pki / "server-ca.crt").read_text())
        status, body, _ = fakelib.http_request(server.url + "/healthz", context=ctx)
        assert (status, body) == (200, b"ok")
        status, _, _ = fakelib.http_request(server.url + "/api/v1/nodes", context=ctx)
        assert status == 403
        status, _, _ = fakelib.http_request(
            server.url + "/api/v1/nodes", context=ctx, headers={"Authorization": "Bearer nope"}
        )
        assert status == 401
        # a client cert from another CA is refused at the TLS layer, as Go's apiserver does
        rogue = fakelib.client_ssl_context(
            ca_pem=(pki / "server-ca.crt").read_text(),
            cert_file=str(pki / "rogue.crt"),
            key_file=str(pki / "rogue.key"),
        )
        with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
            fakelib.http_request(server.url + "/api/v1/nodes", context=rogue)
        # bootstrap tokens: limited to what kubeadm join needs
        admin = admin_client(pki, server.url)
        admin.request(
            "POST",
            "/api/v1/namespaces/kube-system/secrets",
            {
                "metadata": {"name": "bootstrap-token-abcdef"},
                "type": "bootstrap.kubernetes.io/token",
                "stringData": {
                    "token-id": "abcdef",
                    "token-secret": "0123456789abcdef",
                    "usage-bootstrap-authentication": "true",
                },
            },
        )
        boot = {"Authorization": "Bearer abcdef.0123456789abcdef"}
        status, _, _ = fakelib.http_request(server.url + "/api/v1/nodes", context=ctx, headers=boot)
        assert status == 200
        status, _, _ = fakelib.http_request(
            server.url + "/api/v1/namespaces/kube-system/secrets", context=ctx, headers=boot
        )
        assert status == 403
    finally:
        server.stop()


def test_k3s_style_server_refuses_anonymous_health(apiserver: fakeapi.FakeAPIServer, pki: Path) -> None:
    ctx = fakelib.client_ssl_context(ca_pem=(pki / "server-ca.crt").read_text())
    status, body, _ = fakelib.http_request(apiserver.url + "/healthz", context=ctx)
    assert status == 401
    assert json.loads(body)["reason"] == "Unauthorized"


def test_node_lifecycle_marks_silent_nodes_unknown(apiserver: fakeapi.FakeAPIServer, pki: Path) -> None:
    c = admin_client(pki, apiserver.url)
    c.request("POST", "/api/v1/nodes", a_node("quiet"))
    apiserver.node_lifecycle_pass(now=time.time() + 1)
    assert fakeapi.node_status_text(c.request("GET", "/api/v1/nodes/quiet")) == "Ready"
    apiserver.node_lifecycle_pass(now=time.time() + 3600)
    node = c.request("GET", "/api/v1/nodes/quiet")
    assert fakeapi.node_status_text(node) == "Unknown"
    assert any(t["key"] == "node.kubernetes.io/unreachable" for t in node["spec"]["taints"])


@needs_kubectl
def test_real_kubectl_against_fakeapi(apiserver: fakeapi.FakeAPIServer, pki: Path, tmp_path: Path) -> None:
    kc = admin_kubeconfig(pki, apiserver.url, tmp_path / "kubeconfig")
    c = admin_client(pki, apiserver.url)
    c.request("POST", "/api/v1/nodes", a_node("master-1", role="control-plane"))
    c.request("POST", "/api/v1/nodes", a_node("worker-1", role=""))

    out = kubectl(kc, "get", "nodes").stdout
    lines = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert lines["master-1"][1:3] == ["Ready", "control-plane"]
    assert lines["worker-1"][1:3] == ["Ready", "<none>"]
    assert lines["worker-1"][-1] == "v1.30.4"

    doc = json.loads(kubectl(kc, "get", "nodes", "-o", "json").stdout)
    assert {i["status"]["nodeInfo"]["kubeletVersion"] for i in doc["items"]} == {"v1.30.4"}

    assert "v1.30.4" in kubectl(kc, "version").stdout
    ns = kubectl(kc, "get", "ns", "-o", "name").stdout.split()
    assert {"namespace/default", "namespace/kube-system"} <= set(ns)

    kubectl(kc, "cordon", "worker-1")
    assert c.request("GET", "/api/v1/nodes/worker-1")["spec"]["unschedulable"] is True
    kubectl(kc, "drain", "worker-1", "--ignore-daemonsets", "--timeout=30s")
    kubectl(kc, "label", "node", "worker-1", "sealkit.io/test=yes")
    assert c.request("GET", "/api/v1/nodes/worker-1")["metadata"]["labels"]["sealkit.io/test"] == "yes"
    kubectl(kc, "delete", "node", "worker-1")
    with pytest.raises(fakelib.HTTPStatusError):
        c.request("GET", "/api/v1/nodes/worker-1")
    missing = kubectl(kc, "get", "node", "worker-1", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr


@needs_kubectl
def test_real_kubectl_wait_uses_watch(apiserver: fakeapi.FakeAPIServer, pki: Path, tmp_path: Path) -> None:
    kc = admin_kubeconfig(pki, apiserver.url, tmp_path / "kubeconfig")
    c = admin_client(pki, apiserver.url)
    node = a_node("w2", role="")
    node["status"]["conditions"][0]["status"] = "False"
    c.request("POST", "/api/v1/nodes", node)
    env = {**os.environ, "KUBECONFIG": str(kc), "HOME": str(tmp_path)}
    waiter = subprocess.Popen(
        [KUBECTL, "wait", "--for=condition=Ready", "node/w2", "--timeout=60s"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        node = c.request("GET", "/api/v1/nodes/w2")
        node["status"]["conditions"][0]["status"] = "True"
        c.request("PUT", "/api/v1/nodes/w2/status", node)
        out, err = waiter.communicate(timeout=60)
    finally:
        if waiter.poll() is None:
            os.kill(waiter.pid, signal.SIGTERM)
            waiter.wait(10)
    assert waiter.returncode == 0, err
    assert "condition met" in out


def test_fakeapi_subprocess_rejects_unknown_flag() -> None:
    proc = subprocess.run(
        [PY, str(HERE / "fakeapi.py"), "--no-such-flag"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert proc.returncode == 1
    assert "Error: unknown flag: --no-such-flag" in proc.stderr


@needs_kubectl
def test_fakeapi_subprocess_serves_kubectl(pki: Path, tmp_path: Path, procs: Procs) -> None:
    port = fakeapi.free_port()
    proc = procs.start(
        [
            PY,
            str(HERE / "fakeapi.py"),
            "--bind-address",
            "127.0.0.1",
            "--secure-port",
            str(port),
            "--tls-cert-file",
            str(pki / "serving.crt"),
            "--tls-private-key-file",
            str(pki / "serving.key"),
            "--client-ca-file",
            str(pki / "client-ca.crt"),
            "--fake-state-file",
            str(tmp_path / "state.json"),
            "--fake-version",
            "v1.29.8",
            "--authorization-mode=Node,RBAC",
        ],
        tmp_path / "apiserver.log",
    )
    kc = admin_kubeconfig(pki, f"https://127.0.0.1:{port}", tmp_path / "kubeconfig")
    assert fakelib.wait_until(lambda: kubectl(kc, "get", "ns", check=False).returncode == 0, 30)
    assert "v1.29.8" in kubectl(kc, "version").stdout
    procs.stop(proc)
    assert proc.returncode == 0


# --------------------------------------------------------------------------------------------
# shared state through a real etcd
# --------------------------------------------------------------------------------------------


@pytest.fixture
def etcd(tmp_path: Path, procs: Procs) -> Iterator[str]:
    if not shutil.which("etcd"):
        pytest.skip("no etcd binary")
    client, peer = fakeapi.free_port(), fakeapi.free_port()
    url = f"http://127.0.0.1:{client}"
    procs.start(
        [
            "etcd",
            "--name",
            "t",
            "--data-dir",
            str(tmp_path / "etcd"),
            "--listen-client-urls",
            url,
            "--advertise-client-urls",
            url,
            "--listen-peer-urls",
            f"http://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls",
            f"http://127.0.0.1:{peer}",
            "--initial-cluster",
            f"t=http://127.0.0.1:{peer}",
        ],
        tmp_path / "etcd.log",
    )
    assert fakelib.wait_until(fakelib.EtcdClient([url]).health, 30), (tmp_path / "etcd.log").read_text()[
        -2000:
    ]
    yield url


def test_two_apiservers_share_one_etcd(etcd: str, pki: Path) -> None:
    one = make_server(pki, fakeapi.EtcdStore(fakelib.EtcdClient([etcd])))
    two = make_server(pki, fakeapi.EtcdStore(fakelib.EtcdClient([etcd])), version="v1.30.5")
    try:
        admin_client(pki, one.url).request("POST", "/api/v1/nodes", a_node("from-one"))
        admin_client(pki, two.url).request("POST", "/api/v1/nodes", a_node("from-two"))
        for server in (one, two):
            names = {
                n["metadata"]["name"]
                for n in admin_client(pki, server.url).request("GET", "/api/v1/nodes")["items"]
            }
            assert names == {"from-one", "from-two"}
        # resourceVersions are etcd revisions: a stale write loses on either server
        n = admin_client(pki, one.url).request("GET", "/api/v1/nodes/from-one")
        admin_client(pki, two.url).request(
            "PATCH",
            "/api/v1/nodes/from-one",
            {"metadata": {"labels": {"x": "y"}}},
            content_type="application/merge-patch+json",
        )
        with pytest.raises(fakelib.HTTPStatusError) as exc:
            admin_client(pki, one.url).request("PUT", "/api/v1/nodes/from-one", n)
        assert exc.value.status == 409
        assert sorted(one.apiserver_addresses()) == sorted(two.apiserver_addresses())
    finally:
        one.stop()
        two.stop()


# --------------------------------------------------------------------------------------------
# k3s
# --------------------------------------------------------------------------------------------


class K3s:
    """One fake k3s 'host': a private root ($SEALKIT_FAKE_ROOT) and a loopback address."""

    def __init__(self, root: Path, ip: str, procs: Procs, exe: Path = HERE / "k3s") -> None:
        self.root, self.ip, self.procs, self.exe = root, ip, procs, exe
        root.mkdir(parents=True, exist_ok=True)
        self.log = root / "k3s.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.extra_env: dict[str, str] = {}

    def path(self, p: str) -> Path:
        return self.root / p.lstrip("/")

    def env(self) -> dict[str, str]:
        return {
            "SEALKIT_FAKE_ROOT": str(self.root),
            "SEALKIT_FAKE_JOIN_TIMEOUT": "20",
            "HOME": str(self.root),
            **self.extra_env,
        }

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PY, str(self.exe), *args],
            capture_output=True,
            text=True,
            env={**os.environ, **self.env()},
            timeout=120,
            check=False,
        )

    def start(self, *args: str) -> None:
        self.proc = self.procs.start([PY, str(self.exe), *args], self.log, self.env())

    def wait_up(self, timeout: float = 90) -> None:
        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"k3s exited {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            return "is up and running" in self.log.read_text()

        assert fakelib.wait_until(up, timeout), self.log.read_text()[-3000:]

    def wait_exit(self, timeout: float = 90) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None:
            self.procs.stop(self.proc)

    def token(self) -> str:
        return self.path("/var/lib/rancher/k3s/server/token").read_text().strip()

    def client(self) -> fakelib.KubeClient:
        return fakelib.KubeClient(fakelib.load_kubeconfig(str(self.path("/etc/rancher/k3s/k3s.yaml"))))


def loopback(n: int) -> str:
    return f"127.0.83.{n}"


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_k3s_version_and_unknown_flags(tmp_path: Path, procs: Procs) -> None:
    k = K3s(tmp_path, loopback(2), procs)
    out = k.run("--version")
    assert out.returncode == 0
    assert out.stdout.splitlines()[0] == "k3s version v1.30.4+k3s1 (sealkit-contract-fake)"
    bad = k.run("server", "--no-such-flag")
    assert bad.returncode == 1
    assert "flag provided but not defined: -no-such-flag" in bad.stderr
    bad_agent = k.run("agent", "--cluster-init")  # a server-only flag
    assert bad_agent.returncode == 1
    assert "flag provided but not defined: -cluster-init" in bad_agent.stderr
    assert k.run("frobnicate").returncode == 3
    assert not (tmp_path / "var").exists()


@needs_openssl
def test_bundled_fake_is_self_contained_and_versioned(tmp_path: Path) -> None:
    exe = bundle.bundle("k3s", tmp_path / "bin", "v1.31.2+k3s1")
    lone = tmp_path / "usr-local-bin"
    lone.mkdir()
    shutil.copy(exe, lone / "k3s")  # copied alone, as sealkit copies a binary to a host
    out = subprocess.run(
        [PY, str(lone / "k3s"), "--version"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        timeout=30,
    )
    assert out.stdout.startswith("k3s version v1.31.2+k3s1 (sealkit-contract-fake)")
    assert (
        hashlib.sha256(exe.read_bytes()).hexdigest()
        != hashlib.sha256(bundle.bundle("k3s", tmp_path / "bin2", "v1.31.3+k3s1").read_bytes()).hexdigest()
    )
    with pytest.raises(ValueError):
        bundle.bundle("k3s", tmp_path, "1.31")


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("kubeadm", ["version", "-o", "short"], "v1.29.9"),
        ("kubelet", ["--version"], "Kubernetes v1.29.9"),
        ("kube-apiserver", ["--version"], "Kubernetes v1.29.9 (sealkit-contract-fake)"),
        ("kube-controller-manager", ["--version"], "Kubernetes v1.29.9 (sealkit-contract-fake)"),
        ("kube-scheduler", ["--version"], "Kubernetes v1.29.9 (sealkit-contract-fake)"),
        ("kube-proxy", ["--version"], "Kubernetes v1.29.9 (sealkit-contract-fake)"),
        ("k0s", ["version"], "v1.29.9"),
    ],
)
def test_every_fake_bundles_alone(name: str, args: list[str], expected: str, tmp_path: Path) -> None:
    exe = bundle.bundle(name, tmp_path / "bin", "v1.29.9")
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(exe, alone / name)
    out = subprocess.run(
        [PY, str(alone / name), *args], capture_output=True, text=True, check=False, timeout=30, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected
    bad = subprocess.run(
        [PY, str(alone / name), "--no-such-flag"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        cwd=tmp_path,
    )
    assert bad.returncode != 0 and "unknown flag: --no-such-flag" in bad.stderr


@needs_openssl
@needs_kubectl
def test_k3s_server_files_token_and_agent_join(tmp_path: Path, procs: Procs) -> None:
    srv = K3s(tmp_path / "srv", loopback(10), procs)
    cfg = srv.path("/etc/rancher/k3s/config.yaml")
    cfg.parent.mkdir(parents=True)
    cfg.write_text(
        'node-name: master-a\nwrite-kubeconfig-mode: "0644"\n'
        "tls-san:\n  - lb.sealkit.test\n  - 10.213.0.250\nnot-a-flag: 1\n"
    )
    port = fakeapi.free_port(srv.ip)
    srv.start(
        "server",
        "--bind-address",
        srv.ip,
        "--node-ip",
        srv.ip,
        "--https-listen-port",
        str(port),
        "--token",
        "sup3rsecret",
        "--kube-controller-manager-arg=node-monitor-grace-period=600s",
    )
    srv.wait_up()
    assert "Unknown flag --not-a-flag found in config.yaml, skipping" in srv.log.read_text()

    kubeconfig = srv.path("/etc/rancher/k3s/k3s.yaml")
    assert mode(kubeconfig) == 0o644
    assert f"https://{srv.ip}:{port}" in kubeconfig.read_text()
    tls = srv.path("/var/lib/rancher/k3s/server/tls")
    for name in (
        "server-ca",
        "client-ca",
        "request-header-ca",
        "client-admin",
        "serving-kube-apiserver",
    ):
        assert (tls / f"{name}.crt").exists()
        assert mode(tls / f"{name}.key") == 0o600
    serving = fakelib.cert_info((tls / "serving-kube-apiserver.crt").read_text())
    assert "lb.sealkit.test" in serving.dns
    assert {"10.213.0.250", srv.ip, "10.43.0.1"} <= set(serving.ips)

    token = srv.token()
    ca_hash = hashlib.sha256((tls / "server-ca.crt").read_bytes()).hexdigest()
    assert token == f"K10{ca_hash}::server:sup3rsecret"
    assert mode(srv.path("/var/lib/rancher/k3s/server/token")) == 0o600
    node_token = srv.path("/var/lib/rancher/k3s/server/node-token")
    assert node_token.is_symlink() and node_token.read_text().strip() == token

    # the unauthenticated CA endpoint and the k3s health endpoint
    insecure = fakelib.client_ssl_context(insecure=True)
    status, body, _ = fakelib.http_request(f"https://{srv.ip}:{port}/cacerts", context=insecure)
    assert status == 200 and body == (tls / "server-ca.crt").read_bytes()

    # agents: a wrong CA hash and a wrong password fail like k3s; the right token joins
    bad_hash = K3s(tmp_path / "bad1", loopback(11), procs)
    out = bad_hash.run(
        "agent",
        "--server",
        f"https://{srv.ip}:{port}",
        "--token",
        "K10" + "0" * 64 + "::server:sup3rsecret",
        "--node-ip",
        bad_hash.ip,
    )
    assert out.returncode == 1
    assert "token CA hash does not match the Cluster CA certificate hash" in out.stderr
    bad_pw = K3s(tmp_path / "bad2", loopback(12), procs)
    out = bad_pw.run(
        "agent",
        "--server",
        f"https://{srv.ip}:{port}",
        "--token",
        f"K10{ca_hash}::server:wrong",
        "--node-ip",
        bad_pw.ip,
    )
    assert out.returncode == 1 and "401" in out.stderr
    no_server = K3s(tmp_path / "bad3", loopback(13), procs)
    out = no_server.run("agent", "--token", "x")
    assert out.returncode == 1 and "--server is required" in out.stderr

    agent = K3s(tmp_path / "agent", loopback(14), procs)
    (agent.path("/tok")).write_text(token + "\n")
    agent.start(
        "agent",
        "--server",
        f"https://{srv.ip}:{port}",
        "--token-file",
        "/tok",
        "--node-ip",
        agent.ip,
        "--node-name",
        "worker-a",
        "--node-label",
        "tier=test",
    )
    agent.wait_up()
    assert mode(agent.path("/etc/rancher/node/password")) == 0o600
    assert mode(agent.path("/var/lib/rancher/k3s/agent/client-kubelet.key")) == 0o600

    client = srv.client()
    nodes = {n["metadata"]["name"]: n for n in client.request("GET", "/api/v1/nodes")["items"]}
    assert set(nodes) == {"master-a", "worker-a"}
    master_labels = nodes["master-a"]["metadata"]["labels"]
    assert master_labels["node-role.kubernetes.io/control-plane"] == "true"
    assert "node-role.kubernetes.io/control-plane" not in nodes["worker-a"]["metadata"]["labels"]
    assert nodes["worker-a"]["metadata"]["labels"]["tier"] == "test"
    assert nodes["worker-a"]["status"]["nodeInfo"]["kubeletVersion"] == "v1.30.4+k3s1"
    node_args = json.loads(nodes["master-a"]["metadata"]["annotations"]["k3s.io/node-args"])
    assert "sup3rsecret" not in json.dumps(node_args) and "********" in node_args

    # a second host claiming the same node name is rejected (k3s node-password secret)
    dup = K3s(tmp_path / "dup", loopback(15), procs)
    dup.path("/tok").parent.mkdir(parents=True, exist_ok=True)
    dup.path("/tok").write_text(token)
    out = dup.run(
        "agent",
        "--server",
        f"https://{srv.ip}:{port}",
        "--token-file",
        "/tok",
        "--node-ip",
        dup.ip,
        "--node-name",
        "worker-a",
    )
    assert out.returncode == 1 and "Node password rejected" in out.stderr

    # `k3s kubectl` is the real kubectl with k3s.yaml
    out = srv.run("kubectl", "get", "nodes", "-o", "name")
    assert out.returncode == 0, out.stderr
    assert set(out.stdout.split()) == {"node/master-a", "node/worker-a"}


@needs_openssl
def test_k3s_uses_preplaced_custom_ca(tmp_path: Path, procs: Procs) -> None:
    srv = K3s(tmp_path / "srv", loopback(20), procs)
    tls = srv.path("/var/lib/rancher/k3s/server/tls")
    tls.mkdir(parents=True)
    for base in ("server-ca", "client-ca", "request-header-ca"):
        fakelib.make_ca(str(tls / f"{base}.crt"), str(tls / f"{base}.key"), f"sealkit-{base}")
    before = (tls / "server-ca.crt").read_bytes()
    der_hash = fakelib.cert_der_sha256(before.decode())
    port = fakeapi.free_port(srv.ip)
    # a secure token naming the custom root's DER fingerprint is accepted on the first server
    srv.start(
        "server",
        "--bind-address",
        srv.ip,
        "--node-ip",
        srv.ip,
        "--https-listen-port",
        str(port),
        "--token",
        f"K10{der_hash}::server:pw",
        "--disable-agent",
        "--write-kubeconfig-mode",
        "600",
    )
    srv.wait_up()
    assert (tls / "server-ca.crt").read_bytes() == before
    assert fakelib.verify_chain(str(tls / "server-ca.crt"), str(tls / "serving-kube-apiserver.crt"))
    assert fakelib.verify_chain(str(tls / "client-ca.crt"), str(tls / "client-admin.crt"))
    assert mode(srv.path("/etc/rancher/k3s/k3s.yaml")) == 0o600
    assert srv.client().request("GET", "/api/v1/nodes")["items"] == []  # --disable-agent


def test_k3s_leaf_days_reads_cattle_env(monkeypatch: pytest.MonkeyPatch) -> None:
    var = fake_k3s.CERT_DAYS_ENV
    assert var == "CATTLE_NEW_SIGNED_CERT_EXPIRATION_DAYS"
    monkeypatch.delenv(var, raising=False)
    assert fake_k3s.leaf_days() == 365
    for value, days in (("", 365), ("36500", 36500), ("1", 1), ("0400", 400)):
        monkeypatch.setenv(var, value)
        assert fake_k3s.leaf_days() == days
    for bad in ("abc", "-1", "+5", "1.5", " 30", "30d", "0"):
        monkeypatch.setenv(var, bad)
        with pytest.raises(fake_k3s.Fatal, match=var):
            fake_k3s.leaf_days()


@needs_openssl
@pytest.mark.parametrize(("value", "low", "high"), [("36500", 99 * 365.25, 36501), ("", 364, 366)])
def test_k3s_leaves_honour_cert_expiration_days(
    value: str, low: float, high: float, tmp_path: Path, procs: Procs
) -> None:
    srv = K3s(tmp_path, loopback(35), procs)
    srv.extra_env = {fake_k3s.CERT_DAYS_ENV: value}  # "" = unset (k3s' default: 365 days)
    port = fakeapi.free_port(srv.ip)
    srv.start("server", "--bind-address", srv.ip, "--node-ip", srv.ip, "--https-listen-port", str(port))
    srv.wait_up()
    tls = srv.path("/var/lib/rancher/k3s/server/tls")
    agent = srv.path("/var/lib/rancher/k3s/agent")
    # server leaves, and the agent certs the server's supervisor signs
    for cert in (
        tls / "serving-kube-apiserver.crt",
        tls / "client-admin.crt",
        agent / "client-kubelet.crt",
        agent / "serving-kubelet.crt",
    ):
        assert low <= days_left(cert) <= high, cert


def test_k3s_refuses_bad_cert_expiration_days(tmp_path: Path, procs: Procs) -> None:
    k = K3s(tmp_path, loopback(36), procs)
    k.extra_env = {fake_k3s.CERT_DAYS_ENV: "ten"}
    out = k.run("server", "--bind-address", k.ip, "--node-ip", k.ip)
    assert out.returncode == 1
    assert "CATTLE_NEW_SIGNED_CERT_EXPIRATION_DAYS" in out.stderr and "'ten'" in out.stderr
    assert not (tmp_path / "var/lib/rancher/k3s/server/tls").exists()


K3S_CA_FILES = (
    "server-ca.crt",
    "server-ca.key",
    "client-ca.crt",
    "client-ca.key",
    "request-header-ca.crt",
    "request-header-ca.key",
    "service.key",
)


def rotated_backup(out: subprocess.CompletedProcess[str]) -> Path:
    """The backup dir named by `k3s certificate rotate`'s last log line."""
    marker = "Successfully backed up certificates to "
    assert out.returncode == 0, out.stderr
    line = next(ln for ln in out.stderr.splitlines() if marker in ln)
    return Path(line.split(marker, 1)[1].split(",", 1)[0])


@needs_openssl
def test_k3s_certificate_rotate_then_restart_reissues_leaves(tmp_path: Path, procs: Procs) -> None:
    srv = K3s(tmp_path, loopback(37), procs)
    srv.extra_env = {fake_k3s.CERT_DAYS_ENV: ""}  # unset: 365-day leaves
    port = fakeapi.free_port(srv.ip)
    args = ("server", "--bind-address", srv.ip, "--node-ip", srv.ip, "--https-listen-port", str(port))
    srv.start(*args)
    srv.wait_up()
    tls = srv.path("/var/lib/rancher/k3s/server/tls")
    agent = srv.path("/var/lib/rancher/k3s/agent")
    leaves = [
        tls / "serving-kube-apiserver.crt",
        tls / "serving-kube-apiserver.key",
        tls / "client-admin.crt",
        tls / "client-admin.key",
        tls / "client-k3s-controller.crt",
        tls / "client-k3s-controller.key",
        agent / "client-kubelet.crt",
        agent / "client-kubelet.key",
        agent / "serving-kubelet.crt",
        agent / "serving-kubelet.key",
    ]
    old = {f: f.read_bytes() for f in leaves}
    cas = {name: (tls / name).read_bytes() for name in K3S_CA_FILES}

    # real k3s must be stopped first: the fake refuses while a server of this data dir runs
    busy = srv.run("certificate", "rotate")
    assert busy.returncode == 1 and "is running" in busy.stderr, busy.stderr
    assert all(f.read_bytes() == data for f, data in old.items())
    assert not list(tls.parent.glob("tls-*"))

    srv.stop()
    out = srv.run("certificate", "rotate")
    backup = rotated_backup(out)
    assert backup.parent == tls.parent and backup.name.startswith("tls-")
    assert "Rotating certificates for api-server service" in out.stderr
    assert "please restart k3s server or agent to rotate certificates" in out.stderr
    # the backup is a copy of server/tls (plus the agent's leaves), taken before the deletion
    assert (backup / "serving-kube-apiserver.crt").read_bytes() == old[tls / "serving-kube-apiserver.crt"]
    assert (backup / "client-kubelet.crt").read_bytes() == old[agent / "client-kubelet.crt"]
    assert all((backup / name).read_bytes() == data for name, data in cas.items())
    assert [f for f in leaves if f.exists()] == []
    assert {name: (tls / name).read_bytes() for name in K3S_CA_FILES} == cas

    srv.extra_env = {fake_k3s.CERT_DAYS_ENV: "36500"}
    srv.log.write_text("")
    srv.start(*args)
    srv.wait_up()
    for f in leaves:
        assert f.exists() and f.read_bytes() != old[f], f  # re-issued with a new key
    for cert in (tls / "serving-kube-apiserver.crt", tls / "client-admin.crt"):
        assert days_left(cert) >= 99 * 365.25, cert
        assert fakelib.verify_chain(
            str(tls / ("server-ca.crt" if "serving" in cert.name else "client-ca.crt")), str(cert)
        )
    assert {name: (tls / name).read_bytes() for name in K3S_CA_FILES} == cas
    assert srv.client().request("GET", "/api/v1/nodes")["items"]  # k3s.yaml carries the new admin


def test_k3s_certificate_rotate_selected_services_and_agent_node(tmp_path: Path) -> None:
    """No daemon needed: --service selection, --data-dir, agent-only nodes. config.yaml is not read by
    `certificate` (k3s pkg/configfilearg DefaultParser.After names only server, agent, etcd-snapshot)."""
    k = K3s(tmp_path / "srv", loopback(38), Procs())
    data = k.path("/srv/k3s")
    k.path("/etc/rancher/k3s").mkdir(parents=True)
    k.path("/etc/rancher/k3s/config.yaml").write_text("data-dir: /srv/k3s\nnode-ip: 10.0.0.1\n")
    names = [
        *K3S_CA_FILES,
        "client-admin.crt",
        "client-admin.key",
        "serving-kube-apiserver.crt",
        "serving-kube-apiserver.key",
        "etcd/server-ca.crt",
        "etcd/server-ca.key",
        "etcd/peer-ca.crt",
        "etcd/peer-ca.key",
        "etcd/client.crt",
        "etcd/client.key",
        "etcd/server-client.crt",
        "etcd/server-client.key",
        "etcd/peer-server-client.crt",
        "etcd/peer-server-client.key",
    ]
    for name in names:
        (data / "server/tls" / name).parent.mkdir(parents=True, exist_ok=True)
        (data / "server/tls" / name).write_text(name)
    out = k.run(
        "certificate", "rotate", "--data-dir", "/srv/k3s", "--service", "admin,etcd", "-s", "kube-proxy"
    )
    backup = rotated_backup(out)
    assert backup.parent == data / "server"
    assert sorted(str(p.relative_to(backup)) for p in backup.rglob("*") if p.is_file()) == sorted(names)
    gone = {
        n
        for n in names
        if n.startswith(("client-admin", "etcd/client", "etcd/server-client", "etcd/peer-server"))
    }
    assert {n for n in names if not (data / "server/tls" / n).exists()} == gone
    assert "node-ip" not in out.stderr  # config.yaml was not read at all

    # refused before anything is touched: an unknown service, an unknown flag, a stray argument
    bad = k.run("certificate", "rotate", "--service", "admin,kube-apiserver")
    assert bad.returncode == 1 and "service kube-apiserver is not recognized" in bad.stderr
    bad = k.run("certificate", "rotate", "--rotate-ca")
    assert bad.returncode == 1 and "flag provided but not defined: -rotate-ca" in bad.stderr
    assert k.run("certificate", "rotate", "now").returncode == 1
    assert k.run("certificate", "frobnicate").returncode == 3
    assert (data / "server/tls/serving-kube-apiserver.crt").exists()

    # an agent-only node: the agent's leaves go, its CA copies stay
    a = K3s(tmp_path / "agent", loopback(39), Procs())
    adir = a.path("/var/lib/rancher/k3s/agent")
    adir.mkdir(parents=True)
    kept = ["server-ca.crt", "client-ca.crt", "kubelet.kubeconfig"]
    leaves = [
        f"{b}.{ext}"
        for b in ("client-kubelet", "serving-kubelet", "client-kube-proxy")
        for ext in ("crt", "key")
    ]
    for name in (*kept, *leaves):
        (adir / name).write_text(name)
    out = a.run("certificate", "rotate", "--debug")
    backup = rotated_backup(out)
    assert "Agent detected" in out.stderr and backup.parent == adir
    assert sorted(p.name for p in backup.iterdir()) == sorted(leaves)
    assert sorted(p.name for p in adir.iterdir() if p.is_file()) == sorted(kept)


@needs_openssl
def test_k3s_restart_with_new_binary_reports_new_version(tmp_path: Path, procs: Procs) -> None:
    srv = K3s(tmp_path / "srv", loopback(30), procs)
    port = fakeapi.free_port(srv.ip)
    args = (
        "server",
        "--bind-address",
        srv.ip,
        "--node-ip",
        srv.ip,
        "--https-listen-port",
        str(port),
        "--node-name",
        "up-1",
    )
    srv.start(*args)
    srv.wait_up()
    token = srv.token()
    srv.stop()
    srv.exe = bundle.bundle("k3s", tmp_path / "newbin", "v1.31.1+k3s1")
    srv.log.write_text("")
    srv.start(*args)  # no --token: k3s reuses server/token
    srv.wait_up()
    assert srv.token() == token
    node = srv.client().request("GET", "/api/v1/nodes/up-1")
    assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.31.1+k3s1"
    assert srv.client().request("GET", "/version")["gitVersion"] == "v1.31.1+k3s1"
    srv.stop()
    srv.log.write_text("")
    srv.start(*args, "--token", "another")
    assert srv.wait_exit() == 1
    assert "bootstrap data already found and encrypted with different token" in srv.log.read_text()


@needs_openssl
@needs_etcd
def test_k3s_cluster_init_and_join_share_real_etcd(tmp_path: Path, procs: Procs) -> None:
    ips = [loopback(41), loopback(42)]
    for ip in ips:
        for port in (2379, 2380):
            with contextlib.closing(socket.socket()) as s:
                if s.connect_ex((ip, port)) == 0:
                    pytest.skip(f"{ip}:{port} in use")
    first = K3s(tmp_path / "m1", ips[0], procs)
    second = K3s(tmp_path / "m2", ips[1], procs)
    port = fakeapi.free_port(ips[0])
    first.start(
        "server",
        "--cluster-init",
        "--bind-address",
        ips[0],
        "--node-ip",
        ips[0],
        "--https-listen-port",
        str(port),
        "--node-name",
        "m1",
        "--token",
        "t0ken",
    )
    first.wait_up()
    etcd_tls = first.path("/var/lib/rancher/k3s/server/tls/etcd")
    assert (etcd_tls / "server-ca.crt").exists() and mode(etcd_tls / "peer-ca.key") == 0o600
    port2 = fakeapi.free_port(ips[1])
    second.start(
        "server",
        "--server",
        f"https://{ips[0]}:{port}",
        "--token",
        "t0ken",
        "--bind-address",
        ips[1],
        "--node-ip",
        ips[1],
        "--https-listen-port",
        str(port2),
        "--node-name",
        "m2",
    )
    second.wait_up()
    # the joining server took the cluster CA and became an etcd member
    assert (
        second.path("/var/lib/rancher/k3s/server/tls/server-ca.crt").read_bytes()
        == first.path("/var/lib/rancher/k3s/server/tls/server-ca.crt").read_bytes()
    )
    for srv in (first, second):
        nodes = srv.client().request("GET", "/api/v1/nodes")["items"]
        assert {n["metadata"]["name"] for n in nodes} == {"m1", "m2"}
        assert all(n["metadata"]["labels"].get("node-role.kubernetes.io/etcd") == "true" for n in nodes)
    members = fakelib.EtcdClient(
        [f"https://{ips[0]}:2379"],
        str(etcd_tls / "server-ca.crt"),
        str(etcd_tls / "client.crt"),
        str(etcd_tls / "client.key"),
    )
    assert len(members.member_list()) == 2
    # deleting the server's Node removes its etcd member (k3s' etcd member controller)
    first.client().request("DELETE", "/api/v1/nodes/m2")
    assert fakelib.wait_until(lambda: len(members.member_list()) == 1, 30)


# --------------------------------------------------------------------------------------------
# kubeadm + kubelet (+ static-pod control plane)
# --------------------------------------------------------------------------------------------


class KubeadmHost:
    """A fake kubeadm 'host': private root, loopback IP, and a systemd-like kubelet starter."""

    def __init__(
        self,
        root: Path,
        ip: str,
        procs: Procs,
        kubeadm: Path = HERE / "kubeadm",
        kubelet: Path = HERE / "kubelet",
    ) -> None:
        self.root, self.ip, self.procs = root, ip, procs
        self.kubeadm, self.kubelet = kubeadm, kubelet
        root.mkdir(parents=True, exist_ok=True)
        self.kubelet_proc: subprocess.Popen[bytes] | None = None

    def path(self, p: str) -> Path:
        return self.root / p.lstrip("/")

    def env(self) -> dict[str, str]:
        return {**os.environ, "SEALKIT_FAKE_ROOT": str(self.root), "HOME": str(self.root)}

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PY, str(self.kubeadm), *args],
            capture_output=True,
            text=True,
            env=self.env(),
            input=stdin,
            timeout=180,
            check=False,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        """kubeadm in the background, then the kubelet as its systemd unit would start it."""
        proc = subprocess.Popen(
            [PY, str(self.kubeadm), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env(),
        )
        flags = self.path("/var/lib/kubelet/kubeadm-flags.env")
        assert fakelib.wait_until(lambda: flags.exists() or proc.poll() is not None, 60)
        if proc.poll() is None:
            self.start_kubelet()
        return proc

    def start_kubelet(self, *extra: str) -> None:
        line = self.path("/var/lib/kubelet/kubeadm-flags.env").read_text()
        kubeadm_args = line.split("=", 1)[1].strip().strip('"').split()
        cmd = [
            PY,
            str(self.kubelet),
            "--config",
            "/var/lib/kubelet/config.yaml",
            "--kubeconfig",
            "/etc/kubernetes/kubelet.conf",
            "--bootstrap-kubeconfig",
            "/etc/kubernetes/bootstrap-kubelet.conf",
            *kubeadm_args,
            *extra,
        ]
        self.kubelet_proc = self.procs.start(
            cmd, self.root / "kubelet.log", {"SEALKIT_FAKE_ROOT": str(self.root)}
        )

    def admin(self) -> fakelib.KubeClient:
        return fakelib.KubeClient(fakelib.load_kubeconfig(str(self.path("/etc/kubernetes/admin.conf"))))


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def kubeadm_config(ip: str, port: int, node: str, extra_cluster: str = "", api: str = "v1beta3") -> str:
    return f"""apiVersion: kubeadm.k8s.io/{api}
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: {ip}
  bindPort: {port}
nodeRegistration:
  name: {node}
  kubeletExtraArgs:
    node-ip: {ip}
---
apiVersion: kubeadm.k8s.io/{api}
kind: ClusterConfiguration
kubernetesVersion: v1.30.4
controlPlaneEndpoint: {ip}:{port}
networking:
  podSubnet: 10.244.0.0/16
apiServer:
  timeoutForControlPlane: 90s
{extra_cluster}
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
nodeStatusUpdateFrequency: 2s
"""


def stacked_etcd_on(ip: str) -> str:
    """Local etcd that does not also grab 127.0.0.1:2379 (all fake hosts share one loopback)."""
    return f"""  extraArgs:
    etcd-servers: https://{ip}:2379
etcd:
  local:
    extraArgs:
      listen-client-urls: https://{ip}:2379
      listen-metrics-urls: http://{ip}:2381"""


def test_kubeadm_cli_contract(tmp_path: Path, procs: Procs) -> None:
    h = KubeadmHost(tmp_path, loopback(60), procs)
    assert h.run("version", "-o", "short").stdout.strip() == "v1.30.4"
    assert "sealkit-contract-fake" in h.run("version").stdout
    bad = h.run("init", "--no-such-flag")
    assert bad.returncode == 1 and "unknown flag: --no-such-flag" in bad.stderr
    cfg = h.path("/kubeadm.yaml")
    cfg.write_text(kubeadm_config(h.ip, 6443, "n1"))
    mixed = h.run(
        "init", "--config", "/kubeadm.yaml", "--pod-network-cidr", "10.0.0.0/8", "--skip-token-print"
    )
    assert mixed.returncode == 1
    assert "can not mix '--config' with arguments [pod-network-cidr]" in mixed.stderr
    cfg.write_text(kubeadm_config(h.ip, 6443, "n1", api="v1beta4"))
    too_new = h.run("init", "--config", "/kubeadm.yaml")
    assert too_new.returncode == 1 and 'no kind "InitConfiguration" is registered' in too_new.stderr
    cfg.write_text(kubeadm_config(h.ip, 6443, "n1").replace("v1beta3", "v1beta2"))
    assert "old API spec" in h.run("init", "--config", "/kubeadm.yaml").stderr
    cfg.write_text(kubeadm_config(h.ip, 6443, "n1", "  extraArgs:\n  - name: v\n    value: '4'"))
    wrong_shape = h.run("init", "--config", "/kubeadm.yaml")
    assert wrong_shape.returncode == 1 and "map[string]string" in wrong_shape.stderr
    # kubeadm 1.31 reads v1beta4, where extraArgs is a name/value list
    new = KubeadmHost(
        tmp_path / "131", h.ip, procs, kubeadm=bundle.bundle("kubeadm", tmp_path / "bin", "v1.31.2")
    )
    new.path("/kubeadm.yaml").write_text(
        kubeadm_config(h.ip, 6443, "n1", "  extraArgs:\n    v: '4'", api="v1beta4").replace(
            "kubernetesVersion: v1.30.4", "kubernetesVersion: v1.31.2"
        )
    )
    out = new.run("config", "images", "list", "--config", "/kubeadm.yaml")
    assert out.returncode == 1 and "[]v1beta4.Arg" in out.stderr
    assert not h.path("/etc/kubernetes/manifests").exists()


@needs_openssl
def test_kubeadm_refuses_preplaced_apiserver_cert_without_needed_sans(tmp_path: Path, procs: Procs) -> None:
    h = KubeadmHost(tmp_path, loopback(61), procs)
    pki = h.path("/etc/kubernetes/pki")
    pki.mkdir(parents=True)
    fakelib.make_ca(str(pki / "ca.crt"), str(pki / "ca.key"), "sealkit-ca")
    fakelib.issue_cert(
        str(pki / "ca.crt"),
        str(pki / "ca.key"),
        str(pki / "apiserver.crt"),
        str(pki / "apiserver.key"),
        fakelib.CertSpec("kube-apiserver", dns=("kubernetes",), server=True),
    )
    h.path("/kubeadm.yaml").write_text(kubeadm_config(h.ip, fakeapi.free_port(h.ip), "n1"))
    out = h.run("init", "--config", "/kubeadm.yaml", "--ignore-preflight-errors=all")
    assert out.returncode == 1
    assert "[certs] Using existing ca certificate authority" in out.stdout
    assert "certificate apiserver is invalid" in out.stderr
    assert not h.path("/etc/kubernetes/manifests/kube-apiserver.yaml").exists()


def test_kubelet_flag_contract(tmp_path: Path) -> None:
    def kubelet(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PY, str(HERE / "kubelet"), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={**os.environ, "SEALKIT_FAKE_ROOT": str(tmp_path)},
        )

    assert kubelet("--version").stdout.strip() == "Kubernetes v1.30.4"
    assert "unknown flag: --network-plugin" in kubelet("--network-plugin=cni").stderr
    refused = kubelet("--node-labels=node-role.kubernetes.io/master=", "--kubeconfig", "/x")
    assert refused.returncode == 1
    assert "unknown 'kubernetes.io' or 'k8s.io' labels" in refused.stderr
    missing = kubelet(
        "--kubeconfig",
        "/etc/kubernetes/kubelet.conf",
        "--bootstrap-kubeconfig",
        "/etc/kubernetes/bootstrap-kubelet.conf",
    )
    assert missing.returncode == 1 and "unable to load bootstrap kubeconfig" in missing.stderr


@needs_openssl
@needs_etcd
@needs_kubectl
def test_kubeadm_init_join_upgrade_reset(tmp_path: Path, procs: Procs) -> None:
    ip = loopback(70)
    for port in (2379, 2380, 2381):
        with contextlib.closing(socket.socket()) as s:
            if s.connect_ex((ip, port)) == 0:
                pytest.skip(f"{ip}:{port} in use")
    port = fakeapi.free_port(ip)
    master = KubeadmHost(tmp_path / "m1", ip, procs)
    # sealkit's custom CA, pre-placed
    pki = master.path("/etc/kubernetes/pki")
    pki.mkdir(parents=True)
    fakelib.make_ca(str(pki / "ca.crt"), str(pki / "ca.key"), "sealkit-kubernetes-ca")
    ca_before = (pki / "ca.crt").read_bytes()
    master.path("/kubeadm.yaml").write_text(kubeadm_config(ip, port, "master-1", stacked_etcd_on(ip)))
    code, out = finish(master.start("init", "--config", "/kubeadm.yaml"))
    assert code == 0, out + (master.root / "kubelet.log").read_text()[-3000:]
    assert "[certs] Using existing ca certificate authority" in out
    assert (pki / "ca.crt").read_bytes() == ca_before
    for f in ("admin.conf", "super-admin.conf", "kubelet.conf", "controller-manager.conf", "scheduler.conf"):
        assert mode(master.path(f"/etc/kubernetes/{f}")) == 0o600
    join_line = next(line for line in out.splitlines() if line.startswith("kubeadm join"))
    token = join_line.split("--token ")[1].split()[0]
    ca_hash = "sha256:" + fakelib.spki_sha256((pki / "ca.crt").read_text())
    assert ca_hash in out

    admin = master.admin()
    node = admin.request("GET", "/api/v1/nodes/master-1")
    assert "node-role.kubernetes.io/control-plane" in node["metadata"]["labels"]
    assert node["spec"]["taints"][0]["key"] == "node-role.kubernetes.io/control-plane"

    def mirror_pods() -> set[str]:
        items = admin.request("GET", "/api/v1/namespaces/kube-system/pods")["items"]
        return {p["metadata"]["name"] for p in items}

    assert fakelib.wait_until(lambda: mirror_pods() >= {"etcd-master-1", "kube-apiserver-master-1"}, 30)

    worker = KubeadmHost(tmp_path / "w1", loopback(71), procs)
    wrong = worker.run(
        "join",
        f"{ip}:{port}",
        "--token",
        token,
        "--discovery-token-ca-cert-hash",
        "sha256:" + "0" * 64,
        "--node-name",
        "worker-1",
    )
    assert wrong.returncode == 1 and "none of the public keys" in wrong.stderr
    pre = worker.path("/etc/kubernetes/pki/ca.crt")
    pre.parent.mkdir(parents=True)
    pre.write_bytes(ca_before)
    placed = worker.run(
        "join",
        f"{ip}:{port}",
        "--token",
        token,
        "--discovery-token-ca-cert-hash",
        ca_hash,
        "--node-name",
        "worker-1",
    )
    assert placed.returncode == 1
    assert "[ERROR FileAvailable--etc-kubernetes-pki-ca.crt]" in placed.stderr
    pre.unlink()
    code, out = finish(
        worker.start(
            "join",
            f"{ip}:{port}",
            "--token",
            token,
            "--discovery-token-ca-cert-hash",
            ca_hash,
            "--node-name",
            "worker-1",
        )
    )
    assert code == 0, out + (worker.root / "kubelet.log").read_text()[-3000:]
    assert not worker.path("/etc/kubernetes/bootstrap-kubelet.conf").exists()
    assert mode(worker.path("/var/lib/kubelet/pki/kubelet-client-current.pem")) == 0o600
    kc = tmp_path / "kubectl" / "config"
    kc.parent.mkdir()
    shutil.copy(master.path("/etc/kubernetes/admin.conf"), kc)
    assert fakelib.wait_until(lambda: "worker-1" in kubectl(kc, "get", "nodes").stdout, 30)
    lines = {ln.split()[0]: ln.split() for ln in kubectl(kc, "get", "nodes").stdout.splitlines()[1:]}
    assert lines["worker-1"][1] == "Ready" and lines["master-1"][2] == "control-plane"

    # upgrade: kubeadm 1.31, certificates kept with --certificate-renewal=false
    serial = fakelib.run(["openssl", "x509", "-in", str(pki / "apiserver.crt"), "-noout", "-serial"])
    new_kubeadm = bundle.bundle("kubeadm", tmp_path / "bin", "v1.31.0")
    master.kubeadm = new_kubeadm
    refused = master.run("upgrade", "apply", "v1.31.0", "--certificate-renewal=false")
    assert refused.returncode == 1 and "won't proceed" in refused.stderr
    skip = master.run("upgrade", "apply", "v1.32.0", "-y")
    assert skip.returncode == 1 and "higher than the kubeadm version" in skip.stderr
    done = master.run("upgrade", "apply", "v1.31.0", "-y", "--certificate-renewal=false")
    assert done.returncode == 0, done.stderr
    assert admin.request("GET", "/version")["gitVersion"] == "v1.31.0"
    assert fakelib.run(["openssl", "x509", "-in", str(pki / "apiserver.crt"), "-noout", "-serial"]) == serial
    exp = master.run("certs", "check-expiration")
    assert exp.returncode == 0 and "apiserver " in exp.stdout and "front-proxy-ca" in exp.stdout

    # reset on the worker removes what join wrote; the Node object stays until deleted
    assert worker.run("reset").returncode == 1  # no -f and no "y" on stdin
    reset = worker.run("reset", "-f")
    assert reset.returncode == 0, reset.stderr
    assert not worker.path("/etc/kubernetes/kubelet.conf").exists()
    assert not any(worker.path("/var/lib/kubelet").iterdir())
    admin.request("GET", "/api/v1/nodes/worker-1")


# --------------------------------------------------------------------------------------------
# k0s
# --------------------------------------------------------------------------------------------


def k0s_config(ip: str, port: int, api_port: int, storage: str = "etcd", expire_after: str = "") -> str:
    api_ca = etcd_ca = ""
    if expire_after:  # spec.api.ca / spec.storage.etcd.ca .certificatesExpireAfter
        api_ca = f"\n    ca:\n      certificatesExpireAfter: {expire_after}"
        etcd_ca = f"\n      ca:\n        certificatesExpireAfter: {expire_after}"
    etcd = (
        f"""    etcd:
      peerAddress: {ip}
      extraArgs:
        listen-client-urls: https://{ip}:2379
        advertise-client-urls: https://{ip}:2379"""
        if storage == "etcd"
        else ""
    )
    if etcd_ca:
        etcd = (etcd or "    etcd:") + etcd_ca
    return f"""apiVersion: k0s.k0sproject.io/v1beta1
kind: ClusterConfig
metadata:
  name: k0s
spec:
  api:
    address: {ip}
    port: {port}
    k0sApiPort: {api_port}
    onlyBindToAddress: true{api_ca}
  storage:
    type: {storage}
{etcd}
"""


class K0sHost:
    def __init__(
        self, root: Path, ip: str, procs: Procs, storage: str = "etcd", expire_after: str = ""
    ) -> None:
        self.root, self.ip, self.procs = root, ip, procs
        self.port, self.api_port = fakeapi.free_port(ip), fakeapi.free_port(ip)
        cfg = root / "etc/k0s/k0s.yaml"
        cfg.parent.mkdir(parents=True, exist_ok=True)
        cfg.write_text(k0s_config(ip, self.port, self.api_port, storage, expire_after))
        self.log = root / "k0s.log"

    def env(self) -> dict[str, str]:
        return {"SEALKIT_FAKE_ROOT": str(self.root), "HOME": str(self.root)}

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PY, str(HERE / "k0s"), *args],
            capture_output=True,
            text=True,
            env={**os.environ, **self.env()},
            timeout=120,
            check=False,
        )

    def daemon(self, *args: str) -> subprocess.Popen[bytes]:
        return self.procs.start([PY, str(HERE / "k0s"), *args], self.log, self.env())

    def wait_running(self, proc: subprocess.Popen[bytes] | None = None) -> None:
        def running() -> bool:
            if proc is not None and proc.poll() is not None:
                raise AssertionError(self.log.read_text()[-3000:])
            return self.run("status").returncode == 0

        assert fakelib.wait_until(running, 90), self.log.read_text()[-3000:]

    def admin(self) -> fakelib.KubeClient:
        creds = fakelib.load_kubeconfig(str(self.root / "var/lib/k0s/pki/admin.conf"))
        return fakelib.KubeClient(creds)


def test_k0s_install_start_stop_reset(tmp_path: Path, procs: Procs) -> None:
    h = K0sHost(tmp_path, loopback(80), procs, storage="kine")
    assert h.run("version").stdout.strip() == "v1.36.3+k0s.2"
    bad = h.run("install", "controller", "--no-such-flag")
    assert bad.returncode == 1 and "unknown flag: --no-such-flag" in bad.stderr
    assert h.run("install", "controller", "--single").returncode == 0
    unit = (tmp_path / "etc/systemd/system/k0scontroller.service").read_text()
    assert "ExecStart=" in unit and " controller --single" in unit
    again = h.run("install", "controller", "--single")
    assert again.returncode == 1 and "already exists" in again.stderr
    started = h.run("start")
    try:
        assert started.returncode == 0, started.stderr
        h.log = tmp_path / "var/log/k0scontroller.log"
        h.wait_running()
        status = h.run("status").stdout
        assert "Role: controller+worker" in status and "SingleNode: true" in status
        refused = h.run("reset")
        assert refused.returncode == 1 and "please stop k0s before reset" in refused.stderr
        nodes = h.admin().request("GET", "/api/v1/nodes")["items"]
        assert len(nodes) == 1 and nodes[0]["status"]["nodeInfo"]["kubeletVersion"] == "v1.36.3+k0s"
        assert not nodes[0]["spec"]["taints"]  # --single: no control-plane taint
    finally:
        assert h.run("stop").returncode == 0
    assert h.run("status").returncode == 1
    assert h.run("reset").returncode == 0
    assert not (tmp_path / "var/lib/k0s").exists()
    assert not (tmp_path / "etc/systemd/system/k0scontroller.service").exists()


@needs_openssl
@needs_etcd
def test_k0s_worker_and_controller_join(tmp_path: Path, procs: Procs) -> None:
    ips = [loopback(90), loopback(91)]
    for ip in ips:
        for port in (2379, 2380):
            with contextlib.closing(socket.socket()) as s:
                if s.connect_ex((ip, port)) == 0:
                    pytest.skip(f"{ip}:{port} in use")
    first = K0sHost(tmp_path / "c1", ips[0], procs)
    pki = tmp_path / "c1/var/lib/k0s/pki"
    pki.mkdir(parents=True)
    fakelib.make_ca(str(pki / "ca.crt"), str(pki / "ca.key"), "sealkit-k0s-ca")
    ca = (pki / "ca.crt").read_bytes()
    proc = first.daemon(
        "controller", "--enable-worker", f"--kubelet-extra-args=--node-ip={ips[0]} --hostname-override=ctl-1"
    )
    first.wait_running(proc)
    assert (pki / "ca.crt").read_bytes() == ca
    ctl = first.admin().request("GET", "/api/v1/nodes/ctl-1")
    assert ctl["spec"]["taints"][0]["key"] == "node-role.kubernetes.io/control-plane"

    token = first.run("token", "create", "--role=worker")
    assert token.returncode == 0, token.stderr
    creds = fake_k0s.decode_token(token.stdout)
    assert creds.server == f"https://{ips[0]}:{first.port}"
    worker = K0sHost(tmp_path / "w1", loopback(92), procs)
    (worker.root / "tok").write_text(token.stdout)
    wproc = worker.daemon(
        "worker",
        "--token-file",
        "/tok",
        f"--kubelet-extra-args=--node-ip={worker.ip} --hostname-override=wk-1",
    )
    worker.wait_running(wproc)
    garbage = K0sHost(tmp_path / "w2", loopback(93), procs)
    out = garbage.run("worker", "not-a-token")
    assert out.returncode == 1 and "failed to decode join token" in out.stderr

    ctoken = first.run("token", "create", "--role=controller").stdout
    second = K0sHost(tmp_path / "c2", ips[1], procs)
    (second.root / "tok").write_text(ctoken)
    sproc = second.daemon("controller", "--token-file", "/tok")
    second.wait_running(sproc)
    assert (tmp_path / "c2/var/lib/k0s/pki/ca.crt").read_bytes() == ca
    for host in (first, second):
        names = {n["metadata"]["name"] for n in host.admin().request("GET", "/api/v1/nodes")["items"]}
        assert names == {"ctl-1", "wk-1"}
    members = json.loads(first.run("etcd", "member-list").stdout)["members"]
    assert len(members) == 2


def test_k0s_expire_after_days_parses_go_durations() -> None:
    assert fake_k0s.expire_after_days({}, "spec.api.ca") == 365  # default 8760h
    for value, days in (("876000h", 36500), ("8760h0m0s", 365), ("48h59m", 2), ("1h", 1), ("90s", 1)):
        assert fake_k0s.expire_after_days({"certificatesExpireAfter": value}, "spec.api.ca") == days
    for bad in ("8760", "365d", "1.5h", "5ms", "-1h", "", " 8760h", 8760, None):
        with pytest.raises(fake_k0s.Fail, match=r"spec\.storage\.etcd\.ca\.certificatesExpireAfter"):
            fake_k0s.expire_after_days({"certificatesExpireAfter": bad}, "spec.storage.etcd.ca")
    with pytest.raises(fake_k0s.Fail, match="must be a mapping"):
        fake_k0s.expire_after_days("876000h", "spec.api.ca")


def test_k0s_config_accepts_ca_keys_and_refuses_bad_durations(tmp_path: Path) -> None:
    cfg_file = tmp_path / "k0s.yaml"
    cfg_file.write_text(k0s_config("127.0.0.1", 6443, 9443, expire_after="876000h"))
    cfg = fake_k0s.load_config(str(cfg_file), True)
    assert cfg["leafDays"] == {"kubernetes": 36500, "etcd": 36500}
    assert cfg["storage"]["etcd"]["peerAddress"] == "127.0.0.1"  # the ca key sits beside it
    cfg_file.write_text(k0s_config("127.0.0.1", 6443, 9443))
    assert fake_k0s.load_config(str(cfg_file), True)["leafDays"] == {"kubernetes": 365, "etcd": 365}
    cfg_file.write_text(k0s_config("127.0.0.1", 6443, 9443, storage="kine", expire_after="100y"))
    with pytest.raises(fake_k0s.Fail, match=r"failed to load config: spec\.api\.ca.*'100y'"):
        fake_k0s.load_config(str(cfg_file), True)


@needs_openssl
def test_k0s_pki_default_leaf_lifetime(tmp_path: Path) -> None:
    cfg_file = tmp_path / "k0s.yaml"
    cfg_file.write_text(k0s_config("127.0.0.1", 6443, 9443, storage="kine"))
    pki = fake_k0s.Pki(str(tmp_path / "data"))
    pki.ensure_cas()
    pki.leafs(fake_k0s.load_config(str(cfg_file), True), "node-1")
    for rel in ("server.crt", "k0s-api.crt", "admin.crt", "etcd/server.crt", "apiserver-etcd-client.crt"):
        assert 364 <= days_left(Path(pki.p(rel))) <= 366, rel


@needs_openssl
def test_k0s_controller_honours_certificates_expire_after(tmp_path: Path, procs: Procs) -> None:
    bad = K0sHost(tmp_path / "bad", loopback(85), procs, storage="kine", expire_after="365d")
    out = bad.run("controller", "--single")
    assert out.returncode == 1
    assert "spec.api.ca.certificatesExpireAfter: invalid duration '365d'" in out.stderr
    assert not (tmp_path / "bad/var/lib/k0s/pki").exists()

    h = K0sHost(tmp_path / "ok", loopback(86), procs, storage="kine", expire_after="876000h")
    h.wait_running(h.daemon("controller", "--single"))
    pki = tmp_path / "ok/var/lib/k0s/pki"
    for rel in ("server.crt", "k0s-api.crt", "admin.crt", "etcd/server.crt", "etcd/peer.crt"):
        assert 99 * 365.25 <= days_left(pki / rel) <= 36501, rel
