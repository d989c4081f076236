"""Converge on the hosts' real state: one round trip per joined host reads what matters; drift is repaired.

A re-run used to plan from the journal alone, so a joined host got no step: a stopped unit or a deleted
rendered file stayed broken until ``check`` noticed it, and no command repaired it. Here each joined host
that the plan does not otherwise touch is asked, in ONE command, for the state of the units the plugins
expect active, the sha256 of every file sealkit rendered there and sealkit's install marker. The answer is
untrusted input: it is parsed strictly against what was asked, and anything else is an error naming the
host.

The files are compared with the digests recorded when the host joined (what sealkit wrote), not with a
fresh rendering: a file whose rendering has changed since (the host's context moved on) is reported with
its fix instead of being overwritten by a guess.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sealkit import hostops
from sealkit.context import INSTALLED_MARKER, Endpoint
from sealkit.errors import PluginError, StepFailed
from sealkit.hostops import Expectations, ExpectedFile

if TYPE_CHECKING:
    from sealkit.context import ClusterContext, HostRef, RegistryInfo

log = logging.getLogger("sealkit.engine")

HEADER = "sealkit-verify 1"
END = "sealkit-verify end"
#: more than any honest answer (a line per unit and per file): a flood is refused, not parsed
MAX_OUTPUT = 256 * 1024
#: unit states that need no repair: running, or on its way (restarting it would only interrupt that)
ACTIVE_OK = frozenset({"active", "activating", "reloading"})
#: ``systemctl is-enabled`` answers under which the unit starts at boot
ENABLED_OK = frozenset(
    {"enabled", "enabled-runtime", "static", "indirect", "generated", "alias", "linked", "linked-runtime"}
)
UNREADABLE = "unreadable"

_STATE = r"[a-z][a-z-]{0,31}"
_UNIT_LINE = re.compile(rf"U (\d{{1,6}}) ({_STATE}) ({_STATE})")
_FILE_LINE = re.compile(rf"F (\d{{1,6}}) ([0-9a-f]{{64}}|-|{UNREADABLE})")
_MARKER_LINE = re.compile(r"M ([01])")


@dataclass(frozen=True)
class Observed:
    """What a host answered: per unit (active state, enablement), per file its sha256 (None: absent,
    ``UNREADABLE``), whether systemd runs there, and whether sealkit's install marker is present."""

    systemd: bool
    units: dict[str, tuple[str, str]]
    files: dict[str, str | None]
    marker: bool


@dataclass(frozen=True)
class Drift:
    """One thing on a host that is not as sealkit left it; ``repairable`` says whether a re-run fixes it
    (else ``fix`` tells the operator what to do)."""

    host: str
    kind: str  # unit | file | marker
    name: str
    found: str
    repairable: bool
    fix: str = ""

    def describe(self) -> str:
        return f"{self.kind} {self.name} {self.found}"


@dataclass
class HostVerdict:
    """The outcome of verifying one host: its drift and the digests to record once it is repaired."""

    ip: str
    expect: Expectations
    systemd: bool = True
    drift: list[Drift] = field(default_factory=list)
    record: dict[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ command
#: ``systemctl show`` blocks → ``U <index> <active> <enabled>`` lines, one per unit asked (n), in order
_UNITS_AWK = (
    'function out() { if (i < n) print "U " i " " (a == "" ? "unknown" : a) " " '
    '(e == "" ? "unknown" : e); i++; a = ""; e = ""; seen = 0 } '
    "BEGIN { i = 0 } "
    "/^ActiveState=/ { a = substr($0, 13); seen = 1 } "
    "/^UnitFileState=/ { e = substr($0, 15); seen = 1 } "
    "/^$/ { if (seen) out() } "
    'END { if (seen) out(); while (i < n) { print "U " i " unknown unknown"; i++ } }'
)


def command(units: Sequence[str], paths: Sequence[str], marker: str = INSTALLED_MARKER) -> str:
    """The one shell command that reads everything: lines ``U i active enabled``, ``F i sha256|-``,
    ``M 0|1`` between a header and an end line; units and files are named by index, so no host-supplied
    text ever has to be matched back to a path."""
    # one systemctl for every unit (a block of ActiveState/UnitFileState per unit, in the order asked,
    # blocks split by a blank line): a fork and a D-Bus call per unit and question cost a third of the
    # host's CPU for the whole check; a unit systemd does not know has no UnitFileState → "unknown"
    unit_checks = (
        (
            "systemctl show -p ActiveState -p UnitFileState -- "
            + " ".join(shlex.quote(u) for u in units)
            + f" 2>/dev/null | awk -v n={len(units)} {shlex.quote(_UNITS_AWK)}; "
        )
        if units
        else ""
    )
    parts = [
        f"echo {shlex.quote(HEADER)}",
        # PID 1 is not always systemd (containers, the lab's sshd hosts): units are then not judged
        f"if [ -d /run/systemd/system ]; then echo systemd; {unit_checks}else echo nosystemd; fi",
    ]
    for i, path in enumerate(paths):
        q = shlex.quote(path)
        parts.append(
            f"if [ -f {q} ]; then h=$(sha256sum < {q} 2>/dev/null) || h={UNREADABLE}; "
            f'echo "F {i} ${{h%% *}}"; else echo "F {i} -"; fi'
        )
    parts.append(f"if [ -e {shlex.quote(marker)} ]; then echo 'M 1'; else echo 'M 0'; fi")
    parts.append(f"echo {shlex.quote(END)}")
    return "; ".join(parts)


def parse(text: str, units: Sequence[str], paths: Sequence[str], *, host: str) -> Observed:
    """Parse a host's answer to :func:`command`, strictly: every line after the header is one the command
    prints, each unit and file answered exactly once, the end line last. Lines before the header (a login
    script's noise) are ignored; anything else is a StepFailed naming the host."""
    if len(text) > MAX_OUTPUT:
        raise _bad(host, f"{len(text)} bytes of output, more than the {MAX_OUTPUT} an answer can have")
    lines = text.split("\n")  # not splitlines(): a stray carriage return is an error, not a line break
    try:
        start = lines.index(HEADER)
    except ValueError:
        raise _bad(host, "no verification header in the output") from None
    body = lines[start + 1 :]
    while body and not body[-1].strip():
        body.pop()
    if not body or body[-1] != END:
        raise _bad(host, "the output ends before the verification end line")
    body.pop()
    if not body or body[0] not in ("systemd", "nosystemd"):
        raise _bad(host, "the output does not say whether systemd runs")
    systemd = body[0] == "systemd"
    unit_states: dict[str, tuple[str, str]] = {}
    files: dict[str, str | None] = {}
    marker: bool | None = None
    for n, line in enumerate(body[1:], start=2):
        if m := _UNIT_LINE.fullmatch(line):
            name = _index(units, m.group(1), host, line)
            if not systemd or name in unit_states:
                raise _bad(host, f"unexpected unit line {n}: {line[:80]!r}")
            unit_states[name] = (m.group(2), m.group(3))
        elif m := _FILE_LINE.fullmatch(line):
            path = _index(paths, m.group(1), host, line)
            if path in files:
                raise _bad(host, f"file answered twice on line {n}: {line[:80]!r}")
            files[path] = None if m.group(2) == "-" else m.group(2)
        elif (m := _MARKER_LINE.fullmatch(line)) and marker is None:
            marker = m.group(1) == "1"
        else:
            raise _bad(host, f"unexpected line {n}: {line[:80]!r}")
    missing = [u for u in units if u not in unit_states] if systemd else []
    missing += [p for p in paths if p not in files]
    if missing or marker is None:
        raise _bad(host, "no answer for " + (", ".join(missing[:5]) or "the install marker"))
    return Observed(systemd=systemd, units=unit_states, files=files, marker=marker)


def _index(names: Sequence[str], raw: str, host: str, line: str) -> str:
    i = int(raw)
    if i >= len(names):
        raise _bad(host, f"index out of range: {line[:80]!r}")
    return names[i]


def _bad(host: str, why: str) -> StepFailed:
    return StepFailed(
        f"its state could not be verified: {why}",
        host=host,
        step="verify",
        hint="run the command with `sealkit exec --ips HOST` and look at what the shell prints; a login "
        "script must not write to stdout of a non-interactive shell",
    )


# ------------------------------------------------------------------------------------- expectations
def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def expectations(
    ctx: ClusterContext,
    host: HostRef,
    *,
    registry: RegistryInfo | None,
    backends: list[Endpoint],
) -> Expectations:
    """Every plugin's expectations for ``host`` plus the core's own (registry units on registry hosts,
    the node-local LB on workers, the runtime's mirror config), merged: a path declared twice must have one
    content; its units to restart are joined."""
    found = [e for e in ctx.pm.hook.sealkit_host_expectations(ctx=ctx, host=host) if e]
    found.append(core_expectations(ctx, host, registry=registry, backends=backends))
    return merge(found, host=host.ip)


def merge(found: Sequence[Expectations], *, host: str) -> Expectations:
    units: dict[str, None] = {}
    files: dict[str, ExpectedFile] = {}
    for exp in found:
        units.update(dict.fromkeys(exp.units))
        for f in exp.files:
            old = files.get(f.path)
            if old is None:
                files[f.path] = f
                continue
            if None not in (old.content, f.content) and old.content != f.content:
                raise PluginError(
                    f"{host}: two plugins expect different content in {f.path}",
                    hint="the plugins that render this file disagree; report it to their authors",
                )
            files[f.path] = ExpectedFile(
                path=f.path,
                content=old.content if old.content is not None else f.content,
                mode=old.mode if old.content is not None else f.mode,
                restarts=tuple(dict.fromkeys((*old.restarts, *f.restarts))),
                fix=old.fix or f.fix,
                repair=old.repair or f.repair,
            )
    return Expectations(units=tuple(units), files=tuple(files.values()))


def core_expectations(
    ctx: ClusterContext, host: HostRef, *, registry: RegistryInfo | None, backends: list[Endpoint]
) -> Expectations:
    """What the core itself keeps on a host: the registry's units where it runs, the haproxy/IPVS LB on
    workers (repaired by the LB re-sync itself), and the runtime's mirror config."""
    from sealkit.ha import haproxy, ipvs
    from sealkit.ha.plugin import strategy
    from sealkit.registry.service import UNITS as REGISTRY_UNITS

    units: list[str] = []
    files: list[ExpectedFile] = []
    if registry is not None and host.ip in registry.hosts:
        units += REGISTRY_UNITS
    chosen = strategy(ctx)
    if not host.is_master and chosen in ("haproxy", "ipvs"):

        def resync() -> object:
            return ctx.pm.hook.sealkit_configure_lb(ctx=ctx, host=host, backends=backends)

        ha = ctx.cluster.ha
        if chosen == "haproxy":
            units.append(haproxy.UNIT_NAME)
            config = haproxy.render_config(ha.vip, ha.port, backends).encode()
            files.append(ExpectedFile(haproxy.CONFIG_PATH, config, 0o644, repair=resync))
        else:
            units.append(ipvs.UNIT_NAME)
    if registry is not None:
        mirrors = ctx.pm.hook.sealkit_registry_mirror_config(ctx=ctx, host=host, registry=registry) or []
        files += [ExpectedFile(f.path, f.content, f.mode) for f in mirrors]
    return Expectations(units=tuple(units), files=tuple(files))


def recorded(expect: Expectations) -> dict[str, str]:
    """path → sha256 of every file whose content is known: what a host that just joined holds."""
    return {f.path: sha256(f.content) for f in expect.files if f.content is not None}


# ------------------------------------------------------------------------------------------ judging
def judge(ip: str, expect: Expectations, record: dict[str, str], seen: Observed) -> HostVerdict:
    """Compare a host's answer with the expectations and the digests recorded when sealkit wrote them.

    A file is fine when the host has what sealkit recorded or what it would render now (a legitimate
    rewrite since, e.g. by ``cert --alt-names``); it is repaired when its content is known and that is
    still what sealkit wrote; otherwise it is reported with its fix. A unit that is not active or not
    enabled is restarted, unless masked (the operator's deliberate act). Without systemd on the host
    units are not judged.
    """
    verdict = HostVerdict(ip, expect, systemd=seen.systemd)
    for f in expect.files:
        have = seen.files.get(f.path)
        was = record.get(f.path)
        now = sha256(f.content) if f.content is not None else None
        if have is not None and have != UNREADABLE and have in (was, now):
            verdict.record[f.path] = have
            continue
        if have is not None and have != UNREADABLE and was is None and now is None:
            verdict.record[f.path] = have  # nothing known to compare with: the host's is taken as ours
            continue
        found = "missing" if have is None else ("unreadable" if have == UNREADABLE else "changed")
        can = have != UNREADABLE and (f.repair is not None or f.content is not None)
        can = can and (was is None or was == now)
        fix = f.fix or (
            f"{f.path} on {ip} differs from what sealkit wrote and would render now; restore it from a "
            "backup or run `sealkit delete` and `sealkit add` for this host"
        )
        verdict.drift.append(Drift(ip, "file", f.path, found, can, "" if can else fix))
        if was is not None and not can:
            verdict.record[f.path] = was
    if seen.systemd:
        for unit in expect.units:
            active, enabled = seen.units[unit]
            if active in ACTIVE_OK and enabled in ENABLED_OK:
                continue
            state = active if enabled in ENABLED_OK else f"{active}/{enabled}"
            masked = enabled.startswith("masked")
            fix = f"systemctl unmask {unit} on {ip}, then re-run" if masked else ""
            verdict.drift.append(Drift(ip, "unit", unit, state, not masked, fix))
    if not seen.marker:
        verdict.drift.append(Drift(ip, "marker", INSTALLED_MARKER, "missing", True))
    return verdict


# ------------------------------------------------------------------------------------------ running
def verify_hosts(
    ctx: ClusterContext, expected: dict[str, Expectations], records: dict[str, dict[str, str]]
) -> tuple[dict[str, HostVerdict], dict[str, BaseException]]:
    """One round trip per host (sliding window over the fleet); ``({ip: verdict}, {ip: error})``."""
    asks = {ip: (list(e.units), [f.path for f in e.files]) for ip, e in expected.items()}

    def probe(conn: object) -> Observed:
        ip = conn.target.address  # type: ignore[attr-defined]
        units, paths = asks[ip]
        # a read: a link lost under it is re-dialled and the read asked again
        out = conn.run(command(units, paths), timeout=60, idempotent=True).stdout  # type: ignore[attr-defined]
        return parse(out, units, paths, host=ip)

    verdicts: dict[str, HostVerdict] = {}
    errors: dict[str, BaseException] = {}
    for ip, seen in ctx.fleet.map(probe, list(expected)).items():
        if isinstance(seen, KeyboardInterrupt):
            raise seen
        if isinstance(seen, BaseException):
            errors[ip] = seen
            continue
        verdicts[ip] = judge(ip, expected[ip], records.get(ip, {}), seen)
    return verdicts, errors


def repair(host: HostRef, verdict: HostVerdict, on_repair: Callable[[str, str], None]) -> dict[str, str]:
    """Repair a host's repairable drift with the plugins' own write paths: files rewritten (or re-synced
    by their ``repair``), then every drifted unit and every unit a repaired file needs restarted and
    enabled, waiting until it is active. ``on_repair(ip, what)`` hears each repair; returns the digests
    to record for the host."""
    files = {f.path: f for f in verdict.expect.files}
    restart: dict[str, None] = {}
    reload = False
    record = dict(verdict.record)
    for d in verdict.drift:
        if not d.repairable or d.kind != "file":
            continue
        f = files[d.name]
        if f.repair is not None:
            f.repair()
        else:
            assert f.content is not None  # judge() marks only files with a known content repairable
            hostops.write_file(host, f.path, f.content, f.mode)
            reload = reload or f.path.startswith(hostops.UNIT_DIR + "/")
        if f.content is not None:
            record[f.path] = sha256(f.content)
        restart.update(dict.fromkeys(f.restarts))
        on_repair(host.ip, f"file {f.path} {d.found} → rewritten")
    if reload and verdict.systemd:
        host.conn.run("systemctl daemon-reload", timeout=60)
    for d in verdict.drift:
        if d.repairable and d.kind == "marker":
            q = shlex.quote(INSTALLED_MARKER)
            host.conn.run(f'mkdir -p "$(dirname {q})" && touch {q}', timeout=30)
            on_repair(host.ip, f"marker {INSTALLED_MARKER} missing → recreated")
    units = {d.name: d for d in verdict.drift if d.repairable and d.kind == "unit"}
    if not verdict.systemd:  # no service manager to restart with: what runs there was not started by us
        return record
    for unit in dict.fromkeys([*units, *restart]):
        hostops.start_or_restart(host, unit, changed=True, wait_out_restarts=True, timeout=300)
        why = units[unit].found if unit in units else "a repaired file needs it"
        on_repair(host.ip, f"unit {unit} {why} → restarted")
    return record
