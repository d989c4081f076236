"""sealkit.api is the plugins' whole view of sealkit: declared, importable, all the shipped plugins use."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from sealkit import api
from sealkit.ssh.connection import Connection
from sealkit.testing.recording import RecordingConnection

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {"sealkit.api"}


def internal_imports(package_dir: Path, root: Path = ROOT) -> list[str]:
    """``path:line: import`` for every import of a sealkit module other than sealkit.api."""
    found = []
    for path in sorted(package_dir.glob("sealkit_*/**/*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            else:
                continue
            for module in modules:
                if (module == "sealkit" or module.startswith("sealkit.")) and module not in ALLOWED:
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {module}")
    return found


@pytest.mark.parametrize("plugin", ["kubeadm", "k3s", "k0s", "binary"])
def test_shipped_plugins_import_only_the_public_surface(plugin):
    """Fails until /work/notes/h5_rewrite_imports.py (a mechanical rewrite) has run on plugins/."""
    bad = internal_imports(ROOT / "plugins" / plugin)
    assert not bad, "import these from sealkit.api instead:\n  " + "\n  ".join(bad)


def test_the_import_check_sees_an_internal_import(tmp_path):
    pkg = tmp_path / "sealkit_x"
    pkg.mkdir()
    (pkg / "plugin.py").write_text(
        "from sealkit.api import hookimpl\nif True:\n    from sealkit.pki.model import Layout\n"
    )
    assert internal_imports(tmp_path, tmp_path) == ["sealkit_x/plugin.py:3: sealkit.pki.model"]


def test_every_declared_name_resolves_and_is_documented():
    assert api.__doc__ and len(api.__all__) == len(set(api.__all__))
    for name in api.__all__:
        assert hasattr(api, name), name
        assert name in api.__doc__, f"sealkit.api docstring does not mention {name}"


@pytest.mark.parametrize("impl", [Connection, RecordingConnection])
@pytest.mark.parametrize("method", ["run", "put", "get"])
def test_both_connections_keep_the_protocol(impl, method):
    """Every parameter the protocol promises exists on the SSH connection and on the recording one."""
    promised = inspect.signature(getattr(api.HostConnection, method)).parameters
    offered = inspect.signature(getattr(impl, method)).parameters
    missing = [p for p in promised if p not in offered]
    assert not missing, f"{impl.__name__}.{method} lacks {missing}"
    assert isinstance(RecordingConnection("10.0.0.1"), api.HostConnection)


def test_recording_get_fails_like_a_host_for_a_missing_file():
    conn = RecordingConnection("10.0.0.1")
    with pytest.raises(api.StepFailed, match="/etc/x"):
        conn.get("/etc/x")
    conn.put(b"x", "/etc/x")
    assert conn.get("/etc/x", sudo=True) == b"x"
