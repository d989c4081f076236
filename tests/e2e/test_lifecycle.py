"""The whole cluster lifecycle, per runtime, on systemd lab hosts, driven through the real CLI.

Releases come from each runtime plugin's declared support range (RuntimeInfo): the full lifecycle installs
the minor before the newest and upgrades to the newest; the oldest release gets install → upgrade → reset
(test_oldest_release_installs_and_upgrades), which keeps CI's time in bounds.

run 1m+1w → kubectl lists both, `check` passes → re-run sends 0 bytes → a Deployment of an image that only
the cluster image carries + a NodePort Service, applied with kubectl 1.35: Ready, answering on every node,
and kept running (Ready again, answering, after the upgrade) → add a worker (journal: only the
new host, plus LB/registry sync elsewhere) → delete it (gone, host clean) → upgrade one minor (every node on
the new version, certificates still ≥ 99 years) → reset (no file, process or mount of ours on any host;
no pod container, snapshot or mount under the runtime's dirs).
Then 3 masters + 2 workers through the HA endpoint with a master down, and a controller SIGKILLed mid-join.

The runtime binaries in the cluster images are CONTRACT FAKES (tests/fakes); everything else is real.
"""

from __future__ import annotations

import base64
import signal
import socket
import ssl
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.driver import (
    Sealkit,
    build_images,
    footprint,
    kubectl_nodes,
    leftovers,
    pod_leftovers,
    spans,
)
from tests.workloads.harness import WEB_PAGE, WebWorkload, wait_for

pytestmark = pytest.mark.lab

RUNTIMES = ["k3s", "kubeadm", "k0s", "binary"]
#: phases that may act on hosts other than the one being added: the node-local LBs learn about new
#: masters, the registry host confirms the images are in sync (a no-op that pushes nothing)
SHARED_PHASES = {"lb", "images"}
NINETY_NINE_YEARS = 99 * 365


@pytest.fixture(scope="module")
def images_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, str]]]:
    """One $SEALKIT_HOME per runtime holding its two test images, built on first use."""

    class Cache(dict):  # type: ignore[type-arg]
        def __missing__(self, runtime: str) -> tuple[Path, dict[str, str]]:
            home = tmp_path_factory.mktemp(f"home-{runtime}")
            self[runtime] = (home, build_images(home, runtime))
            return self[runtime]

    return Cache()


def _ips(hosts) -> str:
    return ",".join(h.ip for h in hosts)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_lifecycle(runtime, fresh_lab, images_home, tmp_path):
    home, refs = images_home[runtime]
    span = spans(runtime)["newest"]
    lab = fresh_lab(3, systemd=True)
    m1, w1, w2 = lab.hosts
    key = str(m1.root_key)
    clean = {h.name: footprint(lab, h) for h in lab.hosts}
    sk = Sealkit(home, f"life-{runtime}")

    out = sk("--runtime", runtime, "run", refs[span.old], "--masters", m1.ip, "--nodes", w1.ip, "-i", key).out
    assert out["masters"] == [m1.ip] and out["nodes"] == [w1.ip]
    assert out["bytes_sent"] > 0
    # the image's template got the image's ENV default; its init script ran in the rootfs with that env
    rootfs = "/var/lib/sealkit/rootfs"
    for h in (m1, w1):
        assert lab.exec_on(h, f"cat {rootfs}/etc/e2e.conf").stdout == "greeting=hello\n"
        assert lab.exec_on(h, f"cat {rootfs}/init-ran").stdout == "init saw GREETING=hello\n"
    kubeconfig = sk.kubeconfig(tmp_path / "admin.conf")
    nodes = kubectl_nodes(kubeconfig)
    assert set(nodes) == {m1.hostname, w1.hostname}
    assert all(n["ready"] for n in nodes.values()), nodes

    checked = sk("check").out
    assert checked["failed"] == 0 and checked["passed"] >= 4, checked

    # a re-run has nothing to do: not a byte is sent, no host changes
    again = sk("run").out
    assert again["bytes_sent"] == 0, again
    assert again["changed_hosts"] == [], again

    # a workload from the cluster image's images/ only (so it came through the embedded registry and the
    # mirror config sealkit wrote), applied with the real kubectl: Ready, its NodePort answers on every node
    web = WebWorkload(kubeconfig)
    took = time.monotonic()
    web.apply()
    web.wait_ready()
    web.wait_answers([m1.ip, w1.ip])
    cluster_ip = web.cluster_ip()
    for h in (m1, w1):  # the node itself (and so a host-network pod) reaches the Service's ClusterIP

        def page(h=h) -> str:
            return lab.exec_on(h, f"curl -s -m 5 http://{cluster_ip}/", check=False).stdout

        assert wait_for(f"ClusterIP {cluster_ip} from {h.name}", page, 60, every=0.5) == WEB_PAGE
    workload_seconds = time.monotonic() - took

    # add: only the new worker is worked on (shared phases excepted)
    added = sk("add", "--nodes", w2.ip).out
    assert added["changed_hosts"] == [w2.ip]
    elsewhere = [
        (e["phase"], e["host"], e["step"])
        for e in sk.journal(added["run"])
        if e["host"] not in (None, "-", w2.ip) and e["phase"] not in SHARED_PHASES
    ]
    assert elsewhere == [], f"add touched existing hosts: {elsewhere}"
    assert w2.hostname in kubectl_nodes(kubeconfig)
    web.wait_ready(60)  # still running

    # delete: drained away, and its host is as clean as before the run
    deleted = sk("delete", "--nodes", w2.ip, "--force")
    assert w2.hostname not in kubectl_nodes(kubeconfig), deleted.err[-4000:]
    left = leftovers(clean[w2.name], footprint(lab, w2))
    assert left == [], "\n".join(left)
    web.wait_ready(60)

    # upgrade one minor: every node on the new version, our certificates untouched
    up = sk("upgrade", refs[span.new]).out
    assert up["version"].startswith(span.new)
    nodes = kubectl_nodes(kubeconfig)
    assert {n["version"].split("+")[0] for n in nodes.values()} == {span.new}, nodes
    certs = sk("cert", "check").out
    assert certs, "cert check listed no certificates"
    assert [c for c in certs if c["days_left"] is None] == []  # every listed file is on its host
    assert min(int(c["days_left"]) for c in certs) >= NINETY_NINE_YEARS
    # the workload runs again on the upgraded nodes: Ready, and served again through every NodePort
    took = time.monotonic()
    web.wait_ready()
    web.wait_answers([m1.ip, w1.ip])
    workload_seconds += time.monotonic() - took
    print(f"{runtime}: workload steps took {workload_seconds:.1f}s")

    # skipping back is refused, before any host is touched
    refused = sk("upgrade", refs[span.old], check=False)
    assert refused.rc == 2 and "downgrade" in refused.err

    # reset: the image's clean script runs first, then nothing of ours remains anywhere
    sk("reset", "--force")
    for h in (m1, w1):
        assert lab.exec_on(h, "cat /tmp/sealkit-e2e-clean-ran").stdout == "cleaned\n"
    for h in (m1, w1, w2):  # the running workload left no container, snapshot or mount anywhere
        left = pod_leftovers(lab, h, runtime)
        assert left == [], h.name + ":\n" + "\n".join(left)
    for h in (m1, w1):
        left = leftovers(clean[h.name], footprint(lab, h))
        assert left == [], h.name + ":\n" + "\n".join(left)
    assert not (home / "clusters" / sk.cluster).exists()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_oldest_release_installs_and_upgrades(runtime, fresh_lab, images_home, tmp_path):
    """The oldest supported release: 1 master + 1 worker, upgraded one minor, reset clean."""
    home, refs = images_home[runtime]
    span = spans(runtime)["oldest"]
    lab = fresh_lab(2, systemd=True)
    m1, w1 = lab.hosts
    clean = {h.name: footprint(lab, h) for h in lab.hosts}
    sk = Sealkit(home, f"oldest-{runtime}")
    sk(
        "--runtime",
        runtime,
        "run",
        refs[span.old],
        "--masters",
        m1.ip,
        "--nodes",
        w1.ip,
        "-i",
        str(m1.root_key),
    )
    kubeconfig = sk.kubeconfig(tmp_path / "admin.conf")
    nodes = kubectl_nodes(kubeconfig)
    assert {n["version"].split("+")[0] for n in nodes.values()} == {span.old}, nodes
    assert all(n["ready"] for n in nodes.values()), nodes
    up = sk("upgrade", refs[span.new]).out
    assert up["version"].startswith(span.new)
    nodes = kubectl_nodes(kubeconfig)
    assert {n["version"].split("+")[0] for n in nodes.values()} == {span.new}, nodes
    sk("reset", "--force")
    for h in (m1, w1):
        left = leftovers(clean[h.name], footprint(lab, h))
        assert left == [], h.name + ":\n" + "\n".join(left)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_three_masters_survive_losing_one(runtime, fresh_lab, images_home, tmp_path):
    home, refs = images_home[runtime]
    span = spans(runtime)["newest"]
    lab = fresh_lab(5, systemd=True)
    masters, workers = lab.hosts[:3], lab.hosts[3:]
    sk = Sealkit(home, f"ha-{runtime}")
    key = str(masters[0].root_key)
    hosts = ("--masters", _ips(masters), "--nodes", _ips(workers))
    sk("--runtime", runtime, "run", refs[span.old], *hosts, "-i", key)
    sk.kubeconfig(tmp_path / "admin.conf")
    names = {h.hostname for h in lab.hosts}
    assert set(kubectl_nodes(tmp_path / "admin.conf")) == names
    assert sk("check").out["failed"] == 0

    # the first master dies; the cluster is still served by the others
    lab.stop_host(masters[0])
    down = sk("status", check=False)
    assert down.rc == 4, down  # a host is unreachable: status says so in its exit code and its rows
    status = {row["host"]: row for row in down.out}
    assert status[masters[0].ip]["reachable"] is False and status[masters[0].ip]["reason"], status
    for other in masters[1:]:
        nodes = kubectl_nodes(tmp_path / "admin.conf", server=f"https://{other.ip}:6443", retry_for=90)
        assert set(nodes) == names
    # a fresh kubeconfig comes from, and points at, a master that is up
    assert set(kubectl_nodes(sk.kubeconfig(tmp_path / "after.conf"), retry_for=90)) == names
    lb = status[workers[0].ip]["lb"]
    if lb:  # sealkit's node-local LB (kubeadm, binary): a worker reaches the API through it
        assert f"{masters[0].ip}:6443=DOWN" in lb or f"{masters[0].ip}:6443=MAINT" in lb, lb
        conf = (tmp_path / "admin.conf").read_text()
        lab.exec_on(workers[0], "cat > /root/admin.conf && chmod 600 /root/admin.conf", input=conf)
        ha = sk.home / "clusters" / sk.cluster / "Clusterfile"
        vip = next(line.split(":")[1].strip() for line in ha.read_text().splitlines() if "vip:" in line)
        res = lab.exec_on(
            workers[0],
            # the same retry as kubectl_nodes: the API may still be electing an etcd leader
            f"for i in $(seq 45); do kubectl --kubeconfig /root/admin.conf --server https://{vip}:6443 "
            "get nodes -o name && exit 0; sleep 2; done; exit 1",
            check=False,
            timeout=150,
        )
        assert res.returncode == 0, res.stderr
        assert {line.split("/")[1] for line in res.stdout.split()} == names


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_controller_killed_during_join_then_rerun_converges(runtime, fresh_lab, images_home, tmp_path):
    home, refs = images_home[runtime]
    span = spans(runtime)["newest"]
    lab = fresh_lab(3, systemd=True)
    m1, *workers = lab.hosts
    sk = Sealkit(home, f"kill-{runtime}")
    args = ("--runtime", runtime, "run", refs[span.old], "--masters", m1.ip, "--nodes", _ips(workers))
    args += ("-e", "GREETING=from-the-command-line")  # -e overrides the image's ENV default
    proc = sk.popen(*args, "-i", str(m1.root_key))
    seen = []
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("phase join-nodes"):
            time.sleep(0.3)  # let the joins start on the hosts
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)

    out = sk("run").out  # same cluster, no flags: resumes from the saved Clusterfile and journal
    assert sorted(out["nodes"]) == sorted(h.ip for h in workers)
    nodes = kubectl_nodes(sk.kubeconfig(tmp_path / "admin.conf"))
    assert set(nodes) == {h.hostname for h in lab.hosts}
    assert all(n["ready"] for n in nodes.values())
    assert sk("check").out["failed"] == 0
    assert sk("run").out["changed_hosts"] == []
    conf = lab.exec_on(workers[-1], "cat /var/lib/sealkit/rootfs/etc/e2e.conf").stdout
    assert conf == "greeting=from-the-command-line\n"


@pytest.mark.parametrize("runtime", ["kubeadm"])
def test_adding_and_deleting_a_master_updates_every_workers_lb(runtime, fresh_lab, images_home, tmp_path):
    """The node-local LBs follow the masters through `add --masters` / `delete --masters` (read back from
    each worker's running haproxy), and nothing else on the workers is touched."""
    home, refs = images_home[runtime]
    span = spans(runtime)["newest"]
    lab = fresh_lab(4, systemd=True)
    m1, m2, w1, w2 = lab.hosts
    sk = Sealkit(home, f"lb-{runtime}")
    key = str(m1.root_key)
    sk("--runtime", runtime, "run", refs[span.old], "--masters", m1.ip, "--nodes", _ips([w1, w2]), "-i", key)

    def lb_backends() -> dict[str, set[str]]:
        rows = {row["host"]: row for row in sk("status").out}
        return {w.ip: {b.split("=")[0] for b in rows[w.ip]["lb"].split(", ")} for w in (w1, w2)}

    assert lb_backends() == {w.ip: {f"{m1.ip}:6443"} for w in (w1, w2)}
    added = sk("add", "--masters", m2.ip).out
    assert m2.ip in added["changed_hosts"] and set(added["changed_hosts"]) <= {m2.ip, w1.ip, w2.ip}
    worker_steps = {e["phase"] for e in sk.journal(added["run"]) if e["host"] in (w1.ip, w2.ip)}
    assert worker_steps <= {"lb"}, worker_steps
    assert lb_backends() == {w.ip: {f"{m1.ip}:6443", f"{m2.ip}:6443"} for w in (w1, w2)}
    assert m2.hostname in kubectl_nodes(sk.kubeconfig(tmp_path / "admin.conf"))

    sk("delete", "--masters", m2.ip, "--force")
    assert lb_backends() == {w.ip: {f"{m1.ip}:6443"} for w in (w1, w2)}
    assert m2.hostname not in kubectl_nodes(tmp_path / "admin.conf")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_alt_names_added_to_a_live_cluster_verify(runtime, fresh_lab, images_home, tmp_path):
    """`cert --alt-names` on a running cluster: the apiserver then presents a certificate that a client
    connecting as the new name verifies against the cluster CA (from our admin kubeconfig). `cert renew`
    then makes it serve a newly signed certificate that keeps the name and the lifetime."""
    home, refs = images_home[runtime]
    span = spans(runtime)["newest"]
    lab = fresh_lab(1, systemd=True)
    (m1,) = lab.hosts
    sk = Sealkit(home, f"san-{runtime}")
    sk("--runtime", runtime, "run", refs[span.old], "--masters", m1.ip, "-i", str(m1.root_key))
    conf = yaml.safe_load(sk.kubeconfig(tmp_path / "admin.conf").read_text())
    ca = base64.b64decode(conf["clusters"][0]["cluster"]["certificate-authority-data"]).decode()

    served: list[bytes] = []

    def handshake(name: str) -> str | None:
        tls = ssl.create_default_context(cadata=ca)
        try:
            with (
                socket.create_connection((m1.ip, 6443), timeout=5) as raw,
                tls.wrap_socket(raw, server_hostname=name) as conn,
            ):
                served.append(conn.getpeercert(binary_form=True) or b"")
                return None
        except (ssl.SSLError, OSError) as err:
            return str(err)

    assert handshake(m1.ip) is None
    assert handshake("new.example") is not None  # not a name of the apiserver yet
    sk("cert", "--alt-names", "new.example")
    deadline = time.monotonic() + 90  # the apiserver restarts with the new certificate
    while (err := handshake("new.example")) is not None and time.monotonic() < deadline:
        time.sleep(2)
    assert err is None, err
    checked = sk("cert", "check").out
    assert any("new.example" in c["sans"] for c in checked if not c["file"].endswith("(served)"))
    (served_now,) = [c for c in checked if c["file"] == f"https://{m1.ip}:6443 (served)"]
    assert "new.example" in served_now["sans"], served_now

    before = served[-1]
    renewed = sk("cert", "renew").out
    if runtime in ("k3s", "k0s"):  # they mint the serving certificate themselves
        assert list(renewed["renewed_by_runtime"]) == [m1.ip]
    deadline = time.monotonic() + 90
    while ((err := handshake("new.example")) is not None or served[-1] == before) and (
        time.monotonic() < deadline
    ):
        time.sleep(2)
    assert err is None and served[-1] != before, err or "the apiserver still serves the old certificate"
    certs = sk("cert", "check").out
    assert [c for c in certs if c["days_left"] is None] == []
    assert min(int(c["days_left"]) for c in certs) >= NINETY_NINE_YEARS
