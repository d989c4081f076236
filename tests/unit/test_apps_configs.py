"""sealos Config documents patch an app image's files (merge|override|insert|append), on a copy."""

from __future__ import annotations

import re

import pytest
import yaml

from sealkit.apps.configs import ConfigPatch, applicable, apply_patches, from_documents, patched_text
from sealkit.errors import UsageError


def doc(spec, name="c"):
    return {
        "apiVersion": "apps.sealos.io/v1beta1",
        "kind": "Config",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_from_documents_validates():
    patches = from_documents(
        [{"kind": "Cluster"}, doc({"path": "etc/v.yaml", "data": "a: 1\n", "strategy": "merge"})]
    )
    assert patches == [ConfigPatch("c", "etc/v.yaml", "a: 1\n", "merge", "")]
    with pytest.raises(UsageError, match=re.escape("spec.strategy 'replace' is unknown")):
        from_documents([doc({"path": "x", "strategy": "replace"})])
    with pytest.raises(UsageError, match=re.escape("spec.pth: unknown field")):
        from_documents([doc({"pth": "x"})])


def test_match_selects_the_image():
    ps = [
        ConfigPatch("a", "x", ""),
        ConfigPatch("b", "x", "", match="redis:7"),
        ConfigPatch("c", "x", "", match="o"),
    ]
    assert [p.name for p in applicable(ps, "redis:7")] == ["a", "b"]


def test_merge_every_document_data_wins():
    current = "a: 1\nnested: {x: 1, y: 2}\n---\nb: 2\n"
    out = patched_text(current, ConfigPatch("c", "f", "nested: {y: 3}\nnew: ''\n", "merge"))
    docs = [yaml.safe_load(d) for d in out.split("\n---\n")]
    assert docs[0] == {"a": 1, "nested": {"x": 1, "y": 3}, "new": ""}
    assert docs[1] == {"b": 2, "nested": {"y": 3}, "new": ""}


def test_override_insert_append():
    assert patched_text("old\n", ConfigPatch("c", "f", "new\n", "override")) == "new\n"
    assert patched_text("old", ConfigPatch("c", "f", "new", "insert")) == "new\nold"
    assert patched_text("old", ConfigPatch("c", "f", "new", "append")) == "old\nnew"
    assert patched_text(None, ConfigPatch("c", "f", "a: 1", "merge")).strip() == "a: 1"


def test_apply_patches_on_a_copy(tmp_path):
    root = tmp_path / "img"
    (root / "charts").mkdir(parents=True)
    (root / "charts" / "values.yaml").write_text("replicas: 1\n")
    out = apply_patches(
        root, [ConfigPatch("c", "charts/values.yaml", "replicas: 3\n", "merge")], tmp_path / "out"
    )
    assert yaml.safe_load((out / "charts" / "values.yaml").read_text()) == {"replicas": 3}
    assert (root / "charts" / "values.yaml").read_text() == "replicas: 1\n", (
        "the unpacked image stays immutable"
    )
    assert apply_patches(root, [], tmp_path / "none") == root
    with pytest.raises(UsageError, match="not inside the image"):
        apply_patches(root, [ConfigPatch("c", "../x", "", "override")], tmp_path / "bad")


def test_link_in_the_image_is_not_followed(tmp_path):
    root = tmp_path / "img"
    root.mkdir()
    (root / "link").symlink_to(tmp_path / "outside.yaml")
    with pytest.raises(UsageError, match="is a link"):
        apply_patches(root, [ConfigPatch("c", "link", "x", "override")], tmp_path / "out")
    assert not (tmp_path / "outside.yaml").exists()
