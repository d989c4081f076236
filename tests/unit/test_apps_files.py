"""The files sent to the master: no images/, Config patches applied, built once per input."""

from __future__ import annotations

from sealkit.apps import files
from sealkit.apps.configs import ConfigPatch


def test_staged_files_skip_images_and_apply_patches(tmp_path):
    root = tmp_path / "rootfs"
    (root / "images" / "oci").mkdir(parents=True)
    (root / "images" / "oci" / "index.json").write_text("{}")
    (root / "charts" / "redis").mkdir(parents=True)
    (root / "charts" / "redis" / "values.yaml").write_text("replicas: 1\n")
    patch = ConfigPatch("c", "charts/redis/values.yaml", "replicas: 3\n", "merge")
    out = files.staged(root, [patch], tmp_path / "cache")
    assert not (out / "images").exists()
    assert (out / "charts/redis/values.yaml").read_text() == "replicas: 3\n"
    assert (root / "charts/redis/values.yaml").read_text() == "replicas: 1\n"
    assert files.staged(root, [patch], tmp_path / "cache") == out, "built once per input"
    assert files.staged(root, [], tmp_path / "cache") != out
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")] == []
