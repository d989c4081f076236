"""Test cluster images: real Kubefile builds whose bin/ holds CONTRACT FAKES of the runtime binaries.

Everything about the image is real (Kubefile, OCI store, labels, rootfs layout, the Distribution registry
binary in bin/registry for the embedded registry); only the Kubernetes binaries are the fakes of tests/fakes.

    python -m tests.e2e.images build --runtime k3s --version v1.30.4 --tag demo/k3s:v1.30.4
    python -m tests.e2e.images app --example redis --tag demo/redis:7.0

`app` builds an example app image of tests/apps/examples with `sealkit build --images-from`: its
container images are built offline from Debian packages (tests/testimages) under the names its
manifests use.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.fakes.bundle import bundle
from tests.testimages.build import ImageSpec, build_image, redis_image, web_image

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

#: the web image packed with --with-images (tests.workloads.harness serves and probes it)
WEB = "docker.io/sealkit-test/web:1.0"

SUFFIX = {"k3s": "+k3s1", "k0s": "+k0s.0", "kubeadm": "", "binary": ""}

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "tests" / "apps" / "examples"


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
        # a runnable web server (busybox httpd from Debian's busybox-static): the workload the e2e
        # lifecycle keeps running; it exists only in this image's images/, so a pod can only get it
        # through the embedded registry and the mirror config sealkit wrote
        build_image(web_image(WEB), directory / "images" / "oci")
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


def example_images(example: str) -> list[ImageSpec]:
    """The container images an example app's manifests name, built from Debian packages."""
    specs = {
        "redis": [redis_image("localhost/sealkit-examples/redis:7.0")],
        "hello": [web_image("localhost/sealkit-examples/busybox:1.36")],
    }
    if example not in specs:
        raise ValueError(f"no example app {example!r}; one of {sorted(specs)}")
    return specs[example]


def build_app(example: str, tag: str, *, version: str = "", home: Path | None = None) -> str:
    """Build ``tests/apps/examples/EXAMPLE`` as ``tag`` into ``home`` (default: the current
    ``$SEALKIT_HOME``); ``version`` replaces the Kubefile's ``sealkit.io/version`` (an upgrade is a
    new image). Returns the build's output."""
    with tempfile.TemporaryDirectory(prefix="sealkit-app-") as tmp:
        ctx = Path(tmp) / example
        shutil.copytree(EXAMPLES / example, ctx)
        if version:
            kubefile = ctx / "Kubefile"
            text, n = re.subn(
                r"sealkit\.io/version=\S+", f"sealkit.io/version={version}", kubefile.read_text()
            )
            if n != 1:
                raise ValueError(f"{kubefile}: expected one sealkit.io/version label, found {n}")
            kubefile.write_text(text)
        return build_app_context(ctx, tag, example_images(example), home=home)


def build_app_context(context: Path, tag: str, images: list[ImageSpec], *, home: Path | None = None) -> str:
    """``sealkit build -f CONTEXT/Kubefile -t TAG --images-from LAYOUT CONTEXT`` through the real CLI,
    LAYOUT holding ``images`` (built offline from Debian packages)."""
    with tempfile.TemporaryDirectory(prefix="sealkit-app-images-") as tmp:
        layout = Path(tmp) / "oci"
        for spec in images:
            build_image(spec, layout)
        env = {**os.environ, **({"SEALKIT_HOME": str(home)} if home else {})}
        argv = [sys.executable, "-m", "sealkit", "build", "-f", str(context / "Kubefile"), "-t", tag]
        proc = subprocess.run(
            [*argv, "--images-from", str(layout), str(context)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"sealkit build {tag} exited {proc.returncode}: {proc.stderr[-3000:]}")
    return proc.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--runtime", required=True, choices=sorted(FAKES_FOR))
    b.add_argument("--version", required=True, help="like v1.30.4 (the runtime suffix is added)")
    b.add_argument("--tag", required=True)
    b.add_argument(
        "--with-images", action="store_true", help="pack a busybox and the web image in images/oci"
    )
    a = sub.add_parser("app", help="build an example app image of tests/apps/examples")
    a.add_argument("--example", required=True, choices=("redis", "hello"))
    a.add_argument("--tag", required=True)
    a.add_argument("--version", default="", help="replace the Kubefile's sealkit.io/version label")
    ns = parser.parse_args(argv)
    if ns.cmd == "app":
        sys.stdout.write(build_app(ns.example, ns.tag, version=ns.version))
        return 0
    print(build(ns.runtime, ns.version, ns.tag, with_images=ns.with_images))
    return 0


if __name__ == "__main__":
    sys.exit(main())
