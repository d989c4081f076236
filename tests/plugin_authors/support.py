"""Helpers shared by the plugin-author tests: install a plugin package and run its tests in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def pip_install_target(pkg: Path, site: Path) -> None:
    """``pip install`` the package into ``site`` (offline: no index, no build isolation, no deps)."""
    argv = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    run = subprocess.run(
        [*argv, "--target", str(site), str(pkg)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr


def run_pytest(site: Path, tests: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """pytest on ``tests`` with ``site`` first on sys.path; the cwd is ``site``'s parent because
    ``python -m`` puts the cwd first on sys.path, where a source checkout would shadow the install."""
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, str(tests)],
        cwd=site.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
