"""Executes a plan: ordered phases of per-host steps, journaled, with bounded concurrency.

A plan is data (phases → steps), so ``--dry-run`` prints exactly what a real run would do. Each step is
recorded in the cluster's journal (started/done/failed), which is what ``add`` tests read to prove that only
the new hosts were touched, and what an operator reads after a failure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from sealkit.errors import SealkitError, StepFailed

if TYPE_CHECKING:
    from sealkit.context import ClusterContext, HostRef
    from sealkit.state import Journal

log = logging.getLogger("sealkit.engine")
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


class PhaseFailed(StepFailed):
    """One or more hosts failed a phase; the message lists every failed host with its error."""


def execute(ctx: ClusterContext, plan: Plan, journal: Journal, run_id: str) -> None:
    """Run every phase in order; stop at the first phase with a failed step, after it finished elsewhere."""
    for phase in plan.phases:
        host_refs = [ctx.hosts[h] for h in phase.hosts() if h in ctx.hosts]
        ctx.pm.hook.sealkit_pre_phase(ctx=ctx, phase=phase.name, hosts=host_refs)
        started = time.monotonic()
        log.info("phase %s: %d step(s)", phase.name, len(phase.steps))
        failures = _run_phase(ctx, phase, journal, run_id)
        if failures:
            lines = "\n".join(f"  - {step.describe()}: {err}" for step, err in failures)
            raise PhaseFailed(
                f"phase {phase.name} failed on {len(failures)} of {len(phase.steps)} step(s):\n{lines}",
                step=phase.name,
                hint="fix the hosts named above and run the same command again: finished steps are "
                "skipped or converge",
            )
        ctx.pm.hook.sealkit_post_phase(ctx=ctx, phase=phase.name, hosts=host_refs)
        log.debug("phase %s done in %.1fs", phase.name, time.monotonic() - started)


def _run_phase(
    ctx: ClusterContext, phase: Phase, journal: Journal, run_id: str
) -> list[tuple[Step, BaseException]]:
    def run_step(step: Step) -> None:
        journal.record(
            run_id=run_id, phase=phase.name, host=step.host or "-", step=step.name, status="started"
        )
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
            raise
        journal.record(run_id=run_id, phase=phase.name, host=step.host or "-", step=step.name, status="done")

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


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:300]


def host_label(host: HostRef) -> str:
    return f"{host.ip} ({host.name})" if host.hostname else host.ip
