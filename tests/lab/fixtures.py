"""pytest fixtures for tests that need real hosts (``pytest_plugins = ["tests.lab.fixtures"]``).

- ``lab`` (session): 5 sshd hosts + a jump host with 2 hidden hosts behind it. Faults a test injects
  through it (stop_host, cut, shape) are undone after that test.
- ``fresh_hosts(n, systemd=False)``: n hosts of a lab of their own, for destructive tests; gone
  after the test. The returned list has ``.lab`` (for exec_on, stop_host, …).
- ``fresh_lab(n, systemd=False, hidden=0)``: the same, returning the Lab.
- ``testinfra_host(lab_host, user="root")``: a pytest-testinfra host over paramiko.

Tests marked ``lab`` (and every user of these fixtures) skip with the reason when the machine cannot
run the lab (not root, no namespaces …) — unless ``SEALKIT_LAB=required`` (CI): then they fail.
"""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest

from tests.lab.core import SYSTEMD, Lab
from tests.lab.env import check_environment
from tests.lab.model import LabError, LabHost

SESSION_HOSTS = 5
SESSION_HIDDEN = 2
_PROBLEMS = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "lab: needs the multi-host test lab (root, network namespaces)")


def _required() -> bool:
    return os.environ.get("SEALKIT_LAB", "").lower() == "required"


def _problems(config: pytest.Config) -> list[str]:
    if _PROBLEMS not in config.stash:
        config.stash[_PROBLEMS] = check_environment()
    return config.stash[_PROBLEMS]


def _unavailable(reason: str) -> None:
    """Skip — or, when CI requires the lab, fail the test with the same reason."""
    if _required():
        pytest.fail(f"SEALKIT_LAB=required but {reason}", pytrace=False)
    pytest.skip(reason)


def require_lab(config: pytest.Config) -> None:
    problems = _problems(config)
    if problems:
        _unavailable("the test lab cannot run here: " + "; ".join(problems))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("lab") is not None:
        require_lab(item.config)


class _SigtermToInterrupt:
    """While the session lab is up, SIGTERM (CI timeouts) unwinds like Ctrl-C so the lab's
    teardown runs; `python -m tests.lab down --all` remains the net for SIGKILL."""

    def __init__(self) -> None:
        self.previous: Any = None

    def __enter__(self) -> None:
        try:
            if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
                self.previous = signal.signal(signal.SIGTERM, self._handler)
        except ValueError:  # not the main thread
            self.previous = None

    @staticmethod
    def _handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


@pytest.fixture(scope="session")
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    """The shared lab: 5 sshd hosts, a jump host and 2 hidden hosts; torn down at session end."""
    require_lab(request.config)
    with _SigtermToInterrupt():
        the_lab = Lab.up(SESSION_HOSTS, hidden=SESSION_HIDDEN, name=f"pytest-{os.getpid()}", replace=True)
        try:
            yield the_lab
        finally:
            the_lab.down()


@pytest.fixture(autouse=True)
def _lab_heal(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used ``lab``: restore cut links, remove shaping, boot stopped hosts."""
    used = request.getfixturevalue("lab") if "lab" in request.fixturenames else None
    yield
    if used is not None:
        used.heal()


class FreshHosts(list[LabHost]):
    """The hosts of a fresh lab; ``.lab`` is that lab (for exec_on and the fault helpers)."""

    def __init__(self, lab: Lab) -> None:
        super().__init__(lab.hosts)
        self.lab = lab


@pytest.fixture
def fresh_lab(request: pytest.FixtureRequest) -> Iterator[Callable[..., Lab]]:
    """Factory: ``fresh_lab(n, systemd=False, hidden=0)`` -> a new Lab, downed after the test."""
    require_lab(request.config)
    labs: list[Lab] = []

    def make(n: int = 1, *, systemd: bool = False, hidden: int = 0) -> Lab:
        if systemd and not SYSTEMD.exists():
            _unavailable(f"systemd hosts need {SYSTEMD}: apt-get install systemd")
        name = f"fresh-{os.getpid()}-{secrets.token_hex(3)}"
        new = Lab.up(n, systemd=systemd, hidden=hidden, name=name)
        labs.append(new)
        return new

    yield make
    errors = []
    for one in labs:
        try:
            one.down()
        except LabError as exc:
            errors.append(str(exc))
    if errors:
        raise LabError("tearing down fresh labs failed: " + "; ".join(errors))


@pytest.fixture
def fresh_hosts(fresh_lab: Callable[..., Lab]) -> Callable[..., FreshHosts]:
    """Factory: ``fresh_hosts(n, systemd=False)`` -> n hosts nobody else uses (destructive tests)."""

    def make(n: int = 1, *, systemd: bool = False) -> FreshHosts:
        return FreshHosts(fresh_lab(n, systemd=systemd))

    return make


@pytest.fixture
def testinfra_host() -> Iterator[Callable[..., Any]]:
    """Factory: ``testinfra_host(lab_host, user="root")`` -> a testinfra Host (paramiko backend).

    Hidden hosts go through the jump host (the inventory's ssh_config.testinfra uses ProxyCommand:
    testinfra's paramiko backend does not read ProxyJump). Connections close after the test.
    """
    import testinfra.backend
    import testinfra.host

    made: list[Any] = []

    def make(lab_host: LabHost, user: str = "root") -> Any:
        key = lab_host.root_key if user == "root" else lab_host.user_key
        backend = testinfra.backend.get_backend(
            f"paramiko://{user}@{lab_host.ip}:{lab_host.port}",
            ssh_config=str(lab_host.lab_dir / "ssh_config.testinfra"),
            ssh_identity_file=str(key),
        )
        # not testinfra.get_host: its process-wide cache would hand a later test a connection
        # to a host that has since been rebooted or torn down
        host = testinfra.host.Host(backend)
        backend.set_host(host)
        made.append(backend)
        return host

    yield make
    for backend in made:
        client = vars(backend).get("client")  # set once testinfra connected (cached_property)
        if client is not None:
            client.close()
