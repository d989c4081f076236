"""App images built by `sealkit build`: found by label, spec/ENV/CMD read, rootfs images refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealkit.apps.image import is_app, resolve_app
from sealkit.apps.ops import split_images
from sealkit.errors import ImageError
from sealkit.image import default_store
from sealkit.image.oci import host_arch


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def build(root: Path, tag: str, kubefile: str, files: dict[str, str]) -> str:
    ctx = root / tag.replace("/", "_").replace(":", "_")
    for rel, text in files.items():
        write(ctx / rel, text)
    write(ctx / "Kubefile", kubefile)
    return default_store().build(ctx / "Kubefile", ctx, tag, fetch_images=False)


APP_KUBEFILE = """FROM scratch
LABEL sealkit.io/type=app sealkit.io/version=7.0.15
ENV REDIS_MAXMEMORY=64mb
COPY . .
"""


def test_resolve_a_built_app_image(sealkit_home, tmp_path):
    digest = build(
        tmp_path,
        "localhost/apps/redis:7.0",
        APP_KUBEFILE,
        {
            "sealkit-app.yaml": "name: redis\nhelm: {chart: charts/redis}\n",
            "charts/redis/Chart.yaml": "name: redis\nversion: 1.0.0\n",
        },
    )
    app = resolve_app("localhost/apps/redis:7.0")
    assert app.digest == digest and app.name == "redis" and app.spec.installer == "helm"
    assert app.env == {"REDIS_MAXMEMORY": "64mb"} and app.version == "7.0.15"
    assert app.arches == (host_arch(),) and app.images == ()
    assert (app.rootfs_for(None) / "charts/redis/Chart.yaml").is_file()
    assert app.repository == "localhost/apps/redis"
    assert is_app("localhost/apps/redis:7.0")


def test_sealos_style_cmd_image_needs_no_spec(sealkit_home, tmp_path):
    build(
        tmp_path,
        "localhost/legacy/mysql:8.0",
        'FROM scratch\nLABEL sealkit.io/type=app\nCOPY . .\nCMD ["helm install mysql charts/mysql"]\n',
        {"charts/mysql/Chart.yaml": "name: mysql\n"},
    )
    app = resolve_app("localhost/legacy/mysql:8.0")
    assert app.spec.installer == "cmd" and app.cmd == ("helm install mysql charts/mysql",)
    assert app.name == "mysql"


def test_a_rootfs_image_is_not_an_app(sealkit_home, tmp_path):
    build(
        tmp_path,
        "localhost/k3s:v1.30.4",
        "FROM scratch\nLABEL sealkit.io/type=rootfs\nCOPY . .\n",
        {"x": "1"},
    )
    with pytest.raises(ImageError, match="is not an app image"):
        resolve_app("localhost/k3s:v1.30.4")


def test_a_missing_declared_chart_is_an_error_before_anything(sealkit_home, tmp_path):
    build(
        tmp_path, "localhost/apps/bad:1", APP_KUBEFILE, {"sealkit-app.yaml": "helm: {chart: charts/nope}\n"}
    )
    with pytest.raises(ImageError, match=r"helm\.chart: the image has no chart charts/nope"):
        resolve_app("localhost/apps/bad:1")


def test_split_images_keeps_order(sealkit_home, tmp_path):
    build(
        tmp_path,
        "localhost/k3s:v1.30.4",
        "FROM scratch\nLABEL sealkit.io/type=rootfs\nCOPY . .\n",
        {"x": "1"},
    )
    build(tmp_path, "localhost/apps/a:1", APP_KUBEFILE, {"manifests/a.yaml": "kind: ConfigMap\n"})
    build(tmp_path, "localhost/apps/b:1", APP_KUBEFILE, {"manifests/b.yaml": "kind: ConfigMap\n"})
    refs = ["localhost/k3s:v1.30.4", "localhost/apps/b:1", "localhost/apps/a:1"]
    assert split_images(refs) == (["localhost/k3s:v1.30.4"], ["localhost/apps/b:1", "localhost/apps/a:1"])
