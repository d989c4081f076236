"""Progress on stderr: the live per-host view fed by the runner's events, and plain lines on a pipe
(sealkit.cli.progress, sealkit.engine.runner events)."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

import pytest
from rich.console import Console

from sealkit.cli import main as cli_main
from sealkit.cli import progress
from sealkit.engine import ops
from sealkit.engine.runner import CLUSTER, PARALLEL, Event, Plan, Step, execute
from sealkit.errors import StepFailed
from sealkit.state import Journal

#: what a terminal interprets: ESC sequences, carriage returns, other C0 controls (not tab, newline)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class _Hooks:
    def sealkit_pre_phase(self, ctx, phase, hosts):
        return None

    def sealkit_post_phase(self, ctx, phase, hosts):
        return None


class _Conn:
    def __init__(self, sent: int) -> None:
        self.bytes_sent = sent


class _Fleet:
    """Serial stand-in for Fleet whose connections report bytes sent."""

    def __init__(self, sent: dict[str, int]) -> None:
        self.conns = {ip: _Conn(n) for ip, n in sent.items()}

    def conn(self, ip: str) -> _Conn:
        return self.conns[ip]

    def map(self, fn, addresses):
        out = {}
        for a in addresses:
            try:
                out[a] = fn(type("C", (), {"target": type("T", (), {"address": a})()})())
            except Exception as err:  # noqa: BLE001 - as Fleet.map: per-host results
                out[a] = err
        return out


class _Ctx:
    def __init__(self, sent: dict[str, int]) -> None:
        self.pm = type("PM", (), {"hook": _Hooks()})()
        self.hosts: dict[str, object] = {}
        self.fleet = _Fleet(sent)


def _plan(fail_on: str | None = None) -> Plan:
    def step(ip: str):
        def act() -> None:
            if ip == fail_on:
                raise StepFailed("disk full", host=ip)

        return act

    plan = Plan("converge")
    plan.add("distribute", CLUSTER, [Step("rootfs", None, lambda: None)])
    plan.add("prepare", PARALLEL, [Step("prepare", ip, step(ip)) for ip in ("10.0.0.1", "10.0.0.2")])
    plan.add("join-nodes", PARALLEL, [Step("join-node", "10.0.0.2", step("x"))])
    return plan


@pytest.fixture
def restore_logging():
    root = logging.getLogger("sealkit")
    saved = (list(root.handlers), root.level, root.propagate, logging.getLogger("sealkit.progress").level)
    yield
    root.handlers[:], root.level, root.propagate = saved[0], saved[1], saved[2]
    logging.getLogger("sealkit.progress").setLevel(saved[3])


def _record_view() -> tuple[progress.LiveProgress, Console]:
    console = Console(file=io.StringIO(), record=True, width=120, force_terminal=False)
    return progress.LiveProgress(console, logging.INFO), console


def test_runner_events_feed_a_per_host_view(tmp_path: Path, restore_logging):
    view, console = _record_view()
    root = logging.getLogger("sealkit")
    root.handlers[:] = [view]
    root.setLevel(logging.INFO)
    root.propagate = False
    logging.getLogger("sealkit.progress").setLevel(logging.DEBUG)
    view._start = lambda: None  # type: ignore[method-assign]  # no live redraw: render by hand
    ctx = _Ctx({"10.0.0.1": 21977996, "10.0.0.2": 1536})
    with pytest.raises(StepFailed):
        execute(ctx, _plan(fail_on="10.0.0.2"), Journal(tmp_path / "j.jsonl"), "r1")
    console.print(view.render())
    text = console.export_text()
    rows = {line.split()[0]: line for line in text.splitlines() if line.startswith("10.0.0.")}
    assert set(rows) == {"10.0.0.1", "10.0.0.2"}
    assert "prepare" in rows["10.0.0.1"] and "done" in rows["10.0.0.1"] and "21.0 MiB" in rows["10.0.0.1"]
    assert "failed: disk full" in rows["10.0.0.2"] and "1.5 KiB" in rows["10.0.0.2"]
    assert "failed in phase 2/3 prepare" in text  # the failed phase; the next never started


def test_the_view_says_when_every_phase_is_done(tmp_path: Path, restore_logging):
    view, console = _record_view()
    root = logging.getLogger("sealkit")
    root.handlers[:] = [view]
    root.propagate = False
    logging.getLogger("sealkit.progress").setLevel(logging.DEBUG)
    view._start = lambda: None  # type: ignore[method-assign]
    execute(_Ctx({"10.0.0.1": 0, "10.0.0.2": 0}), _plan(), Journal(tmp_path / "j.jsonl"), "r1")
    console.print(view.render())
    text = console.export_text()
    assert "all 3 phases done in" in text
    assert "join-node" in text and "running" not in text


def test_the_view_sums_up_hosts_beyond_its_rows(restore_logging):
    view, console = _record_view()
    hosts = tuple(f"10.0.1.{i}" for i in range(1, 41))
    view._apply(Event("plan", "started", phases=("prepare",), hosts=hosts))
    view._apply(Event("phase", "started", phase="prepare"))
    for ip in hosts[:30]:
        view._apply(Event("step", "done", phase="prepare", host=ip, step="prepare", elapsed=1.0))
    view._apply(Event("step", "started", phase="prepare", host=hosts[35], step="prepare"))
    console.print(view.render())
    text = console.export_text()
    lines = [ln for ln in text.splitlines() if ln.startswith("10.0.1.")]
    assert len(lines) == progress.LiveProgress.MAX_ROWS
    assert lines[0].startswith(hosts[35]) and "running" in lines[0]  # running hosts come first
    assert f"{len(hosts) - progress.LiveProgress.MAX_ROWS} more host(s)" in text


def test_plain_lines_on_a_pipe_have_no_control_characters(tmp_path: Path, restore_logging):
    stream = io.StringIO()
    assert progress.setup(0, stream) is None  # a StringIO is no terminal: plain lines
    execute(_Ctx({}), _plan(), Journal(tmp_path / "j.jsonl"), "r1")
    text = stream.getvalue()
    assert "phase prepare: 2 step(s) on 10.0.0.1, 10.0.0.2" in text
    assert "phase join-nodes" in text
    assert not CONTROL.search(text), repr(text)
    assert "started" not in text  # step-level lines only with -v


def test_plain_lines_with_verbose_name_each_host_step(tmp_path: Path, restore_logging):
    stream = io.StringIO()
    progress.setup(1, stream)
    execute(_Ctx({}), _plan(), Journal(tmp_path / "j.jsonl"), "r1")
    text = stream.getvalue()
    assert "10.0.0.2: prepare done in" in text and "cluster: rootfs started" in text


def test_dumb_terminal_is_not_a_terminal(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("TERM", "xterm")
    assert progress.is_terminal(Tty())
    monkeypatch.setenv("TERM", "dumb")
    assert not progress.is_terminal(Tty())
    assert not progress.is_terminal(io.StringIO())


def test_cli_run_on_a_pipe_prints_plain_progress_and_a_summary(
    capsys, monkeypatch, tmp_path, restore_logging
):
    """The whole CLI path with a run that executes a plan: stderr (a pipe here) carries plain lines."""
    monkeypatch.setenv("SEALKIT_HOME", str(tmp_path / "sk"))

    def fake_run(options, **kwargs):
        execute(_Ctx({}), _plan(), Journal(tmp_path / "j.jsonl"), "r1")
        return {"cluster": options.cluster, "runtime": "k3s", "version": "v1", "masters": ["10.0.0.1"]}

    monkeypatch.setattr(ops, "run", fake_run)
    for fmt in ("table", "json"):
        with pytest.raises(SystemExit) as exc:
            cli_main.main(["--cluster", "demo", "-o", fmt, "run", "x", "--masters", "10.0.0.1"])
        out, err = capsys.readouterr()
        assert exc.value.code == 0
        assert "phase prepare" in err and not CONTROL.search(err) and not CONTROL.search(out)
        if fmt == "json":
            assert json.loads(out)["cluster"] == "demo"
        else:
            assert out.startswith("cluster demo is ready")
