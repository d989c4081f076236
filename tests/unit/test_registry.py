"""Unit tests of sealkit.registry: mirror renderers (exact output), hosts block, config, sync."""

from __future__ import annotations

import hashlib
import io
import shutil
import socket
import ssl
import subprocess
import tomllib
from pathlib import Path
from types import SimpleNamespace

import bcrypt
import pluggy
import pytest
import yaml

from sealkit import hookspecs
from sealkit.cluster import Cluster, Host
from sealkit.context import ClusterContext, HostRef, RegistryInfo, RuntimeInfo
from sealkit.errors import ConnectError, ImageError, PluginError, StepFailed
from sealkit.image.layout import OciLayout
from sealkit.image.remote import RegistryClient, RegistryOptions
from sealkit.pki.store import PKIStore
from sealkit.registry import hosts as hostsfile
from sealkit.registry import mirrors, service, sync
from sealkit.registry.plugin import RegistryPlugin
from sealkit.state import ClusterState
from tests.lab_registry.local_registry import free_port, local_registry, registry_binary
from tests.lab_registry.oci_fixture import BUSYBOX, busybox_image, layer_digest

REG = RegistryInfo(
    domain="sealkit.hub",
    port=5000,
    hosts=("10.213.0.11", "10.213.0.12"),
    username="sealkit",
    password='p"w\\d',
    ca_pem=b"",
)
CA = "/etc/sealkit/registry/ca.crt"
HDR = mirrors.HEADER
#: every registry host, in order, as a containerd mirror host (one per master)
HOST_TABLES = (
    '[host."https://10.213.0.11:5000"]\n'
    '  capabilities = ["pull", "resolve"]\n'
    '  ca = "/etc/sealkit/registry/ca.crt"\n'
    '[host."https://10.213.0.12:5000"]\n'
    '  capabilities = ["pull", "resolve"]\n'
    '  ca = "/etc/sealkit/registry/ca.crt"\n'
)


# ------------------------------------------------------------------------------------ containerd
HOSTS_TOML_CASES = [
    (
        "docker.io",
        True,
        "/etc/containerd/certs.d/docker.io/hosts.toml",
        HDR + 'server = "https://registry-1.docker.io"\n\n' + HOST_TABLES,
    ),
    (
        "registry.k8s.io",
        True,
        "/etc/containerd/certs.d/registry.k8s.io/hosts.toml",
        HDR + 'server = "https://registry.k8s.io"\n\n' + HOST_TABLES,
    ),
    (
        "Quay.IO",
        False,
        "/etc/containerd/certs.d/quay.io/hosts.toml",
        HDR + 'server = "https://sealkit.hub:5000"\nca = "/etc/sealkit/registry/ca.crt"\n\n' + HOST_TABLES,
    ),
    (
        "myreg.example.com:8443",
        True,
        "/etc/containerd/certs.d/myreg.example.com:8443/hosts.toml",
        HDR + 'server = "https://myreg.example.com:8443"\n\n' + HOST_TABLES,
    ),
]


@pytest.mark.parametrize(("upstream", "fallback", "path", "text"), HOSTS_TOML_CASES)
def test_containerd_hosts_toml_exact(upstream, fallback, path, text):
    got_path, got_text = mirrors.containerd_hosts_toml(upstream, REG, CA, fallback=fallback)
    assert (got_path, got_text) == (path, text)
    parsed = tomllib.loads(got_text)  # valid TOML, as containerd's parser will read it
    # every registry host, in order (containerd tries them in this order, then the server)
    assert list(parsed["host"]) == ["https://10.213.0.11:5000", "https://10.213.0.12:5000"]
    assert parsed["host"]["https://10.213.0.12:5000"]["capabilities"] == ["pull", "resolve"]
    if not fallback:
        assert parsed["server"] == "https://sealkit.hub:5000"


def test_containerd_default_namespace_exact():
    path, text = mirrors.containerd_default_hosts_toml(REG, CA, certs_dir="/etc/containerd/certs.d/")
    assert path == "/etc/containerd/certs.d/_default/hosts.toml"
    assert text == HDR + HOST_TABLES
    assert "server" not in tomllib.loads(text)  # upstream of each image is the implicit fallback


@pytest.mark.parametrize(
    ("major", "plugin"),
    [(1, "io.containerd.grpc.v1.cri"), (2, "io.containerd.cri.v1.images")],
)
def test_cri_registry_snippet_exact_and_escaped(major, plugin):
    text = mirrors.containerd_cri_registry_toml(REG, containerd_major=major)
    auth = '  username = "sealkit"\n  password = "p\\"w\\\\d"\n'
    assert text == (
        f'[plugins."{plugin}".registry]\n'
        '  config_path = "/etc/containerd/certs.d"\n'
        "\n"
        f'[plugins."{plugin}".registry.configs."sealkit.hub:5000".auth]\n' + auth + "\n"
        f'[plugins."{plugin}".registry.configs."10.213.0.11:5000".auth]\n' + auth + "\n"
        f'[plugins."{plugin}".registry.configs."10.213.0.12:5000".auth]\n' + auth
    )
    parsed = tomllib.loads(text)
    reg = parsed["plugins"][plugin]["registry"]
    assert reg["config_path"] == "/etc/containerd/certs.d"
    # the CRI plugin looks credentials up by the host it contacts: the name and every registry IP
    for host in ("sealkit.hub:5000", "10.213.0.11:5000", "10.213.0.12:5000"):
        assert reg["configs"][host]["auth"] == {"username": "sealkit", "password": 'p"w\\d'}


def test_cri_unknown_major_refused():
    with pytest.raises(PluginError, match="major version 3"):
        mirrors.containerd_cri_registry_toml(REG, containerd_major=3)


def test_containerd_files_set():
    files = mirrors.containerd_files(REG, ["docker.io", "quay.io", "docker.io", "sealkit.hub:5000"], CA)
    assert [f.path for f in files] == [
        "/etc/containerd/certs.d/docker.io/hosts.toml",
        "/etc/containerd/certs.d/quay.io/hosts.toml",
        "/etc/containerd/certs.d/sealkit.hub:5000/hosts.toml",
        "/etc/containerd/certs.d/_default/hosts.toml",
    ]
    assert all(f.mode == 0o644 and b"password" not in f.content for f in files)
    own = tomllib.loads(files[2].content.decode())
    assert own["server"] == "https://sealkit.hub:5000" and own["ca"] == CA
    assert list(own["host"]) == ["https://10.213.0.11:5000", "https://10.213.0.12:5000"]


@pytest.mark.parametrize(
    "bad",
    ["docker.io/library", 'evil"]\n[host', "", "https://docker.io", "a b", "x:port"],
)
def test_bad_upstream_refused(bad):
    with pytest.raises(PluginError, match="not a registry host"):
        mirrors.containerd_hosts_toml(bad, REG, CA)


@pytest.mark.parametrize("bad", ["relative/ca.crt", "/etc/../ca.crt", '/etc/"ca.crt'])
def test_bad_ca_path_refused(bad):
    with pytest.raises(PluginError, match="absolute path"):
        mirrors.containerd_hosts_toml("docker.io", REG, bad)


def test_upstream_server_docker_hub():
    assert mirrors.upstream_server("docker.io") == "https://registry-1.docker.io"
    assert mirrors.upstream_server("ghcr.io") == "https://ghcr.io"


def test_upstreams_for_images():
    refs = ["busybox:1.36", "registry.k8s.io/pause:3.9", "10.0.0.5:5000/app/x:1"]
    assert mirrors.upstreams_for(refs, extra=["quay.io"]) == [
        "10.0.0.5:5000",
        "docker.io",
        "quay.io",
        "registry.k8s.io",
    ]


# ------------------------------------------------------------------------------------------- k3s
def test_k3s_registries_yaml_exact():
    text = mirrors.k3s_registries_yaml(REG, ["registry.k8s.io", "docker.io"], CA)
    endpoints = '    endpoint:\n      - "https://10.213.0.11:5000"\n      - "https://10.213.0.12:5000"\n'
    config = (
        "    auth:\n"
        '      username: "sealkit"\n'
        '      password: "p\\"w\\\\d"\n'
        "    tls:\n"
        '      ca_file: "/etc/sealkit/registry/ca.crt"\n'
    )
    assert text == (
        HDR + "mirrors:\n"
        '  "docker.io":\n'
        + endpoints
        + '  "registry.k8s.io":\n'
        + endpoints
        + '  "sealkit.hub:5000":\n'
        + endpoints
        + '  "*":\n'
        + endpoints
        + "configs:\n"
        '  "sealkit.hub:5000":\n'
        + config
        + '  "10.213.0.11:5000":\n'
        + config
        + '  "10.213.0.12:5000":\n'
        + config
    )
    urls = ["https://10.213.0.11:5000", "https://10.213.0.12:5000"]
    parsed = yaml.safe_load(text)
    assert parsed["mirrors"] == {
        "docker.io": {"endpoint": urls},
        "registry.k8s.io": {"endpoint": urls},
        "sealkit.hub:5000": {"endpoint": urls},  # the stable name (kubeadm's imageRepository) too
        "*": {"endpoint": urls},  # every other registry (k3s: containerd's certs.d/_default)
    }
    want = {"auth": {"username": "sealkit", "password": 'p"w\\d'}, "tls": {"ca_file": CA}}
    assert parsed["configs"] == {
        h: want for h in ("sealkit.hub:5000", "10.213.0.11:5000", "10.213.0.12:5000")
    }


def test_mirror_endpoints_follow_the_registry_hosts_in_order():
    """One registry: one endpoint by IP; none known: the stable name; IPv6 in brackets."""
    one = RegistryInfo("sealkit.hub", 5000, ("10.0.0.9",), "u", "p")
    assert mirrors.endpoint_urls(one) == ["https://10.0.0.9:5000"]
    assert mirrors.endpoint_urls(RegistryInfo("sealkit.hub", 5000, (), "u", "p")) == [
        "https://sealkit.hub:5000"
    ]
    v6 = RegistryInfo("sealkit.hub", 5000, ("fd00::2", "10.0.0.3"), "u", "p")
    assert mirrors.endpoints(v6) == ["[fd00::2]:5000", "10.0.0.3:5000"]
    assert mirrors.auth_hosts(v6) == ["sealkit.hub:5000", "[fd00::2]:5000", "10.0.0.3:5000"]


def test_k3s_file_is_secret():
    (spec,) = mirrors.k3s_files(REG, ["docker.io"], CA)
    assert spec.path == "/etc/rancher/k3s/registries.yaml"
    assert spec.mode == 0o600
    assert spec.secret


# ------------------------------------------------------------------------------------------- k0s
def test_k0s_dropin_exact():
    text = mirrors.k0s_containerd_dropin(REG)
    assert text == (
        HDR + "version = 2\n"
        "\n"
        '[plugins."io.containerd.grpc.v1.cri".registry]\n'
        '  config_path = "/etc/containerd/certs.d"\n'
        "\n"
        '[plugins."io.containerd.grpc.v1.cri".registry.configs."sealkit.hub:5000".auth]\n'
        '  username = "sealkit"\n'
        '  password = "p\\"w\\\\d"\n'
        "\n"
        '[plugins."io.containerd.grpc.v1.cri".registry.configs."10.213.0.11:5000".auth]\n'
        '  username = "sealkit"\n'
        '  password = "p\\"w\\\\d"\n'
        "\n"
        '[plugins."io.containerd.grpc.v1.cri".registry.configs."10.213.0.12:5000".auth]\n'
        '  username = "sealkit"\n'
        '  password = "p\\"w\\\\d"\n'
    )
    v3 = tomllib.loads(mirrors.k0s_containerd_dropin(REG, containerd_major=2))
    assert v3["version"] == 3
    assert "io.containerd.cri.v1.images" in v3["plugins"]


def test_k0s_files():
    files = mirrors.k0s_files(REG, ["docker.io"], CA)
    assert files[0].path == "/etc/k0s/containerd.d/sealkit-registry.toml"
    assert files[0].mode == 0o600
    assert [f.path for f in files[1:]] == [
        "/etc/containerd/certs.d/docker.io/hosts.toml",
        "/etc/containerd/certs.d/sealkit.hub:5000/hosts.toml",
        "/etc/containerd/certs.d/_default/hosts.toml",
    ]


# ------------------------------------------------------------------------------------ /etc/hosts
BLOCK = "# sealkit begin\n10.213.0.11 sealkit.hub\n# sealkit end\n"

HOSTS_CASES = [
    # (before, after apply)
    ("", BLOCK),
    ("127.0.0.1 localhost\n", "127.0.0.1 localhost\n" + BLOCK),
    ("127.0.0.1 localhost", "127.0.0.1 localhost\n" + BLOCK),  # no trailing newline
    (
        "127.0.0.1 localhost\n# sealkit begin\n10.0.0.9 sealkit.hub\n# sealkit end\n::1 ip6\n",
        "127.0.0.1 localhost\n" + BLOCK + "::1 ip6\n",
    ),
    ("a\n" + BLOCK + "b\n", "a\n" + BLOCK + "b\n"),  # already right: unchanged
]


@pytest.mark.parametrize(("before", "after"), HOSTS_CASES)
def test_hosts_block_apply(before, after):
    block = hostsfile.render_block([("10.213.0.11", "Sealkit.Hub")])
    assert block == BLOCK
    assert hostsfile.apply_block(before, block) == after
    assert hostsfile.apply_block(after, block) == after  # idempotent


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("127.0.0.1 localhost\n" + BLOCK + "::1 ip6\n", "127.0.0.1 localhost\n::1 ip6\n"),
        ("127.0.0.1 localhost\n", "127.0.0.1 localhost\n"),
        (BLOCK, ""),
    ],
)
def test_hosts_block_remove(before, after):
    assert hostsfile.remove_block(before) == after


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("# sealkit begin\n1.2.3.4 x\n", "without '# sealkit end'"),
        (BLOCK + BLOCK, "2 '# sealkit begin' markers"),
    ],
)
def test_hosts_block_broken_markers(text, match):
    with pytest.raises(PluginError, match=match):
        hostsfile.apply_block(text, BLOCK)


@pytest.mark.parametrize(("ip", "name"), [("10.0.0.300", "a"), ("10.0.0.1", "bad name"), ("x", "a")])
def test_hosts_block_bad_entry(ip, name):
    with pytest.raises(PluginError):
        hostsfile.render_block([(ip, name)])


# ----------------------------------------------------------------------------- service renderers
def test_render_config_exact_and_valid_yaml():
    text = service.render_config(port=5000, http_secret="abc123")
    assert text == (
        "# Managed by sealkit (sealkit-registry.service). Do not edit: sealkit rewrites it.\n"
        "version: 0.1\n"
        "log:\n"
        "  level: info\n"
        "  fields:\n"
        "    service: sealkit-registry\n"
        "storage:\n"
        "  filesystem:\n"
        "    rootdirectory: /var/lib/sealkit/registry\n"
        "  delete:\n"
        "    enabled: true\n"
        "http:\n"
        "  addr: :5000\n"
        "  secret: abc123\n"
        "  headers:\n"
        "    X-Content-Type-Options: [nosniff]\n"
        "  tls:\n"
        "    certificate: /etc/sealkit/registry/tls.crt\n"
        "    key: /etc/sealkit/registry/tls.key\n"
        "    minimumtls: tls1.2\n"
        "auth:\n"
        "  htpasswd:\n"
        "    realm: sealkit-registry\n"
        "    path: /etc/sealkit/registry/htpasswd\n"
        "health:\n"
        "  storagedriver:\n"
        "    enabled: true\n"
        "    interval: 10s\n"
        "    threshold: 3\n"
    )
    doc = yaml.safe_load(text)
    assert doc["http"]["addr"] == ":5000"
    assert doc["storage"]["filesystem"]["rootdirectory"] == "/var/lib/sealkit/registry"


@pytest.mark.parametrize(("port", "secret"), [(0, "abc"), (70000, "abc"), (5000, "a b"), (5000, "")])
def test_render_config_refuses_bad_input(port, secret):
    with pytest.raises(PluginError):
        service.render_config(port=port, http_secret=secret)


def test_render_unit_exact():
    assert service.render_unit("/var/lib/sealkit/rootfs/bin/registry") == (
        "# Managed by sealkit. Do not edit: sealkit rewrites it.\n"
        "[Unit]\n"
        "Description=sealkit embedded image registry (Distribution)\n"
        "Documentation=https://distribution.github.io/distribution/about/configuration/\n"
        "After=network-online.target\n"
        "Wants=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        "ExecStart=/var/lib/sealkit/rootfs/bin/registry serve /etc/sealkit/registry/config.yml\n"
        "Restart=always\n"
        "RestartSec=2\n"
        "LimitNOFILE=65536\n"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


@pytest.mark.parametrize("bad", ["bin/registry", "/opt/my registry", "/x/$HOME", "/x/%i"])
def test_render_unit_refuses_bad_binary(bad):
    with pytest.raises(PluginError):
        service.render_unit(bad)


def test_htpasswd_is_bcrypt_of_the_password():
    creds = service.Credentials.generate("sealkit")
    line = service.render_htpasswd(creds)
    user, _, hashed = line.rstrip("\n").partition(":")
    assert user == "sealkit"
    assert bcrypt.checkpw(creds.password.encode(), hashed.encode())
    assert not bcrypt.checkpw(b"wrong", hashed.encode())
    assert creds.password not in repr(creds) and creds.bcrypt_hash not in repr(creds)


@pytest.mark.parametrize("bad", ["a:b", "a b", ""])
def test_credentials_refuse_bad_username(bad):
    with pytest.raises(PluginError):
        service.Credentials.generate(bad)


def test_cert_spec_sans():
    spec = service.cert_spec("sealkit.hub", "10.213.0.11")
    assert spec.dns_names == ("sealkit.hub", "localhost")
    assert spec.ip_addresses == ("10.213.0.11", "127.0.0.1")
    assert spec.usages == frozenset({"server"})
    assert spec.name == "10.213.0.11/registry"


# ---------------------------------------------------------------------------------- credentials
def test_credential_store_created_once_0600(tmp_path):
    store = service.CredentialStore(tmp_path / "registry")
    first = store.ensure()
    assert (store.path.stat().st_mode & 0o777) == 0o600
    assert (store.dir.stat().st_mode & 0o777) == 0o700
    again = service.CredentialStore(tmp_path / "registry").ensure()
    assert again == first  # same password, same hash: htpasswd stays byte-identical


def test_credential_store_rekeys_on_given_password(tmp_path):
    store = service.CredentialStore(tmp_path / "registry")
    first = store.ensure()
    given = store.ensure(password="s3cret-given")
    assert given.password == "s3cret-given"
    assert bcrypt.checkpw(b"s3cret-given", given.bcrypt_hash.encode())
    assert given.http_secret == first.http_secret
    assert store.ensure(password="s3cret-given") == given  # stable once set
    renamed = store.ensure(username="other")
    assert (renamed.username, renamed.password) == ("other", "s3cret-given")


def test_credential_store_corrupt_file_is_clear_error(tmp_path):
    store = service.CredentialStore(tmp_path / "registry")
    store.dir.mkdir(parents=True)
    store.path.write_text("{not json")
    with pytest.raises(PluginError, match="unreadable") as err:
        store.load()
    assert "backup" in str(err.value)


# ------------------------------------------------------------------------- on a (fake) host
class FakeConn:
    """Just enough of sealkit.ssh.Connection: a file dict, content-addressed put, recorded runs."""

    def __init__(self, files: dict[str, bytes] | None = None, active: bool = True) -> None:
        self.files = dict(files or {})
        self.modes: dict[str, int] = {}
        self.runs: list[str] = []
        self.stdins: list[bytes] = []
        self.puts: list[str] = []
        self.active = active

    def run(self, cmd, sudo=None, timeout=None, check=True, stdin=None):
        self.runs.append(cmd)
        if stdin is not None:
            self.stdins.append(stdin)
        rc, out = 0, ""
        if cmd == "cat /etc/hosts":
            out = self.files.get("/etc/hosts", b"").decode()
        elif cmd.startswith("systemctl is-active"):
            rc = 0 if self.active else 3
        elif cmd.startswith("systemctl enable") or cmd.startswith("systemctl restart"):
            self.active = True
        elif cmd.startswith("rm -f /etc/sealkit/registry-ca.crt"):
            self.files.pop("/etc/sealkit/registry-ca.crt", None)
        return SimpleNamespace(rc=rc, stdout=out, stderr="")

    def put(self, data, remote_path, mode=0o644):
        if self.files.get(remote_path) == data and self.modes.get(remote_path) == mode:
            return False
        self.files[remote_path] = data
        self.modes[remote_path] = mode
        self.puts.append(remote_path)
        return True


def _ctx(tmp_path, ips=("10.213.0.11", "10.213.0.12")):
    hosts = [Host(ip=ips[0], roles=["master"]), *[Host(ip=ip, roles=["node"]) for ip in ips[1:]]]
    cluster = Cluster(name="t", hosts=hosts)
    ctx = ClusterContext(
        cluster=cluster,
        state=ClusterState("t", home=tmp_path / "home"),
        fleet=None,
        pm=None,
        runtime=RuntimeInfo("test"),
        pki=PKIStore(tmp_path / "home" / "pki"),
    )
    for h in hosts:
        ctx.hosts[h.ip] = HostRef(spec=h, conn=FakeConn({"/etc/hosts": b"127.0.0.1 localhost\n"}))
    return ctx


def test_registry_info_from_context(tmp_path):
    ctx = _ctx(tmp_path)
    info = service.registry_info(ctx)
    assert (info.domain, info.port, info.hosts, info.username) == (
        "sealkit.hub",
        5000,
        ("10.213.0.11",),
        "sealkit-pull",
    )
    push = service.push_registry_info(ctx)
    assert (push.domain, push.port, push.hosts, push.username) == (
        "sealkit.hub",
        5001,
        ("10.213.0.11",),
        "sealkit",
    )
    assert push.password != info.password
    assert info.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert service.registry_info(ctx) == info  # stable across calls (stored once)
    stored = (ctx.state.dir / "registry" / "credentials.json").stat().st_mode & 0o777
    assert stored == 0o600


def test_registry_hosts_explicit_role_wins(tmp_path):
    ctx = _ctx(tmp_path)
    ctx.cluster.hosts[1].roles.append("registry")
    assert service.registry_hosts(ctx) == ["10.213.0.12"]
    ctx.cluster.hosts.clear()
    with pytest.raises(PluginError, match="no host has role"):
        service.registry_hosts(ctx)


def test_prepare_host_twice_changes_nothing_the_second_time(tmp_path):
    ctx = _ctx(tmp_path)
    plugin = RegistryPlugin(binary="/usr/bin/docker-registry")
    master, node = ctx.hosts["10.213.0.11"], ctx.hosts["10.213.0.12"]
    for h in (master, node):
        plugin.sealkit_prepare_host(ctx=ctx, host=h)
    assert set(master.conn.puts) == {
        "/etc/hosts",
        "/etc/sealkit/registry-ca.crt",
        "/etc/sealkit/registry/config.yml",
        "/etc/sealkit/registry/htpasswd",
        "/etc/sealkit/registry/config-push.yml",
        "/etc/sealkit/registry/htpasswd-push",
        "/etc/sealkit/registry/tls.crt",
        "/etc/sealkit/registry/tls.key",
        "/etc/systemd/system/sealkit-registry.service",
        "/etc/systemd/system/sealkit-registry-push.service",
    }
    assert node.conn.puts == ["/etc/hosts", "/etc/sealkit/registry-ca.crt"]
    for h in (master, node):
        assert h.conn.files["/etc/hosts"] == b"127.0.0.1 localhost\n" + BLOCK.encode()
    assert master.conn.modes["/etc/sealkit/registry/tls.key"] == 0o600
    assert master.conn.modes["/etc/sealkit/registry/config.yml"] == 0o600
    assert master.conn.modes["/etc/sealkit/registry/htpasswd"] == 0o600
    assert master.conn.modes["/etc/sealkit/registry/htpasswd-push"] == 0o600
    assert master.conn.modes["/etc/sealkit/registry/config-push.yml"] == 0o600
    assert any("systemctl restart sealkit-registry.service" in r for r in master.conn.runs)
    # no secret ever travels in a command line
    info = service.registry_info(ctx)
    push = service.push_registry_info(ctx)
    assert not any(
        p in r for p in (info.password, push.password) for h in (master, node) for r in h.conn.runs
    )

    for h in (master, node):
        h.conn.puts.clear()
        h.conn.runs.clear()
        plugin.sealkit_prepare_host(ctx=ctx, host=h)
        assert h.conn.puts == []
        assert not any("restart" in r for r in h.conn.runs)


def test_prepare_restarts_a_stopped_service_without_rewriting(tmp_path):
    ctx = _ctx(tmp_path)
    plugin = RegistryPlugin(binary="/usr/bin/docker-registry")
    master = ctx.hosts["10.213.0.11"]
    plugin.sealkit_prepare_host(ctx=ctx, host=master)
    master.conn.active = False
    master.conn.puts.clear()
    assert service.ensure_service(ctx, master, binary="/usr/bin/docker-registry") is True
    assert master.conn.puts == []
    assert any(r.endswith("systemctl start sealkit-registry.service") for r in master.conn.runs)


def test_default_binary_is_the_images_own(tmp_path):
    ctx = _ctx(tmp_path)
    assert service.default_binary(ctx) == "/var/lib/sealkit/rootfs/bin/registry"
    files = service.service_files(ctx, ctx.hosts["10.213.0.11"], service.default_binary(ctx))
    unit = next(f for f in files if f.path.endswith(".service"))
    assert b"ExecStart=/var/lib/sealkit/rootfs/bin/registry serve" in unit.content


def test_missing_binary_is_a_clear_step_failure(tmp_path):
    ctx = _ctx(tmp_path)
    master = ctx.hosts["10.213.0.11"]

    def run(cmd, **kw):
        return SimpleNamespace(rc=1 if cmd.startswith("test -x") else 0, stdout="", stderr="")

    master.conn.run = run
    with pytest.raises(StepFailed, match="test -x") as err:
        service.ensure_service(ctx, master)
    assert err.value.host == "10.213.0.11"
    assert "bin/registry" in str(err.value)


def test_reset_removes_block_ca_and_service(tmp_path):
    ctx = _ctx(tmp_path)
    plugin = RegistryPlugin(binary="/usr/bin/docker-registry")
    master = ctx.hosts["10.213.0.11"]
    plugin.sealkit_prepare_host(ctx=ctx, host=master)
    master.conn.runs.clear()
    plugin.sealkit_reset_host(ctx=ctx, host=master)
    assert master.conn.files["/etc/hosts"] == b"127.0.0.1 localhost\n"
    assert "/etc/sealkit/registry-ca.crt" not in master.conn.files
    removal = next(r for r in master.conn.runs if "rm -rf" in r)
    assert "/var/lib/sealkit/registry" in removal and "/etc/sealkit/registry" in removal
    assert "disable --now sealkit-registry.service" in removal


def test_plugin_registers_against_the_hookspecs():
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(RegistryPlugin(), name="builtin:registry")
    pm.check_pending()
    names = {
        impl.function.__name__
        for hook in pm.get_hookcallers(pm.get_plugin("builtin:registry"))
        for impl in hook.get_hookimpls()
    }
    assert {"sealkit_prepare_host", "sealkit_sync_images", "sealkit_reset_host"} <= names


# ---------------------------------------------------- sync against the real registry on loopback
needs_registry = pytest.mark.skipif(
    registry_binary() is None or not BUSYBOX.exists(),
    reason="needs Debian's docker-registry and busybox-static",
)


@pytest.fixture
def loopback_registry(tmp_path):
    """A registry of the test's own (tests that push need an empty one)."""
    with local_registry(tmp_path / "reg", registry_binary()) as reg:
        yield reg


@pytest.fixture(scope="module")
def shared_registry(tmp_path_factory):
    """One registry for the tests that never store anything in it."""
    if registry_binary() is None:
        pytest.skip("needs Debian's docker-registry")
    with local_registry(tmp_path_factory.mktemp("shared-reg"), registry_binary()) as reg:
        yield reg


def _client(reg, *, username=None, password=None, ca=True):
    return RegistryClient(
        reg.address,
        RegistryOptions(
            ca_file=reg.ca_file if ca else None, username=username, password=password, timeout=10
        ),
    )


@needs_registry
def test_sync_pushes_by_digest_then_skips(tmp_path, loopback_registry):
    reg = loopback_registry
    oci = tmp_path / "oci"
    entry = busybox_image(oci, "docker.io/library/busybox:1.36")
    busybox_image(oci, "registry.k8s.io/pause:3.9", marker="pause", extra_file=b"p")
    report = sync.sync_layout_dir(oci, reg.info, endpoint=reg.address)
    assert sorted(report.images) == ["docker.io/library/busybox:1.36", "registry.k8s.io/pause:3.9"]
    assert report.blobs_pushed == 4 and report.blobs_skipped == 0  # 2 configs + 2 layers
    assert report.images_skipped == []

    client = _client(reg, username=reg.info.username, password=reg.info.password)
    _, _, digest = client.get_manifest("library/busybox", "1.36")
    assert digest == entry["digest"]  # the very bytes of the layout: same digest
    client.get_manifest("pause", "3.9")  # registry.k8s.io/pause → repo "pause"

    again = sync.sync_layout_dir(oci, reg.info, endpoint=reg.address)
    assert again.blobs_pushed == 0 and again.manifests_pushed == 0
    assert sorted(again.images_skipped) == sorted(report.images)


@needs_registry
def test_sync_skips_blobs_the_registry_has(tmp_path, loopback_registry):
    reg = loopback_registry
    oci = tmp_path / "oci"
    busybox_image(oci, "docker.io/library/busybox:1.36")
    sync.sync_layout_dir(oci, reg.info, endpoint=reg.address)
    busybox_image(oci, "docker.io/library/busybox:1.36", marker="changed cmd")  # same layer
    report = sync.sync_layout_dir(oci, reg.info, endpoint=reg.address)
    assert report.blobs_pushed == 1 and report.blobs_skipped == 1  # new config, layer skipped
    assert report.manifests_pushed == 1


@needs_registry
def test_sync_refuses_corrupted_blob(tmp_path, loopback_registry):
    reg = loopback_registry
    oci = tmp_path / "oci"
    entry = busybox_image(oci, "docker.io/library/busybox:1.36")
    layer = layer_digest(oci, entry)
    blob = OciLayout(oci).blob_path(layer)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different bytes
    blob.write_bytes(bytes(data))
    with pytest.raises(ImageError) as err:
        sync.sync_layout_dir(oci, reg.info, endpoint=reg.address)
    text = str(err.value)
    assert "docker.io/library/busybox:1.36" in text and layer in text and "corrupted" in text
    assert err.value.step == "registry-sync"
    client = _client(reg, username=reg.info.username, password=reg.info.password)
    assert not client.blob_exists("library/busybox", layer)  # never stored under a lying digest


@needs_registry
def test_registry_itself_refuses_a_digest_mismatch(shared_registry):
    client = _client(shared_registry, username="sealkit", password=shared_registry.info.password)
    body = b"these bytes do not hash to the digest below"
    wrong = "sha256:" + "0" * 64
    with pytest.raises(ImageError, match="DIGEST_INVALID"):
        client.upload_blob("library/busybox", wrong, len(body), lambda: io.BytesIO(body))


@needs_registry
def test_registry_refuses_unauthenticated_and_wrong_password(shared_registry):
    reg = shared_registry
    with pytest.raises(ConnectError, match="requires a username"):
        _client(reg).upload_blob("library/x", "sha256:" + "1" * 64, 1, lambda: io.BytesIO(b"x"))
    with pytest.raises(ConnectError, match="401"):
        _client(reg, username="sealkit", password="wrong").ping("library/x", push=True)


@needs_registry
def test_registry_tls_verifies_only_against_the_cluster_ca(tmp_path, shared_registry):
    reg = shared_registry
    ctx = ssl.create_default_context(cafile=str(reg.ca_file))
    with (
        socket.create_connection(("127.0.0.1", reg.info.port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="sealkit.hub") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    with pytest.raises(ConnectError, match="not trusted"):
        _client(reg, ca=False, username="sealkit", password=reg.info.password).ping("library/x")


@pytest.mark.skipif(shutil.which("containerd") is None, reason="needs containerd")
def test_real_containerd_parses_the_cri_snippet(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text("version = 2\n\n" + mirrors.containerd_cri_registry_toml(REG))
    out = subprocess.run(
        ["containerd", "--config", str(cfg), "config", "dump"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    dumped = tomllib.loads(out)["plugins"]["io.containerd.grpc.v1.cri"]["registry"]
    assert dumped["config_path"] == "/etc/containerd/certs.d"
    auth = dumped["configs"]["sealkit.hub:5000"]["auth"]
    assert (auth["username"], auth["password"]) == ("sealkit", 'p"w\\d')


def test_image_names_feed_the_mirror_upstreams(tmp_path):
    oci = tmp_path / "oci"
    assert sync.image_names(oci) == []
    busybox_image(oci, "docker.io/library/busybox:1.36")
    busybox_image(oci, "quay.io/coreos/etcd:v3.5.9", marker="etcd")
    names = sync.image_names(oci)
    assert names == ["docker.io/library/busybox:1.36", "quay.io/coreos/etcd:v3.5.9"]
    assert mirrors.upstreams_for(names, extra=()) == ["docker.io", "quay.io"]
    assert sync.target_of(names[1]) == ("coreos/etcd", "v3.5.9")


def test_layout_without_full_names_is_refused(tmp_path):
    oci = tmp_path / "oci"
    busybox_image(oci, "1.36")  # a bare tag, as skopeo/umoci write it
    with pytest.raises(ImageError, match="without a full name"):
        sync.sync_layout_dir(oci, REG)


class LocalShell:
    """Runs commands in a local ``sh`` (for shell snippets that only touch a temp dir)."""

    def __init__(self) -> None:
        self.runs: list[str] = []

    def run(self, cmd, sudo=None, timeout=None, check=True, stdin=None):
        self.runs.append(cmd)
        res = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=30, check=False)
        return SimpleNamespace(rc=res.returncode, stdout=res.stdout, stderr=res.stderr)


def test_reset_removes_only_sealkits_mirror_files(tmp_path):
    certs = tmp_path / "certs.d"
    ours = mirrors.containerd_files(REG, ["docker.io", "quay.io"], CA, certs_dir=str(certs))
    for f in ours:
        Path(f.path).parent.mkdir(parents=True, exist_ok=True)
        Path(f.path).write_bytes(f.content)
    admin = certs / "docker.io" / "admin-ca.crt"  # an admin's file in one of our namespace dirs
    admin.write_text("x")
    theirs = certs / "example.com" / "hosts.toml"  # an admin's own namespace
    theirs.parent.mkdir()
    theirs.write_text('server = "https://example.com"\n')
    host = SimpleNamespace(ip="127.0.0.1", conn=LocalShell())
    hostsfile.remove_mirror_config(host, certs_dir=str(certs))
    assert sorted(p.relative_to(certs).as_posix() for p in certs.rglob("*")) == [
        "docker.io",
        "docker.io/admin-ca.crt",
        "example.com",
        "example.com/hosts.toml",
    ]
    hostsfile.remove_mirror_config(host, certs_dir=str(certs))  # again: nothing to do, no error


def test_sync_waits_boundedly_for_a_registry_that_never_listens():
    port = free_port()
    with pytest.raises(ConnectError, match=f"127.0.0.1:{port} does not accept connections") as err:
        sync.wait_listening(f"127.0.0.1:{port}", timeout=0.5)
    assert "journalctl -u sealkit-registry.service" in str(err.value)


# ------------------------------------------------- issue 14, item 7: nodes hold a pull-only account
def test_hosts_get_the_read_only_instance_and_the_pull_account(tmp_path):
    """The pull instance's htpasswd holds only the pull account, the push instance's only the push account;
    the pull instance is read-only (Distribution ``storage.maintenance.readonly``)."""
    ctx = _ctx(tmp_path)
    files = {
        f.path: f for f in service.service_files(ctx, ctx.hosts["10.213.0.11"], "/usr/bin/docker-registry")
    }
    pull, push = service.registry_info(ctx), service.push_registry_info(ctx)
    pull_cfg = yaml.safe_load(files[service.CONFIG_PATH].content)
    push_cfg = yaml.safe_load(files[service.PUSH_CONFIG_PATH].content)
    assert pull_cfg["storage"]["maintenance"] == {
        "readonly": {"enabled": True},
        "uploadpurging": {"enabled": False},
    }
    assert "maintenance" not in push_cfg["storage"]
    assert pull_cfg["http"]["addr"] == ":5000" and push_cfg["http"]["addr"] == ":5001"
    assert pull_cfg["auth"]["htpasswd"]["path"] == service.HTPASSWD_PATH
    assert push_cfg["auth"]["htpasswd"]["path"] == service.PUSH_HTPASSWD_PATH
    assert pull_cfg["storage"]["filesystem"] == push_cfg["storage"]["filesystem"]  # one storage
    pull_users = [ln.split(":")[0] for ln in files[service.HTPASSWD_PATH].content.decode().splitlines()]
    push_users = [ln.split(":")[0] for ln in files[service.PUSH_HTPASSWD_PATH].content.decode().splitlines()]
    assert pull_users == [pull.username] and push_users == [push.username]
    assert b"config-push.yml" in files[service.PUSH_UNIT_PATH].content


def test_mirror_config_and_sync_use_different_accounts(tmp_path):
    """ops hands hosts the pull account and the controller's sync the push account."""
    from sealkit.engine import ops

    ctx = _ctx(tmp_path)
    got: dict[str, RegistryInfo] = {}
    ctx.pm = SimpleNamespace(
        hook=SimpleNamespace(
            sealkit_sync_images=lambda ctx, registry: got.setdefault("sync", registry),
            sealkit_registry_mirror_config=lambda ctx, host, registry: (
                got.setdefault("mirror", registry) and []
            ),
        )
    )
    ops._sync_images(ctx)
    ops._mirror_config(ctx, "10.213.0.12")
    assert got["mirror"] == service.registry_info(ctx)
    assert got["sync"] == service.push_registry_info(ctx)
    assert got["mirror"].password != got["sync"].password


def test_push_port_must_fit():
    assert service.push_port(5000) == 5001
    with pytest.raises(PluginError, match="push port"):
        service.push_port(65535)


@needs_registry
def test_pull_account_cannot_push_and_push_instance_serves_the_controller(tmp_path):
    """Against the real Distribution registry: two instances over one storage, as sealkit renders them."""
    from tests.lab_registry.local_registry import local_registry_pair

    with local_registry_pair(tmp_path / "pair", registry_binary()) as (pull, push):
        oci = tmp_path / "oci"
        entry = busybox_image(oci, "docker.io/library/busybox:1.36")
        report = sync.sync_layout_dir(oci, push.info, endpoint=push.address)
        assert report.images == ["docker.io/library/busybox:1.36"]
        # what a node can do with its credentials: pull ...
        node = _client(pull, username=pull.info.username, password=pull.info.password)
        _, _, digest = node.get_manifest("library/busybox", "1.36")
        assert digest == entry["digest"]
        # ... but not push: not on the read-only instance, and the push instance does not know the account
        body = b"a layer a hostile node wants masters to run"
        blob = "sha256:" + hashlib.sha256(body).hexdigest()
        with pytest.raises(ImageError, match="HTTP 405"):  # read-only: no write method is routed
            node.upload_blob("library/busybox", blob, len(body), lambda: io.BytesIO(body))
        on_push = _client(push, username=pull.info.username, password=pull.info.password)
        with pytest.raises(ConnectError, match="401"):
            on_push.upload_blob("library/busybox", blob, len(body), lambda: io.BytesIO(body))
        busybox_image(oci, "docker.io/library/busybox:1.36", marker="replaced by a node")
        with pytest.raises(ImageError, match="405"):
            sync.sync_layout_dir(oci, pull.info, endpoint=pull.address)  # a node replacing the image
        assert node.get_manifest("library/busybox", "1.36")[2] == digest
        owner = _client(push, username=push.info.username, password=push.info.password)
        assert not owner.blob_exists("library/busybox", blob)


def test_only_the_push_instance_accepts_deletes():
    import yaml

    rw = yaml.safe_load(service.render_config(port=5001, http_secret="abc123"))
    ro = yaml.safe_load(service.render_config(port=5000, http_secret="abc123", read_only=True))
    assert rw["storage"]["delete"]["enabled"] is True
    assert ro["storage"]["delete"]["enabled"] is False
    assert ro["storage"]["maintenance"]["readonly"]["enabled"] is True


def test_k3s_registries_yaml_mirrors_every_other_registry_through_the_wildcard():
    """An app image of a registry no upstream names (localhost/…) must pull from the embedded
    registry on k3s too: the '*' mirror lists every registry host, in order."""
    parsed = yaml.safe_load(mirrors.k3s_registries_yaml(REG, ["docker.io"], CA))
    assert parsed["mirrors"]["*"] == {"endpoint": ["https://10.213.0.11:5000", "https://10.213.0.12:5000"]}
    assert "*" not in parsed["configs"]  # credentials stay keyed by the hosts k3s contacts
