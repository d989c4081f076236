"""Templates shipped with sealkit: ``plugin/`` is the runtime plugin package ``sealkit plugin new`` writes.

Files end in ``.tmpl`` (so packaging includes them) and use ``{{name}}`` / ``{{package}}`` placeholders,
replaced literally: no template engine, nothing in a template is evaluated.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from sealkit.errors import UsageError

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def package_name(name: str) -> str:
    """``rke2`` → ``sealkit_rke2``: the import package of a plugin distribution ``sealkit-rke2``."""
    return "sealkit_" + name.replace("-", "_")


def plugin_files(name: str) -> dict[str, str]:
    """Relative path → text of a runtime plugin package named ``name``."""
    if not _NAME.match(name):
        raise UsageError(
            f"invalid runtime name {name!r}",
            hint="use lower-case letters and digits, words joined by '-' (it is the --runtime value)",
        )
    pkg = package_name(name)
    where = resources.files(__name__) / "plugin"
    layout = {
        "pyproject.toml": "pyproject.toml.tmpl",
        f"{pkg}/__init__.py": "__init__.py.tmpl",
        f"{pkg}/plugin.py": "plugin.py.tmpl",
        f"tests/test_{pkg}_contract.py": "test_contract.py.tmpl",
    }
    return {
        rel: (where / src).read_text().replace("{{name}}", name).replace("{{package}}", pkg)
        for rel, src in layout.items()
    }


def write_plugin(name: str, dest: Path) -> list[Path]:
    """Write the package into ``dest`` (created; refused when it exists and is not empty)."""
    files = plugin_files(name)
    if dest.exists() and any(dest.iterdir()):
        raise UsageError(f"{dest} exists and is not empty", hint="pick a new directory with --dir")
    written = []
    for rel, text in files.items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
