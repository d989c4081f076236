"""binary plugin: rendered units and configs, the etcd join state machine, and the commands its
hooks run, over recording connections (no machines)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field

import pytest
import yaml
from sealkit_binary import certs
from sealkit_binary import plugin as binary

from sealkit.errors import PluginError, StepFailed
from sealkit.testing.fixtures import make_context

M1, M2, M3, W1 = "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"
PKI = certs.PKI


def _ctx(tmp_path, masters=(M1, M2, M3), nodes=(W1,)):
    return make_context(
        binary.Runtime(),
        masters=list(masters),
        nodes=list(nodes),
        state_dir=tmp_path,
        runtime_name="binary",
    )


def _paths(ctx, ip):
    return binary.paths_of(binary.cert_layout(ctx.layout_input(ctx.hosts[ip])))


def _flags(argv: list[str]) -> dict[str, str]:
    return dict(a[2:].split("=", 1) for a in argv)


def _exec_start(unit: str) -> list[str]:
    line = unit.split("ExecStart=", 1)[1].split("\nRestart=", 1)[0]
    return [w for w in re.split(r"\s+\\\n\s+|\s+", line.strip()) if w]


# ------------------------------------------------------------------------------ certificate layout
def test_masters_node_components_use_their_own_apiserver(tmp_path):
    ctx = _ctx(tmp_path)
    layout = binary.cert_layout(ctx.layout_input(ctx.hosts[M2]))
    servers = {k.path: k.server for k in layout.kubeconfigs}
    assert servers[f"{certs.CONF}/kubelet.conf"] == "https://10.0.0.2:6443"
    assert servers[f"{certs.CONF}/kube-proxy.conf"] == "https://10.0.0.2:6443"
    assert servers[f"{certs.CONF}/controller-manager.conf"] == "https://10.0.0.2:6443"
    assert servers[f"{certs.CONF}/admin.conf"] == "https://10.103.97.2:6443"


def test_workers_reach_apiservers_through_the_ha_endpoint(tmp_path):
    ctx = _ctx(tmp_path)
    layout = ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=ctx.hosts[W1])
    servers = {k.path: k.server for k in layout.kubeconfigs}
    assert servers == {
        f"{certs.CONF}/kubelet.conf": ctx.endpoint().url(),
        f"{certs.CONF}/kube-proxy.conf": ctx.endpoint().url(),
    }
    assert ctx.endpoint().url() == "https://10.103.97.2:6443"


def test_every_file_the_units_name_is_in_the_layout(tmp_path):
    ctx = _ctx(tmp_path)
    for ip in (M1, W1):
        host = ctx.hosts[ip]
        layout = binary.cert_layout(ctx.layout_input(host))
        shipped = set(layout.paths())
        paths = binary.paths_of(layout)
        argv = binary.kubelet_flags(host, paths)
        cfg = binary.kubelet_config(ctx, host, paths)
        named = {
            _flags(argv)["kubeconfig"],
            cfg["tlsCertFile"],
            cfg["tlsPrivateKeyFile"],
            cfg["authentication"]["x509"]["clientCAFile"],  # type: ignore[index]
            binary.kube_proxy_config(ctx, host, paths)["clientConnection"]["kubeconfig"],  # type: ignore[index]
        }
        if host.is_master:
            for argv in (
                binary.apiserver_flags(ctx, host, paths),
                binary.controller_manager_flags(ctx, paths),
                binary.scheduler_flags(paths),
                binary.etcd_flags(host.name, host.ip, paths),
            ):
                named |= {v for v in _flags(argv).values() if v.startswith("/etc/kubernetes/")}
            named |= {binary.ETCDCTL_CERT, binary.ETCDCTL_KEY, certs.ETCD_CA.cert_path}
        missing = named - shipped
        assert not missing, f"{ip}: units name files the PKI does not write: {missing}"


def test_workers_get_no_cluster_secrets(tmp_path):
    ctx = _ctx(tmp_path)
    shipped = set(binary.cert_layout(ctx.layout_input(ctx.hosts[W1])).paths())
    assert f"{PKI}/ca.key" not in shipped and f"{PKI}/sa.key" not in shipped


# ------------------------------------------------------------------------------------------ etcd
def test_etcd_flags_exact(tmp_path):
    ctx = _ctx(tmp_path)
    assert binary.etcd_flags("host-1", M2, _paths(ctx, M2)) == [
        "--advertise-client-urls=https://10.0.0.2:2379",
        f"--cert-file={PKI}/etcd/server.crt",
        "--client-cert-auth=true",
        "--data-dir=/var/lib/etcd",
        "--initial-advertise-peer-urls=https://10.0.0.2:2380",
        f"--key-file={PKI}/etcd/server.key",
        "--listen-client-urls=https://127.0.0.1:2379,https://10.0.0.2:2379",
        "--listen-metrics-urls=http://127.0.0.1:2381",
        "--listen-peer-urls=https://10.0.0.2:2380",
        "--logger=zap",
        "--name=host-1",
        f"--peer-cert-file={PKI}/etcd/peer.crt",
        "--peer-client-cert-auth=true",
        f"--peer-key-file={PKI}/etcd/peer.key",
        f"--peer-trusted-ca-file={PKI}/etcd/ca.crt",
        "--snapshot-count=10000",
        f"--trusted-ca-file={PKI}/etcd/ca.crt",
    ]


def test_etcd_unit_is_notify_and_reads_bootstrap_env(tmp_path):
    ctx = _ctx(tmp_path)
    unit = binary.etcd_unit("host-0", M1, _paths(ctx, M1), "amd64")
    assert "Type=notify" in unit
    assert f"EnvironmentFile={binary.ETCD_ENV_FILE}" in unit
    assert "ETCD_UNSUPPORTED_ARCH" not in unit
    assert _exec_start(unit)[0] == "/usr/local/bin/etcd"
    assert "initial-cluster" not in unit.replace("initial-advertise", "")
    arm = binary.etcd_unit("host-0", M1, _paths(ctx, M1), "arm64")
    assert "Environment=ETCD_UNSUPPORTED_ARCH=arm64" in arm


def test_etcd_bootstrap_env():
    env = binary.etcd_bootstrap_env(
        [("host-0", "https://10.0.0.1:2380"), ("host-1", "https://10.0.0.2:2380")],
        "existing",
        "tok",
    )
    lines = [line for line in env.splitlines() if not line.startswith("#")]
    assert lines == [
        "ETCD_INITIAL_CLUSTER=host-0=https://10.0.0.1:2380,host-1=https://10.0.0.2:2380",
        "ETCD_INITIAL_CLUSTER_STATE=existing",
        "ETCD_INITIAL_CLUSTER_TOKEN=tok",
    ]
    with pytest.raises(PluginError):
        binary.etcd_bootstrap_env([("a", "https://x:2380")], "maybe", "tok")
    with pytest.raises(PluginError):
        binary.etcd_bootstrap_env([], "new", "tok")


# real `etcdctl member list -w simple` output of etcd 3.4.23 (a learner that has just been added)
MEMBER_LIST = (
    "a854351089f2b69b, started, m1, https://127.0.0.2:2380, https://127.0.0.2:2379, false\n"
    "d04d7259e262e0d8, unstarted, , https://127.0.0.3:2380, , true\n"
)


def test_parse_member_list():
    a, b = binary.parse_member_list(MEMBER_LIST)
    assert a == binary.Member(
        "a854351089f2b69b",
        True,
        "m1",
        ("https://127.0.0.2:2380",),
        ("https://127.0.0.2:2379",),
        False,
    )
    assert (b.started, b.name, b.client_urls, b.learner) == (False, "", (), True)
    with pytest.raises(StepFailed):
        binary.parse_member_list("Error: context deadline exceeded")


def _m(i, url, started=True, learner=False, name=None):
    return binary.Member(
        f"{i:x}",
        started,
        name if name is not None else (f"n{i}" if started else ""),
        (url,),
        (),
        learner,
    )


ME = "https://10.0.0.2:2380"
A = "https://10.0.0.1:2380"
C = "https://10.0.0.3:2380"


@pytest.mark.parametrize(
    ("members", "has_data", "want"),
    [
        # fresh join
        ([_m(1, A)], False, binary.JoinPlan(add=True)),
        # stale data of an earlier life, member gone: wipe and add
        ([_m(1, A)], True, binary.JoinPlan(wipe_data=True, add=True)),
        # added, start failed: wipe what the failed start left, start again (no second add)
        ([_m(1, A), _m(2, ME, started=False, learner=True)], True, binary.JoinPlan(wipe_data=True)),
        ([_m(1, A), _m(2, ME, started=False, learner=True)], False, binary.JoinPlan()),
        # running member with its data: nothing to change
        ([_m(1, A), _m(2, ME)], True, binary.JoinPlan()),
        # member started once but the host lost its data: remove, add again
        ([_m(1, A), _m(2, ME)], False, binary.JoinPlan(remove=("2",), add=True)),
        # another host's failed join: unstarted member removed, started learner promoted
        (
            [_m(1, A), _m(3, C, started=False, learner=True)],
            False,
            binary.JoinPlan(remove=("3",), add=True),
        ),
        (
            [_m(1, A), _m(3, C, learner=True)],
            False,
            binary.JoinPlan(add=True, promote_others=("3",)),
        ),
    ],
)
def test_plan_etcd_join(members, has_data, want):
    assert binary.plan_etcd_join(members, ME, has_data) == want


def test_initial_cluster_matches_membership():
    members = [
        _m(1, A, name="host-0"),
        _m(2, ME, started=False, learner=True),
        _m(3, C, name="host-2"),
    ]
    assert binary.initial_cluster(members, "host-1", ME) == [
        ("host-0", A),
        ("host-1", ME),
        ("host-2", C),
    ]
    with pytest.raises(StepFailed, match="never started"):
        binary.initial_cluster([_m(1, A), _m(3, C, started=False)], "host-1", ME)


# ---------------------------------------------------------------------------- control plane
def test_apiserver_flags(tmp_path):
    ctx = _ctx(tmp_path)
    f = _flags(binary.apiserver_flags(ctx, ctx.hosts[M2], _paths(ctx, M2)))
    assert f["etcd-servers"] == ("https://10.0.0.2:2379,https://10.0.0.1:2379,https://10.0.0.3:2379")
    assert f["etcd-cafile"] == f"{PKI}/etcd/ca.crt"
    assert f["etcd-certfile"] == f"{PKI}/apiserver-etcd-client.crt"
    assert f["client-ca-file"] == f"{PKI}/ca.crt"
    assert (f["tls-cert-file"], f["tls-private-key-file"]) == (
        f"{PKI}/apiserver.crt",
        f"{PKI}/apiserver.key",
    )
    assert f["service-account-key-file"] == f"{PKI}/sa.pub"
    assert f["service-account-signing-key-file"] == f"{PKI}/sa.key"
    assert f["service-account-issuer"] == "https://kubernetes.default.svc.cluster.local"
    assert f["service-cluster-ip-range"] == ctx.cluster.network.service_cidr
    assert f["kubelet-client-certificate"] == f"{PKI}/apiserver-kubelet-client.crt"
    assert f["requestheader-client-ca-file"] == f"{PKI}/front-proxy-ca.crt"
    assert f["requestheader-allowed-names"] == "front-proxy-client"
    assert f["proxy-client-cert-file"] == f"{PKI}/front-proxy-client.crt"
    assert (f["advertise-address"], f["secure-port"]) == (M2, "6443")
    assert f["authorization-mode"] == "Node,RBAC"


def test_removed_master_leaves_etcd_servers(tmp_path):
    ctx = _ctx(tmp_path)
    ctx.hosts[M3].facts["removed"] = True
    f = _flags(binary.apiserver_flags(ctx, ctx.hosts[M1], _paths(ctx, M1)))
    assert f["etcd-servers"] == "https://10.0.0.1:2379,https://10.0.0.2:2379"


def test_controller_manager_and_scheduler_flags(tmp_path):
    ctx = _ctx(tmp_path)
    paths = _paths(ctx, M1)
    cm = _flags(binary.controller_manager_flags(ctx, paths))
    assert cm["cluster-signing-cert-file"] == f"{PKI}/ca.crt"
    assert cm["cluster-signing-key-file"] == f"{PKI}/ca.key"
    assert cm["cluster-signing-duration"] == "876000h"  # 100 years, like our own leaves
    assert cm["service-account-private-key-file"] == f"{PKI}/sa.key"
    assert cm["root-ca-file"] == f"{PKI}/ca.crt"
    assert (cm["cluster-cidr"], cm["allocate-node-cidrs"]) == (ctx.cluster.network.pod_cidr, "true")
    assert cm["kubeconfig"] == f"{certs.CONF}/controller-manager.conf"
    assert cm["leader-elect"] == "true"
    sched = _flags(binary.scheduler_flags(paths))
    assert sched == {
        "authentication-kubeconfig": f"{certs.CONF}/scheduler.conf",
        "authorization-kubeconfig": f"{certs.CONF}/scheduler.conf",
        "bind-address": "127.0.0.1",
        "kubeconfig": f"{certs.CONF}/scheduler.conf",
        "leader-elect": "true",
    }


# -------------------------------------------------------------------------------- node parts
def test_kubelet_config_and_flags(tmp_path):
    ctx = _ctx(tmp_path)
    master, worker = ctx.hosts[M1], ctx.hosts[W1]
    cfg = binary.kubelet_config(ctx, worker, _paths(ctx, W1))
    assert cfg["apiVersion"] == "kubelet.config.k8s.io/v1beta1"
    assert cfg["kind"] == "KubeletConfiguration"
    assert cfg["rotateCertificates"] is False
    assert cfg["authentication"] == {
        "anonymous": {"enabled": False},
        "webhook": {"enabled": True},
        "x509": {"clientCAFile": f"{PKI}/ca.crt"},
    }
    assert cfg["authorization"] == {"mode": "Webhook"}
    assert cfg["clusterDNS"] == ["10.96.0.10"]
    assert cfg["clusterDomain"] == "cluster.local"
    assert (cfg["tlsCertFile"], cfg["tlsPrivateKeyFile"]) == (
        f"{PKI}/kubelet.crt",
        f"{PKI}/kubelet.key",
    )
    assert "registerWithTaints" not in cfg and "resolvConf" not in cfg
    mcfg = binary.kubelet_config(ctx, master, _paths(ctx, M1), resolv_conf="/run/x.conf")
    assert mcfg["registerWithTaints"] == [
        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
    ]
    assert mcfg["resolvConf"] == "/run/x.conf"
    assert _flags(binary.kubelet_flags(worker, _paths(ctx, W1))) == {
        "config": "/var/lib/kubelet/config.yaml",
        "container-runtime-endpoint": "unix:///run/containerd/containerd.sock",
        "hostname-override": "host-3",
        "kubeconfig": f"{certs.CONF}/kubelet.conf",
        "node-ip": W1,
    }


def test_master_with_node_role_is_schedulable(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts[M1]
    host.spec.roles.append("node")
    assert "registerWithTaints" not in binary.kubelet_config(ctx, host, _paths(ctx, M1))


def test_kube_proxy_config(tmp_path):
    ctx = _ctx(tmp_path)
    cfg = binary.kube_proxy_config(ctx, ctx.hosts[W1], _paths(ctx, W1))
    assert cfg == {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "bindAddress": "0.0.0.0",
        "clientConnection": {"kubeconfig": f"{certs.CONF}/kube-proxy.conf"},
        "clusterCIDR": ctx.cluster.network.pod_cidr,
        "hostnameOverride": "host-3",
        "mode": "iptables",
    }
    unit = binary.node_units(ctx.hosts[W1], _paths(ctx, W1))[binary.KUBE_PROXY_UNIT]
    assert _exec_start(unit) == [
        "/usr/local/bin/kube-proxy",
        "--config=/var/lib/kube-proxy/config.yaml",
    ]


def test_cluster_dns_ip():
    assert binary.cluster_dns_ip("10.96.0.0/22") == "10.96.0.10"
    assert binary.cluster_dns_ip("10.100.0.0/16,fd00::/108") == "10.100.0.10"
    with pytest.raises(PluginError):
        binary.cluster_dns_ip("10.0.0.0/29")


# ------------------------------------------------------------------- the contract fakes agree
def test_command_lines_parse_with_the_contract_fakes(tmp_path):
    """Every flag we pass exists in the fakes' copy of the real flag tables (unknown → error)."""
    fakelib = pytest.importorskip("tests.fakes.fakelib")
    fakeapi = pytest.importorskip("tests.fakes.fakeapi")
    comps = pytest.importorskip("tests.fakes.fake_components")
    kubelet = pytest.importorskip("tests.fakes.fake_kubelet")
    ctx = _ctx(tmp_path)
    master = ctx.hosts[M1]
    paths = _paths(ctx, M1)
    units = {**binary.control_plane_units(ctx, master, paths), **binary.node_units(master, paths)}
    tables = {
        binary.APISERVER_UNIT: fakeapi.KUBE_APISERVER_FLAGS,
        binary.CONTROLLER_MANAGER_UNIT: comps.KUBE_CONTROLLER_MANAGER_FLAGS,
        binary.SCHEDULER_UNIT: comps.KUBE_SCHEDULER_FLAGS,
        binary.KUBELET_UNIT: kubelet.KUBELET_FLAGS,
        binary.KUBE_PROXY_UNIT: comps.KUBE_PROXY_FLAGS,
    }
    for unit, table in tables.items():
        argv = _exec_start(units[unit])[1:]
        fakelib.FlagSet(table).parse_pflag(argv)  # raises FlagError on an unknown flag


# ----------------------------------------------------------------------------- units, containerd
def test_unit_text_escapes_and_refuses():
    text = binary.unit_text(
        description="x", documentation="https://d", exec_start=["/bin/x", "--a=50%", "--b=$HOME"]
    )
    assert "ExecStart=/bin/x \\\n  --a=50%% \\\n  --b=$$HOME\n" in text
    assert "Restart=always" in text and "WantedBy=multi-user.target" in text
    for bad in ("--a=b c", "--a='x'", "--a=x;y", ""):
        with pytest.raises(PluginError):
            binary.systemd_arg(bad)


def _registry():
    from sealkit.context import RegistryInfo

    return RegistryInfo("sealkit.hub", 5000, (M1,), "sealkit", "s3cr3t-pw", b"")


@pytest.mark.parametrize(("major", "cri"), [(1, "io.containerd.grpc.v1.cri"), (2, None)])
def test_containerd_config(major, cri):
    text = binary.containerd_config(_registry(), major=major)
    doc = tomllib.loads(text)
    plugins = doc["plugins"]
    if major == 1:
        assert doc["version"] == 2
        runc = plugins[cri]["containerd"]["runtimes"]["runc"]
        registry = plugins[cri]["registry"]
        assert plugins[cri]["containerd"]["snapshotter"] == "overlayfs"
    else:
        assert doc["version"] == 3
        runc = plugins["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]["runc"]
        registry = plugins["io.containerd.cri.v1.images"]["registry"]
    assert runc["runtime_type"] == "io.containerd.runc.v2"
    assert runc["options"]["SystemdCgroup"] is True  # matches the kubelet's cgroupDriver
    assert registry["config_path"] == "/etc/containerd/certs.d"
    assert registry["configs"]["sealkit.hub:5000"]["auth"]["password"] == "s3cr3t-pw"
    assert text.startswith(binary.HEADER)


def test_containerd_major():
    assert binary.containerd_major("containerd github.com/containerd/containerd 1.6.20~ds1 x") == 1
    assert binary.containerd_major("containerd github.com/containerd/containerd/v2 v2.0.2 abc") == 2
    with pytest.raises(StepFailed):
        binary.containerd_major("containerd: command not found")


def test_mirror_config_is_containerd_hosts_files(tmp_path):
    ctx = _ctx(tmp_path)
    files = ctx.pm.hook.sealkit_registry_mirror_config(ctx=ctx, host=ctx.hosts[W1], registry=_registry())
    paths = {f.path for f in files}
    assert "/etc/containerd/certs.d/docker.io/hosts.toml" in paths
    assert "/etc/containerd/certs.d/sealkit.hub:5000/hosts.toml" in paths
    assert not any(b"s3cr3t-pw" in f.content for f in files)


# ------------------------------------------------------------------------------------ preflight
def test_preflight_problems():
    ok = binary.preflight_problems(
        {"swap": "0", "containerd": "/usr/bin/containerd"},
        is_master=True,
        token="t",
        image_has_containerd=False,
    )
    assert ok == []
    swap = binary.preflight_problems({"swap": "1"}, is_master=False, token="", image_has_containerd=None)
    assert len(swap) == 1 and "swap" in swap[0]
    for token, host_token in (("", ""), ("t", "other")):
        stale = binary.preflight_problems(
            {"etcd_data": "1", "token": host_token},
            is_master=True,
            token=token,
            image_has_containerd=True,
        )
        assert len(stale) == 1 and "/var/lib/etcd" in stale[0]
    ours = binary.preflight_problems(
        {"etcd_data": "1", "token": "t"}, is_master=True, token="t", image_has_containerd=True
    )
    assert ours == []
    none = binary.preflight_problems({}, is_master=False, token="", image_has_containerd=False)
    assert len(none) == 1 and "containerd" in none[0]


def test_preflight_does_not_create_cluster_state(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts[M1]
    host.conn.answer(r"swap=", 0, "swap=0\netcd_data=1\ntoken=\ncontainerd=/usr/bin/containerd\n")
    problems = ctx.pm.hook.sealkit_preflight(ctx=ctx, host=host)
    assert any("/var/lib/etcd" in p for lst in problems for p in lst)
    assert not (tmp_path / "clusters" / "test" / "binary").exists()


def test_etcd_cluster_token_is_made_once(tmp_path):
    ctx = _ctx(tmp_path)
    token = binary.etcd_cluster_token(ctx)
    assert token.startswith("sealkit-") and binary.etcd_cluster_token(ctx) == token
    assert binary.existing_etcd_cluster_token(ctx) == token


# ------------------------------------------------------------------------------------- prepare
def test_prepare_uses_the_hosts_containerd_and_writes_secrets_privately(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts[W1]
    host.conn.answer(r"command -v containerd", 0, "host=/usr/bin/containerd\n")
    host.conn.answer(r"/usr/bin/containerd --version", 0, "containerd x 1.6.20~ds1 y\n")
    ctx.pm.hook.sealkit_prepare_host(ctx=ctx, host=host)
    content, mode = host.conn.files[binary.CONTAINERD_CONFIG]
    assert mode == 0o600
    from sealkit.registry.service import credentials, pull_credentials

    password = pull_credentials(ctx).password  # hosts hold the read-only pull account
    assert password.encode() in content
    assert credentials(ctx).password.encode() not in content  # never the push account
    assert not any(password in c for c in host.conn.commands)
    joined = "\n".join(host.conn.commands)
    assert binary.CONTAINERD_CONFIG_BACKUP in joined  # the host's own config is kept once
    assert "systemctl enable containerd.service" in joined
    assert f"{binary.STATE_DIR}/containerd-from-image" not in host.conn.files
    assert binary.CONTAINERD_UNIT not in "".join(host.conn.files)  # the host's unit is untouched
    installs = [c for c in host.conn.commands if "install -D -m 0755" in c]
    assert len(installs) == len(binary.NODE_BINARIES)


def test_prepare_installs_the_images_containerd_when_the_host_has_none(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts[W1]
    host.conn.answer(r"command -v containerd", 0, "host=\nimage=1\n")
    host.conn.answer(r"for b in containerd", 0, "containerd\ncontainerd-shim-runc-v2\nrunc\n")
    host.conn.answer(r"/usr/local/bin/containerd --version", 0, "containerd x v1.7.13 y\n")
    ctx.pm.hook.sealkit_prepare_host(ctx=ctx, host=host)
    assert host.conn.files[binary.CONTAINERD_MARKER][0] == b"containerd\ncontainerd-shim-runc-v2\nrunc\n"
    unit = host.conn.files["/etc/systemd/system/containerd.service"][0].decode()
    assert "ExecStart=/usr/local/bin/containerd\n" in unit and "Delegate=yes" in unit


def test_prepare_fails_without_any_containerd(tmp_path):
    ctx = _ctx(tmp_path)
    with pytest.raises(StepFailed, match="no containerd"):
        ctx.pm.hook.sealkit_prepare_host(ctx=ctx, host=ctx.hosts[W1])


# --------------------------------------------------------------------- a simulated etcd cluster
@dataclass
class FakeEtcd:
    """etcdctl's view of a cluster, answering the commands the plugin runs (by regex)."""

    members: list[binary.Member] = field(default_factory=list)
    started_on_start: bool = True
    calls: list[str] = field(default_factory=list)
    next_id: int = 0x100

    def answer(self, cmd: str) -> tuple[int, str]:
        self.calls.append(cmd)
        if m := re.search(r"member promote ([0-9a-f]+)", cmd):
            self.members = [replace_m(x, learner=False) if x.id == m.group(1) else x for x in self.members]
            return 0, ""
        if m := re.search(r"member add (\S+) --peer-urls=(\S+) --learner", cmd):
            self.members.append(binary.Member(f"{self.next_id:x}", False, "", (m.group(2),), (), True))
            self.next_id += 1
            return 0, f"Member {self.next_id - 1:x} added\n"
        if m := re.search(r"member remove ([0-9a-f]+)", cmd):
            self.members = [x for x in self.members if x.id != m.group(1)]
            return 0, ""
        if "member list" in cmd:
            return 0, "".join(
                f"{x.id}, {'started' if x.started else 'unstarted'}, {x.name}, "
                f"{','.join(x.peer_urls)}, {','.join(x.client_urls)}, {str(x.learner).lower()}\n"
                for x in self.members
            )
        return 0, ""

    def start(self, name: str, url: str) -> tuple[int, str]:
        self.members = [
            replace_m(x, started=True, name=name) if url in x.peer_urls else x for x in self.members
        ]
        return 0, ""


def replace_m(member, **kw):
    from dataclasses import replace

    return replace(member, **kw)


def _with_etcd(ctx, etcd: FakeEtcd) -> None:
    for ip in ctx.hosts:
        host = ctx.hosts[ip]
        host.conn.responses.insert(0, (r"etcdctl .*member ", etcd.answer))
        host.conn.responses.insert(
            0,
            (
                r"systemctl (start|restart) kube-etcd\.service",
                lambda cmd, h=host: etcd.start(h.name, binary.peer_url(h.ip)),
            ),
        )


def test_init_bootstraps_a_one_member_etcd_then_the_control_plane(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.first_master
    ctx.pm.hook.sealkit_init_cluster(ctx=ctx, host=host)
    env = host.conn.files[binary.ETCD_ENV_FILE][0].decode()
    assert "ETCD_INITIAL_CLUSTER=host-0=https://10.0.0.1:2380\n" in env
    assert "ETCD_INITIAL_CLUSTER_STATE=new\n" in env
    assert f"ETCD_INITIAL_CLUSTER_TOKEN={binary.etcd_cluster_token(ctx)}\n" in env
    cmds = host.conn.commands

    def first(pattern: str) -> int:
        return next(i for i, c in enumerate(cmds) if re.search(pattern, c))

    assert first(r"restart kube-etcd.service") < first(r"etcdctl .*endpoint health")
    assert first(r"endpoint health") < first(r"restart kube-apiserver.service")
    assert first(r"restart kube-apiserver") < first(r"get --raw=/readyz")
    assert first(r"readyz") < first(r"restart kube-controller-manager")
    assert first(r"restart kube-scheduler") < first(r"restart kubelet.service")
    assert first(r"get node host-0 -o name") < first(
        r"label node host-0 node-role.kubernetes.io/control-plane="
    )
    assert "--kubeconfig=/etc/kubernetes/admin.conf --server=https://10.0.0.1:6443" in cmds[first("readyz")]
    for path in (binary.KUBELET_CONFIG, binary.KUBE_PROXY_CONFIG):
        assert yaml.safe_load(host.conn.files[path][0])["kind"]


def test_second_init_changes_nothing(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.first_master
    ctx.pm.hook.sealkit_init_cluster(ctx=ctx, host=host)
    n = len(host.conn.commands)
    ctx.pm.hook.sealkit_init_cluster(ctx=ctx, host=host)
    again = host.conn.commands[n:]
    assert not any("restart" in c or "daemon-reload" in c for c in again)


def test_join_master_adds_a_learner_starts_existing_and_promotes(tmp_path):
    ctx = _ctx(tmp_path)
    etcd = FakeEtcd([binary.Member("aa", True, "host-0", (A,), ("https://10.0.0.1:2379",), False)])
    _with_etcd(ctx, etcd)
    joiner = ctx.hosts[M2]
    ctx.pm.hook.sealkit_join_master(ctx=ctx, host=joiner)
    first = ctx.first_master.conn.commands
    assert any("member add host-1 --peer-urls=https://10.0.0.2:2380 --learner" in c for c in first), (
        "member add runs on a healthy member"
    )
    assert not any("member add" in c for c in joiner.conn.commands)
    env = joiner.conn.files[binary.ETCD_ENV_FILE][0].decode()
    assert "ETCD_INITIAL_CLUSTER=host-0=https://10.0.0.1:2380,host-1=https://10.0.0.2:2380\n" in env
    assert "ETCD_INITIAL_CLUSTER_STATE=existing\n" in env
    assert any("member promote 100" in c for c in first)
    (me,) = [m for m in etcd.members if ME in m.peer_urls]
    assert me.started and not me.learner
    assert any("endpoint health" in c for c in joiner.conn.commands)
    # the new master's apiserver talks to its own etcd first
    unit = joiner.conn.files["/etc/systemd/system/kube-apiserver.service"][0].decode()
    assert "--etcd-servers=https://10.0.0.2:2379,https://10.0.0.1:2379,https://10.0.0.3:2379" in unit


def test_join_master_rerun_after_success_adds_nothing(tmp_path):
    ctx = _ctx(tmp_path)
    etcd = FakeEtcd([binary.Member("aa", True, "host-0", (A,), (), False)])
    _with_etcd(ctx, etcd)
    joiner = ctx.hosts[M2]
    ctx.pm.hook.sealkit_join_master(ctx=ctx, host=joiner)
    joiner.conn.answer(r"/var/lib/etcd/member \]; then echo data=1", 0, "data=1\n")
    n_first = len(ctx.first_master.conn.commands)
    n_joiner = len(joiner.conn.commands)
    ctx.pm.hook.sealkit_join_master(ctx=ctx, host=joiner)
    assert not any(
        "member add" in c or "member remove" in c for c in ctx.first_master.conn.commands[n_first:]
    )
    assert not any("restart" in c or "rm -rf" in c for c in joiner.conn.commands[n_joiner:])
    assert len(etcd.members) == 2


def test_join_master_removes_a_stale_unstarted_member_first(tmp_path):
    ctx = _ctx(tmp_path)
    etcd = FakeEtcd(
        [
            binary.Member("aa", True, "host-0", (A,), (), False),
            binary.Member("cc", False, "", (C,), (), True),
        ]
    )
    _with_etcd(ctx, etcd)
    ctx.pm.hook.sealkit_join_master(ctx=ctx, host=ctx.hosts[M2])
    cmds = ctx.first_master.conn.commands
    remove = next(i for i, c in enumerate(cmds) if "member remove cc" in c)
    add = next(i for i, c in enumerate(cmds) if "member add" in c)
    assert remove < add
    assert {u for m in etcd.members for u in m.peer_urls} == {A, ME}


def test_join_node_waits_for_its_node_on_a_master(tmp_path):
    ctx = _ctx(tmp_path)
    node = ctx.hosts[W1]
    ctx.pm.hook.sealkit_join_node(ctx=ctx, host=node)
    assert any("get node host-3 -o name" in c for c in ctx.first_master.conn.commands)
    unit = node.conn.files["/etc/systemd/system/kubelet.service"][0].decode()
    assert "--kubeconfig=/etc/kubernetes/kubelet.conf" in unit
    assert "After=network-online.target containerd.service" in unit
    assert not any("etcd" in p for p in node.conn.files)
    assert not any("kube-apiserver" in c for c in node.conn.commands)


def test_drain_master_leaves_etcd_from_a_master_that_stays(tmp_path):
    ctx = _ctx(tmp_path)
    etcd = FakeEtcd(
        [
            binary.Member("aa", True, "host-0", (A,), (), False),
            binary.Member("bb", True, "host-1", (ME,), (), False),
            binary.Member("cc", True, "host-2", (C,), (), False),
        ]
    )
    _with_etcd(ctx, etcd)
    gone = ctx.hosts[M1]  # even the first master can go: another one acts
    gone.facts["removed"] = True
    ctx.pm.hook.sealkit_drain_host(ctx=ctx, host=gone)
    stays = ctx.hosts[M2].conn.commands
    assert any("drain host-0 --ignore-daemonsets --delete-emptydir-data" in c for c in stays)
    assert any("delete node host-0 --ignore-not-found" in c for c in stays)
    assert any("member remove aa" in c for c in stays)
    assert gone.conn.commands == []
    assert {m.id for m in etcd.members} == {"bb", "cc"}


def test_drain_worker_does_not_touch_etcd(tmp_path):
    ctx = _ctx(tmp_path)
    ctx.hosts[W1].facts["removed"] = True
    ctx.pm.hook.sealkit_drain_host(ctx=ctx, host=ctx.hosts[W1])
    assert not any("etcdctl" in c for c in ctx.first_master.conn.commands)


def test_reset_removes_everything_it_placed(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts[M1]
    binary.Runtime().sealkit_reset_host(ctx=ctx, host=host)
    joined = "\n".join(host.conn.commands)
    for unit in (*binary.CONTROL_PLANE_UNITS, *binary.NODE_UNITS, binary.ETCD_UNIT):
        assert f"systemctl disable --now {unit}" in joined
    for path in binary.RESET_PATHS:
        assert path in joined
    for name in binary.MASTER_BINARIES:
        assert f"/usr/local/bin/{name} " in joined + " "
    assert "kube-proxy --cleanup" in joined
    assert "ctr -n k8s.io" in joined
    assert binary.CONTAINERD_CONFIG_BACKUP in joined  # the host's containerd gets its config back
    for cmd in host.conn.commands:  # ...and keeps its data (removed only when our start made it)
        if "rm -rf /var/lib/containerd" in cmd:
            assert "grep -qxF absent=/var/lib/containerd" in cmd, cmd


def test_reset_removes_an_image_containerd_entirely(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts[W1]
    host.conn.answer(r"cat /var/lib/sealkit/binary/containerd-from-image", 0, "containerd\nrunc\nctr\n")
    binary.Runtime().sealkit_reset_host(ctx=ctx, host=host)
    joined = "\n".join(host.conn.commands)
    assert "/var/lib/containerd" in joined and "/etc/containerd" in joined
    assert "/usr/local/bin/containerd " in joined and "/usr/local/bin/runc " in joined
    assert "/usr/local/bin/containerd-shim-runc-v2" not in joined  # not placed, not removed
    assert "/usr/local/bin/ctr -n k8s.io" in joined


def test_upgrade_restarts_in_order(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts[M2]
    ctx.pm.hook.sealkit_join_master  # noqa: B018 - hook exists
    host.conn.answer(r"install -D -m 0755", 0, "new\n")
    ok = ctx.pm.hook.sealkit_upgrade_host(ctx=ctx, host=host, from_version="v1.30.0", to_version="v1.31.1")
    assert ok is True
    cmds = host.conn.commands
    order = [
        next(i for i, c in enumerate(cmds) if re.search(rf"restart {u}", c))
        for u in (
            "kube-etcd.service",
            "kube-apiserver.service",
            "kube-controller-manager.service",
            "kube-scheduler.service",
            "kubelet.service",
            "kube-proxy.service",
        )
    ]
    assert order == sorted(order)
    assert any("kubeletVersion" in c and "v1\\.31\\.1([+-]|$)" in c for c in cmds)


def test_upgrade_worker_with_same_binaries_restarts_nothing(tmp_path):
    ctx = _ctx(tmp_path)
    node = ctx.hosts[W1]
    ctx.pm.hook.sealkit_join_node(ctx=ctx, host=node)
    n = len(node.conn.commands)
    ctx.pm.hook.sealkit_upgrade_host(ctx=ctx, host=node, from_version="v1.30.0", to_version="v1.30.0")
    assert not any("restart" in c for c in node.conn.commands[n:])


def test_get_kubeconfig_points_at_the_first_master(tmp_path):
    ctx = _ctx(tmp_path)
    admin = yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kubernetes", "cluster": {"server": "https://10.103.97.2:6443"}}],
            "users": [{"name": "kubernetes-admin", "user": {"client-key-data": "c2VjcmV0"}}],
        }
    )
    ctx.first_master.conn.answer(r"cat /etc/kubernetes/admin.conf", 0, admin)
    doc = yaml.safe_load(ctx.pm.hook.sealkit_get_kubeconfig(ctx=ctx))
    assert doc["clusters"][0]["cluster"]["server"] == "https://10.0.0.1:6443"
    assert doc["users"][0]["user"]["client-key-data"] == "c2VjcmV0"


def test_runtime_version_from_kubelet(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts[W1]
    host.conn.answer(r"kubelet --version", 0, "Kubernetes v1.30.4\n")
    assert ctx.pm.hook.sealkit_runtime_version(ctx=ctx, host=host) == "v1.30.4"
    other = ctx.hosts[M1]
    other.conn.answer(r"kubelet --version", 127, "")
    assert ctx.pm.hook.sealkit_runtime_version(ctx=ctx, host=other) is None


def test_restart_after_certs_order(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts[M1]
    ctx.pm.hook.sealkit_restart_after_certs(ctx=ctx, host=host)
    restarted = [m.group(1) for c in host.conn.commands if (m := re.search(r"systemctl restart (\S+)", c))]
    assert restarted == [
        "kube-etcd.service",
        "kube-apiserver.service",
        "kube-controller-manager.service",
        "kube-scheduler.service",
        "kubelet.service",
        "kube-proxy.service",
    ]


def test_runtime_info():
    info = binary.Runtime().sealkit_runtime_info()
    assert info.name == "binary" and info.default_ha == "haproxy"
    assert set(info.binaries) == set(binary.MASTER_BINARIES)
    assert {2379, 2380, 6443, 10250} <= set(info.master_ports)


def test_prepare_refuses_a_containerd_without_runc(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts[W1]
    host.conn.answer(r"command -v containerd", 0, "host=/usr/bin/containerd\n")
    host.conn.answer(r"/usr/bin/containerd --version", 0, "containerd x 1.6.20~ds1 y\n")
    host.conn.answer(r"for b in runc containerd-shim-runc-v2", 0, "missing=runc\n")
    with pytest.raises(StepFailed, match="no runc"):
        ctx.pm.hook.sealkit_prepare_host(ctx=ctx, host=host)


STUB_ETCDCTL = """#!/bin/sh
case "$*" in
  *"member remove"*|*"member promote"*) exit 1;;
  *"member list"*) [ -n "$LISTFAIL" ] && exit 1; echo "$LIST";;
esac
"""


@pytest.mark.parametrize(
    ("which", "env", "done"),
    [
        ("remove", {"LIST": "abc, started, n, u, c, false"}, False),
        ("remove", {"LIST": "def, started, n, u, c, false"}, True),
        ("remove", {"LISTFAIL": "1"}, False),  # etcd down is not "removed"
        ("promote", {"LIST": "abc, started, n, u, c, true"}, False),
        ("promote", {"LIST": "abc, started, n, u, c, false"}, True),
        ("promote", {"LIST": "def, started, n, u, c, false"}, False),
        ("promote", {"LISTFAIL": "1"}, False),
    ],
)
def test_membership_polls_decide_in_shell(tmp_path, which, env, done):
    """The retried remove/promote commands exit 0 only when etcd really got there."""
    import subprocess

    from sealkit.testing.recording import RecordingConnection

    stub = tmp_path / "etcdctl"
    stub.write_text(STUB_ETCDCTL)
    stub.chmod(0o755)

    class Host:
        conn = RecordingConnection("10.0.0.1")
        ip = name = "10.0.0.1"

    runtime = binary.Runtime()
    (runtime._remove_member if which == "remove" else runtime._promote)(Host, "abc")
    cmd = Host.conn.commands[0].replace("/usr/local/bin/etcdctl", str(stub))
    rc = subprocess.run(["sh", "-c", cmd], env=env, check=False).returncode
    assert (rc == 0) is done
