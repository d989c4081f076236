"""``sealkit check``: run the plugins' pytest-testinfra checks against the cluster's hosts, in process.

Each check module's tests get three fixtures: ``host`` (a testinfra host whose backend is the run's own SSH
connection to that host: pinned host keys, any auth, sudo and jump hosts work as for every other step),
``sealkit_host`` (the HostRef: ip, roles, name) and ``sealkit_ctx`` (the ClusterContext).
Tests are parametrized over every host; a test skips hosts it does not concern. testinfra's own pytest plugin
is disabled so its ``host`` fixture (the local machine by default) cannot shadow ours.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from typing import Any

import pytest

from sealkit.context import ClusterContext, HostRef


def testinfra_host(ref: HostRef) -> Any:
    """A testinfra ``Host`` that runs its commands over ``ref.conn`` (sudo as the connection does)."""
    import testinfra.host
    from testinfra.backend.base import BaseBackend, CommandResult

    class SealkitBackend(BaseBackend):
        NAME = "sealkit"

        def get_pytest_id(self) -> str:
            return ref.ip

        def run(self, command: str, *args: str, **kwargs: Any) -> CommandResult:
            cmd = self.get_command(command, *args)
            res = ref.conn.run(cmd, check=False, timeout=120)
            return self.result(res.rc, self.encode(cmd), res.stdout, res.stderr)

    backend = SealkitBackend(ref.ip)
    host = testinfra.host.Host(backend)
    backend.set_host(host)
    return host


class _ChecksPlugin:
    """The pytest plugin that feeds hosts to check modules and records outcomes."""

    def __init__(self, ctx: ClusterContext) -> None:
        self.ctx = ctx
        self.passed = 0
        self.failures: list[str] = []
        #: one entry per check and host: what `sealkit check` names for each
        self.results: list[dict[str, str | None]] = []
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
        if _sealkit_ip not in self._hosts:
            self._hosts[_sealkit_ip] = testinfra_host(self.ctx.hosts[_sealkit_ip])
        return self._hosts[_sealkit_ip]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" and report.passed:
            return  # a setup or teardown that went well: the call reports the check
        msg = str(report.longrepr).strip().splitlines() if report.failed else []
        crash = getattr(report.longrepr, "reprcrash", None)
        why = crash.message.splitlines()[0] if crash is not None else (msg[-1] if msg else "failed")
        name, _, param = report.nodeid.rpartition("::")[2].partition("[")
        self.results.append(
            {
                "check": name,
                "host": param.rstrip("]") or None,
                "outcome": report.outcome,
                "message": why if report.failed else None,
            }
        )
        if report.passed:
            self.passed += 1
        elif report.failed:
            self.failures.append(f"{report.nodeid}: {msg[-1] if msg else 'failed'}")


def run_checks(ctx: ClusterContext) -> dict[str, Any]:
    modules = sorted({m for lst in ctx.pm.hook.sealkit_host_checks(ctx=ctx) for m in (lst or [])})
    with tempfile.TemporaryDirectory(prefix="sealkit-check-") as tmp:
        plugin = _ChecksPlugin(ctx)
        # pytest's report goes to stderr: stdout carries the result document (-o json|yaml)
        with contextlib.redirect_stdout(sys.stderr):
            code = pytest.main(
                [
                    *modules,
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    "-p",
                    "no:randomly",
                    "-p",
                    "no:pytest11.testinfra",
                    "-p",
                    "no:sealkit",
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
        "results": plugin.results,
        "pytest_exit": int(code),
    }
