"""The remote actions of the HA strategies: write LB files, (re)load the LB, read status, reset.

Decisions are pure functions (:func:`parse_probe`, :func:`service_commands`) so tests assert the
exact commands; the I/O functions take a connection with ``run(cmd, *, check, timeout)`` and the
content-addressed ``put(data, path, *, mode) -> bool`` of :class:`sealkit.ssh.Connection`.

Idempotency is structural: one probe round trip, two content-addressed puts, and commands only for
what changed. A re-sync of an unchanged cluster writes nothing and reloads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sealkit.errors import StepFailed
from sealkit.ha import LB_DIR, haproxy, ipvs
from sealkit.ha.haproxy import VIP_MARKER
from sealkit.ssh.quoting import quote

if TYPE_CHECKING:
    from sealkit.context import Endpoint
    from sealkit.ssh import Result


class Conn(Protocol):
    """What this module needs of :class:`sealkit.ssh.Connection` (test fakes implement it too)."""

    @property
    def host(self) -> str: ...

    def run(self, cmd: str, *, check: bool = True, timeout: float | None = None) -> Result: ...

    def put(self, data: bytes, remote_path: str, *, mode: int = 0o644) -> bool: ...


@dataclass(frozen=True)
class Probe:
    """What one round trip learned about a host before changing anything."""

    active: bool = False
    enabled: bool = False
    #: VIP prefixes (``10.103.97.2/32``) named by installed units (a changed VIP leaves one behind)
    vips: tuple[str, ...] = ()
    binary: str = ""
    notify: bool = False
    has: frozenset[str] = field(default_factory=frozenset)


@dataclass
class SyncResult:
    """What a configure call changed on a host; ``commands`` are the service commands it ran."""

    config_changed: bool = False
    unit_changed: bool = False
    commands: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.config_changed or self.unit_changed or bool(self.commands)


def probe_script(unit: str, extra: str = "") -> str:
    """One round trip: unit state, VIP markers of installed units, strategy-specific lines."""
    lines = [
        f"if systemctl is-active --quiet {unit}; then echo active=1; fi",
        f"if systemctl is-enabled --quiet {unit} 2>/dev/null; then echo enabled=1; fi",
        f"for f in {haproxy.UNIT_PATH} {ipvs.UNIT_PATH}; do "
        f"if [ -f $f ]; then sed -n 's|^{VIP_MARKER}|vip=|p' $f; fi; done",
    ]
    if extra:
        lines.append(extra)
    lines.append("true")
    return "; ".join(lines)


def parse_probe(text: str) -> Probe:
    """Parse :func:`probe_script` output (``key=value`` lines)."""
    active = enabled = notify = False
    vips: list[str] = []
    binary = ""
    has: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.strip().partition("=")
        if key == "active":
            active = True
        elif key == "enabled":
            enabled = True
        elif key == "vip" and value and value not in vips:
            vips.append(value)
        elif key == "binary":
            binary = value
        elif key == "notify":
            notify = True
        elif key == "has" and value:
            has.add(value)
    return Probe(active, enabled, tuple(vips), binary, notify, frozenset(has))


def service_commands(
    unit: str,
    *,
    unit_changed: bool,
    config_changed: bool,
    active: bool,
    enabled: bool,
    reload_verb: str = "reload",
) -> list[str]:
    """The systemctl commands that bring ``unit`` up to date, and nothing more.

    daemon-reload only when the unit file changed; a stopped unit is enabled and started (it then
    reads the new config); a running one is reloaded when only its config changed (haproxy keeps
    serving and keeps its PID) and restarted only when its unit changed (new command line or VIP).
    """
    cmds: list[str] = []
    if unit_changed:
        cmds.append("systemctl daemon-reload")
    if not active:
        cmds.append(f"systemctl enable --now {unit}")
        return cmds
    if not enabled:
        cmds.append(f"systemctl enable {unit}")
    if unit_changed:
        cmds.append(f"systemctl restart {unit}")
    elif config_changed:
        cmds.append(f"systemctl {reload_verb} {unit}")
    return cmds


def stale_vip_commands(installed: tuple[str, ...], wanted: str) -> list[str]:
    """Remove VIPs an older unit put on ``lo`` that the new one no longer uses."""
    return [
        f"if ip -o addr show dev lo | grep -qwF {quote(v)}; then ip addr del {quote(v)} dev lo; fi"
        for v in installed
        if v != wanted
    ]


def _label(conn: Conn) -> str:
    """The host's name for messages (test doubles may lack ``host``; never fail on a message)."""
    label = getattr(conn, "host", None) or getattr(getattr(conn, "target", None), "address", None)
    return str(label or conn)


def _run_all(conn: Conn, cmds: list[str], step: str, hint: str) -> None:
    for cmd in cmds:
        res = conn.run(cmd, check=False, timeout=120)
        if res.rc != 0:
            detail = (res.stderr or res.stdout).strip()[-600:]
            raise StepFailed(
                f"`{cmd}` failed (rc {res.rc}): {detail}", host=_label(conn), step=step, hint=hint
            )


# ------------------------------------------------------------------------------------------ haproxy
def configure_haproxy(
    conn: Conn,
    *,
    vip: str,
    port: int,
    backends: list[Endpoint],
    image_binary: str,
) -> SyncResult:
    """Install or re-sync the haproxy LB on one host; reload only when its config changed.

    ``image_binary`` is where the cluster image's ``bin/haproxy`` would be on the host; it is used
    when present, else the host's ``/usr/sbin/haproxy``.
    """
    # rendering validates the input before the host is touched
    config = haproxy.render_config(vip, port, backends).encode()
    probe = parse_probe(
        conn.run(
            probe_script(haproxy.UNIT_NAME, haproxy.probe_binary_script(image_binary)), timeout=60
        ).stdout
    )
    if not probe.binary:
        raise StepFailed(
            f"no haproxy binary: neither {image_binary} (cluster image) nor {haproxy.HOST_BINARY}",
            host=_label(conn),
            step="ha: configure haproxy",
            hint="install haproxy on the host (apt-get install haproxy / dnf install haproxy), "
            "ship bin/haproxy in the cluster image, or set spec.ha.strategy",
        )
    unit = haproxy.render_unit(
        vip, binary=probe.binary, from_image=probe.binary == image_binary, notify=probe.notify
    ).encode()
    result = SyncResult()
    result.config_changed = conn.put(config, haproxy.CONFIG_PATH, mode=0o644)
    result.unit_changed = conn.put(unit, haproxy.UNIT_PATH, mode=0o644)
    if result.config_changed:
        # a clear error now beats a unit that fails to reload; haproxy keeps running the old config
        _run_all(
            conn,
            [f"{quote(probe.binary)} -c -q -f {haproxy.CONFIG_PATH}"],
            "ha: validate haproxy config",
            f"read the haproxy error above; is {probe.binary} older than haproxy 2.6?",
        )
    cmds = service_commands(
        haproxy.UNIT_NAME,
        unit_changed=result.unit_changed,
        config_changed=result.config_changed,
        active=probe.active,
        enabled=probe.enabled,
    )
    if result.unit_changed:
        cmds += stale_vip_commands(probe.vips, haproxy.vip_prefix(vip))
    _run_all(
        conn,
        cmds,
        "ha: start haproxy",
        f"see `journalctl -u {haproxy.UNIT_NAME}` on the host; is {vip}:{port} already in use?",
    )
    result.commands = cmds
    return result


def haproxy_status(conn: Conn) -> dict[str, str]:
    """Backend states from the stats socket of a running LB."""
    res = conn.run(haproxy.STATUS_SCRIPT, check=False, timeout=30)
    if res.rc != 0:
        raise StepFailed(
            f"cannot read the load balancer's stats socket {haproxy.STATS_SOCKET}: "
            f"{(res.stderr or res.stdout).strip()[-300:]}",
            host=_label(conn),
            step="ha: status",
            hint=f"check `systemctl status {haproxy.UNIT_NAME}` on the host",
        )
    return haproxy.parse_stat(res.stdout)


# --------------------------------------------------------------------------------------------- ipvs
IPVS_PROBE = (
    "if command -v ipvsadm >/dev/null 2>&1; then echo has=ipvsadm; fi; "
    "if command -v python3 >/dev/null 2>&1; then echo has=python3; fi; "
    "if [ -e /proc/net/ip_vs ] || modprobe ip_vs >/dev/null 2>&1; then "
    "if [ -e /proc/net/ip_vs ]; then echo has=ip_vs; fi; fi"
)


def configure_ipvs(conn: Conn, *, vip: str, port: int, backends: list[Endpoint]) -> SyncResult:
    """Install or re-sync the IPVS checker on one host (it re-applies the rules when restarted).

    Refuses, before writing anything, on a host without ``ip_vs``, ``ipvsadm`` or python3.
    """
    config = ipvs.render_checker_config(vip, port, backends).encode()
    probe = parse_probe(conn.run(probe_script(ipvs.UNIT_NAME, IPVS_PROBE), timeout=60).stdout)
    missing = sorted({"ipvsadm", "python3", "ip_vs"} - probe.has)
    if missing:
        raise StepFailed(
            f"the ipvs load balancer needs {', '.join(missing)} on this host",
            host=_label(conn),
            step="ha: configure ipvs",
            hint="install ipvsadm and python3 and load the ip_vs kernel module, or set "
            "spec.ha.strategy: haproxy",
        )
    result = SyncResult()
    script_changed = conn.put(ipvs.checker_source(), ipvs.CHECKER_PATH, mode=0o755)
    result.config_changed = conn.put(config, ipvs.CONFIG_PATH, mode=0o644) or script_changed
    result.unit_changed = conn.put(ipvs.render_unit(vip).encode(), ipvs.UNIT_PATH, mode=0o644)
    # the checker has no reload: a restart re-reads its config; kernel rules keep traffic flowing
    cmds = service_commands(
        ipvs.UNIT_NAME,
        unit_changed=result.unit_changed,
        config_changed=result.config_changed,
        active=probe.active,
        enabled=probe.enabled,
        reload_verb="restart",
    )
    if result.unit_changed:
        cmds += stale_vip_commands(probe.vips, haproxy.vip_prefix(vip))
    _run_all(conn, cmds, "ha: start ipvs checker", f"see `journalctl -u {ipvs.UNIT_NAME}`")
    result.commands = cmds
    return result


def ipvs_status(conn: Conn) -> dict[str, str]:
    """Backend states as the IPVS checker last published them."""
    res = conn.run(f"cat {ipvs.STATE_PATH}", check=False, timeout=30)
    if res.rc != 0:
        raise StepFailed(
            f"cannot read the IPVS checker state {ipvs.STATE_PATH}: {res.stderr.strip()[-300:]}",
            host=_label(conn),
            step="ha: status",
            hint=f"check `systemctl status {ipvs.UNIT_NAME}` on the host",
        )
    try:
        return ipvs.parse_status(res.stdout)
    except ValueError as err:
        raise StepFailed(str(err), host=_label(conn), step="ha: status") from err


# -------------------------------------------------------------------------------------------- reset
def reset_script(vip: str, port: int) -> str:
    """Remove every LB strategy's unit, files and VIP; safe to run twice or on a clean host.

    VIPs are collected from the installed units' markers too, so a VIP changed since install is
    removed. Only our own IPVS virtual service is deleted, never the table (kube-proxy may own other
    services).
    """
    units = [haproxy.UNIT_NAME, ipvs.UNIT_NAME]
    unit_paths = " ".join([haproxy.UNIT_PATH, ipvs.UNIT_PATH])
    svc = ipvs.ipvs_checker.service(vip, port)
    lines = [
        "set -e",
        f"vips={quote(haproxy.vip_prefix(vip))}",
        f"for f in {unit_paths}; do if [ -f $f ]; then "
        f"vips=\"$vips $(sed -n 's|^{VIP_MARKER}||p' $f)\"; fi; done",
        "reload=",
    ]
    for unit, path in zip(units, unit_paths.split(), strict=True):
        lines.append(f"if [ -f {path} ]; then systemctl disable --now {unit}; rm -f {path}; reload=1; fi")
    lines += [
        'if [ -n "$reload" ]; then systemctl daemon-reload; fi',
        f"for u in {' '.join(units)}; do "
        "if systemctl is-failed --quiet $u; then systemctl reset-failed $u; fi; done",
        f"rm -rf {LB_DIR}",
        "rmdir /etc/sealkit 2>/dev/null || true",
        'for v in $vips; do if ip -o addr show dev lo | grep -qwF "$v"; then '
        'ip addr del "$v" dev lo; fi; done',
        f"if command -v ipvsadm >/dev/null 2>&1 && ipvsadm -L -n -t {svc} >/dev/null 2>&1; then "
        f"ipvsadm -D -t {svc}; fi",
    ]
    return "\n".join(lines) + "\n"


def reset(conn: Conn, *, vip: str, port: int) -> None:
    """Run :func:`reset_script` on a host; raises naming what may be left behind."""
    res = conn.run(reset_script(vip, port), check=False, timeout=120)
    if res.rc != 0:
        raise StepFailed(
            f"removing the load balancer failed (rc {res.rc}): {res.stderr.strip()[-600:]}; "
            f"may be left: {haproxy.UNIT_PATH}, {ipvs.UNIT_PATH}, {LB_DIR}, the VIP {vip} on lo",
            host=_label(conn),
            step="ha: reset",
            hint="run `sealkit reset` again, or remove those by hand",
        )
