"""Why the kubeadm and binary resets remove the k8s.io images with ``ctr images rm --sync``: containerd
removes an image's snapshot dirs in its garbage collection, after the call returns, so a reset that stops
or restarts containerd right after a plain ``images rm`` may leave them on the host (seen in CI:
``/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1`` after `reset`). ``--sync`` waits
for that collection (containerd/containerd ``cmd/ctr/commands/images`` ``--sync``: "Synchronously remove
image and all associated resources"). Run against the machine's real containerd, on a private root."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import pytest
from sealkit_binary import plugin as binary_plugin
from sealkit_kubeadm import plugin as kubeadm_plugin

from tests.e2e.images import WEB
from tests.testimages.build import build_image, web_image

pytestmark = pytest.mark.lab  # root: containerd mounts its overlay snapshots


def _oci_archive(path: Path, work: Path) -> None:
    """The test web image (tests/testimages/build.py) as an OCI archive ``ctr images import`` reads."""
    layout = work / "layout"
    build_image(web_image(WEB), layout)
    with tarfile.open(path, "w") as tf:
        for entry in sorted(layout.iterdir()):
            tf.add(entry, arcname=entry.name)


def test_images_rm_sync_leaves_no_snapshot_dir_when_containerd_stops_right_after() -> None:
    if os.geteuid() != 0 or not (shutil.which("containerd") and shutil.which("ctr")):
        pytest.skip("needs root, containerd and ctr")
    for script in (kubeadm_plugin.containerd_reset_script(False), binary_plugin.reset_pods_script("ctr")):
        assert "images rm --sync" in script and "images rm >" not in script, script
    d = Path(tempfile.mkdtemp(prefix="skgc-", dir="/tmp"))  # short: unix socket paths are limited
    archive = d / "img.tar"
    _oci_archive(archive, d)
    (d / "config.toml").write_text(
        f'version = 2\nroot = "{d}/root"\nstate = "{d}/state"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{d}/s.sock"\n'
    )
    log = open(d / "containerd.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(["containerd", "--config", str(d / "config.toml")], stdout=log, stderr=log)
    snapshots = d / "root" / "io.containerd.snapshotter.v1.overlayfs" / "snapshots"
    ctr = ["ctr", "--address", str(d / "s.sock"), "-n", "k8s.io"]
    try:
        deadline = time.monotonic() + 60
        while not (d / "s.sock").exists():
            log_tail = (d / "containerd.log").read_text()[-2000:]
            assert proc.poll() is None and time.monotonic() < deadline, log_tail
            time.sleep(0.05)
        subprocess.run([*ctr, "images", "import", "--snapshotter", "overlayfs", str(archive)], check=True)
        assert list(snapshots.iterdir()), "the import unpacked no layer"
        refs = subprocess.run([*ctr, "images", "ls", "-q"], check=True, capture_output=True, text=True).stdout
        subprocess.run([*ctr, "images", "rm", "--sync", *refs.split()], check=True, capture_output=True)
    finally:
        proc.send_signal(signal.SIGTERM)  # at once, as a reset's restart or stop does
        proc.wait(30)
        log.close()
        left = sorted(p.name for p in snapshots.iterdir()) if snapshots.exists() else []
        mounts = [ln.split()[1] for ln in Path("/proc/mounts").read_text().splitlines()]
        for m in sorted((m for m in mounts if m.startswith(str(d))), key=len, reverse=True):
            subprocess.run(["umount", "-l", m], check=False)
        shutil.rmtree(d, ignore_errors=True)
    assert left == [], f"snapshot dirs left after images rm --sync and a stop: {left}"
