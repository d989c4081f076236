"""The kubeadm plugin against the kubeadm fake behaving as upstream kubeadm does (no lab, no root).

The plugin's commands run on recording connections; the ones that matter here are executed by the
bundled fake kubeadm against an in-process fake apiserver, so the plugin meets kubeadm's real
refusals (kubernetes/kubernetes cmd/kubeadm/app/phases/bootstraptoken/node/token.go: `token create`
refuses an existing token id).
"""

from __future__ import annotations

import base64
import os
import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sealkit_kubeadm import certs
from sealkit_kubeadm import plugin as kubeadm

from sealkit.testing.fixtures import make_context
from tests.fakes import bundle, fake_kubeadm, fakeapi, fakelib

PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else "python3"
_INFO = kubeadm.Runtime().sealkit_runtime_info()
#: the oldest and the newest supported release (the newest minor's first patch)
SUPPORTED = [_INFO.oldest_version, "v1.{}.0".format(_INFO.newest_version.split(".")[1])]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    fakelib.make_ca(str(d / "ca.crt"), str(d / "ca.key"), "test-ca")
    fakelib.issue_cert(
        str(d / "ca.crt"),
        str(d / "ca.key"),
        str(d / "serving.crt"),
        str(d / "serving.key"),
        fakelib.CertSpec("apiserver", dns=("localhost",), ips=("127.0.0.1",), server=True),
    )
    fakelib.issue_cert(
        str(d / "ca.crt"),
        str(d / "ca.key"),
        str(d / "admin.crt"),
        str(d / "admin.key"),
        fakelib.CertSpec("kubernetes-admin", ("system:masters",), client=True),
    )
    return d


@pytest.fixture
def api(pki: Path, tmp_path: Path) -> Iterator[tuple[fakeapi.FakeAPIServer, fakelib.KubeClient]]:
    cfg = fakeapi.APIServerConfig(
        cert_file=str(pki / "serving.crt"),
        key_file=str(pki / "serving.key"),
        client_ca_file=str(pki / "ca.crt"),
        secure_port=0,
        store=fakeapi.JsonFileStore(str(tmp_path / "state.json")),
        version="v1.34.1",
        node_monitor_period=3600,
    )
    server = fakeapi.FakeAPIServer(cfg)
    server.start()
    client = fakelib.KubeClient(
        fakelib.KubeCreds(
            server=server.url,
            ca_pem=(pki / "ca.crt").read_text(),
            cert_file=str(pki / "admin.crt"),
            key_file=str(pki / "admin.key"),
        )
    )
    yield server, client
    server.stop()


class FakeMaster:
    """A control-plane host's filesystem under ``root`` with the bundled fake kubeadm of ``version``."""

    def __init__(self, root: Path, version: str, server_url: str, pki: Path) -> None:
        self.root = root
        self.exe = bundle.bundle("kubeadm", root / "bin", version)
        conf = root / "etc/kubernetes/admin.conf"
        conf.parent.mkdir(parents=True, exist_ok=True)
        fakelib.write_file(
            str(conf),
            fakelib.kubeconfig(
                server_url,
                (pki / "ca.crt").read_text(),
                cert_pem=(pki / "admin.crt").read_text(),
                key_pem=(pki / "admin.key").read_text(),
            ),
            0o600,
        )

    def run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SEALKIT_FAKE_ROOT": str(self.root)}
        return subprocess.run(
            [PY, str(self.exe), *args], capture_output=True, text=True, env=env, check=False, timeout=60
        )

    def answer(self, conn) -> None:  # type: ignore[no-untyped-def]
        """Make ``conn`` run every `kubeadm token …` command through the fake, with the files the
        plugin wrote to that host laid out under the fake root first."""

        def execute(cmd: str) -> tuple[int, str]:
            for path, (content, mode) in conn.files.items():
                fakelib.write_file(str(self.root / path.lstrip("/")), content, mode)
            words = shlex.split(cmd.split(kubeadm.KUBEADM, 1)[1].split(">", 1)[0])
            res = self.run(words)
            return res.returncode, res.stdout if res.returncode == 0 else res.stdout + res.stderr

        conn.responses.insert(0, (r"kubeadm token ", execute))


def _ctx(tmp_path: Path, version: str):  # type: ignore[no-untyped-def]
    ctx = make_context(
        kubeadm.Runtime(),
        masters=["10.0.0.1"],
        nodes=["10.0.0.3", "10.0.0.4"],
        state_dir=tmp_path / "state",
        runtime_name="kubeadm",
    )
    ctx.image_version = version
    ctx.pki.ensure_ca(certs.CA)
    return ctx


def _init_token(client: fakelib.KubeClient, token: str) -> None:
    """What `kubeadm init` leaves: the InitConfiguration's token as a live Secret (24 h)."""
    fake_kubeadm.create_token(
        client, token, 86400, ["signing", "authentication"], [fake_kubeadm.DEFAULT_TOKEN_GROUP]
    )


@pytest.mark.parametrize("version", SUPPORTED)
def test_fake_token_create_refuses_the_init_token_as_upstream(api, pki, tmp_path, version) -> None:
    server, client = api
    master = FakeMaster(tmp_path / "m1", version, server.url, pki)
    token = "abcdef.0123456789abcdef"
    _init_token(client, token)
    api_version = "kubeadm.k8s.io/v1beta4"
    cfg = master.root / "init.yaml"
    cfg.write_text(
        f"apiVersion: {api_version}\nkind: InitConfiguration\nbootstrapTokens:\n- token: {token}\n"
    )
    again = master.run(["token", "create", "--config", "/init.yaml"])
    assert again.returncode == 1 and 'a token with id "abcdef" already exists' in again.stderr
    assert master.run(["token", "create", token]).returncode == 1  # the argument is no way round it
    # mixing --config with token flags is refused (ValidateMixedArguments)
    mixed = master.run(["token", "create", "--config", "/init.yaml", "--ttl", "1h"])
    assert mixed.returncode == 1 and "can not mix '--config' with arguments [ttl]" in mixed.stderr
    assert master.run(["token", "create", "--no-such-flag"]).returncode == 1
    # a fresh token is made and printed; its ttl is the one asked for
    fresh = master.run(["token", "create", "--ttl", "2h0m0s", "--description", "a join"])
    assert fresh.returncode == 0, fresh.stderr
    new = fresh.stdout.strip()
    assert fake_kubeadm.TOKEN_RE.match(new) and new != token
    secret = client.request("GET", f"/api/v1/namespaces/kube-system/secrets/bootstrap-token-{new[:6]}")
    expires = fakelib.parse_rfc3339(base64.b64decode(secret["data"]["expiration"]).decode())
    assert 7000 < expires - time.time() <= 7200


@pytest.mark.parametrize("version", SUPPORTED)
def test_plugin_joins_two_workers_after_init_against_strict_token_create(api, pki, tmp_path, version) -> None:
    """Today's fix: every join gets a token kubeadm accepts; the init token is never re-created."""
    server, client = api
    ctx = _ctx(tmp_path, version)
    _init_token(client, kubeadm.join_token(ctx))
    master = FakeMaster(tmp_path / "m1", version, server.url, pki)
    master.answer(ctx.hosts["10.0.0.1"].conn)
    rt = kubeadm.Runtime()
    tokens = []
    for ip in ("10.0.0.3", "10.0.0.4"):
        host = ctx.hosts[ip]
        rt.sealkit_join_node(ctx=ctx, host=host)
        content, mode = host.conn.files[kubeadm.JOIN_CONFIG]
        doc = yaml.safe_load(content.decode().split("\n", 1)[1])
        tokens.append(doc["discovery"]["bootstrapToken"]["token"])
        assert mode == 0o600
    assert len(set(tokens)) == 2 and kubeadm.join_token(ctx) not in tokens
    live = {
        s["metadata"]["name"]
        for s in client.request("GET", "/api/v1/namespaces/kube-system/secrets")["items"]
        if s.get("type") == "bootstrap.kubernetes.io/token"
    }
    assert {f"bootstrap-token-{t[:6]}" for t in tokens} <= live
    for cmd in ctx.hosts["10.0.0.1"].conn.commands:  # the secret half never reaches argv
        assert all(t.split(".")[1] not in cmd for t in tokens)


@pytest.mark.parametrize("version", SUPPORTED)
def test_fake_reads_config_fields_and_flags_from_the_release_data(tmp_path, version, capsys) -> None:
    """Unknown fields: a warning for init/join (strictErrors=false), an error for `config validate`;
    flags not in the release's data are refused (kubernetes/kubernetes
    cmd/kubeadm/app/util/config/initconfiguration.go, cmd/kubeadm/app/cmd/token.go)."""
    root = tmp_path / "root"
    exe = bundle.bundle("kubeadm", tmp_path / "bin", version)
    cfg = root / "c.yaml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
        "apiServer:\n  timeoutForControlPlane: 4m0s\n"
    )
    env = {**os.environ, "SEALKIT_FAKE_ROOT": str(root)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([PY, str(exe), *args], capture_output=True, text=True, env=env, check=False)

    strict = run("config", "validate", "--config", "/c.yaml")
    assert strict.returncode == 1
    assert 'unknown field "apiServer.timeoutForControlPlane"' in strict.stderr
    os.environ["SEALKIT_FAKE_ROOT"] = str(root)
    try:
        loaded = fake_kubeadm.load_config("/c.yaml", version)
    finally:
        del os.environ["SEALKIT_FAKE_ROOT"]
    assert loaded.versions == {"ClusterConfiguration": "v1beta4"}
    assert (
        'strict decoding error: unknown field "apiServer.timeoutForControlPlane"' in capsys.readouterr().err
    )
    cfg.write_text("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n")
    assert run("config", "validate", "--config", "/c.yaml").returncode == 0
    refused = run("reset", "--force", "--no-such-flag")
    assert refused.returncode == 1 and "unknown flag: --no-such-flag" in refused.stderr
    data = fakelib.upstream("kubernetes", "v1." + version.split(".")[1])
    assert data is not None
    specs = data["kubeadm"]["commands"]["token create"]
    names = [f.name for f in fake_kubeadm.command_flags("token create", version)]
    assert names == [str(s).split(":")[0].split("/")[0] for s in specs]
