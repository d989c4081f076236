"""The files sent to the master (no images/, Config patches applied) and registering the app hooks."""

from __future__ import annotations

import pluggy
import pytest

from sealkit.apps import files
from sealkit.apps.configs import ConfigPatch
from sealkit.apps.ops import ensure_app_hooks
from sealkit.apps.plugins import core_without_placeholders
from sealkit.errors import PluginError


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


def test_ensure_app_hooks_on_a_manager_without_placeholders():
    pm = pluggy.PluginManager("sealkit")
    pm.add_hookspecs(core_without_placeholders())
    ensure_app_hooks(pm)
    assert sorted(n for names in pm.hook.sealkit_app_installers() for n in names) == [
        "cmd",
        "helm",
        "manifests",
    ]
    ensure_app_hooks(pm)  # idempotent
    assert len(pm.get_plugins()) == 3


def test_ensure_app_hooks_says_what_blocks_it():
    from sealkit import hookspecs

    pm = pluggy.PluginManager("sealkit")
    pm.add_hookspecs(hookspecs)
    if not hasattr(pm.hook, "sealkit_install_app"):
        pytest.skip("the placeholders are gone from sealkit.hookspecs")
    with pytest.raises(PluginError, match="placeholder"):
        ensure_app_hooks(pm)
