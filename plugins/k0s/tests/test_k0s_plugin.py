"""k0s plugin: rendered k0s.yaml, install/join/token commands, drain, reset, upgrade (no machines)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml
from sealkit_k0s import plugin as k0s

from sealkit.errors import StepFailed
from sealkit.testing.fixtures import make_context

TOKEN = "H4sIAAAAAAAC/0yRzY6bMBDG7/MUvmd3xdcm20g9VOqhUqteeqvUw2BPiIOxkT0Q8vYVEEirk"


NEWEST = "v1.36.3+k0s.2"


def _ctx(tmp_path, masters=("10.0.0.1", "10.0.0.2", "10.0.0.3"), nodes=("10.0.0.4",), version=NEWEST):
    ctx = make_context(
        k0s.Runtime(), masters=list(masters), nodes=list(nodes), state_dir=tmp_path, runtime_name="k0s"
    )
    ctx.image_version = version
    ctx.image_labels = {**ctx.image_labels, "sealkit.io/version": version}
    return ctx


def _fresh(host) -> None:
    """Script a host on which k0s never joined (k0s's markers and our token file are absent)."""
    host.conn.answer(r"test -s /var/lib/k0s/(kubelet\.conf|pki/ca\.key)", 1)


def _give_tokens(ctx) -> None:
    ctx.first_master.conn.answer(r"k0s token create", 0, TOKEN + "\n")


# ---------------------------------------------------------------------------------- k0s.yaml
def test_controller_config_targets_k0s_clusterconfig(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts["10.0.0.2"]
    cfg = k0s.cluster_config(ctx, host)
    assert cfg["apiVersion"] == "k0s.k0sproject.io/v1beta1"
    assert cfg["kind"] == "ClusterConfig"
    spec = cfg["spec"]
    assert spec["api"]["address"] == "10.0.0.2"
    assert spec["api"]["port"] == 6443 and spec["api"]["k0sApiPort"] == 9443
    assert {"10.0.0.2", "host-1", ctx.endpoint().host} <= set(spec["api"]["sans"])
    assert spec["storage"] == {
        "type": "etcd",
        "etcd": {
            "peerAddress": "10.0.0.2",
            "ca": {"expiresAfter": "876000h", "certificatesExpireAfter": "876000h"},
        },
    }
    net = spec["network"]
    assert net["podCIDR"] == ctx.cluster.network.pod_cidr
    assert net["serviceCIDR"] == ctx.cluster.network.service_cidr
    assert net["clusterDomain"] == ctx.cluster.network.dns_domain
    assert net["nodeLocalLoadBalancing"] == {"enabled": True, "type": "EnvoyProxy"}
    # node-local load balancing requires no external address
    assert "externalAddress" not in spec["api"]
    assert spec["telemetry"] == {"enabled": False}


def test_leaves_live_as_long_as_the_clusterfile_says(tmp_path):
    ctx = _ctx(tmp_path)
    ctx.cluster.certs = replace(ctx.cluster.certs, validity_days=3650, ca_validity_days=7300)
    spec = k0s.cluster_config(ctx, ctx.first_master)["spec"]
    for ca in (spec["api"]["ca"], spec["storage"]["etcd"]["ca"]):
        assert ca == {"expiresAfter": "175200h", "certificatesExpireAfter": "87600h"}


def test_extra_sans_reach_the_apiserver_certificate(tmp_path):
    ctx = _ctx(tmp_path)
    ctx.cluster.certs = replace(ctx.cluster.certs, extra_sans=["api.example.com", "192.0.2.10"])
    sans = k0s.cluster_config(ctx, ctx.first_master)["spec"]["api"]["sans"]
    assert "api.example.com" in sans and "192.0.2.10" in sans
    assert sans == sorted(set(sans))


def test_rendered_config_is_yaml_with_a_header(tmp_path):
    ctx = _ctx(tmp_path)
    text = k0s.render_config(k0s.cluster_config(ctx, ctx.first_master))
    assert text.startswith("# written by sealkit")
    assert yaml.safe_load(text)["kind"] == "ClusterConfig"


def test_containerd_major_follows_the_k0s_release():
    assert k0s.containerd_major("v1.30.4+k0s.0") == 1
    assert k0s.containerd_major("v1.35.1") == 1
    assert k0s.containerd_major("v1.36.0+k0s.0") == 2
    assert k0s.containerd_major("") == 1


# ----------------------------------------------------------------------------- install lines
def test_install_lines(tmp_path):
    ctx = _ctx(tmp_path)
    first, second, worker = (ctx.hosts[ip] for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.4"))
    assert k0s.install_command(ctx, first, role="controller", join=False) == (
        "/usr/local/bin/k0s install controller --force --config=/etc/k0s/k0s.yaml "
        "--enable-worker --kubelet-extra-args=--node-ip=10.0.0.1"
    )
    assert k0s.install_command(ctx, second, role="controller", join=True) == (
        "/usr/local/bin/k0s install controller --force --config=/etc/k0s/k0s.yaml "
        "--enable-worker --token-file=/var/lib/sealkit/k0s/join-token "
        "--kubelet-extra-args=--node-ip=10.0.0.2"
    )
    assert k0s.install_command(ctx, worker, role="worker", join=True) == (
        "/usr/local/bin/k0s install worker --force --token-file=/var/lib/sealkit/k0s/join-token "
        "--kubelet-extra-args=--node-ip=10.0.0.4"
    )


def test_masters_are_tainted_unless_schedulable(tmp_path):
    ctx = _ctx(tmp_path)
    line = k0s.install_command(ctx, ctx.first_master, role="controller", join=False)
    assert "--no-taints" not in line
    alone = _ctx(tmp_path / "alone", masters=("10.0.0.1",), nodes=())
    assert "--no-taints" in k0s.install_command(alone, alone.first_master, role="controller", join=False)
    ctx.first_master.spec.roles.append("node")
    assert "--no-taints" in k0s.install_command(ctx, ctx.first_master, role="controller", join=False)


# -------------------------------------------------------------------------------------- boot
def test_init_installs_and_starts_the_first_controller(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.first_master
    assert ctx.pm.hook.sealkit_init_cluster(ctx=ctx, host=host) is True
    cmds = host.conn.commands
    install = cmds.index(k0s.install_command(ctx, host, role="controller", join=False))
    restart = cmds.index("systemctl restart k0scontroller.service")
    ready = cmds.index("/usr/local/bin/k0s kubectl get --raw=/readyz")
    assert install < restart < ready
    assert not any("token create" in c for c in cmds), "the first controller needs no token"
    content, mode = host.conn.files[k0s.CONFIG]
    assert mode == 0o600 and yaml.safe_load(content)["spec"]["api"]["address"] == "10.0.0.1"


def test_init_twice_does_not_reinstall_or_restart(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.first_master
    ctx.pm.hook.sealkit_init_cluster(ctx=ctx, host=host)
    before = len(host.conn.commands)
    ctx.pm.hook.sealkit_init_cluster(ctx=ctx, host=host)
    again = host.conn.commands[before:]
    assert not any("k0s install" in c or "restart" in c or "daemon-reload" in c for c in again)
    assert "systemctl start k0scontroller.service" in again


def test_join_master_uses_a_controller_token_from_the_first_master(tmp_path):
    ctx = _ctx(tmp_path)
    _give_tokens(ctx)
    host = ctx.hosts["10.0.0.2"]
    _fresh(host)
    assert ctx.pm.hook.sealkit_join_master(ctx=ctx, host=host) is True
    assert "/usr/local/bin/k0s token create --role=controller --expiry=1h" in (ctx.first_master.conn.commands)
    assert host.conn.files[k0s.TOKEN_FILE] == (TOKEN.encode(), 0o600)
    assert k0s.install_command(ctx, host, role="controller", join=True) in host.conn.commands
    assert "systemctl restart k0scontroller.service" in host.conn.commands
    assert "/usr/local/bin/k0s kubectl get --raw=/readyz" in host.conn.commands
    assert "/usr/local/bin/k0s kubectl get node host-1 -o name" in ctx.first_master.conn.commands


def test_join_node_uses_a_worker_token(tmp_path):
    ctx = _ctx(tmp_path)
    _give_tokens(ctx)
    host = ctx.hosts["10.0.0.4"]
    _fresh(host)
    ctx.pm.hook.sealkit_join_node(ctx=ctx, host=host)
    assert "/usr/local/bin/k0s token create --role=worker --expiry=1h" in (ctx.first_master.conn.commands)
    assert host.conn.files[k0s.TOKEN_FILE] == (TOKEN.encode(), 0o600)
    assert k0s.install_command(ctx, host, role="worker", join=True) in host.conn.commands
    assert "systemctl restart k0sworker.service" in host.conn.commands
    assert k0s.CONFIG not in host.conn.files, "workers take their config from the cluster"


def test_token_never_in_argv(tmp_path):
    ctx = _ctx(tmp_path)
    _give_tokens(ctx)
    for ip in ("10.0.0.2", "10.0.0.4"):
        _fresh(ctx.hosts[ip])
    ctx.pm.hook.sealkit_join_master(ctx=ctx, host=ctx.hosts["10.0.0.2"])
    ctx.pm.hook.sealkit_join_node(ctx=ctx, host=ctx.hosts["10.0.0.4"])
    for host in ctx.hosts.values():
        assert not any(TOKEN in c for c in host.conn.commands), host.ip


def test_a_joined_node_gets_no_new_token_and_no_reinstall(tmp_path):
    ctx = _ctx(tmp_path)
    _give_tokens(ctx)
    host = ctx.hosts["10.0.0.4"]
    ctx.pm.hook.sealkit_join_node(ctx=ctx, host=host)  # markers present: joined before
    ctx.pm.hook.sealkit_join_node(ctx=ctx, host=host)
    assert not any("token create" in c for c in ctx.first_master.conn.commands)
    assert k0s.TOKEN_FILE not in host.conn.files
    assert host.conn.commands.count(k0s.install_command(ctx, host, role="worker", join=True)) == 1
    assert "systemctl start k0sworker.service" in host.conn.commands


def test_an_empty_token_is_refused(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts["10.0.0.4"]
    _fresh(host)
    with pytest.raises(StepFailed, match="printed no token"):
        ctx.pm.hook.sealkit_join_node(ctx=ctx, host=host)
    assert not any("k0s install" in c for c in host.conn.commands)


def test_a_failed_install_is_retried_on_the_next_run(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.first_master
    host.conn.answer(r"k0s install controller", 1)
    with pytest.raises(StepFailed):
        ctx.pm.hook.sealkit_init_cluster(ctx=ctx, host=host)
    assert host.conn.commands[-1] == f"rm -f {k0s.ARGS_FILE}"


# ------------------------------------------------------------------------------------- certs
def test_only_the_first_controller_gets_the_cluster_ca_pair(tmp_path):
    ctx = _ctx(tmp_path)
    pki = "/var/lib/k0s/pki"
    first = set(ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=ctx.first_master).paths())
    joiner = set(ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=ctx.hosts["10.0.0.2"]).paths())
    worker = ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=ctx.hosts["10.0.0.4"]).paths()
    assert {f"{pki}/ca.crt", f"{pki}/ca.key"} <= first
    # k0s takes a controller with ca.crt + ca.key for one that already joined
    assert not joiner & {f"{pki}/ca.crt", f"{pki}/ca.key"}
    assert {f"{pki}/etcd/ca.crt", f"{pki}/front-proxy-ca.crt", f"{pki}/sa.key"} <= joiner
    assert worker == []


def test_joining_controller_layout_still_names_the_cluster_ca(tmp_path):
    ctx = _ctx(tmp_path)
    layout = ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=ctx.hosts["10.0.0.2"])
    assert "ca" in {ca.name for ca in layout.cas}
    files = ctx.pki.render(layout)
    assert files and all(f.path.startswith("/var/lib/k0s/pki/") for f in files)


def test_new_sans_rewrite_k0s_yaml_on_installed_controllers_only(tmp_path):
    ctx = _ctx(tmp_path)
    master, fresh, worker = ctx.first_master, ctx.hosts["10.0.0.2"], ctx.hosts["10.0.0.4"]
    fresh.conn.answer(r"test -s /etc/k0s/k0s.yaml", 1)
    # what init wrote on the installed controller
    master.conn.put(k0s.render_config(k0s.cluster_config(ctx, master)).encode(), k0s.CONFIG, mode=0o600)
    assert ctx.pm.hook.sealkit_update_cert_config(ctx=ctx, host=master) == [False]
    ctx.cluster.certs = replace(ctx.cluster.certs, extra_sans=["new.example.com"])
    assert ctx.pm.hook.sealkit_update_cert_config(ctx=ctx, host=master) == [True]
    assert ctx.pm.hook.sealkit_update_cert_config(ctx=ctx, host=fresh) == [False]
    assert ctx.pm.hook.sealkit_update_cert_config(ctx=ctx, host=worker) == [False]
    sans = yaml.safe_load(master.conn.files[k0s.CONFIG][0])["spec"]["api"]["sans"]
    assert "new.example.com" in sans
    assert k0s.CONFIG not in fresh.conn.files and worker.conn.files == {}


def test_restart_after_certs_restarts_controllers_only(tmp_path):
    ctx = _ctx(tmp_path)
    master, worker = ctx.first_master, ctx.hosts["10.0.0.4"]
    ctx.pm.hook.sealkit_restart_after_certs(ctx=ctx, host=master)
    ctx.pm.hook.sealkit_restart_after_certs(ctx=ctx, host=worker)
    assert "systemctl restart k0scontroller.service" in master.conn.commands
    assert worker.conn.commands == []


# ------------------------------------------------------------------------------------ mirrors
def test_mirror_files_live_under_etc_k0s(tmp_path):
    from sealkit.context import RegistryInfo

    ctx = _ctx(tmp_path, version="v1.35.7+k0s.0")  # containerd 1.7 (k0s embedded-bins/Makefile.variables)
    reg = RegistryInfo("sealkit.hub", 5000, ("10.0.0.1",), "sealkit", "s3cret")
    files = ctx.pm.hook.sealkit_registry_mirror_config(ctx=ctx, host=ctx.first_master, registry=reg)
    assert all(f.path.startswith("/etc/k0s/") for f in files)
    dropin = next(f for f in files if f.path.startswith("/etc/k0s/containerd.d/"))
    assert dropin.mode == 0o600
    assert b'config_path = "/etc/k0s/certs.d"' in dropin.content
    assert b"version = 2" in dropin.content
    ctx.image_version = "v1.36.0"
    files = ctx.pm.hook.sealkit_registry_mirror_config(ctx=ctx, host=ctx.first_master, registry=reg)
    assert b"version = 3" in next(f for f in files if "containerd.d" in f.path).content


# -------------------------------------------------------------------------- drain and reset
def test_drain_worker_runs_on_a_master_that_stays(tmp_path):
    ctx = _ctx(tmp_path)
    worker = ctx.hosts["10.0.0.4"]
    ctx.pm.hook.sealkit_drain_host(ctx=ctx, host=worker)
    cmds = ctx.first_master.conn.commands
    assert cmds == [k0s.drain_script("host-3")]
    assert "drain host-3 --ignore-daemonsets --delete-emptydir-data --force" in cmds[0]
    assert "delete node host-3 --ignore-not-found" in cmds[0]
    assert worker.conn.commands == []


def test_drain_controller_leaves_etcd(tmp_path):
    ctx = _ctx(tmp_path)
    gone = ctx.first_master
    gone.facts["removed"] = True
    ctx.pm.hook.sealkit_drain_host(ctx=ctx, host=gone)
    stays = ctx.hosts["10.0.0.2"]
    assert stays.conn.commands == [k0s.drain_script("host-0"), k0s.leave_script("host-0", "10.0.0.1")]
    leave = stays.conn.commands[1]
    assert "etcd member-list | grep -qF '\"https://10.0.0.1:2380\"'" in leave
    assert "etcd leave --peer-address=10.0.0.1" in leave
    assert "delete controlnode.autopilot.k0sproject.io host-0 --ignore-not-found" in leave
    assert gone.conn.commands == []


def test_drain_without_a_remaining_master_fails_clearly(tmp_path):
    ctx = _ctx(tmp_path, masters=("10.0.0.1",))
    with pytest.raises(StepFailed, match="no master left"):
        ctx.pm.hook.sealkit_drain_host(ctx=ctx, host=ctx.first_master)


def test_reset_removes_what_was_installed(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts["10.0.0.4"]
    k0s.Runtime().sealkit_reset_host(ctx=ctx, host=host)
    assert host.conn.commands[0] == k0s.reset_script()
    assert "/usr/local/bin/k0s stop" in host.conn.commands[0]
    assert "/usr/local/bin/k0s reset" in host.conn.commands[0]
    joined = "\n".join(host.conn.commands[1:])
    for what in (
        "k0scontroller.service",
        "k0sworker.service",
        "/var/lib/k0s",
        "/run/k0s",
        "/etc/k0s",
        "/var/lib/sealkit/k0s",
        "rm -f /usr/local/bin/k0s",
    ):
        assert what in joined


def test_a_failed_k0s_reset_keeps_k0s_for_a_retry(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts["10.0.0.4"]
    host.conn.answer(r"k0s reset", 1)
    with pytest.raises(StepFailed, match="k0s reset failed"):
        k0s.Runtime().sealkit_reset_host(ctx=ctx, host=host)
    assert len(host.conn.commands) == 1


# ---------------------------------------------------------------------- upgrade and queries
def test_upgrade_replaces_the_binary_and_restarts_only_when_it_changed(tmp_path):
    ctx = _ctx(tmp_path)
    master, worker = ctx.first_master, ctx.hosts["10.0.0.4"]
    master.conn.answer(r"install -D -m 0755", 0, "new\n")
    ctx.pm.hook.sealkit_upgrade_host(ctx=ctx, host=master, from_version="v1.30.4", to_version="v1.31.1+k0s.0")
    assert "systemctl restart k0scontroller.service" in master.conn.commands
    assert any("kubeletVersion" in c and "v1\\.31\\.1([+-]|$)" in c for c in master.conn.commands)
    ctx.pm.hook.sealkit_upgrade_host(ctx=ctx, host=worker, from_version="v1.30.4", to_version="v1.31.1+k0s.0")
    assert not any("restart" in c for c in worker.conn.commands), "binary unchanged"
    assert not any("k0s install" in c for c in master.conn.commands + worker.conn.commands)


def test_kubeconfig_points_at_the_first_master(tmp_path):
    ctx = _ctx(tmp_path)
    admin = yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "local",
                    "cluster": {"server": "https://localhost:6443", "certificate-authority-data": "Q0E="},
                }
            ],
            "users": [{"name": "admin", "user": {"client-key-data": "S0VZ"}}],
        }
    )
    ctx.first_master.conn.answer(r"k0s kubeconfig admin", 0, admin)
    out = yaml.safe_load(ctx.pm.hook.sealkit_get_kubeconfig(ctx=ctx))
    assert out["clusters"][0]["cluster"]["server"] == "https://10.0.0.1:6443"
    assert out["users"][0]["user"]["client-key-data"] == "S0VZ"


def test_kubeconfig_garbage_is_an_error(tmp_path):
    ctx = _ctx(tmp_path)
    ctx.first_master.conn.answer(r"k0s kubeconfig admin", 0, "not: [a kubeconfig")
    with pytest.raises(StepFailed, match="no usable kubeconfig"):
        ctx.pm.hook.sealkit_get_kubeconfig(ctx=ctx)


def test_runtime_version(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.first_master
    host.conn.answer(r"k0s version", 0, "v1.30.4+k0s.0\n")
    assert ctx.pm.hook.sealkit_runtime_version(ctx=ctx, host=host) == "v1.30.4+k0s.0"
    other = ctx.hosts["10.0.0.4"]
    other.conn.answer(r"k0s version", 127)
    assert ctx.pm.hook.sealkit_runtime_version(ctx=ctx, host=other) is None


def test_runtime_info_and_preflight(tmp_path):
    ctx = _ctx(tmp_path)
    assert ctx.runtime.default_ha == "native"
    assert {6443, 9443, 8132, 2380} <= set(ctx.runtime.master_ports)
    assert ctx.runtime.binaries == ("k0s",)
    problems = [p for ps in ctx.pm.hook.sealkit_preflight(ctx=ctx, host=ctx.first_master) for p in ps]
    assert not any("k0s" in p for p in problems)
    ctx.cluster.ha = replace(ctx.cluster.ha, strategy="haproxy")
    problems = [p for ps in ctx.pm.hook.sealkit_preflight(ctx=ctx, host=ctx.first_master) for p in ps]
    assert any("does not work with k0s" in p for p in problems)


def test_renew_removes_minted_leaves_while_stopped_on_controllers_only(tmp_path):
    from sealkit_k0s import certs as k0s_certs

    ctx = _ctx(tmp_path)
    master, worker = ctx.first_master, ctx.hosts["10.0.0.4"]
    assert ctx.pm.hook.sealkit_renew_minted_certs(ctx=ctx, host=master) is True
    assert ctx.pm.hook.sealkit_renew_minted_certs(ctx=ctx, host=worker) is None
    cmds = master.conn.commands
    rm = next(i for i, c in enumerate(cmds) if c.startswith("rm -f "))
    assert (
        cmds.index("systemctl stop k0scontroller.service")
        < rm
        < cmds.index("systemctl start k0scontroller.service")
    )
    assert "/var/lib/k0s/pki/server.key" in cmds[rm] and "/var/lib/k0s/pki/etcd/peer.crt" in cmds[rm]
    assert not any(
        f"/var/lib/k0s/pki/{ca}" in cmds[rm] for ca in ("ca.crt", "ca.key", "etcd/ca.key", "sa.key")
    )
    assert set(k0s_certs.MINTED) <= set(cmds[rm].split()[2:])
    assert worker.conn.commands == []


# ------------------------------------------------------------- version branches and air-gap bundles
def test_leaf_lifetime_fields_only_for_releases_that_know_them(tmp_path):
    """spec.api.ca / spec.storage.etcd.ca appeared in k0s v1.33.1 (pkg/apis/k0s/v1beta1/cert.go)."""
    ctx = _ctx(tmp_path)
    for version in ("v1.32.13+k0s.0", "v1.30.4+k0s.0"):
        spec = k0s.cluster_config(ctx, ctx.first_master, version)["spec"]
        assert "ca" not in spec["api"] and "ca" not in spec["storage"]["etcd"], version
    for version in ("v1.33.1+k0s.0", NEWEST, ""):
        spec = k0s.cluster_config(ctx, ctx.first_master, version)["spec"]
        assert spec["api"]["ca"]["certificatesExpireAfter"] == "876000h", version
        assert spec["storage"]["etcd"]["ca"]["certificatesExpireAfter"] == "876000h", version


def test_runtime_info_declares_the_support_matrix(tmp_path):
    info = _ctx(tmp_path).runtime
    assert (info.oldest_version, info.newest_version) == ("v1.33.1", "v1.36.99")
    assert k0s.leaf_lifetime_configurable(info.oldest_version)


def test_upgrade_brings_the_new_air_gap_bundle_and_restarts_for_it(tmp_path):
    ctx = _ctx(tmp_path)
    worker = ctx.hosts["10.0.0.4"]
    worker.conn.answer(r"k0s-airgap-bundle-", 0, "copied k0s-airgap-bundle-v1.36.3+k0s.2-amd64\n")
    ctx.pm.hook.sealkit_upgrade_host(ctx=ctx, host=worker, from_version="v1.35.7", to_version=NEWEST)
    copy = [c for c in worker.conn.commands if "k0s-airgap-bundle-" in c]
    assert copy == [k0s.airgap_script(ctx.remote_rootfs)]
    assert "systemctl restart k0sworker.service" in worker.conn.commands, "the binary is unchanged"


def test_upgrade_rewrites_the_controller_config_for_the_new_release(tmp_path):
    ctx = _ctx(tmp_path, version="v1.32.13+k0s.0")
    master = ctx.first_master
    master.conn.put(k0s.render_config(k0s.cluster_config(ctx, master)).encode(), k0s.CONFIG, mode=0o600)
    ctx.image_version = "v1.33.1+k0s.0"
    hook = ctx.pm.hook.sealkit_upgrade_host
    hook(ctx=ctx, host=master, from_version="v1.32.13", to_version="v1.33.1+k0s.0")
    cfg = yaml.safe_load(master.conn.get(k0s.CONFIG))
    assert cfg["spec"]["api"]["ca"]["certificatesExpireAfter"] == "876000h"
    assert "systemctl restart k0scontroller.service" in master.conn.commands


def test_airgap_script_copies_by_content_and_atomically(tmp_path):
    """Run the script for real: a same-named file of another release is replaced (cp -u kept it)."""
    import os
    import subprocess

    rootfs, data = tmp_path / "rootfs", tmp_path / "data"
    (rootfs / "images").mkdir(parents=True)
    (rootfs / "images" / "k0s-airgap-bundle-amd64").write_bytes(b"new release")
    (rootfs / "images" / "other.tar").write_bytes(b"not ours")
    dest = data / "images"
    dest.mkdir(parents=True)
    old = dest / "k0s-airgap-bundle-amd64"
    old.write_bytes(b"old release")
    os.utime(old, (4102444800, 4102444800))  # newer than the image's file: cp -u would skip it
    script = k0s.airgap_script(str(rootfs), str(dest), str(data))
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out == "copied k0s-airgap-bundle-amd64\n"
    assert old.read_bytes() == b"new release"
    assert sorted(p.name for p in dest.iterdir()) == ["k0s-airgap-bundle-amd64"]
    again = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout
    assert again == "", "a second run copies nothing"
