"""A dropped link is re-dialled and an idempotent command run again; a saturated host keeps its MaxSessions
hint; anything else that lost its link says so and asks for a re-run (issue 18 item 4b, 4c).

Fake transports stand in for paramiko's so each failure is exact: a refusal (ChannelException), silence
(the channel open times out: a partition), and a transport that dies while a command runs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import paramiko
import pytest

from sealkit.errors import EXIT_CONNECT, EXIT_STEP_FAILED, ConnectError
from sealkit.ssh import Connection, HostKeyPolicy, Target
from sealkit.ssh.connection import CommandFailed, remote_write_hint


class FakeChannel:
    """Just what Connection._exec_once touches: exec, two output streams, stdin, an exit status."""

    remote_chanid = 0

    def __init__(self, transport: FakeTransport, behave: Callable[[str], tuple[int, bytes]]) -> None:
        self.transport = transport
        self.behave = behave
        self.status_event = threading.Event()
        self.rc = -1
        self.out = b""

    def get_transport(self) -> FakeTransport:
        return self.transport

    def exec_command(self, command: str) -> None:
        self.transport.commands.append(command)
        self.rc, self.out = self.behave(command)
        self.status_event.set()

    def recv(self, n: int) -> bytes:
        out, self.out = self.out[:n], self.out[n:]
        return out

    def recv_stderr(self, n: int) -> bytes:
        return b""

    def sendall(self, data: bytes) -> None:
        pass

    def shutdown_write(self) -> None:
        pass

    def recv_exit_status(self) -> int:
        return self.rc

    def close(self) -> None:
        pass


class FakeTransport:
    """``opens``: what each open_session does in turn ("ok", "refuse", "silent")."""

    def __init__(self, opens: list[str], behave: Callable[[str], tuple[int, bytes]]) -> None:
        self.opens = opens
        self.behave = behave
        self.active = True
        self.closed = False
        self.commands: list[str] = []

    def is_active(self) -> bool:
        return self.active

    def open_session(self, timeout: float | None = None) -> FakeChannel:
        what = self.opens.pop(0) if self.opens else "ok"
        if not self.active:
            raise paramiko.SSHException("SSH session not active")
        if what == "refuse":
            raise paramiko.ChannelException(1, "open failed")
        if what == "silent":
            raise paramiko.SSHException("Timeout opening channel.")
        return FakeChannel(self, self.behave)

    def close(self) -> None:
        self.closed = True
        self.active = False


def ok(command: str) -> tuple[int, bytes]:
    return 0, b"hello\n"


def conn_with(monkeypatch: pytest.MonkeyPatch, dials: list[object], **kw: object) -> Connection:
    """A Connection whose n-th dial returns ``dials[n]`` (a FakeTransport, or an exception to raise)."""
    made: list[object] = list(dials)

    def open_route(self: Connection, hops: object, final: object) -> object:
        if not made:
            raise OSError(113, "No route to host")
        nxt = made.pop(0)
        if isinstance(nxt, BaseException):
            raise nxt
        return nxt

    monkeypatch.setattr(Connection, "_open_route", open_route)
    kw.setdefault("backoff_base", 0.01)
    return Connection(
        Target("10.9.9.9"),
        hostkeys=HostKeyPolicy(os.devnull),
        ssh_config=os.devnull,
        **kw,  # type: ignore[arg-type]
    )


def test_maxsessions_refusal_keeps_its_hint_and_does_not_reconnect(monkeypatch):
    t = FakeTransport(["refuse"], ok)
    conn = conn_with(monkeypatch, [t, FakeTransport([], ok)])
    with pytest.raises(ConnectError) as exc:
        conn.run("true", idempotent=True)
    assert "MaxSessions" in (exc.value.hint or "") and "code 1" in exc.value.message
    assert conn.reconnects == 0 and not t.closed
    assert exc.value.exit_code == EXIT_CONNECT


def test_a_silent_link_is_redialled_not_blamed_on_maxsessions(monkeypatch):
    """Old code: "the host refused a new session; lower concurrency or raise MaxSessions"."""
    first, second = FakeTransport(["silent"], ok), FakeTransport([], ok)
    conn = conn_with(monkeypatch, [first, second])
    res = conn.run("cat /etc/hostname")  # not even idempotent: nothing ran before the channel opened
    assert res.stdout == "hello\n"
    assert conn.reconnects == 1
    assert first.commands == [] and second.commands == ["cat /etc/hostname"]
    assert not first.closed  # retired, not killed: its running channels may still finish
    conn.close()
    assert first.closed and second.closed


def test_an_idempotent_command_cut_mid_run_is_run_again_on_a_new_link(monkeypatch):
    first = FakeTransport([], ok)

    def dies(command: str) -> tuple[int, bytes]:
        first.active = False  # the link dropped while the command ran
        return -1, b""

    first.behave = dies
    second = FakeTransport([], ok)
    conn = conn_with(monkeypatch, [first, second])
    res = conn.run("test -e /etc/kubernetes/admin.conf", idempotent=True)
    assert res.ok and res.stdout == "hello\n"
    assert conn.reconnects == 1
    assert len(first.commands) == 1 and len(second.commands) == 1


def test_a_non_idempotent_command_cut_mid_run_is_not_repeated(monkeypatch):
    first = FakeTransport([], ok)

    def dies(command: str) -> tuple[int, bytes]:
        first.active = False
        return -1, b"partial\n"

    first.behave = dies
    second = FakeTransport([], ok)
    conn = conn_with(monkeypatch, [first, second])
    with pytest.raises(CommandFailed) as exc:
        conn.run("kubeadm init --config /etc/kubernetes/sealkit.yaml")
    assert second.commands == []  # never run twice behind the user's back
    hint = exc.value.hint or ""
    assert "connection to 10.9.9.9 lost during" in hint and "re-run the same sealkit command" in hint
    assert "MaxSessions" not in hint
    assert exc.value.result.stdout == "partial\n"
    assert exc.value.exit_code == EXIT_STEP_FAILED


def test_a_streamed_stdin_is_never_replayed_even_if_idempotent(monkeypatch):
    import io

    first = FakeTransport([], ok)

    def dies(command: str) -> tuple[int, bytes]:
        first.active = False
        return -1, b""

    first.behave = dies
    second = FakeTransport([], ok)
    conn = conn_with(monkeypatch, [first, second])
    with pytest.raises(CommandFailed, match="connection lost"):
        conn.run("cat > /tmp/x", stdin=io.BytesIO(b"data"), idempotent=True)
    assert second.commands == []


def test_reconnect_gives_up_after_the_window_with_an_honest_message(monkeypatch):
    first = FakeTransport(["silent"], ok)
    conn = conn_with(monkeypatch, [first], reconnect_window=0.5)  # every later dial: no route
    started = time.monotonic()
    with pytest.raises(ConnectError) as exc:
        conn.run("true", idempotent=True)
    took = time.monotonic() - started
    assert took < 5  # bounded by the window (plus one backoff), not retries x connect timeout
    assert "connection to 10.9.9.9 lost and not back within 0.5s" in exc.value.message
    assert "MaxSessions" not in str(exc.value)
    assert exc.value.exit_code == EXIT_CONNECT


def test_a_host_that_comes_back_within_the_window_is_reached(monkeypatch):
    """Five refused dials (the host's link still down), then the sixth answers: more than ``retries``."""
    down = [OSError(113, "No route to host") for _ in range(5)]
    second = FakeTransport([], ok)
    conn = conn_with(monkeypatch, [FakeTransport(["silent"], ok), *down, second], retries=1)
    assert conn.run("true").ok
    assert conn.reconnects == 1 and second.commands == ["true"]


class QuietTransport(FakeTransport):
    """Its commands print nothing and exit after ``runs_for`` seconds (None: never, as on a partitioned
    link); ``answers`` says whether the link replies to a keepalive request (False: a partition, the
    request blocks until the transport is closed, as paramiko's does)."""

    def __init__(self, runs_for: float | None, answers: bool) -> None:
        super().__init__([], ok)
        self.runs_for, self.answers, self.probes = runs_for, answers, 0

    def open_session(self, timeout: float | None = None) -> FakeChannel:
        chan = FakeChannel(self, lambda command: (0, b""))
        chan.exec_command = lambda command: self._start(chan, command)  # type: ignore[method-assign]
        return chan

    def _start(self, chan: FakeChannel, command: str) -> None:
        self.commands.append(command)
        chan.rc = 0
        if self.runs_for is not None:
            threading.Timer(self.runs_for, chan.status_event.set).start()

    def global_request(self, kind: str, data: object = None, wait: bool = True) -> None:
        assert kind == "keepalive@openssh.com" and wait
        self.probes += 1
        while not self.answers and self.active:
            time.sleep(0.01)


def test_a_command_on_a_link_that_went_silent_is_lost_in_seconds_not_when_tcp_gives_up(monkeypatch):
    """Old code waited for the exit status until TCP gave up (~15 min): a partition mid-upgrade hung."""
    dead, spare = QuietTransport(None, answers=False), FakeTransport([], ok)
    conn = conn_with(monkeypatch, [dead, spare], keepalive=1, connect_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(CommandFailed) as exc:
        conn.run("k3s-upgrade --to v1.36")  # not idempotent: never run again behind the user's back
    took = time.monotonic() - started
    assert 1.4 < took < 5, took  # a keepalive interval of silence, then one unanswered probe
    assert exc.value.message.startswith("connection lost while running")
    assert "lost during" in (exc.value.hint or "")
    assert dead.closed and dead.probes == 1 and spare.commands == []


def test_a_long_silent_command_on_a_live_link_is_left_to_finish(monkeypatch):
    live = QuietTransport(2.6, answers=True)
    conn = conn_with(monkeypatch, [live], keepalive=1, connect_timeout=0.5)
    assert conn.run("sleep 2.6").ok
    assert live.probes >= 1 and not live.closed and conn.reconnects == 0


@pytest.mark.parametrize(
    ("stderr", "fix", "not_fix"),
    [
        ("cat: write error: No space left on device", "free space on the host", "read-only"),
        ("mkdir: cannot create directory: Read-only file system", "read-only filesystem", "free space"),
        ("mv: cannot move: Permission denied", "let deploy write", "free space"),
        ("sealkit: sha256 mismatch after upload", "arrived corrupted", "free space"),
        ("something else", "re-run", "free space"),
    ],
)
def test_remote_write_hints_follow_the_hosts_words(stderr, fix, not_fix):
    hint = remote_write_hint(stderr, "/etc/x", "deploy")
    assert fix in hint and not_fix not in hint


@pytest.mark.parametrize(
    ("err", "fix"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "nothing listens on that port"),
        (TimeoutError("timed out"), "did not answer"),
        (OSError(113, "No route to host"), "no route to h1"),
        (EOFError(), "MaxStartups"),
        (paramiko.SSHException("Error reading SSH protocol banner"), "SSH handshake with h1 failed"),
    ],
)
def test_a_failed_dial_gets_the_fix_for_its_cause(err, fix):
    from sealkit.ssh.connection import connect_hint

    hint = connect_hint(err, "h1")
    assert fix in hint
    others = ["nothing listens", "did not answer", "no route", "MaxStartups", "handshake with"]
    assert [o for o in others if o in hint and o not in fix] == []


def test_a_refused_dial_through_the_connection_names_the_cause(monkeypatch):
    conn = conn_with(monkeypatch, [ConnectionRefusedError(111, "Connection refused")] * 2, retries=1)
    with pytest.raises(ConnectError) as exc:
        conn.run("true")
    assert "refused" in exc.value.message  # the reason `sealkit status` classifies on
    assert "nothing listens on that port" in (exc.value.hint or "")
