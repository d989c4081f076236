"""Which missing images sealkit pulls by itself (issue 14 item 10); concurrent first unpacks (item 14)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from sealkit.engine import images
from sealkit.errors import ImageError, UsageError
from sealkit.image import ImageStore, layers
from tests.unit.test_image import rootfs_context


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SEALKIT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def pulls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every pull; each fails like an unreachable registry would, so nothing is fetched."""
    seen: list[str] = []

    def fake_pull(self: ImageStore, ref: str, **_: object) -> str:
        seen.append(ref)
        raise ImageError(f"cannot reach the registry of {ref}")

    monkeypatch.setattr(ImageStore, "pull", fake_pull)
    return seen


@pytest.mark.parametrize("ref", ["k3s:v1.29", "labring/k3s:v1", "k3s"])
def test_bare_reference_is_not_pulled_and_the_error_says_what_to_run(home, pulls, ref):
    with pytest.raises(ImageError) as err:
        images.resolve(ref)
    assert pulls == []
    assert "names no registry" in err.value.message
    hint = err.value.hint or ""
    assert f"sealkit pull {ref}" in hint and "sealkit load -i FILE" in hint and "--pull" in hint


@pytest.mark.parametrize("ref", ["reg.example.com/k3s:v1", "10.0.0.1:5000/k3s:v1", "localhost/k3s:v1"])
def test_reference_naming_a_registry_is_pulled(home, pulls, ref):
    with pytest.raises(ImageError, match="could not be pulled"):
        images.resolve(ref)
    assert pulls == [ref]


def test_pull_flag_allows_the_default_registry(home, pulls):
    with pytest.raises(ImageError, match="could not be pulled"):
        images.resolve("k3s:v1.29", pull=True)
    assert pulls == ["k3s:v1.29"]


def test_image_in_the_store_is_never_pulled(home, pulls, tmp_path):
    ctx = rootfs_context(tmp_path)
    ImageStore(home / "images").build(ctx / "Kubefile", ctx, "k3s:v1")
    got = images.resolve("k3s:v1")
    assert pulls == []
    assert (got.rootfs / "Kubefile").is_file()


def _unpack_in_child(home: str, digest: str, out: multiprocessing.Queue) -> None:
    import os

    os.environ["SEALKIT_HOME"] = home
    try:
        out.put(str(images._unpacked("k3s:v1", digest, None)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which asserts on it
        out.put(f"ERROR {type(exc).__name__}: {exc}")


def test_two_processes_unpacking_the_same_new_image_both_succeed(home, tmp_path):
    ctx = rootfs_context(tmp_path)
    digest = ImageStore(home / "images").build(ctx / "Kubefile", ctx, "k3s:v1")
    mp = multiprocessing.get_context("fork")
    out: multiprocessing.Queue = mp.Queue()
    procs = [mp.Process(target=_unpack_in_child, args=(str(home), digest, out)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert len(set(results)) == 1, results
    assert not results[0].startswith("ERROR")
    assert (Path(results[0]) / "Kubefile").is_file()


def test_unpack_into_a_dir_filled_meanwhile_is_a_clear_error(home, tmp_path, monkeypatch):
    ctx = rootfs_context(tmp_path)
    store = ImageStore(home / "images")
    store.build(ctx / "Kubefile", ctx, "k3s:v1")
    dest = tmp_path / "out"
    original = layers.LayerApplier.finish

    def finish_then_race(self: layers.LayerApplier) -> None:
        original(self)
        (dest / "other").mkdir(parents=True)  # another process renamed its copy into place

    monkeypatch.setattr(layers.LayerApplier, "finish", finish_then_race)
    with pytest.raises(UsageError, match="filled by another process"):
        store.unpack("k3s:v1", dest)
    assert [p.name for p in dest.iterdir()] == ["other"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.unpack-")]


@pytest.mark.parametrize("arch", ["amd64/../../../.ssh", "../x", "", "x86_64 ", "sparc"])
def test_a_lying_host_arch_never_becomes_a_path(home, tmp_path, arch):
    ctx = rootfs_context(tmp_path)
    digest = ImageStore(home / "images").build(ctx / "Kubefile", ctx, "k3s:v1")
    with pytest.raises(ImageError, match="unknown architecture"):
        images._unpacked("k3s:v1", digest, arch or "bogus/")
    assert not (home / "rootfs").exists()  # refused before any path was made from it
    assert not (tmp_path / ".ssh").exists() and not (home / ".ssh").exists()
