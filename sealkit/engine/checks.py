"""``sealkit check``: run the plugins' pytest-testinfra checks against the cluster's hosts, in process.

Each check module's tests get three fixtures: ``host`` (a testinfra host over paramiko, reusing the pinned
host keys), ``sealkit_host`` (the HostRef: ip, roles, name) and ``sealkit_ctx`` (the ClusterContext).
Tests are parametrized over every host; a test skips hosts it does not concern.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from sealkit.context import ClusterContext, HostRef


class _ChecksPlugin:
    """The pytest plugin that feeds hosts to check modules and records outcomes."""

    def __init__(self, ctx: ClusterContext, ssh_config: Path) -> None:
        self.ctx = ctx
        self.ssh_config = ssh_config
        self.passed = 0
        self.failures: list[str] = []
        self._hosts: dict[str, Any] = {}

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "sealkit_host" in metafunc.fixturenames or "host" in metafunc.fixturenames:
            ips = sorted(self.ctx.hosts)
            metafunc.parametrize("_sealkit_ip", ips, ids=ips)

    @pytest.fixture
    def sealkit_ctx(self) -> ClusterContext:
        return self.ctx

    @pytest.fixture
    def sealkit_host(self, _sealkit_ip: str) -> HostRef:
        return self.ctx.hosts[_sealkit_ip]

    @pytest.fixture
    def host(self, _sealkit_ip: str):
        import testinfra

        if _sealkit_ip not in self._hosts:
            ref = self.ctx.hosts[_sealkit_ip]
            self._hosts[_sealkit_ip] = testinfra.get_host(
                f"paramiko://{ref.spec.ssh.user}@{ref.ip}:{ref.spec.port}",
                ssh_config=str(self.ssh_config),
                sudo=ref.spec.ssh.user != "root",
            )
        return self._hosts[_sealkit_ip]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and report.passed:
            self.passed += 1
        elif report.failed:
            msg = str(report.longrepr).strip().splitlines()
            self.failures.append(f"{report.nodeid}: {msg[-1] if msg else 'failed'}")


def _ssh_config_for(ctx: ClusterContext, directory: Path) -> Path:
    """Per-host identity and the cluster's pinned known_hosts, checked strictly (no TOFU here)."""
    lines = []
    for ref in ctx.hosts.values():
        lines += [
            f"Host {ref.ip}",
            f"  Port {ref.spec.port}",
            f"  User {ref.spec.ssh.user}",
            f"  UserKnownHostsFile {ctx.state.known_hosts}",
            "  StrictHostKeyChecking yes",
        ]
        if ref.spec.ssh.pk:
            lines.append(f"  IdentityFile {ref.spec.ssh.pk}")
    path = directory / "ssh_config"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def run_checks(ctx: ClusterContext) -> dict[str, Any]:
    modules = sorted({m for lst in ctx.pm.hook.sealkit_host_checks(ctx=ctx) for m in (lst or [])})
    with tempfile.TemporaryDirectory(prefix="sealkit-check-") as tmp:
        plugin = _ChecksPlugin(ctx, _ssh_config_for(ctx, Path(tmp)))
        code = pytest.main(
            [
                *modules,
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:randomly",
                "--rootdir",
                tmp,
                "-o",
                "addopts=",
                "-W",
                "ignore::DeprecationWarning",
            ],
            plugins=[plugin],
        )
    return {
        "modules": modules,
        "passed": plugin.passed,
        "failed": len(plugin.failures),
        "failures": plugin.failures,
        "pytest_exit": int(code),
    }
