"""Issue 15's done-when for the k3s runtime, on lab hosts: k3s runs workloads with what it embeds.

A `k3s` cluster image whose images/ holds a container image built offline from Debian packages; sealkit
syncs it into the embedded registry and writes /etc/rancher/k3s/registries.yaml; the fake k3s renders that
into its own containerd's config (agent/etc/containerd, socket /run/k3s/containerd/containerd.sock), its
embedded controller-manager and scheduler place the Deployment's pod, its kubelet pulls the image by its
ORIGINAL name through the mirror and runs it with runc, its kube-proxy answers the NodePort on every node.
Then: delete → no pod, no container; the image gone from the registry and the node → ImagePullBackOff;
`sealkit reset` (k3s-killall.sh-style) → no process, mount or file of ours on any host.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from sealkit.registry.mirrors import k3s_registries_yaml
from tests.e2e.driver import Sealkit, footprint, leftovers, support_range
from tests.fakes import fake_cri, fake_k3s
from tests.lab_registry.local_registry import local_registry, registry_binary
from tests.testimages.build import build_image, web_image
from tests.workloads.harness import KUBECTL, WEB, WebWorkload, kubectl, push_image, wait_for
from tests.workloads.test_lab_workloads import REGISTRY_REPOS, build_cluster_image

pytestmark = pytest.mark.lab

CTR = "ctr --address /run/k3s/containerd/containerd.sock -n k8s.io"
DATA_DIR = "/var/lib/rancher/k3s"


def k8s_cgroups() -> set[Path]:
    """The `k8s.io` cgroups runc makes for containers of that namespace (v2 root and v1 controllers)."""
    base = Path("/sys/fs/cgroup")
    return {c for c in [base / "k8s.io", *base.glob("*/k8s.io")] if c.is_dir()}


def test_k3s_runs_a_workload_from_the_cluster_image_and_reset_leaves_nothing(
    fresh_lab, tmp_path, monkeypatch
):
    if not KUBECTL["1.35"].exists():
        pytest.skip("kubectl 1.35 missing: run tests/testimages/tools.sh")
    runtime = "k3s"
    home = tmp_path / "home"
    monkeypatch.setenv("SEALKIT_HOME", str(home))
    _, newest = support_range(runtime)
    version = newest.split("+")[0].replace(".99", ".0")
    tag = build_cluster_image(home, runtime, version)
    lab = fresh_lab(2, systemd=True)
    m1, w1 = lab.hosts
    hosts = (m1, w1)
    clean = {h.name: footprint(lab, h) for h in hosts}
    sk = Sealkit(home, "k3s-workloads")
    sk(
        "--runtime",
        runtime,
        "run",
        tag,
        "--masters",
        m1.ip,
        "--nodes",
        w1.ip,
        "-i",
        str(m1.root_key),
        timeout=1200,
    )
    kc = sk.kubeconfig(tmp_path / "admin.conf")

    for h in hosts:  # k3s' own containerd, configured from registries.yaml, on every node
        conf = lab.exec_on(h, f"cat {DATA_DIR}/agent/etc/containerd/config.toml").stdout
        assert f'config_path = "{DATA_DIR}/agent/etc/containerd/certs.d"' in conf, (h.name, conf)
        assert "registry.configs." in conf and "username" in conf, (h.name, conf)
        hosts_toml = lab.exec_on(
            h, f"cat {DATA_DIR}/agent/etc/containerd/certs.d/docker.io/hosts.toml"
        ).stdout
        assert "[host." in hosts_toml, (h.name, hosts_toml)

    web = WebWorkload(kc)
    web.apply()
    web.wait_ready()
    web.wait_answers([h.ip for h in hosts])

    def our_containers() -> dict[str, list[str]]:
        out = {}
        for h in hosts:
            ls = lab.exec_on(h, f"{CTR} containers ls -q", check=False).stdout.split()
            out[h.name] = [c for c in ls if c.startswith("sealkit-fake-")]
        return out

    running = our_containers()
    assert any(running.values()), "the pod runs as a container of k3s' containerd"
    where = next(h for h in hosts if running[h.name])
    shims = lab.exec_on(where, "ps -eo args=").stdout
    assert f"{DATA_DIR}/data/" in shims and "/bin/containerd-shim-runc-v2" in shims, shims

    web.delete()
    wait_for("the containers to go", lambda: not any(our_containers().values()), 180)

    # a pod left running at reset: the k3s-killall-style reset must take its shim, container and mounts
    web_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "left-running", "namespace": "default"},
        "spec": {"containers": [{"name": "web", "image": WEB}]},
    }
    kubectl(kc, "apply", "-f", "-", stdin=json.dumps(web_pod))
    wait_for("a pod left running", lambda: any(our_containers().values()), 300, every=2)

    # the image deleted from the embedded registry and from the nodes' containerd: ImagePullBackOff
    for h in hosts:
        lab.exec_on(h, f"rm -rf {shlex.quote(REGISTRY_REPOS)}/sealkit-test", check=False)
        lab.exec_on(h, f"{CTR} images rm {shlex.quote(WEB)}", check=False)
    orphan = dict(web_pod, metadata={"name": "orphan", "namespace": "default"})
    kubectl(kc, "apply", "-f", "-", stdin=json.dumps(orphan))

    def reason() -> str:
        got = json.loads(kubectl(kc, "get", "pod", "orphan", "-o", "json"))
        cs = (got.get("status") or {}).get("containerStatuses") or [{}]
        return ((cs[0].get("state") or {}).get("waiting") or {}).get("reason", "")

    wait_for("ImagePullBackOff", lambda: reason() == "ImagePullBackOff", 300, every=2)

    sk("reset", "--force", timeout=900)
    for h in hosts:
        mounts = lab.exec_on(h, "cat /proc/mounts").stdout.splitlines()
        ours = [m for m in mounts if "/var/lib/kubelet" in m or "/run/k3s" in m or DATA_DIR in m]
        assert ours == [], (h.name, ours)
        left = leftovers(clean[h.name], footprint(lab, h))
        assert left == [], h.name + ":\n" + "\n".join(left)
        assert not Path(lab.upper_dir(h), DATA_DIR.lstrip("/")).exists(), h.name


def test_k3s_containerd_pulls_through_registries_yaml_and_starts_shims_from_its_data_dir(
    tmp_path, monkeypatch
):
    """Loopback (root, no lab hosts): the containerd the fake k3s starts, configured from the registries.yaml
    sealkit renders, pulls an image by its original name with the mirror's credentials and CA, fails a
    missing one, and runs a container whose shim program lives under <data-dir>/data/*/bin (where
    k3s-killall.sh finds it)."""
    binary = registry_binary()
    if os.geteuid() != 0 or not (binary and shutil.which("containerd") and shutil.which("skopeo")):
        pytest.skip("needs root, containerd, skopeo and docker-registry")
    layout = tmp_path / "oci"
    build_image(web_image(WEB), layout)
    root = Path(tempfile.mkdtemp(prefix="k3r-", dir="/tmp"))  # short: unix socket paths are limited
    cgroups_before = k8s_cgroups()
    with local_registry(tmp_path / "registry", binary) as registry:
        push_image(layout, WEB, registry)
        monkeypatch.setenv("SEALKIT_FAKE_ROOT", str(root))
        monkeypatch.setenv("CONTAINERD_SNAPSHOTTER", "native")
        mirror = dataclasses.replace(registry.info, domain="127.0.0.1")
        reg = root / "etc/rancher/k3s/registries.yaml"
        reg.parent.mkdir(parents=True)
        reg.write_text(k3s_registries_yaml(mirror, ["docker.io"], str(registry.ca_file)))
        p = fake_k3s.Paths("/var/lib/rancher/k3s")
        configs = fake_k3s.check_registries("/etc/rancher/k3s/registries.yaml", p)
        containerd = fake_k3s.K3sContainerd(p, "native", shutil.which("containerd") or "")
        cid = "sealkit-fake-k3s-shim-check"
        try:
            ctr = containerd.start(configs)
            ctr.pull(WEB)
            assert ctr.has_image(WEB)
            with pytest.raises(fake_cri.PullError):
                ctr.pull("docker.io/sealkit-test/never-synced:1.0")
            with open(tmp_path / "c.log", "wb") as log:
                proc = ctr.start(cid, WEB, ["/bin/busybox", "sleep", "60"], {}, [], "", log, {})
            shim = fake_k3s.shim_program(p)

            def shim_runs() -> bool:
                return fake_k3s.shim_running(shim)

            wait_for(f"a shim {shim}", shim_runs, 60)
        finally:
            if containerd.proc is not None and containerd.proc.poll() is None:
                fake_cri.Ctr(p.containerd_sock, p.containerd_config).remove(cid)
            containerd.stop()
            mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
            for m in sorted((m for m in mounts if m.startswith(str(root))), key=len, reverse=True):
                subprocess.run(["umount", "-l", m], check=False)
            for cg in k8s_cgroups() - cgroups_before:
                with contextlib.suppress(OSError):
                    cg.rmdir()
            shutil.rmtree(root, ignore_errors=True)
    assert proc.wait(30) is not None
