"""A third party adds an installer (kustomize) through the ``sealkit.plugins`` entry point, no core change.

The throwaway plugin is a real distribution on ``sys.path`` (a ``dist-info`` with ``entry_points.txt``),
written only against the public API (``sealkit.hookspecs.hookimpl``, ``sealkit.apps.model``,
``sealkit.apps.kube``); sealkit discovers it with ``sealkit.plugins.load_addons`` and the app engine
installs, re-runs and removes an app with it.
"""

from __future__ import annotations

import textwrap

import pytest

from sealkit import plugins
from sealkit.apps import engine
from sealkit.apps.record import AppsRecord

PLUGIN = '''
"""kustomize installer (throwaway third-party plugin)."""
from pathlib import Path

import yaml

from sealkit.apps.kube import Kube
from sealkit.apps.model import InstallOutcome, ObjectRef
from sealkit.hookspecs import hookimpl


class Kustomize:
    @hookimpl
    def sealkit_app_installers(self):
        return ["kustomize"]

    @hookimpl
    def sealkit_check_app(self, ctx, app):
        if app.spec.installer != "kustomize":
            return []
        base = Path(app.local_rootfs) / app.spec.options.get("dir", "")
        return [] if (base / "kustomization.yaml").is_file() else [f"app {app.name}: no kustomization.yaml"]

    @hookimpl
    def sealkit_install_app(self, ctx, app):
        if app.spec.installer != "kustomize":
            return None
        base = Path(app.local_rootfs) / app.spec.options["dir"]
        kust = yaml.safe_load((base / "kustomization.yaml").read_text())
        docs = [yaml.safe_load((base / r).read_text()) for r in kust["resources"]]
        for d in docs:
            d["metadata"].setdefault("labels", {}).update(kust.get("commonLabels", {}))
        Kube(app.host, app.kubectl).run(
            ["apply", "--server-side", "--field-manager=kustomize", "-n", app.namespace, "-f", "-"],
            stdin=yaml.safe_dump_all(docs).encode(),
        )
        objs = tuple(ObjectRef(d["kind"], d["metadata"]["name"], app.namespace) for d in docs)
        return InstallOutcome(objects=objs)

    @hookimpl
    def sealkit_remove_app(self, ctx, app, record, purge):
        if record.installer != "kustomize":
            return None
        for o in record.object_refs():
            args = ["delete", o.kind.lower(), o.name, "-n", o.namespace, "--ignore-not-found"]
            Kube(app.host, app.kubectl).run(args)
        return True
'''

APP = {
    "sealkit-app.yaml": """
        name: hello
        installer: kustomize
        kustomize: {dir: overlays/prod}
        endpoints: [{service: hello, port: 8080}]
    """,
    "overlays/prod/kustomization.yaml": "resources: [deploy.yaml, svc.yaml]\ncommonLabels: {tier: prod}\n",
    "overlays/prod/deploy.yaml": """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: hello}
        spec:
          selector: {matchLabels: {app: hello}}
          template: {spec: {containers: [{name: main, image: docker.io/library/busybox:1.36}]}}
    """,
    "overlays/prod/svc.yaml": """
        apiVersion: v1
        kind: Service
        metadata: {name: hello}
        spec: {type: NodePort, ports: [{port: 8080}]}
    """,
}


@pytest.fixture
def kustomize_dist(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "sealkit_kustomize_demo").mkdir(parents=True)
    (site / "sealkit_kustomize_demo" / "__init__.py").write_text(PLUGIN)
    info = site / "sealkit_kustomize_demo-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sealkit-kustomize-demo\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(
        "[sealkit.plugins]\nkustomize = sealkit_kustomize_demo:Kustomize\n"
    )
    monkeypatch.syspath_prepend(str(site))
    return site


def test_entry_point_plugin_installs_and_removes_an_app(kustomize_dist, make_ctx, make_app, fake, images):
    listed = {p.name: p for p in plugins.installed(include_builtin=False)}
    assert listed["kustomize"].distribution == "sealkit-kustomize-demo"
    addons = dict(plugins.load_addons())
    ctx = make_ctx(("addon:kustomize", addons["kustomize"]))
    app = make_app({k: textwrap.dedent(v) for k, v in APP.items()}, ref="localhost/apps/hello:1", images=())
    ticks = iter(range(0, 10_000, 5))
    [result] = engine.install(ctx, [app], images=images, clock=lambda: next(ticks), sleep=lambda s: None)
    assert result.endpoints[0] == "10.0.0.5:30079"
    assert fake.get_obj("deployments", "hello", "hello")["metadata"]["labels"] == {"tier": "prod"}
    assert AppsRecord(ctx.state.dir).get("hello").installer == "kustomize"
    engine.remove(ctx, "hello", images=images, cluster_images=[])
    assert fake.get_obj("deployments", "hello", "hello") is None
    assert AppsRecord(ctx.state.dir).load() == {}


def test_without_the_plugin_the_installer_is_refused_by_name(make_ctx, make_app, images):
    from sealkit.errors import CheckFailed

    app = make_app({k: textwrap.dedent(v) for k, v in APP.items()}, ref="localhost/apps/hello:1")
    with pytest.raises(CheckFailed, match="installer 'kustomize' is not installed"):
        engine.install(make_ctx(), [app], images=images)
