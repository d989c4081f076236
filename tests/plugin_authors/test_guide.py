"""docs/plugins.md works as written and agrees with the code; docs/hooks.md is what hookspecs.py generates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sealkit import hookspecs
from sealkit.testing import diagnose, hookdoc
from tests.plugin_authors.support import pip_install_target, run_pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDE = DOCS / "plugins.md"
FENCE = re.compile(r"^```(\w+) (file|check)=(\S+)\n(.*?)^```$", re.M | re.S)


def blocks(kind: str) -> dict[str, str]:
    """Code blocks of the guide tagged ``file=PATH`` or ``check=NAME``, by that value."""
    return {m.group(3): m.group(4) for m in FENCE.finditer(GUIDE.read_text()) if m.group(2) == kind}


def test_hook_reference_is_generated_from_the_specs():
    assert (DOCS / "hooks.md").read_text() == hookdoc.render(), (
        "docs/hooks.md is stale: run .venv/bin/python -m sealkit.testing.hookdoc"
    )


def test_the_reference_would_notice_a_changed_spec(monkeypatch):
    """The check above can fail: a spec whose documentation changes changes the rendered reference."""
    before = hookdoc.render()
    fn = hookspecs.sealkit_join_node
    monkeypatch.setattr(fn, "__doc__", fn.__doc__.replace("Join a worker", "Join a machine"))
    assert hookdoc.render() != before


def test_the_guide_tables_name_every_hook_by_kind():
    text = GUIDE.read_text()
    runtime_table = text.split("## 4.", 1)[1].split("Optional for a runtime", 1)[0]
    for name in hookspecs.RUNTIME_REQUIRED_HOOKS:
        assert f"| `{name}" in runtime_table, f"{name} is required but missing from the guide's table"
    for name in hookspecs.APP_INSTALLER_HOOKS:
        assert f"`{name}(" in text.split("## 7.", 1)[1]
    for name in (n for n in diagnose.spec_names() if n not in hookspecs.RUNTIME_REQUIRED_HOOKS):
        assert name in text or name in (DOCS / "hooks.md").read_text()


def test_the_walk_through_installs_and_passes_the_contract_suite(tmp_path):
    files = blocks("file")
    assert {"pyproject.toml", "sealkit_hello/plugin.py", "tests/test_hello_contract.py"} <= set(files)
    pkg = tmp_path / "pkg"
    for rel, text in files.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    site = tmp_path / "site"
    pip_install_target(pkg, site)
    run = run_pytest(site, pkg / "tests")
    assert run.returncode == 0, run.stdout[-4000:]
    assert "13 passed" in run.stdout


@pytest.mark.parametrize("name", hookspecs.RUNTIME_REQUIRED_HOOKS)
def test_every_required_hook_has_a_fix_text(name):
    from sealkit.testing.contract import EXPECTED

    assert name in EXPECTED, f"a contract failure on {name} would have no fix to show"


def test_hookdoc_check_reports_a_stale_reference(tmp_path, capsys):
    stale = tmp_path / "hooks.md"
    stale.write_text("# old\n")
    assert hookdoc.main(["--check", str(stale)]) == 1
    assert "stale" in capsys.readouterr().err
    assert hookdoc.main([str(stale)]) == 0
    assert hookdoc.main(["--check", str(stale)]) == 0
