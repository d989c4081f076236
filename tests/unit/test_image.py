"""Cluster images without a registry: Kubefile, build, layers, store, save/load, unpack, images."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from sealkit.errors import EXIT_USAGE, ImageError, UsageError
from sealkit.image import (
    ImageStore,
    Kubefile,
    collect_images,
    default_store,
    fetch_images,
    parse_reference,
    sealkit_home,
    select_manifest,
)
from sealkit.image.layout import OciLayout
from sealkit.image.oci import canonical_json, host_arch, parse_platform

# ---- helpers --------------------------------------------------------------------------------


def write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def rootfs_context(root: Path) -> Path:
    """A small k3s-like context: per-arch binaries, manifests, scripts, templates."""
    ctx = root / "ctx"
    write(ctx / "bin/amd64/k3s", "k3s for amd64\n", 0o755)
    write(ctx / "bin/arm64/k3s", "k3s for arm64\n", 0o755)
    write(ctx / "manifests/coredns.yaml", "kind: ConfigMap\n")
    write(ctx / "scripts/init.sh", "#!/bin/sh\necho init\n", 0o750)
    write(ctx / "etc/registries.yaml.tmpl", "mirrors: {}\n")
    write(
        ctx / "Kubefile",
        """# k3s cluster image
FROM scratch
ARG VERSION=v1.29.3
ENV K3S_VERSION=${VERSION} \\
    INSTALL_DIR="/usr/local/bin"
# labels of DESIGN §3
LABEL sealkit.io/type=rootfs \\
      sealkit.io/runtime=k3s sealkit.io/version=$VERSION
COPY bin/${TARGETARCH}/ bin/
COPY manifests manifests
COPY scripts/*.sh scripts/
COPY etc/ etc/
COPY Kubefile .
CMD ["scripts/init.sh"]
""",
    )
    return ctx


def tree(root: Path) -> dict[str, tuple[str, int]]:
    """Relative path → (kind or file content, permission bits)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        mode = path.lstat().st_mode & 0o7777
        if path.is_symlink():
            out[rel] = (f"-> {os.readlink(path)}", 0)
        elif path.is_dir():
            out[rel] = ("dir", mode)
        else:
            out[rel] = (path.read_text(errors="replace"), mode)
    return out


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "store")


# ---- references and platforms ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "registry", "repo", "tag", "digest", "remote"),
    [
        ("k3s", None, "k3s", None, None, "docker.io/library/k3s:latest"),
        ("k3s:v1.29", None, "k3s", "v1.29", None, "docker.io/library/k3s:v1.29"),
        ("labring/k3s:v1", None, "labring/k3s", "v1", None, "docker.io/labring/k3s:v1"),
        ("127.0.0.1:5000/a/b:c", "127.0.0.1:5000", "a/b", "c", None, "127.0.0.1:5000/a/b:c"),
        ("localhost/x", "localhost", "x", None, None, "localhost/x:latest"),
        (
            "reg.io/x@sha256:" + "a" * 64,
            "reg.io",
            "x",
            None,
            "sha256:" + "a" * 64,
            "reg.io/x@sha256:" + "a" * 64,
        ),
    ],
)
def test_parse_reference(text, registry, repo, tag, digest, remote):
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repo, tag, digest)
    assert str(ref.remote()) == remote


@pytest.mark.parametrize("bad", ["", "UPPER/case", "a:b:c", "x@sha256:123", "a//b", "-x"])
def test_parse_reference_rejects(bad):
    with pytest.raises(ImageError) as err:
        parse_reference(bad)
    assert err.value.exit_code == EXIT_USAGE


def test_sealkit_home_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SEALKIT_HOME", str(tmp_path / "h"))
    assert sealkit_home() == tmp_path / "h"
    assert default_store().root == tmp_path / "h" / "images"
    monkeypatch.delenv("SEALKIT_HOME")
    assert sealkit_home() == Path.home() / ".sealkit"


def test_select_manifest_by_arch_aliases():
    index = {
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + "1" * 64,
                "size": 1,
                "platform": {"os": "linux", "architecture": "amd64"},
            },
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + "2" * 64,
                "size": 1,
                "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
            },
        ]
    }
    assert select_manifest(index, "x86_64")["digest"].endswith("1" * 64)
    assert select_manifest(index, "aarch64")["digest"].endswith("2" * 64)
    assert select_manifest(index, "linux/arm64/v8")["digest"].endswith("2" * 64)
    with pytest.raises(ImageError, match="offers: linux/amd64, linux/arm64/v8"):
        select_manifest(index, "riscv64")
    assert parse_platform("arm64") == {"os": "linux", "architecture": "arm64"}


# ---- Kubefile -------------------------------------------------------------------------------


def test_kubefile_parses_forms_and_substitutes():
    kf = Kubefile.parse(
        """ARG BASE=scratch
# comment
FROM $BASE
ARG NAME
ENV A=1 B="two words" \\
    C=${A}-x
ENV LEGACY value with spaces
ENV D=${A}-y
LABEL "k.io/x"="y z" plain=${C:-none} alt=${MISSING:-dflt} set=${A:+yes}
COPY --chmod=0700 ["src/${TARGETARCH}", "dst/"]
CMD echo hi $A
"""
    )
    plan = kf.plan({"os": "linux", "architecture": "arm64"}, {"NAME": "n"})
    assert plan.base is None
    # like Docker, one ENV sees the variables as they were before it
    assert plan.env == {
        "A": "1",
        "B": "two words",
        "C": "-x",
        "LEGACY": "value with spaces",
        "D": "1-y",
    }
    assert plan.labels == {"k.io/x": "y z", "plain": "-x", "alt": "dflt", "set": "yes"}
    assert plan.copies[0].sources == ["src/arm64"] and plan.copies[0].dest == "dst/"
    assert plan.copies[0].chmod == 0o700
    assert plan.cmd == ["/bin/sh", "-c", "echo hi $A"]
    exec_form = Kubefile.parse('FROM scratch\nCMD ["kubectl", "apply", "-f", "m.yaml"]')
    assert exec_form.plan({"architecture": "amd64"}).cmd == ["kubectl", "apply", "-f", "m.yaml"]


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("FROM scratch\n\nFOO bar\n", 3, "unknown instruction 'FOO'"),
        ("FROM scratch\nCOPY a \\\n  b\nRUN make\n", 4, "RUN is not supported"),
        ("COPY a b\nFROM scratch\n", 1, "COPY before FROM"),
        ("FROM scratch\nFROM scratch\n", 2, "multi-stage"),
        ("FROM scratch\nCOPY onlyone\n", 2, "at least one source"),
        ("FROM scratch\nLABEL noequals\n", 2, "KEY=VALUE"),
        ('FROM scratch\nCMD ["unterminated"\n', 2, "JSON"),
        ("FROM scratch\nLABEL sealkit.io/type=bogus\n", None, "sealkit.io/type"),
    ],
)
def test_kubefile_errors_name_the_line(text, line, needle):
    with pytest.raises(UsageError) as err:
        Kubefile.parse(text, "ctx/Kubefile").plan({"architecture": "amd64"})
    assert needle in str(err.value)
    if line is not None:
        assert f"ctx/Kubefile:{line}:" in str(err.value)
    assert err.value.exit_code == EXIT_USAGE


# ---- build, FROM, unpack --------------------------------------------------------------------


def test_build_from_scratch_then_from_image_and_unpack_merged(store, tmp_path):
    ctx = rootfs_context(tmp_path)
    digest = store.build(ctx / "Kubefile", ctx, "k3s:v1.29.3")
    assert digest.startswith("sha256:")
    labels = store.labels("k3s:v1.29.3")
    assert labels == {
        "sealkit.io/type": "rootfs",
        "sealkit.io/runtime": "k3s",
        "sealkit.io/version": "v1.29.3",
    }
    info = store.inspect("k3s:v1.29.3")
    (plat,) = info["platforms"]
    assert plat["platform"] == f"linux/{host_arch()}"
    assert plat["annotations"] == labels  # labels are manifest annotations too
    assert plat["config"]["config"]["Cmd"] == ["scripts/init.sh"]
    assert len(plat["layers"]) == 5  # one per COPY

    app = tmp_path / "app"
    write(app / "manifests/app.yaml", "kind: Deployment\n")
    write(app / "manifests/coredns.yaml", "kind: ConfigMap # patched\n")
    write(
        app / "Kubefile",
        "FROM k3s:v1.29.3\nLABEL sealkit.io/type=patch\nENV EXTRA=1\nCOPY manifests manifests\n",
    )
    store.build(app / "Kubefile", app, "k3s-patched")
    child = store.inspect("k3s-patched")["platforms"][0]
    assert child["layers"][:5] == plat["layers"]  # inherited, shared blobs
    assert len(child["layers"]) == 6
    assert child["config"]["config"]["Labels"]["sealkit.io/type"] == "patch"
    assert child["config"]["config"]["Labels"]["sealkit.io/runtime"] == "k3s"
    assert child["config"]["config"]["Env"] == [
        "K3S_VERSION=v1.29.3",
        "INSTALL_DIR=/usr/local/bin",
        "EXTRA=1",
    ]
    assert child["config"]["config"]["Cmd"] == ["scripts/init.sh"]

    out = store.unpack("k3s-patched", tmp_path / "rootfs")
    files = tree(out)
    assert files["bin/k3s"] == (f"k3s for {host_arch()}\n", 0o755)
    assert files["scripts/init.sh"] == ("#!/bin/sh\necho init\n", 0o750)
    assert files["manifests/app.yaml"][0] == "kind: Deployment\n"
    assert files["manifests/coredns.yaml"][0] == "kind: ConfigMap # patched\n"  # upper layer wins
    assert files["etc/registries.yaml.tmpl"][0] == "mirrors: {}\n"
    assert files["Kubefile"][0].startswith("# k3s cluster image")


def test_rebuild_is_reproducible(tmp_path):
    ctx = rootfs_context(tmp_path)
    first = ImageStore(tmp_path / "s1").build(ctx / "Kubefile", ctx, "a:1")
    for path in ctx.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))  # mtimes must not matter
    second = ImageStore(tmp_path / "s2").build(ctx / "Kubefile", ctx, "b:2")
    assert first == second
    write(ctx / "manifests/coredns.yaml", "kind: ConfigMap\ndata: {}\n")
    assert ImageStore(tmp_path / "s3").build(ctx / "Kubefile", ctx, "c:3") != first


def test_layers_are_normalised_tars(store, tmp_path):
    ctx = rootfs_context(tmp_path)
    store.build(ctx / "Kubefile", ctx, "k:1")
    plat = store.inspect("k:1")["platforms"][0]
    blob = store.layout.blob_path(plat["layers"][2]["digest"]).read_bytes()  # scripts/*.sh
    assert blob[4:8] == b"\0\0\0\0"  # gzip mtime 0
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["scripts", "scripts/init.sh"]
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members} == {(0, 0, "", "", 0)}
    diff_id = "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest()
    assert plat["config"]["rootfs"]["diff_ids"][2] == diff_id


def test_multi_arch_index_and_select_by_arch(store, tmp_path):
    ctx = rootfs_context(tmp_path)
    store.build(ctx / "Kubefile", ctx, "k3s:multi", platforms="linux/amd64,linux/arm64")
    info = store.inspect("k3s:multi")
    assert [p["platform"] for p in info["platforms"]] == ["linux/amd64", "linux/arm64"]
    amd, arm = info["platforms"]
    assert amd["config"]["architecture"] == "amd64" and arm["config"]["architecture"] == "arm64"
    assert amd["layers"][0] != arm["layers"][0]  # bin/${TARGETARCH}
    assert amd["layers"][1:] == arm["layers"][1:]  # the rest is shared
    assert store.list()[0].platforms == ["linux/amd64", "linux/arm64"]
    for arch in ("amd64", "aarch64"):
        out = store.unpack("k3s:multi", tmp_path / f"root-{arch}", arch=arch)
        expected = "arm64" if arch == "aarch64" else arch
        assert (out / "bin/k3s").read_text() == f"k3s for {expected}\n"
    with pytest.raises(ImageError, match="no manifest for platform linux/s390x"):
        store.unpack("k3s:multi", tmp_path / "root-s390x", arch="s390x")
    assert not (tmp_path / "root-s390x").exists()


def test_copy_semantics(store, tmp_path):
    ctx = tmp_path / "ctx"
    write(ctx / "a.txt", "a")
    write(ctx / "b.txt", "b")
    write(ctx / ".hidden.txt", "h")
    write(ctx / "dir/sub/c.txt", "c")
    (ctx / "dir/link").symlink_to("sub/c.txt")
    write(
        ctx / "Kubefile",
        "FROM scratch\nCOPY a.txt renamed.txt\nCOPY *.txt txt/\nCOPY dir /opt/dir\nCOPY a.txt b.txt ./\n",
    )
    store.build(ctx / "Kubefile", ctx, "copy:1")
    out = tree(store.unpack("copy:1", tmp_path / "out"))
    assert out["renamed.txt"][0] == "a"
    assert {k for k in out if k.startswith("txt/")} == {"txt/a.txt", "txt/b.txt", "txt/.hidden.txt"}
    assert out["opt/dir/sub/c.txt"][0] == "c"
    assert out["opt/dir/link"] == ("-> sub/c.txt", 0)
    assert out["a.txt"][0] == "a" and out["b.txt"][0] == "b"


@pytest.mark.parametrize(
    ("copy", "needle"),
    [
        ("COPY ../outside x", "outside the build context"),
        ("COPY missing.txt x", "not found"),
        ("COPY *.nothing x/", "matches no file"),
        ("COPY a.txt b.txt notadir", "ending in /"),
    ],
)
def test_copy_errors(store, tmp_path, copy, needle):
    ctx = tmp_path / "ctx"
    write(ctx / "a.txt", "a")
    write(ctx / "b.txt", "b")
    write(ctx / "Kubefile", f"FROM scratch\n\n{copy}\n")
    with pytest.raises(UsageError, match=needle) as err:
        store.build(ctx / "Kubefile", ctx, "bad:1")
    assert f"{ctx / 'Kubefile'}:3" in str(err.value)
    assert store.list() == []


def test_from_missing_image_says_how_to_fix(store, tmp_path):
    write(tmp_path / "Kubefile", "FROM nothere:v1\n")
    with pytest.raises(ImageError, match="Kubefile:1: FROM nothere:v1") as err:
        store.build(tmp_path / "Kubefile", tmp_path, "x:1")
    assert "sealkit pull nothere:v1" in str(err.value)


# ---- tag / list / rmi / gc ------------------------------------------------------------------


def test_tag_list_rmi_collects_only_unshared_blobs(store, tmp_path):
    ctx = rootfs_context(tmp_path)
    base = store.build(ctx / "Kubefile", ctx, "k3s:v1")
    app = tmp_path / "app"
    write(app / "manifests/app.yaml", "kind: Deployment\n")
    write(app / "Kubefile", "FROM k3s:v1\nCOPY manifests manifests\n")
    store.build(app / "Kubefile", app, "app:v1")
    store.tag("k3s:v1", "reg.local:5000/k3s:v1")
    rows = {(r.name, r.tag): r for r in store.list()}
    assert set(rows) == {("k3s", "v1"), ("app", "v1"), ("reg.local:5000/k3s", "v1")}
    assert rows[("k3s", "v1")].digest == rows[("reg.local:5000/k3s", "v1")].digest == base
    assert rows[("app", "v1")].size > rows[("k3s", "v1")].size

    def blobs() -> set[str]:
        return {p.name for p in store.layout.blobs.iterdir()}

    before = blobs()
    assert store.rmi("k3s:v1") == ["k3s:v1"]
    assert blobs() == before  # still named by the other tag
    assert store.rmi(base) == ["reg.local:5000/k3s:v1"]
    after = blobs()
    assert after < before
    app_layers = {
        d["digest"][7:]
        for d in store.layout.walk(
            {
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": store.inspect("app:v1")["digest"],
                "size": store.layout.blob_path(store.inspect("app:v1")["digest"]).stat().st_size,
            }
        )
    }
    assert after == app_layers  # shared base layers kept for app:v1, nothing else
    store.rmi("app:v1")
    assert blobs() == set()
    with pytest.raises(ImageError, match="not in the local store"):
        store.rmi("app:v1")


# ---- save / load ----------------------------------------------------------------------------


def test_save_load_round_trip_is_byte_identical(tmp_path):
    ctx = rootfs_context(tmp_path)
    one = ImageStore(tmp_path / "one")
    one.build(ctx / "Kubefile", ctx, "k3s:v1", platforms="linux/amd64,linux/arm64")
    one.tag("k3s:v1", "k3s:latest")
    one.save(["k3s:v1", "k3s"], tmp_path / "a.tar")
    one.save(["k3s", "k3s:v1"], tmp_path / "a2.tar")
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "a2.tar").read_bytes()

    two = ImageStore(tmp_path / "two")
    assert sorted(two.load(tmp_path / "a.tar")) == ["k3s:latest", "k3s:v1"]
    two.save(["k3s:v1", "k3s:latest"], tmp_path / "b.tar")
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    assert two.inspect("k3s:v1")["digest"] == one.inspect("k3s:v1")["digest"]
    with tarfile.open(tmp_path / "a.tar") as tar:
        names = tar.getnames()
        assert names[:4] == ["oci-layout", "index.json", "blobs", "blobs/sha256"]
        assert {(m.mtime, m.uid, m.uname) for m in tar.getmembers()} == {(0, 0, "")}


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed")
def test_saved_archive_and_store_are_readable_by_skopeo(store, tmp_path):
    ctx = rootfs_context(tmp_path)
    digest = store.build(ctx / "Kubefile", ctx, "k3s:v1")
    store.save(["k3s:v1"], tmp_path / "k.tar")
    for where in (f"oci-archive:{tmp_path / 'k.tar'}:k3s:v1", f"oci:{store.root}:k3s:v1"):
        raw = subprocess.run(["skopeo", "inspect", "--raw", where], check=True, capture_output=True).stdout
        assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest


def _first_layer_path(store: ImageStore, ref: str) -> Path:
    layer = store.inspect(ref)["platforms"][0]["layers"][0]["digest"]
    return store.layout.blob_path(layer)


def test_corrupted_blob_fails_unpack_with_fix_and_leaves_nothing(store, tmp_path):
    ctx = rootfs_context(tmp_path)
    store.build(ctx / "Kubefile", ctx, "k3s:v1")
    path = _first_layer_path(store, "k3s:v1")
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ImageError) as err:
        store.unpack("k3s:v1", tmp_path / "out")
    text = str(err.value)
    assert "image k3s:v1" in text and f"sha256:{path.name}" in text
    assert "expected digest" in text and "got sha256:" in text
    assert "sealkit rmi k3s:v1 && sealkit pull k3s:v1" in text
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    with pytest.raises(ImageError, match="is corrupted"):
        store.save(["k3s:v1"], tmp_path / "x.tar")
    assert not (tmp_path / "x.tar").exists()


def test_corrupted_archive_loads_nothing(tmp_path):
    ctx = rootfs_context(tmp_path)
    src = ImageStore(tmp_path / "src")
    src.build(ctx / "Kubefile", ctx, "k3s:v1")
    src.save(["k3s:v1"], tmp_path / "k.tar")
    layer = _first_layer_path(src, "k3s:v1").name
    bad = tmp_path / "bad.tar"
    with tarfile.open(tmp_path / "k.tar") as tin, tarfile.open(bad, "w") as tout:
        for member in tin.getmembers():
            fh = tin.extractfile(member) if member.isreg() else None
            data = fh.read() if fh else b""
            if member.name.endswith(layer):
                data = data[:-1] + bytes([data[-1] ^ 1])
            tout.addfile(member, io.BytesIO(data) if fh else None)
    dst = ImageStore(tmp_path / "dst")
    with pytest.raises(ImageError, match="failed verification"):
        dst.load(bad)
    assert dst.list() == []
    assert list(dst.layout.blobs.iterdir()) == []
    assert dst.load(tmp_path / "k.tar") == ["k3s:v1"]


# ---- whiteouts and unsafe layers ------------------------------------------------------------


def _layer(entries: list[tuple[str, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), mtime=0)


def _append_layer(store: ImageStore, src: str, dst: str, layer: bytes) -> None:
    """Make ``dst`` = ``src`` + ``layer`` by hand (as another tool would have built it)."""
    desc = store.resolve(src).desc
    manifest_desc = select_manifest(store.layout.read_json(desc["digest"]))
    manifest = store.layout.read_json(manifest_desc["digest"])
    config = store.layout.read_json(manifest["config"]["digest"])
    digest = store.layout.write_blob(layer)
    manifest["layers"].append(
        {
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": digest,
            "size": len(layer),
        }
    )
    config["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest())
    cfg = canonical_json(config)
    manifest["config"] = {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        "digest": store.layout.write_blob(cfg),
        "size": len(cfg),
    }
    data = canonical_json(manifest)
    store._record(
        dst,
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": store.layout.write_blob(data),
            "size": len(data),
        },
    )


def test_unpack_applies_whiteouts(store, tmp_path):
    ctx = rootfs_context(tmp_path)
    store.build(ctx / "Kubefile", ctx, "k3s:v1")
    layer = _layer(
        [
            ("manifests/", None),
            ("manifests/.wh..wh..opq", b""),
            ("manifests/new.yaml", b"kind: New\n"),
            ("scripts/.wh.init.sh", b""),
            ("etc/.wh.registries.yaml.tmpl", b""),
            ("etc/other", b"x"),
        ]
    )
    _append_layer(store, "k3s:v1", "k3s:wh", layer)
    out = tree(store.unpack("k3s:wh", tmp_path / "out"))
    assert [k for k in out if k.startswith("manifests/")] == ["manifests/new.yaml"]
    assert "scripts/init.sh" not in out and "scripts" in out
    assert "etc/registries.yaml.tmpl" not in out and out["etc/other"][0] == "x"
    assert "bin/k3s" in out


@pytest.mark.parametrize("evil", ["../escape", "/abs/../../escape"])
def test_unpack_refuses_paths_outside_target(store, tmp_path, evil):
    ctx = rootfs_context(tmp_path)
    store.build(ctx / "Kubefile", ctx, "k3s:v1")
    _append_layer(store, "k3s:v1", "evil:1", _layer([(evil, b"x")]))
    with pytest.raises(ImageError, match="unsafe path"):
        store.unpack("evil:1", tmp_path / "deep" / "out")
    assert not (tmp_path / "deep" / "escape").exists() and not (tmp_path / "escape").exists()
    assert not (tmp_path / "deep" / "out").exists()


def test_unpack_refuses_writing_through_symlink(store, tmp_path):
    ctx = tmp_path / "ctx"
    (ctx / "d").mkdir(parents=True)
    (ctx / "d" / "link").symlink_to("/tmp")
    write(ctx / "Kubefile", "FROM scratch\nCOPY d d\n")
    store.build(ctx / "Kubefile", ctx, "ln:1")
    _append_layer(store, "ln:1", "ln:2", _layer([("d/link/pwned", b"x")]))
    with pytest.raises(ImageError, match="through the symlink"):
        store.unpack("ln:2", tmp_path / "out")


def test_unpack_target_must_be_empty(store, tmp_path):
    ctx = rootfs_context(tmp_path)
    store.build(ctx / "Kubefile", ctx, "k3s:v1")
    write(tmp_path / "full/x", "x")
    with pytest.raises(UsageError, match="not empty"):
        store.unpack("k3s:v1", tmp_path / "full")
    (tmp_path / "empty").mkdir()
    assert (store.unpack("k3s:v1", tmp_path / "empty") / "bin/k3s").exists()


# ---- container images inside cluster images -------------------------------------------------


def test_collect_images(tmp_path):
    root = tmp_path / "ctx"
    write(
        root / "images/shim/k3s",
        "# k3s images\ndocker.io/rancher/mirrored-pause:3.6\n\nrancher/klipper-lb:v0.4.7  # lb\n",
    )
    write(
        root / "manifests/apps.yaml",
        """apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      initContainers: [{name: i, image: "busybox:1.36"}]
      containers:
        - name: c
          image: nginx:1.25
---
kind: Pod
spec:
  containers: [{name: x, image: "{{ .Values.image }}"}]
""",
    )
    write(root / "manifests/templated.yaml", "{{ if .X }}\n  image: quay.io/a/b:1\n{{ end }}\n")
    write(root / "charts/cilium/Chart.yaml", "name: cilium\nappVersion: 1.15.1\n")
    write(
        root / "charts/cilium/values.yaml",
        """image:
  repository: quay.io/cilium/cilium
  tag: ""
operator:
  image:
    registry: quay.io
    repository: cilium/operator
    tag: v1.15.1
    digest: ""
sidecar:
  image: ghcr.io/x/y:2
""",
    )
    write(root / "charts/cilium/templates/ds.yaml", "image: {{ .Values.image.repository }}\n")
    assert collect_images(root) == [
        "busybox:1.36",
        "docker.io/rancher/mirrored-pause:3.6",
        "ghcr.io/x/y:2",
        "nginx:1.25",
        "quay.io/a/b:1",
        "quay.io/cilium/cilium:1.15.1",
        "quay.io/cilium/operator:v1.15.1",
        "rancher/klipper-lb:v0.4.7",
    ]
    assert collect_images(tmp_path / "empty") == []


def _container_images(tmp_path: Path) -> ImageStore:
    """Two tiny multi-arch 'container images' sharing a layer, in an OCI layout."""
    src = ImageStore(tmp_path / "mirror")
    ctx = tmp_path / "cimg"
    write(ctx / "shared/lib.so", "shared library\n")
    write(ctx / "app/amd64/bin", "amd64 app\n", 0o755)
    write(ctx / "app/arm64/bin", "arm64 app\n", 0o755)
    write(ctx / "Kubefile", "FROM scratch\nCOPY shared/ lib/\nCOPY app/${TARGETARCH}/ app/\n")
    src.build(ctx / "Kubefile", ctx, "docker.io/library/busybox:1.36", platforms="linux/amd64,linux/arm64")
    write(ctx / "Kubefile", "FROM scratch\nCOPY shared/ lib/\nCOPY app/amd64/ other/\n")
    src.build(ctx / "Kubefile", ctx, "quay.io/x/other:2", platforms="linux/amd64,linux/arm64")
    return src


def test_fetch_images_from_layout_dedups_and_narrows(tmp_path):
    src = _container_images(tmp_path)
    dest = tmp_path / "rootfs/images/oci"
    names = fetch_images(["busybox:1.36", "quay.io/x/other:2"], dest, source=src.root, platform="linux/arm64")
    assert names == ["docker.io/library/busybox:1.36", "quay.io/x/other:2"]
    layout = OciLayout(dest)
    entries = layout.read_index()["manifests"]
    assert all(e["mediaType"].endswith("manifest.v1+json") for e in entries)
    assert all(e["platform"]["architecture"] == "arm64" for e in entries)
    reachable = layout.reachable(entries)
    assert {f"sha256:{p.name}" for p in layout.blobs.iterdir()} == reachable
    layers = [layout.read_json(e["digest"])["layers"] for e in entries]
    assert layers[0][0] == layers[1][0]  # the shared layer is stored once
    with pytest.raises(ImageError, match="not in the OCI layout"):
        fetch_images(["nothere:1"], dest, source=src.root)


def test_build_fetches_listed_images_into_rootfs(tmp_path):
    src = _container_images(tmp_path)
    ctx = rootfs_context(tmp_path)
    write(ctx / "images/shim/list", "busybox:1.36\nquay.io/x/other:2\n")
    store = ImageStore(tmp_path / "store")
    first = store.build(
        ctx / "Kubefile", ctx, "k3s:full", platforms="linux/amd64,linux/arm64", images_from=src.root
    )
    again = ImageStore(tmp_path / "store2").build(
        ctx / "Kubefile", ctx, "k3s:full", platforms="linux/amd64,linux/arm64", images_from=src.root
    )
    assert first == again
    out = store.unpack("k3s:full", tmp_path / "arm", arch="arm64")
    index = json.loads((out / "images/oci/index.json").read_text())
    names = [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]]
    assert names == ["docker.io/library/busybox:1.36", "quay.io/x/other:2"]
    assert {m["platform"]["architecture"] for m in index["manifests"]} == {"arm64"}
    assert sorted(p.name for p in (out / "images/oci").iterdir()) == [
        "blobs",
        "index.json",
        "oci-layout",
    ]
    assert (out / "bin/k3s").read_text() == "k3s for arm64\n"
    unfetched = ImageStore(tmp_path / "store3")
    unfetched.build(ctx / "Kubefile", ctx, "k3s:lean", fetch_images=False)
    assert len(unfetched.inspect("k3s:lean")["platforms"][0]["layers"]) == 5
