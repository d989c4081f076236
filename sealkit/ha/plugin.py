"""Built-in HA plugin: the apiserver endpoint and the node-local load balancer on every worker.

Registered before runtimes and add-ons, and ``trylast`` on the "who handles this?" hooks, so a
runtime (or an add-on HA strategy) that answers them wins. Stateless: every call reads what it needs
from ``ctx``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sealkit.context import Endpoint
from sealkit.errors import ConnectError, StepFailed, UsageError
from sealkit.ha import STRATEGIES, apply
from sealkit.hookspecs import hookimpl

if TYPE_CHECKING:
    from sealkit.context import ClusterContext, HostRef

#: how long a worker's LB may take to see an apiserver again after the masters were upgraded
BACKEND_UP_TIMEOUT = 120.0


def strategy(ctx: ClusterContext) -> str:
    """The HA strategy in effect: the Clusterfile's, or the runtime's default for ``auto``."""
    chosen = ctx.cluster.ha.strategy
    if chosen == "auto":
        chosen = ctx.runtime.default_ha
    if chosen not in STRATEGIES:
        origin = f"runtime {ctx.runtime.name}" if ctx.cluster.ha.strategy == "auto" else "spec.ha"
        raise UsageError(
            f"unknown HA strategy {chosen!r} (from {origin})",
            step="ha",
            hint=f"set spec.ha.strategy to one of: auto, {', '.join(STRATEGIES)}",
        )
    return chosen


def endpoint(ctx: ClusterContext) -> Endpoint:
    """VIP and port for haproxy/ipvs; the first master for ``native`` (the runtime balances)."""
    if strategy(ctx) == "native":
        if not ctx.cluster.masters:
            raise UsageError(
                "no master in the cluster", step="ha", hint="give at least one host the master role"
            )
        return Endpoint(ctx.cluster.masters[0].ip, ctx.runtime.apiserver_port)
    return Endpoint(ctx.cluster.ha.vip, ctx.cluster.ha.port)


class HAPlugin:
    """haproxy (default), ipvs or native node-local load balancing in front of every apiserver.

    * ``native`` (k3s agent, k0s node-local LB): the runtime's own client-side load balancer; this
      plugin only answers the endpoint (the first master, used to join) and leaves the LB to the
      runtime plugin.
    * on masters nothing is installed: they reach their own apiserver, and an LB on ``vip:6443``
      could not bind next to an apiserver listening on ``0.0.0.0:6443``.
    """

    @hookimpl(trylast=True)
    def sealkit_apiserver_endpoint(self, ctx: ClusterContext) -> Endpoint:
        return endpoint(ctx)

    @hookimpl(trylast=True)
    def sealkit_configure_lb(self, ctx: ClusterContext, host: HostRef, backends: list[Endpoint]) -> bool:
        chosen = strategy(ctx)
        if chosen == "native":
            ctx.log.debug("%s: ha: native strategy, the runtime configures its own LB", host)
            return True
        if host.is_master:
            ctx.log.debug("%s: ha: master, no node-local LB", host)
            return True
        ha = ctx.cluster.ha
        if ctx.dry_run:
            ctx.log.info(
                "%s: ha: would sync %s LB %s:%s -> %s",
                host,
                chosen,
                ha.vip,
                ha.port,
                ", ".join(str(b) for b in backends),
            )
            return True
        if chosen == "haproxy":
            result = apply.configure_haproxy(
                host.conn,
                vip=ha.vip,
                port=ha.port,
                backends=backends,
                image_binary=f"{ctx.remote_rootfs}/bin/haproxy",
            )
        else:
            result = apply.configure_ipvs(host.conn, vip=ha.vip, port=ha.port, backends=backends)
        ctx.log.info(
            "%s: ha: %s LB %s",
            host,
            chosen,
            f"updated ({'; '.join(result.commands) or 'files only'})" if result.changed else "unchanged",
        )
        return True

    @hookimpl
    def sealkit_lb_status(self, ctx: ClusterContext, host: HostRef) -> dict[str, str] | None:
        chosen = strategy(ctx)
        if chosen == "native" or host.is_master:
            return None
        if chosen == "haproxy":
            return apply.haproxy_status(host.conn)
        return apply.ipvs_status(host.conn)

    @hookimpl
    def sealkit_pre_phase(self, ctx: ClusterContext, phase: str, hosts: list[HostRef]) -> None:
        """Before workers are upgraded, wait until each worker's LB sees an apiserver again.

        Why: the masters' apiservers were just restarted and the LB's health checks take a few seconds
        to mark them UP; until then the LB closes connections (TLS EOF), and a worker's upgrade (e.g.
        ``kubeadm upgrade node``) reaches the apiserver through it.
        """
        if phase != "upgrade-nodes" or strategy(ctx) == "native" or ctx.dry_run:
            return
        from sealkit.engine.runner import for_each_host

        workers = [h for h in hosts if not h.is_master]
        failed = [
            err
            for err in for_each_host(ctx, workers, lambda h: self._wait_reachable_backend_up(ctx, h)).values()
            if isinstance(err, BaseException)
        ]
        if failed:
            raise failed[0]

    def _wait_reachable_backend_up(self, ctx: ClusterContext, host: HostRef) -> None:
        """:meth:`_wait_backend_up`, but a worker whose link is gone does not stop the others' upgrade: its
        own upgrade step meets the same error and fails for that host alone, in the journal and `status`."""
        try:
            self._wait_backend_up(ctx, host)
        except ConnectError as err:
            ctx.log.warning("warning: %s: not waiting for its load balancer: %s", host.ip, err.message)

    def _wait_backend_up(self, ctx: ClusterContext, host: HostRef) -> None:
        timeout = BACKEND_UP_TIMEOUT
        deadline = time.monotonic() + timeout
        while True:
            states = self.sealkit_lb_status(ctx, host) or {}
            if not states or "UP" in states.values():
                return
            if time.monotonic() > deadline:
                raise StepFailed(
                    f"the node-local load balancer sees no apiserver UP after {timeout:.0f}s: "
                    + ", ".join(f"{b}={st}" for b, st in sorted(states.items())),
                    host=host.ip,
                    step="ha: wait for an apiserver",
                    hint="check the masters' apiservers (`sealkit status`), then re-run the upgrade",
                )
            time.sleep(1)

    @hookimpl
    def sealkit_reset_host(self, ctx: ClusterContext, host: HostRef) -> None:
        # every strategy's leftovers go, whatever the strategy is now (it may have changed)
        if ctx.dry_run:
            ctx.log.info("%s: ha: would remove the node-local LB", host)
            return
        apply.reset(host.conn, vip=ctx.cluster.ha.vip, port=ctx.cluster.ha.port)
