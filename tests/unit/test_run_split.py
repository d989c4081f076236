"""`sealkit run IMAGE…`: cluster images converge the cluster, app images install on it; -e is the apps'."""

from __future__ import annotations

from typing import Any

import pytest

from sealkit.apps import ops as app_ops
from sealkit.engine import ops
from sealkit.engine.options import Options
from sealkit.state import ClusterState

KW: dict[str, Any] = dict(user=None, password=None, key=None, key_passphrase=None, port=None)


@pytest.fixture
def calls(monkeypatch, tmp_path):
    monkeypatch.setenv("SEALKIT_HOME", str(tmp_path))
    seen: dict[str, Any] = {}
    kinds = {"k3s:v1": "rootfs", "redis:7": "app", "web:1": "app"}

    def split(refs, *, pull=False):
        return [r for r in refs if kinds[r] == "rootfs"], [r for r in refs if kinds[r] == "app"]

    def cluster(options, **kw):
        seen["cluster"] = kw
        return {"cluster": options.cluster, "bytes_sent": 0}

    def apps(options, refs, *, env):
        seen["apps"] = (refs, env)
        return {"cluster": options.cluster, "apps": [{"name": r} for r in refs]}

    monkeypatch.setattr(app_ops, "split_images", split)
    monkeypatch.setattr(ops, "_run_cluster", cluster)
    monkeypatch.setattr(app_ops, "install_apps", apps)
    return seen


def _exists(name: str) -> None:
    ClusterState(name).dir.mkdir(parents=True)
    (ClusterState(name).dir / "Clusterfile").write_text("x")


def test_a_bare_rerun_converges_the_saved_cluster(calls):
    _exists("c")
    out = ops.run(Options(cluster="c"), images=[], masters="", nodes="", env=["A=1"], **KW)
    assert out["bytes_sent"] == 0 and calls["cluster"]["env"] == ["A=1"] and "apps" not in calls


def test_apps_alone_on_an_existing_cluster_touch_only_the_apps(calls):
    _exists("c")
    out = ops.run(Options(cluster="c"), images=["redis:7", "web:1"], masters="", nodes="", env=["P=x"], **KW)
    assert "cluster" not in calls
    assert calls["apps"] == (["redis:7", "web:1"], ["P=x"])
    assert [a["name"] for a in out["apps"]] == ["redis:7", "web:1"]


def test_rootfs_and_apps_in_one_go_keep_the_env_out_of_the_cluster(calls):
    out = ops.run(
        Options(cluster="new"), images=["k3s:v1", "redis:7"], masters="10.0.0.1", nodes="", env=["P=x"], **KW
    )
    assert calls["cluster"]["images"] == ["k3s:v1"] and calls["cluster"]["env"] == []
    assert calls["apps"] == (["redis:7"], ["P=x"])
    assert out["bytes_sent"] == 0 and out["apps"] == [{"name": "redis:7"}]
