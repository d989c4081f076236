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


# ------------------------------------------------------------------ issue 14: items 6 and hostile images
class _RecordingConn:
    def __init__(self):
        self.runs: list[str] = []
        self.puts: list[tuple[str, bytes, int]] = []

    def run(self, cmd, **_kw):
        self.runs.append(cmd)

    def put(self, data, path, *, mode=0o644, **_kw):
        self.puts.append((path, data, mode))
        return True


def test_rendered_templates_are_private_on_the_host():
    """-e values (passwords) end up in rendered files: 0600 files under a 0700 rootfs, never 0644/0755."""
    import shlex
    from types import SimpleNamespace

    conn = _RecordingConn()
    ctx = SimpleNamespace(remote_rootfs="/var/lib/sealkit/rootfs")
    scripts.push_rendered(ctx, SimpleNamespace(conn=conn), {"etc/app.conf": "password=hunter2\n"})
    assert conn.puts == [("/var/lib/sealkit/rootfs/etc/app.conf", b"password=hunter2\n", 0o600)]
    (cmd,) = conn.runs
    assert shlex.split(cmd.split("&&")[1]) == ["chmod", "700", "--", "/var/lib/sealkit/rootfs"]


@pytest.mark.parametrize("link", ["etc/id.tmpl", "etc"])
def test_a_symlinked_template_or_etc_is_refused(tmp_path, link):
    secret = tmp_path / "controller-secret"
    secret.mkdir()
    (secret / "id.tmpl").write_text("PRIVATE KEY\n")
    root = tmp_path / "rootfs"
    root.mkdir()
    if link == "etc":
        (root / "etc").symlink_to(secret)
    else:
        (root / "etc").mkdir()
        (root / "etc" / "id.tmpl").symlink_to(secret / "id.tmpl")
    with pytest.raises(ImageError, match="symbolic link"):
        scripts.render_all(root, {})
