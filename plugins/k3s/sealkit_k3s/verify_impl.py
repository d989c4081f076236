"""What a joined k3s host must keep (``sealkit_host_expectations``): its unit running, and the files the
k3s plugin rendered there with the content it would write now.

Kept beside ``plugin.py`` and registered there with two lines (a mixin of :class:`Runtime`), so the
renderers are the plugin's own: a repaired ``config.yaml`` is exactly what a join writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sealkit.api import hookimpl, hostops

if TYPE_CHECKING:
    from sealkit.api import ClusterContext, HostRef


def expectations(ctx: ClusterContext, host: HostRef) -> hostops.Expectations:
    """Servers: ``k3s.service``; agents: ``k3s-agent.service``; each with its config, unit, unit
    environment and the token file.

    A server's ``config.yaml`` says how it joined (``cluster-init`` on the first master, ``server:`` the
    first master's address on the others): it is rendered as the join did, and when the first master has
    changed since, the digest recorded at join no longer matches the rendering and the engine reports the
    drift instead of rewriting it.
    """
    from sealkit_k3s import plugin  # plugin.py subclasses this module's mixin: imported when called

    mode = "server" if host.is_master else "agent"
    unit = plugin.SERVER_UNIT if host.is_master else plugin.AGENT_UNIT
    if host.is_master:
        first = bool(ctx.cluster.masters) and ctx.cluster.masters[0].ip == host.ip
        cfg = plugin.server_config(ctx, host, first=first)
    else:
        cfg = plugin.agent_config(ctx, host)
    restart = (unit,)
    files = (
        hostops.ExpectedFile(plugin.CONFIG, plugin._dump(cfg).encode(), 0o600, restart),
        hostops.ExpectedFile(plugin.ENV_FILES[unit], plugin.unit_env(ctx).encode(), 0o644, restart),
        hostops.ExpectedFile(f"{hostops.UNIT_DIR}/{unit}", plugin.unit_text(mode).encode(), 0o644, restart),
        hostops.ExpectedFile(plugin.TOKEN_FILE, (plugin.join_token(ctx) + "\n").encode(), 0o600, restart),
    )
    return hostops.Expectations(units=(unit,), files=files)


class Expectations:
    """The hook, as a mixin of the k3s ``Runtime`` class."""

    @hookimpl
    def sealkit_host_expectations(self, ctx: ClusterContext, host: HostRef) -> hostops.Expectations:
        return expectations(ctx, host)
