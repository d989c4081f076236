"""The k3s contract fake's agent keeps its servers on disk as k3s' agent load balancer does, so an agent
restarted while its --server is down still reaches a live server.

Upstream: k3s-io/k3s pkg/agent/loadbalancer/{loadbalancer.go New, config.go updateConfig/writeConfig,
servers.go setAddresses/dialContext}, pkg/agent/tunnel/tunnel.go, pkg/util/api.go GetAddressesFromSlices,
at the release-line commits listed in tests/fakes/upstream/k3s/README.md."""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import fake_k3s, fakeapi, fakelib
from tests.fakes.test_fakes import K3s, Procs, loopback

SERVER = "https://10.213.0.11:6443"
FILE = "var/lib/rancher/k3s/agent/etc/k3s-agent-load-balancer.json"


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> fake_k3s.Paths:
    monkeypatch.setenv("SEALKIT_FAKE_ROOT", str(tmp_path))
    return fake_k3s.Paths("/var/lib/rancher/k3s")


def saved(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / FILE).read_text())


def test_first_start_writes_the_server_url_with_an_explicit_port_and_no_addresses(
    tmp_path: Path, paths: fake_k3s.Paths
) -> None:
    lb = fake_k3s.AgentLoadBalancer.load(paths, "https://10.213.0.11")
    # json.MarshalIndent(config, "", "  ") written as is: no trailing newline
    assert (tmp_path / FILE).read_text() == (
        '{\n  "ServerURL": "https://10.213.0.11:443",\n  "ServerAddresses": []\n}'
    )
    assert lb.urls() == ["https://10.213.0.11:443"]


def test_a_list_learnt_from_the_cluster_is_saved_and_restored_on_restart(
    tmp_path: Path, paths: fake_k3s.Paths
) -> None:
    lb = fake_k3s.AgentLoadBalancer.load(paths, SERVER)
    assert lb.update(["10.213.0.11:6443", "10.213.0.12:6443", "10.213.0.13:6443"])
    assert (tmp_path / FILE).read_text() == (
        '{\n  "ServerURL": "https://10.213.0.11:6443",\n  "ServerAddresses": [\n'
        '    "10.213.0.11:6443",\n    "10.213.0.12:6443",\n    "10.213.0.13:6443"\n  ]\n}'
    )
    again = fake_k3s.AgentLoadBalancer.load(paths, SERVER)
    assert again.urls() == [
        "https://10.213.0.11:6443",
        "https://10.213.0.12:6443",
        "https://10.213.0.13:6443",
    ]


def test_the_default_server_is_dialled_last_when_the_cluster_does_not_list_it(
    tmp_path: Path, paths: fake_k3s.Paths
) -> None:
    lb = fake_k3s.AgentLoadBalancer.load(paths, SERVER)
    lb.update(["10.213.0.12:6443"])
    assert saved(tmp_path)["ServerAddresses"] == ["10.213.0.12:6443"]
    assert lb.urls() == ["https://10.213.0.12:6443", SERVER]


def test_the_same_servers_in_another_order_do_not_rewrite_the_file(
    tmp_path: Path, paths: fake_k3s.Paths
) -> None:
    lb = fake_k3s.AgentLoadBalancer.load(paths, SERVER)
    assert lb.update(["10.213.0.11:6443", "10.213.0.12:6443"])
    before = (tmp_path / FILE).stat().st_mtime_ns
    assert not lb.update(["10.213.0.12:6443", "10.213.0.11:6443"])
    assert (tmp_path / FILE).stat().st_mtime_ns == before
    assert lb.update(["10.213.0.12:6443"])
    assert saved(tmp_path)["ServerAddresses"] == ["10.213.0.12:6443"]


def test_a_file_saved_for_another_server_url_is_not_used_and_is_rewritten(
    tmp_path: Path, paths: fake_k3s.Paths
) -> None:
    (tmp_path / FILE).parent.mkdir(parents=True)
    (tmp_path / FILE).write_text(
        json.dumps({"ServerURL": "https://10.213.0.99:6443", "ServerAddresses": ["10.213.0.99:6443"]})
    )
    lb = fake_k3s.AgentLoadBalancer.load(paths, SERVER)
    assert lb.urls() == [SERVER]
    assert saved(tmp_path) == {"ServerURL": SERVER, "ServerAddresses": []}


def test_an_unparsable_file_is_rewritten_from_the_server_flag(tmp_path: Path, paths: fake_k3s.Paths) -> None:
    (tmp_path / FILE).parent.mkdir(parents=True)
    (tmp_path / FILE).write_text("{not json")
    assert fake_k3s.AgentLoadBalancer.load(paths, SERVER).urls() == [SERVER]
    assert saved(tmp_path) == {"ServerURL": SERVER, "ServerAddresses": []}


def test_only_ready_endpoint_addresses_count_with_the_first_port_or_443() -> None:
    endpoints = {
        "subsets": [
            {
                "addresses": [{"ip": "10.213.0.11"}, {"ip": "10.213.0.12"}],
                "notReadyAddresses": [{"ip": "10.213.0.13"}],
                "ports": [{"name": "https", "port": 6443}],
            },
            {"addresses": [{"ip": "fd00::1"}]},
        ]
    }
    assert fake_k3s.endpoints_addresses(endpoints) == [
        "10.213.0.11:6443",
        "10.213.0.12:6443",
        "[fd00::1]:443",
    ]


class EndpointsClient(fakelib.KubeClient):
    """A KubeClient whose API answers only the `kubernetes` Endpoints."""

    def __init__(self, servers: list[str], endpoints: dict[str, Any]) -> None:
        self.servers = list(servers)
        self.endpoints = endpoints
        self.paths: list[str] = []

    def request(self, method: str, path: str, *_: Any, **__: Any) -> Any:
        self.paths.append(f"{method} {path}")
        return self.endpoints


def test_the_kubernetes_endpoints_update_the_file_and_the_clients_servers(
    tmp_path: Path, paths: fake_k3s.Paths
) -> None:
    lb = fake_k3s.AgentLoadBalancer.load(paths, SERVER)
    ips = [{"ip": "10.213.0.11"}, {"ip": "10.213.0.12"}]
    client = EndpointsClient([SERVER], {"subsets": [{"addresses": ips, "ports": [{"port": 6443}]}]})
    assert fake_k3s.sync_lb_once(client, lb)
    assert client.paths == ["GET /api/v1/namespaces/default/endpoints/kubernetes"]
    assert saved(tmp_path)["ServerAddresses"] == ["10.213.0.11:6443", "10.213.0.12:6443"]
    assert client.servers == [SERVER, "https://10.213.0.12:6443"]
    # an empty list (apiservers restarting) is skipped, not saved
    client.endpoints = {"subsets": []}
    assert not fake_k3s.sync_lb_once(client, lb)
    assert saved(tmp_path)["ServerAddresses"] == ["10.213.0.11:6443", "10.213.0.12:6443"]


def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_restarted_agent_whose_server_is_down_bootstraps_from_the_next_saved_server(
    tmp_path: Path, paths: fake_k3s.Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The restart case: --server refuses connections, the second saved server answers."""
    fakelib.make_ca(str(tmp_path / "ca.crt"), str(tmp_path / "ca.key"), "k3s-server-ca")
    ca = (tmp_path / "ca.crt").read_bytes()
    down = f"127.0.0.1:{_refused_port()}"
    live = "127.0.0.2:6443"
    real = fakelib.http_request
    asked: list[str] = []

    def http_request(url: str, **kw: Any) -> tuple[int, bytes, dict[str, str]]:
        asked.append(url)
        if url.startswith(f"https://{live}/"):
            assert isinstance(kw.get("context"), ssl.SSLContext)
            return 200, ca if url.endswith("/cacerts") else b"pong", {}
        return real(url, **kw)

    monkeypatch.setattr(fakelib, "http_request", http_request)
    lb = fake_k3s.AgentLoadBalancer.load(paths, f"https://{down}")
    lb.update([down, live])
    restarted = fake_k3s.AgentLoadBalancer.load(paths, f"https://{down}")
    server, cacerts = fake_k3s.fetch_cacerts(restarted.urls(), fake_k3s.Token.parse("secret"))
    assert (server, cacerts) == (f"https://{live}", ca)
    assert asked == [f"https://{down}/cacerts", f"https://{live}/cacerts", f"https://{live}/ping"]


def test_an_agent_without_a_saved_list_still_fails_when_its_server_is_down(
    paths: fake_k3s.Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEALKIT_FAKE_JOIN_TIMEOUT", "0")
    lb = fake_k3s.AgentLoadBalancer.load(paths, f"https://127.0.0.1:{_refused_port()}")
    with pytest.raises(fake_k3s.Fatal, match="all servers unreachable"):
        fake_k3s.fetch_cacerts(lb.urls(), fake_k3s.Token.parse("secret"))


@pytest.fixture
def procs() -> Iterator[Procs]:
    p = Procs()
    yield p
    p.stop_all()


def test_an_agent_started_with_its_server_down_joins_through_its_saved_list(
    tmp_path: Path, procs: Procs
) -> None:
    """The whole agent process: --server refuses, the saved list names a live server, the agent joins
    through it and then saves the list the cluster gives it (the live server only)."""
    srv = K3s(tmp_path / "srv", loopback(60), procs)
    port = fakeapi.free_port(srv.ip)
    srv.start(
        "server",
        *("--bind-address", srv.ip, "--node-ip", srv.ip, "--node-name", "master-a"),
        *("--https-listen-port", str(port)),
    )
    srv.wait_up()
    live = f"{srv.ip}:{port}"
    dead = f"{loopback(62)}:{fakeapi.free_port(loopback(62))}"

    agent = K3s(tmp_path / "agent", loopback(61), procs)
    state = agent.path("/" + FILE)
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"ServerURL": f"https://{dead}", "ServerAddresses": [dead, live]}))
    agent.path("/tok").write_text(srv.token() + "\n")
    agent.start(
        "agent",
        *("--server", f"https://{dead}", "--token-file", "/tok"),
        *("--node-ip", agent.ip, "--node-name", "worker-a"),
    )
    agent.wait_up()
    nodes = srv.client().request("GET", "/api/v1/nodes")["items"]
    assert {n["metadata"]["name"] for n in nodes} == {"master-a", "worker-a"}
    assert json.loads(state.read_text()) == {"ServerURL": f"https://{dead}", "ServerAddresses": [live]}

    # --disable-apiserver-lb: no load balancer, so nothing saved (pkg/agent/run.go)
    direct = K3s(tmp_path / "direct", loopback(66), procs)
    direct.path("/tok").write_text(srv.token() + "\n")
    direct.start(
        "agent",
        *("--server", f"https://{live}", "--token-file", "/tok", "--disable-apiserver-lb"),
        *("--node-ip", direct.ip, "--node-name", "worker-b"),
    )
    direct.wait_up()
    assert not direct.path("/" + FILE).exists()
    assert agent.path("/" + FILE).exists()
