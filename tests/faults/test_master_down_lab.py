"""Issue 18 item 1 through the real CLI: with master 1 of three powered off, `add --nodes` still works — the
node joins through a live master and the images phase syncs the registries that answer, naming the dead one
— and the new node is told about every master's registry, each of which serves the cluster's images.

(`upgrade` with the first master down runs on kubeadm in tests/faults/test_master_lost_lab.py; the k3s
contract fake's agent now restores its load balancer's server list as k3s does — tests/fakes/
test_fake_k3s_loadbalancer.py — so an upgrade-restarted agent reaches a live master here too.)

The runtime binaries are the contract fakes (tests/fakes), so a pod's image pull is not run here; a real
containerd pulling through the same mirror config with the first master down is
tests/lab_registry/test_registry_ha_lab.py.
"""

from __future__ import annotations

import pytest
import yaml

from tests.e2e.driver import Sealkit, build_images, kubectl_nodes, spans

pytestmark = pytest.mark.lab

RUNTIME = "k3s"


def _ips(hosts) -> str:
    return ",".join(h.ip for h in hosts)


def test_add_a_node_with_the_first_master_down(fresh_lab, tmp_path):
    span = spans(RUNTIME)["newest"]
    home = tmp_path / "home"
    refs = build_images(home, RUNTIME, (span.old,))
    lab = fresh_lab(5, systemd=True)
    masters, w1, w2 = lab.hosts[:3], lab.hosts[3], lab.hosts[4]
    sk = Sealkit(home, "faults")
    key = str(masters[0].root_key)
    sk("--runtime", RUNTIME, "run", refs[span.old], "--masters", _ips(masters), "--nodes", w1.ip, "-i", key)

    lab.stop_host(masters[0])
    added = sk("add", "--nodes", w2.ip)
    assert added.rc == 0, added.err
    assert f"images not synced to the registry on {masters[0].ip} (unreachable)" in added.err
    assert f"the first master {masters[0].ip} is down" in added.err
    names = {h.hostname for h in lab.hosts} - {masters[0].hostname}
    conf = sk.kubeconfig(tmp_path / "admin.conf")
    assert names <= set(kubectl_nodes(conf, retry_for=90))

    # the new node knows every master's registry (the live master that stood in for the dead one first),
    # and each live one serves the images
    new = lab.exec_on(w2, "cat /etc/rancher/k3s/registries.yaml").stdout
    for m in masters:
        assert f'"https://{m.ip}:5000"' in new
    block = lab.exec_on(w2, "sed -n '/# sealkit begin/,/# sealkit end/p' /etc/hosts").stdout.split("\n")
    listed = [ln.split()[0] for ln in block if "sealkit.hub" in ln]
    assert listed == [masters[1].ip, masters[0].ip, masters[2].ip]
    auth = yaml.safe_load(new)["configs"][f"{masters[1].ip}:5000"]["auth"]
    creds = f'user = "{auth["username"]}:{auth["password"]}"\n'  # on stdin: never in argv
    for m in masters[1:]:
        code = lab.exec_on(
            w2,
            "curl -s -o /dev/null -w '%{http_code}' -K - --cacert /etc/sealkit/registry-ca.crt "
            "-H 'Accept: application/vnd.oci.image.index.v1+json' "
            "-H 'Accept: application/vnd.oci.image.manifest.v1+json' "
            f"https://{m.ip}:5000/v2/library/busybox/manifests/1.36",
            input=creds,
        ).stdout.strip()
        assert code == "200", m.ip  # our TLS (the cluster CA), the node's pull account, the synced image
