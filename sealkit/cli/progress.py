"""How the CLI shows progress on stderr: a live per-host view on a terminal, plain lines on a pipe.

The engine emits progress as log records (``sealkit.engine.runner.Event`` in ``record.sealkit_event``); this
module only subscribes. On a terminal the view redraws in place (which host is doing what, for how long, how
many bytes the controller sent it); anywhere else the records are printed as plain text lines with no control
characters, so a log file or a CI console reads cleanly.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from sealkit.cli.render import human_duration, human_size

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

    from sealkit.engine.runner import Event

#: the engine's progress logger (step records are DEBUG: shown live, or as lines only with -v)
PROGRESS_LOGGER = "sealkit.progress"


def is_terminal(stream: IO[str]) -> bool:
    """Whether ``stream`` is an interactive terminal that can redraw (``TERM=dumb`` cannot)."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        return False
    return tty and os.environ.get("TERM", "") != "dumb"


def plain_handler(stream: IO[str], level: int, *, with_names: bool) -> logging.Handler:
    """One text line per record at ``level`` and above: what a pipe, a file or CI gets."""
    handler = logging.StreamHandler(stream)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s" if with_names else "%(message)s"))
    return handler


@dataclass
class _Host:
    phase: str = ""
    step: str = ""
    status: str = "waiting"
    since: float = 0.0
    took: float = 0.0
    error: str = ""


@dataclass
class _State:
    operation_started: float = field(default_factory=time.monotonic)
    phases: tuple[str, ...] = ()
    phase: str = ""
    phase_since: float = 0.0
    cluster_step: str = ""
    #: "done" after the last phase, "failed" after a failed one (the header says so, with the time)
    outcome: str = ""
    finished: float = 0.0
    hosts: dict[str, _Host] = field(default_factory=dict)
    #: bytes the controller has sent to a host so far in this run
    sent: Callable[[str], int] | None = None


class LiveProgress(logging.Handler):
    """A logging handler that draws the engine's events as a live table on a rich console.

    Other records at ``level`` and above are printed above the table. The table starts at the first
    plan event (verbs without phases never show it) and stays on screen, final, after :meth:`stop`.
    """

    #: rows shown at most; the rest are summed up in one line (running and failed hosts come first)
    MAX_ROWS = 24

    def __init__(self, console: Console, level: int) -> None:
        super().__init__(logging.DEBUG)
        self.console = console
        self.threshold = level
        self._lock = threading.Lock()
        self._state = _State()
        self._live: Live | None = None
        self.setFormatter(logging.Formatter("%(message)s"))

    # ------------------------------------------------------------------------------------ logging
    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "sealkit_event", None)
        if event is None:
            if record.levelno >= self.threshold:
                self._print(record)
            return
        with self._lock:
            self._apply(event)
        if event.kind == "plan":
            self._start()

    def _print(self, record: logging.LogRecord) -> None:
        from rich.text import Text

        style = (
            "red"
            if record.levelno > logging.WARNING
            else "yellow"
            if record.levelno == logging.WARNING
            else ""
        )
        try:
            self.console.print(Text(self.format(record), style=style), highlight=False)
        except Exception:  # noqa: BLE001 - logging's own contract: report, never raise
            self.handleError(record)

    # ------------------------------------------------------------------------------------- state
    def _apply(self, event: Event) -> None:
        st = self._state
        now = time.monotonic()
        if event.kind == "plan":
            self._state = st = _State(phases=event.phases, sent=event.sent)
            st.hosts = {ip: _Host() for ip in event.hosts}
            return
        if event.kind == "phase":
            if event.status == "started":
                st.phase, st.phase_since, st.cluster_step = event.phase, now, ""
                if event.sent is not None:
                    st.sent = event.sent
            elif event.status == "failed" or (st.phases and event.phase == st.phases[-1]):
                st.outcome, st.finished, st.cluster_step = event.status, now, ""
            return
        if event.host is None:
            st.cluster_step = event.step if event.status == "started" else ""
            return
        host = st.hosts.setdefault(event.host, _Host())
        host.phase, host.step = event.phase, event.step
        if event.status == "started":
            host.status, host.since, host.error = "running", now, ""
        else:
            host.status, host.took, host.error = event.status, event.elapsed, event.detail

    # ------------------------------------------------------------------------------------ render
    def render(self) -> RenderableType:
        """The current view (also what tests look at, without a terminal)."""
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            st = self._state
            now = time.monotonic()
            total = len(st.phases)
            index = st.phases.index(st.phase) + 1 if st.phase in st.phases else 0
            head = Text()
            if st.outcome == "done":
                head.append(f"all {total} phases done", style="bold green")
                head.append(f" in {human_duration(st.finished - st.operation_started)}")
            else:
                failed = st.outcome == "failed"
                head.append("failed in " if failed else "", style="bold red")
                head.append(f"phase {index}/{total} ", style="bold")
                head.append(st.phase or "starting", style="bold red" if failed else "bold cyan")
                if st.cluster_step:
                    took = human_duration(now - st.phase_since)
                    head.append(f"  ({st.cluster_step}, cluster-wide, {took})")
                end = st.finished if failed else now
                head.append(f"   elapsed {human_duration(end - st.operation_started)}", style="dim")
            table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
            for col, justify in (("HOST", "left"), ("STEP", "left"), ("STATUS", "left")):
                table.add_column(col, justify=justify, no_wrap=True)
            table.add_column("TIME", justify="right", no_wrap=True)
            table.add_column("SENT", justify="right", no_wrap=True)
            order = {"running": 0, "failed": 1, "waiting": 2, "done": 3}
            rows = sorted(st.hosts.items(), key=lambda kv: order.get(kv[1].status, 4))
            sent = st.sent
            for ip, host in rows[: self.MAX_ROWS]:
                took = now - host.since if host.status == "running" else host.took
                style = {"running": "cyan", "failed": "bold red", "done": "green"}.get(host.status, "dim")
                status = host.status if not host.error else f"failed: {host.error}"
                table.add_row(
                    ip,
                    host.step or "-",
                    Text(status, style=style),
                    human_duration(took) if host.status != "waiting" else "",
                    human_size(sent(ip)) if sent is not None else "",
                )
            parts: list[RenderableType] = [head, table]
            if len(rows) > self.MAX_ROWS:
                rest = rows[self.MAX_ROWS :]
                done = sum(1 for _, h in rest if h.status == "done")
                parts.append(Text(f"… {len(rest)} more host(s), {done} of them done", style="dim"))
            return Group(*parts)

    # ---------------------------------------------------------------------------------- lifecycle
    def _start(self) -> None:
        from rich.live import Live

        with self._lock:
            if self._live is not None:
                return
        # built outside the lock: Live renders once on construction, and render() takes the lock
        live = Live(
            console=self.console,
            get_renderable=self.render,
            refresh_per_second=4,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=True,
        )
        with self._lock:
            self._live = live
        live.start()

    def stop(self) -> None:
        """Draw the final view once more and leave it on screen."""
        with self._lock:
            live, self._live = self._live, None
        if live is not None:
            live.stop()


def live_console(stream: IO[str]) -> Console:
    """A rich console on ``stream`` that draws even though stdout may be a pipe (only stderr counts)."""
    from rich.console import Console

    return Console(file=stream, force_terminal=True, highlight=False, soft_wrap=False)


def setup(verbosity: int, stream: IO[str]) -> LiveProgress | None:
    """Route sealkit's logs to ``stream``: live view on a terminal, plain lines elsewhere.

    Returns the live view (call its ``stop`` when the command ends) or None for plain output.
    """
    level = {-1: logging.WARNING, 0: logging.INFO, 1: logging.DEBUG}[max(-1, min(verbosity, 1))]
    root = logging.getLogger("sealkit")
    root.propagate = False
    root.setLevel(level)
    view: LiveProgress | None = None
    if verbosity == 0 and is_terminal(stream):
        view = LiveProgress(live_console(stream), level)
        handler: logging.Handler = view
        # step events are DEBUG: the view wants them all, the plain lines only with -v
        logging.getLogger(PROGRESS_LOGGER).setLevel(logging.DEBUG)
    else:
        handler = plain_handler(stream, level, with_names=verbosity >= 1)
        logging.getLogger(PROGRESS_LOGGER).setLevel(logging.NOTSET)
    root.handlers[:] = [handler]
    # the SSH library logs its transport failures with tracebacks; sealkit reports each failed host
    # itself (host, step, fix), so the library speaks only with -vv, through the same handler
    paramiko_log = logging.getLogger("paramiko")
    paramiko_log.propagate = False
    paramiko_log.handlers[:] = [handler] if verbosity >= 2 else [logging.NullHandler()]
    paramiko_log.setLevel(logging.DEBUG if verbosity >= 2 else logging.CRITICAL)
    return view
