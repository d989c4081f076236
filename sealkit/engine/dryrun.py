"""``--dry-run`` that tells: what the runtime's planning hooks would do, computed without touching a host.

Why: the plan alone (phases → steps) says nothing about the plugin; the pure planning hooks
(``sealkit_apiserver_endpoint``, ``sealkit_cert_specs``, ``sealkit_registry_mirror_config``) can be asked on
the controller. They get host references whose connection refuses every call, so a hook that is not pure is
reported instead of reaching a host; nothing is signed or written (no CA, no registry credentials created).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sealkit.context import ClusterContext, HostRef, RegistryInfo
from sealkit.engine.runner import Plan
from sealkit.errors import SealkitError

#: the label a cluster image names its runtime with
RUNTIME_LABEL = "sealkit.io/runtime"
#: stands for the registry password, which a dry run does not generate
PASSWORD_PLACEHOLDER = "<generated at install>"


class HostAccessRefused(SealkitError):
    """A planning hook tried to reach a host during a dry run."""


@dataclasses.dataclass
class _NoHostAccess:
    """A connection that refuses every call: planning hooks must be pure."""

    address: str

    @property
    def target(self) -> Any:
        return dataclasses.make_dataclass("T", [("address", str)])(self.address)

    def _refuse(self, what: str) -> HostAccessRefused:
        return HostAccessRefused(f"tried to {what} during --dry-run", host=self.address, step="dry-run")

    def run(self, cmd: str, **_: Any) -> Any:
        raise self._refuse(f"run `{cmd}`")

    def put(self, data: Any, remote_path: str, **_: Any) -> bool:
        raise self._refuse(f"write {remote_path}")

    def get(self, remote_path: str, **_: Any) -> bytes:
        raise self._refuse(f"read {remote_path}")

    def close(self) -> None:
        return None


def runtime_label_warning(runtime: str, image_labels: dict[str, str]) -> str | None:
    """A sentence when the selected runtime is not the one the cluster image was built for."""
    labelled = image_labels.get(RUNTIME_LABEL, "")
    if not labelled or labelled == runtime:
        return None
    return (
        f"runtime {runtime!r} is selected but the cluster image is labelled {RUNTIME_LABEL}={labelled}: its "
        f"bin/ and images/ were packed for {labelled} (drop --runtime, or use a {runtime} cluster image)"
    )


def _offline_registry(ctx: ClusterContext) -> RegistryInfo:
    from sealkit.registry.service import registry_settings

    domain, port, username = registry_settings(ctx)
    hosts = tuple(h.ip for h in ctx.cluster.registry_hosts)
    return RegistryInfo(domain, port, hosts, username, PASSWORD_PLACEHOLDER)


def _offline_hosts(ctx: ClusterContext) -> dict[str, HostRef]:
    """Every host of the cluster, named by its IP (facts are unknown before connecting)."""
    return {h.ip: HostRef(spec=h, conn=_NoHostAccess(h.ip)) for h in ctx.cluster.hosts}  # type: ignore[arg-type]


def _ask(problems: list[str], hook: str, host: str | None, call: Any) -> Any:
    """The hook's answer; a refusal, an error or no answer at all is recorded in ``problems``."""
    where = f"{host}: " if host else ""
    try:
        answer = call()
    except SealkitError as err:
        problems.append(f"{where}{hook}: {err.message}")
        return None
    except Exception as err:  # noqa: BLE001 - a plugin bug is reported by the dry run, not a traceback
        problems.append(f"{where}{hook}: raised {type(err).__name__}: {err}")
        return None
    if answer is None:
        problems.append(f"{where}{hook}: no plugin answered (the run would stop here)")
    return answer


def describe(ctx: ClusterContext, plan: Plan | None = None) -> dict[str, Any]:
    """What the runtime's planning hooks say for the hosts the plan installs (every host without a plan).

    Returns ``{"runtime": …, "endpoint": …, "hosts": {ip: {"certificates": [...], "mirror_files": [...]}},
    "problems": [...], "warnings": [...]}``; host names are not known before connecting, so layouts are
    computed with each host's IP as its name.
    """
    warnings = [w for w in [runtime_label_warning(ctx.runtime.name, ctx.image_labels)] if w]
    problems: list[str] = []
    if plan is None:
        fresh = {h.ip for h in ctx.cluster.hosts}
    else:  # the hosts being installed: the only ones these hooks are asked about in the run
        fresh = {s.host for p in plan.phases if p.name in ("certs", "mirrors") for s in p.steps if s.host}
    offline = dataclasses.replace(ctx, hosts=_offline_hosts(ctx))
    endpoint = _ask(
        problems,
        "sealkit_apiserver_endpoint",
        None,
        lambda: offline.pm.hook.sealkit_apiserver_endpoint(ctx=offline),
    )
    registry = _offline_registry(offline) if offline.cluster.registry_hosts else None
    hosts: dict[str, dict[str, list[str]]] = {}
    for ip in sorted(fresh):
        host = offline.hosts[ip]
        row: dict[str, list[str]] = {}
        layout = _ask(
            problems,
            "sealkit_cert_specs",
            ip,
            lambda host=host: offline.pm.hook.sealkit_cert_specs(ctx=offline, host=host),
        )
        row["certificates"] = sorted(layout.paths()) if layout is not None else []
        if registry is not None:
            files = _ask(
                problems,
                "sealkit_registry_mirror_config",
                ip,
                lambda host=host: offline.pm.hook.sealkit_registry_mirror_config(
                    ctx=offline, host=host, registry=registry
                ),
            )
            row["mirror_files"] = sorted(f.path for f in files or [])
        hosts[ip] = row
    return {
        "runtime": ctx.runtime.name,
        "endpoint": str(endpoint) if endpoint is not None else None,
        "hosts": hosts,
        "problems": problems,
        "warnings": warnings,
    }


def human_lines(report: dict[str, Any]) -> list[str]:
    """The ``runtime_plan`` part of a dry run for a terminal: endpoint, files per host, problems, warnings."""
    lines = [f"runtime {report['runtime']}: apiserver endpoint {report.get('endpoint') or '?'}"]
    for ip, row in report.get("hosts", {}).items():
        mirrors = f", {len(row['mirror_files'])} mirror file(s)" if "mirror_files" in row else ""
        lines.append(f"  {ip:<20} {len(row.get('certificates', []))} certificate file(s){mirrors}")
    lines += [f"problem: {p}" for p in report.get("problems", [])]
    lines += [f"warning: {w}" for w in report.get("warnings", [])]
    return lines
