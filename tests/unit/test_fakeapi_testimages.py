"""The offline test-image builder (tests/testimages/build.py): packages' files plus every shared
library their ELF files load, in one reproducible OCI layer."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from tests.testimages.build import ImageSpec, build_image, installed, web_image


def layer_of(layout: Path, entry: dict) -> tuple[dict, dict[str, tarfile.TarInfo], dict[str, bytes]]:
    blob = layout / "blobs" / "sha256"
    manifest = json.loads((blob / entry["digest"].split(":")[1]).read_bytes())
    config = json.loads((blob / manifest["config"]["digest"].split(":")[1]).read_bytes())
    raw = gzip.decompress((blob / manifest["layers"][0]["digest"].split(":")[1]).read_bytes())
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        data = {m.name: tar.extractfile(m).read() for m in members.values() if m.isfile()}  # type: ignore[union-attr]
    return config, members, data


@pytest.mark.skipif(not installed("busybox-static"), reason="busybox-static is not installed")
def test_web_image_is_busybox_with_its_page_and_is_reproducible(tmp_path: Path) -> None:
    a = build_image(web_image(page="hi\n"), tmp_path / "a")
    b = build_image(web_image(page="hi\n"), tmp_path / "b")
    assert a["digest"] == b["digest"]  # same inputs, same bytes
    assert a["annotations"]["org.opencontainers.image.ref.name"] == "docker.io/sealkit-test/web:1.0"
    config, members, data = layer_of(tmp_path / "a", a)
    assert config["config"]["Entrypoint"] == ["/bin/busybox"]
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "busybox"
    assert members["bin/busybox"].mode & 0o111
    assert data["www/index.html"] == b"hi\n"
    assert members["tmp"].mode == 0o1777


@pytest.mark.skipif(
    not (installed("openssl") and shutil.which("ldd")), reason="needs the openssl package and ldd"
)
def test_dynamic_binaries_bring_their_libraries_and_loader(tmp_path: Path) -> None:
    spec = ImageSpec(
        name="docker.io/sealkit-test/openssl:1", packages=("openssl",), config={"Cmd": ["openssl"]}
    )
    _, members, _ = layer_of(tmp_path, build_image(spec, tmp_path))
    names = set(members)
    assert "usr/bin/openssl" in names
    assert any(n.rsplit("/", 1)[-1].startswith("libssl.so") for n in names), sorted(names)
    assert any(n.rsplit("/", 1)[-1].startswith("libc.so") for n in names)
    assert any(n.rsplit("/", 1)[-1].startswith("ld-linux") for n in names)
    assert not any(n.startswith("usr/share/doc") for n in names)
