"""kubeadm plugin: rendered kubeadm/containerd configs and units, the commands its hooks run (no hosts)."""

from __future__ import annotations

import hashlib
import re
import tomllib

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sealkit_kubeadm import certs
from sealkit_kubeadm import plugin as kubeadm

from sealkit.context import RegistryInfo
from sealkit.errors import PluginError, StepFailed
from sealkit.testing.fixtures import make_context

DEBIAN_CONTAINERD = "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3"
HOSTS = kubeadm.HOSTS_FILE
REG = RegistryInfo("sealkit.hub", 5000, ("10.0.0.1",), "sealkit", "s3cret-pw")


def _script(conn, containerd: str = DEBIAN_CONTAINERD) -> None:
    """Answers a real host would give: containerd's version and the current /etc/hosts."""
    conn.answer(r"containerd --version$", 0, containerd)
    made = iter(f"join{n:02d}.{n:016d}" for n in range(100))
    conn.responses.append((r"kubeadm token create ", lambda cmd: (0, next(made) + "\n")))
    conn.responses.append(
        (
            rf"^cat {HOSTS}$",
            lambda cmd: (0, conn.files.get(HOSTS, (b"127.0.0.1 localhost\n", 0))[0].decode()),
        )
    )


def _ctx(tmp_path, masters=("10.0.0.1", "10.0.0.2"), nodes=("10.0.0.3",), version=None, docs=None):
    ctx = make_context(
        kubeadm.Runtime(),
        masters=list(masters),
        nodes=list(nodes),
        state_dir=tmp_path,
        runtime_name="kubeadm",
    )
    if version:
        ctx.image_version = version
    if docs:
        ctx.cluster.documents = docs
    ctx.pki.ensure_ca(certs.CA)  # the CA pin needs it; leaf certificates only where a test needs them
    return ctx


def _docs(text: str) -> dict[str, dict]:
    return {d["kind"]: d for d in yaml.safe_load_all(text)}


def _all_commands(ctx) -> list[str]:
    return [c for h in ctx.hosts.values() for c in h.conn.commands]


def _kubeadm_calls(conn) -> list[str]:
    run = f"{kubeadm.PATH_ENV} {kubeadm.KUBEADM} "
    return [c.split(run, 1)[1] for c in conn.commands if run in c]


def _bring_up(ctx) -> None:
    rt = kubeadm.Runtime()
    for host in ctx.hosts.values():
        _script(host.conn)
        rt.sealkit_prepare_host(ctx=ctx, host=host)
    rt.sealkit_init_cluster(ctx=ctx, host=ctx.first_master)
    for host in ctx.masters[1:]:
        rt.sealkit_join_master(ctx=ctx, host=host)
    for host in ctx.nodes:
        rt.sealkit_join_node(ctx=ctx, host=host)


# --------------------------------------------------------------------------------- kubeadm configs
def test_init_config_for_1_30_is_v1beta3(tmp_path):
    ctx = _ctx(tmp_path)
    docs = _docs(kubeadm.init_config_text(ctx, ctx.first_master))
    assert list(docs) == ["InitConfiguration", "ClusterConfiguration", "KubeletConfiguration"]
    cluster = docs["ClusterConfiguration"]
    assert cluster == {
        "apiVersion": "kubeadm.k8s.io/v1beta3",
        "kind": "ClusterConfiguration",
        "kubernetesVersion": "v1.30.0",
        "controlPlaneEndpoint": "apiserver.cluster.local:6443",
        "certificatesDir": "/etc/kubernetes/pki",
        "imageRepository": "sealkit.hub:5000",
        "dns": {"imageRepository": "sealkit.hub:5000/coredns"},
        "etcd": {"local": {"dataDir": "/var/lib/etcd"}},
        "networking": {
            "podSubnet": "100.64.0.0/10",
            "serviceSubnet": "10.96.0.0/22",
            "dnsDomain": "cluster.local",
        },
        "apiServer": {"certSANs": ["apiserver.cluster.local", "10.103.97.2"]},
        "controllerManager": {"extraArgs": {"cluster-signing-duration": "876000h"}},
    }
    init = docs["InitConfiguration"]
    assert init["localAPIEndpoint"] == {"advertiseAddress": "10.0.0.1", "bindPort": 6443}
    assert init["nodeRegistration"] == {
        "name": "host-0",
        "criSocket": "unix:///run/containerd/containerd.sock",
        "kubeletExtraArgs": {"node-ip": "10.0.0.1"},
    }
    (token,) = init["bootstrapTokens"]
    assert token["token"] == kubeadm.join_token(ctx) and token["ttl"] == "24h0m0s"
    assert docs["KubeletConfiguration"] == {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "cgroupDriver": "systemd",
        "tlsCertFile": "/var/lib/kubelet/pki/kubelet.crt",
        "tlsPrivateKeyFile": "/var/lib/kubelet/pki/kubelet.key",
    }


def test_from_1_31_configs_are_v1beta4_with_structured_args(tmp_path):
    ctx = _ctx(tmp_path, version="v1.31.2")
    docs = _docs(kubeadm.init_config_text(ctx, ctx.first_master))
    assert docs["InitConfiguration"]["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    assert docs["ClusterConfiguration"]["controllerManager"]["extraArgs"] == [
        {"name": "cluster-signing-duration", "value": "876000h"}
    ]
    assert docs["InitConfiguration"]["nodeRegistration"]["kubeletExtraArgs"] == [
        {"name": "node-ip", "value": "10.0.0.1"}
    ]
    join = _docs(kubeadm.join_config_text(ctx, ctx.hosts["10.0.0.3"], "10.103.97.2:6443"))
    assert join["JoinConfiguration"]["apiVersion"] == "kubeadm.k8s.io/v1beta4"


def test_signing_duration_follows_the_cluster_validity(tmp_path):
    ctx = _ctx(tmp_path)
    ctx.cluster.certs.validity_days = 3650
    assert kubeadm.signing_duration(ctx) == "87600h"


def test_masters_only_cluster_leaves_masters_untainted(tmp_path):
    ctx = _ctx(tmp_path, nodes=())
    init = _docs(kubeadm.init_config_text(ctx, ctx.first_master))["InitConfiguration"]
    assert init["nodeRegistration"]["taints"] == []
    with_workers = _ctx(tmp_path / "w")
    reg = _docs(kubeadm.init_config_text(with_workers, with_workers.first_master))
    assert "taints" not in reg["InitConfiguration"]["nodeRegistration"]


def test_ignore_preflight_errors_only_when_the_user_asks(tmp_path):
    ctx = _ctx(tmp_path)
    docs = _docs(kubeadm.init_config_text(ctx, ctx.first_master))
    assert "ignorePreflightErrors" not in docs["InitConfiguration"]["nodeRegistration"]
    ctx.cluster.env = {kubeadm.IGNORE_PREFLIGHT_ENV: "NumCPU, Mem"}
    docs = _docs(kubeadm.init_config_text(ctx, ctx.first_master))
    assert docs["InitConfiguration"]["nodeRegistration"]["ignorePreflightErrors"] == ["NumCPU", "Mem"]


def _spki_hash(ctx) -> str:
    cert = x509.load_pem_x509_certificate(ctx.pki.get_ca("ca").cert_pem)
    der = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()


def test_worker_joins_through_the_ha_endpoint_pinning_our_ca(tmp_path):
    ctx = _ctx(tmp_path)
    join = _docs(kubeadm.join_config_text(ctx, ctx.hosts["10.0.0.3"], "10.103.97.2:6443"))
    cfg = join["JoinConfiguration"]
    assert cfg["discovery"] == {
        "bootstrapToken": {
            "apiServerEndpoint": "10.103.97.2:6443",
            "token": kubeadm.join_token(ctx),
            "caCertHashes": [_spki_hash(ctx)],
        }
    }
    assert "controlPlane" not in cfg
    assert cfg["caCertPath"] == "/etc/kubernetes/pki/ca.crt"


def test_master_joins_as_control_plane_without_certificate_key(tmp_path):
    ctx = _ctx(tmp_path)
    cfg = _docs(kubeadm.join_config_text(ctx, ctx.hosts["10.0.0.2"], "10.0.0.1:6443"))["JoinConfiguration"]
    assert cfg["controlPlane"] == {"localAPIEndpoint": {"advertiseAddress": "10.0.0.2", "bindPort": 6443}}
    assert "certificateKey" not in str(cfg)


def test_token_is_kubeadm_shaped_stable_and_private(tmp_path):
    ctx = _ctx(tmp_path)
    token = kubeadm.join_token(ctx)
    assert re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}", token)
    assert kubeadm.join_token(ctx) == token
    stored = next(tmp_path.rglob("kubeadm-token"))
    assert stored.stat().st_mode & 0o077 == 0


def test_corrupt_stored_token_is_refused(tmp_path):
    ctx = _ctx(tmp_path)
    kubeadm.join_token(ctx)
    next(tmp_path.rglob("kubeadm-token")).write_text("not-a-token\n")
    with pytest.raises(PluginError, match="bootstrap token"):
        kubeadm.join_token(ctx)


def test_user_kubeadm_documents_are_merged_but_cannot_move_sealkit_fields(tmp_path):
    docs = [
        {
            "apiVersion": "kubeadm.k8s.io/v1beta2",
            "kind": "ClusterConfiguration",
            "controlPlaneEndpoint": "elsewhere:9443",
            "networking": {"podSubnet": "192.168.0.0/16"},
            "apiServer": {"certSANs": ["api.example.com"], "extraArgs": {"audit-log-maxage": "30"}},
        },
        {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
         "maxPods": 200, "cgroupDriver": "cgroupfs"},
        {"apiVersion": "apps.sealos.io/v1beta1", "kind": "Config", "spec": {}},
    ]  # fmt: skip
    ctx = _ctx(tmp_path, version="v1.31.0", docs=docs)
    out = _docs(kubeadm.init_config_text(ctx, ctx.first_master))
    cluster = out["ClusterConfiguration"]
    assert cluster["controlPlaneEndpoint"] == "apiserver.cluster.local:6443"
    assert cluster["networking"]["podSubnet"] == "100.64.0.0/10"
    assert cluster["apiServer"]["extraArgs"] == [{"name": "audit-log-maxage", "value": "30"}]
    assert "api.example.com" in cluster["apiServer"]["certSANs"]
    assert out["KubeletConfiguration"]["maxPods"] == 200
    assert out["KubeletConfiguration"]["cgroupDriver"] == "systemd"
    # the user's extra SAN is in the certificate too, or kubeadm would refuse the pre-placed one
    files = {
        f.path: f for f in ctx.pki.render(ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=ctx.first_master))
    }
    cert = x509.load_pem_x509_certificate(files["/etc/kubernetes/pki/apiserver.crt"].content)
    assert "api.example.com" in cert.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName)


# ----------------------------------------------------------------------------------- certificates
def test_preplaced_apiserver_cert_has_every_san_kubeadm_checks(tmp_path):
    """kubeadm refuses an existing apiserver cert missing one of the SANs it would put in."""
    ctx = _ctx(tmp_path)
    cluster = kubeadm.cluster_configuration(ctx)
    for host in ctx.masters:
        layout = ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=host)
        files = {f.path: f for f in ctx.pki.render(layout)}
        cert = x509.load_pem_x509_certificate(files["/etc/kubernetes/pki/apiserver.crt"].content)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = set(san.get_values_for_type(x509.DNSName)) | {
            str(ip) for ip in san.get_values_for_type(x509.IPAddress)
        }
        expected = {
            *cluster["apiServer"]["certSANs"],
            cluster["controlPlaneEndpoint"].rsplit(":", 1)[0],
            host.name,
            host.ip,
            "10.96.0.1",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        }
        assert expected <= names, f"{host.ip}: missing {expected - names}"
        admin = yaml.safe_load(files["/etc/kubernetes/admin.conf"].content)
        assert admin["clusters"][0]["cluster"]["server"] == "https://apiserver.cluster.local:6443"


def test_workers_get_no_ca_file_kubeadm_join_writes_it(tmp_path):
    ctx = _ctx(tmp_path)
    layout = ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=ctx.hosts["10.0.0.3"])
    assert "/etc/kubernetes/pki/ca.crt" not in layout.paths()
    assert "/etc/kubernetes/kubelet.conf" not in layout.paths()


# ---------------------------------------------------------------------------------- whole flows
def test_bring_up_runs_kubeadm_with_config_files_only(tmp_path):
    ctx = _ctx(tmp_path)
    _bring_up(ctx)
    first, second, worker = (ctx.hosts[ip] for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"))
    create = "token create --kubeconfig /etc/kubernetes/admin.conf --ttl 2h0m0s --description"
    assert _kubeadm_calls(first.conn) == [
        "init --config /etc/kubernetes/kubeadm-init.yaml --skip-token-print",
        f"{create} 'sealkit join of host-1'",
        f"{create} 'sealkit join of host-2'",
    ]
    assert _kubeadm_calls(second.conn) == ["join --config /etc/kubernetes/kubeadm-join.yaml"]
    assert _kubeadm_calls(worker.conn) == ["join --config /etc/kubernetes/kubeadm-join.yaml"]
    everything = "\n".join(_all_commands(ctx))
    for flag in ("--upload-certs", "--certificate-key", "--ignore-preflight-errors", "--control-plane"):
        assert flag not in everything
    for cmd in _all_commands(ctx):
        if re.search(rf"{kubeadm.KUBEADM} (init|join|token|reset|upgrade) ", cmd):
            assert cmd.startswith(kubeadm.PATH_ENV + " "), "kubeadm must find kubelet in /usr/local/bin"


def test_secrets_never_in_argv_and_config_files_private(tmp_path):
    ctx = _ctx(tmp_path)
    _bring_up(ctx)
    token = kubeadm.join_token(ctx)
    from sealkit.registry.service import registry_info

    password = registry_info(ctx).password
    join_tokens = [f"join{n:02d}.{n:016d}" for n in range(2)]  # what _script's token create printed
    for cmd in _all_commands(ctx):
        for secret in (token, *join_tokens):
            assert secret not in cmd and secret.split(".")[1] not in cmd
        assert password not in cmd
    for host in ctx.hosts.values():
        name = kubeadm.INIT_CONFIG if host.ip == "10.0.0.1" else kubeadm.JOIN_CONFIG
        content, mode = host.conn.files[name]
        expected = token if host.ip == "10.0.0.1" else join_tokens[int(host.ip[-1]) - 2]
        assert expected.encode() in content and mode == 0o600
        content, mode = host.conn.files[kubeadm.CONTAINERD_CONFIG]
        assert password.encode() in content and mode == 0o600


def test_endpoint_name_resolution_follows_the_join(tmp_path):
    """A joining master bootstraps through the first master, then talks to its own apiserver."""
    ctx = _ctx(tmp_path)
    seen: dict[str, str] = {}
    for host in ctx.hosts.values():
        conn = host.conn

        def at_join(cmd, conn=conn, ip=host.ip):
            seen[ip] = conn.files[HOSTS][0].decode()
            return 0, ""

        conn.responses.append((r"kubeadm (join|init) ", at_join))
    _bring_up(ctx)
    alias = f"{kubeadm.APISERVER_NAME}\n"
    assert f"10.0.0.1 {alias}" in seen["10.0.0.1"]
    assert f"10.0.0.1 {alias}" in seen["10.0.0.2"]
    assert f"10.103.97.2 {alias}" in seen["10.0.0.3"]
    final = {ip: h.conn.files[HOSTS][0].decode() for ip, h in ctx.hosts.items()}
    assert f"10.0.0.2 {alias}" in final["10.0.0.2"]
    assert final["10.0.0.3"].startswith("127.0.0.1 localhost\n")


def test_join_refreshes_the_token_on_a_master_first(tmp_path):
    ctx = _ctx(tmp_path)
    _bring_up(ctx)
    first = ctx.hosts["10.0.0.1"].conn.commands
    creates = [i for i, c in enumerate(first) if "token create" in c]
    registered = [i for i, c in enumerate(first) if "get node host-2" in c]
    assert len(creates) == 2 and creates[-1] < registered[0]


def test_second_prepare_restarts_nothing(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts["10.0.0.3"]
    _script(host.conn)
    kubeadm.Runtime().sealkit_prepare_host(ctx=ctx, host=host)
    first = list(host.conn.commands)
    assert "systemctl restart containerd.service" in first
    kubeadm.Runtime().sealkit_prepare_host(ctx=ctx, host=host)
    again = host.conn.commands[len(first) :]
    assert not any("restart" in c or "daemon-reload" in c for c in again)


def test_prepare_uses_the_images_containerd_when_shipped(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts["10.0.0.3"]
    host.conn.answer(r"for n in containerd ", 0, "containerd\ncontainerd-shim-runc-v2\nrunc\n")
    _script(host.conn, "containerd github.com/containerd/containerd/v2 v2.0.2 c507a0257ea6")
    kubeadm.Runtime().sealkit_prepare_host(ctx=ctx, host=host)
    installs = [c for c in host.conn.commands if c.startswith("test -f /var/lib/sealkit/rootfs/bin/")]
    assert [c.split()[2].rsplit("/", 1)[1] for c in installs] == [
        "containerd", "containerd-shim-runc-v2", "runc", "kubeadm", "kubelet", "kubectl",
    ]  # fmt: skip
    unit = host.conn.files["/etc/systemd/system/containerd.service"][0].decode()
    assert "ExecStart=/usr/local/bin/containerd\n" in unit and kubeadm.MARK in unit
    assert any(c.endswith("/usr/local/bin/containerd --version") for c in host.conn.commands)
    config = tomllib.loads(host.conn.files[kubeadm.CONTAINERD_CONFIG][0].decode())
    assert config["version"] == 3


def test_missing_container_runtime_fails_with_a_fix(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts["10.0.0.3"]
    host.conn.answer(r"for b in containerd containerd-shim-runc-v2 runc", 0, "runc\n")
    _script(host.conn)
    with pytest.raises(StepFailed, match="runc not found") as err:
        kubeadm.Runtime().sealkit_prepare_host(ctx=ctx, host=host)
    assert "bin/" in str(err.value)


def test_half_done_init_is_reset_and_redone(tmp_path, monkeypatch):
    monkeypatch.setattr(kubeadm, "SETTLE_TIMEOUT", 0)
    ctx = _ctx(tmp_path)
    host = ctx.first_master
    _script(host.conn)
    host.conn.answer(r"echo kubelet.conf", 0, "kubelet.conf\nmanifests\n")
    calls = {"readyz": 0}

    def readyz(cmd):
        calls["readyz"] += 1
        return (1, "") if calls["readyz"] == 1 else (0, "ok")

    host.conn.responses.insert(0, (r"get --raw=/readyz", readyz))
    host.conn.files.clear()  # kubeadm reset deletes the certificates: they must be put back
    kubeadm.Runtime().sealkit_init_cluster(ctx=ctx, host=host)
    calls_ = _kubeadm_calls(host.conn)
    assert calls_[0] == (
        "reset -f --cri-socket unix:///run/containerd/containerd.sock --skip-phases=remove-etcd-member"
    )
    assert calls_[1].startswith("init --config ")
    assert "/etc/kubernetes/pki/ca.key" in host.conn.files
    assert host.conn.files["/etc/kubernetes/pki/ca.key"][1] == 0o600


def test_completed_init_is_not_repeated(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.first_master
    _script(host.conn)
    host.conn.answer(r"echo kubelet.conf", 0, "kubelet.conf\nmanifests\netcd-data\n")
    kubeadm.Runtime().sealkit_init_cluster(ctx=ctx, host=host)
    assert _kubeadm_calls(host.conn) == []


def test_half_joined_master_leaves_etcd_before_rejoining(tmp_path, monkeypatch):
    monkeypatch.setattr(kubeadm, "SETTLE_TIMEOUT", 0)
    ctx = _ctx(tmp_path)
    first, second = ctx.hosts["10.0.0.1"], ctx.hosts["10.0.0.2"]
    _script(second.conn)
    _script(first.conn)
    second.conn.answer(r"echo kubelet.conf", 0, "manifests\netcd-data\n")
    first.conn.answer(
        r"member list$",
        0,
        "8e9e05c52164694d, started, host-0, https://10.0.0.1:2380, https://10.0.0.1:2379, false\n"
        "2f1d7c3b2a1e0f99, unstarted, , https://10.0.0.2:2380, , true\n",
    )
    kubeadm.Runtime().sealkit_join_master(ctx=ctx, host=second)
    assert any("member remove 2f1d7c3b2a1e0f99 " in c for c in first.conn.commands)
    calls = _kubeadm_calls(second.conn)
    assert calls[0].startswith("reset -f ") and calls[1] == "join --config /etc/kubernetes/kubeadm-join.yaml"


# ---------------------------------------------------------------------------------- delete, reset
def test_drain_worker_from_a_master(tmp_path):
    ctx = _ctx(tmp_path)
    kubeadm.Runtime().sealkit_drain_host(ctx=ctx, host=ctx.hosts["10.0.0.3"])
    (cmd,) = ctx.hosts["10.0.0.1"].conn.commands
    assert "drain host-2 --ignore-daemonsets --delete-emptydir-data --force --timeout=120s" in cmd
    assert "delete node host-2 --ignore-not-found" in cmd
    assert not ctx.hosts["10.0.0.3"].conn.commands


@pytest.mark.parametrize("etcdctl_on_host", [False, True])
def test_drain_first_master_runs_on_another_and_removes_its_etcd_member(tmp_path, etcdctl_on_host):
    ctx = _ctx(tmp_path)
    first, second = ctx.hosts["10.0.0.1"], ctx.hosts["10.0.0.2"]
    first.facts["removed"] = True
    second.conn.answer(r"^test -x /usr/local/bin/etcdctl$", 0 if etcdctl_on_host else 1, "")
    second.conn.answer(
        r"member list$",
        0,
        "8e9e05c52164694d, started, host-0, https://10.0.0.1:2380, https://10.0.0.1:2379, false\n"
        "91bc3c398fb3c146, started, host-1, https://10.0.0.2:2380, https://10.0.0.2:2379, false\n",
    )
    kubeadm.Runtime().sealkit_drain_host(ctx=ctx, host=first)
    cmds = [c for c in second.conn.commands if not c.startswith("test -x")]
    assert "drain host-0 " in cmds[0]
    if etcdctl_on_host:  # the image shipped etcdctl: straight to the staying master's etcd
        assert cmds[1].startswith("ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints=https://127.0.0.1:2379")
    else:  # etcdctl only exists in the etcd pod
        assert "exec etcd-host-1 -- etcdctl --endpoints=https://127.0.0.1:2379" in cmds[1]
    assert "member remove 8e9e05c52164694d " in cmds[2]  # retried while etcd calls itself unhealthy
    assert not first.conn.commands


def test_reset_runs_kubeadm_reset_then_removes_what_it_leaves(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts["10.0.0.2"]
    _script(host.conn)
    other = "127.0.0.1 localhost\n10.0.0.9 db\n"
    host.conn.files[HOSTS] = (
        f"{other}{kubeadm.HOSTS_BEGIN}\n10.0.0.2 {kubeadm.APISERVER_NAME}\n{kubeadm.HOSTS_END}\n".encode(),
        0o644,
    )
    # prepare recorded: no etcd dir, an empty CNI dir
    host.conn.answer(r"^cat /var/lib/sealkit/prior/kubeadm\.paths", 0, "p0=absent\np1=empty 755 0 0\n")
    kubeadm.Runtime().sealkit_reset_host(ctx=ctx, host=host)
    cmds = host.conn.commands
    assert (
        f"{kubeadm.KUBEADM} reset -f --cri-socket unix:///run/containerd/containerd.sock "
        "--skip-phases=remove-etcd-member" in cmds[0]
    )
    joined = "\n".join(cmds)
    for leftover in (
        "/etc/kubernetes", "/var/lib/kubelet", "/var/lib/etcd", "/etc/cni/net.d", "/var/lib/cni",
        "/etc/systemd/system/kubelet.service", "kubelet.service.d", kubeadm.SYSCTL_FILE,
        "/usr/local/bin/kubeadm", "/usr/local/bin/kubelet", "/usr/local/bin/kubectl",
        "KUBE-", "cni0", kubeadm.CONTAINERD_BACKUP,
    ):  # fmt: skip
        assert leftover in joined, leftover
    assert host.conn.files[HOSTS][0].decode() == other
    for cmd in cmds:  # the host's own containerd keeps its data (removed only when we made it)
        if "rm -rf /var/lib/containerd" in cmd:
            assert "grep -qxF absent=/var/lib/containerd" in cmd, cmd


def test_reset_removes_the_containerd_it_installed(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts["10.0.0.3"]
    host.conn.answer(r"containerd.service && echo ours", 0, "ours\n")
    kubeadm.Runtime().sealkit_reset_host(ctx=ctx, host=host)
    joined = "\n".join(host.conn.commands)
    assert "systemctl disable --now containerd.service" in joined
    assert "/var/lib/containerd" in joined and "/usr/local/bin/containerd-shim-runc-v2" in joined


def test_failed_kubeadm_reset_still_cleans_up_then_reports(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts["10.0.0.3"]
    host.conn.answer(r"kubeadm reset -f", 1, "")
    with pytest.raises(StepFailed, match="kubeadm reset failed") as err:
        kubeadm.Runtime().sealkit_reset_host(ctx=ctx, host=host)
    assert err.value.host == "10.0.0.3"
    assert any("rm -f /usr/local/bin/kubeadm" in c for c in host.conn.commands)


# ---------------------------------------------------------------------------------------- upgrade
def test_upgrade_keeps_certificates_first_master_applies_others_follow(tmp_path):
    ctx = _ctx(tmp_path, version="v1.31.0")
    rt = kubeadm.Runtime()
    for host in ctx.hosts.values():
        _script(host.conn)
        host.conn.answer(r"kubelet \|\| \{", 0, "new")
        rt.sealkit_upgrade_host(ctx=ctx, host=host, from_version="v1.30.0", to_version="v1.31.0")
    assert _kubeadm_calls(ctx.hosts["10.0.0.1"].conn) == [
        "upgrade apply v1.31.0 --certificate-renewal=false --yes"
    ]
    for ip in ("10.0.0.2", "10.0.0.3"):
        assert _kubeadm_calls(ctx.hosts[ip].conn) == ["upgrade node --certificate-renewal=false"]
    cmds = ctx.hosts["10.0.0.3"].conn.commands
    order = [
        next(i for i, c in enumerate(cmds) if "bin/kubeadm ||" in c),
        next(i for i, c in enumerate(cmds) if "upgrade node" in c),
        next(i for i, c in enumerate(cmds) if "bin/kubelet ||" in c),
        cmds.index("systemctl restart kubelet.service"),
    ]
    assert order == sorted(order)
    waits = [c for c in ctx.hosts["10.0.0.1"].conn.commands if "kubeletVersion" in c]
    assert any("get node host-2 " in c and "v1\\.31\\.0([+-]|$)" in c for c in waits)


# ------------------------------------------------------------------------------ kubeconfig, status
def test_kubeconfig_points_at_the_first_master(tmp_path):
    ctx = _ctx(tmp_path)
    admin = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubernetes", "cluster": {"server": "https://apiserver.cluster.local:6443"}}],
        "users": [{"name": "kubernetes-admin", "user": {"client-key-data": "S0VZ"}}],
    }
    ctx.first_master.conn.answer(r"^cat /etc/kubernetes/admin.conf$", 0, yaml.safe_dump(admin))
    out = yaml.safe_load(kubeadm.Runtime().sealkit_get_kubeconfig(ctx=ctx))
    assert out["clusters"][0]["cluster"]["server"] == "https://10.0.0.1:6443"
    assert out["users"] == admin["users"]


def test_runtime_version_from_kubelet(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts["10.0.0.3"]
    host.conn.answer(r"kubelet --version$", 0, "Kubernetes v1.30.4\n")
    assert kubeadm.Runtime().sealkit_runtime_version(ctx=ctx, host=host) == "v1.30.4"
    other = ctx.hosts["10.0.0.2"]
    other.conn.answer(r"kubelet --version$", 127, "")
    assert kubeadm.Runtime().sealkit_runtime_version(ctx=ctx, host=other) is None


def test_restart_after_certs_cycles_static_pods_on_masters_only(tmp_path):
    ctx = _ctx(tmp_path)
    rt = kubeadm.Runtime()
    master, worker = ctx.hosts["10.0.0.2"], ctx.hosts["10.0.0.3"]
    rt.sealkit_restart_after_certs(ctx=ctx, host=master)
    cmds = master.conn.commands
    assert f'mv -f "$f" {kubeadm.MANIFESTS_PARKED}/' in cmds[0]
    assert "ss -Hltn" in cmds[1] and "6443|2379|2380|10257|10259" in cmds[1]
    assert f'mv -f "$f" {kubeadm.MANIFESTS}/' in cmds[2]
    assert cmds[3] == "systemctl restart kubelet.service"
    assert "get --raw=/readyz" in cmds[4] and "--server https://10.0.0.2:6443" in cmds[4]
    rt.sealkit_restart_after_certs(ctx=ctx, host=worker)
    assert worker.conn.commands == ["systemctl restart kubelet.service"]


def test_runtime_info(tmp_path):
    info = kubeadm.Runtime().sealkit_runtime_info()
    assert info.default_ha == "haproxy"
    assert info.binaries == ("kubeadm", "kubelet", "kubectl")
    assert info.master_ports == (6443, 2379, 2380, 10250, 10257, 10259) and info.node_ports == (10250,)


def test_preflight(tmp_path):
    ctx = _ctx(tmp_path)
    rt = kubeadm.Runtime()
    host = ctx.hosts["10.0.0.3"]
    assert rt.sealkit_preflight(ctx=ctx, host=host) == []
    host.conn.answer(r"for b in containerd runc", 0, "missing:containerd\n")
    ctx.cluster.ha.port = 7443
    problems = rt.sealkit_preflight(ctx=ctx, host=host)
    assert len(problems) == 2
    assert "spec.ha.port" in problems[0] and "containerd is not installed" in problems[1]


def test_mirror_config_covers_kubernetes_registries(tmp_path):
    ctx = _ctx(tmp_path)
    files = kubeadm.Runtime().sealkit_registry_mirror_config(
        ctx=ctx, host=ctx.hosts["10.0.0.3"], registry=REG
    )
    paths = {f.path for f in files}
    for name in ("registry.k8s.io", "docker.io", "sealkit.hub:5000", "_default"):
        assert f"/etc/containerd/certs.d/{name}/hosts.toml" in paths


# ------------------------------------------------------------------------------------ pure pieces
def test_containerd_config_for_1x_and_2x():
    one = tomllib.loads(kubeadm.containerd_config(REG, 1, "sealkit.hub:5000/pause:3.9"))
    cri = one["plugins"]["io.containerd.grpc.v1.cri"]
    assert one["version"] == 2 and cri["sandbox_image"] == "sealkit.hub:5000/pause:3.9"
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    assert cri["registry"]["config_path"] == "/etc/containerd/certs.d"
    assert cri["registry"]["configs"]["sealkit.hub:5000"]["auth"]["password"] == "s3cret-pw"
    two = tomllib.loads(kubeadm.containerd_config(REG, 2, "sealkit.hub:5000/pause:3.10"))
    assert two["version"] == 3
    images = two["plugins"]["io.containerd.cri.v1.images"]
    assert images["pinned_images"]["sandbox"] == "sealkit.hub:5000/pause:3.10"
    assert images["registry"]["config_path"] == "/etc/containerd/certs.d"
    runc = two["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]["runc"]
    assert runc["options"]["SystemdCgroup"] is True


@pytest.mark.parametrize(
    ("output", "major"),
    [
        (DEBIAN_CONTAINERD, 1),
        ("containerd containerd.io 1.7.24 88bf19b2105c8b17560993bee28a01ddc2f97182", 1),
        ("containerd github.com/containerd/containerd/v2 v2.0.2 c507a0257ea6", 2),
    ],
)
def test_containerd_major(output, major):
    assert kubeadm.containerd_major(output) == major


def test_containerd_major_refuses_garbage():
    with pytest.raises(StepFailed):
        kubeadm.containerd_major("bash: containerd: command not found")


def test_pause_tag_prefers_what_the_image_ships():
    assert kubeadm.pause_tag("v1.30.4") == "3.9"
    assert kubeadm.pause_tag("v1.31.0") == "3.10"
    shipped = ["registry.k8s.io/pause:3.8", "registry.k8s.io/pause:3.10", "docker.io/library/busybox:1.36"]
    assert kubeadm.pause_tag("v1.30.4", shipped) == "3.10"


def test_versions():
    assert kubeadm.kube_version("1.30.4") == "v1.30.4"
    assert kubeadm.kubeadm_api("v1.30.9") == "kubeadm.k8s.io/v1beta3"
    assert kubeadm.kubeadm_api("v1.31.0") == "kubeadm.k8s.io/v1beta4"
    with pytest.raises(PluginError):
        kubeadm.kube_version("latest")


def test_hosts_alias_block():
    base = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n"
    once = kubeadm.hosts_with_alias(base, "10.0.0.1")
    assert once == f"{base}{kubeadm.HOSTS_BEGIN}\n10.0.0.1 apiserver.cluster.local\n{kubeadm.HOSTS_END}\n"
    moved = kubeadm.hosts_with_alias(once + "10.0.0.9 db", "10.0.0.2")
    assert moved.startswith(base + "10.0.0.9 db\n") and "10.0.0.1 apiserver" not in moved
    assert kubeadm.hosts_with_alias(once, None) == base
    assert kubeadm.hosts_with_alias(base, None) == base
    with pytest.raises(PluginError, match="without"):
        kubeadm.hosts_with_alias(f"{base}{kubeadm.HOSTS_BEGIN}\n1.2.3.4 x\n", "10.0.0.1")


def test_etcd_member_id():
    listing = (
        "8e9e05c52164694d, started, m1, https://10.0.0.1:2380, https://10.0.0.1:2379, false\n"
        "aa11, started, m2, https://[fd00::2]:2380,https://10.0.0.2:2380, https://10.0.0.2:2379, false\n"
    )
    assert kubeadm.etcd_member_id(listing, "m1", "10.9.9.9") == "8e9e05c52164694d"
    assert kubeadm.etcd_member_id(listing, "other", "fd00::2") == "aa11"
    assert kubeadm.etcd_member_id(listing, "m3", "10.0.0.3") is None


def test_units_are_the_official_ones_with_our_paths():
    unit = kubeadm.kubelet_unit()
    assert "ExecStart=/usr/local/bin/kubelet\n" in unit and "Restart=always" in unit
    dropin = kubeadm.kubelet_dropin()
    assert "EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env" in dropin
    assert "--config=/var/lib/kubelet/config.yaml" in dropin
    assert "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf" in dropin
    assert dropin.rstrip().endswith(
        "ExecStart=/usr/local/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS "
        "$KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS"
    )
    assert "\nExecStart=\n" in dropin
