"""Test cluster images: real Kubefile builds whose bin/ holds CONTRACT FAKES of the runtime binaries.

Everything about the image is real (Kubefile, OCI store, labels, rootfs layout, the Distribution registry
binary in bin/registry for the embedded registry); only the Kubernetes binaries are the fakes of tests/fakes.

    python -m tests.e2e.images build --runtime k3s --version v1.30.4 --tag demo/k3s:v1.30.4
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from tests.fakes.bundle import bundle

#: the fakes each runtime's image carries (etcd for `binary` is Debian's real etcd)
FAKES_FOR = {
    "k3s": ("k3s",),
    "kubeadm": ("kubeadm", "kubelet"),
    "k0s": ("k0s",),
    "binary": ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"),
}
#: real binaries from Debian packages, copied into bin/ as a real image would ship them
REAL_BINARIES = {"registry": "/usr/bin/docker-registry"}
REAL_FOR = {
    "binary": {"etcd": "/usr/bin/etcd", "etcdctl": "/usr/bin/etcdctl", "kubectl": "/usr/bin/kubectl"},
    "kubeadm": {"kubectl": "/usr/bin/kubectl", "etcdctl": "/usr/bin/etcdctl"},
}

SUFFIX = {"k3s": "+k3s1", "k0s": "+k0s.0", "kubeadm": "", "binary": ""}


def make_context(directory: Path, runtime: str, version: str, *, with_images: bool = False) -> Path:
    """Lay out a build context: bin/ (fakes + real registry), optional images/oci, Kubefile."""
    bindir = directory / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    for name in FAKES_FOR[runtime]:
        bundle(name, bindir, version + SUFFIX[runtime])
    for name, src in {**REAL_BINARIES, **REAL_FOR.get(runtime, {})}.items():
        shutil.copy2(src, bindir / name)
    if with_images:
        from tests.lab_registry.oci_fixture import busybox_image

        busybox_image(directory / "images" / "oci", "docker.io/library/busybox:1.36")
    # a template rendered with the cluster env, and the three lifecycle scripts
    (directory / "etc").mkdir(exist_ok=True)
    (directory / "etc" / "e2e.conf.tmpl").write_text("greeting=${GREETING}\n")
    (directory / "scripts").mkdir(exist_ok=True)
    (directory / "scripts" / "check.sh").write_text("command -v sh >/dev/null || exit 1\n")
    (directory / "scripts" / "init.sh").write_text('echo "init saw GREETING=$GREETING" > init-ran\n')
    (directory / "scripts" / "clean.sh").write_text("echo cleaned > /tmp/sealkit-e2e-clean-ran\n")
    (directory / "Kubefile").write_text(
        "FROM scratch\n"
        "COPY bin ./bin\n"
        "COPY etc ./etc\n"
        "COPY scripts ./scripts\n"
        + ("COPY images ./images\n" if with_images else "")
        + f"LABEL sealkit.io/type=rootfs sealkit.io/runtime={runtime} "
        f"sealkit.io/version={version}{SUFFIX[runtime]}\n"
        "LABEL sealkit.io/scripts.check=scripts/check.sh sealkit.io/scripts.init=scripts/init.sh "
        "sealkit.io/scripts.clean=scripts/clean.sh\n"
        "ENV GREETING=hello\n"
    )
    return directory


def build(runtime: str, version: str, tag: str, *, with_images: bool = False) -> str:
    """Build the test image into the current ``$SEALKIT_HOME`` store; returns its digest."""
    from sealkit.image import default_store

    with tempfile.TemporaryDirectory(prefix="sealkit-testimage-") as tmp:
        ctx = make_context(Path(tmp), runtime, version, with_images=with_images)
        return default_store().build(ctx / "Kubefile", ctx, tag, fetch_images=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--runtime", required=True, choices=sorted(FAKES_FOR))
    b.add_argument("--version", required=True, help="like v1.30.4 (the runtime suffix is added)")
    b.add_argument("--tag", required=True)
    b.add_argument("--with-images", action="store_true", help="pack a busybox image in images/oci")
    ns = parser.parse_args(argv)
    print(build(ns.runtime, ns.version, ns.tag, with_images=ns.with_images))
    return 0


if __name__ == "__main__":
    sys.exit(main())
