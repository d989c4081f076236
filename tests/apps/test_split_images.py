"""Sorting a run's images into cluster and app images reads labels only: nothing is unpacked for it."""

from __future__ import annotations

import pytest

from sealkit.apps.ops import image_type, split_images
from sealkit.engine import images
from sealkit.errors import ImageError
from tests.unit.test_apps_image import APP_KUBEFILE, build


def test_stored_images_are_sorted_by_label_without_unpacking(sealkit_home, tmp_path, monkeypatch):
    build(
        tmp_path,
        "localhost/k3s:v1.30.4",
        "FROM scratch\nLABEL sealkit.io/type=rootfs\nCOPY . .\n",
        {"x": "1"},
    )
    build(tmp_path, "localhost/apps/a:1", APP_KUBEFILE, {"manifests/a.yaml": "kind: ConfigMap\n"})
    build(tmp_path, "localhost/plain:1", "FROM scratch\nCOPY . .\n", {"y": "1"})

    def no_unpack(ref, digest, arch):
        raise AssertionError(f"{ref} unpacked just to read its type label")

    monkeypatch.setattr(images, "_unpacked", no_unpack)
    refs = ["localhost/apps/a:1", "localhost/k3s:v1.30.4", "localhost/plain:1"]
    assert split_images(refs) == (["localhost/k3s:v1.30.4", "localhost/plain:1"], ["localhost/apps/a:1"])
    assert not (sealkit_home / "rootfs").exists()


def test_a_missing_image_keeps_the_pull_policy(sealkit_home):
    with pytest.raises(ImageError, match="not in the local store") as err:
        image_type("nosuchapp:1")
    assert "--pull" in (err.value.hint or "")
