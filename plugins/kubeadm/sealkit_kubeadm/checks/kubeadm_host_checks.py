"""``sealkit check`` for kubeadm: run by sealkit over pytest-testinfra against every host of the cluster."""

from __future__ import annotations

import shlex

from sealkit_kubeadm import plugin as kubeadm

STATIC_PODS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


def test_kubelet_and_containerd_running(host):
    for unit in ("kubelet", "containerd"):
        svc = host.service(unit)
        assert svc.is_enabled, f"{unit} is not enabled: it would not come back after a reboot"
        assert svc.is_running, f"{unit} is not running"


def test_control_plane_in_place(host, sealkit_host):
    if not sealkit_host.is_master:
        return
    for name in STATIC_PODS:
        assert host.file(f"{kubeadm.MANIFESTS}/{name}.yaml").exists, f"static pod {name} missing"
    assert host.socket("tcp://0.0.0.0:6443").is_listening or host.socket("tcp://:::6443").is_listening, (
        "kube-apiserver does not listen on 6443"
    )


def test_cluster_ca_is_ours(host, sealkit_ctx):
    """Masters got the CA from sealkit, workers from kubeadm's discovery (pinned by its hash)."""
    ca = host.file(f"{kubeadm.PKI_DIR}/ca.crt")
    assert ca.exists, "the cluster CA is missing"
    assert ca.content.strip() == sealkit_ctx.pki.get_ca("ca").cert_pem.strip(), "a foreign CA"


def test_secrets_are_private(host, sealkit_host):
    paths = [kubeadm.CONTAINERD_CONFIG, kubeadm.KUBELET_CONF]
    if sealkit_host.is_master:
        paths += [kubeadm.ADMIN_CONF, f"{kubeadm.PKI_DIR}/ca.key", f"{kubeadm.PKI_DIR}/sa.key"]
    for path in paths:
        f = host.file(path)
        assert f.exists, f"{path} missing"
        assert f.mode & 0o077 == 0, f"{path} is readable by group/others"


def test_endpoint_name_resolves_locally(host, sealkit_host, sealkit_ctx):
    """Masters reach their own apiserver, workers the HA endpoint, under the same name."""
    want = sealkit_host.ip if sealkit_host.is_master else sealkit_ctx.endpoint().host
    entries = [
        line.split()
        for line in host.file(kubeadm.HOSTS_FILE).content_string.splitlines()
        if kubeadm.APISERVER_NAME in line.split()[1:]
    ]
    assert entries == [[want, kubeadm.APISERVER_NAME]], f"/etc/hosts maps the endpoint as {entries}"


def test_node_registered(sealkit_host, sealkit_ctx):
    master = kubeadm.control_master(sealkit_ctx)
    out = master.conn.run(
        kubeadm.kubectl(f"get node {shlex.quote(sealkit_host.name)} -o name"), check=False, timeout=60
    )
    assert out.rc == 0, f"node {sealkit_host.name} not in the cluster: {out.stderr.strip()}"
