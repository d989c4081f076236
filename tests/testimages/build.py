"""Container images for tests, built offline from Debian packages into an OCI layout (test-only).

Why: the lab has no internet, yet workloads must really run from images that travel through
sealkit's registry. An image here is one layer holding the files of some Debian packages plus
every shared library their ELF files need (resolved with `ldd`, the dynamic loader included), so
it runs on any Linux host. Packages already installed on the machine are read from `dpkg -L`;
others are fetched with `apt-get download` into a temp dir and unpacked with `dpkg-deb -x`,
which installs nothing.

    python -m tests.testimages.build --out DIR web redis
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealkit.image.layout import OciLayout
from sealkit.image.oci import (
    ANNOT_REF_NAME,
    OCI_CONFIG,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    canonical_json,
    descriptor,
    host_arch,
)

# what never belongs in a test image (docs, manpages, maintainer scripts' helpers)
_SKIP = re.compile(r"^(usr/share/(doc|man|info|lintian|bug)|etc/init\.d|lib/systemd|usr/lib/systemd)(/|$)")


@dataclass
class ImageSpec:
    """One test image: packages to take files from, extra files, and the OCI config."""

    name: str
    packages: tuple[str, ...]
    config: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    dirs: tuple[str, ...] = ("tmp", "var/run", "data")


def web_image(
    name: str = "docker.io/sealkit-test/web:1.0", page: str = "hello from sealkit-test/web\n"
) -> ImageSpec:
    """busybox httpd on :8080 serving /www (busybox-static is a machine package)."""
    return ImageSpec(
        name=name,
        packages=("busybox-static",),
        files={"www/index.html": page.encode()},
        links={"bin/sh": "busybox"},
        config={
            "Entrypoint": ["/bin/busybox"],
            "Cmd": ["httpd", "-f", "-v", "-p", "8080", "-h", "/www"],
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
            "ExposedPorts": {"8080/tcp": {}},
        },
    )


def redis_image(name: str = "docker.io/sealkit-test/redis:7") -> ImageSpec:
    """Debian's redis-server and redis-cli with their libraries (libjemalloc2, liblzf1, …)."""
    return ImageSpec(
        name=name,
        packages=("redis-server", "redis-tools", "libjemalloc2", "liblzf1", "busybox-static"),
        links={"bin/sh": "busybox"},
        config={
            "Entrypoint": ["/usr/bin/redis-server"],
            "Cmd": ["--bind", "0.0.0.0", "--port", "6379", "--dir", "/data", "--protected-mode", "no"],
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
            "ExposedPorts": {"6379/tcp": {}},
            "WorkingDir": "/data",
        },
    )


IMAGES = {"web": web_image, "redis": redis_image}


def installed(package: str) -> bool:
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return proc.returncode == 0 and "install ok installed" in proc.stdout


def package_root(package: str, work: Path) -> Path:
    """A directory holding the package's files: `/` for installed packages, else an unpacked .deb."""
    if installed(package):
        return Path("/")
    dest = work / f"pkg-{package}"
    if dest.exists():
        return dest
    debs = work / "debs"
    debs.mkdir(exist_ok=True)
    proc = subprocess.run(
        ["apt-get", "download", package], cwd=debs, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"apt-get download {package} failed: {proc.stderr.strip()} "
            "(the machine needs its apt lists: apt-get update)"
        )
    deb = next(debs.glob(f"{package}_*.deb"))
    dest.mkdir()
    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True, capture_output=True)
    return dest


def package_files(package: str, root: Path) -> list[str]:
    """Relative paths (no leading /) of the package's regular files and symlinks."""
    if root == Path("/"):
        out = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=True).stdout
        paths = [p.lstrip("/") for p in out.splitlines() if p.strip() and p != "/."]
    else:
        paths = [str(p.relative_to(root)) for p in root.rglob("*")]
    keep = []
    for rel in paths:
        full = root / rel
        if _SKIP.match(rel) or not (full.is_file() or full.is_symlink()):
            continue
        if root == Path("/") and "/" not in rel and full.is_symlink() and full.is_dir():
            continue  # the machine's merged-/usr alias (/bin → usr/bin): the image gets a real directory
        keep.append(rel)
    return sorted(set(keep))


def is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def needed_libs(binary: Path, lib_dirs: Iterable[Path]) -> set[Path]:
    """Absolute paths of the shared objects (and loader) `binary` loads, per `ldd`."""
    env = dict(os.environ, LD_LIBRARY_PATH=":".join(str(d) for d in lib_dirs))
    proc = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, env=env, check=False)
    if "not a dynamic executable" in proc.stdout + proc.stderr or "statically linked" in proc.stdout:
        return set()
    out = set()
    for line in proc.stdout.splitlines():
        if "not found" in line:
            raise RuntimeError(f"{binary}: a library is missing: {line.strip()}")
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            out.add(Path(m.group(1)))
    return out


def rootfs_files(spec: ImageSpec, work: Path) -> dict[str, Path | bytes]:
    """image path → source file (or bytes) for the image's single layer."""
    files: dict[str, Path | bytes] = {}
    roots = {p: package_root(p, work) for p in spec.packages}
    for pkg, root in roots.items():
        for rel in package_files(pkg, root):
            files[rel] = root / rel
    lib_dirs = [
        r / d
        for r in roots.values()
        if r != Path("/")
        for d in ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib", "usr/lib")
        if (r / d).is_dir()
    ]
    extracted = {r for r in roots.values() if r != Path("/")}
    for src in list(files.values()):
        if isinstance(src, Path) and not src.is_symlink() and is_elf(src):
            for lib in needed_libs(src, lib_dirs):
                owner = next((r for r in extracted if lib.is_relative_to(r)), None)
                image_path = str(lib.relative_to(owner)) if owner else str(lib).lstrip("/")
                files.setdefault(image_path, lib.resolve())
    for rel, data in spec.files.items():
        files[rel] = data
    return files


def layer_tar(files: dict[str, Path | bytes], links: dict[str, str], dirs: Iterable[str]) -> bytes:
    """A reproducible tar (mtime 0, root-owned); symlinks kept as links inside the image."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        made: set[str] = set()

        def add_dir(path: str, mode: int = 0o755) -> None:
            parts = path.split("/")
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d and d not in made:
                    made.add(d)
                    ti = tarfile.TarInfo(d)
                    ti.type, ti.mode = tarfile.DIRTYPE, mode
                    tar.addfile(ti)

        for d in dirs:
            add_dir(d, 0o1777 if d == "tmp" else 0o755)
        for rel in sorted(files):
            src = files[rel]
            add_dir(os.path.dirname(rel))
            ti = tarfile.TarInfo(rel)
            if isinstance(src, bytes):
                ti.size, ti.mode = len(src), 0o644
                tar.addfile(ti, io.BytesIO(src))
            elif src.is_symlink():
                ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(src)
                tar.addfile(ti)
            else:
                data = src.read_bytes()
                ti.size, ti.mode = len(data), src.stat().st_mode & 0o7777
                tar.addfile(ti, io.BytesIO(data))
        for rel, target in sorted(links.items()):
            add_dir(os.path.dirname(rel))
            ti = tarfile.TarInfo(rel)
            ti.type, ti.linkname = tarfile.SYMTYPE, target
            tar.addfile(ti)
    return buf.getvalue()


def build_image(spec: ImageSpec, layout_dir: Path, work: Path | None = None) -> dict[str, Any]:
    """Write `spec` into the OCI layout at `layout_dir` (tagged with its full name); return the entry."""
    with tempfile.TemporaryDirectory(prefix="sealkit-testimage-") as tmp:
        raw = layer_tar(rootfs_files(spec, work or Path(tmp)), spec.links, spec.dirs)
    gz = gzip.compress(raw, mtime=0)
    layout = OciLayout(layout_dir).ensure()
    layout.write_blob(gz)
    config = {
        "architecture": host_arch(),
        "os": "linux",
        "config": spec.config,
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
    }
    cfg = canonical_json(config)
    layout.write_blob(cfg)
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, cfg),
            "layers": [descriptor(OCI_LAYER_GZIP, gz)],
        }
    )
    layout.write_blob(manifest)
    entry = descriptor(OCI_MANIFEST, manifest, annotations={ANNOT_REF_NAME: spec.name})
    with layout.lock():
        index = layout.read_index()
        index["manifests"] = [
            m for m in index["manifests"] if (m.get("annotations") or {}).get(ANNOT_REF_NAME) != spec.name
        ] + [entry]
        layout.write_index(index)
    return entry


def unpack(spec: ImageSpec, dest: Path, work: Path | None = None) -> Path:
    """The image's rootfs as a directory (no container needed): how a test runs the image's own
    client tools (redis-cli) on the controller."""
    with tempfile.TemporaryDirectory(prefix="sealkit-testimage-") as tmp:
        raw = layer_tar(rootfs_files(spec, work or Path(tmp)), spec.links, spec.dirs)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        tar.extractall(dest, filter="tar")
    return dest


def host_argv(root: Path, binary: str) -> list[str]:
    """argv running ``binary`` of an unpacked rootfs on this machine with the rootfs's own loader
    and libraries (the image carries both, resolved by :func:`needed_libs`)."""
    loaders = sorted(root.glob("lib64/ld-linux-*.so.*")) + sorted(root.glob("lib/*/ld-linux-*.so.*"))
    if not loaders:
        raise RuntimeError(f"{root}: no dynamic loader in the unpacked image")
    dirs = [
        str(root / d)
        for d in ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib", "usr/lib")
        if (root / d).is_dir()
    ]
    return [str(loaders[0]), "--library-path", ":".join(dirs), str(root / binary.lstrip("/"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="OCI layout directory")
    parser.add_argument("images", nargs="+", choices=sorted(IMAGES))
    ns = parser.parse_args(argv)
    for name in ns.images:
        entry = build_image(IMAGES[name](), ns.out)
        print(entry["annotations"][ANNOT_REF_NAME], entry["digest"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
