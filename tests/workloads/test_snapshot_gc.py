"""Why the kubeadm and binary resets remove the k8s.io images with ``ctr images rm --sync``: containerd
removes an image's snapshot dirs in its garbage collection, after the call returns, so a reset that stops
or restarts containerd right after a plain ``images rm`` may leave them on the host (seen in CI:
``/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1`` after `reset`). ``--sync`` waits
for that collection (containerd/containerd ``cmd/ctr/commands/images`` ``--sync``: "Synchronously remove
image and all associated resources"). Run against the machine's real containerd, on a private root."""

from __future__ import annotations

import hashlib
import io
import json
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

pytestmark = pytest.mark.lab  # root: containerd mounts its overlay snapshots


def _oci_archive(path: Path) -> None:
    """A one-layer OCI image archive (1 MiB of random data), named docker.io/x/gc:1."""
    with tarfile.open(path, "w") as tf:

        def blob(data: bytes) -> str:
            digest = hashlib.sha256(data).hexdigest()
            info = tarfile.TarInfo(f"blobs/sha256/{digest}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
            return digest

        layer_buf = io.BytesIO()
        with tarfile.open(fileobj=layer_buf, mode="w") as layer_tar:
            data = os.urandom(1 << 20)
            info = tarfile.TarInfo("hello")
            info.size = len(data)
            layer_tar.addfile(info, io.BytesIO(data))
        layer = layer_buf.getvalue()
        layer_d = blob(layer)
        rootfs = {"type": "layers", "diff_ids": [f"sha256:{layer_d}"]}
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": rootfs}).encode()
        config_d = blob(config)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": f"sha256:{config_d}",
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": f"sha256:{layer_d}",
                        "size": len(layer),
                    }
                ],
            }
        ).encode()
        manifest_d = blob(manifest)
        index = {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": f"sha256:{manifest_d}",
                    "size": len(manifest),
                    "annotations": {"org.opencontainers.image.ref.name": "docker.io/x/gc:1"},
                }
            ],
        }
        layout = b'{"imageLayoutVersion":"1.0.0"}'
        for name, content in (("index.json", json.dumps(index).encode()), ("oci-layout", layout)):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tf.addfile(info, io.BytesIO(content))


def test_images_rm_sync_leaves_no_snapshot_dir_when_containerd_stops_right_after() -> None:
    if os.geteuid() != 0 or not (shutil.which("containerd") and shutil.which("ctr")):
        pytest.skip("needs root, containerd and ctr")
    for script in (kubeadm_plugin.containerd_reset_script(False), binary_plugin.reset_pods_script("ctr")):
        assert "images rm --sync" in script and "images rm >" not in script, script
    d = Path(tempfile.mkdtemp(prefix="skgc-", dir="/tmp"))  # short: unix socket paths are limited
    archive = d / "img.tar"
    _oci_archive(archive)
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
        assert len(list(snapshots.iterdir())) == 1  # the layer, unpacked
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
