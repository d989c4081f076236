"""`sealkit plugin new` writes a plugin that installs and passes the contract suite; each mistake a plugin
author makes (issue 17: six that show only when a hook runs, three in registration) fails the suite with a
message naming the hook and the fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from sealkit.cli.main import cli, main
from tests.plugin_authors.support import pip_install_target, run_pytest

NAME = "nullrt"
PKG = "sealkit_nullrt"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The generated package, pip-installed (offline, no build isolation) into its own --target dir."""
    root = tmp_path_factory.mktemp("template")
    pkg = root / "pkg"
    result = CliRunner().invoke(cli, ["plugin", "new", NAME, "--dir", str(pkg)])
    assert result.exit_code == 0, result.output
    site = root / "site"
    pip_install_target(pkg, site)
    assert (site / PKG / "plugin.py").is_file()
    return pkg, site


def test_the_generated_plugin_passes_its_contract_tests(installed):
    pkg, site = installed
    run = run_pytest(site, pkg / "tests")
    assert run.returncode == 0, run.stdout[-3000:]
    assert "13 passed" in run.stdout


def _entry_points(site: Path) -> Path:
    return next(site.glob(f"{PKG}-*.dist-info")) / "entry_points.txt"


#: (id, file, old, new, words the failure must show)
MUTATIONS = [
    (
        "cert_specs-None",
        "plugin.py",
        "return Layout()  # nothing",
        "return None  # nothing",
        ["sealkit_cert_specs", "returned None", "not a Layout", "fix: return a Layout"],
    ),
    (
        "mirror_config-None",
        "plugin.py",
        "        return mirrors.containerd_files(",
        "        return None and mirrors.containerd_files(",
        ["sealkit_registry_mirror_config", "returned None", "fix: return a list of FileSpec"],
    ),
    (
        "init-raises",
        "plugin.py",
        'return self._start(ctx, host, "server", {"node-ip": host.ip, "init": True})',
        'raise RuntimeError("boom")',
        ["sealkit_init_cluster", "raised RuntimeError", "boom", "fix: return True"],
    ),
    (
        "init-None",
        "plugin.py",
        'return self._start(ctx, host, "server", {"node-ip": host.ip, "init": True})',
        'self._start(ctx, host, "server", {"node-ip": host.ip, "init": True})',
        [
            "sealkit_init_cluster",
            "returned None",
            "no plugin implements sealkit_init_cluster",
            "fix: return True",
        ],
    ),
    (
        "runtime_version-crashes",
        "plugin.py",
        'res = host.conn.run(f"{BIN} --version", check=False, timeout=30)',
        'res = host.conn.run(f"{BIN} --version", check=False, timeout=30)\n        int(res.stdout)',
        ["sealkit_runtime_version", "raised ValueError", "fix: return the installed version"],
    ),
    (
        "kubeconfig-42",
        "plugin.py",
        "return yaml.safe_dump(doc, sort_keys=False)",
        "return 42",
        ["sealkit_get_kubeconfig", "returned 42", "fix: return the admin kubeconfig as YAML"],
    ),
    (
        "misspelled-hook",
        "plugin.py",
        "def sealkit_join_node(",
        "def sealkit_join_nodes(",
        ["sealkit_join_nodes", "did you mean sealkit_join_node?", "fix: rename it to sealkit_join_node"],
    ),
    (
        "entry-point-to-module",
        "entry_points",
        f"{NAME} = {PKG}.plugin:Runtime",
        f"{NAME} = {PKG}.plugin",
        ["names the module sealkit_nullrt.plugin", "fix: point it at the class", f"{PKG}.plugin:Runtime"],
    ),
    (
        "missing-required-hook",
        "plugin.py",
        "def sealkit_drain_host(",
        "def _drain_host(",
        ["sealkit_drain_host is not implemented", "fix: add `@hookimpl def sealkit_drain_host"],
    ),
]


@pytest.mark.parametrize(("what", "where", "old", "new", "words"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_each_mistake_fails_the_contract_naming_hook_and_fix(
    installed, tmp_path, what, where, old, new, words
):
    pkg, site = installed
    broken = tmp_path / "site"
    shutil.copytree(site, broken)
    target = _entry_points(broken) if where == "entry_points" else broken / PKG / where
    text = target.read_text()
    assert text.count(old) == 1, f"the template changed: {old!r} not found once in {target.name}"
    target.write_text(text.replace(old, new))
    run = run_pytest(broken, pkg / "tests", "-x")
    assert run.returncode == 1, run.stdout[-3000:]
    out = " ".join(run.stdout.split())  # pytest wraps long lines
    for word in words:
        assert " ".join(word.split()) in out, f"{what}: {word!r} missing from:\n{run.stdout[-3000:]}"
    assert "<sealkit_nullrt.plugin.Runtime object at" not in run.stdout


def test_plugin_new_refuses_a_bad_name_and_a_used_directory(tmp_path, capsys):
    """Usage errors exit 2 (DESIGN §2) with the fix, and a used directory is left as it was."""
    with pytest.raises(SystemExit) as bad:
        main(["plugin", "new", "Bad_Name", "--dir", str(tmp_path / "a")])
    assert bad.value.code == 2 and "invalid runtime name 'Bad_Name'" in capsys.readouterr().err
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("theirs")
    with pytest.raises(SystemExit) as used:
        main(["plugin", "new", "ok", "--dir", str(tmp_path / "used")])
    assert used.value.code == 2 and "not empty" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "used").iterdir()) == ["keep.txt"]
    assert not (tmp_path / "a").exists()
