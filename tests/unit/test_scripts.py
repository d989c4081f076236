"""Cluster-image templates and lifecycle scripts (sealkit.engine.scripts)."""

from __future__ import annotations

import pytest

from sealkit.engine import scripts
from sealkit.errors import ImageError


def _rootfs(tmp_path, files: dict[str, str]):
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_templates_render_with_the_cluster_env(tmp_path):
    root = _rootfs(
        tmp_path,
        {
            "etc/app.conf.tmpl": "port=${PORT}\nname=$NAME\ncost=$$5\n",
            "etc/sub/x.yaml.tmpl": "k: ${PORT}\n",
            "etc/plain.conf": "not a template ${PORT}\n",
            "bin/tool.tmpl": "outside etc: left alone\n",
        },
    )
    out = scripts.render_all(root, {"PORT": "8080", "NAME": "db"})
    assert out == {"etc/app.conf": "port=8080\nname=db\ncost=$5\n", "etc/sub/x.yaml": "k: 8080\n"}


def test_a_key_missing_from_the_env_names_file_key_and_flag(tmp_path):
    root = _rootfs(tmp_path, {"etc/app.conf.tmpl": "port=${PORT}\n"})
    with pytest.raises(ImageError) as err:
        scripts.render_all(root, {})
    assert "etc/app.conf.tmpl" in err.value.message and "PORT" in err.value.message
    assert "-e PORT=" in (err.value.hint or "")


def test_a_malformed_template_is_an_image_error(tmp_path):
    root = _rootfs(tmp_path, {"etc/bad.tmpl": "price: $ 5\n"})
    with pytest.raises(ImageError, match="not valid"):
        scripts.render_all(root, {})


def test_no_etc_dir_means_no_templates(tmp_path):
    assert scripts.render_all(tmp_path, {"A": "1"}) == {}


def test_script_labels_must_name_files_inside_the_image(tmp_path):
    root = _rootfs(tmp_path, {"scripts/init.sh": "echo hi\n"})
    labels = {"sealkit.io/scripts.init": "scripts/init.sh", "sealkit.io/scripts.clean": "../etc/passwd"}
    assert scripts.script_for(labels, "init", root) == "scripts/init.sh"
    assert scripts.script_for(labels, "check", root) is None
    with pytest.raises(ImageError, match=r"scripts\.clean"):
        scripts.script_for(labels, "clean", root)
    with pytest.raises(ImageError, match="does not name a file"):
        scripts.script_for({"sealkit.io/scripts.init": "scripts/missing.sh"}, "init", root)
