"""Opening a run: plugins, state, SSH fleet, PKI store and host facts, bundled into a ClusterContext."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

from sealkit import plugins
from sealkit.builtin.preflight import FACTS_SCRIPT, parse_facts
from sealkit.cluster import Cluster, Host
from sealkit.context import ClusterContext, HostRef
from sealkit.engine import versions
from sealkit.engine.options import Options, target_for
from sealkit.errors import ConnectError, PluginError, StepFailed, UsageError
from sealkit.pki.store import PKIStore
from sealkit.ssh import Fleet, HostKeyPolicy
from sealkit.state import ClusterState

log = logging.getLogger("sealkit.engine")


def select_runtime(options: Options, cluster: Cluster, image_labels: dict[str, str]) -> str:
    """--runtime beats the Clusterfile, which beats the cluster image's label."""
    name = options.runtime or cluster.runtime or image_labels.get("sealkit.io/runtime")
    if not name:
        installed = ", ".join(plugins.runtime_names()) or "none"
        raise UsageError(
            "no runtime selected",
            hint=f"pass --runtime NAME (installed: {installed}) or use an image labelled sealkit.io/runtime",
        )
    return name


@contextlib.contextmanager
def open_context(
    options: Options,
    cluster: Cluster,
    state: ClusterState,
    *,
    runtime: str,
    image_ref: str = "",
    image_labels: dict[str, str] | None = None,
    local_rootfs: Path | None = None,
) -> Iterator[ClusterContext]:
    """Build the run's context; the SSH fleet is closed when the block exits."""
    pm = plugins.build_manager(runtime)
    info = pm.hook.sealkit_runtime_info()
    if info is None:
        raise PluginError(f"runtime {runtime!r} does not answer sealkit_runtime_info")
    hostkeys = HostKeyPolicy(state.known_hosts, mode="strict" if options.strict_host_keys else "accept-new")
    fleet = Fleet(
        [target_for(h) for h in cluster.hosts],
        hostkeys=hostkeys,
        ssh_config=_user_ssh_config(),
        concurrency=options.concurrency,
    )
    labels = dict(image_labels or {})
    if labels.get("sealkit.io/version"):
        versions.check_supported(
            labels["sealkit.io/version"],
            runtime=info.name,
            oldest=info.oldest_version,
            newest=info.newest_version,
        )
    ctx = ClusterContext(
        cluster=cluster,
        state=state,
        fleet=fleet,
        pm=pm,
        runtime=info,
        pki=PKIStore(state.pki_dir),
        image_ref=image_ref,
        image_labels=labels,
        image_version=labels.get("sealkit.io/version", ""),
        local_rootfs=local_rootfs,
        dry_run=options.dry_run,
    )
    try:
        yield ctx
    finally:
        fleet.close()


def _user_ssh_config() -> Path | None:
    path = Path.home() / ".ssh" / "config"
    return path if path.is_file() else None


def gather_facts(ctx: ClusterContext, hosts: list[Host]) -> None:
    """Connect to ``hosts`` (sliding window) and fill ``ctx.hosts`` with their facts; one round trip each.

    Connection failures are collected and raised together as ConnectError (exit 4), naming every host.
    """
    by_ip = {h.ip: h for h in hosts}
    now = time.time()

    def probe(conn):
        result = conn.run(FACTS_SCRIPT, sudo=False, timeout=60, idempotent=True)  # a read
        return parse_facts(result.stdout, now, host=conn.target.label)

    results = ctx.fleet.map(probe, list(by_ip))
    failed = {ip: r for ip, r in results.items() if isinstance(r, BaseException)}
    for ip, facts in results.items():
        if isinstance(facts, BaseException):
            continue
        ref = HostRef(spec=by_ip[ip], conn=ctx.fleet.conn(ip), facts=facts)
        ref.hostname = str(facts.get("hostname", ""))
        ref.arch = str(facts.get("arch", ""))  # checked against a closed set; ops.host_arch compares it
        # with the Clusterfile's
        ctx.hosts[ip] = ref
    if failed:
        for err in failed.values():
            if isinstance(err, KeyboardInterrupt):
                raise err
        refused = {ip: e for ip, e in failed.items() if isinstance(e, StepFailed)}
        if refused:  # the host answered, but with facts that cannot be trusted: not "unreachable"
            lines = "\n".join(f"  - {ip}: {err.message}" for ip, err in sorted(refused.items()))
            raise StepFailed(
                f"{len(refused)} host(s) reported facts sealkit refuses:\n{lines}",
                step="facts",
                hint="fix the hosts named above (or give spec.hosts[].arch in the Clusterfile), then re-run",
            )
        lines = "\n".join(f"  - {ip}: {err}" for ip, err in sorted(failed.items()))
        raise ConnectError(
            f"{len(failed)} host(s) unreachable:\n{lines}",
            step="connect",
            hint="check the addresses, credentials and host keys above, then re-run",
        )
