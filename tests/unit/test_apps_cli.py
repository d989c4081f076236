"""`sealkit apps`, `apps show`, `apps remove` and the sentences `sealkit run` prints per app."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from sealkit.apps.record import AppRecord, AppsRecord
from sealkit.cli import app_cmds
from sealkit.cli.app import App
from sealkit.cluster import Cluster, Host
from sealkit.state import ClusterState


@click.group()
@click.pass_context
def cli(ctx):
    ctx.obj = ctx.obj or App(None, "demo", "table", 0, 4, False)


cli.add_command(app_cmds.apps_cmd)

REDIS = {
    "name": "redis",
    "image": "localhost/apps/redis:7.0",
    "version": "7.0",
    "action": "install",
    "changed": True,
    "endpoints": ["10.0.0.5:30079", "10.0.0.6:30079"],
    "credentials": {"password": "Zq3"},
    "warnings": [],
}


@pytest.fixture
def demo(sealkit_home):
    state = ClusterState("demo")
    state.save_clusterfile(
        Cluster(name="demo", hosts=[Host(ip="10.0.0.5", roles=["master"])], images=["k3s:1"])
    )
    AppsRecord(state.dir).put(
        AppRecord(
            "redis",
            "localhost/apps/redis:7.0",
            "localhost/apps/redis",
            "sha256:1",
            "7.0",
            "helm",
            "redis",
            status="ready",
            endpoints=["10.0.0.5:30079"],
        )
    )
    return state


def test_apps_lists_name_version_status_address(demo):
    out = CliRunner().invoke(cli, ["apps"], obj=App(None, "demo", "table", 0, 4, False))
    assert out.exit_code == 0, out.output
    header, row = out.output.splitlines()
    assert header.split() == ["NAME", "VERSION", "STATUS", "ADDRESS", "IMAGE"]
    assert row.split() == ["redis", "7.0", "ready", "10.0.0.5:30079", "localhost/apps/redis:7.0"]
    out = CliRunner().invoke(cli, ["apps", "-o", "json"], obj=App(None, "demo", "table", 0, 4, False))
    assert json.loads(out.output)[0]["address"] == "10.0.0.5:30079"


def test_apps_on_an_unknown_cluster_is_a_usage_error(sealkit_home):
    from sealkit.apps.ops import list_apps
    from sealkit.engine.options import Options
    from sealkit.errors import UsageError

    with pytest.raises(UsageError, match="no cluster named 'nope'"):
        list_apps(Options(cluster="nope"))


def test_run_prints_one_sentence_per_app():
    from sealkit.apps.model import sentence
    from sealkit.cli import summary

    assert (
        sentence(REDIS)
        == "redis is ready: connect to 10.0.0.5:30079 with password Zq3 (also 10.0.0.6:30079)."
    )
    assert summary.app_lines({"cluster": "demo", "apps": [REDIS]}) == [sentence(REDIS)]
    assert sentence({"name": "w", "action": "upgrade", "endpoints": ["h:1"], "credentials": {}}) == (
        "w was upgraded and is ready: connect to h:1."
    )


def test_show_of_a_failed_app_says_so():
    text = app_cmds.show_text({**REDIS, "status": "failed", "volumes": []})
    assert text == "redis is failed (sealkit run localhost/apps/redis:7.0 retries)"


def test_show_and_remove_render(demo, monkeypatch):
    from sealkit.apps import ops

    monkeypatch.setattr(
        ops, "show_app", lambda options, name: {**REDIS, "status": "ready", "volumes": ["redis/d"]}
    )
    monkeypatch.setattr(
        ops, "remove_app", lambda options, name, purge: {"removed": name, "volumes_kept": ["redis/d"]}
    )
    obj = App(None, "demo", "table", 0, 4, False)
    out = CliRunner().invoke(cli, ["apps", "show", "redis"], obj=obj)
    assert (
        out.output.splitlines()[0]
        == "redis is ready: connect to 10.0.0.5:30079 with password Zq3 (also 10.0.0.6:30079)."
    )
    out = CliRunner().invoke(cli, ["apps", "remove", "redis"], obj=obj)
    assert out.output.strip() == "redis removed. Volumes kept (--purge deletes them): redis/d"
    out = CliRunner().invoke(cli, ["apps", "remove", "redis", "--purge"], obj=obj, input="n\n")
    assert out.exit_code != 0 and "--force" in out.output, "--purge asks first (it deletes data)"
    out = CliRunner().invoke(cli, ["apps", "remove", "nope", "--purge"], obj=obj)
    assert "no app named 'nope' in cluster demo" in str(out.exception), "unknown app: refused before asking"
