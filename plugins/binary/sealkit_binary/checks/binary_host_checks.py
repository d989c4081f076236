"""``sealkit check`` for the binary runtime: run over pytest-testinfra against every host.

Each test gets ``host`` (testinfra), ``sealkit_host`` (HostRef), ``sealkit_ctx`` (the context).
"""

from __future__ import annotations

import shlex

from sealkit_binary import plugin as binary


def _units(sealkit_host) -> tuple[str, ...]:
    node = (*binary.NODE_UNITS, binary.CONTAINERD_UNIT)
    if sealkit_host.is_master:
        return (binary.ETCD_UNIT, *binary.CONTROL_PLANE_UNITS, *node)
    return node


def test_units_enabled_and_running(host, sealkit_host):
    for unit in _units(sealkit_host):
        svc = host.service(unit.removesuffix(".service"))
        assert svc.is_enabled, f"{unit} is not enabled: it would not come back after a reboot"
        assert svc.is_running, f"{unit} is not running: journalctl -u {unit} -n 50"


def test_control_plane_listening(host, sealkit_host):
    if not sealkit_host.is_master:
        return
    for port in (6443, binary.ETCD_CLIENT_PORT, binary.ETCD_PEER_PORT):
        assert any(
            host.socket(f"tcp://{addr}:{port}").is_listening for addr in ("0.0.0.0", "::", sealkit_host.ip)
        ), f"nothing listens on port {port}"


def test_etcd_member_healthy(host, sealkit_host):
    if not sealkit_host.is_master:
        return
    out = host.run(binary.etcdctl("endpoint health", timeout=8))
    assert out.rc == 0, f"etcd unhealthy: {out.stderr.strip()[-300:]}"


def test_etcd_membership_matches_masters(host, sealkit_host, sealkit_ctx):
    """Checked once, on the first master: one voting, started member per master."""
    if sealkit_host.ip != sealkit_ctx.first_master.ip:
        return
    out = host.run(binary.etcdctl("member list -w simple", timeout=8))
    assert out.rc == 0, f"etcdctl member list failed: {out.stderr.strip()[-300:]}"
    members = binary.parse_member_list(out.stdout)
    want = {binary.peer_url(m.ip) for m in sealkit_ctx.cluster.masters}
    have = {u for m in members for u in m.peer_urls}
    assert have == want, f"etcd members {sorted(have)} != masters {sorted(want)}"
    bad = [m.id for m in members if m.learner or not m.started]
    assert not bad, f"etcd members not started or still learners: {bad}"


def test_private_keys_not_readable(host):
    out = host.run("find /etc/kubernetes -type f \\( -name '*.key' -o -name '*.conf' \\) -perm /077")
    assert out.rc == 0 and not out.stdout.strip(), f"group/other readable: {out.stdout.strip()}"


def test_kubelet_keeps_our_certificates(host):
    cfg = host.file(binary.KUBELET_CONFIG)
    assert cfg.exists
    assert "rotateCertificates: false" in cfg.content_string


def test_node_registered(host, sealkit_host, sealkit_ctx):
    master = sealkit_ctx.first_master
    cmd = (
        f"{binary.BIN_DIR}/kubectl --kubeconfig=/etc/kubernetes/admin.conf "
        f"--server=https://{master.ip}:{sealkit_ctx.runtime.apiserver_port} "
        f"get node {shlex.quote(sealkit_host.name)} -o name"
    )
    out = master.conn.run(cmd, check=False)
    assert out.rc == 0, f"node {sealkit_host.name} not in the cluster: {out.stderr.strip()}"
