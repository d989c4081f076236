"""Hostile layers: nothing outside the unpack dir may be created, changed or removed (issue 14 item 3).

Deterministic regressions for the three escapes the review found, then a seeded random generator of
hostile tar entries (hypothesis is not in the venv) checked against a snapshot of a sentinel tree.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import random
import stat
import tarfile
from pathlib import Path

import pytest

from sealkit.errors import ImageError
from sealkit.image.layers import LayerApplier

PLAIN = "application/vnd.oci.image.layer.v1.tar"


def _tar(entries: list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in entries:
            info, data = item if isinstance(item, tuple) else (item, b"")
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def _info(name: str, kind: bytes = tarfile.REGTYPE, *, link: str = "", mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = mode
    return info


def _file(name: str, data: bytes = b"x", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    return _info(name, mode=mode), data


def snapshot(top: Path, skip: Path) -> dict[str, tuple]:
    """Everything about every path under ``top`` except below ``skip`` (type, mode, inode, links, content)."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if here / d != skip]
        for name in [".", *dirnames, *filenames]:
            path = here / name if name != "." else here
            st = os.lstat(path)
            extra: object = None
            if stat.S_ISREG(st.st_mode):
                extra = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                extra = os.readlink(path)
            out[str(path.relative_to(top))] = (
                stat.S_IFMT(st.st_mode),
                stat.S_IMODE(st.st_mode),
                st.st_ino,
                st.st_nlink,
                st.st_mtime_ns if not stat.S_ISDIR(st.st_mode) else None,
                extra,
            )
    return out


@pytest.fixture
def sandbox(tmp_path: Path) -> tuple[Path, Path]:
    """``tmp/box/root`` is the unpack dir; ``tmp/outside`` and the rest of ``tmp`` are sentinels."""
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.key").write_bytes(b"PRIVATE")
    (outside / "dir" / "keep").write_bytes(b"keep")
    os.chmod(outside / "dir", 0o750)
    os.chmod(outside / "secret.key", 0o600)
    (outside / "link").symlink_to("dir")
    (tmp_path / "box").mkdir()
    (tmp_path / "box" / "sibling").write_bytes(b"sib")
    root = tmp_path / "box" / "root"
    root.mkdir()
    return tmp_path, root


def _apply(root: Path, *layers: bytes) -> None:
    applier = LayerApplier(root, "hostile:1")
    for i, layer in enumerate(layers):
        applier.apply(io.BytesIO(layer), PLAIN, f"sha256:{i:064x}")
    applier.finish()


# ---- the escapes of the review, one by one -------------------------------------------------------


def test_deferred_dir_mode_is_not_applied_through_a_later_symlink(sandbox):
    top, root = sandbox
    outside = top / "outside" / "dir"
    before = snapshot(top, root)
    layer = _tar([_info("d", tarfile.DIRTYPE, mode=0o777), _info("d", tarfile.SYMTYPE, link=str(outside))])
    _apply(root, layer)
    assert stat.S_IMODE(outside.stat().st_mode) == 0o750
    assert snapshot(top, root) == before
    assert (root / "d").is_symlink()


def test_hard_link_source_is_not_resolved_through_a_symlinked_parent(sandbox):
    top, root = sandbox
    before = snapshot(top, root)
    layer = _tar(
        [
            _info("keys", tarfile.SYMTYPE, link=str(top / "outside")),
            _info("stolen", tarfile.LNKTYPE, link="keys/secret.key"),
        ]
    )
    with pytest.raises(ImageError, match="symlink 'keys'"):
        _apply(root, layer)
    assert not (root / "stolen").exists()
    assert snapshot(top, root) == before


@pytest.mark.parametrize("name", [".wh...", ".wh..", "./.wh...", "a/.wh...", ".wh..wh.x"])
def test_whiteout_of_dot_or_dotdot_is_refused(sandbox, name):
    top, root = sandbox
    before = snapshot(top, root)
    with pytest.raises(ImageError, match="invalid whiteout"):
        _apply(root, _tar([_info("a", tarfile.DIRTYPE), _file(name, b"")]))
    assert snapshot(top, root) == before
    assert root.is_dir()


def test_whiteout_through_a_symlinked_dir_is_refused(sandbox):
    top, root = sandbox
    before = snapshot(top, root)
    layer = _tar([_info("l", tarfile.SYMTYPE, link=str(top / "outside")), _file("l/.wh.secret.key", b"")])
    with pytest.raises(ImageError, match="symlink"):
        _apply(root, layer)
    assert snapshot(top, root) == before


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "a/../../x", "a/../x"])
def test_absolute_and_dotdot_names_are_refused(sandbox, name):
    _, root = sandbox
    with pytest.raises(ImageError, match="unsafe path"):
        _apply(root, _tar([_file(name)]))


def test_devices_are_skipped_and_types_replace_each_other(sandbox):
    _, root = sandbox
    layer = _tar(
        [
            _info("dev", tarfile.CHRTYPE),
            _info("fifo", tarfile.FIFOTYPE),
            _file("a/b", b"1"),
            _file("a", b"now a file"),  # a dir replaced by a file
            _info("c", tarfile.SYMTYPE, link="/"),
            _info("c", tarfile.DIRTYPE),  # a symlink replaced by a dir
            _file("c/x", b"in c"),
            _file("s", b"setuid", mode=0o4755),
        ]
    )
    _apply(root, layer)
    assert not os.path.lexists(root / "dev") and not os.path.lexists(root / "fifo")
    assert (root / "a").read_bytes() == b"now a file"
    assert (root / "c").is_dir() and not (root / "c").is_symlink() and (root / "c/x").read_bytes() == b"in c"
    assert stat.S_IMODE((root / "s").stat().st_mode) == 0o755  # setuid dropped


def test_hard_links_and_opaque_whiteouts_inside_the_root_work(sandbox):
    _, root = sandbox
    lower = _tar([_file("d/old", b"old"), _file("d/keep", b"k"), _file("bin/k3s", b"K3S", mode=0o755)])
    upper = _tar(
        [
            _file("d/.wh..wh..opq", b""),
            _file("d/new", b"new"),
            _info("bin/kubectl", tarfile.LNKTYPE, link="bin/k3s"),
            _file("bin/.wh.gone", b""),
        ]
    )
    _apply(root, lower, upper)
    assert sorted(os.listdir(root / "d")) == ["new"]
    assert (root / "bin/kubectl").read_bytes() == b"K3S"
    assert os.stat(root / "bin/kubectl").st_ino == os.stat(root / "bin/k3s").st_ino


# ---- fuzz ----------------------------------------------------------------------------------------

_NAMES = ["a", "a/b", "a/b/c", "l", "l/x", "l/y/z", "m", "m/x", "d", "d/e", ".", "./a", "a/./b", "x"]
_HOSTILE = ["..", "../x", "a/../..", "/", "/x", "/etc", "a/../../x", "l/../../x"]
_WHITEOUTS = [".wh..", ".wh...", ".wh..wh..opq", ".wh.a", ".wh.l", ".wh.x", ".wh..wh.", ".wh."]


def _random_entry(rng: random.Random, top: Path) -> tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]:
    targets = [
        "..",
        "../..",
        "../../outside",
        "../../outside/dir",
        ".",
        "/",
        str(top / "outside"),
        str(top / "outside" / "dir"),
        str(top / "outside" / "secret.key"),
        str(top / "box"),
        "a",
        "l",
        "m/x",
    ]
    base = rng.choice(_NAMES + _HOSTILE if rng.random() < 0.15 else _NAMES)
    kind = rng.choice(["file", "dir", "sym", "sym", "link", "wh", "dev", "fifo"])
    if kind == "wh":
        parent = rng.choice(["", "a/", "l/", "m/", "d/", "../", "l/x/"])
        return _file(parent + rng.choice(_WHITEOUTS), b"")
    if kind == "file":
        return _file(base, rng.randbytes(rng.randint(0, 40)), mode=rng.choice([0o644, 0o755, 0o4755, 0o000]))
    if kind == "dir":
        return _info(base, tarfile.DIRTYPE, mode=rng.choice([0o755, 0o700, 0o777, 0o000, 0o555]))
    if kind == "sym":
        return _info(base, tarfile.SYMTYPE, link=rng.choice(targets))
    if kind == "link":
        source = rng.choice(
            [
                *_NAMES,
                "l/secret.key",
                "m/secret.key",
                "m/keep",
                "../outside/secret.key",
                str(top / "outside/secret.key"),
            ]
        )
        return _info(base, tarfile.LNKTYPE, link=source)
    return _info(base, tarfile.CHRTYPE if kind == "dev" else tarfile.FIFOTYPE)


@pytest.mark.parametrize("seed", range(40))
def test_fuzz_hostile_layers_never_touch_anything_outside(tmp_path, seed):
    rng = random.Random(seed)
    top = tmp_path
    outside = top / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.key").write_bytes(b"PRIVATE")
    (outside / "dir" / "keep").write_bytes(b"keep")
    (top / "box").mkdir()
    (top / "box" / "sibling").write_bytes(b"s")
    os.chmod(outside / "dir", 0o750)
    for round_ in range(12):
        root = top / "box" / f"root{round_}"
        root.mkdir()
        before = snapshot(top, root)
        applier = LayerApplier(root, "fuzz")
        for n in range(rng.randint(1, 3)):
            layer = _tar([_random_entry(rng, top) for _ in range(rng.randint(1, 14))])
            with contextlib.suppress(ImageError):  # refusing is fine; escaping is not
                applier.apply(io.BytesIO(layer), PLAIN, f"sha256:{n:064x}")
        applier.finish()
        after = snapshot(top, root)
        assert after == before, f"seed {seed} round {round_}: outside changed"
        # everything inside is a plain file, dir or symlink (no devices, no hard link to outside inodes)
        outside_inodes = {v[2] for v in before.values()}
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                st = os.lstat(Path(dirpath) / name)
                assert stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode)
                assert st.st_ino not in outside_inodes
                assert not st.st_mode & (stat.S_ISUID | stat.S_ISGID)
        for dirpath, dirnames, _ in os.walk(root):  # let the next round (and tmp_path cleanup) walk it
            for d in dirnames:
                p = Path(dirpath) / d
                if not p.is_symlink():
                    os.chmod(p, 0o755)
