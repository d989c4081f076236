"""The CLI-facing app operations on an existing cluster: lock, Config documents, dry-run, show, remove."""

from __future__ import annotations

import contextlib
import json

import pytest

from sealkit.apps import ops
from sealkit.apps.record import AppsRecord
from sealkit.cluster import Cluster, Host
from sealkit.engine.options import Options
from sealkit.errors import UsageError
from sealkit.state import ClusterState
from tests.apps.test_engine import REDIS_FILES, STORAGE, redis_chart

CONFIG = {
    "apiVersion": "apps.sealos.io/v1beta1",
    "kind": "Config",
    "metadata": {"name": "redis-values"},
    "spec": {"path": "charts/redis/values.yaml", "data": "replicas: 3\n", "strategy": "merge"},
}


@pytest.fixture
def cluster(sealkit_home, make_ctx, make_app, fake, images, monkeypatch):
    """State for cluster 'demo' (with a sealos Config document) whose context is the fake master."""
    import sealkit.apps.engine as engine_mod
    import sealkit.engine.session as session

    state = ClusterState("demo")
    hosts = [Host(ip="10.0.0.5", roles=["master"]), Host(ip="10.0.0.6", roles=["node"])]
    state.save_clusterfile(
        Cluster(name="demo", hosts=hosts, images=["k3s:1"], runtime="fake", documents=[CONFIG])
    )
    fake.charts["charts/redis"] = redis_chart
    fake.add(dict(STORAGE))
    app = make_app(REDIS_FILES)
    seen = {}

    @contextlib.contextmanager
    def open_context(options, saved, st, *, runtime, **kw):
        ctx = make_ctx()
        ctx.state = st
        seen["locked"] = (st.dir / "lock").read_text().strip() != ""
        yield ctx

    monkeypatch.setattr(session, "open_context", open_context)
    monkeypatch.setattr(session, "gather_facts", lambda ctx, hosts: None)
    monkeypatch.setattr(ops, "resolve_app", lambda ref, pull=False: app)
    real_install = engine_mod.install
    monkeypatch.setattr(
        engine_mod,
        "install",
        lambda ctx, apps, **kw: real_install(
            ctx, apps, images=images, clock=iter(range(0, 10**6, 5)).__next__, sleep=lambda s: None, **kw
        ),
    )
    return {"state": state, "seen": seen, "fake": fake}


def test_install_apps_on_an_existing_cluster(cluster):
    out = ops.install_apps(Options(cluster="demo"), ["localhost/apps/redis:7.0"], env=["X=1"])
    [app] = out["apps"]
    assert out["cluster"] == "demo" and app["name"] == "redis" and app["endpoints"][0] == "10.0.0.5:30079"
    assert cluster["seen"]["locked"], "the cluster lock is held while apps install"
    staged = next(p for p in (cluster["state"].dir / "apps" / "files").iterdir() if p.is_dir())
    assert (staged / "charts/redis/values.yaml").read_text().splitlines()[-1] == "replicas: 3"
    assert AppsRecord(cluster["state"].dir).get("redis").env_keys == ["REDIS_PASSWORD", "X"]
    saved = ClusterState("demo").load_clusterfile()
    assert saved.env == {}, "-e of an app run never becomes cluster env"
    assert json.loads(json.dumps(out))["apps"][0]["credentials"]["password"]


def test_dry_run_changes_nothing(cluster):
    out = ops.install_apps(Options(cluster="demo", dry_run=True), ["localhost/apps/redis:7.0"], env=[])
    assert out == {
        "phases": [
            {
                "phase": "apps",
                "mode": "serial",
                "steps": ["install app redis (localhost/apps/redis:7.0, helm) @ 10.0.0.5"],
            }
        ]
    }
    from sealkit.cli import summary

    assert summary.converge(out, "run").splitlines()[1].split() == ["apps", "serial", "10.0.0.5"]
    assert cluster["fake"].calls == []


def test_bad_env_is_refused_before_anything(cluster):
    with pytest.raises(UsageError, match="not KEY=VALUE"):
        ops.install_apps(Options(cluster="demo"), ["localhost/apps/redis:7.0"], env=["oops"])
    assert cluster["fake"].calls == []


def test_list_show_remove(cluster, monkeypatch):
    ops.install_apps(Options(cluster="demo"), ["localhost/apps/redis:7.0"], env=[])
    assert [r["name"] for r in ops.list_apps(Options(cluster="demo"))] == ["redis"]
    shown = ops.show_app(Options(cluster="demo"), "redis")
    assert shown["credentials"]["password"] and shown["endpoints"][0] == "10.0.0.5:30079"
    import sealkit.engine.images as images_mod

    monkeypatch.setattr(images_mod, "resolve", lambda ref, **kw: (_ for _ in ()).throw(UsageError("gone")))
    out = ops.remove_app(Options(cluster="demo"), "redis", purge=False)
    assert out["removed"] == "redis" and out["volumes_kept"] == ["redis/data-redis-0"]
    assert "stay in the registry" in out["warnings"][0], "unknown cluster image: images are kept, and said so"
    assert ops.list_apps(Options(cluster="demo")) == []


def test_kubectl_and_helm_keep_their_caches_under_sealkits_dir(cluster):
    """Real kubectl and helm write ~/.kube/cache, ~/.cache/helm, ~/.config/helm of the login user unless told
    otherwise: on the master they must write under /var/lib/sealkit, which reset removes."""
    from sealkit.apps import files
    from tests.apps.fakekube import ENV_PREFIX, parse_env

    ops.install_apps(Options(cluster="demo"), ["localhost/apps/redis:7.0"], env=[])
    ops.remove_app(Options(cluster="demo"), "redis", purge=True)
    calls = cluster["fake"].calls
    kubectl = [cmd for cmd, _ in calls if "kubectl --kubeconfig" in cmd]
    assert kubectl and all(f"--cache-dir={files.KUBE_CACHE_DIR}" in cmd for cmd in kubectl), kubectl
    helm = [(cmd, stdin) for cmd, stdin in calls if "/helm " in cmd and 'echo "helm=' not in cmd]
    assert helm
    for cmd, stdin in helm:
        assert cmd.startswith(ENV_PREFIX), cmd
        env = parse_env(stdin)
        assert all(env.get(k) == v for k, v in files.TOOL_ENV.items()), cmd
        assert all(v.startswith("/var/lib/sealkit/") for v in files.TOOL_ENV.values())
