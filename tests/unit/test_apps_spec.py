"""sealkit-app.yaml: strict validation naming the file and the field; defaults from labels and layout."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sealkit.apps.spec import APP_FILE, load_spec
from sealkit.errors import ImageError


def image(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip())
    return tmp_path


def spec_of(tmp_path: Path, text: str, *, extra: dict[str, str] | None = None, cmd=(), labels=None):
    root = image(tmp_path, {APP_FILE: text, **(extra or {})})
    return load_spec(root, image_ref="localhost/apps/redis:7.0", labels=labels or {}, cmd=cmd)


CHART = {"charts/redis/Chart.yaml": "name: redis\n", "charts/redis/values.yaml": "a: 1\n"}


def test_full_spec(tmp_path):
    s = spec_of(
        tmp_path,
        """
        apiVersion: sealkit.io/v1
        kind: App
        name: cache
        namespace: data
        helm:
          chart: charts/redis
          values: [charts/redis/values.yaml]
          set: {auth.password: "${PW}", replicas: 3}
        generate: {PW: {length: 32, alphabet: hex}}
        endpoints:
          - {name: redis, service: cache-master, port: 6379}
          - {service: web, port: http, ingress: web}
        credentials:
          password: {secret: cache, key: redis-password}
          pw2: {env: PW}
          username: {value: default}
        ready: {workloads: [StatefulSet/cache-master], timeout: 300}
        requires: {storageClass: local-path}
        """,
        extra=CHART,
    )
    assert (s.name, s.namespace, s.installer, s.chart) == ("cache", "data", "helm", "charts/redis")
    assert s.values == ("charts/redis/values.yaml",)
    assert s.helm_set == {"auth.password": "${PW}", "replicas": "3"}
    assert s.generate["PW"].length == 32 and s.generate["PW"].alphabet == "hex"
    assert [e.port for e in s.endpoints] == [6379, "http"] and s.endpoints[1].ingress == "web"
    assert [(c.name, c.secret, c.key, c.env, c.value) for c in s.credentials] == [
        ("password", "cache", "redis-password", "", ""),
        ("pw2", "", "", "PW", ""),
        ("username", "", "", "", "default"),
    ]
    assert s.workloads == ("statefulset/cache-master",) and s.timeout == 300
    assert s.storage_class == "local-path"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("helm: {chart: charts/redis}\nendpoint: []\n", "endpoint: unknown field"),
        ("helm: {chart: charts/redis, valuez: []}\n", "helm.valuez: unknown field"),
        ("helm: {chart: charts/redis}\nready: {timeout: 5}\n", "ready.timeout: must be an integer from 10"),
        ("helm: {chart: charts/nope}\n", "helm.chart: the image has no chart charts/nope"),
        ("helm: {chart: ../../etc}\n", "helm.chart: '../../etc' is not a path inside the image"),
        (
            "helm: {chart: charts/redis}\ncredentials: {pw: {env: PW}}\n",
            "credentials.pw.env: PW is not generated",
        ),
        (
            "helm: {chart: charts/redis}\ncredentials: {pw: {secret: a}}\n",
            "credentials.pw.key: must be a non-empty",
        ),
        ("helm: {chart: charts/redis}\ncredentials: {pw: {secret: a, key: b, value: c}}\n", "exactly one"),
        ("helm: {chart: charts/redis}\nendpoints: [{service: s, port: 70000}]\n", "endpoints[0].port"),
        ("helm: {chart: charts/redis}\nready: {workloads: [pod/x]}\n", "ready.workloads[0]"),
        ("kind: Cluster\n", "kind: 'Cluster' is not supported"),
        ("name: Bad_Name\nhelm: {chart: charts/redis}\n", "name: 'Bad_Name' is not a valid name"),
        ("helm: {chart: charts/redis}\ngenerate: {PW: {length: 4}}\n", "generate.PW.length"),
    ],
)
def test_bad_fields_are_named(tmp_path, text, field):
    with pytest.raises(ImageError) as err:
        spec_of(tmp_path, text, extra=CHART)
    assert f"{APP_FILE} (localhost/apps/redis:7.0): " in err.value.message
    assert field in err.value.message


def test_symlink_leaving_the_image_is_refused(tmp_path):
    root = image(tmp_path / "img", {APP_FILE: "helm: {chart: charts/evil}\n"})
    (root / "charts").mkdir()
    (root / "charts" / "evil").symlink_to("/etc")
    with pytest.raises(ImageError, match="leaves the image through a symlink"):
        load_spec(root, image_ref="x:1", labels={}, cmd=())


def test_not_yaml(tmp_path):
    with pytest.raises(ImageError, match="is not valid YAML"):
        spec_of(tmp_path, "helm: [\n")


def test_defaults_from_layout_single_chart(tmp_path):
    root = image(tmp_path, CHART)
    s = load_spec(root, image_ref="reg.example:5000/apps/Redis-HA:7", labels={}, cmd=())
    assert (s.installer, s.chart, s.name, s.namespace) == ("helm", "charts/redis", "redis-ha", "redis-ha")


def test_defaults_manifests_then_cmd(tmp_path):
    root = image(tmp_path / "m", {"manifests/a.yaml": "kind: ConfigMap\n"})
    assert load_spec(root, image_ref="web:1", labels={}, cmd=()).installer == "manifests"
    root = image(tmp_path / "c", {"charts/a/Chart.yaml": "x\n", "charts/b/Chart.yaml": "y\n"})
    assert (
        load_spec(root, image_ref="legacy:1", labels={}, cmd=("helm install a charts/a",)).installer == "cmd"
    )
    with pytest.raises(ImageError, match="names no installer"):
        load_spec(root, image_ref="legacy:1", labels={}, cmd=())


def test_labels_name_chart_and_values(tmp_path):
    root = image(tmp_path, CHART)
    s = load_spec(
        root,
        image_ref="r:1",
        labels={"sealkit.io/app.chart": "charts/redis", "sealkit.io/app.values": "charts/redis/values.yaml"},
        cmd=(),
    )
    assert s.installer == "helm" and s.values == ("charts/redis/values.yaml",)
    assert s.source == "labels of r:1"


def test_third_party_section_only_for_its_installer(tmp_path):
    s = spec_of(tmp_path, "installer: kustomize\nkustomize: {dir: overlays/prod}\n")
    assert s.options == {"dir": "overlays/prod"}
    with pytest.raises(ImageError, match="kustomize: unknown field"):
        spec_of(tmp_path, "installer: helm\nhelm: {chart: charts/redis}\nkustomize: {}\n", extra=CHART)


def test_storage_class_default(tmp_path):
    assert spec_of(tmp_path, "requires: {storageClass: true}\n", extra=CHART).storage_class == ""
    assert spec_of(tmp_path, "{}\n", extra=CHART).storage_class is None
