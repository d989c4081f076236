"""docs/apps.md's installer example works as written: it installs, re-runs and removes an app."""

from __future__ import annotations

import re
from pathlib import Path

from sealkit.apps import engine
from sealkit.apps.record import AppsRecord

DOC = Path(__file__).resolve().parents[2] / "docs" / "apps.md"


def example() -> str:
    section = DOC.read_text().split("## 8. Writing an installer plugin", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_documented_installer_works(make_ctx, make_app, fake, images):
    namespace: dict[str, object] = {}
    exec(compile(example(), str(DOC), "exec"), namespace)
    ctx = make_ctx(("addon:kustomize", namespace["Kustomize"]()))
    app = make_app(
        {
            "sealkit-app.yaml": "name: hello\ninstaller: kustomize\nkustomize: {dir: k}\n"
            "endpoints: [{service: hello, port: 80}]\n",
            "k/kustomization.yaml": "resources: [svc.yaml]\n",
            "k/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: hello}\n"
            "spec: {type: NodePort, ports: [{port: 80}]}\n",
        },
        ref="localhost/apps/hello:1",
        images=(),
    )
    ticks = iter(range(0, 10**6, 5))
    [result] = engine.install(ctx, [app], images=images, clock=lambda: next(ticks), sleep=lambda s: None)
    assert result.sentence() == "hello is ready: connect to 10.0.0.5:30079 (also 10.0.0.6:30079)."
    [again] = engine.install(ctx, [app], images=images, clock=lambda: next(ticks), sleep=lambda s: None)
    assert again.action == "unchanged"
    engine.remove(ctx, "hello", images=images, cluster_images=[])
    assert fake.get_obj("services", "hello", "hello") is None and AppsRecord(ctx.state.dir).load() == {}
