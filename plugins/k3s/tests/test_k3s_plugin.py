"""k3s plugin: rendered config and units, tokens, and the commands its hooks run (no machines)."""

from __future__ import annotations

import hashlib

import yaml
from sealkit_k3s import plugin as k3s

from sealkit.testing.fixtures import make_context


def _ctx(tmp_path, masters=("10.0.0.1", "10.0.0.2", "10.0.0.3"), nodes=("10.0.0.4",)):
    return make_context(
        k3s.Runtime(),
        masters=list(masters),
        nodes=list(nodes),
        state_dir=tmp_path,
        runtime_name="k3s",
    )


def test_first_server_config(tmp_path):
    ctx = _ctx(tmp_path)
    first = ctx.hosts["10.0.0.1"]
    cfg = k3s.server_config(ctx, first, first=True)
    assert cfg["cluster-init"] is True
    assert "server" not in cfg
    assert cfg["token-file"] == k3s.TOKEN_FILE
    assert cfg["node-ip"] == "10.0.0.1" and cfg["node-name"] == "host-0"
    assert cfg["write-kubeconfig-mode"] == "0600"
    assert "10.0.0.1" in cfg["tls-san"]
    assert cfg["cluster-cidr"] == ctx.cluster.network.pod_cidr


def test_joining_server_points_at_first_server(tmp_path):
    ctx = _ctx(tmp_path)
    cfg = k3s.server_config(ctx, ctx.hosts["10.0.0.2"], first=False)
    assert cfg["server"] == "https://10.0.0.1:6443"
    assert "cluster-init" not in cfg


def test_agent_joins_through_endpoint(tmp_path):
    ctx = _ctx(tmp_path)
    cfg = k3s.agent_config(ctx, ctx.hosts["10.0.0.4"])
    assert cfg["server"] == ctx.endpoint().url()
    assert set(cfg) == {"server", "token-file", "node-ip", "node-name"}


def test_token_pins_our_ca_and_is_stable(tmp_path):
    ctx = _ctx(tmp_path)
    layout = ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=ctx.first_master)
    ctx.pki.render(layout)
    token = k3s.join_token(ctx)
    ca = ctx.pki.get_ca("server-ca").cert_pem
    assert token.startswith("K10" + hashlib.sha256(ca).hexdigest() + "::server:")
    assert k3s.join_token(ctx) == token
    secret_file = tmp_path / "clusters" / "test" / "secrets" / "k3s-token"
    if not secret_file.exists():  # state layout may nest differently; find it
        secret_file = next(tmp_path.rglob("k3s-token"))
    assert secret_file.stat().st_mode & 0o077 == 0


def test_token_never_in_argv(tmp_path):
    ctx = _ctx(tmp_path)
    layout = ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=ctx.first_master)
    ctx.pki.render(layout)
    host = ctx.first_master
    ctx.pm.hook.sealkit_prepare_host(ctx=ctx, host=host)
    ctx.pm.hook.sealkit_init_cluster(ctx=ctx, host=host)
    secret = k3s.join_token(ctx).rsplit(":", 1)[1]
    assert not any(secret in c for c in host.conn.commands)
    content, mode = host.conn.files[k3s.TOKEN_FILE]
    assert secret.encode() in content and mode == 0o600
    cfg = yaml.safe_load(host.conn.files[k3s.CONFIG][0])
    assert cfg["cluster-init"] is True
    assert host.conn.files[k3s.CONFIG][1] == 0o600


def test_units_match_the_install_script(tmp_path):
    text = k3s.unit_text("agent")
    assert "Type=notify" in text and "KillMode=process" in text and "Delegate=yes" in text
    assert text.rstrip().endswith("ExecStart=/usr/local/bin/k3s agent")


def test_second_start_without_changes_does_not_restart(tmp_path):
    ctx = _ctx(tmp_path)
    ctx.pki.render(ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=ctx.first_master))
    node = ctx.hosts["10.0.0.4"]
    ctx.pm.hook.sealkit_join_node(ctx=ctx, host=node)
    first = list(node.conn.commands)
    assert any("restart k3s-agent.service" in c for c in first)
    ctx.pm.hook.sealkit_join_node(ctx=ctx, host=node)
    again = node.conn.commands[len(first) :]
    assert not any("restart" in c or "daemon-reload" in c for c in again)


def test_agents_get_no_certificates(tmp_path):
    ctx = _ctx(tmp_path)
    layout = ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=ctx.hosts["10.0.0.4"])
    assert layout.paths() == []


def test_reset_removes_what_was_installed(tmp_path):
    ctx = _ctx(tmp_path)
    host = ctx.hosts["10.0.0.4"]
    k3s.Runtime().sealkit_reset_host(ctx=ctx, host=host)
    joined = "\n".join(host.conn.commands)
    for path in (
        "/var/lib/rancher/k3s",
        "/etc/rancher/k3s",
        "/var/lib/sealkit/k3s",
        k3s.BIN,
        "k3s.service",
        "k3s-agent.service",
    ):
        assert path in joined


def test_new_sans_rewrite_only_tls_san_of_installed_servers(tmp_path):
    from dataclasses import replace

    ctx = _ctx(tmp_path)
    joined, fresh, agent = ctx.hosts["10.0.0.2"], ctx.hosts["10.0.0.3"], ctx.hosts["10.0.0.4"]
    installed = k3s._dump(k3s.server_config(ctx, joined, first=False))
    joined.conn.answer(r"^cat /etc/rancher/k3s/config.yaml$", 0, installed)
    fresh.conn.answer(r"^cat /etc/rancher/k3s/config.yaml$", 1)
    joined.conn.put(installed.encode(), k3s.CONFIG, mode=0o600)
    joined.conn.put(k3s.unit_env(ctx).encode(), "/etc/systemd/system/k3s.service.env", mode=0o644)
    assert ctx.pm.hook.sealkit_update_cert_config(ctx=ctx, host=joined) == [False]

    ctx.cluster.certs = replace(ctx.cluster.certs, extra_sans=["new.example"])
    assert ctx.pm.hook.sealkit_update_cert_config(ctx=ctx, host=joined) == [True]
    assert ctx.pm.hook.sealkit_update_cert_config(ctx=ctx, host=fresh) == [False]
    assert ctx.pm.hook.sealkit_update_cert_config(ctx=ctx, host=agent) == [False]
    after = yaml.safe_load(joined.conn.files[k3s.CONFIG][0])
    before = yaml.safe_load(installed)
    assert "new.example" in after["tls-san"]
    assert {k: v for k, v in after.items() if k != "tls-san"} == {
        k: v for k, v in before.items() if k != "tls-san"
    }
    assert after["server"] == "https://10.0.0.1:6443" and "cluster-init" not in after
    assert joined.conn.files[k3s.CONFIG][1] == 0o600
    assert fresh.conn.files == {} and agent.conn.files == {}  # not installed there


def test_restart_after_certs_waits_for_the_server_before_the_next(tmp_path):
    ctx = _ctx(tmp_path)
    server = ctx.first_master
    ctx.pm.hook.sealkit_restart_after_certs(ctx=ctx, host=server)
    restart = server.conn.commands.index("systemctl restart k3s.service")
    assert any("readyz" in c for c in server.conn.commands[restart + 1 :])


def test_leaf_lifetime_reaches_the_units_environment(tmp_path):
    from dataclasses import replace

    ctx = _ctx(tmp_path)
    ctx.pki.render(ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=ctx.first_master))
    agent = ctx.hosts["10.0.0.4"]
    ctx.pm.hook.sealkit_join_node(ctx=ctx, host=agent)
    env = agent.conn.files["/etc/systemd/system/k3s-agent.service.env"][0].decode()
    assert f"CATTLE_NEW_SIGNED_CERT_EXPIRATION_DAYS={ctx.cluster.certs.validity_days}\n" in env
    assert "EnvironmentFile=-/etc/systemd/system/%n.env" in k3s.unit_text("agent")  # last: ours wins
    assert "/etc/default/k3s-agent" not in agent.conn.files  # the operator's file stays theirs

    agent.conn.answer(r"^cat /etc/rancher/k3s/config.yaml$", 0, "node-name: host-3\n")
    ctx.cluster.certs = replace(ctx.cluster.certs, validity_days=3650)
    assert ctx.pm.hook.sealkit_update_cert_config(ctx=ctx, host=agent) == [True]
    assert b"=3650\n" in agent.conn.files["/etc/systemd/system/k3s-agent.service.env"][0]
    assert agent.conn.files[k3s.CONFIG][0].decode().count("tls-san") == 0


def test_cert_check_reads_the_leaves_k3s_mints(tmp_path):
    ctx = _ctx(tmp_path)
    server = ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=ctx.first_master)
    agent = ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=ctx.hosts["10.0.0.4"])
    assert "/var/lib/rancher/k3s/server/tls/serving-kube-apiserver.crt" in server.minted
    assert "/var/lib/rancher/k3s/agent/client-kubelet.crt" in agent.minted
    assert not set(server.minted) & set(server.paths())  # read, never written
    assert ctx.pki.render(agent) == []


def test_renew_rotates_while_stopped_and_always_starts_again(tmp_path):
    import pytest

    from sealkit.errors import StepFailed

    ctx = _ctx(tmp_path)
    server, agent = ctx.first_master, ctx.hosts["10.0.0.4"]
    assert ctx.pm.hook.sealkit_renew_minted_certs(ctx=ctx, host=server) is True
    cmds = server.conn.commands
    stop, rotate = cmds.index("systemctl stop k3s.service"), cmds.index(f"{k3s.BIN} certificate rotate")
    start = cmds.index("systemctl start k3s.service")
    assert stop < rotate < start
    assert any("readyz" in c for c in cmds[start:])

    agent.conn.answer("certificate rotate", 1)
    with pytest.raises(StepFailed):
        ctx.pm.hook.sealkit_renew_minted_certs(ctx=ctx, host=agent)
    assert agent.conn.commands[-1] == "systemctl start k3s-agent.service"


# ------------------------------------------------------------------ support matrix and air-gap images
def test_runtime_info_declares_the_support_matrix(tmp_path):
    info = _ctx(tmp_path).runtime
    assert (info.oldest_version, info.newest_version) == ("v1.34.0", "v1.36.99")


def test_prepare_and_upgrade_both_bring_the_air_gap_images(tmp_path):
    ctx = _ctx(tmp_path)
    ctx.pki.render(ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=ctx.first_master))
    node = ctx.hosts["10.0.0.4"]
    ctx.pm.hook.sealkit_prepare_host(ctx=ctx, host=node)
    assert k3s.airgap_script(ctx.remote_rootfs) in node.conn.commands
    node.conn.commands.clear()
    node.conn.answer(r"k3s-airgap-images-", 0, "copied k3s-airgap-images-amd64.tar.zst\n")
    ctx.pm.hook.sealkit_upgrade_host(ctx=ctx, host=node, from_version="v1.35.6", to_version="v1.36.2+k3s1")
    assert k3s.airgap_script(ctx.remote_rootfs) in node.conn.commands
    assert "systemctl restart k3s-agent.service" in node.conn.commands, "new images although same binary"


def test_upgrade_without_new_images_or_binary_does_not_restart(tmp_path):
    ctx = _ctx(tmp_path)
    node = ctx.hosts["10.0.0.4"]
    ctx.pm.hook.sealkit_upgrade_host(ctx=ctx, host=node, from_version="v1.35.6", to_version="v1.35.6+k3s1")
    assert not any("restart" in c for c in node.conn.commands)


def test_airgap_script_replaces_an_archive_of_the_same_name(tmp_path):
    """k3s names every release's archive alike: a content compare, not cp -u's mtime, decides."""
    import os
    import subprocess

    rootfs, agent = tmp_path / "rootfs", tmp_path / "agent"
    (rootfs / "images").mkdir(parents=True)
    (rootfs / "images" / "k3s-airgap-images-amd64.tar.zst").write_bytes(b"v1.36 images")
    dest = agent / "images"
    dest.mkdir(parents=True)
    old = dest / "k3s-airgap-images-amd64.tar.zst"
    old.write_bytes(b"v1.35 images")
    os.utime(old, (4102444800, 4102444800))
    script = k3s.airgap_script(str(rootfs), str(dest), str(agent))
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out == "copied k3s-airgap-images-amd64.tar.zst\n"
    assert old.read_bytes() == b"v1.36 images"
    assert [p.name for p in agent.iterdir()] == ["images"], "no temporary file left behind"
    assert subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout == ""


def test_drain_skips_a_node_that_is_already_gone(tmp_path):
    """kubectl drain fails on a missing node; a re-run of delete must not (the k0s plugin guards alike)."""
    import subprocess

    ctx = _ctx(tmp_path)
    ctx.pm.hook.sealkit_drain_host(ctx=ctx, host=ctx.hosts["10.0.0.4"])
    assert ctx.first_master.conn.commands == [k3s.drain_script("host-3")]
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "k3s").write_text('#!/bin/sh\necho "$*" >> "$LOG"\n[ "$2" = get ] && exit 1\nexit 0\n')
    (fake / "k3s").chmod(0o755)
    script = k3s.drain_script("gone").replace(k3s.BIN, str(fake / "k3s"))
    log = tmp_path / "calls"
    subprocess.run(["sh", "-c", script], check=True, env={"LOG": str(log), "PATH": "/usr/bin:/bin"})
    assert log.read_text().splitlines() == [
        "kubectl get node gone -o name",
        "kubectl delete node gone --ignore-not-found",
    ]


def test_drain_without_a_master_that_stays_names_the_fix(tmp_path):
    import pytest

    from sealkit.errors import StepFailed

    ctx = _ctx(tmp_path, masters=("10.0.0.1",))
    with pytest.raises(StepFailed, match="no master left"):
        ctx.pm.hook.sealkit_drain_host(ctx=ctx, host=ctx.first_master)


def test_reset_kills_pod_shims_that_outlive_the_unit(tmp_path):
    """KillMode=process leaves containerd-shims running after `systemctl stop k3s` (k3s-killall.sh exists
    for that): reset kills every process whose program lives under <data-dir>/data/*/bin/containerd-shim*."""
    import subprocess
    import sys

    ctx = _ctx(tmp_path)
    node = ctx.hosts["10.0.0.4"]
    ctx.pm.hook.sealkit_reset_host(ctx=ctx, host=node)
    assert k3s.killall_script() in node.conn.commands
    stop = next(i for i, c in enumerate(node.conn.commands) if "k3s-agent.service" in c)
    assert node.conn.commands.index(k3s.killall_script()) > stop, "after the units are stopped"

    data = tmp_path / "k3s data"
    program = f"{data}/data/abc123/bin/containerd-shim-runc-v2"
    sleeper = "import time\nwhile True:\n    time.sleep(60)\n"
    shim = subprocess.Popen([program, "-c", sleeper], executable=sys.executable)
    bystander = subprocess.Popen([f"{data}/bin/other", "-c", sleeper], executable=sys.executable)
    try:
        subprocess.run(["sh", "-c", k3s.killall_script(str(data))], check=True, timeout=60)
        assert shim.wait(timeout=10) == -9
        assert bystander.poll() is None, "only shims are killed"
    finally:
        for proc in (shim, bystander):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
