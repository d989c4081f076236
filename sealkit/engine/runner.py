"""Executes a plan: ordered phases of per-host steps, journaled, with bounded concurrency.

A plan is data (phases → steps), so ``--dry-run`` prints exactly what a real run would do. Each step is
recorded in the cluster's journal (started/done/failed), which is what ``add`` tests read to prove that only
the new hosts were touched, and what an operator reads after a failure.

Progress goes out as log records on the ``sealkit.progress`` logger, each carrying an :class:`Event` in
``record.sealkit_event``: the library stays free of any display, and a front end (the CLI's live per-host
view on a terminal, plain lines on a pipe) subscribes with an ordinary logging handler.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeVar

from sealkit.errors import SealkitError, StepFailed

if TYPE_CHECKING:
    from sealkit.context import ClusterContext, HostRef
    from sealkit.state import Journal

log = logging.getLogger("sealkit.engine")
progress = logging.getLogger("sealkit.progress")
T = TypeVar("T")

#: how a phase runs its steps: all hosts at once (sliding window), one by one, or once for the cluster
PARALLEL = "parallel"
SERIAL = "serial"
CLUSTER = "cluster"


@dataclass
class Step:
    """One action on one host (or on the cluster, host=None)."""

    name: str
    host: str | None
    action: Callable[[], object] = field(repr=False, compare=False)

    def describe(self) -> str:
        return f"{self.name} @ {self.host or 'cluster'}"


@dataclass
class Phase:
    name: str
    mode: str
    steps: list[Step] = field(default_factory=list)

    def hosts(self) -> list[str]:
        return [s.host for s in self.steps if s.host]


@dataclass
class Plan:
    operation: str
    phases: list[Phase] = field(default_factory=list)

    def add(self, name: str, mode: str, steps: list[Step]) -> None:
        if steps:
            self.phases.append(Phase(name, mode, steps))

    def as_dict(self) -> dict[str, object]:
        return {
            "operation": self.operation,
            "phases": [
                {"phase": p.name, "mode": p.mode, "steps": [s.describe() for s in p.steps]}
                for p in self.phases
            ],
        }

    def touched_hosts(self) -> set[str]:
        return {s.host for p in self.phases for s in p.steps if s.host}


@dataclass(frozen=True)
class Event:
    """One progress event. ``plan``: a run starts (``phases`` in order, every host it touches);
    ``phase``/``step``: started, done or failed, with the seconds it took. ``sent(ip)`` reads the
    payload bytes the controller has sent to a host so far in this run (live, for byte counters)."""

    kind: Literal["plan", "phase", "step"]
    status: str
    phase: str = ""
    host: str | None = None
    step: str = ""
    elapsed: float = 0.0
    detail: str = ""
    phases: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    sent: Callable[[str], int] | None = field(default=None, compare=False, repr=False)


def _emit(level: int, event: Event, msg: str, *args: object) -> None:
    progress.log(level, msg, *args, extra={"sealkit_event": event})


def _meter(ctx: ClusterContext) -> Callable[[str], int]:
    def sent(ip: str) -> int:
        try:
            conn = ctx.fleet.conn(ip)
        except SealkitError:
            return 0  # not a host of this fleet: nothing was sent to it
        return int(getattr(conn, "bytes_sent", 0))  # test doubles of a connection count nothing

    return sent


class PhaseFailed(StepFailed):
    """One or more hosts failed a phase; the message lists every failed host with its error."""


def execute(ctx: ClusterContext, plan: Plan, journal: Journal, run_id: str) -> None:
    """Run every phase in order; stop at the first phase with a failed step, after it finished elsewhere."""
    sent = _meter(ctx)
    _emit(
        logging.DEBUG,
        Event(
            "plan",
            "started",
            phases=tuple(p.name for p in plan.phases),
            hosts=tuple(sorted(plan.touched_hosts(), key=_ip_order)),
            sent=sent,
        ),
        "plan %s: %d phase(s)",
        plan.operation,
        len(plan.phases),
    )
    for phase in plan.phases:
        host_refs = [ctx.hosts[h] for h in phase.hosts() if h in ctx.hosts]
        ctx.pm.hook.sealkit_pre_phase(ctx=ctx, phase=phase.name, hosts=host_refs)
        started = time.monotonic()
        hosts = tuple(phase.hosts())
        _emit(
            logging.INFO,
            Event("phase", "started", phase=phase.name, hosts=hosts, sent=sent),
            "phase %s: %d step(s)%s",
            phase.name,
            len(phase.steps),
            f" on {', '.join(hosts)}" if hosts else "",
        )
        failures = _run_phase(ctx, phase, journal, run_id)
        took = time.monotonic() - started
        if failures:
            _emit(
                logging.DEBUG,
                Event("phase", "failed", phase=phase.name, hosts=hosts, elapsed=took),
                "phase %s failed after %.1fs",
                phase.name,
                took,
            )
            lines = "\n".join(f"  - {step.describe()}: {err}" for step, err in failures)
            raise PhaseFailed(
                f"phase {phase.name} failed on {len(failures)} of {len(phase.steps)} step(s):\n{lines}",
                step=phase.name,
                hint="fix the hosts named above and run the same command again: finished steps are "
                "skipped or converge",
            )
        ctx.pm.hook.sealkit_post_phase(ctx=ctx, phase=phase.name, hosts=host_refs)
        took = time.monotonic() - started
        _emit(
            logging.DEBUG,
            Event("phase", "done", phase=phase.name, hosts=hosts, elapsed=took),
            "phase %s done in %.1fs",
            phase.name,
            took,
        )


def _run_phase(
    ctx: ClusterContext, phase: Phase, journal: Journal, run_id: str
) -> list[tuple[Step, BaseException]]:
    def run_step(step: Step) -> None:
        journal.record(
            run_id=run_id, phase=phase.name, host=step.host or "-", step=step.name, status="started"
        )
        where = step.host or "cluster"
        _emit(
            logging.DEBUG,
            Event("step", "started", phase=phase.name, host=step.host, step=step.name),
            "%s: %s started",
            where,
            step.name,
        )
        started = time.monotonic()
        try:
            step.action()
        except BaseException as err:
            journal.record(
                run_id=run_id,
                phase=phase.name,
                host=step.host or "-",
                step=step.name,
                status="failed",
                detail=_short(err),
            )
            took = time.monotonic() - started
            _emit(
                logging.DEBUG,
                Event(
                    "step",
                    "failed",
                    phase=phase.name,
                    host=step.host,
                    step=step.name,
                    elapsed=took,
                    detail=_short(err, bare=True),
                ),
                "%s: %s failed after %.1fs: %s",
                where,
                step.name,
                took,
                _short(err, bare=True),
            )
            raise
        journal.record(run_id=run_id, phase=phase.name, host=step.host or "-", step=step.name, status="done")
        took = time.monotonic() - started
        _emit(
            logging.DEBUG,
            Event("step", "done", phase=phase.name, host=step.host, step=step.name, elapsed=took),
            "%s: %s done in %.1fs",
            where,
            step.name,
            took,
        )

    failures: list[tuple[Step, BaseException]] = []
    if phase.mode == PARALLEL and len(phase.steps) > 1:
        by_host = {s.host: s for s in phase.steps}
        results = ctx.fleet.map(lambda conn: run_step(by_host[conn_address(conn)]), list(by_host))
        for host, result in results.items():
            if isinstance(result, BaseException):
                if isinstance(result, KeyboardInterrupt):
                    raise result
                failures.append((by_host[host], result))
        return failures
    for step in phase.steps:
        try:
            run_step(step)
        except SealkitError as err:
            failures.append((step, err))
            break  # serial phases (init, master joins) must not go on past a failure
    return failures


def for_each_host(
    ctx: ClusterContext, hosts: list[HostRef], fn: Callable[[HostRef], T]
) -> dict[str, T | BaseException]:
    """``fn(host)`` for every host through the fleet's sliding window (``--concurrency``); each host's
    result or the exception it raised, by IP, in the order given."""
    by_ip = {h.ip: h for h in hosts}
    return ctx.fleet.map(lambda conn: fn(by_ip[conn_address(conn)]), list(by_ip))


def conn_address(conn: object) -> str:
    """The address a Fleet keyed this connection by."""
    return conn.target.address  # type: ignore[attr-defined]


def _ip_order(ip: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in ip.replace(":", ".").split("."))


def _short(err: BaseException, *, bare: bool = False) -> str:
    """The first line of an error; ``bare``: without the ``[host …, step …]`` prefix (shown beside it)."""
    message = err.message if bare and isinstance(err, SealkitError) else str(err)
    text = message.strip().splitlines()
    return (text[0] if text else type(err).__name__)[:300]


def host_label(host: HostRef) -> str:
    return f"{host.ip} ({host.name})" if host.hostname else host.ip
