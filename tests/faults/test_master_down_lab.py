"""Issue 18 item 1 through the real CLI on k3s: with master 1 of three powered off, `add`, a new pod's
image pull and `upgrade` all succeed.

- `add --nodes w2`: the node joins through a live master and the images phase syncs the registries that
  answer, naming the dead one; the new node is told about every master's registry (a live one first), and
  each live one serves the cluster's images.
- a pod's image pull on w2: a Deployment of the web image (which exists only in the cluster image's
  images/, so only in the embedded registries), pinned to w2 by nodeSelector and applied with the real
  kubectl, becomes Ready there and answers on w2's NodePort. The fake k3s agent runs pods with the host's
  real containerd, which pulls through the hosts.toml sealkit had k3s write — the image is checked absent
  from w2's containerd before and present after, so this is a real pull through the mirror with master
  1's registry dead.
- `upgrade` to the next minor: every live node reports the new version and is Ready, the dead master is
  reported as not upgraded, and the web Deployment is Ready again and answering on w2.

(The kubeadm version of the upgrade, plus replacing the lost master, is tests/faults/
test_master_lost_lab.py. The k3s contract fake's agent restores its load balancer's server list as k3s
does — tests/fakes/test_fake_k3s_loadbalancer.py — so an upgrade-restarted agent reaches a live master.)
"""

from __future__ import annotations

import json
import time

import pytest
import yaml

from tests.e2e.driver import Sealkit, build_images, kubectl_nodes, spans
from tests.e2e.images import WEB
from tests.workloads.harness import WebWorkload, kubectl, web_manifests

pytestmark = pytest.mark.lab

RUNTIME = "k3s"
#: k3s' embedded containerd (k3s-io/k3s pkg/agent/config applyContainerdStateAndAddress) and the CRI
#: plugin's namespace, as the contract fake (tests/fakes/fake_k3s.py, fake_cri.py) runs them
K3S_CTR = ("ctr", "--address", "/run/k3s/containerd/containerd.sock", "--namespace", "k8s.io")


def _ips(hosts) -> str:
    return ",".join(h.ip for h in hosts)


def _pinned_web(hostname: str) -> str:
    """The web Deployment + NodePort Service, the Deployment's pods pinned to the node ``hostname``."""
    deploy, svc = (json.loads(doc) for doc in web_manifests().split("\n---\n"))
    deploy["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": hostname}
    return json.dumps(deploy) + "\n---\n" + json.dumps(svc)


def _images(lab, host) -> list[str]:
    """The image references in the node's k3s containerd (asked with the host's real `ctr`)."""
    return lab.exec_on(host, [*K3S_CTR, "images", "ls", "-q"]).stdout.split()


def test_add_pull_and_upgrade_with_the_first_master_down(fresh_lab, tmp_path):
    started = time.monotonic()
    span = spans(RUNTIME)["newest"]
    home = tmp_path / "home"
    refs = build_images(home, RUNTIME, (span.old, span.new))
    lab = fresh_lab(5, systemd=True)
    masters, w1, w2 = lab.hosts[:3], lab.hosts[3], lab.hosts[4]
    m1 = masters[0]
    sk = Sealkit(home, "faults")
    key = str(m1.root_key)
    sk("--runtime", RUNTIME, "run", refs[span.old], "--masters", _ips(masters), "--nodes", w1.ip, "-i", key)

    lab.stop_host(m1)
    added = sk("add", "--nodes", w2.ip)
    assert added.rc == 0, added.err
    assert f"images not synced to the registry on {m1.ip} (unreachable)" in added.err
    assert f"the first master {m1.ip} is down" in added.err
    names = {h.hostname for h in lab.hosts} - {m1.hostname}
    conf = sk.kubeconfig(tmp_path / "admin.conf")
    assert names <= set(kubectl_nodes(conf, retry_for=90))

    # the new node knows every master's registry (the live master that stood in for the dead one first),
    # and each live one serves the images
    new = lab.exec_on(w2, "cat /etc/rancher/k3s/registries.yaml").stdout
    for m in masters:
        assert f'"https://{m.ip}:5000"' in new
    block = lab.exec_on(w2, "sed -n '/# sealkit begin/,/# sealkit end/p' /etc/hosts").stdout.split("\n")
    listed = [ln.split()[0] for ln in block if "sealkit.hub" in ln]
    assert listed == [masters[1].ip, m1.ip, masters[2].ip]
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

    # a new pod on w2 pulls the web image through the mirror, master 1's registry dead: the image is not
    # in w2's containerd before (so only this pull can put it there), it is after, and the pod serves
    assert WEB not in _images(lab, w2)
    web = WebWorkload(conf)
    kubectl(conf, "apply", "-f", "-", stdin=_pinned_web(w2.hostname))
    web.wait_ready(300)
    assert [p["spec"]["nodeName"] for p in web.pods()] == [w2.hostname]
    assert WEB in _images(lab, w2)
    web.wait_answers([w2.ip])

    # upgrade one minor: every live node on the new version and Ready, the dead master left behind
    up = sk("upgrade", refs[span.new])
    assert up.out["version"].startswith(span.new), up.out
    assert up.out["not_upgraded"] == [m1.ip], up.out
    assert f"not upgrading {m1.ip} (unreachable)" in up.err
    live = {h.hostname for h in (*masters[1:], w1, w2)}
    live_conf = sk.kubeconfig(tmp_path / "live.conf")
    nodes = kubectl_nodes(live_conf, retry_for=90)
    assert {n: nodes[n]["version"].split("+")[0] for n in live} == dict.fromkeys(live, span.new), nodes
    assert all(nodes[n]["ready"] for n in live), nodes
    # the workload runs again on the upgraded w2 (its pod restarted by the agent's restart)
    web = WebWorkload(live_conf)
    web.wait_ready(300)
    assert [p["spec"]["nodeName"] for p in web.pods()] == [w2.hostname]
    web.wait_answers([w2.ip])
    print(f"test_add_pull_and_upgrade_with_the_first_master_down: {time.monotonic() - started:.0f} s")
