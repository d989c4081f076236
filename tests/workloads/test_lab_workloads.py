"""Issue 15's done-when on lab hosts: a cluster installed by `sealkit run` runs a real workload.

A `binary`-runtime cluster image whose images/ holds a container image built offline from Debian
packages (tests/testimages) and nothing else; sealkit syncs it into the embedded registry and
writes containerd's mirror config; kubectl 1.35 applies a Deployment + NodePort Service by the
image's ORIGINAL name. The fake kubelet pulls through the host's real containerd and runs it with
runc; the fake kube-proxy on every host answers the NodePort. Then: delete → no pod, no
container; the image deleted from the embedded registry (and the node) → ImagePullBackOff.
Why `binary`: its hosts run the kubelet against their own containerd and kube-proxy as a unit on
every host, masters included (the fake kubeadm's kube-proxy DaemonSet lacks kubeadm's
`tolerations: [{operator: Exists}]`, so it would skip a tainted master).
"""

from __future__ import annotations

import json
import shlex
import tempfile
from pathlib import Path

import pytest

from tests.e2e.driver import Sealkit, footprint, leftovers, support_range
from tests.e2e.images import make_context
from tests.workloads.harness import KUBECTL, WEB, WebWorkload, kubectl, wait_for

pytestmark = pytest.mark.lab

REGISTRY_REPOS = "/var/lib/sealkit/registry/docker/registry/v2/repositories"
SNAPSHOTS = "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots"


def build_cluster_image(home: Path, runtime: str, version: str) -> str:
    """The runtime's test image with the web image in images/oci (make_context packs it); returns the tag."""
    from sealkit.image import default_store

    tag = f"workloads/{runtime}:{version}"
    with tempfile.TemporaryDirectory(prefix="sealkit-workloads-") as tmp:
        ctx = make_context(Path(tmp), runtime, version, with_images=True)
        default_store().build(ctx / "Kubefile", ctx, tag, fetch_images=False)
    return tag


def test_workload_from_the_cluster_image_runs_and_goes(fresh_lab, tmp_path, monkeypatch):
    if not KUBECTL["1.35"].exists():
        pytest.skip("kubectl 1.35 missing: run tests/testimages/tools.sh")
    runtime = "binary"
    home = tmp_path / "home"
    monkeypatch.setenv("SEALKIT_HOME", str(home))
    _, newest = support_range(runtime)
    version = newest.split("+")[0].replace(".99", ".0")
    tag = build_cluster_image(home, runtime, version)
    lab = fresh_lab(2, systemd=True)
    m1, w1 = lab.hosts
    clean = {h.name: footprint(lab, h) for h in lab.hosts}
    sk = Sealkit(home, "workloads")
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

    web = WebWorkload(kc)
    web.apply()
    web.wait_ready()
    web.wait_answers([m1.ip, w1.ip])

    def our_containers() -> dict[str, list[str]]:
        out = {}
        for h in (m1, w1):
            ls = lab.exec_on(h, "ctr -n k8s.io containers ls -q", check=False).stdout.split()
            out[h.name] = [c for c in ls if c.startswith("sealkit-fake-")]
        return out

    assert any(our_containers().values()), "the pod runs as a containerd container on a host"
    web.delete()
    wait_for("the containers to go", lambda: not any(our_containers().values()), 180)

    # the image deleted from the embedded registry (and from the nodes' containerd): ImagePullBackOff
    for h in (m1, w1):
        lab.exec_on(h, f"rm -rf {shlex.quote(REGISTRY_REPOS)}/sealkit-test", check=False)
        lab.exec_on(h, f"ctr -n k8s.io images rm {shlex.quote(WEB)}", check=False)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "orphan", "namespace": "default"},
        "spec": {"containers": [{"name": "web", "image": WEB}]},
    }
    kubectl(kc, "apply", "-f", "-", stdin=json.dumps(pod))

    def reason() -> str:
        got = json.loads(kubectl(kc, "get", "pod", "orphan", "-o", "json"))
        cs = (got.get("status") or {}).get("containerStatuses") or [{}]
        return ((cs[0].get("state") or {}).get("waiting") or {}).get("reason", "")

    wait_for("ImagePullBackOff", lambda: reason() == "ImagePullBackOff", 300, every=2)
    kubectl(kc, "delete", "pod", "orphan", "--wait=true")

    sk("reset", "--force", timeout=900)
    for h in (m1, w1):
        # no container, snapshot or mount of a pod is left (the lab's own /var/lib/containerd bind
        # mount is the host's, not ours)
        mounts = lab.exec_on(h, "cat /proc/mounts").stdout.splitlines()
        ours = [m for m in mounts if "/var/lib/kubelet" in m or "/run/containerd/io.containerd" in m]
        assert ours == [], (h.name, ours)
        snaps = lab.exec_on(
            h, f"ls {SNAPSHOTS} 2>/dev/null; ls /var/lib/kubelet/pods 2>/dev/null", check=False
        ).stdout.split()
        assert snaps == [], (h.name, snaps)
        left = leftovers(clean[h.name], footprint(lab, h))
        cni = lab.exec_on(h, "ls -laR /etc/cni 2>&1", check=False).stdout
        assert left == [], h.name + ":\n" + "\n".join(left) + "\n" + cni
