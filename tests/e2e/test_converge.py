"""A re-run converges on the hosts' real state, not on the journal (issue 12 item 3), on real lab hosts
through the CLI: a stopped and disabled agent and a deleted rendered file on a worker are found by the
re-run's one verification round trip per host and repaired, the result says what was repaired, and the
run after that repairs nothing."""

from __future__ import annotations

import time

import pytest

from tests.e2e.driver import Sealkit, build_images, kubectl_nodes, spans

pytestmark = pytest.mark.lab

RUNTIME = "k3s"  # the fastest runtime to install; the engine's verification is the same for every runtime
UNIT = "k3s-agent.service"
CONFIG = "/etc/rancher/k3s/config.yaml"


def test_a_rerun_repairs_a_stopped_agent_and_a_deleted_rendered_file(fresh_lab, tmp_path_factory, tmp_path):
    home = tmp_path_factory.mktemp("home-converge")
    version = spans(RUNTIME)["newest"].old
    refs = build_images(home, RUNTIME, (version,))
    lab = fresh_lab(2, systemd=True)
    m1, w1 = lab.hosts
    sk = Sealkit(home, "converge")
    sk(
        "--runtime",
        RUNTIME,
        "run",
        refs[version],
        "--masters",
        m1.ip,
        "--nodes",
        w1.ip,
        "-i",
        str(m1.root_key),
    )
    written = lab.exec_on(w1, f"cat {CONFIG}").stdout

    quiet = sk("run").out
    assert quiet["verified"] == [m1.ip, w1.ip], quiet
    assert quiet["repaired"] == [] and quiet["drift"] == [] and quiet["changed_hosts"] == [], quiet

    lab.exec_on(w1, f"systemctl disable --now {UNIT} && rm {CONFIG}")
    fixed = sk("run")
    assert fixed.out["repaired"] == [
        {"host": w1.ip, "what": f"file {CONFIG} missing → rewritten"},
        {"host": w1.ip, "what": f"unit {UNIT} inactive/disabled → restarted"},
    ], fixed.err[-3000:]
    assert f"{w1.ip}: repaired: unit {UNIT} inactive/disabled → restarted" in fixed.err
    assert fixed.out["changed_hosts"] == [w1.ip]
    assert lab.exec_on(w1, f"cat {CONFIG}").stdout == written
    assert lab.exec_on(w1, f"systemctl is-active {UNIT} && systemctl is-enabled {UNIT}").returncode == 0
    kubeconfig = sk.kubeconfig(tmp_path / "admin.conf")
    deadline = time.monotonic() + 120
    while not (nodes := kubectl_nodes(kubeconfig, retry_for=30)).get(w1.hostname, {}).get("ready"):
        assert time.monotonic() < deadline, f"{w1.hostname} not Ready again after the repair: {nodes}"
        time.sleep(2)

    again = sk("run").out
    assert again["repaired"] == [] and again["drift"] == [] and again["changed_hosts"] == [], again
    sk("reset", "--force")
