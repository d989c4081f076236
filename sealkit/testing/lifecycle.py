"""Drive the real engine's plans over recording connections: run, re-run, add, delete, upgrade, reset.

Why: a runtime plugin's hooks only show their mistakes when the engine calls them in order (init before
join, drain before reset, the applied state in between). This harness builds every plan with
:func:`sealkit.engine.ops.build_plan` and executes it with :func:`sealkit.engine.runner.execute`, exactly as
``sealkit run/add/delete/upgrade/reset`` do, minus what needs a real machine or a real cluster image:
connecting (hosts are :class:`RecordingConnection` objects answering scripted regexes), pushing the rootfs
and running the image's own scripts (those phases call no plugin hook and are left out, see
:data:`MACHINE_PHASES`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from sealkit.cluster import Cluster, Host
from sealkit.context import ClusterContext, HostRef
from sealkit.engine import ops
from sealkit.engine.applied import Applied
from sealkit.engine.images import ResolvedImage
from sealkit.engine.runner import PARALLEL, Plan, Step, execute
from sealkit.engine.versions import plan_upgrade
from sealkit.testing.fixtures import make_context
from sealkit.testing.recording import RecordingConnection

#: phases that move the cluster image's bytes or run its scripts: no plugin hook fires in them
MACHINE_PHASES = frozenset(
    {"distribute", "distribute-upgrade", "image-check", "image-init", "render-upgrade"}
)

#: scripts one host's connection (``conn.answer(regex, rc, stdout)``); applied to hosts added later too
HostScript = Callable[[RecordingConnection], None]


@dataclass
class PlanHarness:
    """One cluster under test; ``script`` prepares every host's recording connection."""

    runtime: object
    runtime_name: str
    state_dir: Path
    masters: list[str]
    nodes: list[str]
    version: str
    script: HostScript | None = None
    ctx: ClusterContext = field(init=False)

    def __post_init__(self) -> None:
        self.ctx = make_context(
            self.runtime,
            masters=self.masters,
            nodes=self.nodes,
            state_dir=self.state_dir,
            runtime_name=self.runtime_name,
        )
        self._set_version(self.version)
        for host in self.ctx.hosts.values():
            self._script(host.conn)  # type: ignore[arg-type]

    # ------------------------------------------------------------------------------------ helpers
    def _script(self, conn: RecordingConnection) -> None:
        if self.script is not None:
            self.script(conn)

    def _set_version(self, version: str) -> None:
        self.version = version
        self.ctx.image_version = version
        self.ctx.image_labels = {**self.ctx.image_labels, "sealkit.io/version": version}
        self.ctx.image_ref = f"test/rootfs:{version}"

    def image(self) -> ResolvedImage:
        rootfs = self.state_dir / "rootfs"
        rootfs.mkdir(parents=True, exist_ok=True)
        return ResolvedImage(
            ref=self.ctx.image_ref,
            digest="sha256:" + "0" * 64,
            labels=dict(self.ctx.image_labels),
            rootfs=rootfs,
        )

    def _host(self, ip: str, role: str) -> Host:
        known = next((h for h in self.ctx.cluster.hosts if h.ip == ip), None)
        return known or Host(ip=ip, roles=[role])

    def _ensure_ref(self, spec: Host) -> None:
        if spec.ip in self.ctx.hosts:
            return
        conn = self.ctx.fleet.conn(spec.ip)
        self._script(conn)  # type: ignore[arg-type]
        self.ctx.hosts[spec.ip] = HostRef(
            spec=spec, conn=conn, hostname=f"host-{len(self.ctx.hosts)}", arch="amd64"
        )  # type: ignore[arg-type]

    def applied(self) -> Applied:
        return Applied.load(self.ctx.state.dir)

    def conn(self, ip: str) -> RecordingConnection:
        return self.ctx.hosts[ip].conn  # type: ignore[return-value]

    # --------------------------------------------------------------------------------- operations
    def converge(self, masters: list[str], nodes: list[str], version: str | None = None) -> Plan:
        """What ``ops.converge`` does for this desired cluster, then executes the plan; returns it."""
        if version:
            self._set_version(version)
        desired_hosts = [self._host(ip, "master") for ip in masters] + [
            self._host(ip, "node") for ip in nodes
        ]
        desired = replace(self.ctx.cluster, hosts=desired_hosts)
        applied = self.applied()
        upgrade_to = plan_upgrade(applied.version, self.version) if applied.initialized else None
        removed = [
            h
            for h in self.ctx.cluster.hosts
            if h.ip not in {d.ip for d in desired_hosts} and applied.joined(h.ip)
        ]
        everyone = desired_hosts + removed
        self.ctx.cluster = replace(desired, hosts=everyone)
        for spec in everyone:
            self._ensure_ref(spec)
        plan = ops.build_plan(self.ctx, desired, applied, removed, self.image(), upgrade_to)
        plan.phases = [p for p in plan.phases if p.name not in MACHINE_PHASES]
        if not applied.runtime:
            applied.runtime, applied.image, applied.version = (
                self.runtime_name,
                self.ctx.image_ref,
                self.version,
            )
            applied.save(self.ctx.state.dir)
        execute(self.ctx, plan, self.ctx.state.journal, uuid.uuid4().hex[:12])
        applied = self.applied()
        for h in removed:
            applied.hosts.pop(h.ip, None)
            self.ctx.hosts.pop(h.ip, None)
        applied.image, applied.version = self.ctx.image_ref, self.version
        applied.save(self.ctx.state.dir)
        self.ctx.cluster = desired
        return plan

    def reset(self) -> Plan:
        """What ``ops.reset`` does on every host of the cluster."""
        plan = Plan("reset")
        plan.add(
            "reset",
            PARALLEL,
            [Step("reset", h.ip, lambda h=h: ops._reset_host(self.ctx, h)) for h in self.ctx.cluster.hosts],
        )
        execute(self.ctx, plan, self.ctx.state.journal, uuid.uuid4().hex[:12])
        return plan


def desired_of(cluster: Cluster) -> tuple[list[str], list[str]]:
    """(masters, nodes) IPs of a cluster model."""
    return [h.ip for h in cluster.masters], [h.ip for h in cluster.nodes]
