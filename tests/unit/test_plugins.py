"""Discovery and registration: entry points, stevedore, pluggy contract, third-party runtimes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sealkit import plugins
from sealkit.errors import PluginError
from sealkit.hookspecs import hookimpl

SEALKIT = [sys.executable, "-m", "sealkit.cli.main"]


def test_installed_lists_the_four_runtimes_with_versions():
    rows = {p.name: p for p in plugins.installed() if p.kind == "runtime"}
    for name in ("kubeadm", "k3s", "k0s", "binary"):
        assert name in rows, f"runtime {name} not installed"
        assert rows[name].distribution == f"sealkit-{name}"
        assert rows[name].version[0].isdigit()


def test_unknown_runtime_names_the_installed_ones():
    with pytest.raises(PluginError) as exc:
        plugins.load_runtime("nope")
    assert "k3s" in str(exc.value) and exc.value.exit_code == 2


def test_misspelled_hookimpl_fails_loudly():
    class Typo:
        @hookimpl
        def sealkit_join_nodes(self, ctx, host):  # the spec is sealkit_join_node
            return True

    with pytest.raises(PluginError, match="sealkit_join_nodes") as exc:
        plugins.build_manager(None, extra=[("typo", Typo())], load_entry_points=False)
    assert "did you mean sealkit_join_node?" in str(exc.value)
    assert "object at 0x" not in str(exc.value).splitlines()[-2]


def test_a_runtime_entry_point_naming_a_module_without_hooks_names_the_class(monkeypatch):
    import types

    module = types.ModuleType("sealkit_fake.plugin")

    class Runtime:
        @hookimpl
        def sealkit_init_cluster(self, ctx, host):
            return True

    Runtime.__module__ = module.__name__
    module.Runtime = Runtime
    with pytest.raises(PluginError) as exc:
        plugins._checked_shape("fake", module)
    assert "names the module sealkit_fake.plugin" in str(exc.value)
    assert 'fake = "sealkit_fake.plugin:Runtime"' in str(exc.value)
    module_with_hooks = types.ModuleType("sealkit_fake.hooks")
    module_with_hooks.sealkit_init_cluster = Runtime.sealkit_init_cluster
    assert plugins._checked_shape("fake", module_with_hooks) is module_with_hooks  # modules may be plugins


def test_contract_asserts_are_rewritten_for_plugin_authors():
    """Plain asserts in sealkit.testing show their values (register_assert_rewrite before import)."""
    import sealkit.testing.contract as contract

    assert type(contract.__loader__).__name__ == "AssertionRewritingHook"


def test_builtins_are_plugins_of_the_same_hooks():
    pm = plugins.build_manager(None, load_entry_points=False)
    names = {pm.get_name(p) for p in pm.get_plugins()}
    assert {"builtin:ha", "builtin:pki", "builtin:registry", "builtin:preflight"} <= names
    impls = [i.plugin_name for i in pm.hook.sealkit_configure_lb.get_hookimpls()]
    assert impls == ["builtin:ha"]


THIRD_PARTY = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "sealkit-rke2demo"
        version = "7.1.0"
        dependencies = []
        [project.entry-points."sealkit.runtimes"]
        rke2demo = "sealkit_rke2demo:Runtime"
    """,
    "sealkit_rke2demo/__init__.py": '''
        """A throwaway third-party runtime, written only against sealkit's public plugin API."""
        from sealkit.api import CASpec, CertSpec, Layout, RuntimeInfo, hookimpl


        class Runtime:
            @hookimpl
            def sealkit_runtime_info(self):
                return RuntimeInfo(name="rke2demo", default_ha="haproxy", binaries=("rke2",))

            @hookimpl
            def sealkit_cert_specs(self, ctx, host):
                lay = ctx.layout_input(host)
                ca = CASpec("ca", "rke2demo-ca", "/etc/rke2demo/ca.crt", "/etc/rke2demo/ca.key")
                if not host.is_master:
                    return Layout(cas=(CASpec("ca", "rke2demo-ca", "/etc/rke2demo/ca.crt"),))
                srv = CertSpec("server-" + host.ip, "ca", "rke2demo", "/etc/rke2demo/server.crt",
                               "/etc/rke2demo/server.key", ip_addresses=lay.master_ips,
                               usages=frozenset({"server"}))
                return Layout(cas=(ca,), certs=(srv,))

            @hookimpl
            def sealkit_registry_mirror_config(self, ctx, host, registry):
                return []

            @hookimpl
            def sealkit_init_cluster(self, ctx, host):
                host.conn.run("rke2demo-init")
                return True

            @hookimpl
            def sealkit_join_master(self, ctx, host):
                return True

            @hookimpl
            def sealkit_join_node(self, ctx, host):
                return True

            @hookimpl
            def sealkit_drain_host(self, ctx, host):
                return True

            @hookimpl
            def sealkit_reset_host(self, ctx, host):
                host.conn.run("rm -rf /etc/rke2demo")

            @hookimpl
            def sealkit_upgrade_host(self, ctx, host, from_version, to_version):
                return True

            @hookimpl
            def sealkit_get_kubeconfig(self, ctx):
                server = f"https://{ctx.first_master.ip}:6443"
                return f"kind: Config\\nclusters:\\n- cluster: {{server: {server}}}\\n  name: c\\n"

            @hookimpl
            def sealkit_runtime_version(self, ctx, host):
                return None
    ''',
    "tests/test_contract.py": """
        from sealkit.testing.contract import RuntimeContract


        class TestContract(RuntimeContract):
            runtime_name = "rke2demo"
    """,
}


@pytest.fixture(scope="module")
def third_party(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Write the plugin's source, pip-install it into a private target dir (the venv stays untouched)."""
    src = tmp_path_factory.mktemp("rke2demo-src")
    for rel, text in THIRD_PARTY.items():
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    target = tmp_path_factory.mktemp("rke2demo-site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(src),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    env = dict(os.environ, PYTHONPATH=str(target) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return src, env


def test_third_party_runtime_is_listed(third_party):
    _, env = third_party
    out = subprocess.run(
        [*SEALKIT, "-o", "json", "plugins"], env=env, capture_output=True, text=True, check=True
    )
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["rke2demo"]["distribution"] == "sealkit-rke2demo"
    assert rows["rke2demo"]["version"] == "7.1.0"
    assert rows["rke2demo"]["kind"] == "runtime"


def test_third_party_runtime_is_selected(third_party, tmp_path):
    """``--runtime rke2demo`` loads it through stevedore and registers it; no core change involved."""
    _, env = third_party
    env = dict(env, SEALKIT_HOME=str(tmp_path))
    out = subprocess.run(
        [*SEALKIT, "--runtime", "rke2demo", "plugins", "--hooks", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert "sealkit_init_cluster" in rows["rke2demo"]["hooks"]


def test_third_party_passes_the_contract_suite(third_party):
    src, env = third_party
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(src / "tests")],
        env=env,
        capture_output=True,
        text=True,
        cwd=src,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert " passed" in out.stdout


def test_broken_plugin_is_an_error_naming_its_distribution(third_party, tmp_path):
    _src, env = third_party
    site = Path(env["PYTHONPATH"].split(os.pathsep)[0])
    broken = tmp_path / "site"
    subprocess.run(["cp", "-r", str(site), str(broken)], check=True)
    (broken / "sealkit_rke2demo" / "__init__.py").write_text("raise ImportError('no rke2 here')\n")
    env = dict(env, PYTHONPATH=str(broken), SEALKIT_HOME=str(tmp_path / "home"))
    out = subprocess.run(
        [*SEALKIT, "--runtime", "rke2demo", "plugins", "--hooks"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "sealkit-rke2demo" in out.stderr and "no rke2 here" in out.stderr
    assert "Traceback" not in out.stderr
