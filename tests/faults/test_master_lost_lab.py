"""Issue 18 item 1 through the real CLI on kubeadm: with master 1 of three powered off, `upgrade` to the
next minor succeeds on every live host (the dead one is reported as not upgraded); the dead master is then
deleted with `--force`, a fresh master added in its place, and the fresh master's registry serves the
cluster's images to the node pull account.

(tests/faults/test_master_down_lab.py is the k3s version: with master 1 down, `add --nodes`, a pinned
pod's image pull on the new node and `upgrade` to the next minor.)

Needs `delete --masters <down master> --force` to drain the dead host from a live master: on the current
engine that step raised KeyError (exit 3) because the drain looked the host's connection up.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.driver import Sealkit, build_images, kubectl_nodes, spans

pytestmark = pytest.mark.lab

RUNTIME = "kubeadm"
REGISTRY_CA = "/etc/sealkit/registry-ca.crt"


def _ips(hosts) -> str:
    return ",".join(h.ip for h in hosts)


def _pull_account(sk: Sealkit) -> str:
    """The node pull account as a curl config line (read from the controller's state; given on stdin,
    never in argv)."""
    (path,) = (sk.home / "clusters" / sk.cluster).rglob("pull-credentials.json")
    creds = json.loads(path.read_text())
    return f'user = "{creds["username"]}:{creds["password"]}"\n'


def _manifest_code(lab, client, registry_ip: str, creds: str) -> str:
    """HTTP status of busybox's manifest on ``registry_ip``'s read-only registry, asked from ``client``
    with our registry CA and the pull account."""
    return lab.exec_on(
        client,
        "curl -s -o /dev/null -w '%{http_code}' -K - "
        f"--cacert {REGISTRY_CA} "
        "-H 'Accept: application/vnd.oci.image.index.v1+json' "
        "-H 'Accept: application/vnd.oci.image.manifest.v1+json' "
        f"https://{registry_ip}:5000/v2/library/busybox/manifests/1.36",
        input=creds,
        check=False,
    ).stdout.strip()


def test_upgrade_then_replace_the_lost_first_master(fresh_lab, tmp_path):
    started = time.monotonic()
    span = spans(RUNTIME)["newest"]
    home = tmp_path / "home"
    refs = build_images(home, RUNTIME, (span.old, span.new))
    lab = fresh_lab(5, systemd=True)
    masters, w1, fresh = lab.hosts[:3], lab.hosts[3], lab.hosts[4]
    sk = Sealkit(home, "lost")
    key = str(masters[0].root_key)
    sk("--runtime", RUNTIME, "run", refs[span.old], "--masters", _ips(masters), "--nodes", w1.ip, "-i", key)
    conf = sk.kubeconfig(tmp_path / "admin.conf")

    lab.stop_host(masters[0])
    up = sk("upgrade", refs[span.new])
    assert up.out["version"].startswith(span.new), up.out
    assert up.out["not_upgraded"] == [masters[0].ip], up.out
    assert f"not upgrading {masters[0].ip} (unreachable)" in up.err
    live = {h.hostname for h in (*masters[1:], w1)}
    # a kubeconfig fetched now points at a live master
    nodes = kubectl_nodes(sk.kubeconfig(tmp_path / "live.conf"), retry_for=90)
    assert {n: nodes[n]["version"].split("+")[0] for n in live} == dict.fromkeys(live, span.new), nodes
    assert all(nodes[n]["ready"] for n in live), nodes

    sk("delete", "--masters", masters[0].ip, "--force")
    added = sk("add", "--masters", fresh.ip).out
    assert fresh.ip in added["changed_hosts"], added
    assert added["masters"] == [masters[1].ip, masters[2].ip, fresh.ip], added
    nodes = kubectl_nodes(sk.kubeconfig(conf), retry_for=90)
    assert set(nodes) == live | {fresh.hostname}, nodes
    assert nodes[fresh.hostname]["version"].split("+")[0] == span.new, nodes

    # the fresh master's own registry serves the cluster's images to a node's pull account
    creds = _pull_account(sk)
    assert _manifest_code(lab, w1, fresh.ip, creds) == "200"
    assert _manifest_code(lab, w1, fresh.ip, 'user = "nobody:wrong"\n') == "401"  # the check can fail
    # every node now lists the fresh registry and no longer the dead one
    hosts_block = lab.exec_on(w1, "sed -n '/# sealkit begin/,/# sealkit end/p' /etc/hosts").stdout
    assert fresh.ip in hosts_block and masters[0].ip not in hosts_block, hosts_block
    assert sk("check").out["failed"] == 0
    print(f"test_upgrade_then_replace_the_lost_first_master: {time.monotonic() - started:.0f} s")
